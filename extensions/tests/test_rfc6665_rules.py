"""RFC 6665: the finer rules (defaults, Accept, 202/204, re-subscription, packages)."""

from __future__ import annotations

import pytest

from extensions.rfc3856 import PIDF, PRESENCE
from extensions.rfc6665 import (
    PROBATION_DELAY,
    Event,
    EventPackage,
    EventsExtension,
    SubscriptionEnded,
    SubState,
    register_event_package,
    resubscribe_delay,
)
from extensions.tests.test_rfc6665 import BOB, TEXT, _peer, pair, requests, responses
from rfc3261.dialog import Dialog
from rfc3261.errors import ParseError
from rfc3261.message import Request, Response
from rfc3261.tests.ua_support import Network, make_ua, statuses


def notifier_of(b: EventsExtension):  # type: ignore[no-untyped-def]
    (usage,) = [u for ws in b.watchers.values() for u in ws]
    return usage


##= https://www.rfc-editor.org/rfc/rfc6665#section-3.1.1
##= type=test
##% If no "Expires" header field is present in a SUBSCRIBE request, the
##% implied default MUST be defined by the event package being used.
##= https://www.rfc-editor.org/rfc/rfc6665#section-5.4.4
##= type=test
##% Such packages MUST also define a default "Expires" value to be used
##% if none is specified.
##= https://www.rfc-editor.org/rfc/rfc6665#section-3.1.3
##= type=test
##% Event packages MUST define the behavior for SUBSCRIBE requests
##% without "Accept" header fields; usually, this will connote a single,
##% default body type.
##= https://www.rfc-editor.org/rfc/rfc6665#section-5.4.5
##= type=test
##% Event packages also MUST define which media type is to be assumed if
##% none are specified in the "Accept" header field of the SUBSCRIBE
##% request.
##= https://www.rfc-editor.org/rfc/rfc6665#section-3.2.1
##= type=test
##% When present, the body of the NOTIFY request MUST be formatted into
##% one of the body formats specified in the "Accept" header field of the
##% corresponding SUBSCRIBE request (or the default type according to the
##% event package description, if no "Accept" header field was
##% specified).
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.1
##= type=test
##% In particular, notifiers MUST NOT wait for a user response
##% before returning a final response to a SUBSCRIBE request.
##= https://www.rfc-editor.org/rfc/rfc6665#section-8.3.1
##= type=test
##% Implementations compliant with the present document MUST NOT send a
##% 202 response to a SUBSCRIBE request and will send an alternate success
##% response (such as 200) in its stead.
def test_defaults_without_expires_or_accept_and_an_accept_nothing_fits() -> None:
    net = Network()
    alice, _bob, _a, b = pair(net)
    b.set_state("x-text", "bob@bob.example.com", "here", net.now)
    for headers in ([("Event", "x-text")], [("Event", "x-text"), ("Accept", "image/png")]):
        net.call(alice, alice.ua.request("SUBSCRIBE", BOB, net.now, headers=headers)[1])
    net.run(2.0)
    ok, refused = sorted(responses(alice, "SUBSCRIBE"), key=lambda r: r.status)
    assert ok.status == 200 and ok.expires == TEXT.default_expires
    assert refused.status == 406 and refused.headers.get("Accept") == "text/plain"
    (notify,) = requests(alice, "NOTIFY")
    assert notify.content_type.mime_type == "text/plain" and notify.body == b"here"
    # both answered at once: one latency after each request arrived
    assert [t for t, _ in statuses(net, "bob.example.com")][:2] == [pytest.approx(0.01)] * 2
    # (Alice sent raw SUBSCRIBEs, without the extension's subscription: her answer is 481.)
    assert statuses(net, "alice.example.com") == [(pytest.approx(0.02), 481)]


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.4
##= type=test
##% As with the initial subscription, the server MAY shorten the amount of
##% time until expiration but MUST NOT increase it.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
##= type=test
##% however, this mechanism MUST NOT be used to lengthen a subscription.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% If the header field also contains an "expires" parameter, the subscriber SHOULD
##% take it as the authoritative subscription duration and adjust accordingly.
def test_a_refresh_is_never_lengthened_and_notify_expires_is_authoritative() -> None:
    net = Network()
    alice, bob, a, _b = pair(net)
    net.call(alice, a.subscribe(BOB, "x-text", net.now, expires=120)[1])
    net.run(1.0)
    (usage,) = a.live_subscriptions()
    net.call(alice, usage.refresh(net.now, expires=100000))
    net.run(2.0)
    assert responses(alice, "SUBSCRIBE")[-1].expires == 3600
    states = [n.header("Subscription-State") for n in requests(alice, "NOTIFY")]
    assert [s.expires for s in states] == [120, 3600]
    assert usage.expires_at == pytest.approx(net.now - 1.0 + 3600, abs=1.0)
    # a notifier shortening the subscription in a NOTIFY is believed
    net.call(
        bob,
        bob.ua.in_dialog(
            bob.ua.dialogs[_peer(usage)],
            "NOTIFY",
            net.now,
            headers=[("Event", "x-text"), ("Subscription-State", "active;expires=30")],
        )[1],
    )
    net.run(3.0)
    assert usage.expires_at == pytest.approx(2.01 + 30)


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.2.2
##= type=test
##% If a SUBSCRIBE request to refresh a subscription receives a 404, 405,
##% 410, 416, 480-485, 489, 501, or 604 response, the subscriber MUST
##% consider the subscription terminated.
def test_a_481_to_a_refresh_ends_the_subscription() -> None:
    net = Network()
    alice, _bob, a, b = pair(net)
    a.auto_refresh = True
    net.call(alice, a.subscribe(BOB, "x-text", net.now)[1])
    net.run(1.0)
    (usage,) = a.live_subscriptions()
    notifier_of(b)._remove("forgotten")  # Bob forgets it silently
    net.call(alice, usage.refresh(net.now))
    net.run(2.0)
    assert responses(alice, "SUBSCRIBE")[-1].status == 481
    assert usage.state is SubState.TERMINATED and not alice.ua.dialogs
    assert "refresh failed: 481" in [e.reason for e in alice.of(SubscriptionEnded)]


