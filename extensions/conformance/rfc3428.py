"""RFC 3428 on the wire: a target that allows MESSAGE answers it as §7 says.

The cases apply to a UAS whose profile lists MESSAGE among its methods (``python -m
rfc3261 ua --extension message``); against any other target they are not applicable.
"""

from __future__ import annotations

from conformance.model import Context, case, describe


def _message_target(ctx: Context) -> None:
    if "MESSAGE" not in ctx.profile.methods:
        ctx.not_applicable("the profile does not list MESSAGE among the target's methods")


##= https://www.rfc-editor.org/rfc/rfc3428#section-7
##= type=test
##% A 2xx response to a MESSAGE request MUST NOT contain a body.  A UAS
##% MUST NOT insert a Contact header field into a 2xx response.
##= https://www.rfc-editor.org/rfc/rfc3428#section-7
##= type=test
##% A UAS that supports the MESSAGE method MUST be prepared to receive
##% and render bodies of type "text/plain", and may support reception and
##% rendering of bodies of type "message/cpim" [7].
@case("rfc3428-message-200", roles=("uas",), level="MUST")
def message_200(ctx: Context) -> None:
    """A text/plain MESSAGE gets a 2xx without body and without Contact."""
    _message_target(ctx)
    link = ctx.link()
    # the control: the profile's probe to the target's user succeeds (no other refusal)
    probe = ctx.request(ctx.profile.probe or "OPTIONS", link)
    ctx.control(link, probe)
    message = ctx.request("MESSAGE", link, body=b"hello", content_type="text/plain")
    final, _ = ctx.transaction(link, message)
    final = ctx.require_final(final, "response to MESSAGE")
    ctx.check(200 <= (final.status or 0) < 300, "a 2xx (200 or 202)", describe(final))
    ctx.check(final.body == b"", "no body in the 2xx", f"{len(final.body)} bytes of body")
    ctx.check(final.get("Contact") is None, "no Contact in the 2xx", str(final.get("Contact")))


##= https://www.rfc-editor.org/rfc/rfc3428#section-9
##= type=test
##% A MESSAGE request MAY contain a body, using the standard MIME header
##% fields to identify the content.
@case(
    "rfc3428-message-without-body",
    roles=("uas",),
    level="MAY",
    no_control="only a 5xx fails, and no refusal of another kind is one",
)
def message_without_body(ctx: Context) -> None:
    """A MESSAGE without a body is still a valid request: a final response, not silence."""
    _message_target(ctx)
    link = ctx.link()
    final, _ = ctx.transaction(link, ctx.request("MESSAGE", link))
    final = ctx.require_final(final, "response to a MESSAGE without body")
    ctx.check((final.status or 0) < 500, "a 2xx (or a 4xx), not a server error", describe(final))


@case(
    "rfc3428-message-too-large",
    roles=("uas",),
    level="MAY",
    no_control="any refusal passes: no refusal of another kind can confound it",
)
def message_too_large(ctx: Context) -> None:
    """A MESSAGE far above any instant-message size over TCP gets 513 (or another 4xx/5xx)."""
    _message_target(ctx)
    if not ctx.target.reliable:
        ctx.not_applicable("a 64 KiB request needs a stream transport")
    link = ctx.link()
    message = ctx.request("MESSAGE", link, body=b"x" * 65536, content_type="text/plain")
    final, _ = ctx.transaction(link, message, learn=False)
    final = ctx.require_final(final, "response to a 64 KiB MESSAGE")
    ctx.should(final.status == 513, "513 (Message Too Large)", describe(final))
    ctx.check((final.status or 0) >= 400, "a refusal", describe(final))
