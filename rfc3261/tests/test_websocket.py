"""SIP over WebSocket (RFC 7118) through ``python -m rfc3261 proxy``, on real loopback sockets.

The peers are independent: a WebSocket client from the :mod:`websockets`
package (its asyncio client, not the sans-I/O layer the transport uses) sending
raw SIP text, and raw UDP sockets.  Each test starts the proxy program on free
ports and stops it by PID.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidHandshake, InvalidStatus

from rfc3261 import Request, Response, parse
from rfc3261.asyncio.dispatcher import Dispatcher
from rfc3261.asyncio.transport import Address, TransportLayer, TransportLimits
from rfc3261.asyncio.websocket import http_refusal, more_than_one_message
from rfc3261.programs import common
from rfc3261.transports import is_reliable, is_stream, transport_for_uri, transport_info
from rfc3261.websocket_edge import WebSocketEdge, flow_token, parse_flow_token

from .transport_support import (
    FAST_TIMERS,
    RecordingTU,
    UdpPeer,
    async_test,
    build_request,
    make_certificate,
    ssl_contexts,
)
from .websocket_support import ProgramProcess, RawWs, WsPeer, start_proxy


@pytest.fixture
def proxy(tmp_path: Path):  # type: ignore[no-untyped-def]
    process = start_proxy(tmp_path)
    yield process
    process.stop()


def udp_request(
    method: str,
    uri: str,
    peer: UdpPeer,
    *,
    call_id: str,
    cseq: int = 1,
    to: str = "<sip:alice@127.0.0.1>",
    from_tag: str = "b1",
    routes: list[str] = (),  # type: ignore[assignment]
    body: str = "",
) -> bytes:
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{peer.port};branch=z9hG4bK{secrets.token_hex(6)};rport",
        "Max-Forwards: 70",
        f"To: {to}",
        f"From: <sip:bob@127.0.0.1>;tag={from_tag}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
        f"Contact: <sip:bob@127.0.0.1:{peer.port}>",
        *(f"Route: {r}" for r in routes),
        f"Content-Length: {len(body)}",
        "",
        body,
    ]
    return "\r\n".join(lines).encode()


async def udp_final(peer: UdpPeer, timeout: float = 3.0) -> Response:
    while True:
        message = await peer.receive_message(timeout)
        if isinstance(message, Response) and message.status >= 200:
            return message


# -- the transport table and the program flags ---------------------------------------


##= https://www.rfc-editor.org/rfc/rfc7118#section-5
##= type=test
##% Thus, client and server transactions using WebSocket for
##% transport MUST follow the procedures and timer values for reliable
##% transports as defined in [RFC3261].
##= https://www.rfc-editor.org/rfc/rfc7118#section-5.5
##= type=test
##% In the absence of DNS SRV resource records or an explicit port, the
##% default port for a SIP URI using the "sip" scheme and the "ws"
##% transport parameter is 80, and the default port for a SIP URI using
##% the "sips" scheme and the "ws" transport parameter is 443.
##= https://www.rfc-editor.org/rfc/rfc7118#section-5.4
##= type=test
##% SIP elements MAY implement other protocols.
##= https://www.rfc-editor.org/rfc/rfc7118#section-9.2
##= type=test
##% If such a path includes a WebSocket
##% connection, it MUST be a secure WebSocket connection.
def test_ws_and_wss_are_reliable_message_transports_with_drivers() -> None:
    import rfc3261.asyncio.dispatcher  # noqa: F401  (registers the drivers)

    for name, port, secure in (("WS", 80, False), ("WSS", 443, True)):
        info = transport_info(name)
        assert info is not None and info.driver is not None
        assert (info.default_port, info.secure, info.uri_param) == (port, secure, "ws")
        assert is_reliable(name) and not is_stream(name)
    assert transport_for_uri("sip", "ws") == "WS"
    assert transport_for_uri("sips", "ws") == "WSS"


def test_listen_accepts_ws_and_wss_uris() -> None:
    assert common.parse_listen("sip:127.0.0.1:5080;transport=ws").transport == "ws"
    assert common.parse_listen("sip:127.0.0.1:5081;transport=wss").transport == "wss"
    with pytest.raises(common.ConfigError):
        common.parse_listen("sip:127.0.0.1:5080;transport=quic")


##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
##= type=test
##% When TLS is used on the
##% transport on either side of the proxy, the URI placed in the Record-
##% Route header field MUST encode a next-hop that will be reached using
##% TLS.
##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
##= type=test
##% Proxies compliant with this specification MUST
##% NOT use a "transport=tls" parameter on the URI placed in the Record-
##% Route because the "transport=tls" usage was deprecated by [RFC3261].
def test_record_route_uris_per_side_keep_tls_secure_without_transport_tls() -> None:
    edge = WebSocketEdge(
        {"UDP": "127.0.0.1:5060", "TLS": "127.0.0.1:5061", "WSS": "127.0.0.1:443"},
        lambda uri: False,
    )
    assert edge._record_uri("TLS", None, False) == "sips:127.0.0.1:5061;transport=tcp;lr"
    token = flow_token("WSS", "127.0.0.1", 40000)
    assert edge._record_uri("WSS", token, False) == f"sips:{token}@127.0.0.1:443;transport=ws;lr"
    assert edge._record_uri("UDP", None, False) == "sip:127.0.0.1:5060;transport=udp;lr"
    assert edge._record_uri("WS", None, False) is None  # no WS listening point


def test_flow_tokens_round_trip_and_refuse_foreign_users() -> None:
    token = flow_token("WS", "::1", 40000)
    hop = parse_flow_token(token)
    assert hop is not None and (hop.transport, hop.host, hop.port) == ("WS", "::1", 40000)
    assert parse_flow_token("alice") is None
    assert parse_flow_token("ws-zz") is None
    forged = "ws-" + b"WS 10.0.0.1 22".hex() + token[token.index(".") :]
    assert parse_flow_token(forged) is None  # the signature covers the address


##= https://www.rfc-editor.org/rfc/rfc7118#section-5
##= type=test
##% Each SIP message MUST be carried within a single WebSocket message,
##% and a WebSocket message MUST NOT contain more than one SIP message.
def test_more_than_one_message_reads_content_length_only_to_detect_a_second() -> None:
    one = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 4\r\n\r\nabcd"
    assert not more_than_one_message(one)
    assert not more_than_one_message(one + b"\r\n")
    assert more_than_one_message(one + one)
    assert more_than_one_message(b"OPTIONS sip:a@b SIP/2.0\r\nl: 0\r\n\r\n" + one)


# -- the program over WebSocket ----------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc7118#section-4.1
##= type=test
##% The 101 reply from the server MUST contain "sip"
##% in its corresponding Sec-WebSocket-Protocol header.
##= https://www.rfc-editor.org/rfc/rfc7118#section-5.1
##= type=test
##% This document defines the value "WS" to be used for
##% requests over plain WebSocket connections and "WSS" for requests over
##% secure WebSocket connections (in which the WebSocket connection is
##% established using TLS [RFC5246] with TCP transport).
##= https://www.rfc-editor.org/rfc/rfc7118#section-5.3
##= type=test
##% When the server transport receives a request over any transport,
##% it MUST examine the value of the "sent-by" parameter in the top
##% Via header field value.
##= https://www.rfc-editor.org/rfc/rfc7118#section-5.3
##= type=test
##% If the host portion of the "sent-by"
##% field contains a domain name, or if it contains an IP address that
##% differs from the packet source address, the server MUST add a
##% "received" parameter to that Via header field value.
##= https://www.rfc-editor.org/rfc/rfc7118#section-5.3
##= type=test
##% This
##% parameter MUST contain the source address from which the packet
##% was received.
@async_test(timeout=20)
async def test_register_over_ws_and_the_response_comes_back_on_the_connection(
    tmp_path: Path,
) -> None:
    proxy = start_proxy(tmp_path)
    try:
        alice = await WsPeer.open(proxy.ports["WS"], "alice")
        assert alice.ws.subprotocol == "sip"
        response = await alice.register()
        assert response.status == 200
        assert alice.host in str(response.headers.get("Contact"))
        # The .invalid sent-by is a domain name: received names the source address.
        assert response.top_via.host == alice.host
        assert response.top_via.received == "127.0.0.1"
        # A request over WS is answered on the same connection (§18.2.2: reliable).
        await alice.send(
            f"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: {alice.via()}\r\nMax-Forwards: 70\r\n"
            "To: <sip:127.0.0.1>\r\nFrom: <sip:alice@127.0.0.1>;tag=o1\r\n"
            "Call-ID: opt-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
        options = await alice.receive_response()
        assert options.call_id == "opt-1"
        assert options.top_via.transport == "WS"
        # No Content-Length: the WebSocket message is the whole SIP message (§5).
        await alice.send(
            f"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: {alice.via()}\r\nMax-Forwards: 70\r\n"
            "To: <sip:127.0.0.1>\r\nFrom: <sip:alice@127.0.0.1>;tag=o2\r\n"
            "Call-ID: opt-2\r\nCSeq: 1 OPTIONS\r\n\r\n"
        )
        assert (await alice.receive_response()).call_id == "opt-2"
        await alice.close()
    finally:
        proxy.stop()


##= https://www.rfc-editor.org/rfc/rfc7118#section-4.1
##= type=test
##% The client MUST
##% include the value "sip" in the Sec-WebSocket-Protocol header in its
##% handshake request.
@async_test(timeout=20)
async def test_handshake_without_sip_subprotocol_is_refused_and_listener_survives(
    tmp_path: Path,
) -> None:
    from websockets.asyncio.client import connect

    proxy = start_proxy(tmp_path)
    try:
        port = proxy.ports["WS"]
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"ws://127.0.0.1:{port}/", open_timeout=3)
        assert refused.value.response.status_code == 400
        with pytest.raises(InvalidStatus):
            await connect(f"ws://127.0.0.1:{port}/", subprotocols=["chat"], open_timeout=3)
        alice = await WsPeer.open(port, "alice")
        assert (await alice.register()).status == 200
        await alice.close()
    finally:
        proxy.stop()


##= https://www.rfc-editor.org/rfc/rfc7118#appendix-B.2
##= type=test
##% The proxy performs loose routing and remains in the path of dialogs
##% as specified in [RFC3261].
##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
##= type=test
##% Thus, if the transport protocol changed between
##% its incoming and outgoing sides, the proxy SHOULD use the double
##% Record-Route technique and SHOULD add a transport parameter to each
##% of the Record-Route URIs it inserts.
##= https://www.rfc-editor.org/rfc/rfc5658#section-5
##= type=test
##% So, this
##% means, in Section 16.4, "Route Information Preprocessing" [RFC3261],
##% implementors can choose that a proxy MAY remove two Route headers
##% instead of one when using the double Record-Routing.
##= https://www.rfc-editor.org/rfc/rfc7118#appendix-B.1
##= type=test
##% The Contact URI provided by SIP UAs requesting (and receiving)
##% Outbound support is not used for routing requests to those UAs,
##% thus it is safe to set a random domain in the Contact URI
##% hostport.
@async_test(timeout=30)
async def test_call_udp_to_ws_through_the_proxy_with_double_record_route(
    tmp_path: Path,
) -> None:
    proxy = start_proxy(tmp_path)
    bob = UdpPeer()
    try:
        alice = await WsPeer.open(proxy.ports["WS"], "alice")
        assert (await alice.register()).status == 200
        udp = proxy.ports["UDP"]
        # bob (UDP) calls alice's AOR: the proxy sends it on alice's WebSocket.
        bob.send(udp_request("INVITE", "sip:alice@127.0.0.1", bob, call_id="c1"), udp)
        invite = await alice.receive()
        assert isinstance(invite, Request) and invite.method == "INVITE"
        assert invite.top_via.transport == "WS"
        records = [str(r.uri) for r in invite.record_route]
        assert len(records) == 2, records
        assert records[0].endswith(f"127.0.0.1:{proxy.ports['WS']};transport=ws;lr")
        assert records[0].startswith("sip:ws-")  # the flow token of alice's connection
        assert records[1] == f"sip:127.0.0.1:{udp};transport=udp;lr"
        ok = invite.make_response(200)
        ok.headers.set("To", f"{invite.headers.get('To')};tag=a1")
        ok.headers.set("Contact", alice.contact)
        ok.headers.set("Record-Route", ", ".join(f"<{r}>" for r in records))
        await alice.send(ok)
        answer = await udp_final(bob)
        assert answer.status == 200
        route_set = [f"<{r.uri}>" for r in reversed(answer.record_route)]
        # ACK and BYE: Request-URI is alice's .invalid Contact, Route our two values.
        contact = f"sip:alice@{alice.host};transport=ws"
        to = "<sip:alice@127.0.0.1>;tag=a1"
        bob.send(udp_request("ACK", contact, bob, call_id="c1", to=to, routes=route_set), udp)
        ack = await alice.receive()
        assert isinstance(ack, Request) and ack.method == "ACK"
        assert not ack.route  # both our Route values popped
        bob.send(
            udp_request("BYE", contact, bob, call_id="c1", cseq=2, to=to, routes=route_set),
            udp,
        )
        bye = await alice.receive()
        assert isinstance(bye, Request) and bye.method == "BYE"
        await alice.send(bye.make_response(200))
        assert (await udp_final(bob)).status == 200
        # alice (WS) hangs up a second call the other way: her route set is the RR order.
        bob.send(udp_request("INVITE", "sip:alice@127.0.0.1", bob, call_id="c2"), udp)
        invite = await alice.receive()
        assert isinstance(invite, Request)
        ok = invite.make_response(200)
        ok.headers.set("To", f"{invite.headers.get('To')};tag=a2")
        ok.headers.set("Contact", alice.contact)
        ok.headers.set("Record-Route", ", ".join(f"<{r.uri}>" for r in invite.record_route))
        await alice.send(ok)
        assert (await udp_final(bob)).status == 200
        alice_routes = [f"<{r.uri}>" for r in invite.record_route]
        await alice.send(
            f"BYE sip:bob@127.0.0.1:{bob.port} SIP/2.0\r\nVia: {alice.via()}\r\n"
            "Max-Forwards: 70\r\n"
            + "".join(f"Route: {r}\r\n" for r in alice_routes)
            + "From: <sip:alice@127.0.0.1>;tag=a2\r\nTo: <sip:bob@127.0.0.1>;tag=b1\r\n"
            "Call-ID: c2\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n"
        )
        bye = await bob.receive_message()
        assert isinstance(bye, Request) and bye.method == "BYE"
        assert bye.top_via.transport == "UDP" and not bye.route
        bob.send(bytes(bye.make_response(200)), udp)
        assert (await alice.receive_response()).status == 200
        await alice.close()
    finally:
        bob.close()
        proxy.stop()


# -- bad input: RFC 7118's or RFC 6455's answer, the listener survives, nothing leaks ----


def open_fds(process: ProgramProcess) -> int:
    return len(os.listdir(f"/proc/{process.process.pid}/fd"))


async def fds_settle(process: ProgramProcess, baseline: int, timeout: float = 3.0) -> int:
    """The program's open file descriptors, once they are back to ``baseline`` (or not)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    count = open_fds(process)
    while count > baseline and loop.time() < deadline:
        await asyncio.sleep(0.05)
        count = open_fds(process)
    return count


