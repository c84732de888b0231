"""The RFC 3891 conformance cases against a sipref UA with Replaces (and a faulty one).

The UA runs on the asyncio edge (``CoreHost``) in a thread of its own, on loopback, and
answers every INVITE with 200 and SDP; the cases in ``extensions/conformance/rfc3891.py``
run against it through the conformance runner, as ``python -m conformance run ...
--extension rfc3891`` would.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conformance.model import Profile
from conformance.tests.support import run_cases, verdicts
from extensions.rfc3891 import ReplacesExtension
from rfc3261.asyncio.dispatcher import CoreHost
from rfc3261.asyncio.loopback import free_port
from rfc3261.extension import UAExtension
from rfc3261.headers import HEADER_TYPES, unregister_header
from rfc3261.session import IncomingCall
from rfc3261.ua_core import UAConfig, UserAgent

SDP = b"v=0\r\no=sipref 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
PROFILE = Profile(extensions=("replaces",), methods=("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"))
CASES = "rfc3891-*"


@pytest.fixture
def serve() -> Iterator[Callable[[list[UAExtension]], str]]:
    """Start a UA with ``extensions`` on 127.0.0.1 (UDP); its URI."""
    stops: list[tuple[Any, Any, threading.Thread]] = []

    def start(extensions: list[UAExtension]) -> str:
        port = free_port()
        ready = threading.Event()

        async def run() -> None:
            loop = asyncio.get_running_loop()
            host = CoreHost(None)
            await host.listen(f"sip:127.0.0.1:{port}", with_tcp=False)
            point = host.local_point("UDP")
            config = UAConfig(
                aor=f"sip:conformance@{point.address.hostport}",
                contact=str(point.uri("conformance")),
                sent_by=point.sent_by,
            )
            ua = UserAgent(config, extensions=extensions)
            host.core = ua

            def on_event(event: Any) -> None:
                if isinstance(event, IncomingCall):
                    host.run(ua.sessions.answer(event.call, host.clock(), body=SDP))

            host.deliver = lambda event: loop.call_soon(on_event, event)
            done = loop.create_future()
            stops.append((loop, done, thread))
            ready.set()
            await done
            await host.close()

        thread = threading.Thread(target=lambda: asyncio.run(run()), daemon=True)
        thread.start()
        assert ready.wait(10)
        return f"sip:conformance@127.0.0.1:{port}"

    yield start
    for loop, done, thread in stops:
        loop.call_soon_threadsafe(done.set_result, None)
        thread.join(10)
    for name in ("Replaces",):
        if name.lower() in HEADER_TYPES:
            unregister_header(name)


def test_the_cases_pass_against_a_ua_with_replaces(serve: Any) -> None:
    target = serve([ReplacesExtension()])
    run = run_cases(target, "uas", CASES, PROFILE)
    assert verdicts(run) == {
        "rfc3891-replaces-no-dialog-481": "pass",
        "rfc3891-replaces-malformed-400": "pass",
        "rfc3891-replaces-in-options-400": "pass",
    }


def test_a_ua_without_replaces_fails_them(serve: Any) -> None:
    """Without the extension the Replaces is ignored: the INVITE is answered with 200."""
    target = serve([])
    run = run_cases(target, "uas", CASES, PROFILE)
    assert verdicts(run) == {
        "rfc3891-replaces-no-dialog-481": "fail",
        "rfc3891-replaces-malformed-400": "fail",
        "rfc3891-replaces-in-options-400": "fail",
    }
    run = run_cases(target, "uas", CASES, Profile())
    assert set(verdicts(run).values()) == {"not-applicable"}
