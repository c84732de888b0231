"""The UAC cancelling its INVITE (RFC 3261 §9.1): the runner rings and never answers.

The profile's ``[uac] cancel`` command makes the target call the runner and hang up while
the call rings (our ua: ``--cancel-after 1``).
"""

from __future__ import annotations

import time

from conformance.model import Context, case
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer

ORDER = 63  # after the core's first-wave modules (torture is 60)

RINGING = "an INVITE from the target, ringing ([uac] cancel)"


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% The
##% Request-URI, Call-ID, To, the numeric part of CSeq, and From header
##% fields in the CANCEL request MUST be identical to those in the
##% request being cancelled, including tags.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% A CANCEL constructed by a
##% client MUST have only a single Via header field value matching the
##% top Via value in the request being cancelled.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% However, the method part of the CSeq header field MUST have a value
##% of CANCEL.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% The CANCEL request MUST NOT contain any Require or Proxy-Require
##% header fields.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% The destination address, port, and transport for the CANCEL MUST be identical to those
##% used to send the original request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.3
##= type=test
##% Note that Require and Proxy-Require MUST NOT be
##% used in a SIP CANCEL request, or in an ACK request sent for a non-2xx
##% response.
@case(
    "uac-cancel-construction", roles=UAC, timeout=20, preamble=RINGING, no_control=RUNNER_ANSWERS
)
def cancel_construction(ctx: Context) -> None:
    """The CANCEL copies the INVITE's Request-URI, Call-ID, To, From, CSeq number and top
    Via, names CANCEL in its CSeq, and has no Require."""
    peer = Peer(ctx, "cancel")
    invite, addr = peer.first("INVITE", RINGING)
    peer.answer(invite, addr, 180)
    got = peer.request("CANCEL", 8.0, invite.call_id)
    if got is None:
        ctx.inconclusive("the target sent no CANCEL within 8 s of the 180")
    assert got is not None
    cancel, where = got
    peer.ok(cancel, where)
    peer.answer(invite, addr, 487)
    for name, want, seen in (
        ("Request-URI", invite.uri, cancel.uri),
        ("Call-ID", invite.call_id, cancel.call_id),
        ("To", invite.get("To"), cancel.get("To")),
        ("From", invite.get("From"), cancel.get("From")),
        ("CSeq number", invite.cseq[0], cancel.cseq[0]),
    ):
        ctx.check(want == seen, f"{name} {want}", f"{name} {seen}")
    vias = cancel.get_all("Via")
    ctx.check(vias == invite.get_all("Via")[:1], invite.top_via, " | ".join(vias), requirement=1)
    ctx.check(cancel.cseq[1] == "CANCEL", "CSeq method CANCEL", cancel.get("CSeq") or "", 2)
    ctx.check(
        cancel.get("Require") is None and cancel.get("Proxy-Require") is None,
        "no Require, no Proxy-Require",
        f"Require: {cancel.get('Require')}; Proxy-Require: {cancel.get('Proxy-Require')}",
        requirement=3,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% If no provisional response has been received, the CANCEL request MUST
##% NOT be sent; rather, the client MUST wait for the arrival of a
##% provisional response before sending the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% Once the CANCEL is constructed, the client SHOULD check whether it has received any
##% response (provisional or final) for the request being cancelled (herein referred to as
##% the "original request").
@case(
    "uac-cancel-after-provisional",
    roles=UAC,
    transports=("udp",),
    timeout=20,
    preamble="an INVITE from the target, left unanswered ([uac] cancel)",
    no_control=RUNNER_ANSWERS,
)
def cancel_after_provisional(ctx: Context) -> None:
    """No CANCEL while the INVITE has had no response at all; it comes after the 180."""
    peer = Peer(ctx, "cancel")
    invite, addr = peer.first("INVITE", "an INVITE from the target ([uac] cancel)")
    # the trigger hangs up about 1 s in; stay silent past that, well before Timer B
    silent = min(2.5, 0.6 * 64 * ctx.profile.t1)
    early = peer.request("CANCEL", silent, invite.call_id)
    if early is not None:
        peer.ok(*early)
        peer.answer(invite, addr, 487)
        ctx.fail("no CANCEL before any response", f"a CANCEL {time.monotonic():.0f}")
    peer.answer(invite, addr, 180)
    got = peer.request("CANCEL", 5.0, invite.call_id)
    if got is None:
        peer.answer(invite, addr, 486)
        ctx.inconclusive("no CANCEL after the 180 either (the trigger may not hang up)")
    assert got is not None
    peer.ok(*got)
    peer.answer(invite, addr, 487)


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% A CANCEL request SHOULD NOT be sent to cancel a request other than INVITE.
@case(
    "uac-no-cancel-non-invite",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble="an OPTIONS from the target, left in Proceeding ([uac] options)",
    no_control=RUNNER_ANSWERS,
)
def no_cancel_non_invite(ctx: Context) -> None:
    """An OPTIONS left pending after a 100 is not CANCELled."""
    peer = Peer(ctx, "options")
    options, addr = peer.first("OPTIONS")
    peer.answer(options, addr, 100, contact=False)
    cancel = peer.request("CANCEL", 2.0, options.call_id)
    if cancel is not None:
        peer.ok(*cancel)
    peer.answer(options, addr, 200, contact=False)
    ctx.check(cancel is None, "no CANCEL for an OPTIONS", "a CANCEL")
