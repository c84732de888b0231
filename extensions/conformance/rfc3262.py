"""RFC 3262 on the wire: a UAS and 100rel (§3): Require honoured or refused, PRACK matched."""

from __future__ import annotations

import time
from typing import Any

from conformance.cases.uac_dialog import CALLED, _Call, sdp_offer
from conformance.cases.uac_retry import digest_challenge, verify_digest
from conformance.cases.uac_session import INVITED
from conformance.cases.uas import _call
from conformance.messages import Outgoing, ack_for, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message, param
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer, sdp_answer
from conformance.wire import Link


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


def _ringing_user(ctx: Context) -> str:
    _prack_supported(ctx)
    if not ctx.profile.ringing_user:
        ctx.not_applicable("the profile names no ringing user (an INVITE left ringing)")
    return ctx.profile.ringing_user


def _rseq(response: Message) -> int | None:
    value = (response.get("RSeq") or "").strip()
    return int(value) if value.isdigit() else None


def _reliable(response: Message) -> bool:
    return "100rel" in response.option_tags("Require") or response.get("RSeq") is not None


def _first_reliable(
    ctx: Context, link: Link, invite: Outgoing, timeout: float
) -> tuple[Message | None, list[Message]]:
    """Send ``invite``; the first provisional response above 100 (with the ones before it),
    or None with every response seen when none came (a final one included)."""
    link.send(bytes(invite))
    seen: list[Message] = []
    end = time.monotonic() + timeout
    while (left := end - time.monotonic()) > 0:
        got = link.expect(
            lambda m: m.is_response and m.branch == invite.branch,
            timeout=left,
            retransmit=None if ctx.target.reliable or seen else (lambda: link.send(bytes(invite))),
            interval=ctx.profile.t1,
        )
        if got is None:
            break
        seen.append(got)
        status = got.status or 0
        if status >= 200:
            ctx.finish_invite(link, invite, got)
            return None, seen
        if status > 100:
            ctx.ringing.append((link, invite))  # the postamble CANCELs it
            return got, seen
    if seen:
        ctx.ringing.append((link, invite))
    return None, seen


def _settled(
    ctx: Context, link: Link, invite: Outgoing, final: Message, cseq: int | None = None
) -> None:
    """``invite`` got its final response: no CANCEL for it in the postamble; ACK it, and
    hang up a call a 2xx set up (with a CSeq above ``cseq``, the PRACKs' one)."""
    if (link, invite) in ctx.ringing:
        ctx.ringing.remove((link, invite))
    if not 200 <= (final.status or 0) < 300:
        ctx.finish_invite(link, invite, final)
        return
    dialog = ctx.call(link, invite, final)
    dialog.cseq = max(dialog.cseq, cseq or 0)
    link.send(bytes(ack_for(invite, final, ctx.target)), "ACK")
    ctx.hang_up(dialog)


def _forget(link: Link, invite: Outgoing, rseq: int | None) -> None:
    """Drop the copies of the 18x with ``rseq`` received so far (still queued on ``link``)."""
    link.pending = [
        m
        for m in link.pending
        if not (m.is_response and m.branch == invite.branch and _rseq(m) == rseq)
    ]


