"""RFC 3311 against a real stack: SIPp measures an UPDATE's retransmissions on the wire.

A UA with :class:`~extensions.rfc3311.UpdateExtension` runs on the asyncio edge
(``CoreHost``) on loopback, answers every INVITE with a 200 and, once the ACK confirms the
dialog, sends an UPDATE with a new offer (RFC 3311 §5.1).  ``sipp/uac_update_late_answer.xml``
withholds its 200 to that UPDATE for a while and traces when each copy arrived: an UPDATE is
a non-INVITE request, so its client transaction retransmits on Timer E (RFC 3261
§17.1.2.2).  Without sipp the test skips (fails under SIPREF_REQUIRE_EXTERNAL=1), as the
core's SIPp tests do.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from extensions.rfc3311 import UpdateExtension, UpdateResult
from extensions.tests.sipp_support import assert_gaps, run_sipp_caller
from rfc3261.asyncio.dispatcher import CoreHost
from rfc3261.asyncio.loopback import free_port
from rfc3261.session import CallEnded, CallEstablished, IncomingCall
from rfc3261.tests.test_sipp import trace_messages
from rfc3261.tests.transport_support import async_test, require_external, sipp_stats
from rfc3261.timers import TimerValues
from rfc3261.ua_core import UAConfig, UserAgent

pytestmark = pytest.mark.interop

SDP = b"v=0\r\no=bob 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
NEW_OFFER = b"v=0\r\no=bob 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"


async def updating_uas(port: int, timers: TimerValues, events: list[Any]) -> CoreHost:
    """A UA on 127.0.0.1:port that answers at once, then UPDATEs the confirmed dialog."""
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
    update = UpdateExtension()
    ua = UserAgent(config, extensions=[update])
    host.core = ua

    def on_event(event: Any) -> None:
        events.append(event)
        now = host.clock()
        if isinstance(event, IncomingCall):
            host.run(ua.sessions.answer(event.call, now, body=SDP))
        elif isinstance(event, CallEstablished):
            host.run(update.update(event.call, now, NEW_OFFER))

    host.deliver = lambda event: loop.call_soon(on_event, event)
    return host


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If an unreliable transport is in use, the client transaction MUST set
##% timer E to fire in T1 seconds.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% This process continues so that retransmissions occur with an
##% exponentially increasing interval that caps at T2.
##= https://www.rfc-editor.org/rfc/rfc3311#section-5.1
##= type=test
##% It
##% MAY be sent for both early and confirmed dialogs, and MAY be sent by
##% either caller or callee.
def test_sipp_sees_an_update_retransmitted_on_timer_e(tmp_path: Path) -> None:
    sipp = require_external("sipp", "sip-tester")
    t1, t2 = 0.1, 0.4
    trace = tmp_path / "messages.log"
    events: list[Any] = []

    @async_test(timeout=60)
    async def run() -> tuple[int, str]:
        port = free_port()
        host = await updating_uas(port, TimerValues(T1=t1, T2=t2), events)
        try:
            result = await run_sipp_caller(
                sipp, "uac_update_late_answer.xml", port, tmp_path, trace
            )
            await asyncio.sleep(0.1)  # let the UA's last events through
            return result
        finally:
            await host.close()

    status, output = run()
    assert status == 0, output[-3000:]
    assert sipp_stats(output) == {"Successful call": 1, "Failed call": 0}
    messages = trace_messages(trace)
    (answered,) = [
        t
        for t, way, text in messages
        if way == "sent"
        and text.startswith("SIP/2.0 200")
        and "UPDATE" in text.split("CSeq")[1][:20]
    ]
    copies = [t for t, way, text in messages if way == "received" and text.startswith("UPDATE")]
    before = [t for t in copies if t < answered]
    # Sent at 0, T1, 3*T1, 7*T1, 11*T1, 15*T1 during the 1.6 s pause: T1, 2T1, then T2 (=4T1)
    # over and over -- unlike a reliable 183 (RFC 3262 §3), Timer E stops growing at T2.
    expected = [t1, 2 * t1, t2, t2, t2]
    intervals = assert_gaps(before, expected, output[-2000:])
    assert max(intervals) <= t2 * 1.3 + 0.03, intervals  # capped: never 8*T1
    # The 200 completed the transaction: no copy came after it (one may have crossed it).
    assert len([t for t in copies if t > answered + 0.05]) == 0
    # Every copy was the same request (a retransmission, not a new UPDATE).
    cseqs = {text.split("CSeq:")[1].split("\n")[0].strip() for _, _, text in messages
             if text.startswith("UPDATE")}  # fmt: skip
    assert len(cseqs) == 1, cseqs
    # The UA saw SIPp's answer to its offer, then the BYE.
    (result,) = [e for e in events if isinstance(e, UpdateResult)]
    assert result.response.status == 200
    assert b"o=sipp 1 2" in result.response.body
    assert result.call.negotiation.remote == result.response.body
    assert any(isinstance(e, CallEnded) for e in events)
