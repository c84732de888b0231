"""The header registry: a header field an extension defines, taught through register_header."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from rfc3261 import ParseError, Request, parse, register_header, unregister_header
from rfc3261.headers import _SPELLINGS, CANONICAL_NAMES, COMPACT_FORMS, HEADER_TYPES, HeaderType
from rfc3261.tests.test_message import request_bytes


# -- a tiny extension, as an extension module would write it (test-only name and letter) --
@dataclass(frozen=True)
class ProbeTag:
    """One X-Probe-Tag value: a token with optional ;parameters (kept as written)."""

    tag: str
    params: str = ""

    @classmethod
    def parse(cls, text: str) -> ProbeTag:
        tag, semi, params = text.strip(" \t").partition(";")
        if re.fullmatch(r"[A-Za-z0-9\-.!%*_+`'~]+", tag) is None:
            raise ParseError(f"{tag!r} is not a token", "RFC 6648 §3", "X-Probe-Tag")
        return cls(tag, semi + params)

    def __str__(self) -> str:
        return self.tag + self.params


def install() -> HeaderType:
    # "z" is not a compact form IANA assigned; RFC 6648 §3 is about "X-" names.
    return register_header(
        "X-Probe-Tag", ProbeTag.parse, rfc=6648, section="3", compact="z", multi=True
    )


# -- tests ----------------------------------------------------------------------------------


@pytest.fixture
def probe() -> Iterator[HeaderType]:
    """The extension installed for one test; the process-global registry restored after."""
    entry = install()
    try:
        yield entry
    finally:
        unregister_header("X-Probe-Tag")


RFC3261_HEADERS = {
    "Accept": None, "Accept-Encoding": None, "Accept-Language": None, "Alert-Info": None,
    "Allow": None, "Authentication-Info": None, "Authorization": None, "Call-ID": "i",
    "Call-Info": None, "Contact": "m", "Content-Disposition": None, "Content-Encoding": "e",
    "Content-Language": None, "Content-Length": "l", "Content-Type": "c", "CSeq": None,
    "Date": None, "Error-Info": None, "Expires": None, "From": "f", "In-Reply-To": None,
    "Max-Forwards": None, "Min-Expires": None, "MIME-Version": None, "Organization": None,
    "Priority": None, "Proxy-Authenticate": None, "Proxy-Authorization": None,
    "Proxy-Require": None, "Record-Route": None, "Reply-To": None, "Require": None,
    "Retry-After": None, "Route": None, "Server": None, "Subject": "s", "Supported": "k",
    "Timestamp": None, "To": "t", "Unsupported": None, "User-Agent": None, "Via": "v",
    "Warning": None, "WWW-Authenticate": None,
}  # fmt: skip


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.3
##= type=test
##% Implementations MUST accept both the long and short forms
##% of each header name.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% Implementations MUST be able to process multiple header field rows
##% with the same name in any combination of the single-value-per-line or
##% comma-separated value forms.
def test_extension_header_on_the_wire(probe: HeaderType) -> None:
    data = request_bytes("z: alpha;x=1, beta", "X-PROBE-TAG: gamma", "Content-Length: 0")
    message = parse(data)
    expected = [ProbeTag("alpha", ";x=1"), ProbeTag("beta"), ProbeTag("gamma")]
    for name in ("X-Probe-Tag", "x-probe-tag", "X-PROBE-TAG", "z", "Z", " z "):
        assert message.header(name) == expected, name
    assert message.headers.get_all("Z") == ["alpha;x=1", "beta", "gamma"]
    assert "x-probe-tag" in message.headers and "z" in message.headers
    assert bytes(message) == data  # rows sent again as written
    # A value added through the API is written under the name given and read back typed.
    built = Request.build(
        "OPTIONS",
        "sip:bob@example.com",
        via="SIP/2.0/UDP h;branch=z9hG4bK1",
        from_="<sip:a@b>;tag=1",
        to="<sip:bob@example.com>",
        call_id="c1",
        cseq=1,
        headers=[("X-Probe-Tag", ProbeTag("delta", ";q"))],
    )
    assert b"\r\nX-Probe-Tag: delta;q\r\n" in bytes(built)
    assert parse(bytes(built)).header("z") == [ProbeTag("delta", ";q")]


def spelling_cache_is_current() -> bool:
    """The parse path's spelling cache holds exactly what the registry's tables imply."""
    expected: dict[str, str] = {}
    for key, name in CANONICAL_NAMES.items():
        expected |= {name: key, key: key, name.upper(): key}
    for letter, key in COMPACT_FORMS.items():
        expected |= {letter: key, letter.upper(): key}
    return expected == _SPELLINGS


def test_registration_is_what_teaches_the_layer() -> None:
    data = request_bytes("z: alpha", "Content-Length: 0")
    assert spelling_cache_is_current() and "z" not in _SPELLINGS
    assert parse(data).header("X-Probe-Tag") is None  # unknown: "z" is just another name
    assert parse(data).header("z") == "alpha"
    entry = install()
    try:
        assert parse(data).header("X-Probe-Tag") == [ProbeTag("alpha")]
        assert (HEADER_TYPES["x-probe-tag"], COMPACT_FORMS["z"]) == (entry, "x-probe-tag")
        assert CANONICAL_NAMES["x-probe-tag"] == "X-Probe-Tag"
        assert spelling_cache_is_current() and _SPELLINGS["Z"] == "x-probe-tag"
        assert (entry.reference, entry.url) == (
            "RFC 6648 §3", "https://www.rfc-editor.org/rfc/rfc6648#section-3"
        )  # fmt: skip
    finally:
        unregister_header("x-probe-tag")
    assert "x-probe-tag" not in HEADER_TYPES and "z" not in COMPACT_FORMS
    assert spelling_cache_is_current() and "z" not in _SPELLINGS
    assert parse(data).header("z") == "alpha"


def test_extension_parse_errors_cite_the_extension(probe: HeaderType) -> None:
    with pytest.raises(ParseError, match=r"X-Probe-Tag: empty value \(RFC 6648 §3\)"):
        parse(request_bytes("X-Probe-Tag:", "Content-Length: 0")).header("z")
    with pytest.raises(ParseError, match=r"'a b' is not a token \(RFC 6648 §3\)"):
        parse(request_bytes("z: a b", "Content-Length: 0")).header("z")
    with pytest.raises(ParseError, match=r"Via: empty value \(RFC 3261 §20\.42\)"):
        HEADER_TYPES["via"].parse_all([""])


def test_registration_is_idempotent_and_conflicts_raise(probe: HeaderType) -> None:
    assert install() is probe  # an extension installed by two UAs in one process
    with pytest.raises(ValueError, match=r"X-Probe-Tag: already registered .*differs in multi"):
        register_header("X-Probe-Tag", ProbeTag.parse, rfc=6648, section="3", compact="z")
    with pytest.raises(ValueError, match=r"compact form 'z' is already taken by X-Probe-Tag"):
        register_header("X-Other", ProbeTag.parse, rfc=6648, section="3", compact="Z")
    with pytest.raises(ValueError, match=r"compact form 'v' is already taken by Via"):
        register_header("X-Other", ProbeTag.parse, rfc=6648, section="3", compact="v")
    with pytest.raises(ValueError, match=r"Via: already registered"):
        register_header("Via", ProbeTag.parse, rfc=3261, section="20.42", compact="v")
    with pytest.raises(ValueError, match=r"already the compact form of Via"):
        register_header("V", ProbeTag.parse, rfc=6648, section="3")
    good = {"name": "X-Other", "parse": ProbeTag.parse, "rfc": 6648, "section": "3"}
    for bad in ({"name": "X Probe"}, {"name": "X:P"}, {"compact": "zz"}, {"compact": "1"},
                {"section": "§3"}, {"rfc": 0}):  # fmt: skip
        with pytest.raises(ValueError):
            register_header(**{**good, **bad})
    with pytest.raises(TypeError):
        register_header("X-Other", "not callable", rfc=6648, section="3")  # type: ignore[arg-type]
    assert "x-other" not in HEADER_TYPES  # a refused registration leaves nothing behind


def test_rfc3261_headers_go_through_the_same_door() -> None:
    assert {entry.name: entry.compact for entry in HEADER_TYPES.values()} == RFC3261_HEADERS
    for entry in HEADER_TYPES.values():
        assert entry.rfc == 3261 and entry.reference == f"RFC 3261 §{entry.section}"
        assert entry.section.startswith("20.")
    with pytest.raises(ValueError, match="RFC 3261's own"):
        unregister_header("Via")
    with pytest.raises(ValueError, match="not a registered"):
        unregister_header("X-Probe-Tag")
    with pytest.raises(TypeError):
        HEADER_TYPES["x-probe-tag"] = HEADER_TYPES["via"]  # type: ignore[index]
