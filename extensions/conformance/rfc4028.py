"""RFC 4028 on the wire: a UAS and session timers (§6, §9): 422 for a too small interval,
the interval and the refresher in the 2xx, a UAC's choice of refresher kept."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable

from conformance.cases.uac_dialog import _sdp_version
from conformance.cases.uac_session import INVITED
from conformance.messages import Outgoing, ack_for
from conformance.model import Context, case, describe
from conformance.sipmsg import Message, param
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer
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


# --- the UAS's own timer: the interval it picks, its refreshes and its BYE (§4, §9, §10) ---


def _respond(link: Link, request: Message, status: int, headers: list[tuple[str, str]]) -> None:
    """Answer a request the target sent in the dialog (its refresh, its BYE)."""
    lines = [f"SIP/2.0 {status} {'OK' if status == 200 else 'Whatever'}"]
    lines += [f"Via: {v}" for v in request.get_all("Via")]
    lines += [f"{name}: {request.get(name)}" for name in ("From", "To", "Call-ID", "CSeq")]
    lines += [f"{name}: {value}" for name, value in headers]
    body = _SDP if request.method == "INVITE" and request.body else b""
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    link.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body, f"{status} to {request.method}")


def _timed_call(ctx: Context, link: Link, value: str) -> tuple[Outgoing, Message, float]:
    """A call asking for ``Session-Expires: value`` (Min-SE 90), accepted with a timer and
    ACKed; the INVITE, the 2xx and when the ACK went.  Not applicable without a timer."""
    invite = _invite(ctx, link, ("Session-Expires", value), ("Min-SE", "90"))
    final, _ = ctx.transaction(link, invite)
    final = ctx.require_final(final, "final response to INVITE")
    if not 200 <= (final.status or 0) < 300:
        ctx.finish_invite(link, invite, final)
        ctx.inconclusive(f"the INVITE was not accepted ({describe(final)})")
    link.send(bytes(ack_for(invite, final, ctx.target)), "ACK")
    at = time.monotonic()
    ctx.call(link, invite, final)
    if final.get("Session-Expires") is None:
        ctx.not_applicable("the 2xx runs no session timer (no Session-Expires)")
    return invite, final, at


##= https://www.rfc-editor.org/rfc/rfc4028#section-4
##= type=test
##% However, 1800 seconds (30 minutes) is RECOMMENDED as the value for the
##% Session-Expires header field.
##= https://www.rfc-editor.org/rfc/rfc4028#section-4
##= type=test
##% but
##% entities that insert the Session-Expires header field SHOULD NOT
##% choose values of less than 30 minutes.
@case("rfc4028-uas-chosen-interval", roles=("uas",), level="SHOULD")
def uas_chosen_interval(ctx: Context) -> None:
    """Supported: timer without Session-Expires: a 2xx that starts a timer of its own picks
    1800 s (30 minutes at least)."""
    _timer_supported(ctx)
    link = ctx.link()
    # the control: the INVITE with a usual interval is accepted
    ctx.control(link, _invite(ctx, link, ("Session-Expires", "1800")))
    final = _accepted(ctx, link, _invite(ctx, link))
    value = final.get("Session-Expires")
    if value is None:
        return  # the UAS inserts no Session-Expires (a MAY of §9): nothing chosen to judge
    ctx.should((_delta(value) or 0) >= 1800, "an interval of 30 minutes or more", value or "")
    ctx.should(_delta(value) == 1800, "Session-Expires: 1800", value or "")


##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% If UA wishes to continue with the session
##% beyond the session expiration, it MUST generate a refresh before the
##% session expiration.
##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##= type=test
##% It is RECOMMENDED that this refresh be sent once
##% half the session interval has elapsed.
@case(
    "rfc4028-uas-refreshes",
    roles=("uas",),
    level="MUST",
    timeout=120,
    tags=("slow",),
    no_control="judged on the refresh the target sends in the call the case sets up",
)
def uas_refreshes(ctx: Context) -> None:
    """Session-Expires: 90;refresher=uas (the smallest interval allowed): the UAS's refresh
    (re-INVITE or UPDATE) before 90 s, best at 45 s.  Slow: it waits 45 s."""
    _timer_supported(ctx)
    link = ctx.link()
    invite, final, at = _timed_call(ctx, link, "90;refresher=uas")
    if (param(final.get("Session-Expires") or "", "refresher") or "").lower() != "uas":
        ctx.inconclusive(f"the 2xx did not keep refresher=uas ({final.get('Session-Expires')})")
    got = link.expect(
        lambda m: m.method in ("INVITE", "UPDATE", "BYE") and m.call_id == invite.call_id,
        timeout=92.0,
    )
    elapsed = time.monotonic() - at
    if got is not None and got.method != "BYE":
        _respond(link, got, 200, [("Session-Expires", "90;refresher=uas"), ("Require", "timer")])
    ctx.check(
        got is not None and got.method != "BYE" and elapsed < 90,
        "a refresh before the session expiration (90 s)",
        f"{got.start_line if got else 'nothing'} after {elapsed:.1f} s",
    )
    ctx.should(40 <= elapsed <= 60, "the refresh at half the interval (45 s)", f"{elapsed:.1f} s")


##= https://www.rfc-editor.org/rfc/rfc4028#section-10
##= type=test
##% Similarly, if the side not performing refreshes does not receive a
##% session refresh request before the session expiration, it SHOULD send
##% a BYE to terminate the session, slightly before the session
##% expiration.
##= https://www.rfc-editor.org/rfc/rfc4028#section-10
##= type=test
##% The minimum of 32 seconds and one third of the session
##% interval is RECOMMENDED.
@case(
    "rfc4028-uas-bye-without-refresh",
    roles=("uas",),
    level="SHOULD",
    timeout=120,
    tags=("slow",),
    no_control="judged on the BYE the target sends in the call the case sets up",
)
def uas_bye_without_refresh(ctx: Context) -> None:
    """Session-Expires: 90;refresher=uac and the runner never refreshes: the UAS's BYE
    before 90 s, best 30 s early (at 60 s).  Slow: it waits 60 s."""
    _timer_supported(ctx)
    link = ctx.link()
    invite, final, at = _timed_call(ctx, link, "90;refresher=uac")
    if (param(final.get("Session-Expires") or "", "refresher") or "").lower() != "uac":
        ctx.inconclusive(f"the 2xx did not keep refresher=uac ({final.get('Session-Expires')})")
    got = link.expect(lambda m: m.method == "BYE" and m.call_id == invite.call_id, timeout=92.0)
    elapsed = time.monotonic() - at
    if got is not None:
        _respond(link, got, 200, [])
        dialog = ctx.call(link, invite, final)
        dialog.ended = True
    ctx.should(
        got is not None and elapsed < 90.5,
        "a BYE before the session expiration (90 s)",
        f"after {elapsed:.1f} s" if got else "none",
    )
    ctx.should(55 <= elapsed <= 65, "the BYE 30 s early (at 60 s)", f"{elapsed:.1f} s")


# --- the UAC role: the runner is the UAS the target calls (conformance.trigger.Peer) ------
#
# A refresh is due half a session interval after the 2xx (§7.2) and the 90 s floor (§4)
# makes that 45 s at least: too long for a quick case.  So the runner's 2xx grants a few
# seconds; a UAC that holds such an interval as 90 s (its right: §4 forbids the UAS to send
# it) sends nothing in time, and those cases say not applicable.

TIMED = "a call from the target asking for a session timer ([uac] timer)"
#: the runner's Allow without UPDATE: a refresh must be a re-INVITE
ALLOW_NO_UPDATE = "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS"
ALLOW_UPDATE = ALLOW_NO_UPDATE + ", UPDATE"


def _timer_invite(ctx: Context, kind: str = "timer") -> tuple[Peer, Message, tuple[str, int]]:
    """The triggered INVITE; not applicable unless it names 'timer' or a Session-Expires."""
    peer = Peer(ctx, kind)
    invite, addr = peer.first("INVITE", TIMED)
    if "timer" not in invite.option_tags("Supported") and invite.get("Session-Expires") is None:
        ctx.not_applicable("the INVITE neither lists 'timer' in Supported nor asks for a timer")
    return peer, invite, addr


def _granted(
    peer: Peer, invite: Message, addr: tuple[str, int], value: str, *headers: str
) -> tuple[float, Message | None]:
    """A 200 with ``Session-Expires: value`` (and Require: timer); when it went, its ACK."""
    peer.answer(
        invite, addr, 200, headers=[f"Session-Expires: {value}", "Require: timer", *headers]
    )
    at = time.monotonic()
    ack = peer.request("ACK", 3.0, invite.call_id)
    return at, ack[0] if ack else None


def _in_dialog(invite: Message, *methods: str) -> Callable[[Message], bool]:
    return lambda m: (
        m.method in methods and m.call_id == invite.call_id and m.branch != invite.branch
    )


def _o_line(msg: Message) -> str | None:
    for line in msg.body.decode("utf-8", "replace").splitlines():
        if line.startswith("o="):
            return line.strip()
    return None


##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
##= type=test
##% A UAC that supports the session timer extension defined here MUST
##% include a Supported header field in each request (except ACK),
##% listing the option tag 'timer' [2].
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
##= type=test
##% The Supported header field containing 'timer' MUST still
##% be included, even if the Require or Proxy-Require header fields are
##% present containing 'timer'.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
##= type=test
##% If a Min-SE header is included in the initial session refresh request,
##% the value of the Session-Expires MUST be greater than or equal to the
##% value in Min-SE.
##= https://www.rfc-editor.org/rfc/rfc4028#section-5
##= type=test
##% When present in a request or response, its value MUST NOT
##% be less than 90 seconds.
##= https://www.rfc-editor.org/rfc/rfc4028#section-4
##= type=test
##% In other words, SIP entities MUST be
##% prepared to handle Session-Expires header field values of any
##% duration greater than 90 seconds
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
##= type=test
##% However, usage of either Require or
##% Proxy-Require by the UAC is NOT RECOMMENDED.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
##= type=test
##% However, it is RECOMMENDED that the
##% parameter be omitted so that it can be selected by the negotiation
##% mechanisms described below.
##= https://www.rfc-editor.org/rfc/rfc4028#section-4
##= type=test
##% However, 1800 seconds (30 minutes) is RECOMMENDED as the value for the
##% Session-Expires header field.
##= https://www.rfc-editor.org/rfc/rfc4028#section-4
##= type=test
##% but
##% entities that insert the Session-Expires header field SHOULD NOT
##% choose values of less than 30 minutes.
@case(
    "uac-4028-invite-session-timer",
    roles=UAC,
    timeout=15,
    preamble=TIMED,
    no_control=RUNNER_ANSWERS,
)
def uac_invite_session_timer(ctx: Context) -> None:
    """The INVITE: Supported: timer (even beside Require), a Session-Expires no smaller than
    its Min-SE (itself 90 s at least), best 1800 s without a refresher or Require; a 2xx
    granting 30 days (refresher=uac) is taken (ACK, no BYE)."""
    peer, invite, addr = _timer_invite(ctx)
    asked = invite.get("Session-Expires")
    minimum = invite.get("Min-SE")
    _, ack = _granted(peer, invite, addr, "2592000;refresher=uac", ALLOW_NO_UPDATE)
    bye = peer.request("BYE", max(0.5, 3 * ctx.profile.t1), invite.call_id)
    peer.serve(0.2)
    required = invite.option_tags("Require") + invite.option_tags("Proxy-Require")
    ctx.check(
        "timer" in invite.option_tags("Supported"),
        "Supported: timer in the INVITE"
        + (" (beside Require: timer)" if "timer" in required else ""),
        f"Supported: {invite.get('Supported')}",
        1 if "timer" in required else 0,
    )
    if minimum is not None:
        ctx.check(
            (_delta(minimum) or 0) >= 90, "a Min-SE of 90 s or more", f"Min-SE: {minimum}", 3
        )
    if asked is not None and minimum is not None:
        ctx.check(
            (_delta(asked) or 0) >= (_delta(minimum) or 0),
            "a Session-Expires no smaller than the Min-SE",
            f"Session-Expires: {asked}; Min-SE: {minimum}",
            2,
        )
    ctx.check(
        ack is not None and bye is None,
        "a 30-day interval taken (the 2xx ACKed, no BYE)",
        "no ACK" if ack is None else "a BYE at once",
        4,
    )
    ctx.should("timer" not in required, "no Require/Proxy-Require: timer", ", ".join(required))
    if asked is not None:
        ctx.should(
            param(asked, "refresher") is None,
            "no refresher parameter",
            f"Session-Expires: {asked}",
        )
        ctx.should(
            _delta(asked) == 1800,
            "Session-Expires: 1800 (30 minutes)",
            f"Session-Expires: {asked}",
        )


##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
##= type=test
##% If it
##% does, the UAC MUST look for the Session-Expires header field to
##% process the response.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
##= type=test
##% The UAC MUST set the
##% identity of the refresher to the value of this parameter.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
##= type=test
##% If the UA
##% seeks to continue with the session beyond the session expiration, it
##% MUST generate a refresh before the session expiration.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
##= type=test
##% It is
##% RECOMMENDED that this refresh be sent once half the session interval
##% has elapsed.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% The values of Supported, Require, and Proxy-Require used in the
##% initial Session refresh request MUST be used.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% In a session refresh request sent within a dialog with an active
##% session timer, the Session-Expires header field SHOULD be present.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% When present, it SHOULD be equal to the maximum of the Min-SE header
##% field (recall that its default value when not present is 90 seconds)
##% and the current session interval.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% If the session refresh request is not the initial one, it is
##% RECOMMENDED that the refresher parameter be set to 'uac' if the
##% element sending the request is currently performing refreshes, and to
##% 'uas' if its peer is performing the refreshes.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% It is RECOMMENDED that the UPDATE request not contain an
##% offer [4], but a re-INVITE SHOULD contain one, even if the details of
##% the session have not changed.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% In that case, the offer MUST indicate
##% that it has not changed.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% The UAC MUST insert the Min-SE header field into a session refresh
##% request for a particular dialog if it has ever received a 422
##% response to a previous session refresh request on the same dialog, or
##% if it has received a session refresh request on that dialog that
##% contained a Min-SE header field.
##= https://www.rfc-editor.org/rfc/rfc4028#section-10
##= type=test
##% If the session refresh request does not
##% generate a 2xx response (and, as a result, the session is not
##% refreshed), and a response other than 408 or 481 is received, the UAC
##% SHOULD follow the rules specific to that response code and retry if
##% possible.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.3
##= type=test
##% This new request constitutes a new transaction and SHOULD have the
##% same value as the Call-ID, To, and From of the previous request, but
##% the CSeq should contain a new sequence number that is one higher than
##% the previous.
@case(
    "uac-4028-refreshes-as-refresher",
    roles=UAC,
    timeout=15,
    preamble=TIMED,
    no_control=RUNNER_ANSWERS,
)
def uac_refreshes(ctx: Context) -> None:
    """A 2xx granting 2 s with refresher=uac (Allow without UPDATE): a re-INVITE before the
    2 s are out (best at 1 s) with the initial Supported/Require, Session-Expires 90 (the
    default Min-SE is above 2 s) with refresher=uac, the offer unchanged (same o= line);
    answered 422 with Min-SE: 120, the same re-INVITE again (CSeq one higher) with Min-SE 120
    and Session-Expires 120."""
    peer, invite, addr = _timer_invite(ctx)
    at, ack = _granted(peer, invite, addr, "2;refresher=uac", ALLOW_NO_UPDATE)
    if ack is None:
        ctx.inconclusive("no ACK for the 2xx")
    got = peer.expect(_in_dialog(invite, "INVITE", "UPDATE", "BYE"), 2.6)
    elapsed = time.monotonic() - at
    if got is None or got[0].method == "BYE":
        peer.serve(0.2)
        ctx.not_applicable(
            "no refresh within the 2 s granted: the UAC may hold an interval below the 90 s "
            "floor as 90 s (§4); a 45 s wait is beyond a quick case"
        )
    assert got is not None
    refresh, where = got
    ctx.check(
        elapsed < 2.2, "a refresh before the session expiration (2 s)", f"{elapsed:.2f} s", 2
    )
    ctx.should(0.8 <= elapsed <= 1.6, "the refresh at half the interval (1 s)", f"{elapsed:.2f} s")
    if refresh.method != "INVITE":
        peer.answer(refresh, where, 200, headers=["Session-Expires: 90;refresher=uac"])
        ctx.inconclusive(f"a {refresh.method} refresh though the 2xx's Allow lists no UPDATE")
    for name in ("Require", "Proxy-Require"):
        ctx.check(
            set(refresh.option_tags(name)) == set(invite.option_tags(name)),
            f"{name}: {invite.get(name)} as in the INVITE",
            f"{name}: {refresh.get(name)}",
            4,
        )
    ctx.check(
        set(invite.option_tags("Supported")) <= set(refresh.option_tags("Supported")),
        f"Supported: {invite.get('Supported')} as in the INVITE",
        f"Supported: {refresh.get('Supported')}",
        4,
    )
    value = refresh.get("Session-Expires")
    ctx.should(value is not None, "a Session-Expires in the refresh", "none")
    if value is not None:
        ctx.should(_delta(value) == 90, "Session-Expires: 90 (Min-SE 90 > 2 s)", value)
        ctx.should((param(value, "refresher") or "").lower() == "uac", "refresher=uac", value)
    ctx.should(bool(refresh.body), "an offer in the re-INVITE", describe(refresh))
    if refresh.body and invite.body:
        ctx.check(
            _o_line(refresh) == _o_line(invite),
            f"the offer unchanged ({_o_line(invite)})",
            f"{_o_line(refresh)} (version {_sdp_version(refresh)})",
            9,
        )
    peer.answer(refresh, where, 422, headers=["Min-SE: 120"], contact=False)
    retry = peer.expect(
        lambda m: _in_dialog(invite, "INVITE", "UPDATE")(m) and m.branch != refresh.branch, 2.0
    )
    if retry is None:
        peer.serve(0.2)
        ctx.should(False, "the refresh retried after the 422", "none")
        return
    again, where = retry
    peer.answer(
        again, where, 200, headers=["Session-Expires: 120;refresher=uac", "Require: timer"]
    )
    peer.serve(0.3)
    ctx.check(
        _delta(again.get("Min-SE")) == 120,
        "Min-SE: 120 (the 422's) in the retried refresh",
        f"Min-SE: {again.get('Min-SE')}",
        10,
    )
    ctx.should(
        _delta(again.get("Session-Expires")) == 120,
        "Session-Expires: 120 in the retry",
        f"Session-Expires: {again.get('Session-Expires')}",
    )
    number = refresh.cseq[0] or 0
    ctx.should(
        again.cseq[0] == number + 1
        and again.call_id == refresh.call_id
        and again.get("From") == refresh.get("From")
        and again.to_tag == refresh.to_tag,
        f"CSeq {number + 1}, the same Call-ID, From and To",
        f"CSeq {again.get('CSeq')}, To tag {again.to_tag}",
    )


##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
##= type=test
##% The UAC MUST set the
##% identity of the refresher to the value of this parameter.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
##= type=test
##% A UAC that supports the session timer extension defined here MUST
##% include a Supported header field in each request (except ACK),
##% listing the option tag 'timer' [2].
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
##= type=test
##% It MUST do so even if the UAC is
##% not requesting usage of the session timer for this session.
##= https://www.rfc-editor.org/rfc/rfc4028#section-10
##= type=test
##% Similarly, if the side not performing refreshes does not receive a
##% session refresh request before the session expiration, it SHOULD send
##% a BYE to terminate the session, slightly before the session
##% expiration.
##= https://www.rfc-editor.org/rfc/rfc4028#section-10
##= type=test
##% The minimum of 32 seconds and one third of the session
##% interval is RECOMMENDED.
@case(
    "uac-4028-refresher-uas-bye",
    roles=UAC,
    level="MUST",
    timeout=15,
    preamble=TIMED,
    no_control=RUNNER_ANSWERS,
)
def uac_refresher_uas(ctx: Context) -> None:
    """A 2xx granting 3 s with refresher=uas, and the runner never refreshes: no refresh
    from the UAC; its BYE a third of the interval before the expiration (at 2 s), with
    Supported: timer (it asks for no timer in a BYE)."""
    peer, invite, addr = _timer_invite(ctx)
    at, ack = _granted(peer, invite, addr, "3;refresher=uas", ALLOW_UPDATE)
    if ack is None:
        ctx.inconclusive("no ACK for the 2xx")
    got = peer.expect(_in_dialog(invite, "INVITE", "UPDATE", "BYE"), 3.6)
    elapsed = time.monotonic() - at
    if got is not None and got[0].method != "BYE":
        peer.answer(got[0], got[1], 200)
    if got is None:
        peer.serve(0.2)
    ctx.check(
        got is None or got[0].method == "BYE",
        "no refresh from the UAC (refresher=uas)",
        got[0].start_line if got else "",
        0,
    )
    if got is None:
        ctx.should(False, "a BYE before the session expiration (3 s)", "none within 3.6 s")
        return
    bye, where = got
    peer.ok(bye, where)
    ctx.check(
        "timer" in bye.option_tags("Supported"),
        "Supported: timer in the BYE",
        f"Supported: {bye.get('Supported')}",
        2,
    )
    ctx.should(elapsed < 3.2, "the BYE before the expiration (3 s)", f"{elapsed:.2f} s")
    ctx.should(
        1.6 <= elapsed <= 2.5, "the BYE a third of the interval early (2 s)", f"{elapsed:.2f} s"
    )


##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% Similarly, if no dialog has been
##% established yet, a UAC MUST insert the Min-SE header field into an
##% INVITE request if it has ever received a 422 response to a previous
##% INVITE request with the same Call-ID.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% The value of the Min-SE header field present in a session refresh
##% request MUST be the largest value among all Min-SE header field
##% values returned in all 422 responses or received in session refresh
##% requests, on the same dialog, if a dialog has been established.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
##= type=test
##% If a Min-SE header is included in the initial session refresh request,
##% the value of the Session-Expires MUST be greater than or equal to the
##% value in Min-SE.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
##= type=test
##% The values of Supported, Require, and Proxy-Require used in the
##% initial Session refresh request MUST be used.
##= https://www.rfc-editor.org/rfc/rfc4028#section-7.3
##= type=test
##% This new request constitutes a new transaction and SHOULD have the
##% same value as the Call-ID, To, and From of the previous request, but
##% the CSeq should contain a new sequence number that is one higher than
##% the previous.
##= https://www.rfc-editor.org/rfc/rfc4028#section-10
##= type=test
##% If the session refresh request does not
##% generate a 2xx response (and, as a result, the session is not
##% refreshed), and a response other than 408 or 481 is received, the UAC
##% SHOULD follow the rules specific to that response code and retry if
##% possible.
##= https://www.rfc-editor.org/rfc/rfc4028#section-10
##= type=test
##% However, the UAC SHOULD NOT continuously retry the request if the
##% server indicates the same error response.
@case(
    "uac-4028-422-retried",
    roles=UAC,
    timeout=15,
    preamble=TIMED,
    no_control=RUNNER_ANSWERS,
)
def uac_422_retried(ctx: Context) -> None:
    """422 with Min-SE 2000, then 422 with Min-SE 3000: each retry (same Call-ID, From, To,
    CSeq one higher, the same option tags) carries the largest Min-SE so far and a
    Session-Expires no smaller; the same 422 once more ends the retries."""
    peer, invite, addr = _timer_invite(ctx)
    sent = [invite]
    for floor in (2000, 3000, 3000):
        last = sent[-1]
        peer.answer(last, addr, 422, headers=[f"Min-SE: {floor}"], contact=False)
        got = peer.expect(
            lambda m: (
                m.method == "INVITE"
                and m.call_id == invite.call_id
                and m.branch not in {s.branch for s in sent}
            ),
            2.0 if floor != 3000 or len(sent) < 3 else max(1.0, 5 * ctx.profile.t1),
        )
        if got is None:
            break
        sent.append(got[0])
    if len(sent) == 4:
        peer.answer(sent[-1], addr, 500, contact=False)
    peer.serve(0.2)
    if len(sent) == 1:
        ctx.should(False, "the INVITE retried after a 422", "no retry")
        return
    for retry, largest in zip(sent[1:3], (2000, 3000), strict=False):
        ctx.check(
            _delta(retry.get("Min-SE")) is not None,
            "a Min-SE in the INVITE retried after a 422",
            f"Min-SE: {retry.get('Min-SE')}",
            0,
        )
        ctx.check(
            _delta(retry.get("Min-SE")) == largest,
            f"Min-SE: {largest} (the largest of the 422s)",
            f"Min-SE: {retry.get('Min-SE')}",
            1,
        )
        ctx.check(
            (_delta(retry.get("Session-Expires")) or largest) >= largest,
            f"a Session-Expires of {largest} s or more",
            f"Session-Expires: {retry.get('Session-Expires')}",
            2,
        )
        for name in ("Supported", "Require", "Proxy-Require"):
            ctx.check(
                set(retry.option_tags(name)) == set(invite.option_tags(name)),
                f"{name}: {invite.get(name)} as in the first INVITE",
                f"{name}: {retry.get(name)}",
                3,
            )
    for before, after in itertools.pairwise(sent[:3]):
        number = before.cseq[0] or 0
        ctx.should(
            after.cseq[0] == number + 1
            and after.get("From") == before.get("From")
            and after.get("To") == before.get("To"),
            f"CSeq {number + 1} and the same From and To",
            f"CSeq {after.get('CSeq')}",
        )
    ctx.should(len(sent) < 4, "no retry after the same 422 again", "a fourth INVITE")


##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
##= type=test
##% UACs MUST be prepared to receive a Session-Expires header field in a
##% response, even if none were present in the request.
@case(
    "uac-4028-unasked-session-expires",
    roles=UAC,
    timeout=15,
    preamble=INVITED,
    no_control=RUNNER_ANSWERS,
)
def uac_unasked_session_expires(ctx: Context) -> None:
    """An INVITE without Session-Expires answered 200 with Session-Expires: 1800;
    refresher=uas: the call is taken (ACK, no BYE at once)."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    if invite.get("Session-Expires") is not None:
        ctx.not_applicable("the INVITE asks for a session timer itself")
    headers = ["Session-Expires: 1800;refresher=uas"]
    if "timer" in invite.option_tags("Supported"):
        headers.append("Require: timer")
    peer.answer(invite, addr, 200, headers=headers)
    ack = peer.request("ACK", 3.0, invite.call_id)
    bye = peer.request("BYE", max(0.5, 3 * ctx.profile.t1), invite.call_id)
    peer.serve(0.2)
    ctx.check(ack is not None, "an ACK for the 200 with Session-Expires", "none")
    ctx.check(bye is None, "the call kept (no BYE at once)", "a BYE at once")


_SDP = (
    b"v=0\r\no=tester 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)
