"""The UAC's non-INVITE client transactions, registrations and requests over several calls
(RFC 3261 §10.2, §10.2.2, §10.2.6, §11.1, §13.2.1, §17.1.1.2, §17.1.2.2, §21.3.3, §22.3).

Timers are measured against the profile's ``t1`` (T2 taken as its default, 4 s), with the
tolerances of `conformance.cases.uac_transaction`.
"""

from __future__ import annotations

import time

from conformance.cases.uac_codes import challenge, new_request
from conformance.cases.uac_register import GRANTED, _grant, uri_of
from conformance.model import Context, case
from conformance.sipmsg import Message
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer

ORDER = 70  # after the first UAC modules

ASKED = "an OPTIONS from the target ([uac] options)"
REGISTERING = "a REGISTER from the target ([uac] register)"
TWICE = "two calls from the target, one after the other ([uac] calls)"


def _copies_after(peer: Peer, first: Message, skip: float, window: float) -> list[float]:
    """Arrival times (from now) of copies of ``first`` during ``window`` seconds, leaving
    out the first ``skip`` seconds (a copy already on its way when the runner answered)."""
    at = time.monotonic()
    got = peer.collect(lambda m: m.method == first.method and m.branch == first.branch, window)
    return [round(t - at, 2) for t, _ in got if t - at > skip]


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If a final response (status codes 200-699) is received while in the
##% "Trying" state, the response MUST be passed to the TU, and the client
##% transaction MUST transition to the "Completed" state.
##= https://www.rfc-editor.org/rfc/rfc3261#section-11.1
##= type=test
##% An Accept header field SHOULD be included to indicate the type of
##% message body the UAC wishes to receive in the response.
@case(
    "uac-non-invite-final-in-trying",
    roles=UAC,
    transports=("udp",),
    timeout=15,
    preamble=ASKED,
    no_control=RUNNER_ANSWERS,
)
def final_in_trying(ctx: Context) -> None:
    """An OPTIONS (with an Accept) answered 200 at once is not retransmitted any more."""
    t1 = ctx.profile.t1
    peer = Peer(ctx, "options")
    first, addr = peer.first("OPTIONS")
    peer.answer(first, addr, 200, contact=False)
    late = _copies_after(peer, first, t1 + 0.05, max(1.0, 8 * t1))
    ctx.check(not late, "no copy of the OPTIONS after its 200", f"copies at {late}")
    ctx.check(first.get("Accept") is not None, "an Accept", "none", 1, "SHOULD")


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If a final response (status codes 200-699) is received while in the
##% "Proceeding" state, the response MUST be passed to the TU, and the
##% client transaction MUST transition to the "Completed" state.
@case(
    "uac-non-invite-final-in-proceeding",
    roles=UAC,
    transports=("udp",),
    timeout=15,
    preamble=ASKED,
    no_control=RUNNER_ANSWERS,
)
def final_in_proceeding(ctx: Context) -> None:
    """An OPTIONS answered 100, then 200: no copy of it after the 200."""
    t1 = ctx.profile.t1
    peer = Peer(ctx, "options")
    first, addr = peer.first("OPTIONS")
    peer.answer(first, addr, 100, contact=False)
    time.sleep(2 * t1)
    peer.answer(first, addr, 200, contact=False)
    late = _copies_after(peer, first, t1 + 0.05, max(1.0, 8 * t1))
    ctx.check(not late, "no copy of the OPTIONS after its 200", f"copies at {late}")


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% Elements MAY (though it is NOT RECOMMENDED) use smaller values of T1 within closed,
##% private networks that do not permit general Internet connection.
@case(
    "uac-t1-not-below-500ms",
    roles=UAC,
    level="SHOULD",
    transports=("udp",),
    timeout=15,
    preamble="an INVITE from the target, left unanswered ([uac] invite)",
    no_control=RUNNER_ANSWERS,
)
def t1_not_smaller(ctx: Context) -> None:
    """The first retransmission of an unanswered INVITE comes after T1 = 500 ms or more."""
    if ctx.profile.t1 < 0.5:
        ctx.not_applicable(
            f"the profile runs the target with T1 = {ctx.profile.t1:g} s on purpose "
            "(a closed test network, where §17.1.1.2 allows it)"
        )
    peer = Peer(ctx, "invite")
    first, addr = peer.first("INVITE")
    at = time.monotonic()
    again = peer.expect(lambda m: m.method == "INVITE" and m.branch == first.branch, 3.0)
    gap = time.monotonic() - at
    peer.answer(first, addr, 486)
    if again is None:
        ctx.inconclusive("the INVITE was not retransmitted within 3 s")
    ctx.check(gap >= 0.45, "a first retransmission after 500 ms or more", f"after {gap:.3f} s")


