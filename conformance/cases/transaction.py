"""The transaction layer on the wire (RFC 3261 §17.2, §13.3.1.4, §9.2; RFC 6026 §7.1).

Timing checks allow for scheduling jitter: an interval passes when it lies within
[0.6, 1.8] times the expected value (the target's T1 from the profile, default 0.5 s).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from conformance.cases.uas import _SDP, UAS
from conformance.messages import Outgoing, ack_for, bye_for
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.wire import Link

#: load order of the case modules (conformance.discovery)
ORDER = 20

LOW, HIGH = 0.6, 1.8
#: the preambles: an INVITE left ringing (`_ringing`), a call set up
RINGING = "an INVITE left ringing"
CALL = "a confirmed call (INVITE, 2xx, ACK)"
#: why the cases about how the target's own responses are sent need no control
OWN_2XX = "judged on how a 2xx is sent: any other answer is inconclusive"
OWN_NON2XX = "judged on how a non-2xx is sent, whatever made the target reject the INVITE"
OWN_FINAL = "judged on how its final response is sent, whatever its status"


def _same(final: Message) -> Callable[[Message], bool]:
    return lambda m: (
        m.is_response
        and m.status == final.status
        and m.branch == final.branch
        and m.cseq == final.cseq
    )


def _invite(ctx: Context, link: Link, **kw: Any) -> tuple[Outgoing, Message, float]:
    """Send an INVITE; the request, its final response and when that arrived."""
    req = ctx.request("INVITE", link, body=_SDP, **kw)
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final, "final response to INVITE")
    return req, final, time.monotonic()


def _copies(ctx: Context, link: Link, final: Message, duration: float) -> list[float]:
    """Arrival times of further copies of ``final`` within ``duration`` seconds."""
    times = []
    end = time.monotonic() + duration
    while (left := end - time.monotonic()) > 0:
        if link.expect(_same(final), timeout=left) is None:
            break
        times.append(time.monotonic())
    return times


def _check_intervals(ctx: Context, first: float, times: list[float], count: int) -> None:
    t1 = ctx.profile.t1
    ctx.check(len(times) >= count, f"at least {count} retransmissions", f"{len(times)}")
    previous, expected = first, t1
    for at in times[:count]:
        gap = at - previous
        ctx.check(
            LOW * expected <= gap <= HIGH * expected,
            f"an interval of {expected:g} s (±tolerance)",
            f"{gap:.3f} s",
        )
        previous, expected = at, min(expected * 2, 4.0)


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% The 2xx response is passed to the transport with an interval that starts at T1 seconds
##% and doubles for each retransmission until it reaches T2 seconds (T1 and T2 are defined in
##% Section 17).
@case(
    "txn-invite-2xx-retransmitted", roles=UAS, transports=("udp",), timeout=20, no_control=OWN_2XX
)
def invite_2xx_retransmitted(ctx: Context) -> None:
    """An unacknowledged 2xx is retransmitted at T1, 2*T1..."""
    link = ctx.link()
    req, final, first = _invite(ctx, link)
    if not 200 <= (final.status or 0) < 300:
        ctx.finish_invite(link, req, final)
        ctx.inconclusive(f"the INVITE got {describe(final)}, not 2xx")
    times = _copies(ctx, link, final, 3.8 * ctx.profile.t1 * 2)
    ctx.finish_invite(link, req, final)
    _check_intervals(ctx, first, times, 2)


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% Response retransmissions cease when an ACK request for the response is received.
@case(
    "txn-invite-2xx-stops-on-ack", roles=UAS, transports=("udp",), timeout=20, no_control=OWN_2XX
)
def invite_2xx_stops(ctx: Context) -> None:
    """Retransmissions of the 2xx stop once the ACK arrives."""
    link = ctx.link()
    req, final, _ = _invite(ctx, link)
    if not 200 <= (final.status or 0) < 300:
        ctx.finish_invite(link, req, final)
        ctx.inconclusive(f"the INVITE got {describe(final)}, not 2xx")
    link.send(bytes(ack_for(req, final, ctx.target)), "ACK")
    time.sleep(0.05)
    link.pending.clear()
    later = _copies(ctx, link, final, 4.5 * ctx.profile.t1)
    bye = bye_for(req, final, ctx.target)
    link.send(bytes(bye), "BYE (cleanup)")
    ctx.check(not later, "no 2xx after the ACK", f"{len(later)} more copies")


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% To ensure reliable delivery across these hops, the response is retransmitted periodically
##% even if the transport at the UAS is reliable.
@case(
    "txn-invite-2xx-retransmitted-reliable",
    roles=UAS,
    transports=("tcp", "tls"),
    timeout=20,
    no_control=OWN_2XX,
)
def invite_2xx_reliable(ctx: Context) -> None:
    """Over TCP/TLS the UAS core still retransmits an unacknowledged 2xx."""
    link = ctx.link()
    req, final, _ = _invite(ctx, link)
    if not 200 <= (final.status or 0) < 300:
        ctx.finish_invite(link, req, final)
        ctx.inconclusive(f"the INVITE got {describe(final)}, not 2xx")
    times = _copies(ctx, link, final, 3.8 * ctx.profile.t1 * 2)
    ctx.finish_invite(link, req, final)
    ctx.check(bool(times), "the 2xx retransmitted", "no retransmission")


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% The 2xx response is passed to the transport with an interval that starts at T1 seconds
##% and doubles for each retransmission until it reaches T2 seconds (T1 and T2 are defined in
##% Section 17).
@case(
    "txn-invite-2xx-t2-cap",
    roles=UAS,
    transports=("udp",),
    tags=("slow",),
    timeout=25,
    no_control=OWN_2XX,
)
def invite_2xx_t2(ctx: Context) -> None:
    """The 2xx retransmission interval stops doubling at T2 (4 s)."""
    link = ctx.link()
    req, final, first = _invite(ctx, link)
    if not 200 <= (final.status or 0) < 300:
        ctx.finish_invite(link, req, final)
        ctx.inconclusive(f"the INVITE got {describe(final)}, not 2xx")
    t1 = ctx.profile.t1
    times = _copies(ctx, link, final, 16 * t1 + 4.0 + 2.0)
    ctx.finish_invite(link, req, final)
    _check_intervals(ctx, first, times, 5)


def _rejected_invite(ctx: Context, link: Link) -> tuple[Outgoing, Message, float]:
    """An INVITE the target rejects (non-2xx final response), tried several ways."""
    attempts: list[dict[str, Any]] = [{"extra": [("Require", "x-conformance-unknown")]}]
    if ctx.profile.busy_user:
        attempts.insert(0, {"user": ctx.profile.busy_user})
    attempts.append({"uri": "x-conformance:opaque"})
    seen = []
    for kw in attempts:
        req, final, at = _invite(ctx, link, **kw)
        if (final.status or 0) >= 300:
            return req, final, at
        ctx.finish_invite(link, req, final)
        seen.append(describe(final))
    ctx.inconclusive(
        "the target accepted every INVITE meant to be rejected ("
        + ", ".join(seen)
        + "); set busy_user in the profile"
    )
    raise AssertionError("unreachable")


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% If timer G fires, the response is passed to the transport layer once more for
##% retransmission, and timer G is set to fire in MIN(2*T1, T2) seconds.
@case(
    "txn-invite-non2xx-timer-g",
    roles=("uas", "redirect"),
    transports=("udp",),
    timeout=20,
    no_control=OWN_NON2XX,
)
def invite_non2xx_retransmitted(ctx: Context) -> None:
    """An unacknowledged non-2xx final response is retransmitted (Timer G)."""
    link = ctx.link()
    req, final, first = _rejected_invite(ctx, link)
    times = _copies(ctx, link, final, 3.8 * ctx.profile.t1 * 2)
    ctx.finish_invite(link, req, final)
    _check_intervals(ctx, first, times, 2)


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% As Timer G is ignored in this state, any retransmissions of the response will cease.
@case(
    "txn-invite-non2xx-stops-on-ack",
    roles=("uas", "redirect"),
    transports=("udp",),
    timeout=20,
    no_control=OWN_NON2XX,
)
def invite_non2xx_stops(ctx: Context) -> None:
    """An ACK (same branch) stops the non-2xx retransmissions."""
    link = ctx.link()
    req, final, _ = _rejected_invite(ctx, link)
    link.send(bytes(ack_for(req, final, ctx.target)), "ACK")
    time.sleep(0.05)
    link.pending.clear()
    later = _copies(ctx, link, final, 4.5 * ctx.profile.t1)
    ctx.check(not later, "no retransmission after the ACK", f"{len(later)} more copies")


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% Furthermore, while in the "Completed" state, if a request retransmission is received, the
##% server SHOULD pass the response to the transport for retransmission.
@case(
    "txn-invite-non2xx-on-retransmission",
    roles=("uas", "redirect"),
    level="SHOULD",
    timeout=20,
    no_control=OWN_NON2XX,
)
def invite_non2xx_on_retransmission(ctx: Context) -> None:
    """A retransmitted INVITE after a non-2xx gets that response again (same To tag)."""
    link = ctx.link()
    req, final, _ = _rejected_invite(ctx, link)
    link.send(bytes(req), "retransmission of the INVITE")
    again = link.expect(_same(final), timeout=min(1.5, 2 * ctx.profile.t1 + 0.4))
    ctx.finish_invite(link, req, final)
    ctx.check(again is not None, f"{final.status} again", "nothing")
    assert again is not None
    ctx.check(again.to_tag == final.to_tag, f"To tag {final.to_tag}", f"To tag {again.to_tag}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% For unreliable transports, timer G is set to fire in T1 seconds, and is not set to fire
##% for reliable transports.
@case(
    "txn-invite-non2xx-reliable-once",
    roles=("uas", "redirect"),
    level="SHOULD",
    transports=("tcp", "tls"),
    no_control=OWN_NON2XX,
)
def invite_non2xx_reliable(ctx: Context) -> None:
    """Over TCP/TLS a non-2xx final response is sent once (no Timer G)."""
    link = ctx.link()
    req, final, _ = _rejected_invite(ctx, link)
    later = _copies(ctx, link, final, 2.5 * ctx.profile.t1)
    ctx.finish_invite(link, req, final)
    ctx.check(not later, "no retransmission", f"{len(later)} copies")


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% The server transaction MUST generate a 100 (Trying) response unless it knows that the TU
##% will generate a provisional or final response within 200 ms, in which case it MAY
##% generate a 100 (Trying) response.
@case(
    "txn-invite-100-or-fast",
    roles=("uas", "redirect"),
    no_control="any response within 200 ms passes, whatever its status",
)
def invite_100(ctx: Context) -> None:
    """Some response to an INVITE within 200 ms (100 Trying or the answer itself)."""
    link = ctx.link()
    req = ctx.request("INVITE", link, body=_SDP)
    sent = time.monotonic()
    link.send(bytes(req))
    first = link.expect(lambda m: m.is_response and m.branch == req.branch, timeout=2.0)
    delay = time.monotonic() - sent
    final = first
    if first is not None and (first.status or 0) < 200:
        final = link.expect(
            lambda m: m.is_response and m.branch == req.branch and (m.status or 0) >= 200,
            timeout=4.0,
        )
    ctx.finish_invite(link, req, final)
    first = ctx.require_final(first, "response to INVITE")
    ctx.check(
        delay <= 0.35,
        "a response within 200 ms (+ tolerance)",
        f"{describe(first)} after {delay * 1000:.0f} ms",
    )


##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##= type=test
##% While in the "Accepted" state, any retransmissions of the INVITE received will match this
##% transaction state machine and will be absorbed by the machine without changing its state.
@case("txn-invite-retransmission-after-2xx", roles=UAS, transports=("udp",), no_control=OWN_2XX)
def invite_retransmission_after_2xx(ctx: Context) -> None:
    """A retransmitted INVITE after the 2xx starts no second call (no new To tag)."""
    link = ctx.link()
    req, final, _ = _invite(ctx, link)
    if not 200 <= (final.status or 0) < 300:
        ctx.finish_invite(link, req, final)
        ctx.inconclusive(f"the INVITE got {describe(final)}, not 2xx")
    link.send(bytes(req), "retransmission of the INVITE")
    others = link.collect(lambda m: m.is_response and m.branch == req.branch, 1.0)
    ctx.finish_invite(link, req, final)
    tags = {m.to_tag for m in others if (m.status or 0) >= 200}
    ctx.check(
        tags <= {final.to_tag}, f"only To tag {final.to_tag}", f"To tags {sorted(map(str, tags))}"
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% While in the "Completed" state, the server transaction MUST pass the final response to
##% the transport layer for retransmission whenever a retransmission of the request is
##% received.
@case(
    "txn-non-invite-final-on-retransmission",
    roles=("uas", "registrar", "redirect"),
    transports=("udp",),
    no_control=OWN_FINAL,
)
def non_invite_retransmission(ctx: Context) -> None:
    """A retransmitted OPTIONS gets the same final response again."""
    link = ctx.link()
    req = ctx.request("OPTIONS", link)
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final)
    link.send(bytes(req), "retransmission of the request")
    again = link.expect(_same(final), timeout=2.0)
    ctx.check(again is not None, f"{final.status} again", "nothing")
    assert again is not None
    ctx.check(again.to_tag == final.to_tag, f"To tag {final.to_tag}", f"To tag {again.to_tag}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% Once in the "Trying" state, any further request retransmissions are discarded.
@case(
    "txn-non-invite-no-timer-retransmission",
    roles=("uas", "registrar", "redirect"),
    level="SHOULD",
    transports=("udp",),
    no_control=OWN_FINAL,
)
def non_invite_no_timer(ctx: Context) -> None:
    """A non-INVITE final response is not retransmitted on a timer."""
    link = ctx.link()
    req = ctx.request("OPTIONS", link)
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final)
    later = _copies(ctx, link, final, 2.5 * ctx.profile.t1)
    ctx.check(not later, "no unsolicited copies", f"{len(later)} copies")


def _ringing(ctx: Context, link: Link) -> tuple[Outgoing, Message]:
    """The preamble of the CANCEL cases: an INVITE left ringing; the request and its last
    provisional response (each case CANCELs it)."""
    with ctx.preamble(RINGING):
        user = ctx.profile.ringing_user or ctx.user
        req = ctx.request("INVITE", link, body=_SDP, user=user)
        link.send(bytes(req))
        prov = link.expect(
            lambda m: m.is_response and m.branch == req.branch,
            timeout=3.0,
            retransmit=None if ctx.target.reliable else (lambda: link.send(bytes(req))),
        )
        if prov is None:
            ctx.inconclusive("no response to the INVITE")
        assert prov is not None
        if (prov.status or 0) >= 200:
            ctx.finish_invite(link, req, prov)
            ctx.inconclusive(
                f"the INVITE was answered at once ({describe(prov)}); set ringing_user "
                "in the profile to a user that rings"
            )
        final = link.expect(
            lambda m: m.is_response and m.branch == req.branch and (m.status or 0) >= 200,
            timeout=0.5,
        )
        if final is not None:
            ctx.finish_invite(link, req, final)
            ctx.inconclusive(f"the INVITE was answered within 0.5 s ({describe(final)})")
    return req, prov


def _cancel(req: Outgoing) -> Outgoing:
    cancel = Outgoing("CANCEL", req.uri)
    for name in ("Via", "Max-Forwards", "From", "To", "Call-ID"):
        cancel.add(name, req.get(name) or "")
    cancel.add("CSeq", f"{req.cseq_number} CANCEL")
    return cancel


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##= type=test
##% Regardless of the method of the original request, as long as the CANCEL matched an
##% existing transaction, the UAS answers the CANCEL request itself with a 200 (OK) response.
@case(
    "txn-cancel-200",
    roles=UAS,
    preamble=RINGING,
    no_control="the CANCEL of the INVITE its preamble left ringing is the exchange under test",
)
def cancel_200(ctx: Context) -> None:
    """CANCEL of a ringing INVITE gets 200."""
    link = ctx.link()
    req, _ = _ringing(ctx, link)
    answer, _ = ctx.transaction(link, _cancel(req))
    final = link.expect(
        lambda m: (
            m.is_response
            and m.branch == req.branch
            and m.cseq[1] == "INVITE"
            and (m.status or 0) >= 200
        ),
        timeout=3.0,
    )
    ctx.finish_invite(link, req, final)
    answer = ctx.require_final(answer, "response to CANCEL")
    ctx.check(answer.status == 200, "200 (OK) to the CANCEL", describe(answer))


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##= type=test
##% If the original request was an INVITE, the UAS SHOULD immediately respond to the INVITE
##% with a 487 (Request Terminated).
@case(
    "txn-cancel-487",
    roles=UAS,
    level="SHOULD",
    preamble=RINGING,
    no_control="the CANCEL of the INVITE its preamble left ringing is the exchange under test",
)
def cancel_487(ctx: Context) -> None:
    """CANCEL of a ringing INVITE makes the INVITE end with 487."""
    link = ctx.link()
    req, _ = _ringing(ctx, link)
    ctx.transaction(link, _cancel(req))
    final = link.expect(
        lambda m: (
            m.is_response
            and m.branch == req.branch
            and m.cseq[1] == "INVITE"
            and (m.status or 0) >= 200
        ),
        timeout=3.0,
    )
    ctx.finish_invite(link, req, final)
    ctx.check(
        final is not None and final.status == 487, "487 (Request Terminated)", describe(final)
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##= type=test
##% This response is constructed following the procedures described in Section 8.2.6 noting
##% that the To tag of the response to the CANCEL and the To tag in the response to the
##% original request SHOULD be the same.
@case(
    "txn-cancel-to-tag",
    roles=UAS,
    level="SHOULD",
    preamble=RINGING,
    no_control="the CANCEL of the INVITE its preamble left ringing is the exchange under test",
)
def cancel_to_tag(ctx: Context) -> None:
    """The 200 to CANCEL carries the To tag of the INVITE's responses."""
    link = ctx.link()
    req, prov = _ringing(ctx, link)
    answer, _ = ctx.transaction(link, _cancel(req))
    final = link.expect(
        lambda m: (
            m.is_response
            and m.branch == req.branch
            and m.cseq[1] == "INVITE"
            and (m.status or 0) >= 200
        ),
        timeout=3.0,
    )
    ctx.finish_invite(link, req, final)
    answer = ctx.require_final(answer, "response to CANCEL")
    expected = (final.to_tag if final else None) or prov.to_tag
    ctx.check(answer.to_tag == expected, f"To tag {expected}", f"To tag {answer.to_tag}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% If a request retransmission is received while in the "Proceeding" state, the most recent
##% provisional response that was received from the TU MUST be passed to the transport layer
##% for retransmission.
@case(
    "txn-invite-provisional-on-retransmission",
    roles=UAS,
    transports=("udp",),
    preamble=RINGING,
    no_control="judged on the preamble's provisional response",
)
def provisional_on_retransmission(ctx: Context) -> None:
    """A retransmitted INVITE while ringing gets the last provisional response again."""
    link = ctx.link()
    req, prov = _ringing(ctx, link)
    # the most recent provisional: a 180 may have followed the first 100 while _ringing waited
    for m in link.pending:
        if m.is_response and m.branch == req.branch and 100 <= (m.status or 0) < 200:
            prov = m
    link.pending.clear()
    link.send(bytes(req), "retransmission of the INVITE")
    again = link.expect(lambda m: m.is_response and m.branch == req.branch, timeout=1.0)
    link.send(bytes(_cancel(req)), "CANCEL (cleanup)")
    final = link.expect(
        lambda m: m.is_response and m.cseq[1] == "INVITE" and (m.status or 0) >= 200, timeout=3.0
    )
    ctx.finish_invite(link, req, final)
    ctx.check(
        again is not None and again.status == prov.status, f"{prov.status} again", describe(again)
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##= type=test
##% If it has, the CANCEL request has no effect on the processing of the original request, no
##% effect on any session state, and no effect on the responses generated for the original
##% request.
@case(
    "txn-cancel-after-final",
    roles=UAS,
    preamble=CALL,
    no_control="the BYE probing the preamble's call is the exchange under test",
)
def cancel_after_final(ctx: Context) -> None:
    """A CANCEL after the 2xx leaves the call up (a BYE then gets 200)."""
    link = ctx.link()
    with ctx.preamble(CALL):
        req, final, _ = _invite(ctx, link)
        if not 200 <= (final.status or 0) < 300:
            ctx.finish_invite(link, req, final)
            ctx.inconclusive(f"the INVITE got {describe(final)}, not 2xx")
        link.send(bytes(ack_for(req, final, ctx.target)), "ACK")
    answer, _ = ctx.transaction(link, _cancel(req))
    bye = bye_for(req, final, ctx.target)
    bye_answer, _ = ctx.transaction(link, bye)
    ctx.require_final(answer, "response to CANCEL")
    bye_answer = ctx.require_final(bye_answer, "response to BYE")
    ctx.check(bye_answer.status == 200, "the call still up: 200 to BYE", describe(bye_answer))
