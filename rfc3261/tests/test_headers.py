"""Typed header field values (rfc3261.headers): table-driven parse/serialize cases,
negatives per type, and the registry."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from rfc3261.errors import ParseError
from rfc3261.headers import (
    CANONICAL_NAMES,
    COMPACT_FORMS,
    HEADER_TYPES,
    MAX_DELTA_SECONDS,
    Contact,
    ContentType,
    CSeq,
    MediaRange,
    NameAddr,
    RetryAfter,
    SipDate,
    Timestamp,
    Via,
    Warning,
    canonical_name,
    parse_allow,
    parse_call_id,
    parse_content_length,
    parse_expires,
    parse_max_forwards,
    parse_min_expires,
    parse_option_tag,
    quote,
    split_header_values,
    unquote,
)
from rfc3261.params import Parameters
from rfc3261.uri import AbsoluteURI, SipURI

# ---------------------------------------------------------------------------
# Via: (text, expected fields, serialized form)
# ---------------------------------------------------------------------------

VIA_CASES: list[tuple[str, dict, str]] = [
    (
        "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds",
        {"transport": "UDP", "host": "pc33.atlanta.com", "port": None,
         "branch": "z9hG4bK776asdhds", "rport": None, "received": None, "has_rfc3261_branch": True,
         "sent_by": "pc33.atlanta.com"},
        "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds",
    ),
    (
        "SIP/2.0/UDP 192.0.2.1:5060 ;received=192.0.2.207\r\n     ;branch=z9hG4bK77asjd",
        {"host": "192.0.2.1", "port": 5060, "received": "192.0.2.207",
         "branch": "z9hG4bK77asjd", "sent_by": "192.0.2.1:5060"},
        "SIP/2.0/UDP 192.0.2.1:5060;received=192.0.2.207;branch=z9hG4bK77asjd",
    ),
    (
        # §20.42: LWS on either side of ":" and "/"
        "SIP / 2.0 / UDP first.example.com: 4000;ttl=16\r\n  ;maddr=224.2.0.1"
        " ;branch=z9hG4bKa7c6a8dlze.1",
        {"protocol": "SIP/2.0", "transport": "UDP", "host": "first.example.com", "port": 4000,
         "ttl": 16, "maddr": "224.2.0.1", "branch": "z9hG4bKa7c6a8dlze.1"},
        "SIP/2.0/UDP first.example.com:4000;ttl=16;maddr=224.2.0.1;branch=z9hG4bKa7c6a8dlze.1",
    ),
    (
        "SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bKkjshdyff",
        {"rport": "", "port": 4540},
        "SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bKkjshdyff",
    ),
    (
        "SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1;rport=9988;branch=z9hG4bKkjshdyff",
        {"rport": 9988, "received": "192.0.2.1"},
        "SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1;rport=9988;branch=z9hG4bKkjshdyff",
    ),
    (
        "SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3",
        {"host": "[2001:db8::9:1]", "received": "2001:db8::9:255"},
        "SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3",
    ),
    (
        "SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111",
        {"received": "[2001:db8::9:255]", "branch": "z9hG4bKas3-111"},
        "SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111",
    ),
    (
        "SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19",
        {"host": "[::ffff:192.0.2.10]", "port": 19823},
        "SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19",
    ),
    (
        "SIP/2.0/TCP host.example.com",
        {"transport": "TCP", "branch": None, "has_rfc3261_branch": False, "ttl": None,
         "maddr": None},
        "SIP/2.0/TCP host.example.com",
    ),
    (
        "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK",
        {"branch": "z9hG4bK", "has_rfc3261_branch": True},
        "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK",
    ),
    (
        "SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en",
        {"transport": "UNKNOWN"},
        "SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en",
    ),
    (
        'SIP/2.0/UDP h.example.com;branch=z9hG4bK1;x-ext="a b;c";flag',
        {"branch": "z9hG4bK1"},
        'SIP/2.0/UDP h.example.com;branch=z9hG4bK1;x-ext="a b;c";flag',
    ),
    (
        "SIP/2.0/UDP 192.0.2.2;branch=390skdjuw",
        {"branch": "390skdjuw", "has_rfc3261_branch": False},
        "SIP/2.0/UDP 192.0.2.2;branch=390skdjuw",
    ),
]  # fmt: skip


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.42
##= type=test
##% A Via header field value contains the transport protocol used to send
##% the message, the client's host name or network address, and possibly
##% the port number at which it wishes to receive responses.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.42
##= type=test
##% The host or network address and port number are not required to
##% follow the SIP URI syntax.  Specifically, LWS on either side of the
##% ":" or "/" is allowed, as shown here:
@pytest.mark.parametrize(("text", "fields", "serialized"), VIA_CASES)
def test_via_table(text: str, fields: dict, serialized: str) -> None:
    via = Via.parse(text)
    for name, expected in fields.items():
        assert getattr(via, name) == expected, name
    assert str(via) == serialized
    assert Via.parse(serialized) == via


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
##= type=test
##% The branch ID inserted by an element compliant with this
##% specification MUST always begin with the characters "z9hG4bK".
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.42
##= type=test
##% For implementations compliant to this
##% specification, the value of the branch parameter MUST start with the
##% magic cookie "z9hG4bK", as discussed in Section 8.1.1.7.
def test_via_magic_cookie() -> None:
    assert Via.parse("SIP/2.0/UDP a.example.com;branch=z9hG4bKx").has_rfc3261_branch
    assert not Via.parse("SIP/2.0/UDP a.example.com;branch=z9hg4bkx").has_rfc3261_branch
    assert not Via.parse("SIP/2.0/UDP a.example.com;branch=x").has_rfc3261_branch
    assert not Via.parse("SIP/2.0/UDP a.example.com").has_rfc3261_branch


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.42
##= type=test
##% Two Via header fields are equal if their sent-protocol and sent-by
##% fields are equal, both have the same set of parameters, and the
##% values of all parameters are equal.
def test_via_equality() -> None:
    a = Via.parse("SIP/2.0/UDP Host.Example.COM:5060;branch=z9hG4bK1;received=192.0.2.1")
    b = Via.parse("sip/2.0/udp host.example.com:5060;RECEIVED=192.0.2.1;Branch=z9hG4bK1")
    assert a == b
    assert hash(a) == hash(b)
    assert a != Via.parse("SIP/2.0/UDP host.example.com:5061;branch=z9hG4bK1;received=192.0.2.1")
    assert a != Via.parse("SIP/2.0/TCP host.example.com:5060;branch=z9hG4bK1;received=192.0.2.1")
    assert a != Via.parse("SIP/2.0/UDP host.example.com:5060;branch=z9hG4bK2;received=192.0.2.1")
    assert a != Via.parse("SIP/2.0/UDP host.example.com:5060;branch=z9hG4bK1")


# The usual parameters (branch, then rport with or without a value, then received) take
# a shorter path through Via.parse than the others; both must give the same values.
@pytest.mark.parametrize(
    "params",
    [
        ";branch=z9hG4bK776asdhds",
        ";branch=z9hG4bK776asdhds;rport",
        ";branch=z9hG4bK776asdhds;rport=5060",
        ";branch=z9hG4bK776asdhds;rport=05060;received=192.0.2.10",
        ";branch=z9hG4bK776asdhds;received=192.0.2.10",
        ";branch=z9hG4bK776asdhds;received=192.0.2.10;rport=5060",
        ";rport;branch=z9hG4bK776asdhds",
        ";branch=z9hG4bK776asdhds;rport=5060;received=192.0.2.10;x-extra",
    ],
)
def test_via_usual_parameters_read_as_any_others(params: str) -> None:
    via = Via.parse(f"SIP/2.0/UDP 192.0.2.10:5060{params}")
    expected = [
        (name, value or None) if eq else (name, None)
        for name, eq, value in (item.partition("=") for item in params[1:].split(";"))
    ]
    assert via.params.items() == expected
    assert str(via) == f"SIP/2.0/UDP 192.0.2.10:5060{params}"


def test_via_built_by_hand() -> None:
    via = Via("TLS", "proxy.example.com", 5061, Parameters([("branch", "z9hG4bKabc")]))
    assert str(via) == "SIP/2.0/TLS proxy.example.com:5061;branch=z9hG4bKabc"
    assert Via.parse(str(via)) == via


VIA_BAD: list[tuple[str, str]] = [
    ("", "sent-protocol"),
    ("SIP/2.0/UDP", "sent-protocol"),
    ("SIP/2.0 UDP host.example.com", "sent-protocol"),
    ("SIP/2.0/UDP host.example.com;;", "parameter"),
    ("SIP/2.0/UDP 192.0.2.15;;,;,,", "parameter"),
    ("SIP/2.0/UDP host.example.com;branch", "branch"),
    ("SIP/2.0/UDP host.example.com;branch=[::1]", "branch"),
    ('SIP/2.0/UDP host.example.com;branch="z9hG4bK1"', "branch"),
    ("SIP/2.0/UDP host.example.com;ttl=256", "ttl"),
    ("SIP/2.0/UDP host.example.com;ttl=abc", "ttl"),
    ("SIP/2.0/UDP host.example.com;maddr=-bad-", "maddr"),
    ("SIP/2.0/UDP host.example.com;received=host.example.com", "received"),
    ("SIP/2.0/UDP host.example.com;received", "received"),
    ("SIP/2.0/UDP host.example.com;rport=abc", "rport"),
    ("SIP/2.0/UDP host.example.com;rport=70000", "rport"),
    ("SIP/2.0/UDP host.example.com;branch=z9hG4bK1;rport=70000", "rport"),
    ("SIP/2.0/UDP host.example.com;branch=z9hG4bK1;rport;received=300.1.1.1", "received"),
    ("SIP/2.0/UDP h.example.com;branch=z9hG4bK1;received=192.0.2.1;received=192.0.2.2", "once"),
    ("SIP/2.0/UDP h.example.com;branch=z9hG4bK1;rport=1;received=192.0.2.1;rport", "once"),
    ("SIP/2.0/UDP host.example.com:70000", "port"),
    ("SIP/2.0/UDP host.example.com:123456789", "port"),
    ("SIP/2.0/UDP -host-.example.com", "host"),
    ("SIP/2.0/UDP 2001:db8::1;branch=z9hG4bK1", ""),
    ("SIP/2.0/UDP host.example.com;branch=a;Branch=b", "more than once"),
    ("SIP/2.0/UDP host.example.com;branch=z9hG4bK1 x", "parameter"),
    ("SIP/2.0/UDP host.example.com;x=a:b", "malformed"),
    ("SIP/2.0/UDP host.example.com;x=[1::2::3]", "malformed value"),
    ("SIP/2.0/UDP host.example.com;x=2001:db8::1", "malformed value"),
]


@pytest.mark.parametrize(("text", "fragment"), VIA_BAD)
def test_via_rejects(text: str, fragment: str) -> None:
    with pytest.raises(ParseError) as info:
        Via.parse(text)
    assert info.value.header == "Via"
    assert fragment in str(info.value)
    assert "RFC" in str(info.value)


# ---------------------------------------------------------------------------
# NameAddr (From, To, Route, ...): (text, display_name, uri, params, angle, serialized)
# ---------------------------------------------------------------------------

NAME_ADDR_CASES: list[tuple[str, str | None, str, list, bool, str]] = [
    ('"A. G. Bell" <sip:agb@bell-telephone.com> ;tag=a48s', "A. G. Bell",
     "sip:agb@bell-telephone.com", [("tag", "a48s")], True,
     '"A. G. Bell" <sip:agb@bell-telephone.com>;tag=a48s'),
    ("sip:+12125551212@server.phone2net.com;tag=887s", None,
     "sip:+12125551212@server.phone2net.com", [("tag", "887s")], False,
     "sip:+12125551212@server.phone2net.com;tag=887s"),
    ("Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8", "Anonymous",
     "sip:c8oqz84zk7z@privacy.org", [("tag", "hyh8")], True,
     '"Anonymous" <sip:c8oqz84zk7z@privacy.org>;tag=hyh8'),
    ("The Operator <sip:operator@cs.columbia.edu>;tag=287447", "The Operator",
     "sip:operator@cs.columbia.edu", [("tag", "287447")], True,
     '"The Operator" <sip:operator@cs.columbia.edu>;tag=287447'),
    ("<sip:alice@atlanta.com>", None, "sip:alice@atlanta.com", [], True,
     "<sip:alice@atlanta.com>"),
    # URI parameters inside <...> stay with the URI; outside they are header parameters.
    ("<sip:user@example.com;transport=tcp>;tag=1", None, "sip:user@example.com;transport=tcp",
     [("tag", "1")], True, "<sip:user@example.com;transport=tcp>;tag=1"),
    ("sip:user@example.com;transport=tcp", None, "sip:user@example.com",
     [("transport", "tcp")], False, "sip:user@example.com;transport=tcp"),
    # RFC 4475 §3.1.1.1 (wsinv): escaped quote and backslash, LWS before "<" and in params
    ('"J Rosenberg \\\\\\""       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8',
     'J Rosenberg \\"', "sip:jdrosen@example.com", [("tag", "98asjd8")], True,
     '"J Rosenberg \\\\\\"" <sip:jdrosen@example.com>;tag=98asjd8'),
    (" sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n", None,
     "sip:vivekg@chair-dnrc.example.com", [("tag", "1918181833n")], False,
     "sip:vivekg@chair-dnrc.example.com;tag=1918181833n"),
    # RFC 4475 §3.1.1.6 (lwsdisp): no LWS between display name and "<"
    ("caller<sip:caller@example.com>;tag=323", "caller", "sip:caller@example.com",
     [("tag", "323")], True, '"caller" <sip:caller@example.com>;tag=323'),
    # RFC 4475 §3.1.1.2 (intmeth): quoted-pairs of control characters, token display names
    ('"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:x@example.com>', "BEL:\x07 NUL:\x00 DEL:\x7f",
     "sip:x@example.com", [], True, '"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:x@example.com>'),
    ("token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;tag=_token~1'+`*%!-.",
     "token1~` token2'+_ token3*%!.-", "sip:mundane@example.com",
     [("tag", "_token~1'+`*%!-.")], True,
     "\"token1~` token2'+_ token3*%!.-\" <sip:mundane@example.com>;tag=_token~1'+`*%!-."),
    ('<sip:a@example.com>;fromParam="\u0440\u0430 x";flag', None, "sip:a@example.com",
     [("fromParam", '"\u0440\u0430 x"'), ("flag", None)], True,
     '<sip:a@example.com>;fromParam="\u0440\u0430 x";flag'),
    # RFC 4475 §3.1.1.5 (esc02): "%" in a quoted display name is just a character
    ('"%Z%45" <sip:resource@example.com>', "%Z%45", "sip:resource@example.com", [], True,
     '"%Z%45" <sip:resource@example.com>'),
    # RFC 4475 §3.3.4 (unksm2): other URI schemes
    ("isbn:2983792873", None, "isbn:2983792873", [], False, "isbn:2983792873"),
    ("<http://www.example.com>;tag=3234233", None, "http://www.example.com",
     [("tag", "3234233")], True, "<http://www.example.com>;tag=3234233"),
    # Tokens separated by more than one space read as one space (§25.1 LWS).
    ("Bob   Smith <sip:bob@example.com>", "Bob Smith", "sip:bob@example.com", [], True,
     '"Bob Smith" <sip:bob@example.com>'),
    ('"" <sip:bob@example.com>', "", "sip:bob@example.com", [], True,
     '"" <sip:bob@example.com>'),
    ("<sip:x@example.com>;maddr=[2001:db8::1]", None, "sip:x@example.com",
     [("maddr", "[2001:db8::1]")], True, "<sip:x@example.com>;maddr=[2001:db8::1]"),
]  # fmt: skip


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.10
##= type=test
##% When the header field value contains a display name, the URI
##% including all URI parameters is enclosed in "<" and ">".  If no "<"
##% and ">" are present, all parameters after the URI are header
##% parameters, not URI parameters.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##= type=test
##% If the URI is not enclosed in angle
##% brackets, any semicolon-delimited parameters are header-parameters,
##% not URI parameters.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.10
##= type=test
##% There may or may not be LWS between the display-name and the
##% "<".
@pytest.mark.parametrize(
    ("text", "display_name", "uri", "params", "angle", "serialized"), NAME_ADDR_CASES
)
def test_name_addr_table(
    text: str, display_name: str | None, uri: str, params: list, angle: bool, serialized: str
) -> None:
    value = NameAddr.parse(text)
    assert value.display_name == display_name
    assert str(value.uri) == uri
    assert value.params.items() == params
    assert value.angle is angle
    assert str(value) == serialized
    assert NameAddr.parse(serialized) == value


def test_name_addr_tag_and_uri_types() -> None:
    value = NameAddr.parse("Bob <sips:bob@biloxi.com>;tag=a6c85cf")
    assert value.tag == "a6c85cf"
    assert isinstance(value.uri, SipURI)
    assert NameAddr.parse("<sip:x@example.com>").tag is None
    assert isinstance(NameAddr.parse("<urn:service:sos>").uri, AbsoluteURI)


def test_name_addr_display_name_needing_quotes_is_quoted() -> None:
    value = NameAddr(display_name='Watson, "Tom"', uri=NameAddr.parse("<sip:t@x.org>").uri)
    assert str(value) == '"Watson, \\"Tom\\"" <sip:t@x.org>'
    assert NameAddr.parse(str(value)) == value


def test_name_addr_equality_is_value_equality() -> None:
    a = NameAddr.parse('"Bob" <sip:bob@Biloxi.com>;TAG=1')
    assert a == NameAddr.parse("Bob <sip:bob@biloxi.com>;tag=1")
    assert a != NameAddr.parse("Rob <sip:bob@biloxi.com>;tag=1")
    assert a != NameAddr.parse("Bob <sip:bob@biloxi.com>;tag=2")


NAME_ADDR_BAD: list[tuple[str, str]] = [
    # RFC 4475 §3.1.2.15 (baddn): non-token characters in an unquoted display name
    ("Bell, Alexander <sip:a.g.bell@example.com>;tag=43", "display name"),
    ("Watson, Thomas <sip:t.watson@example.org>", "display name"),
    ("Bob@home <sip:bob@example.com>", "display name"),
    # RFC 4475 §3.1.2.6 (quotbal): unterminated quoted string
    ('"Mr. J. User <sip:j.user@example.com>', "unterminated"),
    # RFC 4475 §3.1.2.14 (badaspec): spaces inside <...>
    ('"Watson, Thomas" < sip:t.watson@example.org >', "whitespace inside"),
    ("<sip:a@example.com >", "whitespace inside"),
    # RFC 4475 §3.1.2.13 (regbadct): "?" in an addr-spec
    ("sip:user@example.com?Route=%3Csip:sip.example.com%3E", "enclosed in <>"),
    ("sip:a,b@example.com", "enclosed in <>"),
    ("sip:user@example.com name", "addr-spec"),
    ("alan@jasomi.com", "URI"),
    ("", ""),
    ("<>", ""),
    ("<sip:a@example.com", ""),
    ("<sip:a@example.com>>", ""),
    ("<sip:a@example.com>;tag", "tag"),
    ('<sip:a@example.com>;tag="x"', "tag"),
    ("<sip:a@example.com>;tag=[::1]", "tag"),
    ("<sip:a@example.com>;tag=1;TAG=2", "more than once"),
    ("<sip:a@example.com>;p=a:b", "malformed"),
    ("<sip:a@example.com>;p=[1::2::3]", "malformed value"),
    ("<sip:a@example.com> junk", "parameter"),
    ('"a" "b" <sip:a@example.com>', ""),
    ('<sip:a@example.com>;p="unterminated', "parameter"),
]


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.10
##= type=test
##% Even if the "display-name" is empty, the "name-addr" form MUST be
##% used if the "addr-spec" contains a comma, semicolon, or question
##% mark.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.10
##= type=test
##% The display name can be tokens, or a
##% quoted string, if a larger character set is desired.
@pytest.mark.parametrize(("text", "fragment"), NAME_ADDR_BAD)
def test_name_addr_rejects(text: str, fragment: str) -> None:
    with pytest.raises(ParseError) as info:
        NameAddr.parse(text, "To")
    assert info.value.header == "To"
    assert fragment in str(info.value)


# ---------------------------------------------------------------------------
# Contact
# ---------------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.10
##= type=test
##% This document defines the Contact parameters "q" and "expires".
def test_contact_q_and_expires() -> None:
    values = HEADER_TYPES["contact"].parse_all(
        [
            '"Mr. Watson" <sip:watson@worcester.bell-telephone.com>\r\n'
            "   ;q=0.7; expires=3600,\r\n"
            '   "Mr. Watson" <mailto:watson@bell-telephone.com> ;q=0.1'
        ]
    )
    assert [v.q for v in values] == [0.7, 0.1]
    assert [v.expires for v in values] == [3600, None]
    assert str(values[0]) == (
        '"Mr. Watson" <sip:watson@worcester.bell-telephone.com>;q=0.7;expires=3600'
    )
    assert all(isinstance(v, Contact) and not v.is_star for v in values)
    assert Contact.parse("<sips:bob@192.0.2.4>;expires=60").expires == 60


def test_contact_star() -> None:
    star = Contact.parse("*")
    assert star.is_star and star.uri is None
    assert str(star) == "*"
    assert Contact.parse(" * ") == star
    assert HEADER_TYPES["contact"].parse_all(["*"]) == [star]


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3
##= type=test
##% The Contact header field allows a comma-
##% separated list unless the header field value is "*".
def test_contact_star_only_alone() -> None:
    with pytest.raises(ParseError, match="only Contact value"):
        HEADER_TYPES["contact"].parse_all(["*, <sip:a@example.com>"])
    with pytest.raises(ParseError, match="only Contact value"):
        HEADER_TYPES["contact"].parse_all(["<sip:a@example.com>", "*"])


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% Implementations MAY treat values larger than 2**32-1
##% (4294967295 seconds or 136 years) as equivalent to 2**32-1.
def test_overlarge_expires_read_as_max() -> None:
    # RFC 4475 §3.1.2.4 (scalar02)
    assert parse_expires("1" + "0" * 100) == MAX_DELTA_SECONDS
    assert Contact.parse(
        "<sip:user@host129.example.com>\r\n  ;expires=280297596632815"
    ).expires == (MAX_DELTA_SECONDS)
    assert parse_expires("4294967296") == MAX_DELTA_SECONDS
    assert parse_expires("4294967295") == MAX_DELTA_SECONDS
    assert parse_min_expires("99999999999") == MAX_DELTA_SECONDS


CONTACT_BAD = [
    '"Joe" <sip:joe@example.org>;;;;',
    "<sip:a@example.com>;q=2",
    "<sip:a@example.com>;q=0.1234",
    "<sip:a@example.com>;q",
    "<sip:a@example.com>;expires=soon",
    "<sip:a@example.com>;expires",
    "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
    "**",
]


@pytest.mark.parametrize("text", CONTACT_BAD)
def test_contact_rejects(text: str) -> None:
    with pytest.raises(ParseError) as info:
        Contact.parse(text)
    assert info.value.header == "Contact"


def test_contact_header_vs_uri_parameters() -> None:
    # RFC 4475 §3.3.12 / §3.3.13 (cparam01, cparam02)
    header_param = Contact.parse("sip:+19725552222@gw1.example.net;unknownparam")
    assert "unknownparam" in header_param.params
    assert "unknownparam" not in header_param.uri.params
    uri_param = Contact.parse("<sip:+19725552222@gw1.example.net;unknownparam>")
    assert "unknownparam" not in uri_param.params
    assert "unknownparam" in uri_param.uri.params
    # RFC 4475 §3.3.14 (regescrt): escaped header inside <...> is fine
    escaped = Contact.parse("<sip:user@example.com?Route=%3Csip:sip.example.com%3E>")
    assert escaped.uri.headers == [("Route", "%3Csip:sip.example.com%3E")]


# ---------------------------------------------------------------------------
# CSeq, Call-ID, Max-Forwards, Content-Length, Expires
# ---------------------------------------------------------------------------

CSEQ_CASES = [
    ("4711 INVITE", 4711, "INVITE", "4711 INVITE"),
    ("0009\r\n  INVITE", 9, "INVITE", "9 INVITE"),
    ("0 ACK", 0, "ACK", "0 ACK"),
    ("2147483647 REGISTER", 2**31 - 1, "REGISTER", "2147483647 REGISTER"),
    ("139122385 !interesting-Method0123456789_*+`.%indeed'~", 139122385,
     "!interesting-Method0123456789_*+`.%indeed'~",
     "139122385 !interesting-Method0123456789_*+`.%indeed'~"),
    ("29344 RE%47IST%45R", 29344, "RE%47IST%45R", "29344 RE%47IST%45R"),
]  # fmt: skip


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.16
##= type=test
##% The method part of CSeq is
##% case-sensitive.
@pytest.mark.parametrize(("text", "number", "method", "serialized"), CSEQ_CASES)
def test_cseq_table(text: str, number: int, method: str, serialized: str) -> None:
    value = CSeq.parse(text)
    assert (value.number, value.method) == (number, method)
    assert str(value) == serialized
    assert CSeq.parse(serialized) == value
    assert CSeq.parse("1 invite") != CSeq.parse("1 INVITE")


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.5
##= type=test
##% The sequence number value MUST be expressible as a 32-bit unsigned
##% integer and MUST be less than 2**31.
@pytest.mark.parametrize(
    "text",
    [
        "2147483648 INVITE",
        "4294967296 INVITE",
        "36893488147419103232 REGISTER",  # RFC 4475 §3.1.2.4 (scalar02)
        "9292394834772304023312 OPTIONS",  # RFC 4475 §3.1.2.5 (scalarlg)
        "-1 INVITE",
        "INVITE",
        "1",
        "1 INVITE x",
        "1 INV/ITE",
        "x INVITE",
        "",
    ],
)
def test_cseq_rejects(text: str) -> None:
    with pytest.raises(ParseError) as info:
        CSeq.parse(text)
    assert info.value.header == "CSeq"


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.8
##= type=test
##% Call-IDs are case-sensitive and
##% are simply compared byte-by-byte.
def test_call_id() -> None:
    assert parse_call_id("f81d4fae-7dec-11d0-a765-00a0c91e6bf6@biloxi.com") == (
        "f81d4fae-7dec-11d0-a765-00a0c91e6bf6@biloxi.com"
    )
    weird = "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert parse_call_id(weird) == weird
    assert parse_call_id(" abc@def ") == "abc@def"
    assert parse_call_id("ABC") != parse_call_id("abc")
    for bad in ["", "a b", "a@b@c", "a,b", "a;b", "@b", "a@", "caf\u00e9"]:
        with pytest.raises(ParseError) as info:
            parse_call_id(bad)
        assert info.value.header == "Call-ID"


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.22
##= type=test
##% The Max-Forwards value is an integer in the range 0-255 indicating
##% the remaining number of times this request message is allowed to be
##% forwarded.
def test_max_forwards() -> None:
    assert parse_max_forwards("70") == 70
    assert parse_max_forwards("0068") == 68
    assert parse_max_forwards("0") == 0
    assert parse_max_forwards("255") == 255
    for bad in ["256", "300", "-1", "", "7 0", "seventy", "1" * 5000]:
        with pytest.raises(ParseError) as info:
            parse_max_forwards(bad)
        assert info.value.header == "Max-Forwards"


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.14
##= type=test
##% Any Content-Length greater than or equal to
##% zero is a valid value.
def test_content_length() -> None:
    assert parse_content_length("0") == 0
    assert parse_content_length("349") == 349
    assert parse_content_length(" 173 ") == 173
    for bad in ["-999", "+1", "1.0", "", "0x10", "1" * 5000]:
        with pytest.raises(ParseError) as info:
            parse_content_length(bad)
        assert info.value.header == "Content-Length"


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.19
##= type=test
##% The value of this field is an integral number of seconds (in decimal)
##% between 0 and (2**32)-1, measured from the receipt of the request.
def test_expires() -> None:
    assert parse_expires("5") == 5
    assert parse_expires("0") == 0
    assert parse_min_expires("60") == 60
    for bad in ["-5", "", "5s", "1.5"]:
        with pytest.raises(ParseError) as info:
            parse_expires(bad)
        assert info.value.header == "Expires"
    with pytest.raises(ParseError, match="Min-Expires"):
        parse_min_expires("x")


# ---------------------------------------------------------------------------
# Content-Type, Accept, option tags, Allow
# ---------------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.15
##= type=test
##% The Content-Type header field indicates the media type of the
##% message-body sent to the recipient.
def test_content_type() -> None:
    value = ContentType.parse("application/sdp")
    assert (value.type, value.subtype, value.mime_type) == (
        "application",
        "sdp",
        "application/sdp",
    )
    html = ContentType.parse("text/html; charset=ISO-8859-4")
    assert html.params.get("charset") == "ISO-8859-4"
    assert str(html) == "text/html;charset=ISO-8859-4"
    assert ContentType.parse(str(html)) == html
    assert ContentType.parse("Application/SDP") == value
    quoted = ContentType.parse('multipart/mixed;boundary="a b"')
    assert unquote(quoted.params.get("boundary")) == "a b"
    assert ContentType.parse(str(quoted)) == quoted
    for bad in ["application", "application/", "/sdp", "text/html;charset", "a/b c", ""]:
        with pytest.raises(ParseError) as info:
            ContentType.parse(bad)
        assert info.value.header == "Content-Type"


def test_accept() -> None:
    values = HEADER_TYPES["accept"].parse_all(
        ["application/sdp;level=1, application/x-private, text/html"]
    )
    assert [v.mime_type for v in values] == [
        "application/sdp",
        "application/x-private",
        "text/html",
    ]
    assert all(isinstance(v, MediaRange) for v in values)
    assert MediaRange.parse("*/*;q=0.5").q == 0.5
    assert MediaRange.parse("text/*").q == 1.0
    # §20.1: "An empty Accept header field means that no formats are acceptable."
    assert HEADER_TYPES["accept"].parse_all([""]) == []
    for bad in ["*/html", "text/html;q=2", "text"]:
        with pytest.raises(ParseError, match="Accept"):
            MediaRange.parse(bad)


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.32
##= type=test
##% The Require header field contains a list of option tags, described in
##% Section 19.2.
def test_option_tags_and_allow() -> None:
    assert HEADER_TYPES["require"].parse_all(["100rel, timer"]) == ["100rel", "timer"]
    assert HEADER_TYPES["supported"].parse_all([""]) == []
    assert HEADER_TYPES["proxy-require"].parse_all(["foo", "bar"]) == ["foo", "bar"]
    assert parse_option_tag("100rel") == "100rel"
    assert parse_allow("INVITE, ACK, OPTIONS, CANCEL, BYE") == [
        "INVITE", "ACK", "OPTIONS", "CANCEL", "BYE",
    ]  # fmt: skip
    assert parse_allow("") == []
    with pytest.raises(ParseError, match="Require"):
        HEADER_TYPES["require"].parse_all([""])
    with pytest.raises(ParseError, match="Unsupported"):
        HEADER_TYPES["unsupported"].parse_all(["a b"])
    with pytest.raises(ParseError):
        parse_allow("INVITE,,ACK")


# ---------------------------------------------------------------------------
# Retry-After, Timestamp, Date, Warning
# ---------------------------------------------------------------------------

RETRY_CASES = [
    ("18000;duration=3600", 18000, None, 3600, "18000;duration=3600"),
    ("120 (I'm in a meeting)", 120, "I'm in a meeting", None, "120 (I'm in a meeting)"),
    ("120(nested (comment) \\) here) ; duration = 5", 120, "nested (comment) \\) here", 5,
     "120 (nested (comment) \\) here);duration=5"),
    ("0", 0, None, None, "0"),
    # RFC 4475 §3.1.2.5 (scalarlg): RFC 3261 sets no range; read as 2**32-1
    ("949302838503028349304023988", MAX_DELTA_SECONDS, None, None, str(MAX_DELTA_SECONDS)),
]  # fmt: skip


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.33
##= type=test
##% An optional comment can be used to indicate additional information
##% about the time of callback.
@pytest.mark.parametrize(("text", "seconds", "comment", "duration", "serialized"), RETRY_CASES)
def test_retry_after(
    text: str, seconds: int, comment: str | None, duration: int | None, serialized: str
) -> None:
    value = RetryAfter.parse(text)
    assert (value.seconds, value.comment, value.duration) == (seconds, comment, duration)
    assert str(value) == serialized
    assert RetryAfter.parse(serialized) == value


@pytest.mark.parametrize(
    "text",
    ["", "x", "-1", "120 (unterminated", "120 (a))", "120 junk", "120;duration=x",
     "120;duration", "120 (a) (b)", "120;a=1;A=2", "120 (" + "(" * 40 + ")" * 41],
)  # fmt: skip
def test_retry_after_rejects(text: str) -> None:
    with pytest.raises(ParseError) as info:
        RetryAfter.parse(text)
    assert info.value.header == "Retry-After"


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.38
##= type=test
##% The Timestamp header field describes when the UAC sent the request to
##% the UAS.
def test_timestamp() -> None:
    assert Timestamp.parse("54") == Timestamp(Decimal(54))
    value = Timestamp.parse("54.5 0.25")
    assert (value.value, value.delay) == (Decimal("54.5"), Decimal("0.25"))
    assert str(value) == "54.5 0.25"
    assert Timestamp.parse(str(value)) == value
    assert Timestamp.parse("54.").value == Decimal(54)
    for bad in ["", ".5", "a", "1 2 3", "1 .", "-1"]:
        with pytest.raises(ParseError, match="Timestamp"):
            Timestamp.parse(bad)


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.17
##= type=test
##% As
##% in [H3.3], SIP restricts the time zone in SIP-date to "GMT", while
##% RFC 1123 allows any time zone.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.17
##= type=test
##% An RFC 1123 date is case-sensitive.
def test_date() -> None:
    value = SipDate.parse("Sat, 13 Nov 2010 23:29:00 GMT")
    assert value.value == datetime(2010, 11, 13, 23, 29, tzinfo=UTC)
    assert str(value) == "Sat, 13 Nov 2010 23:29:00 GMT"
    assert SipDate.parse(str(value)) == value
    assert str(SipDate.parse("Sat, 15 Oct 2005 04:44:56 GMT")) == "Sat, 15 Oct 2005 04:44:56 GMT"
    for bad in [
        "Fri, 01 Jan 2010 16:00:00 EST",  # RFC 4475 §3.1.2.12 (baddate)
        "Fri, 01 Jan 2010 16:00:00 UT",
        "Fri, 01 Jan 2010 16:00:00 UTC",
        "fri, 01 jan 2010 16:00:00 gmt",
        "Fri, 31 Feb 2010 16:00:00 GMT",
        "Fri, 01 Jan 2010 25:00:00 GMT",
        "Friday, 01-Jan-10 16:00:00 GMT",
        "",
    ]:
        with pytest.raises(ParseError) as info:
            SipDate.parse(bad)
        assert info.value.header == "Date"


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.43
##= type=test
##% Warning header field values are sent
##% with responses and contain a three-digit warning code, host name, and
##% warning text.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% Unless specified otherwise, values expressed as quoted strings are
##% case-sensitive.
def test_warning() -> None:
    value = Warning.parse("307 isi.edu \"Session parameter 'foo' not understood\"")
    assert (value.code, value.agent, value.text) == (
        307, "isi.edu", "Session parameter 'foo' not understood",
    )  # fmt: skip
    assert str(value) == "307 isi.edu \"Session parameter 'foo' not understood\""
    assert Warning.parse(str(value)) == value
    escaped = Warning.parse('399 [2001:db8::1]:5060 "say \\"hi\\""')
    assert (escaped.agent, escaped.text) == ("[2001:db8::1]:5060", 'say "hi"')
    assert Warning.parse(str(escaped)) == escaped
    assert Warning.parse('370 devnull "Choose a bigger pipe"') != Warning.parse(
        '370 devnull "CHOOSE A BIGGER PIPE"'
    )
    assert Warning.parse('370 DevNull "x"') == Warning.parse('370 devnull "x"')
    values = HEADER_TYPES["warning"].parse_all(['301 a.org "x, y", 302 b.org "z"'])
    assert [v.code for v in values] == [301, 302]
    for bad in ['1812 overture "In Progress"', '30 a "x"', "307 isi.edu x", "307 isi.edu", ""]:
        with pytest.raises(ParseError) as info:
            Warning.parse(bad)
        assert info.value.header == "Warning"


# ---------------------------------------------------------------------------
# quoting helpers, splitting, registry
# ---------------------------------------------------------------------------


def test_quote_unquote() -> None:
    for text in ["", "plain", 'a "quoted" \\ thing', "tab\there", "nul\x00del\x7f", "\u00e9"]:
        assert unquote(quote(text)) == text
    assert unquote('"a\r\n  b"') == "a b"
    assert unquote("token") == "token"
    assert unquote(None) is None


SPLIT_CASES = [
    ("a, b,c", ["a", "b", "c"]),
    ("", []),
    ("   ", []),
    ("a", ["a"]),
    ('"Watson, Thomas" <sip:a@b>, <sip:c@d>', ['"Watson, Thomas" <sip:a@b>', "<sip:c@d>"]),
    ("<sip:a,b@example.com>, <sip:c@d>", ["<sip:a,b@example.com>", "<sip:c@d>"]),
    ('"a \\", b" <sip:x@y>, z', ['"a \\", b" <sip:x@y>', "z"]),
    ("x (a, b) y, z", ["x (a, b) y", "z"]),
    ("x (a (b, c) d) y, z", ["x (a (b, c) d) y", "z"]),
    ('x ("a, b) y, z', ['x ("a, b) y', "z"]),
    ("x (\\), b) y, z", ["x (\\), b) y", "z"]),
    ("a,,b", ["a", "", "b"]),
    ("a,", ["a", ""]),
    ("SIP/2.0/UDP 192.0.2.15;;,;,,", ["SIP/2.0/UDP 192.0.2.15;;", ";", "", ""]),
]


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% Multiple header field rows with the same field-name MAY be present in
##% a message if and only if the entire field-value for that header field
##% is defined as a comma-separated list (that is, if follows the grammar
##% defined in Section 7.3).
@pytest.mark.parametrize(("text", "parts"), SPLIT_CASES)
def test_split_header_values(text: str, parts: list[str]) -> None:
    assert split_header_values(text) == parts


def test_split_without_comments() -> None:
    assert split_header_values("a(b, c)", comments=False) == ["a(b", "c)"]
    assert HEADER_TYPES["in-reply-to"].parse_all(
        ["70710@saturn.bell-tel.com, 17320@saturn.bell-tel.com"]
    ) == ["70710@saturn.bell-tel.com", "17320@saturn.bell-tel.com"]


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##= type=test
##% The exceptions
##% to this rule are the WWW-Authenticate, Authorization, Proxy-
##% Authenticate, and Proxy-Authorization header fields.
def test_registry_list_headers() -> None:
    multi = {key for key, entry in HEADER_TYPES.items() if entry.multi}
    for key in ["via", "contact", "route", "record-route", "allow", "supported", "require",
                "proxy-require", "unsupported", "accept", "accept-encoding", "accept-language",
                "content-encoding", "warning", "error-info", "alert-info", "call-info",
                "in-reply-to"]:  # fmt: skip
        assert key in multi, key
    for key in ["www-authenticate", "authorization", "proxy-authenticate",
                "proxy-authorization", "from", "to", "call-id", "cseq", "max-forwards",
                "content-length", "content-type", "expires", "retry-after", "date"]:  # fmt: skip
        assert key in HEADER_TYPES and key not in multi, key
    assert HEADER_TYPES["authorization"].split('Digest a="1", b="2"') == ['Digest a="1", b="2"']


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.3
##= type=test
##% A compact
##% form MAY be substituted for the longer form of a header field name at
##% any time without changing the semantics of the message.
def test_compact_forms_and_canonical_names() -> None:
    rfc3261 = {
        "v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
        "l": "content-length", "c": "content-type", "e": "content-encoding",
        "k": "supported", "s": "subject",
    }  # fmt: skip
    # (extensions imported in the same process add theirs: RFC 6665's o and u, ...)
    assert rfc3261.items() <= COMPACT_FORMS.items()
    assert CANONICAL_NAMES["call-id"] == "Call-ID"
    assert CANONICAL_NAMES["cseq"] == "CSeq"
    assert CANONICAL_NAMES["www-authenticate"] == "WWW-Authenticate"
    assert CANONICAL_NAMES["via"] == "Via"
    assert all(key == key.lower() for key in HEADER_TYPES)
    assert canonical_name("V") == "via"
    assert canonical_name("MaX-fOrWaRdS") == "max-forwards"


def test_registry_route_requires_name_addr() -> None:
    route = HEADER_TYPES["route"].parse_all(
        ["<sip:alice@atlanta.com>, <sip:bob@biloxi.com>", "<sip:carol@chicago.com;lr>"]
    )
    assert [r.uri.host for r in route] == ["atlanta.com", "biloxi.com", "chicago.com"]
    assert route[2].uri.lr
    with pytest.raises(ParseError, match="Route"):
        HEADER_TYPES["route"].parse("sip:alice@atlanta.com")
    with pytest.raises(ParseError, match="Record-Route"):
        HEADER_TYPES["record-route"].parse("sip:alice@atlanta.com")
    info = HEADER_TYPES["call-info"].parse_all(
        ["<http://wwww.example.com/alice/photo.jpg> ;purpose=icon,\r\n"
         "  <http://www.example.com/alice/> ;purpose=info"]
    )  # fmt: skip
    assert [i.params.get("purpose") for i in info] == ["icon", "info"]
    with pytest.raises(ParseError, match="Error-Info"):
        HEADER_TYPES["error-info"].parse('"x" <sip:a@b.com>')


def test_registry_parse_all_rejects_empty_elements() -> None:
    with pytest.raises(ParseError, match="empty element"):
        HEADER_TYPES["via"].parse_all(["SIP/2.0/UDP a.example.com;branch=z9hG4bK1,"])
    with pytest.raises(ParseError, match="empty value"):
        HEADER_TYPES["via"].parse_all([""])


def test_registry_simple_text_headers() -> None:
    assert HEADER_TYPES["subject"].parse("  Need more boxes ") == "Need more boxes"
    assert HEADER_TYPES["mime-version"].parse("1.0") == "1.0"
    assert HEADER_TYPES["accept-language"].parse_all(["da, en-gb;q=0.8, en;q=0.7"]) == [
        "da", "en-gb;q=0.8", "en;q=0.7",
    ]  # fmt: skip
    assert HEADER_TYPES["content-disposition"].parse("session;handling=optional") == (
        "session;handling=optional"
    )
    with pytest.raises(ParseError, match="MIME-Version"):
        HEADER_TYPES["mime-version"].parse("one")
    with pytest.raises(ParseError, match="Accept-Language"):
        HEADER_TYPES["accept-language"].parse("englishlanguage")
