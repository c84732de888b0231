"""The dispatcher: transport below, transactions above, the TU beside (RFC 3261 §18, RFC 3581).

Theory of operation
-------------------
A :class:`Dispatcher` is one SIP element's engine.  It owns a
:class:`rfc3261.asyncio.transport.TransportLayer` (sockets) and a
:class:`rfc3261.transaction_layer.TransactionLayer` (the sans-I/O state
machines), drives the transactions' timers from the event loop clock
(``loop.time()``), and tells the transaction user (TU: a UA core, a proxy
core) what happened by calling the methods of a :class:`TransactionUser`.

Received bytes are parsed here.  A request that cannot be parsed is answered
with a 400 (``message.bad_request_response``) when it can be, a response that
cannot be parsed is dropped (§18.3).  A request then gets its top Via stamped
with ``received`` (§18.2.1) and ``rport`` (RFC 3581 §4) before the transaction
layer sees it; a response whose top Via is not ours is dropped (§18.1.2).

The TU talks to the dispatcher with four calls:

``send_request(request, destination)``
    Start a client transaction.  The dispatcher fills in the top Via (creating
    it with a fresh branch when there is none): transport and sent-by of our
    listening point (§18.1.1), ``rport`` for UDP (RFC 3581 §3); a request over
    1300 bytes bound for UDP goes over TCP instead (§18.1.1).  Returns the
    :class:`ClientTransaction`; its responses come back to
    :meth:`TransactionUser.on_response`.
``send_response(transaction, response)``
    Answer a request through its server transaction; the response is routed
    by its top Via and the connection the request came on (§18.2.2).
``send_stateless_request(request, destination)`` / ``send_stateless_response(response, source)``
    The same without a transaction: the ACK for a 2xx, 2xx retransmissions by
    a UAS core (§13.3.1.4), a stateless proxy.

and hears back through :class:`TransactionUser` (a base class whose methods do
nothing; the TU overrides what it needs):

- ``on_request(request, transaction, source)``: a new request with its server
  transaction; an ACK comes with ``transaction`` None when it matches no server
  transaction, or with the INVITE server transaction that passes it up in the
  "Accepted" state of RFC 6026;
- ``on_response(response, transaction)``: ``transaction`` None for a stray
  response (§18.1.2);
- ``on_timeout(transaction, timer)``, ``on_transport_failure(transaction)``,
  ``on_terminated(transaction)``, ``on_retry(old, new)`` (§18.1.1 UDP retry).

Destinations are :class:`rfc3261.asyncio.transport.Address` values (transport, IP
literal, port); :func:`address_for_uri` makes one from a SIP URI with an IP
address host.  Names are the resolver's (``resolver=``; RFC 3263 over DNS is
:class:`rfc3261.asyncio.dns.DnsResolver`).  A :class:`Source` says
where a request came from; it is what ``send_stateless_response`` routes by.
Also for the TU: ``dispatcher.transactions`` (the TransactionLayer, e.g.
``find_cancel_target``), ``contact_uri(transport)``, ``local_point(transport)``
and :func:`new_branch`.  Start with ``await dispatcher.listen("sip:127.0.0.1:5060")``
and end with ``await dispatcher.close()``.

A core that owns its own transaction layer (the sans-I/O
:class:`rfc3261.ua_core.UserAgent` and :class:`rfc3261.proxy.Proxy`) runs on
:class:`CoreHost` instead: the same transport, parsing, Via rules and timer,
with the core's effects carried out as its adapter contract says.  Both
classes share :class:`Endpoint`.

Everything runs on one asyncio event loop; no method blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import ParseError
from ..headers import Via
from ..message import Request, Response, bad_request_response, parse
from ..params import Parameters
from ..timers import DEFAULT_TIMERS, TimerValues
from ..transaction import (
    MAGIC_COOKIE,
    RequestReceived,
    ResponseReceived,
    SendMessage,
    Terminated,
    Timeout,
    TransportFailure,
)
from ..transaction_layer import TransactionLayer, sends_first, server_key_from_bytes
from ..transports import default_port, is_stream, route_response, transport_for_uri
from ..uri import SipURI, parse_uri
from . import websocket  # noqa: F401  (registers the WS and WSS transports, RFC 7118)
from .resolver import IpLiteralResolver, Resolver, address_for_uri, resolve_destination
from .transport import (
    UDP_SIZE_LIMIT,
    Address,
    ListeningPoint,
    Source,
    StreamConnection,
    TransportLayer,
    TransportLimits,
    bracketed,
    is_ip_address,
    is_multicast,
    same_ip,
    unbracketed,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..transaction import Effect, Transaction
    from ..transaction_client import ClientTransaction
    from ..transaction_server import ServerTransaction

__all__ = [
    "CORE_CLOCK",
    "Address",
    "CoreHost",
    "Dispatcher",
    "Endpoint",
    "SentByName",
    "Source",
    "TransactionUser",
    "address_for_uri",
    "new_branch",
    "resolve_destination",
    "response_target",
    "stamp_via",
]


# Branches whose target is remembered (RFC 3263 §4); the oldest are forgotten first.
PINNED_BRANCHES = 8192


def _branch_of(request: Request) -> str | None:
    try:
        return request.top_via.branch
    except (ParseError, ValueError, LookupError):
        return None


def _bytes_of(request: Request, token: Any) -> bytes:
    """The request's bytes: those its transaction made already (``token.wire``), if any."""
    wire = getattr(token, "wire", None)
    return wire if wire is not None else bytes(request)


def _lineage(request: Request) -> tuple[str, str, str]:
    """What a request and its retries share (§8.1.3.5): Call-ID, method, Request-URI."""
    try:
        return request.call_id, request.method, str(request.uri)
    except (ParseError, ValueError, LookupError):
        return "", request.method, str(request.uri)


def new_branch() -> str:
    """A fresh branch parameter: the magic cookie and 64 random bits (§8.1.1.7)."""
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
    ##% The branch ID inserted by an element compliant with this
    ##% specification MUST always begin with the characters "z9hG4bK".
    return MAGIC_COOKIE + secrets.token_hex(8)


