"""RFC 3903 and RFC 3856: the finer rules of publication and presence."""

from __future__ import annotations

import itertools
import sqlite3

import pytest

from extensions.rfc3856 import PIDF, PRESENCE, Presence
from extensions.rfc3903 import (
    EventStateCompositor,
    PublicationStore,
    PublisherExtension,
    StoredPublication,
)
from extensions.rfc6665 import EventsExtension, SubscriptionUpdate
from extensions.tests.test_rfc3903_3856 import ALICE, doc, requests, responses, setup
from rfc3261.message import Request, Response
from rfc3261.tests.ua_support import Network, make_ua


##= https://www.rfc-editor.org/rfc/rfc3903#section-4.4
##= type=test
##% To modify event state, the EPA MUST construct a PUBLISH request that
##% includes in a SIP-If-Match header field the entity-tag of the event
##% state publication to be modified.  A PUBLISH request that modifies
##% event state MUST contain a body that includes the modified event
##% state.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.4
##= type=test
##% The EPA MUST store this entity-tag, replacing any
##% existing entity-tag for the modified event state.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.1
##= type=test
##% When updating previously published event state, PUBLISH requests
##% MUST contain a single SIP-If-Match header field identifying the
##% specific event state that the request is refreshing, modifying or
##% removing.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.1
##= type=test
##% This header field MUST contain a single entity-tag that was returned
##% by the ESC in the SIP-ETag header field of the response to a previous
##% publication.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.5
##= type=test
##% Therefore, a PUBLISH request that removes
##% event state MUST NOT contain a body.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% If the request does not contain a SIP-If-Match header field, the ESC
##% MUST generate and store a locally unique entity-tag for identifying
##% the publication.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% The generated entity-tag MUST be unique from any other entity-
##% tags currently assigned to event state associated with that Request-
##% URI, and MUST be different from any entity-tag assigned previously to
##% event state for that Request-URI.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.2
##= type=test
##% However, if the EPA expects an appropriate, locally stored
##% entity-tag to still be valid, it SHOULD first try to modify that
##% event state as described in Section 4.4, instead of submitting an
##% initial publication.
##= https://www.rfc-editor.org/rfc/rfc3903#section-10.4
##= type=test
##% In presence publication, the EPA MUST keep the "id" attributes of
##% tuples consistent in the context of an entity-tag.  If a
##% publication modifies the contents of a tuple, that tuple MUST
##% maintain its original "id".
def test_modify_and_remove_carry_the_last_entity_tag() -> None:
    net = Network()
    alice, _, ps, publisher, _, esc = setup(net)
    publication, effects = publisher.publish(ALICE, "presence", "open", net.now)
    net.call(alice, effects)
    net.run(1.0)
    tags = [publication.etag]
    net.call(alice, publication.modify("closed", net.now))
    net.run(2.0)
    tags.append(publication.etag)
    net.call(alice, publication.remove(net.now))
    net.run(3.0)
    initial, modify, remove = requests(ps, "PUBLISH")
    assert "SIP-If-Match" not in initial.headers and esc.store.count(net.now) == 0
    assert modify.header("SIP-If-Match") == tags[0] and b"closed" in modify.body
    assert remove.header("SIP-If-Match") == tags[1] and remove.body == b""
    assert len(set(tags)) == 2 and None not in tags
    ids = [Presence.from_xml(r.body).tuples[0].id for r in (initial, modify)]
    assert ids == ["t1", "t1"]
    assert [r.header("SIP-ETag") for r in responses(alice, "PUBLISH")[:2]] == tags


