"""Proxy behaviour (RFC 3261 §16): validation, forwarding and response processing.

The runner plays both ends: it sends requests through the proxy to a Request-URI naming a
UDP socket it listens on (`conformance.wire.Listener`), acting as the downstream UAS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conformance.messages import Outgoing, ack_for, unique
from conformance.model import Context, Inconclusive, case, describe
from conformance.sipmsg import Message, param
from conformance.wire import Link, Listener

#: load order of the case modules (conformance.discovery)
ORDER = 40

PROXY = ("proxy",)


#: HTTP/1.1 status codes (RFC 2616 §10) that SIP does not define (RFC 3261 §21, its
#: extensions): a SIP element SHOULD NOT send them
HTTP_ONLY = frozenset({201, 203, 204, 205, 206, 303, 304, 306, 307, 409, 411, 417})

#: why the cases judging a plain forwarded request need no control
FORWARDED = "a plain request: judged on what the proxy forwards; not forwarded is inconclusive"


def _answers(req: Outgoing) -> Callable[[Message], bool]:
    """Matches a final response to ``req`` (by branch; without one by Call-ID and CSeq)."""
    branch = req.branch
    return lambda m: (
        m.is_response
        and (m.status or 0) >= 200
        and (
            m.branch == branch
            if branch
            else m.call_id == req.call_id and m.cseq == (req.cseq_number, req.method)
        )
    )


def control_through(
    ctx: Context, link: Link, down: Listener, req: Outgoing | None = None
) -> Message:
    """The control of a proxy case: a well-formed request (a MESSAGE unless ``req`` is given)
    for a user at the runner's downstream socket must be forwarded there, and the answer the
    runner gives it there (200; 486 to an INVITE, so no call is left up) relayed back.
    Otherwise the proxy turns requests down for some other reason: inconclusive."""
    if req is None:
        req = ctx.request("MESSAGE", link, uri=f"sip:downstream@{down.hostport}")
    method = req.method
    status = 486 if method == "INVITE" else 200

    def exchange() -> tuple[Message | None, bool]:
        link.send(bytes(req), "control")
        got = down.expect(lambda m: not m.is_response and m.method == method, timeout=3.0)
        if got is None:
            final = link.expect(_answers(req), timeout=1.0)
            raise Inconclusive(f"not forwarded ({describe(final)})")
        answer_downstream(down, got, status)
        final = link.expect(_answers(req), timeout=2.0)
        if method == "INVITE":
            if final is not None:
                link.send(bytes(ack_for(req, final, ctx.target)), "ACK")
            # the proxy's own ACK of the 486 (§17.1.1.3): not a request for the case to see
            down.expect(lambda m: m.method == "ACK", timeout=0.3)
        return final, final is not None and final.status == status

    what = f"the control {method} through the proxy (forwarded, answered {status} downstream)"
    return ctx.controlled(method, exchange, what)


def _through(
    ctx: Context, method: str = "MESSAGE", **kw: Any
) -> tuple[Link, Listener, Outgoing, tuple[Message, tuple[str, int]] | None]:
    """Send ``method`` through the proxy to a downstream socket; what arrived there (a
    request not forwarded leaves the case inconclusive)."""
    link = ctx.link()
    down = ctx.listener()
    return link, down, *_send_through(ctx, link, down, method, False, **kw)


def _through_after_control(
    ctx: Context, method: str = "MESSAGE", **kw: Any
) -> tuple[Link, Listener, Outgoing, tuple[Message, tuple[str, int]] | None]:
    """`_through`, after a control: a plain MESSAGE went through first, so a request not
    forwarded is the proxy refusing it for what this one adds (a fail), not for some other
    reason."""
    link = ctx.link()
    down = ctx.listener()
    control_through(ctx, link, down)
    return link, down, *_send_through(ctx, link, down, method, True, **kw)


def _send_through(
    ctx: Context, link: Link, down: Listener, method: str, refusal_fails: bool, **kw: Any
) -> tuple[Outgoing, tuple[Message, tuple[str, int]] | None]:
    uri = f"sip:downstream@{down.hostport}"
    req = ctx.request(method, link, uri=uri, **kw)
    link.send(bytes(req))
    got = down.expect(lambda m: not m.is_response and m.method == method, timeout=3.0)
    if got is None:
        final = link.expect(lambda m: m.is_response and (m.status or 0) >= 200, timeout=1.0)
        if refusal_fails:
            ctx.fail("the request forwarded", f"not forwarded ({describe(final)})")
        ctx.inconclusive(f"the proxy did not forward the {method} ({describe(final)})")
    return req, got


def answer_downstream(
    down: Listener, got: tuple[Message, tuple[str, int]], status: int = 200
) -> None:
    """Answer a forwarded request from the downstream socket (§8.2.6)."""
    msg, addr = got
    lines = [f"SIP/2.0 {status} {'OK' if status == 200 else 'Whatever'}"]
    lines += [f"Via: {v}" for v in msg.get_all("Via")]
    lines += [
        f"From: {msg.get('From')}",
        f"To: {msg.get('To')}" + ("" if msg.to_tag else f";tag={unique('d')}"),
        f"Call-ID: {msg.call_id}",
        f"CSeq: {msg.get('CSeq')}",
        "Content-Length: 0",
    ]
    down.send(("\r\n".join(lines) + "\r\n\r\n").encode(), addr, f"downstream {status}")


def _finish(link: Link, down: Listener, got: tuple[Message, tuple[str, int]]) -> Message | None:
    answer_downstream(down, got)
    return link.expect(lambda m: m.is_response and (m.status or 0) >= 200, timeout=2.0)


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If the copy contains a Max-Forwards header field, the proxy MUST decrement its value by
##% one (1).
@case("proxy-max-forwards-decremented", roles=PROXY, no_control=FORWARDED)
def max_forwards(ctx: Context) -> None:
    """The forwarded request carries Max-Forwards one lower; one with Max-Forwards 1 (the
    last hop it may take, §16.3 step 3 refuses only 0) goes on with 0."""
    link, down, _, got = _through(ctx)
    assert got is not None
    _finish(link, down, got)
    value = (got[0].get("Max-Forwards") or "").strip()
    last = ctx.request("MESSAGE", link, uri=f"sip:downstream@{down.hostport}")
    last.set("Max-Forwards", "1")
    link.send(bytes(last), "Max-Forwards: 1")
    hop = down.expect(lambda m: m.method == "MESSAGE" and m.call_id == last.call_id, 2.0)
    if hop is not None:
        answer_downstream(down, hop)
    final = link.expect(_answers(last), timeout=1.0 if hop is None else 2.0)
    ctx.check(value == "69", "Max-Forwards: 69", f"Max-Forwards: {value or '(none)'}")
    ctx.check(hop is not None, "Max-Forwards 1 forwarded", f"not forwarded ({describe(final)})")
    assert hop is not None
    left = (hop[0].get("Max-Forwards") or "").strip()
    ctx.check(left == "0", "Max-Forwards: 0", f"Max-Forwards: {left or '(none)'}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If the copy does not contain a Max-Forwards header field, the proxy MUST add one with a
##% field value, which SHOULD be 70.
@case("proxy-max-forwards-added", roles=PROXY, no_control=FORWARDED)
def max_forwards_added(ctx: Context) -> None:
    """A request without Max-Forwards is forwarded with one."""
    link = ctx.link()
    down = ctx.listener()
    req = ctx.request("MESSAGE", link, uri=f"sip:downstream@{down.hostport}")
    req.set("Max-Forwards", None)
    link.send(bytes(req))
    got = down.expect(lambda m: m.method == "MESSAGE", timeout=3.0)
    if got is None:
        ctx.inconclusive("the proxy did not forward the request")
    assert got is not None
    _finish(link, down, got)
    ctx.check(got[0].get("Max-Forwards") is not None, "a Max-Forwards header field", "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The proxy MUST insert a Via header field value into the copy before the existing Via
##% header field values.
@case("proxy-via-inserted", roles=PROXY, no_control=FORWARDED)
def via_inserted(ctx: Context) -> None:
    """The forwarded request has the proxy's Via on top of ours."""
    link, down, req, got = _through(ctx)
    assert got is not None
    _finish(link, down, got)
    vias = got[0].get_all("Via")
    ctx.check(len(vias) >= 2, "two Via values", f"{len(vias)}")
    ctx.check(param(vias[1], "branch") == req.branch, f"our branch {req.branch} second", vias[1])


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
##= type=test
##% The branch ID inserted by an element compliant with this specification MUST always begin
##% with the characters "z9hG4bK".
@case("proxy-via-branch-cookie", roles=PROXY, no_control=FORWARDED)
def via_branch_cookie(ctx: Context) -> None:
    """The proxy's branch starts with the magic cookie."""
    link, down, _, got = _through(ctx)
    assert got is not None
    _finish(link, down, got)
    branch = got[0].branch or ""
    ctx.check(branch.startswith("z9hG4bK"), "a branch starting z9hG4bK", branch or "(none)")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The proxy MUST NOT add to, modify, or remove the message body.
