"""RFC 3891 on the wire: a UAS that supports Replaces refuses what it cannot match or may
not replace, and replaces what it may (§3, §6.2).

The cases apply to a UAS whose profile lists the ``replaces`` option tag (``python -m
rfc3261 ua --extension replaces``); against any other target they are not applicable.
Each sends an INVITE with an offer and a Replaces header field; the control is the same
INVITE without the Replaces, which the target accepts (the call is hung up after).  The
cases needing a call to replace are named ``replaces-*`` (the ``rfc3891-*`` three are the
quick set `extensions.tests.test_conformance_rfc3891` runs).
"""

from __future__ import annotations

import re
import time

from conformance.messages import Outgoing, ack_for, unique
from conformance.model import Context, Dialog, case, describe
from conformance.sipmsg import Message
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer
from conformance.wire import Link
from extensions.conformance.rfc3515 import _answer, _drain, _referenced_invite

_SDP = (
    b"v=0\r\no=conformance 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
    b"t=0 0\r\nm=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def _replaces_supported(ctx: Context) -> None:
    if "replaces" not in {tag.lower() for tag in ctx.profile.extensions}:
        ctx.not_applicable("the profile does not list the 'replaces' option tag (RFC 3891)")


def _invite(ctx: Context, link: Link, *fields: tuple[str, str]) -> Outgoing:
    return ctx.request("INVITE", link, body=_SDP, extra=[("Supported", "replaces"), *fields])


def _refused(ctx: Context, replaces: str) -> int:
    """The control INVITE, then the one with ``replaces``: its final status."""
    _replaces_supported(ctx)
    link = ctx.link()
    # the control: the same INVITE without the Replaces is accepted
    ctx.control(link, _invite(ctx, link))
    invite = _invite(ctx, link, ("Replaces", replaces))
    final, _ = ctx.transaction(link, invite)
    ctx.finish_invite(link, invite, final)
    final = ctx.require_final(final, "final response to the INVITE with Replaces")
    return final.status or 0


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If no match is found, the UAS rejects the INVITE and returns a 481
##% Call/Transaction Does Not Exist response.
@case("rfc3891-replaces-no-dialog-481", roles=("uas",), level="MUST")
def replaces_no_dialog(ctx: Context) -> None:
    """An INVITE whose Replaces names a dialog the target never had: 481."""
    status = _refused(ctx, "no-such-call@conformance.invalid;to-tag=1a2b;from-tag=3c4d")
    ctx.check(status == 481, "481 (Call/Transaction Does Not Exist)", str(status))


##= https://www.rfc-editor.org/rfc/rfc3891#section-6.1
##= type=test
##% A Replaces header field MUST contain exactly one to-tag and exactly
##% one from-tag, as they are required for unique dialog matching.
@case("rfc3891-replaces-malformed-400", roles=("uas",), level="MUST")
def replaces_malformed(ctx: Context) -> None:
    """An INVITE whose Replaces has no from-tag: 400 (Bad Request), never a call."""
    status = _refused(ctx, "no-such-call@conformance.invalid;to-tag=1a2b")
    ctx.check(status == 400, "400 (Bad Request)", str(status))


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If more than one Replaces header field is present in an INVITE, or if
##% a Replaces header field is present in a request other than INVITE,
##% the UAS MUST reject the request with a 400 Bad Request response.
@case("rfc3891-replaces-in-options-400", roles=("uas",), level="MUST")
def replaces_in_options(ctx: Context) -> None:
    """An OPTIONS carrying a Replaces: 400 (Bad Request)."""
    _replaces_supported(ctx)
    link = ctx.link()
    # the control: the same OPTIONS without the Replaces succeeds
    ctx.control(link, ctx.request("OPTIONS", link))
    options = ctx.request(
        "OPTIONS", link, extra=[("Replaces", "a@conformance.invalid;to-tag=1;from-tag=2")]
    )
    final, _ = ctx.transaction(link, options)
    final = ctx.require_final(final, "final response to the OPTIONS with Replaces")
    ctx.check(final.status == 400, "400 (Bad Request)", describe(final))


def _tag(value: str | None) -> str:
    found = re.search(r"(?i);\s*tag=([^;>\s]+)", value or "")
    return found.group(1) if found else ""


def _active_call(ctx: Context, link: Link) -> tuple[Dialog, str]:
    """The preamble (and control): a call the runner made to the target, answered and
    ACKed; the call and the Replaces value naming it from the target's side."""
    with ctx.preamble("a call to the target, answered"):

        def exchange() -> tuple[Message | None, bool]:
            invite = _invite(ctx, link)
            final, _ = ctx.transaction(link, invite)
            if final is not None and (final.status or 0) >= 200:
                link.send(bytes(ack_for(invite, final, ctx.target)), "ACK")
            ok = final is not None and 200 <= (final.status or 0) < 300
            if ok:
                assert final is not None
                ctx.call(link, invite, final)
            return final, ok

        ctx.controlled("INVITE", exchange, "the call to be replaced")
    dialog = ctx.dialogs[-1]
    value = (
        f"{dialog.invite.call_id};to-tag={_tag(dialog.answer.get('To'))}"
        f";from-tag={_tag(dialog.invite.get('From'))}"
    )
    return dialog, value


def _still_up(ctx: Context, dialog: Dialog) -> Message | None:
    """Hang the call up: the response to the BYE (a 2xx: the call was still up)."""
    return ctx.hang_up(dialog, "BYE (is the replaced call still up?)")


def _replacing(
    ctx: Context, link: Link, replaces: str, *fields: tuple[str, str], body: bytes = _SDP
) -> Message:
    """An INVITE with ``replaces`` (and ``fields``): its final response, ACKed; a call it
    set up is hung up in the postamble."""
    invite = ctx.request(
        "INVITE",
        link,
        body=body,
        extra=[("Supported", "replaces"), ("Replaces", replaces), *fields],
    )
    final, _ = ctx.transaction(link, invite)
    final = ctx.require_final(final, "final response to the INVITE with Replaces")
    link.send(bytes(ack_for(invite, final, ctx.target)), "ACK")
    if 200 <= (final.status or 0) < 300:
        ctx.call(link, invite, final)
    return final


##= https://www.rfc-editor.org/rfc/rfc3891#section-6.2
##= type=test
##% UAs which support the Replaces header MUST include the "replaces" option tag in a
##% Supported header field.
@case("replaces-supported", roles=("uas",), level="MUST")
def supported_replaces(ctx: Context) -> None:
    """The 200 to an OPTIONS lists replaces in its Supported."""
    _replaces_supported(ctx)
    link = ctx.link()
    final = ctx.control(link, ctx.request("OPTIONS", link))
    tags = {t.strip().lower() for line in final.get_all("Supported") for t in line.split(",")}
    ctx.check("replaces" in tags, "Supported: replaces", repr(final.get_all("Supported")))


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If both a Replaces header field and another header field with contradictory semantics
##% are present in a request, the request MUST be rejected with a 400 "Bad Request"
##% response.
@case("replaces-and-join-400", roles=("uas",), level="MUST")
def replaces_and_join(ctx: Context) -> None:
    """An INVITE naming an active call in both a Replaces and a Join (RFC 3911): 400,
    and the call stays up."""
    _replaces_supported(ctx)
    link = ctx.link()
    dialog, value = _active_call(ctx, link)
    final = _replacing(ctx, link, value, ("Join", value))
    ctx.check(final.status == 400, "400 (Bad Request)", describe(final))
    up = _still_up(ctx, dialog)
    ctx.check(up is not None and up.status == 200, "the call still up", describe(up))


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% Likewise, if the Replaces header field matches a dialog which was not created with an
##% INVITE, the UAS MUST reject the request with a 481 response.
@case("replaces-refer-dialog-481", roles=("uas",), level="MUST")
def replaces_refer_dialog(ctx: Context) -> None:
    """A REFER makes a dialog (its referenced INVITE to the runner kept ringing); an
    INVITE whose Replaces names that dialog: 481."""
    _replaces_supported(ctx)
    if "REFER" not in ctx.profile.methods:
        ctx.not_applicable("the profile does not list REFER: no dialog but an INVITE's to name")
    link = ctx.link()
    ctx.control(link, _invite(ctx, link))
    with ctx.preamble("a REFER accepted, its referenced INVITE ringing"):
        invite, _, refer, ok = _referenced_invite(ctx, link)
        _answer(link, invite, "180 Ringing")
    try:
        value = f"{refer.call_id};to-tag={_tag(ok.get('To'))};from-tag={_tag(refer.get('From'))}"
        final = _replacing(ctx, link, value)
    finally:
        _answer(link, invite, "486 Busy Here")
        _drain(link, [], 2.0)
    ctx.check(final.status == 481, "481 (Call/Transaction Does Not Exist)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If the Replaces header field matches a dialog which has already terminated, the UA
##% SHOULD decline the request with a 603 Declined response.
@case("replaces-ended-603", roles=("uas",), level="SHOULD")
def replaces_ended(ctx: Context) -> None:
    """A call hung up (BYE answered), then an INVITE whose Replaces names it: 603."""
    _replaces_supported(ctx)
    link = ctx.link()
    dialog, value = _active_call(ctx, link)
    bye = _still_up(ctx, dialog)
    if bye is None or not 200 <= (bye.status or 0) < 300:
        ctx.inconclusive(f"the call did not end: BYE got {describe(bye)}")
    final = _replacing(ctx, link, value)
    ctx.should(final.status == 603, "603 (Declined)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If the Replaces header field matches an active dialog, the UA MUST verify that the
##% initiator of the new INVITE is authorized to replace the matched dialog.
@case("replaces-unauthorized", roles=("uas",), level="MUST")
def replaces_unauthorized(ctx: Context) -> None:
    """An INVITE from another user (no credentials, no Referred-By) naming an active
    call: refused, and the call stays up."""
    _replaces_supported(ctx)
    link = ctx.link()
    dialog, value = _active_call(ctx, link)
    invite = ctx.request(
        "INVITE",
        link,
        body=_SDP,
        extra=[("Supported", "replaces"), ("Replaces", value)],
    )
    invite.set("From", f"<sip:mallory@{link.sent_by.rsplit(':', 1)[0]}>;tag=mallory1")
    final, _ = ctx.transaction(link, invite)
    final = ctx.require_final(final, "final response to the INVITE with Replaces")
    link.send(bytes(ack_for(invite, final, ctx.target)), "ACK")
    if 200 <= (final.status or 0) < 300:
        ctx.call(link, invite, final)
        # the replaced call got the target's BYE: answer it
        bye = link.expect(lambda m: m.method == "BYE", timeout=1.0)
        if bye is not None:
            _answer(link, bye)
            dialog.ended = True
    ctx.check(not 200 <= (final.status or 0) < 300, "a refusal (not 2xx)", describe(final))
    up = _still_up(ctx, dialog)
    ctx.check(up is not None and up.status == 200, "the call still up", describe(up))


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If the replacement request contains a Referred-By header that corresponds to the user
##% being replaced, the UA SHOULD treat the replacement as if the replacement was
##% authorized by the replaced party.
@case("replaces-referred-by", roles=("uas",), level="SHOULD")
def replaces_referred_by(ctx: Context) -> None:
    """An INVITE from another user whose Referred-By names the user being replaced:
    accepted, and the replaced call ended by the target (its BYE)."""
    _replaces_supported(ctx)
    link = ctx.link()
    dialog, value = _active_call(ctx, link)
    host = link.sent_by.rsplit(":", 1)[0]
    invite = ctx.request(
        "INVITE",
        link,
        body=_SDP,
        extra=[
            ("Supported", "replaces"),
            ("Replaces", value),
            ("Referred-By", f"<sip:tester@{host}>"),
        ],
    )
    invite.set("From", f"<sip:transferee@{host}>;tag=transferee1")
    final, _ = ctx.transaction(link, invite)
    final = ctx.require_final(final, "final response to the INVITE with Replaces")
    link.send(bytes(ack_for(invite, final, ctx.target)), "ACK")
    if 200 <= (final.status or 0) < 300:
        ctx.call(link, invite, final)
        bye = link.expect(lambda m: m.method == "BYE", timeout=1.5)
        if bye is not None:
            _answer(link, bye)
            dialog.ended = True
    ctx.should(200 <= (final.status or 0) < 300, "2xx (the replacement)", describe(final))


#: an offer of a codec no UA has: nothing to answer with
_ALIEN_SDP = (
    b"v=0\r\no=conformance 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
    b"t=0 0\r\nm=audio 49172 RTP/AVP 121\r\na=rtpmap:121 X-CONFORMANCE-NONE/8000\r\n"
)


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If the UA cannot accept the new INVITE (for example: it cannot establish required QoS or
##% keying, or it has incompatible media), the UA MUST return an appropriate error response
##% and MUST leave the matched dialog unchanged.
@case("replaces-incompatible-media", roles=("uas",), level="MUST")
def replaces_incompatible(ctx: Context) -> None:
    """An INVITE with Replaces whose offer has only an unknown codec: an error response
    (the same offer without Replaces is refused too, else not applicable), and the
    replaced call still up."""
    _replaces_supported(ctx)
    link = ctx.link()
    alone = ctx.request("INVITE", link, body=_ALIEN_SDP)
    final, _ = ctx.transaction(link, alone)
    ctx.finish_invite(link, alone, final)
    if final is None or 200 <= (final.status or 0) < 300:
        ctx.not_applicable(f"the target accepts the unknown codec alone ({describe(final)})")
    dialog, value = _active_call(ctx, link)
    refused = _replacing(ctx, link, value, body=_ALIEN_SDP)
    ctx.check((refused.status or 0) >= 300, "an error response", describe(refused))
    up = _still_up(ctx, dialog)
    ctx.check(up is not None and up.status == 200, "the call still up", describe(up))


# -- the UAC role: the target, transferred, sends the INVITE with Replaces ([uac] transferee)

#: the dialog the runner's REFER asks the target to replace (at "carol", the runner)
_REPLACED = "replaced-call@conformance.invalid;to-tag=carol1;from-tag=bob1"


##= https://www.rfc-editor.org/rfc/rfc3891#section-6.1
##= type=test
##% A Replaces header field MUST contain exactly one to-tag and exactly one from-tag, as they
##% are required for unique dialog matching.
##= https://www.rfc-editor.org/rfc/rfc3891#section-6.2
##= type=test
##% UAs which support the Replaces header MUST include the "replaces" option tag in a
##% Supported header field.
@case(
    "uac-replaces-invite",
    roles=UAC,
    timeout=15,
    preamble="a call from the target, answered ([uac] transferee)",
    no_control=RUNNER_ANSWERS,
)
def replaces_invite(ctx: Context) -> None:
    """The runner REFERs the target (in its call) to sip:carol@runner with a Replaces: the
    target's INVITE carries that Replaces (one to-tag, one from-tag) and Supported:
    replaces."""
    peer = Peer(ctx, "transferee")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 200)
    escaped = _REPLACED.replace("@", "%40").replace(";", "%3B").replace("=", "%3D")
    contact = (invite.get("Contact") or "").split("<", 1)[-1].split(">", 1)[0]
    to = f"{invite.get('To')};tag={peer.tag}" if "tag=" not in (invite.get("To") or "") else ""
    host = peer.server.hostport
    lines = [
        f"REFER {contact} SIP/2.0",
        f"Via: SIP/2.0/UDP {host};branch={unique('z9hG4bK')}",
        "Max-Forwards: 70",
        f"From: {to or invite.get('To')}",
        f"To: {invite.get('From')}",
        f"Call-ID: {invite.call_id}",
        "CSeq: 1 REFER",
        f"Contact: <sip:uas@{host}>",
        f"Refer-To: <sip:carol@{host}?Replaces={escaped}>",
        f"Referred-By: <sip:uas@{host}>",
        "Content-Length: 0",
    ]
    peer.send(("\r\n".join(lines) + "\r\n\r\n").encode(), addr, "REFER (transfer)")
    replacing = None
    end = time.monotonic() + 4.0
    while replacing is None and (left := end - time.monotonic()) > 0:
        got = peer.expect(lambda m: not m.is_response and m.method != "ACK", left)
        if got is None:
            break
        msg, where = got
        if msg.method == "INVITE" and msg.get("Replaces") is not None:
            replacing = msg
            # no such dialog here: 481 ends the attempt (and the refer subscription)
            peer.answer(msg, where, 481, contact=False)
        else:
            peer.ok(msg, where)
    if replacing is None:
        ctx.inconclusive("no INVITE with Replaces after the REFER")
    assert replacing is not None
    peer.serve(0.5)
    value = replacing.get("Replaces") or ""
    counts = (
        len(re.findall(r"(?i);\s*to-tag=", value)),
        len(re.findall(r"(?i);\s*from-tag=", value)),
    )
    ctx.check(counts == (1, 1), "exactly one to-tag and one from-tag", value)
    tags = {t.strip().lower() for line in replacing.get_all("Supported") for t in line.split(",")}
    ctx.check("replaces" in tags, "Supported: replaces", repr(replacing.get_all("Supported")), 1)