##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% If the request has an Expires header field, that value MUST be taken
##% as the requested expiration.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% Else, a locally-configured default value
##% MUST be taken as the requested expiration.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% The ESC MUST ignore the Record-Route header field if it is included in
##% a PUBLISH request.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% The ESC MUST NOT include a Record-Route header
##% field in any response to a PUBLISH request.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% The ESC MUST ignore the
##% Contact header field if one is present in a PUBLISH request.
def test_expires_default_and_record_route_and_contact_ignored() -> None:
    net = Network()
    alice, _, ps, _, _, esc = setup(net)
    body = doc("open").to_xml()
    for extra in ([], [("Expires", "120"), ("Record-Route", "<sip:p.example.com;lr>")]):
        request = alice.ua.build_request(
            "PUBLISH",
            "<sip:alice@ps.example.com>",
            contact=True,
            headers=[("Event", "presence"), *extra],
            body=body,
            content_type=PIDF,
        )
        net.call(alice, alice.ua.send(request, net.now)[1])
    net.run(1.0)
    answers = responses(alice, "PUBLISH")
    assert sorted(r.expires for r in answers) == [120, 3600]
    assert all("Record-Route" not in r.headers and "Contact" not in r.headers for r in answers)
    assert esc.store.count(net.now) == 2 and not ps.ua.dialogs


##= https://www.rfc-editor.org/rfc/rfc3903#section-4
##= type=test
##% The Record-Route header field has no meaning in PUBLISH requests or
##% responses, and MUST be ignored if present.  In particular, the UAC
##% MUST NOT create a new route set based on the presence or absence of
##% a Record-Route header field in any response to a PUBLISH request.
def test_the_publisher_ignores_record_route_in_responses() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    publisher = PublisherExtension([PRESENCE])
    alice.ua.use(publisher)
    seen: list[Request] = []

    def esc(request: Request) -> list[Response]:
        seen.append(request)
        response = request.make_response(200, to_tag="e")
        response.headers.add("Record-Route", "<sip:elsewhere.example.com;lr>")
        response.headers.add("SIP-ETag", f"tag{len(seen)}")
        response.headers.add("Expires", "60")
        return [response]

    net.add_script("ps.example.com", esc)
    publication, effects = publisher.publish(ALICE, "presence", "open", net.now, expires=60)
    net.call(alice, effects)
    net.run(100.0)
    assert len(seen) >= 3  # the initial PUBLISH and refreshes, all to the ESC
    assert all(not r.route for r in seen) and publication.etag == f"tag{len(seen)}"
    assert not alice.ua.dialogs and alice.ua.route_set == []


class BrokenStore(PublicationStore):
    """A store whose database fails at the write (a full disk, a lock held too long)."""

    def replace(self, old: str | None, new: StoredPublication | None) -> None:
        raise sqlite3.OperationalError("database is locked")


##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% PUBLISH requests MUST also be processed
##% atomically, meaning that a particular PUBLISH request is either
##% processed completely or not at all.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% The processing of the PUBLISH request MUST be atomic.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% If internal
##% errors (such as the inability to access a back-end database) occur
##% before processing is complete, the publication MUST NOT succeed, and
##% the ESC MUST fail with an appropriate error response, such as 504
##% (Server Time-out), and skip the last step.
def test_a_database_failure_is_504_and_nothing_is_published() -> None:
    net = Network()
    alice, bob, _ps, publisher, watcher, esc = setup(net, BrokenStore())
    net.call(bob, watcher.subscribe(ALICE, "presence", net.now)[1])
    net.run(1.0)
    net.call(alice, publisher.publish(ALICE, "presence", "open", net.now)[1])
    net.run(10.0)
    assert [r.status for r in responses(alice, "PUBLISH")] == [504]
    assert esc.store.count(net.now) == 0
    assert [u.content for u in bob.of(SubscriptionUpdate)] == [None]  # no change notified


##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% PUBLISH requests with the same Request-URI MUST be processed in the
##% order that they are received.
##= https://www.rfc-editor.org/rfc/rfc3856#section-6.9
##= type=test
##% Therefore, if aggregation is needed, it MUST be done in a PA
##% representing the presentity.
##= https://www.rfc-editor.org/rfc/rfc3856#section-6.7
##= type=test
##% If the result of the authorization decision was success, a NOTIFY
##% SHOULD be sent and SHOULD contain a presence document with the current
##% state of the presentity.
def test_two_publishers_compose_into_one_document_in_arrival_order() -> None:
    net = Network()
    alice, bob, _ps, publisher, watcher, _esc = setup(net)
    phone = net.add_ua(make_ua("phone", seed=9, aor="sip:alice@example.com"))
    second = PublisherExtension([PRESENCE])
    phone.ua.use(second)
    net.call(alice, publisher.publish(ALICE, "presence", doc("open", "pc"), net.now)[1])
    net.run(1.0)
    net.call(phone, second.publish(ALICE, "presence", doc("closed", "phone"), net.now)[1])
    net.run(2.0)
    net.call(bob, watcher.subscribe(ALICE, "presence", net.now)[1])
    net.run(3.0)
    (update,) = bob.of(SubscriptionUpdate)
    assert [(t.id, t.basic) for t in update.content.tuples] == [
        ("pc", "open"),
        ("phone", "closed"),
    ]
    assert update.content.basic == "open"


