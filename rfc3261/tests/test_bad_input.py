"""Hostile input: clear errors, bounded time, bounded memory (RFC 4475 §4).

Every case must end in ParseError (or FramingError on a stream), never in another
exception, and within a generous time bound; tracemalloc checks that memory stays
proportional to the input for parse() and bounded by the limits for StreamFramer.
"""

from __future__ import annotations

import os
import random
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from rfc3261 import FramingError, ParseError, StreamFramer, bad_request_response, parse

HEAD = (
    b"INVITE sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: <sip:bob@example.com>\r\n"
    b"From: <sip:alice@example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
)
MB = 1024 * 1024


class Measured:
    seconds = 0.0
    peak = 0


@contextmanager
def bounded(seconds: float, peak_bytes: int) -> Iterator[Measured]:
    """Fail when the block takes longer than ``seconds`` or allocates over ``peak_bytes``."""
    measured = Measured()
    tracemalloc.start()
    start = time.perf_counter()
    try:
        yield measured
    finally:
        measured.seconds = time.perf_counter() - start
        _, measured.peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert measured.seconds < seconds, f"took {measured.seconds:.2f}s"
    assert measured.peak < peak_bytes, f"peak {measured.peak / MB:.1f} MB"


def rejects(data: bytes) -> ParseError:
    """parse(data) raises ParseError; bad_request_response copes with it too."""
    with pytest.raises(ParseError) as caught:
        parse(data)
    bad_request_response(data, caught.value)  # must not raise either
    return caught.value


def test_ten_megabyte_header_line_in_a_datagram() -> None:
    data = HEAD + b"X-Long: " + b"a" * (10 * MB) + b"\r\nContent-Length: 0\r\n\r\n"
    with bounded(seconds=5, peak_bytes=12 * len(data)):
        message = parse(data)
    assert len(message.headers.get("X-Long")) == 10 * MB
    data = b"INVITE sip:" + b"a" * (10 * MB) + b"@example.com SIP/2.0\r\n\r\n"
    with bounded(seconds=5, peak_bytes=12 * len(data)):
        rejects(data)


def test_ten_megabyte_header_line_on_a_stream_is_never_buffered() -> None:
    framer = StreamFramer(max_header_bytes=64 * 1024)
    chunk = b"a" * (1024 * 1024)
    with bounded(seconds=5, peak_bytes=1 * MB), pytest.raises(FramingError, match="max_header"):
        framer.feed(HEAD + b"X-Long: ")
        for _ in range(10):
            framer.feed(chunk)  # raises on the first chunk that crosses the limit
    assert framer.buffered == 0


