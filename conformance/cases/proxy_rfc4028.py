"""RFC 4028 (session timers) seen at a proxy (§8): Session-Expires and Min-SE passing through
an INVITE, never lowered below Min-SE nor raised above a value already at or over it, the
'refresher' parameter untouched, Min-SE never lowered, a 422 carrying Min-SE, the 2xx's
Session-Expires forwarded as it came, and — for a proxy that requests a session timer by
inserting a Session-Expires — the 2xx completed for a UAC that supports timers (§8.2).

A proxy need not be session-timer aware at all (§8: "MAY"): sipref's proxy and the Kamailio
configuration of the tests are not (their profiles say so); for them these cases judge that
the headers pass through as the rules allow, and the insertion case is not applicable.  The
runner plays the upstream UAC and the downstream UAS (`conformance.cases._proxy_support`).
"""

from __future__ import annotations

from conformance.cases._proxy_support import (
    ack_upstream,
    arrives,
    downstream_uri,
    final_of,
    reply,
    upstream,
)
from conformance.cases.proxy import FORWARDED
from conformance.cases.proxy_responses import _close, _hang_up
from conformance.messages import Outgoing, ack_for, bye_for
from conformance.model import Context, case, describe
from conformance.sipmsg import Message, param
from conformance.wire import Link, Listener

#: load order of the case modules (conformance.discovery)
ORDER = 79

PROXY = ("proxy",)

Got = tuple[Message, tuple[str, int]]


def _seconds(value: str | None) -> int | None:
    """The delta-seconds of a Session-Expires or Min-SE value (None: absent or unreadable)."""
    if value is None:
        return None
    try:
        return int(value.split(";", 1)[0].strip())
    except ValueError:
        return None


