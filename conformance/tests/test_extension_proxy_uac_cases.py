"""The extension RFCs' proxy- and UAC-role cases (RFC 6026, 5393, 3581, 3327, 5626)
against sipref's own programs: the proxy with ``--path --path-require`` (so the Path cases
apply) or ``--edge`` (the outbound edge cases), and the ua as UAC.  Each must pass, or be not
applicable with a reason (a MAY the program does not do).

(Without ``--path`` they also run in test_own_programs, with Kamailio in test_kamailio; the
faulty UAC's faults for RFC 6026 are in test_uac.)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from conformance.model import REGISTRY
from conformance.profile import load_profile
from conformance.runner import Runner, select_cases
from conformance.selftest import PROFILES, _stacks
from conformance.target import parse_target
from conformance.tests.support import started, verdicts
from rfc3261.asyncio.loopback import free_port

PROXY_CASES = "proxy-6026-*,proxy-5393-*,proxy-3581-*,rfc3327-*"
UAC_CASES = "uac-6026-*,uac-3581-*,uac-5393-*"
#: the UAC cases the ua is not concerned by, and why
UAC_NOT_APPLICABLE = {
    "uac-3581-rport-valueless": "no rport in the Via (a MAY",
    "uac-5393-max-breadth-60": "no Max-Breadth on the INVITE (a MAY",
}


@pytest.mark.parametrize(
    ("options", "pattern"),
    # --path-require: the proxy also requires Path at the registrar (rfc3327-path-required)
    [(["--path", "--path-require"], PROXY_CASES), (["--edge"], "rfc5626-*")],
)
def test_proxy_passes_the_extension_cases(options: list[str], pattern: str) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="sipref-ext-") as work:
        command, profile_name, role = _stacks(port, Path(work))["sipref-proxy"]
        assert command is not None
        profile = load_profile(PROFILES / profile_name)
        chosen = select_cases(REGISTRY.values(), role, pattern)
        assert len(chosen) >= 2
        with started([*command, *options], port):
            run = Runner(parse_target(f"udp:127.0.0.1:{port}"), role, profile).run(chosen)
    got = verdicts(run)
    assert set(got.values()) == {"pass"}, {
        r.case.id: f"{r.verdict.value}: {r.reason or r.expected + ' / ' + r.observed}"
        for r in run.results
        if r.verdict.value != "pass"
    }


def test_ua_as_uac_passes_the_extension_cases() -> None:
    profile = load_profile(PROFILES / "sipref-uac.toml")
    chosen = select_cases(REGISTRY.values(), "uac", UAC_CASES)
    assert len(chosen) >= 6
    run = Runner(parse_target("udp:127.0.0.1:5060"), "uac", profile).run(chosen)
    odd = {
        r.case.id: f"{r.verdict.value}: {r.reason}"
        for r in run.results
        if r.verdict.value != "pass"
        and not (
            r.verdict.value == "not-applicable"
            and UAC_NOT_APPLICABLE.get(r.case.id, "\0") in r.reason
        )
    }
    assert odd == {}
