"""``python -m rfc3261 ua --outbound``: the program registers with RFC 5626 outbound,
prints each flow's state, and is reachable again after its flow is killed."""

from __future__ import annotations

import asyncio
import io

import pytest

from extensions.tests.outbound_peer import ScriptedRegistrar
from extensions.tests.test_rfc5626_ua_sockets import invite
from rfc3261.programs.ua import UsageError, check_arguments, run_program
from rfc3261.tests.test_programs_ua import ua_args
from rfc3261.tests.transport_support import async_test

INSTANCE = "urn:uuid:00000000-0000-1000-8000-000a95a0e128"


def test_outbound_options_are_checked() -> None:
    with pytest.raises(UsageError):
        check_arguments(ua_args("--outbound", "sip:127.0.0.1:5060", "--answer", "200"))
    with pytest.raises(UsageError):
        check_arguments(ua_args("--instance-id", INSTANCE, "--register", "sip:a@127.0.0.1"))
    with pytest.raises(UsageError):
        check_arguments(
            ua_args(
                *("--register", "sip:a@127.0.0.1", "--outbound", "sip:127.0.0.1:5060"),
                *("--instance-id", "urn:example:1"),
            )
        )
    plan = check_arguments(
        ua_args("--register", "sip:a@example.com", "--outbound", "sip:127.0.0.1:5060")
    )
    (outbound,) = [e for e in plan.extensions if e.name == "outbound"]
    assert outbound.settings.instance_id.startswith("urn:uuid:")  # type: ignore[attr-defined]


@async_test(timeout=20)
async def test_the_program_registers_with_outbound_and_recovers_its_flow() -> None:
    registrar = await ScriptedRegistrar().start()
    out = io.StringIO()
    stop = asyncio.Event()
    program = asyncio.ensure_future(
        run_program(
            ua_args(
                *("--register", "sip:alice@127.0.0.1", "--outbound", registrar.uri),
                *("--instance-id", INSTANCE, "--answer", "486", "--timeout", "10"),
            ),
            stop=stop,
            out=out,
        )
    )
    peer = registrar.peer
    try:
        for _ in range(500):
            if "registered sip:alice@127.0.0.1 with outbound" in out.getvalue() and peer.pings:
                break
            await asyncio.sleep(0.01)
        (_, register), *_ = peer.registers
        assert register.contact[0].params.get("+sip.instance") == f'"<{INSTANCE}>"'
        assert register.top_via.transport == "TCP"
        registrar.kill()
        for _ in range(500):
            if len(peer.registers) == 2 and out.getvalue().count(": active") == 2:
                break
            await asyncio.sleep(0.01)
        text = out.getvalue()
        assert f"instance-id {INSTANCE}" in text
        assert "outbound flow 1 via" in text and ": failed (connection closed)" in text
        assert text.count(": active (registered with outbound)") == 2
        ua_port = int(register.contact[0].uri.port)
        assert registrar.send_on_flow(invite(registrar.port, ua_port, 7))
        for _ in range(500):
            if any(r.status == 486 for r in peer.responses):
                break
            await asyncio.sleep(0.01)
        assert [r.status for r in peer.responses if r.status >= 200] == [486]
    finally:
        stop.set()
        await asyncio.wait_for(program, 10)
        await registrar.close()
    # On exit the binding is removed (expires=0) through the flow.
    assert peer.registers[-1][1].contact[0].params.get("expires") == "0" or (
        peer.registers[-1][1].expires == 0
    )
