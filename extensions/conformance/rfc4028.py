"""RFC 4028 on the wire: a UAS and session timers (§6, §9): 422 for a too small interval,
the interval and the refresher in the 2xx, a UAC's choice of refresher kept."""

from __future__ import annotations

import re

from conformance.messages import Outgoing
from conformance.model import Context, case, describe
from conformance.sipmsg import Message, param
from conformance.wire import Link

_DELTA = re.compile(r"\s*(\d+)\s*(?:;.*)?$", re.S)


def _timer_supported(ctx: Context) -> None:
    if "timer" not in {tag.lower() for tag in ctx.profile.extensions}:
        ctx.not_applicable("the profile does not list the 'timer' option tag (RFC 4028)")


def _delta(value: str | None) -> int | None:
    match = _DELTA.match(value or "")
    return int(match.group(1)) if match else None


def _invite(ctx: Context, link: Link, *fields: tuple[str, str]) -> Outgoing:
    return ctx.request("INVITE", link, body=_SDP, extra=[("Supported", "timer"), *fields])


def _accepted(ctx: Context, link: Link, invite: Outgoing) -> Message:
    """Send ``invite``; its 2xx (the call is hung up after), else the case is inconclusive."""
    final, _ = ctx.transaction(link, invite)
    ctx.finish_invite(link, invite, final)
    final = ctx.require_final(final, "final response to INVITE")
    if not 200 <= (final.status or 0) < 300:
        ctx.inconclusive(f"the INVITE was not accepted ({describe(final)})")
    return final


##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% When
##% sending the 422 response, the UAS MUST include a Min-SE header field
##% with the value of its minimum interval.
##= https://www.rfc-editor.org/rfc/rfc4028#section-6
##= type=test
##% The 422 response MUST contain a Min-SE
##% header field with the minimum timer for that server.
##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% This minimum interval MUST NOT be lower than 90 seconds.
@case("rfc4028-422-interval-too-small", roles=("uas",), level="MUST")
def interval_too_small(ctx: Context) -> None:
    """Session-Expires: 60 (below the 90 s floor): 422 with Min-SE >= 90, or no timer."""
    _timer_supported(ctx)
    link = ctx.link()
    # the control: the same INVITE with a usual interval is accepted
    ctx.control(link, _invite(ctx, link, ("Session-Expires", "1800")))
    invite = _invite(ctx, link, ("Session-Expires", "60"))
    final, _ = ctx.transaction(link, invite)
    ctx.finish_invite(link, invite, final)
    final = ctx.require_final(final, "final response to INVITE")
    if final.status == 422:
        min_se = _delta(final.get("Min-SE"))
        ctx.check(
            min_se is not None and min_se >= 90,
            "422 with a Min-SE of at least 90 s",
            f"Min-SE: {final.get('Min-SE')}",
            0 if min_se is None else 2,
        )
        return
    # A UAS may accept instead (§9 says MAY), but it can neither raise the interval nor
    # grant one below 90 s: its 2xx then carries no Session-Expires.
    ctx.check(
        200 <= (final.status or 0) < 300 and final.get("Session-Expires") is None,
        "422 with Min-SE, or a 2xx without a session timer",
        f"{describe(final)}; Session-Expires: {final.get('Session-Expires')}",
    )


##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% The UAS MUST set the value of the refresher parameter in the
##% Session-Expires header field in the 2xx response.
##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% The UAS MUST
##% NOT increase the value of the Session-Expires header field.
##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% If the refresher parameter in the Session-Expires header field in the
##% 2xx response has a value of 'uac', the UAS MUST place a Require
##% header field into the response with the value 'timer'.
@case("rfc4028-2xx-session-expires-refresher", roles=("uas",), level="MUST")
def session_expires_echoed(ctx: Context) -> None:
    """Session-Expires: 1800 with Min-SE: 90 accepted: the 2xx names the interval (90 to
    1800 s) and the refresher, with Require: timer when the refresher is the UAC."""
    _timer_supported(ctx)
    link = ctx.link()
    # the control: the INVITE without Session-Expires is accepted
    ctx.control(link, _invite(ctx, link))
    final = _accepted(ctx, link, _invite(ctx, link, ("Session-Expires", "1800"), ("Min-SE", "90")))
    value = final.get("Session-Expires")
    if value is None:
        ctx.check(
            "timer" not in final.option_tags("Require"),
            "no Require: timer without Session-Expires (the UAS runs no timer)",
            describe(final),
        )
        return
    interval, refresher = _delta(value), (param(value, "refresher") or "").lower()
    ctx.check(
        interval is not None and 90 <= interval <= 1800,
        "an interval between Min-SE (90) and the 1800 s asked for",
        f"Session-Expires: {value}",
        requirement=1,
    )
    ctx.check(refresher in ("uac", "uas"), "refresher=uac or uas", f"Session-Expires: {value}")
    if refresher == "uac":
        ctx.check(
            "timer" in final.option_tags("Require"),
            "Require: timer with refresher=uac",
            f"Require: {', '.join(final.option_tags('Require')) or '(none)'}",
            requirement=2,
        )


