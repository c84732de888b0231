"""RFC 5626 outbound, the user agent's side: flows, keep-alives and flow recovery.

A UA configured with an *outbound-proxy-set* (one to four SIP URIs) registers once
through each of them (§4.2.1): every REGISTER carries the UA's instance-id
(``+sip.instance``, a UUID URN, §4.1) and a ``reg-id`` naming the flow, and says
``Supported: outbound, path``.  A registration counts as an outbound registration only
when its 2xx says ``Require: outbound``; then the UA keeps the flow alive (§4.4): a
CRLF ping-pong on TCP/TLS (§4.4.1), STUN Binding requests on UDP (§4.4.2, §8).  A flow
fails when a pong does not come, the connection closes, or the STUN mapped address
changes; the UA then registers again through the same proxy with the same reg-id,
waiting as §4.5's back-off says when forming the flow fails.

Everything here is sans-I/O: :class:`Outbound` is a :class:`~rfc3261.extension.UAExtension`
whose timers run on the UA's clock (``ua.call_at``).  What the network must do comes out
as events: :class:`SendKeepAlive` (write a CRLF ping or send a STUN request on the flow),
:class:`FlowEvent` (a flow changed state; ``state == "failed"`` also means "close the
connection").  What the network saw goes in through :meth:`Outbound.pong`,
:meth:`Outbound.stun_received` and :meth:`Outbound.connection_closed`.  The asyncio side
is :mod:`extensions.rfc5626_ua_asyncio`.  The edge proxy and registrar side of RFC 5626
(flow tokens, 430, 439, the STUN server) is another module; the wire is the interface.
"""

from __future__ import annotations

import ipaddress
import random
import struct
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rfc3261.extension import ClientRequest, UAEvent, UAExtension
from rfc3261.headers import Contact
from rfc3261.message import Request, Response
from rfc3261.registration import Registration
from rfc3261.uri import SipURI, parse_uri

if TYPE_CHECKING:  # pragma: no cover
    from rfc3261.extension import UAEffect
    from rfc3261.ua_core import UserAgent

__all__ = [
    "FLOW_STATES",
    "Flow",
    "FlowEvent",
    "KeepAlive",
    "Outbound",
    "OutboundSettings",
    "SendKeepAlive",
    "StunMessage",
    "binding_request",
    "is_stun",
    "new_instance_id",
    "parse_stun",
    "retry_delay",
]

OUTBOUND = "outbound"
PATH = "path"

#: The states a flow goes through, in the order of a normal life.
FLOW_STATES = ("idle", "registering", "active", "failed", "waiting", "unsupported", "stopped")


# -- the instance-id (§4.1) -------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.1
##% A UA SHOULD create a Universally Unique Identifier (UUID) URN
##% [RFC4122] as its instance-id.
def new_instance_id(rng: random.Random | None = None) -> str:
    """A fresh random (version 4) UUID URN, to be stored and reused for good."""
    bits = (rng or random.SystemRandom()).getrandbits(128)
    return uuid.UUID(int=bits, version=4).urn


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.1
##% If a URN scheme other than UUID is used, the UA MUST only use URNs
##% for which an RFC (from the IETF stream) defines how the specific URN
##% needs to be constructed and used in the "+sip.instance" Contact
##% header field parameter for outbound behavior.
def check_instance_id(urn: str) -> str:
    """``urn`` in its canonical spelling if it is a UUID URN; ValueError otherwise."""
    if not isinstance(urn, str) or not urn.lower().startswith("urn:uuid:"):
        raise ValueError(f"instance-id must be a UUID URN (RFC 5626 §4.1), not {urn!r}")
    try:
        return uuid.UUID(urn[len("urn:uuid:") :]).urn
    except ValueError:
        raise ValueError(f"instance-id {urn!r} is not a valid UUID URN (RFC 4122)") from None


# -- configuration -----------------------------------------------------------------------


