"""The message layer: parse, serialize, the Headers container, typed access, responses."""

from __future__ import annotations

from typing import Any

import pytest

from rfc3261 import (
    Headers,
    ParseError,
    Request,
    Response,
    bad_request_response,
    parse,
)

VIA = "SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds"


def request_bytes(*headers: str, start: str = "OPTIONS sip:bob@example.com SIP/2.0") -> bytes:
    """A request with the mandatory headers first, then ``headers``."""
    lines = [
        start,
        f"Via: {VIA}",
        "Max-Forwards: 70",
        "To: <sip:bob@example.com>",
        "From: <sip:alice@example.com>;tag=1928301774",
        "Call-ID: a84b4c76e66710@pc33.example.com",
        f"CSeq: 1 {start.split(' ')[0]}",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# -- table-driven: one list of cases, checked in both directions ----------------------

# (wire bytes, what parse gives, how to build the same message)
CASES: list[tuple[str, bytes, dict[str, Any]]] = [
    (
        "minimal OPTIONS",
        b"OPTIONS sip:bob@example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
        b"To: <sip:bob@example.com>\r\n"
        b"From: <sip:a@example.com>;tag=1\r\n"
        b"Call-ID: c1\r\n"
        b"CSeq: 1 OPTIONS\r\n"
        b"Content-Length: 0\r\n\r\n",
        {
            "kind": "request",
            "method": "OPTIONS",
            "uri": "sip:bob@example.com",
            "headers": [
                ("Via", "SIP/2.0/UDP h.example.com;branch=z9hG4bK1"),
                ("To", "<sip:bob@example.com>"),
                ("From", "<sip:a@example.com>;tag=1"),
                ("Call-ID", "c1"),
                ("CSeq", "1 OPTIONS"),
                ("Content-Length", "0"),
            ],
            "body": b"",
        },
    ),
    (
        "200 OK with a body and compact names",
        b"SIP/2.0 200 OK\r\n"
        b"v: SIP/2.0/TCP h.example.com;branch=z9hG4bK2;received=192.0.2.1\r\n"
        b"t: <sip:bob@example.com>;tag=x\r\n"
        b"f: <sip:a@example.com>;tag=1\r\n"
        b"i: c2\r\n"
        b"CSeq: 2 INVITE\r\n"
        b"c: text/plain\r\n"
        b"l: 5\r\n\r\n"
        b"hello",
        {
            "kind": "response",
            "status": 200,
            "reason": "OK",
            "headers": [
                ("v", "SIP/2.0/TCP h.example.com;branch=z9hG4bK2;received=192.0.2.1"),
                ("t", "<sip:bob@example.com>;tag=x"),
                ("f", "<sip:a@example.com>;tag=1"),
                ("i", "c2"),
                ("CSeq", "2 INVITE"),
                ("c", "text/plain"),
                ("l", "5"),
            ],
            "body": b"hello",
        },
    ),
    (
        "unknown header and parameters kept",
        b"REGISTER sip:example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK3;x-unknown=1\r\n"
        b"To: <sip:u@example.com>\r\n"
        b"From: <sip:u@example.com>;tag=2;x-tagged\r\n"
        b"Call-ID: c3\r\n"
        b"CSeq: 3 REGISTER\r\n"
        b"X-Weird: ;;,,; value\r\n"
        b"Contact: <sip:u@192.0.2.4;x-p=1>;expires=60;x-q\r\n"
        b"Content-Length: 0\r\n\r\n",
        {
            "kind": "request",
            "method": "REGISTER",
            "uri": "sip:example.com",
            "headers": [
                ("Via", "SIP/2.0/UDP h.example.com;branch=z9hG4bK3;x-unknown=1"),
                ("To", "<sip:u@example.com>"),
                ("From", "<sip:u@example.com>;tag=2;x-tagged"),
                ("Call-ID", "c3"),
                ("CSeq", "3 REGISTER"),
                ("X-Weird", ";;,,; value"),
                ("Contact", "<sip:u@192.0.2.4;x-p=1>;expires=60;x-q"),
                ("Content-Length", "0"),
            ],
            "body": b"",
        },
    ),
    (
        "reason phrase with spaces and UTF-8",
        "SIP/2.0 486 Busy Here – très occupé\r\n"
        "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK4\r\n"
        "To: <sip:bob@example.com>;tag=y\r\n"
        "From: <sip:a@example.com>;tag=1\r\n"
        "Call-ID: c4\r\n"
        "CSeq: 4 INVITE\r\n"
        "Content-Length: 0\r\n\r\n".encode(),
        {
            "kind": "response",
            "status": 486,
            "reason": "Busy Here – très occupé",
            "headers": [
                ("Via", "SIP/2.0/UDP h.example.com;branch=z9hG4bK4"),
                ("To", "<sip:bob@example.com>;tag=y"),
                ("From", "<sip:a@example.com>;tag=1"),
                ("Call-ID", "c4"),
                ("CSeq", "4 INVITE"),
                ("Content-Length", "0"),
            ],
            "body": b"",
        },
    ),
]


def build(spec: dict[str, Any]) -> Request | Response:
    if spec["kind"] == "request":
        return Request(spec["method"], spec["uri"], Headers(spec["headers"]), spec["body"])
    return Response(spec["status"], spec["reason"], Headers(spec["headers"]), spec["body"])


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.4
##= type=test
##% All responses MAY include a body.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7
##= type=test
##% Both types
##% of messages consist of a start-line, one or more header fields, an
##% empty line indicating the end of the header fields, and an optional
##% message-body.
@pytest.mark.parametrize(("label", "wire", "spec"), CASES, ids=[c[0] for c in CASES])
def test_parse_gives_the_table_values(label: str, wire: bytes, spec: dict[str, Any]) -> None:
    message = parse(wire)
    if spec["kind"] == "request":
        assert isinstance(message, Request)
        assert message.method == spec["method"]
        assert str(message.uri) == spec["uri"]
    else:
        assert isinstance(message, Response)
        assert (message.status, message.reason) == (spec["status"], spec["reason"])
    assert message.headers.fields() == spec["headers"]
    assert message.body == spec["body"]
    assert message == build(spec)


##= https://www.rfc-editor.org/rfc/rfc3261#section-7
##= type=test
##% The start-line, each message-header line, and the empty line MUST be
##% terminated by a carriage-return line-feed sequence (CRLF).
@pytest.mark.parametrize(("label", "wire", "spec"), CASES, ids=[c[0] for c in CASES])
def test_build_serializes_to_the_table_bytes(
    label: str, wire: bytes, spec: dict[str, Any]
) -> None:
    assert bytes(build(spec)) == wire
    assert bytes(parse(wire)) == wire


# -- start line ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "words"),
    [
        ("OPTIONS  sip:bob@example.com SIP/2.0", "more than one SP"),
        ("OPTIONS sip:bob@example.com SIP/2.0 ", "SP after the SIP-Version"),
        ("OPTIONS sip:bob@example.com ;lr SIP/2.0", "whitespace inside the Request-URI"),
        ("OPTIONS <sip:bob@example.com> SIP/2.0", "angle brackets"),
        ("OPTIONS sip:bob@example.com SIP/3.0", "SIP-Version 'SIP/3.0'"),
        ("OPTIONS sip:bob@example.com", "expected Method SP Request-URI SP SIP-Version"),
        ("OPT(IONS sip:bob@example.com SIP/2.0", "not a token"),
        ("OPTIONS sip:bob@example.com?Route=x SIP/2.0", "escaped headers"),
        ("OPTIONS sip:bob@exa\tmple.com SIP/2.0", "tab"),
    ],
)
def test_bad_request_line_is_rejected(start: str, words: str) -> None:
    data = request_bytes(start=start)
    with pytest.raises(ParseError, match=None) as caught:
        parse(data)
    assert words in str(caught.value)
    assert "§" in str(caught.value)


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.1
##= type=test
##% The SIP-Version string is case-insensitive,
##% but implementations MUST send upper-case.
def test_sip_version_is_case_insensitive_and_sent_upper_case() -> None:
    message = parse(request_bytes(start="OPTIONS sip:bob@example.com sip/2.0"))
    assert message.version == "SIP/2.0"
    assert bytes(message).startswith(b"OPTIONS sip:bob@example.com SIP/2.0\r\n")


