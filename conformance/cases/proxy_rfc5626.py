"""RFC 5626 (outbound) seen at a proxy: the edge proxy (§5) routing requests back over the
UA's flow by the flow token of its Path (§5.1), 430 when that flow is gone (§5.3.1), the CRLF
keep-alive pong on TCP and STUN on the UDP port (§5.4, §8); the authoritative proxy (§7)
sending a request for an outbound binding over its flow, to one flow per instance at a time,
replacing a flow that failed with 430, never after another final response, and dropping
bindings whose connection closed; no 439 to a REGISTER without outbound (§11.6).

The edge cases are not applicable to a proxy that puts no Path with "ob" on an outbound
REGISTER (not an edge: sipref's proxy without ``--edge``, the Kamailio configuration of the
tests); the authoritative-proxy cases to one whose registrar does not bind with outbound (no
``Require: outbound`` in its 200: sipref's proxy without ``--outbound``).  The selftest
variant ``sipref-proxy-edge`` runs them against ``proxy --edge --outbound``.  The runner
plays the UA (one link per flow), the registrar behind the edge and the caller.
"""

from __future__ import annotations

import os
import socket
import struct
import time
import uuid
from dataclasses import replace

from conformance.cases._proxy_support import ack_upstream, arrives, final_of, reply
from conformance.cases.proxy import FORWARDED
from conformance.messages import Outgoing, make_request, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.target import Target
from conformance.wire import Link, Listener

#: load order of the case modules (conformance.discovery)
ORDER = 79

PROXY = ("proxy",)

#: STUN (RFC 5389): the magic cookie, Binding request/success response, XOR-MAPPED-ADDRESS
COOKIE = 0x2112A442
BINDING_REQUEST, BINDING_SUCCESS, XOR_MAPPED_ADDRESS = 0x0001, 0x0101, 0x0020


def _instance() -> str:
    return f'"<urn:uuid:{uuid.uuid4()}>"'


def _tcp_link(ctx: Context) -> tuple[Link, Target]:
    """A TCP connection to the proxy's port (a flow of its own); not applicable without."""
    target = replace(ctx.target, transport="tcp")
    try:
        link = Link(target, ctx.ladder, ctx.deadline)
    except OSError as exc:
        ctx.not_applicable(f"the proxy takes no TCP connection on its port ({exc})")
    ctx.links.append(link)
    return link, target


def _answer(link: Link, msg: Message, status: int, reason: str = "Whatever") -> None:
    """Answer a request the proxy sent to the runner's UA over ``link`` (§8.2.6)."""
    to = msg.get("To") or ""
    lines = [f"SIP/2.0 {status} {reason}"]
    lines += [f"Via: {v}" for v in msg.get_all("Via")]
    lines += [
        f"From: {msg.get('From')}",
        f"To: {to}" + ("" if "tag=" in to or status == 100 else f";tag={unique('u')}"),
        f"Call-ID: {msg.call_id}",
        f"CSeq: {msg.get('CSeq')}",
        "Content-Length: 0",
    ]
    link.send(("\r\n".join(lines) + "\r\n\r\n").encode(), f"{status} (from the UA's flow)")


def _request_on(link: Link, method: str, call_id: str, timeout: float) -> Message | None:
    return link.expect(
        lambda m: not m.is_response and m.method == method and m.call_id == call_id,
        timeout=timeout,
    )


# --- the edge proxy (§5) ------------------------------------------------------------------


def _edge_register(
    ctx: Context, link: Link, target: Target, down: Listener, contact_port: int
) -> str:
    """An outbound REGISTER over ``link`` through the edge to the runner's registrar at
    ``down``, its Contact naming ``contact_port`` (not the flow); the edge's Path URI.
    Not applicable when the proxy adds no Path with "ob" (not an RFC 5626 edge)."""
    user = unique("ob")
    extra = [("Supported", "outbound, path"), ("Expires", "60")]
    req = make_request("REGISTER", target, link.sent_by, uri=f"sip:{down.hostport}", extra=extra)
    req.set("To", f"<sip:{user}@{down.hostport}>")
    contact = f"<sip:{user}@127.0.0.1:{contact_port};ob>;reg-id=1;+sip.instance={_instance()}"
    req.set("Contact", contact)
    with ctx.preamble("an outbound REGISTER through the edge proxy"):
        link.send(bytes(req))
        got = arrives(down, "REGISTER", req.call_id)
        if got is None:
            ctx.inconclusive(f"the REGISTER was not forwarded ({describe(final_of(link, req))})")
        assert got is not None
        contact = f"{got[0].get('Contact')};expires=60"
        reply(down, got, 200, extra=[("Contact", contact), ("Require", "outbound")])
        final_of(link, req)
    paths = [v.strip() for line in got[0].get_all("Path") for v in line.split(",")]
    if not paths or ";ob" not in paths[0].split(">", 1)[0]:
        ctx.not_applicable('no Path with "ob" on an outbound REGISTER: not an RFC 5626 edge proxy')
    return paths[0]


