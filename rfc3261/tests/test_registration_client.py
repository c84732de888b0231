"""The registration client (RFC 3261 §10.2) against a scripted registrar."""

from __future__ import annotations

from rfc3261.message import Request, Response
from rfc3261.registration import Registration, RegistrationEvent
from rfc3261.tests.ua_support import Network, make_ua


class Registrar:
    """A minimal registrar for one address-of-record (bindings: contact text -> expires)."""

    def __init__(self, *, min_expires: int = 0, max_expires: int = 7200) -> None:
        self.min_expires = min_expires
        self.max_expires = max_expires
        self.bindings: dict[str, int] = {}
        self.seen: list[Request] = []

    def __call__(self, request: Request) -> list[Response]:
        self.seen.append(request)
        expires_header = request.expires
        contacts = request.contact
        if any(c.is_star for c in contacts):
            self.bindings.clear()
        for contact in contacts:
            if contact.is_star:
                continue
            expires = contact.expires if contact.expires is not None else expires_header
            expires = 3600 if expires is None else expires
            if 0 < expires < self.min_expires:
                response = request.make_response(423, to_tag="reg")
                response.headers.add("Min-Expires", str(self.min_expires))
                return [response]
            key = str(contact.uri)
            if expires == 0:
                self.bindings.pop(key, None)
            else:
                self.bindings[key] = min(expires, self.max_expires)
        response = request.make_response(200, to_tag="reg")
        for key, expires in self.bindings.items():
            response.headers.add("Contact", f"<{key}>;expires={expires}")
        return [response]


