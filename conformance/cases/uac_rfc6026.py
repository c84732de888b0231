"""RFC 6026 seen at a UAC: its INVITE client transaction ACKs a non-2xx itself (and again
for each repeat), while a 2xx goes up to the TU, whose ACK is a new transaction; a repeated
2xx, matched while "Accepted", is passed up again and so ACKed again (§7.2, §8.4); a 2xx
matching no transaction is dropped (§8.9).  The runner plays the UAS
(`conformance.trigger.Peer`).
"""

from __future__ import annotations

import time

from conformance.cases.uac_transaction import INVITED
from conformance.model import Context, case
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer

ORDER = 62  # after uac_transaction


##= https://www.rfc-editor.org/rfc/rfc6026#section-7.2
##= type=test
##% A 2xx response received while in the "Accepted" state MUST be passed to the TU and the
##% machine remains in the "Accepted" state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% Any 2xx responses that match this client transaction and that are received while in the
##% "Accepted" state MUST be passed up to the TU.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.2
##= type=test
##% If a 2xx response is received while the client INVITE state machine is in the "Calling" or
##% "Proceeding" states, it MUST transition to the "Accepted" state, pass the 2xx response to
##% the TU, and set Timer M to 64*T1.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% When a 2xx response is received while in either the "Calling" or "Proceeding" states, the
##% client transaction MUST transition to the "Accepted" state, and Timer M MUST be started
##% with a value of 64*T1.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% The 2xx response MUST be passed up to the TU.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.9
##= type=test
##% If there is a match, the response MUST be passed to that transaction.
@case(
    "uac-6026-2xx-retransmission-reacked",
    roles=UAC,
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def reacked(ctx: Context) -> None:
    """A 200 ACKed (the TU's ACK, a new branch), then the same 200 again: its ACK again
    (the repeat went up to the TU through the "Accepted" client transaction)."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    ok = peer.answer(invite, addr, 200)
    with ctx.preamble("the ACK of the 200"):
        first = peer.request("ACK", 3.0, invite.call_id)
        if first is None:
            ctx.inconclusive("no ACK for the 200")
    assert first is not None
    peer.send(ok, addr, "200 retransmitted")
    again = peer.request("ACK", max(1.0, 4 * ctx.profile.t1), invite.call_id)
    peer.serve(0.3)
    ctx.check(again is not None, "the ACK again for the repeated 200", "none")
    assert again is not None
    ctx.check(
        again[0].branch != invite.branch,
        "an ACK of the TU (not on the INVITE's branch)",
        f"branch {again[0].branch}",
        requirement=4,
    )


##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% When in either the "Calling" or "Proceeding" states, reception of a response with status
##% code from 300-699 MUST cause the client transaction to transition to "Completed".
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% The client transaction MUST pass the received response up to the TU, and the client
##% transaction MUST generate an ACK request, even if the transport is reliable (guidelines
##% for constructing the ACK from the response are given in Section 17.1.1.3), and then pass
##% the ACK to the transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% The ACK MUST be sent to the same address, port, and transport to which the original
##% request was sent.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% Any retransmissions of a response with status code 300-699 that are received while in
##% the "Completed" state MUST cause the ACK to be re-passed to the transport layer for
##% retransmission, but the newly received response MUST NOT be passed up to the TU.
@case(
    "uac-6026-non-2xx-acked",
    roles=UAC,
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def non_2xx_acked(ctx: Context) -> None:
    """A 486: the ACK on the INVITE's branch, to the runner's socket; the 486 repeated: the
    ACK again, and no new INVITE (the response was not passed up again)."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    busy = peer.answer(invite, addr, 486)
    ack = peer.request("ACK", 3.0, invite.call_id)
    peer.send(busy, addr, "486 retransmitted")
    again = peer.request("ACK", max(1.0, 4 * ctx.profile.t1), invite.call_id)
    ctx.check(ack is not None, "an ACK of the 486", "none", requirement=1)
    assert ack is not None
    ctx.check(
        ack[0].branch == invite.branch,
        f"the ACK on the INVITE's branch {invite.branch}",
        f"branch {ack[0].branch}",
        requirement=0,
    )
    ctx.check(again is not None, "the ACK again for the repeated 486", "none", requirement=3)


##= https://www.rfc-editor.org/rfc/rfc6026#section-8.9
##= type=test
##% Otherwise, any element other than a stateless proxy MUST silently discard the response.
@case(
    "uac-6026-stray-2xx-dropped",
    roles=UAC,
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def stray_2xx(ctx: Context) -> None:
    """A 200 whose top Via branch is none of the UAC's transactions (another Call-ID too) is
    dropped: no ACK for it; the proper 200 then gets one."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 180)
    top, *rest = invite.get_all("Via")
    branch = invite.branch or ""
    stray_via = top.replace(branch, branch + "stray") if branch else top + ";branch=z9hG4bKstray"
    data = peer.response(invite, 200, vias=[stray_via, *rest])
    data = data.replace(invite.call_id.encode(), b"stray-" + invite.call_id.encode(), 1)
    peer.send(data, addr, "stray 200 (unknown branch and Call-ID)")
    acked = peer.expect(lambda m: m.method == "ACK", max(1.0, 4 * ctx.profile.t1))
    peer.answer(invite, addr, 200)
    proper = peer.request("ACK", 3.0, invite.call_id)
    peer.serve(0.3)
    if acked is None and proper is None:
        ctx.inconclusive("no ACK even for a proper 200")
    ctx.check(acked is None, "the stray 200 dropped (no ACK)", "it was ACKed")


##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% The client transaction MUST start Timer D when it enters the
##% "Completed" state for any reason, with a value of at least 32 seconds
##% for unreliable transports, and a value of zero seconds for reliable
##% transports.
@case(
    "uac-6026-completed-holds",
    roles=UAC,
    timeout=20,
    preamble="two calls from the target ([uac] calls)",
)
def completed_holds(ctx: Context) -> None:
    """A 486 to the first of two calls, ACKed, and ACKed again when repeated at once (the
    control); the 486 again 1.5 s later (over UDP, beyond
    every T1-derived timer of a 0.1 s T1, well inside Timer D's 32 s): ACKed again, so the
    transaction still sits in "Completed".  (Only the lower bound seen in a quick case: the
    runner does not wait the 32 s.)"""
    peer = Peer(ctx, "calls")
    invite, addr = peer.first("INVITE", "the first call's INVITE ([uac] calls)")
    busy = peer.answer(invite, addr, 486)
    ack = peer.request("ACK", 3.0, invite.call_id)
    if ack is None:
        ctx.inconclusive("no ACK for the 486")
    # the control: the 486 repeated at once is ACKed again (uac-6026-non-2xx-acked judges it)
    peer.send(busy, addr, "486 retransmitted at once")
    control = peer.request("ACK", max(1.0, 4 * ctx.profile.t1), invite.call_id)
    ctx.control_outcome = f"the 486 repeated at once: {'ACKed' if control else 'no ACK'}"
    ctx.control_ok = control is not None
    # the second call keeps the UAC running meanwhile: leave it ringing
    second = peer.expect(lambda m: m.method == "INVITE" and m.call_id != invite.call_id, 3.0)
    if second is not None:
        peer.answer(second[0], second[1], 180)
    if control is None:
        if second is not None:
            peer.answer(second[0], second[1], 486)
        peer.serve(0.2)
        ctx.inconclusive("a 486 repeated at once is not ACKed again either: no state to probe")
    time.sleep(max(0.0, 1.5 - 0.1))
    peer.send(busy, addr, "486 retransmitted 1.5 s later")
    again = peer.request("ACK", max(1.0, 4 * ctx.profile.t1), invite.call_id)
    if second is not None:
        peer.answer(second[0], second[1], 486)
    peer.serve(0.2)
    ctx.check(again is not None, "the ACK again for the 486 repeated 1.5 s later", "none")
    assert again is not None
    ctx.check(again[0].branch == invite.branch, "on the INVITE's branch", f"{again[0].branch}")
