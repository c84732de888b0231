"""What a server's error responses must carry (RFC 3261 §21.4), in the UAS, registrar and
redirect roles.

Each case sends the requests that may draw one status code (a method the target may not
allow, a body of an unknown type, an unknown Require tag, a request without Call-ID...) and
judges the response when it has that status: 405 lists Allow, 415 the acceptable formats,
420 the unsupported extensions, 421 the required ones; 400 and 480 say more in their reason
phrase.  A target that answers otherwise (a redirect server redirects all of them, §8.3) is
not applicable: the status never came.
"""

from __future__ import annotations

from collections.abc import Callable

from conformance.cases.registrar import Registration
from conformance.cases.uas import _SDP
from conformance.messages import Outgoing, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.wire import Link

#: load order of the case modules (conformance.discovery)
ORDER = 79  # after the core's first-wave modules (torture is 60)

SERVERS = ("uas", "registrar", "redirect")
#: why these cases run no control: judged on the status they look for, whatever drew it
JUDGED_ON = "judged only on a response of the status it looks for"


def _first_with(
    ctx: Context, status: int, requests: list[Callable[[Link], Outgoing]]
) -> tuple[Outgoing, Message]:
    """Send ``requests`` one by one until one draws ``status``: that request and response
    (not applicable when none does)."""
    seen, unanswered = [], 0
    for build in requests:
        link = ctx.link()
        req = build(link)
        final, _ = ctx.transaction(link, req, timeout=max(1.0, 4 * ctx.profile.t1), learn=False)
        if req.method == "INVITE":
            ctx.finish_invite(link, req, final)
        if final is not None and final.status == status:
            return req, final
        seen.append(f"{req.method} -> {describe(final)}")
        unanswered += final is None
        if unanswered == 2:
            break  # a target leaving such requests unanswered: no need to wait for more
    ctx.not_applicable(f"no {status} came ({'; '.join(seen)})")
    raise AssertionError("unreachable")


