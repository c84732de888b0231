"""A transaction-stateful proxy (RFC 3261 §16, RFC 5393), sans-I/O on the transaction layer.

Theory of operation
-------------------
:class:`Proxy` is the transaction user (TU) of a :class:`~rfc3261.transaction_layer.
TransactionLayer`.  A new request gets a server transaction; the proxy validates it
(§16.3), preprocesses its routing information (§16.4), determines the target set
(§16.5: the location service, or the Request-URI), and forwards one copy per target,
each on its own client transaction (§16.6, ten steps, one method each).  All of this
hangs on a :class:`ResponseContext` (one per server transaction); each forwarded copy
is a :class:`Branch`.  Responses from the client transactions are processed by §16.7
(best response, 6xx, aggregated challenges, 2xx forwarded at once), Timer C watches
INVITE branches (§16.8), a CANCEL cancels every pending branch (§16.10), and ACKs
for 2xx and responses without a transaction are forwarded statelessly (§16.11).
Forking is parallel (every target at once) or sequential (one target after another,
highest q first); RFC 5393 Max-Breadth bounds the concurrent branches, and the loop
check distinguishes spirals from loops by the "second part" of our branch parameter.
REGISTER requests for our domains go to the embedded :class:`~rfc3261.registrar.
Registrar` (§10.3) instead of being forwarded.

Each target is a :class:`Target`: a URI plus what forwarding to it needs besides the
URI -- a route set to push as Route values (RFC 3327 Path) and a flow token for the
edge (RFC 5626).  Extensions plug in per proxy instance as :class:`ProxyExtension`
objects: they shape the targets taken from the location service (§16.5) and see
each copy just before it is sent (§16.6 step 10).

Adapter contract (what the asyncio program on the transport dispatcher does)
--------------------------------------------------------------------------
Nothing here opens a socket or reads a clock.  The adapter:

1. parses each datagram / framed stream message (``rfc3261.message.parse``), answers
   unparsable requests itself (``bad_request_response``), and passes requests to
   :meth:`Proxy.receive_request` ``(request, source, now)`` and responses to
   :meth:`Proxy.receive_response` ``(response, source, now)``; ``source`` is opaque to
   the proxy (e.g. the transport connection or (transport, host, port)) and comes back
   as the destination of the responses sent on that server transaction.  The transport
   adds ``received``/``rport`` to the top Via before (§18.2.1, RFC 3581);
2. performs every :class:`Send` returned, in order: ``destination`` is either a source
   given earlier or a :class:`NextHop` (transport, host, port|None), which the adapter
   resolves with RFC 3263 (DNS NAPTR/SRV/A) when ``host`` is a name or ``port`` is None;
   a NextHop's ``flow`` (a token, or None) names a connection the adapter should send
   on instead while that connection is alive (RFC 5626);
   if sending fails it calls :meth:`Proxy.transport_error` with that Send;
3. sleeps until :meth:`Proxy.next_deadline` (None: nothing pending) and then calls
   :meth:`Proxy.handle_timer` ``(now)``, again performing the Sends returned.

``now`` is seconds since the epoch (``time.time()``): the same clock the registrar
uses for bindings; the transaction timers only need it to be monotonic in practice.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from .capabilities import require_check
from .digest_server import DigestAuthenticator
from .errors import ParseError
from .headers import Via
from .location import Binding, LocationService
from .message import Message, Request, Response
from .registrar import Registrar, RegistrarConfig, canonical_aor
from .timers import DEFAULT_TIMERS, TimerQueue, TimerValues
from .transaction import (
    MAGIC_COOKIE,
    Effect,
    RequestReceived,
    ResponseReceived,
    SendMessage,
    Terminated,
    Timeout,
    TransportFailure,
)
from .transaction_client import ClientTransaction
from .transaction_layer import TransactionLayer
from .transaction_server import ServerTransaction
from .transports import default_port, is_stream, route_response
from .uri import AbsoluteURI, SipURI, parse_uri, uri_equal

__all__ = [
    "Branch",
    "NextHop",
    "Proxy",
    "ProxyConfig",
    "ProxyExtension",
    "ResponseContext",
    "Send",
    "Target",
    "best_response",
    "via_destination",
]


@dataclass(frozen=True, slots=True)
class NextHop:
    """Where to send a request: transport, host and port (None: resolve by RFC 3263).

    ``flow``: a token naming a connection or flow to send on while it is alive
    (RFC 5626), from the :class:`Target`; None: use transport, host and port.
    """

    transport: str
    host: str
    port: int | None = None
    flow: str | None = None

    def __str__(self) -> str:
        port = "" if self.port is None else f":{self.port}"
        return f"{self.transport} {self.host}{port}"


@dataclass(frozen=True, slots=True)
class Target:
    """One element of the target set (§16.5): where a copy of the request goes.

    ``uri`` becomes the copy's Request-URI (§16.6 step 2); ``route_set`` is pushed, in
    order, in front of the copy's Route values (§16.6 step 6; the path vector of
    RFC 3327 §5.4); ``flow`` is handed to the edge on the :class:`NextHop` (RFC 5626);
    ``q`` is the preference it was registered with (§20.10), or None; ``binding`` the
    location binding it was made from, None for a Request-URI target.
    """

    uri: SipURI | AbsoluteURI
    route_set: tuple[str, ...] = ()
    flow: str | None = None
    q: float | None = None
    binding: Binding | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.uri, SipURI | AbsoluteURI):
            raise TypeError(f"Target.uri must be a parsed URI, not {self.uri!r}")
        if not isinstance(self.route_set, tuple):
            raise TypeError(f"Target.route_set must be a tuple, not {self.route_set!r}")

    @classmethod
    def from_binding(cls, binding: Binding) -> Target:
        """The default target for a location binding: its contact, route set (Path) and
        flow.  ValueError if the stored contact is not a URI."""
        return cls(parse_uri(binding.contact), binding.path, binding.flow, binding.q, binding)


class ProxyExtension:
    """Hooks of a :class:`Proxy` for an extension; override what you need."""

    def targets(self, request: Request, targets: list[Target]) -> list[Target]:
        """§16.5: the targets made from the location service's bindings for ``request``
        (highest q first, each with its ``binding``); return the list to use -- the
        same, filtered, reordered or with changed targets.  Duplicates are dropped
        afterwards."""
        return targets

    def before_forward(self, branch: Branch) -> int | None:
        """§16.6, after step 9: ``branch.request`` is the copy about to be sent to
        ``branch.hop`` for ``branch.target``; the hook may change the copy or replace
        the hop.  Return None to send it, or a final status (300-699, e.g. 430 Flow
        Failed, RFC 5626) to end the branch as if that response had arrived."""
        return None


@dataclass(slots=True)
class Send:
    """Pass ``message`` to the transport for ``destination`` (a source or a NextHop).

    ``transaction`` is the transaction that sends it (None for stateless forwarding);
    the adapter hands the Send back to :meth:`Proxy.transport_error` if sending fails.
    """

    message: Message
    destination: Any
    transaction: Any = None


@dataclass
class ProxyConfig:
    """Local configuration of a proxy."""

    # Our address: sent-by of our Via values and host of our Record-Route URIs.
    host: str
    port: int = 5060
    transport: str = "UDP"
    # The domains this proxy is responsible for (§16.4, §16.5).
    domains: frozenset[str] = frozenset()
    # Other host[:port] values that name this proxy (for Route and maddr checks).
    aliases: frozenset[str] = frozenset()
    record_route: bool = True
    forking: str = "parallel"  # or "sequential"
    timer_c: float = 181.0
    # Option-tags understood in Proxy-Require (§16.3 step 5).
    supported: frozenset[str] = frozenset()
    # RFC 5393 §5.3.3: the maximum allowable Incoming Max-Breadth.
    max_breadth: int = 60
    # §16.6 step 5: URIs of (loose-routing) proxies every forwarded request must visit.
    local_route: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.domains = frozenset(d.lower() for d in self.domains)
        if self.forking not in ("parallel", "sequential"):
            raise ValueError(f"forking must be 'parallel' or 'sequential', not {self.forking!r}")
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
        ##% The timer MUST be larger than 3 minutes.
        if self.timer_c <= 180:
            raise ValueError("Timer C must be larger than 3 minutes (RFC 3261 §16.6 step 10)")


@dataclass(eq=False)
class Branch:
    """One forwarded copy of the request: its client transaction and its state (§16.6)."""

    context: ResponseContext
    target: Target
    request: Request
    hop: NextHop
    transaction: ClientTransaction | None = None
    breadth: int = 1
    provisional: bool = False  # a provisional response arrived (a CANCEL may be sent)
    final: bool = False  # a final response arrived, or was assumed (408, 503)
    cancel_wanted: bool = False  # CANCEL once a provisional response arrives (§9.1)
    cancelled: bool = False  # a CANCEL was sent
    terminated: bool = False  # the client transaction is gone
    timer_c: float | None = None
    timer_c_abandon: bool = False  # Timer C now guards the CANCEL (64*T1, §9.1)


@dataclass(eq=False)
class ResponseContext:
    """Everything about one proxied request (§16): server transaction, targets, branches."""

    server: ServerTransaction
    request: Request  # as received, after the §16.4 preprocessing
    loop_part: str  # RFC 5393 "second part" of our branch parameters for this request
    targets: list[Target] = field(default_factory=list)
    next_target: int = 0
    branches: list[Branch] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    final_sent: bool = False
    no_new_branches: bool = False
    incoming_breadth: int = 60
    server_terminated: bool = False

    @property
    def outgoing_breadth(self) -> int:
        """RFC 5393 §5.3.2: Max-Breadth of the branches without a final response."""
        return sum(b.breadth for b in self.branches if not b.final)

    @property
    def pending(self) -> list[Branch]:
        return [b for b in self.branches if not b.final]


# -- helpers -------------------------------------------------------------------------


_default_port = default_port


def via_destination(via: Via) -> NextHop:
    """Where a response goes per a Via value, by §18.2.2 and RFC 3581 §4 (route_response).

    The proxy core knows no connections: over a reliable transport this is
    where to open a new one.  A sent-by name (port None: none given) is for
    the adapter to resolve (RFC 3263 §5).
    """
    route = route_response(via)
    return NextHop(route.transport, route.host or via.host, route.port)


def _set_routes(request: Request, values: list[str]) -> None:
    """Replace the Route values, keeping the header field where it was."""
    if values:
        request.headers.set("Route", ", ".join(values))
    else:
        request.headers.remove("Route")


def _hash(*parts: object) -> str:
    text = "\x00".join("" if p is None else str(p) for p in parts)
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##% It MUST choose from the 6xx class responses if any exist in the
##% context.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##% If no 6xx class responses are present, the proxy SHOULD choose from
##% the lowest response class stored in the response context.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##% The proxy MAY select any response within that chosen class.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##% The proxy SHOULD give preference to responses that provide information
##% affecting resubmission of this request, such as 401, 407, 415, 420, and
##% 484 if the 4xx class is chosen.
def best_response(responses: list[Response]) -> Response | None:
    """The "best" final response of a response context (§16.7 step 6); None if none."""
    if not responses:
        return None
    six = [r for r in responses if r.status >= 600]
    if six:
        return six[0]
    lowest = min(r.status // 100 for r in responses)
    candidates = [r for r in responses if r.status // 100 == lowest]
    if lowest == 4:
        preferred = [r for r in candidates if r.status in (401, 407, 415, 420, 484)]
        if preferred:
            return preferred[0]
    return candidates[0]


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.1
##% Requests forwarded between different types of transports where the
##% proxy's TU must take an active role in ensuring reliable delivery on
##% one of the transports MUST be forwarded transaction statefully.
class Proxy:
    """A stateful proxy for ``config.domains`` with an embedded registrar (by default).

    ``registrar``: None embeds a :class:`Registrar` on ``location`` for the proxy's
    domains; False embeds none (REGISTERs are proxied like any request).
    ``authenticator``: a :class:`DigestAuthenticator` with ``proxy=True`` to demand
    Proxy-Authorization (407) on every request but ACK, CANCEL and REGISTERs for the
    embedded registrar (which authenticates those itself, with 401).
    ``users``: tells whether a canonical AOR of our domains exists (404 if not, §16.5);
    None treats every AOR as existing (no bindings: 480).
    ``extensions``: :class:`ProxyExtension` objects, whose hooks run in this order.
    """

    def __init__(
        self,
        config: ProxyConfig,
        location: LocationService,
        *,
        registrar: Registrar | bool | None = None,
        authenticator: DigestAuthenticator | None = None,
        users: Callable[[str], bool] | None = None,
        timers: TimerValues = DEFAULT_TIMERS,
        extensions: Iterable[ProxyExtension] = (),
    ) -> None:
        self.config = config
        self.location = location
        self.extensions: tuple[ProxyExtension, ...] = tuple(extensions)
        for extension in self.extensions:
            if not isinstance(extension, ProxyExtension):
                raise TypeError(f"{extension!r} is not a ProxyExtension")
        if registrar is None or registrar is True:
            registrar = Registrar(location, RegistrarConfig(domains=config.domains))
        self.registrar: Registrar | None = registrar or None
        if authenticator is not None and not authenticator.proxy:
            raise ValueError("a proxy challenges with 407, not 401 (RFC 3261 §22.1)")
        self.authenticator = authenticator
        self.users = users
        self.layer = TransactionLayer(timers)
        self.timers = timers
        self.contexts: dict[ServerTransaction, ResponseContext] = {}
        self._branches: dict[ClientTransaction, Branch] = {}
        self._cancels: set[ClientTransaction] = set()  # CANCELs this proxy generated
        self._timer_c: TimerQueue[Branch] = TimerQueue()
        self._aliases = {a.lower() for a in config.aliases} | {
            f"{config.host.lower()}:{config.port}"
        }
        if config.port == _default_port(config.transport):
            self._aliases.add(config.host.lower())

    # == entry points =====================================================================

    def receive_request(self, request: Request, source: Any, now: float) -> list[Send]:
        """A request from the transport (already parsed)."""
        out: list[Send] = []
        self._run(self.layer.receive_request(request, source, now), now, out)
        return out

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% When a response is received by an element, it first tries to locate a
    ##% client transaction (Section 17.1.3) matching the response.  If none is
    ##% found, the element MUST process the response (even if it is an
    ##% informational response) as a stateless proxy (described below).
    def receive_response(self, response: Response, source: Any, now: float) -> list[Send]:
        """A response from the transport: to its client transaction, or statelessly on."""
        out: list[Send] = []
        if self.layer.match_response(response) is None:
            self._forward_response_statelessly(response, out)
            return out
        self._run(self.layer.receive_response(response, now), now, out)
        return out

    def transport_error(self, send: Send, now: float) -> list[Send]:
        """The transport could not send ``send`` (§18.4)."""
        out: list[Send] = []
        if send.transaction is not None and not send.transaction.terminated:
            self._run(self.layer.transport_error(send.transaction, now), now, out)
        return out

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`handle_timer` must be called; None if nothing pending."""
        deadline = self.layer.next_deadline()
        timer_c = self._timer_c.next_deadline()
        if timer_c is not None and (deadline is None or timer_c < deadline):
            deadline = timer_c
        return deadline

    def handle_timer(self, now: float) -> list[Send]:
        """Fire the transaction timers and Timer C entries due at ``now``."""
        out: list[Send] = []
        self._run(self.layer.handle_timer(now), now, out)
        for branch in self._timer_c.due(now):
            branch.timer_c = None
            self.timer_c_fired(branch, now, out)
        return out

    # == effects of the transaction layer ==================================================

    def _run(self, effects: list[Effect], now: float, out: list[Send]) -> None:
        """Carry out the layer's effects; TU events are handled here, sends go out."""
        for effect in effects:
            if isinstance(effect, SendMessage):
                out.append(Send(effect.message, effect.destination, effect.transaction))
            elif isinstance(effect, RequestReceived):
                if effect.request.method == "ACK":
                    # The ACK for a 2xx: no transaction of ours absorbs it (§17.2.3).
                    self._forward_ack_statelessly(effect.request, now, out)
                else:
                    self._on_request(effect.transaction, effect.request, now, out)  # type: ignore[arg-type]
            elif isinstance(effect, ResponseReceived):
                self._on_response(effect.transaction, effect.response, now, out)  # type: ignore[arg-type]
            elif isinstance(effect, Timeout):
                self._on_client_failure(effect.transaction, 408, now, out)  # type: ignore[arg-type]
            elif isinstance(effect, TransportFailure):
                if isinstance(effect.transaction, ClientTransaction):
                    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.9
                    ##% If the transport layer notifies a proxy of an error when it tries to
                    ##% forward a request (see Section 18.4), the proxy MUST behave as if the
                    ##% forwarded request received a 503 (Service Unavailable) response.
                    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.9
                    ##% The proxy SHOULD NOT cancel any outstanding client transactions
                    ##% associated with this response context due to this notification.
                    self._on_client_failure(effect.transaction, 503, now, out)
            elif isinstance(effect, Terminated):
                self._on_terminated(effect.transaction)

    def _respond(
        self, server: ServerTransaction, response: Response, now: float, out: list[Send]
    ) -> None:
        self._run(self.layer.send_response(server, response, now), now, out)

    # == a new request (§16.2 - §16.5) =====================================================

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.2
    ##% For all new requests, including any with unknown methods, an element
    ##% intending to proxy the request MUST:
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.2
    ##% The proxy core MUST behave as a UAS with respect to sending an
    ##% immediate provisional on that server transaction (such as 100 Trying)
    ##% as described in Section 8.2.6.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.2
    ##% Thus, a stateful proxy SHOULD NOT generate 100
    ##% (Trying) responses to non-INVITE requests.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.1
    ##% When responding directly to a request, the element is playing the
    ##% role of a UAS and MUST behave as described in Section 8.2.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.1
    ##% The proxy SHOULD NOT initiate a
    ##% CANCEL request.
    def _on_request(
        self, server: ServerTransaction, request: Request, now: float, out: list[Send]
    ) -> None:
        """A new request on server transaction ``server`` (the INVITE server transaction
        has already sent its 100 Trying, §17.2.1; non-INVITE gets none)."""
        if request.method == "CANCEL" and self.process_cancel(server, request, now, out):
            return
        try:
            # The loop part is computed on the request as received (RFC 5393 §4.2.1).
            loop_part = self.loop_part(request)
            self.validate(request, now, loop_part)  # §16.3
            request = self.preprocess_routing(request)  # §16.4
            targets = self.determine_targets(server, request, now, out)  # §16.5
        except _Answer as answer:
            self._respond(server, answer.make(request), now, out)
            return
        except ParseError as exc:
            self._respond(
                server, request.make_response(400, f"Bad Request ({exc})"[:120]), now, out
            )
            return
        if targets is None:
            return  # answered (the registrar)
        context = ResponseContext(server, request, loop_part, targets)
        context.incoming_breadth = self.incoming_max_breadth(request)
        self.contexts[server] = context
        self.start_branches(context, now, out)

    # -- §16.3 request validation -------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% Before an element can proxy a request, it MUST verify the message's
    ##% validity.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% If any of these checks fail, the element MUST behave as a user agent
    ##% server (see Section 8.2) and respond with an error code.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% Notice that a proxy is not required to detect merged requests and
    ##% MUST NOT treat merged requests as an error condition.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% A stateless proxy MUST validate a request as described in Section 16.3
    def validate(self, request: Request, now: float, loop_part: str | None = None) -> None:
        """§16.3: the six checks in order; a failing one raises :class:`_Answer`."""
        self.check_syntax(request)  # 1
        self.check_uri_scheme(request)  # 2
        self.check_max_forwards(request)  # 3
        self.check_loop(request, loop_part)  # 4
        self.check_proxy_require(request)  # 5
        self.check_proxy_authorization(request, now)  # 6

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% The request MUST be well-formed enough to be handled with a server
    ##% transaction.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% Any components involved in the remainder of these Request Validation
    ##% steps or the Request Forwarding section MUST be well-formed.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% Any other components, well-formed or not, SHOULD be ignored and remain
    ##% unchanged when the message is forwarded.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% An element MUST NOT refuse to proxy a request because it contains a
    ##% method or header field it does not know about.
    def check_syntax(self, request: Request) -> None:
        """Step 1: the header fields the proxy uses parse (ParseError gives a 400);
        unknown methods and header fields are not looked at."""
        request.max_forwards  # noqa: B018 -- parsing is the check
        request.route  # noqa: B018
        request.header("proxy-require")

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% If the Request-URI has a URI whose scheme is not understood by the
    ##% proxy, the proxy SHOULD reject the request with a 416 (Unsupported URI
    ##% Scheme) response.
    def check_uri_scheme(self, request: Request) -> None:
        """Step 2: only sip: and sips: Request-URIs are routed here (else 416)."""
        if not isinstance(request.uri, SipURI):
            raise _Answer(416)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% If the request contains a Max-Forwards header field with a field value
    ##% of zero (0), the element MUST NOT forward the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% Otherwise, the element MUST return a 483 (Too many hops) response.
    def check_max_forwards(self, request: Request) -> None:
        """Step 3: Max-Forwards 0 -> 483 (OPTIONS too: this proxy is no final recipient)."""
        if request.max_forwards == 0:
            raise _Answer(483)

    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.2
    ##% Proxies required to perform loop detection by RFC 5393 MUST perform
    ##% the following loop-detection test before forwarding a request.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.2
    ##% Each Via
    ##% header field value in the request whose sent-by value matches a value
    ##% placed into previous requests by this proxy MUST be inspected for the
    ##% "second part" defined in Section 4.2.1 of RFC 5393.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.2
    ##% If the second field is present, the proxy MUST perform the
    ##% second-part calculation described in Section 4.2.1 of RFC 5393 on
    ##% this request and compare the result to the value from the Via header
    ##% field.  If these values are equal, the request has looped and the
    ##% proxy MUST reject the request with a 482 (Loop Detected) response.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.1
    ##% When a SIP proxy forks a particular request to more than one
    ##% location, it MUST ensure that request is not looping through this
    ##% proxy.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.1
    ##% It is RECOMMENDED that proxies meet this requirement by performing
    ##% the loop-detection steps defined in this document.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.1
    ##% A SIP proxy forwarding a request to only one location MAY perform
    ##% loop detection but is not required to.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% An element MAY check for forwarding loops before forwarding a
    ##% request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% If a loop is detected, the element MAY return a 482 (Loop
    ##% Detected) response.
    def check_loop(self, request: Request, second: str | None = None) -> None:
        """Step 4: a Via of ours whose second part equals this request's: 482.

        A different second part means the request is spiralling (it came back with
        a different Request-URI or Route), which is legitimate.
        """
        for via in request.via:
            if not self.is_own_via(via):
                continue
            branch = via.branch or ""
            if "." not in branch:
                continue
            if second is None:
                second = self.loop_part(request)
            if branch.rsplit(".", 1)[1] == second:
                raise _Answer(482)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% If the request contains a Proxy-Require header field (Section 20.29)
    ##% with one or more option-tags this element does not understand, the
    ##% element MUST return a 420 (Bad Extension) response.  The response
    ##% MUST include an Unsupported (Section 20.40) header field listing those
    ##% option-tags the element did not understand.
    def check_proxy_require(self, request: Request) -> None:
        """Step 5: unknown Proxy-Require option-tags -> 420 with Unsupported."""
        if request.method in ("CANCEL", "ACK"):
            return  # §8.2.2.3: ignored in CANCEL and ACK
        refusal = require_check(request, self.config.supported, "Proxy-Require")
        if refusal is not None:
            raise _Answer(response=refusal)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
    ##% If an element requires credentials before forwarding a request,
    ##% the request MUST be inspected as described in Section 22.3.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
    ##% Similarly, when a UAC sends a request to a proxy server, the proxy
    ##% server MAY authenticate the originator before the request is
    ##% processed.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
    ##% but proxies MUST NOT
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
    ##% and instead MAY use the 407 (Proxy Authentication Required)
    ##% response.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
    ##% Servers MUST NOT attempt to challenge an ACK.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
    ##% For this reason, any credentials in the INVITE that were accepted by
    ##% a server MUST be accepted by that server for the ACK.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
    ##% Proxies MUST NOT add values to the Proxy-Authorization header field.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
    ##% Although the CANCEL method does take a response (a 2xx), servers MUST
    ##% NOT attempt to challenge CANCEL requests since these requests cannot
    ##% be resubmitted.
    def check_proxy_authorization(self, request: Request, now: float) -> None:
        """Step 6: with an authenticator, valid Proxy-Authorization or 407."""
        if self.authenticator is None or request.method in ("ACK", "CANCEL"):
            return
        if self._for_registrar(request):
            return  # the registrar authenticates REGISTERs itself (401, §10.3 step 3)
        _username, challenge = self.authenticator.authenticate(request, now)
        if challenge is not None:
            raise _Answer(response=challenge)

    # -- §16.4 route information preprocessing ------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
    ##% The proxy MUST inspect the Request-URI of the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
    ##% If the
    ##% Request-URI of the request contains a value this proxy previously
    ##% placed into a Record-Route header field (see Section 16.6 item 4),
    ##% the proxy MUST replace the Request-URI in the request with the last
    ##% value from the Route header field, and remove that value from the
    ##% Route header field.  The proxy MUST then proceed as if it received
    ##% this modified request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
    ##% If the first value in the Route header field indicates this proxy,
    ##% the proxy MUST remove that value from the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
    ##% If the Request-URI contains a maddr parameter, the proxy MUST check to
    ##% see if its value is in the set of addresses or domains the proxy is
    ##% configured to be responsible for.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
    ##% If the Request-URI has a maddr
    ##% parameter with a value the proxy is responsible for, and the request
    ##% was received using the port and transport indicated (explicitly or by
    ##% default) in the Request-URI, the proxy MUST strip the maddr and any
    ##% non-default port or transport parameter and continue processing as if
    ##% those values had not been present in the request.
    def preprocess_routing(self, request: Request) -> Request:
        """§16.4: undo a strict router's rewrite, strip our maddr, pop our Route value."""
        uri = request.uri
        routes = request.route
        if isinstance(uri, SipURI) and routes and self.is_own_uri(uri) and uri.user is None:
            # A strict router upstream put our Record-Route URI in the Request-URI.
            request.uri = routes[-1].uri
            _set_routes(request, [str(r) for r in routes[:-1]])
            uri = request.uri
        if isinstance(uri, SipURI) and uri.maddr is not None:
            maddr = uri.maddr.lower()
            if maddr in self.config.domains or maddr in self._aliases:
                stripped = uri.copy()
                stripped.params.remove("maddr")
                stripped.params.remove("transport")
                stripped.port = None
                request.uri = stripped
        routes = request.route
        if routes and self.is_own_uri(routes[0].uri):
            request.headers.remove_first("Route")
        return request

    # -- §16.5 determining request targets -----------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
    ##% If the Request-URI of the request contains an maddr parameter, the
    ##% Request-URI MUST be placed into the target set as the only target
    ##% URI, and the proxy MUST proceed to Section 16.6.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
    ##% If the domain of the Request-URI indicates a domain this element is
    ##% not responsible for, the Request-URI MUST be placed into the target
    ##% set as the only target, and the element MUST proceed to the task of
    ##% Request Forwarding (Section 16.6).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
    ##% If the target set for the request has not been predetermined as
    ##% described above, this implies that the element is responsible for the
    ##% domain in the Request-URI, and the element MAY use whatever mechanism
    ##% it desires to determine where to send the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
    ##% If a target URI is already present in the set (based on the
    ##% definition of equality for the URI type), it MUST NOT be added again.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
    ##% As above, any given URI MUST NOT be added to the set more than once.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
    ##% If the Request-URI indicates a resource at this proxy that does not
    ##% exist, the proxy MUST return a 404 (Not Found) response.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
    ##% If the target set remains empty after applying all of the above, the
    ##% proxy MUST return an error response, which SHOULD be the 480
    ##% (Temporarily Unavailable) response.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
    ##% A proxy MUST NOT add additional targets to the target set if the
    ##% Request-URI of the original request does not indicate a resource this
    ##% proxy is responsible for.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% If not, and if the server also acts as a proxy server, the
    ##% server SHOULD forward the request to the addressed domain,
    ##% following the general behavior for proxying messages described
    ##% in Section 16.
    def determine_targets(
        self, server: ServerTransaction, request: Request, now: float, out: list[Send]
    ) -> list[Target] | None:
        """§16.5: the target set; None when the request was answered here (REGISTER)."""
        uri = request.uri
        assert isinstance(uri, SipURI)
        if uri.maddr is not None:
            return [Target(uri)]
        if request.route:
            return [Target(uri)]  # loose routing: the next hop is the Route, the target unchanged
        if self._for_registrar(request):
            assert self.registrar is not None
            response = self.registrar.handle(request, now, source=server.destination)
            self._respond(server, response, now, out)
            return None
        if uri.host_lower not in self.config.domains:
            if self.is_own_uri(uri):
                raise _Answer(200 if request.method == "OPTIONS" else 404)
            return [Target(uri)]
        aor = canonical_aor(uri)
        assert aor is not None
        if self.users is not None and not self.users(aor):
            raise _Answer(404)
        found: list[Target] = []
        for binding in self.location.lookup(aor, now):
            try:
                found.append(Target.from_binding(binding))
            except ValueError:
                continue
        for extension in self.extensions:
            found = extension.targets(request, found)
        targets: list[Target] = []
        for target in found:
            if not isinstance(target, Target):
                raise TypeError(f"a ProxyExtension returned {target!r}, not a Target")
            if not any(uri_equal(target.uri, t.uri) for t in targets):
                targets.append(target)
        if not targets:
            raise _Answer(480)
        return targets

    def _for_registrar(self, request: Request) -> bool:
        return (
            request.method == "REGISTER"
            and self.registrar is not None
            and not request.route
            and self.registrar.is_responsible(request.uri)
        )

    # -- RFC 5393 Max-Breadth -------------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
    ##% If a SIP proxy receives a request with no Max-Breadth header field
    ##% value, it MUST add one, with a value that is RECOMMENDED to be 60.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
    ##% Proxies MUST have a maximum allowable Incoming
    ##% Max-Breadth value, which is RECOMMENDED to be 60.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
    ##% If this maximum is
    ##% exceeded in a received request, the proxy MUST overwrite it with a
    ##% value that SHOULD be no greater than its allowable maximum.
    def incoming_max_breadth(self, request: Request) -> int:
        """The Incoming Max-Breadth of a new response context (RFC 5393 §5.3.2)."""
        text = request.headers.get("Max-Breadth")
        try:
            value = int(text) if text is not None else self.config.max_breadth
        except ValueError:
            value = self.config.max_breadth
        return max(1, min(value, self.config.max_breadth))

    # == forwarding (§16.6) ===============================================================

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% As soon as the target set is non-empty, a proxy MAY begin forwarding
    ##% the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% It MAY process multiple targets serially, allowing each client
    ##% transaction to complete before starting the next.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% It MAY start client transactions with every target in parallel.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.1
    ##% A stateful proxy MAY choose to "fork" a request, routing it to
    ##% multiple destinations.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.1
    ##% Any request that is forwarded to more than one location MUST be
    ##% handled statefully.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
    ##% SIP proxies MUST NOT allow the Outgoing Max-Breadth to exceed the
    ##% Incoming Max-Breadth in a given response context.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
    ##% If a SIP proxy determines a response context has insufficient
    ##% Incoming Max-Breadth to carry out a desired parallel fork, and the
    ##% proxy is unwilling/unable to compensate by forking serially or
    ##% sending a redirect, that proxy MUST return a 440 (Max-Breadth
    ##% Exceeded) response.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3.1
    ##% Proxies SHOULD be prepared to reuse this Max-Breadth in cases where
    ##% there may be elements left in the target-set.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
    ##% A SIP proxy MAY distribute Max-Breadth in an arbitrary fashion
    ##% between active branches.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
    ##% A proxy SHOULD NOT use a smaller amount of Max-Breadth than was
    ##% present in the original request unless the Incoming Max-Breadth
    ##% exceeded the proxy's maximum acceptable value.
    def start_branches(self, context: ResponseContext, now: float, out: list[Send]) -> None:
        """Start as many branches as the forking mode and Max-Breadth allow.

        Parallel forking shares the Incoming Max-Breadth among the first targets; with
        more targets than Max-Breadth, the rest wait for branches to finish (serial
        compensation rather than a 440).  Sequential forking runs one branch at a time.
        """
        remaining = len(context.targets) - context.next_target
        if remaining <= 0 or context.no_new_branches or context.final_sent:
            return
        if self.config.forking == "sequential":
            if context.pending:
                return
            width = 1
        else:
            width = min(remaining + len(context.pending), context.incoming_breadth)
        share = max(1, context.incoming_breadth // max(1, width))
        if context.incoming_breadth == 1 or self.config.forking == "sequential":
            share = context.incoming_breadth
        while (
            context.next_target < len(context.targets)
            and context.outgoing_breadth + share <= context.incoming_breadth
            and (self.config.forking == "parallel" or not context.pending)
        ):
            target = context.targets[context.next_target]
            context.next_target += 1
            self.forward(context, target, share, now, out)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% For each target, the proxy forwards the request following these
    ##% steps:
    def forward(
        self,
        context: ResponseContext,
        target: Target,
        breadth: int,
        now: float,
        out: list[Send],
    ) -> Branch:
        """§16.6: forward one copy of the request to ``target`` (steps 1-10)."""
        copy = self.copy_request(context.request)  # 1
        self.set_request_uri(copy, target.uri)  # 2
        self.update_max_forwards(copy)  # 3
        self.add_record_route(copy)  # 4
        self.add_header_fields(copy, breadth)  # 5
        strict = self.postprocess_routing(copy, target.route_set)  # 6
        hop = self.next_hop(copy, strict)  # 7
        if target.flow is not None:
            hop = replace(hop, flow=target.flow)  # the edge sends on the flow (RFC 5626)
        self.add_via(copy, hop, context.loop_part)  # 8
        self.add_content_length(copy, hop)  # 9
        branch = Branch(context, target, copy, hop, breadth=breadth)
        context.branches.append(branch)
        for extension in self.extensions:
            status = extension.before_forward(branch)
            if status is not None:
                if not (isinstance(status, int) and 300 <= status <= 699):
                    raise ValueError(f"before_forward returned {status!r}, not a 300-699 status")
                self._assume_response(branch, status, now, out)
                return branch
        self.send_branch(branch, now, out)  # 10
        return branch

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The copy MUST initially contain all of the header fields from the
    ##% received request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% Fields not detailed in the processing described below
    ##% MUST NOT be removed.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The copy SHOULD maintain the ordering of the header
    ##% fields as in the received request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The proxy MUST NOT reorder field values with
    ##% a common field name (See Section 7.3.1).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The proxy MUST NOT add to,
    ##% modify, or remove the message body.
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
    ##% Proxies MUST be completely transparent in the Digest access
    ##% authentication scheme.
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
    ##% That is, they MUST forward the WWW-Authenticate, Authentication-Info,
    ##% and Authorization header fields untouched.
    def copy_request(self, request: Request) -> Request:
        """Step 1: a copy with every header field, in order, and the same body."""
        return Request(request.method, request.uri, request.headers.copy(), request.body)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The Request-URI in the copy's start line MUST be replaced with
    ##% the URI for this target.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If the URI contains any parameters
    ##% not allowed in a Request-URI, they MUST be removed.
    def set_request_uri(self, copy: Request, target: SipURI | AbsoluteURI) -> None:
        """Step 2: the target becomes the Request-URI (without method param or headers)."""
        if isinstance(target, SipURI):
            target = target.copy()
            # §19.1.1 Table 1: "method" and headers are not allowed in a Request-URI.
            target.params.remove("method")
            target.headers = []
        copy.uri = target

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If the copy contains a Max-Forwards header field, the proxy MUST
    ##% decrement its value by one (1).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If the copy does not contain a Max-Forwards header field, the
    ##% proxy MUST add one with a field value, which SHOULD be 70.
    def update_max_forwards(self, copy: Request) -> None:
        """Step 3: Max-Forwards minus one, or 70 when absent."""
        value = copy.max_forwards
        copy.headers.set("Max-Forwards", 70 if value is None else value - 1)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If this proxy wishes to remain on the path of future requests in a
    ##% dialog created by this request (assuming the request creates a
    ##% dialog), it MUST insert a Record-Route header field value into the
    ##% copy before any existing Record-Route header field values, even if
    ##% a Route header field is already present.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% A proxy MAY insert a Record-Route header field value into any request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The URI placed in the Record-Route header field value MUST be a SIP
    ##% or SIPS URI.  This URI MUST contain an lr parameter (see Section
    ##% 19.1.1).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The URI SHOULD NOT contain the transport parameter unless the
    ##% proxy has knowledge (such as in a private network) that the next
    ##% downstream element that will be in the path of subsequent requests
    ##% supports that transport.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The URI placed in the Record-Route header field MUST resolve to
    ##% the element inserting it (or a suitable stand-in) when the
    ##% server location procedures of [4] are applied to it, so that
    ##% subsequent requests reach the same SIP element.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If the
    ##% Request-URI contains a SIPS URI, or the topmost Route header
    ##% field value (after the post processing of bullet 6) contains a
    ##% SIPS URI, the URI placed into the Record-Route header field MUST
    ##% be a SIPS URI.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If a proxy needs to be in the path of any type of dialog (such as
    ##% one straddling a firewall), it SHOULD add a Record-Route header
    ##% field value to every request with a method it does not understand
    ##% since that method may have dialog semantics.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% Furthermore, if the request was not received over TLS, the proxy
    ##% MUST insert a Record-Route header field.
    def add_record_route(self, copy: Request) -> None:
        """Step 4: ``<sip(s):host:port;lr>`` on top of Record-Route (every method but
        REGISTER, which creates no dialog, and ACK/CANCEL, which answer nothing).

        A SIPS request is always record-routed: the proxy does not know here whether
        it arrived over TLS, and must record-route when it did not.
        """
        if copy.method in ("REGISTER", "ACK", "CANCEL"):
            return
        secure = isinstance(copy.uri, SipURI) and copy.uri.is_secure
        routes = copy.route
        if routes and isinstance(routes[0].uri, SipURI) and routes[0].uri.is_secure:
            secure = True
        if not self.config.record_route and not secure:
            return
        scheme = "sips" if secure else "sip"
        copy.headers.prepend("Record-Route", f"<{scheme}:{self._host_port()};lr>")

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The proxy MAY add any other appropriate header fields to the copy at
    ##% this point.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
    ##% All proxied requests MUST contain a single Max-Breadth header field
    ##% value.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.3
    ##% A proxy MUST NOT decrement Max-Breadth for each hop or
    ##% otherwise use it to restrict the "depth" of a request's propagation.
    def add_header_fields(self, copy: Request, breadth: int) -> None:
        """Step 5: the branch's share of Max-Breadth (RFC 5393 §5.3.3)."""
        if copy.method not in ("ACK", "CANCEL"):
            copy.headers.set("Max-Breadth", breadth)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% A proxy MAY have a local policy that mandates that a request visit a
    ##% specific set of proxies before being delivered to the destination.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% A proxy MUST ensure that all such proxies are loose routers.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% This set MUST be pushed into the Route header field
    ##% of the copy ahead of any existing values, if present.  If the
    ##% Route header field is absent, it MUST be added, containing that
    ##% list of URIs.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If the copy contains a Route header field, the proxy MUST
    ##% inspect the URI in its first value.  If that URI does not
    ##% contain an lr parameter, the proxy MUST modify the copy as
    ##% follows:
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The proxy MUST place the Request-URI into the Route header
    ##% field as the last value.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The proxy MUST then place the first Route header field value
    ##% into the Request-URI and remove that value from the Route
    ##% header field.
    def postprocess_routing(self, copy: Request, route_set: Iterable[str] = ()) -> bool:
        """Step 6: push the target's route set, then the local route set (loose routers
        only) in front of it; reformat for a strict router.  Returns True when the copy
        was reformatted for a strict router.

        The target's route set (a stored Path, RFC 3327 §5.4) goes ahead of the Route
        values of the request and behind the local route.
        """
        route_set = list(route_set)
        ##= https://www.rfc-editor.org/rfc/rfc3327#section-5.4
        ##% In the most common case, the home proxy generates the outgoing Route header
        ##% field by inserting the stored path vector ahead of the Route header
        ##% field values contained in the incoming request.
        ##= https://www.rfc-editor.org/rfc/rfc3327#section-5.4
        ##% In general, the stored path vector is appended to any locally configured
        ##% route needed to egress the service cluster.
        if route_set:
            _set_routes(copy, [*route_set, *(str(r) for r in copy.route)])
        if self.config.local_route:
            pushed = []
            for value in self.config.local_route:
                uri = parse_uri(value.strip("<>"))
                if not (isinstance(uri, SipURI) and uri.lr):
                    raise ValueError(f"local route {value!r} is not a loose router (;lr)")
                pushed.append(f"<{uri}>")
            _set_routes(copy, [*pushed, *(str(r) for r in copy.route)])
        routes = copy.route
        if not routes or not isinstance(routes[0].uri, SipURI) or routes[0].uri.lr:
            return False
        first = routes[0].uri
        _set_routes(copy, [*(str(r) for r in routes[1:]), f"<{copy.uri}>"])
        copy.uri = first
        return True

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If the proxy has reformatted the request to send to a strict-routing
    ##% element as described in step 6 above, the proxy MUST apply those
    ##% procedures to the Request-URI of the request.  Otherwise, the proxy
    ##% MUST apply the procedures to the first value in the Route header
    ##% field, if present, else the Request-URI.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% Independently of which URI is being used as input to the
    ##% procedures of [4], if the Request-URI specifies a SIPS resource,
    ##% the proxy MUST follow the procedures of [4] as if the input URI
    ##% were a SIPS URI.
    def next_hop(self, copy: Request, strict: bool = False) -> NextHop:
        """Step 7: transport, host and port from the top Route (if loose) or Request-URI.

        Resolving names (RFC 3263) is the adapter's job: an absent port stays None.
        """
        routes = copy.route
        uri = routes[0].uri if routes and not strict else copy.uri
        if not isinstance(uri, SipURI):
            raise _Answer(416)
        secure = uri.is_secure or (isinstance(copy.uri, SipURI) and copy.uri.is_secure)
        transport = (uri.transport or ("tls" if secure else "udp")).upper()
        if secure and transport in ("UDP", "TCP"):
            transport = "TLS"
        return NextHop(transport, uri.maddr or uri.host, uri.port)

    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
    ##% The proxy MUST insert a Via header field value into the copy before
    ##% the existing Via header field values.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
    ##% Such proxies SHOULD create a branch value
    ##% separable into two parts in any implementation-dependent way.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
    ##% The first part of the branch value MUST satisfy the constraints of
    ##% Section 8.1.1.7.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The proxy MUST insert a Via header field value into the copy
    ##% before the existing Via header field values.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% Thus, the branch parameter provided
    ##% with the Via header field inserted in step 8 MUST be different for
    ##% each attempt.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% A proxy choosing to detect loops SHOULD create a branch
    ##% parameter separable into two parts by the implementation.  The
    ##% first part MUST satisfy the constraints of Section 8.1.1.7 as
    ##% described above.
    def add_via(self, copy: Request, hop: NextHop, loop_part: str) -> None:
        """Step 8: our Via on top; branch = magic cookie, random part, ".", loop part."""
        branch = f"{MAGIC_COOKIE}{secrets.token_hex(8)}.{loop_part}"
        copy.headers.prepend("Via", f"SIP/2.0/{hop.transport} {self._host_port()};branch={branch}")

    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
    ##% This second part MUST vary with any field used by the location
    ##% service logic in determining where to retarget or forward this
    ##% request.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
    ##% Hence, the second part MUST depend at least on the received
    ##% Request-URI and any Route header field values used when processing
    ##% the received request.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
    ##% This second part MUST NOT vary with the request method.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The value placed in this part of the
    ##% branch parameter SHOULD reflect all of those fields (including
    ##% any Route, Proxy-Require and Proxy-Authorization header fields).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If a proxy wishes to detect loops, the "branch" parameter it
    ##% supplies MUST depend on all information affecting processing of a
    ##% request, including the incoming Request-URI and any header fields
    ##% affecting the request's admission or routing.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% The request method MUST NOT be included in the calculation of
    ##% the branch parameter.
    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.4
    ##% When forming the second part using a hash, implementations
    ##% SHOULD include at least one field in the input to the hash that
    ##% varies between different transactions attempting to reach the same
    ##% destination to avoid repeated failure should the hash collide.
    def loop_part(self, request: Request) -> str:
        """The RFC 5393 second part: a hash of what routes the request, not the method.

        Request-URI and Route as received, Proxy-Require, Proxy-Authorization, the From
        and To tags, Call-ID and CSeq number (which vary between transactions).
        """
        return _hash(
            request.uri,
            "|".join(request.headers.get_all("Route")),
            "|".join(request.headers.get_all("Proxy-Require")),
            "|".join(request.headers.get_all("Proxy-Authorization")),
            request.from_.tag,
            request.to.tag,
            request.call_id,
            request.cseq.number,
        )

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% If the request will be sent to the next hop using a stream-based
    ##% transport and the copy contains no Content-Length header field, the
    ##% proxy MUST insert one with the correct value for the body of the
    ##% request (see Section 20.14).
    def add_content_length(self, copy: Request, hop: NextHop) -> None:
        """Step 9: Content-Length for stream transports when it is missing."""
        if is_stream(hop.transport) and "Content-Length" not in copy.headers:
            copy.headers.add("Content-Length", len(copy.body))

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% A stateful proxy MUST create a new client transaction for this
    ##% request as described in Section 17.1 and instructs the
    ##% transaction to send the request using the address, port and
    ##% transport determined in step 7.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% Timer C MUST be set for each client transaction when an INVITE
    ##% request is proxied.
    def send_branch(self, branch: Branch, now: float, out: list[Send]) -> None:
        """Step 10: a new client transaction for the copy; Timer C for INVITE."""
        transaction, effects = self.layer.send_request(branch.request, branch.hop, now)
        branch.transaction = transaction
        self._branches[transaction] = branch
        if branch.request.method == "INVITE":
            self._set_timer_c(branch, now + self.config.timer_c)
        self._run(effects, now, out)

    def _set_timer_c(self, branch: Branch, deadline: float | None) -> None:
        branch.timer_c = deadline
        self._timer_c.schedule(branch, deadline)

    # == responses (§16.7) ================================================================

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% As client transactions pass responses to the proxy layer, the
    ##% following processing MUST take place:
    def _on_response(
        self, transaction: ClientTransaction, response: Response, now: float, out: list[Send]
    ) -> None:
        if transaction in self._cancels:
            return  # the response to our own CANCEL: nothing to forward (§16.7 step 3)
        branch = self._branches.get(transaction)  # step 1: find the context
        if branch is None:
            return
        self.process_response(branch, response, now, out)

    def process_response(
        self, branch: Branch, response: Response, now: float, out: list[Send]
    ) -> None:
        """§16.7 steps 2-10 for one response on ``branch``."""
        context = branch.context
        status = response.status
        # Step 2: Timer C.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
        ##% but this value MUST be greater than 3 minutes.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
        ##% For an INVITE transaction, if the response is a provisional response
        ##% with status codes 101 to 199 inclusive (i.e., anything but 100), the
        ##% proxy MUST reset timer C for that client transaction.
        if (
            branch.request.method == "INVITE"
            and 101 <= status <= 199
            and not branch.final
            and not branch.timer_c_abandon
        ):
            self._set_timer_c(branch, now + self.config.timer_c)
        if status < 200:
            branch.provisional = True
            if branch.cancel_wanted and not branch.cancelled and not branch.final:
                self.send_cancel(branch, now, out)
        # Step 3: Via.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
        ##% If no Via header field values remain in the response, the response
        ##% was meant for this element and MUST NOT be forwarded.
        response.headers.remove_first("Via")
        if not response.headers.get_all("Via"):
            return
        if status >= 200:
            already_final = branch.final
            branch.final = True
            self._set_timer_c(branch, None)
            if already_final and status >= 300:
                return  # e.g. the 487 after we assumed a 408 (Timer C)
        # Step 4: add to the context.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
        ##% If the proxy chooses to recurse on any contacts in a 3xx response by
        ##% adding them to the target set, it MUST remove them from the response
        ##% before adding the response to the response context.
        if status >= 300:
            context.responses.append(response)  # this proxy does not recurse on 3xx
        # Step 5: forward immediately?
        if (101 <= status <= 199 and not context.final_sent) or 200 <= status <= 299:
            self.forward_response(context, response, now, out)
        elif status >= 600:
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
            ##% If a 6xx response is received, it is not immediately forwarded,
            ##% but the stateful proxy SHOULD cancel all client pending
            ##% transactions as described in Section 10
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
            ##% and it MUST NOT create any new branches in this context.
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
            ##% A proxy SHOULD also generate a CANCEL request for all pending
            ##% client transactions associated with this response context when it
            ##% receives a 6xx response.
            context.no_new_branches = True
            self.cancel_pending(context, now, out)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
        ##% A stateful proxy MUST NOT immediately forward any other responses.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
        ##% In particular, a stateful proxy MUST NOT forward any 100 (Trying)
        ##% response.
        if status >= 300:
            self.start_branches(context, now, out)  # sequential forking: the next target
            self.choose_best_if_done(context, now, out)
        if status >= 200:
            self._forget_if_done(context)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% A stateful proxy MUST send a final response to a response context's
    ##% server transaction if no final responses have been immediately
    ##% forwarded by the above rules and all client transactions in this
    ##% response context have been terminated.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% The stateful proxy MUST choose the "best" final response among those
    ##% received and stored in the response context.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% If there are no final responses in the context, the proxy MUST send a
    ##% 408 (Request Timeout) response to the server transaction.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% Otherwise, the proxy MUST forward a response from the responses stored
    ##% in the response context.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% A proxy which receives a 503 (Service Unavailable) response SHOULD NOT
    ##% forward it upstream unless it can determine that any subsequent
    ##% requests it might proxy will also generate a 503.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% If the only response that was received is a 503, the proxy SHOULD
    ##% generate a 500 response and forward that upstream.
    def choose_best_if_done(self, context: ResponseContext, now: float, out: list[Send]) -> None:
        """§16.7 step 6: when no branch is pending and no target is left, the best."""
        if context.final_sent or context.pending:
            return
        if context.next_target < len(context.targets) and not context.no_new_branches:
            return
        best = best_response(context.responses)
        if best is None:
            best = context.server.request.make_response(408)
        elif best.status == 503:
            best = context.server.request.make_response(500)
        self.forward_response(context, best, now, out)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% Until a final response has been sent on the server transaction, the
    ##% following responses MUST be forwarded immediately:
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% After a final response has been sent on the server transaction, the
    ##% following responses MUST be forwarded immediately:
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% The forwarded response MUST be processed as described in steps
    ##% "Aggregate Authorization Header Field Values" through "Record-Route".
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% Any response chosen for immediate forwarding MUST be processed
    ##% as described in steps "Aggregate Authorization Header Field Values"
    ##% through "Record-Route".
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% The following processing MUST be performed on each response that is
    ##% forwarded.
    def forward_response(
        self, context: ResponseContext, response: Response, now: float, out: list[Send]
    ) -> None:
        """§16.7 steps 7-10 for a response chosen for forwarding."""
        self.aggregate_challenges(context, response)  # 7
        # 8: Record-Route values are not rewritten (a MAY; servers.annotations.toml).
        final = response.status >= 200
        self.send_upstream(context, response, now, out)  # 9
        if final:
            context.final_sent = True
            context.no_new_branches = True
            self.cancel_pending(context, now, out)  # 10

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% If the selected response is a 401 (Unauthorized) or 407 (Proxy
    ##% Authentication Required), the proxy MUST collect any WWW-Authenticate
    ##% and Proxy-Authenticate header field values from all other 401
    ##% (Unauthorized) and 407 (Proxy Authentication Required) responses
    ##% received so far in this response context and add them to this
    ##% response without modification before forwarding.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
    ##% Each WWW-Authenticate and Proxy-Authenticate value received in
    ##% responses to the forked request MUST be placed into the single
    ##% response that is sent by the forking proxy to the UA; the ordering of
    ##% these header field values is not significant.
    ##= https://www.rfc-editor.org/rfc/rfc8760#section-2.5
    ##% Each WWW-Authenticate and Proxy-Authenticate value
    ##% received in response to the forked request MUST be placed into the
    ##% single response that is sent by the forking proxy to the UAC.
    ##= https://www.rfc-editor.org/rfc/rfc8760#section-2.5
    ##% When the forking proxy places multiple WWW-Authenticate and
    ##% Proxy-Authenticate header fields received from one downstream proxy
    ##% into a single response, it MUST maintain the order of these header
    ##% fields.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
    ##% All 407 (Proxy Authentication Required) responses MUST be forwarded
    ##% upstream toward the UAC following the procedures for any other
    ##% response.
    def aggregate_challenges(self, context: ResponseContext, response: Response) -> None:
        """Step 7: a 401/407 carries every challenge of the context's other 401/407s."""
        if response.status not in (401, 407):
            return
        for other in context.responses:
            if other is response or other.status not in (401, 407):
                continue
            for name in ("WWW-Authenticate", "Proxy-Authenticate"):
                for value in other.headers.get_all(name):
                    response.headers.add(name, value)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% The proxy MUST pass the response to the server transaction
    ##% associated with the response context.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% If the server transaction is no
    ##% longer available to handle the transmission, the element MUST
    ##% forward the response statelessly by sending it to the server
    ##% transport.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% The proxy MUST NOT add to, modify, or remove the message body.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% In particular, the proxy MUST NOT remove any "received" parameter it
    ##% may have added to the next Via header field value while processing
    ##% the request associated with this response.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% Unless otherwise specified, the proxy MUST NOT remove any header field
    ##% values other than the Via header field value discussed in Section 16.7
    ##% Item 3.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% A proxy MUST NOT insert a tag into the To header field of a 1xx or 2xx
    ##% response if the request did not contain one.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% A proxy MUST NOT modify the tag in the To header field of a 1xx or 2xx
    ##% response.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% A proxy MUST NOT modify the To tag in any forwarded response to a
    ##% request that contains a To tag.
    def send_upstream(
        self, context: ResponseContext, response: Response, now: float, out: list[Send]
    ) -> None:
        """Step 9: to the server transaction (or statelessly when it is gone)."""
        if context.server_terminated:
            vias = response.via
            if vias:
                out.append(Send(response, via_destination(vias[0])))
            return
        self._respond(context.server, response, now, out)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% If the forwarded response was a final response, the proxy MUST
    ##% generate a CANCEL request for all pending client transactions
    ##% associated with this response context.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.10
    ##% A proxy MUST cancel any pending client transactions associated with a
    ##% response context when it receives a matching CANCEL request.
    def cancel_pending(self, context: ResponseContext, now: float, out: list[Send]) -> None:
        """Step 10: CANCEL every pending branch (INVITE only; others just finish)."""
        for branch in context.pending:
            if branch.request.method != "INVITE" or branch.cancelled:
                continue
            if branch.provisional:
                self.send_cancel(branch, now, out)
            else:
                branch.cancel_wanted = True  # §9.1: wait for a provisional response

    ##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.1
    ##% CANCEL and non-200 ACK requests MUST have the same branch parameter
    ##% value as the corresponding request they cancel or acknowledge.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
    ##% In particular, CANCEL and ACK requests (for non-2xx responses) MUST
    ##% have the same branch value as the corresponding request they cancel
    ##% or acknowledge.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
    ##% The Request-URI, Call-ID, To, the numeric part of CSeq, and From header
    ##% fields in the CANCEL request MUST be identical to those in the
    ##% request being cancelled, including tags.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
    ##% A CANCEL constructed by a client MUST have only a single Via header
    ##% field value matching the top Via value in the request being cancelled.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
    ##% If the request being cancelled contains a Route header field, the
    ##% CANCEL request MUST include that Route header field's values.
    def send_cancel(self, branch: Branch, now: float, out: list[Send]) -> None:
        """CANCEL one branch's INVITE (§9.1) on a new client transaction."""
        invite = branch.request
        headers: list[tuple[str, Any]] = [
            ("Via", str(invite.top_via)),
            ("Max-Forwards", 70),
            ("From", invite.headers.get("From")),
            ("To", invite.headers.get("To")),
            ("Call-ID", invite.call_id),
            ("CSeq", f"{invite.cseq.number} CANCEL"),
        ]
        headers += [("Route", value) for value in invite.headers.get_all("Route")]
        headers.append(("Content-Length", 0))
        cancel = Request("CANCEL", invite.uri, headers)
        branch.cancelled = True
        transaction, effects = self.layer.send_request(cancel, branch.hop, now)
        self._cancels.add(transaction)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
        ##% If there is no final response for the original request in 64*T1
        ##% seconds (T1 is defined in Section 17.1.1.1), the client SHOULD then
        ##% consider the original transaction cancelled and SHOULD destroy the
        ##% client transaction handling the original request.
        branch.timer_c_abandon = True
        self._set_timer_c(branch, now + 64 * self.timers.T1)
        self._run(effects, now, out)

    # -- Timer C (§16.8) and failures -------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.8
    ##% If timer C should fire, the proxy MUST either reset the timer with
    ##% any value it chooses, or terminate the client transaction.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.8
    ##% If the client transaction has received a provisional response, the proxy
    ##% MUST generate a CANCEL request matching that transaction.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.8
    ##% If the client
    ##% transaction has not received a provisional response, the proxy MUST
    ##% behave as if the transaction received a 408 (Request Timeout)
    ##% response.
    def timer_c_fired(self, branch: Branch, now: float, out: list[Send]) -> None:
        """Timer C (or the 64*T1 wait after our CANCEL) fired on an INVITE branch."""
        if branch.final:
            return
        if branch.provisional and not branch.cancelled:
            self.send_cancel(branch, now, out)
            return
        self._assume_response(branch, 408, now, out)

    def _on_client_failure(
        self, transaction: ClientTransaction, status: int, now: float, out: list[Send]
    ) -> None:
        """Timer B/F (408) or a transport error (503) on a client transaction."""
        branch = self._branches.get(transaction)
        if branch is not None and not branch.final:
            self._assume_response(branch, status, now, out)

    def _assume_response(self, branch: Branch, status: int, now: float, out: list[Send]) -> None:
        """Act as if ``branch`` received ``status`` (a response built from its request)."""
        self.process_response(branch, branch.request.make_response(status), now, out)

    def _on_terminated(self, transaction: Any) -> None:
        if isinstance(transaction, ClientTransaction):
            self._cancels.discard(transaction)
            branch = self._branches.pop(transaction, None)
            if branch is not None:
                branch.terminated = True
                self._forget_if_done(branch.context)
        elif transaction in self.contexts:
            context = self.contexts[transaction]
            context.server_terminated = True
            self._forget_if_done(context)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
    ##% The proxy MUST maintain the response context until all of its
    ##% associated transactions have been terminated, even after forwarding a
    ##% final response.
    def _forget_if_done(self, context: ResponseContext) -> None:
        # A branch abandoned after its CANCEL (final, transaction still alive) does not
        # hold the context: late responses on it are forwarded statelessly.
        if context.server_terminated and all(b.terminated or b.final for b in context.branches):
            self.contexts.pop(context.server, None)

    # == CANCEL (§16.10) ==================================================================

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.10
    ##% If a matching response context is found, the element MUST
    ##% immediately return a 200 (OK) response to the CANCEL request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.10
    ##% Furthermore, the element MUST generate CANCEL requests for all
    ##% pending client transactions in the context as described in Section
    ##% 16.7 step 10.
    def process_cancel(
        self, server: ServerTransaction, cancel: Request, now: float, out: list[Send]
    ) -> bool:
        """§16.10: a CANCEL matching a response context: 200, then CANCEL every branch.

        False when no context matches: the CANCEL is then proxied like any request.
        """
        invite_server = self.layer.find_cancel_target(cancel)
        context = self.contexts.get(invite_server) if invite_server is not None else None
        if context is None:
            return False
        self._respond(server, cancel.make_response(200), now, out)
        context.no_new_branches = True
        self.cancel_pending(context, now, out)
        self.choose_best_if_done(context, now, out)
        return True

    # == stateless forwarding (§16.11) ====================================================

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% A stateless proxy MUST choose one and only one target from the target set.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% This choice MUST only rely on fields in the message and time-invariant
    ##% properties of the server.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% Thus for a stateless proxy, the branch parameter MUST be computed
    ##% as a combinatoric function of message parameters which are invariant
    ##% on retransmission.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% Furthermore, when handling a request statelessly, an element MUST NOT
    ##% generate its own 100 (Trying) or any other provisional response.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% A stateless proxy MUST follow the request processing steps described
    ##% in Sections 16.4 through 16.5 with the following exception:
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% In particular, a retransmitted request MUST be forwarded to the same
    ##% destination each time it is processed.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% Therefore, the component of the branch parameter that makes it unique
    ##% MUST be the same each time a retransmitted request is forwarded.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% All other message transformations specified in Section 16.6 MUST
    ##% result in the same transformation of a retransmitted request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% In particular, if the proxy inserts a Record-Route value or pushes
    ##% URIs into the Route header field, it MUST place the same values in
    ##% retransmissions of the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% As for the Via branch parameter, this implies that the
    ##% transformations MUST be based on time-invariant configuration or
    ##% retransmission-invariant properties of the request.
    def _forward_ack_statelessly(self, ack: Request, now: float, out: list[Send]) -> None:
        """An ACK that matches no server transaction (the ACK for a 2xx): forward it
        statelessly, to the Route or Request-URI (first binding when it is our AOR)."""
        try:
            if ack.max_forwards == 0 or not isinstance(ack.uri, SipURI):
                return  # an ACK cannot be answered: dropped
            request = self.preprocess_routing(ack)
            uri = request.uri
            target: SipURI | AbsoluteURI = uri
            ours = isinstance(uri, SipURI) and uri.host_lower in self.config.domains
            if not request.route and ours and uri.maddr is None:
                aor = canonical_aor(uri)
                found = self.location.lookup(aor, now) if aor else []
                if not found:
                    return
                target = parse_uri(found[0].contact)
            copy = self.copy_request(request)
            self.set_request_uri(copy, target)
            self.update_max_forwards(copy)
            hop = self.next_hop(copy, self.postprocess_routing(copy))
            branch = f"{MAGIC_COOKIE}{_hash(ack.top_via.branch, ack.call_id, ack.cseq.number)}"
            copy.headers.prepend(
                "Via", f"SIP/2.0/{hop.transport} {self._host_port()};branch={branch}"
            )
            self.add_content_length(copy, hop)
        except (ParseError, ValueError, _Answer):
            return
        out.append(Send(copy, hop))

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% When a response arrives at a stateless proxy, the proxy MUST inspect the sent-by
    ##% value in the first (topmost) Via header field value.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% If that address matches the proxy, (it equals a value this proxy has
    ##% inserted into previous requests) the proxy MUST remove that header
    ##% field value from the response and forward the result to the location
    ##% indicated in the next Via header field value.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% The proxy MUST NOT add to, modify, or remove the message body.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% Unless specified otherwise, the proxy MUST NOT remove any other header field values.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
    ##% If the address does not match the proxy, the message MUST be silently discarded.
    def _forward_response_statelessly(self, response: Response, out: list[Send]) -> None:
        """A response with no client transaction (e.g. a late 2xx): pop our Via, pass on."""
        vias = response.via
        if not vias or not self.is_own_via(vias[0]):
            return
        response.headers.remove_first("Via")
        rest = response.via
        if rest:
            out.append(Send(response, via_destination(rest[0])))

    # == identity ==========================================================================

    def _host_port(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def is_own_uri(self, uri: SipURI | AbsoluteURI) -> bool:
        """Whether ``uri`` names this proxy (host[:port] of ours or an alias)."""
        if not isinstance(uri, SipURI):
            return False
        host = (uri.maddr or uri.host).lower()
        if uri.port is None:
            return host in self._aliases
        return f"{host}:{uri.port}" in self._aliases

    def is_own_via(self, via: Via) -> bool:
        """Whether a Via's sent-by is one this proxy puts into requests."""
        port = via.port if via.port is not None else _default_port(via.transport)
        return (
            via.host.lower() == self.config.host.lower() and port == self.config.port
        ) or f"{via.host.lower()}:{port}" in self._aliases


class _Answer(Exception):
    def __init__(
        self,
        status: int = 500,
        *,
        headers: Iterable[tuple[str, Any]] = (),
        response: Response | None = None,
    ) -> None:
        super().__init__(status)
        self.status = status
        self.headers = list(headers)
        self.response = response

    def make(self, request: Request) -> Response:
        if self.response is not None:
            return self.response
        response = request.make_response(self.status)
        for name, value in self.headers:
            response.headers.add(name, value)
        return response
