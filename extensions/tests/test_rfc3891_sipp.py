"""RFC 3891 with SIPp: a stack we did not write sends our UA an INVITE with Replaces.

Alice calls Bob (both ours, on loopback); SIPp, given the Alice-Bob dialog on its command
line, sends Bob ``sipp/uac_replaces.xml``: an INVITE with ``Require: replaces``, the
Replaces and a Referred-By naming Alice.  Bob answers SIPp with a 200, ends the
Alice-Bob dialog with a BYE, and SIPp hangs up.  Without sipp the test skips (fails
under SIPREF_REQUIRE_EXTERNAL=1).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from extensions.rfc3891 import CallReplaced, ReplacesExtension, replaces_value
from extensions.tests.replaces_support import LoopbackUA, sdp
from extensions.tests.sipp_support import SCENARIOS
from rfc3261.asyncio.loopback import free_port
from rfc3261.headers import HEADER_TYPES, unregister_header
from rfc3261.session import CallEnded, CallEstablished
from rfc3261.tests.test_sipp import SIPP_COMMON
from rfc3261.tests.transport_support import async_test, require_external

pytestmark = pytest.mark.interop


@pytest.fixture(autouse=True)
def replaces_header() -> Iterator[None]:
    yield
    if "replaces" in HEADER_TYPES:
        unregister_header("Replaces")


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If authorization is successful, the UA attempts to accept the new
##% INVITE, reassign the user interface and other resources of the
##% matched dialog to the new INVITE, and shut down the replaced dialog.
@async_test(timeout=60)
async def test_sipp_replaces_alice_at_bob(tmp_path: Path) -> None:
    sipp = require_external("sipp", "sip-tester")
    alice = await LoopbackUA("alice", []).start()
    bob = await LoopbackUA("bob", [ReplacesExtension()]).start()
    try:
        assert alice.ua is not None
        alice_call, effects = alice.ua.sessions.invite(bob.uri, alice.now, body=sdp(alice.media))
        alice.run(effects)
        await alice.wait_for(CallEstablished)
        assert alice_call.established is not None
        trace = tmp_path / "messages.log"
        process = await asyncio.create_subprocess_exec(
            sipp,
            "-sf", str(SCENARIOS / "uac_replaces.xml"),
            f"127.0.0.1:{bob.port}",
            "-s", "bob",
            "-i", "127.0.0.1", "-p", str(free_port()),
            "-key", "replaces", replaces_value(alice_call.established.id),
            "-key", "referrer", "sip:alice@127.0.0.1",
            "-m", "1", "-d", "500",
            "-trace_msg", "-message_file", str(trace),
            *SIPP_COMMON,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(process.communicate(), 40)
        assert process.returncode == 0, out.decode(errors="replace")
        text = trace.read_text(errors="replace")
        ok = text[text.index("SIP/2.0 200 OK") :]
        assert "Supported:" in ok and "replaces" in ok.split("Supported:")[1].split("\n")[0]
        (ended,) = await alice.wait_for(CallEnded)
        assert ended.call is alice_call and ended.reason == "remote BYE"
        (event,) = bob.of(CallReplaced)
        assert event.replaced.call_id == alice_call.call_id
        assert event.request.header("Referred-By") is not None
    finally:
        await alice.close()
        await bob.close()
