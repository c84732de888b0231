"""Server transactions on the wire (RFC 3261 §17.1, §17.2.1, §17.2.2, §8.2.6.1).

What the target's INVITE and non-INVITE server transactions send: the 100 (Trying), the
provisional and final responses its TU passes, the final response again for a retransmitted
request and no other final afterwards, Timer G retransmissions until the ACK or Timer H, the
Completed state kept for Timer J.  The non-INVITE request is the one the role answers: a
REGISTER query for a registrar, an OPTIONS otherwise (a redirect server redirects it).

Timer H and J last 64*T1: the cases measuring them run when that is at most
`LONGEST_TIMER` seconds with the profile's ``t1`` (our programs run with ``--t1 0.1``), and
say not applicable otherwise.  The helpers of `conformance.cases.transaction` are reused.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from conformance.cases.registrar import Registration
from conformance.cases.transaction import (
    LOW,
    OWN_FINAL,
    OWN_NON2XX,
    _copies,
    _rejected_invite,
)
from conformance.cases.uas import _SDP
from conformance.messages import Outgoing, ack_for
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.wire import Link

#: load order of the case modules (conformance.discovery)
ORDER = 78  # after the core's first-wave modules (torture is 60)

SERVERS = ("uas", "registrar", "redirect")
INVITE_SERVERS = ("uas", "redirect")
#: the longest Timer H or J (64*T1) a case waits for, in seconds
LONGEST_TIMER = 10.0
#: "immediately": a final response to a non-INVITE within this many seconds
IMMEDIATE = 1.0


def non_invite(ctx: Context, link: Link) -> Outgoing:
    """The non-INVITE request the role answers at once: a REGISTER query (no Contact, so
    it changes no binding) for a registrar, an OPTIONS otherwise."""
    if ctx.role == "registrar":
        return Registration(ctx, link).request()
    return ctx.request("OPTIONS", link)


def _timer_64t1(ctx: Context, name: str) -> float:
    """64*T1 with the profile's t1; not applicable when too long for a wave."""
    value = 64 * ctx.profile.t1
    if value > LONGEST_TIMER:
        ctx.not_applicable(
            f"{name} is {value:g} s with the profile's t1 ({ctx.profile.t1:g} s); give the "
            f"target and its profile a T1 of at most {LONGEST_TIMER / 64:.3g} s to measure it"
        )
    return value


