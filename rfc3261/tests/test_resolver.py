"""The resolver seam: the default IP-literal resolver and a custom one in the dispatcher."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Any

import pytest

from rfc3261.asyncio.dispatcher import CoreHost, Dispatcher, new_branch, resolve_destination
from rfc3261.asyncio.resolver import IpLiteralResolver, Resolver, address_for_uri
from rfc3261.asyncio.transport import Address
from rfc3261.message import Response
from rfc3261.transaction import ResponseReceived, SendMessage
from rfc3261.transaction_layer import TransactionLayer
from rfc3261.uri import parse_uri

from .transport_support import FAST_TIMERS, RecordingTU, async_test, build_request


@dataclass
class Hop:
    transport: str
    host: str
    port: int | None = None


def unused_port() -> int:
    """A loopback TCP port nobody listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ClientCore:
    """A sans-I/O core that sends requests on its own transaction layer, for CoreHost."""

    def __init__(self) -> None:
        self.layer = TransactionLayer(FAST_TIMERS)
        self.responses: list[Response] = []
        self.errors: list[Any] = []

    def receive(self, message, source, now):  # type: ignore[no-untyped-def]
        if not isinstance(message, Response):
            return []
        out = []
        for effect in self.layer.receive_response(message, now):
            if isinstance(effect, ResponseReceived):
                self.responses.append(effect.response)
            elif isinstance(effect, SendMessage):
                out.append(effect)
        return out

    def request(self, request, destination, now):  # type: ignore[no-untyped-def]
        return self.layer.send_request(request, destination, now)[1]

    def next_deadline(self):  # type: ignore[no-untyped-def]
        return self.layer.next_deadline()

    def handle_timer(self, now):  # type: ignore[no-untyped-def]
        return [e for e in self.layer.handle_timer(now) if isinstance(e, SendMessage)]

    def transport_error(self, transaction, now):  # type: ignore[no-untyped-def]
        self.errors.append(transaction)
        return []


class TableResolver:
    """A resolver that looks names up in a table, as an RFC 3263 resolver would in DNS."""

    def __init__(self, table: dict[str, list[Address]]) -> None:
        self.table = table
        self.asked: list[Any] = []

    async def resolve(self, destination: Any) -> list[Address]:
        self.asked.append(destination)
        await asyncio.sleep(0)  # a real lookup waits
        uri = parse_uri(destination) if isinstance(destination, str) else destination
        host = getattr(uri, "host", None)
        if host not in self.table:
            raise ValueError(f"{host!r}: no such name")
        return self.table[host]


def test_default_resolver_is_the_ip_literal_behaviour() -> None:
    resolver = IpLiteralResolver()
    assert isinstance(resolver, Resolver)
    assert isinstance(TableResolver({}), Resolver)
    assert resolver.resolve_now("sip:bob@192.0.2.4:5070;transport=tcp") == [
        Address("TCP", "192.0.2.4", 5070)
    ]
    assert resolver.resolve_now(Hop("tls", "[::1]")) == [Address("TLS", "::1", 5061)]
    assert asyncio.run(resolver.resolve("sips:bob@192.0.2.4")) == [
        Address("TLS", "192.0.2.4", 5061)
    ]
    with pytest.raises(ValueError, match="RFC 3263"):
        asyncio.run(resolver.resolve("sip:bob@example.com"))
    # The synchronous helpers stay importable where they were.
    assert resolve_destination(Hop("UDP", "192.0.2.1")) == Address("UDP", "192.0.2.1", 5060)
    assert address_for_uri("sips:192.0.2.1;transport=sctp") == Address(
        "TLS-SCTP", "192.0.2.1", 5061
    )


@async_test()
async def test_dispatcher_rejects_what_is_not_a_resolver() -> None:
    with pytest.raises(TypeError, match="resolve"):
        Dispatcher(RecordingTU(), resolver=object())  # type: ignore[arg-type]
    dispatcher = Dispatcher(RecordingTU())
    try:
        assert isinstance(dispatcher.resolver, IpLiteralResolver)
        here = Address("UDP", "127.0.0.1", 5999)
        assert await dispatcher.resolve(here) == [here]
        assert await dispatcher.resolve("sip:127.0.0.1:5070") == [
            Address("UDP", "127.0.0.1", 5070)
        ]
    finally:
        await dispatcher.close()


