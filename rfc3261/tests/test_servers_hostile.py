"""Server-side defects found by hostile input and foreign stacks (issue 13: 4, 5, 6, 10, 12, 13).

The proxy and the registrar, in memory where the defect is in the core and on loopback
sockets (:class:`CoreHost`, :class:`Dispatcher`) where it is in the edge: a transport
error becomes the 503 of §16.9 at once, no 100 (Trying) follows a final response, a
CANCEL is answered by §9.2/§16.10, ``--domain 127.0.0.1`` does not swallow the URIs of
the UAs on that host, a REGISTER for the embedded registrar is challenged once, and the
Digest algorithms offered are configurable.
"""

from __future__ import annotations

import asyncio
import io
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from rfc3261.asyncio.dispatcher import CoreHost, Dispatcher
from rfc3261.cancel import build_cancel
from rfc3261.digest_server import DigestAuthenticator, MemoryCredentials
from rfc3261.location import Binding, SqliteLocationService
from rfc3261.message import Request, Response, parse
from rfc3261.programs import common
from rfc3261.programs.proxy import ProgramProxy, make_proxy_authenticator
from rfc3261.programs.proxy import build_parser as proxy_parser
from rfc3261.programs.registrar import RegistrarUser, make_registrar
from rfc3261.programs.registrar import build_parser as registrar_parser
from rfc3261.programs.ua import EXIT_OK, build_parser, run_program
from rfc3261.proxy import Proxy, ProxyConfig, Send
from rfc3261.registrar import Registrar, RegistrarConfig
from rfc3261.tests.server_support import invite, register

from .test_programs_ua import WireCapture
from .transport_support import UdpPeer, async_test

PROXY = "proxy.example.com"
BOB = "sip:bob@example.com"
REALM = "example.com"


@pytest.fixture
def wire() -> Iterator[WireCapture]:
    """The wire log of every program in the test (``-> TRANSPORT peer first-line``)."""
    handler = WireCapture()
    level, disabled = common.WIRE_LOG.level, common.WIRE_LOG.disabled
    common.WIRE_LOG.setLevel(logging.INFO)
    common.WIRE_LOG.disabled = False
    common.WIRE_LOG.addHandler(handler)
    try:
        yield handler
    finally:
        common.WIRE_LOG.removeHandler(handler)
        common.WIRE_LOG.setLevel(level)
        common.WIRE_LOG.disabled = disabled


def statuses(sends: list[Send]) -> list[int]:
    return [s.message.status for s in sends if isinstance(s.message, Response)]


def memory_proxy(**kw: Any) -> Proxy:
    config = ProxyConfig(host=PROXY, domains=frozenset({"example.com"}))
    return Proxy(config, SqliteLocationService(), **kw)


def credentials() -> MemoryCredentials:
    return MemoryCredentials.from_passwords({"alice": "secret"}, REALM)


def registrar_args(*argv: str) -> Any:
    """Parsed flags of the registrar program for example.com."""
    listen = ["--listen", "sip:127.0.0.1:0", "--domain", "example.com"]
    return common.parse_args(registrar_parser(), [*listen, *argv])


class ErrorLog:
    """Collects exceptions the event loop reports (a callback that raised)."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []
        asyncio.get_running_loop().set_exception_handler(lambda _loop, c: self.errors.append(c))


async def responses_to(peer: UdpPeer, count: int, timeout: float = 2.0) -> list[Response]:
    """The next ``count`` responses the peer receives, or fewer if ``timeout`` passes."""
    got: list[Response] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(got) < count and loop.time() < deadline:
        try:
            message = await peer.receive_message(max(0.01, deadline - loop.time()))
        except TimeoutError:
            break
        if isinstance(message, Response):
            got.append(message)
    return got


def udp_request(peer: UdpPeer, method: str, uri: str, *, to: str = BOB, **extra: str) -> Request:
    """A request from ``peer`` with its own Via (so responses come back to it)."""
    branch = "z9hG4bK" + secrets.token_hex(6)
    headers: list[tuple[str, Any]] = [
        ("Via", f"SIP/2.0/UDP 127.0.0.1:{peer.port};branch={branch};rport"),
        ("Max-Forwards", "70"),
        ("To", f"<{to}>"),
        ("From", f"<sip:alice@example.com>;tag={secrets.token_hex(4)}"),
        ("Call-ID", secrets.token_hex(8)),
        ("CSeq", f"1 {method}"),
        ("Contact", f"<sip:alice@127.0.0.1:{peer.port}>"),
        *extra.items(),
        ("Content-Length", "0"),
    ]
    request = parse(bytes(Request(method, uri, headers)))
    assert isinstance(request, Request)
    return request


async def proxy_on_loopback(domains: frozenset[str], **kw: Any) -> tuple[CoreHost, Proxy, int]:
    """The program's proxy core on a CoreHost listening on 127.0.0.1 (UDP and TCP)."""
    host = CoreHost(None)
    points = await host.listen("sip:127.0.0.1:0")
    first = points[0].address
    config = ProxyConfig(
        host=first.host,
        port=first.port,
        transport=first.transport,
        domains=domains,
        aliases=frozenset(p.address.hostport for p in points),
    )
    host.core = ProgramProxy(config, SqliteLocationService(), **kw)
    return host, host.core, first.port