def _responses(link: Link, req: Outgoing) -> Callable[[Message], bool]:
    return lambda m: m.is_response and m.branch == req.branch


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1
##= type=test
##% Because of the non-INVITE transaction's reliance on a two-way handshake, TUs SHOULD
##% respond immediately to non-INVITE requests.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.1
##= type=test
##% Rather, UASs SHOULD generate a final response to a non-INVITE request as soon as possible.
@case(
    "server-non-invite-immediate",
    roles=SERVERS,
    level="SHOULD",
    no_control="judged on how soon any final response comes, whatever its status",
)
def non_invite_immediate(ctx: Context) -> None:
    """A non-INVITE request gets its final response at once (within 1 s)."""
    link = ctx.link()
    req = non_invite(ctx, link)
    sent = time.monotonic()
    final, _ = ctx.transaction(link, req)
    delay = time.monotonic() - sent
    final = ctx.require_final(final, f"final response to {req.method}")
    ctx.check(
        delay <= IMMEDIATE,
        f"a final response within {IMMEDIATE:g} s",
        f"{describe(final)} after {delay:.2f} s",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% The response MUST be passed to the transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% Any further provisional responses that are received from the TU while in the
##% "Proceeding" state MUST be passed to the transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% If a retransmission of the request is received while in the "Proceeding" state, the most
##% recently sent provisional response MUST be passed to the transport layer for
##% retransmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% If the TU passes a final response (status codes 200-699) to the server while in the
##% "Proceeding" state, the transaction MUST enter the "Completed" state, and the response
##% MUST be passed to the transport layer for transmission.
@case(
    "server-non-invite-proceeding",
    roles=SERVERS,
    transports=("udp",),
    timeout=15,
    no_control="judged only when the target answers a non-INVITE with a provisional first",
)
def non_invite_proceeding(ctx: Context) -> None:
    """A non-INVITE answered with a 1xx first: the 1xx again on a retransmission, then the
    final response."""
    link = ctx.link()
    req = non_invite(ctx, link)
    link.send(bytes(req))
    first = link.expect(
        _responses(link, req),
        timeout=max(1.0, 6 * ctx.profile.t1),
        retransmit=lambda: link.send(bytes(req), "retransmission"),
        interval=ctx.profile.t1,
    )
    first = ctx.require_final(first, f"response to {req.method}")
    if (first.status or 0) >= 200:
        ctx.not_applicable(
            f"the target answered the {req.method} at once ({describe(first)}): its server "
            "transaction never was in the Proceeding state"
        )
    # the TU's 1xx reached the wire; the most recent one is what a retransmission gets
    latest = first
    for m in link.collect(_responses(link, req), 0.1):
        if (m.status or 0) >= 200:
            ctx.not_applicable(f"the final response ({describe(m)}) came before a retransmission")
        latest = m
    link.send(bytes(req), "retransmission of the request")
    again = link.expect(_responses(link, req), timeout=min(1.0, 4 * ctx.profile.t1 + 0.2))
    if again is not None and (again.status or 0) < 200:
        ctx.check(
            again.status == latest.status,
            f"{latest.status} again",
            describe(again),
            requirement=2,
        )
        again = None
    final = again or link.expect(
        lambda m: _responses(link, req)(m) and (m.status or 0) >= 200,
        timeout=max(2.0, 64 * ctx.profile.t1),
    )
    ctx.check(final is not None, "a final response after the provisional", "none", requirement=3)


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% Any other final responses passed by the TU to the server transaction MUST be discarded
##% while in the "Completed" state.
@case(
    "server-non-invite-one-final",
    roles=SERVERS,
    transports=("udp",),
    no_control=OWN_FINAL,
)
def non_invite_one_final(ctx: Context) -> None:
    """Retransmissions of a non-INVITE request get the first final response, never another."""
    link = ctx.link()
    req = non_invite(ctx, link)
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final, f"final response to {req.method}")
    for _ in range(2):
        link.send(bytes(req), "retransmission of the request")
        time.sleep(ctx.profile.t1)
    later = link.collect(_responses(link, req), max(0.5, 2 * ctx.profile.t1))
    others = [
        m
        for m in later
        if (m.status or 0) >= 200 and (m.status != final.status or m.to_tag != final.to_tag)
    ]
    ctx.check(
        not others,
        f"only {describe(final)} (To tag {final.to_tag})",
        ", ".join(f"{describe(m)} (To tag {m.to_tag})" for m in others),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% When the server transaction enters the "Completed" state, it MUST set Timer J to fire in
##% 64*T1 seconds for unreliable transports, and zero seconds for reliable transports.
@case(
    "server-non-invite-timer-j",
    roles=SERVERS,
    transports=("udp",),
    timeout=LONGEST_TIMER + 10,
    no_control=OWN_FINAL,
)
def non_invite_timer_j(ctx: Context) -> None:
    """Near the end of Timer J (64*T1) a retransmitted request still gets the same final
    response: the transaction stayed Completed that long."""
    timer_j = _timer_64t1(ctx, "Timer J")
    link = ctx.link()
    req = non_invite(ctx, link)
    final, _ = ctx.transaction(link, req)
    completed = time.monotonic()
    final = ctx.require_final(final, f"final response to {req.method}")
    time.sleep(max(0.0, completed + 0.75 * timer_j - time.monotonic()))
    link.pending.clear()
    link.send(bytes(req), f"retransmission at {0.75 * timer_j:.1f} s")
    again = link.expect(_responses(link, req), timeout=1.0)
    ctx.check(
        again is not None and again.status == final.status and again.to_tag == final.to_tag,
        f"{describe(final)} again (To tag {final.to_tag}): the transaction still Completed",
        f"{describe(again)} (To tag {again.to_tag if again else None})",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% The 100 (Trying) response is constructed according to the procedures in Section 8.2.6,
##% except that the insertion of tags in the To header field of the response (when none was
##% present in the request) is downgraded from MAY to SHOULD NOT.
@case(
    "server-invite-100-construction",
    roles=INVITE_SERVERS,
    level="SHOULD",
    no_control="judged on the 100 (Trying) only: a target sending none is not applicable",
)
def invite_100_construction(ctx: Context) -> None:
    """A 100 (Trying) copies Via, From, Call-ID and CSeq and adds no To tag."""
    link = ctx.link()
    req = ctx.request("INVITE", link, body=_SDP)
    final, provisional = ctx.transaction(link, req, timeout=max(1.0, 4 * ctx.profile.t1))
    ctx.finish_invite(link, req, final)
    trying = next((m for m in provisional if m.status == 100), None)
    if trying is None:
        ctx.not_applicable(f"no 100 (Trying) before {describe(final)}")
    assert trying is not None
    ctx.check(trying.to_tag is None, "no To tag in the 100", f"To tag {trying.to_tag}")
    # Via: the same branch (the server's transport may add received and rport, §18.2.1)
    ctx.check(trying.branch == req.branch, f"Via branch {req.branch}", f"{trying.branch}")
    for name in ("From", "Call-ID", "CSeq"):
        ctx.check(
            _norm(trying.get(name)) == _norm(req.get(name)),
            f"{name}: {req.get(name)}",
            f"{name}: {trying.get(name)}",
        )


def _norm(value: str | None) -> str:
    return re.sub(r"\s+", "", value or "").lower()


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% So long as the server transaction is in the "Proceeding" state, each of these MUST be
##% passed to the transport layer for transmission.
@case(
    "server-invite-provisional-passed",
    roles=("uas",),
    preamble="an INVITE to the profile's ringing_user",
    no_control="judged on the provisional responses of a user that rings",
)
def invite_provisional_passed(ctx: Context) -> None:
    """An INVITE to a user that rings gets a provisional response besides 100 (e.g. 180)."""
    if not ctx.profile.ringing_user:
        ctx.not_applicable("the profile names no ringing_user")
    link = ctx.link()
    req = ctx.request("INVITE", link, body=_SDP, user=ctx.profile.ringing_user)
    # left ringing, the postamble CANCELs it
    final, provisional = ctx.transaction(link, req, timeout=max(1.0, 4 * ctx.profile.t1))
    ctx.finish_invite(link, req, final)
    if final is not None and not any((m.status or 0) > 100 for m in provisional):
        ctx.inconclusive(f"the ringing user answered at once ({describe(final)})")
    ringing = [describe(m) for m in provisional if (m.status or 0) > 100]
    ctx.check(bool(ringing), "a 18x from the ringing user", ", ".join(ringing) or "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% If a request retransmission is received while in the "Proceeding" state, the most recent
##% provisional response that was received from the TU MUST be passed to the transport layer
##% for retransmission.
@case(
    "server-invite-proceeding-retransmission",
    roles=("redirect",),
    transports=("udp",),
    no_control="judged only when the target sends a provisional and stays in Proceeding",
)
def invite_proceeding_retransmission(ctx: Context) -> None:
    """A redirect server still working on an INVITE sends its last 1xx again on a
    retransmission."""
    link = ctx.link()
    req = ctx.request("INVITE", link, body=_SDP)
    link.send(bytes(req))
    first = link.expect(_responses(link, req), timeout=max(1.0, 6 * ctx.profile.t1))
    first = ctx.require_final(first, "response to INVITE")
    if (first.status or 0) >= 200:
        ctx.finish_invite(link, req, first)
        ctx.not_applicable(f"answered at once ({describe(first)}): no Proceeding state")
    final = link.expect(
        lambda m: _responses(link, req)(m) and (m.status or 0) >= 200, timeout=ctx.profile.t1
    )
    if final is not None:
        ctx.finish_invite(link, req, final)
        ctx.not_applicable(f"the final response ({describe(final)}) followed within T1")
    link.send(bytes(req), "retransmission of the INVITE")
    again = link.expect(_responses(link, req), timeout=1.0)
    final = again if again is not None and (again.status or 0) >= 200 else None
    final = final or link.expect(
        lambda m: _responses(link, req)(m) and (m.status or 0) >= 200, timeout=3.0
    )
    ctx.finish_invite(link, req, final)
    if again is not None and (again.status or 0) >= 200:
        ctx.not_applicable("the final response crossed the retransmission")
    ctx.check(
        again is not None and again.status == first.status,
        f"{first.status} again",
        describe(again),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% If, while in the "Proceeding" state, the TU passes a 2xx response to the server
##% transaction, the server transaction MUST pass this response to the transport layer for
##% transmission.
@case(
    "server-invite-2xx-passed",
    roles=("uas",),
    no_control="judged on a 2xx only: a target rejecting the INVITE is not applicable",
)
def invite_2xx_passed(ctx: Context) -> None:
    """An INVITE the target accepts gets its 2xx on the wire (to the Via's sent-by)."""
    link = ctx.link()
    req = ctx.request("INVITE", link, body=_SDP)
    final, provisional = ctx.transaction(link, req)
    ctx.finish_invite(link, req, final)
    if final is not None and not 200 <= (final.status or 0) < 300:
        ctx.not_applicable(f"the target rejected the INVITE ({describe(final)})")
    if final is None and not provisional:
        ctx.inconclusive("no response to the INVITE")
    ctx.check(final is not None, "the 2xx", "provisional responses only")


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% While in the "Proceeding" state, if the TU passes a response with status code from 300 to
##% 699 to the server transaction, the response MUST be passed to the transport layer for
##% transmission, and the state machine MUST enter the "Completed" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% When the "Completed" state is entered, timer H MUST be set to fire in 64*T1 seconds for all
##% transports.
@case(
    "server-invite-timer-h",
    roles=INVITE_SERVERS,
    transports=("udp",),
    timeout=LONGEST_TIMER + 15,
    no_control=OWN_NON2XX,
)
def invite_timer_h(ctx: Context) -> None:
    """An unacknowledged non-2xx is retransmitted (Completed) until Timer H, 64*T1, then no
    more."""
    timer_h = _timer_64t1(ctx, "Timer H")
    # Timer G: T1, 2*T1... capped at T2 (4 s): the last copy due before Timer H fires, and
    # when the next would be, were Timer H not there
    at, interval, due = 0.0, ctx.profile.t1, [0.0]
    while at + interval < timer_h:
        at += interval
        due.append(at)
        interval = min(2 * interval, 4.0)
    expected_next = due[-1] + interval
    # a copy due in the last tenth of Timer H may be lost to the timers' jitter
    expected_last = due[-2] if due[-1] > 0.9 * timer_h and len(due) > 2 else due[-1]
    link = ctx.link()
    _, final, first = _rejected_invite(ctx, link)
    times = _copies(ctx, link, final, 1.1 * expected_next + 0.3 - (time.monotonic() - first))
    ctx.check(bool(times), f"{describe(final)} retransmitted (Completed, Timer G)", "once only")
    last = times[-1] - first
    ctx.check(
        last >= LOW * expected_last,
        f"retransmissions until about {expected_last:.2f} s (Timer H {timer_h:g} s)",
        f"the last at {last:.2f} s",
        requirement=1,
    )
    # the copy Timer G would send after Timer H fired must not come
    bound = (timer_h + expected_next) / 2
    ctx.check(
        last <= bound,
        f"none after Timer H ({timer_h:g} s; the next Timer G copy was due at "
        f"{expected_next:.2f} s)",
        f"the last at {last:.2f} s",
        requirement=1,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% If an ACK is received while the server transaction is in the "Completed" state, the server
##% transaction MUST transition to the "Confirmed" state.
@case(
    "server-invite-ack-confirms",
    roles=INVITE_SERVERS,
    transports=("udp",),
    no_control=OWN_NON2XX,
)
def invite_ack_confirms(ctx: Context) -> None:
    """After the ACK of a non-2xx the transaction is Confirmed: no more copies of the
    response, and a second ACK draws nothing."""
    link = ctx.link()
    req, final, _ = _rejected_invite(ctx, link)
    ack = bytes(ack_for(req, final, ctx.target))
    link.send(ack, "ACK")
    time.sleep(ctx.profile.t1 / 2)
    link.pending.clear()
    link.send(ack, "ACK again (absorbed in Confirmed)")
    later = link.collect(_responses(link, req), max(1.0, 4.5 * ctx.profile.t1))
    ctx.check(
        not later,
        "nothing after the ACK (Confirmed)",
        ", ".join(describe(m) for m in later),
    )


def _timestamps(messages: list[Message]) -> list[tuple[Message, list[str]]]:
    return [(m, (m.get("Timestamp") or "").split()) for m in messages if m.get("Timestamp")]


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.1
##= type=test
##% If there is a delay in generating the response, the UAS SHOULD add a delay value into the
##% Timestamp value in the response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.1
##= type=test
##% This value MUST contain the difference between the time of sending of the response and
##% receipt of the request, measured in seconds.
@case(
    "server-timestamp-delay",
    roles=("uas",),
    no_control="judged on the responses that echo the Timestamp, whatever their status",
)
def timestamp_delay(ctx: Context) -> None:
    """A Timestamp echoed in a response keeps the request's value; a delay value added to it
    is no longer than the time the request waited."""
    link = ctx.link()
    stamp = f"{time.time() % 100000:.3f}"
    user = ctx.profile.ringing_user or ctx.user
    req = ctx.request("INVITE", link, body=_SDP, user=user, extra=[("Timestamp", stamp)])
    sent = time.monotonic()
    final, provisional = ctx.transaction(link, req, timeout=max(1.0, 4 * ctx.profile.t1))
    waited = time.monotonic() - sent
    ctx.finish_invite(link, req, final)
    echoed = _timestamps([*provisional, *([final] if final else [])])
    if not echoed:
        ctx.not_applicable("no response echoed the Timestamp")
    for message, fields in echoed:
        ctx.check(
            bool(fields) and fields[0] == stamp,
            f"Timestamp {stamp} echoed",
            f"Timestamp {' '.join(fields)} in {describe(message)}",
            requirement=1,
        )
        if len(fields) > 1:
            try:
                delay = float(fields[1])
            except ValueError:
                delay = -1.0
            ctx.check(
                0 <= delay <= waited + 0.5,
                f"a delay between 0 and {waited:.2f} s",
                f"{fields[1]} in {describe(message)}",
                requirement=1,
            )
        elif message.status != 100 and waited > 1.0:
            ctx.should(False, "a delay value after a slow answer", f"none after {waited:.1f} s")
