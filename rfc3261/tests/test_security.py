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
import contextlib
import gc
import io
import logging
import os
import secrets
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pytest

from rfc3261.asyncio.dispatcher import Dispatcher
from rfc3261.auth_headers import Challenge
from rfc3261.digest import DigestChallenge, DigestCredentials
from rfc3261.digest_server import ha1_line
from rfc3261.message import Response, parse
from rfc3261.programs import common
from rfc3261.programs.proxy import build_parser as proxy_parser
from rfc3261.programs.proxy import make_proxy_authenticator
from rfc3261.programs.registrar import RegistrarUser, make_dispatcher, make_registrar
from rfc3261.programs.registrar import build_parser as registrar_parser
from rfc3261.programs.ua import EXIT_OK, run_program
from rfc3261.programs.ua import build_parser as ua_parser

from .test_servers_hostile import proxy_on_loopback
from .transport_support import UdpPeer, async_test, make_certificate

REALM = "example.com"


def registrar_args(*argv: str) -> Any:
    listen = ["--listen", "sip:127.0.0.1:0", "--domain", "example.com"]
    return common.parse_args(registrar_parser(), [*listen, *argv])


async def next_response(peer: UdpPeer, timeout: float = 2.0) -> Response:
    """The next final response ``peer`` receives (requests and 1xx are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        message = await peer.receive_message(max(0.01, deadline - loop.time()))
        if isinstance(message, Response) and message.status >= 200:
            return message


def request_bytes(
    peer: UdpPeer, method: str, uri: str, *extra: str, body: str = "", call_id: str = ""
) -> bytes:
    """A request from ``peer`` (its own Via, so responses come back to it)."""
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{peer.port};branch=z9hG4bK{secrets.token_hex(6)};rport",
        "Max-Forwards: 70",
        "To: <sip:alice@example.com>",
        f"From: <sip:alice@example.com>;tag={secrets.token_hex(4)}",
        f"Call-ID: {call_id or secrets.token_hex(8)}",
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
        self.dispatcher = make_dispatcher(self.args, self.user)
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


# -- 2. Digest credentials bound to the Request-URI --------------------------------------


def answer(
    challenge: Response,
    method: str,
    uri: str,
    *,
    password: str = "secret",
    algorithm: str | None = None,
    nc: str = "00000001",
    user: str = "alice",
) -> tuple[str, str]:
    """(header name, value) answering ``challenge`` (its first offer, or ``algorithm``'s)
    for a request ``method`` whose credentials name ``uri``."""
    header = "Proxy-Authenticate" if challenge.status == 407 else "WWW-Authenticate"
    offers = [
        DigestChallenge.from_header(Challenge.parse(text, header))
        for text in challenge.headers.get_all(header)
    ]
    offer = next(o for o in offers if algorithm is None or o.algorithm == algorithm)
    creds = DigestCredentials(
        username=user,
        realm=offer.realm,
        nonce=offer.nonce,
        uri=uri,
        response="",
        algorithm=algorithm or offer.algorithm,
        qop="auth",
        nc=nc,
        cnonce=secrets.token_hex(8),
    )
    creds.response = creds.expected_response(method, password=password)
    name = "Proxy-Authorization" if challenge.status == 407 else "Authorization"
    return name, str(creds.to_header())


def write_ha1_file(tmp_path: Path, algorithms: tuple[str, ...] = ("SHA-256", "MD5")) -> str:
    path = tmp_path / "ha1.txt"
    path.write_text(
        "".join(
            ha1_line(u, REALM, "secret", a) + "\n" for u in ("alice", "bob") for a in algorithms
        )
    )
    return str(path)


class UdpSink:
    """A UDP socket on loopback that counts what reaches it (a third party's host)."""

    def __init__(self) -> None:
        self.peer = UdpPeer()
        self.port = self.peer.port

    async def received(self, wait: float = 0.5) -> list[bytes]:
        got: list[bytes] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while loop.time() < deadline:
            try:
                got.append(await self.peer.receive(max(0.01, deadline - loop.time())))
            except TimeoutError:
                break
        return got

    def close(self) -> None:
        self.peer.close()


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.6
##= type=test
##% The authenticating server MUST assure that the resource designated by
##% the "uri" parameter is the same as the resource specified in the
##% Request-Line; if they are not, the server SHOULD return a 400 Bad
##% Request error.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.6
##= type=test
##% In particular, it MUST be an
##% "absolute-URI" if the request-target is an "absolute-URI".
@async_test(timeout=20)
async def test_registrar_refuses_credentials_computed_for_another_uri(tmp_path: Path) -> None:
    peer = UdpPeer()
    try:
        async with RegistrarOnLoopback("--auth-file", write_ha1_file(tmp_path)) as server:
            contact = f"Contact: <sip:alice@127.0.0.1:{peer.port}>"
            peer.send(request_bytes(peer, "REGISTER", "sip:example.com", contact), server.port)
            challenge = await next_response(peer)
            assert challenge.status == 401
            for uri, status in (("sip:evil@10.0.0.1:5060", 400), ("sip:EXAMPLE.com", 200)):
                name, value = answer(challenge, "REGISTER", uri)
                data = request_bytes(
                    peer, "REGISTER", "sip:example.com", contact, f"{name}: {value}"
                )
                peer.send(data, server.port)
                assert (await next_response(peer)).status == status, uri
            assert server.location.count(time.time()) == 1
    finally:
        peer.close()


async def proxy_with_auth(tmp_path: Path, *argv: str) -> tuple[Any, Any, int]:
    """The proxy program's core with ``--proxy-auth`` on loopback: (host, proxy, port)."""
    args = common.parse_args(
        proxy_parser(),
        [
            "--listen",
            "sip:127.0.0.1:0",
            "--domain",
            "example.com",
            "--proxy-auth",
            "--auth-file",
            write_ha1_file(tmp_path),
            *argv,
        ],
    )
    host, proxy, port = await proxy_on_loopback(
        frozenset({"example.com"}), authenticator=make_proxy_authenticator(args)
    )
    return host, proxy, port


##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
##= type=test
##% Therefore, in SIP, a UAS MUST check if the Request-URI in
##% the Authorization/Proxy-Authorization header field value
##% corresponds to a user for whom the UAS is willing to accept
##% forwarded or direct requests
@async_test(timeout=20)
async def test_proxy_does_not_forward_a_request_retargeted_under_old_credentials(
    tmp_path: Path,
) -> None:
    peer, sink = UdpPeer(), UdpSink()
    host, _proxy, port = await proxy_with_auth(tmp_path)
    try:
        target = f"sip:carol@127.0.0.1:{sink.port}"
        peer.send(request_bytes(peer, "MESSAGE", "sip:bob@example.com", body="hi"), port)
        challenge = await next_response(peer)
        assert challenge.status == 407
        # Credentials for bob, replayed with another Request-URI: toll fraud.
        name, value = answer(challenge, "MESSAGE", "sip:bob@example.com")
        peer.send(request_bytes(peer, "MESSAGE", target, f"{name}: {value}", body="hi"), port)
        assert (await next_response(peer)).status == 400
        assert await sink.received() == []
        # The same credentials computed for the target go through.
        name, value = answer(challenge, "MESSAGE", target, nc="00000002")
        peer.send(request_bytes(peer, "MESSAGE", target, f"{name}: {value}", body="hi"), port)
        forwarded = await sink.received()
        assert len(forwarded) == 1 and forwarded[0].startswith(b"MESSAGE " + target.encode())
    finally:
        peer.close()
        sink.close()
        await host.close()


# -- 3. ACK and CANCEL through a proxy that demands credentials ---------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-26.1.5
##= type=test
##% Similarly, attackers might use falsified Route header field values in
##% a request that identify the target host and then send such messages
##% to forking proxies that will amplify messaging sent to the target.
@async_test(timeout=20)
async def test_proxy_auth_relays_no_ack_or_cancel_of_nobody(tmp_path: Path) -> None:
    peer, sink = UdpPeer(), UdpSink()
    host, _proxy, port = await proxy_with_auth(tmp_path)
    try:
        target = f"sip:victim@127.0.0.1:{sink.port}"
        own_route = f"Route: <sip:127.0.0.1:{port};lr>"
        # An ACK with a body, to the target directly and through our Route (no token).
        peer.send(request_bytes(peer, "ACK", target, body="x" * 1000), port)
        peer.send(request_bytes(peer, "ACK", target, own_route, body="x" * 1000), port)
        forged = f"Route: <sip:127.0.0.1:{port};lr;rrtoken=0123456789abcdef0123>"
        peer.send(request_bytes(peer, "ACK", target, forged, body="x"), port)
        # A CANCEL matching nothing: 481, not relayed.
        peer.send(request_bytes(peer, "CANCEL", target), port)
        assert (await next_response(peer)).status == 481
        assert await sink.received() == []
    finally:
        peer.close()
        sink.close()
        await host.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% Servers MUST NOT attempt to challenge an ACK.
@async_test(timeout=20)
async def test_proxy_auth_relays_the_ack_of_a_dialog_it_record_routed(tmp_path: Path) -> None:
    peer, sink = UdpPeer(), UdpSink()
    host, _proxy, port = await proxy_with_auth(tmp_path)
    try:
        target = f"sip:carol@127.0.0.1:{sink.port}"
        call_id = secrets.token_hex(8)
        peer.send(request_bytes(peer, "INVITE", target, call_id=call_id), port)
        challenge = await next_response(peer)
        assert challenge.status == 407
        name, value = answer(challenge, "INVITE", target)
        peer.send(request_bytes(peer, "INVITE", target, f"{name}: {value}", call_id=call_id), port)
        invite = parse((await sink.received())[0])
        record_route = invite.headers.get("Record-Route")
        assert record_route is not None and "rrtoken=" in record_route
        # The ACK of the 2xx, routed by the dialog's route set: relayed, unchallenged.
        ack = request_bytes(peer, "ACK", target, f"Route: {record_route}", call_id=call_id)
        peer.send(ack, port)
        got = [m for m in await sink.received() if m.startswith(b"ACK ")]
        assert len(got) == 1
        # The same Route with another Call-ID is not ours.
        peer.send(request_bytes(peer, "ACK", target, f"Route: {record_route}"), port)
        assert [m for m in await sink.received() if m.startswith(b"ACK ")] == []
    finally:
        peer.close()
        sink.close()
        await host.close()


# -- 4. Connections: one source cannot take them all; TLS handshakes are counted ----------


def rss_bytes() -> int:
    """This process's resident set size (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def open_silent_connections(
    port: int, count: int, source: str, host: str = "127.0.0.1"
) -> list[socket.socket]:
    """``count`` TCP connections from ``source`` to ``host:port`` that never send a byte
    (those the server refuses are among them, reset)."""
    loop = asyncio.get_running_loop()
    socks: list[socket.socket] = []

    async def one() -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.bind((source, 0))
        socks.append(sock)
        with contextlib.suppress(OSError):
            await asyncio.wait_for(loop.sock_connect(sock, (host, port)), 2.0)

    for start in range(0, count, 128):
        await asyncio.gather(*(one() for _ in range(min(128, count - start))))
        await asyncio.sleep(0.01)  # let the server accept them
    return socks


def branch() -> str:
    return "z9hG4bK" + secrets.token_hex(6)


async def options_over_tcp(port: int, source: str, *, tls: Any = None) -> int:
    """The status of an OPTIONS sent over a new TCP (or TLS) connection from ``source``."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(
            "127.0.0.1", port, local_addr=(source, 0), ssl=tls, server_hostname=None
        ),
        3.0,
    )
    try:
        lines = [
            "OPTIONS sip:example.com SIP/2.0",
            f"Via: SIP/2.0/{'TLS' if tls else 'TCP'} {source}:9;branch={branch()}",
            "Max-Forwards: 70",
            "To: <sip:example.com>",
            f"From: <sip:probe@example.com>;tag={secrets.token_hex(4)}",
            f"Call-ID: {secrets.token_hex(8)}",
            "CSeq: 1 OPTIONS",
            "Content-Length: 0",
            "",
            "",
        ]
        writer.write("\r\n".join(lines).encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3.0)
        return int(head.split(b" ", 2)[1])
    finally:
        writer.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.4
