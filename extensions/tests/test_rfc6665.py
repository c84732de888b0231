"""RFC 6665: SUBSCRIBE/NOTIFY between UAs in memory, time moved by hand."""

from __future__ import annotations

import itertools

import pytest

from extensions.rfc6665 import (
    Event,
    EventPackage,
    EventsExtension,
    NotifierUsage,
    SubscriptionEnded,
    SubscriptionFailed,
    SubscriptionState,
    SubscriptionUpdate,
    SubState,
)
from rfc3261.errors import ParseError
from rfc3261.message import Request, Response, parse
from rfc3261.tests.test_session import SDP
from rfc3261.tests.ua_support import Network, Node, make_ua, statuses

BOB = "sip:bob@bob.example.com"
TEST = EventPackage("x-test", accept=("text/plain",), default_expires=600, min_expires=60)


class Text(EventPackage):
    def render(self, state, content_type):  # type: ignore[no-untyped-def]
        if state is None:
            return b"", None
        return str(state).encode(), "text/plain"

    def parse(self, body, content_type):  # type: ignore[no-untyped-def]
        if body.startswith(b"!"):
            raise ValueError("malformed")
        return body.decode() or None


TEXT = Text("x-text", accept=("text/plain",), default_expires=600, min_expires=60, min_interval=5)


def pair(net: Network, **bob_kw: object) -> tuple[Node, Node, EventsExtension, EventsExtension]:
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    a = EventsExtension([TEXT, TEST], notifier_of=())
    b = EventsExtension([TEXT, TEST], **bob_kw)  # type: ignore[arg-type]
    alice.ua.use(a)
    bob.ua.use(b)
    return alice, bob, a, b


def requests(node: Node, method: str) -> list[Request]:
    return [m for _, m in node.received if isinstance(m, Request) and m.method == method]


def responses(node: Node, method: str | None = None) -> list[Response]:
    return [
        m
        for _, m in node.received
        if isinstance(m, Response) and (method is None or m.cseq.method == method)
    ]


def test_headers_parse_and_print() -> None:
    EventsExtension().install(make_ua("x"))
    event = Event.parse("presence;id=17;foo")
    assert (event.package, event.id, str(event)) == ("presence", "17", "presence;id=17;foo")
    assert event.key == "subscribe:presence;id=17"
    sub = SubscriptionState.parse("terminated;reason=probation;retry-after=30")
    assert (sub.state, sub.reason, sub.retry_after, sub.sub_state) == (
        "terminated",
        "probation",
        30,
        SubState.TERMINATED,
    )
    assert str(SubscriptionState("active", expires=10)) == "active;expires=10"
    for bad in ("", "active;expires=soon", "act ive", ";reason=x"):
        with pytest.raises(ParseError):
            SubscriptionState.parse(bad)
    message = parse(
        b"NOTIFY sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>;tag=1\r\n"
        b"From: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 NOTIFY\r\no: presence\r\n"
        b"u: presence, dialog\r\nContent-Length: 0\r\n\r\n"
    )
    assert message.header("Event") == Event("presence")
    assert message.header("Allow-Events") == ["presence", "dialog"]


