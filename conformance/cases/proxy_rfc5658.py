"""RFC 5658 (the Record-Route fix) seen at a proxy: the Record-Route URI is a SIP or SIPS URI
without a transport parameter when nothing changes between the proxy's two sides (§3.2, §6,
quoting RFC 3261 §16.6 step 4); when the transport changes (TCP upstream, UDP downstream) the
proxy double-record-routes with a transport parameter on each value (§6.2, §7); when TLS is
used upstream, the value facing it reaches the proxy over TLS, and no ``transport=tls``
(§3.2, §6.2).

The runner plays the upstream UAC on a TCP (or TLS) link to the proxy — in the UDP wave it
opens a TCP connection to the proxy's port beside the UDP socket — and the downstream UAS on a
UDP socket (`conformance.cases._proxy_support`).
"""

from __future__ import annotations

from dataclasses import replace

from conformance.cases._proxy_support import arrives, downstream_uri, final_of, reply, upstream
from conformance.cases.proxy import FORWARDED
from conformance.cases.proxy_responses import _close, _hang_up
from conformance.messages import Outgoing, make_request
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.target import Target
from conformance.wire import Link, Listener

#: load order of the case modules (conformance.discovery)
ORDER = 79

PROXY = ("proxy",)

Got = tuple[Message, tuple[str, int]]


def _uri(value: str) -> str:
    return value.split("<", 1)[-1].split(">", 1)[0].strip()


def _uri_param(value: str, name: str) -> str | None:
    """A URI parameter (inside <...>) of a Record-Route value, lower case; None: absent."""
    for part in _uri(value).split(";")[1:]:
        key, _, val = part.partition("=")
        if key.strip().lower() == name:
            return val.strip().lower()
    return None


def _stream_link(ctx: Context) -> tuple[Link, Target]:
    """A TCP link to the proxy (the case's own link when the target is reached over TCP or
    TLS already) and the target it names; not applicable when the proxy takes no TCP."""
    if ctx.target.transport != "udp":
        return ctx.link(), ctx.target
    target = replace(ctx.target, transport="tcp")
    try:
        link = Link(target, ctx.ladder, ctx.deadline)
    except OSError as exc:
        ctx.not_applicable(f"the proxy takes no TCP connection on its port ({exc})")
    ctx.links.append(link)
    return link, target


def _invite(ctx: Context, link: Link, target: Target, down: Listener) -> tuple[Outgoing, Got]:
    """An INVITE over ``link`` through the proxy to ``down``; the copy (else inconclusive)."""
    req = make_request("INVITE", target, link.sent_by, user=ctx.user, uri=downstream_uri(down))
    link.send(bytes(req))
    got = arrives(down, "INVITE", req.call_id)
    if got is None:
        ctx.inconclusive(f"the proxy did not forward the INVITE ({describe(final_of(link, req))})")
    assert got is not None
    return req, got


##= https://www.rfc-editor.org/rfc/rfc5658#section-3.2
##= type=test
##% The URI placed in the Record-Route header field value MUST be a SIP or SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc5658#section-3.2
##= type=test
##% The URI SHOULD NOT contain the transport parameter unless the proxy has knowledge (such as
##% in a private network) that the next downstream element that will be in the path of
##% subsequent requests supports that transport.
##= https://www.rfc-editor.org/rfc/rfc5658#section-6
##= type=test
##% The URI SHOULD NOT contain the transport parameter unless the proxy has knowledge (such as
##% in a private network) that the next downstream element that will be in the path of
##% subsequent requests supports that transport.
@case(
    "proxy-5658-record-route-same-transport",
    roles=PROXY,
    transports=("udp",),
    no_control=FORWARDED,
)
def same_transport(ctx: Context) -> None:
    """A Record-Route of a request staying on UDP is a SIP(S) URI without transport.

    UDP in, UDP out: the proxy's Record-Route value (if it record-routes) is a SIP or SIPS
    URI, with no transport parameter."""
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, ctx.target, down)
    _close(link, down, req, got)
    routes = got[0].get_all("Record-Route")
    if not routes:
        ctx.not_applicable("the proxy does not record-route (RFC 3261 §16.6 step 4: a MAY)")
    bad = [r for r in routes if not _uri(r).lower().startswith(("sip:", "sips:"))]
    ctx.check(not bad, "SIP or SIPS Record-Route URIs", " | ".join(bad), 0)
    with_transport = [r for r in routes if _uri_param(r, "transport") is not None]
    ctx.should(not with_transport, "no transport parameter", " | ".join(with_transport))