def _send(
    ctx: Context, headers: list[tuple[str, str]]
) -> tuple[Link, Listener, Outgoing, Got | None, Message | None]:
    """An INVITE with ``headers`` through the proxy to a downstream socket: the copy that
    arrived there (None: not forwarded) and, if not, the proxy's final response."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request("INVITE", link, uri=downstream_uri(down), extra=headers)
    link.send(bytes(req))
    got = arrives(down, "INVITE", req.call_id)
    if got is not None:
        return link, down, req, got, None
    final = final_of(link, req, timeout=1.0)
    ack_upstream(link, req, final)
    return link, down, req, None, final


def _forwarded(ctx: Context, headers: list[tuple[str, str]]) -> tuple[Link, Listener, Got]:
    """`_send`, the copy closed with 486 downstream: a request not forwarded is inconclusive
    (the proxy turned the INVITE down before any session-timer rule applied)."""
    link, down, req, got, final = _send(ctx, headers)
    if got is None:
        ctx.inconclusive(f"the proxy did not forward the INVITE ({describe(final)})")
    assert got is not None
    _close(link, down, req, got)
    return link, down, got


##= https://www.rfc-editor.org/rfc/rfc4028#section-8.1
##= type=test
##% If the request already had a Session-Expires header field, the proxy MAY reduce its value
##% but MUST NOT set it to a duration lower than the value in the Min-SE header field in the
##% request, if it is present.
##= https://www.rfc-editor.org/rfc/rfc4028#section-8.1
##= type=test
##% If the value of the Session-Expires header field is greater than or equal to the value in
##% the Min-SE header field (recall that the default is 90 seconds when the Min-SE header field
##% is not present), the proxy MUST NOT increase the value of the Session-Expires header field.
##= https://www.rfc-editor.org/rfc/rfc4028#section-8.1
##= type=test
##% The proxy MUST NOT insert or modify the value of the 'refresher' parameter in the
##% Session-Expires header field.
##= https://www.rfc-editor.org/rfc/rfc4028#section-8.1
##= type=test
##% A proxy MUST NOT insert a Min-SE header field or modify the value of an existing header
##% field in a proxied request if that request contains a Supported header field with the
##% value 'timer'.
##= https://www.rfc-editor.org/rfc/rfc4028#section-5
##= type=test
##% When present in a request or response, its value MUST NOT be less than 90 seconds.
@case("proxy-4028-session-expires-forwarded", roles=PROXY, no_control=FORWARDED)
def session_expires_forwarded(ctx: Context) -> None:
    """Session-Expires, its refresher and Min-SE pass through within the §8.1 bounds.

    An INVITE with ``Supported: timer``, ``Session-Expires: 1800;refresher=uac`` and
    ``Min-SE: 600``: the copy has Session-Expires between 600 and 1800, refresher=uac, and
    Min-SE 600 as it was."""
    _link, _down, got = _forwarded(
        ctx,
        [
            ("Supported", "timer"),
            ("Session-Expires", "1800;refresher=uac"),
            ("Min-SE", "600"),
        ],
    )
    msg = got[0]
    value = msg.get("Session-Expires")
    seconds = _seconds(value)
    ctx.check(seconds is not None, "a Session-Expires in the forwarded INVITE", str(value), 0)
    assert seconds is not None and value is not None
    ctx.check(seconds >= 600, "Session-Expires not below Min-SE 600", value, 0)
    ctx.check(seconds <= 1800, "Session-Expires not increased over 1800", value, 1)
    ctx.check(param(value, "refresher") == "uac", "refresher=uac untouched", value, 2)
    min_se = msg.get_all("Min-SE")
    ctx.check(min_se == ["600"], "Min-SE: 600 untouched", " | ".join(min_se) or "none", 3)
    ctx.check(seconds >= 90, "a Session-Expires of 90 s or more", value, 4)


##= https://www.rfc-editor.org/rfc/rfc4028#section-4
##= type=test
##% In other words, SIP entities MUST be prepared to handle Session-Expires header field values
##% of any duration greater than 90 seconds
##= https://www.rfc-editor.org/rfc/rfc4028#section-8.1
##= type=test
##% The proxy MUST NOT insert or modify the value of the 'refresher' parameter in the
##% Session-Expires header field.
@case("proxy-4028-long-interval", roles=PROXY, no_control=FORWARDED)
def long_interval(ctx: Context) -> None:
    """A session interval of a day is forwarded, no refresher put in.

    ``Session-Expires: 86400`` without refresher: the copy's value is at most 86400 and at
    least 90, and no refresher parameter put in."""
    _link, _down, got = _forwarded(ctx, [("Supported", "timer"), ("Session-Expires", "86400")])
    value = got[0].get("Session-Expires")
    seconds = _seconds(value)
    ctx.check(
        seconds is not None and 90 <= seconds <= 86400,
        "Session-Expires between 90 and 86400",
        str(value),
        0,
    )
    assert value is not None
    ctx.check(param(value, "refresher") is None, "no refresher parameter inserted", value, 1)


##= https://www.rfc-editor.org/rfc/rfc4028#section-8.1
##= type=test
##% If the value of the Session-Expires header field is lower than the value of the Min-SE
##% header field (possibly because the proxy increased the value of the Min-SE header field,
##% as described below), the proxy MUST increase the value of the Session-Expires header field
##% to make it equal to Min-SE header field value.
##= https://www.rfc-editor.org/rfc/rfc4028#section-8.1
##= type=test
##% If a Min-SE header field is already present, the proxy SHOULD increase (but MUST NOT
##% decrease) the value to its minimum interval.
##= https://www.rfc-editor.org/rfc/rfc4028#section-8.1
##= type=test
##% The proxy MUST then increase the Session-Expires header field value to be equal to the
##% value in the Min-SE header field, as described above.
##= https://www.rfc-editor.org/rfc/rfc4028#section-8.1
##= type=test
##% Rather, the proxy SHOULD insert a Min-SE header field containing its minimum interval.
@case("proxy-4028-min-se-not-lowered", roles=PROXY, no_control=FORWARDED)
def min_se_not_lowered(ctx: Context) -> None:
    """Min-SE is never lowered, Session-Expires never left below it.

    An INVITE without ``Supported: timer`` with ``Session-Expires: 100`` and
    ``Min-SE: 95``: the copy's Min-SE is 95 or more (raised to the proxy's minimum, never
    lowered) and its Session-Expires not below that Min-SE (raised to equal it when the
    proxy raised Min-SE over 100)."""
    _link, _down, got = _forwarded(ctx, [("Session-Expires", "100"), ("Min-SE", "95")])
    msg = got[0]
    values = msg.get_all("Min-SE")
    min_se = _seconds(values[0]) if len(values) == 1 else None
    ctx.check(
        min_se is not None and min_se >= 95,
        "one Min-SE of 95 or more",
        " | ".join(values) or "none",
        1,
    )
    assert min_se is not None
    value = msg.get("Session-Expires")
    seconds = _seconds(value)
    ctx.check(seconds is not None, "a Session-Expires in the forwarded INVITE", str(value), 0)
    assert seconds is not None
    if min_se > 100:
        # the proxy's minimum is over the request's interval: raised to equal it
        ctx.check(seconds == min_se, f"Session-Expires raised to Min-SE {min_se}", str(value), 2)
    else:
        ctx.check(min_se <= seconds <= 100, "Session-Expires 95..100", str(value), 0)


##= https://www.rfc-editor.org/rfc/rfc4028#section-8.1
##= type=test
##% When sending the 422 response, the proxy MUST include a Min-SE header field with the value
##% of its minimum interval.
##= https://www.rfc-editor.org/rfc/rfc4028#section-8.1
##= type=test
##% That minimum MUST NOT be lower than 90 seconds.
##= https://www.rfc-editor.org/rfc/rfc4028#section-6
##= type=test
##% The 422 response MUST contain a Min-SE header field with the minimum timer for that server.
@case("proxy-4028-422-min-se", roles=PROXY, no_control=FORWARDED)
def interval_too_small(ctx: Context) -> None:
    """A 422 for a too small interval carries Min-SE (the proxy's, or the UAS's relayed).

    An INVITE with ``Supported: timer`` and the smallest interval (``Session-Expires: 90``):
    a proxy whose minimum is higher answers 422 with its Min-SE (over 90); one that forwards
    it relays the downstream UAS's ``422`` with ``Min-SE: 1800`` upstream with that Min-SE."""
    link, down, req, got, final = _send(
        ctx, [("Supported", "timer"), ("Session-Expires", "90"), ("Min-SE", "90")]
    )
    if got is None:
        ctx.check(
            final is not None and final.status == 422,
            "the INVITE forwarded, or 422 from the proxy",
            describe(final),
            0,
        )
        assert final is not None
        values = final.get_all("Min-SE")
        mine = _seconds(values[0]) if values else None
        ctx.check(mine is not None, "a Min-SE in the proxy's 422", "none", 0)
        assert mine is not None
        ctx.check(mine >= 90, "a minimum of 90 s or more", str(mine), 1)
        ctx.check(mine > 90, "a minimum over the refused 90 s", str(mine), 2)
        return
    reply(down, got, 422, extra=[("Min-SE", "1800")])
    down.expect(lambda m: m.method == "ACK", timeout=0.3)
    final = final_of(link, req)
    ack_upstream(link, req, final)
    if final is None or final.status != 422:
        ctx.fail("the downstream 422 forwarded upstream", describe(final), 2)
    assert final is not None
    values = final.get_all("Min-SE")
    ctx.check(values == ["1800"], "Min-SE: 1800 in the 422", " | ".join(values) or "none", 2)