##= https://www.rfc-editor.org/rfc/rfc6665#section-3.1.2
##= type=test
##% Subscribers MUST include exactly one "Event" header field in
##% SUBSCRIBE requests, indicating to which event or class of events they
##% are subscribing.
##= https://www.rfc-editor.org/rfc/rfc6665#section-3.1.1
##= type=test
##% SUBSCRIBE requests SHOULD contain an "Expires" header field (defined
##% in [RFC3261]).
##= https://www.rfc-editor.org/rfc/rfc6665#section-3.1.1
##= type=test
##% 200-class responses to SUBSCRIBE requests also MUST contain an
##% "Expires" header field.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
##= type=test
##% When a SUBSCRIBE request is answered with a 200-class response, the
##% notifier MUST immediately construct and send a NOTIFY request to the
##% subscriber.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.2
##= type=test
##% Upon successfully accepting or refreshing a subscription, notifiers
##% MUST send a NOTIFY request immediately to communicate the current
##% resource state to the subscriber.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
##= type=test
##% NOTIFY requests MUST contain a "Subscription-State" header field with
##% a value of "active", "pending", or "terminated".
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
##= type=test
##% If the value of the
##% "Subscription-State" header field is "active" or "pending", the
##% notifier MUST also include in the "Subscription-State" header field
##% an "expires" parameter that indicates the time remaining on the
##% subscription.
##= https://www.rfc-editor.org/rfc/rfc6665#section-3.2.1
##= type=test
##% As in SUBSCRIBE requests, NOTIFY request "Event" header fields MUST
##% contain a single event package name for which a notification is
##% being generated.  The package name in the "Event" header field MUST
##% match the "Event" header field in the corresponding SUBSCRIBE
##% request.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% Once the notification is deemed acceptable to the subscriber, the
##% subscriber SHOULD return a 200 response.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% In particular, subscribers MUST NOT wait for a user
##% response before returning a final response to a NOTIFY request.
##= https://www.rfc-editor.org/rfc/rfc6665#section-8.2.1
##= type=test
##% It MUST NOT appear in any other SIP requests and MUST
##% NOT appear in responses.
##= https://www.rfc-editor.org/rfc/rfc6665#section-8.2.3
##= type=test
##% They MUST NOT appear in other SIP requests or responses.
def test_subscribe_gets_200_with_expires_and_an_immediate_notify() -> None:
    net = Network()
    alice, bob, a, b = pair(net)
    b.set_state("x-text", "bob@bob.example.com", "online", net.now)
    _attempt, effects = a.subscribe(BOB, "x-text", net.now)
    net.call(alice, effects)
    net.run(1.0)
    (subscribe,) = requests(bob, "SUBSCRIBE")
    assert subscribe.headers.get_all("Event") == ["x-text"] and subscribe.expires == 600
    assert subscribe.contact
    (ok,) = responses(alice, "SUBSCRIBE")
    assert ok.status == 200 and ok.expires == 600 and ok.contact
    # Event and Subscription-State belong to SUBSCRIBE/NOTIFY requests, never to responses.
    assert "Event" not in ok.headers and "Subscription-State" not in ok.headers
    (notify,) = requests(alice, "NOTIFY")
    assert notify.header("Event") == Event("x-text")
    assert str(notify.header("Subscription-State")) == "active;expires=600"
    assert notify.body == b"online" and notify.headers.get("Content-Type") == "text/plain"
    (notify_ok,) = responses(bob, "NOTIFY")
    assert notify_ok.status == 200
    assert "Event" not in notify_ok.headers and "Subscription-State" not in notify_ok.headers
    # answered as it arrived (one latency after Bob sent it), before the application hears
    assert statuses(net, "alice.example.com") == [(pytest.approx(0.02), 200)]
    (update,) = alice.of(SubscriptionUpdate)
    assert update.state is SubState.ACTIVE
    usage = a.live_subscriptions()[0]
    assert usage.dialog.usage("subscribe:x-text") is usage
    assert b.notifier_count() == 1


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
##= type=test
##% When a change in the subscribed state occurs, the notifier SHOULD
##% immediately construct and send a NOTIFY request, unless the state
##% transition is caused by a NOTIFY transaction failure.
def test_state_change_notifies_within_the_rate_limit() -> None:
    net = Network()
    alice, bob, a, b = pair(net)
    net.call(alice, a.subscribe(BOB, "x-text", net.now)[1])
    net.run(1.0)
    net.call(bob, b.set_state("x-text", "bob@bob.example.com", "busy", net.now))
    net.call(bob, b.set_state("x-text", "bob@bob.example.com", "away", net.now))
    net.run(10.0)
    bodies = [n.body for n in requests(alice, "NOTIFY")]
    # the first NOTIFY at once, then one NOTIFY (5 s later) with the last state only
    assert bodies == [b"", b"away"]
    times = [t for t, m in alice.received if isinstance(m, Request) and m.method == "NOTIFY"]
    assert times[1] - times[0] == pytest.approx(5.0, abs=0.05)
    assert [u.content for u in alice.of(SubscriptionUpdate)] == [None, "away"]
    # a change long after the last NOTIFY is notified at once
    net.call(bob, b.set_state("x-text", "bob@bob.example.com", "back", net.now))
    net.run(11.0)
    (t, last) = [(t, m) for t, m in alice.received if isinstance(m, Request)][-1]
    assert last.body == b"back" and t == pytest.approx(10.01, abs=0.015)


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.2.4
##= type=test
##% Due to the potential for out-of-order messages, packet loss, and
##% forking, the subscriber MUST be prepared to receive NOTIFY requests
##% before the SUBSCRIBE transaction has completed.
def test_a_notify_before_the_2xx_creates_the_subscription() -> None:
    net = Network()
    alice, bob, a, _b = pair(net)
    dropped: list[int] = []

    def lose_first_200(src: str, dst: str, message: object) -> bool:
        if isinstance(message, Response) and message.cseq.method == "SUBSCRIBE" and not dropped:
            dropped.append(message.status)
            return True
        return False

    net.drop = lose_first_200
    net.call(alice, a.subscribe(BOB, "x-text", net.now)[1])
    net.run(5.0)
    assert dropped == [200]
    (notify_ok,) = responses(bob, "NOTIFY")
    assert notify_ok.status == 200  # accepted though the 200 to SUBSCRIBE was lost
    assert responses(alice, "SUBSCRIBE")[0].status == 200  # the retransmission's
    (usage,) = a.live_subscriptions()
    assert usage.state is SubState.ACTIVE and len(alice.ua.dialogs) == 1
    assert usage.expires_at == pytest.approx(net.now - 5.0 + 600, abs=1.0)


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.4
##= type=test
##% The subscriber MUST therefore be prepared to receive NOTIFY requests
##% with "From:" tags that differ from the "To:" tag received in the
##% SUBSCRIBE 200-class response.
def test_a_forked_subscribe_installs_one_subscription_per_notifier() -> None:
    net = Network()
    alice, bob, a, b = pair(net)
    carol = net.add_ua(make_ua("carol", seed=3))
    c = EventsExtension([TEXT, TEST])
    carol.ua.use(c)
    net.add_forker("fork.example.com", ["bob.example.com", "carol.example.com"])
    b.set_state("x-text", "bob@fork.example.com", "bob's", net.now)
    c.set_state("x-text", "bob@fork.example.com", "carol's", net.now)
    net.call(alice, a.subscribe("sip:bob@fork.example.com", "x-text", net.now)[1])
    net.run(2.0)
    usages = a.live_subscriptions()
    assert len(usages) == 2 and len({u.dialog.id for u in usages}) == 2
    assert sorted(u.content for u in usages) == ["bob's", "carol's"]
    assert [r.status for r in responses(bob, "NOTIFY") + responses(carol, "NOTIFY")] == [200, 200]


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% Upon receiving a NOTIFY request, the subscriber should check that it
##% matches at least one of its outstanding subscriptions; if not, it MUST
##% return a 481 (Subscription does not exist) response unless another
##% 400- or 500-class response is more appropriate.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% NOTIFY requests MUST contain "Subscription-State" header fields that
##% indicate the status of the subscription.
def test_notify_for_no_subscription_is_481_and_garbage_is_400() -> None:
    net = Network()
    alice, bob, a, _b = pair(net)
    net.call(alice, a.subscribe(BOB, "x-text", net.now)[1])
    net.run(1.0)
    (usage,) = a.live_subscriptions()
    # In a dialog Alice does not know (a made-up To tag), outside any dialog, for an
    # event the dialog has no subscription of, without or with a bad Subscription-State.
    stranger = bob.ua.build_request(
        "NOTIFY",
        "<sip:alice@alice.example.com>;tag=nope",
        headers=[("Event", "x-text"), ("Subscription-State", "active;expires=60")],
    )
    outside = bob.ua.build_request(
        "NOTIFY",
        "sip:alice@alice.example.com",
        headers=[("Event", "x-text"), ("Subscription-State", "active")],
    )
    net.call(bob, bob.ua.send(stranger, net.now)[1])
    net.call(bob, bob.ua.send(outside, net.now)[1])
    for headers in (
        [("Event", "x-test"), ("Subscription-State", "active;expires=60")],
        [("Event", "x-text")],
        [("Event", "x-text"), ("Subscription-State", "active;expires=never")],
    ):
        net.call(
            bob,
            bob.ua.in_dialog(bob.ua.dialogs[_peer(usage)], "NOTIFY", net.now, headers=headers)[1],
        )
    net.run(3.0)
    statuses = sorted(r.status for r in responses(bob, "NOTIFY"))
    assert statuses == [200, 400, 400, 481, 481, 481]
    assert usage.state is SubState.ACTIVE and len(a.live_subscriptions()) == 1


