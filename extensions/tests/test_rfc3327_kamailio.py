"""RFC 3327 interop: Kamailio (path module) as the edge proxy in front of our registrar.

Our UA (``ua --extension path``: a plain REGISTER with ``Supported: path``) registers
through Kamailio, which adds its Path; our proxy with its embedded registrar stores
it.  A call from a second UA to the AOR through our proxy must then reach Bob from
Kamailio.  Loopback only, no DNS (Kamailio with ``dns=no``).
"""

from __future__ import annotations

import asyncio
import io
import subprocess
from pathlib import Path
from typing import Any

import pytest

from rfc3261.asyncio.loopback import free_port
from rfc3261.location import SqliteLocationService
from rfc3261.programs.ua import EXIT_OK, run_program
from rfc3261.tests.test_interop_servers import stop
from rfc3261.tests.test_programs_servers import ServerProcess
from rfc3261.tests.test_programs_ua import WireCapture, answering, ua_args, wire  # noqa: F401
from rfc3261.tests.transport_support import require_external

from .test_rfc3327_programs import until

pytestmark = pytest.mark.interop

CONFIG = Path(__file__).resolve().parent / "kamailio" / "path_edge.cfg"


def start_kamailio(tmp_path: Path, registrar_port: int) -> tuple[subprocess.Popen[str], int]:
    kamailio = require_external("kamailio", "kamailio")
    port = free_port()
    config = tmp_path / "path_edge.cfg"
    config.write_text(
        CONFIG.read_text()
        .replace("@PORT@", str(port))
        .replace("@REGISTRAR@", f"sip:127.0.0.1:{registrar_port}")
    )
    rundir = tmp_path / "kamailio-run"
    rundir.mkdir()
    process = subprocess.Popen(
        [kamailio, "-f", str(config), "-DD", "-E", "-Y", str(rundir), "-m", "64"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, port


##= https://www.rfc-editor.org/rfc/rfc3327#section-5.3
##= type=test
##% The registrar copies the Path
##% header field values into a Path header field in the successful (200
##% class) REGISTER response.
def test_kamailio_edge_adds_path_our_registrar_stores_it_and_a_call_goes_through_kamailio(
    tmp_path: Path,
    wire: WireCapture,  # noqa: F811 - the fixture imported above
) -> None:
    db = str(tmp_path / "location.db")
    home = ServerProcess(
        "proxy", "--listen", "sip:127.0.0.1:0", "--domain", "example.com", "--db", db, "-v",
        cwd=tmp_path,
    )  # fmt: skip
    try:
        process, kamailio_port = start_kamailio(tmp_path, home.port)
    except BaseException:
        home.stop()
        raise
    bob_out, alice_out = io.StringIO(), io.StringIO()

    async def scenario() -> tuple[Any, Any, Any]:
        nonlocal bob_out
        await asyncio.sleep(0.5)  # Kamailio binds its socket
        bob, bob_out, _ = await answering(
            "--register", "sip:bob@example.com", "--outbound-proxy",
            f"sip:127.0.0.1:{kamailio_port}", "--extension", "path", "--answer", "200",
            "--count", "1", "--timeout", "15",
        )  # fmt: skip
        await until(lambda: "registered sip:bob@example.com" in bob_out.getvalue())
        location = SqliteLocationService(db)
        [binding] = location.lookup("sip:bob@example.com", 0.0)
        location.close()
        alice = await run_program(
            ua_args(
                "--call", "sip:bob@example.com", "--outbound-proxy",
                f"sip:127.0.0.1:{home.port}", "--duration", "0.2",
            ),
            out=alice_out,
        )  # fmt: skip
        return alice, await asyncio.wait_for(bob, 15), binding

    try:
        alice, bob, binding = asyncio.run(asyncio.wait_for(scenario(), 30))
        assert process.poll() is None
    finally:
        kamailio_log = stop(process)
        logs = home.log_text()
        home.stop()
    context = bob_out.getvalue() + alice_out.getvalue() + logs + kamailio_log[-3000:]
    assert alice.status == EXIT_OK, context
    assert bob.status == EXIT_OK and bob.calls_answered == 1, context
    [path] = binding.path
    assert path.startswith(f"<sip:127.0.0.1:{kamailio_port};lr"), binding.path
    # The 200 OK Bob got carried Kamailio's Path, as our registrar copied it.
    ok = [line for line in wire.lines if line.startswith("<- ") and "SIP/2.0 200 OK" in line]
    assert any(f"Path: <sip:127.0.0.1:{kamailio_port};lr" in line for line in ok), context
    # The INVITE reached Bob from Kamailio, following the stored Path.
    invites = [line for line in wire.lines if line.startswith("<- ") and " INVITE " in line]
    assert invites and all(f"127.0.0.1:{kamailio_port} INVITE" in line for line in invites), (
        context
    )
