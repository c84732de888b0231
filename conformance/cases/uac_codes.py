"""How the UAC reacts to response codes and challenges (RFC 3261 §16.6, §21.3, §21.4, §21.5,
§22.1, §22.3, §22.4): 301 and 305, 403 and other refusals, 503 with and without
Retry-After, credentials rejected, a challenge without qop, challenges from two realms.

The runner answers the first request of the trigger with the response under test and judges
what the target sends next (or that it sends nothing).
"""

from __future__ import annotations

from conformance.cases.uac_register import _grant
from conformance.cases.uac_retry import REALM, _retried, verify_digest
from conformance.messages import unique
from conformance.model import Context, case
from conformance.sipmsg import Message
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer
from rfc3261.auth_headers import Credentials
from rfc3261.digest import DigestCredentials

ORDER = 68  # after the first UAC modules

INVITED = "an INVITE from the target ([uac] invite)"
#: the realm of the runner playing a proxy, beside `REALM` of the runner playing the UAS
PROXY_REALM = "proxy.sipref.test"
#: header fields a retry may change without being a "modified" request
TRANSIENT = {"via", "cseq", "content-length", "max-forwards"}


def challenge(status: int, realm: str = REALM, qop: bool = True, nonce: str = "") -> str:
    """A Digest challenge header for ``status`` (401 or 407)."""
    name = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
    nonce = nonce or unique("n")
    qop_param = ', qop="auth"' if qop else ""
    return f'{name}: Digest realm="{realm}", nonce="{nonce}"{qop_param}, algorithm=MD5'


def credentials(ctx: Context, value: str, header: str) -> DigestCredentials:
    """The Digest credentials of a header value, or inconclusive if they do not parse."""
    try:
        return DigestCredentials.from_header(Credentials.parse(value, header))
    except ValueError as exc:
        ctx.inconclusive(f"{header} does not parse as Digest credentials: {exc}")
        raise


def new_request(
    peer: Peer, first: Message, within: float, call_id: str | None = None
) -> tuple[Message, tuple[str, int]] | None:
    """The next request of ``first``'s method with a branch of its own (not a copy)."""
    return peer.expect(
        lambda m: (
            m.method == first.method
            and m.branch != first.branch
            and (call_id is None or m.call_id == call_id)
        ),
        within,
    )


