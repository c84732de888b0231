"""The UA core outside dialogs (RFC 3261 §8, §11): building, sending, inspecting."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from rfc3261.message import Request, Response, parse
from rfc3261.session import IncomingCall
from rfc3261.tests.ua_support import Network, make_ua, started, statuses
from rfc3261.ua_core import (
    Dropped,
    IncomingRequest,
    ResponseEvent,
    UserAgent,
    effective_status,
)
from rfc3261.uri import SipURI


def received(node, method: str) -> list[Request]:
    return [m for _, m in node.received if isinstance(m, Request) and m.method == method]


def responses(node) -> list[Response]:
    return [m for _, m in node.received if isinstance(m, Response)]


def redirecting(status: int, contact: str) -> Callable[[Request], list[Response]]:
    """A redirect server's script: every request gets ``status`` with Contact ``contact``."""

    def redirect(request: Request) -> list[Response]:
        response = request.make_response(status, to_tag="r")
        response.headers.add("Contact", contact)
        return [response]

    return redirect


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1
##= type=test
##% A valid SIP request formulated by a UAC MUST, at a minimum, contain
##% the following header fields: To, From, CSeq, Call-ID, Max-Forwards,
##% and Via; all of these header fields are mandatory in all SIP
##% requests.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.3
##= type=test
##% The From field MUST contain a new "tag" parameter, chosen by the UAC.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.6
##= type=test
##% A UAC MUST insert a Max-Forwards header field into each request it
##% originates with a value that SHOULD be 70.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
##= type=test
##% The branch ID inserted by an element compliant with this
##% specification MUST always begin with the characters "z9hG4bK".
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.5
##= type=test
##% The sequence number value MUST be expressible as a 32-bit unsigned
##% integer and MUST be less than 2**31.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.8
##= type=test
##% The Contact header field MUST be present and contain exactly one SIP
##% or SIPS URI in any request that can result in the establishment of a
##% dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.2
##= type=test
##% A request outside of a dialog MUST NOT contain a To tag; the tag in
##% the To field of a request identifies the peer of the dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.1
##= type=test
##% The initial Request-URI of the message SHOULD be set to the value of
##% the URI in the To field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.4
##= type=test
##% In a new request created by a UAC outside of any dialog, the Call-ID header field MUST be
##% selected by the UAC as a globally unique identifier over space and time unless overridden
##% by method-specific behavior.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.4
##= type=test
##% Use of cryptographically random identifiers (RFC 1750 [12]) in the generation of Call-IDs
##% is RECOMMENDED.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
##= type=test
##% When the UAC creates a request, it MUST insert a Via into that request. The protocol name
##% and protocol version in the header field MUST be SIP and 2.0, respectively. The Via header
##% field value MUST contain a branch parameter.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
##= type=test
##% The branch parameter value MUST be unique across space and time for all requests sent by
##% the UA.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.9
##= type=test
##% If the UAC supports extensions to SIP that can be applied by the server to the response,
##% the UAC SHOULD include a Supported header field in the request listing the option tags
##% (Section 19.2) for those extensions.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.4
##= type=test
##% Implementations MAY use the form "localid@host".
def test_build_request_mandatory_fields() -> None:
    ua = make_ua("alice", seed=3, supported=("timer",))
    first = parse(bytes(ua.build_request("INVITE", "Bob <sip:bob@example.com>;tag=nope")))
    second = ua.build_request("OPTIONS", "sip:bob@example.com")
    assert isinstance(first, Request)
    for name in ("To", "From", "CSeq", "Call-ID", "Max-Forwards", "Via"):
        assert name in first.headers
    assert first.max_forwards == 70
    assert first.to.tag is None and str(first.uri) == "sip:bob@example.com"
    tag = first.from_.tag
    assert tag is not None and len(tag) * 4 >= 32 and tag != second.from_.tag
    assert first.call_id != second.call_id and first.call_id.endswith("@alice.example.com")
    assert first.top_via.branch.startswith("z9hG4bK")
    assert first.top_via.branch != second.top_via.branch
    assert 0 < first.cseq.number < 2**31 and first.cseq.method == "INVITE"
    assert len(first.contact) == 1 and isinstance(first.contact[0].uri, SipURI)
    assert second.contact == []
    assert first.header("Supported") == ["timer"]


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.1
##= type=test
##% When a pre-existing route set is present, the procedures for
##% populating the Request-URI and Route header field detailed in Section
##% 12.2.1.1 MUST be followed (even though there is no dialog), using the
##% desired Request-URI as the remote target URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
##= type=test
##% In particular, a UAC configured with an outbound proxy SHOULD
##% attempt to send the request to the location indicated in the first
##% Route header field value instead of adopting the policy of sending
##% all messages to the outbound proxy.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.1
##= type=test
##% When a provider wishes to configure a UA with an outbound proxy, it is RECOMMENDED that
##% this be done by providing it with a pre-existing route set with a single URI, that of the
##% outbound proxy.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
##= type=test
##% If the first element in the route set indicated a strict router (resulting in forming the
##% request as described in Section 12.2.1.1), the procedures MUST be applied to the Request-
##% URI of the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
##= type=test
##% If the request contains a Route header field, the request SHOULD be sent to the locations
##% derived from its topmost value
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
##= type=test
##% However, that approach for configuring an outbound proxy is NOT RECOMMENDED; a pre-
##% existing route set with a single URI SHOULD be used instead.
def test_outbound_proxy_is_a_route_set() -> None:
    ua = make_ua("alice", outbound_proxy="sip:proxy.example.com")
    request = ua.build_request("INVITE", "sip:bob@example.com")
    assert str(request.uri) == "sip:bob@example.com"
    assert request.headers.get_all("Route") == ["<sip:proxy.example.com;lr>"]
    assert str(ua.destination_for(request)) == "sip:proxy.example.com;lr"
    plain = make_ua("alice").build_request("INVITE", "sip:bob@example.com")
    assert "Route" not in plain.headers
    assert str(make_ua("alice").destination_for(plain)) == "sip:bob@example.com"


