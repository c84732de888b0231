"""The Digest client (RFC 3261 §22, RFC 7616, RFC 8760) against a scripted challenger."""

from __future__ import annotations

from rfc3261.auth_client import AuthClient, StaticCredentials
from rfc3261.auth_headers import Credentials
from rfc3261.digest import DigestChallenge, DigestCredentials, userhash
from rfc3261.message import Request, Response
from rfc3261.session import CallEstablished, IncomingCall
from rfc3261.tests.ua_support import Network, make_ua
from rfc3261.ua_core import ResponseEvent

REALM = "biloxi.example.com"
CREDS = StaticCredentials({REALM: ("bob", "zanzibar")})


class Challenger:
    """A UAS that wants Digest credentials (stateless script on the in-memory network)."""

    def __init__(
        self,
        *,
        status: int = 401,
        stale_first: bool = False,
        always: bool = False,
        extra: tuple[str, ...] = (),
        algorithm: str = "MD5",
        userhash: bool = False,
    ) -> None:
        self.status = status
        self.stale_first = stale_first
        self.always = always
        self.extra = extra
        self.algorithm = algorithm
        self.userhash = userhash
        self.nonces = 0
        self.seen: list[Request] = []
        self.nc_seen: list[str] = []

    @property
    def header(self) -> str:
        return "WWW-Authenticate" if self.status == 401 else "Proxy-Authenticate"

    def challenge(self, request: Request, stale: bool = False) -> Response:
        self.nonces += 1
        response = request.make_response(self.status, to_tag="ch")
        for value in self.extra:
            response.headers.add(self.header, value)
        challenge = DigestChallenge(
            realm=REALM,
            nonce=f"nonce{self.nonces}",
            algorithm=self.algorithm,
            qop=["auth"],
            opaque="op",
            stale=stale,
            userhash=self.userhash,
        )
        response.headers.add(self.header, str(challenge.to_header()))
        return response

    def __call__(self, request: Request) -> list[Response]:
        self.seen.append(request)
        if request.method == "ACK":
            return []
        name = "Authorization" if self.status == 401 else "Proxy-Authorization"
        values: list[Credentials] = request.header(name) or []
        if self.always or not values:
            return [self.challenge(request)]
        creds = DigestCredentials.from_header(values[0])
        self.nc_seen.append(creds.nc or "")
        if self.stale_first and creds.nonce == "nonce1":
            return [self.challenge(request, stale=True)]
        expected_user = userhash("bob", REALM, self.algorithm) if self.userhash else "bob"
        if not self.userhash:
            good = creds.username == expected_user and creds.response == (
                creds.expected_response(request.method, password="zanzibar")
            )
        else:
            from rfc3261.digest import compute_response

            good = creds.response == compute_response(
                username="bob",
                password="zanzibar",
                realm=REALM,
                method=request.method,
                uri=creds.uri,
                nonce=creds.nonce,
                algorithm=creds.algorithm,
                qop=creds.qop,
                nc=creds.nc,
                cnonce=creds.cnonce,
            )
        if not good or creds.opaque != "op" or creds.uri != str(request.uri):
            return [self.challenge(request)]
        response = request.make_response(200, to_tag="ok")
        if request.method == "INVITE":
            response.headers.add("Contact", "<sip:bob@bob.example.com>")
        return [response]


def setup(challenger: Challenger, **config) -> tuple[Network, object]:
    net = Network()
    config.setdefault("credentials", CREDS)
    alice = net.add_ua(make_ua("alice", seed=5, **config))
    net.add_script("bob.example.com", challenger)
    return net, alice


