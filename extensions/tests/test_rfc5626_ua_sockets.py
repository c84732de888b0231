"""RFC 5626 outbound on loopback sockets: our UA against a scripted edge+registrar.

The registrar (``outbound_peer.ScriptedRegistrar``) answers REGISTER with
``Require: outbound``, CRLF pings with pongs and STUN Binding requests with a
Binding response.  The TCP connection is killed under a registered UA and the time
until it is registered (and reachable) again is measured.
"""

from __future__ import annotations

import time

from extensions.tests.outbound_peer import OutboundClient, Peer, ScriptedRegistrar
from rfc3261.tests.transport_support import async_test


def invite(port: int, ua_port: int, n: int) -> bytes:
    """An INVITE for alice sent by the edge over the flow (as routed by a flow token)."""
    return (
        f"INVITE sip:alice@127.0.0.1:{ua_port};transport=tcp SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP 127.0.0.1:{port};branch=z9hG4bK-ob-{n}\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:bob@127.0.0.1>;tag=b1\r\n"
        "To: <sip:alice@127.0.0.1>\r\n"
        f"Call-ID: ob-call-{n}\r\n"
        "CSeq: 1 INVITE\r\n"
        f"Contact: <sip:bob@127.0.0.1:{port};transport=tcp>\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4
##= type=test
##% The UA needs to detect when a specific flow fails.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4
##= type=test
##% If
##% a flow with a registration has failed, the UA follows the procedures
##% in Section 4.2 to form a new flow to replace the failed one.
##= https://www.rfc-editor.org/rfc/rfc5626#section-3.5
##= type=test
##% If the client does not receive a pong in response to its ping (allowing for
##% retransmission for STUN as described in Section 4.4.2), it declares
##% the flow dead and opens a new flow in its place.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.3
##= type=test
##% If the
##% UAC cannot use one of the existing flows, then it SHOULD form a new
##% flow by sending a datagram or opening a new connection to the next
##% hop, as appropriate for the transport protocol.
@async_test(timeout=20.0)
async def test_a_killed_tcp_flow_is_registered_again_and_no_call_is_lost_after() -> None:
    registrar = await ScriptedRegistrar().start()
    client = await OutboundClient([registrar.uri]).start()
    peer = registrar.peer
    try:
        assert await client.until(lambda: client.outbound.flows[0].successful, 5.0)
        (_, first), *_ = peer.registers
        assert first.contact[0].params.get("reg-id") == "1"
        assert peer.pings  # the first CRLF ping went out at once and was answered
        ua_port = client.host.local_point("TCP").address.port
        for n in range(3):
            old = registrar.last_flow
            killed = time.monotonic()
            registrar.kill()
            assert await client.until(lambda n=n: len(peer.registers) == n + 2, 5.0)
            assert await client.until(lambda n=n: client.states().count("active") == n + 2, 5.0)
            recovered = time.monotonic() - killed
            assert recovered < 1.0, recovered
            assert registrar.last_flow is not old  # a new connection: the new flow
            # Reachable through the new flow: a call arriving now reaches the UA.
            assert registrar.send_on_flow(invite(registrar.port, ua_port, n))
            assert await client.until(lambda n=n: len(client.of("IncomingCall")) == n + 1, 5.0)
            assert await client.until(
                lambda n=n: [r.status for r in peer.responses].count(486) == n + 1, 5.0
            )
        reg_ids = {r.contact[0].params.get("reg-id") for _, r in peer.registers}
        call_ids = {r.call_id for _, r in peer.registers}
        assert reg_ids == {"1"} and len(call_ids) == 4
        assert client.states().count("failed") == 3
    finally:
        await client.close()
        await registrar.close()


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.1
##= type=test
##% If a pong is not received within 10 seconds after sending a ping (or
##% immediately after processing any incoming message being received when
##% that 10 seconds expires), then the client MUST treat the flow as
##% failed.
@async_test(timeout=20.0)
async def test_a_silent_edge_fails_the_flow_after_the_pong_timeout() -> None:
    registrar = await ScriptedRegistrar().start()
    client = await OutboundClient([registrar.uri], crlf_upper=0.3, pong_timeout=0.5).start()
    peer = registrar.peer
    try:
        assert await client.until(lambda: client.outbound.flows[0].successful, 5.0)
        peer.answer_pings = False
        silent = time.monotonic()
        assert await client.until(lambda: "failed" in client.states(), 5.0)
        failed_at = next(t for t, e in client.of("FlowEvent") if e.state == "failed")
        # The last ping went out at most 0.3 s after the edge went silent, then 0.5 s.
        assert 0.45 <= failed_at - silent <= 1.5
        # The old connection was dropped and the REGISTER went on a new one.
        assert await client.until(lambda: len(peer.registers) == 2, 5.0)
    finally:
        await client.close()
        await registrar.close()


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.2
##= type=test
##% The UA can
##% periodically perform keep-alive checks by sending STUN [RFC5389]
##% Binding Requests over the flow as described in Section 8.
@async_test(timeout=20.0)
async def test_stun_keepalive_on_udp_answered_by_a_stun_responder() -> None:
    registrar = await ScriptedRegistrar().start()
    client = await OutboundClient(
        [registrar.udp_uri], transport="UDP", stun_lower=0.2, stun_upper=0.3
    ).start()
    peer = registrar.peer
    try:
        assert await client.until(lambda: len(peer.stun) >= 3, 5.0)
        flow = client.outbound.flows[0]
        assert flow.state == "active" and flow.successful
        ua_port = client.host.local_point("UDP").address.port
        assert flow.keepalive.mapped == ("127.0.0.1", ua_port)
        assert "failed" not in client.states()
    finally:
        await client.close()
        await registrar.close()


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.3
##= type=test
##% For protocols that don't use TLS, if the UAC has an existing flow to
##% this IP address, and port with the correct protocol, then the UAC
##% MUST use the existing connection.
@async_test(timeout=20.0)
async def test_requests_to_the_edge_go_over_the_registered_flow() -> None:
    registrar = await ScriptedRegistrar().start()
    other = await ScriptedRegistrar().start()
    client = await OutboundClient([registrar.uri], outbound_proxy=registrar.uri).start()
    try:
        assert await client.until(lambda: client.outbound.flows[0].state == "active", 5.0)
        ua, host = client.ua, client.host
        for target in ("sip:bob@127.0.0.1", f"sip:carol@127.0.0.1:{other.port};transport=tcp"):
            request = ua.build_request("OPTIONS", target)
            host.run(ua.send(request, host.clock())[1])
        # Both go through the outbound proxy (the route set), on the registered flow.
        assert await client.until(lambda: len(registrar.peer.requests) == 2, 5.0)
        for method, connection in registrar.peer.requests:
            assert method == "OPTIONS" and connection is registrar.last_flow
        assert len(registrar.connections) == 1  # no second connection to the edge
        assert other.peer.requests == []
    finally:
        await client.close()
        await registrar.close()
        await other.close()


@async_test(timeout=20.0)
async def test_without_require_outbound_no_keepalive_is_sent() -> None:
    registrar = await ScriptedRegistrar(Peer(require_outbound=False)).start()
    client = await OutboundClient([registrar.udp_uri], transport="UDP").start()
    try:
        assert await client.until(lambda: "unsupported" in client.states(), 5.0)
        assert await client.until(lambda: len(registrar.peer.registers) == 2, 5.0)
        await client.until(lambda: False, 0.3)
        assert registrar.peer.stun == []
    finally:
        await client.close()
        await registrar.close()


def test_the_recovery_bench_runs_quick() -> None:
    from rfc3261.bench import outbound_recovery

    doc = outbound_recovery.run(True)
    assert doc["rounds"] == 3 and len(doc["registered_s"]) == 3
    assert doc["calls_lost"] == 0 and outbound_recovery.floors_passed(doc) is True
    assert "registered again: median" in outbound_recovery.render(doc)


@async_test(timeout=10.0)
async def test_the_edge_wants_ip_literals_for_the_outbound_proxies() -> None:
    client = OutboundClient(["sip:edge.example.com;transport=tcp"])
    try:
        await client.start()
    except ValueError as error:
        assert "IP literal" in str(error)
    else:
        raise AssertionError("a name in the outbound-proxy-set was taken")
    finally:
        await client.host.close()
