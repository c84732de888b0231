"""Drive ``pjsua_peer.py`` (a PJSIP user agent) from a test: start, command, read events, stop.

The peer runs in its own process on a free loopback port; :class:`PjsuaPeer` writes its
commands (one JSON object a line) and reads its events with a bound on every wait.
``stop`` hangs up every call (the wheel holds at most four), asks the peer to quit and
checks it did; the process is killed by its PID if it does not.  Without the
``pjsua2-python`` wheel the tests that need it skip with the reason, unless
SIPREF_REQUIRE_EXTERNAL=1 (then they fail).

Commands (stdin)::

    {"cmd": "call", "uri": "sip:bob@127.0.0.1:5070", "headers": {"X": "y"}}
    {"cmd": "answer", "code": 180|183|200}
    {"cmd": "update"}
    {"cmd": "reinvite"}                      (with PJSUA_CALL_UNHOLD: resumes a hold)
    {"cmd": "hold"}
    {"cmd": "hangup", "code": 603, "reason": "SIP;cause=480;text=\\"x\\""}
    {"cmd": "xfer", "uri": "sip:carol@127.0.0.1:5072"}   (REFER the current call's peer)
    {"cmd": "xfer_replaces"}   (REFER the first call's peer to the second's, with Replaces)
    {"cmd": "message", "uri": "...", "text": "hello"}
    {"cmd": "subscribe", "uri": "sip:alice@127.0.0.1:5070"}   (a presence buddy)
    {"cmd": "publish", "online": true}   (needs publish_via=URI)
    {"cmd": "quit"}

Events (stdout): ``ready``, ``incoming_call``, ``call_state`` (EARLY, CONFIRMED,
DISCONNECTED with the last code and reason), ``media`` (per audio stream: status, dir,
codec, tx_pt, rx_pt, remote), ``message``, ``message_status``, ``buddy_state`` (uri,
status online/offline/unknown, text, sub_state), ``transfer_request`` (a REFER came: uri),
``transfer_status`` (a NOTIFY of our REFER: code, reason, final), ``replace_request`` and
``replaced`` (an INVITE with Replaces), ``error``.
What went on the wire is in the log file (:meth:`PjsuaPeer.log_text`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rfc3261.asyncio.loopback import free_port
from rfc3261.offer_answer import SessionDescriber
from rfc3261.tests.transport_support import missing_external

PEER = Path(__file__).resolve().parent / "pjsua_peer.py"
REPO = Path(__file__).resolve().parents[2]

Event = dict[str, Any]


def require_pjsua() -> None:
    """Skip (or fail under SIPREF_REQUIRE_EXTERNAL=1) when the pjsua2 wheel is missing."""
    if importlib.util.find_spec("pjsua2") is None:
        missing_external("pjsua2 not importable (PyPI package pjsua2-python, the test extra)")


class PjsuaPeer:
    """One ``pjsua_peer.py`` process on 127.0.0.1, with its events and its log."""

    def __init__(
        self,
        log: Path,
        *,
        port: int | None = None,
        transport: str = "udp",
        user: str = "pjsua",
        rel100: str = "off",
        options: tuple[str, ...] = (),
        publish_via: str | None = None,
        codecs: str | None = None,
    ) -> None:
        """``options``: more command-line flags of pjsua_peer.py (``--timer always``...)."""
        require_pjsua()
        self.port = port or free_port()
        self.transport = transport
        self.user = user
        self.log = log
        self.events: list[Event] = []
        self._queue: queue.Queue[Event | None] = queue.Queue()
        command = [
            sys.executable,
            str(PEER),
            *("--port", str(self.port), "--transport", transport, "--user", user),
            *("--100rel", rel100, "--log", str(log)),
            *options,
            *(("--publish-via", publish_via) if publish_via else ()),
            *(("--codecs", codecs) if codecs else ()),
        ]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self.wait("ready", timeout=15)
        except BaseException:
            self.kill()
            raise

    @property
    def uri(self) -> str:
        """The peer's own SIP URI."""
        suffix = ";transport=tcp" if self.transport == "tcp" else ""
        return f"sip:{self.user}@127.0.0.1:{self.port}{suffix}"

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # not an event (the peer writes only events; be lenient)
            self._queue.put(event)
        self._queue.put(None)

    # -- commands and events -------------------------------------------------------------

    def send(self, cmd: str, **fields: Any) -> None:
        """One command to the peer."""
        if self.process.stdin is None or self.process.poll() is not None:
            raise RuntimeError(f"the pjsua peer is gone (exit {self.process.returncode})")
        self.process.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
        self.process.stdin.flush()

    def wait(
        self, event: str, timeout: float = 10.0, where: Callable[[Event], bool] | None = None
    ) -> Event:
        """The next event named ``event`` (and matching ``where``); AssertionError on timeout.

        Events already read are searched first, and an event returned is consumed.
        """
        for seen in self.events:
            if seen["event"] == event and (where is None or where(seen)):
                self.events.remove(seen)
                return seen
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no {event!r} event from pjsua in {timeout} s: {self.events}"
                )
            try:
                got = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if got is None:
                raise AssertionError(f"pjsua exited before {event!r}: {self.events}")
            if got["event"] == event and (where is None or where(got)):
                return got
            self.events.append(got)

    def call_state(self, state: str, timeout: float = 10.0) -> Event:
        """The next ``call_state`` event with ``state``."""
        return self.wait("call_state", timeout, lambda e: e["state"] == state)

    def log_text(self) -> str:
        """PJSIP's log so far (every message it sent and received, level 5)."""
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    # -- stopping ------------------------------------------------------------------------

    def stop(self, timeout: float = 10.0) -> None:
        """Quit (the peer hangs up every call first), or kill by PID; check it ended."""
        left = 0
        if self.process.poll() is None:
            try:
                self.send("quit")
                left = self.wait("stopped", timeout).get("calls", 0)
                self.process.wait(timeout=timeout)
            except (AssertionError, RuntimeError, OSError, subprocess.TimeoutExpired):
                self.kill()
        self.kill()
        if left:
            raise AssertionError(f"pjsua still had {left} call(s) up when it quit")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def __enter__(self) -> PjsuaPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PcmuDescriber(SessionDescriber):
    """Real SDP for PJSIP (which ends a call without an active stream): PCMU audio at a
    loopback port nobody reads (no media is sent), a new version in every description
    (RFC 4566 §5.2)."""

    def __init__(self, media_port: int) -> None:
        self.media_port = media_port
        self.version = 1

    def offer(self, call: Any) -> bytes:
        self.version += 1
        return pcmu_sdp(self.version, self.media_port)

    def answer(self, call: Any, offer: bytes) -> bytes | None:
        self.version += 1
        return pcmu_sdp(self.version, self.media_port)


def pcmu_sdp(version: int, media_port: int) -> bytes:
    """One PCMU audio stream at ``media_port`` of 127.0.0.1, o= version ``version``."""
    lines = [
        "v=0", f"o=sipref 1 {version} IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
        f"m=audio {media_port} RTP/AVP 0", "a=rtpmap:0 PCMU/8000",
    ]  # fmt: skip
    return ("\r\n".join(lines) + "\r\n").encode()


#: How long a test waits for its own UA's loop to carry out an action.
WAIT = 8.0


class OnItsLoop:
    """For a test's own UA run by a :class:`~rfc3261.asyncio.dispatcher.CoreHost` on an event
    loop in another thread: run a coroutine there, or an action on the UA with its effects
    carried out.  The subclass sets ``loop``, ``host`` and ``ua``."""

    loop: asyncio.AbstractEventLoop
    host: Any
    ua: Any

    def _in_loop(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(WAIT)

    def do(self, action: Callable[[Any, float], Any]) -> Any:
        """Run ``action(ua, now)`` on the UA's loop; carry out the effects it returns."""

        async def run() -> Any:
            result = action(self.ua, self.host.clock())
            effects = result[1] if isinstance(result, tuple) else result
            self.host.run(effects)
            return result

        return self._in_loop(run())
