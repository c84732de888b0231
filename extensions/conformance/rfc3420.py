"""RFC 3420 on the wire: the message/sipfrag bodies a referee sends in its NOTIFYs (RFC 3515
§2.4.5).  A fragment with a body carries the header fields that describe it and the null
line before it (§2).

The case applies to a UAS whose profile lists REFER among its methods (``python -m rfc3261
ua --extension refer``); the runner's REFER asks for an OPTIONS to the runner, answered
with a 200 that has a body, so a referee quoting more than the Status-Line has one to
quote.  A referee whose fragments carry no body (a Status-Line only, as RFC 3515 §2.4.5
asks at the least) makes the case not applicable.
"""

from __future__ import annotations

import re

from conformance.messages import Outgoing
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.wire import Link

#: the referrer named in the REFER's Referred-By (RFC 3892)
REFERRER = "sip:referrer@conformance.invalid"
#: the body of the runner's 200 to the referenced OPTIONS
_BODY = b"v=0\r\no=tester 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
_FIELD = re.compile(rb"[!%'*+\-.0-9A-Z^_`a-z|~]+[ \t]*:")


def _answer(link: Link, request: Message, body: bytes = b"") -> None:
    """200 (OK) to a request the target sent us (a NOTIFY, the referenced OPTIONS)."""
    lines = ["SIP/2.0 200 OK"]
    lines += [f"Via: {v}" for v in request.get_all("Via")]
    to = request.get("To") or ""
    lines += [
        f"From: {request.get('From')}",
        f"To: {to}" + ("" if "tag=" in to else ";tag=conformance"),
        f"Call-ID: {request.call_id}",
        f"CSeq: {request.get('CSeq')}",
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    link.send(data, f"200 to {request.method}")


def _fragment(data: bytes) -> tuple[dict[str, str], bytes, bool]:
    """A sipfrag's header fields (lower-case names, full forms for l and c), its body and
    whether a null line came before that body.  Lines after the start line that are not
    header fields are a body with no null line before it."""
    head, separator, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if lines and not _FIELD.match(lines[0]):
        lines = lines[1:]  # the start line
    fields: dict[str, str] = {}
    for i, line in enumerate(lines):
        if line[:1] in (b" ", b"\t"):
            continue  # folded continuation
        if not _FIELD.match(line):
            return fields, b"\r\n".join(lines[i:]) + separator + body, False
        name, _, value = line.decode("utf-8", "replace").partition(":")
        key = {"l": "content-length", "c": "content-type"}.get(name.strip().lower())
        fields[key or name.strip().lower()] = value.strip()
    return fields, body, bool(separator)


##= https://www.rfc-editor.org/rfc/rfc3420#section-2
##= type=test
##% If the message/sipfrag part contains a body, it MUST also contain the appropriate header
##% fields describing that body (such as Content-Length) as required by Section 7.4 of [1]
##% and the null-line separating the header from the body.
@case(
    "rfc3420-sipfrag-body-described",
    roles=("uas",),
    level="MUST",
    no_control="the case itself is the control: a refused REFER ends it inconclusive",
)
def sipfrag_body_described(ctx: Context) -> None:
    """An accepted REFER whose referenced OPTIONS gets a 200 with a body: every sipfrag in
    the NOTIFYs that carries a body has Content-Type and a right Content-Length before a
    null line."""
    if "REFER" not in ctx.profile.methods:
        ctx.not_applicable("the profile does not list REFER among the target's methods")
    link = ctx.link()
    refer_to = f"<sip:tester@{link.sent_by};method=OPTIONS>"
    extra = [("Refer-To", refer_to), ("Referred-By", f"<{REFERRER}>")]
    refer: Outgoing = ctx.request("REFER", link, extra=extra)
    final, _ = ctx.transaction(link, refer)
    final = ctx.require_final(final, "response to REFER")
    if not 200 <= (final.status or 0) < 300:
        ctx.inconclusive(f"the target refused the REFER: {describe(final)}")
    notifies: list[Message] = []
    for _ in range(4):  # the immediate NOTIFY, the referenced OPTIONS, the final NOTIFY
        got = link.expect(
            lambda m: not m.is_response and m.method in ("NOTIFY", "OPTIONS"), timeout=3.0
        )
        if got is None:
            break
        _answer(link, got, _BODY if got.method == "OPTIONS" else b"")
        if got.method == "NOTIFY":
            notifies.append(got)
            if (got.get("Subscription-State") or "").lower().startswith("terminated"):
                break
    frags = [
        n.body
        for n in notifies
        if (n.get("Content-Type") or "").split(";")[0].strip().lower() == "message/sipfrag"
    ]
    if not frags:
        ctx.inconclusive(f"no message/sipfrag NOTIFY within 3 s ({len(notifies)} NOTIFYs)")
    judged = 0
    for frag in frags:
        fields, body, null_line = _fragment(frag)
        if not body:
            continue
        judged += 1
        length = fields.get("content-length", "")
        ctx.check(
            null_line and "content-type" in fields and length == str(len(body)),
            f"Content-Type, Content-Length: {len(body)} and a null line before the body",
            repr(frag[:120]),
        )
    if not judged:
        ctx.not_applicable(
            f"none of the {len(frags)} sipfrag bodies has a body of its own (Status-Line only)"
        )