OPTIONS = (
    "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bK{branch}\r\n"
    "Max-Forwards: 70\r\nTo: <sip:127.0.0.1>\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\n"
    "Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
)


def options(call_id: str) -> str:
    return OPTIONS.format(branch=secrets.token_hex(4), call_id=call_id)


##= https://www.rfc-editor.org/rfc/rfc7118#section-5
##= type=test
##% Each SIP message MUST be carried within a single WebSocket message,
##% and a WebSocket message MUST NOT contain more than one SIP message.
##= https://www.rfc-editor.org/rfc/rfc7118#section-4.2
##= type=test
##% Therefore, SIP WebSocket Clients and SIP WebSocket Servers MUST accept
##% both text and binary frames.
@async_test(timeout=30)
async def test_bad_frames_get_the_rfc_answer_and_nothing_leaks(tmp_path: Path) -> None:
    from websockets.frames import Opcode

    proxy = start_proxy(tmp_path)
    try:
        port = proxy.ports["WS"]
        baseline = open_fds(proxy)
        # A handshake without "sip": 400, and the server closes the connection.
        peer, answer = await RawWs.open(port, protocol=None)
        assert answer.startswith(b"HTTP/1.1 400")
        assert await peer.eof()
        peer.close()
        # Two SIP messages in one frame: 400 for the first, connection kept.
        peer, answer = await RawWs.open(port)
        assert answer.startswith(b"HTTP/1.1 101") and b"Sec-WebSocket-Protocol: sip" in answer
        peer.frame(Opcode.TEXT, (options("two-1") + options("two-2")).encode())
        opcode, payload = await peer.next_frame()
        response = parse(payload)
        assert opcode == 0x1 and isinstance(response, Response)
        assert (response.status, response.call_id) == (400, "two-1")
        # One message split over three fragments (and binary): joined, answered.
        data = options("split").encode()
        peer.frame(Opcode.BINARY, data[:10], fin=False)
        peer.frame(Opcode.CONT, data[10:100], fin=False)
        peer.frame(Opcode.CONT, data[100:])
        opcode, payload = await peer.next_frame()
        response = parse(payload)
        assert isinstance(response, Response) and response.call_id == "split"
        assert response.status != 400  # parsed whole (the proxy's answer to OPTIONS)
        # Invalid UTF-8 in a text frame: RFC 6455 §8.1 fails the connection with 1007.
        peer.frame(Opcode.TEXT, b"OPTIONS \xff\xfe sip:x SIP/2.0\r\n\r\n")
        assert await peer.close_code() == 1007
        peer.close()
        # A 10 MB frame: 1009 (message too big) as soon as its header is read.
        peer, _ = await RawWs.open(port)
        size = 10 * 1024 * 1024
        # (the header alone: payload sent after it could meet the closed socket and
        # reset the connection before the close frame is read)
        peer.raw(bytes([0x81, 0xFF]) + size.to_bytes(8, "big") + b"\x00\x00\x00\x00")
        assert await peer.close_code() == 1009
        peer.close()
        # A peer that opens the TCP connection and says nothing: dropped after the
        # handshake timeout (the transport's message_timeout); here we only check
        # that the listener still serves while it waits.
        _silent_reader, silent = await asyncio.open_connection("127.0.0.1", port)
        alice = await WsPeer.open(port, "alice")
        assert (await alice.register()).status == 200
        await alice.close()
        silent.close()
        assert proxy.alive()
        assert await fds_settle(proxy, baseline) <= baseline
    finally:
        proxy.stop()


