"""Message well-formedness in every role: RFC 3261 §7 (message format), §19.1 (SIP URIs),
§19.3 (tags), §20 (header fields) and §25.1 (the basic rules).

The sending side: each battery case makes the target send a few messages (a UAS, registrar
or redirect server answers OPTIONS, REGISTER or INVITE; a UAC is triggered to call; a proxy
forwards a MESSAGE and an INVITE and relays the answers) and runs a handful of the rules of
`conformance.wellformed` on every message the target sent, read from the case's ladder.

The receiving side: messages that exercise what a recipient must cope with (header field
rows in any combination, compact forms, header fields out of their category, unknown
parameters), each after a control (the plain form of the same exchange).
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time

from conformance.cases._proxy_support import arrives, final_of, reply
from conformance.cases.proxy import control_through
from conformance.cases.redirect import control_redirect
from conformance.cases.registrar import Registration
from conformance.messages import Outgoing, ack_for, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message, param, parse_message, uri_host_port
from conformance.trigger import RUNNER_ANSWERS, Peer
from conformance.wellformed import RULES, Seen, judge, tag_problems
from conformance.wire import Event, Link

#: load order of the case modules (conformance.discovery)
ORDER = 80

ALL = ("uas", "registrar", "redirect", "proxy", "uac")
ENDPOINTS = ("uas", "registrar", "redirect")
#: why the battery cases need no control: they judge what the target sent, whatever it was
SENT = "judged on every message the target sent, whatever it answered: nothing confounds it"

_SDP = (
    b"v=0\r\no=tester 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


# --- making the target send messages -------------------------------------------------------------


def sent_by_target(ctx: Context) -> list[Seen]:
    """Every message the target sent in this case so far (from the ladder), once each."""
    out, seen = [], set()
    for event in ctx.ladder.events:
        if event.direction != "received" or event.data in seen:
            continue
        seen.add(event.data)
        msg = parse_message(event.data)
        if msg is not None:
            out.append(Seen(msg, event.transport))
    return out


def _uas_exchanges(ctx: Context) -> None:
    """OPTIONS (or the profile's probe) and, where the profile lists it, a call (INVITE,
    ACK, BYE) to the target's user."""
    link = ctx.link()
    probe = (ctx.profile.probe or "OPTIONS").upper()
    methods = {m.upper() for m in ctx.profile.methods} or {"OPTIONS", "INVITE"}
    for method in dict.fromkeys([probe, *(m for m in ("OPTIONS", "INVITE") if m in methods)]):
        req = ctx.request(method, link, body=_SDP if method == "INVITE" else b"")
        final, _ = ctx.transaction(link, req)
        if method == "INVITE":
            ctx.finish_invite(link, req, final)


def _registrar_exchanges(ctx: Context) -> None:
    """A REGISTER query (no Contact: changes nothing) and the probe."""
    link = ctx.link()
    # the REGISTER as it is: a challenge (401) is a message to judge as well as a 200
    ctx.transaction(link, Registration(ctx, link)._build(None, None, None, None))
    probe = (ctx.profile.probe or "OPTIONS").upper()
    if probe != "REGISTER":
        ctx.transaction(link, ctx.request(probe, link))


def _redirect_exchanges(ctx: Context) -> None:
    """An INVITE (redirected, ACKed) and an OPTIONS."""
    link = ctx.link()
    req = ctx.request("INVITE", link, body=_SDP)
    final, _ = ctx.transaction(link, req)
    ctx.finish_invite(link, req, final)
    ctx.transaction(link, ctx.request("OPTIONS", link))


def _proxy_exchanges(ctx: Context) -> None:
    """A MESSAGE and an INVITE through the proxy to a downstream socket of the runner's:
    the copies it forwards, its ACK of the 486, the answers it relays."""
    link, down = ctx.link(), ctx.listener()
    for method, status in (("MESSAGE", 200), ("INVITE", 486)):
        body = _SDP if method == "INVITE" else b"hello"
        req = ctx.request(
            method,
            link,
            uri=f"sip:downstream@{down.hostport}",
            body=body,
            content_type=None if method == "INVITE" else "text/plain",
        )
        link.send(bytes(req), method)
        got = arrives(down, method, req.call_id)
        if got is None:
            final = final_of(link, req, timeout=1.0)
            ctx.inconclusive(f"the proxy did not forward the {method} ({describe(final)})")
        assert got is not None
        reply(down, got, status)
        final = final_of(link, req)
        if method == "INVITE" and final is not None:
            link.send(bytes(ack_for(req, final, ctx.target)), "ACK")
            down.expect(lambda m: m.method == "ACK", timeout=0.5)


def _uac_exchanges(ctx: Context) -> None:
    """A call from the target: INVITE answered 180 and 200, its ACK, and the BYE ending it
    (the [uac] bye command; with only an invite command the INVITE is turned down, 486)."""
    kind = "bye" if ctx.profile.triggers.get("bye") else "invite"
    peer = Peer(ctx, kind)
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 180)
    if kind == "bye":
        peer.answer(invite, addr, 200)
        peer.expect(lambda m: m.method == "ACK", timeout=2.0)
        bye = peer.request("BYE", timeout=4.0, call_id=invite.call_id)
        if bye is not None:
            peer.ok(*bye)
    else:
        peer.answer(invite, addr, 486)
        peer.expect(lambda m: m.method == "ACK", timeout=2.0)


EXCHANGES = {
    "uas": _uas_exchanges,
    "registrar": _registrar_exchanges,
    "redirect": _redirect_exchanges,
    "proxy": _proxy_exchanges,
    "uac": _uac_exchanges,
}


#: the exchanges the first battery case of a run made, reused by the other battery cases of
#: that run (a UAC wave would otherwise start one call per case): role, target -> (the
#: run's set of silent methods, which identifies the run; the case; its ladder's events)
_GATHERED: dict[tuple[str, str, str], tuple[set[str], str, list[Event]]] = {}
#: battery cases running side by side (runner --jobs): the first gathers, the others wait
_GATHERING = threading.Lock()


def gathered(ctx: Context) -> list[Seen]:
    """The preamble of the battery cases: the target made to send messages in its role (or
    the messages an earlier battery case of the run made it send, copied into this case's
    ladder: the evidence stays with every verdict)."""
    with _GATHERING:
        return _gathered(ctx)


def _gathered(ctx: Context) -> list[Seen]:
    key = (ctx.role, ctx.target.hostport, ctx.target.transport)
    cached = _GATHERED.get(key)
    if cached is not None and cached[0] is ctx.silent_methods:
        _, by, events = cached
        ctx.ladder.events += [dataclasses.replace(e, note=f"{e.note} [by {by}]") for e in events]
        ctx.preamble_outcome = f"ok: the messages {by} made the target send"
        ctx.notes.append(f"the exchanges of {by} (same run), judged again")
        return sent_by_target(ctx)
    with ctx.preamble(f"messages from the target as {ctx.role}"):
        EXCHANGES[ctx.role](ctx)
        seen = sent_by_target(ctx)
        if not seen:
            ctx.inconclusive("the target sent nothing")
    _GATHERED[key] = (ctx.silent_methods, ctx.case.id, list(ctx.ladder.events))
    return seen


