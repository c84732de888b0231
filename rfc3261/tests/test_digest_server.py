"""Digest authentication, server side (RFC 3261 §22, RFC 7616, RFC 8760)."""

from __future__ import annotations

import pytest

from rfc3261.auth_headers import Challenge
from rfc3261.digest import (
    DigestChallenge,
    DigestCredentials,
    compute_response,
    compute_rspauth,
    ha1,
)
from rfc3261.digest_server import DigestAuthenticator, HA1File, MemoryCredentials, ha1_line
from rfc3261.message import Request
from rfc3261.tests.server_support import invite

REALM = "biloxi.example.com"


def authenticator(**kwargs) -> DigestAuthenticator:
    creds = MemoryCredentials.from_passwords(
        {"bob": "zanzibar"}, REALM, ("SHA-512-256", "SHA-256", "MD5")
    )
    kwargs.setdefault("secret", b"s" * 32)
    return DigestAuthenticator(REALM, creds, **kwargs)


def request(body: bytes = b"") -> Request:
    return invite("sip:carol@biloxi.example.com", from_="sip:bob@biloxi.example.com", body=body)


def answer(
    challenge: Challenge,
    req: Request,
    *,
    password: str = "zanzibar",
    nc: int = 1,
    qop: str | None = "auth",
    algorithm: str | None = None,
    header: str = "Authorization",
    realm: str | None = None,
) -> Request:
    """``req`` with credentials answering ``challenge`` added."""
    ch = DigestChallenge.from_header(challenge)
    algorithm = algorithm or ch.algorithm
    nc_text = f"{nc:08x}" if qop else None
    cnonce = "f2a3b4c5" if qop or (algorithm or "").lower().endswith("-sess") else None
    digest = compute_response(
        method=req.method,
        uri=str(req.uri),
        nonce=ch.nonce,
        realm=ch.realm,
        username="bob",
        password=password,
        algorithm=algorithm,
        qop=qop,
        nc=nc_text,
        cnonce=cnonce,
        body=req.body,
    )
    creds = DigestCredentials(
        username="bob",
        realm=realm or ch.realm,
        nonce=ch.nonce,
        uri=str(req.uri),
        response=digest,
        algorithm=algorithm,
        qop=qop,
        nc=nc_text,
        cnonce=cnonce,
    )
    req.headers.set(header, str(creds.to_header()))
    return req


