"""The presence server under load: N concurrent subscriptions held by the compositor.

A sans-I/O user agent with the ``events`` and ``esc`` extensions (RFC 6665 notifier,
RFC 3903 compositor, presence of RFC 3856) is fed the bytes of N SUBSCRIBEs for one
presentity from N watchers, and every NOTIFY it sends is answered 200 (no sockets: the
cost is our code's).  Then:

- **memory**: tracemalloc's growth per subscription once the N subscriptions are
  established and their transactions are over (a dialog, its usage, the expiry timer);
- **state change**: one PUBLISH changes the presentity's state and the compositor
  NOTIFYs every watcher: the CPU time from the PUBLISH to the last NOTIFY serialized
  to bytes, as NOTIFYs per second (and the same with the 200s to them processed).

The extensions are found by name (``importlib``): ``rfc3261/`` never imports
``extensions/``.  ``run(options)`` returns the JSON document; ``render(doc)`` the table.
"""

from __future__ import annotations

import gc
import importlib
import random
import time
import tracemalloc
from typing import Any

from rfc3261.message import Request, parse
from rfc3261.timers import TimerValues
from rfc3261.transaction import SendMessage
from rfc3261.ua_core import UAConfig, UserAgent

NAME = "presence_load"
WARM_UP = 50

#: The subscriptions the issue asks the compositor to hold.
TARGET = 10_000

_SUBSCRIBE = (
    "SUBSCRIBE sip:alice@192.0.2.10 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.20:5070;branch=z9hG4bK-{n}-s\r\n"
    "Max-Forwards: 70\r\n"
    "To: <sip:alice@192.0.2.10>\r\n"
    "From: <sip:w{n}@192.0.2.20>;tag=w{n}\r\n"
    "Call-ID: {n}-watch@192.0.2.20\r\n"
    "CSeq: 1 SUBSCRIBE\r\n"
    "Contact: <sip:w{n}@192.0.2.20:5070>\r\n"
    "Event: presence\r\n"
    "Expires: 3600\r\n"
    "Accept: application/pidf+xml\r\n"
    "Content-Length: 0\r\n"
    "\r\n"
)


def _pidf(basic: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:alice@192.0.2.10">'
        f'<tuple id="t1"><status><basic>{basic}</basic></status></tuple></presence>'
    ).encode()