##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% However, as the table
##% indicates, the UAS cannot override the UAC's choice of refresher, if
##% it made one.
@case("rfc4028-2xx-keeps-uac-refresher", roles=("uas",), level="MUST")
def refresher_kept(ctx: Context) -> None:
    """Session-Expires: 1800;refresher=uac (and then uas): the 2xx keeps each choice."""
    _timer_supported(ctx)
    link = ctx.link()
    # the control: the INVITE without Session-Expires is accepted
    ctx.control(link, _invite(ctx, link))
    for chosen in ("uac", "uas"):
        invite = _invite(ctx, link, ("Session-Expires", f"1800;refresher={chosen}"))
        value = _accepted(ctx, link, invite).get("Session-Expires")
        if value is None:
            continue  # no timer at all: nothing to override
        got = (param(value, "refresher") or "").lower()
        ctx.check(got == chosen, f"refresher={chosen} kept", f"Session-Expires: {value}")


##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% The value MUST NOT be set to a duration lower than the value in the
##% Min-SE header field in the request, if it is present.
##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% The UAS response MAY reduce its value but MUST NOT set it to a
##% duration lower than the value in the Min-SE header field in the
##% request, if it is present; otherwise the UAS MAY reduce its value but
##% MUST NOT set it to a duration lower than 90 seconds.
##= https://www.rfc-editor.org/rfc/rfc4028#section-5
##= type=test
##% The Min-SE header field MUST NOT be used in responses except for those
##% with a 422 response code.
##= https://www.rfc-editor.org/rfc/rfc4028#section-5
##= type=test
##% When present in a request or response, its value MUST NOT
##% be less than 90 seconds.
##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% If the refresher parameter in the 2xx response has a value of 'uas'
##% and the Supported header field in the request contained the value
##% 'timer', the UAS SHOULD place a Require header field into the
##% response with the value 'timer'.
@case("rfc4028-2xx-respects-min-se", roles=("uas",), level="MUST")
def respects_min_se(ctx: Context) -> None:
    """Session-Expires: 1800 with Min-SE: 1200: a 2xx interval of 1200 to 1800 s, no
    Min-SE in the 2xx (only a 422 carries one), Require: timer with refresher=uas too."""
    _timer_supported(ctx)
    link = ctx.link()
    # the control: the INVITE without Session-Expires is accepted
    ctx.control(link, _invite(ctx, link))
    invite = _invite(ctx, link, ("Session-Expires", "1800"), ("Min-SE", "1200"))
    final, _ = ctx.transaction(link, invite)
    ctx.finish_invite(link, invite, final)
    final = ctx.require_final(final, "final response to INVITE")
    if final.status == 422:
        ctx.check(False, "no 422 to an interval above the Min-SE asked for", describe(final), 1)
    if not 200 <= (final.status or 0) < 300:
        ctx.inconclusive(f"the INVITE was not accepted ({describe(final)})")
    ctx.check(
        final.get("Min-SE") is None,
        "no Min-SE in a 2xx",
        f"Min-SE: {final.get('Min-SE')}",
        2,
    )
    value = final.get("Session-Expires")
    if value is None:
        return  # the UAS runs no timer: nothing more to judge
    interval = _delta(value)
    ctx.check(
        interval is not None and interval >= 90,
        "a Session-Expires of at least 90 s",
        f"Session-Expires: {value}",
        3,
    )
    ctx.check(
        interval is not None and 1200 <= interval <= 1800,
        "an interval between the Min-SE asked for (1200) and 1800 s",
        f"Session-Expires: {value}",
    )
    if (param(value, "refresher") or "").lower() == "uas":
        ctx.should(
            "timer" in final.option_tags("Require"),
            "Require: timer with refresher=uas (the request had Supported: timer)",
            f"Require: {', '.join(final.option_tags('Require')) or '(none)'}",
        )


##= https://www.rfc-editor.org/rfc/rfc4028#section-4
##= type=test
##% In other words, SIP entities MUST be
##% prepared to handle Session-Expires header field values of any
##% duration greater than 90 seconds
@case("rfc4028-long-interval-accepted", roles=("uas",), level="MUST")
def long_interval(ctx: Context) -> None:
    """Session-Expires: 2592000 (30 days): accepted, with an interval of at most that."""
    _timer_supported(ctx)
    link = ctx.link()
    # the control: the INVITE with the usual 1800 s is accepted
    ctx.control(link, _invite(ctx, link, ("Session-Expires", "1800")))
    invite = _invite(ctx, link, ("Session-Expires", "2592000"))
    final, _ = ctx.transaction(link, invite)
    ctx.finish_invite(link, invite, final)
    final = ctx.require_final(final, "final response to INVITE")
    ctx.check(200 <= (final.status or 0) < 300, "a 2xx to a 30-day interval", describe(final))
    interval = _delta(final.get("Session-Expires"))
    ctx.check(
        interval is None or 90 <= interval <= 2592000,
        "an interval between 90 s and the 2592000 s asked for",
        f"Session-Expires: {final.get('Session-Expires')}",
    )


_SDP = (
    b"v=0\r\no=tester 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)