@pytest.mark.parametrize(
    ("status_line", "words"),
    [
        ("SIP/2.0 2000 OK", "not 3 digits"),
        ("SIP/2.0 099 Odd", "below 100"),
        ("SIP/2.0 20x OK", "not 3 digits"),
        ("SIP/2.0", "missing Status-Code"),
        ("SIP/1.0 200 OK", "SIP-Version 'SIP/1.0'"),
    ],
)
def test_bad_status_line_is_rejected(status_line: str, words: str) -> None:
    data = request_bytes().replace(b"OPTIONS sip:bob@example.com SIP/2.0", status_line.encode())
    with pytest.raises(ParseError) as caught:
        parse(data)
    assert words in str(caught.value)


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.2
##= type=test
##% A client is not required to examine or display the Reason-Phrase.
def test_odd_reason_phrases_are_kept_with_a_defect() -> None:
    base = request_bytes().replace(b"OPTIONS sip:bob@example.com SIP/2.0", b"SIP/2.0 200")
    message = parse(base)
    assert message.reason == ""
    assert message.defects and "Reason-Phrase" in message.defects[0]
    quoted = base.replace(b"SIP/2.0 200", b'SIP/2.0 200 "OK"')
    message = parse(quoted)
    assert message.reason == '"OK"'
    assert any("outside the grammar" in defect for defect in message.defects)


