"""Forming a request from a SIP URI: a link clicked, a business card (RFC 3261 §19.1.5)."""

from __future__ import annotations

import pytest

from rfc3261.message import Request
from rfc3261.tests.ua_support import Network, make_ua
from rfc3261.ua_core import ResponseEvent
from rfc3261.uac import InvalidURIRequest


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% If the URI contains a method parameter, its value MUST be used as the method of
##% the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% The method parameter MUST NOT be placed in the Request-URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% An implementation MUST include any provided transport, maddr, ttl, or
##% user parameter in the Request-URI of the formed request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% Unknown URI parameters MUST be placed in the message's Request-URI.
def test_method_parameter_is_the_method_and_other_parameters_stay() -> None:
    ua = make_ua("alice")
    request = ua.form_request(
        "sip:bob@bob.example.com;transport=udp;maddr=239.255.255.1;ttl=15;user=ip"
        ";method=MESSAGE;x-color=blue"
    )
    assert request.method == "MESSAGE" and request.cseq.method == "MESSAGE"
    assert str(request.uri) == (
        "sip:bob@bob.example.com;transport=udp;maddr=239.255.255.1;ttl=15;user=ip;x-color=blue"
    )
    assert "method" not in str(request.uri).lower()
    assert ua.form_request("sip:bob@bob.example.com").method == "INVITE"


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% An implementation SHOULD treat the presence of any headers or body parts in
##% the URI as a desire to include them in the message, and choose to honor the
##% request on a per-component basis.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% An implementation SHOULD NOT honor these obviously dangerous header fields: From,
##% Call-ID, CSeq, Via, and Record-Route.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% An implementation SHOULD NOT honor any requested Route header field values in order
##% to not be used as an unwitting agent in malicious attacks.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% An implementation SHOULD NOT honor requests to include header fields that may cause
##% it to falsely advertise its location or capabilities.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% An implementation SHOULD verify the accuracy of any requested descriptive
##% header fields, including: Content-Disposition, Content-Encoding,
##% Content-Language, Content-Length, Content-Type, Date, Mime-Version, and
##% Timestamp.
def test_uri_headers_are_honoured_one_by_one() -> None:
    ua = make_ua("alice")
    request = ua.form_request(
        "sip:bob@bob.example.com;method=MESSAGE?Subject=lunch%20at%20noon"
        "&From=sip:mallory%40evil.example.com&Call-ID=fixed&CSeq=1%20MESSAGE"
        "&Via=SIP/2.0/UDP%20evil.example.com%3Bbranch%3Dz9hG4bKevil"
        "&Record-Route=%3Csip:evil.example.com%3Blr%3E&Route=%3Csip:evil.example.com%3Blr%3E"
        "&Contact=%3Csip:mallory%40evil.example.com%3E&User-Agent=Evil&Allow=EVIL"
        "&Accept=text/evil&Organization=Evil%20Inc&Supported=evil"
        "&Content-Length=99&Date=Sat%2C%2013%20Nov%202010%2023:29:00%20GMT&Timestamp=54"
        "&Content-Language=fr"
    )
    assert request.headers.get("Subject") == "lunch at noon"
    assert "Subject: lunch at noon" in bytes(request).decode()
    assert "evil" not in str(request.from_.uri) and request.call_id != "fixed"
    assert request.cseq.number != 1 and "evil" not in str(request.top_via)
    assert "Record-Route" not in request.headers and "Route" not in request.headers
    for name in ("User-Agent", "Allow", "Accept", "Organization", "Supported", "Contact"):
        assert "evil" not in (request.headers.get(name) or "").lower(), name
    # Without a body nothing may describe one; the UA measures length and time itself.
    for name in ("Content-Language", "Date", "Timestamp"):
        assert name not in request.headers, name
    assert request.content_length == 0
    # With a body, its description comes along.
    with_body = ua.form_request(
        "sip:bob@bob.example.com;method=MESSAGE"
        "?body=hello&Content-Type=text/plain&Content-Language=fr"
    )
    assert with_body.body == b"hello" and with_body.content_length == 5
    assert with_body.headers.get("Content-Type") == "text/plain"
    assert with_body.headers.get("Content-Language") == "fr"


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% An implementation MUST NOT proceed with transmitting the request.
def test_an_invalid_request_is_never_sent() -> None:
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    net.add_ua(make_ua("bob", seed=2))
    with pytest.raises(InvalidURIRequest):
        alice.ua.request_from_uri("sip:bob@bob.example.com;method=OPTIONS?Expires=soon", 0.0)
    net.run(1.0)
    assert net.wire == []
    # The same URI with a valid value is sent and answered.
    _client, effects = alice.ua.request_from_uri(
        "sip:bob@bob.example.com;method=OPTIONS?Expires=60", 1.0
    )
    net.call(alice, effects)
    net.run(3.0)
    (sent,) = [m for _, m in net.nodes["bob.example.com"].received if isinstance(m, Request)]
    assert sent.method == "OPTIONS" and sent.headers.get("Expires") == "60"
    assert [e.response.status for e in alice.of(ResponseEvent)] == [200]


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% An implementation MUST NOT send a request requiring an extension that it does
##% not support.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% An implementation SHOULD refuse to send these requests rather than modifying
##% them to match their capabilities.
@pytest.mark.parametrize("header", ["Require", "Proxy-Require"])
def test_a_request_requiring_an_unsupported_extension_is_refused(header: str) -> None:
    ua = make_ua("alice", supported=("timer",))
    with pytest.raises(InvalidURIRequest, match="unsupported"):
        ua.form_request(f"sip:bob@bob.example.com;method=OPTIONS?{header}=timer%2Cfrobnicate")
    request = ua.form_request(f"sip:bob@bob.example.com;method=OPTIONS?{header}=timer")
    assert request.header(header) == ["timer"]
