"""A proxy's client transport on the wire (RFC 3261 §18.1.1, §18.1.2, §18.2.2): the Via it
inserts, where it takes responses from downstream, TCP for large requests and over
``transport=tcp`` downstream, connections reused and opened toward it.

The runner plays the upstream UAC on a `Link` to the proxy, and the downstream UAS on a UDP
`Listener` and, for TCP, a TCP server of its own on the same port.
"""

from __future__ import annotations

import re
import socket

from conformance.cases.proxy import control_through
from conformance.cases.transport_server import _response_to, _StreamServer
from conformance.messages import Outgoing, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message, uri_host_port
from conformance.wire import Event, Link, Listener

#: load order of the case modules (conformance.discovery)
ORDER = 83

PROXY = ("proxy",)


def _final(link: Link, req: Outgoing, timeout: float = 2.0) -> Message | None:
    return link.expect(
        lambda m: m.is_response and m.branch == req.branch and (m.status or 0) >= 200, timeout
    )


def _sent_by(msg: Message) -> tuple[str, int | None]:
    """The host and port of the top Via's sent-by."""
    parts = msg.top_via.split()
    return uri_host_port("sip:" + parts[1].split(";")[0]) if len(parts) > 1 else ("", None)


def _pair(ctx: Context) -> tuple[Listener, _StreamServer | None]:
    """A downstream UDP socket and a TCP server on the same port (None when that port is
    taken over TCP: the case then judges what it can)."""
    for _ in range(5):
        down = ctx.listener()
        try:
            return down, _StreamServer(ctx, port=down.local[1])
        except OSError:
            continue
    return down, None


