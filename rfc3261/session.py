"""INVITE sessions: initiating, modifying and terminating them (RFC 3261 §13, §14, §15).

A :class:`Call` is one INVITE usage seen from one UA: as UAC it sends the
INVITE, creates an early dialog per provisional response with a To tag and a
confirmed dialog per 2xx (several when the INVITE forked, §13.2.2.4), and the
UAC core sends the ACK for every 2xx, retransmissions included.  As UAS it
answers with provisional and final responses and retransmits its 2xx until the
ACK arrives (§13.3.1.4: T1 doubling up to T2, giving up after 64*T1 with a
BYE).  Re-INVITEs (§14) run on a confirmed dialog, with 491 and the §14.1
back-off on glare; BYE (§15) ends the session and the dialog.  Session
descriptions are bytes to this module: where an offer and its answer go is tracked here
(:class:`~rfc3261.offer_answer.Negotiation`), what they say is written by the session
describer (the application's bodies, or an SDP extension's, RFC 3264).

:class:`SessionManager` is the UA core's extension for INVITE, ACK and BYE: the
core routes those requests to it, and the application calls
:meth:`SessionManager.invite`, ``ring``, ``answer``, ``reject``, ``reinvite``,
``bye`` and ``hangup``.  A call is the "invite" usage of its dialogs (RFC 5057),
and it uses only the core's public API, as any extension would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .cancel import cancel
from .dialog import Dialog, DialogId, DialogState, dialog_id_of
from .extension import ClientRequest, Owner, ServerRequest, UAEffect, UAEvent, UAExtension
from .message import Request, Response
from .offer_answer import (
    Negotiation,
    NegotiationState,
    OpaqueDescriber,
    Refusal,
    SessionDescriber,
)
from .transaction import SendMessage, State
from .transaction_server import InviteServerTransaction
from .uri import SipURI

if TYPE_CHECKING:  # pragma: no cover
    from .ua_core import UserAgent

# The key of the INVITE usage of a dialog (RFC 5057).
INVITE_USAGE = "invite"

__all__ = [
    "Call",
    "CallEnded",
    "CallEstablished",
    "CallFailed",
    "CallProgress",
    "IncomingCall",
    "ReinviteReceived",
    "ReinviteResult",
    "SessionManager",
]


# -- events ----------------------------------------------------------------------------


@dataclass
class CallEvent(UAEvent):
    """Base class of the call events the session manager tells the application."""

    call: Call


@dataclass
class IncomingCall(CallEvent):
    """A new INVITE; answer with ``ring``/``answer``/``reject``."""

    request: Request


@dataclass
class CallProgress(CallEvent):
    response: Response


@dataclass
class CallEstablished(CallEvent):
    """A dialog of the call is confirmed (UAC: 2xx acknowledged; UAS: ACK received)."""

    dialog: Dialog


@dataclass
class CallFailed(CallEvent):
    response: Response


@dataclass
class CallEnded(CallEvent):
    dialog: Dialog | None
    reason: str


@dataclass
class ReinviteReceived(CallEvent):
    dialog: Dialog
    request: Request


@dataclass
class ReinviteResult(CallEvent):
    dialog: Dialog
    response: Response


# -- the call --------------------------------------------------------------------------


@dataclass(eq=False)
class _Retransmission:
    """The 2xx a UAS core retransmits until the ACK arrives (§13.3.1.4)."""

    server: ServerRequest
    response: Response
    interval: float
    give_up_at: float
    timer: Any = None
    acked: bool = False


@dataclass(eq=False, repr=False)
class Call(Owner):
    """One INVITE usage at one UA: its dialogs and where it stands."""

    manager: SessionManager
    is_uac: bool
    call_id: str
    local_body: bytes = b""
    content_type: str | None = None
    client: ClientRequest | None = None
    server: ServerRequest | None = None
    dialogs: dict[DialogId, Dialog] = field(default_factory=dict)
    established: Dialog | None = None
    ended: bool = False
    hangup_requested: bool = False
    bye_pending: bool = False
    # Sent ACKs for 2xx responses: (dialog ID, CSeq number) -> (ACK, destination).
    acks: dict[tuple[DialogId, int], tuple[Request, Any]] = field(default_factory=dict)
    retransmissions: list[_Retransmission] = field(default_factory=list)
    reinvite_client: ClientRequest | None = None
    reinvite_server: ServerRequest | None = None
    glare_timer: Any = None
    glare_delays: list[float] = field(default_factory=list)
    # The first session description received from the peer (the answer, or its offer).
    remote_body: bytes | None = None
    provisional_timer: Any = None
    # The §13.3.1 timer of an incoming INVITE's Expires, while no final response is sent.
    expires_timer: Any = None
    # When the first 2xx to our INVITE arrived (§13.2.2.4: 64*T1 later it is completed).
    first_2xx_at: float | None = None
    # Set when the call ends: the manager forgets it once its transactions are over.
    forget_timer: Any = None
    # Where the offer/answer exchange of this INVITE usage stands (RFC 3264 §4).
    negotiation: Negotiation = field(default_factory=Negotiation)
    # The describer refused the offer of the last 2xx: the ACK declined it, a BYE follows.
    offer_refused: bool = False

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
    ##% If the UAC is the owner of the Call-ID of the dialog ID
    ##% (meaning it generated the value), T has a randomly chosen value
    ##% between 2.1 and 4 seconds in units of 10 ms.
    def __repr__(self) -> str:
        return f"<Call {'UAC' if self.is_uac else 'UAS'} {self.call_id}>"

    @property
    def owns_call_id(self) -> bool:
        return self.is_uac

    def glare_delay(self) -> float:
        """How long to wait before trying again after a 491 (§14.1; RFC 3311 §5.3)."""
        rng = self.ua.rng
        ticks = rng.randint(210, 400) if self.owns_call_id else rng.randint(0, 200)
        self.glare_delays.append(ticks / 100)
        return ticks / 100

    @property
    def ua(self) -> UserAgent:
        return self.manager.ua

    # -- UAC: responses to the initial INVITE (§13.2.2) ---------------------------

    def on_response(self, client: ClientRequest, response: Response, now: float) -> list[UAEffect]:
        ua = self.ua
        status = response.status
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
        ##% The UAC MUST treat the first session description it receives as the answer, and MUST
        ##% ignore any session descriptions in subsequent responses to the initial
        ##% INVITE.
        if response.body and status < 300 and self.remote_body is None:
            self.remote_body = response.body
            self.description_received(response.body, may_offer=status >= 200)
        if status < 200:
            effects: list[UAEffect] = []
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.1
            ##% If a provisional response
            ##% has a tag in the To field, and if the dialog ID of the response does
            ##% not match an existing dialog, one is constructed using the procedures
            ##% defined in Section 12.1.2.
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1
            ##% Within this specification, only
            ##% 2xx and 101-199 responses with a To tag, where the request was
            ##% INVITE, will establish a dialog.
            if status > 100 and response.to.tag is not None:
                did = dialog_id_of(response, uac=True)
                if did not in ua.dialogs:
                    self._add_dialog(Dialog.create_uac(client.request, response))
            effects.append(CallProgress(self, response))
            return effects
        if status < 300:
            return self._on_2xx(client, response, now)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.3
        ##% All early dialogs are considered terminated upon reception of the
        ##% non-2xx final response.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.3
        ##% Independent of the method, if a request outside of a dialog generates
        ##% a non-2xx final response, any early dialogs created through
        ##% provisional responses to that request are terminated.
        for dialog in list(self.dialogs.values()):
            if dialog.state is DialogState.EARLY:
                self._remove_dialog(dialog)
        self.finish(now)
        return [CallFailed(self, response)]

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
    ##% Multiple 2xx responses may arrive at the UAC for a single INVITE
    ##% request due to a forking proxy.  Each response is distinguished by
    ##% the tag parameter in the To header field, and each represents a
    ##% distinct dialog, with a distinct dialog identifier.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
    ##% Otherwise, a new dialog in the "confirmed" state MUST be
    ##% constructed using the procedures of Section 12.1.2.
    def _on_2xx(self, client: ClientRequest, response: Response, now: float) -> list[UAEffect]:
        ua = self.ua
        did = dialog_id_of(response, uac=True)
        key = (did, response.cseq.number)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
        ##% The
        ##% ACK MUST be passed to the client transport every time a
        ##% retransmission of the 2xx final response that triggered the ACK
        ##% arrives.
        if key in self.acks:
            ack, destination = self.acks[key]
            return [SendMessage(ack, destination, None)]  # type: ignore[arg-type]
        dialog = ua.dialogs.get(did)
        if dialog is None:
            dialog = self._add_dialog(Dialog.create_uac(client.request, response))
        else:
            dialog.confirm(response)
        effects = self._send_ack(dialog, client.request, response)
        if self.first_2xx_at is None:
            self.first_2xx_at = now
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
            ##% The UAC core considers the INVITE transaction completed 64*T1 seconds
            ##% after the reception of the first 2xx response.  At this point all the
            ##% early dialogs that have not transitioned to established dialogs are
            ##% terminated.
            ua.call_at(now + 64 * ua.timers.T1, self._invite_completed)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
        ##% If, after acknowledging any 2xx response to an INVITE, the UAC does
        ##% not want to continue with that dialog, then the UAC MUST terminate
        ##% the dialog by sending a BYE request as described in Section 15.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-15
        ##% If the INVITE results in 2xx final response(s)
        ##% to the INVITE, this means that a UAS accepted the invitation while
        ##% the CANCEL was in progress.  The UAC MAY continue with the sessions
        ##% established by any 2xx responses, or MAY terminate them with BYE.
        if self.established is not None or self.hangup_requested or self.offer_refused:
            effects.extend(self._send_bye(dialog, now))
            return effects
        self.established = dialog
        effects.append(CallEstablished(self, dialog))
        return effects

    def _invite_completed(self, now: float) -> list[UAEffect]:
        for dialog in list(self.dialogs.values()):
            if dialog.state is DialogState.EARLY:
                self._remove_dialog(dialog)
        return []

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
    ##% The UAC core MUST generate an ACK request for each 2xx received from
    ##% the transaction layer.  The header fields of the ACK are constructed
    ##% in the same way as for any request sent within a dialog (see Section
    ##% 12) with the exception of the CSeq and the header fields related to
    ##% authentication.  The sequence number of the CSeq header field MUST be
    ##% the same as the INVITE being acknowledged, but the CSeq method MUST
    ##% be ACK.  The ACK MUST contain the same credentials as the INVITE.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
    ##% However, the
    ##% request is passed to the transport layer directly for transmission,
    ##% rather than a client transaction.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
    ##% UACs creating an ACK message
    ##% will duplicate all of the Authorization and Proxy-Authorization
    ##% header field values that appeared in the INVITE to which the ACK
    ##% corresponds.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.3
    ##% An ACK request for a 2xx response MUST contain only those Require and
    ##% Proxy-Require values that were present in the initial request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
    ##% All user agents that support INVITE MUST support these two exchanges.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
    ##% A UAC core that generates an ACK for 2xx MUST instead follow the rules
    ##% described in Section 13.
    def _send_ack(self, dialog: Dialog, invite: Request, response: Response) -> list[UAEffect]:
        ua = self.ua
        copied = [
            (name, value)
            for name, value in invite.headers
            if name.lower() in ("authorization", "proxy-authorization", "require", "proxy-require")
        ]
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
        ##% If
        ##% the 2xx contains an offer (based on the rules above), the ACK MUST
        ##% carry an answer in its body.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
        ##% If the initial offer is in the first reliable non-failure
        ##% message from the UAS back to UAC, the answer MUST be in the
        ##% acknowledgement for that message (in this specification, ACK
        ##% for a 2xx response).
        # (An offer answered already, in a PRACK (RFC 3262 §5), leaves none in the 2xx.)
        negotiation = self.negotiation
        offer_in_2xx = (
            not invite.body
            and bool(response.body)
            and (negotiation.state is NegotiationState.OFFER_RECEIVED or negotiation.local is None)
        )
        body = b""
        self.offer_refused = False
        if offer_in_2xx:
            describer = self.manager.describer
            answer = describer.answer(self, response.body)
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
            ##% If the offer in the 2xx response is not acceptable, the UAC core
            ##% MUST generate a valid answer in the ACK and then send a BYE
            ##% immediately.
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
            ##% If, however, it is unacceptable to the UAC, the UAC SHOULD
            ##% generate an answer with a valid session description, and then send
            ##% a BYE to terminate the session.
            self.offer_refused = answer is None
            body = describer.decline(self, response.body) if answer is None else answer
            if self.negotiation.state is NegotiationState.OFFER_RECEIVED:
                self.negotiation.answer_sent(body)
        ack = dialog.create_request(
            "ACK",
            ua.new_via(),
            invite.cseq.number,
            headers=copied,
            body=body,
            content_type=(self.content_type or "application/sdp") if body else None,
        )
        destination = ua.destination_for(ack)
        self.acks[(dialog.id, response.cseq.number)] = (ack, destination)
        return ua.send_direct(ack, destination)

    def description_received(self, body: bytes, *, may_offer: bool) -> None:
        """A session description from the peer: the answer to ours, or (where a
        reliable message may carry one) a new offer.  Input from the peer never raises:
        a description out of order is left out of the negotiation."""
        negotiation = self.negotiation
        if negotiation.state is NegotiationState.OFFER_SENT:
            negotiation.answer_received(body)
        elif negotiation.state is NegotiationState.IDLE and may_offer:
            negotiation.offer_received(body)

    # -- dialogs ---------------------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
    ##% The UAS then constructs the state of the dialog.  This state MUST be
    ##% maintained for the duration of the dialog.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
    ##% When a UAC receives a response that establishes a dialog, it
    ##% constructs the state of the dialog.  This state MUST be maintained
    ##% for the duration of the dialog.
    def _add_dialog(self, dialog: Dialog) -> Dialog:
        dialog.add_usage(INVITE_USAGE, self)
        self.dialogs[dialog.id] = dialog
        self.ua.dialogs[dialog.id] = dialog
        return dialog

    def _remove_dialog(self, dialog: Dialog) -> None:
        self.dialogs.pop(dialog.id, None)
        if dialog.remove_usage(INVITE_USAGE) and self.ua.dialogs.get(dialog.id) is dialog:
            del self.ua.dialogs[dialog.id]

    # -- BYE (§15.1.1) -----------------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.1
    ##% A BYE request is constructed as would any other request within a
    ##% dialog, as described in Section 12.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.1
    ##% The UAC MUST
    ##% consider the session terminated (and therefore stop sending or
    ##% listening for media) as soon as the BYE request is passed to the
    ##% client transaction.
    def _send_bye(self, dialog: Dialog, now: float) -> list[UAEffect]:
        _, effects = self.ua.in_dialog(dialog, "BYE", now, owner=_ByeOwner(self, dialog))
        self._remove_dialog(dialog)
        for retransmission in self.retransmissions:
            if retransmission.server.dialog is dialog:
                retransmission.acked = True  # stop: the dialog is gone
        if self.established is dialog:
            effects.append(CallEnded(self, dialog, "local BYE"))
        if not any(d.state is DialogState.CONFIRMED for d in self.dialogs.values()):
            self.finish(now)
        return effects

    def finish(self, now: float) -> None:
        """The call is over: stop its timers; its manager forgets it 64*T1 later.

        By then every transaction of the call has ended (Timer B, D, F, H, J are at most
        64*T1) and so has any 2xx retransmission (§13.3.1.4), so nothing the network
        can still send refers to it; the application's references are its own.
        """
        self.ended = True
        for timer in (self.provisional_timer, self.expires_timer, self.glare_timer):
            if timer is not None:
                timer.cancel()
        if self.forget_timer is None:
            self.forget_timer = self.ua.call_at(now + 64 * self.ua.timers.T1, self._forget)

    def _forget(self, now: float) -> list[UAEffect]:
        self.manager.forget(self)
        return []

    # -- UAS: 2xx retransmission (§13.3.1.4) --------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
    ##% Therefore, it is necessary
    ##% to periodically pass the response directly to the transport until the
    ##% ACK arrives.  The 2xx response is passed to the transport with an
    ##% interval that starts at T1 seconds and doubles for each
    ##% retransmission until it reaches T2 seconds (T1 and T2 are defined in
    ##% Section 17).  Response retransmissions cease when an ACK request for
    ##% the response is received.  This is independent of whatever transport
    ##% protocols are used to send the response.
    def _start_retransmission(self, server: ServerRequest, response: Response, now: float) -> None:
        timers = self.ua.timers
        retransmission = _Retransmission(server, response, timers.T1, now + 64 * timers.T1)
        self.retransmissions.append(retransmission)
        retransmission.timer = self.ua.call_at(
            now + timers.T1, lambda t: self._retransmit(retransmission, t)
        )

    def _retransmit(self, retransmission: _Retransmission, now: float) -> list[UAEffect]:
        dialog = retransmission.server.dialog
        if retransmission.acked or (self.ended and (dialog is None or dialog.terminated)):
            return []
        ua = self.ua
        if not retransmission.server.final_sent:
            # An extension holds the 2xx back (RFC 3262 §3: until a PRACK): its
            # retransmissions and their 64*T1 start when it is first sent.
            retransmission.give_up_at = now + 64 * ua.timers.T1
            retransmission.timer = ua.call_at(
                now + retransmission.interval, lambda t: self._retransmit(retransmission, t)
            )
            return []
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
        ##% If the server retransmits the 2xx response for 64*T1 seconds without
        ##% receiving an ACK, the dialog is confirmed, but the session SHOULD be
        ##% terminated.  This is accomplished with a BYE, as described in Section
        ##% 15.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
        ##% If a UAS generates a 2xx response and never receives an ACK, it
        ##% SHOULD generate a BYE to terminate the dialog.
        if now >= retransmission.give_up_at:
            retransmission.acked = True
            dialog = retransmission.server.dialog
            if dialog is None or dialog.terminated:
                return []
            return self._send_bye(dialog, now)
        server = retransmission.server
        if server.transaction.terminated:
            effects: list[UAEffect] = [SendMessage(retransmission.response, server.source, None)]  # type: ignore[arg-type]
        else:
            effects = ua.retransmit(server, retransmission.response, now)
        retransmission.interval = min(2 * retransmission.interval, ua.timers.T2)
        next_time = min(now + retransmission.interval, retransmission.give_up_at)
        retransmission.timer = ua.call_at(next_time, lambda t: self._retransmit(retransmission, t))
        return effects

    def acknowledged(self, request: Request, now: float) -> list[UAEffect] | None:
        """An ACK for one of this call's 2xx responses; None if it matches none."""
        for retransmission in self.retransmissions:
            server = retransmission.server
            if retransmission.acked or server.request.cseq.number != request.cseq.number:
                continue
            if server.dialog is None or server.dialog.id != dialog_id_of(request, uac=False):
                continue
            retransmission.acked = True
            if retransmission.timer is not None:
                retransmission.timer.cancel()
            if request.body:
                self.description_received(request.body, may_offer=False)
            dialog = server.dialog
            effects: list[UAEffect] = []
            if server is self.server:
                self.established = dialog
                effects.append(CallEstablished(self, dialog))
            if self.bye_pending:
                self.bye_pending = False
                effects.extend(self._send_bye(dialog, now))
            return effects
        return None

    # -- the owner of the INVITE server requests -----------------------------------

    def on_cancel(self, server: ServerRequest, now: float) -> list[UAEffect] | None:
        """A CANCEL of the initial INVITE ends the call with 487 (§9.2)."""
        if server is not self.server:
            return None  # a re-INVITE: the core answers it with 487
        effects = self.manager.reject(self, now, 487)
        effects.append(CallEnded(self, None, "cancelled"))
        return effects

    def on_terminated(self, server: ServerRequest, now: float) -> list[UAEffect]:
        """A server transaction ended; a pending BYE may now go out (§15)."""
        if self.bye_pending and server is self.server:
            dialog = server.dialog
            if dialog is not None and not dialog.terminated:
                self.bye_pending = False
                return self._send_bye(dialog, now)
        return []