##= https://www.rfc-editor.org/rfc/rfc3261#section-11.2
##= type=test
##% Allow, Accept, Accept-Encoding, Accept-Language, and Supported header
##% fields SHOULD be present in a 200 (OK) response to an OPTIONS
##% request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-11
##= type=test
##% All UAs MUST
##% support the OPTIONS method.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.5
##= type=test
##% All methods, including ACK and CANCEL, understood by the UA MUST be
##% included in the list of methods in the Allow header field, when
##% present.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% m*: The header field SHOULD be sent, but clients/servers need to be prepared to
##% receive messages without that header field.
def test_options_answered_by_the_core() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    client, effects = alice.ua.request("OPTIONS", "sip:bob@bob.example.com", 0.0)
    net.call(alice, effects)
    net.run(1.0)
    (event,) = alice.of(ResponseEvent)
    response = event.response
    assert event.client is client and response.status == 200
    for name in ("Allow", "Accept", "Accept-Encoding", "Accept-Language", "Supported"):
        assert name in response.headers
    assert {"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"} <= set(response.header("Allow"))
    assert bob.events == []


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.1
##= type=test
##% If the UAS recognizes
##% but does not support the method of a request, it MUST generate a 405
##% (Method Not Allowed) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.1
##= type=test
##% The UAS MUST also add an Allow
##% header field to the 405 (Method Not Allowed) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.3
##= type=test
##% If a UAS does not understand an option-tag listed in a
##% Require header field, it MUST respond by generating a response with
##% status code 420 (Bad Extension).
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.3
##= type=test
##% The response MUST contain an
##% Accept header field listing the types of all bodies it understands,
##% in the event the request contained bodies of types not supported by
##% the UAS.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.1
##= type=test
##% If the Request-URI uses a scheme not supported by the UAS,
##% it SHOULD reject the request with a 416 (Unsupported URI Scheme)
##% response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.1
##= type=test
##% The Allow header field MUST list the set of methods supported by the UAS generating the
##% message.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.1
##= type=test
##% Once a request is authenticated (or authentication is skipped), the UAS MUST inspect the
##% method of the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.3
##= type=test
##% The UAS MUST add an Unsupported header field, and list in it those options it does not
##% understand amongst those in the Require header field of the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.6
##= type=test
##% The response MUST include an Allow header field containing a list of valid methods
##% for the indicated address.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.32
##= type=test
##% Although an optional header field, the Require MUST NOT be ignored if
##% it is present.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.32
##= type=test
##% Each option tag defines a SIP extension that MUST be understood to process the
##% request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.15
##= type=test
##% The server MUST include a list of the unsupported extensions in an Unsupported header
##% field in the response.
def test_uas_inspection() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2, supported=("timer",)))
    cases = [
        ("SUBSCRIBE", {}, 405),
        ("FROBNICATE", {}, 501),
        ("INVITE", {"headers": [("Require", "100rel, timer, foo")]}, 420),
        ("INVITE", {"body": b"<x/>", "content_type": "application/xml"}, 415),
        (
            "INVITE",
            {
                "body": b"v=0\r\n",
                "content_type": "application/sdp",
                "headers": [("Content-Encoding", "gzip")],
            },
            415,
        ),
        ("OPTIONS", {"request_uri": "tel:+15551234"}, 416),
    ]
    for method, build, _ in cases:
        request = alice.ua.build_request(method, "sip:bob@bob.example.com", **build)
        net.send("alice.example.com", request, parse_uri_host("bob.example.com"))
    net.run(1.0)
    got = {(r.cseq.method, r.status): r for r in responses(alice)}
    for method, _, status in cases:
        assert (method, status) in got, (method, status)
    assert "SUBSCRIBE" not in got[("SUBSCRIBE", 405)].header("Allow")
    assert "INVITE" in got[("SUBSCRIBE", 405)].header("Allow")
    assert got[("INVITE", 420)].header("Unsupported") == ["100rel", "foo"]
    assert got[("INVITE", 415)].header("Accept")
    assert bob.of(IncomingCall) == []