def options(net: Network, alice) -> object:
    client, effects = alice.ua.request("OPTIONS", "sip:bob@bob.example.com", net.now)
    net.call(alice, effects)
    net.run(net.now + 1.0)
    return client


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
##= type=test
##% When the originating UAC receives the 401 (Unauthorized), it SHOULD,
##% if it is able, re-originate the request with the proper credentials.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
##= type=test
##% When a UAC resubmits a request with its credentials after receiving a
##% 401 (Unauthorized) or 407 (Proxy Authentication Required) response,
##% it MUST increment the CSeq header field value as it would normally
##% when sending an updated request.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
##= type=test
##% A UAS MUST always send a "qop" parameter in WWW-Authenticate and
##% Proxy-Authenticate header field values, and a UAC MUST send the
##% "qop" parameter in any resulting authorization header field.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% A string of data, specified by the server, that SHOULD be returned
##% by the client unchanged in the Authorization header field of
##% subsequent requests with URIs in the same protection space.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.5
##= type=test
##% If a 401 (Unauthorized) or 407 (Proxy Authentication Required) response is received, the
##% UAC SHOULD follow the authorization procedures of Section 22.2 and Section 22.3 to retry
##% the request with credentials.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##= type=test
##% If a client receives a "qop" parameter in a challenge header field, it MUST send the "qop"
##% parameter in any resulting authorization header field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##= type=test
##% RFC 2617 notes that a cnonce value MUST NOT be sent in an Authorization (and by extension
##% Proxy-Authorization) header field if no qop directive has been sent.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.6
##= type=test
##% but it MUST agree with the request-target.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% This parameter MUST be used by all implementations.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
##= type=test
##% This parameter MUST be used by all implementations.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
##= type=test
##% and a UAC MUST be able to properly handle a "qop" parameter received in
##% WWW-Authenticate and Proxy-Authenticate header fields.
def test_401_then_success() -> None:
    challenger = Challenger()
    net, alice = setup(challenger)
    options(net, alice)
    first, second = challenger.seen
    assert "Authorization" not in first.headers
    assert second.cseq.number == first.cseq.number + 1
    assert second.top_via.branch != first.top_via.branch
    assert (second.call_id, second.from_.tag) == (first.call_id, first.from_.tag)
    creds = DigestCredentials.from_header(second.header("Authorization")[0])
    assert creds.qop == "auth" and creds.nc == "00000001" and creds.opaque == "op"
    assert creds.cnonce  # sent together with qop
    assert creds.uri == str(second.uri)
    assert [e.response.status for e in alice.of(ResponseEvent)] == [200]


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% When the originating UAC receives the 407 (Proxy Authentication
##% Required) it SHOULD, if it is able, re-originate the request with the
##% proper credentials.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% UACs creating an ACK message
##% will duplicate all of the Authorization and Proxy-Authorization
##% header field values that appeared in the INVITE to which the ACK
##% corresponds.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% If a UA receives a Proxy-Authenticate header field value in a 401/407
##% response to a request with a particular Call-ID, it should
##% incorporate credentials for that realm in all subsequent requests
##% that contain the same Call-ID.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% The ACK MUST contain the same credentials as the INVITE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% The same credentials SHOULD be used for the same realm.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% Any UA that wishes to authenticate itself to a proxy server -- usually, but not
##% necessarily, after receiving a 407 (Proxy Authentication Required) response -- MAY do so
##% by including a Proxy-Authorization header field value with the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% The following rule is RECOMMENDED for proxy credential caching:
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.8
##= type=test
##% This code is similar to 401 (Unauthorized), but indicates that the client MUST first
##% authenticate itself with the proxy.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.8
##= type=test
##% The client/proxy MUST then reissue the request with a
##% Proxy-Authorization header field, with parameters as specified for the
##% Authorization header field in Section 3.4 above.
def test_407_on_invite_and_the_ack_carries_the_credentials() -> None:
    challenger = Challenger(status=407)
    net, alice = setup(challenger)
    call, effects = alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0)
    net.call(alice, effects)
    net.run(1.0)
    methods = [r.method for r in challenger.seen]
    assert methods == ["INVITE", "ACK", "INVITE", "ACK"]
    invite, ack = challenger.seen[2], challenger.seen[3]
    assert ack.headers.get_all("Proxy-Authorization") == invite.headers.get_all(
        "Proxy-Authorization"
    )
    assert len(alice.of(CallEstablished)) == 1
    # A BYE in the same call carries credentials up front, with the next nonce count.
    net.call(alice, alice.ua.sessions.bye(call, net.now))
    net.run(2.0)
    bye = challenger.seen[-1]
    assert bye.method == "BYE"
    assert DigestCredentials.from_header(bye.header("Proxy-Authorization")[0]).nc == "00000002"


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% A UAC MUST NOT re-attempt requests with the credentials
##% that have just been rejected (though the request may be retried if
##% the nonce was stale).
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% If
##% stale is false, or anything other than true, or the stale
##% parameter is not present, the username and/or password are
##% invalid, and new values MUST be obtained.
def test_stale_nonce_is_retried_but_rejected_credentials_are_not() -> None:
    challenger = Challenger(stale_first=True)
    net, alice = setup(challenger)
    options(net, alice)
    assert len(challenger.seen) == 3
    assert [e.response.status for e in alice.of(ResponseEvent)] == [200]
    wrong = Challenger()
    net, alice = setup(wrong, credentials=StaticCredentials({REALM: ("bob", "wrong")}))
    options(net, alice)
    assert len(wrong.seen) == 2  # one retry, then the 401 reaches the application
    assert [e.response.status for e in alice.of(ResponseEvent)] == [401]


