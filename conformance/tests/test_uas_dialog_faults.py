"""The UAS dialog, INVITE and status-code cases (``uas_dialog``, ``uas_invite``,
``uas_codes``) against the test double: they pass against the correct element, and each
fault of their area fails exactly the case that judges it."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from conformance.model import Profile
from conformance.tests.faulty_uas import FaultyElement
from conformance.tests.support import run_cases, started, verdicts
from rfc3261.asyncio.loopback import free_port

#: a short T1, and the double's user whose calls it ends itself (BYE 0.3 s after the ACK)
PROFILE = Profile(t1=0.2, hangup_user="hangup", hangup_after=0.3)

CASES = ",".join(
    [
        "uas-callee-bye-dialog",
        "uas-callee-bye-route-set",
        "uas-offer-in-2xx",
        "uas-405-allow-any",
        "uas-420-options",
        "uas-from-without-tag",
        "uas-sip-status-codes",
    ]
)


@pytest.fixture
def make() -> Iterator[object]:
    started: list[FaultyElement] = []

    def factory(*faults: str) -> str:
        element = FaultyElement("uas", faults, t1=PROFILE.t1)
        started.append(element)
        return f"udp:127.0.0.1:{element.start()}"

    yield factory
    for element in started:
        element.stop()


def test_the_correct_element_passes(make) -> None:
    got = verdicts(run_cases(make(), "uas", CASES, PROFILE))
    assert set(got.values()) == {"pass"}, got


@pytest.mark.parametrize(
    ("fault", "failing"),
    [
        # the wrong remote target fails where it is set (§12.1.1) and where it is kept
        ("bye_to_from", ("uas-callee-bye-dialog", "uas-callee-bye-route-set")),
        ("bye_before_ack", ("uas-callee-bye-dialog",)),
        ("no_offer_in_2xx", ("uas-offer-in-2xx",)),
        ("no_allow_405", ("uas-405-allow-any",)),
        ("no_unsupported", ("uas-420-options",)),
    ],
)
def test_each_fault_fails_its_case(make, fault: str, failing: tuple[str, ...]) -> None:
    run = run_cases(make(fault), "uas", CASES, PROFILE)
    got = verdicts(run)
    for case_id in failing:
        assert got.pop(case_id) == "fail", [(r.case.id, r.reason) for r in run.results]
    assert set(got.values()) == {"pass"}, got


def test_the_callee_bye_names_what_is_wrong(make) -> None:
    """The early BYE fails the §15 sentence; the one to the From URI the remote target's."""
    early = run_cases(make("bye_before_ack"), "uas", "uas-callee-bye-dialog", PROFILE)
    (result,) = early.results
    assert "no BYE before our ACK" in result.reason
    wrong = run_cases(make("bye_to_from"), "uas", "uas-callee-bye-dialog", PROFILE)
    (result,) = wrong.results
    assert "Request-URI sip:tester@" in result.reason


def test_the_stateless_case_fails_a_stateful_uas_said_to_be_stateless(make) -> None:
    """The double keeps transactions (it retransmits its 2xx): a profile calling it a
    stateless UAS (§8.2.7) gets a fail; without that key the case does not apply."""
    stateless = Profile(t1=0.2, stateless=True)
    run = run_cases(make(), "uas", "uas-stateless", stateless)
    (result,) = run.results
    assert result.verdict.value == "fail" and "no retransmitted response" in result.reason
    assert verdicts(run_cases(make(), "uas", "uas-stateless", PROFILE)) == {
        "uas-stateless": "not-applicable"
    }


def test_our_ua_hangs_up_a_call_never_acked() -> None:
    """With T1 = 0.1 s (64*T1 = 6.4 s fits a case) our ua sends its BYE once the 2xx went
    un-ACKed for 64*T1 (§13.3.1.4, §14.2); the selftest's ua, at T1 = 0.5 s, is not
    applicable to that case."""
    port = free_port()
    argv = [sys.executable, "-m", "rfc3261", "ua", "--listen", f"sip:127.0.0.1:{port}", "-q"]
    argv += ["--answer", "200", "--t1", "0.1"]
    with started(argv, port):
        run = run_cases(f"udp:127.0.0.1:{port}", "uas", "uas-no-ack-bye", Profile(t1=0.1))
    assert verdicts(run) == {"uas-no-ack-bye": "pass"}, run.results[0].reason
