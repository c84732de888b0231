"""Sockets to the target and the ladder of every message exchanged (evidence per case).

A `Link` is one client socket (UDP) or connection (TCP, TLS) opened for one case.  Every
send and receive is recorded in the case's `Ladder` with its exact bytes, a timestamp and
the addresses.  Receiving is bounded: by the caller's timeout, by the case's deadline and by
a budget of messages, so a flooding, silent or garbage-spewing target cannot hang the runner.
"""

from __future__ import annotations

import base64
import contextlib
import selectors
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.frames import Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from conformance.sipmsg import Message, StreamBuffer, parse_message
from conformance.target import Target
from conformance.wslink import SIP, WsClient, WsMessage

__all__ = ["CaseTimeout", "Event", "Ladder", "Link", "Listener", "TlsListener", "WsListener"]

#: Datagrams or framed messages read per `Link.expect` call before giving up (flood guard).
RECEIVE_BUDGET = 2000


class CaseTimeout(Exception):
    """The case's own time limit ran out."""


@dataclass
class Event:
    """One message sent or received, or a transport event (connect, reset, close)."""

    t: float
    direction: str  # "sent" | "received" | "event"
    transport: str
    src: tuple[str, int]
    dst: tuple[str, int]
    data: bytes = b""
    note: str = ""
    wall: float = 0.0

    def summary(self) -> str:
        if self.direction == "event":
            return self.note
        msg = parse_message(self.data)
        first = msg.start_line if msg else f"(unreadable, {len(self.data)} bytes)"
        return first if not self.note else f"{first}  [{self.note}]"

    def to_json(self) -> dict[str, object]:
        return {
            "t": round(self.t, 6),
            "time": self.wall,
            "direction": self.direction,
            "transport": self.transport,
            "src": f"{self.src[0]}:{self.src[1]}",
            "dst": f"{self.dst[0]}:{self.dst[1]}",
            "summary": self.summary(),
            "note": self.note,
            "text": self.data.decode("utf-8", "backslashreplace"),
            "base64": base64.b64encode(self.data).decode("ascii"),
        }


@dataclass
class Ladder:
    """The ordered events of one case; ``t`` is seconds since the case started."""

    start: float = field(default_factory=time.monotonic)
    wall_start: float = field(default_factory=time.time)
    events: list[Event] = field(default_factory=list)

    def add(self, event: Event) -> Event:
        event.t = time.monotonic() - self.start
        event.wall = self.wall_start + event.t
        self.events.append(event)
        return event


