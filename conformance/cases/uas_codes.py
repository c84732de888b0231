"""How an endpoint (UAS, registrar, redirect server) processes a request and which status
code it answers with: RFC 3261 §8.2 (the order of the checks, header fields, content,
extensions), §8.2.7 (a stateless UAS), §11 (OPTIONS), §21 (the status codes and what each
must carry) and §23.2 (an S/MIME body at a target without S/MIME)."""

from __future__ import annotations

import time

from conformance.cases._uas_support import is_sdp
from conformance.cases.uas import (
    _SDP,
    ENDPOINTS,
    UAS,
    _ask,
    _control,
    _in_dialog,
    _probe,
    _unused_method,
)
from conformance.messages import Outgoing, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.wire import Link

#: load order of the case modules (conformance.discovery)
ORDER = 78  # after the core's first-wave modules (torture is 60)

#: the status codes SIP defines (RFC 3261 §21 and the IANA registry of later RFCs)
SIP_CODES = {100, 180, 181, 182, 183, 199, 200, 202, 204, 300, 301, 302, 305, 380}
SIP_CODES |= set(range(400, 407)) | {407, 408, 410, 412, 413, 414, 415, 416, 417}
SIP_CODES |= {420, 421, 422, 423, 424, 428, 429, 430, 433, 436, 437, 438, 439, 440}
SIP_CODES |= {469, 470} | set(range(480, 495)) | set(range(500, 506))
SIP_CODES |= {513, 555, 580, 600, 603, 604, 606, 607, 608}


def _method_for(ctx: Context) -> str:
    """The request a role's target processes as its final recipient: INVITE for a UAS or
    a redirect server (a call), OPTIONS for a registrar."""
    return "OPTIONS" if ctx.role == "registrar" else "INVITE"


def _send(ctx: Context, link: Link, req: Outgoing) -> Message:
    final, _ = ctx.transaction(link, req, learn=False)
    final = ctx.require_final(final, f"final response to the {req.method}")
    if req.method == "INVITE":
        ctx.finish_invite(link, req, final)
    return final


