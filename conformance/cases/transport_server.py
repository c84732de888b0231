"""The transport layer of a server on the wire: RFC 3261 §7.5, §18 (UDP and TCP on one port,
framing by Content-Length, where responses go: received, sent-by, maddr) and §20.14.

Every case runs in the four server roles.  Toward a UAS, a registrar or a redirect server the
runner sends an OPTIONS to the target itself; toward a proxy it sends the OPTIONS through it
to a downstream socket of its own, answers it there, and judges how the proxy's transport
returns the answer upstream (§18.2.2 is the same rule for both).
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import re
import select
import socket
import time
from collections.abc import Callable

from conformance.messages import Outgoing, make_request, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message, StreamBuffer, param, parse_message, uri_host_port
from conformance.target import Target
from conformance.wire import RECEIVE_BUDGET, CaseTimeout, Event, Link, Listener


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


#: load order of the case modules (conformance.discovery): after the first wave's modules
ORDER = 80

SERVERS = ("uas", "registrar", "redirect", "proxy")
STREAMS = ("tcp", "tls")


class _Exchange:
    """One request/response exchange with the target, as a UAS or through a proxy.

    For a proxy the request names a downstream socket of the runner's; every request that
    reaches it is answered 200 there while the runner waits for the response upstream."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.down = ctx.listener() if ctx.role == "proxy" else None
        if self.down is None and (ctx.profile.probe or "OPTIONS").upper() == "INVITE":
            # SIPp's uas scenario and the like: their profile says they answer INVITE only
            ctx.not_applicable("the profile's target answers INVITE only; these cases use OPTIONS")
        if "OPTIONS" in ctx.silent_methods:
            ctx.inconclusive("the target left OPTIONS unanswered earlier in the run")

    def request(
        self, link: Link, target: Target | None = None, method: str = "OPTIONS", **kw: object
    ) -> Outgoing:
        """A plain request over ``link`` (to ``target``, by default the run's)."""
        target = target or self.ctx.target
        if self.down is not None:
            kw.setdefault("uri", f"sip:downstream@{self.down.hostport}")
        kw.setdefault("user", self.ctx.user)
        return make_request(method, target, link.sent_by, **kw)  # type: ignore[arg-type]

    def answer_downstream(self, wait: float = 0.05) -> None:
        """Answer (200) whatever request the proxy forwarded to the downstream socket."""
        if self.down is None:
            return
        got = self.down.expect(lambda m: not m.is_response and m.method != "ACK", timeout=wait)
        if got is None:
            return
        msg, addr = got
        lines = ["SIP/2.0 200 OK", *(f"Via: {v}" for v in msg.get_all("Via"))]
        lines += [
            f"From: {msg.get('From')}",
            f"To: {msg.get('To')}" + ("" if msg.to_tag else f";tag={unique('d')}"),
            f"Call-ID: {msg.call_id}",
            f"CSeq: {msg.get('CSeq')}",
            "Content-Length: 0",
        ]
        self.down.send(("\r\n".join(lines) + "\r\n\r\n").encode(), addr, "downstream 200")

    def final(
        self, req: Outgoing, places: list[Link | Listener], timeout: float = 2.0
    ) -> tuple[Message | None, Link | Listener | None]:
        """The final response to ``req`` at whichever of ``places`` it reaches first."""

        def answers(m: Message) -> bool:
            return m.is_response and m.branch == req.branch and (m.status or 0) >= 200

        end = time.monotonic() + timeout
        slice_ = 0.05 if self.down is not None or len(places) > 1 else timeout
        while time.monotonic() < end:
            self.answer_downstream(0.01)
            for place in places:
                got = place.expect(answers, timeout=slice_ / len(places))
                if got is not None:
                    return (got[0] if isinstance(got, tuple) else got), place
        return None, None

    def send(
        self, link: Link, req: Outgoing | bytes, timeout: float = 2.0, note: str = ""
    ) -> Message | None:
        """Send ``req`` (or raw bytes framing it) on ``link``; its final response there."""
        data = req if isinstance(req, bytes) else bytes(req)
        link.send(data, note)
        if isinstance(req, bytes):
            # raw bytes: any final response on this link (the case sends one request at once)
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                self.answer_downstream(0.01)
                got = link.expect(lambda m: m.is_response and (m.status or 0) >= 200, 0.05)
                if got is not None:
                    return got
            return None
        return self.final(req, [link], timeout)[0]

    def control(self, link: Link, target: Target | None = None) -> Message:
        """The control: a plain OPTIONS on ``link`` gets a final response there (any status:
        these cases judge where and how responses travel, not what they say)."""

        def exchange() -> tuple[Message | None, bool]:
            final = self.send(link, self.request(link, target), note="control")
            return final, final is not None

        how = (target or self.ctx.target).transport.upper()
        return self.ctx.controlled("OPTIONS", exchange, f"a plain OPTIONS over {how}")


