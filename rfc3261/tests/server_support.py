"""Test helpers for registrar and proxy tests: an in-memory SIP network.

Elements (proxies and scripted user agents) are addressed by host name.  Messages
travel as bytes (serialized and parsed again) with a small latency; time moves only
when the test calls :meth:`Net.run`.  Every message put on the wire is logged as
``(time, src, dst, first line)``, the way transaction_support's network logs its own.
"""

from __future__ import annotations

import heapq
import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rfc3261.message import Request, Response, parse
from rfc3261.proxy import NextHop, Proxy, Send
from rfc3261.transaction import (
    RequestReceived,
    ResponseReceived,
    SendMessage,
    Timeout,
)
from rfc3261.transaction_layer import TransactionLayer
from rfc3261.transaction_server import ServerTransaction

COOKIE = "z9hG4bK"


def register(
    aor: str = "sip:alice@example.com",
    *,
    contacts: tuple[str, ...] = ("<sip:alice@192.0.2.10:5060>",),
    call_id: str = "reg-1@192.0.2.10",
    cseq: int = 1,
    expires: int | None = None,
    uri: str | None = None,
    from_: str | None = None,
    extra: tuple[tuple[str, str], ...] = (),
    branch: str | None = None,
) -> Request:
    """A REGISTER parsed from bytes (§10.2)."""
    host = aor.split("@", 1)[-1]
    headers: list[tuple[str, Any]] = [
        ("Via", f"SIP/2.0/UDP 192.0.2.10:5060;branch={branch or COOKIE + secrets.token_hex(6)}"),
        ("Max-Forwards", "70"),
        ("To", f"<{aor}>"),
        ("From", f"<{from_ or aor}>;tag={secrets.token_hex(4)}"),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} REGISTER"),
    ]
    headers += [("Contact", c) for c in contacts]
    if expires is not None:
        headers.append(("Expires", str(expires)))
    headers += list(extra)
    headers.append(("Content-Length", "0"))
    request = Request("REGISTER", uri or f"sip:{host}", headers)
    parsed = parse(bytes(request))
    assert isinstance(parsed, Request)
    return parsed


def invite(
    to: str = "sip:bob@example.com",
    *,
    from_: str = "sip:alice@atlanta.example.com",
    via_host: str = "alice-pc.example",
    call_id: str | None = None,
    cseq: int = 1,
    method: str = "INVITE",
    uri: str | None = None,
    extra: tuple[tuple[str, str], ...] = (),
    max_forwards: int = 70,
    body: bytes = b"",
) -> Request:
    """A request from a UA at ``via_host`` (parsed from bytes)."""
    headers: list[tuple[str, Any]] = [
        ("Via", f"SIP/2.0/UDP {via_host};branch={COOKIE}{secrets.token_hex(6)}"),
        ("Max-Forwards", str(max_forwards)),
        ("To", f"<{to}>"),
        ("From", f"<{from_}>;tag={secrets.token_hex(4)}"),
        ("Call-ID", call_id or f"{secrets.token_hex(6)}@{via_host}"),
        ("CSeq", f"{cseq} {method}"),
        ("Contact", f"<sip:{from_.split(':')[1].split('@')[0]}@{via_host}>"),
        *extra,
        ("Content-Length", str(len(body))),
    ]
    request = Request(method, uri or to, headers, body)
    parsed = parse(bytes(request))
    assert isinstance(parsed, Request)
    return parsed


def host_of(destination: Any) -> str:
    """The host a Send goes to: a NextHop's host, or a source (a host name)."""
    if isinstance(destination, NextHop):
        return destination.host.lower()
    return str(destination).lower()


class Element:
    """What the network needs from an element."""

    host: str

    def receive(self, message: Request | Response, source: str, now: float) -> list[Send]:
        raise NotImplementedError

    def next_deadline(self) -> float | None:
        raise NotImplementedError

    def handle_timer(self, now: float) -> list[Send]:
        raise NotImplementedError