##= https://www.rfc-editor.org/rfc/rfc5658#section-3.2
##= type=test
##% The URI placed in the Record-Route header field value MUST be a SIP or SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
##= type=test
##% Thus, if the transport protocol changed between its incoming and outgoing sides, the proxy
##% SHOULD use the double Record-Route technique and SHOULD add a transport parameter to each
##% of the Record-Route URIs it inserts.
##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
##= type=test
##% In order to handle this situation, this document recommends that a proxy SHOULD apply the
##% double Record-Routing technique as soon as it changes the transport protocol between its
##% incoming and outgoing sides.
##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
##= type=test
##% By extension, a proxy SHOULD also insert a Record-Route header for any multi-homed
##% situation (as the ones described in this document: scheme changes, sigcomp, IPv4/IPv6,
##% transport changes, etc.) that may impact the processing of proxies being on the path of
##% subsequent requests.
##= https://www.rfc-editor.org/rfc/rfc5658#section-7
##= type=test
##% Double Record-Routing is presented as the technique that SHOULD be used, and is documented
##% in Section 5.
##= https://www.rfc-editor.org/rfc/rfc5658#section-7
##= type=test
##% Proxies SHOULD use double Record-Routing for any multi-homed situation that MAY impact the
##% further processing, and they SHOULD put transport protocol parameters on Record-Route URIs
##% in some circumstances.
@case(
    "proxy-5658-double-record-route",
    roles=PROXY,
    level="SHOULD",
    transports=("udp", "tcp"),
    no_control=FORWARDED,
)
def double_record_route(ctx: Context) -> None:
    """A request crossing from TCP to UDP is double-record-routed, each value with transport.

    The INVITE comes over TCP and leaves over UDP (the downstream URI has no transport): the
    copy has two Record-Route values of the proxy's, the first (its downstream side) with
    transport=udp, the second (its upstream side) with transport=tcp; all SIP(S) URIs.
    The 200 then reaches the UAC, and the ACK and BYE along that route set the UAS."""
    link, target = _stream_link(ctx)
    down = ctx.listener()
    req, got = _invite(ctx, link, target, down)
    routes = got[0].get_all("Record-Route")
    reply(down, got, 200)
    ok = upstream(link, req, lambda m: m.status == 200)
    if ok is None:
        _close(link, down, req, got)
        ctx.inconclusive("the 200 was not forwarded upstream")
    assert ok is not None
    through = _hang_up(ctx, link, down, req, ok)
    bad = [r for r in routes if not _uri(r).lower().startswith(("sip:", "sips:"))]
    ctx.check(not bad, "SIP or SIPS Record-Route URIs", " | ".join(bad), 0)
    ctx.should(bool(routes), "a Record-Route of the proxy's", "none")
    shown = " | ".join(routes) or "none"
    ctx.should(len(routes) == 2, "two Record-Route values (double Record-Route)", shown)
    sides = [_uri_param(r, "transport") for r in routes]
    ctx.should(
        len(sides) == 2 and sides[0] in ("udp", None) and sides[1] == "tcp",
        "transport=udp (downstream side), then transport=tcp (upstream side)",
        shown,
    )
    # §6.2's example: the UDP side's value "with no transport, or with transport=udp,
    # which basically means the same thing"
    ctx.should(sides[-1:] == ["tcp"], "a transport parameter on the TCP side's value", shown)
    ctx.should(through, "the ACK and BYE routed to the UAS", "not both arrived")


##= https://www.rfc-editor.org/rfc/rfc5658#section-3.2
##= type=test
##% If the proxy received the request over Transport Layer Security (TLS), and sent it out
##% over a non-TLS connection, the proxy MUST rewrite the URI in the Record-Route header field
##% to be a SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
##= type=test
##% When TLS is used on the transport on either side of the proxy, the URI placed in the
##% Record-Route header field MUST encode a next-hop that will be reached using TLS.
##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
##= type=test
##% Proxies compliant with this specification MUST NOT use a "transport=tls" parameter on the
##% URI placed in the Record-Route because the "transport=tls" usage was deprecated by
##% [RFC3261].
##= https://www.rfc-editor.org/rfc/rfc3263#section-5
##= type=test
##% When this value is present, the server MUST use TLS over TCP to send the response.
@case("proxy-5658-tls-record-route", roles=PROXY, transports=("tls",), no_control=FORWARDED)
def tls_record_route(ctx: Context) -> None:
    """Over TLS upstream, the Record-Route the UAC gets back names the proxy by SIPS.

    The INVITE comes over TLS and leaves over UDP: in the 200 that reaches the UAC, the
    proxy's value the UAC routes by (the last one) is a SIPS URI; no value has
    transport=tls."""
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, ctx.target, down)
    reply(down, got, 200)
    ok = upstream(link, req, lambda m: m.status == 200)
    if ok is None:
        _close(link, down, req, got)
        # the top Via says TLS (RFC 3263 §5): the response comes over that connection
        ctx.fail("the 200 over the UAC's TLS connection", "none", 3)
    assert ok is not None
    _hang_up(ctx, link, down, req, ok)
    routes = ok.get_all("Record-Route")
    if not routes:
        ctx.not_applicable("the proxy does not record-route (RFC 3261 §16.6 step 4: a MAY)")
    shown = " | ".join(routes)
    last = _uri(routes[-1]).lower()
    ctx.check(last.startswith("sips:"), "a SIPS URI facing the TLS side", routes[-1], 0)
    ctx.check(
        last.startswith("sips:") or _uri_param(routes[-1], "transport") == "tls",
        "a next hop reached over TLS",
        routes[-1],
        1,
    )
    tls = [r for r in routes if _uri_param(r, "transport") == "tls"]
    ctx.check(not tls, "no transport=tls", shown, 2)
