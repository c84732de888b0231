"""The UA core's extension API: per-request state, events, and the hooks extensions fill.

A feature of a user agent that goes beyond §8 -- INVITE sessions (§13-§15), CANCEL
(§9), and every extension RFC (100rel, UPDATE, SUBSCRIBE/NOTIFY...) -- is a
:class:`UAExtension` installed on one :class:`~rfc3261.ua_core.UserAgent`
(``UserAgent(config, extensions=[...])`` or ``ua.use(extension)``).  An extension says

- which **methods** it handles (they go into Allow, and requests with them are routed to
  it), which of them **create dialogs** (they carry a Contact, §8.1.1.8), which
  **option tags** it supports (Supported, and the 420 check of §8.2.2.3) and which
  **body types** it accepts (Accept, and the 415 check of §8.2.3);
- what it does with an incoming request of its methods (:meth:`UAExtension.receive_request`),
  with a response before the core acts on it (:meth:`UAExtension.inspect_response`), and
  whether a failed request should be retried (:meth:`UAExtension.retry`);
- what it adds to every request and every response the UA sends
  (:meth:`UAExtension.outgoing_request`, :meth:`UAExtension.outgoing_response`): new
  requests, retries, in-dialog requests, CANCEL and the ACK for a 2xx alike, and
  responses built by the core itself.

The core's own features use nothing else: :mod:`rfc3261.cancel` and
:mod:`rfc3261.session` are extensions, installed by default.

An incoming or outgoing request is represented by a :class:`ServerRequest` or a
:class:`ClientRequest`; whoever sent a request (or answers one) is its :class:`Owner`
and is told of its responses, of a CANCEL and of the end of its transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from . import abnf
from .message import Request, Response
from .status import REASON_PHRASES
from .transaction import SendMessage

if TYPE_CHECKING:  # pragma: no cover
    from .dialog import Dialog
    from .transaction_client import ClientTransaction
    from .transaction_server import ServerTransaction
    from .ua_core import UserAgent
    from .uri import AbsoluteURI, SipURI

__all__ = [
    "ClientRequest",
    "Dropped",
    "IncomingRequest",
    "Owner",
    "ResponseEvent",
    "ServerRequest",
    "UAEffect",
    "UAEvent",
    "UAExtension",
    "effective_status",
    "local_response",
]


# -- events for the application -------------------------------------------------------


class UAEvent:
    """Base class of what the UA core tells the application."""

    __slots__ = ()


@dataclass
class IncomingRequest(UAEvent):
    """A request the application answers with :meth:`UserAgent.respond`."""

    server: ServerRequest
    request: Request


@dataclass
class ResponseEvent(UAEvent):
    """A response to a request the application sent (after §8.1.3 processing)."""

    client: ClientRequest
    response: Response


@dataclass
class Dropped(UAEvent):
    """A message the core discarded, with the reason (the log line)."""

    message: Any
    reason: str


#: What every entry point of the UA core and every hook returns, in order: messages for
#: the transport (:class:`~rfc3261.transaction.SendMessage`) and events for the
#: application (the :class:`UAEvent` subclasses: these, the session's call events...).
UAEffect = SendMessage | UAEvent


# -- who sent or answers a request ------------------------------------------------------


class Owner:
    """The party responsible for a request: told of its responses and of its end.

    The application owns the requests it sends without an owner (it gets
    :class:`ResponseEvent`) and the requests it is handed as :class:`IncomingRequest`.
    """

    def on_response(self, client: ClientRequest, response: Response, now: float) -> list[UAEffect]:
        """A response to ``client``'s request, after the core's §8.1.3 processing."""
        return []

    def on_cancel(self, server: ServerRequest, now: float) -> list[UAEffect] | None:
        """A CANCEL matched ``server``'s pending request (§9.2); None: the core answers 487."""
        return None

    def on_terminated(self, server: ServerRequest, now: float) -> list[UAEffect]:
        """``server``'s transaction ended (or failed: Timer H, a transport error)."""
        return []


# -- per-request state -----------------------------------------------------------------


@dataclass(eq=False)
class ClientRequest:
    """A request sent by the UAC core and the retries made for it (§8.1.3.4, §8.1.3.5)."""

    request: Request
    destination: Any
    transaction: ClientTransaction | None = None
    owner: Any = None
    dialog: Dialog | None = None
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
    ##% A client
    ##% starts with an initial target set containing exactly one URI, the
    ##% Request-URI of the original request.
    target_set: list[SipURI | AbsoluteURI] = field(default_factory=list)
    pending_targets: list[SipURI | AbsoluteURI] = field(default_factory=list)
    auth_attempts: int = 0
    redirects: int = 0
    retried_420: bool = False
    extension_retries: int = 0
    provisional: bool = False
    final: Response | None = None
    cancel_requested: bool = False
    cancel: Request | None = None

    @property
    def method(self) -> str:
        return self.request.method


@dataclass(eq=False)
class ServerRequest:
    """A request received by the UAS core, with what is needed to answer it."""

    transaction: ServerTransaction
    request: Request
    source: Any
    dialog: Dialog | None = None
    to_tag: str | None = None
    final_sent: bool = False
    owner: Any = None
    tls: bool = False


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.2
##% A UAC MUST treat any final response it does not recognize as being
##% equivalent to the x00 response code of that class, and MUST be able
##% to process the x00 response code for all classes.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.2
##% A
##% UAC MUST treat any provisional response different than 100 that it
##% does not recognize as 183 (Session Progress).
def effective_status(status: int) -> int:
    """The status a UAC acts on: unknown codes become x00 (or 183 for 1xx)."""
    if status in REASON_PHRASES:
        return status
    return 183 if status < 200 else status // 100 * 100


