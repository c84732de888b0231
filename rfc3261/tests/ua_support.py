"""A back-to-back harness for user agents: in-memory network, time moved by hand.

Each :class:`~rfc3261.ua_core.UserAgent` lives on a host name (``alice.example.com``).
Messages travel as bytes (serialized and parsed again) with a fixed latency; a request
goes to the host of the URI the UA names as destination (§8.1.2), a response to the
host it came from.  Besides UAs the network may hold *scripted servers* (a function
from request to responses, no transactions: enough for a registrar, a redirect server
or an endless challenger) and *forkers* (deliver a request to several hosts, as if a
stateless forking proxy had sent it).  ``net.run(until)`` delivers messages and fires
timers in time order; every UA event is logged as ``(time, event)``.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rfc3261.message import Request, Response, parse
from rfc3261.timers import TimerValues
from rfc3261.transaction import SendMessage
from rfc3261.ua_core import UAConfig, UAEvent, UserAgent
from rfc3261.uri import SipURI

# The RFC's default timers (T1 = 500 ms, T2 = 4 s): the tests assert the §13.3.1.4 and
# §14.1 timings against them.
TIMERS = TimerValues()


def make_ua(name: str, *, seed: int = 0, **config: Any) -> UserAgent:
    """A UA for user ``name`` on host ``<name>.example.com``."""
    host = f"{name}.example.com"
    defaults: dict[str, Any] = {
        "aor": f"sip:{name}@example.com",
        "contact": f"sip:{name}@{host}",
        "sent_by": host,
        "timers": TIMERS,
    }
    defaults.update(config)
    return UserAgent(UAConfig(**defaults), rng=random.Random(seed))


@dataclass
class Node:
    host: str
    ua: UserAgent | None = None
    script: Callable[[Request], list[Response]] | None = None
    fork_to: list[str] = field(default_factory=list)
    events: list[tuple[float, Any]] = field(default_factory=list)
    received: list[tuple[float, Any]] = field(default_factory=list)
    on_event: Callable[[Network, Any], None] | None = None

    def of(self, *types: type) -> list[Any]:
        return [e for _, e in self.events if not types or isinstance(e, types)]


class Network:
    """Moves messages between nodes; ``wire`` logs ``(time, from, to, start line)``."""

    def __init__(self, latency: float = 0.01) -> None:
        self.latency = latency
        self.now = 0.0
        self.nodes: dict[str, Node] = {}
        self.wire: list[tuple[float, str, str, str]] = []
        self.drop: Callable[[str, str, Any], bool] = lambda src, dst, message: False
        self._queue: list[tuple[float, int, str, str, bytes]] = []
        self._seq = itertools.count()

    # -- topology ------------------------------------------------------------------

    def add_ua(self, ua: UserAgent) -> Node:
        host = ua._sent_by[0]
        node = Node(host, ua=ua)
        self.nodes[host] = node
        return node

    def add_script(self, host: str, script: Callable[[Request], list[Response]]) -> Node:
        node = Node(host, script=script)
        self.nodes[host] = node
        return node

    def add_forker(self, host: str, targets: list[str]) -> Node:
        node = Node(host, fork_to=targets)
        self.nodes[host] = node
        return node

    # -- effects -------------------------------------------------------------------

    def apply(self, node: Node, effects: list[Any]) -> None:
        """Carry out the effects a UA returned at ``self.now``."""
        for effect in effects:
            if isinstance(effect, SendMessage):
                self.send(node.host, effect.message, effect.destination)
            else:
                node.events.append((self.now, effect))
                if node.on_event is not None:
                    node.on_event(self, effect)

    def send(self, source: str, message: Any, destination: Any) -> None:
        if isinstance(destination, SipURI):
            target = destination.host_lower
        else:
            target = str(destination)
        start = bytes(message).split(b"\r\n", 1)[0].decode()
        self.wire.append((self.now, source, target, start))
        if self.drop(source, target, message):
            return
        heapq.heappush(
            self._queue,
            (self.now + self.latency, next(self._seq), source, target, bytes(message)),
        )

    # -- time ----------------------------------------------------------------------

    def _next_time(self) -> float | None:
        times = [self._queue[0][0]] if self._queue else []
        for node in self.nodes.values():
            if node.ua is not None:
                deadline = node.ua.next_deadline()
                if deadline is not None:
                    times.append(deadline)
        return min(times) if times else None

    def run(self, until: float) -> None:
        """Deliver messages and fire timers in time order up to ``until``."""
        while True:
            when = self._next_time()
            if when is None or when > until:
                break
            self.now = max(self.now, when)
            if self._queue and self._queue[0][0] <= self.now:
                _, _, source, target, data = heapq.heappop(self._queue)
                self._deliver(source, target, data)
                continue
            for node in list(self.nodes.values()):
                if node.ua is not None:
                    deadline = node.ua.next_deadline()
                    if deadline is not None and deadline <= self.now:
                        self.apply(node, node.ua.handle_timer(self.now))
        self.now = max(self.now, until)

    def _deliver(self, source: str, target: str, data: bytes) -> None:
        node = self.nodes.get(target)
        if node is None:
            return
        message = parse(data)
        node.received.append((self.now, message))
        if node.fork_to:
            for host in node.fork_to:
                heapq.heappush(
                    self._queue, (self.now + self.latency, next(self._seq), source, host, data)
                )
            return
        if node.script is not None:
            if isinstance(message, Request):
                for response in node.script(message):
                    self.send(node.host, response, source)
            return
        assert node.ua is not None
        self.apply(node, node.ua.receive(message, source, self.now))

    def call(self, node: Node, effects: list[Any]) -> None:
        """Apply the effects of an application call made at ``self.now``."""
        self.apply(node, effects)


def started(net: Network, host: str, method: str) -> list[float]:
    """When ``host`` put a request of ``method`` (or a response status) on the wire."""
    return [t for t, src, _, line in net.wire if src == host and line.split(" ")[0] == method]


def statuses(net: Network, host: str) -> list[tuple[float, int]]:
    """The responses ``host`` sent: (time, status)."""
    out = []
    for t, src, _, line in net.wire:
        if src == host and line.startswith("SIP/2.0"):
            out.append((t, int(line.split(" ")[1])))
    return out


__all__ = ["TIMERS", "Network", "Node", "UAEvent", "make_ua", "started", "statuses"]
