"""RFC 3262 and RFC 3311 against PJSIP, a stack we did not write, over UDP and TCP on loopback.

Our UA (``ReliableProvisional`` + ``UpdateExtension`` on ``CoreHost``, in a thread with its
own event loop) and a PJSIP peer (``extensions/tests/pjsua_peer.py``, its own process,
driven over stdin/stdout as pjsua_support.py describes) call each other:

- 100rel both ways: the callee sends a reliable 183 with SDP, the caller PRACKs it, and
  the 200 comes after the PRACK;
- UPDATE from each side, in the early dialog (after the PRACK) and in the confirmed one.

The tests skip when pjsua2 or the driver script is missing (SIPREF_REQUIRE_EXTERNAL=1
makes that a failure).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from extensions.rfc3262 import ProvisionalAcknowledged, ReliableProvisional
from extensions.rfc3311 import UpdateExtension, UpdateReceived, UpdateResult
from extensions.tests.pjsua_support import OnItsLoop, PcmuDescriber
from rfc3261.asyncio.dispatcher import CoreHost
from rfc3261.asyncio.loopback import free_port
from rfc3261.headers import HEADER_TYPES, unregister_header
from rfc3261.session import CallEnded, CallEstablished, CallProgress, IncomingCall
from rfc3261.tests.transport_support import missing_external
from rfc3261.ua_core import UAConfig, UserAgent

pytestmark = pytest.mark.interop

DRIVER = Path(__file__).resolve().parent / "pjsua_peer.py"
REPO = Path(__file__).resolve().parents[2]
WAIT = 8.0
# Where our SDP says our audio is: a loopback port nothing listens on (no media is sent).
MEDIA_PORT = 49170


def _need_pjsip() -> None:
    missing = None
    if not DRIVER.exists():
        missing = f"{DRIVER.name} (the PJSIP peer driver) is not in this tree"
    else:
        try:
            import pjsua2  # noqa: F401
        except ImportError:
            missing = "pjsua2 is not installed (PyPI pjsua2-python)"
    if missing is not None:
        missing_external(missing)


@pytest.fixture(autouse=True)
def rel_headers() -> Iterator[None]:
    yield
    for name in ("RSeq", "RAck"):
        if name.lower() in HEADER_TYPES:
            unregister_header(name)


# -- the PJSIP peer (its own process, JSON lines) -------------------------------------------


class Peer:
    """The driver script in a subprocess: commands to stdin, events from stdout."""

    def __init__(self, port: int, transport: str, rel: str, log: Path) -> None:
        self.port, self.log = port, log
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.process = subprocess.Popen(
            [sys.executable, str(DRIVER), "--port", str(port), "--transport", transport,
             "--user", "pj", "--100rel", rel, "--log", str(log)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()
        self.expect(lambda e: e.get("event") == "ready", "ready")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with contextlib.suppress(ValueError):
                self.events.put(json.loads(line))

    def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def expect(self, predicate: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        end = time.monotonic() + WAIT
        while time.monotonic() < end:
            try:
                event = self.events.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(event)
            if event.get("event") == "error":
                raise AssertionError(f"the peer: {event}")
            if predicate(event):
                return event
        raise AssertionError(f"the peer never sent {what}; saw {self.seen}")

    def state(self, state: str) -> dict[str, Any]:
        return self.expect(
            lambda e: e.get("event") == "call_state" and e.get("state") == state, state
        )

    def wire(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.send(cmd="quit")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


# -- our UA (CoreHost in a thread) ------------------------------------------------------------


class Ours(OnItsLoop):
    """Our UA on 127.0.0.1 (UDP and TCP), with 100rel and UPDATE, driven from the test."""

    def __init__(self, transport: str, *, require: bool) -> None:
        self.events: queue.Queue[Any] = queue.Queue()
        self.seen: list[Any] = []
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.rel = ReliableProvisional(require=require)
        self.updates = UpdateExtension()
        self.host, self.ua = self._in_loop(self._start(transport))

    async def _start(self, transport: str) -> tuple[CoreHost, UserAgent]:
        host = CoreHost(None, self.events.put)
        await host.listen(f"sip:127.0.0.1:{self.port}")
        point = host.local_point(transport.upper())
        config = UAConfig(
            aor=f"sip:alice@127.0.0.1:{self.port}",
            contact=str(point.uri("alice")),
            sent_by=point.sent_by,
            transport=point.transport,
        )
        ua = UserAgent(config, extensions=[self.rel, self.updates])
        ua.sessions.describer = PcmuDescriber(MEDIA_PORT)
        host.core = ua
        return host, ua

    def expect(self, kind: type, what: str = "", when: Callable[[Any], bool] = bool) -> Any:
        end = time.monotonic() + WAIT
        while time.monotonic() < end:
            try:
                event = self.events.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(event)
            if isinstance(event, kind) and when(event):
                return event
        raise AssertionError(f"our UA never saw {what or kind.__name__}; saw {self.seen}")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._in_loop(self.host.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def ends(tmp_path: Path) -> Iterator[Callable[..., tuple[Ours, Peer]]]:
    made: list[Any] = []

    def make(transport: str, *, ours_require: bool, peer_rel: str) -> tuple[Ours, Peer]:
        _need_pjsip()
        ours = Ours(transport, require=ours_require)
        made.append(ours)
        peer = Peer(free_port(), transport, peer_rel, tmp_path / "pjsip.log")
        made.append(peer)
        return ours, peer

    yield make
    for thing in reversed(made):
        thing.stop()


def first(log: str, start: str, cseq_method: str) -> int:
    """Where in PJSIP's log the first message starting ``start`` for ``cseq_method`` is."""
    for match in re.finditer(re.escape(start), log):
        cseq = re.search(r"CSeq: *\d+ *(\w+)", log[match.end() :])
        if cseq is not None and cseq.group(1) == cseq_method:
            return match.start()
    raise AssertionError(f"no {start!r} for {cseq_method} in PJSIP's log")


