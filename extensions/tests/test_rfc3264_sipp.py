"""Offer/answer edge cases PJSIP will not produce, from SIPp against our ua program.

``python -m rfc3261 ua --answer 200`` (SDP offer/answer installed by itself) runs on the
test's event loop over loopback; SIPp calls it with hand-written scenarios:

- ``sipp/uac_bad_sdp.xml``: an offer whose m= line has no port number -> 488 with a
  Warning naming the line;
- ``sipp/uac_offerless_bad_answer.xml``: an INVITE without an offer, answered in the ACK
  with a stream too many -> our UA says so and hangs up with a BYE, no crash.

Without sipp the tests skip (fail under SIPREF_REQUIRE_EXTERNAL=1).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from extensions.tests.sipp_support import run_sipp_caller
from rfc3261.tests.test_programs_ua import answering
from rfc3261.tests.transport_support import async_test, require_external

pytestmark = pytest.mark.interop


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.3
##= type=test
##% A UAS rejecting an offer contained in an INVITE SHOULD return a 488
##% (Not Acceptable Here) response.  Such a response SHOULD include a
##% Warning header field value explaining why the offer was rejected.
@async_test(timeout=40)
async def test_sipp_offering_malformed_sdp_gets_488_naming_the_line(tmp_path: Path) -> None:
    sipp = require_external("sipp", "sip-tester")
    # (A refused offer never becomes a call of the program: it stops at --timeout.)
    callee, out, port = await answering("--answer", "200", "--timeout", "2")
    trace = tmp_path / "messages.log"
    status, log = await run_sipp_caller(sipp, "uac_bad_sdp.xml", port, tmp_path, trace, 0)
    assert status == 0, log
    text = trace.read_text(errors="replace")
    response = text[text.index("SIP/2.0 488") :]
    assert 'Warning: 399 127.0.0.1 "SDP line 6 (m=): the port must be digits' in response
    outcome = await asyncio.wait_for(callee, 10)
    assert outcome.status == 0 and outcome.calls_answered == 0
    assert "incoming call" not in out.getvalue()


@async_test(timeout=40)
async def test_an_answer_with_a_stream_too_many_is_hung_up(tmp_path: Path) -> None:
    sipp = require_external("sipp", "sip-tester")
    callee, out, port = await answering("--answer", "200", "--timeout", "8", "--count", "1")
    trace = tmp_path / "messages.log"
    status, log = await run_sipp_caller(
        sipp, "uac_offerless_bad_answer.xml", port, tmp_path, trace, 0
    )
    assert status == 0, log
    await asyncio.wait_for(callee, 10)
    printed = out.getvalue()
    assert "the answer does not match our offer: the answer has 2 m= lines, the offer 1" in (
        printed
    ), printed
    assert "hanging up" in printed