def _back_through(ctx: Context, down: Listener, path: str) -> Outgoing:
    """The registrar side's MESSAGE for the UA, routed to the edge by its Path value."""
    uri = f"sip:ua@{down.hostport}"
    req = Outgoing("MESSAGE", uri)
    req.add("Via", f"SIP/2.0/UDP {down.hostport};branch={unique('z9hG4bK')};rport")
    req.add("Max-Forwards", "70")
    req.add("Route", path)
    req.add("From", f"<sip:caller@{down.hostport}>;tag={unique('t')}")
    req.add("To", "<sip:ua@127.0.0.1>")
    req.add("Call-ID", unique("c") + "@conformance.invalid")
    req.add("CSeq", "1 MESSAGE")
    down.send(bytes(req), ctx.target.address, "MESSAGE along the Path (from the registrar side)")
    return req


def _final_at(down: Listener, req: Outgoing, timeout: float = 2.0) -> Message | None:
    got = down.expect(
        lambda m: m.is_response and m.call_id == req.call_id and (m.status or 0) >= 200,
        timeout=timeout,
    )
    return got[0] if got is not None else None


##= https://www.rfc-editor.org/rfc/rfc5626#section-5.1
##= type=test
##% In addition, if the edge proxy is the first SIP node after the UAC, the edge proxy either
##% MUST store a "flow token" (containing information about the flow from the previous hop) in
##% its Path URI or reject the request.
@case("proxy-5626-edge-routes-over-flow", roles=PROXY, transports=("udp",), no_control=FORWARDED)
def routes_over_flow(ctx: Context) -> None:
    """A request routed to the edge's Path URI reaches the UA over its flow.

    The UA's REGISTER names another port in its Contact than the one it sent from: the
    MESSAGE the registrar side routes by the Path arrives at the flow's socket, which only
    the flow token in the Path URI can tell the edge."""
    link, down, decoy = ctx.link(), ctx.listener(), ctx.listener()
    path = _edge_register(ctx, link, ctx.target, down, decoy.local[1])
    req = _back_through(ctx, down, path)
    got = _request_on(link, "MESSAGE", req.call_id, timeout=2.0)
    if got is not None:
        _answer(link, got, 200, "OK")
    stray = arrives(decoy, "MESSAGE", req.call_id, timeout=0.1)
    final = _final_at(down, req)
    ctx.check(
        got is not None,
        "the MESSAGE over the UA's flow",
        "at the Contact's port instead" if stray is not None else f"not there ({describe(final)})",
    )


##= https://www.rfc-editor.org/rfc/rfc5626#section-5.3.1
##= type=test
##% If the flow no longer exists, the proxy SHOULD send a 430 (Flow Failed) response to the
##% request.
@case(
    "proxy-5626-edge-430-flow-gone",
    roles=PROXY,
    level="SHOULD",
    transports=("udp",),
    no_control="the same routing over the live flow is the edge-routes-over-flow case",
)
def flow_gone(ctx: Context) -> None:
    """A request routed to the Path URI of a TCP flow that closed gets 430 (Flow Failed)."""
    link, target = _tcp_link(ctx)
    down, decoy = ctx.listener(), ctx.listener()
    path = _edge_register(ctx, link, target, down, decoy.local[1])
    link.close()
    time.sleep(0.2)  # the edge sees the connection close
    req = _back_through(ctx, down, path)
    final = _final_at(down, req)
    stray = arrives(decoy, "MESSAGE", req.call_id, timeout=0.05)
    if stray is not None:
        reply(decoy, stray, 200)
    ctx.should(
        final is not None and final.status == 430,
        "430 (Flow Failed)",
        describe(final) + (" (sent to the Contact instead)" if stray is not None else ""),
    )


