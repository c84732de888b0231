"""SDP (RFC 8866): parsing, serializing, the RFC's examples and every line type broken."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extensions.rfc8866 import (
    Attribute,
    Bandwidth,
    Connection,
    Limits,
    Media,
    Origin,
    SDPError,
    SessionDescription,
    Timing,
    parse,
    serialize,
)
from rfc3261.tests.transport_support import missing_external

ROOT = Path(__file__).resolve().parents[2]
SPEC_DIR = Path(os.environ.get("SIPREF_SPEC_DIR") or ROOT.parent / "shared" / "rfcs")

BASE = (
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 0 8 97\r\n"
    "a=rtpmap:97 iLBC/8000\r\n"
    "a=fmtp:97 mode=30\r\n"
    "a=sendonly\r\n"
)


def spec_text(number: int) -> str:
    path = SPEC_DIR / f"rfc{number}.txt"
    if not path.is_file():
        missing_external(f"RFC {number} text not found in {SPEC_DIR} (set SIPREF_SPEC_DIR)")
    return path.read_text()


def examples(number: int) -> list[str]:
    """The SDP descriptions printed in an RFC: indented blocks starting with v=0."""
    text = re.sub(r"\n[^\n]*\[Page \d+\]\n\f\nRFC[^\n]*\n", "\n", spec_text(number))
    blocks, current = [], None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == "v=0":
            current = []
            blocks.append(current)
        if current is None:
            continue
        if re.match(r"[a-z]=", stripped):
            current.append(stripped)
        elif stripped or len(current) > 1:
            current = None
    return ["\r\n".join(b) + "\r\n" for b in blocks if len(b) > 3]


# -- the RFCs' examples --------------------------------------------------------------------


def test_the_rfc_8866_examples_parse_and_round_trip() -> None:
    found = examples(8866)
    assert len(found) >= 2
    for text in found:
        sd = parse(text)
        assert parse(serialize(sd)) == sd
    first = parse(found[0])
    assert first.session_name == "Call to John Smith"
    assert [m.port for m in first.media] == [49170, 49180, 51372]
    # The session c= applies to media without their own (§5).
    assert first.connection_of(first.media[0]).address == "198.51.100.1"
    assert first.connection_of(first.media[2]).address == "2001:db8::2"


def test_the_rfc_4317_offer_answer_examples_parse_and_round_trip() -> None:
    found = examples(4317)
    assert len(found) >= 20
    for text in found:
        sd = parse(text)
        assert serialize(sd).decode() == text
        for media in sd.media:
            for fmt in media.formats:
                assert media.rtpmap(fmt) is not None or media.proto != "RTP/AVP"


##= https://www.rfc-editor.org/rfc/rfc8866#section-6.7
##= type=test
##% If any one of these appears in a media description, then it applies
##% for that media description.  If none appears in a media description,
##% then the one from session level, if any, applies to that media
##% description.
##= https://www.rfc-editor.org/rfc/rfc8866#section-6.7
##= type=test
##% If none of the media direction attributes is present at either
##% session level or media level, "a=sendrecv" SHOULD be assumed as the
##% default.
def test_directions_fall_back_to_the_session_then_sendrecv() -> None:
    sd = parse(BASE + "m=video 0 RTP/AVP 31\r\n")
    assert sd.direction(sd.media[0]) == "sendonly"
    assert sd.direction(sd.media[1]) == "sendrecv"
    sd.set_direction("inactive")
    assert sd.direction(sd.media[1]) == "inactive"
    sd.media[0].set_direction(None)
    assert sd.direction(sd.media[0]) == "inactive"
    with pytest.raises(ValueError):
        sd.set_direction("both")


def test_rtpmap_and_fmtp_helpers() -> None:
    media = parse(BASE).media[0]
    assert media.rtpmap("0").encoding == "PCMU"  # static, RFC 3551
    assert media.rtpmap("97").encoding == "iLBC"
    assert str(media.rtpmap("97")) == "97 iLBC/8000"
    assert media.fmtp("97") == "mode=30"
    assert media.fmtp("0") is None


##= https://www.rfc-editor.org/rfc/rfc8866#section-5.13
##= type=test
##% If an attribute is received that is not understood, it MUST be ignored by
##% the receiver.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##= type=test
##% An
##% SDP parser MUST ignore any attribute it doesn't understand.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.8
##= type=test
##% SDP parsers MUST ignore bandwidth-fields with unknown <bwtype> names.
def test_unknown_attributes_are_kept_verbatim() -> None:
    text = BASE + "a=x-made-up:  two  spaces :colon\r\na=flag-only\r\n"
    assert parse(text.replace("t=0 0", "b=X-NEW:5\r\nt=0 0")).bandwidths[0].bwtype == "X-NEW"
    sd = parse(text)
    assert sd.media[0].attributes[-2] == Attribute("x-made-up", "  two  spaces :colon")
    assert serialize(sd).decode() == text


##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##= type=test
##% The sequence CRLF (0x0d0a) is used to end a line,
##% although parsers SHOULD be tolerant and also accept lines terminated
##% with a single newline character.
def test_bare_newlines_are_accepted() -> None:
    assert parse(BASE.replace("\r\n", "\n")) == parse(BASE)


# -- errors name the line, its type and the rule -------------------------------------------

MALFORMED = [
    # (what to replace, with what, line number, line type, words of the rule)
    ("v=0", "v=1", 1, "v", "version 0"),
    ("v=0\r\n", "", 1, "o", "starts with v="),
    (
        "o=alice 2890844526 2890844526 IN IP4 127.0.0.1",
        "o=alice 1 IN IP4 127.0.0.1",
        2,
        "o",
        "6 fields",
    ),
    ("o=alice 2890844526 2890844526", "o=alice x1 2890844526", 2, "o", "sess-id"),
    ("o=alice 2890844526 2890844526", "o=alice 1 v2", 2, "o", "sess-version"),
    ("IN IP4 127.0.0.1\r\ns", "IN IP4 999.1.1.1\r\ns", 2, "o", "bad IP4 address"),
    ("IN IP4 127.0.0.1\r\ns", "IN IP6 127.0.0.1\r\ns", 2, "o", "not an IP6 address"),
    ("s=-\r\n", "", 3, "c", "mandatory s="),
    ("s=-\r\n", "s=-\r\ni=\r\n", 4, "i", "must not be empty"),
    ("s=-\r\n", "s=-\r\nu=has space\r\n", 4, "u", "URI"),
    ("s=-\r\n", "s=-\r\ne=\r\n", 4, "e", "must not be empty"),
    ("s=-\r\n", "s=-\r\np=\r\n", 4, "p", "must not be empty"),
    ("c=IN IP4 127.0.0.1", "c=IN IP4", 4, "c", "3 fields"),
    ("c=IN IP4 127.0.0.1", "c=IN IP4 224.2.1.1", 4, "c", "needs a TTL"),
    ("c=IN IP4 127.0.0.1", "c=IN IP4 224.2.1.1/300", 4, "c", "TTL must be 0-255"),
    ("c=IN IP4 127.0.0.1", "c=IN IP4 127.0.0.1/3", 4, "c", "multicast suffix"),
    ("c=IN IP4 127.0.0.1", "c=IN IP6 ff15::1/3/2", 4, "c", "multicast suffix"),
    ("c=IN IP4 127.0.0.1\r\n", "c=IN IP4 127.0.0.1\r\nb=AS\r\n", 5, "b", "<bwtype>:"),
    ("c=IN IP4 127.0.0.1\r\n", "c=IN IP4 127.0.0.1\r\nb=AS:x\r\n", 5, "b", "bandwidth"),
    ("t=0 0", "t=0", 5, "t", "2 fields"),
    ("t=0 0", "t=12 0", 5, "t", "start-time"),
    ("t=0 0\r\n", "t=0 0\r\nr=7d 1h\r\n", 6, "r", "at least 3"),
    ("t=0 0\r\n", "t=0 0\r\nr=0 1h 0\r\n", 6, "r", "numbers"),
    ("t=0 0\r\n", "t=0 0\r\nz=1 -1h 2\r\n", 6, "z", "pairs"),
    ("t=0 0\r\n", "t=0 0\r\nz=1 -1x\r\n", 6, "z", "signed typed"),
    ("t=0 0\r\n", "t=0 0\r\nz=1 1h\r\nz=2 1h\r\n", 7, "z", "only one z="),
    ("t=0 0\r\n", "t=0 0\r\nk=secret\r\n", 6, "k", "prompt"),
    ("t=0 0\r\n", "t=0 0\r\nk=base64:***\r\n", 6, "k", "prompt"),
    ("t=0 0\r\n", "t=0 0\r\na=bad name\r\n", 6, "a", "attribute name"),
    ("t=0 0\r\n", "", 5, "m", "t= line before"),
    ("t=0 0\r\n", "t=0 0\r\na=x\r\nt=0 0\r\n", 7, "t", "out of order"),
    ("s=-\r\n", "s=-\r\ns=-\r\n", 4, "s", "out of order or repeated"),
    ("c=IN IP4 127.0.0.1\r\n", "", 5, "m", "no c= line"),
    ("m=audio 49170 RTP/AVP 0 8 97", "m=audio 49170 RTP/AVP", 6, "m", "at least 4"),
    ("m=audio 49170", "m=audio 65536", 6, "m", "at most 65535"),
    ("m=audio 49170", "m=audio x", 6, "m", "the port"),
    ("m=audio 49170", "m=audio 49170/0", 6, "m", "number of ports"),
    ("RTP/AVP 0 8 97", "RTP/AVP 0 8 128", 6, "m", "at most 127"),
    ("RTP/AVP 0 8 97", "RTP//AVP 0", 6, "m", "proto"),
    ("m=audio", "m=au(dio", 6, "m", "media type"),
    ("a=sendonly\r\n", "a=sendonly\r\ni=a\r\n", 10, "i", "out of order"),
    ("a=sendonly\r\n", "a=sendonly\r\na=recvonly\r\n", 10, "a", "more than one direction"),
    ("a=sendonly\r\n", "a=sendonly\r\nq=1\r\n", 10, "q", "unknown line type"),
    ("a=sendonly\r\n", "a=sendonly\r\nv=0\r\n", 10, "v", "may not appear in a media"),
    ("a=sendonly\r\n", "a=sendonly\r\ne=a@b.example\r\n", 10, "e", "may not appear in a"),
    ("c=IN IP4 127.0.0.1\r\n", "c=IN IP4 127.0.0.1\r\nc=IN IP4 127.0.0.1\r\n", 5, "c", "repeated"),
    ("o=alice 2890844526", "o=al ice 2890844526", 2, "o", "6 fields"),
    ("c=IN IP4 127.0.0.1", "c=IN IP4 h\xe9st.example.com", 4, "c", "bad IP4 address"),
    ("a=sendonly\r\n", "a=sendonly\r\nnot a line\r\n", 10, "", "<type>=<value>"),
    ("a=sendonly\r\n", "a=sendonly\r\nA=x\r\n", 10, "A", "<type>=<value>"),
    ("a=sendonly\r\n", "a=send\ronly\r\n", 9, "a", "CR or NUL"),
]


##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##= type=test
##% An SDP description MUST conform to the syntax defined in Section 9.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##= type=test
##% The set of type letters is deliberately small and not intended to be
##% extensible -- an SDP parser MUST completely ignore or reject any
##% session description that contains a type letter that it does not
##% understand.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.3
##= type=test
##% There MUST be one and only one "s=" line per session description.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
##= type=test
##% A session description MUST contain either at least one "c=" line in
##% each media description or a single "c=" line at the session level.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
##= type=test
##% Sessions using an "IP4" multicast connection address MUST also have
##% a time to live (TTL) value present in addition to the multicast
##% address.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
##= type=test
##% "IP6" multicast does not use TTL scoping, and hence the TTL value
##% MUST NOT be present for "IP6" multicast.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.13
##= type=test
##% Attribute names MUST use the US-ASCII subset of ISO-10646/UTF-8.
##= https://www.rfc-editor.org/rfc/rfc8866#section-6.7
##= type=test
##% At most one occurrence of "a=recvonly", "a=sendrecv", "a=sendonly",
##% or "a=inactive" MAY appear at session level, and at most one MAY
##% appear in each media description.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.2
##= type=test
##% The <username> MUST NOT contain spaces.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
##= type=test
##% The slash notation for multiple addresses described above MUST NOT
##% be used for IP unicast addresses.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
##= type=test
##% TTL values MUST be in the range 0-255.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
##= type=test
##% Although the TTL MUST be specified, its use to scope multicast traffic is
##% deprecated
##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##= type=test
##% Any domain name used in SDP MUST comply with [RFC1034] and [RFC1035].
##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##= type=test
##% Internationalized domain names (IDNs)
##% MUST be represented using the ASCII Compatible Encoding (ACE) form
##% defined in [RFC5890] and MUST NOT be directly represented in UTF-8 or
##% any other encoding
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.6
##= type=test
##% If an email address or phone number is present, it MUST be specified
##% before the first media description.
##= https://www.rfc-editor.org/rfc/rfc8866#section-5.7
##= type=test
##% Multiple addresses or "c=" lines MUST NOT be specified at session level.
@pytest.mark.parametrize(("old", "new", "number", "kind", "rule"), MALFORMED)
def test_every_line_type_malformed_names_the_line_and_rule(
    old: str, new: str, number: int, kind: str, rule: str
) -> None:
    assert old in BASE
    with pytest.raises(SDPError) as caught:
        parse(BASE.replace(old, new, 1))
    error = caught.value
    assert (error.line_number, error.line_type) == (number, kind), str(error)
    assert rule in error.rule
    assert f"line {number}" in str(error)


def test_every_line_type_is_covered_by_the_malformed_cases() -> None:
    assert set("vosiuepcbtrzkam") <= {kind for *_, kind, _ in MALFORMED}


##= https://www.rfc-editor.org/rfc/rfc8866#section-5
##= type=test
##% If the "a=charset:" attribute is
##% not present, these octet strings MUST be interpreted as containing
##% ISO-10646 characters in UTF-8 encoding.
def test_limits_bound_what_is_parsed() -> None:
    with pytest.raises(SDPError, match="longer than"):
        parse(BASE.encode() + b"a=x\r\n" * 20000)
    with pytest.raises(SDPError, match="more than 10 lines"):
        parse(BASE + "a=x\r\n" * 10, Limits(max_lines=10))
    with pytest.raises(SDPError, match="more than 2 media"):
        parse(BASE + "m=audio 0 RTP/AVP 0\r\n" * 2, Limits(max_media=2))
    with pytest.raises(SDPError, match="longer than 100 characters"):
        parse(BASE + "a=" + "x" * 200 + "\r\n", Limits(max_line_length=100))
    with pytest.raises(SDPError, match="not UTF-8") as caught:
        parse(BASE.encode() + b"a=\xff\r\n")
    assert caught.value.line_number == 10
    with pytest.raises(SDPError, match="empty"):
        parse(b"")


# -- round trip ----------------------------------------------------------------------------

TOKENS = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!+_", min_size=1, max_size=12
)
TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
    min_size=1,
    max_size=20,
)
IP4 = st.ip_addresses(v=4).filter(lambda a: not a.is_multicast).map(str)
IP6 = st.ip_addresses(v=6).filter(lambda a: not a.is_multicast).map(str)
ADDRESS = st.one_of(
    st.tuples(st.just("IP4"), IP4),
    st.tuples(st.just("IP6"), IP6),
    st.tuples(st.just("IP4"), st.sampled_from(["host.example.com", "a.b.example"])),
)
CONNECTION = ADDRESS.map(lambda a: Connection("IN", a[0], a[1]))
BANDWIDTH = st.builds(Bandwidth, st.sampled_from(["AS", "CT", "TIAS"]), st.integers(0, 10**6))
ATTRIBUTE = st.builds(
    Attribute,
    TOKENS,
    st.none()
    | st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"), max_size=20
    ),
)
NTP = st.one_of(st.just(0), st.integers(10**9, 10**12))
TIMING = st.builds(
    Timing,
    NTP,
    NTP,
    st.lists(st.sampled_from(["604800 3600 0 90000", "7d 1h 0 25h"]), max_size=2),
    st.none() | st.just("2882844526 -1h 2898848070 0"),
)
KEY = st.none() | st.sampled_from(["prompt", "clear:secret", "base64:AAAA", "uri:x:y"])
MEDIA = st.builds(
    Media,
    st.sampled_from(["audio", "video", "text", "application"]),
    st.integers(0, 65535),
    st.none() | st.integers(1, 10),
    st.just("RTP/AVP"),
    st.lists(st.integers(0, 127).map(str), min_size=1, max_size=5),
    st.none() | TEXT,
    st.lists(CONNECTION, min_size=1, max_size=2),
    st.lists(BANDWIDTH, max_size=2),
    KEY,
    st.lists(ATTRIBUTE, max_size=4).map(
        lambda attrs: [
            a for a in attrs if a.name not in ("sendrecv", "sendonly", "recvonly", "inactive")
        ]
    ),
)
SESSION = st.builds(
    SessionDescription,
    st.just(0),
    st.builds(
        Origin,
        TOKENS,
        st.integers(0, 2**63).map(str),
        st.integers(0, 2**63),
        st.just("IN"),
        st.just("IP4"),
        IP4,
    ),
    TEXT,
    st.none() | TEXT,
    st.none() | st.just("http://example.com/sdp"),
    st.lists(TEXT, max_size=2),
    st.lists(TEXT, max_size=2),
    st.none() | CONNECTION,
    st.lists(BANDWIDTH, max_size=2),
    st.lists(TIMING, min_size=1, max_size=2),
    KEY,
    st.lists(ATTRIBUTE, max_size=3).map(
        lambda attrs: [
            a for a in attrs if a.name not in ("sendrecv", "sendonly", "recvonly", "inactive")
        ]
    ),
    st.lists(MEDIA, max_size=3),
)


@settings(max_examples=200, deadline=None)
@given(SESSION)
def test_parse_of_serialize_is_identity(sd: SessionDescription) -> None:
    assert parse(serialize(sd)) == sd


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_parse_or_raise_sdp_error(data: bytes) -> None:
    try:
        parse(BASE.encode() + data)
    except SDPError as error:
        assert error.line_number >= 0


def test_the_sdp_benchmark_runs_in_quick_mode() -> None:
    from rfc3261.bench import Options
    from rfc3261.bench import sdp as bench

    assert bench.LONG.count("\n") == 60 and bench.SHORT.count("\n") == 10
    assert serialize(parse(bench.LONG)).decode() == bench.LONG
    doc = bench.run(Options(quick=True))
    ours = [r for r in doc["results"] if r["parser"] == "sipref"]
    assert [r["description"] for r in ours] == ["10 lines", "60 lines"]
    assert all(r["per_s_best"] > 0 for r in ours)
    assert "SDP parse + serialize" in bench.render(doc) and bench.floors_passed(doc) is None
