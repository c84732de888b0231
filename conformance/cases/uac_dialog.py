"""The UAC in a dialog (RFC 3261 §12.1.2, §12.2.1.1, §13.2.2.4, §14.1, §15.1.1).

The runner answers the INVITE with a 2xx whose Contact (the remote target) and Record-Route
entries all name its own listener, with different user parts, so every request the UAC sends
in the dialog comes back to the runner and shows which URI it used where.
"""

from __future__ import annotations

import time

from conformance.messages import unique
from conformance.model import Context, case
from conformance.sipmsg import Message, param
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer, sdp_answer


def sdp_offer() -> bytes:
    """An offer of one PCMU audio stream (an answer to nothing is an offer)."""
    return sdp_answer(b"m=audio 0 RTP/AVP 0\r\n")


ORDER = 62  # after the core's first-wave modules (torture is 60)

CALLED = "a call from the target, answered 200 by the runner ([uac] {kind})"


def uri_of(value: str) -> str:
    value = value.strip()
    if "<" in value:
        return value.split("<", 1)[1].split(">", 1)[0].strip()
    return value.split(";", 1)[0].strip()


def _routes(msg: Message) -> list[str]:
    return [uri_of(v) for v in msg.get_all("Route")]


def _sdp_version(msg: Message) -> str | None:
    """The version field of the SDP o= line of ``msg``'s body, if any."""
    for line in msg.body.decode("utf-8", "replace").splitlines():
        if line.startswith("o="):
            fields = line[2:].split()
            return fields[2] if len(fields) > 2 else None
    return None


