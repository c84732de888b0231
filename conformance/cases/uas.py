"""UAS core on the wire: RFC 3261 §8.2 (request processing), §11 (OPTIONS), §12 (dialogs),
§8.2.6 (response construction), §18.2 and RFC 3581 (where responses go)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from conformance.messages import Outgoing, ack_for, make_request, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message, param
from conformance.wire import Link

#: load order of the case modules (conformance.discovery)
# first: these cases learn which methods the target leaves unanswered
ORDER = 10
#: ... so they run one at a time, before any other (runner --jobs, `Case.serial`)
SERIAL = "alone"

UAS = ("uas",)
ENDPOINTS = ("uas", "registrar", "redirect")


def _ask(
    ctx: Context, method: str = "OPTIONS", link: Link | None = None, **kw: Any
) -> tuple[Link, Outgoing, Message]:
    """Send one request; the link, the request and its final response (inconclusive if none)."""
    link = link or ctx.link()
    req = ctx.request(method, link, **kw)
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final, f"final response to {method}")
    if method == "INVITE":
        ctx.finish_invite(link, req, final)
    return link, req, final


def _unused_method(ctx: Context, candidates: tuple[str, ...]) -> str:
    supported = {m.upper() for m in ctx.profile.methods}
    for method in candidates:
        if method not in supported:
            return method
    ctx.not_applicable("the profile lists every candidate method as supported")
    return ""


def _call(ctx: Context, link: Link) -> tuple[Outgoing, Message]:
    """The preamble of the in-dialog cases: an INVITE answered with 2xx and ACKed, a
    confirmed dialog (inconclusive otherwise); the postamble hangs it up."""
    with ctx.preamble(DIALOG):
        req = ctx.request("INVITE", link, body=_SDP)
        final, _ = ctx.transaction(link, req)
        final = ctx.require_final(final, "final response to INVITE")
        if not 200 <= (final.status or 0) < 300:
            ctx.finish_invite(link, req, final)
            ctx.inconclusive(f"the INVITE was not accepted ({describe(final)}); no dialog to test")
        link.send(bytes(ack_for(req, final, ctx.target)), "ACK")
    return req, final


def _in_dialog(ctx: Context, req: Outgoing, final: Message, method: str, cseq: int) -> Outgoing:
    """A request within the dialog ``req``/``final`` set up (§12.2.1.1)."""
    out = ack_for(req, final, ctx.target)
    out.method = method
    out.set("Via", re.sub(r"branch=[^;,\s]+", f"branch={unique('z9hG4bK')}", out.get("Via") or ""))
    out.set("CSeq", f"{cseq} {method}")
    return out


def _bye(ctx: Context, link: Link, req: Outgoing, final: Message) -> None:
    """Hang up: a BYE with a CSeq above every one the runner used in the call (§12.2.1.1)."""
    ctx.hang_up(ctx.call(link, req, final))


def _control(
    ctx: Context,
    link: Link,
    method: str = "OPTIONS",
    also: Callable[[int], bool] | None = None,
    **kw: Any,
) -> Message:
    """The control: a plain request of ``method`` to the target's user must get a 2xx (or a
    status ``also`` accepts), else the target turns it down for some other reason and the
    case is inconclusive."""
    body = _SDP if method == "INVITE" else b""
    return ctx.control(link, ctx.request(method, link, body=body, **kw), also=also)


def _probe(ctx: Context, link: Link, also: Callable[[int], bool] | None = None) -> Message:
    """A control where the method does not matter: the profile's probe (OPTIONS, or a whole
    call for a target that answers nothing but INVITE) to the target's user must succeed."""
    return _control(ctx, link, (ctx.profile.probe or "OPTIONS").upper(), also)


def _answered(status: int) -> bool:
    """For controls of cases about where responses go or silence: any response will do."""
    return status > 0


#: the preamble of the in-dialog cases (`_call`)
DIALOG = "a confirmed dialog (INVITE, 2xx, ACK)"
#: why the response-construction cases need no control
ANY_RESPONSE = "§8.2.6 holds for every response, whatever its status: nothing confounds it"


