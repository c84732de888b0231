"""SIP over WebSocket (RFC 7118): the WS and WSS transports on asyncio.

Theory of operation
-------------------
RFC 7118 carries SIP in WebSocket messages (RFC 6455): a client opens an HTTP
connection, asks to upgrade it with the ``sip`` subprotocol, and from then on
every WebSocket message (text or binary) holds exactly one SIP message.  The
transport is reliable, like TCP, but it frames messages itself, like UDP: no
Content-Length framing (§5).

The WebSocket protocol is not written here: :mod:`websockets` (version 14 or
later) provides a sans-I/O layer -- :class:`websockets.server.ServerProtocol`
and :class:`websockets.client.ClientProtocol` take bytes and return events and
bytes to send, like the SIP core takes messages and returns effects.  It does
the opening handshake (and its ``sip`` subprotocol negotiation), masking,
control frames (an automatic Pong for each Ping), the closing handshake, the
close codes of RFC 6455 §7.4 and the bound on a message's size across its
fragments.  What is left here is RFC 7118's part: refuse a handshake without
``sip``, join a fragmented message, check a text message's UTF-8, hand one SIP
message up per WebSocket message, send each SIP message in one WebSocket
message (text when it is UTF-8, binary otherwise), and keep the connection
alive with Pings.

A :class:`WebSocketConnection` is a :class:`~rfc3261.asyncio.transport.
StreamConnection` whose bytes go through the WebSocket layer instead of the
§18.3 framer: the transport layer indexes it by the far end's address, bounds
the number of connections, sweeps idle ones, drops a peer that does not read
and reuses the connection for responses (§18.2.2) exactly as for TCP.  The
time the opening handshake may take is the layer's ``message_timeout`` (the
connection holds an "unfinished message" until the handshake is done).

Importing this module registers the WS and WSS drivers (RFC 7118 §5.1) with
:func:`~rfc3261.asyncio.transport.register_transport`;
:mod:`rfc3261.asyncio.dispatcher` imports it, so every program can
``--listen 'sip:127.0.0.1:5080;transport=ws'``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from websockets.client import ClientProtocol
from websockets.datastructures import Headers
from websockets.exceptions import InvalidHandshake, NegotiationError
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request as HttpRequest
from websockets.http11 import Response as HttpResponse
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol
from websockets.uri import parse_uri as parse_ws_uri

from ..errors import ParseError
from ..message import bad_request_response
from .transport import (
    Address,
    ListeningPoint,
    Source,
    StreamConnection,
    TransportDriver,
    TransportLayer,
    bracketed,
    register_transport,
)

__all__ = [
    "SIP_SUBPROTOCOL",
    "HandshakePolicy",
    "WebSocketConnection",
    "WebSocketDriver",
    "http_refusal",
    "more_than_one_message",
]

##= https://www.rfc-editor.org/rfc/rfc7118#section-4.1
##% The client MUST
##% include the value "sip" in the Sec-WebSocket-Protocol header in its
##% handshake request.
SIP_SUBPROTOCOL = Subprotocol("sip")

_CONTENT_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\d+)", re.I | re.M)


def more_than_one_message(payload: bytes) -> bool:
    """True when a WebSocket message holds more than one SIP message (RFC 7118 §5).

    Content-Length does not frame here; it is only read to see whether octets
    that are not whitespace follow the body it announces (a second message).
    """
    end = payload.find(b"\r\n\r\n")
    if end < 0:
        return False
    match = _CONTENT_LENGTH.search(payload, 0, end + 2)
    if match is None:
        return False
    rest = payload[end + 4 + int(match.group(1)) :]
    return bool(rest.strip())


class WebSocketConnection(StreamConnection):
    """One WebSocket connection carrying SIP (RFC 7118), accepted or opened.

    The handshake runs on the first bytes; SIP messages written before it is
    done wait, like writes on a connection that is still connecting.
    """

    def __init__(
        self,
        layer: TransportLayer,
        transport_name: str,
        local: ListeningPoint | None,
        remote: Address | None = None,
    ) -> None:
        super().__init__(layer, transport_name, local, remote)
        self.driver: WebSocketDriver = _driver_of(transport_name)
        max_size = layer.limits.max_header_bytes + layer.limits.max_body_bytes
        self.protocol: ServerProtocol | ClientProtocol
        if self.outgoing:
            assert remote is not None
            scheme = "wss" if transport_name == "WSS" else "ws"
            uri = parse_ws_uri(f"{scheme}://{bracketed(remote.host)}:{remote.port}/")
            self.protocol = ClientProtocol(uri, subprotocols=[SIP_SUBPROTOCOL], max_size=max_size)
        else:
            self.protocol = ServerProtocol(
                subprotocols=[SIP_SUBPROTOCOL],
                select_subprotocol=_select_sip,
                max_size=max_size,
            )
        # The opening handshake is done (OPEN): SIP messages may flow.
        self.established = False
        # (time written, error callback) of the messages sent lately: when the
        # connection is lost, the transactions still waiting on them hear of it.
        self._in_flight: list[tuple[float, Any]] = []
        # The message being received in fragments: its frames so far, text or binary.
        self._parts: list[bytes] = []
        self._text = False
        self._keepalive: asyncio.TimerHandle | None = None
        # Counters for tests and logs.
        self.rejected_messages = 0

    def __repr__(self) -> str:
        return f"<WebSocketConnection {self.transport_name} {self.remote} open={self.is_open}>"

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        layer = self.layer
        self.transport = transport
        if self.remote is None:
            peer = transport.get_extra_info("peername")
            self.remote = Address(self.transport_name, peer[0], peer[1])
            if not layer._admit(self, transport):
                return
        self.source = None
        now = layer.loop.time()
        self.last_activity = now
        # The handshake counts as an unfinished message: the sweep drops a peer
        # that does not finish it within message_timeout.
        self.partial_since = now
        transport.set_write_buffer_limits(high=layer.limits.max_write_buffer)
        protocol = self.protocol
        if isinstance(protocol, ClientProtocol):
            protocol.send_request(protocol.connect())
            self._flush()

    def data_received(self, data: bytes) -> None:
        layer = self.layer
        self.last_activity = layer.loop.time()
        protocol = self.protocol
        protocol.receive_data(data)
        for event in protocol.events_received():
            if self.closed:
                break
            if isinstance(event, HttpRequest):
                self._handshake_request(event)
            elif isinstance(event, HttpResponse):
                self._handshake_response(event)
            else:
                self._frame(event)
        self._flush()

    def eof_received(self) -> bool | None:
        self.protocol.receive_eof()
        self._flush()
        return None

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.4
    ##% Host, network, port or protocol
    ##% unreachable errors, or parameter problem errors SHOULD cause the
    ##% transport layer to inform the transport user of a failure in sending.
    def connection_lost(self, exc: Exception | None) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None
        super().connection_lost(exc)
        # A browser that closes its socket mid-transaction: the request it never
        # answered fails now (a transport error, §17.1.4) rather than at Timer B.
        in_flight, self._in_flight = self._in_flight, []
        error = exc or ConnectionResetError("WebSocket connection closed")
        for _, callback in in_flight:
            callback(error)

    # -- the opening handshake (RFC 6455 §4, RFC 7118 §4.1)

    def _handshake_request(self, request: HttpRequest) -> None:
        protocol = self.protocol
        assert isinstance(protocol, ServerProtocol)
        response = protocol.accept(request)
        policy = self.driver.policies.get(self.layer)
        if policy is not None and response.status_code == 101:
            refusal = policy(request)
            if refusal is not None:
                response = refusal
        protocol.send_response(response)
        if protocol.state is State.OPEN:
            self._opened()
        else:
            self.driver.refused_handshakes += 1
            self.close_reason = f"handshake refused: {response.status_code}"

    def _handshake_response(self, response: HttpResponse) -> None:
        protocol = self.protocol
        error: Exception | None = protocol.handshake_exc
        ##= https://www.rfc-editor.org/rfc/rfc7118#section-4.1
        ##% The 101 reply from the server MUST contain "sip"
        ##% in its corresponding Sec-WebSocket-Protocol header.
        if error is None and protocol.subprotocol != SIP_SUBPROTOCOL:
            error = InvalidHandshake("the server did not accept the sip subprotocol")
        if error is not None:
            ##= https://www.rfc-editor.org/rfc/rfc7118#section-4.1
            ##% In
            ##% case there is no HTTP 101 response during the WebSocket handshake,
            ##% it is considered a transaction error as per [RFC3261],
            ##% Section 8.1.3.1., "Transaction Layer Errors".
            if self.transport is not None:
                self.transport.abort()
            self.connect_failed(ConnectionRefusedError(f"WebSocket handshake failed: {error}"))
            return
        self._opened()

    def _opened(self) -> None:
        self.established = True
        self.partial_since = None
        assert self.remote is not None
        self.source = Source(self.remote, self.local, self)
        pending, self._pending = self._pending, []
        self._on_error = []
        for data in pending:
            self.write(data)
        self._schedule_keepalive()

    # -- messages

    def _frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY or opcode is Opcode.CONT:
            self._data_frame(frame)
        # Ping is answered by the protocol layer; a Pong or Close needs nothing more
        # here than the activity already noted (RFC 7118 §6 keep-alive).

    ##= https://www.rfc-editor.org/rfc/rfc7118#section-4.2
    ##% Therefore, SIP WebSocket Clients and SIP WebSocket Servers MUST accept
    ##% both text and binary frames.
    def _data_frame(self, frame: Frame) -> None:
        if frame.opcode is not Opcode.CONT:
            self._text = frame.opcode is Opcode.TEXT
            self._parts = []
            self.partial_since = self.layer.loop.time()
        self._parts.append(bytes(frame.data))
        if not frame.fin:
            return  # a fragment: the protocol layer bounds the whole message's size
        payload = b"".join(self._parts)
        self._parts = []
        self.partial_since = None
        if self._text:
            try:
                payload.decode("utf-8")
            except UnicodeDecodeError:
                # RFC 6455 §8.1: invalid UTF-8 in a text message fails the connection (1007).
                self.protocol.fail(CloseCode.INVALID_DATA, "invalid UTF-8 in a text message")
                self.close_reason = "invalid UTF-8 in a text message"
                return
        self._message(payload)

    ##= https://www.rfc-editor.org/rfc/rfc7118#section-5
    ##% Each SIP message MUST be carried within a single WebSocket message,
    ##% and a WebSocket message MUST NOT contain more than one SIP message.
    def _message(self, payload: bytes) -> None:
        layer = self.layer
        if not payload.strip():
            # A CRLF keep-alive (RFC 5626 §3.5.1, usable here as RFC 7118 §6 says).
            if payload == b"\r\n\r\n":
                self.write(b"\r\n")
            return
        if more_than_one_message(payload):
            self.rejected_messages += 1
            response = bad_request_response(
                payload, ParseError("a WebSocket message holds more than one SIP message")
            )
            if response is not None and payload[:4].upper() != b"SIP/":
                self.write(bytes(response))
            return
        try:
            layer.receiver(payload, self.source)  # type: ignore[arg-type]
        except Exception as error:  # one bad message does not end the connection
            layer.loop.call_exception_handler(
                {"message": f"error handling a message from {self.remote}", "exception": error}
            )

    ##= https://www.rfc-editor.org/rfc/rfc7118#section-4.1
    ##% Messages other than SIP requests and responses MUST NOT
    ##% be transmitted over this connection.
    def write(self, data: bytes, on_error: Any = None) -> bool:
        """Send one SIP message as one WebSocket message (queued until the handshake).

        The transport layer writes nothing else: every ``data`` is a SIP message
        (or the CRLF answering a CRLF keep-alive, which RFC 7118 §6 allows).
        """
        if self.closed:
            return False
        transport = self.transport
        if transport is None or not self.established:
            self._pending.append(data)
            if on_error is not None:
                self._on_error.append(on_error)
            return True
        if transport.is_closing() or self.protocol.state is not State.OPEN:
            return False
        ##= https://www.rfc-editor.org/rfc/rfc7118#section-4.2
        ##% If there is at least one non-UTF-8 symbol in the whole SIP message
        ##% (including headers and the body), then the whole message MUST be
        ##% sent within a WebSocket binary message.
        ##= https://www.rfc-editor.org/rfc/rfc7118#section-4.2
        ##% Given the nature of
        ##% JavaScript and the WebSocket API, it is RECOMMENDED to use UTF-8
        ##% encoding (or ASCII, which is a subset of UTF-8) for SIP messages
        ##% carried over a WebSocket connection.
        try:
            data.decode("utf-8")
            self.protocol.send_text(data)
        except UnicodeDecodeError:
            self.protocol.send_binary(data)
        self._flush()
        now = self.last_activity = self.layer.loop.time()
        if on_error is not None:
            # Kept for 64*T1, the longest a transaction waits (RFC 3261 §17), and bounded.
            horizon = now - 32.0
            in_flight = self._in_flight
            while in_flight and (in_flight[0][0] < horizon or len(in_flight) >= 64):
                del in_flight[0]
            in_flight.append((now, on_error))
        if transport.get_write_buffer_size() > self.layer.limits.max_write_buffer:
            self.abort("peer does not read (write buffer above max_write_buffer)")
            return False
        return True

    def _flush(self) -> None:
        transport = self.transport
        if transport is None:
            return
        for chunk in self.protocol.data_to_send():
            if chunk:
                if not transport.is_closing():
                    transport.write(chunk)
            else:
                # The protocol layer ended its side (a refused handshake, a close).
                self.closed = True
                if self.close_reason is None:
                    self.close_reason = "WebSocket closed"
                self.layer._forget(self)
                transport.close()
                return
        if self.protocol.state is State.CLOSED and not transport.is_closing():
            self.closed = True
            self.layer._forget(self)
            transport.close()

    # -- keep-alive (RFC 7118 §6)

    ##= https://www.rfc-editor.org/rfc/rfc7118#section-6
    ##% SIP WebSocket Clients and Servers may keep their WebSocket
    ##% connections open by sending periodic WebSocket "Ping" frames as
    ##% described in [RFC6455], Section 5.5.2.
    def _schedule_keepalive(self) -> None:
        interval = self.driver.ping_interval(self.layer)
        self._keepalive = self.layer.loop.call_later(interval, self._ping)

    def _ping(self) -> None:
        self._keepalive = None
        if self.closed or self.protocol.state is not State.OPEN:
            return
        interval = self.driver.ping_interval(self.layer)
        if self.layer.loop.time() - self.last_activity >= interval * 0.9:
            # The Pong that answers brings last_activity forward; a peer that is gone
            # lets it age until the layer's idle sweep closes the connection.
            self.protocol.send_ping(b"sipref")
            self._flush()
        self._schedule_keepalive()

    def close(self, reason: str = "closed") -> None:
        """Close with a WebSocket Close frame (1000), then the TCP connection."""
        if not self.closed and self.established and self.protocol.state is State.OPEN:
            with contextlib.suppress(Exception):
                self.protocol.send_close(CloseCode.NORMAL_CLOSURE, reason[:100])
                for chunk in self.protocol.data_to_send():
                    if chunk and self.transport is not None:
                        self.transport.write(chunk)
        super().close(reason)


# A handshake policy: None accepts the HTTP request, a response refuses it.
HandshakePolicy = Callable[[HttpRequest], "HttpResponse | None"]


def http_refusal(
    status: int, reason: str, headers: Iterable[tuple[str, str]] = ()
) -> HttpResponse:
    """An HTTP response refusing a WebSocket handshake (e.g. 401 with a challenge)."""
    fields = Headers([("Connection", "close"), ("Content-Length", "0"), *headers])
    return HttpResponse(status, reason, fields, b"")


##= https://www.rfc-editor.org/rfc/rfc7118#section-4.1
##% The 101 reply from the server MUST contain "sip"
##% in its corresponding Sec-WebSocket-Protocol header.
def _select_sip(protocol: ServerProtocol, offered: Any) -> Subprotocol:
    """Accept only the ``sip`` subprotocol: a handshake without it gets 400 (RFC 7118 §4)."""
    if SIP_SUBPROTOCOL in offered:
        return SIP_SUBPROTOCOL
    raise NegotiationError("the sip subprotocol (RFC 7118) is required")


def _driver_of(transport_name: str) -> WebSocketDriver:
    from ..transports import transport_info

    info = transport_info(transport_name)
    if info is None or not isinstance(info.driver, WebSocketDriver):
        raise ValueError(f"{transport_name} has no WebSocket driver")
    return info.driver


class WebSocketDriver(TransportDriver):
    """WS (plain) or WSS (``tls``): an HTTP server upgrading to WebSocket, and clients."""

    connection_class = WebSocketConnection

    def __init__(self, *, tls: bool = False) -> None:
        self.tls = tls
        # Handshake policies by transport layer (see set_policy).
        self.policies: weakref.WeakKeyDictionary[TransportLayer, HandshakePolicy] = (
            weakref.WeakKeyDictionary()
        )
        # Counters for tests and logs.
        self.refused_handshakes = 0

    ##= https://www.rfc-editor.org/rfc/rfc7118#section-7
    ##% A SIP WebSocket Server MUST be ready to read session cookies when
    ##% present in the WebSocket handshake request and use such a cookie
    ##% value for determining whether the WebSocket connection has been
    ##% initiated by an HTTP client navigating a website in the same
    ##% domain (or subdomain) as the SIP WebSocket Server.
    ##= https://www.rfc-editor.org/rfc/rfc7118#section-7
    ##% A SIP WebSocket Server SHOULD be able to reject a WebSocket
    ##% handshake request with an HTTP 401 status code by providing a
    ##% Basic/Digest challenge as defined for the HTTP protocol.
    def set_policy(self, layer: TransportLayer, policy: HandshakePolicy | None) -> None:
        """Check every handshake ``layer`` accepts for this transport with ``policy``.

        The policy gets the HTTP request (its ``headers`` hold any ``Cookie``) and
        returns None to accept it, or the HTTP response to refuse it with (see
        :func:`http_refusal`, e.g. a 401 with a ``WWW-Authenticate`` challenge).
        """
        if policy is None:
            self.policies.pop(layer, None)
        else:
            self.policies[layer] = policy

    @staticmethod
    def ping_interval(layer: TransportLayer) -> float:
        """Ping a quiet peer twice per idle period: a live one never idles out."""
        return max(0.05, layer.limits.idle_timeout / 2)

    def _server_ssl(self, layer: TransportLayer) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        if layer.server_ssl is None:
            raise ValueError("a WSS listening point needs --cert and --key (RFC 7118 §5.1: TLS)")
        return layer.server_ssl

    async def listen(self, layer: TransportLayer, point: ListeningPoint) -> tuple[Any, int]:
        transport = point.address.transport
        server = await layer.loop.create_server(
            lambda: WebSocketConnection(layer, transport, point),
            point.address.host,
            point.address.port,
            family=point.address.family,
            ssl=self._server_ssl(layer),
            ssl_handshake_timeout=layer.limits.message_timeout if self.tls else None,
            reuse_address=True,
            backlog=1024,
        )
        return server, server.sockets[0].getsockname()[1]

    ##= https://www.rfc-editor.org/rfc/rfc7118#section-9.1
    ##% When establishing a connection using SIP over secure WebSocket
    ##% transport, the client MUST authenticate the server using the server's
    ##% certificate according to the WebSocket validation procedure in
    ##% [RFC6455].
    async def connect(self, layer: TransportLayer, connection: StreamConnection) -> None:
        # WSS: the client context verifies the certificate chain and, with
        # server_hostname, that it names the host connected to (RFC 6455 §4.1).
        destination = connection.remote
        if destination is None:
            raise ValueError("an outgoing connection needs its remote address")
        if self.tls and layer.client_ssl is None:
            connection.connect_failed(ValueError("WSS needs a client SSL context"))
            return
        try:
            await asyncio.wait_for(
                layer.loop.create_connection(
                    lambda: connection,
                    destination.host,
                    destination.port,
                    ssl=layer.client_ssl if self.tls else None,
                    server_hostname=destination.host if self.tls else None,
                    ssl_handshake_timeout=layer.limits.message_timeout if self.tls else None,
                ),
                layer.limits.connect_timeout,
            )
        except (TimeoutError, OSError, ssl.SSLError) as error:
            connection.connect_failed(error)

    async def close(self, handle: Any) -> None:
        handle.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(handle.wait_closed(), 2.0)


##= https://www.rfc-editor.org/rfc/rfc7118#section-5
##% Thus, client and server transactions using WebSocket for
##% transport MUST follow the procedures and timer values for reliable
##% transports as defined in [RFC3261].
##= https://www.rfc-editor.org/rfc/rfc7118#section-5.1
##% This document defines the value "WS" to be used for
##% requests over plain WebSocket connections and "WSS" for requests over
##% secure WebSocket connections (in which the WebSocket connection is
##% established using TLS [RFC5246] with TCP transport).
##= https://www.rfc-editor.org/rfc/rfc7118#section-5.4
##% SIP elements MAY implement other protocols.
##= https://www.rfc-editor.org/rfc/rfc7118#section-9.1
##% It is RECOMMENDED that the SIP traffic transported over a WebSocket
##% communication be protected by using a secure WebSocket connection
##% (using TLS [RFC5246] over TCP).
##= https://www.rfc-editor.org/rfc/rfc7118#section-9.2
##% If such a path includes a WebSocket
##% connection, it MUST be a secure WebSocket connection.
# (WSS is the secure transport with uri_param "ws": a sips: URI selects it, never WS.)
##= https://www.rfc-editor.org/rfc/rfc7118#section-5.5
##% In the absence of DNS SRV resource records or an explicit port, the
##% default port for a SIP URI using the "sip" scheme and the "ws"
##% transport parameter is 80, and the default port for a SIP URI using
##% the "sips" scheme and the "ws" transport parameter is 443.
register_transport(
    "WS",
    default_port=80,
    reliable=True,
    stream=False,
    uri_param="ws",
    driver=WebSocketDriver(),
)
register_transport(
    "WSS",
    default_port=443,
    reliable=True,
    stream=False,
    secure=True,
    uri_param="ws",
    driver=WebSocketDriver(tls=True),
)
