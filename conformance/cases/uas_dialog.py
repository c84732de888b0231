"""The dialog state a UAS keeps (RFC 3261 §12.1, §12.1.1, §12.2.2, §15, §15.1.2).

What a UAS stored when it answered an INVITE shows in the requests it later sends in that
dialog: the cases call the profile's ``hangup_user`` (a user whose calls the target answers
and then ends itself) and judge the target's BYE — its Request-URI is the Contact of our
INVITE (the remote target), its Route the Record-Route set we sent (the route set), its
Call-ID and tags the dialog ID, its From and To URIs the local and remote URIs.  The remote
sequence number shows in which in-dialog requests the target refuses with 500.
"""

from __future__ import annotations

import time

from conformance.cases._uas_support import (
    callee_bye,
    respond,
    sdp_offer,
    tag_of,
    uri_of,
    wait_bye,
)
from conformance.cases.uas import _SDP, UAS, _call, _control, _in_dialog
from conformance.messages import ack_for
from conformance.model import Context, case, describe
from conformance.sipmsg import Message, uri_host_port

#: load order of the case modules (conformance.discovery)
ORDER = 76  # after the core's first-wave modules (torture is 60)

HANGUP_ONLY = "judged on the target's own BYE: no request of ours is refused or accepted"


# --- the dialog state, seen in the target's BYE --------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-15
##= type=test
##% However, the callee's UA MUST NOT send a BYE on a confirmed dialog until it has received
##% an ACK for its 2xx response or until the server transaction times out.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% The remote target MUST be set to the URI from the Contact header field of the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% If no Record-Route header field is present in the request, the route set MUST be set to
##% the empty set.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% The call identifier component of the dialog ID MUST be set to the value of the Call-ID in
##% the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.4
##= type=test
##% It MUST be the same for all requests and responses sent by either UA in a dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% The local tag component of the dialog ID MUST be set to the tag in the To field in the
##% response to the request (which always includes a tag), and the remote tag component of
##% the dialog ID MUST be set to the tag from the From field in the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% The remote URI MUST be set to the URI in the From field, and the local URI MUST be set to
##% the URI in the To field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1
##= type=test
##% UAs MUST assign values to the dialog ID components as described below.
##= https://www.rfc-editor.org/rfc/rfc3261#section-15
##= type=test
##% A UA MUST NOT send a BYE outside of a dialog.
@case(
    "uas-callee-bye-dialog",
    roles=UAS,
    level="MUST",
    preamble="a call to the profile's hangup_user answered with 2xx",
    no_control=HANGUP_ONLY,
    transports=("udp",),
)
def callee_bye_dialog(ctx: Context) -> None:
    """The callee's BYE waits for the ACK and carries the dialog's state (no route set)."""
    link = ctx.link()
    req, final = callee_bye(ctx, link)
    hold = ctx.profile.hangup_after + max(0.5, 2 * ctx.profile.t1)
    got = wait_bye(ctx, link, req, final, hold_ack=hold)
    bye = got.bye
    ctx.check(
        got.early_bye is None,
        "no BYE before our ACK",
        f"a BYE while we held the ACK back ({hold:.1f} s)",
        requirement=0,
    )
    contact = uri_of(req.get("Contact") or "")
    ctx.check(bye.uri == contact, f"Request-URI {contact}", f"Request-URI {bye.uri}", 1)
    routes = bye.get_all("Route")
    ctx.check(not routes, "no Route (empty route set)", f"Route: {', '.join(routes)}", 2)
    ctx.check(bye.call_id == req.call_id, f"Call-ID {req.call_id}", f"Call-ID {bye.call_id}", 3)
    ours, theirs = tag_of(req.get("From")), final.to_tag
    ctx.check(
        tag_of(bye.get("From")) == theirs and bye.to_tag == ours,
        f"From tag {theirs}, To tag {ours}",
        f"From tag {tag_of(bye.get('From'))}, To tag {bye.to_tag}",
        5,
    )
    sent_to, sent_from = uri_of(req.get("To") or ""), uri_of(req.get("From") or "")
    got_from, got_to = uri_of(bye.get("From") or ""), uri_of(bye.get("To") or "")
    ctx.check(
        got_from.lower() == sent_to.lower() and got_to.lower() == sent_from.lower(),
        f"From {sent_to}, To {sent_from}",
        f"From {got_from}, To {got_to}",
        6,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% The route set MUST be set to the list of URIs in the Record-Route header field from the
##% request, taken in order and preserving all URI parameters.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% This state MUST be maintained for the duration of the dialog.
@case(
    "uas-callee-bye-route-set",
    roles=UAS,
    level="MUST",
    preamble="a call to the profile's hangup_user answered with 2xx",
    no_control=HANGUP_ONLY,
    transports=("udp",),
)
def callee_bye_route_set(ctx: Context) -> None:
    """The callee's BYE carries the Record-Route set of our INVITE as its Route, in order."""
    link = ctx.link()
    rr = [f"<sip:{link.sent_by};lr;x-first=1>", f"<sip:{link.sent_by};lr;x-second>;x-hp=2"]
    req, final = callee_bye(ctx, link, extra=[("Record-Route", ", ".join(rr))])
    got = wait_bye(ctx, link, req, final)
    want = [uri_of(v) for v in rr]
    routes = [uri_of(v) for v in got.bye.get_all("Route")]
    norm = [r.replace(" ", "").lower() for r in routes]
    ctx.check(
        norm == [w.lower() for w in want],
        "Route: " + ", ".join(f"<{w}>" for w in want),
        "Route: " + (", ".join(f"<{r}>" for r in routes) or "(none)"),
    )
    # §12.1.1: the remote target too survives to the end of the dialog
    contact = uri_of(req.get("Contact") or "")
    ctx.check(got.bye.uri == contact, f"Request-URI {contact}", f"Request-URI {got.bye.uri}", 1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
##= type=test
##% When a UAS receives a target refresh request, it MUST replace the dialog's remote target
##% URI with the URI from the Contact header field in that request, if present.
@case(
    "uas-target-refresh",
    roles=UAS,
    level="MUST",
    preamble="a call to the profile's hangup_user answered with 2xx",
    transports=("udp",),
)
def target_refresh(ctx: Context) -> None:
    """After a re-INVITE with a new Contact, the callee's BYE goes to that Contact."""
    link = ctx.link()
    moved = ctx.link()
    req, final = callee_bye(ctx, link)
    ack = ack_for(req, final, ctx.target)
    link.send(bytes(ack), "ACK")
    started = time.monotonic()
    reinvite = _in_dialog(ctx, req, final, "INVITE", req.cseq_number + 1)
    new_contact = f"sip:tester@{moved.sent_by}"
    reinvite.set("Contact", f"<{new_contact}>")
    reinvite.set("Content-Type", "application/sdp")
    reinvite.body = sdp_offer(2)

    def exchange() -> tuple[Message | None, bool]:
        answer, _ = ctx.transaction(link, reinvite, note="control")
        status = answer.status or 0 if answer is not None else 0
        if answer is not None and status >= 200:
            link.send(bytes(ack_for(reinvite, answer, ctx.target)), "ACK")
        return answer, 200 <= status < 300

    # the control: the re-INVITE itself is accepted (else no refresh happened)
    ctx.controlled("re-INVITE", exchange, "the re-INVITE with a new Contact")
    elapsed = time.monotonic() - started
    wait = ctx.profile.hangup_after + max(2.0, 8 * ctx.profile.t1)
    bye = moved.expect(lambda m: m.method == "BYE", timeout=wait)
    old = None
    if bye is None:
        old = link.expect(lambda m: m.method == "BYE", timeout=0.1)
    if bye is not None:
        respond(moved, bye, 200)
    elif old is not None:
        respond(link, old, 200)
    dialog = ctx.dialog_of(req.call_id)
    if dialog is not None and (bye is not None or old is not None):
        dialog.ended = True
    if bye is None and old is None:
        ctx.inconclusive(f"the target sent no BYE within {wait:.1f} s")
    if old is not None and elapsed >= ctx.profile.hangup_after:
        ctx.inconclusive("the re-INVITE was answered only after the target's BYE was due")
    ctx.check(bye is not None, f"the BYE at the new Contact {new_contact}", "a BYE at the old one")
    assert bye is not None
    ctx.check(bye.uri == new_contact, f"Request-URI {new_contact}", f"Request-URI {bye.uri}")


# --- what the UAS accepts and refuses in a dialog -----------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% A UAS MUST be prepared to receive a request without a tag in the From field, in which
##% case the tag is considered to have a value of null.
@case("uas-from-without-tag", roles=UAS, level="MUST")
def from_without_tag(ctx: Context) -> None:
    """An INVITE whose From has no tag (an RFC 2543 caller) is answered like any other."""
    link = ctx.link()
    _control(ctx, link, "INVITE")
    req = ctx.request("INVITE", link, body=_SDP)
    req.set("From", f"<sip:tester@{link.sent_by.rsplit(':', 1)[0]}>")
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final, "final response to the INVITE without From tag")
    ctx.finish_invite(link, req, final)
    ctx.check(
        200 <= (final.status or 0) < 300,
        "the INVITE accepted as the control was",
        describe(final),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% The remote sequence number MUST be set to the value of the sequence number in the CSeq
##% header field of the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
##= type=test
##% The UAS MUST then set the remote sequence number to the value of the sequence number in
##% the CSeq header field value in the request.
@case("uas-dialog-remote-cseq", roles=UAS, level="MUST", preamble="a confirmed dialog")
def dialog_remote_cseq(ctx: Context) -> None:
    """The remote CSeq starts at the INVITE's and follows each in-dialog request: lower is 500."""
    link = ctx.link()
    with ctx.preamble("a confirmed dialog (INVITE with CSeq 100, 2xx, ACK)"):
        req = ctx.request("INVITE", link, body=_SDP, cseq=100)
        final, _ = ctx.transaction(link, req)
        final = ctx.require_final(final, "final response to INVITE")
        if not 200 <= (final.status or 0) < 300:
            ctx.finish_invite(link, req, final)
            ctx.inconclusive(f"the INVITE was not accepted ({describe(final)})")
        link.send(bytes(ack_for(req, final, ctx.target)), "ACK")
    below, _ = ctx.transaction(link, _in_dialog(ctx, req, final, "OPTIONS", 99))
    # the control: an in-dialog request in order is processed
    ctx.control(link, _in_dialog(ctx, req, final, "OPTIONS", 110))
    between, _ = ctx.transaction(link, _in_dialog(ctx, req, final, "OPTIONS", 105))
    below = ctx.require_final(below, "response to the OPTIONS with CSeq 99")
    between = ctx.require_final(between, "response to the OPTIONS with CSeq 105")
    ctx.check(below.status == 500, "500 to CSeq 99 (below the INVITE's 100)", describe(below))
    ctx.check(
        between.status == 500,
        "500 to CSeq 105 (after 110)",
        describe(between),
        requirement=1,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.2
##= type=test
##% A UAS core receiving a BYE request for an existing dialog MUST follow the procedures of
##% Section 12.2.2 to process the request.
@case("uas-bye-out-of-order", roles=UAS, level="MUST", preamble="a confirmed dialog")
def bye_out_of_order(ctx: Context) -> None:
    """A BYE with a CSeq below the last in-dialog request's gets 500, like any request."""
    link = ctx.link()
    req, final = _call(ctx, link)
    ctx.control(link, _in_dialog(ctx, req, final, "OPTIONS", req.cseq_number + 5))
    bye = _in_dialog(ctx, req, final, "BYE", req.cseq_number + 2)
    answer, _ = ctx.transaction(link, bye)
    answer = ctx.require_final(answer, "response to the out-of-order BYE")
    ctx.check(answer.status == 500, "500 (Server Internal Error)", describe(answer))


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% The URI SHOULD have global scope (that is, the same URI can be used in messages outside
##% this dialog).
@case("uas-contact-global", roles=UAS, level="SHOULD", preamble="a confirmed dialog")
def contact_global(ctx: Context) -> None:
    """The Contact of the 2xx takes an OPTIONS sent to it outside the dialog."""
    link = ctx.link()
    _, final = _call(ctx, link)
    contact = uri_of(final.get("Contact") or "")
    host, port = uri_host_port(contact)
    if host.strip("[]") != ctx.target.address[0] or (port or 5060) != ctx.target.address[1]:
        ctx.not_applicable(f"the Contact {contact} names another address than the target's")
    # the control: an OPTIONS to the target's user outside the dialog is answered
    _control(ctx, link)
    opt = ctx.request("OPTIONS", link, uri=contact)
    opt_final, _ = ctx.transaction(link, opt)
    opt_final = ctx.require_final(opt_final, "response to the OPTIONS to the Contact")
    ctx.check(
        opt_final.status not in (400, 404, 410, 416, 481),
        "the OPTIONS to the Contact URI processed",
        describe(opt_final),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% If the request that initiated the dialog contained a SIPS URI in the Request-URI or in the
##% top Record-Route header field value, if there was any, or the Contact header field if
##% there was no Record-Route header field, the Contact header field in the response MUST be
##% a SIPS URI.
@case("uas-sips-contact", roles=UAS, level="MUST", transports=("tls",))
def sips_contact(ctx: Context) -> None:
    """An INVITE to a SIPS URI over TLS gets a 2xx whose Contact is a SIPS URI."""
    link = ctx.link()
    _control(ctx, link, "INVITE")
    plain = ctx.target.uri(ctx.user)
    uri = "sips:" + plain.split(":", 1)[1].replace(";transport=tls", "")
    req = ctx.request("INVITE", link, uri=uri, body=_SDP)
    req.set("Contact", f"<sips:tester@{link.sent_by}>")
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final, "final response to the INVITE to a SIPS URI")
    ctx.finish_invite(link, req, final)
    if not 200 <= (final.status or 0) < 300:
        ctx.inconclusive(f"the INVITE to {uri} got {describe(final)}")
    contact = uri_of(final.get("Contact") or "")
    ctx.check(contact.lower().startswith("sips:"), "a sips: Contact", contact or "(none)")
