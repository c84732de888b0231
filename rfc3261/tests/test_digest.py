"""Digest computations (RFC 3261 §22.4, RFC 7616 §3, RFC 8760 §2) against the RFC examples."""

from __future__ import annotations

import pytest

from rfc3261.auth_headers import Challenge, Credentials
from rfc3261.digest import (
    KD,
    DigestChallenge,
    DigestCredentials,
    H,
    UnsupportedAlgorithm,
    base_algorithm,
    compute_response,
    compute_rspauth,
    format_nc,
    ha1,
    ha2,
    is_session_algorithm,
    is_supported,
    session_ha1,
    userhash,
)

# RFC 7616 §3.9.1
NONCE_7616 = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
CNONCE_7616 = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
OPAQUE_7616 = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.1
##= type=test
##% If the qop value is "auth" or "auth-int":
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.2
##= type=test
##% If the algorithm parameter's value is "<algorithm>", e.g., "SHA-256",
##% then A1 is:
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.3
##= type=test
##% If the qop parameter's value is "auth" or is unspecified, then A2 is:
@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_example(algorithm: str, expected: str) -> None:
    got = compute_response(
        username="Mufasa",
        realm="http-auth@example.org",
        password="Circle of Life",
        method="GET",
        uri="/dir/index.html",
        nonce=NONCE_7616,
        nc="00000001",
        cnonce=CNONCE_7616,
        qop="auth",
        algorithm=algorithm,
    )
    assert got == expected


def test_rfc2617_example() -> None:
    got = compute_response(
        username="Mufasa",
        realm="testrealm@host.com",
        password="Circle Of Life",
        method="GET",
        uri="/dir/index.html",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        nc="00000001",
        cnonce="0a4f113b",
        qop="auth",
    )
    assert got == "6629fae49393a05397450978507c4ef1"


def test_stored_ha1_gives_the_same_response() -> None:
    stored = ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    got = compute_response(
        ha1_value=stored,
        realm="testrealm@host.com",
        method="GET",
        uri="/dir/index.html",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        nc="00000001",
        cnonce="0a4f113b",
        qop="auth",
    )
    assert got == "6629fae49393a05397450978507c4ef1"


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##= type=test
##% As a clarification to the calculation of the A2 value for
##% message integrity assurance in the Digest authentication
##% scheme, implementers should assume, when the entity-body is
##% empty (that is, when SIP messages have no body) that the hash
##% of the entity-body resolves to the MD5 hash of an empty
##% string, or:
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
##= type=test
##% As a clarification to the calculation of the A2 value for message
##% integrity assurance in the Digest Access Authentication scheme,
##% implementers should assume that the hash of the entity-body
##% resolves to the hash of an empty string when the entity-body is
##% empty (that is, when SIP messages have no body):
def test_empty_body_hash_and_auth_int() -> None:
    assert H(b"", "MD5") == "d41d8cd98f00b204e9800998ecf8427e"
    assert H(b"", "SHA-256") == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    expected = H("INVITE:sip:bob@biloxi.com:d41d8cd98f00b204e9800998ecf8427e")
    assert ha2("INVITE", "sip:bob@biloxi.com", "auth-int") == expected
    assert ha2("INVITE", "sip:bob@biloxi.com", "auth") == H("INVITE:sip:bob@biloxi.com")
    body = b"v=0\r\n"
    assert ha2("INVITE", "sip:b@x", "auth-int", body, "SHA-256") == H(
        f"INVITE:sip:b@x:{H(body, 'SHA-256')}", "SHA-256"
    )


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.2
##= type=test
##% A1       = H( unq(username) ":" unq(realm) ":" passwd )
##% ":" unq(nonce-prime) ":" unq(cnonce-prime)
@pytest.mark.parametrize("algorithm", ["MD5-sess", "SHA-256-sess", "SHA-512-256-sess"])
def test_session_variants(algorithm: str) -> None:
    base = base_algorithm(algorithm)
    assert is_session_algorithm(algorithm) and not is_session_algorithm(base)
    plain = ha1("bob", "biloxi.com", "zanzibar", base)
    sess = H(f"{plain}:n1:c1", base)
    assert session_ha1(plain, "n1", "c1", algorithm) == sess
    a2 = H("REGISTER:sip:biloxi.com", base)
    expected = KD(sess, f"n1:00000002:c1:auth:{a2}", base)
    got = compute_response(
        username="bob",
        realm="biloxi.com",
        password="zanzibar",
        method="REGISTER",
        uri="sip:biloxi.com",
        nonce="n1",
        nc="00000002",
        cnonce="c1",
        qop="auth",
        algorithm=algorithm,
    )
    assert got == expected
    with pytest.raises(ValueError, match="cnonce"):
        compute_response(
            username="bob",
            realm="biloxi.com",
            password="zanzibar",
            method="REGISTER",
            uri="sip:biloxi.com",
            nonce="n1",
            algorithm=algorithm,
        )


