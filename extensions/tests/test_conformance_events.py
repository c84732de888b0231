"""The RFC 6665 conformance cases against a sipref UA that is a presence notifier.

The UA runs on the asyncio edge (``CoreHost``) in a thread of its own, on loopback, with
``EventsExtension`` serving ``presence``; the cases in ``extensions/conformance/rfc6665.py``
run against it through the conformance runner.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from conformance.model import Profile
from conformance.tests.support import run_cases, verdicts
from extensions.rfc3856 import PRESENCE
from extensions.rfc6665 import EventsExtension
from rfc3261.asyncio.dispatcher import CoreHost
from rfc3261.asyncio.loopback import free_port
from rfc3261.ua_core import UAConfig, UserAgent

METHODS = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "SUBSCRIBE", "NOTIFY")


@pytest.fixture
def target() -> Iterator[tuple[str, EventsExtension]]:
    """A presence notifier on 127.0.0.1 (UDP), for the length of one test."""
    port = free_port()
    ready = threading.Event()
    stop: list[Any] = []
    events = EventsExtension([PRESENCE])

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        host = CoreHost(None)
        await host.listen(f"sip:127.0.0.1:{port}", with_tcp=False)
        point = host.local_point("UDP")
        config = UAConfig(
            aor=f"sip:conformance@{point.address.hostport}",
            contact=str(point.uri("conformance")),
            sent_by=point.sent_by,
        )
        host.core = UserAgent(config, extensions=[events])
        host.deliver = lambda event: None
        done = loop.create_future()
        stop.append((loop, done))
        ready.set()
        await done
        await host.close()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield f"sip:conformance@127.0.0.1:{port}", events
    finally:
        loop, done = stop[0]
        loop.call_soon_threadsafe(done.set_result, None)
        thread.join(10)


def test_the_events_cases_pass_against_a_presence_notifier(
    target: tuple[str, EventsExtension],
) -> None:
    uri, events = target
    run = run_cases(uri, "uas", "rfc6665-*", Profile(methods=METHODS))
    assert verdicts(run) == {
        "rfc6665-unknown-event-489": "pass",
        "rfc6665-immediate-notify": "pass",
        "rfc6665-expires-0-terminates": "pass",
    }
    assert events.notifier_count() == 0  # every subscription the cases made is gone


def test_the_cases_do_not_apply_to_a_ua_without_subscribe(
    target: tuple[str, EventsExtension],
) -> None:
    run = run_cases(target[0], "uas", "rfc6665-*", Profile(methods=("INVITE",)))
    assert set(verdicts(run).values()) == {"not-applicable"}
