"""A UAC forming a request from a SIP URI (RFC 3261 §19.1.5): a link clicked, a business card.

The profile's ``[uac] uri`` command makes the target send the request a URI asks for
(``{link}``: its ``method`` parameter, its headers).  Each case builds that URI around the
runner's own address, so whatever the target makes of it arrives at the runner, and judges
the request -- or, for a URI no request may be formed from, that none arrives while a plain
link, the control, is followed.
"""

from __future__ import annotations

import contextlib
import subprocess
from urllib.parse import quote

from conformance.model import Context, case
from conformance.sipmsg import Message
from conformance.trigger import UAC, Peer

#: load order of the case modules (conformance.discovery)
ORDER = 72

#: the method every link asks for: not INVITE, the default, so the parameter shows
METHOD = "OPTIONS"


def hvalue(text: str) -> str:
    """``text`` escaped for a URI header value (RFC 3261 §25.1: hvalue = *( hnv-unreserved
    / unreserved / escaped ))."""
    return quote(text, safe="-_.!~*'()[]/?:+$")


def _follow(ctx: Context, params: str, headers: str = "") -> tuple[Peer, str]:
    """Make the target follow ``sip:uas@<runner><params>?<headers>``; the peer and link."""
    server = ctx.listener()
    link = f"sip:uas@{server.hostport}{params}" + (f"?{headers}" if headers else "")
    return Peer(ctx, "uri", server=server, link=link), link


def _followed(ctx: Context, peer: Peer, link: str) -> tuple[Message, tuple[str, int]]:
    """The request ``link`` made the target send (inconclusive when none came), answered."""
    with ctx.preamble(f"the request the target forms from {link}"):
        got = peer.expect(lambda m: m.method is not None and m.method != "ACK", peer.wait)
        if got is None:
            ctx.inconclusive(f"the target sent nothing for {link}")
    assert got is not None
    peer.answer(got[0], got[1], 200, contact=False)
    return got


def control_link_followed(ctx: Context) -> None:
    """The control of the refusal cases: a plain link asking for ``METHOD`` is followed (a
    target that sends nothing for it cannot show a refusal: inconclusive)."""
    control, plain = _follow(ctx, f";method={METHOD}")
    request, _ = _followed(ctx, control, plain)
    if request.method != METHOD:
        ctx.inconclusive(f"the plain link {plain} gave a {request.method}, not a {METHOD}")
    control.close()


