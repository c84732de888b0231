"""RFC 3891 with PJSIP: our UA sends an INVITE with Replaces to a stack we did not write.

PJSIP (pjsua2, in its own process: ``pjsua_peer.py``) calls Alice, one of our UAs on
loopback, and Alice answers.  Carol, another of ours, sends PJSIP an INVITE with a
Replaces naming the PJSIP-Alice dialog (as Alice sees it, ``replaces_value``) to PJSIP's
Contact.  PJSIP answers Carol and ends its call with Alice with a BYE.  Without the
pjsua2 wheel the test skips (fails under SIPREF_REQUIRE_EXTERNAL=1).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from extensions.rfc3891 import ReplacesExtension, replaces_value
from extensions.tests.pjsua_support import PjsuaPeer, require_pjsua
from extensions.tests.replaces_support import LoopbackUA, sdp
from rfc3261.headers import HEADER_TYPES, unregister_header
from rfc3261.message import Response
from rfc3261.session import CallEnded, CallEstablished, CallProgress
from rfc3261.tests.transport_support import async_test

pytestmark = pytest.mark.interop


@pytest.fixture(autouse=True)
def replaces_header() -> Iterator[None]:
    yield
    if "replaces" in HEADER_TYPES:
        unregister_header("Replaces")


##= https://www.rfc-editor.org/rfc/rfc3891#section-4
##= type=test
##% The
##% User Agent Client (UAC) places the Call-ID, to-tag, and from-tag
##% information for the target dialog in a single Replaces header field
@async_test(timeout=90)
async def test_pjsip_replaces_its_call_with_alice_by_carols(tmp_path: Path) -> None:
    require_pjsua()
    alice = await LoopbackUA("alice", []).start()
    carol_replaces = ReplacesExtension()
    carol = await LoopbackUA("carol", [carol_replaces]).start()
    peer = await asyncio.to_thread(PjsuaPeer, tmp_path / "pjsua.log")
    try:
        peer.send("call", uri=alice.uri)
        (established,) = await alice.wait_for(CallEstablished, timeout=15)
        await asyncio.to_thread(peer.call_state, "CONFIRMED")
        alice_call = established.call
        call, effects = carol_replaces.invite(
            replaces_value(established.dialog.id),
            carol.now,
            target=peer.uri,
            body=sdp(carol.media),
        )
        carol.run(effects)
        await carol.wait_for(CallEstablished, timeout=15)
        finals = [
            e.response.status for e in carol.of(CallProgress) if isinstance(e.response, Response)
        ]
        assert all(status < 300 for status in finals)
        (ended,) = await alice.wait_for(CallEnded, timeout=15)
        assert ended.call is alice_call and ended.reason == "remote BYE"
        await asyncio.to_thread(peer.call_state, "DISCONNECTED")
        log = peer.log_text()
        assert f"Replaces: {replaces_value(established.dialog.id)}" in log
        # Carol hangs up the call that took Alice's place; PJSIP answers the BYE.
        assert carol.ua is not None
        carol.run(carol.ua.sessions.hangup(call, carol.now))
        await asyncio.sleep(0.5)  # PJSIP's 200 to the BYE: no call is left up when it quits
    finally:
        await asyncio.to_thread(peer.stop)
        await alice.close()
        await carol.close()
