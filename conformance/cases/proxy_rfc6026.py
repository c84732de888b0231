"""RFC 6026 seen at a transaction-stateful proxy: the "Accepted" state of its INVITE
transactions (a 2xx forwarded, its retransmissions forwarded too, no ACK and no 2xx
retransmission of the proxy's own, INVITE retransmissions absorbed) and stray 2xx responses
not forwarded (§6, §7.1–7.3, §8.2, §8.4).  The runner plays the upstream UAC and the
downstream UAS (`conformance.cases._proxy_support`).
"""

from __future__ import annotations

from conformance.cases._proxy_support import (
    ack_upstream,
    arrives,
    downstream_uri,
    final_of,
    reply,
    upstream,
)
from conformance.cases.proxy import FORWARDED, control_through
from conformance.cases.proxy_responses import _close, _hang_up, _invite
from conformance.messages import unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message

#: load order of the case modules (conformance.discovery)
ORDER = 76

PROXY = ("proxy",)


def _is_200(m: Message) -> bool:
    return m.status == 200


##= https://www.rfc-editor.org/rfc/rfc6026#section-7.2
##= type=test
##% If a 2xx response is received while the client INVITE state machine is in the "Calling" or
##% "Proceeding" states, it MUST transition to the "Accepted" state, pass the 2xx response to
##% the TU, and set Timer M to 64*T1.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.2
##= type=test
##% A 2xx response received while in the "Accepted" state MUST be passed to the TU and the
##% machine remains in the "Accepted" state.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% When a 2xx response is received while in either the "Calling" or "Proceeding" states, the
##% client transaction MUST transition to the "Accepted" state, and Timer M MUST be started
##% with a value of 64*T1.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% Any 2xx responses that match this client transaction and that are received while in the
##% "Accepted" state MUST be passed up to the TU.
##= https://www.rfc-editor.org/rfc/rfc6026#section-6
##= type=test
##% When receiving any SIP response, a transaction-stateful proxy MUST compare the
##% transaction identifier in that response against its existing transaction state machines.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.5
##= type=test
##% If, while in the "Proceeding" state, the TU passes a 2xx response to the server
##% transaction, the server transaction MUST pass this response to the transport layer for
##% transmission.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.7
##= type=test
##% While in the "Accepted" state, if the TU passes a 2xx response, the server transaction
##% MUST pass the response to the transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.9
##= type=test
##% If there is a match, the response MUST be passed to that transaction.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% The client transaction MUST NOT generate an ACK to the 2xx response.
@case("proxy-6026-2xx-retransmission-forwarded", roles=PROXY, no_control=FORWARDED)
def retransmitted_2xx(ctx: Context) -> None:
    """The downstream UAS repeats its 200 (no ACK yet): the proxy, its client transaction
    "Accepted", forwards the repeat upstream too (a proxy core always forwards a 2xx)."""
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, down)
    tag = reply(down, got, 200)
    first = upstream(link, req, _is_200)
    if first is None:
        reply(down, got, 486, to_tag=tag)
        ctx.fail("the 200 forwarded upstream", "none", requirement=0)
    assert first is not None
    reply(down, got, 200, to_tag=tag, note="downstream 200 (retransmission)")
    again = upstream(link, req, _is_200, timeout=1.0)
    own_ack = arrives(down, "ACK", req.call_id, timeout=0.3)
    _hang_up(ctx, link, down, req, first)
    ctx.check(again is not None, "the retransmitted 200 forwarded upstream", "none", 5)
    ctx.check(own_ack is None, "no ACK of the repeated 200 from the proxy", "an ACK", 3)


