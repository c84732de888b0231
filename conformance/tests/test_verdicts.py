"""The runner's verdicts against a test double: right when it is right, failing when broken.

`faulty_uas.FaultyElement` without faults follows the rules the cases check; each fault
breaks one, and the case for that rule must fail (or the runner must cope: garbage, floods,
a target that dies).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.model import REGISTRY, Profile
from conformance.runner import NoAnswer
from conformance.tests.faulty_uas import FaultyElement
from conformance.tests.support import run_cases, verdicts


@pytest.fixture
def make() -> Iterator[object]:
    started: list[FaultyElement] = []

    def factory(role: str = "uas", *faults: str) -> str:
        element = FaultyElement(role, faults, t1=FAST.t1)
        started.append(element)
        return f"udp:127.0.0.1:{element.start()}"

    yield factory
    for element in started:
        element.stop()


#: The double and the runner agree on a short T1 so that timer cases take a second or two.
FAST = Profile(t1=0.2)

CORE = ",".join(
    [
        "uas-options-final",
        "uas-options-allow",
        "uas-405-allow",
        "uas-501-unknown-method",
        "uas-420-options",
        "uas-420-invite",
        "uas-415-accept",
        "uas-416-scheme",
        "uas-482-merged",
        "uas-to-tag-added",
        "uas-via-echo",
        "uas-from-echo",
        "uas-call-id-echo",
        "uas-cseq-echo",
        "uas-received-param",
        "uas-rport",
        "uas-481-bye-unknown-dialog",
        "uas-500-cseq-lower",
        "uas-bye-200",
        "uas-2xx-contact",
        "uas-2xx-record-route",
        "uas-481-cancel-unknown",
        "uas-stray-ack-silent",
        "txn-non-invite-final-on-retransmission",
    ]
)


def test_correct_uas_passes(make) -> None:
    run = run_cases(make("uas"), "uas", CORE)
    got = verdicts(run)
    assert {k: v for k, v in got.items() if v != "pass"} == {}


def test_cancel_of_a_ringing_invite(make) -> None:
    run = run_cases(make("uas"), "uas", "txn-cancel-*", Profile(ringing_user="ring", t1=0.2))
    assert set(verdicts(run).values()) == {"pass"}


def test_missing_to_tag_fails(make) -> None:
    got = verdicts(run_cases(make("uas", "no_to_tag"), "uas", "uas-to-tag-added,uas-cseq-echo"))
    assert got == {"uas-to-tag-added": "fail", "uas-cseq-echo": "pass"}


def test_missing_retransmissions_fail(make) -> None:
    target = make("uas", "no_retransmit")
    got = verdicts(
        run_cases(target, "uas", "txn-invite-2xx-retransmitted,txn-invite-non2xx-timer-g", FAST)
    )
    assert got == {"txn-invite-2xx-retransmitted": "fail", "txn-invite-non2xx-timer-g": "fail"}


def test_retransmissions_pass_and_stop(make) -> None:
    pattern = "txn-invite-2xx-retransmitted,txn-invite-2xx-stops-on-ack,txn-invite-non2xx-*"
    got = verdicts(run_cases(make("uas"), "uas", pattern, FAST))
    assert got["txn-invite-2xx-retransmitted"] == "pass"
    assert got["txn-invite-2xx-stops-on-ack"] == "pass"
    assert got["txn-invite-non2xx-timer-g"] == "pass"
    assert got["txn-invite-non2xx-stops-on-ack"] == "pass"


def test_wrong_via_fails(make) -> None:
    got = verdicts(
        run_cases(
            make("uas", "wrong_via"), "uas", "uas-via-echo,uas-received-param,uas-rport*", FAST
        )
    )
    assert got == {
        "uas-via-echo": "fail",
        "uas-received-param": "fail",
        "uas-rport": "fail",
        "uas-rport-received": "fail",
    }


def test_ignored_require_fails_and_names_the_sentence(make) -> None:
    run = run_cases(make("uas", "ignore_require"), "uas", "uas-420-options,torture-4475-bext01")
    assert verdicts(run) == {"uas-420-options": "fail", "torture-4475-bext01": "fail"}
    first = run.results[0]
    assert first.enforced == 0 and "420" in first.case.requirements[0].quote


def test_target_that_dies_fails_the_hostile_case(make) -> None:
    run = run_cases(
        make("uas", "die_on_torture"),
        "uas",
        "torture-4475-wsinv,torture-4475-badinv01,torture-4475-quotbal",
        probe_timeout=1.0,
    )
    got = verdicts(run)
    by_id = {r.case.id: r for r in run.results}
    assert got["torture-4475-wsinv"] != "fail" and by_id["torture-4475-wsinv"].alive_after
    assert got["torture-4475-badinv01"] == "fail"
    assert by_id["torture-4475-badinv01"].alive_after is False
    assert "still answers" in by_id["torture-4475-badinv01"].expected
    assert got["torture-4475-quotbal"] == "inconclusive"


@pytest.mark.parametrize("fault", ["garbage", "flood"])
def test_garbage_and_floods_do_not_break_the_runner(make, fault: str) -> None:
    run = run_cases(make("uas", fault), "uas", "uas-options-final,uas-to-tag-added,uas-bye-200")
    assert set(verdicts(run).values()) == {"pass"}


def test_silent_target_raises_no_answer() -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mute:
        mute.bind(("127.0.0.1", 0))
        with pytest.raises(NoAnswer):
            run_cases(
                f"udp:127.0.0.1:{mute.getsockname()[1]}",
                "uas",
                "uas-options-final",
                probe_timeout=0.5,
            )


def test_registrar_cases_against_a_correct_registrar(make) -> None:
    got = verdicts(run_cases(make("registrar"), "registrar", "reg-*"))
    assert {k: v for k, v in got.items() if v != "pass"} == {}


def test_registrar_torture_expectations(make) -> None:
    got = verdicts(
        run_cases(make("registrar"), "registrar", "torture-4475-unksm2,torture-4475-cparam0*")
    )
    assert got == {
        "torture-4475-unksm2": "pass",
        "torture-4475-cparam01": "pass",
        "torture-4475-cparam02": "pass",
    }


def test_registrar_cases_fail_against_a_uas(make) -> None:
    """A UAS answers REGISTER 405: no registrar case may pass.  Since issue 14 their control
    REGISTER (refused 405 too) makes them inconclusive, naming the 405, rather than fail
    §10.3 for a refusal of another kind (test_case_controls: the real fails)."""
    run = run_cases(make("uas"), "registrar", "reg-register-200-binding,reg-star-nonzero-400")
    assert verdicts(run) == {
        "reg-register-200-binding": "inconclusive",
        "reg-star-nonzero-400": "inconclusive",
    }
    assert all(r.control_ok is False and "405" in r.reason for r in run.results)


def test_proxy_cases_against_a_stateless_proxy(make) -> None:
    # the cases of conformance/cases/proxy.py: the later proxy_* modules judge stateful
    # behaviour (100 Trying, forking, CANCEL) too; test_proxy_cases runs those that apply
    basic = ",".join(c.id for c in REGISTRY.values() if c.group == "proxy")
    got = verdicts(run_cases(make("proxy"), "proxy", basic))
    assert {k: v for k, v in got.items() if v != "pass"} == {}


def test_proxy_cases_fail_against_a_uas(make) -> None:
    got = verdicts(
        run_cases(make("uas"), "proxy", "proxy-max-forwards-decremented,proxy-420-proxy-require")
    )
    assert got["proxy-max-forwards-decremented"] == "inconclusive"  # never forwarded
    # a UAS forwards nothing, the control MESSAGE included: inconclusive since issue 14
    # (it failed before, blaming §16.3 for a request it never meant to relay)
    assert got["proxy-420-proxy-require"] == "inconclusive"


def test_digest_answer() -> None:
    from conformance.cases.registrar import digest_authorization

    # RFC 2617 §3.5's worked example
    value = digest_authorization(
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
        "GET",
        "/dir/index.html",
        "Mufasa",
        "Circle Of Life",
        cnonce="0a4f113b",
    )
    assert 'response="6629fae49393a05397450978507c4ef1"' in value