def _publish(n: int, basic: str) -> bytes:
    body = _pidf(basic)
    return (
        "PUBLISH sip:alice@192.0.2.10 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 192.0.2.30:5070;branch=z9hG4bK-{n}-p\r\n"
        "Max-Forwards: 70\r\n"
        "To: <sip:alice@192.0.2.10>\r\n"
        f"From: <sip:alice@192.0.2.10>;tag=p{n}\r\n"
        f"Call-ID: {n}-publish@192.0.2.30\r\n"
        "CSeq: 1 PUBLISH\r\n"
        "Event: presence\r\n"
        "Expires: 3600\r\n"
        "Content-Type: application/pidf+xml\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    ).encode() + body


class _Compositor:
    """The compositor UA and a clock; NOTIFYs answered 200 on request."""

    def __init__(self) -> None:
        events_module = importlib.import_module("extensions.rfc6665")
        compositor_module = importlib.import_module("extensions.rfc3903")
        presence = importlib.import_module("extensions.rfc3856").PRESENCE
        config = UAConfig(
            aor="sip:presence@192.0.2.10",
            contact="sip:presence@192.0.2.10",
            sent_by="192.0.2.10",
            timers=TimerValues(),
        )
        self.events = events_module.EventsExtension([presence])
        self.esc = compositor_module.EventStateCompositor(self.events)
        self.ua = UserAgent(config, rng=random.Random(1), extensions=[self.events, self.esc])
        self.now = 1000.0
        self.source = ("UDP", "192.0.2.20", 5070)

    def feed(self, data: bytes) -> list[Any]:
        return self.ua.receive(parse(data), self.source, self.now)

    def notifies(self, effects: list[Any]) -> list[Request]:
        return [
            e.message
            for e in effects
            if isinstance(e, SendMessage)
            and isinstance(e.message, Request)
            and e.message.method == "NOTIFY"
        ]

    def answer(self, notifies: list[Request]) -> None:
        for notify in notifies:
            self.ua.receive(notify.make_response(200), self.source, self.now)

    def advance(self, seconds: float) -> None:
        """Move the clock, firing every timer due (transactions end: Timer J, K)."""
        self.now += seconds
        self.ua.handle_timer(self.now)


def subscriptions(count: int) -> dict[str, Any]:
    """Hold ``count`` subscriptions: setup rate, memory per subscription, NOTIFYs/s."""
    harness = _Compositor()
    harness.feed(_publish(0, "open"))
    # Warm-up: the code paths and caches, outside the measurement (these 50 stay held).
    for n in range(WARM_UP):
        harness.answer(harness.notifies(harness.feed(_SUBSCRIBE.format(n=n).encode())))
    harness.advance(40.0)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    start = time.process_time()
    for n in range(1000, 1000 + count):
        harness.answer(harness.notifies(harness.feed(_SUBSCRIBE.format(n=n).encode())))
    setup_cpu = time.process_time() - start
    harness.advance(40.0)  # every SUBSCRIBE and NOTIFY transaction is over
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    held = harness.events.notifier_count() - WARM_UP
    # A state change: one PUBLISH, a NOTIFY to every watcher (serialized, as sent).
    gc.collect()
    start = time.process_time()
    effects = harness.feed(_publish(1, "closed"))
    notifies = harness.notifies(effects)
    sent = sum(len(bytes(n)) for n in notifies)
    notify_cpu = time.process_time() - start
    start = time.process_time()
    harness.answer(notifies)
    answer_cpu = time.process_time() - start
    return {
        "subscriptions": count,
        "held": held,
        "setup_us_per_subscription": round(setup_cpu / count * 1e6, 1),
        "bytes_per_subscription": round(grown / count),
        "notifies_on_change": len(notifies),
        "watchers_on_change": count + WARM_UP,
        "notify_bytes": round(sent / max(len(notifies), 1)),
        "notifies_per_second": round(len(notifies) / notify_cpu) if notify_cpu else None,
        "notifies_answered_per_second": (
            round(len(notifies) / (notify_cpu + answer_cpu)) if notify_cpu + answer_cpu else None
        ),
    }


def run(options: Any = False) -> dict[str, Any]:
    """The benchmark document; ``options`` is a bool (quick) or rfc3261.bench.Options."""
    quick = options if isinstance(options, bool) else bool(getattr(options, "quick", False))
    from rfc3261.bench import machine_info

    return {
        "name": NAME,
        "machine": machine_info(),
        "load": subscriptions(300 if quick else TARGET),
        "target": TARGET,
    }


def floors_passed(doc: dict[str, Any]) -> bool | None:
    """True when every subscription is held and every watcher is NOTIFYed on a change."""
    load = doc["load"]
    held = load["held"] == load["subscriptions"]
    return held and load["notifies_on_change"] == load["watchers_on_change"]


def render(doc: dict[str, Any]) -> str:
    load = doc["load"]
    return "\n".join(
        [
            f"{NAME}: {load['subscriptions']} presence subscriptions held by the compositor",
            f"  held: {load['held']}, setup {load['setup_us_per_subscription']} us CPU each"
            " (SUBSCRIBE, 200, NOTIFY, its 200; under tracemalloc)",
            f"  memory: {load['bytes_per_subscription']} B per subscription (tracemalloc)",
            f"  a state change: {load['notifies_on_change']} NOTIFYs of"
            f" {load['notify_bytes']} B, {load['notifies_per_second']} NOTIFYs/s CPU-bound"
            f" ({load['notifies_answered_per_second']}/s with their 200s processed)",
        ]
    )