def parse_uri_host(host: str) -> SipURI:
    from rfc3261.uri import parse_sip_uri

    return parse_sip_uri(f"sip:{host}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.2
##= type=test
##% If the From tag,
##% Call-ID, and CSeq exactly match those associated with an ongoing
##% transaction, but the request does not match that transaction (based
##% on the matching rules in Section 17.2.3), the UAS core SHOULD
##% generate a 482 (Loop Detected) response and pass it to the server
##% transaction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.2
##= type=test
##% If the request has no tag in the To header field, the UAS core MUST check the request
##% against ongoing transactions.
def test_merged_request_gets_482() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    invite = alice.ua.build_request("INVITE", "sip:bob@bob.example.com")
    twin = parse(bytes(invite))
    twin.headers.set("Via", "SIP/2.0/UDP other.example.com;branch=z9hG4bKother")
    target = parse_uri_host("bob.example.com")
    net.send("alice.example.com", invite, target)
    net.send("alice.example.com", twin, target)
    net.run(0.5)
    assert len(bob.of(IncomingCall)) == 1
    assert 482 in [s for _, s in statuses(net, "bob.example.com")]


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
##= type=test
##% If the UAS wishes to reject the request because it does not wish to
##% recreate the dialog, it MUST respond to the request with a 481
##% (Call/Transaction Does Not Exist) status code and pass that to the
##% server transaction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.2
##= type=test
##% If the BYE does not match an existing dialog, the UAS core SHOULD
##% generate a 481
##% (Call/Transaction Does Not Exist) response and pass that to the
##% server transaction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
##= type=test
##% Based on the To tag, the UAS MAY either accept or reject the request.
def test_unknown_dialog_gets_481() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    net.add_ua(make_ua("bob", seed=2, allow=("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO")))
    in_dialog = alice.ua.build_request("INFO", "Bob <sip:bob@bob.example.com>")
    in_dialog.headers.set("To", "Bob <sip:bob@bob.example.com>;tag=gone")
    no_tag_bye = alice.ua.build_request("BYE", "sip:bob@bob.example.com")
    target = parse_uri_host("bob.example.com")
    net.send("alice.example.com", in_dialog, target)
    net.send("alice.example.com", no_tag_bye, target)
    net.run(0.5)
    assert sorted((r.cseq.method, r.status) for r in responses(alice)) == [
        ("BYE", 481),
        ("INFO", 481),
    ]


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% Upon receipt of a redirection response (for example, a 301 response
##% status code), clients SHOULD use the URI(s) in the Contact header
##% field to formulate one or more new requests based on the redirected
##% request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% As with proxy recursion, a client processing
##% 3xx class responses MUST NOT add any given URI to the target set more
##% than once.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% Finally, once the new request has been constructed, it is sent using
##% a new client transaction, and therefore MUST have a new branch ID in
##% the top Via field as discussed in Section 8.1.1.7.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% When a failure for a particular contact address is received, the
##% client SHOULD try the next contact address.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% Failures SHOULD be detected through failure response codes (codes greater than 399); for
##% network errors the client transaction will report any transport layer failures to the
##% transaction user.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% Requests to the URIs MAY be generated serially or in parallel.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.2
##= type=test
##% Depending on the status code of the 3xx response (see Section 21.3), the UAC MAY choose to
##% try those new addresses.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% As the target set grows, the client MAY generate new requests to the URIs in any order.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.3.3
##= type=test
##% The requesting client SHOULD retry the request at the new address(es) given by the
##% Contact header field (Section 20.10).
def test_redirection_walks_the_target_set() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))

    def redirect(request: Request) -> list[Response]:
        response = request.make_response(302, to_tag="r")
        # A loop back to the redirect server itself and two new targets, q-ordered.
        response.headers.add(
            "Contact",
            "<sip:bob@redirect.example.com>, <sip:bob@nobody.example.com>;q=0.9, "
            "<sip:bob@bob.example.com>;q=0.5",
        )
        return [response]

    def nobody(request: Request) -> list[Response]:
        return [request.make_response(404, to_tag="n")]

    net.add_script("redirect.example.com", redirect)
    net.add_script("nobody.example.com", nobody)
    client, effects = alice.ua.request("OPTIONS", "sip:bob@redirect.example.com", 0.0)
    net.call(alice, effects)
    net.run(2.0)
    targets = [dst for _, src, dst, line in net.wire if line.startswith("OPTIONS")]
    assert targets == ["redirect.example.com", "nobody.example.com", "bob.example.com"]
    (event,) = alice.of(ResponseEvent)
    assert event.response.status == 200
    sent = [m for _, m in bob.received if isinstance(m, Request)]
    assert str(sent[0].uri) == "sip:bob@bob.example.com"
    branches = {m.top_via.branch for _, m in net.nodes["nobody.example.com"].received}
    assert client.request.top_via.branch not in branches
    assert [str(u) for u in client.target_set].count("sip:bob@redirect.example.com") == 1


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.5
##= type=test
##% The UAC
##% SHOULD retry the request, this time omitting any extensions listed in
##% the Unsupported header field in the response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.5
##= type=test
##% This new request
##% constitutes a new transaction and SHOULD have the same value of the
##% Call-ID, To, and From of the previous request, but the CSeq should
##% contain a new sequence number that is one higher than the previous.
def test_420_retry_without_unsupported_extensions() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2, supported=("timer",)))
    _client, effects = alice.ua.request(
        "OPTIONS", "sip:bob@bob.example.com", 0.0, headers=[("Require", "timer, foo")]
    )
    net.call(alice, effects)
    net.run(1.0)
    first, second = [m for _, m in bob.received if isinstance(m, Request)]
    assert first.header("Require") == ["timer", "foo"]
    assert second.header("Require") == ["timer"]
    assert second.cseq.number == first.cseq.number + 1
    assert (second.call_id, second.from_.tag) == (first.call_id, first.from_.tag)
    assert [e.response.status for e in alice.of(ResponseEvent)] == [200]


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.1
##= type=test
##% When a timeout error is received from the transaction layer, it MUST be
##% treated as if a 408 (Request Timeout) status code has been received.
def test_timeout_is_a_408() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    _client, effects = alice.ua.request("OPTIONS", "sip:bob@void.example.com", 0.0)
    net.call(alice, effects)
    net.run(40.0)
    (event,) = alice.of(ResponseEvent)
    assert event.response.status == 408
    assert round(alice.events[0][0], 2) == 32.0  # Timer F = 64*T1


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.2
##= type=test
##% A UAC MUST treat any final response it does not recognize as being
##% equivalent to the x00 response code of that class, and MUST be able
##% to process the x00 response code for all classes.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.2
##= type=test
##% A UAC MUST treat any provisional response different than 100 that it does not recognize as
##% 183 (Session Progress).
def test_unrecognized_status_codes() -> None:
    assert effective_status(431) == 400
    assert effective_status(599) == 500
    assert effective_status(182) == 182
    assert effective_status(199) == 183
    assert effective_status(404) == 404


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.2
##= type=test
##% A UAC MUST be able to process 100 and 183 responses.
def test_a_uac_processes_100_and_183() -> None:
    ua = make_ua("alice", seed=1)
    client, _effects = ua.request("INVITE", "sip:bob@bob.example.com", 0.0)
    delivered = []
    for now, status in ((0.1, 100), (0.2, 183), (0.3, 486)):
        response = client.request.make_response(status, to_tag=None if status == 100 else "b1")
        events = ua.receive(response, "bob.example.com", now)
        delivered += [e.response.status for e in events if isinstance(e, ResponseEvent)]
    assert delivered == [100, 183, 486]
    assert client.provisional and client.final is not None and client.final.status == 486


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.3
##= type=test
##% If more than one Via header field value is present in a response, the
##% UAC SHOULD discard the message.
def test_stray_and_misrouted_responses_are_dropped_and_logged() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))

    def two_vias(request: Request) -> list[Response]:
        response = request.make_response(200, to_tag="v")
        response.headers.add("Via", "SIP/2.0/UDP evil.example.com;branch=z9hG4bKevil")
        return [response]

    net.add_script("bob.example.com", two_vias)
    client, effects = alice.ua.request("OPTIONS", "sip:bob@bob.example.com", 0.0)
    net.call(alice, effects)
    net.run(0.1)
    # A response for a transaction that never existed.
    stray = parse(bytes(client.request.make_response(200, to_tag="s")))
    stray.headers.set("Via", "SIP/2.0/UDP alice.example.com;branch=z9hG4bKnever")
    net.send("bob.example.com", stray, "alice.example.com")
    net.run(0.2)
    reasons = [e.reason for e in alice.of(Dropped)]
    assert any("more than one Via" in r for r in reasons)
    assert any("matches no client transaction" in r for r in reasons)
    assert alice.of(ResponseEvent) == []
    assert len(alice.ua.log) == len(reasons)


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.1
##= type=test
##% One largely non-method-specific guideline for the generation of
##% responses is that UASs SHOULD NOT issue a provisional response for a
##% non-INVITE request.
def test_other_methods_reach_the_application() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2, allow=("INVITE", "ACK", "CANCEL", "BYE", "MESSAGE")))
    _, effects = alice.ua.request(
        "MESSAGE", "sip:bob@bob.example.com", 0.0, body=b"hi", content_type="text/plain"
    )
    net.call(alice, effects)
    net.run(0.05)
    # text/plain is not in Bob's Accept list: 415.
    assert [e.response.status for e in alice.of(ResponseEvent)] == [415]
    bob.ua.config.accept = ("application/sdp", "text/plain")
    _client, effects = alice.ua.request(
        "MESSAGE", "sip:bob@bob.example.com", net.now, body=b"hi", content_type="text/plain"
    )
    net.call(alice, effects)
    net.run(0.2)
    (incoming,) = bob.of(IncomingRequest)
    assert incoming.request.body == b"hi"
    with pytest.raises(ValueError, match="only INVITE gets provisional"):
        bob.ua.respond(incoming.server, 180, net.now)  # no provisional to a non-INVITE
    net.call(bob, bob.ua.respond(incoming.server, 202, net.now))
    net.run(0.5)
    assert [e.response.status for e in alice.of(ResponseEvent)] == [415, 202]
    assert started(net, "bob.example.com", "SIP/2.0")


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.1
##= type=test
##% If a fatal transport error is reported by the transport layer
##% (generally, due to fatal ICMP errors in UDP or connection failures in
##% TCP), the condition MUST be treated as a 503 (Service Unavailable)
##% status code.
def test_transport_error_is_a_503() -> None:
    ua = make_ua("alice", seed=1)
    client, _effects = ua.request("OPTIONS", "sip:bob@bob.example.com", 0.0)
    assert client.transaction is not None
    events = ua.transport_error(client.transaction, 0.1)
    (event,) = [e for e in events if isinstance(e, ResponseEvent)]
    assert event.response.status == 503 and event.client is client


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% In order to create a request based on a contact address in a 3xx
##% response, a UAC MUST copy the entire URI from the target set into the
##% Request-URI, except for the "method-param" and "header" URI
##% parameters (see Section 19.1.1 for a definition of these parameters).
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% It uses the "header" parameters to create header field values for the
##% new request, overwriting header field values associated with the
##% redirected request in accordance with the guidelines in Section
##% 19.1.5.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% It is RECOMMENDED that the UAC reuse the same To, From, and Call-ID
##% used in the original redirected request
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% In all other respects, requests sent upon receipt of a redirect
##% response SHOULD re-use the header fields and bodies of the original
##% request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.10
##= type=test
##% SIP requests MAY contain a MIME-encoded message-body.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% If the header field does not accept multiple values, the value in the original redirected
##% request MAY be overwritten by the header field value communicated in the contact address.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.3.2
##= type=test
##% The user can no longer be found at the address in the Request-URI, and the requesting
##% client SHOULD retry at the new address given by the Contact header field (Section 20.10).
def test_redirect_copies_the_uri_and_applies_its_headers() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1, allow=("INVITE", "ACK", "CANCEL", "BYE", "INFO")))
    bob = net.add_ua(make_ua("bob", seed=2, allow=("INVITE", "ACK", "CANCEL", "BYE", "INFO")))

    net.add_script(
        "old.example.com",
        redirecting(301, "<sip:bob@bob.example.com;transport=udp;method=INFO?Subject=moved>"),
    )
    _client, effects = alice.ua.request(
        "OPTIONS",
        "sip:bob@old.example.com",
        0.0,
        headers=[("Subject", "hello"), ("X-Keep", "1")],
        body=b"<x/>",
        content_type="application/sdp",
    )
    net.call(alice, effects)
    net.run(1.0)
    first = net.nodes["old.example.com"].received[0][1]
    (second,) = [m for _, m in bob.received if isinstance(m, Request)]
    assert str(second.uri) == "sip:bob@bob.example.com;transport=udp"
    assert second.headers.get("Subject") == "moved"
    assert second.headers.get("X-Keep") == "1" and second.body == b"<x/>"
    assert (second.to, second.from_, second.call_id) == (first.to, first.from_, first.call_id)
    assert [e.response.status for e in alice.of(ResponseEvent)] == [200]


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.15
##= type=test
##% The Content-Type header field MUST be present if the body is not empty.
@pytest.mark.parametrize(
    ("uri_headers", "body", "content_type"),
    [
        ("body=hi%20there&Content-Type=text/plain", b"hi there", "text/plain"),
        ("body=hi", b"", None),  # a body of unknown type is not sent
    ],
)
def test_redirect_body_header_needs_a_content_type(
    uri_headers: str, body: bytes, content_type: str | None
) -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))

    net.add_script("old.example.com", redirecting(302, f"<sip:bob@bob.example.com?{uri_headers}>"))
    _client, effects = alice.ua.request("OPTIONS", "sip:bob@old.example.com", 0.0)
    net.call(alice, effects)
    net.run(1.0)
    (second,) = [m for _, m in bob.received if isinstance(m, Request)]
    assert second.body == body
    assert second.headers.get("Content-Type") == content_type
    assert second.content_length == len(body)


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.5
##= type=test
##% The client SHOULD retry the request, this time, using a SIP
##% URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% If the user string contains a telephone number formatted as a telephone-subscriber, the
##% user parameter value "phone" SHOULD be present.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.6
##= type=test
##% To mitigate this problem, elements constructing telephone-subscriber
##% fields to place in the userinfo part of a SIP or SIPS URI SHOULD fold
##% any case-insensitive portion of telephone-subscriber to lower case,
##% and order the telephone-subscriber parameters lexically by parameter
##% name, excepting isdn-subaddress and post-dial, which occur first and
##% in that order.
@pytest.mark.parametrize(
    ("tel", "user"),
    [
        ("tel:+15551234", "+15551234"),
        (
            "tel:+358-555-1234567;tsp=Carrier.EXAMPLE;POSTD=PP22;x-Ext=Keep;isub=1411",
            "+358-555-1234567;isub=1411;postd=pp22;tsp=carrier.example;x-ext=Keep",
        ),
    ],
)
def test_416_retried_with_a_sip_uri(tel: str, user: str) -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1, aor="sip:alice@bob.example.com"))
    bob = net.add_ua(make_ua("bob", seed=2))
    client, effects = alice.ua.request("OPTIONS", "sip:bob@bob.example.com", 0.0, request_uri=tel)
    client.destination = None
    # The tel: request goes to bob's host (as an outbound proxy would take it).
    from rfc3261.transaction import SendMessage

    effects = [
        SendMessage(e.message, parse_uri_host("bob.example.com"), e.transaction)
        if isinstance(e, SendMessage)
        else e
        for e in effects
    ]
    net.call(alice, effects)
    net.run(1.0)
    first, second = [m for _, m in bob.received if isinstance(m, Request)]
    assert str(first.uri) == tel
    assert str(second.uri) == f"sip:{user}@bob.example.com;user=phone"
    assert [e.response.status for e in alice.of(ResponseEvent)] == [200]


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.3
##= type=test
##% If the request
##% contained content with languages not understood by the UAS, the
##% response MUST contain an Accept-Language header field indicating the
##% languages understood by the UAS.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.3
##= type=test
##% If the request contained content encodings not understood
##% by the UAS, the response MUST contain an Accept-Encoding header field
##% listing the encodings understood by the UAS.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.3
##= type=test
##% If there are any bodies whose type (indicated by the
##% Content-Type), language (indicated by the Content-Language) or
##% encoding (indicated by the Content-Encoding) are not understood, and
##% that body part is not optional (as indicated by the Content-
##% Disposition header field), the UAS MUST reject the request with a 415
##% (Unsupported Media Type) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.12
##= type=test
##% When present, its value indicates what additional content codings have been
##% applied to the entity-body, and thus what decoding mechanisms MUST be applied
##% in order to obtain the media-type referenced by the Content-Type header field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.13
##= type=test
##% The server MUST return a list of acceptable formats using the Accept,
##% Accept-Encoding, or Accept-Language header field, depending on the specific
##% problem with the content.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.11
##= type=test
##% If the handling parameter is missing, the value "required" SHOULD be assumed.
def test_415_names_what_the_uas_accepts() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    net.add_ua(make_ua("bob", seed=2))
    target = parse_uri_host("bob.example.com")
    cases = {
        "lang": [("Content-Language", "tlh")],
        "enc": [("Content-Encoding", "gzip")],
        "optional": [("Content-Language", "tlh"), ("Content-Disposition", "x;handling=optional")],
    }
    sent = {}
    for name, headers in cases.items():
        request = alice.ua.build_request(
            "OPTIONS",
            "sip:bob@bob.example.com",
            headers=headers,
            body=b"v=0\r\n",
            content_type="application/sdp",
        )
        sent[request.call_id] = name
        net.send("alice.example.com", request, target)
    net.run(1.0)
    got = {sent[r.call_id]: r for r in responses(alice)}
    assert got["lang"].status == 415 and got["lang"].header("Accept-Language") == ["en"]
    assert "Accept-Encoding" not in got["lang"].headers
    assert got["enc"].status == 415 and "Accept-Encoding" in got["enc"].headers
    assert got["optional"].status == 200


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.11
##= type=test
##% If the handling parameter is missing, the value "required" SHOULD be assumed.
def test_unknown_disposition_without_handling_is_refused() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    net.add_ua(make_ua("bob", seed=2))
    target = parse_uri_host("bob.example.com")
    cases = {
        "required": [("Content-Disposition", "x-unknown")],
        "optional": [("Content-Disposition", "x-unknown;handling=optional")],
        "session": [("Content-Disposition", "session")],
    }
    sent = {}
    for name, headers in cases.items():
        request = alice.ua.build_request(
            "OPTIONS",
            "sip:bob@bob.example.com",
            headers=headers,
            body=b"v=0\r\n",
            content_type="application/sdp",
        )
        sent[request.call_id] = name
        net.send("alice.example.com", request, target)
    net.run(1.0)
    got = {sent[r.call_id]: r.status for r in responses(alice)}
    assert got == {"required": 415, "optional": 200, "session": 200}


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.1
##= type=test
##% If the Request-URI does not identify an address that the
##% UAS is willing to accept requests for, it SHOULD reject the request
##% with a 404 (Not Found) response.
def test_strict_request_uri_gives_404() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    net.add_ua(make_ua("bob", seed=2, strict_request_uri=True))
    for user in ("bob", "carol"):
        request = alice.ua.build_request("OPTIONS", f"sip:{user}@bob.example.com")
        net.send("alice.example.com", request, parse_uri_host("bob.example.com"))
    net.run(1.0)
    assert sorted(r.status for r in responses(alice)) == [200, 404]


