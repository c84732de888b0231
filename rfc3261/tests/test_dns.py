"""RFC 3263 over a real DNS server: DnsResolver and CoreHost against dnsmasq on 127.0.0.1.

Every test uses the ``forbid_system_resolver`` guard: reading /etc/resolv.conf or
resolving a name through the C library fails the test.
"""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from rfc3261.asyncio.dispatcher import CoreHost, Dispatcher, new_branch
from rfc3261.asyncio.dns import DnsResolver, parse_nameserver
from rfc3261.asyncio.transport import Address
from rfc3261.message import Request, Response, parse
from rfc3261.programs.common import parse_args
from rfc3261.programs.ua import EXIT_OK, build_parser, run_program

from .dns_support import Zone, dnsmasq, forbid_system_resolver, free_port  # noqa: F401
from .test_resolver import ClientCore
from .transport_support import FAST_TIMERS, RecordingTU, async_test, build_request


@dataclass
class Ports:
    dead: int
    live: int
    farm_a: int
    farm_b: int
    client: int
    ua: int
    busy: int
    second: int


@pytest.fixture(scope="module")
def ports() -> Ports:
    return Ports(*(free_port() for _ in range(8)))


@pytest.fixture(scope="module")
def server(ports: Ports) -> Iterator[str]:
    zone = Zone(
        naptr=[
            "example.test,10,10,S,SIP+D2T,,_sip._tcp.example.test",
            "example.test,20,10,S,SIP+D2U,,_sip._udp.example.test",
            "ua.example.test,10,10,S,SIP+D2T,,_sip._tcp.ua.example.test",
        ],
        srv=[
            # A dead first target (nobody listens), then the live one.
            f"_sip._tcp.example.test,dead.example.test,{ports.dead},0,10",
            f"_sip._tcp.example.test,live.example.test,{ports.live},1,10",
            f"_sip._udp.example.test,live.example.test,{ports.live},0,10",
            # Two equal servers: where a branch goes, its retransmissions and CANCEL go.
            f"_sip._udp.farm.example.test,a.example.test,{ports.farm_a},0,50",
            f"_sip._udp.farm.example.test,b.example.test,{ports.farm_b},0,50",
            # A client whose Via names it without a port (RFC 3263 §5).
            f"_sip._tcp.client.example.test,live.example.test,{ports.client},0,0",
            # The UA program's callee, over TCP.
            f"_sip._tcp.ua.example.test,live.example.test,{ports.ua},0,0",
            # A first server that answers 503, then one that answers.
            f"_sip._udp.fail.example.test,busy.example.test,{ports.busy},0,0",
            f"_sip._udp.fail.example.test,live.example.test,{ports.second},1,0",
            # A target that is its own SRV name, and "no service here".
            "_sip._udp.loop.example.test,_sip._udp.loop.example.test,5060,0,0",
            "_sip._udp.none.example.test",
        ],
        hosts=[
            "dead.example.test,127.0.0.1",
            "live.example.test,127.0.0.1",
            "a.example.test,127.0.0.1",
            "b.example.test,127.0.0.1",
            "busy.example.test,127.0.0.1",
            "client.example.test,127.0.0.1",
            "plain.example.test,127.0.0.1",
        ],
    )
    with dnsmasq(zone) as address:
        yield address


def resolver_for(server: str, **options: Any) -> DnsResolver:
    return DnsResolver([server], **options)


