"""The transport layer: UDP, TCP and TLS over IPv4 and IPv6 with asyncio (RFC 3261 §18).

Theory of operation
-------------------
:class:`TransportLayer` owns every socket of one SIP element: the *listening
points* it was asked to open (one UDP socket, one TCP or TLS server each) and
the stream *connections*, whether it opened them or accepted them.  It moves
bytes, nothing more: it splits streams into messages with
:class:`rfc3261.framing.StreamFramer` (§18.3), answers CRLF keep-alive pings,
and hands each message's bytes up with the :class:`Source` they came from.
Parsing, the Via checks of §18.1.2 and §18.2.1 and the routing of responses
(§18.2.2) are the business of :mod:`rfc3261.asyncio.dispatcher`, which sits on top.

Connections are indexed by the far end's (transport, address, port), shared
between the client and server sides (§18), reused for new requests (§18.1.1)
and closed when idle.  Every resource a peer can make us hold is bounded
(:class:`TransportLimits`): the number of connections, the bytes of an
unfinished message, the time a message may take to arrive (a byte a second
does not keep a connection forever), the bytes waiting to be written to a peer
that does not read, the time a TLS handshake may take.  A peer that breaks a
bound loses its connection; a bad datagram costs one parse, and an exception
while handling one message never stops a listener.

UDP sockets are read directly (:class:`UdpSocket`, up to 64 datagrams per
wake-up) rather than through asyncio's datagram transports: under load this
saves an event-loop turn per datagram.  Streams use asyncio protocols
(:class:`StreamConnection`), TLS the standard :mod:`ssl` module.

Which transports exist is the table of :mod:`rfc3261.transports`: each
:class:`~rfc3261.transports.TransportInfo` has a :class:`TransportDriver`
that opens its listening points and connections.  UDP (:class:`UdpDriver`),
TCP and TLS (:class:`StreamDriver`) are registered here, through the same
:func:`register_transport` an extension uses for a transport of its own.
Stream transports are framed here (§18.3) on :class:`StreamConnection`;
every other transport is message-oriented, sent through its listening
point's handle (``sendto``).

Addresses are IP literals: name resolution (RFC 3263) is the business of
:mod:`rfc3261.asyncio.resolver`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import FramingError
from ..framing import StreamFramer
from ..stun import binding_response
from ..transports import (
    TransportInfo,
    default_port,
    is_reliable,
    register_transport_info,
    transport_info,
)

__all__ = [
    "UDP_SIZE_LIMIT",
    "Address",
    "ListeningPoint",
    "Source",
    "StreamConnection",
    "StreamDriver",
    "TransportDriver",
    "TransportLayer",
    "TransportLimits",
    "UdpDriver",
    "default_port",
    "register_transport",
]

##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##% If a request is within 200 bytes of the path MTU, or if it is larger
##% than 1300 bytes and the path MTU is unknown, the request MUST be sent
##% using an RFC 2914 [43] congestion controlled transport protocol, such
##% as TCP.
UDP_SIZE_LIMIT = 1300

##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##% However,
##% implementations MUST be able to handle messages up to the maximum
##% datagram packet size.
# The largest UDP payload over IPv4 (65,535 less 20 bytes of IP and 8 of UDP).
MAX_DATAGRAM = 65507


##= https://www.rfc-editor.org/rfc/rfc5954#section-5
##% Implementers SHOULD generate IPv6 text representation as defined in RFC
##% 5952 [5].
def bracketed(host: str) -> str:
    """``host`` as written in a sent-by or URI: IPv6 references in brackets (§25.1), in the
    text form of RFC 5952 (lower case, the longest run of zeros as "::")."""
    if ":" not in host or host.startswith("["):
        return host
    return f"[{_rfc5952(host)}]"


@functools.lru_cache(maxsize=256)
def _rfc5952(address: str) -> str:
    try:
        parsed = ipaddress.IPv6Address(address)
    except ValueError:
        return address  # not an IPv6 literal (a name with a colon cannot be; kept as given)
    # RFC 5952 §5: an IPv4-mapped address keeps its IPv4 part in dotted decimal.
    mapped = parsed.ipv4_mapped
    return f"::ffff:{mapped}" if mapped is not None else parsed.compressed


def unbracketed(host: str) -> str:
    """``host`` without the brackets of an IPv6 reference, as sockets take it."""
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


@functools.lru_cache(maxsize=4096)
def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(unbracketed(host))
    except ValueError:
        return None


def is_ip_address(host: str) -> bool:
    """True when ``host`` (bracketed or not) is an IPv4 or IPv6 literal."""
    return _ip(host) is not None


def is_multicast(host: str) -> bool:
    """True when ``host`` is an IPv4 or IPv6 multicast address literal."""
    address = _ip(host)
    return address is not None and address.is_multicast


def same_ip(a: str, b: str) -> bool:
    """True when two address literals name the same IP (``::1`` == ``[0::1]``)."""
    if a == b:
        return _ip(a) is not None
    address = _ip(a)
    return address is not None and address == _ip(b)


@dataclass(frozen=True, slots=True)
class Address:
    """A transport address: transport ("UDP", "TCP", "TLS"), IP literal and port.

    The host is written without brackets (``::1``); :attr:`hostport` adds them.
    """

    transport: str
    host: str
    port: int

    @property
    def reliable(self) -> bool:
        return is_reliable(self.transport)

    @property
    def family(self) -> int:
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    @property
    def hostport(self) -> str:
        """``host:port`` as a sent-by writes it (``[::1]:5060``)."""
        return f"{bracketed(self.host)}:{self.port}"

    def __str__(self) -> str:
        return f"{self.transport} {self.hostport}"


@dataclass(slots=True)
class TransportLimits:
    """Bounds on what peers can make the transport hold, and socket options."""

    # Stream connections (opened and accepted together); accepts beyond it are refused.
    max_connections: int = 1024
    # Fair admission (RFC 3261 §26.3.2.4): once half of max_connections are taken, a
    # source address (IP) holding this many accepted connections gets no more, so one
    # host cannot lock every other client out.  None: max(8, max_connections // 16).
    max_connections_per_source: int | None = None
    # Accepted TLS connections still in their handshake (each holds ~256 KiB of buffers
    # in asyncio): at most this many in all, and a sixteenth of it (at least 8) per
    # source; a handshake not done within message_timeout drops the connection.
    max_pending_handshakes: int = 128
    # StreamFramer bounds: an unfinished header section, and one body.
    max_header_bytes: int = 64 * 1024
    max_body_bytes: int = 1024 * 1024
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18
    ##% This duration SHOULD at least equal
    ##% the longest amount of time the element would need in order to bring a
    ##% transaction from instantiation to the terminated state.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18
    ##% This usually means at least 64*T1 (see Section 17.1.1.1 for a
    ##% definition of T1).
    idle_timeout: float = 64 * 0.5 + 8.0

    # An unfinished message older than this closes its connection (slow senders).
    message_timeout: float = 10.0
    # Bytes waiting for a peer that does not read; above it the connection is dropped.
    max_write_buffer: int = 4 * 1024 * 1024
    connect_timeout: float = 10.0
    # SO_RCVBUF / SO_SNDBUF for UDP sockets (None: the system default).
    socket_buffer: int | None = None


@dataclass(slots=True, eq=False)
class ListeningPoint:
    """A local transport address the element listens on (a UDP socket or a stream server).

    Compared and hashed by identity: each is one socket.
    """

    address: Address
    # The UdpSocket (UDP) or the asyncio Server (TCP, TLS).
    handle: Any = None

    @property
    def transport(self) -> str:
        return self.address.transport

    @property
    def sent_by(self) -> str:
        """What the Via sent-by of requests sent from here says (§18.1.1)."""
        return self.address.hostport

    def uri(self, user: str | None = None) -> str:
        """A SIP(S) URI reaching this listening point, for Contact and Record-Route."""
        address = self.address
        info = transport_info(address.transport)
        secure = info is not None and info.secure
        scheme = "sips" if secure else "sip"
        userinfo = f"{user}@" if user else ""
        # UDP is the default transport of sip: and TLS the one of sips: (§19.1.2).
        if address.transport in ("UDP", "TLS"):
            param = ""
        elif address.transport == "TCP" or info is None or info.uri_param is None:
            param = f";transport={address.transport}"
        else:
            param = f";transport={info.uri_param}"
        return f"{scheme}:{userinfo}{address.hostport}{param}"


@dataclass(frozen=True, slots=True)
class Source:
    """Where a received message came from: the far end, our listening point, the connection.

    ``connection`` is the stream connection (None for UDP); responses to a
    request received on it go back on it while it is open (§18.2.2).
    """

    remote: Address
    local: ListeningPoint | None
    connection: StreamConnection | None = None

    @property
    def transport(self) -> str:
        return self.remote.transport


# A receiver gets each message's bytes with its Source.
Receiver = Callable[[bytes, Source], None]
# A send failure is reported with the exception (refused, reset, timeout, ...).
ErrorCallback = Callable[[Exception], None]


class UdpSocket:
    """One UDP listening point's socket, read and written without asyncio transports.

    Each datagram goes up as one message (§18.3).  When the socket is readable,
    up to ``BATCH`` datagrams are read in one go, which under load saves an
    event-loop turn per datagram.  A failure while handling one datagram is
    reported to the loop's exception handler; the listener keeps going.
    """

    BATCH = 64

    def __init__(self, layer: TransportLayer, point: ListeningPoint, sock: socket.socket) -> None:
        self.layer = layer
        self.point = point
        self.sock = sock
        self.transport_name = point.address.transport
        # Sources by peer address, so that a busy peer costs one object (bounded).
        self._sources: dict[Any, Source] = {}
        # Datagrams the kernel would not take yet (socket buffer full).
        self._backlog: list[tuple[bytes, tuple[str, int]]] = []
        self._closed = False
        sock.setblocking(False)
        layer.loop.add_reader(sock.fileno(), self._read_ready)

    def get_extra_info(self, name: str) -> Any:
        return self.sock.getsockname() if name == "sockname" else None

    def _read_ready(self) -> None:
        recvfrom = self.sock.recvfrom
        sources = self._sources
        receiver = self.layer.receiver
        for _ in range(self.BATCH):
            try:
                data, addr = recvfrom(MAX_DATAGRAM + 28)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.4
                ##% Source quench and TTL exceeded ICMP errors SHOULD be ignored.
                # An unconnected UDP socket cannot tell which datagram an ICMP
                # error belongs to; sendto() failures reach the sender instead.
                self.layer.icmp_errors += 1
                continue
            if data[:1] in (b"\x00", b"\x01") and self.layer.stun_server:
                self._answer_stun(data, addr)
                continue
            source = sources.get(addr)
            if source is None:
                if len(sources) >= 4096:
                    sources.clear()
                source = Source(Address(self.transport_name, addr[0], addr[1]), self.point)
                sources[addr] = source
            try:
                if data and data[0] < 0x40 and self.layer.on_stun is not None:
                    self.layer.on_stun(data, source)  # not SIP: STUN (RFC 5626 §8)
                    continue
                receiver(data, source)
            except Exception as error:  # never let one datagram stop the listener
                self.layer.loop.call_exception_handler(
                    {"message": f"error handling a datagram from {addr}", "exception": error}
                )

    ##= https://www.rfc-editor.org/rfc/rfc5626#section-8
    ##% If a server compliant to this section receives SIP requests on a
    ##% given interface and UDP port, it MUST also provide a limited version
    ##% of a STUN server on the same interface and UDP port.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-5.4
    ##% All edge proxies compliant with this specification MUST implement
    ##% support for STUN NAT keep-alives on their SIP UDP ports as described
    ##% in Section 8.
    def _answer_stun(self, data: bytes, addr: tuple[str, int]) -> None:
        """A STUN Binding request on our SIP port: answer it here (RFC 5626 §8); a
        datagram starting with 0 or 1 is never SIP, so anything else is dropped."""
        self.layer.stun_requests += 1
        reply = binding_response(data, addr[0], addr[1])
        if reply is not None:
            with contextlib.suppress(OSError):
                self.sendto(reply, addr)

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        """Send one datagram; queued (bounded) when the socket buffer is full."""
        if self._closed:
            raise OSError(f"UDP listening point {self.point.address} is closed")
        if not self._backlog:
            try:
                self.sock.sendto(data, addr)
                return
            except (BlockingIOError, InterruptedError):
                self.layer.loop.add_writer(self.sock.fileno(), self._write_ready)
        if len(self._backlog) >= 10_000:
            raise OSError("UDP send backlog full")
        self._backlog.append((data, addr))

    def _write_ready(self) -> None:
        backlog = self._backlog
        while backlog:
            data, addr = backlog[0]
            try:
                self.sock.sendto(data, addr)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.layer.icmp_errors += 1
            del backlog[0]
        self.layer.loop.remove_writer(self.sock.fileno())

    def is_closing(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = self.layer.loop
        loop.remove_reader(self.sock.fileno())
        if self._backlog:
            loop.remove_writer(self.sock.fileno())
        self._backlog = []
        self.sock.close()


class StreamConnection(asyncio.Protocol):
    """One TCP or TLS connection, opened or accepted, with its framer and limits."""

    def __init__(
        self,
        layer: TransportLayer,
        transport_name: str,
        local: ListeningPoint | None,
        remote: Address | None = None,
    ) -> None:
        self.layer = layer
        self.transport_name = transport_name
        self.local = local
        # The far end's address: known before connecting, or from the peer name.
        self.remote = remote
        self.outgoing = remote is not None
        self.transport: asyncio.Transport | None = None
        self.source: Source | None = None
        limits = layer.limits
        self.framer = StreamFramer(
            limits.max_header_bytes, limits.max_body_bytes, client=self.outgoing
        )
        self.last_activity = layer.loop.time()
        # When the framer started holding an unfinished message (None: holds nothing).
        self.partial_since: float | None = None
        # Writes waiting for the connection to be established, and their error callbacks.
        self._pending: list[bytes] = []
        self._on_error: list[ErrorCallback] = []
        self.closed = False
        self.close_reason: str | None = None
        # Never closed for idleness: a flow kept alive by its UA (RFC 5626 §4.4).
        self.keep_open = False
        # Accepted on a TLS listening point: the handshake comes after admission.
        self.server_tls = False
        self.handshaking = False
        self._early: list[bytes] = []

    def __repr__(self) -> str:
        return f"<StreamConnection {self.transport_name} {self.remote} open={self.is_open}>"

    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.closed

    @property
    def connecting(self) -> bool:
        return self.transport is None and not self.closed

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        layer = self.layer
        if self.remote is None:
            peer = transport.get_extra_info("peername")
            self.remote = Address(self.transport_name, peer[0], peer[1])
            if self.server_tls:
                # Admitted (and counted) before the costly handshake, which runs after.
                transport.pause_reading()
                if layer._admit(self, transport, handshake=True):
                    layer._start_task(self._handshake(transport))
                return
            if not layer._admit(self, transport):
                return
        self._established(transport)

    async def _handshake(self, raw: asyncio.Transport) -> None:
        """The server side of the TLS handshake on an admitted connection."""
        layer = self.layer
        self.handshaking = True
        try:
            secure = await layer.loop.start_tls(
                raw,
                self,
                layer.server_ssl,  # type: ignore[arg-type]
                server_side=True,
                # A peer that never finishes the handshake is dropped like a slow one.
                ssl_handshake_timeout=layer.limits.message_timeout,
            )
        except asyncio.CancelledError:
            raw.abort()  # the layer is closing
            raise
        except (OSError, ssl.SSLError, TimeoutError, ValueError) as error:
            raw.abort()
            self.close_reason = self.close_reason or f"TLS handshake failed: {error!r}"
            self.connection_lost(error)
            return
        finally:
            self.handshaking = False
            layer._handshake_done(self)
        if self.closed or secure is None:
            raw.abort()
            return
        self._established(secure)

    def _established(self, transport: asyncio.Transport) -> None:
        if self.transport is transport:
            return  # some Pythons' start_tls also calls connection_made
        layer = self.layer
        self.transport = transport
        assert self.remote is not None
        self.source = Source(self.remote, self.local, self)
        self.last_activity = layer.loop.time()
        # Let the buffer grow to the bound before asyncio asks us to pause.
        transport.set_write_buffer_limits(high=layer.limits.max_write_buffer)
        pending, self._pending = self._pending, []
        for data in pending:
            self.write(data)
        self._on_error = []
        early, self._early = self._early, []
        for data in early:
            self.data_received(data)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
    ##% Therefore, the client
    ##% transport MUST be prepared to receive the response on the same
    ##% connection used to send the request.
    def data_received(self, data: bytes) -> None:
        if self.source is None:
            # TLS data decrypted before start_tls has returned the secure transport.
            self._early.append(data)
            return
        layer = self.layer
        now = layer.loop.time()
        self.last_activity = now
        try:
            events = self.framer.feed(data)
        except FramingError as error:
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
            ##% The Content-
            ##% Length header field MUST be used with stream oriented transports.
            # A stream that cannot be framed cannot be resynchronized: drop it.
            self.abort(f"framing error: {error}")
            return
        for event in events:
            if event.__class__ is bytes:
                try:
                    layer.receiver(event, self.source)  # type: ignore[arg-type]
                except Exception as error:  # one bad message does not end the connection
                    layer.loop.call_exception_handler(
                        {
                            "message": f"error handling a message from {self.remote}",
                            "exception": error,
                        }
                    )
                if self.closed:
                    return
            elif event.is_ping:  # type: ignore[union-attr]
                ##= https://www.rfc-editor.org/rfc/rfc5626#section-5.4
                ##% When a server receives a double CRLF sequence between SIP messages on
                ##% a connection-oriented transport such as TCP or SCTP, it MUST
                ##% immediately respond with a single CRLF over the same connection.
                self.write(b"\r\n")
            elif layer.on_pong is not None:
                # A pong: the keep-alive of an outbound flow hears of it (RFC 5626 §4.4.1).
                layer.on_pong(self)
        self.partial_since = (self.partial_since or now) if self.framer.buffered else None

    def pause_writing(self) -> None:
        # The peer does not read and the write buffer passed its bound.
        self.abort("peer does not read (write buffer above max_write_buffer)")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.close_reason is None:
            self.close_reason = "reset" if exc is not None else "closed by peer"
        self.layer._forget(self)
        self._fail(exc or ConnectionResetError("connection closed"))

    # -- used by the layer

    def write(self, data: bytes, on_error: ErrorCallback | None = None) -> bool:
        """Write ``data`` (queued while connecting); False when the connection is gone."""
        if self.closed:
            return False
        transport = self.transport
        if transport is None:
            self._pending.append(data)
            if on_error is not None:
                self._on_error.append(on_error)
            return True
        if transport.is_closing():
            return False
        transport.write(data)
        self.last_activity = self.layer.loop.time()
        if transport.get_write_buffer_size() > self.layer.limits.max_write_buffer:
            self.abort("peer does not read (write buffer above max_write_buffer)")
            return False
        return True

    def connect_failed(self, exc: Exception) -> None:
        self.closed = True
        self.close_reason = f"connect failed: {exc!r}"
        self.layer._forget(self)
        self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        callbacks, self._on_error = self._on_error, []
        self._pending = []
        for callback in callbacks:
            callback(exc)

    def close(self, reason: str = "closed") -> None:
        """Close gracefully (pending writes are flushed)."""
        if self.close_reason is None:
            self.close_reason = reason
        if self.transport is not None:
            self.transport.close()
        self.closed = True
        self.layer._forget(self)

    def abort(self, reason: str) -> None:
        """Drop the connection at once, discarding what it holds."""
        if self.close_reason is None:
            self.close_reason = reason
        self.layer.dropped_connections += 1
        if self.transport is not None:
            self.transport.abort()
        self.closed = True
        self.layer._forget(self)


class TransportLayer:
    """Every socket of one element: listening points and stream connections (§18).

    ``receiver(data, source)`` gets every received message's bytes.
    """

    def __init__(
        self,
        receiver: Receiver,
        *,
        limits: TransportLimits | None = None,
        server_ssl: ssl.SSLContext | None = None,
        client_ssl: ssl.SSLContext | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.receiver = receiver
        self.limits = limits or TransportLimits()
        self.server_ssl = server_ssl
        self.client_ssl = client_ssl
        self.loop = loop or asyncio.get_running_loop()
        self.listening_points: list[ListeningPoint] = []
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-18
        ##% These connections are indexed by the tuple formed from the address,
        ##% port, and transport protocol at the far end of the connection.
        self.connections: dict[Address, StreamConnection] = {}
        self._connect_tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        # Fair admission: accepted connections and pending TLS handshakes per source IP.
        self._per_source: dict[str, int] = {}
        self._handshakes: dict[str, int] = {}
        self._counted: set[StreamConnection] = set()
        self._handshaking: set[StreamConnection] = set()
        # Hooks for RFC 5626 outbound flows: a CRLF pong received on a connection, a
        # connection gone (closed, reset, failed to connect), a UDP datagram that is not
        # SIP (first byte below 0x40: STUN, RFC 5626 §8).  None: nothing to tell.
        self.on_pong: Callable[[StreamConnection], None] | None = None
        self.on_connection_closed: Callable[[StreamConnection], None] | None = None
        self.on_stun: Receiver | None = None
        # RFC 5626 §8: answer STUN Binding requests on the UDP listening points.
        self.stun_server = False
        # Counters for tests and logs.
        self.stun_requests = 0
        self.icmp_errors = 0
        self.refused_connections = 0
        self.dropped_connections = 0

    # -- listening ---------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18
    ##% All SIP elements MUST implement UDP and TCP.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18
    ##% SIP elements MAY
    ##% implement other protocols.
    ##= https://www.rfc-editor.org/rfc/rfc3581#section-7
    ##% If they are sensitive, requests SHOULD be protected by
    ##% using SIP over TLS [1].
    async def listen(self, transport: str, host: str, port: int = 0) -> ListeningPoint:
        """Open a listening point for ``transport`` on ``host:port`` with its driver.

        A UDP socket, a TCP or TLS server, or what a registered driver opens.
        Port 0 picks a free port; the returned point says which.  ValueError
        for a transport without a driver.
        """
        transport = transport.upper()
        driver = self._driver(transport)
        host = unbracketed(host)
        point = ListeningPoint(Address(transport, host, port))
        handle, bound_port = await driver.listen(self, point)
        point.address = Address(transport, host, bound_port)
        point.handle = handle
        self.listening_points.append(point)
        self._start_sweeper()
        return point

    def _driver(self, transport: str) -> TransportDriver:
        """The driver of ``transport``; ValueError when it has none."""
        info = transport_info(transport)
        if info is None or info.driver is None:
            raise ValueError(f"transport {transport!r} is not supported (no driver registered)")
        return info.driver

    def _set_buffers(self, sock: socket.socket) -> None:
        size = self.limits.socket_buffer
        if size is None:
            return
        for force, plain in ((33, socket.SO_RCVBUF), (32, socket.SO_SNDBUF)):
            # SO_RCVBUFFORCE (33) / SO_SNDBUFFORCE (32) pass net.core.*mem_max when allowed.
            try:
                sock.setsockopt(socket.SOL_SOCKET, force, size)
            except OSError:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, plain, size)

    def listening_point(self, transport: str, family: int | None = None) -> ListeningPoint | None:
        """The first listening point for ``transport`` (and address family), if any."""
        for point in self.listening_points:
            if point.transport == transport and (family is None or point.address.family == family):
                return point
        return None

    # -- sending -----------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
    ##% If a request is destined to an IP address, port, and transport to
    ##% which an existing connection is open, it is RECOMMENDED that this
    ##% connection be used to send the request, but another connection MAY be
    ##% opened and used.
    def send(
        self,
        data: bytes,
        destination: Address,
        *,
        connection: StreamConnection | None = None,
        local: ListeningPoint | None = None,
        on_error: ErrorCallback | None = None,
    ) -> None:
        """Send one message's bytes to ``destination``.

        UDP goes out of ``local`` when given (RFC 3581 §4), else the listening
        point of the destination's family.  Streams use ``connection`` if it is
        open, else an open connection to ``destination``, else a new one.
        ``on_error`` hears of a failure that is known only later (connect).
        """
        info = transport_info(destination.transport)
        if info is None or not (info.stream or _connected(info)):
            self._send_datagram(data, destination, local, on_error)
            return
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.3
        ##% For protocols that don't use TLS, if the UAC has an existing flow to
        ##% this IP address, and port with the correct protocol, then the UAC
        ##% MUST use the existing connection.
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.3
        ##% If the
        ##% UAC cannot use one of the existing flows, then it SHOULD form a new
        ##% flow by sending a datagram or opening a new connection to the next
        ##% hop, as appropriate for the transport protocol.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.2
        ##% Assuming that the client has completed the registration process described in the
        ##% preceding section, it SHOULD reuse the TLS connection to the local proxy server when
        ##% it sends an INVITE request to another user.
        if connection is None or not connection.is_open:
            connection = self.connections.get(destination)
            if connection is None or connection.closed:
                connection = self.connect(destination)
        if not connection.write(data, on_error) and on_error is not None:
            on_error(ConnectionResetError(f"connection to {destination} is closed"))

    def _send_datagram(
        self,
        data: bytes,
        destination: Address,
        local: ListeningPoint | None,
        on_error: ErrorCallback | None,
    ) -> None:
        transport = destination.transport
        if local is None or local.transport != transport:
            local = self.listening_point(transport, destination.family)
        if local is None:
            error = OSError(f"no {transport} listening point for {destination}")
            if on_error is None:
                raise error
            on_error(error)
            return
        try:
            local.handle.sendto(data, (destination.host, destination.port))
        except OSError as error:
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.4
            ##% Host, network, port or protocol
            ##% unreachable errors, or parameter problem errors SHOULD cause the
            ##% transport layer to inform the transport user of a failure in sending.
            if on_error is None:
                raise
            on_error(error)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18
    ##% When a connection is opened by the transport layer, this index is set to
    ##% the destination IP, port and transport.
    def connect(self, destination: Address) -> StreamConnection:
        """Start opening a connection to ``destination``; writes queue until it is up."""
        transport = destination.transport
        info = transport_info(transport)
        if info is None or not (info.stream or _connected(info)):
            raise ValueError(f"{transport} is not a stream transport")
        driver = self._driver(transport)
        local = self.listening_point(transport, destination.family)
        connection_class = getattr(driver, "connection_class", None) or StreamConnection
        connection = connection_class(self, transport, local, destination)
        self.connections[destination] = connection
        self._start_task(driver.connect(self, connection))
        return connection

    def _start_task(self, coroutine: Any) -> None:
        """Run a connect or handshake coroutine; :meth:`close` cancels what is left."""
        task = self.loop.create_task(coroutine)
        self._connect_tasks.add(task)
        task.add_done_callback(self._connect_tasks.discard)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18
    ##% When the connection is accepted by the transport layer, this index is set to
    ##% the source IP address, port number, and transport.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.4
    ##% No matter what security solutions are deployed, floods of messages
    ##% directed at proxy servers can lock up proxy server resources and
    ##% prevent desirable traffic from reaching its destination.
    def _admit(
        self, connection: StreamConnection, transport: asyncio.Transport, handshake: bool = False
    ) -> bool:
        """Index an accepted connection, or refuse it: too many in all, too many from its
        source once the table is half full (fair admission), or -- before a TLS
        handshake -- too many handshakes pending in all or from its source."""
        assert connection.remote is not None
        limits = self.limits
        host = connection.remote.host
        per_source = limits.max_connections_per_source or max(8, limits.max_connections // 16)
        pending_cap = max(8, limits.max_pending_handshakes // 16)
        total = len(self.connections)
        reason = None
        if total >= limits.max_connections:
            reason = "too many connections"
        elif total >= limits.max_connections // 2 and self._per_source.get(host, 0) >= per_source:
            reason = "too many connections from this source"
        elif handshake and (
            len(self._handshaking) >= limits.max_pending_handshakes
            or self._handshakes.get(host, 0) >= pending_cap
        ):
            reason = "too many TLS handshakes pending"
        if reason is not None:
            self.refused_connections += 1
            connection.closed = True
            connection.close_reason = reason
            transport.abort()
            return False
        self.connections[connection.remote] = connection
        self._counted.add(connection)
        self._per_source[host] = self._per_source.get(host, 0) + 1
        if handshake:
            self._handshaking.add(connection)
            self._handshakes[host] = self._handshakes.get(host, 0) + 1
        return True

    def _handshake_done(self, connection: StreamConnection) -> None:
        if connection in self._handshaking:
            self._handshaking.discard(connection)
            _count_down(self._handshakes, connection.remote.host)  # type: ignore[union-attr]

    def _forget(self, connection: StreamConnection) -> None:
        remote = connection.remote
        if remote is not None and self.connections.get(remote) is connection:
            del self.connections[remote]
            if self.on_connection_closed is not None:
                self.on_connection_closed(connection)
        if connection in self._counted:
            self._counted.discard(connection)
            _count_down(self._per_source, remote.host)  # type: ignore[union-attr]
        self._handshake_done(connection)

    # -- housekeeping ------------------------------------------------------

    def _start_sweeper(self) -> None:
        if self._sweeper is None:
            self._sweeper = self.loop.call_later(self._sweep_interval(), self._sweep)

    def _sweep_interval(self) -> float:
        limits = self.limits
        return max(0.05, min(1.0, limits.message_timeout / 4, limits.idle_timeout / 4))

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18
    ##% It is RECOMMENDED that connections be kept open for some
    ##% implementation-defined duration after the last message was sent or
    ##% received over that connection.
    def _sweep(self) -> None:
        """Close idle connections and those whose unfinished message is too old."""
        now = self.loop.time()
        limits = self.limits
        for connection in list(self.connections.values()):
            if connection.connecting:
                continue
            if (
                connection.partial_since is not None
                and now - connection.partial_since > limits.message_timeout
            ):
                connection.abort("message not completed within message_timeout")
            elif now - connection.last_activity > limits.idle_timeout and not connection.keep_open:
                connection.close("idle")
        self._sweeper = self.loop.call_later(self._sweep_interval(), self._sweep)

    async def close(self) -> None:
        """Close every connection and listening point."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for task in list(self._connect_tasks):
            task.cancel()
        for connection in list(self.connections.values()):
            connection.abort("transport layer closed")
        points, self.listening_points = self.listening_points, []
        closing = [self._driver(point.transport).close(point.handle) for point in points]
        await asyncio.gather(*closing, return_exceptions=True)
        # Let the closed transports run their connection_lost callbacks.
        await asyncio.sleep(0)