##= https://www.rfc-editor.org/rfc/rfc3261#section-11.2
##= type=test
##% The response code
##% chosen MUST be the same that would have been chosen had the request
##% been an INVITE.
def test_options_while_busy_gets_486() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    bob.ua.sessions.busy = True
    net.call(alice, alice.ua.request("OPTIONS", "sip:bob@bob.example.com", 0.0)[1])
    net.run(1.0)
    assert [r.status for r in responses(alice)] == [486]


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.8
##= type=test
##% If the Request-URI or top Route header field value contains a SIPS
##% URI, the Contact header field MUST contain a SIPS URI as well.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% If the request has a Request-URI or a topmost Route header field value with a SIPS
##% URI, the Contact header field MUST contain a SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.3
##= type=test
##% A UAC SHOULD
##% use the display name "Anonymous", along with a syntactically correct, but
##% otherwise meaningless URI (like sip:thisis@anonymous.invalid), if the
##% identity of the client is to remain hidden.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.9
##= type=test
##% If the UAC wishes to insist that a UAS understand an extension that
##% the UAC will apply to the request in order to process the request, it
##% MUST insert a Require header field into the request listing the
##% option tag for that extension.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.20
##= type=test
##% A system SHOULD use the display name "Anonymous" if the identity of the client is to
##% remain hidden.
##= https://www.rfc-editor.org/rfc/rfc3261#section-11.1
##= type=test
##% An Accept header field SHOULD be included to indicate the type of
##% message body the UAC wishes to receive in the response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.9
##= type=test
##% If the UAC wishes to apply an extension to the request and insist that any proxies that
##% are traversed understand that extension, it MUST insert a Proxy-Require header field into
##% the request listing the option tag for that extension.
def test_request_options() -> None:
    ua = make_ua("alice")
    secure = ua.build_request("INVITE", "sips:bob@example.com")
    assert secure.contact[0].uri.scheme == "sips"
    via_proxy = make_ua("alice", outbound_proxy="sips:proxy.example.com").build_request(
        "INVITE", "sip:bob@example.com"
    )
    assert via_proxy.contact[0].uri.scheme == "sips"
    assert ua.build_request("INVITE", "sip:bob@example.com").contact[0].uri.scheme == "sip"
    hidden = ua.build_request("INVITE", "sip:bob@example.com", anonymous=True)
    assert hidden.from_.display_name == "Anonymous"
    assert str(hidden.from_.uri) == "sip:thisis@anonymous.invalid" and hidden.from_.tag
    required = ua.build_request(
        "OPTIONS", "sip:bob@example.com", require=["100rel"], proxy_require=["sec-agree"]
    )
    assert required.header("Require") == ["100rel"]
    assert required.header("Proxy-Require") == ["sec-agree"]
    assert required.header("Accept")


