"""RFC 3326 on the wire: a target accepts the Reason header field in a CANCEL and a BYE (§2)."""

from __future__ import annotations

from conformance.model import Context, case, describe


##= https://www.rfc-editor.org/rfc/rfc3326#section-2
##= type=test
##% The Reason header field MAY appear in any request within a dialog, in
##% any CANCEL request and in any response whose status code explicitly
##% allows the presence of this header field.
@case("rfc3326-cancel-with-reason", roles=("uas",), level="MAY")
def cancel_with_reason(ctx: Context) -> None:
    """A CANCEL with a Reason is answered like one without (481 here: nothing to cancel)."""
    link = ctx.link()
    # the control: the same CANCEL without a Reason gets 481 (or 200)
    plain = ctx.request("CANCEL", link)
    ctx.control(link, plain, also=lambda status: status == 481)
    cancel = ctx.request("CANCEL", link, extra=[("Reason", 'SIP;cause=200;text="Elsewhere"')])
    final, _ = ctx.transaction(link, cancel)
    final = ctx.require_final(final, "response to CANCEL")
    ctx.check(final.status in (200, 481), "481 (or 200), not an error", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3326#section-2
##= type=test
##% The Reason header field MAY appear in any request within a dialog, in
##% any CANCEL request and in any response whose status code explicitly
##% allows the presence of this header field.
@case("rfc3326-cancel-with-garbled-reason", roles=("uas",), level="MAY")
def cancel_with_garbled_reason(ctx: Context) -> None:
    """A CANCEL whose Reason does not parse is answered as if the field were absent."""
    link = ctx.link()
    # the control: the same CANCEL without a Reason gets 481 (or 200)
    plain = ctx.request("CANCEL", link)
    ctx.control(link, plain, also=lambda status: status == 481)
    garbled = 'SIP;cause=x;text="unterminated, ;;'
    cancel = ctx.request("CANCEL", link, extra=[("Reason", garbled)])
    final, _ = ctx.transaction(link, cancel)
    final = ctx.require_final(final, "response to CANCEL")
    ctx.check(final.status in (200, 481), "481 (or 200): Reason is optional", describe(final))