@async_test(timeout=30)
async def test_browser_closing_mid_transaction_fails_the_branch_at_once(tmp_path: Path) -> None:
    proxy = start_proxy(tmp_path)
    bob = UdpPeer()
    try:
        udp = proxy.ports["UDP"]
        baseline = open_fds(proxy)
        alice = await WsPeer.open(proxy.ports["WS"], "alice")
        assert (await alice.register()).status == 200
        bob.send(udp_request("INVITE", "sip:alice@127.0.0.1", bob, call_id="drop"), udp)
        invite = await alice.receive()
        assert isinstance(invite, Request) and invite.method == "INVITE"
        started = asyncio.get_running_loop().time()
        await alice.ws.close()  # the browser tab goes away before answering
        final = await udp_final(bob, timeout=5)
        assert final.status >= 400
        # Not Timer B or C (32 s, 3 min): the lost connection failed the branch.
        assert asyncio.get_running_loop().time() - started < 3
        bob.send(udp_request("ACK", "sip:alice@127.0.0.1", bob, call_id="drop"), udp)
        # A new call to the gone browser fails fast too (its flow is dead).
        bob.send(udp_request("INVITE", "sip:alice@127.0.0.1", bob, call_id="again"), udp)
        assert (await udp_final(bob, timeout=5)).status >= 400
        assert proxy.alive()
        assert await fds_settle(proxy, baseline) <= baseline
    finally:
        bob.close()
        proxy.stop()


