"""The UA registering with RFC 5626 outbound (§4): the runner is its edge proxy and registrar.

The profile's ``[uac] register-outbound`` command makes the target register through an
outbound-proxy set of two URIs both naming the runner (our ua: two ``--outbound``, a fixed
``--instance-id``, ``--outbound-base-time 1``); ``[uac] call-outbound`` registers through
one and then calls the runner over that flow.  The runner answers each REGISTER with a 2xx
(``Require: outbound`` and ``Flow-Timer: 1`` unless a case says otherwise) and the STUN
keep-alives on the same UDP socket (§8) with the address they came from, or, when a case
wants the flow to fail, with another one (§4.4.2).
"""

from __future__ import annotations

import contextlib
import itertools
import re
import socket
import time
from collections.abc import Callable

from conformance.cases.uac_register import uri_of
from conformance.model import Context, case
from conformance.sipmsg import Message, StreamBuffer, parse_message
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer
from conformance.wire import Event
from rfc3261.stun import binding_response, is_stun

ORDER = 67  # after uac_register

REGISTERING = "an outbound REGISTER from the target ([uac] register-outbound)"
CALLING = "an outbound REGISTER, then an INVITE, from the target ([uac] call-outbound)"
#: the Flow-Timer the runner's 2xx asks for: keep-alives come about every second
FLOW_TIMER = 1
_URN = re.compile(r"(?i)^urn:[a-z0-9][a-z0-9-]{0,31}:\S+$")
_UUID_URN = re.compile(
    r"(?i)^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


class Edge:
    """The runner's side of an outbound UA: SIP and STUN on the Peer's one UDP socket."""

    def __init__(self, ctx: Context, kind: str) -> None:
        self.ctx = ctx
        self.peer = Peer(ctx, kind)
        self.sock = self.peer.server.sock
        self.ladder = self.peer.server.ladder
        self.local = self.peer.server.local
        #: (arrival time, source) of every STUN request seen
        self.stun: list[tuple[float, tuple[str, int]]] = []
        #: bare CRLF datagrams seen (keep-alives that must not be used on UDP)
        self.crlf = 0
        #: how to answer STUN: the address to put in XOR-MAPPED-ADDRESS (None: no answer)
        self.mapped: Callable[[tuple[str, int]], tuple[str, int] | None] = lambda a: a
        #: REGISTER handling: the extra header lines of the 2xx, or a status to refuse with
        self.register_headers = ["Require: outbound", f"Flow-Timer: {FLOW_TIMER}"]
        self.register_status = 200
        self.registers: list[tuple[float, Message, tuple[str, int]]] = []

    def _record(self, direction: str, data: bytes, peer: tuple[str, int], note: str) -> None:
        src, dst = (peer, self.local) if direction == "received" else (self.local, peer)
        self.ladder.add(Event(0, direction, "udp", src, dst, data, note))

    def next(self, method: str | None, timeout: float) -> tuple[Message, tuple[str, int]] | None:
        """The next SIP request (``method``, or any), answering STUN and REGISTER on the way:
        a REGISTER is answered and returned when asked for, else only answered."""
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            if time.monotonic() >= self.ctx.deadline:
                break
            self.sock.settimeout(max(0.001, left))
            try:
                data, addr = self.sock.recvfrom(65536)
            except (TimeoutError, BlockingIOError):
                break
            except OSError:
                continue
            addr = addr[:2]
            now = time.monotonic()
            if is_stun(data):
                self.stun.append((now, addr))
                self._record("received", data, addr, "STUN Binding request")
                mapped = self.mapped(addr)
                answer = binding_response(data, *mapped) if mapped is not None else None
                if answer is not None:
                    self._record("sent", answer, addr, f"STUN Binding response {mapped}")
                    self.sock.sendto(answer, addr)
                continue
            if data.strip() == b"":
                self.crlf += 1
                self._record("received", data, addr, "CRLF keep-alive")
                continue
            msg = parse_message(data)
            self._record("received", data, addr, "" if msg else "garbage")
            if msg is None or msg.method is None:
                continue
            if msg.method == "REGISTER":
                self.registers.append((now, msg, addr))
                self.answer_register(msg, addr)
            elif msg.method == "INVITE" and method != "INVITE":
                self.peer.answer(msg, addr, 200)
            elif msg.method != "ACK" and msg.method != method:
                self.peer.answer(msg, addr, 200, body=b"", contact=False)
            if method is None or msg.method == method:
                return msg, addr
        return None

    def answer_register(self, msg: Message, addr: tuple[str, int]) -> None:
        if self.register_status != 200:
            self.peer.answer(msg, addr, self.register_status, contact=False)
            return
        expires = "0" if msg.get("Expires") == "0" else "60"
        contacts = [f"Contact: {c};expires={expires}" for c in msg.get_all("Contact")]
        if expires == "0":
            contacts = []
        self.peer.answer(
            msg, addr, 200, headers=[*contacts, *self.register_headers], contact=False
        )

    def first_register(self, what: str = REGISTERING) -> tuple[Message, tuple[str, int]]:
        with self.ctx.preamble(what):
            got = self.next("REGISTER", self.peer.wait)
            if got is None:
                self.ctx.inconclusive("the target sent no REGISTER")
        assert got is not None
        return got

    def serve(self, duration: float) -> None:
        """Answer whatever comes (STUN, REGISTER, requests) for ``duration`` seconds."""
        end = time.monotonic() + duration
        while (left := end - time.monotonic()) > 0:
            if self.next("(none)", left) is None:
                return


def _params(contact: str) -> dict[str, str]:
    """The header parameters of one Contact value (after the URI), names lowercased."""
    rest = contact.split(">", 1)[1] if ">" in contact else contact.split(";", 1)[-1]
    out = {}
    for part in rest.split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            out[name.lower()] = value.strip()
    return out


def _instance(contact: str) -> str:
    """The URN of a +sip.instance value ('"<urn:...>"')."""
    return _params(contact).get("+sip.instance", "").strip('"').strip("<>")


def _tags(msg: Message) -> set[str]:
    return {t.strip().lower() for line in msg.get_all("Supported") for t in line.split(",")}


def _two_registers(edge: Edge) -> list[Message]:
    """The first REGISTER and any other one the UA sends within the next second."""
    first, _ = edge.first_register()
    found = [first]
    end = time.monotonic() + 1.0
    while (left := end - time.monotonic()) > 0:
        got = edge.next("REGISTER", left)
        if got is None:
            break
        if got[0].call_id != first.call_id or len(found) > 1:
            found.append(got[0])
    return found


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% UAs that support this specification MUST include the outbound option tag in a Supported
##% header field in a REGISTER request.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% REGISTER requests, other than those described in Section 4.2.3, MUST include an
##% instance-id media feature tag as specified in Section 4.1.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% The UAC MUST support the Path header [RFC3327] mechanism, and indicate its support by
##% including the 'path' option-tag in a Supported header field value in its REGISTER
##% requests.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.1
##= type=test
##% Each UA MUST have an Instance Identifier Uniform Resource Name (URN) [RFC2141] that
##% uniquely identifies the device.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.1
##= type=test
##% If a URN scheme other than UUID is used, the UA MUST only use URNs for which an RFC
##% (from the IETF stream) defines how the specific URN needs to be constructed and used in
##% the "+sip.instance" Contact header field parameter for outbound behavior.
##= https://www.rfc-editor.org/rfc/rfc5626#section-10
##= type=test
##% The value of the reg-id MUST NOT be 0 and MUST be less than 2^31.
##= https://www.rfc-editor.org/rfc/rfc3327#section-5.1
##= type=test
##% The UA SHOULD include the option tag "path" as a header field value in all Supported
##% header fields, and SHOULD include a Supported header field in all requests.
@case(
    "uac-outbound-register",
    roles=UAC,
    timeout=15,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def outbound_register(ctx: Context) -> None:
    """The outbound REGISTER: Supported: outbound, path; a Contact with a +sip.instance
    URN (urn:uuid, or another RFC-defined scheme: sip.instance's own registry) and a
    reg-id from 1 to 2^31 - 1."""
    edge = Edge(ctx, "register-outbound")
    register, _ = edge.first_register()
    tags = _tags(register)
    ctx.check("outbound" in tags, "Supported: outbound", repr(register.get_all("Supported")))
    ctx.check("path" in tags, "Supported: path", repr(register.get_all("Supported")), 2)
    ctx.check(
        "path" in tags,
        "path in the Supported header field",
        repr(register.get_all("Supported")),
        requirement=6,
        level="SHOULD",
    )
    contacts = register.get_all("Contact")
    contact = contacts[0] if contacts else ""
    urn = _instance(contact)
    ctx.check(bool(urn), "a +sip.instance in the Contact", contact or "no Contact", 1)
    ctx.check(_URN.match(urn) is not None, "a URN (RFC 2141)", urn, requirement=3)
    scheme = urn.split(":")[1].lower() if urn.count(":") >= 2 else ""
    # the URN namespaces an IETF RFC defines for +sip.instance: uuid (RFC 4122), gsma
    # (RFC 7254's IMEI), and the "urn:gsma:imei" form of it
    ctx.check(scheme in ("uuid", "gsma"), "a UUID (or another RFC-defined) URN", urn, 4)
    reg_id = _params(contact).get("reg-id", "")
    ctx.check(
        reg_id.isdigit() and 0 < int(reg_id) < 2**31,
        "reg-id from 1 to 2^31 - 1",
        reg_id or "no reg-id",
        requirement=5,
    )
    edge.serve(0.2)


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.1
##= type=test
##% A UA SHOULD create a Universally Unique Identifier (UUID) URN [RFC4122] as its
##% instance-id.
@case(
    "uac-outbound-uuid-instance",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def uuid_instance(ctx: Context) -> None:
    """The +sip.instance of the outbound REGISTER is a UUID URN (RFC 4122's form)."""
    edge = Edge(ctx, "register-outbound")
    register, _ = edge.first_register()
    urn = _instance((register.get_all("Contact") or [""])[0])
    ctx.should(_UUID_URN.match(urn) is not None, "urn:uuid:8-4-4-4-12", urn or "none")
    edge.serve(0.2)


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% However, a UA MUST support sets with at least two outbound proxy URIs
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% If the set has more than one URI, the UAC MUST send a REGISTER request to at least two
##% of the default outbound proxies from the set.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% A UAC conforming to this specification MUST include in the Contact header field, a
##% "reg-id" parameter that is distinct from other "reg-id" parameters used in other
##% registrations that use the same "+sip.instance" Contact header field parameter and AOR.
@case(
    "uac-outbound-proxy-set",
    roles=UAC,
    timeout=15,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def proxy_set(ctx: Context) -> None:
    """A set of two outbound proxy URIs: a REGISTER through each (a Route per URI), the
    same +sip.instance, two distinct reg-ids."""
    edge = Edge(ctx, "register-outbound")
    found = _two_registers(edge)
    ctx.check(len(found) >= 2, "a REGISTER through each of the two URIs", f"{len(found)}")
    routes = {" | ".join(m.get_all("Route")) for m in found}
    ctx.check(len(routes) >= 2, "two first hops (Route per URI)", " / ".join(routes), 1)
    contacts = [(m.get_all("Contact") or [""])[0] for m in found]
    ids = [_params(c).get("reg-id", "") for c in contacts]
    same = len({_instance(c) for c in contacts}) == 1
    ctx.check(
        same and len(set(ids)) == len(ids) and all(ids),
        "one +sip.instance, a distinct reg-id each",
        " | ".join(contacts),
        requirement=2,
    )
    edge.serve(0.2)


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% For each outbound proxy URI in the set, the User Agent Client (UAC) SHOULD send a
##% REGISTER request using this URI as the default outbound proxy.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% and SHOULD support sets with up to four URIs.
@case(
    "uac-outbound-register-each-proxy",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def register_each_proxy(ctx: Context) -> None:
    """Each URI of the set (two here, within the four a UA should take) gets its REGISTER,
    routed to it (its Route, the URI's own parameters kept)."""
    edge = Edge(ctx, "register-outbound")
    found = _two_registers(edge)
    routes = [uri_of((m.get_all("Route") or [""])[0]) for m in found]
    hostport = edge.peer.server.hostport
    ctx.should(
        len(routes) >= 2 and all(hostport in r for r in routes),
        f"a REGISTER routed through each URI naming {hostport}",
        " | ".join(routes) or "no Route",
    )
    edge.serve(0.2)


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.1
##= type=test
##% This URN MUST be persistent across power cycles of the device.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
##= type=test
##% The sequence of reg-id values does not have to be sequential but MUST be exactly the same
##% sequence of reg-id values each time the UA instance power cycles or reboots, so that the
##% reg-id values will collide with the previously used reg-id values.
@case(
    "uac-outbound-persistent",
    roles=UAC,
    timeout=25,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def persistent(ctx: Context) -> None:
    """The UA started twice (a power cycle): the same +sip.instance, the same reg-ids."""
    runs = []
    for _ in range(2):
        edge = Edge(ctx, "register-outbound")
        found = _two_registers(edge)
        contacts = [(m.get_all("Contact") or [""])[0] for m in found]
        runs.append(
            ([_instance(c) for c in contacts], [_params(c).get("reg-id") for c in contacts])
        )
        edge.peer.close()
    (first_urns, first_ids), (urns, ids) = runs
    ctx.check(set(first_urns) == set(urns), f"+sip.instance {first_urns[0]}", ", ".join(urns))
    ctx.check(
        sorted(map(str, first_ids)) == sorted(map(str, ids)),
        f"reg-ids {first_ids}",
        str(ids),
        requirement=1,
    )


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.2
##= type=test
##% This approach MUST only be used with connection-less transports, such as UDP; it MUST
##% NOT be used for connection-oriented transports such as TCP and SCTP.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.2
##= type=test
##% Clients MUST support STUN-based keep-alives.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4
##= type=test
##% The UA MUST send keep-alives at least as often as this number of seconds.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.1
##= type=test
##% This approach MUST only be used with connection oriented transports such as TCP or SCTP;
##% it MUST NOT be used with connection-less transports such as UDP.
@case(
    "uac-outbound-stun-keepalive",
    roles=UAC,
    timeout=15,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def stun_keepalive(ctx: Context) -> None:
    """Registered over UDP with Require: outbound and Flow-Timer: 1: STUN Binding requests
    from the flow's address at least every second, and no CRLF keep-alives."""
    edge = Edge(ctx, "call-outbound")
    _, addr = edge.first_register(CALLING)
    start = time.monotonic()
    edge.serve(3.2)
    times = [start] + [t for t, a in edge.stun if a == addr]
    ctx.check(len(times) > 1, "STUN Binding requests on the UDP flow", "none in 3 s", 1)
    gaps = [b - a for a, b in itertools.pairwise(times)] + [time.monotonic() - times[-1]]
    ctx.check(
        max(gaps) <= FLOW_TIMER + 0.5,  # the slack: scheduling on a busy machine
        f"a keep-alive at least every {FLOW_TIMER} s (Flow-Timer)",
        "gaps " + ", ".join(f"{g:.2f}" for g in gaps),
        requirement=2,
    )
    ctx.check(edge.crlf == 0, "no CRLF keep-alive on UDP", f"{edge.crlf} CRLF datagrams", 3)


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4
##= type=test
##% If the UA uses the server-recommended keep-alive frequency it SHOULD send its keep-alives
##% so that the interval between each keep-alive is randomly distributed between 80% and 100%
##% of the server-provided time.
@case(
    "uac-outbound-keepalive-jitter",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def keepalive_jitter(ctx: Context) -> None:
    """With Flow-Timer: 1, the intervals between keep-alives lie between 0.8 and 1 s and
    are not all the same."""
    edge = Edge(ctx, "call-outbound")
    _, addr = edge.first_register(CALLING)
    edge.serve(4.2)
    times = [t for t, a in edge.stun if a == addr]
    # the first keep-alive proves the flow at once (§4.5): the intervals after it count
    gaps = [b - a for a, b in itertools.pairwise(times[1:])]
    if len(gaps) < 2:
        ctx.inconclusive(f"too few keep-alives to judge ({len(times)})")
    within = all(0.8 * FLOW_TIMER - 0.1 <= g <= FLOW_TIMER + 0.1 for g in gaps)
    spread = max(gaps) - min(gaps) > 0.01
    ctx.should(
        within and spread, "random intervals in [0.8, 1] s", ", ".join(f"{g:.2f}" for g in gaps)
    )


##= https://www.rfc-editor.org/rfc/rfc5626#section-8
##= type=test
##% A SIP node MUST NOT send STUN requests over a flow unless it has an explicit indication
##% that the target next-hop SIP server claims to support this specification.
@case(
    "uac-outbound-no-stun-without-require",
    roles=UAC,
    timeout=15,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def no_stun_without_require(ctx: Context) -> None:
    """A 2xx to the outbound REGISTER without Require: outbound: no STUN request follows."""
    edge = Edge(ctx, "register-outbound")
    edge.register_headers = []
    edge.first_register()
    edge.serve(1.5)
    ctx.check(not edge.stun, "no STUN request", f"{len(edge.stun)} STUN requests")


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.2
##= type=test
##% If the XOR-MAPPED-ADDRESS in the STUN Binding Response changes, the UA MUST treat this
##% event as a failure on the flow.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.5
##= type=test
##% Each new registration MUST have the same reg-id value as the registration it replaces.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.1
##= type=test
##% The instance ID MUST NOT change as the device moves from one network to another.
@case(
    "uac-outbound-mapped-address-changes",
    roles=UAC,
    timeout=20,
    preamble=CALLING,
    no_control=RUNNER_ANSWERS,
)
def mapped_address_changes(ctx: Context) -> None:
    """The second STUN answer maps the flow elsewhere (as when the device moved to another
    network): the flow failed, the UA registers it again, with the reg-id of the
    registration it replaces and the same +sip.instance."""
    # one flow (the call's): its failure is the only one, and its new REGISTER comes after
    # the short retry delay of a UA whose every flow failed (§4.5)
    edge = Edge(ctx, "call-outbound")
    register, _ = edge.first_register(CALLING)
    answered: list[tuple[str, int]] = []

    def mapped(source: tuple[str, int]) -> tuple[str, int]:
        answered.append(source)
        return source if len(answered) <= 2 else ("127.0.0.2", source[1] + 1)

    edge.mapped = mapped
    earlier = {_params(c).get("reg-id") for c in register.get_all("Contact")}
    end = time.monotonic() + 8.0
    again = None
    while again is None and (left := end - time.monotonic()) > 0:
        got = edge.next("REGISTER", left)
        if got is None:
            break
        if len(answered) > 2:
            again = got[0]
        else:
            earlier |= {_params(c).get("reg-id") for c in got[0].get_all("Contact")}
    if again is None:
        ctx.fail("a new REGISTER after the mapped address changed", "none within 8 s")
    assert again is not None
    reg_id = _params((again.get_all("Contact") or [""])[0]).get("reg-id")
    ctx.check(
        reg_id is not None and reg_id in earlier,
        "the reg-id of a flow registered before",
        f"{reg_id} (earlier: {sorted(x for x in earlier if x)})",
        requirement=1,
    )
    # a new public address is what moving to another network looks like from the flow
    before = _instance((register.get_all("Contact") or [""])[0])
    after = _instance((again.get_all("Contact") or [""])[0])
    ctx.check(after == before, f"+sip.instance {before}", after or "none", requirement=2)
    edge.serve(0.3)


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.5
##= type=test
##% The UA MUST wait for at least the value of the retry delay time before trying another
##% registration to form a new flow for that URI (a 503 response to an earlier failed
##% registration attempt with a Retry-After header field value may cause the UA to wait
##% longer).
@case(
    "uac-outbound-retry-delay",
    roles=UAC,
    timeout=20,
    preamble=CALLING,
    no_control=RUNNER_ANSWERS,
)
def retry_delay(ctx: Context) -> None:
    """The one flow fails (its STUN mapped address changes) and the REGISTER forming it
    again is refused 500: the next attempt waits a retry delay, not going out at once
    (at least 0.5 s: half the least delay of §4.5 with our profile's base time of 1 s)."""
    edge = Edge(ctx, "call-outbound")
    edge.first_register(CALLING)
    answered: list[tuple[str, int]] = []

    def mapped(source: tuple[str, int]) -> tuple[str, int]:
        answered.append(source)
        return source if len(answered) <= 1 else ("127.0.0.2", source[1] + 1)

    edge.mapped = mapped
    edge.register_status = 500
    count = len(edge.registers)
    end = time.monotonic() + 8.0
    while len(edge.registers) < count + 2 and (left := end - time.monotonic()) > 0:
        edge.next("REGISTER", left)
    edge.register_status = 200
    if len(edge.registers) < count + 2:
        ctx.inconclusive(f"{len(edge.registers) - count} REGISTER(s) after the flow failed")
    refused, again = edge.registers[count][0], edge.registers[count + 1][0]
    ctx.check(again - refused >= 0.5, "a wait of 0.5 s at least", f"{again - refused:.2f} s")
    edge.serve(0.3)


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.3
##= type=test
##% For protocols that don't use TLS, if the UAC has an existing flow to this IP address, and
##% port with the correct protocol, then the UAC MUST use the existing connection.
@case(
    "uac-outbound-request-on-flow",
    roles=UAC,
    timeout=15,
    preamble=CALLING,
    no_control=RUNNER_ANSWERS,
)
def request_on_flow(ctx: Context) -> None:
    """The INVITE to the outbound proxy goes over the registered flow: from the address
    and port the REGISTER came from."""
    edge = Edge(ctx, "call-outbound")
    _, addr = edge.first_register(CALLING)
    got = edge.next("INVITE", 5.0)
    if got is None:
        ctx.inconclusive("no INVITE after the registration")
    assert got is not None
    invite, source = got
    edge.peer.answer(invite, source, 200)
    ctx.check(source == addr, f"the INVITE from {addr}", str(source))
    edge.serve(1.5)


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.3
##= type=test
##% UAs that support this specification SHOULD include the outbound option tag in a
##% Supported header field in a request that is not a REGISTER request.
@case(
    "uac-outbound-supported-in-invite",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble=CALLING,
    no_control=RUNNER_ANSWERS,
)
def supported_in_invite(ctx: Context) -> None:
    """The INVITE after the outbound registration says Supported: outbound."""
    edge = Edge(ctx, "call-outbound")
    edge.first_register(CALLING)
    got = edge.next("INVITE", 5.0)
    if got is None:
        ctx.inconclusive("no INVITE after the registration")
    assert got is not None
    invite, source = got
    edge.peer.answer(invite, source, 200)
    ctx.should(
        "outbound" in _tags(invite), "Supported: outbound", repr(invite.get_all("Supported"))
    )
    edge.serve(1.5)


class StreamEdge:
    """The runner's side of an outbound flow over TCP: a listening socket on the port of
    the Peer's UDP listener (made before the trigger starts), one accepted connection,
    REGISTERs answered, CRLF pings answered with a pong (§4.4.1)."""

    def __init__(self, ctx: Context, kind: str) -> None:
        self.ctx = ctx
        listener = ctx.listener()
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.tcp.bind(listener.local)
        except OSError as exc:
            self.tcp.close()
            ctx.inconclusive(f"cannot listen on TCP {listener.hostport}: {exc}")
        self.tcp.listen(4)
        ctx.on_teardown("the TCP listener closed", self.close)
        self.peer = Peer(ctx, kind, server=listener)
        self.conn: socket.socket | None = None
        self.buffer = StreamBuffer()
        self.pings: list[float] = []
        self.pong = True  # answer the pings
        self.expires = "2"  # what a 2xx grants: a re-registration within the case
        self.closed = False
        self.registers: list[Message] = []
        #: how to answer the next REGISTERs: (status, header lines), the last one kept
        self.answers: list[tuple[int, list[str]]] = []

    def close(self) -> bool:
        for sock in (self.conn, self.tcp):
            if sock is not None:
                sock.close()
        return True

    def _send(self, data: bytes, note: str) -> None:
        assert self.conn is not None
        self.peer.server.ladder.add(
            Event(0, "sent", "tcp", self.conn.getsockname()[:2], self.remote, data, note)
        )
        with contextlib.suppress(OSError):
            self.conn.sendall(data)

    def run(self, duration: float, until: Callable[[], bool] = lambda: False) -> None:
        """Serve the connection for ``duration`` seconds (or until ``until()``)."""
        end = time.monotonic() + duration
        if self.conn is None:
            self.tcp.settimeout(max(0.01, min(self.peer.wait, duration)))
            try:
                self.conn, addr = self.tcp.accept()
            except OSError:
                return
            self.remote = addr[:2]
        while not until() and (left := end - time.monotonic()) > 0 and not self.closed:
            self.conn.settimeout(max(0.01, left))
            try:
                data = self.conn.recv(65536)
            except TimeoutError:
                return
            except OSError:
                data = b""
            if not data:
                self.closed = True
                return
            record = Event(0, "received", "tcp", self.remote, self.conn.getsockname()[:2], data)
            if data.strip(b"\r\n") == b"" and b"\r\n\r\n" in data:
                record.note = "CRLF ping"
                self.peer.server.ladder.add(record)
                self.pings.append(time.monotonic())
                if self.pong:
                    self._send(b"\r\n", "CRLF pong")
                continue
            self.peer.server.ladder.add(record)
            for frame in self.buffer.feed(data):
                msg = parse_message(frame)
                if msg is not None and msg.method == "REGISTER":
                    self.registers.append(msg)
                    status, headers = self.answers[0] if self.answers else (200, [])
                    if len(self.answers) > 1:
                        self.answers.pop(0)
                    expires = "0" if msg.get("Expires") == "0" else self.expires
                    if status == 200 and expires != "0":
                        headers = [
                            f"Contact: {c};expires={expires}" for c in msg.get_all("Contact")
                        ]
                        headers += ["Require: outbound", f"Flow-Timer: {FLOW_TIMER}"]
                    self._send(self.peer.response(msg, status, headers=headers), f"{status}")
                elif msg is not None and msg.method not in (None, "ACK"):
                    self._send(self.peer.response(msg, 200), "200")


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.1
##= type=test
##% Clients MUST support this CRLF keep-alive.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.1
##= type=test
##% The UA MUST select a random number between a fixed or configurable upper bound and a
##% lower bound, where the lower bound is 20% less then the upper bound.
@case(
    "uac-outbound-crlf-keepalive",
    roles=UAC,
    timeout=15,
    preamble="an outbound REGISTER over TCP ([uac] register-outbound-tcp)",
    no_control=RUNNER_ANSWERS,
)
def crlf_keepalive(ctx: Context) -> None:
    """Registered over TCP with Require: outbound and Flow-Timer: 1: CRLF CRLF pings on
    the connection, at random intervals between 0.8 and 1 s."""
    edge = StreamEdge(ctx, "register-outbound-tcp")
    with ctx.preamble("an outbound REGISTER over TCP ([uac] register-outbound-tcp)"):
        edge.run(edge.peer.wait, until=lambda: bool(edge.registers))
        if not edge.registers:
            ctx.inconclusive("no REGISTER over TCP")
    edge.run(4.3)
    ctx.check(len(edge.pings) >= 2, "CRLF pings on the connection", f"{len(edge.pings)}")
    # the first ping proves the flow at once (§4.5); the intervals after it are drawn
    # between the upper bound (here the Flow-Timer) and 20 % less
    gaps = [b - a for a, b in itertools.pairwise(edge.pings[1:])]
    if len(gaps) < 2:
        ctx.inconclusive(f"too few pings to judge their intervals ({len(edge.pings)})")
    low, high = 0.8 * FLOW_TIMER - 0.1, FLOW_TIMER + 0.5  # the slack: a busy machine
    ctx.check(
        all(low <= g <= high for g in gaps) and max(gaps) - min(gaps) > 0.005,
        f"random intervals between {0.8 * FLOW_TIMER:g} and {FLOW_TIMER} s",
        ", ".join(f"{g:.3f}" for g in gaps),
        requirement=1,
    )


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.2
##= type=test
##% If a re-registration is rejected with a recoverable error response, for example by a 503
##% (Service Unavailable) containing a Retry-After header, the UAC SHOULD NOT tear down the
##% corresponding flow if the flow uses a connection-oriented transport such as TCP.
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.2
##= type=test
##% As long as "pongs" are received in response to "pings", the flow SHOULD be kept active
##% until a non-recoverable error response is received.
@case(
    "uac-outbound-flow-kept-on-503",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble="an outbound REGISTER over TCP ([uac] register-outbound-tcp)",
    no_control=RUNNER_ANSWERS,
)
def flow_kept_on_503(ctx: Context) -> None:
    """Granted 2 s; the re-registration gets 503 with Retry-After: 10: the connection
    stays open and the pings (answered) go on over it."""
    edge = StreamEdge(ctx, "register-outbound-tcp")
    edge.answers = [(200, []), (503, ["Retry-After: 10"])]
    with ctx.preamble("an outbound REGISTER over TCP ([uac] register-outbound-tcp)"):
        edge.run(edge.peer.wait, until=lambda: bool(edge.registers))
        if not edge.registers:
            ctx.inconclusive("no REGISTER over TCP")
    edge.run(4.0, until=lambda: len(edge.registers) >= 2)
    if len(edge.registers) < 2:
        ctx.inconclusive("no re-registration within the 2 s granted")
    refused = time.monotonic()
    edge.answers = [(503, ["Retry-After: 10"])]
    edge.run(2.5)
    after = [t for t in edge.pings if t > refused]
    ctx.should(not edge.closed, "the connection kept open", "closed by the UA")
    ctx.check(
        len(after) >= 1 and not edge.closed,
        "pings on the connection after the 503",
        f"{len(after)} pings",
        requirement=1,
        level="SHOULD",
    )


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.1
##= type=test
##% If a pong is not received within 10 seconds after sending a ping (or immediately after
##% processing any incoming message being received when that 10 seconds expires), then the
##% client MUST treat the flow as failed.
@case(
    "uac-outbound-pong-timeout",
    roles=UAC,
    timeout=25,
    preamble="an outbound REGISTER over TCP ([uac] register-outbound-tcp)",
    no_control=RUNNER_ANSWERS,
)
def pong_timeout(ctx: Context) -> None:
    """The runner stops answering pings: about 10 s after the first unanswered one the
    UA treats the flow as failed (it closes the connection or registers again)."""
    edge = StreamEdge(ctx, "register-outbound-tcp")
    edge.expires = "60"  # no refresh within the case: a REGISTER then means a new flow
    with ctx.preamble("an outbound REGISTER over TCP ([uac] register-outbound-tcp)"):
        edge.run(edge.peer.wait, until=lambda: bool(edge.registers))
        if not edge.registers:
            ctx.inconclusive("no REGISTER over TCP")
        edge.run(3.0, until=lambda: bool(edge.pings))
        if not edge.pings:
            ctx.inconclusive("no CRLF ping on the connection")
    edge.pong = False
    silent_from = time.monotonic()
    count = len(edge.registers)
    edge.run(13.0, until=lambda: len(edge.registers) > count)
    unanswered = [t for t in edge.pings if t >= silent_from]
    if not unanswered:
        ctx.inconclusive("no ping after the runner went silent")
    ended = time.monotonic() - unanswered[0]
    failed = edge.closed or len(edge.registers) > count
    ctx.check(
        failed and 9.5 <= ended <= 12.5,  # 10 s, and slack for a busy machine
        "the flow failed about 10 s after the unanswered ping",
        f"{'closed or registered again' if failed else 'still in use'} after {ended:.1f} s",
    )


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.3
##= type=test
##% A UAC also MUST NOT include an instance-id feature tag or "reg-id" Contact header field
##% parameter in a request to un-register all Contacts (a single Contact header field value
##% with the value of "*").
@case(
    "uac-outbound-unregister-all",
    roles=UAC,
    timeout=15,
    preamble=REGISTERING,
    no_control=RUNNER_ANSWERS,
)
def unregister_all(ctx: Context) -> None:
    """The target, stopped, un-registers: a Contact: * it sends carries neither
    +sip.instance nor reg-id.  Not applicable when it removes its own contacts one by one
    (the rule is about "*" only)."""
    edge = Edge(ctx, "register-outbound")
    _two_registers(edge)
    process = edge.peer.process
    if process is None:
        ctx.not_applicable("the profile dials by hand: the runner cannot stop the target")
    assert process is not None
    process.terminate()
    removals: list[Message] = []
    end = time.monotonic() + 2.0
    while (left := end - time.monotonic()) > 0:
        got = edge.next("REGISTER", left)
        if got is None:
            break
        removals.append(got[0])
    stars = [c for m in removals for c in m.get_all("Contact") if c.strip().split(";")[0] == "*"]
    if not stars:
        ctx.not_applicable("no Contact: * when it stopped (it removed its own contacts)")
    ctx.check(
        not any("+sip.instance" in c.lower() or "reg-id" in c.lower() for c in stars),
        "Contact: * alone",
        " | ".join(stars),
    )