class ProxyElement(Element):
    """A :class:`Proxy` on the network."""

    def __init__(self, host: str, proxy: Proxy) -> None:
        self.host = host
        self.proxy = proxy

    def receive(self, message: Request | Response, source: str, now: float) -> list[Send]:
        if isinstance(message, Request):
            return self.proxy.receive_request(message, source, now)
        return self.proxy.receive_response(message, source, now)

    def next_deadline(self) -> float | None:
        return self.proxy.next_deadline()

    def handle_timer(self, now: float) -> list[Send]:
        return self.proxy.handle_timer(now)


# A UA's script for requests it receives: method -> [(delay, status), ...].
Script = dict[str, list[tuple[float, int]]]


@dataclass(eq=False)
class UA(Element):
    """A scripted user agent: answers requests per ``script``, records what it sees.

    As UAS: responses are sent at their delays after the request; a CANCEL is
    answered 200 and ends the INVITE with 487 (unless ``ignore_cancel``).  As UAC:
    :meth:`send` starts a client transaction; a 2xx to INVITE is ACKed along the
    Record-Route (as the route set, §12.1.2) to the Contact.
    """

    host: str
    script: Script = field(default_factory=dict)
    ignore_cancel: bool = False
    layer: TransactionLayer = field(default_factory=TransactionLayer)
    requests: list[Request] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    timeouts: list[str] = field(default_factory=list)
    _todo: list[tuple[float, int, Callable[[float], list[Send]]]] = field(default_factory=list)
    _seq: Any = field(default_factory=itertools.count)
    _final: set[int] = field(default_factory=set)
    _invites: dict[str, ServerTransaction] = field(default_factory=dict)
    to_tag: str = field(default_factory=lambda: secrets.token_hex(4))

    def receive(self, message: Request | Response, source: str, now: float) -> list[Send]:
        if isinstance(message, Request):
            return self._run(self.layer.receive_request(message, source, now), now)
        return self._run(self.layer.receive_response(message, now), now)

    def send(self, request: Request, to_host: str, now: float) -> list[Send]:
        _, effects = self.layer.send_request(request, NextHop("UDP", to_host), now)
        return self._run(effects, now)

    def next_deadline(self) -> float | None:
        deadline = self.layer.next_deadline()
        if self._todo and (deadline is None or self._todo[0][0] < deadline):
            deadline = self._todo[0][0]
        return deadline

    def handle_timer(self, now: float) -> list[Send]:
        out = self._run(self.layer.handle_timer(now), now)
        while self._todo and self._todo[0][0] <= now:
            _, _, action = heapq.heappop(self._todo)
            out += action(now)
        return out

    def statuses(self, method: str | None = None) -> list[int]:
        return [r.status for r in self.responses if method is None or r.cseq.method == method]

    def _later(self, when: float, action: Callable[[float], list[Send]]) -> None:
        heapq.heappush(self._todo, (when, next(self._seq), action))

    def _respond(self, tx: ServerTransaction, status: int, now: float) -> list[Send]:
        if id(tx) in self._final or tx.terminated:
            return []
        if status >= 200:
            self._final.add(id(tx))
        response = tx.request.make_response(status, to_tag=self.to_tag)
        if tx.request.method == "INVITE" and status < 300:
            response.headers.add("Contact", f"<sip:ua@{self.host}>")
            # §12.1.1: the UAS copies Record-Route into 2xx (and 18x) responses.
            for value in tx.request.headers.get_all("Record-Route"):
                response.headers.add("Record-Route", value)
        return self._run(self.layer.send_response(tx, response, now), now)

    def _run(self, effects: list[Any], now: float) -> list[Send]:
        out: list[Send] = []
        for effect in effects:
            if isinstance(effect, SendMessage):
                out.append(Send(effect.message, effect.destination, effect.transaction))
            elif isinstance(effect, RequestReceived):
                out += self._on_request(effect.transaction, effect.request, now)
            elif isinstance(effect, ResponseReceived):
                self.responses.append(effect.response)
                out += self._on_response(effect.response, now)
            elif isinstance(effect, Timeout):
                self.timeouts.append(effect.timer)
        return out

    def _on_request(self, tx: Any, request: Request, now: float) -> list[Send]:
        self.requests.append(request)
        if tx is None or request.method == "ACK":
            return []
        if request.method == "CANCEL":
            if self.ignore_cancel:
                return []
            out = self._respond(tx, 200, now)
            invite_tx = self.layer.find_cancel_target(request)
            if invite_tx is not None:
                out += self._respond(invite_tx, 487, now)
            return out
        steps = self.script.get(request.method, [(0.0, 200)])
        out = []
        for delay, status in steps:
            if delay <= 0:
                out += self._respond(tx, status, now)
            else:
                self._later(now + delay, lambda t, s=status, x=tx: self._respond(x, s, t))
        return out

    def _on_response(self, response: Response, now: float) -> list[Send]:
        if response.cseq.method != "INVITE" or not 200 <= response.status < 300:
            return []
        return [self.ack_for(response)]

    def ack_for(self, response: Response) -> Send:
        """The ACK for a 2xx: to the Contact, through the route set (reversed RR)."""
        route = list(reversed(response.headers.get_all("Record-Route")))
        target = response.contact[0].uri
        headers: list[tuple[str, Any]] = [
            ("Via", f"SIP/2.0/UDP {self.host};branch={COOKIE}{secrets.token_hex(6)}"),
            ("Max-Forwards", "70"),
            ("To", response.headers.get("To")),
            ("From", response.headers.get("From")),
            ("Call-ID", response.call_id),
            ("CSeq", f"{response.cseq.number} ACK"),
        ]
        headers += [("Route", value) for value in route]
        headers.append(("Content-Length", "0"))
        ack = Request("ACK", target, headers)
        first = ack.route[0].uri if route else target
        return Send(ack, NextHop("UDP", first.host))