# -- in-process: the transport layer and the dispatcher over WS and WSS ----------------


async def ws_sip_server(
    handler: Callable[[Any], Awaitable[None]], **kwargs: Any
) -> tuple[Any, int]:
    """An independent SIP WebSocket server (websockets' asyncio server) on a free port."""
    from websockets.asyncio.server import serve

    server = await serve(handler, "127.0.0.1", 0, subprotocols=["sip"], **kwargs)
    return server, server.sockets[0].getsockname()[1]


##= https://www.rfc-editor.org/rfc/rfc7118#section-4.2
##= type=test
##% If there is at least one non-UTF-8 symbol in the whole SIP message
##% (including headers and the body), then the whole message MUST be
##% sent within a WebSocket binary message.
##= https://www.rfc-editor.org/rfc/rfc7118#section-4.2
##= type=test
##% Given the nature of
##% JavaScript and the WebSocket API, it is RECOMMENDED to use UTF-8
##% encoding (or ASCII, which is a subset of UTF-8) for SIP messages
##% carried over a WebSocket connection.
##= https://www.rfc-editor.org/rfc/rfc7118#section-4.1
##= type=test
##% Messages other than SIP requests and responses MUST NOT
##% be transmitted over this connection.
@async_test(timeout=20)
async def test_utf8_messages_go_in_text_frames_and_others_in_binary_frames() -> None:
    received: list[tuple[bytes, Any]] = []
    layer = TransportLayer(lambda data, source: received.append((data, source)))
    try:
        point = await layer.listen("WS", "127.0.0.1", 0)
        peer = await WsPeer.open(point.address.port, "alice")
        await peer.send(peer.register_text("127.0.0.1"))
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.01)
        data, source = received[0]
        assert data.startswith(b"REGISTER ") and source.transport == "WS"
        utf8 = "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 5\r\n\r\nh\u00e9!!".encode()
        binary = b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 4\r\n\r\n\xff\xfe\x00\x01"
        layer.send(utf8, source.remote, connection=source.connection)
        layer.send(binary, source.remote, connection=source.connection)
        first = await asyncio.wait_for(peer.ws.recv(), 3)
        second = await asyncio.wait_for(peer.ws.recv(), 3)
        assert isinstance(first, str) and first.encode() == utf8
        assert isinstance(second, bytes) and second == binary
        # Nothing but those two SIP messages came over the connection.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(peer.ws.recv(), 0.2)
        await peer.close()
    finally:
        await layer.close()


