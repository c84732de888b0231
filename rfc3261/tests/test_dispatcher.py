"""The dispatcher: Via stamping and response routing (§18.1, §18.2, RFC 3581), end to end."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from rfc3261.asyncio.dispatcher import (
    CoreHost,
    Dispatcher,
    address_for_uri,
    new_branch,
    resolve_destination,
    response_target,
    stamp_via,
)
from rfc3261.asyncio.transport import UDP_SIZE_LIMIT, Address, ListeningPoint, Source
from rfc3261.asyncio.uas_minimal import MinimalUAS
from rfc3261.headers import Via
from rfc3261.message import Request, Response, parse
from rfc3261.transaction import RequestReceived, ResponseReceived, SendMessage
from rfc3261.transaction_layer import TransactionLayer

from .transport_support import (
    FAST_TIMERS,
    RecordingTU,
    UdpPeer,
    async_test,
    build_request,
    has_ipv6_loopback,
    make_certificate,
    raw_request,
    ssl_contexts,
)

needs_ipv6 = pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback (::1)")

LOCAL = ListeningPoint(Address("UDP", "127.0.0.1", 5060))


def udp_source(host: str = "192.0.2.4", port: int = 4540) -> Source:
    return Source(Address("UDP", host, port), LOCAL)


# -- §18.2.1 / RFC 3581 §4: what the server transport writes into the top Via -------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
##= type=test
##% When the server transport receives a request over any transport, it
##% MUST examine the value of the "sent-by" parameter in the top Via
##% header field value.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
##= type=test
##% If the host portion of the "sent-by" parameter
##% contains a domain name, or if it contains an IP address that differs
##% from the packet source address, the server MUST add a "received"
##% parameter to that Via header field value.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
##= type=test
##% This parameter MUST
##% contain the source address from which the packet was received.
##= https://www.rfc-editor.org/rfc/rfc3581#section-4
##= type=test
##% If this Via header field value contains an "rport" parameter
##% with no value, it MUST set the value of the parameter to the source
##% port of the request.
##= https://www.rfc-editor.org/rfc/rfc3581#section-4
##= type=test
##% In fact, the server MUST insert a "received" parameter
##% containing the source IP address that the request came from, even if
##% it is identical to the value of the "sent-by" component.
@pytest.mark.parametrize(
    ("via", "source", "expected"),
    [
        # §18.2.1's example: a domain name gets received.
        (
            "SIP/2.0/UDP bobspc.biloxi.com:5060",
            udp_source("192.0.2.4"),
            "SIP/2.0/UDP bobspc.biloxi.com:5060;received=192.0.2.4",
        ),
        # An IP that differs from the source.
        (
            "SIP/2.0/UDP 10.1.1.1:4540;branch=z9hG4bKx",
            udp_source("192.0.2.1", 9988),
            "SIP/2.0/UDP 10.1.1.1:4540;branch=z9hG4bKx;received=192.0.2.1",
        ),
        # The same IP, no rport: nothing to add.
        ("SIP/2.0/UDP 192.0.2.4:4540;branch=z9hG4bKx", udp_source("192.0.2.4"), None),
        ("SIP/2.0/UDP [::1]:5060;branch=z9hG4bKx", udp_source("0::1"), None),
        # RFC 3581 §6: rport filled in, received added.
        (
            "SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bKkjshdyff",
            udp_source("192.0.2.1", 9988),
            "SIP/2.0/UDP 10.1.1.1:4540;rport=9988;branch=z9hG4bKkjshdyff;received=192.0.2.1",
        ),
        # rport: received even when the IP is the same.
        (
            "SIP/2.0/UDP 192.0.2.4:4540;rport",
            udp_source("192.0.2.4", 4541),
            "SIP/2.0/UDP 192.0.2.4:4540;rport=4541;received=192.0.2.4",
        ),
    ],
)
def test_stamp_via(via: str, source: Source, expected: str | None) -> None:
    stamped = stamp_via(Via.parse(via), source)
    assert (None if stamped is None else str(stamped)) == expected


# -- §18.2.2 / RFC 3581 §4: where a response goes ------------------------------------------


class _OpenConnection:
    is_open = True


class _ClosedConnection:
    is_open = False


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% It MUST follow the
##% following process:
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% If the "sent-protocol" is a reliable transport protocol such as
##% TCP or SCTP, or TLS over those, the response MUST be sent using
##% the existing connection to the source of the original request
##% that created the transaction, if that connection is still open.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% If that
##% connection is no longer open, the server SHOULD open a
##% connection to the IP address in the "received" parameter, if
##% present, using the port in the "sent-by" value, or the default
##% port for that transport, if no port is specified.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% Otherwise, if the Via header field value contains a "maddr"
##% parameter, the response MUST be forwarded to the address listed
##% there, using the port indicated in "sent-by", or port 5060 if
##% none is present.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% Otherwise (for unreliable unicast transports), if the top Via
##% has a "received" parameter, the response MUST be sent to the
##% address in the "received" parameter, using the port indicated
##% in the "sent-by" value, or using port 5060 if none is specified
##% explicitly.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% Otherwise, if it is not receiver-tagged, the response MUST be
##% sent to the address indicated by the "sent-by" value, using the
##% procedures in Section 5 of [4].
##= https://www.rfc-editor.org/rfc/rfc3581#section-4
##= type=test
##% If the "sent-protocol"
##% component indicates an unreliable unicast transport protocol, such as
##% UDP, and there is no "maddr" parameter, but there is both a
##% "received" parameter and an "rport" parameter, the response MUST be
##% sent to the IP address listed in the "received" parameter, and the
##% port in the "rport" parameter.
def test_response_target() -> None:
    tcp_remote = Address("TCP", "192.0.2.4", 50000)
    open_source = Source(tcp_remote, None, _OpenConnection())  # type: ignore[arg-type]
    closed_source = Source(tcp_remote, None, _ClosedConnection())  # type: ignore[arg-type]
    cases = [
        ("SIP/2.0/TCP 192.0.2.4:5070", open_source, (tcp_remote, True, None)),
        (
            "SIP/2.0/TCP pc.example.com:5070;received=192.0.2.4",
            closed_source,
            (Address("TCP", "192.0.2.4", 5070), False, None),
        ),
        (
            "SIP/2.0/TLS pc.example.com;received=192.0.2.4",
            None,
            (Address("TLS", "192.0.2.4", 5061), False, None),
        ),
        (
            "SIP/2.0/UDP pc.example.com;maddr=239.255.255.1;received=192.0.2.4",
            udp_source(),
            (Address("UDP", "239.255.255.1", 5060), False, None),
        ),
        (
            "SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1;rport=9988",
            udp_source("192.0.2.1", 9988),
            (Address("UDP", "192.0.2.1", 9988), False, LOCAL),
        ),
        (
            "SIP/2.0/UDP pc.example.com;received=192.0.2.4",
            udp_source(),
            (Address("UDP", "192.0.2.4", 5060), False, LOCAL),
        ),
        (
            "SIP/2.0/UDP 192.0.2.4:5080",
            udp_source(),
            (Address("UDP", "192.0.2.4", 5080), False, LOCAL),
        ),
        ("SIP/2.0/UDP [::1]", None, (Address("UDP", "::1", 5060), False, None)),
    ]
    for via, source, (address, reuse, local) in cases:
        target, connection, point = response_target(Via.parse(via), source)
        assert target == address, via
        assert (connection is not None) == reuse, via
        assert point is local, via
    with pytest.raises(ValueError, match="RFC 3263"):
        response_target(Via.parse("SIP/2.0/UDP pc.example.com"), None)


def test_address_for_uri() -> None:
    assert address_for_uri("sip:bob@192.0.2.4") == Address("UDP", "192.0.2.4", 5060)
    assert address_for_uri("sip:bob@192.0.2.4:5070;transport=TCP") == Address(
        "TCP", "192.0.2.4", 5070
    )
    assert address_for_uri("sips:bob@[::1]") == Address("TLS", "::1", 5061)
    assert address_for_uri("sip:bob@example.com;maddr=192.0.2.9") == Address(
        "UDP", "192.0.2.9", 5060
    )
    with pytest.raises(ValueError, match="RFC 3263"):
        address_for_uri("sip:bob@example.com")


# -- end to end -----------------------------------------------------------------------------


async def pair(
    transport: str = "UDP",
    host: str = "127.0.0.1",
    tmp_path: Path | None = None,
    *,
    with_tcp: bool = True,
) -> tuple[Dispatcher, RecordingTU, Dispatcher, RecordingTU, Address]:
    """A client dispatcher and a server dispatcher answering 200, both listening on ``host``."""
    server_ssl = client_ssl = None
    if transport == "TLS":
        assert tmp_path is not None
        server_ssl, client_ssl = ssl_contexts(*make_certificate(tmp_path))
    client_tu, server_tu = RecordingTU(), RecordingTU(answer=lambda request: 200)
    client = Dispatcher(
        client_tu, server_ssl=server_ssl, client_ssl=client_ssl, timers=FAST_TIMERS
    )
    server = Dispatcher(server_tu, server_ssl=server_ssl, timers=FAST_TIMERS)
    target = f"sip:{'[' + host + ']' if ':' in host else host}:0"
    await client.listen(target)
    if transport == "TLS":
        await client.listen(f"sips:{host}:0")
        points = await server.listen(f"sips:{host}:0")
    else:
        points = await server.listen(target, with_tcp=with_tcp)
    port = points[0].address.port
    return client, client_tu, server, server_tu, Address(transport, host, port)


##= https://www.rfc-editor.org/rfc/rfc3261#section-18
##= type=test
##% All SIP elements MUST implement UDP and TCP.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18
##= type=test
##% SIP elements MAY
##% implement other protocols.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% Therefore, the client
##% transport MUST be prepared to receive the response on the same
##% connection used to send the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% For unreliable unicast transports, the client transport MUST be
##% prepared to receive responses on the source IP address from which the
##% request is sent (as responses are sent back to the source address)
##% and the port number in the "sent-by" field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.2
##= type=test
##% If there is a
##% match, the response MUST be passed to that transaction.
##= https://www.rfc-editor.org/rfc/rfc3581#section-3
##= type=test
##% When the client sends the request, if the request is sent using UDP,
##% the client MUST be prepared to receive the response on the same IP
##% address and port it used to populate the source IP address and source
##% port of the request.
##= https://www.rfc-editor.org/rfc/rfc3581#section-3
##= type=test
##% For backwards compatibility, the client MUST
##% still be prepared to receive a response on the port indicated in the
##% sent-by field of the topmost Via header field value, as specified in
##% Section 18.1.1 of SIP [1].
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% Before a request is sent, the client transport MUST insert a value of
##% the "sent-by" field into the Via header field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
##= type=test
##% For any port and interface
##% that a server listens on for UDP, it MUST listen on that same port
##% and interface for TCP.
@pytest.mark.parametrize(
    ("transport", "host"),
    [
        ("UDP", "127.0.0.1"),
        ("TCP", "127.0.0.1"),
        ("TLS", "127.0.0.1"),
        pytest.param("UDP", "::1", marks=needs_ipv6),
        pytest.param("TCP", "::1", marks=needs_ipv6),
    ],
)
@async_test(timeout=15)
async def test_request_and_response_over(transport: str, host: str, tmp_path: Path) -> None:
    client, client_tu, server, server_tu, destination = await pair(transport, host, tmp_path)
    try:
        transaction = client.send_request(build_request("OPTIONS"), destination)
        request, _server_transaction, source = await server_tu.next("request")
        via = request.top_via
        point = client.local_point(transport)
        assert via.transport == transport
        assert (via.host, via.port) == (f"[{host}]" if ":" in host else host, point.address.port)
        assert via.branch and via.branch.startswith("z9hG4bK")
        assert source.transport == transport
        assert (source.connection is None) == (transport == "UDP")
        if transport == "UDP":
            # RFC 3581 §3: our UDP requests ask for rport; the server filled it in.
            assert via.rport == source.remote.port and via.received == host
        response, matched = await client_tu.next("response")
        assert matched is transaction and response.status == 200
        if transport != "UDP":
            # §18.2.2: the response came back on the connection the request used.
            assert len(client.transport.connections) == 1
            assert len(server.transport.connections) == 1
    finally:
        await client.close()
        await server.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% Response retransmissions cease when an ACK request for the response is
##% received.
@pytest.mark.parametrize("transport", ["UDP", "TCP"])
@async_test(timeout=15)
async def test_call_against_the_minimal_uas(transport: str) -> None:
    uas = MinimalUAS(timers=FAST_TIMERS)
    server = Dispatcher(uas, timers=FAST_TIMERS, send_100=False)
    client_tu = RecordingTU()
    client = Dispatcher(client_tu, timers=FAST_TIMERS)
    try:
        (point, *_) = await server.listen("sip:127.0.0.1:0")
        await client.listen("sip:127.0.0.1:0")
        destination = Address(transport, "127.0.0.1", point.address.port)
        offer = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"
        invite = build_request("INVITE", extra=(("Content-Type", "application/sdp"),), body=offer)
        client.send_request(invite, destination)
        response, _ = await client_tu.next("response")
        assert response.status == 200 and response.to.tag
        assert response.contact and response.content_type is not None
        assert b"m=audio 0 RTP/AVP 0" in response.body  # every stream declined
        remote = address_for_uri(response.contact[0].uri)
        assert remote.port == point.address.port
        ack = build_request("ACK", str(response.contact[0].uri))
        ack.headers.set("To", response.headers.get("To"))
        client.send_stateless_request(ack, destination)
        bye = build_request("BYE", cseq=2)
        bye.headers.set("To", response.headers.get("To"))
        client.send_request(bye, destination)
        response, _ = await client_tu.next("response")
        assert response.status == 200 and response.cseq.method == "BYE"
        assert uas.counts == {"INVITE": 1, "ACK": 1, "BYE": 1}
        assert not uas.pending and not uas.dialogs
        await asyncio.sleep(FAST_TIMERS.T1 * 3)
        assert uas.retransmissions == 0
    finally:
        uas.stop()
        await client.close()
        await server.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% The 2xx response is passed to the transport with an
##% interval that starts at T1 seconds and doubles for each
##% retransmission until it reaches T2 seconds (T1 and T2 are defined in
##% Section 17).
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% If the INVITE did not contain an offer, the 2xx MUST contain an offer if the UAS had not
##% yet sent an offer.
@async_test(timeout=15)
async def test_minimal_uas_retransmits_2xx_until_ack() -> None:
    uas = MinimalUAS(timers=FAST_TIMERS)
    server = Dispatcher(uas, timers=FAST_TIMERS, send_100=False)
    peer = UdpPeer()
    loop = asyncio.get_running_loop()
    try:
        (point, *_) = await server.listen("sip:127.0.0.1:0")
        peer.send(raw_request("INVITE", f"UDP 127.0.0.1:{peer.port}"), point.address.port)
        arrivals = []
        for _ in range(6):
            response = await peer.receive_message()
            assert isinstance(response, Response) and response.status == 200
            assert b"m=audio 0 RTP/AVP 0" in response.body  # the INVITE had no offer
            arrivals.append(loop.time())
        intervals = [b - a for a, b in itertools.pairwise(arrivals)]
        expected = [0.02, 0.04, 0.08, 0.08, 0.08]  # T1, 2*T1, 4*T1, then T2
        for measured, wanted in zip(intervals, expected, strict=True):
            assert wanted * 0.7 <= measured <= wanted + 0.05, (intervals, expected)
        tag = response.to.tag
        peer.send(
            raw_request("ACK", f"UDP 127.0.0.1:{peer.port}", branch="z9hG4bK-ack", to_tag=tag),
            point.address.port,
        )
        await asyncio.sleep(0.05)
        while True:  # drain what was on the way before the ACK arrived
            try:
                await peer.receive(0.01)
            except TimeoutError:
                break
        with pytest.raises(TimeoutError):
            await peer.receive(4 * FAST_TIMERS.T2)
        assert uas.counts["ACK"] == 1 and not uas.pending
    finally:
        peer.close()
        uas.stop()
        await server.close()


@async_test()
async def test_minimal_uas_answers_other_methods() -> None:
    uas = MinimalUAS(timers=FAST_TIMERS)
    server = Dispatcher(uas, timers=FAST_TIMERS, send_100=False)
    peer = UdpPeer()
    try:
        (point, *_) = await server.listen("sip:127.0.0.1:0")
        via = f"UDP 127.0.0.1:{peer.port}"
        expected = {"OPTIONS": 200, "BYE": 481, "REGISTER": 405, "CANCEL": 481}
        for number, (method, status) in enumerate(expected.items()):
            peer.send(
                raw_request(method, via, branch=f"z9hG4bK-{number}", to_tag="t"),
                point.address.port,
            )
            response = await peer.receive_message()
            assert isinstance(response, Response)
            assert (response.cseq.method, response.status) == (method, status)
            if status in (200, 405) and method != "CANCEL":
                assert "INVITE" in (response.headers.get("Allow") or "")
    finally:
        peer.close()
        uas.stop()
        await server.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% If a request is within 200 bytes of the path MTU, or if it is larger
##% than 1300 bytes and the path MTU is unknown, the request MUST be sent
##% using an RFC 2914 [43] congestion controlled transport protocol, such
##% as TCP.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% If this causes a change in the transport protocol from the
##% one indicated in the top Via, the value in the top Via MUST be
##% changed.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18
##= type=test
##% It has arisen out of the need to handle larger messages,
##% which MUST use TCP, as discussed below.
@async_test()
async def test_large_request_goes_over_tcp() -> None:
    client, client_tu, server, server_tu, destination = await pair("UDP")
    try:
        body = b"x" * UDP_SIZE_LIMIT
        client.send_request(build_request("MESSAGE", body=body), destination)
        request, _, source = await server_tu.next("request")
        assert source.transport == "TCP" and request.top_via.transport == "TCP"
        assert request.body == body
        response, transaction = await client_tu.next("response")
        assert response.status == 200 and transaction.reliable
        # A small request to the same destination stays on UDP.
        client.send_request(build_request("MESSAGE", call_id="small"), destination)
        request, _, source = await server_tu.next("request")
        assert source.transport == "UDP" and request.top_via.transport == "UDP"
    finally:
        await client.close()
        await server.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% If an element sends a request over TCP because of these message size
##% constraints, and that request would have otherwise been sent over
##% UDP, if the attempt to establish the connection generates either an
##% ICMP Protocol Not Supported, or results in a TCP reset, the element
##% SHOULD retry the request, using UDP.
@async_test()
async def test_large_request_falls_back_to_udp_when_tcp_is_refused() -> None:
    client, client_tu, server, server_tu, destination = await pair("UDP", with_tcp=False)
    try:
        body = b"x" * UDP_SIZE_LIMIT
        first = client.send_request(build_request("MESSAGE", body=body), destination)
        old, new = await client_tu.next("retry")
        assert old is first and new is not first and not new.reliable
        request, _, source = await server_tu.next("request")
        assert source.transport == "UDP" and request.top_via.transport == "UDP"
        response, transaction = await client_tu.next("response")
        assert response.status == 200 and transaction is new
    finally:
        await client.close()
        await server.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.4
##= type=test
##% If the transport user asks for a request to be sent over a reliable
##% transport, and the result is a connection failure, the transport
##% layer SHOULD inform the transport user of a failure in sending.
@async_test()
async def test_connection_failure_reaches_the_tu() -> None:
    client_tu = RecordingTU()
    client = Dispatcher(client_tu, timers=FAST_TIMERS)
    try:
        await client.listen("sip:127.0.0.1:0")
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            port = unused.getsockname()[1]
        transaction = client.send_request(
            build_request("OPTIONS"), Address("TCP", "127.0.0.1", port)
        )
        failed = await client_tu.next("transport_failure")
        assert failed is transaction and transaction.terminated
        assert len(client.transactions) == 0
    finally:
        await client.close()


@async_test()
async def test_timers_run_on_the_event_loop() -> None:
    client_tu = RecordingTU()
    client = Dispatcher(client_tu, timers=FAST_TIMERS)
    silent = UdpPeer()
    loop = asyncio.get_running_loop()
    try:
        await client.listen("sip:127.0.0.1:0")
        started = loop.time()
        transaction = client.send_request(
            build_request("OPTIONS"), Address("UDP", "127.0.0.1", silent.port)
        )
        arrivals = [loop.time() - started for _ in range(1) if await silent.receive()]
        for _ in range(3):
            await silent.receive()
            arrivals.append(loop.time() - started)
        # Timer E: T1, then doubling (§17.1.2.2): sent at 0, T1, 3*T1, 7*T1.
        for measured, wanted in zip(arrivals, [0.0, 0.02, 0.06, 0.14], strict=True):
            assert wanted - 0.005 <= measured <= wanted + 0.06, arrivals
        timed_out, timer = await client_tu.next("timeout", 5.0)
        assert timed_out is transaction and timer == "F"
        assert loop.time() - started >= 64 * FAST_TIMERS.T1
    finally:
        silent.close()
        await client.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.2
##= type=test
##% If the value of the "sent-by" parameter in
##% that header field value does not correspond to a value that the
##% client transport is configured to insert into requests, the response
##% MUST be silently discarded.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.2
##= type=test
##% Otherwise, the response MUST be passed to the core (whether it be stateless
##% proxy, stateful proxy, or UA) for further processing.
@async_test()
async def test_responses_not_for_us_and_stray_responses() -> None:
    client_tu = RecordingTU()
    client = Dispatcher(client_tu)
    peer = UdpPeer()
    try:
        (point, *_) = await client.listen("sip:127.0.0.1:0")
        port = point.address.port
        request = parse(raw_request("OPTIONS", "UDP 192.0.2.1:5060", branch="z9hG4bK-f"))
        assert isinstance(request, Request)
        peer.send(bytes(request.make_response(200)), port)
        ours = parse(raw_request("OPTIONS", f"UDP 127.0.0.1:{port}", branch="z9hG4bK-s"))
        assert isinstance(ours, Request)
        peer.send(bytes(ours.make_response(200)), port)
        response, transaction = await client_tu.next("response")
        assert transaction is None and response.top_via.branch == "z9hG4bK-s"
        assert client.foreign_responses == 1
        assert client.transactions.stray_responses == 1
    finally:
        peer.close()
        await client.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% If the transport packet ends before the end of the
##% message body, this is considered an error.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% If the message is a
##% response, it MUST be discarded.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% If the message is a request, the
##% element SHOULD generate a 400 (Bad Request) response.
@async_test()
async def test_malformed_datagrams_are_answered_or_dropped() -> None:
    server_tu = RecordingTU(answer=lambda request: 200)
    server = Dispatcher(server_tu)
    peer = UdpPeer()
    try:
        (point, *_) = await server.listen("sip:127.0.0.1:0")
        port = point.address.port
        via = f"UDP 127.0.0.1:{peer.port}"
        truncated = raw_request("MESSAGE", via).replace(
            b"Content-Length: 0", b"Content-Length: 50"
        )
        peer.send(truncated + b"short body", port)
        response = await peer.receive_message()
        assert isinstance(response, Response) and response.status == 400
        assert response.cseq.method == "MESSAGE"
        bad = raw_request("OPTIONS", via).replace(b"Max-Forwards: 70", b"Max-Forwards: many")
        peer.send(bad, port)
        response = await peer.receive_message()
        assert isinstance(response, Response) and response.status == 400
        assert "Max-Forwards" in response.reason
        # A malformed response and plain garbage get nothing back.
        peer.send(b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n", port)
        for size in (0, 1, 100, 5000):
            peer.send(bytes(range(256)) * (size // 256) + b"\xff" * (size % 256), port)
        with pytest.raises(TimeoutError):
            await peer.receive(0.2)
        # The listener is still there: a valid request is answered.
        peer.send(raw_request("OPTIONS", via, branch="z9hG4bK-ok"), port)
        response = await peer.receive_message()
        assert isinstance(response, Response) and response.status == 200
        assert server.malformed == 7 and server.bad_requests_answered == 2
    finally:
        peer.close()
        await server.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.7
##= type=test
##% A stateless UAS MUST ignore ACK requests.
@async_test()
async def test_a_malformed_ack_gets_no_response_so_no_ping_pong() -> None:
    # A peer that ACKs every final response, copying the malformed header, would turn
    # a 400 to its ACK into an endless exchange.
    server = Dispatcher(RecordingTU(answer=lambda request: 200))
    peer = UdpPeer()
    try:
        (point, *_) = await server.listen("sip:127.0.0.1:0")
        via = f"UDP 127.0.0.1:{peer.port}"
        for _ in range(20):
            bad_ack = raw_request("ACK", via).replace(b"Max-Forwards: 70", b"Max-Forwards: x")
            peer.send(bad_ack, point.address.port)
        with pytest.raises(TimeoutError):
            await peer.receive(0.3)
        assert server.malformed == 20 and server.bad_requests_answered == 0
    finally:
        peer.close()
        await server.close()


##= https://www.rfc-editor.org/rfc/rfc3581#section-4
##= type=test
##% The response MUST be sent from the
##% same address and port that the corresponding request was received on.
@async_test()
async def test_udp_responses_follow_received_and_rport() -> None:
    server_tu = RecordingTU(answer=lambda request: 200)
    server = Dispatcher(server_tu)
    peer = UdpPeer()
    try:
        (point, *_) = await server.listen("sip:127.0.0.1:0")
        port = point.address.port
        # rport: the response goes to the source port, not to the sent-by port 9.
        peer.send(raw_request("OPTIONS", "UDP 127.0.0.1:9;rport", branch="z9hG4bK-1"), port)
        data, address = await asyncio.wait_for(
            asyncio.get_running_loop().sock_recvfrom(peer.sock, 65536), 2.0
        )
        response = parse(data)
        assert response.top_via.rport == peer.port and response.top_via.received == "127.0.0.1"
        assert address == ("127.0.0.1", port)  # sent from where the request arrived
        # received: a sent-by naming another host is answered at the source IP.
        peer.send(
            raw_request("OPTIONS", f"UDP client.example.com:{peer.port}", branch="z9hG4bK-2"),
            port,
        )
        response = await peer.receive_message()
        assert response.top_via.received == "127.0.0.1" and response.top_via.rport is None
    finally:
        peer.close()
        await server.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% To
##% handle this case, the transport layer MUST also be prepared to
##% receive an incoming connection on the source IP address from which
##% the request was sent and port number in the "sent-by" field.
@async_test()
async def test_tcp_response_opens_a_new_connection_when_the_old_one_closed() -> None:
    holding = RecordingTU()  # does not answer at once
    server = Dispatcher(holding)
    accepted: asyncio.Queue[bytes] = asyncio.Queue()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.put_nowait(await reader.readuntil(b"\r\n\r\n"))
        writer.close()

    client_server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    sent_by_port = client_server.sockets[0].getsockname()[1]
    try:
        (point, *_) = await server.listen("sip:127.0.0.1:0")
        _reader, writer = await asyncio.open_connection("127.0.0.1", point.address.port)
        writer.write(raw_request("OPTIONS", f"TCP 127.0.0.1:{sent_by_port}"))
        await writer.drain()
        request, transaction, source = await holding.next("request")
        writer.close()
        for _ in range(100):
            if source.connection.closed:
                break
            await asyncio.sleep(0.01)
        assert source.connection.closed
        server.send_response(transaction, request.make_response(200))
        head = await asyncio.wait_for(accepted.get(), 3.0)
        assert head.startswith(b"SIP/2.0 200 OK")
    finally:
        client_server.close()
        await server.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% To
##% handle this case, the transport layer MUST also be prepared to
##% receive an incoming connection on the source IP address from which
##% the request was sent and port number in the "sent-by" field.
@async_test()
async def test_tcp_client_takes_the_response_on_a_new_connection_to_its_sent_by() -> None:
    client_tu = RecordingTU()
    client = Dispatcher(client_tu, timers=FAST_TIMERS)
    await client.listen("sip:127.0.0.1:0")
    heads: asyncio.Queue[bytes] = asyncio.Queue()

    async def hang_up_after_reading(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        heads.put_nowait(await reader.readuntil(b"\r\n\r\n"))
        writer.close()  # the server's connection is gone before it answers

    peer = await asyncio.start_server(hang_up_after_reading, "127.0.0.1", 0)
    port = peer.sockets[0].getsockname()[1]
    try:
        transaction = client.send_request(
            build_request("OPTIONS"), Address("TCP", "127.0.0.1", port)
        )
        request = parse(await asyncio.wait_for(heads.get(), 3.0))
        assert isinstance(request, Request)
        via = request.top_via
        # The server opens a new connection to sent-by (§18.2.2) and answers there.
        _reader, writer = await asyncio.open_connection(via.host, via.port)
        writer.write(bytes(request.make_response(200)))
        await writer.drain()
        response, matched = await client_tu.next("response")
        assert matched is transaction and response.status == 200
        writer.close()
    finally:
        peer.close()
        await client.close()


def test_dispatcher_uses_a_transaction_layer() -> None:
    async def build() -> Dispatcher:
        return Dispatcher(RecordingTU())

    dispatcher = asyncio.run(build())
    assert isinstance(dispatcher.transactions, TransactionLayer)
    with pytest.raises(RuntimeError, match="listen"):
        dispatcher.local_point("UDP")


@async_test()
async def test_malformed_request_on_a_stream_is_answered_on_it() -> None:
    server_tu = RecordingTU(answer=lambda request: 200)
    server = Dispatcher(server_tu)
    try:
        (point, *_) = await server.listen("sip:127.0.0.1:0")
        reader, writer = await asyncio.open_connection("127.0.0.1", point.address.port)
        via = "TCP 127.0.0.1:9"  # nothing listens there: answers must use this connection
        bad = raw_request("OPTIONS", via).replace(b"Max-Forwards: 70", b"Max-Forwards: many")
        writer.write(bad + raw_request("OPTIONS", via, branch="z9hG4bK-next"))
        first = parse(await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2.0))
        second = parse(await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2.0))
        assert isinstance(first, Response) and first.status == 400
        assert isinstance(second, Response) and second.status == 200
        assert len(server.transport.connections) == 1
        writer.close()
    finally:
        await server.close()


def test_uas_load_benchmark_harness() -> None:
    from rfc3261.bench.uas_load import in_process, memory_per_transaction

    cpu = in_process(50)
    assert cpu["us_per_call"] > 0 and cpu["profile_top"]
    memory = memory_per_transaction(40)
    # Each INVITE left without BYE keeps its server transaction ("Accepted", Timer L).
    assert memory["live_transactions"] >= 40
    assert 0 < memory["bytes_per_transaction"] < 1_000_000


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% A client that sends a request to a multicast address MUST add the
##% "maddr" parameter to its Via header field value containing the
##% destination multicast address, and for IPv4, SHOULD add the "ttl"
##% parameter with a value of 1.
@async_test()
async def test_request_to_a_multicast_group_names_it_in_via() -> None:
    client = Dispatcher(RecordingTU())
    try:
        await client.listen("sip:127.0.0.1:0")
        request = build_request("REGISTER", "sip:127.0.0.1")
        group = Address("UDP", "239.255.255.253", 5060)
        destination, switched = client._prepare_request(request, group)
        via = request.top_via
        assert (via.maddr, via.ttl, destination, switched) == ("239.255.255.253", 1, group, None)
        unicast = build_request("REGISTER", "sip:127.0.0.1", call_id="other")
        client._prepare_request(unicast, Address("UDP", "127.0.0.1", 5060))
        assert unicast.top_via.maddr is None and unicast.top_via.ttl is None
    finally:
        await client.close()


# -- CoreHost: a sans-I/O core that owns its transaction layer ------------------------------


class EchoCore:
    """A tiny sans-I/O core: answers requests 200, sends what it is told, counts events."""

    def __init__(self) -> None:
        self.layer = TransactionLayer(FAST_TIMERS)
        self.timer_calls = 0
        self.errors: list[object] = []

    def receive(self, message, source, now):  # type: ignore[no-untyped-def]
        if isinstance(message, Response):
            effects = self.layer.receive_response(message, now)
        else:
            effects = self.layer.receive_request(message, source, now)
        out = []
        for effect in effects:
            if isinstance(effect, RequestReceived) and effect.transaction is not None:
                response = effect.request.make_response(200)
                out.extend(self.layer.send_response(effect.transaction, response, now))
                out.append(("app", effect.request.method))
            elif isinstance(effect, SendMessage):
                out.append(effect)
            elif isinstance(effect, ResponseReceived):
                out.append(("app", effect.response.status))
        return out

    def request(self, request: Request, destination, now):  # type: ignore[no-untyped-def]
        return self.layer.send_request(request, destination, now)[1]

    def next_deadline(self):  # type: ignore[no-untyped-def]
        return self.layer.next_deadline()

    def handle_timer(self, now):  # type: ignore[no-untyped-def]
        self.timer_calls += 1
        return [e for e in self.layer.handle_timer(now) if isinstance(e, SendMessage)]

    def transport_error(self, transaction, now):  # type: ignore[no-untyped-def]
        self.errors.append(transaction)
        return []


@dataclass
class NextHop:
    transport: str
    host: str
    port: int | None = None


@async_test()
async def test_core_host_runs_a_sans_io_core() -> None:
    delivered: list[object] = []
    core = EchoCore()
    host = CoreHost(core, delivered.append)
    peer = UdpPeer()
    try:
        (point, *_) = await host.listen("sip:127.0.0.1:0")
        port = point.address.port
        # A request in: stamped (rport), answered through the core's transaction.
        peer.send(raw_request("OPTIONS", "UDP 127.0.0.1:9;rport"), port)
        response = await peer.receive_message()
        assert isinstance(response, Response) and response.status == 200
        assert response.top_via.rport == peer.port
        assert delivered == [("app", "OPTIONS")]
        # A request out to a next hop; the core's client transaction retransmits it
        # (timer driven by the host) until the peer answers.
        request = build_request("OPTIONS", f"sip:bob@127.0.0.1:{peer.port}")
        request.headers.prepend("Via", f"SIP/2.0/UDP 127.0.0.1:{port};branch={new_branch()}")
        host.run(core.request(request, NextHop("udp", "127.0.0.1", peer.port), host.clock()))
        first = await peer.receive_message()
        again = await peer.receive_message()
        assert bytes(first) == bytes(again) and core.timer_calls >= 1
        assert isinstance(first, Request)
        peer.send(bytes(first.make_response(200)), port)
        for _ in range(100):
            if ("app", 200) in delivered:
                break
            await asyncio.sleep(0.01)
        assert ("app", 200) in delivered
        # A response whose Via is not ours never reaches the core (§18.1.2).
        other = parse(raw_request("OPTIONS", "UDP 192.0.2.1:5060", branch="z9hG4bK-x"))
        peer.send(bytes(other.make_response(200)), port)
        await asyncio.sleep(0.05)
        assert host.foreign_responses == 1
    finally:
        peer.close()
        await host.close()


@async_test()
async def test_core_host_reports_send_failures_and_names() -> None:
    core = EchoCore()
    failed: list[object] = []
    host = CoreHost(core, on_send_error=lambda effect, now: failed.append(effect) or [])
    try:
        await host.listen("sip:127.0.0.1:0")
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            port = unused.getsockname()[1]
        request = build_request("OPTIONS")
        request.headers.prepend("Via", f"SIP/2.0/TCP 127.0.0.1:{port};branch={new_branch()}")
        host.run(core.request(request, NextHop("TCP", "127.0.0.1", port), host.clock()))
        by_name = build_request("OPTIONS", call_id="named")
        by_name.headers.prepend("Via", f"SIP/2.0/UDP 127.0.0.1:5060;branch={new_branch()}")
        host.run(core.request(by_name, NextHop("UDP", "proxy.example.com"), host.clock()))
        for _ in range(200):
            if len(failed) == 2:
                break
            await asyncio.sleep(0.01)
        assert len(failed) == 2
        assert {effect.message.call_id for effect in failed} == {"call-1@127.0.0.1", "named"}
    finally:
        await host.close()


def test_resolve_destination() -> None:
    assert resolve_destination(NextHop("tcp", "192.0.2.1")) == Address("TCP", "192.0.2.1", 5060)
    assert resolve_destination(NextHop("TLS", "[::1]", 5071)) == Address("TLS", "::1", 5071)
    assert resolve_destination("sips:a@192.0.2.1") == Address("TLS", "192.0.2.1", 5061)
    assert resolve_destination(udp_source()) == udp_source().remote
    with pytest.raises(ValueError, match="RFC 3263"):
        resolve_destination(NextHop("UDP", "example.com"))


@async_test(timeout=20)
async def test_uas_minimal_command_line_serves_udp_tcp_and_tls(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    _, client_ssl = ssl_contexts(cert, key)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        tls_port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rfc3261.asyncio.uas_minimal", "--listen", "sip:127.0.0.1:0",
        "--listen", f"sips:127.0.0.1:{tls_port}", "--cert", str(cert), "--key", str(key),
        stdout=asyncio.subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2])),
    )  # fmt: skip
    client_tu = RecordingTU()
    client = Dispatcher(client_tu, client_ssl=client_ssl)
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
        assert line.startswith("listening on UDP 127.0.0.1:"), line
        udp_port = int(line.split(",")[0].rsplit(":", 1)[1])
        assert f"TCP 127.0.0.1:{udp_port}" in line and f"TLS 127.0.0.1:{tls_port}" in line
        await client.listen("sip:127.0.0.1:0")
        for number, destination in enumerate(
            [
                Address("UDP", "127.0.0.1", udp_port),
                Address("TCP", "127.0.0.1", udp_port),
                Address("TLS", "127.0.0.1", tls_port),
            ]
        ):
            client.send_request(build_request("OPTIONS", call_id=f"c{number}"), destination)
            response, _ = await client_tu.next("response", 5.0)
            assert response.status == 200 and response.call_id == f"c{number}"
    finally:
        await client.close()
        process.terminate()
        out, _ = await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 0
    assert b"'OPTIONS': 3" in out
