"""HTTP Digest as SIP uses it today: RFC 7616 (SHA-256, several challenges, userhash,
stale, Authentication-Info) and RFC 8760 (SHA-512-256, the SIP rules of §2), in every role.

UAC role: the profile's ``[uac] register`` command makes the target register at the runner,
which challenges it (one or several WWW-Authenticate / Proxy-Authenticate values) and judges
the credentials it sends back; they are verified with `rfc3261.digest` against the profile's
``[credentials]``.  A case per rule, the algorithm a parameter of the challenge: the rules
are the same for MD5, SHA-256 and SHA-512-256.

Server roles (UAS, registrar, proxy): the runner sends a request without credentials, reads
the challenge (401 from a UAS or registrar, 407 from a proxy) and answers it with the
profile's credentials, well or wrongly formed on purpose.  A target that serves without
authentication is not applicable, as in `conformance.cases.auth_server`.
"""

from __future__ import annotations

import re
import time
from urllib.parse import quote

from conformance.cases._proxy_support import Got, arrives, downstream_uri, final_of, reply
from conformance.cases.auth_server import CHALLENGE, _Auth, challenges
from conformance.cases.registrar import Registration
from conformance.messages import Outgoing, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer
from rfc3261.auth_headers import Credentials
from rfc3261.digest import (
    DigestCredentials,
    compute_response,
    compute_rspauth,
    format_nc,
    ha1,
    is_supported,
    userhash,
)

#: load order of the case modules (conformance.discovery): after auth_server (82)
ORDER = 83

REALM = "sipref.test"
OPAQUE = "5ccc069c403ebaf9f0171e9517f40e41"
REGISTERING = "a REGISTER from the target ([uac] register)"
#: strength of the algorithms a client may know, strongest first (RFC 8760 §2.2)
STRENGTH = ("SHA-512-256", "SHA-256", "MD5")


# --- reading Digest values ------------------------------------------------------------------


def params(value: str) -> dict[str, tuple[str, bool]]:
    """The parameters of a Digest challenge or credentials value: name (lower case) ->
    (value, whether it was sent as a quoted string)."""
    rest = value.strip().split(None, 1)[1] if " " in value.strip() else ""
    out: dict[str, tuple[str, bool]] = {}
    pattern = r'([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))'
    for m in re.finditer(pattern, rest):
        out[m[1].lower()] = (m[2], True) if m[2] is not None else (m[3], False)
    return out


def _value(found: dict[str, tuple[str, bool]], name: str) -> str | None:
    got = found.get(name)
    return got[0] if got else None


def _credentials(ctx: Context, request: Message, header: str) -> list[str]:
    return [v.strip() for v in request.get_all(header)]


def _expected(ctx: Context, value: str, method: str) -> str:
    """The response the credentials ``value`` should carry with the profile's password
    (the plain user name when they carry a userhash)."""
    creds = DigestCredentials.from_header(Credentials.parse(value))
    return compute_response(
        method=method,
        uri=creds.uri,
        nonce=creds.nonce,
        realm=creds.realm,
        username=ctx.profile.username if creds.userhash else creds.username,
        password=ctx.profile.password,
        algorithm=creds.algorithm,
        qop=creds.qop,
        nc=creds.nc,
        cnonce=creds.cnonce,
    )


def _right(ctx: Context, value: str, method: str) -> bool:
    try:
        return _value(params(value), "response") == _expected(ctx, value, method)
    except ValueError:
        return False


# --- the UAC role: the runner challenges the target's REGISTER ------------------------------


def _challenge(
    algorithm: str,
    nonce: str | None = None,
    *,
    header: str = "WWW-Authenticate",
    realm: str = REALM,
    extra: str = "",
) -> str:
    """One Digest challenge header line (qop=auth, an opaque value)."""
    nonce = nonce or unique("n")
    return (
        f'{header}: Digest realm="{realm}", nonce="{nonce}", opaque="{OPAQUE}", '
        f'qop="auth", algorithm={algorithm}{extra}'
    )


