"""Proxy response processing and CANCEL (RFC 3261 §16.2, §16.7, §16.8, §16.10, §16.11) with
one downstream UAS: which responses go upstream and how, the proxy's own 100 and ACK,
CANCEL, Timer C, stray responses.
"""

from __future__ import annotations

import re

from conformance.cases._proxy_support import (
    Got,
    ack_upstream,
    arrives,
    cancel_of,
    downstream_uri,
    end_branch,
    final_of,
    reply,
    upstream,
)
from conformance.cases.proxy import FORWARDED, control_through
from conformance.messages import Outgoing, ack_for, bye_for, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message, param
from conformance.wire import Link, Listener

#: load order of the case modules (conformance.discovery)
ORDER = 72

PROXY = ("proxy",)
#: a header field only the runner's downstream UAS puts in its responses
MARK = "X-Conformance-Downstream"


def _invite(ctx: Context, link: Link, down: Listener, **kw: object) -> tuple[Outgoing, Got]:
    """An INVITE through the proxy to ``down``; the copy that arrived (else inconclusive)."""
    req = ctx.request("INVITE", link, uri=downstream_uri(down), **kw)  # type: ignore[arg-type]
    link.send(bytes(req))
    got = arrives(down, "INVITE", req.call_id)
    if got is None:
        ctx.inconclusive(f"the proxy did not forward the INVITE ({describe(final_of(link, req))})")
    assert got is not None
    return req, got


def _close(
    link: Link, down: Listener, req: Outgoing, got: Got, status: int = 486
) -> Message | None:
    """End an INVITE left open: ``status`` downstream, the final response ACKed upstream."""
    end_branch(down, got, status)
    final = final_of(link, req)
    ack_upstream(link, req, final)
    return final


def _hang_up(ctx: Context, link: Link, down: Listener, req: Outgoing, final: Message) -> bool:
    """ACK a 2xx that came through the proxy and BYE the call (both routed by the proxy's
    Record-Route, §12.2.1.1); whether both reached the downstream UAS."""
    link.send(bytes(ack_for(req, final, ctx.target)), "ACK (2xx)")
    ack = arrives(down, "ACK", req.call_id, timeout=2.0)
    bye = bye_for(req, final, ctx.target)
    link.send(bytes(bye), "BYE")
    got = arrives(down, "BYE", req.call_id, timeout=2.0)
    if got is not None:
        reply(down, got, 200)
        final_of(link, bye)
    return ack is not None and got is not None


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.2
##= type=test
##% The proxy core MUST behave as a UAS with respect to sending an immediate provisional on
##% that server transaction (such as 100 Trying) as described in Section 8.2.6.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% The server transaction MUST generate a 100 (Trying) response unless it knows that the TU
##% will generate a provisional or final response within 200 ms, in which case it MAY
##% generate a 100 (Trying) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% The 100 (Trying) response is constructed according to the procedures in Section 8.2.6,
##% except that the insertion of tags in the To header field of the response (when none was
##% present in the request) is downgraded from MAY to SHOULD NOT.
@case("proxy-100-trying-invite", roles=PROXY, no_control=FORWARDED)
def trying_invite(ctx: Context) -> None:
    """An INVITE the next hop does not answer at once gets a 100 (Trying) from the proxy,
    without a To tag (SHOULD NOT)."""
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, down)
    trying = upstream(link, req, lambda m: m.status == 100, timeout=0.5)
    _close(link, down, req, got)
    ctx.check(trying is not None, "a 100 (Trying)", "none within 0.5 s", requirement=1)
    assert trying is not None
    ctx.check(trying.to_tag is None, "no To tag", f"tag={trying.to_tag}", 2, level="SHOULD")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.2