class Link:
    """A client socket to the target, recording into a ladder."""

    def __init__(
        self,
        target: Target,
        ladder: Ladder,
        deadline: float,
        context: ssl.SSLContext | None = None,
        subprotocols: tuple[str, ...] = (SIP,),
        ws_headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """``context``: the TLS client context to use (the TLS cases' own ciphers or
        certificate checks); by default any certificate and the library's ciphers.
        ``subprotocols`` and ``ws_headers``: what a ``ws`` link offers in its WebSocket
        handshake (RFC 7118 §4.1); a refused handshake raises `WsHandshakeError`."""
        self.target = target
        self.ladder = ladder
        self.deadline = deadline
        self.transport = target.transport
        self.pending: list[Message] = []
        self.closed = False
        self.garbage = 0
        self._framer = StreamBuffer()
        self.ws: WsClient | None = None
        #: every WebSocket message received, as it came (RFC 7118 §4.2: text or binary)
        self.ws_received: list[WsMessage] = []
        family = target.family
        if target.transport == "udp":
            self.sock = socket.socket(family, socket.SOCK_DGRAM)
            self.sock.bind(
                (target.address[0], 0) if family == socket.AF_INET6 else ("127.0.0.1", 0)
            )
            self.sock.connect(target.address)
        else:
            raw = socket.socket(family, socket.SOCK_STREAM)
            raw.settimeout(max(0.1, min(3.0, deadline - time.monotonic())))
            try:
                raw.connect(target.address)
                if target.transport == "tls":
                    if context is None:
                        context = ssl.create_default_context()
                        context.check_hostname = False
                        context.verify_mode = ssl.CERT_NONE
                    hostname = target.host.strip("[]") if context.check_hostname else None
                    raw = context.wrap_socket(raw, server_hostname=hostname)
                if target.transport == "ws":
                    host, port = target.address
                    self.ws = WsClient(raw, host, port, subprotocols, ws_headers)
                    self.ws.handshake(max(0.1, min(3.0, deadline - time.monotonic())))
            except OSError:
                raw.close()
                raise
            self.sock = raw
        self.local: tuple[str, int] = self.sock.getsockname()[:2]
        self.remote: tuple[str, int] = target.address
        if target.transport != "udp":
            self._event(f"connected ({target.transport})")
        if self.ws is not None:
            self._event(f"WebSocket handshake answered 101, subprotocol {self.ws.subprotocol}")

    @property
    def sent_by(self) -> str:
        host = self.local[0]
        return f"[{host}]:{self.local[1]}" if ":" in host else f"{host}:{self.local[1]}"

    def _event(self, note: str) -> None:
        self.ladder.add(Event(0, "event", self.transport, self.local, self.remote, b"", note))

    def send(self, data: bytes, note: str = "") -> None:
        """Send one message; a reset connection is recorded, not raised."""
        self.ladder.add(Event(0, "sent", self.transport, self.local, self.remote, data, note))
        if self.closed:
            return
        try:
            if self.transport == "udp":
                self.sock.send(data)
            elif self.ws is not None:
                self.ws.send(data)
            else:
                self.sock.sendall(data)
        except OSError as exc:
            self._event(f"send failed: {exc}")
            if self.transport != "udp":
                self.closed = True

    def ws_send(
        self, data: bytes, note: str = "", binary: bool | None = None, fragments: int = 1
    ) -> None:
        """Send one message over a ``ws`` link as a text or binary WebSocket message (by
        default: text when it is UTF-8, RFC 7118 §4.2), or as ``fragments`` text frames."""
        if self.ws is None:
            raise ValueError("not a WebSocket link")
        kind = "fragmented" if fragments > 1 else "binary" if binary else ""
        self.ladder.add(
            Event(0, "sent", self.transport, self.local, self.remote, data, note or kind)
        )
        if self.closed:
            return
        try:
            if fragments > 1:
                self.ws.send_fragmented(data, fragments)
            else:
                self.ws.send(data, binary)
        except OSError as exc:
            self._event(f"send failed: {exc}")
            self.closed = True

    def _read(self, timeout: float) -> list[Message]:
        if self.closed:
            time.sleep(max(0.0, min(timeout, 0.05)))
            return []
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except (TimeoutError, BlockingIOError, ssl.SSLWantReadError):
            return []
        except OSError as exc:
            # ICMP port unreachable on UDP, a reset on TCP
            self._event(f"receive failed: {exc}")
            if self.transport != "udp":
                self.closed = True
            else:
                time.sleep(min(timeout, 0.05))
            return []
        if self.transport == "udp":
            return self._accept([data])
        if self.ws is not None:
            # RFC 7118 §5: one SIP message per WebSocket message, no Content-Length framing
            messages = self.ws.feed(data)
            self.ws_received += messages
            if self.ws.closed:
                self._event(f"WebSocket closed by the target (code {self.ws.close_code})")
                self.closed = True
            return self._accept([m.data for m in messages])
        if not data:
            self._event("connection closed by the target")
            self.closed = True
            return []
        frames = self._framer.feed(data)
        out = self._accept(frames)
        if self._framer.broken:
            self._event("stream cannot be framed (no Content-Length or oversized)")
            self.ladder.add(
                Event(0, "received", self.transport, self.remote, self.local, self._framer.buffer)
            )
            self.garbage += 1
            self.closed = True
        return out

    def _accept(self, frames: list[bytes]) -> list[Message]:
        out = []
        for frame in frames:
            msg = parse_message(frame)
            note = "" if msg else "garbage"
            self.ladder.add(
                Event(0, "received", self.transport, self.remote, self.local, frame, note)
            )
            if msg is None:
                self.garbage += 1
            else:
                out.append(msg)
        return out

    def expect(
        self,
        match: Callable[[Message], bool] = lambda m: True,
        timeout: float = 2.0,
        retransmit: Callable[[], None] | None = None,
        interval: float = 0.5,
        cap: float = 4.0,
    ) -> Message | None:
        """The next message satisfying ``match`` within ``timeout`` seconds, or None.

        Messages that do not match stay queued for later calls.  With ``retransmit``,
        it is called at ``interval`` doubling up to ``cap`` (Timer A/E style) meanwhile.
        Raises `CaseTimeout` when the case's deadline passes first.
        """
        for i, msg in enumerate(self.pending):
            if match(msg):
                return self.pending.pop(i)
        now = time.monotonic()
        end = now + timeout
        next_tx = now + interval
        budget = RECEIVE_BUDGET
        while budget > 0:
            now = time.monotonic()
            if now >= self.deadline:
                raise CaseTimeout()
            if now >= end:
                return None
            if retransmit is not None and now >= next_tx:
                retransmit()
                interval = min(interval * 2, cap)
                next_tx = now + interval
            wait = min(end, self.deadline, next_tx if retransmit else end) - now
            found = None
            # one read off a stream can frame several messages (a 100 and the final response
            # in one segment): those after the one returned wait in `pending`, not dropped
            for msg in self._read(wait):
                budget -= 1
                if found is None and match(msg):
                    found = msg
                elif len(self.pending) < 200:
                    self.pending.append(msg)
            if found is not None:
                return found
        self._event("receive budget exhausted (flood)")
        return None

    def collect(self, match: Callable[[Message], bool], duration: float) -> list[Message]:
        """Every message satisfying ``match`` during the next ``duration`` seconds."""
        found = [m for m in self.pending if match(m)]
        self.pending = [m for m in self.pending if not match(m)]
        end = time.monotonic() + duration
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return found
            msg = self.expect(match, timeout=left)
            if msg is None:
                return found
            found.append(msg)

    def close(self) -> None:
        if self.ws is not None and not self.closed:
            with contextlib.suppress(OSError):
                self.ws.close()
        with contextlib.suppress(OSError):
            self.sock.close()


class Listener:
    """A UDP socket on loopback the runner listens on: a downstream UAS behind a proxy, or
    the server a UAC under test calls.  Records into the case's ladder like `Link`."""

    def __init__(
        self, ladder: Ladder, deadline: float, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.ladder = ladder
        self.deadline = deadline
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        self.local: tuple[str, int] = self.sock.getsockname()[:2]
        self.pending: list[tuple[Message, tuple[str, int]]] = []

    @property
    def hostport(self) -> str:
        return f"{self.local[0]}:{self.local[1]}"

    def send(self, data: bytes, to: tuple[str, int], note: str = "") -> None:
        self.ladder.add(Event(0, "sent", "udp", self.local, to, data, note))
        with contextlib.suppress(OSError):
            self.sock.sendto(data, to)

    def expect(
        self, match: Callable[[Message], bool] = lambda m: True, timeout: float = 2.0
    ) -> tuple[Message, tuple[str, int]] | None:
        """The next message satisfying ``match`` and where it came from, or None."""
        for i, (msg, _addr) in enumerate(self.pending):
            if match(msg):
                return self.pending.pop(i)
        end = time.monotonic() + timeout
        for _ in range(RECEIVE_BUDGET):
            now = time.monotonic()
            if now >= self.deadline:
                raise CaseTimeout()
            if now >= end:
                return None
            self.sock.settimeout(max(0.001, min(end, self.deadline) - now))
            try:
                data, addr = self.sock.recvfrom(65536)
            except (TimeoutError, BlockingIOError):
                return None
            except OSError:
                continue
            addr = addr[:2]
            msg = parse_message(data)
            self.ladder.add(
                Event(0, "received", "udp", addr, self.local, data, "" if msg else "garbage")
            )
            if msg is None:
                continue
            if match(msg):
                return msg, addr
            if len(self.pending) < 200:
                self.pending.append((msg, addr))
        return None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class _StreamServer:
    """A listening TCP socket on loopback whose accepted connections the runner reads
    (`TlsListener`, `WsListener`): like `Listener`, ``expect`` returns a message and where it
    came from (the connection's far end); a subclass accepts (``_accept``) and reads one
    connection (``_receive``) in its own way."""

    #: the transport named on the ladder
    TRANSPORT = "tcp"
    #: the accepted connections by far end (what each holds is the subclass's)
    connections: dict[tuple[str, int], Any]

    def __init__(self, ladder: Ladder, deadline: float, host: str = "127.0.0.1") -> None:
        self.ladder = ladder
        self.deadline = deadline
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.sock.bind((host, 0))
            self.sock.listen(8)
        except OSError:
            self.sock.close()
            raise
        self.sock.setblocking(False)
        self.local: tuple[str, int] = self.sock.getsockname()[:2]
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.sock, selectors.EVENT_READ, None)
        self.pending: list[tuple[Message, tuple[str, int]]] = []

    @property
    def hostport(self) -> str:
        return f"{self.local[0]}:{self.local[1]}"

    def _event(self, peer: tuple[str, int], note: str) -> None:
        self.ladder.add(Event(0, "event", self.TRANSPORT, self.local, peer, b"", note))

    def _accept(self) -> None:
        raise NotImplementedError

    def _receive(self, addr: tuple[str, int]) -> list[Message]:
        raise NotImplementedError

    def _connected(self, addr: tuple[str, int]) -> bool:
        """The connection from ``addr`` is still open (not closed earlier in this select)."""
        return addr in self.connections

    def expect(
        self, match: Callable[[Message], bool] = lambda m: True, timeout: float = 2.0
    ) -> tuple[Message, tuple[str, int]] | None:
        """The next message satisfying ``match`` and the connection it came on, or None."""
        for i, (msg, _addr) in enumerate(self.pending):
            if match(msg):
                return self.pending.pop(i)
        end = time.monotonic() + timeout
        for _ in range(RECEIVE_BUDGET):
            now = time.monotonic()
            if now >= self.deadline:
                raise CaseTimeout()
            if now >= end:
                return None
            for key, _ in self.selector.select(max(0.001, min(end, self.deadline) - now)):
                if key.data is None:
                    self._accept()
                    continue
                if not self._connected(key.data):
                    continue
                for msg in self._receive(key.data):
                    if match(msg):
                        return msg, key.data
                    if len(self.pending) < 200:
                        self.pending.append((msg, key.data))
        return None


class TlsListener(_StreamServer):
    """A TLS server socket on loopback the runner listens on with the profile's certificate
    (a downstream UAS a proxy must reach over TLS, RFC 3261 §16.6).  Like `Listener`:
    ``expect`` returns a message and where it came from (the connection's far end), ``send``
    answers over that connection; connections are accepted as they come."""

    TRANSPORT = "tls"

    def __init__(
        self, ladder: Ladder, deadline: float, cert: str, key: str, host: str = "127.0.0.1"
    ) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        super().__init__(ladder, deadline, host)
        self.connections: dict[tuple[str, int], tuple[ssl.SSLSocket, StreamBuffer]] = {}

    def send(self, data: bytes, to: tuple[str, int], note: str = "") -> None:
        self.ladder.add(Event(0, "sent", "tls", self.local, to, data, note))
        conn = self.connections.get(to)
        if conn is None:
            self._event(to, "no connection from there to answer on")
            return
        with contextlib.suppress(OSError):
            conn[0].sendall(data)

    def _accept(self) -> None:
        try:
            raw, addr = self.sock.accept()
        except (BlockingIOError, OSError):
            return
        addr = addr[:2]
        raw.setblocking(True)
        raw.settimeout(max(0.1, min(3.0, self.deadline - time.monotonic())))
        try:
            conn = self.context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            raw.close()
            self._event(addr, f"TLS handshake failed: {exc}")
            return
        self.connections[addr] = (conn, StreamBuffer())
        self.selector.register(conn, selectors.EVENT_READ, addr)
        self._event(addr, "TLS connection accepted")

    def _receive(self, addr: tuple[str, int]) -> list[Message]:
        conn, framer = self.connections[addr]
        conn.settimeout(0.5)
        try:
            data = conn.recv(65536)
        except (TimeoutError, ssl.SSLWantReadError):
            return []
        except OSError:
            data = b""
        if not data:
            self.selector.unregister(conn)
            conn.close()
            del self.connections[addr]
            self._event(addr, "connection closed by the target")
            return []
        out = []
        for frame in framer.feed(data):
            msg = parse_message(frame)
            self.ladder.add(
                Event(0, "received", "tls", addr, self.local, frame, "" if msg else "garbage")
            )
            if msg is not None:
                out.append(msg)
        return out

    def close(self) -> None:
        for conn, _ in self.connections.values():
            with contextlib.suppress(OSError):
                conn.close()
        self.selector.close()
        with contextlib.suppress(OSError):
            self.sock.close()


@dataclass
class _ServerSide:
    """One connection a `WsListener` accepted."""

    sock: socket.socket
    protocol: ServerProtocol
    request: Request | None = None
    parts: list[bytes] = field(default_factory=list)
    text: bool = False


class WsListener(_StreamServer):
    """A SIP WebSocket Server on loopback for the UAC role (RFC 7118): accepts connections,
    answers the handshake (``sip`` chosen when offered), and is used like
    `conformance.wire.Listener` — ``expect`` gives a message and the connection it came
    on, ``send`` answers on it (a text message when UTF-8, else binary, or as ``binary``
    says).  Every handshake request and every WebSocket message received is kept for the
    cases to judge (`handshakes`, `received`)."""

    TRANSPORT = "ws"

    def __init__(self, ladder: Ladder, deadline: float, host: str = "127.0.0.1") -> None:
        super().__init__(ladder, deadline, host)
        self.connections: dict[tuple[str, int], _ServerSide] = {}
        self.handshakes: list[Request] = []
        self.received: list[WsMessage] = []
        #: the next `send` goes as a binary message (True), a text one (False), or by content
        self.binary: bool | None = None

    def _flush(self, side: _ServerSide) -> None:
        for chunk in side.protocol.data_to_send():
            if chunk:
                with contextlib.suppress(OSError):
                    side.sock.sendall(chunk)

    def send(self, data: bytes, to: tuple[str, int], note: str = "") -> None:
        side = self.connections.get(to)
        binary = self.binary
        if binary is None:
            try:
                data.decode("utf-8")
                binary = False
            except UnicodeDecodeError:
                binary = True
        kind = "binary message" if binary else "text message"
        self.ladder.add(Event(0, "sent", "ws", self.local, to, data, f"{note} ({kind})"))
        if side is None or side.protocol.state is not State.OPEN:
            self._event(to, "no open WebSocket connection from there to answer on")
            return
        if binary:
            side.protocol.send_binary(data)
        else:
            side.protocol.send_text(data)
        self._flush(side)

    def _accept(self) -> None:
        try:
            raw, addr = self.sock.accept()
        except OSError:
            return
        addr = addr[:2]
        raw.setblocking(True)
        protocol = ServerProtocol(subprotocols=[Subprotocol(SIP)], max_size=2**20)
        self.connections[addr] = _ServerSide(raw, protocol)
        self.selector.register(raw, selectors.EVENT_READ, addr)
        self._event(addr, "TCP connection accepted")

    def _drop(self, addr: tuple[str, int], note: str) -> None:
        side = self.connections.pop(addr)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(side.sock)
        side.sock.close()
        self._event(addr, note)

    def _receive(self, addr: tuple[str, int]) -> list[Message]:
        side = self.connections[addr]
        side.sock.settimeout(0.5)
        try:
            data = side.sock.recv(65536)
        except TimeoutError:
            return []
        except OSError:
            data = b""
        if not data:
            self._drop(addr, "connection closed by the target")
            return []
        side.protocol.receive_data(data)
        out: list[Message] = []
        for event in side.protocol.events_received():
            if isinstance(event, Request):
                side.request = event
                self.handshakes.append(event)
                response = side.protocol.accept(event)
                side.protocol.send_response(response)
                offered = event.headers.get("Sec-WebSocket-Protocol") or "none"
                self._event(
                    addr, f"WebSocket handshake (offered {offered}): {response.status_code}"
                )
                continue
            if event.opcode is Opcode.CLOSE:
                self._event(addr, "WebSocket close received")
                continue
            if event.opcode in (Opcode.TEXT, Opcode.BINARY):
                side.text = event.opcode is Opcode.TEXT
                side.parts = []
            elif event.opcode is not Opcode.CONT:
                continue
            side.parts.append(event.data)
            if not event.fin:
                continue
            message = WsMessage(b"".join(side.parts), side.text, len(side.parts))
            side.parts = []
            self.received.append(message)
            msg = parse_message(message.data)
            kind = "text message" if message.text else "binary message"
            self.ladder.add(
                Event(0, "received", "ws", addr, self.local, message.data, "" if msg else kind)
            )
            if msg is not None:
                out.append(msg)
        self._flush(side)
        return out

    def close(self) -> None:
        for side in list(self.connections.values()):
            with contextlib.suppress(OSError):
                side.sock.close()
        self.connections.clear()
        self.selector.close()
        with contextlib.suppress(OSError):
            self.sock.close()
