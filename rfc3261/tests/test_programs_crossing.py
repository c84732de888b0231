"""The proxy program on UDP and TLS between two ua programs: a call that crosses from TLS
to UDP is double-record-routed (RFC 5658 §5, §6.2) and its ACK and BYE come back through
both sides of the proxy (loopback only)."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from rfc3261.programs import common
from rfc3261.programs.ua import EXIT_OK, run_program

from .test_programs_servers import ServerProcess
from .test_programs_ua import WireCapture, answering, ua_args
from .transport_support import async_test, make_certificate


@pytest.fixture
def wire() -> Iterator[WireCapture]:
    """The wire log of the ua programs run in this process."""
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


##= https://www.rfc-editor.org/rfc/rfc5658#section-6.2
##= type=test
##% Thus, if the transport protocol changed between
##% its incoming and outgoing sides, the proxy SHOULD use the double
##% Record-Route technique and SHOULD add a transport parameter to each
##% of the Record-Route URIs it inserts.
##= https://www.rfc-editor.org/rfc/rfc5658#section-5
##= type=test
##% So, this
##% means, in Section 16.4, "Route Information Preprocessing" [RFC3261],
##% implementors can choose that a proxy MAY remove two Route headers
##% instead of one when using the double Record-Routing.
def test_call_from_tls_to_udp_through_the_proxy_program(tmp_path: Path, wire: WireCapture) -> None:
    cert, key = make_certificate(tmp_path)
    tls = ["--cert", str(cert), "--key", str(key), "--ca", str(cert)]
    proxy = ServerProcess(
        "proxy", "--listen", "sip:127.0.0.1:0", "--listen", "sips:127.0.0.1:0",
        "--domain", "example.com", "--db", str(tmp_path / "p.db"), *tls, cwd=tmp_path,
    )  # fmt: skip

    @async_test(timeout=20)
    async def call() -> None:
        callee, _, port = await answering("--answer", "200", "--count", "1", "--timeout", "10")
        out = io.StringIO()
        outcome = await run_program(
            ua_args(
                "--listen", "sips:127.0.0.1:0", *tls,
                "--outbound-proxy", f"sips:127.0.0.1:{proxy.ports['TLS']}",
                "--call", f"sip:bob@127.0.0.1:{port}", "--duration", "0.05",
            ),
            out=out,
        )  # fmt: skip
        assert outcome.status == EXIT_OK and outcome.calls_established == 1, out.getvalue()
        done = await asyncio.wait_for(callee, 5)
        assert done.calls_answered == done.calls_ended == 1

    try:
        call()
        udp, secure = proxy.ports["UDP"], proxy.ports["TLS"]
        # The callee got the INVITE over UDP with one Record-Route value per side.
        received = [
            line for line in wire.lines if line.startswith("<- UDP") and " INVITE " in line
        ]
        assert received, wire.lines
        (invite,) = received
        assert f"Record-Route: <sip:127.0.0.1:{udp};transport=udp;lr>" in invite
        assert f"<sips:127.0.0.1:{secure};transport=tcp;lr>" in invite
        # The caller's ACK and BYE go to our TLS side; the callee gets them over UDP with
        # both our Route values removed.
        for method in ("ACK", "BYE"):
            (sent,) = wire.sent(method)
            assert sent.startswith(f"-> TLS 127.0.0.1:{secure} "), sent
            (got,) = [
                line for line in wire.lines if line.startswith("<- UDP") and f" {method} " in line
            ]
            assert "\nRoute:" not in got, got
    finally:
        assert proxy.stop() == 0