# -- 4. §16.9: a transport error is a 503, at once ------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.9
##= type=test
##% If the transport layer notifies a proxy of an error when it tries to
##% forward a request (see Section 18.4), the proxy MUST behave as if the
##% forwarded request received a 503 (Service Unavailable) response.
@pytest.mark.parametrize("method", ["INVITE", "OPTIONS"])
@async_test(timeout=15)
async def test_unresolvable_next_hop_is_a_503_at_once(method: str) -> None:
    errors = ErrorLog()
    host, proxy, port = await proxy_on_loopback(frozenset({"example.com"}))
    peer = UdpPeer()
    try:
        # A name under .invalid: the default resolver takes IP literals only, so the
        # send fails at once and no DNS query leaves the machine.
        request = udp_request(
            peer, method, "sip:bob@nowhere.invalid", to="sip:bob@nowhere.invalid"
        )
        started = asyncio.get_running_loop().time()
        peer.send(bytes(request), port)
        expected = 2 if method == "INVITE" else 1  # a 100 first for an INVITE
        finals = [r for r in await responses_to(peer, expected, timeout=3.0) if r.status >= 200]
        elapsed = asyncio.get_running_loop().time() - started
        # §16.7 step 6: the 503 the proxy assumed goes upstream as a 500.
        assert [r.status for r in finals] == [500]
        assert elapsed < 2.0
        assert errors.errors == []
        assert proxy.contexts == {} or all(c.final_sent for c in proxy.contexts.values())
    finally:
        peer.close()
        await host.close()


def test_transport_error_takes_the_transaction_or_the_send() -> None:
    proxy = memory_proxy()
    proxy.location.update(
        "sip:bob@example.com",
        [Binding("sip:bob@example.com", "sip:bob@192.0.2.20", 1e9, "c", 1)],
        [],
        0.0,
    )
    first = proxy.receive_request(invite(BOB), "src", 0.0)
    (forwarded,) = [s for s in first if isinstance(s.message, Request)]
    # CoreHost's default send-error path passes the transaction, a Send works too.
    assert statuses(proxy.transport_error(forwarded.transaction, 0.1)) == [500]
    assert proxy.transport_error(forwarded, 0.2) == []  # already terminated
    with pytest.raises(TypeError):
        proxy.transport_error("not a transaction", 0.3)  # type: ignore[arg-type]


# -- 5. no 100 (Trying) after a final response ----------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.2
##= type=test
##% The proxy core MUST behave as a UAS with respect to sending an
##% immediate provisional on that server transaction (such as 100 Trying)
##% as described in Section 8.2.6.
def test_proxy_sends_its_100_before_its_own_final_response() -> None:
    proxy = memory_proxy()
    assert statuses(proxy.receive_request(invite(BOB), "src", 0.0)) == [100, 480]
    challenging = memory_proxy(authenticator=DigestAuthenticator(REALM, credentials(), proxy=True))
    assert statuses(challenging.receive_request(invite(BOB), "src", 0.0)) == [100, 407]


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% The server transaction MUST generate a 100 (Trying) response unless it
##% knows that the TU will generate a provisional or final response within
##% 200 ms, in which case it MAY generate a 100 (Trying) response.
@async_test(timeout=15)
async def test_registrar_program_sends_no_100_after_its_405() -> None:
    registrar, location = make_registrar(registrar_args())
    user = RegistrarUser(registrar)
    dispatcher = Dispatcher(user)
    peer = UdpPeer()
    try:
        point = (await dispatcher.listen("sip:127.0.0.1:0"))[0]
        peer.send(bytes(udp_request(peer, "INVITE", BOB)), point.address.port)
        assert [r.status for r in await responses_to(peer, 3, timeout=0.5)] == [100, 405]
    finally:
        peer.close()
        user.stop()
        await dispatcher.close()
        location.close()