##= type=test
##% Thus, a stateful proxy SHOULD NOT generate 100 (Trying) responses to non-INVITE requests.
@case("proxy-no-100-non-invite", roles=PROXY, level="SHOULD", no_control=FORWARDED)
def no_trying_non_invite(ctx: Context) -> None:
    """A MESSAGE answered late downstream gets no 100 (Trying) meanwhile."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    link.send(bytes(req))
    got = arrives(down, "MESSAGE", req.call_id)
    if got is None:
        ctx.inconclusive("the proxy did not forward the MESSAGE")
    assert got is not None
    trying = upstream(link, req, lambda m: m.status == 100, timeout=0.6)
    reply(down, got, 200)
    final_of(link, req)
    ctx.check(trying is None, "no 100 (Trying)", describe(trying))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% In particular, a stateful proxy MUST NOT forward any 100 (Trying) response.
@case("proxy-100-not-forwarded", roles=PROXY, no_control=FORWARDED)
def hundred_not_forwarded(ctx: Context) -> None:
    """The downstream UAS's 100 (Trying) does not come upstream."""
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, down)
    reply(down, got, 100, extra=[(MARK, "100")])
    relayed = upstream(link, req, lambda m: m.status == 100 and m.get(MARK) is not None, 0.5)
    _close(link, down, req, got)
    ctx.check(relayed is None, "the downstream 100 not forwarded", describe(relayed))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% Until a final response has been sent on the server transaction, the following responses
##% MUST be forwarded immediately:
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% A proxy MUST NOT modify the tag in the To header field of a 1xx or 2xx response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% So long as the server transaction is in the "Proceeding" state, each of these MUST be
##% passed to the transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% Any response chosen for immediate forwarding MUST be processed as described in steps
##% "Aggregate Authorization Header Field Values" through "Record-Route".
@case("proxy-180-forwarded", roles=PROXY, no_control=FORWARDED)
def ringing_forwarded(ctx: Context) -> None:
    """The downstream 180 comes upstream at once, with its To tag unchanged."""
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, down)
    tag = reply(down, got, 180, extra=[(MARK, "180")])
    ringing = upstream(link, req, lambda m: m.status == 180, timeout=1.0)
    _close(link, down, req, got)
    ctx.check(ringing is not None, "the 180 upstream within 1 s", "none")
    assert ringing is not None
    ctx.check(ringing.to_tag == tag, f"To tag {tag}", str(ringing.to_tag), requirement=1)
    vias = ringing.get_all("Via")
    ctx.check(
        len(vias) == 1 and param(vias[0], "branch") == req.branch,
        "the 180 with only our Via (step 9, Via)",
        " | ".join(vias),
        requirement=3,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% A proxy MUST NOT insert a tag into the To header field of a 1xx or 2xx response if the
##% request did not contain one.
@case("proxy-no-to-tag-inserted", roles=PROXY, no_control=FORWARDED)
def no_tag_inserted(ctx: Context) -> None:
    """A 183 without a To tag comes upstream without one."""
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, down)
    msg, addr = got
    lines = ["SIP/2.0 183 Session Progress", *(f"Via: {v}" for v in msg.get_all("Via"))]
    lines += [f"{n}: {msg.get(n)}" for n in ("From", "To", "Call-ID", "CSeq")]
    down.send(("\r\n".join([*lines, "Content-Length: 0"]) + "\r\n\r\n").encode(), addr, "183")
    progress = upstream(link, req, lambda m: m.status == 183, timeout=1.0)
    _close(link, down, req, got)
    if progress is None:
        ctx.inconclusive("the 183 was not forwarded")
    assert progress is not None
    ctx.check(progress.to_tag is None, "no To tag", f"tag={progress.to_tag}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% An element SHOULD preserve the To tag when simply forwarding a 3-6xx response to a
##% request that did not contain a To tag.
@case("proxy-final-to-tag-kept", roles=PROXY, level="SHOULD", no_control=FORWARDED)
def final_tag_kept(ctx: Context) -> None:
    """The To tag of a downstream 486 comes upstream unchanged."""
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, down)
    tag = unique("busy")
    reply(down, got, 486, to_tag=tag)
    down.expect(lambda m: m.method == "ACK", timeout=0.3)
    final = ctx.require_final(final_of(link, req))
    ack_upstream(link, req, final)
    ctx.check(final.to_tag == tag, f"To tag {tag}", str(final.to_tag))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% A proxy MUST NOT modify the To tag in any forwarded response to a request that contains a
