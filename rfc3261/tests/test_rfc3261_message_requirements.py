"""Requirements of RFC 3261 §7, §19.1, §20 and §25 that the message layer meets.

One test per requirement (or per group of requirements saying the same thing), each
annotated with the sentence it verifies; table-driven where the requirement concerns
several header fields or values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rfc3261 import (
    AbsoluteURI,
    FramingError,
    Headers,
    NameAddr,
    ParseError,
    Request,
    Response,
    SipURI,
    StreamFramer,
    parse,
    parse_uri,
)
from rfc3261.headers import HEADER_TYPES, Contact, ContentType, CSeq, RetryAfter, Via

VIA = "SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds"

MANDATORY = {
    "Via": f"Via: {VIA}",
    "Max-Forwards": "Max-Forwards: 70",
    "To": "To: <sip:bob@example.com>",
    "From": "From: <sip:alice@example.com>;tag=1928301774",
    "Call-ID": "Call-ID: a84b4c76e66710@pc33.example.com",
}


def request_bytes(
    *headers: str,
    start: str = "OPTIONS sip:bob@example.com SIP/2.0",
    body: bytes = b"",
    without: str | None = None,
) -> bytes:
    """A request with the mandatory header fields (less ``without``), then ``headers``."""
    method = start.split(" ")[0]
    mandatory = [*MANDATORY.values(), f"CSeq: 1 {method}"]
    if without is not None:
        mandatory = [line for line in mandatory if not line.startswith(f"{without}:")]
    lines = [start, *mandatory, *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def response_bytes(*headers: str, status: str = "200 OK", without: str | None = None) -> bytes:
    """A response to an INVITE with Via, To, From, Call-ID and CSeq, then ``headers``."""
    lines = [
        f"SIP/2.0 {status}",
        f"Via: {VIA}",
        "To: <sip:bob@example.com>;tag=a6c85cf",
        "From: <sip:alice@example.com>;tag=1928301774",
        "Call-ID: a84b4c76e66710@pc33.example.com",
        "CSeq: 314159 INVITE",
    ]
    if without is not None:
        lines = [line for line in lines if not line.startswith(f"{without}:")]
    lines.extend(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def built_request(body: bytes = b"", content_type: str | None = None) -> Request:
    return Request.build(
        "INVITE",
        "sip:bob@biloxi.example.com",
        via=VIA,
        from_="Alice <sip:alice@atlanta.example.com>;tag=1928301774",
        to="Bob <sip:bob@biloxi.example.com>",
        call_id="a84b4c76e66710@pc33.atlanta.example.com",
        cseq=314159,
        body=body,
        content_type=content_type,
    )


def start_line(message: Request | Response) -> bytes:
    return bytes(message).split(b"\r\n", 1)[0]


# -- §7.1 Requests -------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.1
##= type=test
##% To be compliant with this specification,
##% applications sending SIP messages MUST include a SIP-Version
##% of "SIP/2.0".
@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (lambda: built_request(), b"INVITE sip:bob@biloxi.example.com SIP/2.0"),
        (lambda: Request("BYE", "sip:bob@192.0.2.4"), b"BYE sip:bob@192.0.2.4 SIP/2.0"),
        (lambda: Response(180), b"SIP/2.0 180 Ringing"),
        (lambda: built_request().make_response(486), b"SIP/2.0 486 Busy Here"),
        # Received with a lower-case version: sent again as "SIP/2.0".
        (
            lambda: parse(request_bytes(start="OPTIONS sip:bob@example.com sip/2.0")),
            b"OPTIONS sip:bob@example.com SIP/2.0",
        ),
        (
            lambda: parse(response_bytes().replace(b"SIP/2.0 200", b"sip/2.0 200", 1)),
            b"SIP/2.0 200 OK",
        ),
    ],
)
def test_messages_sent_carry_sip_2_0(
    message: Callable[[], Request | Response], expected: bytes
) -> None:
    assert start_line(message()) == expected


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.1
##= type=test
##% SIP elements MAY support Request-URIs with schemes other than "sip"
##% and "sips", for example the "tel" URI scheme of RFC 2806 [9].
@pytest.mark.parametrize(
    ("uri", "scheme"),
    [
        ("tel:+1-201-555-0123", "tel"),
        ("TEL:+358-555-1234567;postd=pp22", "tel"),
        ("urn:service:sos", "urn"),
        ("im:alice@atlanta.example.com", "im"),
        ("mailto:alice@atlanta.example.com", "mailto"),
    ],
)
def test_request_uri_with_another_scheme(uri: str, scheme: str) -> None:
    data = request_bytes(start=f"MESSAGE {uri} SIP/2.0")
    message = parse(data)
    assert isinstance(message, Request)
    assert isinstance(message.uri, AbsoluteURI)
    assert message.uri.scheme == scheme
    assert str(message.uri) == uri
    assert bytes(message) == data


# -- §7.2 Responses ------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.2
##= type=test
##% While this specification suggests specific wording for the reason
##% phrase, implementations MAY choose other text, for example, in the
##% language indicated in the Accept-Language header field of the
##% request.
@pytest.mark.parametrize(
    ("status", "reason"),
    [(486, "Occupé"), (200, "Bien"), (404, "Nicht gefunden"), (180, "Ringing; really")],
)
def test_reason_phrase_may_be_other_text(status: int, reason: str) -> None:
    response = built_request().make_response(status, reason)
    assert start_line(response) == f"SIP/2.0 {status} {reason}".encode()
    again = parse(bytes(response))
    assert isinstance(again, Response)
    assert (again.status, again.reason, again.defects) == (status, reason, [])


# -- §7.3 Header fields --------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% Even though an arbitrary number of parameter pairs may be
##% attached to a header field value, any given parameter-name MUST NOT
##% appear more than once.
@pytest.mark.parametrize(
    ("parser", "once", "twice"),
    [
        (Via.parse, "SIP/2.0/UDP h.example.com;branch=z9hG4bK1;x=1",
         "SIP/2.0/UDP h.example.com;branch=z9hG4bK1;x=1;X=2"),
        (Via.parse, "SIP/2.0/UDP h.example.com ;branch=z9hG4bK1",
         "SIP/2.0/UDP h.example.com ;branch=z9hG4bK1 ;branch=z9hG4bK2"),
        (NameAddr.parse, "<sip:a@example.com>;tag=1", "<sip:a@example.com>;tag=1;TAG=2"),
        (NameAddr.parse, '"A" <sip:a@example.com> ;tag=1',
         '"A" <sip:a@example.com> ;tag=1 ;tag=1'),
        (Contact.parse, "<sip:a@example.com>;q=0.1", "<sip:a@example.com>;q=0.1;Q=0.2"),
        (ContentType.parse, "text/plain;charset=utf-8",
         "text/plain;charset=utf-8;Charset=latin1"),
        (RetryAfter.parse, "120;duration=60", "120;duration=60;duration=30"),
    ],
)  # fmt: skip
def test_parameter_name_appears_at_most_once(
    parser: Callable[[str], Any], once: str, twice: str
) -> None:
    assert parser(once).params
    with pytest.raises(ParseError, match="more than once") as caught:
        parser(twice)
    assert caught.value.section == "7.3.1"


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.2
##= type=test
##% If a header field appears in a message not matching
##% its category (such as a request header field in a response), it MUST
##% be ignored.
@pytest.mark.parametrize("value", ["abc", "-1", "256", "70, 70"])
def test_request_header_field_in_a_response_is_ignored(value: str) -> None:
    # Max-Forwards is a request header field: a response carrying a malformed one
    # parses; the same field in a request is checked and rejected.
    response = parse(response_bytes(f"Max-Forwards: {value}"))
    assert isinstance(response, Response)
    assert response.status == 200
    assert response.headers.get("Max-Forwards") == value
    with pytest.raises(ParseError, match="Max-Forwards"):
        parse(request_bytes(f"Max-Forwards: {value}", without="Max-Forwards"))


# -- §7.4 Bodies ---------------------------------------------------------------------

SDP = (
    b"v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\ns=-\r\n"
    b"c=IN IP4 192.0.2.101\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0\r\n"
)


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.4
##= type=test
##% Requests, including new requests defined in extensions to this
##% specification, MAY contain message bodies unless otherwise noted.
@pytest.mark.parametrize(
    ("method", "content_type", "body"),
    [
        ("INVITE", "application/sdp", SDP),
        ("OPTIONS", "application/sdp", SDP),
        ("MESSAGE", "text/plain", b"Watson, come here."),
        ("FROBNICATE", "application/octet-stream", bytes(range(256))),
    ],
)
def test_requests_may_contain_bodies(method: str, content_type: str, body: bytes) -> None:
    data = request_bytes(
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        start=f"{method} sip:bob@example.com SIP/2.0",
        body=body,
    )
    message = parse(data)
    assert isinstance(message, Request)
    assert (message.method, message.body) == (method, body)
    assert message.content_type is not None
    assert message.content_type.mime_type == content_type
    assert bytes(message) == data


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.4.1
##= type=test
##% The Internet media type of the message body MUST be given by the
##% Content-Type header field.
def test_content_type_gives_the_media_type_of_the_body() -> None:
    built = built_request(SDP, content_type="application/sdp")
    assert built.content_type is not None
    assert built.content_type.mime_type == "application/sdp"
    message = Response(200, headers=[("Via", VIA)])
    message.set_body(b"<html/>", "text/html;charset=utf-8")
    assert message.headers.get("Content-Type") == "text/html;charset=utf-8"
    assert message.content_type == ContentType.parse("TEXT/HTML;charset=utf-8")
    parsed = parse(bytes(built))
    assert parsed.content_type is not None
    assert parsed.content_type.mime_type == "application/sdp"
    assert parsed.body == SDP


MULTIPART = (
    b"--boundary42\r\n"
    b"Content-Type: application/sdp\r\n\r\n" + SDP + b"\r\n"
    b"--boundary42\r\n"
    b"Content-Type: application/resource-lists+xml\r\n\r\n<resource-lists/>\r\n"
    b"--boundary42--\r\n"
)


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.4.1
##= type=test
##% The "multipart" MIME type defined in RFC 2046 [11] MAY be used within
##% the body of the message.
def test_multipart_bodies_are_carried() -> None:
    data = request_bytes(
        'Content-Type: multipart/mixed;boundary="boundary42"',
        f"Content-Length: {len(MULTIPART)}",
        start="INVITE sip:bob@example.com SIP/2.0",
        body=MULTIPART,
    )
    message = parse(data)
    assert message.content_type is not None
    assert message.content_type.mime_type == "multipart/mixed"
    assert message.content_type.params.get("boundary") == '"boundary42"'
    assert message.body == MULTIPART
    assert message.content_length == len(MULTIPART)
    assert bytes(message) == data


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.4.2
##= type=test
##% The "chunked" transfer encoding of HTTP/1.1 MUST NOT be used for SIP.
def test_no_chunked_transfer_coding() -> None:
    # What sipref sends: the body length is always given by Content-Length.
    for message in (
        built_request(SDP, "application/sdp"),
        built_request(),
        built_request().make_response(200),
    ):
        assert "Transfer-Encoding" not in message.headers
        assert message.headers.get("Content-Length") == str(len(message.body))
    # What it receives on a stream: Content-Length octets, never chunks.
    head = (
        b"MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h.example.com;branch=z9hG4bK1"
        b"\r\nTransfer-Encoding: chunked\r\n"
    )
    chunked = b"5\r\nhello\r\n0\r\n\r\n"
    framer = StreamFramer()
    framed = framer.feed(head + f"Content-Length: {len(chunked)}\r\n\r\n".encode() + chunked)
    assert framed == [head + f"Content-Length: {len(chunked)}\r\n\r\n".encode() + chunked]
    with pytest.raises(FramingError, match="without Content-Length"):
        StreamFramer().feed(head + b"\r\n" + chunked)


# -- §19.1.1 SIP and SIPS URI components ---------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% If the host being addressed can process telephone numbers, for
##% instance, an Internet telephony gateway, a telephone-subscriber
##% field defined in RFC 2806 [9] MAY be used to populate the user field.
@pytest.mark.parametrize(
    ("text", "user", "password"),
    [
        ("sip:+1-212-555-1212:1234@gateway.com;user=phone", "+1-212-555-1212", "1234"),
        ("sip:+358-555-1234567;postd=pp22@foo.com;user=phone", "+358-555-1234567;postd=pp22",
         None),
        ("sip:+12125551212;isub=1234;postd=pp22@gw.example.com;user=phone",
         "+12125551212;isub=1234;postd=pp22", None),
        ("sips:1212@gateway.com", "1212", None),
        ("sip:5551234;phone-context=+1-212@gw.example.com;user=phone",
         "5551234;phone-context=+1-212", None),
    ],
)  # fmt: skip
def test_telephone_subscriber_in_the_user_field(text: str, user: str, password: str) -> None:
    uri = parse_uri(text)
    assert isinstance(uri, SipURI)
    assert (uri.user, uri.password) == (user, password)
    assert str(uri) == text
    assert uri.user_param == ("phone" if "user=phone" in text else None)


# -- §20 Header fields ---------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% t: The header field SHOULD be sent, but clients/servers need to be
##% prepared to receive messages without that header field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.14
##= type=test
##% Applications SHOULD use this field to indicate the size of the
##% message-body to be transferred, regardless of the media type of the
##% entity.
@pytest.mark.parametrize(
    ("message", "length"),
    [
        (lambda: built_request(), 0),
        (lambda: built_request(SDP, "application/sdp"), len(SDP)),
        (lambda: built_request(bytes(range(256)), "application/octet-stream"), 256),
        (lambda: built_request().make_response(100), 0),
        (lambda: built_request().make_response(603), 0),
    ],
)
def test_content_length_is_sent(message: Callable[[], Request | Response], length: int) -> None:
    built = message()
    assert built.headers.get("Content-Length") == str(length)
    assert f"\r\nContent-Length: {length}\r\n".encode() in bytes(built)


##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% t: The header field SHOULD be sent, but clients/servers need to be
##% prepared to receive messages without that header field.
def test_messages_without_content_length_are_received() -> None:
    message = parse(request_bytes(body=b"the rest of the datagram"))
    assert "Content-Length" not in message.headers
    assert message.body == b"the rest of the datagram"
    assert message.content_length == len(message.body)
    response = parse(response_bytes())
    assert "Content-Length" not in response.headers
    assert (response.body, response.content_length) == (b"", 0)


##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% If a stream-based protocol (such as TCP) is used as a transport, then
##% the header field MUST be sent.
def test_content_length_is_required_on_a_stream() -> None:
    with_length = request_bytes("Content-Length: 0")
    assert StreamFramer().feed(with_length) == [with_length]
    with pytest.raises(FramingError, match="without Content-Length"):
        StreamFramer().feed(request_bytes())
    # Everything sipref builds can go on a stream.
    for message in (built_request(SDP, "application/sdp"), built_request().make_response(200)):
        assert StreamFramer().feed(bytes(message)) == [bytes(message)]


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.14
##= type=test
##% If no body is present in a message, then the Content-Length header
##% field value MUST be set to zero.
def test_content_length_zero_without_body() -> None:
    message = built_request(SDP, "application/sdp")
    assert message.headers.get("Content-Length") == str(len(SDP))
    message.set_body(b"")
    assert message.headers.get_all("Content-Length") == ["0"]
    assert bytes(message).endswith(b"\r\nContent-Length: 0\r\n\r\n")
    assert parse(bytes(message)).content_length == 0
    assert built_request().headers.get("Content-Length") == "0"
    assert built_request().make_response(200).headers.get("Content-Length") == "0"


# Optional header fields the parser does not read: a malformed value does not stop the
# message, it fails only when asked for. (value, header as written)
LAZY = [
    ("Date", "Date: yesterday"),
    ("MIME-Version", "MIME-Version: one"),
    ("Priority", "Priority: very urgent"),
    ("Timestamp", "Timestamp: soon"),
    ("Retry-After", "Retry-After: later"),
    ("Expires", "Expires: never"),
    ("Content-Disposition", "Content-Disposition: ;handling=optional"),
    ("Contact", "Contact: <sip:a@example.com"),
    ("Supported", "Supported: 100rel,,timer"),
]


##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% "Optional" means that an element MAY include the header field in a
##% request or response, and a UA MAY ignore the header field if present
##% in the request or response (The exception to this rule is the Require
##% header field discussed in 20.32).
@pytest.mark.parametrize(("name", "line"), LAZY)
def test_optional_header_fields_may_be_ignored(name: str, line: str) -> None:
    message = parse(request_bytes(line, start="INVITE sip:bob@example.com SIP/2.0"))
    assert message.headers.get(name) == line.partition(": ")[2]
    with pytest.raises(ParseError) as caught:
        message.header(name)
    assert caught.value.header == name
    # Absent optional header fields are simply absent.
    plain = parse(request_bytes())
    assert name not in plain.headers
    assert plain.header(name) in (None, [])


# Response-only header fields (Table 2/3 "-" for requests) placed in a request.
NOT_APPLICABLE_IN_REQUESTS = [
    "Min-Expires: soon",
    "Unsupported: ,",
    "Warning: no warn-code",
    "Server: ",
    "Authentication-Info: ",
    "WWW-Authenticate: ",
    "Proxy-Authenticate: x,",
]


##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% If one is placed in a request by mistake, it MUST be ignored by the
##% UAS receiving the request.
@pytest.mark.parametrize("line", NOT_APPLICABLE_IN_REQUESTS)
def test_response_header_field_in_a_request_is_ignored(line: str) -> None:
    data = request_bytes(line, start="INVITE sip:bob@example.com SIP/2.0")
    message = parse(data)
    assert isinstance(message, Request)
    assert message.method == "INVITE"
    assert bytes(message) == data


##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% Similarly, a header field labeled "not applicable" for a response
##% means that the UAS MUST NOT place the header field in the response,
##% and the UAC MUST ignore the header field in the response.
@pytest.mark.parametrize("line", ["Max-Forwards: none", "Max-Forwards: 999"])
def test_request_header_field_in_a_response_is_ignored_by_the_uac(line: str) -> None:
    response = parse(response_bytes(line))
    assert isinstance(response, Response)
    assert response.headers.get("Max-Forwards") == line.partition(": ")[2]


##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% A "mandatory" header field MUST be present in a
##% request, and MUST be understood by the UAS receiving the request.
@pytest.mark.parametrize("missing", ["Via", "To", "From", "Call-ID", "CSeq"])
def test_mandatory_request_header_fields(missing: str) -> None:
    with pytest.raises(ParseError, match=f"missing {missing} header field"):
        parse(request_bytes(without=missing))
    message = parse(request_bytes())
    # Parsed and understood: typed values, checked against each other.
    assert message.top_via.branch == "z9hG4bK776asdhds"
    assert message.to.uri == parse_uri("sip:bob@example.com")
    assert message.from_.tag == "1928301774"
    assert message.call_id == "a84b4c76e66710@pc33.example.com"
    assert message.cseq == CSeq(1, "OPTIONS")
    assert message.max_forwards == 70


##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% A mandatory response header field MUST be present in the
##% response, and the header field MUST be understood by the UAC
##% processing the response.
@pytest.mark.parametrize("missing", ["Via", "To", "From", "Call-ID", "CSeq"])
def test_mandatory_response_header_fields(missing: str) -> None:
    with pytest.raises(ParseError, match=f"missing {missing} header field"):
        parse(response_bytes(without=missing))
    response = parse(response_bytes())
    assert response.to.tag == "a6c85cf"
    assert response.cseq == CSeq(314159, "INVITE")
    # Every response sipref builds carries them.
    built = built_request().make_response(180)
    for name in ("Via", "To", "From", "Call-ID", "CSeq"):
        assert name in built.headers


##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% A UA SHOULD ignore extension header parameters that are not understood.
@pytest.mark.parametrize(
    ("header", "value", "check"),
    [
        ("To", "<sip:bob@example.com>;tag=8321234356;x-color=blue;flag",
         lambda v: v.tag == "8321234356"),
        ("From", '"Alice" <sip:alice@example.com> ;tag=1 ;epid="a;b"',
         lambda v: v.tag == "1" and v.display_name == "Alice"),
        ("Contact", "<sip:a@192.0.2.1>;expires=60;+sip.instance=\"<urn:uuid:1>\";reg-id=1",
         lambda v: v[0].expires == 60),
        ("Via", "SIP/2.0/UDP h.example.com;branch=z9hG4bK1;x-hop=7;keep",
         lambda v: v[0].branch == "z9hG4bK1"),
        ("Content-Type", "text/plain;charset=utf-8;x-unknown=1",
         lambda v: v.mime_type == "text/plain"),
    ],
)  # fmt: skip
def test_unknown_header_parameters_are_ignored(
    header: str, value: str, check: Callable[[Any], bool]
) -> None:
    data = request_bytes(f"X-Probe: {header}")
    message = parse(data)
    message.headers.set(header, value)
    typed = message.header(header)
    assert check(typed)
    again = parse(bytes(message))
    assert again.headers.get(header) == value


# The Contact, From, To (and Reply-To) values: name-addr needed for ",", "?" and ";".
NAME_ADDR_HEADERS = ["From", "To", "Contact", "Reply-To"]


##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% If the URI contains a comma, question mark or semicolon, the URI MUST
##% be enclosed in angle brackets (< and >).
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.20
##= type=test
##% Even if the "display-name" is empty, the "name-addr" form MUST be
##% used if the "addr-spec" contains a comma, question mark, or
##% semicolon.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.31
##= type=test
##% Even if the "display-name" is empty, the "name-addr" form MUST be
##% used if the "addr-spec" contains a comma, question mark, or
##% semicolon.
@pytest.mark.parametrize("header", NAME_ADDR_HEADERS)
@pytest.mark.parametrize(
    "uri",
    [
        "sip:alice@atlanta.example.com;transport=tcp",
        "sip:alice@atlanta.example.com?subject=project%20x",
        "sip:alice,smith@atlanta.example.com",
        "sip:alice;day=tuesday@atlanta.example.com",
    ],
)
def test_uri_with_comma_question_mark_or_semicolon_is_enclosed(header: str, uri: str) -> None:
    parser = HEADER_TYPES[header.lower()].parse
    # Sent: always between "<" and ">", even without a display name.
    value = NameAddr(None, parse_uri(uri), angle=False)
    assert str(value) == f"<{uri}>"
    parsed = parser(str(value))
    assert parsed.uri == parse_uri(uri)
    # Received without them: the URI ends at the first ";" (the rest are header
    # parameters), and a "," or "?" in it is an error.
    if "?" in uri or "," in uri:
        with pytest.raises(ParseError, match="must be enclosed in <>"):
            parser(uri)
    # A URI with none of them may stay bare.
    assert str(NameAddr(None, parse_uri("sip:alice@atlanta.example.com"), angle=False)) == (
        "sip:alice@atlanta.example.com"
    )


def test_semicolon_after_a_bare_uri_starts_header_parameters() -> None:
    value = NameAddr.parse("sip:alice@atlanta.example.com;transport=tcp", "To")
    assert str(value.uri) == "sip:alice@atlanta.example.com"
    assert value.params.get("transport") == "tcp"


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.7
##= type=test
##% Although not a comma-separated list, this header field name may be
##% present multiple times, and MUST NOT be combined into a single header
##% line using the usual rules described in Section 7.3.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.28
##= type=test
##% Although not a comma-separated list, this header field name may be
##% present multiple times, and MUST NOT be combined into a single header
##% line using the usual rules described in Section 7.3.1.
@pytest.mark.parametrize("name", ["Authorization", "Proxy-Authorization"])
def test_credentials_rows_are_never_combined(name: str) -> None:
    rows = [
        f'{name}: Digest username="alice", realm="{realm}", nonce="n{realm}", '
        'uri="sip:bob@example.com", response="0123456789abcdef0123456789abcdef"'
        for realm in ("atlanta.example.com", "biloxi.example.com")
    ]
    data = request_bytes(*rows)
    message = parse(data)
    values = message.header(name)
    assert [v.params.get("realm") for v in values] == [
        '"atlanta.example.com"',
        '"biloxi.example.com"',
    ]
    assert len(message.headers.get_all(name)) == 2
    assert bytes(message) == data
    # Built by hand: two rows stay two rows.
    headers = Headers()
    headers.add(name, rows[0].partition(": ")[2])
    headers.add(name, rows[1].partition(": ")[2])
    assert [line.partition(":")[0] for line in headers.raw_lines()] == [name, name]


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.12
##= type=test
##% If multiple encodings have been applied to an entity-body, the
##% content codings MUST be listed in the order in which they were
##% applied.
@pytest.mark.parametrize(
    ("rows", "codings"),
    [
        (("Content-Encoding: gzip",), ["gzip"]),
        (("Content-Encoding: gzip, deflate",), ["gzip", "deflate"]),
        (("Content-Encoding: deflate, gzip",), ["deflate", "gzip"]),
        (("Content-Encoding: gzip", "e: deflate", "Content-Encoding: br"),
         ["gzip", "deflate", "br"]),
    ],
)  # fmt: skip
def test_content_codings_keep_their_order(rows: tuple[str, ...], codings: list[str]) -> None:
    data = request_bytes("Content-Type: text/plain", *rows)
    message = parse(data)
    assert message.header("Content-Encoding") == codings
    assert message.headers.get_all("Content-Encoding") == codings
    assert bytes(message) == data
    built = Headers([("Content-Encoding", ", ".join(codings))])
    assert built.typed("content-encoding") == codings


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.16
##= type=test
##% The sequence number MUST be expressible as a 32-bit unsigned integer.
@pytest.mark.parametrize(
    ("text", "number"),
    [("0 INVITE", 0), ("4711 BYE", 4711), ("2147483647 ACK", 2**31 - 1)],
)
def test_cseq_number_fits_32_bits(text: str, number: int) -> None:
    assert CSeq.parse(text).number == number
    assert number < 2**32


@pytest.mark.parametrize("text", ["4294967296 INVITE", "18446744073709551616 INVITE"])
def test_cseq_number_beyond_32_bits_is_rejected(text: str) -> None:
    with pytest.raises(ParseError, match="CSeq"):
        CSeq.parse(text)


# -- §25.1 Basic rules ---------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-25.1
##= type=test
##% A recipient MAY replace any linear white space with a single SP before
##% interpreting the field value or forwarding the message downstream.
@pytest.mark.parametrize(
    ("line", "name", "value"),
    [
        ("Subject: lunch\r\n   at noon", "Subject", "lunch at noon"),
        ("Subject: lunch\r\n\tat noon", "Subject", "lunch at noon"),
        ("Subject:\r\n lunch", "Subject", "lunch"),
        ("Call-Info: <http://www.example.com/alice/photo.jpg>\r\n ;purpose=icon", "Call-Info",
         "<http://www.example.com/alice/photo.jpg> ;purpose=icon"),
    ],
)  # fmt: skip
def test_folding_lws_is_read_as_a_single_sp(line: str, name: str, value: str) -> None:
    data = request_bytes(line)
    message = parse(data)
    assert message.headers.get(name) == value
    # Forwarded unchanged, folding included.
    assert bytes(message) == data


def test_lws_in_a_display_name_is_read_as_a_single_sp() -> None:
    for text in ("Alice \t Smith <sip:a@example.com>", "Alice\r\n Smith <sip:a@example.com>"):
        assert NameAddr.parse(text, "From").display_name == "Alice Smith"