async def _server() -> tuple[Dispatcher, RecordingTU, int]:
    tu = RecordingTU(answer=lambda request: 200)
    server = Dispatcher(tu, timers=FAST_TIMERS)
    [point] = await server.listen("sip:127.0.0.1:0;transport=tcp")
    return server, tu, point.address.port


def _request_from(host: CoreHost, call_id: str = "resolved-1") -> Any:
    point = host.local_point("TCP")
    request = build_request("OPTIONS", "sip:bob@service.example", call_id=call_id)
    request.headers.prepend("Via", f"SIP/2.0/TCP {point.address.hostport};branch={new_branch()}")
    return request


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.4
##= type=test
##% If the transport user asks for a request to be sent over a reliable
##% transport, and the result is a connection failure, the transport
##% layer SHOULD inform the transport user of a failure in sending.
@async_test(timeout=15)
async def test_custom_resolver_decides_and_the_next_target_is_tried() -> None:
    server, server_tu, port = await _server()
    refused = Address("TCP", "127.0.0.1", unused_port())
    resolver = TableResolver(
        {
            "service.example": [refused, Address("TCP", "127.0.0.1", port)],
            "down.example": [refused],
        }
    )
    core = ClientCore()
    host = CoreHost(core, resolver=resolver)
    try:
        await host.listen("sip:127.0.0.1:0")
        assert host.resolver is resolver
        destination = "sip:bob@service.example;transport=tcp"
        host.run(core.request(_request_from(host), destination, host.clock()))
        # The first target refuses; the request reaches the second, and its answer us.
        request, _, source = await server_tu.next("request")
        assert request.call_id == "resolved-1" and source.transport == "TCP"
        for _ in range(300):
            if core.responses:
                break
            await asyncio.sleep(0.01)
        assert [r.status for r in core.responses] == [200]
        assert resolver.asked == [destination]
        assert core.errors == []
        # Every target refuses: the core hears of one failure (§18.4).
        host.run(core.request(_request_from(host, "down-1"), "sip:down.example", host.clock()))
        # A name the resolver does not know: a failure too.
        host.run(core.request(_request_from(host, "none-1"), "sip:none.example", host.clock()))
        for _ in range(300):
            if len(core.errors) == 2:
                break
            await asyncio.sleep(0.01)
        assert {t.request.call_id for t in core.errors} == {"down-1", "none-1"}
    finally:
        await host.close()
        await server.close()


@async_test()
async def test_a_source_or_address_destination_skips_the_resolver() -> None:
    server, server_tu, port = await _server()
    resolver = TableResolver({})
    core = ClientCore()
    host = CoreHost(core, resolver=resolver)
    try:
        await host.listen("sip:127.0.0.1:0")
        target = Address("TCP", "127.0.0.1", port)
        host.run(core.request(_request_from(host), target, host.clock()))
        request, _, _ = await server_tu.next("request")
        assert request.call_id == "resolved-1"
        assert resolver.asked == []
    finally:
        await host.close()
        await server.close()


@async_test(timeout=15)
async def test_a_via_rewritten_for_the_resolved_transport_goes_back_to_the_transaction() -> None:
    # The core wrote UDP and kept only the bytes (as a proxy's pending INVITE does); the
    # resolver chose TCP, so the host rewrites the Via, sends the new bytes, and gives the
    # changed request back to the transaction for its retransmissions.
    server, server_tu, port = await _server()
    resolver = TableResolver({"service.example": [Address("TCP", "127.0.0.1", port)]})
    core = ClientCore()
    host = CoreHost(core, resolver=resolver)
    try:
        await host.listen("sip:127.0.0.1:0")
        point = host.local_point("UDP")
        request = build_request("OPTIONS", "sip:bob@service.example", call_id="back-1")
        request.headers.prepend(
            "Via", f"SIP/2.0/UDP {point.address.hostport};branch={new_branch()}"
        )
        transaction, effects = core.layer.send_request(request, "sip:bob@service.example", 0.0)
        [send] = effects
        send.wire = transaction.keep_request_as_bytes()
        assert b"SIP/2.0/UDP" in send.wire
        host.run(effects)
        received, _, source = await server_tu.next("request")
        assert received.call_id == "back-1" and source.transport == "TCP"
        assert received.top_via.transport == "TCP"
        # (A retransmission may have gone out before the name was resolved: it is
        # rewritten and given back too.)
        assert request.top_via.transport == "TCP"
        assert transaction.request.top_via.transport == "TCP"
        assert send.wire is None  # the kept bytes said UDP: not sent
    finally:
        await host.close()
        await server.close()
