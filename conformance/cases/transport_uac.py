"""A UAC's transport on the wire (RFC 3261 §18.1.1, §18.1.2, §18.3), over UDP: how it frames
the responses it receives, and where it takes them from.

The target sends an OPTIONS (``[uac] options``); its client transaction retransmits it (Timer
E, §17.1.2.2) until a final response is taken, so whether it took one shows on the wire:
copies stop, or go on.
"""

from __future__ import annotations

import contextlib
import shlex
import socket
import subprocess
import time

from conformance.cases.transport_server import _response_to, _StreamServer
from conformance.messages import unique
from conformance.model import Context, case
from conformance.sipmsg import Message, StreamBuffer
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer, fill, sdp_answer
from conformance.wire import CaseTimeout

#: load order of the case modules (conformance.discovery)
ORDER = 84

ASKED = "an OPTIONS from the target ([uac] options)"


def _copies_after(peer: Peer, first: Message, window: float) -> int:
    """Copies of ``first`` (same branch) arriving within ``window`` seconds, those that
    crossed the response on the way (the first 50 ms) left out."""
    time.sleep(0.05)
    peer.server.pending = [
        (m, a) for m, a in peer.server.pending if m.branch != first.branch or m.method is None
    ]
    got = peer.collect(lambda m: m.method == first.method and m.branch == first.branch, window)
    return len(got)


def _window(ctx: Context) -> float:
    """Long enough for two Timer E retransmissions (T1, then 2*T1) on a loaded machine."""
    return 4 * ctx.profile.t1 + 0.4


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% If there are additional bytes in the transport packet beyond the end of the body, they
##% MUST be discarded.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.2
##= type=test
##% If there is a match, the response MUST be passed to that transaction.
@case(
    "uac-transport-bytes-beyond-body",
    roles=UAC,
    transports=("udp",),
    preamble=ASKED,
    no_control=RUNNER_ANSWERS,
)
def bytes_beyond_body(ctx: Context) -> None:
    """A 200 datagram with bytes after its Content-Length's end is taken: the OPTIONS is not
    retransmitted after it."""
    peer = Peer(ctx, "options")
    first, addr = peer.first("OPTIONS", ASKED)
    data = peer.response(first, 200) + b"bytes beyond Content-Length\r\n"
    peer.send(data, addr, "200 with bytes beyond the body")
    copies = _copies_after(peer, first, _window(ctx))
    ctx.check(copies == 0, "the 200 taken: no more copies of the OPTIONS", f"{copies} more")


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% If the message is a response, it MUST be discarded.
@case(
    "uac-transport-short-response",
    roles=UAC,
    transports=("udp",),
    preamble=ASKED,
    no_control="the complete 200 that follows the truncated one must stop the copies",
)
def short_response(ctx: Context) -> None:
    """A 200 datagram shorter than its Content-Length is discarded: the OPTIONS is still
    retransmitted; the complete 200 then stops it."""
    peer = Peer(ctx, "options")
    first, addr = peer.first("OPTIONS", ASKED)
    whole = peer.response(first, 200)
    head = whole.replace(b"Content-Length: 0", b"Content-Type: text/plain\r\nContent-Length: 99")
    peer.send(head + b"twenty bytes of body", addr, "200 shorter than its Content-Length")
    copies = _copies_after(peer, first, _window(ctx))
    ctx.check(copies > 0, "the truncated 200 discarded: the OPTIONS retransmitted", "no copy")
    peer.send(whole, addr, "the complete 200")
    after = _copies_after(peer, first, _window(ctx))
    if after:
        ctx.inconclusive(f"the complete 200 did not stop the copies either ({after} more)")


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% The client MUST be prepared to receive responses on any address and port that would be
##% selected by a server based on the procedures described in Section 5 of [4].
@case(
    "uac-transport-response-from-elsewhere",
    roles=UAC,
    transports=("udp",),
    preamble=ASKED,
    no_control=RUNNER_ANSWERS,
)
def response_from_elsewhere(ctx: Context) -> None:
    """The 200 comes from another socket of the runner's (another source port), sent to the
    Via's sent-by: it is taken all the same."""
    peer = Peer(ctx, "options")
    first, addr = peer.first("OPTIONS", ASKED)
    other = ctx.listener()
    parts = first.top_via.split()
    sent_by = parts[1].split(";")[0] if len(parts) > 1 else ""
    host, _, port = sent_by.rpartition(":")
    dest = (host.strip("[]"), int(port)) if port.isdigit() else (sent_by, 5060)
    if not host or not host.replace(".", "").isdigit():
        dest = addr  # a name in sent-by: RFC 3263 §5 would need DNS; the source will do
    other.send(peer.response(first, 200), dest, "200 from another socket")
    copies = _copies_after(peer, first, _window(ctx))
    ctx.check(copies == 0, "the 200 taken: no more copies of the OPTIONS", f"{copies} more")


