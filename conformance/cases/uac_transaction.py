"""The UAC's client transactions on the wire (RFC 3261 §17.1.1, §17.1.2, §18.1.2, §8.1.3.3).

Retransmission timers are measured from the arrival times of the copies of one request
(same branch) against the profile's ``t1`` (T2 is taken as its default, 4 s), within a
tolerance wide enough for a loaded machine: 0.6 to 1.6 times the expected interval, plus
50 ms.  Scripted answers a UAC must ignore (a foreign sent-by, two Vias) are followed by a
proper one, so a target that ignores everything is told from one that obeys.
"""

from __future__ import annotations

import itertools
import time

from conformance.model import Context, case
from conformance.sipmsg import Message
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer

ORDER = 61  # after the core's first-wave modules (torture is 60)

INVITED = "an INVITE from the target ([uac] invite)"
ASKED = "an OPTIONS from the target ([uac] options)"
T2 = 4.0


def _close(expected: float, seen: float) -> bool:
    return 0.6 * expected - 0.05 <= seen <= 1.6 * expected + 0.05


def _copies(peer: Peer, first: Message, at: float, window: float) -> list[float]:
    """Arrival times (from ``at``) of the copies of ``first`` during ``window`` seconds."""
    method = first.method
    got = peer.collect(lambda m: m.method == method and m.branch == first.branch, window)
    return [t - at for t, _ in got]


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% When timer A fires 2*T1 seconds later, the request MUST be
##% retransmitted again (assuming the client transaction is still in this
##% state).  This process MUST continue so that the request is
##% retransmitted with intervals that double after each transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% For
##% any transport, the client transaction MUST start timer B with a value
##% of 64*T1 seconds (Timer B controls transaction timeouts).
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% The client transaction MUST NOT generate an ACK.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% When timer A fires, the client transaction MUST retransmit the request by passing it to
##% the transport layer, and MUST reset the timer with a value of 2*T1.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% Whatever the value of T1, the exponential backoffs on retransmissions described in this
##% section MUST be used.
@case(
    "uac-timer-a-b",
    roles=UAC,
    transports=("udp",),
    timeout=90,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def timer_a_b(ctx: Context) -> None:
    """An INVITE never answered: copies at T1, 2*T1, 4*T1...; none after 64*T1; no ACK."""
    t1 = ctx.profile.t1
    peer = Peer(ctx, "invite")
    first, _ = peer.first("INVITE")
    at = time.monotonic()
    times = [0.0, *_copies(peer, first, at, 64 * t1 + 4 * t1 + 0.3)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    ctx.check(len(gaps) >= 1, "retransmissions", "none")
    for k, gap in enumerate(gaps):
        ctx.check(
            _close(t1 * 2**k, gap),
            f"retransmission {k + 1} {t1 * 2**k:g} s after the previous",
            f"{gap:.3f} s (all: {', '.join(f'{g:.2f}' for g in gaps)})",
        )
    late = [t for t in times if t > 64 * t1 * 1.1 + 0.2]
    ctx.check(not late, f"none after Timer B ({64 * t1:g} s)", f"at {late}", requirement=1)
    ctx.check(len(times) >= 6, "about 7 transmissions before Timer B", f"{len(times)}", 1)
    ack = peer.request("ACK", 0.01, first.call_id)
    ctx.check(ack is None, "no ACK after Timer B", "an ACK", requirement=2)


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If an
##% unreliable transport is in use, the client transaction MUST set timer
##% E to fire in T1 seconds.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% When entering this state, the client
##% transaction SHOULD set timer F to fire in 64*T1 seconds.
@case(
    "uac-timer-e-f",
    roles=UAC,
    transports=("udp",),
    timeout=90,
    preamble=ASKED,
    no_control=RUNNER_ANSWERS,
)
def timer_e_f(ctx: Context) -> None:
    """An OPTIONS never answered: copies at T1, 2*T1... capped at T2; none after 64*T1."""
    t1 = ctx.profile.t1
    peer = Peer(ctx, "options")
    first, _ = peer.first("OPTIONS")
    at = time.monotonic()
    times = [0.0, *_copies(peer, first, at, 64 * t1 + 4 * t1 + 0.3)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    ctx.check(len(gaps) >= 1, "retransmissions", "none")
    for k, gap in enumerate(gaps):
        want = min(t1 * 2**k, T2)
        ctx.check(
            _close(want, gap),
            f"retransmission {k + 1} {want:g} s after the previous",
            f"{gap:.3f} s (all: {', '.join(f'{g:.2f}' for g in gaps)})",
        )
    late = [round(t, 2) for t in times if t > 64 * t1 * 1.1 + 0.2]
    ctx.check(
        not late,
        f"none after Timer F ({64 * t1:g} s)",
        f"at {late}",
        requirement=1,
        level="SHOULD",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If Timer E fires while in the "Proceeding" state, the request MUST be
##% passed to the transport layer for retransmission, and Timer E MUST be
##% reset with a value of T2 seconds.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% and then the client transaction SHOULD move to the "Proceeding" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If timer F fires while in the "Proceeding" state, the TU MUST be
##% informed of a timeout, and the client transaction MUST transition to
##% the terminated state.
@case(
    "uac-timer-e-proceeding",
    roles=UAC,
    transports=("udp",),
    timeout=30,
    preamble=ASKED,
    no_control=RUNNER_ANSWERS,
)
def timer_e_proceeding(ctx: Context) -> None:
    """After a 100 (Trying) to an OPTIONS, its copies come every T2, and stop when Timer F
    (64*T1) fires (with a profile's T1 of 2 s or more, the 200 comes before)."""
    t1 = ctx.profile.t1
    peer = Peer(ctx, "options")
    first, addr = peer.first("OPTIONS")
    start = time.monotonic()
    peer.answer(first, addr, 100, contact=False)
    at = time.monotonic()
    timer_f = 64 * t1 * 1.1 + 0.2
    times = _copies(peer, first, at, min(max(timer_f + 1.0, 2 * T2 + t1), 3 * T2 + t1) + 0.5)
    peer.answer(first, addr, 200, contact=False)
    late = [round(t + at - start, 2) for t in times if t + at - start > timer_f]
    times = [t for t in times if t + at - start <= timer_f]
    ctx.check(not late, f"no copy after Timer F ({64 * t1:g} s)", f"copies at {late}", 2)
    ctx.check(bool(times), f"retransmissions in Proceeding (every {T2:g} s)", "none")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for gap in gaps:
        ctx.check(_close(T2, gap), f"{T2:g} s between copies", f"{gap:.3f} s")
    if not gaps:
        # one copy only: it came by the first Timer E (T1) or at T2 after the 100
        ctx.check(times[0] <= T2 * 1.6 + 0.05, f"a copy within {T2:g} s", f"at {times[0]:.3f} s")


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% In the
##% "Proceeding" state, the client transaction SHOULD NOT retransmit the
##% request any longer.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% These retransmissions SHOULD only be done while the client transaction is in the
##% "calling" state.
@case(
    "uac-invite-proceeding-quiet",
    roles=UAC,
    level="SHOULD",
    transports=("udp",),
    timeout=20,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def invite_proceeding_quiet(ctx: Context) -> None:
    """After a 180 the INVITE is no longer retransmitted."""
    t1 = ctx.profile.t1
    peer = Peer(ctx, "invite")
    first, addr = peer.first("INVITE")
    peer.answer(first, addr, 180)
    at = time.monotonic()
    # a copy already on its way when the 180 left is no fault: count those after T1
    times = [t for t in _copies(peer, first, at, 8 * t1) if t > t1 + 0.05]
    peer.answer(first, addr, 486)
    ctx.check(not times, "no copy of the INVITE after the 180", f"copies at {times}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% Any retransmissions of the final response that are received while in
##% the "Completed" state MUST cause the ACK to be re-passed to the
##% transport layer for retransmission, but the newly received response
##% MUST NOT be passed up to the TU.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% When in either the "Calling" or "Proceeding" states, reception of a response with status
##% code from 300-699 MUST cause the client transaction to transition to "Completed".
@case(
    "uac-ack-non2xx-retransmitted",
    roles=UAC,
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def ack_non2xx_retransmitted(ctx: Context) -> None:
    """Each copy of a 486 gets the ACK again, with the INVITE's branch."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    busy = peer.answer(invite, addr, 486)
    with ctx.preamble("the ACK for the first 486"):
        if peer.request("ACK", 3.0, invite.call_id) is None:
            ctx.inconclusive("no ACK for the 486")
    peer.send(busy, addr, "486 retransmitted")
    again = peer.request("ACK", max(1.0, 4 * ctx.profile.t1), invite.call_id)
    ctx.check(again is not None, "the ACK again", "none")
    assert again is not None
    ctx.check(again[0].branch == invite.branch, invite.branch or "", again[0].branch or "")


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.2
##= type=test
##% If the value of the "sent-by" parameter in
##% that header field value does not correspond to a value that the
##% client transport is configured to insert into requests, the response
##% MUST be silently discarded.
@case(
    "uac-response-foreign-sent-by",
    roles=UAC,
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def response_foreign_sent_by(ctx: Context) -> None:
    """A 486 whose top Via names another sent-by is dropped: no ACK for it."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    vias = invite.get_all("Via")
    top = vias[0]
    proto, _, rest = top.partition(" ")
    params = rest.partition(";")[2]
    foreign = f"{proto} 127.0.0.2:5999;{params}"
    peer.answer(invite, addr, 180)
    peer.answer(invite, addr, 486, vias=[foreign, *vias[1:]], note="top Via sent-by changed")
    acked = peer.request("ACK", max(1.0, 4 * ctx.profile.t1), invite.call_id)
    if acked is None:
        peer.answer(invite, addr, 486)
        if peer.request("ACK", 3.0, invite.call_id) is None:
            ctx.inconclusive("no ACK even for a proper 486")
    ctx.check(acked is None, "the 486 with a foreign sent-by dropped", "it was ACKed")


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.3
##= type=test
##% If more than one Via header field value is present in a response, the
##% UAC SHOULD discard the message.
@case(
    "uac-response-two-vias",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def response_two_vias(ctx: Context) -> None:
    """A 200 with a second Via (one the UAC never sent) is dropped: the UAC core, which ACKs
    a 2xx itself (§13.2.2.4), sends no ACK for it; the proper 200 then gets one."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    extra = "SIP/2.0/UDP 127.0.0.2:5998;branch=z9hG4bKnotours"
    peer.answer(invite, addr, 180)
    peer.answer(invite, addr, 200, vias=[*invite.get_all("Via"), extra], note="two Vias")
    acked = peer.request("ACK", max(1.0, 4 * ctx.profile.t1), invite.call_id)
    if acked is None:
        peer.answer(invite, addr, 200)
        if peer.request("ACK", 3.0, invite.call_id) is None:
            ctx.inconclusive("no ACK even for a proper 200")
    ctx.check(acked is None, "the 200 with two Vias dropped (no ACK)", "it was ACKed")


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% The client transaction SHOULD start timer D when it enters the "Completed" state, with a
##% value of at least 32 seconds for unreliable transports, and a value of zero seconds for
##% reliable transports.
@case(
    "uac-timer-d",
    roles=UAC,
    level="SHOULD",
    tags=("slow",),
    transports=("udp",),
    timeout=40,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def timer_d(ctx: Context) -> None:
    """A copy of a 486 arriving 20 s later is still ACKed (Timer D is at least 32 s)."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    busy = peer.answer(invite, addr, 486)
    with ctx.preamble("the ACK for the first 486"):
        if peer.request("ACK", 3.0, invite.call_id) is None:
            ctx.inconclusive("no ACK for the 486")
    time.sleep(20.0)
    peer.send(busy, addr, "486 retransmitted 20 s later")
    again = peer.request("ACK", 2.0, invite.call_id)
    ctx.check(again is not None, "the ACK again (still in Completed)", "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% However, implementations MUST be able to handle messages up to the maximum datagram
##% packet size.
@case(
    "uac-large-response",
    roles=UAC,
    transports=("udp",),
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def large_response(ctx: Context) -> None:
    """A 486 of about 60 000 bytes in one datagram is understood: it gets its ACK."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    padding = "x" * 60000
    peer.answer(invite, addr, 486, headers=[f"X-Padding: {padding}"], note="a 60 kB 486")
    got = peer.request("ACK", max(1.0, 6 * ctx.profile.t1), invite.call_id)
    if got is None:
        peer.answer(invite, addr, 486)
        if peer.request("ACK", 3.0, invite.call_id) is None:
            ctx.inconclusive("no ACK even for a small 486")
    ctx.check(got is not None, "an ACK for the large 486", "none (a small one was ACKed)")
