"""Test helpers for the transaction layer: message builders and an in-memory network.

The network wires two :class:`TransactionLayer` endpoints back to back, the way
aioquic's tests wire two connections: messages travel as bytes (serialized and
parsed again), time moves only when the test says so, and a test can drop or
duplicate any message on the way.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rfc3261.message import Request, Response, parse
from rfc3261.transaction import (
    Effect,
    RequestReceived,
    ResponseReceived,
    SendMessage,
    Terminated,
    Timeout,
    TransportFailure,
)
from rfc3261.transaction_layer import TransactionLayer

COOKIE = "z9hG4bK"


def request(
    method: str = "INVITE",
    *,
    branch: str | None = COOKIE + "776asdhds",
    transport: str = "UDP",
    sent_by: str = "pc33.atlanta.example.com",
    uri: str = "sip:bob@biloxi.example.com",
    cseq: int = 314159,
    cseq_method: str | None = None,
    call_id: str = "a84b4c76e66710@pc33.atlanta.example.com",
    from_tag: str | None = "1928301774",
    to_tag: str | None = None,
    extra: tuple[str, ...] = (),
    max_forwards: int | None = 70,
) -> Request:
    """A request parsed from bytes, shaped like the §24.2 example."""
    via = f"SIP/2.0/{transport} {sent_by}"
    if branch is not None:
        via += f";branch={branch}"
    to = "Bob <sip:bob@biloxi.example.com>" + (f";tag={to_tag}" if to_tag else "")
    from_ = "Alice <sip:alice@atlanta.example.com>" + (f";tag={from_tag}" if from_tag else "")
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: {via}",
        *([f"Max-Forwards: {max_forwards}"] if max_forwards is not None else []),
        f"To: {to}",
        f"From: {from_}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {cseq_method or method}",
        *extra,
        "Content-Length: 0",
        "",
        "",
    ]
    message = parse("\r\n".join(lines).encode())
    assert isinstance(message, Request)
    return message


def response(req: Request, status: int, to_tag: str | None = "a6c85cf") -> Response:
    """The response to ``req`` a UAS would build (§8.2.6), round-tripped through bytes."""
    built = req.make_response(status, to_tag=to_tag)
    message = parse(bytes(built))
    assert isinstance(message, Response)
    return message


def sent(effects: list[Effect]) -> list[Any]:
    """The messages of the SendMessage effects, in order."""
    return [e.message for e in effects if isinstance(e, SendMessage)]


def kinds(effects: list[Effect]) -> list[str]:
    """A compact description of effects: "send INVITE", "send 180", "tu 180", "timeout B"..."""
    out = []
    for e in effects:
        if isinstance(e, SendMessage):
            m = e.message
            out.append(f"send {m.method if isinstance(m, Request) else m.status}")
        elif isinstance(e, ResponseReceived):
            out.append(f"tu {e.response.status}")
        elif isinstance(e, RequestReceived):
            out.append(f"tu {e.request.method}")
        elif isinstance(e, Timeout):
            out.append(f"timeout {e.timer}")
        elif isinstance(e, TransportFailure):
            out.append("transport error")
        elif isinstance(e, Terminated):
            out.append("terminated")
    return out


def drive(transaction: Any, until: float) -> list[tuple[float, list[str]]]:
    """Fire a lone transaction's timers up to ``until``: [(time, kinds(effects)), ...]."""
    log = []
    while True:
        deadline = transaction.next_deadline()
        if deadline is None or deadline > until:
            return log
        log.append((deadline, kinds(transaction.handle_timer(deadline))))


# -- the in-memory network ------------------------------------------------------------


@dataclass
class Endpoint:
    """One side of the network: a transaction layer and what its TU saw."""

    name: str
    layer: TransactionLayer
    events: list[tuple[float, Effect]] = field(default_factory=list)
    # TU behaviour: called with (network, effect) for every TU event.
    on_event: Callable[[Network, Effect], None] | None = None

    def tu(self, *types: type) -> list[Effect]:
        """The TU events seen so far, optionally of the given types."""
        return [e for _, e in self.events if not types or isinstance(e, types)]