def test_parse_nameserver() -> None:
    assert parse_nameserver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_nameserver("[::1]:53") == ("::1", 53)
    assert parse_nameserver("127.0.0.1") == ("127.0.0.1", 53)
    for bad in ("ns.example.test:53", "127.0.0.1:0", "127.0.0.1:x"):
        with pytest.raises(ValueError):
            parse_nameserver(bad)
    with pytest.raises(ValueError):
        DnsResolver([])


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
##= type=test
##% Unless there is local policy specifying otherwise, the destination
##% MUST be determined by applying the DNS procedures described in [4] as
##% follows.
@pytest.mark.usefixtures("forbid_system_resolver")
@async_test(timeout=20)
async def test_naptr_srv_address_chain_over_dns(server: str, ports: Ports) -> None:
    resolver = resolver_for(server, transports=["UDP", "TCP"])
    # NAPTR prefers TCP; SRV priority 0 (dead) before 1 (live); then the UDP service.
    assert await resolver.resolve("sip:bob@example.test") == [
        Address("TCP", "127.0.0.1", ports.dead),
        Address("TCP", "127.0.0.1", ports.live),
        Address("UDP", "127.0.0.1", ports.live),
    ]
    # An explicit port: A records only, UDP (RFC 3263 §4.2).
    assert await resolver.resolve("sip:bob@plain.example.test:5099") == [
        Address("UDP", "127.0.0.1", 5099)
    ]
    # No NAPTR, no SRV: A records at the default port.
    assert await resolver.resolve("sip:plain.example.test") == [Address("UDP", "127.0.0.1", 5060)]
    # A numeric host asks nothing.
    asked = resolver.queries
    assert await resolver.resolve("sip:127.0.0.1:5070") == [Address("UDP", "127.0.0.1", 5070)]
    assert resolver.queries == asked
    # NXDOMAIN, a self-referencing SRV target, "." as the target: clear errors.
    for uri in ("sip:nobody.example.test", "sip:loop.example.test", "sip:none.example.test"):
        with pytest.raises(ValueError, match="no server found"):
            await resolver.resolve(uri)


##= https://www.rfc-editor.org/rfc/rfc3263#section-7
##= type=test
##% A client which frequently contacts the same domain SHOULD cache whether
##% or not its NAPTR records contain SIPS in the services field.
@pytest.mark.usefixtures("forbid_system_resolver")
@async_test(timeout=20)
async def test_answers_are_cached_for_their_ttl(server: str) -> None:
    now = [1000.0]
    resolver = resolver_for(server, transports=["UDP", "TCP"], clock=lambda: now[0])
    assert resolver.resolve_now("sip:bob@example.test") is None  # nothing cached yet
    first = await resolver.resolve("sip:bob@example.test")
    asked = resolver.queries
    assert asked >= 4
    # Within the TTL (60 s): no query at all, and an answer without awaiting.
    assert await resolver.resolve("sip:bob@example.test") == first
    assert resolver.resolve_now("sip:bob@example.test") == first
    assert resolver.queries == asked
    now[0] += 61
    assert resolver.resolve_now("sip:bob@example.test") is None
    assert await resolver.resolve("sip:bob@example.test") == first
    assert resolver.queries == 2 * asked


@dataclass
class Effect:
    """What a core returns to send: a message and where to."""

    message: Any
    destination: Any
    transaction: Any = None


async def _udp_server(port: int, status: int = 200) -> tuple[Dispatcher, RecordingTU]:
    tu = RecordingTU(answer=lambda request: status)
    dispatcher = Dispatcher(tu, timers=FAST_TIMERS)
    await dispatcher.listen(f"sip:127.0.0.1:{port}")
    return dispatcher, tu


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
##= type=test
##% The UAC SHOULD follow the procedures defined in [4] for stateful
##% elements, trying each address until a server is contacted.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.2
##= type=test
##% The client SHOULD try the first record.  If
##% an attempt should fail, based on the definition of failure in Section
##% 4.3, the next SHOULD be tried, and if that should fail, the next
##% SHOULD be tried, and so on.
@pytest.mark.usefixtures("forbid_system_resolver")
@async_test(timeout=20)
async def test_dead_first_target_then_the_live_one_over_tcp(server: str, ports: Ports) -> None:
    live, live_tu = await _udp_server(ports.live)
    core = ClientCore()
    host = CoreHost(core, resolver=resolver_for(server, transports=["UDP", "TCP"]))
    try:
        await host.listen("sip:127.0.0.1:0")
        point = host.local_point("UDP")
        request = build_request("OPTIONS", "sip:bob@example.test", call_id="dns-1")
        # The core wrote UDP; NAPTR chose TCP: the Via must say so (RFC 3261 §18.1.1).
        request.headers.prepend(
            "Via", f"SIP/2.0/UDP {point.address.hostport};branch={new_branch()}"
        )
        host.run(core.request(request, "sip:bob@example.test", host.clock()))
        received, _, source = await live_tu.next("request", timeout=5)
        assert received.call_id == "dns-1"
        assert source.transport == "TCP"
        assert received.top_via.transport == "TCP"
        for _ in range(800):
            if core.responses:
                break
            await asyncio.sleep(0.01)
        assert [r.status for r in core.responses] == [200]
        assert core.errors == []
    finally:
        await host.close()
        await live.close()