def test_endless_401s_stop_after_a_bound() -> None:
    challenger = Challenger(always=True, stale_first=False)
    # Every challenge is fresh and stale=true would allow a retry: the bound still holds.
    challenger.challenge_stale = True
    original = challenger.challenge
    challenger.challenge = lambda request, stale=False: original(request, stale=True)  # type: ignore[method-assign]
    net, alice = setup(challenger, max_auth_attempts=3)
    options(net, alice)
    assert len(challenger.seen) == 4  # the first request and three retries
    assert [e.response.status for e in alice.of(ResponseEvent)] == [401]


##= https://www.rfc-editor.org/rfc/rfc8760#section-2.4
##= type=test
##% The client MUST ignore any challenge it does not
##% understand.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.4
##= type=test
##% When the UAC receives a response with multiple WWW-Authenticate/
##% Proxy-Authenticate header fields with the same realm, it SHOULD use
##% the topmost header field that it supports unless a local policy
##% dictates otherwise.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% If the algorithm is not understood, the challenge SHOULD
##% be ignored (and a different one used, if there is more than one).
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.7
##= type=test
##% When the client receives the first challenge, it SHOULD use the first
##% challenge it supports, unless a local policy dictates otherwise.
def test_topmost_supported_challenge_is_used() -> None:
    challenger = Challenger(
        extra=(
            f'Digest realm="{REALM}", nonce="x", algorithm=SHA-1, qop="auth"',
            'Basic realm="whatever"',
        ),
        algorithm="SHA-256",
    )
    net, alice = setup(challenger)
    options(net, alice)
    creds = DigestCredentials.from_header(challenger.seen[1].header("Authorization")[0])
    assert creds.algorithm == "SHA-256" and len(creds.response) == 64
    assert [e.response.status for e in alice.of(ResponseEvent)] == [200]


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% Unrecognized options MUST be ignored.
def test_a_challenge_with_only_unknown_qop_options_is_passed_over() -> None:
    unknown = f'Digest realm="{REALM}", nonce="x", algorithm=SHA-256, qop="x-fancy"'
    challenger = Challenger(extra=(unknown,), algorithm="SHA-256")
    net, alice = setup(challenger)
    options(net, alice)
    creds = DigestCredentials.from_header(challenger.seen[1].header("Authorization")[0])
    assert (creds.nonce, creds.qop) == ("nonce1", "auth")
    assert [e.response.status for e in alice.of(ResponseEvent)] == [200]