class Network:
    """Moves messages between two endpoints as bytes, with optional loss and duplication.

    ``drop(direction, message, count)`` and ``duplicate(...)`` decide per message;
    ``count`` is how many messages with this start line went that way before.
    ``latency`` is the one-way delay.  Every message put on the wire is logged as
    ``(time, "a->b", start line)``.
    """

    def __init__(self, a: TransactionLayer, b: TransactionLayer, *, latency: float = 0.01) -> None:
        self.a = Endpoint("a", a)
        self.b = Endpoint("b", b)
        self.latency = latency
        self.now = 0.0
        self.drop: Callable[[str, Any, int], bool] = lambda direction, message, count: False
        self.duplicate: Callable[[str, Any, int], bool] = lambda direction, message, count: False
        self.wire: list[tuple[float, str, str]] = []
        self._in_flight: list[tuple[float, int, Endpoint, bytes]] = []
        self._calls: list[tuple[float, int, Callable[[Network], None]]] = []
        self._sequence = itertools.count()
        self._counts: dict[tuple[str, str], int] = {}

    def peer(self, endpoint: Endpoint) -> Endpoint:
        return self.b if endpoint is self.a else self.a

    def apply(self, endpoint: Endpoint, effects: list[Effect]) -> None:
        """Carry out effects produced at ``endpoint``."""
        tu_events = []
        for effect in effects:
            if isinstance(effect, SendMessage):
                self._transmit(endpoint, effect.message)
            else:
                endpoint.events.append((self.now, effect))
                tu_events.append(effect)
        # The TU reacts after the transaction layer's own sends have gone out.
        if endpoint.on_event is not None:
            for effect in tu_events:
                endpoint.on_event(self, effect)

    def _transmit(self, endpoint: Endpoint, message: Any) -> None:
        peer = self.peer(endpoint)
        direction = f"{endpoint.name}->{peer.name}"
        line = bytes(message).split(b"\r\n", 1)[0].decode()
        count = self._counts.get((direction, line), 0)
        self._counts[(direction, line)] = count + 1
        self.wire.append((self.now, direction, line))
        if self.drop(direction, message, count):
            return
        copies = 2 if self.duplicate(direction, message, count) else 1
        for _ in range(copies):
            arrival = (self.now + self.latency, next(self._sequence), peer, bytes(message))
            heapq.heappush(self._in_flight, arrival)

    def call_at(self, when: float, action: Callable[[Network], None]) -> None:
        """Run ``action(network)`` at time ``when`` (a TU doing something later)."""
        heapq.heappush(self._calls, (when, next(self._sequence), action))

    def send_request(self, endpoint: Endpoint, req: Request) -> Any:
        """Endpoint's TU starts a client transaction now; returns it."""
        transaction, effects = endpoint.layer.send_request(req, "peer", self.now)
        self.apply(endpoint, effects)
        return transaction

    def send_direct(self, endpoint: Endpoint, message: Any) -> None:
        """Put a message on the wire without a transaction (the ACK for a 2xx, §13.2.2.4)."""
        self._transmit(endpoint, message)

    def send_response(self, endpoint: Endpoint, transaction: Any, resp: Response) -> None:
        self.apply(endpoint, endpoint.layer.send_response(transaction, resp, self.now))

    def _next_time(self) -> float | None:
        times = [
            t
            for t in (
                self._in_flight[0][0] if self._in_flight else None,
                self._calls[0][0] if self._calls else None,
                self.a.layer.next_deadline(),
                self.b.layer.next_deadline(),
            )
            if t is not None
        ]
        return min(times) if times else None

    def run(self, until: float) -> None:
        """Deliver messages, run TU actions and fire timers in time order up to ``until``."""
        while True:
            when = self._next_time()
            if when is None or when > until:
                self.now = until
                return
            self.now = max(self.now, when)
            if self._in_flight and self._in_flight[0][0] <= when:
                _, _, endpoint, data = heapq.heappop(self._in_flight)
                self._deliver(endpoint, data)
            elif self._calls and self._calls[0][0] <= when:
                _, _, action = heapq.heappop(self._calls)
                action(self)
            else:
                for endpoint in (self.a, self.b):
                    deadline = endpoint.layer.next_deadline()
                    if deadline is not None and deadline <= when:
                        self.apply(endpoint, endpoint.layer.handle_timer(when))

    def _deliver(self, endpoint: Endpoint, data: bytes) -> None:
        message = parse(data)
        if isinstance(message, Request):
            effects = endpoint.layer.receive_request(message, "peer", self.now)
        else:
            effects = endpoint.layer.receive_response(message, self.now)
        self.apply(endpoint, effects)

    def lines(self, direction: str | None = None) -> list[tuple[float, str]]:
        """The wire log as (time rounded to ms, start line), optionally for one direction."""
        return [
            (round(t, 3), line) for t, d, line in self.wire if direction is None or d == direction
        ]