##= https://www.rfc-editor.org/rfc/rfc3261#section-13.2.1
##= type=test
##% If the time indicated in the Expires header field is reached and no
##% final answer for the INVITE has been received, the UAC core SHOULD
##% generate a CANCEL request for the INVITE, as per Section 9.
@case(
    "uac-invite-expires-cancel",
    roles=UAC,
    level="SHOULD",
    timeout=30,
    preamble="an INVITE from the target, ringing ([uac] invite)",
    no_control=RUNNER_ANSWERS,
)
def invite_expires_cancel(ctx: Context) -> None:
    """An INVITE with Expires rings unanswered: a CANCEL comes once that time is up."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    at = time.monotonic()
    value = (invite.get("Expires") or "").strip()
    if not value.isdigit() or int(value) > 10:
        peer.answer(invite, addr, 486)
        reason = "no Expires" if not value else f"Expires: {value} (more than 10 s)"
        ctx.not_applicable(f"the INVITE carries {reason}")
    peer.answer(invite, addr, 180)
    got = peer.request("CANCEL", int(value) + 2.0, invite.call_id)
    after = time.monotonic() - at
    if got is not None:
        peer.ok(*got)
    peer.answer(invite, addr, 487)
    ctx.check(got is not None, f"a CANCEL about {value} s after the INVITE", "none")
    ctx.check(
        after >= 0.8 * int(value) - 0.1,
        f"the CANCEL once the {value} s are up",
        f"after {after:.2f} s",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% Malformed values SHOULD be treated as equivalent to 3600.
@case(
    "uac-register-malformed-expires",
    roles=UAC,
    level="SHOULD",
    timeout=20,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def register_malformed_expires(ctx: Context) -> None:
    """A 200 binding the Contact with expires=soon (malformed): the UA takes it for 3600 s
    and sends no refresh within the few seconds it asked for."""
    peer = Peer(ctx, "register")
    register, addr = peer.first("REGISTER", REGISTERING)
    contacts = [f"Contact: <{uri_of(c)}>;expires=soon" for c in register.get_all("Contact")]
    if not contacts:
        peer.answer(register, addr, 200, contact=False)
        ctx.not_applicable("the REGISTER adds no binding (no Contact)")
    peer.answer(register, addr, 200, headers=contacts, contact=False)
    asked = (register.get("Expires") or "").strip()
    # a UA keeping what it asked for refreshes at half of it (ours), or a little before
    wait = 0.75 * min(float(asked) if asked.isdigit() else GRANTED, 8.0) + 0.5
    got = new_request(peer, register, wait, register.call_id)
    if got is not None:
        _grant(peer, got[0], got[1])
    ctx.check(
        got is None,
        f"no refresh within {wait:g} s (expires=soon taken as 3600)",
        f"a refresh, {got and got[0].get('CSeq')}",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.2
##= type=test
##% UAs SHOULD support this mechanism so that bindings can be removed before their
##% expiration interval has passed.
@case(
    "uac-register-removed",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def register_removed(ctx: Context) -> None:
    """Stopped while registered (the postamble's SIGTERM, sent at once), the UA removes its
    binding: a REGISTER with expires 0."""
    peer = Peer(ctx, "register")
    register, addr = peer.first("REGISTER", REGISTERING)
    _grant(peer, register, addr)
    if peer.process is None:
        ctx.not_applicable("the target was dialled by hand: the runner cannot stop it")
    assert peer.process is not None
    time.sleep(0.3)
    peer.process.terminate()
    got = peer.expect(lambda m: m.method == "REGISTER" and m.branch != register.branch, 3.0)
    if got is not None:
        _grant(peer, got[0], got[1])
    ctx.check(got is not None, "a REGISTER removing the binding", "none within 3 s")
    assert got is not None
    zero = (got[0].get("Expires") or "").strip() == "0" or all(
        "expires=0" in c.replace(" ", "").lower() for c in got[0].get_all("Contact")
    )
    ctx.check(zero, "Expires: 0 (or expires=0)", got[0].get("Expires") or "no Expires")


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.6
##= type=test
##% If there is no configured registrar address, the UA SHOULD use the
##% host part of the address-of-record as the Request-URI and address the
##% request there, using the normal SIP server location mechanisms [4].
@case(
    "uac-register-aor-host",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble="a REGISTER from the target, given no registrar ([uac] register-aor)",
    no_control=RUNNER_ANSWERS,
)
def register_aor_host(ctx: Context) -> None:
    """Without a registrar configured, the REGISTER for sip:alice@HOST:PORT goes to HOST:PORT
    (it reached the runner) with Request-URI sip:HOST:PORT."""
    peer = Peer(ctx, "register-aor")
    register, addr = peer.first("REGISTER")
    _grant(peer, register, addr)
    want = f"sip:{peer.server.hostport}"
    ctx.check(
        register.uri.split(";", 1)[0].lower() == want,
        f"Request-URI {want}",
        register.uri,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-21.3.3
##= type=test
##% If there is no explicit expiration
##% time, the address is only valid once for recursing, and MUST NOT be
##% cached for future transactions.
@case(
    "uac-302-not-cached",
    roles=UAC,
    timeout=25,
    preamble=TWICE,
    no_control=RUNNER_ANSWERS,
)
def redirect_not_cached(ctx: Context) -> None:
    """The first call is redirected (302, no expiration) and turned down there: the second
    call goes to the original URI again."""
    peer = Peer(ctx, "calls")
    invite, addr = peer.first("INVITE", TWICE)
    moved = f"sip:moved@{peer.server.hostport}"
    peer.answer(invite, addr, 302, headers=[f"Contact: <{moved}>"], contact=False)
    seen = {invite.branch}
    second = None
    end = time.monotonic() + 8.0
    while (left := end - time.monotonic()) > 0:
        got = peer.expect(lambda m: m.method == "INVITE" and m.branch not in seen, left)
        if got is None:
            break
        seen.add(got[0].branch)
        peer.answer(got[0], got[1], 486)
        if got[0].call_id != invite.call_id:
            second = got[0]
            break
    if second is None:
        ctx.inconclusive("the target made no second call")
    assert second is not None
    ctx.check(
        second.uri == invite.uri,
        f"the second call to {invite.uri}",
        f"the second call to {second.uri}",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.3
##= type=test
##% These credentials MUST NOT be cached
##% across dialogs
@case(
    "uac-proxy-credentials-per-call",
    roles=UAC,
    timeout=25,
    preamble=TWICE,
    no_control=RUNNER_ANSWERS,
)
def proxy_credentials_per_call(ctx: Context) -> None:
    """The first call is challenged (407), authenticated and answered: the second call's
    INVITE (another Call-ID) carries no Proxy-Authorization."""
    if not ctx.profile.password:
        ctx.not_applicable("the profile gives no [credentials] password")
    peer = Peer(ctx, "calls")
    invite, addr = peer.first("INVITE", TWICE)
    peer.answer(invite, addr, 407, headers=[challenge(407)], contact=False)
    with ctx.preamble("the first call authenticated and answered"):
        again = new_request(peer, invite, 5.0, invite.call_id)
        if again is None or again[0].get("Proxy-Authorization") is None:
            ctx.inconclusive("the INVITE did not come again with Proxy-Authorization")
        assert again is not None
        peer.answer(again[0], again[1], 200)
    second = None
    end = time.monotonic() + 8.0
    while (left := end - time.monotonic()) > 0:
        got = peer.expect(lambda m: m.method in ("INVITE", "BYE"), left)
        if got is None:
            break
        if got[0].method == "BYE":
            peer.ok(*got)
        elif got[0].call_id != invite.call_id:
            second = got[0]
            peer.answer(got[0], got[1], 486)
            break
    if second is None:
        ctx.inconclusive("the target made no second call")
    assert second is not None
    ctx.check(
        second.get("Proxy-Authorization") is None,
        "no Proxy-Authorization in the second call's INVITE",
        second.get("Proxy-Authorization") or "",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.9
##= type=test
##% If the UAC wishes to insist that a UAS understand an extension that
##% the UAC will apply to the request in order to process the request, it
##% MUST insert a Require header field into the request listing the option
##% tag for that extension.
@case(
    "uac-require-insisted",
    roles=UAC,
    timeout=15,
    preamble="an INVITE from the target, insisting on an extension ([uac] require)",
    no_control=RUNNER_ANSWERS,
)
def require_insisted(ctx: Context) -> None:
    """Told to insist on an extension, the target lists its option tag in Require (not
    only in Supported)."""
    peer = Peer(ctx, "require")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 486)
    tags = invite.option_tags("Require")
    ctx.check(
        bool(tags),
        "a Require listing the extension insisted on",
        f"Require: {invite.get('Require')}; Supported: {invite.get('Supported')}",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.9
##= type=test
##% If the UAC supports extensions to SIP that can be applied by the
##% server to the response, the UAC SHOULD include a Supported header
##% field in the request listing the option tags (Section 19.2) for those
##% extensions.
@case(
    "uac-supported-lists-100rel",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble="an INVITE from the target ([uac] invite)",
    no_control=RUNNER_ANSWERS,
)
def supported_lists_100rel(ctx: Context) -> None:
    """The runner sends a reliable 183 (RFC 3262): if the target acknowledges it with a
    PRACK it supports 100rel, an extension the server applies to the response, so its
    INVITE listed 100rel in Supported."""
    peer = Peer(ctx, "invite")
    invite, addr = peer.first("INVITE")
    peer.answer(invite, addr, 183, headers=["Require: 100rel", "RSeq: 1"], contact=True)
    prack = peer.request("PRACK", max(1.0, 8 * ctx.profile.t1), invite.call_id)
    if prack is not None:
        peer.ok(*prack)
    peer.answer(invite, addr, 486)
    if prack is None:
        ctx.not_applicable("no PRACK for the reliable 183: the target does not do 100rel")
    listed = invite.option_tags("Supported") + invite.option_tags("Require")
    ctx.check(
        "100rel" in listed,
        "100rel in the INVITE's Supported",
        f"Supported: {invite.get('Supported')}",
    )
