"""RFC 5626 (outbound) seen at an edge proxy: the Path it puts on an outbound REGISTER
(§5.1: its URI when it is the first hop, with "ob" and a flow token unique to the flow;
no "ob" when it is not the first hop).  The runner plays the UA upstream (one socket per
flow) and the registrar downstream (`conformance.cases._proxy_support`).
"""

from __future__ import annotations

import uuid

from conformance.cases._proxy_support import arrives, final_of, reply
from conformance.cases.proxy import FORWARDED
from conformance.messages import unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.wire import Link, Listener

PROXY = ("proxy",)


def _register(
    ctx: Context, link: Link, down: Listener, behind: bool = False
) -> tuple[Message | None, Message | None]:
    """An outbound REGISTER (reg-id, +sip.instance, Supported: outbound, path) for a
    registrar at ``down``; ``behind``: as if relayed by an earlier proxy (a second Via
    below the link's).  The copy downstream (None: not forwarded) and the final response."""
    user = unique("ob")
    instance = f'"<urn:uuid:{uuid.uuid4()}>"'
    extra = [
        ("Contact", f"<sip:{user}@{link.sent_by};ob>;reg-id=1;+sip.instance={instance}"),
        ("Supported", "outbound, path"),
        ("Expires", "60"),
    ]
    req = ctx.request("REGISTER", link, uri=f"sip:{down.hostport}", extra=extra)
    req.set("To", f"<sip:{user}@{down.hostport}>")
    if behind:
        top = req.get("Via") or ""
        req.set("Via", top)
        req.add("Via", f"SIP/2.0/UDP 127.0.0.1:9;branch={unique('z9hG4bK')};received=127.0.0.1")
    link.send(bytes(req))
    got = arrives(down, "REGISTER", req.call_id)
    if got is None:
        return None, final_of(link, req, timeout=1.0)
    contact = f"{got[0].get('Contact')};expires=60"
    reply(down, got, 200, extra=[("Contact", contact), ("Require", "outbound")])
    return got[0], final_of(link, req)


def _paths(msg: Message) -> list[str]:
    return [v.strip() for line in msg.get_all("Path") for v in line.split(",")]


def _edge_path(ctx: Context, link: Link, down: Listener) -> list[str]:
    """The Path values on a first-hop outbound REGISTER the proxy forwarded; not applicable
    when it adds none (not an RFC 5626 edge proxy)."""
    got, final = _register(ctx, link, down)
    if got is None:
        ctx.inconclusive(f"the outbound REGISTER was not forwarded ({describe(final)})")
    assert got is not None
    paths = _paths(got)
    if not paths:
        ctx.not_applicable("no Path on an outbound REGISTER: not an RFC 5626 edge proxy")
    return paths


def _uri(value: str) -> str:
    return value.split("<", 1)[-1].split(">", 1)[0]


##= https://www.rfc-editor.org/rfc/rfc5626#section-5.1
##= type=test
##% If the edge proxy is the first hop, as indicated by the Via header field, it MUST insert
##% its URI in a Path header field value as described in [RFC3327].
##= https://www.rfc-editor.org/rfc/rfc5626#section-5.1
##= type=test
##% In addition, the first node MUST include an "ob" URI parameter in its Path header field
##% value.
##= https://www.rfc-editor.org/rfc/rfc5626#section-5.1
##= type=test
##% The flow token MUST be an identifier that is unique to this network flow.
@case("rfc5626-edge-path-ob", roles=PROXY, transports=("udp",), no_control=FORWARDED)
def edge_path_ob(ctx: Context) -> None:
    """Two outbound REGISTERs over two flows (two sockets): each gets a Path of the proxy's
    with ;ob, the two URIs differing (a flow token each)."""
    down = ctx.listener()
    first = _edge_path(ctx, ctx.link(), down)
    second = _edge_path(ctx, ctx.link(), down)
    ctx.check(";lr" in first[0], "the proxy's Path value (;lr)", first[0])
    ctx.check(";ob" in _uri(first[0]), 'an "ob" URI parameter', first[0], 1)
    ctx.check(
        _uri(first[0]) != _uri(second[0]),
        "a Path URI per flow (the flow token)",
        f"{first[0]} | {second[0]}",
        2,
    )


##= https://www.rfc-editor.org/rfc/rfc5626#section-5.1
##= type=test
##% If the edge proxy is not the first SIP node after the UAC it MUST NOT place an "ob" URI
##% parameter in a Path header field value.
@case(
    "rfc5626-edge-no-ob-not-first-hop",
    roles=PROXY,
    transports=("udp",),
    no_control="a first-hop outbound REGISTER gets a Path with ob first",
)
def no_ob_behind(ctx: Context) -> None:
    """An outbound REGISTER that already went through a proxy (two Vias): any Path value
    the proxy adds has no "ob"."""
    down = ctx.listener()
    _edge_path(ctx, ctx.link(), down)
    got, final = _register(ctx, ctx.link(), down, behind=True)
    if got is None:
        ctx.inconclusive(f"the relayed REGISTER was not forwarded ({describe(final)})")
    assert got is not None
    paths = _paths(got)
    ctx.check(not any(";ob" in _uri(p) for p in paths), 'no "ob" in its Path', " | ".join(paths))


##= https://www.rfc-editor.org/rfc/rfc5626#section-5.3.1
##= type=test
##% If the flow token has been tampered with, the proxy SHOULD send a 403 (Forbidden)
##% response.
@case(
    "rfc5626-edge-tampered-flow-token",
    roles=PROXY,
    level="SHOULD",
    transports=("udp",),
    no_control="the REGISTER through the edge is forwarded first, with the Path to tamper with",
)
def tampered_token(ctx: Context) -> None:
    """A request routed to the edge's Path URI with the last character of its user part
    (the flow token) changed gets 403."""
    down = ctx.listener()
    paths = _edge_path(ctx, ctx.link(), down)
    uri = _uri(paths[0])
    scheme, _, rest = uri.partition(":")
    user, at, host = rest.partition("@")
    if not at or not user:
        ctx.not_applicable(f"no user part to tamper with in the Path URI {uri}")
    # the last character changed: a signature or checksum, if any, no longer matches
    flipped = user[:-1] + ("0" if user[-1] != "0" else "1")
    link = ctx.link()
    req = ctx.request(
        "MESSAGE",
        link,
        uri=f"sip:someone@{down.hostport}",
        extra=[("Route", f"<{scheme}:{flipped}@{host}>")],
    )
    final, _ = ctx.transaction(link, req, timeout=2.0, learn=False)
    leaked = arrives(down, "MESSAGE", req.call_id, timeout=0.1)
    if leaked is not None:
        reply(down, leaked, 200)
    ctx.should(final is not None and final.status == 403, "403 (Forbidden)", describe(final))
