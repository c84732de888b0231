"""Authentication header field values (rfc3261.auth_headers): challenges and credentials."""

from __future__ import annotations

import pytest

from rfc3261.auth_headers import AuthenticationInfo, Challenge, Credentials
from rfc3261.errors import ParseError
from rfc3261.headers import HEADER_TYPES

CREDENTIALS = (
    'Digest username="Alice", realm="atlanta.com",\r\n'
    ' nonce="84a4cc6f3082121f32b42a2187831a9e",\r\n'
    ' response="7587245234b3434cc3412213e5f113a5432"'
)
CHALLENGE = (
    'Digest realm="atlanta.com",\r\n  domain="sip:boxesbybob.com", qop="auth",\r\n'
    '  nonce="f84f1cec41e6cbe5aea9c8e88d359",\r\n  opaque="", stale=FALSE, algorithm=MD5'
)


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.7
##= type=test
##% The Authorization header field contains authentication credentials of
##% a UA.
def test_digest_credentials() -> None:
    value = Credentials.parse(CREDENTIALS)
    assert value.scheme == "Digest" and value.is_digest
    assert value.username == "Alice"
    assert value.realm == "atlanta.com"
    assert value.nonce == "84a4cc6f3082121f32b42a2187831a9e"
    assert value.response == "7587245234b3434cc3412213e5f113a5432"
    assert value.params.get("username") == '"Alice"'  # kept as written
    assert str(value) == (
        'Digest username="Alice", realm="atlanta.com", '
        'nonce="84a4cc6f3082121f32b42a2187831a9e", '
        'response="7587245234b3434cc3412213e5f113a5432"'
    )
    assert Credentials.parse(str(value)) == value
    full = Credentials.parse(
        'Digest username="bob", realm="biloxi.com", nonce="dcd98b", uri="sip:bob@biloxi.com", '
        'qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae4", opaque="5ccc069c"'
    )
    assert (full.uri, full.qop, full.nc, full.cnonce, full.opaque) == (
        "sip:bob@biloxi.com", "auth", "00000001", "0a4f113b", "5ccc069c",
    )  # fmt: skip


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.44
##= type=test
##% A WWW-Authenticate header field value contains an authentication
##% challenge.
def test_digest_challenge() -> None:
    value = Challenge.parse(CHALLENGE)
    assert value.realm == "atlanta.com"
    assert value.domain == ["sip:boxesbybob.com"]
    assert value.qop_options == ["auth"]
    assert value.opaque == ""
    assert value.stale is False
    assert value.algorithm == "MD5"
    assert Challenge.parse(str(value)) == value
    assert Challenge.parse('Digest realm="x", qop="auth,auth-int", stale=TRUE').qop_options == [
        "auth",
        "auth-int",
    ]
    assert Challenge.parse('Digest realm="x", stale=true').stale is True
    assert Challenge.parse('digest REALM="x"') == Challenge.parse('Digest realm="x"')
    assert Challenge.parse('Digest realm="x"') != Challenge.parse('Digest realm="X"')


def test_escaped_quoted_values() -> None:
    value = Credentials.parse('Digest username="a \\"b\\" \\\\ c", realm="r"')
    assert value.username == 'a "b" \\ c'
    assert Credentials.parse(str(value)).username == 'a "b" \\ c'


def test_other_schemes() -> None:
    # RFC 4475 §3.3.7 (regaut01): an unknown scheme is still well formed
    value = Credentials.parse("NoOneKnowsThisScheme opaque-data=here")
    assert value.scheme == "NoOneKnowsThisScheme" and not value.is_digest
    assert value.get("opaque-data") == "here"
    assert str(value) == "NoOneKnowsThisScheme opaque-data=here"
    basic = Credentials.parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    assert basic.token68 == "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    assert str(basic) == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    assert Credentials.parse(str(basic)) == basic


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.6
##= type=test
##% Syntax and semantics follow those specified in RFC 2617 [17].
def test_authentication_info() -> None:
    value = HEADER_TYPES["authentication-info"].parse(
        'nextnonce="47364c23432d2e131a5fb210812c", qop=auth, rspauth="abc"'
    )
    assert isinstance(value, AuthenticationInfo)
    assert value.get("nextnonce") == "47364c23432d2e131a5fb210812c"
    assert str(value) == 'nextnonce="47364c23432d2e131a5fb210812c", qop=auth, rspauth="abc"'
    with pytest.raises(ParseError, match="Authentication-Info"):
        HEADER_TYPES["authentication-info"].parse("")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Digest",
        'Digest realm="x",',
        'Digest realm="x" nonce="y"',
        'Digest realm="x", realm="y"',
        'Digest realm="unterminated',
        "Digest realm=",
        "Digest =x",
        'Digest realm="x",, nonce="y"',
        "Basic a b",
    ],
)
def test_auth_rejects(text: str) -> None:
    with pytest.raises(ParseError) as info:
        Credentials.parse(text, "Proxy-Authorization")
    assert info.value.header == "Proxy-Authorization"
    with pytest.raises(ParseError) as info:
        Challenge.parse(text)
    assert info.value.header == "WWW-Authenticate"


def test_registry_auth_headers_are_not_lists() -> None:
    for key in ["authorization", "proxy-authorization", "www-authenticate", "proxy-authenticate"]:
        entry = HEADER_TYPES[key]
        assert not entry.multi
        values = entry.parse_all([CREDENTIALS if "author" in key else CHALLENGE] * 2)
        assert len(values) == 2 and values[0] == values[1]
