"""The UAC retrying after 3xx, 401/407 and 420 (RFC 3261 §8.1.3.4, §8.1.3.5, §22.2, §22.3).

The runner turns the first INVITE (or REGISTER) down with the response under test and
judges the new request the target sends.  Credentials are verified with
`rfc3261.digest` against the profile's ``[credentials]``.
"""

from __future__ import annotations

from conformance.messages import unique
from conformance.model import Context, case
from conformance.sipmsg import Message, param
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer
from rfc3261.auth_headers import Credentials
from rfc3261.digest import DigestCredentials

ORDER = 64  # after the core's first-wave modules (torture is 60)

REALM = "sipref.test"


def _retried(
    ctx: Context, peer: Peer, first: Message, addr: tuple[str, int], within: float = 5.0
) -> tuple[Message, tuple[str, int]]:
    """The new request after the runner's answer (not a copy of ``first``)."""
    method = first.method or ""
    while True:
        got = peer.request(method, within, first.call_id if method == "REGISTER" else None)
        if got is None:
            ctx.inconclusive(f"the target did not send the {method} again within {within:g} s")
        assert got is not None
        if got[0].branch != first.branch:
            return got


def digest_challenge(status: int) -> str:
    name = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
    nonce = unique("n")
    return f'{name}: Digest realm="{REALM}", nonce="{nonce}", qop="auth", algorithm=MD5'


