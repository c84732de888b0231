"""RFC 6665 on the wire: a target that is a notifier answers SUBSCRIBE as §4.2 says.

The cases apply to a UAS whose profile lists SUBSCRIBE among its methods (``python -m
rfc3261 ua --extension events``, a notifier of ``presence``); against any other target
they are not applicable.  The runner subscribes to the profile's user for ``presence``,
answers the NOTIFYs the target sends to its Contact, and unsubscribes at the end.
"""

from __future__ import annotations

import re

from conformance.messages import Outgoing, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message

PACKAGE = "presence"


def _notifier(ctx: Context) -> None:
    if "SUBSCRIBE" not in ctx.profile.methods:
        ctx.not_applicable("the profile does not list SUBSCRIBE among the target's methods")


def _subscribe(ctx: Context, link, event: str, expires: int = 60) -> Outgoing:  # type: ignore[no-untyped-def]
    return ctx.request("SUBSCRIBE", link, extra=[("Event", event), ("Expires", str(expires))])


def _answer(link, request: Message) -> None:  # type: ignore[no-untyped-def]
    """200 (OK) to a request the target sent us (a NOTIFY)."""
    lines = ["SIP/2.0 200 OK"]
    lines += [f"Via: {v}" for v in request.get_all("Via")]
    lines += [
        f"From: {request.get('From')}",
        f"To: {request.get('To')}",
        f"Call-ID: {request.call_id}",
        f"CSeq: {request.get('CSeq')}",
        "Content-Length: 0",
    ]
    link.send(("\r\n".join(lines) + "\r\n\r\n").encode(), "200 to NOTIFY")


def _notify(ctx: Context, link, call_id: str, timeout: float = 3.0) -> Message | None:  # type: ignore[no-untyped-def]
    got = link.expect(
        lambda m: not m.is_response and m.method == "NOTIFY" and m.call_id == call_id,
        timeout=timeout,
    )
    if got is not None:
        _answer(link, got)
    return got


def _in_dialog(ctx: Context, subscribe: Outgoing, final: Message, expires: int) -> Outgoing:
    """A SUBSCRIBE refreshing the subscription ``final`` accepted (RFC 3261 §12.2.1.1)."""
    contact = final.get_all("Contact")
    uri = subscribe.uri
    if contact:
        uri = contact[0].split("<", 1)[-1].split(">", 1)[0].strip()
    again = Outgoing("SUBSCRIBE", uri)
    via = re.sub(r"branch=[^;,\s]+", f"branch={unique('z9hG4bK')}", subscribe.get("Via") or "")
    again.add("Via", via)
    again.add("Max-Forwards", "70")
    again.add("From", subscribe.get("From") or "")
    again.add("To", final.get("To") or "")
    again.add("Call-ID", subscribe.call_id)
    again.add("CSeq", f"{subscribe.cseq_number + 1} SUBSCRIBE")
    again.add("Contact", subscribe.get("Contact") or "")
    again.add("Event", subscribe.get("Event") or PACKAGE)
    again.add("Expires", str(expires))
    again.add("Content-Length", "0")
    return again


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.1
##= type=test
##% The notifier SHOULD check that the event package specified in the
##% "Event" header field is understood.  If not, the notifier SHOULD
##% return a 489 (Bad Event) response to indicate that the specified
##% event/event class is not understood.
@case("rfc6665-unknown-event-489", roles=("uas",), level="SHOULD")
def unknown_event(ctx: Context) -> None:
    """A SUBSCRIBE for an event package nobody defines gets 489 (Bad Event)."""
    _notifier(ctx)
    link = ctx.link()
    probe = ctx.request(ctx.profile.probe or "OPTIONS", link)
    ctx.control(link, probe)
    final, _ = ctx.transaction(link, _subscribe(ctx, link, "x-sipref-no-such-package"))
    final = ctx.require_final(final, "response to SUBSCRIBE for an unknown package")
    ctx.should(final.status == 489, "489 (Bad Event)", describe(final))
    ctx.check((final.status or 0) >= 400, "a refusal, not a subscription", describe(final))


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
##= type=test
##% When a SUBSCRIBE request is answered with a 200-class response, the
##% notifier MUST immediately construct and send a NOTIFY request to the
##% subscriber.
##= https://www.rfc-editor.org/rfc/rfc6665#section-3.1.1
##= type=test
##% 200-class responses to SUBSCRIBE requests also MUST contain an
##% "Expires" header field.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
##= type=test
##% NOTIFY requests MUST contain a "Subscription-State" header field with
##% a value of "active", "pending", or "terminated".
@case(
    "rfc6665-immediate-notify",
    roles=("uas",),
    level="MUST",
    no_control="the case itself is the control: a refused SUBSCRIBE ends it inconclusive",
)
def immediate_notify(ctx: Context) -> None:
    """A 2xx to SUBSCRIBE (with Expires) is followed at once by a NOTIFY of the state."""
    _notifier(ctx)
    link = ctx.link()
    subscribe = _subscribe(ctx, link, PACKAGE)
    final, _ = ctx.transaction(link, subscribe)
    final = ctx.require_final(final, "response to SUBSCRIBE")
    if not 200 <= (final.status or 0) < 300:
        ctx.inconclusive(f"the target refused the presence subscription: {describe(final)}")
    ctx.check(final.get("Expires") is not None, "Expires in the 2xx", "no Expires")
    notify = _notify(ctx, link, subscribe.call_id)
    if notify is not None:
        ctx.on_teardown("unsubscribe", lambda: _unsubscribe(ctx, link, subscribe, final))
    ctx.check(notify is not None, "a NOTIFY right after the 2xx", "no NOTIFY within 3 s")
    assert notify is not None
    state = (notify.get("Subscription-State") or "").split(";")[0].strip().lower()
    ctx.check(
        state in ("active", "pending", "terminated"),
        "Subscription-State active, pending or terminated",
        repr(notify.get("Subscription-State")),
    )