def _message(ctx: Context, link: Link, uri: str, body: bytes = b"") -> Outgoing:
    return ctx.request("MESSAGE", link, uri=uri, body=body or b"hello", content_type="text/plain")


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% Before a request is sent, the client transport MUST insert a value of the "sent-by" field
##% into the Via header field.
@case("transport-proxy-via-sent-by", roles=PROXY)
def via_sent_by(ctx: Context) -> None:
    """The Via the proxy puts on a forwarded request has a sent-by (host, and port)."""
    link = ctx.link()
    down = ctx.listener()
    control_through(ctx, link, down)
    req = _message(ctx, link, f"sip:downstream@{down.hostport}")
    link.send(bytes(req))
    got = down.expect(lambda m: m.method == "MESSAGE" and m.call_id == req.call_id, 2.0)
    if got is None:
        ctx.fail("the MESSAGE forwarded", "not forwarded")
    assert got is not None
    host, _port = _sent_by(got[0])
    ctx.check(bool(host) and "branch=" in got[0].top_via, "a Via with a sent-by", got[0].top_via)
    down.send(_response_to(got[0], 200, "OK"), got[1])
    _final(link, req)


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% The usage of an FQDN is RECOMMENDED.
@case(
    "transport-proxy-via-fqdn",
    roles=PROXY,
    level="SHOULD",
    no_control="judged on the Via of any forwarded request",
)
def via_fqdn(ctx: Context) -> None:
    """The sent-by of the proxy's Via is a host name rather than an IP address."""
    link = ctx.link()
    down = ctx.listener()
    req = _message(ctx, link, f"sip:downstream@{down.hostport}")
    link.send(bytes(req))
    got = down.expect(lambda m: m.method == "MESSAGE", 2.0)
    if got is None:
        ctx.inconclusive("the proxy did not forward the MESSAGE")
    assert got is not None
    down.send(_response_to(got[0], 200, "OK"), got[1])
    _final(link, req)
    host, _ = _sent_by(got[0])
    literal = bool(re.fullmatch(r"[0-9.]+|\[[0-9a-fA-F:.]+\]", host))
    ctx.check(not literal, "a host name in sent-by", host)


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% For unreliable unicast transports, the client transport MUST be prepared to receive
##% responses on the source IP address from which the request is sent (as responses are
##% sent back to the source address) and the port number in the "sent-by" field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% The client MUST be prepared to receive responses on any address and port that would be
##% selected by a server based on the procedures described in Section 5 of [4].
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.2
##= type=test
##% If there is a match, the response MUST be passed to that transaction.
@case("transport-proxy-response-paths", roles=PROXY)
def response_paths(ctx: Context) -> None:
    """Responses from downstream sent to the forwarded request's source address and to its
    Via's sent-by are both relayed upstream."""
    link = ctx.link()
    down = ctx.listener()
    control_through(ctx, link, down)
    for requirement, where in ((0, "source"), (1, "sent-by")):
        req = _message(ctx, link, f"sip:downstream@{down.hostport}")
        link.send(bytes(req))
        got = down.expect(lambda m, r=req: m.method == "MESSAGE" and m.call_id == r.call_id)
        if got is None:
            ctx.fail("the MESSAGE forwarded", "not forwarded", requirement=2)
        assert got is not None
        msg, source = got
        host, port = _sent_by(msg)
        dest = source if where == "source" else (host.strip("[]"), port or 5060)
        if where == "sent-by" and not re.fullmatch(r"[0-9.]+|\[?[0-9a-fA-F:.]+\]?", host):
            ctx.not_applicable("the proxy's sent-by is a host name (no DNS in the runner)")
        down.send(_response_to(msg, 200, "OK"), dest, f"200 to the {where} {dest}")
        final = _final(link, req)
        ctx.check(
            final is not None and final.status == 200,
            f"the 200 sent to the {where} ({dest[0]}:{dest[1]}) relayed",
            describe(final),
            requirement=requirement,
        )


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.2
##= type=test
##% If the value of the "sent-by" parameter in that header field value does not correspond to
##% a value that the client transport is configured to insert into requests, the response
##% MUST be silently discarded.
@case("transport-proxy-foreign-sent-by", roles=PROXY)
def foreign_sent_by(ctx: Context) -> None:
    """A response from downstream whose top Via's sent-by is not the proxy's is dropped; the
    right one that follows is relayed."""
    link = ctx.link()
    down = ctx.listener()
    control_through(ctx, link, down)
    req = _message(ctx, link, f"sip:downstream@{down.hostport}")
    link.send(bytes(req))
    got = down.expect(lambda m: m.method == "MESSAGE" and m.call_id == req.call_id)
    if got is None:
        ctx.fail("the MESSAGE forwarded", "not forwarded")
    assert got is not None
    msg, source = got
    right = _response_to(msg, 200, "OK", "right")
    top = msg.top_via
    parts = top.split(None, 1)
    rest = parts[1].split(";", 1)
    forged = f"{parts[0]} 127.0.0.1:9;{rest[1]}" if len(rest) > 1 else top
    wrong = _response_to(msg, 200, "OK", "forged").replace(top.encode(), forged.encode(), 1)
    down.send(wrong, source, "200 with another sent-by")
    final = _final(link, req, timeout=1.0)
    if final is not None:
        ctx.check(final.to_tag != "forged", "the forged 200 discarded", "it was relayed")
        return
    down.send(right, source, "the right 200")
    final = _final(link, req)
    if final is None:
        ctx.inconclusive("the proxy relayed no 200 at all")


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% If the "sent-protocol" is a reliable transport protocol such as TCP or SCTP, or TLS over
##% those, the response MUST be sent using the existing connection to the source of the
##% original request that created the transaction, if that connection is still open.
@case("transport-proxy-same-connection", roles=PROXY, transports=("tcp", "tls"))
def same_connection(ctx: Context) -> None:
    """Over TCP/TLS the proxy returns the response on the request's connection, whatever
    the Via's sent-by says."""
    link = ctx.link()
    down = ctx.listener()
    control_through(ctx, link, down)
    req = _message(ctx, link, f"sip:downstream@{down.hostport}")
    req.set("Via", f"SIP/2.0/{ctx.target.via_transport} 127.0.0.1:9;branch={unique('z9hG4bK')}")
    link.send(bytes(req))
    got = down.expect(lambda m: m.method == "MESSAGE" and m.call_id == req.call_id)
    if got is None:
        ctx.fail("the MESSAGE forwarded", "not forwarded")
    assert got is not None
    down.send(_response_to(got[0], 200, "OK"), got[1])
    final = _final(link, req)
    ctx.check(final is not None, "the 200 on the request's connection", "nothing on it")