@dataclass
class OutboundSettings:
    """What an outbound UA is configured with; the times are §4.4 and §4.5's defaults."""

    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.1
    ##% Each UA MUST have an Instance Identifier Uniform Resource Name (URN)
    ##% [RFC2141] that uniquely identifies the device.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.1
    ##% This
    ##% URN MUST be persistent across power cycles of the device.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.1
    ##% The
    ##% instance ID MUST NOT change as the device moves from one network to
    ##% another.
    # The application stores it (the ua program takes --instance-id) and passes it here:
    # nothing in this module derives it from an address, so no move can change it.
    instance_id: str
    #: The outbound-proxy-set: one flow per URI, reg-id 1, 2, ... in this order.
    proxies: list[str] = field(default_factory=list)
    expires: int = 3600
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.1
    ##% The fixed upper bound or the default
    ##% configurable upper bound SHOULD be 120 seconds (95 seconds for the
    ##% lower bound) where battery power is not a concern and 840 seconds
    ##% (672 seconds for the lower bound) where battery power is a concern.
    crlf_upper: float = 120.0
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.2
    ##% When a Flow-Timer header field is not included in a successful
    ##% registration response, the time between each keep-alive request
    ##% SHOULD be a random number between 24 and 29 seconds.
    stun_lower: float = 24.0
    stun_upper: float = 29.0
    #: How long a CRLF ping waits for its pong (§4.4.1).
    pong_timeout: float = 10.0
    #: The STUN retransmission timeout's first value (RFC 5389 §7.2.1: 500 ms).
    stun_rto: float = 0.5
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.5
    ##% These times MAY be configurable in the UA.
    max_time: float = 1800.0
    base_time_all_failed: float = 30.0
    base_time_some_ok: float = 90.0

    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
    ##% However, a UA MUST support sets with at
    ##% least two outbound proxy URIs and SHOULD support sets with up to four
    ##% URIs.
    def __post_init__(self) -> None:
        self.instance_id = check_instance_id(self.instance_id)
        if not 1 <= len(self.proxies) <= 4:
            raise ValueError("the outbound-proxy-set holds one to four URIs (RFC 5626 §4.2.1)")
        for proxy in self.proxies:
            if not isinstance(parse_uri(proxy), SipURI):
                raise ValueError(f"outbound proxy {proxy!r} is not a SIP or SIPS URI")
        if not 0 < self.stun_lower <= self.stun_upper or self.crlf_upper <= 0:
            raise ValueError("keep-alive bounds must be positive, lower <= upper")


# -- STUN, the few lines of RFC 5389 the keep-alive needs (§8) ---------------------------

STUN_MAGIC_COOKIE = 0x2112A442
BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
BINDING_ERROR = 0x0111
XOR_MAPPED_ADDRESS = 0x0020


@dataclass(frozen=True)
class StunMessage:
    """A STUN message as far as the keep-alive cares: its type, id and mapped address."""

    type: int
    transaction_id: bytes
    mapped: tuple[str, int] | None = None


##= https://www.rfc-editor.org/rfc/rfc5626#section-8
##% The only STUN messages required by this usage are Binding Requests,
##% Binding Responses, and Binding Error Responses.
##= https://www.rfc-editor.org/rfc/rfc5626#section-8
##% These Binding Requests do not require any STUN attributes.
def binding_request(transaction_id: bytes) -> bytes:
    """A Binding request without attributes (RFC 5389 §6: 20-byte header, 96-bit id)."""
    if len(transaction_id) != 12:
        raise ValueError("a STUN transaction id is 96 bits (RFC 5389 §6)")
    return struct.pack("!HHI", BINDING_REQUEST, 0, STUN_MAGIC_COOKIE) + transaction_id


def is_stun(data: bytes) -> bool:
    """True for bytes that may be STUN: the top two bits zero and the magic cookie.

    A SIP message never starts with a byte below 0x40 (RFC 5626 §8's note).
    """
    return len(data) >= 20 and data[0] < 0x40 and data[4:8] == b"\x21\x12\xa4\x42"


def parse_stun(data: bytes) -> StunMessage | None:
    """Read a STUN message; None when the bytes are not a well-formed one."""
    if not is_stun(data):
        return None
    kind, length = struct.unpack_from("!HH", data)
    if length % 4 or len(data) != 20 + length:
        return None
    transaction_id = data[8:20]
    mapped = None
    offset = 20
    while offset + 4 <= len(data):
        attribute, size = struct.unpack_from("!HH", data, offset)
        value = data[offset + 4 : offset + 4 + size]
        if len(value) != size:
            return None
        if attribute == XOR_MAPPED_ADDRESS and mapped is None:
            mapped = _xor_address(value, transaction_id)
        offset += 4 + size + (-size % 4)
    return StunMessage(kind, transaction_id, mapped)


def _xor_address(value: bytes, transaction_id: bytes) -> tuple[str, int] | None:
    """XOR-MAPPED-ADDRESS (RFC 5389 §15.2): port and address XOR'd with the cookie."""
    if len(value) < 8:
        return None
    family = value[1]
    port = struct.unpack_from("!H", value, 2)[0] ^ (STUN_MAGIC_COOKIE >> 16)
    if family == 0x01 and len(value) == 8:
        raw = bytes(
            a ^ b for a, b in zip(value[4:8], struct.pack("!I", STUN_MAGIC_COOKIE), strict=True)
        )
        return str(ipaddress.IPv4Address(raw)), port
    if family == 0x02 and len(value) == 20:
        key = struct.pack("!I", STUN_MAGIC_COOKIE) + transaction_id
        raw = bytes(a ^ b for a, b in zip(value[4:20], key, strict=True))
        return str(ipaddress.IPv6Address(raw)), port
    return None