def _peer(usage):  # type: ignore[no-untyped-def]
    """Bob's id of the dialog of Alice's ``usage``."""
    from rfc3261.dialog import DialogId

    return DialogId(usage.dialog.id.call_id, usage.dialog.id.remote_tag, usage.dialog.id.local_tag)


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.1
##= type=test
##% The notifier SHOULD check that the event package specified in the
##% "Event" header field is understood.  If not, the notifier SHOULD
##% return a 489 (Bad Event) response to indicate that the specified
##% event/event class is not understood.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.3
##= type=test
##% If a notifier does not support PINT, it SHOULD return 489 (Bad
##% Event) to any SUBSCRIBE requests without an "Event" header field.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.4.4
##= type=test
##% The "Allow-Events" header field, if present, MUST include a
##% comprehensive and inclusive list of tokens that indicates the event
##% packages for which the user agent can act as a notifier.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1
##= type=test
##% Notifiers MUST NOT create subscriptions except upon receipt of a
##% SUBSCRIBE request.
def test_unknown_or_missing_event_is_489_with_allow_events() -> None:
    net = Network()
    alice, bob, _a, b = pair(net)
    for event in ("dialog", None):
        headers = [("Expires", "60")] + ([("Event", event)] if event else [])
        net.call(alice, alice.ua.request("SUBSCRIBE", BOB, net.now, headers=headers)[1])
    notify = [("Event", "x-text"), ("Subscription-State", "active;expires=60")]
    net.call(alice, alice.ua.request("NOTIFY", BOB, net.now, headers=notify)[1])
    net.run(2.0)
    assert responses(alice, "NOTIFY")[0].status == 481
    answers = responses(alice, "SUBSCRIBE")
    assert [r.status for r in answers] == [489, 489]
    assert all(r.header("Allow-Events") == ["x-text", "x-test"] for r in answers)
    assert b.notifier_count() == 0 and not bob.ua.dialogs


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.4
##= type=test
##% If the duration specified in a SUBSCRIBE request is unacceptably
##% short, the notifier SHOULD respond with a 423 (Interval Too Brief)
##% response.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.1
##= type=test
##% The "Expires" values present in SUBSCRIBE 200-class responses behave
##% in the same way as they do in REGISTER responses: the server MAY
##% shorten the interval but MUST NOT lengthen it.
##= https://www.rfc-editor.org/rfc/rfc6665#section-3.1.1
##= type=test
##% The period of time in the response MAY be shorter but MUST NOT be
##% longer than specified in the request.
def test_too_short_expires_is_423_and_the_subscriber_retries_with_min_expires() -> None:
    net = Network()
    alice, bob, a, _b = pair(net)
    net.call(alice, a.subscribe(BOB, "x-text", net.now, expires=10)[1])
    net.run(2.0)
    assert [r.status for r in responses(alice, "SUBSCRIBE")] == [423, 200]
    assert [s.expires for s in requests(bob, "SUBSCRIBE")] == [10, 60]
    assert responses(alice, "SUBSCRIBE")[0].header("Min-Expires") == 60
    assert responses(alice, "SUBSCRIBE")[1].expires == 60
    net.call(alice, a.subscribe(BOB, "x-text", net.now, expires=100000)[1])
    net.run(4.0)
    assert responses(alice, "SUBSCRIBE")[-1].expires == 3600  # shortened, never lengthened


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.2.3
##= type=test
##% Unsubscribing is handled in the same way as refreshing of a
##% subscription, with the "Expires" header field set to "0".
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% If the "Subscription-State" value is "terminated", the subscriber
##% MUST consider the subscription terminated.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
##= type=test
##% If the value of the "Subscription-State" header field is
##% "terminated", the notifier SHOULD also include a "reason" parameter.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.5.2
##= type=test
##% When a subscriber refreshes the subscription timer, the SUBSCRIBE
##% request MUST contain the same "Event" header field "id" parameter as
##% was present in the SUBSCRIBE request that created the subscription.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.5.2
##= type=test
##% If an "id" parameter is present in the SUBSCRIBE request used to
##% establish a subscription, that "id" parameter MUST also be present in
##% all corresponding NOTIFY requests.
def test_refresh_then_unsubscribe_with_expires_0_ends_both_sides() -> None:
    net = Network()
    alice, bob, a, b = pair(net)
    net.call(alice, a.subscribe(BOB, "x-text", net.now, id="7")[1])
    net.run(1.0)
    (usage,) = a.live_subscriptions()
    net.call(alice, usage.refresh(net.now))
    net.run(2.0)
    net.call(alice, usage.unsubscribe(net.now))
    net.run(3.0)
    subscribes = requests(bob, "SUBSCRIBE")
    assert [s.expires for s in subscribes] == [600, 600, 0]
    assert {str(s.header("Event")) for s in subscribes} == {"x-text;id=7"}
    notifies = requests(alice, "NOTIFY")
    assert {str(n.header("Event")) for n in notifies} == {"x-text;id=7"}
    assert [str(n.header("Subscription-State")) for n in notifies][
        -1
    ] == "terminated;reason=timeout"
    assert usage.state is SubState.TERMINATED and not a.live_subscriptions()
    assert b.notifier_count() == 0 and not bob.ua.dialogs and not alice.ua.dialogs
    assert alice.of(SubscriptionEnded) and bob.of(SubscriptionEnded)


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.4
##= type=test
##% When removing a subscription, the notifier SHOULD send a NOTIFY request
##% with a "Subscription-State" value of "terminated" to inform it that
##% the subscription is being removed.  If such a request is sent, the
##% "Subscription-State" header field SHOULD contain a "reason=timeout"
##% parameter.
def test_an_unrefreshed_subscription_expires_with_reason_timeout() -> None:
    net = Network()
    alice, _bob, a, b = pair(net)
    a.auto_refresh = False
    net.call(alice, a.subscribe(BOB, "x-text", net.now, expires=60)[1])
    net.run(59.0)
    assert b.notifier_count() == 1
    net.run(62.0)
    last = requests(alice, "NOTIFY")[-1]
    assert str(last.header("Subscription-State")) == "terminated;reason=timeout"
    assert b.notifier_count() == 0 and not a.live_subscriptions()


