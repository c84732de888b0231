"""RFC 3515 REFER (with RFC 3420 sipfrag, RFC 3892 Referred-By): UAs in memory."""

from __future__ import annotations

import itertools
from typing import Any

from extensions.rfc3420 import SipFrag
from extensions.rfc3515 import (
    REFER_PACKAGE,
    ReferExtension,
    ReferReceived,
    refer_to_with_replaces,
)
from extensions.rfc3891 import replaces_value
from extensions.rfc6665 import (
    NotifierUsage,
    SubscriptionEnded,
    SubscriptionFailed,
    SubscriptionUpdate,
    SubState,
)
from rfc3261.message import Request, Response
from rfc3261.session import CallEstablished, IncomingCall
from rfc3261.tests.ua_support import Network, Node, make_ua

SDP = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n"
CAROL = "sip:carol@carol.example.com"


def answering(node: Node, *, ring: bool = True) -> None:
    def on_event(net: Network, event: Any) -> None:
        if isinstance(event, IncomingCall):
            if ring:
                net.call(node, node.ua.sessions.ring(event.call, net.now))
            net.call(node, node.ua.sessions.answer(event.call, net.now, body=SDP))

    node.on_event = on_event


def three(**bob_kw: Any) -> tuple[Network, Node, Node, Node, ReferExtension, ReferExtension]:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    carol = net.add_ua(make_ua("carol", seed=3))
    a, b = ReferExtension(), ReferExtension(**bob_kw)
    alice.ua.use(a)
    bob.ua.use(b)
    answering(bob, ring=False)
    answering(carol)
    return net, alice, bob, carol, a, b


def call(net: Network, alice: Node) -> Any:
    """Alice calls Bob; the established call."""
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", net.now, body=SDP)
    net.call(alice, effects)
    net.run(net.now + 1)
    assert alice.of(CallEstablished)
    return call


def received(node: Node, method: str) -> list[Request]:
    return [m for _, m in node.received if isinstance(m, Request) and m.method == method]


def answers(node: Node, method: str) -> list[Response]:
    return [m for _, m in node.received if isinstance(m, Response) and m.cseq.method == method]


def updates(node: Node) -> list[SubscriptionUpdate]:
    return node.of(SubscriptionUpdate)


def test_blind_transfer_in_a_call() -> None:
    net, alice, bob, carol, a, b = three()
    first = call(net, alice)
    _attempt, effects = a.refer(CAROL, net.now, dialog=first.established)
    net.call(alice, effects)
    net.run(net.now + 5)
    (refer,) = received(bob, "REFER")
    assert refer.headers.get("Refer-To") == CAROL
    assert refer.contact and len(refer.contact) == 1
    assert [r.status for r in answers(alice, "REFER")] == [202]
    # Bob called Carol: the INVITE goes to the Refer-To URI.
    (invite,) = received(carol, "INVITE")
    assert str(invite.uri) == CAROL
    notifies = received(alice, "NOTIFY")
    bodies = [SipFrag.parse(n.body).status for n in notifies]
    assert bodies[0] == 100 and bodies[-1] == 200
    assert all(n.headers.get("Content-Type").startswith("message/sipfrag") for n in notifies)
    assert all(n.header("Event").package == "refer" for n in notifies)
    assert notifies[-1].header("Subscription-State").state == "terminated"
    assert notifies[-1].header("Subscription-State").reason == "noresource"
    states = [u.state for u in updates(alice)]
    assert states[0] is SubState.ACTIVE and states[-1] is SubState.TERMINATED
    assert updates(alice)[-1].content.status == 200
    # Nothing left behind: both subscriptions ended, the call dialog still there.
    assert b.events.notifier_count() == 0 and not a.events.live_subscriptions()
    assert not b.referrals
    assert first.established.usage("invite") is first
    assert not [k for k in first.established.usages if k.startswith("subscribe")]
    assert bob.of(ReferReceived)