def _refuses(ctx: Context, headers: str, what: str) -> None:
    """The control, then the same link with ``headers`` added: nothing may arrive."""
    control_link_followed(ctx)
    peer, link = _follow(ctx, f";method={METHOD}", headers)
    if peer.process is not None:
        # our own kind of UAC decides at once; a stack that stays up is given the same time
        # still running after that: what it sent by now is judged
        with contextlib.suppress(subprocess.TimeoutExpired):
            peer.process.wait(timeout=peer.wait)
    got = peer.expect(lambda m: m.method is not None and m.method != "ACK", 1.0)
    if got is not None:
        peer.answer(got[0], got[1], 200, contact=False)
    ctx.check(
        got is None,
        f"no request sent for {link} ({what})",
        f"{got[0].method} {got[0].uri}" if got else "",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% If the URI contains a method parameter, its value MUST be used as the method of the
##% request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% The method parameter MUST NOT be placed in the Request-URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% An implementation MUST include any provided transport, maddr, ttl, or user parameter in
##% the Request-URI of the formed request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% Unknown URI parameters MUST be placed in the message's Request-URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% An implementation SHOULD treat the presence of any headers or body parts in the URI as a
##% desire to include them in the message, and choose to honor the request on a
##% per-component basis.
@case("uac-uri-request-formed", roles=UAC, timeout=20, no_control="the link is the request")
def request_formed(ctx: Context) -> None:
    """A link's method parameter names the method and leaves the Request-URI; its other
    parameters stay there; a harmless header (Subject) is honoured."""
    peer, link = _follow(
        ctx, f";transport=udp;user=ip;x-conformance=1;method={METHOD}", "Subject=sipref-19.1.5"
    )
    request, _ = _followed(ctx, peer, link)
    ctx.check(request.method == METHOD, f"method {METHOD}", request.method or "")
    uri = (request.uri or "").lower()
    ctx.check("method=" not in uri, "no method parameter in the Request-URI", uri, requirement=1)
    for name in ("transport=udp", "user=ip"):
        ctx.check(name in uri, f"{name} in the Request-URI", uri, requirement=2)
    ctx.check("x-conformance=1" in uri, "x-conformance=1 in the Request-URI", uri, requirement=3)
    subject = request.get("Subject") or ""
    ctx.check(
        subject == "sipref-19.1.5",
        "Subject: sipref-19.1.5",
        subject or "(none)",
        requirement=4,
        level="SHOULD",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% An implementation SHOULD NOT honor these obviously dangerous header fields: From,
##% Call-ID, CSeq, Via, and Record-Route.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% An implementation SHOULD NOT honor any requested Route header field values in order to
##% not be used as an unwitting agent in malicious attacks.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% An implementation SHOULD NOT honor requests to include header fields that may cause it to
##% falsely advertise its location or capabilities.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% An implementation SHOULD verify the accuracy of any requested descriptive header fields,
##% including: Content-Disposition, Content-Encoding, Content-Language, Content-Length,
##% Content-Type, Date, Mime-Version, and Timestamp.
@case(
    "uac-uri-dangerous-headers",
    roles=UAC,
    level="SHOULD",
    timeout=20,
    no_control="the link is the request: each header field is judged on its own",
)
def dangerous_headers(ctx: Context) -> None:
    """Header fields a link may not set -- From, Call-ID, CSeq, Via, Record-Route, Route,
    Contact, Allow, a false Content-Length -- are not taken from it."""
    server = ctx.listener()
    route = f"<sip:evil@{server.hostport};lr>"
    requested = [
        ("From", "<sip:evil@conformance.invalid>"),
        ("Call-ID", "forged@conformance.invalid"),
        ("CSeq", "7 INVITE"),
        ("Via", "SIP/2.0/UDP evil.conformance.invalid;branch=z9hG4bKevil"),
        ("Record-Route", route),
        ("Route", route),
        ("Contact", "<sip:evil@conformance.invalid>"),
        ("Allow", "X-CONFORMANCE-EVIL"),
        ("Content-Length", "999"),
    ]
    headers = "&".join(f"{name}={hvalue(value)}" for name, value in requested)
    link = f"sip:uas@{server.hostport};method={METHOD}?{headers}"
    peer = Peer(ctx, "uri", server=server, link=link)
    request, _ = _followed(ctx, peer, link)
    fields = {
        "From": request.get("From") or "",
        "Call-ID": request.call_id or "",
        "CSeq": request.get("CSeq") or "",
        "Via": ", ".join(request.get_all("Via")),
        "Record-Route": ", ".join(request.get_all("Record-Route")),
    }
    for name, value in fields.items():
        ctx.check(
            "evil" not in value and "forged" not in value and not value.startswith("7 "),
            f"{name} not taken from the link",
            f"{name}: {value}",
            level="SHOULD",
        )
    routes = ", ".join(request.get_all("Route"))
    ctx.check("evil" not in routes, "no Route from the link", routes, requirement=1)
    contact = request.get("Contact") or ""
    allow = request.get("Allow") or ""
    ctx.check("evil" not in contact, "Contact not from the link", contact, requirement=2)
    ctx.check("X-CONFORMANCE-EVIL" not in allow.upper(), "Allow not from it", allow, requirement=2)
    length = request.get("Content-Length") or "0"
    ctx.check(
        length.strip() == str(len(request.body or b"")),
        f"Content-Length {len(request.body or b'')} (the body's)",
        f"Content-Length {length}",
        requirement=3,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% An implementation MUST NOT proceed with transmitting the request.
@case("uac-uri-invalid-not-sent", roles=UAC, timeout=30)
def invalid_not_sent(ctx: Context) -> None:
    """A link whose headers make an invalid request (an Expires that is no number of
    seconds) sends nothing."""
    _refuses(ctx, "Expires=soon", "Expires is no delta-seconds: an invalid request")


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% An implementation MUST NOT send a request requiring an extension that it does not
##% support.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.5
##= type=test
##% An implementation SHOULD refuse to send these requests rather than modifying them to
##% match their capabilities.
@case("uac-uri-unsupported-extension-not-sent", roles=UAC, timeout=30)
def unsupported_extension_not_sent(ctx: Context) -> None:
    """A link requiring an extension nobody supports sends nothing (not the request without
    the Require)."""
    _refuses(ctx, "Require=x-conformance-unknown", "it requires an unknown extension")