class SentByName(ValueError):
    """A response must go to a sent-by that is a domain name (RFC 3263 §5)."""


def response_target(
    via: Via, source: Source | None
) -> tuple[Address, StreamConnection | None, ListeningPoint | None]:
    """Where a response with top Via ``via`` goes: (address, connection, local point) (§18.2.2).

    ``source`` is where the request came from (None for a stateless element
    that no longer knows).  The connection is the one to reuse, if any; the
    local point is the socket to send from (RFC 3581 §4).  The rules are
    :func:`rfc3261.transports.route_response`; a sent-by that is a name
    raises ValueError (RFC 3263 §5 is a resolver's business).
    """
    connection = source.connection if source is not None else None
    route = route_response(
        via,
        connection_open=connection is not None and connection.is_open,
        arrival_transport=source.transport if connection is not None else None,
    )
    if route.rule == "connection":
        return source.remote, connection, source.local  # type: ignore[union-attr]
    host = route.host or ""
    if route.rule in ("sent-by", "reliable") and not is_ip_address(host):
        raise SentByName(f"Via sent-by {host!r} is a name: RFC 3263 §5 needs a DNS resolver")
    port = route.port or default_port(route.transport)
    local = source.local if source is not None and route.from_arrival_point else None
    return Address(route.transport, host, port), None, local


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
##% When the server transport receives a request over any transport, it
##% MUST examine the value of the "sent-by" parameter in the top Via
##% header field value.
def stamp_via(via: Via, source: Source) -> Via | None:
    """The top Via with ``received`` and ``rport`` added as §18.2.1 and RFC 3581 §4 say.

    None when nothing needs to change.
    """
    source_ip = source.remote.host
    rport = via.rport
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
    ##% If the host portion of the "sent-by" parameter
    ##% contains a domain name, or if it contains an IP address that differs
    ##% from the packet source address, the server MUST add a "received"
    ##% parameter to that Via header field value.
    ##= https://www.rfc-editor.org/rfc/rfc7118#section-5.3
    ##% If the host portion of the "sent-by"
    ##% field contains a domain name, or if it contains an IP address that
    ##% differs from the packet source address, the server MUST add a
    ##% "received" parameter to that Via header field value.
    ##= https://www.rfc-editor.org/rfc/rfc3581#section-4
    ##% In fact, the server MUST insert a "received" parameter
    ##% containing the source IP address that the request came from, even if
    ##% it is identical to the value of the "sent-by" component.
    needs_received = rport is not None or not same_ip(via.host, source_ip)
    ##= https://www.rfc-editor.org/rfc/rfc3581#section-4
    ##% If this Via header field value contains an "rport" parameter
    ##% with no value, it MUST set the value of the parameter to the source
    ##% port of the request.
    ##= https://www.rfc-editor.org/rfc/rfc3581#section-4
    ##% Note that
    ##% this processing takes place independent of the transport protocol.
    needs_rport = rport == ""
    if not needs_received and not needs_rport:
        return None
    params = Parameters(via.params.items())
    if needs_received:
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
        ##% This parameter MUST
        ##% contain the source address from which the packet was received.
        ##= https://www.rfc-editor.org/rfc/rfc7118#section-5.3
        ##% This
        ##% parameter MUST contain the source address from which the packet
        ##% was received.
        params.set("received", source_ip)
    if needs_rport:
        ##= https://www.rfc-editor.org/rfc/rfc3581#section-5
        ##% response-port = "rport" [EQUAL 1*DIGIT]
        params.set("rport", str(source.remote.port))
    return Via(via.transport, via.host, via.port, params, via.protocol)


def _replace_top_via(request: Request, via: Via) -> None:
    request.replace_top_via(via)


class TransactionUser:
    """What the dispatcher tells the TU; override the methods you need (the defaults ignore).

    ``dispatcher`` is set when the Dispatcher is created with this TU.
    """

    dispatcher: Dispatcher

    def on_request(
        self, request: Request, transaction: ServerTransaction | None, source: Source
    ) -> None:
        """A new request with its server transaction, or an ACK for a 2xx.

        The ACK comes with no transaction, or with the INVITE server transaction
        in "Accepted" (RFC 6026).  The TU must answer every other request through
        :meth:`Dispatcher.send_response`.
        """

    def on_response(self, response: Response, transaction: ClientTransaction | None) -> None:
        """A response for a client transaction, or a stray one (transaction None, §18.1.2)."""

    def on_timeout(self, transaction: Transaction, timer: str) -> None:
        """Timer B, F, H (or L, M) ended ``transaction`` without the expected message."""

    def on_transport_failure(self, transaction: Transaction) -> None:
        """The transport could not send a message of ``transaction`` (§18.4)."""

    def on_terminated(self, transaction: Transaction) -> None:
        """``transaction`` is destroyed."""

    def on_retry(self, old: ClientTransaction, new: ClientTransaction) -> None:
        """A request switched to TCP for its size is retried over UDP as ``new`` (§18.1.1).

        ``old`` ended without further events; responses now come for ``new``
        (same request object, branch and key).
        """