# -- events for the edge and the application ---------------------------------------------


@dataclass
class SendKeepAlive(UAEvent):
    """Send ``data`` on ``flow``: a CRLF ping on its connection, or a STUN request."""

    flow: Flow
    data: bytes


@dataclass
class FlowEvent(UAEvent):
    """``flow`` entered ``state``; "failed" also asks the edge to drop its connection."""

    flow: Flow
    state: str
    reason: str = ""

    def describe(self) -> str:
        """One line for a log: the flow, its new state and why."""
        flow = self.flow
        return f"outbound flow {flow.reg_id} via {flow.proxy}: {self.state} ({self.reason})"


# -- the keep-alive of one flow (§4.4) -----------------------------------------------------


class KeepAlive:
    """When to ping, and when a missing answer makes the flow failed (§4.4.1, §4.4.2).

    ``poll(now)`` returns ("ping", data), ("failed", reason) or None; ``next_deadline``
    says when to poll next.  CRLF on reliable transports, STUN on UDP.
    """

    def __init__(
        self,
        reliable: bool,
        settings: OutboundSettings,
        rng: random.Random,
        flow_timer: int | None = None,
    ) -> None:
        self.reliable = reliable
        self.settings = settings
        self.rng = rng
        self.flow_timer = flow_timer
        self.next_ping: float | None = None
        # The ping waiting for its answer: when it was first sent, and its deadline.
        self.waiting_since: float | None = None
        self.answer_deadline: float | None = None
        # STUN: the transaction id, how many times sent, the current RTO.
        self.transaction_id = b""
        self.transmissions = 0
        self.rto = settings.stun_rto
        self.mapped: tuple[str, int] | None = None
        self.answers = 0

    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4
    ##% The UA MUST
    ##% send keep-alives at least as often as this number of seconds.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4
    ##% If the
    ##% UA uses the server-recommended keep-alive frequency it SHOULD send
    ##% its keep-alives so that the interval between each keep-alive is
    ##% randomly distributed between 80% and 100% of the server-provided
    ##% time.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4
    ##% The sections below provide RECOMMENDED default values for these keep-
    ##% alives.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.1
    ##% The UA MUST select a random number between a fixed or
    ##% configurable upper bound and a lower bound, where the lower bound is
    ##% 20% less then the upper bound.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.1
    ##% The random number will be different for each keep-alive "ping".
    def interval(self) -> float:
        """The time to the next keep-alive, drawn anew for each one."""
        if self.flow_timer is not None and self.flow_timer > 0:
            upper = float(self.flow_timer)
            return self.rng.uniform(0.8 * upper, upper)
        if self.reliable:
            upper = self.settings.crlf_upper
            return self.rng.uniform(0.8 * upper, upper)
        return self.rng.uniform(self.settings.stun_lower, self.settings.stun_upper)

    def start(self, now: float, first_at_once: bool = True) -> None:
        """Begin on a newly registered flow: the first ping at once proves the flow (§4.5)."""
        self.next_ping = now if first_at_once else now + self.interval()
        self.waiting_since = self.answer_deadline = None

    def next_deadline(self) -> float | None:
        return self.answer_deadline if self.waiting_since is not None else self.next_ping

    def poll(self, now: float) -> tuple[str, Any] | None:
        """What is due at ``now``: ("ping", bytes), ("failed", reason) or None."""
        if self.waiting_since is not None:
            if self.answer_deadline is None or now < self.answer_deadline:
                return None
            if self.reliable:
                ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.1
                ##% If a pong is not received within 10 seconds after sending a ping (or
                ##% immediately after processing any incoming message being received when
                ##% that 10 seconds expires), then the client MUST treat the flow as
                ##% failed.
                ##= https://www.rfc-editor.org/rfc/rfc5626#section-3.5.1
                ##% If
                ##% the client does not receive a "pong" within an appropriate amount of
                ##% time, it considers the flow failed.
                return ("failed", "no pong within the timeout")
            ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.2
            ##% If a STUN Binding Error Response is received, or if no Binding
            ##% Response is received after 7 retransmissions (16 times the STUN "RTO"
            ##% timer -- where RTO is an estimate of round-trip time), the UA
            ##% considers the flow failed.
            # RFC 5389 §7.2.1: Rc = 7 sends, the RTO doubling; after the last, 16 RTO.
            if self.transmissions >= 7:
                return ("failed", "no STUN Binding response")
            self.transmissions += 1
            self.rto *= 2
            wait = self.settings.stun_rto * 16 if self.transmissions == 7 else self.rto
            self.answer_deadline = now + wait
            return ("ping", binding_request(self.transaction_id))
        if self.next_ping is None or now < self.next_ping:
            return None
        self.waiting_since = now
        if self.reliable:
            ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.1
            ##% For this mechanism, the client "ping" is a double-CRLF sequence, and
            ##% the server "pong" is a single CRLF, as defined in the ABNF below:
            self.answer_deadline = now + self.settings.pong_timeout
            return ("ping", b"\r\n\r\n")
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.2
        ##% The UA can
        ##% periodically perform keep-alive checks by sending STUN [RFC5389]
        ##% Binding Requests over the flow as described in Section 8.
        self.transaction_id = self.rng.getrandbits(96).to_bytes(12, "big")
        self.transmissions = 1
        self.rto = self.settings.stun_rto
        self.answer_deadline = now + self.rto
        return ("ping", binding_request(self.transaction_id))

    def _answered(self, now: float) -> None:
        self.answers += 1
        self.waiting_since = self.answer_deadline = None
        self.next_ping = now + self.interval()

    def pong(self, now: float) -> bool:
        """A CRLF pong arrived; True when it answered a ping."""
        if not self.reliable or self.waiting_since is None:
            return False
        self._answered(now)
        return True

    def stun(self, message: StunMessage, now: float) -> str | None:
        """A STUN response on the flow: None when fine, else why the flow failed."""
        if self.reliable or self.waiting_since is None:
            return None
        if message.transaction_id != self.transaction_id:
            return None  # a late answer to an earlier request, or not ours
        if message.type == BINDING_ERROR:
            return "STUN Binding error response"
        if message.type != BINDING_SUCCESS:
            return None
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.2
        ##% If the XOR-MAPPED-ADDRESS in the STUN
        ##% Binding Response changes, the UA MUST treat this event as a failure
        ##% on the flow.
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-8
        ##% For
        ##% SIP over UDP flows, if the XOR-MAPPED-ADDRESS returned over the flow
        ##% changes, this indicates that the underlying connectivity has changed,
        ##% and is considered a flow failure.
        if message.mapped is not None:
            if self.mapped is not None and message.mapped != self.mapped:
                return f"mapped address changed from {self.mapped} to {message.mapped}"
            self.mapped = message.mapped
        self._answered(now)
        return None


