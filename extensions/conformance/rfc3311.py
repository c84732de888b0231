"""RFC 3311 on the wire: a UAS answers UPDATE in a dialog, and 481 outside one (§5.2)."""

from __future__ import annotations

import re

from conformance.messages import ack_for, unique
from conformance.model import Context, case, describe


def _update_supported(ctx: Context) -> None:
    if "UPDATE" not in {m.upper() for m in ctx.profile.methods}:
        ctx.not_applicable("the profile does not list UPDATE among the target's methods")


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
##= type=test
##% If the UAS wishes to reject the request because it does not wish to
##% recreate the dialog, it MUST respond to the request with a 481
##% (Call/Transaction Does Not Exist) status code and pass that to the
##% server transaction.
@case("rfc3311-update-unknown-dialog-481", roles=("uas",), level="MUST")
def update_unknown_dialog(ctx: Context) -> None:
    """An UPDATE in a dialog the target does not know gets 481."""
    _update_supported(ctx)
    link = ctx.link()
    # the control: the profile's probe to the target's user succeeds (no other refusal)
    probe = ctx.request(ctx.profile.probe or "OPTIONS", link)
    ctx.control(link, probe)
    update = ctx.request("UPDATE", link)
    update.set("To", f"{update.get('To')};tag={unique('gone')}")
    final, _ = ctx.transaction(link, update)
    final = ctx.require_final(final, "response to UPDATE")
    ctx.check(final.status == 481, "481 (Call/Transaction Does Not Exist)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
##= type=test
##% If the session description has changed, the UAS MUST adjust the
##% session parameters accordingly and generate an answer in the 2xx
##% response.
@case(
    "rfc3311-update-answered",
    roles=("uas",),
    level="MUST",
    preamble="a confirmed dialog (INVITE, 2xx, ACK)",
    no_control="the UPDATE in the preamble's dialog is the exchange under test",
)
def update_answered(ctx: Context) -> None:
    """An UPDATE with a new offer in a confirmed dialog gets a 2xx with an answer."""
    _update_supported(ctx)
    link = ctx.link()
    with ctx.preamble("a confirmed dialog (INVITE, 2xx, ACK)"):
        invite = ctx.request("INVITE", link, body=_SDP)
        final, _ = ctx.transaction(link, invite)
        final = ctx.require_final(final, "final response to INVITE")
        if not 200 <= (final.status or 0) < 300:
            ctx.finish_invite(link, invite, final)
            ctx.inconclusive(f"the INVITE was not accepted ({describe(final)})")
        link.send(bytes(ack_for(invite, final, ctx.target)), "ACK")
    dialog = ctx.call(link, invite, final)
    update = ack_for(invite, final, ctx.target)
    update.method = "UPDATE"
    update.set(
        "Via", re.sub(r"branch=[^;,\s]+", f"branch={unique('z9hG4bK')}", update.get("Via") or "")
    )
    dialog.cseq += 1
    update.set("CSeq", f"{dialog.cseq} UPDATE")
    update.set("Contact", invite.get("Contact") or f"<sip:tester@{link.sent_by}>")
    update.set("Content-Type", "application/sdp")
    update.body = _SDP.replace(b"1 1 IN", b"1 2 IN")
    got, _ = ctx.transaction(link, update)
    got = ctx.require_final(got, "response to UPDATE")
    ctx.check(200 <= (got.status or 0) < 300, "2xx to the UPDATE", describe(got))
    ctx.check(bool(got.body), "an answer in the 2xx", describe(got))


_SDP = (
    b"v=0\r\no=tester 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)
