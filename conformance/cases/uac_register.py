"""The UA registering (RFC 3261 §10.2): the runner is the registrar.

The profile's ``[uac] register`` command makes the target register an AOR at the runner
with a short interval (our ua: ``--expires 4``); the runner grants what is asked, or 4 s at
most, so a refresh comes within seconds.
"""

from __future__ import annotations

import re

from conformance.cases.uac_retry import digest_challenge, verify_digest
from conformance.model import Context, case
from conformance.sipmsg import Message
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer

ORDER = 65  # after the core's first-wave modules (torture is 60)

REGISTERING = "a REGISTER from the target ([uac] register)"
GRANTED = 4


def uri_of(value: str) -> str:
    value = value.strip()
    if "<" in value:
        return value.split("<", 1)[1].split(">", 1)[0].strip()
    return value.split(";", 1)[0].strip()


def _grant(
    peer: Peer, request: Message, addr: tuple[str, int], headers: tuple[str, ...] = ()
) -> None:
    """200 with the request's Contacts bound for `GRANTED` seconds."""
    contacts = [f"Contact: <{uri_of(c)}>;expires={GRANTED}" for c in request.get_all("Contact")]
    if request.get("Expires") == "0" or any("expires=0" in c for c in request.get_all("Contact")):
        contacts = []
    peer.answer(request, addr, 200, headers=[*contacts, *headers], contact=False)


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% The "userinfo" and "@" components of the
##% SIP URI MUST NOT be present.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% This address-of-record MUST
##% be a SIP URI or SIPS URI.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% The following header fields, except Contact, MUST be included in a REGISTER request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.2
##= type=test
##% The REGISTER-specific Contact header field value of "*" applies to all registrations,
##% but it MUST NOT be used unless the Expires header field is present with a value of "0".
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% UACs SHOULD NOT use the "action" parameter.
@case(
    "uac-register-construction",
    roles=UAC,
    timeout=15,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def register_construction(ctx: Context) -> None:
    """The REGISTER's Request-URI is a domain (no user part); its To is a SIP AOR."""
    peer = Peer(ctx, "register")
    register, addr = peer.first("REGISTER", REGISTERING)
    _grant(peer, register, addr)
    ctx.check(
        re.match(r"(?i)sips?:[^@;>]*(;|$)", register.uri) is not None,
        "a Request-URI without userinfo and @",
        register.uri,
    )
    to = uri_of(register.get("To") or "").lower()
    ctx.check(to.startswith(("sip:", "sips:")), "a SIP or SIPS AOR in To", to, requirement=1)
    missing = [h for h in ("To", "From", "Call-ID", "CSeq") if register.get(h) is None]
    ctx.check(not missing, "To, From, Call-ID and CSeq", f"missing {missing}", requirement=2)
    contacts = register.get_all("Contact")
    ctx.check(
        "*" not in [c.strip() for c in contacts] or (register.get("Expires") or "") == "0",
        "Contact * only with Expires: 0",
        f"Contact * with Expires: {register.get('Expires')}",
        requirement=3,
    )
    ctx.should(
        not any("action=" in c.lower() for c in contacts),
        "no action parameter in Contact",
        " | ".join(contacts),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% A UA MUST increment the CSeq value by one for each
##% REGISTER request with the same Call-ID.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% Call-ID: All registrations from a UAC SHOULD use the same Call-ID
##% header field value for registrations sent to a particular
##% registrar.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.4
##= type=test
##% The UA then issues a REGISTER request for each
##% of its bindings before the expiration interval has elapsed.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% The Record-Route header field has no meaning in REGISTER requests or responses, and MUST
##% be ignored if present.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% In particular, the UAC MUST NOT create a new route set based on the presence or absence
##% of a Record-Route header field in any response to a REGISTER request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.4
##= type=test
##% Registration refreshes SHOULD be sent to the same network address as the original
##% registration, unless redirected.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.4
##= type=test
##% It SHOULD be the same in each registration from a UA.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.4
##= type=test
##% A UA SHOULD use the same Call-ID for all registrations during a single boot cycle.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.4
##= type=test
##% A UA SHOULD NOT refresh bindings set up by other UAs.
@case(
    "uac-register-refresh",
    roles=UAC,
    timeout=20,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def register_refresh(ctx: Context) -> None:
    """Granted 4 s, the UA refreshes before they pass: same Call-ID, CSeq + 1, same AOR."""
    peer = Peer(ctx, "register")
    register, addr = peer.first("REGISTER", REGISTERING)
    # a Record-Route in a response to REGISTER means nothing (§10.2): no Route may follow
    # and a binding of another UA's, which the UA must not refresh
    other = "sip:other@127.0.0.2:5999"
    _grant(
        peer,
        register,
        addr,
        (f"Record-Route: <sip:rr@{peer.server.hostport};lr>", f"Contact: <{other}>;expires=4"),
    )
    got = peer.request("REGISTER", GRANTED + 0.5)
    if got is None:
        ctx.fail(f"a refresh within the {GRANTED} s granted", "none", requirement=2)
    assert got is not None
    refresh, where = got
    _grant(peer, refresh, where)
    ctx.check(
        refresh.call_id == register.call_id,
        f"Call-ID {register.call_id}",
        refresh.call_id,
        requirement=1,
        level="SHOULD",
    )
    number = register.cseq[0] or 0
    ctx.check(
        refresh.cseq == (number + 1, "REGISTER"),
        f"CSeq {number + 1} REGISTER",
        refresh.get("CSeq") or "",
    )
    ctx.check(
        uri_of(refresh.get("To") or "") == uri_of(register.get("To") or ""),
        f"To {register.get('To')}",
        refresh.get("To") or "",
        requirement=2,
    )
    ctx.should(
        not any(other in c for c in refresh.get_all("Contact")),
        f"no refresh of another UA's binding ({other})",
        " | ".join(refresh.get_all("Contact")),
    )
    ctx.check(
        refresh.get_all("Route") == register.get_all("Route"),
        f"the first REGISTER's Route ({' | '.join(register.get_all('Route')) or 'none'}): "
        "the Record-Route of the 200 ignored",
        " | ".join(refresh.get_all("Route")) or "none",
        requirement=3,
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% UAs MUST NOT send a new registration (that is, containing new Contact header field
##% values, as opposed to a retransmission) until they have received a final response from
##% the registrar for the previous one or the previous REGISTER request has timed out.
@case(
    "uac-register-one-at-a-time",
    roles=UAC,
    timeout=20,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def register_one_at_a_time(ctx: Context) -> None:
    """While its REGISTER has no final response, the UA sends no other REGISTER (only
    copies of it), until the runner answers."""
    t1 = ctx.profile.t1
    peer = Peer(ctx, "register")
    register, addr = peer.first("REGISTER", REGISTERING)
    others = peer.collect(
        lambda m: m.method == "REGISTER" and m.branch != register.branch, min(2.0, 40 * t1)
    )
    _grant(peer, register, addr)
    for _, other in others:
        _grant(peer, other, addr)
    ctx.check(
        not others,
        "no new REGISTER before the final response",
        f"{len(others)} new REGISTER(s): {[m.get('CSeq') for _, m in others]}",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
##= type=test
##% When a UAC resubmits a request with its credentials after receiving a
##% 401 (Unauthorized) or 407 (Proxy Authentication Required) response,
##% it MUST increment the CSeq header field value as it would normally
##% when sending an updated request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
##= type=test
##% When the originating UAC receives the 401 (Unauthorized), it SHOULD,
##% if it is able, re-originate the request with the proper credentials.
@case(
    "uac-register-401",
    roles=UAC,
    timeout=15,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def register_401(ctx: Context) -> None:
    """A challenged REGISTER comes again with CSeq + 1 and a right Authorization."""
    if not ctx.profile.password:
        ctx.not_applicable("the profile gives no [credentials] password")
    peer = Peer(ctx, "register")
    register, addr = peer.first("REGISTER", REGISTERING)
    peer.answer(register, addr, 401, headers=[digest_challenge(401)], contact=False)
    got = peer.request("REGISTER", 5.0, register.call_id)
    if got is None:
        ctx.inconclusive("the target did not send the REGISTER again")
    assert got is not None
    again, where = got
    _grant(peer, again, where)
    number = register.cseq[0] or 0
    ctx.check(
        again.cseq == (number + 1, "REGISTER"),
        f"CSeq {number + 1} REGISTER",
        again.get("CSeq") or "",
    )
    verify_digest(ctx, again, "Authorization", requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.7
##= type=test
##% If the transaction layer returns a timeout error because the REGISTER yielded no
##% response, the UAC SHOULD NOT immediately re-attempt a registration to the same
##% registrar.
@case(
    "uac-register-timeout",
    roles=UAC,
    level="SHOULD",
    transports=("udp",),
    timeout=60,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def register_timeout(ctx: Context) -> None:
    """A REGISTER never answered: after its Timer F (64*T1) no new REGISTER comes at once."""
    t1 = ctx.profile.t1
    peer = Peer(ctx, "register")
    register, _ = peer.first("REGISTER", REGISTERING)
    peer.collect(lambda m: m.method == "REGISTER" and m.branch == register.branch, 64 * t1)
    again = peer.collect(
        lambda m: m.method == "REGISTER" and m.branch != register.branch, max(2.0, 8 * t1)
    )
    ctx.check(not again, "no new REGISTER right after the timeout", f"{len(again)} at once")
