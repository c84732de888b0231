"""``python -m rfc3261 ua --codecs ... --hold S --resume S``: SDP offer/answer in the program.

Two programs on one event loop over loopback, with the helpers of
rfc3261/tests/test_programs_ua.py.
"""

from __future__ import annotations

import asyncio
import io

import pytest

from extensions.rfc3264 import OfferAnswer
from rfc3261.programs.ua import UsageError, check_arguments, run_program
from rfc3261.tests.test_programs_ua import WireCapture, answering, ua_args, wire  # noqa: F401
from rfc3261.tests.transport_support import async_test


def test_codec_and_hold_options_are_checked() -> None:
    plan = check_arguments(ua_args("--answer", "200", "--codecs", "opus,PCMA"))
    assert isinstance(plan.sdp, OfferAnswer)
    assert [c.name for c in plan.sdp.describer.codecs] == ["opus", "PCMA"]
    assert plan.extensions == []  # added by the program, not by --extension
    named = check_arguments(ua_args("--answer", "200", "--extension", "sdp"))
    assert named.sdp is None and [e.name for e in named.extensions] == ["sdp"]
    with pytest.raises(UsageError, match="--codecs: unknown codec"):
        check_arguments(ua_args("--answer", "200", "--codecs", "PCMU,speexy"))
    with pytest.raises(UsageError, match="--resume needs a --hold"):
        check_arguments(ua_args("--answer", "200", "--resume", "1"))


@async_test(timeout=20)
async def test_a_call_negotiates_codecs_holds_and_resumes(wire: WireCapture) -> None:  # noqa: F811
    callee, callee_out, port = await answering(
        "--answer", "200", "--codecs", "opus,PCMA", "--count", "1", "--timeout", "5"
    )
    out = io.StringIO()
    outcome = await run_program(
        ua_args(
            *("--call", f"sip:bob@127.0.0.1:{port}", "--codecs", "PCMU,PCMA,opus"),
            *("--duration", "1.2", "--hold", "0.3", "--resume", "0.7"),
        ),
        out=out,
    )
    await asyncio.wait_for(callee, 6)
    assert outcome.status == 0
    (invite, *reinvites) = wire.sent("INVITE")
    assert "m=audio 40000 RTP/AVP 0 8 111" in invite  # no longer port 0
    assert len(reinvites) == 2
    assert "a=sendonly" in reinvites[0] and "a=sendrecv" in reinvites[1]
    sessions = [line for line in out.getvalue().splitlines() if " session: " in line]
    assert len(sessions) == 3
    assert "PCMA/8000 (PT 8), sendrecv, remote 127.0.0.1:" in sessions[0]
    assert "sendonly" in sessions[1] and "sendrecv" in sessions[2]
    callee_sessions = [line for line in callee_out.getvalue().splitlines() if "session:" in line]
    assert [s.split(", ")[1] for s in callee_sessions] == ["sendrecv", "recvonly", "sendrecv"]


@async_test(timeout=20)
async def test_no_codec_in_common_is_refused_with_488(wire: WireCapture) -> None:  # noqa: F811
    callee, _, port = await answering("--answer", "200", "--codecs", "opus", "--timeout", "1.5")
    outcome = await run_program(
        ua_args("--call", f"sip:bob@127.0.0.1:{port}", "--codecs", "PCMU"), out=io.StringIO()
    )
    await asyncio.wait_for(callee, 5)
    assert outcome.finals == [488]
    (refusal,) = [line for line in wire.lines if line.startswith("-> ") and " 488 " in line]
    assert "Warning: 305 " in refusal and "no codec in common" in refusal


@async_test(timeout=20)
async def test_hold_as_offers_recvonly_then_resumes(wire: WireCapture) -> None:  # noqa: F811
    """``--hold-as recvonly``: the hold re-INVITE offers to only receive (§5.1), the callee
    answers sendonly; the resume offers sendrecv again."""
    callee, callee_out, port = await answering("--answer", "200", "--count", "1", "--timeout", "5")
    outcome = await run_program(
        ua_args(
            *("--call", f"sip:bob@127.0.0.1:{port}", "--hold-as", "recvonly"),
            *("--duration", "1.2", "--hold", "0.3", "--resume", "0.7"),
        ),
        out=io.StringIO(),
    )
    await asyncio.wait_for(callee, 6)
    assert outcome.status == 0
    (_, *reinvites) = wire.sent("INVITE")
    assert len(reinvites) == 2
    assert "a=recvonly" in reinvites[0] and "a=sendrecv" in reinvites[1]
    callee_sessions = [line for line in callee_out.getvalue().splitlines() if "session:" in line]
    assert [s.split(", ")[1] for s in callee_sessions] == ["sendrecv", "sendonly", "sendrecv"]