def test_ten_megabyte_feed_in_one_call() -> None:
    data = HEAD + b"X-Long: " + b"a" * (10 * MB)
    framer = StreamFramer(max_header_bytes=64 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(FramingError, match="max_header_bytes"):
            framer.feed(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 * MB  # the 10 MB argument is the caller's; no copy of it is made


def test_hundred_thousand_headers() -> None:
    data = HEAD + b"".join(b"X-H%d: v\r\n" % i for i in range(100_000)) + b"l: 0\r\n\r\n"
    start = time.perf_counter()
    message = parse(data)
    assert time.perf_counter() - start < 5
    assert len(message.headers) == 100_000 + 7
    assert message.headers.get("x-h99999") == "v"
    with pytest.raises(FramingError, match="max_header_bytes"):
        StreamFramer().feed(data)
    # Memory grows linearly with the number of fields (measured on a fifth of them).
    data = HEAD + b"".join(b"X-H%d: v\r\n" % i for i in range(20_000)) + b"l: 0\r\n\r\n"
    with bounded(seconds=10, peak_bytes=40 * MB):
        parse(data)


def test_twenty_thousand_via_values() -> None:
    # Via is parsed eagerly, value by value: time stays linear in the count.
    vias = b"Via: " + b", ".join(b"SIP/2.0/UDP h%d.example.com" % i for i in range(20_000))
    data = HEAD + vias + b"\r\nl: 0\r\n\r\n"
    start = time.perf_counter()
    message = parse(data)
    assert time.perf_counter() - start < 5
    assert len(message.via) == 20_001


def test_deeply_nested_comments() -> None:
    nested = b"(" * 50_000 + b"x" + b")" * 50_000
    message = parse(HEAD + b"Retry-After: 5 " + nested + b"\r\nServer: " + nested + b"\r\n\r\n")
    with bounded(seconds=5, peak_bytes=64 * MB), pytest.raises(ParseError, match="Retry-After"):
        message.header("Retry-After")
    assert message.header("Server").startswith("((")


def test_deeply_nested_quoting() -> None:
    escapes = b'\\"' * 20_000
    good = HEAD.replace(
        b"To: <sip:bob@example.com>", b'To: "' + escapes + b'" <sip:b@example.com>'
    )
    with bounded(seconds=5, peak_bytes=64 * MB):
        message = parse(good + b"\r\n")
    assert message.to.display_name.count('"') == 20_000
    bad = HEAD.replace(b"To: <sip:bob@example.com>", b'To: "' + escapes + b" <sip:b@example.com>")
    with bounded(seconds=5, peak_bytes=64 * MB):
        error = rejects(bad + b"\r\n")
    assert "To" in str(error)
    # With a control character present the quoted-string scan must stay linear.
    hostile = HEAD + b'X-Q: "' + b'\\"' * 50_000 + b"\x00\r\n\r\n"
    with bounded(seconds=5, peak_bytes=64 * MB):
        error = rejects(hostile)
    assert "control character 0x00" in str(error)


@pytest.mark.parametrize(
    "value",
    [b"99999999999999999999999", b"9" * 5000, b"-1", b"1e3", b"0x10", b"+5", b"\xd9\xa3"],
)
def test_huge_or_malformed_content_length(value: bytes) -> None:
    data = HEAD + b"Content-Length: " + value + b"\r\n\r\nbody"
    with bounded(seconds=1, peak_bytes=4 * MB):
        error = rejects(data)
    assert "Content-Length" in str(error) or "UTF-8" in str(error)
    with pytest.raises(FramingError):
        StreamFramer().feed(data)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (HEAD.replace(b"example.com SIP", b"example.com:" + b"9" * 5000 + b" SIP") + b"\r\n", ""),
        (HEAD.replace(b"<sip:bob@example.com>", b"<sip:b@x:" + b"9" * 5000 + b">") + b"\r\n", ""),
        (HEAD.replace(b"CSeq: 314159", b"CSeq: " + b"9" * 5000) + b"\r\n", "CSeq"),
        (b"INVITE sip:bob@exa\x00mple.com SIP/2.0\r\n" + HEAD[36:] + b"\r\n", "control character"),
        (HEAD + b"X-\x00Name: v\r\n\r\n", "control character"),
        (HEAD + b"Subject: a\x00b\r\n\r\n", "control character 0x00"),
        (HEAD + b"Subject: bare\rCR\r\n\r\n", "bare CR or LF"),
        (HEAD + b"Subject: bare\nLF\r\n\r\n", "bare CR or LF"),
        (HEAD + b"Subject: \xff\xfe\r\n\r\n", "not UTF-8"),
        (HEAD + b"Subject: \xc3\r\n\r\n", "not UTF-8"),
        (b"\x00" * 1000, "no empty line"),
        (b"\r\n\r\n", "Request-Line"),
        (b"", "no empty line"),
    ],
)
def test_nul_control_and_non_utf8_bytes(data: bytes, words: str) -> None:
    assert words in str(rejects(data))


def test_nul_and_binary_in_the_body_are_data() -> None:
    body = bytes(range(256))
    message = parse(HEAD + b"Content-Length: 256\r\n\r\n" + body)
    assert message.body == body


def test_random_garbage_is_rejected_quickly() -> None:
    rng = random.Random(4475)
    with bounded(seconds=10, peak_bytes=32 * MB):
        for size in (1, 10, 100, 1000, 100_000):
            for _ in range(20):
                data = bytes(rng.getrandbits(8) for _ in range(min(size, 2000)))
                data = data * max(1, size // 2000)
                try:
                    parse(data)
                except ParseError as error:
                    bad_request_response(data, error)
        rejects(os.urandom(1 * MB))


def test_garbage_on_a_stream_is_bounded() -> None:
    framer = StreamFramer(max_header_bytes=4096)
    rng = random.Random(5626)
    with bounded(seconds=5, peak_bytes=1 * MB):
        try:
            for _ in range(1000):
                framer.feed(bytes(rng.getrandbits(8) for _ in range(100)).replace(b"\r", b""))
        except FramingError as error:
            assert "max_header_bytes" in str(error)
        else:
            pytest.fail("100 kB without an empty line was accepted")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.replace(b"SIP/2.0\r\n", b"SIP/2.0\n", 1),
        lambda d: d.replace(b"CSeq: 314159 INVITE", b"CSeq: 99999999999999999999 INVITE"),
        lambda d: d.replace(b"Via: ", b"Via: ,", 1),
        lambda d: d.replace(b"<sip:bob@example.com>", b"<sip:bob@example.com", 1),
        lambda d: d[:-10],
    ],
)
def test_mutations_raise_parse_error_only(mutate: Callable[[bytes], Any]) -> None:
    data = mutate(HEAD + b"Content-Length: 4\r\n\r\nbody")
    rejects(data)
