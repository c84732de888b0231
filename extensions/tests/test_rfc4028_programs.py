"""``python -m rfc3261 ua --extension timer --session-expires N``: session timers on the
command line (RFC 4028), two programs on one event loop over loopback."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator

import pytest

from extensions.rfc4028 import SessionTimer
from rfc3261.headers import HEADER_TYPES, unregister_header
from rfc3261.programs.ua import UsageError, check_arguments, run_program
from rfc3261.tests.test_programs_ua import WireCapture, answering, ua_args, wire  # noqa: F401
from rfc3261.tests.transport_support import async_test


@pytest.fixture(autouse=True)
def timer_headers() -> Iterator[None]:
    yield
    for name in ("Session-Expires", "Min-SE"):
        if name.lower() in HEADER_TYPES:
            unregister_header(name)


def test_the_timer_options_configure_the_extension() -> None:
    plan = check_arguments(
        ua_args("--answer", "200", "--extension", "timer", "--session-expires", "600")
    )
    (timer,) = plan.extensions
    assert isinstance(timer, SessionTimer) and timer.session_expires == 600
    assert timer.min_se == 90
    plan = check_arguments(ua_args("--answer", "200", "--extension", "timer", "--min-se", "300"))
    assert plan.extensions[0].min_se == 300  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="--session-expires needs --extension timer"):
        check_arguments(ua_args("--answer", "200", "--session-expires", "600"))
    with pytest.raises(UsageError, match="--min-se needs --extension timer"):
        check_arguments(ua_args("--answer", "200", "--min-se", "600"))
    with pytest.raises(UsageError, match="below 90"):
        check_arguments(ua_args("--answer", "200", "--extension", "timer", "--min-se", "30"))
    with pytest.raises(UsageError, match="below min_se"):
        check_arguments(
            ua_args(
                *("--answer", "200", "--extension", "timer"),
                *("--session-expires", "100", "--min-se", "200"),
            )
        )


@async_test(timeout=20)
async def test_two_programs_negotiate_a_session_timer_and_print_it(
    wire: WireCapture,  # noqa: F811
) -> None:
    callee, callee_out, port = await answering(
        *("--answer", "200", "--extension", "timer", "--min-se", "120"),
        *("--timeout", "3", "--count", "2"),
    )
    # 100 s is below the callee's Min-SE: 422, then the retry with Min-SE: 120 succeeds.
    out = io.StringIO()
    outcome = await run_program(
        ua_args(
            *("--call", f"sip:bob@127.0.0.1:{port}", "--duration", "0.3"),
            *("--extension", "timer", "--session-expires", "100"),
        ),
        out=out,
    )
    assert outcome.status == 0
    invites = wire.sent("INVITE")
    assert "Session-Expires: 100" in invites[0] and "Min-SE: 120" in invites[-1]
    assert any(" 422 " in line and "Min-SE: 120" in line for line in wire.sent("SIP/2.0"))
    assert "session timer: 120 s, we refresh" in out.getvalue()
    await run_program(
        ua_args(*("--call", f"sip:bob@127.0.0.1:{port}", "--duration", "0.3")), out=io.StringIO()
    )
    await asyncio.wait_for(callee, 6)
    printed = callee_out.getvalue()
    assert "session timer: 120 s, the peer refreshes" in printed
    # A caller without the extension neither asks for a timer nor supports one: none.
    assert printed.count("session timer:") == 1
