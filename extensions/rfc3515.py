"""The REFER method (RFC 3515): asking a UA to contact a third party, call transfer.

A UA with :class:`ReferExtension` installed (extension name ``refer``) is

- a **referrer**: :meth:`ReferExtension.refer` sends a REFER -- in a call's dialog
  (``dialog=``; a new usage of it, RFC 5057) or outside any -- with one Refer-To and,
  if asked, a Referred-By (RFC 3892).  Its implicit subscription to the ``refer``
  event (§2.4.4) is RFC 6665's: each NOTIFY comes to the application as a
  :class:`~extensions.rfc6665.SubscriptionUpdate` whose ``content`` is the
  :class:`~extensions.rfc3420.SipFrag` status of the reference (``100 Trying``, then
  the final status, §2.4.5); a REFER refused is a
  :class:`~extensions.rfc6665.SubscriptionFailed`.
- a **referee**: a REFER without exactly one well-formed Refer-To is answered 400
  (§2.4.2); otherwise the approval policy decides (``approve``: accept, a status to
  refuse with, or None to decide later with :meth:`ReferExtension.proceed` /
  :meth:`ReferExtension.decline`).  An accepted REFER gets 202, a ``refer`` notifier
  usage of RFC 6665 (event id = the REFER's CSeq for the second and later REFERs of a
  dialog, §2.4.6) and its immediate NOTIFY (``100 Trying``); the request the Refer-To
  URI asks for is formed by the core (:meth:`~rfc3261.uac.UacBehaviour.form_request`,
  RFC 3261 §19.1.5, so that embedded headers such as Replaces ride along) and sent --
  an INVITE as a call of the session manager -- with the REFER's Referred-By copied
  (RFC 3892 §2.2).  Its provisional and final responses are NOTIFYed, the final one
  with ``Subscription-State: terminated;reason=noresource`` (§2.4.7).

The ``refer`` event package (:data:`REFER_PACKAGE`) is registered with RFC 6665's
framework, which the extension installs (or joins, when ``events`` is installed first).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from extensions.rfc3420 import CONTENT_TYPE, SipFrag, status_fragment
from extensions.rfc3891 import replaces_value
from extensions.rfc3892 import ReferredBy, copy_referred_by
from extensions.rfc3892 import register_headers as register_referred_by
from extensions.rfc6665 import (
    Event,
    EventPackage,
    EventsExtension,
    NotifierUsage,
    SubscribeAttempt,
    SubState,
)
from rfc3261.dialog import Dialog, DialogId, DialogState
from rfc3261.errors import ParseError
from rfc3261.extension import ClientRequest, Owner, ServerRequest, UAEffect, UAEvent, UAExtension
from rfc3261.headers import NameAddr, register_header
from rfc3261.message import Request, Response
from rfc3261.uac import InvalidURIRequest
from rfc3261.uri import SipURI

if TYPE_CHECKING:  # pragma: no cover
    from rfc3261.session import Call
    from rfc3261.ua_core import UserAgent

__all__ = [
    "REFER_PACKAGE",
    "ReferAttempt",
    "ReferExtension",
    "ReferPackage",
    "ReferReceived",
    "Referral",
    "attended_refer_to",
    "parse_refer_to",
    "refer_to_with_replaces",
    "register_headers",
]

_SECTION = "RFC 3515 §2.1"
#: How long the referenced INVITE is given to complete (its Expires, RFC 3261 §13.2.1).
REFERENCE_TIME = 180
#: What the subscription lasts beyond that (§3.4: time to authorize, to report).
REPORT_TIME = 60


# -- Refer-To (§2.1) ----------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.1
##% Refer-To = ("Refer-To" / "r") HCOLON ( name-addr / addr-spec ) *
##% (SEMI generic-param)
def parse_refer_to(value: str) -> NameAddr:
    """A Refer-To value: the URI to reference, with its header parameters."""
    try:
        return NameAddr.parse(value.strip())
    except ValueError as error:
        raise ParseError(f"{value!r} is not a URI ({error})", _SECTION, "Refer-To") from None


def register_headers() -> None:
    """Refer-To (compact form ``r``, §2.1) and Referred-By (RFC 3892)."""
    register_header("Refer-To", parse_refer_to, rfc=3515, section="2.1", compact="r")
    register_referred_by()


def attended_refer_to(target: str, dialog: Dialog) -> str:
    """The Refer-To of an attended transfer: ``target`` replacing our ``dialog`` with it."""
    return refer_to_with_replaces(target, replaces_value(dialog.id))


def refer_to_with_replaces(target: str, replaces: str) -> str:
    """``<target?Replaces=...>``: a Refer-To for an attended transfer (RFC 3891 §5).

    ``replaces`` is a Replaces value (:func:`extensions.rfc3891.replaces_value`); it is
    %-escaped as a URI header must be (RFC 3261 §19.1.1: ``@``, ``;``, ``=``...).
    """
    escaped = "".join(
        c if c.isalnum() or c in "-_.!~*'()[]/:+$" else "".join(f"%{b:02X}" for b in c.encode())
        for c in replaces
    )
    uri = target.strip().removeprefix("<").removesuffix(">")
    return f"<{uri}{'&' if '?' in uri else '?'}Replaces={escaped}>"


# -- the refer event package (§3) ------------------------------------------------------


@dataclass
class ReferPackage(EventPackage):
    """Event ``refer`` (§3): a sipfrag status line per NOTIFY, no deltas (§2.4.5)."""

    def render(self, state: Any, content_type: str | None) -> tuple[bytes, str | None]:
        if state is None:
            state = status_fragment(100)
        if not isinstance(state, SipFrag):
            raise TypeError(f"refer: a NOTIFY carries a SipFrag, not {type(state).__name__}")
        ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
        ##% Each NOTIFY MUST contain a body of type "message/sipfrag" [3].
        ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.5
        ##% Each NOTIFY MUST contain a body of type "message/sipfrag" [3].
        return bytes(state), f"{CONTENT_TYPE};version=2.0"

    def parse(self, body: bytes, content_type: str | None) -> SipFrag:
        if content_type != CONTENT_TYPE:
            raise ValueError(f"a refer NOTIFY carries {CONTENT_TYPE}, not {content_type}")
        fragment = SipFrag.parse(body)
        ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.5
        ##% The body of a NOTIFY MUST begin with a SIP Response Status-Line as
        ##% defined in [1].
        if fragment.status is None:
            raise ValueError("the sipfrag does not begin with a Status-Line")
        return fragment

    ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.5
    ##% If a NOTIFY is generated when the subscription state is pending, its
    ##% body should consist only of a status line containing a response code
    ##% of 100.
    def pending_state(self, resource: str) -> Any:
        return status_fragment(100)

    ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.5
    ##% This body provides a complete statement of the status of the
    ##% referred action.
    def terminated_state(self, state: Any) -> Any:
        return state

    ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.7
    ##% The final NOTIFY sent in response to a REFER MUST indicate the
    ##% subscription has been "terminated" with a reason of "noresource".
    def final_reason(self, reason: str) -> str:
        # An unsubscription or an expiry (RFC 6665's "timeout") ends it the same way; an
        # approval denied later says so ("rejected", §2.4.7's own exception).
        return "rejected" if reason == "rejected" else "noresource"


##= https://www.rfc-editor.org/rfc/rfc3515#section-3.1
##% The name of this event package is "refer".
##= https://www.rfc-editor.org/rfc/rfc3515#section-3.10
##% NOTIFYs to event refer SHOULD NOT be sent more frequently than once per second.
##= https://www.rfc-editor.org/rfc/rfc3515#section-3.9
##% A REFER sent outside the context of a dialog MAY fork, and if it is
##% accepted by multiple agents, MAY create multiple subscriptions.
REFER_PACKAGE = ReferPackage(
    "refer",
    accept=(CONTENT_TYPE,),
    default_expires=REFERENCE_TIME + REPORT_TIME,
    min_expires=1,
    max_expires=REFERENCE_TIME + REPORT_TIME,
    min_interval=1.0,
    forking=True,
    resubscribe=False,
)


# -- events ----------------------------------------------------------------------------


@dataclass
class ReferReceived(UAEvent):
    """A REFER was accepted (or awaits the application's decision: ``pending``)."""

    referral: Referral
    pending: bool = False

    def describe(self) -> str:
        """One line for a log or a terminal."""
        r = self.referral
        what = "awaiting approval" if self.pending else "accepted"
        return f"REFER from {r.request.from_.uri}: transfer to {r.refer_to.uri} ({what})"


# -- the referee's side: one accepted REFER (§2.4.2-§2.4.7) ----------------------------


@dataclass(eq=False)
class Referral(Owner):
    """A REFER received: its Refer-To, its notifier usage, the request it led to."""

    extension: ReferExtension
    request: Request
    refer_to: NameAddr
    usage: NotifierUsage | None = None
    #: The resource the notifier usage reports (one per REFER).
    resource: str = ""
    #: The referenced request: its ClientRequest, and the Call when it is an INVITE.
    client: ClientRequest | None = None
    call: Call | None = None
    final: int | None = None
    done: bool = False
    final_timer: Any = None

    @property
    def alive(self) -> bool:
        """Whether the referrer still listens (its subscription is not over)."""
        return self.usage is not None and self.usage.state is not SubState.TERMINATED

    ##= https://www.rfc-editor.org/rfc/rfc3515#section-3.10
    ##% An event refer NOTIFY might be generated each time new knowledge of
    ##% the status of a referenced requests becomes available.
    def report(self, status: int, reason: str, now: float) -> list[UAEffect]:
        """The referenced request got a response: NOTIFY it (the final one ends it)."""
        if self.done:
            return []
        ext = self.extension
        fragment = status_fragment(status, reason)
        if status < 200:
            if not self.alive:
                return []
            # Within the package's rate limit: a later state replaces one not yet sent.
            return ext.events.set_state(REFER_PACKAGE.name, self.resource, fragment, now)
        self.done = True
        self.final = status
        ext.events.states[(REFER_PACKAGE.name, self.resource)] = fragment
        usage = self.usage
        if usage is None or not self.alive:
            return self._forget()
        # The final NOTIFY, at least a second after the one before it (§3.10); it
        # replaces a provisional report still waiting for its turn.
        if usage.deferred is not None:
            usage.deferred.cancel()
            usage.deferred = None
        due = max(now, (usage.last_notify or now) + REFER_PACKAGE.min_interval)
        if due > now:
            self.final_timer = ext.ua.call_at(due, self._terminate)
            return []
        return self._terminate(now)

    ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.7
    ##% The final NOTIFY sent in response to a REFER MUST indicate the
    ##% subscription has been "terminated" with a reason of "noresource".
    def _terminate(self, now: float) -> list[UAEffect]:
        self.final_timer = None
        effects: list[UAEffect] = []
        if self.usage is not None:
            effects.extend(self.usage.terminate(now, reason="noresource"))
        effects.extend(self._forget())
        return effects

    def _forget(self) -> list[UAEffect]:
        ext = self.extension
        ext.events.states.pop((REFER_PACKAGE.name, self.resource), None)
        if self in ext.referrals:
            ext.referrals.remove(self)
        return []

    # -- the referenced request's responses (a non-INVITE request is owned here) ------

    def on_response(self, client: ClientRequest, response: Response, now: float) -> list[UAEffect]:
        return self.report(response.status, response.reason, now)


# -- the referrer's side: the REFER and its implicit subscription --------------------


@dataclass(eq=False)
class ReferAttempt(SubscribeAttempt):
    """A REFER sent: a SUBSCRIBE attempt of RFC 6665 whose NOTIFYs name it ``refer``
    with the REFER's CSeq as id -- or without an id, for the first REFER of a dialog
    (§2.4.6 lets the referee leave it out)."""

    first_in_dialog: bool = True

    @property
    def keys(self) -> list[tuple[str, str | None, str]]:
        keys = [self.key]
        if self.first_in_dialog:
            keys.append((self.request.call_id, self.request.from_.tag, Event("refer").key))
        return keys

    def on_response(self, client: ClientRequest, response: Response, now: float) -> list[UAEffect]:
        """The REFER's final response: a 2xx waits for the NOTIFYs, which make the usages."""
        if response.status < 200:
            return []
        self.response = response
        if response.status < 300 or self.usages:
            ##= https://www.rfc-editor.org/rfc/rfc3515#section-3.4
            ##% The duration of an implicit subscription created by a REFER request
            ##% is initially determined by the agent accepting the REFER and
            ##% communicated to the subscribing agent in the Subscription-State
            ##% header field's expire parameter in the first NOTIFY sent in the
            ##% subscription.
            return []
        return self.extension._fail(self, response, f"{response.status} {response.reason}", now)


# -- the extension ------------------------------------------------------------------------


#: The approval policy: True accepts, False refuses (403), a status refuses with it,
#: None defers the decision to the application (202 now, proceed/decline later).
Approve = Callable[["Referral"], "bool | int | None"]


def _approve_all(referral: Referral) -> bool:
    return True


class ReferExtension(UAExtension):
    """REFER, sent and received, with the implicit ``refer`` subscription (RFC 3515)."""

    name = "refer"
    methods = ("REFER",)
    ##= https://www.rfc-editor.org/rfc/rfc3515#section-2
    ##% REFER creates a dialog, and MAY be Record-Routed, hence MUST contain a
    ##% single Contact header field value.
    dialog_methods = ("REFER",)
    accept = (CONTENT_TYPE,)

    def __init__(self, approve: Approve = _approve_all, *, invite: Any = None) -> None:
        #: The policy asked about every well-formed REFER (§2.4.2).
        self.approve = approve
        #: How to place the referenced INVITE: ``invite(to, now, **build) -> (Call,
        #: effects)`` (default: the sdp extension's, with an offer, else the session
        #: manager's with no body).
        self.invite = invite
        self.referrals: list[Referral] = []
        # REFERs received per dialog: the second and later ones get an id (§2.4.6).
        self._received: dict[DialogId, int] = {}
        # Referenced INVITEs (their ClientRequest) -> the REFER that asked for them.
        self._by_client: dict[ClientRequest, Referral] = {}
        self.events: EventsExtension

    def install(self, ua: UserAgent) -> None:
        super().install(ua)
        register_headers()
        events = ua.extension("events")
        if events is None:
            # Not registered with the process's packages: a UA without this extension
            # stays no notifier of refer.
            events = ua.use(EventsExtension(notifier_of=()))
        if not isinstance(events, EventsExtension):
            raise TypeError("refer: the 'events' extension is not RFC 6665's")
        events.packages[REFER_PACKAGE.name] = REFER_PACKAGE
        if REFER_PACKAGE.name not in events.notifier_of:
            events.notifier_of = (*events.notifier_of, REFER_PACKAGE.name)
        self.events = events
        policy = events.authorize

        ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
        ##% REFER is the only mechanism that can create a subscription to event
        ##% refer.  If a SUBSCRIBE request for event refer is received for a
        ##% subscription that does not already exist, it MUST be rejected with a
        ##% 403.
        def authorize(request: Request, package: EventPackage) -> str | int:
            # (A refresh of an existing refer subscription never gets here.)
            if package.name == REFER_PACKAGE.name:
                return 403
            return policy(request, package)

        events.authorize = authorize

    # -- the referrer: sending REFER ---------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3515#section-2
    ##% A REFER request MAY be placed outside the scope of a dialog created
    ##% with an INVITE.
    ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.1
    ##% A REFER request MUST contain exactly one Refer-To header field value.
    ##= https://www.rfc-editor.org/rfc/rfc3892#section-2.1
    ##% A REFER request MUST NOT contain more than one Referred-By header field
    ##% value.
    def refer(
        self,
        refer_to: str,
        now: float,
        *,
        target: str | None = None,
        dialog: Dialog | None = None,
        referred_by: str | None = None,
    ) -> tuple[ReferAttempt, list[UAEffect]]:
        """Send a REFER asking to contact ``refer_to``: in ``dialog`` or to ``target``.

        ``referred_by`` (RFC 3892 §2.1) names the referrer in a Referred-By.
        """
        value = parse_refer_to(refer_to)  # one URI, or ParseError (a ValueError)
        headers: list[tuple[str, str]] = [("Refer-To", str(value))]
        ##= https://www.rfc-editor.org/rfc/rfc3892#section-2.1
        ##% A UA sending a REFER request (a referrer) MAY provide a Referred-By
        ##% header field value in the request.
        if referred_by is not None:
            headers.append(("Referred-By", str(ReferredBy.parse(referred_by))))
        ua = self.ua
        if dialog is not None:
            ##= https://www.rfc-editor.org/rfc/rfc3515#section-2
            ##% REFERs occurring inside an existing dialog MUST follow the Route/Record-
            ##% Route logic of that dialog.
            request = dialog.create_request(
                "REFER",
                ua.new_via(),
                dialog.next_local_seq(ua.initial_cseq()),
                contact=ua.contact(dialog.secure),
                headers=headers,
            )
            label = str(dialog.remote_uri.uri)
        elif target is not None:
            request = ua.build_request(
                "REFER", NameAddr.parse(target if "<" in target else f"<{target}>"),
                headers=headers,
            )  # fmt: skip
            label = target
        else:
            raise ValueError("refer: give the dialog to send the REFER in, or a target")
        event = Event(REFER_PACKAGE.name, str(request.cseq.number))
        # Unless another REFER of this dialog is under way, NOTIFYs without an id are ours.
        alias = (request.call_id, request.from_.tag, Event(REFER_PACKAGE.name).key)
        first = dialog is None or (
            alias not in self.events._attempts
            and not any(key.startswith("subscribe:refer") for key in dialog.usages)
        )
        ##= https://www.rfc-editor.org/rfc/rfc3515#section-3.4
        ##% The subscribing agent MAY extend the subscription by refreshing it, or
        ##% terminate it by unsubscribing.
        # (The usages RFC 6665 makes of it refresh before the end, asking for this long.)
        attempt = ReferAttempt(
            self.events,
            REFER_PACKAGE,
            event,
            label,
            request,
            REFER_PACKAGE.default_expires,
            dialog=dialog,
            first_in_dialog=first,
        )
        ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
        ##% Analogous to the case for SUBSCRIBE described in that document, the
        ##% agent that issued the REFER MUST be prepared to receive a NOTIFY before
        ##% the REFER transaction completes.
        for key in attempt.keys:
            self.events._attempts[key] = attempt
        client, effects = ua.send(request, now, owner=attempt, dialog=dialog)
        attempt.client = client
        attempt.timer_n = ua.call_at(now + 64 * ua.timers.T1, attempt.on_timer_n)
        return attempt, effects

    #: ``attended_refer_to(target, dialog)``, for a program holding only the extension.
    attended_refer_to = staticmethod(attended_refer_to)

    # -- the referee: receiving REFER ----------------------------------------------------

    def receive_request(self, server: ServerRequest, now: float) -> list[UAEffect] | None:
        request = server.request
        ua = self.ua
        if server.dialog is None and request.to.tag is not None:
            return None  # a dialog this UA does not know: 481 (RFC 3261 §12.2.2)
        earlier = self._count(server.dialog)
        ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
        ##% An agent responding to a REFER method MUST return a 400 (Bad Request)
        ##% if the request contained zero or more than one Refer-To header field
        ##% values.
        values = request.headers.get_all("Refer-To")
        if len(values) != 1:
            count = "no" if not values else "more than one"
            return ua.respond(server, 400, now, reason=f"Bad Request ({count} Refer-To)")
        try:
            refer_to = request.header("Refer-To")
        except ValueError:
            return ua.respond(server, 400, now, reason="Bad Request (Refer-To is not a URI)")
        ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
        ##% A UA not capable of accessing non-SIP URIs SHOULD NOT accept REFER
        ##% requests to them.
        if not isinstance(refer_to.uri, SipURI):
            return ua.respond(server, 403, now, reason="Forbidden (not a SIP URI)")
        try:
            ua.form_request(refer_to.uri)
        except InvalidURIRequest:
            return ua.respond(server, 400, now, reason="Bad Request (Refer-To forms no request)")
        referral = Referral(self, request, refer_to)
        ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
        ##% A UA accepting a well-formed REFER request SHOULD request approval
        ##% from the user to proceed (this request could be satisfied with an
        ##% interactive query or through accessing configured policy).
        ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
        ##% If the approval sought above for a well-formed REFER request is
        ##% immediately denied, the UA MAY decline the request.
        decision = self.approve(referral)
        if decision is not True and decision is not None:
            return ua.respond(server, 403 if decision is False else int(decision), now)
        ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
        ##% If no final response has been generated according to the rules above,
        ##% the UA MUST return a 202 Accepted response before the REFER
        ##% transaction expires.
        dialog = server.dialog
        if dialog is None:
            server.to_tag = ua.new_tag()
        response = request.make_response(202, "Accepted", to_tag=server.to_tag)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
        ##% The UAS MUST add a Contact header field to the response.
        response.headers.add("Contact", str(ua.contact(bool(dialog and dialog.secure))))
        if dialog is None:
            dialog = Dialog.create_uas(request, response, tls=server.tls)
            dialog.state = DialogState.CONFIRMED
            # This REFER made the dialog: it is its first, so a later one gets an id
            # (§2.4.6) and a subscription of its own.
            self._received[dialog.id] = 1
        effects = ua.respond_with(server, response, now)
        ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
        ##% If a REFER request is accepted (that is, a 2xx class response is
        ##% returned), the recipient MUST create a subscription and send
        ##% notifications of the status of the refer as described in Section
        ##% 2.4.4.
        effects.extend(
            self._subscribe(referral, dialog, earlier=earlier, pending=decision is None, now=now)
        )
        effects.append(ReferReceived(referral, pending=decision is None))
        if decision is None:
            return effects
        effects.extend(self._contact(referral, now))
        return effects

    ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
    ##% The NOTIFY mechanism defined in [2] MUST be used to inform the agent
    ##% sending the REFER of the status of the reference.
    ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
    ##% Each NOTIFY MUST contain an Event header field with a value of refer
    ##% and possibly an id parameter (see Section 2.4.6).
    def _subscribe(
        self, referral: Referral, dialog: Dialog, *, earlier: int, pending: bool, now: float
    ) -> list[UAEffect]:
        cseq = referral.request.cseq.number
        ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.6
        ##% Thus, for the second and subsequent REFER requests a UA receives in a
        ##% given dialog, it MUST include an id parameter[2] in the Event header
        ##% field of each NOTIFY containing the sequence number (the number from
        ##% the CSeq header field value) of the REFER this NOTIFY is associated
        ##% with.
        # The first REFER's NOTIFYs go without (§2.4.6 "MAY"): what every referrer
        # understands, those that number nothing included.
        event = Event(REFER_PACKAGE.name, str(cseq) if earlier else None)
        referral.resource = f"refer:{dialog.id.call_id}:{dialog.id.local_tag}:{cseq}"
        self.events.states[(REFER_PACKAGE.name, referral.resource)] = status_fragment(100)
        usage = self.events.add_notifier(
            dialog, REFER_PACKAGE, event, referral.resource, CONTENT_TYPE
        )
        usage.state = SubState.PENDING if pending else SubState.ACTIVE
        ##= https://www.rfc-editor.org/rfc/rfc3515#section-3.4
        ##% The duration SHOULD be chosen to be longer than the time the referenced
        ##% request will be given to complete.
        ##= https://www.rfc-editor.org/rfc/rfc3515#section-3.4
        ##% Additional time MAY be included to account for time needed to
        ##% authorize the subscription.
        usage.extend(REFERENCE_TIME + REPORT_TIME, now)
        referral.usage = usage
        self.referrals.append(referral)
        ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.5
        ##% A minimal, but complete, implementation can respond with a single
        ##% NOTIFY containing either the body:
        return usage.notify(now, force=True)

    def _count(self, dialog: Dialog | None) -> int:
        """How many REFERs this dialog brought before this one (each one counts, §2.4.6)."""
        for known in [d for d in self._received if d not in self.ua.dialogs]:
            del self._received[known]  # dialogs that ended
        if dialog is None:
            return 0
        earlier = self._received.get(dialog.id, 0)
        self._received[dialog.id] = earlier + 1
        return earlier

    def proceed(self, referral: Referral, now: float) -> list[UAEffect]:
        """The application approves a REFER it left pending: act on it (§2.4.2)."""
        if referral.usage is None or referral.client is not None or referral.done:
            raise ValueError("proceed: the REFER is not awaiting approval")
        effects: list[UAEffect] = []
        if referral.alive:
            effects.extend(referral.usage.activate(now))
        effects.extend(self._contact(referral, now))
        return effects

    ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.7
    ##% In the case where a REFER was accepted with a 202, but approval to
    ##% follow the reference was subsequently denied, the reason and retry-
    ##% after elements of the Subscription-State header field can be used to
    ##% indicate if and when the REFER can be re-attempted (as described for
    ##% SUBSCRIBE in [2]).
    def decline(self, referral: Referral, now: float) -> list[UAEffect]:
        """The application refuses a REFER it left pending: NOTIFY 603 Declined, the end."""
        if referral.usage is None or referral.client is not None or referral.done:
            raise ValueError("decline: the REFER is not awaiting approval")
        referral.done = True
        referral.final = 603
        self.events.states[(REFER_PACKAGE.name, referral.resource)] = status_fragment(603)
        effects = referral.usage.terminate(now, reason="rejected") if referral.alive else []
        effects.extend(referral._forget())
        return effects

    ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
    ##% If approval is granted, the UA MUST contact the resource identified by
    ##% the URI in the Refer-To header field value as discussed in Section
    ##% 2.4.3.
    ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.3
    ##% The resource identified by the Refer-To URI is contacted using the
    ##% normal mechanisms for that URI type.
    def _contact(self, referral: Referral, now: float) -> list[UAEffect]:
        ua = self.ua
        formed = ua.form_request(referral.refer_to.uri)  # checked when the REFER came
        copy_referred_by(referral.request, formed)
        if formed.method != "INVITE":
            if referral.usage is not None:
                local = referral.usage.dialog.local_uri
                formed.headers.set(
                    "From", str(NameAddr(local.display_name, local.uri, formed.from_.params))
                )
            referral.client, effects = ua.send(formed, now, owner=referral)
            return effects
        # An INVITE is a call: the session manager places it with our offer; the
        # header fields the URI asked for (Replaces, Referred-By...) go with it.
        extra = [(n, v) for n, v in formed.headers if n.lower() not in _BUILT_BY_CORE]
        expires = formed.expires
        if expires is None:
            extra.append(("Expires", str(REFERENCE_TIME)))
        place = self.invite
        if place is None:
            sdp = ua.extension("sdp")
            place = sdp.invite if sdp is not None else ua.sessions.invite  # type: ignore[attr-defined]
        ##= https://www.rfc-editor.org/rfc/rfc3892#section-2.2
        ##% A referee SHOULD present the same identity to the referrer and the
        ##% refer target.
        # The identity the referrer sees is this side of the REFER's dialog (its From).
        identity = referral.usage.dialog.local_uri if referral.usage is not None else None
        call, effects = place(
            str(formed.to), now, request_uri=formed.uri, headers=extra, from_=identity
        )
        referral.call = call
        referral.client = call.client
        if call.client is not None:
            self._by_client[call.client] = referral
        return effects

    ##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
    ##% In particular, an agent acting on a REFER request SHOULD NOT issue a
    ##% CANCEL to any referenced SIP requests because the agent sending the
    ##% REFER terminated its subscription to the refer event before the
    ##% referenced request completes.
    def inspect_response(
        self, client: ClientRequest, response: Response, now: float
    ) -> list[UAEffect] | None:
        """A response to a referenced INVITE: report it; the call goes on regardless of
        the subscription (a referrer that unsubscribed is just told nothing more)."""
        referral = self._by_client.get(client)
        if referral is None or response.status == 100:
            return None

        # The core goes on with the response (the call is the INVITE's owner); the
        # NOTIFY leaves on the next turn of the UA's timers, once the core has decided
        # whether a failure is final or retried (credentials, redirection, §8.1.3.4).
        def report(t: float) -> list[UAEffect]:
            if response.status >= 300 and client.final is None:
                return []  # retried: the retry's responses are reported instead
            if response.status >= 200:
                self._by_client.pop(client, None)
            return referral.report(response.status, response.reason, t)

        self.ua.call_at(now, report)
        return None


# The header fields build_request writes itself: not copied from a formed request.
_BUILT_BY_CORE = frozenset(
    {
        "via", "from", "to", "call-id", "cseq", "max-forwards", "contact", "supported",
        "accept", "route", "content-length", "content-type", "allow",
    }
)  # fmt: skip