def _unsubscribe(ctx: Context, link, subscribe: Outgoing, final: Message) -> bool:  # type: ignore[no-untyped-def]
    again = _in_dialog(ctx, subscribe, final, 0)
    got, _ = ctx.transaction(link, again, learn=False)
    _notify(ctx, link, subscribe.call_id, timeout=1.0)
    return got is not None


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.2.3
##= type=test
##% Unsubscribing is handled in the same way as refreshing of a
##% subscription, with the "Expires" header field set to "0".
@case(
    "rfc6665-expires-0-terminates",
    roles=("uas",),
    level="MUST",
    no_control="the preamble (an accepted subscription) is the control",
)
def expires_zero(ctx: Context) -> None:
    """A SUBSCRIBE with Expires: 0 in the dialog ends it: 2xx, then NOTIFY terminated."""
    _notifier(ctx)
    link = ctx.link()
    subscribe = _subscribe(ctx, link, PACKAGE)
    with ctx.preamble("a presence subscription, accepted and NOTIFYed"):
        final, _ = ctx.transaction(link, subscribe)
        if final is None or not 200 <= (final.status or 0) < 300:
            ctx.inconclusive(f"no subscription: {describe(final) if final else 'no answer'}")
        if _notify(ctx, link, subscribe.call_id) is None:
            ctx.inconclusive("no first NOTIFY")
    assert final is not None
    again = _in_dialog(ctx, subscribe, final, 0)
    answer, _ = ctx.transaction(link, again)
    answer = ctx.require_final(answer, "response to SUBSCRIBE with Expires: 0")
    ctx.check(200 <= (answer.status or 0) < 300, "a 2xx", describe(answer))
    notify = _notify(ctx, link, subscribe.call_id)
    ctx.check(notify is not None, "a final NOTIFY", "no NOTIFY within 3 s")
    assert notify is not None
    state = (notify.get("Subscription-State") or "").split(";")[0].strip().lower()
    ctx.check(state == "terminated", "Subscription-State: terminated", repr(state))


