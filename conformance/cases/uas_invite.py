"""The UAS side of INVITE (RFC 3261 §13.1, §13.2.1, §13.3.1.x, §14.2, §15, §15.1.2):
offer and answer in the 2xx, ACK/CANCEL/BYE, early dialogs, busy and refused offers,
re-INVITEs, and the BYE of a callee whose 2xx was never ACKed."""

from __future__ import annotations

import time

from conformance.cases._uas_support import (
    is_sdp,
    respond,
    sdp_formats,
    sdp_offer,
)
from conformance.cases.uas import _SDP, UAS, _call, _control, _in_dialog
from conformance.messages import Outgoing, ack_for
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.trigger import sdp_answer
from conformance.wire import Link

#: load order of the case modules (conformance.discovery)
ORDER = 77  # after the core's first-wave modules (torture is 60)

#: an offer no UA can take: one stream of a media type and a transport nobody defines
_ODD_OFFER = (
    b"v=0\r\no=tester 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=x-conformance 9 x-conformance/unknown 96\r\n"
)


def _ringing_user(ctx: Context) -> str:
    if not ctx.profile.ringing_user:
        ctx.not_applicable(
            "the profile names no ringing_user (a user whose INVITE rings unanswered)"
        )
    return ctx.profile.ringing_user


def _ring(
    ctx: Context, link: Link, extra: list[tuple[str, str]] | None = None
) -> tuple[Outgoing, list[Message]]:
    """INVITE the ringing user; the request and the provisional responses of its first
    second or so (inconclusive without a non-100 one)."""
    req = ctx.request("INVITE", link, user=_ringing_user(ctx), body=_SDP, extra=extra)
    data = bytes(req)
    link.send(data, "INVITE (rings)")
    ctx.ringing.append((link, req))
    first = link.expect(
        lambda m: m.is_response and m.branch == req.branch and (m.status or 0) > 100,
        timeout=max(2.0, 8 * ctx.profile.t1),
        retransmit=None if ctx.target.reliable else (lambda: link.send(data, "retransmission")),
        interval=ctx.profile.t1,
    )
    if first is None or (first.status or 0) >= 200:
        ctx.inconclusive(f"the INVITE to the ringing user got {describe(first)}, no ringing")
    assert first is not None
    return req, [first]


def _cancel(link: Link, invite: Outgoing) -> Outgoing:
    cancel = Outgoing("CANCEL", invite.uri)
    for name in ("Via", "Max-Forwards", "From", "To", "Call-ID"):
        cancel.add(name, invite.get(name) or "")
    cancel.add("CSeq", f"{invite.cseq_number} CANCEL")
    return cancel


def _final_of(ctx: Context, link: Link, invite: Outgoing, wait: float) -> Message | None:
    return link.expect(
        lambda m: (
            m.is_response
            and m.branch == invite.branch
            and m.cseq[1] == "INVITE"
            and (m.status or 0) >= 200
        ),
        timeout=wait,
    )


def _ended_ringing(ctx: Context, link: Link, invite: Outgoing, final: Message | None) -> None:
    """The INVITE left ringing got its final response: ACK it, forget it for the postamble."""
    if final is None:
        return
    ctx.ringing = [(lk, r) for lk, r in ctx.ringing if r is not invite]
    ctx.finish_invite(link, invite, final)