@dataclass(eq=False)
class _ByeOwner(Owner):
    """Receives the response to a BYE; the session ended when the BYE was sent."""

    call: Call
    dialog: Dialog

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.1
    ##% If the response for the BYE is a 481
    ##% (Call/Transaction Does Not Exist) or a 408 (Request Timeout) or no
    ##% response at all is received for the BYE (that is, a timeout is
    ##% returned by the client transaction), the UAC MUST consider the
    ##% session and the dialog terminated.
    def on_response(self, client: ClientRequest, response: Response, now: float) -> list[UAEffect]:
        return []


@dataclass(eq=False)
class _ReInvite(Owner):
    """A re-INVITE sent on a confirmed dialog (§14.1)."""

    call: Call
    dialog: Dialog
    body: bytes
    content_type: str | None

    def on_response(self, client: ClientRequest, response: Response, now: float) -> list[UAEffect]:
        call, dialog = self.call, self.dialog
        status = response.status
        if status < 200:
            return []
        call.reinvite_client = None
        if status < 300:
            if response.body:
                call.description_received(response.body, may_offer=True)
            dialog.update_target_from(response)
            effects = call._send_ack(dialog, client.request, response)
            effects.append(ReinviteResult(call, dialog, response))
            if call.offer_refused:
                effects.extend(call._send_bye(dialog, now))
            return effects
        call.negotiation.rejected()  # the session is as it was (RFC 3264 §4)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
        ##% If a UAC receives a 491 response to a re-INVITE, it SHOULD start a
        ##% timer with a value T chosen as follows:
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
        ##% If the UAC is not the owner of the Call-ID of the dialog ID, T
        ##% has a randomly chosen value of between 0 and 2 seconds in units
        ##% of 10 ms.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
        ##% When the timer fires, the UAC SHOULD attempt the re-INVITE once more,
        ##% if it still desires for that session modification to take place.
        if status == 491:
            delay = call.glare_delay()

            def retry(t: float) -> list[UAEffect]:
                if call.ended or dialog.terminated:
                    return []
                return call.manager.reinvite(call, t, self.body, self.content_type, dialog)

            call.glare_timer = call.ua.call_at(now + delay, retry)
            return [ReinviteResult(call, dialog, response)]
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.2
        ##% A UAC SHOULD also terminate a dialog if
        ##% no response at all is received for the request (the client
        ##% transaction would inform the TU about the timeout.)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.2
        ##% If the response for a request within a dialog is a 481
        ##% (Call/Transaction Does Not Exist) or a 408 (Request Timeout), the UAC
        ##% SHOULD terminate the dialog.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
        ##% If a UA receives a non-2xx final response to a re-INVITE, the session
        ##% parameters MUST remain unchanged, as if no re-INVITE had been issued.
        effects = [ReinviteResult(call, dialog, response)]
        if status == 481:
            call._remove_dialog(dialog)
            call.finish(now)
            effects.append(CallEnded(call, dialog, "481 to re-INVITE"))
        elif status == 408:
            effects.extend(call._send_bye(dialog, now))
        return effects


