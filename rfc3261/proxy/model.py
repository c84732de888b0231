"""The proxy's vocabulary (RFC 3261 §16): what the steps of §16.3-§16.11 work on.

A :class:`Target` is one element of the target set (§16.5); each copy forwarded to a
target is a :class:`Branch` (§16.6) of the :class:`ResponseContext` that gathers
everything about one proxied request (§16.7).  The adapter receives :class:`Send`
values whose destination is a :class:`NextHop` (§16.6 step 7) or a source it gave;
extensions are :class:`ProxyExtension` objects.  :class:`ProxyConfig` is the local
configuration every step reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..location import Binding
from ..message import Message, Request, Response
from ..transaction_client import ClientTransaction
from ..transaction_server import ServerTransaction
from ..uri import AbsoluteURI, SipURI, parse_uri

__all__ = [
    "Branch",
    "NextHop",
    "ProxyConfig",
    "ProxyExtension",
    "ResponseContext",
    "Send",
    "Target",
]


@dataclass(frozen=True, slots=True)
class NextHop:
    """Where to send a request: transport, host and port (None: resolve by RFC 3263).

    ``flow``: a token naming a connection or flow to send on while it is alive
    (RFC 5626), from the :class:`Target`; None: use transport, host and port.
    """

    transport: str
    host: str
    port: int | None = None
    flow: str | None = None
    # The URI the hop was taken from (§16.6 step 7), for an RFC 3263 resolver.
    uri: Any = field(default=None, compare=False)

    def __str__(self) -> str:
        port = "" if self.port is None else f":{self.port}"
        return f"{self.transport} {self.host}{port}"


@dataclass(frozen=True, slots=True)
class Target:
    """One element of the target set (§16.5): where a copy of the request goes.

    ``uri`` becomes the copy's Request-URI (§16.6 step 2); ``route_set`` is pushed, in
    order, in front of the copy's Route values (§16.6 step 6; the path vector of
    RFC 3327 §5.4); ``flow`` is handed to the edge on the :class:`NextHop` (RFC 5626);
    ``q`` is the preference it was registered with (§20.10), or None; ``binding`` the
    location binding it was made from, None for a Request-URI target.
    """

    uri: SipURI | AbsoluteURI
    route_set: tuple[str, ...] = ()
    flow: str | None = None
    q: float | None = None
    binding: Binding | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.uri, SipURI | AbsoluteURI):
            raise TypeError(f"Target.uri must be a parsed URI, not {self.uri!r}")
        if not isinstance(self.route_set, tuple):
            raise TypeError(f"Target.route_set must be a tuple, not {self.route_set!r}")

    @classmethod
    def from_binding(cls, binding: Binding) -> Target:
        """The default target for a location binding: its contact, route set (Path) and
        flow.  ValueError if the stored contact is not a URI."""
        return cls(parse_uri(binding.contact), binding.path, binding.flow, binding.q, binding)


class ProxyExtension:
    """Hooks of a :class:`Proxy` for an extension; override what you need."""

    #: A short name, by which the programs load it (see :mod:`rfc3261.programs.plugins`).
    name: str = ""

    def targets(self, request: Request, targets: list[Target]) -> list[Target]:
        """§16.5: the targets made from the location service's bindings for ``request``
        (highest q first, each with its ``binding``); return the list to use -- the
        same, filtered, reordered or with changed targets.  Duplicates are dropped
        afterwards."""
        return targets

    def retarget(self, branch: Branch, response: Response) -> list[Target]:
        """§16.7 step 4: targets to add to the target set after the failure
        ``response`` (300-699) on ``branch`` (RFC 5626 §7: after a 430, another flow of
        the same instance); they are tried like the others.  Default: none."""
        return []

    def next_hop(self, copy: Request) -> NextHop | None:
        """§16.6 step 7, before the next hop is taken from the top Route or the
        Request-URI: the hook may remove Route values naming this proxy (the second
        value of a double Record-Route, RFC 5658 §5) and return the hop to use; None:
        the hop is computed as usual (from what is left)."""
        return None

    def before_forward(self, branch: Branch) -> int | Response | None:
        """§16.6, after step 9: ``branch.request`` is the copy about to be sent to
        ``branch.hop`` for ``branch.target``; the hook may change the copy or replace
        the hop.  Return None to send it, or a final status (300-699, e.g. 430 Flow
        Failed, RFC 5626) -- or such a response, built with ``branch.request.
        make_response`` when it needs header fields (a 421's Require) -- to end the
        branch as if that response had arrived."""
        return None


@dataclass(slots=True)
class Send:
    """Pass ``message`` to the transport for ``destination`` (a source or a NextHop).

    ``transaction`` is the transaction that sends it (None for stateless forwarding);
    the adapter hands the Send back to :meth:`Proxy.transport_error` if sending fails.
    """

    message: Message
    destination: Any
    transaction: Any = None
    wire: bytes | None = None  # the message's bytes, when a transaction made them already


@dataclass
class ProxyConfig:
    """Local configuration of a proxy."""

    # Our address: sent-by of our Via values and host of our Record-Route URIs.
    host: str
    port: int = 5060
    transport: str = "UDP"
    # The domains this proxy is responsible for (§16.4, §16.5).
    domains: frozenset[str] = frozenset()
    # Other host[:port] values that name this proxy (for Route and maddr checks).
    aliases: frozenset[str] = frozenset()
    record_route: bool = True
    forking: str = "parallel"  # or "sequential"
    timer_c: float = 181.0
    # Option-tags understood in Proxy-Require (§16.3 step 5).
    supported: frozenset[str] = frozenset()
    # RFC 5393 §5.3.3: the maximum allowable Incoming Max-Breadth.
    max_breadth: int = 60
    # §16.6 step 5: URIs of (loose-routing) proxies every forwarded request must visit.
    local_route: tuple[str, ...] = ()
    # Listening on several transports: our sent-by per transport ("UDP": "host:port"), for
    # the Via of a request sent over it (the default: host:port above).
    sent_by: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.domains = frozenset(d.lower() for d in self.domains)
        if self.forking not in ("parallel", "sequential"):
            raise ValueError(f"forking must be 'parallel' or 'sequential', not {self.forking!r}")
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-16.6
        ##% The timer MUST be larger than 3 minutes.
        if self.timer_c <= 180:
            raise ValueError("Timer C must be larger than 3 minutes (RFC 3261 §16.6 step 10)")


class Branch:
    """One forwarded copy of the request: its client transaction and its state (§16.6).

    A plain class with slots rather than a dataclass, because ``request`` is a
    property: once the copy of a forwarded INVITE is sent, its client transaction
    keeps it as bytes only (:meth:`keep_request_as_bytes`), and reading
    ``branch.request`` parses it again -- only a CANCEL (§9.1), a retry (RFC 3263
    §4.3) or a response the proxy makes up (§16.8, §16.9) does.
    """

    __slots__ = (
        "_request",
        "breadth",
        "cancel_wanted",
        "cancelled",
        "context",
        "final",
        "hop",
        "method",
        "provisional",
        "target",
        "terminated",
        "timer_c",
        "timer_c_abandon",
        "transaction",
    )

    def __init__(
        self,
        context: ResponseContext,
        target: Target,
        request: Request,
        hop: NextHop,
        transaction: ClientTransaction | None = None,
        breadth: int = 1,
    ) -> None:
        self.context = context
        self.target = target
        self._request: Request | None = request
        self.method = request.method  # read on every response (§16.7 step 2)
        self.hop = hop
        self.transaction = transaction
        self.breadth = breadth
        self.provisional = False  # a provisional response arrived (a CANCEL may be sent)
        self.final = False  # a final response arrived, or was assumed (408, 503)
        self.cancel_wanted = False  # CANCEL once a provisional response arrives (§9.1)
        self.cancelled = False  # a CANCEL was sent
        self.terminated = False  # the client transaction is gone
        self.timer_c: float | None = None
        self.timer_c_abandon = False  # Timer C now guards the CANCEL (64*T1, §9.1)

    @property
    def request(self) -> Request:
        """The copy of the request forwarded on this branch (§16.6)."""
        if self._request is None:
            return self.transaction.request  # type: ignore[union-attr]
        return self._request

    @request.setter
    def request(self, request: Request) -> None:
        self._request = request

    def keep_request_as_bytes(self) -> bytes | None:
        """Let the client transaction keep the sent copy as bytes only (§17.1.1.2: all
        it does with the request is retransmit it on Timer A); return them."""
        if self.transaction is None:
            return None
        self._request = None
        return self.transaction.keep_request_as_bytes()

    def __repr__(self) -> str:
        return f"<Branch to {self.target.uri} via {self.hop} final={self.final}>"


class ResponseContext:
    """Everything about one proxied request (§16): server transaction, targets, branches.

    A plain class with slots rather than a dataclass, because ``request`` is a
    property: while a proxied INVITE is pending, its server transaction keeps it as
    bytes only (:meth:`keep_request_as_bytes`); a new branch (sequential forking,
    §16.6) or a response the proxy makes up (§16.7 step 6) parses it again.
    """

    __slots__ = (
        "_request",
        "arrived_route",
        "branches",
        "cancel_reasons",
        "final_sent",
        "incoming_breadth",
        "loop_part",
        "next_target",
        "no_new_branches",
        "responses",
        "server",
        "server_terminated",
        "targets",
    )

    def __init__(
        self,
        server: ServerTransaction,
        request: Request,  # as received, after the §16.4 preprocessing
        loop_part: str,  # RFC 5393 "second part" of our branch parameters for this request
        targets: list[Target] | None = None,
    ) -> None:
        self.server = server
        self._request: Request | None = request
        self.loop_part = loop_part
        self.targets: list[Target] = [] if targets is None else targets
        self.next_target = 0
        self.branches: list[Branch] = []
        self.responses: list[Response] = []
        self.final_sent = False
        self.no_new_branches = False
        self.incoming_breadth = 60
        self.server_terminated = False
        # The Route value naming this proxy that §16.4 removed, if any: its user part may
        # be a flow token of ours (RFC 5626 §5.3), which extensions read.
        self.arrived_route: Any = None
        # The Reason values of the CANCEL that cancelled this request (RFC 3326 §2).
        self.cancel_reasons: list[str] = []

    @property
    def request(self) -> Request:
        """The request as received, after the §16.4 preprocessing."""
        if self._request is None:
            return self.server.request
        return self._request

    @request.setter
    def request(self, request: Request) -> None:
        self._request = request

    def keep_request_as_bytes(self) -> None:
        """Let the server transaction keep the request as bytes only (it is the same
        request object); nothing is done when the context holds a request of its own."""
        if self._request is not None and self._request is self.server._request:
            self.server.keep_request_as_bytes()
            self._request = None

    @property
    def outgoing_breadth(self) -> int:
        """RFC 5393 §5.3.2: Max-Breadth of the branches without a final response."""
        return sum(b.breadth for b in self.branches if not b.final)

    @property
    def pending(self) -> list[Branch]:
        return [b for b in self.branches if not b.final]

    def __repr__(self) -> str:
        return f"<ResponseContext {self.server!r} {len(self.branches)} branches>"


# -- helpers shared by the steps ------------------------------------------------------


def _set_routes(request: Request, values: list[str]) -> None:
    """Replace the Route values, keeping the header field where it was."""
    if values:
        request.headers.set("Route", ", ".join(values))
    else:
        request.headers.remove("Route")


def _hash(*parts: object) -> str:
    text = "\x00".join("" if p is None else str(p) for p in parts)
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]


class _Answer(Exception):
    """The response to send instead of proxying: a failed check of §16.3, the 404 or
    480 of §16.5, the 416 of §16.6 step 7."""

    def __init__(
        self,
        status: int = 500,
        *,
        headers: Iterable[tuple[str, Any]] = (),
        response: Response | None = None,
    ) -> None:
        super().__init__(status)
        self.status = status
        self.headers = list(headers)
        self.response = response

    def make(self, request: Request) -> Response:
        if self.response is not None:
            return self.response
        response = request.make_response(self.status)
        for name, value in self.headers:
            response.headers.add(name, value)
        return response