##= https://www.rfc-editor.org/rfc/rfc8760#section-2.3
##= type=test
##% The UAS MUST add these header fields to the response in the order in
##% which it would prefer to see them used, starting with the most
##% preferred algorithm at the top.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.3
##= type=test
##% If the UAS challenges the originator using multiple WWW-Authenticate/
##% Proxy-Authenticate header fields with the same realm, then each of
##% these header fields MUST use a different digest algorithm.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##= type=test
##% However, servers MUST always send a "qop" parameter in
##% WWW-Authenticate and Proxy-Authenticate header field values.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
##= type=test
##% The WWW-Authenticate response-header field MUST be included in 401
##% (Unauthorized) response messages.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.7
##= type=test
##% If the server responds with multiple challenges, then each one of these
##% challenges MUST use a different digest algorithm.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.7
##= type=test
##% The server MUST add these challenges to the response in order of preference,
##% starting with the most preferred algorithm, followed by the less preferred
##% algorithm.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.3
##= type=test
##% The UAS MAY add multiple WWW-Authenticate/Proxy-Authenticate header fields
##% to allow the UAS to utilize the best available algorithm supported by the
##% client.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% Realm strings MUST be globally unique.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% It is RECOMMENDED that a realm string contain a hostname or domain name,
##% following the recommendation in Section 3.2.1 of RFC 2617 [17].
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% It is RECOMMENDED that this string be Base64 or hexadecimal data.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% Operators of user agents or proxy servers that will authenticate received
##% requests MUST adhere to the following guidelines for creation of a realm
##% string for their server:
def test_401_challenge_one_value_per_algorithm_in_preference_order() -> None:
    response = authenticator().challenge(request(), 0.0)
    assert response.status == 401
    values = [Challenge.parse(v) for v in response.headers.get_all("WWW-Authenticate")]
    assert [v.algorithm for v in values] == ["SHA-256", "MD5"]
    assert all(v.is_digest and v.realm == REALM for v in values)
    assert all(v.qop_options == ["auth", "auth-int"] for v in values)
    assert len({v.nonce for v in values}) == 2
    with pytest.raises(ValueError):
        authenticator(algorithms=("MD5", "md5"))


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% The proxy MUST populate the 407 (Proxy Authentication Required)
##% message with a Proxy-Authenticate header field value applicable to
##% the proxy for the requested resource.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.8
##= type=test
##% Upon receiving a request that requires authentication, the
##% proxy/server MUST issue the "407 Proxy Authentication Required"
##% response with a "Proxy-Authenticate" header field.
def test_proxy_mode_407_and_proxy_authorization() -> None:
    auth = authenticator(proxy=True, algorithms=("SHA-512-256", "SHA-256"))
    req = request()
    name, challenge = auth.authenticate(req, 0.0)
    assert name is None and challenge is not None and challenge.status == 407
    first = Challenge.parse(challenge.headers.get_all("Proxy-Authenticate")[0])
    assert first.algorithm == "SHA-512-256"
    assert "WWW-Authenticate" not in challenge.headers
    # Credentials in Authorization (not Proxy-Authorization) do not count for a proxy.
    assert not auth.check(answer(first, request()), 1.0).ok
    assert (
        auth.check(answer(first, request(), header="Proxy-Authorization"), 1.0).username == "bob"
    )


##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
##= type=test
##% A UAS MUST be able to properly handle a "qop" parameter received in
##% an Authorization/Proxy-Authorization header field
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
##= type=test
##% Proxy servers, redirect servers, registrars, and UAs MUST implement Digest
##% Authorization, encompassing all of the aspects required in 22.
def test_valid_credentials_every_algorithm_and_qop() -> None:
    for algorithm in ("SHA-256", "MD5"):
        auth = authenticator()
        challenge = next(c for c in auth.challenges(0.0) if c.algorithm == algorithm)
        for nc, qop in ((1, "auth"), (2, "auth-int")):
            req = answer(challenge, request(b"v=0\r\n"), nc=nc, qop=qop)
            assert auth.check(req, 1.0).username == "bob", (algorithm, qop)


def test_sess_algorithms_use_the_stored_ha1() -> None:
    auth = authenticator(algorithms=("SHA-256-sess", "MD5-sess"))
    for challenge in auth.challenges(0.0):
        assert auth.check(answer(challenge, request()), 1.0).ok


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##= type=test
##% Since RFC 2543 is based on HTTP Digest as defined in RFC 2069 [39],
##% SIP servers supporting RFC 2617 MUST ensure they are backwards
##% compatible with RFC 2069.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##= type=test
##% These mechanisms MUST be used by a server to determine if the client supports the
##% new mechanisms in RFC 2617 that were not specified in RFC 2069.
def test_rfc2069_credentials_without_qop_accepted_once() -> None:
    auth = authenticator(algorithms=("MD5",))
    [challenge] = auth.challenges(0.0)
    assert auth.check(answer(challenge, request(), qop=None), 1.0).ok
    again = auth.check(answer(challenge, request(), qop=None), 2.0)
    assert not again.ok and "replayed" in again.reason


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
##= type=test
##% Then, the server MUST perform the same digest operation (e.g., MD5, SHA-256)
##% performed by the client and compare the result to the given response value.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
##= type=test
##% Upon receiving the Authorization header field, the server MAY check its
##% validity by looking up the password that corresponds to the submitted
##% username.
def test_wrong_password_unknown_user_forged_nonce() -> None:
    auth = authenticator()
    [sha, md5] = auth.challenges(0.0)
    result = auth.check(answer(sha, request(), password="guess"), 1.0)
    assert not result.ok and not result.stale
    forged = Challenge.parse(str(sha).replace(sha.nonce or "", "0.1.2"))
    assert "not issued" in auth.check(answer(forged, request()), 1.0).reason
    # Another server with another secret does not accept our nonces.
    other = authenticator(secret=b"t" * 32)
    assert not other.check(answer(md5, request()), 1.0).ok


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
##= type=test
##% Its value MUST be one of the
##% alternatives the server indicated it supports in the
##% WWW-Authenticate header field.
def test_algorithm_not_offered_rejected() -> None:
    auth = authenticator(algorithms=("SHA-256",))
    [challenge] = auth.challenges(0.0)
    result = auth.check(answer(challenge, request(), algorithm="MD5"), 1.0)
    assert not result.ok and "not offered" in result.reason


