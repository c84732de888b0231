"""RFC 6026 seen at a UAS: the "Accepted" state of its INVITE server transaction.  The 2xx
goes out and its repeats (the TU's, RFC 3261 §13.3.1.4) go out too while the INVITE
transaction absorbs a repeated INVITE; the ACK reaches the TU, which stops repeating — also
the ACK of an RFC 2543 client, which carries no branch (§6, §7.1, §8.5, §8.7); a response
that matches none of the UAS's client transactions is dropped silently, one that matches
goes to its transaction (§8.9).  The runner plays the UAC (`conformance.cases.uas`).
"""

from __future__ import annotations

import time

from conformance.cases._uas_support import callee_bye, respond
from conformance.cases.transaction import OWN_2XX, _copies, _invite
from conformance.cases.uas import _SDP, UAS, _control
from conformance.messages import ack_for, bye_for, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message

#: load order of the case modules (conformance.discovery)
ORDER = 78  # after uas_invite


def _accepted(ctx: Context, final: Message) -> bool:
    return 200 <= (final.status or 0) < 300


##= https://www.rfc-editor.org/rfc/rfc6026#section-8.5
##= type=test
##% If, while in the "Proceeding" state, the TU passes a 2xx response to the server
##% transaction, the server transaction MUST pass this response to the transport layer for
##% transmission.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##= type=test
##% Any retransmission of the 2xx response passed from the TU to the transaction while in the
##% "Accepted" state MUST be passed to the transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.7
##= type=test
##% While in the "Accepted" state, if the TU passes a 2xx response, the server transaction
##% MUST pass the response to the transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##= type=test
##% If the SIP element's TU (Transaction User) issues a 2xx response for this transaction
##% while the state machine is in the "Proceeding" state, the state machine MUST transition
##% to the "Accepted" state and set Timer L to 64*T1, where T1 is the round-trip time
##% estimate defined in Section 17.1.1.1 of [RFC3261].
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.5
##= type=test
##% The server transaction MUST then transition to the "Accepted" state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##= type=test
##% Any ACKs received from the network while in the "Accepted" state MUST be passed directly
##% to the TU and not absorbed.
@case("uas-6026-accepted", roles=UAS, transports=("udp",), timeout=20, no_control=OWN_2XX)
def accepted(ctx: Context) -> None:
    """An INVITE answered 200 and left unACKed: the 200 is repeated (the TU's repeats pass the
    "Accepted" transaction); the INVITE repeated meanwhile is absorbed (no other final
    response, no second call); the ACK then reaches the TU: the repeats stop."""
    link = ctx.link()
    req, final, _ = _invite(ctx, link)
    if not _accepted(ctx, final):
        ctx.finish_invite(link, req, final)
        ctx.inconclusive(f"the INVITE got {describe(final)}, not 2xx")
    t1 = ctx.profile.t1

    def same_2xx(m: Message) -> bool:
        return (
            m.is_response
            and m.status == final.status
            and m.branch == final.branch
            and m.to_tag == final.to_tag
        )

    # the INVITE repeated at once: while the 200's first repeat is awaited (at T1), nothing
    # but copies of the 200 may come back; then the ACK, and the repeats (next due at 3*T1)
    # must stop
    link.send(bytes(req), "INVITE (retransmission, while Accepted)")
    others = link.collect(
        lambda m: m.is_response and m.branch == req.branch and not same_2xx(m), 0.5 * t1
    )
    repeat = link.expect(same_2xx, timeout=2.5 * t1)
    repeats = [repeat] if repeat is not None else []
    link.send(bytes(ack_for(req, final, ctx.target)), "ACK")
    time.sleep(0.05)
    link.pending = [m for m in link.pending if not same_2xx(m)]
    after_ack = _copies(ctx, link, final, 3 * t1)
    link.send(bytes(bye_for(req, final, ctx.target)), "BYE (cleanup)")
    link.expect(lambda m: m.is_response and m.cseq[1] == "BYE", timeout=max(0.5, 2 * t1))
    ctx.check(bool(repeats), "the unACKed 200 repeated", "sent once only", requirement=1)
    ctx.check(
        not [m for m in others if (m.status or 0) >= 200 or m.to_tag != final.to_tag],
        "the repeated INVITE absorbed (no other final response, no new To tag)",
        ", ".join(describe(m) for m in others),
        requirement=3,
    )
    ctx.check(not after_ack, "no 200 after the ACK", f"{len(after_ack)} more", requirement=5)