def test_the_subscriber_refreshes_before_expiry() -> None:
    net = Network()
    alice, bob, a, b = pair(net)
    net.call(alice, a.subscribe(BOB, "x-text", net.now, expires=60)[1])
    net.run(200.0)
    times = [t for t, m in bob.received if isinstance(m, Request) and m.method == "SUBSCRIBE"]
    assert len(times) >= 4 and all(later - t <= 60 for t, later in itertools.pairwise(times))
    assert len(a.live_subscriptions()) == 1 and b.notifier_count() == 1


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.2.4
##= type=test
##% To ensure that subscribers do not wait indefinitely for a
##% subscription to be established, a subscriber starts a Timer N, set to
##% 64*T1, when it sends a SUBSCRIBE request.  If this Timer N expires
##% prior to the receipt of a NOTIFY request, the subscriber considers
##% the subscription failed, and cleans up any state associated with the
##% subscription attempt.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.2.4
##= type=test
##% After the
##% expiration of Timer N, the subscriber SHOULD reject any such NOTIFY
##% requests that would otherwise establish a new dialog usage with a 481
##% (Subscription does not exist) response code.
def test_timer_n_fails_a_subscription_that_gets_no_notify() -> None:
    net = Network()
    alice, _bob, a, _b = pair(net)
    lost: list[Request] = []

    def lose_notify(src: str, dst: str, m: object) -> bool:
        if isinstance(m, Request) and m.method == "NOTIFY":
            lost.append(m)
            return True
        return False

    net.drop = lose_notify
    net.call(alice, a.subscribe(BOB, "x-text", net.now)[1])
    net.run(31.0)
    assert not alice.of(SubscriptionFailed) and len(alice.ua.dialogs) == 1
    net.run(33.0)
    (failed,) = alice.of(SubscriptionFailed)
    assert "Timer N" in failed.reason
    assert not a.live_subscriptions() and not alice.ua.dialogs and not a._attempts
    # a late NOTIFY creating a new usage is refused
    net.drop = lambda src, dst, m: False
    net.send("bob.example.com", lost[0], "alice.example.com")
    net.run(35.0)
    assert statuses(net, "alice.example.com")[-1][1] == 481


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
##= type=test
##% If the NOTIFY transaction fails due to the receipt of a 404, 405,
##% 410, 416, 480-485, 489, 501, or 604 response to the NOTIFY request,
##% the notifier MUST remove the corresponding subscription.
def test_a_481_to_a_notify_removes_the_subscription_at_the_notifier() -> None:
    net = Network()
    alice, bob, a, b = pair(net)
    net.call(alice, a.subscribe(BOB, "x-text", net.now)[1])
    net.run(1.0)
    (usage,) = a.live_subscriptions()
    usage.end("forgotten locally", net.now)  # Alice forgets without telling Bob
    net.call(bob, b.set_state("x-text", "bob@bob.example.com", "new", net.now))
    net.run(10.0)
    assert responses(bob, "NOTIFY")[-1].status == 481
    assert b.notifier_count() == 0 and not bob.ua.dialogs


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
##= type=test
##% If the NOTIFY request fails due to expiration of SIP Timer F
##% (transaction timeout), the notifier SHOULD remove the subscription.
def test_a_notify_timeout_removes_the_subscription() -> None:
    net = Network()
    alice, bob, a, b = pair(net)
    net.call(alice, a.subscribe(BOB, "x-text", net.now)[1])
    net.run(1.0)
    net.drop = lambda src, dst, m: dst == "alice.example.com"
    net.call(bob, b.set_state("x-text", "bob@bob.example.com", "new", net.now))
    net.run(60.0)
    assert b.notifier_count() == 0 and not bob.ua.dialogs


