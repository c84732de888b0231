"""RFC 5626 interop: Kamailio (outbound + path modules) as the edge in front of our
registrar (``registrar --outbound``) and home proxy (``proxy --outbound``).

Bob's UA is a TCP socket of the test: it registers a flow through Kamailio, whose Path
carries its own flow token and ``ob``; our registrar must apply outbound to it (the
first Path value has ``ob``: ``Require: outbound``) and store the Path.  Alice's call
through our home proxy must reach Bob over his connection to Kamailio.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from rfc3261.asyncio.loopback import free_port
from rfc3261.location import SqliteLocationService
from rfc3261.message import Request
from rfc3261.tests.test_interop_servers import stop
from rfc3261.tests.test_programs_servers import Client, ServerProcess
from rfc3261.tests.transport_support import require_external

from .test_rfc5626_programs import register_flow

pytestmark = pytest.mark.interop

CONFIG = Path(__file__).resolve().parent / "kamailio" / "outbound_edge.cfg"


##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% If the Path header field is missing or it exists but
##% the first URI does not have an "ob" URI parameter, then outbound
##% processing MUST NOT be applied to the registration.  In this case,
##% the following processing applies: if the REGISTER request contains
##% the reg-id and the outbound option tag in a Supported header field,
##% then the registrar MUST respond to the REGISTER request with a 439
##% (First Hop Lacks Outbound Support) response; otherwise, the registrar
##% MUST ignore the "reg-id" parameter of the Contact header.
def test_kamailio_outbound_edge_registers_a_flow_at_our_registrar_and_carries_the_call(
    tmp_path: Path,
) -> None:
    kamailio = require_external("kamailio", "kamailio")
    db = str(tmp_path / "location.db")
    registrar = ServerProcess(
        "registrar", "--listen", "sip:127.0.0.1:0", "--domain", "example.com", "--db", db,
        "--outbound", cwd=tmp_path,
    )  # fmt: skip
    home = None
    process = None
    bob = alice = None
    try:
        home = ServerProcess(
            "proxy", "--listen", "sip:127.0.0.1:0", "--domain", "example.com", "--db", db,
            "--no-registrar", "--outbound", cwd=tmp_path,
        )  # fmt: skip
        port = free_port()
        config = tmp_path / "outbound_edge.cfg"
        config.write_text(
            CONFIG.read_text()
            .replace("@PORT@", str(port))
            .replace("@REGISTRAR@", f"sip:127.0.0.1:{registrar.port}")
        )
        rundir = tmp_path / "kamailio-run"
        rundir.mkdir()
        process = subprocess.Popen(
            [kamailio, "-f", str(config), "-DD", "-E", "-Y", str(rundir), "-m", "64"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(100):  # Kamailio binds its TCP socket
            try:
                bob = Client("TCP", ("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.05)
        assert bob is not None, "Kamailio did not listen on TCP"
        ok = register_flow(bob, port)
        assert ok.status == 200, ok
        assert [t.lower() for t in ok.header("Require")] == ["outbound"]
        location = SqliteLocationService(db)
        [binding] = location.lookup("sip:bob@example.com", time.time())
        location.close()
        [path] = binding.path
        assert path.startswith("<sip:") and ";ob" in path and f"127.0.0.1:{port}" in path
        assert binding.extra["reg-id"] == "1"

        alice = Client()
        invite = alice.request(
            "INVITE", "sip:bob@example.com",
            [("To", "<sip:bob@example.com>"), ("Contact", f"<sip:alice@127.0.0.1:{alice.port}>")],
        )  # fmt: skip
        alice.send(invite, ("127.0.0.1", home.port))
        incoming = bob.receive(timeout=10)
        assert isinstance(incoming, Request) and incoming.method == "INVITE"
        assert str(incoming.uri) == "sip:bob@bob.invalid;transport=tcp;ob"
        bob.send(incoming.make_response(486, to_tag="b0b"), ("127.0.0.1", port))
        assert alice.final(timeout=10).status == 486
        assert process.poll() is None
    finally:
        for client in (alice, bob):
            if client is not None:
                client.close()
        kamailio_log = stop(process) if process is not None else ""
        if home is not None:
            home.stop()
        registrar.stop()
    # Bob's socket closes with the ACK for the 486 unread: a reset Kamailio logs.
    errors = [
        line for line in kamailio_log.splitlines() if "ERROR" in line and "tcp_read" not in line
    ]
    assert errors == [], kamailio_log[-3000:]
