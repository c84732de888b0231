"""RFC 3262 on the wire: a UAS and 100rel (§3): Require honoured or refused, PRACK matched."""

from __future__ import annotations

from conformance.messages import unique
from conformance.model import Context, case, describe


def _prack_supported(ctx: Context) -> None:
    if "PRACK" not in {m.upper() for m in ctx.profile.methods}:
        ctx.not_applicable("the profile does not list PRACK among the target's methods")


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% If a PRACK request is received by the UA core that does not match any
##% unacknowledged reliable provisional response, the UAS MUST respond to
##% the PRACK with a 481 response.
@case("rfc3262-prack-unmatched-481", roles=("uas",), level="MUST")
def prack_unmatched(ctx: Context) -> None:
    """A PRACK in a dialog the target does not know gets 481."""
    _prack_supported(ctx)
    link = ctx.link()
    # the control: the profile's probe to the target's user succeeds (no other refusal)
    probe = ctx.request(ctx.profile.probe or "OPTIONS", link)
    ctx.control(link, probe)
    prack = ctx.request("PRACK", link, extra=[("RAck", "1 1 INVITE")])
    prack.set("To", f"{prack.get('To')};tag={unique('gone')}")
    final, _ = ctx.transaction(link, prack)
    final = ctx.require_final(final, "response to PRACK")
    ctx.check(final.status == 481, "481 (Call/Transaction Does Not Exist)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% If the UAS is unwilling to do so, it MUST reject the initial
##% request with a 420 (Bad Extension) and include an Unsupported header
##% field containing the option tag 100rel.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% In addition, it MUST contain a Require header field containing the
##% option tag 100rel, and MUST include an RSeq header field.
@case(
    "rfc3262-require-100rel",
    roles=("uas",),
    level="MUST",
    no_control="judged on what the target sends (420, or reliable provisionals), not on a refusal",
)
def require_100rel(ctx: Context) -> None:
    """An INVITE requiring 100rel: 420 + Unsupported, or reliable provisional responses."""
    link = ctx.link()
    invite = ctx.request("INVITE", link, body=_SDP, extra=[("Require", "100rel")])
    final, provisional = ctx.transaction(link, invite, timeout=4.0)
    ctx.finish_invite(link, invite, final)
    if final is not None and final.status == 420:
        tags = final.option_tags("Unsupported")
        ctx.check("100rel" in tags, "Unsupported: 100rel", f"Unsupported: {', '.join(tags)}")
        return
    for response in provisional:
        if (response.status or 0) <= 100:
            continue
        rseq = (response.get("RSeq") or "").strip()
        ctx.check(
            "100rel" in response.option_tags("Require") and rseq.isdigit(),
            "Require: 100rel and an RSeq in each 101-199 response",
            describe(response),
            requirement=1,
        )
    if final is None:
        ctx.inconclusive("no final response (the target may wait for a PRACK)")


_SDP = (
    b"v=0\r\no=tester 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)
