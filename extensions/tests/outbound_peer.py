"""A tiny scripted outbound edge+registrar on loopback, for tests and the recovery bench.

It listens on one TCP port and the same UDP port of 127.0.0.1, answers every REGISTER
with 200 and ``Require: outbound`` (the Contact echoed), CRLF pings with a pong, STUN
Binding requests with a Binding response carrying XOR-MAPPED-ADDRESS (RFC 5389
§15.2), and can send a request to the UA over the flow its last REGISTER came on (the
way an edge routes through a flow token, RFC 5626 §5.3).  ``kill()`` aborts the TCP
connections: the UA sees its flow fail.  It is not the project's RFC 5626 edge: the
wire is all the UA and the edge share.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from rfc3261.framing import StreamFramer
from rfc3261.message import Request, Response, parse

MAGIC = 0x2112A442


def stun_success(transaction_id: bytes, host: str, port: int) -> bytes:
    """A Binding success response with an IPv4 XOR-MAPPED-ADDRESS."""
    cookie = struct.pack("!I", MAGIC)
    address = socket.inet_aton(host)
    xored = bytes(a ^ b for a, b in zip(address, cookie, strict=True))
    value = struct.pack("!BBH", 0, 1, port ^ (MAGIC >> 16)) + xored
    attribute = struct.pack("!HH", 0x0020, len(value)) + value
    header = struct.pack("!HHI", 0x0101, len(attribute), MAGIC)
    return header + transaction_id + attribute


@dataclass
class Peer:
    """What the scripted registrar saw, with monotonic times (``time.monotonic``)."""

    registers: list[tuple[float, Request]] = field(default_factory=list)
    pings: list[float] = field(default_factory=list)
    stun: list[float] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    # Every request other than REGISTER: (method, the connection it came on or None).
    requests: list[tuple[str, Any]] = field(default_factory=list)
    answer_pings: bool = True
    require_outbound: bool = True


class _Connection(asyncio.Protocol):
    def __init__(self, registrar: ScriptedRegistrar) -> None:
        self.registrar = registrar
        self.framer = StreamFramer()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.registrar.connections.append(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self.registrar.connections:
            self.registrar.connections.remove(self)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        for event in self.framer.feed(data):
            if isinstance(event, bytes):
                self.registrar.message(event, lambda out: self.transport.write(out), self)
            elif event.is_ping:
                self.registrar.peer.pings.append(time.monotonic())
                if self.registrar.peer.answer_pings:
                    self.transport.write(b"\r\n")


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, registrar: ScriptedRegistrar) -> None:
        self.registrar = registrar
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        if data and data[0] < 0x40:
            if len(data) >= 20 and data[:2] == b"\x00\x01":
                self.registrar.peer.stun.append(time.monotonic())
                self.transport.sendto(stun_success(data[8:20], addr[0], addr[1]), addr)
            return
        self.registrar.message(data, lambda out: self.transport.sendto(out, addr), None)


class ScriptedRegistrar:
    """The scripted edge+registrar; ``await start()``, then ``port`` is set."""

    def __init__(self, peer: Peer | None = None) -> None:
        self.peer = peer or Peer()
        self.connections: list[_Connection] = []
        self.port = 0
        self.server: asyncio.Server | None = None
        self.udp: asyncio.DatagramTransport | None = None
        self.last_flow: _Connection | None = None

    async def start(self) -> ScriptedRegistrar:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _Connection(self), "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.udp, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(self), local_addr=("127.0.0.1", self.port)
        )
        return self

    @property
    def uri(self) -> str:
        return f"sip:127.0.0.1:{self.port};transport=tcp"

    @property
    def udp_uri(self) -> str:
        return f"sip:127.0.0.1:{self.port}"

    def message(self, data: bytes, send: Any, connection: _Connection | None) -> None:
        message = parse(data)
        if isinstance(message, Response):
            self.peer.responses.append(message)
            return
        if message.method != "REGISTER":
            self.peer.requests.append((message.method, connection))
            send(bytes(message.make_response(200)))
            return
        self.peer.registers.append((time.monotonic(), message))
        response = message.make_response(200)
        if "Contact" in message.headers:
            response.headers.add("Contact", message.headers.get("Contact") + ";expires=3600")
        if self.peer.require_outbound:
            response.headers.add("Require", "outbound")
        if connection is not None:
            self.last_flow = connection
        send(bytes(response))

    def kill(self) -> None:
        """Abort every TCP connection (as a crashed edge or a NAT reboot would)."""
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.abort()

    def send_on_flow(self, data: bytes) -> bool:
        """Send ``data`` on the connection of the last REGISTER; False when it is gone."""
        flow = self.last_flow
        if flow is None or flow.transport is None or flow.transport.is_closing():
            return False
        flow.transport.write(data)
        return True

    async def close(self) -> None:
        self.kill()
        if self.udp is not None:
            self.udp.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


class OutboundClient:
    """Our UA with outbound on loopback sockets: CoreHost + UserAgent + Outbound + edge.

    Every event of the UA is kept in ``events`` as (monotonic time, event); an
    incoming INVITE is answered 486 (Busy Here) after the IncomingCall is recorded.
    """

    def __init__(
        self,
        proxies: list[str],
        *,
        transport: str = "TCP",
        outbound_proxy: str | None = None,
        **settings: Any,
    ) -> None:
        self.proxies = proxies
        self.outbound_proxy = outbound_proxy
        self.transport = transport
        self.settings = settings
        self.events: list[tuple[float, Any]] = []
        self.host: Any = None
        self.ua: Any = None
        self.outbound: Any = None
        self.edge: Any = None

    async def start(self) -> OutboundClient:
        import importlib

        ua_side = importlib.import_module("extensions.rfc5626_ua")
        edge_side = importlib.import_module("extensions.rfc5626_ua_asyncio")
        from rfc3261.asyncio.dispatcher import CoreHost
        from rfc3261.ua_core import UAConfig, UserAgent

        self.host = host = CoreHost(None, self._deliver)
        await host.listen("sip:127.0.0.1:0")
        point = host.local_point(self.transport)
        config = UAConfig(
            aor="sip:alice@127.0.0.1",
            contact=point.uri("alice"),
            sent_by=point.sent_by,
            transport=point.transport,
            outbound_proxy=self.outbound_proxy,
        )
        settings = ua_side.OutboundSettings(
            "urn:uuid:00000000-0000-1000-8000-000A95A0E128", self.proxies, **self.settings
        )
        self.outbound = ua_side.Outbound(settings)
        self.ua = UserAgent(config, extensions=[self.outbound])
        host.core = self.ua
        self.edge = edge_side.OutboundEdge(host, self.outbound)
        host.run(self.outbound.start(host.clock()))
        return self

    def _deliver(self, event: Any) -> None:
        self.events.append((time.monotonic(), event))
        self.edge.handle(event)
        name = type(event).__name__
        if name == "IncomingCall":
            self.host.run(self.ua.sessions.reject(event.call, self.host.clock(), 486))

    def of(self, name: str) -> list[tuple[float, Any]]:
        return [(t, e) for t, e in self.events if type(e).__name__ == name]

    def states(self) -> list[str]:
        return [e.state for _, e in self.of("FlowEvent")]

    async def until(self, condition: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            await asyncio.sleep(0.005)
        return bool(condition())

    async def close(self) -> None:
        if self.outbound is not None and self.host is not None:
            self.host.run(self.outbound.stop(self.host.clock()))
            await asyncio.sleep(0.05)
        if self.host is not None:
            await self.host.close()
