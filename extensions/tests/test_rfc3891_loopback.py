"""RFC 3891 end to end: three of our UAs on loopback (UDP), on one asyncio loop.

Alice calls Bob and Bob answers; Carol, Alice's transfer target in an attended
transfer, sends Bob an INVITE with a Replaces naming the Alice-Bob dialog (as Alice
sees it) and a Referred-By naming Alice.  Bob answers Carol, ends the Alice-Bob dialog
with a BYE and tells its application which call was replaced.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from extensions.rfc3891 import CallReplaced, ReplacesExtension, replaces_value
from extensions.tests.replaces_support import LoopbackUA, sdp
from rfc3261.headers import HEADER_TYPES, unregister_header
from rfc3261.programs.plugins import load_ua_extensions
from rfc3261.session import CallEnded, CallEstablished
from rfc3261.tests.test_programs_ua import answering
from rfc3261.tests.transport_support import async_test


@pytest.fixture(autouse=True)
def replaces_header() -> Iterator[None]:
    yield
    if "replaces" in HEADER_TYPES:
        unregister_header("Replaces")


def test_the_programs_load_the_extension_by_name() -> None:
    (extension,) = load_ua_extensions("replaces")
    assert isinstance(extension, ReplacesExtension)


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% Otherwise, it accepts the new INVITE by sending a 200-class response,
##% and shuts down the replaced dialog by sending a BYE.
@async_test(timeout=30)
async def test_carol_replaces_alice_at_bob_who_ends_alice_bob_with_bye() -> None:
    alice = await LoopbackUA("alice", []).start()
    bob = await LoopbackUA("bob", [ReplacesExtension()]).start()
    carol_replaces = ReplacesExtension()
    carol = await LoopbackUA("carol", [carol_replaces]).start()
    try:
        assert alice.ua is not None and bob.ua is not None
        alice_call, effects = alice.ua.sessions.invite(bob.uri, alice.now, body=sdp(alice.media))
        alice.run(effects)
        await alice.wait_for(CallEstablished)
        await bob.wait_for(CallEstablished)
        assert alice_call.established is not None
        replaced = alice_call.established.id
        call, effects = carol_replaces.invite(
            replaces_value(replaced),
            carol.now,
            target=bob.uri,
            body=sdp(carol.media),
            headers=[("Referred-By", "<sip:alice@127.0.0.1>")],
        )
        carol.run(effects)
        (established,) = await carol.wait_for(CallEstablished)
        assert established.call is call
        (ended,) = await alice.wait_for(CallEnded)
        assert ended.call is alice_call and ended.reason == "remote BYE"
        (event,) = await bob.wait_for(CallReplaced)
        assert event.replaced.call_id == alice_call.call_id
        assert event.call.call_id == call.call_id and event.dialog.terminated
        bob_call = event.call
        await bob.wait_for(CallEstablished, 2)  # Carol's ACK
        assert bob_call.established is not None and not bob_call.ended
        # Carol and Bob talk on; Carol hangs up and Bob's call ends with it.
        carol.run(carol.ua.sessions.hangup(call, carol.now))  # type: ignore[union-attr]
        ends = await bob.wait_for(CallEnded, 2)
        assert ends[-1].call is bob_call
    finally:
        for ua in (alice, bob, carol):
            await ua.close()


@async_test(timeout=40)
async def test_the_ua_program_with_the_extension_is_replaced_into() -> None:
    """``python -m rfc3261 ua --answer 200 --extension replaces`` as Bob."""
    bob, out, port = await answering(
        "--answer", "200", "--extension", "replaces", "--timeout", "3"
    )
    alice = await LoopbackUA("alice", []).start()
    carol_replaces = ReplacesExtension()
    carol = await LoopbackUA("carol", [carol_replaces]).start()
    try:
        assert alice.ua is not None and carol.ua is not None
        bob_uri = f"sip:bob@127.0.0.1:{port}"
        alice_call, effects = alice.ua.sessions.invite(bob_uri, alice.now, body=sdp(alice.media))
        alice.run(effects)
        await alice.wait_for(CallEstablished)
        assert alice_call.established is not None
        call, effects = carol_replaces.invite(
            alice_call.established.id,
            carol.now,
            target=bob_uri,
            body=sdp(carol.media),
            headers=[("Referred-By", "<sip:alice@127.0.0.1>")],
        )
        carol.run(effects)
        await carol.wait_for(CallEstablished)
        (ended,) = await alice.wait_for(CallEnded)
        assert ended.reason == "remote BYE"
        carol.run(carol.ua.sessions.hangup(call, carol.now))
        await asyncio.wait_for(bob, 10)
    finally:
        await alice.close()
        await carol.close()
    printed = out.getvalue()
    assert f"call {call.call_id} replaces call {alice_call.call_id}" in printed, printed
