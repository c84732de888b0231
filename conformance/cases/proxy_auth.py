"""Proxy authentication (RFC 3261 §22.1, §22.3, §22.4, §26.3): a 407 from downstream and
Proxy-Authorization values meant for another proxy pass through; a proxy that demands
credentials challenges with Digest (407, Proxy-Authenticate, qop), never an ACK or a CANCEL.

The cases of a challenging proxy are not applicable to one that forwards without asking
for credentials; with the profile's username and password they answer its challenge.
"""

from __future__ import annotations

import re

from conformance.cases._proxy_support import (
    Got,
    ack_upstream,
    arrives,
    cancel_of,
    downstream_uri,
    end_branch,
    final_of,
    reply,
    upstream,
)
from conformance.cases.proxy import FORWARDED
from conformance.messages import Outgoing, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.wire import Link, Listener

#: load order of the case modules (conformance.discovery)
ORDER = 76

PROXY = ("proxy",)
#: the credentials of a proxy further downstream: no proxy under test has this realm
FOREIGN = (
    'Digest username="bob", realm="downstream.conformance.invalid", nonce="c0ffee", '
    'uri="sip:bob@downstream.conformance.invalid", '
    'response="0123456789abcdef0123456789abcdef", algorithm=MD5'
)


def _challenged(ctx: Context, link: Link, down: Listener, method: str) -> tuple[Outgoing, Message]:
    """``method`` through the proxy without credentials: its challenge, 407 (or 401, which a
    proxy must not use: `digest_407` judges that); a proxy that forwards the request instead
    is not applicable."""
    req = ctx.request(method, link, uri=downstream_uri(down))
    link.send(bytes(req))
    got = arrives(down, method, req.call_id, timeout=2.0)
    if got is not None:
        if method == "INVITE":
            end_branch(down, got, 486)
        else:
            reply(down, got, 200)
        ack_upstream(link, req, final_of(link, req))
        ctx.not_applicable("the proxy forwards without asking for credentials")
    final = ctx.require_final(final_of(link, req, timeout=1.5))
    if final.status not in (401, 407):
        ack_upstream(link, req, final)
        ctx.not_applicable(f"the proxy does not challenge ({describe(final)})")
    return req, final


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% All 407 (Proxy Authentication Required) responses MUST be forwarded upstream toward the
##% UAC following the procedures for any other response.
@case("proxy-407-forwarded", roles=PROXY, no_control=FORWARDED)
def forwarded_407(ctx: Context) -> None:
    """A 407 from downstream (a proxy further on challenging) comes upstream with its
    Proxy-Authenticate value unchanged."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request("MESSAGE", link, uri=downstream_uri(down))
    link.send(bytes(req))
    got = arrives(down, "MESSAGE", req.call_id)
    if got is None:
        ctx.inconclusive(
            f"the proxy did not forward the MESSAGE ({describe(final_of(link, req))})"
        )
    assert got is not None
    challenge = 'Digest realm="downstream.conformance.invalid", nonce="f00d", qop="auth"'
    reply(down, got, 407, extra=[("Proxy-Authenticate", challenge)])
    final = ctx.require_final(final_of(link, req))
    values = [v.strip() for v in final.get_all("Proxy-Authenticate")]
    ctx.check(final.status == 407, "the 407 upstream", describe(final))
    ctx.check(
        challenge in values, f"Proxy-Authenticate: {challenge}", " | ".join(values) or "none"
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% Proxies MUST NOT add values to the Proxy-Authorization header field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% When multiple proxies are used in a chain, a Proxy-Authorization header field value MUST
##% NOT be consumed by any proxy whose realm does not match the "realm" parameter specified in
##% that value.
@case("proxy-authorization-passed-on", roles=PROXY, no_control=FORWARDED)
def authorization_passed_on(ctx: Context) -> None:
    """A Proxy-Authorization value for a realm further downstream is forwarded unchanged, and
    no value is added (a challenging proxy gets the profile's credentials besides)."""
    from conformance.cases.proxy_responses import _md5_challenge
    from conformance.cases.registrar import digest_authorization

    link, down = ctx.link(), ctx.listener()
    uri = downstream_uri(down)
    req = ctx.request("MESSAGE", link, uri=uri, extra=[("Proxy-Authorization", FOREIGN)])
    link.send(bytes(req))
    got = arrives(down, "MESSAGE", req.call_id)
    sent = [FOREIGN]
    if got is None:
        final = ctx.require_final(final_of(link, req, timeout=1.0))
        if final.status != 407 or not ctx.profile.username:
            ctx.inconclusive(f"the MESSAGE was not forwarded ({describe(final)})")
        mine = digest_authorization(
            _md5_challenge(final.get_all("Proxy-Authenticate")),
            "MESSAGE",
            uri,
            ctx.profile.username,
            ctx.profile.password,
        )
        sent = [FOREIGN, mine]
        req = ctx.request("MESSAGE", link, uri=uri, call_id=req.call_id, cseq=2)
        for value in sent:
            req.add("Proxy-Authorization", value)
        link.send(bytes(req))
        got = arrives(down, "MESSAGE", req.call_id)
        if got is None:
            ctx.inconclusive(f"the authorized MESSAGE was not forwarded ({describe(final)})")
    assert got is not None
    reply(down, got, 200)
    final_of(link, req)
    values = [v.strip() for v in got[0].get_all("Proxy-Authorization")]
    added = [v for v in values if v not in sent]
    ctx.check(not added, "no Proxy-Authorization value added", " | ".join(added))
    ctx.check(FOREIGN in values, "the other realm's value forwarded", " | ".join(values), 1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% The proxy MUST populate the 407 (Proxy Authentication Required) message with a
##% Proxy-Authenticate header field value applicable to the proxy for the requested resource.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22
##= type=test
##% Servers MUST NOT accept credentials using the "Basic" authorization scheme, and servers
##% also MUST NOT challenge with "Basic".
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##= type=test
##% Note, however, that SIP servers MUST NOT accept or request Basic authentication.
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
##= type=test
##% Proxy servers, redirect servers, registrars, and UAs MUST implement Digest Authorization,
##% encompassing all of the aspects required in 22.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##= type=test
##% However, servers MUST always send a "qop" parameter in WWW-Authenticate and
##% Proxy-Authenticate header field values.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% It is RECOMMENDED that a realm string contain a hostname or domain name, following the
##% recommendation in Section 3.2.1 of RFC 2617 [17].
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
##= type=test
##% Proxy servers, redirect servers, and registrars SHOULD be configured with at least one
##% Digest realm, and at least one "realm" string supported by a given server SHOULD
##% correspond to the server's hostname or domainname.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% but proxies MUST NOT
@case("proxy-407-digest", roles=PROXY, no_control=FORWARDED)
def digest_407(ctx: Context) -> None:
    """A proxy demanding credentials answers a MESSAGE without them 407 (not 401) with a
    Digest challenge carrying qop (never Basic), for a realm naming a host or domain."""
    link, down = ctx.link(), ctx.listener()
    _, final = _challenged(ctx, link, down, "MESSAGE")
    ctx.check(final.status == 407, "407, not 401", describe(final), requirement=7)
    values = [v.strip() for v in final.get_all("Proxy-Authenticate")]
    schemes = [v.split(None, 1)[0].lower() for v in values if v]
    shown = " | ".join(values) or "none"
    ctx.check(bool(values), "a Proxy-Authenticate value", "none")
    ctx.check("basic" not in schemes, "no Basic challenge", shown, requirement=1)
    ctx.check("digest" in schemes, "a Digest challenge", shown, requirement=3)
    digest = [v for v, s in zip(values, schemes, strict=True) if s == "digest"]
    ctx.check(all(param_of(v, "qop") for v in digest), "qop in each challenge", shown, 4)
    realms = [param_of(v, "realm") or "" for v in digest]
    ctx.check(
        any("." in r or r.lower() == "localhost" for r in realms),
        "a realm naming a host or domain",
        ", ".join(realms),
        requirement=5,
        level="SHOULD",
    )


def param_of(challenge: str, name: str) -> str | None:
    """The value of ``name`` in a Digest challenge (quoted or not)."""
    found = re.search(rf'(?:^|[\s,]){name}\s*=\s*("([^"]*)"|[^\s,]+)', challenge, re.I)
    if found is None:
        return None
    return found[2] if found[2] is not None else found[1]


##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.4
##= type=test
##% UAs and proxy servers SHOULD challenge questionable requests with only a single 401
##% (Unauthorized) or 407 (Proxy Authentication Required), forgoing the normal response
##% retransmission algorithm, and thus behaving statelessly towards unauthenticated requests.
@case("proxy-407-not-repeated", roles=PROXY, level="SHOULD", no_control=FORWARDED)
def single_407(ctx: Context) -> None:
    """The 407 to an INVITE without credentials, left unACKed a while, is not repeated."""
    link, down = ctx.link(), ctx.listener()
    req, final = _challenged(ctx, link, down, "INVITE")
    again = upstream(link, req, lambda m: m.status == 407, timeout=4 * ctx.profile.t1 + 0.5)
    ack_upstream(link, req, final)
    ctx.check(again is None, "one 407, not repeated", "the 407 again")


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% Servers MUST NOT attempt to challenge an ACK.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% Although the CANCEL method does take a response (a 2xx), servers MUST NOT attempt to
##% challenge CANCEL requests since these requests cannot be resubmitted.
@case("proxy-no-challenge-ack-cancel", roles=PROXY, no_control=FORWARDED)
def no_challenge_ack_cancel(ctx: Context) -> None:
    """A proxy that challenges a MESSAGE without credentials does not challenge a CANCEL or
    an ACK without them."""
    link, down = ctx.link(), ctx.listener()
    _challenged(ctx, link, down, "MESSAGE")
    invite = ctx.request("INVITE", link, uri=downstream_uri(down))
    cancel = cancel_of(invite)
    link.send(bytes(cancel), "CANCEL (no credentials)")
    relayed = arrives(down, "CANCEL", invite.call_id, timeout=1.0)
    if relayed is not None:
        reply(down, relayed, 481)
    answer = final_of(link, cancel, timeout=0.5)
    ack = ctx.request("ACK", link, uri=downstream_uri(down), to=f"<{downstream_uri(down)}>")
    ack.set("To", f"<{downstream_uri(down)}>;tag={unique('d')}")
    link.send(bytes(ack), "ACK (no credentials)")
    challenged = link.expect(
        lambda m: m.is_response and m.branch == ack.branch, timeout=4 * ctx.profile.t1 + 0.3
    )
    arrives(down, "ACK", ack.call_id, timeout=0.1)
    ctx.check(
        answer is None or answer.status != 407, "the CANCEL not challenged", describe(answer), 1
    )
    ctx.check(challenged is None, "no response to the ACK", describe(challenged))


def _authorized(
    ctx: Context,
    link: Link,
    down: Listener,
    method: str,
    without_qop: bool = False,
    others: tuple[str, ...] = (),
) -> tuple[Outgoing, Got | None]:
    """``method`` through a challenging proxy with the profile's credentials (RFC 2069 ones,
    no qop, with ``without_qop``; after the Proxy-Authorization values ``others``); the
    request sent and what reached ``down`` (None: not forwarded).  Without a challenge or
    credentials: not applicable."""
    from conformance.cases.proxy_responses import _md5_challenge
    from conformance.cases.registrar import digest_authorization

    first, final = _challenged(ctx, link, down, method)
    ack_upstream(link, first, final)
    if not ctx.profile.username:
        ctx.not_applicable("no credentials in the profile to answer the challenge with")
    challenge = _md5_challenge(final.get_all("Proxy-Authenticate"))
    if without_qop:
        challenge = re.sub(r',?\s*qop\s*=\s*("[^"]*"|[^\s,]+)', "", challenge)
    uri = first.uri
    req = ctx.request(method, link, uri=uri, call_id=first.call_id, cseq=2)
    req.set("From", first.get("From"))
    credentials = digest_authorization(
        challenge, method, uri, ctx.profile.username, ctx.profile.password
    )
    for value in (*others, credentials):
        req.add("Proxy-Authorization", value)
    link.send(bytes(req))
    return req, arrives(down, method, req.call_id, timeout=2.0)


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##= type=test
##% Since RFC 2543 is based on HTTP Digest as defined in RFC 2069 [39], SIP servers
##% supporting RFC 2617 MUST ensure they are backwards compatible with RFC 2069.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##= type=test
##% These mechanisms MUST be used by a server to determine if the client supports the new
##% mechanisms in RFC 2617 that were not specified in RFC 2069.
@case("proxy-digest-rfc2069", roles=PROXY, no_control=FORWARDED)
def digest_rfc2069(ctx: Context) -> None:
    """Credentials in the RFC 2069 form (no qop, nc, cnonce) answering the challenge are
    accepted: the MESSAGE is forwarded."""
    link, down = ctx.link(), ctx.listener()
    req, got = _authorized(ctx, link, down, "MESSAGE", without_qop=True)
    if got is not None:
        reply(down, got, 200)
    answer = final_of(link, req, timeout=1.0)
    ctx.check(got is not None, "the MESSAGE forwarded", f"not forwarded ({describe(answer)})")


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% Generally, a CANCEL request SHOULD be accepted by a server if it comes from the same hop
##% that sent the request being canceled (provided that some sort of transport or network
##% layer security association, as described in Section 26.2.1, is in place).
@case("proxy-cancel-without-credentials", roles=PROXY, level="SHOULD", no_control=FORWARDED)
def cancel_without_credentials(ctx: Context) -> None:
    """An INVITE with credentials rings downstream; our CANCEL of it, without credentials,
    is accepted (200) and passed on."""
    link, down = ctx.link(), ctx.listener()
    req, got = _authorized(ctx, link, down, "INVITE")
    if got is None:
        final = final_of(link, req, timeout=1.0)
        ack_upstream(link, req, final)
        ctx.inconclusive(f"the authorized INVITE was not forwarded ({describe(final)})")
    assert got is not None
    reply(down, got, 180)
    upstream(link, req, lambda m: m.status == 180, timeout=1.0)
    cancel = cancel_of(req)
    link.send(bytes(cancel), "CANCEL (no credentials)")
    answer = final_of(link, cancel, timeout=1.0)
    passed = arrives(down, "CANCEL", req.call_id, timeout=1.5)
    if passed is not None:
        reply(down, passed, 200)
    end_branch(down, got, 487)
    ack_upstream(link, req, final_of(link, req))
    ctx.check(
        answer is not None and answer.status == 200 and passed is not None,
        "200 to the CANCEL, and a CANCEL downstream",
        f"{describe(answer)}; " + ("passed on" if passed else "not passed on"),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% Note that if an authentication scheme that does not support realms is used in the
##% Proxy-Authorization header field, a proxy server MUST attempt to parse all
##% Proxy-Authorization header field values to determine whether one of them has what the
##% proxy server considers to be valid credentials.
@case("proxy-credentials-among-others", roles=PROXY, no_control=FORWARDED)
def credentials_among_others(ctx: Context) -> None:
    """Our credentials after a value of a scheme without realms and one for another realm:
    the proxy finds them and forwards the request."""
    link, down = ctx.link(), ctx.listener()
    others = ('X-Token token="c29tZXRoaW5n"', FOREIGN)
    req, got = _authorized(ctx, link, down, "MESSAGE", others=others)
    if got is not None:
        reply(down, got, 200)
    answer = final_of(link, req, timeout=1.0)
    ctx.check(got is not None, "the MESSAGE forwarded", f"not forwarded ({describe(answer)})")
