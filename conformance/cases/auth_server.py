"""A server's Digest challenges on the wire: RFC 3261 §22, §22.1, §22.2, §22.4, §26.3.1 and
§26.3.2.4, in the roles that challenge with 401: UAS, registrar, redirect server.

The challenged request is a REGISTER (query: it changes no binding) toward a registrar, an
INVITE otherwise.  A target that answers it without a challenge serves without
authentication: the cases are not applicable to it.  The cases that answer the challenge use
the profile's ``[credentials]`` (without them they are not applicable either).
"""

from __future__ import annotations

import base64
import ipaddress
import re
import time

from conformance.cases.registrar import Registration, digest_authorization
from conformance.messages import Outgoing, ack_for, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.wire import Link

#: load order of the case modules (conformance.discovery)
ORDER = 82

CHALLENGERS = ("uas", "registrar", "redirect")

#: why the cases judging the challenge need no control: a target that does not challenge the
#: request is not applicable, one that does has shown the request reached its authentication
CHALLENGE = "judged on the challenge itself; no challenge: not applicable"

_SDP = (
    b"v=0\r\no=tester 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


class _Auth:
    """Requests of one call (or one registration) toward a target that challenges them."""

    def __init__(self, ctx: Context, user: str | None = None) -> None:
        self.ctx = ctx
        self.link: Link = ctx.link()
        self.method = "REGISTER" if ctx.role == "registrar" else "INVITE"
        self.user = user or ctx.user
        self.registration = Registration(ctx, self.link) if self.method == "REGISTER" else None
        self.call_id = unique("a") + "@conformance.invalid"
        self.tag = unique("t")
        self.cseq = 0

    def build(self, header: str = "", value: str = "") -> Outgoing:
        """The next request (CSeq + 1), with ``header: value`` when given."""
        self.cseq += 1
        extra = [(header, value)] if header else None
        if self.registration is not None:
            return self.registration._build(None, None, self.cseq, extra)
        return self.ctx.request(
            "INVITE",
            self.link,
            user=self.user,
            call_id=self.call_id,
            from_tag=self.tag,
            cseq=self.cseq,
            body=_SDP,
            extra=extra,
        )

    def send(self, req: Outgoing, finish: bool = True) -> Message:
        """Send ``req``; its final response (ACKed, a call hung up, unless not ``finish``)."""
        final, _ = self.ctx.transaction(self.link, req, learn=False)
        final = self.ctx.require_final(final, f"final response to {req.method}")
        if finish and req.method == "INVITE":
            self.ctx.finish_invite(self.link, req, final)
        return final

    def challenge(self) -> tuple[Outgoing, Message]:
        """The request without credentials and the 401/407 challenging it; a target that
        answers it otherwise is not applicable."""
        req = self.build()
        final = self.send(req)
        if final.status not in (401, 407):
            self.ctx.not_applicable(
                f"the target does not challenge {req.method} ({describe(final)}): it serves "
                "without authentication"
            )
        return req, final

    def answer(self, final: Message) -> tuple[str, str]:
        """The credentials header answering ``final``'s Digest challenge with the profile's
        user name and password; not applicable without ``[credentials]``."""
        profile = self.ctx.profile
        if not profile.username:
            self.ctx.not_applicable("the profile has no [credentials] to answer the challenge")
        challenge = next((c for c in challenges(final) if _scheme(c) == "digest"), "")
        if not challenge:
            self.ctx.fail("a Digest challenge", "; ".join(challenges(final)) or "none")
        header = "Authorization" if final.status == 401 else "Proxy-Authorization"
        uri = self.build_uri()
        return header, digest_authorization(
            challenge, self.method, uri, profile.username, profile.password
        )

    def build_uri(self) -> str:
        if self.registration is not None:
            return self.registration.uri
        return self.ctx.target.uri(self.user)


def challenges(final: Message) -> list[str]:
    """The challenges of a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate)."""
    name = "WWW-Authenticate" if final.status == 401 else "Proxy-Authenticate"
    return [v.strip() for v in final.get_all(name)]


def _field(challenge: str, name: str) -> str | None:
    """A parameter of a challenge (``name=value`` or ``name="value"``, comma-separated)."""
    m = re.search(rf'(?:^|[\s,]){name}\s*=\s*("([^"]*)"|[^,\s]*)', challenge, re.I)
    if m is None:
        return None
    return m[2] if m[2] is not None else m[1]


def _scheme(challenge: str) -> str:
    return challenge.split(None, 1)[0].lower() if challenge else ""


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.2
##= type=test
##% The WWW-Authenticate response-header field MUST be included in 401 (Unauthorized)
##% response messages.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##= type=test
##% However, servers MUST always send a "qop" parameter in WWW-Authenticate and
##% Proxy-Authenticate header field values.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22
##= type=test
##% Servers MUST NOT accept credentials using the "Basic" authorization scheme, and servers
##% also MUST NOT challenge with "Basic".
@case("auth-challenge-digest-qop", roles=CHALLENGERS, no_control=CHALLENGE)
def challenge_digest_qop(ctx: Context) -> None:
    """A 401 carries WWW-Authenticate (a 407 Proxy-Authenticate): Digest challenges, each
    with qop, none Basic."""
    _, final = _Auth(ctx).challenge()
    found = challenges(final)
    name = "WWW-Authenticate" if final.status == 401 else "Proxy-Authenticate"
    ctx.check(bool(found), f"{name} in the {final.status}", "none", requirement=0)
    for value in found:
        ctx.check(_scheme(value) != "basic", "no Basic challenge", value, requirement=2)
        if _scheme(value) == "digest":
            ctx.check(_field(value, "qop") is not None, "a qop parameter", value, requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##= type=test
##% Note, however, that SIP servers MUST NOT accept or request Basic authentication.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22
##= type=test
##% Servers MUST NOT accept credentials using the "Basic" authorization scheme, and servers
##% also MUST NOT challenge with "Basic".
@case("auth-basic-refused", roles=CHALLENGERS)
def basic_refused(ctx: Context) -> None:
    """Right user name and password sent as Basic credentials are not accepted, while the
    same as Digest credentials are (the control)."""
    auth = _Auth(ctx)
    _, challenge = auth.challenge()
    header, value = auth.answer(challenge)

    def exchange() -> tuple[Message | None, bool]:
        final = auth.send(auth.build(header, value))
        return final, 200 <= (final.status or 0) < 300

    ctx.controlled(auth.method, exchange, "the same request with Digest credentials")
    token = f"{ctx.profile.username}:{ctx.profile.password}".encode()
    basic = "Basic " + base64.b64encode(token).decode()
    final = auth.send(auth.build(header, basic))
    ctx.check(
        not 200 <= (final.status or 0) < 300,
        "Basic credentials refused (a new challenge)",
        describe(final),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
##= type=test
##% Proxy servers, redirect servers, registrars, and UAs MUST implement Digest
##% Authorization, encompassing all of the aspects required in 22.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##= type=test
##% These mechanisms MUST be used by a server to determine if the client supports the new
##% mechanisms in RFC 2617 that were not specified in RFC 2069.
@case(
    "auth-digest-accepted",
    roles=CHALLENGERS,
    no_control="the challenge is the control: the target took the request to its authentication",
)
def digest_accepted(ctx: Context) -> None:
    """The request again with Digest credentials (qop=auth, the profile's password) is
    accepted."""
    auth = _Auth(ctx)
    _, challenge = auth.challenge()
    header, value = auth.answer(challenge)
    ctx.check(", qop=auth" in value, "a challenge offering qop=auth", value, requirement=1)
    final = auth.send(auth.build(header, value))
    ctx.check(final.status not in (401, 407), "the Digest credentials accepted", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.4
##= type=test
##% Since RFC 2543 is based on HTTP Digest as defined in RFC 2069 [39], SIP servers supporting
##% RFC 2617 MUST ensure they are backwards compatible with RFC 2069.
@case(
    "auth-rfc2069-credentials",
    roles=CHALLENGERS,
    no_control="the challenge is the control: the target took the request to its authentication",
)
def rfc2069_credentials(ctx: Context) -> None:
    """Credentials computed as RFC 2069 does (no qop, no cnonce, no nonce count) are
    accepted."""
    auth = _Auth(ctx)
    _, challenge = auth.challenge()
    header, value = auth.answer(challenge)
    found = next(c for c in challenges(challenge) if _scheme(c) == "digest")
    # the same computation without qop: response = H(H(A1):nonce:H(A2))
    bare = re.sub(r',\s*qop="[^"]*"|,\s*qop=[^,]*', "", found)
    value = digest_authorization(
        bare, auth.method, auth.build_uri(), ctx.profile.username, ctx.profile.password
    )
    final = auth.send(auth.build(header, value))
    ctx.check(
        final.status not in (401, 407),
        "RFC 2069 credentials (no qop) accepted",
        describe(final),
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% It is RECOMMENDED that a realm string contain a hostname or domain name, following the
##% recommendation in Section 3.2.1 of RFC 2617 [17].
##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.1
##= type=test
##% Proxy servers, redirect servers, and registrars SHOULD be configured with at least one
##% Digest realm, and at least one "realm" string supported by a given server SHOULD
##% correspond to the server's hostname or domainname.
@case("auth-realm-hostname", roles=CHALLENGERS, level="SHOULD", no_control=CHALLENGE)
def realm_hostname(ctx: Context) -> None:
    """The realm of every Digest challenge is a host or domain name."""
    _, final = _Auth(ctx).challenge()
    realms = [_field(c, "realm") or "" for c in challenges(final) if _scheme(c) == "digest"]
    ctx.check(bool(realms), "a Digest realm", "none", requirement=1)
    for realm in realms:
        ctx.check(_hostlike(realm.strip('"')), "a host or domain name as realm", realm)


def _hostlike(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
        return True
    except ValueError:
        pass
    labels = text.split(".")
    return all(re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?", label) for label in labels)


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% Servers MUST NOT attempt to challenge an ACK.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% For this reason, any credentials in the INVITE that were accepted by a server MUST be
##% accepted by that server for the ACK.
@case("auth-ack-not-challenged", roles=("uas",), no_control=CHALLENGE)
def ack_not_challenged(ctx: Context) -> None:
    """The ACK of the 401 and the ACK (with the INVITE's credentials) of the 2xx to the
    authenticated INVITE get no response, and over UDP the 2xx stops being retransmitted."""
    auth = _Auth(ctx)
    _, challenge = auth.challenge()  # its ACK went with it (`finish_invite`)
    header, value = auth.answer(challenge)
    req = auth.build(header, value)
    final = auth.send(req, finish=False)
    if not 200 <= (final.status or 0) < 300:
        ctx.finish_invite(auth.link, req, final)
        ctx.inconclusive(f"the authenticated INVITE got {describe(final)}")
    dialog = ctx.call(auth.link, req, final)
    ack = ack_for(req, final, ctx.target)
    ack.add(header, value)
    auth.link.send(bytes(ack), "ACK with the INVITE's credentials")
    time.sleep(0.05)
    auth.link.pending.clear()  # copies of the 2xx that crossed the ACK
    window = max(1.0, 3 * ctx.profile.t1)
    got = auth.link.collect(lambda m: m.is_response and m.call_id == req.call_id, window)
    challenged = [m for m in got if m.cseq[1] == "ACK"]
    first = challenged[0] if challenged else None
    ctx.check(first is None, "no response to the ACK", describe(first))
    again = [m for m in got if m.cseq[1] == "INVITE" and 200 <= (m.status or 0) < 300]
    if not ctx.target.reliable:
        ctx.check(
            not again,
            "the ACK accepted: no more 2xx retransmissions",
            f"{len(again)} retransmission(s) of the 2xx after it",
            requirement=1,
        )
    ctx.hang_up(dialog)


##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% Although the CANCEL method does take a response (a 2xx), servers MUST NOT attempt to
##% challenge CANCEL requests since these requests cannot be resubmitted.
##= https://www.rfc-editor.org/rfc/rfc3261#section-22.1
##= type=test
##% Generally, a CANCEL request SHOULD be accepted by a server if it comes from the same hop
##% that sent the request being canceled (provided that some sort of transport or network
##% layer security association, as described in Section 26.2.1, is in place).
@case("auth-cancel-not-challenged", roles=("uas",), no_control=CHALLENGE)
def cancel_not_challenged(ctx: Context) -> None:
    """An authenticated INVITE left ringing is CANCELled without credentials: 200, not a
    challenge (without a ringing user: a CANCEL matching nothing gets no challenge)."""
    ringing = ctx.profile.ringing_user
    auth = _Auth(ctx)
    _, challenge = auth.challenge()
    # challenged for its own user, the target now gets an INVITE with credentials for the
    # user whose calls ring (a new Call-ID: a call of its own)
    auth.user = ringing or auth.user
    auth.call_id = unique("a") + "@conformance.invalid"
    header, value = auth.answer(challenge)
    req = auth.build(header, value)
    if not ringing:
        cancel = ctx.request("CANCEL", auth.link, call_id=req.call_id, from_tag=auth.tag)
        final, _ = ctx.transaction(auth.link, cancel, learn=False)
        final = ctx.require_final(final, "final response to CANCEL")
        ctx.check(final.status not in (401, 407), "no challenge to CANCEL", describe(final))
        return
    auth.link.send(bytes(req), "INVITE with credentials")
    ring = auth.link.expect(
        lambda m: m.is_response and m.branch == req.branch and m.status != 100, timeout=2.0
    )
    if ring is None or (ring.status or 0) >= 200:
        ctx.finish_invite(auth.link, req, ring)
        ctx.inconclusive(f"the authenticated INVITE did not ring ({describe(ring)})")
    ctx.ringing.append((auth.link, req))
    cancel = Outgoing("CANCEL", req.uri)
    for name in ("Via", "Max-Forwards", "From", "To", "Call-ID"):
        cancel.add(name, req.get(name) or "")
    cancel.add("CSeq", f"{req.cseq_number} CANCEL")
    auth.link.send(bytes(cancel), "CANCEL without credentials")
    got = auth.link.expect(
        lambda m: m.is_response and m.cseq[1] == "CANCEL" and (m.status or 0) >= 200, 2.0
    )
    ctx.require_final(got, "final response to CANCEL")
    assert got is not None
    ctx.check(got.status not in (401, 407), "no challenge to CANCEL", describe(got))
    ctx.check(
        200 <= (got.status or 0) < 300,
        "the CANCEL from the INVITE's hop accepted (200)",
        describe(got),
        requirement=1,
        level="SHOULD",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-26.3.2.4
##= type=test
##% UAs and proxy servers SHOULD challenge questionable requests with only a single 401
##% (Unauthorized) or 407 (Proxy Authentication Required), forgoing the normal response
##% retransmission algorithm, and thus behaving statelessly towards unauthenticated requests.
@case(
    "auth-single-challenge",
    roles=("uas", "registrar"),
    level="SHOULD",
    transports=("udp",),
    no_control=CHALLENGE,
)
def single_challenge(ctx: Context) -> None:
    """A request without credentials, sent once and never ACKed for a while, gets one 401:
    the challenge is not retransmitted (Timer G) as a stateful answer would be."""
    auth = _Auth(ctx)
    req = auth.build()
    auth.link.send(bytes(req))
    window = max(1.0, 4 * ctx.profile.t1)
    got = auth.link.collect(
        lambda m: m.is_response and m.branch == req.branch and (m.status or 0) >= 200, window
    )
    if not got:
        ctx.inconclusive(f"no final response to the {req.method}")
    if got[0].status not in (401, 407):
        if req.method == "INVITE":
            ctx.finish_invite(auth.link, req, got[0])
        ctx.not_applicable(f"the target does not challenge {req.method} ({describe(got[0])})")
    if req.method == "INVITE":
        auth.link.send(bytes(ack_for(req, got[0], ctx.target)), "ACK (late, on purpose)")
    ctx.check(
        len(got) == 1,
        "a single challenge, not retransmitted",
        f"{len(got)} copies within {window:g} s",
    )