##= https://www.rfc-editor.org/rfc/rfc4028#section-8.2
##= type=test
##% The proxy MUST NOT modify the value of the Session-Expires header field received in the
##% response (assuming one was present) before forwarding it upstream.
##= https://www.rfc-editor.org/rfc/rfc4028#section-5
##= type=test
##% The Min-SE header field MUST NOT be used in responses except for those with a 422 response
##% code.
@case("proxy-4028-2xx-session-expires-unchanged", roles=PROXY, no_control=FORWARDED)
def response_unchanged(ctx: Context) -> None:
    """The Session-Expires of the 2xx is forwarded unchanged, and no Min-SE is added.

    The downstream UAS's 200 with ``Session-Expires: 1200;refresher=uas`` and
    ``Require: timer`` reaches the UAC with that Session-Expires as it was, and no Min-SE."""
    link, down, req, got, final = _send(
        ctx, [("Supported", "timer"), ("Session-Expires", "1800"), ("Min-SE", "90")]
    )
    if got is None:
        ctx.inconclusive(f"the proxy did not forward the INVITE ({describe(final)})")
    assert got is not None
    reply(down, got, 200, extra=[("Session-Expires", "1200;refresher=uas"), ("Require", "timer")])
    ok = upstream(link, req, lambda m: m.status == 200)
    if ok is None:
        _close(link, down, req, got)
        ctx.inconclusive("the 200 was not forwarded upstream")
    assert ok is not None
    _hang_up(ctx, link, down, req, ok)
    value = ok.get("Session-Expires") or ""
    ctx.check(
        value.replace(" ", "") == "1200;refresher=uas",
        "Session-Expires: 1200;refresher=uas",
        value or "none",
        0,
    )
    ctx.check(not ok.get_all("Min-SE"), "no Min-SE in the 200", ok.get("Min-SE") or "", 1)


