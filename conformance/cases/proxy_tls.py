"""A proxy between a TLS side and a non-TLS side (RFC 3261 §16.6 step 4 and bullet 8 on SIPS,
§16.7 step 9 on Record-Route rewriting).  The target is the proxy's TLS listener
(``tls:host:port``); its UDP side is learnt from the Via it adds to a request it forwards
over UDP (`_plain_side`).  A SIPS Request-URI names the runner's TLS listener
(`conformance.wire.TlsListener`, serving the profile's ``tls_cert``, which the proxy must
trust); a SIP one names a UDP socket (`conformance.cases._proxy_support`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from conformance.cases._proxy_support import arrives, downstream_uri, final_of, reply
from conformance.messages import ack_for, make_request, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.target import Target, TargetError, parse_target
from conformance.wire import Link, Listener, TlsListener

#: load order of the case modules (conformance.discovery)
ORDER = 80

PROXY = ("proxy",)
TLS = ("tls",)


def _tls_listener(ctx: Context) -> TlsListener:
    """The runner's TLS downstream (not applicable without a certificate in the profile)."""
    if not (ctx.profile.tls_cert and ctx.profile.tls_key):
        ctx.not_applicable(
            "the profile names no tls_cert/tls_key: the runner has no certificate the proxy"
            " trusts to serve a TLS downstream with"
        )
    listener = TlsListener(ctx.ladder, ctx.deadline, ctx.profile.tls_cert, ctx.profile.tls_key)
    ctx.links.append(listener)  # type: ignore[arg-type]
    return listener


def _rr_values(msg: Message) -> list[str]:
    """Every Record-Route value, in order (several may share one header field line)."""
    out: list[str] = []
    for line in msg.get_all("Record-Route"):
        out += [v.strip() for v in re.split(r",(?=\s*<)", line) if v.strip()]
    return out


def _uri(value: str) -> str:
    return value.split("<", 1)[-1].split(">", 1)[0].strip()


def _secure(uri: str) -> bool:
    """A SIPS URI (or, as RFC 3261 §26.2.2 deprecates, a sip: URI with transport=tls)."""
    return uri.lower().startswith("sips:") or ";transport=tls" in uri.lower()


def _hostport(uri: str) -> str:
    rest = uri.split(":", 1)[1].split("@")[-1]
    return re.split(r"[;?>]", rest, maxsplit=1)[0]


def _plain_side(ctx: Context, link: Link) -> Target:
    """The control, which also learns the proxy's UDP side: a MESSAGE over TLS for a UDP
    socket of the runner must be forwarded there (and its 200 relayed back); the proxy's Via
    in it names where it listens for UDP (§18.2.1: and TCP)."""
    down = ctx.listener()
    seen: list[Message] = []

    def exchange() -> tuple[Message | None, bool]:
        req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
        link.send(bytes(req), "control (learns the proxy's UDP side)")
        got = arrives(down, "MESSAGE", req.call_id)
        if got is None:
            return final_of(link, req, timeout=1.0), False
        seen.append(got[0])
        reply(down, got, 200)
        final = final_of(link, req)
        return final, final is not None and final.status == 200

    ctx.controlled("MESSAGE", exchange, "a MESSAGE over TLS forwarded over UDP and answered")
    via = (seen[0].get_all("Via") or [""])[0]
    m = re.match(r"\s*SIP/2\.0/UDP\s+([^;\s]+)", via, re.I)
    try:
        return parse_target(f"udp:{m[1]}" if m else "")
    except TargetError:
        ctx.inconclusive(f"the proxy's Via names no UDP address of its own: {via!r}")
        raise


