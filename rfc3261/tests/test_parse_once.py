"""One parse per message (issue 22): what the hot paths hand on instead of parsing again."""

from __future__ import annotations

from rfc3261.headers import Via
from rfc3261.message import parse
from rfc3261.tests.transaction_support import request

TWO_VIAS = (
    b"REGISTER sip:example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-1;rport\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5072;branch=z9hG4bK-0\r\n"
    b"From: <sip:a@example.com>;tag=1\r\n"
    b"To: <sip:a@example.com>\r\n"
    b"Call-ID: 1@127.0.0.1\r\n"
    b"CSeq: 1 REGISTER\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_replace_top_via_keeps_the_values_below_as_parsed():
    message = parse(TWO_VIAS)
    below = message.via[1]
    stamped = Via("UDP", "127.0.0.1", 5071, message.top_via.params, "SIP/2.0")
    stamped.params.set("received", "127.0.0.2")
    message.replace_top_via(stamped)
    assert message.top_via is stamped
    assert message.via[1] is below  # not parsed again
    # The text says the same as the typed values.
    again = parse(bytes(message))
    assert again.via == message.via
    assert again.top_via.received == "127.0.0.2"


def test_response_reads_the_requests_parsed_via():
    req = request("OPTIONS")
    response = req.make_response(200)
    assert response.top_via is req.top_via  # §8.2.6.2: the same values
    assert parse(bytes(response)).via == req.via


def test_usual_lines_keep_no_raw_copy_and_round_trip():
    message = parse(TWO_VIAS.replace(b"To: <sip", b"To:  <sip"))
    raws = {field[1]: field[3] for field in message.headers._fields}
    assert raws["call-id"] is None  # "Name: value": written out the same
    assert raws["to"] == "To:  <sip:a@example.com>"  # odd spacing is kept
    assert bytes(message) == TWO_VIAS.replace(b"To: <sip", b"To:  <sip")
