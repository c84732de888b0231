"""The RFC 4475 and RFC 5118 torture-test messages through the message layer.

Every file of both archives is listed here with what the RFC expects of it (see
../shared/conformance/README.md): valid messages parse, with assertions on their
tricky values, and serialize back to the same bytes; invalid ones raise ParseError
naming their defect (at parse time, or on first access of a header that parse()
does not need), and a request gets the 400 the RFC asks for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rfc3261 import AbsoluteURI, ParseError, Request, Response, SipURI, bad_request_response, parse
from rfc3261.headers import unquote
from rfc3261.tests.conftest import CONFORMANCE_DIR, torture_bytes

Check = Callable[[Any], None]


def _wire_length(data: bytes, message: Request | Response) -> int:
    """How many octets of ``data`` the message occupies (trailing octets excluded)."""
    return data.find(b"\r\n\r\n") + 4 + len(message.body)


# -- RFC 4475 §3.1.1: valid messages ---------------------------------------------------


def check_wsinv(m: Request) -> None:
    # §7.3.1 folding and whitespace around the colon; names in any case; compact forms.
    assert m.method == "INVITE"
    assert m.to.tag == "1918181833n"
    assert m.to.uri.host == "chair-dnrc.example.com"
    assert m.from_.display_name == 'J Rosenberg \\"' or unquote(f'"{m.from_.display_name}"') == (
        'J Rosenberg \\"'
    )
    assert m.from_.tag == "98asjd8"
    assert m.max_forwards == 68
    assert (m.cseq.number, m.cseq.method) == (9, "INVITE")
    assert m.call_id == "wsinv.ndaksdj@192.0.2.1"
    assert [v.transport for v in m.via] == ["UDP", "TCP", "UDP"]
    assert m.top_via.host == "192.0.2.2"
    assert m.top_via.branch == "390skdjuw"
    assert m.via[1].branch == "z9hG4bK9ikj8"
    assert m.via[2].host == "192.168.255.111"
    assert m.headers.get("Subject") == ""
    assert m.headers.get("s") == ""
    assert m.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert m.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert m.route[0].uri.params.get("unknown-no-value") is None
    assert "unknownwith" in m.route[0].uri.params
    (contact,) = m.contact
    assert contact.display_name in ('Quoted string \\"\\"', 'Quoted string ""')
    assert contact.params.get("newparam") == "newvalue"
    assert "secondparam" in contact.params
    assert contact.q is not None and float(contact.q) == pytest.approx(0.33)
    assert m.content_length == 150 == len(m.body)
    assert m.uri.params.names() == ["unknownparam"]


def check_intmeth(m: Request) -> None:
    # Every token character in the method; a raw NUL, BEL and DEL escaped in a
    # quoted string; UTF-8 in a parameter value and an extension header.
    assert m.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert m.cseq.method == m.method
    assert isinstance(m.uri, SipURI)
    assert m.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert m.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert m.to.display_name is not None and "\x00" in m.to.display_name
    assert m.from_.tag == "_token~1'+`*%!-."
    assert m.from_.display_name == "token1~` token2'+_ token3*%!.-"
    assert "работающий" in (m.from_.params.get("fromParam''~+*_!.-%") or "")
    assert m.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert m.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"
    assert m.max_forwards == 255


def check_esc01(m: Request) -> None:
    # %-escapes are kept as written (comparison is the URI layer's business).
    assert m.uri.user == "sips%3Auser%40example.com"
    assert m.to.uri.user == "%75se%72"
    assert m.from_.uri.user == "I%20have%20spaces"
    assert m.call_id == "esc01.239409asdfakjkn23onasd0-3234"  # compact "i"
    assert str(m.content_type) == "application/sdp"  # compact "C"
    assert m.contact[0].uri.params.get("n%61me") == "v%61lue%25%34%31"


def check_escnull(m: Request) -> None:
    assert m.to.uri.user == "null-%00-null"
    assert [c.uri.user for c in m.contact] == ["%00", "%00%00"]
    assert m.content_length == 0  # "L:0": compact form, no space


def check_esc02(m: Request) -> None:
    # "RE%47IST%45R" is an extension method, not REGISTER; "C%6Fntact" is an
    # unknown header, not a Contact.
    assert m.method == "RE%47IST%45R"
    assert m.cseq.method == "RE%47IST%45R"
    assert m.to.display_name == "%Z%45"
    assert m.top_via.branch == "z9hG4bK209%fzsnel234"
    assert [str(c.uri) for c in m.contact] == [
        "sip:alias1@host1.example.com",
        "sip:alias3@host3.example.com",
    ]
    assert m.header("C%6Fntact") == "<sip:alias2@host2.example.com>"


def check_lwsdisp(m: Request) -> None:
    assert m.from_.display_name == "caller"
    assert str(m.from_.uri) == "sip:caller@example.com"
    assert m.from_.tag == "323"


def check_longreq(m: Request) -> None:
    # 34 Via values under every spelling of Via and v; long names and values.
    assert len(m.via) == 34
    assert [v.host for v in m.via[:3]] == [
        "sip33.example.com",
        "sip32.example.com",
        "sip31.example.com",
    ]
    assert m.via[-1].received == "192.0.2.5"
    assert m.via[-1].branch.startswith("verylonglong") and len(m.via[-1].branch) > 200
    assert len(m.call_id) > 100
    assert len(m.from_.tag) > 100
    assert m.to.uri.port == 6000
    long_name = next(name for name, _ in m.headers if name.startswith("Unknown-LongLong"))
    assert m.headers.get(long_name).startswith("unknown-longlong")
    assert m.content_length == 150 == len(m.body)


def check_dblreq(m: Request) -> None:
    # The octets after Content-Length (an INVITE) are ignored (§18.3).
    assert m.method == "REGISTER"
    assert m.body == b""
    assert m.call_id == "dblreq.0ha0isndaksdj99sdfafnl3lk233412"


def check_semiuri(m: Request) -> None:
    assert m.uri.user == "user;par=u%40example.net"
    assert len(m.uri.params) == 0
    assert [f"{a.type}/{a.subtype}" for a in m.header("Accept")] == [
        "application/sdp",
        "application/pkcs7-mime",
        "multipart/mixed",
        "multipart/signed",
        "message/sip",
        "message/sipfrag",
    ]


def check_transports(m: Request) -> None:
    assert [v.transport for v in m.via] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    assert m.call_id == "transports.kijh4akdnaqjkwendsasfdj"


def check_mpart01(m: Request) -> None:
    # A binary body part (bare CR, LF, NUL) stays bytes, bounded by Content-Length.
    assert m.content_type.type == "multipart"
    assert m.content_type.params.get("boundary") == "7a9cbec02ceef655"
    assert isinstance(m.body, bytes)
    assert len(m.body) == m.content_length == 553
    assert m.body.endswith(b"--7a9cbec02ceef655--\r\n")
    assert b"\x00" in m.body


def check_unreason(m: Response) -> None:
    assert m.status == 200
    assert m.reason == "= 2**3 * 5**2 но сто девяносто девять - простое"
    assert m.defects == []


def check_noreason(m: Response) -> None:
    assert m.status == 100
    assert m.reason == ""
    assert m.defects == []


# -- RFC 4475 §3.2, §3.3, §3.4: well-formed messages for the layers above ---------------


def check_badbranch(m: Request) -> None:
    # Well-formed; the transaction layer decides what a bare magic cookie means.
    assert m.top_via.branch == "z9hG4bK"


def check_unkscm(m: Request) -> None:
    assert isinstance(m.uri, AbsoluteURI)
    assert str(m.uri) == "nobodyKnowsThisScheme:totallyopaquecontent"


def check_novelsc(m: Request) -> None:
    assert isinstance(m.uri, AbsoluteURI)
    assert str(m.uri) == "soap.beep://192.0.2.103:3002"


def check_unksm2(m: Request) -> None:
    assert isinstance(m.to.uri, AbsoluteURI) and str(m.to.uri) == "isbn:2983792873"
    assert isinstance(m.from_.uri, AbsoluteURI) and m.from_.tag == "3234233"
    assert isinstance(m.contact[0].uri, AbsoluteURI)


def check_bext01(m: Request) -> None:
    assert m.header("Require") == ["nothingSupportsThis", "nothingSupportsThisEither"]
    assert m.header("Proxy-Require") == ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]


def check_invut(m: Request) -> None:
    assert str(m.content_type) == "application/unknownformat"
    assert m.body.startswith(b"<audio>") and len(m.body) == 40


def check_regaut01(m: Request) -> None:
    (credentials,) = m.header("Authorization")
    assert credentials.scheme == "NoOneKnowsThisScheme"
    assert m.headers.get("Authorization") == "NoOneKnowsThisScheme opaque-data=here"


def check_bcast(m: Response) -> None:
    assert m.via[1].host == "255.255.255.255"
    assert m.status == 200


def check_zeromf(m: Request) -> None:
    assert m.max_forwards == 0


def check_cparam01(m: Request) -> None:
    (contact,) = m.contact
    assert "unknownparam" in contact.params
    assert "unknownparam" not in contact.uri.params


def check_cparam02(m: Request) -> None:
    (contact,) = m.contact
    assert "unknownparam" not in contact.params
    assert "unknownparam" in contact.uri.params


def check_regescrt(m: Request) -> None:
    (contact,) = m.contact  # compact "M"
    assert contact.uri.headers == [("Route", "%3Csip:sip.example.com%3E")]


def check_sdp01(m: Request) -> None:
    assert [f"{a.type}/{a.subtype}" for a in m.header("Accept")] == ["text/nobodyKnowsThis"]


def check_inv2543(m: Request) -> None:
    # RFC 2543 syntax: no branch, no From tag, no Max-Forwards, no Content-Length.
    assert m.top_via.branch is None
    assert m.from_.tag is None
    assert m.max_forwards is None
    assert "Content-Length" not in m.headers
    assert m.body.startswith(b"v=0") and m.content_length == len(m.body)
    assert m.record_route[0].uri.maddr == "ss1.example.com"


VALID_4475: dict[str, Check] = {
    "wsinv": check_wsinv,
    "intmeth": check_intmeth,
    "esc01": check_esc01,
    "escnull": check_escnull,
    "esc02": check_esc02,
    "lwsdisp": check_lwsdisp,
    "longreq": check_longreq,
    "dblreq": check_dblreq,
    "semiuri": check_semiuri,
    "transports": check_transports,
    "mpart01": check_mpart01,
    "unreason": check_unreason,
    "noreason": check_noreason,
    "badbranch": check_badbranch,
    "unkscm": check_unkscm,
    "novelsc": check_novelsc,
    "unksm2": check_unksm2,
    "bext01": check_bext01,
    "invut": check_invut,
    "regaut01": check_regaut01,
    "bcast": check_bcast,
    "zeromf": check_zeromf,
    "cparam01": check_cparam01,
    "cparam02": check_cparam02,
    "regescrt": check_regescrt,
    "sdp01": check_sdp01,
    "inv2543": check_inv2543,
}


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% Header fields can be extended over multiple lines by preceding each
##% extra line with at least one SP or horizontal tab (HT).
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.3
##= type=test
##% Implementations MUST accept both the long and short forms
##% of each header name.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.4.1
##= type=test
##% SIP messages MAY contain binary bodies or body parts.
@pytest.mark.parametrize("name", sorted(VALID_4475))
def test_rfc4475_valid_message_parses(name: str) -> None:
    data = torture_bytes(f"rfc4475/{name}.dat")
    message = parse(data)
    VALID_4475[name](message)
    assert message.defects == []


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% The relative order of header field rows with the same field name is important.
@pytest.mark.parametrize("name", sorted(VALID_4475))
def test_rfc4475_valid_message_round_trips_byte_for_byte(name: str) -> None:
    # Unchanged fields are written from their raw text: unknown headers, folding,
    # odd spacing and unknown parameters survive untouched.
    data = torture_bytes(f"rfc4475/{name}.dat")
    message = parse(data)
    assert bytes(message) == data[: _wire_length(data, message)]
    assert parse(bytes(message)) == message


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% If there are additional bytes in
##% the transport packet beyond the end of the body, they MUST be
##% discarded.
def test_dblreq_trailing_octets_are_discarded() -> None:
    data = torture_bytes("rfc4475/dblreq.dat")
    message = parse(data)
    assert message.body == b""
    assert b"INVITE sip:joe@example.com" in data
    assert b"INVITE" not in bytes(message).split(b"\r\n", 1)[1]


# -- RFC 4475 §3.1.2 and §3.3: invalid messages ---------------------------------------

# name -> (header whose access fails, or None when parse() fails; words the error
# names; the status bad_request_response answers with, None for no response).
INVALID_4475: dict[str, tuple[str | None, str, int | None]] = {
    "badinv01": (None, "Via: malformed parameter", 400),
    "clerr": (None, "Content-Length 9999 is larger", 400),
    "ncl": (None, "Content-Length: '-999'", 400),
    "scalar02": (None, "CSeq: sequence number", 400),
    "scalarlg": (None, "CSeq: sequence number", None),  # a response: discarded
    "quotbal": (None, "To: unterminated quoted string", 400),
    "ltgtruri": (None, "Request-URI MUST NOT be enclosed in angle brackets", 400),
    "lwsruri": (None, "whitespace inside the Request-URI", 400),
    "lwsstart": (None, "separated by more than one SP", 400),
    "trws": (None, "SP after the SIP-Version", 400),
    "escruri": (None, "Request-URI contains escaped headers", 400),
    "baddate": ("Date", "Date: not an RFC 1123 date in GMT", None),
    "regbadct": ("Contact", "Contact: URI containing '?' must be enclosed in <>", None),
    "badaspec": (None, "To: whitespace inside <...>", 400),
    "baddn": (None, "From: display name", 400),
    "badvers": (None, "SIP-Version 'SIP/7.0' is not supported", 505),
    "mismatch01": (None, "CSeq method 'INVITE' does not match the request method 'OPTIONS'", 400),
    "mismatch02": (
        None,
        "CSeq method 'INVITE' does not match the request method 'NEWMETHOD'",
        400,
    ),
    "bigcode": (None, "Status-Code '4294967301' is not 3 digits", None),  # response
    "insuf": (None, "missing From header field", 400),
    "multi01": (None, "appears more than once", 400),
    "mcl01": (None, "Content-Length: appears more than once", 400),
    "test": (None, "Request-Line: expected Method SP Request-URI SP SIP-Version", None),
}


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.1
##= type=test
##% A Request-Line contains a method name, a Request-URI, and the
##% protocol version separated by a single space (SP) character.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.1
##= type=test
##% The Request-URI MUST NOT contain unescaped spaces or control
##% characters and MUST NOT be enclosed in "<>".
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.2
##= type=test
##% The Status-Code is a 3-digit integer result code that indicates the
##% outcome of an attempt to understand and satisfy a request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% If the transport packet ends before the end of the
##% message body, this is considered an error.
@pytest.mark.parametrize("name", sorted(INVALID_4475))
def test_rfc4475_invalid_message_is_rejected_naming_its_defect(name: str) -> None:
    header, words, _ = INVALID_4475[name]
    data = torture_bytes(f"rfc4475/{name}.dat")
    if header is None:
        with pytest.raises(ParseError) as caught:
            parse(data)
    else:
        # §16.3: a malformed header the element does not need does not stop the
        # message; it fails when something reads it.
        message = parse(data)
        with pytest.raises(ParseError) as caught:
            message.header(header)
    assert words in str(caught.value)


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% If the message is a
##% response, it MUST be discarded.  If the message is a request, the
##% element SHOULD generate a 400 (Bad Request) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.1
##= type=test
##% The
##% Reason-Phrase SHOULD identify the syntax problem in more detail, for
##% example, "Missing Call-ID header field".
@pytest.mark.parametrize(
    "name", sorted(n for n, (header, _, _) in INVALID_4475.items() if header is None)
)
def test_rfc4475_invalid_request_gets_an_error_response(name: str) -> None:
    _, words, status = INVALID_4475[name]
    data = torture_bytes(f"rfc4475/{name}.dat")
    with pytest.raises(ParseError) as caught:
        parse(data)
    response = bad_request_response(data, caught.value)
    if status is None:
        assert response is None
        return
    assert response is not None
    assert response.status == status
    if status == 400:
        # The reason phrase names the defect (with <, >, " %-escaped, §25.1).
        first_words = words.split("'")[0].split("<")[0].strip()
        assert first_words.lower() in response.reason.lower()
    # The response copies the request's Via and CSeq rows as written (§8.2.6.2).
    request_text = data.decode("utf-8", "replace")
    for name_, value in response.headers:
        if name_.lower() in ("via", "v", "cseq"):
            assert value.split(",")[0].split(";;")[0] in request_text
    assert response.headers.get("Content-Length") == "0"
    wire = bytes(response)
    assert wire.startswith(f"SIP/2.0 {status} ".encode())


def test_insuf_response_names_the_first_missing_header() -> None:
    # RFC 4475 §3.3.1: no Call-ID, From or To; the ideal answer is a 400.  The Via
    # and CSeq still let the client transaction match it (§17.1.3).
    data = torture_bytes("rfc4475/insuf.dat")
    with pytest.raises(ParseError) as caught:
        parse(data)
    response = bad_request_response(data, caught.value)
    assert response is not None
    assert response.reason == "Missing From header field"
    assert "Call-ID" not in response.headers
    assert response.headers.get("CSeq") == "193942 INVITE"


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.7
##= type=test
##% To header tags MUST be generated for responses in a stateless
##% manner - in a manner that will generate the same tag for the
##% same request consistently.
def test_stateless_400_to_tag_is_the_same_for_the_same_request() -> None:
    data = torture_bytes("rfc4475/mismatch01.dat")
    with pytest.raises(ParseError) as caught:
        parse(data)
    first = bad_request_response(data, caught.value)
    second = bad_request_response(data, caught.value)
    assert first is not None and second is not None
    tag = first.headers.get("To").rsplit(";tag=", 1)[1]
    assert len(tag) >= 8
    assert first.headers.get("To") == second.headers.get("To")
    other = data.replace(b"mismatch01.dj0234sxdfl3", b"mismatch01.other")
    third = bad_request_response(other, caught.value)
    assert third is not None and third.headers.get("To") != first.headers.get("To")


def test_every_rfc4475_file_is_covered(conformance_dir: Any) -> None:
    names = {path.stem for path in (conformance_dir / "rfc4475").glob("*.dat")}
    covered = set(VALID_4475) | set(INVALID_4475)
    assert names == covered
    assert not set(VALID_4475) & set(INVALID_4475)


# -- RFC 5118 (IPv6) ------------------------------------------------------------------


def check_ipv6_good(m: Request) -> None:
    assert m.uri.host == "[2001:db8::10]" and m.uri.port is None
    assert m.top_via.host == "[2001:db8::9:1]"
    assert m.contact[0].uri.host == "[2001:db8::1]"


def check_port_ambiguous(m: Request) -> None:
    # Well-formed: the "port" is inside the brackets, so it is part of the address.
    assert m.uri.host == "[2001:db8::10:5070]" and m.uri.port is None


def check_port_unambiguous(m: Request) -> None:
    assert m.uri.host == "[2001:db8::10]" and m.uri.port == 5070


def check_received_with_delim(m: Request) -> None:
    assert m.top_via.received == "[2001:db8::9:255]"


def check_received_no_delim(m: Request) -> None:
    assert m.top_via.received == "2001:db8::9:255"


def check_mult_ip_in_header(m: Request) -> None:
    assert [(v.host, v.port) for v in m.via] == [
        ("[2001:db8::9:1]", 6050),
        ("192.0.2.1", None),
        ("[2001:db8::9:255]", None),
    ]
    assert m.via[2].received == "192.0.2.200"


def check_mult_ip_in_sdp(m: Request) -> None:
    # Content-Length says 181 but the CRLF body is 189 bytes: the body is cut at 181.
    assert m.content_length == 181 == len(m.body)
    assert b"c=IN IP6 2001:db8::1" in m.body


def check_ipv4_mapped(m: Request) -> None:
    assert (m.top_via.host, m.top_via.port) == ("[::ffff:192.0.2.10]", 19823)
    assert m.contact[0].uri.host == "[::ffff:192.0.2.2]"
    assert m.content_length == 236 == len(m.body)


def check_3_colons(m: Request) -> None:
    # Not correct per RFC 5954, but RFC 5118 §4.10 asks parsers to tolerate it.
    assert m.uri.host == "[2001:db8:::192.0.2.1]"
    assert any("empty line" in defect for defect in m.defects)


def check_2_colons(m: Request) -> None:
    assert m.uri.host == "[2001:db8::192.0.2.1]"
    assert m.to.uri.host == "[2001:db8::192.0.2.1]"
    assert any("empty line" in defect for defect in m.defects)


VALID_5118: dict[str, Check] = {
    "ipv6-good": check_ipv6_good,
    "port-ambiguous": check_port_ambiguous,
    "port-unambiguous": check_port_unambiguous,
    "via-received-param-with-delim": check_received_with_delim,
    "via-received-param-no-delim": check_received_no_delim,
    "mult-ip-in-header": check_mult_ip_in_header,
    "mult-ip-in-sdp": check_mult_ip_in_sdp,
    "ipv4-mapped-ipv6": check_ipv4_mapped,
    "ipv6-bug-abnf-3-colons": check_3_colons,
    "ipv6-correct-abnf-2-colons": check_2_colons,
}


@pytest.mark.parametrize("name", sorted(VALID_5118))
def test_rfc5118_message_parses(name: str) -> None:
    data = torture_bytes(f"rfc5118/{name}")
    message = parse(data)
    VALID_5118[name](message)
    again = parse(bytes(message))
    assert again == message


##= https://www.rfc-editor.org/rfc/rfc3261#section-7
##= type=test
##% Note that
##% the empty line MUST be present even if the message-body is not.
def test_rfc5118_missing_empty_line_is_tolerated_and_restored() -> None:
    # The two §4.10 files end after the last header: parse() records the defect,
    # and serialization writes the empty line.
    data = torture_bytes("rfc5118/ipv6-correct-abnf-2-colons")
    assert not data.endswith(b"\r\n\r\n")
    message = parse(data)
    assert message.defects == ["no empty line after the header fields (RFC 3261 §7)"]
    assert bytes(message) == data + b"\r\n"


def test_rfc5118_ipv6_bad_is_rejected() -> None:
    data = torture_bytes("rfc5118/ipv6-bad")
    with pytest.raises(ParseError) as caught:
        parse(data)
    assert "Request-URI" in str(caught.value) and "IPv6" in str(caught.value)
    response = bad_request_response(data, caught.value)
    assert response is not None and response.status == 400


def test_rfc5118_ipv6_in_sdp_content_length_quirk() -> None:
    # As archived, Content-Length (268) exceeds the CRLF body (251 bytes): a datagram
    # like that is an error (§18.3).  With the length corrected it is valid.
    data = torture_bytes("rfc5118/ipv6-in-sdp")
    with pytest.raises(ParseError, match="Content-Length 268 is larger than the 251 bytes"):
        parse(data)
    fixed = data.replace(b"Content-Length: 268", b"Content-Length: 251")
    message = parse(fixed)
    assert message.uri.host == "[2001:db8::10]"
    assert message.contact[0].uri.host == "[2001:db8::20]"
    assert b"c=IN IP6 2001:db8::20" in message.body and len(message.body) == 251


def test_every_rfc5118_file_is_covered(conformance_dir: Any) -> None:
    names = {path.name for path in (conformance_dir / "rfc5118").iterdir()}
    assert names == set(VALID_5118) | {"ipv6-bad", "ipv6-in-sdp"}


def test_conformance_dir_default_points_at_shared_folder() -> None:
    assert CONFORMANCE_DIR.name == "conformance"