##= https://www.rfc-editor.org/rfc/rfc6026#section-6
##= type=test
##% When receiving an ACK that matches an existing INVITE server transaction and that does not
##% contain a branch parameter containing the magic cookie defined in RFC 3261, the matching
##% transaction MUST be checked to see if it is in the "Accepted" state.
@case("uas-6026-rfc2543-ack", roles=UAS, transports=("udp",), timeout=20, no_control=OWN_2XX)
def rfc2543_ack(ctx: Context) -> None:
    """An INVITE from an RFC 2543 client (no branch in its Via) answered 200: the ACK, no
    branch either, matches the "Accepted" INVITE transaction by the old rules and must reach
    the TU all the same — the 200's repeats stop."""
    link = ctx.link()
    via = f"SIP/2.0/UDP {link.sent_by}"
    req = ctx.request("INVITE", link, body=_SDP)
    req.set("Via", via)
    final_msg, _ = ctx.transaction(link, req, note="INVITE without a branch (RFC 2543)")
    final = ctx.require_final(final_msg, "final response to the branchless INVITE")
    if not _accepted(ctx, final):
        ctx.finish_invite(link, req, final)
        ctx.inconclusive(f"the branchless INVITE got {describe(final)}, not 2xx")

    def same_2xx(m: Message) -> bool:
        return m.is_response and m.status == final.status and m.call_id == req.call_id

    ack = ack_for(req, final, ctx.target)
    ack.set("Via", via)
    link.send(bytes(ack), "ACK without a branch")
    time.sleep(0.05)
    link.pending = [m for m in link.pending if not same_2xx(m)]
    # absorbed, the 200 would be repeated T1 after it was sent (then 3*T1...)
    end = time.monotonic() + 2 * ctx.profile.t1
    after: list[Message] = []
    while (left := end - time.monotonic()) > 0:
        got = link.expect(same_2xx, timeout=left)
        if got is None:
            break
        after.append(got)
    bye = bye_for(req, final, ctx.target)
    bye.set("Via", f"{via};branch={unique('z9hG4bK')}")
    link.send(bytes(bye), "BYE (cleanup)")
    link.expect(lambda m: m.is_response and m.cseq[1] == "BYE", timeout=1.0)
    ctx.check(
        not after,
        "the branchless ACK passed to the TU (no 200 after it)",
        f"{len(after)} more copies of the 200 (the ACK absorbed)",
    )


##= https://www.rfc-editor.org/rfc/rfc6026#section-8.9
##= type=test
##% Otherwise, any element other than a stateless proxy MUST silently discard the response.
@case("uas-6026-stray-response-discarded", roles=UAS)
def stray_response(ctx: Context) -> None:
    """A 200 to an INVITE that the UAS never sent (a branch and Call-ID of no transaction of
    its): silently discarded — no ACK, no response, nothing; an OPTIONS then still works."""
    link = ctx.link()
    lines = [
        "SIP/2.0 200 OK",
        f"Via: SIP/2.0/{ctx.target.via_transport} {ctx.target.hostport};branch="
        + unique("z9hG4bK"),
        f"From: <sip:{ctx.user}@{ctx.target.host}>;tag={unique('f')}",
        f"To: <sip:stray@{link.local[0]}>;tag={unique('t')}",
        f"Call-ID: {unique('stray')}@conformance.invalid",
        "CSeq: 1 INVITE",
        f"Contact: <sip:stray@{link.sent_by}>",
        "Content-Length: 0",
    ]
    link.send(("\r\n".join(lines) + "\r\n\r\n").encode(), "stray 200 (no such transaction)")
    answer = link.expect(timeout=max(0.5, 2 * ctx.profile.t1))
    _control(ctx, link)
    ctx.check(answer is None, "the stray 200 discarded silently", describe(answer))


##= https://www.rfc-editor.org/rfc/rfc6026#section-8.9
##= type=test
##% If there is a match, the response MUST be passed to that transaction.
@case(
    "uas-6026-response-matched",
    roles=UAS,
    transports=("udp",),
    timeout=20,
    no_control="the call to the profile's hangup_user is the preamble: no BYE, inconclusive",
)
def response_matched(ctx: Context) -> None:
    """The target ends a call with its own BYE; our 200 to it matches the BYE's client
    transaction, which then stops retransmitting it (Timer E)."""
    link = ctx.link()
    req, final = callee_bye(ctx, link)
    ack = ack_for(req, final, ctx.target)
    ack.set("Route", None)
    link.send(bytes(ack), "ACK")
    wait = ctx.profile.hangup_after + max(2.0, 8 * ctx.profile.t1)
    bye = link.expect(lambda m: m.method == "BYE" and m.call_id == req.call_id, timeout=wait)
    if bye is None:
        ctx.inconclusive(f"the target sent no BYE within {wait:.1f} s of the ACK")
    assert bye is not None
    respond(link, bye, 200)
    ctx.call(link, req, final).ended = True
    time.sleep(0.05)
    link.pending = [m for m in link.pending if m.method != "BYE"]
    again = link.expect(
        lambda m: m.method == "BYE" and m.branch == bye.branch,
        timeout=max(1.0, 4 * ctx.profile.t1),
    )
    ctx.check(again is None, "the BYE's 200 taken (no BYE repeated)", describe(again))
