"""RFC 3515 on the wire: a target that allows REFER answers it as §2.4 says.

The cases apply to a UAS whose profile lists REFER among its methods (``python -m
rfc3261 ua --extension refer``, which accepts every well-formed REFER); against any
other target they are not applicable.  The accepted REFER asks for an OPTIONS to the
runner itself (``;method=OPTIONS`` in the Refer-To URI), which the runner answers, so
the reference completes and the implicit subscription ends with its final NOTIFY.
"""

from __future__ import annotations

from conformance.model import Context, case, describe
from conformance.sipmsg import Message


def _referee(ctx: Context) -> None:
    if "REFER" not in ctx.profile.methods:
        ctx.not_applicable("the profile does not list REFER among the target's methods")


def _answer(link, request: Message) -> None:  # type: ignore[no-untyped-def]
    """200 (OK) to a request the target sent us (a NOTIFY, the referenced OPTIONS)."""
    lines = ["SIP/2.0 200 OK"]
    lines += [f"Via: {v}" for v in request.get_all("Via")]
    to = request.get("To") or ""
    lines += [
        f"From: {request.get('From')}",
        f"To: {to}" + ("" if "tag=" in to else ";tag=conformance"),
        f"Call-ID: {request.call_id}",
        f"CSeq: {request.get('CSeq')}",
        "Content-Length: 0",
    ]
    link.send(("\r\n".join(lines) + "\r\n\r\n").encode(), f"200 to {request.method}")


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
##= type=test
##% An agent responding to a REFER method MUST return a 400 (Bad Request)
##% if the request contained zero or more than one Refer-To header field
##% values.
@case("rfc3515-no-refer-to-400", roles=("uas",), level="MUST")
def no_refer_to(ctx: Context) -> None:
    """A REFER without Refer-To gets 400 (Bad Request)."""
    _referee(ctx)
    link = ctx.link()
    probe = ctx.request(ctx.profile.probe or "OPTIONS", link)
    ctx.control(link, probe)
    final, _ = ctx.transaction(link, ctx.request("REFER", link), learn=False)
    final = ctx.require_final(final, "response to REFER without Refer-To")
    ctx.check(final.status == 400, "400 (Bad Request)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
##= type=test
##% Each NOTIFY MUST contain an Event header field with a value of refer
##% and possibly an id parameter (see Section 2.4.6).
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
##= type=test
##% Each NOTIFY MUST contain a body of type "message/sipfrag" [3].
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.7
##= type=test
##% The final NOTIFY sent in response to a REFER MUST indicate the
##% subscription has been "terminated" with a reason of "noresource".
@case(
    "rfc3515-accepted-refer-notifies",
    roles=("uas",),
    level="MUST",
    no_control="the case itself is the control: a refused REFER ends it inconclusive",
)
def accepted_refer(ctx: Context) -> None:
    """An accepted REFER: 202, a NOTIFY (Event: refer, sipfrag) at once, a final one."""
    _referee(ctx)
    link = ctx.link()
    refer_to = f"<sip:tester@{link.sent_by};method=OPTIONS>"
    refer = ctx.request("REFER", link, extra=[("Refer-To", refer_to)])
    final, _ = ctx.transaction(link, refer)
    final = ctx.require_final(final, "response to REFER")
    if not 200 <= (final.status or 0) < 300:
        ctx.inconclusive(f"the target refused the REFER: {describe(final)}")
    ctx.check(final.status == 202, "202 (Accepted)", describe(final))
    notifies: list[Message] = []
    for _ in range(4):  # the immediate NOTIFY, the referenced OPTIONS, the final NOTIFY
        got = link.expect(
            lambda m: not m.is_response and m.method in ("NOTIFY", "OPTIONS"), timeout=3.0
        )
        if got is None:
            break
        _answer(link, got)
        if got.method == "NOTIFY":
            notifies.append(got)
            if (got.get("Subscription-State") or "").lower().startswith("terminated"):
                break
    ctx.check(bool(notifies), "a NOTIFY after the 202", "no NOTIFY within 3 s")
    first = notifies[0]
    event = (first.get("Event") or "").split(";")[0].strip().lower()
    ctx.check(event == "refer", "Event: refer", repr(first.get("Event")))
    content_type = (first.get("Content-Type") or "").split(";")[0].strip().lower()
    ctx.check(content_type == "message/sipfrag", "a message/sipfrag body", repr(content_type))
    ctx.check(first.body.startswith(b"SIP/2.0 "), "a Status-Line first", repr(first.body[:30]))
    last = notifies[-1].get("Subscription-State") or ""
    ctx.check(
        last.lower().startswith("terminated") and "noresource" in last.lower(),
        "a final NOTIFY terminated;reason=noresource",
        repr(last),
    )
