"""The runner over TLS: sipref's UA listening on ``sips:`` with a certificate made here.

The runner's TLS path (``sips:`` targets, ``--transport tls``) must carry every case as
over UDP and TCP: the UAS-core cases that do not depend on the transport pass, and the
ladder records the TLS connection.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance.model import Verdict
from conformance.tests.support import ROOT, run_cases
from rfc3261.asyncio.loopback import free_port
from rfc3261.tests.transport_support import make_certificate

CASES = (
    "uas-options-*,uas-405-*,uas-to-tag-added,uas-to-uri-echo,uas-via-echo,uas-from-echo,"
    "uas-call-id-echo,uas-cseq-echo,uas-2xx-contact,uas-bye-200,uas-481-bye-unknown-dialog,"
    "uas-482-merged"
)


def _wait_tcp(port: int, process: subprocess.Popen[bytes], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "the UA exited early"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on TCP {port}")


def test_uas_cases_pass_over_tls_against_our_ua(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    port = free_port()
    argv = [
        sys.executable, "-m", "rfc3261", "ua", "--listen", f"sips:127.0.0.1:{port}",
        "--cert", str(cert), "--key", str(key), "--answer", "200", "--timeout", "120", "-q",
    ]  # fmt: skip
    process = subprocess.Popen(
        argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_tcp(port, process)
        run = run_cases(f"sips:127.0.0.1:{port}", "uas", CASES)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert len(run.results) >= 12
    verdicts = {r.case.id: r.verdict for r in run.results}
    # Over TLS the first OPTIONS transaction is over once answered (Timer J is zero), so
    # there is nothing for a second copy to merge with: not a failure of the target.
    not_passed = {cid: v.value for cid, v in verdicts.items() if v is not Verdict.PASS}
    assert not_passed == {"uas-482-merged": "not-applicable"}
    first = run.results[0]
    assert any(event.transport == "tls" for event in first.ladder.events)


@pytest.mark.parametrize("stack", ["sipref-proxy-tls", "sipref-proxy-local-route"])
def test_proxy_variants_pass_their_section_16_6_cases(stack: str) -> None:
    """``sipref-proxy-tls`` (`conformance.selftest.VARIANTS`): our proxy on sips: and sip:,
    trusting the run's certificate, which the runner's TLS downstream serves (RFC 3261
    §16.6 SIPS, §16.7 step 9); ``sipref-proxy-local-route``: with a local route set to a
    socket of the runner's (§16.6 step 5)."""
    import tempfile

    from conformance.model import REGISTRY
    from conformance.profile import load_profile
    from conformance.runner import Runner, select_cases
    from conformance.selftest import PROFILES, _running, for_command, tls_downstream, variant
    from conformance.target import parse_target

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="sipref-proxy-variant-") as work:
        command, profile_name, role, transport, globs = variant(stack, port, Path(work))
        assert command is not None
        profile = tls_downstream(load_profile(PROFILES / profile_name), transport, Path(work))
        profile = for_command(profile, command)
        chosen = select_cases(REGISTRY.values(), role, globs)
        with _running(command, port, tcp=transport == "tls"):
            target = parse_target(f"{transport}:127.0.0.1:{port}")
            run = Runner(target, role, profile).run(chosen)
    verdicts = {r.case.id: (r.verdict, r.reason) for r in run.results}
    assert len(verdicts) >= (3 if transport == "tls" else 1)
    assert {k: v for k, v in verdicts.items() if v[0] != Verdict.PASS} == {}
