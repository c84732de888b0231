"""RFC 3581 (rport) seen at a UAC, a client in the sense of §3: an rport in its top Via has
no value; it takes a response at the source address and port of its request, and at the
sent-by port of its Via as well.  A final response it took shows by its ACK.  The runner
plays the UAS (`conformance.trigger.Peer`).
"""

from __future__ import annotations

from conformance.cases.uac_transaction import INVITED
from conformance.model import Context, case
from conformance.sipmsg import param
from conformance.target import parse_target
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer

ORDER = 63  # after uac_rfc6026


##= https://www.rfc-editor.org/rfc/rfc3581#section-3
##= type=test
##% This parameter MUST have no value; it serves as a flag to indicate to the server that
##% this extension is supported and requested for the transaction.
@case(
    "uac-3581-rport-valueless", roles=UAC, timeout=15, preamble=INVITED, no_control=RUNNER_ANSWERS
)
def rport_valueless(ctx: Context) -> None:
    """The INVITE's top Via: rport, when there, has no value (the server fills it in)."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    top = invite.get_all("Via")[0]
    peer.answer(invite, addr, 486)
    peer.request("ACK", 2.0, invite.call_id)
    rport = param(top, "rport")
    if rport is None:
        ctx.not_applicable("no rport in the Via (a MAY of RFC 3581 §3)")
    ctx.check(rport == "", "rport without a value", top)


##= https://www.rfc-editor.org/rfc/rfc3581#section-3
##= type=test
##% When the client sends the request, if the request is sent using UDP, the client MUST be
##% prepared to receive the response on the same IP address and port it used to populate the
##% source IP address and source port of the request.
@case(
    "uac-3581-response-at-source",
    roles=UAC,
    transports=("udp",),
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def response_at_source(ctx: Context) -> None:
    """A 486 sent to the INVITE's source address and port is taken: it gets its ACK."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 486, note="486 to the source address and port")
    ack = peer.request("ACK", 3.0, invite.call_id)
    ctx.check(ack is not None, f"the ACK of the 486 sent to {addr[0]}:{addr[1]}", "none")


##= https://www.rfc-editor.org/rfc/rfc3581#section-3
##= type=test
##% For backwards compatibility, the client MUST still be prepared to receive a response on
##% the port indicated in the sent-by field of the topmost Via header field value, as
##% specified in Section 18.1.1 of SIP [1].
@case(
    "uac-3581-response-at-sent-by",
    roles=UAC,
    transports=("udp",),
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def response_at_sent_by(ctx: Context) -> None:
    """A 486 sent to the sent-by of the INVITE's top Via (5060 when it names no port), not
    to its source, is taken all the same: it gets its ACK."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    top = invite.get_all("Via")[0]
    sent_by = top.split(None, 1)[1].split(";", 1)[0].strip()
    try:
        where = parse_target(f"udp:{sent_by if ':' in sent_by else sent_by + ':5060'}").address
    except ValueError:
        where = ("", 0)
    if where[0] not in ("127.0.0.1", "::1"):
        peer.answer(invite, addr, 486)
        peer.request("ACK", 2.0, invite.call_id)
        ctx.not_applicable(f"the sent-by {sent_by} is not a loopback address")
    peer.answer(invite, where, 486, note=f"486 to the sent-by {sent_by}")
    ack = peer.request("ACK", 3.0, invite.call_id)
    if ack is None:  # end the INVITE at its source, for a clean target
        peer.answer(invite, addr, 486)
        peer.request("ACK", 2.0, invite.call_id)
    ctx.check(ack is not None, f"the ACK of the 486 sent to {sent_by}", "none")
