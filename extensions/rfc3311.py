"""UPDATE: changing a session before and after it is answered (RFC 3311 §4, §5).

Install :class:`UpdateExtension` on a UA; UPDATE then joins Allow (in the INVITE, in
reliable provisional responses and in the 2xx: §4).  ``update(call, now, body)``
sends an UPDATE on the call's early or confirmed dialog (§5.1), with an offer when
``body`` is given: the call's negotiation refuses it while an offer is outstanding.
A received UPDATE is answered at once (§5.2): 491 when our own offer is
outstanding, 500 with Retry-After when the peer's is not answered yet, otherwise the
describer's answer in the 2xx (488 when it refuses).  A 491 to our UPDATE is retried
after the §14.1 back-off of RFC 3261 (§5.3).  UPDATE is a target refresh request:
both its 2xx and the request update the dialog's remote target.
"""

from __future__ import annotations

from dataclasses import dataclass

from rfc3261.dialog import Dialog, DialogState
from rfc3261.extension import ClientRequest, Owner, ServerRequest, UAEffect, UAEvent, UAExtension
from rfc3261.message import Request, Response
from rfc3261.offer_answer import NegotiationState, Refusal
from rfc3261.session import INVITE_USAGE, Call

__all__ = ["UpdateExtension", "UpdateReceived", "UpdateResult"]


@dataclass
class UpdateReceived(UAEvent):
    """The peer's UPDATE, answered already; ``changed``: its description was new."""

    call: Call
    dialog: Dialog
    request: Request
    changed: bool


@dataclass
class UpdateResult(UAEvent):
    """The final response to our UPDATE."""

    call: Call
    dialog: Dialog
    response: Response