##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##= type=test
##% The server transaction MUST NOT generate 2xx retransmissions on its own.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.2
##= type=test
##% The client transaction MUST NOT generate an ACK to any 2xx response on its own.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% The client transaction MUST NOT generate an ACK to the 2xx response -- its handling is
##% delegated to the TU.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% The 2xx response MUST be passed up to the TU.
@case("proxy-6026-no-own-2xx-retransmission", roles=PROXY, no_control=FORWARDED)
def no_own_retransmission(ctx: Context) -> None:
    """A 200 forwarded upstream and left unACKed for a while: the proxy neither repeats it
    by itself (the UAS's TU does that, end to end) nor ACKs it downstream."""
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, down)
    tag = reply(down, got, 200)
    first = upstream(link, req, _is_200)
    if first is None:
        reply(down, got, 486, to_tag=tag)
        ctx.fail("the 200 forwarded upstream", "none", requirement=3)
    assert first is not None
    # a UAS core would repeat its 2xx after T1, 2*T1: the proxy's transaction must not
    wait = max(3 * ctx.profile.t1, 0.6)
    own_ack = arrives(down, "ACK", req.call_id, timeout=wait)
    repeated = upstream(link, req, _is_200, timeout=0.05)
    _hang_up(ctx, link, down, req, first)
    ctx.check(repeated is None, "no 200 repeated by the proxy", describe(repeated), 0)
    ctx.check(own_ack is None, "no ACK of the 200 from the proxy", "an ACK", 1)


##= https://www.rfc-editor.org/rfc/rfc6026#section-7.1
##= type=test
##% If the SIP element's TU (Transaction User) issues a 2xx response for this transaction
##% while the state machine is in the "Proceeding" state, the state machine MUST transition
##% to the "Accepted" state and set Timer L to 64*T1, where T1 is the round-trip time
##% estimate defined in Section 17.1.1.1 of [RFC3261].
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.5
##= type=test
##% The server transaction MUST then transition to the "Accepted" state.
@case("proxy-6026-invite-retransmission-absorbed", roles=PROXY, no_control=FORWARDED)
def invite_absorbed(ctx: Context) -> None:
    """Our INVITE repeated after the 200 came through matches the proxy's "Accepted"
    server transaction: absorbed, not forwarded downstream again as a new request."""
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, down)
    tag = reply(down, got, 200)
    first = link.expect(lambda m: m.status == 200 and m.call_id == req.call_id, timeout=2.0)
    if first is None:
        reply(down, got, 486, to_tag=tag)
        ctx.inconclusive("the 200 was not forwarded upstream")
    assert first is not None
    link.send(bytes(req), "INVITE (retransmission)")
    again = arrives(down, "INVITE", req.call_id, timeout=0.6)
    if again is not None and again[0].branch != got[0].branch:
        reply(down, again, 486)  # a second branch: close it
        down.expect(lambda m: m.method == "ACK", timeout=0.3)
    _hang_up(ctx, link, down, req, first)
    ctx.check(
        again is None or again[0].branch == got[0].branch,
        "the retransmission absorbed (or at most repeated on the same branch)",
        f"a new INVITE downstream (branch {again[0].branch})" if again else "none",
    )