def _prack(ctx: Context, link: Link, invite: Outgoing, provisional: Message) -> Outgoing:
    """A PRACK for ``provisional`` (§7.1): in its early dialog, RAck naming its RSeq."""
    prack = ack_for(invite, provisional, ctx.target)
    prack.method = "PRACK"
    prack.set("CSeq", f"{invite.cseq_number + 1} PRACK")
    prack.add("RAck", f"{_rseq(provisional)} {invite.cseq_number} INVITE")
    return prack


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% The UAS MUST send any non-100 provisional response reliably if the
##% initial request contained a Require header field with the option tag
##% 100rel.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% A UAS MUST NOT attempt to send a 100 (Trying) response reliably.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% The value of the header field for the first reliable provisional
##% response in a transaction MUST be between 1 and 2**31 - 1.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% If the PRACK does match an
##% unacknowledged reliable provisional response, it MUST be responded to
##% with a 2xx response.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% and MUST remove it from the list of unacknowledged provisional
##% responses.
##= https://www.rfc-editor.org/rfc/rfc3262#section-8.1
##= type=test
##% When present in a Require header in a request, it indicates that the
##% UAS MUST send all provisional responses reliably.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% It SHOULD cease retransmissions of the reliable provisional response
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% The UAS MUST NOT send a second reliable provisional response until the
##% first is acknowledged.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% After the first, it is RECOMMENDED that the UAS not send an
##% additional reliable provisional response until the previous is
##% acknowledged.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% The value of the RSeq in each subsequent reliable provisional response
##% for the same request MUST be greater by exactly one.
@case(
    "rfc3262-reliable-18x-prack",
    roles=("uas",),
    level="MUST",
    no_control="judged on the provisional responses and the PRACK exchange themselves",
)
def reliable_18x_prack(ctx: Context) -> None:
    """An INVITE requiring 100rel to the ringing user: the 18x carries Require: 100rel and an
    RSeq in 1..2**31-1 (a 100 neither); its PRACK gets 2xx, a second PRACK for it 481, and
    the 18x is no longer retransmitted."""
    user = _ringing_user(ctx)
    link = ctx.link()
    invite = ctx.request("INVITE", link, user=user, body=_SDP, extra=[("Require", "100rel")])
    ringing, seen = _first_reliable(ctx, link, invite, max(2.0, 10 * ctx.profile.t1))
    for trying in (m for m in seen if m.status == 100):
        ctx.check(
            not _reliable(trying), "a 100 without Require: 100rel or RSeq", describe(trying), 1
        )
    if ringing is None:
        final = next((m for m in seen if (m.status or 0) >= 200), None)
        if final is not None and final.status == 420:
            ctx.not_applicable("the target refuses 100rel (420): no reliable response to judge")
        ctx.inconclusive(f"no provisional response above 100 ({describe(final)})")
    assert ringing is not None
    rseq = _rseq(ringing)
    ctx.check(
        "100rel" in ringing.option_tags("Require") and rseq is not None,
        "Require: 100rel and an RSeq in the 18x",
        f"{describe(ringing)}; Require: {ringing.get('Require')}; RSeq: {ringing.get('RSeq')}",
        5,
    )
    assert rseq is not None
    ctx.check(1 <= rseq <= 2**31 - 1, "an RSeq between 1 and 2**31-1", f"RSeq: {rseq}", 2)
    # unacknowledged for a while: retransmissions of it only, no second reliable 18x
    second_reliable = link.expect(
        lambda m: (
            m.is_response
            and m.branch == invite.branch
            and 100 < (m.status or 0) < 200
            and _rseq(m) not in (None, rseq)
        ),
        timeout=max(0.3, 2 * ctx.profile.t1),
    )
    ctx.check(
        second_reliable is None,
        "no second reliable 18x before the first is PRACKed",
        f"{describe(second_reliable)}; RSeq: "
        f"{second_reliable.get('RSeq') if second_reliable else None}",
        7,
    )
    prack = _prack(ctx, link, invite, ringing)
    got, _ = ctx.transaction(link, prack)
    got = ctx.require_final(got, "response to PRACK")
    ctx.check(200 <= (got.status or 0) < 300, "2xx to the matching PRACK", describe(got), 3)
    # after the PRACK: no retransmission of that 18x (a SHOULD), and a new PRACK for it 481;
    # copies received before the PRACK's 2xx were sent before the PRACK got there
    _forget(link, invite, rseq)
    again = link.expect(
        lambda m: m.is_response and m.branch == invite.branch and _rseq(m) == rseq,
        timeout=max(0.5, 4 * ctx.profile.t1),
    )
    ctx.should(again is None, "no retransmission of the PRACKed 18x", describe(again))
    # a next reliable 18x, if the target sends one now, numbers on from the first
    following = [
        m
        for m in link.pending
        if m.is_response
        and m.branch == invite.branch
        and 100 < (m.status or 0) < 200
        and _rseq(m) not in (None, rseq)
    ]
    if following:
        ctx.check(
            _rseq(following[0]) == rseq + 1,
            f"RSeq {rseq + 1} in the next reliable 18x",
            f"RSeq {following[0].get('RSeq')}",
            9,
        )
    second = _prack(ctx, link, invite, ringing)
    second.set("CSeq", f"{invite.cseq_number + 2} PRACK")
    got, _ = ctx.transaction(link, second)
    got = ctx.require_final(got, "response to the second PRACK")
    ctx.check(got.status == 481, "481 to a PRACK for the acknowledged 18x", describe(got), 4)


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% If the request did not include either a Supported or Require header field indicating
##% this feature, the UAS MUST NOT send the provisional response reliably.
@case("rfc3262-no-100rel-not-reliable", roles=("uas",), level="MUST")
def not_reliable_without_100rel(ctx: Context) -> None:
    """An INVITE without Supported/Require: 100rel to the ringing user: a 18x that is not
    reliable (no Require: 100rel, no RSeq)."""
    user = _ringing_user(ctx)
    link = ctx.link()
    # the control: the same INVITE with Require: 100rel gets its reliable 18x
    control = ctx.request("INVITE", link, user=user, body=_SDP, extra=[("Require", "100rel")])
    got, _ = _first_reliable(ctx, link, control, max(2.0, 10 * ctx.profile.t1))
    ctx.control_outcome = f"INVITE with Require: 100rel -> {describe(got)}"
    ctx.control_ok = got is not None and _reliable(got)
    if not ctx.control_ok:
        ctx.inconclusive(f"the control INVITE with Require: 100rel got {describe(got)}")
    invite = ctx.request("INVITE", link, user=user, body=_SDP)
    ringing, seen = _first_reliable(ctx, link, invite, max(2.0, 10 * ctx.profile.t1))
    if ringing is None:
        ctx.inconclusive(
            f"no provisional response above 100 ({describe(seen[-1] if seen else None)})"
        )
    assert ringing is not None
    ctx.check(
        not _reliable(ringing),
        "a 18x without Require: 100rel and RSeq",
        f"{describe(ringing)}; Require: {ringing.get('Require')}; RSeq: {ringing.get('RSeq')}",
    )