# --- over TCP -----------------------------------------------------------------------------


class _TcpTrigger:
    """The profile's trigger of ``kind`` made to call the runner over TCP: ``{uri}`` gets
    ``;transport=tcp`` (SIPp's command gets ``-t t1``); the runner's end is a TCP server."""

    def __init__(self, ctx: Context, kind: str) -> None:
        command = ctx.profile.triggers.get(kind, "")
        if not command:
            ctx.not_applicable(f"the profile cannot make the target send {kind} ([uac] {kind})")
        self.ctx = ctx
        self.process: subprocess.Popen[bytes] | None = None
        self.server = _StreamServer(ctx)
        hostport = self.server.hostport
        filled = fill(command, ctx.profile, hostport)
        uri = f"sip:uas@{hostport}"
        if uri in filled:
            filled = filled.replace(uri, f"{uri};transport=tcp")
        elif shlex.split(filled)[0].endswith("sipp"):
            filled += " -t t1"
        else:
            ctx.not_applicable(f"the [uac] {kind} command takes no {{uri}} to ask for TCP with")
        try:
            self.process = subprocess.Popen(
                shlex.split(filled),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError as exc:
            ctx.inconclusive(f"the [uac] {kind} command did not start: {exc}")
        ctx.on_teardown(f"the {kind} trigger stopped", self.close)

    def close(self) -> bool:
        if self.process is None:
            return True
        with contextlib.suppress(OSError):
            self.process.terminate()
        end = time.monotonic() + 1.0
        while self.process.poll() is None and time.monotonic() < end:
            with contextlib.suppress(CaseTimeout):
                got = self.server.expect(lambda m: m.method is not None, timeout=0.05)
                if got is not None and got[0].method != "ACK":
                    self.server.send(got[1], _response_to(got[0], 200, "OK"), "postamble")
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=2)
        return True


