"""RFC 3262 against a real stack: SIPp measures a reliable 183's retransmissions on the wire.

A UA with :class:`~extensions.rfc3262.ReliableProvisional` runs on the asyncio edge
(``CoreHost``) on loopback and answers every INVITE with a reliable 183 carrying SDP, then
a 200 that it must hold until the PRACK.  ``sipp/uac_100rel_late_prack.xml`` requires 100rel,
withholds its PRACK for a while and traces when each 183 arrived.  Without sipp the test
skips (fails under SIPREF_REQUIRE_EXTERNAL=1), as the core's SIPp tests do.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from extensions.rfc3262 import ReliableProvisional
from extensions.tests.sipp_support import assert_gaps, run_sipp_caller
from rfc3261.asyncio.dispatcher import CoreHost
from rfc3261.asyncio.loopback import free_port
from rfc3261.headers import HEADER_TYPES, unregister_header
from rfc3261.session import IncomingCall
from rfc3261.tests.test_sipp import trace_messages
from rfc3261.tests.transport_support import async_test, require_external, sipp_stats
from rfc3261.timers import TimerValues
from rfc3261.ua_core import UAConfig, UserAgent

pytestmark = pytest.mark.interop

SDP = b"v=0\r\no=bob 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"


@pytest.fixture(autouse=True)
def rel_headers() -> Any:
    yield
    for name in ("RSeq", "RAck"):
        if name.lower() in HEADER_TYPES:
            unregister_header(name)


async def reliable_uas(port: int, timers: TimerValues) -> CoreHost:
    """A UA on 127.0.0.1:port that rings 183 (reliably, with SDP) and answers at once."""
    loop = asyncio.get_running_loop()
    host = CoreHost(None)
    await host.listen(f"sip:127.0.0.1:{port}", with_tcp=False)
    point = host.local_point("UDP")
    config = UAConfig(
        aor=f"sip:bob@{point.address.hostport}",
        contact=str(point.uri("bob")),
        sent_by=point.sent_by,
        timers=timers,
    )
    ua = UserAgent(config, extensions=[ReliableProvisional()])
    host.core = ua

    def on_event(event: Any) -> None:
        if isinstance(event, IncomingCall):
            now = host.clock()
            effects = ua.sessions.ring(event.call, now, 183, body=SDP)
            effects += ua.sessions.answer(event.call, now, body=SDP)  # held until the PRACK
            host.run(effects)

    host.deliver = lambda event: loop.call_soon(on_event, event)
    return host


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% The reliable provisional response is passed to the transaction layer
##% periodically with an interval that starts at T1 seconds and doubles
##% for each retransmission (T1 is defined in Section 17 of RFC 3261).
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% In that case, it MUST NOT send a final response until
##% those provisional responses are acknowledged.
def test_sipp_sees_a_reliable_183_retransmitted_with_t1_doubling(tmp_path: Path) -> None:
    sipp = require_external("sipp", "sip-tester")
    t1, t2 = 0.1, 0.4
    trace = tmp_path / "messages.log"

    @async_test(timeout=60)
    async def run() -> tuple[int, str]:
        port = free_port()
        host = await reliable_uas(port, TimerValues(T1=t1, T2=t2))
        try:
            result = await run_sipp_caller(
                sipp, "uac_100rel_late_prack.xml", port, tmp_path, trace
            )
            return result
        finally:
            await host.close()

    status, output = run()
    assert status == 0, output[-3000:]
    assert sipp_stats(output) == {"Successful call": 1, "Failed call": 0}
    messages = trace_messages(trace)
    (prack_sent,) = [t for t, way, text in messages if way == "sent" and text.startswith("PRACK")]
    progress = [
        t for t, way, text in messages if way == "received" and text.startswith("SIP/2.0 183")
    ]
    before = [t for t in progress if t < prack_sent]
    # Sent at 0, T1, 3*T1, 7*T1, 15*T1 during the 1.6 s pause: T1, 2T1, 4T1, 8T1 -- the
    # last two above T2, where a 2xx's retransmissions would have stopped growing.
    expected = [t1, 2 * t1, 4 * t1, 8 * t1]
    assert_gaps(before, expected, output[-2000:])
    # The 200 to the INVITE came only after the PRACK (the 183 carried SDP).
    oks = [
        t
        for t, way, text in messages
        if way == "received"
        and text.startswith("SIP/2.0 200")
        and "INVITE" in text.split("CSeq")[1][:20]
    ]
    assert oks and min(oks) > prack_sent
    # The PRACK stopped the 183s (one may have crossed it on the wire).
    assert len([t for t in progress if t > prack_sent + 0.05]) == 0