##= https://www.rfc-editor.org/rfc/rfc5626#section-5.4
##= type=test
##% When a server receives a double CRLF sequence between SIP messages on a connection-oriented
##% transport such as TCP or SCTP, it MUST immediately respond with a single CRLF over the same
##% connection.
@case(
    "proxy-5626-edge-crlf-pong",
    roles=PROXY,
    transports=("udp",),
    no_control="an outbound REGISTER through the edge shows it implements RFC 5626 first",
)
def crlf_pong(ctx: Context) -> None:
    """A double CRLF on a TCP connection to the edge is answered by a single CRLF."""
    _edge_register(ctx, ctx.link(), ctx.target, ctx.listener(), 9)
    try:
        sock = socket.create_connection(ctx.target.address, timeout=1.0)
    except OSError as exc:
        ctx.not_applicable(f"the proxy takes no TCP connection on its port ({exc})")
    with sock:
        sock.sendall(b"\r\n\r\n")
        got = b""
        end = time.monotonic() + 1.0
        while len(got) < 2 and (left := end - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data = sock.recv(64)
            except OSError:
                break
            if not data:
                break
            got += data
    ctx.notes.append(f"answer to CRLFCRLF over TCP: {got!r}")
    ctx.check(got == b"\r\n", "a single CRLF", repr(got) if got else "nothing")


def _stun(ctx: Context) -> tuple[int, tuple[str, int] | None, tuple[str, int]]:
    """A STUN Binding request to the proxy's UDP port: (response type, XOR-MAPPED-ADDRESS,
    the address it was sent from); type 0 when nothing came back."""
    txid = os.urandom(12)
    request = struct.pack("!HHI", BINDING_REQUEST, 0, COOKIE) + txid
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        local = sock.getsockname()[:2]
        data = b""
        for _ in range(3):  # UDP: repeat a lost request
            sock.sendto(request, ctx.target.address)
            sock.settimeout(0.4)
            try:
                data = sock.recv(2048)
                break
            except OSError:
                continue
    if len(data) < 20 or data[8:20] != txid:
        return 0, None, local
    kind, length = struct.unpack("!HH", data[:4])
    at, mapped = 20, None
    while at + 4 <= min(len(data), 20 + length):
        attr, size = struct.unpack("!HH", data[at : at + 4])
        value = data[at + 4 : at + 4 + size]
        if attr == XOR_MAPPED_ADDRESS and size >= 8 and value[1] == 0x01:
            port = struct.unpack("!H", value[2:4])[0] ^ (COOKIE >> 16)
            raw = struct.unpack("!I", value[4:8])[0] ^ COOKIE
            mapped = (socket.inet_ntoa(struct.pack("!I", raw)), port)
        at += 4 + size + (-size % 4)
    return kind, mapped, local


##= https://www.rfc-editor.org/rfc/rfc5626#section-5.4
##= type=test
##% All edge proxies compliant with this specification MUST implement support for STUN NAT
##% keep-alives on their SIP UDP ports as described in Section 8.
##= https://www.rfc-editor.org/rfc/rfc5626#section-8
##= type=test
##% The UAS, proxy, or registrar responds to a valid Binding Request with a Binding Response
##% that MUST include the XOR-MAPPED-ADDRESS attribute.
##= https://www.rfc-editor.org/rfc/rfc5626#section-8
##= type=test
##% If a server compliant to this section receives SIP requests on a given interface and UDP
##% port, it MUST also provide a limited version of a STUN server on the same interface and
##% UDP port.
@case(
    "proxy-5626-edge-stun-keepalive",
    roles=PROXY,
    transports=("udp",),
    no_control="an outbound REGISTER through the edge shows it implements RFC 5626 first",
)
def stun_keepalive(ctx: Context) -> None:
    """A STUN Binding request on the edge's SIP UDP port gets a Binding success response
    whose XOR-MAPPED-ADDRESS is the address the request came from."""
    _edge_register(ctx, ctx.link(), ctx.target, ctx.listener(), 9)
    kind, mapped, local = _stun(ctx)
    ctx.notes.append(f"STUN answer type {kind:#06x}, XOR-MAPPED-ADDRESS {mapped}")
    ctx.check(kind == BINDING_SUCCESS, "a Binding success response", f"type {kind:#06x}", 2)
    ctx.check(mapped == local, f"XOR-MAPPED-ADDRESS {local}", str(mapped), 1)


# --- the authoritative proxy (§7) -----------------------------------------------------------


def _bind_flows(
    ctx: Context,
    flows: list[tuple[Link, Target]],
    instance: str,
    decoy: Listener,
    finals: list[Message] | None = None,
) -> str:
    """Register one outbound binding per flow (reg-id 1, 2, ...) for a fresh AOR of the
    proxy's domain, all with ``instance`` and a Contact naming ``decoy`` (not a flow); the
    AOR.  Not applicable when the registrar binds without outbound."""
    user = unique("auth")
    domain = ctx.profile.domain or ctx.target.hostport
    aor = f"sip:{user}@{domain}"
    with ctx.preamble(f"{len(flows)} outbound flows registered for one instance"):
        for reg_id, (link, target) in enumerate(flows, 1):
            # a Contact URI per flow: sipref's registrar keys bindings by Contact URI, and one
            # URI registered with reg-id 1 then 2 leaves one binding (its §6 is not judged here)
            uri = f"sip:{user}@{decoy.hostport};ob;line={reg_id}"
            contact = f"<{uri}>;reg-id={reg_id};+sip.instance={instance}"
            req = make_request(
                "REGISTER",
                target,
                link.sent_by,
                uri=f"sip:{domain}",
                to=f"<{aor}>",
                extra=[("Supported", "outbound, path"), ("Expires", "60")],
            )
            req.set("From", f"<{aor}>;tag={unique('t')}")
            req.set("Contact", contact)
            final, _ = ctx.transaction(link, req, learn=False)
            if final is None or not 200 <= (final.status or 0) < 300:
                ctx.inconclusive(f"the REGISTER got {describe(final)}")
            assert final is not None
            if finals is not None:
                finals.append(final)
            tags = [t.strip().lower() for v in final.get_all("Require") for t in v.split(",")]
            if "outbound" not in tags:
                ctx.not_applicable(
                    "the registrar bound without outbound (no Require: outbound in its 200)"
                )
    ctx.on_teardown(f"un-REGISTER {aor}", lambda: _unregister(ctx, aor, domain))
    return aor


def _unregister(ctx: Context, aor: str, domain: str) -> bool:
    link = ctx.link()
    req = ctx.request(
        "REGISTER",
        link,
        uri=f"sip:{domain}",
        to=f"<{aor}>",
        extra=[("Expires", "0")],
    )
    req.set("Contact", "*")
    req.set("From", f"<{aor}>;tag={unique('t')}")
    final, _ = ctx.transaction(link, req, learn=False)
    return final is not None and 200 <= (final.status or 0) < 300


def _call(ctx: Context, aor: str) -> tuple[Link, Outgoing]:
    caller = ctx.link()
    req = ctx.request("INVITE", caller, uri=aor)
    caller.send(bytes(req), "INVITE for the AOR")
    return caller, req


def _first_arrival(
    flows: list[Link], call_id: str, timeout: float
) -> tuple[int, Message] | tuple[None, None]:
    """Which flow the INVITE reached first (its index) and the copy."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for i, link in enumerate(flows):
            got = _request_on(link, "INVITE", call_id, timeout=0.05)
            if got is not None:
                return i, got
    return None, None


def _end_call(caller: Link, req: Outgoing) -> Message | None:
    final = final_of(caller, req, timeout=2.0)
    ack_upstream(caller, req, final)
    return final


##= https://www.rfc-editor.org/rfc/rfc5626#section-7
##= type=test
##% The proxy MUST NOT populate the target set with more than one contact with the same AOR
##% and instance-id at a time.
##= https://www.rfc-editor.org/rfc/rfc5626#section-7
##= type=test
##% If the proxy is co-located with the registrar and stored information about the flow to the
##% UA that created the binding, then the proxy MUST send the request over the same 'logical
##% flow' saved with the binding, since that flow is known to deliver data to the specific
##% target UA instance's network flow that was saved with the binding.
##= https://www.rfc-editor.org/rfc/rfc5626#section-7
##= type=test
##% If a request for a particular AOR and instance-id fails with a 430 (Flow Failed) response,
##% the proxy SHOULD replace the failed branch with another target (if one is available) with
##% the same AOR and instance-id, but a different reg-id.
##= https://www.rfc-editor.org/rfc/rfc5626#section-11.5
##= type=test
##% The Authoritative Proxy SHOULD attempt to forward to another target (flow) with the same
##% instance-id and AOR.
@case(
    "proxy-5626-one-flow-then-next-on-430", roles=PROXY, transports=("udp",), no_control=FORWARDED
)
def one_flow_then_next(ctx: Context) -> None:
    """An INVITE for an AOR with two flows of one instance goes over one flow only; a 430
    from it sends the INVITE over the other flow.

    The Contacts name a port that is no flow: the INVITE must come over a flow."""
    flows = [ctx.link(), ctx.link()]
    decoy = ctx.listener()
    aor = _bind_flows(ctx, [(f, ctx.target) for f in flows], _instance(), decoy)
    caller, req = _call(ctx, aor)
    first, got = _first_arrival(flows, req.call_id, timeout=2.0)
    stray = arrives(decoy, "INVITE", req.call_id, timeout=0.05)
    if first is None or got is None:
        final = _end_call(caller, req)
        ctx.fail(
            "the INVITE over one of the UA's flows",
            "at the Contact's address" if stray is not None else f"none ({describe(final)})",
            1,
        )
    assert first is not None and got is not None
    other = flows[1 - first]
    both = _request_on(other, "INVITE", req.call_id, timeout=0.3)
    ctx.check(both is None, "the INVITE over one flow of the instance only", "over both", 0)
    _answer(flows[first], got, 430, "Flow Failed")
    flows[first].expect(lambda m: m.method == "ACK", timeout=0.3)
    retry = _request_on(other, "INVITE", req.call_id, timeout=1.5)
    if retry is not None:
        _answer(other, retry, 486, "Busy Here")
        other.expect(lambda m: m.method == "ACK", timeout=0.3)
    final = _end_call(caller, req)
    ctx.should(retry is not None, "the INVITE retried over the other flow", describe(final))


##= https://www.rfc-editor.org/rfc/rfc5626#section-7
##= type=test
##% If the proxy receives a final response from a branch other than a 408 (Request Timeout) or
##% a 430 (Flow Failed) response, the proxy MUST NOT forward the same request to another target
##% representing the same AOR and instance-id.
@case("proxy-5626-no-other-flow-after-486", roles=PROXY, transports=("udp",), no_control=FORWARDED)
def no_other_flow(ctx: Context) -> None:
    """A 486 from the flow that got the INVITE ends it: not sent over the other flow."""
    flows = [ctx.link(), ctx.link()]
    aor = _bind_flows(ctx, [(f, ctx.target) for f in flows], _instance(), ctx.listener())
    caller, req = _call(ctx, aor)
    first, got = _first_arrival(flows, req.call_id, timeout=2.0)
    if first is None or got is None:
        _end_call(caller, req)
        ctx.inconclusive("the INVITE reached none of the UA's flows")
    assert first is not None and got is not None
    _answer(flows[first], got, 486, "Busy Here")
    flows[first].expect(lambda m: m.method == "ACK", timeout=0.3)
    other = flows[1 - first]
    again = _request_on(other, "INVITE", req.call_id, timeout=0.8)
    if again is not None:
        _answer(other, again, 486, "Busy Here")
    final = _end_call(caller, req)
    ctx.check(again is None, "no INVITE over the other flow", f"sent there ({describe(final)})")


##= https://www.rfc-editor.org/rfc/rfc5626#section-7
##= type=test
##% If a proxy or registrar receives information from the network that indicates that no future
##% messages will be delivered on a specific flow, then the proxy MUST invalidate all the
##% bindings in the target set that use that flow (regardless of AOR).
@case("proxy-5626-closed-flow-invalidated", roles=PROXY, transports=("udp",), no_control=FORWARDED)
def closed_flow(ctx: Context) -> None:
    """A binding over a TCP connection that closed is no target: an INVITE for the AOR gets
    an error response and reaches nothing (nor the Contact's address)."""
    link, target = _tcp_link(ctx)
    decoy = ctx.listener()
    aor = _bind_flows(ctx, [(link, target)], _instance(), decoy)
    link.close()
    time.sleep(0.2)  # the proxy sees the connection close
    caller, req = _call(ctx, aor)
    stray = arrives(decoy, "INVITE", req.call_id, timeout=0.5)
    if stray is not None:
        reply(decoy, stray, 486)
    final = _end_call(caller, req)
    ctx.check(
        stray is None and final is not None and 400 <= (final.status or 0) < 600,
        "an error response, the INVITE sent nowhere",
        ("sent to the Contact's address; " if stray is not None else "") + describe(final),
    )


##= https://www.rfc-editor.org/rfc/rfc5626#section-11.6
##= type=test
##% Proxies MUST NOT send a 439 response to any requests that do not contain a "reg-id"
##% parameter and an outbound option tag in a Supported header field.
@case(
    "proxy-5626-no-439-without-outbound",
    roles=PROXY,
    no_control="the REGISTER is itself plain: a refusal other than 439 is no verdict",
)
def no_439(ctx: Context) -> None:
    """A REGISTER without reg-id and without ``Supported: outbound`` never gets 439 (First
    Hop Lacks Outbound Support), whether the proxy registers it or forwards it."""
    link, down = ctx.link(), ctx.listener()
    user = unique("plain")
    req = ctx.request(
        "REGISTER",
        link,
        uri=f"sip:{down.hostport}",
        to=f"<sip:{user}@{down.hostport}>",
        extra=[("Expires", "60")],
    )
    req.set("Contact", f"<sip:{user}@{link.sent_by}>")
    link.send(bytes(req))
    got = arrives(down, "REGISTER", req.call_id, timeout=2.0)
    if got is not None:
        reply(down, got, 200, extra=[("Contact", f"{got[0].get('Contact')};expires=60")])
    final = final_of(link, req, timeout=1.0)
    ctx.check(final is None or final.status != 439, "anything but 439", describe(final))


##= https://www.rfc-editor.org/rfc/rfc5626#section-5.4
##= type=test
##% The server MUST wait for an amount of time larger than the Flow-Timer in order to have a
##% grace period to account for transport delay.
@case("proxy-5626-flow-timer-grace", roles=PROXY, transports=("udp",), no_control=FORWARDED)
def flow_timer_grace(ctx: Context) -> None:
    """A TCP flow left silent for just over the Flow-Timer the 200 gave is still the
    binding's flow: an INVITE for the AOR then comes over it.

    Not applicable when the registrar gives no Flow-Timer, or one over 3 s (too long for a
    case to wait)."""
    link, target = _tcp_link(ctx)
    finals: list[Message] = []
    aor = _bind_flows(ctx, [(link, target)], _instance(), ctx.listener(), finals)
    try:
        seconds = int((finals[0].get("Flow-Timer") or "").strip())
    except ValueError:
        ctx.not_applicable("no Flow-Timer in the registrar's 200 (it is a MAY, §6)")
    if seconds > 3:
        ctx.not_applicable(f"a Flow-Timer of {seconds} s: too long to outwait in a case")
    time.sleep(seconds + 0.5)
    caller, req = _call(ctx, aor)
    got = _request_on(link, "INVITE", req.call_id, timeout=2.0)
    if got is not None:
        _answer(link, got, 486, "Busy Here")
    final = _end_call(caller, req)
    ctx.check(
        got is not None,
        f"the INVITE over the flow silent for {seconds + 0.5} s",
        f"not there ({describe(final)}; the connection {'closed' if link.closed else 'open'})",
    )


##= https://www.rfc-editor.org/rfc/rfc5626#section-7
##= type=test
##% Similarly, if a proxy closes a file descriptor, it MUST invalidate all the bindings in the
##% target set with flows that use that file descriptor.
@case("proxy-5626-own-close-invalidates", roles=PROXY, transports=("udp",), no_control=FORWARDED)
def own_close(ctx: Context) -> None:
    """A binding over a TCP connection the proxy itself closed is no target.

    After the outbound REGISTER, the UA sends a request without Content-Length on the
    connection: a stream that cannot be framed, which a server drops (RFC 3261 §18.3).  Once
    the proxy has closed it, an INVITE for the AOR reaches nothing and gets an error.  Not
    applicable when the proxy keeps the connection open."""
    link, target = _tcp_link(ctx)
    decoy = ctx.listener()
    aor = _bind_flows(ctx, [(link, target)], _instance(), decoy)
    unframed = (
        f"OPTIONS {aor} SIP/2.0\r\nVia: SIP/2.0/TCP {link.sent_by};branch={unique('z9hG4bK')}\r\n"
        "Max-Forwards: 70\r\nCall-ID: x@conformance.invalid\r\nCSeq: 1 OPTIONS\r\n\r\n"
    )
    link.send(unframed.encode(), "a request without Content-Length (unframeable)")
    link.expect(lambda m: False, timeout=1.0)
    if not link.closed:
        ctx.not_applicable("the proxy kept the connection open (it closed no descriptor)")
    caller, req = _call(ctx, aor)
    stray = arrives(decoy, "INVITE", req.call_id, timeout=0.5)
    if stray is not None:
        reply(decoy, stray, 486)
    final = _end_call(caller, req)
    ctx.check(
        stray is None and final is not None and 400 <= (final.status or 0) < 600,
        "an error response, the INVITE sent nowhere",
        ("sent to the Contact's address; " if stray is not None else "") + describe(final),
    )
