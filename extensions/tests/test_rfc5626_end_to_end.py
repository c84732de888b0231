"""RFC 5626 end to end, both sides ours: ``ua --outbound`` through ``proxy --edge`` to
``registrar --outbound``, called through the home proxy (``proxy --outbound``).

The UA side (``extensions/rfc5626_ua.py``) and the server side (``extensions/rfc5626.py``)
meet only on the wire.  The UA registers a TCP flow through the edge (which adds its
Path with a flow token and ``;ob``), the registrar answers ``Require: outbound`` and a
Flow-Timer, the edge answers the UA's CRLF pings.  A call to the UA's AOR through the
home proxy comes over the flow.  The edge is then restarted on the same port: the UA's
flow fails, it registers again (same instance-id and reg-id, the binding replaced), and
the next call reaches it over the new flow.
"""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

from rfc3261.programs.ua import run_program
from rfc3261.tests.test_programs_servers import ServerProcess
from rfc3261.tests.test_programs_ua import ua_args
from rfc3261.tests.transport_support import async_test

INSTANCE = "urn:uuid:00000000-0000-1000-8000-000a95a0e128"


def servers(tmp_path: Path) -> tuple[ServerProcess, ServerProcess, Path]:
    db = str(tmp_path / "location.db")
    registrar = ServerProcess(
        "registrar", "--listen", "sip:127.0.0.1:0", "--domain", "example.com", "--db", db,
        "--outbound", "--flow-timer", "25", cwd=tmp_path,
    )  # fmt: skip
    try:
        home = ServerProcess(
            "proxy", "--listen", "sip:127.0.0.1:0", "--domain", "example.com", "--db", db,
            "--no-registrar", "--outbound", cwd=tmp_path,
        )  # fmt: skip
    except BaseException:
        registrar.stop()
        raise
    config = tmp_path / "edge.toml"
    config.write_text(
        f'[[route]]\ndomain = "example.com"\nnext-hop = "sip:127.0.0.1:{registrar.port}"\n'
    )
    return registrar, home, config


def edge(config: Path, tmp_path: Path, port: int = 0) -> ServerProcess:
    return ServerProcess(
        "proxy", "--listen", f"sip:127.0.0.1:{port}", "--config", str(config), "--edge",
        cwd=tmp_path,
    )  # fmt: skip


async def call_bob(home_port: int) -> list[int]:
    outcome = await run_program(
        ua_args(
            *("--call", "sip:bob@example.com"),
            *("--outbound-proxy", f"sip:127.0.0.1:{home_port}", "--timeout", "10"),
        ),
        out=io.StringIO(),
    )
    return outcome.finals


async def wait_text(out: io.StringIO, text: str, count: int, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if out.getvalue().count(text) >= count:
            return True
        await asyncio.sleep(0.01)
    return False


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4
##= type=test
##% If
##% a flow with a registration has failed, the UA follows the procedures
##% in Section 4.2 to form a new flow to replace the failed one.
@async_test(timeout=90)
async def test_our_ua_through_our_edge_and_registrar_is_reachable_again_after_a_restart(
    tmp_path: Path,
) -> None:
    registrar, home, config = servers(tmp_path)
    first_edge = edge(config, tmp_path)
    second_edge: ServerProcess | None = None
    out = io.StringIO()
    stop_program = asyncio.Event()
    bob = asyncio.ensure_future(
        run_program(
            ua_args(
                *("--register", "sip:bob@example.com", "--instance-id", INSTANCE),
                *("--outbound", f"sip:127.0.0.1:{first_edge.port};transport=tcp"),
                *("--answer", "486", "--timeout", "80", "--outbound-base-time", "0.5"),
            ),
            stop=stop_program,
            out=out,
        )
    )
    try:
        assert await wait_text(out, "registered sip:bob@example.com with outbound", 1, 15), (
            out.getvalue() + first_edge.log_text() + registrar.log_text()
        )
        assert await call_bob(home.port) == [486]
        killed = time.monotonic()
        await asyncio.to_thread(first_edge.stop)
        second_edge = await asyncio.to_thread(edge, config, tmp_path, first_edge.port)
        assert await wait_text(out, "active (registered with outbound)", 2, 30), out.getvalue()
        assert time.monotonic() - killed < 25
        assert "failed (connection closed)" in out.getvalue()
        assert await call_bob(home.port) == [486]
    finally:
        stop_program.set()
        await asyncio.wait_for(bob, 15)
        for server in (second_edge, first_edge, home, registrar):
            if server is not None and server.alive():
                await asyncio.to_thread(server.stop)