##= type=test
##% No matter what security solutions are deployed, floods of messages
##% directed at proxy servers can lock up proxy server resources and
##% prevent desirable traffic from reaching its destination.
@async_test(timeout=60)
async def test_one_source_cannot_take_every_connection() -> None:
    socks: list[socket.socket] = []
    async with RegistrarOnLoopback() as server:
        try:
            layer = server.dispatcher.transport
            socks = await open_silent_connections(server.port, 1024, "127.0.0.2")
            await asyncio.sleep(0.2)
            held = sum(1 for c in layer.connections.values() if c.remote.host == "127.0.0.2")
            print(f"\n[issue 23.4] one source: {held} of 1024 connections held")
            status = await options_over_tcp(server.port, "127.0.0.3")
            assert status == 200
            assert held < layer.limits.max_connections
        finally:
            for sock in socks:
                sock.close()


@async_test(timeout=60)
async def test_silent_tls_connections_do_not_blow_memory(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    server_ssl = common.server_ssl_context(str(cert), str(key))
    registrar, location = make_registrar(registrar_args())
    dispatcher = Dispatcher(RegistrarUser(registrar), server_ssl=server_ssl)
    socks: list[socket.socket] = []
    try:
        port = (await dispatcher.listen("sips:127.0.0.1:0"))[0].address.port
        gc.collect()
        before = rss_bytes()
        socks = await open_silent_connections(port, 1500, "127.0.0.2")
        await asyncio.sleep(0.5)
        grown = rss_bytes() - before
        print(f"\n[issue 23.4] 1500 silent TLS connections: RSS +{grown / 2**20:.1f} MiB")
        client = ssl.create_default_context(cafile=str(cert))
        assert await options_over_tcp(port, "127.0.0.3", tls=client) == 200
        assert grown < 64 * 2**20
    finally:
        for sock in socks:
            sock.close()
        await dispatcher.close()
        location.close()


# -- 5. Overload: bounded transactions, 503 with Retry-After --------------------------------


async def options_flood(port: int, count: int) -> tuple[int, int, float]:
    """Send ``count`` distinct OPTIONS from one UDP socket (draining what comes back);
    (how many 200, how many 503 with Retry-After, seconds taken)."""
    peer = UdpPeer()
    template = request_bytes(peer, "OPTIONS", "sip:example.com").decode()
    old_branch = template.split("branch=")[1].split(";")[0]
    ok = busy = 0
    started = time.perf_counter()

    def drain() -> None:
        nonlocal ok, busy
        while True:
            try:
                data = peer.sock.recv(65536)
            except BlockingIOError:
                return
            if data.startswith(b"SIP/2.0 200"):
                ok += 1
            elif data.startswith(b"SIP/2.0 503") and b"\r\nRetry-After: " in data:
                busy += 1

    try:
        for start in range(0, count, 200):
            for index in range(start, min(count, start + 200)):
                peer.send(template.replace(old_branch, f"z9hG4bKflood{index}").encode(), port)
            await asyncio.sleep(0.002)
            drain()
        for _ in range(50):
            await asyncio.sleep(0.01)
            drain()
    finally:
        peer.close()
    return ok, busy, time.perf_counter() - started


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.5.4
##= type=test
##% The server is temporarily unable to process the request due to a
##% temporary overloading or maintenance of the server.  The server MAY
##% indicate when the client should retry the request in a Retry-After
##% header field.
@async_test(timeout=60)
async def test_a_request_flood_is_answered_503_beyond_the_transaction_cap() -> None:
    async with RegistrarOnLoopback("--max-transactions", "1000") as server:
        ok, busy, took = await options_flood(server.port, 3000)
        live = len(server.dispatcher.transactions.server_transactions)
        print(
            f"\n[issue 23.5] 3000 OPTIONS in {took:.1f} s: {ok} x 200, {busy} x 503, {live} live"
        )
        # (The kernel may drop some datagrams of the burst: counts are lower bounds.)
        assert live <= 1000 and ok <= 1000
        assert busy >= 100
        assert server.dispatcher.transactions.overloaded == busy


@pytest.mark.skipif(os.environ.get("SIPREF_FUZZ") != "1", reason="long run: SIPREF_FUZZ=1")
@async_test(timeout=300)
async def test_rss_under_a_50000_options_flood_is_bounded() -> None:
    async with RegistrarOnLoopback() as server:
        gc.collect()
        before = rss_bytes()
        ok, busy, took = await options_flood(server.port, 50_000)
        grown = rss_bytes() - before
        live = len(server.dispatcher.transactions.server_transactions)
        print(
            f"\n[issue 23.5] 50,000 OPTIONS in {took:.1f} s: {ok} x 200, {busy} x 503, "
            f"{live} live, RSS +{grown / 2**20:.1f} MiB"
        )
        assert live <= server.args.max_transactions
        assert grown < 250 * 2**20


# -- 6. Authentication: throttling, nonce-algorithm binding, nc, From, TLS -------------------


async def register_with(
    server: RegistrarOnLoopback,
    peer: UdpPeer,
    challenge: Response,
    *,
    user: str = "alice",
    from_user: str | None = None,
    **answer_kw: Any,
) -> Response:
    """Answer ``challenge`` with a REGISTER for ``user`` from ``peer``; the response."""
    name, value = answer(challenge, "REGISTER", "sip:example.com", user=user, **answer_kw)
    data = request_bytes(
        peer, "REGISTER", "sip:example.com", f"Contact: <sip:{user}@127.0.0.1:{peer.port}>",
        f"{name}: {value}",
    ).decode()  # fmt: skip
    aor = f"<sip:{user}@example.com>"
    data = data.replace("To: <sip:alice@example.com>", f"To: {aor}")
    data = data.replace(
        "From: <sip:alice@example.com>", f"From: <sip:{from_user or user}@example.com>"
    )
    peer.send(data.encode(), server.port)
    return await next_response(peer)


async def challenge_for(server: RegistrarOnLoopback, peer: UdpPeer) -> Response:
    peer.send(request_bytes(peer, "REGISTER", "sip:example.com"), server.port)
    response = await next_response(peer)
    assert response.status == 401
    return response


##= https://www.rfc-editor.org/rfc/rfc3261#section-26.1.5
##= type=test
##% Denial-of-service attacks focus on rendering a particular network
##% element unavailable, usually by directing an excessive amount of
##% network traffic at its interfaces.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
##= type=test
##% If the response is invalid, then a login failure SHOULD be logged,
##% since repeated login failures from a single client may indicate an
##% attacker attempting to guess passwords.
@async_test(timeout=30)
async def test_password_guessing_is_throttled_per_source_and_user(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rfc3261.auth")
    guesser, other = UdpPeer(), UdpPeer("127.0.0.2")
    argv = ("--auth-file", write_ha1_file(tmp_path), "--auth-max-failures", "5")
    try:
        async with RegistrarOnLoopback(*argv) as server:
            challenge = await challenge_for(server, guesser)
            statuses = []
            for guess in range(8):  # one nonce, many guesses
                response = await register_with(
                    server, guesser, challenge, password=f"guess{guess}", nc=f"{guess + 1:08x}"
                )
                statuses.append(response.status)
            assert statuses == [401] * 5 + [503] * 3
            failures = [r for r in caplog.records if "login failure from 127.0.0.1" in r.message]
            assert len(failures) == 5 and not any("alice" in r.message for r in failures)
            assert 1 <= int(response.headers.get("Retry-After") or "0") <= 60
            # The right password from the throttled source waits too ...
            fresh = await challenge_for(server, guesser)
            assert (await register_with(server, guesser, fresh)).status == 503
            # ... and so does alice from elsewhere (the user name is throttled too),
            fresh = await challenge_for(server, other)
            assert (await register_with(server, other, fresh)).status == 503
            # while bob from another source is served.
            assert (await register_with(server, other, fresh, user="bob")).status == 200
    finally:
        guesser.close()
        other.close()


##= https://www.rfc-editor.org/rfc/rfc8760#section-3
##= type=test
##% This opens the system to the potential for a downgrade attack by an
##% on-path attacker.
##= https://www.rfc-editor.org/rfc/rfc8760#section-3
##= type=test
##% The obsolete MD5 algorithm
##% remains only for backward compatibility with [RFC2617], but its use
##% is NOT RECOMMENDED.
##= https://www.rfc-editor.org/rfc/rfc8760#section-3
##= type=test
##% The most effective way of dealing with this type
##% of attack is to either validate the client and challenge it
##% accordingly or remove the support for backward compatibility by not
##% supporting MD5.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.2
##= type=test
##% To maintain backwards
##% compatibility with [RFC2617], the MD5 algorithm is still supported
##% but NOT RECOMMENDED.
@async_test(timeout=20)
async def test_a_sha256_nonce_takes_no_md5_answer_and_md5_is_offered_only_when_set(
    tmp_path: Path,
) -> None:
    peer = UdpPeer()
    try:
        async with RegistrarOnLoopback("--auth-file", write_ha1_file(tmp_path)) as server:
            challenge = await challenge_for(server, peer)
            offered = challenge.headers.get_all("WWW-Authenticate")
            assert len(offered) == 1 and "algorithm=SHA-256" in offered[0]
        argv = ("--auth-file", write_ha1_file(tmp_path), "--digest-algorithms", "SHA-256,MD5")
        async with RegistrarOnLoopback(*argv) as server:
            challenge = await challenge_for(server, peer)
            sha256 = DigestChallenge.from_header(
                Challenge.parse(challenge.headers.get_all("WWW-Authenticate")[0])
            )
            assert sha256.algorithm == "SHA-256"
            # Downgrade: the SHA-256 challenge's nonce, answered with MD5.
            name = "Authorization"
            creds = DigestCredentials(
                username="alice", realm=REALM, nonce=sha256.nonce, uri="sip:example.com",
                response="", algorithm="MD5", qop="auth", nc="00000001", cnonce="c0ffee",
            )  # fmt: skip
            creds.response = creds.expected_response("REGISTER", password="secret")
            contact = f"Contact: <sip:alice@127.0.0.1:{peer.port}>"
            data = request_bytes(
                peer, "REGISTER", "sip:example.com", contact, f"{name}: {creds.to_header()}"
            )
            peer.send(data, server.port)
            assert (await next_response(peer)).status == 401
            # The same credentials with SHA-256 go through.
            assert (await register_with(server, peer, challenge, nc="00000002")).status == 200
    finally:
        peer.close()


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
##= type=test
##% The nc value is the hexadecimal
##% count of the number of requests (including the current request)
##% that the client has sent with the nonce value in this request.
@async_test(timeout=20)
async def test_nc_must_be_8lhex_and_the_nonce_lifetime_is_configurable(tmp_path: Path) -> None:
    peer = UdpPeer()
    argv = ("--auth-file", write_ha1_file(tmp_path), "--nonce-lifetime", "0.5")
    try:
        async with RegistrarOnLoopback(*argv) as server:
            challenge = await challenge_for(server, peer)
            for nc in ("1", "0000000A", "000000001"):
                assert (await register_with(server, peer, challenge, nc=nc)).status == 400, nc
            assert (await register_with(server, peer, challenge, nc="0000000a")).status == 200
            await asyncio.sleep(0.6)
            late = await register_with(server, peer, challenge, nc="0000000b")
            assert late.status == 401
            assert "stale=true" in (late.headers.get("WWW-Authenticate") or "")
    finally:
        peer.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-22
##= type=test
##% Once the originator has been identified, the recipient of the
##% request SHOULD ascertain whether or not this user is authorized to
##% make the request in question.
@async_test(timeout=20)
async def test_bind_from_ties_from_to_the_authenticated_user(tmp_path: Path) -> None:
    peer, sink = UdpPeer(), UdpSink()
    argv = ("--auth-file", write_ha1_file(tmp_path), "--bind-from")
    host, _proxy, port = await proxy_with_auth(tmp_path, "--bind-from")
    try:
        async with RegistrarOnLoopback(*argv) as server:
            challenge = await challenge_for(server, peer)
            spoofed = await register_with(server, peer, challenge, from_user="bob")
            assert spoofed.status == 403
            assert (await register_with(server, peer, challenge, nc="00000002")).status == 200
        # The proxy: alice's credentials on a MESSAGE "From: bob".
        target = f"sip:carol@127.0.0.1:{sink.port}"
        peer.send(request_bytes(peer, "MESSAGE", target, body="hi"), port)
        challenge = await next_response(peer)
        name, value = answer(challenge, "MESSAGE", target)
        data = request_bytes(peer, "MESSAGE", target, f"{name}: {value}", body="hi").decode()
        data = data.replace("From: <sip:alice@example.com>", "From: <sip:bob@example.com>")
        peer.send(data.encode(), port)
        assert (await next_response(peer)).status == 403
        assert await sink.received() == []
    finally:
        peer.close()
        sink.close()
        await host.close()


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% The server SHOULD only set stale to true if it receives a request for
##% which the nonce is invalid.
@async_test(timeout=30)
async def test_a_challenge_flood_evicts_no_nonce_in_flight(tmp_path: Path) -> None:
    peer, flooder = UdpPeer(), UdpPeer()
    argv = ("--auth-file", write_ha1_file(tmp_path), "--max-nonces", "100")
    try:
        async with RegistrarOnLoopback(*argv) as server:
            challenge = await challenge_for(server, peer)
            for _ in range(10):
                for _ in range(100):
                    flooder.send(
                        request_bytes(flooder, "REGISTER", "sip:example.com"), server.port
                    )
                await asyncio.sleep(0.02)
            assert (await register_with(server, peer, challenge)).status == 200
            assert server.registrar.authenticator is not None
            assert len(server.registrar.authenticator._nonces) <= 100
    finally:
        peer.close()
        flooder.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
##= type=test
##% All SIP
##% elements that support TLS MUST have a mechanism for validating
##% certificates received during TLS negotiation; this entails possession
##% of one or more root certificates issued by certificate authorities
##% (preferably well-known distributors of site certificates comparable
##% to those that issue root certificates for web browsers).
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.2.2
##= type=test
##% Certificates received in the authentication process SHOULD be validated with root
##% certificates held by the client; failure to validate a certificate SHOULD result in
##% the failure of the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.1
##= type=test
##% When it receives the TLS Certificate message, the UA SHOULD verify the certificate
##% and inspect the site identified by the certificate.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.1
##= type=test
##% If the certificate is invalid, revoked, or if it does not identify the appropriate
##% party, the UA MUST NOT send the REGISTER message and otherwise proceed with the
##% registration.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.2
##= type=test
##% Each side of the connection SHOULD verify and inspect the certificate of the other,
##% noting the domain name that appears in the certificate for comparison with the
##% header fields of SIP messages.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.2
##= type=test
##% The atlanta.com proxy server, for example, SHOULD verify at this stage that the
##% certificate received from the remote side corresponds with the biloxi.com domain.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.3
##= type=test
##% When her UA receives a certificate from the biloxi proxy, it SHOULD be verified
##% normally before she passes her INVITE across the TLS connection.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
##= type=test
##% It is strongly RECOMMENDED that UAs be capable initiating TLS; UAs MAY also be
##% capable of acting as a TLS server.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.1
##= type=test
##% the site identified by the certificate MUST correspond with the domain in which the
##% UA intends to register
@async_test(timeout=30)
async def test_ua_verifies_tls_with_the_system_cas_and_says_why_it_failed(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    tls = ("--cert", str(cert), "--key", str(key))
    registrar, location = make_registrar(registrar_args(*tls))
    user = RegistrarUser(registrar)
    dispatcher = make_dispatcher(registrar_args(*tls), user)
    try:
        port = (await dispatcher.listen("sips:127.0.0.1:0"))[0].address.port
        listen = ("--listen", "sips:127.0.0.1:0", *tls, "--timeout", "5")
        # Without --ca: the system's CAs, which do not know our self-signed certificate.
        out = io.StringIO()
        outcome = await run_program(
            ua_parse(*listen, "--options", f"sips:127.0.0.1:{port}"), out=out
        )
        assert outcome.status != EXIT_OK
        assert "certificate could not be verified" in out.getvalue(), out.getvalue()
        assert "--ca" in out.getvalue()
        # With --ca naming it: verified, answered.
        out = io.StringIO()
        outcome = await run_program(
            ua_parse(*listen, "--ca", str(cert), "--options", f"sips:127.0.0.1:{port}"), out=out
        )
        assert outcome.status == EXIT_OK, out.getvalue()
    finally:
        user.stop()
        await dispatcher.close()
        location.close()


def ua_parse(*argv: str) -> Any:
    return common.parse_args(ua_parser(), list(argv))