##= https://www.rfc-editor.org/rfc/rfc7616#section-5.6
##= type=test
##% A user agent MUST choose to use the strongest auth-scheme it understands
##% and request credentials from the user based upon that challenge.
##= https://www.rfc-editor.org/rfc/rfc7616#section-5.8
##= type=test
##% For this reason, the client SHOULD always use the strongest scheme that
##% it understands from the choices offered.
def test_basic_offered_first_is_passed_over_for_digest() -> None:
    challenger = Challenger(extra=('Basic realm="whatever"',), algorithm="SHA-256")
    net, alice = setup(challenger)
    options(net, alice)
    retried = challenger.seen[1]
    assert [v.scheme.lower() for v in retried.header("Authorization")] == ["digest"]
    assert [e.response.status for e in alice.of(ResponseEvent)] == [200]


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.4
##= type=test
##% If the client supports the userhash parameter, and the userhash
##% parameter value in the WWW-Authentication header field is set to
##% "true", then the client MUST calculate a hash of the username after
##% any other hash calculation and include the userhash parameter with
##% the value of "true" in the Authorization header field.
def test_userhash_and_sha512_256() -> None:
    challenger = Challenger(algorithm="SHA-512-256", userhash=True)
    net, alice = setup(challenger)
    options(net, alice)
    creds = DigestCredentials.from_header(challenger.seen[1].header("Authorization")[0])
    assert creds.userhash and creds.username == userhash("bob", REALM, "SHA-512-256")
    assert [e.response.status for e in alice.of(ResponseEvent)] == [200]


##= https://www.rfc-editor.org/rfc/rfc8760#section-2.4
##= type=test
##% If the UAC cannot respond to any of the challenges in the response,
##% then it SHOULD abandon attempts to send the request unless a local
##% policy dictates otherwise, e.g., the policy might indicate the use of
##% non-Digest mechanisms.
def test_no_credentials_for_the_realm_gives_up() -> None:
    challenger = Challenger()
    net, alice = setup(challenger, credentials=StaticCredentials({"elsewhere": ("a", "b")}))
    options(net, alice)
    assert len(challenger.seen) == 1
    assert [e.response.status for e in alice.of(ResponseEvent)] == [401]


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
##= type=test
##% Once credentials have been located, any UA that wishes to authenticate itself with a UAS
##% or registrar -- usually, but not necessarily, after receiving a 401 (Unauthorized)
##% response -- MAY do so by including an Authorization header field with the request.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
##= type=test
##% This parameter MUST be used by all implementations.  The nc
##% parameter stands for "nonce count".  The nc value is the
##% hexadecimal count of the number of requests (including the current request)
##% that the client has sent with the nonce value in this request.
def test_nonce_count_increments_per_nonce() -> None:
    client = AuthClient(CREDS, max_attempts=5)
    ua = make_ua("alice")
    request = ua.build_request("OPTIONS", "sip:bob@example.com")
    challenger = Challenger()
    challenge = challenger.challenge(request)
    first = client.authorize(request, challenge, 0)
    assert first is not None
    again = ua.build_request("OPTIONS", "sip:bob@example.com", call_id=request.call_id)
    client.preauthorize(again)
    ncs = [DigestCredentials.from_header(r.header("Authorization")[0]).nc for r in (first, again)]
    assert ncs == ["00000001", "00000002"]
    cnonces = {
        DigestCredentials.from_header(r.header("Authorization")[0]).cnonce for r in (first, again)
    }
    assert len(cnonces) == 2
    client.forget(request.call_id)
    other = ua.build_request("OPTIONS", "sip:carol@example.com", call_id=request.call_id)
    client.preauthorize(other)
    assert "Authorization" not in other.headers


