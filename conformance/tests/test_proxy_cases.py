"""The proxy, registrar and redirect cases of the second wave against the faulty element:
without faults they pass; each fault fails exactly the case judging the rule it breaks.

(Against sipref's own programs and Kamailio they run in test_own_programs/test_kamailio.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from conformance.model import Profile
from conformance.tests.faulty_uas import FaultyElement
from conformance.tests.support import run_cases, verdicts

FAST = Profile(t1=0.2)

PROXY_CASES = (
    "proxy-header-values-order,proxy-via-received,proxy-stray-response-discarded,"
    "proxy-request-uri-kept,proxy-max-forwards-70,proxy-response-body-unchanged,"
    "proxy-in-dialog-to-tag-kept,proxy-stateless-retransmission,proxy-merged-not-error,"
    "proxy-stateless-cancel,proxy-max-forwards-decremented,proxy-authorization-passed-on,"
    "proxy-407-forwarded,proxy-stateless-steps"
)
#: the cases of a proxy demanding credentials (not applicable to one that does not)
CHALLENGE_CASES = (
    "proxy-407-digest,proxy-407-not-repeated,proxy-no-challenge-ack-cancel,"
    "proxy-authorization-passed-on,proxy-digest-rfc2069,proxy-cancel-without-credentials,"
    "proxy-credentials-among-others"
)
#: the RFC 7616 / 8760 cases of a proxy demanding credentials (conformance.cases.auth_rfc7616)
DIGEST_CASES = "digest-7616-*,proxy-7616-digest-transparent"
REGISTRAR_CASES = (
    "reg-expires-header,reg-expires-param-over-header,reg-expires-default,"
    "reg-all-bindings-listed,reg-remove-one,reg-other-call-id-removes,"
    "reg-invalid-binds-nothing,reg-aor-canonical,reg-star-other-call-id,reg-star-cseq-lower"
)


@pytest.fixture
def element() -> Iterator[Callable[..., str]]:
    started: list[FaultyElement] = []

    def factory(role: str, *faults: str) -> str:
        made = FaultyElement(role, faults, t1=FAST.t1)
        started.append(made)
        return f"udp:127.0.0.1:{made.start()}"

    yield factory
    for made in started:
        made.stop()


def test_a_correct_stateless_proxy_passes(element) -> None:
    run = run_cases(element("proxy"), "proxy", PROXY_CASES, FAST)
    assert set(verdicts(run).values()) == {"pass"}, verdicts(run)


@pytest.mark.parametrize(
    ("fault", "failing"),
    [
        ("reorder_values", "proxy-header-values-order"),
        ("no_received", "proxy-via-received"),
        ("no_via_check", "proxy-stray-response-discarded"),
        ("answer_cancel", "proxy-stateless-cancel"),
        ("early_483", "proxy-max-forwards-decremented"),
        ("no_decrement", "proxy-max-forwards-decremented"),
        ("consume_credentials", "proxy-authorization-passed-on"),
        ("keep_route", "proxy-stateless-steps"),
    ],
)
def test_each_proxy_fault_fails_its_case(element, fault: str, failing: str) -> None:
    run = run_cases(element("proxy", fault), "proxy", PROXY_CASES, FAST)
    got = verdicts(run)
    assert got.pop(failing) == "fail", run.results
    assert set(got.values()) == {"pass"}, got


#: the RFC 4028 proxy cases (a proxy that is not session-timer aware passes them)
SESSION_TIMER_CASES = (
    "proxy-4028-session-expires-forwarded,proxy-4028-long-interval,"
    "proxy-4028-min-se-not-lowered,proxy-4028-2xx-session-expires-unchanged"
)


def test_a_proxy_raising_session_expires_fails_its_case(element) -> None:
    """RFC 4028 §8.1: without the fault the session-timer cases pass; with it the three
    judging the Session-Expires of the forwarded request fail (never above the value asked
    for), the one judging the 2xx passes."""
    run = run_cases(element("proxy"), "proxy", SESSION_TIMER_CASES, FAST)
    assert set(verdicts(run).values()) == {"pass"}, verdicts(run)
    run = run_cases(element("proxy", "raise_session_expires"), "proxy", SESSION_TIMER_CASES, FAST)
    assert verdicts(run) == {
        "proxy-4028-session-expires-forwarded": "fail",
        "proxy-4028-long-interval": "fail",
        "proxy-4028-min-se-not-lowered": "fail",
        "proxy-4028-2xx-session-expires-unchanged": "pass",
    }, run.results


def test_registrar_cases_pass_and_the_ignored_expires_header_fails(element) -> None:
    run = run_cases(element("registrar"), "registrar", REGISTRAR_CASES, FAST)
    assert set(verdicts(run).values()) == {"pass"}, verdicts(run)
    run = run_cases(element("registrar", "ignore_expires_header"), "registrar", REGISTRAR_CASES)
    got = verdicts(run)
    assert got.pop("reg-expires-header") == "fail"
    assert set(got.values()) == {"pass"}, got


def test_redirect_cases_are_not_applicable_to_a_non_redirect_server(element) -> None:
    """A UAS answers the control INVITE 200: no redirect server, every case says so."""
    run = run_cases(element("uas"), "redirect", "redirect-ignores-*,redirect-cancel-2xx", FAST)
    assert len(run.results) == 3
    for res in run.results:
        assert res.verdict.value == "not-applicable", (res.case.id, res.reason)
        assert "not a redirect server" in res.reason and res.control_ok is False


def test_credentials_case_against_our_proxy_demanding_them(tmp_path) -> None:
    """proxy-credentials-inspected answers a 407 (SHA-256, RFC 8760) with the profile's
    credentials: our proxy with --proxy-auth forwards the request then (pass); without the
    credentials the case is not applicable."""
    import dataclasses
    import sys

    from conformance.profile import load_profile
    from conformance.selftest import PROFILES
    from conformance.tests.support import started
    from rfc3261.asyncio.loopback import free_port
    from rfc3261.digest_server import ha1_line

    port = free_port()
    users = [ha1_line("alice", "sipref.test", "secret")]
    users.append(ha1_line("Zoë", "sipref.test", "pässwörd€"))  # RFC 7616 §4
    (tmp_path / "ha1.txt").write_text("\n".join(users) + "\n", encoding="utf-8")
    argv = [sys.executable, "-m", "rfc3261", "proxy", "--listen", f"sip:127.0.0.1:{port}"]
    argv += ["-q", "--domain", "sipref.test", "--db", str(tmp_path / "p.db")]
    argv += ["--auth-file", str(tmp_path / "ha1.txt"), "--realm", "sipref.test", "--proxy-auth"]
    argv += ["--t1", "0.1"]
    profile = load_profile(PROFILES / "sipref-proxy.toml")
    with started(argv, port):
        target = f"udp:127.0.0.1:{port}"
        without = run_cases(target, "proxy", "proxy-credentials-inspected", profile)
        creds = dataclasses.replace(profile, username="alice", password="secret")
        run = run_cases(target, "proxy", "proxy-credentials-inspected", creds)
        challenged = run_cases(target, "proxy", CHALLENGE_CASES, creds)
        international = {"international_username": "Zoë", "international_password": "pässwörd€"}
        digest = run_cases(
            target, "proxy", DIGEST_CASES, dataclasses.replace(creds, **international)
        )
    assert verdicts(without) == {"proxy-credentials-inspected": "not-applicable"}
    assert verdicts(run) == {"proxy-credentials-inspected": "pass"}, run.results[0].reason
    # the cases of a challenging proxy (§22.1, §22.3, §22.4, §26.3.2.4) judge it for real;
    # its 407 to an INVITE goes through a server transaction and is repeated until ACKed, a
    # SHOULD of §26.3.2.4 it does not follow on purpose (rfc3261/scope.annotations.toml)
    expected = dict.fromkeys(CHALLENGE_CASES.split(","), "pass")
    expected["proxy-407-not-repeated"] = "warn"
    assert verdicts(challenged) == expected, [(r.case.id, r.reason) for r in challenged.results]
    # SIP has no Proxy-Authentication-Info (RFC 7616 §3.5 is a MAY), and the proxy does not
    # offer userhash (a SHOULD of RFC 7616 §3.4.4): the rest passes
    expected = {r.case.id: "pass" for r in digest.results}
    expected["digest-7616-authentication-info"] = "not-applicable"
    expected["digest-7616-userhash-offered"] = "warn"
    assert len(expected) == 8
    assert verdicts(digest) == expected, [(r.case.id, r.reason) for r in digest.results]
