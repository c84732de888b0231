"""Tests for rfc3261.uri: parsing, serializing, comparing and escaping SIP URIs (§19.1)."""

from __future__ import annotations

import itertools
import os
import string
import time
import timeit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rfc3261.errors import ParseError
from rfc3261.params import Parameters
from rfc3261.uri import (
    HEADER_SAFE,
    PARAM_SAFE,
    PASSWORD_SAFE,
    USER_SAFE,
    AbsoluteURI,
    SipURI,
    escape,
    escape_header,
    escape_param,
    escape_password,
    escape_user,
    parse_sip_uri,
    parse_uri,
    unescape,
    unescape_bytes,
    uri_equal,
)

# ---------------------------------------------------------------------------
# Parsing: text -> components, and back
# ---------------------------------------------------------------------------

# (text, scheme, user, password, host, port, params, headers)
PARSE_CASES = [
    # §19.1.3 examples
    ("sip:alice@atlanta.com", "sip", "alice", None, "atlanta.com", None, [], []),
    (
        "sip:alice:secretword@atlanta.com;transport=tcp",
        "sip",
        "alice",
        "secretword",
        "atlanta.com",
        None,
        [("transport", "tcp")],
        [],
    ),
    (
        "sips:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sips",
        "alice",
        None,
        "atlanta.com",
        None,
        [],
        [("subject", "project%20x"), ("priority", "urgent")],
    ),
    (
        "sip:+1-212-555-1212:1234@gateway.com;user=phone",
        "sip",
        "+1-212-555-1212",
        "1234",
        "gateway.com",
        None,
        [("user", "phone")],
        [],
    ),
    ("sips:1212@gateway.com", "sips", "1212", None, "gateway.com", None, [], []),
    ("sip:alice@192.0.2.4", "sip", "alice", None, "192.0.2.4", None, [], []),
    (
        "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
        "sip",
        None,
        None,
        "atlanta.com",
        None,
        [("method", "REGISTER")],
        [("to", "alice%40atlanta.com")],
    ),
    (
        "sip:alice;day=tuesday@atlanta.com",
        "sip",
        "alice;day=tuesday",
        None,
        "atlanta.com",
        None,
        [],
        [],
    ),
    # §19.1.1 multicast example
    (
        "sip:alice@atlanta.com;maddr=239.255.255.1;ttl=15",
        "sip",
        "alice",
        None,
        "atlanta.com",
        None,
        [("maddr", "239.255.255.1"), ("ttl", "15")],
        [],
    ),
    # scheme case is normalized, everything else kept as written
    (
        "SIP:ALICE@AtLanTa.CoM;Transport=udp",
        "sip",
        "ALICE",
        None,
        "AtLanTa.CoM",
        None,
        [("Transport", "udp")],
        [],
    ),
    (
        "sip:host.example.com:5060;lr",
        "sip",
        None,
        None,
        "host.example.com",
        5060,
        [("lr", None)],
        [],
    ),
    ("sip:p.example.com:0", "sip", None, None, "p.example.com", 0, [], []),
    ("sip:p.example.com.:65535", "sip", None, None, "p.example.com.", 65535, [], []),
    # RFC 4475 escapes (esc01, escnull, semiuri)
    (
        "sip:sips%3Auser%40example.com@example.net",
        "sip",
        "sips%3Auser%40example.com",
        None,
        "example.net",
        None,
        [],
        [],
    ),
    ("sip:%75se%72@example.com", "sip", "%75se%72", None, "example.com", None, [], []),
    ("sip:null-%00-null@example.com", "sip", "null-%00-null", None, "example.com", None, [], []),
    (
        "sip:user;par=u%40example.net@example.com",
        "sip",
        "user;par=u%40example.net",
        None,
        "example.com",
        None,
        [],
        [],
    ),
    (
        "sip:+19725552222@gw1.example.net;unknownparam",
        "sip",
        "+19725552222",
        None,
        "gw1.example.net",
        None,
        [("unknownparam", None)],
        [],
    ),
    (
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
        "sip",
        "user",
        None,
        "example.com",
        None,
        [],
        [("Route", "%3Csip:sip.example.com%3E")],
    ),
    # RFC 5118 IPv6 references
    ("sip:user@[2001:db8::10]", "sip", "user", None, "[2001:db8::10]", None, [], []),
    ("sip:[2001:db8::10]:5070", "sip", None, None, "[2001:db8::10]", 5070, [], []),
    ("sip:user@[2001:db8::10:5070]", "sip", "user", None, "[2001:db8::10:5070]", None, [], []),
    (
        "sip:user@[2001:db8::192.0.2.1]",
        "sip",
        "user",
        None,
        "[2001:db8::192.0.2.1]",
        None,
        [],
        [],
    ),
    (
        "sip:user@[2001:db8:::192.0.2.1]",
        "sip",
        "user",
        None,
        "[2001:db8:::192.0.2.1]",
        None,
        [],
        [],
    ),
    (
        "sip:[2001:db8::9:1];maddr=[2001:db8::9:255]",
        "sip",
        None,
        None,
        "[2001:db8::9:1]",
        None,
        [("maddr", "[2001:db8::9:255]")],
        [],
    ),
    # empty password, empty header value, parameter with empty-looking value forms
    ("sip:alice:@atlanta.com", "sip", "alice", "", "atlanta.com", None, [], []),
    ("sip:atlanta.com?body=", "sip", None, None, "atlanta.com", None, [], [("body", "")]),
]


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.2
##= type=test
##% All SIP implementations MUST support the SIP URI scheme.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.2
##= type=test
##% Any implementation that supports TLS MUST support the SIPS URI scheme.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% Since the uri-parameter mechanism is extensible, SIP elements
##% MUST silently ignore any uri-parameters that they do not
##% understand.
@pytest.mark.parametrize(
    ("text", "scheme", "user", "password", "host", "port", "params", "headers"), PARSE_CASES
)
def test_parse_and_serialize(
    text: str,
    scheme: str,
    user: str | None,
    password: str | None,
    host: str,
    port: int | None,
    params: list[tuple[str, str | None]],
    headers: list[tuple[str, str]],
) -> None:
    uri = parse_uri(text)
    assert isinstance(uri, SipURI)
    assert (uri.scheme, uri.user, uri.password, uri.host, uri.port) == (
        scheme,
        user,
        password,
        host,
        port,
    )
    assert uri.params.items() == params
    assert uri.headers == headers
    assert str(uri) == text
    # serialize -> parse gives the same components (the other direction of the table)
    built = SipURI(scheme, user, password, host, port, Parameters(params), list(headers))
    assert parse_uri(str(built)) == uri
    assert str(parse_uri(str(built))) == str(built)


