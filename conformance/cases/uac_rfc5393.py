"""RFC 5393 seen at a UAC: a Max-Breadth it puts on its requests is 60 (§5.3.4).  The
runner plays the UAS (`conformance.trigger.Peer`)."""

from __future__ import annotations

from conformance.cases.uac_transaction import INVITED
from conformance.model import Context, case
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer

ORDER = 63


##= https://www.rfc-editor.org/rfc/rfc5393#section-5.3.4
##= type=test
##% If so, this value is RECOMMENDED to be 60.
@case(
    "uac-5393-max-breadth-60",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def max_breadth_60(ctx: Context) -> None:
    """The INVITE's Max-Breadth, when it has one, is 60."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    values = invite.get_all("Max-Breadth")
    peer.answer(invite, addr, 486)
    peer.request("ACK", 2.0, invite.call_id)
    if not values:
        ctx.not_applicable("no Max-Breadth on the INVITE (a MAY of RFC 5393 §5.3.4)")
    ctx.should([v.strip() for v in values] == ["60"], "Max-Breadth: 60", ", ".join(values))
