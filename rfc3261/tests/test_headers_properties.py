"""Properties of the header parsers: generated values round-trip through str() and parse,
arbitrary text either parses or raises ParseError, and hostile inputs finish quickly."""

from __future__ import annotations

import contextlib
import os
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rfc3261.auth_headers import Challenge, Credentials
from rfc3261.errors import ParseError
from rfc3261.headers import (
    HEADER_TYPES,
    Contact,
    ContentType,
    CSeq,
    NameAddr,
    RetryAfter,
    SipDate,
    Timestamp,
    Via,
    Warning,
    quote,
    split_header_values,
)
from rfc3261.params import Parameters
from rfc3261.uri import parse_uri

# make fuzz (SIPREF_FUZZ=1) runs many more examples and ten times larger hostile inputs.
FUZZ = bool(os.environ.get("SIPREF_FUZZ"))
EXAMPLES = 3000 if FUZZ else 40
SCALE = 10 if FUZZ else 1

TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
tokens = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=10)
labels = st.from_regex(r"[a-z]([a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True)
hostnames = st.lists(labels, min_size=1, max_size=4).map(".".join)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(lambda a: f"[{a}]")
hosts = st.one_of(hostnames, ipv4, ipv6)
# Printable text without CR/LF (which no quoted-string can carry) for display names etc.
free_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=20
)
quoted_values = free_text.map(quote)


def unique_params(names: st.SearchStrategy[str], reserved: set[str]):
    """Lists of (name, value) with names unique case-insensitively and not reserved."""
    pair = st.tuples(names, st.one_of(st.none(), tokens, quoted_values))
    return st.lists(pair, max_size=5, unique_by=lambda p: p[0].lower()).map(
        lambda items: [(n, v) for n, v in items if n.lower() not in reserved]
    )


VIA_RESERVED = {"branch", "received", "ttl", "maddr", "rport"}


@st.composite
def vias(draw) -> Via:
    params = [("branch", "z9hG4bK" + draw(tokens))]
    if draw(st.booleans()):
        params.append(("received", draw(st.one_of(ipv4, st.ip_addresses(v=6).map(str)))))
    if draw(st.booleans()):
        params.append(("rport", draw(st.one_of(st.none(), st.integers(0, 65535).map(str)))))
    if draw(st.booleans()):
        params.append(("ttl", str(draw(st.integers(0, 255)))))
    params += draw(unique_params(tokens, VIA_RESERVED))
    return Via(
        transport=draw(st.sampled_from(["UDP", "TCP", "TLS", "SCTP", "WS", "x-new"])),
        host=draw(hosts),
        port=draw(st.one_of(st.none(), st.integers(0, 65535))),
        params=Parameters(params),
    )


@st.composite
def sip_uris(draw):
    user = draw(st.one_of(st.none(), st.from_regex(r"[a-zA-Z0-9_.+-]{1,10}", fullmatch=True)))
    port = draw(st.one_of(st.none(), st.integers(1, 65535)))
    text = "sip:" + (f"{user}@" if user else "") + draw(hosts) + (f":{port}" if port else "")
    if draw(st.booleans()):
        text += ";transport=" + draw(st.sampled_from(["udp", "tcp", "tls"]))
    return parse_uri(text)


@st.composite
def name_addrs(draw, cls=NameAddr, reserved=frozenset({"tag", "q", "expires"})):
    params = draw(unique_params(tokens, set(reserved)))
    if draw(st.booleans()):
        params.insert(0, ("tag", draw(tokens)))
    display = draw(st.one_of(st.none(), free_text))
    angle = display is not None or draw(st.booleans())
    return cls(display, draw(sip_uris()), Parameters(params), angle)


@st.composite
def contacts(draw):
    value = draw(name_addrs(Contact))
    if draw(st.booleans()):
        value.params.set("q", draw(st.sampled_from(["0", "0.5", "1", "0.123", "1.000"])))
    if draw(st.booleans()):
        value.params.set("expires", str(draw(st.integers(0, 2**32 - 1))))
    return value