##= https://www.rfc-editor.org/rfc/rfc3903#section-7
##= type=test
##% In the response to an OPTIONS request, the ESC SHOULD include
##% "PUBLISH" to the list of allowed methods in the Allow header field.
##= https://www.rfc-editor.org/rfc/rfc3903#section-7
##= type=test
##% Also, it SHOULD list the supported event packages in an Allow-Events
##% header field.
def test_options_to_the_compositor_lists_publish_and_presence() -> None:
    net = Network()
    alice, _, _ps, _, _, _ = setup(net)
    net.call(alice, alice.ua.request("OPTIONS", ALICE, net.now)[1])
    net.run(1.0)
    (ok,) = responses(alice, "OPTIONS")
    assert "PUBLISH" in ok.headers.get("Allow") and ok.header("Allow-Events") == ["presence"]


##= https://www.rfc-editor.org/rfc/rfc3856#section-6.5
##= type=test
##% If the header field is present, it MUST include "application/pidf+xml"
##= https://www.rfc-editor.org/rfc/rfc3856#section-6.10
##= type=test
##% A PA SHOULD NOT generate notifications for a single presentity at a
##% rate of more than once every five seconds.
def test_presence_subscribe_accepts_pidf_and_notifies_at_most_every_5_s() -> None:
    net = Network()
    alice, bob, ps, publisher, watcher, _ = setup(net)
    publication, effects = publisher.publish(ALICE, "presence", "open", net.now)
    net.call(alice, effects)
    net.call(bob, watcher.subscribe(ALICE, "presence", net.now)[1])
    net.run(1.0)
    assert PIDF in requests(ps, "SUBSCRIBE")[0].headers.get("Accept")
    for t, state in ((1.0, "closed"), (2.0, "open"), (3.0, "closed")):
        net.run(t)
        net.call(alice, publication.modify(state, net.now))
    net.run(20.0)
    times = [t for t, m in bob.received if isinstance(m, Request) and m.method == "NOTIFY"]
    assert all(b - a >= 5.0 - 0.02 for a, b in itertools.pairwise(times)), times
    assert bob.of(SubscriptionUpdate)[-1].content.basic == "closed"


def test_a_second_compositor_on_the_same_events_is_refused() -> None:
    events = EventsExtension([PRESENCE])
    ua = make_ua("ps")
    ua.use(events)
    ua.use(EventStateCompositor(events))
    with pytest.raises(ValueError, match="installed already"):
        ua.use(EventStateCompositor(events))


##= https://www.rfc-editor.org/rfc/rfc3856#section-6.6.2
##= type=test
##% For pending subscriptions, the state of the presentity SHOULD include
##% some kind of textual note that indicates a pending status.
##= https://www.rfc-editor.org/rfc/rfc3856#section-6.6.2
##= type=test
##% The contents of the presence document in such a NOTIFY are at the
##% discretion of the implementor, but SHOULD be constructed in such a way
##% as to not reveal to the subscriber that their request has actually
##% been blocked.
def test_a_pending_watcher_gets_a_note_and_no_state() -> None:
    net = Network()
    alice, bob, _ps, publisher, watcher, esc = setup(net)
    esc.events.authorize = lambda request, package: "pending"
    net.call(alice, publisher.publish(ALICE, "presence", "open", net.now)[1])
    net.call(bob, watcher.subscribe(ALICE, "presence", net.now)[1])
    net.run(1.0)
    (update,) = bob.of(SubscriptionUpdate)
    assert update.state.value == "pending"
    assert update.content.tuples == () and update.content.notes == ("Subscription pending",)
    assert b"open" not in requests(bob, "NOTIFY")[0].body


