"""A sipref UA on loopback for running an extension's conformance cases against it.

The UA runs on the asyncio edge (``CoreHost``) in a thread of its own, on 127.0.0.1 (UDP),
with the extensions a test gives it; the cases run against it through the conformance runner,
as ``python -m conformance run ... --extension NAME`` would.  ``ring`` and ``answer`` say
what it does with an INVITE (a 180, reliable when 100rel is installed; a 200 with ``SDP``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from rfc3261.asyncio.dispatcher import CoreHost
from rfc3261.asyncio.loopback import free_port
from rfc3261.extension import UAExtension
from rfc3261.headers import HEADER_TYPES, unregister_header
from rfc3261.session import IncomingCall
from rfc3261.ua_core import UAConfig, UserAgent

__all__ = ["SDP", "ua_on_loopback"]

SDP = b"v=0\r\no=sipref 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"


@contextlib.contextmanager
def ua_on_loopback(
    extensions: Iterable[UAExtension],
    *,
    ring: bool = False,
    answer: bool = False,
    headers_to_forget: Iterable[str] = (),
) -> Iterator[str]:
    """A UA with ``extensions`` serving on 127.0.0.1 while the block runs; its URI.

    ``headers_to_forget``: header fields the extensions registered, unregistered afterwards
    so that other tests see the core's table.
    """
    port = free_port()
    ready = threading.Event()
    stop: list[Any] = []

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        host = CoreHost(None)
        await host.listen(f"sip:127.0.0.1:{port}", with_tcp=False)
        point = host.local_point("UDP")
        config = UAConfig(
            aor=f"sip:conformance@{point.address.hostport}",
            contact=str(point.uri("conformance")),
            sent_by=point.sent_by,
        )
        ua = UserAgent(config, extensions=list(extensions))
        host.core = ua

        def on_event(event: Any) -> None:
            if isinstance(event, IncomingCall) and (ring or answer):
                now = host.clock()
                effects = ua.sessions.ring(event.call, now, 180) if ring else []
                if answer:
                    effects += ua.sessions.answer(event.call, now, body=SDP)
                host.run(effects)

        host.deliver = lambda event: loop.call_soon(on_event, event)
        done = loop.create_future()
        stop.append((loop, done))
        ready.set()
        await done
        await host.close()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the UA on loopback did not start within 10 s")
    try:
        yield f"sip:conformance@127.0.0.1:{port}"
    finally:
        loop, done = stop[0]
        loop.call_soon_threadsafe(done.set_result, None)
        thread.join(10)
        for name in headers_to_forget:
            if name.lower() in HEADER_TYPES:
                unregister_header(name)
