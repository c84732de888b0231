"""RFC 3420 message/sipfrag and RFC 3892 Referred-By: parsing, rendering, copying."""

from __future__ import annotations

import pytest

from extensions.rfc3420 import MAX_SIZE, SipFrag, status_fragment
from extensions.rfc3892 import ReferredBy, copy_referred_by, describe_referrer, register_headers
from rfc3261.errors import ParseError
from rfc3261.message import Request, parse

VALID = [
    b"INVITE sip:alice@atlanta.com SIP/2.0\r\n",
    b"SIP/2.0 603 Declined",
    b"REGISTER sip:atlanta.com SIP/2.0\r\nTo: sip:alice@atlanta.com\r\n"
    b"Contact: <sip:alicepc@atlanta.com>;q=0.9,\r\n <sip:alicemobile@atlanta.com>;q=0.1\r\n",
    b'SIP/2.0 400 Bad Request\r\nWarning: 399 atlanta.com "Your Event header was malformed"\r\n',
    b"From: Alice <sip:alice@atlanta.com>\r\nCall-ID: a84b4c76e66710\r\nCseq: 314159 INVITE\r\n",
    b"SIP/2.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nHi There!\r\n",
]

INVALID = [
    b"INVITE",
    b"INVITE sip:alice@atlanta.com SIP/1.09",
    b"SIP/2.0",
    b"404 Not Found",
    b"INVITE sip:alice@atlanta.com SIP/2.0\r\nVia: SIP/2.0/UDP ;branch=z9hG4bK29342a",
    b"INVITE sip:alice@atlanta.com SIP/2.0\r\nTo: <>;tag=39234",
    b"INVITE sip:alice@atlanta.com SIP/2.0\r\nCall-ID: this is invalid",
    b"INVITE sip:a@atlanta.com SIP/2.0\r\nFrom: <sip:bob@biloxi.com>;tag=z9hG4bK2;tag=z9hG4bK9",
    b"MESSAGE sip:alice@atlanta.com SIP/2.0\r\nHi There!",
    b"SIP/2.0 200 OK\r\n\r\nHi There!",
    b"SIP/2.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 99\r\n\r\nHi There!",
    b"SIP/2.0 200 OK\r\n\xff\xfe: x\r\n",
    b"SIP/2.0 200 OK\r\n\r\n\r\nWarning: 399 x\r\n",
]


@pytest.mark.parametrize("data", VALID)
def test_valid_fragments_parse_and_render(data: bytes) -> None:
    fragment = SipFrag.parse(data)
    assert SipFrag.parse(bytes(fragment)) == fragment


##= https://www.rfc-editor.org/rfc/rfc3420#section-3.2
##= type=test
##% The start line, if present, must be complete and valid per [1].
##= https://www.rfc-editor.org/rfc/rfc3420#section-3.2
##= type=test
##% All header fields must be valid per [1].
##= https://www.rfc-editor.org/rfc/rfc3420#section-2
##= type=test
##% If the message/sipfrag part contains a body, it MUST also contain the
##% appropriate header fields describing that body (such as Content-
##% Length) as required by Section 7.4 of [1] and the null-line
##% separating the header from the body.
@pytest.mark.parametrize("data", INVALID)
def test_invalid_fragments_are_parse_errors(data: bytes) -> None:
    with pytest.raises(ParseError):
        SipFrag.parse(data)


def test_fields_and_start_lines() -> None:
    declined = SipFrag.parse(b"SIP/2.0 603 Declined")
    assert (declined.status, declined.reason, declined.method) == (603, "Declined", None)
    invite = SipFrag.parse(b"INVITE sip:alice@atlanta.com SIP/2.0\r\n")
    assert (invite.status, invite.method, invite.uri) == (None, "INVITE", "sip:alice@atlanta.com")
    warning = SipFrag.parse(VALID[3])
    assert warning.header("warning") == '399 atlanta.com "Your Event header was malformed"'
    headers_only = SipFrag.parse(VALID[4])
    assert headers_only.status is None and headers_only.method is None
    assert len(headers_only.headers) == 3