##= https://www.rfc-editor.org/rfc/rfc3262#section-5
##= type=test
##% Similarly, if a reliable provisional response is the first reliable
##% message sent back to the UAC, and the INVITE did not contain an
##% offer, one MUST appear in that reliable provisional response.
@case(
    "rfc3262-offerless-invite-offer-in-18x",
    roles=("uas",),
    level="MUST",
    no_control="judged on the reliable 18x to an INVITE without an offer",
)
def offer_in_reliable_18x(ctx: Context) -> None:
    """An INVITE without SDP, requiring 100rel, to the ringing user: the reliable 18x carries
    an offer (SDP); the PRACK carries the answer."""
    user = _ringing_user(ctx)
    link = ctx.link()
    invite = ctx.request("INVITE", link, user=user, extra=[("Require", "100rel")])
    ringing, seen = _first_reliable(ctx, link, invite, max(2.0, 10 * ctx.profile.t1))
    if ringing is None or not _reliable(ringing):
        ctx.inconclusive(
            f"no reliable 18x to judge ({describe(ringing or (seen[-1] if seen else None))})"
        )
    assert ringing is not None
    ctx.check(
        bool(ringing.body) and "sdp" in (ringing.get("Content-Type") or "").lower(),
        "an SDP offer in the reliable 18x",
        f"{describe(ringing)}; Content-Type: {ringing.get('Content-Type')}",
    )
    prack = _prack(ctx, link, invite, ringing)
    prack.set("Content-Type", "application/sdp")
    prack.body = _SDP
    got, _ = ctx.transaction(link, prack)
    ctx.check(
        got is not None and 200 <= (got.status or 0) < 300,
        "2xx to the PRACK carrying the answer",
        describe(got),
    )


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% In that case, it MUST NOT send a final response until those
##% provisional responses are acknowledged.
##= https://www.rfc-editor.org/rfc/rfc3262#section-5
##= type=test
##% If the UAS had placed a session description in any reliable provisional response
##% that is unacknowledged when the INVITE is accepted, the UAS MUST delay sending the
##% 2xx until the provisional response is acknowledged.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% A UAS MUST NOT send new reliable provisional responses (as opposed to
##% retransmissions of unacknowledged ones) after sending a final
##% response to a request.
@case(
    "rfc3262-final-waits-for-prack",
    roles=("uas",),
    level="MUST",
    no_control="judged on the order of the reliable 18x, the PRACK and the 2xx",
)
def final_waits_for_prack(ctx: Context) -> None:
    """An INVITE without an offer, requiring 100rel, to the answering user: its reliable 18x
    carries the offer (a session description), so no 2xx before that 18x is PRACKed (with
    the answer); once PRACKed the 2xx comes, and no new reliable 18x after it."""
    _prack_supported(ctx)
    link = ctx.link()
    invite = ctx.request("INVITE", link, extra=[("Require", "100rel")])
    ringing, seen = _first_reliable(ctx, link, invite, max(2.0, 10 * ctx.profile.t1))
    if ringing is None or not _reliable(ringing):
        final = next((m for m in seen if (m.status or 0) >= 200), None)
        if final is not None and 200 <= (final.status or 0) < 300:
            ctx.not_applicable("answered at once, without a reliable 18x: nothing to delay")
        ctx.inconclusive(f"no reliable 18x to judge ({describe(final)})")
    assert ringing is not None
    if not ringing.body:
        # §3 lets a final response overtake a reliable 18x without a session description
        ctx.not_applicable("the reliable 18x carries no session description")
    early = link.expect(
        lambda m: m.is_response and m.branch == invite.branch and (m.status or 0) >= 200,
        timeout=max(0.5, 4 * ctx.profile.t1),
    )
    if early is not None:
        _settled(ctx, link, invite, early)
    ctx.check(
        early is None or not 200 <= (early.status or 0) < 300,
        "no 2xx while the reliable 18x is unacknowledged",
        describe(early),
    )
    prack = _prack(ctx, link, invite, ringing)
    prack.set("Content-Type", "application/sdp")
    prack.body = _SDP
    got, _ = ctx.transaction(link, prack)
    if got is None or not 200 <= (got.status or 0) < 300:
        ctx.inconclusive(f"the PRACK was not accepted ({describe(got)})")
    final = link.expect(
        lambda m: m.is_response and m.branch == invite.branch and (m.status or 0) >= 200,
        timeout=max(2.0, 10 * ctx.profile.t1),
    )
    if final is None:
        ctx.inconclusive("no final response after the PRACK (the target may still be ringing)")
    assert final is not None
    _settled(ctx, link, invite, final, cseq=invite.cseq_number + 1)
    rseq = _rseq(ringing) or 0
    later = link.expect(
        lambda m: (
            m.is_response
            and m.branch == invite.branch
            and 100 < (m.status or 0) < 200
            and (_rseq(m) or 0) > rseq
        ),
        timeout=max(0.3, 2 * ctx.profile.t1),
    )
    ctx.check(later is None, "no new reliable 18x after the final response", describe(later), 2)


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% but it MUST be prepared to process PRACK requests for those
##% outstanding responses.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% If the UAS does send a final response when reliable responses are
##% still unacknowledged, it SHOULD NOT continue to retransmit the
##% unacknowledged reliable provisional responses
@case(
    "rfc3262-late-prack-processed",
    roles=("uas",),
    level="MUST",
    no_control="judged on the PRACK sent after the final response itself",
)
def prack_after_final(ctx: Context) -> None:
    """An INVITE with an offer, requiring 100rel, to the answering user: when the 2xx
    overtakes the reliable 18x (no SDP in it), a late PRACK for that 18x still gets a 2xx
    and the 18x is no longer retransmitted."""
    _prack_supported(ctx)
    link = ctx.link()
    invite = ctx.request("INVITE", link, body=_SDP, extra=[("Require", "100rel")])
    final, provisional = ctx.transaction(link, invite, timeout=max(2.0, 10 * ctx.profile.t1))
    ringing = next((m for m in provisional if (m.status or 0) > 100 and _rseq(m)), None)
    if final is None:
        ctx.inconclusive("no final response without a PRACK (the 18x may carry an offer)")
    assert final is not None
    if not 200 <= (final.status or 0) < 300:
        ctx.finish_invite(link, invite, final)
        ctx.inconclusive(f"the INVITE was not accepted ({describe(final)})")
    dialog = ctx.call(link, invite, final)
    link.send(bytes(ack_for(invite, final, ctx.target)), "ACK")
    if ringing is None:
        ctx.not_applicable("no reliable 18x before the 2xx: no outstanding PRACK to judge")
    assert ringing is not None
    rseq = _rseq(ringing)
    _forget(link, invite, rseq)  # copies that came before the 2xx
    again = link.expect(
        lambda m: m.is_response and m.branch == invite.branch and _rseq(m) == rseq,
        timeout=max(0.5, 3 * ctx.profile.t1),
    )
    ctx.should(again is None, "no retransmission of the 18x after the 2xx", describe(again))
    prack = _prack(ctx, link, invite, ringing)
    dialog.cseq = max(dialog.cseq, prack.cseq_number)
    got, _ = ctx.transaction(link, prack, learn=False)
    got = ctx.require_final(got, "response to the late PRACK")
    ctx.check(
        200 <= (got.status or 0) < 300,
        "2xx to a PRACK for the 18x still unacknowledged when the 2xx went out",
        describe(got),
    )


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% However, it MUST NOT attempt to do so for any request
##% that contains a tag in the To field.
@case(
    "rfc3262-reinvite-not-reliable",
    roles=("uas",),
    level="MUST",
    preamble="a confirmed dialog (INVITE, 2xx, ACK)",
    no_control="judged on the provisional responses to a re-INVITE in the preamble's dialog",
)
def reinvite_not_reliable(ctx: Context) -> None:
    """A re-INVITE (To tag) with Supported: 100rel: no 101-199 response to it is sent
    reliably (Require: 100rel, RSeq)."""
    _prack_supported(ctx)
    link = ctx.link()
    invite, final = _call(ctx, link)  # a confirmed dialog
    dialog = ctx.call(link, invite, final)
    again = ack_for(invite, final, ctx.target)
    again.method = "INVITE"
    dialog.cseq += 1
    again.set("CSeq", f"{dialog.cseq} INVITE")
    again.set("Contact", invite.get("Contact") or "")
    again.add("Supported", "100rel")
    again.set("Content-Type", "application/sdp")
    again.body = _SDP.replace(b"1 1 IN", b"1 2 IN")
    got, provisional = ctx.transaction(link, again)
    if got is not None:
        link.send(bytes(ack_for(again, got, ctx.target)), "ACK")
    reliable = [m for m in provisional if (m.status or 0) > 100 and _reliable(m)]
    ctx.check(
        not reliable,
        "no reliable provisional response to a re-INVITE",
        describe(reliable[0]) + f"; RSeq: {reliable[0].get('RSeq')}" if reliable else "",
    )