##= https://www.rfc-editor.org/rfc/rfc6665#section-6.2
##= type=test
##% While the subsequent NOTIFY request may not convey true state, it MUST
##% appear to contain a potentially correct piece of data from the point
##% of view of the subscriber, indistinguishable from a valid response.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% there is insufficient policy
##% information to grant or deny the subscription yet.  If the header
##% field also contains an "expires" parameter, the subscriber SHOULD
##% take it as the authoritative subscription duration and adjust
##% accordingly.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.2.4
##= type=test
##% Event package specifications MUST define this "neutral state"
##% in such a way that makes sense for their application (see
##% Section 5.4.7).
def test_a_pending_subscription_gets_the_neutral_state_until_authorized() -> None:
    net = Network()
    alice, bob, a, b = pair(net, authorize=lambda request, package: "pending")
    b.set_state("x-text", "bob@bob.example.com", "secret", net.now)
    net.call(alice, a.subscribe(BOB, "x-text", net.now)[1])
    net.run(1.0)
    (notify,) = requests(alice, "NOTIFY")
    assert str(notify.header("Subscription-State")).startswith("pending;expires=")
    assert notify.body == b""
    (usage,) = a.live_subscriptions()
    assert usage.state is SubState.PENDING
    headers = [("Event", "x-text"), ("Subscription-State", "pending;expires=40")]
    net.call(
        bob, bob.ua.in_dialog(bob.ua.dialogs[_peer(usage)], "NOTIFY", net.now, headers=headers)[1]
    )
    net.run(1.5)
    assert usage.expires_at == pytest.approx(1.01 + 40)
    (notifier,) = [u for ws in b.watchers.values() for u in ws]
    assert isinstance(notifier, NotifierUsage)
    net.call(bob, notifier.activate(net.now))
    net.run(2.0)
    assert requests(alice, "NOTIFY")[-1].body == b"secret"
    assert a.live_subscriptions()[0].state is SubState.ACTIVE


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.3
##= type=test
##% If authorization fails based on an access list or some other
##% automated mechanism (i.e., it can be automatically authoritatively
##% determined that the subscriber is not authorized to subscribe), the
##% notifier SHOULD reply to the request with a 403 (Forbidden) or 603
##% (Decline) response, unless doing so might reveal information that
##% should stay private; see Section 6.2.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.1
##= type=test
##% The notifier SHOULD also perform any necessary authentication and
##% authorization per its local policy.
def test_refused_subscription_is_403_and_fails_without_leaking() -> None:
    net = Network()
    alice, _bob, a, b = pair(net, authorize=lambda request, package: 403)
    net.call(alice, a.subscribe(BOB, "x-text", net.now)[1])
    net.run(40.0)
    (failed,) = alice.of(SubscriptionFailed)
    assert failed.response is not None and failed.response.status == 403
    assert not a._attempts and not alice.ua.dialogs and b.notifier_count() == 0