##= https://www.rfc-editor.org/rfc/rfc6026#section-6
##= type=test
##% The proxy MUST NOT forward the response if there is no matching transaction state
##% machine.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.3
##= type=test
##% When receiving any SIP response, a transaction-stateful proxy MUST compare the transaction
##% identifier in that response against its existing transaction state machines.
##= https://www.rfc-editor.org/rfc/rfc6026#section-7.3
##= type=test
##% The proxy MUST NOT forward the response if there is no matching transaction state
##% machine.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.9
##= type=test
##% Otherwise, any element other than a stateless proxy MUST silently discard the response.
@case("proxy-6026-stray-2xx-not-forwarded", roles=PROXY)
def stray_2xx(ctx: Context) -> None:
    """A 200 to an INVITE whose top Via names the proxy (its own sent-by, as in the request
    it just forwarded) with a branch of no transaction goes nowhere: no stateless relay."""
    link, down = ctx.link(), ctx.listener()
    control_through(ctx, link, down)
    # the proxy's sent-by: the top Via of an INVITE it forwards; a retransmission of it
    # forwarded again at once shows a stateless proxy, which RFC 6026 §7.3 does not bind
    probe, seen = _invite(ctx, link, down)
    link.send(bytes(probe), "INVITE (retransmission)")
    stateless = arrives(down, "INVITE", probe.call_id, timeout=0.6 * ctx.profile.t1)
    _close(link, down, probe, seen)
    if stateless is not None:
        ctx.not_applicable("a stateless proxy: it forwards responses by their Via (§16.11)")
    proxy_via = seen[0].get("Via") or ""
    sent = proxy_via.split(";", 1)[0]
    target = ctx.listener()
    lines = [
        "SIP/2.0 200 OK",
        f"Via: {sent};branch={unique('z9hG4bK')}",
        f"Via: SIP/2.0/UDP {target.hostport};branch={unique('z9hG4bK')}",
        f"From: <sip:tester@{link.local[0]}>;tag={unique('t')}",
        f"To: <sip:stray@{down.hostport}>;tag={unique('d')}",
        f"Call-ID: {unique('c')}@conformance.invalid",
        "CSeq: 1 INVITE",  # an INVITE response: the one RFC 6026 changed
        f"Contact: <sip:stray@{down.hostport}>",
        "Content-Length: 0",
    ]
    down.send(("\r\n".join(lines) + "\r\n\r\n").encode(), ctx.target.address, "stray 200")
    leaked = target.expect(timeout=0.6) or link.expect(
        lambda m: m.is_response and m.status == 200 and m.cseq[1] == "INVITE", timeout=0.05
    )
    shown = describe(leaked[0] if isinstance(leaked, tuple) else leaked) if leaked else ""
    ctx.check(leaked is None, "the stray 200 discarded", f"forwarded: {shown}")


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
@case("proxy-6026-non-2xx-acked", roles=PROXY, no_control=FORWARDED)
def non_2xx_acked(ctx: Context) -> None:
    """A 486 from downstream: the proxy's client transaction ACKs it (on the INVITE's branch,
    to the socket the INVITE went to) and ACKs it again when the 486 is repeated; the 486
    goes upstream."""
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, down)
    tag = reply(down, got, 486)
    ack = arrives(down, "ACK", req.call_id, timeout=1.0)
    final = final_of(link, req)
    ack_upstream(link, req, final)
    if ack is None and arrives(down, "ACK", req.call_id, timeout=0.5) is not None:
        ctx.not_applicable("a stateless proxy: it relays the ACK, it has no client transaction")
    reply(down, got, 486, to_tag=tag, note="downstream 486 (retransmission)")
    again = arrives(down, "ACK", req.call_id, timeout=1.0)
    ctx.check(final is not None and final.status == 486, "the 486 upstream", describe(final), 1)
    ctx.check(
        ack is not None and ack[0].branch == got[0].branch,
        "an ACK of the 486 on the INVITE's branch, to the INVITE's socket",
        "none" if ack is None else f"branch {ack[0].branch}",
        2,
    )
    ctx.check(again is not None, "the ACK again for the repeated 486", "none", 3)


##= https://www.rfc-editor.org/rfc/rfc6026#section-6
##= type=test
##% When receiving an ACK that matches an existing INVITE server transaction and that does not
##% contain a branch parameter containing the magic cookie defined in RFC 3261, the matching
##% transaction MUST be checked to see if it is in the "Accepted" state.
@case(
    "proxy-6026-rfc2543-ack-passed-up",
    roles=PROXY,
    no_control="the INVITE without a branch (an RFC 2543 client) must be forwarded first",
)
def rfc2543_ack(ctx: Context) -> None:
    """An INVITE from an RFC 2543 client (no branch in its Via) answered 200: its ACK, which
    matches the "Accepted" INVITE server transaction by the old rules, is not absorbed but
    passed to the proxy core and forwarded."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request("INVITE", link, uri=downstream_uri(down))
    req.set("Via", f"SIP/2.0/UDP {link.sent_by};rport")
    link.send(bytes(req), "INVITE without a branch (RFC 2543)")
    got = arrives(down, "INVITE", req.call_id)
    if got is None:
        ctx.inconclusive("the INVITE without a branch was not forwarded")
    assert got is not None
    tag = reply(down, got, 200)
    first = link.expect(lambda m: m.status == 200 and m.call_id == req.call_id, timeout=2.0)
    if first is None:
        reply(down, got, 486, to_tag=tag)
        ctx.inconclusive("the 200 was not forwarded upstream")
    assert first is not None
    both = _hang_up(ctx, link, down, req, first)
    ctx.check(both, "the branchless ACK (and the BYE) forwarded downstream", "not both")