_SDP = (
    b"v=0\r\no=tester 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def _link(ctx: Context, transport: str) -> Link:
    """A link to the target's address over another transport than the run's."""
    target = dataclasses.replace(ctx.target, transport=transport, scheme="sip")
    link = Link(target, ctx.ladder, ctx.deadline)
    ctx.links.append(link)
    return link


def _listener(ctx: Context, host: str = "127.0.0.1") -> Listener:
    listener = Listener(ctx.ladder, ctx.deadline, host)
    ctx.links.append(listener)
    return listener


def _where(place: Link | Listener | None) -> str:
    if place is None:
        return "nowhere (no response arrived)"
    host, port = place.local
    return f"{host}:{port}"


# --- §18, §18.2.1: UDP and TCP on the same port --------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-18
##= type=test
##% All SIP elements MUST implement UDP and TCP.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
##= type=test
##% For any port and interface that a server listens on for UDP, it MUST listen on that same
##% port and interface for TCP.
@case("transport-udp-and-tcp", roles=SERVERS, transports=("udp", "tcp"))
def udp_and_tcp(ctx: Context) -> None:
    """The port answering over UDP also answers over TCP (and the other way round)."""
    other = "tcp" if ctx.target.transport == "udp" else "udp"
    exchange = _Exchange(ctx)
    exchange.control(ctx.link())
    try:
        link = _link(ctx, other)
    except OSError as exc:
        ctx.fail(f"a TCP listener on {ctx.target.hostport}", f"connect: {exc}", requirement=1)
        return
    final = exchange.send(link, exchange.request(link, link.target))
    ctx.check(
        final is not None,
        f"a response to an OPTIONS over {other.upper()} on the same port",
        "no response",
        requirement=0 if other == "udp" else 1,
    )


# --- §7.5, §18, §18.3, §20.14: streams ------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.5
##= type=test
##% Implementations processing SIP messages over stream-oriented transports MUST ignore any
##% CRLF appearing before the start-line [H4.1].
@case("transport-crlf-before-start-line", roles=SERVERS, transports=STREAMS)
def crlf_before_start_line(ctx: Context) -> None:
    """Over a stream, a CRLF before the start-line is skipped: the request is answered."""
    exchange = _Exchange(ctx)
    link = ctx.link()
    exchange.control(link)
    req = exchange.request(link)
    # one CRLF (two would be an RFC 5626 keep-alive ping), in the same write as the request
    final = exchange.send(link, b"\r\n" + bytes(req), note="a CRLF, then the request")
    ctx.check(final is not None, "a response to the request after the CRLF", "no response")
    assert final is not None
    ctx.check(final.status != 400, "the request processed", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% The Content-Length header field MUST be used with stream oriented transports.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.14
##= type=test
##% If a stream-based protocol (such as TCP) is used as transport, the header field MUST be
##% used.
@case(
    "transport-stream-content-length",
    roles=SERVERS,
    transports=STREAMS,
    no_control="§18.3 holds for every response, whatever its status",
)
def stream_content_length(ctx: Context) -> None:
    """Over a stream every response carries Content-Length."""
    exchange = _Exchange(ctx)
    link = ctx.link()
    final = exchange.send(link, exchange.request(link))
    ctx.require_final(final)
    assert final is not None
    ctx.check(final.get("Content-Length") is not None, "a Content-Length", final.start_line)


##= https://www.rfc-editor.org/rfc/rfc3261#section-18
##= type=test
##% It is RECOMMENDED that connections be kept open for some implementation-defined duration
##% after the last message was sent or received over that connection.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18
##= type=test
##% This duration SHOULD at least equal the longest amount of time the element would need in
##% order to bring a transaction from instantiation to the terminated state.
@case(
    "transport-connection-kept-open",
    roles=SERVERS,
    level="SHOULD",
    transports=STREAMS,
)
def connection_kept_open(ctx: Context) -> None:
    """After a transaction the connection stays open: a second request on it, 64*T1 later
    (at most 1.5 s: the case's bound), is answered on it."""
    exchange = _Exchange(ctx)
    link = ctx.link()
    exchange.control(link)
    wait = min(64 * ctx.profile.t1, 1.5)
    end = time.monotonic() + wait
    while (left := end - time.monotonic()) > 0 and not link.closed:
        exchange.answer_downstream(min(left, 0.1))
        link.expect(lambda m: False, timeout=min(left, 0.1))
    ctx.check(not link.closed, f"the connection open {wait:g} s later", "closed by the target")
    final = exchange.send(link, exchange.request(link))
    ctx.check(final is not None, "the second request answered on it", "no response", 1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-18
##= type=test
##% It has arisen out of the need to handle larger messages, which MUST use TCP, as discussed
##% below.
@case("transport-large-request-stream", roles=SERVERS, transports=STREAMS)
def large_request_stream(ctx: Context) -> None:
    """A request of about 4000 bytes (too large for UDP, §18.1.1) is taken over a stream."""
    exchange = _Exchange(ctx)
    link = ctx.link()
    control = exchange.control(link)
    padding = [(f"X-Conformance-Padding-{i}", "p" * 180) for i in range(20)]
    req = exchange.request(link, extra=padding)
    final = exchange.send(link, req)
    ctx.check(final is not None, f"a response to the {len(bytes(req))}-byte request", "none")
    assert final is not None
    ctx.check(
        final.status == control.status,
        f"{control.status}, as to the same request without padding",
        describe(final),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% However, implementations MUST be able to handle messages up to the maximum datagram
##% packet size.
@case("transport-large-datagram", roles=SERVERS, transports=("udp",))
def large_datagram(ctx: Context) -> None:
    """A request in one datagram of 65,000 bytes (near the largest UDP payload) is answered."""
    exchange = _Exchange(ctx)
    link = ctx.link()
    control = exchange.control(link)
    req = exchange.request(link)
    size = len(bytes(req))
    rows = (65000 - size) // 1000
    req.headers.extend((f"X-Conformance-Padding-{i}", "p" * 970) for i in range(rows))
    final = exchange.send(link, req, timeout=3.0)
    ctx.check(final is not None, f"a response to the {len(bytes(req))}-byte datagram", "none")
    assert final is not None
    ctx.check(
        final.status == control.status,
        f"{control.status}, as to the same request without padding",
        describe(final),
    )


# --- §18.3 framing over UDP ---------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% If there are additional bytes in the transport packet beyond the end of the body, they
##% MUST be discarded.
@case("transport-bytes-beyond-body", roles=SERVERS, transports=("udp",))
def bytes_beyond_body(ctx: Context) -> None:
    """Bytes after the Content-Length's end of a datagram are dropped, not an error."""
    exchange = _Exchange(ctx)
    link = ctx.link()
    control = exchange.control(link)
    req = exchange.request(link)
    final = exchange.send(link, bytes(req) + b"trailing bytes beyond Content-Length\r\n")
    ctx.check(final is not None, "the request answered as without the bytes", "no response")
    assert final is not None
    ctx.check(
        final.status == control.status,
        f"{control.status}, as without the extra bytes",
        describe(final),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% If the message is a request, the element SHOULD generate a 400 (Bad Request) response.
@case(
    "transport-short-body-400",
    roles=SERVERS,
    level="SHOULD",
    transports=("udp",),
)
def short_body(ctx: Context) -> None:
    """A datagram whose body is shorter than its Content-Length gets 400."""
    exchange = _Exchange(ctx)
    link = ctx.link()
    exchange.control(link)
    req = exchange.request(link)
    req.add("Content-Type", "text/plain")
    data = bytes(req).replace(b"Content-Length: 0", b"Content-Length: 120")
    data += b"only 20 bytes here.."
    final = exchange.send(link, data)
    ctx.check(final is not None and final.status == 400, "400 (Bad Request)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% If the message is a response, it MUST be discarded.
@case("transport-short-response-discarded", roles=("proxy",), transports=("udp",))
def short_response(ctx: Context) -> None:
    """A response from downstream whose body is shorter than its Content-Length is dropped:
    the proxy does not relay it upstream; the complete copy that follows is relayed."""
    exchange = _Exchange(ctx)
    assert exchange.down is not None
    link = ctx.link()
    exchange.control(link)
    req = exchange.request(link)
    link.send(bytes(req))
    got = exchange.down.expect(lambda m: m.method == "OPTIONS", timeout=3.0)
    if got is None:
        ctx.inconclusive("the proxy did not forward the OPTIONS")
    assert got is not None
    msg, addr = got
    head = ["SIP/2.0 200 OK", *(f"Via: {v}" for v in msg.get_all("Via"))]
    head += [
        f"From: {msg.get('From')}",
        f"To: {msg.get('To')};tag={unique('d')}",
        f"Call-ID: {msg.call_id}",
        f"CSeq: {msg.get('CSeq')}",
        "Content-Type: text/plain",
    ]
    short = "\r\n".join([*head, "Content-Length: 120"]) + "\r\n\r\nonly 20 bytes here.."
    exchange.down.send(short.encode(), addr, "truncated 200")
    relayed = link.expect(lambda m: m.is_response and m.branch == req.branch, timeout=1.0)
    ctx.check(relayed is None, "the truncated response discarded", f"relayed: {describe(relayed)}")
    whole = "\r\n".join([*head, "Content-Length: 20"]) + "\r\n\r\nonly 20 bytes here.."
    exchange.down.send(whole.encode(), addr, "the same 200, complete")
    relayed = link.expect(lambda m: m.is_response and m.branch == req.branch, timeout=2.0)
    if relayed is None:
        ctx.inconclusive("the proxy relayed neither copy of the 200")


# --- §18.2.1, §18.2.2: where a response goes ------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
##= type=test
##% When the server transport receives a request over any transport, it MUST examine the
##% value of the "sent-by" parameter in the top Via header field value.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
##= type=test
##% This parameter MUST contain the source address from which the packet was received.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% Otherwise (for unreliable unicast transports), if the top Via has a "received" parameter,
##% the response MUST be sent to the address in the "received" parameter, using the port
##% indicated in the "sent-by" value, or using port 5060 if none is specified explicitly.
@case("transport-received-sent-by-port", roles=SERVERS, transports=("udp",))
def received_sent_by_port(ctx: Context) -> None:
    """Via names a host and another port than the request's source (no rport): the response
    goes to the source address (received=) at the sent-by port."""
    exchange = _Exchange(ctx)
    link = ctx.link()
    exchange.control(link)
    other = _listener(ctx)
    req = exchange.request(link)
    req.set("Via", f"SIP/2.0/UDP conformance.invalid:{other.local[1]};branch={unique('z9hG4bK')}")
    link.send(bytes(req))
    final, place = exchange.final(req, [other, link], timeout=2.0)
    ctx.check(
        place is other,
        f"the response at {link.local[0]}:{other.local[1]} (received address, sent-by port)",
        f"it arrived at {_where(place)}",
        requirement=2,
    )
    assert final is not None
    received = param(final.top_via, "received")
    ctx.check(
        received == link.local[0],
        f"received={link.local[0]} added",
        f"received={received}",
        requirement=1,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% Otherwise, if it is not receiver-tagged, the response MUST be sent to the address
##% indicated by the "sent-by" value, using the procedures in Section 5 of [4].
@case("transport-sent-by", roles=SERVERS, transports=("udp",))
def sent_by(ctx: Context) -> None:
    """Via's sent-by is the source IP address with another port (no rport): the response
    goes to the sent-by port, not to the source port."""
    exchange = _Exchange(ctx)
    link = ctx.link()
    exchange.control(link)
    other = _listener(ctx)
    req = exchange.request(link)
    req.set("Via", f"SIP/2.0/UDP {other.hostport};branch={unique('z9hG4bK')}")
    link.send(bytes(req))
    _final, place = exchange.final(req, [other, link], timeout=2.0)
    ctx.check(
        place is other, f"the response at {other.hostport}", f"it arrived at {_where(place)}"
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% Otherwise, if the Via header field value contains a "maddr" parameter, the response MUST
##% be forwarded to the address listed there, using the port indicated in "sent-by", or port
##% 5060 if none is present.
@case("transport-maddr", roles=SERVERS, transports=("udp",))
def maddr(ctx: Context) -> None:
    """Via has maddr=127.0.0.2: the response goes to 127.0.0.2 at the sent-by port, not to
    the source address."""
    if ctx.target.family != 2:  # socket.AF_INET: 127.0.0.2 is an IPv4 loopback address
        ctx.not_applicable("an IPv4 case (maddr=127.0.0.2)")
    exchange = _Exchange(ctx)
    link = ctx.link()
    exchange.control(link)
    try:
        there = _listener(ctx, "127.0.0.2")
    except OSError as exc:
        ctx.inconclusive(f"cannot listen on 127.0.0.2: {exc}")
        return
    places: list[Link | Listener] = [there, link]
    try:  # the same port on the source address: where a target ignoring maddr sends it
        here = Listener(ctx.ladder, ctx.deadline, link.local[0], there.local[1])
        ctx.links.append(here)
        places.append(here)
    except OSError:
        pass
    req = exchange.request(link)
    via = f"SIP/2.0/UDP conformance.invalid:{there.local[1]};maddr=127.0.0.2"
    req.set("Via", f"{via};branch={unique('z9hG4bK')}")
    link.send(bytes(req))
    _final, place = exchange.final(req, places, timeout=2.0)
    ctx.check(
        place is there,
        f"the response at 127.0.0.2:{there.local[1]} (maddr, sent-by port)",
        f"it arrived at {_where(place)}",
    )


# --- a TCP server of the runner's: where a target opens connections ---------------------------


class _StreamServer:
    """A TCP listening socket of the runner's: it accepts the target's connections and frames
    what arrives on them (§18.3), recording into the case's ladder like `Link`."""

    def __init__(self, ctx: Context, host: str = "127.0.0.1", port: int = 0) -> None:
        self.ladder = ctx.ladder
        self.deadline = ctx.deadline
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
            self.sock.listen(8)
        except OSError:
            self.sock.close()
            raise
        self.local: tuple[str, int] = self.sock.getsockname()[:2]
        self.conns: dict[socket.socket, tuple[StreamBuffer, tuple[str, int]]] = {}
        self.pending: list[tuple[Message, socket.socket]] = []
        self.accepted = 0
        ctx.links.append(self)  # type: ignore[arg-type]

    @property
    def hostport(self) -> str:
        return f"{self.local[0]}:{self.local[1]}"

    def _event(self, peer: tuple[str, int], note: str) -> None:
        self.ladder.add(Event(0, "event", "tcp", peer, self.local, b"", note))

    def expect(
        self, match: Callable[[Message], bool], timeout: float = 2.0
    ) -> tuple[Message, socket.socket] | None:
        """The next message satisfying ``match`` on any accepted connection, and that one."""
        for i, (msg, _conn) in enumerate(self.pending):
            if match(msg):
                return self.pending.pop(i)
        end = time.monotonic() + timeout
        for _ in range(RECEIVE_BUDGET):
            now = time.monotonic()
            if now >= self.deadline:
                raise CaseTimeout()
            if now >= end:
                return None
            ready, _, _ = select.select([self.sock, *self.conns], [], [], end - now)
            found = None
            for sock in ready:
                if sock is self.sock:
                    conn, peer = self.sock.accept()
                    self.accepted += 1
                    self.conns[conn] = (StreamBuffer(), peer[:2])
                    self._event(peer[:2], "the target connected (tcp)")
                    continue
                framer, peer = self.conns[sock]
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self._event(peer, "connection closed by the target")
                    del self.conns[sock]
                    sock.close()
                    continue
                for frame in framer.feed(data):
                    self.ladder.add(Event(0, "received", "tcp", peer, self.local, frame))
                    msg = parse_message(frame)
                    if msg is None:
                        continue
                    if found is None and match(msg):
                        found = (msg, sock)
                    elif len(self.pending) < 200:
                        self.pending.append((msg, sock))
            if found is not None:
                return found
        return None

    def send(self, conn: socket.socket, data: bytes, note: str = "") -> None:
        peer = self.conns[conn][1] if conn in self.conns else ("?", 0)
        self.ladder.add(Event(0, "sent", "tcp", self.local, peer, data, note))
        with contextlib.suppress(OSError):
            conn.sendall(data)

    def close(self) -> None:
        for conn in list(self.conns):
            with contextlib.suppress(OSError):
                conn.close()
        self.conns.clear()
        with contextlib.suppress(OSError):
            self.sock.close()


def _response_to(msg: Message, status: int, reason: str, tag: str = "") -> bytes:
    """A response to ``msg`` as its UAS builds it (§8.2.6): Via, From, To, Call-ID, CSeq."""
    to = msg.get("To") or ""
    if status > 100 and not msg.to_tag:
        to += f";tag={tag or unique('d')}"
    lines = [f"SIP/2.0 {status} {reason}", *(f"Via: {v}" for v in msg.get_all("Via"))]
    lines += [f"From: {msg.get('From')}", f"To: {to}", f"Call-ID: {msg.call_id}"]
    lines += [f"CSeq: {msg.get('CSeq')}", "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# --- §18.2.2: a response whose connection closed ---------------------------------------------


def _reconnect(ctx: Context, sent_by_host: str) -> None:
    """An INVITE left ringing over TCP, its connection closed, then CANCELled over a new one:
    the 487 must come over a connection the target opens to ``sent_by_host`` at the port of
    the runner's TCP server (the sent-by)."""
    exchange = _Exchange(ctx)
    link = ctx.link()
    exchange.control(link)
    try:
        server = _StreamServer(ctx, sent_by_host)
    except OSError as exc:
        ctx.inconclusive(f"cannot listen on {sent_by_host}: {exc}")
        return
    user = ctx.profile.ringing_user
    if exchange.down is None and not user:
        ctx.not_applicable("the profile names no ringing_user: no INVITE stays pending")
    req = exchange.request(link, method="INVITE", user=user or ctx.user)
    req.set("Via", f"SIP/2.0/TCP {server.hostport};branch={unique('z9hG4bK')}")
    link.send(bytes(req), "INVITE (left ringing)")
    downstream = None
    if exchange.down is not None:
        downstream = exchange.down.expect(lambda m: m.method == "INVITE", timeout=2.0)
        if downstream is None:
            ctx.inconclusive("the proxy did not forward the INVITE")
        assert downstream is not None
        exchange.down.send(_response_to(downstream[0], 180, "Ringing", "ring"), downstream[1])
    ring = link.expect(
        lambda m: m.is_response and m.branch == req.branch and (m.status or 0) > 100, 2.0
    )
    if ring is None or (ring.status or 0) >= 200:
        ctx.inconclusive(f"the INVITE did not ring ({describe(ring)})")
    assert ring is not None
    link.close()
    link.closed = True
    time.sleep(0.2)  # the target sees the connection close
    again = ctx.link()
    cancel = Outgoing("CANCEL", req.uri)
    for name in ("Via", "Max-Forwards", "From", "To", "Call-ID"):
        cancel.add(name, req.get(name) or "")
    cancel.add("CSeq", f"{req.cseq_number} CANCEL")
    again.send(bytes(cancel), "CANCEL over a new connection")
    if exchange.down is not None and downstream is not None:
        got = exchange.down.expect(lambda m: m.method == "CANCEL", timeout=2.0)
        if got is not None:
            exchange.down.send(_response_to(got[0], 200, "OK", "ring"), got[1])
        exchange.down.send(
            _response_to(downstream[0], 487, "Request Terminated", "ring"), downstream[1]
        )
    got = server.expect(lambda m: m.is_response and m.cseq[1] == "INVITE", timeout=2.0)
    if got is None:
        late = again.expect(lambda m: m.is_response and m.cseq[1] == "INVITE", timeout=0.1)
        ctx.check(
            False,
            f"the 487 over a new connection to {server.hostport}",
            f"it arrived on the CANCEL's connection: {describe(late)}" if late else "no 487",
        )
    assert got is not None
    msg, conn = got
    ack = Outgoing("ACK", req.uri)
    for name in ("Via", "Max-Forwards", "From", "Call-ID"):
        ack.add(name, req.get(name) or "")
    ack.add("To", msg.get("To") or "")
    ack.add("CSeq", f"{req.cseq_number} ACK")
    server.send(conn, bytes(ack), "ACK")
    if exchange.down is not None:
        exchange.down.expect(lambda m: m.method == "ACK", timeout=0.3)


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% If that connection is no longer open, the server SHOULD open a connection to the IP
##% address in the "received" parameter, if present, using the port in the "sent-by" value,
##% or the default port for that transport, if no port is specified.
@case(
    "transport-reconnect-for-response",
    roles=("uas", "proxy"),
    level="SHOULD",
    transports=("tcp",),
    preamble="an INVITE left ringing",
)
def reconnect_for_response(ctx: Context) -> None:
    """The INVITE's connection closed while it rings: its 487 (after a CANCEL) comes over a
    new connection to the sent-by."""
    _reconnect(ctx, "127.0.0.1")


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% If that connection attempt fails, the server SHOULD use the procedures in [4] for
##% servers in order to determine the IP address and port to open the connection and send
##% the response to.
@case(
    "transport-reconnect-fallback",
    roles=("uas", "proxy"),
    level="SHOULD",
    transports=("tcp",),
    preamble="an INVITE left ringing",
)
def reconnect_fallback(ctx: Context) -> None:
    """As above with sent-by 127.0.0.2 (received=127.0.0.1, where nothing listens on that
    port): after the refused connection, RFC 3263 §5 on the IP-literal sent-by reaches
    127.0.0.2."""
    _reconnect(ctx, "127.0.0.2")


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% If this fails, for example, elicits an ICMP "port unreachable" response, the procedures
##% of Section 5 of [4] SHOULD be used to determine where to send the response.
@case("transport-received-unreachable", roles=SERVERS, level="SHOULD", transports=("udp",))
def received_unreachable(ctx: Context) -> None:
    """Via sent-by 127.0.0.2:P (received=127.0.0.1, where nothing listens on P): after the
    ICMP port unreachable, RFC 3263 §5 on the IP-literal sent-by sends it to 127.0.0.2:P."""
    if ctx.target.family != socket.AF_INET:
        ctx.not_applicable("an IPv4 case (127.0.0.2)")
    exchange = _Exchange(ctx)
    link = ctx.link()
    exchange.control(link)
    try:
        there = _listener(ctx, "127.0.0.2")
    except OSError as exc:
        ctx.inconclusive(f"cannot listen on 127.0.0.2: {exc}")
        return
    req = exchange.request(link)
    req.set("Via", f"SIP/2.0/UDP {there.hostport};branch={unique('z9hG4bK')}")
    link.send(bytes(req))
    _final, place = exchange.final(req, [there, link], timeout=2.0)
    ctx.check(
        place is there,
        f"the response at {there.hostport} after 127.0.0.1:{there.local[1]} was unreachable",
        f"it arrived at {_where(place)}",
    )


# --- §18.2.1: where a server can be reached ------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
##= type=test
##% A server SHOULD be prepared to receive requests on any IP address, port and transport
##% combination that can be the result of a DNS lookup on a SIP or SIPS URI [4] that is
##% handed out for the purposes of communicating with that server.
@case("transport-handed-out-uri", roles=SERVERS, level="SHOULD")
def handed_out_uri(ctx: Context) -> None:
    """The URIs the target hands out for reaching it (the Contact of its answer, a proxy's
    Record-Route) with an IP-literal host answer requests at that address, port and
    transport."""
    exchange = _Exchange(ctx)
    link = ctx.link()
    uris: list[str] = []
    if exchange.down is not None:
        req = exchange.request(link, method="INVITE")
        link.send(bytes(req))
        got = exchange.down.expect(lambda m: m.method == "INVITE", timeout=2.0)
        if got is None:
            ctx.inconclusive("the proxy did not forward the INVITE")
        assert got is not None
        uris = [v for v in got[0].get_all("Record-Route")]
        exchange.down.send(_response_to(got[0], 486, "Busy Here"), got[1])
        final, _ = exchange.final(req, [link], timeout=2.0)
        ctx.finish_invite(link, req, final)
        exchange.down.expect(lambda m: m.method == "ACK", timeout=0.3)
    elif ctx.role == "uas":
        # a UAS hands out its Contact in the 2xx to INVITE (§12.1.1)
        invite = exchange.request(link, method="INVITE", body=_SDP)

        def call() -> tuple[Message | None, bool]:
            final, _ = ctx.transaction(link, invite, learn=False)
            ctx.finish_invite(link, invite, final)
            return final, final is not None and 200 <= (final.status or 0) < 300

        uris = list(ctx.controlled("INVITE", call, "a call to the target").get_all("Contact"))
    else:
        final = exchange.control(link)
        uris = list(final.get_all("Contact"))
    found = []
    for value in uris:
        for uri in re.findall(r"sips?:[^>,\s]+", value, re.I):
            host, port = uri_host_port(uri)
            scheme = uri.split(":", 1)[0].lower()
            transport = re.search(r";transport=(\w+)", uri, re.I)
            name = transport[1].lower() if transport else ("tls" if scheme == "sips" else "udp")
            if name in ("udp", "tcp", "tls") and is_ip_literal(host):
                found.append((host.strip("[]"), port or (5061 if name == "tls" else 5060), name))
    if not found:
        ctx.not_applicable("the target hands out no URI with an IP address in its answer")
    for host, port, name in found:
        target = Target(f"[{host}]" if ":" in host else host, port, name, "sip", ctx.user)
        try:
            other = Link(target, ctx.ladder, ctx.deadline)
        except OSError as exc:
            ctx.fail(f"requests taken at {host}:{port} over {name.upper()}", str(exc))
            return
        ctx.links.append(other)
        answer = exchange.send(other, exchange.request(other, target))
        ctx.check(
            answer is not None,
            f"an answer at {host}:{port} over {name.upper()} (a handed-out URI)",
            "no response",
        )


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
##= type=test
##% It is also RECOMMENDED that a server listen for requests on the default SIP ports (5060
##% for TCP and UDP, 5061 for TLS over TCP) on all public interfaces.
@case("transport-default-ports", roles=SERVERS, level="SHOULD")
def default_ports(ctx: Context) -> None:
    """A target on a default port (5060 or 5061) also answers over the other transports on
    their default ports; a target given on another port is the tester's choice."""
    if ctx.target.port not in (5060, 5061):
        ctx.not_applicable(f"the target was given on port {ctx.target.port}, not a default one")
    exchange = _Exchange(ctx)
    exchange.control(ctx.link())
    for transport, port in (("udp", 5060), ("tcp", 5060)):
        if transport == ctx.target.transport and port == ctx.target.port:
            continue
        target = dataclasses.replace(ctx.target, transport=transport, port=port, scheme="sip")
        try:
            other = Link(target, ctx.ladder, ctx.deadline)
        except OSError as exc:
            ctx.fail(f"a listener on {transport.upper()} {port}", str(exc))
            return
        ctx.links.append(other)
        answer = exchange.send(other, exchange.request(other, target))
        ctx.check(answer is not None, f"an answer over {transport.upper()} {port}", "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% If that connection is no longer open, the server SHOULD open a connection to the IP
##% address in the "received" parameter, if present, using the port in the "sent-by" value,
##% or the default port for that transport, if no port is specified.
@case("transport-half-closed-response", roles=SERVERS, level="SHOULD", transports=("tcp",))
def half_closed_response(ctx: Context) -> None:
    """The request's sender half-closes its connection right after the request: the
    response comes on it while the target keeps it open, else over a new connection to
    the sent-by; never nowhere."""
    exchange = _Exchange(ctx)
    exchange.control(ctx.link())
    try:
        server = _StreamServer(ctx)
    except OSError as exc:
        ctx.inconclusive(f"cannot listen on TCP: {exc}")
        return
    link = ctx.link()
    req = exchange.request(link)
    req.set("Via", f"SIP/2.0/TCP {server.hostport};branch={unique('z9hG4bK')}")
    link.send(bytes(req), "then our side of the connection shut")
    with contextlib.suppress(OSError):
        link.sock.shutdown(socket.SHUT_WR)
    end = time.monotonic() + 3.0
    where = ""
    while time.monotonic() < end and not where:
        exchange.answer_downstream(0.01)
        if link.expect(lambda m: m.is_response and m.branch == req.branch, 0.05):
            where = "on the request's connection, still open"
        elif server.expect(lambda m: m.is_response and m.branch == req.branch, 0.05):
            where = f"over a new connection to {server.hostport}"
    if where:
        ctx.notes.append(f"the response came {where}")
    ctx.check(bool(where), "the response on the connection or over a new one", "nowhere")