# -- 6. CANCEL at servers --------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##= type=test
##% If the UAS did not find a matching transaction for the CANCEL
##% according to the procedure above, it SHOULD respond to the CANCEL with
##% a 481 (Call Leg/Transaction Does Not Exist).
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##= type=test
##% Regardless of the method of the original request, as long as the
##% CANCEL matched an existing transaction, the UAS answers the CANCEL
##% request itself with a 200 (OK) response.
@async_test(timeout=15)
async def test_registrar_program_answers_cancel_200_or_481() -> None:
    registrar, location = make_registrar(registrar_args())
    user = RegistrarUser(registrar)
    dispatcher = Dispatcher(user)
    peer = UdpPeer()
    try:
        port = (await dispatcher.listen("sip:127.0.0.1:0"))[0].address.port
        options = udp_request(peer, "OPTIONS", "sip:example.com")
        peer.send(bytes(options), port)
        assert [r.status for r in await responses_to(peer, 1)] == [200]
        # The OPTIONS transaction is still there (Timer J): the CANCEL matches it.
        peer.send(bytes(build_cancel(options)), port)
        assert [r.status for r in await responses_to(peer, 1)] == [200]
        stray = build_cancel(udp_request(peer, "INVITE", BOB))
        peer.send(bytes(stray), port)
        assert [r.status for r in await responses_to(peer, 1)] == [481]
    finally:
        peer.close()
        user.stop()
        await dispatcher.close()
        location.close()


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.10
##= type=test
##% If a matching response context is found, the element MUST
##% immediately return a 200 (OK) response to the CANCEL request.
def test_proxy_answers_a_cancel_after_its_own_final_response_200() -> None:
    proxy = memory_proxy()
    request = invite(BOB)
    assert statuses(proxy.receive_request(request, "src", 0.0)) == [100, 480]
    sends = proxy.receive_request(build_cancel(request), "src", 0.1)
    # Not routed like a new request (no 480, nothing forwarded): the INVITE is known.
    assert statuses(sends) == [200]
    assert [s for s in sends if isinstance(s.message, Request)] == []


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##= type=test
##% If the UAS did not find a matching transaction for the CANCEL
##% according to the procedure above, it SHOULD respond to the CANCEL
##% with a 481 (Call Leg/Transaction Does Not Exist).
def test_proxy_answers_481_to_a_cancel_for_nothing_it_knows() -> None:
    # The INVITE never reached the core (a malformed one gets a stateless 400): its
    # CANCEL matches nothing and has no binding to go to -- not a 480 as for a request.
    proxy = memory_proxy()
    assert statuses(proxy.receive_request(build_cancel(invite(BOB)), "src", 0.0)) == [481]


# -- 10. --domain 127.0.0.1 ------------------------------------------------------------------


def test_a_uri_is_in_our_domain_only_on_our_port() -> None:
    config = ProxyConfig(host="127.0.0.1", port=5060, domains=frozenset({"127.0.0.1"}))
    proxy = Proxy(config, SqliteLocationService())
    # A UA on the same host but another port: forwarded to its Request-URI.
    sends = proxy.receive_request(invite("sip:bob@127.0.0.1:5070"), "src", 0.0)
    (forwarded,) = [s for s in sends if isinstance(s.message, Request)]
    assert forwarded.destination.port == 5070 and statuses(sends) == [100]
    # The domain itself (default port, or ours): the location service (no binding: 480).
    for uri in ("sip:bob@127.0.0.1", "sip:bob@127.0.0.1:5060"):
        assert statuses(proxy.receive_request(invite(uri), "src", 0.0)) == [100, 480]


async def started_ua(out: io.StringIO, task: asyncio.Task[Any]) -> int:
    for _ in range(300):
        text = out.getvalue()
        if "listening on" in text:
            return int(text.split("listening on", 1)[1].split(":", 1)[1].split()[0].rstrip(","))
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    raise AssertionError("the ua did not start")


def ua_args(*argv: str) -> Any:
    return common.parse_args(build_parser(), ["--listen", "sip:127.0.0.1:0", *argv])


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% If the domain of the Request-URI indicates a domain this element is
##% not responsible for, the Request-URI MUST be placed into the target
##% set as the only target, and the element MUST proceed to the task of
##% Request Forwarding (Section 16.6).
@async_test(timeout=20)
async def test_call_between_two_uas_through_a_proxy_for_127_0_0_1(wire: WireCapture) -> None:
    host, proxy, port = await proxy_on_loopback(frozenset({"127.0.0.1"}))
    assert proxy.config.record_route
    common.install_wire_log(host)
    out = io.StringIO()
    callee = asyncio.ensure_future(
        run_program(ua_args("--answer", "200", "--count", "1", "--timeout", "10"), out=out)
    )
    try:
        callee_port = await started_ua(out, callee)
        caller_out = io.StringIO()
        caller = await run_program(
            ua_args(
                "--call",
                f"sip:bob@127.0.0.1:{callee_port}",
                "--outbound-proxy",
                f"sip:127.0.0.1:{port}",
                "--duration",
                "0.05",
            ),
            out=caller_out,
        )
        outcome = await asyncio.wait_for(callee, 5)
        callee_port_text = f"127.0.0.1:{callee_port}"
        assert caller.status == EXIT_OK, caller_out.getvalue()
        assert caller.calls_established == caller.calls_ended == 1
        assert "hung up (BYE answered 200)" in caller_out.getvalue()
        assert outcome.calls_answered == outcome.calls_ended == 1
        # The caller sends only to the proxy (outbound proxy, then the Record-Route):
        # what reaches the callee's port was forwarded by the proxy, ACK and BYE too.
        to_callee = [line for line in wire.lines if line.startswith(f"-> UDP {callee_port_text} ")]
        for method in ("INVITE", "ACK", "BYE"):
            assert any(f" {method} sip:" in line for line in to_callee), (method, to_callee)
    finally:
        callee.cancel()
        await host.close()