##% To tag.
@case("proxy-in-dialog-to-tag-kept", roles=PROXY, no_control=FORWARDED)
def in_dialog_tag(ctx: Context) -> None:
    """A response to a request with a To tag keeps that tag."""
    link, down = ctx.link(), ctx.listener()
    tag = unique("dlg")
    uri = downstream_uri(down)
    req = ctx.request("MESSAGE", link, uri=uri, to=f"<{uri}>;tag={tag}")
    link.send(bytes(req))
    got = arrives(down, "MESSAGE", req.call_id)
    if got is None:
        ctx.inconclusive("the proxy did not forward the MESSAGE with a To tag")
    assert got is not None
    reply(down, got, 200)
    final = ctx.require_final(final_of(link, req))
    ctx.check(final.to_tag == tag, f"To tag {tag}", str(final.to_tag))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% The proxy MUST NOT add to, modify, or remove the message body.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% The proxy MUST NOT add to, modify, or remove the message body.
@case("proxy-response-body-unchanged", roles=PROXY, no_control=FORWARDED)
def response_body(ctx: Context) -> None:
    """The body of a downstream response arrives byte for byte."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    link.send(bytes(req))
    got = arrives(down, "MESSAGE", req.call_id)
    if got is None:
        ctx.inconclusive("the proxy did not forward the MESSAGE")
    assert got is not None
    body = b"response body \x00\x01\r\n kept\r\n"
    reply(down, got, 200, body=body)
    final = ctx.require_final(final_of(link, req))
    ctx.check(final.body == body, repr(body), repr(final.body))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% Unless otherwise specified, the proxy MUST NOT remove any header field values other than
##% the Via header field value discussed in Section 16.7 Item 3.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% Unless specified otherwise, the proxy MUST NOT remove any other header field values.
@case("proxy-response-headers-kept", roles=PROXY, no_control=FORWARDED)
def response_headers(ctx: Context) -> None:
    """Header fields of a downstream response (known and unknown) come upstream."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    link.send(bytes(req))
    got = arrives(down, "MESSAGE", req.call_id)
    if got is None:
        ctx.inconclusive("the proxy did not forward the MESSAGE")
    assert got is not None
    extra = [(MARK, "one"), (MARK, "two"), ("Subject", "kept"), ("Warning", '399 x "kept"')]
    reply(down, got, 200, extra=extra)
    final = ctx.require_final(final_of(link, req))
    for name in (MARK, "Subject", "Warning"):
        sent = [v for n, v in extra if n == name]
        seen = [v.strip() for v in final.get_all(name)]
        if name == MARK:
            seen = [v for s in seen for v in (p.strip() for p in s.split(","))]
        ctx.check(seen == sent, f"{name}: {', '.join(sent)}", ", ".join(seen) or "(none)")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% If the only response that was received is a 503, the proxy SHOULD generate a 500