# --- offer and answer (§13.2.1, §13.3.1, §13.3.1.4, §14.2) ---------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% If the INVITE did not contain an offer, the 2xx MUST contain an offer if the UAS had not
##% yet sent an offer.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% The initial offer MUST be in either an INVITE or, if not there, in the first reliable
##% non-failure message from the UAS back to the UAC.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1
##= type=test
##% It MUST provide the offer in its first non-failure reliable message back to the UAC.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% All user agents that support INVITE MUST support these two exchanges.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% The Session Description Protocol (SDP) (RFC 2327 [1]) MUST be supported by all user
##% agents as a means to describe sessions, and its usage for constructing offers and answers
##% MUST follow the procedures defined in [13].
##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
##= type=test
##% A UAS providing an offer in a 2xx (because the INVITE did not contain an offer) SHOULD
##% construct the offer as if the UAS were making a brand new call, subject to the
##% constraints of sending an offer that updates an existing session, as described in [13]
##% in the case of SDP.
##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
##= type=test
##% Specifically, this means that it SHOULD include as many media formats and media types
##% that the UA is willing to support.
@case("uas-offer-in-2xx", roles=UAS, level="MUST")
def offer_in_2xx(ctx: Context) -> None:
    """An INVITE without a body gets a 2xx carrying an SDP offer (answered in the ACK)."""
    link = ctx.link()
    _control(ctx, link, "INVITE")
    req = ctx.request("INVITE", link)
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final, "final response to the INVITE without offer")
    if not 200 <= (final.status or 0) < 300:
        ctx.finish_invite(link, req, final)
        ctx.check(
            final.status not in (400, 415, 488, 606),
            "the INVITE without offer accepted as the control was",
            describe(final),
            requirement=3,
        )
        ctx.inconclusive(f"the INVITE without offer got {describe(final)}")
    ack = ack_for(req, final, ctx.target)
    if final.body:
        ack.set("Content-Type", "application/sdp")
        ack.body = sdp_answer(final.body)
    link.send(bytes(ack), "ACK (with the answer)")
    ctx.hang_up(ctx.call(link, req, final))
    ctx.check(bool(final.body.strip()), "an offer in the 2xx", "an empty body")
    ctx.check(
        is_sdp(final),
        "an SDP offer (Content-Type application/sdp, m= lines)",
        f"{final.get('Content-Type') or 'no Content-Type'}",
        requirement=4,
    )
    streams = sdp_formats(final.body)
    ctx.check(
        any(formats for _, _, formats in streams),
        "media formats offered",
        "m= lines without formats",
        requirement=6,
        level="SHOULD",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% If the initial offer is in an INVITE, the answer MUST be in a reliable non-failure message
##% from UAS back to UAC which is correlated to that INVITE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% Once the UAS has sent or received an answer to the initial offer, it MUST NOT generate
##% subsequent offers in any responses to the initial INVITE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% All user agents that support INVITE MUST support these two exchanges.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% The Session Description Protocol (SDP) (RFC 2327 [1]) MUST be supported by all user
##% agents as a means to describe sessions, and its usage for constructing offers and answers
##% MUST follow the procedures defined in [13].
@case(
    "uas-answer-in-2xx-sdp",
    roles=UAS,
    level="MUST",
    no_control="judged on the 2xx only: any other answer is inconclusive",
)
def answer_in_2xx_sdp(ctx: Context) -> None:
    """The 2xx to an INVITE with an offer is an SDP answer, the same in every copy of it."""
    link = ctx.link()
    offer = sdp_offer(1)
    req = ctx.request("INVITE", link, body=offer)
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final, "final response to the INVITE")
    if not 200 <= (final.status or 0) < 300:
        ctx.finish_invite(link, req, final)
        ctx.inconclusive(f"the INVITE got {describe(final)}")
    copies: list[Message] = []
    if not ctx.target.reliable:
        # un-ACKed, the 2xx is retransmitted (§13.3.1.4): each copy must hold the same answer
        copies = link.collect(
            lambda m: m.is_response and m.call_id == req.call_id and m.cseq[1] == "INVITE",
            max(1.0, 3.5 * ctx.profile.t1),
        )
    ctx.finish_invite(link, req, final)
    ctx.check(is_sdp(final), "an SDP answer in the 2xx", final.get("Content-Type") or "no body")
    ctx.check(
        len(sdp_formats(final.body)) == len(sdp_formats(offer)),
        "as many m= lines as the offer (RFC 3264 §6)",
        f"{len(sdp_formats(final.body))} m= lines",
        requirement=3,
    )
    changed = [c for c in copies if c.body != final.body]
    ctx.check(
        not changed,
        "every copy of the 2xx with the same answer",
        f"{len(changed)} of {len(copies)} copies with another body",
        requirement=1,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
##= type=test
##% The UAS MUST ensure that the session description overlaps with its previous session
##% description in media formats, transports, or other parameters that require support from
##% the peer.
@case(
    "uas-reinvite-overlap",
    roles=UAS,
    level="MUST",
    preamble="a confirmed dialog",
    no_control="judged on a 2xx to the re-INVITE only: any other answer is inconclusive",
)
def reinvite_overlap(ctx: Context) -> None:
    """The answer to a re-INVITE shares media formats and transport with the first answer."""
    link = ctx.link()
    req, final = _call(ctx, link)
    first = sdp_formats(final.body)
    if not first:
        ctx.inconclusive("the 2xx to the INVITE carried no SDP answer to compare with")
    reinvite = _in_dialog(ctx, req, final, "INVITE", req.cseq_number + 1)
    reinvite.set("Contact", f"<sip:tester@{link.sent_by}>")
    reinvite.set("Content-Type", "application/sdp")
    reinvite.body = _SDP.replace(b"o=tester 1 1", b"o=tester 1 2")
    answer, _ = ctx.transaction(link, reinvite)
    answer = ctx.require_final(answer, "final response to the re-INVITE")
    if (answer.status or 0) >= 200:
        ack = ack_for(reinvite, answer, ctx.target)
        if answer.status and answer.status >= 300:
            ack.set("Via", reinvite.get("Via"))
        link.send(bytes(ack), "ACK")
    if not 200 <= (answer.status or 0) < 300:
        ctx.inconclusive(f"the re-INVITE got {describe(answer)}")
    second = sdp_formats(answer.body)
    ctx.check(bool(second), "an SDP answer in the 2xx to the re-INVITE", "no m= lines")
    (media1, proto1, formats1), (media2, proto2, formats2) = first[0], second[0]
    ctx.check(
        media1 == media2 and proto1 == proto2 and bool(set(formats1) & set(formats2)),
        f"m={media1} {proto1} with one of {' '.join(formats1)}",
        f"m={media2} {proto2} {' '.join(formats2)}",
    )


# --- ACK, CANCEL, BYE and early dialogs (§13.1, §13.3.1.1, §15) ----------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.1
##= type=test
##% A UA that supports INVITE MUST also support ACK, CANCEL and BYE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.1
##= type=test
##% Each of these MUST indicate the same dialog ID.
##= https://www.rfc-editor.org/rfc/rfc3261#section-15
##= type=test
##% but MUST NOT send a BYE on early dialogs.
@case(
    "uas-cancel-early-dialog",
    roles=UAS,
    level="MUST",
    no_control="the INVITE left ringing is the exchange under test; a target that does not"
    " ring is inconclusive",
)
def cancel_early_dialog(ctx: Context) -> None:
    """A ringing INVITE: provisionals of one dialog, no BYE; CANCEL gets 200 and the INVITE 487."""
    link = ctx.link()
    invite, provisional = _ring(ctx, link)
    provisional += link.collect(
        lambda m: m.is_response and m.branch == invite.branch and 100 < (m.status or 0) < 200,
        max(0.5, 3 * ctx.profile.t1),
    )
    bye = link.expect(lambda m: m.method == "BYE" and m.call_id == invite.call_id, timeout=0.01)
    cancel = _cancel(link, invite)
    done, _ = ctx.transaction(link, cancel)
    final = _final_of(ctx, link, invite, max(2.0, 8 * ctx.profile.t1))
    _ended_ringing(ctx, link, invite, final)
    if bye is not None:
        respond(link, bye, 200)
    ctx.check(bye is None, "no BYE while the call rings", bye.start_line if bye else "", 2)
    tags = {p.to_tag for p in provisional}
    ctx.check(len(tags) == 1, "one To tag in every provisional", ", ".join(map(str, tags)), 1)
    done = ctx.require_final(done, "response to the CANCEL")
    ctx.check(done.status == 200, "200 (OK) to the CANCEL", describe(done))
    final = ctx.require_final(final, "final response to the CANCELled INVITE")
    ctx.check(final.status == 487, "487 (Request Terminated) to the INVITE", describe(final))
    ctx.check(
        final.to_tag in tags, "the 487 in the dialog of the provisionals", str(final.to_tag), 1
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.1
##= type=test
##% A UA that supports INVITE MUST also support ACK, CANCEL and BYE.
@case(
    "uas-ack-stops-2xx",
    roles=UAS,
    level="MUST",
    transports=("udp",),
    preamble="a call",
    no_control="the preamble's call, ACKed and hung up, is the exchange under test",
)
def ack_stops_2xx(ctx: Context) -> None:
    """The ACK ends the 2xx retransmissions, and the call's BYE gets 200."""
    link = ctx.link()
    req, final = _call(ctx, link)
    # _call sent the ACK: the 2xx must stop coming (one copy may already have been in flight)
    late = link.collect(
        lambda m: m.is_response and m.call_id == req.call_id and m.cseq[1] == "INVITE",
        max(1.0, 5 * ctx.profile.t1),
    )
    answer = ctx.hang_up(ctx.call(link, req, final))
    ctx.check(len(late) <= 1, "no 2xx retransmitted after the ACK", f"{len(late)} copies")
    answer = ctx.require_final(answer, "response to the BYE")
    ctx.check(answer.status == 200, "200 (OK) to the BYE", describe(answer))


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.1
##= type=test
##% To prevent cancellation, the UAS MUST send a non-100 provisional response at every
##% minute, to handle the possibility of lost provisional responses.
@case(
    "uas-ringing-every-minute",
    roles=UAS,
    level="MUST",
    tags=("slow",),
    timeout=90.0,
    no_control="the INVITE left ringing is the exchange under test",
)
def ringing_every_minute(ctx: Context) -> None:
    """An INVITE left ringing gets another non-100 provisional within a minute (a slow case)."""
    link = ctx.link()
    invite, _ = _ring(ctx, link)
    started = time.monotonic()
    later = link.expect(
        lambda m: m.is_response and m.branch == invite.branch and 100 < (m.status or 0) < 300,
        timeout=65.0,
    )
    took = time.monotonic() - started
    if later is not None and (later.status or 0) >= 200:
        _ended_ringing(ctx, link, invite, later)
        ctx.inconclusive(f"the INVITE ended with {describe(later)} before a minute passed")
    ctx.check(
        later is not None,
        "another provisional response within a minute (and a few seconds)",
        f"none in {took:.0f} s",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1
##= type=test
##% If the invitation expires before the UAS has generated a final response, a 487 (Request
##% Terminated) response SHOULD be generated.
@case(
    "uas-invite-expires-487",
    roles=UAS,
    level="SHOULD",
    no_control="the INVITE left ringing is the exchange under test",
)
def invite_expires(ctx: Context) -> None:
    """An INVITE with Expires: 1 left ringing ends with 487 about a second later."""
    link = ctx.link()
    invite, _ = _ring(ctx, link, extra=[("Expires", "1")])
    final = _final_of(ctx, link, invite, 1.0 + max(2.0, 8 * ctx.profile.t1))
    _ended_ringing(ctx, link, invite, final)
    ctx.check(final is not None, "a final response once the INVITE expired", "none")
    ctx.check(
        final is not None and final.status == 487, "487 (Request Terminated)", describe(final)
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.2
##= type=test
##% The UAS MUST still respond to any pending requests received for that dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.2
##= type=test
##% It is RECOMMENDED that a 487 (Request Terminated) response be generated to those pending
##% requests.
@case(
    "uas-bye-early-pending",
    roles=UAS,
    level="MUST",
    no_control="the INVITE left ringing is the exchange under test",
)
def bye_early_pending(ctx: Context) -> None:
    """A BYE on the early dialog of a ringing INVITE: the INVITE still gets a final response."""
    link = ctx.link()
    invite, provisional = _ring(ctx, link)
    tag = provisional[0].to_tag
    if not tag:
        ctx.inconclusive("the provisional response carried no To tag: no early dialog")
    bye = Outgoing("BYE", invite.uri, list(invite.headers), b"")
    bye.set("To", f"{invite.get('To')};tag={tag}")
    bye.set("CSeq", f"{invite.cseq_number + 1} BYE")
    bye.set("Contact", None)
    bye.set("Content-Type", None)
    bye.set("Via", (invite.get("Via") or "").replace(invite.branch, invite.branch + "b"))
    answer, _ = ctx.transaction(link, bye)
    answer = ctx.require_final(answer, "response to the BYE on the early dialog")
    if answer.status == 481:
        ctx.not_applicable("the target keeps no early dialog for in-dialog requests (481)")
    final = _final_of(ctx, link, invite, max(2.0, 8 * ctx.profile.t1))
    _ended_ringing(ctx, link, invite, final)
    ctx.check(final is not None, "a final response to the pending INVITE", "none")
    assert final is not None
    ctx.check(final.status == 487, "487 (Request Terminated)", describe(final), 1, "SHOULD")


##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
##= type=test
##% A UAS that receives a second INVITE before it sends the final response to a first INVITE
##% with a lower CSeq sequence number on the same dialog MUST return a 500 (Server Internal
##% Error) response to the second INVITE and MUST include a Retry-After header field with a
##% randomly chosen value of between 0 and 10 seconds.
@case(
    "uas-second-invite-500",
    roles=UAS,
    level="MUST",
    no_control="the first INVITE, left ringing, is the exchange the second one meets",
)
def second_invite(ctx: Context) -> None:
    """A second INVITE on the early dialog of a ringing one gets 500 with Retry-After 0-10."""
    link = ctx.link()
    invite, provisional = _ring(ctx, link)
    tag = provisional[0].to_tag
    if not tag:
        ctx.inconclusive("the provisional response carried no To tag: no early dialog")
    second = Outgoing("INVITE", invite.uri, list(invite.headers), invite.body)
    second.set("To", f"{invite.get('To')};tag={tag}")
    second.set("CSeq", f"{invite.cseq_number + 1} INVITE")
    second.set("Via", (invite.get("Via") or "").replace(invite.branch, invite.branch + "s"))
    answer, _ = ctx.transaction(link, second)
    if answer is not None and (answer.status or 0) >= 200:
        ack = ack_for(second, answer, ctx.target)
        link.send(bytes(ack), "ACK")
    answer = ctx.require_final(answer, "final response to the second INVITE")
    if 200 <= (answer.status or 0) < 300:
        ctx.fail("500 with Retry-After", describe(answer))
    if answer.status == 481:
        ctx.not_applicable("the target keeps no early dialog for in-dialog requests (481)")
    ctx.check(answer.status == 500, "500 (Server Internal Error)", describe(answer))
    retry = (answer.get("Retry-After") or "").split(";")[0].split("(")[0].strip()
    ctx.check(
        retry.isdigit() and 0 <= int(retry) <= 10,
        "Retry-After between 0 and 10",
        f"Retry-After: {retry or '(none)'}",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
##= type=test
##% A UAS that receives an INVITE on a dialog while an INVITE it had sent on that dialog is
##% in progress MUST return a 491 (Request Pending) response to the received INVITE.
@case(
    "uas-glare-491",
    roles=UAS,
    level="MUST",
    preamble="a call to the profile's hold_user answered with 2xx",
    no_control="the target's own re-INVITE, left pending, is what ours meets",
    transports=("udp",),
)
def glare(ctx: Context) -> None:
    """Our re-INVITE while the target's own re-INVITE is pending gets 491 (Request Pending)."""
    if not ctx.profile.hold_user:
        ctx.not_applicable(
            "the profile names no hold_user (a user whose calls the target re-INVITEs)"
        )
    link = ctx.link()
    with ctx.preamble("a call to the profile's hold_user answered with 2xx"):
        req = ctx.request("INVITE", link, user=ctx.profile.hold_user, body=_SDP)
        final, _ = ctx.transaction(link, req)
        final = ctx.require_final(final, "final response to the INVITE")
        if not 200 <= (final.status or 0) < 300:
            ctx.finish_invite(link, req, final)
            ctx.inconclusive(f"the INVITE was not accepted ({describe(final)})")
        link.send(bytes(ack_for(req, final, ctx.target)), "ACK")
    wait = ctx.profile.hangup_after + max(2.0, 8 * ctx.profile.t1)
    theirs = link.expect(lambda m: m.method == "INVITE" and m.call_id == req.call_id, wait)
    if theirs is None:
        ctx.inconclusive(f"the target sent no re-INVITE within {wait:.1f} s")
    assert theirs is not None
    ours = _in_dialog(ctx, req, final, "INVITE", req.cseq_number + 1)
    ours.set("Contact", f"<sip:tester@{link.sent_by}>")
    ours.set("Content-Type", "application/sdp")
    ours.body = _SDP.replace(b"o=tester 1 1", b"o=tester 1 2")
    answer, _ = ctx.transaction(link, ours)
    if answer is not None and (answer.status or 0) >= 200:
        ack = ack_for(ours, answer, ctx.target)
        if (answer.status or 0) >= 300:
            ack.set("Via", ours.get("Via"))
        link.send(bytes(ack), "ACK")
    # now let the target's re-INVITE through: 200 with an answer, then its ACK
    contact = (("Contact", f"<sip:tester@{link.sent_by}>"),)
    respond(link, theirs, 200, headers=contact, body=sdp_answer(theirs.body))
    link.expect(
        lambda m: m.method == "ACK" and m.call_id == req.call_id, max(1.0, 4 * ctx.profile.t1)
    )
    answer = ctx.require_final(answer, "final response to our re-INVITE")
    ctx.check(answer.status == 491, "491 (Request Pending)", describe(answer))


# --- refusing a call (§13.3.1.3, §21.4.24, §14.2) -------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.3
##= type=test
##% A 486 (Busy Here) SHOULD be returned in such a scenario.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.3
##= type=test
##% If the UAS knows that no other end system will be able to accept this call, a 600 (Busy
##% Everywhere) response SHOULD be sent instead.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.24
##= type=test
##% Status 600 (Busy Everywhere) SHOULD be used if the client knows that no other end system
##% will be able to accept this call.
@case("uas-busy", roles=UAS, level="SHOULD")
def busy(ctx: Context) -> None:
    """A call to the profile's busy user is refused 486 (or 600)."""
    if not ctx.profile.busy_user:
        ctx.not_applicable("the profile names no busy_user (a callee that is busy)")
    link = ctx.link()
    _control(ctx, link, "INVITE")
    req = ctx.request("INVITE", link, user=ctx.profile.busy_user, body=_SDP)
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final, "final response to the INVITE to the busy user")
    ctx.finish_invite(link, req, final)
    ctx.check(final.status in (486, 600), "486 (Busy Here) or 600", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.3
##= type=test
##% A UAS rejecting an offer contained in an INVITE SHOULD return a 488 (Not Acceptable Here)
##% response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.3
##= type=test
##% Such a response SHOULD include a Warning header field value explaining why the offer was
##% rejected.
@case("uas-488-warning", roles=UAS, level="SHOULD")
def offer_refused(ctx: Context) -> None:
    """An offer the UAS cannot take is refused with 488 and a Warning (or its stream declined)."""
    link = ctx.link()
    _control(ctx, link, "INVITE")
    req = ctx.request("INVITE", link, body=_ODD_OFFER)
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final, "final response to the INVITE with an unusable offer")
    ctx.finish_invite(link, req, final)
    status = final.status or 0
    if 200 <= status < 300:
        ctx.not_applicable("the target accepted the call, declining the stream (RFC 3264 §6)")
    ctx.check(status == 488, "488 (Not Acceptable Here)", describe(final))
    ctx.check(final.get("Warning") is not None, "a Warning header field", "none", 1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
##= type=test
##% This response SHOULD include a Warning header field.
@case(
    "uas-reinvite-488-warning",
    roles=UAS,
    level="SHOULD",
    preamble="a confirmed dialog",
    no_control="judged on a 488 only: any other answer is not applicable",
)
def reinvite_refused(ctx: Context) -> None:
    """A re-INVITE whose offer the UAS cannot take: a 488 to it carries a Warning."""
    link = ctx.link()
    req, final = _call(ctx, link)
    reinvite = _in_dialog(ctx, req, final, "INVITE", req.cseq_number + 1)
    reinvite.set("Contact", f"<sip:tester@{link.sent_by}>")
    reinvite.set("Content-Type", "application/sdp")
    reinvite.body = _ODD_OFFER.replace(b"o=tester 1 1", b"o=tester 1 2")
    answer, _ = ctx.transaction(link, reinvite)
    answer = ctx.require_final(answer, "final response to the re-INVITE")
    ack = ack_for(reinvite, answer, ctx.target)
    if (answer.status or 0) >= 300:
        ack.set("Via", reinvite.get("Via"))
    link.send(bytes(ack), "ACK")
    if answer.status != 488:
        ctx.not_applicable(f"the re-INVITE got {describe(answer)}, not 488")
    ctx.check(answer.get("Warning") is not None, "a Warning header field", "none")


# --- the 2xx never ACKed (§13.3.1.4, §14.2) -------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% If the server retransmits the 2xx response for 64*T1 seconds without receiving an ACK,
##% the dialog is confirmed, but the session SHOULD be terminated.
##= https://www.rfc-editor.org/rfc/rfc3261#section-14.2
##= type=test
##% If a UAS generates a 2xx response and never receives an ACK, it SHOULD generate a BYE to
##% terminate the dialog.
@case(
    "uas-no-ack-bye",
    roles=UAS,
    level="SHOULD",
    no_control="judged on the 2xx only: any other answer is inconclusive",
    timeout=14.0,
)
def no_ack_bye(ctx: Context) -> None:
    """A 2xx never ACKed: the UAS hangs up with a BYE once 64*T1 have passed."""
    wait = 64 * ctx.profile.t1
    if wait > 10:
        ctx.not_applicable(
            f"64*T1 is {wait:.0f} s with the profile's T1: longer than a case may wait"
        )
    link = ctx.link()
    req = ctx.request("INVITE", link, body=_SDP)
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final, "final response to the INVITE")
    if not 200 <= (final.status or 0) < 300:
        ctx.finish_invite(link, req, final)
        ctx.inconclusive(f"the INVITE got {describe(final)}")
    started = time.monotonic()
    bye = link.expect(lambda m: m.method == "BYE" and m.call_id == req.call_id, wait + 2.0)
    dialog = ctx.call(link, req, final)
    if bye is not None:
        respond(link, bye, 200)
        dialog.ended = True
    ctx.check(
        bye is not None,
        f"a BYE about {wait:.1f} s (64*T1) after the 2xx",
        f"none within {time.monotonic() - started:.1f} s",
        requirement=1,
    )
