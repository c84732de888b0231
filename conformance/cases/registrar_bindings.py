"""Registrar leftovers (RFC 3261 §10.3): order, independence, all-or-nothing commits,
authentication, authorization (403) and REGISTERs for other domains.

Built on `conformance.cases.registrar` (`Registration`: REGISTERs for the profile's
address-of-record, Digest answers with the profile's ``[credentials]``, the un-REGISTER
postamble).  The cases a correct registrar may leave not applicable or warn about (no
Digest, no proxying) are ``registrar-*``, the others ``reg-*`` like the first wave's.
"""

from __future__ import annotations

from conformance.cases._proxy_support import arrives, reply
from conformance.cases.registrar import Registration, _bindings, _has, digest_authorization
from conformance.messages import unique
from conformance.model import Context, case, describe

#: load order of the case modules (conformance.discovery)
ORDER = 79  # after the core's first-wave modules (torture is 60)

REGISTRAR = ("registrar",)


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% REGISTER requests MUST be processed by a registrar in the order that they are received.
@case("reg-processed-in-order", roles=REGISTRAR, transports=("udp",))
def processed_in_order(ctx: Context) -> None:
    """A REGISTER adding a binding and the next one removing it, sent back to back, leave
    no binding: the registrar took them in the order they came."""
    reg = Registration(ctx)
    reg.control()
    contact = reg.contact(".order")
    add = reg.request([contact], expires=300)
    remove = reg.request([contact], expires=0)
    reg.link.send(bytes(add), "REGISTER (add)")
    reg.link.send(bytes(remove), "REGISTER (remove), right behind")
    for req in (add, remove):
        final, _ = ctx.transaction(reg.link, req, note="retransmission (if unanswered)")
        ctx.require_final(final, f"final response to REGISTER CSeq {req.cseq_number}")
    after = reg.register(None)
    if _has(after, contact):
        reg.register(["*"], expires=0)
    ctx.check(not _has(after, contact), "no binding left", ", ".join(_bindings(after)))


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% Each REGISTER message MUST be processed independently of any other registration or
##% binding changes.
@case("reg-independent", roles=REGISTRAR)
def independent(ctx: Context) -> None:
    """A REGISTER from another client (its own Call-ID) adds its binding and leaves the
    first client's alone."""
    first = Registration(ctx)
    first.control()
    second = Registration(ctx)
    one, two = first.contact(".one"), second.contact(".two")
    with ctx.preamble(f"{one} bound"):
        final = first.register([one], expires=300)
        ctx.check(200 <= (final.status or 0) < 300, "2xx", describe(final))
    final = second.register([two], expires=300)
    after = first.register(None)
    first.register(["*"], expires=0)
    ctx.check(200 <= (final.status or 0) < 300, "2xx for the second client", describe(final))
    ctx.check(
        _has(after, one) and _has(after, two),
        f"both {one} and {two}",
        ", ".join(_bindings(after)) or "none",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% The binding updates MUST be committed (that is, made visible to the proxy or redirect
##% server) if and only if all binding updates and additions succeed.
@case("reg-commit-all-or-nothing", roles=REGISTRAR)
def commit_all_or_nothing(ctx: Context) -> None:
    """A REGISTER with a good contact and one whose expiration is refused (423) binds
    neither."""
    reg = Registration(ctx)
    reg.control()
    good, brief = reg.contact(".good"), reg.contact(".brief")
    final = reg.register([f"{good};expires=300", f"{brief};expires=1"])
    if 200 <= (final.status or 0) < 300:
        reg.register(["*"], expires=0)
        ctx.not_applicable(f"the registrar took a 1 s binding ({describe(final)}): no refusal")
    after = reg.register(None)
    ctx.check(
        not _has(after, good),
        f"nothing bound after {describe(final)}",
        ", ".join(_bindings(after)),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% A registrar SHOULD authenticate the UAC.
@case(
    "registrar-authenticates",
    roles=REGISTRAR,
    level="SHOULD",
    no_control="judged on the answer to a REGISTER without credentials, whatever it is",
)
def authenticates(ctx: Context) -> None:
    """A REGISTER without credentials is challenged (401 or 407)."""
    reg = Registration(ctx)
    req = reg.request([reg.contact(".anonymous")], expires=60)
    final, _ = ctx.transaction(reg.link, req)
    final = ctx.require_final(final, "final response to REGISTER")
    if 200 <= (final.status or 0) < 300:
        reg.register(["*"], expires=0)
    ctx.check(
        final.status in (401, 407),
        "a challenge (401) for a REGISTER without credentials",
        describe(final),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If the authenticated user is not authorized to modify bindings, the registrar MUST return
##% a 403 (Forbidden) and skip the remaining steps.
@case(
    "registrar-unauthorized-403",
    roles=REGISTRAR,
    no_control="judged on how a third-party registration is refused, if it is",
)
def unauthorized_403(ctx: Context) -> None:
    """A REGISTER for another user's address-of-record, refused, is refused with 403."""
    other = unique("nobody")
    reg = Registration(ctx, user=other)
    req = reg.request([reg.contact(".third-party")], expires=60)
    # the identity: the profile's user (authenticated when the registrar challenges)
    identity = ctx.profile.username or ctx.user
    domain = reg.aor.split("@", 1)[-1]
    req.set("From", f"<sip:{identity}@{domain}>;tag={reg.tag}")
    final, _ = ctx.transaction(reg.link, req)
    final = ctx.require_final(final, "final response to REGISTER")
    if final.status in (401, 407):
        if not ctx.profile.username:
            ctx.not_applicable("the registrar challenges; the profile has no [credentials]")
        header = "WWW-Authenticate" if final.status == 401 else "Proxy-Authenticate"
        retry = reg.request([reg.contact(".third-party")], expires=60)
        retry.set("From", f"<sip:{identity}@{domain}>;tag={reg.tag}")
        retry.add(
            "Authorization" if final.status == 401 else "Proxy-Authorization",
            digest_authorization(
                final.get(header) or "",
                "REGISTER",
                reg.uri,
                ctx.profile.username,
                ctx.profile.password,
            ),
        )
        final, _ = ctx.transaction(reg.link, retry)
        final = ctx.require_final(final, "final response to the authenticated REGISTER")
    if 200 <= (final.status or 0) < 300:
        reg.register(["*"], expires=0)
        ctx.not_applicable(f"{identity} may register {reg.aor} ({describe(final)})")
    if final.status in (401, 407):
        ctx.inconclusive(f"the credentials were refused ({describe(final)})")
    ctx.check(final.status == 403, "403 (Forbidden)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If not, and if the server also acts as a proxy server, the server SHOULD forward the
##% request to the addressed domain, following the general behavior for proxying messages
##% described in Section 16.
@case(
    "registrar-other-domain-forwarded",
    roles=REGISTRAR,
    level="SHOULD",
    transports=("udp",),
    no_control="judged only on a registrar that proxies",
)
def other_domain_forwarded(ctx: Context) -> None:
    """A REGISTER for a domain the target does not serve reaches that domain when the
    target is a proxy too."""
    link = ctx.link()
    downstream = ctx.listener()
    domain = downstream.hostport
    req = ctx.request(
        "REGISTER",
        link,
        uri=f"sip:{domain}",
        to=f"<sip:{ctx.user}@{domain}>",
    )
    req.set("From", f"<sip:{ctx.user}@{domain}>;tag={unique('t')}")
    link.send(bytes(req))
    got = arrives(downstream, "REGISTER", req.call_id, timeout=2.0)
    if got is not None:
        # forwarded to the addressed domain: answer it there, and let the answer go back
        reply(downstream, got, 404, note="404 (the addressed domain)")
        link.expect(lambda m: m.is_response and m.branch == req.branch, timeout=1.0)
        return
    final = link.expect(lambda m: m.is_response and m.branch == req.branch, timeout=1.0)
    if final is not None and (final.status or 0) >= 200:
        ctx.not_applicable(f"the target answered itself ({describe(final)}): no proxy")
    ctx.check(False, f"the REGISTER forwarded to {domain}", describe(final))