class SessionManager(UAExtension):
    """INVITE sessions as the UA core's extension (§13-§15), and the application's call API."""

    name = "sessions"
    methods = ("INVITE", "ACK", "BYE")
    dialog_methods = ("INVITE",)

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.busy = False
        # True: re-INVITEs are answered at once by the describer, the policy that
        # decides (with SDP, RFC 3264: an answer, or a 488 saying why); False: the
        # application answers with ``answer_reinvite`` after ReinviteReceived.
        self.auto_accept_reinvite = True
        # Writes offers and answers; an SDP extension replaces it (RFC 3264).
        self.describer: SessionDescriber = OpaqueDescriber()

    # -- application API ---------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
    ##% For example, a
    ##% UA capable of receiving INFO requests within a dialog [34] SHOULD
    ##% include an Allow header field listing the INFO method.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
    ##% The UAC MAY add an Expires header field (Section 20.19) to limit the
    ##% validity of the invitation.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
    ##% The UAC MAY choose to add a message body to the INVITE.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
    ##% An Allow header field (Section 20.5) SHOULD be present in the INVITE.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
    ##% A Supported header field (Section 20.37) SHOULD be present in the
    ##% INVITE.
    def invite(
        self,
        to: str,
        now: float,
        *,
        body: bytes = b"",
        content_type: str | None = "application/sdp",
        **build: Any,
    ) -> tuple[Call, list[UAEffect]]:
        """Send an initial INVITE to ``to`` (§13.2.1)."""
        ua = self.ua
        headers = [("Allow", ", ".join(ua.allow))]
        if not ua.supported:
            headers.append(("Supported", ""))
        request = ua.build_request(
            "INVITE",
            to,
            headers=headers + list(build.pop("headers", [])),
            body=body,
            content_type=content_type if body else None,
            **build,
        )
        call = Call(self, True, request.call_id, body, content_type)
        if body:
            call.negotiation.offer_sent(body)
        self.calls.append(call)
        call.client, effects = ua.send(request, now, owner=call)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
        ##% If the time indicated in the Expires
        ##% header field is reached and no final answer for the INVITE has been
        ##% received, the UAC core SHOULD generate a CANCEL request for the
        ##% INVITE, as per Section 9.
        expires = request.expires
        if expires is not None:
            client = call.client
            ua.call_at(
                now + expires,
                lambda t: cancel(ua, client, t) if client.final is None else [],
            )
        return call, effects

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.1
    ##% This is accomplished with a
    ##% provisional response between 101 and 199.  These provisional
    ##% responses establish early dialogs and therefore follow the procedures
    ##% of Section 12.1.1 in addition to those of Section 8.2.6.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.1
    ##% Each of these MUST
    ##% indicate the same dialog ID.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
    ##% That same exact answer MAY also be placed in any provisional responses sent
    ##% prior to the answer.
    def ring(
        self, call: Call, now: float, status: int = 180, *, body: bytes = b""
    ) -> list[UAEffect]:
        """Send a provisional response (180 Ringing by default) to an incoming INVITE."""
        server = call.server
        if server is None or not 100 < status < 200:
            raise ValueError("ring: a 101-199 response to an incoming INVITE (§13.3.1.1)")
        response = self._dialog_response(
            server, status, body=body, content_type=call.content_type or "application/sdp"
        )
        if server.dialog is None:
            server.dialog = call._add_dialog(Dialog.create_uas(server.request, response))
        if call.provisional_timer is not None:
            call.provisional_timer.cancel()

        def again(t: float) -> list[UAEffect]:
            if server.final_sent or call.ended:
                return []
            return self.ring(call, t, status, body=body)

        ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.1
        ##% To prevent cancellation, the UAS MUST send a non-100
        ##% provisional response at every minute, to handle the possibility of
        ##% lost provisional responses.
        call.provisional_timer = self.ua.call_at(now + 60.0, again)

        return self.ua.respond_with(server, response, now)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
    ##% The UAS core generates a 2xx response.  This response establishes a
    ##% dialog, and therefore follows the procedures of Section 12.1.1 in
    ##% addition to those of Section 8.2.6.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
    ##% A 2xx response to an INVITE SHOULD contain the Allow header field and
    ##% the Supported header field, and MAY contain the Accept header field.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
    ##% Including these header fields allows the UAC to determine the
    ##% features and extensions supported by the UAS for the duration of the
    ##% call, without probing.
    def answer(
        self,
        call: Call,
        now: float,
        *,
        body: bytes = b"",
        content_type: str | None = "application/sdp",
    ) -> list[UAEffect]:
        """Accept an incoming INVITE with a 200 (OK); retransmitted until the ACK."""
        server = call.server
        if server is None or server.final_sent:
            raise ValueError("answer: the call has no INVITE waiting for its final response")
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1
        ##% It MUST provide the offer
        ##% in its first non-failure reliable message back to the UAC.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
        ##% If the INVITE request contained an offer, and the UAS had not yet
        ##% sent an answer, the 2xx MUST contain an answer.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
        ##% If the INVITE did
        ##% not contain an offer, the 2xx MUST contain an offer if the UAS had
        ##% not yet sent an offer.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
        ##% If the initial offer is in an INVITE, the answer MUST be in a
        ##% reliable non-failure message from UAS back to UAC which is
        ##% correlated to that INVITE.
        negotiation = call.negotiation
        owed = negotiation.state is NegotiationState.OFFER_RECEIVED
        if not body:
            describer = self.describer
            written = (
                describer.answer(call, server.request.body) if owed else describer.offer(call)
            )
            body = written or b""
        if not body:
            what = "an answer" if server.request.body else "an offer"
            raise ValueError(f"the 2xx to an INVITE must carry {what} (RFC 3261 §13.3.1.4)")
        call.remote_body = server.request.body or None
        call.local_body = body
        if owed:
            negotiation.answer_sent(body)
        elif negotiation.state is NegotiationState.IDLE and negotiation.local is None:
            # (A description sent already, in a reliable provisional response (RFC 3262
            # §5), makes this one a copy, not a new offer.)
            negotiation.offer_sent(body)
        response = self._dialog_response(server, 200, body=body, content_type=content_type)
        if server.dialog is None:
            server.dialog = call._add_dialog(Dialog.create_uas(server.request, response))
        else:
            server.dialog.state = DialogState.CONFIRMED
        effects = self.ua.respond_with(server, response, now)
        call._start_retransmission(server, response, now)
        return effects

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.3
    ##% A 486 (Busy Here)
    ##% SHOULD be returned in such a scenario.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.3
    ##% A UAS rejecting an offer contained in an INVITE SHOULD return a 488
    ##% (Not Acceptable Here) response.  Such a response SHOULD include a
    ##% Warning header field value explaining why the offer was rejected.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.3
    ##% If the UAS knows that no
    ##% other end system will be able to accept this call, a 600 (Busy
    ##% Everywhere) response SHOULD be sent instead.
    def reject(
        self, call: Call, now: float, status: int = 486, *, warning: str | Refusal | None = None
    ) -> list[UAEffect]:
        """Refuse an incoming INVITE with a final non-2xx response (488 with a Warning...)."""
        server = call.server
        if server is None or status < 300:
            raise ValueError("reject: a 3xx-6xx response to an incoming INVITE (§13.3.1.3)")
        for dialog in list(call.dialogs.values()):
            call._remove_dialog(dialog)
        call.finish(now)
        if isinstance(warning, str):
            warning = Refusal(warning)
        headers = [] if warning is None else [("Warning", warning.warning(self.ua.sent_by_host))]
        return self.ua.respond(server, status, now, headers=headers)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.2
    ##% A
    ##% 300 (Multiple Choices), 301 (Moved Permanently) or 302 (Moved
    ##% Temporarily) response SHOULD contain a Contact header field
    ##% containing one or more URIs of new addresses to be tried.
    def redirect(
        self, call: Call, now: float, contacts: list[str], status: int = 302
    ) -> list[UAEffect]:
        """Redirect an incoming INVITE to ``contacts`` with a 3xx response."""
        server = call.server
        if server is None or not 300 <= status < 400 or not contacts:
            raise ValueError("redirect: a 3xx with contacts to an incoming INVITE (§13.3.1.2)")
        call.finish(now)
        for dialog in list(call.dialogs.values()):
            call._remove_dialog(dialog)
        headers = [("Contact", ", ".join(f"<{c}>" for c in contacts))]
        return self.ua.respond(server, status, now, headers=headers)

    def reinvite(
        self,
        call: Call,
        now: float,
        body: bytes = b"",
        content_type: str | None = "application/sdp",
        dialog: Dialog | None = None,
    ) -> list[UAEffect]:
        """Send a re-INVITE on the call's confirmed dialog (§14.1)."""
        dialog = dialog or call.established
        if dialog is None or dialog.terminated:
            raise ValueError("re-INVITE needs a confirmed dialog (RFC 3261 §14.1)")
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
        ##% Note that a UAC MUST NOT initiate a new INVITE transaction within a
        ##% dialog while another INVITE transaction is in progress in either
        ##% direction.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
        ##% If there is an ongoing INVITE client transaction, the TU MUST
        ##% wait until the transaction reaches the completed or terminated
        ##% state before initiating the new INVITE.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
        ##% If there is an ongoing INVITE server transaction, the TU MUST
        ##% wait until the transaction reaches the confirmed or terminated
        ##% state before initiating the new INVITE.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
        ##% However, a UA MAY initiate a regular transaction while an INVITE
        ##% transaction is in progress.
        # (The application must wait: this raises rather than queueing the re-INVITE.)
        if (
            call.reinvite_client is not None
            or (call.reinvite_server is not None and not call.reinvite_server.final_sent)
            or self._invite_unconfirmed(dialog)
        ):
            raise ValueError("an INVITE transaction is in progress (RFC 3261 §14.1)")
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
        ##% The To, From, Call-ID, CSeq, and Request-URI of a re-INVITE are set
        ##% following the same rules as for regular requests within an existing
        ##% dialog, described in Section 12.
        if body:
            call.negotiation.offer_sent(body)  # raises while an offer is outstanding
        owner = _ReInvite(call, dialog, body, content_type)
        call.reinvite_client, effects = self.ua.in_dialog(
            dialog,
            "INVITE",
            now,
            owner=owner,
            headers=[("Allow", ", ".join(self.ua.allow))],
            body=body,
            content_type=content_type if body else None,
        )
        return effects

    def _invite_unconfirmed(self, dialog: Dialog) -> bool:
        """An INVITE of the dialog refused by us (by this manager or the core: a 415, a 420)
        whose ACK has not come: its server transaction is still Completed (§17.2.1)."""
        for transaction in self.ua.layer.server_transactions:
            if transaction.state != State.COMPLETED or not isinstance(
                transaction, InviteServerTransaction
            ):
                continue  # (a completed non-INVITE may have let its request go)
            request = transaction.request
            if request.call_id == dialog.id.call_id and request.to.tag == dialog.id.local_tag:
                return True
        return False

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-15
    ##% The caller's UA MAY send a BYE for either
    ##% confirmed or early dialogs, and the callee's UA MAY send a BYE on
    ##% confirmed dialogs, but MUST NOT send a BYE on early dialogs.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-15
    ##% However, the callee's UA MUST NOT send a BYE on a confirmed dialog
    ##% until it has received an ACK for its 2xx response or until the server
    ##% transaction times out.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-15
    ##% A UA MUST NOT send a
    ##% BYE outside of a dialog.
    def bye(self, call: Call, now: float, dialog: Dialog | None = None) -> list[UAEffect]:
        """End the session on ``dialog`` (default: the established one) with a BYE."""
        dialog = dialog or call.established or (call.server.dialog if call.server else None)
        if dialog is None or dialog.terminated:
            raise ValueError("BYE needs a dialog (RFC 3261 §15)")
        if not call.is_uac:
            if dialog.state is DialogState.EARLY:
                raise ValueError("the callee must not send BYE on an early dialog (§15)")
            waiting = [
                r for r in call.retransmissions if not r.acked and r.server.dialog is dialog
            ]
            if waiting:
                call.bye_pending = True
                return []
        return call._send_bye(dialog, now)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-15
    ##% For the caller's UA, this would imply a
    ##% CANCEL request if the initial INVITE has not generated a final
    ##% response, and a BYE to all confirmed dialogs after a final
    ##% response.
    def hangup(self, call: Call, now: float) -> list[UAEffect]:
        """Give up the call: CANCEL before a final response, BYE after."""
        call.hangup_requested = True
        if call.is_uac and call.client is not None and call.client.final is None:
            return cancel(self.ua, call.client, now)
        effects: list[UAEffect] = []
        for dialog in list(call.dialogs.values()):
            if dialog.state is DialogState.CONFIRMED:
                effects.extend(self.bye(call, now, dialog))
        return effects

    # -- UAS side: requests from the core (the extension's hooks) -------------------

    def receive_request(self, server: ServerRequest, now: float) -> list[UAEffect] | None:
        """INVITE or BYE, outside or inside a dialog (§12.2.2 already applied)."""
        request = server.request
        if server.dialog is not None:
            return self.receive_in_dialog(server, now)
        if request.to.tag is not None:
            return None  # a dialog this UA does not know: the core answers 481
        if request.method == "INVITE":
            return self.receive_invite(server, now, server.tls)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.2
        ##% If the BYE does not match an existing dialog, the UAS core SHOULD
        ##% generate a 481
        ##% (Call/Transaction Does Not Exist) response and pass that to the
        ##% server transaction.
        return self.ua.respond(server, 481, now)

    def forget(self, call: Call) -> None:
        """Drop an ended call from :attr:`calls` (done by itself 64*T1 after it ends)."""
        if call.ended and call in self.calls:
            self.calls.remove(call)

    def options_status(self) -> int | None:
        """486 (Busy Here) while the application says it is busy, as an INVITE would get."""
        return 486 if self.busy else None

    def receive_invite(self, server: ServerRequest, now: float, tls: bool) -> list[UAEffect]:
        """A new INVITE outside any dialog (§13.3.1)."""
        ua = self.ua
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.2
        ##% The
        ##% same tag MUST be used for all responses to that request, both final
        ##% and provisional (again excepting the 100 (Trying)).
        server.to_tag = ua.new_tag()
        call = Call(self, False, server.request.call_id, server=server)
        if server.request.body:
            call.negotiation.offer_received(server.request.body)
        server.owner = call
        self.calls.append(call)
        # An offer the describer cannot read or accept (RFC 3264 with SDP) is refused
        # here, with a Warning naming why, before the application is told.
        refusal = (
            self.describer.refusal(call, server.request.body) if server.request.body else None
        )
        if refusal is not None:
            return self.reject(call, now, 488, warning=refusal)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1
        ##% If the request is an INVITE that contains an Expires header
        ##% field, the UAS core sets a timer for the number of seconds
        ##% indicated in the header field value.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1
        ##% If the invitation
        ##% expires before the UAS has generated a final response, a 487
        ##% (Request Terminated) response SHOULD be generated.
        expires = server.request.expires
        if expires is not None:

            def expire(t: float) -> list[UAEffect]:
                if server.final_sent:
                    return []
                effects = self.reject(call, t, 487)
                effects.append(CallEnded(call, None, "invitation expired"))
                return effects

            call.expires_timer = ua.call_at(now + expires, expire)
        return [IncomingCall(call, server.request)]

    def receive_in_dialog(self, server: ServerRequest, now: float) -> list[UAEffect]:
        """A BYE or re-INVITE on an existing dialog (§12.2.2 already applied)."""
        dialog = server.dialog
        if dialog is None:
            raise ValueError("receive_in_dialog needs the request's dialog (§12.2.2)")
        call = dialog.usage(INVITE_USAGE)
        if not isinstance(call, Call):
            return self.ua.respond(server, 481, now)
        if server.request.method == "BYE":
            return self._receive_bye(call, dialog, server, now)
        return self._receive_reinvite(call, dialog, server, now)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-15
    ##% When a BYE is received on a dialog, any session
    ##% associated with that dialog SHOULD terminate.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.2
    ##% Once done, the UAS SHOULD terminate the session (and therefore stop sending and
    ##% listening for media).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.2
    ##% A UAS core receiving a BYE request for an existing dialog MUST follow
    ##% the procedures of Section 12.2.2 to process the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.2
    ##% Whether or not it ends its participation on the session,
    ##% the UAS core MUST generate a 2xx response to the BYE, and MUST pass
    ##% that to the server transaction for transmission.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.2
    ##% The UAS MUST still respond to any pending requests received for that
    ##% dialog.  It is RECOMMENDED that a 487 (Request Terminated) response
    ##% be generated to those pending requests.
    def _receive_bye(
        self, call: Call, dialog: Dialog, server: ServerRequest, now: float
    ) -> list[UAEffect]:
        effects: list[UAEffect] = []
        pending = call.reinvite_server
        if pending is not None and not pending.final_sent and pending.dialog is dialog:
            effects.extend(self.ua.respond(pending, 487, now))
        initial = call.server
        if not call.is_uac and initial is not None and not initial.final_sent:
            # a BYE on the early dialog of an INVITE still ringing (§15: the caller MAY)
            effects.extend(self.ua.respond(server, 200, now))
            effects.extend(self.reject(call, now, 487))
            effects.append(CallEnded(call, dialog, "remote BYE"))
            return effects
        effects.extend(self.ua.respond(server, 200, now))
        for retransmission in call.retransmissions:
            if retransmission.server.dialog is dialog:
                retransmission.acked = True
        call._remove_dialog(dialog)
        if not any(d.state is DialogState.CONFIRMED for d in call.dialogs.values()):
            call.finish(now)
        effects.append(CallEnded(call, dialog, "remote BYE"))
        return effects

    def _receive_reinvite(
        self, call: Call, dialog: Dialog, server: ServerRequest, now: float
    ) -> list[UAEffect]:
        ua = self.ua
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
        ##% A UAS that receives an INVITE on a dialog while an INVITE it had sent
        ##% on that dialog is in progress MUST return a 491 (Request Pending)
        ##% response to the received INVITE.
        mine = call.reinvite_client
        if mine is not None and mine.dialog is dialog and mine.final is None:
            return ua.respond(server, 491, now)
        pending = call.reinvite_server
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
        ##% A UAS that receives a second INVITE before it sends the final
        ##% response to a first INVITE with a lower CSeq sequence number on the
        ##% same dialog MUST return a 500 (Server Internal Error) response to the
        ##% second INVITE and MUST include a Retry-After header field with a
        ##% randomly chosen value of between 0 and 10 seconds.
        if not call.is_uac and call.server is not None and not call.server.final_sent:
            pending = call.server  # the initial INVITE, still ringing on this early dialog
        if pending is not None and not pending.final_sent and pending.dialog is dialog:
            response = server.request.make_response(500, to_tag=server.to_tag)
            response.headers.add("Retry-After", str(ua.rng.randint(0, 10)))
            return ua.respond_with(server, response, now)
        call.reinvite_server = server
        server.owner = call
        if server.request.body:
            call.description_received(server.request.body, may_offer=True)
        effects: list[UAEffect] = []
        if self.auto_accept_reinvite:
            effects.extend(self.answer_reinvite(call, now))
        effects.append(ReinviteReceived(call, dialog, server.request))
        return effects

    def answer_reinvite(
        self,
        call: Call,
        now: float,
        status: int = 200,
        *,
        body: bytes | None = None,
        warning: str | None = None,
    ) -> list[UAEffect]:
        """Answer the pending re-INVITE: 2xx (target refresh, retransmitted) or a rejection."""
        server = call.reinvite_server
        dialog = server.dialog if server is not None else None
        if server is None or dialog is None or server.final_sent:
            raise ValueError("no re-INVITE is waiting for an answer (RFC 3261 §14.2)")
        ua = self.ua
        negotiation = call.negotiation
        owed = negotiation.state is NegotiationState.OFFER_RECEIVED
        refusal = None if warning is None else Refusal(warning)
        if status < 300 and body is None:
            if owed:
                # The describer is the policy that decides (RFC 3264 with SDP: what it
                # cannot read or accept gets a 488 saying why).
                offer = negotiation.remote or b""
                body = self.describer.answer(call, offer)
                if body is None:
                    status = 488
                    refusal = refusal or self.describer.refusal(call, offer)
                    refusal = refusal or Refusal("offer not acceptable")
            else:
                body = self.describer.offer(call)
        if status >= 300:
            negotiation.rejected()
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
            ##% If the new session description is not acceptable, the UAS can reject
            ##% it by returning a 488 (Not Acceptable Here) response for the re-
            ##% INVITE.  This response SHOULD include a Warning header field.
            headers = [] if refusal is None else [("Warning", refusal.warning(ua.sent_by_host))]
            return ua.respond(server, status, now, headers=headers)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2
        ##% For dialogs that have been established with an
        ##% INVITE, the only target refresh request defined is re-INVITE (see
        ##% Section 14).
        dialog.update_target_from(server.request)
        if body is not None:
            call.local_body = body
        if owed:
            negotiation.answer_sent(call.local_body)
        elif call.local_body and negotiation.state is NegotiationState.IDLE:
            negotiation.offer_sent(call.local_body)
        response = self._dialog_response(
            server, status, body=call.local_body, content_type=call.content_type
        )
        effects = ua.respond_with(server, response, now)
        call._start_retransmission(server, response, now)
        return effects

    def receive_ack(self, request: Request, now: float) -> list[UAEffect]:
        """An ACK that reached the core: the ACK for a 2xx (§13.3.1.4, §17.2.3)."""
        dialog = self.ua.dialogs.get(dialog_id_of(request, uac=False))
        call = None if dialog is None else dialog.usage(INVITE_USAGE)
        if isinstance(call, Call):
            effects = call.acknowledged(request, now)
            if effects is not None:
                return effects
        for call in self.calls:
            effects = call.acknowledged(request, now)
            if effects is not None:
                return effects
        return None

    # -- helpers ---------------------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
    ##% When a UAS responds to a request with a response that establishes a
    ##% dialog (such as a 2xx to INVITE), the UAS MUST copy all Record-Route
    ##% header field values from the request into the response (including the
    ##% URIs, URI parameters, and any Record-Route header field parameters,
    ##% whether they are known or unknown to the UAS) and MUST maintain the
    ##% order of those values.  The UAS MUST add a Contact header field to
    ##% the response.
    def _dialog_response(
        self,
        server: ServerRequest,
        status: int,
        *,
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Response:
        ua = self.ua
        request = server.request
        response = request.make_response(status, to_tag=server.to_tag)
        for value in request.headers.get_all("Record-Route"):
            response.headers.add("Record-Route", value)
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
        ##% If the request that initiated the dialog contained a
        ##% SIPS URI in the Request-URI or in the top Record-Route header field
        ##% value, if there was any, or the Contact header field if there was no
        ##% Record-Route header field, the Contact header field in the response
        ##% MUST be a SIPS URI.
        record_route = request.record_route
        if record_route:
            peer = record_route[0].uri
        else:
            contacts = request.contact
            peer = contacts[0].uri if contacts and not contacts[0].is_star else None
        secure = any(isinstance(uri, SipURI) and uri.is_secure for uri in (request.uri, peer))
        response.headers.add("Contact", str(ua.contact(secure)))
        if status >= 200:
            response.headers.add("Allow", ", ".join(ua.allow))
            response.headers.add("Supported", ", ".join(ua.supported))
            response.headers.add("Accept", ", ".join(ua.accept))
        if body:
            # A session body is SDP unless the call says otherwise (§13.2.1).
            response.set_body(body, content_type or "application/sdp")
        return response