@case("proxy-body-unchanged", roles=PROXY, no_control=FORWARDED)
def body_unchanged(ctx: Context) -> None:
    """The body arrives byte for byte."""
    body = b"conformance body \x00\x01 \r\n with CRLF and NUL\r\n"
    link, down, _, got = _through(ctx, body=body, content_type="application/octet-stream")
    assert got is not None
    _finish(link, down, got)
    ctx.check(got[0].body == body, repr(body), repr(got[0].body))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% An element MUST NOT refuse to proxy a request because it contains a method or header field
##% it does not know about.
@case("proxy-unknown-header-kept", roles=PROXY)
def unknown_header(ctx: Context) -> None:
    """An unknown header field is forwarded unchanged."""
    value = "odd;;value,with=commas"
    link, down, _, got = _through_after_control(ctx, extra=[("X-Conformance", value)])
    assert got is not None
    _finish(link, down, got)
    ctx.check(got[0].get("X-Conformance") == value, value, got[0].get("X-Conformance") or "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% An element MUST NOT refuse to proxy a request because it contains a method or header field
##% it does not know about.
@case("proxy-unknown-method-forwarded", roles=PROXY)
def unknown_method(ctx: Context) -> None:
    """A request with an unknown method is forwarded."""
    link, down, _, got = _through_after_control(ctx, "FROBNICATE")
    assert got is not None
    final = _finish(link, down, got)
    ctx.check(final is not None and final.status == 200, "the downstream 200", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% If the request contains a Max-Forwards header field with a field value of zero (0), the
##% element MUST NOT forward the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% Otherwise, the element MUST return a 483 (Too many hops) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% If any of these checks fail, the element MUST behave as a user agent server (see Section
##% 8.2) and respond with an error code.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.1
##= type=test
##% When responding directly to a request, the element is playing the role of a UAS and MUST
##% behave as described in Section 8.2.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21
##= type=test
##% Other HTTP/1.1 response codes SHOULD NOT be used.
@case("proxy-483-max-forwards-zero", roles=PROXY)
def too_many_hops(ctx: Context) -> None:
    """Max-Forwards 0 on a non-OPTIONS request gets 483 and is not forwarded."""
    link = ctx.link()
    down = ctx.listener()
    control_through(ctx, link, down)
    req = ctx.request("MESSAGE", link, uri=f"sip:downstream@{down.hostport}")
    req.set("Max-Forwards", "0")
    final, _ = ctx.transaction(link, req)
    forwarded = down.expect(
        lambda m: m.method == "MESSAGE" and m.call_id == req.call_id, timeout=0.3
    )
    final = ctx.require_final(final)
    ctx.check(forwarded is None, "not forwarded", "forwarded")
    ctx.check(final.status == 483, "483 (Too Many Hops)", describe(final), requirement=1)
    # as a UAS (§8.2.6.2): a To tag in the response to a request without one
    ctx.check(final.to_tag is not None, "a To tag in the 483", "none", requirement=2)
    ctx.check(
        final.status not in HTTP_ONLY,
        "a SIP status code",
        f"{describe(final)} (an HTTP/1.1 code SIP does not use)",
        requirement=4,
        level="SHOULD",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-11.2
##= type=test
##% If the response is generated by a proxy, the Allow header field SHOULD be omitted as it
##% is ambiguous since a proxy is method agnostic.
@case("proxy-options-no-allow", roles=PROXY, level="SHOULD")
def options_no_allow(ctx: Context) -> None:
    """An OPTIONS for a user beyond the proxy with Max-Forwards 0 is answered by the proxy
    itself (483, or 200 as its final recipient, §16.3 step 3), without Allow."""
    link = ctx.link()
    down = ctx.listener()
    control_through(ctx, link, down)
    req = ctx.request("OPTIONS", link, uri=f"sip:downstream@{down.hostport}")
    req.set("Max-Forwards", "0")
    final, _ = ctx.transaction(link, req)
    forwarded = down.expect(
        lambda m: m.method == "OPTIONS" and m.call_id == req.call_id, timeout=0.3
    )
    if forwarded is not None:
        answer_downstream(down, forwarded)
        ctx.inconclusive("the OPTIONS with Max-Forwards 0 was forwarded (not this case's rule)")
    final = ctx.require_final(final)
    allow = final.get_all("Allow")
    ctx.check(not allow, f"no Allow in the proxy's {final.status}", "Allow: " + ", ".join(allow))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% If the request contains a Proxy-Require header field (Section 20.29) with one or more
##% option-tags this element does not understand, the element MUST return a 420 (Bad
##% Extension) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% The response MUST include an Unsupported (Section 20.40) header field listing those
##% option-tags the element did not understand.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.15
##= type=test
##% The server MUST include a list of the unsupported extensions in an Unsupported header
##% field in the response.
@case("proxy-420-proxy-require", roles=PROXY)
def proxy_require(ctx: Context) -> None:
    """An unknown Proxy-Require tag gets 420 with Unsupported."""
    link = ctx.link()
    down = ctx.listener()
    control_through(ctx, link, down)
    req = ctx.request(
        "MESSAGE",
        link,
        uri=f"sip:downstream@{down.hostport}",
        extra=[("Proxy-Require", "x-conformance-unknown")],
    )
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final)
    ctx.check(final.status == 420, "420 (Bad Extension)", describe(final))
    tags = final.option_tags("Unsupported")
    ctx.check(
        "x-conformance-unknown" in tags,
        "Unsupported: x-conformance-unknown",
        ", ".join(tags) or "(none)",
        requirement=1,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% If the Request-URI has a URI whose scheme is not understood by the proxy, the proxy SHOULD
##% reject the request with a 416 (Unsupported URI Scheme) response.
@case("proxy-416-scheme", roles=PROXY, level="SHOULD")
def proxy_scheme(ctx: Context) -> None:
    """An unknown Request-URI scheme gets 416."""
    link = ctx.link()
    control_through(ctx, link, ctx.listener())
    req = ctx.request("MESSAGE", link, uri="x-conformance:opaque")
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final)
    ctx.check(final.status == 416, "416 (Unsupported URI Scheme)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
##= type=test
##% If the first value in the Route header field indicates this proxy, the proxy MUST remove
##% that value from the request.
@case("proxy-route-self-removed", roles=PROXY, no_control=FORWARDED)
def route_removed(ctx: Context) -> None:
    """A Route naming the proxy (loose routing) is removed before forwarding."""
    route = f"<sip:{ctx.target.hostport};lr>"
    link, down, _, got = _through(ctx, extra=[("Route", route)])
    assert got is not None
    _finish(link, down, got)
    routes = got[0].get_all("Route")
    ctx.check(
        not any(ctx.target.hostport in r for r in routes),
        "no Route naming the proxy",
        ", ".join(routes),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% Via The proxy removes the topmost Via header field value from the response.
@case("proxy-response-via-removed", roles=PROXY, no_control=FORWARDED)
def response_via(ctx: Context) -> None:
    """The forwarded response carries only our Via."""
    link, down, req, got = _through(ctx)
    assert got is not None
    final = _finish(link, down, got)
    final = ctx.require_final(final, "forwarded response")
    vias = final.get_all("Via")
    ctx.check(
        len(vias) == 1 and param(vias[0], "branch") == req.branch, "only our Via", " | ".join(vias)
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% Fields not detailed in the processing described below MUST NOT be removed.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The copy MUST initially contain all of the header fields from the received request.
@case("proxy-headers-kept", roles=PROXY, no_control=FORWARDED)
def headers_kept(ctx: Context) -> None:
    """Subject, Call-ID, From, To and CSeq are forwarded unchanged."""
    link, down, req, got = _through(ctx, extra=[("Subject", "conformance subject")])
    assert got is not None
    _finish(link, down, got)
    msg = got[0]
    for name in ("Subject", "Call-ID", "From", "To", "CSeq"):
        ctx.check(
            (msg.get(name) or "").strip() == (req.get(name) or "").strip(),
            f"{name}: {req.get(name)}",
            f"{name}: {msg.get(name)}",
        )