# --- §8.2: the order of the checks, header fields, content, extensions ---------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.1
##= type=test
##% Once a request is authenticated (or authentication is skipped), the UAS MUST inspect the
##% method of the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2
##= type=test
##% UASs SHOULD process the requests in the order of the steps that follow in this section
##% (that is, starting with authentication, then inspecting the method, the header fields,
##% and so on throughout the remainder of this section).
@case("uas-method-inspected-first", roles=ENDPOINTS, level="MUST")
def method_first(ctx: Context) -> None:
    """A request of an unknown method that also requires an unknown extension gets 501/405
    (the method is inspected before the Require header field)."""
    link = ctx.link()
    _probe(ctx, link)
    req = ctx.request("FROBNICATE", link, extra=[("Require", "x-conformance-unknown")])
    final = _send(ctx, link, req)
    ctx.check(
        not 200 <= (final.status or 0) < 300,
        "the unknown method refused",
        describe(final),
    )
    ctx.check(
        final.status in (405, 501),
        "501 (Not Implemented) or 405: the method before the header fields",
        describe(final),
        requirement=1,
        level="SHOULD",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2
##= type=test
##% A UAS SHOULD ignore any malformed header fields that are not necessary for processing
##% requests.
@case("uas-malformed-unneeded-header", roles=ENDPOINTS, level="SHOULD")
def malformed_unneeded(ctx: Context) -> None:
    """Malformed Date and Expires in an OPTIONS (fields it does not need) are ignored."""
    link = ctx.link()
    _control(ctx, link)
    extra = [("Date", "sometime last week"), ("Expires", "soon"), ("Priority", "???")]
    _, _, final = _ask(ctx, "OPTIONS", link, extra=extra)
    ctx.check(final.status not in (400,), "the OPTIONS processed (no 400)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.1
##= type=test
##% If, on the other hand, the UAS decides to reject the request, it SHOULD generate a
##% response with a 403 (Forbidden) status code and pass it to the server transaction for
##% transmission.
@case("uas-to-foreign-403", roles=UAS, level="SHOULD")
def to_foreign(ctx: Context) -> None:
    """An OPTIONS whose To names someone else is accepted, or refused with 403."""
    link = ctx.link()
    _control(ctx, link)
    _, _, final = _ask(ctx, "OPTIONS", link, to=f"<sip:someone-else-{unique()}@elsewhere.invalid>")
    status = final.status or 0
    ctx.check(status < 300 or status == 403, "2xx, or 403 (Forbidden)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.2
##= type=test
##% If the request has no tag in the To header field, the UAS core MUST check the request
##% against ongoing transactions.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.2
##= type=test
##% If the From tag, Call-ID, and CSeq exactly match those associated with an ongoing
##% transaction, but the request does not match that transaction (based on the matching rules
##% in Section 17.2.3), the UAS core SHOULD generate a 482 (Loop Detected) response and pass
##% it to the server transaction.
@case(
    "uas-merged-invite-482",
    roles=UAS,
    level="SHOULD",
    no_control="the first INVITE, left ringing, is the transaction the copy meets",
)
def merged_invite(ctx: Context) -> None:
    """A copy of a ringing INVITE on another branch (a fork that merged) gets 482, not a call."""
    if not ctx.profile.ringing_user:
        ctx.not_applicable("the profile names no ringing_user (an INVITE that stays pending)")
    link = ctx.link()
    first = ctx.request("INVITE", link, user=ctx.profile.ringing_user, body=_SDP)
    data = bytes(first)
    link.send(data, "INVITE (rings)")
    ctx.ringing.append((link, first))
    ringing = link.expect(
        lambda m: m.is_response and m.branch == first.branch,
        timeout=max(2.0, 8 * ctx.profile.t1),
        retransmit=None if ctx.target.reliable else (lambda: link.send(data, "retransmission")),
        interval=ctx.profile.t1,
    )
    if ringing is None or (ringing.status or 0) >= 200:
        ctx.inconclusive(f"the INVITE to the ringing user got {describe(ringing)}")
    copy = Outgoing("INVITE", first.uri, list(first.headers), first.body)
    copy.set("Via", (first.get("Via") or "").replace(first.branch, first.branch + "m"))
    final, provisional = ctx.transaction(link, copy, learn=False)
    if final is not None and (final.status or 0) >= 200:
        ctx.finish_invite(link, copy, final)
    rings = [p for p in provisional if (p.status or 0) > 100]
    if final is None and rings:
        # the copy rings as a call of its own: it was never checked against the first
        ctx.fail("482 (Loop Detected)", describe(rings[-1]), requirement=1)
    final = ctx.require_final(final, "final response to the merged copy")
    ctx.check(final.status == 482, "482 (Loop Detected)", describe(final), requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.3
##= type=test
##% If the request contained content with languages not understood by the UAS, the response
##% MUST contain an Accept-Language header field indicating the languages understood by the
##% UAS.
@case("uas-415-accept-language", roles=UAS, level="MUST")
def unknown_language(ctx: Context) -> None:
    """A body in a language the UAS does not know: a 415 to it lists Accept-Language."""
    link = ctx.link()
    _control(ctx, link, "INVITE")
    extra = [("Content-Language", "x-conformance"), ("Content-Disposition", "session")]
    _, _, final = _ask(ctx, "INVITE", link, body=_SDP, extra=extra)
    if 200 <= (final.status or 0) < 300:
        ctx.not_applicable("the target processed the body whatever its Content-Language")
    if final.status != 415:
        ctx.inconclusive(f"the INVITE got {describe(final)}, not 415")
    ctx.check(final.get("Accept-Language") is not None, "an Accept-Language header field", "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.4
##= type=test
##% A UAS that wishes to apply some extension when generating the response MUST NOT do so
##% unless support for that extension is indicated in the Supported header field in the
##% request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.4
##= type=test
##% Of course, the server MUST NOT apply extensions not listed in the Supported header field
##% in the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.4
##= type=test
##% If the desired extension is not supported, the server SHOULD rely only on baseline SIP
##% and any other extensions supported by the client.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.4
##= type=test
##% This behavior is NOT RECOMMENDED, as it will generally break interoperability.
@case("uas-no-extension-unsupported", roles=UAS, level="MUST")
def no_extension(ctx: Context) -> None:
    """An INVITE without Supported gets responses that require no extension (no Require,
    no RSeq), and a call rather than a 421."""
    link = ctx.link()
    _control(ctx, link, "INVITE")
    req = ctx.request("INVITE", link, body=_SDP)
    final, provisional = ctx.transaction(link, req)
    final = ctx.require_final(final, "final response to the INVITE")
    ctx.finish_invite(link, req, final)
    ctx.check(
        final.status != 421,
        "the call processed with baseline SIP (no 421)",
        describe(final),
        requirement=2,
        level="SHOULD",
    )
    for msg in [*provisional, final]:
        if msg.status in (420, 421):
            continue
        required = msg.option_tags("Require")
        ctx.check(not required, "no Require", f"Require: {', '.join(required)} in {describe(msg)}")
        ctx.check(msg.get("RSeq") is None, "no RSeq (100rel not supported)", describe(msg), 1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.4
##= type=test
##% Any extensions applied to a non-421 response MUST be listed in a Require header field
##% included in the response.
@case(
    "uas-extension-in-require",
    roles=UAS,
    level="MUST",
    no_control="judged on every response to the INVITE, whatever its status",
)
def extension_in_require(ctx: Context) -> None:
    """An INVITE supporting 100rel: a response sent reliably (RSeq) requires 100rel."""
    link = ctx.link()
    req = ctx.request("INVITE", link, body=_SDP, extra=[("Supported", "100rel")])
    data = bytes(req)
    link.send(data, "INVITE")
    responses: list[Message] = []
    acked: set[str] = set()
    final = None
    end = time.monotonic() + max(3.0, 12 * ctx.profile.t1)
    while final is None and (left := end - time.monotonic()) > 0:
        msg = link.expect(
            lambda m: m.is_response and m.branch == req.branch,
            timeout=left,
            retransmit=None if responses or ctx.target.reliable else (lambda: link.send(data)),
            interval=ctx.profile.t1,
        )
        if msg is None:
            break
        responses.append(msg)
        if (msg.status or 0) >= 200:
            final = msg
            break
        rseq = (msg.get("RSeq") or "").strip()
        if rseq and msg.to_tag and rseq not in acked:
            # RFC 3262 §7.2: the reliable provisional is acknowledged with a PRACK
            acked.add(rseq)
            prack = _in_dialog(ctx, req, msg, "PRACK", req.cseq_number + len(acked))
            prack.add("RAck", f"{rseq} {req.cseq_number} INVITE")
            ctx.transaction(link, prack, learn=False)
    if final is None:
        ctx.ringing.append((link, req))
        ctx.inconclusive("the INVITE got no final response")
    assert final is not None
    ctx.finish_invite(link, req, final)
    for msg in responses:
        if msg.status == 421 or msg.get("RSeq") is None:
            continue
        required = msg.option_tags("Require")
        ctx.check(
            "100rel" in required,
            f"Require: 100rel in the reliable {msg.status}",
            f"Require: {', '.join(required) or '(none)'}",
        )


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.4
##= type=test
##% The needed extension(s) MUST be included in a Require header field in the response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.16
##= type=test
##% Responses with this status code MUST contain a Require header field listing the required
##% extensions.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.16
##= type=test
##% A UAS SHOULD NOT use this response unless it truly cannot provide any useful service to
##% the client.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.16
##= type=test
##% Instead, if a desirable extension is not listed in the Supported header field, servers
##% SHOULD process the request using baseline SIP capabilities and any extensions supported
##% by the client.
@case("uas-421-require", roles=ENDPOINTS, level="MUST")
def extension_required(ctx: Context) -> None:
    """A request without Supported is processed with baseline SIP; a 421 to it names the
    extension in Require."""
    link = ctx.link()
    _probe(ctx, link, also=lambda s: s > 0)
    method = _method_for(ctx)
    body = _SDP if method == "INVITE" else b""
    final = _send(ctx, link, ctx.request(method, link, body=body))
    if final.status == 421:
        # a 421 must name what it needs; and it is the last resort (§21.4.16)
        ctx.check(bool(final.option_tags("Require")), "Require listing the extension", "none", 1)
        ctx.fail(f"the {method} processed with baseline SIP", describe(final), 2, "SHOULD")


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.1
##= type=test
##% Rather, UASs SHOULD generate a final response to a non-INVITE request as soon as possible.
@case("uas-final-asap", roles=UAS, level="SHOULD", transports=("udp",))
def final_asap(ctx: Context) -> None:
    """The final response to an OPTIONS comes before our first retransmission was due."""
    link = ctx.link()
    _control(ctx, link)
    req = ctx.request("OPTIONS", link)
    started = time.monotonic()
    final, _ = ctx.transaction(link, req)
    took = time.monotonic() - started
    ctx.require_final(final, "final response to the OPTIONS")
    ctx.check(
        took < max(0.5, ctx.profile.t1),
        f"the final response within T1 ({ctx.profile.t1:g} s)",
        f"after {took:.2f} s",
    )


# --- §8.2.7 a stateless UAS ------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.7
##= type=test
##% A stateless UAS MUST NOT send provisional (1xx) responses.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.7
##= type=test
##% A stateless UAS MUST NOT retransmit responses.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.7
##= type=test
##% A stateless UAS MUST ignore ACK requests.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.7
##= type=test
##% A stateless UAS MUST ignore CANCEL requests.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.7
##= type=test
##% To header tags MUST be generated for responses in a stateless manner - in a manner that
##% will generate the same tag for the same request consistently.
@case(
    "uas-stateless",
    roles=UAS,
    level="MUST",
    transports=("udp",),
    no_control="the profile says the target is stateless; every answer is judged",
)
def stateless(ctx: Context) -> None:
    """A stateless UAS: no 1xx, no retransmitted response, ACK and CANCEL ignored, the same
    To tag for the same request."""
    if not ctx.profile.stateless:
        ctx.not_applicable("the profile does not say the target is a stateless UAS (§8.2.7)")
    link = ctx.link()
    req = ctx.request("INVITE", link, body=_SDP)
    data = bytes(req)
    link.send(data, "INVITE")
    first = link.expect(lambda m: m.is_response and m.branch == req.branch, timeout=2.0)
    ctx.require_final(first, "response to the INVITE")
    assert first is not None
    ctx.check((first.status or 0) >= 200, "no provisional response", describe(first))
    again = link.collect(
        lambda m: m.is_response and m.branch == req.branch, max(1.0, 3 * ctx.profile.t1)
    )
    ctx.check(not again, "no retransmitted response", f"{len(again)} copies", requirement=1)
    link.send(data, "the same INVITE again")
    second = link.expect(lambda m: m.is_response and m.branch == req.branch, timeout=2.0)
    second = ctx.require_final(second, "response to the INVITE sent again")
    ctx.check(second.to_tag == first.to_tag, f"To tag {first.to_tag}", str(second.to_tag), 4)
    ack = Outgoing("ACK", req.uri)
    for name in ("Via", "Max-Forwards", "From", "Call-ID"):
        ack.add(name, req.get(name) or "")
    ack.add("To", first.get("To") or "")
    ack.add("CSeq", f"{req.cseq_number} ACK")
    link.send(bytes(ack), "ACK")
    cancel = Outgoing("CANCEL", req.uri)
    for name in ("Via", "Max-Forwards", "From", "To", "Call-ID"):
        cancel.add(name, req.get(name) or "")
    cancel.add("CSeq", f"{req.cseq_number} CANCEL")
    link.send(bytes(cancel), "CANCEL")
    answers = link.collect(lambda m: m.is_response and m.cseq[1] in ("ACK", "CANCEL"), 1.0)
    ctx.check(not [a for a in answers if a.cseq[1] == "ACK"], "no response to ACK", "one", 2)
    ctx.check(not [a for a in answers if a.cseq[1] == "CANCEL"], "no response to CANCEL", "one", 3)
    if 200 <= (first.status or 0) < 300:
        bye = Outgoing("BYE", req.uri, list(ack.headers))
        bye.set("CSeq", f"{req.cseq_number + 1} BYE")
        bye.set("Via", (req.get("Via") or "").replace(req.branch, req.branch + "b"))
        ctx.transaction(link, bye, learn=False)


# --- §11 OPTIONS -----------------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-11
##= type=test
##% All UAs MUST support the OPTIONS method.
@case("uas-options-supported", roles=UAS, level="MUST", no_control="OPTIONS is the probe")
def options_supported(ctx: Context) -> None:
    """OPTIONS is not refused as a method the UA does not support (no 405/501)."""
    if (ctx.profile.probe or "OPTIONS").upper() != "OPTIONS":
        ctx.not_applicable("the profile's probe is not OPTIONS: the target is no full UA")
    _, _, final = _ask(ctx, "OPTIONS")
    ctx.check(final.status not in (405, 501), "OPTIONS supported", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-11.2
##= type=test
##% If the types include one that can describe media capabilities, the UAS SHOULD include a
##% body in the response for that purpose.
@case(
    "uas-options-sdp",
    roles=UAS,
    level="SHOULD",
    no_control="judged on a 200 only: any other answer is inconclusive",
)
def options_sdp(ctx: Context) -> None:
    """An OPTIONS accepting application/sdp gets a 200 describing the media capabilities."""
    _, _, final = _ask(ctx, "OPTIONS", extra=[("Accept", "application/sdp")])
    if final.status != 200:
        ctx.inconclusive(f"OPTIONS got {describe(final)}, not 200")
    ctx.check(is_sdp(final), "an SDP body in the 200", final.get("Content-Type") or "no body")


# --- §21 status codes -----------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-21
##= type=test
##% Other HTTP/1.1 response codes SHOULD NOT be used.
@case(
    "uas-sip-status-codes",
    roles=ENDPOINTS,
    level="SHOULD",
    no_control="every response is judged, whatever the request got",
)
def sip_status_codes(ctx: Context) -> None:
    """Every status code the target answers a few requests with is one SIP defines."""
    link = ctx.link()
    requests = [
        ctx.request("OPTIONS", link),
        ctx.request("FROBNICATE", link),
        ctx.request("OPTIONS", link, extra=[("Require", "x-conformance-unknown")]),
        ctx.request("OPTIONS", link, uri="x-conformance:opaque"),
        ctx.request("OPTIONS", link, body=b"<x/>", content_type="application/x-conformance"),
    ]
    seen = []
    for req in requests:
        final, provisional = ctx.transaction(link, req, learn=False)
        seen += [m.status or 0 for m in [*provisional, *([final] if final else [])]]
    if not seen:
        ctx.inconclusive("no response at all")
    odd = sorted({s for s in seen if s not in SIP_CODES})
    ctx.check(not odd, "SIP status codes only", ", ".join(map(str, odd)))


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.2
##= type=test
##% A 300 (Multiple Choices), 301 (Moved Permanently) or 302 (Moved Temporarily) response
##% SHOULD contain a Contact header field containing one or more URIs of new addresses to be
##% tried.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.3.1
##= type=test
##% The choices SHOULD also be listed as Contact fields (Section 20.10).
@case(
    "uas-3xx-contact",
    roles=("uas", "redirect"),
    level="SHOULD",
    no_control="judged on a 3xx only: any other answer is not applicable",
)
def redirect_contact(ctx: Context) -> None:
    """A 300/301/302 to an INVITE lists where to try in Contact."""
    link = ctx.link()
    final = _send(ctx, link, ctx.request("INVITE", link, body=_SDP))
    if final.status not in (300, 301, 302):
        ctx.not_applicable(f"the INVITE got {describe(final)}, no 300/301/302")
    contacts = final.get_all("Contact")
    ctx.check(bool(contacts), "Contact listing the addresses", "none")
    if final.status == 300:
        ctx.check(bool(contacts), "the choices as Contact fields", "none", requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.1
##= type=test
##% The Reason-Phrase SHOULD identify the syntax problem in more detail, for example,
##% "Missing Call-ID header field".
@case(
    "uas-400-reason",
    roles=ENDPOINTS,
    level="SHOULD",
    no_control="judged on a 400 only: any other answer is not applicable",
)
def bad_request_reason(ctx: Context) -> None:
    """A 400 to an OPTIONS whose CSeq names another method says what is wrong."""
    link = ctx.link()
    req = ctx.request("OPTIONS", link)
    req.set("CSeq", f"{req.cseq_number} INFO")
    final, _ = ctx.transaction(link, req, learn=False)
    final = ctx.require_final(final, "response to the OPTIONS with a CSeq of INFO")
    if final.status != 400:
        ctx.not_applicable(f"the target answered {describe(final)}, not 400")
    ctx.check(
        final.reason.strip().lower() not in ("bad request", ""),
        "a reason phrase naming the defect",
        f'"{final.reason}"',
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.6
##= type=test
##% The response MUST include an Allow header field containing a list of valid methods for the
##% indicated address.
@case("uas-405-allow-any", roles=ENDPOINTS, level="MUST")
def method_not_allowed_allow(ctx: Context) -> None:
    """A 405 from any endpoint carries an Allow header field."""
    method = _unused_method(ctx, ("PUBLISH", "SUBSCRIBE", "MESSAGE", "REFER", "UPDATE", "INFO"))
    link = ctx.link()
    _probe(ctx, link)
    final = _send(ctx, link, ctx.request(method, link))
    if final.status != 405:
        ctx.not_applicable(f"{method} got {describe(final)}, not 405")
    ctx.check(final.get("Allow") is not None, "an Allow header field", "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.10
##= type=test
##% If the server does not know, or has no facility to determine, whether or not the
##% condition is permanent, the status code 404 (Not Found) SHOULD be used instead.
@case("uas-unknown-user-404", roles=ENDPOINTS, level="SHOULD")
def unknown_user(ctx: Context) -> None:
    """A request for a user nobody ever was gets 404 rather than 410 (Gone)."""
    link = ctx.link()
    _probe(ctx, link)
    method = _method_for(ctx)
    body = _SDP if method == "INVITE" else b""
    final = _send(ctx, link, ctx.request(method, link, user=f"nobody-{unique()}", body=body))
    if final.status not in (404, 410):
        ctx.not_applicable(f"the target answered {describe(final)} for an unknown user")
    ctx.check(final.status == 404, "404 (Not Found)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.13
##= type=test
##% The server MUST return a list of acceptable formats using the Accept, Accept-Encoding, or
##% Accept-Language header field, depending on the specific problem with the content.
@case("uas-415-lists-formats", roles=ENDPOINTS, level="MUST")
def unsupported_media_lists(ctx: Context) -> None:
    """A 415 to an OPTIONS with a body of an unknown type lists the acceptable formats."""
    link = ctx.link()
    _probe(ctx, link)
    req = ctx.request(
        "OPTIONS", link, body=b"<nothing/>\r\n", content_type="application/x-conformance"
    )
    req.add("Content-Disposition", "render;handling=required")
    final = _send(ctx, link, req)
    if final.status != 415:
        ctx.not_applicable(f"the OPTIONS got {describe(final)}, not 415")
    listed = [h for h in ("Accept", "Accept-Encoding", "Accept-Language") if final.get(h)]
    ctx.check(bool(listed), "Accept (or Accept-Encoding/-Language)", "none of them")


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.18
##= type=test
##% The reason phrase SHOULD indicate a more precise cause as to why the callee is
##% unavailable.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.22
##= type=test
##% Additional information SHOULD be provided in the reason phrase.
@case(
    "uas-480-485-reason",
    roles=ENDPOINTS,
    level="SHOULD",
    no_control="judged on a 480 or 485 only: any other answer is not applicable",
)
def unavailable_reason(ctx: Context) -> None:
    """A 480 or 485 to a call to an unknown user says more in its reason phrase."""
    link = ctx.link()
    method = _method_for(ctx)
    body = _SDP if method == "INVITE" else b""
    final = _send(ctx, link, ctx.request(method, link, user=f"away-{unique()}", body=body))
    defaults = {480: "temporarily unavailable", 485: "ambiguous"}
    if final.status not in defaults:
        ctx.not_applicable(f"the target answered {describe(final)}, not 480 or 485")
    assert final.status is not None
    ctx.check(
        final.reason.strip().lower() != defaults[final.status],
        "a more precise reason phrase",
        f'"{final.reason}"',
        requirement=0 if final.status == 480 else 1,
    )


# --- §23.2 S/MIME at a target without it ------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-23.2
##= type=test
##% Note that a user agent that receives a request containing an S/MIME body that is not
##% optional (with a Content-Disposition header "handling" parameter of "required") MUST
##% reject the request with a 415 Unsupported Media Type response if the MIME type is not
##% understood.
##= https://www.rfc-editor.org/rfc/rfc3261#section-23.2
##= type=test
##% If a UA receives an S/MIME body that has been encrypted with a public key unknown to the
##% recipient, it MUST reject the request with a 493 (Undecipherable) response.
@case("uas-smime-unsupported", roles=UAS, level="MUST")
def smime(ctx: Context) -> None:
    """An INVITE with a required S/MIME body: 415 from a UA without S/MIME, 493 from one
    that has it (the body is encrypted with a key nobody knows)."""
    link = ctx.link()
    options = _control(ctx, link)
    accepts = ",".join(options.get_all("Accept")).lower()
    smime_ua = "application/pkcs7-mime" in accepts
    req = ctx.request(
        "INVITE",
        link,
        body=bytes(range(1, 200)),
        content_type='application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
    )
    req.add("Content-Disposition", 'session;handling=required;filename="smime.p7m"')
    final = _send(ctx, link, req)
    if smime_ua:
        ctx.check(final.status == 493, "493 (Undecipherable)", describe(final), requirement=1)
    else:
        ctx.check(final.status == 415, "415 (Unsupported Media Type)", describe(final))