def test_round_trip_keeps_scheme_case_and_port_spelling() -> None:
    for text in ("SIPS:bob@biloxi.com", "Sip:bob@biloxi.com:05060", "sip:bob@biloxi.com:0"):
        assert str(parse_uri(text)) == text
    uri = parse_uri("Sip:bob@biloxi.com:05060")
    assert isinstance(uri, SipURI)
    uri.port = 5070
    assert str(uri) == "Sip:bob@biloxi.com:5070"
    uri.scheme = "sips"
    assert str(uri) == "sips:bob@biloxi.com:5070"


ABSOLUTE_CASES = [
    ("tel:+1-201-555-0123", "tel"),
    ("mailto:alice@atlanta.com", "mailto"),
    ("urn:service:sos", "urn"),
    ("im:alice@atlanta.com", "im"),
    ("http://www.example.com/alice/photo.jpg", "http"),
    # RFC 4475 §3.3.2 (unkscm) and §3.3.3 (novelsc)
    ("nobodyknowsthisscheme:totallyopaquecontent", "nobodyknowsthisscheme"),
    ("soap.beep://192.0.2.103:3002", "soap.beep"),
    ("TEL:+1-201-555-0123", "tel"),
]


@pytest.mark.parametrize(("text", "scheme"), ABSOLUTE_CASES)
def test_absolute_uri_is_opaque(text: str, scheme: str) -> None:
    uri = parse_uri(text)
    assert isinstance(uri, AbsoluteURI)
    assert uri.scheme == scheme
    assert uri.text == text
    assert str(uri) == text
    assert uri == uri.copy()
    with pytest.raises(ParseError, match="not a SIP or SIPS URI"):
        parse_sip_uri(text)


