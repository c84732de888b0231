"""RFC 5626 (outbound) at a registrar (§6), and its keep-alive servers (§5.4, §8).

The runner plays the UA registering with ``+sip.instance`` and ``reg-id`` (``Supported:
outbound, path``), over a direct flow (one Via: the registrar is the first hop) or as if
relayed by an edge proxy (a second Via, with or without a Path whose first URI has
``ob``).  The cases apply to a registrar whose profile lists the ``outbound`` option tag
(sipref: ``registrar --outbound``, the ``sipref-registrar-outbound`` profile); against any
other they are not applicable, hence the ``registrar-*`` names (as in
`conformance.cases.registrar_bindings`: cases a correct registrar may leave not applicable).
Built on `conformance.cases.registrar` (`Registration`).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

from conformance.cases.registrar import Registration, _bindings
from conformance.messages import Outgoing, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.wire import Link
from rfc3261.stun import binding_request, parse_binding_response

ORDER = 81  # after registrar_bindings

REGISTRAR = ("registrar",)
#: the edge proxy the relayed REGISTERs claim to have come through (never contacted)
EDGE_VIA = "SIP/2.0/UDP 127.0.0.1:9;branch={branch};received=127.0.0.1"
EDGE_PATH_OB = "<sip:ob-edge@127.0.0.1:9;lr;ob>"
EDGE_PATH = "<sip:edge@127.0.0.1:9;lr>"
OUTBOUND_SUPPORTED = ("Supported", "outbound, path")


def _outbound(ctx: Context) -> None:
    if "outbound" not in {tag.lower() for tag in ctx.profile.extensions}:
        ctx.not_applicable("the profile does not list the 'outbound' option tag (RFC 5626)")


def _instance() -> str:
    return f'"<urn:uuid:{uuid.uuid4()}>"'


def _contact(reg: Registration, suffix: str, instance: str | None, reg_id: int | None) -> str:
    value = reg.contact(suffix)
    if instance is not None:
        value += f";+sip.instance={instance}"
    if reg_id is not None:
        value += f";reg-id={reg_id}"
    return value


def _send(
    ctx: Context,
    reg: Registration,
    contacts: list[str],
    *,
    supported: bool = True,
    relayed: bool = False,
    path: str = "",
    expires: int = 300,
) -> Message:
    """One REGISTER of ``reg`` (``relayed``: with a second Via, as an edge proxy forwards
    it; ``path``: its Path); the final response (a 2xx with bindings arms the postamble)."""
    extra = [OUTBOUND_SUPPORTED] if supported else []
    if path:
        extra.append(("Path", path))
    req: Outgoing = reg._build(contacts, expires, None, extra)
    if relayed:
        req.add("Via", EDGE_VIA.format(branch=unique("z9hG4bK")))
    final, _ = ctx.transaction(reg.link, req)
    final = ctx.require_final(final, "final response to the REGISTER")
    if 200 <= (final.status or 0) < 300 and _bindings(final) and not reg.cleanup_registered:
        reg.cleanup_registered = True
        ctx.on_teardown(f"un-REGISTER {reg.aor}", reg.unregister)
    return final


def _requires_outbound(final: Message) -> bool:
    tags = {t.strip().lower() for line in final.get_all("Require") for t in line.split(",")}
    return "outbound" in tags


def _ok(final: Message) -> bool:
    return 200 <= (final.status or 0) < 300


def _listed(final: Message, user_suffix: str) -> list[str]:
    """The Contact values of a 2xx naming the runner's contact with ``user_suffix``."""
    return [c for c in _bindings(final) if f"{user_suffix}@" in c]


def _bound(ctx: Context, reg: Registration, contact: str) -> Message:
    """The preamble and control: ``contact`` registered with outbound over a direct flow."""
    with ctx.preamble(f"{contact} registered over a direct flow"):

        def exchange() -> tuple[Message | None, bool]:
            final = _send(ctx, reg, [contact])
            return final, _ok(final)

        return ctx.controlled("REGISTER", exchange, "the outbound REGISTER over a direct flow")


##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% Provided that the UAC had included an outbound
##% option-tag (defined in Section 11.4) in a Supported header field
##% value in the REGISTER request, the registrar MUST include the
##% outbound option-tag in a Require header field value in its response
##% to that REGISTER request.
##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% When receiving a REGISTER request, the registrar MUST check from its
##% Via header field if the registrar is the first hop or not.
@case("registrar-outbound-require", roles=REGISTRAR)
def outbound_require(ctx: Context) -> None:
    """A first-hop REGISTER with +sip.instance, reg-id and Supported: outbound gets a 2xx
    with Require: outbound (no Path needed: the registrar is the first hop)."""
    _outbound(ctx)
    reg = Registration(ctx)
    final = _bound(ctx, reg, _contact(reg, ".ob", _instance(), 1))
    ctx.check(_requires_outbound(final), "Require: outbound", repr(final.get_all("Require")))


