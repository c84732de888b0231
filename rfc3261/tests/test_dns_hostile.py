"""Bad DNS: slow, silent, garbage, SERVFAIL, truncated and huge answers (RFC 3263 resolver).

A tiny DNS server made with dnspython's message API runs on 127.0.0.1 (UDP and TCP
on one port) and misbehaves by the first label of the name asked.  Each case must
end in a clear error or in the targets the answer allows, bounded in time, and a
slow answer must not hold up anything else on the event loop.
"""

from __future__ import annotations

import asyncio
import struct
import time
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from rfc3261.asyncio.dispatcher import Dispatcher
from rfc3261.asyncio.dns import DnsResolver
from rfc3261.asyncio.transport import Address

from .dns_support import forbid_system_resolver, free_port  # noqa: F401
from .transport_support import FAST_TIMERS, RecordingTU, async_test, build_request

HUGE = 1500  # SRV records in one answer: about 60 kB, near the 64 kB of a DNS message


def _answer(query: dns.message.Message, over_tcp: bool) -> dns.message.Message | bytes | None:
    """What the server sends back for ``query`` (None: nothing at all)."""
    question = query.question[0]
    name = question.name.to_text()
    first = name.split(".", 1)[0]
    response = dns.message.make_response(query)
    if first == "silent":
        return None
    if first == "garbage":
        return b"\x00\x00this is not a DNS message at all"
    if first == "servfail":
        response.set_rcode(dns.rcode.SERVFAIL)
        return response
    if first == "nowhere":
        response.set_rcode(dns.rcode.NXDOMAIN)
        return response
    if question.rdtype == dns.rdatatype.A:
        response.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "127.0.0.1"))
        return response
    if question.rdtype == dns.rdatatype.SRV and first in ("_sip",) and "huge" in name:
        if not over_tcp:
            response.flags |= dns.flags.TC  # too big for UDP: ask again over TCP
            return response
        records = [
            f"{i % 5} {i % 100} {5000 + i % 1000} h{i}.huge.example.test." for i in range(HUGE)
        ]
        response.answer.append(dns.rrset.from_text_list(name, 60, "IN", "SRV", records))
        return response
    if question.rdtype == dns.rdatatype.SRV and "trunc" in name:
        if not over_tcp:
            response.flags |= dns.flags.TC
            return response
        response.answer.append(
            dns.rrset.from_text(name, 60, "IN", "SRV", "0 0 5077 host.trunc.example.test.")
        )
        return response
    response.set_rcode(dns.rcode.NXDOMAIN)
    return response


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: HostileDns) -> None:
        self.server = server
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.server.spawn(self.server.reply_udp(self.transport, data, addr))


class HostileDns:
    """The misbehaving server; ``asked`` counts the queries by first label."""

    def __init__(self) -> None:
        self.port = 0
        self.asked: dict[str, int] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.udp: Any = None
        self.tcp: asyncio.Server | None = None

    async def start(self) -> str:
        loop = asyncio.get_running_loop()
        for _ in range(20):
            port = free_port()
            try:
                self.udp, _ = await loop.create_datagram_endpoint(
                    lambda: _Udp(self), local_addr=("127.0.0.1", port)
                )
                self.tcp = await asyncio.start_server(self.serve_tcp, "127.0.0.1", port)
            except OSError:
                if self.udp is not None:
                    self.udp.close()
                continue
            self.port = port
            return f"127.0.0.1:{port}"
        raise OSError("no port for the DNS server")

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def respond(self, data: bytes, over_tcp: bool) -> bytes | None:
        query = dns.message.from_wire(data)
        first = query.question[0].name.to_text().split(".", 1)[0]
        self.asked[first] = self.asked.get(first, 0) + 1
        if first == "slow" and query.question[0].rdtype == dns.rdatatype.A:
            await asyncio.sleep(2.0)
        answer = _answer(query, over_tcp)
        if answer is None or isinstance(answer, bytes):
            return answer
        return answer.to_wire(max_size=65535)

    async def reply_udp(self, transport: Any, data: bytes, addr: Any) -> None:
        wire = await self.respond(data, over_tcp=False)
        if wire is not None:
            transport.sendto(wire, addr)

    async def serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            wire = await self.respond(await reader.readexactly(length), over_tcp=True)
            if wire is not None:
                writer.write(struct.pack("!H", len(wire)) + wire)
                await writer.drain()
        finally:
            writer.close()

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.udp is not None:
            self.udp.close()
        if self.tcp is not None:
            self.tcp.close()
            await self.tcp.wait_closed()