# (text, fragment of the error message)
BAD_URIS = [
    ("sip:user@2001:db8::10", "IPv6 address not enclosed"),  # RFC 5118 §4.2 (ipv6-bad)
    ("sip:user@[2001:db8::10", "invalid host"),
    ("sip:user@[2001:db8::g]", "invalid host"),
    ("sip:bob@444.555.666.777", "invalid host"),  # RFC 5954 §4.1
    ("sip:alice@atlanta..com", "invalid host"),
    ("sip:alice@under_score.com", "invalid host"),
    ("sip:alice@", "missing host"),
    ("sip:", "missing host"),
    ("sip:@atlanta.com", "invalid user part"),
    ("sip:al<ce@atlanta.com", "invalid user part"),
    ("sip:alice:pass;word@atlanta.com", "invalid password"),
    ("sip:alice@atlanta.com:50x0", "invalid port"),
    ("sip:alice@atlanta.com:", "invalid port"),
    ("sip:alice@atlanta.com:65536", "port out of range"),
    ("sip:alice@atlanta.com;=tcp", "invalid uri-parameter"),
    ("sip:alice@atlanta.com;a=b=c", "invalid uri-parameter"),
    ("sip:alice@atlanta.com;", "invalid uri-parameter"),
    ("sip:alice@atlanta.com?subject", "invalid URI header"),
    ("sip:alice@atlanta.com?a=b&", "invalid URI header"),
    ("sip:alice@atlanta.com; lr", "unescaped space"),  # RFC 4475 §3.1.2.8 (lwsruri)
    ("sip:alice @atlanta.com", "unescaped space"),
    ("sip:alice@atlanta.com\r\n", "unescaped space"),
    ("sip:alice@atlanta.com\x00", "unescaped space"),
    ("<sip:alice@atlanta.com>", "missing or invalid URI scheme"),  # RFC 4475 ltgtruri
    ("alice@atlanta.com", "missing or invalid URI scheme"),
    ("", "missing or invalid URI scheme"),
    ("1tel:+1", "missing or invalid URI scheme"),
    ("tel:+1 201", "unescaped space"),
    ("tel:#x", "invalid absoluteURI"),
    ("sip:alice@atlanta.com>", "invalid host"),
]


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##= type=test
##% URIs MUST NOT contain unescaped space and control
##% characters.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% If the @ sign is
##% present in a SIP or SIPS URI, the user field MUST NOT be empty.
@pytest.mark.parametrize(("text", "defect"), BAD_URIS)
def test_invalid_uris_name_the_defect(text: str, defect: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_uri(text, header="Request-URI")
    message = str(caught.value)
    assert defect in message
    assert message.startswith("Request-URI: ")
    assert "(RFC 3261 §" in message


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.1
##= type=test
##% The Request-URI MUST NOT contain unescaped spaces or control
##% characters and MUST NOT be enclosed in "<>".
@pytest.mark.parametrize(
    "text",
    [
        "<sip:user@example.com>",
        "sip:user@example.com; lr",
        "sip:user name@example.com",
        "sip:user@example.com\t",
        "tel:+1\x7f",
    ],
)
def test_request_uri_without_spaces_controls_or_angle_brackets(text: str) -> None:
    with pytest.raises(ParseError):
        parse_uri(text, header="Request-URI")


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% Even though an arbitrary number of URI parameters may be
##% included in a URI, any given parameter-name MUST NOT appear
##% more than once.
@pytest.mark.parametrize(
    "text", ["sip:a@b.com;lr;lr", "sip:a@b.com;transport=tcp;Transport=udp", "sip:b.com;x=1;y;X"]
)
def test_repeated_parameter_is_rejected(text: str) -> None:
    with pytest.raises(ParseError, match=r"appears more than once \(RFC 3261 §19\.1\.1\)"):
        parse_uri(text)


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% For a SIPS URI, the transport parameter MUST
##% indicate a reliable transport.
def test_sips_uri_needs_a_reliable_transport() -> None:
    with pytest.raises(ParseError, match="reliable transport"):
        parse_uri("sips:alice@atlanta.com;transport=UDP")
    assert parse_sip_uri("sips:alice@atlanta.com;transport=tcp").transport == "tcp"
    assert parse_sip_uri("sip:alice@atlanta.com;transport=udp").transport == "udp"


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% The userinfo part of a URI is optional and MAY be absent when the
##% destination host does not have a notion of users or when the
##% host itself is the resource being identified.
def test_userinfo_is_optional() -> None:
    uri = parse_sip_uri("sip:registrar.biloxi.com")
    assert (uri.user, uri.password, uri.host) == (None, None, "registrar.biloxi.com")
    assert str(uri) == "sip:registrar.biloxi.com"


def test_error_message_quotes_and_shortens_text() -> None:
    with pytest.raises(ParseError) as caught:
        parse_uri("sip:alice@" + "a" * 500 + "_")
    assert str(caught.value).startswith("invalid host 'aaaa")
    assert len(str(caught.value)) < 140


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------


def test_properties() -> None:
    uri = parse_sip_uri(
        "sips:alice@AtLanTa.com:5061;Transport=TCP;maddr=239.255.255.1;ttl=15;"
        "user=Phone;method=INVITE;lr"
    )
    assert uri.is_secure
    assert uri.host_lower == "atlanta.com"
    assert uri.host_port == "AtLanTa.com:5061"
    assert uri.transport == "tcp"
    assert uri.default_transport == "tcp"
    assert uri.maddr == "239.255.255.1"
    assert uri.ttl == 15
    assert uri.user_param == "phone"
    assert uri.method == "INVITE"
    assert uri.lr is True


def test_properties_when_absent() -> None:
    uri = parse_sip_uri("sip:bob@biloxi.com")
    assert not uri.is_secure
    assert uri.host_port == "biloxi.com"
    assert (uri.transport, uri.maddr, uri.ttl, uri.user_param, uri.method) == (None,) * 5
    assert uri.lr is False
    assert uri.default_transport == "udp"
    assert parse_sip_uri("sips:bob@biloxi.com").default_transport == "tcp"


@pytest.mark.parametrize("value", ["256", "abc", "1000", ""])
def test_bad_ttl_raises_on_access(value: str) -> None:
    uri = parse_sip_uri(f"sip:a@b.com;ttl={value}" if value else "sip:a@b.com;ttl")
    with pytest.raises(ParseError, match="invalid ttl"):
        _ = uri.ttl


def test_copy_is_independent() -> None:
    uri = parse_sip_uri("sip:a@b.com;lr?x=y")
    clone = uri.copy()
    clone.params.set("transport", "tcp")
    clone.headers.append(("z", "w"))
    assert str(uri) == "sip:a@b.com;lr?x=y"
    assert str(clone) == "sip:a@b.com;lr;transport=tcp?x=y&z=w"


def test_constructed_uri_serializes() -> None:
    uri = SipURI(host="atlanta.com")
    assert str(uri) == "sip:atlanta.com"
    uri.user = escape_user("j@s0n")
    uri.params.set("transport", "tls")
    assert str(uri) == "sip:j%40s0n@atlanta.com;transport=tls"


# ---------------------------------------------------------------------------
# Comparison (§19.1.4)
# ---------------------------------------------------------------------------

# "The URIs within each of the following sets are equivalent" (§19.1.4), plus the
# RFC 5954 §4.2 set.
EQUAL_SETS = [
    ["sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"],
    [
        "sip:carol@chicago.com",
        "sip:carol@chicago.com;newparam=5",
        "sip:carol@chicago.com;security=on",
    ],
    [
        "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
        "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
    ],
    [
        "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
    ],
    # RFC 5954 §4.2
    ["sip:bob@[::ffff:192.0.2.128]", "sip:bob@[::ffff:c000:280]"],
    ["sip:bob@[2001:db8::9:1]", "sip:bob@[2001:db8::9:01]"],
    ["sip:bob@[0:0:0:0:0:FFFF:129.144.52.38]", "sip:bob@[::FFFF:129.144.52.38]"],
    # RFC 5118 §4.10: the extra colon is tolerated
    ["sip:user@[2001:db8:::192.0.2.1]", "sip:user@[2001:db8::192.0.2.1]"],
    # more of the rules
    ["sip:alice@atlanta.com;maddr=[2001:db8::1]", "sip:alice@atlanta.com;MADDR=[2001:DB8::0:1]"],
    ["sip:alice@atlanta.com;lr", "sip:alice@atlanta.com"],
    ["sip:alice@atlanta.com?Subject=a%41", "sip:alice@atlanta.com?subject=aA"],
    ["sip:alice@atlanta.com;user=PHONE", "sip:alice@atlanta.com;user=phone"],
    ["sip:ali%63e:pa%73s@atlanta.com", "sip:alice:pass@atlanta.com"],
    ["sip:a%3bb@atlanta.com", "sip:a%3Bb@atlanta.com"],
]

# "The URIs within each of the following sets are not equivalent" (§19.1.4).
NOT_EQUAL_PAIRS = [
    ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
    ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
    ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"),
    # more of the rules
    ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
    ("sip:atlanta.com", "sip:alice@atlanta.com"),
    ("sip:alice@atlanta.com", "sip:alice:secret@atlanta.com"),
    ("sip:alice:Secret@atlanta.com", "sip:alice:secret@atlanta.com"),
    ("sip:alice@atlanta.com", "sip:alice@atlanta.com;user=ip"),
    ("sip:alice@atlanta.com", "sip:alice@atlanta.com;ttl=1"),
    ("sip:alice@atlanta.com", "sip:alice@atlanta.com;method=INVITE"),
    ("sip:alice@atlanta.com", "sip:alice@atlanta.com;maddr=192.0.2.1"),
    ("sip:alice@atlanta.com;maddr=192.0.2.1", "sip:alice@atlanta.com;maddr=192.0.2.2"),
    ("sip:alice@atlanta.com;lr", "sip:alice@atlanta.com;lr=on"),
    ("sip:a%3Bb@atlanta.com", "sip:a;b@atlanta.com"),
    ("sip:alice@atlanta.com?a=b", "sip:alice@atlanta.com?a=c"),
    ("sip:alice@atlanta.com?a=b", "sip:alice@atlanta.com?a=b&c=d"),
    ("sip:alice@atlanta.com:5060", "sip:alice@atlanta.com:5061"),
    ("sip:alice@atlanta.com.", "sip:alice@atlanta.com"),
    ("sip:alice@[2001:db8::1]", "sip:alice@[2001:db8::2]"),
    ("sip:alice@atlanta.com", "tel:+1-201-555-0123"),
]


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
##= type=test
##% The ordering of parameters and header fields is not significant
##% in comparing SIP and SIPS URIs.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
##= type=test
##% Characters other than those in the "reserved" set (see RFC 2396
##% [5]) are equivalent to their ""%" HEX HEX" encoding.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
##= type=test
##% Comparison of all other components of the URI is case-insensitive unless
##% explicitly defined otherwise.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
##= type=test
##% All other uri-parameters appearing in only one URI are
##% ignored when comparing the URIs.
##= https://www.rfc-editor.org/rfc/rfc5954#section-4.2
##= type=test
##% If the host component contains a textual
##% representation of IP addresses, then the representation of those
##% IP addresses may vary.  If so, the host components are considered
##% to match if the different textual representations yield the same
##% binary IP address.
##= https://www.rfc-editor.org/rfc/rfc5954#section-4.2
##= type=test
##% Accordingly, the existing rule from the bulleted list in Section
##% 19.1.4 of RFC 3261 MUST be modified as follows:
##= https://www.rfc-editor.org/rfc/rfc5954#section-4.2
##= type=test
##% In addition, the text in the following paragraph MUST be added to the
##% existing list of examples in Section 19.1.4 of RFC 3261 in order to
##% demonstrate the intent of the modified rule:
@pytest.mark.parametrize("uris", EQUAL_SETS)
def test_equivalent_uris(uris: list[str]) -> None:
    for first, second in itertools.permutations(uris, 2):
        a, b = parse_uri(first), parse_uri(second)
        assert uri_equal(a, b), (first, second)
        assert a == b
        assert hash(a) == hash(b)


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
##= type=test
##% A SIP and SIPS URI are never equivalent.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
##= type=test
##% Comparison of the userinfo of SIP and SIPS URIs is case-
##% sensitive.  This includes userinfo containing passwords or
##% formatted as telephone-subscribers.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
##= type=test
##% An IP address that is the result of a DNS lookup of a host name
##% does not match that host name.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
##= type=test
##% For two URIs to be equal, the user, password, host, and port
##% components must match.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
##= type=test
##% A URI omitting the user component will not match a URI that
##% includes one.  A URI omitting the password component will not
##% match a URI that includes one.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
##= type=test
##% For instance, a URI omitting the optional port
##% component will not match a URI explicitly declaring port 5060.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
##= type=test
##% The same is true for the transport-parameter, ttl-parameter,
##% user-parameter, and method components.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
##= type=test
##% Any uri-parameter appearing in both URIs must match.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
##= type=test
##% A user, ttl, or method uri-parameter appearing in only one
##% URI never matches, even if it contains the default value.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
##= type=test
##% A URI that includes an maddr parameter will not match a URI
##% that contains no maddr parameter.
@pytest.mark.parametrize(("first", "second"), NOT_EQUAL_PAIRS)
def test_not_equivalent_uris(first: str, second: str) -> None:
    a, b = parse_uri(first), parse_uri(second)
    assert not uri_equal(a, b)
    assert not uri_equal(b, a)
    assert a != b


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
##= type=test
##% URI header components are never ignored.  Any present header
##% component MUST be present in both URIs and match for the URIs
##% to match.
def test_header_components_must_be_in_both_and_match() -> None:
    same = parse_uri("sip:carol@chicago.com?Subject=next%20meeting")
    assert uri_equal(same, parse_uri("sip:carol@chicago.com?Subject=next%20meeting"))
    assert not uri_equal(same, parse_uri("sip:carol@chicago.com"))
    assert not uri_equal(parse_uri("sip:carol@chicago.com"), same)
    assert not uri_equal(same, parse_uri("sip:carol@chicago.com?Subject=lunch"))


def test_equality_is_not_transitive() -> None:
    # §19.1.4: "Note that equality is not transitive".
    plain = parse_uri("sip:carol@chicago.com")
    on = parse_uri("sip:carol@chicago.com;security=on")
    off = parse_uri("sip:carol@chicago.com;security=off")
    assert plain == on
    assert plain == off
    assert on != off


def test_sip_uri_set_membership_uses_comparison_rules() -> None:
    bindings = {parse_uri("sip:%61lice@atlanta.com;transport=TCP")}
    assert parse_uri("sip:alice@AtLanTa.CoM;Transport=tcp") in bindings
    assert parse_uri("sip:alice@atlanta.com") not in bindings


def test_absolute_uri_comparison() -> None:
    assert uri_equal(parse_uri("TEL:+1-201-555-0123"), parse_uri("tel:+1-201-555-0123"))
    assert not uri_equal(parse_uri("tel:+1-201-555-0123"), parse_uri("tel:+1-201-555-0124"))
    assert parse_uri("urn:service:sos") != parse_uri("sip:sos@example.com")


# ---------------------------------------------------------------------------
# Escaping (§19.1.2)
# ---------------------------------------------------------------------------

ESCAPE_CASES = [
    (escape_user, "j@s0n", "j%40s0n"),
    (escape_user, "alice;day=tuesday", "alice;day=tuesday"),
    (escape_user, "I have spaces", "I%20have%20spaces"),
    (escape_user, "sips:user@example.com", "sips%3Auser%40example.com"),
    (escape_user, "null-\x00-null", "null-%00-null"),
    (escape_user, "zoë", "zo%C3%AB"),
    (escape_user, "+1-212-555-1212;phone-context=<x>", "+1-212-555-1212;phone-context=%3Cx%3E"),
    (escape_user, "#31", "%2331"),
    (escape_password, "p:w;d", "p%3Aw%3Bd"),
    (escape_param, "a=b;c", "a%3Db%3Bc"),
    (escape_param, "[2001:db8::1]", "[2001:db8::1]"),
    (escape_header, "project x", "project%20x"),
    (escape_header, "alice@atlanta.com", "alice%40atlanta.com"),
    (escape_header, "<sip:a;lr>", "%3Csip:a%3Blr%3E"),
    (escape_header, "a&b=c", "a%26b%3Dc"),
]


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##= type=test
##% For example, "@" is not in the set of characters in the user
##% component, so the user "j@s0n" must have at least the @ sign encoded,
##% as in "j%40s0n".
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##= type=test
##% All other characters MUST be
##% escaped.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##= type=test
##% Excluded US-
##% ASCII characters (RFC 2396 [5]), such as space and control
##% characters and characters used as URI delimiters, also MUST be
##% escaped.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##= type=test
##% Any characters occurring in a telephone-subscriber
##% that do not appear in an expansion of the BNF for the user rule MUST
##% be escaped.
##= https://www.rfc-editor.org/rfc/rfc3261#section-25.1
##= type=test
##% Note,
##% however, that any characters allowed there that are not allowed in
##% the user part of the SIP URI MUST be escaped.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##= type=test
##% Expanding the hname and hvalue tokens in Section 25 show that all URI
##% reserved characters in header field names and values MUST be escaped.
@pytest.mark.parametrize(("function", "raw", "escaped"), ESCAPE_CASES)
def test_escape(function, raw: str, escaped: str) -> None:  # type: ignore[no-untyped-def]
    assert function(raw) == escaped
    assert unescape(escaped) == raw


def test_escaped_components_parse() -> None:
    for function, raw, _ in ESCAPE_CASES:
        text = function(raw)
        if function is escape_user:
            assert parse_sip_uri(f"sip:{text}@example.com").user == text
        elif function is escape_password:
            assert parse_sip_uri(f"sip:u:{text}@example.com").password == text
        elif function is escape_param:
            assert parse_sip_uri(f"sip:example.com;p={text}").params.get("p") == text
        else:
            assert parse_sip_uri(f"sip:example.com?h={text}").headers == [("h", text)]


def test_unescape_edge_cases() -> None:
    assert unescape("100%") == "100%"  # a lone % is not an escape
    assert unescape("%zz%41") == "%zzA"
    assert unescape_bytes("%E9") == b"\xe9"
    assert unescape("%E9").encode("utf-8", "surrogateescape") == b"\xe9"
    assert escape("\udce9", USER_SAFE) == "%E9"


def test_safe_sets_match_the_grammar() -> None:
    assert "@" not in USER_SAFE and ";" in USER_SAFE and "?" in USER_SAFE
    assert ":" not in PASSWORD_SAFE and "&" in PASSWORD_SAFE
    assert ";" not in PARAM_SAFE and "=" not in PARAM_SAFE and ":" in PARAM_SAFE
    assert "&" not in HEADER_SAFE and "=" not in HEADER_SAFE and "?" in HEADER_SAFE


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##= type=test
##% Current
##% implementations MUST NOT attempt to improve robustness by treating
##% received escaped characters in the host component as literally
##% equivalent to their unescaped counterpart.
def test_escapes_in_host_are_rejected() -> None:
    with pytest.raises(ParseError, match="invalid host"):
        parse_uri("sip:alice@%61tlanta.com")


# ---------------------------------------------------------------------------
# Property tests
# ---------------------------------------------------------------------------

_ALNUM = string.ascii_letters + string.digits
# A quick run by default; `make fuzz` (SIPREF_FUZZ=1) explores far more.
_EXAMPLES = 5000 if os.environ.get("SIPREF_FUZZ") else 80


def _chars(safe: frozenset[str], minimum: int) -> st.SearchStrategy[str]:
    """Strings from ``safe`` with some %XX escapes mixed in."""
    piece = st.one_of(
        st.sampled_from(sorted(safe)),
        st.integers(0, 255).map(lambda octet: f"%{octet:02X}"),
        st.integers(0, 255).map(lambda octet: f"%{octet:02x}"),
    )
    return st.lists(piece, min_size=minimum, max_size=8).map("".join)


_label = st.text(_ALNUM + "-", min_size=1, max_size=8).filter(
    lambda label: label[0] != "-" and label[-1] != "-"
)
_toplabel = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(string.ascii_letters),
    st.text(_ALNUM, max_size=6),
)
_hostname = st.builds(
    lambda labels, top, dot: ".".join([*labels, top]) + dot,
    st.lists(_label, max_size=3),
    _toplabel,
    st.sampled_from(["", "."]),
)
_ipv4 = st.ip_addresses(v=4).map(str)
_ipv6 = st.ip_addresses(v=6).map(lambda address: f"[{address}]")
_host = st.one_of(_hostname, _ipv4, _ipv6)
_param = st.tuples(_chars(PARAM_SAFE, 1), st.one_of(st.none(), _chars(PARAM_SAFE, 1)))
_header = st.tuples(_chars(HEADER_SAFE, 1), _chars(HEADER_SAFE, 0))

