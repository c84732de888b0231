"""Requests for the proxy's own address (RFC 3261 §16.5, §21.4.6, §21.4.10): the proxy
answers them itself, as the resource they name is its own.
"""

from __future__ import annotations

from conformance.cases.proxy import control_through
from conformance.messages import unique
from conformance.model import Context, case, describe

#: load order of the case modules (conformance.discovery)
ORDER = 77

PROXY = ("proxy",)


##= https://www.rfc-editor.org/rfc/rfc3261#section-16.5
##= type=test
##% If the Request-URI indicates a resource at this proxy that does not exist, the proxy MUST
##% return a 404 (Not Found) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.10
##= type=test
##% If the server does not know, or has no facility to determine, whether or not the
##% condition is permanent, the status code 404 (Not Found) SHOULD be used instead.
@case("proxy-own-unknown-user-404", roles=PROXY)
def own_unknown_user(ctx: Context) -> None:
    """A MESSAGE for an unknown user at the proxy's own address is answered 404 (480 — the
    user taken for one without bindings — is not applicable: existence cannot be told)."""
    link = ctx.link()
    down = ctx.listener()
    control_through(ctx, link, down)
    req = ctx.request("MESSAGE", link, uri=f"sip:{unique('nobody')}@{ctx.target.hostport}")
    final, _ = ctx.transaction(link, req, learn=False)
    final = ctx.require_final(final)
    if final.status == 480:
        ctx.not_applicable("480: the proxy takes the user for one without bindings (§16.5)")
    ctx.check(final.status in (404, 410), "404 (Not Found)", describe(final))
    ctx.check(final.status == 404, "404 rather than 410", describe(final), 1, level="SHOULD")


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.6
##= type=test
##% The response MUST include an Allow header field containing a list of valid methods for
##% the indicated address.
@case("proxy-405-allow", roles=PROXY)
def method_not_allowed(ctx: Context) -> None:
    """An unknown method for the proxy's own URI: a 405 it answers lists Allow (another
    answer is not applicable)."""
    link = ctx.link()
    down = ctx.listener()
    control_through(ctx, link, down)
    req = ctx.request("FROBNICATE", link, uri=f"sip:{ctx.target.hostport}")
    final, _ = ctx.transaction(link, req, learn=False)
    final = ctx.require_final(final)
    if final.status != 405:
        ctx.not_applicable(f"the proxy does not answer 405 for its own URI ({describe(final)})")
    allow = final.get_all("Allow")
    ctx.check(bool(allow), "Allow listing the methods", "no Allow")
