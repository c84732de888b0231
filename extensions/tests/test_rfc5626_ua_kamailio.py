"""RFC 5626 outbound against Kamailio: our UA registers through a Kamailio edge proxy.

Two Kamailio processes on loopback (``kamailio/outbound_ua_edge.cfg``: ``path`` +
``outbound`` + ``stun``; ``kamailio/outbound_ua_registrar.cfg``: ``registrar`` with
``outbound_mode`` and ``use_path``, usrloc in memory).  Our ``ua --outbound`` registers
over TCP through the edge, gets ``Require: outbound`` from Kamailio's registrar, keeps
the flow with CRLF pings that Kamailio answers, and is called through the flow.  The
edge is then restarted (the flow dies with it): the UA registers again through the new
edge and is called again.  A second test keeps a UDP flow with STUN Binding requests
that Kamailio's ``stun`` module answers.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import time
from pathlib import Path

import pytest

from extensions.tests.outbound_peer import OutboundClient
from rfc3261.asyncio.loopback import free_port
from rfc3261.programs.ua import run_program
from rfc3261.tests.test_interop_ua import stop, wait_bound
from rfc3261.tests.test_programs_ua import ua_args
from rfc3261.tests.transport_support import async_test, require_external

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent / "kamailio"
MEMORY = ("-m", "64", "-M", "8")
INSTANCE = "urn:uuid:00000000-0000-1000-8000-000a95a0e128"


class Kamailio:
    """One Kamailio with an outbound config, ports substituted, stopped by its PID."""

    def __init__(self, config: str, workdir: Path, edge: int, registrar: int) -> None:
        self.binary = require_external("kamailio", "kamailio")
        self.workdir = workdir
        text = (HERE / config).read_text()
        text = text.replace('"!SIPREF_EDGE_PORT!5092!"', f'"!SIPREF_EDGE_PORT!{edge}!"')
        text = text.replace(
            '"!SIPREF_REGISTRAR_PORT!5093!"', f'"!SIPREF_REGISTRAR_PORT!{registrar}!"'
        )
        self.config = workdir / config
        self.config.write_text(text)
        self.port = edge if "edge" in config else registrar
        self.process: subprocess.Popen[str] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        rundir = self.workdir / f"run-{self.config.stem}-{self.starts}"
        rundir.mkdir()
        self.log = (self.workdir / f"{self.config.stem}-{self.starts}.log").open("w")
        self.process = subprocess.Popen(
            [self.binary, "-f", str(self.config), "-DD", "-E", "-Y", str(rundir), *MEMORY],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_bound(self.port, "udp")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.log.close()
            self.process = None


@pytest.fixture
def kamailio(tmp_path: Path):  # type: ignore[no-untyped-def]
    if not (Path("/usr/lib/x86_64-linux-gnu/kamailio/modules/outbound.so").exists()):
        require_external("kamailio-outbound", "kamailio-outbound-modules")
    edge_port, registrar_port = free_port(), free_port()
    registrar = Kamailio("outbound_ua_registrar.cfg", tmp_path, edge_port, registrar_port)
    edge = Kamailio("outbound_ua_edge.cfg", tmp_path, edge_port, registrar_port)
    registrar.start()
    edge.start()
    try:
        yield edge, registrar
    finally:
        edge.stop()
        registrar.stop()


async def call_alice(registrar_port: int) -> list[int]:
    """Call alice through Kamailio's registrar (it routes by the Path: the edge, the flow)."""
    out = io.StringIO()
    outcome = await run_program(
        ua_args(
            *("--call", "sip:alice@127.0.0.1"),
            *("--outbound-proxy", f"sip:127.0.0.1:{registrar_port}", "--timeout", "10"),
        ),
        out=out,
    )
    return outcome.finals


async def wait_text(out: io.StringIO, text: str, count: int, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if out.getvalue().count(text) >= count:
            return True
        await asyncio.sleep(0.01)
    return False


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% If outbound registration succeeded, as indicated by the presence of
##% the outbound option-tag in the Require header field of a successful
##% registration response, the UA begins sending keep-alives as described
##% in Section 4.4.
@async_test(timeout=60)
async def test_our_ua_registers_through_a_kamailio_edge_and_recovers_its_flow(
    kamailio,  # type: ignore[no-untyped-def]
) -> None:
    edge, registrar = kamailio
    out = io.StringIO()
    stop_program = asyncio.Event()
    callee = asyncio.ensure_future(
        run_program(
            ua_args(
                *("--register", "sip:alice@127.0.0.1", "--instance-id", INSTANCE),
                *("--outbound", f"sip:127.0.0.1:{edge.port};transport=tcp"),
                *("--answer", "486", "--timeout", "50", "--outbound-base-time", "0.5"),
                # T1 0.1: a REGISTER the restarting edge loses (a connection accepted while
                # it starts) times out in 6.4 s (Timer F), the flow fails and is formed again
                *("--t1", "0.1"),
            ),
            stop=stop_program,
            out=out,
        )
    )
    try:
        assert await wait_text(out, "registered sip:alice@127.0.0.1 with outbound", 1, 10), (
            out.getvalue()
        )
        assert "active (registered with outbound)" in out.getvalue()
        # Called through Kamailio's location service, its Path and the edge's flow token.
        assert await call_alice(registrar.port) == [486]
        # The edge restarts: its side of the flow is gone.
        killed = time.monotonic()
        await asyncio.to_thread(edge.stop)
        await asyncio.to_thread(edge.start)
        assert await wait_text(out, "active (registered with outbound)", 2, 20), out.getvalue()
        recovered = time.monotonic() - killed
        text = out.getvalue()
        assert "failed (connection closed)" in text
        print(f"flow re-registered {recovered:.3f} s after the edge was stopped")
        assert recovered < 15.0
        assert await call_alice(registrar.port) == [486]
    finally:
        stop_program.set()
        await asyncio.wait_for(callee, 15)


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.2
##= type=test
##% Clients
##% MUST support STUN-based keep-alives.
@async_test(timeout=30)
async def test_kamailio_answers_our_stun_keepalives_on_a_udp_flow(
    kamailio,  # type: ignore[no-untyped-def]
) -> None:
    edge, _ = kamailio
    client = await OutboundClient(
        [f"sip:127.0.0.1:{edge.port}"], transport="UDP", stun_lower=0.2, stun_upper=0.3
    ).start()
    try:
        flow = client.outbound.flows[0]
        assert await client.until(lambda: flow.state == "active", 10.0), client.states()
        assert await client.until(
            lambda: flow.keepalive is not None and flow.keepalive.answers >= 3, 10.0
        )
        ua_port = client.host.local_point("UDP").address.port
        assert flow.keepalive.mapped == ("127.0.0.1", ua_port)
        assert "failed" not in client.states()
    finally:
        await client.close()
