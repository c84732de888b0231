"""The transport layer on loopback: UDP, TCP, TLS, IPv4 and IPv6, and its bounds (§18)."""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from pathlib import Path

import pytest

from rfc3261.asyncio.transport import (
    Address,
    Source,
    TransportLayer,
    TransportLimits,
    bracketed,
    default_port,
    is_ip_address,
    same_ip,
)

from .transport_support import (
    async_test,
    has_ipv6_loopback,
    make_certificate,
    raw_request,
    ssl_contexts,
)

OPTIONS = raw_request("OPTIONS", "TCP 127.0.0.1:5999")

needs_ipv6 = pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback (::1)")


class Inbox:
    """A receiver that queues (data, source) pairs."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, Source]] = asyncio.Queue()

    def __call__(self, data: bytes, source: Source) -> None:
        self.queue.put_nowait((data, source))

    async def get(self, timeout: float = 2.0) -> tuple[bytes, Source]:
        return await asyncio.wait_for(self.queue.get(), timeout)


async def raw_tcp(port: int, host: str = "127.0.0.1"):
    return await asyncio.wait_for(asyncio.open_connection(host, port), 2.0)


async def closed_by_peer(reader: asyncio.StreamReader, timeout: float = 3.0) -> bool:
    """True when the peer closes (EOF or reset) within ``timeout``; bytes read are discarded."""
    try:
        async with asyncio.timeout(timeout):
            while await reader.read(65536):
                pass
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return True


##= https://www.rfc-editor.org/rfc/rfc5954#section-5
##= type=test
##% Implementers SHOULD generate IPv6 text representation as defined in RFC
##% 5952 [5].
def test_address_helpers() -> None:
    assert default_port("UDP") == 5060
    assert default_port("tls") == 5061
    assert bracketed("::1") == "[::1]"
    # RFC 5952: lower case, no leading zeros, the longest run of zero groups as "::".
    assert bracketed("2001:DB8:0:0:1:0:0:0") == "[2001:db8:0:0:1::]"
    assert bracketed("0:0:0:0:0:FFFF:129.144.52.38") == "[::ffff:129.144.52.38]"  # §5
    assert bracketed("127.0.0.1") == "127.0.0.1"
    assert is_ip_address("[::1]") and is_ip_address("192.0.2.1")
    assert not is_ip_address("example.com")
    assert same_ip("::1", "[0:0::1]")
    assert not same_ip("127.0.0.1", "127.0.0.2")
    assert Address("UDP", "::1", 5060).hostport == "[::1]:5060"


@pytest.mark.parametrize("host", ["127.0.0.1", pytest.param("::1", marks=needs_ipv6)])
@async_test()
async def test_udp_datagram_carries_its_source(host: str) -> None:
    inbox_a, inbox_b = Inbox(), Inbox()
    a, b = TransportLayer(inbox_a), TransportLayer(inbox_b)
    try:
        point_a = await a.listen("UDP", host)
        point_b = await b.listen("UDP", host)
        a.send(b"hello", Address("UDP", host, point_b.address.port))
        data, source = await inbox_b.get()
        assert data == b"hello"
        assert source.remote == Address("UDP", host, point_a.address.port)
        assert source.local is point_b and source.connection is None
    finally:
        await a.close()
        await b.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-18
##= type=test
##% These connections are indexed by the tuple formed from the address,
##% port, and transport protocol at the far end of the connection.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% If a request is destined to an IP address, port, and transport to
##% which an existing connection is open, it is RECOMMENDED that this
##% connection be used to send the request, but another connection MAY be
##% opened and used.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.2
##= type=test
##% Assuming that the client has completed the registration process described in the
##% preceding section, it SHOULD reuse the TLS connection to the local proxy server when
##% it sends an INVITE request to another user.
@pytest.mark.parametrize("host", ["127.0.0.1", pytest.param("::1", marks=needs_ipv6)])
@async_test()
async def test_tcp_connection_is_indexed_and_reused(host: str) -> None:
    inbox_a, inbox_b = Inbox(), Inbox()
    a, b = TransportLayer(inbox_a), TransportLayer(inbox_b)
    try:
        await a.listen("TCP", host)
        point_b = await b.listen("TCP", host)
        destination = Address("TCP", host, point_b.address.port)
        a.send(OPTIONS, destination)
        a.send(OPTIONS, destination)
        first, source = await inbox_b.get()
        second, again = await inbox_b.get()
        assert first == second == OPTIONS
        assert again.connection is source.connection
        assert list(a.connections) == [destination]
        # The accepted side indexes the connection by the source address and port.
        assert list(b.connections) == [source.remote]
        # The reverse direction uses the accepted connection.
        b.send(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", source.remote)
        data, back = await inbox_a.get()
        assert data.startswith(b"SIP/2.0 200 OK")
        assert back.connection is a.connections[destination]
        assert len(b.connections) == 1
    finally:
        await a.close()
        await b.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% In the case of stream-oriented transports such as TCP, the Content-
##% Length header field indicates the size of the body.
@async_test()
async def test_tcp_stream_is_framed_into_messages() -> None:
    inbox = Inbox()
    layer = TransportLayer(inbox)
    try:
        point = await layer.listen("TCP", "127.0.0.1")
        _reader, writer = await raw_tcp(point.address.port)
        body_message = OPTIONS.replace(b"Content-Length: 0", b"Content-Length: 5") + b"hello"
        writer.write(OPTIONS + body_message)  # two messages in one write
        for byte in range(len(OPTIONS)):  # then one a byte at a time
            writer.write(OPTIONS[byte : byte + 1])
            await writer.drain()
        received = [(await inbox.get())[0] for _ in range(3)]
        assert received == [OPTIONS, body_message, OPTIONS]
        writer.close()
    finally:
        await layer.close()


##= https://www.rfc-editor.org/rfc/rfc5626#section-5.4
##= type=test
##% When a server receives a double CRLF sequence between SIP messages on
##% a connection-oriented transport such as TCP or SCTP, it MUST
##% immediately respond with a single CRLF over the same connection.
@async_test()
async def test_crlf_keepalive_ping_is_answered_with_pong() -> None:
    layer = TransportLayer(Inbox())
    try:
        point = await layer.listen("TCP", "127.0.0.1")
        reader, writer = await raw_tcp(point.address.port)
        writer.write(b"\r\n\r\n")
        assert await asyncio.wait_for(reader.readexactly(2), 2.0) == b"\r\n"
        writer.close()
    finally:
        await layer.close()


##= https://www.rfc-editor.org/rfc/rfc3581#section-7
##= type=test
##% If they are sensitive, requests SHOULD be protected by
##% using SIP over TLS [1].
@async_test()
async def test_tls_round_trip(tmp_path: Path) -> None:
    server_ssl, client_ssl = ssl_contexts(*make_certificate(tmp_path))
    inbox_a, inbox_b = Inbox(), Inbox()
    a = TransportLayer(inbox_a, client_ssl=client_ssl)
    b = TransportLayer(inbox_b, server_ssl=server_ssl)
    try:
        point = await b.listen("TLS", "127.0.0.1")
        destination = Address("TLS", "127.0.0.1", point.address.port)
        a.send(OPTIONS, destination)
        data, source = await inbox_b.get(5.0)
        assert data == OPTIONS
        assert source.transport == "TLS" and source.connection is not None
        assert source.connection.transport.get_extra_info("ssl_object") is not None
        b.send(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", source.remote)
        data, _ = await inbox_a.get(5.0)
        assert data.startswith(b"SIP/2.0 200 OK")
    finally:
        await a.close()
        await b.close()


@async_test()
async def test_tls_client_rejects_an_untrusted_server(tmp_path: Path) -> None:
    server_ssl, _ = ssl_contexts(*make_certificate(tmp_path))
    (tmp_path / "other").mkdir()
    _, other_client = ssl_contexts(*make_certificate(tmp_path / "other"))
    a = TransportLayer(Inbox(), client_ssl=other_client)
    inbox_b = Inbox()
    b = TransportLayer(inbox_b, server_ssl=server_ssl)
    errors: list[Exception] = []
    try:
        point = await b.listen("TLS", "127.0.0.1")
        a.send(OPTIONS, Address("TLS", "127.0.0.1", point.address.port), on_error=errors.append)
        for _ in range(100):
            if errors:
                break
            await asyncio.sleep(0.02)
        assert errors and isinstance(errors[0], ssl.SSLError | OSError)
        assert inbox_b.queue.empty()
    finally:
        await a.close()
        await b.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.4
##= type=test
##% If the transport user asks for a request to be sent over a reliable
##% transport, and the result is a connection failure, the transport
##% layer SHOULD inform the transport user of a failure in sending.
@async_test()
async def test_connection_refused_is_reported() -> None:
    layer = TransportLayer(Inbox())
    errors: list[Exception] = []
    try:
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            port = unused.getsockname()[1]
        layer.send(OPTIONS, Address("TCP", "127.0.0.1", port), on_error=errors.append)
        for _ in range(100):
            if errors:
                break
            await asyncio.sleep(0.01)
        assert isinstance(errors[0], ConnectionRefusedError)
        assert not layer.connections
    finally:
        await layer.close()


@async_test()
async def test_connections_are_bounded() -> None:
    layer = TransportLayer(Inbox(), limits=TransportLimits(max_connections=2))
    try:
        point = await layer.listen("TCP", "127.0.0.1")
        clients = [await raw_tcp(point.address.port) for _ in range(3)]
        assert await closed_by_peer(clients[2][0])
        assert len(layer.connections) == 2
        assert layer.refused_connections == 1
        for _, writer in clients:
            writer.close()
    finally:
        await layer.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% The Content-
##% Length header field MUST be used with stream oriented transports.
@async_test()
async def test_unframeable_stream_closes_the_connection() -> None:
    inbox = Inbox()
    layer = TransportLayer(inbox)
    try:
        point = await layer.listen("TCP", "127.0.0.1")
        reader, writer = await raw_tcp(point.address.port)
        writer.write(OPTIONS.replace(b"Content-Length: 0\r\n", b""))
        assert await closed_by_peer(reader)
        assert inbox.queue.empty() and not layer.connections
        assert layer.dropped_connections == 1
    finally:
        await layer.close()


@async_test()
async def test_garbage_flood_costs_bounded_memory() -> None:
    limits = TransportLimits(max_header_bytes=4096)
    layer = TransportLayer(Inbox(), limits=limits)
    try:
        point = await layer.listen("TCP", "127.0.0.1")
        reader, writer = await raw_tcp(point.address.port)
        await asyncio.sleep(0.05)
        (connection,) = layer.connections.values()
        try:
            for _ in range(64):  # up to 1 MB without an empty line
                writer.write(b"x" * 16384)
                await writer.drain()
                assert connection.framer.buffered <= limits.max_header_bytes + 4
                if connection.closed:
                    break
        except (ConnectionResetError, BrokenPipeError):
            pass
        assert await closed_by_peer(reader)
        assert connection.closed and "framing error" in (connection.close_reason or "")
    finally:
        await layer.close()


@async_test()
async def test_slow_sender_is_dropped() -> None:
    limits = TransportLimits(message_timeout=0.3)
    inbox = Inbox()
    layer = TransportLayer(inbox, limits=limits)
    try:
        point = await layer.listen("TCP", "127.0.0.1")
        _reader, writer = await raw_tcp(point.address.port)
        started = asyncio.get_running_loop().time()
        dropped = False
        for byte in range(len(OPTIONS) - 1):  # a byte every 50 ms never completes in time
            try:
                writer.write(OPTIONS[byte : byte + 1])
                await writer.drain()
            except (ConnectionResetError, BrokenPipeError):
                dropped = True
                break
            if not layer.connections and byte > 0:
                dropped = True
                break
            await asyncio.sleep(0.05)
        assert dropped and asyncio.get_running_loop().time() - started < 2.0
        assert inbox.queue.empty()
    finally:
        await layer.close()


@async_test()
async def test_idle_connection_is_closed() -> None:
    layer = TransportLayer(Inbox(), limits=TransportLimits(idle_timeout=0.2))
    try:
        point = await layer.listen("TCP", "127.0.0.1")
        reader, _writer = await raw_tcp(point.address.port)
        assert await closed_by_peer(reader, 3.0)
        assert not layer.connections
    finally:
        await layer.close()


@async_test()
async def test_peer_that_never_reads_is_dropped() -> None:
    limits = TransportLimits(max_write_buffer=256 * 1024)
    inbox = Inbox()
    layer = TransportLayer(inbox, limits=limits)
    try:
        point = await layer.listen("TCP", "127.0.0.1")
        sock = socket.create_connection(("127.0.0.1", point.address.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(OPTIONS)
        _, source = await inbox.get()
        errors: list[Exception] = []
        chunk = b"SIP/2.0 200 OK\r\nContent-Length: 65000\r\n\r\n" + b"x" * 65000
        for _ in range(200):  # 13 MB into a peer that reads nothing
            layer.send(chunk, source.remote, connection=source.connection, on_error=errors.append)
            if source.connection.closed:
                break
            await asyncio.sleep(0)
        assert source.connection.closed
        assert "does not read" in (source.connection.close_reason or "")
        assert not layer.connections
        sock.close()
    finally:
        await layer.close()


@async_test()
async def test_reset_connection_is_forgotten() -> None:
    inbox = Inbox()
    layer = TransportLayer(inbox)
    try:
        point = await layer.listen("TCP", "127.0.0.1")
        sock = socket.create_connection(("127.0.0.1", point.address.port))
        sock.sendall(OPTIONS)
        _, source = await inbox.get()
        assert source.remote in layer.connections
        # SO_LINGER with a zero timeout: close() sends a reset.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        for _ in range(100):
            if not layer.connections:
                break
            await asyncio.sleep(0.01)
        assert not layer.connections and source.connection.closed
        # Nothing listens at the peer's ephemeral port: a new send fails and says so.
        errors: list[Exception] = []
        layer.send(
            b"\r\n\r\n", source.remote, connection=source.connection, on_error=errors.append
        )
        for _ in range(100):
            if errors:
                break
            await asyncio.sleep(0.01)
        assert isinstance(errors[0], ConnectionRefusedError)
    finally:
        await layer.close()


@async_test()
async def test_udp_listener_survives_a_failing_receiver() -> None:
    received: list[bytes] = []

    def receiver(data: bytes, source: Source) -> None:
        if data.startswith(b"boom"):
            raise RuntimeError("receiver failed")
        received.append(data)

    layer = TransportLayer(receiver)
    loop = asyncio.get_running_loop()
    reported: list[dict] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    try:
        point = await layer.listen("UDP", "127.0.0.1")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            for _ in range(50):
                peer.sendto(b"boom", ("127.0.0.1", point.address.port))
            peer.sendto(b"fine", ("127.0.0.1", point.address.port))
            for _ in range(100):
                if received:
                    break
                await asyncio.sleep(0.01)
        assert received == [b"fine"]
        assert len(reported) == 50
    finally:
        await layer.close()


@async_test()
async def test_udp_socket_buffers_are_set() -> None:
    size = 1024 * 1024
    layer = TransportLayer(Inbox(), limits=TransportLimits(socket_buffer=size))
    try:
        point = await layer.listen("UDP", "127.0.0.1")
        sock = point.handle.sock
        # Linux reports twice the size set (bookkeeping overhead included).
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= size
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) >= size
    finally:
        await layer.close()


@async_test()
async def test_stalled_tls_handshake_is_dropped(tmp_path: Path) -> None:
    server_ssl, _ = ssl_contexts(*make_certificate(tmp_path))
    layer = TransportLayer(
        Inbox(), server_ssl=server_ssl, limits=TransportLimits(message_timeout=0.3)
    )
    try:
        point = await layer.listen("TLS", "127.0.0.1")
        reader, writer = await raw_tcp(point.address.port)
        writer.write(b"\x16\x03\x01")  # the first bytes of a ClientHello, then nothing
        started = asyncio.get_running_loop().time()
        assert await closed_by_peer(reader, 3.0)
        assert asyncio.get_running_loop().time() - started < 2.0
        assert not layer.connections
    finally:
        await layer.close()
