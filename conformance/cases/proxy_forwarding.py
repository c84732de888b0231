"""Proxy request processing (RFC 3261 §16.3–§16.6, §18.2.1): what the proxy forwards.

The runner sends requests through the proxy to downstream sockets it listens on (see
`conformance.cases._proxy_support`) and judges the copy that arrives there: Request-URI,
Via, Max-Forwards, Record-Route, Route processing (loose and strict routing), header order,
loop detection.
"""

from __future__ import annotations

import contextlib
import socket
import time

from conformance.cases._proxy_support import (
    Got,
    ack_upstream,
    arrives,
    cancel_of,
    downstream_uri,
    final_of,
    reply,
    upstream,
)
from conformance.cases.proxy import FORWARDED, control_through
from conformance.messages import Outgoing, ack_for, bye_for, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message, StreamBuffer, param, parse_message, uri_host_port
from conformance.wire import Event, Link, Listener

#: load order of the case modules (conformance.discovery)
ORDER = 71

PROXY = ("proxy",)


def _send(ctx: Context, link: Link, req: Outgoing, down: Listener, what: str = "") -> Got:
    """Send ``req`` upstream; the copy that reached ``down`` (none: inconclusive)."""
    link.send(bytes(req), what)
    got = arrives(down, req.method, req.call_id)
    if got is None:
        final = final_of(link, req, timeout=1.0)
        ctx.inconclusive(f"the proxy did not forward the {req.method} ({describe(final)})")
    assert got is not None
    return got


def _complete(link: Link, req: Outgoing, down: Listener, got: Got, status: int = 200) -> None:
    """Answer the copy downstream and take the proxy's answer (and ACK a non-2xx INVITE)."""
    reply(down, got, status)
    final = final_of(link, req)
    if req.method == "INVITE":
        ack_upstream(link, req, final)
        down.expect(lambda m: m.method == "ACK", timeout=0.3)


def _record_route(ctx: Context, link: Link, down: Listener) -> tuple[Message, str]:
    """An INVITE through the proxy (answered 486): the copy that arrived, and the
    Record-Route value the proxy added on top (the case is not applicable without one)."""
    theirs = "<sip:upstream-rr.invalid;lr>"
    req = ctx.request("INVITE", link, uri=downstream_uri(down), extra=[("Record-Route", theirs)])
    got = _send(ctx, link, req, down)
    _complete(link, req, down, got, 486)
    rr = got[0].get_all("Record-Route")
    if not rr or rr[0].strip() == theirs:
        ctx.not_applicable("the proxy does not record-route (§16.6 step 4 lets it choose)")
    return got[0], rr[0].strip()


