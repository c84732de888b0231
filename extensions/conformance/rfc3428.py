"""RFC 3428 on the wire: a target that allows MESSAGE answers it as §7 says.

The cases apply to a UAS whose profile lists MESSAGE among its methods (``python -m
rfc3261 ua --extension message``); against any other target they are not applicable.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from conformance.cases.uac import uri_of
from conformance.model import Context, case, describe
from conformance.sipmsg import param
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer


def _message_target(ctx: Context) -> None:
    if "MESSAGE" not in ctx.profile.methods:
        ctx.not_applicable("the profile does not list MESSAGE among the target's methods")


##= https://www.rfc-editor.org/rfc/rfc3428#section-7
##= type=test
##% A 2xx response to a MESSAGE request MUST NOT contain a body.  A UAS
##% MUST NOT insert a Contact header field into a 2xx response.
##= https://www.rfc-editor.org/rfc/rfc3428#section-7
##= type=test
##% A UAS that supports the MESSAGE method MUST be prepared to receive
##% and render bodies of type "text/plain", and may support reception and
##% rendering of bodies of type "message/cpim" [7].
@case("rfc3428-message-200", roles=("uas",), level="MUST")
def message_200(ctx: Context) -> None:
    """A text/plain MESSAGE gets a 2xx without body and without Contact."""
    _message_target(ctx)
    link = ctx.link()
    # the control: the profile's probe to the target's user succeeds (no other refusal)
    probe = ctx.request(ctx.profile.probe or "OPTIONS", link)
    ctx.control(link, probe)
    message = ctx.request("MESSAGE", link, body=b"hello", content_type="text/plain")
    final, _ = ctx.transaction(link, message)
    final = ctx.require_final(final, "response to MESSAGE")
    ctx.check(200 <= (final.status or 0) < 300, "a 2xx (200 or 202)", describe(final))
    ctx.check(final.body == b"", "no body in the 2xx", f"{len(final.body)} bytes of body")
    ctx.check(final.get("Contact") is None, "no Contact in the 2xx", str(final.get("Contact")))


##= https://www.rfc-editor.org/rfc/rfc3428#section-9
##= type=test
##% A MESSAGE request MAY contain a body, using the standard MIME header
##% fields to identify the content.
@case(
    "rfc3428-message-without-body",
    roles=("uas",),
    level="MAY",
    no_control="only a 5xx fails, and no refusal of another kind is one",
)
def message_without_body(ctx: Context) -> None:
    """A MESSAGE without a body is still a valid request: a final response, not silence."""
    _message_target(ctx)
    link = ctx.link()
    final, _ = ctx.transaction(link, ctx.request("MESSAGE", link))
    final = ctx.require_final(final, "response to a MESSAGE without body")
    ctx.check((final.status or 0) < 500, "a 2xx (or a 4xx), not a server error", describe(final))


@case(
    "rfc3428-message-too-large",
    roles=("uas",),
    level="MAY",
    no_control="any refusal passes: no refusal of another kind can confound it",
)
def message_too_large(ctx: Context) -> None:
    """A MESSAGE far above any instant-message size over TCP gets 513 (or another 4xx/5xx)."""
    _message_target(ctx)
    if not ctx.target.reliable:
        ctx.not_applicable("a 64 KiB request needs a stream transport")
    link = ctx.link()
    message = ctx.request("MESSAGE", link, body=b"x" * 65536, content_type="text/plain")
    final, _ = ctx.transaction(link, message, learn=False)
    final = ctx.require_final(final, "response to a 64 KiB MESSAGE")
    ctx.should(final.status == 513, "513 (Message Too Large)", describe(final))
    ctx.check((final.status or 0) >= 400, "a refusal", describe(final))


# -- the UAC role: the runner is the UAS the target sends MESSAGE to ------------------------


##= https://www.rfc-editor.org/rfc/rfc3428#section-4
##= type=test
##% All UACs which support the MESSAGE method MUST be prepared to send
##% MESSAGE requests with a body of type text/plain.
##= https://www.rfc-editor.org/rfc/rfc3428#section-4
##= type=test
##% User Agents MUST NOT insert Contact header fields into MESSAGE requests.
##= https://www.rfc-editor.org/rfc/rfc3428#section-8
##= type=test
##% The size of MESSAGE requests outside of a media session MUST NOT
##% exceed 1300 bytes, unless the UAC has positive knowledge that the
##% message will not traverse a congestion-unsafe link at any hop, or
##% that the message size is at least 200 bytes less than the lowest MTU
##% value found en route to the UAS.
##= https://www.rfc-editor.org/rfc/rfc3428#section-5
##= type=test
##% Record-Route and Route header fields MUST NOT contain IM URIs.
##= https://www.rfc-editor.org/rfc/rfc3428#section-5
##= type=test
##% These identifiers SHOULD contain SIP (or SIPS) URIs
##= https://www.rfc-editor.org/rfc/rfc3428#section-4
##= type=test
##% If the UAC adds an Expires header field with a
##% non-zero value, it SHOULD also add a Date header field containing the
##% time the message is sent.
@case(
    "rfc3428-uac-message-construction",
    roles=UAC,
    level="MUST",
    timeout=15,
    preamble="a MESSAGE from the target ([uac] message)",
    no_control=RUNNER_ANSWERS,
)
def uac_message_construction(ctx: Context) -> None:
    """The MESSAGE: a text/plain body, no Contact, at most 1300 bytes, no IM URI in Route,
    SIP URIs in From and To, a Date if it has a non-zero Expires."""
    peer = Peer(ctx, "message")
    message, addr = peer.first("MESSAGE")
    peer.answer(message, addr, 200, contact=False)
    kind = (message.get("Content-Type") or "").split(";")[0].strip().lower()
    ctx.check(kind == "text/plain", "a text/plain body", kind or "no body", 0)
    ctx.check(
        not message.get_all("Contact"), "no Contact", " | ".join(message.get_all("Contact")), 1
    )
    size = len(message.raw)
    ctx.check(size <= 1300, "at most 1300 bytes", f"{size} bytes", 2)
    routes = message.get_all("Route") + message.get_all("Record-Route")
    ctx.check(
        not any("im:" in r.lower() for r in routes), "no IM URI in Route", " | ".join(routes), 3
    )
    ids = [uri_of(message.get(h) or "") for h in ("From", "To")]
    ctx.should(
        all(u.lower().startswith(("sip:", "sips:")) for u in ids),
        "SIP or SIPS URIs in From and To",
        ", ".join(ids),
    )
    expires = (message.get("Expires") or "").strip()
    if expires.isdigit() and int(expires) > 0:
        ctx.should(message.get("Date") is not None, "a Date with Expires", "no Date")


##= https://www.rfc-editor.org/rfc/rfc3428#section-8
##= type=test
##% A UAC MUST NOT initiate a new out-of-dialog MESSAGE transaction to a
##% given URI if there is a previous out-of-dialog transaction pending
##% for the same URI.
##= https://www.rfc-editor.org/rfc/rfc3428#section-2
##= type=test
##% But implementations SHOULD NOT create dialogs for the primary purpose of
##% associating MESSAGE requests with one another.
@case(
    "rfc3428-uac-one-message-pending",
    roles=UAC,
    level="MUST",
    timeout=15,
    preamble="a MESSAGE from the target ([uac] messages: two in a row)",
    no_control=RUNNER_ANSWERS,
)
def uac_one_pending(ctx: Context) -> None:
    """Two MESSAGEs to the same URI: the runner holds the first's final response 0.8 s and
    no second one comes meanwhile; the second one is outside any dialog too (no To tag)."""
    peer = Peer(ctx, "messages")
    first, addr = peer.first("MESSAGE")
    early = [
        m
        for _, m in peer.collect(
            lambda m: m.method == "MESSAGE" and m.branch != first.branch, 8 * ctx.profile.t1
        )
    ]
    peer.answer(first, addr, 200, contact=False)
    if early:
        second = early[0]
    else:
        got = peer.expect(lambda m: m.method == "MESSAGE" and m.branch != first.branch, 3.0)
        if got is None:
            ctx.inconclusive("no second MESSAGE after the first's 200")
        assert got is not None
        second = got[0]
    peer.answer(second, addr, 200, contact=False)
    ctx.check(
        not early,
        "no new MESSAGE while the first is pending",
        f"{second.get('CSeq')} before the first's final response",
        0,
    )
    ctx.should(
        param(second.get("To") or "", "tag") is None,
        "the second MESSAGE outside a dialog (no To tag)",
        f"To: {second.get('To')}",
    )


##= https://www.rfc-editor.org/rfc/rfc3428#section-7
##= type=test
##% A UAS receiving a MESSAGE request SHOULD respond with a final
##% response immediately.
@case("rfc3428-message-final-at-once", roles=("uas",), level="SHOULD")
def message_final_at_once(ctx: Context) -> None:
    """A MESSAGE's final response comes at once (within 1 s), not after a user's action."""
    _message_target(ctx)
    link = ctx.link()
    probe = ctx.request(ctx.profile.probe or "OPTIONS", link)
    ctx.control(link, probe)
    at = time.monotonic()
    final, _ = ctx.transaction(
        link, ctx.request("MESSAGE", link, body=b"hi", content_type="text/plain")
    )
    took = time.monotonic() - at
    final = ctx.require_final(final, "response to MESSAGE")
    ctx.should(took < 1.0, "a final response within 1 s", f"after {took:.2f} s")


##= https://www.rfc-editor.org/rfc/rfc3428#section-11.4
##= type=test
##% Any message with a date older than several minutes in the past, or
##% which is more than several minutes in the future, SHOULD be answered
##% with a 400 (Incorrect Date or Time) message
@case("rfc3428-stale-date-400", roles=("uas",), level="SHOULD")
def stale_date(ctx: Context) -> None:
    """A MESSAGE dated a day ago (and one a day ahead): 400 (Incorrect Date or Time)."""
    _message_target(ctx)
    link = ctx.link()
    now = datetime.now(UTC)
    # the control: the same MESSAGE dated now is accepted
    ctx.control(
        link,
        ctx.request(
            "MESSAGE", link, body=b"hi", content_type="text/plain", extra=[("Date", _date(now))]
        ),
    )
    for delta in (-86400, 86400):
        message = ctx.request(
            "MESSAGE",
            link,
            body=b"hi",
            content_type="text/plain",
            extra=[("Date", _date(now + timedelta(seconds=delta)))],
        )
        final, _ = ctx.transaction(link, message, learn=False)
        final = ctx.require_final(final, "response to a MESSAGE with a stale Date")
        ctx.should(
            final.status == 400,
            f"400 to a Date {'a day ago' if delta < 0 else 'a day ahead'}",
            describe(final),
        )


def _date(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)
