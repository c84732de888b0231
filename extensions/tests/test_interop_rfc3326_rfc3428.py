"""Reason (RFC 3326) and MESSAGE (RFC 3428) against PJSIP, a stack we did not write.

PJSIP runs as ``pjsua_peer.py`` (driven through :class:`PjsuaPeer`), our UA as
``python -m rfc3261 ua --extension ...`` and our proxy as ``python -m rfc3261 proxy``,
each in its own process on a free loopback port, stopped by PID.  Checked:

- MESSAGE from our UA to PJSIP and from PJSIP to our UA, directly and through our proxy;
- a Reason header field in our CANCEL, as PJSIP logs it, and in PJSIP's CANCEL, as our
  UA prints it.

Without the pjsua2 wheel the tests skip, unless SIPREF_REQUIRE_EXTERNAL=1.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from extensions.rfc3326 import ReasonExtension
from rfc3261.asyncio.dispatcher import CoreHost
from rfc3261.asyncio.loopback import free_port
from rfc3261.headers import HEADER_TYPES, unregister_header
from rfc3261.session import CallFailed, CallProgress
from rfc3261.tests.test_interop_ua import REPO, UaProcess, run_ua, stop, wait_bound
from rfc3261.ua_core import UAConfig, UserAgent

from .pjsua_support import PjsuaPeer, require_pjsua

pytestmark = pytest.mark.interop


@pytest.fixture(autouse=True)
def reason_header() -> Iterator[None]:
    yield
    if "reason" in HEADER_TYPES:  # registered by ReasonExtension in this process
        unregister_header("Reason")


def output_after_stop(ua: UaProcess) -> str:
    """Stop the UA (SIGTERM, by PID) and return everything it printed."""
    ua.stop()
    assert ua.process.stdout is not None
    return "\n".join([*ua.lines, ua.process.stdout.read()])


@pytest.fixture
def pjsua(tmp_path: Path) -> Iterator[PjsuaPeer]:
    require_pjsua()
    peer = PjsuaPeer(tmp_path / "pjsua.log", user="pj")
    try:
        yield peer
    finally:
        peer.stop()


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[int]:
    """Our stateful proxy on 127.0.0.1 and 127.0.0.2, registrar for 127.0.0.2; its port.

    Its domain is a second loopback address: requests for 127.0.0.1 (PJSIP, our UA) are
    forwarded by Request-URI, those for 127.0.0.2 go to the location service.
    """
    port = free_port()
    command = [
        sys.executable,
        *("-m", "rfc3261", "proxy", "--listen", f"sip:127.0.0.1:{port}"),
        *("--listen", f"sip:127.0.0.2:{port}", "--domain", "127.0.0.2"),
        *("--db", str(tmp_path / "proxy.db")),
        *("--log-file", str(tmp_path / "proxy.log"), "-v"),
    ]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    try:
        wait_bound(port, "udp")
        yield port
    finally:
        stop(process)  # type: ignore[arg-type]


def test_our_ua_sends_a_message_to_pjsua(pjsua: PjsuaPeer, tmp_path: Path) -> None:
    status, out = run_ua(
        tmp_path / "ua.log",
        *("--listen", "sip:127.0.0.1:0", "--extension", "message"),
        *("--message", pjsua.uri, "--text", "hello from sipref", "--timeout", "20"),
    )
    assert status == 0, out
    assert re.search(r"MESSAGE \S+: 200 OK: delivered", out), out
    event = pjsua.wait("message")
    assert event["text"] == "hello from sipref"
    assert event["content_type"].startswith("text/plain")


def test_pjsua_sends_a_message_to_our_ua(pjsua: PjsuaPeer, tmp_path: Path) -> None:
    port = free_port()
    ua = UaProcess(
        tmp_path / "ua.log",
        *("--listen", f"sip:127.0.0.1:{port}", "--answer", "200", "--extension", "message"),
        *("--timeout", "20"),
    )
    try:
        wait_bound(port, "udp")
        pjsua.send("message", uri=f"sip:bob@127.0.0.1:{port}", text="hello from PJSIP")
        assert pjsua.wait("message_status")["code"] == 200
    finally:
        out = output_after_stop(ua)
    assert re.search(r"^message from sip:pj@127\.0\.0\.1\S*: hello from PJSIP$", out, re.M), out
    # our 200 has neither body nor Contact (RFC 3428 §7), as PJSIP received it
    log = pjsua.log_text()
    answer = log[log.index("SIP/2.0 200 OK") :].split("--end msg--")[0]
    assert "CSeq:" in answer and "MESSAGE" in answer
    assert "Contact:" not in answer and re.search(r"Content-Length:\s*0\s", answer), answer


def test_messages_both_ways_through_our_proxy(
    pjsua: PjsuaPeer, proxy: int, tmp_path: Path
) -> None:
    # our UA -> proxy -> PJSIP (forwarded by its Request-URI)
    status, out = run_ua(
        tmp_path / "ua1.log",
        *("--listen", "sip:127.0.0.1:0", "--extension", "message"),
        *("--outbound-proxy", f"sip:127.0.0.1:{proxy}", "--timeout", "20"),
        *("--message", pjsua.uri, "--text", "via the proxy"),
    )
    assert status == 0, out
    assert pjsua.wait("message")["text"] == "via the proxy"
    # PJSIP -> proxy -> our UA (registered at the proxy's registrar)
    port = free_port()
    ua = UaProcess(
        tmp_path / "ua2.log",
        *("--listen", f"sip:127.0.0.1:{port}", "--answer", "200", "--extension", "message"),
        *("--register", f"sip:bob@127.0.0.2:{proxy}", "--registrar", f"sip:127.0.0.2:{proxy}"),
        *("--timeout", "20"),
    )
    try:
        ua.wait_line(f"registered sip:bob@127.0.0.2:{proxy}")
        pjsua.send("message", uri=f"sip:bob@127.0.0.2:{proxy}", text="back via the proxy")
        assert pjsua.wait("message_status")["code"] == 200
    finally:
        out = output_after_stop(ua)
    assert re.search(r"^message from \S+: back via the proxy$", out, re.M), out
    # the MESSAGE PJSIP received came through the proxy: two Vias, the proxy's on top
    log = pjsua.log_text()
    received = log[log.index("MESSAGE sip:pj@") :].split("--end msg--")[0]
    assert re.search(rf"Via: SIP/2.0/UDP 127\.0\.0\.[12]:{proxy};", received), received


# PJSIP refuses (488) an offer whose every stream is at port 0, which is what the ua
# program offers (it has no media); this caller offers an inactive PCMU stream instead.
PCMU_OFFER = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=inactive\r\n"
)


async def call_ring_and_cancel(target: str, reason: str) -> list[object]:
    """Our UA core on sockets with the Reason extension: call, wait for 180, CANCEL."""
    events: asyncio.Queue[object] = asyncio.Queue()
    host = CoreHost(None, events.put_nowait)
    await host.listen("sip:127.0.0.1:0", with_tcp=False)
    point = host.local_point("UDP")
    reasons = ReasonExtension()
    ua = UserAgent(
        UAConfig(aor="sip:alice@127.0.0.1", contact=point.uri("alice"), sent_by=point.sent_by),
        extensions=[reasons],
    )
    host.core = ua
    seen: list[object] = []

    async def until(kind: type, status: int) -> None:
        while True:
            event = await asyncio.wait_for(events.get(), 15)
            seen.append(event)
            if isinstance(event, kind) and event.response.status == status:  # type: ignore[attr-defined]
                return

    try:
        call, effects = ua.sessions.invite(f"<{target}>", host.clock(), body=PCMU_OFFER)
        host.run(effects)
        await until(CallProgress, 180)
        reasons.give(call.call_id, reason)
        host.run(ua.sessions.hangup(call, host.clock()))
        await until(CallFailed, 487)
    finally:
        await host.close()
    return seen


def test_our_cancel_carries_a_reason_pjsua_reads(pjsua: PjsuaPeer) -> None:
    async def scenario() -> list[object]:
        task = asyncio.ensure_future(
            call_ring_and_cancel(pjsua.uri, 'SIP;cause=200;text="Call completed elsewhere"')
        )
        await asyncio.to_thread(pjsua.wait, "incoming_call", 15)
        pjsua.send("answer", code=180)
        return await asyncio.wait_for(task, 30)

    seen = asyncio.run(scenario())
    assert any(isinstance(e, CallFailed) for e in seen)
    assert pjsua.call_state("DISCONNECTED")["code"] == 487
    log = pjsua.log_text()
    cancel = log[log.index("CANCEL sip:") :].split("--end msg--")[0]
    assert 'Reason: SIP;cause=200;text="Call completed elsewhere"' in cancel, cancel


def test_pjsuas_cancel_reason_is_printed_by_our_ua(pjsua: PjsuaPeer, tmp_path: Path) -> None:
    port = free_port()
    ua = UaProcess(
        tmp_path / "ua.log",
        *("--listen", f"sip:127.0.0.1:{port}", "--answer", "200", "--ring-user", "ring"),
        *("--extension", "reason", "--timeout", "20"),
    )
    try:
        wait_bound(port, "udp")
        pjsua.send("call", uri=f"sip:ring@127.0.0.1:{port}")
        pjsua.call_state("EARLY")
        pjsua.send("hangup", reason='Q.850;cause=31;text="Normal, unspecified"')
        assert pjsua.call_state("DISCONNECTED")["code"] == 487
    finally:
        out = output_after_stop(ua)
    assert re.search(
        r"^incoming call \S+ ended \(cancelled\); Reason: Q.850 cause 31 \(Normal, unspecified\)$",
        out,
        re.M,
    ), out