def battery(ctx: Context, rules: list[tuple[str, int]], must: bool = True) -> None:
    """Run each named rule on every message the target sent; a problem fails the rule's
    requirement (``must``), or is a warning (a SHOULD case: every rule still runs)."""
    seen = gathered(ctx)
    if ctx.role == "proxy":
        # what a proxy forwards is the runner's request with the proxy's changes: the
        # header fields a UAC SHOULD send (m*) are not the proxy's to add
        rules = [(n, r) for n, r in rules if n != "should-send"]
    found = [(RULES[name], requirement, *judge(RULES[name], seen)) for name, requirement in rules]
    ctx.notes.append(f"{len(seen)} messages from the target judged")
    quiet = [rule.name for rule, _, _, looked in found if not looked]
    if quiet:
        ctx.notes.append("nothing to judge for: " + ", ".join(dict.fromkeys(quiet)))
    for rule, requirement, problems, _ in found:
        observed = "; ".join(problems[:3]) + (
            f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        )
        if must:
            ctx.check(not problems, rule.expected, observed, requirement=requirement)
        else:
            ctx.should(not problems, rule.expected, observed)


# === the sending side: the battery ===============================================================


##= https://www.rfc-editor.org/rfc/rfc3261#section-7
##= type=test
##% The start-line, each message-header line, and the empty line MUST be terminated by a
##% carriage-return line-feed sequence (CRLF).
##= https://www.rfc-editor.org/rfc/rfc3261#section-7
##= type=test
##% Note that the empty line MUST be present even if the message-body is not.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.1
##= type=test
##% To be compliant with this specification, applications sending SIP messages MUST include
##% a SIP-Version of "SIP/2.0".
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.1
##= type=test
##% The SIP-Version string is case-insensitive, but implementations MUST send upper-case.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.1
##= type=test
##% The Request-URI MUST NOT contain unescaped spaces or control characters and MUST NOT be
##% enclosed in "<>".
@case("wellformed-framing", roles=ALL, timeout=20, no_control=SENT)
def framing(ctx: Context) -> None:
    """Every message ends its lines with CRLF, has the empty line, and says SIP/2.0."""
    battery(
        ctx,
        [
            ("crlf", 0),
            ("empty-line", 1),
            ("sip-version", 2),
            ("sip-version-upper", 3),
            ("request-uri", 4),
        ],
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.14
##= type=test
##% If no body is present in a message, then the Content-Length header field value MUST be
##% set to zero.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.14
##= type=test
##% If a stream-based protocol (such as TCP) is used as transport, the header field MUST be
##% used.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% If a stream-based protocol (such as TCP) is used as a transport, then the header field
##% MUST be sent.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.15
##= type=test
##% The Content-Type header field MUST be present if the body is not empty.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.4.1
##= type=test
##% The Internet media type of the message body MUST be given by the Content-Type header
##% field.
@case("wellformed-body-length-type", roles=ALL, timeout=20, no_control=SENT)
def body_length_type(ctx: Context) -> None:
    """Content-Length is 0 without a body (and always there over TCP); a body has a type."""
    battery(
        ctx,
        [
            ("length-zero", 0),
            ("length-stream", 1),
            ("length-stream", 2),
            ("content-type", 3),
            ("content-type", 4),
        ],
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.4.1
##= type=test
##% If the body has undergone any encoding such as compression, then this MUST be indicated
##% by the Content-Encoding header field; otherwise, Content-Encoding MUST be omitted.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.12
##= type=test
##% When present, its value indicates what additional content codings have been applied to
##% the entity-body, and thus what decoding mechanisms MUST be applied in order to obtain the
##% media-type referenced by the Content-Type header field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.12
##= type=test
##% If multiple encodings have been applied to an entity-body, the content codings MUST be
##% listed in the order in which they were applied.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.4.2
##= type=test
##% The "chunked" transfer encoding of HTTP/1.1 MUST NOT be used for SIP.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.16
##= type=test
##% The sequence number MUST be expressible as a 32-bit unsigned integer.
@case("wellformed-encoding-cseq", roles=ALL, timeout=20, no_control=SENT)
def encoding_cseq(ctx: Context) -> None:
    """Content-Encoding only for an encoded body, no chunked coding, a 32-bit CSeq."""
    battery(
        ctx,
        [
            ("content-encoding", 0),
            ("content-encoding", 1),
            ("content-encoding", 2),
            ("no-chunked", 3),
            ("cseq-32bit", 4),
        ],
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% but since their grammar does not follow the general form listed in Section 7.3, they
##% MUST NOT be combined into a single header field row.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.7
##= type=test
##% Although not a comma-separated list, this header field name may be present multiple
##% times, and MUST NOT be combined into a single header line using the usual rules described
##% in Section 7.3.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.28
##= type=test
##% Although not a comma-separated list, this header field name may be present multiple
##% times, and MUST NOT be combined into a single header line using the usual rules described
##% in Section 7.3.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% Even though an arbitrary number of parameter pairs may be attached to a header field
##% value, any given parameter-name MUST NOT appear more than once.
##= https://www.rfc-editor.org/rfc/rfc3261#section-25.1
##= type=test
##% These special characters MUST be in a quoted string to be used within a parameter value.
@case("wellformed-header-rows", roles=ALL, timeout=20, no_control=SENT)
def header_rows(ctx: Context) -> None:
    """Challenges and credentials one per row; no parameter twice; specials quoted."""
    battery(
        ctx,
        [
            ("auth-rows", 0),
            ("authorization-rows", 1),
            ("proxy-authorization-rows", 2),
            ("header-params-unique", 3),
            ("quoted-params", 4),
        ],
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##= type=test
##% URIs MUST NOT contain unescaped space and control characters.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##= type=test
##% Excluded US-ASCII characters (RFC 2396 [5]), such as space and control characters and
##% characters used as URI delimiters, also MUST be escaped.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##= type=test
##% All other characters MUST be escaped.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##= type=test
##% Any characters occurring in a telephone-subscriber that do not appear in an expansion of
##% the BNF for the user rule MUST be escaped.
##= https://www.rfc-editor.org/rfc/rfc3261#section-25.1
##= type=test
##% Note, however, that any characters allowed there that are not allowed in the user part of
##% the SIP URI MUST be escaped.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##= type=test
##% Expanding the hname and hvalue tokens in Section 25 show that all URI reserved characters
##% in header field names and values MUST be escaped.
@case("wellformed-uri-escaping", roles=ALL, timeout=20, no_control=SENT)
def uri_escaping(ctx: Context) -> None:
    """Every URI the target writes escapes what its grammar does not allow."""
    battery(
        ctx,
        [
            ("uri-spaces", 0),
            ("uri-escaped", 1),
            ("uri-escaped", 2),
            ("user-escaped", 3),
            ("user-escaped", 4),
            ("uri-headers-escaped", 5),
        ],
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% If the @ sign is present in a SIP or SIPS URI, the user field MUST NOT be empty.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% Even though an arbitrary number of URI parameters may be included in a URI, any given
##% parameter-name MUST NOT appear more than once.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% For a SIPS URI, the transport parameter MUST indicate a reliable transport.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% The ttl parameter determines the time-to-live value of the UDP multicast packet and MUST
##% only be used if maddr is a multicast address and the transport protocol is UDP.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.2
##= type=test
##% All SIP implementations MUST support the SIP URI scheme.
@case("wellformed-uri-parts", roles=ALL, timeout=20, no_control=SENT)
def uri_parts(ctx: Context) -> None:
    """URIs: a user before @, parameters once, SIPS reliable, ttl only for multicast."""
    battery(
        ctx,
        [
            ("user-not-empty", 0),
            ("uri-params-unique", 1),
            ("sips-reliable", 2),
            ("ttl-multicast", 3),
        ],
    )
    # the exchanges used sip: URIs throughout: none was refused with 416 (§8.1.1.2)
    refused = [s.msg for s in sent_by_target(ctx) if s.msg.status == 416]
    ctx.check(
        not refused, "the sip: scheme supported", describe(refused[0] if refused else None), 4
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% If the URI contains a comma, question mark or semicolon, the URI MUST be enclosed in angle
##% brackets (< and >).
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.10
##= type=test
##% Even if the "display-name" is empty, the "name-addr" form MUST be used if the "addr-spec"
##% contains a comma, semicolon, or question mark.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.20
##= type=test
##% Even if the "display-name" is empty, the "name-addr" form MUST be used if the "addr-spec"
##% contains a comma, question mark, or semicolon.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.31
##= type=test
##% Even if the "display-name" is empty, the "name-addr" form MUST be used if the "addr-spec"
##% contains a comma, question mark, or semicolon.
@case("wellformed-name-addr", roles=ALL, timeout=20, no_control=SENT)
def name_addr(ctx: Context) -> None:
    """Contact, From, To and Reply-To URIs with , ? or ; are written inside <>."""
    battery(
        ctx,
        [
            ("name-addr", 0),
            ("name-addr-contact", 1),
            ("name-addr-from", 2),
            ("name-addr-reply-to", 3),
        ],
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% A "mandatory" header field MUST be present in a request, and MUST be understood by the
##% UAS receiving the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% A mandatory response header field MUST be present in the response, and the header field
##% MUST be understood by the UAC processing the response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% "Not applicable" means that the header field MUST NOT be present in a request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% Similarly, a header field labeled "not applicable" for a response means that the UAS MUST
##% NOT place the header field in the response, and the UAC MUST ignore the header field in
##% the response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.42
##= type=test
##% For implementations compliant to this specification, the value of the branch parameter
##% MUST start with the magic cookie "z9hG4bK", as discussed in Section 8.1.1.7.
@case("wellformed-header-table", roles=ALL, timeout=20, no_control=SENT)
def header_table(ctx: Context) -> None:
    """Header fields as Tables 2 and 3 ask: mandatory ones present, inapplicable ones not."""
    requests = [s for s in gathered(ctx) if not s.msg.is_response]
    responses = [s for s in sent_by_target(ctx) if s.msg.is_response]
    for seen, requirement in ((requests, 0), (responses, 1)):
        problems, _ = judge(RULES["mandatory"], seen)
        ctx.check(not problems, RULES["mandatory"].expected, "; ".join(problems[:3]), requirement)
    for seen, requirement in ((requests, 2), (responses, 3)):
        problems, _ = judge(RULES["not-applicable"], seen)
        ctx.check(
            not problems, RULES["not-applicable"].expected, "; ".join(problems[:3]), requirement
        )
    problems, _ = judge(RULES["magic-cookie"], requests)
    ctx.check(not problems, RULES["magic-cookie"].expected, "; ".join(problems[:3]), 4)


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.5
##= type=test
##% All methods, including ACK and CANCEL, understood by the UA MUST be included in the list
##% of methods in the Allow header field, when present.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.32
##= type=test
##% A UAC compliant to this specification MUST only include option tags corresponding to
##% standards-track RFCs.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.37
##= type=test
##% A UA compliant to this specification MUST only include option tags corresponding to
##% standards-track RFCs.
@case(
    "wellformed-capabilities",
    roles=("uas", "uac", "registrar", "redirect"),
    timeout=20,
    no_control=SENT,
)
def capabilities(ctx: Context) -> None:
    """Allow lists ACK and CANCEL beside INVITE; Require/Supported tags are registered ones."""
    battery(ctx, [("allow-lists", 0), ("require-tags", 1), ("supported-tags", 2)])


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% However, it is RECOMMENDED that header fields which are needed for proxy processing (Via,
##% Route, Record-Route, Proxy-Require, Max-Forwards, and Proxy-Authorization, for example)
##% appear towards the top of the message to facilitate rapid parsing.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.14
##= type=test
##% Applications SHOULD use this field to indicate the size of the message-body to be
##% transferred, regardless of the media type of the entity.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% t: The header field SHOULD be sent, but clients/servers need to be prepared to receive
##% messages without that header field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% m*: The header field SHOULD be sent, but clients/servers need to be prepared to receive
##% messages without that header field.
@case("wellformed-recommended-fields", roles=ALL, level="SHOULD", timeout=20, no_control=SENT)
def recommended_fields(ctx: Context) -> None:
    """Proxy header fields near the top; Content-Length right; the m* header fields sent."""
    battery(
        ctx,
        [("proxy-fields-first", 0), ("length-right", 1), ("t-send", 2), ("should-send", 3)],
        must=False,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% While the SIP and SIPS URI syntax allows this field to be present, its use is NOT
##% RECOMMENDED, because the passing of authentication information in clear text (such as
##% URIs) has proven to be a security risk in almost every case where it has been used.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% If the user string contains a telephone number formatted as a telephone-subscriber, the
##% user parameter value "phone" SHOULD be present.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.6
##= type=test
##% To mitigate this problem, elements constructing telephone-subscriber fields to place in
##% the userinfo part of a SIP or SIPS URI SHOULD fold any case-insensitive portion of
##% telephone-subscriber to lower case, and order the telephone-subscriber parameters
##% lexically by parameter name, excepting isdn-subaddress and post-dial, which occur first
##% and in that order.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.20
##= type=test
##% A system SHOULD use the display name "Anonymous" if the identity of the client is to
##% remain hidden.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.31
##= type=test
##% If the user wished to remain anonymous, the header field SHOULD either be omitted from the
##% request or populated in such a way that does not reveal any private information.
@case("wellformed-recommended-uris", roles=ALL, level="SHOULD", timeout=20, no_control=SENT)
def recommended_uris(ctx: Context) -> None:
    """No passwords in URIs; user=phone and lower case for numbers; anonymity kept."""
    battery(
        ctx,
        [
            ("no-password", 0),
            ("user-phone", 1),
            ("phone-lower", 2),
            ("anonymous-display", 3),
            ("anonymous-reply-to", 4),
        ],
        must=False,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.3
##= type=test
##% When a tag is generated by a UA for insertion into a request or response, it MUST be
##% globally unique and cryptographically random with at least 32 bits of randomness.
@case("wellformed-tags", roles=("uas", "uac"), timeout=30, no_control=SENT)
def tags(ctx: Context) -> None:
    """Tags from three dialogs are distinct and long enough for 32 random bits."""
    found: list[str] = []
    with ctx.preamble("three requests answered (UAS) or sent (UAC) by the target"):
        if ctx.role == "uac":
            kind = "options" if ctx.profile.triggers.get("options") else "invite"
            method = kind.upper()
            for _ in range(2):
                peer = Peer(ctx, kind)
                request, addr = peer.first(method)
                peer.answer(request, addr, 486 if method == "INVITE" else 200, contact=False)
                found.append(param(request.get("From") or "", "tag") or "")
                peer.close()
        else:
            link = ctx.link()
            method = (ctx.profile.probe or "OPTIONS").upper()
            for _ in range(3):
                req = ctx.request(method, link, body=_SDP if method == "INVITE" else b"")
                final, _ = ctx.transaction(link, req)
                final = ctx.require_final(final, f"final response to {method}")
                if method == "INVITE":
                    ctx.finish_invite(link, req, final)
                found.append(final.to_tag or "")
    problems = tag_problems(found)
    ctx.check(not problems, "distinct tags of 32 random bits or more", "; ".join(problems))


# === the receiving side ==========================================================================


def _endpoint_request(ctx: Context, link: Link) -> Outgoing:
    """The plain request of the endpoint roles: OPTIONS (the profile's probe) to a UAS, a
    REGISTER query to a registrar, an INVITE to a redirect server."""
    if ctx.role == "registrar":
        reg = Registration(ctx, link)
        return reg._build(None, None, None, None)
    if ctx.role == "redirect":
        return ctx.request("INVITE", link)
    method = (ctx.profile.probe or "OPTIONS").upper()
    return ctx.request(method, link, body=_SDP if method == "INVITE" else b"")


def _accepted(ctx: Context, final: Message | None) -> bool:
    status = final.status or 0 if final is not None else 0
    return 300 <= status < 400 if ctx.role == "redirect" else 200 <= status < 300


def _endpoint_control(ctx: Context, link: Link) -> Message:
    req = _endpoint_request(ctx, link)
    if ctx.role == "redirect":
        return control_redirect(ctx, link)
    if ctx.role == "registrar":

        def exchange() -> tuple[Message | None, bool]:
            final, _ = ctx.transaction(link, req, note="control", learn=False)
            return final, _accepted(ctx, final)

        return ctx.controlled("REGISTER", exchange, "the control REGISTER (a query)")
    return ctx.control(link, req)


def _endpoint_exchange(ctx: Context, link: Link, req: Outgoing | bytes, method: str) -> Message:
    """Send the varied request (an `Outgoing`, or raw bytes); its final response."""
    if isinstance(req, Outgoing):
        final, _ = ctx.transaction(link, req, learn=False)
        if method == "INVITE":
            ctx.finish_invite(link, req, final)
        return ctx.require_final(final, f"final response to the {method}")
    data = req
    branch = re.search(rb"branch=([^;,\s]+)", data)
    link.send(data)
    final = link.expect(
        lambda m: (
            m.is_response
            and (m.status or 0) >= 200
            and m.branch == (branch[1].decode() if branch else None)
        ),
        timeout=max(1.0, 6 * ctx.profile.t1),
        retransmit=None if ctx.target.reliable else (lambda: link.send(data)),
        interval=ctx.profile.t1,
    )
    return ctx.require_final(final, f"final response to the {method}")


def _expect_accepted(ctx: Context, final: Message, what: str, requirement: int = 0) -> None:
    kind = "a 3xx" if ctx.role == "redirect" else "a 2xx"
    ctx.check(
        _accepted(ctx, final), f"{kind}, as the control got: {what}", describe(final), requirement
    )


def _strip_via(value: str) -> str:
    return re.sub(r"\s*;\s*(received|rport)(=[^;,]*)?", "", value).replace(" ", "").lower()


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% Implementations MUST be able to process multiple header field rows with the same name in
##% any combination of the single-value-per-line or comma-separated value forms.
@case("wellformed-rows-received", roles=ENDPOINTS, timeout=20)
def rows_received(ctx: Context) -> None:
    """Via and Supported given in several rows, comma-joined or not, are all processed."""
    link = ctx.link()
    _endpoint_control(ctx, link)
    method = _endpoint_request(ctx, link).method
    second = f"SIP/2.0/UDP 127.0.0.1:9;branch={unique('z9hG4bK')}"
    third = f"SIP/2.0/UDP 127.0.0.1:7;branch={unique('z9hG4bK')}"
    for joined in (True, False):
        req = _endpoint_request(ctx, link)
        top = req.get("Via") or ""
        vias = [top, second, third]
        at = next(i for i, (n, _) in enumerate(req.headers) if n == "Via")
        if joined:  # "Via: top, second" then "Via: third"
            req.headers[at : at + 1] = [("Via", f"{top}, {second}"), ("Via", third)]
        else:  # "Via: top" then "Via: second, third"
            req.headers[at : at + 1] = [("Via", top), ("Via", f"{second},{third}")]
        req.add("Accept", "application/sdp")
        req.add("Accept", "text/plain, application/pidf+xml")
        final = _endpoint_exchange(ctx, link, req, method)
        form = "joined rows" if joined else "single then joined rows"
        _expect_accepted(ctx, final, form)
        got = [_strip_via(v) for v in final.get_all("Via")]
        want = [_strip_via(v) for v in vias]
        ctx.check(got == want, f"the three Via values back in order ({form})", " | ".join(got))


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.2
##= type=test
##% If a header field appears in a message not matching its category (such as a request
##% header field in a response), it MUST be ignored.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% If one is placed in a request by mistake, it MUST be ignored by the UAS receiving the
##% request.
@case("wellformed-wrong-category-ignored", roles=ENDPOINTS, timeout=20)
def wrong_category_ignored(ctx: Context) -> None:
    """A request carrying response header fields (Unsupported, Min-Expires, Warning, Server,
    Error-Info) is processed as the control was."""
    link = ctx.link()
    _endpoint_control(ctx, link)
    req = _endpoint_request(ctx, link)
    for name, value in (
        ("Unsupported", "x-wellformed-ext"),
        ("Min-Expires", "7200"),
        ("Warning", '399 runner.invalid "ignore me"'),
        ("Server", "wellformed-runner"),
        ("Error-Info", "<sip:not-an-error@127.0.0.1>"),
    ):
        req.add(name, value)
    final = _endpoint_exchange(ctx, link, req, req.method)
    _expect_accepted(ctx, final, "the response header fields ignored")


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% Since the uri-parameter mechanism is extensible, SIP elements MUST silently ignore any
##% uri-parameters that they do not understand.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% A UA SHOULD ignore extension header parameters that are not understood.
@case("wellformed-unknown-parameters", roles=ENDPOINTS, timeout=20)
def unknown_parameters(ctx: Context) -> None:
    """Unknown URI parameters (Request-URI, To) and header parameters (To, From, Via) are
    ignored: the request is processed as the control was."""
    link = ctx.link()
    _endpoint_control(ctx, link)
    req = _endpoint_request(ctx, link)
    req.uri = req.uri + ";x-wf-unknown=1"
    to = req.get("To") or ""
    uri = to.split("<", 1)[1].split(">", 1)[0] if "<" in to else to
    req.set("To", f"<{uri};x-wf-uri=2>;x-wf-to=3")
    req.set("From", (req.get("From") or "") + ";x-wf-from=4")
    req.set("Via", (req.get("Via") or "") + ";x-wf-via=5")
    final = _endpoint_exchange(ctx, link, req, req.method)
    _expect_accepted(ctx, final, "unknown parameters ignored")


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% Elements processing URIs SHOULD ignore any disallowed components if they are present.
@case("wellformed-disallowed-uri-components", roles=ENDPOINTS, level="SHOULD", timeout=20)
def disallowed_components(ctx: Context) -> None:
    """A To URI with maddr, ttl and lr (Table 1 disallows them there) is processed as the
    control was."""
    link = ctx.link()
    _endpoint_control(ctx, link)
    req = _endpoint_request(ctx, link)
    to = req.get("To") or ""
    uri = to.split("<", 1)[1].split(">", 1)[0] if "<" in to else to
    req.set("To", f"<{uri};maddr=127.0.0.1;ttl=1;lr;method=INVITE>")
    final = _endpoint_exchange(ctx, link, req, req.method)
    _expect_accepted(ctx, final, "the disallowed URI parameters ignored")


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.12
##= type=test
##% The server MUST only use encodings listed in the Accept-Encoding header field in the
##% request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.2
##= type=test
##% If no Accept-Encoding header field is present, the server SHOULD assume a default value of
##% identity.
@case("wellformed-accept-encoding", roles=ENDPOINTS, timeout=20)
def accept_encoding(ctx: Context) -> None:
    """With Accept-Encoding: identity, and without Accept-Encoding, no response is encoded."""
    link = ctx.link()
    _endpoint_control(ctx, link)
    for value, requirement in (("identity", 0), (None, 1)):
        req = _endpoint_request(ctx, link)
        if value is not None:
            req.add("Accept-Encoding", value)
        final = _endpoint_exchange(ctx, link, req, req.method)
        codings = [c.lower() for c in final.get_all("Content-Encoding") if c.strip()]
        ctx.check(
            set(codings) <= {"identity"},
            "no content coding but identity",
            f"Content-Encoding: {', '.join(codings)}",
            requirement,
            level="" if requirement == 0 else "SHOULD",
        )


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.1
##= type=test
##% The semantics are also identical, with the exception that if no Accept header field is
##% present, the server SHOULD assume a default value of application/sdp.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.3
##= type=test
##% If no Accept-Language header field is present, the server SHOULD assume all languages are
##% acceptable to the client.
@case("wellformed-accept-defaults", roles=("uas",), level="SHOULD", timeout=20)
def accept_defaults(ctx: Context) -> None:
    """A request without Accept and Accept-Language is answered (no 406), any body as SDP."""
    link = ctx.link()
    _endpoint_control(ctx, link)
    req = _endpoint_request(ctx, link)
    req.set("Accept", None)
    req.set("Accept-Language", None)
    final = _endpoint_exchange(ctx, link, req, req.method)
    ctx.check(final.status != 406, "no 406 (Not Acceptable)", describe(final), 1)
    ctype = (final.get("Content-Type") or "application/sdp").split(";")[0].strip().lower()
    ctx.check(not final.body or ctype == "application/sdp", "a body of application/sdp", ctype, 0)


# --- the UAC role: responses the UAC must cope with ----------------------------------------------


def _uac_call(
    ctx: Context, headers: list[str], to_params: str = "", contact: str = "", compact: bool = False
) -> tuple[Peer, Message, Message | None]:
    """Trigger a call, answer it 200 with extra ``headers`` (compact names with
    ``compact``); the INVITE and the ACK that came for the 2xx (None: none came)."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    vias = invite.get_all("Via")
    to = (invite.get("To") or "") + f";tag={peer.tag}{to_params}"
    names = {
        "Via": "v",
        "From": "f",
        "To": "t",
        "Call-ID": "i",
        "Contact": "m",
        "Content-Type": "c",
        "Content-Length": "l",
        "Supported": "k",
    }
    body = b"v=0\r\no=runner 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    body += b"m=audio 49170 RTP/AVP 0\r\n"
    lines = [("Via", v) for v in vias] + [
        ("From", invite.get("From") or ""),
        ("To", to),
        ("Call-ID", invite.call_id),
        ("CSeq", invite.get("CSeq") or ""),
        ("Contact", (contact or "<sip:uas@{hostport}>").format(hostport=peer.server.hostport)),
    ]
    lines += [tuple(h.split(": ", 1)) for h in headers]  # type: ignore[misc]
    lines += [("Content-Type", "application/sdp"), ("Content-Length", str(len(body)))]
    text = "SIP/2.0 200 OK\r\n" + "".join(
        f"{names.get(n, n) if compact else n}: {v}\r\n" for n, v in lines
    )
    data = text.encode() + b"\r\n" + body
    peer.send(data, addr, "200 (OK)")
    ack = None
    end = time.monotonic() + 3.0
    interval = max(0.05, ctx.profile.t1)
    while ack is None and time.monotonic() < end:
        got = peer.expect(
            lambda m: m.method in ("ACK", "INVITE") and m.call_id == invite.call_id,
            timeout=interval,
        )
        if got is None:
            # the 2xx retransmitted as Timer G would (§13.3.1.4): T1 doubling up to 4 s
            interval = min(2 * interval, 4.0)
            peer.send(data, addr, "200 (OK) retransmitted")
            continue
        if got[0].method == "ACK":
            ack = got[0]
        else:
            peer.send(data, addr, "200 (OK) again")
    return peer, invite, ack


def _ack_matches(ack: Message | None, peer: Peer) -> bool:
    return ack is not None and ack.to_tag == peer.tag


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% Implementations MUST be able to process multiple header field rows with the same name in
##% any combination of the single-value-per-line or comma-separated value forms.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.3
##= type=test
##% Implementations MUST accept both the long and short forms of each header name.
@case("wellformed-uac-compact-rows", roles=("uac",), timeout=20, no_control=RUNNER_ANSWERS)
def uac_compact_rows(ctx: Context) -> None:
    """A 200 written in compact header names, Supported and Allow in several rows, is ACKed
    with its To tag."""
    peer, _invite, ack = _uac_call(
        ctx,
        [
            "Allow: INVITE, ACK",
            "Allow: BYE, CANCEL",
            "Allow: OPTIONS",
            "Supported: timer",
            "Supported: 100rel, replaces",
        ],
        compact=True,
    )
    ctx.check(
        _ack_matches(ack, peer),
        f"an ACK with To tag {peer.tag}",
        ack.get("To") or "" if ack else "no ACK",
        1,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.2
##= type=test
##% If a header field appears in a message not matching its category (such as a request
##% header field in a response), it MUST be ignored.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% Similarly, a header field labeled "not applicable" for a response means that the UAS MUST
##% NOT place the header field in the response, and the UAC MUST ignore the header field in
##% the response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% A UA SHOULD ignore extension header parameters that are not understood.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% Since the uri-parameter mechanism is extensible, SIP elements MUST silently ignore any
##% uri-parameters that they do not understand.
@case("wellformed-uac-ignores", roles=("uac",), timeout=20, no_control=RUNNER_ANSWERS)
def uac_ignores(ctx: Context) -> None:
    """A 200 with request header fields (Max-Forwards: 0, Proxy-Require, Subject), unknown
    header and URI parameters is ACKed to its Contact all the same."""
    peer, _invite, ack = _uac_call(
        ctx,
        [
            "Max-Forwards: 0",
            "Proxy-Require: x-wellformed-unknown",
            "Subject: ignore me",
            "In-Reply-To: nothing@runner.invalid",
        ],
        to_params=";x-wf-to=1",
        contact="<sip:uas@{hostport};x-wf-unknown=1>;x-wf-contact=2",
    )
    ctx.check(_ack_matches(ack, peer), f"an ACK with To tag {peer.tag}", describe(ack))
    assert ack is not None
    # the ACK of a 2xx goes to the Contact URI (§13.2.2.4): the unknown parameter may stay
    # or go, the URI must still be the Contact's
    host, port = uri_host_port(ack.uri)
    ctx.check(
        f"{host}:{port}" == peer.server.hostport,
        f"an ACK to the Contact's {peer.server.hostport}",
        ack.uri,
        3,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.43
##= type=test
##% A system receiving this warning MUST NOT take any automated action.
@case("wellformed-uac-warning-no-action", roles=("uac",), timeout=20, no_control=RUNNER_ANSWERS)
def uac_warning(ctx: Context) -> None:
    """A 200 with a Warning (399) is ACKed and the call stays up: no BYE, CANCEL or new
    INVITE follows within a second."""
    peer, invite, ack = _uac_call(ctx, ['Warning: 399 runner.invalid "no action wanted"'])
    ctx.check(_ack_matches(ack, peer), "an ACK of the 200", "no ACK")
    acted = peer.expect(
        lambda m: m.method in ("BYE", "CANCEL", "INVITE") and m.call_id == invite.call_id,
        timeout=1.0,
    )
    ctx.check(acted is None, "no request within 1 s", describe(acted[0]) if acted else "")


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.5
##= type=test
##% The absence of an Allow header field MUST NOT be interpreted to mean that the UA sending
##% the message supports no methods.
@case("wellformed-uac-no-allow", roles=("uac",), timeout=20, no_control=RUNNER_ANSWERS)
def uac_no_allow(ctx: Context) -> None:
    """After a 200 without Allow the UAC still sends BYE to hang up ([uac] bye)."""
    if not ctx.profile.triggers.get("bye"):
        ctx.not_applicable("the profile has no [uac] bye command")
    peer = Peer(ctx, "bye")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 200)  # the runner's 200 carries no Allow
    peer.expect(lambda m: m.method == "ACK", timeout=2.0)
    bye = peer.request("BYE", timeout=5.0, call_id=invite.call_id)
    if bye is not None:
        peer.ok(*bye)
    ctx.check(bye is not None, "a BYE ending the call", "none within 5 s")


# --- the proxy role: what a proxy must forward as it is ------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% Implementations MUST be able to process multiple header field rows with the same name in
##% any combination of the single-value-per-line or comma-separated value forms.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.3
##= type=test
##% Implementations MUST accept both the long and short forms of each header name.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.7
##= type=test
##% Although not a comma-separated list, this header field name may be present multiple
##% times, and MUST NOT be combined into a single header line using the usual rules described
##% in Section 7.3.
@case("wellformed-proxy-rows", roles=("proxy",), timeout=20)
def proxy_rows(ctx: Context) -> None:
    """A MESSAGE in compact names, with a second Via and two Authorization rows, is forwarded
    with every Via and each Authorization on a row of its own."""
    link, down = ctx.link(), ctx.listener()
    control_through(ctx, link, down)
    req = ctx.request("MESSAGE", link, uri=f"sip:downstream@{down.hostport}")
    second = f"SIP/2.0/UDP 127.0.0.1:9;branch={unique('z9hG4bK')}"
    top = req.get("Via") or ""
    req.set("Via", f"{top}, {second}")
    plain = Outgoing(req.method, req.uri, list(req.headers))  # the long names, to match on
    req.add(
        "Authorization",
        'Digest username="a", realm="one.invalid", nonce="1", uri="sip:x", response="00"',
    )
    req.add(
        "Authorization",
        'Digest username="b", realm="two.invalid", nonce="2", uri="sip:x", response="11"',
    )
    short = {"via": "v", "from": "f", "to": "t", "call-id": "i", "content-type": "c"}
    req.headers = [(short.get(n.lower(), n), v) for n, v in req.headers]
    req.body = b"hello"
    req.add("c", "text/plain")
    data = bytes(req).replace(b"\r\nContent-Length:", b"\r\nl:")
    link.send(data, "compact MESSAGE")
    got = arrives(down, "MESSAGE", plain.call_id)
    if got is None:
        final = final_of(link, plain, timeout=1.0)
        ctx.fail("the compact-form MESSAGE forwarded", describe(final), requirement=1)
    assert got is not None
    reply(down, got, 200)
    final = final_of(link, plain)
    ctx.check(final is not None and final.status == 200, "the 200 relayed", describe(final), 1)
    vias = [_strip_via(v) for v in got[0].get_all("Via")]
    ctx.check(
        vias[-2:] == [_strip_via(top), _strip_via(second)],
        "both of the runner's Via values below the proxy's",
        " | ".join(vias),
    )
    rows = [v for n, v in got[0].headers if n.lower() == "authorization"]
    ctx.check(
        len(rows) == 2 and all(v.count("Digest") == 1 for v in rows),
        "two Authorization rows, one credential each",
        " | ".join(rows) or "none",
        2,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.2
##= type=test
##% If a header field appears in a message not matching its category (such as a request
##% header field in a response), it MUST be ignored.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% Since the uri-parameter mechanism is extensible, SIP elements MUST silently ignore any
##% uri-parameters that they do not understand.
@case("wellformed-proxy-ignores", roles=("proxy",), timeout=20)
def proxy_ignores(ctx: Context) -> None:
    """A MESSAGE with response header fields and an unknown Request-URI parameter is
    forwarded to that URI and its answer relayed."""
    link, down = ctx.link(), ctx.listener()
    control_through(ctx, link, down)
    uri = f"sip:downstream@{down.hostport};x-wf-unknown=1"
    req = ctx.request(
        "MESSAGE",
        link,
        uri=uri,
        extra=[
            ("Unsupported", "x-wellformed"),
            ("Min-Expires", "7200"),
            ("Warning", '399 runner.invalid "ignore me"'),
        ],
    )
    link.send(bytes(req))
    got = arrives(down, "MESSAGE", req.call_id)
    if got is None:
        ctx.fail("the MESSAGE forwarded", describe(final_of(link, req, timeout=1.0)))
    assert got is not None
    reply(down, got, 200)
    final = final_of(link, req)
    ctx.check(final is not None and final.status == 200, "the 200 relayed", describe(final))
    ctx.check(got[0].uri == uri, f"Request-URI {uri}", got[0].uri, 1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% If one is placed in a request by mistake, it MUST be ignored by the UAS receiving the
##% request.
@case("wellformed-proxy-not-applicable", roles=("proxy",), timeout=20)
def proxy_not_applicable(ctx: Context) -> None:
    """An OPTIONS carrying header fields not applicable to requests (Min-Expires,
    Unsupported, Warning) is forwarded, and its answer relayed, as the control was."""
    link, down = ctx.link(), ctx.listener()
    control_through(ctx, link, down)
    req = ctx.request(
        "OPTIONS",
        link,
        uri=f"sip:downstream@{down.hostport}",
        extra=[
            ("Min-Expires", "7200"),
            ("Unsupported", "x-wellformed"),
            ("Warning", '399 runner.invalid "ignore me"'),
        ],
    )
    link.send(bytes(req))
    got = arrives(down, "OPTIONS", req.call_id)
    if got is None:
        ctx.fail("the OPTIONS forwarded", describe(final_of(link, req, timeout=1.0)))
    assert got is not None
    reply(down, got, 200)
    final = final_of(link, req)
    ctx.check(final is not None and final.status == 200, "the 200 relayed", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% Elements processing URIs SHOULD ignore any disallowed components if they are present.
@case("wellformed-proxy-disallowed-uri-components", roles=("proxy",), level="SHOULD", timeout=20)
def proxy_disallowed_components(ctx: Context) -> None:
    """A MESSAGE whose To URI has maddr, ttl, lr and method (Table 1 disallows them there)
    is forwarded as the control was."""
    link, down = ctx.link(), ctx.listener()
    control_through(ctx, link, down)
    req = ctx.request(
        "MESSAGE",
        link,
        uri=f"sip:downstream@{down.hostport}",
        to=f"<sip:downstream@{down.local[0]};maddr=127.0.0.1;ttl=1;lr;method=INVITE>",
    )
    link.send(bytes(req))
    got = arrives(down, "MESSAGE", req.call_id)
    if got is None:
        ctx.fail("the MESSAGE forwarded", describe(final_of(link, req, timeout=1.0)))
    assert got is not None
    reply(down, got, 200)
    final = final_of(link, req)
    ctx.check(final is not None and final.status == 200, "the 200 relayed", describe(final))


# --- the registrar: comparing Contact URIs ---------------------------------------------------


def _contact_uris(final: Message) -> set[str]:
    out = set()
    for value in final.get_all("Contact"):
        if value.strip() == "*":
            continue
        uri = value.split("<", 1)[1].split(">", 1)[0] if "<" in value else value.split(";")[0]
        out.add(uri.strip().lower())
    return out


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
##= type=test
##% Any present header component MUST be present in both URIs and match for the URIs to
##% match.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##= type=test
##% Current implementations MUST NOT attempt to improve robustness by treating received
##% escaped characters in the host component as literally equivalent to their unescaped
##% counterpart.
@case("wellformed-registrar-uri-comparison", roles=("registrar",), timeout=20)
def registrar_uri_comparison(ctx: Context) -> None:
    """A contact with a header component, and one whose host is escaped, are bindings of
    their own beside the plain contact: not updates of it."""
    user = unique("wf")
    reg = Registration(ctx, user=user)
    plain = f"sip:{user}@127.0.0.1:9"
    with ctx.preamble(f"<{plain}> bound"):
        reg.control([f"<{plain}>"], expires=300)
    final = reg.register([f"<{plain}?Subject=wellformed>"], expires=300)
    if not 200 <= (final.status or 0) < 300:
        ctx.inconclusive(f"a contact with a header component got {describe(final)}")
    uris = _contact_uris(final)
    ctx.check(
        plain in uris and len(uris) >= 2,
        f"<{plain}> and <{plain}?Subject=wellformed> both bound",
        ", ".join(sorted(uris)) or "no Contact",
    )
    escaped = f"sip:{user}@127.0.0.%31:9"
    final = reg.register([f"<{escaped}>"], expires=300)
    if 200 <= (final.status or 0) < 300:
        # accepted: then as a binding of its own (refusing the escaped host is as good)
        after = _contact_uris(final)
        ctx.check(
            len(after) > len(uris) and plain in after,
            f"<{escaped}> bound beside <{plain}>",
            ", ".join(sorted(after)),
            1,
        )


# --- the UAC role: requests the runner sends within the call ----------------------------------


def _in_call_request(
    peer: Peer, invite: Message, method: str, cseq: int, extra: list[tuple[str, str]]
) -> tuple[bytes, tuple[str, int], str]:
    """A request of the runner's (the callee's) within the call ``invite`` set up: its
    bytes, where it goes (the INVITE's Contact), its branch."""
    contacts = invite.get_all("Contact")
    contact = contacts[0] if contacts else invite.get("From") or ""
    uri = contact.split("<", 1)[1].split(">", 1)[0] if "<" in contact else contact.split(";")[0]
    host, port = uri_host_port(uri)
    branch = unique("z9hG4bK")
    to = invite.get("To") or ""
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP {peer.server.hostport};branch={branch}",
        "Max-Forwards: 70",
        f"From: {to};tag={peer.tag}" if "tag=" not in to else f"From: {to}",
        f"To: {invite.get('From')}",
        f"Call-ID: {invite.call_id}",
        f"CSeq: {cseq} {method}",
        *(f"{n}: {v}" for n, v in extra),
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), (host.strip("[]"), port or 5060), branch


def _in_call(
    ctx: Context, peer: Peer, invite: Message, method: str, cseq: int, extra: list[tuple[str, str]]
) -> Message | None:
    """Send a request of the runner's within the call; its final response (None: none)."""
    data, to, branch = _in_call_request(peer, invite, method, cseq, extra)
    end = time.monotonic() + max(2.0, 10 * ctx.profile.t1)
    interval = ctx.profile.t1
    while (left := end - time.monotonic()) > 0:
        peer.send(data, to, method)
        got = peer.expect(
            lambda m: m.is_response and m.branch == branch and (m.status or 0) >= 200,
            timeout=min(left, interval),
        )
        if got is not None:
            return got[0]
        interval = min(interval * 2, 4.0)
    return None


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.32
##= type=test
##% Although an optional header field, the Require MUST NOT be ignored if it is present.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% If one is placed in a request by mistake, it MUST be ignored by the UAS receiving the
##% request.
@case("wellformed-uac-in-call-requests", roles=("uac",), timeout=25, no_control=RUNNER_ANSWERS)
def uac_in_call_requests(ctx: Context) -> None:
    """Within a call the UAC set up, the callee's OPTIONS requiring an unknown extension gets
    420, and its BYE carrying response-only header fields gets 2xx."""
    peer, invite, ack = _uac_call(ctx, [])
    if ack is None:
        ctx.inconclusive("the UAC did not ACK the 2xx: no call to send requests in")
    final = _in_call(ctx, peer, invite, "OPTIONS", 1, [("Require", "x-wellformed-unknown")])
    if final is None:
        ctx.inconclusive("the UAC answered no request within the call")
    assert final is not None
    ctx.check(final.status == 420, "420 (Bad Extension)", describe(final))
    bye = _in_call(
        ctx,
        peer,
        invite,
        "BYE",
        2,
        [("Min-Expires", "7200"), ("Unsupported", "x-wellformed"), ("Server", "runner")],
    )
    ctx.check(
        bye is not None and 200 <= (bye.status or 0) < 300,
        "2xx to the BYE",
        describe(bye),
        1,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% Elements processing URIs SHOULD ignore any disallowed components if they are present.
@case(
    "wellformed-uac-disallowed-uri-components",
    roles=("uac",),
    level="SHOULD",
    timeout=20,
    no_control=RUNNER_ANSWERS,
)
def uac_disallowed_components(ctx: Context) -> None:
    """A 2xx whose Contact URI has a method parameter and a header component (Table 1
    disallows both in a dialog's Contact) is ACKed at that Contact all the same."""
    peer, _invite, ack = _uac_call(
        ctx, [], contact="<sip:uas@{hostport};method=INVITE?Subject=wellformed>"
    )
    ctx.check(_ack_matches(ack, peer), f"an ACK with To tag {peer.tag}", describe(ack))
    assert ack is not None
    host, port = uri_host_port(ack.uri)
    ctx.check(f"{host}:{port}" == peer.server.hostport, "the ACK at the Contact", ack.uri)


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.11
##= type=test
##% For backward-compatibility, if the Content-Disposition header field is missing, the
##% server SHOULD assume bodies of Content-Type application/sdp are the disposition "session",
##% while other content types are "render".
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.11
##= type=test
##% If the handling parameter is missing, the value "required" SHOULD be assumed.
@case("wellformed-content-disposition", roles=("uas",), level="SHOULD", timeout=20)
def content_disposition(ctx: Context) -> None:
    """An INVITE whose SDP has no Content-Disposition is a session offer (2xx with an
    answer); one whose body has an unknown disposition without handling is refused."""
    if "INVITE" not in {m.upper() for m in ctx.profile.methods}:
        ctx.not_applicable("the profile does not list INVITE")
    link = ctx.link()
    control = ctx.request("INVITE", link, body=_SDP, extra=[("Content-Disposition", "session")])
    ctx.control(link, control)
    req = ctx.request("INVITE", link, body=_SDP)
    final = _endpoint_exchange(ctx, link, req, "INVITE")
    ctx.check(
        200 <= (final.status or 0) < 300 and bool(final.body.strip()),
        "2xx with an SDP answer",
        describe(final),
    )
    req = ctx.request("INVITE", link, body=_SDP, extra=[("Content-Disposition", "x-wf-unknown")])
    final = _endpoint_exchange(ctx, link, req, "INVITE")
    ctx.check(
        not 200 <= (final.status or 0) < 300,
        "the INVITE refused (handling=required assumed)",
        describe(final),
        1,
    )


# --- escaped characters in a host (§19.1.2) ---------------------------------------------------


def _escape_host(uri: str, hostport: str) -> str:
    """``uri`` with the last character of the host of ``hostport`` %-escaped."""
    host, _, port = hostport.rpartition(":")
    if host.endswith("]"):
        escaped = f"{host[:-2]}%{ord(host[-2]):02X}]"
    else:
        escaped = f"{host[:-1]}%{ord(host[-1]):02X}"
    return uri.replace(hostport, f"{escaped}:{port}", 1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##= type=test
##% Current implementations MUST NOT attempt to improve robustness by treating received
##% escaped characters in the host component as literally equivalent to their unescaped
##% counterpart.
@case("wellformed-escaped-host", roles=("uas", "redirect"), timeout=20)
def escaped_host(ctx: Context) -> None:
    """A Request-URI naming the target's host with one character %-escaped is not taken for
    the target's own address (a target turning down other hosts turns it down too)."""
    link = ctx.link()
    _endpoint_control(ctx, link)
    foreign = _endpoint_request(ctx, link)
    foreign.uri = foreign.uri.replace(ctx.target.hostport, "elsewhere.invalid", 1)
    other = _endpoint_exchange(ctx, link, foreign, foreign.method)
    req = _endpoint_request(ctx, link)
    req.uri = _escape_host(req.uri, ctx.target.hostport)
    final = _endpoint_exchange(ctx, link, req, req.method)
    if _accepted(ctx, other) and _accepted(ctx, final):
        ctx.not_applicable(
            f"the target accepts requests for any host ({foreign.uri} got {describe(other)})"
        )
    ctx.check(
        not _accepted(ctx, final),
        f"{req.uri} turned down as {foreign.uri} was ({describe(other)})",
        describe(final),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##= type=test
##% Current implementations MUST NOT attempt to improve robustness by treating received
##% escaped characters in the host component as literally equivalent to their unescaped
##% counterpart.
@case(
    "wellformed-uac-escaped-host",
    roles=("uac",),
    timeout=30,
    no_control="its control is a first call whose 2xx names a plain host in Contact",
)
def uac_escaped_host(ctx: Context) -> None:
    """A 2xx whose Contact names 127.0.0.1 with a %-escaped character gets no ACK at
    127.0.0.1 (a first call with the plain Contact shows the UAC does ACK at the Contact)."""
    elsewhere = ctx.listener()
    plain = f"<sip:uas@{elsewhere.hostport}>"
    with ctx.preamble("a call whose ACK goes to a plain Contact (the control)"):
        peer = Peer(ctx, "invite")
        first, addr = peer.first("INVITE")
        peer.answer(first, addr, 200, contact=False, headers=[f"Contact: {plain}"])
        at = elsewhere.expect(
            lambda m: m.method == "ACK" and m.call_id == first.call_id, timeout=2.0
        )
        peer.close()
        if at is None:
            ctx.not_applicable("the UAC does not send the ACK of a 2xx to its Contact")
    escaped = "<" + _escape_host(f"sip:uas@{elsewhere.hostport}", elsewhere.hostport) + ">"
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 200, contact=False, headers=[f"Contact: {escaped}"])
    # the control's ACK came at once: a second is ample on loopback
    got = elsewhere.expect(
        lambda m: m.method == "ACK" and m.call_id == invite.call_id,
        timeout=max(1.0, 10 * ctx.profile.t1),
    )
    ctx.check(got is None, f"no ACK at {elsewhere.hostport} for Contact {escaped}", "an ACK")


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.4.1
##= type=test
##% Implementations that send requests containing multipart message bodies MUST send a
##% session description as a non-multipart message body if the remote implementation
##% requests this through an Accept header field that does not contain multipart.
@case("wellformed-uac-no-multipart", roles=("uac",), timeout=25, no_control=RUNNER_ANSWERS)
def uac_no_multipart(ctx: Context) -> None:
    """After a 2xx saying Accept: application/sdp, the re-INVITE's session description is
    not multipart ([uac] reinvite)."""
    if not ctx.profile.triggers.get("reinvite"):
        ctx.not_applicable("the profile has no [uac] reinvite command")
    peer = Peer(ctx, "reinvite")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 200, headers=["Accept: application/sdp"])
    peer.expect(lambda m: m.method == "ACK", timeout=2.0)
    again = peer.expect(
        lambda m: m.method == "INVITE" and m.call_id == invite.call_id and m.to_tag is not None,
        timeout=5.0,
    )
    if again is None:
        ctx.inconclusive("no re-INVITE within 5 s")
    assert again is not None
    reinvite, where = again
    peer.answer(reinvite, where, 200)
    peer.serve(0.3)
    ctype = (reinvite.get("Content-Type") or "").lower()
    ctx.check(not ctype.startswith("multipart/"), "a body that is not multipart", ctype)
