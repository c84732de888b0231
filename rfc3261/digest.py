"""Digest computations shared by client and server (RFC 3261 §22.4, RFC 7616 §3, RFC 8760 §2).

What lives here is arithmetic and parameter plumbing, no policy:

- :func:`H` and :func:`KD` for every algorithm of the IANA "Hash Algorithms for HTTP
  Digest Authentication" registry that SIP uses: ``MD5``, ``SHA-256``, ``SHA-512-256``
  and their ``-sess`` variants (names compare case-insensitively);
- :func:`ha1` -- ``H(unq(username) ":" unq(realm) ":" passwd)``, the value a registrar
  stores instead of the password; :func:`session_ha1` turns it into the ``-sess`` A1 hash;
- :func:`ha2` -- ``H(A2)`` for qop ``auth`` (or none) and ``auth-int``;
- :func:`compute_response` -- the ``response`` parameter (RFC 7616 §3.4.1, or the
  RFC 2069 form when qop is absent); :func:`compute_rspauth` for Authentication-Info;
- :func:`userhash` -- RFC 7616 §3.4.4 username hashing;
- :class:`DigestChallenge` / :class:`DigestCredentials` -- the Digest parameters of a
  WWW-/Proxy-Authenticate and an (Proxy-)Authorization value, read from and written to
  :class:`rfc3261.auth_headers.Challenge` / :class:`~rfc3261.auth_headers.Credentials`
  with the quoting rules of RFC 7616 §3.3 and §3.4.

Every digest is lower-case hex (RFC 7616 §3.2, RFC 8760 §2.2). Strings are encoded as
UTF-8 before hashing.

Example (RFC 2617 §3.5)::

    >>> compute_response(username="Mufasa", realm="testrealm@host.com",
    ...     password="Circle Of Life", method="GET", uri="/dir/index.html",
    ...     nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", nc="00000001",
    ...     cnonce="0a4f113b", qop="auth")
    '6629fae49393a05397450978507c4ef1'
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

import precis_i18n

from .auth_headers import AuthenticationInfo, Challenge, Credentials
from .headers import quote
from .params import Parameters

__all__ = [
    "ALGORITHMS",
    "KD",
    "DigestChallenge",
    "DigestCredentials",
    "H",
    "UnsupportedAlgorithm",
    "base_algorithm",
    "compute_response",
    "compute_rspauth",
    "format_authentication_info",
    "format_nc",
    "ha1",
    "ha2",
    "is_session_algorithm",
    "is_supported",
    "prepare_password",
    "prepare_username",
    "session_ha1",
    "userhash",
]


class UnsupportedAlgorithm(ValueError):
    """A Digest algorithm name this module does not know."""


##= https://www.rfc-editor.org/rfc/rfc8760#section-2.1
##% This document extends [RFC3261] to allow use of any
##% algorithm listed in the "Hash Algorithms for HTTP Digest
##% Authentication" IANA registry.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.7
##% algorithm =  "algorithm" EQUAL ( "MD5" / "MD5-sess" / "SHA-256" /
##% "SHA-256-sess" /
##% "SHA-512-256" /  "SHA-512-256-sess" / token )
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.2
##% To maintain backwards
##% compatibility with [RFC2617], the MD5 algorithm is still supported
##% but NOT RECOMMENDED.
ALGORITHMS: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda data: hashlib.md5(data).hexdigest(),
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
    "SHA-512-256": lambda data: hashlib.new("sha512_256", data).hexdigest(),
}
# In the order a client prefers them when a response offers several (strongest first).
PREFERENCE = ("SHA-512-256", "SHA-256", "MD5")


def base_algorithm(algorithm: str | None) -> str:
    """The registry name without ``-sess``, upper-cased; None means MD5.

    Raises :class:`UnsupportedAlgorithm` for unknown names.
    """
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
    ##% If this is not present, it is assumed to be
    ##% "MD5".
    name = (algorithm or "MD5").upper()
    if name.endswith("-SESS"):
        name = name[: -len("-SESS")]
    if name not in ALGORITHMS:
        raise UnsupportedAlgorithm(f"Digest: unknown algorithm {algorithm!r} (RFC 8760 §2.1)")
    return name


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##% When used with the Digest mechanism, each one of the algorithms
##% has two variants: Session variant and non-Session variant.
def is_session_algorithm(algorithm: str | None) -> bool:
    """True for the ``<algorithm>-sess`` variants."""
    return (algorithm or "").upper().endswith("-SESS")


def is_supported(algorithm: str | None) -> bool:
    """True when :func:`base_algorithm` knows ``algorithm``."""
    try:
        base_algorithm(algorithm)
    except UnsupportedAlgorithm:
        return False
    return True


def _bytes(data: str | bytes) -> bytes:
    return data if isinstance(data, bytes) else data.encode("utf-8")


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##% For "<algorithm>" and "<algorithm>-sess"
##%
##% H(data) = <algorithm>(data)
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.2
##% Each sequence of four bits is represented by its familiar
##% hexadecimal notation from the characters 0123456789abcdef; that is,
##% binary 0000 is represented by the character '0', 0001 by '1' and so
##% on up to the representation of 1111 as 'f'.
def H(data: str | bytes, algorithm: str | None = "MD5") -> str:
    """The unkeyed digest of ``data`` as lower-case hex."""
    return ALGORITHMS[base_algorithm(algorithm)](_bytes(data))


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##% KD(secret, data) = H(concat(secret, ":", data))
def KD(secret: str, data: str, algorithm: str | None = "MD5") -> str:
    """The keyed digest: H(secret ":" data)."""
    return H(f"{secret}:{data}", algorithm)


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.2
##% If the algorithm parameter's value is "<algorithm>", e.g., "SHA-256",
##% then A1 is:
##%
##% A1       = unq(username) ":" unq(realm) ":" passwd
#: The PRECIS profiles of RFC 8265 (RFC 7613 when RFC 7616 was written), from a kept library.
_USERNAME_PROFILE = precis_i18n.get_profile("UsernameCasePreserved")
_PASSWORD_PROFILE = precis_i18n.get_profile("OpaqueString")


##= https://www.rfc-editor.org/rfc/rfc7616#section-4
##% For the username, recipients MUST support all characters defined in
##% the "UsernameCasePreserved" profile defined in Section 3.3 of
##% [RFC7613], with the exception of the colon (":") character.
##= https://www.rfc-editor.org/rfc/rfc7616#section-4
##% It indicates that the server expects
##% the username and password to be converted to Unicode Normalization
##% Form C ("NFC", see Section 3 of [RFC5198]) and to be encoded into
##% octets using the UTF-8 character encoding scheme [RFC3629].
def prepare_username(username: str) -> str:
    """A user name as both ends hash and compare it: the PRECIS UsernameCasePreserved
    profile (width mapping, NFC), so that "ＡＬＩＣＥ" and "ALICE", or a precomposed and a
    decomposed "é", name the same user.  A name the profile disallows (a space, a colon)
    is kept as it is, in NFC: accepted, as RFC 2617 accepted it, not required to be."""
    if username.isascii() and username.isalnum():
        return username  # the usual case, unchanged by the profile
    try:
        prepared = _USERNAME_PROFILE.enforce(username)
    except UnicodeError:
        return unicodedata.normalize("NFC", username)
    return prepared if ":" not in prepared else unicodedata.normalize("NFC", username)


##= https://www.rfc-editor.org/rfc/rfc7616#section-4
##% For the password, recipients MUST support all characters defined in
##% the "OpaqueString" profile defined in Section 4.2 of [RFC7613].
def prepare_password(password: str) -> str:
    """A password as it is hashed: the PRECIS OpaqueString profile (non-ASCII spaces mapped
    to U+0020, NFC).  One the profile disallows (empty, control characters) is kept as it
    is, in NFC."""
    if password.isascii() and password.isprintable():
        return password  # OpaqueString leaves printable ASCII alone
    try:
        return _PASSWORD_PROFILE.enforce(password)
    except UnicodeError:
        return unicodedata.normalize("NFC", password)


def ha1(username: str, realm: str, password: str, algorithm: str | None = "MD5") -> str:
    """H(A1) for the non-session algorithms: H(username ":" realm ":" password).

    This is also the stored secret from which the ``-sess`` A1 is derived
    (:func:`session_ha1`); pass unquoted values.  User name and password are prepared
    as RFC 7616 §4 says (:func:`prepare_username`, :func:`prepare_password`).
    """
    name, secret = prepare_username(username), prepare_password(password)
    return H(f"{name}:{realm}:{secret}", algorithm)


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.2
##% A1       = H( unq(username) ":" unq(realm) ":" passwd )
##% ":" unq(nonce-prime) ":" unq(cnonce-prime)
def session_ha1(ha1_value: str, nonce: str, cnonce: str, algorithm: str | None) -> str:
    """H(A1) for the ``-sess`` algorithms, from the stored :func:`ha1` value."""
    return H(f"{ha1_value}:{nonce}:{cnonce}", algorithm)


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.3
##% If the qop parameter's value is "auth" or is unspecified, then A2 is:
##%
##% A2       = Method ":" request-uri
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.3
##% If the qop value is "auth-int", then A2 is:
##%
##% A2       = Method ":" request-uri ":" H(entity-body)
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##% As a clarification to the calculation of the A2 value for
##% message integrity assurance in the Digest authentication
##% scheme, implementers should assume, when the entity-body is
##% empty (that is, when SIP messages have no body) that the hash
##% of the entity-body resolves to the MD5 hash of an empty
##% string, or:
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
##% As a clarification to the calculation of the A2 value for message
##% integrity assurance in the Digest Access Authentication scheme,
##% implementers should assume that the hash of the entity-body
##% resolves to the hash of an empty string when the entity-body is
##% empty (that is, when SIP messages have no body):
def ha2(
    method: str, uri: str, qop: str | None = None, body: bytes = b"", algorithm: str | None = "MD5"
) -> str:
    """H(A2): ``method ":" uri``, plus ``":" H(body)`` for qop auth-int.

    ``method`` is the empty string for the ``rspauth`` of Authentication-Info.
    """
    if qop is not None and qop.lower() == "auth-int":
        return H(f"{method}:{uri}:{H(body, algorithm)}", algorithm)
    return H(f"{method}:{uri}", algorithm)


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.5
##% For historical reasons, the nc value MUST be exactly 8 hexadecimal
##% digits.
def format_nc(count: int) -> str:
    """The nonce count as 8 lower-case hex digits (``nc=00000001``)."""
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
    ##% For example, in the first request sent in response to a
    ##% given nonce value, the client sends "nc=00000001".
    if not 0 < count <= 0xFFFFFFFF:
        raise ValueError(f"Digest: nonce count {count} out of range (RFC 7616 §3.4)")
    return f"{count:08x}"


def compute_response(
    *,
    method: str,
    uri: str,
    nonce: str,
    realm: str,
    username: str | None = None,
    password: str | None = None,
    ha1_value: str | None = None,
    algorithm: str | None = "MD5",
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str:
    """The ``response`` (request-digest) of RFC 7616 §3.4.1 as lower-case hex.

    Give either ``password`` (with ``username``) or the stored ``ha1_value``
    (``ha1(username, realm, password, algorithm)``). ``qop`` None gives the
    RFC 2069 form ``KD(H(A1), nonce ":" H(A2))`` that RFC 2617 keeps for
    backwards compatibility (RFC 3261 §22.4). All values are unquoted.
    """
    if ha1_value is None:
        if username is None or password is None:
            raise ValueError("Digest: need the password or H(A1) to compute a response")
        ha1_value = ha1(username, realm, password, algorithm)
    if is_session_algorithm(algorithm):
        if cnonce is None:
            raise ValueError("Digest: the -sess algorithms need a cnonce (RFC 7616 §3.4.2)")
        ha1_value = session_ha1(ha1_value, nonce, cnonce, algorithm)
    a2 = ha2(method, uri, qop, body, algorithm)
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.1
    ##% If the qop value is "auth" or "auth-int":
    ##%
    ##% response = <"> < KD ( H(A1), unq(nonce)
    ##% ":" nc
    ##% ":" unq(cnonce)
    ##% ":" unq(qop)
    ##% ":" H(A2)
    ##% ) <">
    if qop is not None:
        if nc is None or cnonce is None:
            raise ValueError("Digest: qop needs nc and cnonce (RFC 7616 §3.4)")
        return KD(ha1_value, f"{nonce}:{nc}:{cnonce}:{qop}:{a2}", algorithm)
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
    ##% Since RFC 2543 is based on HTTP Digest as defined in RFC 2069 [39],
    ##% SIP servers supporting RFC 2617 MUST ensure they are backwards
    ##% compatible with RFC 2069.
    return KD(ha1_value, f"{nonce}:{a2}", algorithm)


def compute_rspauth(
    *,
    uri: str,
    nonce: str,
    realm: str,
    ha1_value: str,
    algorithm: str | None = "MD5",
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str:
    """The ``rspauth`` of Authentication-Info: a response with an empty method (RFC 2617)."""
    return compute_response(
        method="",
        uri=uri,
        nonce=nonce,
        realm=realm,
        ha1_value=ha1_value,
        algorithm=algorithm,
        qop=qop,
        nc=nc,
        cnonce=cnonce,
        body=body,
    )


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.5
##% For historical reasons, a sender MUST only generate the quoted string
##% syntax for the following parameters: nextnonce, rspauth, and cnonce.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.5
##% For historical reasons, a sender MUST NOT generate the quoted string
##% syntax for the following parameters: qop and nc.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.5
##% The rspauth,
##% cnonce, and nc parameters MUST be present if "qop=auth" or
##% "qop=auth-int" is specified.
def format_authentication_info(
    *,
    nextnonce: str | None = None,
    qop: str | None = None,
    rspauth: str | None = None,
    cnonce: str | None = None,
    nc: str | None = None,
) -> AuthenticationInfo:
    """An Authentication-Info value (RFC 7616 §3.5) with the RFC's quoting rules."""
    if qop is not None and (rspauth is None or cnonce is None or nc is None):
        raise ValueError("Authentication-Info: qop needs rspauth, cnonce and nc (RFC 7616 §3.5)")
    params = Parameters()
    if nextnonce is not None:
        params.set("nextnonce", quote(nextnonce))
    if qop is not None:
        params.set("qop", qop)
    if rspauth is not None:
        params.set("rspauth", quote(rspauth))
    if cnonce is not None:
        params.set("cnonce", quote(cnonce))
    if nc is not None:
        params.set("nc", nc)
    return AuthenticationInfo(params)


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.4
##% The following is the operation that the client will perform to hash
##% the username, using the same algorithm used to hash the credentials:
##%
##% username = H( unq(username) ":" unq(realm) )
def userhash(username: str, realm: str, algorithm: str | None = "MD5") -> str:
    """The hashed username of RFC 7616 §3.4.4."""
    return H(f"{prepare_username(username)}:{realm}", algorithm)