# --- TCP downstream ----------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% If a request is within 200 bytes of the path MTU, or if it is larger than 1300 bytes and
##% the path MTU is unknown, the request MUST be sent using an RFC 2914 [43] congestion
##% controlled transport protocol, such as TCP.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% If this causes a change in the transport protocol from the one indicated in the top Via,
##% the value in the top Via MUST be changed.
@case("transport-proxy-large-request-tcp", roles=PROXY)
def large_request_tcp(ctx: Context) -> None:
    """A MESSAGE of over 1300 bytes for a URI without transport goes downstream over TCP,
    its top Via saying TCP."""
    link = ctx.link()
    down, server = _pair(ctx)
    if server is None:
        ctx.inconclusive("no port free for UDP and TCP at once")
    assert server is not None
    control_through(ctx, link, down)
    req = _message(ctx, link, f"sip:downstream@{down.hostport}", b"x" * 1800)
    link.send(bytes(req), f"MESSAGE of {len(bytes(req))} bytes")
    got = server.expect(lambda m: m.method == "MESSAGE" and m.call_id == req.call_id, 2.0)
    if got is None:
        on_udp = down.expect(lambda m: m.method == "MESSAGE" and m.call_id == req.call_id, 0.5)
        if on_udp is not None:
            down.send(_response_to(on_udp[0], 200, "OK"), on_udp[1])
        _final(link, req, 1.0)
        ctx.fail(
            "the large MESSAGE forwarded over TCP",
            "it came over UDP" if on_udp else "not forwarded",
        )
    assert got is not None
    msg, conn = got
    server.send(conn, _response_to(msg, 200, "OK"))
    _final(link, req)
    ctx.check(
        msg.top_via.upper().startswith("SIP/2.0/TCP"),
        "the top Via saying TCP",
        msg.top_via,
        requirement=1,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% If an element sends a request over TCP because of these message size constraints, and
##% that request would have otherwise been sent over UDP, if the attempt to establish the
##% connection generates either an ICMP Protocol Not Supported, or results in a TCP reset,
##% the element SHOULD retry the request, using UDP.
@case("transport-proxy-large-request-udp-fallback", roles=PROXY, level="SHOULD")
def large_request_fallback(ctx: Context) -> None:
    """With nothing on TCP at the downstream port (a reset), the large MESSAGE comes over
    UDP after all."""
    link = ctx.link()
    down = ctx.listener()
    control_through(ctx, link, down)
    req = _message(ctx, link, f"sip:downstream@{down.hostport}", b"x" * 1800)
    link.send(bytes(req), f"MESSAGE of {len(bytes(req))} bytes")
    got = down.expect(lambda m: m.method == "MESSAGE" and m.call_id == req.call_id, 2.0)
    if got is not None:
        down.send(_response_to(got[0], 200, "OK"), got[1])
    final = _final(link, req, 1.0 if got is None else 2.0)
    ctx.check(got is not None, "the MESSAGE retried over UDP", f"not over UDP ({describe(final)})")


def _tcp_downstream(ctx: Context) -> tuple[Link, _StreamServer, str]:
    link = ctx.link()
    try:
        server = _StreamServer(ctx)
    except OSError as exc:
        ctx.inconclusive(f"cannot listen on TCP: {exc}")
        raise
    return link, server, f"sip:downstream@{server.hostport};transport=tcp"


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% Therefore, the client transport MUST be prepared to receive the response on the same
##% connection used to send the request.
@case("transport-proxy-tcp-downstream", roles=PROXY)
def tcp_downstream(ctx: Context) -> None:
    """A request for a ``transport=tcp`` URI goes over TCP; the 200 on that connection is
    relayed upstream."""
    link, server, uri = _tcp_downstream(ctx)
    control_through(ctx, link, ctx.listener())
    req = _message(ctx, link, uri)
    link.send(bytes(req))
    got = server.expect(lambda m: m.method == "MESSAGE" and m.call_id == req.call_id, 2.0)
    if got is None:
        _final(link, req, 1.0)
        ctx.inconclusive("the proxy did not forward the MESSAGE over TCP")
    assert got is not None
    server.send(got[1], _response_to(got[0], 200, "OK"))
    final = _final(link, req)
    ctx.check(
        final is not None and final.status == 200,
        "the 200 from the TCP connection relayed",
        describe(final),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% If a request is destined to an IP address, port, and transport to which an existing
##% connection is open, it is RECOMMENDED that this connection be used to send the request
@case("transport-proxy-connection-reuse", roles=PROXY, level="SHOULD")
def connection_reuse(ctx: Context) -> None:
    """A second request to the same TCP downstream comes over the connection the first
    opened."""
    link, server, uri = _tcp_downstream(ctx)
    control_through(ctx, link, ctx.listener())
    conns = []
    for _ in range(2):
        req = _message(ctx, link, uri)
        link.send(bytes(req))
        got = server.expect(lambda m, r=req: m.method == "MESSAGE" and m.call_id == r.call_id)
        if got is None:
            _final(link, req, 1.0)
            ctx.inconclusive("the proxy did not forward the MESSAGE over TCP")
        assert got is not None
        conns.append(got[1])
        server.send(got[1], _response_to(got[0], 200, "OK"))
        _final(link, req)
    ctx.check(conns[0] is conns[1], "one connection for both", f"{server.accepted} connections")


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% To handle this case, the transport layer MUST also be prepared to receive an incoming
##% connection on the source IP address from which the request was sent and port number in
##% the "sent-by" field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% It also MUST be prepared to receive incoming connections on any address and port that
##% would be selected by a server based on the procedures described in Section 5 of [4].
@case("transport-proxy-response-new-connection", roles=PROXY)
def response_new_connection(ctx: Context) -> None:
    """Downstream closes the request's connection and sends the 200 over a new one to the
    source address and the Via's sent-by port: the proxy takes it and relays it."""
    link, server, uri = _tcp_downstream(ctx)
    control_through(ctx, link, ctx.listener())
    req = _message(ctx, link, uri)
    link.send(bytes(req))
    got = server.expect(lambda m: m.method == "MESSAGE" and m.call_id == req.call_id, 2.0)
    if got is None:
        _final(link, req, 1.0)
        ctx.inconclusive("the proxy did not forward the MESSAGE over TCP")
    assert got is not None
    msg, conn = got
    source = conn.getpeername()[0]
    _host, port = _sent_by(msg)
    server.conns.pop(conn, None)
    conn.close()
    dest = (source, port or 5060)
    try:
        new = socket.create_connection(dest, timeout=1.0)
    except OSError as exc:
        ctx.fail(f"a TCP listener at {dest[0]}:{dest[1]} (source address, sent-by port)", str(exc))
        return
    local = new.getsockname()[:2]
    data = _response_to(msg, 200, "OK")
    ctx.ladder.add(Event(0, "sent", "tcp", local, dest, data, "200 over a new connection"))
    try:
        new.sendall(data)
        final = _final(link, req)
    finally:
        new.close()
    ctx.check(
        final is not None and final.status == 200,
        "the 200 from the new connection relayed",
        describe(final),
    )
