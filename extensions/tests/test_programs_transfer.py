"""``python -m rfc3261 ua --transfer-to``/``--attended``: call transfer (RFC 3515) between
three of our programs on loopback (real sockets, one event loop)."""

from __future__ import annotations

import asyncio
import io
import re

import pytest

from rfc3261.programs.ua import UsageError, check_arguments, run_program
from rfc3261.tests.test_programs_ua import answering, ua_args
from rfc3261.tests.transport_support import async_test


def test_transfer_options_need_a_call() -> None:
    with pytest.raises(UsageError, match="need --call"):
        check_arguments(ua_args("--answer", "200", "--transfer-to", "sip:127.0.0.1:5999"))
    with pytest.raises(UsageError, match="not both"):
        check_arguments(
            ua_args(
                *("--call", "sip:127.0.0.1:5998", "--transfer-to", "sip:127.0.0.1:5999"),
                *("--attended", "sip:127.0.0.1:5997"),
            )
        )
    plan = check_arguments(
        ua_args("--call", "sip:127.0.0.1:5998", "--transfer-to", "sip:127.0.0.1:5999")
    )
    assert "refer" in [e.name for e in plan.extensions]


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
##= type=test
##% If approval is granted, the UA MUST contact the resource identified by
##% the URI in the Refer-To header field value as discussed in Section
##% 2.4.3.
@async_test(timeout=30)
async def test_blind_transfer_between_three_programs() -> None:
    carol, carol_out, carol_port = await answering(
        "--answer", "200", "--count", "1", "--timeout", "10"
    )
    bob, bob_out, bob_port = await answering(
        "--answer", "200", "--extension", "refer", "--count", "1", "--timeout", "10"
    )
    out = io.StringIO()
    outcome = await run_program(
        ua_args(
            *("--call", f"sip:bob@127.0.0.1:{bob_port}"),
            *("--transfer-to", f"sip:carol@127.0.0.1:{carol_port}", "--timeout", "10"),
        ),
        out=out,
    )
    await asyncio.wait_for(bob, 10)
    await asyncio.wait_for(carol, 10)
    alice_says = out.getvalue()
    assert outcome.status == 0, alice_says
    assert "transfer: SIP/2.0 100 Trying" in alice_says
    assert "transfer: SIP/2.0 200 OK" in alice_says
    assert "transfer: done; hung up" in alice_says
    assert f"transfer to sip:carol@127.0.0.1:{carol_port} (accepted)" in bob_out.getvalue()
    # Carol got the call from Bob (the transferee), answered it, and it ended.
    carol_says = carol_out.getvalue()
    assert "answered 200" in carol_says and f"127.0.0.1:{bob_port}" in carol_says
    assert "ended" in carol_says


@async_test(timeout=30)
async def test_attended_transfer_between_three_programs() -> None:
    # Carol understands Replaces (RFC 3891): Bob's INVITE takes the place of Alice's call.
    carol, carol_out, carol_port = await answering(
        "--answer", "200", "--extension", "replaces", "--count", "2", "--timeout", "6"
    )
    bob, bob_out, bob_port = await answering(
        "--answer", "200", "--extension", "refer", "--count", "1", "--timeout", "10"
    )
    out = io.StringIO()
    outcome = await run_program(
        ua_args(
            *("--call", f"sip:bob@127.0.0.1:{bob_port}", "-v"),
            *("--attended", f"sip:carol@127.0.0.1:{carol_port}", "--timeout", "10"),
        ),
        out=out,
    )
    await asyncio.wait_for(bob, 10)
    await asyncio.wait_for(carol, 10)
    alice_says = out.getvalue()
    assert outcome.status == 0, alice_says
    assert "?Replaces=" in alice_says
    assert "?Replaces=" in bob_out.getvalue() and "(accepted)" in bob_out.getvalue()
    assert "transfer: SIP/2.0 200 OK" in alice_says
    carol_says = carol_out.getvalue()
    # Alice's call was answered; Bob's took its place (the replaced one ended by Carol).
    assert carol_says.count("answered 200") == 1, carol_says
    assert re.search(r"call \S+ replaces call \S+", carol_says), carol_says
    assert "ended (local BYE)" in carol_says


def test_refer_and_events_share_one_events_extension() -> None:
    from rfc3261.ua_core import UAConfig, UserAgent

    plan = check_arguments(
        ua_args("--subscribe", "sip:127.0.0.1:5999", "--extension", "refer", "--count", "1")
    )
    names = [e.name for e in plan.extensions]
    assert names.index("events") < names.index("refer")
    ua = UserAgent(
        UAConfig(aor="sip:a@127.0.0.1", contact="sip:a@127.0.0.1:5990", sent_by="127.0.0.1"),
        extensions=plan.extensions,
    )
    events = ua.extension("events")
    assert ua.extension("refer").events is events  # type: ignore[union-attr]
    assert "refer" in events.notifier_of and "presence" in events.packages  # type: ignore[union-attr]
