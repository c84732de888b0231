"""The RFC 6665 conformance cases against a sipref UA that is a presence notifier.

The UA runs on the asyncio edge (``CoreHost``) in a thread of its own, on loopback, with
``EventsExtension`` serving ``presence``; the cases in ``extensions/conformance/rfc6665.py``
run against it through the conformance runner.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.model import Profile
from conformance.tests.support import run_cases, verdicts
from extensions.rfc3856 import PRESENCE
from extensions.rfc6665 import EventsExtension
from extensions.tests.conformance_ua import ua_on_loopback

METHODS = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "SUBSCRIBE", "NOTIFY")


@pytest.fixture
def target() -> Iterator[tuple[str, EventsExtension]]:
    """A presence notifier on 127.0.0.1 (UDP), for the length of one test."""
    events = EventsExtension([PRESENCE])
    with ua_on_loopback([events]) as uri:
        yield uri, events


def test_the_events_cases_pass_against_a_presence_notifier(
    target: tuple[str, EventsExtension],
) -> None:
    uri, events = target
    run = run_cases(uri, "uas", "rfc6665-*", Profile(methods=METHODS))
    assert verdicts(run) == {
        "rfc6665-unknown-event-489": "pass",
        "rfc6665-immediate-notify": "pass",
        "rfc6665-expires-0-terminates": "pass",
        "rfc6665-expires-and-first-notify": "pass",
        "rfc6665-refresh-not-lengthened": "pass",
        "rfc6665-no-event-489": "pass",
        "rfc6665-brief-interval-423": "pass",
        "rfc6665-cancel-subscribe-ignored": "pass",
        "rfc6665-allow-events": "pass",
    }
    assert events.notifier_count() == 0  # every subscription the cases made is gone


def test_the_cases_do_not_apply_to_a_ua_without_subscribe(
    target: tuple[str, EventsExtension],
) -> None:
    run = run_cases(target[0], "uas", "rfc6665-*", Profile(methods=("INVITE",)))
    assert set(verdicts(run).values()) == {"not-applicable"}
