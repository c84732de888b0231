"""``python -m rfc3261 ua`` (rfc3261.programs.ua): the command-line user agent.

Two programs run on one event loop over loopback: one answers (``--answer``),
the other calls, sends OPTIONS or registers with a small challenging registrar
written here.  The wire log (logger ``rfc3261.wire``) is captured to look at
what went out.  The interop tests against SIPp and Kamailio are in
test_interop_ua.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
import re
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rfc3261.asyncio.dispatcher import Dispatcher, TransactionUser
from rfc3261.message import Request, parse
from rfc3261.programs.common import WIRE_LOG, merge_listen, parse_args, parse_listen
from rfc3261.programs.ua import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    accepts_sdp,
    build_parser,
    check_arguments,
    main,
    run_program,
    sdp_answer,
    sdp_offer,
)

from .transport_support import async_test, has_ipv6_loopback, make_certificate

REPO = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"listening on \w+ \S+:(\d+)")


def ua_args(*argv: str) -> Any:
    """Parsed arguments of ``python -m rfc3261 ua`` (listening on a free port unless given)."""
    listen = [] if "--listen" in argv else ["--listen", "sip:127.0.0.1:0"]
    return parse_args(build_parser(), [*listen, "-v", *argv])


class WireCapture(logging.Handler):
    """Collects the wire log records (``-> TRANSPORT peer first-line``, whole message)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def sent(self, method: str) -> list[str]:
        """The messages sent whose first line starts with ``method``."""
        return [line for line in self.lines if line.startswith("-> ") and f" {method} " in line]


@pytest.fixture
def wire() -> Iterator[WireCapture]:
    handler = WireCapture()
    level, disabled = WIRE_LOG.level, WIRE_LOG.disabled
    WIRE_LOG.setLevel(logging.INFO)
    WIRE_LOG.disabled = False
    WIRE_LOG.addHandler(handler)
    try:
        yield handler
    finally:
        WIRE_LOG.removeHandler(handler)
        WIRE_LOG.setLevel(level)
        WIRE_LOG.disabled = disabled


async def started(out: io.StringIO, task: asyncio.Task[Any]) -> int:
    """The UDP port a program started as ``task`` listens on (from its first line)."""
    for _ in range(300):
        match = _LISTENING.search(out.getvalue())
        if match:
            return int(match.group(1))
        if task.done():
            task.result()
            raise AssertionError(f"the program ended before listening: {out.getvalue()}")
        await asyncio.sleep(0.01)
    raise AssertionError("the program did not start listening")


async def answering(*argv: str) -> tuple[asyncio.Task[Any], io.StringIO, int]:
    """Start an answering program; (task, its output, its port)."""
    out = io.StringIO()
    task = asyncio.ensure_future(run_program(ua_args(*argv), out=out))
    return task, out, await started(out, task)


# -- the command line ----------------------------------------------------------------------


def test_hosts_must_be_ip_literals_no_dns() -> None:
    with pytest.raises(UsageError, match=r"not an IP address.*no DNS"):
        check_arguments(ua_args("--call", "sip:bob@example.com"))
    with pytest.raises(UsageError, match=r"--registrar.*not an IP address"):
        check_arguments(ua_args("--register", "sip:a@example.com", "--registrar", "sip:pbx.test"))
    # Through an outbound proxy only the proxy (the first hop) must be an IP literal.
    plan = check_arguments(
        ua_args("--call", "sip:bob@example.com", "--outbound-proxy", "sip:127.0.0.1:5999")
    )
    assert plan.proxy is not None and plan.proxy.port == 5999
    assert plan.targets["call"].host == "example.com"
    # The registrar defaults to the AOR's host.
    plan = check_arguments(ua_args("--register", "sip:alice@127.0.0.1:5998"))
    assert plan.registrar is not None and str(plan.registrar) == "sip:127.0.0.1:5998"


def test_usage_errors() -> None:
    with pytest.raises(UsageError, match="nothing to do"):
        check_arguments(ua_args())
    with pytest.raises(UsageError, match="--answer 302"):
        check_arguments(ua_args("--answer", "302"))
    with pytest.raises(UsageError, match="--count"):
        check_arguments(ua_args("--call", "sip:127.0.0.1:5999", "--count", "0"))
    with pytest.raises(UsageError, match="not a SIP or SIPS URI"):
        check_arguments(ua_args("--options", "tel:+15551234"))
    for t1 in ("0", "5"):
        with pytest.raises(UsageError, match="--t1"):
            check_arguments(ua_args("--call", "sip:127.0.0.1:5999", "--t1", t1))