# -- the tests -------------------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% The UAS MUST send any non-100 provisional response reliably if the
##% initial request contained a Require header field with the option tag
##% 100rel.
##= https://www.rfc-editor.org/rfc/rfc3262#section-5
##= type=test
##% If the UAS had placed a session description in any reliable
##% provisional response that is unacknowledged when the INVITE is
##% accepted, the UAS MUST delay sending the 2xx until the provisional
##% response is acknowledged.
##= https://www.rfc-editor.org/rfc/rfc3311#section-5.1
##= type=test
##% It
##% MAY be sent for both early and confirmed dialogs, and MAY be sent by
##% either caller or callee.
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_pjsip_calls_us_with_100rel_and_both_sides_update(transport: str, ends: Any) -> None:
    ours, peer = ends(transport, ours_require=False, peer_rel="required")
    suffix = ";transport=tcp" if transport == "tcp" else ""
    peer.send(cmd="call", uri=f"sip:alice@127.0.0.1:{ours.port}{suffix}")
    incoming: IncomingCall = ours.expect(IncomingCall)
    assert "100rel" in incoming.request.header("Require")
    call = incoming.call
    offer = call.negotiation.remote or b""
    answer = ours.ua.sessions.describer.answer(call, offer) or b""
    ours.do(lambda ua, now: ua.sessions.ring(call, now, 183, body=answer))
    ours.expect(ProvisionalAcknowledged, "the PRACK for our 183")
    peer.state("EARLY")
    # UPDATE in the early dialog: PJSIP (the caller) first, then us (the callee).
    peer.send(cmd="update")
    assert ours.expect(UpdateReceived, "PJSIP's early UPDATE").dialog.state.value == "early"
    ours.do(lambda ua, now: ours.updates.update(call, now, ua.sessions.describer.offer(call)))
    assert ours.expect(UpdateResult).response.status == 200
    ours.do(lambda ua, now: ua.sessions.answer(call, now, body=call.local_body))
    ours.expect(CallEstablished)
    peer.state("CONFIRMED")
    # UPDATE in the confirmed dialog, from each side.
    peer.send(cmd="update")
    assert ours.expect(UpdateReceived, "PJSIP's UPDATE").dialog.state.value == "confirmed"
    ours.do(lambda ua, now: ours.updates.update(call, now, ua.sessions.describer.offer(call)))
    assert ours.expect(UpdateResult).response.status == 200
    peer.send(cmd="hangup")
    ours.expect(CallEnded)
    peer.state("DISCONNECTED")
    wire = peer.wire()
    # Our 183 was reliable, PJSIP PRACKed it, and our 200 to the INVITE came after that.
    assert re.search(r"RSeq: \d+", wire)
    assert first(wire, "PRACK sip:", "PRACK") < first(wire, "SIP/2.0 200", "INVITE")


##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% Assuming the response is to be transmitted reliably, the UAC MUST
##% create a new request with method PRACK.
##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
##= type=test
##% If the session description has changed, the UAS MUST adjust the
##% session parameters accordingly and generate an answer in the 2xx
##% response.
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_we_call_pjsip_with_100rel_and_both_sides_update(transport: str, ends: Any) -> None:
    ours, peer = ends(transport, ours_require=True, peer_rel="supported")
    suffix = ";transport=tcp" if transport == "tcp" else ""
    target = f"<sip:pj@127.0.0.1:{peer.port}{suffix}>"  # the URI parameter inside <>
    call, _ = ours.do(
        lambda ua, now: ua.sessions.invite(target, now, body=ua.sessions.describer.offer(None))
    )
    incoming = peer.expect(lambda e: e.get("event") == "incoming_call", "the INVITE")
    assert "100rel" in incoming["headers"].get("Require", "")
    peer.send(cmd="answer", code=183)
    ours.expect(CallProgress, "the 183", lambda e: e.response.status == 183)
    # Our PRACK reaches PJSIP and is answered; then the early dialog is ready for UPDATE.
    deadline = time.monotonic() + WAIT
    while "200" not in re.findall(
        r"SIP/2.0 (\d+)[^\n]*\n(?:[^\n]+\n)*?CSeq: *\d+ PRACK", peer.wire()
    ):
        assert time.monotonic() < deadline, "PJSIP never answered our PRACK"
        time.sleep(0.05)
    # UPDATE in the early dialog: us (the caller) first, then PJSIP (the callee).
    ours.do(lambda ua, now: ours.updates.update(call, now, ua.sessions.describer.offer(call)))
    assert ours.expect(UpdateResult).response.status == 200
    peer.send(cmd="update")
    assert ours.expect(UpdateReceived, "PJSIP's early UPDATE").dialog.state.value == "early"
    peer.send(cmd="answer", code=200)
    ours.expect(CallEstablished)
    peer.state("CONFIRMED")
    peer.send(cmd="update")
    assert ours.expect(UpdateReceived, "PJSIP's UPDATE").dialog.state.value == "confirmed"
    ours.do(lambda ua, now: ours.updates.update(call, now, ua.sessions.describer.offer(call)))
    assert ours.expect(UpdateResult).response.status == 200
    ours.do(lambda ua, now: ua.sessions.hangup(call, now))
    peer.state("DISCONNECTED")
    wire = peer.wire()
    assert re.search(r"RSeq: \d+", wire)  # PJSIP's 183 was reliable
    assert first(wire, "PRACK sip:", "PRACK") < first(wire, "SIP/2.0 200", "INVITE")
