"""RFC 4028 against SIPp: the 422 of a too small session interval, and the retry.

A UA with :class:`~extensions.rfc4028.SessionTimer` (Min-SE 300 s) runs on the asyncio
edge (``CoreHost``) on loopback and answers every INVITE with a 200.
``sipp/uac_session_timer_422.xml`` asks for 60 s, checks the 422 and its Min-SE, retries
with Min-SE: 300 and checks the 2xx's Session-Expires and Require.  Without sipp the test
skips (fails under SIPREF_REQUIRE_EXTERNAL=1), as the core's SIPp tests do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from extensions.rfc4028 import SessionIntervalSet, SessionTimer
from extensions.tests.sipp_support import run_sipp_caller
from rfc3261.asyncio.dispatcher import CoreHost
from rfc3261.asyncio.loopback import free_port
from rfc3261.headers import HEADER_TYPES, unregister_header
from rfc3261.session import CallEnded, IncomingCall
from rfc3261.tests.transport_support import async_test, require_external, sipp_stats
from rfc3261.ua_core import UAConfig, UserAgent

pytestmark = pytest.mark.interop

SDP = b"v=0\r\no=bob 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"


@pytest.fixture(autouse=True)
def timer_headers() -> Iterator[None]:
    yield
    for name in ("Session-Expires", "Min-SE"):
        if name.lower() in HEADER_TYPES:
            unregister_header(name)


async def answering_uas(port: int, events: list[Any]) -> CoreHost:
    loop = asyncio.get_running_loop()
    host = CoreHost(None)
    await host.listen(f"sip:127.0.0.1:{port}", with_tcp=False)
    point = host.local_point("UDP")
    config = UAConfig(
        aor=f"sip:bob@{point.address.hostport}",
        contact=str(point.uri("bob")),
        sent_by=point.sent_by,
    )
    ua = UserAgent(config, extensions=[SessionTimer(min_se=300)])
    host.core = ua

    def on_event(event: Any) -> None:
        events.append(event)
        if isinstance(event, IncomingCall):
            host.run(ua.sessions.answer(event.call, host.clock(), body=SDP))

    host.deliver = lambda event: loop.call_soon(on_event, event)
    return host


##= https://www.rfc-editor.org/rfc/rfc4028#section-6
##= type=test
##% The 422 response MUST contain a Min-SE
##% header field with the minimum timer for that server.
##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% If an incoming request contains a Supported header field with a value
##% 'timer' and a Session Expires header field, the UAS MAY reject the
##% INVITE request with a 422 (Session Interval Too Small) response if
##% the session interval in the Session-Expires header field is smaller
##% than the minimum interval defined by the UAS' local policy.
def test_sipp_gets_422_with_min_se_then_a_timer_on_the_retry(tmp_path: Path) -> None:
    sipp = require_external("sipp", "sip-tester")
    events: list[Any] = []

    @async_test(timeout=60)
    async def run() -> tuple[int, str]:
        port = free_port()
        host = await answering_uas(port, events)
        try:
            result = await run_sipp_caller(
                sipp, "uac_session_timer_422.xml", port, tmp_path, tmp_path / "trace.log", 300
            )
            await asyncio.sleep(0.1)  # let the UA's last events through
            return result
        finally:
            await host.close()

    status, output = run()
    assert status == 0, output[-3000:]
    assert sipp_stats(output) == {"Successful call": 1, "Failed call": 0}
    incoming = [e for e in events if isinstance(e, IncomingCall)]
    assert len(incoming) == 1  # the first INVITE was refused before the application saw it
    (timer,) = [e for e in events if isinstance(e, SessionIntervalSet) and e.interval]
    assert timer.interval == 300
    assert any(isinstance(e, CallEnded) for e in events)
