"""The transport, TLS and Digest cases (issue 25: §18, §26, §22): right against a correct
element, failing exactly where a fault breaks their rule, and over TCP and TLS against
sipref's own programs.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conformance.model import Profile
from conformance.tests.faulty_uas import FaultyElement
from conformance.tests.support import ROOT, run_cases, verdicts
from rfc3261.asyncio.loopback import free_port
from rfc3261.tests.transport_support import make_certificate

FAST = Profile(t1=0.2)
AUTH = Profile(t1=0.2, username="alice", password="secret", ringing_user="ring")

ROUTING = "transport-received-sent-by-port,transport-sent-by,transport-maddr"
FRAMING = "transport-bytes-beyond-body,transport-short-body-400,transport-large-datagram"
DIGEST = (
    "auth-challenge-digest-qop,auth-basic-refused,auth-digest-accepted,"
    "auth-rfc2069-credentials,auth-realm-hostname"
)


@pytest.fixture
def element() -> Iterator[Callable[..., str]]:
    started: list[FaultyElement] = []

    def factory(role: str, *faults: str, realm: str = "") -> str:
        made = FaultyElement(role, faults, t1=FAST.t1, realm=realm)
        started.append(made)
        return f"udp:127.0.0.1:{made.start()}"

    yield factory
    for made in started:
        made.stop()


def _all_pass(run_verdicts: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in run_verdicts.items() if v != "pass"}


# --- §18.2.2 where responses go, §18.3 framing -----------------------------------------------


def test_a_correct_element_passes_the_udp_transport_cases(element) -> None:
    got = verdicts(run_cases(element("uas"), "uas", f"{ROUTING},{FRAMING}", FAST))
    assert len(got) == 6
    assert _all_pass(got) == {}


def test_responses_to_the_source_port_fail_the_routing_cases(element) -> None:
    got = verdicts(run_cases(element("uas", "reply_to_source"), "uas", ROUTING, FAST))
    assert got == dict.fromkeys(ROUTING.split(","), "fail")


def test_responses_from_another_port_fail_the_rfc3581_source_case(element) -> None:
    """RFC 3581 §4: a response from a socket other than the request's fails its case; the
    same element without the fault passes it."""
    case, invite_probe = "uas-3581-response-source", Profile(t1=0.2, probe="INVITE")
    assert verdicts(run_cases(element("uas"), "uas", case, invite_probe)) == {case: "pass"}
    got = verdicts(run_cases(element("uas", "other_source"), "uas", case, invite_probe))
    assert got == {case: "fail"}


def test_maddr_ignored_fails_only_the_maddr_case(element) -> None:
    got = verdicts(run_cases(element("uas", "ignore_maddr"), "uas", ROUTING, FAST))
    assert got == {
        "transport-received-sent-by-port": "pass",
        "transport-sent-by": "pass",
        "transport-maddr": "fail",
    }


def test_bytes_beyond_the_body_refused_fails_its_case(element) -> None:
    got = verdicts(run_cases(element("uas", "strict_length"), "uas", FRAMING, FAST))
    assert got == {
        "transport-bytes-beyond-body": "fail",
        "transport-short-body-400": "pass",
        "transport-large-datagram": "pass",
    }


def test_a_proxy_drops_a_truncated_response(element) -> None:
    got = verdicts(run_cases(element("proxy"), "proxy", "transport-*", FAST))
    assert got["transport-short-response-discarded"] == "pass"
    assert got["transport-received-sent-by-port"] == "pass"


# --- §22 Digest challenges ------------------------------------------------------------------


def test_a_correct_challenger_passes_the_digest_cases(element) -> None:
    registrar = verdicts(
        run_cases(element("registrar", realm="127.0.0.1"), "registrar", DIGEST, AUTH)
    )
    assert len(registrar) == 5 and _all_pass(registrar) == {}
    uas = verdicts(run_cases(element("uas", realm="127.0.0.1"), "uas", "auth-*", AUTH))
    assert len(uas) == 8 and _all_pass(uas) == {}


def test_without_authentication_the_digest_cases_do_not_apply(element) -> None:
    got = verdicts(run_cases(element("registrar"), "registrar", DIGEST, AUTH))
    assert set(got.values()) == {"not-applicable"}


@pytest.mark.parametrize(
    ("fault", "role", "failing"),
    [
        ("no_qop", "registrar", {"auth-challenge-digest-qop", "auth-digest-accepted"}),
        ("accept_basic", "registrar", {"auth-basic-refused"}),
        ("challenge_ack", "uas", {"auth-ack-not-challenged"}),
        ("challenge_cancel", "uas", {"auth-cancel-not-challenged"}),
    ],
)
def test_each_digest_fault_fails_exactly_its_cases(element, fault, role, failing) -> None:
    pattern = DIGEST if role == "registrar" else "auth-*"
    got = verdicts(run_cases(element(role, fault, realm="127.0.0.1"), role, pattern, AUTH))
    assert {k for k, v in got.items() if v == "fail"} == failing
    assert {v for k, v in got.items() if k not in failing} == {"pass"}


def test_a_realm_that_is_no_host_name_warns(element) -> None:
    got = verdicts(
        run_cases(element("registrar", realm="my secret realm"), "registrar", DIGEST, AUTH)
    )
    # the SHOULD (§22.1) warns; the rest still holds
    assert got.pop("auth-realm-hostname") == "warn"
    assert set(got.values()) == {"pass"}


# --- TCP and TLS against sipref's programs ---------------------------------------------------


def _wait_tcp(port: int, process: subprocess.Popen[bytes], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "the program exited early"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on TCP {port}")


def _registrar(argv: list[str], port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "rfc3261", "registrar", "--domain", "127.0.0.1", "-q"]
    process = subprocess.Popen(
        [*command, *argv], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _wait_tcp(port, process)
    return process


def test_our_registrar_over_tcp(tmp_path: Path) -> None:
    port = free_port()
    argv = ["--listen", f"sip:127.0.0.1:{port}", "--db", str(tmp_path / "r.db")]
    process = _registrar(argv, port)
    try:
        run = run_cases(f"tcp:127.0.0.1:{port}", "registrar", "transport-*,tls-*", FAST)
    finally:
        process.terminate()
        process.wait(timeout=10)
    got = verdicts(run)
    assert {k for k, v in got.items() if v == "pass"} == {
        "transport-udp-and-tcp",
        "transport-crlf-before-start-line",
        "transport-stream-content-length",
        "transport-connection-kept-open",
        "transport-large-request-stream",
        "transport-half-closed-response",
    }
    assert set(got.values()) == {"pass", "not-applicable"}
    # the ladder shows the TCP connection and the UDP exchange on the same port
    first = run.results[0]
    assert {e.transport for e in first.ladder.events} == {"tcp", "udp"}


@pytest.mark.parametrize("rfc3261_ciphers", [True, False])
def test_our_registrar_over_tls(tmp_path: Path, rfc3261_ciphers: bool) -> None:
    """With --tls-rfc3261-ciphers every TLS case passes (3DES: this OpenSSL cannot offer
    it); without, TLS_RSA_WITH_AES_128_CBC_SHA is refused and its case fails (§26.2.1)."""
    cert, key = make_certificate(tmp_path)
    port = free_port()
    argv = ["--listen", f"sips:127.0.0.1:{port}", "--db", str(tmp_path / "r.db")]
    argv += ["--cert", str(cert), "--key", str(key)]
    if rfc3261_ciphers:
        argv.append("--tls-rfc3261-ciphers")
    process = _registrar(argv, port)
    try:
        run = run_cases(f"sips:127.0.0.1:{port}", "registrar", "tls-*", FAST)
    finally:
        process.terminate()
        process.wait(timeout=10)
    got = verdicts(run)
    assert got.pop("tls-3des") in ("pass", "not-applicable")
    expected = "pass" if rfc3261_ciphers else "fail"
    assert got == {
        "tls-sips-uri": "pass",
        "tls-aes128-sha": expected,
        "tls-site-certificate": "pass",
    }


def test_a_retransmitted_challenge_warns(element) -> None:
    target = element("uas", "retransmit_challenge", realm="127.0.0.1")
    got = verdicts(run_cases(target, "uas", "auth-single-challenge", AUTH))
    assert got == {"auth-single-challenge": "warn"}


# --- a proxy's client transport (§18.1.1, §18.1.2) --------------------------------------------

PROXY_CLIENT = (
    "transport-proxy-via-sent-by,transport-proxy-response-paths,transport-proxy-foreign-sent-by,"
    "transport-proxy-large-request-tcp"
)


def test_the_proxy_client_transport_cases(element) -> None:
    """The test double (a stateless proxy over UDP only) passes the Via and response cases,
    and fails the large request that it forwards over UDP (§18.1.1)."""
    got = verdicts(run_cases(element("proxy"), "proxy", PROXY_CLIENT, FAST))
    assert got == {
        "transport-proxy-via-sent-by": "pass",
        "transport-proxy-response-paths": "pass",
        "transport-proxy-foreign-sent-by": "pass",
        "transport-proxy-large-request-tcp": "fail",
    }


def test_a_proxy_relaying_any_sent_by_fails_its_case(element) -> None:
    got = verdicts(run_cases(element("proxy", "no_via_check"), "proxy", PROXY_CLIENT, FAST))
    assert got["transport-proxy-foreign-sent-by"] == "fail"
    assert got["transport-proxy-response-paths"] == "pass"


# --- a UAC's framing of responses (§18.3) -----------------------------------------------------

UAC_FRAMING = "uac-transport-bytes-beyond-body,uac-transport-short-response"


def _faulty_uac(fault: str = "") -> Profile:
    command = "{python} -m conformance.tests.faulty_uac --target {target} --t1 0.1 --kind options"
    profile = Profile(name="faulty uac", t1=0.1)
    profile.triggers = {"options": command + (f" --fault {fault}" if fault else "")}
    return profile


@pytest.mark.parametrize(
    ("fault", "failing"),
    [
        ("", set()),
        ("take_short", {"uac-transport-short-response"}),
        ("strict_length", {"uac-transport-bytes-beyond-body"}),
    ],
)
def test_uac_framing_faults(fault: str, failing: set[str]) -> None:
    pattern = UAC_FRAMING + ",uac-transport-response-from-elsewhere"
    got = verdicts(run_cases("udp:127.0.0.1:5060", "uac", pattern, _faulty_uac(fault)))
    assert {k for k, v in got.items() if v == "fail"} == failing
    assert {v for k, v in got.items() if k not in failing} == {"pass"}