def test_a_malformed_notify_body_is_400_and_changes_nothing() -> None:
    net = Network()
    alice, bob, a, b = pair(net)
    net.call(alice, a.subscribe(BOB, "x-text", net.now)[1])
    net.run(1.0)
    net.call(bob, b.set_state("x-text", "bob@bob.example.com", "!bad", net.now))
    net.run(10.0)
    assert responses(bob, "NOTIFY")[-1].status == 400
    assert a.live_subscriptions()[0].content is None


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.4.4
##= type=test
##% Any user agent that can act as a notifier for one or more event
##% packages SHOULD include an appropriate "Allow-Events" header field
##% indicating all supported events in all methods which initiate dialogs
##% and their responses (such as INVITE) and OPTIONS responses.
def test_allow_events_in_options_and_dialog_creating_messages() -> None:
    net = Network()
    alice, bob, a, b = pair(net)
    net.call(alice, alice.ua.request("OPTIONS", BOB, net.now)[1])
    net.call(bob, b.subscribe("sip:alice@alice.example.com", "x-text", net.now)[1])
    net.call(alice, a.subscribe(BOB, "x-text", net.now)[1])
    net.run(2.0)
    (options_ok,) = responses(alice, "OPTIONS")
    assert options_ok.header("Allow-Events") == ["x-text", "x-test"]
    assert requests(alice, "SUBSCRIBE")[0].header("Allow-Events") == ["x-text", "x-test"]
    assert "Allow-Events" not in requests(bob, "SUBSCRIBE")[0].headers  # Alice: notifier of none