class Net:
    """Moves messages between elements by host name, as bytes, with ``latency``."""

    def __init__(self, latency: float = 0.001) -> None:
        self.latency = latency
        self.now = 0.0
        self.elements: dict[str, Element] = {}
        self.wire: list[tuple[float, str, str, str]] = []
        self._queue: list[tuple[float, int, str, str, bytes]] = []
        self._seq = itertools.count()
        self.drop: Callable[[str, str, Request | Response], bool] = lambda s, d, m: False

    def add(self, element: Element, *aliases: str) -> Element:
        for name in (element.host, *aliases):
            self.elements[name.lower()] = element
        return element

    def post(self, src: str, sends: list[Send]) -> None:
        for send in sends:
            dst = host_of(send.destination)
            message = send.message
            first = bytes(message).split(b"\r\n", 1)[0].decode()
            self.wire.append((self.now, src, dst, first))
            if self.drop(src, dst, message):
                continue
            heapq.heappush(
                self._queue, (self.now + self.latency, next(self._seq), src, dst, bytes(message))
            )

    def run(self, until: float) -> None:
        """Deliver messages and fire timers in time order up to ``until``."""
        while True:
            when = self._queue[0][0] if self._queue else None
            timer_host = None
            for host, element in self.elements.items():
                deadline = element.next_deadline()
                if deadline is not None and (when is None or deadline < when):
                    when, timer_host = deadline, host
            if when is None or when > until:
                self.now = max(self.now, until)
                return
            self.now = max(self.now, when)
            if timer_host is not None:
                element = self.elements[timer_host]
                self.post(element.host, element.handle_timer(self.now))
                continue
            _, _, src, dst, data = heapq.heappop(self._queue)
            element = self.elements.get(dst)
            if element is None:
                continue  # nobody there: lost
            message = parse(data)
            self.post(element.host, element.receive(message, src, self.now))

    def lines(self, src: str | None = None, dst: str | None = None) -> list[str]:
        """First lines of the messages sent (optionally only src -> dst)."""
        return [
            line
            for _, s, d, line in self.wire
            if (src is None or s == src) and (dst is None or d == dst)
        ]