def _over_udp_to_tls(
    ctx: Context, uri_of: Callable[[TlsListener], str] | None = None
) -> tuple[Target, Message, list[str], Message | None]:
    """An INVITE sent to the proxy's UDP side for a URI reaching the runner's TLS listener
    (``uri_of`` it; by default the SIPS URI naming it): the proxy's UDP address, the INVITE
    as it arrived over TLS (a fail when it did not), its Record-Route URIs and the 200
    relayed back (then ACKed)."""
    link = ctx.link()
    plain = _plain_side(ctx, link)
    down = _tls_listener(ctx)
    udp = Link(plain, ctx.ladder, ctx.deadline)
    ctx.links.append(udp)
    uri = uri_of(down) if uri_of else f"sips:downstream@{down.hostport}"
    req = make_request("INVITE", plain, udp.sent_by, user=ctx.user, uri=uri)
    udp.send(bytes(req), f"INVITE over UDP for {uri}")
    got = down.expect(lambda m: m.method == "INVITE" and m.call_id == req.call_id, 3.0)
    if got is None:
        final = final_of(udp, req, timeout=0.5)
        ctx.fail("the INVITE sent on over TLS", f"not over TLS ({describe(final)})", 0)
    assert got is not None
    routes = [_uri(v) for v in _rr_values(got[0])]
    reply(down, got, 200)
    final = final_of(udp, req)
    if final is not None:
        udp.send(bytes(ack_for(req, final, plain)), "ACK")
        down.expect(lambda m: m.method == "ACK", timeout=0.3)
    return plain, got[0], routes, final


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% Independently of which URI is being used as input to the procedures of [4], if the
##% Request-URI specifies a SIPS resource, the proxy MUST follow the procedures of [4] as if
##% the input URI were a SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If the Request-URI contains a SIPS URI, or the topmost Route header field value (after
##% the post processing of bullet 6) contains a SIPS URI, the URI placed into the
##% Record-Route header field MUST be a SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% Furthermore, if the request was not received over TLS, the proxy MUST insert a
##% Record-Route header field.
@case("proxy-tls-sips-uri-over-tls", roles=PROXY, transports=TLS)
def sips_over_tls(ctx: Context) -> None:
    """An INVITE received over UDP for a SIPS Request-URI (the runner's TLS listener): sent
    on over TLS, with a Record-Route (none came over TLS) whose URI toward the SIPS side is a
    SIPS URI."""
    _, _, routes, _ = _over_udp_to_tls(ctx)
    ctx.check(bool(routes), "a Record-Route in the forwarded INVITE", "none", requirement=2)
    ctx.check(_secure(routes[0]), "a SIPS Record-Route URI", routes[0], requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% If the proxy received the request over a non-TLS connection, and sent it out over TLS,
##% the proxy MUST rewrite the URI in the Record-Route header field to be a SIP URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% The new URI provided by the proxy MUST satisfy the same constraints on URIs placed in
##% Record-Route header fields in requests (see Step 4 of Section 16.6) with the following
##% modifications:
@case("proxy-tls-record-route-sip-upstream", roles=PROXY, transports=TLS)
def record_route_sip_upstream(ctx: Context) -> None:
    """A SIPS contact of a fresh address-of-record registered at the proxy's registrar (the
    runner's TLS listener); an INVITE for the address-of-record (a SIP URI) over UDP goes
    out over TLS; in the 200 relayed back the proxy's Record-Route the UAC will use (the last
    one) is a SIP URI — what §16.7 step 9 rewrites — with lr and the proxy's UDP address."""
    from conformance.cases.registrar import Registration

    if not ctx.profile.domain:
        ctx.not_applicable("the profile names no domain whose registrar the proxy consults")
    user = unique("tls")

    def bound(down: TlsListener) -> str:
        with ctx.preamble("a SIPS contact bound to an address-of-record"):
            final = Registration(ctx, user=user).register(
                [f"<sips:{user}@{down.hostport}>"], expires=300
            )
            if not 200 <= (final.status or 0) < 300:
                ctx.inconclusive(f"REGISTER of the SIPS contact got {describe(final)}")
        return f"sip:{user}@{ctx.profile.domain}"

    plain, _, _, final = _over_udp_to_tls(ctx, bound)
    ctx.check(final is not None and final.status == 200, "the 200 relayed", describe(final))
    assert final is not None
    back = [_uri(v) for v in _rr_values(final)]
    ctx.check(bool(back), "a Record-Route in the 200 relayed", "none")
    ctx.check(not _secure(back[-1]), "a SIP URI toward the UAC", back[-1])
    ctx.check(
        ";lr" in back[-1].lower() and _hostport(back[-1]) == plain.hostport,
        f"lr and the proxy's UDP address {plain.hostport}",
        back[-1],
        requirement=1,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% In a similar fashion, a proxy that receives a request over TLS, but generates a request
##% without a SIPS URI in the Request-URI or topmost Route header field value (after the post
##% processing of bullet 6), MUST insert a Record-Route header field that is not a SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% If the proxy received the request over TLS, and sent it out over a non-TLS connection,
##% the proxy MUST rewrite the URI in the Record-Route header field to be a SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.7
##= type=test
##% The new URI provided by the proxy MUST satisfy the same constraints on URIs placed in
##% Record-Route header fields in requests (see Step 4 of Section 16.6) with the following
##% modifications:
@case("proxy-tls-sip-uri-from-tls", roles=PROXY, transports=TLS)
def sip_from_tls(ctx: Context) -> None:
    """An INVITE received over TLS for a SIP Request-URI (a UDP socket of the runner): the
    Record-Route it carries on is not a SIPS URI; in the 200 going back the proxy's
    Record-Route the UAC will use is a SIPS URI (rewritten for the TLS side), with lr and
    the proxy's TLS address."""
    link = ctx.link()
    _plain_side(ctx, link)
    down = ctx.listener()
    req = ctx.request("INVITE", link, uri=downstream_uri(down))
    link.send(bytes(req), "INVITE over TLS for a SIP URI")
    got = arrives(down, "INVITE", req.call_id)
    if got is None:
        final = final_of(link, req, timeout=0.5)
        ctx.fail("the INVITE forwarded over UDP", f"not forwarded ({describe(final)})", 0)
    assert got is not None
    routes = [_uri(v) for v in _rr_values(got[0])]
    reply(down, got, 200)
    final = final_of(link, req)
    if final is not None:
        link.send(bytes(ack_for(req, final, ctx.target)), "ACK")
        arrives(down, "ACK", req.call_id, timeout=0.3)
    ctx.check(bool(routes), "a Record-Route in the forwarded INVITE", "none", requirement=0)
    ctx.check(not _secure(routes[0]), "a Record-Route that is not SIPS", routes[0], 0)
    ctx.check(final is not None and final.status == 200, "the 200 relayed", describe(final), 1)
    assert final is not None
    back = [_uri(v) for v in _rr_values(final)]
    ctx.check(bool(back), "a Record-Route in the 200 relayed", "none", requirement=1)
    ctx.check(_secure(back[-1]), "a SIPS URI toward the UAC", back[-1], requirement=1)
    ctx.check(
        ";lr" in back[-1].lower() and _hostport(back[-1]) == ctx.target.hostport,
        f"lr and the proxy's TLS address {ctx.target.hostport}",
        back[-1],
        requirement=2,
    )


# --- §16.6 step 5: a local route set ------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% If the Route header field is absent, it MUST be added, containing that list of URIs.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% This set MUST be pushed into the Route header field of the copy ahead of any existing
##% values, if present.
@case(
    "proxy-local-route-pushed",
    roles=PROXY,
    transports=("udp",),
    no_control="all requests go to the runner's socket (the local route); refused: inconclusive",
)
def local_route_pushed(ctx: Context) -> None:
    """A proxy set to send every request through a local route (the profile's
    ``local_route``, a socket of the runner's): a MESSAGE without Route arrives there with a
    Route holding that URI; one with a Route (a loose router that is not the proxy) arrives
    with the local route ahead of it."""
    if not ctx.profile.local_route:
        ctx.not_applicable(
            "the profile names no local_route (a route set the proxy pushes on every request,"
            " §16.6 step 5, naming a socket of the runner's)"
        )
    local = _uri(ctx.profile.local_route)
    host, _, port = _hostport(local).rpartition(":")
    try:
        hop = Listener(ctx.ladder, ctx.deadline, host, int(port))
    except (OSError, ValueError) as exc:
        ctx.inconclusive(f"cannot listen on the local route {local}: {exc}")
        raise
    ctx.links.append(hop)
    link = ctx.link()
    beyond = "<sip:127.0.0.1:9;lr>"
    seen: list[list[str]] = []
    for extra in ([], [("Route", beyond)]):
        req = ctx.request("MESSAGE", link, uri="sip:downstream@127.0.0.1:9", extra=extra)
        link.send(bytes(req), "MESSAGE" + (" with a Route" if extra else ""))
        got = arrives(hop, "MESSAGE", req.call_id)
        if got is None:
            final = final_of(link, req, timeout=0.5)
            if final is not None and (final.status or 0) >= 300:
                ctx.inconclusive(f"the proxy refused the MESSAGE ({describe(final)})")
            ctx.fail(f"the MESSAGE sent to the local route {local}", "nothing there")
        assert got is not None
        reply(hop, got, 200)
        final_of(link, req)
        seen.append([_uri(v) for v in re.split(r",(?=\s*<)", ",".join(got[0].get_all("Route")))])
    plain, routed = seen
    ctx.check(
        bool(plain) and plain[0] == local,
        f"Route: <{local}> added",
        ", ".join(plain) or "no Route",
        requirement=0,
    )
    ctx.check(
        routed[:2] == [local, _uri(beyond)],
        f"Route: <{local}>, {beyond}",
        ", ".join(routed) or "no Route",
        requirement=1,
    )
