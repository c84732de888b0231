"""The RFC 4028 conformance cases against a sipref UA with session timers (and without).

The UA runs on the asyncio edge (``CoreHost``) in a thread of its own, on loopback, and
answers every INVITE with 200 and SDP; the cases in ``extensions/conformance/rfc4028.py``
run against it through the conformance runner, as ``python -m conformance run ...
--extension rfc4028`` would.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conformance.model import Profile
from conformance.tests.support import run_cases, verdicts
from extensions.rfc4028 import SessionTimer
from extensions.tests.conformance_ua import ua_on_loopback
from rfc3261.extension import UAExtension

PROFILE = Profile(extensions=("timer",), methods=("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"))
CASES = "rfc4028-*"
#: the cases that wait for the UAS's own refresh or BYE (45 s, 60 s): run only with --slow
SLOW = {
    "rfc4028-uas-refreshes": "not-applicable",
    "rfc4028-uas-bye-without-refresh": "not-applicable",
}


@pytest.fixture
def serve() -> Iterator[Callable[[list[UAExtension]], str]]:
    """Start a UA with ``extensions`` on 127.0.0.1 (UDP) answering INVITEs; its URI."""
    with contextlib.ExitStack() as stack:
        yield lambda extensions: stack.enter_context(
            ua_on_loopback(
                extensions, answer=True, headers_to_forget=("Session-Expires", "Min-SE")
            )
        )


@pytest.mark.parametrize("uas_refresher", ["uac", "uas"])
def test_the_cases_pass_against_a_ua_with_session_timers(serve: Any, uas_refresher: str) -> None:
    target = serve([SessionTimer(min_se=120, uas_refresher=uas_refresher)])
    run = run_cases(target, "uas", CASES, PROFILE)
    assert verdicts(run) == {
        "rfc4028-422-interval-too-small": "pass",
        "rfc4028-2xx-session-expires-refresher": "pass",
        "rfc4028-2xx-keeps-uac-refresher": "pass",
        "rfc4028-2xx-respects-min-se": "pass",
        "rfc4028-long-interval-accepted": "pass",
        "rfc4028-uas-chosen-interval": "pass",
        **SLOW,
    }


class _NoRequire(SessionTimer):
    """A faulty UAS: refresher=uac in its 2xx without Require: timer (against §9)."""

    name = "timer-faulty"

    def outgoing_response(self, response: Any, server: Any) -> None:
        super().outgoing_response(response, server)
        if "Session-Expires" in response.headers:
            response.headers.remove("Require")


def test_a_2xx_without_require_timer_fails(serve: Any) -> None:
    target = serve([_NoRequire(uas_refresher="uac")])
    run = run_cases(target, "uas", "rfc4028-2xx-session-expires-refresher", PROFILE)
    assert verdicts(run) == {"rfc4028-2xx-session-expires-refresher": "fail"}


def test_a_ua_without_session_timers_runs_none_and_passes_or_does_not_apply(serve: Any) -> None:
    target = serve([])
    # Without the extension the 2xx carries no timer: each case passes on that branch.
    run = run_cases(target, "uas", CASES, PROFILE)
    assert {v for case, v in verdicts(run).items() if case not in SLOW} == {"pass"}
    run = run_cases(target, "uas", CASES, Profile())
    assert set(verdicts(run).values()) == {"not-applicable"}