class _Call:
    """A call from the target answered 200 with ``record_route`` entries (listed top first,
    as a Record-Route in the response)."""

    def __init__(self, ctx: Context, kind: str, record_route: list[str] | None = None) -> None:
        self.peer = peer = Peer(ctx, kind)
        self.ctx = ctx
        hp = peer.server.hostport
        self.target = f"sip:uas@{hp}"
        self.record_route = [r.replace("{hp}", hp) for r in (record_route or [])]
        self.invite, self.addr = peer.first("INVITE", CALLED.format(kind=kind))
        rr = [f"Record-Route: <{r}>" for r in self.record_route]
        self.ok = peer.answer(self.invite, self.addr, 180)
        self.ok = peer.answer(self.invite, self.addr, 200, headers=rr)

    def ack(self, what: str = "the ACK for the 2xx") -> Message:
        got = self.peer.request("ACK", 3.0, self.invite.call_id)
        if got is None:
            self.ctx.inconclusive(f"no {what}")
        assert got is not None
        return got[0]

    def next(self, method: str, within: float) -> tuple[Message, tuple[str, int]]:
        got = self.peer.request(method, within, self.invite.call_id)
        if got is None:
            self.ctx.inconclusive(f"the target sent no {method} in the call within {within:g} s")
        assert got is not None
        return got


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% The route set MUST be set to the list of URIs in the Record-Route
##% header field from the response, taken in reverse order and preserving
##% all URI parameters.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% The remote target MUST be set to the URI
##% from the Contact header field of the response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% The sequence number of the CSeq header field MUST be
##% the same as the INVITE being acknowledged, but the CSeq method MUST
##% be ACK.
@case(
    "uac-ack-2xx-route-set",
    roles=UAC,
    timeout=15,
    preamble=CALLED.format(kind="invite"),
    no_control=RUNNER_ANSWERS,
)
def ack_2xx_route_set(ctx: Context) -> None:
    """The ACK for a 2xx with two Record-Route entries: Route reversed, Request-URI the
    Contact, CSeq number of the INVITE."""
    call = _Call(ctx, "invite", ["sip:rr1@{hp};lr", "sip:rr2@{hp};lr"])
    ack = call.ack()
    want = list(reversed(call.record_route))
    ctx.check(_routes(ack) == want, f"Route {want}", f"Route {_routes(ack)}")
    ctx.check(ack.uri == call.target, f"Request-URI {call.target}", ack.uri, requirement=1)
    ctx.check(
        ack.cseq == (call.invite.cseq[0], "ACK"),
        f"CSeq {call.invite.cseq[0]} ACK",
        ack.get("CSeq") or "",
        requirement=2,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% The
##% ACK MUST be passed to the client transport every time a
##% retransmission of the 2xx final response that triggered the ACK
##% arrives.
@case(
    "uac-ack-2xx-retransmitted",
    roles=UAC,
    timeout=15,
    preamble=CALLED.format(kind="invite"),
    no_control=RUNNER_ANSWERS,
)
def ack_2xx_retransmitted(ctx: Context) -> None:
    """A copy of the 2xx gets the ACK again."""
    call = _Call(ctx, "invite")
    with ctx.preamble("the ACK for the first 2xx"):
        first = call.ack()
    call.peer.send(call.ok, call.addr, "2xx retransmitted")
    again = call.peer.request("ACK", max(1.0, 4 * ctx.profile.t1), call.invite.call_id)
    ctx.check(again is not None, "the ACK again", "none")
    assert again is not None
    ctx.check(again[0].cseq == first.cseq, first.get("CSeq") or "", again[0].get("CSeq") or "")


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% If the route set is not empty, and the first URI in the route set
##% contains the lr parameter (see Section 19.1.1), the UAC MUST place
##% the remote target URI into the Request-URI and MUST include a Route
##% header field containing the route set values in order, including all
##% parameters.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% The Call-ID of the request MUST be set to the Call-ID of the dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% The tag in the To header field of the request
##% MUST be set to the remote tag of the dialog ID.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% The tag
##% in the From header field of the request MUST be set to the local tag
##% of the dialog ID.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% Therefore, if
##% the local sequence number is not empty, the value of the local
##% sequence number MUST be incremented by one, and this value MUST be
##% placed into the CSeq header field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% The URI in the To field of the request MUST be set to the remote URI
##% from the dialog state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% The From URI of the
##% request MUST be set to the local URI from the dialog state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.4
##= type=test
##% It MUST be the same for all requests and responses sent by either UA in a dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% This state MUST be maintained for the duration of the dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% The local sequence number MUST be set to the value of the sequence number in the CSeq
##% header field of the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% The call identifier component of the dialog ID MUST be set to the value of the Call-ID
##% in the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% The local tag component of the dialog ID MUST be set to the tag in the From field in the
##% request, and the remote tag component of the dialog ID MUST be set to the tag in the To
##% field of the response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% The remote URI MUST be set to the URI in the To field, and the local URI MUST be set to
##% the URI in the From field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% The method field in the CSeq header field value MUST match the method of the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1
##= type=test
##% UAs MUST assign values to the dialog ID components as described below.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% If, after acknowledging any 2xx response to an INVITE, the UAC does
##% not want to continue with that dialog, then the UAC MUST terminate
##% the dialog by sending a BYE request as described in Section 15.
@case(
    "uac-bye-in-dialog",
    roles=UAC,
    timeout=15,
    preamble=CALLED.format(kind="bye"),
    no_control=RUNNER_ANSWERS,
)
def bye_in_dialog(ctx: Context) -> None:
    """The BYE: remote target as Request-URI, the route set as Route, the dialog's Call-ID,
    tags and URIs, CSeq one above the INVITE's."""
    call = _Call(ctx, "bye", ["sip:rr1@{hp};lr", "sip:rr2@{hp};lr"])
    call.ack()
    bye, addr = call.next("BYE", 8.0)
    call.peer.ok(bye, addr)
    want = list(reversed(call.record_route))
    ctx.check(
        bye.uri == call.target and _routes(bye) == want,
        f"BYE {call.target} with Route {want}",
        f"BYE {bye.uri} with Route {_routes(bye)}",
    )
    ctx.check(bye.call_id == call.invite.call_id, call.invite.call_id, bye.call_id, 1)
    ctx.check(bye.to_tag == call.peer.tag, f"To tag {call.peer.tag}", f"{bye.to_tag}", 2)
    local = param(call.invite.get("From") or "", "tag")
    ctx.check(
        param(bye.get("From") or "", "tag") == local, f"From tag {local}", bye.get("From") or "", 3
    )
    number = call.invite.cseq[0] or 0
    ctx.check(bye.cseq == (number + 1, "BYE"), f"CSeq {number + 1} BYE", bye.get("CSeq") or "", 4)
    for name, requirement in (("To", 5), ("From", 6)):
        want_uri, seen = uri_of(call.invite.get(name) or ""), uri_of(bye.get(name) or "")
        ctx.check(want_uri == seen, f"{name} URI {want_uri}", seen, requirement)


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% If the route set is not empty, and its first URI does not contain the
##% lr parameter, the UAC MUST place the first URI from the route set
##% into the Request-URI, stripping any parameters that are not allowed
##% in a Request-URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% The UAC MUST add a Route header field containing
##% the remainder of the route set values in order, including all
##% parameters.  The UAC MUST then place the remote target URI into the
##% Route header field as the last value.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.2
##= type=test
##% If the first element in the route set indicated a strict router (resulting in forming
##% the request as described in Section 12.2.1.1), the procedures MUST be applied to the
##% Request-URI of the request.
@case(
    "uac-bye-strict-route",
    roles=UAC,
    timeout=15,
    preamble=CALLED.format(kind="bye"),
    no_control=RUNNER_ANSWERS,
)
def bye_strict_route(ctx: Context) -> None:
    """With a strict router (no lr) first in the route set, the BYE goes to it as its
    Request-URI, and the remote target ends the Route."""
    call = _Call(ctx, "bye", ["sip:loose@{hp};lr", "sip:strict@{hp}"])
    call.ack()
    bye, addr = call.next("BYE", 8.0)
    call.peer.ok(bye, addr)
    strict, loose = call.record_route[1], call.record_route[0]
    ctx.check(bye.uri == strict, f"Request-URI {strict}", bye.uri)
    want = [loose, call.target]
    ctx.check(_routes(bye) == want, f"Route {want}", f"Route {_routes(bye)}", requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% If the route set is empty, the UAC MUST place the remote target URI
##% into the Request-URI.  The UAC MUST NOT add a Route header field to
##% the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% If no Record-Route header field is present in the response, the route set MUST be set to
##% the empty set.
@case(
    "uac-bye-no-route",
    roles=UAC,
    timeout=15,
    preamble=CALLED.format(kind="bye"),
    no_control=RUNNER_ANSWERS,
)
def bye_no_route(ctx: Context) -> None:
    """Without Record-Route the BYE goes to the Contact and carries no Route."""
    call = _Call(ctx, "bye")
    call.ack()
    bye, addr = call.next("BYE", 8.0)
    call.peer.ok(bye, addr)
    ctx.check(bye.uri == call.target, f"Request-URI {call.target}", bye.uri)
    ctx.check(not bye.get_all("Route"), "no Route", " | ".join(bye.get_all("Route")))


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% Requests within a dialog MUST contain strictly monotonically
##% increasing and contiguous CSeq sequence numbers (increasing-by-one)
##% in each direction (excepting ACK and CANCEL of course, whose numbers
##% equal the requests being acknowledged or cancelled).
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% The Call-ID of the request MUST be set to the Call-ID of the dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.8
##= type=test
##% The Contact header field MUST be present and contain exactly one SIP
##% or SIPS URI in any request that can result in the establishment of a
##% dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.1.1
##= type=test
##% A UAC SHOULD include a Contact header field in any target refresh requests within a
##% dialog, and unless there is a need to change it, the URI SHOULD be the same as used in
##% previous requests within the dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
##= type=test
##% If the session description format has the capability for version numbers, the offerer
##% SHOULD indicate that the version of the session description has changed.
@case(
    "uac-reinvite-in-dialog",
    roles=UAC,
    timeout=20,
    preamble=CALLED.format(kind="reinvite"),
    no_control=RUNNER_ANSWERS,
)
def reinvite_in_dialog(ctx: Context) -> None:
    """The re-INVITE: CSeq one above the INVITE's, the dialog's Call-ID and tags, a Contact."""
    call = _Call(ctx, "reinvite")
    call.ack()
    again, addr = call.next("INVITE", 8.0)
    call.peer.answer(again, addr, 200)
    number = call.invite.cseq[0] or 0
    ctx.check(
        again.cseq == (number + 1, "INVITE"), f"CSeq {number + 1} INVITE", again.get("CSeq") or ""
    )
    ctx.check(
        again.call_id == call.invite.call_id and again.to_tag == call.peer.tag,
        f"Call-ID {call.invite.call_id}, To tag {call.peer.tag}",
        f"Call-ID {again.call_id}, To tag {again.to_tag}",
        requirement=1,
    )
    ctx.check(len(again.get_all("Contact")) == 1, "one Contact", "none", requirement=2)
    ctx.should(
        again.get("Contact") == call.invite.get("Contact"),
        f"the same Contact as before ({call.invite.get('Contact')})",
        again.get("Contact") or "",
    )
    versions = [_sdp_version(m) for m in (call.invite, again)]
    if None not in versions:
        ctx.should(
            versions[1] != versions[0],
            f"a new SDP version (o= above {versions[0]})",
            f"o= version {versions[1]}",
        )


##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
##= type=test
##% If a UAC receives a 491 response to a re-INVITE, it SHOULD start a
##% timer with a value T chosen as follows:
##%
##% 1. If the UAC is the owner of the Call-ID of the dialog ID
##% (meaning it generated the value), T has a randomly chosen value
##% between 2.1 and 4 seconds in units of 10 ms.
##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
##= type=test
##% When the timer fires, the UAC SHOULD attempt the re-INVITE once more, if it still
##% desires for that session modification to take place.
@case(
    "uac-reinvite-491-backoff",
    roles=UAC,
    level="SHOULD",
    timeout=25,
    preamble=CALLED.format(kind="reinvite"),
    no_control=RUNNER_ANSWERS,
)
def reinvite_491_backoff(ctx: Context) -> None:
    """After a 491 to its re-INVITE, the caller (it made the Call-ID) tries again after
    2.1 to 4 s."""
    call = _Call(ctx, "reinvite")
    call.ack()
    again, addr = call.next("INVITE", 8.0)
    call.peer.answer(again, addr, 491)
    at = time.monotonic()
    retry = call.peer.request("INVITE", 6.0, call.invite.call_id)
    while retry is not None and retry[0].branch == again.branch:  # a copy, or the ACK's twin
        retry = call.peer.request("INVITE", 6.0, call.invite.call_id)
    gap = time.monotonic() - at
    if retry is None:
        ctx.not_applicable("the target did not try the re-INVITE again (it MAY give up)")
    assert retry is not None
    call.peer.answer(retry[0], retry[1], 200)
    ctx.check(2.0 <= gap <= 4.2, "a retry 2.1 to 4 s after the 491", f"after {gap:.2f} s")


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% The UAC core MUST generate an ACK request for each 2xx received from
##% the transaction layer.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% Otherwise, a new dialog in the "confirmed" state MUST be constructed using the
##% procedures of Section 12.1.2.
@case(
    "uac-ack-forked-2xx",
    roles=UAC,
    timeout=15,
    preamble=CALLED.format(kind="invite"),
    no_control=RUNNER_ANSWERS,
)
def ack_forked_2xx(ctx: Context) -> None:
    """Two 2xx with different To tags (a forking proxy's): each gets its ACK."""
    call = _Call(ctx, "invite")
    other = call.peer.answer(call.invite, call.addr, 200, tag=call.peer.tag + "b")
    del other
    tags = set()
    end = time.monotonic() + 3.0
    while len(tags) < 2 and (left := end - time.monotonic()) > 0:
        got = call.peer.request("ACK", left, call.invite.call_id)
        if got is None:
            break
        tags.add(got[0].to_tag)
    want = {call.peer.tag, call.peer.tag + "b"}
    ctx.check(tags == want, f"ACKs for To tags {sorted(want)}", f"{sorted(t or '' for t in tags)}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.8
##= type=test
##% That is, the Contact header field value contains the URI at which the UA would like to
##% receive requests, and this URI MUST be valid even if used in subsequent requests outside
##% of any dialogs.
@case(
    "uac-contact-reachable",
    roles=UAC,
    timeout=15,
    preamble=CALLED.format(kind="invite"),
    no_control=RUNNER_ANSWERS,
)
def contact_reachable(ctx: Context) -> None:
    """The INVITE's Contact URI works outside the dialog: an OPTIONS sent there is answered."""
    call = _Call(ctx, "invite")
    call.ack()
    contact = uri_of(call.invite.get("Contact") or "")
    host, _, port = contact.split("@", 1)[-1].split(";", 1)[0].rpartition(":")
    if not port.isdigit():
        ctx.inconclusive(f"the Contact {contact} names no port on loopback")
    peer = call.peer
    branch = "z9hG4bK" + unique("o")
    options = (
        f"OPTIONS {contact} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {peer.server.hostport};branch={branch}\r\n"
        "Max-Forwards: 70\r\n"
        f"To: <{contact}>\r\n"
        f"From: <sip:runner@{peer.server.hostport}>;tag={unique('f')}\r\n"
        f"Call-ID: {unique('c')}\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    peer.send(options, (host.strip("[]"), int(port)), "OPTIONS to the Contact, out of dialog")
    got = peer.expect(lambda m: m.is_response and m.branch == branch, 3.0)
    ctx.check(got is not None, f"a response to an OPTIONS sent to {contact}", "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% The initial offer MUST be in either an INVITE or, if not there, in the first reliable
##% non-failure message from the UAS back to the UAC.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% If the initial offer is in the first reliable non-failure message from the UAS back to
##% UAC, the answer MUST be in the acknowledgement for that message (in this specification,
##% ACK for a 2xx response).
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% If the 2xx contains an offer (based on the rules above), the ACK MUST carry an answer in
##% its body.
@case(
    "uac-offer-in-2xx",
    roles=UAC,
    timeout=15,
    preamble=CALLED.format(kind="invite"),
    no_control=RUNNER_ANSWERS,
)
def offer_in_2xx(ctx: Context) -> None:
    """An INVITE without offer: the runner offers in the 200, the ACK carries the answer."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    if invite.body:
        peer.answer(invite, addr, 486)
        ctx.not_applicable("the target offers in the INVITE (the answer is then the runner's)")
    offer = sdp_offer()
    peer.answer(invite, addr, 200, body=offer)
    got = peer.request("ACK", 3.0, invite.call_id)
    ctx.check(got is not None, "an ACK", "none")
    assert got is not None
    ctx.check(b"m=" in got[0].body, "an SDP answer in the ACK", f"{got[0].body[:60]!r}", 1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% If the offer in the 2xx response is not acceptable, the UAC core MUST generate a valid
##% answer in the ACK and then send a BYE immediately.
@case(
    "uac-unacceptable-offer-in-2xx",
    roles=UAC,
    timeout=15,
    preamble=CALLED.format(kind="invite"),
    no_control=RUNNER_ANSWERS,
)
def unacceptable_offer_in_2xx(ctx: Context) -> None:
    """An INVITE without offer, a 200 offering only a stream nobody can take: the ACK still
    carries an answer, and a BYE follows at once."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    if invite.body:
        peer.answer(invite, addr, 486)
        ctx.not_applicable("the target offers in the INVITE (the answer is then the runner's)")
    offer = sdp_answer(b"m=x-nothing 0 X/NONE 0\r\n")
    peer.answer(invite, addr, 200, body=offer)
    got = peer.request("ACK", 3.0, invite.call_id)
    ctx.check(got is not None, "an ACK", "none")
    assert got is not None
    ctx.check(bool(got[0].body), "an answer in the ACK", "an ACK without body")
    bye = peer.request("BYE", 3.0, invite.call_id)
    if bye is not None:
        peer.ok(*bye)
    ctx.check(bye is not None, "a BYE right after the ACK", "none within 3 s")


##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
##= type=test
##% Note that a UAC MUST NOT initiate a new INVITE transaction within a dialog while another
##% INVITE transaction is in progress in either direction.
##= https://www.rfc-editor.org/rfc/rfc3261#section-14.1
##= type=test
##% If there is an ongoing INVITE client transaction, the TU MUST wait until the transaction
##% reaches the completed or terminated state before initiating the new INVITE.
@case(
    "uac-reinvite-one-at-a-time",
    roles=UAC,
    timeout=20,
    preamble=CALLED.format(kind="reinvite"),
    no_control=RUNNER_ANSWERS,
)
def reinvite_one_at_a_time(ctx: Context) -> None:
    """While its re-INVITE has only a 100, the UAC starts no other INVITE in the dialog."""
    call = _Call(ctx, "reinvite")
    call.ack()
    again, addr = call.next("INVITE", 8.0)
    call.peer.answer(again, addr, 100, contact=False)
    others = call.peer.collect(
        lambda m: m.method == "INVITE" and m.branch not in (again.branch, call.invite.branch),
        2.0,
    )
    call.peer.answer(again, addr, 200)
    ctx.check(not others, "no second INVITE while one is pending", f"{len(others)} more")