def test_main_exits_2_naming_the_missing_dns(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("rfc3261")
    handlers, propagate, level = list(logger.handlers), logger.propagate, logger.level
    try:
        status = main(["--listen", "sip:127.0.0.1:0", "-q", "--call", "sip:bob@example.com"])
    finally:
        logger.handlers[:], logger.propagate, logger.level = handlers, propagate, level
        WIRE_LOG.disabled = False
    assert status == 2
    assert "'example.com' is not an IP address" in capsys.readouterr().err


def test_session_descriptions_offer_and_decline_port_zero() -> None:
    offer = sdp_offer("127.0.0.1").decode()
    assert "c=IN IP4 127.0.0.1" in offer and "m=audio 0 RTP/AVP 0" in offer
    remote = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 8\r\n"
    answer = sdp_answer(remote, "::1").decode()
    assert "m=audio 0 RTP/AVP 0 8" in answer and "c=IN IP6 ::1" in answer
    assert "6000" not in answer


# -- calls between two programs ------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% The UAC core MUST generate an ACK request for each 2xx received from
##% the transaction layer.
##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.2
##= type=test
##% Whether or not it ends its participation on the session,
##% the UAS core MUST generate a 2xx response to the BYE, and MUST pass
##% that to the server transaction for transmission.
@async_test(timeout=15)
async def test_call_answer_and_hang_up(wire: WireCapture) -> None:
    callee, callee_out, port = await answering(
        "--answer", "200", "--count", "2", "--timeout", "10"
    )
    caller_out = io.StringIO()
    caller = await run_program(
        ua_args("--call", f"sip:bob@127.0.0.1:{port}", "--count", "2", "--duration", "0.05"),
        out=caller_out,
    )
    outcome = await asyncio.wait_for(callee, 5)
    assert caller.status == EXIT_OK, caller_out.getvalue()
    assert caller.calls_made == caller.calls_established == caller.calls_ended == 2
    assert outcome.status == EXIT_OK and outcome.calls_answered == outcome.calls_ended == 2
    assert callee_out.getvalue().count("ended (remote BYE)") == 2
    assert caller_out.getvalue().count("hung up (BYE answered 200)") == 2
    # One ACK per 2xx, one BYE per call, and the 200s to the BYEs.
    assert len(wire.sent("ACK")) == 2 and len(wire.sent("BYE")) == 2
    assert len([line for line in wire.lines if "-> " in line and "200 OK" in line]) >= 4


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.3
##= type=test
##% A 486 (Busy Here)
##% SHOULD be returned in such a scenario.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% The ACK MUST be sent to the same address,
##% port, and transport to which the original request was sent.
@async_test(timeout=15)
async def test_refusing_ua_and_the_callers_exit_status(wire: WireCapture) -> None:
    callee, _, port = await answering("--answer", "486", "--count", "1", "--timeout", "10")
    caller_out = io.StringIO()
    caller = await run_program(ua_args("--call", f"sip:bob@127.0.0.1:{port}"), out=caller_out)
    outcome = await asyncio.wait_for(callee, 5)
    # The exit status is the class of the final response; the status itself is printed.
    assert caller.status == 4 and caller.finals == [486]
    assert "failed: 486 Busy Here" in caller_out.getvalue()
    assert outcome.status == EXIT_OK and outcome.calls_refused == 1
    # The transaction layer acknowledged the 486 towards the callee's port.
    acks = wire.sent("ACK")
    assert len(acks) == 1 and acks[0].startswith(f"-> UDP 127.0.0.1:{port} ")


##= https://www.rfc-editor.org/rfc/rfc3261#section-11
##= type=test
##% All UAs MUST
##% support the OPTIONS method.
##= https://www.rfc-editor.org/rfc/rfc3261#section-11.2
##= type=test
##% Allow, Accept, Accept-Encoding, Accept-Language, and
##% Supported header fields SHOULD be present in a 200 (OK) response to
##% an OPTIONS request.
@async_test(timeout=15)
async def test_options_prints_the_response() -> None:
    callee, _, port = await answering("--answer", "200", "--timeout", "10")
    out = io.StringIO()
    outcome = await run_program(ua_args("--options", f"sip:127.0.0.1:{port}"), out=out)
    callee.cancel()
    with pytest.raises(asyncio.CancelledError):
        await callee
    text = out.getvalue()
    assert outcome.status == EXIT_OK and outcome.finals == [200]
    assert f"OPTIONS sip:127.0.0.1:{port}: 200 OK" in text
    assert re.search(r"^Allow: .*INVITE", text, re.M) and re.search(r"^Accept: ", text, re.M)


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.1
##= type=test
##% If a fatal transport error is reported by the transport layer
##% (generally, due to fatal ICMP errors in UDP or connection failures in
##% TCP), the condition MUST be treated as a 503 (Service Unavailable)
##% status code.
@async_test(timeout=15)
async def test_refused_tcp_connection_is_a_503() -> None:
    closed = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = closed.sockets[0].getsockname()[1]
    closed.close()
    await closed.wait_closed()
    out = io.StringIO()
    outcome = await run_program(
        ua_args("--call", f"sip:bob@127.0.0.1:{port};transport=tcp"), out=out
    )
    assert outcome.status == 5 and outcome.finals == [503], out.getvalue()


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% If this causes a change in the transport protocol from the
##% one indicated in the top Via, the value in the top Via MUST be
##% changed.
##= https://www.rfc-editor.org/rfc/rfc5658#section-6.1
##= type=test
##% UA implementations SHOULD then be ready to change the transport
##% protocol between initial and subsequent requests.
##= https://www.rfc-editor.org/rfc/rfc5658#section-7
##= type=test
##% Finally, UAs SHOULD be ready to switch transports between
##% the initial request and further in-dialog messages.
@async_test(timeout=15)
async def test_via_names_the_transport_each_request_goes_over(wire: WireCapture) -> None:
    # The INVITE goes over TCP; the callee's Contact (its remote target) is UDP,
    # so the ACK and the BYE go over UDP with a UDP Via.
    callee, _, port = await answering("--answer", "200", "--count", "1", "--timeout", "10")
    outcome = await run_program(
        ua_args("--call", f"sip:bob@127.0.0.1:{port};transport=tcp"), out=io.StringIO()
    )
    assert (await asyncio.wait_for(callee, 5)).status == EXIT_OK
    assert outcome.status == EXIT_OK
    (invite,) = wire.sent("INVITE")
    (ack,) = wire.sent("ACK")
    (bye,) = wire.sent("BYE")
    assert invite.startswith("-> TCP") and "\nVia: SIP/2.0/TCP " in invite
    for message in (ack, bye):
        assert message.startswith("-> UDP") and "\nVia: SIP/2.0/UDP " in message


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.8
##= type=test
##% If the Request-URI or top Route header field value contains a SIPS
##% URI, the Contact header field MUST contain a SIPS URI as well.
def test_call_over_tls_with_sips_uris(tmp_path: Path, wire: WireCapture) -> None:
    cert, key = make_certificate(tmp_path)
    host = "[::1]" if has_ipv6_loopback() else "127.0.0.1"
    tls = ["--listen", f"sips:{host}:0", "--cert", str(cert), "--key", str(key), "--ca", str(cert)]

    @async_test(timeout=15)
    async def call() -> None:
        callee, _, port = await answering(
            *tls, "--answer", "200", "--count", "1", "--timeout", "10"
        )
        out = io.StringIO()
        outcome = await run_program(
            ua_args(*tls, "--call", f"sips:bob@{host}:{port}", "--duration", "0.05"), out=out
        )
        assert outcome.status == EXIT_OK and outcome.calls_established == 1, out.getvalue()
        assert (await asyncio.wait_for(callee, 5)).calls_ended == 1

    call()
    (invite,) = wire.sent("INVITE")
    assert invite.startswith(f"-> TLS {host}:") and "\nVia: SIP/2.0/TLS " in invite
    assert re.search(r"^Contact: <sips:", invite, re.M)
    assert all(line.startswith("-> TLS") for line in wire.sent("BYE") + wire.sent("ACK"))


@async_test(timeout=15)
async def test_answering_ua_gives_up_at_its_timeout() -> None:
    out = io.StringIO()
    outcome = await run_program(
        ua_args("--answer", "200", "--count", "3", "--timeout", "0.2"), out=out
    )
    assert outcome.status == EXIT_FAILED
    assert "timed out after 0 of 3 calls" in out.getvalue()


# -- registration with a Digest challenge ----------------------------------------------------


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class ChallengingRegistrar(TransactionUser):
    """Answers REGISTER 401 without valid credentials (user alice, password pw), 200 with."""

    realm = "sipref.test"
    nonce = "b3a1c0ffee"

    def __init__(self) -> None:
        self.requests: list[Request] = []

    def on_request(self, request: Request, transaction: Any, source: Any) -> None:
        if transaction is None:
            return
        self.requests.append(request)
        authorization = request.headers.get("Authorization")
        if authorization is None or not self.valid(request, authorization):
            response = request.make_response(401, to_tag="r1")
            response.headers.add(
                "WWW-Authenticate",
                f'Digest realm="{self.realm}", nonce="{self.nonce}", qop="auth"',
            )
        else:
            response = request.make_response(200, to_tag="r1")
            expires = request.headers.get("Expires") or "3600"
            for value in request.headers.get_all("Contact"):
                response.headers.add("Contact", f"{value};expires={expires}")
        self.dispatcher.send_response(transaction, response)

    def valid(self, request: Request, authorization: str) -> bool:
        params = dict(re.findall(r'(\w+)="?([^",]*)"?', authorization))
        ha1 = _md5(f"alice:{self.realm}:pw")
        ha2 = _md5(f"REGISTER:{params['uri']}")
        expected = _md5(
            f"{ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:{params['qop']}:{ha2}"
        )
        return params.get("username") == "alice" and params.get("response") == expected


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
##= type=test
##% When a UAC resubmits a request with its credentials after receiving a
##% 401 (Unauthorized) or 407 (Proxy Authentication Required) response,
##% it MUST increment the CSeq header field value as it would normally
##% when sending an updated request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% A UA MUST increment the CSeq value by one for each
##% REGISTER request with the same Call-ID.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.2
##= type=test
##% A UA requests the immediate removal of a binding by
##% specifying an expiration interval of "0" for that contact address in
##% a REGISTER request.
@async_test(timeout=15)
async def test_register_answers_the_challenge_and_unregisters_on_exit() -> None:
    registrar = ChallengingRegistrar()
    dispatcher = Dispatcher(registrar)
    try:
        (point, *_) = await dispatcher.listen("sip:127.0.0.1:0")
        port = point.address.port
        out = io.StringIO()
        outcome = await run_program(
            ua_args(
                "--register",
                f"sip:alice@127.0.0.1:{port}",
                "--password",
                "pw",
                "--expires",
                "120",
            ),
            out=out,
        )
        assert outcome.status == EXIT_OK and outcome.registered, out.getvalue()
        assert f"registered sip:alice@127.0.0.1:{port}" in out.getvalue()
        assert "for 120 s (200 OK)" in out.getvalue()
        first, second, *rest = registrar.requests
        assert "Authorization" not in first.headers and "Authorization" in second.headers
        assert {r.call_id for r in registrar.requests} == {first.call_id}
        numbers = [r.cseq.number for r in registrar.requests]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        # On exit the binding is removed (expires 0), with credentials again.
        assert rest and rest[-1].headers.get("Expires") == "0"
        assert "unregistered" in out.getvalue()

        # A wrong password: the registrar's 401 is final; the exit status is its class.
        registrar.requests.clear()
        out = io.StringIO()
        outcome = await run_program(
            ua_args("--register", f"sip:alice@127.0.0.1:{port}", "--password", "wrong"),
            out=out,
        )
        assert outcome.status == 4 and outcome.finals == [401]
        assert "401 Unauthorized" in out.getvalue()
    finally:
        await dispatcher.close()


# -- the process -----------------------------------------------------------------------------


def test_process_answers_until_sigterm(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "rfc3261", "ua", "--listen", "sip:127.0.0.1:0", "--answer", "200",
        "--log-file", str(tmp_path / "wire.log"),
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 10)
        assert ready, "no output within 10 s"
        assert process.stdout.readline().startswith("listening on UDP 127.0.0.1:")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.1
##= type=test
##% If the UAS is not able to answer the invitation immediately, it can
##% choose to indicate some kind of progress to the UAC (for example, an
##% indication that a phone is ringing).
@async_test(timeout=15)
async def test_ring_user_rings_and_is_never_answered(wire: WireCapture) -> None:
    callee, callee_out, port = await answering(
        "--answer", "200", "--ring-user", "carol", "--timeout", "2"
    )
    caller_out = io.StringIO()
    caller = await run_program(
        ua_args("--call", f"sip:carol@127.0.0.1:{port}", "--timeout", "1"), out=caller_out
    )
    outcome = await asyncio.wait_for(callee, 5)
    assert caller.calls_established == 0 and outcome.calls_answered == 0
    assert "ringing, not answering" in callee_out.getvalue()
    sent = [line for line in wire.lines if line.startswith("-> ")]
    assert [line for line in sent if "180 Ringing" in line]
    # the caller gave up with CANCEL: the INVITE ends 487, never 200
    assert [line for line in sent if "487 Request Terminated" in line]
    assert not [line for line in sent if "200 OK" in line and " INVITE\r\n" in line]


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.1
##= type=test
##% The semantics are also identical, with the exception that if no Accept
##% header field is present, the server SHOULD assume a default value of
##% application/sdp.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.1
##= type=test
##% An empty Accept header field means that no formats are acceptable.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.7
##= type=test
##% The resource identified by the request is only capable of generating
##% response entities that have content characteristics not acceptable
##% according to the Accept header field sent in the request.
def test_accept_decides_whether_an_sdp_answer_may_be_sent() -> None:
    def invite(*accept: str) -> Request:
        lines = [
            "INVITE sip:bob@127.0.0.1 SIP/2.0",
            "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKaccept1",
            "Max-Forwards: 70",
            "To: <sip:bob@127.0.0.1>",
            "From: <sip:alice@127.0.0.1>;tag=1",
            "Call-ID: accept-1",
            "CSeq: 1 INVITE",
            *(f"Accept: {a}" for a in accept),
            "Content-Length: 0",
        ]
        request = parse(("\r\n".join(lines) + "\r\n\r\n").encode())
        assert isinstance(request, Request)
        return request

    assert accepts_sdp(invite())
    assert accepts_sdp(invite("text/plain, application/SDP"))
    assert accepts_sdp(invite("application/*")) and accepts_sdp(invite("*/*"))
    assert not accepts_sdp(invite("text/nobodyKnowsThis"))
    assert not accepts_sdp(invite(""))


# -- a CANCEL read together with its INVITE (issue 13, defect 7) -----------------------------


def _raw_invite_and_cancel(port: int, local: int) -> tuple[bytes, bytes]:
    def message(method: str) -> bytes:
        lines = [
            f"{method} sip:bob@127.0.0.1:{port} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bKrace{port}",
            "Max-Forwards: 70",
            f"To: <sip:bob@127.0.0.1:{port}>",
            "From: <sip:alice@127.0.0.1>;tag=race",
            f"Call-ID: race-{port}@127.0.0.1",
            f"CSeq: 1 {method}",
            *([f"Contact: <sip:alice@127.0.0.1:{local}>"] if method == "INVITE" else []),
            "Content-Length: 0",
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    return message("INVITE"), message("CANCEL")


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##= type=test
##% If it has, the CANCEL
##% request has no effect on the processing of the original request, no
##% effect on any session state, and no effect on the responses generated
##% for the original request.
@async_test(timeout=15)
async def test_the_program_sees_the_call_before_a_cancel_read_with_it() -> None:
    # The INVITE and its CANCEL arrive together (one read of the socket): the program
    # decides on the call (ring, then 486) before the core handles the CANCEL.
    callee, callee_out, port = await answering(
        "--answer", "486", "--ring", "--count", "1", "--timeout", "5"
    )
    loop = asyncio.get_running_loop()
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.setblocking(False)
    try:
        invite, cancel = _raw_invite_and_cancel(port, peer.getsockname()[1])
        peer.sendto(invite, ("127.0.0.1", port))
        peer.sendto(cancel, ("127.0.0.1", port))
        answers: list[str] = []
        end = loop.time() + 2.0
        while loop.time() < end:
            try:
                data = await asyncio.wait_for(loop.sock_recv(peer, 65535), end - loop.time())
            except TimeoutError:
                break
            head = data.split(b"\r\n\r\n")[0].decode()
            status = head.split("\r\n")[0].split(" ", 2)[1]
            method = re.search(r"CSeq: 1 (\w+)", head)
            answers.append(f"{status} {method.group(1) if method else '?'}")
            if status == "486":
                ack = invite.replace(b"INVITE sip", b"ACK sip").replace(b"1 INVITE", b"1 ACK")
                peer.sendto(ack, ("127.0.0.1", port))
        outcome = await asyncio.wait_for(callee, 6)
    finally:
        peer.close()
    invite_answers = [a.split()[0] for a in answers if a.endswith("INVITE")]
    assert invite_answers == ["100", "180", "486"], answers
    assert "200 CANCEL" in answers and "487 INVITE" not in answers
    assert outcome.calls_refused == 1 and outcome.status == EXIT_OK, callee_out.getvalue()


# -- registering a name-domain AOR, as the README shows (issue 13, defect 11) ---------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% Request-URI: The Request-URI names the domain of the location
##% service for which the registration is meant (for example,
##% "sip:chicago.com").
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.6
##= type=test
##% A UA can be configured, in ways beyond the scope of this
##% specification, with a registrar address.
def test_register_a_name_domain_aor_at_our_registrar_and_through_our_proxy(
    tmp_path: Path, wire: WireCapture
) -> None:
    from .test_programs_servers import ServerProcess

    listen = ("--listen", "sip:127.0.0.1:0", "--domain", "example.com")
    registrar = ServerProcess("registrar", *listen, "--db", str(tmp_path / "r.db"), cwd=tmp_path)
    try:
        proxy = ServerProcess("proxy", *listen, "--db", str(tmp_path / "p.db"), cwd=tmp_path)
    except BaseException:
        registrar.stop()
        raise
    outs = [io.StringIO(), io.StringIO()]

    async def register_both() -> list[Any]:
        at_registrar = await run_program(
            ua_args(
                "--register", "sip:bob@example.com",
                "--registrar", f"sip:127.0.0.1:{registrar.port}",
            ),
            out=outs[0],
        )  # fmt: skip
        via_proxy = await run_program(
            ua_args(
                "--register", "sip:carol@example.com",
                "--outbound-proxy", f"sip:127.0.0.1:{proxy.port}",
            ),
            out=outs[1],
        )  # fmt: skip
        return [at_registrar, via_proxy]

    try:
        outcomes = asyncio.run(asyncio.wait_for(register_both(), 20))
    finally:
        logs = registrar.log_text() + proxy.log_text()
        registrar.stop()
        proxy.stop()
    for outcome, out in zip(outcomes, outs, strict=True):
        assert outcome.status == EXIT_OK and outcome.registered, out.getvalue() + logs
        assert outcome.finals == [200]
    # Both REGISTERs named the AOR's domain, never the server's address (§10.2).
    registers = [line for line in wire.sent("REGISTER") if "SIP/2.0" in line]
    assert registers and all(" REGISTER sip:example.com SIP/2.0" in r for r in registers)
    # Through the proxy only the proxy's address was configured: no usage error.
    assert "registered sip:carol@example.com" in outs[1].getvalue()


# -- --listen sip:H:P beside sip:H:P;transport=tcp (issue 13, defect 14) --------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
##= type=test
##% For any port and interface
##% that a server listens on for UDP, it MUST listen on that same port
##% and interface for TCP.
@async_test(timeout=15)
async def test_listen_plain_and_tcp_uri_on_one_port_is_accepted() -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    args = ua_args(
        "--listen", f"sip:127.0.0.1:{port}",
        "--listen", f"sip:127.0.0.1:{port};transport=tcp",
        "--listen", f"sip:127.0.0.1:{port}",
        "--answer", "200", "--timeout", "0.2",
    )  # fmt: skip
    # The URIs the plain one already opens are dropped; a different port is kept.
    assert [str(u) for u in args.listen_uris] == [f"sip:127.0.0.1:{port}"]
    assert len(merge_listen([parse_listen("sip:127.0.0.1:5070;transport=tcp"),
                             parse_listen("sip:127.0.0.1:5071")])) == 2  # fmt: skip
    out = io.StringIO()
    outcome = await run_program(args, out=out)
    assert outcome.status == EXIT_OK, out.getvalue()
    assert f"UDP 127.0.0.1:{port}, TCP 127.0.0.1:{port}" in out.getvalue()