def test_replayed_nonce_count_rejected() -> None:
    auth = authenticator()
    [challenge, _] = auth.challenges(0.0)
    assert auth.check(answer(challenge, request(), nc=1), 1.0).ok
    replay = auth.check(answer(challenge, request(), nc=1), 2.0)
    assert not replay.ok and not replay.stale and "replayed" in replay.reason
    assert auth.check(answer(challenge, request(), nc=3), 3.0).ok
    assert not auth.check(answer(challenge, request(), nc=2), 4.0).ok


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% The server SHOULD only set stale to true if it receives a request for
##% which the nonce is invalid.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
##= type=test
##% Alternatively, the server MAY return a 401 response with a new nonce value
##% in the WWW-Authenticate header field, causing the client to retry the
##% request; by specifying "stale=true" with this response, the server tells the
##% client to retry with the new nonce, but without prompting for a new username
##% and password.
def test_expired_nonce_gets_stale_true_challenge() -> None:
    auth = authenticator(nonce_lifetime=30.0)
    [challenge, _] = auth.challenges(0.0)
    name, response = auth.authenticate(answer(challenge, request()), 31.0)
    assert name is None and response is not None and response.status == 401
    fresh = [Challenge.parse(v) for v in response.headers.get_all("WWW-Authenticate")]
    assert all(c.stale for c in fresh)
    # A wrong password with an old nonce is not "stale": the user must be asked again.
    name, response = auth.authenticate(answer(challenge, request(), password="x"), 31.0)
    assert response is not None
    assert not any(Challenge.parse(v).stale for v in response.headers.get_all("WWW-Authenticate"))
    # The retry with the new nonce works.
    assert auth.check(answer(fresh[0], request()), 32.0).ok


def test_forgotten_nonce_is_stale_and_table_bounded() -> None:
    # Issue 23: only nonces in use are remembered (challenges store nothing), so
    # issuing many challenges forgets no nonce; using many forgets the oldest used.
    auth = authenticator(max_nonces=4)
    [old, _] = auth.challenges(0.0)
    for _ in range(10):
        auth.challenges(0.0)
    assert auth.check(answer(old, request()), 0.5).ok
    for at in (1.0, 2.0, 3.0, 4.0):
        [fresh, _] = auth.challenges(at)
        assert auth.check(answer(fresh, request()), at + 0.5).ok  # four more in use
    result = auth.check(answer(old, request(), nc=2), 5.0)
    assert result.stale and not result.ok
    assert len(auth._nonces) == 4


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% When multiple proxies are used in a chain, a Proxy-Authorization
##% header field value MUST NOT be consumed by any proxy whose realm does
##% not match the "realm" parameter specified in that value.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% Note that if an authentication scheme that does not support realms is used in the
##% Proxy-Authorization header field, a proxy server MUST attempt to parse all
##% Proxy-Authorization header field values to determine whether one of them has what
##% the proxy server considers to be valid credentials.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% Because this is potentially very time-consuming in large networks, proxy servers
##% SHOULD use an authentication scheme that supports realms in the Proxy-Authorization
##% header field.
def test_credentials_for_other_realms_ignored() -> None:
    auth = authenticator()
    [challenge, _] = auth.challenges(0.0)
    req = answer(challenge, request(), realm="atlanta.example.com")
    assert auth.credentials_for_realm(req) == []
    assert "no credentials" in auth.check(req, 1.0).reason