def _scripted_notifier(net: Network, status: int) -> list[Request]:
    """Replace Bob by a script answering SUBSCRIBE with ``status`` (and sending no NOTIFY)."""
    seen: list[Request] = []

    def script(request: Request) -> list[Response]:
        seen.append(request)
        response = request.make_response(status, to_tag="scripted")
        response.headers.add("Expires", "600")
        response.headers.add("Contact", "<sip:bob@bob.example.com>")
        return [response]

    net.add_script("bob.example.com", script)
    return seen


##= https://www.rfc-editor.org/rfc/rfc6665#section-8.3.1
##= type=test
##% Implementations conformant with the current specification MUST treat
##% an incoming 202 response as identical to a 200 response and MUST NOT
##% generate 202 response codes to SUBSCRIBE or NOTIFY requests.
def test_a_202_to_subscribe_is_a_200() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    a = EventsExtension([TEXT], notifier_of=())
    alice.ua.use(a)
    _scripted_notifier(net, 202)
    attempt, effects = a.subscribe(BOB, "x-text", net.now)
    net.call(alice, effects)
    net.run(1.0)
    (usage,) = attempt.usages.values()
    assert usage.state is SubState.NOTIFY_WAIT and usage.expires_at == pytest.approx(600.02)
    assert list(alice.ua.dialogs) == [usage.dialog.id]


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.2.2
##= type=test
##% If the subscriber receives a success response to the SUBSCRIBE
##% request that indicates that no NOTIFY request will be generated --
##% such as the 204 response defined for use with the optional extension
##% described in [RFC5839] -- then it MUST cancel Timer N.
def test_a_204_to_a_refresh_cancels_timer_n() -> None:
    net = Network()
    alice, _bob, a, _b = pair(net)
    net.call(alice, a.subscribe(BOB, "x-text", net.now)[1])
    net.run(1.0)
    (usage,) = a.live_subscriptions()
    _scripted_notifier(net, 204)
    net.call(alice, usage.refresh(net.now))
    assert usage.timer_n is not None
    net.run(2.0)
    assert usage.timer_n is None
    net.run(60.0)
    assert usage.state is SubState.ACTIVE  # no NOTIFY, and none was due


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% The "expires" parameter has no semantics for "terminated" --
##% notifiers SHOULD NOT include an "expires" parameter on a
##% "Subscription-State" header field with a value of "terminated", and
##% subscribers MUST ignore any such parameter, if present.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% If no reason code or an unknown reason code is present, the client MAY
##% attempt to re-subscribe at any time (unless a "retry-after" parameter
##% is present, in which case the client SHOULD NOT attempt re-
##% subscription until after the number of seconds specified by the
##% "retry-after" parameter).
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% probation: The subscription has been terminated, but the client
##% SHOULD retry at some later time (as long as the resource's state
##% is still relevant to the client at that time).  If a "retry-after"
##% parameter is also present, the client SHOULD wait at least the
##% number of seconds specified by that parameter before attempting to
##% re-subscribe.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% rejected: The subscription has been terminated due to change in
##% authorization policy.  Clients SHOULD NOT attempt to re-subscribe.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% timeout: The subscription has been terminated because it was not
##% refreshed before it expired.  Clients MAY re-subscribe
##% immediately.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% giveup: The subscription has been terminated because the notifier
##% could not obtain authorization in a timely fashion.  If a "retry-
##% after" parameter is also present, the client SHOULD wait at least
##% the number of seconds specified by that parameter before attempting
##% to re-subscribe
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% noresource: The subscription has been terminated because the
##% resource state that was being monitored no longer exists.  Clients
##% SHOULD NOT attempt to re-subscribe.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% Clients SHOULD NOT
##% attempt to re-subscribe after receiving a reason code of
##% "invariant", regardless of the presence of or value of a "retry-
##% after" parameter.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% deactivated: The subscription has been terminated, but the subscriber
##% SHOULD retry immediately with a new subscription.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.4.2
##= type=test
##% Upon receipt of this NOTIFY request, the subscriber SHOULD attempt
##% to re-subscribe (as described in the preceding sections).
@pytest.mark.parametrize(
    ("state", "resubscribes_after"),
    [
        ("terminated;reason=deactivated;expires=500", 0.0),
        ("terminated;reason=probation", PROBATION_DELAY),
        ("terminated;reason=probation;retry-after=20", 20.0),
        ("terminated;reason=giveup;retry-after=7", 7.0),
        ("terminated;reason=timeout", 0.0),
        ("terminated;reason=x-unknown;retry-after=3", 3.0),
        ("terminated", 0.0),
        ("terminated;reason=rejected", None),
        ("terminated;reason=noresource;retry-after=1", None),
        ("terminated;reason=invariant;retry-after=1", None),
    ],
)
def test_a_terminating_notify_ends_it_and_the_reason_says_when_to_retry(
    state: str, resubscribes_after: float | None
) -> None:
    net = Network()
    alice, bob, a, _b = pair(net)
    net.call(alice, a.subscribe(BOB, "x-text", net.now)[1])
    net.run(1.0)
    (usage,) = a.live_subscriptions()
    dialog: Dialog = bob.ua.dialogs[_peer(usage)]
    headers = [("Event", "x-text"), ("Subscription-State", state)]
    net.call(bob, bob.ua.in_dialog(dialog, "NOTIFY", net.now, headers=headers)[1])
    net.run(1.5)
    assert usage.state is SubState.TERMINATED and usage.expires_at != pytest.approx(501.0)
    net.run(100.0)
    subscribes = [t for t, m in bob.received if isinstance(m, Request) and m.method == "SUBSCRIBE"]
    if resubscribes_after is None:
        assert len(subscribes) == 1 and usage.resubscribe_at is None
    else:
        assert len(subscribes) == 2
        assert subscribes[1] == pytest.approx(1.01 + resubscribes_after, abs=0.05)
        assert usage.resubscribed is not None and len(a.live_subscriptions()) == 1