##= https://www.rfc-editor.org/rfc/rfc7118#section-7
##= type=test
##% A SIP WebSocket Server MUST be ready to read session cookies when
##% present in the WebSocket handshake request and use such a cookie
##% value for determining whether the WebSocket connection has been
##% initiated by an HTTP client navigating a website in the same
##% domain (or subdomain) as the SIP WebSocket Server.
##= https://www.rfc-editor.org/rfc/rfc7118#section-7
##= type=test
##% A SIP WebSocket Server SHOULD be able to reject a WebSocket
##% handshake request with an HTTP 401 status code by providing a
##% Basic/Digest challenge as defined for the HTTP protocol.
@async_test(timeout=20)
async def test_handshake_policy_reads_the_cookie_and_challenges_with_401() -> None:
    layer = TransportLayer(lambda data, source: None)
    driver = transport_info("WS").driver  # type: ignore[union-attr]

    def policy(request: Any) -> Any:
        if "session=good" in request.headers.get("Cookie", ""):
            return None
        return http_refusal(401, "Unauthorized", [("WWW-Authenticate", 'Basic realm="sip"')])

    try:
        point = await layer.listen("WS", "127.0.0.1", 0)
        driver.set_policy(layer, policy)
        with pytest.raises(InvalidStatus) as refused:
            await WsPeer.open(point.address.port, "alice")
        assert refused.value.response.status_code == 401
        assert refused.value.response.headers["WWW-Authenticate"] == 'Basic realm="sip"'
        peer = await WsPeer.open(
            point.address.port, "alice", additional_headers={"Cookie": "session=good"}
        )
        assert peer.ws.subprotocol == "sip"
        await peer.close()
    finally:
        driver.set_policy(layer, None)
        await layer.close()


