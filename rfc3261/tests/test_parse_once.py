"""One parse per message (issue 22): what the hot paths hand on instead of parsing again."""

from __future__ import annotations

from rfc3261.headers import Via
from rfc3261.message import Request, parse
from rfc3261.params import Parameters
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
    params = Parameters(message.top_via.params.items())
    params.set("received", "127.0.0.2")
    stamped = Via("UDP", "127.0.0.1", 5071, params, "SIP/2.0")
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


def test_a_proxys_copy_is_not_parsed_again_and_changes_apart():
    original = parse(TWO_VIAS)
    assert isinstance(original, Request)
    copy = Request(original.method, original.uri, original.headers.copy(parsed=True))
    assert copy.from_ is original.from_  # §16.6 step 1: the parsed values come along
    copy.push_via("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-proxy")
    assert copy.top_via.branch == "z9hG4bK-proxy"
    assert copy.via[1:] == original.via and copy.via[1] is original.via[0]
    assert len(original.via) == 2  # the original keeps its own values
    copy.headers.set("Max-Forwards", 69)
    assert (copy.max_forwards, original.max_forwards) == (69, None)
    again = parse(bytes(copy))
    assert again.via == copy.via


def test_pop_top_via_keeps_the_rest_parsed():
    message = parse(TWO_VIAS)
    below = message.via[1]
    message.pop_top_via()
    assert message.via == [below] and message.via[0] is below
    assert parse(bytes(message)).via == [below]
