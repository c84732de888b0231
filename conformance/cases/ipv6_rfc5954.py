"""IPv6 references in SIP (RFC 5954): the IPv6address and IPv4address rules of RFC 3986
replace those of RFC 3261, whose hexseq took any number of groups and whose IPv4address
took any three digits (``444.555.666.777``).  (Its extra colon before an embedded IPv4
address is not judged: RFC 5118 §4.10 asks receivers to tolerate it.)

Server roles: the runner's request carries an IPv6 reference as the sent-by of its top Via
(the response still reaches it over IPv4: the target adds ``received``, §18.2.2) -- the
RFC 3986 form is served and echoed, forms only RFC 3261's rules take are not served.  UAC
role: the runner's 2xx to the target's INVITE carries the IPv6 reference in a Record-Route
entry the ACK has to route by, and the ACK shows whether the target took it.  RFC 5952
text (§5) is judged on the IPv6 references a target generates itself: over an IPv6 target
(``udp:[::1]:5060``) its Contact, or the Via and Record-Route a proxy adds; an IPv4 target
generates none and is not applicable.
"""

from __future__ import annotations

import ipaddress
import re

from conformance.cases._proxy_support import arrives, downstream_uri, reply
from conformance.cases.transport_server import _Exchange
from conformance.cases.uac_dialog import CALLED, _Call, _routes
from conformance.messages import Outgoing
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.trigger import RUNNER_ANSWERS, UAC
from conformance.wire import Link

#: load order of the case modules (conformance.discovery)
ORDER = 84

SERVERS = ("uas", "registrar", "proxy", "redirect")
#: an IPv4-embedded IPv6 address as RFC 3986 writes it (two colons before the IPv4 part)
RFC3986 = "2001:db8::192.0.2.1"
#: hosts only RFC 3261's rules take: its IPv4address ("1*3DIGIT" each) and its hexseq (any
#: number of groups); RFC 5954 §4.1 takes both away
BAD_IPV4 = "444.555.666.777"
NINE_GROUPS = "2001:db8:0:0:0:0:0:0:1"