def test_resubscribe_delay_table() -> None:
    assert resubscribe_delay(None, None) == 0.0
    assert resubscribe_delay("x-unknown", 9) == 9.0
    assert resubscribe_delay("timeout", None) == 0.0


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.5.2
##= type=test
##% Subscribers MUST NOT attempt to reuse dialogs whose remote target is
##% a GRUU.
def test_no_subscription_in_a_dialog_whose_remote_target_is_a_gruu() -> None:
    ua = make_ua("alice")
    events = EventsExtension([TEXT])
    ua.use(events)
    request = ua.build_request("INVITE", "sip:bob@example.com")
    response = request.make_response(200, to_tag="b")
    response.headers.add("Contact", "<sip:bob@example.com;gr=urn:uuid:1>")
    dialog = Dialog.create_uac(request, response)
    with pytest.raises(ValueError, match="GRUU"):
        events.subscribe("sip:bob@example.com", "x-text", 0.0, dialog=dialog)


##= https://www.rfc-editor.org/rfc/rfc6665#section-8.2.1
##= type=test
##% There MUST be exactly one event type listed per "Event" header field.
##= https://www.rfc-editor.org/rfc/rfc6665#section-5.4.1
##= type=test
##% This section, which MUST be present, defines the token name to be
##% used to designate the event package.
##= https://www.rfc-editor.org/rfc/rfc6665#section-5.4.5
##= type=test
##% Each package MUST define what type or types of event bodies are
##% expected in NOTIFY requests.
##= https://www.rfc-editor.org/rfc/rfc6665#section-5.4.9
##= type=test
##% Each event package MUST specify whether forked SUBSCRIBE requests are
##% allowed to install multiple subscriptions.
def test_event_values_and_packages() -> None:
    for bad in ("presence, dialog", "presence dialog", ""):
        with pytest.raises(ParseError):
            Event.parse(bad)
    with pytest.raises(ValueError, match="token"):
        register_event_package(EventPackage("not a token"))
    with pytest.raises(ValueError, match="registered already"):
        register_event_package(EventPackage("presence"))
    assert (PRESENCE.name, PRESENCE.accept, PRESENCE.forking) == ("presence", (PIDF,), True)
    assert PRESENCE.content_type_for(None) == PIDF and PRESENCE.content_type_for(["*/*"]) == PIDF
    assert PRESENCE.content_type_for(["text/plain"]) is None
    assert EventPackage("x-bodiless").content_type_for(None) is None  # NOTIFYs without bodies


def test_a_package_that_forbids_forking_keeps_one_subscription() -> None:
    single = EventPackage("x-single", accept=("text/plain",), forking=False)
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    a = EventsExtension([single], notifier_of=())
    alice.ua.use(a)
    for name, seed in (("bob", 2), ("carol", 3)):
        node = net.add_ua(make_ua(name, seed=seed))
        node.ua.use(EventsExtension([single]))
    net.add_forker("fork.example.com", ["bob.example.com", "carol.example.com"])
    net.call(alice, a.subscribe("sip:bob@fork.example.com", "x-single", net.now)[1])
    net.run(2.0)
    assert len(a.live_subscriptions()) == 1
    assert sorted(s for _, s in statuses(net, "alice.example.com")) == [200, 481]
