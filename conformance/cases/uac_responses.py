"""How the UAC handles the responses it gets (RFC 3261 §8.1.3, §9.1, §12.1.2, §12.2.1.2,
§13.2.2.4): unknown status codes, several redirect targets, a 2xx without To tag, a route set
recomputed from the 2xx, a target refresh, a final response before the hang-up.
"""

from __future__ import annotations

import time

from conformance.model import Context, case
from conformance.sipmsg import Message
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer

ORDER = 67  # after the core's first-wave modules (torture is 60)

INVITED = "an INVITE from the target ([uac] invite)"


def uri_of(value: str) -> str:
    value = value.strip()
    if "<" in value:
        return value.split("<", 1)[1].split(">", 1)[0].strip()
    return value.split(";", 1)[0].strip()


def _routes(msg: Message) -> list[str]:
    return [uri_of(v) for v in msg.get_all("Route")]


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.2
##= type=test
##% A UAC MUST treat any final response it does not recognize as being equivalent to the x00
##% response code of that class, and MUST be able to process the x00 response code for all
##% classes.
@case("uac-unknown-final", roles=UAC, timeout=15, preamble=INVITED, no_control=RUNNER_ANSWERS)
def unknown_final(ctx: Context) -> None:
    """A 499 (no such code) ends the INVITE as a 400 would: ACKed, not tried again."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 499)
    ack = peer.request("ACK", 3.0, invite.call_id)
    ctx.check(ack is not None, "an ACK for the 499 (a failure like 400)", "none")
    retry = peer.expect(lambda m: m.method == "INVITE" and m.branch != invite.branch, 1.0)
    ctx.check(retry is None, "no new INVITE after a 4xx", "a new INVITE")


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.2
##= type=test
##% A UAC MUST treat any provisional response different than 100 that it does not recognize
##% as 183 (Session Progress).
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.2
##= type=test
##% A UAC MUST be able to process 100 and 183 responses.
@case(
    "uac-unknown-provisional",
    roles=UAC,
    transports=("udp",),
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def unknown_provisional(ctx: Context) -> None:
    """A 189 (no such code) is a provisional response like 183: the INVITE stops being
    retransmitted, and the 486 after it is ACKed."""
    t1 = ctx.profile.t1
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 189)
    at = time.monotonic()
    copies = peer.collect(
        lambda m: m.method == "INVITE" and m.branch == invite.branch, max(1.0, 8 * t1)
    )
    late = [round(t - at, 2) for t, _ in copies if t - at > t1 + 0.05]
    peer.answer(invite, addr, 486)
    ack = peer.request("ACK", 3.0, invite.call_id)
    ctx.check(not late, "no copy of the INVITE after the 189", f"copies at {late}")
    ctx.check(ack is not None, "an ACK for the 486 after the 189", "none", requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% As with proxy recursion, a client processing 3xx class responses MUST NOT add any given
##% URI to the target set more than once.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% Failures SHOULD be detected through failure response codes (codes greater than 399); for
##% network errors the client transaction will report any transport layer failures to the
##% transaction user.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.4
##= type=test
##% When a failure for a particular contact address is received, the client SHOULD try the
##% next contact address.
@case(
    "uac-3xx-targets",
    roles=UAC,
    level="SHOULD",
    timeout=20,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def redirect_targets(ctx: Context) -> None:
    """A 302 listing A, A and B: A is tried once, and after its 486, B."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    hp = peer.server.hostport
    first, second = f"sip:first@{hp}", f"sip:second@{hp}"
    contacts = [f"Contact: <{first}>", f"Contact: <{first}>", f"Contact: <{second}>"]
    peer.answer(invite, addr, 302, headers=contacts, contact=False)
    tried: list[str] = []
    seen = {invite.branch}
    end = time.monotonic() + 6.0
    while (left := end - time.monotonic()) > 0 and second not in tried:
        got = peer.expect(lambda m: m.method == "INVITE" and m.branch not in seen, left)
        if got is None:
            break
        seen.add(got[0].branch)
        tried.append(got[0].uri)
        peer.answer(got[0], got[1], 486)
    # a second try of the first target may still come after the second one
    late = peer.expect(lambda m: m.method == "INVITE" and m.branch not in seen, 0.5)
    if late is not None:
        tried.append(late[0].uri)
        peer.answer(late[0], late[1], 486)
    if not tried:
        ctx.inconclusive("the target did not follow the 302 at all")
    ctx.check(tried.count(first) == 1, f"{first} tried once", f"tried {tried}")
    ctx.check(second in tried, f"{second} tried after {first} failed", f"tried {tried}", 2)


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% A UAC MUST be prepared to receive a response without a tag in the To field, in which
##% case the tag is considered to have a value of null.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% If the value of the remote or local tags is null, the tag parameter MUST be omitted from
##% the To or From header fields, respectively.
@case(
    "uac-2xx-without-to-tag",
    roles=UAC,
    timeout=15,
    preamble="a call from the target answered by a 200 without To tag ([uac] bye)",
    no_control=RUNNER_ANSWERS,
)
def no_to_tag(ctx: Context) -> None:
    """A 200 without To tag (an RFC 2543 UAS): the ACK and the BYE carry no To tag."""
    peer = Peer(ctx, "bye")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 200, tag="")
    ack = peer.request("ACK", 3.0, invite.call_id)
    ctx.check(ack is not None, "an ACK for the 200 without To tag", "none")
    assert ack is not None
    bye = peer.request("BYE", 8.0, invite.call_id)
    if bye is None:
        ctx.inconclusive("the target sent no BYE")
    assert bye is not None
    peer.ok(*bye)
    for what, msg in (("ACK", ack[0]), ("BYE", bye[0])):
        ctx.check(msg.to_tag is None, f"{what} without To tag", msg.get("To") or "", 1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% If the dialog identifier in the 2xx response matches the dialog identifier of an
##% existing dialog, the dialog MUST be transitioned to the "confirmed" state, and the route
##% set for the dialog MUST be recomputed based on the 2xx response using the procedures of
##% Section 12.2.1.2.
@case(
    "uac-route-set-from-2xx",
    roles=UAC,
    timeout=15,
    preamble="a call from the target, 183 and 200 with different Record-Route ([uac] bye)",
    no_control=RUNNER_ANSWERS,
)
def route_set_from_2xx(ctx: Context) -> None:
    """The 183 records one route, the 200 another: the ACK and BYE follow the 200's."""
    peer = Peer(ctx, "bye")
    invite, addr = peer.first("INVITE")
    hp = peer.server.hostport
    early, final = f"sip:early@{hp};lr", f"sip:final@{hp};lr"
    peer.answer(invite, addr, 183, headers=[f"Record-Route: <{early}>"], contact=True)
    time.sleep(0.1)
    peer.answer(invite, addr, 200, headers=[f"Record-Route: <{final}>"])
    ack = peer.request("ACK", 3.0, invite.call_id)
    ctx.check(ack is not None, "an ACK", "none")
    assert ack is not None
    bye = peer.request("BYE", 8.0, invite.call_id)
    if bye is not None:
        peer.ok(*bye)
    for what, msg in (("ACK", ack[0]), ("BYE", bye[0] if bye else None)):
        if msg is not None:
            ctx.check(_routes(msg) == [final], f"{what} Route {final}", f"{_routes(msg)}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.2
##= type=test
##% When a UAC receives a 2xx response to a target refresh request, it MUST replace the
##% dialog's remote target URI with the URI from the Contact header field in that response,
##% if present.
@case(
    "uac-target-refresh",
    roles=UAC,
    timeout=20,
    preamble="a call from the target that it re-INVITEs, then ends ([uac] reinvite)",
    no_control=RUNNER_ANSWERS,
)
def target_refresh(ctx: Context) -> None:
    """The 200 to the re-INVITE names a new Contact: the BYE goes there."""
    peer = Peer(ctx, "reinvite")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 200)
    if peer.request("ACK", 3.0, invite.call_id) is None:
        ctx.inconclusive("no ACK for the 200")
    got = peer.expect(lambda m: m.method == "INVITE" and m.branch != invite.branch, 8.0)
    if got is None:
        ctx.inconclusive("the target sent no re-INVITE")
    assert got is not None
    moved = f"sip:moved@{peer.server.hostport}"
    peer.answer(got[0], got[1], 200, contact=False, headers=[f"Contact: <{moved}>"])
    bye = peer.request("BYE", 10.0, invite.call_id)
    if bye is None:
        ctx.inconclusive("the target sent no BYE")
    assert bye is not None
    peer.ok(*bye)
    ctx.check(bye[0].uri == moved, f"BYE {moved}", f"BYE {bye[0].uri}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.1
##= type=test
##% If the original request has generated a final response, the CANCEL SHOULD NOT be sent,
##% as it is an effective no-op, since CANCEL has no effect on requests that have already
##% generated a final response.
@case(
    "uac-no-cancel-after-final",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble="an INVITE from the target, turned down before it hangs up ([uac] cancel)",
    no_control=RUNNER_ANSWERS,
)
def no_cancel_after_final(ctx: Context) -> None:
    """The INVITE got its 486 before the hang-up time: no CANCEL follows."""
    peer = Peer(ctx, "cancel")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 180)
    peer.answer(invite, addr, 486)
    cancel = peer.request("CANCEL", 2.0, invite.call_id)
    if cancel is not None:
        peer.ok(*cancel)
    ctx.check(cancel is None, "no CANCEL after the 486", "a CANCEL")