##= https://www.rfc-editor.org/rfc/rfc8760#section-2.1
##= type=test
##% This document extends [RFC3261] to allow use of any
##% algorithm listed in the "Hash Algorithms for HTTP Digest
##% Authentication" IANA registry.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.2
##= type=test
##% If the
##% SHA-256 or SHA-512/256 algorithm is used to calculate the digest,
##% then the digest will be represented as 64 hexadecimal characters.
def test_algorithms_and_sizes() -> None:
    assert len(H("x", "MD5")) == 32
    assert len(H("x", "SHA-256")) == 64
    assert len(H("x", "sha-512-256")) == 64
    # SHA-512/256 of "" (FIPS 180-4 truncation, not SHA-512 cut short).
    assert H("", "SHA-512-256") == (
        "c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967a"
    )
    assert H("abc", None) == H("abc", "MD5")
    assert base_algorithm(None) == "MD5"
    assert is_supported("sha-256-SESS") and not is_supported("SHA-1")
    with pytest.raises(UnsupportedAlgorithm, match="RFC 8760"):
        H("x", "SHA-1")


def test_rfc2069_form_without_qop() -> None:
    a1 = ha1("bob", "biloxi.com", "zanzibar")
    a2 = ha2("INVITE", "sip:bob@biloxi.com")
    got = compute_response(
        username="bob",
        realm="biloxi.com",
        password="zanzibar",
        method="INVITE",
        uri="sip:bob@biloxi.com",
        nonce="abc",
    )
    assert got == KD(a1, f"abc:{a2}")


