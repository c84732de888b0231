"""The server transaction, redirect and registrar cases of issue 25 against the faulty element:
without faults they pass (or are not applicable with a reason); each fault fails exactly the
case judging the rule it breaks.

(Against sipref's own programs they run in test_own_programs: ``sipref-redirect`` is the
redirect role's own target.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from conformance.model import Profile
from conformance.tests.faulty_uas import FaultyElement
from conformance.tests.support import run_cases, verdicts

# T1 = 50 ms: Timer G's first intervals are long enough to measure on a loaded machine
FAST = Profile(t1=0.05, ringing_user="ring", user="alice")
# T1 = 30 ms for the Timer H and J cases: 64*T1 = 1.92 s
TIMERS = Profile(t1=0.03, user="alice")

SERVER_CASES = (
    "server-non-invite-immediate,server-non-invite-one-final,server-invite-2xx-passed,"
    "server-invite-provisional-passed,server-invite-ack-confirms,txn-invite-non2xx-timer-g"
)
REDIRECT_CASES = (
    "redirect-3xx-contact,redirect-not-to-self,redirect-ignores-unknown-require,"
    "redirect-ignores-unknown-method,redirect-cancel-2xx,server-invite-ack-confirms,"
    "server-non-invite-one-final,txn-invite-non2xx-on-retransmission"
)
REGISTRAR_CASES = (
    "reg-processed-in-order,reg-independent,reg-commit-all-or-nothing,registrar-unauthorized-403,"
    "server-non-invite-immediate,server-non-invite-one-final"
)


@pytest.fixture
def element() -> Iterator[Callable[..., str]]:
    started: list[FaultyElement] = []

    def factory(role: str, *faults: str, t1: float = FAST.t1) -> str:
        made = FaultyElement(role, faults, t1=t1)
        started.append(made)
        return f"udp:127.0.0.1:{made.start()}"

    yield factory
    for made in started:
        made.stop()


def test_a_correct_uas_passes_the_server_transaction_cases(element) -> None:
    run = run_cases(element("uas"), "uas", SERVER_CASES, FAST)
    assert set(verdicts(run).values()) == {"pass"}, run.results


def test_a_correct_redirect_server_passes(element) -> None:
    run = run_cases(element("redirect"), "redirect", REDIRECT_CASES, FAST)
    assert set(verdicts(run).values()) == {"pass"}, run.results


def test_a_correct_registrar_passes(element) -> None:
    run = run_cases(element("registrar"), "registrar", REGISTRAR_CASES, FAST)
    got = verdicts(run)
    # the faulty registrar lets anybody register anything: 403 is not applicable
    assert got.pop("registrar-unauthorized-403") == "not-applicable"
    assert set(got.values()) == {"pass"}, run.results


@pytest.mark.parametrize(
    ("role", "fault", "failing", "cases"),
    [
        ("uas", "new_final_on_retransmission", "server-non-invite-one-final", SERVER_CASES),
        ("registrar", "new_final_on_retransmission", "server-non-invite-one-final", None),
        ("redirect", "redirect_no_contact", "redirect-3xx-contact", None),
        ("uas", "no_retransmit", "txn-invite-non2xx-timer-g", SERVER_CASES),
        ("uas", "ack_stray_2xx", "uas-6026-stray-response-discarded", SERVER_CASES),
    ],
)
def test_each_server_fault_fails_its_case(
    element, role: str, fault: str, failing: str, cases: str | None
) -> None:
    pattern = cases or {"uas": SERVER_CASES, "registrar": REGISTRAR_CASES}.get(
        role, REDIRECT_CASES
    )
    if failing not in pattern:
        pattern = f"{pattern},{failing}"
    run = run_cases(element(role, fault), role, pattern, FAST)
    got = verdicts(run)
    assert got.pop(failing) == "fail", run.results
    got.pop("registrar-unauthorized-403", None)  # not applicable here (see above)
    assert set(got.values()) <= {"pass"}, got


TIMER_CASES = "server-invite-timer-h,server-non-invite-timer-j"


def test_the_timers_pass_on_a_correct_element(element) -> None:
    run = run_cases(element("redirect", t1=TIMERS.t1), "redirect", TIMER_CASES, TIMERS)
    assert set(verdicts(run).values()) == {"pass"}, [r.reason for r in run.results]


@pytest.mark.parametrize(
    ("fault", "failing"),
    [("no_timer_h", "server-invite-timer-h"), ("short_timer_j", "server-non-invite-timer-j")],
)
def test_each_timer_fault_fails_its_case(element, fault: str, failing: str) -> None:
    run = run_cases(element("redirect", fault, t1=TIMERS.t1), "redirect", failing, TIMERS)
    assert verdicts(run) == {failing: "fail"}, [r.reason for r in run.results]


def test_the_timer_cases_need_a_short_t1(element) -> None:
    run = run_cases(element("uas"), "uas", "server-invite-timer-h", Profile(t1=0.5))
    (result,) = run.results
    assert result.verdict.value == "not-applicable" and "Timer H is 32 s" in result.reason
