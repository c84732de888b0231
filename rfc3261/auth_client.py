"""The Digest client: answering 401 and 407 challenges (RFC 3261 §22.2-§22.4, RFC 8760 §2.4).

:class:`AuthClient` turns a request and the 401/407 response to it into the
same request with credentials added (the UA core then gives it a new CSeq and
a new branch, §22.2 and §8.1.3.5), or says "give up" (None).  It keeps the
nonce count of every nonce it answered, remembers challenges per Call-ID so
that later requests with that Call-ID carry credentials up front (§22.3), and
stops after a bounded number of attempts, so a server that answers every
request with a fresh 401 cannot keep the client busy forever.

Passwords come from a :class:`CredentialsProvider` (one method, ``lookup``);
:class:`StaticCredentials` is the simple dict-backed one.  No I/O, no clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Protocol

from .auth_headers import Challenge, parse_authentication_info
from .digest import (
    PREFERENCE,
    DigestChallenge,
    DigestCredentials,
    base_algorithm,
    compute_response,
    format_nc,
    is_supported,
    userhash,
)
from .message import Request, Response, parse

__all__ = ["AuthClient", "CredentialsProvider", "StaticCredentials"]


class CredentialsProvider(Protocol):
    """Where the client finds a username and password for a realm."""

    def lookup(self, realm: str) -> tuple[str, str] | None:
        """``(username, password)`` for ``realm``, or None when there are none."""


@dataclass
class StaticCredentials:
    """Credentials per realm, with an optional fallback for any realm."""

    by_realm: dict[str, tuple[str, str]] = field(default_factory=dict)
    default: tuple[str, str] | None = None

    def lookup(self, realm: str) -> tuple[str, str] | None:
        return self.by_realm.get(realm, self.default)


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.8
##% The client/proxy MUST then reissue the request with a
##% Proxy-Authorization header field, with parameters as specified for the
##% Authorization header field in Section 3.4 above.
# (challenge header, credentials header) for 401 and 407.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.8
##% This code is similar to 401 (Unauthorized), but indicates that the client MUST first
##% authenticate itself with the proxy.
_HEADERS = {
    401: ("WWW-Authenticate", "Authorization"),
    407: ("Proxy-Authenticate", "Proxy-Authorization"),
}


class AuthClient:
    """Builds retried requests with Digest credentials and keeps nonce counts."""

    def __init__(
        self,
        provider: CredentialsProvider | None,
        *,
        rng: random.Random | None = None,
        max_attempts: int = 3,
    ) -> None:
        self.provider = provider
        self.rng = rng or random.SystemRandom()
        self.max_attempts = max_attempts
        self.nonce_counts: dict[str, int] = {}
        # Call-ID -> {(credentials header, realm): challenge} for later requests.
        self._cache: dict[str, dict[tuple[str, str], DigestChallenge]] = {}
        # (To URI, realm) -> challenge, for Authorization (not proxy) credentials only.
        self._by_to: dict[tuple[str, str], DigestChallenge] = {}

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
    ##% When the originating UAC receives the 401 (Unauthorized), it SHOULD,
    ##% if it is able, re-originate the request with the proper credentials.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
    ##% When the originating UAC receives the 407 (Proxy Authentication
    ##% Required) it SHOULD, if it is able, re-originate the request with the
    ##% proper credentials.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.5
    ##% If a 401 (Unauthorized) or 407 (Proxy Authentication Required)
    ##% response is received, the UAC SHOULD follow the authorization
    ##% procedures of Section 22.2 and Section 22.3 to retry the request with
    ##% credentials.
    def authorize(self, request: Request, response: Response, attempt: int) -> Request | None:
        """A copy of ``request`` answering the challenges of ``response``; None to give up.

        ``attempt`` counts the retries already made for this request; at
        ``max_attempts`` the client gives up (an endless stream of 401s stops).
        The caller sets the new CSeq and Via branch.
        """
        if response.status not in _HEADERS or attempt >= self.max_attempts:
            return None
        challenge_header, credentials_header = _HEADERS[response.status]
        chosen = self._choose(response, challenge_header)
        if not chosen:
            ##= https://www.rfc-editor.org/rfc/rfc8760#section-2.4
            ##= verify=absence
            ##= reason=giving up is returning None, as falling off the end also does
            ##% If the UAC cannot respond to any of the challenges in the response,
            ##% then it SHOULD abandon attempts to send the request unless a local
            ##% policy dictates otherwise, e.g., the policy might indicate the use of
            ##% non-Digest mechanisms.
            return None
        previous = _credentials_by_realm(request, credentials_header)
        retry = _copy(request)
        answered = 0
        for realm, challenge in chosen.items():
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
            ##% A UAC MUST NOT re-attempt requests with the credentials
            ##% that have just been rejected (though the request may be retried if
            ##% the nonce was stale).
            if realm in previous and not challenge.stale:
                continue
            credentials = self._answer(retry, challenge)
            if credentials is None:
                continue
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
            ##% As noted above, multiple credentials in a request SHOULD be
            ##% differentiated by the "realm" parameter.
            _remove_realm(retry, credentials_header, realm)
            retry.headers.add(credentials_header, str(credentials.to_header()))
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
            ##% The UAC SHOULD also cache the credentials used in the re-originated
            ##% request.
            self._cache.setdefault(request.call_id, {})[(credentials_header, realm)] = challenge
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
            ##% Once authentication credentials have been supplied
            ##% (either directly by the user, or discovered in an internal keyring),
            ##% UAs SHOULD cache the credentials for a given value of the To header
            ##% field and "realm" and attempt to re-use these values on the next
            ##% request for that destination.
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.2
            ##% The UA SHOULD reuse cached credentials in the INVITE to avoid prompting the user
            ##% unnecessarily.
            if credentials_header == "Authorization":
                self._by_to[(str(request.to.uri), realm)] = challenge
            answered += 1
        return retry if answered else None

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
    ##% Once credentials have been located, any UA that wishes to
    ##% authenticate itself with a UAS or registrar -- usually, but not
    ##% necessarily, after receiving a 401 (Unauthorized) response -- MAY do
    ##% so by including an Authorization header field with the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
    ##% Any UA that wishes to authenticate itself to a proxy server --
    ##% usually, but not necessarily, after receiving a 407 (Proxy
    ##% Authentication Required) response -- MAY do so by including a Proxy-
    ##% Authorization header field value with the request.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
    ##% The following rule is RECOMMENDED for proxy credential caching:
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
    ##% A client SHOULD remember the username, password, nonce, nonce count,
    ##% and opaque values associated with an authentication session to use to
    ##% construct the Authorization header field in future requests within
    ##% that protection space.
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
    ##% The Authorization header field MAY be
    ##% included preemptively; doing so improves server efficiency and avoids
    ##% extra round trips for authentication challenges.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
    ##% If a UA receives a Proxy-Authenticate header field value in a 401/407
    ##% response to a request with a particular Call-ID, it should
    ##% incorporate credentials for that realm in all subsequent requests
    ##% that contain the same Call-ID.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
    ##% These credentials MUST NOT be cached
    ##% across dialogs
    def preauthorize(self, request: Request) -> None:
        """Add credentials for the realms that challenged earlier requests with this Call-ID."""
        known: dict[tuple[str, str], DigestChallenge] = {}
        to = str(request.to.uri)
        for (to_uri, realm), challenge in self._by_to.items():
            if to_uri == to:
                known[("Authorization", realm)] = challenge
        known.update(self._cache.get(request.call_id, {}))
        for (header, realm), challenge in known.items():
            if realm in _credentials_by_realm(request, header):
                continue
            credentials = self._answer(request, challenge)
            if credentials is not None:
                request.headers.add(header, str(credentials.to_header()))

    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.5
    ##% If the nextnonce field is present, the
    ##% client SHOULD use it when constructing the Authorization header
    ##% field for its next request.
    def authentication_info(self, request: Request, response: Response) -> None:
        """Take the nextnonce of a response's (Proxy-)Authentication-Info for the next request."""
        for info_header, credentials_header in (
            ("Authentication-Info", "Authorization"),
            ("Proxy-Authentication-Info", "Proxy-Authorization"),
        ):
            text = response.headers.get(info_header)
            if text is None:
                continue
            try:
                nextnonce = parse_authentication_info(text).get("nextnonce")
            except ValueError:
                continue
            if not nextnonce:
                continue
            cached = self._cache.get(request.call_id, {})
            for realm in _credentials_by_realm(request, credentials_header):
                challenge = cached.get((credentials_header, realm))
                if challenge is not None:
                    cached[(credentials_header, realm)] = replace(challenge, nonce=nextnonce)

    def forget(self, call_id: str) -> None:
        """Drop the challenges cached for ``call_id`` (its dialog ended)."""
        self._cache.pop(call_id, None)

    # -- helpers ------------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc8760#section-2.4
    ##% When the UAC receives a response with multiple WWW-Authenticate/
    ##% Proxy-Authenticate header fields with the same realm, it SHOULD use
    ##% the topmost header field that it supports unless a local policy
    ##% dictates otherwise.
    ##= https://www.rfc-editor.org/rfc/rfc8760#section-2.4
    ##% The client MUST ignore any challenge it does not
    ##% understand.
    ##= https://www.rfc-editor.org/rfc/rfc8760#section-2.4
    ##% When the UAC receives a 401 response with multiple WWW-Authenticate
    ##% header fields with different realms, it SHOULD retry and add an
    ##% Authorization header field containing credentials that match the
    ##% topmost header field of any of the realms unless a local policy
    ##% dictates otherwise.
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
    ##% If the algorithm is not understood, the challenge SHOULD
    ##% be ignored (and a different one used, if there is more than one).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
    ##% When resubmitting its request in response to a 401 (Unauthorized) or
    ##% 407 (Proxy Authentication Required) that contains multiple
    ##% challenges, a UAC MAY include an Authorization value for each WWW-
    ##% Authenticate value and a Proxy-Authorization value for each Proxy-
    ##% Authenticate value for which the UAC wishes to supply a credential.
    def _choose(self, response: Response, header: str) -> dict[str, DigestChallenge]:
        """The topmost supported Digest challenge of each realm, in order."""
        chosen: dict[str, DigestChallenge] = {}
        try:
            values: list[Challenge] = response.header(header) or []
        except ValueError:
            return chosen
        for value in values:
            ##= https://www.rfc-editor.org/rfc/rfc7616#section-5.6
            ##% A user agent MUST choose to use the strongest auth-scheme it understands
            ##% and request credentials from the user based upon that challenge.
            ##= https://www.rfc-editor.org/rfc/rfc7616#section-5.8
            ##% For this reason, the client SHOULD always use the strongest scheme that
            ##% it understands from the choices offered.
            try:
                challenge = DigestChallenge.from_header(value, proxy=header.startswith("Proxy"))
            except ValueError:
                continue  # Basic (never answered: Digest is stronger), or a broken Digest
            ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.7
            ##% When the client receives the first challenge, it SHOULD use the first
            ##% challenge it supports, unless a local policy dictates otherwise.
            if not is_supported(challenge.algorithm) or challenge.realm in chosen:
                continue
            ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
            ##% Unrecognized options MUST be ignored.
            qop = challenge.qop
            if qop and "auth" not in qop and "auth-int" not in qop:
                continue  # nothing but unrecognized qop options
            chosen[challenge.realm] = challenge
        return chosen

    def _answer(self, request: Request, challenge: DigestChallenge) -> DigestCredentials | None:
        """Credentials for ``request`` answering ``challenge``; None without a password."""
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
        ##% The same credentials SHOULD be used for the same realm.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
        ##% The
        ##% realm string alone defines the protection domain.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.1
        ##% When the UAC receives the challenge, it SHOULD either prompt the user for
        ##% credentials or take an appropriate credential from a keyring corresponding to the
        ##% "realm" parameter in the challenge.
        found = self.provider.lookup(challenge.realm) if self.provider else None
        if found is None:
            return None
        username, password = found
        ##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
        ##% If the "qop" parameter is not specified, then the default value
        ##% is "auth".
        ##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
        ##% A UAS MUST always send a "qop" parameter in WWW-Authenticate and
        ##% Proxy-Authenticate header field values, and a UAC MUST send the
        ##% "qop" parameter in any resulting authorization header field.
        ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
        ##% Its value MUST be one of the alternatives the server
        ##% indicated it supports in the WWW-Authenticate header field.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
        ##% If a client receives a "qop" parameter in a challenge header field, it
        ##% MUST send the "qop" parameter in any resulting authorization header
        ##% field.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
        ##% RFC 2617 notes that a cnonce value MUST NOT be sent in an
        ##% Authorization (and by extension Proxy-Authorization) header field if
        ##% no qop directive has been sent.
        ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
        ##% This parameter MUST be used by all implementations.
        ##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
        ##% and a UAC MUST be able to properly handle a "qop" parameter received in
        ##% WWW-Authenticate and Proxy-Authenticate header fields.
        qop = "auth" if not challenge.qop or "auth" in challenge.qop else "auth-int"
        ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
        ##% This parameter MUST be used by all implementations.  The nc
        ##% parameter stands for "nonce count".  The nc value is the
        ##% hexadecimal count of the number of requests (including the current
        ##% request) that the client has sent with the nonce value in this
        ##% request.
        count = self.nonce_counts.get(challenge.nonce, 0) + 1
        self.nonce_counts[challenge.nonce] = count
        ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
        ##% The cnonce
        ##% value is an opaque quoted ASCII-only string value provided by the
        ##% client and used by both client and server to avoid chosen
        ##% plaintext attacks, to provide mutual authentication, and to
        ##% provide some message integrity protection.
        ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
        ##% This parameter MUST be used by all implementations.
        cnonce = f"{self.rng.getrandbits(64):016x}"
        ##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
        ##% The ABNF for digest-uri-value is:
        ##%
        ##% digest-uri-value  =  Request-URI
        ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.6
        ##% but it MUST agree with the request-target.
        uri = str(request.uri)
        response = compute_response(
            username=username,
            password=password,
            realm=challenge.realm,
            method=request.method,
            uri=uri,
            nonce=challenge.nonce,
            algorithm=challenge.algorithm,
            qop=qop,
            nc=format_nc(count),
            cnonce=cnonce,
            body=request.body,
        )
        ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.4
        ##% If the client supports the userhash parameter, and the userhash
        ##% parameter value in the WWW-Authentication header field is set to
        ##% "true", then the client MUST calculate a hash of the username after
        ##% any other hash calculation and include the userhash parameter with
        ##% the value of "true" in the Authorization header field.
        name = (
            userhash(username, challenge.realm, challenge.algorithm)
            if challenge.userhash
            else username
        )
        ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
        ##% A string of data, specified by the server, that SHOULD be returned
        ##% by the client unchanged in the Authorization header field of
        ##% subsequent requests with URIs in the same protection space.
        return DigestCredentials(
            username=name,
            realm=challenge.realm,
            nonce=challenge.nonce,
            uri=uri,
            response=response,
            algorithm=challenge.algorithm,
            qop=qop,
            nc=format_nc(count),
            cnonce=cnonce,
            opaque=challenge.opaque,
            userhash=challenge.userhash,
        )


def preferred(challenges: list[DigestChallenge]) -> DigestChallenge | None:
    """The challenge with the strongest algorithm this module supports (local policy)."""
    ranked = sorted(challenges, key=lambda c: PREFERENCE.index(base_algorithm(c.algorithm)))
    return ranked[0] if ranked else None


def _copy(request: Request) -> Request:
    copy = parse(bytes(request))
    assert isinstance(copy, Request)
    return copy


def _credentials_by_realm(request: Request, header: str) -> set[str]:
    realms = set()
    try:
        values = request.header(header) or []
    except ValueError:
        return realms
    for value in values:
        realm = value.realm
        if realm is not None:
            realms.add(realm)
    return realms


def _remove_realm(request: Request, header: str, realm: str) -> None:
    kept = []
    for value in request.header(header) or []:
        if value.realm != realm:
            kept.append(str(value))
    request.headers.remove(header)
    for value in kept:
        request.headers.add(header, value)