@st.composite
def auth_values(draw, cls):
    params = draw(
        st.lists(
            st.tuples(tokens, st.one_of(tokens, quoted_values)),
            min_size=1,
            max_size=5,
            unique_by=lambda p: p[0].lower(),
        )
    )
    return cls(draw(st.sampled_from(["Digest", "digest", "NewScheme"])), Parameters(params))


VALUES = {
    "via": (Via.parse, vias()),
    "name-addr": (NameAddr.parse, name_addrs()),
    "contact": (Contact.parse, contacts()),
    "cseq": (
        CSeq.parse,
        st.builds(CSeq, st.integers(0, 2**31 - 1), tokens),
    ),
    "content-type": (
        ContentType.parse,
        st.builds(
            ContentType,
            tokens,
            tokens,
            st.lists(
                st.tuples(tokens, st.one_of(tokens, quoted_values)),
                max_size=3,
                unique_by=lambda p: p[0].lower(),
            ).map(Parameters),
        ),
    ),
    "retry-after": (
        RetryAfter.parse,
        st.builds(
            RetryAfter,
            st.integers(0, 2**32 - 1),
            st.one_of(st.none(), st.from_regex(r"[a-zA-Z0-9 ']{0,12}", fullmatch=True)),
            st.one_of(
                st.just([]), st.integers(0, 99999).map(lambda d: [("duration", str(d))])
            ).map(Parameters),
        ),
    ),
    "warning": (
        Warning.parse,
        st.builds(Warning, st.integers(100, 999), st.one_of(hosts, tokens), free_text),
    ),
    "date": (
        SipDate.parse,
        st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31))
        .map(lambda d: d.replace(microsecond=0, tzinfo=UTC))
        .map(SipDate),
    ),
    "timestamp": (
        Timestamp.parse,
        st.builds(
            Timestamp,
            st.decimals(min_value=0, max_value=10**9, places=3),
            st.one_of(st.none(), st.decimals(min_value=0, max_value=10**6, places=3)),
        ),
    ),
    "credentials": (Credentials.parse, auth_values(Credentials)),
    "challenge": (Challenge.parse, auth_values(Challenge)),
}


@pytest.mark.parametrize("kind", sorted(VALUES))
def test_generated_values_round_trip(kind: str) -> None:
    parse, strategy = VALUES[kind]

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(strategy)
    def check(value) -> None:
        text = str(value)
        parsed = parse(text)
        assert parsed == value, text
        assert str(parsed) == text

    check()


PARSERS = {key: entry.parse for key, entry in HEADER_TYPES.items()}
PARSERS["split"] = split_header_values
PARSERS["contact-list"] = lambda text: HEADER_TYPES["contact"].parse_all([text])
PARSERS["via-list"] = lambda text: HEADER_TYPES["via"].parse_all([text])

SIP_ALPHABET = list('SIP/2.0UDPsip:;=<>"\\,()@[]ab1.*\r\n\t -%?~z9hG4bK')
sip_text = st.text(alphabet=SIP_ALPHABET, max_size=60)


@pytest.mark.parametrize("key", sorted(PARSERS))
def test_arbitrary_text_parses_or_raises_parse_error(key: str) -> None:
    parse = PARSERS[key]

    @settings(max_examples=EXAMPLES, deadline=None)
    @given(st.one_of(st.text(max_size=40), sip_text))
    def check(text: str) -> None:
        with contextlib.suppress(ParseError):
            parse(text)

    check()


def mutated(valid: str):
    """Strings near a valid value: one character inserted, deleted or replaced."""
    return st.tuples(
        st.integers(0, len(valid)), st.sampled_from(SIP_ALPHABET), st.integers(0, 2)
    ).map(
        lambda t: (
            valid[: t[0]] + t[1] + valid[t[0] :],
            valid[: t[0]] + valid[t[0] + 1 :],
            valid[: t[0]] + t[1] + valid[t[0] + 1 :],
        )[t[2]]
    )


