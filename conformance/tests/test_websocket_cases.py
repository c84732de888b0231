"""The RFC 7118 cases (``ws-*``) against sipref's ua, registrar and proxy listening on
SIP over WebSocket (`conformance.selftest.VARIANTS` ``*-ws``): every case passes or is not
applicable with its reason, and the runner's WebSocket link saw the ``sip`` subprotocol."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from conformance.model import REGISTRY, Verdict
from conformance.profile import load_profile
from conformance.runner import Runner, select_cases
from conformance.selftest import JOBS, PROFILES, _running, variant
from conformance.target import parse_target
from rfc3261.asyncio.loopback import free_port

ACCEPTED = (Verdict.PASS, Verdict.WARN, Verdict.NOT_APPLICABLE)


@pytest.mark.parametrize("stack", ["sipref-ua-ws", "sipref-registrar-ws", "sipref-proxy-ws"])
def test_websocket_cases_reach_accepted_verdicts(stack: str) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="sipref-ws-") as work:
        command, profile_name, role, transport, globs = variant(stack, port, Path(work))
        assert command is not None and transport == "ws"
        profile = load_profile(PROFILES / profile_name)
        chosen = select_cases(REGISTRY.values(), role, globs)
        with _running(command, port, tcp=True):
            target = parse_target(f"ws:127.0.0.1:{port}")
            run = Runner(target, role, profile, jobs=JOBS).run(chosen)
    assert len(chosen) >= 8
    bad = {
        r.case.id: f"{r.verdict.value}: {r.reason}"
        for r in run.results
        if r.verdict not in ACCEPTED or (r.verdict == Verdict.NOT_APPLICABLE and not r.reason)
    }
    assert bad == {}
    verdicts = {r.case.id: r.verdict for r in run.results}
    # the cases judging the handshake, framing and Via really ran over the WebSocket link
    for case_id in ("ws-subprotocol-sip", "ws-one-sip-message-each", "ws-via-received"):
        assert verdicts[case_id] == Verdict.PASS
