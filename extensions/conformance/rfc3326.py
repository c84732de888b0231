"""RFC 3326 on the wire: a target accepts the Reason header field in a CANCEL and a BYE (§2)."""

from __future__ import annotations

from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer


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


# --- the UAC role: the runner is the UAS the target calls (conformance.trigger.Peer) ------

HANGING_UP = "a call from the target that it ends saying why ([uac] reason)"


def _protocols(request: Message) -> list[str]:
    """The protocol of each Reason value of ``request`` (upper-case)."""
    return [v.split(";", 1)[0].strip().upper() for v in request.get_all("Reason")]


def _judge(ctx: Context, request: Message) -> None:
    protocols = _protocols(request)
    if not protocols:
        ctx.not_applicable(f"the {request.method} carries no Reason to judge")
    ctx.check(
        len(set(protocols)) == len(protocols),
        f"Reason values each of a different protocol in the {request.method}",
        "Reason: " + " | ".join(request.get_all("Reason")),
    )


##= https://www.rfc-editor.org/rfc/rfc3326#section-2
##= type=test
##% but all of them MUST have different protocol values
##% (e.g., one SIP and another Q.850).
@case(
    "uac-3326-cancel-reason", roles=UAC, timeout=15, preamble=HANGING_UP, no_control=RUNNER_ANSWERS
)
def uac_cancel_reason(ctx: Context) -> None:
    """The call left ringing: the UAC's CANCEL gives its Reason values each with a protocol
    of its own."""
    peer = Peer(ctx, "reason")
    invite, addr = peer.first("INVITE", HANGING_UP)
    peer.answer(invite, addr, 180)
    got = peer.request("CANCEL", 4.0, invite.call_id)
    if got is None:
        peer.answer(invite, addr, 486)
        ctx.inconclusive("no CANCEL within 4 s of the 180")
    assert got is not None
    peer.ok(got[0], got[1])
    peer.answer(invite, addr, 487, contact=False)
    peer.serve(0.2)
    _judge(ctx, got[0])


##= https://www.rfc-editor.org/rfc/rfc3326#section-2
##= type=test
##% but all of them MUST have different protocol values
##% (e.g., one SIP and another Q.850).
@case("uac-3326-bye-reason", roles=UAC, timeout=15, preamble=HANGING_UP, no_control=RUNNER_ANSWERS)
def uac_bye_reason(ctx: Context) -> None:
    """The call answered: the UAC's BYE gives its Reason values each with a protocol of its
    own."""
    peer = Peer(ctx, "reason")
    invite, addr = peer.first("INVITE", HANGING_UP)
    peer.answer(invite, addr, 200)
    got = peer.request("BYE", 4.0, invite.call_id)
    if got is None:
        ctx.inconclusive("no BYE within 4 s of the 200")
    assert got is not None
    peer.ok(got[0], got[1])
    _judge(ctx, got[0])