# -- back-off (§4.5) -----------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.5
##% W = min (max-time, (base-time * (2 ^ consecutive-failures)))
##= https://www.rfc-editor.org/rfc/rfc5626#section-4.5
##% The actual amount of time the UA waits before retrying
##% registration (the retry delay time) is computed by selecting a
##% uniform random time between 50 and 100% of the upper-bound wait time.
def retry_delay(
    consecutive_failures: int,
    all_failed: bool,
    settings: OutboundSettings,
    rng: random.Random,
) -> float:
    """The wait before forming a flow again after ``consecutive_failures`` failures."""
    if consecutive_failures <= 0:
        return 0.0
    base = settings.base_time_all_failed if all_failed else settings.base_time_some_ok
    # Capped before the power can overflow a float (2^1024) on a long-dead proxy.
    upper = min(settings.max_time, base * 2 ** min(consecutive_failures, 64))
    return rng.uniform(upper / 2, upper)


# -- flows ---------------------------------------------------------------------------------


class FlowRegistration(Registration):
    """The registration of one flow: tells its :class:`Flow` of every final response."""

    def __init__(self, flow: Flow, ua: UserAgent, **kwargs: Any) -> None:
        super().__init__(ua, **kwargs)
        self.flow = flow

    def on_response(self, client: ClientRequest, response: Response, now: float) -> list[UAEffect]:
        effects = super().on_response(client, response, now)
        # A late answer to the registration of a flow formed again since is not news.
        if response.status >= 200 and self.flow.registration is self:
            effects.extend(self.flow.outbound._registered(self.flow, response, now))
        return effects


@dataclass(eq=False)
class Flow:
    """One flow: a reg-id, the outbound proxy it goes through, its registration and state."""

    outbound: Outbound
    reg_id: int
    proxy: SipURI
    transport: str
    host: str
    port: int
    registration: FlowRegistration | None = None
    state: str = "idle"
    keepalive: KeepAlive | None = None
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.5
    ##% For the purposes of this
    ##% section, a flow is considered successful if outbound registration
    ##% succeeded, and if keep-alives are in use on this flow, at least one
    ##% subsequent keep-alive response was received.
    successful: bool = False
    consecutive_failures: int = 0
    retry_at: float | None = None
    #: The retry timer (forming the flow again, or a refresh after a recoverable error).
    timer: Any = None
    keepalive_timer: Any = None
    flow_timer: int | None = None
    last_reason: str = ""

    @property
    def reliable(self) -> bool:
        return self.transport != "UDP"

    @property
    def key(self) -> tuple[str, str, int]:
        """The next hop of the flow: (transport, host, port) as the edge sees it."""
        return (self.transport, self.host, self.port)