sip_uris = st.builds(
    lambda scheme, userinfo, host, port, params, headers: "".join(
        [
            scheme,
            ":",
            "" if userinfo is None else userinfo + "@",
            host,
            "" if port is None else f":{port}",
            "".join(f";{n}" if v is None else f";{n}={v}" for n, v in params),
            "" if not headers else "?" + "&".join(f"{n}={v}" for n, v in headers),
        ]
    ),
    st.sampled_from(["sip", "sips", "SIP", "Sips"]),
    st.one_of(
        st.none(),
        _chars(USER_SAFE, 1),
        st.builds(lambda u, p: f"{u}:{p}", _chars(USER_SAFE, 1), _chars(PASSWORD_SAFE, 0)),
    ),
    _host,
    st.one_of(st.none(), st.integers(0, 65535)),
    st.lists(_param, max_size=4, unique_by=lambda param: param[0].lower()),
    st.lists(_header, max_size=3),
)


@settings(max_examples=_EXAMPLES, deadline=None)
@given(sip_uris)
def test_generated_uris_round_trip(text: str) -> None:
    uri = parse_uri(text)
    assert isinstance(uri, SipURI)
    assert str(uri) == text
    assert str(uri.copy()) == text


@settings(max_examples=_EXAMPLES, deadline=None)
@given(sip_uris, sip_uris)
def test_comparison_is_reflexive_and_symmetric(first: str, second: str) -> None:
    a, b = parse_uri(first), parse_uri(second)
    assert uri_equal(a, a)
    assert uri_equal(a, a.copy())
    assert uri_equal(a, b) == uri_equal(b, a)
    if uri_equal(a, b):
        assert hash(a) == hash(b)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.builds(lambda tail: "sip:" + tail, st.text())))