def setup(**registrar) -> tuple[Network, object, Registrar]:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=9))
    server = Registrar(**registrar)
    net.add_script("example.com", server)
    return net, alice, server


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% The "userinfo" and "@" components of the
##% SIP URI MUST NOT be present.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% A UA MUST increment the CSeq value by one for each
##% REGISTER request with the same Call-ID.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.4
##= type=test
##% The UA then issues a REGISTER request for each
##% of its bindings before the expiration interval has elapsed.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% All registrations from a UAC SHOULD use the same Call-ID
##% header field value for registrations sent to a particular
##% registrar.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.4
##= type=test
##% It SHOULD be the same in each registration from a UA.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.4
##= type=test
##% A UA SHOULD use the same Call-ID for all registrations during a single boot cycle.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.4
##= type=test
##% Registration refreshes SHOULD be sent to the same network address as the original
##% registration, unless redirected.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% The following header fields, except Contact, MUST be included in a REGISTER request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% Contact: REGISTER requests MAY contain a Contact header field with zero or more values
##% containing address bindings.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.1.1
##= type=test
##% When a client sends a REGISTER request, it MAY suggest an expiration interval that
##% indicates how long the client would like the registration to be valid.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.6
##= type=test
##% If there is no configured registrar address, the UA SHOULD use the host part of the
##% address-of-record as the Request-URI and address the request there, using the normal SIP
##% server location mechanisms [4].
def test_register_and_refresh_before_expiry() -> None:
    net, alice, registrar = setup(max_expires=600)
    registration = Registration(alice.ua, expires=3600)
    net.call(alice, registration.register(0.0))
    net.run(0.5)
    first = registrar.seen[0]
    assert str(first.uri) == "sip:example.com"
    assert str(first.to.uri) == str(first.from_.uri) == "sip:alice@example.com"
    assert first.expires == 3600 and len(first.contact) == 1
    (event,) = alice.of(RegistrationEvent)
    assert event.expires == 600  # the registrar granted less than asked
    assert registration.expires_at is not None and abs(registration.expires_at - 600.02) < 1e-6
    net.run(1300.0)
    times = [t for t, m in net.nodes["example.com"].received]
    assert len(times) >= 3
    # Every refresh leaves before the binding it refreshes expires.
    granted_until = 0.02 + 600
    for t in times[1:]:
        assert t < granted_until
        granted_until = t + 600
    cseqs = [r.cseq.number for r in registrar.seen]
    assert cseqs == list(range(cseqs[0], cseqs[0] + len(cseqs)))
    assert {r.call_id for r in registrar.seen} == {first.call_id}


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.8
##= type=test
##% If a UA receives a 423 (Interval Too Brief) response, it MAY retry
##% the registration after making the expiration interval of all contact
##% addresses in the REGISTER request equal to or greater than the
##% expiration interval within the Min-Expires header field of the 423
##% (Interval Too Brief) response.
def test_423_retries_with_min_expires() -> None:
    net, alice, registrar = setup(min_expires=1800)
    registration = Registration(alice.ua, expires=60)
    net.call(alice, registration.register(0.0))
    net.run(1.0)
    assert [r.expires for r in registrar.seen] == [60, 1800]
    assert [e.response.status for e in alice.of(RegistrationEvent)] == [200]
    assert alice.of(RegistrationEvent)[0].expires == 1800


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.3
##= type=test
##% A success response to any REGISTER request contains the complete list
##% of existing bindings, regardless of whether the request contained a
##% Contact header field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.2
##= type=test
##% A UA requests the immediate removal of a binding by
##% specifying an expiration interval of "0" for that contact address in
##% a REGISTER request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.2
##= type=test
##% The REGISTER-specific Contact header field value of "*" applies to
##% all registrations, but it MUST NOT be used unless the Expires header
##% field is present with a value of "0".
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% UAs MUST NOT send a new registration (that is, containing new Contact
##% header field values, as opposed to a retransmission) until they have
##% received a final response from the registrar for the previous one or
##% the previous REGISTER request has timed out.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.4
##= type=test
##% A UA SHOULD NOT refresh bindings set up by other UAs.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% UACs SHOULD NOT use the "action" parameter.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.2
##= type=test
##% UAs SHOULD support this mechanism so that bindings can be removed before their expiration
##% interval has passed.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% A Contact header field MAY be included:
def test_query_remove_and_remove_all() -> None:
    net, alice, registrar = setup()
    registrar.bindings["sip:alice@desk.example.com"] = 3600
    registration = Registration(alice.ua)
    net.call(alice, registration.register(0.0))
    # Queued: sent only once the first has its final response.
    net.call(alice, registration.query(0.0))
    assert len([w for w in net.wire if w[3].startswith("REGISTER")]) == 1
    net.run(1.0)
    query = registrar.seen[1]
    assert query.contact == []
    events = alice.of(RegistrationEvent)
    assert len(events[1].bindings) == 2
    net.call(alice, registration.unregister(net.now))
    net.run(2.0)
    removal = registrar.seen[2]
    assert removal.expires == 0 and str(removal.contact[0].uri) == "sip:alice@alice.example.com"
    assert all("action" not in c.params for r in registrar.seen for c in r.contact)
    assert [len(r.contact) for r in registrar.seen[:1]] == [1]  # only its own binding
    assert list(registrar.bindings) == ["sip:alice@desk.example.com"]
    assert registration.expires_at is None
    net.call(alice, registration.unregister_all(net.now))
    net.run(3.0)
    star = registrar.seen[3]
    assert star.contact[0].is_star and star.expires == 0
    assert registrar.bindings == {}
    # No refresh is pending after removal.
    net.run(10000.0)
    assert len(registrar.seen) == 4


def test_register_with_authentication() -> None:
    from rfc3261.auth_client import StaticCredentials
    from rfc3261.tests.test_auth_client import Challenger

    net = Network()
    alice = net.add_ua(
        make_ua(
            "alice",
            seed=4,
            credentials=StaticCredentials({"biloxi.example.com": ("bob", "zanzibar")}),
        )
    )
    challenger = Challenger()
    net.add_script("example.com", challenger)
    registration = Registration(alice.ua, expires=120)
    net.call(alice, registration.register(0.0))
    net.run(1.0)
    assert [r.cseq.number for r in challenger.seen][1] == challenger.seen[0].cseq.number + 1
    # The challenger echoes no Contact: the binding is not confirmed, so no refresh is set.
    assert [e.response.status for e in alice.of(RegistrationEvent)] == [200]
    net.call(alice, registration.register(net.now))
    net.run(2.0)
    third = challenger.seen[-1]
    assert third.cseq.number == challenger.seen[1].cseq.number + 1
    assert "Authorization" in third.headers  # credentials sent up front (same Call-ID)


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% This address-of-record MUST
##% be a SIP URI or SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.1
##= type=test
##% If the address-of-record in the To header field of a REGISTER request
##% is a SIPS URI, then any Contact header field values in the request
##% SHOULD also be SIPS URIs.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% The Record-Route header field
##% has no meaning in REGISTER requests or responses, and MUST be ignored
##% if present.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.7
##= type=test
##% If the transaction layer returns a timeout error because the REGISTER
##% yielded no response, the UAC SHOULD NOT immediately re-attempt a
##% registration to the same registrar.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% In particular, the UAC MUST NOT create a new route set based on the presence or absence of
##% a Record-Route header field in any response to a REGISTER request.
def test_aor_rules_record_route_and_timeout() -> None:
    import pytest

    ua = make_ua("alice", aor="sips:alice@example.com")
    with pytest.raises(ValueError, match="SIP or SIPS"):
        Registration(ua, aor="<tel:+15551234>")
    net = Network()
    node = net.add_ua(ua)

    def with_record_route(request: Request) -> list[Response]:
        response = request.make_response(200, to_tag="r")
        response.headers.add("Record-Route", "<sip:evil.example.com;lr>")
        response.headers.add("Contact", f"{request.headers.get('Contact')};expires=300")
        return [response]

    net.add_script("example.com", with_record_route)
    registration = Registration(ua, expires=300)
    net.call(node, registration.register(0.0))
    net.run(1.0)
    sent = net.nodes["example.com"].received[0][1]
    assert str(sent.uri) == "sips:example.com" and sent.contact[0].uri.scheme == "sips"
    assert node.of(RegistrationEvent)[0].expires == 300
    assert ua.route_set == [] and ua.dialogs == {}
    # A registrar that stopped answering: one 408, no immediate retry.
    net.nodes["example.com"].script = lambda request: []
    net.call(node, registration.register(net.now))
    net.run(100.0)
    statuses = [e.response.status for e in node.of(RegistrationEvent)]
    assert statuses == [200, 408]
    sends = [t for t, src, dst, line in net.wire if line.startswith("REGISTER")]
    assert max(sends) < 1.0 + 32.0  # only the retransmissions of the one transaction


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% Malformed values SHOULD be treated as equivalent to 3600.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% A UAC MAY include a
##% Route header field in a REGISTER request based on a pre-existing
##% route set as described in Section 8.1.
def test_malformed_expires_and_outbound_proxy() -> None:
    net = Network()
    node = net.add_ua(make_ua("alice", seed=3, outbound_proxy="sip:example.com"))

    def sloppy(request: Request) -> list[Response]:
        response = request.make_response(200, to_tag="r")
        response.headers.add("Contact", f"{request.headers.get('Contact')};expires=soon")
        return [response]

    net.add_script("example.com", sloppy)
    registration = Registration(node.ua, expires=600)
    net.call(node, registration.register(0.0))
    net.run(1.0)
    sent = net.nodes["example.com"].received[0][1]
    assert sent.headers.get_all("Route") == ["<sip:example.com;lr>"]
    assert node.of(RegistrationEvent)[0].expires == 3600
