"""The runner's side of SIP over WebSocket (RFC 7118): a client handshake and message framing
over a blocking socket, for `conformance.wire.Link` (``ws:host:port`` targets).

The WebSocket protocol itself (RFC 6455: handshake, masking, control frames) is the sans-I/O
:class:`websockets.client.ClientProtocol`; this module only drives it over a socket and keeps
what the RFC 7118 cases judge: the server's handshake answer, and for each WebSocket message
received whether it came as a text or a binary message (§4.2) and whether it was fragmented.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

__all__ = ["SIP", "WsClient", "WsHandshakeError", "WsMessage"]

#: the subprotocol RFC 7118 §4.1 registers
SIP = "sip"


class WsHandshakeError(OSError):
    """The server did not upgrade the connection (its HTTP response is ``response``)."""

    def __init__(self, message: str, response: Response | None = None) -> None:
        super().__init__(message)
        self.response = response


@dataclass
class WsMessage:
    """One WebSocket message received: its payload and how it came."""

    data: bytes
    text: bool
    fragments: int = 1


@dataclass
class WsClient:
    """A WebSocket client connection over ``sock`` (already connected)."""

    sock: socket.socket
    host: str
    port: int
    subprotocols: tuple[str, ...] = (SIP,)
    headers: tuple[tuple[str, str], ...] = ()
    protocol: ClientProtocol = field(init=False)
    response: Response | None = field(init=False, default=None)
    closed: bool = field(init=False, default=False)
    close_code: int | None = field(init=False, default=None)
    _parts: list[bytes] = field(init=False, default_factory=list)
    _text: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.protocol = ClientProtocol(
            parse_uri(f"ws://{host}:{self.port}/"),
            subprotocols=[Subprotocol(p) for p in self.subprotocols] or None,
            max_size=2**20,
        )

    def handshake(self, timeout: float) -> Response:
        """Send the opening handshake; the server's response (raises `WsHandshakeError`
        unless it is a 101 the library accepts: the subprotocol among those offered)."""
        request = self.protocol.connect()
        for name, value in self.headers:
            request.headers[name] = value
        self.protocol.send_request(request)
        self._flush()
        end = time.monotonic() + timeout
        while self.response is None:
            left = end - time.monotonic()
            if left <= 0:
                raise WsHandshakeError("no answer to the WebSocket handshake")
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise WsHandshakeError("connection closed during the WebSocket handshake")
            self.protocol.receive_data(data)
            for event in self.protocol.events_received():
                if isinstance(event, Response):
                    self.response = event
        if self.protocol.handshake_exc is not None:
            raise WsHandshakeError(
                f"handshake refused: {self.protocol.handshake_exc}", self.response
            )
        return self.response

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server chose (its Sec-WebSocket-Protocol), if any."""
        if self.response is None:
            return None
        return self.response.headers.get("Sec-WebSocket-Protocol")

    def _flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.sock.sendall(chunk)

    def send(self, data: bytes, binary: bool | None = None) -> None:
        """One SIP message in one WebSocket message: text when it is UTF-8 (and ``binary``
        is not True), else binary (RFC 7118 §4.2)."""
        if binary is None:
            try:
                data.decode("utf-8")
                binary = False
            except UnicodeDecodeError:
                binary = True
        if binary:
            self.protocol.send_binary(data)
        else:
            self.protocol.send_text(data)
        self._flush()

    def send_fragmented(self, data: bytes, pieces: int = 2) -> None:
        """One message in ``pieces`` fragments (a continuation frame after the first)."""
        size = max(1, -(-len(data) // pieces))
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        for i, chunk in enumerate(chunks):
            fin = i == len(chunks) - 1
            if i == 0:
                self.protocol.send_text(chunk, fin=fin)
            else:
                self.protocol.send_continuation(chunk, fin=fin)
        self._flush()

    def feed(self, data: bytes) -> list[WsMessage]:
        """Bytes read off the socket (b"" at its end): the whole messages they complete
        (pings answered)."""
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
            self.closed = True
        out = []
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                continue
            if event.opcode is Opcode.CLOSE:
                self.closed = True
                self.close_code = getattr(self.protocol.close_rcvd, "code", None)
                continue
            if event.opcode in (Opcode.TEXT, Opcode.BINARY):
                self._text = event.opcode is Opcode.TEXT
                self._parts = []
            elif event.opcode is not Opcode.CONT:
                continue  # ping/pong: the library answers pings itself
            self._parts.append(event.data)
            if event.fin:
                out.append(WsMessage(b"".join(self._parts), self._text, len(self._parts)))
                self._parts = []
        self._flush()
        return out

    def close(self) -> None:
        """Start the closing handshake (code 1000)."""
        if not self.closed:
            self.protocol.send_close(1000)
            self._flush()
