"""CANCEL (RFC 3261 §9): building and sending it as UAC, answering it as UAS.

As UAC, :func:`cancel` builds the CANCEL from the INVITE it cancels (§9.1) and
sends it only once a provisional response has arrived; before that it is held
and :meth:`CancelHandling.after_provisional` lets it go.  As UAS,
:func:`receive_cancel` finds the transaction the CANCEL matches (§9.2), answers
the CANCEL with 200 and tells the owner of the cancelled request, which answers
it (an INVITE session with 487 and the end of the call); a request nobody owns
gets the 487 from here.

:class:`CancelHandling` is the extension that plugs both into the UA core; it
uses only the core's public API, as any extension would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .extension import (
    ClientRequest,
    Owner,
    ServerRequest,
    UAEffect,
    UAExtension,
    local_response,
)
from .headers import Via
from .message import Request, Response

if TYPE_CHECKING:  # pragma: no cover
    from .ua_core import UserAgent

__all__ = ["CancelHandling", "build_cancel", "cancel", "receive_cancel", "send_pending_cancel"]


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##% The Request-URI, Call-ID, To, the numeric part of CSeq, and From header
##% fields in the CANCEL request MUST be identical to those in the
##% request being cancelled, including tags.  A CANCEL constructed by a
##% client MUST have only a single Via header field value matching the
##% top Via value in the request being cancelled.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##% However, the method part of the CSeq header field MUST have a value
##% of CANCEL.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##% If the request being cancelled contains a Route header field, the
##% CANCEL request MUST include that Route header field's values.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##% The CANCEL request MUST NOT contain any Require or Proxy-Require
##% header fields.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
##% As discussed below, a CANCEL request
##% will have the same value of the branch parameter as the request it
##% cancels.
def build_cancel(request: Request) -> Request:
    """The CANCEL for ``request`` (§9.1)."""
    top_via: Via = request.top_via
    return Request.build(
        "CANCEL",
        request.uri.copy(),
        via=str(top_via),
        from_=request.headers.get("From"),
        to=request.headers.get("To"),
        call_id=request.call_id,
        cseq=request.cseq.number,
        max_forwards=70,
        headers=[("Route", value) for value in request.headers.get_all("Route")],
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##% A CANCEL request SHOULD NOT be sent to cancel a request other than
##% INVITE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##% If no provisional response has been received, the CANCEL request MUST
##% NOT be sent; rather, the client MUST wait for the arrival of a
##% provisional response before sending the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##% If the original
##% request has generated a final response, the CANCEL SHOULD NOT be
##% sent, as it is an effective no-op, since CANCEL has no effect on
##% requests that have already generated a final response.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.6
##% UACs SHOULD NOT send CANCEL requests for SUBSCRIBE or NOTIFY
##% transactions.
def cancel(ua: UserAgent, client: ClientRequest, now: float) -> list[UAEffect]:
    """Cancel the INVITE of ``client``: now if a provisional response came, else later."""
    if client.method != "INVITE":
        raise ValueError("CANCEL is only for INVITE requests (RFC 3261 §9.1)")
    if client.final is not None or client.cancel_requested:
        return []
    client.cancel_requested = True
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
    ##% Once the CANCEL is constructed, the client SHOULD check whether it
    ##% has received any response (provisional or final) for the request
    ##% being cancelled (herein referred to as the "original request").
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
    ##% If there is no
    ##% final response for the original request in 64*T1 seconds (T1 is
    ##% defined in Section 17.1.1.1), the client SHOULD then consider the
    ##% original transaction cancelled and SHOULD destroy the client
    ##% transaction handling the original request.
    ua.call_at(now + 64 * ua.timers.T1, lambda t: _give_up(ua, client, t))
    if not client.provisional:
        return []
    return _send(ua, client, now)


def send_pending_cancel(ua: UserAgent, client: ClientRequest, now: float) -> list[UAEffect]:
    """Send a CANCEL that was held back for want of a provisional response."""
    if client.cancel_requested and client.cancel is None and client.final is None:
        return _send(ua, client, now)
    return []


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##% When the
##% client decides to send the CANCEL, it creates a client transaction
##% for the CANCEL and passes it the CANCEL request along with the
##% destination address, port, and transport.  The destination address,
##% port, and transport for the CANCEL MUST be identical to those used to
##% send the original request.
def _send(ua: UserAgent, client: ClientRequest, now: float) -> list[UAEffect]:
    request = build_cancel(client.request)
    client.cancel = request
    # Same Request-URI and Route as the request it cancels: the same destination (§8.1.2).
    _, effects = ua.send(request, now, owner=_CancelOwner(), authorize=False)
    return effects


def _give_up(ua: UserAgent, client: ClientRequest, now: float) -> list[UAEffect]:
    if client.final is not None:
        return []
    response = local_response(client.request, 487)
    client.final = response
    return ua.deliver(client, response, now)


class _CancelOwner(Owner):
    """The response to a CANCEL itself tells the UAC nothing it acts on (§9.1)."""


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##% If the UAS did not find a matching transaction for the CANCEL
##% according to the procedure above, it SHOULD respond to the CANCEL
##% with a 481 (Call Leg/Transaction Does Not Exist).
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##% If the original request was an INVITE, the UAS
##% SHOULD immediately respond to the INVITE with a 487 (Request
##% Terminated).
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##% Regardless of the method of the original request, as long as the
##% CANCEL matched an existing transaction, the UAS answers the CANCEL
##% request itself with a 200 (OK) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##% This response is
##% constructed following the procedures described in Section 8.2.6
##% noting that the To tag of the response to the CANCEL and the To tag
##% in the response to the original request SHOULD be the same.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9
##% In that usage, a UAS
##% that receives a CANCEL request for an INVITE, but has not yet sent a
##% final response, would "stop ringing", and then respond to the INVITE
##% with a specific error response (a 487).
def receive_cancel(ua: UserAgent, server: ServerRequest, now: float) -> list[UAEffect]:
    """Answer a CANCEL (§9.2) and, for a pending INVITE, answer that with 487."""
    target = ua.layer.find_cancel_target(server.request)
    original = ua.server_request(target) if target is not None else None
    if original is None:
        return ua.respond(server, 481, now)
    server.to_tag = original.to_tag
    effects = ua.respond(server, 200, now)
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
    ##% If it has, the CANCEL
    ##% request has no effect on the processing of the original request, no
    ##% effect on any session state, and no effect on the responses generated
    ##% for the original request.
    ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.6
    ##% If a User Agent Server (UAS) receives a CANCEL request that matches a
    ##% known SUBSCRIBE or NOTIFY transaction, it MUST respond to the CANCEL
    ##% request, but otherwise ignore it.
    ##= https://www.rfc-editor.org/rfc/rfc6665#section-4.6
    ##% In particular, the CANCEL request MUST NOT
    ##% affect processing of the SUBSCRIBE or NOTIFY request in any way.
    if original.final_sent or original.request.method != "INVITE":
        return effects
    owner = original.owner
    answered = owner.on_cancel(original, now) if isinstance(owner, Owner) else None
    effects.extend(ua.respond(original, 487, now) if answered is None else answered)
    return effects


class CancelHandling(UAExtension):
    """CANCEL (§9) as the UA core's extension: it answers CANCELs and sends held ones."""

    name = "cancel"
    methods = ("CANCEL",)

    def receive_request(self, server: ServerRequest, now: float) -> list[UAEffect] | None:
        return receive_cancel(self.ua, server, now)

    def after_provisional(
        self, client: ClientRequest, response: Response, now: float
    ) -> list[UAEffect]:
        return send_pending_cancel(self.ua, client, now)