def verify_digest(
    ctx: Context,
    request: Message,
    header: str,
    requirement: int,
    level: str = "SHOULD",
    present: int | None = None,
) -> None:
    """The digest in ``header`` of ``request`` is right for the profile's password: judged
    as the case's quote ``requirement`` (``present``: another quote for the header's
    presence) at ``level``."""
    value = request.get(header)
    at = requirement if present is None else present
    ctx.check(value is not None, f"a {header}", "none", at, level)
    assert value is not None
    try:
        creds = DigestCredentials.from_header(Credentials.parse(value, header))
    except ValueError as exc:
        ctx.fail(f"Digest credentials in {header}", f"{value} ({exc})", requirement, level)
        raise
    want = creds.expected_response(request.method or "", password=ctx.profile.password)
    ctx.check(
        creds.realm == REALM and creds.response == want,
        f"realm {REALM}, response {want}",
        f"realm {creds.realm}, response {creds.response}",
        requirement=requirement,
        level=level,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% Upon receipt of a redirection response (for example, a 301 response
##% status code), clients SHOULD use the URI(s) in the Contact header
##% field to formulate one or more new requests based on the redirected
##% request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% In all other respects, requests sent upon receipt of a redirect
##% response SHOULD re-use the header fields and bodies of the original
##% request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% In order to create a request based on a contact address in a 3xx response, a UAC MUST
##% copy the entire URI from the target set into the Request-URI, except for the "method-
##% param" and "header" URI parameters (see Section 19.1.1 for a definition of these
##% parameters).
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% It is RECOMMENDED that the UAC reuse the same To, From, and Call-ID used in the original
##% redirected request
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% Finally, once the new request has been constructed, it is sent using a new client
##% transaction, and therefore MUST have a new branch ID in the top Via field as discussed
##% in Section 8.1.1.7.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.3.3
##= type=test
##% The requesting client SHOULD retry the request at the new address(es)
##% given by the Contact header field (Section 20.10).
@case(
    "uac-3xx-recurse",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble="an INVITE from the target ([uac] invite)",
    no_control=RUNNER_ANSWERS,
)
def redirect_recurse(ctx: Context) -> None:
    """After a 302 the target calls the Contact, keeping To, From and Call-ID."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    # a URI parameter the new Request-URI must keep (the entire URI is copied)
    moved = f"sip:moved@{peer.server.hostport};x-case=3xx"
    peer.answer(invite, addr, 302, headers=[f"Contact: <{moved}>"], contact=False)
    again, where = _retried(ctx, peer, invite, addr)
    peer.answer(again, where, 486)
    ctx.check(again.uri == moved, f"INVITE {moved}", f"INVITE {again.uri}")
    for name in ("To", "From", "Call-ID"):
        ctx.check(
            invite.get(name) == again.get(name),
            f"{name} {invite.get(name)}",
            f"{name} {again.get(name)}",
            requirement=1,
        )


def _auth_case(ctx: Context, status: int) -> None:
    if not ctx.profile.password:
        ctx.not_applicable("the profile gives no [credentials] password")
    header = "Authorization" if status == 401 else "Proxy-Authorization"
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, status, headers=[digest_challenge(status)], contact=False)
    again, where = _retried(ctx, peer, invite, addr)
    number = invite.cseq[0] or 0
    ctx.check(
        again.cseq == (number + 1, "INVITE"), f"CSeq {number + 1} INVITE", again.get("CSeq") or ""
    )
    verify_digest(ctx, again, header, requirement=1)
    ctx.check(
        again.call_id == invite.call_id
        and param(again.get("From") or "", "tag") == param(invite.get("From") or "", "tag"),
        f"Call-ID {invite.call_id} and the same From tag",
        f"Call-ID {again.call_id}, From {again.get('From')}",
        requirement=2,
        level="SHOULD",
    )
    peer.answer(again, where, 200)
    number = again.cseq[0]
    got = peer.expect(lambda m: m.method == "ACK" and m.cseq[0] == number, 3.0)
    ctx.check(got is not None, "an ACK for the 2xx", "none", requirement=3)
    assert got is not None
    ctx.check(
        got[0].get(header) == again.get(header),
        f"{header} {again.get(header)}",
        f"{header} {got[0].get(header)}",
        requirement=3,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
##= type=test
##% When a UAC resubmits a request with its credentials after receiving a
##% 401 (Unauthorized) or 407 (Proxy Authentication Required) response,
##% it MUST increment the CSeq header field value as it would normally
##% when sending an updated request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
##= type=test
##% When the originating UAC receives the 401 (Unauthorized), it SHOULD,
##% if it is able, re-originate the request with the proper credentials.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.5
##= type=test
##% This new request
##% constitutes a new transaction and SHOULD have the same value of the
##% Call-ID, To, and From of the previous request, but the CSeq should
##% contain a new sequence number that is one higher than the previous.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% The ACK MUST contain the same credentials as the INVITE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.5
##= type=test
##% If a 401 (Unauthorized) or 407 (Proxy Authentication Required) response is received, the
##% UAC SHOULD follow the authorization procedures of Section 22.2 and Section 22.3 to retry
##% the request with credentials.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
##= type=test
##% Proxy servers, redirect servers, registrars, and UAs MUST implement Digest
##% Authorization, encompassing all of the aspects required in 22.
@case(
    "uac-401-retry",
    roles=UAC,
    timeout=15,
    preamble="an INVITE from the target ([uac] invite)",
    no_control=RUNNER_ANSWERS,
)
def retry_401(ctx: Context) -> None:
    """After a 401 the INVITE comes again with CSeq + 1, a right Authorization, the same
    Call-ID; its 2xx's ACK carries the same credentials."""
    _auth_case(ctx, 401)


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
##= type=test
##% When a UAC resubmits a request with its credentials after receiving a
##% 401 (Unauthorized) or 407 (Proxy Authentication Required) response,
##% it MUST increment the CSeq header field value as it would normally
##% when sending an updated request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% When the originating UAC receives the 407 (Proxy Authentication
##% Required) it SHOULD, if it is able, re-originate the request with the
##% proper credentials.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.5
##= type=test
##% This new request
##% constitutes a new transaction and SHOULD have the same value of the
##% Call-ID, To, and From of the previous request, but the CSeq should
##% contain a new sequence number that is one higher than the previous.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% The ACK MUST contain the same credentials as the INVITE.
@case(
    "uac-407-retry",
    roles=UAC,
    timeout=15,
    preamble="an INVITE from the target ([uac] invite)",
    no_control=RUNNER_ANSWERS,
)
def retry_407(ctx: Context) -> None:
    """After a 407 the INVITE comes again with CSeq + 1 and a right Proxy-Authorization."""
    _auth_case(ctx, 407)


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.5
##= type=test
##% The UAC
##% SHOULD retry the request, this time omitting any extensions listed in
##% the Unsupported header field in the response.
@case(
    "uac-420-retry",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble="an INVITE from the target with Require or Proxy-Require ([uac] require, else "
    "invite)",
    no_control=RUNNER_ANSWERS,
)
def retry_420(ctx: Context) -> None:
    """After a 420 naming the INVITE's required extensions, it comes again without them."""
    peer = Peer(ctx, "require" if "require" in ctx.profile.triggers else "invite")
    invite, addr = peer.first("INVITE")
    tags = invite.option_tags("Require") + invite.option_tags("Proxy-Require")
    if not tags:
        peer.answer(invite, addr, 486)
        ctx.not_applicable("the target's INVITE requires no extension (no Require)")
    peer.answer(invite, addr, 420, headers=[f"Unsupported: {', '.join(tags)}"], contact=False)
    again, where = _retried(ctx, peer, invite, addr)
    peer.answer(again, where, 486)
    still = set(tags) & set(again.option_tags("Require") + again.option_tags("Proxy-Require"))
    ctx.check(not still, f"no {', '.join(tags)} required", f"still {', '.join(sorted(still))}")


def _reused(ctx: Context, status: int) -> None:
    if not ctx.profile.password:
        ctx.not_applicable("the profile gives no [credentials] password")
    header = "Authorization" if status == 401 else "Proxy-Authorization"
    peer = Peer(ctx, "bye")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, status, headers=[digest_challenge(status)], contact=False)
    with ctx.preamble(f"the INVITE again with {header}, answered 200"):
        again, where = _retried(ctx, peer, invite, addr)
        if again.get(header) is None:
            ctx.inconclusive(f"the INVITE came again without {header}")
        peer.answer(again, where, 200)
    bye = peer.request("BYE", 8.0, invite.call_id)
    if bye is None:
        ctx.inconclusive("the target sent no BYE")
    assert bye is not None
    peer.ok(*bye)
    ctx.check(bye[0].get(header) is not None, f"the BYE with {header} (realm {REALM})", "none")
    verify_digest(ctx, bye[0], header, requirement=0)


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
##= type=test
##% Once authentication credentials have been supplied (either directly by the user, or
##% discovered in an internal keyring), UAs SHOULD cache the credentials for a given value
##% of the To header field and "realm" and attempt to re-use these values on the next
##% request for that destination.
@case(
    "uac-401-credentials-reused",
    roles=UAC,
    level="SHOULD",
    timeout=20,
    preamble="a call from the target challenged with 401, answered 200 ([uac] bye)",
    no_control=RUNNER_ANSWERS,
)
def credentials_reused_401(ctx: Context) -> None:
    """After a 401 answered, the next request to the same place (the BYE) carries the
    credentials for that realm."""
    _reused(ctx, 401)


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% The UAC SHOULD also cache the credentials used in the re-originated request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% The following rule is RECOMMENDED for proxy credential caching:
@case(
    "uac-407-credentials-reused",
    roles=UAC,
    level="SHOULD",
    timeout=20,
    preamble="a call from the target challenged with 407, answered 200 ([uac] bye)",
    no_control=RUNNER_ANSWERS,
)
def credentials_reused_407(ctx: Context) -> None:
    """After a 407 answered, the BYE of the same call carries Proxy-Authorization."""
    _reused(ctx, 407)