def _count_down(counts: dict[str, int], key: str) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)


# -- drivers: how each transport's sockets are opened -----------------------------------


def _connected(info: TransportInfo) -> bool:
    """True for a message-oriented transport carried over connections (WebSocket)."""
    return getattr(info.driver, "connection_class", None) is not None


class TransportDriver:
    """The asyncio side of one transport: opens its listening points and connections.

    Register one with :func:`register_transport`.  A message-oriented
    transport's listening handle has ``sendto(data, (host, port))`` and hands
    each message it receives to ``layer.receiver(data, source)``; a stream
    transport's connections are :class:`StreamConnection` (framed by §18.3).
    A message-oriented transport over connections (RFC 7118 WebSocket) names
    its :class:`StreamConnection` subclass in ``connection_class``.
    """

    connection_class: type[StreamConnection] | None = None

    async def listen(self, layer: TransportLayer, point: ListeningPoint) -> tuple[Any, int]:
        """Open ``point`` (port 0: any free one); return its handle and the port bound."""
        raise NotImplementedError

    async def connect(self, layer: TransportLayer, connection: StreamConnection) -> None:
        """Establish ``connection`` to its ``remote`` (stream transports only).

        On failure call ``connection.connect_failed(error)``.
        """
        connection.connect_failed(ValueError(f"{connection.transport_name} opens no connections"))

    async def close(self, handle: Any) -> None:
        """Close a listening handle this driver opened."""
        handle.close()


