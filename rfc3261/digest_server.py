"""Digest authentication, server side (RFC 3261 §22.1-§22.4, RFC 7616 §3, RFC 8760 §2).

:class:`DigestAuthenticator` challenges requests and checks credentials for one realm:

- the challenge is a 401 with WWW-Authenticate (a registrar or UAS, §22.2) or a 407
  with Proxy-Authenticate (a proxy, §22.3): one value per configured algorithm, most
  preferred first (RFC 8760 §2.3), each with ``qop`` (§22.4);
- a nonce is ``hex(time) "." hex(random) "." HMAC(secret, time, random, realm,
  algorithm)``: the server can tell its own nonces from forged ones without storing
  them, their age, and the algorithm of the challenge that carried them -- an answer
  with another algorithm (MD5 to a SHA-256 challenge) is refused;
- a nonce older than ``nonce_lifetime`` with otherwise correct credentials gets a new
  challenge with ``stale=true`` (RFC 7616 §3.3): the client retries without asking its
  user again;
- replay protection: the server remembers the highest nonce count (``nc``, 8LHEX) used
  with each nonce once it has been used successfully; a request whose ``nc`` is not
  higher is rejected.  Challenges store nothing, so a flood of unauthenticated requests
  holds no memory and evicts no nonce in use.  The table is bounded (``max_nonces``,
  oldest forgotten first); a nonce issued before the newest one forgotten and no longer
  in it counts as stale.  Credentials without ``qop`` (RFC 2069) carry no ``nc``: such a
  nonce is good once;
- guessing is throttled: after ``max_failures`` failed attempts within
  ``failure_window`` seconds from one source address, or for one user name, the answer
  is 503 with Retry-After (RFC 3261 §21.5.4) until the window ends;
- ``bind_uri``: the ``uri`` parameter must name the Request-URI (RFC 7616 §3.4.6, 400);
  ``bind_from``: the From URI's user must be the authenticated user (403).

The digest arithmetic is :mod:`rfc3261.digest`.  Passwords never reach this module: a
:class:`CredentialsProvider` returns H(A1) (``ha1``), e.g. :class:`HA1File`, a text file of
``user:realm:algorithm:ha1`` lines.  ``now`` is the caller's clock (any origin, seconds).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .auth_headers import AuthenticationInfo, Challenge, Credentials
from .digest import (
    DigestChallenge,
    DigestCredentials,
    UnsupportedAlgorithm,
    base_algorithm,
    compute_response,
    compute_rspauth,
    format_authentication_info,
    ha1,
    prepare_username,
)
from .message import Request, Response
from .uri import SipURI, parse_uri, unescape, uri_equal

__all__ = [
    "AuthResult",
    "CredentialsProvider",
    "DigestAuthenticator",
    "HA1File",
    "MemoryCredentials",
    "ha1_line",
    "same_resource",
]


LOG = logging.getLogger("rfc3261.auth")

# RFC 7616 §3.4 / RFC 2617: nc-value = 8LHEX (lower-case hexadecimal digits).
_NC = re.compile(r"[0-9a-f]{8}")


def _source_of(request: Request) -> str:
    """The address a request came from: the top Via's received, else its sent-by host
    (the transport adds received whenever the two differ, §18.2.1)."""
    via = request.top_via
    return via.received or via.host


class CredentialsProvider(Protocol):
    """Where a server finds H(A1) = H(username ":" realm ":" password) for a user."""

    def ha1(self, username: str, realm: str, algorithm: str) -> str | None:
        """H(A1) for ``algorithm`` (a base name: "MD5", "SHA-256", ...), None if unknown."""
        ...


def ha1_line(username: str, realm: str, password: str, algorithm: str = "SHA-256") -> str:
    """One line of an :class:`HA1File`: ``user:realm:algorithm:ha1``."""
    if ":" in username or "\n" in username:
        raise ValueError("a username may not contain ':' or a line break (RFC 7616 §4)")
    algorithm = base_algorithm(algorithm)
    return f"{username}:{realm}:{algorithm}:{ha1(username, realm, password, algorithm)}"


class MemoryCredentials:
    """H(A1) values in a dict, e.g. built from passwords for tests."""

    def __init__(self, entries: dict[tuple[str, str, str], str] | None = None) -> None:
        # Keyed by the prepared user name (RFC 7616 §4), as the look-up is.
        self._entries: dict[tuple[str, str, str], str] = {
            (prepare_username(user), realm, algorithm): value
            for (user, realm, algorithm), value in (entries or {}).items()
        }

    @classmethod
    def from_passwords(
        cls,
        passwords: dict[str, str],
        realm: str,
        algorithms: Iterable[str] = ("SHA-256", "MD5"),
    ) -> MemoryCredentials:
        algorithms = [base_algorithm(a) for a in algorithms]
        return cls(
            {
                (user, realm, algorithm): ha1(user, realm, password, algorithm)
                for user, password in passwords.items()
                for algorithm in algorithms
            }
        )

    def ha1(self, username: str, realm: str, algorithm: str) -> str | None:
        key = (prepare_username(username), realm, base_algorithm(algorithm))
        return self._entries.get(key)


class HA1File(MemoryCredentials):
    """H(A1) values read from a text file of ``user:realm:algorithm:ha1`` lines.

    Blank lines and lines starting with ``#`` are ignored.  The realm may contain
    colons (it is taken as everything between the first and the last two fields).
    """

    def __init__(self, path: str | Path) -> None:
        entries: dict[tuple[str, str, str], str] = {}
        text = Path(path).read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, rest = line.partition(":")
            realm, sep2, tail = rest.rpartition(":")
            realm, sep3, algorithm = realm.rpartition(":")
            if not (sep and sep2 and sep3) or not user or not tail:
                raise ValueError(f"{path}:{number}: expected user:realm:algorithm:ha1")
            entries[(user, realm, base_algorithm(algorithm))] = tail.lower()
        super().__init__(entries)
        self.path = Path(path)


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.6
##% The purpose
##% of duplicating information from the request URL in this field is to
##% deal with the possibility that an intermediate proxy may alter the
##% client's Request-Line.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.6
##% In particular, it MUST be an
##% "absolute-URI" if the request-target is an "absolute-URI".
def same_resource(digest_uri: str, request: Request) -> bool:
    """Whether a Digest ``uri`` names the request's Request-URI: equal as written, or
    equivalent by the URI comparison rules (RFC 3261 §19.1.4), which ignore what a proxy
    may change without changing the resource (case of the host, parameter order)."""
    if digest_uri == str(request.uri):
        return True
    try:
        return uri_equal(parse_uri(digest_uri), request.uri)
    except ValueError:
        return False


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
##% The server implementation SHOULD be careful with the information
##% being logged so that it won't put a cleartext password (e.g., entered
##% into the username field) into the log.
@dataclass(slots=True)
class AuthResult:
    """The outcome of checking a request's credentials.

    ``username`` is set when the credentials are valid; otherwise ``stale`` says the
    challenge should carry ``stale=true``, and ``reason`` says why (for logs).
    ``status`` is set when the answer is not a new challenge: 400 for a ``uri`` that is
    not the Request-URI (RFC 7616 §3.4.6).
    """

    username: str | None
    stale: bool = False
    reason: str = ""
    status: int | None = None
    retry_after: int | None = None

    @property
    def ok(self) -> bool:
        return self.username is not None


##= https://www.rfc-editor.org/rfc/rfc3261#section-22
##% Servers MUST NOT accept credentials using the "Basic"
##% authorization scheme, and servers also MUST NOT challenge with
##% "Basic".
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##% Note, however, that SIP servers MUST NOT accept or request
##% Basic authentication.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
##% SIP clients and servers MUST NOT accept or request Basic
##% authentication.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
##% Proxy servers, redirect servers, registrars, and UAs MUST implement Digest
##% Authorization, encompassing all of the aspects required in 22.
class DigestAuthenticator:
    """Challenges and verifies Digest credentials for one realm (only Digest, never Basic).

    ``proxy=False``: 401 + WWW-Authenticate / Authorization (registrar, UAS);
    ``proxy=True``: 407 + Proxy-Authenticate / Proxy-Authorization.
    """

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
    ##% Operators of user agents or proxy servers that will authenticate
    ##% received requests MUST adhere to the following guidelines for
    ##% creation of a realm string for their server:
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
    ##% Realm strings MUST be globally unique.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
    ##% It is RECOMMENDED that
    ##% a realm string contain a hostname or domain name, following the
    ##% recommendation in Section 3.2.1 of RFC 2617 [17].
    def __init__(
        self,
        realm: str,
        credentials: CredentialsProvider,
        *,
        secret: bytes | None = None,
        algorithms: Iterable[str] = ("SHA-256", "MD5"),
        qop: Iterable[str] = ("auth", "auth-int"),
        proxy: bool = False,
        nonce_lifetime: float = 300.0,
        max_nonces: int = 100_000,
        bind_uri: bool = True,
        bind_from: bool = False,
        max_failures: int = 10,
        failure_window: float = 60.0,
        max_tracked: int = 10_000,
    ) -> None:
        """``realm`` should name the host or domain (§22.1: globally unique, e.g.
        "biloxi.example.com"); ``secret`` keys the nonce HMAC (random if None);
        ``bind_uri=False`` accepts credentials whose ``uri`` is not the Request-URI
        (for a server behind a proxy that rewrites it, RFC 3261 §22.4 item 6);
        ``bind_from=True`` refuses (403) a request whose From user is not the
        authenticated user; ``max_failures`` (0: no throttling) failed attempts per
        source or user within ``failure_window`` s get 503 + Retry-After; at most
        ``max_tracked`` sources and users are remembered (oldest forgotten first)."""
        self.realm = realm
        self.credentials = credentials
        self.secret = secret if secret is not None else secrets.token_bytes(32)
        self.algorithms = tuple(algorithms)
        if not self.algorithms:
            raise ValueError("Digest: at least one algorithm is needed")
        for algorithm in self.algorithms:
            base_algorithm(algorithm)  # raises UnsupportedAlgorithm for unknown names
        ##= https://www.rfc-editor.org/rfc/rfc8760#section-2.3
        ##% If the UAS challenges the originator using multiple WWW-Authenticate/
        ##% Proxy-Authenticate header fields with the same realm, then each of
        ##% these header fields MUST use a different digest algorithm.
        ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.7
        ##% If the server responds with multiple challenges, then each one of
        ##% these challenges MUST use a different digest algorithm.
        if len({a.upper() for a in self.algorithms}) != len(self.algorithms):
            raise ValueError("Digest: each challenge must use a different algorithm")
        self.qop = tuple(qop)
        self.proxy = proxy
        self.nonce_lifetime = nonce_lifetime
        self.max_nonces = max_nonces
        self.bind_uri = bind_uri
        self.bind_from = bind_from
        self.max_failures = max_failures
        self.failure_window = failure_window
        self.max_tracked = max_tracked
        # nonce -> (issued at, highest nc used), for nonces used at least once.
        # Insertion order = order of first use; the oldest go first when full.
        self._nonces: OrderedDict[str, tuple[float, int]] = OrderedDict()
        # Nonces issued up to this time and not in the table may have been forgotten.
        self._forgotten_until = float("-inf")
        # ("source", address) or ("user", name) -> (failures, first failure time).
        self._failures: OrderedDict[tuple[str, str], tuple[int, float]] = OrderedDict()

    @property
    def challenge_header(self) -> str:
        return "Proxy-Authenticate" if self.proxy else "WWW-Authenticate"

    @property
    def credentials_header(self) -> str:
        return "Proxy-Authorization" if self.proxy else "Authorization"

    @property
    def status(self) -> int:
        return 407 if self.proxy else 401

    # -- nonces

    def _mac(self, stamp: str, salt: str, algorithm: str) -> str:
        data = f"{stamp}.{salt}.{self.realm}.{algorithm.upper()}".encode()
        return hmac.new(self.secret, data, hashlib.sha256).hexdigest()[:32]

    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
    ##% It is RECOMMENDED that this string be Base64 or
    ##% hexadecimal data.
    def new_nonce(self, now: float, algorithm: str = "MD5") -> str:
        """A fresh nonce bound to ``now``, ``algorithm`` and the server secret (nothing is
        stored: the nonce proves itself)."""
        # fixed widths (12 + 16 + 32 hex digits), no separator: the nonce is hex data
        stamp = f"{max(0, int(now * 1000)):012x}"
        salt = secrets.token_hex(8)
        return f"{stamp}{salt}{self._mac(stamp, salt, algorithm)}"

    ##= https://www.rfc-editor.org/rfc/rfc8760#section-3
    ##% This opens the system to the potential for a downgrade attack by an
    ##% on-path attacker.
    def nonce_issued_at(self, nonce: str, algorithm: str = "MD5") -> float | None:
        """When this server issued ``nonce`` in a challenge for ``algorithm``; None if it
        is not one of ours (forged) or was issued for another algorithm."""
        if len(nonce) != 60:
            return None
        stamp, salt, mac = nonce[:12], nonce[12:28], nonce[28:]
        if not hmac.compare_digest(mac, self._mac(stamp, salt, algorithm)):
            return None
        try:
            return int(stamp, 16) / 1000
        except ValueError:
            return None

    # -- challenges

    ##= https://www.rfc-editor.org/rfc/rfc8760#section-2.3
    ##% The UAS MAY add multiple WWW-Authenticate/Proxy-Authenticate header
    ##% fields to allow the UAS to utilize the best available algorithm
    ##% supported by the client.
    ##= https://www.rfc-editor.org/rfc/rfc8760#section-2.3
    ##% The UAS MUST add these header fields to the response in the order in
    ##% which it would prefer to see them used, starting with the most
    ##% preferred algorithm at the top.
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.7
    ##% The server MUST add these challenges to the response in order of
    ##% preference, starting with the most preferred algorithm, followed by
    ##% the less preferred algorithm.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
    ##% However, servers MUST always send a "qop" parameter in
    ##% WWW-Authenticate and Proxy-Authenticate header field values.
    ##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
    ##% A UAS MUST always send a "qop" parameter in WWW-Authenticate and
    ##% Proxy-Authenticate header field values
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-4
    ##% In challenges, servers SHOULD use the "charset" authentication
    ##% parameter (case-insensitive) to express the character encoding they
    ##% expect the user agent to use when generating A1 (see Section 3.4.2)
    ##% and username hashing (see Section 3.4.4).
    def challenges(self, now: float, *, stale: bool = False) -> list[Challenge]:
        """One Digest challenge per algorithm, most preferred first, each with its own nonce."""
        return [
            DigestChallenge(
                realm=self.realm,
                nonce=self.new_nonce(now, algorithm),
                algorithm=algorithm,
                qop=list(self.qop),
                stale=stale,
                proxy=self.proxy,
                charset="UTF-8",
            ).to_header()
            for algorithm in self.algorithms
        ]

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
    ##% The WWW-Authenticate response-header field MUST be included in 401
    ##% (Unauthorized) response messages.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
    ##% The proxy MUST populate the 407 (Proxy Authentication Required)
    ##% message with a Proxy-Authenticate header field value applicable to
    ##% the proxy for the requested resource.
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.8
    ##% Upon receiving a request that requires authentication, the
    ##% proxy/server MUST issue the "407 Proxy Authentication Required"
    ##% response with a "Proxy-Authenticate" header field.
    def challenge(
        self, request: Request, now: float, *, stale: bool = False, to_tag: str | None = None
    ) -> Response:
        """The 401 (or 407) response challenging ``request``."""
        response = request.make_response(self.status, to_tag=to_tag)
        for value in self.challenges(now, stale=stale):
            response.headers.add(self.challenge_header, value)
        return response

    # -- verification

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
    ##% Note that if an authentication scheme that does not support realms is
    ##% used in the Proxy-Authorization header field, a proxy server MUST
    ##% attempt to parse all Proxy-Authorization header field values to
    ##% determine whether one of them has what the proxy server considers to
    ##% be valid credentials.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
    ##% Because this is potentially very time-consuming in large networks,
    ##% proxy servers SHOULD use an authentication scheme that supports realms
    ##% in the Proxy-Authorization header field.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
    ##% When multiple proxies are used in a chain, a Proxy-Authorization
    ##% header field value MUST NOT be consumed by any proxy whose realm does
    ##% not match the "realm" parameter specified in that value.
    def credentials_for_realm(self, request: Request) -> list[DigestCredentials]:
        """The Digest credentials in ``request`` addressed to this realm (others ignored)."""
        found = []
        for text in request.headers.get_all(self.credentials_header):
            try:
                value = Credentials.parse(text, self.credentials_header)
                if not value.is_digest or value.realm != self.realm:
                    continue
                found.append(DigestCredentials.from_header(value))
            except ValueError:
                continue  # malformed, or not ours: ignored, like any other realm's
        return found

    def check(self, request: Request, now: float) -> AuthResult:
        """Verify the request's credentials for this realm (the first valid value wins)."""
        candidates = self.credentials_for_realm(request)
        if not candidates:
            return AuthResult(None, reason="no credentials for this realm")
        keys = [("source", _source_of(request))] + [("user", c.username) for c in candidates]
        throttled = self._throttled(keys, now)
        if throttled is not None:
            return throttled
        result = AuthResult(None, reason="invalid credentials")
        for creds in candidates:
            result = self._check_one(request, creds, now)
            if result.ok:
                self._failures.pop(("user", creds.username), None)
                return self._check_from(request, result)
        if not result.stale:
            ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
            ##% If the response is invalid, then a login failure SHOULD be logged,
            ##% since repeated login failures from a single client may indicate an
            ##% attacker attempting to guess passwords.
            # The source and the reason, never the user name (§3.4: it may be a password).
            LOG.info("Digest login failure from %s: %s", keys[0][1], result.reason)
            self._count_failure(keys, now)
        return result

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-26.1.5
    ##% Denial-of-service attacks focus on rendering a particular network
    ##% element unavailable, usually by directing an excessive amount of
    ##% network traffic at its interfaces.
    def _throttled(self, keys: list[tuple[str, str]], now: float) -> AuthResult | None:
        """503 + Retry-After while a source or user has used up its failed attempts."""
        if self.max_failures <= 0:
            return None
        for key in keys:
            count, first = self._failures.get(key, (0, now))
            if now - first >= self.failure_window:
                self._failures.pop(key, None)
            elif count >= self.max_failures:
                wait = max(1, int(self.failure_window - (now - first) + 0.999))
                reason = f"too many failed attempts ({key[0]})"
                return AuthResult(None, reason=reason, status=503, retry_after=wait)
        return None

    def _count_failure(self, keys: list[tuple[str, str]], now: float) -> None:
        if self.max_failures <= 0:
            return
        for key in dict.fromkeys(keys):
            count, first = self._failures.pop(key, (0, now))
            if now - first >= self.failure_window:
                count, first = 0, now
            self._failures[key] = (count + 1, first)
        while len(self._failures) > self.max_tracked:
            self._failures.popitem(last=False)

    def _check_from(self, request: Request, result: AuthResult) -> AuthResult:
        """With ``bind_from``: the From URI must name the authenticated user (else 403)."""
        if not self.bind_from:
            return result
        uri = request.from_.uri
        if (
            isinstance(uri, SipURI)
            and uri.user is not None
            and unescape(uri.user) == result.username
        ):
            return result
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-22
        ##% Once the originator has been identified, the recipient of the
        ##% request SHOULD ascertain whether or not this user is authorized to
        ##% make the request in question.
        return AuthResult(None, reason="From is not the authenticated user", status=403)

    ##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
    ##% A UAS MUST be able to properly handle a "qop" parameter received in
    ##% an Authorization/Proxy-Authorization header field
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
    ##% The server SHOULD only set stale to true if it receives a request for
    ##% which the nonce is invalid.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
    ##% Since RFC 2543 is based on HTTP Digest as defined in RFC 2069 [39],
    ##% SIP servers supporting RFC 2617 MUST ensure they are backwards
    ##% compatible with RFC 2069.
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
    ##% Upon receiving the Authorization header field, the server MAY check
    ##% its validity by looking up the password that corresponds to the
    ##% submitted username.
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
    ##% Then, the server MUST perform the same digest operation (e.g., MD5,
    ##% SHA-256) performed by the client and compare the result to the given
    ##% response value.
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
    ##% Alternatively, the server MAY return a 401 response with a new nonce
    ##% value in the WWW-Authenticate header field, causing the client to
    ##% retry the request; by specifying "stale=true" with this response, the
    ##% server tells the client to retry with the new nonce, but without
    ##% prompting for a new username and password.
    def _check_one(self, request: Request, creds: DigestCredentials, now: float) -> AuthResult:
        algorithm = creds.algorithm or "MD5"
        if algorithm.upper() not in {a.upper() for a in self.algorithms}:
            ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
            ##% Its value MUST be one of the
            ##% alternatives the server indicated it supports in the
            ##% WWW-Authenticate header field.
            return AuthResult(None, reason=f"algorithm {algorithm} was not offered")
        if creds.qop is not None and creds.qop.lower() not in self.qop:
            return AuthResult(None, reason=f"qop {creds.qop} was not offered")
        if self.bind_uri and not same_resource(creds.uri, request):
            ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.6
            ##% The authenticating server MUST assure that the resource designated by
            ##% the "uri" parameter is the same as the resource specified in the
            ##% Request-Line; if they are not, the server SHOULD return a 400 Bad
            ##% Request error.
            ##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
            ##% Therefore, in SIP, a UAS MUST check if the Request-URI in
            ##% the Authorization/Proxy-Authorization header field value
            ##% corresponds to a user for whom the UAS is willing to accept
            ##% forwarded or direct requests
            return AuthResult(None, reason="digest uri is not the Request-URI", status=400)
        issued = self.nonce_issued_at(creds.nonce, algorithm)
        if issued is None:
            return AuthResult(None, reason="nonce not issued by this server for " + algorithm)
        try:
            stored = self.credentials.ha1(creds.username, self.realm, base_algorithm(algorithm))
        except UnsupportedAlgorithm:
            stored = None
        if stored is None:
            return AuthResult(None, reason="unknown user")  # the name itself is not logged
        try:
            expected = compute_response(
                method=request.method,
                uri=creds.uri,
                nonce=creds.nonce,
                realm=self.realm,
                ha1_value=stored,
                algorithm=algorithm,
                qop=creds.qop,
                nc=creds.nc,
                cnonce=creds.cnonce,
                body=request.body,
            )
        except ValueError as exc:
            return AuthResult(None, reason=str(exc))
        if not hmac.compare_digest(expected, creds.response.lower()):
            return AuthResult(None, reason="wrong response digest")
        # The client knows the password; now the nonce itself.
        used = self._nonces.get(creds.nonce)
        if now - issued > self.nonce_lifetime or (
            used is None and issued <= self._forgotten_until
        ):
            return AuthResult(None, stale=True, reason="nonce expired")
        last = 0 if used is None else used[1]
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
        ##% These mechanisms MUST be used by a server to determine if the client
        ##% supports the new mechanisms in RFC 2617 that were not specified in
        ##% RFC 2069.
        if creds.qop is None:
            count = 1  # RFC 2069 credentials: no nonce count, the nonce is good once
        else:
            ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
            ##% The nc value is the hexadecimal
            ##% count of the number of requests (including the current request)
            ##% that the client has sent with the nonce value in this request.
            if _NC.fullmatch(creds.nc or "") is None:
                return AuthResult(None, reason="nc is not 8LHEX", status=400)
            count = int(creds.nc or "", 16)
        if count <= last:
            return AuthResult(None, reason=f"replayed nonce count {count} (last was {last})")
        self._remember(creds.nonce, issued, count)
        return AuthResult(creds.username)

    def _remember(self, nonce: str, issued: float, count: int) -> None:
        """Record the highest nc of a used nonce; forget the oldest beyond max_nonces."""
        self._nonces[nonce] = (issued, count)
        while len(self._nonces) > self.max_nonces:
            _old, (old_issued, _count) = self._nonces.popitem(last=False)
            self._forgotten_until = max(self._forgotten_until, old_issued)

    def authenticate(
        self, request: Request, now: float, *, to_tag: str | None = None
    ) -> tuple[str | None, Response | None]:
        """(username, None) when the request carries valid credentials, else
        (None, the 401/407 challenge to send)."""
        result = self.check(request, now)
        if result.ok:
            return result.username, None
        if result.status is not None:
            # "this may be a symptom of an attack" (RFC 7616 §3.4.6): the caller logs it.
            reason = f"Bad Request ({result.reason})" if result.status == 400 else result.reason
            response = request.make_response(result.status, reason, to_tag=to_tag)
            if result.retry_after is not None:
                response.headers.add("Retry-After", result.retry_after)
            return None, response
        return None, self.challenge(request, now, stale=result.stale, to_tag=to_tag)

    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.5
    ##% The Digest Authentication scheme MAY add the Authentication-Info header field in the
    ##% confirmation request and include parameters from the following list:
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.5
    ##% The server SHOULD use the same value for the qop parameter in the
    ##% response as was sent by the client in the corresponding request.
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.5
    ##% The cnonce value and nc value MUST be the ones for the client request
    ##% to which this message is the response.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.6
    ##% A UAS MAY include this header field
    ##% in a 2xx response to a request that was successfully authenticated
    ##% using digest based on the Authorization header field.
    def authentication_info(
        self, request: Request, body: bytes = b""
    ) -> AuthenticationInfo | None:
        """The Authentication-Info for the 2xx (with ``body``) to a request whose credentials
        :meth:`authenticate` accepted: ``rspauth`` proves to the client that the server knows
        its secret too (mutual authentication), bound to the client's cnonce and nc.  None
        when the request has no valid credentials with a qop (RFC 2069 credentials have no
        cnonce to bind to), and always for a proxy: SIP has no Proxy-Authentication-Info.
        No ``nextnonce``: nonces stay valid for their lifetime, so requests may overlap."""
        if self.proxy:
            return None
        for creds in self.credentials_for_realm(request):
            if creds.qop is None or creds.nc is None or creds.cnonce is None:
                continue
            algorithm = creds.algorithm or "MD5"
            try:
                stored = self.credentials.ha1(
                    creds.username, self.realm, base_algorithm(algorithm)
                )
            except UnsupportedAlgorithm:
                continue
            if stored is None:
                continue
            common = {
                "uri": creds.uri,
                "nonce": creds.nonce,
                "realm": self.realm,
                "ha1_value": stored,
                "algorithm": algorithm,
                "qop": creds.qop,
                "nc": creds.nc,
                "cnonce": creds.cnonce,
            }
            try:
                expected = compute_response(method=request.method, body=request.body, **common)
            except ValueError:
                continue
            if not hmac.compare_digest(expected, creds.response.lower()):
                continue  # not the value that authenticated the request
            return format_authentication_info(
                qop=creds.qop,
                rspauth=compute_rspauth(body=body, **common),
                cnonce=creds.cnonce,
                nc=creds.nc,
            )
        return None