NEAR_VALID = [
    ("via", "SIP/2.0/UDP [2001:db8::1]:5060;received=192.0.2.1;rport=1;branch=z9hG4bK1;ttl=1"),
    ("from", '"A \\"b\\"" <sip:a@example.com;lr>;tag=1;x="y"'),
    ("contact", "<sip:a@example.com>;q=0.5;expires=60, *"),
    ("retry-after", "120 (a (b) \\) c);duration=5"),
    ("www-authenticate", 'Digest realm="a", nonce="b\\"c", stale=true'),
    ("warning", '399 [::1]:5060 "x \\" y"'),
    ("date", "Sat, 13 Nov 2010 23:29:00 GMT"),
]


@pytest.mark.parametrize(("key", "valid"), NEAR_VALID)
def test_near_valid_text_parses_or_raises_parse_error(key: str, valid: str) -> None:
    entry = HEADER_TYPES[key]

    @settings(max_examples=EXAMPLES, deadline=None)
    @given(mutated(valid))
    def check(text: str) -> None:
        with contextlib.suppress(ParseError):
            entry.parse_all([text])

    check()


# ---------------------------------------------------------------------------
# Hostile inputs: linear time, no recursion
# ---------------------------------------------------------------------------


def timed(function, *args) -> tuple[float, object]:
    start = time.perf_counter()
    try:
        result = function(*args)
    except ParseError as exc:
        result = exc
    return time.perf_counter() - start, result


MB = 1024 * 1024 * SCALE // 10  # 10 MB under make fuzz, 1 MB otherwise
TEN_MB = 10 * 1024 * 1024