##= https://www.rfc-editor.org/rfc/rfc3261#section-18
##= type=test
##% All SIP elements MUST implement UDP and TCP.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% The Content-Length header field MUST be used with stream oriented transports.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.14
##= type=test
##% If a stream-based protocol (such as TCP) is used as transport, the header field MUST be
##% used.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.5
##= type=test
##% Implementations processing SIP messages over stream-oriented transports MUST ignore any
##% CRLF appearing before the start-line [H4.1].
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% Therefore, the client transport MUST be prepared to receive the response on the same
##% connection used to send the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% If a request is destined to an IP address, port, and transport to which an existing
##% connection is open, it is RECOMMENDED that this connection be used to send the request
@case(
    "uac-transport-tcp",
    roles=UAC,
    timeout=30,
    preamble="a call from the target to a transport=tcp URI ([uac] bye)",
    no_control=RUNNER_ANSWERS,
)
def uac_over_tcp(ctx: Context) -> None:
    """Asked to call a ``transport=tcp`` URI, the UAC sends its INVITE over TCP with a
    Content-Length, and takes the 200 sent back on that connection after a CRLF: it ACKs."""
    trigger = _TcpTrigger(ctx, "bye")
    got = trigger.server.expect(lambda m: m.method == "INVITE", timeout=10.0)
    if got is None:
        ctx.fail("an INVITE over TCP", "none within 10 s", requirement=0)
    assert got is not None
    invite, conn = got
    ctx.check(invite.get("Content-Length") is not None, "a Content-Length", "none", 1)
    lines = _response_to(invite, 200, "OK", unique("u")).decode().split("\r\n")
    body = sdp_answer(invite.body or b"")
    head = [line for line in lines if line and not line.startswith("Content-Length")]
    head += [
        f"Contact: <sip:uas@{trigger.server.hostport};transport=tcp>",
        "Content-Type: application/sdp",
        f"Content-Length: {len(body)}",
    ]
    answer = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    # the same connection as the INVITE (§18.1.1), a CRLF before the start-line (§7.5): a
    # UAC that does not ignore the CRLF never takes the 200 (a fail of §7.5)
    trigger.server.send(conn, b"\r\n" + answer, "a CRLF, then the 200")
    ack = trigger.server.expect(lambda m: m.method == "ACK", timeout=3.0)
    ctx.check(ack is not None, "the 200 taken: an ACK", "no ACK", requirement=3)
    bye = trigger.server.expect(lambda m: m.method == "BYE", timeout=4.0)
    if bye is not None:
        trigger.server.send(bye[1], _response_to(bye[0], 200, "OK"), "200 to BYE")
    # the ACK (and BYE) go to the Contact: the address, port and transport of the open
    # connection the INVITE went over
    assert ack is not None
    ctx.check(
        ack[1] is conn and (bye is None or bye[1] is conn),
        "the ACK and the BYE over the INVITE's connection",
        f"{trigger.server.accepted} connections",
        requirement=5,
        level="SHOULD",
    )


# --- §18.1.1: a request too large for UDP ---------------------------------------------------


def _request(msg: Message) -> bool:
    return msg.method is not None and msg.method != "ACK"