def test_refer_outside_a_dialog_creates_one() -> None:
    net, alice, bob, carol, a, _b = three()
    _attempt, effects = a.refer(CAROL, net.now, target="sip:bob@bob.example.com")
    net.call(alice, effects)
    net.run(net.now + 5)
    (refer,) = received(bob, "REFER")
    assert refer.to.tag is None and len(refer.contact) == 1
    (accepted,) = answers(alice, "REFER")
    assert accepted.status == 202 and accepted.contact
    notifies = received(alice, "NOTIFY")
    assert [SipFrag.parse(n.body).status for n in notifies][-1] == 200
    assert all(n.call_id == refer.call_id for n in notifies)
    assert updates(alice)[-1].state is SubState.TERMINATED
    assert received(carol, "INVITE")


def test_refer_without_refer_to_is_400_and_leaves_nothing() -> None:
    net, alice, _bob, carol, _a, b = three()
    for headers in ([], [("Refer-To", CAROL), ("Refer-To", CAROL)], [("Refer-To", "not a uri")]):
        _client, effects = alice.ua.request(
            "REFER", "sip:bob@bob.example.com", net.now, headers=headers
        )
        net.call(alice, effects)
        net.run(net.now + 1)
    assert [r.status for r in answers(alice, "REFER")] == [400, 400, 400]
    assert b.events.notifier_count() == 0 and not b.referrals
    assert not received(carol, "INVITE") and not received(alice, "NOTIFY")


def test_refused_refer_is_a_failed_subscription() -> None:
    net, alice, _bob, carol, a, _b = three(approve=lambda referral: False)
    attempt, effects = a.refer(CAROL, net.now, target="sip:bob@bob.example.com")
    net.call(alice, effects)
    net.run(net.now + 40)
    assert [r.status for r in answers(alice, "REFER")] == [403]
    (failed,) = alice.of(SubscriptionFailed)
    assert failed.attempt is attempt
    assert not a.events._attempts and not received(carol, "INVITE")


def test_subscribe_to_refer_is_403() -> None:
    net, alice, _bob, _carol, a, b = three()
    _, effects = a.events.subscribe("sip:bob@bob.example.com", "refer", net.now)
    net.call(alice, effects)
    net.run(net.now + 1)
    assert [r.status for r in answers(alice, "SUBSCRIBE")] == [403]
    assert b.events.notifier_count() == 0


def test_second_refer_in_a_dialog_has_an_id() -> None:
    net, alice, bob, _carol, a, _b = three()
    first = call(net, alice)
    for _ in range(2):
        _, effects = a.refer(CAROL, net.now, dialog=first.established)
        net.call(alice, effects)
        net.run(net.now + 5)
    refers = received(bob, "REFER")
    notifies = received(alice, "NOTIFY")
    ids = {n.header("Event").id for n in notifies}
    assert ids == {None, str(refers[1].cseq.number)}
    assert [u.content.status for u in updates(alice) if u.state is SubState.TERMINATED] == [
        200,
        200,
    ]


def test_failed_reference_is_reported() -> None:
    net, alice, _bob, carol, a, _b = three()
    carol.on_event = lambda net, e: (
        net.call(carol, carol.ua.sessions.reject(e.call, net.now, 486))
        if isinstance(e, IncomingCall)
        else None
    )
    first = call(net, alice)
    _, effects = a.refer(CAROL, net.now, dialog=first.established)
    net.call(alice, effects)
    net.run(net.now + 5)
    final = updates(alice)[-1]
    assert final.state is SubState.TERMINATED and final.content.status == 486


def test_pending_approval_then_decline() -> None:
    net, alice, bob, carol, a, b = three(approve=lambda referral: None)
    _, effects = a.refer(CAROL, net.now, target="sip:bob@bob.example.com")
    net.call(alice, effects)
    net.run(net.now + 1)
    (event,) = bob.of(ReferReceived)
    assert event.pending and updates(alice)[0].state is SubState.PENDING
    net.call(bob, b.decline(event.referral, net.now))
    net.run(net.now + 2)
    final = updates(alice)[-1]
    assert final.state is SubState.TERMINATED and final.content.status == 603
    assert not received(carol, "INVITE") and b.events.notifier_count() == 0