##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% If the registrar is not the first hop, it MUST examine the Path header of the request.
##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% If the Path header field is missing or it exists but the first URI does not have an "ob"
##% URI parameter, then outbound processing MUST NOT be applied to the registration.
##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% In this case, the following processing applies: if the REGISTER request contains the
##% reg-id and the outbound option tag in a Supported header field, then the registrar MUST
##% respond to the REGISTER request with a 439 (First Hop Lacks Outbound Support) response;
##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% When receiving a REGISTER request, the registrar MUST check from its
##% Via header field if the registrar is the first hop or not.
@case(
    "registrar-outbound-439-edge-without-ob",
    roles=REGISTRAR,
)
def first_hop_lacks_outbound(ctx: Context) -> None:
    """Relayed outbound REGISTERs: with a Path whose first URI has ob, a 2xx with Require:
    outbound (the control); with a Path without ob, or none, 439."""
    _outbound(ctx)
    reg = Registration(ctx)
    instance = _instance()
    with ctx.preamble("an outbound REGISTER relayed by an edge with ob"):

        def exchange() -> tuple[Message | None, bool]:
            contact = _contact(reg, ".edge", instance, 1)
            final = _send(ctx, reg, [contact], relayed=True, path=EDGE_PATH_OB)
            return final, _ok(final)

        good = ctx.controlled("REGISTER", exchange, "the REGISTER through an ob edge")
    ctx.check(
        _requires_outbound(good),
        "Require: outbound for the ob edge's REGISTER (the Path examined)",
        repr(good.get_all("Require")),
        requirement=0,
    )
    other = Registration(ctx)
    plain = _send(
        ctx, other, [_contact(other, ".np", _instance(), 1)], relayed=True, path=EDGE_PATH
    )
    ctx.check(plain.status == 439, "439 (a Path without ob)", describe(plain), requirement=2)
    third = Registration(ctx)
    bare = _send(ctx, third, [_contact(third, ".nopath", _instance(), 1)], relayed=True)
    ctx.check(bare.status == 439, "439 (no Path at all)", describe(bare), requirement=1)


##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% otherwise, the registrar MUST ignore the "reg-id" parameter of the Contact header.
##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% If the Contact header did not contain a "reg-id" Contact header field parameter or if
##% that parameter was ignored (as described above), the registrar MUST NOT include the
##% outbound option-tag in the Require header field of its response.
@case(
    "registrar-outbound-reg-id-ignored",
    roles=REGISTRAR,
)
def reg_id_ignored(ctx: Context) -> None:
    """A relayed REGISTER without an ob Path and without Supported: outbound: a plain 2xx
    (no 439, no Require: outbound); a first-hop one with Supported: outbound but no reg-id:
    no Require: outbound either."""
    _outbound(ctx)
    first = Registration(ctx)
    _bound(ctx, first, _contact(first, ".ctl", _instance(), 1))
    reg = Registration(ctx)
    plain = _send(ctx, reg, [_contact(reg, ".ign", _instance(), 1)], supported=False, relayed=True)
    ctx.check(_ok(plain), "a 2xx (the reg-id ignored, no 439)", describe(plain))
    ctx.check(
        not _requires_outbound(plain),
        "no Require: outbound",
        repr(plain.get_all("Require")),
        requirement=1,
    )
    other = Registration(ctx)
    no_reg_id = _send(ctx, other, [_contact(other, ".noreg", _instance(), None)])
    ctx.check(_ok(no_reg_id), "a 2xx", describe(no_reg_id), requirement=1)
    ctx.check(
        not _requires_outbound(no_reg_id),
        "no Require: outbound without reg-id",
        repr(no_reg_id.get_all("Require")),
        requirement=1,
    )


