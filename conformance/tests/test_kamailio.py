"""The registrar and proxy cases against Kamailio (registrar + stateful proxy on loopback).

Kamailio's verdicts depend on its configuration (conformance/tests/kamailio/kamailio.cfg.in);
the test asserts every case reaches a verdict, and the ones the configuration surely meets.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.model import Verdict
from conformance.runner import RunResult
from conformance.tests.support import free_port, need_external, run_cases, started, verdicts

pytestmark = pytest.mark.interop
CONFIG = Path(__file__).resolve().parent / "kamailio" / "kamailio.cfg.in"


def _modules(kamailio: str) -> str:
    for folder in Path("/usr/lib").glob("*/kamailio/modules"):
        return str(folder) + "/"
    pytest.skip(f"no Kamailio module folder found next to {kamailio}")
    return ""


@pytest.fixture(scope="module")
def kamailio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    binary = need_external("kamailio")
    if Path("/usr/sbin/kamailio").exists():
        binary = "/usr/sbin/kamailio"
    port = free_port()
    run = tmp_path_factory.mktemp("kamailio")
    config = run / "kamailio.cfg"
    text = CONFIG.read_text().replace("@PORT@", str(port)).replace("@MODULES@", _modules(binary))
    config.write_text(text)
    check = subprocess.run([binary, "-c", "-f", str(config)], capture_output=True, timeout=30)
    assert check.returncode == 0, check.stderr.decode()[-2000:]
    with started([binary, "-f", str(config), "-DD", "-E", "-Y", str(run)], port):
        yield port


def _no_errors(run: RunResult) -> None:
    bad = {r.case.id: r.reason for r in run.results if r.verdict == Verdict.ERROR}
    assert bad == {}


def test_registrar_cases(kamailio: int) -> None:
    run = run_cases(f"udp:127.0.0.1:{kamailio}", "registrar", "reg-*,torture-4475-cparam0*")
    _no_errors(run)
    got = verdicts(run)
    for case in ("reg-register-200-binding", "reg-contact-expires-param", "reg-query",
                 "reg-remove-all", "reg-star-nonzero-400", "torture-4475-cparam01"):  # fmt: skip
        assert got[case] == "pass", (case, got[case])


def test_proxy_cases(kamailio: int) -> None:
    run = run_cases(f"udp:127.0.0.1:{kamailio}", "proxy", "proxy-*,torture-4475-zeromf")
    _no_errors(run)
    got = verdicts(run)
    for case in ("proxy-max-forwards-decremented", "proxy-via-inserted", "proxy-via-branch-cookie",
                 "proxy-body-unchanged", "proxy-483-max-forwards-zero", "proxy-420-proxy-require",
                 "proxy-route-self-removed", "proxy-response-via-removed"):  # fmt: skip
        assert got[case] == "pass", (case, got[case])
