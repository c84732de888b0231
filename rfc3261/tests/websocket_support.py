"""Test helpers for SIP over WebSocket (RFC 7118): the proxy program and raw peers.

:class:`ProgramProcess` starts ``python -m rfc3261 PROGRAM`` on free ports and
reads them from its ``listening on`` line; :class:`WsPeer` is a SIP WebSocket
client written with the :mod:`websockets` asyncio client (an independent
implementation of RFC 6455), sending and reading raw SIP text.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from rfc3261 import Request, Response, parse

from .test_programs_servers import ServerProcess

REPO = Path(__file__).resolve().parents[2]


# The servers' test process helper, with the WS and WSS listening points read as well.
ProgramProcess = ServerProcess


def start_proxy(tmp_path: Path, *extra: str, wss: bool = False) -> ProgramProcess:
    """The proxy for domain 127.0.0.1 on UDP (+TCP) and WS ports (and WSS)."""
    args = [
        "--listen",
        "sip:127.0.0.1:0",
        "--listen",
        "sip:127.0.0.1:0;transport=ws",
        "--domain",
        "127.0.0.1",
        "--db",
        str(tmp_path / "location.db"),
        "-v",
        *extra,
    ]
    if wss:
        args += ["--listen", "sip:127.0.0.1:0;transport=wss"]
    return ProgramProcess("proxy", *args, cwd=tmp_path)


class WsPeer:
    """A SIP WebSocket client (RFC 7118) on a websockets connection, with a random
    ``.invalid`` host as a browser stack uses (Appendix B.1)."""

    def __init__(self, connection: ClientConnection, user: str) -> None:
        self.ws = connection
        self.user = user
        self.host = secrets.token_hex(5) + ".invalid"

    @classmethod
    async def open(cls, port: int, user: str, *, scheme: str = "ws", **kwargs: Any) -> WsPeer:
        connection = await connect(
            f"{scheme}://127.0.0.1:{port}/", subprotocols=["sip"], open_timeout=3, **kwargs
        )
        return cls(connection, user)

    @property
    def contact(self) -> str:
        return f"<sip:{self.user}@{self.host};transport=ws>"

    def via(self) -> str:
        return f"SIP/2.0/WS {self.host};branch=z9hG4bK{secrets.token_hex(6)}"

    async def send(self, message: Request | Response | bytes | str) -> None:
        if isinstance(message, Request | Response):
            message = bytes(message)
        await self.ws.send(message.decode() if isinstance(message, bytes) else message)

    async def receive(self, timeout: float = 3.0) -> Request | Response:
        data = await asyncio.wait_for(self.ws.recv(), timeout)
        return parse(data.encode() if isinstance(data, str) else data)

    async def receive_response(self, timeout: float = 3.0) -> Response:
        """The next final response (provisional ones skipped)."""
        while True:
            message = await self.receive(timeout)
            if isinstance(message, Response) and message.status >= 200:
                return message

    def register_text(self, aor_host: str, *, expires: int = 600, cseq: int = 1) -> str:
        return (
            f"REGISTER sip:{aor_host} SIP/2.0\r\n"
            f"Via: {self.via()}\r\n"
            "Max-Forwards: 70\r\n"
            f"To: <sip:{self.user}@{aor_host}>\r\n"
            f"From: <sip:{self.user}@{aor_host}>;tag={secrets.token_hex(4)}\r\n"
            f"Call-ID: reg-{self.host}\r\n"
            f"CSeq: {cseq} REGISTER\r\n"
            f"Contact: {self.contact}\r\n"
            f"Expires: {expires}\r\n"
            "Content-Length: 0\r\n\r\n"
        )

    async def register(self, aor_host: str = "127.0.0.1", *, expires: int = 600) -> Response:
        await self.send(self.register_text(aor_host, expires=expires))
        return await self.receive_response()

    async def close(self) -> None:
        await self.ws.close()


class RawWs:
    """A WebSocket client on a plain socket, for frames a polite client never sends.

    The handshake is written by hand; frames are serialized with
    :class:`websockets.frames.Frame` (masked, as a client must, RFC 6455 §5.3).
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, protocol: str | None = "sip") -> tuple[RawWs, bytes]:
        """Connect and send the opening handshake; returns the peer and the HTTP answer."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        offer = f"Sec-WebSocket-Protocol: {protocol}\r\n" if protocol else ""
        writer.write(
            (
                "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                f"Sec-WebSocket-Version: 13\r\n{offer}\r\n"
            ).encode()
        )
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
        return cls(reader, writer), answer

    def frame(self, opcode: Any, data: bytes, *, fin: bool = True) -> None:
        from websockets.frames import Frame

        self.writer.write(Frame(opcode, data, fin=fin).serialize(mask=True, extensions=[]))

    def raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def next_frame(self, timeout: float = 3.0) -> tuple[int, bytes]:
        """(opcode, payload) of the next frame from the server (unmasked, RFC 6455 §5.1)."""
        head = await asyncio.wait_for(self.reader.readexactly(2), timeout)
        length = head[1] & 0x7F
        if length == 126:
            length = int.from_bytes(await self.reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await self.reader.readexactly(8), "big")
        payload = await asyncio.wait_for(self.reader.readexactly(length), timeout)
        return head[0] & 0x0F, payload

    async def close_code(self, timeout: float = 3.0) -> int:
        """Read frames until the server's Close frame; its status code (RFC 6455 §7.4)."""
        while True:
            opcode, payload = await self.next_frame(timeout)
            if opcode == 0x8:
                return int.from_bytes(payload[:2], "big")

    async def eof(self, timeout: float = 3.0) -> bool:
        """True when the server closed the TCP connection (after what it sent)."""
        try:
            while await asyncio.wait_for(self.reader.read(65536), timeout):
                pass
        except (ConnectionError, TimeoutError):
            return False
        return True

    def close(self) -> None:
        self.writer.close()