##= https://www.rfc-editor.org/rfc/rfc7118#section-5.3
##= type=test
##% Therefore, SIP WebSocket Clients MUST accept responses without such a
##% parameter in the top Via header regardless of whether the Via
##% "sent-by" field contains a domain name.
##= https://www.rfc-editor.org/rfc/rfc7118#section-4.1
##= type=test
##% The client MUST
##% include the value "sip" in the Sec-WebSocket-Protocol header in its
##% handshake request.
@async_test(timeout=20)
async def test_our_ws_client_sends_sip_and_takes_a_response_without_received() -> None:
    offered: list[Any] = []

    async def answer(ws: Any) -> None:
        offered.append(ws.request.headers.get("Sec-WebSocket-Protocol"))
        request = parse((await ws.recv()).encode())
        assert isinstance(request, Request)
        response = request.make_response(200)
        assert response.top_via.received is None
        await ws.send(bytes(response).decode())
        await ws.wait_closed()

    server, port = await ws_sip_server(answer)
    tu = RecordingTU()
    client = Dispatcher(tu, timers=FAST_TIMERS)
    try:
        await client.listen("sip:127.0.0.1:0")
        client.send_request(build_request("OPTIONS"), Address("WS", "127.0.0.1", port))
        response, _ = await tu.next("response")
        assert response.status == 200 and response.top_via.transport == "WS"
        assert offered == ["sip"]
    finally:
        await client.close()
        server.close()


@async_test(timeout=20)
async def test_a_server_without_the_sip_subprotocol_is_a_transport_error() -> None:
    async def answer(ws: Any) -> None:
        await ws.wait_closed()

    from websockets.asyncio.server import serve

    server = await serve(answer, "127.0.0.1", 0)  # no subprotocol: 101 without "sip"
    port = server.sockets[0].getsockname()[1]
    tu = RecordingTU()
    client = Dispatcher(tu, timers=FAST_TIMERS)
    try:
        await client.listen("sip:127.0.0.1:0")
        client.send_request(build_request("OPTIONS"), Address("WS", "127.0.0.1", port))
        await tu.next("transport_failure")
    finally:
        await client.close()
        server.close()


