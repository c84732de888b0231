"""StreamFramer: messages and CRLF keep-alives out of a TCP/TLS byte stream."""

from __future__ import annotations

import pytest

from rfc3261 import PING, PONG, FramingError, KeepAlive, StreamFramer, parse
from rfc3261.tests.conftest import torture_bytes


def message(body: bytes = b"", *, call_id: str = "c1", length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return (
        "OPTIONS sip:bob@example.com SIP/2.0\r\n"
        "Via: SIP/2.0/TCP client.example.com;branch=z9hG4bK1\r\n"
        "To: <sip:bob@example.com>\r\n"
        "From: <sip:alice@example.com>;tag=1\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 OPTIONS\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode() + body


def test_one_message_in_one_feed() -> None:
    framer = StreamFramer()
    data = message(b"hello")
    assert framer.feed(data) == [data]
    assert framer.buffered == 0


def test_several_messages_in_one_feed() -> None:
    first, second, third = message(b"a", call_id="1"), message(call_id="2"), message(b"ccc")
    framer = StreamFramer()
    assert framer.feed(first + second + third) == [first, second, third]
    assert [parse(m).call_id for m in (first, second)] == ["1", "2"]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_partial_messages_any_split(chunk: int) -> None:
    stream = message(b"body one", call_id="a") + b"\r\n\r\n" + message(b"two", call_id="b")
    framer = StreamFramer()
    events: list[bytes | KeepAlive] = []
    for start in range(0, len(stream), chunk):
        events.extend(framer.feed(stream[start : start + chunk]))
    messages = [e for e in events if isinstance(e, bytes)]
    assert messages == [message(b"body one", call_id="a"), message(b"two", call_id="b")]
    assert PING in events
    assert framer.buffered == 0


def test_body_with_empty_lines_and_crlf_is_framed_by_content_length() -> None:
    body = b"\r\n\r\nline\r\n\r\n"
    framer = StreamFramer()
    assert framer.feed(message(body) + message()) == [message(body), message()]


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.5
##= type=test
##% Implementations processing SIP messages over stream-oriented
##% transports MUST ignore any CRLF appearing before the start-line
##% [H4.1].
##= https://www.rfc-editor.org/rfc/rfc5626#section-3.5.1
##= type=test
##% The client periodically sends a double-CRLF
##% (the "ping") then waits to receive a single CRLF (the "pong").
def test_crlf_keepalives_between_messages() -> None:
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n") == [PING]
    assert framer.feed(b"\r\n" + message()) == [PONG, message()]
    assert framer.feed(b"\r\n\r\n\r\n\r\n") == [PING, PING]
    assert PING.is_ping and not PONG.is_ping


def test_lone_crlf_is_a_pong_and_a_split_ping_is_still_a_ping() -> None:
    # A client waits for the pong, so a CRLF ending the data is reported at once;
    # when the next bytes start with CRLF, the pair was a ping.
    framer = StreamFramer()
    assert framer.feed(b"\r\n") == [PONG]
    assert framer.feed(b"\r\n") == [PING]
    assert framer.feed(b"\r") == []
    assert framer.feed(b"\n" + message()) == [PONG, message()]
    assert framer.feed(b"\r\n\r") == []  # three quarters of a ping
    assert framer.feed(b"\n") == [PING]
    assert framer.feed(b"\r\n") == [PONG]
    assert framer.feed(b"\r") == []
    assert framer.feed(b"\n") == [PING]  # a ping split in three


def test_on_a_client_connection_each_lone_crlf_is_a_pong() -> None:
    # The server pongs every ping of an outbound flow: two pongs in a row are not a ping
    # (which would go unanswered by the keep-alive, failing the flow after 10 s).
    framer = StreamFramer(client=True)
    assert framer.feed(b"\r\n") == [PONG]
    assert framer.feed(b"\r\n") == [PONG]
    assert framer.feed(b"\r\n" + message()) == [PONG, message()]


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% The Content-
##% Length header field MUST be used with stream oriented transports.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.14
##= type=test
##% If a stream-based protocol (such as TCP) is used as
##% transport, the header field MUST be used.
def test_missing_content_length_is_a_framing_error() -> None:
    data = message().replace(b"Content-Length: 0\r\n", b"")
    framer = StreamFramer()
    with pytest.raises(FramingError, match="without Content-Length on a stream"):
        framer.feed(data)
    with pytest.raises(FramingError):  # the stream stays failed: close the connection
        framer.feed(message())


def test_compact_and_folded_content_length() -> None:
    compact = message(b"xy").replace(b"Content-Length: 2", b"l :  2")
    folded = message(b"xy").replace(b"Content-Length: 2", b"Content-Length:\r\n 2")
    assert StreamFramer().feed(compact + compact) == [compact, compact]
    assert StreamFramer().feed(folded) == [folded]
    assert parse(folded).body == b"xy"


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% Multiple header field rows with the same field-name MAY be present in
##% a message if and only if the entire field-value for that header field
##% is defined as a comma-separated list (that is, if follows the grammar
##% defined in Section 7.3).
def test_mcl01_multiple_content_length_over_tcp() -> None:
    # RFC 4475 §3.3.9: over TCP the framing error is not recoverable.
    data = torture_bytes("rfc4475/mcl01.dat")
    with pytest.raises(FramingError, match="Content-Length appears more than once"):
        StreamFramer().feed(data)


@pytest.mark.parametrize("value", [b"-999", b"five", b"1 2", b"", b"99999999999999999999"])
def test_bad_content_length_values(value: bytes) -> None:
    data = message().replace(b"Content-Length: 0", b"Content-Length: " + value)
    with pytest.raises(FramingError, match="Content-Length"):
        StreamFramer().feed(data)


def test_clerr_over_tcp_waits_for_the_body() -> None:
    # RFC 4475 §3.1.2.2: on a stream the receiver can only wait for more data.
    data = torture_bytes("rfc4475/clerr.dat")
    framer = StreamFramer()
    assert framer.feed(data) == []
    assert framer.buffered == len(data)


def test_header_limit_names_the_limit() -> None:
    framer = StreamFramer(max_header_bytes=256)
    with pytest.raises(FramingError, match=r"max_header_bytes \(256 bytes\)"):
        framer.feed(b"INVITE sip:x SIP/2.0\r\nX: " + b"a" * 1000)
    assert framer.buffered == 0


def test_header_limit_when_the_empty_line_comes_too_late() -> None:
    framer = StreamFramer(max_header_bytes=100)
    data = message()
    assert len(data.split(b"\r\n\r\n")[0]) > 100
    with pytest.raises(FramingError, match="max_header_bytes"):
        framer.feed(data)


def test_body_limit_names_the_limit() -> None:
    framer = StreamFramer(max_body_bytes=10)
    with pytest.raises(FramingError, match=r"max_body_bytes \(10 bytes\)"):
        framer.feed(message(length=11))
    assert StreamFramer(max_body_bytes=10).feed(message(b"0123456789")) == [message(b"0123456789")]


def test_buffer_never_exceeds_the_limits() -> None:
    framer = StreamFramer(max_header_bytes=1024, max_body_bytes=2048)
    head = message(length=2048)
    framer.feed(head)
    assert framer.buffered == len(head)
    events = framer.feed(b"x" * 2548)  # the body, then 500 bytes of a next header
    assert len(events) == 1 and len(events[0]) == len(head) + 2048
    assert framer.buffered == 500
    with pytest.raises(FramingError, match="max_header_bytes"):
        framer.feed(b"y" * 10_000)  # never buffered beyond the header limit
    assert framer.buffered == 0


def test_invalid_limits() -> None:
    with pytest.raises(ValueError):
        StreamFramer(max_header_bytes=0)
