"""RFC 5626 outbound on sockets: the asyncio side of :mod:`extensions.rfc5626_ua`.

:class:`OutboundEdge` ties an :class:`~extensions.rfc5626_ua.Outbound` extension to the
transport layer of the :class:`~rfc3261.asyncio.dispatcher.CoreHost` that runs its UA:

- a :class:`~extensions.rfc5626_ua.SendKeepAlive` is written on the flow's connection
  (CRLF, TCP/TLS) or sent from the UDP listening point to the flow's next hop (STUN);
- a pong (the framer's single CRLF), a datagram that is not SIP (STUN) and a connection
  that goes away are handed back to the extension with the core's clock;
- a flow that failed loses its connection at once, before the REGISTER that forms it
  again is sent (so that REGISTER opens a new one), and the connection of an active
  flow is never closed for idleness.

The application passes every event of its UA through :meth:`OutboundEdge.handle`
before anything else (in ``CoreHost``'s ``deliver``): the order matters, the failed
flow's connection must be gone before the REGISTER effect that follows is carried out.
"""

from __future__ import annotations

import contextlib
from typing import Any

from extensions.rfc5626_ua import Flow, FlowEvent, Outbound, SendKeepAlive
from rfc3261.asyncio.dispatcher import CoreHost
from rfc3261.asyncio.transport import Address, Source, StreamConnection, is_ip_address

__all__ = ["OutboundEdge"]


class OutboundEdge:
    """Carries the keep-alives of ``outbound``'s flows over ``host``'s sockets."""

    def __init__(self, host: CoreHost, outbound: Outbound) -> None:
        self.host = host
        self.outbound = outbound
        self.layer = host.transport
        self.loop = host.loop
        # The connection each active reliable flow runs on.
        self.connections: dict[Flow, StreamConnection] = {}
        if self.layer.on_pong is not None or self.layer.on_stun is not None:
            raise ValueError("this transport layer already has outbound hooks")
        for flow in outbound.flows:
            # A flow is the connection (or UDP path) to this address; a name would need
            # RFC 3263 resolution of the outbound-proxy-set, which is not done here yet.
            if not is_ip_address(flow.host):
                raise ValueError(f"outbound proxy {flow.proxy}: give an IP literal, not a name")
        self.layer.on_pong = self._pong
        self.layer.on_connection_closed = self._closed
        self.layer.on_stun = self._stun

    def _address(self, flow: Flow) -> Address:
        return Address(flow.transport, flow.host, flow.port)

    # -- events from the extension -----------------------------------------------------

    def handle(self, event: Any) -> bool:
        """Act on a :class:`SendKeepAlive` or :class:`FlowEvent`; False for other events."""
        if isinstance(event, SendKeepAlive):
            self._send(event.flow, event.data)
            return True
        if isinstance(event, FlowEvent):
            flow = event.flow
            if event.state == "active" and flow.reliable:
                connection = self.layer.connections.get(self._address(flow))
                if connection is not None and not connection.closed:
                    connection.keep_open = True
                    self.connections[flow] = connection
            elif event.state in ("failed", "stopped", "unsupported"):
                connection = self.connections.pop(flow, None)
                if connection is not None and event.state == "failed":
                    ##= https://www.rfc-editor.org/rfc/rfc5626#section-3.5
                    ##% If the client does not receive a pong in response to its ping (allowing for
                    ##% retransmission for STUN as described in Section 4.4.2), it declares
                    ##% the flow dead and opens a new flow in its place.
                    connection.abort(f"outbound flow failed: {event.reason}")
                elif connection is not None:
                    connection.keep_open = False
            return True
        return False

    def _send(self, flow: Flow, data: bytes) -> None:
        if flow.reliable:
            connection = self.connections.get(flow)
            if connection is None or not connection.is_open or not connection.write(data):
                self.loop.call_soon(self._report_closed, flow)
            return
        address = self._address(flow)
        point = self.layer.listening_point("UDP", address.family)
        if point is None:
            return
        # A send that fails goes unanswered: the STUN transaction then fails the flow.
        with contextlib.suppress(OSError):
            point.handle.sendto(data, (address.host, address.port))

    # -- what the transport layer saw ----------------------------------------------------

    def _pong(self, connection: StreamConnection) -> None:
        flow = self._flow_of(connection)
        if flow is not None:
            self.loop.call_soon(self._run, self.outbound.pong, flow)

    def _closed(self, connection: StreamConnection) -> None:
        flow = self._flow_of(connection)
        if flow is not None:
            self.connections.pop(flow, None)
            self.loop.call_soon(self._report_closed, flow)

    def _stun(self, data: bytes, source: Source) -> None:
        remote = source.remote
        flow = self.outbound.flow_at(remote.transport, remote.host, remote.port)
        if flow is not None:
            self.host.run(self.outbound.stun_received(flow, data, self.host.clock()))

    def _flow_of(self, connection: StreamConnection) -> Flow | None:
        for flow, mine in self.connections.items():
            if mine is connection:
                return flow
        return None

    def _report_closed(self, flow: Flow) -> None:
        self.host.run(self.outbound.connection_closed(flow, self.host.clock()))

    def _run(self, what: Any, flow: Flow) -> None:
        self.host.run(what(flow, self.host.clock()))
