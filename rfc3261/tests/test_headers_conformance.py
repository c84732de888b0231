"""Header values from the RFC 4475 and RFC 5118 torture messages, read with the header
parsers alone (the message layer has its own tests)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from rfc3261.auth_headers import Credentials
from rfc3261.errors import ParseError
from rfc3261.headers import (
    HEADER_TYPES,
    MAX_DELTA_SECONDS,
    CSeq,
    NameAddr,
    RetryAfter,
    SipDate,
    Via,
    Warning,
    canonical_name,
    parse_call_id,
    parse_content_length,
    parse_expires,
    parse_max_forwards,
)

CONFORMANCE_DIR = Path(
    os.environ.get("SIPREF_CONFORMANCE_DIR")
    or Path(__file__).resolve().parents[2].parent / "shared" / "conformance"
)


def fields(name: str) -> dict[str, list[str]]:
    """The header fields of a torture message: canonical name -> raw values, unfolded."""
    path = CONFORMANCE_DIR / name
    if not path.exists():
        pytest.skip(f"{path} not found (set SIPREF_CONFORMANCE_DIR)")
    data = path.read_bytes().replace(b"\r\n", b"\n")
    head = data.split(b"\n\n", 1)[0].decode("utf-8", "surrogateescape")
    # §7.3.1: a line break followed by whitespace continues the field value.
    head = re.sub(r"\n[ \t]+", " ", head)
    result: dict[str, list[str]] = {}
    for line in head.split("\n")[1:]:
        if ":" not in line:
            continue
        field_name, _, value = line.partition(":")
        result.setdefault(canonical_name(field_name.strip()), []).append(value.strip(" \t"))
    return result


def test_wsinv() -> None:
    # RFC 4475 §3.1.1.1: a short tortuous INVITE that a parser must accept
    f = fields("rfc4475/wsinv.dat")
    to = NameAddr.parse(f["to"][0])
    assert (str(to.uri), to.tag) == ("sip:vivekg@chair-dnrc.example.com", "1918181833n")
    from_ = NameAddr.parse(f["from"][0])
    assert from_.display_name == 'J Rosenberg \\"'
    assert from_.tag == "98asjd8"
    assert parse_max_forwards(f["max-forwards"][0]) == 68
    assert CSeq.parse(f["cseq"][0]) == CSeq(9, "INVITE")
    vias = HEADER_TYPES["via"].parse_all(f["via"])
    assert [(v.transport, v.host, v.branch) for v in vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    (contact,) = HEADER_TYPES["contact"].parse_all(f["contact"])
    assert contact.display_name == 'Quoted string ""'
    assert contact.params.items() == [
        ("newparam", "newvalue"),
        ("secondparam", None),
        ("q", "0.33"),
    ]
    assert contact.q == 0.33
    assert HEADER_TYPES["subject"].parse(f["subject"][0]) == ""
    route = HEADER_TYPES["route"].parse_all(f["route"])
    assert route[0].uri.params.get("unknownwith") == "value"


def test_intmeth() -> None:
    # RFC 4475 §3.1.1.2: a wide range of valid characters
    f = fields("rfc4475/intmeth.dat")
    to = NameAddr.parse(f["to"][0])
    assert to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    from_ = NameAddr.parse(f["from"][0])
    assert from_.display_name == "token1~` token2'+_ token3*%!.-"
    assert from_.tag == "_token~1'+`*%!-."
    assert len(from_.params) == 2
    assert parse_call_id(f["call-id"][0]) == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert CSeq.parse(f["cseq"][0]).method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert Via.parse(f["via"][0]).branch == "z9hG4bK-.!%66*_+`'~"
    assert parse_max_forwards(f["max-forwards"][0]) == 255


def test_lwsdisp_longreq_esc02_unksm2() -> None:
    lwsdisp = NameAddr.parse(fields("rfc4475/lwsdisp.dat")["from"][0])
    assert (lwsdisp.display_name, lwsdisp.tag) == ("caller", "323")
    long = fields("rfc4475/longreq.dat")
    to = NameAddr.parse(long["to"][0])
    assert to.display_name.startswith("I have a user name of extremeextreme")
    assert len(HEADER_TYPES["via"].parse_all(long["via"])) == 34
    assert NameAddr.parse(long["from"][0]).tag.startswith("12982982982982982982")
    esc02 = NameAddr.parse(fields("rfc4475/esc02.dat")["to"][0])
    assert esc02.display_name == "%Z%45"
    unksm2 = fields("rfc4475/unksm2.dat")
    assert NameAddr.parse(unksm2["to"][0]).uri.scheme == "isbn"
    assert HEADER_TYPES["contact"].parse_all(unksm2["contact"])[0].uri.scheme == "name"


def test_transports_and_accept() -> None:
    vias = HEADER_TYPES["via"].parse_all(fields("rfc4475/transports.dat")["via"])
    assert [v.transport for v in vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    accept = HEADER_TYPES["accept"].parse_all(fields("rfc4475/semiuri.dat")["accept"])
    assert [a.mime_type for a in accept] == [
        "application/sdp", "application/pkcs7-mime", "multipart/mixed", "multipart/signed",
        "message/sip", "message/sipfrag",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "header", "parse"),
    [
        ("baddn.dat", "from", NameAddr.parse),  # §3.1.2.15
        ("baddn.dat", "to", NameAddr.parse),
        ("quotbal.dat", "to", NameAddr.parse),  # §3.1.2.6
        ("badaspec.dat", "to", NameAddr.parse),  # §3.1.2.14
        ("regbadct.dat", "contact", HEADER_TYPES["contact"].parse),  # §3.1.2.13
        ("baddate.dat", "date", SipDate.parse),  # §3.1.2.12
        ("scalar02.dat", "cseq", CSeq.parse),  # §3.1.2.4
        ("scalar02.dat", "max-forwards", parse_max_forwards),
        ("scalarlg.dat", "cseq", CSeq.parse),  # §3.1.2.5
        ("scalarlg.dat", "warning", Warning.parse),
        ("ncl.dat", "content-length", parse_content_length),  # §3.1.2.3
    ],
)
def test_rfc4475_invalid_values(name: str, header: str, parse) -> None:
    with pytest.raises(ParseError):
        parse(fields(f"rfc4475/{name}")[header][0])


def test_badinv01_extraneous_separators() -> None:
    # RFC 4475 §3.1.2.1
    f = fields("rfc4475/badinv01.dat")
    with pytest.raises(ParseError):
        HEADER_TYPES["via"].parse_all(f["via"])
    with pytest.raises(ParseError):
        HEADER_TYPES["contact"].parse_all(f["contact"])


def test_scalar_overlarge_expiry_values() -> None:
    # RFC 4475 §3.1.2.4/§3.1.2.5: expiry values read as 2**32-1 (RFC 3261 §10.2 MAY)
    f = fields("rfc4475/scalar02.dat")
    assert parse_expires(f["expires"][0]) == MAX_DELTA_SECONDS
    assert HEADER_TYPES["contact"].parse_all(f["contact"])[0].expires == MAX_DELTA_SECONDS
    retry = RetryAfter.parse(fields("rfc4475/scalarlg.dat")["retry-after"][0])
    assert retry.seconds == MAX_DELTA_SECONDS


def test_valid_scalar_and_misc_values() -> None:
    assert parse_max_forwards(fields("rfc4475/zeromf.dat")["max-forwards"][0]) == 0
    regaut = Credentials.parse(fields("rfc4475/regaut01.dat")["authorization"][0])
    assert regaut.scheme == "NoOneKnowsThisScheme"
    date = SipDate.parse(fields("rfc4475/mpart01.dat")["date"][0])
    assert str(date) == "Sat, 15 Oct 2005 04:44:56 GMT"
    via = Via.parse(fields("rfc4475/mpart01.dat")["via"][0])
    assert via.rport == "" and via.port == 5070
    bcast = HEADER_TYPES["via"].parse_all(fields("rfc4475/bcast.dat")["via"])
    assert bcast[1].host == "255.255.255.255"
    assert Via.parse(fields("rfc4475/badbranch.dat")["via"][0]).branch == "z9hG4bK"


##= https://www.rfc-editor.org/rfc/rfc5118#section-4.5
##= type=test
##% Thus, the best that can be suggested is that
##% implementations must follow the Robustness Principle [RFC1122] and be
##% liberal in accepting a "received" parameter with or without the
##% delimiting "[" and "]" tokens.
@pytest.mark.parametrize(
    ("name", "received"),
    [
        ("via-received-param-with-delim", "[2001:db8::9:255]"),
        ("via-received-param-no-delim", "2001:db8::9:255"),
    ],
)
def test_rfc5118_via_received(name: str, received: str) -> None:
    via = Via.parse(fields(f"rfc5118/{name}")["via"][0])
    assert via.host == "[2001:db8::9:1]"
    assert via.received == received
    assert Via.parse(str(via)) == via


def test_rfc5118_addresses_in_headers() -> None:
    vias = HEADER_TYPES["via"].parse_all(fields("rfc5118/mult-ip-in-header")["via"])
    assert [(v.host, v.port, v.received) for v in vias] == [
        ("[2001:db8::9:1]", 6050, None),
        ("192.0.2.1", None, None),
        ("[2001:db8::9:255]", None, "192.0.2.200"),
    ]
    mapped = fields("rfc5118/ipv4-mapped-ipv6")
    assert [v.host for v in HEADER_TYPES["via"].parse_all(mapped["via"])] == [
        "[::ffff:192.0.2.10]",
        "[::ffff:192.0.2.2]",
    ]
    contact = HEADER_TYPES["contact"].parse_all(mapped["contact"])[0]
    assert (contact.display_name, contact.uri.host) == ("T. desk phone", "[::ffff:192.0.2.2]")
    for name in ["ipv6-good", "port-unambiguous", "ipv6-in-sdp", "mult-ip-in-sdp"]:
        for key in ["to", "from", "via", "contact", "cseq", "call-id"]:
            for raw in fields(f"rfc5118/{name}").get(key, []):
                values = HEADER_TYPES[key].parse_all([raw])
                assert values, (name, key)


def test_every_valid_rfc4475_message_has_parseable_core_headers() -> None:
    # The messages RFC 4475 §3.1.1 calls valid: every core header value parses.
    valid = ["wsinv", "intmeth", "esc01", "escnull", "esc02", "lwsdisp", "longreq", "dblreq",
             "semiuri", "transports", "mpart01", "unreason", "noreason"]  # fmt: skip
    keys = ["via", "from", "to", "call-id", "cseq", "max-forwards", "content-length",
            "contact", "content-type", "route", "record-route", "accept", "date"]  # fmt: skip
    checked = 0
    for name in valid:
        f = fields(f"rfc4475/{name}.dat")
        for key in keys:
            if key in f:
                HEADER_TYPES[key].parse_all(f[key])
                checked += 1
    assert checked > 60
