"""Test helpers for the transport and dispatcher tests: async runner, certificates, a TU.

Everything runs on loopback.  Certificates for TLS are made at test time with the
``openssl`` command (Debian package ``openssl``); without it the TLS tests skip,
unless SIPREF_REQUIRE_EXTERNAL=1, which turns the skip into a failure.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest

from rfc3261.asyncio.dispatcher import TransactionUser
from rfc3261.message import Request, Response, parse
from rfc3261.timers import TimerValues

# Small timers so that retransmission and timeout tests take a fraction of a second.
FAST_TIMERS = TimerValues(T1=0.02, T2=0.08, T4=0.1, timer_d_floor=0.2)


def missing_external(reason: str) -> NoReturn:
    """Skip for ``reason`` (an outside stack or text is missing); under
    SIPREF_REQUIRE_EXTERNAL=1, as CI sets it, fail instead."""
    if os.environ.get("SIPREF_REQUIRE_EXTERNAL") == "1":
        pytest.fail(reason + " and SIPREF_REQUIRE_EXTERNAL=1")
    pytest.skip(reason)


def require_external(tool: str, package: str) -> str:
    """The path of ``tool``; skip (or fail under SIPREF_REQUIRE_EXTERNAL=1) when missing."""
    path = shutil.which(tool)
    if path is None:
        missing_external(f"{tool} not found (Debian package {package})")
    return path


def async_test(timeout: float = 10.0) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
    """Run an async test function on a fresh event loop, failing after ``timeout`` seconds."""

    def decorate(function: Callable[..., Awaitable[Any]]) -> Any:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            async def bounded() -> Any:
                return await asyncio.wait_for(function(*args, **kwargs), timeout)

            return asyncio.run(bounded())

        return wrapper

    return decorate


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, ::1 and localhost: (certfile, keyfile)."""
    openssl = require_external("openssl", "openssl")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-addext",
            "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def ssl_contexts(cert: Path, key: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting that certificate only)."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(cert)
    return server, client


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


class RecordingTU(TransactionUser):
    """A TU that records every event in a queue; answers requests via ``answer`` if set."""

    def __init__(self, answer: Callable[[Request], int | None] | None = None) -> None:
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.answer = answer
        self.requests: list[tuple[Request, Any, Any]] = []

    def on_request(self, request, transaction, source) -> None:  # type: ignore[no-untyped-def]
        self.requests.append((request, transaction, source))
        self.events.put_nowait(("request", (request, transaction, source)))
        if transaction is not None and request.method != "ACK" and self.answer is not None:
            status = self.answer(request)
            if status is not None:
                self.dispatcher.send_response(transaction, request.make_response(status))

    def on_response(self, response, transaction) -> None:  # type: ignore[no-untyped-def]
        self.events.put_nowait(("response", (response, transaction)))

    def on_timeout(self, transaction, timer) -> None:  # type: ignore[no-untyped-def]
        self.events.put_nowait(("timeout", (transaction, timer)))

    def on_transport_failure(self, transaction) -> None:  # type: ignore[no-untyped-def]
        self.events.put_nowait(("transport_failure", transaction))

    def on_retry(self, old, new) -> None:  # type: ignore[no-untyped-def]
        self.events.put_nowait(("retry", (old, new)))

    async def next(self, kind: str, timeout: float = 3.0) -> Any:
        """The next event of ``kind`` (others before it are dropped)."""

        async def find() -> Any:
            while True:
                name, value = await self.events.get()
                if name == kind:
                    return value

        return await asyncio.wait_for(find(), timeout)


def build_request(
    method: str,
    uri: str = "sip:bob@127.0.0.1",
    *,
    call_id: str = "call-1@127.0.0.1",
    cseq: int = 1,
    body: bytes = b"",
    extra: tuple[tuple[str, str], ...] = (),
) -> Request:
    """A request without Via: the dispatcher adds it (§18.1.1)."""
    request = Request(
        method,
        uri,
        [
            ("Max-Forwards", "70"),
            ("To", "<sip:bob@127.0.0.1>"),
            ("From", "<sip:alice@127.0.0.1>;tag=a1"),
            ("Call-ID", call_id),
            ("CSeq", f"{cseq} {method}"),
            *extra,
            ("Content-Length", str(len(body))),
        ],
        body,
    )
    return request


def raw_request(
    method: str,
    via: str,
    *,
    branch: str = "z9hG4bK-raw-1",
    call_id: str = "raw-1@127.0.0.1",
    to_tag: str | None = None,
    cseq: int = 1,
) -> bytes:
    """The bytes of a request with the given Via sent-by part (e.g. "UDP 127.0.0.1:5999")."""
    to = "<sip:bob@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    return (
        f"{method} sip:bob@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/{via};branch={branch}\r\n"
        "Max-Forwards: 70\r\n"
        f"To: {to}\r\n"
        "From: <sip:alice@127.0.0.1>;tag=a1\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} {method}\r\n"
        "Content-Length: 0\r\n"
        "\r\n"
    ).encode()


class UdpPeer:
    """A raw UDP socket on loopback, read with a timeout (an independent peer)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def send(self, data: bytes, port: int, host: str = "127.0.0.1") -> None:
        self.sock.sendto(data, (host, port))

    async def receive(self, timeout: float = 2.0) -> bytes:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.sock_recv(self.sock, 65536), timeout)

    async def receive_message(self, timeout: float = 2.0) -> Request | Response:
        return parse(await self.receive(timeout))

    def close(self) -> None:
        self.sock.close()


# SIPp's end-of-run statistics screen: "Successful call  |  ...  |  300" rows.
_SIPP_STAT = re.compile(r"^\s*(Successful call|Failed call)\s*\|[^|]*\|\s*(\d+)", re.M)


def sipp_stats(output: str) -> dict[str, int]:
    """The cumulative Successful call / Failed call counts from SIPp's final screen."""
    return {name: int(value) for name, value in _SIPP_STAT.findall(output)}


def stop_process(process: subprocess.Popen, timeout: float = 10) -> int:  # type: ignore[type-arg]
    """SIGTERM, then wait (SIGKILL after ``timeout`` s); the exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