def _next_hop(uri: SipURI) -> tuple[str, str, int]:
    """Transport, host and port of an outbound proxy URI given as an IP literal."""
    transport = str(uri.params.get("transport") or "").upper()
    if uri.is_secure:
        transport = "TLS"
    elif transport in ("", "UDP"):
        transport = "UDP"
    host = uri.host[1:-1] if uri.host.startswith("[") else uri.host
    port = uri.port or (5061 if transport == "TLS" else 5060)
    return transport, host, port


class Outbound(UAExtension):
    """RFC 5626 on one UA: one flow per outbound proxy, kept alive and recovered."""

    name = "outbound"
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.3
    ##% UAs that support this specification SHOULD include the outbound
    ##% option tag in a Supported header field in a request that is not a
    ##% REGISTER request.
    option_tags = (OUTBOUND,)
    #: A fresh UUID URN (§4.1), for an application that has none stored yet.
    new_instance_id = staticmethod(new_instance_id)

    def __init__(
        self, settings: OutboundSettings | None = None, *, aor: str | None = None
    ) -> None:
        self.settings = settings
        self.aor = aor
        self.flows: list[Flow] = []
        self.ua: UserAgent | None = None
        self.running = False

    def configure(
        self, settings: OutboundSettings | None = None, *, aor: str | None = None, **values: Any
    ) -> None:
        """Give the settings, or the values of :class:`OutboundSettings` (the ua program
        loads the extension by name, then calls this); ValueError for bad values."""
        if self.running:
            raise ValueError("configure an outbound extension before start()")
        self.settings = settings or OutboundSettings(**values)
        self.aor = aor or self.aor
        if self.ua is not None:
            self._make_flows()

    def install(self, ua: UserAgent) -> None:
        self.ua = ua
        if self.settings is not None:
            self._make_flows()

    def _make_flows(self) -> None:
        assert self.settings is not None
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
        ##% The sequence of reg-id values does not have to be sequential but MUST
        ##% be exactly the same sequence of reg-id values each time the UA
        ##% instance power cycles or reboots, so that the reg-id values will
        ##% collide with the previously used reg-id values.
        # reg-id n is the n-th URI of the configured set: the same after every reboot.
        self.flows = []
        for reg_id, text in enumerate(self.settings.proxies, start=1):
            uri = parse_uri(text)
            assert isinstance(uri, SipURI)  # checked by OutboundSettings
            transport, host, port = _next_hop(uri)
            self.flows.append(Flow(self, reg_id, uri, transport, host, port))

    # -- application API ---------------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
    ##% For each outbound proxy URI in the set, the User Agent Client (UAC)
    ##% SHOULD send a REGISTER request using this URI as the default outbound
    ##% proxy.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
    ##% If the set has more than
    ##% one URI, the UAC MUST send a REGISTER request to at least two of the
    ##% default outbound proxies from the set.
    def start(self, now: float) -> list[UAEffect]:
        """Register through every outbound proxy of the set (one flow each)."""
        if self.settings is None or self.ua is None:
            raise ValueError("start() needs settings (configure) and an installed extension")
        self.running = True
        effects: list[UAEffect] = []
        for flow in self.flows:
            effects.extend(self._form(flow, now))
        return effects

    def stop(self, now: float) -> list[UAEffect]:
        """Remove every flow's binding and stop keep-alives and retries."""
        self.running = False
        effects: list[UAEffect] = []
        for flow in self.flows:
            self._cancel(flow)
            flow.keepalive = None
            if flow.registration is not None and flow.state in ("active", "registering"):
                effects.extend(flow.registration.unregister(now))
            effects.extend(self._enter(flow, "stopped", "stopped by the application"))
        return effects

    def flow_at(self, transport: str, host: str, port: int) -> Flow | None:
        """The flow whose next hop is this transport address, if any."""
        for flow in self.flows:
            if flow.key == (transport.upper(), host, port):
                return flow
        return None

    @property
    def active(self) -> list[Flow]:
        return [flow for flow in self.flows if flow.state == "active"]

    # -- what the edge saw ---------------------------------------------------------------

    def pong(self, flow: Flow, now: float) -> list[UAEffect]:
        """A CRLF pong arrived on ``flow``'s connection."""
        if flow.keepalive is not None and flow.keepalive.pong(now):
            flow.successful = True
            flow.consecutive_failures = 0
            return self._arm(flow)
        return []

    def stun_received(self, flow: Flow, data: bytes, now: float) -> list[UAEffect]:
        """A datagram that may be a STUN response came from ``flow``'s next hop."""
        message = parse_stun(data)
        if message is None or flow.keepalive is None:
            return []
        reason = flow.keepalive.stun(message, now)
        if reason is not None:
            return self._failed(flow, reason, now)
        if flow.keepalive.waiting_since is None:
            flow.successful = True
            flow.consecutive_failures = 0
        return self._arm(flow)

    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4
    ##% The UA needs to detect when a specific flow fails.
    def connection_closed(self, flow: Flow, now: float) -> list[UAEffect]:
        """The connection of ``flow`` closed (reset, FIN, connect failure)."""
        if flow.state != "active":
            return []
        return self._failed(flow, "connection closed", now)

    # -- the REGISTER of a flow (§4.2) ---------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
    ##% Each of these REGISTER requests
    ##% will use a unique Call-ID.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.5
    ##% Each new registration MUST have the same reg-id
    ##% value as the registration it replaces.
    def _form(self, flow: Flow, now: float) -> list[UAEffect]:
        """Send the REGISTER that forms (or re-forms) ``flow`` through its proxy."""
        assert self.ua is not None
        self._cancel(flow)
        old = flow.registration
        if old is not None and old.refresh_timer is not None:
            old.refresh_timer.cancel()  # the new flow's registration refreshes from now on
            old.refresh_timer = None
        flow.retry_at = None
        flow.keepalive = None
        flow.successful = False
        flow.flow_timer = None
        # A new Registration per attempt: a new Call-ID for the new flow; reg-id stays.
        flow.registration = FlowRegistration(
            flow,
            self.ua,
            aor=self.aor,
            registrar=str(flow.proxy),
            expires=self.settings.expires,
        )
        effects = self._enter(flow, "registering", f"REGISTER through {flow.proxy}")
        effects.extend(flow.registration.register(now))
        return effects

    def outgoing_request(self, request: Request, client: ClientRequest | None) -> None:
        if client is None or request.method in ("ACK", "CANCEL"):
            return
        owner = client.owner
        if request.method == "REGISTER":
            if isinstance(owner, FlowRegistration) and owner.flow.outbound is self:
                self._register_fields(request, owner.flow)
            return
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.3
        ##% UAs that support this specification SHOULD include the outbound
        ##% option tag in a Supported header field in a request that is not a
        ##% REGISTER request.
        # (In-dialog requests, which the core builds without Supported, too.)
        tags = [str(tag) for tag in request.header("Supported") or []]
        if OUTBOUND not in (tag.lower() for tag in tags):
            request.headers.set("Supported", ", ".join([*tags, OUTBOUND]))
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.3
        ##% If the UAC is not using such a GRUU, then the UAC adds an "ob" parameter to its Contact
        ##% header field value.
        if request.to.tag is None and "Contact" in request.headers:
            contact = request.contact[0]
            if not contact.is_star and isinstance(contact.uri, SipURI):
                uri = contact.uri.copy()
                uri.params.set("ob", None)
                request.headers.set(
                    "Contact", str(Contact(contact.display_name, uri, contact.params))
                )

    def _register_fields(self, request: Request, flow: Flow) -> None:
        """Supported, +sip.instance and reg-id on a flow's REGISTER (§4.2.1)."""
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
        ##% UAs that support this specification MUST include the outbound option tag in a
        ##% Supported header field in a REGISTER request.
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
        ##% The UAC MUST support the Path header [RFC3327] mechanism, and
        ##% indicate its support by including the 'path' option-tag in a
        ##% Supported header field value in its REGISTER requests.
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
        ##% Forming the route set for the request is
        ##% outside the scope of this document, but typically results in sending
        ##% the REGISTER such that the topmost Route header field contains a
        ##% loose route to the outbound proxy URI.
        # The flow's proxy alone, whatever outbound proxy the UA uses for other requests.
        hop = flow.proxy.copy()
        hop.params.set("lr", None)
        request.headers.remove("Route")
        request.headers.prepend("Route", f"<{hop}>")
        tags = [str(tag) for tag in request.header("Supported") or []]
        for tag in (OUTBOUND, PATH):
            if tag not in (t.lower() for t in tags):
                tags.append(tag)
        request.headers.set("Supported", ", ".join(tags))
        if "Contact" not in request.headers:
            return
        contacts = request.contact
        contact = self._own_contact(contacts)
        if contact is None:
            return
        params = contact.params.copy()
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
        ##% REGISTER requests, other than those described in Section 4.2.3, MUST
        ##% include an instance-id media feature tag as specified in Section 4.1.
        params.set("+sip.instance", f'"<{self.settings.instance_id}>"')
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
        ##% A UAC conforming to this specification MUST include in the Contact
        ##% header field, a "reg-id" parameter that is distinct from other
        ##% "reg-id" parameters used in other registrations that use the same
        ##% "+sip.instance" Contact header field parameter and AOR.
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-10
        ##% The value of the reg-id MUST NOT be 0 and MUST be less than 2^31.
        if not 0 < flow.reg_id < 2**31:
            raise ValueError(f"reg-id {flow.reg_id} out of range (RFC 5626 §10)")
        params.set("reg-id", str(flow.reg_id))
        request.headers.set("Contact", str(Contact(contact.display_name, contact.uri, params)))

    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.3
    ##% In an initial registration or re-registration, a UA MUST NOT include
    ##% a "reg-id" header field parameter in the Contact header field if the
    ##% registering UA is not the same instance as the UA referred to by the
    ##% target Contact header field.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.3
    ##% A UAC also MUST NOT include an instance-id feature tag or "reg-id"
    ##% Contact header field parameter in a request to un-register all
    ##% Contacts (a single Contact header field value with the value of "*").
    def _own_contact(self, contacts: list[Contact]) -> Contact | None:
        """The UA's own contact, alone in the REGISTER: the one that gets +sip.instance
        and reg-id.  None for a third-party Contact (as the application wrote it) or "*"."""
        assert self.ua is not None
        if len(contacts) != 1 or contacts[0].is_star:
            return None
        return contacts[0] if contacts[0].uri == self.ua.contact_uri else None

    def _registered(self, flow: Flow, response: Response, now: float) -> list[UAEffect]:
        """A final response to one of ``flow``'s REGISTER requests."""
        registration = flow.registration
        if registration is None or not self.running:
            return []
        if registration.pending_kind != "register" or registration.pending_expires == 0:
            return []  # the answer to an un-registration
        status = response.status
        if 200 <= status < 300:
            return self._accepted(flow, response, now)
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.2
        ##% If a re-registration is rejected with a recoverable error response,
        ##% for example by a 503 (Service Unavailable) containing a Retry-After
        ##% header, the UAC SHOULD NOT tear down the corresponding flow if the
        ##% flow uses a connection-oriented transport such as TCP.
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.2
        ##% As long as
        ##% "pongs" are received in response to "pings", the flow SHOULD be kept
        ##% active until a non-recoverable error response is received.
        if flow.state == "active" and flow.reliable and _recoverable(status):
            # Retry-After when given (0: at once, RFC 5626 §4.2.1's note), else the back-off.
            delay = _retry_after(response)
            if delay is None:
                delay = retry_delay(
                    flow.consecutive_failures + 1,
                    self._all_failed(flow),
                    self.settings,
                    self.ua.rng,  # type: ignore[union-attr]
                )
            flow.timer = self.ua.call_at(  # type: ignore[union-attr]
                now + delay, lambda t: registration.register(t)
            )
            return []
        return self._failed(flow, f"REGISTER answered {status} {response.reason}", now)

    def _accepted(self, flow: Flow, response: Response, now: float) -> list[UAEffect]:
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
        ##% The UAC examines successful registration responses for the presence
        ##% of an outbound option-tag in a Require header field value.
        require = {str(tag).lower() for tag in response.header("Require") or []}
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-8
        ##% A SIP node MUST NOT send STUN requests over a flow unless it has an
        ##% explicit indication that the target next-hop SIP server claims to
        ##% support this specification.
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-8
        ##% UACs MUST NOT use an ambiguous
        ##% configuration option such as "Work through NATs?" or "Do keep-
        ##% alives?" to imply next-hop STUN support.
        # The indication is the Require: outbound of this 2xx: no setting turns STUN on.
        if OUTBOUND not in require:
            ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
            ##% It is the responsibility of the UA to remove any inappropriate
            ##% Contacts.
            # The contact may be unroutable (no flow behind it): take it back, and run
            # no keep-alive -- without outbound there is no indication of STUN support.
            assert flow.registration is not None
            self._cancel(flow)
            flow.keepalive = None
            effects = self._enter(flow, "unsupported", "200 without Require: outbound")
            effects.extend(flow.registration.unregister(now))
            return effects
        flow.flow_timer = _flow_timer(response)
        first = flow.state != "active"
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.2.1
        ##% If outbound registration succeeded, as indicated by the presence of
        ##% the outbound option-tag in the Require header field of a successful
        ##% registration response, the UA begins sending keep-alives as described
        ##% in Section 4.4.
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.1
        ##% This approach MUST only be used with connection oriented transports
        ##% such as TCP or SCTP; it MUST NOT be used with connection-less
        ##% transports such as UDP.
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.2
        ##% This approach MUST only be used with connection-less transports, such
        ##% as UDP; it MUST NOT be used for connection-oriented transports such
        ##% as TCP and SCTP.
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.1
        ##% Clients MUST support this CRLF keep-alive.
        ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.2
        ##% Clients
        ##% MUST support STUN-based keep-alives.
        if flow.keepalive is None:
            assert self.ua is not None
            flow.keepalive = KeepAlive(flow.reliable, self.settings, self.ua.rng, flow.flow_timer)
            flow.keepalive.start(now, first_at_once=True)
        else:
            flow.keepalive.flow_timer = flow.flow_timer
        effects = self._enter(flow, "active", "registered with outbound") if first else []
        effects.extend(self._arm(flow))
        return effects

    # -- failure and recovery (§4.5) ---------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4
    ##% If
    ##% a flow with a registration has failed, the UA follows the procedures
    ##% in Section 4.2 to form a new flow to replace the failed one.
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.5
    ##% The UA MUST wait for at least the value of the retry delay time
    ##% before trying another registration to form a new flow for that URI (a
    ##% 503 response to an earlier failed registration attempt with a Retry-
    ##% After header field value may cause the UA to wait longer).
    def _failed(self, flow: Flow, reason: str, now: float) -> list[UAEffect]:
        """``flow`` failed: drop it, then form it again at once or after the back-off."""
        assert self.ua is not None
        self._cancel(flow)
        flow.keepalive = None
        effects = self._enter(flow, "failed", reason)
        if not self.running:
            return effects
        # A flow that had worked is replaced at once; a failure to form one counts.
        if flow.successful:
            flow.consecutive_failures = 0
        else:
            flow.consecutive_failures += 1
        flow.successful = False
        delay = retry_delay(
            flow.consecutive_failures, self._all_failed(flow), self.settings, self.ua.rng
        )
        response = (
            flow.registration.events[-1].response
            if flow.registration and flow.registration.events
            else None
        )
        if response is not None and response.status == 503:
            delay = max(delay, _retry_after(response) or 0.0)
        if delay <= 0:
            effects.extend(self._form(flow, now))
            return effects
        flow.retry_at = now + delay
        flow.timer = self.ua.call_at(flow.retry_at, lambda t: self._form(flow, t))
        effects.extend(self._enter(flow, "waiting", f"retry in {delay:.1f} s"))
        return effects

    ##= https://www.rfc-editor.org/rfc/rfc5626#section-4.5
    ##% If
    ##% all of the flows to every URI in the outbound proxy set have failed,
    ##% the base-time is set to a lower value (with a default of 30 seconds);
    ##% otherwise, in the case where at least one of the flows has not
    ##% failed, the base-time is set to a higher value (with a default of 90
    ##% seconds).
    def _all_failed(self, flow: Flow) -> bool:
        return not any(other.state == "active" for other in self.flows if other is not flow)

    def _arm(self, flow: Flow) -> list[UAEffect]:
        """Set the flow's keep-alive timer to its keep-alive's next deadline."""
        assert self.ua is not None
        if flow.keepalive_timer is not None:
            flow.keepalive_timer.cancel()
            flow.keepalive_timer = None
        keepalive = flow.keepalive
        deadline = keepalive.next_deadline() if keepalive is not None else None
        if deadline is not None:
            flow.keepalive_timer = self.ua.call_at(deadline, lambda t: self._tick(flow, t))
        return []

    def _tick(self, flow: Flow, now: float) -> list[UAEffect]:
        flow.keepalive_timer = None
        keepalive = flow.keepalive
        if keepalive is None:
            return []
        due = keepalive.poll(now)
        if due is None:
            return self._arm(flow)
        what, value = due
        if what == "failed":
            return self._failed(flow, value, now)
        effects: list[UAEffect] = [SendKeepAlive(flow, value)]
        effects.extend(self._arm(flow))
        return effects

    def _cancel(self, flow: Flow) -> None:
        """Stop the flow's timers: keep-alive, retry, and its registration's refresh."""
        for timer in (flow.timer, flow.keepalive_timer):
            if timer is not None:
                timer.cancel()
        flow.timer = flow.keepalive_timer = None

    def _enter(self, flow: Flow, state: str, reason: str) -> list[UAEffect]:
        flow.state = state
        flow.last_reason = reason
        return [FlowEvent(flow, state, reason)]


def _recoverable(status: int) -> bool:
    """Errors after which the same request may succeed later (timeout, overload, 5xx)."""
    return status in (408, 480, 500, 503, 504)


def _retry_after(response: Response) -> float | None:
    text = response.headers.get("Retry-After")
    if not text:
        return None
    head = text.split(";", 1)[0].split("(", 1)[0].strip()
    return float(head) if head.isdigit() else None


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4
##% When a successful registration response contains the Flow-Timer
##% header field, the value of this header field is the number of seconds
##% the server is prepared to wait without seeing keep-alives before it
##% could consider the corresponding flow dead.
def _flow_timer(response: Response) -> int | None:
    """Flow-Timer = "Flow-Timer" HCOLON 1*DIGIT (§10); None when absent or malformed."""
    text = (response.headers.get("Flow-Timer") or "").strip()
    return int(text) if text.isdigit() and 0 < len(text) <= 9 else None