##= https://www.rfc-editor.org/rfc/rfc3263#section-4
##= type=test
##% The procedures here MUST be done exactly once per transaction, where
##% transaction is as defined in [1].
##= https://www.rfc-editor.org/rfc/rfc3263#section-4
##= type=test
##% Furthermore, a
##% CANCEL for a particular SIP request MUST be sent to the same SIP
##% server that the SIP request was delivered to.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4
##= type=test
##% That is, once a SIP server has
##% successfully been contacted (success is defined below), all
##% retransmissions of the SIP request and the ACK for non-2xx SIP
##% responses to INVITE MUST be sent to the same host.
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.4
##= type=test
##% When a server is contacted successfully, all retransmissions of the
##% request for the transaction, as well as ACK for a non-2xx final
##% response, and CANCEL requests for that transaction, MUST go to the
##% same server.
@pytest.mark.usefixtures("forbid_system_resolver")
@async_test(timeout=20)
async def test_a_branch_sticks_to_its_server(server: str, ports: Ports) -> None:
    sockets = {}
    for name, port in (("a", ports.farm_a), ("b", ports.farm_b)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", port))
        sock.setblocking(False)
        sockets[name] = sock
    host = CoreHost(ClientCore(), resolver=resolver_for(server))
    try:
        await host.listen("sip:127.0.0.1:0")
        point = host.local_point("UDP")
        destination = "sip:bob@farm.example.test"
        await host.resolve(destination)  # warm the cache: the rest is sent at once
        for index in range(20):
            branch = new_branch()
            for method in ("INVITE", "INVITE", "CANCEL"):  # a retransmission, then CANCEL
                request = build_request(method, "sip:bob@farm.example.test", call_id=f"c{index}")
                request.headers.prepend(
                    "Via", f"SIP/2.0/UDP {point.address.hostport};branch={branch}"
                )
                host.run([Effect(request, destination)])
        await asyncio.sleep(0.3)
        seen: dict[str, set[str]] = {}
        for name, sock in sockets.items():
            while True:
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    break
                message = parse(data)
                assert isinstance(message, Request)
                seen.setdefault(message.top_via.branch or "", set()).add(name)
        assert len(seen) == 20
        # Each branch went to one server only; with equal weights, both got some.
        assert all(len(servers) == 1 for servers in seen.values())
        assert {next(iter(servers)) for servers in seen.values()} == {"a", "b"}
    finally:
        await host.close()
        for sock in sockets.values():
            sock.close()


##= https://www.rfc-editor.org/rfc/rfc3263#section-5
##= type=test
##% If, however, the sent-by field contained a domain name and no port,
##% the server queries for SRV records at that domain name using the
##% service identifier "_sips" if the Via transport is "TLS", "_sip"
##% otherwise, and the transport from the topmost Via header ("TLS"
##% implies that the transport protocol in the SRV query is TCP).
##= https://www.rfc-editor.org/rfc/rfc3263#section-5
##= type=test
##% The
##% resulting list is sorted as described in [2], and the response is
##% sent to the topmost element on the new list described there.
@pytest.mark.usefixtures("forbid_system_resolver")
@async_test(timeout=20)
async def test_response_to_a_sent_by_name_goes_through_srv(server: str, ports: Ports) -> None:
    listener, received = await _tcp_collector(ports.client)
    host = CoreHost(ClientCore(), resolver=resolver_for(server))
    try:
        await host.listen("sip:127.0.0.1:0")
        response = Response(
            200,
            "OK",
            [
                ("Via", "SIP/2.0/TCP client.example.test;branch=z9hG4bK-s5"),
                ("To", "<sip:bob@example.test>;tag=t"),
                ("From", "<sip:alice@example.test>;tag=f"),
                ("Call-ID", "sent-by-1"),
                ("CSeq", "1 OPTIONS"),
                ("Content-Length", "0"),
            ],
        )
        # A stateless element with no connection left: sent-by it is (§18.2.2, §5).
        host.send_stateless_response(response, None)
        data = await asyncio.wait_for(received.get(), 5)
        assert parse(data).call_id == "sent-by-1"  # type: ignore[union-attr]
    finally:
        await host.close()
        listener.close()
        await listener.wait_closed()


async def _tcp_collector(port: int) -> tuple[asyncio.Server, asyncio.Queue[bytes]]:
    """A TCP listener on 127.0.0.1:``port`` that queues the head of what it is sent."""
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def collect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await received.put(await reader.readuntil(b"\r\n\r\n"))
        writer.close()

    return await asyncio.start_server(collect, "127.0.0.1", port), received


@pytest.mark.usefixtures("forbid_system_resolver")
@async_test(timeout=20)
async def test_ua_program_calls_a_name(server: str, ports: Ports) -> None:
    callee_out, caller_out = io.StringIO(), io.StringIO()
    callee = await _callee(ports.ua, callee_out)
    caller = await run_program(
        parse_args(
            build_parser(),
            [
                "--listen",
                "sip:127.0.0.1:0",
                "--dns",
                server,
                "--call",
                "sip:bob@ua.example.test",
                "--duration",
                "0.05",
            ],
        ),
        out=caller_out,
    )
    outcome = await asyncio.wait_for(callee, 10)
    # ua.example.test has no address record: only NAPTR -> SRV (TCP) reaches the callee.
    assert caller.status == EXIT_OK, caller_out.getvalue()
    assert caller.calls_established == caller.calls_ended == 1
    assert outcome.calls_answered == 1
    # Without --dns the same name is a usage error, not a query.
    with pytest.raises(Exception, match="not an IP address"):
        await run_program(
            parse_args(
                build_parser(),
                ["--listen", "sip:127.0.0.1:0", "--call", "sip:bob@ua.example.test"],
            ),
            out=io.StringIO(),
        )


async def _callee(port: int, out: io.StringIO) -> asyncio.Future[Any]:
    """A UA program answering one call with 200 on ``port``."""
    callee = asyncio.ensure_future(
        run_program(
            parse_args(
                build_parser(),
                [
                    "--listen",
                    f"sip:127.0.0.1:{port}",
                    "--answer",
                    "200",
                    "--count",
                    "1",
                    "--timeout",
                    "10",
                ],
            ),
            out=out,
        )
    )
    for _ in range(300):
        if "listening on" in out.getvalue():
            break
        await asyncio.sleep(0.01)
    return callee


##= https://www.rfc-editor.org/rfc/rfc3263#section-4.3
##= type=test
##% If a failure occurs, the client
##% SHOULD create a new request, which is identical to the previous, but
##% has a different value of the Via branch ID than the previous (and
##% therefore constitutes a new SIP transaction).
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.3
##= type=test
##% For SIP requests, failure occurs if the transaction layer reports a
##% 503 error response or a transport failure of some sort (generally,
##% due to fatal ICMP errors in UDP or connection failures in TCP).
##= https://www.rfc-editor.org/rfc/rfc3263#section-4.3
##= type=test
##% That request is sent
##% to the next element in the list as specified by RFC 2782.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.5.4
##= type=test
##% A client (proxy or UAC) receiving a 503 (Service Unavailable) SHOULD attempt to
##% forward the request to an alternate server.
@pytest.mark.usefixtures("forbid_system_resolver")
@async_test(timeout=20)
async def test_a_503_sends_the_request_to_the_next_server(server: str, ports: Ports) -> None:
    busy, busy_tu = await _udp_server(ports.busy, status=503)
    callee_out, caller_out = io.StringIO(), io.StringIO()
    callee = await _callee(ports.second, callee_out)
    try:
        caller = await run_program(
            parse_args(
                build_parser(),
                [
                    "--listen",
                    "sip:127.0.0.1:0",
                    "--dns",
                    server,
                    "--call",
                    "sip:bob@fail.example.test",
                    "--duration",
                    "0.05",
                ],
            ),
            out=caller_out,
        )
        outcome = await asyncio.wait_for(callee, 10)
    finally:
        await busy.close()
    assert caller.status == EXIT_OK, caller_out.getvalue()
    assert caller.calls_established == 1 and outcome.calls_answered == 1
    # The first server saw the INVITE once (its ACK stays in its transaction); the
    # second took the call.
    assert [r[0].method for r in busy_tu.requests] == ["INVITE"]


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% For each tuple attempted, the proxy MUST format the message as
##% appropriate for the tuple and send the request using a new client
##% transaction as detailed in steps 8 through 10.
##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% As described in [4], the proxy MUST attempt to deliver the message to
##% the first tuple in that set, and proceed through the set in order
##% until the delivery attempt succeeds.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.5.4
##= type=test
##% A client (proxy or UAC) receiving a 503 (Service Unavailable) SHOULD attempt to
##% forward the request to an alternate server.
@pytest.mark.usefixtures("forbid_system_resolver")
@async_test(timeout=20)
async def test_proxy_walks_the_tuples_of_a_name(server: str, ports: Ports) -> None:
    from rfc3261.location import SqliteLocationService
    from rfc3261.programs.proxy import ProgramProxy, StaticRoute
    from rfc3261.proxy import NextHop, ProxyConfig
    from rfc3261.uri import parse_uri

    busy, busy_tu = await _udp_server(ports.busy, status=503)
    callee_out, caller_out = io.StringIO(), io.StringIO()
    callee = await _callee(ports.second, callee_out)
    host = CoreHost(None, resolver=resolver_for(server))
    location = SqliteLocationService()
    try:
        (point, _) = await host.listen("sip:127.0.0.1:0")
        config = ProxyConfig(
            host=point.address.host,
            port=point.address.port,
            domains=frozenset(["proxy.example.test"]),
            aliases=frozenset([point.address.hostport]),
        )
        hop = NextHop("UDP", "fail.example.test", None, uri=parse_uri("sip:fail.example.test"))
        host.core = ProgramProxy(config, location, routes=[StaticRoute("far.example.test", hop)])
        host.core.next_tuple = host.next_target
        caller = await run_program(
            parse_args(
                build_parser(),
                [
                    "--listen",
                    "sip:127.0.0.1:0",
                    "--outbound-proxy",
                    f"sip:{point.address.hostport}",
                    "--call",
                    "sip:bob@far.example.test",
                    "--duration",
                    "0.05",
                ],
            ),
            out=caller_out,
        )
        outcome = await asyncio.wait_for(callee, 10)
    finally:
        await host.close()
        await busy.close()
        location.close()
    assert caller.status == EXIT_OK, caller_out.getvalue()
    assert caller.calls_established == 1 and outcome.calls_answered == 1
    # The first tuple answered 503 to one INVITE; the proxy went on to the second.
    assert [r[0].method for r in busy_tu.requests] == ["INVITE"]


@async_test(timeout=10)
async def test_a_response_to_a_name_without_dns_fails_cleanly() -> None:
    from rfc3261.proxy import NextHop

    errors: list[Any] = []
    host = CoreHost(ClientCore(), on_send_error=lambda effect, now: errors.append(effect) or [])
    try:
        await host.listen("sip:127.0.0.1:0")
        response = Response(
            200,
            "OK",
            [
                ("Via", "SIP/2.0/UDP client.example.test;branch=z9hG4bK-n1"),
                ("To", "<sip:bob@example.test>;tag=t"),
                ("From", "<sip:alice@example.test>;tag=f"),
                ("Call-ID", "no-dns-1"),
                ("CSeq", "1 OPTIONS"),
                ("Content-Length", "0"),
            ],
        )
        effect = Effect(response, NextHop("UDP", "client.example.test", None))
        host.run([effect])  # the default resolver knows no names: a send error, no raise
        await asyncio.sleep(0.05)
        assert errors == [effect]
    finally:
        await host.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% If that
##% connection attempt fails, the server SHOULD use the procedures
##% in [4] for servers in order to determine the IP address and
##% port to open the connection and send the response to.
##= https://www.rfc-editor.org/rfc/rfc3263#section-5
##= type=test
##% If, however, the sent-by field contained a domain name and a port
##% number, the server queries for A or AAAA records with that name.
@pytest.mark.usefixtures("forbid_system_resolver")
@async_test(timeout=20)
async def test_response_falls_back_to_sent_by_when_received_fails(
    server: str, ports: Ports
) -> None:
    listener, received = await _tcp_collector(ports.client)
    host = CoreHost(ClientCore(), resolver=resolver_for(server))
    try:
        await host.listen("sip:127.0.0.1:0")
        # received names an address where nothing listens; sent-by names the client.
        via = f"SIP/2.0/TCP client.example.test:{ports.client};received=127.0.0.2;branch=z9hG4bK-r"
        response = Response(
            200,
            "OK",
            [
                ("Via", via),
                ("To", "<sip:bob@example.test>;tag=t"),
                ("From", "<sip:alice@example.test>;tag=f"),
                ("Call-ID", "received-fails-1"),
                ("CSeq", "1 OPTIONS"),
                ("Content-Length", "0"),
            ],
        )
        host.send_stateless_response(response, None)
        data = await asyncio.wait_for(received.get(), 5)
        assert parse(data).call_id == "received-fails-1"  # type: ignore[union-attr]
    finally:
        await host.close()
        listener.close()
        await listener.wait_closed()