def test_unreadable_header_gets_400() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    net.add_ua(make_ua("bob", seed=2))
    request = alice.ua.build_request("OPTIONS", "sip:bob@bob.example.com")
    request.headers.set("Require", "bad tag with spaces")
    net.send("alice.example.com", request, parse_uri_host("bob.example.com"))
    net.run(1.0)
    (response,) = responses(alice)
    assert response.status == 400 and "Require" in response.reason


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2
##= type=test
##% A UAS SHOULD ignore any malformed header fields that are not necessary for processing
##% requests.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2
##= type=test
##% If a UAS does not understand a header field in a request (that is, the header field is not
##% defined in this specification or in any supported extension), the server MUST ignore that
##% header field and continue processing the message.
def test_unknown_and_unneeded_malformed_header_fields_are_ignored() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    net.add_ua(make_ua("bob", seed=2))
    request = alice.ua.build_request(
        "OPTIONS",
        "sip:bob@bob.example.com",
        headers=[("X-Unknown", "{{ not SIP }}"), ("Date", "yesterday"), ("Min-Expires", "x")],
    )
    net.send("alice.example.com", request, parse_uri_host("bob.example.com"))
    net.run(1.0)
    (response,) = responses(alice)
    assert response.status == 200


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.1
##= type=test
##% A UA that supports INVITE MUST also support ACK, CANCEL and
##% BYE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% The URI provided in the Contact header field MUST be a SIP or SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% The URI SHOULD have global scope (that is, the same URI can be used in messages outside
##% this dialog).
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% When a UAC sends a request that can establish a dialog (such as an INVITE) it MUST provide
##% a SIP or SIPS URI with global scope (i.e., the same SIP URI can be used in messages
##% outside this dialog) in the Contact header field of the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.8
##= type=test
##% That is, the Contact header field value contains the URI at which the UA would like to
##% receive requests, and this URI MUST be valid even if used in subsequent requests outside
##% of any dialogs.
def test_configuration_checks() -> None:
    import pytest

    with pytest.raises(ValueError, match=r"§13\.1"):
        make_ua("alice", allow=("INVITE", "ACK"))
    with pytest.raises(ValueError, match="SIP or SIPS"):
        make_ua("alice", contact="tel:+1555")
    assert "OPTIONS" in make_ua("alice", allow=("MESSAGE",)).config.allow


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.3
##= type=test
##% Subsequent final responses (which would only arrive
##% under error conditions) MUST be ignored.
def test_second_final_response_is_ignored() -> None:
    ua = make_ua("alice", seed=1)
    client, _ = ua.request("OPTIONS", "sip:bob@bob.example.com", 0.0)
    first = parse(bytes(client.request.make_response(404, to_tag="a")))
    second = parse(bytes(client.request.make_response(500, to_tag="a")))
    assert [e.response.status for e in ua._on_response(client.transaction, first, 0.1)] == [404]
    (dropped,) = ua._on_response(client.transaction, second, 0.2)
    assert isinstance(dropped, Dropped) and client.final is not None
    assert client.final.status == 404