def _uri(value: str) -> str:
    """The URI of a name-addr (or of a plain addr-spec)."""
    value = value.strip()
    if "<" in value:
        return value.split("<", 1)[1].split(">", 1)[0].strip()
    return value.split(";", 1)[0].strip()


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If the copy does not contain a Max-Forwards header field, the proxy MUST add one with a
##% field value, which SHOULD be 70.
@case("proxy-max-forwards-70", roles=PROXY, level="SHOULD", no_control=FORWARDED)
def max_forwards_70(ctx: Context) -> None:
    """A request without Max-Forwards is forwarded with Max-Forwards: 70."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    req.set("Max-Forwards", None)
    got = _send(ctx, link, req, down)
    _complete(link, req, down, got)
    value = (got[0].get("Max-Forwards") or "").strip()
    ctx.check(value == "70", "Max-Forwards: 70", f"Max-Forwards: {value or '(none)'}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% If the domain of the Request-URI indicates a domain this element is not responsible for,
##% the Request-URI MUST be placed into the target set as the only target, and the element
##% MUST proceed to the task of Request Forwarding (Section 16.6).
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The Request-URI in the copy's start line MUST be replaced with the URI for this target.
@case("proxy-request-uri-kept", roles=PROXY, no_control=FORWARDED)
def request_uri_kept(ctx: Context) -> None:
    """A Request-URI outside the proxy's domain is forwarded unchanged, to that URI."""
    link, down = ctx.link(), ctx.listener()
    uri = downstream_uri(down, "kept.user") + ";x-conformance=1"
    req = ctx.request("MESSAGE", link, uri=uri)
    got = _send(ctx, link, req, down)
    _complete(link, req, down, got)
    ctx.check(got[0].uri == uri, f"Request-URI {uri}", got[0].uri, requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The first part MUST satisfy the constraints of Section 8.1.1.7 as described above.
@case("proxy-via-branch-unique", roles=PROXY, no_control=FORWARDED)
def via_branch_unique(ctx: Context) -> None:
    """Two requests forwarded get two different branches, neither equal to ours."""
    link, down = ctx.link(), ctx.listener()
    branches = []
    for _ in range(2):
        req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
        got = _send(ctx, link, req, down)
        _complete(link, req, down, got)
        branches.append(got[0].branch or "")
        ctx.check(got[0].branch != req.branch, "a branch of the proxy's own", req.branch)
    ctx.check(branches[0] != branches[1], "two different branches", " = ".join(branches))
    ctx.check(
        all(b.startswith("z9hG4bK") for b in branches), "the magic cookie", ", ".join(branches)
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
##= type=test
##% If the host portion of the "sent-by" parameter contains a domain name, or if it contains
##% an IP address that differs from the packet source address, the server MUST add a
##% "received" parameter to that Via header field value.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% In particular, the proxy MUST NOT remove any "received" parameter it may have added to
##% the next Via header field value while processing the request associated with this
##% response.
@case("proxy-via-received", roles=PROXY, no_control=FORWARDED)
def via_received(ctx: Context) -> None:
    """A Via whose sent-by is a name gets received=; the response keeps it."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    port = link.local[1]
    req.set("Via", f"SIP/2.0/UDP conformance.invalid:{port};branch={unique('z9hG4bK')};rport")
    got = _send(ctx, link, req, down)
    reply(down, got, 200)
    final = final_of(link, req)
    vias = got[0].get_all("Via")
    ours = vias[1] if len(vias) > 1 else ""
    ctx.check(
        param(ours, "received") == link.local[0], f"received={link.local[0]}", ours or "no Via"
    )
    final = ctx.require_final(final, "forwarded response (sent back by received/rport)")
    mine = final.top_via
    ctx.check(param(mine, "received") is not None, "received kept", mine, requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The proxy MUST NOT reorder field values with a common field name (See Section 7.3.1).
@case("proxy-header-values-order", roles=PROXY, no_control=FORWARDED)
def header_values_order(ctx: Context) -> None:
    """Rows and comma-separated values of one field name keep their order."""
    link, down = ctx.link(), ctx.listener()
    rows = [("X-Conformance-Order", "one"), ("X-Conformance-Order", "two, three")]
    rows.append(("X-Conformance-Order", "four"))
    rows += [("Accept", "text/plain"), ("Accept", "application/sdp, message/sipfrag")]
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down), extra=rows)
    got = _send(ctx, link, req, down)
    _complete(link, req, down, got)
    for name in ("X-Conformance-Order", "Accept"):
        sent = [v.strip() for n, v in rows if n == name for v in v.split(",")]
        seen = [v.strip() for r in got[0].get_all(name) for v in r.split(",")]
        ctx.check(seen == sent, f"{name}: {', '.join(sent)}", ", ".join(seen) or "(none)")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The copy SHOULD maintain the ordering of the header fields as in the received request.
@case("proxy-header-fields-order", roles=PROXY, level="SHOULD", no_control=FORWARDED)
def header_fields_order(ctx: Context) -> None:
    """The end-to-end header fields arrive in the order they were sent."""
    link, down = ctx.link(), ctx.listener()
    extra = [("Subject", "order"), ("X-Conformance-A", "a"), ("Priority", "normal")]
    extra.append(("X-Conformance-B", "b"))
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down), extra=extra)
    got = _send(ctx, link, req, down)
    _complete(link, req, down, got)
    names = ["From", "To", "Call-ID", "CSeq", "Subject", "X-Conformance-A", "Priority"]
    names.append("X-Conformance-B")
    wanted = [n.lower() for n in names]
    seen = [n.lower() for n, _ in got[0].headers if n.lower() in wanted]
    ctx.check(seen == wanted, ", ".join(wanted), ", ".join(seen))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If this proxy wishes to remain on the path of future requests in a dialog created by
##% this request (assuming the request creates a dialog), it MUST insert a Record-Route
##% header field value into the copy before any existing Record-Route header field values,
##% even if a Route header field is already present.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The URI placed in the Record-Route header field value MUST be a SIP or SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% This URI MUST contain an lr parameter (see Section 19.1.1).
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The URI placed in the Record-Route header field MUST resolve to the element inserting it
##% (or a suitable stand-in) when the server location procedures of [4] are applied to it, so
##% that subsequent requests reach the same SIP element.
@case("proxy-record-route", roles=PROXY, no_control=FORWARDED)
def record_route(ctx: Context) -> None:
    """A Record-Route the proxy adds is on top, a SIP URI with lr, naming the proxy."""
    link, down = ctx.link(), ctx.listener()
    msg, rr = _record_route(ctx, link, down)
    values = [v.strip() for v in msg.get_all("Record-Route")]
    ctx.check(
        values[1:2] == ["<sip:upstream-rr.invalid;lr>"],
        "ours below the proxy's",
        " | ".join(values),
    )
    uri = _uri(rr)
    ctx.check(uri.lower().startswith(("sip:", "sips:")), "a SIP URI", uri, requirement=1)
    ctx.check(param(uri, "lr") is not None, "an lr parameter", uri, requirement=2)
    host, port = uri_host_port(uri)
    want_port = ctx.target.address[1]
    ok = host.strip("[]") in (ctx.target.host, ctx.target.address[0]) and (
        port == want_port or (port is None and want_port == 5060)
    )
    ctx.check(ok, f"the proxy's address {ctx.target.hostport}", uri, requirement=3)


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
##= type=test
##% If the Request-URI of the request contains a value this proxy previously placed into a
##% Record-Route header field (see Section 16.6 item 4), the proxy MUST replace the
##% Request-URI in the request with the last value from the Route header field, and remove
##% that value from the Route header field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
##= type=test
##% The proxy MUST then proceed as if it received this modified request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.4
##= type=test
##% The proxy MUST inspect the Request-URI of the request.
@case(
    "proxy-strict-router-uri-replaced",
    roles=PROXY,
    preamble="a Record-Route value of the proxy's",
    no_control="the preamble INVITE is the control: it went through the proxy",
)
def strict_router_uri(ctx: Context) -> None:
    """A request from a strict router (Request-URI = the proxy's Record-Route) goes on to
    the last Route value, which becomes the Request-URI."""
    link, down = ctx.link(), ctx.listener()
    with ctx.preamble("an INVITE through the proxy, record-routed"):
        _, rr = _record_route(ctx, link, down)
    target = downstream_uri(down, "strict")
    req = ctx.request(
        "MESSAGE",
        link,
        uri=_uri(rr),
        to=f"<sip:strict@{down.hostport}>;tag={unique('d')}",
        extra=[("Route", f"<{target}>")],
    )
    got = _send(ctx, link, req, down)
    _complete(link, req, down, got)
    ctx.check(got[0].uri == target, f"Request-URI {target}", got[0].uri)
    routes = got[0].get_all("Route")
    ctx.check(not routes, "the Route value removed", " | ".join(routes))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% Otherwise, the proxy MUST apply the procedures to the first value in the Route header
##% field, if present, else the Request-URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If the copy contains a Route header field, the proxy MUST inspect the URI in its first
##% value.
@case("proxy-loose-route-next-hop", roles=PROXY, no_control=FORWARDED)
def loose_route_next_hop(ctx: Context) -> None:
    """Route: the proxy, then a loose router: the request goes to that router, the
    Request-URI untouched and the router's Route value kept."""
    link, down = ctx.link(), ctx.listener()
    uri = "sip:final@127.0.0.1:9"  # the discard port: nothing must go there
    nxt = f"<sip:{down.hostport};lr>"
    req = ctx.request(
        "MESSAGE", link, uri=uri, extra=[("Route", f"<sip:{ctx.target.hostport};lr>, {nxt}")]
    )
    got = _send(ctx, link, req, down)
    _complete(link, req, down, got)
    ctx.check(got[0].uri == uri, f"Request-URI {uri}", got[0].uri)
    routes = [r.strip() for r in got[0].get_all("Route")]
    ctx.check(routes == [nxt], f"Route: {nxt}", " | ".join(routes) or "(none)")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The proxy MUST place the Request-URI into the Route header field as the last value.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The proxy MUST then place the first Route header field value into the Request-URI and
##% remove that value from the Route header field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If that URI does not contain an lr parameter, the proxy MUST modify the copy as follows:
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If the proxy has reformatted the request to send to a strict-routing element as described
##% in step 6 above, the proxy MUST apply those procedures to the Request-URI of the request.
@case("proxy-strict-next-hop", roles=PROXY, no_control=FORWARDED)
def strict_next_hop(ctx: Context) -> None:
    """A next hop without lr (a strict router): its URI becomes the Request-URI, the old
    Request-URI the last Route value."""
    link, down = ctx.link(), ctx.listener()
    uri = "sip:final@127.0.0.1:9"
    strict = f"sip:strict@{down.hostport}"
    req = ctx.request(
        "MESSAGE",
        link,
        uri=uri,
        extra=[("Route", f"<sip:{ctx.target.hostport};lr>, <{strict}>")],
    )
    got = _send(ctx, link, req, down)
    _complete(link, req, down, got)
    routes = [_uri(r) for r in got[0].get_all("Route")]
    ctx.check(routes[-1:] == [uri], f"last Route <{uri}>", " | ".join(routes) or "(none)")
    ctx.check(got[0].uri == strict, f"Request-URI {strict}", got[0].uri, requirement=1)
    ctx.check(strict not in routes, "its Route value removed", " | ".join(routes), requirement=1)


def _looped(
    ctx: Context, link: Link, got: Got, uri: str | None = None, method: str = ""
) -> Outgoing:
    """The request that reached downstream, sent back to the proxy as a loop would (our Via on
    top; ``uri``: with another Request-URI, a spiral; ``method``: with another method)."""
    msg = got[0]
    back = Outgoing(method or msg.method or "MESSAGE", uri or msg.uri)
    back.add("Via", f"SIP/2.0/UDP {link.sent_by};branch={unique('z9hG4bK')};rport")
    for name, value in msg.headers:
        if method and name.lower() == "cseq":
            value = f"{value.split()[0]} {method}"
        if name.lower() not in ("content-length", "l"):
            back.add(name, value)
    back.body = msg.body
    return back


def _loop_detected(ctx: Context, link: Link, down: Listener) -> bool:
    """Whether the proxy answers 482 to a request that comes back to it unchanged."""
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    got = _send(ctx, link, req, down)
    back = _looped(ctx, link, got)
    final, _ = ctx.transaction(link, back, timeout=2.0, learn=False)
    again = arrives(down, "MESSAGE", req.call_id, timeout=0.3)
    if again is not None:
        reply(down, again, 200)
    reply(down, got, 200)
    final_of(link, req)
    return final is not None and final.status == 482 and again is None


##= https://www.rfc-editor.org/rfc/rfc5393#section-4.2.2
##= type=test
##% If these values are equal, the request has looped and the proxy MUST reject the request
##% with a 482 (Loop Detected) response.
@case(
    "proxy-loop-482",
    roles=PROXY,
    no_control="the first pass through the proxy is the control: it was forwarded",
)
def loop_482(ctx: Context) -> None:
    """A request coming back to the proxy unchanged (a loop) gets 482 when it detects loops
    (loop detection itself is a MAY of RFC 3261 §16.3 step 4, a MUST of RFC 5393 for a
    forking proxy; a proxy that forwards the loop again is not applicable)."""
    link, down = ctx.link(), ctx.listener()
    if not _loop_detected(ctx, link, down):
        ctx.not_applicable("the proxy does not detect loops (a MAY of §16.3 step 4)")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If a proxy wishes to detect loops, the "branch" parameter it supplies MUST depend on all
##% information affecting processing of a request, including the incoming Request-URI and
##% any header fields affecting the request's admission or routing.
@case(
    "proxy-spiral-not-loop",
    roles=PROXY,
    no_control="a loop is answered 482 first: the proxy detects loops",
)
def spiral_not_loop(ctx: Context) -> None:
    """A proxy that detects loops forwards a request coming back with another Request-URI
    (a spiral), not 482."""
    link, down = ctx.link(), ctx.listener()
    if not _loop_detected(ctx, link, down):
        ctx.not_applicable("the proxy does not detect loops (a MAY of §16.3 step 4)")
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    got = _send(ctx, link, req, down)
    spiral = _looped(ctx, link, got, downstream_uri(down, "spiral"))
    link.send(bytes(spiral), "the same request, retargeted (a spiral)")
    again = arrives(down, "MESSAGE", req.call_id, timeout=2.0)
    refused = final_of(link, spiral, timeout=0.3) if again is None else None
    if again is not None:
        reply(down, again, 200)
    reply(down, got, 200)
    final_of(link, req)
    ctx.check(again is not None, "the spiral forwarded", describe(refused))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The value placed in this part of the branch parameter SHOULD reflect all of those fields
##% (including any Route, Proxy-Require and Proxy-Authorization header fields).
@case(
    "proxy-spiral-new-credentials",
    roles=PROXY,
    level="SHOULD",
    no_control="a loop is answered 482 first: the proxy detects loops",
)
def spiral_new_credentials(ctx: Context) -> None:
    """A proxy that detects loops forwards a request coming back with a Proxy-Authorization
    added (it affects admission: a spiral, not a loop), not 482."""
    link, down = ctx.link(), ctx.listener()
    if not _loop_detected(ctx, link, down):
        ctx.not_applicable("the proxy does not detect loops (a MAY of §16.3 step 4)")
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    got = _send(ctx, link, req, down)
    back = _looped(ctx, link, got)
    back.add(
        "Proxy-Authorization",
        'Digest username="x", realm="elsewhere.invalid", nonce="1", uri="sip:x", '
        'response="00000000000000000000000000000000"',
    )
    link.send(bytes(back), "the same request with credentials added")
    again = arrives(down, "MESSAGE", req.call_id, timeout=2.0)
    refused = final_of(link, back, timeout=0.3) if again is None else None
    if again is not None:
        reply(down, again, 200)
    reply(down, got, 200)
    final_of(link, req)
    ctx.check(again is not None, "the request forwarded (a spiral)", describe(refused))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% Notice that a proxy is not required to detect merged requests and MUST NOT treat merged
##% requests as an error condition.
@case("proxy-merged-not-error", roles=PROXY, no_control=FORWARDED)
def merged_not_error(ctx: Context) -> None:
    """The same request arriving twice by two paths (two branches, as after an upstream
    fork) is forwarded both times."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    first = _send(ctx, link, req, down)
    twin = Outgoing(req.method, req.uri, list(req.headers), req.body)
    twin.set("Via", f"SIP/2.0/UDP {link.sent_by};branch={unique('z9hG4bK')};rport")
    link.send(bytes(twin), "the same request by another path (merged)")
    second = arrives(down, "MESSAGE", req.call_id, timeout=2.0)
    refused = final_of(link, twin, timeout=0.3) if second is None else None
    for got in (first, second):
        if got is not None:
            reply(down, got, 200)
    ctx.check(second is not None, "the second copy forwarded too", describe(refused))


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% Any other components, well-formed or not, SHOULD be ignored and remain unchanged when the
##% message is forwarded.
@case("proxy-malformed-other-kept", roles=PROXY, level="SHOULD", no_control=FORWARDED)
def malformed_other_kept(ctx: Context) -> None:
    """Malformed header fields the proxy has no use for go through unchanged."""
    link, down = ctx.link(), ctx.listener()
    odd = [("Date", "not a date at all"), ("Expires", "soon"), ("Priority", "very;;high")]
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down), extra=odd)
    link.send(bytes(req))
    got = arrives(down, "MESSAGE", req.call_id)
    if got is None:
        final = final_of(link, req, timeout=1.0)
        ctx.fail("the request forwarded", f"not forwarded ({describe(final)})")
    assert got is not None
    _complete(link, req, down, got)
    for name, value in odd:
        seen = (got[0].get(name) or "").strip()
        ctx.check(seen == value, f"{name}: {value}", f"{name}: {seen or '(none)'}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The URI SHOULD NOT contain the transport parameter unless the proxy has knowledge (such as
##% in a private network) that the next downstream element that will be in the path of
##% subsequent requests supports that transport.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% The URI SHOULD NOT contain the transport parameter unless the proxy has knowledge that the
##% next upstream (as opposed to downstream) element that will be in the path of subsequent
##% requests supports that transport.
@case("proxy-record-route-no-transport", roles=PROXY, level="SHOULD", no_control=FORWARDED)
def record_route_no_transport(ctx: Context) -> None:
    """The proxy's Record-Route URI carries no transport parameter."""
    link, down = ctx.link(), ctx.listener()
    _, rr = _record_route(ctx, link, down)
    ctx.check(param(_uri(rr), "transport") is None, "no transport parameter", rr)
    # the same in a 2xx going upstream (§16.7 step 9)
    req = ctx.request("INVITE", link, uri=downstream_uri(down))
    got = _send(ctx, link, req, down)
    reply(down, got, 200)
    final = ctx.require_final(final_of(link, req), "2xx forwarded")
    link.send(bytes(ack_for(req, final, ctx.target)), "ACK (2xx)")
    arrives(down, "ACK", req.call_id, timeout=1.0)
    bye = bye_for(req, final, ctx.target)
    link.send(bytes(bye), "BYE")
    end = arrives(down, "BYE", req.call_id, timeout=2.0)
    if end is not None:
        reply(down, end, 200)
        final_of(link, bye)
    rrs = final.get_all("Record-Route")
    bad = [v for v in rrs if param(_uri(v), "transport") is not None]
    ctx.check(not bad, "no transport parameter upstream", " | ".join(bad), requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% Therefore, the component of the branch parameter that makes it unique MUST be the same each
##% time a retransmitted request is forwarded.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% Furthermore, when handling a request statelessly, an element MUST NOT generate its own 100
##% (Trying) or any other provisional response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% In particular, a retransmitted request MUST be forwarded to the same destination each time
##% it is processed.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% All other message transformations specified in Section 16.6 MUST result in the same
##% transformation of a retransmitted request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% Thus for a stateless proxy, the branch parameter MUST be computed as a combinatoric
##% function of message parameters which are invariant on retransmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% In particular, if the proxy inserts a Record-Route value or pushes URIs into the Route
##% header field, it MUST place the same values in retransmissions of the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% As for the Via branch parameter, this implies that the transformations MUST be based on
##% time-invariant configuration or retransmission-invariant properties of the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% If that address matches the proxy, (it equals a value this proxy has inserted into
##% previous requests) the proxy MUST remove that header field value from the response and
##% forward the result to the location indicated in the next Via header field value.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% When a response arrives at a stateless proxy, the proxy MUST inspect the sent-by value in
##% the first (topmost) Via header field value.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% A stateless proxy MUST choose one and only one target from the target set.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% This choice MUST only rely on fields in the message and time-invariant properties of the
##% server.
@case("proxy-stateless-retransmission", roles=PROXY, no_control=FORWARDED)
def stateless_retransmission(ctx: Context) -> None:
    """A retransmission a stateless proxy forwards again carries the same branch (and the
    proxy sends no provisional response of its own)."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request("INVITE", link, uri=downstream_uri(down))
    first = _send(ctx, link, req, down)
    link.send(bytes(req), "retransmission")
    # a stateful proxy retransmits its own copy after T1: wait for less than that
    second = arrives(down, "INVITE", req.call_id, timeout=0.6 * ctx.profile.t1)
    if second is None:
        _complete(link, req, down, first, 486)
        ctx.not_applicable("a stateful proxy: the retransmission was absorbed")
    assert second is not None
    provisional = upstream(link, req, lambda m: (m.status or 0) < 200, timeout=0.1)
    reply(down, first, 486)
    final = final_of(link, req)
    ack_upstream(link, req, final)
    down.expect(lambda m: m.method == "ACK", timeout=0.3)
    ctx.check(second[0].branch == first[0].branch, str(first[0].branch), str(second[0].branch))
    ctx.check(provisional is None, "no provisional", describe(provisional), requirement=1)
    ctx.check(
        second[0].uri == first[0].uri,
        f"the same target ({first[0].uri}) for the retransmission",
        second[0].uri,
        requirement=10,
    )
    ctx.check(
        second[0].raw == first[0].raw,
        "the same copy again",
        "a copy differing from the first",
        requirement=3,
    )
    vias = final.get_all("Via") if final is not None else []
    ctx.check(
        len(vias) == 1 and param(vias[0], "branch") == req.branch,
        "the 486 upstream with only our Via",
        describe(final) + " " + " | ".join(vias),
        requirement=7,
    )


def _stateless(ctx: Context, link: Link, down: Listener) -> tuple[Outgoing, Got]:
    """An INVITE whose retransmission the proxy forwards again (a stateless proxy); the
    copy that arrived (not applicable to a stateful proxy, which absorbs it)."""
    req = ctx.request("INVITE", link, uri=downstream_uri(down))
    first = _send(ctx, link, req, down)
    link.send(bytes(req), "retransmission")
    second = arrives(down, "INVITE", req.call_id, timeout=0.6 * ctx.profile.t1)
    if second is None:
        _complete(link, req, down, first, 486)
        ctx.not_applicable("a stateful proxy: the retransmission was absorbed")
    return req, first


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% A stateless proxy MUST validate a request as described in Section 16.3
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% A stateless proxy MUST follow the request processing steps described in Sections 16.4
##% through 16.5 with the following exception:
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% A stateless proxy MUST follow the request processing steps described in Section 16.6
##% with the following exceptions:
@case("proxy-stateless-steps", roles=PROXY, no_control=FORWARDED)
def stateless_steps(ctx: Context) -> None:
    """A stateless proxy validates and processes requests as §16.3 to §16.6 say: a Route
    naming it removed, its Via on top; Max-Forwards 0 refused."""
    link, down = ctx.link(), ctx.listener()
    req, first = _stateless(ctx, link, down)
    _complete(link, req, down, first, 486)
    routed = ctx.request(
        "MESSAGE",
        link,
        uri=downstream_uri(down),
        extra=[("Route", f"<sip:{ctx.target.hostport};lr>")],
    )
    got = _send(ctx, link, routed, down)
    _complete(link, routed, down, got)
    zero = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    zero.set("Max-Forwards", "0")
    final, _ = ctx.transaction(link, zero, learn=False)
    leaked = arrives(down, "MESSAGE", zero.call_id, timeout=0.3)
    if leaked is not None:
        reply(down, leaked, 200)
    msg = got[0]
    ctx.check(
        leaked is None and final is not None and final.status == 483,
        "483 to Max-Forwards 0, not forwarded",
        describe(final) + (" and forwarded" if leaked else ""),
    )
    routes = msg.get_all("Route")
    ctx.check(not routes, "the Route naming the proxy removed", ", ".join(routes), 1)
    # (Max-Forwards, §16.6 step 3, is proxy-max-forwards-decremented's)
    vias = msg.get_all("Via")
    ctx.check(
        len(vias) == 2 and (param(vias[0], "branch") or "").startswith("z9hG4bK"),
        "its Via (with a z9hG4bK branch) on top of ours",
        " | ".join(vias),
        requirement=2,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% Furthermore, CANCEL and non-Routed ACK requests MUST generate the same choice as their
##% associated INVITE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.11
##= type=test
##% Stateless proxies MUST NOT perform special processing for CANCEL requests.
@case("proxy-stateless-cancel", roles=PROXY, no_control=FORWARDED)
def stateless_cancel(ctx: Context) -> None:
    """A stateless proxy forwards a CANCEL where the INVITE went, with its branch, and does
    not answer it itself."""
    link, down = ctx.link(), ctx.listener()
    req, first = _stateless(ctx, link, down)
    cancel_req = cancel_of(req)
    link.send(bytes(cancel_req), "CANCEL")
    cancel = arrives(down, "CANCEL", req.call_id, timeout=2.0)
    if cancel is not None:
        reply(down, cancel, 200, extra=[("X-Conformance-Downstream", "cancel")])
    answers = link.collect(
        lambda m: m.is_response and m.cseq[1] == "CANCEL" and m.call_id == req.call_id, 0.5
    )
    _complete(link, req, down, first, 487)
    ctx.check(cancel is not None, "the CANCEL where the INVITE went", "not forwarded there")
    assert cancel is not None
    ctx.check(cancel[0].branch == first[0].branch, str(first[0].branch), str(cancel[0].branch))
    own = [a for a in answers if a.get("X-Conformance-Downstream") is None]
    ctx.check(
        not own,
        "no answer to CANCEL of the proxy's own",
        describe(own[0] if own else None),
        requirement=1,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% Any components involved in the remainder of these Request Validation steps or the Request
##% Forwarding section MUST be well-formed.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% Before an element can proxy a request, it MUST verify the message's validity.
@case("proxy-bad-max-forwards-400", roles=PROXY)
def bad_max_forwards(ctx: Context) -> None:
    """A Max-Forwards that is not a number is answered with an error, not forwarded."""
    link, down = ctx.link(), ctx.listener()
    control_through(ctx, link, down)
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    req.set("Max-Forwards", "ten")
    final, _ = ctx.transaction(link, req, learn=False)
    forwarded = arrives(down, "MESSAGE", req.call_id, timeout=0.3)
    if forwarded is not None:
        reply(down, forwarded, 200)
    ctx.check(
        forwarded is None,
        "not forwarded",
        f"forwarded with {forwarded[0].get('Max-Forwards') if forwarded else ''}",
    )
    final = ctx.require_final(final)
    ctx.check(400 <= (final.status or 0) < 500, "a 4xx (400)", describe(final), requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% The request MUST be well-formed enough to be handled with a server transaction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.1
##= type=test
##% The Reason-Phrase SHOULD identify the syntax problem in more detail, for example,
##% "Missing Call-ID header field".
@case("proxy-no-call-id-400", roles=PROXY)
def no_call_id(ctx: Context) -> None:
    """A request without Call-ID is not forwarded."""
    link, down = ctx.link(), ctx.listener()
    control_through(ctx, link, down)
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    marker = unique("nocid")
    req.set("Call-ID", None)
    req.add("Subject", marker)
    final, _ = ctx.transaction(link, req, timeout=1.0, learn=False)
    forwarded = down.expect(lambda m: m.get("Subject") == marker, timeout=0.3)
    if forwarded is not None:
        reply(down, forwarded, 200)
    ctx.check(forwarded is None, "not forwarded", f"forwarded ({describe(final)})")
    if final is not None and final.status == 400:
        reason = (final.reason or "").strip()
        ctx.check(
            reason.lower() not in ("", "bad request"),
            "a Reason-Phrase naming the problem (the missing Call-ID)",
            f"400 {reason}",
            requirement=1,
            level="SHOULD",
        )


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% The request method MUST NOT be included in the calculation of the branch parameter.
@case(
    "proxy-loop-method-independent",
    roles=PROXY,
    no_control="a loop is answered 482 first: the proxy detects loops",
)
def loop_method_independent(ctx: Context) -> None:
    """A proxy that detects loops detects one whose method changed on the way (the loop part
    of its branch does not depend on the method)."""
    link, down = ctx.link(), ctx.listener()
    if not _loop_detected(ctx, link, down):
        ctx.not_applicable("the proxy does not detect loops (a MAY of §16.3 step 4)")
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    got = _send(ctx, link, req, down)
    back = _looped(ctx, link, got, method="OPTIONS")
    final, _ = ctx.transaction(link, back, timeout=2.0, learn=False)
    again = arrives(down, "OPTIONS", req.call_id, timeout=0.3)
    if again is not None:
        reply(down, again, 200)
    reply(down, got, 200)
    final_of(link, req)
    ctx.check(final is not None and final.status == 482, "482 (Loop Detected)", describe(final))


class _StreamDownstream:
    """A TCP socket on loopback the proxy connects to (a downstream UAS over a stream)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(4)
        self.local: tuple[str, int] = self.server.getsockname()[:2]
        self.conn: socket.socket | None = None
        self.peer: tuple[str, int] = ("", 0)
        self.buffer = StreamBuffer()

    def request(self, timeout: float = 3.0) -> Message | None:
        """The first request the proxy sends over a connection to this socket."""
        end = time.monotonic() + timeout
        try:
            if self.conn is None:
                self.server.settimeout(timeout)
                self.conn, peer = self.server.accept()
                self.peer = peer[:2]
            while (left := end - time.monotonic()) > 0:
                self.conn.settimeout(left)
                data = self.conn.recv(65536)
                if not data:
                    return None
                for frame in self.buffer.feed(data):
                    self.ctx.ladder.add(
                        Event(0, "received", "tcp", self.peer, self.local, frame, "downstream")
                    )
                    msg = parse_message(frame)
                    if msg is not None and not msg.is_response:
                        return msg
        except OSError:
            return None
        return None

    def answer(self, msg: Message, status: int) -> None:
        lines = [f"SIP/2.0 {status} Whatever", *(f"Via: {v}" for v in msg.get_all("Via"))]
        lines += [f"{n}: {msg.get(n)}" for n in ("From", "To", "Call-ID", "CSeq")]
        data = ("\r\n".join([*lines, "Content-Length: 0"]) + "\r\n\r\n").encode()
        self.ctx.ladder.add(Event(0, "sent", "tcp", self.local, self.peer, data, "downstream"))
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.sendall(data)

    def close(self) -> None:
        for sock in (self.conn, self.server):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If the request will be sent to the next hop using a stream-based transport and the copy
##% contains no Content-Length header field, the proxy MUST insert one with the correct value
##% for the body of the request (see Section 20.14).
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.1
##= type=test
##% Requests forwarded between different types of transports where the proxy's TU must take
##% an active role in ensuring reliable delivery on one of the transports MUST be forwarded
##% transaction statefully.
@case("proxy-udp-to-tcp", roles=PROXY, transports=("udp",), no_control=FORWARDED)
def udp_to_tcp(ctx: Context) -> None:
    """A MESSAGE without Content-Length over UDP, forwarded over TCP: the copy has one, and
    the proxy answers our retransmission itself (statefully) rather than sending it again."""
    link = ctx.link()
    stream = _StreamDownstream(ctx)
    try:
        body = b"over a stream"
        uri = f"sip:tcp@127.0.0.1:{stream.local[1]};transport=tcp"
        req = ctx.request("MESSAGE", link, uri=uri, body=body, content_type="text/plain")
        data = bytes(req).replace(f"Content-Length: {len(body)}\r\n".encode(), b"")
        link.send(data, "no Content-Length (UDP)")
        got = stream.request()
        if got is None:
            final = final_of(link, req, timeout=1.0)
            ctx.not_applicable(f"the proxy did not forward over TCP ({describe(final)})")
        assert got is not None
        link.send(data, "retransmission")
        again = stream.request(timeout=0.6 * ctx.profile.t1)
        stream.answer(got, 200)
        final_of(link, req)
        length = (got.get("Content-Length") or "").strip()
        ctx.check(length == str(len(body)), f"Content-Length: {len(body)}", length or "none")
        ctx.check(again is None, "the retransmission absorbed", "sent again", requirement=1)
    finally:
        stream.close()
