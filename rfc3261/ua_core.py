"""The user agent core: UAC and UAS behaviour outside dialogs (RFC 3261 §8, §11, §12.2.2).

Theory of operation
-------------------
:class:`UserAgent` is a transaction user (TU) in the sense of §17.  It owns a
:class:`~rfc3261.transaction_layer.TransactionLayer`, builds requests (§8.1.1),
picks their destination (§8.1.2), processes responses (§8.1.3: transaction
errors as 408/503, unknown codes as x00, extra Vias dropped, 3xx recursion over
a target set, 401/407 retries with :mod:`rfc3261.auth_client`, 420 retries)
and inspects incoming requests (§8.2: 405 + Allow, 416, 482 for merged
requests, 420 + Unsupported, 415 + Accept, 481 for unknown dialogs, 500 +
Retry-After for out-of-order CSeq), answers OPTIONS (§11) itself, and hands
INVITE, CANCEL, BYE and ACK to :mod:`rfc3261.session` and
:mod:`rfc3261.cancel`, REGISTER clients to :mod:`rfc3261.registration`.

Like the transaction layer it is sans-I/O: it never opens a socket nor reads a
clock.  Every entry point takes ``now`` (seconds, any monotonic origin) and
returns a list of *effects*:

- :class:`~rfc3261.transaction.SendMessage` -- give ``message`` to the transport
  for ``destination``.  For requests the destination is the URI the RFC 3263
  procedures are to be applied to (§8.1.2): a :class:`~rfc3261.uri.SipURI`.
  For responses it is the ``source`` the request came from.  ``transaction``
  is None for what the UA core sends by itself (ACK for 2xx, 2xx
  retransmissions after the server transaction is gone);
- :class:`UAEvent` subclasses -- something for the application: a request to
  answer (:class:`IncomingRequest`), a response (:class:`ResponseEvent`), a
  dropped message (:class:`Dropped`), and the call events of
  :mod:`rfc3261.session`.

Adapter contract (what a thin asyncio layer must do)
----------------------------------------------------
1. Parse each datagram / framed stream message (``rfc3261.parse``), after the
   transport checks of §18; call ``ua.receive(message, source, now)``.
2. Carry out every returned :class:`SendMessage`: resolve ``destination``
   (RFC 3263 for URIs, or the opaque ``source`` for responses) and send
   ``bytes(message)``; on a send failure call
   ``ua.transport_error(effect.transaction, now)`` when the effect has a
   transaction.
3. After every call, re-arm one timer at ``ua.next_deadline()`` (None: no
   timer) and, when it fires, call ``ua.handle_timer(loop.time())``.
4. Deliver the :class:`UAEvent` effects to the application, which calls back
   ``ua.invite``, ``ua.answer``, ``ua.bye``, ``ua.respond``... with ``now``;
   their effects are carried out the same way.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .auth_client import AuthClient, CredentialsProvider
from .cancel import CancelHandling
from .capabilities import KNOWN_METHODS, method_check, require_check
from .dialog import Dialog, DialogId, build_route, dialog_id_of
from .errors import ParseError
from .extension import (
    ClientRequest,
    Dropped,
    IncomingRequest,
    Owner,
    ResponseEvent,
    ServerRequest,
    UAEvent,
    UAExtension,
    check_extension,
    effective_status,
    local_response,
)
from .headers import Contact, NameAddr, Via
from .message import Request, Response, parse
from .params import Parameters
from .session import SessionManager
from .timers import DEFAULT_TIMERS, TimerQueue, TimerValues
from .transaction import (
    MAGIC_COOKIE,
    RequestReceived,
    ResponseReceived,
    SendMessage,
    Terminated,
    Timeout,
    Transaction,
    TransportFailure,
)
from .transaction_layer import TransactionLayer
from .transaction_server import ServerTransaction
from .uri import AbsoluteURI, SipURI, parse_uri

__all__ = [
    "KNOWN_METHODS",
    "ClientRequest",
    "Dropped",
    "IncomingRequest",
    "ResponseEvent",
    "ServerRequest",
    "UAConfig",
    "UAEvent",
    "UAExtension",
    "UserAgent",
    "effective_status",
    "local_response",
]


@dataclass
class UAConfig:
    """What a UA is configured with (§8.1.1, §10.2.6)."""

    aor: str
    contact: str
    sent_by: str
    transport: str = "UDP"
    display_name: str | None = None
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.1
    ##% When a provider
    ##% wishes to configure a UA with an outbound proxy, it is RECOMMENDED
    ##% that this be done by providing it with a pre-existing route set with
    ##% a single URI, that of the outbound proxy.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
    ##% However, that approach
    ##% for configuring an outbound proxy is NOT RECOMMENDED; a pre-existing
    ##% route set with a single URI SHOULD be used instead.
    outbound_proxy: str | None = None
    allow: tuple[str, ...] = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS")
    supported: tuple[str, ...] = ()
    accept: tuple[str, ...] = ("application/sdp",)
    accept_encoding: tuple[str, ...] = ("identity",)
    accept_language: tuple[str, ...] = ("en",)
    timers: TimerValues = DEFAULT_TIMERS
    credentials: CredentialsProvider | None = None
    max_auth_attempts: int = 3
    max_redirects: int = 5
    # Reject requests whose Request-URI user is neither the AOR's nor the contact's (404).
    strict_request_uri: bool = False

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.1
    ##% A UA that supports INVITE MUST also support ACK, CANCEL and
    ##% BYE.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-11
    ##% All UAs MUST
    ##% support the OPTIONS method.
    def __post_init__(self) -> None:
        methods = set(self.allow)
        if "INVITE" in methods and not {"ACK", "CANCEL", "BYE"} <= methods:
            raise ValueError("a UA that allows INVITE must allow ACK, CANCEL and BYE (§13.1)")
        if "OPTIONS" not in methods:
            self.allow = (*self.allow, "OPTIONS")


class Timer:
    """A timer of the UA core or of an extension (:meth:`UserAgent.call_at`)."""

    __slots__ = ("_queue", "callback", "deadline")

    def __init__(
        self, queue: TimerQueue[Timer], deadline: float, callback: Callable[[float], list[Any]]
    ) -> None:
        self._queue = queue
        self.deadline = deadline
        self.callback = callback
        queue.schedule(self, deadline)

    @property
    def cancelled(self) -> bool:
        return self._queue.deadline(self) is None

    def cancel(self) -> None:
        self._queue.schedule(self, None)


class UserAgent:
    """A SIP user agent core (UAC and UAS) on top of a transaction layer."""

    def __init__(
        self,
        config: UAConfig,
        *,
        layer: TransactionLayer | None = None,
        rng: random.Random | None = None,
        extensions: Iterable[UAExtension] = (),
    ) -> None:
        self.config = config
        self.rng = rng or random.SystemRandom()
        self.layer = layer or TransactionLayer(config.timers)
        self.timers = config.timers
        self.aor = NameAddr(config.display_name, parse_uri(config.aor))
        contact_uri = parse_uri(config.contact)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
        ##% When a UAC sends a request that can establish a dialog (such as an
        ##% INVITE) it MUST provide a SIP or SIPS URI with global scope (i.e.,
        ##% the same SIP URI can be used in messages outside this dialog) in the
        ##% Contact header field of the request.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
        ##% The URI provided in the Contact header field MUST be a SIP
        ##% or SIPS URI.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.8
        ##% That is, the Contact header field value contains
        ##% the URI at which the UA would like to receive requests, and this URI
        ##% MUST be valid even if used in subsequent requests outside of any
        ##% dialogs.
        if not isinstance(contact_uri, SipURI):
            raise ValueError("Contact: the UA's contact must be a SIP or SIPS URI (§8.1.1.8)")
        self.contact_uri = contact_uri
        host, _, port = config.sent_by.rpartition(":")
        if not host or not port.isdigit():
            host, port = config.sent_by, ""
        self._sent_by = (host, int(port) if port else None)
        self.route_set: list[NameAddr] = []
        if config.outbound_proxy:
            proxy = parse_uri(config.outbound_proxy)
            if isinstance(proxy, SipURI) and not proxy.lr:
                proxy.params.set("lr", None)
            self.route_set = [NameAddr(None, proxy)]
        self.auth = AuthClient(
            config.credentials, rng=self.rng, max_attempts=config.max_auth_attempts
        )
        self.dialogs: dict[DialogId, Dialog] = {}
        self._clients: dict[Transaction, ClientRequest] = {}
        self._servers: dict[Transaction, ServerRequest] = {}
        # (From tag, Call-ID, CSeq) of requests without To tag -> their transaction (§8.2.2.2)
        self._merge_keys: dict[tuple[Any, ...], Transaction] = {}
        self._merge_key_of: dict[Transaction, tuple[Any, ...]] = {}
        self._timers: TimerQueue[Timer] = TimerQueue()
        self._cseq = self.rng.randint(1, 2**16)
        self.log: list[Dropped] = []
        # What the UA supports, computed from the configuration and what is installed.
        self.extensions: list[UAExtension] = []
        self._handlers: dict[str, UAExtension] = {}
        self.dialog_methods: frozenset[str] = frozenset({"INVITE"})
        # The core's own features are extensions too: CANCEL (§9) and INVITE sessions
        # (§13-§15), installed when the configuration allows their methods.
        if "CANCEL" in config.allow:
            self.use(CancelHandling())
        self.sessions: SessionManager = SessionManager()
        if "INVITE" in config.allow:
            self.use(self.sessions)
        else:
            self.sessions.install(self)  # usable for its API; INVITE stays refused (405)
        for extension in extensions:
            self.use(extension)

    # -- extensions ----------------------------------------------------------------------

    def use(self, extension: UAExtension) -> UAExtension:
        """Install ``extension`` on this UA: its methods, option tags and hooks (§8.2)."""
        check_extension(extension, self.extensions)
        extension.install(self)
        self.extensions.append(extension)
        for method in extension.methods:
            self._handlers[method] = extension

        self.dialog_methods = frozenset(
            {"INVITE", *(m for e in self.extensions for m in e.dialog_methods)}
        )
        return extension

    # What the UA supports: its configuration plus what its extensions bring.  Allow,
    # Supported, Accept and the 405/420/415 checks of §8.2 all read these.

    @property
    def allow(self) -> tuple[str, ...]:
        """The methods the UA supports (Allow, §20.5)."""
        return _union(self.config.allow, (m for e in self.extensions for m in e.methods))

    @property
    def supported(self) -> tuple[str, ...]:
        """The option tags the UA supports (Supported, §20.37)."""
        return _union(self.config.supported, (t for e in self.extensions for t in e.option_tags))

    @property
    def accept(self) -> tuple[str, ...]:
        """The body types the UA understands (Accept, §20.1)."""
        return _union(self.config.accept, (t for e in self.extensions for t in e.accept))

    def extension(self, name: str) -> UAExtension | None:
        """The installed extension called ``name``, if any."""
        return next((e for e in self.extensions if e.name == name), None)

    def handler(self, method: str) -> UAExtension | None:
        """The installed extension that handles ``method``, if any."""
        return self._handlers.get(method)

    @property
    def sent_by_host(self) -> str:
        """The host of the UA's sent-by (for Warning agents, Call-IDs)."""
        return self._sent_by[0]

    # -- identifiers (§8.1.1.3, §8.1.1.4, §8.1.1.7, §19.3) --------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.3
    ##% The From field MUST contain a new "tag" parameter, chosen by the UAC.
    def new_tag(self) -> str:
        """A tag with 64 random bits (§19.3 asks for at least 32)."""
        return f"{self.rng.getrandbits(64):016x}"

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.4
    ##% In a new request created by a UAC outside of any dialog, the Call-ID
    ##% header field MUST be selected by the UAC as a globally unique
    ##% identifier over space and time unless overridden by method-specific
    ##% behavior.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.4
    ##% Use of cryptographically random identifiers (RFC 1750 [12]) in the
    ##% generation of Call-IDs is RECOMMENDED.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.4
    ##% Implementations MAY use the
    ##% form "localid@host".
    def new_call_id(self) -> str:
        return f"{self.rng.getrandbits(128):032x}@{self._sent_by[0]}"

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
    ##% The branch ID inserted by an element compliant with this
    ##% specification MUST always begin with the characters "z9hG4bK".
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
    ##% The branch parameter value MUST be unique across space and time for
    ##% all requests sent by the UA.
    def new_via(self) -> Via:
        """A Via for a new client transaction with a fresh RFC 3261 branch."""
        branch = f"{MAGIC_COOKIE}{self.rng.getrandbits(80):020x}"
        host, port = self._sent_by
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
        ##% When the UAC creates a request, it MUST insert a Via into that
        ##% request.  The protocol name and protocol version in the header field
        ##% MUST be SIP and 2.0, respectively.  The Via header field value MUST
        ##% contain a branch parameter.
        return Via(self.config.transport.upper(), host, port, Parameters([("branch", branch)]))

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.5
    ##% The sequence number value MUST be expressible as a 32-bit unsigned
    ##% integer and MUST be less than 2**31.
    def initial_cseq(self) -> int:
        return self.rng.randint(1, 2**16)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.8
    ##% If the Request-URI or top Route header field value contains a SIPS
    ##% URI, the Contact header field MUST contain a SIPS URI as well.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
    ##% If the request has a Request-URI or a topmost Route header field value with a SIPS
    ##% URI, the Contact header field MUST contain a SIPS URI.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
    ##% If the "secure" flag is true, that URI MUST be a SIPS URI.
    def contact(self, secure: bool = False) -> Contact:
        """The UA's Contact value; a SIPS URI when ``secure``."""
        uri = self.contact_uri.copy()
        if secure:
            uri.scheme = "sips"
        return Contact(None, uri, Parameters())

    @staticmethod
    def needs_sips(request_uri: SipURI | AbsoluteURI, route: list[NameAddr]) -> bool:
        """True when the Request-URI or the top Route is a SIPS URI."""
        first = route[0].uri if route else request_uri
        return any(isinstance(u, SipURI) and u.is_secure for u in (request_uri, first))

    # -- building requests (§8.1.1) -------------------------------------------------

    def build_request(
        self,
        method: str,
        to: str | NameAddr,
        *,
        request_uri: str | SipURI | AbsoluteURI | None = None,
        call_id: str | None = None,
        from_tag: str | None = None,
        cseq: int | None = None,
        contact: bool | None = None,
        headers: Iterable[tuple[str, Any]] = (),
        body: bytes = b"",
        content_type: str | None = None,
        from_: NameAddr | None = None,
        anonymous: bool = False,
        require: Iterable[str] = (),
        proxy_require: Iterable[str] = (),
    ) -> Request:
        """A request outside any dialog with the six mandatory header fields (§8.1.1).

        ``anonymous`` hides the caller's identity in From (§8.1.1.3); ``require``
        and ``proxy_require`` list the option tags the UAS / the proxies must
        understand (§8.1.1.9).
        """
        to_addr = NameAddr.parse(to) if isinstance(to, str) else to
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.2
        ##% A request outside of a dialog MUST NOT contain a To tag; the tag in
        ##% the To field of a request identifies the peer of the dialog.
        to_addr = NameAddr(to_addr.display_name, to_addr.uri, Parameters(
            [(n, v) for n, v in to_addr.params if n.lower() != "tag"]
        ))  # fmt: skip
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.1
        ##% The initial Request-URI of the message SHOULD be set to the value of
        ##% the URI in the To field.
        target = to_addr.uri if request_uri is None else request_uri
        if isinstance(target, str):
            target = parse_uri(target)
        target = target.copy()
        if isinstance(target, SipURI):
            target.headers = []
        request_uri_value, route = build_route(target, self.route_set)
        base_from = from_ or self.aor
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.3
        ##% A UAC SHOULD
        ##% use the display name "Anonymous", along with a syntactically correct, but
        ##% otherwise meaningless URI (like sip:thisis@anonymous.invalid), if the
        ##% identity of the client is to remain hidden.
        if anonymous:
            base_from = NameAddr("Anonymous", parse_uri("sip:thisis@anonymous.invalid"))
        from_params = base_from.params.copy()
        from_params.set("tag", from_tag or self.new_tag())
        fields: list[tuple[str, Any]] = [("Route", str(r)) for r in route]
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.9
        ##% If the UAC supports extensions to SIP that can be applied by the
        ##% server to the response, the UAC SHOULD include a Supported header
        ##% field in the request listing the option tags (Section 19.2) for those
        ##% extensions.
        if self.supported:
            fields.append(("Supported", ", ".join(self.supported)))
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.9
        ##% If the UAC wishes to insist that a UAS understand an extension that
        ##% the UAC will apply to the request in order to process the request, it
        ##% MUST insert a Require header field into the request listing the
        ##% option tag for that extension.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.9
        ##% If the UAC wishes to apply an
        ##% extension to the request and insist that any proxies that are
        ##% traversed understand that extension, it MUST insert a Proxy-Require
        ##% header field into the request listing the option tag for that
        ##% extension.
        require, proxy_require = list(require), list(proxy_require)
        if require:
            fields.append(("Require", ", ".join(require)))
        if proxy_require:
            fields.append(("Proxy-Require", ", ".join(proxy_require)))
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-11.1
        ##% An Accept header field SHOULD be included to indicate the type of
        ##% message body the UAC wishes to receive in the response.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
        ##% An Accept (Section 20.1) header field MAY be present in the INVITE.
        if method in ("OPTIONS", "INVITE") and self.accept:
            fields.append(("Accept", ", ".join(self.accept)))
        fields.extend(headers)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.8
        ##% The Contact header field MUST be present and contain exactly one SIP
        ##% or SIPS URI in any request that can result in the establishment of a
        ##% dialog.
        if contact is None:
            contact = method in self.dialog_methods
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.6
        ##% A UAC MUST insert a Max-Forwards header field into each request it
        ##% originates with a value that SHOULD be 70.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.10
        ##% SIP requests MAY contain a MIME-encoded message-body.
        return Request.build(
            method,
            request_uri_value,
            via=self.new_via(),
            from_=NameAddr(base_from.display_name, base_from.uri, from_params),
            to=to_addr,
            call_id=call_id or self.new_call_id(),
            cseq=cseq if cseq is not None else self.initial_cseq(),
            max_forwards=70,
            contact=self.contact(self.needs_sips(request_uri_value, route)) if contact else None,
            headers=fields,
            body=body,
            content_type=content_type,
        )

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
    ##% If the
    ##% first element in the route set indicated a strict router (resulting
    ##% in forming the request as described in Section 12.2.1.1), the
    ##% procedures MUST be applied to the Request-URI of the request.
    ##% Otherwise, the procedures are applied to the first Route header field
    ##% value in the request (if one exists), or to the request's Request-URI
    ##% if there is no Route header field present.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
    ##% If the request
    ##% contains a Route header field, the request SHOULD be sent to the
    ##% locations derived from its topmost value
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
    ##% In particular, a UAC configured with an outbound proxy SHOULD
    ##% attempt to send the request to the location indicated in the first
    ##% Route header field value instead of adopting the policy of sending
    ##% all messages to the outbound proxy.
    @staticmethod
    def destination_for(request: Request) -> SipURI | AbsoluteURI:
        """The URI the RFC 3263 procedures are applied to for ``request`` (§8.1.2)."""
        routes = request.route
        if routes:
            first = routes[0].uri
            if isinstance(first, SipURI) and first.lr:
                return first
        return request.uri

    # -- sending -----------------------------------------------------------------------

    def request(
        self,
        method: str,
        to: str | NameAddr,
        now: float,
        *,
        owner: Any = None,
        **build: Any,
    ) -> tuple[ClientRequest, list[Any]]:
        """Build a request outside any dialog (§8.1.1) and send it (§8.1.2)."""
        request = self.build_request(method, to, **build)
        return self.send(request, now, owner=owner)

    def send(
        self,
        request: Request,
        now: float,
        *,
        owner: Any = None,
        dialog: Dialog | None = None,
        authorize: bool = True,
    ) -> tuple[ClientRequest, list[Any]]:
        """Send a request built by the caller in a new client transaction.

        ``authorize`` adds the credentials of earlier challenges (§22.1); a CANCEL,
        which cannot be challenged, goes without.
        """
        if authorize:
            self.auth.preauthorize(request)
        client = ClientRequest(request, None, owner=owner, dialog=dialog)
        client.target_set = [request.uri]
        return client, self._start(client, request, now)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2
    ##% Once a dialog has been established between two UAs, either of them
    ##% MAY initiate new transactions as needed within the dialog.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-11
    ##% An OPTIONS request MAY be sent as part of an established dialog to
    ##% query the peer on capabilities that may be utilized later in the
    ##% dialog.
    def in_dialog(
        self,
        dialog: Dialog,
        method: str,
        now: float,
        *,
        owner: Any = None,
        headers: list[tuple[str, Any]] | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        contact: bool | None = None,
    ) -> tuple[ClientRequest, list[Any]]:
        """Build a request within ``dialog`` (§12.2.1.1) and send it.

        ``contact`` (default: for the methods that create dialogs, the target refresh
        requests) adds the UA's Contact.
        """
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
        ##% A UAC SHOULD include a Contact header field in any target refresh
        ##% requests within a dialog, and unless there is a need to change it,
        ##% the URI SHOULD be the same as used in previous requests within the
        ##% dialog.
        request = dialog.create_request(
            method,
            self.new_via(),
            dialog.next_local_seq(self.initial_cseq()),
            contact=self.contact(dialog.secure)
            if (method in self.dialog_methods if contact is None else contact)
            else None,
            headers=headers,
            body=body,
            content_type=content_type,
        )
        return self.send(request, now, owner=owner, dialog=dialog)

    def before_transaction(self, request: Request) -> None:
        """A hook called with every request just before its client transaction starts.

        New requests, retries, CANCELs and requests inside dialogs all pass here (after
        every extension's :meth:`~UAExtension.outgoing_request`), while the request can
        still change; the transaction is reliable or not by its top Via.  A program
        overrides it to make the top Via name the transport the request will go over
        (§18.1.1).  The UA core itself changes nothing here.
        """

    def _start(self, client: ClientRequest, request: Request, now: float) -> list[Any]:
        for extension in self.extensions:
            extension.outgoing_request(request, client)
        self.before_transaction(request)
        client.request = request
        client.destination = self.destination_for(request)
        client.provisional = False
        transaction, effects = self.layer.send_request(request, client.destination, now)
        client.transaction = transaction
        self._clients[transaction] = client
        return self._process(effects, now)

    def _retry(self, client: ClientRequest, request: Request, now: float) -> list[Any]:
        """Send ``request`` (an amended copy) as a new transaction for ``client``."""
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.5
        ##% In all of the above cases, the request is retried by creating a new
        ##% request with the appropriate modifications.  This new request
        ##% constitutes a new transaction and SHOULD have the same value of the
        ##% Call-ID, To, and From of the previous request, but the CSeq should
        ##% contain a new sequence number that is one higher than the previous.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
        ##% When a UAC resubmits a request with its credentials after receiving a
        ##% 401 (Unauthorized) or 407 (Proxy Authentication Required) response,
        ##% it MUST increment the CSeq header field value as it would normally
        ##% when sending an updated request.
        if client.dialog is not None:
            number = client.dialog.next_local_seq(self.initial_cseq())
        else:
            number = client.request.cseq.number + 1
        request.headers.set("CSeq", f"{number} {request.method}")
        request.headers.remove("Via")
        request.headers.prepend("Via", str(self.new_via()))
        return self._start(client, request, now)

    # -- timers ------------------------------------------------------------------------

    def call_at(self, deadline: float, callback: Callable[[float], list[Any]]) -> Timer:
        """Run ``callback(now)`` at ``deadline``; returns a handle with ``cancel()``."""
        return Timer(self._timers, deadline, callback)

    def next_deadline(self) -> float | None:
        """The earliest deadline of the transaction layer and the UA core."""
        mine = self._timers.next_deadline()
        layer = self.layer.next_deadline()
        if mine is None:
            return layer
        return mine if layer is None else min(mine, layer)

    def handle_timer(self, now: float) -> list[Any]:
        """Fire every timer due at ``now`` (transactions first, then the core's)."""
        effects = self._process(self.layer.handle_timer(now), now)
        for timer in self._timers.due(now):
            effects.extend(timer.callback(now))
        return effects

    # -- input from the transport ---------------------------------------------------

    def receive(
        self, message: Request | Response, source: Any, now: float, *, tls: bool = False
    ) -> list[Any]:
        """A message from the transport (already parsed and checked per §18)."""
        if isinstance(message, Response):
            if self.layer.match_response(message) is None:
                return self._drop(message, "response matches no client transaction (§17.1.3)")
            try:
                return self._process(self.layer.receive_response(message, now), now)
            except ParseError as error:
                # A header field the core needed (Contact, Record-Route...) is unreadable.
                return self._drop(message, f"unreadable response: {error}")
        effects = self.layer.receive_request(message, source, now)
        return self._process(effects, now, source=source, tls=tls)

    def receive_bytes(self, data: bytes, source: Any, now: float) -> list[Any]:
        """Parse ``data`` and pass it to :meth:`receive`; unparsable data is dropped."""
        try:
            message = parse(data)
        except ParseError as error:
            return self._drop(data, f"unparsable message: {error}")
        return self.receive(message, source, now)

    def transport_error(self, transaction: Transaction, now: float) -> list[Any]:
        """The transport could not send a message of ``transaction``."""
        return self._process(self.layer.transport_error(transaction, now), now)

    def drop(self, message: Any, reason: str) -> list[Any]:
        """Discard ``message``: log it and tell the application why."""
        event = Dropped(message, reason)
        self.log.append(event)
        return [event]

    _drop = drop

    # -- TU events from the transaction layer -------------------------------------

    def _process(
        self, effects: list[Any], now: float, *, source: Any = None, tls: bool = False
    ) -> list[Any]:
        # The transactions' own messages (an ACK for a non-2xx, a 100) go out before
        # whatever the TU does in reaction to the same input.
        out: list[Any] = [effect for effect in effects if isinstance(effect, SendMessage)]
        for effect in effects:
            if isinstance(effect, SendMessage):
                continue
            elif isinstance(effect, ResponseReceived):
                out.extend(self._on_response(effect.transaction, effect.response, now))
            elif isinstance(effect, RequestReceived):
                out.extend(self._on_request(effect.transaction, effect.request, source, now, tls))
            elif isinstance(effect, Timeout):
                out.extend(self._on_failure(effect.transaction, 408, now))
            elif isinstance(effect, TransportFailure):
                out.extend(self._on_failure(effect.transaction, 503, now))
            elif isinstance(effect, Terminated):
                self._clients.pop(effect.transaction, None)
                key = self._merge_key_of.pop(effect.transaction, None)
                if key is not None and self._merge_keys.get(key) is effect.transaction:
                    del self._merge_keys[key]
                server = self._servers.pop(effect.transaction, None)
                if server is not None and isinstance(server.owner, Owner):
                    out.extend(server.owner.on_terminated(server, now))
        return out

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.1
    ##% When a timeout error is received from the transaction layer, it MUST be
    ##% treated as if a 408 (Request Timeout) status code has been received.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.1
    ##% If a fatal transport error is reported by the transport layer
    ##% (generally, due to fatal ICMP errors in UDP or connection failures in
    ##% TCP), the condition MUST be treated as a 503 (Service Unavailable)
    ##% status code.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.2
    ##% If the client transaction returns a timeout, this is treated
    ##% as a 408 (Request Timeout) response.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2
    ##% If the
    ##% INVITE client transaction returns a timeout rather than a response the
    ##% TU acts as if a 408 (Request Timeout) response had been received, as
    ##% described in Section 8.1.3.
    def _on_failure(self, transaction: Transaction, status: int, now: float) -> list[Any]:
        client = self._clients.get(transaction)
        if client is None:
            server = self._servers.get(transaction)
            if server is None or not isinstance(server.owner, Owner):
                return []
            return server.owner.on_terminated(server, now)
        if client.final is not None:
            return []  # e.g. Timer M after a 2xx: the INVITE already has its answer
        return self._on_response(transaction, local_response(client.request, status), now)

    def _on_response(self, transaction: Transaction, response: Response, now: float) -> list[Any]:
        client = self._clients.get(transaction)
        if client is None:
            return self._drop(response, "response for a transaction the core no longer tracks")
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.3
        ##% If more than one Via header field value is present in a response, the
        ##% UAC SHOULD discard the message.
        if len(response.via) > 1:
            return self._drop(response, "more than one Via in a response (§8.1.3.3)")
        for extension in self.extensions:
            claimed = extension.inspect_response(client, response, now)
            if claimed is not None:
                return claimed
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.2
        ##% A UAC MUST be able to
        ##% process 100 and 183 responses.
        status = effective_status(response.status)
        if status < 200:
            client.provisional = True
            effects = self._deliver(client, response, now)
            for extension in self.extensions:
                effects.extend(extension.after_provisional(client, response, now))
            return effects
        if status >= 300 and client.final is None:
            retry = self._amend(client, response, status, now)
            if retry is not None:
                return retry
        if client.final is None or status < 300:
            client.final = client.final or response
            if status < 300:
                self.auth.authentication_info(client.request, response)
            return self._deliver(client, response, now)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.3
        ##% Subsequent final responses (which would only arrive
        ##% under error conditions) MUST be ignored.
        return self._drop(response, "second final response for a request (§13.2.2.3)")

    def deliver(self, client: ClientRequest, response: Response, now: float) -> list[Any]:
        """Hand a response to whoever sent ``client``'s request (the application by default)."""
        if client.owner is not None:
            return client.owner.on_response(client, response, now)
        return [ResponseEvent(client, response)]

    _deliver = deliver

    def _amend(
        self, client: ClientRequest, response: Response, status: int, now: float
    ) -> list[Any] | None:
        """Retry a request after a failure response when §8.1.3.4/§8.1.3.5 allow; else None."""
        if client.cancel_requested:
            return None
        for extension in self.extensions:
            amended = extension.retry(client, response, now)
            if amended is not None:
                if client.extension_retries >= MAX_EXTENSION_RETRIES:
                    break
                client.extension_retries += 1
                return self._retry(client, amended, now)
        if status in (401, 407):
            retry = self.auth.authorize(client.request, response, client.auth_attempts)
            if retry is not None:
                client.auth_attempts += 1
                return self._retry(client, retry, now)
            return None
        if 300 <= status < 400:
            self._add_targets(client, response)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.5
        ##% The client SHOULD retry the request, this time, using a SIP
        ##% URI.
        if status == 416 and isinstance(client.request.uri, AbsoluteURI):
            sip_uri = self._as_sip_uri(client.request.uri)
            if sip_uri is not None and not any(u == sip_uri for u in client.target_set):
                client.target_set.append(sip_uri)
                return self._retry(client, self._redirected(client.request, sip_uri), now)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.5
        ##% The UAC
        ##% SHOULD retry the request, this time omitting any extensions listed in
        ##% the Unsupported header field in the response.
        if status == 420 and not client.retried_420:
            unsupported = {tag.lower() for tag in response.header("Unsupported") or []}
            retry = _copy(client.request)
            changed = False
            for name in ("Require", "Proxy-Require"):
                tags = retry.header(name) or []
                kept = [t for t in tags if t.lower() not in unsupported]
                if len(kept) != len(tags):
                    changed = True
                    retry.headers.remove(name)
                    if kept:
                        retry.headers.add(name, ", ".join(kept))
            if changed:
                client.retried_420 = True
                return self._retry(client, retry, now)
            return None
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
        ##% If contacting an address in the list results in a failure, as defined
        ##% in the next paragraph, the element moves to the next address in the
        ##% list, until the list is exhausted.  If the list is exhausted, then
        ##% the request has failed.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
        ##% When a failure for a particular contact address is received, the
        ##% client SHOULD try the next contact address.  This will involve
        ##% creating a new client transaction to deliver a new request.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
        ##% Failures SHOULD be detected through failure response codes (codes
        ##% greater than 399); for network errors the client transaction will
        ##% report any transport layer failures to the transaction user.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
        ##% Requests to the
        ##% URIs MAY be generated serially or in parallel.
        while client.pending_targets and client.redirects < self.config.max_redirects:
            target = client.pending_targets.pop(0)
            client.redirects += 1
            return self._retry(client, self._redirected(client.request, target), now)
        return None

    def _as_sip_uri(self, uri: AbsoluteURI) -> SipURI | None:
        """A tel: URI as a SIP URI in the UA's own domain (RFC 3261 §19.1.6), else None."""
        if uri.scheme.lower() != "tel":
            return None
        number = str(uri).split(":", 1)[1].split(";", 1)[0]
        domain = self.aor.uri.host if isinstance(self.aor.uri, SipURI) else self._sent_by[0]
        try:
            return parse_uri(f"sip:{number}@{domain};user=phone")  # type: ignore[return-value]
        except ValueError:
            return None

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
    ##% Upon receipt of a redirection response (for example, a 301 response
    ##% status code), clients SHOULD use the URI(s) in the Contact header
    ##% field to formulate one or more new requests based on the redirected
    ##% request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
    ##% As with proxy recursion, a client processing
    ##% 3xx class responses MUST NOT add any given URI to the target set more
    ##% than once.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
    ##% A common mechanism is to order the set by the "q"
    ##% parameter value from the Contact header field value.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.2
    ##% Depending on the status code of the 3xx response (see Section 21.3),
    ##% the UAC MAY choose to try those new addresses.
    def _add_targets(self, client: ClientRequest, response: Response) -> None:
        try:
            contacts = [c for c in response.contact if not c.is_star]
        except ValueError:
            return
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
        ##% As the target set grows, the client MAY generate new requests to the
        ##% URIs in any order.
        contacts.sort(key=lambda c: -(c.q if c.q is not None else 1.0))
        for contact in contacts:
            uri = contact.uri
            if any(uri == seen for seen in client.target_set):
                continue
            client.target_set.append(uri)
            client.pending_targets.append(uri)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
    ##% In order to create a request based on a contact address in a 3xx
    ##% response, a UAC MUST copy the entire URI from the target set into the
    ##% Request-URI, except for the "method-param" and "header" URI
    ##% parameters (see Section 19.1.1 for a definition of these parameters).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
    ##% It is RECOMMENDED that the UAC reuse the same To, From, and Call-ID
    ##% used in the original redirected request
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
    ##% Finally, once the new request has been constructed, it is sent using
    ##% a new client transaction, and therefore MUST have a new branch ID in
    ##% the top Via field as discussed in Section 8.1.1.7.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
    ##% In all other respects, requests sent upon receipt of a redirect
    ##% response SHOULD re-use the header fields and bodies of the original
    ##% request.
    def _redirected(self, request: Request, target: SipURI | AbsoluteURI) -> Request:
        retry = _copy(request)
        uri = target.copy()
        header_fields: list[tuple[str, str]] = []
        if isinstance(uri, SipURI):
            uri.params.remove("method")
            header_fields = list(uri.headers)
            uri.headers = []
        request_uri, route = build_route(uri, self.route_set)
        retry.uri = request_uri
        retry.headers.remove("Route")
        for value in route:
            retry.headers.add("Route", str(value))
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
        ##% It uses the "header" parameters to create header field values for the
        ##% new request, overwriting header field values associated with the
        ##% redirected request in accordance with the guidelines in Section
        ##% 19.1.5.
        from urllib.parse import unquote

        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
        ##% If the header
        ##% field does not accept multiple values, the value in the original
        ##% redirected request MAY be overwritten by the header field value
        ##% communicated in the contact address.
        body: bytes | None = None
        for name, value in header_fields:
            if name.lower() in _NOT_FROM_URI:
                continue
            if name.lower() == "body":
                body = unquote(value).encode()
            else:
                retry.headers.set(name, unquote(value))
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.15
        ##% The Content-Type header field MUST be present if the body is not empty.
        # The body header is applied after the others so that a Content-Type given beside
        # it counts; a body whose type is known from neither is not sent.
        if body is not None and (not body or "Content-Type" in retry.headers):
            retry.set_body(body)
        return retry

    # -- incoming requests (§8.2) ---------------------------------------------------

    def _on_request(
        self,
        transaction: Transaction | None,
        request: Request,
        source: Any,
        now: float,
        tls: bool,
    ) -> list[Any]:
        if request.method == "ACK":
            # An ACK for a 2xx reaches the TU without a transaction (§17.2.3).
            handler = self.handler("ACK")
            claimed = None if handler is None else handler.receive_ack(request, now)
            if claimed is not None:
                return claimed
            return self.drop(request, "ACK matches no 2xx awaiting acknowledgement")
        if not isinstance(transaction, ServerTransaction):
            raise TypeError("a request other than ACK reaches the TU with its server transaction")
        server = ServerRequest(transaction, request, source, tls=tls)
        self._servers[transaction] = server
        try:
            return self._dispatch(server, now)
        except ParseError as error:
            # A header field the core needed could not be read (§8.2.2): 400, naming it.
            reason = f"Bad Request ({error.args[0] if error.args else error})"
            return self.respond(server, 400, now, reason=reason[:120])

    def _dispatch(self, server: ServerRequest, now: float) -> list[Any]:
        request = server.request
        # A CANCEL is matched to the request it cancels before anything else (§9.2).
        handler = self.handler(request.method)
        if request.method == "CANCEL" and handler is not None:
            return handler.receive_request(server, now) or []
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2
        ##% If a request is accepted,
        ##% all state changes associated with it MUST be performed.  If it is
        ##% rejected, all state changes MUST NOT be performed.
        # _inspect changes nothing; a request it lets through is recorded for §8.2.2.2.
        rejection = self._inspect(server)
        if rejection is not None:
            return self.respond_with(server, rejection, now)
        if request.to.tag is None:
            key = _merge_key(request)
            self._merge_keys[key] = server.transaction
            self._merge_key_of[server.transaction] = key
        if request.to.tag is not None:
            return self._in_dialog(server, now)
        return self._outside_dialog(server, now)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2
    ##% UASs SHOULD process the requests in the order of the steps that
    ##% follow in this section (that is, starting with authentication, then
    ##% inspecting the method, the header fields, and so on throughout the
    ##% remainder of this section).
    def _inspect(self, server: ServerRequest) -> Response | None:
        """The response §8.2.1-§8.2.3 require for ``server``'s request, or None."""
        request = server.request
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.1
        ##% Once a request is authenticated (or authentication is skipped), the
        ##% UAS MUST inspect the method of the request.
        rejection = method_check(request, self.allow)
        if rejection is not None:
            return rejection
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.1
        ##% If the Request-URI uses a scheme not supported by the UAS,
        ##% it SHOULD reject the request with a 416 (Unsupported URI Scheme)
        ##% response.
        if not isinstance(request.uri, SipURI):
            return request.make_response(416)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.1
        ##% If the Request-URI does not identify an address that the
        ##% UAS is willing to accept requests for, it SHOULD reject the request
        ##% with a 404 (Not Found) response.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.1
        ##% However, it is
        ##% RECOMMENDED that a UAS accept requests even if they do not recognize
        ##% the URI scheme (for example, a tel: URI) in the To header field, or
        ##% if the To header field does not address a known or current user of
        ##% this UAS.
        if self.config.strict_request_uri and request.uri.user is not None:
            own = {u.user for u in (self.aor.uri, self.contact_uri) if isinstance(u, SipURI)}
            if request.uri.user not in own:
                return request.make_response(404)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.2
        ##% If the request has no tag in the To header field, the UAS core MUST
        ##% check the request against ongoing transactions.  If the From tag,
        ##% Call-ID, and CSeq exactly match those associated with an ongoing
        ##% transaction, but the request does not match that transaction (based
        ##% on the matching rules in Section 17.2.3), the UAS core SHOULD
        ##% generate a 482 (Loop Detected) response and pass it to the server
        ##% transaction.
        if request.to.tag is None:
            ongoing = self._merge_keys.get(_merge_key(request))
            if (
                ongoing is not None
                and not ongoing.terminated
                and ongoing is not server.transaction
            ):
                return request.make_response(482)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.3
        ##% Note that Require and Proxy-Require MUST NOT be used in a SIP CANCEL
        ##% request, or in an ACK request sent for a non-2xx response.  These
        ##% header fields MUST be ignored if they are present in these requests.
        rejection = require_check(request, self.supported)
        if rejection is not None:
            return rejection
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.3
        ##% If there are any bodies whose type (indicated by the
        ##% Content-Type), language (indicated by the Content-Language) or
        ##% encoding (indicated by the Content-Encoding) are not understood, and
        ##% that body part is not optional (as indicated by the Content-
        ##% Disposition header field), the UAS MUST reject the request with a 415
        ##% (Unsupported Media Type) response.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.3
        ##% The response MUST contain an
        ##% Accept header field listing the types of all bodies it understands,
        ##% in the event the request contained bodies of types not supported by
        ##% the UAS.  If the request contained content encodings not understood
        ##% by the UAS, the response MUST contain an Accept-Encoding header field
        ##% listing the encodings understood by the UAS.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2
        ##% If a UAS does not understand a header field in a request (that is,
        ##% the header field is not defined in this specification or in any
        ##% supported extension), the server MUST ignore that header field and
        ##% continue processing the message.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2
        ##% A UAS SHOULD ignore any malformed
        ##% header fields that are not necessary for processing requests.
        # (Header fields are parsed lazily: the ones never looked at here are never read.)
        if request.body:
            content_type = request.content_type
            disposition = (request.headers.get("Content-Disposition") or "").lower()
            optional = "handling=optional" in disposition.replace(" ", "")
            accepted = {t.lower() for t in self.accept}
            encodings = [
                e.strip().lower() for e in request.headers.get_all("Content-Encoding") if e.strip()
            ]
            bad_type = content_type is None or content_type.mime_type.lower() not in accepted
            bad_encoding = any(
                e not in {x.lower() for x in self.config.accept_encoding} for e in encodings
            )
            languages = [
                lang.strip().lower()
                for lang in request.headers.get_all("Content-Language")
                if lang.strip()
            ]
            known = {x.lower() for x in self.config.accept_language}
            bad_language = any(
                lang not in known and lang.split("-")[0] not in known for lang in languages
            )
            if (bad_type or bad_encoding or bad_language) and not optional:
                response = request.make_response(415)
                response.headers.add("Accept", ", ".join(self.accept))
                if bad_encoding:
                    response.headers.add("Accept-Encoding", ", ".join(self.config.accept_encoding))
                ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.3
                ##% If the request
                ##% contained content with languages not understood by the UAS, the
                ##% response MUST contain an Accept-Language header field indicating the
                ##% languages understood by the UAS.
                if bad_language:
                    response.headers.add("Accept-Language", ", ".join(self.config.accept_language))
                return response
        return None

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
    ##% If the
    ##% request has a tag in the To header field, the UAS core computes the
    ##% dialog identifier corresponding to the request and compares it with
    ##% existing dialogs.  If there is a match, this is a mid-dialog request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
    ##% Based on the To tag, the UAS MAY
    ##% either accept or reject the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
    ##% If the UAS wishes to reject the request because it does not wish to
    ##% recreate the dialog, it MUST respond to the request with a 481
    ##% (Call/Transaction Does Not Exist) status code and pass that to the
    ##% server transaction.
    def _in_dialog(self, server: ServerRequest, now: float) -> list[Any]:
        request = server.request
        dialog = self.dialogs.get(dialog_id_of(request, uac=False))
        handler = self.handler(request.method)
        if dialog is None or dialog.terminated:
            # An extension may know the dialog is being created (RFC 6665 §4.1.2.4: a
            # NOTIFY can arrive before the 2xx to its SUBSCRIBE).
            claimed = None if handler is None else handler.receive_request(server, now)
            return self.respond(server, 481, now) if claimed is None else claimed
        server.dialog = dialog
        server.to_tag = dialog.id.local_tag
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
        ##% A UAS that receives a second INVITE before it sends the final
        ##% response to a first INVITE with a lower CSeq sequence number on the
        ##% same dialog MUST return a 500 (Server Internal Error) response to the
        ##% second INVITE and MUST include a Retry-After header field with a
        ##% randomly chosen value of between 0 and 10 seconds.
        retry_after = self.rng.randint(0, 10)
        rejection = dialog.check_remote_cseq(request, retry_after)
        if rejection is not None:
            return self.respond_with(server, rejection, now)
        if handler is not None:
            claimed = handler.receive_request(server, now)
            if claimed is not None:
                return claimed
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-11.2
        ##% An OPTIONS request received within a dialog generates a 200 (OK)
        ##% response that is identical to one constructed outside a dialog and
        ##% does not have any impact on the dialog.
        if request.method == "OPTIONS":
            return self.respond_with(server, self.options_response(request), now)
        return [IncomingRequest(server, request)]

    def _outside_dialog(self, server: ServerRequest, now: float) -> list[Any]:
        request = server.request
        handler = self.handler(request.method)
        if handler is not None:
            claimed = handler.receive_request(server, now)
            if claimed is not None:
                return claimed
        if request.method == "OPTIONS":
            return self.respond_with(server, self.options_response(request), now)
        return [IncomingRequest(server, request)]

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-11
    ##% All UAs MUST
    ##% support the OPTIONS method.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-11
    ##% Alternatively, a server receiving an OPTIONS request with a Max-
    ##% Forwards header field value of 0 MAY respond to the request
    ##% regardless of the Request-URI.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-11.2
    ##% The response to an OPTIONS is constructed using the standard rules
    ##% for a SIP response as discussed in Section 8.2.6.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-11.2
    ##% Allow, Accept, Accept-Encoding, Accept-Language, and Supported header
    ##% fields SHOULD be present in a 200 (OK) response to an OPTIONS
    ##% request.
    def options_response(self, request: Request) -> Response:
        """The 200 (OK) to an OPTIONS: what an INVITE would get, plus capabilities (§11.2)."""
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-11.2
        ##% The response code
        ##% chosen MUST be the same that would have been chosen had the request
        ##% been an INVITE.
        decided = (e.options_status() for e in self.extensions)
        status = next((s for s in decided if s is not None), 200)
        response = request.make_response(status)
        response.headers.add("Allow", ", ".join(self.allow))
        response.headers.add("Accept", ", ".join(self.accept))
        response.headers.add("Accept-Encoding", ", ".join(self.config.accept_encoding))
        response.headers.add("Accept-Language", ", ".join(self.config.accept_language))
        response.headers.add("Supported", ", ".join(self.supported))
        return response

    # -- answering ----------------------------------------------------------------------

    def respond(
        self,
        server: ServerRequest,
        status: int,
        now: float,
        *,
        reason: str | None = None,
        headers: Iterable[tuple[str, Any]] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> list[Any]:
        """Build the response to ``server``'s request (§8.2.6) and pass it to its transaction."""
        response = server.request.make_response(status, reason, to_tag=server.to_tag)
        for name, value in headers:
            response.headers.add(name, value)
        if body or content_type:
            response.set_body(body, content_type)
        return self.respond_with(server, response, now)

    def respond_with(self, server: ServerRequest, response: Response, now: float) -> list[Any]:
        """Pass a response built by the caller to ``server``'s transaction."""
        for extension in self.extensions:
            extension.outgoing_response(response, server)
        return self.retransmit(server, response, now)

    def retransmit(self, server: ServerRequest, response: Response, now: float) -> list[Any]:
        """Send ``response`` again (or for the first time, past the extensions' hooks)."""
        if response.status >= 200:
            server.final_sent = True
        if server.transaction.terminated:
            return [SendMessage(response, server.source, None)]  # type: ignore[arg-type]
        return self._process(self.layer.send_response(server.transaction, response, now), now)

    def send_direct(self, request: Request, destination: Any) -> list[Any]:
        """Send ``request`` to the transport without a transaction (the ACK for a 2xx)."""
        for extension in self.extensions:
            extension.outgoing_request(request, None)
        return [SendMessage(request, destination, None)]  # type: ignore[arg-type]

    def server_request(self, transaction: Transaction) -> ServerRequest | None:
        """The request the UAS core is answering in ``transaction``, while it lives."""
        return self._servers.get(transaction)


# How often the extensions may retry one request: a bound, so that two hooks that
# undo each other cannot make a request loop.
MAX_EXTENSION_RETRIES = 3

# Header fields a URI's headers component may not set (§19.1.5).
_NOT_FROM_URI = frozenset(
    {"via", "from", "to", "call-id", "cseq", "max-forwards", "content-length", "route",
     "record-route", "contact"}
)  # fmt: skip


def _merge_key(request: Request) -> tuple[Any, ...]:
    """From tag, Call-ID and CSeq: what merged requests share (§8.2.2.2)."""
    return (request.from_.tag, request.call_id, request.cseq.number, request.cseq.method)


def _union(first: tuple[str, ...], more: Iterable[str]) -> tuple[str, ...]:
    """``first`` followed by the values of ``more`` it lacks (case-insensitively)."""
    seen = {value.lower() for value in first}
    extra: list[str] = []
    for value in more:
        if value.lower() not in seen:
            seen.add(value.lower())
            extra.append(value)
    return (*first, *extra)


def _copy(request: Request) -> Request:
    copy = parse(bytes(request))
    assert isinstance(copy, Request)
    return copy
