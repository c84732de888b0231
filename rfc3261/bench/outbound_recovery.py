"""Flow recovery of an RFC 5626 outbound UA: the TCP connection is killed, how long
until the UA is registered and reachable again (issue 20).

Our UA (``extensions/rfc5626_ua.py`` on sockets, ``extensions/rfc5626_ua_asyncio.py``)
registers with outbound over TCP through a scripted edge+registrar on loopback
(``extensions/tests/outbound_peer.py``: 200 with Require: outbound, pongs).  Each
round waits for the flow to be proven (a pong after the registration, RFC 5626 §4.5),
aborts the edge's side of the connection, and measures

- *registered*: from the kill to the 200 for the new flow's REGISTER (the UA is in the
  location service again, through a new connection);
- *reachable*: from the kill to the UA's answer to an INVITE the edge sends over the
  new flow right after it registered -- every such call must be answered (none lost).

The extensions are loaded by name (``importlib``): ``rfc3261/`` never imports them.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import statistics
import time
from typing import Any

NAME = "outbound_recovery"
ROUNDS = 9
#: The floor: the median time to be registered again, in seconds.
TARGET_SECONDS = 1.0


def _invite(port: int, ua_port: int, n: int) -> bytes:
    return (
        f"INVITE sip:alice@127.0.0.1:{ua_port};transport=tcp SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP 127.0.0.1:{port};branch=z9hG4bK-bench-{n}\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:bob@127.0.0.1>;tag=b\r\nTo: <sip:alice@127.0.0.1>\r\n"
        f"Call-ID: bench-{n}\r\nCSeq: 1 INVITE\r\n"
        f"Contact: <sip:bob@127.0.0.1:{port};transport=tcp>\r\nContent-Length: 0\r\n\r\n"
    ).encode()


async def _measure(rounds: int) -> dict[str, Any]:
    peer_module = importlib.import_module("extensions.tests.outbound_peer")
    registrar = await peer_module.ScriptedRegistrar().start()
    client = await peer_module.OutboundClient([registrar.uri]).start()
    peer = registrar.peer
    registered: list[float] = []
    reachable: list[float] = []
    calls_sent = calls_answered = 0
    try:
        flow = client.outbound.flows[0]
        if not await client.until(lambda: flow.successful, 5.0):
            raise RuntimeError("the outbound flow never came up")
        ua_port = client.host.local_point("TCP").address.port
        for n in range(rounds):
            before = len(peer.registers)
            answered = sum(1 for r in peer.responses if r.status == 486)
            killed = time.perf_counter()
            registrar.kill()
            if not await client.until(
                lambda b=before: len(peer.registers) > b and (flow.state == "active"), 10.0
            ):
                raise RuntimeError(f"round {n}: the UA did not register again")
            registered.append(time.perf_counter() - killed)
            calls_sent += 1
            registrar.send_on_flow(_invite(registrar.port, ua_port, n))
            if await client.until(
                lambda a=answered: sum(1 for r in peer.responses if r.status == 486) > a, 5.0
            ):
                calls_answered += 1
                reachable.append(time.perf_counter() - killed)
            # Let the new flow be proven (its first pong) before the next kill.
            await client.until(lambda: flow.successful, 5.0)
    finally:
        await client.close()
        await registrar.close()
    return {
        "rounds": rounds,
        "registered_s": registered,
        "reachable_s": reachable,
        "registered_median_s": statistics.median(registered),
        "reachable_median_s": statistics.median(reachable) if reachable else None,
        "calls_after_recovery": calls_sent,
        "calls_lost": calls_sent - calls_answered,
    }


def run(options: Any = False) -> dict[str, Any]:
    """The benchmark document; ``options`` is a bool (quick) or rfc3261.bench.Options."""
    quick = options if isinstance(options, bool) else bool(getattr(options, "quick", False))
    from rfc3261.bench import machine_info

    doc: dict[str, Any] = {"name": NAME, "machine": machine_info(), "target_s": TARGET_SECONDS}
    if importlib.util.find_spec("extensions") is None:
        doc["skipped"] = "the extensions package is not installed"
        return doc
    doc.update(asyncio.run(_measure(3 if quick else ROUNDS)))
    return doc


def floors_passed(doc: dict[str, Any]) -> bool | None:
    """Registered again within TARGET_SECONDS (median) and no call lost after recovery."""
    if "registered_median_s" not in doc:
        return None
    return doc["registered_median_s"] <= TARGET_SECONDS and doc["calls_lost"] == 0


def render(doc: dict[str, Any]) -> str:
    lines = [f"{NAME}: RFC 5626 flow recovery after the TCP connection is killed"]
    if "skipped" in doc:
        return "\n".join([*lines, f"  skipped ({doc['skipped']})"])
    ms = [f"{1000 * t:.1f}" for t in doc["registered_s"]]
    lines.append(
        f"  registered again: median {1000 * doc['registered_median_s']:.1f} ms"
        f" over {doc['rounds']} kills ({', '.join(ms)} ms)"
    )
    if doc["reachable_median_s"] is not None:
        lines.append(
            f"  reachable (call answered): median {1000 * doc['reachable_median_s']:.1f} ms"
        )
    lines.append(
        f"  calls after recovery: {doc['calls_after_recovery']}, lost: {doc['calls_lost']}"
    )
    return "\n".join(lines)
