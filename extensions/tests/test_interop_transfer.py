"""Call transfer (RFC 3515 REFER, RFC 3891 Replaces) between our UA and PJSIP.

PJSIP runs as ``pjsua_peer.py`` (driven through :class:`PjsuaPeer`), our UAs as
``python -m rfc3261 ua`` processes, each on a free loopback port, stopped by PID.
Checked, blind: PJSIP transfers its call with our UA (``call.xfer``; our UA, the
transferee, calls the target and NOTIFYs PJSIP), and our UA transfers its call with
PJSIP (``--transfer-to``; PJSIP follows our REFER and NOTIFYs us); attended: our UA
transfers PJSIP to a second call (``--attended``, Replaces in the Refer-To), and PJSIP
transfers our UA (``xferReplaces``: its Refer-To also asks for ``Require: replaces``,
which our UA follows only with an extension supporting Replaces, RFC 3891).

Without the pjsua2 wheel the tests skip, unless SIPREF_REQUIRE_EXTERNAL=1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rfc3261.asyncio.loopback import free_port
from rfc3261.programs.plugins import available_ua_extensions
from rfc3261.tests.test_interop_ua import UaProcess, wait_bound

from .pjsua_support import PjsuaPeer, require_pjsua

pytestmark = pytest.mark.interop


@pytest.fixture
def pjsua(tmp_path: Path) -> Iterator[PjsuaPeer]:
    require_pjsua()
    peer = PjsuaPeer(tmp_path / "pjsua.log", user="pj")
    try:
        yield peer
    finally:
        peer.stop()


def answering_ua(log: Path, *extra: str) -> tuple[UaProcess, int]:
    """Our UA answering one call (and REFERs, with ``--extension refer``); its port."""
    port = free_port()
    ua = UaProcess(
        log,
        *("--listen", f"sip:127.0.0.1:{port}", "--answer", "200", "--count", "1"),
        *("--timeout", "30", *extra),
    )
    wait_bound(port, "udp")
    return ua, port


def output_after_stop(ua: UaProcess) -> str:
    """Stop the UA (SIGTERM, by PID) and return everything it printed."""
    ua.stop()
    assert ua.process.stdout is not None
    return "\n".join([*ua.lines, ua.process.stdout.read()])


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
##= type=test
##% Each NOTIFY MUST contain an Event header field with a value of refer
##% and possibly an id parameter (see Section 2.4.6).
def test_pjsua_transfers_its_call_with_our_ua(pjsua: PjsuaPeer, tmp_path: Path) -> None:
    carol, carol_port = answering_ua(tmp_path / "carol.log")
    bob, bob_port = answering_ua(tmp_path / "bob.log", "--extension", "refer")
    target = f"sip:carol@127.0.0.1:{carol_port}"
    try:
        pjsua.send("call", uri=f"sip:bob@127.0.0.1:{bob_port}")
        pjsua.call_state("CONFIRMED", timeout=15)
        pjsua.send("xfer", uri=target)
        final = pjsua.wait("transfer_status", 20, lambda e: e["final"])
        assert final["code"] == 200, final
        pjsua.send("hangup")
        pjsua.call_state("DISCONNECTED", timeout=10)
    finally:
        bob_out = output_after_stop(bob)
        carol_out = output_after_stop(carol)
    assert f"transfer to {target} (accepted)" in bob_out, bob_out
    assert re.search(r"incoming call \S+ from sip:bob@127\.0\.0\.1\S*: answered 200", carol_out), (
        carol_out
    )
    # PJSIP heard our NOTIFYs: the immediate 100 and the final 200 (as its log shows).
    log = pjsua.log_text()
    assert "SIP/2.0 100 Trying" in log and "Event: refer" in log


def test_our_ua_transfers_its_call_with_pjsua(pjsua: PjsuaPeer, tmp_path: Path) -> None:
    carol, carol_port = answering_ua(tmp_path / "carol.log")
    target = f"sip:carol@127.0.0.1:{carol_port}"
    alice = UaProcess(
        tmp_path / "alice.log",
        *("--listen", "sip:127.0.0.1:0", "--call", pjsua.uri, "--transfer-to", target),
        *("--timeout", "30"),
    )
    try:
        pjsua.wait("incoming_call", 15)
        pjsua.send("answer", code=200)
        request = pjsua.wait("transfer_request", 15)
        assert target in request["uri"]
        status, out = alice.finish(40)
    finally:
        alice.stop()
        carol_out = output_after_stop(carol)
    assert status == 0, out
    assert "transfer: SIP/2.0 200 OK" in out and "transfer: done; hung up" in out, out
    assert re.search(r"incoming call \S+ from sip:pj@127\.0\.0\.1\S*: answered 200", carol_out), (
        carol_out
    )


def test_our_ua_transfers_pjsua_attended(pjsua: PjsuaPeer, tmp_path: Path) -> None:
    carol, carol_port = answering_ua(tmp_path / "carol.log")
    target = f"sip:carol@127.0.0.1:{carol_port}"
    alice = UaProcess(
        tmp_path / "alice.log",
        *("--listen", "sip:127.0.0.1:0", "--call", pjsua.uri, "--attended", target),
        *("--timeout", "30"),
    )
    try:
        pjsua.wait("incoming_call", 15)
        pjsua.send("answer", code=200)
        request = pjsua.wait("transfer_request", 15)
        assert "Replaces=" in request["uri"]
        status, out = alice.finish(40)
    finally:
        alice.stop()
        output_after_stop(carol)
    assert status == 0, out
    assert "?Replaces=" in out and "transfer: SIP/2.0 200 OK" in out, out
    # PJSIP's INVITE to the target carried the Replaces header field.
    log = pjsua.log_text()
    invite = [m for m in log.split("--end msg--") if "INVITE sip:carol@" in m]
    assert invite and "Replaces:" in invite[-1], invite


def replaces_extension() -> str | None:
    """The name of an installed extension supporting the ``replaces`` option tag (RFC 3891)."""
    found = available_ua_extensions()
    return next((n for n, e in found.items() if "replaces" in e.option_tags), None)


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% An implementation MUST NOT send a request requiring an extension that it does
##% not support.
def test_pjsua_transfers_our_ua_attended(pjsua: PjsuaPeer, tmp_path: Path) -> None:
    """PJSIP's Refer-To asks for ``Require: replaces`` (RFC 3891 §6.1): our transferee
    follows it only with an extension that supports Replaces; without one it refuses the
    REFER (RFC 3261 §19.1.5: no request requiring an extension it does not support)."""
    replaces = replaces_extension()
    names = "refer" + (f",{replaces}" if replaces else "")
    carol_extensions = ("--extension", replaces) if replaces else ()
    carol, carol_port = answering_ua(tmp_path / "carol.log", "-v", *carol_extensions)
    bob, bob_port = answering_ua(tmp_path / "bob.log", "--extension", names, "-v")
    try:
        pjsua.send("call", uri=f"sip:bob@127.0.0.1:{bob_port}")
        pjsua.call_state("CONFIRMED", timeout=15)
        pjsua.send("call", uri=f"sip:carol@127.0.0.1:{carol_port}")
        pjsua.call_state("CONFIRMED", timeout=15)
        pjsua.send("xfer_replaces")
        final = pjsua.wait("transfer_status", 20, lambda e: e["final"])
    finally:
        bob_out = output_after_stop(bob)
        output_after_stop(carol)
    wire = (tmp_path / "bob.log").read_text()
    assert "Require=replaces&Replaces=" in wire
    if replaces is None:
        assert final["code"] == 400 and "forms no request" in final["reason"], final
        assert "INVITE sip:carol@" not in wire
        return
    assert final["code"] == 200, final
    assert "?Require=replaces&Replaces=" in bob_out and "(accepted)" in bob_out, bob_out
    # Our transferee's INVITE to Carol carried PJSIP's Replaces (formed from the URI).
    sent = [m for m in wire.split("rfc3261.wire -> ") if "INVITE sip:carol@" in m[:80]]
    assert sent and "Replaces:" in sent[0], wire[-3000:]
