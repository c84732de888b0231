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

from conformance.cases._proxy_support import (
    ack_upstream,
    arrives,
    final_of,
    reply,
)
from conformance.cases.auth_server import CHALLENGE, _Auth, challenges
from conformance.cases.proxy_auth import _challenged
from conformance.messages import unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer
from rfc3261.auth_headers import Credentials
from rfc3261.digest import (
    DigestCredentials,
    compute_response,
    format_nc,
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
    ctx.check(bool(value), "an Authorization", "none", requirement=9)
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
    ctx.check(re.match(r"^[A-Za-z][\w+.-]*:", uri) is not None, "an absolute URI", uri, 6)
    ctx.check(found.get("uri", ("", False))[1], 'uri="..." quoted', value, requirement=7)
    ctx.check(_value(found, "opaque") == OPAQUE, f'opaque="{OPAQUE}"', value, 8, "SHOULD")
    ctx.check(_right(ctx, value, "REGISTER"), "the qop=auth response right", value, 9)


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
    ctx.check(bool(value), "a Proxy-Authorization", again.get("Authorization") or "none", 1)
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
    cnonce = _value(first, "cnonce") or ""
    info = f'Authentication-Info: nextnonce="{nextnonce}", qop=auth, nc={_value(first, "nc")}'
    reg.grant(again, where, f'{info}, cnonce="{cnonce}"', expires=2)
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
