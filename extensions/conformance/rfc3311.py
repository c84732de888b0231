"""RFC 3311 on the wire: a UAS answers UPDATE in a dialog, and 481 outside one (§5.2)."""

from __future__ import annotations

import re
import time
from typing import Any

from conformance.cases.uac_dialog import CALLED, uri_of
from conformance.cases.uas import _call
from conformance.messages import Outgoing, ack_for, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer
from conformance.wire import Link


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
##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
##= type=test
##% However, unlike a re-INVITE, the UPDATE MUST be
##% responded to promptly, and therefore the user cannot generally be
##% prompted to approve the session changes.
##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
##= type=test
##% If the UAS cannot change the
##% session parameters without prompting the user, it SHOULD reject the
##% request with a 504 response.
##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
##= type=test
##% This response SHOULD include a Warning header
##% field.
##= https://www.rfc-editor.org/rfc/rfc3311#section-4
##= type=test
##% and a 2xx response SHOULD contain an Allow header field listing the UPDATE method.
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
    invite, final = _call(ctx, link)  # a confirmed dialog
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
    allowed = {m.strip().upper() for m in final.get_all("Allow")}
    ctx.should("UPDATE" in allowed, "Allow: ... UPDATE in the 2xx", f"Allow: {final.get('Allow')}")
    started = time.monotonic()
    got, _ = ctx.transaction(link, update)
    took = time.monotonic() - started
    got = ctx.require_final(got, "response to UPDATE")
    # promptly: within a few retransmission intervals, not after a user's decision
    ctx.check(took <= max(2.0, 16 * ctx.profile.t1), "a prompt final response", f"{took:.2f} s", 1)
    if got.status == 504:
        ctx.should(got.get("Warning") is not None, "a Warning in the 504", "none")
        return
    ctx.check(200 <= (got.status or 0) < 300, "2xx to the UPDATE (or 504)", describe(got))
    ctx.check(bool(got.body), "an answer in the 2xx", describe(got))