##= https://www.rfc-editor.org/rfc/rfc7118#section-9.1
##= type=test
##% When establishing a connection using SIP over secure WebSocket
##% transport, the client MUST authenticate the server using the server's
##% certificate according to the WebSocket validation procedure in
##% [RFC6455].
@async_test(timeout=30)
async def test_wss_client_authenticates_the_server_certificate(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    server_ssl, client_ssl = ssl_contexts(cert, key)
    server_tu = RecordingTU(answer=lambda request: 200)
    server = Dispatcher(server_tu, server_ssl=server_ssl, timers=FAST_TIMERS)
    trusting_tu, doubting_tu = RecordingTU(), RecordingTU()
    trusting = Dispatcher(trusting_tu, client_ssl=client_ssl, timers=FAST_TIMERS)
    doubting = Dispatcher(doubting_tu, client_ssl=ssl.create_default_context(), timers=FAST_TIMERS)
    try:
        (point,) = await server.listen("sips:127.0.0.1:0;transport=ws")
        assert point.transport == "WSS"
        for client in (trusting, doubting):
            await client.listen("sip:127.0.0.1:0")
        destination = Address("WSS", "127.0.0.1", point.address.port)
        trusting.send_request(build_request("OPTIONS"), destination)
        response, _ = await trusting_tu.next("response")
        assert response.status == 200 and response.top_via.transport == "WSS"
        doubting.send_request(build_request("OPTIONS"), destination)
        await doubting_tu.next("transport_failure")  # untrusted certificate
    finally:
        for element in (server, trusting, doubting):
            await element.close()


##= https://www.rfc-editor.org/rfc/rfc7118#section-9.1
##= type=test
##% It is RECOMMENDED that the SIP traffic transported over a WebSocket
##% communication be protected by using a secure WebSocket connection
##% (using TLS [RFC5246] over TCP).
@async_test(timeout=30)
async def test_proxy_program_listens_on_wss_with_cert_and_key(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    _, client_ssl = ssl_contexts(cert, key)
    proxy = start_proxy(tmp_path, "--cert", str(cert), "--key", str(key), wss=True)
    try:
        alice = await WsPeer.open(proxy.ports["WSS"], "alice", scheme="wss", ssl=client_ssl)
        assert (await alice.register()).status == 200
        await alice.close()
    finally:
        proxy.stop()


# -- bounds: handshake timeout, maximum connections, a peer that never reads -------------


@async_test(timeout=20)
async def test_a_peer_that_never_finishes_the_handshake_is_dropped() -> None:
    limits = TransportLimits(message_timeout=0.3)
    layer = TransportLayer(lambda data, source: None, limits=limits)
    try:
        point = await layer.listen("WS", "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", point.address.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and nothing more
        assert await asyncio.wait_for(reader.read(), 3) == b""  # closed by the sweep
        assert not layer.connections
        writer.close()
    finally:
        await layer.close()


@async_test(timeout=20)
async def test_connections_beyond_the_maximum_are_refused() -> None:
    layer = TransportLayer(lambda data, source: None, limits=TransportLimits(max_connections=2))
    peers: list[WsPeer] = []
    try:
        point = await layer.listen("WS", "127.0.0.1", 0)
        port = point.address.port
        peers = [await WsPeer.open(port, "a"), await WsPeer.open(port, "b")]
        with pytest.raises((OSError, EOFError, InvalidHandshake)):
            await WsPeer.open(port, "c")
        assert layer.refused_connections == 1 and len(layer.connections) == 2
    finally:
        for peer in peers:
            await peer.close()
        await layer.close()


@async_test(timeout=20)
async def test_a_peer_that_never_reads_is_dropped_at_the_write_bound() -> None:
    received: list[tuple[bytes, Any]] = []
    limits = TransportLimits(max_write_buffer=256 * 1024)
    layer = TransportLayer(lambda data, source: received.append((data, source)), limits=limits)
    try:
        point = await layer.listen("WS", "127.0.0.1", 0)
        peer, answer = await RawWs.open(point.address.port)
        assert answer.startswith(b"HTTP/1.1 101")
        from websockets.frames import Opcode

        peer.frame(Opcode.TEXT, options("reader").encode())
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.01)
        _, source = received[0]
        connection = source.connection
        big = b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 60000\r\n\r\n" + b"x" * 60000
        sent = 0
        while layer.send(big, source.remote, connection=connection) is None and sent < 2000:
            sent += 1
            if connection.closed:
                break
        assert connection.closed and "does not read" in (connection.close_reason or "")
        assert not layer.connections
        peer.close()
    finally:
        await layer.close()


def test_websocket_bench_quick_run_holds_connections_under_the_target() -> None:
    from rfc3261.bench import websocket_load

    doc = websocket_load.run(True)
    assert doc["idle"]["connections"] == 200
    assert doc["register"]["ws_per_second"] > 0 and doc["register"]["udp_per_second"] > 0
    assert websocket_load.floors_passed(doc) is True
    assert "idle connections" in websocket_load.render(doc)


##= https://www.rfc-editor.org/rfc/rfc7118#section-6
##= type=test
##% SIP WebSocket Clients and Servers may keep their WebSocket
##% connections open by sending periodic WebSocket "Ping" frames as
##% described in [RFC6455], Section 5.5.2.
@async_test(timeout=20)
async def test_pings_keep_a_live_peer_and_drop_a_silent_one() -> None:
    from websockets.frames import Opcode

    limits = TransportLimits(idle_timeout=0.6)
    layer = TransportLayer(lambda data, source: None, limits=limits)
    try:
        point = await layer.listen("WS", "127.0.0.1", 0)
        port = point.address.port
        live = await WsPeer.open(port, "live")  # websockets answers each Ping with a Pong
        silent, _ = await RawWs.open(port)  # reads nothing, answers nothing
        opcode, _ = await silent.next_frame(timeout=2)
        assert opcode == Opcode.PING.value
        assert await silent.eof(timeout=3)  # idle: closed by the sweep
        await asyncio.sleep(0.6)
        assert len(layer.connections) == 1  # the live one, past two idle periods
        await live.ws.ping()
        await live.close()
        silent.close()
    finally:
        await layer.close()


@pytest.mark.parametrize("program", ["registrar", "ua"])
@async_test(timeout=30)
async def test_every_program_listens_on_ws(tmp_path: Path, program: str) -> None:
    extra = {
        "registrar": ["--domain", "127.0.0.1", "--db", str(tmp_path / "location.db")],
        "ua": ["--answer", "200", "--timeout", "10"],
    }[program]
    process = ProgramProcess(
        program, "--listen", "sip:127.0.0.1:0;transport=ws", *extra, cwd=tmp_path
    )
    try:
        peer = await WsPeer.open(process.ports["WS"], "alice")
        await peer.send(options(f"{program}-ws"))
        response = await peer.receive_response()
        assert response.call_id == f"{program}-ws" and response.top_via.transport == "WS"
        await peer.close()
    finally:
        process.stop()


@async_test(timeout=30)
async def test_caller_closing_while_the_callee_rings_leaves_the_proxy_serving(
    tmp_path: Path,
) -> None:
    proxy = start_proxy(tmp_path)
    bob = UdpPeer()
    try:
        udp = proxy.ports["UDP"]
        baseline = open_fds(proxy)
        bob.send(
            udp_request(
                "REGISTER", "sip:127.0.0.1", bob, call_id="reg-bob", to="<sip:bob@127.0.0.1>"
            ),
            udp,
        )
        assert (await udp_final(bob)).status == 200
        alice = await WsPeer.open(proxy.ports["WS"], "alice")
        await alice.send(
            f"INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: {alice.via()}\r\nMax-Forwards: 70\r\n"
            "To: <sip:bob@127.0.0.1>\r\nFrom: <sip:alice@127.0.0.1>;tag=a9\r\n"
            f"Call-ID: ring-drop\r\nCSeq: 1 INVITE\r\nContact: {alice.contact}\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        invite = await bob.receive_message()
        assert isinstance(invite, Request) and invite.method == "INVITE"
        ringing = invite.make_response(180)
        ringing.headers.set("To", f"{invite.headers.get('To')};tag=b9")
        bob.send(bytes(ringing), udp)
        statuses = [(await alice.receive()).status for _ in range(2)]  # type: ignore[union-attr]
        assert statuses == [100, 180]
        await alice.ws.close()  # the caller's tab goes away while bob rings
        await asyncio.sleep(0.2)
        ok = invite.make_response(200)
        ok.headers.set("To", f"{invite.headers.get('To')};tag=b9")
        ok.headers.set("Contact", f"<sip:bob@127.0.0.1:{bob.port}>")
        bob.send(bytes(ok), udp)  # nowhere to go: dropped, nothing breaks
        await asyncio.sleep(0.2)
        carol = await WsPeer.open(proxy.ports["WS"], "carol")
        assert (await carol.register()).status == 200
        await carol.close()
        assert proxy.alive() and "Traceback" not in proxy.log_text()
        assert await fds_settle(proxy, baseline) <= baseline
    finally:
        bob.close()
        proxy.stop()
