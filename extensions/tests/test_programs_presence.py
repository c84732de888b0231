"""``python -m rfc3261 proxy --presence`` with ``ua --publish-presence`` and ``ua --subscribe``.

The proxy runs in a subprocess with its presence server (RFC 3903 compositor and
RFC 6665 notifier) on a second loopback port; two UA programs run on this test's loop.
"""

from __future__ import annotations

import asyncio
import io
import socket
from pathlib import Path

from rfc3261.programs.ua import run_program
from rfc3261.tests.test_programs_servers import ServerProcess
from rfc3261.tests.test_programs_ua import ua_args


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        return udp.getsockname()[1]


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.3
##= type=test
##% If a proxy wishes to see all of the SUBSCRIBE and NOTIFY requests for
##% a given dialog, it MUST add a "Record-Route" header field to the
##% initial SUBSCRIBE request and all NOTIFY requests.
def test_publish_and_subscribe_through_the_proxy_presence_server(tmp_path: Path) -> None:
    presence = f"sip:127.0.0.1:{free_port()}"
    db = str(tmp_path / "location.db")
    proxy = ServerProcess(
        *("proxy", "--listen", "sip:127.0.0.1:0", "--domain", "example.com"),
        *("--db", db, "--presence", presence, "-v"),
        cwd=tmp_path,
    )
    outbound = ("--outbound-proxy", f"sip:127.0.0.1:{proxy.port}")
    outs = {name: io.StringIO() for name in ("alice", "bob", "carol")}

    async def scenario() -> list[object]:
        alice = asyncio.ensure_future(
            run_program(
                ua_args(
                    *("--aor", "sip:alice@example.com", *outbound),
                    *("--publish-presence", "open", "--answer", "200", "--timeout", "3"),
                ),
                out=outs["alice"],
            )
        )
        await asyncio.sleep(1.0)
        bob = await run_program(
            ua_args(
                *("--aor", "sip:bob@example.com", *outbound),
                *("--subscribe", "sip:alice@example.com", "--timeout", "5"),
            ),
            out=outs["bob"],
        )
        first = await alice
        await asyncio.sleep(0.5)
        # Alice's program removed her publication on exit: Carol sees no state.
        carol = await run_program(
            ua_args(
                *("--aor", "sip:carol@example.com", *outbound),
                *("--subscribe", "sip:alice@example.com", "--timeout", "5"),
            ),
            out=outs["carol"],
        )
        return [first, bob, carol]

    try:
        outcomes = asyncio.run(asyncio.wait_for(scenario(), 20))
    finally:
        log = proxy.log_text()
        proxy.stop()
    assert [o.status for o in outcomes] == [0, 0, 0], (outs, log)  # type: ignore[attr-defined]
    alice = outs["alice"].getvalue()
    assert "PUBLISH sip:alice@example.com (initial): 200 OK, SIP-ETag" in alice
    assert "PUBLISH sip:alice@example.com (remove): 200 OK" in alice
    assert "NOTIFY presence sip:alice@example.com: active: open" in outs["bob"].getvalue()
    assert "NOTIFY presence sip:alice@example.com: active: None" in outs["carol"].getvalue()
    # The proxy record-routed the SUBSCRIBE and every NOTIFY it forwarded.
    ours = f"Record-Route: <sip:127.0.0.1:{proxy.port};lr>"
    sent = [e for e in log.split("rfc3261.wire ") if e.startswith("-> ")]
    forwarded = [e for e in sent if e.split("\n", 2)[1].startswith(("SUBSCRIBE", "NOTIFY"))]
    methods = {e.split("\n", 2)[1].split(" ")[0] for e in forwarded}
    assert methods == {"SUBSCRIBE", "NOTIFY"}, sent[:3]
    assert all(ours in e for e in forwarded)


def test_the_presence_server_challenges_with_the_auth_file(tmp_path: Path) -> None:
    from rfc3261.digest_server import ha1_line

    ha1 = tmp_path / "ha1.txt"
    lines = [ha1_line("alice", "example.com", "secret", a) for a in ("SHA-256", "MD5")]
    ha1.write_text("\n".join(lines) + "\n")
    proxy = ServerProcess(
        *("proxy", "--listen", "sip:127.0.0.1:0", "--domain", "example.com"),
        *("--db", str(tmp_path / "location.db"), "--presence", f"sip:127.0.0.1:{free_port()}"),
        *("--auth-file", str(ha1)),
        cwd=tmp_path,
    )
    outbound = ("--outbound-proxy", f"sip:127.0.0.1:{proxy.port}")
    outs = {name: io.StringIO() for name in ("alice", "eve")}

    async def scenario() -> list[object]:
        alice = await run_program(
            ua_args(
                *("--aor", "sip:alice@example.com", *outbound, "--password", "secret"),
                *("--publish-presence", "closed"),
            ),
            out=outs["alice"],
        )
        eve = await run_program(
            ua_args(
                *("--aor", "sip:eve@example.com", *outbound),
                *("--subscribe", "sip:alice@example.com", "--timeout", "5"),
            ),
            out=outs["eve"],
        )
        return [alice, eve]

    try:
        outcomes = asyncio.run(asyncio.wait_for(scenario(), 20))
    finally:
        log = proxy.log_text()
        proxy.stop()
    alice, eve = outcomes
    assert alice.status == 0 and alice.finals[0] == 200, (outs, log)  # type: ignore[attr-defined]
    assert "(initial): 200 OK" in outs["alice"].getvalue()
    assert eve.status == 4 and "failed (401" in outs["eve"].getvalue(), (outs, log)  # type: ignore[attr-defined]