def test_status_6xx_and_extension_codes() -> None:
    base = request_bytes().replace(b"OPTIONS sip:bob@example.com SIP/2.0", b"SIP/2.0 699 Whatever")
    assert parse(base).status == 699
    with pytest.raises(ValueError):
        Response(700)
    assert Response(486).reason == "Busy Here"


# -- header fields ---------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% The formal grammar for a message-header specified in Section 25
##% allows for an arbitrary amount of whitespace on either side of the
##% colon; however, implementations should avoid spaces between the field
##% name and the colon and use a single space (SP) between the colon and
##% the field-value.
@pytest.mark.parametrize(
    "line", ["Subject:            lunch", "Subject      :      lunch", "Subject            :lunch"]
)
def test_whitespace_around_the_colon(line: str) -> None:
    message = parse(request_bytes(line))
    assert message.headers.get("subject") == "lunch"
    assert message.header("Subject") == "lunch"
    assert bytes(message) == request_bytes(line)  # kept as written


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% The line
##% break and the whitespace at the beginning of the next line are
##% treated as a single SP character.
def test_folded_header_is_unfolded_to_single_spaces() -> None:
    folded = "Subject: I know you're there,\r\n         pick up the phone\r\n\tand talk to me!"
    message = parse(request_bytes(folded))
    assert (
        message.headers.get("Subject") == "I know you're there, pick up the phone and talk to me!"
    )
    assert bytes(message) == request_bytes(folded)
    with pytest.raises(ParseError, match="starts with whitespace"):
        parse(b"OPTIONS sip:a@example.com SIP/2.0\r\n folded: x\r\n\r\n")


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% It MUST be possible to combine the multiple
##% header field rows into one "field-name: field-value" pair, without
##% changing the semantics of the message, by appending each subsequent
##% field-value to the first, each separated by a comma.
def test_list_rows_and_comma_forms_are_equivalent() -> None:
    rows = parse(
        request_bytes(
            "Route: <sip:alice@atlanta.com>",
            "Subject: Lunch",
            "Route: <sip:bob@biloxi.com>",
            "Route: <sip:carol@chicago.com>",
        )
    )
    combined = parse(
        request_bytes(
            "Subject: Lunch",
            "Route: <sip:alice@atlanta.com>, <sip:bob@biloxi.com>,",
            "       <sip:carol@chicago.com>",
        )
    )
    expected = ["sip:alice@atlanta.com", "sip:bob@biloxi.com", "sip:carol@chicago.com"]
    assert [str(r.uri) for r in rows.route] == expected
    assert [str(r.uri) for r in combined.route] == expected
    assert rows.headers.get_all("Route") == combined.headers.get_all("route")


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% Multiple header field rows with the same field-name MAY be present in
##% a message if and only if the entire field-value for that header field
##% is defined as a comma-separated list (that is, if follows the grammar
##% defined in Section 7.3).
@pytest.mark.parametrize(
    "rows",
    [
        ("Call-ID: again",),
        ("CSeq: 1 OPTIONS",),
        ("From: <sip:x@example.com>;tag=2",),
        ("Max-Forwards: 3",),
        ("Content-Length: 0", "l: 0"),
    ],
)
def test_single_value_header_twice_is_rejected(rows: tuple[str, ...]) -> None:
    with pytest.raises(ParseError, match="more than once"):
        parse(request_bytes(*rows))