##= https://www.rfc-editor.org/rfc/rfc3261#section-11
##= type=test
##% Alternatively, a server receiving an OPTIONS request with a Max-Forwards header field
##% value of 0 MAY respond to the request regardless of the Request-URI.
def test_options_with_max_forwards_0_is_answered() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    net.add_ua(make_ua("bob", seed=2, strict_request_uri=True))
    request = alice.ua.build_request("OPTIONS", "sip:bob@bob.example.com")
    request.headers.set("Max-Forwards", "0")
    net.send("alice.example.com", request, parse_uri_host("bob.example.com"))
    net.run(1.0)
    assert [r.status for r in responses(alice)] == [200]


def test_unreadable_response_is_dropped_not_raised() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))

    def broken(request: Request) -> list[Response]:
        response = request.make_response(180, to_tag="b")
        response.headers.add("Contact", "<sip:bob@bob.example.com>;q=high")
        return [response]

    net.add_script("bob.example.com", broken)
    net.call(alice, alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0)[1])
    net.run(0.5)
    (dropped,) = alice.of(Dropped)
    assert "unreadable response" in dropped.reason and "Contact" in dropped.reason


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2
##= type=test
##% If a request is accepted,
##% all state changes associated with it MUST be performed.  If it is
##% rejected, all state changes MUST NOT be performed.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2
##= type=test
##% UASs SHOULD process the requests in the order of the steps that
##% follow in this section (that is, starting with authentication, then
##% inspecting the method, the header fields, and so on throughout the
##% remainder of this section).
def test_rejected_requests_leave_no_state_and_checks_run_in_order() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    target = parse_uri_host("bob.example.com")
    # Unknown method and unknown extension: the method is inspected first.
    both = alice.ua.build_request("SUBSCRIBE", "sip:bob@bob.example.com", require=["foo"])
    net.send("alice.example.com", both, target)
    # Rejected with 420, then sent again by another path without the Require: the first
    # (rejected) request left nothing behind, so this is not a merged request (no 482).
    first = alice.ua.build_request("OPTIONS", "sip:bob@bob.example.com", require=["foo"])
    second = parse(bytes(first))
    second.headers.remove("Require")
    second.headers.set("Via", "SIP/2.0/UDP other.example.com;branch=z9hG4bKpath2")
    net.send("alice.example.com", first, target)
    net.run(0.05)
    net.send("alice.example.com", second, target)
    net.run(1.0)
    codes = [s for _, s in statuses(net, "bob.example.com")]
    assert codes == [405, 420, 200]
    assert bob.ua._merge_keys  # the accepted OPTIONS is remembered while its transaction lives
    net.run(40.0)
    assert bob.ua._merge_keys == {} and bob.ua._merge_key_of == {}