def _expires_param(state: str) -> int | None:
    match = re.search(r";\s*expires\s*=\s*(\d+)", state, re.I)
    return int(match.group(1)) if match else None


def _seconds(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


##= https://www.rfc-editor.org/rfc/rfc6665#section-3.1.1
##= type=test
##% The period of time in the response MAY be shorter but MUST
##% NOT be longer than specified in the request.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.1
##= type=test
##% The "Expires" values present in SUBSCRIBE 200-class responses behave
##% in the same way as they do in REGISTER responses: the server MAY
##% shorten the interval but MUST NOT lengthen it.
##= https://www.rfc-editor.org/rfc/rfc6665#section-3.2.1
##= type=test
##% As in SUBSCRIBE requests, NOTIFY request "Event" header fields MUST
##% contain a single event package name for which a notification is being
##% generated.
##= https://www.rfc-editor.org/rfc/rfc6665#section-3.2.1
##= type=test
##% The package name in the "Event" header field MUST match
##% the "Event" header field in the corresponding SUBSCRIBE request.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% NOTIFY requests MUST contain "Subscription-State" header fields that
##% indicate the status of the subscription.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
##= type=test
##% If the value of the "Subscription-State" header field is "active" or
##% "pending", the notifier MUST also include in the "Subscription-State"
##% header field an "expires" parameter that indicates the time remaining
##% on the subscription.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
##= type=test
##% however, this mechanism MUST NOT be used to lengthen a
##% subscription.
##= https://www.rfc-editor.org/rfc/rfc6665#section-8.3.1
##= type=test
##% Implementations compliant with the present document MUST NOT send a
##% 202 response to a SUBSCRIBE request and will send an alternate
##% success response (such as 200) in its stead.
##= https://www.rfc-editor.org/rfc/rfc6665#section-3.2.1
##= type=test
##% When present, the body of the NOTIFY request MUST be formatted into
##% one of the body formats specified in the "Accept" header field of the
##% corresponding SUBSCRIBE request (or the default type according to the
##% event package description, if no "Accept" header field was specified).
##= https://www.rfc-editor.org/rfc/rfc6665#section-8.2.1
##= type=test
##% There MUST be exactly one event type listed per "Event" header field.
##= https://www.rfc-editor.org/rfc/rfc6665#section-8.3.1
##= type=test
##% Implementations conformant with the current specification MUST treat
##% an incoming 202 response as identical to a 200 response and MUST NOT
##% generate 202 response codes to SUBSCRIBE or NOTIFY requests.
@case(
    "rfc6665-expires-and-first-notify",
    roles=("uas",),
    level="MUST",
    no_control="the case itself is the control: a refused SUBSCRIBE ends it inconclusive",
)
def expires_and_first_notify(ctx: Context) -> None:
    """SUBSCRIBE with Expires: 60 and Accept: application/pidf+xml: a 200 (not 202) with
    Expires <= 60, then a NOTIFY with Event: presence, Subscription-State active or pending
    with expires <= 60, and a PIDF body when it has one."""
    _notifier(ctx)
    link = ctx.link()
    subscribe = ctx.request(
        "SUBSCRIBE",
        link,
        extra=[("Event", PACKAGE), ("Expires", "60"), ("Accept", "application/pidf+xml")],
    )
    final, _ = ctx.transaction(link, subscribe)
    final = ctx.require_final(final, "response to SUBSCRIBE")
    if not 200 <= (final.status or 0) < 300:
        ctx.inconclusive(f"the target refused the presence subscription: {describe(final)}")
    ctx.check(final.status != 202, "a 200 (not 202) to SUBSCRIBE", describe(final), 7)
    expires = _seconds(final.get("Expires"))
    ctx.check(
        expires is not None and expires <= 60,
        "Expires of at most the 60 s asked for",
        f"Expires: {final.get('Expires')}",
    )
    notify = _notify(ctx, link, subscribe.call_id)
    if notify is not None:
        ctx.on_teardown("unsubscribe", lambda: _unsubscribe(ctx, link, subscribe, final))
    if notify is None:
        ctx.inconclusive("no NOTIFY after the 2xx (judged by rfc6665-immediate-notify)")
    assert notify is not None
    events = [e.strip() for e in (notify.get("Event") or "").split(",") if e.strip()]
    ctx.check(len(events) == 1, "one event package in the NOTIFY's Event", str(events), 2)
    ctx.check(len(events) == 1, "one event type in the Event header field", str(events), 9)
    ctx.check(final.status != 202, "no 202 to SUBSCRIBE", describe(final), 10)
    ctx.check(
        events[0].split(";")[0].strip().lower() == PACKAGE,
        f"Event: {PACKAGE} (the SUBSCRIBE's)",
        f"Event: {notify.get('Event')}",
        3,
    )
    state = notify.get("Subscription-State") or ""
    ctx.check(bool(state), "a Subscription-State in the NOTIFY", "none", 4)
    value = state.split(";")[0].strip().lower()
    if value in ("active", "pending"):
        remaining = _expires_param(state)
        ctx.check(remaining is not None, f"an expires parameter with {value}", state, 5)
        ctx.check(
            remaining is not None and remaining <= (expires or 60),
            "a remaining time not beyond the subscription's",
            f"Subscription-State: {state}; Expires: {expires}",
            6,
        )
    if notify.body:
        ctx.check(
            (notify.get("Content-Type") or "").split(";")[0].strip().lower()
            == "application/pidf+xml",
            "a body of the type the SUBSCRIBE accepted (application/pidf+xml)",
            f"Content-Type: {notify.get('Content-Type')}",
            8,
        )


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.4
##= type=test
##% As with the initial subscription, the server MAY shorten the amount of
##% time until expiration but MUST NOT increase it.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.2
##= type=test
##% Upon successfully accepting or refreshing a subscription, notifiers
##% MUST send a NOTIFY request immediately to communicate the current
##% resource state to the subscriber.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% The "expires" parameter has no semantics for "terminated" --
##% notifiers SHOULD NOT include an "expires" parameter on a
##% "Subscription-State" header field with a value of "terminated"
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
##= type=test
##% If the value of the "Subscription-State" header field is
##% "terminated", the notifier SHOULD also include a "reason" parameter.
@case(
    "rfc6665-refresh-not-lengthened",
    roles=("uas",),
    level="MUST",
    preamble="a presence subscription, accepted and NOTIFYed",
    no_control="the preamble (an accepted subscription) is the control",
)
def refresh_not_lengthened(ctx: Context) -> None:
    """A subscription for 600 s refreshed asking for 300 s: a 2xx with Expires <= 300 and
    a NOTIFY at once; the
    unsubscribe's NOTIFY (terminated) has a reason and no expires (SHOULDs)."""
    _notifier(ctx)
    link = ctx.link()
    subscribe = _subscribe(ctx, link, PACKAGE, 600)
    with ctx.preamble("a presence subscription, accepted and NOTIFYed"):
        final, _ = ctx.transaction(link, subscribe)
        if final is None or not 200 <= (final.status or 0) < 300:
            ctx.inconclusive(f"no subscription: {describe(final) if final else 'no answer'}")
        if _notify(ctx, link, subscribe.call_id) is None:
            ctx.inconclusive("no first NOTIFY")
    assert final is not None
    ctx.on_teardown("unsubscribe", lambda: _unsubscribe(ctx, link, subscribe, final))
    refresh = _in_dialog(ctx, subscribe, final, 300)
    got, _ = ctx.transaction(link, refresh)
    got = ctx.require_final(got, "response to the refreshing SUBSCRIBE")
    if not 200 <= (got.status or 0) < 300:
        ctx.inconclusive(f"the refresh was refused ({describe(got)})")
    expires = _seconds(got.get("Expires"))
    ctx.check(
        expires is not None and expires <= 300,
        "Expires of at most the 300 s the refresh asked for",
        f"Expires: {got.get('Expires')}",
    )
    ctx.check(
        _notify(ctx, link, subscribe.call_id) is not None,
        "a NOTIFY right after the refresh's 2xx",
        "no NOTIFY within 3 s",
        1,
    )
    ctx.cleanups.clear()  # the unsubscribe below ends it
    unsubscribe = _in_dialog(ctx, subscribe, final, 0)
    unsubscribe.set("CSeq", f"{subscribe.cseq_number + 2} SUBSCRIBE")
    ended, _ = ctx.transaction(link, unsubscribe, learn=False)
    last = _notify(ctx, link, subscribe.call_id)
    if ended is None or last is None:
        ctx.inconclusive(f"the unsubscribe got {describe(ended)} and {describe(last)}")
    assert last is not None
    state = last.get("Subscription-State") or ""
    if state.split(";")[0].strip().lower() == "terminated":
        ctx.should(_expires_param(state) is None, "no expires with terminated", state)
        ctx.should(
            re.search(r";\s*reason\s*=", state, re.I) is not None,
            "a reason with terminated",
            state,
        )


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.3
##= type=test
##% If a notifier does not support PINT, it SHOULD return 489 (Bad Event)
##% to any SUBSCRIBE requests without an "Event" header field.
@case("rfc6665-no-event-489", roles=("uas",), level="SHOULD")
def no_event_header(ctx: Context) -> None:
    """A SUBSCRIBE without an Event header field: 489 (Bad Event), or at least a refusal."""
    _notifier(ctx)
    link = ctx.link()
    probe = ctx.request(ctx.profile.probe or "OPTIONS", link)
    ctx.control(link, probe)
    subscribe = ctx.request("SUBSCRIBE", link, extra=[("Expires", "60")])
    final, _ = ctx.transaction(link, subscribe, learn=False)
    final = ctx.require_final(final, "response to SUBSCRIBE without Event")
    if 200 <= (final.status or 0) < 300:
        # a PINT notifier may accept it: end what it started
        ctx.on_teardown("unsubscribe", lambda: _unsubscribe(ctx, link, subscribe, final))
        _notify(ctx, link, subscribe.call_id, timeout=1.0)
    ctx.should(final.status == 489, "489 (Bad Event)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.1.4
##= type=test
##% If the duration specified in a SUBSCRIBE request is unacceptably
##% short, the notifier SHOULD respond with a 423 (Interval Too Brief)
##% response.
@case("rfc6665-brief-interval-423", roles=("uas",), level="SHOULD")
def brief_interval(ctx: Context) -> None:
    """SUBSCRIBE with Expires: 1: 423 (Interval Too Brief), or a subscription of at least
    that (a notifier may find 1 s acceptable)."""
    _notifier(ctx)
    link = ctx.link()
    # the control: the same SUBSCRIBE with a usual interval is accepted (and ended)
    control = _subscribe(ctx, link, PACKAGE, 600)

    def exchange() -> tuple[Message | None, bool]:
        final, _ = ctx.transaction(link, control, note="control", learn=False)
        ok = final is not None and 200 <= (final.status or 0) < 300
        if ok and final is not None and _notify(ctx, link, control.call_id) is not None:
            _unsubscribe(ctx, link, control, final)
        return final, ok

    ctx.controlled("SUBSCRIBE", exchange, "the control SUBSCRIBE (Expires: 600)")
    subscribe = _subscribe(ctx, link, PACKAGE, 1)
    final, _ = ctx.transaction(link, subscribe)
    final = ctx.require_final(final, "response to SUBSCRIBE with Expires: 1")
    if 200 <= (final.status or 0) < 300:
        ctx.on_teardown("unsubscribe", lambda: _unsubscribe(ctx, link, subscribe, final))
        _notify(ctx, link, subscribe.call_id, timeout=1.0)
    ctx.should(final.status == 423, "423 (Interval Too Brief)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.6
##= type=test
##% If a User Agent Server (UAS) receives a CANCEL request that matches a
##% known SUBSCRIBE or NOTIFY transaction, it MUST respond to the CANCEL
##% request, but otherwise ignore it.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.6
##= type=test
##% In particular, the CANCEL request MUST
##% NOT affect processing of the SUBSCRIBE or NOTIFY request in any way.
@case(
    "rfc6665-cancel-subscribe-ignored",
    roles=("uas",),
    level="MUST",
    no_control="judged on the SUBSCRIBE's own outcome, which a CANCEL must not change",
)
def cancel_ignored(ctx: Context) -> None:
    """A SUBSCRIBE followed at once by a CANCEL for it: the CANCEL gets a response, the
    SUBSCRIBE its 2xx (not 487) and the first NOTIFY."""
    _notifier(ctx)
    link = ctx.link()
    subscribe = _subscribe(ctx, link, PACKAGE)
    cancel = Outgoing("CANCEL", subscribe.uri)
    for name in ("Via", "Max-Forwards", "From", "To", "Call-ID"):
        cancel.add(name, subscribe.get(name) or "")
    cancel.add("CSeq", f"{subscribe.cseq_number} CANCEL")
    cancel.add("Content-Length", "0")
    link.send(bytes(subscribe))
    link.send(bytes(cancel), "CANCEL")
    responses: dict[str, Message] = {}
    for _ in range(2):
        got = link.expect(
            lambda m: (
                m.is_response
                and m.branch == subscribe.branch
                and (m.status or 0) >= 200
                and m.cseq[1] not in responses
            ),
            timeout=max(1.0, 6 * ctx.profile.t1),
            retransmit=None
            if ctx.target.reliable
            else (lambda: [link.send(bytes(subscribe)), link.send(bytes(cancel))]),
            interval=ctx.profile.t1,
        )
        if got is None:
            break
        responses[got.cseq[1]] = got
    final = responses.get("SUBSCRIBE")
    if final is not None and 200 <= (final.status or 0) < 300:
        notify = _notify(ctx, link, subscribe.call_id)
        if notify is not None:
            ctx.on_teardown("unsubscribe", lambda: _unsubscribe(ctx, link, subscribe, final))
    ctx.check(
        "CANCEL" in responses,
        "a response to the CANCEL",
        "none" if "CANCEL" not in responses else describe(responses["CANCEL"]),
    )
    if final is None:
        ctx.inconclusive("no final response to the SUBSCRIBE")
    assert final is not None
    ctx.check(
        200 <= (final.status or 0) < 300,
        "the SUBSCRIBE accepted as without the CANCEL (2xx, not 487)",
        describe(final),
        1,
    )


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.4.4
##= type=test
##% The "Allow-Events" header field, if present, MUST include a
##% comprehensive and inclusive list of tokens that indicates the event
##% packages for which the user agent can act as a notifier.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.4.4
##= type=test
##% Any user agent that can act as a notifier for one or more event
##% packages SHOULD include an appropriate "Allow-Events" header field
##% indicating all supported events in all methods which initiate
##% dialogs and their responses (such as INVITE) and OPTIONS responses.
@case(
    "rfc6665-allow-events",
    roles=("uas",),
    level="MUST",
    no_control="judged on the 200 to OPTIONS itself; a refusal ends it inconclusive",
)
def allow_events(ctx: Context) -> None:
    """A presence notifier's 200 to OPTIONS: Allow-Events (a SHOULD) naming presence."""
    _notifier(ctx)
    link = ctx.link()
    options = ctx.request("OPTIONS", link)
    final, _ = ctx.transaction(link, options)
    final = ctx.require_final(final, "response to OPTIONS")
    if not 200 <= (final.status or 0) < 300:
        ctx.inconclusive(f"OPTIONS was not accepted ({describe(final)})")
    values = final.get_all("Allow-Events") + final.get_all("u")
    tokens = {t.strip().lower() for v in values for t in v.split(",") if t.strip()}
    ctx.should(bool(values), "Allow-Events in the 200 to OPTIONS", "none")
    if values:
        ctx.check(
            PACKAGE in tokens,
            f"{PACKAGE} (a package the target notifies) in Allow-Events",
            ", ".join(sorted(tokens)),
        )