##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% Therefore, if the Contact header field contains more than one header field value with a
##% non-zero expiration and any of these header field values contain a "reg-id" Contact
##% header field parameter, the entire registration SHOULD be rejected with a 400 (Bad
##% Request) response.
@case(
    "registrar-outbound-reg-id-several-contacts",
    roles=REGISTRAR,
    level="SHOULD",
)
def several_contacts(ctx: Context) -> None:
    """Two contacts being registered, one with reg-id: 400, and neither bound."""
    _outbound(ctx)
    reg = Registration(ctx)
    one = _contact(reg, ".one", _instance(), 1)
    _bound(ctx, reg, one)
    both = _send(ctx, reg, [_contact(reg, ".two", _instance(), 2), reg.contact(".three")])
    ctx.should(both.status == 400, "400 (Bad Request)", describe(both))


##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% The registrar MUST be prepared to receive, simultaneously for the same AOR, some
##% registrations that use instance-id and reg-id and some registrations that do not.
##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% The registrar MUST store in the binding the Contact URI, all the Contact header field
##% parameters, and any Path header field values.
##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% Registrars that implement this specification MUST support the Path header mechanism
##% [RFC3327].
@case("registrar-outbound-mixed-bindings", roles=REGISTRAR)
def mixed_bindings(ctx: Context) -> None:
    """An outbound binding (through an ob edge, with a parameter of its own) and a plain
    one for the same AOR: both listed, the first with its +sip.instance, reg-id and
    parameter; the 2xx returns the stored Path."""
    _outbound(ctx)
    reg = Registration(ctx)
    contact = _contact(reg, ".stored", _instance(), 1) + ";x-conformance=kept"
    with ctx.preamble("an outbound binding through an ob edge"):

        def exchange() -> tuple[Message | None, bool]:
            final = _send(ctx, reg, [contact], relayed=True, path=EDGE_PATH_OB)
            return final, _ok(final)

        stored = ctx.controlled("REGISTER", exchange, "the REGISTER through an ob edge")
    paths = ", ".join(stored.get_all("Path"))
    ctx.check("ob-edge@" in paths, f"the Path {EDGE_PATH_OB} in the 2xx", paths or "no Path", 2)
    plain = _send(ctx, reg, [reg.contact(".plain")], supported=False)
    ctx.check(_ok(plain), "a 2xx for the plain binding", describe(plain))
    listed = _listed(plain, ".stored")
    ctx.check(
        bool(_listed(plain, ".plain")) and bool(listed),
        "both bindings listed",
        " | ".join(_bindings(plain)),
    )
    value = listed[0].lower() if listed else ""
    ctx.check(
        "reg-id=1" in value and "+sip.instance" in value and "x-conformance=kept" in value,
        "the outbound binding with all its Contact parameters",
        value or "not listed",
        requirement=1,
    )


##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% If the registrar receives a re-registration for a specific combination of AOR, and
##% instance-id and reg-id values, the registrar MUST update any information that uniquely
##% identifies the network flow over which the request arrived if that information has
##% changed
##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% If the UAC has a direct flow with the registrar, the registrar MUST store enough
##% information to uniquely identify the network flow over which the request arrived.
@case("registrar-outbound-flow-replaced", roles=REGISTRAR)
def flow_replaced(ctx: Context) -> None:
    """The same instance-id and reg-id registered again over a new flow (another socket,
    another contact address): one binding for the pair, the new one; a second reg-id of
    the same instance is kept beside it."""
    _outbound(ctx)
    instance = _instance()
    reg = Registration(ctx)
    _bound(ctx, reg, _contact(reg, ".old", instance, 1))
    moved = Registration(ctx, link=ctx.link())
    moved.call_id, moved.tag, moved.cseq = reg.call_id, reg.tag, reg.cseq
    second = _send(ctx, moved, [_contact(moved, ".two", instance, 2)])
    ctx.check(
        _ok(second) and bool(_listed(second, ".two")) and bool(_listed(second, ".old")),
        "reg-id 2 bound beside reg-id 1 (two flows of one instance)",
        " | ".join(_bindings(second)) or describe(second),
        requirement=1,
    )
    newer = _send(ctx, moved, [_contact(moved, ".new", instance, 1)])
    ctx.check(_ok(newer), "a 2xx", describe(newer))
    ctx.check(
        bool(_listed(newer, ".new")) and not _listed(newer, ".old"),
        "the reg-id 1 binding now on the new flow only",
        " | ".join(_bindings(newer)),
    )


def _tcp_link(ctx: Context) -> Link:
    """A connection to the target: the case's own over TCP when the run is over UDP."""
    if ctx.target.transport != "udp":
        return ctx.link()
    try:
        link = Link(replace(ctx.target, transport="tcp"), ctx.ladder, ctx.deadline)
    except OSError as exc:
        ctx.inconclusive(f"cannot connect over TCP to the target's port: {exc}")
    ctx.links.append(link)
    return link