def test_unsubscribing_does_not_cancel_the_reference() -> None:
    net, alice, _bob, carol, a, b = three()
    carol.on_event = None  # Carol never answers
    first = call(net, alice)
    _, effects = a.refer(CAROL, net.now, dialog=first.established)
    net.call(alice, effects)
    net.run(net.now + 1)
    (usage,) = a.events.live_subscriptions()
    net.call(alice, usage.unsubscribe(net.now))
    net.run(net.now + 2)
    assert alice.of(SubscriptionEnded)
    assert b.events.notifier_count() == 0
    assert not received(carol, "CANCEL")


def test_attended_transfer_refer_to_carries_replaces() -> None:
    net, alice, _bob, carol, a, _b = three()
    first = call(net, alice)
    second, effects = alice.ua.sessions.invite(CAROL, net.now, body=SDP)
    net.call(alice, effects)
    net.run(net.now + 2)
    replaces = replaces_value(second.established.id)
    refer_to = refer_to_with_replaces(CAROL, replaces)
    _, effects = a.refer(refer_to, net.now, dialog=first.established)
    net.call(alice, effects)
    net.run(net.now + 5)
    invites = received(carol, "INVITE")
    assert invites[-1].headers.get("Replaces") == replaces
    assert str(invites[-1].uri) == CAROL


def test_referred_by_is_copied() -> None:
    net, alice, bob, carol, a, _b = three()
    _, effects = a.refer(
        CAROL, net.now, target="sip:bob@bob.example.com", referred_by="<sip:alice@example.com>"
    )
    net.call(alice, effects)
    net.run(net.now + 5)
    (refer,) = received(bob, "REFER")
    (invite,) = received(carol, "INVITE")
    assert invite.headers.get("Referred-By") == refer.headers.get("Referred-By")
    assert invite.headers.get("Referred-By") == "<sip:alice@example.com>"


def test_notifier_usage_is_refer_package() -> None:
    net, alice, _bob, carol, a, b = three()
    carol.on_event = None
    first = call(net, alice)
    _, effects = a.refer(CAROL, net.now, dialog=first.established)
    net.call(alice, effects)
    net.run(net.now + 1)
    (usage,) = [u for w in b.events.watchers.values() for u in w]
    assert isinstance(usage, NotifierUsage) and usage.package is REFER_PACKAGE


def test_refer_to_a_non_sip_uri_is_refused() -> None:
    net, alice, _bob, _carol, a, b = three()
    _, effects = a.refer("<http://www.example.com/>", net.now, target="sip:bob@bob.example.com")
    net.call(alice, effects)
    net.run(net.now + 1)
    assert [r.status for r in answers(alice, "REFER")] == [403]
    assert b.events.notifier_count() == 0 and not b.referrals


def test_notify_before_the_202() -> None:
    net, alice, bob, _carol, a, _b = three()
    dropped: list[Any] = []

    def drop_first_202(src: str, dst: str, message: Any) -> bool:
        if isinstance(message, Response) and message.status == 202 and not dropped:
            dropped.append(message)
            return True
        return False

    net.drop = drop_first_202
    first = call(net, alice)
    _, effects = a.refer(CAROL, net.now, dialog=first.established)
    net.call(alice, effects)
    net.run(net.now + 5)
    assert dropped
    first_notify = min(t for t, m in alice.received if isinstance(m, Request))
    first_202 = min(
        t for t, m in alice.received if isinstance(m, Response) and m.cseq.method == "REFER"
    )
    assert first_notify < first_202
    assert next(r.status for r in answers(bob, "NOTIFY")) == 200
    assert updates(alice)[-1].content.status == 200