##= https://www.rfc-editor.org/rfc/rfc3903#section-14.1
##= type=test
##% ESCs and EPAs MUST implement Digest for authenticating
##% PUBLISH requests, as defined in RFC 3261 [4].
##= https://www.rfc-editor.org/rfc/rfc3903#section-14.1
##= type=test
##% The state agent SHOULD authenticate the EPA, and SHOULD apply its
##% authorization policies (e.g., based on access control lists) to all
##% requests.
##= https://www.rfc-editor.org/rfc/rfc3903#section-14.2
##= type=test
##% To reduce the chances of such an attack, implementations of ESCs
##% SHOULD require authentication of PUBLISH requests.
##= https://www.rfc-editor.org/rfc/rfc3903#section-14.2
##= type=test
##% Implementations MUST support Digest authentication, as
##% defined in RFC 3261 [4].
##= https://www.rfc-editor.org/rfc/rfc3903#section-14.3
##= type=test
##% To prevent replay attacks, implementations MUST support Digest
##% authentication with replay protection, as defined in RFC 3261 [4].
##= https://www.rfc-editor.org/rfc/rfc6665#section-6.3
##= type=test
##% To reduce the chances of such an attack, implementations of
##% notifiers SHOULD require authentication.
##= https://www.rfc-editor.org/rfc/rfc6665#section-6.4
##= type=test
##% To prevent such attacks, implementations SHOULD require
##% authentication with anti-replay protection.
##= https://www.rfc-editor.org/rfc/rfc3856#section-6.6.1
##= type=test
##% A presence agent MUST authenticate all subscription requests.
##= https://www.rfc-editor.org/rfc/rfc3856#section-9.2
##= type=test
##% As a result, all watchers MUST support HTTP Digest.
def test_digest_on_publish_and_subscribe() -> None:
    from rfc3261.auth_client import StaticCredentials
    from rfc3261.digest_server import DigestAuthenticator, MemoryCredentials

    realm = "ps.example.com"
    users = MemoryCredentials.from_passwords({"alice": "secret", "bob": "hunter2"}, realm)
    net = Network()
    alice = net.add_ua(
        make_ua("alice", seed=1, credentials=StaticCredentials(default=("alice", "secret")))
    )
    bob = net.add_ua(
        make_ua("bob", seed=2, credentials=StaticCredentials(default=("bob", "hunter2")))
    )
    eve = net.add_ua(
        make_ua("eve", seed=4, credentials=StaticCredentials(default=("eve", "guess")))
    )
    ps = net.add_ua(make_ua("ps", seed=3))
    events = EventsExtension([PRESENCE], authenticator=DigestAuthenticator(realm, users))
    esc = EventStateCompositor(events, authenticator=DigestAuthenticator(realm, users))
    ps.ua.use(events)
    ps.ua.use(esc)
    publisher = PublisherExtension([PRESENCE])
    alice.ua.use(publisher)
    watchers = {}
    for node in (bob, eve):
        watchers[node.host] = EventsExtension([PRESENCE], notifier_of=())
        node.ua.use(watchers[node.host])
    net.call(alice, publisher.publish(ALICE, "presence", "open", net.now)[1])
    net.run(1.0)
    assert [r.status for r in responses(alice, "PUBLISH")] == [401, 200]
    assert "Authorization" in requests(ps, "PUBLISH")[1].headers
    for node in (bob, eve):
        net.call(node, watchers[node.host].subscribe(ALICE, "presence", net.now)[1])
    net.run(40.0)
    (update,) = bob.of(SubscriptionUpdate)
    assert update.content.basic == "open"
    assert [r.status for r in responses(eve, "SUBSCRIBE")] == [401, 401]
    assert esc.events.notifier_count() == 1 and esc.store.count(net.now) == 1
    # a replayed PUBLISH (the same credentials, nonce count and all) is challenged again
    replay = requests(ps, "PUBLISH")[1]
    net.send("alice.example.com", replay, "ps.example.com")
    net.run(41.0)
    assert [r.status for r in responses(alice, "PUBLISH")][-1] == 401