# -- 12. one challenge for a REGISTER to the embedded registrar ------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.3
##= type=test
##% If an element requires credentials before forwarding a request,
##% the request MUST be inspected as described in Section 22.3.
def test_register_routed_to_the_embedded_registrar_gets_401_only() -> None:
    location = SqliteLocationService()
    registrar = Registrar(
        location,
        RegistrarConfig(domains=frozenset({"example.com"})),
        DigestAuthenticator(REALM, credentials()),
    )
    proxy = Proxy(
        ProxyConfig(host=PROXY, domains=frozenset({"example.com"})),
        location,
        registrar=registrar,
        authenticator=DigestAuthenticator(REALM, credentials(), proxy=True),
    )
    route = (("Route", f"<sip:{PROXY};lr>"),)
    assert statuses(proxy.receive_request(register(extra=route), "src", 0.0)) == [401]
    assert statuses(proxy.receive_request(register(), "src", 0.0)) == [401]
    # A REGISTER this proxy forwards (another domain) still needs Proxy-Authorization.
    other = register("sip:alice@example.net", extra=route)
    assert statuses(proxy.receive_request(other, "src", 0.0)) == [407]


# -- 13. the Digest algorithms offered -------------------------------------------------------


def test_digest_algorithms_default_to_rfc_8760_order() -> None:
    args = registrar_args("--auth-file", "/dev/null")
    registrar, location = make_registrar(args)
    location.close()
    assert registrar.authenticator is not None
    # MD5 is offered only when configured (issue 23, RFC 8760 §3).
    assert registrar.authenticator.algorithms == ("SHA-256",)


##= https://www.rfc-editor.org/rfc/rfc8760#section-2.3
##= type=test
##% The UAS MAY add multiple WWW-
##% Authenticate/Proxy-Authenticate header fields to allow the UAS to
##% utilize the best available algorithm supported by the client.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.3
##= type=test
##% The UAS
##% MUST add these header fields to the response in the order in which it
##% would prefer to see them used, starting with the most preferred
##% algorithm at the top.
def test_digest_algorithms_flag_sets_what_is_offered_and_in_which_order() -> None:
    args = registrar_args("--auth-file", "/dev/null", "--digest-algorithms", "MD5")
    registrar, location = make_registrar(args)
    assert registrar.authenticator is not None
    assert registrar.authenticator.algorithms == ("MD5",)
    challenge = registrar.handle(register(), 0.0)
    location.close()
    assert challenge.status == 401
    values = challenge.headers.get_all("WWW-Authenticate")
    assert len(values) == 1 and "algorithm=MD5" in values[0]
    proxy_args = common.parse_args(
        proxy_parser(),
        [
            "--listen", "sip:127.0.0.1:0", "--domain", "example.com", "--auth-file", "/dev/null",
            "--proxy-auth",
            "--digest-algorithms", "MD5,SHA-256",
        ],
    )  # fmt: skip
    authenticator = make_proxy_authenticator(proxy_args)
    assert authenticator is not None and authenticator.algorithms == ("MD5", "SHA-256")
    offered = authenticator.challenge(invite(BOB), 0.0).headers.get_all("Proxy-Authenticate")
    assert [v.split("algorithm=")[1].split(",")[0] for v in offered] == ["MD5", "SHA-256"]
    registrar, location = make_registrar(proxy_args)
    location.close()
    assert registrar.authenticator is not None
    assert registrar.authenticator.algorithms == ("MD5", "SHA-256")


@pytest.mark.parametrize("value", ["MD4", "", "MD5,MD5"])
def test_digest_algorithms_flag_refuses_what_cannot_be_offered(value: str) -> None:
    args = registrar_args("--auth-file", "/dev/null", "--digest-algorithms", value)
    with pytest.raises(common.ConfigError):
        make_registrar(args)
