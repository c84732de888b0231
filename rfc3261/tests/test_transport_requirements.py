"""Single requirements of RFC 3261 §18 and RFC 3581 §3 checked one by one on loopback."""

from __future__ import annotations

import asyncio
import errno
import re
import socket

from rfc3261.asyncio.dispatcher import Dispatcher, address_for_uri
from rfc3261.asyncio.transport import (
    MAX_DATAGRAM,
    Address,
    Source,
    TransportLayer,
    TransportLimits,
)
from rfc3261.timers import DEFAULT_TIMERS

from .transport_support import RecordingTU, UdpPeer, async_test, build_request, raw_request


class Inbox:
    """A receiver that queues (data, source) pairs."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, Source]] = asyncio.Queue()

    def __call__(self, data: bytes, source: Source) -> None:
        self.queue.put_nowait((data, source))

    async def get(self, timeout: float = 2.0) -> tuple[bytes, Source]:
        return await asyncio.wait_for(self.queue.get(), timeout)


##= https://www.rfc-editor.org/rfc/rfc3261#section-18
##= type=test
##% It is RECOMMENDED that connections be kept open for some
##% implementation-defined duration after the last message was sent or
##% received over that connection.
@async_test()
async def test_connection_stays_open_for_the_idle_duration() -> None:
    inbox = Inbox()
    layer = TransportLayer(inbox, limits=TransportLimits(idle_timeout=0.6))
    try:
        point = await layer.listen("TCP", "127.0.0.1")
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", point.address.port), 2.0
        )
        writer.write(raw_request("OPTIONS", "TCP 127.0.0.1:5999"))
        await writer.drain()
        _data, source = await inbox.get()
        await asyncio.sleep(0.2)
        # Well inside the idle duration: the connection is still there and usable.
        assert source.connection is not None and source.connection.is_open
        assert list(layer.connections.values()) == [source.connection]
        # Past it, the connection is closed (EOF on our side).
        assert await asyncio.wait_for(reader.read(), 3.0) == b""
        assert not layer.connections
        writer.close()
    finally:
        await layer.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-18
##= type=test
##% This duration SHOULD at least equal
##% the longest amount of time the element would need in order to bring a
##% transaction from instantiation to the terminated state.
def test_default_idle_duration_covers_a_transaction() -> None:
    # A non-INVITE transaction lives at most Timer F (64*T1) plus Timer K (T4).
    assert TransportLimits().idle_timeout >= DEFAULT_TIMERS.timer_f() + DEFAULT_TIMERS.T4


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% However,
##% implementations MUST be able to handle messages up to the maximum
##% datagram packet size.
@async_test()
async def test_largest_datagram_is_received_whole() -> None:
    inbox = Inbox()
    layer = TransportLayer(inbox, limits=TransportLimits(socket_buffer=256 * 1024))
    peer = UdpPeer()
    try:
        point = await layer.listen("UDP", "127.0.0.1")
        head = raw_request("OPTIONS", f"UDP 127.0.0.1:{peer.port}")
        data = head + b"x" * (MAX_DATAGRAM - len(head))
        assert len(data) == 65507  # 65,535 less the IPv4 and UDP headers
        peer.send(data, point.address.port)
        received, source = await inbox.get()
        assert received == data
        assert source.remote == Address("UDP", "127.0.0.1", peer.port)
    finally:
        peer.close()
        await layer.close()


##= https://www.rfc-editor.org/rfc/rfc3581#section-3
##= type=test
##% A client, compliant to this specification (clients include UACs and
##% proxies), MAY include an "rport" parameter in the top Via header
##% field value of requests it generates.
##= https://www.rfc-editor.org/rfc/rfc3581#section-3
##= type=test
##% This parameter MUST have no
##% value; it serves as a flag to indicate to the server that this
##% extension is supported and requested for the transaction.
@async_test()
async def test_udp_request_asks_for_rport_without_a_value() -> None:
    client = Dispatcher(RecordingTU())
    peer = UdpPeer()
    try:
        await client.listen("sip:127.0.0.1:0")
        client.send_request(build_request("OPTIONS"), Address("UDP", "127.0.0.1", peer.port))
        data = await peer.receive()
        via = re.search(rb"\r\nVia: ([^\r]*)\r\n", data)
        assert via is not None
        assert re.search(rb";rport(;|$)", via.group(1)), via.group(1)
    finally:
        peer.close()
        await client.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
##= type=test
##% A server SHOULD be prepared to receive requests on any IP address,
##% port and transport combination that can be the result of a DNS lookup
##% on a SIP or SIPS URI [4] that is handed out for the purposes of
##% communicating with that server.
@async_test()
async def test_handed_out_uris_name_listening_points() -> None:
    server_tu = RecordingTU(answer=lambda request: 200)
    server = Dispatcher(server_tu)
    client = Dispatcher(RecordingTU())
    try:
        points = await server.listen("sip:127.0.0.1:0")
        await client.listen("sip:127.0.0.1:0")
        for transport in ("UDP", "TCP"):
            # The URI we would put in a Contact or Record-Route leads to one of our sockets.
            address = address_for_uri(server.contact_uri(transport))
            assert address in [point.address for point in points]
            client.send_request(build_request("OPTIONS", call_id=f"c-{transport}"), address)
            request, _transaction, source = await server_tu.next("request")
            assert request.call_id == f"c-{transport}" and source.transport == transport
    finally:
        await client.close()
        await server.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.4
##= type=test
##% Host, network, port or protocol
##% unreachable errors, or parameter problem errors SHOULD cause the
##% transport layer to inform the transport user of a failure in sending.
@async_test()
async def test_udp_send_error_is_reported_to_the_user() -> None:
    layer = TransportLayer(Inbox())
    errors: list[Exception] = []
    try:
        await layer.listen("UDP", "127.0.0.1")
        # Port 0 is not a destination: the kernel refuses the datagram (EINVAL).
        layer.send(b"x", Address("UDP", "127.0.0.1", 0), on_error=errors.append)
        assert len(errors) == 1 and isinstance(errors[0], OSError)
        assert errors[0].errno == errno.EINVAL
    finally:
        await layer.close()


class _ErringSocket:
    """A UDP socket whose next recvfrom fails as an ICMP error would (then delegates)."""

    def __init__(self, sock: socket.socket, failures: int) -> None:
        self.sock = sock
        self.failures = failures

    def recvfrom(self, size: int) -> tuple[bytes, tuple[str, int]]:
        if self.failures:
            self.failures -= 1
            raise OSError(errno.EHOSTUNREACH, "ICMP error queued on the socket")
        return self.sock.recvfrom(size)

    def __getattr__(self, name: str) -> object:
        return getattr(self.sock, name)


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.4
##= type=test
##% Source quench and TTL exceeded ICMP errors SHOULD be ignored.
@async_test()
async def test_icmp_errors_on_the_udp_socket_are_ignored() -> None:
    inbox = Inbox()
    layer = TransportLayer(inbox)
    peer = UdpPeer()
    try:
        point = await layer.listen("UDP", "127.0.0.1")
        point.handle.sock = _ErringSocket(point.handle.sock, failures=2)
        peer.send(b"after the errors", point.address.port)
        data, _source = await inbox.get()
        # The errors were counted and skipped; the listener kept reading.
        assert data == b"after the errors"
        assert layer.icmp_errors == 2
    finally:
        peer.close()
        await layer.close()
