"""Hostile SUBSCRIBE, NOTIFY and PUBLISH: the RFC's answer, no crash, no leaked subscription.

A subscriber (Alice), a notifier and compositor (``ps``) and a stranger who sends
malformed or misdirected requests; afterwards every count is back where it started.
"""

from __future__ import annotations

import pytest

from extensions.rfc3856 import PIDF
from extensions.tests.test_rfc3903_3856 import ALICE, doc, setup
from rfc3261.message import Response
from rfc3261.tests.ua_support import Network, make_ua

GOOD_STATE = [("Event", "presence"), ("Subscription-State", "active;expires=60")]

NOTIFY_CASES = [
    # (headers, body, content type, expected status)
    (GOOD_STATE, b"", None, 481),  # a NOTIFY for no subscription (RFC 6665 §4.1.3)
    ([("Event", "presence"), ("Subscription-State", "active;expires=soon")], b"", None, 400),
    ([("Event", "presence"), ("Subscription-State", ";;")], b"", None, 400),
    ([("Event", "presence")], b"", None, 400),  # no Subscription-State
    ([("Subscription-State", "active")], b"", None, 400),  # no Event
    ([("Event", "pres ence"), ("Subscription-State", "active")], b"", None, 400),
]

SUBSCRIBE_CASES = [
    ([("Event", "x-nothing")], 489),
    ([], 489),
    ([("Event", "presence"), ("Expires", "1")], 423),
    ([("Event", "presence"), ("Expires", "never")], 400),
    ([("Event", "presence"), ("Accept", "text/html")], 406),
    ([("Event", "presence;;")], 400),
]

PUBLISH_CASES = [
    ([("Event", "presence"), ("SIP-If-Match", "stale")], b"", None, 412),
    ([("Event", "presence"), ("SIP-If-Match", "x y")], b"", None, 400),
    ([("Event", "presence")], b"", None, 400),  # no body, no entity-tag
    ([("Event", "presence")], b"<presence", PIDF, 400),
    ([("Event", "presence")], b"<x/>", "application/xml", 415),
    ([("Event", "dialog")], doc("open").to_xml(), PIDF, 489),
]


@pytest.mark.parametrize(("headers", "body", "content_type", "status"), NOTIFY_CASES)
def test_hostile_notify_gets_its_status_and_leaks_nothing(headers, body, content_type, status):  # type: ignore[no-untyped-def]
    net = Network()
    _alice, bob, _ps, _, watcher, _esc = setup(net)
    stranger = net.add_ua(make_ua("mallory", seed=7))
    net.call(bob, watcher.subscribe(ALICE, "presence", net.now)[1])
    net.run(1.0)
    before = (len(watcher.live_subscriptions()), len(bob.ua.dialogs))
    to = "<sip:bob@bob.example.com>;tag=made-up" if status == 481 else "<sip:bob@bob.example.com>"
    request = stranger.ua.build_request(
        "NOTIFY", to, contact=True, headers=headers, body=body, content_type=content_type
    )
    net.call(stranger, stranger.ua.send(request, net.now)[1])
    net.run(2.0)
    (answer,) = [m for _, m in stranger.received if isinstance(m, Response)]
    assert answer.status == status
    assert (len(watcher.live_subscriptions()), len(bob.ua.dialogs)) == before == (1, 1)
    assert not watcher._attempts or all(a.usages for a in watcher._attempts.values())


@pytest.mark.parametrize(("headers", "status"), SUBSCRIBE_CASES)
def test_hostile_subscribe_creates_nothing(headers, status):  # type: ignore[no-untyped-def]
    net = Network()
    _, _, ps, _, _, esc = setup(net)
    stranger = net.add_ua(make_ua("mallory", seed=7))
    net.call(
        stranger,
        stranger.ua.request("SUBSCRIBE", ALICE, net.now, headers=headers, contact=True)[1],
    )
    net.run(2.0)
    (answer,) = [m for _, m in stranger.received if isinstance(m, Response)]
    assert answer.status == status
    assert esc.events.notifier_count() == 0 and not ps.ua.dialogs and not esc.events.watchers


@pytest.mark.parametrize(("headers", "body", "content_type", "status"), PUBLISH_CASES)
def test_hostile_publish_stores_nothing(headers, body, content_type, status):  # type: ignore[no-untyped-def]
    net = Network()
    _, _, ps, _, _, esc = setup(net)
    stranger = net.add_ua(make_ua("mallory", seed=7))
    request = stranger.ua.build_request(
        "PUBLISH", ALICE, headers=headers, body=body, content_type=content_type
    )
    net.call(stranger, stranger.ua.send(request, net.now)[1])
    net.run(2.0)
    (answer,) = [m for _, m in stranger.received if isinstance(m, Response)]
    assert answer.status == status
    assert esc.store.count(net.now) == 0 and not ps.ua.dialogs


def test_many_subscribe_and_unsubscribe_rounds_leave_nothing_behind() -> None:
    net = Network()
    _, bob, ps, _, watcher, esc = setup(net)
    for _ in range(20):
        net.call(bob, watcher.subscribe(ALICE, "presence", net.now)[1])
        net.run(net.now + 1.0)
        (usage,) = watcher.live_subscriptions()
        net.call(bob, usage.unsubscribe(net.now))
        net.run(net.now + 1.0)
    net.run(net.now + 40.0)  # Timer N of every attempt, every transaction over
    assert esc.events.notifier_count() == 0 and not esc.events.watchers
    assert not ps.ua.dialogs and not bob.ua.dialogs
    assert not watcher.live_subscriptions() and not watcher._attempts
    assert not watcher.subscriptions
    assert not ps.ua._servers and not ps.ua._clients and not bob.ua._clients