##= https://www.rfc-editor.org/rfc/rfc4028#section-8.1
##= type=test
##% However, this is NOT RECOMMENDED.
@case("proxy-4028-no-require-timer", roles=PROXY, level="SHOULD", no_control=FORWARDED)
def no_require_timer(ctx: Context) -> None:
    """No ``Require: timer`` is put on the INVITE of a UAC not supporting timers.

    An INVITE without ``Supported: timer`` is not forwarded with ``Require: timer`` put in
    by the proxy (§8.1: a MAY, NOT RECOMMENDED)."""
    _link, _down, got = _forwarded(ctx, [("Supported", "replaces")])
    required = [v.strip().lower() for v in got[0].get_all("Require")]
    ctx.should("timer" not in required, "no Require: timer", ", ".join(required))


##= https://www.rfc-editor.org/rfc/rfc4028#section-8.1
##= type=test
##% The proxy MUST NOT include a refresher parameter in the header field value.
##= https://www.rfc-editor.org/rfc/rfc4028#section-4
##= type=test
##% but entities that insert the Session-Expires header field SHOULD NOT choose values of less
##% than 30 minutes.
##= https://www.rfc-editor.org/rfc/rfc4028#section-8
##= type=test
##% Stateless proxies MUST NOT attempt to request session timers.
##= https://www.rfc-editor.org/rfc/rfc4028#section-8
##= type=test
##% Proxies that ask for session timers SHOULD record-route, as they won't receive refreshes if
##% they don't.
##= https://www.rfc-editor.org/rfc/rfc4028#section-11.2
##= type=test
##% This means that proxies that record-route and request session timer SHOULD record-route
##% with a SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc4028#section-8.1
##= type=test
##% Assuming that the proxy has requested a session timer (and thus has possibly inserted the
##% Session-Expires header field or reduced it), the proxy MUST remember that it is using a
##% session timer, and also remember the value of the Session-Expires header field from the
##% proxied request.
##= https://www.rfc-editor.org/rfc/rfc4028#section-8.1
##= type=test
##% This MUST be remembered for the duration of the transaction.
##= https://www.rfc-editor.org/rfc/rfc4028#section-8.1
##= type=test
##% The proxy MUST remember, for the duration of the transaction, whether the request
##% contained the Supported header field with the value 'timer'.
##= https://www.rfc-editor.org/rfc/rfc4028#section-8.2
##= type=test
##% This proxy MUST insert a Session-Expires header field into the response with the value it
##% remembered from the forwarded request.
##= https://www.rfc-editor.org/rfc/rfc4028#section-8.2
##= type=test
##% It MUST set the value of the 'refresher' parameter to 'uac'.
##= https://www.rfc-editor.org/rfc/rfc4028#section-8.2
##= type=test
##% The proxy MUST add the 'timer' option tag to any Require header field in the response, and
##% if none was present, add the Require header field with that value before forwarding it
##% upstream.
@case("proxy-4028-inserted-session-timer", roles=PROXY, no_control=FORWARDED)
def inserted_timer(ctx: Context) -> None:
    """A proxy inserting Session-Expires completes the 2xx for the UAC (§8.1, §8.2).

    An INVITE with ``Supported: timer`` and no Session-Expires: a proxy that requests a
    session timer inserts one (no refresher, 1800 s or more, stateful, record-routing) and,
    the downstream 200 having none, completes the 200 with that value, refresher=uac and
    ``Require: timer``.  Not applicable to a proxy that inserts none."""
    link, down, req, got, final = _send(ctx, [("Supported", "timer")])
    if got is None:
        ctx.inconclusive(f"the proxy did not forward the INVITE ({describe(final)})")
    assert got is not None
    value = got[0].get("Session-Expires")
    if value is None:
        _close(link, down, req, got)
        ctx.not_applicable(
            "the proxy inserted no Session-Expires: it requests no session timer "
            "(RFC 4028 §8.1: a MAY; not session-timer aware)"
        )
    assert value is not None
    # a stateless proxy sends no 100 Trying (RFC 3261 §16.11): a stateful one does
    trying = upstream(link, req, lambda m: m.status == 100, timeout=0.5)
    seconds = _seconds(value)
    routes = got[0].get_all("Record-Route")
    reply(down, got, 200)
    ok = upstream(link, req, lambda m: m.status == 200)
    if ok is None:
        _close(link, down, req, got)
        ctx.inconclusive("the 200 was not forwarded upstream")
    assert ok is not None
    _hang_up(ctx, link, down, req, ok)
    ctx.check(param(value, "refresher") is None, "no refresher parameter", value, 0)
    ctx.should(seconds is not None and seconds >= 1800, "an interval of 1800 s or more", value)
    ctx.check(trying is not None, "a 100 Trying (a stateful proxy)", "none", 2)
    ctx.should(bool(routes), "a Record-Route of the proxy's", "none")
    ctx.should(
        any(r.lstrip("<").startswith("sips:") for r in routes),
        "a SIPS Record-Route URI",
        " | ".join(routes) or "none",
    )
    answered = ok.get("Session-Expires")
    ctx.check(
        _seconds(answered) == seconds,
        f"Session-Expires {seconds} in the 200",
        str(answered),
        8,
    )
    assert answered is not None
    ctx.check(param(answered, "refresher") == "uac", "refresher=uac", answered, 9)
    required = [v.strip().lower() for v in ok.get_all("Require")]
    ctx.check("timer" in required, "Require: timer", ", ".join(required) or "none", 10)