def test_rspauth_uses_an_empty_method() -> None:
    stored = ha1("bob", "biloxi.com", "zanzibar")
    got = compute_rspauth(
        uri="sip:bob@biloxi.com",
        nonce="n",
        realm="biloxi.com",
        ha1_value=stored,
        qop="auth",
        nc="00000001",
        cnonce="c",
    )
    assert got == KD(stored, f"n:00000001:c:auth:{H(':sip:bob@biloxi.com')}")


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.4
##= type=test
##% username = H( unq(username) ":" unq(realm) )
def test_userhash() -> None:
    assert userhash("Mufasa", "r", "SHA-256") == H("Mufasa:r", "SHA-256")


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
##= type=test
##% For example, in the first request sent in response to a
##% given nonce value, the client sends "nc=00000001".
def test_nonce_count_format() -> None:
    assert format_nc(1) == "00000001"
    assert format_nc(255) == "000000ff"
    with pytest.raises(ValueError):
        format_nc(0)


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% For historical reasons, a sender MUST NOT generate the quoted string
##% syntax values for the following parameters: stale and algorithm.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% This parameter is not meaningful in Proxy-Authenticate header
##% fields, for which the protection space is always the entire proxy;
##% if present, it MUST be ignored.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% For historical reasons, a sender MUST only generate the quoted string
##% syntax values for the following parameters: realm, domain, nonce,
##% opaque, and qop.
def test_challenge_round_trip() -> None:
    text = (
        f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
        f'nonce="{NONCE_7616}", opaque="{OPAQUE_7616}", stale=TRUE, domain="sip:a sip:b"'
    )
    parsed = DigestChallenge.from_header(Challenge.parse(text))
    assert parsed.realm == "http-auth@example.org"
    assert parsed.qop == ["auth", "auth-int"]
    assert parsed.algorithm == "SHA-256" and parsed.stale
    assert parsed.domain == ["sip:a", "sip:b"]
    assert DigestChallenge.from_header(Challenge.parse(text), proxy=True).domain == []
    out = str(parsed.to_header())
    assert "algorithm=SHA-256" in out and "stale=true" in out and 'realm="http-' in out
    assert DigestChallenge.from_header(Challenge.parse(out)) == parsed
    with pytest.raises(ValueError):
        DigestChallenge.from_header(Challenge.parse('Digest realm="x"'))
    with pytest.raises(ValueError):
        DigestChallenge.from_header(Challenge.parse("Basic QWxhZGRpbjpvcGVu"))


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
##= type=test
##% For historical reasons, a sender MUST only generate the quoted string
##% syntax for the following parameters: username, realm, nonce, uri,
##% response, cnonce, and opaque.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
##= type=test
##% For historical reasons, a sender MUST NOT generate the quoted string
##% syntax for the following parameters: algorithm, qop, and nc.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##= type=test
##% For SIP, the
##% 'uri' MUST be enclosed in quotation marks.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
##= type=test
##% The "uri" parameter of the Authorization header field MUST be
##% enclosed in quotation marks.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
##= type=test
##% Then, the server MUST perform the same digest
##% operation (e.g., MD5, SHA-256) performed by the client and compare
##% the result to the given response value.
def test_credentials_round_trip_and_check() -> None:
    creds = DigestCredentials(
        username="Mufasa",
        realm="http-auth@example.org",
        nonce=NONCE_7616,
        uri="/dir/index.html",
        response="8ca523f5e9506fed4657c9700eebdbec",
        algorithm="MD5",
        qop="auth",
        nc="00000001",
        cnonce=CNONCE_7616,
        opaque=OPAQUE_7616,
    )
    header = creds.to_header()
    text = str(header)
    assert 'uri="/dir/index.html"' in text and "qop=auth" in text and "nc=00000001" in text
    assert "algorithm=MD5" in text and f'cnonce="{CNONCE_7616}"' in text
    back = DigestCredentials.from_header(Credentials.parse(text))
    assert back == creds
    assert back.expected_response("GET", password="Circle of Life") == creds.response
    assert back.expected_response("GET", password="wrong") != creds.response
    with pytest.raises(ValueError, match="lack"):
        DigestCredentials.from_header(Credentials.parse('Digest username="x", realm="r"'))


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.5
##= type=test
##% For historical reasons, a sender MUST only generate the quoted string
##% syntax for the following parameters: nextnonce, rspauth, and cnonce.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.5
##= type=test
##% For historical reasons, a sender MUST NOT generate the quoted string
##% syntax for the following parameters: qop and nc.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.5
##= type=test
##% The rspauth,
##% cnonce, and nc parameters MUST be present if "qop=auth" or
##% "qop=auth-int" is specified.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.5
##= type=test
##% For historical reasons, the nc value MUST be exactly 8 hexadecimal
##% digits.
def test_authentication_info() -> None:
    from rfc3261.auth_headers import parse_authentication_info
    from rfc3261.digest import format_authentication_info

    info = format_authentication_info(
        nextnonce="n2", qop="auth", rspauth="abc", cnonce="c", nc=format_nc(1)
    )
    text = str(info)
    assert text == 'nextnonce="n2", qop=auth, rspauth="abc", cnonce="c", nc=00000001'
    assert parse_authentication_info(text).get("nextnonce") == "n2"
    with pytest.raises(ValueError, match="rspauth"):
        format_authentication_info(qop="auth", rspauth="abc")


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
##= type=test
##% Sending both username and username* in the same header
##% option MUST be treated as an error.
def test_username_and_username_star_is_an_error() -> None:
    text = (
        'Digest username="a", username*=UTF-8\'\'a, realm="r", nonce="n", uri="sip:x", '
        'response="0"'
    )
    with pytest.raises(ValueError, match=r"username\*"):
        DigestCredentials.from_header(Credentials.parse(text))