##= https://www.rfc-editor.org/rfc/rfc3261#section-22
##= type=test
##% Servers MUST NOT accept credentials using the "Basic"
##% authorization scheme, and servers also MUST NOT challenge with
##% "Basic".
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##= type=test
##% Note, however, that SIP servers MUST NOT accept or request Basic
##% authentication.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
##= type=test
##% SIP clients and servers MUST NOT accept or request Basic authentication.
def test_basic_never_accepted_nor_offered() -> None:
    auth = authenticator()
    req = request()
    req.headers.set("Authorization", "Basic Ym9iOnphbnppYmFy")
    assert not auth.check(req, 0.0).ok
    response = auth.challenge(req, 0.0)
    assert all(v.startswith("Digest ") for v in response.headers.get_all("WWW-Authenticate"))


def test_ha1_file_round_trip(tmp_path) -> None:
    path = tmp_path / "users.txt"
    path.write_text(
        "# user:realm:algorithm:ha1\n\n"
        + ha1_line("bob", REALM, "zanzibar", "SHA-256")
        + "\n"
        + ha1_line("bob", REALM, "zanzibar", "md5")
        + "\n"
    )
    assert "zanzibar" not in path.read_text()
    store = HA1File(path)
    assert store.ha1("bob", REALM, "MD5") == ha1("bob", REALM, "zanzibar", "MD5")
    assert store.ha1("bob", REALM, "SHA-256-sess") == ha1("bob", REALM, "zanzibar", "SHA-256")
    assert store.ha1("alice", REALM, "MD5") is None
    auth = DigestAuthenticator(REALM, store)
    [challenge, _] = auth.challenges(0.0)
    assert auth.check(answer(challenge, request()), 1.0).ok
    (tmp_path / "bad.txt").write_text("bob:only-two\n")
    with pytest.raises(ValueError):
        HA1File(tmp_path / "bad.txt")
    with pytest.raises(ValueError):
        ha1_line("b:ob", REALM, "x")


##= https://www.rfc-editor.org/rfc/rfc7616#section-4
##= type=test
##% In challenges, servers SHOULD use the "charset" authentication
##% parameter (case-insensitive) to express the character encoding they
##% expect the user agent to use when generating A1 (see Section 3.4.2)
##% and username hashing (see Section 3.4.4).
def test_challenges_say_charset_utf8() -> None:
    for value in authenticator().challenges(0.0):
        assert DigestChallenge.from_header(value).charset == "UTF-8"
        assert 'charset="UTF-8"' in str(value) or "charset=UTF-8" in str(value)


def _credentials(challenge: Challenge, req: Request, username: str, password: str) -> Request:
    ch = DigestChallenge.from_header(challenge)
    digest = compute_response(
        method=req.method,
        uri=str(req.uri),
        nonce=ch.nonce,
        realm=ch.realm,
        username=username,
        password=password,
        algorithm=ch.algorithm,
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
    )
    creds = DigestCredentials(
        username=username,
        realm=ch.realm,
        nonce=ch.nonce,
        uri=str(req.uri),
        response=digest,
        algorithm=ch.algorithm,
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
    )
    req.headers.set("Authorization", str(creds.to_header()))
    return req