def _headers(msg: Message) -> list[tuple[str, str]]:
    return [(n.lower(), v) for n, v in msg.headers if n.lower() not in TRANSIENT]


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.3.2
##= type=test
##% The user can no longer be found at the address in the Request-URI,
##% and the requesting client SHOULD retry at the new address given by
##% the Contact header field (Section 20.10).
@case(
    "uac-301-recurse",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def moved_permanently(ctx: Context) -> None:
    """After a 301 the target calls the address in its Contact."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    moved = f"sip:moved301@{peer.server.hostport}"
    peer.answer(invite, addr, 301, headers=[f"Contact: <{moved}>"], contact=False)
    got = new_request(peer, invite, 5.0)
    if got is not None:
        peer.answer(got[0], got[1], 486)
    ctx.check(got is not None, f"a new INVITE to {moved}", "none within 5 s")
    assert got is not None
    ctx.check(got[0].uri == moved, f"INVITE {moved}", f"INVITE {got[0].uri}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.3.4
##= type=test
##% The requested resource MUST be accessed through the proxy given by
##% the Contact field.
@case("uac-305-use-proxy", roles=UAC, timeout=15, preamble=INVITED, no_control=RUNNER_ANSWERS)
def use_proxy(ctx: Context) -> None:
    """After a 305 naming a proxy (a second listener of the runner's), the same Request-URI
    is sent again, to that proxy."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    proxy = ctx.listener()
    proxy_uri = f"sip:proxy305@{proxy.hostport}"
    peer.answer(invite, addr, 305, headers=[f"Contact: <{proxy_uri}>"], contact=False)
    got = proxy.expect(lambda m: m.method == "INVITE", timeout=5.0)
    if got is not None:
        proxy.send(peer.response(got[0], 486), got[1], "486 from the proxy")
    ctx.check(got is not None, f"the INVITE sent to the proxy {proxy.hostport}", "none")
    assert got is not None
    ctx.check(
        got[0].uri == invite.uri,
        f"Request-URI {invite.uri} (the resource, through the proxy)",
        got[0].uri,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.4
##= type=test
##% Authorization will not help, and the request SHOULD NOT be
##% repeated.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4
##= type=test
##% The client SHOULD NOT retry the same request without modification
##% (for example, adding appropriate authorization).
@case(
    "uac-403-not-repeated",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def forbidden_not_repeated(ctx: Context) -> None:
    """A 403 is ACKed and the INVITE is not sent again, least of all unchanged."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 403)
    again = new_request(peer, invite, 1.5)
    if again is not None:
        peer.answer(again[0], again[1], 403)
    same = (
        again is not None and again[0].uri == invite.uri and _headers(again[0]) == _headers(invite)
    )
    ctx.check(not same, "no unchanged retry after the 403", "the same INVITE again", 1)
    ctx.check(again is None, "no new INVITE after the 403", f"INVITE {again and again[0].uri}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.5.4
##= type=test
##% If no Retry-After is given, the client MUST act as if it had
##% received a 500 (Server Internal Error) response.
@case("uac-503-as-500", roles=UAC, timeout=15, preamble=INVITED, no_control=RUNNER_ANSWERS)
def unavailable_as_500(ctx: Context) -> None:
    """A 503 without Retry-After ends the INVITE as a 500 would: ACKed, not sent again to
    the same server."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 503)
    ack = peer.request("ACK", 3.0, invite.call_id)
    again = new_request(peer, invite, 1.5)
    if again is not None:
        peer.answer(again[0], again[1], 486)
    ctx.check(ack is not None, "an ACK for the 503 (a failure like 500)", "none")
    ctx.check(again is None, "no new INVITE to the server", f"INVITE {again and again[0].uri}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.5.4
##= type=test
##% It SHOULD NOT forward any other requests to that server for the
##% duration specified in the Retry-After header field, if present.
@case(
    "uac-503-retry-after",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble="a REGISTER from the target ([uac] register)",
    no_control=RUNNER_ANSWERS,
)
def unavailable_retry_after(ctx: Context) -> None:
    """A REGISTER answered 503 with Retry-After: 3: no request comes for 2 s."""
    peer = Peer(ctx, "register")
    register, addr = peer.first("REGISTER")
    peer.answer(register, addr, 503, headers=["Retry-After: 3"], contact=False)
    others = peer.collect(
        lambda m: m.method not in (None, "ACK") and m.branch != register.branch, 2.0
    )
    for _, other in others:
        if other.method == "REGISTER":
            _grant(peer, other, addr)
    ctx.check(
        not others,
        "no request within 2 s (Retry-After: 3)",
        ", ".join(f"{m.method} {m.get('CSeq')}" for _, m in others),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% A UAC MUST NOT re-attempt requests with the credentials
##% that have just been rejected (though the request may be retried if
##% the nonce was stale).
@case(
    "uac-401-rejected-credentials",
    roles=UAC,
    timeout=15,
    preamble="an INVITE from the target, challenged, sent again with credentials",
    no_control=RUNNER_ANSWERS,
)
def rejected_credentials(ctx: Context) -> None:
    """The credentials are refused (a second 401, the same nonce, not stale): they are not
    sent again."""
    if not ctx.profile.password:
        ctx.not_applicable("the profile gives no [credentials] password")
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    nonce = unique("n")
    peer.answer(invite, addr, 401, headers=[challenge(401, nonce=nonce)], contact=False)
    with ctx.preamble("the INVITE again with Authorization"):
        again, where = _retried(ctx, peer, invite, addr)
        rejected = again.get("Authorization")
        if rejected is None:
            peer.answer(again, where, 486)
            ctx.inconclusive("the INVITE came again without Authorization")
    peer.answer(again, where, 401, headers=[challenge(401, nonce=nonce)], contact=False)
    third = new_request(peer, again, 1.5)
    if third is not None:
        peer.answer(third[0], third[1], 486)
    ctx.check(
        third is None or third[0].get("Authorization") != rejected,
        "the rejected credentials not sent again",
        f"INVITE {third and third[0].get('CSeq')} with the same Authorization",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##= type=test
##% RFC 2617 notes that a cnonce value MUST NOT be sent in an
##% Authorization (and by extension Proxy-Authorization) header field if
##% no qop directive has been sent.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##= type=test
##% For SIP, the 'uri' MUST be enclosed in quotation marks.
@case(
    "uac-401-without-qop",
    roles=UAC,
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def without_qop(ctx: Context) -> None:
    """A challenge without qop (RFC 2069 style): the credentials carry a cnonce only with a
    qop directive of their own (RFC 8760 §2.6 has a UAC send qop=auth even then), a quoted
    uri, and the right response."""
    if not ctx.profile.password:
        ctx.not_applicable("the profile gives no [credentials] password")
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 401, headers=[challenge(401, qop=False)], contact=False)
    again, where = _retried(ctx, peer, invite, addr)
    peer.answer(again, where, 486)
    value = again.get("Authorization")
    if value is None:
        ctx.inconclusive("the INVITE came again without Authorization")
    assert value is not None
    creds = credentials(ctx, value, "Authorization")
    ctx.check(
        creds.cnonce is None or creds.qop is not None,
        "no cnonce without a qop directive",
        f"cnonce={creds.cnonce} without qop",
    )
    ctx.check('uri="' in value.replace(" ", ""), 'uri="..."', value, requirement=1)
    want = creds.expected_response("INVITE", password=ctx.profile.password)
    ctx.check(creds.response == want, f"response {want}", f"response {creds.response}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##= type=test
##% If a client receives a "qop" parameter in a challenge header field,
##% it MUST send the "qop" parameter in any resulting authorization
##% header field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##= type=test
##% For SIP, the 'uri' MUST be enclosed in quotation marks.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.8
##= type=test
##% This code is similar to 401 (Unauthorized), but indicates that the
##% client MUST first authenticate itself with the proxy.
@case("uac-407-qop", roles=UAC, timeout=15, preamble=INVITED, no_control=RUNNER_ANSWERS)
def proxy_qop(ctx: Context) -> None:
    """A 407 with qop="auth": the INVITE comes again with Proxy-Authorization carrying qop
    and a quoted uri."""
    if not ctx.profile.password:
        ctx.not_applicable("the profile gives no [credentials] password")
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 407, headers=[challenge(407)], contact=False)
    got = new_request(peer, invite, 5.0)
    if got is None:
        # it may have no credentials for the proxy's realm: then it gives up, as it may
        ctx.inconclusive("the target did not send the INVITE again within 5 s")
    assert got is not None
    peer.answer(got[0], got[1], 486)
    value = got[0].get("Proxy-Authorization")
    ctx.check(value is not None, "a Proxy-Authorization", "none", requirement=2)
    assert value is not None
    creds = credentials(ctx, value, "Proxy-Authorization")
    ctx.check(creds.qop == "auth", 'qop=auth (the challenge had qop="auth")', f"{creds.qop}")
    ctx.check('uri="' in value.replace(" ", ""), 'uri="..."', value, requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% As noted above, multiple credentials in a request SHOULD be
##% differentiated by the "realm" parameter.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% The same credentials SHOULD be used for the same realm.
@case(
    "uac-407-then-401",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def proxy_then_server(ctx: Context) -> None:
    """A 407 (the proxy's realm), then a 401 (the UAS's): the third INVITE carries both
    credentials, each naming its own realm, the proxy's the same as before."""
    if not ctx.profile.password:
        ctx.not_applicable("the profile gives no [credentials] password")
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 407, headers=[challenge(407, PROXY_REALM)], contact=False)
    with ctx.preamble("the INVITE again with Proxy-Authorization, challenged by the UAS"):
        second, where = _retried(ctx, peer, invite, addr)
        if second.get("Proxy-Authorization") is None:
            peer.answer(second, where, 486)
            ctx.inconclusive("the INVITE came again without Proxy-Authorization")
        peer.answer(second, where, 401, headers=[challenge(401)], contact=False)
        third = new_request(peer, second, 5.0)
        if third is None:
            ctx.inconclusive("the target did not answer the 401")
    assert third is not None
    peer.answer(third[0], third[1], 486)
    proxy_value = third[0].get("Proxy-Authorization")
    ctx.check(
        proxy_value is not None and third[0].get("Authorization") is not None,
        "Proxy-Authorization and Authorization",
        f"Proxy-Authorization {proxy_value}; Authorization {third[0].get('Authorization')}",
    )
    assert proxy_value is not None
    realms = [
        credentials(ctx, third[0].get(h) or "", h).realm
        for h in ("Proxy-Authorization", "Authorization")
    ]
    ctx.check(
        realms == [PROXY_REALM, REALM],
        f"realms {PROXY_REALM} and {REALM}",
        f"realms {realms}",
    )
    before = credentials(ctx, second.get("Proxy-Authorization") or "", "Proxy-Authorization")
    now = credentials(ctx, proxy_value, "Proxy-Authorization")
    ctx.check(
        (now.username, now.realm) == (before.username, before.realm),
        f"the same credentials for {PROXY_REALM} ({before.username})",
        f"{now.username} for {now.realm}",
        requirement=1,
    )
    verify_digest(ctx, third[0], "Authorization", requirement=0)


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
##= type=test
##% Endpoints MUST NOT use a URI obtained from a Record-Route header field outside the
##% dialog in which it was provided.
@case(
    "uac-record-route-outside-dialog",
    roles=UAC,
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def record_route_outside_dialog(ctx: Context) -> None:
    """A 302 (no dialog) carrying a Record-Route: the redirected INVITE has no Route to it."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    hp = peer.server.hostport
    rr, moved = f"sip:recorded@{hp};lr", f"sip:moved@{hp}"
    peer.answer(
        invite,
        addr,
        302,
        headers=[f"Record-Route: <{rr}>", f"Contact: <{moved}>"],
        contact=False,
    )
    got = new_request(peer, invite, 5.0)
    if got is None:
        ctx.inconclusive("the target did not follow the 302")
    assert got is not None
    peer.answer(got[0], got[1], 486)
    routes = got[0].get_all("Route")
    ctx.check(
        not any("recorded@" in r for r in routes) and "recorded@" not in got[0].uri,
        f"no use of {rr}",
        f"INVITE {got[0].uri}; Route {' | '.join(routes) or 'none'}",
    )
