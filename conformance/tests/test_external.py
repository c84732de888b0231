"""The runner against real targets: SIPp's built-in uas scenario and sipref's minimal UAS.

SIPp's uas is a scenario engine, so its verdicts are reported, not asserted: the test only
checks every case reaches a verdict (none is the runner's own error).  The minimal UAS must
pass the cases for what it claims to do (answer OPTIONS/INVITE/BYE/CANCEL, retransmit its 2xx
until the ACK, build responses per §8.2.6).  A subset runs by default; the whole first wave
runs under SIPREF_FUZZ=1 (and must finish in two minutes).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from conformance.model import Verdict
from conformance.profile import load_profile
from conformance.runner import RunResult
from conformance.tests.support import (
    ROOT,
    minimal_uas,
    need_external,
    run_cases,
    sipp_uas,
    started,
    verdicts,
)
from rfc3261.asyncio.loopback import free_port

pytestmark = pytest.mark.interop
FULL = pytest.mark.skipif(
    not os.environ.get("SIPREF_FUZZ"), reason="full runs only under SIPREF_FUZZ=1"
)
PROFILES = ROOT / "conformance" / "profiles"

#: For SIPp: what its scenario can answer (INVITE, ACK, BYE) and a few hostile messages.
SIPP_SUBSET = "uas-2xx-*,uas-to-tag-*,uas-via-echo,uas-bye-200,txn-invite-100-or-fast," + (
    "txn-invite-retransmission-after-2xx,torture-4475-wsinv,torture-4475-badinv01,"
    "torture-4475-bcast,torture-4475-unkscm"
)

SUBSET = ",".join(
    [
        "uas-*",
        "txn-invite-2xx-retransmitted",
        "txn-non-invite-final-on-retransmission",
        "torture-4475-wsinv",
        "torture-4475-intmeth",
        "torture-4475-badinv01",
        "torture-4475-unkscm",
        "torture-4475-bcast",
        "torture-5118-ipv6-good",
    ]
)

#: What the minimal UAS claims to do, as cases (rfc3261/asyncio/uas_minimal.py's docstring).
MINIMAL_MUST_PASS = [
    "uas-options-final",
    "uas-options-in-dialog",
    "uas-405-allow",
    "uas-to-tag-added",
    "uas-to-uri-echo",
    "uas-to-tag-kept",
    "uas-via-echo",
    "uas-from-echo",
    "uas-call-id-echo",
    "uas-cseq-echo",
    "uas-received-param",
    "uas-rport",
    "uas-rport-received",
    "uas-2xx-contact",
    "uas-481-bye-unknown-dialog",
    "uas-bye-200",
    "uas-2xx-answer",
    "uas-481-cancel-unknown",
    "uas-stray-ack-silent",
    "txn-invite-2xx-retransmitted",
    "txn-non-invite-final-on-retransmission",
    "torture-4475-wsinv",
    "torture-4475-intmeth",
    "torture-5118-ipv6-good",
]


def _no_errors(run: RunResult) -> None:
    bad = {r.case.id: r.reason for r in run.results if r.verdict == Verdict.ERROR}
    assert bad == {}


def test_sipp_uas_subset_reaches_verdicts() -> None:
    port = free_port()
    with started(sipp_uas(port), port):
        run = run_cases(
            f"udp:127.0.0.1:{port}", "uas", SIPP_SUBSET, load_profile(PROFILES / "sipp-uas.toml")
        )
    _no_errors(run)
    got = verdicts(run)
    assert len(got) >= 12
    # SIPp answers INVITE with 200 and absorbs stray responses: those verdicts are certain
    assert got["uas-2xx-contact"] == "pass" and got["torture-4475-bcast"] == "pass"


def test_minimal_uas_passes_what_it_implements() -> None:
    port = free_port()
    with started(minimal_uas(port), port):
        run = run_cases(
            f"udp:127.0.0.1:{port}", "uas", SUBSET, load_profile(PROFILES / "minimal-uas.toml")
        )
    _no_errors(run)
    got = verdicts(run)
    assert {c: got[c] for c in MINIMAL_MUST_PASS if got[c] != "pass"} == {}


def test_minimal_uas_over_tcp() -> None:
    port = free_port()
    with started(minimal_uas(port), port):
        run = run_cases(
            f"tcp:127.0.0.1:{port}",
            "uas",
            "uas-options-final,uas-via-echo,uas-response-same-connection,torture-4475-wsinv",
            load_profile(PROFILES / "minimal-uas.toml"),
        )
    assert set(verdicts(run).values()) == {"pass"}


def test_uac_cases_against_sipp_uac(tmp_path: Path) -> None:
    sipp = need_external("sipp")
    profile = tmp_path / "uac.toml"
    profile.write_text(
        'name = "SIPp uac"\n[uac]\noriginate = "'
        + sipp
        + " -sn uac {target} -m 1 -nostdin -timeout 10s -timeout_error -recv_timeout 5000"
        + ' -i 127.0.0.1"\n'
    )
    # the first wave's four UAC cases (the whole UAC wave: conformance/tests/test_uac.py)
    first = "uac-invite-retransmitted,uac-invite-mandatory-headers,uac-ack-non2xx,uac-ack-2xx"
    run = run_cases("udp:127.0.0.1:5060", "uac", first, load_profile(profile))
    _no_errors(run)
    # SIPp's uac sends a well-formed INVITE, retransmits it and ACKs what it gets
    assert verdicts(run) == dict.fromkeys(
        [
            "uac-invite-retransmitted",
            "uac-invite-mandatory-headers",
            "uac-ack-non2xx",
            "uac-ack-2xx",
        ],
        "pass",
    )


@FULL
@pytest.mark.slow
@pytest.mark.parametrize("which", ["sipp", "minimal"])
def test_full_wave_under_two_minutes(which: str) -> None:
    port = free_port()
    argv = sipp_uas(port) if which == "sipp" else minimal_uas(port)
    profile = load_profile(PROFILES / ("sipp-uas.toml" if which == "sipp" else "minimal-uas.toml"))
    began = time.monotonic()
    with started(argv, port):
        run = run_cases(f"udp:127.0.0.1:{port}", "uas", "*", profile)
    assert time.monotonic() - began < 120
    _no_errors(run)
    assert len(run.results) >= 100
