"""The runner against Kamailio (Debian package ``kamailio``) as registrar, proxy and redirect
server.

Kamailio is another stack: its verdicts are reported, not asserted.  What the test asserts
is that every case of a representative subset reaches a verdict (none is the runner's own
error, none times out for want of an answer), so the suite can judge a real server in both
roles.  The configuration is conformance/tests/kamailio/kamailio.cfg.in (``dns=no``,
``rev_dns=no``, loopback only), the same one ``make conformance`` uses.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.model import Verdict
from conformance.profile import load_profile
from conformance.selftest import JOBS, _kamailio
from conformance.tests.support import ROOT, need_external, run_cases, started
from rfc3261.asyncio.loopback import free_port

pytestmark = pytest.mark.interop
PROFILE = ROOT / "conformance" / "profiles" / "kamailio.toml"

SUBSETS = {
    "registrar": "reg-*,uas-options-final,torture-4475-wsinv,torture-4475-badinv01,"
    "torture-4475-unkscm,torture-4475-cparam01",
    "proxy": "proxy-*,torture-4475-wsinv,torture-4475-zeromf,torture-4475-badinv01",
    # kamailio -A REDIRECT: the configuration's redirect server
    "redirect": "redirect-*,server-*,txn-invite-non2xx-*,uas-options-final",
}


@pytest.mark.parametrize("role", sorted(SUBSETS))
def test_kamailio_reaches_a_verdict_on_every_case(role: str, tmp_path: Path) -> None:
    need_external("kamailio")
    port = free_port()
    argv = _kamailio(port, tmp_path, *(["REDIRECT"] if role == "redirect" else []))
    assert argv is not None and len(argv) > 1, "kamailio modules folder not found"
    with started(argv, port):
        # side by side, as make conformance runs Kamailio
        target = f"udp:127.0.0.1:{port}"
        run = run_cases(target, role, SUBSETS[role], load_profile(PROFILE), jobs=JOBS)
    assert len(run.results) >= 8
    unjudged = {
        r.case.id: r.verdict.value
        for r in run.results
        if r.verdict in (Verdict.ERROR, Verdict.INCONCLUSIVE)
    }
    assert unjudged == {}
    # Max-Forwards 0 must end at a proxy with 483 (RFC 3261 §16.3): Kamailio's maxfwd does.
    if role == "proxy":
        assert {r.case.id: r.verdict.value for r in run.results}["torture-4475-zeromf"] == "pass"
