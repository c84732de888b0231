"""RFC 3903 PUBLISH and the RFC 3856 presence package, between UAs in memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from extensions.rfc3856 import PIDF, PRESENCE, Presence, Tuple, compose
from extensions.rfc3903 import (
    EventStateCompositor,
    PublicationResult,
    PublicationStore,
    PublisherExtension,
)
from extensions.rfc6665 import EventsExtension, SubscriptionUpdate, SubState
from rfc3261.message import Request, Response
from rfc3261.tests.ua_support import Network, Node, make_ua

ALICE = "sip:alice@ps.example.com"  # the presentity, at the compositor's host


def setup(
    net: Network, store: PublicationStore | None = None
) -> tuple[Node, Node, Node, PublisherExtension, EventsExtension, EventStateCompositor]:
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    ps = net.add_ua(make_ua("ps", seed=3))
    publisher = PublisherExtension([PRESENCE])
    alice.ua.use(publisher)
    watcher = EventsExtension([PRESENCE], notifier_of=())
    bob.ua.use(watcher)
    events = EventsExtension([PRESENCE])
    esc = EventStateCompositor(events, store, is_responsible=lambda uri: uri.user == "alice")
    ps.ua.use(events)
    ps.ua.use(esc)
    return alice, bob, ps, publisher, watcher, esc


def requests(node: Node, method: str) -> list[Request]:
    return [m for _, m in node.received if isinstance(m, Request) and m.method == method]


def responses(node: Node, method: str) -> list[Response]:
    return [m for _, m in node.received if isinstance(m, Response) and m.cseq.method == method]


def doc(basic: str, tuple_id: str = "t1") -> Presence:
    return Presence.basic_status("sip:alice@ps.example.com", basic, tuple_id=tuple_id)


##= https://www.rfc-editor.org/rfc/rfc3856#section-6.5
##= type=test
##% All subscribers and notifiers MUST support the "application/pidf+xml"
##% presence data format described in [6].
def test_pidf_round_trip_and_malformed_documents() -> None:
    presence = Presence(
        "pres:alice@example.com",
        (Tuple("a1", "open", "sip:alice@192.0.2.1", "here"), Tuple("a2", "closed")),
    )
    parsed = Presence.from_xml(presence.to_xml())
    assert parsed == presence and parsed.basic == "open"
    assert b'xmlns="urn:ietf:params:xml:ns:pidf"' in presence.to_xml()
    for bad in (
        b"<presence",  # not XML
        b'<presence xmlns="urn:other" entity="sip:a@b"/>',  # not PIDF
        b'<presence xmlns="urn:ietf:params:xml:ns:pidf"/>',  # no entity
        b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"><tuple id="1">'
        b"<status/></tuple></presence>",  # id not an XML ID
        b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"><tuple id="t">'
        b"<status><basic>maybe</basic></status></tuple></presence>",
        b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b"><tuple id="t">'
        b"</tuple></presence>",  # no status
    ):
        with pytest.raises(ValueError):
            Presence.from_xml(bad)
    merged = compose("sip:a@b", [doc("closed", "x"), doc("open", "y"), doc("open", "x")])
    assert merged is not None and [t.id for t in merged.tuples] == ["y", "x"]
    assert merged.basic == "open"


##= https://www.rfc-editor.org/rfc/rfc3903#section-4.2
##= type=test
##% An initial PUBLISH request MUST NOT contain a SIP-If-Match header
##% field.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.2
##= type=test
##% An initial PUBLISH request MUST contain a body that contains the
##% published event state.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% The response MUST also contain a SIP-ETag header field that contains
##% a single entity-tag identifying the publication.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% The response MUST contain an Expires header field indicating the
##% expiration interval chosen by the ESC.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.1
##= type=test
##% For determining the type of the published event state, the EPA MUST
##% include a single Event header field in PUBLISH requests.
##= https://www.rfc-editor.org/rfc/rfc3856#section-6.7
##= type=test
##% The body of the NOTIFY MUST be sent using one of the types listed in
##% the Accept header field in the most recent SUBSCRIBE request, or using
##% the type "application/pidf+xml" if no Accept header field was present.
##= https://www.rfc-editor.org/rfc/rfc3903#section-10.1
##= type=test
##% A PUA that uses PUBLISH to publish presence state to the PA MUST
##% support the PIDF presence format.
##= https://www.rfc-editor.org/rfc/rfc3856#section-6.7
##= type=test
##% If the result of the authorization decision was success, a NOTIFY
##% SHOULD be sent and SHOULD contain a presence document with the current
##% state of the presentity.
def test_publish_then_subscribe_sees_the_state_and_changes() -> None:
    net = Network()
    alice, bob, ps, publisher, watcher, _esc = setup(net)
    publication, effects = publisher.publish(ALICE, "presence", doc("open"), net.now)
    net.call(alice, effects)
    net.run(1.0)
    (publish,) = requests(ps, "PUBLISH")
    assert "SIP-If-Match" not in publish.headers and publish.body
    assert str(publish.header("Event")) == "presence" and publish.content_type.mime_type == PIDF
    (ok,) = responses(alice, "PUBLISH")
    assert ok.status == 200 and ok.expires == 3600
    assert ok.header("SIP-ETag") is not None and ok.header("SIP-ETag") == publication.etag
    net.call(bob, watcher.subscribe(ALICE, "presence", net.now)[1])
    net.run(2.0)
    (update,) = bob.of(SubscriptionUpdate)
    assert update.state is SubState.ACTIVE and update.content.basic == "open"
    assert requests(bob, "NOTIFY")[0].content_type.mime_type == PIDF
    net.call(alice, publication.modify(doc("closed"), net.now))
    net.run(10.0)
    assert [u.content.basic for u in bob.of(SubscriptionUpdate)] == ["open", "closed"]


##= https://www.rfc-editor.org/rfc/rfc3903#section-4.3
##= type=test
##% To refresh a publication, the EPA MUST create a PUBLISH request that
##% includes in a SIP-If-Match header field the entity-tag of the
##% publication to be refreshed.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.3
##= type=test
##% Therefore, a PUBLISH request that refreshes event state
##% MUST NOT have a body.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.3
##= type=test
##% The EPA MUST store this entity-tag, replacing any existing entity-tag
##% for the refreshed event state.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% The ESC MUST generate a new entity-tag for each successful
##% publication, replacing any previous entity-tag associated with that
##% event state.
def test_the_publisher_refreshes_with_if_match_and_no_body() -> None:
    net = Network()
    alice, _, ps, publisher, _, esc = setup(net)
    publication, effects = publisher.publish(ALICE, "presence", doc("open"), net.now, expires=120)
    net.call(alice, effects)
    net.run(1.0)
    first = publication.etag
    net.run(100.0)
    publishes = requests(ps, "PUBLISH")
    assert len(publishes) == 2
    refresh = publishes[1]
    assert refresh.header("SIP-If-Match") == first and refresh.body == b""
    assert publication.etag not in (None, first)
    assert esc.store.count(net.now) == 1
    net.run(400.0)
    assert esc.store.count(net.now) == 1 and len(requests(ps, "PUBLISH")) >= 5


##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% If no match is found, the ESC MUST reject the publication with a
##% response of 412 (Conditional Request Failed), and skip the remaining
##% steps.
##= https://www.rfc-editor.org/rfc/rfc3903#section-5
##= type=test
##% If an EPA receives a 412 (Conditional Request Failed) response, it
##% MUST NOT reattempt the PUBLISH request.  Instead, to publish event
##% state, the EPA SHOULD perform an initial publication, i.e., a PUBLISH
##% request without a SIP-If-Match header field, as described in Section
##% 4.2.  The EPA MUST also discard the entity-tag that produced this
##% error response.
def test_a_stale_etag_gets_412_and_the_publisher_starts_over() -> None:
    net = Network()
    alice, _, ps, publisher, _, esc = setup(net)
    publication, effects = publisher.publish(ALICE, "presence", doc("open"), net.now)
    net.call(alice, effects)
    net.run(1.0)
    esc.store.replace(publication.etag, None)  # the compositor lost it
    net.call(alice, publication.modify(doc("closed"), net.now))
    net.run(2.0)
    assert [r.status for r in responses(alice, "PUBLISH")] == [200, 412, 200]
    last = requests(ps, "PUBLISH")[-1]
    assert "SIP-If-Match" not in last.headers and b"closed" in last.body
    assert esc.composed("presence", "alice@ps.example.com").basic == "closed"


##= https://www.rfc-editor.org/rfc/rfc3903#section-4.5
##= type=test
##% To request the immediate removal of event state, an EPA MUST create
##% a PUBLISH request with an Expires value of "0", and set the SIP-If-
##% Match header field to contain the entity-tag of the event state
##% publication to be removed.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% If the chosen expiration interval has a special value of "0", the
##% event state identified by the entity-tag MUST be immediately removed.
##% The ESC MUST NOT store any event state as a result of such a request.
def test_remove_with_expires_0_notifies_the_neutral_state() -> None:
    net = Network()
    alice, bob, ps, publisher, watcher, esc = setup(net)
    publication, effects = publisher.publish(ALICE, "presence", doc("open"), net.now)
    net.call(alice, effects)
    net.call(bob, watcher.subscribe(ALICE, "presence", net.now)[1])
    net.run(1.0)
    net.call(alice, publication.remove(net.now))
    net.run(10.0)
    remove = requests(ps, "PUBLISH")[-1]
    assert remove.expires == 0 and remove.body == b"" and remove.header("SIP-If-Match")
    assert esc.store.count(net.now) == 0
    assert bob.of(SubscriptionUpdate)[-1].content is None  # no state: an empty NOTIFY


##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% If the Event header field is missing or contains an event package
##% which the ESC does not support, the ESC MUST respond to the PUBLISH
##% request with a 489 (Bad Event) response, and skip the remaining
##% steps.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% Only if the requested expiration interval is greater than zero
##% and less than a locally-configured minimum, the ESC MAY reject the
##% publication with a response of 423 (Interval Too Brief), and skip the
##% remaining steps.  This response MUST contain a Min-Expires header
##% field that states the minimum expiration interval the ESC is willing
##% to honor.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% If not, the ESC MUST return a 404 (Not Found) response and skip the
##% remaining steps.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% If the content type of the request does not match the event package,
##% or is not understood by the ESC, the ESC MUST reject the request with
##% an appropriate response, such as 415 (Unsupported Media Type), and
##% skip the remainder of the steps.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% If the request has no message body and contained no entity-tag, the
##% ESC SHOULD reject the request with an appropriate response, such as
##% 400 (Invalid Request), and skip the remainder of the steps.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% If not, the request is invalid, and the ESC MUST
##% return with a 400 (Invalid Request) response and skip the remaining
##% steps.
def test_the_compositor_refuses_bad_publications_and_stores_nothing() -> None:
    net = Network()
    alice, _, _ps, _, _, esc = setup(net)
    body = doc("open").to_xml()
    cases = [
        (ALICE, [("Event", "dialog")], body, PIDF),  # 489
        (ALICE, [], body, PIDF),  # 489: no Event
        (ALICE, [("Event", "presence"), ("Expires", "5")], body, PIDF),  # 423
        ("sip:nobody@ps.example.com", [("Event", "presence")], body, PIDF),  # 404
        (ALICE, [("Event", "presence")], b"hello", "text/plain"),  # 415
        (ALICE, [("Event", "presence")], b"", None),  # 400
        (ALICE, [("Event", "presence")], b"<presence/>", PIDF),  # 400 malformed PIDF
        (ALICE, [("Event", "presence"), ("SIP-If-Match", "nope")], b"", None),  # 412
        (ALICE, [("Event", "presence"), ("SIP-If-Match", "a b")], b"", None),  # 400 garbage
    ]
    for uri, headers, payload, content_type in cases:
        request = alice.ua.build_request(
            "PUBLISH",
            "<sip:alice@ps.example.com>",
            request_uri=uri,
            headers=headers,
            body=payload,
            content_type=content_type,
        )
        net.call(alice, alice.ua.send(request, net.now)[1])
    net.run(2.0)
    got = sorted(r.status for r in responses(alice, "PUBLISH"))
    assert got == sorted([489, 489, 423, 404, 415, 400, 400, 412, 400])
    reasons = {r.status: r.reason for r in responses(alice, "PUBLISH")}
    assert reasons[489] == "Bad Event" and reasons[412] == "Conditional Request Failed"
    (brief,) = [r for r in responses(alice, "PUBLISH") if r.status == 423]
    assert brief.header("Min-Expires") == 60
    assert esc.store.count(net.now) == 0


def test_publications_survive_a_restart_in_the_location_file(tmp_path: Path) -> None:
    from rfc3261.location import SqliteLocationService

    path = str(tmp_path / "location.db")
    location = SqliteLocationService(path)  # the registrar's file, shared
    net = Network()
    alice, _, _ps, publisher, _, esc = setup(net, PublicationStore(path))
    net.call(alice, publisher.publish(ALICE, "presence", doc("open"), net.now, expires=600)[1])
    net.run(1.0)
    esc.store.close()
    location.close()
    # A new compositor (a restarted server) on the same file serves the state.
    net2 = Network()
    net2.now = 100.0
    _, bob, ps2, _, watcher, esc2 = setup(net2, PublicationStore(path))
    net2.call(ps2, esc2.start(net2.now))
    net2.call(bob, watcher.subscribe(ALICE, "presence", net2.now)[1])
    net2.run(101.0)
    (update,) = bob.of(SubscriptionUpdate)
    assert update.content.basic == "open"
    # ... and forgets it when it expires (NOTIFY of the neutral state).
    net2.run(700.0)
    assert esc2.store.count(net2.now) == 0
    assert bob.of(SubscriptionUpdate)[-1].content is None
    with SqliteLocationService(path) as again:  # the location schema is untouched
        assert again.count(net2.now) == 0


##= https://www.rfc-editor.org/rfc/rfc3903#section-4
##= type=test
##% EPAs MUST NOT send a new PUBLISH request (not a re-transmission) for
##% the same Request-URI, until they have received a final response from
##% the ESC for the previous one or the previous PUBLISH request has timed
##% out.
def test_one_publish_in_flight_per_publication() -> None:
    net = Network()
    alice, _, _ps, publisher, _, esc = setup(net)
    publication, effects = publisher.publish(ALICE, "presence", doc("open"), net.now)
    net.call(alice, effects)
    net.call(alice, publication.modify(doc("closed"), net.now))
    assert len([w for w in net.wire if w[3].startswith("PUBLISH")]) == 1
    net.run(1.0)
    assert [r.status for r in responses(alice, "PUBLISH")] == [200, 200]
    assert esc.composed("presence", "alice@ps.example.com").basic == "closed"
    assert all(isinstance(e, PublicationResult) for e in alice.of(PublicationResult))
