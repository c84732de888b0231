"""The proxy's transactions seen from both sides (RFC 3261 §17.1.1, §17.2.1): its INVITE
client transaction retransmitting downstream (Timer A), its INVITE server transaction
repeating responses upstream, absorbing the ACK of a non-2xx, and never ACKing a 2xx.
"""

from __future__ import annotations

from conformance.cases._proxy_support import (
    ack_upstream,
    arrives,
    downstream_uri,
    end_branch,
    final_of,
    reply,
    upstream,
)
from conformance.cases.proxy import FORWARDED
from conformance.messages import ack_for, bye_for
from conformance.model import Context, case, describe

#: load order of the case modules (conformance.discovery)
ORDER = 74

PROXY = ("proxy",)


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% If an unreliable transport is being used, the client transaction MUST start timer A with a
##% value of T1.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% When timer A fires, the client transaction MUST retransmit the request by passing it to
##% the transport layer, and MUST reset the timer with a value of 2*T1.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% When timer A fires 2*T1 seconds later, the request MUST be retransmitted again (assuming
##% the client transaction is still in this state).
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% A stateful proxy MUST create a new client transaction for this request as described in
##% Section 17.1 and instructs the transaction to send the request using the address, port
##% and transport determined in step 7.
@case("proxy-invite-timer-a", roles=PROXY, transports=("udp",), no_control=FORWARDED)
def timer_a(ctx: Context) -> None:
    """An INVITE the downstream UAS leaves unanswered is retransmitted to it at T1, 2*T1,
    4*T1 (the profile's T1; generous bounds on a loaded machine)."""
    link, down = ctx.link(), ctx.listener()
    t1 = ctx.profile.t1
    req = ctx.request("INVITE", link, uri=downstream_uri(down))
    link.send(bytes(req))
    got = arrives(down, "INVITE", req.call_id)
    if got is None:
        ctx.inconclusive(f"the proxy did not forward the INVITE ({describe(final_of(link, req))})")
    assert got is not None
    start = ctx.ladder.events[-1].t
    copies = []
    copy_msgs = []
    for _ in range(3):
        again = arrives(down, "INVITE", req.call_id, timeout=8 * t1 + 0.2)
        if again is None:
            break
        copies.append(ctx.ladder.events[-1].t - start)
        copy_msgs.append(again)
    end_branch(down, got, 486)
    ack_upstream(link, req, final_of(link, req))
    seen = ", ".join(f"{t:.2f}" for t in copies) or "none"
    # a loaded machine may delay a datagram by a tenth of a second: slack beyond 2*T1
    ctx.check(
        bool(copies) and 0.5 * t1 <= copies[0] <= 2 * t1 + 0.1, f"one after T1 ({t1} s)", seen
    )
    ctx.check(
        all(c[0].branch == got[0].branch for c in copy_msgs),
        "retransmissions of its client transaction (the same branch, to the same socket)",
        ", ".join(str(c[0].branch) for c in copy_msgs),
        requirement=3,
    )
    ctx.check(len(copies) >= 2, "a second one about 2*T1 later", seen, requirement=1)
    gaps = [b - a for a, b in zip([0.0, *copies], copies, strict=False)]
    ctx.check(
        len(copies) >= 3 and gaps[2] > 1.2 * gaps[1] and gaps[1] > 1.2 * gaps[0],
        "intervals doubling (T1, 2*T1, 4*T1)",
        seen,
        requirement=2,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% If a request retransmission is received while in the "Proceeding" state, the most recent
##% provisional response that was received from the TU MUST be passed to the transport layer
##% for retransmission.
@case("proxy-provisional-on-retransmission", roles=PROXY, no_control=FORWARDED)
def provisional_again(ctx: Context) -> None:
    """Our INVITE retransmitted after a 180 came upstream gets the 180 again."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request("INVITE", link, uri=downstream_uri(down))
    link.send(bytes(req))
    got = arrives(down, "INVITE", req.call_id)
    if got is None:
        ctx.inconclusive(f"the proxy did not forward the INVITE ({describe(final_of(link, req))})")
    assert got is not None
    reply(down, got, 180)
    first = upstream(link, req, lambda m: m.status == 180, timeout=1.0)
    if first is None:
        end_branch(down, got, 486)
        ack_upstream(link, req, final_of(link, req))
        ctx.inconclusive("the 180 was not forwarded")
    link.send(bytes(req), "retransmission")
    again = upstream(link, req, lambda m: m.status == 180, timeout=1.0)
    end_branch(down, got, 486)
    ack_upstream(link, req, final_of(link, req))
    ctx.check(again is not None, "the 180 again", "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% If an ACK is received while the server transaction is in the "Completed" state, the
##% server transaction MUST transition to the "Confirmed" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% Furthermore, while in the "Completed" state, if a request retransmission is received, the
##% server SHOULD pass the response to the transport for retransmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% While in the "Proceeding" state, if the TU passes a response with status code from 300 to
##% 699 to the server transaction, the response MUST be passed to the transport layer for
##% transmission, and the state machine MUST enter the "Completed" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% The proxy MUST pass the response to the server transaction associated with the response
##% context.
@case("proxy-non-2xx-ack-absorbed", roles=PROXY, no_control=FORWARDED)
def ack_absorbed(ctx: Context) -> None:
    """The 486 upstream is repeated for our retransmitted INVITE (SHOULD); our ACK of it
    goes no further than the proxy (hop by hop), and the 486 is not sent again after it."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request("INVITE", link, uri=downstream_uri(down))
    link.send(bytes(req))
    got = arrives(down, "INVITE", req.call_id)
    if got is None:
        ctx.inconclusive(f"the proxy did not forward the INVITE ({describe(final_of(link, req))})")
    assert got is not None
    reply(down, got, 486)
    down.expect(lambda m: m.method == "ACK", timeout=0.5)  # the proxy's own ACK
    final = ctx.require_final(final_of(link, req))
    link.send(bytes(req), "retransmission")
    repeated = final_of(link, req, timeout=1.0)
    ack_upstream(link, req, final)
    leaked = arrives(down, "ACK", req.call_id, timeout=0.5)
    after = final_of(link, req, timeout=1.5 * ctx.profile.t1)
    ctx.check(final.status == 486, "the 486 upstream", describe(final), requirement=3)
    ctx.check(leaked is None, "our ACK absorbed by the proxy", "forwarded downstream")
    ctx.check(
        after is None, "no 486 after the ACK (Completed, then Confirmed)", describe(after), 2
    )
    ctx.should(repeated is not None, "the 486 again for the retransmission", "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% The client transaction MUST NOT generate an ACK.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% When in either the "Calling" or "Proceeding" states, reception of a 2xx response MUST
##% cause the client transaction to enter the "Terminated" state, and the response MUST be
##% passed up to the TU.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% If, while in the "Proceeding" state, the TU passes a 2xx response to the server
##% transaction, the server transaction MUST pass this response to the transport layer for
##% transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% A UAC core that generates an ACK for 2xx MUST instead follow the rules described in
##% Section 13.
@case("proxy-no-own-ack-for-2xx", roles=PROXY, no_control=FORWARDED)
def no_ack_for_2xx(ctx: Context) -> None:
    """A 2xx from downstream is not ACKed by the proxy: the only ACK comes from us."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request("INVITE", link, uri=downstream_uri(down))
    link.send(bytes(req))
    got = arrives(down, "INVITE", req.call_id)
    if got is None:
        ctx.inconclusive(f"the proxy did not forward the INVITE ({describe(final_of(link, req))})")
    assert got is not None
    reply(down, got, 200)
    final = final_of(link, req)
    if final is None or final.status != 200:
        end_branch(down, got, 486)
        ack_upstream(link, req, final_of(link, req, timeout=1.0))
        ctx.fail("the 200 upstream", describe(final), requirement=1)
    assert final is not None
    own = arrives(down, "ACK", req.call_id, timeout=0.5)
    ack = ack_for(req, final, ctx.target)
    link.send(bytes(ack), "ACK (2xx)")
    theirs = arrives(down, "ACK", req.call_id, timeout=1.0)
    bye = bye_for(req, final, ctx.target)
    link.send(bytes(bye), "BYE")
    end = arrives(down, "BYE", req.call_id, timeout=2.0)
    if end is not None:
        reply(down, end, 200)
        final_of(link, bye)
    ctx.check(own is None, "no ACK before ours", "an ACK from the proxy itself")
    # the 2xx's ACK is a request of its own, end to end (§13.2.2.4): ours goes through
    ctx.check(
        theirs is not None and theirs[0].branch != got[0].branch,
        "our ACK forwarded downstream (a new transaction, not the INVITE's branch)",
        "none" if theirs is None else f"branch {theirs[0].branch}",
        requirement=3,
    )