LARGE = "a request of over 1300 bytes from the target ([uac] large_request)"


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% If a request is within 200 bytes of the path MTU, or if it is larger than 1300 bytes and
##% the path MTU is unknown, the request MUST be sent using an RFC 2914 [43] congestion
##% controlled transport protocol, such as TCP.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% If this causes a change in the transport protocol from the one indicated in the top Via,
##% the value in the top Via MUST be changed.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18
##= type=test
##% It has arisen out of the need to handle larger messages, which MUST use TCP, as discussed
##% below.
@case(
    "uac-transport-large-request-tcp",
    roles=UAC,
    transports=("udp",),
    preamble=LARGE,
    no_control=RUNNER_ANSWERS,
)
def large_request_tcp(ctx: Context) -> None:
    """A request of over 1300 bytes for a URI without transport comes over TCP (to the same
    port), its top Via saying TCP."""
    peer = Peer(ctx, "large_request")
    try:
        server = _StreamServer(ctx, port=peer.server.local[1])
    except OSError as exc:
        ctx.inconclusive(f"the runner's port is taken over TCP: {exc}")
        return
    got = server.expect(_request, timeout=peer.wait)
    if got is None:
        on_udp = peer.expect(_request, timeout=0.5)
        if on_udp is None:
            ctx.inconclusive("the target sent no request")
        assert on_udp is not None
        peer.ok(*on_udp)
        ctx.fail("the large request over TCP", f"it came over UDP ({on_udp[0].method})")
    assert got is not None
    msg, conn = got
    server.send(conn, _response_to(msg, 200, "OK"), "200")
    size = len(msg.raw)
    ctx.check(size > 1300, "a request over 1300 bytes", f"about {size} bytes")
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
@case(
    "uac-transport-large-request-udp-fallback",
    roles=UAC,
    level="SHOULD",
    transports=("udp",),
    preamble=LARGE,
    no_control=RUNNER_ANSWERS,
)
def large_request_fallback(ctx: Context) -> None:
    """With nothing on TCP at the runner's port (a reset), the large request comes over UDP
    after all."""
    peer = Peer(ctx, "large_request")
    got = peer.expect(_request, timeout=peer.wait)
    if got is not None:
        peer.ok(*got)
    ctx.check(got is not None, "the request retried over UDP", "nothing over UDP")


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% To handle this case, the transport layer MUST also be prepared to receive an incoming
##% connection on the source IP address from which the request was sent and port number in
##% the "sent-by" field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% It also MUST be prepared to receive incoming connections on any address and port that
##% would be selected by a server based on the procedures described in Section 5 of [4].
@case(
    "uac-transport-response-new-connection",
    roles=UAC,
    timeout=30,
    preamble="a call from the target to a transport=tcp URI ([uac] bye)",
    no_control=RUNNER_ANSWERS,
)
def response_new_connection(ctx: Context) -> None:
    """The INVITE's connection closed, the 200 comes over a new connection the runner opens
    to the INVITE's source address and Via sent-by port: the UAC takes it (it ACKs)."""
    trigger = _TcpTrigger(ctx, "bye")
    got = trigger.server.expect(lambda m: m.method == "INVITE", timeout=10.0)
    if got is None:
        ctx.inconclusive("no INVITE over TCP (see uac-transport-tcp)")
    assert got is not None
    invite, conn = got
    source = conn.getpeername()[0]
    parts = invite.top_via.split()
    sent_by = parts[1].split(";")[0] if len(parts) > 1 else ""
    _host, _, port = sent_by.rpartition(":")
    if not port.isdigit():
        ctx.not_applicable(f"the Via's sent-by names no port ({sent_by}): 5060 is not ours")
    trigger.server.conns.pop(conn, None)
    conn.close()
    dest = (source, int(port))
    try:
        new = socket.create_connection(dest, timeout=1.0)
    except OSError as exc:
        ctx.fail(f"a TCP listener at {dest[0]}:{dest[1]} (source address, sent-by port)", str(exc))
        return
    trigger.server.conns[new] = (StreamBuffer(), dest)
    lines = _response_to(invite, 200, "OK", unique("u")).decode().split("\r\n")
    body = sdp_answer(invite.body or b"")
    head = [line for line in lines if line and not line.startswith("Content-Length")]
    head += [
        f"Contact: <sip:uas@{trigger.server.hostport};transport=tcp>",
        "Content-Type: application/sdp",
        f"Content-Length: {len(body)}",
    ]
    answer = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    trigger.server.send(new, answer, "200 over a new connection")
    ack = trigger.server.expect(lambda m: m.method == "ACK", timeout=3.0)
    ctx.check(ack is not None, "the 200 taken: an ACK", "no ACK")
    bye = trigger.server.expect(lambda m: m.method == "BYE", timeout=4.0)
    if bye is not None:
        trigger.server.send(bye[1], _response_to(bye[0], 200, "OK"), "200 to BYE")


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% The usage of an FQDN is RECOMMENDED.
@case(
    "uac-transport-via-fqdn",
    roles=UAC,
    level="SHOULD",
    transports=("udp",),
    preamble=ASKED,
    no_control=RUNNER_ANSWERS,
)
def via_fqdn(ctx: Context) -> None:
    """The sent-by of the UAC's Via is a host name rather than an IP address."""
    peer = Peer(ctx, "options")
    first, addr = peer.first("OPTIONS", ASKED)
    peer.ok(first, addr)
    parts = first.top_via.split()
    host = parts[1].split(";")[0].rsplit(":", 1)[0] if len(parts) > 1 else ""
    literal = host.startswith("[") or host.replace(".", "").isdigit()
    ctx.check(not literal, "a host name in sent-by", host or first.top_via)