def test_single_value_header_twice_fails_on_access_when_not_mandatory() -> None:
    message = parse(request_bytes("Content-Type: text/plain", "Content-Type: text/html"))
    with pytest.raises(ParseError, match="Content-Type: appears more than once"):
        _ = message.content_type


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% Multiple header
##% field rows with these names MAY be present in a message, but since
##% their grammar does not follow the general form listed in Section 7.3,
##% they MUST NOT be combined into a single header field row.
def test_authorization_rows_are_kept_apart() -> None:
    message = parse(
        request_bytes(
            'Authorization: Digest username="a", realm="r1", nonce="n", uri="sip:b", '
            'response="0123456789abcdef0123456789abcdef"',
            'Authorization: Digest username="a", realm="r2", nonce="m", uri="sip:b", '
            'response="0123456789abcdef0123456789abcdef"',
        )
    )
    credentials = message.header("Authorization")
    assert [c.params.get("realm") for c in credentials] == ['"r1"', '"r2"']
    assert len(message.headers.get_all("Authorization")) == 2


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.3
##= type=test
##% A header
##% field name MAY appear in both long and short forms within the same
##% message.
def test_long_and_compact_forms_mix() -> None:
    message = parse(request_bytes("m: <sip:a@192.0.2.1>", "Contact: <sip:b@192.0.2.2>"))
    assert [c.uri.user for c in message.contact] == ["a", "b"]
    assert "M" in message.headers and "CONTACT" in message.headers
    assert message.headers.get_all("contact") == ["<sip:a@192.0.2.1>", "<sip:b@192.0.2.2>"]


def test_header_name_must_be_a_token() -> None:
    with pytest.raises(ParseError, match="not a token"):
        parse(request_bytes("Bad Name: x"))
    with pytest.raises(ParseError, match="without a colon"):
        parse(request_bytes("NoColonHere"))


def test_mandatory_headers_are_checked() -> None:
    for missing in ("Via", "To", "From", "Call-ID", "CSeq"):
        lines = request_bytes().decode().split("\r\n")
        kept = [line for line in lines if not line.startswith(f"{missing}:")]
        with pytest.raises(ParseError, match=f"missing {missing} header field"):
            parse("\r\n".join(kept).encode())


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.5
##= type=test
##% The
##% method MUST match that of the request.
def test_cseq_method_must_match() -> None:
    data = request_bytes().replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 options")
    with pytest.raises(ParseError, match="does not match the request method"):
        parse(data)


# -- typed access and the Headers container ------------------------------------------


def test_typed_access() -> None:
    message = parse(
        request_bytes(
            'Contact: "Alice" <sip:alice@192.0.2.1:5070;transport=tcp>;expires=30',
            "Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
            "Expires: 120",
            "Supported: replaces, 100rel",
            "X-Custom: anything at all",
        )
    )
    assert message.top_via.branch == "z9hG4bK776asdhds"
    assert message.from_.tag == "1928301774"
    assert message.to.tag is None
    assert message.call_id == "a84b4c76e66710@pc33.example.com"
    assert (message.cseq.number, message.cseq.method) == (1, "OPTIONS")
    assert message.max_forwards == 70
    assert message.contact[0].uri.port == 5070
    assert [r.uri.host for r in message.record_route] == ["p1.example.com", "p2.example.com"]
    assert message.expires == 120
    assert message.header("k") == ["replaces", "100rel"]
    assert message.header("x-custom") == "anything at all"
    assert message.header("Accept") == []
    assert message.header("Date") is None
    assert message.content_length == 0  # absent: the body's length
    assert message.content_type is None


def test_typed_value_is_cached_and_invalidated_on_change() -> None:
    message = parse(request_bytes("Contact: <sip:a@192.0.2.1>"))
    first = message.contact
    assert message.contact is first  # cached
    message.headers.set("m", "<sip:b@192.0.2.2>")
    assert message.contact is not first
    assert message.contact[0].uri.user == "b"
    message.headers.prepend("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp")
    assert message.top_via.host == "proxy.example.com"
    assert len(message.via) == 2
    assert message.headers.remove_first("Via") == "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp"
    assert message.top_via.host == "pc33.example.com"


def test_bad_lazy_header_raises_on_first_access() -> None:
    message = parse(request_bytes("Expires: soon"))
    with pytest.raises(ParseError, match="Expires"):
        _ = message.expires
    message.headers.set("Expires", "60")
    assert message.expires == 60