##= https://www.rfc-editor.org/rfc/rfc3420#section-2
##= type=test
##% If the message/sipfrag part contains a body, it MUST also contain the
##% appropriate header fields describing that body (such as Content-
##% Length) as required by Section 7.4 of [1] and the null-line
##% separating the header from the body.
def test_body_gets_its_content_length() -> None:
    fragment = SipFrag(200, "OK", headers=(("Content-Type", "text/plain"),), body=b"Hi There!")
    data = bytes(fragment)
    assert b"Content-Length: 9\r\n\r\nHi There!" in data
    assert SipFrag.parse(data).body == b"Hi There!"


def test_status_fragment_and_size_limit() -> None:
    assert bytes(status_fragment(100)) == b"SIP/2.0 100 Trying\r\n"
    assert bytes(status_fragment(503)) == b"SIP/2.0 503 Service Unavailable\r\n"
    with pytest.raises(ValueError):
        status_fragment(99)
    with pytest.raises(ParseError, match="more than"):
        SipFrag.parse(b"SIP/2.0 200 OK\r\nX-Pad: " + b"a" * MAX_SIZE + b"\r\n")


def _refer(extra: bytes = b"") -> Request:
    message = parse(
        b"REFER sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
        b"To: <sip:b@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\nCall-ID: c1\r\n"
        b"CSeq: 1 REFER\r\nMax-Forwards: 70\r\nContact: <sip:a@a.example.com>\r\n"
        b"Refer-To: <sip:c@example.com>\r\n" + extra + b"Content-Length: 0\r\n\r\n"
    )
    assert isinstance(message, Request)
    return message


def test_referred_by_parses_with_its_compact_form() -> None:
    register_headers()
    refer = _refer(
        b'b: "Alice" <sip:a@example.com;maddr=127.0.0.1>;cid="20398823.2UWQFN309shb3@a"\r\n'
    )
    value = refer.header("Referred-By")
    assert isinstance(value, ReferredBy)
    assert value.cid == "20398823.2UWQFN309shb3@a"
    with pytest.raises(ParseError):
        ReferredBy.parse("not a uri")


##= https://www.rfc-editor.org/rfc/rfc3892#section-3
##= type=test
##% If the referrer-uri contains a comma, question mark, or semicolon, (for
##% example, if it contains URI parameters) the URI MUST be enclosed in angle
##% brackets (< and >).
def test_referrer_uri_with_parameters_is_bracketed() -> None:
    value = ReferredBy.parse("<sip:a@example.com;transport=tcp>")
    assert str(value) == "<sip:a@example.com;transport=tcp>"
    bare = ReferredBy.parse("sip:a@example.com;transport=tcp")
    # A bare addr-spec's parameters are the header field's (RFC 3261 §20.10).
    assert "transport" not in bare.referrer.uri.params


##= https://www.rfc-editor.org/rfc/rfc3892#section-2.2
##= type=test
##% A UA accepting a REFER request (a referee) to a SIP URI (using either
##% the sip: or sips: scheme) MUST copy any Referred-By header field value
##% and token into the referenced request without modification.
def test_copy_is_verbatim() -> None:
    register_headers()
    written = b'Referred-By:   <sip:a@example.com>;cid="x@y";foo\r\n'
    refer = _refer(written)
    invite = _refer()
    copy_referred_by(refer, invite)
    assert invite.headers.get("Referred-By") == '<sip:a@example.com>;cid="x@y";foo'
    plain = _refer()
    copy_referred_by(_refer(), plain)
    assert plain.headers.get("Referred-By") is None


##= https://www.rfc-editor.org/rfc/rfc3892#section-2.3
##= type=test
##% A UA receiving a non-REFER SIP request MAY inspect the request for a
##% Referred-By header field and token.
##= https://www.rfc-editor.org/rfc/rfc3892#section-2.3
##= type=test
##% If no Referred-By token is present, the refer target MAY proceed with
##% processing the request.
##= https://www.rfc-editor.org/rfc/rfc3892#section-2.3
##= type=test
##% If the agent provides any information from the Referred-By header to
##% its user as part of processing the request, it MUST notify the user
##% that the information is suspect.
def test_referrer_shown_as_suspect() -> None:
    text = describe_referrer(_refer(b"Referred-By: <sip:a@example.com>\r\n"))
    assert text is not None and "sip:a@example.com" in text and "unverified" in text
    assert describe_referrer(_refer()) is None
