"""RFC 7118 (SIP over WebSocket) seen at a UAC: the stack under test is the SIP WebSocket
Client, the runner the SIP WebSocket Server (`conformance.wire.WsListener`) it calls with
the profile's ``[uac] invite-ws`` command.  Judged on the wire: the ``sip`` subprotocol in
its handshake (§4.1), one SIP message per WebSocket message and nothing else (§4.1, §5),
UTF-8 text or binary messages (§4.2), responses taken from text and binary messages and
without ``received`` in the Via (§4.2, §5.3), and no retransmission of its INVITE over the
reliable transport (§5)."""

from __future__ import annotations

from conformance.model import Context, case
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer
from conformance.wire import WsListener

#: load order of the case modules (conformance.discovery)
ORDER = 63  # after uac_rfc6026


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


##= https://www.rfc-editor.org/rfc/rfc7118#section-4.1
##= type=test
##% The client MUST include the value "sip" in the Sec-WebSocket-Protocol header in its
##% handshake request.
##= https://www.rfc-editor.org/rfc/rfc7118#section-5
##= type=test
##% Thus, client and server transactions using WebSocket for transport MUST follow the
##% procedures and timer values for reliable transports as defined in [RFC3261].
##= https://www.rfc-editor.org/rfc/rfc7118#section-4.2
##= type=test
##% Therefore, SIP WebSocket Clients and SIP WebSocket Servers MUST accept both text and
##% binary frames.
##= https://www.rfc-editor.org/rfc/rfc7118#section-5.3
##= type=test
##% Therefore, SIP WebSocket Clients MUST accept responses without such a parameter in the
##% top Via header regardless of whether the Via "sent-by" field contains a domain name.
##= https://www.rfc-editor.org/rfc/rfc7118#section-5
##= type=test
##% Each SIP message MUST be carried within a single WebSocket message, and a WebSocket
##% message MUST NOT contain more than one SIP message.
##= https://www.rfc-editor.org/rfc/rfc7118#section-4.1
##= type=test
##% Messages other than SIP requests and responses MUST NOT be transmitted over this
##% connection.
##= https://www.rfc-editor.org/rfc/rfc7118#section-4.2
##= type=test
##% If there is at least one non-UTF-8 symbol in the whole SIP message (including headers and
##% the body), then the whole message MUST be sent within a WebSocket binary message.
##= https://www.rfc-editor.org/rfc/rfc7118#section-4.2
##= type=test
##% Given the nature of JavaScript and the WebSocket API, it is RECOMMENDED to use UTF-8
##% encoding (or ASCII, which is a subset of UTF-8) for SIP messages carried over a WebSocket
##% connection.
@case(
    "uac-ws-call",
    roles=UAC,
    transports=("udp",),
    timeout=20,
    no_control=RUNNER_ANSWERS,
)
def ws_call(ctx: Context) -> None:
    """A call over a WebSocket connection to the runner: the handshake offers "sip"; the
    INVITE, left unanswered a while, is not retransmitted (no Timer A on a reliable
    transport); a 180 in a text message and the 200 in a binary one, both with the Via as
    sent (no received parameter): the ACK comes (the 200 was taken); every WebSocket message
    of the UAC holds exactly one SIP message, in UTF-8 unless sent binary."""
    server = WsListener(ctx.ladder, ctx.deadline)
    ctx.links.append(server)  # type: ignore[arg-type]
    peer = Peer(ctx, "invite-ws", server=server)
    invite, addr = peer.first("INVITE")
    offered = [h for h in server.handshakes if h.headers.get("Sec-WebSocket-Protocol")]
    protocols = ", ".join(str(h.headers.get("Sec-WebSocket-Protocol")) for h in offered)
    repeat = peer.request("INVITE", max(0.5, 3 * ctx.profile.t1), invite.call_id)
    contact = [f"Contact: <sip:uas@{server.hostport};transport=ws>"]
    server.binary = False
    peer.answer(invite, addr, 180, contact=False, headers=contact, note="180")
    server.binary = True
    peer.answer(invite, addr, 200, contact=False, headers=contact, note="200")
    server.binary = None
    ack = peer.request("ACK", max(2.0, 10 * ctx.profile.t1), invite.call_id)
    peer.serve(0.3)
    ctx.check(
        any(
            "sip" in [p.strip() for p in str(h.headers.get("Sec-WebSocket-Protocol")).split(",")]
            for h in server.handshakes
        ),
        'Sec-WebSocket-Protocol offering "sip" in the handshake',
        protocols or "none offered",
        requirement=0,
    )
    ctx.check(repeat is None, "the INVITE not retransmitted (reliable transport)", "repeated", 1)
    ctx.check(
        ack is not None,
        "the ACK (the 200 in a binary message, Via without received, taken)",
        "no ACK",
        requirement=2,
    )
    lone = [m for m in server.received if not _single(m.data)]
    ctx.check(not lone, "one SIP message in each WebSocket message", f"{len(lone)} not", 4)
    others = [m for m in server.received if not _is_sip(m.data)]
    ctx.check(not others, "nothing but SIP messages", f"{len(others)} others", 5)
    texts = [m for m in server.received if m.text and not _utf8(m.data)]
    ctx.check(not texts, "no non-UTF-8 bytes in a text message", f"{len(texts)}", 6)
    binary = [m for m in server.received if not _utf8(m.data)]
    ctx.check(
        not binary,
        "UTF-8 SIP messages",
        f"{len(binary)} messages not UTF-8",
        requirement=7,
        level="SHOULD",
    )


def _is_sip(data: bytes) -> bool:
    from conformance.sipmsg import parse_message

    return parse_message(data) is not None


def _single(data: bytes) -> bool:
    """Exactly one SIP message: the body as long as its Content-Length (when given)."""
    from conformance.sipmsg import parse_message

    msg = parse_message(data)
    if msg is None:
        return False
    _, sep, body = data.partition(b"\r\n\r\n")
    length = msg.get("Content-Length") or msg.get("l")
    if not sep or length is None:
        return bool(sep)
    try:
        return int(length.strip()) == len(body)
    except ValueError:
        return False


##= https://www.rfc-editor.org/rfc/rfc7118#section-5.4
##= type=test
##% All SIP elements MUST implement UDP and TCP.
@case(
    "uac-ws-udp-and-tcp",
    roles=UAC,
    transports=("udp",),
    timeout=30,
    no_control=RUNNER_ANSWERS,
)
def udp_and_tcp(ctx: Context) -> None:
    """A SIP WebSocket Client is a SIP element all the same: asked to call a plain URI it
    calls over UDP, and a ``transport=tcp`` one over TCP (each INVITE answered 486)."""
    from conformance.cases.transport_uac import _response_to, _TcpTrigger

    peer = Peer(ctx, "bye")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 486)
    peer.request("ACK", 1.0, invite.call_id)
    peer.close()
    trigger = _TcpTrigger(ctx, "bye")
    got = trigger.server.expect(lambda m: m.method == "INVITE", timeout=10.0)
    if got is not None:
        trigger.server.send(got[1], _response_to(got[0], 486, "Busy Here"), "486")
        trigger.server.expect(lambda m: m.method == "ACK", timeout=1.0)
    ctx.check(got is not None, "an INVITE over TCP too", "none within 10 s")