def _methods(ctx: Context, link: Link, method: str) -> Outgoing:
    if ctx.role == "registrar" and method == "REGISTER":
        return Registration(ctx, link).request()
    return ctx.request(method, link, body=_SDP if method == "INVITE" else b"")


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.6
##= type=test
##% The response MUST include an Allow header field containing a list of valid methods for
##% the indicated address.
@case("server-405-allow", roles=SERVERS, no_control=JUDGED_ON)
def allow_405(ctx: Context) -> None:
    """A 405 (Method Not Allowed) lists the methods allowed in Allow."""
    candidates = ["INVITE", "PUBLISH", "SUBSCRIBE", "REFER", "INFO", "MESSAGE", "UPDATE"]
    methods = [m for m in candidates if m not in {x.upper() for x in ctx.profile.methods}]
    methods = methods or candidates
    _, final = _first_with(ctx, 405, [lambda link, m=m: _methods(ctx, link, m) for m in methods])
    allow = ", ".join(final.get_all("Allow"))
    ctx.check(bool(allow.strip()), "an Allow header field listing methods", "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.13
##= type=test
##% The server MUST return a list of acceptable formats using the Accept, Accept-Encoding, or
##% Accept-Language header field, depending on the specific problem with the content.
@case("server-415-accept", roles=SERVERS, no_control=JUDGED_ON)
def accept_415(ctx: Context) -> None:
    """A 415 (Unsupported Media Type) lists the acceptable formats."""
    body = b"conformance: a body nobody understands\r\n"

    def odd(method: str, encoding: bool = False) -> Callable[[Link], Outgoing]:
        def build(link: Link) -> Outgoing:
            req = _methods(ctx, link, method)
            req.body = body
            req.set("Content-Type", "application/x-conformance-unknown")
            if encoding:
                req.set("Content-Type", "text/plain")
                req.set("Content-Encoding", "x-conformance-unknown")
            return req

        return build

    method = "REGISTER" if ctx.role == "registrar" else "OPTIONS"
    _, final = _first_with(ctx, 415, [odd(method), odd("INVITE"), odd(method, encoding=True)])
    found = [h for h in ("Accept", "Accept-Encoding", "Accept-Language") if final.get(h)]
    ctx.check(bool(found), "Accept, Accept-Encoding or Accept-Language", "none of them")


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.15
##= type=test
##% The server MUST include a list of the unsupported extensions in an Unsupported header
##% field in the response.
@case("server-420-unsupported", roles=SERVERS, no_control=JUDGED_ON)
def unsupported_420(ctx: Context) -> None:
    """A 420 (Bad Extension) lists the unknown Require tag in Unsupported."""
    tag = "x-conformance-" + unique("e")
    method = "REGISTER" if ctx.role == "registrar" else "OPTIONS"

    def build(link: Link, method: str = method) -> Outgoing:
        return _methods(ctx, link, method).set("Require", tag)

    _, final = _first_with(ctx, 420, [build, lambda link: build(link, "INVITE")])
    tags = final.option_tags("Unsupported")
    ctx.check(tag in tags, f"Unsupported: {tag}", f"Unsupported: {', '.join(tags) or '(none)'}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.16
##= type=test
##% Responses with this status code MUST contain a Require header field listing the required
##% extensions.
@case("server-421-require", roles=SERVERS, no_control=JUDGED_ON)
def require_421(ctx: Context) -> None:
    """A 421 (Extension Required) names the extensions it requires in Require."""
    method = "REGISTER" if ctx.role == "registrar" else "INVITE"

    def bare(link: Link) -> Outgoing:
        return _methods(ctx, link, method).set("Supported", None)

    _, final = _first_with(ctx, 421, [bare])
    ctx.check(bool(final.option_tags("Require")), "Require listing extensions", "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.1
##= type=test
##% The Reason-Phrase SHOULD identify the syntax problem in more detail, for example,
##% "Missing Call-ID header field".
@case("server-400-reason", roles=SERVERS, level="SHOULD", hostile=True, no_control=JUDGED_ON)
def reason_400(ctx: Context) -> None:
    """A 400 (Bad Request) for a request without Call-ID says more than "Bad Request"."""
    method = "REGISTER" if ctx.role == "registrar" else "OPTIONS"

    def broken(link: Link) -> Outgoing:
        return _methods(ctx, link, method).set("Call-ID", None)

    _, final = _first_with(ctx, 400, [broken])
    reason = (final.reason or "").strip()
    ctx.check(
        reason.lower() not in ("", "bad request"),
        "a reason phrase naming the problem (e.g. the missing Call-ID)",
        f"400 {reason}",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.18
##= type=test
##% The reason phrase SHOULD indicate a more precise cause as to why the callee is
##% unavailable.
@case("server-480-reason", roles=SERVERS, level="SHOULD", no_control=JUDGED_ON)
def reason_480(ctx: Context) -> None:
    """A 480 (Temporarily Unavailable) says why in its reason phrase."""
    users = [u for u in (ctx.profile.busy_user, "unavailable", unique("gone")) if u]
    _, final = _first_with(
        ctx,
        480,
        [lambda link, u=u: ctx.request("INVITE", link, body=_SDP, user=u) for u in users],
    )
    reason = (final.reason or "").strip()
    ctx.check(
        reason.lower() not in ("", "temporarily unavailable"),
        "a reason phrase saying why the callee is unavailable",
        f"480 {reason}",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.2
##= type=test
##% All SIP implementations MUST support the SIP URI scheme.
@case(
    "server-sip-uri-supported",
    roles=SERVERS,
    no_control="a 416 to a SIP URI is the failure; any other answer shows the scheme supported",
)
def sip_uri_supported(ctx: Context) -> None:
    """A request whose Request-URI is a SIP URI is never refused with 416."""
    link = ctx.link()
    req = _methods(ctx, link, "REGISTER" if ctx.role == "registrar" else "OPTIONS")
    ctx.check(req.uri.startswith("sip:"), "a sip: Request-URI", req.uri)
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final, f"final response to {req.method}")
    ctx.check(final.status != 416, "anything but 416 (Unsupported URI Scheme)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.16
##= type=test
##% A UAS SHOULD NOT use this response unless it truly cannot provide any useful service to
##% the client.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.16
##= type=test
##% Instead, if a desirable extension is not listed in the Supported header field, servers
##% SHOULD process the request using baseline SIP capabilities and any extensions supported by
##% the client.
@case(
    "server-baseline-without-supported",
    roles=("uas", "registrar"),
    level="SHOULD",
    no_control="only a 421 is the deviation; any other answer shows baseline processing",
)
def baseline_without_supported(ctx: Context) -> None:
    """A request naming no Supported extension is served with baseline SIP, not refused
    with 421 (Extension Required)."""
    link = ctx.link()
    req = _methods(ctx, link, "REGISTER" if ctx.role == "registrar" else "INVITE")
    req.set("Supported", None)
    final, _ = ctx.transaction(link, req)
    if req.method == "INVITE":
        ctx.finish_invite(link, req, final)
    final = ctx.require_final(final, f"final response to {req.method}")
    ctx.check(final.status != 421, "no 421 (Extension Required)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.10
##= type=test
##% If the server does not know, or has no facility to determine, whether or not the condition
##% is permanent, the status code 404 (Not Found) SHOULD be used instead.
@case("server-unknown-user-not-410", roles=SERVERS, level="SHOULD", no_control=JUDGED_ON)
def unknown_user_not_410(ctx: Context) -> None:
    """A user that never existed (a fresh random name) gets no 410 (Gone): the server cannot
    know the condition is permanent."""
    link = ctx.link()
    user = unique("never")
    req = ctx.request("INVITE", link, body=_SDP, user=user)
    final, _ = ctx.transaction(link, req, learn=False)
    ctx.finish_invite(link, req, final)
    final = ctx.require_final(final, "final response to INVITE")
    ctx.check(final.status != 410, f"404 rather than 410 for {user}", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.22
##= type=test
##% Additional information SHOULD be provided in the reason phrase.
@case("server-484-reason", roles=SERVERS, level="SHOULD", no_control=JUDGED_ON)
def reason_484(ctx: Context) -> None:
    """A 484 (Address Incomplete) says more in its reason phrase."""
    users = ["1", "12", "123"]
    _, final = _first_with(
        ctx,
        484,
        [lambda link, u=u: ctx.request("INVITE", link, body=_SDP, user=u) for u in users],
    )
    reason = (final.reason or "").strip()
    ctx.check(
        reason.lower() not in ("", "address incomplete"),
        "a reason phrase with more information",
        f"484 {reason}",
    )