class UpdateExtension(UAExtension):
    """RFC 3311 on one UA: sends and answers UPDATE in early and confirmed dialogs."""

    name = "update"
    ##= https://www.rfc-editor.org/rfc/rfc3311#section-4
    ##% However, a UAC compliant to this specification SHOULD also include an
    ##% Allow header field in the INVITE request, listing the method UPDATE,
    ##% to indicate its ability to receive an UPDATE request.
    ##= https://www.rfc-editor.org/rfc/rfc3311#section-4
    ##% and a 2xx response SHOULD
    ##% contain an Allow header field listing the UPDATE method.
    # (The INVITE's and the 2xx's Allow list the UA's methods, this one's included.)
    methods = ("UPDATE",)

    ##= https://www.rfc-editor.org/rfc/rfc3311#section-4
    ##% When a UAS compliant to this specification receives an INVITE request
    ##% for a new dialog, and generates a reliable provisional response
    ##% containing SDP, that response SHOULD contain an Allow header field
    ##% that lists the UPDATE method.
    ##= https://www.rfc-editor.org/rfc/rfc3311#section-4
    ##% An unreliable provisional response MAY contain an Allow header field
    ##% listing the UPDATE method
    def outgoing_response(self, response: Response, server: ServerRequest | None) -> None:
        if server is None or server.request.method != "INVITE":
            return
        if 100 < response.status < 200 and "Allow" not in response.headers:
            response.headers.set("Allow", ", ".join(self.ua.allow))

    # -- sending (§5.1, §5.3) ---------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3311#section-5.1
    ##% It
    ##% MAY be sent for both early and confirmed dialogs, and MAY be sent by
    ##% either caller or callee.
    ##= https://www.rfc-editor.org/rfc/rfc3311#section-5.1
    ##% The UAC MAY add optional headers for the UPDATE request, as defined
    ##% in Tables 1 and 2.
    def update(
        self,
        call: Call,
        now: float,
        body: bytes = b"",
        *,
        dialog: Dialog | None = None,
        content_type: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> list[UAEffect]:
        """Send an UPDATE on ``dialog`` (default: the call's), with an offer if ``body``."""
        dialog = dialog or _dialog_of(call)
        if dialog is None or dialog.terminated:
            raise ValueError("UPDATE needs an early or confirmed dialog (RFC 3311 §5.1)")
        # (The negotiation raises OfferAnswerError for an offer while one is outstanding:
        # the caller's and callee's conditions of RFC 3311 §5.1 all come to that.)
        if body:
            call.negotiation.offer_sent(body)
        content_type = content_type or call.content_type or "application/sdp"
        ##= https://www.rfc-editor.org/rfc/rfc3311#section-5.1
        ##% If a UA uses an UPDATE request or response to modify the remote
        ##% target while an INVITE transaction is in progress, and it is a UAS
        ##% for that INVITE transaction, it MUST place the same value into the
        ##% Contact header field of the 2xx to the INVITE that it placed into the
        ##% UPDATE request or response.
        # (The UA's Contact is one value, ua.contact(): the 2xx to the INVITE carries it too.)
        _, effects = self.ua.in_dialog(
            dialog,
            "UPDATE",
            now,
            owner=_Update(self, call, dialog, body, content_type),
            headers=headers,
            body=body,
            content_type=content_type if body else None,
            contact=True,  # a target refresh request (RFC 3261 §12.2.1.1)
        )
        return effects

    # -- receiving (§5.2) -----------------------------------------------------------------

    def receive_request(self, server: ServerRequest, now: float) -> list[UAEffect] | None:
        """An UPDATE: in a dialog it modifies the session; outside one it matches nothing."""
        dialog = server.dialog
        call = None if dialog is None else dialog.usage(INVITE_USAGE)
        if dialog is None or not isinstance(call, Call):
            return self.ua.respond(server, 481, now)
        ua, body, negotiation = self.ua, server.request.body, call.negotiation
        ##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
        ##% If an UPDATE is received that contains an offer, and the UAS has
        ##% generated an offer (in an UPDATE, PRACK or INVITE) to which it has
        ##% not yet received an answer, the UAS MUST reject the UPDATE with a 491
        ##% response.
        if body and negotiation.state is NegotiationState.OFFER_SENT:
            return ua.respond(server, 491, now)
        ##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
        ##% Similarly, if an UPDATE is received that contains an
        ##% offer, and the UAS has received an offer (in an UPDATE, PRACK, or
        ##% INVITE) to which it has not yet generated an answer, the UAS MUST
        ##% reject the UPDATE with a 500 response, and MUST include a Retry-After
        ##% header field with a randomly chosen value between 0 and 10 seconds.
        if body and negotiation.state is NegotiationState.OFFER_RECEIVED:
            retry_after = [("Retry-After", str(ua.rng.randint(0, 10)))]
            return ua.respond(server, 500, now, headers=retry_after)
        ##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
        ##% If a UA receives an UPDATE for an existing dialog, it MUST check any
        ##% version identifiers in the session description or, if there are no
        ##% version identifiers, the content of the session description to see if
        ##% it has changed.
        # (Descriptions are opaque to the core: the whole content is compared.)
        changed = bool(body) and body != negotiation.remote
        answer = b""
        if body:
            negotiation.offer_received(body)
            written = ua.sessions.describer.answer(call, body)
            ##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
            ##% This response SHOULD include a Warning header field.
            if written is None:
                negotiation.rejected()
                why = ua.sessions.describer.refusal(call, body) or Refusal("offer not acceptable")
                warning = [("Warning", why.warning(ua.sent_by_host))]
                return ua.respond(server, 488, now, headers=warning)
            negotiation.answer_sent(written)
            call.local_body = answer = written
        dialog.update_target_from(server.request)  # a target refresh request (§5.1)
        ##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
        ##% If the session description has changed, the UAS MUST adjust the
        ##% session parameters accordingly and generate an answer in the 2xx
        ##% response.
        ##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
        ##% However, unlike a re-INVITE, the UPDATE MUST be
        ##% responded to promptly, and therefore the user cannot generally be
        ##% prompted to approve the session changes.
        contact = [("Contact", str(ua.contact(dialog.secure)))]
        content_type = call.content_type or "application/sdp"
        effects = ua.respond(
            server,
            200,
            now,
            headers=contact,
            body=answer,
            content_type=content_type if answer else None,
        )
        effects.append(UpdateReceived(call, dialog, server.request, changed))
        return effects


def _dialog_of(call: Call) -> Dialog | None:
    """The call's confirmed dialog, else its early one (as UAS: the INVITE's)."""
    if call.established is not None:
        return call.established
    if call.server is not None and call.server.dialog is not None:
        return call.server.dialog
    early = [d for d in call.dialogs.values() if d.state is DialogState.EARLY]
    return early[0] if early else None


@dataclass(eq=False)
class _Update(Owner):
    """Our UPDATE: its answer, its target refresh, and the 491 back-off (§5.3)."""

    extension: UpdateExtension
    call: Call
    dialog: Dialog
    body: bytes
    content_type: str

    def on_response(self, client: ClientRequest, response: Response, now: float) -> list[UAEffect]:
        status, call, negotiation = response.status, self.call, self.call.negotiation
        if status < 200:
            return []
        effects: list[UAEffect] = [UpdateResult(call, self.dialog, response)]
        if status < 300:
            if self.body and response.body:
                negotiation.answer_received(response.body)
            self.dialog.update_target_from(response)  # the 2xx refreshes the target
            return effects
        ##= https://www.rfc-editor.org/rfc/rfc3311#section-5.3
        ##% If a UA receives a non-2xx final response to a UPDATE, the session
        ##% parameters MUST remain unchanged, as if no UPDATE had been issued.
        if self.body:
            negotiation.rejected()
        ##= https://www.rfc-editor.org/rfc/rfc3311#section-5.3
        ##% If a UAC receives a 491 response to a UPDATE, it SHOULD start a timer
        ##% with a value T chosen as follows:
        ##= https://www.rfc-editor.org/rfc/rfc3311#section-5.3
        ##% When the timer fires, the UAC SHOULD attempt the UPDATE once more, if
        ##% it still desires for that session modification to take place.
        if status == 491:
            delay = call.glare_delay()  # the §14.1 timer of RFC 3261, as §5.3 repeats it

            def retry(t: float) -> list[UAEffect]:
                if call.ended or self.dialog.terminated or call.negotiation.offer_pending:
                    return []
                return self.extension.update(
                    call, t, self.body, dialog=self.dialog, content_type=self.content_type
                )

            call.ua.call_at(now + delay, retry)
        return effects