##% response and forward that upstream.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% A proxy which receives a 503 (Service Unavailable) response SHOULD NOT forward it upstream
##% unless it can determine that any subsequent requests it might proxy will also generate a
##% 503.
@case("proxy-503-to-500", roles=PROXY, level="SHOULD", no_control=FORWARDED)
def service_unavailable(ctx: Context) -> None:
    """A lone 503 from downstream goes upstream as a 500."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    link.send(bytes(req))
    got = arrives(down, "MESSAGE", req.call_id)
    if got is None:
        ctx.inconclusive("the proxy did not forward the MESSAGE")
    assert got is not None
    reply(down, got, 503, extra=[("Retry-After", "5")])
    final = ctx.require_final(final_of(link, req))
    ctx.check(final.status == 500, "500", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.5.4
##= type=test
##% If no Retry-After is given, the client MUST act as if it had received a 500 (Server
##% Internal Error) response.
@case("proxy-503-no-retry-after", roles=PROXY, no_control=FORWARDED)
def service_unavailable_no_retry(ctx: Context) -> None:
    """A lone 503 without Retry-After counts as a 500: no 503 goes upstream."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    link.send(bytes(req))
    got = arrives(down, "MESSAGE", req.call_id)
    if got is None:
        ctx.inconclusive("the proxy did not forward the MESSAGE")
    assert got is not None
    reply(down, got, 503)
    final = ctx.require_final(final_of(link, req))
    ctx.check(final.status != 503, "not 503 (as for a 500)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% Until a final response has been sent on the server transaction, the following responses
##% MUST be forwarded immediately:
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
##= type=test
##% If the first value in the Route header field indicates this proxy, the proxy MUST remove
##% that value from the request.
@case("proxy-2xx-and-dialog", roles=PROXY, no_control=FORWARDED)
def two_hundred_and_dialog(ctx: Context) -> None:
    """A 2xx to INVITE comes upstream; the ACK and BYE routed by its Record-Route reach the
    downstream UAS."""
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, down)
    tag = reply(down, got, 200)
    final = ctx.require_final(final_of(link, req), "2xx forwarded")
    ok = _hang_up(ctx, link, down, req, final) if final.status == 200 else False
    ctx.check(final.status == 200 and final.to_tag == tag, f"200 tag={tag}", describe(final))
    ctx.check(ok, "ACK and BYE reach the downstream UAS", "one did not arrive", requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.10
##= type=test
##% If a matching response context is found, the element MUST immediately return a 200 (OK)
##% response to the CANCEL request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.10
##= type=test
##% A proxy MUST cancel any pending client transactions associated with a response context
##% when it receives a matching CANCEL request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% In particular, CANCEL and ACK requests (for non-2xx responses) MUST have the same branch
##% value as the corresponding request they cancel or acknowledge.
@case("proxy-cancel", roles=PROXY, no_control=FORWARDED)
def cancel(ctx: Context) -> None:
    """CANCEL of a ringing INVITE: 200 upstream, a CANCEL downstream with the INVITE's
    branch, the 487 upstream."""
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, down)
    reply(down, got, 180)
    if upstream(link, req, lambda m: m.status == 180, timeout=1.0) is None:
        _close(link, down, req, got)
        ctx.inconclusive("the 180 was not forwarded")
    cancel = cancel_of(req)
    link.send(bytes(cancel), "CANCEL")
    answer = final_of(link, cancel, timeout=1.0)
    down_cancel = arrives(down, "CANCEL", req.call_id, timeout=2.0)
    if down_cancel is not None:
        reply(down, down_cancel, 200)
    _close(link, down, req, got, 487)
    ctx.check(answer is not None and answer.status == 200, "200 to CANCEL", describe(answer))
    ctx.check(down_cancel is not None, "a CANCEL downstream", "none", requirement=1)
    assert down_cancel is not None
    ctx.check(
        down_cancel[0].branch == got[0].branch,
        f"branch {got[0].branch}",
        str(down_cancel[0].branch),
        requirement=2,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.10
##= type=test
##% It MUST statelessly forward the CANCEL request (it may have statelessly forwarded the
##% associated request previously).
@case("proxy-cancel-no-context", roles=PROXY)
def cancel_no_context(ctx: Context) -> None:
    """A CANCEL matching no transaction of the proxy's is forwarded all the same."""
    link, down = ctx.link(), ctx.listener()
    control_through(ctx, link, down)
    invite = ctx.request("INVITE", link, uri=downstream_uri(down))
    cancel = cancel_of(invite)
    link.send(bytes(cancel), "CANCEL (no INVITE went before)")
    got = arrives(down, "CANCEL", invite.call_id, timeout=2.0)
    if got is not None:
        reply(down, got, 481)
    answer = final_of(link, cancel, timeout=0.5 if got is None else 1.0)
    ctx.check(got is not None, "the CANCEL forwarded", f"not forwarded ({describe(answer)})")


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% The ACK MUST contain a single Via header field, and this MUST be equal to the top Via
##% header field of the original request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% The ACK request constructed by the client transaction MUST contain values for the
##% Call-ID, From, and Request-URI that are equal to the values of those header fields in the
##% request passed to the transport by the client transaction (call this the "original
##% request").
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% The To header field in the ACK MUST equal the To header field in the response being
##% acknowledged, and therefore will usually differ from the To header field in the original
##% request by the addition of the tag parameter.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% The CSeq header field in the ACK MUST contain the same value for the sequence number as
##% was present in the original request, but the method parameter MUST be equal to "ACK".
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% The client transaction MUST pass the received response up to the TU, and the client
##% transaction MUST generate an ACK request, even if the transport is reliable (guidelines
##% for constructing the ACK from the response are given in Section 17.1.1.3) and then pass
##% the ACK to the transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% The forwarded response MUST be processed as described in steps "Aggregate Authorization
##% Header Field Values" through "Record-Route".
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% Therefore, placement of bodies in ACK for non-2xx is NOT RECOMMENDED, but if done, the
##% body types are restricted to any that appeared in the INVITE, assuming that the response
##% to the INVITE was not 415.
@case("proxy-ack-non-2xx", roles=PROXY, no_control=FORWARDED)
def ack_non_2xx(ctx: Context) -> None:
    """The proxy ACKs a downstream 486 itself, with the Via of the INVITE it sent (and no
    body), and passes the 486 upstream with only our Via."""
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, down)
    tag = reply(down, got, 486)
    ack = down.expect(lambda m: m.method == "ACK" and m.call_id == req.call_id, timeout=2.0)
    final = final_of(link, req)
    ack_upstream(link, req, final)
    ctx.check(ack is not None, "an ACK from the proxy", "none", requirement=4)
    ctx.check(final is not None and final.status == 486, "the 486 upstream", describe(final), 4)
    assert ack is not None and final is not None
    vias = final.get_all("Via")
    ctx.check(
        len(vias) == 1 and param(vias[0], "branch") == req.branch,
        "the 486 with only our Via (step 9, Via)",
        " | ".join(vias),
        requirement=5,
    )
    ctx.check(not ack[0].body, "no body in the ACK", f"{len(ack[0].body)} bytes", 6, "SHOULD")
    vias = ack[0].get_all("Via")
    top = got[0].top_via
    ctx.check(vias == [top], f"Via: {top}", " | ".join(vias))
    sent, acked = got[0], ack[0]
    for name in ("Call-ID", "From"):
        ctx.check(
            acked.get(name) == sent.get(name),
            f"{name}: {sent.get(name)}",
            str(acked.get(name)),
            requirement=1,
        )
    ctx.check(acked.uri == sent.uri, f"Request-URI {sent.uri}", acked.uri, requirement=1)
    ctx.check(acked.to_tag == tag, f"To tag {tag} (the 486's)", str(acked.to_tag), requirement=2)
    cseq = (sent.cseq[0], "ACK")
    ctx.check(acked.cseq == cseq, f"CSeq: {cseq[0]} ACK", str(acked.get("CSeq")), requirement=3)


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.8
##= type=test
##% If the client transaction has received a provisional response, the proxy MUST generate a
##% CANCEL request matching that transaction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.8
##= type=test
##% If timer C should fire, the proxy MUST either reset the timer with any value it chooses,
##% or terminate the client transaction.
@case("proxy-timer-c", roles=PROXY, no_control=FORWARDED, timeout=40.0)
def timer_c(ctx: Context) -> None:
    """When Timer C (the profile's ``timer_c``) fires on a ringing branch, it is CANCELled."""
    if not 0 < ctx.profile.timer_c <= 30:
        ctx.not_applicable("Timer C is over 3 minutes (set timer_c in the profile if shorter)")
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, down)
    reply(down, got, 180)
    cancelled = arrives(down, "CANCEL", req.call_id, timeout=ctx.profile.timer_c + 5)
    if cancelled is not None:
        reply(down, cancelled, 200)
    _close(link, down, req, got, 487)
    ctx.check(cancelled is not None, "a CANCEL when Timer C fires", "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% If the address does not match the proxy, the message MUST be silently discarded.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.2
##= type=test
##% If none is found, the element MUST NOT forward the response.
@case("proxy-stray-response-discarded", roles=PROXY)
def stray_response(ctx: Context) -> None:
    """A response whose top Via is not the proxy's goes nowhere (RFC 3261 §16.11 for a
    stateless proxy; RFC 6026 §8.2: a stateful one forwards no stray response at all)."""
    link, down = ctx.link(), ctx.listener()
    control_through(ctx, link, down)
    first, second = ctx.listener(), ctx.listener()
    lines = [
        "SIP/2.0 200 OK",
        f"Via: SIP/2.0/UDP {first.hostport};branch={unique('z9hG4bK')}",
        f"Via: SIP/2.0/UDP {second.hostport};branch={unique('z9hG4bK')}",
        f"From: <sip:tester@{link.local[0]}>;tag={unique('t')}",
        f"To: <sip:stray@{down.hostport}>;tag={unique('d')}",
        f"Call-ID: {unique('c')}@conformance.invalid",
        "CSeq: 1 MESSAGE",
        "Content-Length: 0",
    ]
    down.send(("\r\n".join(lines) + "\r\n\r\n").encode(), ctx.target.address, "stray 200")
    leaked = first.expect(timeout=0.5) or second.expect(timeout=0.1)
    seen = describe(leaked[0]) + f" at {leaked[1]}" if leaked else ""
    ctx.check(leaked is None, "the response discarded", f"forwarded: {seen}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.8
##= type=test
##% If the client transaction has not received a provisional response, the proxy MUST behave
##% as if the transaction received a 408 (Request Timeout) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% If there are no final responses in the context, the proxy MUST send a 408 (Request Timeout)
##% response to the server transaction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% Timer C MUST be set for each client transaction when an INVITE request is proxied.
@case("proxy-timer-c-408", roles=PROXY, no_control=FORWARDED, timeout=40.0)
def timer_c_408(ctx: Context) -> None:
    """When Timer C fires on a branch that never answered, a 408 goes upstream."""
    if not 0 < ctx.profile.timer_c <= 30:
        ctx.not_applicable("Timer C is over 3 minutes (set timer_c in the profile if shorter)")
    link, down = ctx.link(), ctx.listener()
    req, _ = _invite(ctx, link, down)
    final = final_of(link, req, timeout=ctx.profile.timer_c + 5)
    ack_upstream(link, req, final)
    ctx.check(final is not None and final.status == 408, "408 (Request Timeout)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The timer MUST be larger than 3 minutes.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% but this value MUST be greater than 3 minutes.
@case(
    "proxy-timer-c-over-3-minutes", roles=PROXY, no_control=FORWARDED, tags=("slow",), timeout=200
)
def timer_c_long(ctx: Context) -> None:
    """A ringing branch is not CANCELled by the proxy within 3 minutes (a slow case)."""
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, down)
    reply(down, got, 180)
    early = arrives(down, "CANCEL", req.call_id, timeout=181.0)
    if early is not None:
        reply(down, early, 200)
    else:
        link.send(bytes(cancel_of(req)), "CANCEL")
        early_cancel = arrives(down, "CANCEL", req.call_id, timeout=2.0)
        if early_cancel is not None:
            reply(down, early_cancel, 200)
    _close(link, down, req, got, 487)
    ctx.check(early is None, "no CANCEL from the proxy within 3 minutes", "a CANCEL")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.9
##= type=test
##% If the transport layer notifies a proxy of an error when it tries to forward a request
##% (see Section 18.4), the proxy MUST behave as if the forwarded request received a 503
##% (Service Unavailable) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.3.4
##= type=test
##% 305 (Use Proxy) responses MUST only be generated by UASs.
@case("proxy-transport-error", roles=PROXY)
def transport_error(ctx: Context) -> None:
    """A next hop refusing the TCP connection ends the request with a 5xx at once."""
    link, down = ctx.link(), ctx.listener()
    control_through(ctx, link, down)
    closed = ctx.listener()  # a UDP port: nothing listens on TCP there
    req = ctx.request("MESSAGE", link, uri=f"sip:refused@{closed.hostport};transport=tcp")
    final, _ = ctx.transaction(link, req, timeout=4.0, learn=False)
    final = ctx.require_final(final, "final response (a proxy without TCP may not notice)")
    # a proxy unable to reach the next hop might point the UAC elsewhere: not with a 305
    ctx.check(final.status != 305, "no 305 (Use Proxy)", describe(final), requirement=1)
    ctx.check(500 <= (final.status or 0) < 600, "a 5xx (as for a 503)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If this request is already part of a dialog, the proxy SHOULD insert a Record-Route header
##% field value if it wishes to remain on the path of future requests in the dialog.
@case("proxy-record-route-in-dialog", roles=PROXY, level="SHOULD", no_control=FORWARDED)
def record_route_in_dialog(ctx: Context) -> None:
    """A proxy that record-routes an INVITE record-routes a re-INVITE of its dialog too."""
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, down)
    if not got[0].get_all("Record-Route"):
        _close(link, down, req, got)
        ctx.not_applicable("the proxy does not record-route (§16.6 step 4 lets it choose)")
    reply(down, got, 200)
    final = ctx.require_final(final_of(link, req), "2xx forwarded")
    link.send(bytes(ack_for(req, final, ctx.target)), "ACK (2xx)")
    arrives(down, "ACK", req.call_id, timeout=1.0)
    again = ack_for(req, final, ctx.target)
    again.method = "INVITE"
    again.set("Via", f"SIP/2.0/UDP {link.sent_by};branch={unique('z9hG4bK')};rport")
    again.set("CSeq", f"{req.cseq_number + 1} INVITE")
    again.add("Contact", req.get("Contact") or "")
    link.send(bytes(again), "re-INVITE")
    reinvite = arrives(down, "INVITE", req.call_id, timeout=2.0)
    if reinvite is not None:
        reply(down, reinvite, 200)
        ok = final_of(link, again)
        if ok is not None:
            link.send(bytes(ack_for(again, ok, ctx.target)), "ACK (2xx)")
    _hang_up(ctx, link, down, req, final)
    if reinvite is None:
        ctx.inconclusive("the re-INVITE was not forwarded")
    assert reinvite is not None
    rr = reinvite[0].get_all("Record-Route")
    ctx.check(bool(rr), "a Record-Route in the re-INVITE", "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% If the proxy chooses to recurse on any contacts in a 3xx response by adding them to the
##% target set, it MUST remove them from the response before adding the response to the
##% response context.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% If the proxy recurses on all of the contacts in a 3xx response, the proxy SHOULD NOT add
##% the resulting contactless response to the response context.
@case("proxy-3xx-recursion", roles=PROXY, no_control=FORWARDED)
def recursion(ctx: Context) -> None:
    """A proxy recursing on a 302's Contact does not pass that Contact upstream."""
    link, down = ctx.link(), ctx.listener()
    moved = ctx.listener()
    contact = f"sip:moved@{moved.hostport}"
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    link.send(bytes(req))
    got = arrives(down, "MESSAGE", req.call_id)
    if got is None:
        ctx.inconclusive(
            f"the proxy did not forward the MESSAGE ({describe(final_of(link, req))})"
        )
    assert got is not None
    reply(down, got, 302, extra=[("Contact", f"<{contact}>")])
    recursed = arrives(moved, "MESSAGE", req.call_id, timeout=1.0)
    if recursed is not None:
        reply(moved, recursed, 486)
    final = final_of(link, req)
    if recursed is None:
        ctx.not_applicable(f"the proxy does not recurse on 3xx ({describe(final)} upstream)")
    final = ctx.require_final(final)
    listed = [c for c in final.get_all("Contact") if contact in c]
    ctx.check(not listed, f"no Contact {contact} upstream", ", ".join(listed))
    ctx.should(final.status == 486, "the 486 (no contactless 3xx)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% If the Request-URI of the request contains an maddr parameter, the Request-URI MUST be
##% placed into the target set as the only target URI, and the proxy MUST proceed to Section
##% 16.6.
@case("proxy-maddr-target", roles=PROXY)
def maddr_target(ctx: Context) -> None:
    """A Request-URI with maddr is forwarded unchanged to the maddr address."""
    link, down = ctx.link(), ctx.listener()
    control_through(ctx, link, down)
    # the host part names another loopback address (no DNS): only maddr leads to the runner
    uri = f"sip:maddr@127.0.0.2:{down.local[1]};maddr=127.0.0.1"
    req = ctx.request("MESSAGE", link, uri=uri)
    link.send(bytes(req))
    got = arrives(down, "MESSAGE", req.call_id)
    if got is not None:
        reply(down, got, 200)
    final = final_of(link, req, timeout=1.0)
    ctx.check(got is not None, "the MESSAGE at the maddr address", describe(final))
    assert got is not None
    ctx.check(got[0].uri == uri, f"Request-URI {uri}", got[0].uri)


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% For an INVITE transaction, if the response is a provisional response with status codes 101
##% to 199 inclusive (i.e., anything but 100), the proxy MUST reset timer C for that client
##% transaction.
@case("proxy-timer-c-reset", roles=PROXY, no_control=FORWARDED, timeout=60.0)
def timer_c_reset(ctx: Context) -> None:
    """A provisional response restarts Timer C (the profile's ``timer_c``): no CANCEL when the
    first Timer C would have fired."""
    limit = ctx.profile.timer_c
    if not 0 < limit <= 20:
        ctx.not_applicable("Timer C is over 3 minutes (set timer_c in the profile if shorter)")
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, down)
    reply(down, got, 180)
    early = arrives(down, "CANCEL", req.call_id, timeout=0.6 * limit)
    if early is None:
        reply(down, got, 183)
        early = arrives(down, "CANCEL", req.call_id, timeout=0.7 * limit)
    if early is not None:
        reply(down, early, 200)
    else:
        link.send(bytes(cancel_of(req)), "CANCEL")
        mine = arrives(down, "CANCEL", req.call_id, timeout=2.0)
        if mine is not None:
            reply(down, mine, 200)
    _close(link, down, req, got, 487)
    ctx.check(early is None, "no CANCEL before the restarted Timer C fires", "a CANCEL")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% If an element requires credentials before forwarding a request, the request MUST be
##% inspected as described in Section 22.3.
@case("proxy-credentials-inspected", roles=PROXY, no_control=FORWARDED)
def credentials(ctx: Context) -> None:
    """A proxy that challenges (407) forwards the request once it carries the profile's
    credentials."""
    from conformance.cases.registrar import digest_authorization

    link, down = ctx.link(), ctx.listener()
    uri = downstream_uri(down)
    req = ctx.request("MESSAGE", link, uri=uri)
    link.send(bytes(req))
    got = arrives(down, "MESSAGE", req.call_id, timeout=2.0)
    if got is not None:
        reply(down, got, 200)
        final_of(link, req)
        ctx.not_applicable("the proxy forwards without asking for credentials")
    final = ctx.require_final(final_of(link, req, timeout=1.0))
    if final.status != 407 or not ctx.profile.username:
        ctx.not_applicable(f"no 407 with credentials to answer it ({describe(final)})")
    again = ctx.request("MESSAGE", link, uri=uri, call_id=req.call_id, cseq=2)
    again.set("From", req.get("From"))
    again.add(
        "Proxy-Authorization",
        digest_authorization(
            _md5_challenge(final.get_all("Proxy-Authenticate")),
            "MESSAGE",
            uri,
            ctx.profile.username,
            ctx.profile.password,
        ),
    )
    link.send(bytes(again))
    got = arrives(down, "MESSAGE", req.call_id, timeout=2.0)
    if got is not None:
        reply(down, got, 200)
    answer = final_of(link, again, timeout=1.0)
    ctx.check(got is not None, "the authorized MESSAGE forwarded", describe(answer))


def _md5_challenge(values: list[str]) -> str:
    """The MD5 challenge among several (RFC 8760 servers offer SHA-256 first)."""
    for value in values:
        algorithm = re.search(r"algorithm\s*=\s*\"?([\w-]+)", value, re.I)
        if algorithm is None or algorithm[1].upper() == "MD5":
            return value
    return values[0] if values else ""
