"""SIP-specific event notification: SUBSCRIBE and NOTIFY (RFC 6665).

A UA with :class:`EventsExtension` installed is a **subscriber** and, for the event
packages it is given as a notifier, a **notifier**:

- ``events.subscribe("sip:bob@example.com", "presence", now)`` sends a SUBSCRIBE and
  returns a :class:`SubscribeAttempt`.  Every NOTIFY that answers it -- before or after
  the 2xx, from one or (after forking, §4.1.2.4, §4.4.1) several notifiers -- creates a
  :class:`SubscriberUsage`, a dialog usage in the sense of RFC 5057, whose state
  (``pending``/``active``/``terminated``) follows the Subscription-State header field.
  The application hears of each NOTIFY as a :class:`SubscriptionUpdate` and of a failed
  attempt as a :class:`SubscriptionFailed`; ``usage.refresh(now)`` and
  ``usage.unsubscribe(now)`` send a SUBSCRIBE in the dialog (§4.1.2.2, §4.1.2.3), and
  Timer N (64*T1, §4.1.2.4) ends what gets no NOTIFY.
- A SUBSCRIBE for a package the UA is a notifier of creates a :class:`NotifierUsage`
  (§4.2.1), answered 200 with the granted Expires and followed at once by a NOTIFY of the
  current state (§4.2.1.2); :meth:`EventsExtension.set_state` changes the state of a
  resource and NOTIFYs every subscription to it (§4.2.2) within the package's rate limit.
  A refresh extends the subscription, ``Expires: 0`` ends it with a final NOTIFY, and so
  does its expiry (``reason=timeout``, §4.2.1.4).

An :class:`EventPackage` is a small object: its name, the body types its NOTIFYs carry,
how state is rendered and parsed, its default and minimum Expires, its rate limit and
whether forked SUBSCRIBEs may install several subscriptions (§5.4).  Packages live in a
registry (:func:`register_event_package`); an extension is given the ones it serves.

Subscriptions are dialog usages (RFC 5057): the key of a usage is ``subscribe:<event>``
(``;id=<id>`` when the Event header field has one, §4.5.2), next to the INVITE usage
``invite``, so that a subscription can share an INVITE's dialog -- the shape RFC 3515's
implicit REFER subscription reuses (:meth:`EventsExtension.add_notifier`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from rfc3261 import abnf
from rfc3261.dialog import Dialog, DialogId, DialogState
from rfc3261.errors import ParseError
from rfc3261.extension import ClientRequest, Owner, ServerRequest, UAEffect, UAEvent, UAExtension
from rfc3261.headers import NameAddr, register_header, unquote
from rfc3261.message import Request, Response
from rfc3261.uri import SipURI

if TYPE_CHECKING:  # pragma: no cover
    from rfc3261.ua_core import Timer, UserAgent

__all__ = [
    "EVENT_PACKAGES",
    "NOTIFIER_GONE",
    "REFRESH_FAILURES",
    "Event",
    "EventPackage",
    "EventsExtension",
    "NotifierUsage",
    "SubState",
    "SubscribeAttempt",
    "SubscriberUsage",
    "SubscriptionFailed",
    "SubscriptionState",
    "SubscriptionUpdate",
    "register_event_package",
    "resource_key",
]

_SECTION = "RFC 6665 §8.4"
_PARAM = re.compile(f"{abnf.SEMI}({abnf.token})(?:{abnf.EQUAL}({abnf.gen_value}))?")
_WITH_PARAMS = re.compile(f"({abnf.token})((?:{abnf.SEMI}{abnf.generic_param})*+)")


def _params(text: str, header: str) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    for name, value in _PARAM.findall(text):
        params[name.lower()] = unquote(value) if value else None
    return params


# -- header fields (§7.2, §8.2) ---------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """An Event value: the event type (a package, with templates) and its ``id`` (§7.2.1)."""

    package: str
    id: str | None = None
    params: tuple[tuple[str, str | None], ...] = ()

    @classmethod
    def parse(cls, value: str) -> Event:
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-8.2.1
        ##% There MUST be exactly one event type listed per "Event" header field.
        match = _WITH_PARAMS.fullmatch(value.strip())
        if match is None:
            raise ParseError(f"{value!r} is not an event-type", _SECTION, "Event")
        params = _params(match[2], "Event")
        return cls(
            match[1].lower(),
            params.pop("id", None),
            tuple(params.items()),
        )

    @property
    def key(self) -> str:
        """The RFC 5057 usage key: what tells two subscriptions in one dialog apart."""
        return f"subscribe:{self.package}" + (f";id={self.id}" if self.id is not None else "")

    def __str__(self) -> str:
        text = self.package + (f";id={self.id}" if self.id is not None else "")
        for name, value in self.params:
            text += f";{name}" if value is None else f";{name}={value}"
        return text


class SubState(Enum):
    """The subscription states of §4.1.2 and §4.2.2 (``init``/``notify_wait`` aside)."""

    NOTIFY_WAIT = "notify_wait"
    PENDING = "pending"
    ACTIVE = "active"
    TERMINATED = "terminated"


@dataclass(frozen=True)
class SubscriptionState:
    """A Subscription-State value: state, reason, expires, retry-after (§8.2.3, §8.4)."""

    state: str
    reason: str | None = None
    expires: int | None = None
    retry_after: int | None = None

    @classmethod
    def parse(cls, value: str) -> SubscriptionState:
        match = _WITH_PARAMS.fullmatch(value.strip())
        if match is None:
            raise ParseError(f"{value!r} is not a substate-value", _SECTION, "Subscription-State")
        params = _params(match[2], "Subscription-State")
        numbers: dict[str, int | None] = {}
        for name in ("expires", "retry-after"):
            text = params.get(name)
            if text is not None and not (text.isascii() and text.isdigit()):
                raise ParseError(
                    f"{name}={text} is not delta-seconds", _SECTION, "Subscription-State"
                )
            numbers[name] = int(text) if text is not None else None
        reason = params.get("reason")
        return cls(
            match[1].lower(),
            reason.lower() if reason else None,
            numbers["expires"],
            numbers["retry-after"],
        )

    @property
    def sub_state(self) -> SubState | None:
        """The state as :class:`SubState`; None for an extension value (§4.1.3)."""
        try:
            return SubState(self.state)
        except ValueError:
            return None

    def __str__(self) -> str:
        text = self.state
        if self.reason is not None:
            text += f";reason={self.reason}"
        if self.expires is not None:
            text += f";expires={self.expires}"
        if self.retry_after is not None:
            text += f";retry-after={self.retry_after}"
        return text


def _parse_allow_events(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(abnf.token, value):
        raise ParseError(f"{value!r} is not an event-type", _SECTION, "Allow-Events")
    return value.lower()


def register_headers() -> None:
    """Event ("o"), Allow-Events ("u") and Subscription-State (§7.2, §8.4)."""
    register_header("Event", Event.parse, rfc=6665, section="8.2.1", compact="o")
    register_header(
        "Allow-Events", _parse_allow_events, rfc=6665, section="8.2.2", compact="u", multi=True
    )
    register_header("Subscription-State", SubscriptionState.parse, rfc=6665, section="8.2.3")


# -- event packages (§5.4) ---------------------------------------------------------------


@dataclass
class EventPackage:
    """An event package (§5.4): what the framework needs to know about one.

    Subclasses (or instances with other values) give the package's rules; the default
    renders no body, which is the "neutral state" of a package that defines none.
    """

    #: The token naming the package in Event and Allow-Events (checked on registration).
    name: str
    #: The body types of its NOTIFYs; the first is assumed without Accept (§3.1.3).
    accept: tuple[str, ...] = ()
    ##= https://www.rfc-editor.org/rfc/rfc6665#section-5.4.4
    ##% Such packages MUST also define a default "Expires" value to be used
    ##% if none is specified.
    ##= https://www.rfc-editor.org/rfc/rfc6665#section-3.1.1
    ##% If no "Expires" header field is present in a SUBSCRIBE request, the
    ##% implied default MUST be defined by the event package being used.
    default_expires: int = 3600
    #: The shortest subscription the notifier accepts (423 + Min-Expires below it).
    min_expires: int = 60
    #: The longest subscription the notifier grants (a longer request is shortened).
    max_expires: int = 3600
    ##= https://www.rfc-editor.org/rfc/rfc6665#section-5.4.10
    ##% Each package MAY further define a throttle mechanism that allows
    ##% subscribers to further limit the rate of notification.
    #: The least time between two NOTIFYs of one subscription, in seconds (§5.4.10).
    min_interval: float = 5.0
    ##= https://www.rfc-editor.org/rfc/rfc6665#section-5.4.9
    ##% Each event package MUST specify whether forked SUBSCRIBE requests are
    ##% allowed to install multiple subscriptions.
    #: Whether a forked SUBSCRIBE may install several subscriptions (§5.4.9).
    forking: bool = True
    #: Whether a subscriber re-subscribes after a termination whose reason allows it
    #: (§4.1.3); RFC 3515's ``refer`` package does not (its §2.4.7).
    resubscribe: bool = True

    def render(self, state: Any, content_type: str | None) -> tuple[bytes, str | None]:
        """The NOTIFY body for ``state`` in ``content_type`` (None: the package's default)."""
        if state is None:
            return b"", None
        if isinstance(state, bytes):
            return state, content_type or (self.accept[0] if self.accept else None)
        raise TypeError(f"{self.name}: no rendering for {type(state).__name__}")

    def parse(self, body: bytes, content_type: str | None) -> Any:
        """The state a NOTIFY (or PUBLISH) body carries; ValueError when malformed."""
        return body or None

    def terminated_state(self, state: Any) -> Any:
        """What the final NOTIFY carries: nothing by default (RFC 3515's refer: its state)."""
        return None

    def final_reason(self, reason: str) -> str:
        """The reason a final NOTIFY gives for ``reason`` (a package may insist on one)."""
        return reason

    ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.2.4
    ##% Event package specifications MUST define this "neutral state"
    ##% in such a way that makes sense for their application (see
    ##% Section 5.4.7).
    def pending_state(self, resource: str) -> Any:
        """What a pending subscription is told (§4.1.2.4's neutral state): none by default."""
        return None

    def state_from_text(self, text: str, resource: str) -> Any:
        """The state a command line names (``--publish-presence open``): the text itself."""
        return text.encode()

    def content_type_for(self, accept: list[str] | None) -> str | None:
        """The body type a subscriber asked for, or the default; None: none fits."""
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-5.4.5
        ##% Each package MUST define what type or types of event bodies are
        ##% expected in NOTIFY requests.
        if not self.accept:
            return None  # a package whose NOTIFYs carry no body
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-3.1.3
        ##% Event packages MUST define the behavior for SUBSCRIBE requests
        ##% without "Accept" header fields; usually, this will connote a single,
        ##% default body type.
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-5.4.5
        ##% Event packages also MUST define which media type is to be assumed if
        ##% none are specified in the "Accept" header field of the SUBSCRIBE
        ##% request.
        if not accept:
            return self.accept[0]
        wanted = [a.split(";")[0].strip().lower() for a in accept]
        for mine in self.accept:
            major = mine.split("/")[0] + "/*"
            if mine in wanted or major in wanted or "*/*" in wanted:
                return mine
        return None


#: The registry of event packages this process knows, by name.
EVENT_PACKAGES: dict[str, EventPackage] = {}


def register_event_package(package: EventPackage) -> EventPackage:
    """Add ``package`` to :data:`EVENT_PACKAGES`; the same name twice must be the same object."""
    ##= https://www.rfc-editor.org/rfc/rfc6665#section-5.4.1
    ##% This section, which MUST be present, defines the token name to be
    ##% used to designate the event package.
    if not re.fullmatch(abnf.token, package.name):
        raise ValueError(f"event package {package.name!r} is not a token (RFC 6665 §8.4)")
    known = EVENT_PACKAGES.get(package.name)
    if known is not None and known != package:
        raise ValueError(f"event package {package.name!r} is registered already")
    EVENT_PACKAGES[package.name] = package
    return package


def resource_key(uri: Any) -> str:
    """The resource a subscription (or publication) is about: ``user@host`` of its URI."""
    if isinstance(uri, SipURI):
        user = f"{uri.user}@" if uri.user else ""
        return f"{user}{uri.host_lower}"
    return str(uri)


# -- events for the application -----------------------------------------------------------


@dataclass
class SubscriptionUpdate(UAEvent):
    """A NOTIFY was accepted for ``usage``: its new state and the package's reading of it."""

    usage: SubscriberUsage
    request: Request
    state: SubState
    content: Any
    reason: str | None = None

    def describe(self) -> str:
        """One line for a log or a terminal."""
        reason = f" ({self.reason})" if self.reason else ""
        what = f"{self.usage.event.package} {self.usage.target}"
        shown = getattr(self.content, "basic", self.content)  # presence: open/closed
        return f"NOTIFY {what}: {self.state.value}{reason}: {shown}"


@dataclass
class SubscriptionFailed(UAEvent):
    """A SUBSCRIBE got no subscription: a failure response, or Timer N with no NOTIFY."""

    attempt: SubscribeAttempt
    response: Response | None
    reason: str

    def describe(self) -> str:
        """One line for a log or a terminal."""
        return f"SUBSCRIBE {self.attempt.target}: failed ({self.reason})"


@dataclass
class SubscriptionEnded(UAEvent):
    """A subscription (either role) ended: refreshed no more, expired, removed."""

    usage: SubscriberUsage | NotifierUsage
    reason: str


# -- subscriber (§4.1) -------------------------------------------------------------------

##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.2.2
##% If a SUBSCRIBE request to refresh a subscription receives a 404, 405,
##% 410, 416, 480-485, 489, 501, or 604 response, the subscriber MUST
##% consider the subscription terminated.
#: Responses after which a refresh (or a NOTIFY, §4.2.2) ends the subscription.
REFRESH_FAILURES = frozenset({404, 405, 410, 416, 480, 481, 482, 483, 484, 485, 489, 501, 604})
#: The same list for NOTIFY failures at the notifier (§4.2.2), with Timer F's 408.
NOTIFIER_GONE = REFRESH_FAILURES | {408}


#: Seconds to wait after ``probation`` without retry-after ("some later time").
PROBATION_DELAY = 60.0


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##% If no reason code or an unknown reason code is present, the client MAY
##% attempt to re-subscribe at any time (unless a "retry-after" parameter
##% is present, in which case the client SHOULD NOT attempt re-
##% subscription until after the number of seconds specified by the
##% "retry-after" parameter).
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##% deactivated: The subscription has been terminated, but the subscriber
##% SHOULD retry immediately with a new subscription.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##% probation: The subscription has been terminated, but the client
##% SHOULD retry at some later time (as long as the resource's state
##% is still relevant to the client at that time).  If a "retry-after"
##% parameter is also present, the client SHOULD wait at least the
##% number of seconds specified by that parameter before attempting to
##% re-subscribe.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##% rejected: The subscription has been terminated due to change in
##% authorization policy.  Clients SHOULD NOT attempt to re-subscribe.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##% timeout: The subscription has been terminated because it was not
##% refreshed before it expired.  Clients MAY re-subscribe
##% immediately.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##% giveup: The subscription has been terminated because the notifier
##% could not obtain authorization in a timely fashion.  If a "retry-
##% after" parameter is also present, the client SHOULD wait at least
##% the number of seconds specified by that parameter before attempting
##% to re-subscribe
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##% noresource: The subscription has been terminated because the
##% resource state that was being monitored no longer exists.  Clients
##% SHOULD NOT attempt to re-subscribe.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##% Clients SHOULD NOT
##% attempt to re-subscribe after receiving a reason code of
##% "invariant", regardless of the presence of or value of a "retry-
##% after" parameter.
def resubscribe_delay(reason: str | None, retry_after: int | None) -> float | None:
    """When a subscriber may subscribe again after ``terminated;reason=...`` (§4.1.3).

    None: it should not (rejected, noresource, invariant).
    """
    if reason in ("rejected", "noresource", "invariant"):
        return None
    if retry_after is not None:
        return float(retry_after)
    if reason == "probation":
        return PROBATION_DELAY
    return 0.0  # deactivated, timeout, giveup, none or unknown: at once


@dataclass(eq=False)
class SubscribeAttempt(Owner):
    """An initial SUBSCRIBE and the subscriptions its NOTIFYs created (§4.1.2.1, §4.1.2.4)."""

    extension: EventsExtension
    package: EventPackage
    event: Event
    target: str
    request: Request
    expires: int
    client: ClientRequest | None = None
    response: Response | None = None
    usages: dict[str | None, SubscriberUsage] = field(default_factory=dict)
    timer_n: Timer | None = None
    done: bool = False
    #: The dialog the SUBSCRIBE was sent in (sharing it, RFC 5057), or None.
    dialog: Dialog | None = None

    @property
    def key(self) -> tuple[str, str | None, str]:
        return (self.request.call_id, self.request.from_.tag, self.event.key)

    @property
    def keys(self) -> list[tuple[str, str | None, str]]:
        """Every key NOTIFYs for this attempt are looked up by (one for a SUBSCRIBE)."""
        return [self.key]

    def on_response(self, client: ClientRequest, response: Response, now: float) -> list[UAEffect]:
        if response.status < 200:
            return []
        self.response = response
        ext = self.extension
        if response.status < 300:
            ##= https://www.rfc-editor.org/rfc/rfc6665#section-8.3.1
            ##% Implementations conformant with the current specification MUST treat
            ##% an incoming 202 response as identical to a 200 response and MUST NOT
            ##% generate 202 response codes to SUBSCRIBE or NOTIFY requests.
            # Any 2xx: the dialog exists (or the NOTIFY made it already); its state waits
            # for a NOTIFY (notify_wait) until Timer N.
            usage = self.usages.get(response.to.tag)
            if usage is None:
                dialog = self.dialog or ext.ua.dialogs.get(
                    DialogId(*self.key[:2], response.to.tag)
                )
                if dialog is None:
                    dialog = Dialog.create_uac(self.request, response)
                usage = ext._new_subscriber(self, dialog)
                usage.state = SubState.NOTIFY_WAIT
            usage.expires_granted(response, now)
            return []
        # A failure: the subscriptions NOTIFYs created (a fork) stand; none, none made.
        if self.usages:
            return []
        return ext._fail(self, response, f"{response.status} {response.reason}", now)

    ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.2.4
    ##% To ensure that subscribers do not wait indefinitely for a
    ##% subscription to be established, a subscriber starts a Timer N, set to
    ##% 64*T1, when it sends a SUBSCRIBE request.  If this Timer N expires
    ##% prior to the receipt of a NOTIFY request, the subscriber considers
    ##% the subscription failed, and cleans up any state associated with the
    ##% subscription attempt.
    def on_timer_n(self, now: float) -> list[UAEffect]:
        self.timer_n = None
        ext = self.extension
        effects: list[UAEffect] = []
        for usage in list(self.usages.values()):
            if usage.state is SubState.NOTIFY_WAIT:
                effects.extend(usage.end("no NOTIFY before Timer N", now))
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.2.4
        ##% After the
        ##% expiration of Timer N, the subscriber SHOULD reject any such NOTIFY
        ##% requests that would otherwise establish a new dialog usage with a 481
        ##% (Subscription does not exist) response code.
        for key in self.keys:
            ext._attempts.pop(key, None)
        live = any(u.state is not SubState.TERMINATED for u in self.usages.values())
        if not live and not self.done:
            effects.extend(ext._fail(self, self.response, "Timer N: no NOTIFY", now))
        self.done = True
        return effects


@dataclass(eq=False)
class SubscriberUsage(Owner):
    """One subscription at the subscriber: a usage of one dialog (RFC 5057, §4.1.2)."""

    extension: EventsExtension
    package: EventPackage
    event: Event
    target: str
    dialog: Dialog
    state: SubState = SubState.NOTIFY_WAIT
    expires_at: float | None = None
    reason: str | None = None
    retry_after: int | None = None
    content: Any = None
    refresh_timer: Timer | None = None
    timer_n: Timer | None = None
    requested: int = 0
    unsubscribing: bool = False
    #: When a terminated subscription is to be made again (§4.1.3), and the new attempt.
    resubscribe_at: float | None = None
    resubscribed: SubscribeAttempt | None = None

    # -- what the notifier said --------------------------------------------------------

    def expires_granted(self, response: Response, now: float) -> None:
        """A 2xx to a SUBSCRIBE: its Expires is the subscription's duration (§3.1.1)."""
        expires = response.expires
        if expires is None:
            expires = self.requested
        self._expire_in(min(expires, self.requested) if self.requested else expires, now)

    def _expire_in(self, seconds: int, now: float) -> None:
        self.expires_at = now + seconds
        if self.refresh_timer is not None:
            self.refresh_timer.cancel()
        self.refresh_timer = None
        if self.unsubscribing or seconds <= 0:
            return
        # Refresh ahead of the end: by the length of a transaction (Timer F), or halfway
        # through a short subscription.
        lead = min(seconds / 2, 64 * self.extension.ua.timers.T1)
        self.refresh_timer = self.extension.ua.call_at(now + seconds - lead, self._auto_refresh)

    def _auto_refresh(self, now: float) -> list[UAEffect]:
        self.refresh_timer = None
        if self.state is SubState.TERMINATED or not self.extension.auto_refresh:
            return []
        return self.refresh(now)

    def notified(
        self, server: ServerRequest, sub: SubscriptionState, now: float
    ) -> list[UAEffect]:
        """A NOTIFY for this subscription (§4.1.3): answer it, then tell the application."""
        ext = self.extension
        request = server.request
        try:
            content = self.package.parse(request.body, _mime(request))
        except ValueError as error:
            return ext.ua.respond(server, 400, now, reason=f"Bad Event State ({error})"[:120])
        if self.timer_n is not None:
            self.timer_n.cancel()
            self.timer_n = None
        state = sub.sub_state
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
        ##% Once the notification is deemed acceptable to the subscriber, the
        ##% subscriber SHOULD return a 200 response.
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
        ##% In particular, subscribers MUST NOT wait for a user
        ##% response before returning a final response to a NOTIFY request.
        effects = ext.ua.respond(server, 200, now)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
        ##% When a UAS receives a target refresh request, it MUST replace the
        ##% dialog's remote target URI with the URI from the Contact header field
        ##% in that request, if present.
        self.dialog.update_target_from(request)
        self.content = content
        if state is SubState.TERMINATED:
            ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
            ##% If the "Subscription-State" value is "terminated", the subscriber
            ##% MUST consider the subscription terminated.
            ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
            ##% The "expires" parameter has no semantics for "terminated" --
            ##% notifiers SHOULD NOT include an "expires" parameter on a
            ##% "Subscription-State" header field with a value of "terminated", and
            ##% subscribers MUST ignore any such parameter, if present.
            self.retry_after = sub.retry_after
            effects.append(
                SubscriptionUpdate(self, request, SubState.TERMINATED, content, sub.reason)
            )
            effects.extend(self.end(sub.reason or "terminated", now))
            delay = resubscribe_delay(sub.reason, sub.retry_after)
            again = ext.auto_refresh and self.package.resubscribe and not self.unsubscribing
            if delay is not None and again:
                ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.4.2
                ##% Upon receipt of this NOTIFY request, the subscriber SHOULD attempt
                ##% to re-subscribe (as described in the preceding sections).
                self.resubscribe_at = now + delay
                ext.ua.call_at(now + delay, self._resubscribe)
            return effects
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
        ##% If the header field also contains an "expires" parameter, the subscriber SHOULD
        ##% take it as the authoritative subscription duration and adjust accordingly.
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
        ##% there is insufficient policy
        ##% information to grant or deny the subscription yet.  If the header
        ##% field also contains an "expires" parameter, the subscriber SHOULD
        ##% take it as the authoritative subscription duration and adjust
        ##% accordingly.
        self.state = SubState.PENDING if state is SubState.PENDING else SubState.ACTIVE
        if sub.expires is not None and not self.unsubscribing:
            self._expire_in(sub.expires, now)
        effects.append(SubscriptionUpdate(self, request, self.state, self.content, sub.reason))
        return effects

    # -- refresh and unsubscribe (§4.1.2.2, §4.1.2.3) ------------------------------------

    def refresh(self, now: float, expires: int | None = None) -> list[UAEffect]:
        """Send a SUBSCRIBE in the dialog (Expires: ``expires`` or what was asked first)."""
        if self.state is SubState.TERMINATED:
            raise ValueError("refresh: the subscription is terminated")
        ext = self.extension
        self.requested = self.requested if expires is None else expires
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.5.2
        ##% When a subscriber refreshes the subscription timer, the SUBSCRIBE
        ##% request MUST contain the same "Event" header field "id" parameter as
        ##% was present in the SUBSCRIBE request that created the subscription.
        headers = [("Event", str(self.event)), ("Expires", str(self.requested))]
        if self.package.accept:
            headers.append(("Accept", ", ".join(self.package.accept)))
        _, effects = ext.ua.in_dialog(self.dialog, "SUBSCRIBE", now, owner=self, headers=headers)
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.2.2
        ##% When refreshing a subscription, a subscriber starts Timer N, set to
        ##% 64*T1, when it sends the SUBSCRIBE request.  If this Timer N expires
        ##% prior to the receipt of a NOTIFY request, the subscriber considers
        ##% the subscription terminated.
        if self.timer_n is not None:
            self.timer_n.cancel()
        self.timer_n = ext.ua.call_at(now + 64 * ext.ua.timers.T1, self._on_timer_n)
        return effects

    ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.2.3
    ##% Unsubscribing is handled in the same way as refreshing of a
    ##% subscription, with the "Expires" header field set to "0".
    def unsubscribe(self, now: float) -> list[UAEffect]:
        """End the subscription: a SUBSCRIBE with Expires: 0; the final NOTIFY ends it."""
        self.unsubscribing = True
        if self.refresh_timer is not None:
            self.refresh_timer.cancel()
            self.refresh_timer = None
        return self.refresh(now, expires=0)

    def _resubscribe(self, now: float) -> list[UAEffect]:
        ext = self.extension
        attempt, effects = ext.subscribe(
            self.target, self.package.name, now, expires=self.requested or None, id=self.event.id
        )
        self.resubscribed = attempt
        return effects

    def _on_timer_n(self, now: float) -> list[UAEffect]:
        self.timer_n = None
        if self.state is SubState.TERMINATED:
            return []
        return self.end("Timer N: no NOTIFY after the refresh", now)

    def on_response(self, client: ClientRequest, response: Response, now: float) -> list[UAEffect]:
        """The response to a refresh (or unsubscribe) SUBSCRIBE."""
        if response.status < 200 or self.state is SubState.TERMINATED:
            return []
        if response.status < 300:
            ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.2.2
            ##% If the subscriber receives a success response to the SUBSCRIBE
            ##% request that indicates that no NOTIFY request will be generated --
            ##% such as the 204 response defined for use with the optional extension
            ##% described in [RFC5839] -- then it MUST cancel Timer N.
            if response.status == 204 and self.timer_n is not None:
                self.timer_n.cancel()
                self.timer_n = None
            if not self.unsubscribing:
                self.expires_granted(response, now)
            return []
        if response.status in REFRESH_FAILURES or response.status == 408:
            return self.end(f"refresh failed: {response.status}", now)
        return []  # e.g. 500: the subscription runs until it expires

    def end(self, reason: str, now: float) -> list[UAEffect]:
        """The subscription is over: stop its timers and leave the dialog (RFC 5057)."""
        if self.state is SubState.TERMINATED:
            return []
        self.state = SubState.TERMINATED
        self.reason = reason
        for timer in (self.refresh_timer, self.timer_n):
            if timer is not None:
                timer.cancel()
        self.refresh_timer = self.timer_n = None
        self.extension._leave(self.dialog, self.event.key)
        return [SubscriptionEnded(self, reason)]


# -- notifier (§4.2) ---------------------------------------------------------------------


@dataclass(eq=False)
class NotifierUsage(Owner):
    """One subscription at the notifier: a usage of one dialog (RFC 5057, §4.2)."""

    extension: EventsExtension
    package: EventPackage
    event: Event
    resource: str
    dialog: Dialog
    content_type: str | None
    state: SubState = SubState.ACTIVE
    expires_at: float = 0.0
    expiry_timer: Timer | None = None
    last_notify: float | None = None
    deferred: Timer | None = None
    reason: str | None = None
    notifies: int = 0

    def remaining(self, now: float) -> int:
        return max(0, round(self.expires_at - now))

    def extend(self, expires: int, now: float) -> None:
        self.expires_at = now + expires
        if self.expiry_timer is not None:
            self.expiry_timer.cancel()
        self.expiry_timer = self.extension.ua.call_at(self.expires_at, self._on_expiry)

    ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.4
    ##% When removing a subscription, the notifier SHOULD send a NOTIFY request
    ##% with a "Subscription-State" value of "terminated" to inform it that
    ##% the subscription is being removed.  If such a request is sent, the
    ##% "Subscription-State" header field SHOULD contain a "reason=timeout"
    ##% parameter.
    def _on_expiry(self, now: float) -> list[UAEffect]:
        self.expiry_timer = None
        return self.terminate(now, reason="timeout")

    def activate(self, now: float) -> list[UAEffect]:
        """A pending subscription is authorized (§4.2.1.3): active, and a NOTIFY says so."""
        if self.state is not SubState.PENDING:
            return []
        self.state = SubState.ACTIVE
        return self.notify(now, force=True)

    def terminate(
        self, now: float, *, reason: str = "noresource", retry_after: int | None = None
    ) -> list[UAEffect]:
        """End the subscription with a final NOTIFY (``reason`` per §4.1.3)."""
        if self.state is SubState.TERMINATED:
            return []
        self.state = SubState.TERMINATED
        self.reason = self.package.final_reason(reason)
        effects = self.notify(now, force=True, retry_after=retry_after)
        effects.extend(self._remove(reason))
        return effects

    def _remove(self, reason: str) -> list[UAEffect]:
        self.state = SubState.TERMINATED
        for timer in (self.expiry_timer, self.deferred):
            if timer is not None:
                timer.cancel()
        self.expiry_timer = self.deferred = None
        self.extension._forget_notifier(self)
        return [SubscriptionEnded(self, reason)]

    ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
    ##% When a change in the subscribed state occurs, the notifier SHOULD
    ##% immediately construct and send a NOTIFY request, unless the state
    ##% transition is caused by a NOTIFY transaction failure.
    def notify(
        self, now: float, *, force: bool = False, retry_after: int | None = None
    ) -> list[UAEffect]:
        """Send a NOTIFY of the resource's current state, within the package's rate limit."""
        if not force and self.last_notify is not None:
            due = self.last_notify + self.package.min_interval
            if now < due:
                # The state changed too soon after the last NOTIFY: one NOTIFY at ``due``
                # carries the state of then (intermediate states are skipped).
                if self.deferred is None:
                    self.deferred = self.extension.ua.call_at(due, self._deferred_notify)
                return []
        if self.deferred is not None:
            self.deferred.cancel()
            self.deferred = None
        self.last_notify = now
        self.notifies += 1
        ext = self.extension
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
        ##% NOTIFY requests MUST contain a "Subscription-State" header field with
        ##% a value of "active", "pending", or "terminated".
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
        ##% If the value of the
        ##% "Subscription-State" header field is "active" or "pending", the
        ##% notifier MUST also include in the "Subscription-State" header field
        ##% an "expires" parameter that indicates the time remaining on the
        ##% subscription.
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
        ##% If the value of the "Subscription-State" header field is
        ##% "terminated", the notifier SHOULD also include a "reason" parameter.
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
        ##% The notifier MAY also include a "retry-after" parameter, where
        ##% appropriate.
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
        ##% The notifier MAY use this mechanism to shorten a subscription;
        ##% however, this mechanism MUST NOT be used to lengthen a subscription.
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
        ##% The "expires" parameter has no semantics for "terminated" --
        ##% notifiers SHOULD NOT include an "expires" parameter on a
        ##% "Subscription-State" header field with a value of "terminated"
        if self.state is SubState.TERMINATED:
            sub = SubscriptionState("terminated", self.reason or "noresource", None, retry_after)
        else:
            sub = SubscriptionState(self.state.value, None, self.remaining(now))
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-3.2.1
        ##% As in SUBSCRIBE requests, NOTIFY request "Event" header fields MUST
        ##% contain a single event package name for which a notification is
        ##% being generated.  The package name in the "Event" header field MUST
        ##% match the "Event" header field in the corresponding SUBSCRIBE
        ##% request.
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.5.2
        ##% If an "id" parameter is present in the SUBSCRIBE request used to
        ##% establish a subscription, that "id" parameter MUST also be present in
        ##% all corresponding NOTIFY requests.
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-8.2.1
        ##= verify=absence
        ##= reason=Event is written here, by subscribe() and in RFC 3903 PUBLISH; no response
        ##% It MUST NOT appear in any other SIP requests and MUST
        ##% NOT appear in responses.
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-8.2.3
        ##= verify=absence
        ##= reason=Subscription-State is written here, into a NOTIFY, and nowhere else
        ##% They MUST NOT appear in other SIP requests or responses.
        headers = [("Event", str(self.event)), ("Subscription-State", str(sub))]
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-3.2.1
        ##% When present, the body of the NOTIFY request MUST be formatted into
        ##% one of the body formats specified in the "Accept" header field of the
        ##% corresponding SUBSCRIBE request (or the default type according to the
        ##% event package description, if no "Accept" header field was
        ##% specified).
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-6.2
        ##% While the subsequent NOTIFY request may not convey true state, it MUST
        ##% appear to contain a potentially correct piece of data from the point
        ##% of view of the subscriber, indistinguishable from a valid response.
        # A pending subscription is told the neutral state (§4.1.2.4), never the real one.
        if self.state is SubState.ACTIVE:
            state = ext.state_of(self.package.name, self.resource)
        elif self.state is SubState.PENDING:
            state = self.package.pending_state(self.resource)
        else:
            state = self.package.terminated_state(ext.state_of(self.package.name, self.resource))
        body, content_type = self.package.render(state, self.content_type)
        _, effects = ext.ua.in_dialog(
            self.dialog,
            "NOTIFY",
            now,
            owner=self,
            headers=headers,
            body=body,
            content_type=content_type if body else None,
        )
        return effects

    def _deferred_notify(self, now: float) -> list[UAEffect]:
        self.deferred = None
        if self.state is SubState.TERMINATED:
            return []
        return self.notify(now, force=True)

    def on_response(self, client: ClientRequest, response: Response, now: float) -> list[UAEffect]:
        """The response to one of this subscription's NOTIFYs (§4.2.2)."""
        if response.status < 300 or self.state is SubState.TERMINATED:
            return []
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
        ##% If the NOTIFY request fails due to expiration of SIP Timer F
        ##% (transaction timeout), the notifier SHOULD remove the subscription.
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
        ##% If the NOTIFY transaction fails due to the receipt of a 404, 405,
        ##% 410, 416, 480-485, 489, 501, or 604 response to the NOTIFY request,
        ##% the notifier MUST remove the corresponding subscription.
        if response.status in NOTIFIER_GONE:
            return self._remove(f"NOTIFY failed: {response.status}")
        return []


# -- the extension -----------------------------------------------------------------------


#: What an authorization policy answers: "active", "pending", or a status to refuse with.
Authorize = Callable[[Request, EventPackage], "str | int"]


def _allow_all(request: Request, package: EventPackage) -> str | int:
    return "active"


class EventsExtension(UAExtension):
    """SUBSCRIBE and NOTIFY for one UA: subscriber always, notifier for ``notifier_of``."""

    name = "events"
    methods = ("SUBSCRIBE", "NOTIFY")
    ##= https://www.rfc-editor.org/rfc/rfc6665#section-3.1.3
    ##% Because SUBSCRIBE requests create a dialog usage as defined in
    ##% [RFC3261], they MAY contain an "Accept" header field.
    dialog_methods = ("SUBSCRIBE", "NOTIFY")

    def __init__(
        self,
        packages: list[EventPackage] | tuple[EventPackage, ...] = (),
        *,
        notifier_of: tuple[str, ...] | None = None,
        authorize: Authorize = _allow_all,
        auto_refresh: bool = True,
        authenticator: Any = None,
    ) -> None:
        self.packages: dict[str, EventPackage] = {}
        # Without a list: every package registered so far (what a program loads by name).
        for package in packages or list(EVENT_PACKAGES.values()):
            register_event_package(package)
            self.packages[package.name] = package
        #: The packages this UA is a notifier of (all of ``packages`` by default).
        self.notifier_of = tuple(self.packages) if notifier_of is None else notifier_of
        unknown = set(self.notifier_of) - set(self.packages)
        if unknown:
            raise ValueError(f"notifier of unknown packages: {', '.join(sorted(unknown))}")
        self.authorize = authorize
        self.auto_refresh = auto_refresh
        #: A :class:`rfc3261.digest_server.DigestAuthenticator` challenging every SUBSCRIBE
        #: (None: none is challenged).
        self.authenticator = authenticator
        #: (package, resource) -> the current state a NOTIFY renders.
        self.states: dict[tuple[str, str], Any] = {}
        #: State of a resource nobody set (a compositor looks it up in its store).
        self.state_source: Callable[[str, str], Any] | None = None
        self._attempts: dict[tuple[str, str | None, str], SubscribeAttempt] = {}
        #: (package, resource) -> the notifier usages watching it.
        self.watchers: dict[tuple[str, str], list[NotifierUsage]] = {}
        self.subscriptions: list[SubscriberUsage] = []

    def install(self, ua: UserAgent) -> None:
        super().install(ua)
        register_headers()

    @property
    def accept(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(t for p in self.packages.values() for t in p.accept)

    # -- counters (for tests and the benchmark) -------------------------------------------

    def notifier_count(self) -> int:
        """How many subscriptions this UA is notifier of."""
        return sum(len(w) for w in self.watchers.values())

    def live_subscriptions(self) -> list[SubscriberUsage]:
        return [u for u in self.subscriptions if u.state is not SubState.TERMINATED]

    # -- state of resources ---------------------------------------------------------------

    def state_of(self, package: str, resource: str) -> Any:
        state = self.states.get((package, resource))
        if state is None and self.state_source is not None:
            state = self.state_source(package, resource)
        return state

    def set_state(self, package: str, resource: str, state: Any, now: float) -> list[UAEffect]:
        """The state of ``resource`` changed: NOTIFY every subscription to it (§4.2.2)."""
        if state is None:
            self.states.pop((package, resource), None)
        else:
            self.states[(package, resource)] = state
        return self.notify_watchers(package, resource, now)

    def notify_watchers(self, package: str, resource: str, now: float) -> list[UAEffect]:
        effects: list[UAEffect] = []
        for usage in list(self.watchers.get((package, resource), ())):
            if usage.state is SubState.ACTIVE:
                effects.extend(usage.notify(now))
        return effects

    # -- subscriber API ------------------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc6665#section-3.1.1
    ##% SUBSCRIBE requests SHOULD contain an "Expires" header field (defined
    ##% in [RFC3261]).
    ##= https://www.rfc-editor.org/rfc/rfc6665#section-3.1.2
    ##% Subscribers MUST include exactly one "Event" header field in
    ##% SUBSCRIBE requests, indicating to which event or class of events they
    ##% are subscribing.
    ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.5.2
    ##% Subscribers MAY include an "id" parameter in a SUBSCRIBE request's
    ##% "Event" header field to allow differentiation between multiple
    ##% subscriptions in the same dialog.
    def subscribe(
        self,
        target: str,
        package: str,
        now: float,
        *,
        expires: int | None = None,
        id: str | None = None,
        dialog: Dialog | None = None,
    ) -> tuple[SubscribeAttempt, list[UAEffect]]:
        """Send a SUBSCRIBE to ``target`` for ``package``; NOTIFYs create the subscriptions.

        With ``dialog``, the SUBSCRIBE goes in that dialog (an INVITE's: RFC 5057
        sharing) and ``target`` is only a label.
        """
        pkg = self.packages.get(package)
        if pkg is None:
            raise ValueError(f"no event package {package!r} installed")
        expires = pkg.default_expires if expires is None else expires
        if expires < 0:
            raise ValueError("Expires must be a number of seconds (RFC 3261 §20.19)")
        event = Event(pkg.name, id)
        headers = [("Event", str(event)), ("Expires", str(expires))]
        if pkg.accept:
            headers.append(("Accept", ", ".join(pkg.accept)))
        if dialog is not None:
            ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.5.2
            ##% Subscribers MUST NOT attempt to reuse dialogs whose remote target is
            ##% a GRUU.
            if isinstance(dialog.remote_target, SipURI) and "gr" in dialog.remote_target.params:
                raise ValueError("subscribe: the dialog's remote target is a GRUU (§4.5.2)")
            request = dialog.create_request(
                "SUBSCRIBE",
                self.ua.new_via(),
                dialog.next_local_seq(self.ua.initial_cseq()),
                contact=self.ua.contact(dialog.secure),
                headers=headers,
            )
        else:
            to = NameAddr.parse(target if "<" in target else f"<{target}>")
            request = self.ua.build_request("SUBSCRIBE", to, headers=headers)
        attempt = SubscribeAttempt(self, pkg, event, target, request, expires, dialog=dialog)
        self._attempts[attempt.key] = attempt
        ##= https://www.rfc-editor.org/rfc/rfc3856#section-9.2
        ##% As a result, all watchers MUST support HTTP Digest.
        # (ua.send: a 401/407 is answered by the core with the UA's credentials, §22.2.)
        client, effects = self.ua.send(request, now, owner=attempt, dialog=dialog)
        attempt.client = client
        attempt.timer_n = self.ua.call_at(now + 64 * self.ua.timers.T1, attempt.on_timer_n)
        return attempt, effects

    def _new_subscriber(
        self, attempt: SubscribeAttempt, dialog: Dialog, event: Event | None = None
    ) -> SubscriberUsage:
        """A subscription of ``attempt`` in ``dialog``, named as the NOTIFY's ``event``
        names it (an attempt may answer to more than one name: RFC 3515 §2.4.6)."""
        ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.6
        ##% A SUBSCRIBE sent to refresh or terminate this subscription MUST contain
        ##% this id parameter.
        # The usage's Event is the NOTIFY's: its refreshes name the id the notifier chose.
        event = event or attempt.event
        usage = SubscriberUsage(
            self, attempt.package, event, attempt.target, dialog, requested=attempt.expires
        )
        dialog.add_usage(event.key, usage)
        self.ua.dialogs.setdefault(dialog.id, dialog)
        attempt.usages[dialog.id.remote_tag] = usage
        self.subscriptions.append(usage)
        return usage

    def _fail(
        self, attempt: SubscribeAttempt, response: Response | None, reason: str, now: float
    ) -> list[UAEffect]:
        attempt.done = True
        if attempt.timer_n is not None:
            attempt.timer_n.cancel()
            attempt.timer_n = None
        for key in attempt.keys:
            self._attempts.pop(key, None)
        return [SubscriptionFailed(attempt, response, reason)]

    def _leave(self, dialog: Dialog, key: str) -> None:
        """Remove usage ``key``; forget the dialog with its last usage (RFC 5057 §2)."""
        if dialog.usage(key) is None:
            return
        if dialog.remove_usage(key) and self.ua.dialogs.get(dialog.id) is dialog:
            del self.ua.dialogs[dialog.id]
        self.subscriptions = [u for u in self.subscriptions if u.state is not SubState.TERMINATED]

    # -- 423 on a SUBSCRIBE: retry with Min-Expires ----------------------------------------

    def retry(self, client: ClientRequest, response: Response, now: float) -> Request | None:
        if client.method != "SUBSCRIBE" or response.status != 423:
            return None
        minimum = response.header("Min-Expires")
        if minimum is None or minimum <= (client.request.expires or 0):
            return None
        amended = Request(
            client.request.method,
            client.request.uri,
            client.request.headers.copy(),
            client.request.body,
        )
        amended.headers.set("Expires", str(minimum))
        owner = client.owner
        if isinstance(owner, (SubscribeAttempt, SubscriberUsage)):
            if isinstance(owner, SubscribeAttempt):
                owner.expires = minimum
            else:
                owner.requested = minimum
        return amended

    # -- incoming requests ----------------------------------------------------------------

    def receive_request(self, server: ServerRequest, now: float) -> list[UAEffect] | None:
        if server.request.method == "NOTIFY":
            return self._receive_notify(server, now)
        return self._receive_subscribe(server, now)

    def _receive_notify(self, server: ServerRequest, now: float) -> list[UAEffect] | None:
        request = server.request
        ua = self.ua
        event = request.header("Event")
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
        ##% NOTIFY requests MUST contain "Subscription-State" header fields that
        ##% indicate the status of the subscription.
        sub = request.header("Subscription-State")
        if event is None or sub is None:
            missing = "Event" if event is None else "Subscription-State"
            return ua.respond(
                server, 400, now, reason=f"Bad Request (Missing {missing} header field)"
            )
        usage: SubscriberUsage | None = None
        if server.dialog is not None:
            owner = server.dialog.usage(event.key)
            usage = owner if isinstance(owner, SubscriberUsage) else None
        if usage is None and request.to.tag is not None:
            ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.2.4
            ##% Due to the potential for out-of-order messages, packet loss, and
            ##% forking, the subscriber MUST be prepared to receive NOTIFY requests
            ##% before the SUBSCRIBE transaction has completed.
            ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.4
            ##% The subscriber MUST therefore be prepared to receive NOTIFY requests
            ##% with "From:" tags that differ from the "To:" tag received in the
            ##% SUBSCRIBE 200-class response.
            attempt = self._attempts.get((request.call_id, request.to.tag, event.key))
            # One subscription per notifier: a dialog that ended is not created again.
            fresh = attempt is not None and request.from_.tag not in attempt.usages
            if attempt is not None and attempt.dialog is not server.dialog:
                fresh = False  # a subscription in a dialog is told of in that dialog only
            if fresh and not (attempt.usages and not attempt.package.forking):
                dialog = server.dialog or _dialog_from_notify(
                    attempt.request, request, tls=server.tls
                )
                usage = self._new_subscriber(attempt, dialog, event)
                server.dialog = dialog
                server.to_tag = dialog.id.local_tag
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
        ##% Upon receiving a NOTIFY request, the subscriber should check that it
        ##% matches at least one of its outstanding subscriptions; if not, it MUST
        ##% return a 481 (Subscription does not exist) response unless another
        ##% 400- or 500-class response is more appropriate.
        if usage is None or usage.state is SubState.TERMINATED:
            return ua.respond(server, 481, now, reason="Subscription does not exist")
        return usage.notified(server, sub, now)

    def _receive_subscribe(self, server: ServerRequest, now: float) -> list[UAEffect] | None:
        request = server.request
        ua = self.ua
        if server.dialog is None and request.to.tag is not None:
            return None  # a dialog this UA does not know: 481 (RFC 3261 §12.2.2)
        event = request.header("Event")
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.3
        ##% If a notifier does not support PINT, it SHOULD return 489 (Bad
        ##% Event) to any SUBSCRIBE requests without an "Event" header field.
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.1
        ##% The notifier SHOULD check that the event package specified in the
        ##% "Event" header field is understood.  If not, the notifier SHOULD
        ##% return a 489 (Bad Event) response to indicate that the specified
        ##% event/event class is not understood.
        package = self.packages.get(event.package) if event is not None else None
        if package is None or package.name not in self.notifier_of:
            return ua.respond(server, 489, now, reason="Bad Event", headers=self._allow_events())
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-6.3
        ##% To reduce the chances of such an attack, implementations of
        ##% notifiers SHOULD require authentication.
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-6.4
        ##% To prevent such attacks, implementations SHOULD require
        ##% authentication with anti-replay protection.
        ##= https://www.rfc-editor.org/rfc/rfc3856#section-6.6.1
        ##% A presence agent MUST authenticate all subscription requests.
        if self.authenticator is not None:
            _, challenge = self.authenticator.authenticate(request, now, to_tag=server.to_tag)
            if challenge is not None:
                return ua.respond_with(server, challenge, now)
        expires = request.expires
        if expires is None:
            expires = package.default_expires
        existing = server.dialog.usage(event.key) if server.dialog is not None else None
        if existing is not None and not isinstance(existing, NotifierUsage):
            return ua.respond(
                server, 403, now, reason="Forbidden (not a subscription of this notifier)"
            )
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.1
        ##% The notifier MAY also check that the duration in the "Expires" header
        ##% field is not too small.  If and only if the expiration interval is
        ##% greater than zero AND smaller than one hour AND less than a notifier-
        ##% configured minimum, the notifier MAY return a 423 (Interval Too Brief)
        ##% error that contains a "Min-Expires" header field.
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.4
        ##% If the duration specified in a SUBSCRIBE request is unacceptably
        ##% short, the notifier SHOULD respond with a 423 (Interval Too Brief)
        ##% response.
        if 0 < expires < 3600 and expires < package.min_expires:
            return ua.respond(
                server, 423, now, headers=[("Min-Expires", str(package.min_expires))]
            )
        content_type = package.content_type_for(request.headers.get_all("Accept") or None)
        if package.accept and content_type is None:
            return ua.respond(server, 406, now, headers=[("Accept", ", ".join(package.accept))])
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.1
        ##% The "Expires" values present in SUBSCRIBE 200-class responses behave
        ##% in the same way as they do in REGISTER responses: the server MAY
        ##% shorten the interval but MUST NOT lengthen it.
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-3.1.1
        ##% The period of time in the response MAY be shorter but MUST NOT be
        ##% longer than specified in the request.
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.4
        ##% As with the initial subscription, the server MAY shorten the amount of
        ##% time until expiration but MUST NOT increase it.
        granted = min(expires, package.max_expires)
        if isinstance(existing, NotifierUsage):
            return self._refresh(server, existing, granted, now)
        if granted == 0:
            # A fetch (§4.4.3): one NOTIFY of the state, and no subscription.
            pass
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.1
        ##% The notifier SHOULD also perform any necessary authentication and
        ##% authorization per its local policy.
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.3
        ##% If authorization fails based on an access list or some other
        ##% automated mechanism (i.e., it can be automatically authoritatively
        ##% determined that the subscriber is not authorized to subscribe), the
        ##% notifier SHOULD reply to the request with a 403 (Forbidden) or 603
        ##% (Decline) response, unless doing so might reveal information that
        ##% should stay private; see Section 6.2.
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.1
        ##% In particular, notifiers MUST NOT wait for a user response
        ##% before returning a final response to a SUBSCRIBE request.
        decision = self.authorize(request, package)
        if isinstance(decision, int):
            return ua.respond(server, decision, now)
        dialog = server.dialog
        if dialog is None:
            server.to_tag = ua.new_tag()
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-8.3.1
        ##% Implementations compliant with the present document MUST NOT send a
        ##% 202 response to a SUBSCRIBE request and will send an alternate success
        ##% response (such as 200) in its stead.
        response = request.make_response(200, to_tag=server.to_tag)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
        ##% When a UAS responds to a request with a response that establishes a
        ##% dialog (such as a 2xx to INVITE), the UAS MUST copy all Record-Route
        ##% header field values from the request into the response
        # (without them a subscriber behind a record-routing proxy, RFC 6665 §4.3, would
        # send its refreshes around the proxy: found with SIPp, issue 18.)
        if dialog is None:
            for value in request.headers.get_all("Record-Route"):
                response.headers.add("Record-Route", value)

        response.headers.add("Expires", str(granted))
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-3.1.1
        ##% 200-class responses to SUBSCRIBE requests also MUST contain an
        ##% "Expires" header field.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
        ##% The UAS MUST add a Contact header field to the response.
        response.headers.add("Contact", str(ua.contact(bool(dialog and dialog.secure))))
        if dialog is None:
            dialog = Dialog.create_uas(request, response, tls=server.tls)
            dialog.state = DialogState.CONFIRMED
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1
        ##= verify=absence
        ##= reason=add_notifier runs here, on a SUBSCRIBE, and for a REFER (RFC 3515 defines that)
        ##% Notifiers MUST NOT create subscriptions except upon receipt of a
        ##% SUBSCRIBE request.
        usage = self.add_notifier(
            dialog, package, event, resource_key(request.to.uri), content_type
        )
        usage.state = SubState.PENDING if decision == "pending" else SubState.ACTIVE
        usage.extend(granted, now)
        effects = ua.respond_with(server, response, now)
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
        ##% When a SUBSCRIBE request is answered with a 200-class response, the
        ##% notifier MUST immediately construct and send a NOTIFY request to the
        ##% subscriber.
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.2
        ##% Upon successfully accepting or refreshing a subscription, notifiers
        ##% MUST send a NOTIFY request immediately to communicate the current
        ##% resource state to the subscriber.
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.2
        ##% If the resource has no meaningful state at the time that the SUBSCRIBE
        ##% request is processed, this NOTIFY request MAY contain an empty or
        ##% neutral body.
        if granted == 0:
            usage.state = SubState.TERMINATED
            usage.reason = "timeout"
            effects.extend(usage.notify(now, force=True))
            effects.extend(usage._remove("fetch"))
        else:
            effects.extend(usage.notify(now, force=True))
        return effects

    def _refresh(
        self, server: ServerRequest, usage: NotifierUsage, granted: int, now: float
    ) -> list[UAEffect]:
        ua = self.ua
        response = server.request.make_response(200, to_tag=server.to_tag)
        response.headers.add("Expires", str(granted))
        response.headers.add("Contact", str(ua.contact(usage.dialog.secure)))
        effects = ua.respond_with(server, response, now)
        if granted == 0:
            # Unsubscribing (§4.1.2.3): the final NOTIFY, then the usage is gone.
            effects.extend(usage.terminate(now, reason="timeout"))
            return effects
        usage.extend(granted, now)
        effects.extend(usage.notify(now, force=True))
        return effects

    def add_notifier(
        self,
        dialog: Dialog,
        package: EventPackage,
        event: Event,
        resource: str,
        content_type: str | None,
    ) -> NotifierUsage:
        """A notifier usage of ``dialog`` (a new one, or an INVITE's: RFC 5057 sharing)."""
        usage = NotifierUsage(self, package, event, resource, dialog, content_type)
        dialog.add_usage(event.key, usage)
        self.ua.dialogs.setdefault(dialog.id, dialog)
        self.watchers.setdefault((package.name, resource), []).append(usage)
        return usage

    def _forget_notifier(self, usage: NotifierUsage) -> None:
        key = (usage.package.name, usage.resource)
        watchers = self.watchers.get(key)
        if watchers is not None and usage in watchers:
            watchers.remove(usage)
            if not watchers:
                del self.watchers[key]
        self._leave(usage.dialog, usage.event.key)

    # -- Allow-Events (§4.4.4) -------------------------------------------------------------

    def _allow_events(self) -> list[tuple[str, str]]:
        ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.4.4
        ##% The "Allow-Events" header field, if present, MUST include a
        ##% comprehensive and inclusive list of tokens that indicates the event
        ##% packages for which the user agent can act as a notifier.
        if not self.notifier_of:
            return []
        return [("Allow-Events", ", ".join(self.notifier_of))]

    ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.4.4
    ##% Any user agent that can act as a notifier for one or more event
    ##% packages SHOULD include an appropriate "Allow-Events" header field
    ##% indicating all supported events in all methods which initiate dialogs
    ##% and their responses (such as INVITE) and OPTIONS responses.
    def outgoing_request(self, request: Request, client: ClientRequest | None) -> None:
        if request.method in self.ua.dialog_methods and request.to.tag is None:
            for name, value in self._allow_events():
                request.headers.set(name, value)

    def outgoing_response(self, response: Response, server: ServerRequest | None) -> None:
        if server is None or "Allow-Events" in response.headers:
            return
        method = server.request.method
        initial = method in self.ua.dialog_methods and server.request.to.tag is None
        if initial or (method == "OPTIONS" and 200 <= response.status < 300):
            for name, value in self._allow_events():
                response.headers.set(name, value)


def _mime(message: Request | Response) -> str | None:
    content_type = message.content_type
    return content_type.mime_type.lower() if content_type is not None else None


def _dialog_from_notify(subscribe: Request, notify: Request, *, tls: bool = False) -> Dialog:
    """The subscriber's dialog a NOTIFY creates (§4.1.2.4): as a UAS would for a request
    (RFC 3261 §12.1.1), but with the SUBSCRIBE's From as the local side."""
    contacts = notify.contact
    remote_target = contacts[0].uri if contacts else notify.from_.uri
    secure = tls and isinstance(subscribe.uri, SipURI) and subscribe.uri.is_secure
    return Dialog(
        id=DialogId(subscribe.call_id, subscribe.from_.tag, notify.from_.tag),
        local_uri=NameAddr(subscribe.from_.display_name, subscribe.from_.uri),
        remote_uri=NameAddr(subscribe.to.display_name, subscribe.to.uri),
        remote_target=remote_target,
        route_set=list(notify.record_route),
        local_seq=subscribe.cseq.number,
        remote_seq=notify.cseq.number,
        secure=bool(secure),
        state=DialogState.CONFIRMED,
        is_uac=True,
    )
