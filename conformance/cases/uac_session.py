"""The UAC's session and dialog, the rest (RFC 3261 §12.1.2, §12.2.1.2, §13.1, §13.2.1,
§13.2.2.3, §15, §15.1.1): requests the runner sends in the call, the offer/answer exchanges,
a final response after the final response, BYE refused or never answered, no BYE outside a
dialog.
"""

from __future__ import annotations

from conformance.cases.uac_dialog import CALLED, _Call, sdp_offer, uri_of
from conformance.messages import unique
from conformance.model import Context, case
from conformance.sipmsg import Message
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer, sdp_answer

ORDER = 69  # after the first UAC modules

INVITED = "an INVITE from the target ([uac] invite)"


def in_dialog(
    call: _Call,
    method: str,
    cseq: int,
    body: bytes = b"",
    content_type: str = "",
    branch: str = "",
) -> tuple[bytes, str]:
    """A request of the runner's (the callee's) in ``call``'s dialog, and its branch."""
    peer = call.peer
    contact = uri_of(call.invite.get("Contact") or "")
    branch = branch or "z9hG4bK" + unique("d")
    typed = f"Content-Type: {content_type}\r\n" if body else ""
    to = call.invite.get("From") or ""
    sender = f"{call.invite.get('To')};tag={peer.tag}"
    data = (
        f"{method} {contact} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {peer.server.hostport};branch={branch}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: {sender}\r\n"
        f"To: {to}\r\n"
        f"Call-ID: {call.invite.call_id}\r\n"
        f"CSeq: {cseq} {method}\r\n"
        f"Contact: <{call.target}>\r\n"
        f"{typed}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    return data, branch


def contact_address(ctx: Context, call: _Call) -> tuple[str, int]:
    """Where the target's Contact says to send requests (loopback host and port)."""
    contact = uri_of(call.invite.get("Contact") or "")
    host, _, port = contact.split("@", 1)[-1].split(";", 1)[0].rpartition(":")
    if not port.isdigit():
        ctx.inconclusive(f"the Contact {contact} names no port on loopback")
    return host.strip("[]"), int(port)


def send_in_dialog(
    ctx: Context, call: _Call, method: str, cseq: int, body: bytes = b"", content_type: str = ""
) -> tuple[str, Message | None]:
    """Send a request in the dialog to the target's Contact; its final response, or None."""
    data, branch = in_dialog(call, method, cseq, body, content_type)
    call.peer.send(data, contact_address(ctx, call), f"{method} in the dialog")
    got = call.peer.expect(
        lambda m: m.is_response and m.branch == branch and (m.status or 0) >= 200, 3.0
    )
    return branch, got[0] if got else None


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.1
##= type=test
##% A UA that supports INVITE MUST also support ACK, CANCEL and BYE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% The remote sequence number MUST be empty (it is
##% established when the remote UA sends a request within the dialog).
@case(
    "uac-bye-from-callee",
    roles=UAC,
    timeout=15,
    preamble=CALLED.format(kind="invite"),
    no_control=RUNNER_ANSWERS,
)
def bye_from_callee(ctx: Context) -> None:
    """The runner (the callee) hangs up with a BYE whose CSeq is 0, below the INVITE's: the
    caller has no remote sequence number yet, so it accepts it with a 2xx."""
    call = _Call(ctx, "invite")
    call.ack()
    _, got = send_in_dialog(ctx, call, "BYE", 0)
    ctx.check(got is not None, "a final response to the BYE", "none within 3 s")
    assert got is not None
    status = got.status or 0
    ctx.check(status not in (405, 501), "BYE supported", f"{status} {got.reason}")
    ctx.check(200 <= status < 300, "2xx to the BYE (CSeq 0)", f"{status} {got.reason}", 1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% For example, a UA capable of receiving
##% INFO requests within a dialog [34] SHOULD include an Allow header
##% field listing the INFO method.
@case(
    "uac-allow-info",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble=CALLED.format(kind="invite"),
    no_control=RUNNER_ANSWERS,
)
def allow_info(ctx: Context) -> None:
    """The runner sends an INFO in the call: if the target takes it (2xx), its INVITE's
    Allow listed INFO."""
    call = _Call(ctx, "invite")
    call.ack()
    _, got = send_in_dialog(ctx, call, "INFO", 1)
    if got is None:
        ctx.inconclusive("no final response to the INFO")
    assert got is not None
    if not 200 <= (got.status or 0) < 300:
        ctx.not_applicable(f"the target does not take INFO ({got.status} {got.reason})")
    allowed = [m.strip().upper() for m in call.invite.get_all("Allow")]
    ctx.check("INFO" in allowed, "INFO in the INVITE's Allow", ", ".join(allowed) or "no Allow")


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% All user agents that support INVITE MUST support these two
##% exchanges.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% The Session Description Protocol (SDP) (RFC 2327 [1]) MUST be
##% supported by all user agents as a means to describe sessions, and its
##% usage for constructing offers and answers MUST follow the procedures
##% defined in [13].
@case(
    "uac-offer-answer-sdp",
    roles=UAC,
    timeout=15,
    preamble=CALLED.format(kind="invite"),
    no_control=RUNNER_ANSWERS,
)
def offer_answer_sdp(ctx: Context) -> None:
    """Whichever exchange the target picks, it speaks SDP: an offer in the INVITE (then the
    200's answer closes it: the ACK has no body), or an answer in the ACK to the 200's
    offer."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    if invite.body:
        kind = (invite.get("Content-Type") or "").split(";")[0].strip().lower()
        peer.answer(invite, addr, 200)
        got = peer.request("ACK", 3.0, invite.call_id)
        ctx.check(kind == "application/sdp", "an SDP offer", f"Content-Type {kind}", 1)
        ctx.check(invite.body.lstrip().startswith(b"v=0"), "v=0 first", repr(invite.body[:20]), 1)
        ctx.check(got is not None, "an ACK for the 200 with the answer", "none")
        assert got is not None
        ctx.check(not got[0].body, "an ACK without body (no new offer)", repr(got[0].body[:40]))
        return
    peer.answer(invite, addr, 200, body=sdp_offer())
    got = peer.request("ACK", 3.0, invite.call_id)
    ctx.check(got is not None, "an ACK for the 200 with an offer", "none")
    assert got is not None
    kind = (got[0].get("Content-Type") or "").split(";")[0].strip().lower()
    ctx.check(bool(got[0].body), "an answer in the ACK", "an ACK without body")
    ctx.check(kind == "application/sdp", "an SDP answer", f"Content-Type {kind}", 1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% The UAC MUST treat the first session description it receives as the
##% answer, and MUST ignore any session descriptions in subsequent
##% responses to the initial INVITE.
@case(
    "uac-first-answer-kept",
    roles=UAC,
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def first_answer_kept(ctx: Context) -> None:
    """An offer in the INVITE, the answer in a 183, another description in the 200: the
    200's is ignored, not taken for an offer (the ACK carries no body)."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    if not invite.body:
        peer.answer(invite, addr, 486)
        ctx.not_applicable("the INVITE carries no offer")
    answer = sdp_answer(invite.body)
    peer.answer(invite, addr, 183, body=answer, contact=True)
    other = answer.replace(b"o=runner 1 1", b"o=runner 1 2").replace(b"49170", b"49180")
    peer.answer(invite, addr, 200, body=other)
    got = peer.request("ACK", 3.0, invite.call_id)
    ctx.check(got is not None, "an ACK for the 200", "none")
    assert got is not None
    ctx.check(
        not got[0].body,
        "an ACK without body (the 200's description ignored)",
        repr(got[0].body[:60]),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.3
##= type=test
##% Subsequent final responses (which would only arrive
##% under error conditions) MUST be ignored.
@case(
    "uac-second-final-ignored",
    roles=UAC,
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def second_final_ignored(ctx: Context) -> None:
    """After a 486 (ACKed), a 200 from another branch is ignored: no ACK for it, no BYE."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 486)
    with ctx.preamble("the ACK for the 486"):
        if peer.request("ACK", 3.0, invite.call_id) is None:
            ctx.inconclusive("no ACK for the 486")
    late = peer.tag + "late"
    peer.answer(invite, addr, 200, tag=late, note="a 200 after the 486")
    seen = peer.collect(
        lambda m: m.call_id == invite.call_id and m.method in ("ACK", "BYE") and m.to_tag == late,
        1.0,
    )
    for _, msg in seen:
        if msg.method == "BYE":
            peer.ok(msg, addr)
    ctx.check(
        not seen,
        "the 200 after the 486 ignored",
        ", ".join(m.method or "" for _, m in seen),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-15
##= type=test
##% A UA MUST NOT send a BYE outside of a dialog.
@case(
    "uac-no-bye-outside-dialog",
    roles=UAC,
    timeout=15,
    preamble="a call from the target turned down with 486 ([uac] bye)",
    no_control=RUNNER_ANSWERS,
)
def no_bye_outside_dialog(ctx: Context) -> None:
    """A call turned down (486) makes no dialog: the target, which hangs up 1 s into a
    call, sends no BYE."""
    peer = Peer(ctx, "bye")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 486)
    bye = peer.request("BYE", 1.5, invite.call_id)
    if bye is not None:
        peer.answer(bye[0], bye[1], 481, contact=False)
    ctx.check(bye is None, "no BYE for a call that never was", "a BYE")


##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.1
##= type=test
##% If the response for the BYE is a 481
##% (Call/Transaction Does Not Exist) or a 408 (Request Timeout) or no
##% response at all is received for the BYE (that is, a timeout is
##% returned by the client transaction), the UAC MUST consider the
##% session and the dialog terminated.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.2
##= type=test
##% If the response for a request within a dialog is a 481
##% (Call/Transaction Does Not Exist) or a 408 (Request Timeout), the UAC
##% SHOULD terminate the dialog.
@case(
    "uac-bye-481-ends-dialog",
    roles=UAC,
    timeout=15,
    preamble=CALLED.format(kind="bye"),
    no_control=RUNNER_ANSWERS,
)
def bye_481(ctx: Context) -> None:
    """A BYE answered 481: the dialog is over, no other request follows in it."""
    call = _Call(ctx, "bye")
    call.ack()
    bye, addr = call.next("BYE", 8.0)
    call.peer.answer(bye, addr, 481, contact=False)
    more = call.peer.collect(
        lambda m: (
            m.call_id == call.invite.call_id
            and m.method not in (None, "ACK")
            and m.branch != bye.branch
        ),
        1.5,
    )
    ctx.check(
        not more,
        "nothing more in the dialog after the 481",
        ", ".join(f"{m.method} {m.get('CSeq')}" for _, m in more),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.1
##= type=test
##% If the response for the BYE is a 481
##% (Call/Transaction Does Not Exist) or a 408 (Request Timeout) or no
##% response at all is received for the BYE (that is, a timeout is
##% returned by the client transaction), the UAC MUST consider the
##% session and the dialog terminated.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.2
##= type=test
##% A UAC SHOULD also terminate a dialog if no response at all is received
##% for the request (the client transaction would inform the TU about the
##% timeout.)
@case(
    "uac-bye-timeout-ends-dialog",
    roles=UAC,
    # Timer F of the BYE takes 64*T1 (6.4 s at T1 = 0.1 s): kept out of the 3-minute wave
    tags=("slow",),
    transports=("udp",),
    timeout=30,
    preamble=CALLED.format(kind="bye"),
    no_control=RUNNER_ANSWERS,
)
def bye_timeout(ctx: Context) -> None:
    """A BYE never answered: after its Timer F (64*T1) nothing new comes in the dialog."""
    t1 = ctx.profile.t1
    call = _Call(ctx, "bye")
    call.ack()
    bye, _ = call.next("BYE", 8.0)
    seen = call.peer.collect(
        lambda m: m.call_id == call.invite.call_id and m.method not in (None, "ACK"),
        64 * t1 * 1.1 + 0.8,
    )
    more = [m for _, m in seen if m.branch != bye.branch]
    ctx.check(
        not more,
        "nothing new in the dialog after the unanswered BYE",
        ", ".join(f"{m.method} {m.get('CSeq')}" for m in more),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
##= type=test
##% If there is an ongoing INVITE server transaction, the TU MUST wait
##% until the transaction reaches the confirmed or terminated state
##% before initiating the new INVITE.
@case(
    "uac-reinvite-waits-server-transaction",
    roles=UAC,
    transports=("udp",),
    timeout=25,
    preamble=CALLED.format(kind="reinvite"),
    no_control=RUNNER_ANSWERS,
)
def reinvite_waits_server_transaction(ctx: Context) -> None:
    """Right after the call is up the runner re-INVITEs with a body the target refuses
    (a non-2xx), and holds back its ACK for 2 s: the target's own re-INVITE, due about
    1 s into the call, waits for that ACK (its INVITE server transaction is Completed)."""
    call = _Call(ctx, "reinvite")
    call.ack()
    peer = call.peer
    body = b"not a session description\r\n"
    data, branch = in_dialog(call, "INVITE", 1, body, "application/x-sipref-unknown")
    where = contact_address(ctx, call)
    peer.send(data, where, "re-INVITE the target cannot take")
    got = peer.expect(
        lambda m: m.is_response and m.branch == branch and (m.status or 0) >= 200, 3.0
    )
    if got is None:
        ctx.inconclusive("no final response to the runner's re-INVITE")
    assert got is not None
    refusal = got[0]
    if (refusal.status or 0) < 300:
        ctx.not_applicable(
            f"the target took the re-INVITE ({refusal.status}): its server transaction ended"
        )
    held = peer.collect(
        lambda m: (
            m.method == "INVITE"
            and m.call_id == call.invite.call_id
            and m.branch != call.invite.branch
        ),
        2.0,
    )
    ack = (
        f"ACK {uri_of(call.invite.get('Contact') or '')} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {peer.server.hostport};branch={branch}\r\n"
        "Max-Forwards: 70\r\n"
        f"From: {call.invite.get('To')};tag={peer.tag}\r\n"
        f"To: {refusal.get('To')}\r\n"
        f"Call-ID: {call.invite.call_id}\r\n"
        "CSeq: 1 ACK\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    peer.send(ack, where, f"ACK for the {refusal.status}, 2 s late")
    for _, early in held:
        peer.answer(early, call.addr, 491)
    later = peer.request("INVITE", 3.0, call.invite.call_id)
    if later is not None:
        peer.answer(later[0], later[1], 200)
    ctx.check(
        not held,
        f"no re-INVITE before the ACK for the {refusal.status}",
        f"a re-INVITE {held and held[0][1].get('CSeq')} while it was unacknowledged",
    )
    if later is None:
        ctx.inconclusive("the target sent no re-INVITE at all (nothing to judge)")
