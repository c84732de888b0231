"""RFC 7118 (SIP over WebSocket) seen at a SIP WebSocket Server: a UAS, a registrar or a
proxy listening on ``ws`` (target ``ws:host:port``).  The runner is the SIP WebSocket Client
(`conformance.wslink`): the ``sip`` subprotocol in the handshake (§4.1), text and binary
messages (§4.2), one SIP message per WebSocket message and reliable-transport transactions
(§5), the ``received`` parameter for a Via whose sent-by is a ``.invalid`` name (§5.3),
session cookies and HTTP authentication of the handshake (§7).  Behind a proxy the runner's
downstream UAS is a UDP socket (`conformance.cases._proxy_support`).  One case runs over UDP
and TCP instead: every SIP element implements both (§5.4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from conformance.cases._proxy_support import arrives, downstream_uri, reply
from conformance.cases.proxy import _answers
from conformance.messages import Outgoing, ack_for, make_request, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message, parse_message
from conformance.wire import Link
from conformance.wslink import WsHandshakeError

#: load order of the case modules (conformance.discovery)
ORDER = 79

SERVERS = ("uas", "registrar", "proxy")
WS = ("ws",)

#: a From display name with a Latin-1 byte: not UTF-8 (RFC 7118 §4.2)
_LATIN1_NAME = b'"Jos\xe9"'
#: a body that is not UTF-8 (the downstream answer behind a proxy)
_BINARY_BODY = bytes(range(0x80, 0xA0))


def _send(
    link: Link, data: bytes, note: str, binary: bool | None = None, fragments: int = 1
) -> None:
    if link.ws is not None:
        link.ws_send(data, note, binary=binary, fragments=fragments)
    else:
        link.send(data, note)


def _exchange(
    ctx: Context,
    link: Link,
    method: str = "OPTIONS",
    *,
    binary: bool | None = None,
    fragments: int = 1,
    mutate: Callable[[Outgoing], None] | None = None,
    raw: bytes | None = None,
    reply_body: bytes = b"",
    note: str = "",
) -> tuple[Outgoing, Message | None, Message | None]:
    """Send ``method`` (to the target itself, or through a proxy to a downstream socket the
    runner answers 200 with the From it got); the request, its final response and, behind a
    proxy, the request as forwarded.  ``mutate`` edits the request before it is sent;
    ``raw`` is put before the From URI as display name (bytes, may be non-UTF-8);
    ``reply_body`` is the body of the downstream 200 behind a proxy."""
    down = ctx.listener() if ctx.role == "proxy" else None
    uri = downstream_uri(down) if down is not None else None
    # built for the link's own transport (a case may open one over another transport)
    req = make_request(method, link.target, link.sent_by, user=ctx.user, uri=uri)
    if mutate is not None:
        mutate(req)
    data = bytes(req)
    if raw is not None:
        data = data.replace(b"\r\nFrom: ", b"\r\nFrom: " + raw + b" ", 1)
    _send(link, data, note or method, binary=binary, fragments=fragments)
    forwarded = None
    if down is not None:
        got = arrives(down, method, req.call_id)
        if got is None:
            final = link.expect(_answers(req), timeout=0.5)
            return req, final, None
        forwarded = got[0]
        reply(down, got, 200, body=reply_body)
    final = link.expect(_answers(req), timeout=max(2.0, 6 * ctx.profile.t1))
    return req, final, forwarded


def control_over(ctx: Context, link: Link, what: str, **kw: Any) -> Message:
    """The control: a plain request over ``link`` (`_exchange`) answered 2xx; otherwise the
    target turns requests down for another reason and the case is inconclusive."""

    def exchange() -> tuple[Message | None, bool]:
        _, final, _ = _exchange(ctx, link, **kw)
        return final, final is not None and 200 <= (final.status or 0) < 300

    return ctx.controlled("OPTIONS", exchange, what)


def _answered(ctx: Context, final: Message | None, what: str) -> Message:
    if final is None:
        ctx.fail(f"a response to {what}", "none")
    assert final is not None
    return final


def _ws_link(ctx: Context, **kw: object) -> Link:
    """A WebSocket link with handshake options of the case's own (recorded for the
    postamble); a refused handshake raises `WsHandshakeError`."""
    link = Link(ctx.target, ctx.ladder, ctx.deadline, **kw)  # type: ignore[arg-type]
    ctx.links.append(link)
    return link


##= https://www.rfc-editor.org/rfc/rfc7118#section-4.1
##= type=test
##% The 101 reply from the server MUST contain "sip" in its corresponding
##% Sec-WebSocket-Protocol header.
@case("ws-subprotocol-sip", roles=SERVERS, transports=WS)
def subprotocol(ctx: Context) -> None:
    """A handshake offering "sip" is answered 101 naming "sip"; one offering only another
    subprotocol is not upgraded to a SIP connection (no 101 naming "sip")."""
    link = ctx.link()
    assert link.ws is not None
    chosen = link.ws.subprotocol
    control_over(ctx, link, "the OPTIONS answered", note="OPTIONS (control)")
    ctx.check(chosen == "sip", 'Sec-WebSocket-Protocol "sip" in the 101', f"{chosen!r}")
    try:
        other = _ws_link(ctx, subprotocols=("x-not-sip",))
    except WsHandshakeError as exc:
        # refused (or a 101 the library rejects): fine unless it named "sip" unasked
        response = exc.response
        named = response.headers.get("Sec-WebSocket-Protocol") if response else None
        status = response.status_code if response is not None else None
        ctx.check(
            not (status == 101 and named == "sip"),
            'no 101 naming "sip" to a handshake that did not offer it',
            f"{status} naming {named!r}",
        )
        return
    assert other.ws is not None
    ctx.check(
        other.ws.subprotocol != "sip",
        'no 101 naming "sip" to a handshake that did not offer it',
        f"101 with {other.ws.subprotocol!r}",
    )


##= https://www.rfc-editor.org/rfc/rfc7118#section-4.2
##= type=test
##% Therefore, SIP WebSocket Clients and SIP WebSocket Servers MUST accept both text and
##% binary frames.
@case("ws-text-and-binary", roles=SERVERS, transports=WS)
def text_and_binary(ctx: Context) -> None:
    """The same request in a text message (the control), then in a binary message: both
    answered alike."""
    link = ctx.link()
    text = control_over(
        ctx,
        link,
        "the OPTIONS (text message, control) answered",
        binary=False,
        note="OPTIONS (text message, control)",
    )
    _, binary, _ = _exchange(ctx, link, binary=True, note="OPTIONS (binary message)")
    ctx.check(
        binary is not None and binary.status == text.status,
        f"the binary one answered {text.status} as the text one",
        describe(binary),
    )


##= https://www.rfc-editor.org/rfc/rfc7118#section-4.2
##= type=test
##% If there is at least one non-UTF-8 symbol in the whole SIP message (including headers and
##% the body), then the whole message MUST be sent within a WebSocket binary message.
##= https://www.rfc-editor.org/rfc/rfc7118#section-4.2
##= type=test
##% Given the nature of JavaScript and the WebSocket API, it is RECOMMENDED to use UTF-8
##% encoding (or ASCII, which is a subset of UTF-8) for SIP messages carried over a WebSocket
##% connection.
@case("ws-non-utf8-binary", roles=SERVERS, transports=WS)
def non_utf8_binary(ctx: Context) -> None:
    """A message with a non-UTF-8 byte must come in a binary WebSocket message.  Behind a
    proxy: the downstream 200 carries a binary body, which the proxy relays over the
    WebSocket connection.  At a UAS or registrar: the request's From display name holds a
    Latin-1 byte (sent binary), which a response copies (§8.2.6.2) — unless the target
    refuses it (RFC 3261 header text is UTF-8).  The response to a plain ASCII request is
    UTF-8."""
    link = ctx.link()
    control_over(ctx, link, "the OPTIONS answered", note="OPTIONS (control)")
    assert link.ws is not None
    first = len(link.ws_received)
    if ctx.role == "proxy":
        _, final, _ = _exchange(ctx, link, reply_body=_BINARY_BODY, note="OPTIONS")
        what = "the request answered with a binary body downstream"
    else:
        _, final, _ = _exchange(ctx, link, binary=True, raw=_LATIN1_NAME, note="OPTIONS")
        what = "the request with a Latin-1 From"
    final = _answered(ctx, final, what)
    received = link.ws_received[first:]
    carrying = [m for m in received if parse_message(m.data) is not None]
    odd = [m for m in carrying if not _utf8(m.data)]
    if not odd:
        ctx.not_applicable(
            "the target's response holds no non-UTF-8 byte (it rewrote or left out the From"
            " display name), so nothing needs a binary message"
        )
    ctx.check(
        all(not m.text for m in odd),
        "every message with a non-UTF-8 byte in a binary WebSocket message",
        "a text message",
        requirement=0,
    )
    plain_ws = link.ws_received[:first]
    ctx.check(
        all(_utf8(m.data) for m in plain_ws),
        "the answer to an ASCII request in UTF-8",
        "non-UTF-8 bytes",
        requirement=1,
        level="SHOULD",
    )


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _one_message(data: bytes) -> bool:
    """``data`` is exactly one SIP message: a body as long as its Content-Length says (or no
    Content-Length), nothing after it."""
    msg = parse_message(data)
    if msg is None:
        return False
    _, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    length = msg.get("Content-Length") or msg.get("l")
    if length is None:
        return True
    try:
        return int(length.strip()) == len(body)
    except ValueError:
        return False


##= https://www.rfc-editor.org/rfc/rfc7118#section-5
##= type=test
##% Each SIP message MUST be carried within a single WebSocket message, and a WebSocket
##% message MUST NOT contain more than one SIP message.
##= https://www.rfc-editor.org/rfc/rfc7118#section-4.1
##= type=test
##% Messages other than SIP requests and responses MUST NOT be transmitted over this
##% connection.
@case("ws-one-sip-message-each", roles=SERVERS, transports=WS)
def one_message_each(ctx: Context) -> None:
    """An INVITE (a 100 Trying and a final response), an OPTIONS, and an OPTIONS sent in
    two fragments of one WebSocket message: every WebSocket message the target sends holds
    exactly one SIP message, nothing else; the fragmented message is one request."""
    link = ctx.link()
    control_over(ctx, link, "the OPTIONS answered", note="OPTIONS (control)")
    _invite_non_2xx(ctx, link)
    _, frag, _ = _exchange(ctx, link, fragments=2, note="OPTIONS (two fragments)")
    link.expect(lambda m: False, timeout=0.1)  # anything left in flight
    bad = [m for m in link.ws_received if not _one_message(m.data)]
    ctx.check(
        not bad,
        "exactly one SIP message in each WebSocket message",
        f"{len(bad)} not: {bad[0].data[:60]!r}" if bad else "",
        requirement=0,
    )
    ctx.check(link.garbage == 0, "nothing but SIP messages", f"{link.garbage}", requirement=1)
    ctx.check(
        frag is not None,
        "the request in two fragments (one WebSocket message) answered",
        "no response",
        requirement=0,
    )


def _invite_non_2xx(ctx: Context, link: Link) -> tuple[Outgoing, Message | None, list[Message]]:
    """An INVITE the target answers with a final non-2xx by itself (an option it cannot
    support in Require, or in Proxy-Require at a proxy: 420); ACKed at once unless the
    caller wants to watch for repeats (it gets the request, final, provisional)."""
    down = ctx.listener() if ctx.role == "proxy" else None
    uri = downstream_uri(down) if down is not None else None
    req = ctx.request("INVITE", link, uri=uri) if uri else ctx.request("INVITE", link)
    req.add("Proxy-Require" if ctx.role == "proxy" else "Require", "x-conformance-unknown")
    final, provisional = ctx.transaction(link, req, note="INVITE (unknown option required)")
    return req, final, provisional


##= https://www.rfc-editor.org/rfc/rfc7118#section-5
##= type=test
##% Thus, client and server transactions using WebSocket for transport MUST follow the
##% procedures and timer values for reliable transports as defined in [RFC3261].
@case("ws-reliable-transactions", roles=SERVERS, transports=WS, timeout=20)
def reliable(ctx: Context) -> None:
    """An INVITE the target refuses (non-2xx) and leaves unACKed for a while: over a reliable
    transport Timer G is not set, so the final response is not repeated (RFC 3261 §17.2.1)."""
    link = ctx.link()
    control_over(ctx, link, "the OPTIONS answered", note="OPTIONS (control)")
    req, final, _ = _invite_non_2xx(ctx, link)
    final = _answered(ctx, final, "the INVITE")
    if (final.status or 0) < 300:
        ctx.finish_invite(link, req, final)
        ctx.inconclusive(f"the INVITE was not refused ({describe(final)})")
    t1 = ctx.profile.t1
    again = link.collect(
        lambda m: m.is_response and m.branch == req.branch and m.status == final.status,
        max(0.6, 2.5 * t1),
    )
    link.send(bytes(ack_for(req, final, ctx.target)), "ACK")
    ctx.check(not again, "the final response sent once (no Timer G)", f"{len(again)} repeats")


##= https://www.rfc-editor.org/rfc/rfc7118#section-5.3
##= type=test
##% When the server transport receives a request over any transport, it MUST examine the
##% value of the "sent-by" parameter in the top Via header field value.
##= https://www.rfc-editor.org/rfc/rfc7118#section-5.3
##= type=test
##% If the host portion of the "sent-by" field contains a domain name, or if it contains an
##% IP address that differs from the packet source address, the server MUST add a "received"
##% parameter to that Via header field value.
##= https://www.rfc-editor.org/rfc/rfc7118#section-5.3
##= type=test
##% This parameter MUST contain the source address from which the packet was received.
@case("ws-via-received", roles=SERVERS, transports=WS)
def via_received(ctx: Context) -> None:
    """A request whose top Via has a random ``.invalid`` name as sent-by (what a browser
    client writes, §5.2): the Via the target answers with (or, behind a proxy, the Via of
    ours in the forwarded request) carries received= the address we sent from."""
    link = ctx.link()
    control_over(ctx, link, "the OPTIONS answered", note="OPTIONS (control)")
    name = f"{unique('h')}.invalid"

    def invalid_host(req: Outgoing) -> None:
        via = req.get("Via") or ""
        req.set("Via", via.replace(link.sent_by, name, 1).replace(";rport", ""))

    _, final, forwarded = _exchange(ctx, link, mutate=invalid_host, note="OPTIONS (.invalid)")
    final = _answered(ctx, final, "the request with a .invalid Via")
    if ctx.role == "proxy":
        vias = forwarded.get_all("Via") if forwarded is not None else []
        ours = next((v for v in vias if name in v), "")
        where = "our Via in the forwarded request"
    else:
        ours = (final.get_all("Via") or [""])[0]
        where = "the response's top Via"
    received = next(
        (p.split("=", 1)[1].strip() for p in ours.split(";") if p.strip().startswith("received=")),
        None,
    )
    ctx.check(received is not None, f"received= in {where}", ours or "no such Via", 1)
    ctx.check(
        (received or "").strip("[]") == link.local[0],
        f"received={link.local[0]} (the source address)",
        f"received={received}",
        requirement=2,
    )


##= https://www.rfc-editor.org/rfc/rfc7118#section-7
##= type=test
##% A SIP WebSocket Server MUST be ready to read session cookies when present in the
##% WebSocket handshake request and use such a cookie value for determining whether the
##% WebSocket connection has been initiated by an HTTP client navigating a website in the
##% same domain (or subdomain) as the SIP WebSocket Server.
@case("ws-session-cookie", roles=SERVERS, transports=WS)
def session_cookie(ctx: Context) -> None:
    """A handshake carrying a session cookie (a browser that logged in on the site) and an
    Origin: the server reads them without trouble — the connection is upgraded and SIP
    goes over it as over the control connection without cookie."""
    link = ctx.link()
    control = control_over(
        ctx, link, "the OPTIONS (no cookie) answered", note="OPTIONS (control, no cookie)"
    )
    headers = (("Cookie", f"sid={unique('s')}; lang=en"), ("Origin", "http://127.0.0.1"))
    try:
        with_cookie = _ws_link(ctx, ws_headers=headers)
    except WsHandshakeError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in (401, 403):
            ctx.not_applicable(f"the server authorises handshakes by its own cookies ({status})")
        ctx.fail("the handshake with a cookie upgraded", f"{status}: {exc}")
        return
    _, final, _ = _exchange(ctx, with_cookie, note="OPTIONS (handshake with a cookie)")
    ctx.check(
        final is not None and final.status == control.status,
        f"answered {control.status} as without cookie",
        describe(final),
    )


##= https://www.rfc-editor.org/rfc/rfc7118#section-7
##= type=test
##% A SIP WebSocket Server SHOULD be able to reject a WebSocket handshake request with an
##% HTTP 401 status code by providing a Basic/Digest challenge as defined for the HTTP
##% protocol.
@case(
    "ws-handshake-401",
    roles=SERVERS,
    transports=WS,
    level="SHOULD",
    no_control="the handshake is the exchange judged; a server that upgrades is N/A",
)
def handshake_401(ctx: Context) -> None:
    """A handshake without credentials: a server set up to authenticate WebSocket clients
    answers 401 with a Basic or Digest challenge; one that upgrades it is not set up so."""
    try:
        _ws_link(ctx)
    except WsHandshakeError as exc:
        response = exc.response
        if response is None or response.status_code != 401:
            ctx.inconclusive(f"the handshake was refused otherwise: {exc}")
        assert response is not None
        challenge = response.headers.get("WWW-Authenticate") or ""
        ctx.check(
            challenge.split(" ", 1)[0].lower() in ("basic", "digest"),
            "a Basic or Digest challenge with the 401",
            challenge or "no WWW-Authenticate",
        )
        return
    ctx.not_applicable(
        "the server upgrades handshakes without credentials: it is not set up to authenticate"
        " WebSocket clients (a deployment choice)"
    )


##= https://www.rfc-editor.org/rfc/rfc7118#section-5.4
##= type=test
##% All SIP elements MUST implement UDP and TCP.
@case("ws-udp-and-tcp", roles=SERVERS, transports=("udp", "tcp"))
def udp_and_tcp(ctx: Context) -> None:
    """The target answers over UDP and over TCP on its port (the control: over the wave's
    own transport, then the other)."""
    link = ctx.link()
    over = ctx.target.transport
    control_over(ctx, link, f"the OPTIONS over {over} answered", note=f"OPTIONS over {over}")
    other = "tcp" if ctx.target.transport == "udp" else "udp"
    try:
        alt = Link(replace(ctx.target, transport=other), ctx.ladder, ctx.deadline)
    except OSError as exc:
        ctx.fail(f"a {other.upper()} connection to the target's port", str(exc))
        return
    ctx.links.append(alt)
    _, final, _ = _exchange(ctx, alt, note=f"OPTIONS over {other}")
    ctx.check(final is not None, f"a response over {other.upper()}", "none")