_SDP = (
    b"v=0\r\no=tester 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


# --- the UAC role: the runner is the UAS the target calls (conformance.trigger.Peer) ------

TIMED = "a call from the target asking for a session timer ([uac] timer)"
ALLOW_UPDATE = "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE"


def _refresh(
    ctx: Context, peer: Peer, invite: Message, addr: tuple[str, int], interval: int
) -> tuple[Message, Any]:
    """Grant ``interval`` s with refresher=uac and Allow: ... UPDATE; the UAC's refresh (or
    not applicable: none within the interval)."""
    peer.answer(
        invite,
        addr,
        200,
        headers=[f"Session-Expires: {interval};refresher=uac", "Require: timer", ALLOW_UPDATE],
    )
    if peer.request("ACK", 3.0, invite.call_id) is None:
        ctx.inconclusive("no ACK for the 2xx")
    got = peer.expect(
        lambda m: (
            m.method in ("INVITE", "UPDATE", "BYE")
            and m.call_id == invite.call_id
            and m.branch != invite.branch
        ),
        interval + 0.6,
    )
    if got is None or got[0].method == "BYE":
        peer.serve(0.2)
        ctx.not_applicable(
            f"no refresh within the {interval} s granted: the UAC may hold an interval below "
            "RFC 4028's 90 s floor as 90 s; a 45 s wait is beyond a quick case"
        )
    assert got is not None
    return got


##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% If
##% a UAC knows that its peer supports the UPDATE method, it is
##% RECOMMENDED that UPDATE be used instead of a re-INVITE.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% It is RECOMMENDED that the UPDATE request not contain an
##% offer [4], but a re-INVITE SHOULD contain one, even if the details of
##% the session have not changed.
##= https://www.rfc-editor.org/rfc/rfc3311#section-4
##= type=test
##% However, a UAC
##% compliant to this specification SHOULD also include an Allow header
##% field in the INVITE request, listing the method UPDATE, to indicate
##% its ability to receive an UPDATE request.
@case(
    "uac-3311-update-refresh",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble=TIMED,
    no_control=RUNNER_ANSWERS,
)
def uac_update_refresh(ctx: Context) -> None:
    """A session timer of 2 s (refresher=uac) granted by a 2xx whose Allow lists UPDATE: the
    refresh is an UPDATE without an offer; a UAC that sends UPDATE listed it in its
    INVITE's Allow."""
    peer = Peer(ctx, "timer")
    invite, addr = peer.first("INVITE", TIMED)
    refresh, where = _refresh(ctx, peer, invite, addr, 2)
    peer.answer(refresh, where, 200, headers=["Session-Expires: 90;refresher=uac"])
    peer.serve(0.2)
    ctx.should(
        refresh.method == "UPDATE", "an UPDATE refresh (the peer allows it)", refresh.start_line
    )
    if refresh.method == "UPDATE":
        ctx.should(not refresh.body, "an UPDATE without an offer", f"{len(refresh.body)} bytes")
        allowed = {m.strip().upper() for m in invite.get_all("Allow")}
        ctx.should(
            "UPDATE" in allowed, "Allow: ... UPDATE in the INVITE", f"Allow: {invite.get('Allow')}"
        )


##= https://www.rfc-editor.org/rfc/rfc3311#section-5.3
##= type=test
##% If a UAC receives a 491 response to a UPDATE, it SHOULD start a timer
##% with a value T chosen as follows:
##= https://www.rfc-editor.org/rfc/rfc3311#section-5.3
##= type=test
##% When the timer fires, the UAC SHOULD attempt the UPDATE once more, if
##% it still desires for that session modification to take place.
@case(
    "uac-3311-491-update-retried",
    roles=UAC,
    level="SHOULD",
    timeout=20,
    preamble=TIMED,
    no_control=RUNNER_ANSWERS,
)
def uac_update_491(ctx: Context) -> None:
    """The UAC's UPDATE (a session refresh, 8 s granted) answered 491: the UPDATE again
    2.1 to 4 s later (the UAC chose the Call-ID)."""
    peer = Peer(ctx, "timer")
    invite, addr = peer.first("INVITE", TIMED)
    update, where = _refresh(ctx, peer, invite, addr, 8)
    if update.method != "UPDATE":
        peer.answer(update, where, 200, headers=["Session-Expires: 90;refresher=uac"])
        ctx.not_applicable(f"the refresh is a {update.method}, not an UPDATE")
    peer.answer(update, where, 491, contact=False)
    at = time.monotonic()
    retry = peer.expect(
        lambda m: (
            m.method == "UPDATE" and m.call_id == invite.call_id and m.branch != update.branch
        ),
        5.0,
    )
    gap = time.monotonic() - at
    if retry is not None:
        peer.answer(retry[0], retry[1], 200, headers=["Session-Expires: 90;refresher=uac"])
    peer.serve(0.2)
    ctx.should(retry is not None, "the UPDATE tried again", "none within 5 s")
    ctx.should(2.0 <= gap <= 4.2, "the retry 2.1 to 4 s after the 491", f"after {gap:.2f} s")


##= https://www.rfc-editor.org/rfc/rfc3311#section-5.1
##= type=test
##% Although UPDATE can be used on confirmed dialogs, it is RECOMMENDED
##% that a re-INVITE be used instead.
@case(
    "uac-3311-reinvite-when-confirmed",
    roles=UAC,
    level="SHOULD",
    timeout=20,
    preamble=CALLED.format(kind="reinvite"),
    no_control=RUNNER_ANSWERS,
)
def uac_reinvite_confirmed(ctx: Context) -> None:
    """The UAC changes its confirmed session (hold) with a re-INVITE, though the 2xx's Allow
    lists UPDATE."""
    peer = Peer(ctx, "reinvite")
    invite, addr = peer.first("INVITE", CALLED.format(kind="reinvite"))
    peer.answer(invite, addr, 200, headers=[ALLOW_UPDATE])
    if peer.request("ACK", 3.0, invite.call_id) is None:
        ctx.inconclusive("no ACK for the 2xx")
    got = peer.expect(
        lambda m: (
            m.method in ("INVITE", "UPDATE")
            and m.call_id == invite.call_id
            and m.branch != invite.branch
        ),
        8.0,
    )
    if got is None:
        ctx.inconclusive("no session change within 8 s")
    assert got is not None
    peer.answer(got[0], got[1], 200)
    peer.serve(0.2)
    ctx.should(got[0].method == "INVITE", "a re-INVITE", got[0].start_line)


# --- the UAS role: UPDATE in an early dialog while an offer is open (§5.2) ---------------


def _early(ctx: Context, link: Link, invite: Outgoing) -> Message:
    """Send ``invite`` to the profile's ringing user; its first provisional response with a
    To tag (the call is left ringing: the postamble CANCELs it), else inconclusive."""
    link.send(bytes(invite))
    ctx.ringing.append((link, invite))
    got = link.expect(
        lambda m: m.is_response and m.branch == invite.branch and (m.status or 0) > 100,
        timeout=max(2.0, 10 * ctx.profile.t1),
        retransmit=None if ctx.target.reliable else (lambda: link.send(bytes(invite))),
        interval=ctx.profile.t1,
    )
    if got is None or (got.status or 0) >= 200:
        if got is not None:
            ctx.ringing.remove((link, invite))
            ctx.finish_invite(link, invite, got)
        ctx.inconclusive(f"no provisional response to the INVITE ({describe(got)})")
    assert got is not None
    if got.to_tag is None:
        ctx.inconclusive("the provisional response has no To tag: no early dialog")
    return got


def _early_request(
    invite: Outgoing, provisional: Message, ctx: Context, method: str, cseq: int
) -> Outgoing:
    """A request of the caller's (the runner's) in the early dialog of ``provisional``."""
    request = ack_for(invite, provisional, ctx.target)
    request.method = method
    request.set("CSeq", f"{cseq} {method}")
    request.set("Contact", invite.get("Contact") or "")
    return request


def _ringing(ctx: Context) -> str:
    _update_supported(ctx)
    if not ctx.profile.ringing_user:
        ctx.not_applicable("the profile names no ringing user (an INVITE left ringing)")
    return ctx.profile.ringing_user


##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
##= type=test
##% If an UPDATE is received that contains an offer, and the UAS has
##% generated an offer (in an UPDATE, PRACK or INVITE) to which it has
##% not yet received an answer, the UAS MUST reject the UPDATE with a 491
##% response.
##= https://www.rfc-editor.org/rfc/rfc3311#section-4
##= type=test
##% When a UAS compliant to this specification receives an INVITE request
##% for a new dialog, and generates a reliable provisional response
##% containing SDP, that response SHOULD contain an Allow header field
##% that lists the UPDATE method.
@case(
    "rfc3311-update-glare-491",
    roles=("uas",),
    level="MUST",
    no_control="judged on the UPDATE sent while the target's own offer is open",
)
def update_glare(ctx: Context) -> None:
    """An INVITE without an offer, requiring 100rel, to the ringing user: its reliable 18x
    carries the target's offer (and Allow: UPDATE); an UPDATE with an offer sent before
    the PRACK's answer gets 491."""
    user = _ringing(ctx)
    if "PRACK" not in {m.upper() for m in ctx.profile.methods}:
        ctx.not_applicable("the profile does not list PRACK: no reliable 18x with an offer")
    link = ctx.link()
    invite = ctx.request("INVITE", link, user=user, extra=[("Require", "100rel")])
    ringing = _early(ctx, link, invite)
    if ringing.get("RSeq") is None or not ringing.body:
        ctx.not_applicable("no reliable 18x carrying the target's offer")
    allowed = {m.strip().upper() for m in ringing.get_all("Allow")}
    ctx.should(
        "UPDATE" in allowed, "Allow: ... UPDATE in the 18x", f"Allow: {ringing.get('Allow')}"
    )
    update = _early_request(invite, ringing, ctx, "UPDATE", invite.cseq_number + 1)
    update.set("Content-Type", "application/sdp")
    update.body = _SDP
    got, _ = ctx.transaction(link, update)
    got = ctx.require_final(got, "response to the UPDATE")
    prack = _early_request(invite, ringing, ctx, "PRACK", invite.cseq_number + 2)
    prack.add("RAck", f"{ringing.get('RSeq')} {invite.cseq_number} INVITE")
    prack.set("Content-Type", "application/sdp")
    prack.body = _SDP
    ctx.transaction(link, prack)
    ctx.check(got.status == 491, "491 (Request Pending)", describe(got))


##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
##= type=test
##% Similarly, if an UPDATE is received that contains an
##% offer, and the UAS has received an offer (in an UPDATE, PRACK, or
##% INVITE) to which it has not yet generated an answer, the UAS MUST
##% reject the UPDATE with a 500 response, and MUST include a Retry-After
##% header field with a randomly chosen value between 0 and 10 seconds.
@case(
    "rfc3311-update-offer-unanswered-500",
    roles=("uas",),
    level="MUST",
    no_control="judged on the UPDATE sent while the runner's own offer is unanswered",
)
def update_offer_unanswered(ctx: Context) -> None:
    """An INVITE with an offer (no 100rel) to the ringing user: its 18x carries no answer,
    so an UPDATE with a new offer in the early dialog gets 500 with Retry-After 0 to 10."""
    user = _ringing(ctx)
    link = ctx.link()
    invite = ctx.request("INVITE", link, user=user, body=_SDP)
    ringing = _early(ctx, link, invite)
    if ringing.body:
        ctx.not_applicable("the 18x carries a session description: the offer may be answered")
    update = _early_request(invite, ringing, ctx, "UPDATE", invite.cseq_number + 1)
    update.set("Content-Type", "application/sdp")
    update.body = _SDP.replace(b"1 1 IN", b"1 2 IN")
    got, _ = ctx.transaction(link, update)
    got = ctx.require_final(got, "response to the UPDATE")
    ctx.check(got.status == 500, "500 (Server Internal Error)", describe(got))
    retry = (got.get("Retry-After") or "").split(";", 1)[0].split("(", 1)[0].strip()
    ctx.check(
        retry.isdigit() and 0 <= int(retry) <= 10,
        "Retry-After between 0 and 10",
        f"Retry-After: {got.get('Retry-After')}",
    )


##= https://www.rfc-editor.org/rfc/rfc3311#section-5.1
##= type=test
##% If a UA uses an UPDATE request or response to modify the remote target
##% while an INVITE transaction is in progress, and it is a UAS for that
##% INVITE transaction, it MUST place the same value into the Contact
##% header field of the 2xx to the INVITE that it placed into the UPDATE
##% request or response.
@case(
    "rfc3311-update-contact-kept-in-2xx",
    roles=("uas",),
    level="MUST",
    no_control="judged on the Contacts of the UPDATE's 2xx and the INVITE's 2xx",
)
def update_contact_kept(ctx: Context) -> None:
    """An INVITE without an offer, requiring 100rel, to the answering user: while its
    reliable 18x (with the target's offer) waits for the PRACK, an UPDATE without an offer
    gets a 2xx with a Contact; the 2xx to the INVITE, after the PRACK's answer, carries the
    same Contact."""
    _update_supported(ctx)
    if "PRACK" not in {m.upper() for m in ctx.profile.methods}:
        ctx.not_applicable("the profile does not list PRACK: no early dialog held open")
    link = ctx.link()
    invite = ctx.request("INVITE", link, extra=[("Require", "100rel")])
    early = _early(ctx, link, invite)
    if early.get("RSeq") is None or not early.body:
        ctx.not_applicable("no reliable 18x with the target's offer: the INVITE is not held")
    update = _early_request(invite, early, ctx, "UPDATE", invite.cseq_number + 1)
    got, _ = ctx.transaction(link, update)
    prack = _early_request(invite, early, ctx, "PRACK", invite.cseq_number + 2)
    prack.add("RAck", f"{early.get('RSeq')} {invite.cseq_number} INVITE")
    prack.set("Content-Type", "application/sdp")
    prack.body = _SDP
    ctx.transaction(link, prack)
    if got is None or not 200 <= (got.status or 0) < 300 or got.get("Contact") is None:
        ctx.inconclusive(f"no 2xx with a Contact to the UPDATE ({describe(got)})")
    assert got is not None
    final = link.expect(
        lambda m: m.is_response and m.branch == invite.branch and (m.status or 0) >= 200,
        timeout=max(2.0, 10 * ctx.profile.t1),
    )
    if final is None:
        ctx.inconclusive("no final response to the INVITE after the PRACK")
    assert final is not None
    ctx.ringing.remove((link, invite))
    if not 200 <= (final.status or 0) < 300:
        ctx.finish_invite(link, invite, final)
        ctx.inconclusive(f"the INVITE was not accepted ({describe(final)})")
    dialog = ctx.call(link, invite, final)
    dialog.cseq = max(dialog.cseq, invite.cseq_number + 2)
    link.send(bytes(ack_for(invite, final, ctx.target)), "ACK")
    ctx.check(
        uri_of(final.get("Contact") or "") == uri_of(got.get("Contact") or ""),
        f"the UPDATE's 2xx Contact {got.get('Contact')} in the INVITE's 2xx",
        f"Contact: {final.get('Contact')}",
    )


##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
##= type=test
##% A UAS that receives an UPDATE before it has generated a final response
##% to a previous UPDATE on the same dialog MUST return a 500 response to
##% the new UPDATE, and MUST include a Retry-After header field with a
##% randomly chosen value between 0 and 10 seconds.
@case(
    "rfc3311-overlapping-update-500",
    roles=("uas",),
    level="MUST",
    preamble="a confirmed dialog (INVITE, 2xx, ACK)",
    no_control="judged on two UPDATEs sent back to back in the preamble's dialog",
)
def overlapping_update(ctx: Context) -> None:
    """Two UPDATEs sent back to back in a confirmed dialog: when the second is answered
    before the first, the first was still unanswered, so the second gets 500 with
    Retry-After 0 to 10 (a target that answers the first at once is not judged)."""
    _update_supported(ctx)
    link = ctx.link()
    invite, final = _call(ctx, link)  # a confirmed dialog
    dialog = ctx.call(link, invite, final)
    updates = []
    for _ in range(2):
        update = ack_for(invite, final, ctx.target)
        update.method = "UPDATE"
        dialog.cseq += 1
        update.set("CSeq", f"{dialog.cseq} UPDATE")
        update.set("Contact", invite.get("Contact") or "")
        updates.append(update)
    for update in updates:
        link.send(bytes(update), "UPDATE")
    order: list[Message] = []
    branches = {u.branch for u in updates}
    end = time.monotonic() + max(2.0, 10 * ctx.profile.t1)
    while len(order) < 2 and (left := end - time.monotonic()) > 0:
        got = link.expect(
            lambda m: (
                m.is_response
                and m.branch in branches
                and (m.status or 0) >= 200
                and m.branch not in {o.branch for o in order}
            ),
            timeout=left,
            retransmit=None
            if ctx.target.reliable
            else (
                lambda: [
                    link.send(bytes(u))
                    for u in updates
                    if u.branch not in {o.branch for o in order}
                ]
            ),
            interval=ctx.profile.t1,
        )
        if got is None:
            break
        order.append(got)
    if len(order) < 2:
        ctx.inconclusive(f"{len(order)} of the 2 UPDATEs answered")
    if order[0].branch == updates[0].branch:
        ctx.not_applicable("the first UPDATE was answered before the second (no overlap)")
    second = order[0]
    retry = (second.get("Retry-After") or "").split(";", 1)[0].split("(", 1)[0].strip()
    ctx.check(
        second.status == 500 and retry.isdigit() and 0 <= int(retry) <= 10,
        "500 with Retry-After 0 to 10 to the UPDATE overlapping another",
        f"{describe(second)}; Retry-After: {second.get('Retry-After')}",
    )


def _o_line(msg: Message) -> str | None:
    for line in msg.body.decode("utf-8", "replace").splitlines():
        if line.startswith("o="):
            return line.strip()
    return None


##= https://www.rfc-editor.org/rfc/rfc3311#section-5.2
##= type=test
##% If a UA receives an UPDATE for an existing dialog, it MUST check any
##% version identifiers in the session description or, if there are no
##% version identifiers, the content of the session description to see if
##% it has changed.
@case(
    "rfc3311-update-unchanged-offer",
    roles=("uas",),
    level="MUST",
    preamble="a confirmed dialog (INVITE, 2xx, ACK)",
    no_control="the UPDATE in the preamble's dialog is the exchange under test",
)
def update_unchanged(ctx: Context) -> None:
    """An UPDATE whose offer repeats the INVITE's, version and all: the target sees nothing
    changed, so the answer in its 2xx is the one it gave before (the same o= line)."""
    _update_supported(ctx)
    link = ctx.link()
    invite, final = _call(ctx, link)  # a confirmed dialog
    dialog = ctx.call(link, invite, final)
    if _o_line(final) is None:
        ctx.inconclusive("the 2xx to the INVITE carries no SDP answer to compare with")
    update = ack_for(invite, final, ctx.target)
    update.method = "UPDATE"
    dialog.cseq += 1
    update.set("CSeq", f"{dialog.cseq} UPDATE")
    update.set("Contact", invite.get("Contact") or "")
    update.set("Content-Type", "application/sdp")
    update.body = _SDP
    got, _ = ctx.transaction(link, update)
    got = ctx.require_final(got, "response to UPDATE")
    if not 200 <= (got.status or 0) < 300:
        ctx.inconclusive(f"the UPDATE was not accepted ({describe(got)})")
    ctx.check(
        _o_line(got) == _o_line(final),
        f"the same answer as before ({_o_line(final)})",
        f"{_o_line(got)}",
    )