##= https://www.rfc-editor.org/rfc/rfc3262#section-5
##= type=test
##% If the UAS receives a PRACK with an offer, it MUST place the answer in the 2xx to the
##% PRACK.
##= https://www.rfc-editor.org/rfc/rfc3262#section-5
##= type=test
##% All user agents that support this extension MUST support all
##% offer/answer exchanges that are possible based on the rules in
##% Section 13.2 of RFC 3261, based on the existence of INVITE and PRACK
##% as requests, and 2xx and reliable 1xx as non-failure reliable
##% responses.
@case(
    "rfc3262-offer-in-prack-answered",
    roles=("uas",),
    level="MUST",
    no_control="judged on the PRACK carrying a new offer itself",
)
def offer_in_prack(ctx: Context) -> None:
    """An INVITE with an offer, requiring 100rel, to the ringing user: its reliable 18x
    answers; the PRACK carries a new offer, and its 2xx the answer."""
    user = _ringing_user(ctx)
    link = ctx.link()
    invite = ctx.request("INVITE", link, user=user, body=_SDP, extra=[("Require", "100rel")])
    ringing, seen = _first_reliable(ctx, link, invite, max(2.0, 10 * ctx.profile.t1))
    if ringing is None or not _reliable(ringing):
        ctx.inconclusive(
            f"no reliable 18x to judge ({describe(ringing or (seen[-1] if seen else None))})"
        )
    assert ringing is not None
    if not ringing.body:
        ctx.not_applicable("the reliable 18x carries no answer: the offer is still open")
    prack = _prack(ctx, link, invite, ringing)
    prack.set("Content-Type", "application/sdp")
    prack.body = _SDP.replace(b"1 1 IN", b"1 2 IN")
    got, _ = ctx.transaction(link, prack)
    got = ctx.require_final(got, "response to the PRACK")
    if got.status == 488:
        ctx.check(False, "the offer in the PRACK taken (2xx with an answer)", describe(got), 1)
    ctx.check(
        200 <= (got.status or 0) < 300
        and bool(got.body)
        and "sdp" in (got.get("Content-Type") or "").lower(),
        "a 2xx to the PRACK with the SDP answer",
        f"{describe(got)}; Content-Type: {got.get('Content-Type')}",
    )


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% If a reliable provisional response is retransmitted for 64*T1 seconds
##% without reception of a corresponding PRACK, the UAS SHOULD reject the
##% original request with a 5xx response.
@case(
    "rfc3262-unacknowledged-18x-5xx",
    roles=("uas",),
    level="SHOULD",
    timeout=120,
    tags=("slow",),
    no_control="judged on the final response to an INVITE whose reliable 18x is never PRACKed",
)
def unacknowledged_5xx(ctx: Context) -> None:
    """An INVITE requiring 100rel to the ringing user, its reliable 18x never PRACKed: a
    5xx to the INVITE once the 18x was retransmitted 64*T1 s.  Slow: 64*T1 is 32 s with
    the RFC's T1."""
    user = _ringing_user(ctx)
    link = ctx.link()
    invite = ctx.request("INVITE", link, user=user, body=_SDP, extra=[("Require", "100rel")])
    ringing, seen = _first_reliable(ctx, link, invite, max(2.0, 10 * ctx.profile.t1))
    if ringing is None or not _reliable(ringing):
        ctx.inconclusive(
            f"no reliable 18x to judge ({describe(ringing or (seen[-1] if seen else None))})"
        )
    final = link.expect(
        lambda m: m.is_response and m.branch == invite.branch and (m.status or 0) >= 200,
        timeout=64 * ctx.profile.t1 + 5.0,
    )
    if final is not None:
        _settled(ctx, link, invite, final)
    ctx.should(
        final is not None and 500 <= (final.status or 0) < 600,
        f"a 5xx to the INVITE within 64*T1 ({64 * ctx.profile.t1:g} s) of the 18x",
        describe(final),
    )


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% As a more
##% efficient alternative, the UAS can send the response reliably, in
##% which case the UAS SHOULD send provisional responses once every two
##% and a half minutes.
##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% Use of reliable provisional responses for
##% extending transactions is RECOMMENDED.
@case(
    "rfc3262-transaction-extended-reliably",
    roles=("uas",),
    level="SHOULD",
    timeout=200,
    tags=("slow",),
    no_control="judged on the provisional responses to an INVITE left ringing",
)
def extended_reliably(ctx: Context) -> None:
    """An INVITE supporting 100rel to the ringing user, each reliable 18x PRACKed: another
    provisional response within two and a half minutes, sent reliably.  Slow: it waits up
    to 160 s."""
    user = _ringing_user(ctx)
    link = ctx.link()
    invite = ctx.request("INVITE", link, user=user, body=_SDP, extra=[("Supported", "100rel")])
    ringing, seen = _first_reliable(ctx, link, invite, max(2.0, 10 * ctx.profile.t1))
    if ringing is None or not _reliable(ringing):
        ctx.not_applicable(
            "no reliable 18x to an INVITE supporting 100rel "
            f"({describe(ringing or (seen[-1] if seen else None))})"
        )
    assert ringing is not None
    first = _rseq(ringing)
    prack = _prack(ctx, link, invite, ringing)
    ctx.transaction(link, prack)
    _forget(link, invite, first)
    started = time.monotonic()
    later = link.expect(
        lambda m: (
            m.is_response and m.branch == invite.branch and _rseq(m) != first and bool(m.status)
        ),
        timeout=160.0,
    )
    took = time.monotonic() - started
    if later is not None and (later.status or 0) >= 200:
        _settled(ctx, link, invite, later, cseq=invite.cseq_number + 1)
        ctx.not_applicable(f"the INVITE got its final response ({describe(later)}) first")
    ctx.should(
        later is not None and took <= 155, "another 18x within 2.5 minutes", f"{took:.0f} s"
    )
    if later is not None:
        ctx.should(_reliable(later), "the extending 18x sent reliably", describe(later))
        again = _prack(ctx, link, invite, later)
        again.set("CSeq", f"{invite.cseq_number + 2} PRACK")
        ctx.transaction(link, again)


