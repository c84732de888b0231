"""The RFC 3262 and RFC 3311 conformance cases against a sipref UA with both extensions.

The UA runs on the asyncio edge (``CoreHost``) in a thread of its own, on loopback; it
rings every INVITE with a (reliable) 180 and answers it with 200 and SDP.  The cases in
``extensions/conformance/rfc3262.py`` and ``rfc3311.py`` run against it through the
conformance runner, as ``python -m conformance run ... --extension rfc3262`` would.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from conformance.model import Profile
from conformance.tests.support import run_cases, verdicts
from extensions.rfc3262 import ReliableProvisional
from extensions.rfc3311 import UpdateExtension
from rfc3261.asyncio.dispatcher import CoreHost
from rfc3261.asyncio.loopback import free_port
from rfc3261.headers import HEADER_TYPES, unregister_header
from rfc3261.session import IncomingCall
from rfc3261.ua_core import UAConfig, UserAgent

SDP = b"v=0\r\no=sipref 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"


@pytest.fixture
def target() -> Iterator[str]:
    """A UA with 100rel and UPDATE on 127.0.0.1 (UDP), for the length of one test."""
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
        ua = UserAgent(config, extensions=[ReliableProvisional(), UpdateExtension()])
        host.core = ua

        def on_event(event: Any) -> None:
            if isinstance(event, IncomingCall):
                now = host.clock()
                effects = ua.sessions.ring(event.call, now, 180)
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
    assert ready.wait(10)
    try:
        yield f"sip:conformance@127.0.0.1:{port}"
    finally:
        loop, done = stop[0]
        loop.call_soon_threadsafe(done.set_result, None)
        thread.join(10)
        for name in ("RSeq", "RAck"):
            if name.lower() in HEADER_TYPES:
                unregister_header(name)


def test_the_extension_cases_pass_against_a_ua_with_both_extensions(target: str) -> None:
    profile = Profile(
        extensions=("100rel",),
        methods=("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "PRACK", "UPDATE"),
    )
    run = run_cases(target, "uas", "rfc3262-*,rfc3311-*", profile)
    assert verdicts(run) == {
        "rfc3262-prack-unmatched-481": "pass",
        "rfc3262-require-100rel": "pass",
        "rfc3311-update-unknown-dialog-481": "pass",
        "rfc3311-update-answered": "pass",
    }


def test_the_cases_do_not_apply_to_a_ua_without_them(target: str) -> None:
    run = run_cases(target, "uas", "rfc3262-prack-*,rfc3311-*", Profile(methods=("INVITE",)))
    assert set(verdicts(run).values()) == {"not-applicable"}
