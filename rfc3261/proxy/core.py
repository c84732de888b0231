"""The proxy core (RFC 3261 §16.1, §16.2): :class:`Proxy`, composed of the steps of §16.

:class:`Proxy` is the transaction user of a :class:`~rfc3261.transaction_layer.
TransactionLayer`.  Its entry points take what the adapter received (a request, a
response, a transport error, the time) and return the :class:`~rfc3261.proxy.model.
Send` values to perform; the transaction layer's effects are dispatched here.  A new
request goes through §16.3-§16.6 in :meth:`Proxy._on_request`; each step is a method
of one part, a class per section:

- :class:`~rfc3261.proxy.validation.RequestValidation` (§16.3, RFC 5393 §5.3.3),
- :class:`~rfc3261.proxy.validation.RouteInformationPreprocessing` (§16.4),
- :class:`~rfc3261.proxy.targets.RequestTargets` (§16.5),
- :class:`~rfc3261.proxy.forwarding.RequestForwarding` (§16.6),
- :class:`~rfc3261.proxy.responses.ResponseProcessing` (§16.7),
- :class:`~rfc3261.proxy.cancel.CancelProcessing` (§16.8-§16.10),
- :class:`~rfc3261.proxy.stateless.StatelessForwarding` (§16.11).

What names this proxy (its host, port and aliases) is answered here too.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from typing import Any

from ..digest_server import DigestAuthenticator
from ..errors import ParseError
from ..headers import Via
from ..location import LocationService
from ..message import Request, Response
from ..registrar import Registrar, RegistrarConfig
from ..timers import DEFAULT_TIMERS, TimerQueue, TimerValues
from ..transaction import (
    Effect,
    RequestReceived,
    ResponseReceived,
    SendMessage,
    Terminated,
    Timeout,
    TransportFailure,
)
from ..transaction_client import ClientTransaction
from ..transaction_layer import TransactionLayer, sends_first
from ..transaction_server import ServerTransaction
from ..transports import default_port, transport_for_uri
from ..uri import AbsoluteURI, SipURI
from .cancel import CancelProcessing
from .forwarding import RequestForwarding
from .model import Branch, ProxyConfig, ProxyExtension, ResponseContext, Send, _Answer
from .relay import RelayPolicy
from .responses import ResponseProcessing
from .stateless import StatelessForwarding
from .targets import RequestTargets
from .validation import RequestValidation, RouteInformationPreprocessing

__all__ = ["Proxy"]


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.1
##% Requests forwarded between different types of transports where the
##% proxy's TU must take an active role in ensuring reliable delivery on
##% one of the transports MUST be forwarded transaction statefully.
class Proxy(
    RequestValidation,
    RouteInformationPreprocessing,
    RequestTargets,
    RequestForwarding,
    ResponseProcessing,
    CancelProcessing,
    StatelessForwarding,
    RelayPolicy,
):
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
        # Keys the Record-Route token of unchallenged ACKs (relay.py).
        self._relay_secret = secrets.token_bytes(16)
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
        if config.port == default_port(config.transport):
            self._aliases.add(config.host.lower())

    # == entry points =====================================================================

    def receive_request(self, request: Request, source: Any, now: float) -> list[Send]:
        """A request from the transport (already parsed)."""
        out: list[Send] = []
        self._run(self.layer.receive_request(request, source, now), now, out)
        return out

    ##= https://www.rfc-editor.org/rfc/rfc6026#section-8.2
    ##% If none is found, the element MUST NOT forward the response.
    ##= https://www.rfc-editor.org/rfc/rfc6026#section-6
    ##% When receiving any SIP response, a transaction-stateful proxy MUST
    ##% compare the transaction identifier in that response against its
    ##% existing transaction state machines.
    ##= https://www.rfc-editor.org/rfc/rfc6026#section-6
    ##% The proxy MUST NOT forward the
    ##% response if there is no matching transaction state machine.
    ##= https://www.rfc-editor.org/rfc/rfc6026#section-7.3
    ##% When receiving any SIP response,
    ##% a transaction-stateful proxy MUST compare the transaction identifier
    ##% in that response against its existing transaction state machines.
    ##= https://www.rfc-editor.org/rfc/rfc6026#section-7.3
    ##% The proxy MUST NOT forward the response if there is no matching
    ##% transaction state machine.
    def receive_response(self, response: Response, source: Any, now: float) -> list[Send]:
        """A response from the transport: to its client transaction; dropped if none.

        RFC 6026 §8.2 replaced RFC 3261 §16.7's stateless forwarding of such a stray
        response: the INVITE client transaction now stays (Accepted, Timer M) to match
        the retransmitted and forked 2xx responses that once needed it.
        """
        out: list[Send] = []
        if self.layer.match_response(response) is None:
            self.layer.stray_responses += 1
            return out
        self._run(self.layer.receive_response(response, now), now, out)
        return out

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.4
    ##% If the transport user asks for a request to be sent over a reliable
    ##% transport, and the result is a connection failure, the transport
    ##% layer SHOULD inform the transport user of a failure in sending.
    def transport_error(
        self, failed: Send | ClientTransaction | ServerTransaction, now: float
    ) -> list[Send]:
        """The transport could not send a message (§18.4): the :class:`Send` returned
        earlier, or the transaction that sent it (what :class:`~rfc3261.asyncio.
        dispatcher.CoreHost` passes).  A client transaction's failure is the 503 of §16.9.
        """
        if isinstance(failed, Send):
            transaction = failed.transaction
        elif isinstance(failed, ClientTransaction | ServerTransaction):
            transaction = failed
        else:
            raise TypeError(f"transport_error takes a Send or a transaction, not {failed!r}")
        out: list[Send] = []
        if transaction is not None and not transaction.terminated:
            self._run(self.layer.transport_error(transaction, now), now, out)
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
        """Carry out the layer's effects; TU events are handled here, sends go out.

        The layer's own sends go first: a response this proxy generates while it handles
        a new INVITE must not be overtaken by the transaction's 100 (Trying).
        """
        for effect in sends_first(effects):
            if isinstance(effect, SendMessage):
                out.append(
                    Send(effect.message, effect.destination, effect.transaction, effect.wire)
                )
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

    # == a new request (§16.2, then §16.3 - §16.6 in the parts) ======================

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
        if request.method == "CANCEL" and not self.may_relay_unchallenged(request):
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
            ##% If the UAS did not find a matching transaction for the CANCEL
            ##% according to the procedure above, it SHOULD respond to the CANCEL with
            ##% a 481 (Call Leg/Transaction Does Not Exist).
            # Demanding credentials, this proxy relays no CANCEL it cannot match: one
            # never challenged (§22.1) would carry anybody's traffic anywhere.
            self._respond(server, request.make_response(481), now, out)
            return
        try:
            # The loop part is computed on the request as received (RFC 5393 §4.2.1).
            loop_part = self.loop_part(request)
            self.validate(request, now, loop_part)  # §16.3
            routes = request.route
            arrived_route = routes[0] if routes and self.is_own_uri(routes[0].uri) else None
            request = self.preprocess_routing(request)  # §16.4
            targets = self.determine_targets(server, request, now, out)  # §16.5
        except _Answer as answer:
            response = answer.make(request)
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
            ##% If the UAS did not find a matching transaction for the CANCEL
            ##% according to the procedure above, it SHOULD respond to the CANCEL
            ##% with a 481 (Call Leg/Transaction Does Not Exist).
            if request.method == "CANCEL" and response.status in (404, 480):
                # A CANCEL for a request we never forwarded (e.g. one answered 400
                # statelessly) and with nowhere to go: there is nothing to cancel.
                response = request.make_response(481)
            self._respond(server, response, now, out)
            return
        except ParseError as exc:
            self._respond(
                server, request.make_response(400, f"Bad Request ({exc})"[:120]), now, out
            )
            return
        if targets is None:
            return  # answered (the registrar)
        context = ResponseContext(server, request, loop_part, targets)
        context.arrived_route = arrived_route
        context.incoming_breadth = self.incoming_max_breadth(request)
        self.contexts[server] = context
        self.start_branches(context, now, out)
        if request.method == "INVITE":
            # Pending for seconds or minutes: §16.7 forwards what comes back without
            # reading the request, §16.10 matches a CANCEL by the server transaction's
            # key.  Only a new branch or a response made up here reads it again.
            context.keep_request_as_bytes()

    # == identity ========================================================================

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

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
    ##% If the domain of the Request-URI indicates a domain this element is
    ##% not responsible for, the Request-URI MUST be placed into the target
    ##% set as the only target, and the element MUST proceed to the task of
    ##% Request Forwarding (Section 16.6).
    def is_in_domain(self, uri: SipURI | AbsoluteURI) -> bool:
        """Whether ``uri`` names a resource of a domain this proxy is responsible for.

        Its host must be one of ``config.domains`` and its port (the default port of
        its transport when absent) the default port or one of ours: with a domain
        such as 127.0.0.1, ``sip:bob@127.0.0.1:5070`` is a UA on that host, not an
        address-of-record here.
        """
        if not isinstance(uri, SipURI):
            return False
        host = uri.host_lower
        if host not in self.config.domains:
            return False
        if uri.port is None:
            return True
        if uri.port == default_port(transport_for_uri(uri.scheme, uri.transport)):
            return True
        return f"{host}:{uri.port}" in self._aliases

    def is_own_via(self, via: Via) -> bool:
        """Whether a Via's sent-by is one this proxy puts into requests."""
        port = via.port if via.port is not None else default_port(via.transport)
        return (
            via.host.lower() == self.config.host.lower() and port == self.config.port
        ) or f"{via.host.lower()}:{port}" in self._aliases