def test_before_transaction_sees_every_request_it_sends() -> None:
    # A UA whose hook marks each request: the first try and the retry after a 302 alike.
    class Marking(UserAgent):
        seen: list[str]

        def before_transaction(self, request: Request) -> None:
            self.seen.append(request.top_via.branch or "")
            request.headers.set("X-Hooked", str(len(self.seen)))

    net = Network()
    base = make_ua("alice", seed=1)
    marking = Marking(base.config, rng=random.Random(1))
    marking.seen = []
    alice = net.add_ua(marking)
    bob = net.add_ua(make_ua("bob", seed=2))

    net.add_script("old.example.com", redirecting(302, "<sip:bob@bob.example.com>"))
    _client, effects = alice.ua.request("OPTIONS", "sip:bob@old.example.com", 0.0)
    net.call(alice, effects)
    net.run(1.0)
    first = net.nodes["old.example.com"].received[0][1]
    (second,) = [m for _, m in bob.received if isinstance(m, Request)]
    assert len(marking.seen) == 2 and marking.seen[0] != marking.seen[1]
    assert (first.headers.get("X-Hooked"), second.headers.get("X-Hooked")) == ("1", "2")


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.3
##= type=test
##% When a tag is generated by a UA for insertion into a request or
##% response, it MUST be globally unique and cryptographically random
##% with at least 32 bits of randomness.
def test_tags_are_cryptographically_random_with_at_least_32_bits() -> None:
    ua = UserAgent(make_ua("alice").config)  # no seeded rng: the system's CSPRNG
    assert isinstance(ua.rng, random.SystemRandom)
    tags = {ua.new_tag() for _ in range(1000)}
    assert len(tags) == 1000
    assert all(len(tag) * 4 >= 32 and int(tag, 16) >= 0 for tag in tags)
    request = ua.build_request("OPTIONS", "sip:bob@example.com")
    assert request.from_.tag is not None and len(request.from_.tag) * 4 >= 32


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.3.4
##= type=test
##% The requested resource MUST be accessed through the proxy given by the Contact
##% field.
def test_305_retries_through_the_proxy_in_contact() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    net.add_script("bob.example.com", redirecting(305, "<sip:proxy.example.com>"))
    through: list[Request] = []

    def proxy(request: Request) -> list[Response]:
        through.append(request)
        return [request.make_response(200, to_tag="p")]

    net.add_script("proxy.example.com", proxy)
    _client, effects = alice.ua.request("OPTIONS", "sip:bob@bob.example.com", 0.0)
    net.call(alice, effects)
    net.run(2.0)
    (retry,) = through
    assert str(retry.uri) == "sip:bob@bob.example.com"  # the resource, not the proxy
    assert retry.headers.get_all("Route") == ["<sip:proxy.example.com;lr>"]
    assert [e.response.status for e in alice.of(ResponseEvent)] == [200]
    # A proxy that answers 305 again is not tried twice: the 305 reaches the application.
    again = Network()
    carol = again.add_ua(make_ua("carol", seed=3))
    again.add_script("bob.example.com", redirecting(305, "<sip:proxy.example.com>"))
    again.add_script("proxy.example.com", redirecting(305, "<sip:proxy.example.com>"))
    _client, effects = carol.ua.request("OPTIONS", "sip:bob@bob.example.com", 0.0)
    again.call(carol, effects)
    again.run(2.0)
    assert [e.response.status for e in carol.of(ResponseEvent)] == [305]


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.41
##= type=test
##% Implementers SHOULD make the User-Agent header field a configurable option.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.35
##= type=test
##% Implementers SHOULD make the Server header field a configurable option.
def test_user_agent_and_server_are_configured() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1, user_agent="sipref-alice/1.0"))
    bob = net.add_ua(make_ua("bob", seed=2, server="sipref-bob/1.0"))
    _client, effects = alice.ua.request("OPTIONS", "sip:bob@bob.example.com", 0.0)
    net.call(alice, effects)
    net.run(1.0)
    (request,) = received(bob, "OPTIONS")
    assert request.headers.get("User-Agent") == "sipref-alice/1.0"
    (response,) = responses(alice)
    assert response.headers.get("Server") == "sipref-bob/1.0"
    # Not configured: neither is sent.
    _client, effects = bob.ua.request("OPTIONS", "sip:alice@alice.example.com", 2.0)
    net.call(bob, effects)
    net.run(3.0)
    (plain,) = received(alice, "OPTIONS")
    assert "User-Agent" not in plain.headers
    assert "Server" not in responses(bob)[0].headers