_SDP = (
    b"v=0\r\no=tester 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


# --- the UAC role: the runner is the UAS the target calls (conformance.trigger.Peer) ------


def _announced(ctx: Context, invite: Message) -> None:
    """Not applicable unless the INVITE says the UAC supports 100rel (Supported/Require)."""
    if "100rel" not in invite.option_tags("Supported") + invite.option_tags("Require"):
        ctx.not_applicable("the INVITE names 100rel in neither Supported nor Require")


def _reliably(peer: Peer, invite: Message, addr: tuple[str, int], rseq: int, **kw: Any) -> bytes:
    """A reliable 183 to ``invite`` (Require: 100rel, RSeq ``rseq``); its bytes."""
    headers = ["Require: 100rel", f"RSeq: {rseq}"]
    return peer.answer(invite, addr, kw.pop("status", 183), headers=headers, **kw)


def _pracks(peer: Peer, invite: Message, within: float) -> list[Message]:
    """The PRACKs of ``invite``'s call during ``within`` seconds, each answered 200."""
    out: list[Message] = []
    end = time.monotonic() + within
    while (left := end - time.monotonic()) > 0:
        got = peer.request("PRACK", left, invite.call_id)
        if got is None:
            break
        peer.answer(got[0], got[1], 200, body=b"", contact=False)
        out.append(got[0])
    return out


def _rack(prack: Message) -> str:
    return " ".join((prack.get("RAck") or "").split())


def _wait(ctx: Context) -> float:
    return max(0.5, 4 * ctx.profile.t1)


def _hang_up(peer: Peer, invite: Message, addr: tuple[str, int]) -> Message | None:
    """Accept the call (200) and return its ACK (None when none came)."""
    peer.answer(invite, addr, 200)
    got = peer.request("ACK", 3.0, invite.call_id)
    peer.serve(0.2)
    return got[0] if got else None


##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% If the UAC does not wish to insist on usage of reliable provisional
##% responses, but merely indicate that it supports them if the UAS needs
##% to send one, a Supported header MUST be included in the request with
##% the option tag 100rel.
##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% If the response is a 100 (Trying) (as opposed to 101 to 199), this
##% option tag MUST be ignored, and the procedures below MUST NOT be used.
##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% The provisional response MUST establish a dialog if one is not yet
##% created.
##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% Assuming the response is to be transmitted reliably, the UAC MUST
##% create a new request with method PRACK.
##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% A Require header with the value 100rel MUST NOT be present in any
##% requests excepting INVITE, although extensions to SIP may allow its
##% usage with other request methods.
##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% In particular, a UAC SHOULD NOT
##% retransmit the PRACK request when it receives a retransmission of the
##% provisional response being acknowledged, although doing so does not
##% create a protocol error.
##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% Once a reliable provisional response is received, retransmissions of
##% that response MUST be discarded.
@case(
    "uac-3262-prack-sent",
    roles=UAC,
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def uac_prack_sent(ctx: Context) -> None:
    """A 100 with Require: 100rel and an RSeq gets no PRACK; a reliable 183 gets one PRACK in
    its early dialog (To tag, Request-URI the 183's Contact, RAck = RSeq, CSeq number and
    method of the INVITE, no Require: 100rel); the 183 again gets none."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    announced = "100rel" in invite.option_tags("Supported") + invite.option_tags("Require")
    peer.send(
        peer.response(invite, 100, headers=["Require: 100rel", "RSeq: 9"]), addr, "100 + RSeq"
    )
    early = _pracks(peer, invite, _wait(ctx))
    ctx.check(not early, "no PRACK for a 100", f"PRACK RAck {_rack(early[0]) if early else ''}", 1)
    ringing = _reliably(peer, invite, addr, 1)
    prack = peer.request("PRACK", 3.0 if announced else _wait(ctx), invite.call_id)
    if prack is None and not announced:
        ctx.not_applicable("no 100rel in the INVITE, no PRACK: the UAC does not support it")
    # a PRACK shows the UAC supports 100rel: then its INVITE had to say so
    ctx.check(
        announced,
        "Supported: 100rel (or Require: 100rel) in the INVITE of a UAC that PRACKs",
        f"Supported: {invite.get('Supported')}",
    )
    ctx.check(prack is not None, "a PRACK for the reliable 183", "none within 3 s", 3)
    assert prack is not None
    peer.answer(prack[0], prack[1], 200, body=b"", contact=False)
    prack_msg = prack[0]
    rack = f"1 {invite.cseq[0]} {invite.cseq[1]}"  # the CSeq the 183 copied
    ctx.check(_rack(prack_msg) == rack, f"RAck: {rack}", f"RAck: {prack_msg.get('RAck')}", 3)
    to_tag = param(prack_msg.get("To") or "", "tag")
    ctx.check(
        to_tag == peer.tag and prack_msg.uri == f"sip:uas@{peer.server.hostport}",
        f"the PRACK in the early dialog (To tag {peer.tag}, Request-URI the 183's Contact)",
        f"To tag {to_tag}, Request-URI {prack_msg.uri}",
        2,
    )
    ctx.check(
        "100rel" not in prack_msg.option_tags("Require"),
        "no Require: 100rel in the PRACK",
        f"Require: {prack_msg.get('Require')}",
        4,
    )
    peer.send(ringing, addr, "183 retransmitted")
    again = _pracks(peer, invite, _wait(ctx))
    ack = _hang_up(peer, invite, addr)
    # (a PRACK for the copy breaks the SHOULD NOT and the MUST alike)
    ctx.check(not again, "the retransmitted 183 discarded (no PRACK)", f"{len(again)} PRACK", 6)
    if ack is not None:
        ctx.check(
            "100rel" not in ack.option_tags("Require"),
            "no Require: 100rel in the ACK",
            f"Require: {ack.get('Require')}",
            4,
        )


##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% The UAC MUST maintain a sequence number that indicates the most recently
##% received in-order reliable provisional response for the initial
##% request.
##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% This sequence number MUST be maintained until a final response is
##% received for the initial request.
##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% Its value MUST be initialized to the RSeq header field in the first
##% reliable provisional response received for the initial request.
##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% As a result, if the UAC receives another reliable provisional response
##% to the same request, and its RSeq value is not one higher than the
##% value of the sequence number, that response MUST NOT be acknowledged
##% with a PRACK, and MUST NOT be processed further by the UAC.
@case(
    "uac-3262-rseq-in-order",
    roles=UAC,
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def uac_rseq_in_order(ctx: Context) -> None:
    """Reliable 183s with RSeq 5, then 7 (a gap), then 6, then 7 again: PRACKs for 5 and 6,
    none for the first 7 (out of order), one for 7 once it is next."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    _announced(ctx, invite)
    number = f"{invite.cseq[0]} {invite.cseq[1]}"  # the CSeq the 183s copy
    got: dict[str, list[str]] = {}
    for step, rseq in (("5", 5), ("7 (a gap)", 7), ("6", 6), ("7 (now next)", 7)):
        _reliably(peer, invite, addr, rseq)
        got[step] = [_rack(p) for p in _pracks(peer, invite, _wait(ctx))]
    ack = _hang_up(peer, invite, addr)
    if not got["5"]:
        ctx.inconclusive("no PRACK even for the first reliable 183")
    ctx.check(got["5"] == [f"5 {number}"], f"RAck: 5 {number}", str(got["5"]), 2)
    ctx.check(not got["7 (a gap)"], "no PRACK for RSeq 7 after 5", str(got["7 (a gap)"]), 3)
    ctx.check(got["6"] == [f"6 {number}"], f"RAck: 6 {number}", str(got["6"]))
    ctx.check(
        got["7 (now next)"] == [f"7 {number}"],
        f"RAck: 7 {number} once 6 was acknowledged",
        str(got["7 (now next)"]),
        1,
    )
    ctx.check(ack is not None, "the call set up (an ACK for the 200)", "no ACK", 1)


##= https://www.rfc-editor.org/rfc/rfc3262#section-5
##= type=test
##% All user agents that support this extension MUST support all
##% offer/answer exchanges that are possible based on the rules in
##% Section 13.2 of RFC 3261, based on the existence of INVITE and PRACK
##% as requests, and 2xx and reliable 1xx as non-failure reliable
##% responses.
@case(
    "uac-3262-answer-in-reliable-18x",
    roles=UAC,
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def uac_answer_in_18x(ctx: Context) -> None:
    """The INVITE's offer answered in a reliable 183: the UAC PRACKs it and takes the call
    (ACK for the 200) with no new offer in the ACK (none came in the 2xx to answer)."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    _announced(ctx, invite)
    if not invite.body:
        ctx.not_applicable("the INVITE carries no offer (see uac-3262-offer-in-reliable-18x)")
    answer = sdp_answer(invite.body)
    _reliably(peer, invite, addr, 1, body=answer)
    pracks = _pracks(peer, invite, max(1.0, 5 * ctx.profile.t1))
    ctx.check(len(pracks) == 1, "one PRACK for the 183 with the answer", f"{len(pracks)} PRACKs")
    peer.answer(invite, addr, 200, body=answer)
    got = peer.request("ACK", 3.0, invite.call_id)
    bye = peer.request("BYE", max(0.3, 2 * ctx.profile.t1), invite.call_id)
    peer.serve(0.2)
    ctx.check(got is not None, "an ACK for the 200", "none")
    assert got is not None
    ctx.check(not got[0].body, "an ACK without a session description", describe(got[0]))
    ctx.check(bye is None, "the call kept (no BYE at once)", "a BYE at once")


##= https://www.rfc-editor.org/rfc/rfc3262#section-5
##= type=test
##% If the UAC receives a reliable provisional response with an offer
##% (this would occur if the UAC sent an INVITE without an offer, in which
##% case the first reliable provisional response will contain the offer),
##% it MUST generate an answer in the PRACK.
@case(
    "uac-3262-offer-in-reliable-18x",
    roles=UAC,
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def uac_offer_in_18x(ctx: Context) -> None:
    """An INVITE without an offer: the runner's offer in a reliable 183, the answer in the
    PRACK."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    _announced(ctx, invite)
    if invite.body:
        ctx.not_applicable("the INVITE carries an offer: no offer to make in the 183")
    _reliably(peer, invite, addr, 1, body=sdp_offer())
    pracks = _pracks(peer, invite, max(1.0, 5 * ctx.profile.t1))
    _hang_up(peer, invite, addr)
    ctx.check(bool(pracks), "a PRACK for the 183 with the offer", "none")
    ctx.check(
        bool(pracks[0].body) and "sdp" in (pracks[0].get("Content-Type") or "").lower(),
        "an SDP answer in the PRACK",
        describe(pracks[0]),
    )


##= https://www.rfc-editor.org/rfc/rfc3262#section-4
##= type=test
##% The UAC SHOULD include this in all INVITE requests.
@case(
    "uac-3262-supported-in-reinvite",
    roles=UAC,
    level="SHOULD",
    timeout=20,
    preamble=CALLED.format(kind="reinvite"),
    no_control=RUNNER_ANSWERS,
)
def uac_supported_in_reinvite(ctx: Context) -> None:
    """A UAC whose INVITE listed 100rel lists it in its re-INVITE too."""
    call = _Call(ctx, "reinvite")
    call.ack()
    if "100rel" not in call.invite.option_tags("Supported"):
        ctx.not_applicable("the INVITE lists no 100rel in Supported")
    again, addr = call.next("INVITE", 8.0)
    call.peer.answer(again, addr, 200)
    call.peer.serve(0.2)
    ctx.should(
        "100rel" in again.option_tags("Supported") + again.option_tags("Require"),
        "Supported: 100rel in the re-INVITE too",
        f"Supported: {again.get('Supported')}",
    )


##= https://www.rfc-editor.org/rfc/rfc3262#section-9
##= type=test
##% As these
##% responses can convey important information, PRACK messages SHOULD be
##% authenticated as any other request.
@case(
    "uac-3262-prack-authenticated",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def uac_prack_authenticated(ctx: Context) -> None:
    """The PRACK for a reliable 183 challenged with 401: it comes again (a new transaction,
    the same RAck) with an Authorization whose digest is right for the profile's password."""
    if not ctx.profile.password:
        ctx.not_applicable("the profile gives no password to answer a challenge with")
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    _reliably(peer, invite, addr, 1)
    prack = peer.request("PRACK", 3.0, invite.call_id)
    if prack is None:
        ctx.not_applicable("no PRACK for a reliable 183: the UAC does not support 100rel")
    assert prack is not None
    peer.answer(prack[0], prack[1], 401, body=b"", contact=False, headers=[digest_challenge(401)])
    again = peer.expect(
        lambda m: (
            m.method == "PRACK" and m.call_id == invite.call_id and m.branch != prack[0].branch
        ),
        timeout=3.0,
    )
    if again is not None:
        peer.answer(again[0], again[1], 200, body=b"", contact=False)
    _hang_up(peer, invite, addr)
    ctx.check(again is not None, "the PRACK again after the 401", "none within 3 s")
    assert again is not None
    ctx.check(
        _rack(again[0]) == _rack(prack[0]),
        f"RAck: {_rack(prack[0])} (the same 183 acknowledged)",
        f"RAck: {_rack(again[0])}",
    )
    verify_digest(ctx, again[0], "Authorization", 0)