# -- parameters ------------------------------------------------------------------------


def _is_true(value: str | None) -> bool:
    return (value or "").lower() == "true"


@dataclass(slots=True)
class DigestChallenge:
    """The parameters of a Digest challenge (RFC 7616 §3.3), values unquoted."""

    realm: str
    nonce: str
    algorithm: str | None = None
    qop: list[str] = field(default_factory=list)
    opaque: str | None = None
    stale: bool = False
    domain: list[str] = field(default_factory=list)
    userhash: bool = False
    charset: str | None = None
    # Set when read from a Proxy-Authenticate value.
    proxy: bool = False

    @classmethod
    def from_header(cls, challenge: Challenge, proxy: bool = False) -> DigestChallenge:
        """Read a Digest challenge; raises ValueError if it is not one or lacks realm/nonce."""
        if not challenge.is_digest:
            raise ValueError(f"not a Digest challenge: {challenge.scheme!r} (RFC 3261 §22.4)")
        realm, nonce = challenge.realm, challenge.nonce
        if realm is None or nonce is None:
            raise ValueError("Digest challenge without realm or nonce (RFC 7616 §3.3)")
        return cls(
            realm=realm,
            nonce=nonce,
            algorithm=challenge.algorithm,
            qop=[q.lower() for q in challenge.qop_options],
            opaque=challenge.opaque,
            ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
            ##% If
            ##% stale is false, or anything other than true, or the stale
            ##% parameter is not present, the username and/or password are
            ##% invalid, and new values MUST be obtained.
            stale=challenge.stale,
            ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
            ##% This parameter is not meaningful in Proxy-Authenticate header
            ##% fields, for which the protection space is always the entire proxy;
            ##% if present, it MUST be ignored.
            domain=[] if proxy else challenge.domain,
            userhash=_is_true(challenge.get("userhash")),
            charset=challenge.get("charset"),
            proxy=proxy,
        )

    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
    ##% For historical reasons, a sender MUST only generate the quoted string
    ##% syntax values for the following parameters: realm, domain, nonce,
    ##% opaque, and qop.
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
    ##% For historical reasons, a sender MUST NOT generate the quoted string
    ##% syntax values for the following parameters: stale and algorithm.
    def to_header(self) -> Challenge:
        """The Challenge value for a WWW-/Proxy-Authenticate header field."""
        params = Parameters([("realm", quote(self.realm))])
        if self.domain and not self.proxy:
            params.set("domain", quote(" ".join(self.domain)))
        params.set("nonce", quote(self.nonce))
        if self.opaque is not None:
            params.set("opaque", quote(self.opaque))
        if self.stale:
            params.set("stale", "true")
        if self.algorithm is not None:
            params.set("algorithm", self.algorithm)
        if self.qop:
            params.set("qop", quote(",".join(self.qop)))
        if self.charset is not None:
            params.set("charset", self.charset)
        if self.userhash:
            params.set("userhash", "true")
        return Challenge("Digest", params)