class _Registering:
    """A REGISTER of the target, challenged by the runner; the requests that follow."""

    def __init__(self, ctx: Context) -> None:
        if not ctx.profile.password:
            ctx.not_applicable("the profile gives no [credentials] password")
        self.ctx = ctx
        self.peer = Peer(ctx, "register")
        self.register, self.addr = self.peer.first("REGISTER", REGISTERING)

    def challenge(self, request: Message, addr: tuple[str, int], *lines: str, status: int = 401):
        self.peer.answer(request, addr, status, headers=list(lines), contact=False)

    def again(self, within: float = 5.0) -> tuple[Message, tuple[str, int]] | None:
        """The next REGISTER that is not a retransmission of one seen already."""
        seen = {self.register.branch}
        while True:
            got = self.peer.request("REGISTER", within, self.register.call_id)
            if got is None or got[0].branch not in seen:
                return got

    def grant(self, request: Message, addr: tuple[str, int], *lines: str, expires: int = 4):
        contacts = [
            f"Contact: {c.split(';expires')[0].strip()};expires={expires}"
            for c in request.get_all("Contact")
        ]
        self.peer.answer(request, addr, 200, headers=[*contacts, *lines], contact=False)

    def retried(self, header: str = "Authorization") -> tuple[Message, tuple[str, int]]:
        """The REGISTER sent again after the challenge (inconclusive when none comes)."""
        got = self.again()
        if got is None:
            self.ctx.inconclusive("the target did not send the REGISTER again")
        assert got is not None
        return got


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% If the algorithm is not understood, the challenge SHOULD be ignored
##% (and a different one used, if there is more than one).
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% Unrecognized options MUST be ignored.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
##= type=test
##% Its value MUST be one of the alternatives the server
##% indicated it supports in the WWW-Authenticate header field.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.7
##= type=test
##% When the client receives the first challenge, it SHOULD use the first
##% challenge it supports, unless a local policy dictates otherwise.
##= https://www.rfc-editor.org/rfc/rfc7616#section-5.6
##= type=test
##% A user agent MUST choose to use the strongest auth-scheme it
##% understands and request credentials from the user based upon that
##% challenge.
##= https://www.rfc-editor.org/rfc/rfc7616#section-5.8
##= type=test
##% For this reason, the client SHOULD always use the strongest scheme that it
##% understands from the choices offered.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.2
##= type=test
##% To maintain backwards compatibility with [RFC2617], the MD5 algorithm
##% is still supported but NOT RECOMMENDED.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.4
##= type=test
##% When the UAC receives a response with multiple WWW-Authenticate/
##% Proxy-Authenticate header fields with the same realm, it SHOULD use
##% the topmost header field that it supports unless a local policy
##% dictates otherwise.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.4
##= type=test
##% The client MUST ignore any challenge it does not understand.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
##= type=test
##% SIP clients and servers MUST NOT accept or request Basic
##% authentication.
##= https://www.rfc-editor.org/rfc/rfc8760#section-3
##= type=test
##% The obsolete MD5 algorithm
##% remains only for backward compatibility with [RFC2617], but its use
##% is NOT RECOMMENDED.
@case(
    "uac-digest-challenge-choice",
    roles=UAC,
    timeout=15,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def digest_challenge_choice(ctx: Context) -> None:
    """A 401 offers, top to bottom, Basic, Digest with an unknown algorithm, SHA-256 (with an
    unknown option) and MD5: the target answers the SHA-256 one, and only it."""
    reg = _Registering(ctx)
    offered = [
        f'WWW-Authenticate: Basic realm="{REALM}"',
        _challenge("SHA3-999-CONFORMANCE"),
        _challenge("SHA-256", extra=', x-conformance-option="ignore me"'),
        _challenge("MD5"),
    ]
    reg.challenge(reg.register, reg.addr, *offered)
    again, where = reg.retried()
    reg.grant(again, where)
    values = _credentials(ctx, again, "Authorization")
    shown = " | ".join(values) or "none"
    schemes = [v.split(None, 1)[0].lower() for v in values if v]
    ctx.check("basic" not in schemes, "no Basic credentials", shown, requirement=9)
    ctx.check(bool(values), "an Authorization answering a Digest challenge", shown, 8)
    algorithms = [(_value(params(v), "algorithm") or "MD5").upper() for v in values]
    ctx.check(
        "SHA3-999-CONFORMANCE" not in algorithms,
        "the challenge of an unknown algorithm ignored",
        shown,
        requirement=8,
    )
    offered_algorithms = {"SHA3-999-CONFORMANCE", "SHA-256", "MD5"}
    ctx.check(
        set(algorithms) <= offered_algorithms,
        "an algorithm the server offered",
        ", ".join(algorithms),
        requirement=2,
    )
    ctx.check(
        "SHA-256" in algorithms and _right(ctx, values[algorithms.index("SHA-256")], "REGISTER"),
        "the SHA-256 challenge (its unknown option ignored) answered right",
        shown,
        requirement=1,
    )
    ctx.check(
        "MD5" not in algorithms,
        "the strongest algorithm understood (SHA-256), not MD5",
        ", ".join(algorithms),
        requirement=4,
    )


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% This parameter MUST be used by all implementations.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
##= type=test
##% This parameter MUST be used by all implementations.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
##= type=test
##% This parameter MUST be used by all implementations.  The nc
##% parameter stands for "nonce count".
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
##= type=test
##% For historical reasons, a sender MUST only generate the quoted string
##% syntax for the following parameters: username, realm, nonce, uri,
##% response, cnonce, and opaque.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
##= type=test
##% For historical reasons, a sender MUST NOT generate the quoted string
##% syntax for the following parameters: algorithm, qop, and nc.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.5
##= type=test
##% For historical reasons, the nc value MUST be exactly 8 hexadecimal
##% digits.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.6
##= type=test
##% but it MUST agree with the request-target.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.6
##= type=test
##% In particular, it MUST be an
##% "absolute-URI" if the request-target is an "absolute-URI".
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
##= type=test
##% The "uri" parameter of the Authorization header field MUST be
##% enclosed in quotation marks.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% A string of data, specified by the server, that SHOULD be returned
##% by the client unchanged in the Authorization header field of
##% subsequent requests with URIs in the same protection space.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
##= type=test
##% A UAS MUST be able to properly handle a "qop" parameter
##% received in an Authorization/Proxy-Authorization header field, and a
##% UAC MUST be able to properly handle a "qop" parameter received in
##% WWW-Authenticate and Proxy-Authenticate header fields.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
##= type=test
##% A UAS MUST always send a "qop" parameter in WWW-Authenticate and
##% Proxy-Authenticate header field values, and a UAC MUST send the "qop"
##% parameter in any resulting authorization header field.
@case(
    "uac-digest-credentials-syntax",
    roles=UAC,
    timeout=15,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def digest_credentials_syntax(ctx: Context) -> None:
    """The Authorization answering a SHA-256 challenge with qop=auth and an opaque value:
    qop, cnonce and an 8-digit nc present, the quoted and the bare parameters as RFC 7616
    §3.4 wants them, its uri the Request-URI, the opaque value back, the response right."""
    reg = _Registering(ctx)
    reg.challenge(reg.register, reg.addr, _challenge("SHA-256"))
    again, where = reg.retried()
    reg.grant(again, where)
    value = again.get("Authorization") or ""
    ctx.check(bool(value), "an Authorization", "none", requirement=11)
    found = params(value)
    qop = found.get("qop")
    ctx.check(qop is not None and qop[0] == "auth", "qop=auth", value, requirement=0)
    ctx.check("cnonce" in found, "a cnonce", value, requirement=1)
    ctx.check("nc" in found, "an nc", value, requirement=2)
    for name in ("username", "realm", "nonce", "uri", "response", "cnonce", "opaque"):
        if name in found:
            ctx.check(found[name][1], f'{name}="..." (quoted)', value, requirement=3)
    for name in ("algorithm", "qop", "nc"):
        if name in found:
            ctx.check(not found[name][1], f"{name}=... (not quoted)", value, requirement=4)
    nc = _value(found, "nc") or ""
    ctx.check(re.fullmatch(r"[0-9a-fA-F]{8}", nc) is not None, "nc of 8 hex digits", nc, 5)
    uri = _value(found, "uri") or ""
    ctx.check(uri == again.uri, f'uri="{again.uri}" (the Request-URI)', uri, requirement=6)
    ctx.check(re.match(r"^[A-Za-z][\w+.-]*:", uri) is not None, "an absolute URI", uri, 7)
    ctx.check(found.get("uri", ("", False))[1], 'uri="..." quoted', value, requirement=8)
    ctx.check(_right(ctx, value, "REGISTER"), "the qop=auth response right", value, 10)
    ctx.check(_value(found, "opaque") == OPAQUE, f'opaque="{OPAQUE}"', value, 9, "SHOULD")


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% If stale is false, or anything other than true, or the
##% stale parameter is not present, the username and/or password are
##% invalid, and new values MUST be obtained.
@case(
    "uac-digest-stale",
    roles=UAC,
    timeout=15,
    preamble=REGISTERING,
    no_control="the retry after stale=true shows the target answers challenges",
)
def digest_stale(ctx: Context) -> None:
    """Challenged again with stale=true the target retries with the new nonce; challenged
    again without stale its credentials were refused: it does not send them again."""
    reg = _Registering(ctx)
    reg.challenge(reg.register, reg.addr, _challenge("SHA-256"))
    first, where = reg.retried()
    fresh = unique("n")
    reg.challenge(first, where, _challenge("SHA-256", fresh, extra=", stale=true"))
    got = reg.again(3.0)
    if got is None or _value(params(got[0].get("Authorization") or ""), "nonce") != fresh:
        shown = got[0].get("Authorization") if got else "no REGISTER"
        ctx.inconclusive(f"no credentials answering the stale=true challenge ({shown})")
    assert got is not None
    second, where = got
    reg.challenge(second, where, _challenge("SHA-256"))
    late = reg.again(max(1.0, 8 * ctx.profile.t1))
    if late is not None:
        reg.grant(*late)
    ctx.check(
        late is None or not late[0].get("Authorization"),
        "no credentials sent again after a challenge without stale=true",
        late[0].get("Authorization") or "" if late else "",
    )


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.4
##= type=test
##% If the client supports the userhash parameter, and the userhash
##% parameter value in the WWW-Authentication header field is set to
##% "true", then the client MUST calculate a hash of the username after
##% any other hash calculation and include the userhash parameter with
##% the value of "true" in the Authorization header field.
@case(
    "uac-digest-userhash",
    roles=UAC,
    timeout=15,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def digest_userhash(ctx: Context) -> None:
    """A challenge with userhash=true: a client supporting it sends userhash=true and
    H(username:realm) as the username (one that sends the plain name does not support it:
    not applicable)."""
    reg = _Registering(ctx)
    reg.challenge(reg.register, reg.addr, _challenge("SHA-256", extra=", userhash=true"))
    again, where = reg.retried()
    reg.grant(again, where)
    value = again.get("Authorization") or ""
    found = params(value)
    if _value(found, "userhash") is None and _value(found, "username") == ctx.profile.username:
        ctx.not_applicable("the target does not support userhash (it sent the plain name)")
    want = userhash(ctx.profile.username, REALM, "SHA-256")
    ctx.check(
        (_value(found, "userhash") or "").lower() == "true" and _value(found, "username") == want,
        f'userhash=true, username="{want}"',
        value,
    )
    ctx.check(_right(ctx, value, "REGISTER"), "the response right", value)


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.8
##= type=test
##% The client/proxy MUST then reissue the request with a
##% Proxy-Authorization header field, with parameters as specified for
##% the Authorization header field in Section 3.4 above.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% This parameter is not meaningful in Proxy-Authenticate header fields,
##% for which the protection space is always the entire proxy; if
##% present, it MUST be ignored.
@case(
    "uac-digest-proxy-authorization",
    roles=UAC,
    timeout=15,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def digest_proxy_authorization(ctx: Context) -> None:
    """A 407 whose Proxy-Authenticate names a domain the request is not in: the REGISTER
    comes again with Proxy-Authorization (the domain ignored) answering it right."""
    reg = _Registering(ctx)
    line = _challenge(
        "SHA-256", header="Proxy-Authenticate", extra=', domain="sip:elsewhere.invalid"'
    )
    reg.challenge(reg.register, reg.addr, line, status=407)
    again, where = reg.retried()
    reg.grant(again, where)
    value = again.get("Proxy-Authorization") or ""
    ctx.check(bool(value), "a Proxy-Authorization", again.get("Authorization") or "none")
    ctx.check(_right(ctx, value, "REGISTER"), "credentials as in RFC 7616 §3.4", value)


##= https://www.rfc-editor.org/rfc/rfc8760#section-2.4
##= type=test
##% When the UAC receives a 401 response with multiple WWW-Authenticate
##% header fields with different realms, it SHOULD retry and add an
##% Authorization header field containing credentials that match the
##% topmost header field of any of the realms unless a local policy
##% dictates otherwise.
@case(
    "uac-digest-realms",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def digest_realms(ctx: Context) -> None:
    """A 401 with challenges of two realms: credentials for the topmost challenge of a realm
    come back (the profile's password is the same for both)."""
    reg = _Registering(ctx)
    other = "other.sipref.test"
    reg.challenge(
        reg.register,
        reg.addr,
        _challenge("SHA-256"),
        _challenge("SHA-256", realm=other),
        _challenge("MD5", realm=other),
    )
    again, where = reg.retried()
    reg.grant(again, where)
    values = _credentials(ctx, again, "Authorization")
    realms = {_value(params(v), "realm"): v for v in values}
    ctx.check(bool(realms), "credentials for one of the realms", " | ".join(values) or "none")
    for realm, value in realms.items():
        algorithm = (_value(params(value), "algorithm") or "MD5").upper()
        ctx.check(
            algorithm == "SHA-256" and _right(ctx, value, "REGISTER"),
            f"the topmost challenge of {realm} (SHA-256) answered right",
            value,
        )


##= https://www.rfc-editor.org/rfc/rfc8760#section-2.4
##= type=test
##% If the UAC cannot respond to any of the challenges in the response,
##% then it SHOULD abandon attempts to send the request unless a local
##% policy dictates otherwise, e.g., the policy might indicate the use of
##% non-Digest mechanisms.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
##= type=test
##% SIP clients and servers MUST NOT accept or request Basic
##% authentication.
@case(
    "uac-digest-unanswerable",
    roles=UAC,
    timeout=15,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def digest_unanswerable(ctx: Context) -> None:
    """A 401 offering Basic and a Digest algorithm nobody knows: no Basic credentials, and
    no new REGISTER with credentials right away."""
    reg = _Registering(ctx)
    offered = [f'WWW-Authenticate: Basic realm="{REALM}"', _challenge("SHA3-999-CONFORMANCE")]
    reg.challenge(reg.register, reg.addr, *offered)
    late = reg.again(max(1.0, 8 * ctx.profile.t1))
    if late is not None:
        reg.grant(*late)
    value = late[0].get("Authorization") or "" if late else ""
    ctx.check(not value.lower().startswith("basic"), "no Basic credentials", value, 1)
    ctx.check(not value, "the request abandoned (no credentials sent)", value, 0, "SHOULD")


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.5
##= type=test
##% If the nextnonce field is present, the
##% client SHOULD use it when constructing the Authorization header field
##% for its next request.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
##= type=test
##% A client SHOULD remember the username, password, nonce, nonce count,
##% and opaque values associated with an authentication session to use
##% to construct the Authorization header field in future requests
##% within that protection space.
@case(
    "uac-digest-nextnonce",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def digest_nextnonce(ctx: Context) -> None:
    """The authenticated REGISTER granted for 2 s with Authentication-Info nextnonce: the
    refresh carries credentials with that nonce, the same user name and opaque value."""
    reg = _Registering(ctx)
    reg.challenge(reg.register, reg.addr, _challenge("SHA-256"))
    again, where = reg.retried()
    first = params(again.get("Authorization") or "")
    nextnonce = unique("nn")
    cnonce, nc = _value(first, "cnonce") or "", _value(first, "nc") or ""
    rspauth = compute_rspauth(
        uri=_value(first, "uri") or "",
        nonce=_value(first, "nonce") or "",
        realm=REALM,
        ha1_value=ha1(ctx.profile.username, REALM, ctx.profile.password, "SHA-256"),
        algorithm="SHA-256",
        qop="auth",
        nc=nc,
        cnonce=cnonce,
    )
    info = f'Authentication-Info: nextnonce="{nextnonce}", qop=auth, rspauth="{rspauth}"'
    reg.grant(again, where, f'{info}, cnonce="{cnonce}", nc={nc}', expires=2)
    got = reg.again(4.0)
    if got is None:
        ctx.inconclusive("no refresh of the registration within 4 s")
    assert got is not None
    refresh, where = got
    value = refresh.get("Authorization") or ""
    if not value:
        reg.challenge(refresh, where, _challenge("SHA-256"))
        ctx.fail("credentials in the refresh (remembered)", "none", requirement=1)
    reg.grant(refresh, where, expires=60)
    found = params(value)
    ctx.check(_value(found, "nonce") == nextnonce, f'nonce="{nextnonce}"', value)
    ctx.check(
        _value(found, "username") == _value(first, "username")
        and _value(found, "opaque") == OPAQUE
        and _right(ctx, value, "REGISTER"),
        "the same user name and opaque value, the response right",
        value,
        requirement=1,
    )


# --- the server roles: the runner answers the target's challenge ----------------------------

SERVERS = ("uas", "registrar", "proxy")


class _Server:
    """Requests toward a target that challenges them: a UAS or registrar (401, through
    `auth_server._Auth`) or a proxy (407, a MESSAGE toward a downstream socket of the
    runner's: accepted means forwarded)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.proxy = ctx.role == "proxy"
        self.cseq = 1
        if self.proxy:
            self.link, self.down = ctx.link(), ctx.listener()
            self.method = "MESSAGE"
        else:
            self.auth = _Auth(ctx)
            self.method = self.auth.method

    def challenge(self) -> Message:
        """The challenge to the request without credentials (not applicable without one)."""
        if self.proxy:
            self.first = self.ctx.request("MESSAGE", self.link, uri=downstream_uri(self.down))
            self.uri = self.first.uri
            got, final = self._exchange(self.first)
            if got is not None:
                self.ctx.not_applicable("the proxy forwards without asking for credentials")
            final = self.ctx.require_final(final)
            if final.status not in (401, 407):
                self.ctx.not_applicable(f"the proxy does not challenge ({describe(final)})")
            return final
        _, final = self.auth.challenge()
        self.uri = self.auth.build_uri()
        return final

    def header(self, final: Message) -> str:
        return "Authorization" if final.status == 401 else "Proxy-Authorization"

    def answer(
        self,
        challenge: str,
        *,
        password: str | None = None,
        uri: str | None = None,
        extra: str = "",
        cnonce: str = "",
        nc: int = 1,
        username: str | None = None,
    ) -> str:
        """Credentials answering ``challenge`` with the profile's user name (qop=auth, nc 1;
        ``password``, the digest ``uri``: the profile's and the Request-URI unless given)."""
        profile = self.ctx.profile
        if not profile.username:
            self.ctx.not_applicable("the profile has no [credentials] to answer the challenge")
        username = username or profile.username
        found = params(challenge)
        realm, nonce = _value(found, "realm") or "", _value(found, "nonce") or ""
        algorithm = _value(found, "algorithm") or "MD5"
        qops = [q.strip() for q in (_value(found, "qop") or "").split(",")]
        qop = "auth" if "auth" in qops else None
        cnonce = cnonce or unique("c")
        uri = uri or self.uri
        response = compute_response(
            method=self.method,
            uri=uri,
            nonce=nonce,
            realm=realm,
            username=username,
            password=profile.password if password is None else password,
            algorithm=algorithm,
            qop=qop,
            nc=format_nc(nc) if qop else None,
            cnonce=cnonce if qop else None,
        )
        value = (
            f'Digest username="{username}", realm="{realm}", nonce="{nonce}", '
            f'uri="{uri}", response="{response}", algorithm={algorithm}'
        )
        if qop:
            value += f', qop={qop}, nc={format_nc(nc)}, cnonce="{cnonce}"'
        opaque = _value(found, "opaque")
        if opaque is not None:
            value += f', opaque="{opaque}"'
        return value + extra

    def send(self, header: str, *values: str) -> tuple[Message, bool]:
        """The request again with ``header: value`` fields: its final response and whether
        it was accepted (a 2xx; through a proxy: forwarded)."""
        if self.proxy:
            self.cseq += 1
            req = self.ctx.request(
                "MESSAGE", self.link, uri=self.uri, call_id=self.first.call_id, cseq=self.cseq
            )
            req.set("From", self.first.get("From") or "")
            for value in values:
                req.add(header, value)
            got, final = self._exchange(req)
            return self.ctx.require_final(final), got is not None
        req = self.auth.build(header, values[0]) if values else self.auth.build()
        for value in values[1:]:
            req.add(header, value)
        final = self.auth.send(req)
        return final, 200 <= (final.status or 0) < 300

    def _exchange(
        self, req: Outgoing, status: int = 200, extra: tuple[tuple[str, str], ...] = ()
    ) -> tuple[Got | None, Message | None]:
        """``req`` through the proxy: what reached the downstream socket (answered
        ``status`` with ``extra`` fields) and the final response upstream -- no fixed wait."""
        self.link.send(bytes(req))
        got: Got | None = None
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            if got is None:
                got = arrives(self.down, "MESSAGE", req.call_id, timeout=0.02)
                if got is not None:
                    reply(self.down, got, status, extra=extra)
            final = final_of(self.link, req, timeout=0.02)
            if final is not None:
                return got, final
        return got, None

    def digest(self, final: Message) -> list[str]:
        """The Digest challenges of ``final``, top to bottom."""
        return [c for c in challenges(final) if c.split(None, 1)[0].lower() == "digest"]


def _algorithm(challenge: str) -> str:
    return (_value(params(challenge), "algorithm") or "MD5").upper()


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.7
##= type=test
##% If the server responds with multiple challenges, then each one of
##% these challenges MUST use a different digest algorithm.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.3
##= type=test
##% If the UAS challenges the originator using multiple WWW-Authenticate/
##% Proxy-Authenticate header fields with the same realm, then each of
##% these header fields MUST use a different digest algorithm.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.7
##= type=test
##% The server MUST add these challenges to the response in order of
##% preference, starting with the most preferred algorithm, followed by
##% the less preferred algorithm.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.3
##= type=test
##% The UAS MUST add these header fields to the response in the order in
##% which it would prefer to see them used, starting with the most
##% preferred algorithm at the top.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% This parameter MUST be used by all implementations.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
##= type=test
##% A UAS MUST always send a "qop" parameter in WWW-Authenticate and
##% Proxy-Authenticate header field values, and a UAC MUST send the "qop"
##% parameter in any resulting authorization header field.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% For historical reasons, a sender MUST only generate the quoted string
##% syntax values for the following parameters: realm, domain, nonce,
##% opaque, and qop.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% For historical reasons, a sender MUST NOT generate the quoted string
##% syntax values for the following parameters: stale and algorithm.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
##= type=test
##% SIP clients and servers MUST NOT accept or request Basic
##% authentication.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.8
##= type=test
##% Upon receiving a request that requires authentication, the
##% proxy/server MUST issue the "407 Proxy Authentication Required"
##% response with a "Proxy-Authenticate" header field.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.2
##= type=test
##% To maintain backwards compatibility with [RFC2617], the MD5 algorithm
##% is still supported but NOT RECOMMENDED.
##= https://www.rfc-editor.org/rfc/rfc8760#section-3
##= type=test
##% The obsolete MD5 algorithm
##% remains only for backward compatibility with [RFC2617], but its use
##% is NOT RECOMMENDED.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% It is RECOMMENDED that this string be Base64 or
##% hexadecimal data.
##= https://www.rfc-editor.org/rfc/rfc7616#section-4
##= type=test
##% In challenges, servers SHOULD use the "charset" authentication
##% parameter (case-insensitive) to express the character encoding they
##% expect the user agent to use when generating A1 (see Section 3.4.2)
##% and username hashing (see Section 3.4.4).
##= https://www.rfc-editor.org/rfc/rfc7616#section-5.2
##= type=test
##% In particular, a realm string SHOULD include the name of the host doing the
##% authentication.
@case("digest-7616-challenges", roles=SERVERS, no_control=CHALLENGE)
def challenges_7616(ctx: Context) -> None:
    """The challenge of a request without credentials: Digest values (no Basic) of one realm
    each with its own algorithm, MD5 (if offered) below the SHA-2 ones, qop in each, quoted
    and bare parameters as RFC 7616 §3.3 wants; a proxy's is a 407 with Proxy-Authenticate;
    nonces of hex or Base64 data, charset=UTF-8, a realm naming a host."""
    server = _Server(ctx)
    final = server.challenge()
    found = challenges(final)
    shown = " | ".join(found) or "none"
    schemes = [v.split(None, 1)[0].lower() for v in found if v]
    ctx.check("basic" not in schemes, "no Basic challenge", shown, requirement=8)
    if server.proxy:
        ctx.check(
            final.status == 407 and bool(found),
            "407 with Proxy-Authenticate",
            f"{describe(final)}: {shown}",
            requirement=9,
        )
    digest = server.digest(final)
    ctx.check(bool(digest), "a Digest challenge", shown, requirement=4)
    by_realm: dict[str, list[str]] = {}
    for value in digest:
        by_realm.setdefault(_value(params(value), "realm") or "", []).append(_algorithm(value))
    for realm, algorithms in by_realm.items():
        ctx.check(
            len(set(algorithms)) == len(algorithms),
            f"a different algorithm in each challenge of realm {realm}",
            ", ".join(algorithms),
            requirement=1,
        )
        if "MD5" in algorithms:
            below = algorithms[algorithms.index("MD5") + 1 :]
            ctx.check(
                not any(a in STRENGTH[:2] for a in below),
                "the challenges most preferred first: MD5, not recommended, below SHA-2",
                ", ".join(algorithms),
                requirement=3,
            )
    for value in digest:
        found_params = params(value)
        ctx.check("qop" in found_params, "qop in each Digest challenge", value, requirement=5)
        for name in ("realm", "domain", "nonce", "opaque", "qop"):
            if name in found_params:
                ctx.check(found_params[name][1], f'{name}="..." (quoted)', value, 6)
        for name in ("stale", "algorithm"):
            if name in found_params:
                ctx.check(not found_params[name][1], f"{name}=... (not quoted)", value, 7)
    algorithms = [_algorithm(v) for v in digest]
    ctx.check(
        algorithms[0] != "MD5",
        "MD5 not the most preferred algorithm",
        ", ".join(algorithms),
        requirement=11,
        level="SHOULD",
    )
    for value in digest:
        nonce = _value(params(value), "nonce") or ""
        ctx.check(
            re.fullmatch(r"[0-9A-Fa-f]+|[A-Za-z0-9+/]+=*|[A-Za-z0-9_-]+=*", nonce) is not None,
            "a nonce of hexadecimal or Base64 data",
            nonce,
            requirement=12,
            level="SHOULD",
        )
        charset = _value(params(value), "charset") or ""
        ctx.check(charset.upper() == "UTF-8", "charset=UTF-8", value, 13, "SHOULD")
    from conformance.cases.auth_server import _hostlike

    for realm in by_realm:
        ctx.check(_hostlike(realm), "a realm naming a host", realm, 14, "SHOULD")


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
##= type=test
##% Then, the server MUST perform the same digest
##% operation (e.g., MD5, SHA-256) performed by the client and compare
##% the result to the given response value.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
##= type=test
##% A UAS MUST be able to properly handle a "qop" parameter
##% received in an Authorization/Proxy-Authorization header field, and a
##% UAC MUST be able to properly handle a "qop" parameter received in
##% WWW-Authenticate and Proxy-Authenticate header fields.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
##= type=test
##% The server SHOULD only set stale to true if it receives a request
##% for which the nonce is invalid.
@case("digest-7616-each-algorithm", roles=SERVERS)
def each_algorithm(ctx: Context) -> None:
    """Each challenge offered (SHA-256, SHA-512-256, MD5...) answered with the right
    password (qop=auth) is accepted, with a wrong one refused; the challenge after the
    wrong password has no stale=true (its nonce was valid)."""
    server = _Server(ctx)
    final = server.challenge()
    header = server.header(final)
    known = [c for c in server.digest(final) if is_supported(_algorithm(c))]
    if not known:
        ctx.not_applicable(f"no challenge of an algorithm the runner knows: {challenges(final)}")
    for challenge in known:
        algorithm = _algorithm(challenge)
        ctx.controlled(
            f"{server.method} with {algorithm} credentials",
            lambda c=challenge: server.send(header, server.answer(c)),
            f"the {algorithm} challenge answered with the right password",
        )
        wrong, accepted = server.send(header, server.answer(challenge, password="not-secret"))
        ctx.check(
            not accepted,
            f"{algorithm} credentials with a wrong password refused",
            describe(wrong),
        )
        again = challenges(wrong) if wrong.status in (401, 407) else []
        stale = [v for v in again if (_value(params(v), "stale") or "").lower() == "true"]
        ctx.check(
            not stale,
            "no stale=true after a wrong password (the nonce was valid)",
            " | ".join(stale),
            requirement=2,
            level="SHOULD",
        )


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.6
##= type=test
##% The authenticating server MUST assure that the resource designated by
##% the "uri" parameter is the same as the resource specified in the
##% Request-Line
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.6
##= type=test
##% Therefore, in SIP, a UAS MUST check if the Request-URI in the
##% Authorization/Proxy-Authorization header field value corresponds to a
##% user for whom the UAS is willing to accept forwarded or direct
##% requests
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.6
##= type=test
##% if they are not, the server SHOULD return a 400 Bad Request error.
@case("digest-7616-uri-mismatch", roles=SERVERS)
def uri_mismatch(ctx: Context) -> None:
    """Credentials right in every respect but naming another resource in their uri
    parameter (the digest computed over it) are refused, with 400 Bad Request."""
    server = _Server(ctx)
    final = server.challenge()
    header = server.header(final)
    challenge = server.digest(final)[0] if server.digest(final) else ""
    if not challenge:
        ctx.fail("a Digest challenge", " | ".join(challenges(final)) or "none")
    ctx.controlled(
        f"{server.method} with credentials for its Request-URI",
        lambda: server.send(header, server.answer(challenge)),
        "the same credentials with the Request-URI as uri",
    )
    elsewhere = "sip:somebody-else@elsewhere.conformance.invalid"
    got, accepted = server.send(header, server.answer(challenge, uri=elsewhere))
    ctx.check(not accepted, f'credentials with uri="{elsewhere}" refused', describe(got))
    ctx.check(got.status == 400, "400 Bad Request", describe(got), requirement=2, level="SHOULD")


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4
##= type=test
##% Sending both username and username* in the same header
##% option MUST be treated as an error.
@case("digest-7616-username-twice", roles=SERVERS)
def username_twice(ctx: Context) -> None:
    """Right credentials carrying username* besides username are refused as an error."""
    server = _Server(ctx)
    final = server.challenge()
    header = server.header(final)
    challenge = server.digest(final)[0] if server.digest(final) else ""
    if not challenge:
        ctx.fail("a Digest challenge", " | ".join(challenges(final)) or "none")
    ctx.controlled(
        f"{server.method} with credentials",
        lambda: server.send(header, server.answer(challenge)),
        "the same credentials without username*",
    )
    extra = f", username*=UTF-8''{ctx.profile.username}"
    got, accepted = server.send(header, server.answer(challenge, extra=extra))
    ctx.check(not accepted, "credentials with username and username* refused", describe(got))


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.5
##= type=test
##% The rspauth, cnonce, and nc parameters MUST be present if
##% "qop=auth" or "qop=auth-int" is specified.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.5
##= type=test
##% The cnonce value and nc value MUST be the ones for the client request
##% to which this message is the response.
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
##% For historical reasons, the nc value MUST be exactly 8 hexadecimal
##% digits.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.5
##= type=test
##% The server SHOULD use the same value for the qop parameter in the
##% response as was sent by the client in the corresponding request.
@case(
    "digest-7616-authentication-info",
    roles=SERVERS,
    no_control="the accepted credentials are the control; no Authentication-Info (a MAY): "
    "not applicable",
)
def authentication_info(ctx: Context) -> None:
    """The 2xx to credentials with qop=auth: its Authentication-Info (when the server adds
    one) carries rspauth and the request's cnonce and nc, qop=auth, each quoted or not as
    RFC 7616 §3.5 wants."""
    server = _Server(ctx)
    final = server.challenge()
    header = server.header(final)
    challenge = server.digest(final)[0] if server.digest(final) else ""
    if not challenge:
        ctx.fail("a Digest challenge", " | ".join(challenges(final)) or "none")
    cnonce = unique("c")
    got, accepted = server.send(header, server.answer(challenge, cnonce=cnonce))
    if not accepted:
        ctx.inconclusive(f"the credentials were not accepted ({describe(got)})")
    name = "Authentication-Info" if header == "Authorization" else "Proxy-Authentication-Info"
    value = got.get(name)
    if value is None:
        ctx.not_applicable(f"no {name} in the {describe(got)} (the server may leave it out)")
    assert value is not None
    found = params("x " + value)
    ctx.check(
        all(n in found for n in ("rspauth", "cnonce", "nc")), "rspauth, cnonce and nc", value
    )
    ctx.check(
        _value(found, "cnonce") == cnonce and _value(found, "nc") == format_nc(1),
        f'cnonce="{cnonce}", nc={format_nc(1)}',
        value,
        requirement=1,
    )
    for n in ("nextnonce", "rspauth", "cnonce"):
        if n in found:
            ctx.check(found[n][1], f'{n}="..." (quoted)', value, requirement=2)
    for n in ("qop", "nc"):
        if n in found:
            ctx.check(not found[n][1], f"{n}=... (not quoted)", value, requirement=3)
    nc = _value(found, "nc") or ""
    ctx.check(re.fullmatch(r"[0-9A-Fa-f]{8}", nc) is not None, "nc of 8 hex digits", nc, 4)
    ctx.check(_value(found, "qop") == "auth", "qop=auth", value, 5, "SHOULD")


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.4.4
##= type=test
##% To protect the transport of the username from the client to the
##% server, the server SHOULD set the userhash parameter with the value
##% of "true" in the WWW-Authentication header field.
@case("digest-7616-userhash-offered", roles=SERVERS, level="SHOULD", no_control=CHALLENGE)
def userhash_offered(ctx: Context) -> None:
    """The Digest challenges carry userhash=true."""
    server = _Server(ctx)
    final = server.challenge()
    digest = server.digest(final)
    ctx.check(bool(digest), "a Digest challenge", " | ".join(challenges(final)) or "none")
    for value in digest:
        got = (_value(params(value), "userhash") or "").lower()
        ctx.check(got == "true", "userhash=true", value)


##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
##= type=test
##% Proxies MUST be completely transparent in the Digest access
##% authentication scheme.
##= https://www.rfc-editor.org/rfc/rfc7616#section-3.6
##= type=test
##% That is, they MUST forward the WWW-Authenticate,
##% Authentication-Info, and Authorization header fields untouched.
@case(
    "proxy-7616-digest-transparent",
    roles=("proxy",),
    no_control="judged on requests and responses the proxy forwarded; none: inconclusive",
)
def digest_transparent(ctx: Context) -> None:
    """A downstream UAS's Digest exchange through the proxy: the Authorization of the
    MESSAGE, the WWW-Authenticate of its 401 and the Authentication-Info of the 200 to the
    next one reach the other side untouched (a proxy demanding credentials of its own gets
    them too, in Proxy-Authorization)."""
    server = _Server(ctx)
    server.first = ctx.request("MESSAGE", server.link, uri=downstream_uri(server.down))
    server.uri = server.first.uri
    uas = "uas.conformance.invalid"
    authz = (
        f'Digest username="bob", realm="{uas}", nonce="{unique("n")}", uri="{server.uri}", '
        'response="0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", '
        'algorithm=SHA-256, qop=auth, nc=00000001, cnonce="c1"'
    )
    www = f'Digest realm="{uas}", nonce="{unique("n")}", qop="auth", algorithm=SHA-256'
    info = 'rspauth="0123456789abcdef", qop=auth, nc=00000001, cnonce="c1"'
    mine: list[str] = []

    def through(
        status: int, extra: tuple[tuple[str, str], ...]
    ) -> tuple[Got | None, Message | None]:
        server.cseq += 1
        req = ctx.request(
            "MESSAGE", server.link, uri=server.uri, call_id=server.first.call_id, cseq=server.cseq
        )
        req.set("From", server.first.get("From") or "")
        req.add("Authorization", authz)
        for value in mine:
            req.add("Proxy-Authorization", value)
        return server._exchange(req, status, extra)

    got, final = through(401, (("WWW-Authenticate", www),))
    if got is None and final is not None and final.status == 407 and ctx.profile.username:
        challenge = (server.digest(final) or [""])[0]
        mine.append(server.answer(challenge))
        got, final = through(401, (("WWW-Authenticate", www),))
    if got is None or final is None:
        ctx.inconclusive(f"the MESSAGE was not forwarded ({describe(final)})")
    assert got is not None and final is not None
    forwarded = [v.strip() for v in got[0].get_all("Authorization")]
    ctx.check(forwarded == [authz], f"Authorization: {authz}", " | ".join(forwarded), 1)
    back = [v.strip() for v in final.get_all("WWW-Authenticate")]
    ctx.check(back == [www], f"the 401 with WWW-Authenticate: {www}", " | ".join(back), 1)
    if mine:  # the proxy's own credentials again, the next nonce count
        mine[0] = server.answer(challenge, nc=2)
    got, final = through(200, (("Authentication-Info", info),))
    if got is None or final is None:
        ctx.inconclusive(f"the second MESSAGE was not forwarded ({describe(final)})")
    assert final is not None
    back = [v.strip() for v in final.get_all("Authentication-Info")]
    ctx.check(back == [info], f"the 200 with Authentication-Info: {info}", " | ".join(back), 1)


##= https://www.rfc-editor.org/rfc/rfc8760#section-2.5
##= type=test
##% Each WWW-Authenticate and Proxy-Authenticate value received in
##% response to the forked request MUST be placed into the single
##% response that is sent by the forking proxy to the UAC.
##= https://www.rfc-editor.org/rfc/rfc8760#section-2.5
##= type=test
##% When the forking proxy places multiple WWW-Authenticate and
##% Proxy-Authenticate header fields received from one downstream proxy
##% into a single response, it MUST maintain the order of these header
##% fields.
@case(
    "proxy-8760-fork-challenges-ordered",
    roles=("proxy",),
    preamble="two contacts bound to one address-of-record",
    no_control="judged on a forked INVITE: one reaching fewer than two branches is inconclusive",
)
def fork_challenges_ordered(ctx: Context) -> None:
    """Both branches of a forked INVITE answer 401 with two challenges each (most preferred
    first): the 401 upstream carries all four, each branch's two in their order."""
    from conformance.cases.proxy_forking import _fork

    link, req, branches = _fork(ctx)
    (down_a, got_a), (down_b, got_b) = branches
    a = [
        f'Digest realm="a.conformance.invalid", nonce="{unique("n")}", qop="auth", '
        f"algorithm={algorithm}"
        for algorithm in ("SHA-512-256", "MD5")
    ]
    b = [
        f'Digest realm="b.conformance.invalid", nonce="{unique("n")}", qop="auth", '
        f"algorithm={algorithm}"
        for algorithm in ("SHA-256", "SHA-512-256")
    ]
    reply(down_a, got_a, 401, extra=[("WWW-Authenticate", v) for v in a])
    down_a.expect(lambda m: m.method == "ACK", timeout=0.2)
    reply(down_b, got_b, 401, extra=[("WWW-Authenticate", v) for v in b])
    down_b.expect(lambda m: m.method == "ACK", timeout=0.2)
    final = ctx.require_final(final_of(link, req))
    from conformance.cases._proxy_support import ack_upstream

    ack_upstream(link, req, final)
    got = [v.strip() for v in final.get_all("WWW-Authenticate")]
    shown = " | ".join(got) or "none"
    ctx.check(final.status == 401, "401", describe(final))
    ctx.check(all(v in got for v in a + b), "the four challenges of both branches", shown)
    for mine in (a, b):
        where = [got.index(v) for v in mine]
        ctx.check(where == sorted(where), "each branch's challenges in its order", shown, 1)


##= https://www.rfc-editor.org/rfc/rfc7616#section-4
##= type=test
##% For the username, recipients MUST support all characters defined in
##% the "UsernameCasePreserved" profile defined in Section 3.3 of
##% [RFC7613], with the exception of the colon (":") character.
##= https://www.rfc-editor.org/rfc/rfc7616#section-4
##= type=test
##% For the password, recipients MUST support all characters defined in
##% the "OpaqueString" profile defined in Section 4.2 of [RFC7613].
@case("digest-7616-international-credentials", roles=SERVERS)
def international_credentials(ctx: Context) -> None:
    """The profile's second user, name and password not ASCII (``[credentials]
    international_username`` / ``international_password``), answers the challenge in UTF-8:
    accepted as the first user's credentials are (the control)."""
    name, password = ctx.profile.international_username, ctx.profile.international_password
    if not name or not password:
        ctx.not_applicable("the profile names no user with a name and password not ASCII")
    server = _Server(ctx)
    final = server.challenge()
    header = server.header(final)
    challenge = server.digest(final)[0] if server.digest(final) else ""
    if not challenge:
        ctx.fail("a Digest challenge", " | ".join(challenges(final)) or "none")
    ctx.controlled(
        f"{server.method} with the first user's credentials",
        lambda: server.send(header, server.answer(challenge)),
        "the same with the profile's (ASCII) user",
    )
    if server.proxy is False and server.auth.registration is not None:
        # the second user registers its own address-of-record (its name %-escaped)
        registration = Registration(ctx, server.auth.link, user=quote(name))
        server.auth.registration = registration
    value = server.answer(challenge, username=name, password=password, nc=2)
    got, accepted = server.send(header, value)
    ctx.check(got.status not in (400, 401, 407), f"{name}'s credentials accepted", describe(got))
    ctx.check(accepted, f"{name}'s credentials accepted", describe(got), requirement=1)