##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% Similarly, a header field labeled "not applicable" for a response
##% means that the UAS MUST NOT place the header field in the response,
##% and the UAC MUST ignore the header field in the response.
def test_request_only_header_fields_never_reach_a_response() -> None:
    from rfc3261.extension import ServerRequest, UAExtension

    class Careless(UAExtension):
        """Answers POKE passing header fields that only requests may carry."""

        name = "careless"
        methods = ("POKE",)

        def receive_request(self, server: ServerRequest, now: float) -> list:
            headers = [("Max-Forwards", "70"), ("Subject", "hi"), ("Priority", "urgent")]
            return self.ua.respond(server, 200, now, headers=[*headers, ("X-Kept", "1")])

    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))
    bob.ua.use(Careless())
    _client, effects = alice.ua.request("POKE", "sip:bob@bob.example.com", 0.0)
    net.call(alice, effects)
    net.run(1.0)
    (response,) = responses(alice)
    assert response.status == 200 and response.headers.get("X-Kept") == "1"
    for name in ("Max-Forwards", "Subject", "Priority"):
        assert name not in response.headers, name


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% If the original request had a SIPS URI in the Request-URI, the client MAY
##% choose to recurse to a non-SIPS URI, but SHOULD inform the user of the
##% redirection to an insecure URI.
def test_a_sips_request_redirected_to_sip_is_reported() -> None:
    from rfc3261.uac import InsecureRedirect

    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    net.add_ua(make_ua("bob", seed=2))
    net.add_script("old.example.com", redirecting(302, "<sip:bob@bob.example.com>"))
    net.add_script("secure.example.com", redirecting(302, "<sips:bob@bob.example.com>"))
    insecure, effects = alice.ua.request("OPTIONS", "sips:bob@old.example.com", 0.0)
    net.call(alice, effects)
    _secure, effects = alice.ua.request("OPTIONS", "sips:bob@secure.example.com", 0.0)
    net.call(alice, effects)
    net.run(2.0)
    (event,) = alice.of(InsecureRedirect)
    assert event.client is insecure and str(event.target) == "sip:bob@bob.example.com"
    assert [e.response.status for e in alice.of(ResponseEvent)] == [200, 200]


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% A UAC core that generates an ACK for 2xx MUST instead follow the rules described in
##% Section 13.
def test_the_ack_for_a_2xx_goes_outside_the_invite_transaction() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2))

    def answer(net: Network, event: object) -> None:
        if isinstance(event, IncomingCall):
            net.call(bob, bob.ua.sessions.answer(event.call, net.now, body=b"v=0\r\n"))

    bob.on_event = answer
    _call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0, body=b"v=0\r\n")
    net.call(alice, effects)
    net.run(40.0)  # past Timer B and Timer D: nothing more is sent for the INVITE
    (invite,) = received(bob, "INVITE")
    (ack,) = received(bob, "ACK")
    # §13.2.2.4: its own branch (a request of the dialog), the INVITE's CSeq number.
    assert ack.top_via.branch != invite.top_via.branch
    assert ack.cseq.number == invite.cseq.number and ack.to.tag is not None
