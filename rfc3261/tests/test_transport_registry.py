"""The transport table: facts by Via token, drivers, and a transport registered by a test."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from rfc3261.asyncio.dispatcher import Dispatcher
from rfc3261.asyncio.transport import (
    Address,
    ListeningPoint,
    Source,
    StreamDriver,
    TransportDriver,
    TransportLayer,
    UdpDriver,
    register_transport,
)
from rfc3261.timers import is_reliable as timers_is_reliable
from rfc3261.transports import (
    TRANSPORTS,
    TransportInfo,
    default_port,
    is_reliable,
    is_stream,
    register_transport_info,
    transport_for_uri,
    transport_info,
)

from .transport_support import FAST_TIMERS, RecordingTU, async_test, build_request

# -- an in-memory, message-oriented test transport ------------------------------------------

# Open "sockets" of the MEM transport by (host, port).
_NETWORK: dict[tuple[str, int], _MemHandle] = {}
_PORTS = itertools.count(41000)


class _MemHandle:
    """One MEM listening point: messages in and out through a dict, on the event loop."""

    def __init__(self, layer: TransportLayer, point: ListeningPoint, port: int) -> None:
        self.layer = layer
        self.point = point
        self.key = (point.address.host, port)
        self.sent = 0
        _NETWORK[self.key] = self

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        peer = _NETWORK.get((addr[0], addr[1]))
        if peer is None:
            raise ConnectionRefusedError(f"no MEM listener on {addr}")
        self.sent += 1
        self.layer.loop.call_soon(peer.deliver, data, self.key)

    def deliver(self, data: bytes, sender: tuple[str, int]) -> None:
        self.layer.receiver(data, Source(Address("MEM", *sender), self.point))

    def close(self) -> None:
        _NETWORK.pop(self.key, None)


class MemDriver(TransportDriver):
    async def listen(self, layer: TransportLayer, point: ListeningPoint) -> tuple[Any, int]:
        port = point.address.port or next(_PORTS)
        return _MemHandle(layer, point, port), port


MEM = register_transport(
    "MEM", default_port=5090, reliable=False, stream=False, uri_param="mem", driver=MemDriver()
)


# -- facts ----------------------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% If the port is absent, the default
##% value depends on the transport.  It is 5060 for UDP, TCP and SCTP,
##% 5061 for TLS.
def test_facts_of_the_known_transports() -> None:
    assert [default_port(t) for t in ("UDP", "tcp", "SCTP", "TLS")] == [5060, 5060, 5060, 5061]
    assert default_port("NO-SUCH") == 5060
    assert [is_reliable(t) for t in ("UDP", "TCP", "tls", "SCTP", "WS", "WSS")] == [
        False,
        True,
        True,
        True,
        True,
        True,
    ]
    assert timers_is_reliable is is_reliable  # one answer for the transaction layer
    assert not is_reliable("NO-SUCH")
    # Framing by Content-Length is for byte streams only (§18.3); SCTP and WS keep
    # message boundaries (RFC 4168, RFC 7118 §5).
    assert [is_stream(t) for t in ("UDP", "TCP", "TLS", "SCTP", "WS")] == [
        False,
        True,
        True,
        False,
        False,
    ]
    assert Address("TCP", "192.0.2.1", 5060).reliable
    assert not Address("UDP", "192.0.2.1", 5060).reliable
    assert isinstance(transport_info("UDP").driver, UdpDriver)  # type: ignore[union-attr]
    assert isinstance(transport_info("tls").driver, StreamDriver)  # type: ignore[union-attr]
    assert transport_info("SCTP").driver is None  # known, not usable until something drives it
    # WS and WSS are driven by rfc3261.asyncio.websocket (RFC 7118), which the dispatcher loads.


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.2
##= type=test
##% Any implementation that supports TLS MUST support the SIPS URI scheme.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
##= type=test
##% All SIP elements that support TLS MUST also support the SIPS URI scheme.
def test_uri_scheme_and_transport_parameter_select_the_transport() -> None:
    cases = [
        ("sip", None, "UDP"),
        ("sip", "tcp", "TCP"),
        ("sip", "TCP", "TCP"),
        ("sips", None, "TLS"),
        ("sips", "tcp", "TLS"),
        ("sip", "tls", "TLS"),
        ("sip", "ws", "WS"),
        ("sips", "ws", "WSS"),
        ("sip", "sctp", "SCTP"),
        ("sip", "mem", "MEM"),
        ("sip", "other", "OTHER"),
    ]
    for scheme, param, token in cases:
        assert transport_for_uri(scheme, param) == token, (scheme, param)


def test_register_transport_misuse_raises() -> None:
    driver = MemDriver()
    with pytest.raises(ValueError, match="upper-case"):
        register_transport_info(TransportInfo("mem2", 5090, reliable=False, stream=False))
    with pytest.raises(ValueError, match="port"):
        register_transport_info(TransportInfo("MEM2", 0, reliable=False, stream=False))
    with pytest.raises(ValueError, match="stream transport is reliable"):
        register_transport_info(TransportInfo("MEM2", 5090, reliable=False, stream=True))
    with pytest.raises(ValueError, match="lower-case"):
        register_transport_info(
            TransportInfo("MEM2", 5090, reliable=False, stream=False, uri_param="M")
        )
    with pytest.raises(ValueError, match="other facts"):
        register_transport("TCP", default_port=5060, reliable=False, stream=False, driver=driver)
    with pytest.raises(ValueError, match="already has a driver"):
        register_transport(
            "UDP", default_port=5060, reliable=False, stream=False, uri_param="udp", driver=driver
        )
    with pytest.raises(TypeError):
        register_transport(
            "MEM2", default_port=5090, reliable=False, stream=False, driver=object()
        )  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        register_transport_info(("MEM2", 5090))  # type: ignore[arg-type]
    assert "MEM2" not in TRANSPORTS
    # The same entry again is no change.
    assert register_transport_info(TRANSPORTS["UDP"]) is TRANSPORTS["UDP"]
    assert register_transport_info(MEM) is MEM


def test_known_facts_get_their_driver_through_the_same_door() -> None:
    facts = register_transport_info(TransportInfo("MEMR", 5095, reliable=True, stream=False))
    assert facts.driver is None and is_reliable("MEMR")
    with pytest.raises(ValueError, match="other facts"):
        register_transport(
            "MEMR", default_port=5096, reliable=True, stream=False, driver=MemDriver()
        )
    driven = register_transport(
        "MEMR", default_port=5095, reliable=True, stream=False, driver=MemDriver()
    )
    assert TRANSPORTS["MEMR"] is driven and isinstance(driven.driver, MemDriver)


@async_test()
async def test_a_transport_without_driver_cannot_listen() -> None:
    layer = TransportLayer(lambda data, source: None)
    try:
        with pytest.raises(ValueError, match="not supported"):
            await layer.listen("SCTP", "127.0.0.1", 0)
        with pytest.raises(ValueError, match="not supported"):
            await layer.listen("NO-SUCH", "127.0.0.1", 0)
    finally:
        await layer.close()


# -- end to end over the registered MEM transport -------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-18
##= type=test
##% SIP elements MAY
##% implement other protocols.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% If an unreliable transport is being used, the client transaction MUST
##% start timer A with a value of T1.
@async_test()
async def test_registered_transport_is_listened_on_and_used_end_to_end() -> None:
    client_tu, server_tu = RecordingTU(), RecordingTU(answer=lambda request: 200)
    client = Dispatcher(client_tu, timers=FAST_TIMERS)
    server = Dispatcher(server_tu, timers=FAST_TIMERS)
    try:
        [client_point] = await client.listen("sip:127.0.0.1:0;transport=mem")
        [server_point] = await server.listen("sip:127.0.0.1;transport=mem")
        # No port: the transport's default port from the table.
        assert server_point.address == Address("MEM", "127.0.0.1", 5090)
        assert server_point.uri() == "sip:127.0.0.1:5090;transport=mem"
        assert client.contact_uri("MEM").endswith(";transport=mem")
        transaction = client.send_request(build_request("OPTIONS"), server_point.address)
        assert transaction.reliable is False  # read from the table: MEM is unreliable
        request, _, source = await server_tu.next("request")
        assert request.top_via.transport == "MEM"
        assert request.top_via.port == client_point.address.port
        assert source.remote == Address("MEM", "127.0.0.1", client_point.address.port)
        response, matched = await client_tu.next("response")
        assert matched is transaction and response.status == 200
        assert client_point.handle.sent >= 1 and server_point.handle.sent >= 1
    finally:
        await client.close()
        await server.close()
    assert not _NETWORK  # the driver closed both listening points
    await asyncio.sleep(0)
