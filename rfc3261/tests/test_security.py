"""Attacks on the servers over loopback sockets (issue 23), each bounded in count and time.

One test (or a few) per finding: the attack as an outsider would send it, and what a
server must do instead of what it did: answer the worst REGISTER datagram at once and
keep serving others; refuse Digest credentials computed for another Request-URI; relay
no ACK or CANCEL it has no business with; keep one source from taking every
connection; answer 503 instead of growing without bound; throttle password guessing.
The figures quoted in ``docs/guides/security.rst`` come from these tests (run with
``-s`` to see them).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import pytest

from rfc3261.asyncio.dispatcher import Dispatcher
from rfc3261.message import Response
from rfc3261.programs import common
from rfc3261.programs.registrar import RegistrarUser, make_registrar
from rfc3261.programs.registrar import build_parser as registrar_parser

from .transport_support import UdpPeer, async_test

REALM = "example.com"


def registrar_args(*argv: str) -> Any:
    listen = ["--listen", "sip:127.0.0.1:0", "--domain", "example.com"]
    return common.parse_args(registrar_parser(), [*listen, *argv])


async def next_response(peer: UdpPeer, timeout: float = 2.0) -> Response:
    """The next response ``peer`` receives (requests are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        message = await peer.receive_message(max(0.01, deadline - loop.time()))
        if isinstance(message, Response):
            return message


def request_bytes(peer: UdpPeer, method: str, uri: str, *extra: str, body: str = "") -> bytes:
    """A request from ``peer`` (its own Via, so responses come back to it)."""
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{peer.port};branch=z9hG4bK{secrets.token_hex(6)};rport",
        "Max-Forwards: 70",
        "To: <sip:alice@example.com>",
        f"From: <sip:alice@example.com>;tag={secrets.token_hex(4)}",
        f"Call-ID: {secrets.token_hex(8)}",
        f"CSeq: 1 {method}",
        *extra,
        f"Content-Length: {len(body.encode())}",
        "",
        body,
    ]
    return "\r\n".join(lines).encode()


class RegistrarOnLoopback:
    """The registrar program's core on a Dispatcher listening on 127.0.0.1."""

    def __init__(self, *argv: str) -> None:
        self.args = registrar_args(*argv)

    async def __aenter__(self) -> RegistrarOnLoopback:
        self.registrar, self.location = make_registrar(self.args)
        self.user = RegistrarUser(self.registrar)
        self.dispatcher = Dispatcher(self.user)
        self.port = (await self.dispatcher.listen("sip:127.0.0.1:0"))[0].address.port
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.user.stop()
        await self.dispatcher.close()
        self.location.close()


# -- 1. One datagram freezes the server ---------------------------------------------------


def contact_flood(peer: UdpPeer, size: int = 65_000) -> tuple[bytes, int]:
    """The worst REGISTER one UDP datagram can carry: ``size`` bytes of distinct Contacts
    (compact form, about 4,000 of them); and how many."""
    head = request_bytes(peer, "REGISTER", "sip:example.com").decode()
    head = head.removesuffix("\r\n\r\n") + "\r\n"
    lines: list[str] = []
    total = len(head) + 2
    while True:
        line = f"m:<sip:{len(lines)}@h>\r\n"
        if total + len(line) > size:
            break
        lines.append(line)
        total += len(line)
    return (head + "".join(lines) + "\r\n").encode(), len(lines)


##= https://www.rfc-editor.org/rfc/rfc3261#section-26.1.5
##= type=test
##% Attackers might also attempt to deplete
##% available memory and disk resources of a registrar by registering
##% huge numbers of bindings.
@pytest.mark.parametrize(
    ("argv", "status", "bound"),
    [
        ((), 403, 0.5),  # refused before any work per Contact
        # No limit in the way: every Contact is matched and stored, in linear time.
        (("--max-bindings-per-aor", "100000"), 200, 3.0),
    ],
)
@async_test(timeout=60)
async def test_the_worst_register_datagram_is_answered_at_once_and_others_are_served(
    argv: tuple[str, ...], status: int, bound: float
) -> None:
    attacker, other = UdpPeer(), UdpPeer()
    try:
        async with RegistrarOnLoopback(*argv) as server:
            data, count = contact_flood(attacker)
            assert len(data) > 60_000 and count > 3_500
            started = time.perf_counter()
            attacker.send(data, server.port)
            other.send(request_bytes(other, "OPTIONS", "sip:example.com"), server.port)
            # The OPTIONS is read after the REGISTER: its answer times the REGISTER too.
            served = await next_response(other, timeout=40)
            served_in = time.perf_counter() - started
            print(
                f"\n[issue 23.1] {count} Contacts, {len(data)} bytes, limit {argv or 'default'}: "
                f"other client served after {served_in * 1000:.1f} ms"
            )
            assert served.status == 200
            # Target 50 ms on an idle machine; the bound leaves room for a loaded CI
            # machine and still fails the quadratic matching (~28 s) by far.
            assert served_in < bound
            if status == 403:
                assert (await next_response(attacker)).status == 403
            # (A 200 listing 4,000 bindings is too large for UDP: it is not awaited.)
            assert server.location.count(time.time()) == (count if status == 200 else 0)
    finally:
        attacker.close()
        other.close()
