"""The user agent core: what UAC and UAS share (RFC 3261 §8.1.1.3-§8.1.1.7, §19.3).

Theory of operation
-------------------
:class:`UserAgent` is a transaction user (TU) in the sense of §17.  It owns a
:class:`~rfc3261.transaction_layer.TransactionLayer` and is composed of its two
behaviours, each in a module of its own to read beside its section:

- :mod:`rfc3261.uac` (§8.1): builds requests (§8.1.1), picks their destination
  (§8.1.2), processes responses (§8.1.3: transaction errors as 408/503, unknown
  codes as x00, extra Vias dropped, 3xx recursion over a target set, 401/407
  retries with :mod:`rfc3261.auth_client`, 416 and 420 retries);
- :mod:`rfc3261.uas` (§8.2, §11, §12.2.2): inspects incoming requests (405 + Allow,
  416, 404, 482 for merged requests, 420 + Unsupported, 415 + Accept, 481 for
  unknown dialogs, 500 + Retry-After for out-of-order CSeq), answers OPTIONS (§11)
  itself and builds responses (§8.2.6).

This module keeps what both share: the configuration (:class:`UAConfig`), the
identifiers (tags, Call-IDs, branches, CSeq: §8.1.1.3-§8.1.1.7, §19.3) and Contact,
the installed extensions (:meth:`UserAgent.use`; Allow, Supported and Accept are
computed from them), timers, the input from the transport and the plumbing that
turns the transaction layer's events into UAC or UAS work.  INVITE, CANCEL, BYE
and ACK go to :mod:`rfc3261.session` and :mod:`rfc3261.cancel` (extensions
installed by default), REGISTER clients to :mod:`rfc3261.registration`.

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
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .auth_client import AuthClient, CredentialsProvider
from .cancel import CancelHandling
from .capabilities import KNOWN_METHODS
from .dialog import Dialog, DialogId
from .errors import ParseError
from .extension import (
    ClientRequest,
    Dropped,
    IncomingRequest,
    ResponseEvent,
    ServerRequest,
    UAEffect,
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
from .uac import UacBehaviour
from .uas import UasBehaviour
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


# How many dropped messages UserAgent.log keeps (the most recent ones).
LOG_SIZE = 100


@dataclass
class UAConfig:
    """What a UA is configured with (§8.1.1, §10.2.6)."""

    aor: str
    contact: str
    sent_by: str
    transport: str = "UDP"
    display_name: str | None = None
    #: The outbound proxy, given to the UA as a pre-existing route set (see __init__).
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
    #: The product tokens sent in User-Agent (requests) and Server (responses), if any
    #: (§20.41, §20.35); None sends neither.
    user_agent: str | None = None
    server: str | None = None

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


def _no_effects(now: float) -> list[UAEffect]:
    return []


class Timer:
    """A timer of the UA core or of an extension (:meth:`UserAgent.call_at`)."""

    __slots__ = ("_queue", "callback", "deadline")

    def __init__(
        self,
        queue: TimerQueue[Timer],
        deadline: float,
        callback: Callable[[float], list[UAEffect]],
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
        # The queue keeps a cancelled entry until its deadline comes up (an INVITE's
        # Expires may be years away): let go of what the callback holds now.
        self.callback = _no_effects


class UserAgent(UacBehaviour, UasBehaviour):
    """A SIP user agent core (UAC and UAS) on top of a transaction layer.

    What it sends and the responses it gets are :class:`~rfc3261.uac.UacBehaviour`'s
    (§8.1); what it receives and how it answers, :class:`~rfc3261.uas.UasBehaviour`'s
    (§8.2).  The class itself holds what both share: configuration, identifiers,
    installed extensions, timers and the plumbing of effects.
    """

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
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
        ##% The URI SHOULD have global scope (that is, the same URI can be used in
        ##% messages outside this dialog).
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
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.1
        ##% When a provider
        ##% wishes to configure a UA with an outbound proxy, it is RECOMMENDED
        ##% that this be done by providing it with a pre-existing route set with
        ##% a single URI, that of the outbound proxy.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
        ##% However, that approach
        ##% for configuring an outbound proxy is NOT RECOMMENDED; a pre-existing
        ##% route set with a single URI SHOULD be used instead.
        if config.outbound_proxy:
            proxy = parse_uri(config.outbound_proxy)
            if isinstance(proxy, SipURI) and not proxy.lr:
                proxy.params.set("lr", None)
            self.route_set = [NameAddr(None, proxy)]

        self.auth = AuthClient(
            config.credentials, rng=self.rng, max_attempts=config.max_auth_attempts
        )
        self.dialogs: dict[DialogId, Dialog] = {}
        # The UAC's state (rfc3261.uac): live client transactions.
        self._clients: dict[Transaction, ClientRequest] = {}
        # The UAS's state (rfc3261.uas): live server transactions, and the (From tag,
        # Call-ID, CSeq) of requests without To tag -> their transaction (§8.2.2.2).
        self._servers: dict[Transaction, ServerRequest] = {}
        self._merge_keys: dict[tuple[Any, ...], Transaction] = {}
        self._merge_key_of: dict[Transaction, tuple[Any, ...]] = {}
        self._timers: TimerQueue[Timer] = TimerQueue()
        self._cseq = self.rng.randint(1, 2**16)
        # The last LOG_SIZE messages dropped (a bounded log: a hostile peer sends many).
        self.log: deque[Dropped] = deque(maxlen=LOG_SIZE)
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
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.5
        ##% All methods, including ACK and CANCEL, understood by the UA MUST be
        ##% included in the list of methods in the Allow header field, when
        ##% present.
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
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.3
    ##% When a tag is generated by a UA for insertion into a request or
    ##% response, it MUST be globally unique and cryptographically random
    ##% with at least 32 bits of randomness.
    # (The UA's rng is random.SystemRandom unless a test seeds its own.)
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

    # -- timers ------------------------------------------------------------------------

    def call_at(self, deadline: float, callback: Callable[[float], list[UAEffect]]) -> Timer:
        """Run ``callback(now)`` at ``deadline``; returns a handle with ``cancel()``."""
        return Timer(self._timers, deadline, callback)

    def next_deadline(self) -> float | None:
        """The earliest deadline of the transaction layer and the UA core."""
        mine = self._timers.next_deadline()
        layer = self.layer.next_deadline()
        if mine is None:
            return layer
        return mine if layer is None else min(mine, layer)

    def handle_timer(self, now: float) -> list[UAEffect]:
        """Fire every timer due at ``now`` (transactions first, then the core's)."""
        effects = self._process(self.layer.handle_timer(now), now)
        for timer in self._timers.due(now):
            effects.extend(timer.callback(now))
        return effects

    # -- input from the transport ---------------------------------------------------

    def receive(
        self, message: Request | Response, source: Any, now: float, *, tls: bool = False
    ) -> list[UAEffect]:
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

    def receive_bytes(self, data: bytes, source: Any, now: float) -> list[UAEffect]:
        """Parse ``data`` and pass it to :meth:`receive`; unparsable data is dropped."""
        try:
            message = parse(data)
        except ParseError as error:
            return self._drop(data, f"unparsable message: {error}")
        return self.receive(message, source, now)

    def transport_error(self, transaction: Transaction, now: float) -> list[UAEffect]:
        """The transport could not send a message of ``transaction``."""
        return self._process(self.layer.transport_error(transaction, now), now)

    def drop(self, message: Any, reason: str) -> list[UAEffect]:
        """Discard ``message``: log it and tell the application why."""
        event = Dropped(message, reason)
        self.log.append(event)
        return [event]

    _drop = drop

    # -- TU events from the transaction layer -------------------------------------

    def _process(
        self, effects: list[UAEffect], now: float, *, source: Any = None, tls: bool = False
    ) -> list[UAEffect]:
        # The transactions' own messages (an ACK for a non-2xx, a 100) go out before
        # whatever the TU does in reaction to the same input.
        out: list[UAEffect] = [effect for effect in effects if isinstance(effect, SendMessage)]
        for effect in effects:
            if isinstance(effect, SendMessage):
                continue
            elif isinstance(effect, ResponseReceived):
                out.extend(self._on_response(effect.transaction, effect.response, now))
            elif isinstance(effect, RequestReceived):
                out.extend(self._on_request(effect.transaction, effect.request, source, now, tls))
            elif isinstance(effect, (Timeout, TransportFailure)):
                # A client's failure counts as a 408 or 503 response (§8.1.3.1, in uac.py);
                # a server's ends the request its owner was answering (uas.py).
                status = 408 if isinstance(effect, Timeout) else 503
                if effect.transaction in self._clients:
                    out.extend(self._on_failure(effect.transaction, status, now))
                else:
                    out.extend(self._on_server_failure(effect.transaction, now))
            elif isinstance(effect, Terminated):
                self._clients.pop(effect.transaction, None)
                out.extend(self._on_server_terminated(effect.transaction, now))
        return out


def _union(first: tuple[str, ...], more: Iterable[str]) -> tuple[str, ...]:
    """``first`` followed by the values of ``more`` it lacks (case-insensitively)."""
    seen = {value.lower() for value in first}
    extra: list[str] = []
    for value in more:
        if value.lower() not in seen:
            seen.add(value.lower())
            extra.append(value)
    return (*first, *extra)