@pytest.mark.parametrize(
    "text",
    [
        "a," * (5 * MB),
        '"x",' * (MB * 10 // 4),
        "<sip:a@b>," * MB,
        '"' + "\\" * (10 * MB),
        "<" * (10 * MB),
        "(a," * (MB * 2 // 3),
        "(" * (2 * MB),
    ],
    ids=["commas", "quoted", "angles", "backslashes", "open-angles", "comments", "open-parens"],
)
def test_split_header_values_is_linear(text: str) -> None:
    elapsed, result = timed(split_header_values, text)
    assert isinstance(result, list)
    assert elapsed < 10, elapsed


def test_split_large_value_count() -> None:
    parts = split_header_values('"a,b" <sip:x@y>, ' * 100_000)
    assert len(parts) == 100_001 and parts[0] == '"a,b" <sip:x@y>' and parts[-1] == ""


HUGE = [
    ("via", "SIP/2.0/UDP host.example.com;branch=z9hG4bK" + "a" * (10 * MB)),
    ("via", "SIP/2.0/UDP host.example.com" + "".join(f";p{i}=v" for i in range(10_000 * SCALE))),
    (
        "via",
        "SIP/2.0/UDP host.example.com" + "".join(f" ; p{i} = v" for i in range(10_000 * SCALE)),
    ),
    ("via", "SIP/2.0/UDP host.example.com;p" * 100_000),
    ("via", "SIP/2.0/UDP " + "a." * (MB // 2) + "-"),
    ("from", "<sip:a@example.com>" + "".join(f";p{i}=v" for i in range(10_000 * SCALE))),
    ("from", '"' + "x" * (10 * MB) + '" <sip:a@example.com>'),
    ("from", '"' + "\\x" * (5 * MB) + "<sip:a@example.com>"),
    ("from", "a " * (5 * MB) + "<sip:a@example.com>"),
    ("from", "sip:a@example.com" + ";a" * (MB // 2)),
    ("retry-after", "1 " + "(" * 100_000 + ")" * 100_000),
    ("retry-after", "1 (" + "x" * (10 * MB) + ")"),
    ("retry-after", "1 (" + "\\(" * (MB // 2) + ")"),
    ("www-authenticate", "Digest " + ", ".join(f"p{i}=v" for i in range(10_000 * SCALE))),
    ("www-authenticate", 'Digest realm="' + "\\a" * (MB // 2) + '"'),
    ("cseq", "1" * (10 * MB) + " INVITE"),
    ("max-forwards", "9" * (10 * MB)),
    ("content-length", "0" * (10 * MB) + "1"),
    ("expires", "9" * (10 * MB)),
    ("call-id", "a" * (10 * MB)),
    ("timestamp", "1" * MB + "." + "2" * MB),
    ("date", "Sat, 13 Nov 2010 23:29:00 GMT" * 1000),
    ("warning", '399 host "' + "x" * MB + '"'),
    ("content-type", "a/b" + ";a=b" * 100_000),
]


@pytest.mark.parametrize(("key", "text"), HUGE, ids=[f"{k}-{i}" for i, (k, _) in enumerate(HUGE)])
def test_huge_values_finish_quickly(key: str, text: str) -> None:
    elapsed, _ = timed(HEADER_TYPES[key].parse, text)
    assert elapsed < 10, elapsed


def test_deep_comment_is_refused() -> None:
    elapsed, result = timed(RetryAfter.parse, "1 " + "(" * 1_000_000)
    assert isinstance(result, ParseError) and "nested too deeply" in str(result)
    assert elapsed < 2
    ok = RetryAfter.parse("1 " + "(" * 32 + ")" * 32)
    assert ok.comment == "(" * 31 + ")" * 31


def test_hundred_thousand_params_are_kept() -> None:
    via = Via.parse("SIP/2.0/UDP h.example.com" + "".join(f";p{i}=v" for i in range(100_000)))
    assert len(via.params) == 100_000
    na = NameAddr.parse("<sip:a@example.com>" + "".join(f" ;p{i}" for i in range(100_000)))
    assert len(na.params) == 100_000
    assert Decimal(1) == Timestamp.parse("1").value


def test_ten_megabyte_values() -> None:
    """The brief's bound: a 10 MB value is split or refused in linear time."""
    cases = [
        (split_header_values, "<sip:a@b>, " * (TEN_MB // 11)),
        (split_header_values, '"a,b" x, ' * (TEN_MB // 9)),
        (HEADER_TYPES["via"].parse, "SIP/2.0/UDP host.example.com;branch=" + "a" * TEN_MB),
        (HEADER_TYPES["from"].parse, '"' + "x" * TEN_MB + '" <sip:a@example.com>'),
        (HEADER_TYPES["retry-after"].parse, "1 " + "(" * TEN_MB),
    ]
    for function, text in cases:
        elapsed, _ = timed(function, text)
        assert elapsed < 10, (function, elapsed)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.one_of(contacts(), name_addrs()), min_size=1, max_size=5))
def test_joined_values_split_back(values: list) -> None:
    """Values joined with ", " split back into the same values (§7.3.1 combining rows)."""
    parts = split_header_values(", ".join(str(v) for v in values))
    assert [type(v).parse(p) for v, p in zip(values, parts, strict=True)] == values


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% It MUST be possible to combine the multiple
##% header field rows into one "field-name: field-value" pair, without
##% changing the semantics of the message, by appending each subsequent
##% field-value to the first, each separated by a comma.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% Implementations MUST be able to process multiple header field rows
##% with the same name in any combination of the single-value-per-line or
##% comma-separated value forms.
@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(vias(), min_size=1, max_size=5))
def test_joined_vias_split_back(values: list[Via]) -> None:
    rows = [", ".join(str(v) for v in values)]
    assert HEADER_TYPES["via"].parse_all(rows) == values
    assert HEADER_TYPES["via"].parse_all([str(v) for v in values]) == values