##= https://www.rfc-editor.org/rfc/rfc4028#section-8.3
##= type=test
##% Unlike the UA, it MUST NOT send a BYE.
@case(
    "proxy-4028-no-bye-at-expiry",
    roles=PROXY,
    no_control=FORWARDED,
    tags=("slow",),
    timeout=120,
)
def no_bye_at_expiry(ctx: Context) -> None:
    """A session whose 90 s interval passes unrefreshed is not ended by the proxy.

    The 200 says ``Session-Expires: 90;refresher=uac`` and the UAC never refreshes: for
    100 s no BYE comes from the proxy to either end (a slow case: run with --slow)."""
    link, down, req, got, final = _send(
        ctx, [("Supported", "timer"), ("Session-Expires", "90"), ("Min-SE", "90")]
    )
    if got is None:
        ctx.inconclusive(f"the proxy did not forward the INVITE ({describe(final)})")
    assert got is not None
    reply(down, got, 200, extra=[("Session-Expires", "90;refresher=uac"), ("Require", "timer")])
    ok = upstream(link, req, lambda m: m.status == 200)
    if ok is None:
        _close(link, down, req, got)
        ctx.inconclusive("the 200 was not forwarded upstream")
    assert ok is not None
    link.send(bytes(ack_for(req, ok, ctx.target)), "ACK (2xx)")
    arrives(down, "ACK", req.call_id, timeout=2.0)
    bye_down = arrives(down, "BYE", req.call_id, timeout=100.0)
    bye_up = link.expect(
        lambda m: not m.is_response and m.method == "BYE" and m.call_id == req.call_id,
        timeout=0.1,
    )
    _hang_up_after(ctx, link, down, req, ok, bye_down)
    ctx.check(
        bye_down is None and bye_up is None,
        "no BYE from the proxy after the session interval",
        "a BYE " + ("downstream" if bye_down is not None else "upstream"),
    )


def _hang_up_after(
    ctx: Context, link: Link, down: Listener, req: Outgoing, ok: Message, bye: Got | None
) -> None:
    """End the call: answer a BYE the proxy sent, else the UAC's BYE through the proxy."""
    if bye is not None:
        reply(down, bye, 200)
        return
    end = bye_for(req, ok, ctx.target)
    link.send(bytes(end), "BYE")
    got = arrives(down, "BYE", req.call_id, timeout=2.0)
    if got is not None:
        reply(down, got, 200)
        final_of(link, end)