class Endpoint:
    """What every element on the transport shares: sockets, parsing, Via rules, one timer.

    Subclasses say what a parsed request or response goes to
    (``_receive_request``, ``_receive_response``), what a send failure does
    (``_transport_error``) and what the timer does (``_timer_fired``).
    """

    def __init__(
        self,
        *,
        limits: TransportLimits | None = None,
        server_ssl: ssl.SSLContext | None = None,
        client_ssl: ssl.SSLContext | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.loop = loop or asyncio.get_running_loop()
        if resolver is not None and not isinstance(resolver, Resolver):
            raise TypeError(f"resolver must have an async resolve(destination), not {resolver!r}")
        # Turns URIs and next hops into the ordered targets to try (RFC 3263 §4 shape).
        self.resolver: Resolver = resolver or IpLiteralResolver()
        # An answer known without waiting (IP literals, a cache), when the resolver offers one.
        self._resolve_now: Callable[[Any], list[Address] | None] | None = getattr(
            self.resolver, "resolve_now", None
        )
        self._resolving: set[asyncio.Task[None]] = set()
        # Where each branch went (RFC 3263 §4): its retransmissions and CANCEL go there.
        # (A branch's target and the targets after it.)
        self._pinned: OrderedDict[str, tuple[Address, list[Address]]] = OrderedDict()
        # The servers left for the retry of a failed request (RFC 3263 §4.3).
        self._next_targets: OrderedDict[tuple[str, str, str], list[Address]] = OrderedDict()
        self.transport = TransportLayer(
            self.receive,
            limits=limits,
            server_ssl=server_ssl,
            client_ssl=client_ssl,
            loop=self.loop,
        )
        self._timer: asyncio.TimerHandle | None = None
        self._timer_when = 0.0
        # sent-by values (host lower-case, port) we insert into requests (§18.1.2).
        self._sent_by: set[tuple[str, int]] = set()
        # Counters for tests and logs.
        self.malformed = 0
        self.bad_requests_answered = 0
        self.foreign_responses = 0
        self.stateless_send_failures = 0

    # -- listening ---------------------------------------------------------

    async def listen(self, target: str | SipURI, *, with_tcp: bool = True) -> list[ListeningPoint]:
        """Listen on the address of a SIP(S) URI, e.g. ``sip:127.0.0.1:5070``.

        ``sips:`` listens for TLS, ``;transport=tcp`` for TCP only (any other
        registered transport likewise), anything else for UDP and (unless
        ``with_tcp`` is False) TCP on the same port.  Port 0 picks a free port;
        no port, the transport's default (§18.1.1).
        """
        uri = parse_uri(target) if isinstance(target, str) else target
        if not isinstance(uri, SipURI):
            raise ValueError(f"{target!r} is not a SIP or SIPS URI")
        host = unbracketed(uri.host)
        transport = transport_for_uri(uri.scheme, uri.transport)
        port = default_port(transport) if uri.port is None else uri.port
        if transport != "UDP" or not with_tcp:
            points = [await self.transport.listen(transport, host, port)]
        else:
            points = await self._listen_udp_and_tcp(host, port)
        for point in points:
            self._sent_by.add((point.address.host.lower(), point.address.port))
        return points

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
    ##% For any port and interface
    ##% that a server listens on for UDP, it MUST listen on that same port
    ##% and interface for TCP.
    async def _listen_udp_and_tcp(self, host: str, port: int) -> list[ListeningPoint]:
        for _attempt in range(20):
            udp = await self.transport.listen("UDP", host, port)
            try:
                tcp = await self.transport.listen("TCP", host, udp.address.port)
            except OSError:
                udp.handle.close()
                self.transport.listening_points.remove(udp)
                if port != 0:
                    raise
                continue
            return [udp, tcp]
        raise OSError(f"no port free for both UDP and TCP on {host}")

    @property
    def listening_points(self) -> list[ListeningPoint]:
        return self.transport.listening_points

    def local_point(self, transport: str, family: int | None = None) -> ListeningPoint:
        """Our listening point for ``transport`` (same family preferred), for Via and Contact."""
        transport = transport.upper()
        point = self.transport.listening_point(transport, family)
        if point is None:
            point = self.transport.listening_point(transport)
        if point is None:
            # A stream request with no server of its own: responses come on the
            # connection; sent-by names our address on another transport.
            point = self.transport.listening_point(
                "UDP", family
            ) or self.transport.listening_point("TCP", family)
        if point is None:
            raise RuntimeError("the dispatcher has no listening point; call listen() first")
        return point

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
    ##% A server SHOULD be prepared to receive requests on any IP address,
    ##% port and transport combination that can be the result of a DNS lookup
    ##% on a SIP or SIPS URI [4] that is handed out for the purposes of
    ##% communicating with that server.
    def contact_uri(self, transport: str = "UDP", user: str | None = None) -> str:
        """A URI reaching us over ``transport``, for Contact and Record-Route."""
        return self.local_point(transport).uri(user)

    def accept_sent_by(self, host: str, port: int) -> None:
        """Also take responses whose top Via names ``host:port`` as ours (§18.1.2)."""
        self._sent_by.add((unbracketed(host).lower(), port))

    # -- sending -------------------------------------------------------------------

    def send_stateless_response(self, response: Response, source: Source | None) -> None:
        """Send a response outside any transaction, routed as §18.2.2 says."""
        self._send_response(response, source, None)

    def _send_response(
        self,
        response: Response,
        source: Source | None,
        token: Any,
        via: Via | None = None,
        wire: bytes | None = None,
    ) -> None:
        """Route ``response`` by its top Via (or ``via``, the same value) and send it
        (``wire``: its bytes, when they are made already)."""
        via = via or response.top_via
        data = wire if wire is not None else bytes(response)
        try:
            address, connection, local = response_target(via, source)
        except SentByName as error:
            resolve_sent_by = getattr(self.resolver, "resolve_sent_by", None)
            if resolve_sent_by is None:
                self._failed(token, error)
                return
            ##= https://www.rfc-editor.org/rfc/rfc3263#section-5
            ##% The procedures here are invoked when a server attempts to send to that
            ##% location and that response fails (the specific conditions are
            ##% detailed in RFC 3261).
            self._spawn(self._resolve_sent_by_and_send(data, via, token))
            return
        except (ValueError, ParseError) as error:
            self._failed(token, error)
            return
        if (
            connection is None
            and is_stream(address.transport)
            and hasattr(self.resolver, "resolve_sent_by")
        ):
            # A new connection for a response: if it cannot be opened, RFC 3263 §5.

            def by_sent_by(error: Exception) -> None:
                ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
                ##% If that
                ##% connection attempt fails, the server SHOULD use the procedures
                ##% in [4] for servers in order to determine the IP address and
                ##% port to open the connection and send the response to.
                self._spawn(self._resolve_sent_by_and_send(data, via, token))  # type: ignore[arg-type]

            self.transport.send(data, address, local=local, on_error=by_sent_by)
            return
        self._send(data, address, token, connection, local)

    async def _resolve_sent_by_and_send(self, data: bytes, via: Via, token: Any) -> None:
        try:
            targets = await self.resolver.resolve_sent_by(via)  # type: ignore[attr-defined]
        except Exception as error:  # whatever the resolver raises, the send failed
            self._failed(token, error)
            return
        ##= https://www.rfc-editor.org/rfc/rfc3263#section-5
        ##% As in
        ##% the client processing, the next entry in the list is tried if the one
        ##% before it results in a failure.
        ##= https://www.rfc-editor.org/rfc/rfc3263#section-5
        ##% If that
        ##% results in a failure, the next entry on the list is tried.
        self._send_in_turn(data, targets, token)

    def _spawn(self, coroutine: Any) -> None:
        task = self.loop.create_task(coroutine)
        self._resolving.add(task)
        task.add_done_callback(self._resolving.discard)

    def _send(
        self,
        data: bytes,
        address: Address,
        token: Any,
        connection: StreamConnection | None = None,
        local: ListeningPoint | None = None,
    ) -> None:
        """Hand bytes to the transport; a failure goes to ``_transport_error(token)``.

        ``token`` is what the failure concerns (a transaction, an effect); None
        for a stateless message, whose failure is only counted.
        """
        if address.transport == "UDP":
            # A datagram fails at once or never (ICMP aside): no callback needed.
            try:
                self.transport.send(data, address, local=local)
            except OSError as error:
                self._failed(token, error)
            return
        on_error = self._stateless_error if token is None else self._error_for(token)
        self.transport.send(data, address, connection=connection, local=local, on_error=on_error)

    async def resolve(self, destination: Any) -> list[Address]:
        """The targets for ``destination``, in the order to try them (the resolver's answer)."""
        if isinstance(destination, Address):
            return [destination]
        if isinstance(destination, Source):
            return [destination.remote]
        targets = list(await self.resolver.resolve(destination))
        if not targets:
            raise ValueError(f"{destination!r}: the resolver found no target")
        return targets

    def _send_request(self, request: Request, destination: Any, token: Any) -> None:
        """Send ``request`` to ``destination`` through the resolver (§18.1.1, RFC 3263 §4).

        Address and Source are sent to as they are.  Anything else is resolved, at
        once when the resolver can, else in a task, unless the request's branch was
        already sent somewhere: its retransmissions, the ACK of a non-2xx and its
        CANCEL (same branch, §9.1) go where it went.
        """
        if isinstance(destination, Address):
            self._send(_bytes_of(request, token), destination, token)
            return
        if isinstance(destination, Source):
            self._send(
                _bytes_of(request, token), destination.remote, token, destination.connection
            )
            return
        if isinstance(request, Response):
            # A response a stateless element routes by its Via (§16.11): a name is §5's.
            host = getattr(destination, "host", "")
            if is_ip_address(host) or not hasattr(self.resolver, "resolve_sent_by"):
                try:
                    target = resolve_destination(destination)
                except ValueError as error:
                    self._failed(token, error)
                    return
                self._send_in_turn(bytes(request), [target], token)
            else:
                self._spawn(self._resolve_sent_by_and_send(bytes(request), request.top_via, token))
            return
        branch = _branch_of(request)
        entry = self._pinned.get(branch) if branch else None
        if entry is not None:
            pinned = entry[0]
            ##= https://www.rfc-editor.org/rfc/rfc3263#section-4
            ##% The procedures here MUST be done exactly once per transaction, where
            ##% transaction is as defined in [1].
            ##= https://www.rfc-editor.org/rfc/rfc3263#section-4
            ##% That is, once a SIP server has
            ##% successfully been contacted (success is defined below), all
            ##% retransmissions of the SIP request and the ACK for non-2xx SIP
            ##% responses to INVITE MUST be sent to the same host.
            ##= https://www.rfc-editor.org/rfc/rfc3263#section-4
            ##% Furthermore, a
            ##% CANCEL for a particular SIP request MUST be sent to the same SIP
            ##% server that the SIP request was delivered to.
            ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.4
            ##% When a server is contacted successfully, all retransmissions of the
            ##% request for the transaction, as well as ACK for a non-2xx final
            ##% response, and CANCEL requests for that transaction, MUST go to the
            ##% same server.
            self._match_via(request, pinned, token)
            self._send(_bytes_of(request, token), pinned, token)
            return
        queued = self._next_targets.pop(_lineage(request), None) if self._next_targets else None
        if queued:
            # A retry after a failure (RFC 3263 §4.3): the servers left, not a new lookup.
            self._send_located(request, queued, token)
            return
        resolve_now = self._resolve_now
        if resolve_now is not None:
            try:
                targets = resolve_now(destination)
            except ValueError as error:
                self._failed(token, error)
                return
            if targets:
                self._send_located(request, targets, token)
                return
        self._spawn(self._resolve_and_send(request, destination, token))

    async def _resolve_and_send(self, request: Request, destination: Any, token: Any) -> None:
        try:
            targets = await self.resolve(destination)
        except Exception as error:  # whatever the resolver raises, the send failed
            self._failed(token, error)
            return
        self._send_located(request, targets, token)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
    ##% The UAC SHOULD follow the procedures defined in [4] for stateful
    ##% elements, trying each address until a server is contacted.
    ##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
    ##% The client SHOULD try the first record.  If
    ##% an attempt should fail, based on the definition of failure in Section
    ##% 4.3, the next SHOULD be tried, and if that should fail, the next
    ##% SHOULD be tried, and so on.
    def _send_located(
        self, request: Request, targets: list[Address], token: Any, udp: Address | None = None
    ) -> None:
        """Send to the first target, pinning the branch there; on failure, the next.

        ``udp``: the target a request too large for it was moved off (to TCP): when
        its turn comes again, after TCP failed, it is tried as it is."""
        address, rest = targets[0], targets[1:]
        # (an element listening on no TCP at all keeps UDP: it could not take the
        # responses a connection of its own would bring back through a TCP listener)
        movable = address is not udp and address.transport == "UDP"
        movable = movable and self.transport.listening_point("TCP") is not None
        if movable and len(bytes(request)) > UDP_SIZE_LIMIT:
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
            ##% If a request is within 200 bytes of the path MTU, or if it is larger
            ##% than 1300 bytes and the path MTU is unknown, the request MUST be sent
            ##% using an RFC 2914 [43] congestion controlled transport protocol, such
            ##% as TCP.
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
            ##% If an element sends a request over TCP because of these message size
            ##% constraints, and that request would have otherwise been sent over
            ##% UDP, if the attempt to establish the connection generates either an
            ##% ICMP Protocol Not Supported, or results in a TCP reset, the element
            ##% SHOULD retry the request, using UDP.
            # A located target (a proxy's forwarded request; `send_request` switches its
            # own): TCP first, the UDP target next if the connection fails (`_match_via`
            # makes the top Via say which).
            udp = address
            address, rest = Address("TCP", address.host, address.port), [address, *rest]
        branch = _branch_of(request)
        if branch:
            self._pin(branch, address, rest)
        self._match_via(request, address, token)
        if not rest:
            self._send(_bytes_of(request, token), address, token)
            return

        def next_target(error: Exception) -> None:
            self.loop.call_soon(self._send_located, request, rest, token, udp)

        try:
            self.transport.send(_bytes_of(request, token), address, on_error=next_target)
        except (OSError, ValueError) as error:
            next_target(error)

    def _pin(self, branch: str, address: Address, rest: list[Address]) -> None:
        pinned = self._pinned
        pinned[branch] = (address, rest)
        pinned.move_to_end(branch)
        while len(pinned) > PINNED_BRANCHES:
            pinned.popitem(last=False)

    def next_target(self, request: Request) -> bool:
        """After ``request`` failed (RFC 3263 §4.3): is there a server left to retry it at?

        If so, the next new request of the same Call-ID, method and Request-URI (the
        core's retry, with a new branch) goes to the servers left, not a new lookup.
        """
        branch = _branch_of(request)
        entry = self._pinned.get(branch) if branch else None
        if entry is None or not entry[1]:
            return False
        lineage = _lineage(request)
        self._next_targets[lineage] = entry[1]
        self._next_targets.move_to_end(lineage)
        while len(self._next_targets) > PINNED_BRANCHES:
            self._next_targets.popitem(last=False)
        return True

    def _match_via(self, request: Request, address: Address, token: Any = None) -> None:
        """Make the top Via name the transport the resolver chose (§18.1.1).

        The core wrote its Via before the transport was known (NAPTR may choose
        TCP for a URI without a transport parameter).  The request object is
        changed in place and given back to the transaction (``token.transaction``),
        so that its retransmissions carry it too, also when it kept only the bytes
        made before (``Transaction.keep_request_as_bytes``).
        """
        via = request.top_via
        if via.transport.upper() == address.transport:
            return
        transaction = getattr(token, "transaction", None)
        if transaction is not None:
            transaction.request = request
        if getattr(token, "wire", None) is not None:
            token.wire = None  # made before this change: the request is serialised anew
        point = self.transport.listening_point(address.transport, address.family)
        if point is None:
            point = self.transport.listening_point(address.transport)
        host, port = (
            (via.host, via.port)
            if point is None
            else (
                bracketed(point.address.host),
                point.address.port,
            )
        )
        _replace_top_via(request, Via(address.transport, host, port, via.params, via.protocol))
        if is_stream(address.transport) and "Content-Length" not in request.headers:
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
            ##% If the request will be sent to the next hop using a stream-based
            ##% transport and the copy contains no Content-Length header field, the
            ##% proxy MUST insert one with the correct value for the body of the
            ##% request (see Section 20.14).
            request.headers.add("Content-Length", len(request.body))

    # RFC 3263 §4.3 tries the next target after a failure with a new request (new
    # branch).  Here (and in _send_located) only a target that fails before anything
    # was delivered (connection refused, no socket for its family) gives way to the
    # next, with the same bytes: no server saw the message, so no transaction is
    # duplicated.  After a 503 or a timeout the core retries with a new branch and
    # asks next_target() for the servers left (ServerFailover, Proxy.next_tuple).
    def _send_in_turn(self, data: bytes, targets: list[Address], token: Any) -> None:
        """Send to the first target; when that fails, to the next, and so on."""
        address, rest = targets[0], targets[1:]
        if not rest:
            self._send(data, address, token)
            return

        def next_target(error: Exception) -> None:
            self.loop.call_soon(self._send_in_turn, data, rest, token)

        try:
            self.transport.send(data, address, on_error=next_target)
        except (OSError, ValueError) as error:
            next_target(error)

    def _error_for(self, token: Any) -> Any:
        def on_error(error: Exception) -> None:
            # Reported later: the transaction may be inside a call right now.
            self.loop.call_soon(self._transport_error, token, error)

        return on_error

    def _stateless_error(self, error: Exception) -> None:
        # No transaction waits for a stateless message: count the failure only.
        self.stateless_send_failures += 1

    def _failed(self, token: Any, error: Exception) -> None:
        if token is None:
            self._stateless_error(error)
        else:
            self.loop.call_soon(self._transport_error, token, error)

    # -- receiving -----------------------------------------------------------------

    def receive(self, data: bytes, source: Source) -> None:
        """Take one received message's bytes (the transport layer calls this)."""
        try:
            message = parse(data)
        except ParseError as error:
            self._malformed(data, error, source)
            return
        try:
            if message.__class__ is Response:
                self._receive_response(message, source)  # type: ignore[arg-type]
            else:
                self._receive_request(message, source)  # type: ignore[arg-type]
        except ParseError as error:
            # A header the layer needed was unreadable (parsed lazily).
            self._malformed(data, error, source)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
    ##% If the message is a
    ##% response, it MUST be discarded.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
    ##% If the message is a request, the
    ##% element SHOULD generate a 400 (Bad Request) response.
    def _malformed(self, data: bytes, error: ParseError, source: Source) -> None:
        """Answer a request that failed to parse with a 400 if it can be; drop the rest."""
        self.malformed += 1
        if data[:4].upper() == b"SIP/":
            return
        response = bad_request_response(data, error)
        if response is None:
            return
        self.bad_requests_answered += 1
        try:
            via = response.top_via
            stamped = stamp_via(via, source)
            via = stamped or via
            address, connection, local = response_target(via, source)
            if not same_ip(address.host, source.remote.host) and source.connection is None:
                raise ValueError("an unparsed request is answered to its source only")
        except (ValueError, ParseError):
            # The Via cannot be trusted to route: answer where the packet came from.
            address, connection, local = source.remote, source.connection, source.local
        self.transport.send(
            bytes(response),
            address,
            connection=connection,
            local=local,
            on_error=self._stateless_error,
        )

    def _stamp(self, request: Request, source: Source) -> None:
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
        ##% When the server transport receives a request over any transport, it
        ##% MUST examine the value of the "sent-by" parameter in the top Via
        ##% header field value.
        ##= https://www.rfc-editor.org/rfc/rfc7118#section-5.3
        ##% When the server transport receives a request over any transport,
        ##% it MUST examine the value of the "sent-by" parameter in the top
        ##% Via header field value.
        stamped = stamp_via(request.top_via, source)
        if stamped is not None:
            _replace_top_via(request, stamped)

    ##= https://www.rfc-editor.org/rfc/rfc7118#section-5.3
    ##% Therefore, SIP WebSocket Clients MUST accept responses without such a
    ##% parameter in the top Via header regardless of whether the Via
    ##% "sent-by" field contains a domain name.
    def _is_ours(self, response: Response) -> bool:
        # Only sent-by is compared; a received parameter (or its absence) plays no part.
        via = response.top_via
        port = via.port or default_port(via.transport)
        if (unbracketed(via.host).lower(), port) in self._sent_by:
            return True
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.2
        ##% If the value of the "sent-by" parameter in
        ##% that header field value does not correspond to a value that the
        ##% client transport is configured to insert into requests, the response
        ##% MUST be silently discarded.
        self.foreign_responses += 1
        return False

    # -- time ----------------------------------------------------------------------

    def _arm(self, deadline: float | None) -> None:
        """Keep one event-loop timer armed for ``deadline`` (loop time) if it is earlier."""
        if deadline is None:
            return
        timer = self._timer
        if timer is not None:
            if self._timer_when <= deadline:
                return
            timer.cancel()
        self._timer_when = deadline
        self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        # asyncio may run a handle up to one clock tick early: never report a time
        # before the deadline, so that the timer does fire.
        self._timer_fired(max(self.loop.time(), self._timer_when))

    def _timer_fired(self, now: float) -> None:
        raise NotImplementedError

    def _receive_request(self, request: Request, source: Source) -> None:
        raise NotImplementedError

    def _receive_response(self, response: Response, source: Source) -> None:
        raise NotImplementedError

    def _transport_error(self, token: Any, error: Exception) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        """Stop the timer and pending resolutions, and close every socket."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._resolving):
            task.cancel()
        with contextlib.suppress(Exception):
            await self.transport.close()


class Dispatcher(Endpoint):
    """Transport, transaction layer and timer loop of one SIP element; see the module doc."""

    def __init__(
        self,
        tu: TransactionUser,
        *,
        timers: TimerValues = DEFAULT_TIMERS,
        send_100: bool = True,
        limits: TransportLimits | None = None,
        server_ssl: ssl.SSLContext | None = None,
        client_ssl: ssl.SSLContext | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        super().__init__(
            limits=limits,
            server_ssl=server_ssl,
            client_ssl=client_ssl,
            loop=loop,
            resolver=resolver,
        )
        self.tu = tu
        tu.dispatcher = self
        self.timers = timers
        self.transactions = TransactionLayer(timers, send_100=send_100)
        # Client transactions whose request moved from UDP to TCP for its size (§18.1.1).
        self._switched: dict[Any, Address] = {}

    # -- the TU's calls ------------------------------------------------------

    def send_request(self, request: Request, destination: Address) -> ClientTransaction:
        """Start a client transaction for ``request`` towards ``destination`` (§17.1, §18.1.1)."""
        destination, switched = self._prepare_request(request, destination)
        transaction, effects = self.transactions.send_request(
            request, destination, self.loop.time(), reliable=destination.reliable
        )
        if switched is not None:
            self._switched[transaction] = switched
        self._run(effects, None)
        self._reschedule()
        return transaction

    def send_response(self, transaction: ServerTransaction, response: Response) -> None:
        """Pass ``response`` to the server ``transaction`` it answers (§17.2)."""
        effects = self.transactions.send_response(transaction, response, self.loop.time())
        self._run(effects, None)
        self._reschedule()

    def send_stateless_request(self, request: Request, destination: Address) -> None:
        """Send a request outside any transaction (the ACK for a 2xx, §13.2.2.4)."""
        destination, _ = self._prepare_request(request, destination)
        self._send(bytes(request), destination, None)

    # -- sending ---------------------------------------------------------------

    def _prepare_request(
        self, request: Request, destination: Address
    ) -> tuple[Address, Address | None]:
        """Fill in the top Via (§18.1.1) and move large UDP requests to TCP."""
        via = self._our_via(request, destination.transport, destination.family)
        if destination.transport == "UDP" and is_multicast(destination.host):
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
            ##% A client that sends a request to a multicast address MUST add the
            ##% "maddr" parameter to its Via header field value containing the
            ##% destination multicast address, and for IPv4, SHOULD add the "ttl"
            ##% parameter with a value of 1.
            via.params.set("maddr", destination.host)
            if destination.family == socket.AF_INET:
                # Linux sends multicast with a TTL of 1 unless told otherwise.
                via.params.set("ttl", "1")
        _replace_top_via(request, via)
        if destination.transport != "UDP":
            return destination, None
        if len(bytes(request)) <= UDP_SIZE_LIMIT:
            return destination, None
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
        ##% If a request is within 200 bytes of the path MTU, or if it is larger
        ##% than 1300 bytes and the path MTU is unknown, the request MUST be sent
        ##% using an RFC 2914 [43] congestion controlled transport protocol, such
        ##% as TCP.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
        ##% If this causes a change in the transport protocol from the
        ##% one indicated in the top Via, the value in the top Via MUST be
        ##% changed.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-18
        ##% It has arisen out of the need to handle larger messages,
        ##% which MUST use TCP, as discussed below.
        tcp = Address("TCP", destination.host, destination.port)
        _replace_top_via(request, self._our_via(request, "TCP", destination.family))
        return tcp, destination

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
    ##% Before a request is sent, the client transport MUST insert a value of
    ##% the "sent-by" field into the Via header field.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
    ##% To
    ##% handle this case, the transport layer MUST also be prepared to
    ##% receive an incoming connection on the source IP address from which
    ##% the request was sent and port number in the "sent-by" field.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
    ##% For unreliable unicast transports, the client transport MUST be
    ##% prepared to receive responses on the source IP address from which the
    ##% request is sent (as responses are sent back to the source address)
    ##% and the port number in the "sent-by" field.
    ##= https://www.rfc-editor.org/rfc/rfc3581#section-3
    ##% When the client sends the request, if the request is sent using UDP,
    ##% the client MUST be prepared to receive the response on the same IP
    ##% address and port it used to populate the source IP address and source
    ##% port of the request.
    ##= https://www.rfc-editor.org/rfc/rfc3581#section-3
    ##% For backwards compatibility, the client MUST
    ##% still be prepared to receive a response on the port indicated in the
    ##% sent-by field of the topmost Via header field value, as specified in
    ##% Section 18.1.1 of SIP [1].
    def _our_via(self, request: Request, transport: str, family: int) -> Via:
        point = self.local_point(transport, family)
        vias = request.headers.typed("via")
        if vias:
            params = Parameters(vias[0].params.items())
        else:
            params = Parameters([("branch", new_branch())])
        if transport == "UDP" and "rport" not in params:
            ##= https://www.rfc-editor.org/rfc/rfc3581#section-3
            ##% A client, compliant to this specification (clients include UACs and
            ##% proxies), MAY include an "rport" parameter in the top Via header
            ##% field value of requests it generates.
            ##= https://www.rfc-editor.org/rfc/rfc3581#section-3
            ##% This parameter MUST have no
            ##% value; it serves as a flag to indicate to the server that this
            ##% extension is supported and requested for the transaction.
            params.set("rport", None)
        elif transport != "UDP" and params.get("rport", "\0") is None:
            params.remove("rport")
        address = point.address
        return Via(transport, bracketed(address.host), address.port, params)

    def _transport_error(self, transaction: Transaction, error: Exception) -> None:
        if transaction.terminated:
            return
        fallback = self._switched.pop(transaction, None)
        now = self.loop.time()
        if fallback is not None and isinstance(
            error, ConnectionRefusedError | ConnectionResetError
        ):
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
            ##% If an element sends a request over TCP because of these message size
            ##% constraints, and that request would have otherwise been sent over
            ##% UDP, if the attempt to establish the connection generates either an
            ##% ICMP Protocol Not Supported, or results in a TCP reset, the element
            ##% SHOULD retry the request, using UDP.
            self.transactions.transport_error(transaction, now)  # its effects are superseded
            request = transaction.request
            _replace_top_via(request, self._our_via(request, "UDP", fallback.family))
            new, effects = self.transactions.send_request(request, fallback, now, reliable=False)
            self.tu.on_retry(transaction, new)  # type: ignore[arg-type]
            self._run(effects, None)
        else:
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.4
            ##% If the transport user asks for a request to be sent over a reliable
            ##% transport, and the result is a connection failure, the transport
            ##% layer SHOULD inform the transport user of a failure in sending.
            self._run(self.transactions.transport_error(transaction, now), None)
        self._reschedule()

    # -- receiving -------------------------------------------------------------

    def receive(self, data: bytes, source: Source) -> None:
        """Take one received message's bytes; a retransmission of a non-INVITE request
        is recognised by its §17.2.3 key and absorbed without being parsed."""
        key = server_key_from_bytes(data)
        if key is not None:
            effects = self.transactions.receive_retransmission(key, self.loop.time())
            if effects is not None:
                self._run(effects, source)
                self._reschedule()
                return
        super().receive(data, source)

    def _receive_request(self, request: Request, source: Source) -> None:
        self._stamp(request, source)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
        ##% Next, the server transport attempts to match the request to a server
        ##% transaction.
        effects = self.transactions.receive_request(
            request, source, self.loop.time(), reliable=source.remote.reliable
        )
        self._run(effects, source)
        self._reschedule()

    def _receive_response(self, response: Response, source: Source) -> None:
        if not self._is_ours(response):
            return
        transactions = self.transactions
        if transactions.match_response(response) is None:
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.2
            ##% Otherwise, the response MUST be passed to the core (whether it be stateless
            ##% proxy, stateful proxy, or UA) for further processing.
            transactions.stray_responses += 1
            self.tu.on_response(response, None)
            return
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.2
        ##% If there is a
        ##% match, the response MUST be passed to that transaction.
        self._run(transactions.receive_response(response, self.loop.time()), source)
        self._reschedule()

    # -- effects and time ------------------------------------------------------

    def _run(self, effects: list[Effect], source: Source | None) -> None:
        """Carry out the effects of a transaction layer call.

        The transaction's own sends go first (``sends_first``): a TU that answers a new
        INVITE at once must not see its final response followed by the 100 (Trying).
        """
        tu = self.tu
        for effect in sends_first(effects):
            kind = effect.__class__
            if kind is SendMessage:
                message = effect.message  # type: ignore[union-attr]
                if message.__class__ is Response:
                    transaction = effect.transaction  # type: ignore[union-attr]
                    wire = effect.wire  # type: ignore[union-attr]
                    # A server transaction's responses carry the Via of its request
                    # (§8.2.6.2): reading it there saves parsing the response's copy
                    # (unless the transaction sends bytes: it has let its request go).
                    self._send_response(
                        message,  # type: ignore[arg-type]
                        effect.destination,  # type: ignore[union-attr]
                        transaction,
                        None if transaction is None or wire else transaction.request.top_via,
                        wire,
                    )
                else:
                    self._send(bytes(message), effect.destination, effect.transaction)  # type: ignore[union-attr]
            elif kind is RequestReceived:
                transaction = effect.transaction  # type: ignore[union-attr]
                where = transaction.destination if transaction is not None else source
                tu.on_request(effect.request, transaction, where)  # type: ignore[union-attr, arg-type]
            elif kind is ResponseReceived:
                tu.on_response(effect.response, effect.transaction)  # type: ignore[union-attr, arg-type]
            elif kind is Timeout:
                tu.on_timeout(effect.transaction, effect.timer)  # type: ignore[union-attr]
            elif kind is TransportFailure:
                tu.on_transport_failure(effect.transaction)
            elif kind is Terminated:
                self._switched.pop(effect.transaction, None)
                tu.on_terminated(effect.transaction)

    def _reschedule(self) -> None:
        """Arm the timer for the transaction layer's earliest deadline."""
        self._arm(self.transactions.next_deadline())

    def _timer_fired(self, now: float) -> None:
        self._run(self.transactions.handle_timer(now), None)
        self._reschedule()


# The one clock of every core (UA, proxy, registrar): seconds since the epoch.  The
# registrar's bindings outlive the process (§10.3, the SQLite location service), so
# their expiry times must mean the same after a restart; the cores' timers only need
# differences, which the host turns into event-loop delays.
CORE_CLOCK: Callable[[], float] = time.time


class CoreHost(Endpoint):
    """Runs a sans-I/O core that owns its transaction layer (a UA core, a proxy) on sockets.

    This is the adapter both :class:`rfc3261.ua_core.UserAgent` and
    :class:`rfc3261.proxy.Proxy` describe.  The core offers ``receive(message,
    source, now)`` (or ``receive_request`` and ``receive_response``),
    ``next_deadline()``, ``handle_timer(now)`` and returns lists of effects.
    Every effect with ``message`` and ``destination`` is sent: a response to
    the :class:`Source` its request came from, routed as §18.2.2 says; a
    request to an :class:`Address`, a SIP URI or a next hop with ``transport``,
    ``host`` and ``port``, through the resolver: a branch's later messages go where
    it went, and ``next_target`` serves a core's retry after a failure (RFC 3263 §4,
    §4.3).  Any other effect goes to
    ``deliver``.  A send that fails is given to ``on_send_error(effect, now)``,
    whose effects are carried out too; by default it calls
    ``core.transport_error(effect.transaction, now)``.  ``clock`` is the
    core's clock: :data:`CORE_CLOCK` unless a test passes its own.

    Received requests get ``received``/``rport`` (§18.2.1, RFC 3581 §4) and
    responses are checked against our sent-by (§18.1.2) before the core sees
    them; the core writes its own Via (give it ``local_point(...)``, or call
    ``accept_sent_by`` for the names it uses).
    """

    def __init__(
        self,
        core: Any,
        deliver: Callable[[Any], None] | None = None,
        *,
        on_send_error: Callable[[Any, float], list[Any]] | None = None,
        clock: Callable[[], float] | None = None,
        limits: TransportLimits | None = None,
        server_ssl: ssl.SSLContext | None = None,
        client_ssl: ssl.SSLContext | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        super().__init__(
            limits=limits,
            server_ssl=server_ssl,
            client_ssl=client_ssl,
            loop=loop,
            resolver=resolver,
        )
        self.core = core
        self.deliver = deliver or (lambda effect: None)
        self.on_send_error = on_send_error or self._default_send_error
        self.clock = clock or CORE_CLOCK

    def _default_send_error(self, effect: Any, now: float) -> list[Any]:
        # The failure is reported a loop iteration later (or after a resolver's answer):
        # the transaction may have ended meanwhile, and an ended one has no TU to tell.
        transaction = getattr(effect, "transaction", None)
        if transaction is None or transaction.terminated:
            return []
        return self.core.transport_error(transaction, now)

    def run(self, effects: list[Any]) -> None:
        """Carry out a list of effects the core returned, then re-arm the timer."""
        for effect in effects:
            message = getattr(effect, "message", None)
            if message is None or not hasattr(effect, "destination"):
                self.deliver(effect)
                continue
            destination = effect.destination
            if isinstance(message, Response) and (
                destination is None or isinstance(destination, Source)
            ):
                wire = getattr(effect, "wire", None)
                self._send_response(message, destination, effect, wire=wire)
                continue
            self._send_request(message, destination, effect)
        deadline = self.core.next_deadline()
        if deadline is not None:
            # The core's clock may not be the loop's: convert through "how long from now".
            self._arm(self.loop.time() + max(0.0, deadline - self.clock()))

    def _receive_request(self, request: Request, source: Source) -> None:
        self._stamp(request, source)
        core = self.core
        receive = getattr(core, "receive_request", None) or core.receive
        self.run(receive(request, source, self.clock()))

    def _receive_response(self, response: Response, source: Source) -> None:
        if not self._is_ours(response):
            return
        core = self.core
        receive = getattr(core, "receive_response", None) or core.receive
        self.run(receive(response, source, self.clock()))

    def _transport_error(self, token: Any, error: Exception) -> None:
        self.run(self.on_send_error(token, self.clock()))

    def _timer_fired(self, now: float) -> None:
        self.run(self.core.handle_timer(self.clock()))
