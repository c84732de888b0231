"""RFC 3515 REFER (with RFC 3420 sipfrag, RFC 3892 Referred-By): UAs in memory."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

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


##= https://www.rfc-editor.org/rfc/rfc3515#section-2
##= type=test
##% REFERs occurring inside an existing dialog MUST follow the Route/Record-
##% Route logic of that dialog.
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.1
##= type=test
##% A REFER request MUST contain exactly one Refer-To header field value.
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
##= type=test
##% If approval is granted, the UA MUST contact the resource identified by
##% the URI in the Refer-To header field value as discussed in Section
##% 2.4.3.
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
##= type=test
##% If no final response has been generated according to the rules above,
##% the UA MUST return a 202 Accepted response before the REFER
##% transaction expires.
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
##= type=test
##% If a REFER request is accepted (that is, a 2xx class response is
##% returned), the recipient MUST create a subscription and send
##% notifications of the status of the refer as described in Section
##% 2.4.4.
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
##= type=test
##% The NOTIFY mechanism defined in [2] MUST be used to inform the agent
##% sending the REFER of the status of the reference.
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
##= type=test
##% Each NOTIFY MUST contain an Event header field with a value of refer
##% and possibly an id parameter (see Section 2.4.6).
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
##= type=test
##% Each NOTIFY MUST contain a body of type "message/sipfrag" [3].
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.5
##= type=test
##% Each NOTIFY MUST contain a body of type "message/sipfrag" [3].
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.7
##= type=test
##% The final NOTIFY sent in response to a REFER MUST indicate the
##% subscription has been "terminated" with a reason of "noresource".
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


##= https://www.rfc-editor.org/rfc/rfc3515#section-2
##= type=test
##% A REFER request MAY be placed outside the scope of a dialog created
##% with an INVITE.
##= https://www.rfc-editor.org/rfc/rfc3515#section-2
##= type=test
##% REFER creates a dialog, and MAY be Record-Routed, hence MUST contain a
##% single Contact header field value.
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
    # The REFER's dialog had one usage, the subscription: it is gone on both sides.
    assert not alice.ua.dialogs
    assert all(d.call_id != refer.call_id for d in bob.ua.dialogs)


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
##= type=test
##% An agent responding to a REFER method MUST return a 400 (Bad Request)
##% if the request contained zero or more than one Refer-To header field
##% values.
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


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
##= type=test
##% A UA accepting a well-formed REFER request SHOULD request approval
##% from the user to proceed (this request could be satisfied with an
##% interactive query or through accessing configured policy).
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
##= type=test
##% If the approval sought above for a well-formed REFER request is
##% immediately denied, the UA MAY decline the request.
def test_refused_refer_is_a_failed_subscription() -> None:
    net, alice, _bob, carol, a, _b = three(approve=lambda referral: False)
    attempt, effects = a.refer(CAROL, net.now, target="sip:bob@bob.example.com")
    net.call(alice, effects)
    net.run(net.now + 40)
    assert [r.status for r in answers(alice, "REFER")] == [403]
    (failed,) = alice.of(SubscriptionFailed)
    assert failed.attempt is attempt
    assert not a.events._attempts and not received(carol, "INVITE")


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
##= type=test
##% If a SUBSCRIBE request for event refer is received for a
##% subscription that does not already exist, it MUST be rejected with a
##% 403.
def test_subscribe_to_refer_is_403() -> None:
    net, alice, _bob, _carol, a, b = three()
    _, effects = a.events.subscribe("sip:bob@bob.example.com", "refer", net.now)
    net.call(alice, effects)
    net.run(net.now + 1)
    assert [r.status for r in answers(alice, "SUBSCRIBE")] == [403]
    assert b.events.notifier_count() == 0


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.6
##= type=test
##% Thus, for the second and subsequent REFER requests a UA receives in a
##% given dialog, it MUST include an id parameter[2] in the Event header
##% field of each NOTIFY containing the sequence number (the number from
##% the CSeq header field value) of the REFER this NOTIFY is associated
##% with.
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


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.5
##= type=test
##% If a NOTIFY is generated when the subscription state is pending, its
##% body should consist only of a status line containing a response code
##% of 100.
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


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
##= type=test
##% In particular, an agent acting on a REFER request SHOULD NOT issue a
##% CANCEL to any referenced SIP requests because the agent sending the
##% REFER terminated its subscription to the refer event before the
##% referenced request completes.
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.7
##= type=test
##% The final NOTIFY sent in response to a REFER MUST indicate the
##% subscription has been "terminated" with a reason of "noresource".
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
    final = received(alice, "NOTIFY")[-1].header("Subscription-State")
    assert (final.state, final.reason) == ("terminated", "noresource")
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


##= https://www.rfc-editor.org/rfc/rfc3892#section-2.2
##= type=test
##% A UA accepting a REFER request (a referee) to a SIP URI (using either
##% the sip: or sips: scheme) MUST copy any Referred-By header field value
##% and token into the referenced request without modification.
##= https://www.rfc-editor.org/rfc/rfc3892#section-2.1
##= type=test
##% A UA sending a REFER request (a referrer) MAY provide a Referred-By
##% header field value in the request.
##= https://www.rfc-editor.org/rfc/rfc3892#section-2.1
##= type=test
##% A REFER request MUST NOT contain more than one Referred-By header field
##% value.
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


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
##= type=test
##% A UA not capable of accessing non-SIP URIs SHOULD NOT accept REFER
##% requests to them.
def test_refer_to_a_non_sip_uri_is_refused() -> None:
    net, alice, _bob, _carol, a, b = three()
    _, effects = a.refer("<http://www.example.com/>", net.now, target="sip:bob@bob.example.com")
    net.call(alice, effects)
    net.run(net.now + 1)
    assert [r.status for r in answers(alice, "REFER")] == [403]
    assert b.events.notifier_count() == 0 and not b.referrals


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
##= type=test
##% Analogous to the case for SUBSCRIBE described in that document, the
##% agent that issued the REFER MUST be prepared to receive a NOTIFY before
##% the REFER transaction completes.
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


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.5
##= type=test
##% The body of a NOTIFY MUST begin with a SIP Response Status-Line as
##% defined in [1].
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


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.6
##= type=test
##% A SUBSCRIBE sent to refresh or terminate this subscription MUST contain
##% this id parameter.
##= https://www.rfc-editor.org/rfc/rfc3515#section-3.4
##= type=test
##% The subscribing agent MAY extend the subscription by refreshing it, or
##% terminate it by unsubscribing.
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


##= https://www.rfc-editor.org/rfc/rfc3515#section-3.10
##= type=test
##% NOTIFYs to event refer SHOULD NOT be sent more frequently than once per second.
##= https://www.rfc-editor.org/rfc/rfc3515#section-3.4
##= type=test
##% Additional time MAY be included to account for time needed to
##% authorize the subscription.
##= https://www.rfc-editor.org/rfc/rfc3515#section-3.4
##= type=test
##% The duration SHOULD be chosen to be longer than the time the referenced
##% request will be given to complete.
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
    assert first_notify.header("Subscription-State").expires == 240  # 180 + 60


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.5
##= type=test
##% A registrar aware of the definition of REFER SHOULD return a 405
##% response.
def test_registrar_answers_refer_with_405() -> None:
    from rfc3261.location import SqliteLocationService
    from rfc3261.registrar import Registrar, RegistrarConfig
    from rfc3261.tests.server_support import register

    registrar = Registrar(
        SqliteLocationService(), RegistrarConfig(domains=frozenset({"example.com"}))
    )
    refer = Request("REFER", "sip:example.com", register().headers.copy())
    assert registrar.handle(refer, 0).status == 405


##= https://www.rfc-editor.org/rfc/rfc3892#section-2.2
##= type=test
##% A referee SHOULD present the same identity to the referrer and the
##% refer target.
def test_same_identity_to_referrer_and_target() -> None:
    net, alice, _bob, carol, a, _b = three()
    _, effects = a.refer(CAROL, net.now, target="sip:bob@bob.example.com")
    net.call(alice, effects)
    net.run(net.now + 5)
    (invite,) = received(carol, "INVITE")
    notify = received(alice, "NOTIFY")[0]
    assert invite.from_.uri == notify.from_.uri


##= https://www.rfc-editor.org/rfc/rfc3515#section-3.9
##= type=test
##% A REFER sent outside the context of a dialog MAY fork, and if it is
##% accepted by multiple agents, MAY create multiple subscriptions.
def test_forked_refer_makes_a_subscription_per_referee() -> None:
    net, alice, bob, carol, a, _b = three()
    bob2 = net.add_ua(make_ua("bob2", seed=4))
    bob2.ua.use(ReferExtension())
    net.add_forker("fork.example.com", ["bob.example.com", "bob2.example.com"])
    _, effects = a.refer(CAROL, net.now, target="sip:bob@fork.example.com")
    net.call(alice, effects)
    net.run(net.now + 5)
    finals = [u for u in updates(alice) if u.state is SubState.TERMINATED]
    assert len(finals) == 2 and {u.usage.dialog.id.remote_tag for u in finals} == {
        r.to.tag for r in answers(alice, "REFER")
    }
    assert len(received(carol, "INVITE")) == 2
    assert received(bob, "REFER") and received(bob2, "REFER")


def test_a_redirected_reference_reports_the_final_answer_only() -> None:
    net, alice, _bob, carol, a, _b = three()

    def redirect(request: Request) -> list[Response]:
        if request.method != "INVITE":
            return []
        response = request.make_response(302, to_tag="r1")
        response.headers.add("Contact", f"<{CAROL}>")
        return [response]

    net.add_script("redirect.example.com", redirect)
    first = call(net, alice)
    _, effects = a.refer("sip:carol@redirect.example.com", net.now, dialog=first.established)
    net.call(alice, effects)
    net.run(net.now + 5)
    assert received(carol, "INVITE")
    statuses = [u.content.status for u in updates(alice)]
    assert 302 not in statuses and statuses[-1] == 200


def test_a_refused_refer_counts_for_the_id() -> None:
    net, alice, bob, _carol, a, _b = three()
    first = call(net, alice)
    dialog = first.established
    bad = dialog.create_request(
        "REFER", alice.ua.new_via(), dialog.next_local_seq(1), contact=alice.ua.contact()
    )
    _, effects = alice.ua.send(bad, net.now, dialog=dialog)  # no Refer-To: 400
    net.call(alice, effects)
    net.run(net.now + 1)
    _, effects = a.refer(CAROL, net.now, dialog=dialog)
    net.call(alice, effects)
    net.run(net.now + 5)
    assert [r.status for r in answers(alice, "REFER")] == [400, 202]
    second = received(bob, "REFER")[1]
    assert {n.header("Event").id for n in received(alice, "NOTIFY")} == {str(second.cseq.number)}
    assert updates(alice)[-1].content.status == 200


def test_refer_to_header_and_its_compact_form() -> None:
    from extensions.rfc3515 import parse_refer_to, register_headers
    from rfc3261.errors import ParseError
    from rfc3261.message import parse

    register_headers()
    message = parse(
        b"REFER sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
        b"To: <sip:b@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\nCall-ID: c1\r\n"
        b"CSeq: 1 REFER\r\nMax-Forwards: 70\r\nContact: <sip:a@a.example.com>\r\n"
        b"r: <sip:carol@example.com;method=SUBSCRIBE>;x=1\r\nContent-Length: 0\r\n\r\n"
    )
    assert isinstance(message, Request)
    refer_to = message.header("Refer-To")
    assert str(refer_to.uri) == "sip:carol@example.com;method=SUBSCRIBE"
    assert refer_to.params.get("x") == "1"
    assert str(parse_refer_to("http://www.ietf.org").uri) == "http://www.ietf.org"
    with pytest.raises(ParseError):
        parse_refer_to("<sip:a@b>, <sip:c@d>")
    value = refer_to_with_replaces("sip:dave@denver.example.org", "12345@192.168.118.3;to-tag=1")
    assert value == "<sip:dave@denver.example.org?Replaces=12345%40192.168.118.3%3Bto-tag%3D1>"