def test_headers_mutation_api() -> None:
    headers = Headers([("Via", "SIP/2.0/UDP a;branch=z9hG4bK1"), ("Subject", "x")])
    headers.add("v", "SIP/2.0/UDP b;branch=z9hG4bK2")
    headers.prepend("Route", "<sip:r@example.com;lr>")
    assert [name for name, _ in headers] == ["Route", "Via", "Subject", "v"]
    headers.set("VIA", "SIP/2.0/UDP c;branch=z9hG4bK3")
    assert headers.fields() == [
        ("Route", "<sip:r@example.com;lr>"),
        ("VIA", "SIP/2.0/UDP c;branch=z9hG4bK3"),
        ("Subject", "x"),
    ]
    assert headers.remove("subject") == 1
    assert "Subject" not in headers and "s" not in headers
    assert headers.get("missing", "default") == "default"
    assert len(headers) == 2
    with pytest.raises(ValueError, match="CR or LF"):
        headers.add("X-Injected", "a\r\nVia: evil")
    with pytest.raises(ValueError, match="not a token"):
        headers.add("Bad Name", "x")
    copy = headers.copy()
    copy.remove("Route")
    assert "Route" in headers and "Route" not in copy


def test_changed_field_is_written_canonically_and_others_raw() -> None:
    data = request_bytes("subject   :   odd   spacing", "X-Keep:  as  is")
    message = parse(data)
    message.headers.set("Subject", "tidy")
    wire = bytes(message)
    assert b"Subject: tidy\r\n" in wire
    assert b"X-Keep:  as  is\r\n" in wire


def test_set_body_updates_content_length() -> None:
    message = parse(request_bytes("Content-Length: 0"))
    message.set_body(b"v=0\r\n", "application/sdp")
    assert message.content_length == 5
    again = parse(bytes(message))
    assert again.body == b"v=0\r\n"
    assert str(again.content_type) == "application/sdp"


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.15
##= type=test
##% The Content-Type header field MUST be present if the body is not empty.
def test_set_body_needs_a_content_type() -> None:
    message = parse(request_bytes("Content-Length: 0"))
    with pytest.raises(ValueError, match="Content-Type"):
        message.set_body(b"v=0\r\n")
    assert message.body == b"" and message.content_length == 0  # left as it was
    message.set_body(b"")  # an empty body needs none
    message.headers.set("Content-Type", "text/plain")
    message.set_body(b"hello")  # the Content-Type already there serves
    assert parse(bytes(message)).body == b"hello"


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% If the message
##% has no Content-Length header field, the message body is assumed to
##% end at the end of the transport packet.
def test_body_without_content_length_is_the_rest_of_the_datagram() -> None:
    message = parse(request_bytes() + b"rest of the packet")
    assert message.body == b"rest of the packet"
    assert message.content_length == len(b"rest of the packet")


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.14
##= type=test
##% The size of the message-body does not include the CRLF separating
##% header fields and body.
def test_content_length_counts_body_octets_only() -> None:
    message = parse(request_bytes("Content-Length: 3") + b"abcdef")
    assert message.body == b"abc"
    with pytest.raises(ParseError, match="larger than the 6 bytes"):
        parse(request_bytes("Content-Length: 7") + b"abcdef")


# -- building requests and responses ---------------------------------------------------


