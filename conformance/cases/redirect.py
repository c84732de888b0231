"""Redirect servers (RFC 3261 §8.3): what they must ignore, and CANCEL.

The cases send requests for the profile's user to the target; a redirect server answers them
with a 3xx listing where the user is.  Each case first registers the user with a contact of
the runner's when the target takes REGISTER (its preamble, `register_user`), then checks that
a plain INVITE is redirected (its control): a target that answers it otherwise is not a
redirect server for that user, and the case is not applicable.  (The 3xx Contact cases are
in `registrar`.)
"""

from __future__ import annotations

from conformance.cases.registrar import USER_REGISTERED, register_user
from conformance.messages import unique
from conformance.model import Context, NotApplicable, case, describe
from conformance.sipmsg import Message
from conformance.wire import Link

#: load order of the case modules (conformance.discovery)
ORDER = 75

REDIRECT = ("redirect",)


def _redirected(final: Message | None) -> bool:
    return final is not None and 300 <= (final.status or 0) < 400


def control_redirect(ctx: Context, link: Link) -> Message:
    """The control: a plain INVITE for the profile's user gets a 3xx; a final response of
    another class means the target is no redirect server (not applicable).  The preamble
    registers the profile's user first (`register_user`)."""
    register_user(ctx)
    req = ctx.request("INVITE", link)

    def exchange() -> tuple[Message | None, bool]:
        final, _ = ctx.transaction(link, req, note="control", learn=False)
        ctx.finish_invite(link, req, final)
        if final is not None and not _redirected(final):
            ctx.control_outcome, ctx.control_ok = f"INVITE -> {describe(final)}", False
            raise NotApplicable(f"not a redirect server for {req.uri} ({describe(final)})")
        return final, _redirected(final)

    return ctx.controlled("INVITE", exchange, "the control INVITE (redirected with a 3xx)")


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.3
##= type=test
##% Redirect servers MUST ignore features that are not understood (including unrecognized
##% header fields, any unknown option tags in Require, or even method names) and proceed with
##% the redirection of the request in question.
@case("redirect-ignores-unknown-require", roles=REDIRECT, preamble=USER_REGISTERED)
def unknown_require(ctx: Context) -> None:
    """An INVITE with an unknown Require tag and header field is redirected all the same."""
    link = ctx.link()
    control_redirect(ctx, link)
    extra = [("Require", "x-conformance-unknown"), ("X-Conformance", unique("x"))]
    req = ctx.request("INVITE", link, extra=extra)
    final, _ = ctx.transaction(link, req)
    ctx.finish_invite(link, req, final)
    ctx.check(_redirected(final), "a 3xx", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.3
##= type=test
##% Redirect servers MUST ignore features that are not understood (including unrecognized
##% header fields, any unknown option tags in Require, or even method names) and proceed with
##% the redirection of the request in question.
@case("redirect-ignores-unknown-method", roles=REDIRECT, preamble=USER_REGISTERED)
def unknown_method(ctx: Context) -> None:
    """A request with an unknown method is redirected like an INVITE."""
    link = ctx.link()
    control_redirect(ctx, link)
    req = ctx.request("FROBNICATE", link)
    final, _ = ctx.transaction(link, req, learn=False)
    ctx.check(_redirected(final), "a 3xx", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.3
##= type=test
##% For well-formed CANCEL requests, it SHOULD return a 2xx response.
@case("redirect-cancel-2xx", roles=REDIRECT, level="SHOULD", preamble=USER_REGISTERED)
def cancel_2xx(ctx: Context) -> None:
    """A well-formed CANCEL gets a 2xx from a redirect server."""
    link = ctx.link()
    control_redirect(ctx, link)
    invite = ctx.request("INVITE", link)
    cancel = ctx.request(
        "CANCEL", link, call_id=invite.call_id, from_tag=unique("t"), cseq=invite.cseq_number
    )
    final, _ = ctx.transaction(link, cancel, learn=False)
    final = ctx.require_final(final, "response to CANCEL")
    ctx.check(200 <= (final.status or 0) < 300, "a 2xx", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.3.1
##= type=test
##% The choices SHOULD also be listed as Contact fields (Section 20.10).
@case(
    "redirect-300-contacts",
    roles=("uas", "redirect"),
    level="SHOULD",
    preamble=USER_REGISTERED,
    no_control="judged on a 300 (Multiple Choices) only: any other answer is not applicable",
)
def multiple_choices_contacts(ctx: Context) -> None:
    """A 300 (Multiple Choices) lists its choices as Contact values."""
    if ctx.role == "redirect":
        register_user(ctx)
    link = ctx.link()
    req = ctx.request("INVITE", link)
    final, _ = ctx.transaction(link, req)
    ctx.finish_invite(link, req, final)
    if final is None or final.status != 300:
        ctx.not_applicable(f"no 300 (Multiple Choices) came ({describe(final)})")
    assert final is not None
    ctx.check(bool(final.get_all("Contact")), "the choices as Contact values", "no Contact")