_SDP = (
    b"v=0\r\no=tester 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


# --- §11 OPTIONS ----------------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-11.2
##= type=test
##% The response code chosen MUST be the same that would have been chosen had the request
##% been an INVITE.
@case(
    "uas-options-final",
    roles=UAS,
    level="MUST",
    no_control="any final response passes: the OPTIONS is its own control",
)
def options_final(ctx: Context) -> None:
    """OPTIONS gets a final response (200 when the UAS would accept a call)."""
    _, _, final = _ask(ctx)
    ctx.check(200 <= (final.status or 0) < 700, "a final response", describe(final))
    ctx.should(final.status == 200, "200 (OK) from a UAS ready to accept calls", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-11.2
##= type=test
##% Allow, Accept, Accept-Encoding, Accept-Language, and Supported header fields SHOULD be
##% present in a 200 (OK) response to an OPTIONS request.
@case(
    "uas-options-allow",
    roles=UAS,
    level="SHOULD",
    no_control="judged on a 200 only: any other answer is inconclusive",
)
def options_allow(ctx: Context) -> None:
    """A 200 to OPTIONS carries Allow, Accept and Supported."""
    _, _, final = _ask(ctx)
    if final.status != 200:
        ctx.inconclusive(f"OPTIONS got {describe(final)}, not 200")
    missing = [h for h in ("Allow", "Accept", "Supported") if final.get(h) is None]
    ctx.check(not missing, "Allow, Accept and Supported present", f"missing {', '.join(missing)}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-11.2
##= type=test
##% An OPTIONS request received within a dialog generates a 200 (OK) response that is
##% identical to one constructed outside a dialog and does not have any impact on the dialog.
@case(
    "uas-options-in-dialog",
    roles=UAS,
    level="MUST",
    preamble=DIALOG,
    no_control="the in-dialog OPTIONS is the exchange under test",
)
def options_in_dialog(ctx: Context) -> None:
    """OPTIONS inside a dialog is answered like one outside it."""
    link = ctx.link()
    req, final = _call(ctx, link)
    opt = _in_dialog(ctx, req, final, "OPTIONS", req.cseq_number + 1)
    answer, _ = ctx.transaction(link, opt)
    answer = ctx.require_final(answer, "response to in-dialog OPTIONS")
    _bye(ctx, link, req, final)
    ctx.check(answer.status == 200, "200 (OK)", describe(answer))


# --- §8.2.1-8.2.3 request inspection ----------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.1
##= type=test
##% If the UAS recognizes but does not support the method of a request, it MUST generate a
##% 405 (Method Not Allowed) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.1
##= type=test
##% The UAS MUST also add an Allow header field to the 405 (Method Not Allowed) response.
@case("uas-405-allow", roles=UAS, level="MUST")
def method_not_allowed(ctx: Context) -> None:
    """A known but unsupported method gets 405 with Allow."""
    method = _unused_method(ctx, ("PUBLISH", "SUBSCRIBE", "MESSAGE", "REFER", "UPDATE"))
    link = ctx.link()
    _control(ctx, link)
    _, _, final = _ask(ctx, method, link)
    if 200 <= (final.status or 0) < 300:
        ctx.not_applicable(f"the target supports {method}")
    ctx.check(final.status in (405, 501), "405 (Method Not Allowed)", describe(final))
    ctx.should(final.status == 405, "405 for a method SIP defines", describe(final))
    # §8.2.1 asks for Allow in a 405 only (a 501 stands for a method not recognized at all)
    if final.status == 405:
        ctx.check(final.get("Allow") is not None, "an Allow header field", "none", requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.1
##= type=test
##% The Allow header field MUST list the set of methods supported by the UAS generating the
##% message.
@case("uas-405-allow-lists-invite", roles=UAS, level="MUST")
def allow_lists_supported(ctx: Context) -> None:
    """The Allow of a 405 lists methods the UAS does support (INVITE if it takes calls)."""
    method = _unused_method(ctx, ("PUBLISH", "SUBSCRIBE", "MESSAGE", "REFER", "UPDATE"))
    link = ctx.link()
    _control(ctx, link)
    _, _, final = _ask(ctx, method, link)
    if final.status != 405:
        ctx.inconclusive(f"{method} got {describe(final)}, not 405")
    allowed = {m.strip().upper() for m in final.get_all("Allow")}
    ctx.check(method not in allowed, f"Allow without {method}", f"Allow: {', '.join(allowed)}")
    ctx.check(
        "ACK" in allowed or "OPTIONS" in allowed or "INVITE" in allowed,
        "the supported methods listed",
        f"Allow: {', '.join(allowed)}",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.5.2
##= type=test
##% This is the appropriate response when a UAS does not recognize the request method and is
##% not capable of supporting it for any user.
@case("uas-501-unknown-method", roles=UAS, level="SHOULD")
def unknown_method(ctx: Context) -> None:
    """A method nobody knows gets 501 (405 tolerated)."""
    link = ctx.link()
    _control(ctx, link)
    _, _, final = _ask(ctx, "FROBNICATE", link)
    ctx.check(final.status in (501, 405), "501 (Not Implemented)", describe(final))
    ctx.should(final.status == 501, "501 rather than 405", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.3
##= type=test
##% If a UAS does not understand an option-tag listed in a Require header field, it MUST
##% respond by generating a response with status code 420 (Bad Extension).
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.3
##= type=test
##% The UAS MUST add an Unsupported header field, and list in it those options it does not
##% understand amongst those in the Require header field of the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.32
##= type=test
##% Although an optional header field, the Require MUST NOT be ignored if it is present.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.15
##= type=test
##% The server MUST include a list of the unsupported extensions in an Unsupported header
##% field in the response.
@case("uas-420-options", roles=ENDPOINTS, level="MUST")
def bad_extension_options(ctx: Context) -> None:
    """OPTIONS requiring an unknown extension gets 420 listing it in Unsupported."""
    if ctx.role == "redirect":
        ctx.not_applicable("a redirect server ignores unknown Require tags (RFC 3261 §8.3)")
    tag = "x-conformance-unknown"
    link = ctx.link()
    _control(ctx, link)
    _, _, final = _ask(ctx, "OPTIONS", link, extra=[("Require", tag)])
    ctx.check(final.status == 420, "420 (Bad Extension)", describe(final))
    tags = final.option_tags("Unsupported")
    ctx.check(
        tag in tags,
        f"Unsupported: {tag}",
        f"Unsupported: {', '.join(tags) or '(none)'}",
        requirement=1,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.3
##= type=test
##% If a UAS does not understand an option-tag listed in a Require header field, it MUST
##% respond by generating a response with status code 420 (Bad Extension).
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.3
##= type=test
##% The UAS MUST add an Unsupported header field, and list in it those options it does not
##% understand amongst those in the Require header field of the request.
@case("uas-420-invite", roles=UAS, level="MUST")
def bad_extension_invite(ctx: Context) -> None:
    """INVITE requiring an unknown extension gets 420; known tags are not listed."""
    known = [t for t in ctx.profile.extensions if t][:1]
    tags_sent = ["x-conformance-a", "x-conformance-b", *known]
    link = ctx.link()
    _control(ctx, link, "INVITE")
    _, _, final = _ask(ctx, "INVITE", link, body=_SDP, extra=[("Require", ", ".join(tags_sent))])
    ctx.check(final.status == 420, "420 (Bad Extension)", describe(final))
    tags = final.option_tags("Unsupported")
    ctx.check(
        {"x-conformance-a", "x-conformance-b"} <= set(tags),
        "both unknown tags in Unsupported",
        f"Unsupported: {', '.join(tags) or '(none)'}",
        requirement=1,
    )
    ctx.check(
        not set(known) & set(tags),
        "supported tags not listed",
        f"Unsupported: {', '.join(tags)}",
        requirement=1,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.3
##= type=test
##% These header fields MUST be ignored if they are present in these requests.
@case(
    "uas-require-ignored-in-cancel",
    roles=UAS,
    level="MUST",
    no_control="only a 420 fails, and only the Require can cause one",
)
def require_ignored_in_cancel(ctx: Context) -> None:
    """Require in a CANCEL is ignored: no 420 (481 or 200 are fine)."""
    link = ctx.link()
    cancel = ctx.request("CANCEL", link, extra=[("Require", "x-conformance-unknown")])
    final, _ = ctx.transaction(link, cancel)
    final = ctx.require_final(final, "response to CANCEL")
    ctx.check(final.status != 420, "Require ignored (no 420)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.3
##= type=test
##% If there are any bodies whose type (indicated by the Content-Type), language (indicated
##% by the Content-Language) or encoding (indicated by the Content-Encoding) are not
##% understood, and that body part is not optional (as indicated by the Content-Disposition
##% header field), the UAS MUST reject the request with a 415 (Unsupported Media Type)
##% response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.3
##= type=test
##% The response MUST contain an Accept header field listing the types of all bodies it
##% understands, in the event the request contained bodies of types not supported by the UAS.
@case("uas-415-accept", roles=UAS, level="MUST")
def unsupported_media(ctx: Context) -> None:
    """An INVITE with a body of unknown type gets 415 with Accept."""
    link = ctx.link()
    _control(ctx, link, "INVITE")
    _, _, final = _ask(
        ctx,
        "INVITE",
        link,
        body=b"<nothing/>\r\n",
        content_type="application/x-conformance-unknown",
    )
    ctx.check(final.status == 415, "415 (Unsupported Media Type)", describe(final))
    ctx.check(final.get("Accept") is not None, "an Accept header field", "none", requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.3
##= type=test
##% If the request contained content encodings not understood by the UAS, the response MUST
##% contain an Accept-Encoding header field listing the encodings understood by the UAS.
@case("uas-415-accept-encoding", roles=UAS, level="MUST")
def unsupported_encoding(ctx: Context) -> None:
    """An INVITE body in an unknown Content-Encoding gets 415 with Accept-Encoding."""
    link = ctx.link()
    _control(ctx, link, "INVITE")
    _, _, final = _ask(
        ctx, "INVITE", link, body=_SDP, extra=[("Content-Encoding", "x-conformance")]
    )
    if 200 <= (final.status or 0) < 300:
        ctx.fail("415 (Unsupported Media Type)", describe(final))
    ctx.check(final.status == 415, "415 (Unsupported Media Type)", describe(final))
    ctx.check(final.get("Accept-Encoding") is not None, "an Accept-Encoding header field", "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.1
##= type=test
##% If the Request-URI uses a scheme not supported by the UAS, it SHOULD reject the request
##% with a 416 (Unsupported URI Scheme) response.
@case("uas-416-scheme", roles=UAS, level="SHOULD")
def unsupported_scheme(ctx: Context) -> None:
    """A Request-URI with an unknown scheme gets 416."""
    link = ctx.link()
    _control(ctx, link)
    req = ctx.request("OPTIONS", link, uri="x-conformance:opaque-target")
    final, _ = ctx.transaction(link, req, learn=False)
    final = ctx.require_final(final)
    ctx.check(final.status == 416, "416 (Unsupported URI Scheme)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.1
##= type=test
##% However, it is RECOMMENDED that a UAS accept requests even if they do not recognize the
##% URI scheme (for example, a tel: URI) in the To header field, or if the To header field
##% does not address a known or current user of this UAS.
@case("uas-to-tel-accepted", roles=UAS, level="SHOULD")
def to_tel_accepted(ctx: Context) -> None:
    """A tel: URI in To does not make the UAS reject the request."""
    link = ctx.link()
    _control(ctx, link)
    _, _, final = _ask(ctx, "OPTIONS", link, to="<tel:+15555550100>")
    ctx.check(final.status not in (400, 403, 416), "the request accepted", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.2
##= type=test
##% If the From tag, Call-ID, and CSeq exactly match those associated with an ongoing
##% transaction, but the request does not match that transaction (based on the matching rules
##% in Section 17.2.3), the UAS core SHOULD generate a 482 (Loop Detected) response and pass
##% it to the server transaction.
@case("uas-482-merged", roles=UAS, level="SHOULD")
def merged_request(ctx: Context) -> None:
    """The same request arriving on a second branch gets 482."""
    if ctx.target.reliable:
        ctx.not_applicable(
            "over TCP or TLS the first OPTIONS transaction ends with its final response"
            " (Timer J is zero for reliable transports, RFC 3261 §17.2.2): no ongoing"
            " transaction is left for a second copy to merge with"
        )
    link = ctx.link()
    first = ctx.request("OPTIONS", link)
    # the control: the first copy, alone, is processed (a 404 to it would 404 the second)
    ctx.control(link, first, what="the control OPTIONS (the first copy)")
    second = Outgoing(first.method, first.uri, list(first.headers))
    second.set(
        "Via", re.sub(r"branch=[^;,\s]+", f"branch={unique('z9hG4bK')}", first.get("Via") or "")
    )
    merged, _ = ctx.transaction(link, second)
    merged = ctx.require_final(merged, "response to the merged copy")
    ctx.check(merged.status == 482, "482 (Loop Detected)", describe(merged))


# --- §8.2.6 response construction -----------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.2
##= type=test
##% However, if the To header field in the request did not contain a tag, the URI in the To
##% header field in the response MUST equal the URI in the To header field; additionally, the
##% UAS MUST add a tag to the To header field in the response (with the exception of the 100
##% (Trying) response, in which a tag MAY be present).
@case("uas-to-tag-added", roles=ENDPOINTS, level="MUST", no_control=ANY_RESPONSE)
def to_tag_added(ctx: Context) -> None:
    """A final response to a request without To tag adds one."""
    _, _, final = _ask(ctx)
    ctx.check(bool(final.to_tag), "a tag in To", final.get("To") or "(no To)")


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.2
##= type=test
##% However, if the To header field in the request did not contain a tag, the URI in the To
##% header field in the response MUST equal the URI in the To header field; additionally, the
##% UAS MUST add a tag to the To header field in the response (with the exception of the 100
##% (Trying) response, in which a tag MAY be present).
@case("uas-to-uri-echo", roles=ENDPOINTS, level="MUST", no_control=ANY_RESPONSE)
def to_uri_echo(ctx: Context) -> None:
    """The To URI of the response equals the request's."""
    _, req, final = _ask(ctx)
    sent = (req.get("To") or "").split("<", 1)[-1].split(">", 1)[0]
    got = (final.get("To") or "").split("<", 1)[-1].split(">", 1)[0]
    ctx.check(sent.lower() == got.lower(), f"To URI {sent}", f"To URI {got}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.2
##= type=test
##% If a request contained a To tag in the request, the To header field in the response MUST
##% equal that of the request.
@case("uas-to-tag-kept", roles=UAS, level="MUST", preamble=DIALOG, no_control=ANY_RESPONSE)
def to_tag_kept(ctx: Context) -> None:
    """A response to a request with a To tag keeps that tag."""
    link = ctx.link()
    req, final = _call(ctx, link)
    opt = _in_dialog(ctx, req, final, "OPTIONS", req.cseq_number + 1)
    answer, _ = ctx.transaction(link, opt)
    answer = ctx.require_final(answer, "response to in-dialog OPTIONS")
    _bye(ctx, link, req, final)
    ctx.check(answer.to_tag == final.to_tag, f"To tag {final.to_tag}", f"To tag {answer.to_tag}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.2
##= type=test
##% The same tag MUST be used for all responses to that request, both final and provisional
##% (again excepting the 100 (Trying)).
@case("uas-to-tag-consistent", roles=UAS, level="MUST", no_control=ANY_RESPONSE)
def to_tag_consistent(ctx: Context) -> None:
    """Provisional (except 100) and final responses to one INVITE share the To tag."""
    link = ctx.link()
    req = ctx.request("INVITE", link, body=_SDP)
    final, provisional = ctx.transaction(link, req)
    final = ctx.require_final(final, "final response to INVITE")
    ctx.finish_invite(link, req, final)
    tagged = [p for p in provisional if p.status != 100]
    if not tagged:
        ctx.inconclusive("no provisional response other than 100 to compare")
    for p in tagged:
        ctx.check(
            p.to_tag == final.to_tag, f"To tag {final.to_tag} in {p.status}", f"To tag {p.to_tag}"
        )


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.2
##= type=test
##% The Via header field values in the response MUST equal the Via header field values in the
##% request and MUST maintain the same ordering.
@case("uas-via-echo", roles=ENDPOINTS, level="MUST", no_control=ANY_RESPONSE)
def via_echo(ctx: Context) -> None:
    """Every Via value comes back, in order (received/rport aside)."""
    link = ctx.link()
    second = f"SIP/2.0/UDP 127.0.0.1:9;branch={unique('z9hG4bK')};x-conformance=1"
    req = ctx.request("OPTIONS", link, extra=[])
    req.headers.insert(1, ("Via", second))
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final)
    vias = final.get_all("Via")

    def strip(v: str) -> str:
        return re.sub(r"\s*;\s*(received|rport)(=[^;,]*)?", "", v).replace(" ", "").lower()

    sent = [strip(req.get("Via") or ""), strip(second)]
    ctx.check([strip(v) for v in vias] == sent, " | ".join(sent), " | ".join(map(strip, vias)))


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.2
##= type=test
##% The From field of the response MUST equal the From header field of the request.
@case("uas-from-echo", roles=ENDPOINTS, level="MUST", no_control=ANY_RESPONSE)
def from_echo(ctx: Context) -> None:
    """From comes back unchanged (tag and parameters included)."""
    link = ctx.link()
    req = ctx.request("OPTIONS", link)
    req.set("From", f'"Conformance Tester" <sip:tester@{link.sent_by}>;tag={unique()};x-p=1')
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final)
    ctx.check(
        param(final.get("From") or "", "tag") == param(req.get("From") or "", "tag"),
        req.get("From") or "",
        final.get("From") or "(none)",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.2
##= type=test
##% The Call-ID header field of the response MUST equal the Call-ID header field of the
##% request.
@case("uas-call-id-echo", roles=ENDPOINTS, level="MUST", no_control=ANY_RESPONSE)
def call_id_echo(ctx: Context) -> None:
    """Call-ID comes back unchanged (case kept)."""
    _, req, final = _ask(ctx, "OPTIONS", call_id=f"MiXeD-{unique()}@Conformance.INVALID")
    ctx.check(final.call_id == req.call_id, req.call_id, final.call_id or "(none)")


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.2
##= type=test
##% The CSeq header field of the response MUST equal the CSeq field of the request.
@case("uas-cseq-echo", roles=ENDPOINTS, level="MUST", no_control=ANY_RESPONSE)
def cseq_echo(ctx: Context) -> None:
    """CSeq comes back unchanged (a large number included)."""
    _, req, final = _ask(ctx, "OPTIONS", cseq=2**31 - 1)
    ctx.check(final.cseq == (2**31 - 1, "OPTIONS"), req.get("CSeq") or "", final.get("CSeq") or "")


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.1
##= type=test
##% When a 100 (Trying) response is generated, any Timestamp header field present in the
##% request MUST be copied into this 100 (Trying) response.
@case(
    "uas-timestamp-100",
    roles=UAS,
    level="MUST",
    no_control="judged on the 100 (Trying), sent before the request is decided on",
)
def timestamp_in_100(ctx: Context) -> None:
    """A 100 (Trying) copies the request's Timestamp."""
    link = ctx.link()
    req = ctx.request("INVITE", link, body=_SDP, extra=[("Timestamp", "54.25")])
    final, provisional = ctx.transaction(link, req)
    ctx.finish_invite(link, req, final)
    trying = [p for p in provisional if p.status == 100]
    if not trying:
        ctx.not_applicable("the target sent no 100 (Trying)")
    stamp = trying[0].get("Timestamp") or ""
    ctx.check(
        stamp.split()[:1] == ["54.25"], "Timestamp: 54.25", f"Timestamp: {stamp or '(none)'}"
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.1
##= type=test
##% One largely non-method-specific guideline for the generation of responses is that UASs
##% SHOULD NOT issue a provisional response for a non-INVITE request.
@case(
    "uas-no-provisional-non-invite",
    roles=ENDPOINTS,
    level="SHOULD",
    no_control="a provisional response to OPTIONS is wrong whatever the final one",
)
def no_provisional(ctx: Context) -> None:
    """No provisional response to OPTIONS."""
    link = ctx.link()
    req = ctx.request("OPTIONS", link)
    final, provisional = ctx.transaction(link, req)
    ctx.require_final(final)
    ctx.check(not provisional, "no provisional response", ", ".join(map(describe, provisional)))


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.3
##= type=test
##% Implementations MUST accept both the long and short forms of each header name.
@case("uas-compact-forms", roles=ENDPOINTS, level="MUST")
def compact_forms(ctx: Context) -> None:
    """A request written with compact header names only is accepted."""
    link = ctx.link()
    _control(ctx, link)
    req = ctx.request("OPTIONS", link)
    short = {"via": "v", "from": "f", "to": "t", "call-id": "i", "contact": "m"}
    req.headers = [(short.get(n.lower(), n), v) for n, v in req.headers]
    data = bytes(req).replace(b"\r\nContent-Length:", b"\r\nl:")
    link.send(data)
    final = link.expect(
        lambda m: m.is_response and (m.status or 0) >= 200,
        timeout=3.0,
        retransmit=None if ctx.target.reliable else (lambda: link.send(data)),
    )
    final = ctx.require_final(final)
    ctx.check(final.status not in (400,), "the request accepted", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2
##= type=test
##% If a UAS does not understand a header field in a request (that is, the header field is not
##% defined in this specification or in any supported extension), the server MUST ignore that
##% header field and continue processing the message.
@case("uas-unknown-header-ignored", roles=ENDPOINTS, level="MUST")
def unknown_header(ctx: Context) -> None:
    """An unknown header field (with an odd value) does not make the request fail."""
    link = ctx.link()
    _control(ctx, link)
    _, _, final = _ask(
        ctx, "OPTIONS", link, extra=[("X-Conformance-Unknown", ';;,,"odd" <value>')]
    )
    ctx.check(final.status not in (400, 500), "the request processed", describe(final))


# --- §18.2 and RFC 3581: where responses go ---------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.1
##= type=test
##% If the host portion of the "sent-by" parameter contains a domain name, or if it contains
##% an IP address that differs from the packet source address, the server MUST add a
##% "received" parameter to that Via header field value.
@case("uas-received-param", roles=ENDPOINTS, level="MUST", transports=("udp",))
def received_param(ctx: Context) -> None:
    """A sent-by naming a host gets received=<source address> in the response."""
    link = ctx.link()
    _probe(ctx, link, also=_answered)
    req = ctx.request("OPTIONS", link)
    port = link.local[1]
    req.set("Via", f"SIP/2.0/UDP conformance.invalid:{port};branch={unique('z9hG4bK')}")
    final, _ = ctx.transaction(link, req, learn=False)
    if final is None:
        ctx.fail("the response at the source address and sent-by port", "nothing arrived there")
    assert final is not None
    received = param(final.top_via, "received")
    ctx.check(received == link.local[0], f"received={link.local[0]}", f"received={received}")


##= https://www.rfc-editor.org/rfc/rfc3581#section-4
##= type=test
##% If this Via header field value contains an "rport" parameter with no value, it MUST set
##% the value of the parameter to the source port of the request.
##= https://www.rfc-editor.org/rfc/rfc3581#section-4
##= type=test
##% If the "sent-protocol" component indicates an unreliable unicast transport protocol, such
##% as UDP, and there is no "maddr" parameter, but there is both a "received" parameter and
##% an "rport" parameter, the response MUST be sent to the IP address listed in the
##% "received" parameter, and the port in the "rport" parameter.
@case("uas-rport", roles=ENDPOINTS, level="MUST", transports=("udp",))
def rport(ctx: Context) -> None:
    """rport gets the source port and the response goes there, not to the sent-by port."""
    link = ctx.link()
    _probe(ctx, link, also=_answered)
    req = ctx.request("OPTIONS", link)
    req.set("Via", f"SIP/2.0/UDP 127.0.0.1:9;branch={unique('z9hG4bK')};rport")
    final, _ = ctx.transaction(link, req, learn=False)
    if final is None:
        ctx.fail("the response at the source port (rport)", "nothing arrived there", requirement=1)
    assert final is not None
    value = param(final.top_via, "rport")
    ctx.check(value == str(link.local[1]), f"rport={link.local[1]}", f"rport={value}")


##= https://www.rfc-editor.org/rfc/rfc3581#section-4
##= type=test
##% In fact, the server MUST insert a "received" parameter containing the source IP address
##% that the request came from, even if it is identical to the value of the "sent-by"
##% component.
@case(
    "uas-rport-received",
    roles=ENDPOINTS,
    level="MUST",
    no_control="RFC 3581 §4 holds for every response, whatever its status",
)
def rport_received(ctx: Context) -> None:
    """With rport, received= is added even when sent-by already is the source address."""
    _, _, final = _ask(ctx)
    ctx.check(param(final.top_via, "received") is not None, "a received parameter", final.top_via)


##= https://www.rfc-editor.org/rfc/rfc3581#section-4
##= type=test
##% The response MUST be sent from the same address and port that the corresponding request
##% was received on.
@case(
    "uas-3581-response-source",
    roles=ENDPOINTS,
    level="MUST",
    transports=("udp",),
    no_control="the socket hears responses from any source: none at all is inconclusive",
)
def rport_source_address(ctx: Context) -> None:
    """Sent from an unconnected socket (which hears any source), a request with rport is
    answered from the address and port it was sent to."""
    if ":" in ctx.target.address[0]:
        ctx.not_applicable("the runner's unconnected UDP socket is IPv4 only")
    listener = ctx.listener()
    req = make_request("OPTIONS", ctx.target, listener.hostport, user=ctx.user)
    data = bytes(req)
    got = None
    for _ in range(3):
        listener.send(data, ctx.target.address, "OPTIONS from an unconnected socket")
        got = listener.expect(
            lambda m: m.is_response and m.branch == req.branch and (m.status or 0) >= 200,
            timeout=max(0.5, 4 * ctx.profile.t1),
        )
        if got is not None:
            break
    if got is None:
        ctx.inconclusive("no final response to OPTIONS from any address")
    assert got is not None
    _, source = got
    ctx.check(
        tuple(source) == tuple(ctx.target.address),
        f"sent from {ctx.target.address[0]}:{ctx.target.address[1]}",
        f"sent from {source[0]}:{source[1]}",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.2.2
##= type=test
##% If the "sent-protocol" is a reliable transport protocol such as TCP or SCTP, or TLS over
##% those, the response MUST be sent using the existing connection to the source of the
##% original request that created the transaction, if that connection is still open.
@case("uas-response-same-connection", roles=ENDPOINTS, level="MUST", transports=("tcp", "tls"))
def same_connection(ctx: Context) -> None:
    """Over TCP/TLS the response comes back on the request's connection."""
    link = ctx.link()
    _probe(ctx, link, also=_answered)
    req = ctx.request("OPTIONS", link)
    req.set("Via", f"SIP/2.0/{ctx.target.via_transport} 127.0.0.1:9;branch={unique('z9hG4bK')}")
    final, _ = ctx.transaction(link, req, learn=False)
    ctx.check(final is not None, "the response on the same connection", "nothing on it")


# --- §12 dialogs ----------------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% The UAS MUST add a Contact header field to the response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% The URI provided in the Contact header field MUST be a SIP or SIPS URI.
@case(
    "uas-2xx-contact",
    roles=UAS,
    level="MUST",
    preamble=DIALOG,
    no_control="judged on the preamble's 2xx",
)
def contact_in_2xx(ctx: Context) -> None:
    """A 2xx to INVITE has a Contact with a SIP or SIPS URI."""
    link = ctx.link()
    req, final = _call(ctx, link)
    _bye(ctx, link, req, final)
    contacts = final.get_all("Contact")
    ctx.check(bool(contacts), "a Contact header field", "none")
    uri = contacts[0].split("<", 1)[-1].split(">", 1)[0].strip().lower()
    ctx.check(uri.startswith(("sip:", "sips:")), "a sip: or sips: URI", uri, requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.1.1
##= type=test
##% When a UAS responds to a request with a response that establishes a dialog (such as a 2xx
##% to INVITE), the UAS MUST copy all Record-Route header field values from the request into
##% the response (including the URIs, URI parameters, and any Record-Route header field
##% parameters, whether they are known or unknown to the UAS) and MUST maintain the order of
##% those values.
@case(
    "uas-2xx-record-route",
    roles=UAS,
    level="MUST",
    no_control="judged on a 2xx only: any other answer is inconclusive",
)
def record_route_copied(ctx: Context) -> None:
    """Record-Route values come back in the 2xx, in order, parameters kept."""
    link = ctx.link()
    rr = [f"<sip:{link.sent_by};lr;x-first=1>", f"<sip:{link.sent_by};lr;x-second>;x-hp=2"]
    req = ctx.request("INVITE", link, body=_SDP, extra=[("Record-Route", ", ".join(rr))])
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final, "final response to INVITE")
    if not 200 <= (final.status or 0) < 300:
        ctx.finish_invite(link, req, final)
        ctx.inconclusive(f"the INVITE got {describe(final)}")
    ack = ack_for(req, final, ctx.target)
    ack.set("Route", None)
    link.send(bytes(ack), "ACK")
    got = [v.replace(" ", "") for v in final.get_all("Record-Route")]
    _bye(ctx, link, req, final)
    ctx.check(got == [v.replace(" ", "") for v in rr], " , ".join(rr), " , ".join(got) or "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
##= type=test
##% If the UAS wishes to reject the request because it does not wish to recreate the dialog,
##% it MUST respond to the request with a 481 (Call/Transaction Does Not Exist) status code
##% and pass that to the server transaction.
@case("uas-481-bye-unknown-dialog", roles=UAS, level="MUST")
def bye_unknown(ctx: Context) -> None:
    """BYE for a dialog that does not exist gets 481."""
    link = ctx.link()
    _probe(ctx, link)
    _, _, final = _ask(ctx, "BYE", link, to=f"<{ctx.target.aor_uri(ctx.user)}>;tag={unique()}")
    ctx.check(final.status == 481, "481 (Call/Transaction Does Not Exist)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
##= type=test
##% If the UAS wishes to reject the request because it does not wish to recreate the dialog,
##% it MUST respond to the request with a 481 (Call/Transaction Does Not Exist) status code
##% and pass that to the server transaction.
@case("uas-481-reinvite-unknown-dialog", roles=UAS, level="MUST")
def reinvite_unknown(ctx: Context) -> None:
    """A re-INVITE for a dialog that does not exist gets 481 (or is accepted: §12.2.2 MAY)."""
    link = ctx.link()
    _probe(ctx, link)
    to = f"<{ctx.target.aor_uri(ctx.user)}>;tag={unique()}"
    _, _, final = _ask(ctx, "INVITE", link, to=to, body=_SDP)
    if 200 <= (final.status or 0) < 300:
        ctx.not_applicable("the target recreates dialogs from To tags (allowed by §12.2.2)")
    ctx.check(final.status == 481, "481 (Call/Transaction Does Not Exist)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
##= type=test
##% If the remote sequence number was not empty, but the sequence number of the request is
##% lower than the remote sequence number, the request is out of order and MUST be rejected
##% with a 500 (Server Internal Error) response.
@case("uas-500-cseq-lower", roles=UAS, level="MUST", preamble=DIALOG)
def cseq_lower(ctx: Context) -> None:
    """An in-dialog request with a lower CSeq gets 500."""
    link = ctx.link()
    req, final = _call(ctx, link)
    # the control: an in-dialog request in order is processed
    ctx.control(link, _in_dialog(ctx, req, final, "OPTIONS", req.cseq_number + 5))
    low = _in_dialog(ctx, req, final, "OPTIONS", req.cseq_number + 2)
    answer, _ = ctx.transaction(link, low)
    _bye(ctx, link, req, final)
    answer = ctx.require_final(answer, "response to the out-of-order request")
    ctx.check(answer.status == 500, "500 (Server Internal Error)", describe(answer))


##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
##= type=test
##% It is possible for the CSeq sequence number to be higher than the remote sequence number
##% by more than one.
##= https://www.rfc-editor.org/rfc/rfc3261#section-12.2.2
##= type=test
##% This is not an error condition, and a UAS SHOULD be prepared to receive and process
##% requests with CSeq values more than one higher than the previous received request.
@case("uas-cseq-gap-accepted", roles=UAS, level="MUST", preamble=DIALOG)
def cseq_gap(ctx: Context) -> None:
    """An in-dialog request whose CSeq jumps by many is accepted."""
    link = ctx.link()
    req, final = _call(ctx, link)
    # the control: the same in-dialog request without the gap is processed
    ctx.control(link, _in_dialog(ctx, req, final, "OPTIONS", req.cseq_number + 1))
    opt = _in_dialog(ctx, req, final, "OPTIONS", req.cseq_number + 1000)
    answer, _ = ctx.transaction(link, opt)
    _bye(ctx, link, req, final)
    answer = ctx.require_final(answer, "response to the in-dialog OPTIONS")
    ctx.check(answer.status != 500, "the request processed", describe(answer))


##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.2
##= type=test
##% Whether or not it ends its participation on the session, the UAS core MUST generate a
##% 2xx response to the BYE, and MUST pass that to the server transaction for transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-15.1.2
##= type=test
##% If the BYE does not match an existing dialog, the UAS core SHOULD generate a 481
##% (Call/Transaction Does Not Exist) response and pass that to the server transaction.
@case(
    "uas-bye-200",
    roles=UAS,
    level="MUST",
    preamble=DIALOG,
    no_control="the BYE in the preamble's dialog is the exchange under test",
)
def bye_ends_call(ctx: Context) -> None:
    """BYE in a confirmed dialog gets 200; a second BYE then gets 481."""
    link = ctx.link()
    req, final = _call(ctx, link)
    bye = _in_dialog(ctx, req, final, "BYE", req.cseq_number + 1)
    answer, _ = ctx.transaction(link, bye)
    answer = ctx.require_final(answer, "response to BYE")
    ctx.check(answer.status == 200, "200 (OK) to BYE", describe(answer))
    again = _in_dialog(ctx, req, final, "BYE", req.cseq_number + 2)
    second, _ = ctx.transaction(link, again)
    second = ctx.require_final(second, "response to the second BYE")
    ctx.should(second.status == 481, "481 for a BYE after the dialog ended", describe(second))


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% If the INVITE request contained an offer, and the UAS had not yet sent an answer, the 2xx
##% MUST contain an answer.
@case(
    "uas-2xx-answer",
    roles=UAS,
    level="MUST",
    preamble=DIALOG,
    no_control="judged on the preamble's 2xx",
)
def answer_in_2xx(ctx: Context) -> None:
    """A 2xx to an INVITE with an SDP offer carries an answer (a body)."""
    link = ctx.link()
    req, final = _call(ctx, link)
    _bye(ctx, link, req, final)
    ctx.check(bool(final.body.strip()), "an SDP answer in the 2xx", "an empty body")


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.3.1.4
##= type=test
##% A 2xx response to an INVITE SHOULD contain the Allow header field and the Supported
##% header field
@case(
    "uas-2xx-allow-supported",
    roles=UAS,
    level="SHOULD",
    preamble=DIALOG,
    no_control="judged on the preamble's 2xx",
)
def allow_supported_2xx(ctx: Context) -> None:
    """A 2xx to INVITE carries Allow and Supported."""
    link = ctx.link()
    req, final = _call(ctx, link)
    _bye(ctx, link, req, final)
    missing = [h for h in ("Allow", "Supported") if final.get(h) is None]
    ctx.check(not missing, "Allow and Supported", f"missing {', '.join(missing)}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##= type=test
##% If the UAS did not find a matching transaction for the CANCEL according to the procedure
##% above, it SHOULD respond to the CANCEL with a 481 (Call Leg/Transaction Does Not Exist).
@case("uas-481-cancel-unknown", roles=UAS, level="SHOULD")
def cancel_unknown(ctx: Context) -> None:
    """CANCEL matching no transaction gets 481."""
    link = ctx.link()
    _probe(ctx, link)
    _, _, final = _ask(ctx, "CANCEL", link)
    ctx.check(final.status == 481, "481 (Call Leg/Transaction Does Not Exist)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% Under an authentication scheme that uses responses to carry values used to compute
##% nonces (such as Digest), some problems come up for any requests that take no response,
##% including ACK.
@case("uas-stray-ack-silent", roles=UAS, level="MUST")
def stray_ack(ctx: Context) -> None:
    """An ACK matching nothing is absorbed: no response to it."""
    link = ctx.link()
    # the control: the target answers this link at all, so its silence to the ACK counts
    _probe(ctx, link, also=_answered)
    ack = ctx.request("ACK", link, to=f"<{ctx.target.aor_uri(ctx.user)}>;tag=x1")
    link.send(bytes(ack))
    # a late copy of the control's response is no response to the ACK
    got = link.expect(lambda m: m.is_response and m.call_id == ack.call_id, timeout=1.0)
    ctx.check(got is None, "no response to an ACK", describe(got))


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.1
##= type=test
##% If the Request-URI does not identify an address that the UAS is willing to accept
##% requests for, it SHOULD reject the request with a 404 (Not Found) response.
@case("uas-request-uri-user", roles=UAS, level="SHOULD")
def request_uri_user(ctx: Context) -> None:
    """A request for some user either gets processed or 404, never a malformed-request 400."""
    link = ctx.link()
    _probe(ctx, link)
    _, _, final = _ask(ctx, "OPTIONS", link, user=f"nobody-{unique()}")
    ctx.check(final.status != 400, "200 or 404", describe(final))
