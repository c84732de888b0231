"""The whole suite against sipref's own programs: ua, registrar, redirect and proxy (no outside
stack).

Each program is started as ``conformance.selftest`` starts it (same command line and profile,
a free loopback port, stopped by its PID), and every case of its role is run over UDP: the
full set, since each run stays well under a minute (about 25 s, 8 s and 30 s).  Every case
must pass, warn (a SHOULD not met) or be not applicable with a reason; a fail, an error or
an inconclusive verdict is a defect of the program or of the case.  The transport variants
(`conformance.selftest.VARIANTS`) run the transport-dependent cases over TCP and TLS, and the
registrar with Digest authentication runs every registrar case.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from conformance.model import REGISTRY, Verdict
from conformance.profile import load_profile
from conformance.runner import Runner, select_cases
from conformance.selftest import JOBS, PROFILES, _running, _stacks, variant
from conformance.target import parse_target
from conformance.tests.support import started
from rfc3261.asyncio.loopback import free_port

ACCEPTED = (Verdict.PASS, Verdict.WARN, Verdict.NOT_APPLICABLE)


@pytest.mark.parametrize(
    "stack", ["sipref-ua", "sipref-registrar", "sipref-redirect", "sipref-proxy"]
)
def test_every_case_reaches_an_accepted_verdict(stack: str) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="sipref-own-") as work:
        command, profile_name, role = _stacks(port, Path(work))[stack]
        assert command is not None
        profile = load_profile(PROFILES / profile_name)
        chosen = select_cases(REGISTRY.values(), role)
        with started(command, port):
            # side by side, as make conformance runs them (the verdicts are those of one job)
            run = Runner(parse_target(f"udp:127.0.0.1:{port}"), role, profile, jobs=JOBS)
            run = run.run(chosen)
    assert len(run.results) == len(chosen)
    bad = {
        r.case.id: f"{r.verdict.value}: {r.reason}"
        for r in run.results
        if r.verdict not in ACCEPTED
    }
    assert bad == {}
    unexplained = [
        r.case.id for r in run.results if r.verdict == Verdict.NOT_APPLICABLE and not r.reason
    ]
    assert unexplained == []
    assert run.counts()[Verdict.PASS.value] > len(chosen) // 2


@pytest.mark.parametrize(
    "stack",
    [
        "sipref-ua-tcp",
        "sipref-ua-tls",
        "sipref-registrar-tls",
        "sipref-registrar-auth",
        "sipref-proxy-edge",
        "sipref-presence",
        "sipref-presence-tls",
        "sipref-registrar-outbound",
    ],
)
def test_transport_variants_and_digest_reach_accepted_verdicts(stack: str) -> None:
    """The same over TCP and TLS (`selftest.VARIANTS`: the transport-dependent cases), and
    the registrar with Digest authentication (every registrar case)."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="sipref-own-") as work:
        command, profile_name, role, transport, globs = variant(stack, port, Path(work))
        assert command is not None
        profile = load_profile(PROFILES / profile_name)
        chosen = select_cases(REGISTRY.values(), role, globs)
        with _running(command, port, tcp=transport == "tls"):
            target = parse_target(f"{transport}:127.0.0.1:{port}")
            run = Runner(target, role, profile, jobs=JOBS).run(chosen)
    assert len(run.results) == len(chosen)
    bad = {
        r.case.id: f"{r.verdict.value}: {r.reason}"
        for r in run.results
        if r.verdict not in ACCEPTED
    }
    assert bad == {}
    passed = {r.case.id for r in run.results if r.verdict == Verdict.PASS}
    if transport != "udp":
        assert {"transport-crlf-before-start-line", "transport-stream-content-length"} <= passed
    if transport == "tls":
        assert {"tls-sips-uri", "tls-aes128-sha"} <= passed
    if stack == "sipref-presence-tls":
        assert {"esc-tls-sips", "presence-tls-sips"} <= passed
    if stack == "sipref-registrar-auth":
        assert {"auth-challenge-digest-qop", "auth-basic-refused", "auth-rfc2069-credentials"} <= (
            passed
        )
