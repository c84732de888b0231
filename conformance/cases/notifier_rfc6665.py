"""RFC 6665 on the wire, the notifier's remainder (the runner is the subscriber): the final
response at once, Event and Subscription-State only where they belong, the "id" parameter and
a NOTIFY failure that removes the subscription (the NOTIFY after a change of state is in
``presence_rfc3856``, with the presence package's rate limit).

The cases apply to a target whose profile lists SUBSCRIBE among its methods and that is a
notifier of ``presence`` (sipref's presence server, the ``sipref-presence`` stack).  Each case
subscribes to a presentity of its own and unsubscribes at the end.  The first cases of the
notifier side live with the extension (``extensions/conformance/rfc6665.py``).
"""

from __future__ import annotations

import re
import time

from conformance.cases._proxy_support import arrives, reply
from conformance.cases.esc_rfc3903 import (
    PACKAGE,
    Publication,
    etag_of,
    ok,
    pidf,
    presentity,
    publish,
)
from conformance.cases.proxy import control_through
from conformance.messages import Outgoing, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message, param
from conformance.wire import Link

__all__ = [
    "Subscription",
    "answer",
    "next_notify",
    "notifier",
    "state_of",
    "subscribe",
    "subscribed",
]


def notifier(ctx: Context) -> None:
    if "SUBSCRIBE" not in ctx.profile.methods:
        ctx.not_applicable("the profile does not list SUBSCRIBE among the target's methods")


def subscribe(
    ctx: Context,
    link: Link,
    uri: str,
    *,
    event: str = PACKAGE,
    expires: int = 600,
    accept: str | None = None,
) -> Outgoing:
    """A SUBSCRIBE starting a subscription to ``uri`` (Contact: the runner's link)."""
    extra = [("Event", event), ("Expires", str(expires))]
    if accept is not None:
        extra.append(("Accept", accept))
    return ctx.request("SUBSCRIBE", link, uri=uri, extra=extra)


def answer(link: Link, request: Message, status: int = 200, reason: str = "OK") -> None:
    """A response to a request the target sent us (a NOTIFY)."""
    lines = [f"SIP/2.0 {status} {reason}"]
    lines += [f"Via: {v}" for v in request.get_all("Via")]
    lines += [
        f"From: {request.get('From')}",
        f"To: {request.get('To')}",
        f"Call-ID: {request.call_id}",
        f"CSeq: {request.get('CSeq')}",
        "Content-Length: 0",
    ]
    link.send(("\r\n".join(lines) + "\r\n\r\n").encode(), f"{status} to NOTIFY")


def next_notify(
    link: Link, call_id: str, timeout: float = 3.0, status: int = 200, reason: str = "OK"
) -> Message | None:
    """The next NOTIFY of the subscription ``call_id``, answered with ``status``."""
    got = link.expect(
        lambda m: not m.is_response and m.method == "NOTIFY" and m.call_id == call_id,
        timeout=timeout,
    )
    if got is not None:
        answer(link, got, status, reason)
    return got


def state_of(notify: Message) -> str:
    return (notify.get("Subscription-State") or "").split(";")[0].strip().lower()


class Subscription:
    """A subscription a case established: the SUBSCRIBE, its 2xx and the first NOTIFY; the
    postamble unsubscribes (Expires: 0 in the dialog, §4.1.2.3) unless it ``ended``."""

    def __init__(self, ctx: Context, link: Link, request: Outgoing, final: Message) -> None:
        self.ctx, self.link, self.request, self.final = ctx, link, request, final
        self.cseq = request.cseq_number
        self.ended = False
        #: the first NOTIFY (`subscribed` waits for it)
        self.first: Message | None = None
        ctx.on_teardown("SUBSCRIBE Expires: 0 (unsubscribe)", self.unsubscribe)

    def refresh(self, expires: int) -> Outgoing:
        """A SUBSCRIBE in the dialog (RFC 3261 §12.2.1.1) with ``expires``."""
        contact = self.final.get_all("Contact")
        uri = self.request.uri
        if contact:
            uri = contact[0].split("<", 1)[-1].split(">", 1)[0].strip()
        self.cseq += 1
        again = Outgoing("SUBSCRIBE", uri)
        via = self.request.get("Via") or ""
        again.add("Via", re.sub(r"branch=[^;,\s]+", f"branch={unique('z9hG4bK')}", via))
        again.add("Max-Forwards", "70")
        for route in reversed(self.final.get_all("Record-Route")):
            again.add("Route", route)
        again.add("From", self.request.get("From") or "")
        again.add("To", self.final.get("To") or "")
        again.add("Call-ID", self.request.call_id)
        again.add("CSeq", f"{self.cseq} SUBSCRIBE")
        again.add("Contact", self.request.get("Contact") or "")
        again.add("Event", self.request.get("Event") or PACKAGE)
        again.add("Expires", str(expires))
        return again

    def unsubscribe(self) -> bool:
        if self.ended:
            return True
        self.ended = True
        got, _ = self.ctx.transaction(self.link, self.refresh(0), learn=False)
        next_notify(self.link, self.request.call_id, timeout=1.0)
        return got is not None