SDP = (
    b"v=0\r\no=tester 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\n"
    b"m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def _request(ctx: Context, link: Link, host: str) -> tuple[Outgoing, Message | None]:
    """An OPTIONS (through a proxy: toward a downstream socket, answered 200 there) whose
    top Via sent-by is ``host`` (an IPv6 address in brackets) with the link's port; its
    final response (None: none).  A target that answers INVITE only is not applicable."""
    exchange = _Exchange(ctx)
    req = exchange.request(link)
    port = link.sent_by.rsplit(":", 1)[1]
    via = req.get("Via") or ""
    host = host if host.startswith("[") or ("." in host and ":" not in host) else f"[{host}]"
    req.set("Via", via.replace(link.sent_by, f"{host}:{port}", 1))
    return req, exchange.send(link, req, timeout=1.0)


##= https://www.rfc-editor.org/rfc/rfc5954#section-4.1
##= type=test
##% Accordingly, this document updates RFC 3261 as follows:  the
##% <IPv6address> and <IPv4address> production rules from RFC 3261 MUST
##% NOT be used and instead, the production rules of the same name in RFC
##% 3986 (and reproduced above) MUST be used.
@case(
    "ipv6-reference-rfc3986",
    roles=SERVERS,
    no_control="the request differs from a plain one only in the Via sent-by judged",
)
def reference_rfc3986(ctx: Context) -> None:
    """A top Via sent-by ``[2001:db8::192.0.2.1]`` (RFC 3986's form of an IPv4-embedded
    IPv6 address): the request is served, not refused as malformed, and the response's
    Via carries the reference unchanged."""
    link = ctx.link()
    _, final = _request(ctx, link, RFC3986)
    final = ctx.require_final(final, "response to the OPTIONS")
    ctx.check(final.status != 400, "the request served (no 400)", describe(final))
    top = final.get("Via") or ""
    ctx.check(f"[{RFC3986}]" in top, f"the Via sent-by [{RFC3986}] echoed", top)


##= https://www.rfc-editor.org/rfc/rfc5954#section-4.1
##= type=test
##% Accordingly, this document updates RFC 3261 as follows:  the
##% <IPv6address> and <IPv4address> production rules from RFC 3261 MUST
##% NOT be used and instead, the production rules of the same name in RFC
##% 3986 (and reproduced above) MUST be used.
##= https://www.rfc-editor.org/rfc/rfc5954#section-4.1
##= type=test
##% This will render
##% <hexpart>, <hexseq>, and <hex4> production rules in RFC 3261
##% obsolete; as such, these three production rules -- namely, <hexpart>,
##% <hexseq>, and <hex4> -- from RFC 3261 MUST NOT be used.
@case("ipv6-reference-rfc3261-rules", roles=SERVERS)
def reference_rfc3261_rules(ctx: Context) -> None:
    """Top Via sent-bys that only RFC 3261's rules take -- ``444.555.666.777`` (its
    IPv4address) and ``[2001:db8:0:0:0:0:0:0:1]`` (nine groups: its hexseq) -- make the
    request malformed: not served (400 or dropped), while the same with
    ``[2001:db8::192.0.2.1]`` is (the control).  The extra colon of RFC 5954 §3.1 is left
    out: RFC 5118 §4.10 asks receivers to tolerate it."""
    link = ctx.link()

    def exchange() -> tuple[Message | None, bool]:
        _, final = _request(ctx, link, RFC3986)
        return final, final is not None and final.status != 400

    ctx.controlled("OPTIONS", exchange, f"the same with the Via sent-by [{RFC3986}]")
    for host, requirement in ((f"{BAD_IPV4}", 0), (f"[{NINE_GROUPS}]", 1)):
        _, final = _request(ctx, link, host)
        ctx.check(
            final is None or not 200 <= (final.status or 0) < 300,
            f"the request with the Via sent-by {host} not served (400 or dropped)",
            describe(final),
            requirement=requirement,
        )


def _canonical(text: str) -> bool:
    """Whether ``text`` (an IPv6 address, no brackets) is written as RFC 5952 §4 says:
    lower case, no leading zeros, the longest run of zero fields (two or more) shortened."""
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return text == address.compressed


def _references(msg: Message, *names: str) -> list[str]:
    found: list[str] = []
    for name in names:
        for value in msg.get_all(name):
            found += re.findall(r"\[([0-9A-Fa-f:.]+)\]", value)
    return found


##= https://www.rfc-editor.org/rfc/rfc5954#section-5
##= type=test
##% Implementers SHOULD generate IPv6 text representation as defined in
##% RFC 5952 [5].
@case(
    "ipv6-text-rfc5952",
    roles=SERVERS,
    level="SHOULD",
    no_control="judged on the target's own IPv6 references; an IPv4 target has none",
)
def text_rfc5952(ctx: Context) -> None:
    """Over an IPv6 target, the IPv6 references the target writes itself (the Contact of
    its response, the Via a proxy adds) are in RFC 5952's canonical text."""
    if ":" not in ctx.target.host:
        ctx.not_applicable("an IPv4 target writes no IPv6 reference of its own")
    link = ctx.link()
    req = ctx.request("OPTIONS", link)
    down = ctx.listener() if ctx.role == "proxy" else None
    if down is not None:
        req = ctx.request("OPTIONS", link, uri=downstream_uri(down))
        link.send(bytes(req))
        got = arrives(down, "OPTIONS", req.call_id, timeout=1.0)
        if got is None:
            ctx.inconclusive("the proxy did not forward the OPTIONS")
        assert got is not None
        reply(down, got, 200)
        mine = _references(got[0], "Via", "Record-Route")
        mine = [m for m in mine if m not in _references(req, "Via")]
    else:
        # a UAS answers an INVITE with its Contact (an OPTIONS answer may leave it out)
        invite = ctx.request("INVITE", link, body=SDP) if ctx.role == "uas" else req
        final, _ = ctx.transaction(link, invite, learn=False)
        final = ctx.require_final(final, f"response to the {invite.method}")
        if invite.method == "INVITE":
            ctx.finish_invite(link, invite, final)
        mine = _references(final, "Contact")
    if not mine:
        ctx.not_applicable("the target wrote no IPv6 reference of its own")
    for text in mine:
        ctx.check(_canonical(text), f"[{text}] in RFC 5952 text", text)


# --- the UAC role -------------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc5954#section-4.1
##= type=test
##% Accordingly, this document updates RFC 3261 as follows:  the
##% <IPv6address> and <IPv4address> production rules from RFC 3261 MUST
##% NOT be used and instead, the production rules of the same name in RFC
##% 3986 (and reproduced above) MUST be used.
@case(
    "uac-ipv6-reference-rfc3986",
    roles=UAC,
    timeout=15,
    preamble=CALLED.format(kind="invite"),
    no_control=RUNNER_ANSWERS,
)
def uac_reference_rfc3986(ctx: Context) -> None:
    """The 2xx's Record-Route names ``[2001:db8::192.0.2.1]`` (below the runner's own
    entry): the target takes the response and its ACK routes by both, the IPv6 reference
    unchanged."""
    call = _Call(ctx, "invite", [f"sip:[{RFC3986}];lr", "sip:rr@{hp};lr"])
    ack = call.ack("ACK for the 2xx")
    routes = _routes(ack)
    if not routes:
        ctx.inconclusive("the ACK has no Route: the target ignores Record-Route (§12.1.2)")
    ctx.check(f"sip:[{RFC3986}];lr" in routes, f"Route <sip:[{RFC3986}];lr>", str(routes))


##= https://www.rfc-editor.org/rfc/rfc5954#section-4.1
##= type=test
##% This will render
##% <hexpart>, <hexseq>, and <hex4> production rules in RFC 3261
##% obsolete; as such, these three production rules -- namely, <hexpart>,
##% <hexseq>, and <hex4> -- from RFC 3261 MUST NOT be used.
@case(
    "uac-ipv6-reference-nine-groups",
    roles=UAC,
    timeout=15,
    preamble=CALLED.format(kind="invite"),
    no_control="the well-formed 2xx sent after it is the control: it gets the ACK",
)
def uac_reference_nine_groups(ctx: Context) -> None:
    """A 2xx whose Record-Route names ``[2001:db8:0:0:0:0:0:0:1]`` (nine groups: only RFC
    3261's hexseq takes it) is malformed: no ACK follows it; the same 2xx with
    ``[2001:db8::192.0.2.1]`` then gets one."""
    call = _Call(ctx, "invite", [f"sip:[{NINE_GROUPS}];lr", "sip:rr@{hp};lr"])
    early = call.peer.request("ACK", max(1.0, 8 * ctx.profile.t1), call.invite.call_id)
    fixed = call.ok.replace(NINE_GROUPS.encode(), RFC3986.encode())
    call.peer.server.send(fixed, call.addr, "the same 2xx, well formed")
    late = early or call.peer.request("ACK", 3.0, call.invite.call_id)
    if late is None:
        ctx.inconclusive("no ACK for the well-formed 2xx either")
    assert late is not None
    if not _routes(late[0]):
        ctx.inconclusive("the ACK has no Route: the target ignores Record-Route (§12.1.2)")
    ctx.check(
        early is None,
        "no ACK for the 2xx with the malformed Record-Route",
        f"ACK with Route {_routes(early[0])}" if early else "",
    )


##= https://www.rfc-editor.org/rfc/rfc5954#section-5
##= type=test
##% Implementers SHOULD generate IPv6 text representation as defined in
##% RFC 5952 [5].
@case(
    "uac-ipv6-text-rfc5952",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble="an INVITE from the target ([uac] invite)",
    no_control="judged on the target's own IPv6 references; one over IPv4 has none",
)
def uac_text_rfc5952(ctx: Context) -> None:
    """The IPv6 references of the target's INVITE (its Via sent-by, Contact, From) are in
    RFC 5952's canonical text; a target calling over IPv4 writes none: not applicable."""
    from conformance.trigger import Peer

    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 486)
    mine = _references(invite, "Via", "Contact", "From")
    if not mine:
        ctx.not_applicable("the target wrote no IPv6 reference (it calls over IPv4)")
    for text in mine:
        ctx.check(_canonical(text), f"[{text}] in RFC 5952 text", text)