##= https://www.rfc-editor.org/rfc/rfc5626#section-5.4
##= type=test
##% When a server receives a double CRLF sequence between SIP messages on a
##% connection-oriented transport such as TCP or SCTP, it MUST immediately respond with a
##% single CRLF over the same connection.
##= https://www.rfc-editor.org/rfc/rfc5626#section-6
##= type=test
##% To be compliant with this specification, registrars that can receive SIP requests
##% directly from a UAC without intervening edge proxies MUST implement the same keep-alive
##% mechanisms as edge proxies (Section 5.4).
@case(
    "registrar-outbound-crlf-pong",
    roles=REGISTRAR,
)
def crlf_pong(ctx: Context) -> None:
    """A ping (CRLF CRLF) on a connection the UA registered over gets a pong (one CRLF)."""
    _outbound(ctx)
    link = _tcp_link(ctx)
    reg = Registration(ctx, link=link)
    _bound(ctx, reg, _contact(reg, ".crlf", _instance(), 1))
    link.send(b"\r\n\r\n", "ping (CRLF CRLF)")
    link.sock.settimeout(1.0)
    try:
        got = link.sock.recv(64)
    except OSError as exc:
        got = f"nothing ({exc})".encode()
    ctx.check(got == b"\r\n", "a single CRLF", repr(got))


##= https://www.rfc-editor.org/rfc/rfc5626#section-8
##= type=test
##% The UAS, proxy, or registrar responds to a valid Binding Request with a Binding Response
##% that MUST include the XOR-MAPPED-ADDRESS attribute.
##= https://www.rfc-editor.org/rfc/rfc5626#section-8
##= type=test
##% If a server compliant to this section receives SIP requests on a given interface and UDP
##% port, it MUST also provide a limited version of a STUN server on the same interface and
##% UDP port.
@case(
    "outbound-stun-binding",
    roles=("registrar", "uas"),
    transports=("udp",),
)
def stun_binding(ctx: Context) -> None:
    """A STUN Binding request on the SIP UDP port: a Binding response whose
    XOR-MAPPED-ADDRESS is the runner's address and port."""
    _outbound(ctx)
    link = ctx.link()
    ctx.control(link, ctx.request(ctx.profile.probe or "OPTIONS", link))
    link.send(binding_request(b"conformance1"), "STUN Binding request")
    link.sock.settimeout(1.0)
    try:
        data = link.sock.recv(2048)
    except OSError:
        data = b""
    ctx.check(bool(data), "a Binding response on the SIP port", "nothing within 1 s", 1)
    parsed = parse_binding_response(data)
    expected = (b"conformance1", link.local[0], link.local[1])
    ctx.check(
        parsed == expected,
        f"XOR-MAPPED-ADDRESS {link.local[0]}:{link.local[1]}",
        repr(parsed) if parsed else repr(data[:40]),
    )


#: the longest Flow-Timer the grace-period case waits out (sipref's variant gives 1)
LONGEST_FLOW_TIMER = 3


##= https://www.rfc-editor.org/rfc/rfc5626#section-5.4
##= type=test
##% The server MUST wait for an amount of time larger than the Flow-Timer in order to have a
##% grace period to account for transport delay.
@case("registrar-outbound-flow-timer-grace", roles=REGISTRAR, timeout=10)
def flow_timer_grace(ctx: Context) -> None:
    """A connection the UA registered over, idle for the Flow-Timer the 2xx gave: the
    registrar has kept it (a ping on it still gets its pong)."""
    _outbound(ctx)
    link = _tcp_link(ctx)
    reg = Registration(ctx, link=link)
    final = _bound(ctx, reg, _contact(reg, ".grace", _instance(), 1))
    value = (final.get("Flow-Timer") or "").strip()
    if not value.isdigit():
        ctx.not_applicable("no Flow-Timer in the 2xx (a MAY of §6): no interval to wait out")
    if int(value) > LONGEST_FLOW_TIMER:
        ctx.not_applicable(f"Flow-Timer {value} s: too long to wait out in a case")
    time.sleep(int(value) + 0.3)
    link.send(b"\r\n\r\n", f"ping after {value} s idle")
    link.sock.settimeout(1.0)
    try:
        got = link.sock.recv(64)
    except OSError as exc:
        got = f"nothing ({exc})".encode()
    ctx.check(got == b"\r\n", f"the connection still open {value} s on (a pong)", repr(got))
