"""RFC 3581 (rport) seen at a proxy, as a server toward the upstream UAC (§4: rport and
received filled in, the response sent to them, from the port the request came to) and as a
client toward the downstream UAS (§3: a valueless rport if any, responses taken at the
source port of its request and at its sent-by port).  The runner plays both ends
(`conformance.cases._proxy_support`); the upstream link is a connected UDP socket, so it
only hears responses from the address and port it sent to.
"""

from __future__ import annotations

from conformance.cases._proxy_support import Got, downstream_uri, final_of, reply
from conformance.cases.proxy import FORWARDED
from conformance.cases.proxy_forwarding import _send
from conformance.messages import Outgoing, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import param
from conformance.target import parse_target
from conformance.wire import Link, Listener

#: load order of the case modules (conformance.discovery)
ORDER = 78

PROXY = ("proxy",)


##= https://www.rfc-editor.org/rfc/rfc3581#section-4
##= type=test
##% If this Via header field value contains an "rport" parameter with no value, it MUST set
##% the value of the parameter to the source port of the request.
##= https://www.rfc-editor.org/rfc/rfc3581#section-4
##= type=test
##% In fact, the server MUST insert a "received" parameter containing the source IP address
##% that the request came from, even if it is identical to the value of the "sent-by"
##% component.
##= https://www.rfc-editor.org/rfc/rfc3581#section-4
##= type=test
##% If the "sent-protocol" component indicates an unreliable unicast transport protocol, such
##% as UDP, and there is no "maddr" parameter, but there is both a "received" parameter and
##% an "rport" parameter, the response MUST be sent to the IP address listed in the
##% "received" parameter, and the port in the "rport" parameter.
##= https://www.rfc-editor.org/rfc/rfc3581#section-4
##= type=test
##% The response MUST be sent from the same address and port that the corresponding request
##% was received on.
@case("proxy-3581-rport-upstream", roles=PROXY, transports=("udp",), no_control=FORWARDED)
def rport_upstream(ctx: Context) -> None:
    """Our MESSAGE with ``;rport`` and a sent-by port nobody listens on (9): the copy
    downstream carries our Via with rport=<our port> and received=; the 200 comes back to
    our socket, from the proxy's."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    req.set("Via", f"SIP/2.0/UDP {link.local[0]}:9;branch={unique('z9hG4bK')};rport")
    got = _send(ctx, link, req, down)
    vias = got[0].get_all("Via")
    ours = next((v for v in vias if param(v, "branch") == req.branch), "")
    reply(down, got, 200)
    final = final_of(link, req)
    port, received = param(ours, "rport"), param(ours, "received")
    ctx.check(port == str(link.local[1]), f"rport={link.local[1]}", ours or "our Via missing")
    ctx.check(received == link.local[0], f"received={link.local[0]}", ours, 1)
    # the link hears only datagrams from the proxy's address and port
    ctx.check(final is not None, "the 200 at our source port, from the proxy's", "none", 2)


def _forwarded(ctx: Context) -> tuple[Link, Listener, Outgoing, Got]:
    """A MESSAGE through the proxy to a downstream socket; the copy that arrived."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    return link, down, req, _send(ctx, link, req, down)


##= https://www.rfc-editor.org/rfc/rfc3581#section-3
##= type=test
##% This parameter MUST have no value; it serves as a flag to indicate to the server that
##% this extension is supported and requested for the transaction.
##= https://www.rfc-editor.org/rfc/rfc3581#section-3
##= type=test
##% When the client sends the request, if the request is sent using UDP, the client MUST be
##% prepared to receive the response on the same IP address and port it used to populate the
##% source IP address and source port of the request.
@case("proxy-3581-response-at-source", roles=PROXY, transports=("udp",), no_control=FORWARDED)
def response_at_source(ctx: Context) -> None:
    """The proxy's own Via on the copy: rport without a value if present; the 200 sent to
    the copy's source address and port is forwarded upstream."""
    link, down, req, got = _forwarded(ctx)
    top = got[0].get_all("Via")[0]
    reply(down, got, 200)  # to the source of the copy
    final = final_of(link, req)
    rport = param(top, "rport")
    ctx.check(rport in (None, ""), "no rport, or one without a value", top)
    ctx.check(final is not None, "the 200 forwarded upstream", describe(final), 1)


##= https://www.rfc-editor.org/rfc/rfc3581#section-3
##= type=test
##% For backwards compatibility, the client MUST still be prepared to receive a response on
##% the port indicated in the sent-by field of the topmost Via header field value, as
##% specified in Section 18.1.1 of SIP [1].
@case("proxy-3581-response-at-sent-by", roles=PROXY, transports=("udp",), no_control=FORWARDED)
def response_at_sent_by(ctx: Context) -> None:
    """The 200 sent to the sent-by of the proxy's Via (5060 when it names no port), not to
    the copy's source, is forwarded upstream all the same."""
    link, down, req, got = _forwarded(ctx)
    top = got[0].get_all("Via")[0]
    sent_by = top.split(None, 1)[1].split(";", 1)[0].strip()
    try:
        where = parse_target(f"udp:{sent_by if ':' in sent_by else sent_by + ':5060'}").address
    except ValueError:
        reply(down, got, 200)
        final_of(link, req)
        ctx.inconclusive(f"a sent-by the runner cannot reach: {sent_by}")
    if where[0] not in ("127.0.0.1", "::1", "localhost"):
        reply(down, got, 200)
        final_of(link, req)
        ctx.not_applicable(f"the sent-by {sent_by} is not on loopback")
    reply(down, (got[0], where), 200, note=f"200 to the sent-by {sent_by}")
    final = final_of(link, req)
    if final is None:  # close the transaction at the source, for a clean target
        reply(down, got, 200)
        final_of(link, req, timeout=1.0)
    ctx.check(final is not None, f"the 200 sent to {sent_by} forwarded upstream", "none")
