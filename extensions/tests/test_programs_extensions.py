"""``python -m rfc3261 ua --extension reason,message``: extensions chosen on the command line.

The programs find extensions by name at run time (rfc3261.programs.plugins, importlib:
rfc3261/ never imports extensions/).  Two programs run on one event loop over loopback,
as in rfc3261/tests/test_programs_ua.py, whose helpers these tests reuse.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator

import pytest

from extensions.rfc3326 import ReasonExtension
from extensions.rfc3428 import MessageExtension
from rfc3261.headers import HEADER_TYPES, unregister_header
from rfc3261.programs.plugins import available_ua_extensions, load_ua_extensions
from rfc3261.programs.ua import UsageError, build_parser, check_arguments, run_program
from rfc3261.tests.test_programs_ua import WireCapture, answering, ua_args, wire  # noqa: F401
from rfc3261.tests.transport_support import async_test


@pytest.fixture(autouse=True)
def reason_header() -> Iterator[None]:
    yield
    if "reason" in HEADER_TYPES:
        unregister_header("Reason")


def test_the_installed_extensions_are_found_by_name_and_listed_in_help() -> None:
    available = available_ua_extensions()
    assert available["reason"] is ReasonExtension and available["message"] is MessageExtension
    assert not any(name in ("tests", "conformance") for name in available)
    text = " ".join(build_parser().format_help().split())
    listed = text.split("(comma-separated; installed:")[1].split(")")[0]
    assert {"message", "reason"} <= {name.strip() for name in listed.split(",")}
    loaded = load_ua_extensions("message, reason")
    assert [type(e) for e in loaded] == [MessageExtension, ReasonExtension]
    assert load_ua_extensions(None) == [] and load_ua_extensions("") == []
    with pytest.raises(ValueError, match=r"no extension named nosuch \(installed: .*reason"):
        load_ua_extensions("reason,nosuch")
    with pytest.raises(ValueError, match="twice"):
        load_ua_extensions("reason,reason")


def test_usage_errors_of_the_extension_options() -> None:
    with pytest.raises(UsageError, match="--extension: no extension named bogus"):
        check_arguments(ua_args("--answer", "200", "--extension", "bogus"))
    with pytest.raises(UsageError, match="--message needs --extension message"):
        check_arguments(ua_args("--message", "sip:127.0.0.1:5999", "--text", "hi"))
    with pytest.raises(UsageError, match="--reason needs --extension reason"):
        check_arguments(ua_args("--answer", "200", "--reason", "SIP;cause=600"))
    with pytest.raises(UsageError, match=r"--reason: .*not registered"):
        check_arguments(ua_args("--answer", "200", "--extension", "reason", "--reason", "X;c=1"))
    with pytest.raises(UsageError, match="not an IP address"):
        check_arguments(ua_args("--extension", "message", "--message", "sip:bob@example.com"))
    with pytest.raises(UsageError, match="--text needs --message"):
        check_arguments(ua_args("--answer", "200", "--text", "hi"))
    with pytest.raises(UsageError, match="--publish-change needs --publish-presence"):
        check_arguments(ua_args("--answer", "200", "--publish-change", "closed"))
    plan = check_arguments(
        ua_args("--extension", "message", "--message", "sip:127.0.0.1:5999", "--text", "hi")
    )
    assert [e.name for e in plan.extensions] == ["message"]
    assert str(plan.targets["message"]) == "sip:127.0.0.1:5999"


@async_test(timeout=20)
async def test_a_message_from_one_program_is_printed_by_the_other() -> None:
    callee, callee_out, port = await answering(
        "--answer", "200", "--extension", "message", "--timeout", "2"
    )
    out = io.StringIO()
    outcome = await run_program(
        ua_args(
            *("--extension", "message", "--message", f"sip:bob@127.0.0.1:{port}"),
            *("--text", "hello, Bob", "--count", "2"),
        ),
        out=out,
    )
    await asyncio.wait_for(callee, 5)
    assert outcome.status == 0 and outcome.finals == [200, 200]
    assert out.getvalue().count(": 200 OK: delivered") == 2
    printed = [line for line in callee_out.getvalue().splitlines() if "message from" in line]
    assert len(printed) == 2 and printed[0].endswith(": hello, Bob")


@async_test(timeout=20)
async def test_a_refused_message_sets_the_exit_status() -> None:
    callee, _, port = await answering("--answer", "200", "--timeout", "1")  # no extension
    out = io.StringIO()
    outcome = await run_program(
        ua_args("--extension", "message", "--message", f"sip:bob@127.0.0.1:{port}"), out=out
    )
    await asyncio.wait_for(callee, 5)
    assert outcome.finals == [405] and outcome.status == 4
    assert "405 Method Not Allowed: not delivered" in out.getvalue()


@async_test(timeout=20)
async def test_the_cancel_and_bye_of_a_program_say_why(wire: WireCapture) -> None:  # noqa: F811
    callee, callee_out, port = await answering(
        *("--answer", "200", "--ring-user", "carol", "--extension", "reason"),
        "--timeout",
        "3",
    )
    # a call left ringing, given up at --timeout: CANCEL with the default reason
    await run_program(
        ua_args(
            *("--call", f"sip:carol@127.0.0.1:{port}", "--timeout", "1"),
            *("--extension", "reason"),
        ),
        out=io.StringIO(),
    )
    # an answered call, ended after --duration: BYE with the reason chosen
    await run_program(
        ua_args(
            *("--call", f"sip:bob@127.0.0.1:{port}", "--duration", "0.2"),
            *("--extension", "reason", "--reason", 'SIP;cause=600;text="Busy Everywhere"'),
        ),
        out=io.StringIO(),
    )
    await asyncio.wait_for(callee, 6)
    cancels = [line for line in wire.lines if line.startswith("-> ") and " CANCEL " in line]
    byes = [line for line in wire.lines if line.startswith("-> ") and " BYE sip:" in line]
    assert cancels and 'Reason: Q.850;cause=19;text="No answer from user"' in cancels[0]
    assert byes and 'Reason: SIP;cause=600;text="Busy Everywhere"' in byes[0]
    printed = callee_out.getvalue()
    assert "ended (cancelled); Reason: Q.850 cause 19 (No answer from user)" in printed
    assert "ended (remote BYE); Reason: SIP cause 600 (Busy Everywhere)" in printed