@pytest.mark.usefixtures("forbid_system_resolver")
@async_test(timeout=30)
async def test_each_bad_answer_is_a_clear_error_in_bounded_time() -> None:
    server = HostileDns()
    address = await server.start()
    resolver = DnsResolver([address], timeout=0.2, lifetime=1.0)
    try:
        for uri in (
            "sip:silent.example.test",  # never answers: a timeout per query
            "sip:garbage.example.test",  # bytes that are no DNS message
            "sip:servfail.example.test",  # SERVFAIL
            "sip:nowhere.example.test",  # NXDOMAIN
        ):
            started = time.monotonic()
            with pytest.raises(ValueError, match=r"no server found|took over"):
                await resolver.resolve(uri)
            assert time.monotonic() - started < 1.5, uri
        # A timeout is not cached (the next request asks again); a SERVFAIL is, briefly.
        servfails = server.asked["servfail"]
        with pytest.raises(ValueError):
            await resolver.resolve("sip:servfail.example.test")
        assert server.asked["servfail"] == servfails
        assert resolver.failures > 0
    finally:
        await server.close()


@pytest.mark.usefixtures("forbid_system_resolver")
@async_test(timeout=30)
async def test_truncated_udp_answer_is_asked_again_over_tcp() -> None:
    server = HostileDns()
    address = await server.start()
    resolver = DnsResolver([address], timeout=2.0)
    try:
        targets = await resolver.resolve("sip:trunc.example.test;transport=udp")
        assert targets == [Address("UDP", "127.0.0.1", 5077)]
    finally:
        await server.close()


@pytest.mark.usefixtures("forbid_system_resolver")
@async_test(timeout=30)
async def test_a_huge_srv_answer_costs_a_bounded_number_of_queries() -> None:
    server = HostileDns()
    address = await server.start()
    resolver = DnsResolver([address], timeout=2.0)
    try:
        started = time.monotonic()
        targets = await resolver.resolve("sip:huge.example.test;transport=udp")
        assert 0 < len(targets) <= 8
        assert all(t.port >= 5000 for t in targets)
        # One SRV query (UDP, then TCP) and at most 8 address lookups of A and AAAA.
        assert sum(server.asked.values()) <= 2 + 16
        assert time.monotonic() - started < 5
    finally:
        await server.close()


@pytest.mark.usefixtures("forbid_system_resolver")
@async_test(timeout=30)
async def test_a_slow_answer_does_not_block_the_event_loop() -> None:
    server = HostileDns()
    address = await server.start()
    resolver = DnsResolver([address], timeout=3.0)
    tu = RecordingTU(answer=lambda request: 200)
    peer = Dispatcher(tu, timers=FAST_TIMERS)
    client_tu = RecordingTU()
    client = Dispatcher(client_tu, timers=FAST_TIMERS, resolver=resolver)
    try:
        [point] = await peer.listen("sip:127.0.0.1:0", with_tcp=False)
        await client.listen("sip:127.0.0.1:0", with_tcp=False)
        started = time.monotonic()
        # Five requests for the same name at once: one query per record type.
        slow = asyncio.gather(*(resolver.resolve("sip:slow.example.test:5099") for _ in range(5)))
        # While the DNS server sits on its answer, ten requests go and come back.
        for index in range(10):
            request = build_request(
                "OPTIONS", f"sip:bob@{point.address.hostport}", call_id=f"s{index}"
            )
            client.send_request(request, point.address)
            response, _ = await client_tu.next("response", timeout=1.0)
            assert response.status == 200
        assert time.monotonic() - started < 1.5
        assert not slow.done()
        assert await slow == [[Address("UDP", "127.0.0.1", 5099)]] * 5
        assert server.asked["slow"] == 2  # A and AAAA, once each
        assert time.monotonic() - started >= 1.9
    finally:
        await client.close()
        await peer.close()
        await server.close()