def test_request_build() -> None:
    request = Request.build(
        "INVITE",
        "sip:bob@example.com",
        via=VIA,
        from_="<sip:alice@example.com>;tag=88",
        to="<sip:bob@example.com>",
        call_id="call-1",
        cseq=7,
        contact="<sip:alice@192.0.2.1>",
        body=b"v=0\r\n",
        content_type="application/sdp",
    )
    parsed = parse(bytes(request))
    assert parsed == request
    assert parsed.cseq.method == "INVITE" and parsed.cseq.number == 7
    assert parsed.max_forwards == 70
    assert parsed.content_length == 5


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.2
##= type=test
##% The From field of the response MUST equal the From header field of
##% the request.  The Call-ID header field of the response MUST equal the
##% Call-ID header field of the request.  The CSeq header field of the
##% response MUST equal the CSeq field of the request.  The Via header
##% field values in the response MUST equal the Via header field values
##% in the request and MUST maintain the same ordering.
def test_make_response_copies_the_transaction_headers() -> None:
    request = parse(
        request_bytes("Via: SIP/2.0/UDP second.example.com;branch=z9hG4bK2", "Subject: x")
    )
    response = request.make_response(404)
    assert (response.status, response.reason) == (404, "Not Found")
    assert response.headers.get_all("Via") == request.headers.get_all("Via")
    assert response.headers.get("From") == request.headers.get("From")
    assert response.headers.get("Call-ID") == request.headers.get("Call-ID")
    assert response.headers.get("CSeq") == request.headers.get("CSeq")
    assert "Subject" not in response.headers
    assert response.headers.get("Content-Length") == "0"
    parsed = parse(bytes(response))
    assert parsed.to.uri == request.to.uri


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.2
##= type=test
##% The
##% same tag MUST be used for all responses to that request, both final
##% and provisional (again excepting the 100 (Trying)).
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.2
##= type=test
##% If a request contained a To tag in the request, the To header field in the response
##% MUST equal that of the request.
def test_make_response_to_tag() -> None:
    request = parse(request_bytes("Timestamp: 54"))
    trying = request.make_response(100)
    assert parse(bytes(trying)).to.tag is None
    assert trying.headers.get("Timestamp") == "54"  # §8.2.6.1
    ringing = parse(bytes(request.make_response(180)))
    ok = parse(bytes(request.make_response(200)))
    assert ringing.to.tag is not None and len(ringing.to.tag) >= 8
    assert ok.to.tag == ringing.to.tag
    assert "Timestamp" not in ok.headers
    chosen = parse(bytes(request.make_response(486, "Busy", to_tag="abc")))
    assert chosen.to.tag == "abc" and chosen.reason == "Busy"
    tagged = parse(request_bytes().replace(b"To: <sip:bob@example.com>", b"To: <sip:b@x>;tag=q"))
    answered = parse(bytes(tagged.make_response(200, to_tag="zz")))
    assert answered.to.tag == "q" and answered.headers.get("To") == tagged.headers.get("To")


def test_bad_request_response_is_none_for_responses_and_garbage() -> None:
    error = ParseError("x")
    assert bad_request_response(b"SIP/2.0 200 OK\r\n\r\n", error) is None
    assert bad_request_response(b"\x00\x01garbage", error) is None
    no_cseq = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n"
    assert bad_request_response(no_cseq, error) is None


def failing(data: bytes) -> ParseError:
    try:
        parse(data)
    except ParseError as error:
        return error
    raise AssertionError("expected a ParseError")


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.7
##= type=test
##% A stateless UAS MUST ignore ACK requests.
def test_a_malformed_ack_is_never_answered() -> None:
    # An ACK that ACKs every final response, copying the bad header, would ping-pong.
    ack = request_bytes("Max-Forwards: many", start="ACK sip:bob@example.com SIP/2.0")
    assert bad_request_response(ack, failing(ack)) is None
    # Whatever the request line says, a CSeq of ACK is not answered either.
    garbled = ack.replace(b"ACK sip:", b"AC\x01K sip:", 1)
    assert bad_request_response(garbled, failing(garbled)) is None
    other = request_bytes("Max-Forwards: many")
    assert bad_request_response(other, failing(other)) is not None


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.7
##= type=test
##% A stateless UAS MUST ignore CANCEL requests.
def test_a_malformed_cancel_is_ignored() -> None:
    cancel = request_bytes("Max-Forwards: many", start="CANCEL sip:bob@example.com SIP/2.0")
    assert bad_request_response(cancel, failing(cancel)) is None
    # The same defect in an OPTIONS is answered: only the CANCEL is ignored.
    other = request_bytes("Max-Forwards: many")
    assert bad_request_response(other, failing(other)) is not None