##= https://www.rfc-editor.org/rfc/rfc7616#section-4
##= type=test
##% For the username, recipients MUST support all characters defined in
##% the "UsernameCasePreserved" profile defined in Section 3.3 of
##% [RFC7613], with the exception of the colon (":") character.
##= https://www.rfc-editor.org/rfc/rfc7616#section-4
##= type=test
##% For the password, recipients MUST support all characters defined in
##% the "OpaqueString" profile defined in Section 4.2 of [RFC7613].
##= https://www.rfc-editor.org/rfc/rfc7616#section-4
##= type=test
##% It indicates that the server expects
##% the username and password to be converted to Unicode Normalization
##% Form C ("NFC", see Section 3 of [RFC5198]) and to be encoded into
##% octets using the UTF-8 character encoding scheme [RFC3629].
def test_non_ascii_user_names_and_passwords_are_prepared_before_hashing() -> None:
    # Stored with a precomposed "é" and a no-break space; the client sends a decomposed
    # "é" (e + U+0301), fullwidth letters for the name, and an ideographic space.
    creds = MemoryCredentials.from_passwords({"Ren\u00e9": "mot\u00a0de passe"}, REALM)
    auth = DigestAuthenticator(REALM, creds, secret=b"s" * 32)
    challenge = auth.challenges(0.0)[0]
    req = _credentials(challenge, request(), "\uff32en\u0065\u0301", "mot\u3000de passe")
    assert auth.check(req, 1.0).ok
    # The wrong password still fails: preparation maps spaces, it does not drop them.
    req = _credentials(auth.challenges(0.0)[0], request(), "Ren\u00e9", "motde passe")
    assert not auth.check(req, 1.0).ok
    # A colon would split A1 ambiguously: a name with one is not prepared into another.
    assert ha1("a:b", REALM, "x") != ha1("a", REALM, "b:x")


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.6
##= type=test
##% A UAS MAY include this header field
##% in a 2xx response to a request that was successfully authenticated
##% using digest based on the Authorization header field.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.5
##= type=test
##% The server SHOULD use the same value for the qop parameter in the
##% response as was sent by the client in the corresponding request.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.5
##= type=test
##% The cnonce value and nc value MUST be the ones for the client request
##% to which this message is the response.
def test_authentication_info_proves_the_server_knows_the_secret() -> None:
    auth = authenticator()
    challenge = next(c for c in auth.challenges(0.0) if c.algorithm == "SHA-256")
    req = answer(challenge, request(b"v=0\r\n"), nc=3, qop="auth-int")
    assert auth.check(req, 1.0).ok
    info = auth.authentication_info(req, b"answer")
    assert info is not None
    assert (info.get("qop"), info.get("nc"), info.get("cnonce")) == (
        "auth-int",
        "00000003",
        "f2a3b4c5",
    )
    ch = DigestChallenge.from_header(challenge)
    expected = compute_rspauth(
        uri=str(req.uri),
        nonce=ch.nonce,
        realm=REALM,
        ha1_value=ha1("bob", REALM, "zanzibar", "SHA-256"),
        algorithm="SHA-256",
        qop="auth-int",
        nc="00000003",
        cnonce="f2a3b4c5",
        body=b"answer",
    )
    assert info.get("rspauth") == expected
    assert expected != req.header("Authorization")[0].params.get("response")
    # Wrong credentials, RFC 2069 credentials (no cnonce) and a proxy: no Authentication-Info.
    assert auth.authentication_info(answer(challenge, request(), password="nope")) is None
    assert auth.authentication_info(answer(challenge, request(), qop=None)) is None
    proxy = authenticator(proxy=True)
    proxied = answer(proxy.challenges(0.0)[0], request(), header="Proxy-Authorization")
    assert proxy.check(proxied, 1.0).ok and proxy.authentication_info(proxied) is None


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
##= type=test
##% The server implementation SHOULD be careful with the information
##% being logged so that it won't put a cleartext password (e.g., entered
##% into the username field) into the log.
def test_the_reasons_kept_for_logs_never_name_the_user_or_password() -> None:
    auth = authenticator()
    challenge = auth.challenges(0.0)[0]
    req = _credentials(challenge, request(), "zanzibar-typed-as-name", "zanzibar")
    result = auth.check(req, 1.0)
    assert not result.ok and result.reason == "unknown user"
    wrong = auth.check(answer(challenge, request(), password="s3cret-guess"), 1.0)
    assert "s3cret-guess" not in wrong.reason and "bob" not in wrong.reason