def test_any_text_parses_or_raises_parse_error(text: str) -> None:
    try:
        uri = parse_uri(text)
    except ParseError:
        return
    assert str(uri) == text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FF)))
def test_escape_unescape_round_trip(text: str) -> None:
    for safe in (USER_SAFE, PASSWORD_SAFE, PARAM_SAFE, HEADER_SAFE):
        escaped = escape(text, safe)
        assert all(char in safe or char == "%" for char in escaped)
        assert unescape(escaped) == text


# ---------------------------------------------------------------------------
# Speed and resistance to adversarial input
# ---------------------------------------------------------------------------

_SIZE = 100_000
ADVERSARIAL_URIS = [
    "sip:" + "a" * _SIZE + "@@",
    "sip:" + "a." * (_SIZE // 2) + "-",
    "sip:a@" + "1." * (_SIZE // 2) + "_",
    "sip:a@b" + ";a=b" * (_SIZE // 4) + ";",
    "sip:a@b?" + "a=b&" * (_SIZE // 4),
    "sip:a@[" + "1:" * (_SIZE // 2) + "]",
    "sip:" + "%4" * (_SIZE // 2),
    "tel:" + "a" * _SIZE + " ",
    "x" * _SIZE,
]


@pytest.mark.parametrize("text", ADVERSARIAL_URIS, ids=lambda text: text[:12])
def test_adversarial_uri_fails_fast(text: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ParseError):
        parse_uri(text)
    assert time.perf_counter() - start < 1.0


def test_parse_speed_smoke() -> None:
    # A loose floor (the benchmark measures properly): the fast path is one regex match.
    count = 2000
    seconds = timeit.timeit(
        lambda: parse_uri("sip:alice@atlanta.example.com;transport=tcp"), number=count
    )
    assert count / seconds > 20_000
