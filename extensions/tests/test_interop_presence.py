"""Presence against other stacks: Kamailio as presence server, PJSIP as a watcher.

- Kamailio (``presence`` + ``presence_xml`` on an SQLite file, ``kamailio/presence.cfg``):
  our ``ua --publish-presence`` publishes to it (RFC 3903) and our ``ua --subscribe``
  subscribes through it (RFC 6665, RFC 3856) and prints the PIDF state it NOTIFYs.
"""

from __future__ import annotations

import asyncio
import io
import sqlite3
import subprocess
from pathlib import Path

import pytest

from rfc3261.programs.ua import run_program
from rfc3261.tests.test_interop_servers import free_port, stop
from rfc3261.tests.test_programs_ua import ua_args
from rfc3261.tests.transport_support import require_external

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
SCHEMA = Path("/usr/share/kamailio/db_sqlite")


def start_kamailio(tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    kamailio = require_external("kamailio", "kamailio")
    if not (SCHEMA / "presence-create.sql").exists():
        require_external("kamailio-presence-schema", "kamailio-sqlite-modules")
    db = tmp_path / "presence.db"
    with sqlite3.connect(db) as connection:
        for name in ("standard-create.sql", "presence-create.sql"):
            connection.executescript((SCHEMA / name).read_text())
    port = free_port()
    config = tmp_path / "kamailio.cfg"
    text = (HERE / "kamailio" / "presence.cfg").read_text()
    config.write_text(text.replace("@PORT@", str(port)).replace("@DB@", str(db)))
    rundir = tmp_path / "kamailio-run"
    rundir.mkdir()
    process = subprocess.Popen(
        [kamailio, "-f", str(config), "-DD", "-E", "-Y", str(rundir), "-m", "64"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, port


def test_kamailio_presence_server_takes_our_publish_and_notifies_our_subscriber(
    tmp_path: Path,
) -> None:
    process, port = start_kamailio(tmp_path)
    presentity = f"sip:alice@127.0.0.1:{port}"
    outs = {name: io.StringIO() for name in ("alice", "bob")}

    async def scenario() -> list[object]:
        await asyncio.sleep(1.0)  # Kamailio binds its socket
        alice = asyncio.ensure_future(
            run_program(
                ua_args(
                    *("--aor", presentity, "--publish-presence", "open"),
                    *("--answer", "200", "--timeout", "4"),
                ),
                out=outs["alice"],
            )
        )
        await asyncio.sleep(1.5)  # the publication reaches Kamailio's database
        bob = await run_program(
            ua_args(
                *("--aor", f"sip:bob@127.0.0.1:{port}"),
                *("--subscribe", presentity, "--timeout", "8"),
            ),
            out=outs["bob"],
        )
        return [await alice, bob]

    try:
        outcomes = asyncio.run(asyncio.wait_for(scenario(), 30))
        assert process.poll() is None
    finally:
        log = stop(process)
    assert [o.status for o in outcomes] == [0, 0], (outs, log[-3000:])  # type: ignore[attr-defined]
    assert f"PUBLISH {presentity} (initial): 200 OK, SIP-ETag" in outs["alice"].getvalue()
    assert f"PUBLISH {presentity} (remove): 200" in outs["alice"].getvalue()
    assert f"NOTIFY presence {presentity}: active: open" in outs["bob"].getvalue(), (
        outs["bob"].getvalue(),
        log[-3000:],
    )


def test_pjsip_buddy_subscribes_to_our_compositor_and_publishes_to_it(tmp_path: Path) -> None:
    """PJSIP (pjsua2) as watcher of a presentity our compositor serves, then as publisher."""
    from extensions.tests.pjsua_support import PjsuaPeer, require_pjsua
    from rfc3261.programs.presence import start_compositor

    require_pjsua()
    outs = {name: io.StringIO() for name in ("alice", "watcher")}
    seen: dict[str, object] = {}

    async def scenario() -> list[object]:
        host, _, compositor = await start_compositor(
            "sip:127.0.0.1:0", frozenset({"127.0.0.1"}), str(tmp_path / "location.db")
        )
        port = host.listening_points[0].address.port
        presentity = f"sip:alice@127.0.0.1:{port}"
        peer = await asyncio.to_thread(
            PjsuaPeer, tmp_path / "pjsua.log", publish_via=f"sip:127.0.0.1:{port};lr"
        )
        try:
            alice = asyncio.ensure_future(
                run_program(
                    ua_args(
                        *("--aor", presentity, "--publish-presence", "open"),
                        *("--answer", "200", "--timeout", "6"),
                    ),
                    out=outs["alice"],
                )
            )
            await asyncio.sleep(1.0)
            peer.send("subscribe", uri=presentity)
            seen["watch"] = await asyncio.to_thread(
                peer.wait, "buddy_state", 10.0, lambda e: e["status"] == "online"
            )
            # PJSIP publishes its own presence through the compositor; we watch it.
            peer.send("publish", online=True)
            await asyncio.sleep(1.0)
            watcher = await run_program(
                ua_args(
                    *("--aor", f"sip:watcher@127.0.0.1:{port}"),
                    *("--outbound-proxy", f"sip:127.0.0.1:{port}"),
                    *("--subscribe", peer.uri, "--timeout", "5"),
                ),
                out=outs["watcher"],
            )
            seen["stored"] = compositor.store.count(host.clock())
            return [await alice, watcher]
        finally:
            await asyncio.to_thread(peer.stop)
            seen["log"] = peer.log_text()
            await host.close()

    outcomes = asyncio.run(asyncio.wait_for(scenario(), 40))
    log = str(seen.get("log", ""))
    assert [o.status for o in outcomes] == [0, 0], (outs, log[-3000:])  # type: ignore[attr-defined]
    watch = seen["watch"]
    assert isinstance(watch, dict) and watch["sub_state"] == "ACTIVE", watch
    assert "PUBLISH sip:pjsua@127.0.0.1" in log and "SIP/2.0 200 OK" in log
    assert seen["stored"] == 2  # Alice's publication and PJSIP's
    assert "active: open" in outs["watcher"].getvalue(), (outs["watcher"].getvalue(), log[-3000:])
