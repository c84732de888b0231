"""RFC 3327 Path end to end with the programs, on loopback.

Bob's UA (``ua --extension path``) registers through an edge proxy (``proxy --path``)
at a registrar (``registrar``); a home proxy (``proxy --no-registrar``) shares the
registrar's location database.  Alice calls Bob through the home proxy: the INVITE
must reach Bob from the edge, following the Path stored with his binding.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

from rfc3261.location import SqliteLocationService
from rfc3261.programs.ua import EXIT_OK, run_program
from rfc3261.tests.test_programs_servers import ServerProcess
from rfc3261.tests.test_programs_ua import WireCapture, answering, ua_args, wire  # noqa: F401


def start_servers(tmp_path: Path, *edge_flags: str) -> tuple[ServerProcess, ...]:
    """Registrar, home proxy and edge proxy (in that order), all on loopback UDP."""
    db = str(tmp_path / "location.db")
    started: list[ServerProcess] = []
    try:
        registrar = ServerProcess(
            "registrar", "--listen", "sip:127.0.0.1:0", "--domain", "example.com", "--db", db,
            cwd=tmp_path,
        )  # fmt: skip
        started.append(registrar)
        home = ServerProcess(
            "proxy", "--listen", "sip:127.0.0.1:0", "--domain", "example.com", "--db", db,
            "--no-registrar", cwd=tmp_path,
        )  # fmt: skip
        started.append(home)
        config = tmp_path / "edge.toml"
        config.write_text(
            f'[[route]]\ndomain = "example.com"\nnext-hop = "sip:127.0.0.1:{registrar.port}"\n'
        )
        edge = ServerProcess(
            "proxy", "--listen", "sip:127.0.0.1:0", "--config", str(config), *edge_flags,
            cwd=tmp_path,
        )  # fmt: skip
        started.append(edge)
    except BaseException:
        for server in started:
            server.stop()
        raise
    return registrar, home, edge


async def until(predicate: Any, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out waiting")


##= https://www.rfc-editor.org/rfc/rfc3327#section-5.2
##= type=test
##% When a proxy processing a REGISTER request wishes to be on the path
##% for future requests toward the UA originating that REGISTER request,
##% the proxy inserts a URI for that proxy as the topmost value in the
##% Path header field (or inserts a new topmost Path header) before
##% proxying that request.
##= https://www.rfc-editor.org/rfc/rfc3327#section-5.3
##= type=test
##% If a Path header field exists in a successful REGISTER request, the
##% registrar constructs an ordered list of route elements (a path
##% vector) from the nodes listed in the Path header field values,
##% preserving the order as indicated in the Path header field values.
##% The registrar then stores this path vector in association with that
##% contact and the address-of-record indicated in the REGISTER request
##% (the "binding" as defined in [1]).
def test_register_through_the_edge_then_a_call_through_the_home_proxy_reaches_bob_via_the_edge(
    tmp_path: Path,
    wire: WireCapture,  # noqa: F811 - the fixture imported above
) -> None:
    registrar, home, edge = start_servers(tmp_path, "--path")
    bob_out, alice_out = io.StringIO(), io.StringIO()

    async def scenario() -> tuple[Any, Any, int, Any]:
        bob, bob_out_, bob_port = await answering(
            "--register", "sip:bob@example.com", "--outbound-proxy",
            f"sip:127.0.0.1:{edge.port}", "--extension", "path", "--answer", "200",
            "--count", "1", "--timeout", "15",
        )  # fmt: skip
        nonlocal bob_out
        bob_out = bob_out_
        await until(lambda: "registered sip:bob@example.com" in bob_out.getvalue())
        location = SqliteLocationService(str(tmp_path / "location.db"))
        [binding] = location.lookup("sip:bob@example.com", 0.0)
        location.close()
        alice = await run_program(
            ua_args(
                "--call", "sip:bob@example.com", "--outbound-proxy",
                f"sip:127.0.0.1:{home.port}", "--duration", "0.2",
            ),
            out=alice_out,
        )  # fmt: skip
        return alice, await asyncio.wait_for(bob, 15), bob_port, binding

    try:
        alice, bob, bob_port, binding = asyncio.run(asyncio.wait_for(scenario(), 30))
    finally:
        logs = registrar.log_text() + home.log_text() + edge.log_text()
        for server in (edge, home, registrar):
            server.stop()
    assert alice.status == EXIT_OK, alice_out.getvalue() + logs
    assert bob.status == EXIT_OK and bob.calls_answered == 1, bob_out.getvalue() + logs
    assert binding.path == (f"<sip:127.0.0.1:{edge.port};lr>",)
    assert binding.contact.endswith(f"127.0.0.1:{bob_port}")
    # Bob's REGISTER said Supported: path and its 200 came back with the edge's Path.
    # The INVITE reached Bob from the edge, not from the home proxy.
    invites = [line for line in wire.lines if line.startswith("<- ") and " INVITE " in line]
    assert invites and all(f"127.0.0.1:{edge.port} INVITE" in line for line in invites), "\n".join(
        wire.lines
    )
