"""Property-based tests of the message layer (hypothesis).

Normal runs draw a bounded number of examples; ``SIPREF_FUZZ=1`` (``make fuzz``)
enables the long runs marked slow.
"""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rfc3261 import (
    FramingError,
    ParseError,
    Request,
    Response,
    StreamFramer,
    bad_request_response,
    parse,
)
from rfc3261.tests.strategies import Built, mutated_messages, sip_messages

FUZZ = bool(os.environ.get("SIPREF_FUZZ"))
# Drawing a message from the grammar takes some 200 choices: bounded runs keep the
# file to a few seconds; make fuzz runs the long ones.
NORMAL = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BUILT = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=20_000, deadline=None, suppress_health_check=list(HealthCheck))


def _same_words(a: str, b: str) -> bool:
    # Folding turns a line break and the whitespace after it into one SP (§7.3.1).
    return re.sub(r"\s+", " ", a) == re.sub(r"\s+", " ", b)


def check_values(built: Built) -> None:
    message = parse(built.wire)
    if built.is_request:
        assert isinstance(message, Request)
        assert message.method == built.method
    else:
        assert isinstance(message, Response)
        assert message.status == built.status
    assert message.call_id == built.call_id
    assert (message.cseq.number, message.cseq.method) == (built.cseq, built.method)
    assert [via.host for via in message.via] == built.via_hosts
    assert all(via.branch.startswith("z9hG4bK") for via in message.via)
    assert message.from_.tag == built.from_tag
    assert message.to.tag is None
    assert message.body == built.body
    assert message.content_length == len(built.body)
    for name, value in built.unknown.items():
        assert _same_words(message.header(name), value)


def check_round_trip(built: Built) -> None:
    message = parse(built.wire)
    wire = bytes(message)
    assert wire == built.wire  # unchanged fields are written from their raw text
    again = parse(wire)
    assert again == message
    # A changed field is written canonically and still parses to the same value.
    message.headers.set("Call-ID", message.call_id)
    assert parse(bytes(message)).call_id == built.call_id


def check_any_bytes(data: bytes) -> None:
    try:
        message = parse(data)
    except ParseError as error:
        response = bad_request_response(data, error)
        assert response is None or response.status in (400, 505)
        return
    assert parse(bytes(message)) == message


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% Thus, the above are all valid and equivalent, but the last is the
##% preferred form.
@BUILT
@given(sip_messages())
def test_grammar_built_message_parses_to_its_values(built: Built) -> None:
    check_values(built)


@BUILT
@given(sip_messages())
def test_grammar_built_message_round_trips(built: Built) -> None:
    check_round_trip(built)


@NORMAL
@given(st.binary(max_size=600))
def test_any_bytes_parse_or_raise_parse_error(data: bytes) -> None:
    check_any_bytes(data)


@BUILT
@given(mutated_messages())
def test_mutated_message_parses_or_raises_parse_error(data: bytes) -> None:
    check_any_bytes(data)


@BUILT
@given(st.lists(sip_messages(), min_size=1, max_size=3), st.data())
def test_stream_split_anywhere_gives_the_same_messages(
    messages: list[Built], data: st.DataObject
) -> None:
    stream = b"\r\n\r\n".join(m.wire for m in messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    framer = StreamFramer()
    events: list[object] = []
    previous = 0
    for cut in [*cuts, len(stream)]:
        events.extend(framer.feed(stream[previous:cut]))
        previous = cut
    assert [e for e in events if isinstance(e, bytes)] == [m.wire for m in messages]
    assert framer.buffered == 0


@NORMAL
@given(st.binary(max_size=2000))
def test_framer_any_bytes_frames_or_raises_framing_error(data: bytes) -> None:
    framer = StreamFramer(max_header_bytes=512, max_body_bytes=512)
    try:
        for event in framer.feed(data):
            if isinstance(event, bytes):
                assert len(event) <= 512 + 4 + 512
    except FramingError:
        pass
    assert framer.buffered <= 512 + 4 + 512


# -- long runs (make fuzz) ------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not FUZZ, reason="long fuzzing run: set SIPREF_FUZZ=1 (make fuzz)")
@LONG
@given(sip_messages())
def test_fuzz_grammar_built_messages(built: Built) -> None:
    check_values(built)
    check_round_trip(built)


@pytest.mark.slow
@pytest.mark.skipif(not FUZZ, reason="long fuzzing run: set SIPREF_FUZZ=1 (make fuzz)")
@LONG
@given(st.one_of(st.binary(max_size=4000), mutated_messages()))
def test_fuzz_any_bytes(data: bytes) -> None:
    check_any_bytes(data)