def test_a_subscription_shares_an_invite_dialog() -> None:
    """RFC 5057: a SUBSCRIBE inside an INVITE dialog adds a usage to it."""
    from rfc3261.session import IncomingCall

    net = Network()
    alice, bob, a, b = pair(net)
    bob.on_event = lambda n, e: (
        n.call(bob, bob.ua.sessions.answer(e.call, n.now, body=SDP))
        if isinstance(e, IncomingCall)
        else None
    )
    net.call(alice, alice.ua.sessions.invite(BOB, net.now, body=SDP)[1])
    net.run(1.0)
    (dialog,) = alice.ua.dialogs.values()
    net.call(alice, a.subscribe(BOB, "x-text", net.now, dialog=dialog)[1])
    net.run(2.0)
    (usage,) = a.live_subscriptions()
    assert usage.dialog is dialog and set(dialog.usages) == {"invite", "subscribe:x-text"}
    (bob_dialog,) = bob.ua.dialogs.values()
    assert set(bob_dialog.usages) == {"invite", "subscribe:x-text"}
    (notifier,) = [u for ws in b.watchers.values() for u in ws]
    net.call(bob, notifier.terminate(net.now))
    net.run(3.0)
    assert set(bob_dialog.usages) == {"invite"} and not bob_dialog.terminated
    assert set(dialog.usages) == {"invite"} and not dialog.terminated
    assert alice.ua.dialogs == {dialog.id: dialog}


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.6
##= type=test
##% If a User Agent Server (UAS) receives a CANCEL request that matches a
##% known SUBSCRIBE or NOTIFY transaction, it MUST respond to the CANCEL
##% request, but otherwise ignore it.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.6
##= type=test
##% In particular, the CANCEL request MUST NOT
##% affect processing of the SUBSCRIBE or NOTIFY request in any way.
def test_a_cancel_of_a_subscribe_is_answered_and_otherwise_ignored() -> None:
    net = Network()
    alice, bob, a, b = pair(net)
    b.set_state("x-text", "bob@bob.example.com", "online", net.now)
    _attempt, effects = a.subscribe(BOB, "x-text", net.now)
    net.call(alice, effects)
    net.run(0.5)
    (subscribe,) = requests(bob, "SUBSCRIBE")
    # A CANCEL for that SUBSCRIBE transaction (§9.1: its Via, Call-ID, From, To, CSeq number).
    cancel = Request(
        "CANCEL",
        subscribe.uri,
        [
            ("Via", subscribe.headers.get_all("Via")[0]),
            ("Max-Forwards", "70"),
            ("From", subscribe.headers.get("From")),
            ("To", subscribe.headers.get("To")),
            ("Call-ID", subscribe.call_id),
            ("CSeq", f"{subscribe.cseq.number} CANCEL"),
            ("Content-Length", "0"),
        ],
    )
    net.send("alice.example.com", cancel, "bob.example.com")
    net.run(net.now + 0.5)
    assert [r.status for r in responses(alice, "CANCEL")] == [200]
    assert [r.status for r in responses(alice, "SUBSCRIBE")] == [200]  # no 487 after it
    state_changes = len(requests(alice, "NOTIFY"))
    b.set_state("x-text", "bob@bob.example.com", "away", net.now + 10)
    net.run(net.now + 11)
    assert len(requests(alice, "NOTIFY")) == state_changes + 1  # still subscribed