@dataclass(slots=True)
class DigestCredentials:
    """The parameters of Digest credentials (RFC 7616 §3.4), values unquoted."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str | None = None
    qop: str | None = None
    nc: str | None = None
    cnonce: str | None = None
    opaque: str | None = None
    userhash: bool = False

    @classmethod
    def from_header(cls, credentials: Credentials) -> DigestCredentials:
        """Read Digest credentials; raises ValueError when a required parameter is missing."""
        if not credentials.is_digest:
            raise ValueError(f"not Digest credentials: {credentials.scheme!r} (RFC 3261 §22.4)")
        ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
        ##% Sending both username and username* in the same header
        ##% option MUST be treated as an error.
        if "username" in credentials.params and "username*" in credentials.params:
            raise ValueError("Digest credentials with both username and username* (RFC 7616 §3.4)")
        values = {name: credentials.get(name) for name in ("username", "realm", "nonce", "uri")}
        values["response"] = credentials.response
        missing = [name for name, value in values.items() if value is None]
        if missing:
            raise ValueError(f"Digest credentials lack {', '.join(missing)} (RFC 7616 §3.4)")
        qop = credentials.qop
        if qop is not None and (credentials.nc is None or credentials.cnonce is None):
            raise ValueError("Digest credentials with qop lack nc or cnonce (RFC 7616 §3.4)")
        return cls(
            username=values["username"] or "",
            realm=values["realm"] or "",
            nonce=values["nonce"] or "",
            uri=values["uri"] or "",
            response=values["response"] or "",
            algorithm=credentials.algorithm,
            qop=qop,
            nc=credentials.nc,
            cnonce=credentials.cnonce,
            opaque=credentials.opaque,
            userhash=_is_true(credentials.get("userhash")),
        )

    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
    ##% For historical reasons, a sender MUST only generate the quoted string
    ##% syntax for the following parameters: username, realm, nonce, uri,
    ##% response, cnonce, and opaque.
    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
    ##% For historical reasons, a sender MUST NOT generate the quoted string
    ##% syntax for the following parameters: algorithm, qop, and nc.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
    ##% For SIP, the
    ##% 'uri' MUST be enclosed in quotation marks.
    ##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
    ##% The "uri" parameter of the Authorization header field MUST be
    ##% enclosed in quotation marks.
    def to_header(self) -> Credentials:
        """The Credentials value for an Authorization / Proxy-Authorization header field."""
        params = Parameters(
            [
                ("username", quote(self.username)),
                ("realm", quote(self.realm)),
                ("nonce", quote(self.nonce)),
                ("uri", quote(self.uri)),
                ("response", quote(self.response)),
            ]
        )
        if self.algorithm is not None:
            params.set("algorithm", self.algorithm)
        if self.cnonce is not None:
            params.set("cnonce", quote(self.cnonce))
        if self.opaque is not None:
            params.set("opaque", quote(self.opaque))
        if self.qop is not None:
            params.set("qop", self.qop)
        if self.nc is not None:
            params.set("nc", self.nc)
        if self.userhash:
            params.set("userhash", "true")
        return Credentials("Digest", params)

    ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
    ##% Then, the server MUST perform the same digest
    ##% operation (e.g., MD5, SHA-256) performed by the client and compare
    ##% the result to the given response value.
    def expected_response(
        self,
        method: str,
        *,
        password: str | None = None,
        ha1_value: str | None = None,
        body: bytes = b"",
    ) -> str:
        """The response these credentials should carry for ``method`` (server side check).

        ``username`` must be the plain name when ``password`` is given.
        """
        return compute_response(
            method=method,
            uri=self.uri,
            nonce=self.nonce,
            realm=self.realm,
            username=self.username,
            password=password,
            ha1_value=ha1_value,
            algorithm=self.algorithm,
            qop=self.qop,
            nc=self.nc,
            cnonce=self.cnonce,
            body=body,
        )