def local_response(request: Request, status: int) -> Response:
    """A response the UAC core makes up for its own request (a timeout's 408, §8.1.3.1).

    Its To header field is the request's, untagged: no UAS chose a tag.
    """
    response = request.make_response(status, to_tag="")
    response.headers.set("To", request.headers.get("To"))
    return response


# -- the extension ------------------------------------------------------------------------


class UAExtension:
    """One feature installed on one user agent; every hook is optional.

    Class attributes declare what the extension brings; the UA computes Allow,
    Supported and Accept from the union over what is installed.  Hooks that return
    ``None`` leave the message to the core (and to the extensions installed after).
    """

    #: A short name, unique among the extensions of one UA ("100rel", "sessions").
    name: ClassVar[str] = ""
    #: Methods this extension handles: they go into Allow and are routed to it.
    methods: ClassVar[tuple[str, ...]] = ()
    #: Methods (among ``methods`` or the application's) whose requests create a dialog.
    dialog_methods: ClassVar[tuple[str, ...]] = ()
    #: Option tags this extension supports (Supported; a Require of them is accepted).
    option_tags: ClassVar[tuple[str, ...]] = ()
    #: Body types this extension understands (Accept; §8.2.3).
    accept: ClassVar[tuple[str, ...]] = ()
    #: Whether the requests :meth:`retry` returns keep their CSeq (only the branch is new,
    #: RFC 3263 §4.3) instead of the next number (§8.1.3.5).
    retry_keeps_cseq: ClassVar[bool] = False

    ua: UserAgent

    def install(self, ua: UserAgent) -> None:
        """Called once by :meth:`UserAgent.use`; keep ``ua`` and register headers here."""
        self.ua = ua

    # -- incoming --------------------------------------------------------------------

    def receive_request(self, server: ServerRequest, now: float) -> list[UAEffect] | None:
        """A request of one of ``methods`` that passed §8.2 (and §12.2.2 in a dialog).

        ``server.dialog`` is the dialog it belongs to, or None: outside a dialog, or
        (when the request has a To tag) a dialog the core does not know, which the
        core answers with 481 if every extension returns None (§12.2.2).
        """
        return None

    def screen_request(self, server: ServerRequest, now: float) -> list[UAEffect] | None:
        """Any request that passed §8.2 (and §12.2.2 in a dialog), before it is routed.

        Asked of every installed extension, whatever the method, before the extension
        of the request's method sees it; a list answers the request instead (the
        extension responds, e.g. RFC 4028's 422 to an INVITE or UPDATE whose session
        interval is too small, §6).  Changes nothing when it returns None.
        """
        return None

    def receive_ack(self, request: Request, now: float) -> list[UAEffect] | None:
        """An ACK for a 2xx (it has no transaction, §17.2.3), if ``methods`` has ACK."""
        return None

    def inspect_response(
        self, client: ClientRequest, response: Response, now: float
    ) -> list[UAEffect] | None:
        """A response to ``client``'s request, before §8.1.3; a list claims it."""
        return None

    def retry(self, client: ClientRequest, response: Response, now: float) -> Request | None:
        """A failure response (3xx-6xx): an amended copy of the request to send instead.

        The core gives the retry a new CSeq (unless ``retry_keeps_cseq``) and branch
        (§8.1.3.5).  Extensions are asked
        before the core's own policies (credentials, redirection, 416, 420).
        """
        return None

    def after_provisional(
        self, client: ClientRequest, response: Response, now: float
    ) -> list[UAEffect]:
        """A provisional response was delivered: what to send now that one came (§9.1)."""
        return []

    def options_status(self) -> int | None:
        """The status an INVITE would get now, if this extension decides it (§11.2)."""
        return None

    # -- outgoing --------------------------------------------------------------------

    def outgoing_request(self, request: Request, client: ClientRequest | None) -> None:
        """Every request the UA sends, while it can still change (``client`` None: an ACK).

        A retry (§8.1.3.5) is a copy of a request that passed here already, and passes
        again: add header fields with ``headers.set``, not ``add``.
        """

    def outgoing_response(self, response: Response, server: ServerRequest | None) -> None:
        """Every response the UA sends (``server`` None: sent without a transaction)."""

    def claim_response(
        self, server: ServerRequest, response: Response, now: float
    ) -> list[UAEffect] | None:
        """A response about to go to ``server``'s transaction; a list claims it.

        Asked after every ``outgoing_response``.  An extension that claims a response
        sends it itself, now or later, with :meth:`UserAgent.retransmit` (RFC 3262 §3
        sends one reliable provisional response at a time and holds a 2xx until the
        PRACK).
        """
        return None


_TOKEN = re.compile(abnf.token)


def check_extension(extension: UAExtension, installed: list[UAExtension]) -> None:
    """Refuse an extension that is malformed or clashes with one already installed."""
    if not isinstance(extension, UAExtension):
        raise TypeError(f"{extension!r} is not a UAExtension")
    if not extension.name:
        raise ValueError(f"{type(extension).__name__}: an extension needs a name")
    for method in (*extension.methods, *extension.dialog_methods):
        if not _TOKEN.fullmatch(method) or method != method.upper():
            raise ValueError(f"{extension.name}: {method!r} is not an upper-case method token")
    for tag in extension.option_tags:
        if not _TOKEN.fullmatch(tag):
            raise ValueError(f"{extension.name}: {tag!r} is not an option-tag token (§19.2)")
    for other in installed:
        if other.name == extension.name:
            raise ValueError(f"extension {extension.name!r} is installed already")
        shared = set(other.methods) & set(extension.methods)
        if shared:
            raise ValueError(
                f"{extension.name}: {', '.join(sorted(shared))} handled by {other.name!r} already"
            )