def subscribed(ctx: Context, link: Link, uri: str, **kw: object) -> tuple[Subscription, Message]:
    """A subscription accepted with a 2xx and its first NOTIFY (inconclusive otherwise); call
    it inside a preamble."""
    req = subscribe(ctx, link, uri, **kw)  # type: ignore[arg-type]
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final, "response to SUBSCRIBE")
    if not 200 <= (final.status or 0) < 300:
        ctx.inconclusive(f"the subscription was refused: {describe(final)}")
    sub = Subscription(ctx, link, req, final)
    sub.first = next_notify(link, req.call_id)
    if sub.first is None:
        ctx.inconclusive("no NOTIFY after the 2xx")
    return sub, final


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.1
##= type=test
##% In particular, notifiers MUST NOT wait for a user response before
##% returning a final response to a SUBSCRIBE request.
##= https://www.rfc-editor.org/rfc/rfc6665#section-8.2.1
##= type=test
##% It MUST NOT appear in any other SIP requests and MUST NOT appear
##% in responses.
##= https://www.rfc-editor.org/rfc/rfc6665#section-8.2.3
##= type=test
##% They MUST NOT appear in other SIP requests or responses.
##= https://www.rfc-editor.org/rfc/rfc6665#section-6.2
##= type=test
##% In these cases,
##% the notifier SHOULD always return a 200 (OK) response.
@case(
    "notifier-final-response-at-once",
    roles=("uas",),
    level="MUST",
    no_control="the case itself is the control: a SUBSCRIBE left without answer is inconclusive",
)
def final_at_once(ctx: Context) -> None:
    """A SUBSCRIBE (to a presentity nobody published for) gets its final response within
    the transaction's time (no waiting for a user), a 200 that reveals nothing; neither
    Event nor Subscription-State appears in that response, nor in the 489 to a SUBSCRIBE
    for an unknown package."""
    notifier(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    req = subscribe(ctx, link, uri)
    final, provisional = ctx.transaction(link, req)
    ctx.check(
        final is not None,
        "a final response within 6*T1",
        f"none; {len(provisional)} provisional",
        requirement=0,
    )
    assert final is not None
    if 200 <= (final.status or 0) < 300:
        Subscription(ctx, link, req, final)
        next_notify(link, req.call_id, timeout=1.0)
    # a presentity nobody published for: a 404 or 403 would tell whether it exists (§6.2)
    ctx.should(final.status == 200, "200 (OK), revealing nothing", describe(final))
    bad = subscribe(ctx, link, uri, event="x-sipref-no-such-package")
    refused, _ = ctx.transaction(link, bad)
    for response in (final, refused):
        if response is None:
            continue
        ctx.check(
            response.get("Event") is None,
            f"no Event in the {response.status} to SUBSCRIBE",
            repr(response.get("Event")),
            requirement=1,
        )
        ctx.check(
            response.get("Subscription-State") is None,
            f"no Subscription-State in the {response.status} to SUBSCRIBE",
            repr(response.get("Subscription-State")),
            requirement=2,
        )


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1
##= type=test
##% Notifiers MUST NOT create subscriptions except upon receipt of a
##% SUBSCRIBE request.
@case(
    "notifier-no-subscription-without-subscribe",
    roles=("uas",),
    level="MUST",
)
def no_subscription_without_subscribe(ctx: Context) -> None:
    """An OPTIONS (and, when the target takes PUBLISH, a PUBLISH) carrying Event: presence,
    Expires and the runner's Contact creates no subscription: no NOTIFY comes; a SUBSCRIBE
    afterwards does get its NOTIFY on the same link."""
    notifier(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    contact = ("Contact", f"<sip:tester@{link.sent_by}>")
    lookalike = [("Event", PACKAGE), ("Expires", "600"), contact]
    options, _ = ctx.transaction(link, ctx.request("OPTIONS", link, uri=uri, extra=lookalike))
    ctx.require_final(options, "response to OPTIONS")
    if "PUBLISH" in ctx.profile.methods:
        req = publish(ctx, link, uri, body=pidf(uri), extra=[contact])
        final, _ = ctx.transaction(link, req)
        if final is not None and ok(final) and etag_of(final):
            Publication(ctx, link, uri, etag_of(final))
    stray = link.collect(lambda m: not m.is_response and m.method == "NOTIFY", 0.5)
    for notify in stray:
        answer(link, notify, 481, "Subscription Does Not Exist")

    def control() -> tuple[Message | None, bool]:
        _, final = subscribed(ctx, link, uri)
        return final, True

    ctx.controlled("SUBSCRIBE", control, "the control (a SUBSCRIBE, then its NOTIFY)")
    ctx.check(not stray, "no NOTIFY without a SUBSCRIBE", f"{len(stray)} NOTIFY")


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.5.2
##= type=test
##% If an "id" parameter is present in the SUBSCRIBE request used to
##% establish a subscription, that "id" parameter MUST also be present in
##% all corresponding NOTIFY requests.
@case(
    "notifier-id-parameter",
    roles=("uas",),
    level="MUST",
    no_control="the case itself is the control: a refused SUBSCRIBE ends it inconclusive",
)
def id_parameter(ctx: Context) -> None:
    """SUBSCRIBE with ``Event: presence;id=X``: the first NOTIFY and the last (after the
    unsubscription) carry id=X in their Event."""
    notifier(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    ident = unique("id")
    req = subscribe(ctx, link, uri, event=f"{PACKAGE};id={ident}")
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final, "response to SUBSCRIBE")
    if not 200 <= (final.status or 0) < 300:
        ctx.inconclusive(f"the subscription was refused: {describe(final)}")
    sub = Subscription(ctx, link, req, final)
    first = next_notify(link, req.call_id)
    ctx.check(first is not None, "a NOTIFY after the 2xx", "none within 3 s")
    assert first is not None
    event = first.get("Event") or ""
    ctx.check(param(event, "id") == ident, f"Event with id={ident}", repr(event))
    sub.ended = True
    got, _ = ctx.transaction(link, sub.refresh(0))
    last = next_notify(link, req.call_id)
    if got is None or last is None:
        ctx.inconclusive("no 2xx or no NOTIFY after the unsubscription")
    assert last is not None
    event = last.get("Event") or ""
    ctx.check(
        param(event, "id") == ident, f"the final NOTIFY's Event with id={ident}", repr(event)
    )


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
##= type=test
##% If the NOTIFY transaction fails due to the receipt of a 404, 405,
##% 410, 416, 480-485, 489, 501, or 604 response to the NOTIFY request,
##% the notifier MUST remove the corresponding subscription.
@case(
    "notifier-notify-481-removes",
    roles=("uas",),
    level="MUST",
    no_control="the preamble (an accepted subscription) is the control",
)
def notify_failure_removes(ctx: Context) -> None:
    """The first NOTIFY answered with 481: the subscription is gone, so a refreshing
    SUBSCRIBE in its dialog is refused (481 expected), not accepted."""
    notifier(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    with ctx.preamble("a presence subscription accepted with a 2xx"):
        req = subscribe(ctx, link, uri)
        final, _ = ctx.transaction(link, req)
        final = ctx.require_final(final, "response to SUBSCRIBE")
        if not 200 <= (final.status or 0) < 300:
            ctx.inconclusive(f"refused: {describe(final)}")
    sub = Subscription(ctx, link, req, final)
    first = next_notify(link, req.call_id, status=481, reason="Subscription Does Not Exist")
    if first is None:
        ctx.inconclusive("no NOTIFY after the 2xx")
    # the notifier's client transaction ends with the 481; a moment for it to act on it
    link.collect(lambda m: False, 0.2)
    refresh, _ = ctx.transaction(link, sub.refresh(600))
    refresh = ctx.require_final(refresh, "response to the refreshing SUBSCRIBE")
    if 200 <= (refresh.status or 0) < 300:
        next_notify(link, req.call_id, timeout=1.0)
    else:
        sub.ended = True
    ctx.check((refresh.status or 0) >= 300, "the refresh refused (481)", describe(refresh))
    ctx.should(refresh.status == 481, "481 (Subscription Does Not Exist)", describe(refresh))


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
##= type=test
##% If the NOTIFY request fails due to expiration of SIP Timer F
##% (transaction timeout), the notifier SHOULD remove the subscription.
@case(
    "notifier-notify-timeout-removes",
    roles=("uas",),
    level="SHOULD",
    no_control="the preamble (an accepted subscription) is the control",
)
def notify_timeout_removes(ctx: Context) -> None:
    """The first NOTIFY left unanswered until its Timer F (64*T1) has fired: the
    subscription is gone, so a refreshing SUBSCRIBE in its dialog is refused."""
    notifier(ctx)
    timer_f = 64 * ctx.profile.t1
    if timer_f > 10:
        ctx.not_applicable(f"Timer F lasts {timer_f:g} s at the profile's T1: too long to wait")
    link = ctx.link()
    _, uri = presentity(ctx)
    with ctx.preamble("a presence subscription accepted with a 2xx"):
        req = subscribe(ctx, link, uri)
        final, _ = ctx.transaction(link, req)
        final = ctx.require_final(final, "response to SUBSCRIBE")
        if not 200 <= (final.status or 0) < 300:
            ctx.inconclusive(f"refused: {describe(final)}")
    sub = Subscription(ctx, link, req, final)
    first = link.expect(
        lambda m: not m.is_response and m.method == "NOTIFY" and m.call_id == req.call_id,
        timeout=2.0,
    )
    if first is None:
        ctx.inconclusive("no NOTIFY after the 2xx")
    started = time.monotonic()
    # the NOTIFY and its retransmissions go unanswered until Timer F fires (and a little
    # more, for the notifier to act on it)
    link.collect(
        lambda m: not m.is_response and m.call_id == req.call_id,
        timer_f + 4 * ctx.profile.t1 + 0.3 - (time.monotonic() - started),
    )
    refresh, _ = ctx.transaction(link, sub.refresh(600))
    refresh = ctx.require_final(refresh, "response to the refreshing SUBSCRIBE")
    if 200 <= (refresh.status or 0) < 300:
        next_notify(link, req.call_id, timeout=1.0)
    else:
        sub.ended = True
    ctx.should((refresh.status or 0) >= 300, "the refresh refused (481)", describe(refresh))


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.5.2
##= type=test
##% The error text of such 403
##% responses SHOULD indicate that dialog sharing is not supported.
@case(
    "notifier-dialog-sharing-403",
    roles=("uas",),
    level="SHOULD",
    no_control="the preamble (an accepted subscription) is the control",
)
def dialog_sharing_403(ctx: Context) -> None:
    """A SUBSCRIBE for a second subscription (another Event id) inside an established
    subscription's dialog: a notifier refusing it with 403 says in the reason phrase that
    dialog sharing is not supported; one that shares the dialog is not applicable."""
    notifier(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    with ctx.preamble("a presence subscription, accepted and NOTIFYed"):
        sub, _ = subscribed(ctx, link, uri)
    second = sub.refresh(600)
    second.set("Event", f"{PACKAGE};id={unique('id')}")
    final, _ = ctx.transaction(link, second)
    final = ctx.require_final(final, "response to the second SUBSCRIBE in the dialog")
    if 200 <= (final.status or 0) < 300:
        next_notify(link, second.call_id, timeout=1.0)
        again = sub.refresh(0)
        again.set("Event", second.get("Event") or PACKAGE)
        ctx.transaction(link, again, learn=False)
        next_notify(link, second.call_id, timeout=1.0)
        ctx.not_applicable("the notifier shares the dialog (a second subscription in it)")
    if final.status != 403:
        ctx.not_applicable(f"refused otherwise than with 403: {describe(final)}")
    ctx.should(
        "shar" in final.reason.lower(),
        "a reason phrase saying dialog sharing is not supported",
        repr(final.reason),
    )


def _rr_uris(values: list[str]) -> list[str]:
    return [v.strip() for v in values if v.strip()]


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.3
##= type=test
##% If a proxy wishes to see all of the SUBSCRIBE and NOTIFY requests for
##% a given dialog, it MUST add a "Record-Route" header field to the
##% initial SUBSCRIBE request and all NOTIFY requests.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.3
##= type=test
##% Proxies that did not add a "Record-Route" header field to the initial
##% SUBSCRIBE request MUST NOT add a "Record-Route" header field to any of
##% the associated NOTIFY requests.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.4.4
##= type=test
##% Note that "Allow-Events" header fields MUST NOT be inserted by
##% proxies.
@case("proxy-rfc6665-subscription-routing", roles=("proxy",), level="MUST")
def proxy_subscription_routing(ctx: Context) -> None:
    """A SUBSCRIBE through the proxy to the runner's downstream notifier, its 200 back, then a
    NOTIFY from the notifier through the proxy to the subscriber: the proxy record-routes the
    NOTIFY when (and only when) it record-routed the SUBSCRIBE, and adds Allow-Events to
    none of the messages."""
    link, down = ctx.link(), ctx.listener()
    control_through(ctx, link, down)
    req = subscribe(ctx, link, f"sip:notifier@{down.hostport}", event="x-sipref-test")
    link.send(bytes(req), "SUBSCRIBE through the proxy")
    got = arrives(down, "SUBSCRIBE", req.call_id)
    if got is None:
        ctx.inconclusive("the proxy did not forward the SUBSCRIBE")
    assert got is not None
    forwarded = got[0]
    routes = _rr_uris(forwarded.get_all("Record-Route"))
    ctx.check(
        not forwarded.get_all("Allow-Events"),
        "no Allow-Events added to the SUBSCRIBE",
        repr(forwarded.get_all("Allow-Events")),
        requirement=2,
    )
    tag = unique("n")
    reply(
        down,
        got,
        200,
        to_tag=tag,
        extra=[
            *[("Record-Route", r) for r in routes],
            ("Contact", f"<sip:notifier@{down.hostport}>"),
            ("Expires", "60"),
        ],
    )
    final = link.expect(
        lambda m: m.is_response and m.branch == req.branch and (m.status or 0) >= 200, 2.0
    )
    if final is None or not 200 <= (final.status or 0) < 300:
        ctx.inconclusive(f"the 200 to SUBSCRIBE not relayed ({describe(final)})")
    assert final is not None
    ctx.check(
        not final.get_all("Allow-Events"),
        "no Allow-Events added to the 200",
        repr(final.get_all("Allow-Events")),
        requirement=2,
    )
    # the notifier's NOTIFY: along the route set when the proxy record-routed, else sent to
    # the proxy anyway (by Request-URI) to see whether it record-routes it now
    contact = (req.get("Contact") or "").strip().strip("<>")
    notify = Outgoing("NOTIFY", contact)
    notify.add("Via", f"SIP/2.0/UDP {down.hostport};branch={unique('z9hG4bK')};rport")
    for route in routes:
        notify.add("Route", route)
    notify.add("Max-Forwards", "70")
    notify.add("From", f"{forwarded.get('To')};tag={tag}")
    notify.add("To", forwarded.get("From") or "")
    notify.add("Call-ID", req.call_id)
    notify.add("CSeq", "1 NOTIFY")
    notify.add("Contact", f"<sip:notifier@{down.hostport}>")
    notify.add("Event", "x-sipref-test")
    notify.add("Subscription-State", "active;expires=60")
    notify.add("Content-Length", "0")
    down.send(bytes(notify), ctx.target.address, "NOTIFY through the proxy")
    came = link.expect(lambda m: not m.is_response and m.method == "NOTIFY", timeout=2.0)
    if came is None:
        ctx.inconclusive("the NOTIFY did not come through the proxy")
    assert came is not None
    answer(link, came)
    down.expect(lambda m: m.is_response and m.call_id == req.call_id, timeout=1.0)
    added = _rr_uris(came.get_all("Record-Route"))
    if routes:
        ctx.check(
            bool(added),
            "a Record-Route on the NOTIFY (the SUBSCRIBE had one)",
            "none",
            requirement=0,
        )
    else:
        ctx.check(
            not added,
            "no Record-Route on the NOTIFY (the SUBSCRIBE had none)",
            repr(added),
            requirement=1,
        )
    ctx.check(
        not came.get_all("Allow-Events"),
        "no Allow-Events added to the NOTIFY",
        repr(came.get_all("Allow-Events")),
        requirement=2,
    )


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.4
##= type=test
##% When removing a
##% subscription, the notifier SHOULD send a NOTIFY request with a
##% "Subscription-State" value of "terminated" to inform it that the
##% subscription is being removed.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.4
##= type=test
##% If such a request is sent, the
##% "Subscription-State" header field SHOULD contain a "reason=timeout"
##% parameter.
@case(
    "notifier-expiry-terminated-timeout",
    roles=("uas",),
    level="SHOULD",
    timeout=120,
    tags=("slow",),
    no_control="the preamble (an accepted subscription and its first NOTIFY) is the control",
)
def expiry_terminated(ctx: Context) -> None:
    """A subscription with the shortest Expires the notifier accepts (Expires: 1, then the
    Min-Expires of a 423) left to run out: a NOTIFY with Subscription-State terminated and
    reason=timeout.  Slow: it waits for the expiry (60 s for sipref-presence)."""
    notifier(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    with ctx.preamble("a presence subscription with the shortest accepted Expires"):
        req = subscribe(ctx, link, uri, expires=1)
        final, _ = ctx.transaction(link, req)
        final = ctx.require_final(final, "response to SUBSCRIBE")
        if final.status == 423:
            shortest = (final.get("Min-Expires") or "").strip()
            if not shortest.isdigit():
                ctx.inconclusive(f"a 423 without a usable Min-Expires: {describe(final)}")
            if int(shortest) > 100:
                ctx.not_applicable(f"Min-Expires {shortest} s: too long to wait")
            req = subscribe(ctx, link, uri, expires=int(shortest))
            final, _ = ctx.transaction(link, req)
            final = ctx.require_final(final, "response to the second SUBSCRIBE")
        if not 200 <= (final.status or 0) < 300:
            ctx.inconclusive(f"the subscription was refused: {describe(final)}")
        granted = (final.get("Expires") or str(req.get("Expires") or "")).strip()
        if not granted.isdigit() or int(granted) > 100:
            ctx.not_applicable(f"the 2xx grants Expires {granted!r}: too long to wait")
        sub = Subscription(ctx, link, req, final)
        sub.first = next_notify(link, req.call_id)
        if sub.first is None:
            ctx.inconclusive("no NOTIFY after the 2xx")
    # NOTIFYs before the expiry (active/pending) are answered; the one that ends it judges
    deadline = time.monotonic() + int(granted) + 8.0
    last: Message | None = None
    while time.monotonic() < deadline:
        got = next_notify(link, req.call_id, timeout=max(0.1, deadline - time.monotonic()))
        if got is None:
            break
        last = got
        if state_of(got) == "terminated":
            sub.ended = True
            break
    ctx.check(
        last is not None and state_of(last) == "terminated",
        "a NOTIFY with Subscription-State: terminated when the subscription expired",
        describe(last) if last is not None else "no NOTIFY after the expiry",
        requirement=0,
    )
    reason = param(last.get("Subscription-State") or "", "reason") if last is not None else ""
    ctx.check(
        (reason or "").lower() == "timeout",
        "Subscription-State: terminated;reason=timeout",
        last.get("Subscription-State") or "" if last is not None else "",
        requirement=1,
    )
