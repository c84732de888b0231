"""UAC request construction (RFC 3261 §8.1.1, §13.2.1) and the INVITE client transaction's
first steps (§17.1.1): the runner is the server a UAC under test calls.

The profile's ``[uac]`` table names the commands that make the element under test send each
kind of request (`conformance.trigger`); ``{target}`` in them is the runner's ``host:port``.
Without the command a case needs it is not applicable.
"""

from __future__ import annotations

import time

from conformance.messages import unique
from conformance.model import Context, case
from conformance.sipmsg import Message, param
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer

#: load order of the case modules (conformance.discovery)
ORDER = 50

#: the preamble of the INVITE cases (kept for the report: the older cases' wording)
ORIGINATED = "an INVITE from the target (the profile's [uac] invite command)"


def uri_of(value: str) -> str:
    """The URI of a name-addr or addr-spec header value, without header parameters."""
    value = value.strip()
    if "<" in value:
        return value.split("<", 1)[1].split(">", 1)[0].strip()
    return value.split(";", 1)[0].strip()


def refused(ctx: Context, kind: str = "invite", method: str = "INVITE") -> tuple[Peer, Message]:
    """Trigger ``kind``, take its first ``method`` and turn it down (486, or 200 for a
    non-INVITE): the request is judged, the exchange is over."""
    peer = Peer(ctx, kind)
    request, addr = peer.first(method)
    if method == "INVITE":
        peer.answer(request, addr, 486)
    else:
        peer.answer(request, addr, 200, contact=False)
    return peer, request


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% If an unreliable transport is being used, the client transaction MUST start timer A with a
##% value of T1.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% The client transaction MUST pass the request to the transport layer for transmission
##% (see Section 18).
@case(
    "uac-invite-retransmitted",
    roles=UAC,
    transports=("udp",),
    timeout=15,
    preamble=ORIGINATED,
    no_control=RUNNER_ANSWERS,
)
def invite_retransmitted(ctx: Context) -> None:
    """An unanswered INVITE over UDP is retransmitted after about T1."""
    peer = Peer(ctx, "invite")
    first, addr = peer.first("INVITE")
    at = time.monotonic()
    again = peer.expect(
        lambda m: m.method == "INVITE" and m.branch == first.branch, timeout=4 * ctx.profile.t1
    )
    gap = time.monotonic() - at
    ctx.check(again is not None, "a retransmission", "none")
    peer.answer(first, addr, 486)
    ctx.check(
        # loose: the gap is measured from when the first copy was read, on a busy machine
        0.6 * ctx.profile.t1 - 0.05 <= gap <= 1.8 * ctx.profile.t1 + 0.05,
        f"after {ctx.profile.t1} s",
        f"after {gap:.3f} s",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
##= type=test
##% The branch ID inserted by an element compliant with this specification MUST always begin
##% with the characters "z9hG4bK".
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1
##= type=test
##% A valid SIP request formulated by a UAC MUST, at a minimum, contain the following header
##% fields: To, From, CSeq, Call-ID, Max-Forwards, and Via; all of these header fields are
##% mandatory in all SIP requests.
@case(
    "uac-invite-mandatory-headers",
    roles=UAC,
    timeout=15,
    preamble=ORIGINATED,
    no_control=RUNNER_ANSWERS,
)
def mandatory_headers(ctx: Context) -> None:
    """The INVITE has To, From (tagged), CSeq, Call-ID, Max-Forwards, Via (z9hG4bK)."""
    _, invite = refused(ctx)
    _six_and_cookie(ctx, invite)


def _six_and_cookie(ctx: Context, request: Message) -> None:
    missing = [
        h
        for h in ("To", "From", "CSeq", "Call-ID", "Max-Forwards", "Via")
        if request.get(h) is None
    ]
    ctx.check(not missing, "all six header fields", f"missing {', '.join(missing)}", requirement=1)
    ctx.check(
        (request.branch or "").startswith("z9hG4bK"),
        "branch z9hG4bK...",
        request.branch or "(none)",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
##= type=test
##% The branch ID inserted by an element compliant with this specification MUST always begin
##% with the characters "z9hG4bK".
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1
##= type=test
##% A valid SIP request formulated by a UAC MUST, at a minimum, contain the following header
##% fields: To, From, CSeq, Call-ID, Max-Forwards, and Via; all of these header fields are
##% mandatory in all SIP requests.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% The request MUST be passed to the transport layer for transmission.
@case(
    "uac-options-mandatory-headers",
    roles=UAC,
    timeout=15,
    preamble="an OPTIONS from the target ([uac] options)",
    no_control=RUNNER_ANSWERS,
)
def options_mandatory_headers(ctx: Context) -> None:
    """An OPTIONS has the six mandatory header fields and a z9hG4bK branch."""
    _, options = refused(ctx, "options", "OPTIONS")
    _six_and_cookie(ctx, options)


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
##= type=test
##% The branch ID inserted by an element compliant with this specification MUST always begin
##% with the characters "z9hG4bK".
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1
##= type=test
##% A valid SIP request formulated by a UAC MUST, at a minimum, contain the following header
##% fields: To, From, CSeq, Call-ID, Max-Forwards, and Via; all of these header fields are
##% mandatory in all SIP requests.
@case(
    "uac-message-mandatory-headers",
    roles=UAC,
    timeout=15,
    preamble="a MESSAGE from the target ([uac] message)",
    no_control=RUNNER_ANSWERS,
)
def message_mandatory_headers(ctx: Context) -> None:
    """A MESSAGE (RFC 3428) has the six mandatory header fields and a z9hG4bK branch."""
    _, message = refused(ctx, "message", "MESSAGE")
    _six_and_cookie(ctx, message)


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.2
##= type=test
##% A request outside of a dialog MUST NOT contain a To tag; the tag in
##% the To field of a request identifies the peer of the dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.3
##= type=test
##% The From field MUST contain a new "tag" parameter, chosen by the UAC.
@case("uac-request-tags", roles=UAC, timeout=15, preamble=ORIGINATED, no_control=RUNNER_ANSWERS)
def request_tags(ctx: Context) -> None:
    """The initial INVITE has no To tag and a From tag."""
    _, invite = refused(ctx)
    ctx.check(invite.to_tag is None, "a To without tag", invite.get("To") or "")
    from_tag = param(invite.get("From") or "", "tag")
    ctx.check(bool(from_tag), "a From tag", invite.get("From") or "", requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.1
##= type=test
##% The initial Request-URI of the message SHOULD be set to the value of
##% the URI in the To field.
@case(
    "uac-request-uri-is-to",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble=ORIGINATED,
    no_control=RUNNER_ANSWERS,
)
def request_uri_is_to(ctx: Context) -> None:
    """The initial INVITE's Request-URI is the To URI."""
    _, invite = refused(ctx)
    to = uri_of(invite.get("To") or "")
    ctx.check(invite.uri == to, f"Request-URI {to}", invite.uri)


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.5
##= type=test
##% The
##% method MUST match that of the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.5
##= type=test
##% The
##% sequence number value MUST be expressible as a 32-bit unsigned
##% integer and MUST be less than 2**31.
@case("uac-request-cseq", roles=UAC, timeout=15, preamble=ORIGINATED, no_control=RUNNER_ANSWERS)
def request_cseq(ctx: Context) -> None:
    """The INVITE's CSeq names INVITE with a number below 2**31."""
    _, invite = refused(ctx)
    number, method = invite.cseq
    ctx.check(method == "INVITE", "CSeq method INVITE", invite.get("CSeq") or "")
    ctx.check(
        number is not None and 0 <= number < 2**31,
        "a sequence number below 2**31",
        invite.get("CSeq") or "",
        requirement=1,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.6
##= type=test
##% A UAC MUST insert a Max-Forwards header field into each request it
##% originates with a value that SHOULD be 70.
@case(
    "uac-request-max-forwards",
    roles=UAC,
    timeout=15,
    preamble=ORIGINATED,
    no_control=RUNNER_ANSWERS,
)
def request_max_forwards(ctx: Context) -> None:
    """Max-Forwards is present (MUST), 70 (SHOULD: a warning otherwise)."""
    _, invite = refused(ctx)
    value = (invite.get("Max-Forwards") or "").strip()
    ctx.check(value.isdigit(), "a Max-Forwards", value or "(none)")
    ctx.should(value == "70", "Max-Forwards: 70", f"Max-Forwards: {value}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
##= type=test
##% The protocol name and protocol version in the header field
##% MUST be SIP and 2.0, respectively.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
##= type=test
##% The Via header field value MUST
##% contain a branch parameter.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
##= type=test
##% When the UAC creates a request, it MUST insert a Via into that
##% request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% Before a request is sent, the client transport MUST insert a value of the "sent-by"
##% field into the Via header field.
@case("uac-request-via", roles=UAC, timeout=15, preamble=ORIGINATED, no_control=RUNNER_ANSWERS)
def request_via(ctx: Context) -> None:
    """The INVITE has exactly one Via (it came straight to us): SIP/2.0/<transport>, a branch."""
    _, invite = refused(ctx)
    vias = invite.get_all("Via")
    ctx.check(len(vias) == 1, "one Via", " | ".join(vias) or "(none)", requirement=2)
    sent = vias[0].split(None, 1)[0].upper() if vias[0].split() else ""
    ctx.check(sent.startswith("SIP/2.0/"), "SIP/2.0/...", sent)
    ctx.check(bool(invite.branch), "a branch parameter", vias[0], requirement=1)
    sent_by = (
        vias[0].split(None, 1)[1].split(";", 1)[0].strip() if len(vias[0].split()) > 1 else ""
    )
    ctx.check(bool(sent_by), "a sent-by (host[:port])", vias[0], requirement=3)


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.8
##= type=test
##% The Contact header field MUST be present and contain exactly one SIP
##% or SIPS URI in any request that can result in the establishment of a
##% dialog.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.2
##= type=test
##% When a UAC sends a request that can establish a dialog (such as an INVITE) it MUST
##% provide a SIP or SIPS URI with global scope (i.e., the same SIP URI can be used in
##% messages outside this dialog) in the Contact header field of the request.
@case("uac-invite-contact", roles=UAC, timeout=15, preamble=ORIGINATED, no_control=RUNNER_ANSWERS)
def invite_contact(ctx: Context) -> None:
    """The INVITE carries one Contact with one sip:/sips: URI."""
    _, invite = refused(ctx)
    contacts = invite.get_all("Contact")
    ctx.check(len(contacts) == 1, "one Contact value", " | ".join(contacts) or "(none)")
    ctx.check(
        uri_of(contacts[0]).lower().startswith(("sip:", "sips:")),
        "a SIP or SIPS URI",
        contacts[0],
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% An Allow header field (Section 20.5) SHOULD be present in the INVITE.
##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% A Supported header field (Section 20.37) SHOULD be present in the
##% INVITE.
@case(
    "uac-invite-allow-supported",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble=ORIGINATED,
    no_control=RUNNER_ANSWERS,
)
def invite_allow_supported(ctx: Context) -> None:
    """The INVITE says what it allows and supports."""
    _, invite = refused(ctx)
    ctx.check(invite.get("Allow") is not None, "an Allow", "none")
    ctx.check(invite.get("Supported") is not None, "a Supported", "none", requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
##= type=test
##% The branch parameter value MUST be unique across space and time for
##% all requests sent by the UA.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.4
##= type=test
##% In a new request created by a UAC outside of any dialog, the Call-ID
##% header field MUST be selected by the UAC as a globally unique
##% identifier over space and time unless overridden by method-specific
##% behavior.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.3
##= type=test
##% The From field MUST contain a new "tag" parameter, chosen by the UAC.
@case(
    "uac-request-identifiers-new",
    roles=UAC,
    timeout=20,
    preamble="two OPTIONS from the target, one trigger after the other ([uac] options)",
    no_control=RUNNER_ANSWERS,
)
def identifiers_new(ctx: Context) -> None:
    """Two requests from two runs differ in branch, Call-ID and From tag."""
    _, one = refused(ctx, "options", "OPTIONS")
    _, two = refused(ctx, "options", "OPTIONS")
    ctx.check(one.branch != two.branch, "two branches", f"{one.branch} twice")
    ctx.check(one.call_id != two.call_id, "two Call-IDs", f"{one.call_id} twice", requirement=1)
    tags = [param(m.get("From") or "", "tag") for m in (one, two)]
    ctx.check(tags[0] != tags[1], "two From tags", f"{tags[0]} twice", requirement=2)


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% The ACK MUST contain a single Via header field, and this MUST be equal to the top Via
##% header field of the original request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% The To header field in the ACK MUST equal the To header
##% field in the response being acknowledged, and therefore will usually
##% differ from the To header field in the original request by the
##% addition of the tag parameter.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% The ACK request constructed by the client transaction MUST contain
##% values for the Call-ID, From, and Request-URI that are equal to the
##% values of those header fields in the request passed to the transport
##% by the client transaction (call this the "original request").
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% The CSeq header field in the ACK MUST contain the same value for the
##% sequence number as was present in the original request, but the
##% method parameter MUST be equal to "ACK".
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% The client transaction MUST pass the received response up to the TU, and the client
##% transaction MUST generate an ACK request, even if the transport is reliable (guidelines
##% for constructing the ACK from the response are given in Section 17.1.1.3) and then pass
##% the ACK to the transport layer for transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% The ACK MUST be sent to the same address, port, and transport to which the original
##% request was sent.
##= https://www.rfc-editor.org/rfc/rfc3261#section-18.1.1
##= type=test
##% For unreliable unicast transports, the client transport MUST be prepared to receive
##% responses on the source IP address from which the request is sent (as responses are sent
##% back to the source address) and the port number in the "sent-by" field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% Therefore, placement of bodies in ACK for non-2xx is NOT RECOMMENDED, but if done, the
##% body types are restricted to any that appeared in the INVITE, assuming that the response
##% to the INVITE was not 415.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.3
##= type=test
##% Note that Require and Proxy-Require MUST NOT be
##% used in a SIP CANCEL request, or in an ACK request sent for a non-2xx
##% response.
@case("uac-ack-non2xx", roles=UAC, timeout=15, preamble=ORIGINATED, no_control=RUNNER_ANSWERS)
def ack_non2xx(ctx: Context) -> None:
    """The ACK for a 486 reuses the INVITE's Via, Call-ID, From, Request-URI, CSeq number and
    carries the response's To."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    tag = unique("u")
    peer.answer(invite, addr, 486, tag=tag)
    got = peer.request("ACK", 3.0, invite.call_id)
    if got is None:
        ctx.fail("an ACK for the 486", "none")
    assert got is not None
    ack = got[0]
    ctx.check(
        ack.get_all("Via")[:1] == invite.get_all("Via")[:1] and ack.count("Via") == 1,
        invite.top_via,
        " | ".join(ack.get_all("Via")),
    )
    ctx.check(ack.to_tag == tag, f"To tag {tag}", f"To tag {ack.to_tag}", requirement=1)
    for name, want, seen in (
        ("Call-ID", invite.call_id, ack.call_id),
        ("From", invite.get("From"), ack.get("From")),
        ("Request-URI", invite.uri, ack.uri),
    ):
        ctx.check(want == seen, f"{name} {want}", f"{name} {seen}", requirement=2)
    ctx.check(
        ack.cseq == (invite.cseq[0], "ACK"),
        f"CSeq {invite.cseq[0]} ACK",
        ack.get("CSeq") or "",
        requirement=3,
    )
    ctx.should(not ack.body, "an ACK without body", f"a body of {len(ack.body)} bytes")
    ctx.check(
        ack.get("Require") is None and ack.get("Proxy-Require") is None,
        "no Require, no Proxy-Require",
        f"Require: {ack.get('Require')}; Proxy-Require: {ack.get('Proxy-Require')}",
        requirement=8,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.2.4
##= type=test
##% The UAC core MUST generate an ACK request for each 2xx received from the transaction
##% layer.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.3
##= type=test
##% A UAC core that generates an ACK for 2xx MUST instead follow the rules described in
##% Section 13.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% When in either the "Calling" or "Proceeding" states, reception of a 2xx response MUST
##% cause the client transaction to enter the "Terminated" state, and the response MUST be
##% passed up to the TU.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.3
##= type=test
##% An ACK request for a 2xx response MUST contain only those Require and
##% Proxy-Require values that were present in the initial request.
@case("uac-ack-2xx", roles=UAC, timeout=15, preamble=ORIGINATED, no_control=RUNNER_ANSWERS)
def ack_2xx(ctx: Context) -> None:
    """A 2xx gets an ACK with a new branch and the INVITE's CSeq number."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 200)
    got = peer.request("ACK", 3.0, invite.call_id)
    if got is None:
        ctx.fail("an ACK for the 2xx", "none")
    assert got is not None
    ack = got[0]
    ctx.check(ack.cseq[0] == invite.cseq[0], f"CSeq {invite.cseq[0]} ACK", ack.get("CSeq") or "")
    ctx.check(ack.branch != invite.branch, "a new branch", ack.branch or "")
    for name in ("Require", "Proxy-Require"):
        extra = set(ack.option_tags(name)) - set(invite.option_tags(name))
        ctx.check(
            not extra,
            f"{name} values of the INVITE only ({', '.join(invite.option_tags(name)) or 'none'})",
            f"{name}: {ack.get(name)}",
            requirement=3,
        )


#: option tags of standards-track RFCs (IANA "SIP Option Tags", the ones in use); a tag
#: outside the list cannot be judged here, so it makes the case inconclusive, never failed
STANDARDS_TRACK_TAGS = frozenset(
    [
        "100rel",
        "199",
        "answermode",
        "early-session",
        "eventlist",
        "explicitsub",
        "from-change",
        "geolocation-http",
        "geolocation-sip",
        "gin",
        "gruu",
        "histinfo",
        "ice",
        "join",
        "multiple-refer",
        "norefersub",
        "nosub",
        "outbound",
        "path",
        "policy",
        "precondition",
        "pref",
        "privacy",
        "recipient-list-invite",
        "recipient-list-message",
        "recipient-list-subscribe",
        "record-aware",
        "replaces",
        "resource-priority",
        "sdp-anat",
        "sec-agree",
        "siprec",
        "tdialog",
        "timer",
        "trickle-ice",
        "uui",
    ]
)


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.9
##= type=test
##% The option tags listed MUST only refer to extensions defined in standards-track RFCs.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.9
##= type=test
##% As with the Supported header field, the option tags in the Require and Proxy-Require
##% header fields MUST only refer to extensions defined in standards-track RFCs.
@case(
    "uac-option-tags-standard",
    roles=UAC,
    timeout=15,
    preamble=ORIGINATED,
    no_control=RUNNER_ANSWERS,
)
def option_tags_standard(ctx: Context) -> None:
    """The option tags of the INVITE's Supported, Require and Proxy-Require are standard ones."""
    _, invite = refused(ctx)
    tags = {name: invite.option_tags(name) for name in ("Supported", "Require", "Proxy-Require")}
    unknown = sorted({t for found in tags.values() for t in found} - STANDARDS_TRACK_TAGS)
    if unknown:
        ctx.inconclusive(f"option tags this runner does not know: {', '.join(unknown)}")
    required = tags["Require"] + tags["Proxy-Require"]
    ctx.check(
        set(required) <= STANDARDS_TRACK_TAGS,
        "Require/Proxy-Require tags of standards-track RFCs",
        ", ".join(required),
        requirement=1,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1
##= type=test
##% A valid SIP request formulated by a UAC MUST, at a minimum, contain the following header
##% fields: To, From, CSeq, Call-ID, Max-Forwards, and Via; all of these header fields are
##% mandatory in all SIP requests.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
##= type=test
##% The branch ID inserted by an element compliant with this specification MUST always begin
##% with the characters "z9hG4bK".
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.8
##= type=test
##% The Contact header field MUST be present and contain exactly one SIP
##% or SIPS URI in any request that can result in the establishment of a
##% dialog.
@case(
    "uac-subscribe-mandatory-headers",
    roles=UAC,
    timeout=15,
    preamble="a SUBSCRIBE from the target ([uac] subscribe)",
    no_control=RUNNER_ANSWERS,
)
def subscribe_mandatory_headers(ctx: Context) -> None:
    """A SUBSCRIBE (it creates a dialog, RFC 6665) has the six header fields, a z9hG4bK branch
    and one Contact."""
    peer = Peer(ctx, "subscribe")
    request, addr = peer.first("SUBSCRIBE")
    peer.answer(request, addr, 489)
    missing = [
        h
        for h in ("To", "From", "CSeq", "Call-ID", "Max-Forwards", "Via")
        if request.get(h) is None
    ]
    ctx.check(not missing, "all six header fields", f"missing {', '.join(missing)}")
    ctx.check(
        (request.branch or "").startswith("z9hG4bK"),
        "branch z9hG4bK...",
        request.branch or "(none)",
        requirement=1,
    )
    contacts = request.get_all("Contact")
    ctx.check(len(contacts) == 1, "one Contact", " | ".join(contacts) or "(none)", requirement=2)