def test_broken_sipfrag_is_400_and_leaks_nothing() -> None:
    net, alice, bob, carol, a, b = three()
    carol.on_event = None
    first = call(net, alice)
    _, effects = a.refer(CAROL, net.now, dialog=first.established)
    net.call(alice, effects)
    net.run(net.now + 1)
    (usage,) = a.events.live_subscriptions()
    (notifier,) = [u for w in b.events.watchers.values() for u in w]
    for body, content_type in (
        (b"SIP/2.0 2000 OK\r\n", "message/sipfrag"),
        (b'Warning: 399 x "y"\r\n', "message/sipfrag"),
        (b"SIP/2.0 200 OK\r\n", "text/plain"),
    ):
        _, effects = bob.ua.in_dialog(
            notifier.dialog,
            "NOTIFY",
            net.now,
            headers=[("Event", "refer"), ("Subscription-State", "active;expires=60")],
            body=body,
            content_type=content_type,
        )
        net.call(bob, effects)
        net.run(net.now + 1)
    # A status code of four digits, no Status-Line: 400; not a sipfrag at all: 415.
    assert [r.status for r in answers(bob, "NOTIFY")][-3:] == [400, 400, 415]
    assert usage.content.status == 100  # the last good report stands
    # Carol rejects now: the final NOTIFY ends both sides' subscriptions.
    (invite_call,) = [c for c in carol.ua.sessions.calls if not c.ended]
    net.call(carol, carol.ua.sessions.reject(invite_call, net.now, 480))
    net.run(net.now + 3)
    assert not a.events.live_subscriptions() and b.events.notifier_count() == 0


def test_refresh_of_the_second_refer_names_its_id() -> None:
    net, alice, bob, carol, a, _b = three()
    carol.on_event = None
    first = call(net, alice)
    for _ in range(2):
        _, effects = a.refer(CAROL, net.now, dialog=first.established)
        net.call(alice, effects)
        net.run(net.now + 1)
    second_refer = received(bob, "REFER")[1]
    usage = next(u for u in a.events.live_subscriptions() if u.event.id is not None)
    net.call(alice, usage.refresh(net.now))
    net.run(net.now + 1)
    (subscribe,) = received(bob, "SUBSCRIBE")
    assert subscribe.header("Event").id == str(second_refer.cseq.number)
    assert [r.status for r in answers(alice, "SUBSCRIBE")] == [200]


def test_notifies_a_second_apart_and_subscription_outlasts_the_invite() -> None:
    net, alice, _bob, carol, a, _b = three()
    first = call(net, alice)
    _, effects = a.refer(CAROL, net.now, dialog=first.established)
    net.call(alice, effects)
    net.run(net.now + 5)
    times = [t for t, m in alice.received if isinstance(m, Request) and m.method == "NOTIFY"]
    assert len(times) >= 2
    assert all(b - a >= 1.0 - 1e-6 for a, b in itertools.pairwise(times))
    (invite,) = received(carol, "INVITE")
    first_notify = received(alice, "NOTIFY")[0]
    assert first_notify.header("Subscription-State").expires > invite.expires


def test_registrar_answers_refer_with_405() -> None:
    from rfc3261.location import SqliteLocationService
    from rfc3261.registrar import Registrar, RegistrarConfig
    from rfc3261.tests.server_support import register

    registrar = Registrar(
        SqliteLocationService(), RegistrarConfig(domains=frozenset({"example.com"}))
    )
    refer = Request("REFER", "sip:example.com", register().headers.copy())
    assert registrar.handle(refer, 0).status == 405


def test_same_identity_to_referrer_and_target() -> None:
    net, alice, _bob, carol, a, _b = three()
    _, effects = a.refer(CAROL, net.now, target="sip:bob@bob.example.com")
    net.call(alice, effects)
    net.run(net.now + 5)
    (invite,) = received(carol, "INVITE")
    notify = received(alice, "NOTIFY")[0]
    assert invite.from_.uri == notify.from_.uri
