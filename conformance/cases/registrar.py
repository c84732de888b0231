"""Registrar behaviour (RFC 3261 §10.3) and redirect servers (§8.3).

REGISTER requests go to the target for an address-of-record in the profile's ``domain``
(default: the target's own host).  When the registrar challenges (401) and the profile has
``[credentials]``, the request is resent with Digest credentials (RFC 2617, MD5, qop=auth).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from conformance.messages import Outgoing, aor_of, unique
from conformance.model import Context, Inconclusive, case, describe
from conformance.sipmsg import Message, param
from conformance.wire import Link

#: load order of the case modules (conformance.discovery)
ORDER = 30

REGISTRAR = ("registrar",)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def digest_authorization(
    challenge: str, method: str, uri: str, username: str, password: str, cnonce: str = "0a4f113b"
) -> str:
    """An Authorization value answering a Digest ``challenge`` (RFC 2617 §3.2.2, MD5)."""
    fields = dict(re.findall(r'(\w+)\s*=\s*"?([^",]*)"?', challenge.split(" ", 1)[-1]))
    realm, nonce = fields.get("realm", ""), fields.get("nonce", "")
    algorithm = fields.get("algorithm", "MD5").upper()
    # RFC 8760: SHA-256 as well as MD5
    h = _sha256 if algorithm == "SHA-256" else _md5
    ha1 = h(f"{username}:{realm}:{password}")
    ha2 = h(f"{method}:{uri}")
    qop = "auth" if "auth" in [q.strip() for q in fields.get("qop", "").split(",")] else ""
    if qop:
        response = h(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}")
        extra = f', qop=auth, nc=00000001, cnonce="{cnonce}"'
    else:
        response = h(f"{ha1}:{nonce}:{ha2}")
        extra = ""
    opaque = f', opaque="{fields["opaque"]}"' if "opaque" in fields else ""
    return (
        f'Digest username="{username}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm={"SHA-256" if h is _sha256 else "MD5"}'
        f"{extra}{opaque}"
    )


class Registration:
    """REGISTER requests for one address-of-record, sharing a Call-ID and counting CSeq."""

    def __init__(self, ctx: Context, link: Link | None = None, user: str | None = None) -> None:
        self.ctx = ctx
        self.link = link or ctx.link()
        domain = ctx.profile.domain or ctx.target.hostport
        # the To URI is the address-of-record: no port there (RFC 3261 §19.1.1 Table 1)
        self.aor = aor_of(f"sip:{user or ctx.profile.username or ctx.user}@{domain}")
        self.call_id = unique("r") + "@conformance.invalid"
        self.tag = unique("t")
        self.cseq = 1
        self.uri = f"{ctx.target.scheme}:{domain}"
        self.cleanup_registered = False

    def contact(self, suffix: str = "") -> str:
        return f"<sip:{self.ctx.user}{suffix}@{self.link.sent_by}>"

    def register(
        self,
        contacts: list[str] | None = None,
        expires: int | None = None,
        cseq: int | None = None,
        extra: list[tuple[str, str]] | None = None,
    ) -> Message:
        """Send a REGISTER (answering one Digest challenge); its final response."""
        req = self._build(contacts, expires, cseq, extra)
        final, _ = self.ctx.transaction(self.link, req)
        final = self.ctx.require_final(final, "final response to REGISTER")
        if final.status in (401, 407) and self.ctx.profile.username:
            header = "WWW-Authenticate" if final.status == 401 else "Proxy-Authenticate"
            challenge = final.get(header) or ""
            req = self._build(contacts, expires, None, extra)
            req.add(
                "Authorization" if final.status == 401 else "Proxy-Authorization",
                digest_authorization(
                    challenge,
                    "REGISTER",
                    self.uri,
                    self.ctx.profile.username,
                    self.ctx.profile.password,
                ),
            )
            final, _ = self.ctx.transaction(self.link, req)
            final = self.ctx.require_final(final, "final response to the authenticated REGISTER")
        if final.status in (401, 407):
            self.ctx.inconclusive(
                "the registrar wants credentials; add [credentials] to the profile"
            )
        if 200 <= (final.status or 0) < 300 and _bindings(final) and not self.cleanup_registered:
            # the postamble removes every binding of the address-of-record (§10.2.2)
            self.cleanup_registered = True
            self.ctx.on_teardown(f"un-REGISTER {self.aor}", self.unregister)
        return final

    def control(
        self, contacts: list[str] | None = None, expires: int | None = None, **kw: Any
    ) -> Message:
        """The control: a REGISTER for the same address-of-record without the defect (by
        default a query, which changes nothing) must get a 2xx; else the registrar turns
        the address down for another reason (unknown user, no credentials) and the case is
        inconclusive."""

        def exchange() -> tuple[Message | None, bool]:
            final = self.register(contacts, expires, **kw)
            return final, 200 <= (final.status or 0) < 300

        what = "a query" if contacts is None else "Contact: " + ", ".join(contacts)
        return self.ctx.controlled(
            "REGISTER", exchange, f"the control REGISTER for {self.aor} ({what})"
        )

    def bound(self, contact: str, **kw: Any) -> Message:
        """The preamble of the cases about existing bindings: ``contact`` bound to the
        address-of-record (a REGISTER that is also the case's control)."""
        with self.ctx.preamble(f"{contact} bound to {self.aor}"):
            return self.control([contact], expires=300, **kw)

    def request(self, contacts: list[str] | None = None, expires: int | None = None) -> Outgoing:
        """The next REGISTER of this registration, not sent (a query without ``contacts``)."""
        return self._build(contacts, expires, None, None)

    def unregister(self) -> bool:
        """Remove every binding of the address-of-record (Contact: *, Expires: 0)."""
        final = self.register(["*"], expires=0)
        return 200 <= (final.status or 0) < 300

    def _build(
        self,
        contacts: list[str] | None,
        expires: int | None,
        cseq: int | None,
        extra: list[tuple[str, str]] | None,
    ) -> Outgoing:
        number = cseq if cseq is not None else self.cseq
        self.cseq = max(self.cseq, number) + 1
        req = self.ctx.request(
            "REGISTER",
            self.link,
            uri=self.uri,
            cseq=number,
            call_id=self.call_id,
            from_tag=self.tag,
            to=f"<{self.aor}>",
            extra=extra,
        )
        req.set("From", f"<{self.aor}>;tag={self.tag}")
        req.set("Contact", None)
        for value in contacts or []:
            req.add("Contact", value)
        if expires is not None:
            req.add("Expires", str(expires))
        return req


#: the preamble of the redirect cases (`register_user`)
USER_REGISTERED = "the profile's user registered with a contact of the runner's"


def register_user(ctx: Context) -> str | None:
    """The preamble of the redirect cases: bind a contact of the runner's to the profile's
    user, for a redirect server that keeps a registrar's bindings (§8.3: "a location
    service of some kind").  The contact, or None when the target took no REGISTER (its
    users may be configured otherwise: the case's control INVITE tells); the postamble
    removes the binding."""
    reg = Registration(ctx)
    contact = reg.contact()
    try:
        final = reg.register([contact], expires=300)
    except Inconclusive as exc:
        ctx.preamble_outcome = f"not registered: {exc}"
        return None
    ok = 200 <= (final.status or 0) < 300
    outcome = f"REGISTER {contact} -> {describe(final)}"
    ctx.preamble_outcome = ("ok: " if ok else "not registered: ") + outcome
    return contact if ok else None


def _bindings(final: Message) -> list[str]:
    return [c for c in final.get_all("Contact") if c.strip() != "*"]


def _has(final: Message, contact: str) -> bool:
    uri = contact.strip("<>").lower()
    return any(uri in c.lower() for c in _bindings(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% The response MUST contain Contact header field values enumerating all current bindings.
@case("reg-register-200-binding", roles=REGISTRAR)
def register_binding(ctx: Context) -> None:
    """REGISTER with a Contact gets 200 listing that binding."""
    reg = Registration(ctx)
    reg.control()
    contact = reg.contact()
    final = reg.register([contact], expires=300)
    reg.register(["*"], expires=0)
    ctx.check(final.status == 200, "200 (OK)", describe(final))
    ctx.check(_has(final, contact), f"Contact {contact}", ", ".join(_bindings(final)) or "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% Each Contact value MUST feature an "expires" parameter indicating its expiration interval
##% chosen by the registrar.
@case("reg-contact-expires-param", roles=REGISTRAR)
def contact_expires(ctx: Context) -> None:
    """Every Contact in the 200 has an expires parameter."""
    reg = Registration(ctx)
    reg.control()
    final = reg.register([reg.contact()], expires=300)
    reg.register(["*"], expires=0)
    ctx.check(final.status == 200, "200 (OK)", describe(final))
    missing = [c for c in _bindings(final) if param(c, "expires") is None]
    ctx.check(
        bool(_bindings(final)) and not missing,
        "expires on every Contact",
        ", ".join(missing) or "no Contact",
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% The registrar MAY choose an expiration less than the requested expiration interval.
@case("reg-expires-not-longer", roles=REGISTRAR)
def expires_not_longer(ctx: Context) -> None:
    """The chosen expiration is not longer than the one requested (Contact expires=)."""
    reg = Registration(ctx)
    reg.control()
    final = reg.register([reg.contact() + ";expires=120"])
    reg.register(["*"], expires=0)
    if final.status == 423:
        ctx.inconclusive("the registrar wants longer registrations (423)")
    ctx.check(final.status == 200, "200 (OK)", describe(final))
    values = [param(c, "expires") for c in _bindings(final)]
    ok = all(v is not None and v.isdigit() and int(v) <= 120 for v in values) and bool(values)
    ctx.check(ok, "expires <= 120", ", ".join(map(str, values)) or "no Contact")


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% The registrar checks whether the request contains the Contact header field.
@case("reg-query", roles=REGISTRAR, preamble="a binding for the address-of-record")
def query(ctx: Context) -> None:
    """REGISTER without Contact lists the current bindings."""
    reg = Registration(ctx)
    contact = reg.contact()
    reg.bound(contact)
    final = reg.register(None)
    reg.register(["*"], expires=0)
    ctx.check(final.status == 200, "200 (OK)", describe(final))
    ctx.check(_has(final, contact), f"Contact {contact}", ", ".join(_bindings(final)) or "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If not, the registrar checks whether the Call-ID agrees with the value stored for each
##% binding.
@case("reg-remove-all", roles=REGISTRAR, preamble="a binding for the address-of-record")
def remove_all(ctx: Context) -> None:
    """Contact: * with Expires: 0 removes every binding."""
    reg = Registration(ctx)
    reg.bound(reg.contact())
    final = reg.register(["*"], expires=0)
    ctx.check(final.status == 200, "200 (OK)", describe(final))
    after = reg.register(None)
    ctx.check(not _bindings(after), "no bindings left", ", ".join(_bindings(after)))


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If the request has additional Contact fields or an expiration time other than zero, the
##% request is invalid, and the server MUST return a 400 (Invalid Request) and skip the
##% remaining steps.
@case("reg-star-nonzero-400", roles=REGISTRAR)
def star_nonzero(ctx: Context) -> None:
    """Contact: * with a non-zero Expires gets 400."""
    reg = Registration(ctx)
    reg.control(["*"], expires=0)  # the same removal with Expires: 0 is valid
    final = reg.register(["*"], expires=300)
    ctx.check(final.status == 400, "400", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If the request has additional Contact fields or an expiration time other than zero, the
##% request is invalid, and the server MUST return a 400 (Invalid Request) and skip the
##% remaining steps.
@case("reg-star-with-others-400", roles=REGISTRAR)
def star_with_others(ctx: Context) -> None:
    """Contact: * next to another Contact gets 400."""
    reg = Registration(ctx)
    reg.control(["*"], expires=0)  # Contact: * alone is valid
    final = reg.register(["*", reg.contact()], expires=0)
    ctx.check(final.status == 400, "400", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If the value is higher than that of the existing binding, it MUST update or remove the
##% binding as above. If not, the update MUST be aborted and the request fails.
@case("reg-cseq-out-of-order", roles=REGISTRAR, preamble="a binding for the address-of-record")
def cseq_out_of_order(ctx: Context) -> None:
    """A REGISTER with the same Call-ID and a lower CSeq fails and changes nothing."""
    reg = Registration(ctx)
    contact = reg.contact()
    reg.bound(contact, cseq=10)
    stale = reg.register([contact], expires=0, cseq=5)
    after = reg.register(None, cseq=20)
    reg.register(["*"], expires=0, cseq=21)
    ctx.check((stale.status or 0) >= 400, "an error response", describe(stale))
    ctx.check(
        _has(after, contact), "the binding still there", ", ".join(_bindings(after)) or "none"
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% To guarantee that the registrar supports any necessary extensions, the registrar MUST
##% process the Require header field values as described for UASs in Section 8.2.2.
@case("reg-420-require", roles=REGISTRAR)
def register_require(ctx: Context) -> None:
    """REGISTER requiring an unknown extension gets 420."""
    reg = Registration(ctx)
    reg.control([reg.contact()], expires=300)  # the same REGISTER without the Require
    final = reg.register(
        [reg.contact()], expires=300, extra=[("Require", "x-conformance-unknown")]
    )
    if final.status == 200:
        reg.register(["*"], expires=0)
    ctx.check(final.status == 420, "420 (Bad Extension)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% This response MUST contain a Min-Expires header field that states the minimum expiration
##% interval the registrar is willing to honor.
@case("reg-423-min-expires", roles=REGISTRAR)
def interval_too_brief(ctx: Context) -> None:
    """A 423 to a very brief registration carries Min-Expires."""
    reg = Registration(ctx)
    reg.control([reg.contact()], expires=300)  # the same REGISTER for longer
    final = reg.register([reg.contact()], expires=1)
    reg.register(["*"], expires=0)
    if final.status != 423:
        ctx.not_applicable(f"the registrar accepts 1 s registrations ({describe(final)})")
    ctx.check(final.get("Min-Expires") is not None, "a Min-Expires header field", "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% Registrars MUST NOT include a Record-Route header field in any response to a REGISTER
##% request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% Registrars MUST ignore the Record-Route header field if it is included in a REGISTER
##% request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
##= type=test
##% The Record-Route header field has no meaning in REGISTER requests or responses, and MUST
##% be ignored if present.
@case("reg-no-record-route", roles=REGISTRAR)
def no_record_route(ctx: Context) -> None:
    """A Record-Route in the REGISTER does not come back in the response."""
    reg = Registration(ctx)
    reg.control()
    final = reg.register(
        [reg.contact()], expires=300, extra=[("Record-Route", f"<sip:{reg.link.sent_by};lr>")]
    )
    reg.register(["*"], expires=0)
    ctx.check(
        final.get("Record-Route") is None, "no Record-Route", final.get("Record-Route") or ""
    )
    ctx.check(final.status == 200, "200 (OK), as without it", describe(final), requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% A registrar MUST not generate 6xx responses.
@case(
    "reg-no-6xx",
    roles=REGISTRAR,
    no_control="only a 6xx fails, and a registrar may send none for any reason",
)
def no_6xx(ctx: Context) -> None:
    """Odd REGISTERs (no Contact, star, bad expires) never get a 6xx."""
    reg = Registration(ctx)
    for contacts, expires in ((None, None), (["*"], 5), ([reg.contact()], 0)):
        final = reg.register(contacts, expires=expires)
        ctx.check((final.status or 0) < 600, "no 6xx", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.3
##= type=test
##% When a redirect server returns a 3xx response to a request, it populates the list of (one
##% or more) alternative locations into the Contact header field.
@case(
    "redirect-3xx-contact",
    roles=("redirect",),
    preamble=USER_REGISTERED,
    no_control="judged on a 3xx only: any other answer is inconclusive",
)
def redirect_contact(ctx: Context) -> None:
    """A 3xx from a redirect server lists alternative locations in Contact."""
    register_user(ctx)
    link = ctx.link()
    req = ctx.request("INVITE", link)
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final, "final response to INVITE")
    ctx.finish_invite(link, req, final)
    if not 300 <= (final.status or 0) < 400:
        ctx.inconclusive(f"no redirection ({describe(final)}); register the profile's user first")
    ctx.check(bool(final.get_all("Contact")), "Contact values in the 3xx", "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.3
##= type=test
##% However, redirect servers MUST NOT redirect a request to a URI equal to the one in the
##% Request-URI; instead, provided that the URI does not point to itself, the server MAY proxy
##% the request to the destination URI, or MAY reject it with a 404.
@case(
    "redirect-not-to-self",
    roles=("redirect",),
    preamble=USER_REGISTERED,
    no_control="judged on a 3xx only: any other answer is inconclusive",
)
def redirect_not_to_self(ctx: Context) -> None:
    """A 3xx never names the Request-URI itself."""
    register_user(ctx)
    link = ctx.link()
    req = ctx.request("INVITE", link)
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final, "final response to INVITE")
    ctx.finish_invite(link, req, final)
    if not 300 <= (final.status or 0) < 400:
        ctx.inconclusive(f"no redirection ({describe(final)})")
    uris = [c.split("<", 1)[-1].split(">", 1)[0].strip() for c in final.get_all("Contact")]
    ctx.check(req.uri not in uris, f"no Contact equal to {req.uri}", ", ".join(uris))


def _expires_of(final: Message, contact: str) -> int | None:
    """The expires parameter the 200 gives ``contact`` (None: not listed or no number)."""
    uri = contact.strip("<>").lower()
    for value in _bindings(final):
        if uri in value.lower():
            number = param(value, "expires")
            return int(number) if number is not None and number.isdigit() else None
    return None


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If the address-of-record is not valid for the domain in the Request-URI, the registrar
##% MUST send a 404 (Not Found) response and skip the remaining steps.
@case("reg-aor-other-domain-404", roles=REGISTRAR)
def aor_other_domain(ctx: Context) -> None:
    """A To address-of-record in a domain other than the Request-URI's gets 404."""
    reg = Registration(ctx)
    reg.control()  # the same query for an address-of-record of the registrar's domain
    other = Registration(ctx, reg.link)
    other.aor = f"sip:{ctx.profile.username or ctx.user}@elsewhere.conformance.invalid"
    final = other.register([other.contact()], expires=300)
    ctx.check(final.status == 404, "404 (Not Found)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If there is no such parameter, but the request has an Expires header field, that value
##% MUST be taken as the requested expiration.
@case("reg-expires-header", roles=REGISTRAR)
def expires_header(ctx: Context) -> None:
    """Expires: 150 with no expires parameter: the binding gets at most 150 s."""
    reg = Registration(ctx)
    reg.control()
    contact = reg.contact()
    final = reg.register([contact], expires=150)
    if final.status == 423:
        ctx.inconclusive("the registrar wants longer registrations (423)")
    value = _expires_of(final, contact)
    ctx.check(
        value is not None and 0 < value <= 150, "0 < expires <= 150", str(value) + " (or none)"
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If the field value has an "expires" parameter, that value MUST be taken as the requested
##% expiration.
@case("reg-expires-param-over-header", roles=REGISTRAR)
def expires_param_first(ctx: Context) -> None:
    """Contact ;expires=100 with Expires: 3000: the binding gets at most 100 s."""
    reg = Registration(ctx)
    reg.control()
    contact = reg.contact()
    final = reg.register([contact + ";expires=100"], expires=3000)
    if final.status == 423:
        ctx.inconclusive("the registrar wants longer registrations (423)")
    value = _expires_of(final, contact)
    ctx.check(
        value is not None and 0 < value <= 100, "0 < expires <= 100", str(value) + " (or none)"
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If there is neither, a locally-configured default value MUST be taken as the requested
##% expiration.
@case("reg-expires-default", roles=REGISTRAR)
def expires_default(ctx: Context) -> None:
    """A Contact with neither expires parameter nor Expires is bound for a default time."""
    reg = Registration(ctx)
    reg.control()
    contact = reg.contact()
    final = reg.register([contact])
    value = _expires_of(final, contact)
    ctx.check(final.status == 200, "200 (OK)", describe(final))
    ctx.check(value is not None and value > 0, "expires > 0", str(value) + " (or none)")


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% The response MUST contain Contact header field values enumerating all current bindings.
@case("reg-all-bindings-listed", roles=REGISTRAR, preamble="a binding for the address-of-record")
def all_bindings(ctx: Context) -> None:
    """A second contact added: the 200 lists both bindings."""
    reg = Registration(ctx)
    first, second = reg.contact(), reg.contact(".second")
    reg.bound(first)
    final = reg.register([second], expires=300)
    listed = ", ".join(_bindings(final)) or "none"
    ctx.check(_has(final, first) and _has(final, second), f"{first} and {second}", listed)


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If it does agree, it MUST remove the binding only if the CSeq in the request is higher
##% than the value stored for that binding.
@case("reg-remove-one", roles=REGISTRAR, preamble="two bindings for the address-of-record")
def remove_one(ctx: Context) -> None:
    """expires=0 on one of two contacts removes that one; the other stays listed."""
    reg = Registration(ctx)
    first, second = reg.contact(), reg.contact(".second")
    with ctx.preamble(f"{first} and {second} bound to {reg.aor}"):
        reg.control([first, second], expires=300)
    final = reg.register([first + ";expires=0"])
    listed = ", ".join(_bindings(final)) or "none"
    ctx.check(final.status == 200, "200 (OK)", describe(final))
    ctx.check(not _has(final, first), f"{first} removed", listed)
    ctx.check(_has(final, second), f"{second} still bound", listed)


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If the Call-ID value in the existing binding differs from the Call-ID value in the
##% request, the binding MUST be removed if the expiration time is zero and updated otherwise.
@case("reg-other-call-id-removes", roles=REGISTRAR, preamble="a binding for the address-of-record")
def other_call_id(ctx: Context) -> None:
    """A binding made with CSeq 10 is removed by another Call-ID's REGISTER with CSeq 1."""
    reg = Registration(ctx)
    contact = reg.contact()
    reg.bound(contact, cseq=10)
    other = Registration(ctx, reg.link)
    final = other.register([contact], expires=0, cseq=1)
    after = reg.register(None, cseq=20)
    ctx.check(final.status == 200, "200 (OK)", describe(final))
    ctx.check(not _has(after, contact), "the binding removed", ", ".join(_bindings(after)))


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% REGISTER requests MUST also be processed atomically, meaning that a particular REGISTER
##% request is either processed completely or not at all.
@case("reg-invalid-binds-nothing", roles=REGISTRAR)
def atomic(ctx: Context) -> None:
    """A REGISTER refused with 400 (Contact * beside another) binds none of its contacts."""
    reg = Registration(ctx)
    reg.control()
    contact = reg.contact(".atomic")
    final = reg.register([contact, "*"], expires=0)
    if (final.status or 0) < 300:
        ctx.inconclusive(f"the registrar accepted the REGISTER ({describe(final)})")
    after = reg.register(None)
    ctx.check(not _has(after, contact), "nothing bound", ", ".join(_bindings(after)))


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% To do that, all URI parameters MUST be removed (including the user-param), and any
##% escaped characters MUST be converted to their unescaped form.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% The URI MUST then be converted to a canonical form.
@case("reg-aor-canonical", roles=REGISTRAR)
def aor_canonical(ctx: Context) -> None:
    """A binding made through To <AOR;user=ip> is found by a query through the plain AOR."""
    reg = Registration(ctx)
    reg.control()
    contact = reg.contact(".canonical")
    odd = Registration(ctx, reg.link)
    req_aor = odd.aor
    odd.aor = req_aor + ";user=ip"
    final = odd.register([contact], expires=300)
    if final.status != 200:
        ctx.inconclusive(f"the registrar refused To <{odd.aor}> ({describe(final)})")
    after = reg.register(None)
    odd.aor = req_aor  # the postamble removes the bindings of the plain AOR
    ctx.check(_has(after, contact), f"{contact} listed for {req_aor}", ", ".join(_bindings(after)))


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% The response SHOULD include a Date header field.
@case("reg-date", roles=REGISTRAR, level="SHOULD")
def date(ctx: Context) -> None:
    """The 200 to a REGISTER carries a Date header field."""
    reg = Registration(ctx)
    final = reg.control([reg.contact()], expires=300)
    ctx.check(final.get("Date") is not None, "a Date header field", "none")


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If not, it MUST remove the binding.
@case("reg-star-other-call-id", roles=REGISTRAR, preamble="a binding for the address-of-record")
def star_other_call_id(ctx: Context) -> None:
    """Contact: * from another Call-ID (with a lower CSeq) removes the binding."""
    reg = Registration(ctx)
    contact = reg.contact()
    reg.bound(contact, cseq=10)
    other = Registration(ctx, reg.link)
    final = other.register(["*"], expires=0, cseq=1)
    after = reg.register(None, cseq=20)
    ctx.check(final.status == 200, "200 (OK)", describe(final))
    ctx.check(not _has(after, contact), "the binding removed", ", ".join(_bindings(after)))


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% Otherwise, the update MUST be aborted and the request fails.
@case("reg-star-cseq-lower", roles=REGISTRAR, preamble="a binding for the address-of-record")
def star_cseq_lower(ctx: Context) -> None:
    """Contact: * from the same Call-ID with a lower CSeq fails and removes nothing."""
    reg = Registration(ctx)
    contact = reg.contact()
    reg.bound(contact, cseq=10)
    stale = reg.register(["*"], expires=0, cseq=5)
    after = reg.register(None, cseq=20)
    ctx.check((stale.status or 0) >= 400, "an error response", describe(stale))
    ctx.check(_has(after, contact), "the binding still there", ", ".join(_bindings(after)))