def test_a_400_fits_one_datagram_and_never_reencodes_bytes() -> None:
    vias = [
        f"Via: SIP/2.0/UDP relay{i}.example.com;branch=z9hG4bK{i:04d}" + "x" * 900
        for i in range(60)
    ]
    data = request_bytes(*vias, "Max-Forwards: many")
    data = data.replace(b"From: <sip:", b'From: "Jos\xe9 ' + b"\xe9" * 20000 + b'" <sip:')
    data = data.replace(b"Call-ID: a84b4c76e66710", b"Call-ID: a84b\xe9" + b"\xff" * 20000)
    data = data.replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 OPTIONS\xe9" + b"\xe9" * 10000)
    assert len(data) > 60_000
    response = bad_request_response(data, failing(data))
    assert response is not None and response.status == 400
    wire = bytes(response)
    assert len(wire) < 9_000
    assert b"\xef\xbf\xbd" not in wire  # no U+FFFD: nothing was re-encoded
    # The top Via and the CSeq (what the client matches on) are echoed; the rest is cut
    # where it stops being text, and Via rows past the budget are left out in order.
    parsed = parse(wire)
    assert parsed.top_via.branch == parse(request_bytes()).top_via.branch
    kept = [via.host for via in parsed.via]
    assert 2 <= len(kept) < 61 and kept[1:] == [
        f"relay{i}.example.com" for i in range(len(kept) - 1)
    ]
    assert parsed.cseq.method == "OPTIONS" and parsed.headers.get("Call-ID") == "a84b"
    # The From whose display name is not text keeps its address and tag.
    assert parsed.from_.display_name is None and parsed.from_.tag == "1928301774"


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% If the message is a request, the
##% element SHOULD generate a 400 (Bad Request) response.
@pytest.mark.parametrize(
    ("start", "status"),
    [
        ("INV\x01ITE sip:bob@example.com SIP/2.0", 400),
        ("INV\u00c9TE sip:bob@example.com SIP/2.0", 400),
        ("OPTIONS sip:bob@example.com aaaaa/2.0", 400),
        ("OPTIONS sip:bob@example.com /2.0", 400),
        ("OPTIONS sip:bob@example.com SIP/3.0", 505),
    ],
)
def test_a_readable_via_gets_an_answer_whatever_the_request_line(start: str, status: int) -> None:
    data = request_bytes(start=start)
    response = bad_request_response(data, failing(data))
    assert response is not None and response.status == status
    # Echoed as written (a method that is not a token stays as it came, in CSeq too),
    # up to the first control character.
    assert response.headers.get_all("Via") == [VIA]
    assert response.headers.get("CSeq") == f"1 {start.split(' ')[0]}".split("\x01")[0]


def test_bad_request_reason_phrase_stays_in_the_grammar() -> None:
    data = request_bytes()
    response = bad_request_response(data, ParseError('bad "<thing>"\r\n', "7.1", "To"))
    assert response is not None
    assert response.reason == "To: bad %22%3Cthing%3E%22"
    assert b"\r\n\r\n" in bytes(response)


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% However, it is RECOMMENDED that header fields which are needed for
##% proxy processing (Via, Route, Record-Route, Proxy-Require,
##% Max-Forwards, and Proxy-Authorization, for example) appear towards
##% the top of the message to facilitate rapid parsing.
def test_request_build_puts_proxy_headers_after_via_and_max_forwards() -> None:
    request = Request.build(
        "INVITE",
        "sip:bob@example.com",
        via=VIA,
        from_="<sip:alice@example.com>;tag=88",
        to="<sip:bob@example.com>",
        call_id="call-1",
        cseq=7,
        headers=[
            ("Subject", "hi"),
            ("Route", "<sip:p1.example.com;lr>"),
            ("Proxy-Require", "foo"),
            ("Proxy-Authorization", 'Digest username="a"'),
        ],
    )
    names = [name for name, _ in request.headers]
    assert names[:5] == ["Via", "Max-Forwards", "Route", "Proxy-Require", "Proxy-Authorization"]
    assert names.index("Subject") > names.index("CSeq")


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.15
##= type=test
##% The Content-Type header field MUST be present if the body is not empty.
def test_request_build_needs_a_content_type_for_a_body() -> None:
    build: dict[str, Any] = {
        "via": VIA,
        "from_": "<sip:alice@example.com>;tag=88",
        "to": "<sip:bob@example.com>",
        "call_id": "call-1",
        "cseq": 7,
    }
    with pytest.raises(ValueError, match="Content-Type"):
        Request.build("INVITE", "sip:bob@example.com", body=b"v=0\r\n", **build)
    in_headers = Request.build(
        "INVITE",
        "sip:bob@example.com",
        body=b"v=0\r\n",
        headers=[("Content-Type", "application/sdp")],
        **build,
    )
    assert str(in_headers.content_type) == "application/sdp"
    assert Request.build("INVITE", "sip:bob@example.com", **build).body == b""