def test_incoming_call_unaffected_by_auth_client() -> None:
    # The UAS side never challenges in this module: INVITEs reach the application.
    net = Network()
    alice = net.add_ua(make_ua("alice", seed=1))
    bob = net.add_ua(make_ua("bob", seed=2, credentials=CREDS))
    net.call(alice, alice.ua.sessions.invite("sip:bob@bob.example.com", 0.0)[1])
    net.run(0.5)
    assert len(bob.of(IncomingCall)) == 1


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% When resubmitting its request in response to a 401 (Unauthorized) or
##% 407 (Proxy Authentication Required) that contains multiple
##% challenges, a UAC MAY include an Authorization value for each WWW-
##% Authenticate value and a Proxy-Authorization value for each Proxy-
##% Authenticate value for which the UAC wishes to supply a credential.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.4
##= type=test
##% When the UAC receives a 401 response with multiple WWW-Authenticate
##% header fields with different realms, it SHOULD retry and add an
##% Authorization header field containing credentials that match the
##% topmost header field of any of the realms unless a local policy
##% dictates otherwise.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% As noted above, multiple credentials in a request SHOULD be
##% differentiated by the "realm" parameter.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.1
##= type=test
##% When the UAC receives the challenge, it SHOULD either prompt the user for
##% credentials or take an appropriate credential from a keyring corresponding to the
##% "realm" parameter in the challenge.
def test_one_credential_per_realm() -> None:
    creds = StaticCredentials({REALM: ("bob", "zanzibar"), "other.example.com": ("b", "x")})
    client = AuthClient(creds)
    ua = make_ua("alice")
    request = ua.build_request("OPTIONS", "sip:bob@example.com")
    response = request.make_response(401, to_tag="t")
    for realm, nonce in ((REALM, "n1"), ("other.example.com", "n2"), (REALM, "n3")):
        challenge = DigestChallenge(realm=realm, nonce=nonce, qop=["auth"])
        response.headers.add("WWW-Authenticate", str(challenge.to_header()))
    retry = client.authorize(request, response, 0)
    assert retry is not None
    values = [DigestCredentials.from_header(v) for v in retry.header("Authorization")]
    assert [(v.realm, v.nonce) for v in values] == [(REALM, "n1"), ("other.example.com", "n2")]


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% These credentials MUST NOT be cached
##% across dialogs
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
##= type=test
##% Once authentication credentials have been supplied
##% (either directly by the user, or discovered in an internal keyring),
##% UAs SHOULD cache the credentials for a given value of the To header
##% field and "realm" and attempt to re-use these values on the next
##% request for that destination.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% The UAC SHOULD also cache the credentials used in the re-originated
##% request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.2
##= type=test
##% The UA SHOULD reuse cached credentials in the INVITE to avoid prompting the user
##% unnecessarily.
def test_credential_caching_scope() -> None:
    client = AuthClient(CREDS)
    ua = make_ua("alice")
    for status, header in ((401, "WWW-Authenticate"), (407, "Proxy-Authenticate")):
        request = ua.build_request("OPTIONS", "sip:bob@example.com")
        response = request.make_response(status, to_tag="t")
        response.headers.add(
            header, str(DigestChallenge(REALM, f"n{status}", qop=["auth"]).to_header())
        )
        assert client.authorize(request, response, 0) is not None
    # A new dialog (new Call-ID) to the same To: Authorization yes, Proxy-Authorization no.
    fresh = ua.build_request("INVITE", "sip:bob@example.com")
    client.preauthorize(fresh)
    assert "Authorization" in fresh.headers and "Proxy-Authorization" not in fresh.headers
    elsewhere = ua.build_request("INVITE", "sip:carol@example.com")
    client.preauthorize(elsewhere)
    assert "Authorization" not in elsewhere.headers


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.5
##= type=test
##% If the nextnonce field is present, the
##% client SHOULD use it when constructing the Authorization header
##% field for its next request.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
##= type=test
##% A client SHOULD remember the username, password, nonce, nonce count,
##% and opaque values associated with an authentication session to use to
##% construct the Authorization header field in future requests within
##% that protection space.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
##= type=test
##% The Authorization header field MAY be
##% included preemptively; doing so improves server efficiency and avoids
##% extra round trips for authentication challenges.
def test_nextnonce_is_used_for_the_next_request() -> None:
    challenger = Challenger()
    original = challenger.__call__

    def with_nextnonce(request: Request) -> list[Response]:
        responses = original(request)
        for response in responses:
            if response.status == 200:
                response.headers.add("Authentication-Info", 'nextnonce="fresh", qop=auth')
        return responses

    net, alice = setup(challenger)
    net.nodes["bob.example.com"].script = with_nextnonce
    client = options(net, alice)
    again, _ = alice.ua.request(
        "OPTIONS", "sip:bob@bob.example.com", net.now, call_id=client.request.call_id
    )
    creds = DigestCredentials.from_header(again.request.header("Authorization")[0])
    assert creds.nonce == "fresh" and creds.nc == "00000001" and creds.opaque == "op"