class UdpDriver(TransportDriver):
    """UDP: one :class:`UdpSocket` per listening point, one message per datagram (§18.3)."""

    async def listen(self, layer: TransportLayer, point: ListeningPoint) -> tuple[Any, int]:
        host, port = point.address.host, point.address.port
        sock = socket.socket(point.address.family, socket.SOCK_DGRAM)
        try:
            layer._set_buffers(sock)
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        handle = UdpSocket(layer, point, sock)
        return handle, handle.get_extra_info("sockname")[1]


class StreamDriver(TransportDriver):
    """TCP, or TLS over TCP when ``tls``: asyncio servers and connections."""

    def __init__(self, *, tls: bool = False) -> None:
        self.tls = tls

    async def listen(self, layer: TransportLayer, point: ListeningPoint) -> tuple[Any, int]:
        tls = self.tls
        if tls and layer.server_ssl is None:
            raise ValueError("TLS listening point needs a server SSL context (RFC 3261 §26)")
        transport = point.address.transport

        def accept() -> StreamConnection:
            connection = StreamConnection(layer, transport, point)
            # TLS starts once the connection is admitted (StreamConnection._handshake), so
            # that pending handshakes are counted and bounded per source.
            connection.server_tls = tls
            return connection

        server = await layer.loop.create_server(
            accept,
            point.address.host,
            point.address.port,
            family=point.address.family,
            reuse_address=True,
            backlog=1024,
        )
        return server, server.sockets[0].getsockname()[1]

    async def connect(self, layer: TransportLayer, connection: StreamConnection) -> None:
        destination = connection.remote
        if destination is None:
            raise ValueError("an outgoing connection needs its remote address")
        tls = self.tls
        if tls and layer.client_ssl is None:
            connection.connect_failed(ValueError("TLS needs a client SSL context"))
            return
        try:
            await asyncio.wait_for(
                layer.loop.create_connection(
                    lambda: connection,
                    destination.host,
                    destination.port,
                    ssl=layer.client_ssl if tls else None,
                    server_hostname=destination.host if tls else None,
                    ssl_handshake_timeout=layer.limits.message_timeout if tls else None,
                ),
                layer.limits.connect_timeout,
            )
        except (TimeoutError, OSError, ssl.SSLError) as error:
            connection.connect_failed(error)

    async def close(self, handle: Any) -> None:
        handle.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(handle.wait_closed(), 2.0)


def register_transport(
    name: str,
    *,
    default_port: int,
    reliable: bool,
    stream: bool,
    secure: bool = False,
    uri_param: str | None = None,
    driver: TransportDriver,
) -> TransportInfo:
    """Make transport ``name`` usable: its facts (see TransportInfo) and its driver.

    The facts of a transport already known (SCTP, WS, ...) must match what is
    registered; a second driver for one transport raises ValueError.
    """
    if not isinstance(driver, TransportDriver):
        raise TypeError(f"driver must be a TransportDriver, not {type(driver).__name__}")
    return register_transport_info(
        TransportInfo(name, default_port, reliable, stream, secure, uri_param, driver)
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-18
##% All SIP elements MUST implement UDP and TCP.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18
##% SIP elements MAY
##% implement other protocols.
register_transport(
    "UDP", default_port=5060, reliable=False, stream=False, uri_param="udp", driver=UdpDriver()
)
register_transport(
    "TCP", default_port=5060, reliable=True, stream=True, uri_param="tcp", driver=StreamDriver()
)
register_transport(
    "TLS",
    default_port=5061,
    reliable=True,
    stream=True,
    secure=True,
    uri_param="tcp",
    driver=StreamDriver(tls=True),
)
