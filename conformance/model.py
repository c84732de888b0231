"""Cases, verdicts and the context a case runs in.

A case is a function ``case(ctx: Context) -> None`` registered with `case` (or `register`
for table-driven ones).  It talks to the target through ``ctx`` and ends by returning (pass)
or by raising: `Failed` via ``ctx.fail``/``ctx.check``, `Inconclusive`, `NotApplicable`.
The RFC sentences it verifies are its ``##=``/``##%`` annotations, read from the source file
at registration (the same ones `python -m annotate check` verifies).
"""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from conformance.messages import Outgoing, ack_for, bye_for, make_request
from conformance.sipmsg import Message
from conformance.target import Target
from conformance.wire import Ladder, Link, Listener

__all__ = [
    "REGISTRY",
    "ROLES",
    "Case",
    "Context",
    "Failed",
    "Inconclusive",
    "NotApplicable",
    "Requirement",
    "Verdict",
    "case",
    "register",
]

ROLES = ("uas", "uac", "registrar", "proxy", "redirect")


class Verdict(StrEnum):
    PASS = "pass"
    WARN = "warn"  # a SHOULD-level deviation: reported, does not fail the run
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    NOT_APPLICABLE = "not-applicable"
    ERROR = "error"


class Failed(Exception):
    """The target did something the RFC forbids (or failed to do what it requires)."""

    def __init__(
        self, expected: str, observed: str, requirement: int = 0, level: str = ""
    ) -> None:
        super().__init__(f"expected {expected}; observed {observed}")
        self.expected = expected
        self.observed = observed
        self.requirement = requirement
        self.level = level


class Inconclusive(Exception):
    """A prerequisite did not happen (the target never answered, never rang...)."""


class NotApplicable(Exception):
    """The profile or the transport rules the case out."""


@dataclass(frozen=True)
class Requirement:
    """One annotation of a case: the RFC section and the exact sentence it verifies."""

    target: str
    rfc: int
    section: str
    quote: str

    @property
    def ref(self) -> str:
        return f"RFC {self.rfc} §{self.section}"


@dataclass
class Case:
    """A registered case and its metadata."""

    id: str
    title: str
    roles: tuple[str, ...]
    level: str
    run: Callable[[Context], None]
    group: str
    tags: tuple[str, ...] = ()
    etsi: str = ""
    transports: tuple[str, ...] = ("udp", "tcp", "tls")
    hostile: bool = False
    requirements: list[Requirement] = field(default_factory=list)
    source: tuple[str, int] = ("", 0)
    timeout: float | None = None
    origin: str = "core"  # or the extension that ships it (set by `conformance.discovery`)


REGISTRY: dict[str, Case] = {}
_ANNOTATIONS: dict[str, list[Any]] = {}


def _annotations_at(path: str, line: int) -> list[Requirement]:
    """The type=test annotations whose block holds ``line`` of ``path``."""
    from annotate.annotations import scan_file

    if path not in _ANNOTATIONS:
        found, _errors = scan_file(Path(path))
        _ANNOTATIONS[path] = found
    out = []
    for ann in _ANNOTATIONS[path]:
        block = ann.block
        if ann.type == "test" and block and block[0] <= line <= block[1] and ann.rfc:
            out.append(Requirement(ann.target, ann.rfc, ann.section or "", ann.quote))
    return out


def register(
    id: str,
    run: Callable[[Context], None],
    *,
    title: str,
    roles: tuple[str, ...],
    level: str = "MUST",
    tags: tuple[str, ...] = (),
    etsi: str = "",
    transports: tuple[str, ...] = ("udp", "tcp", "tls"),
    hostile: bool = False,
    timeout: float | None = None,
    depth: int = 1,
) -> Case:
    """Register a case; its requirements are the annotations above the calling statement."""
    frame = sys._getframe(depth)
    path, line = frame.f_code.co_filename, frame.f_lineno
    if id in REGISTRY:
        where = "{}:{}".format(*REGISTRY[id].source)
        raise ValueError(f"duplicate case id {id} (already registered at {where})")
    group = Path(path).stem
    entry = Case(
        id=id,
        title=title,
        roles=roles,
        level=level,
        run=run,
        group=group,
        tags=tags,
        etsi=etsi,
        transports=transports,
        hostile=hostile,
        requirements=_annotations_at(path, line),
        source=(path, line),
        timeout=timeout,
    )
    REGISTRY[id] = entry
    return entry


def case(
    id: str, *, roles: tuple[str, ...], level: str = "MUST", **meta: Any
) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    """Decorator form of `register`; the title is the function's docstring's first line."""

    def wrap(func: Callable[[Context], None]) -> Callable[[Context], None]:
        title = (inspect.getdoc(func) or func.__name__).splitlines()[0]
        entry = register(id, func, title=title, roles=roles, level=level, depth=2, **meta)
        entry.source = (entry.source[0], func.__code__.co_firstlineno)
        entry.requirements = _annotations_at(entry.source[0], func.__code__.co_firstlineno)
        return func

    return wrap


@dataclass
class Profile:
    """What the element under test supports and how to drive it (see `conformance.profile`)."""

    name: str = "default"
    user: str = "conformance"
    domain: str = ""
    extensions: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    probe: str = "OPTIONS"
    ringing_user: str = ""
    busy_user: str = ""
    ring_seconds: float = 0.0
    username: str = ""
    password: str = ""
    originate: str = ""
    t1: float = 0.5
    registrar_requires_auth: bool = False
    skip: tuple[str, ...] = ()


class Context:
    """What a case sees: the target, the profile, links, builders, verdict helpers."""

    def __init__(self, entry: Case, target: Target, profile: Profile, deadline: float) -> None:
        self.case = entry
        self.role = entry.roles[0] if entry.roles else "uas"
        self.target = target
        self.profile = profile
        self.deadline = deadline
        self.ladder = Ladder()
        self.links: list[Link | Listener] = []
        self.warnings: list[str] = []
        self.notes: list[str] = []
        # methods the target left entirely unanswered earlier in the run (shared by the
        # runner): later cases needing them end inconclusive at once instead of waiting
        self.silent_methods: set[str] = set()

    # --- links and messages -----------------------------------------------------------------

    def link(self) -> Link:
        try:
            link = Link(self.target, self.ladder, self.deadline)
        except OSError as exc:
            raise Inconclusive(
                f"cannot reach the target over {self.target.transport}: {exc}"
            ) from exc
        self.links.append(link)
        return link

    def listener(self) -> Listener:
        """A UDP socket on loopback for the runner to act as a server (proxy, UAC cases)."""
        listener = Listener(self.ladder, self.deadline)
        self.links.append(listener)
        return listener

    def request(self, method: str, link: Link, **kw: Any) -> Outgoing:
        kw.setdefault("user", self.profile.user)
        return make_request(method, self.target, link.sent_by, **kw)

    def transaction(
        self,
        link: Link,
        req: Outgoing,
        timeout: float | None = None,
        note: str = "",
        learn: bool = True,
    ) -> tuple[Message | None, list[Message]]:
        """Send ``req``; the final response (or None) and the provisional ones before it.

        Over UDP the request is retransmitted (Timer A/E, §17.1.1.2/§17.1.2.2) meanwhile.
        ``timeout`` defaults to 6*T1 (3 s with the usual T1), at least 1 s.
        With ``learn``, a method that gets no response at all is remembered as one the
        target leaves unanswered (pass False when the request is odd on purpose).
        """
        if req.method in self.silent_methods:
            raise Inconclusive(f"the target left {req.method} unanswered earlier in the run")
        data = bytes(req)
        link.send(data, note)
        branch = req.branch
        provisional: list[Message] = []
        retransmit = None if self.target.reliable else (lambda: link.send(data, "retransmission"))
        end = time.monotonic() + (timeout or max(1.0, 6 * self.profile.t1))
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None, provisional
            msg = link.expect(
                lambda m: m.is_response and m.branch == branch,
                timeout=left,
                retransmit=None if provisional else retransmit,
                interval=self.profile.t1,
            )
            if msg is None:
                if learn and not provisional and req.method not in ("ACK", "CANCEL", "BYE"):
                    self.silent_methods.add(req.method)
                return None, provisional
            if (msg.status or 0) >= 200:
                return msg, provisional
            provisional.append(msg)

    def finish_invite(self, link: Link, req: Outgoing, final: Message | None) -> None:
        """ACK a final response to an INVITE, and BYE the call a 2xx set up (best effort)."""
        if final is None or not final.status or final.status < 200:
            return
        link.send(bytes(ack_for(req, final, self.target)), "ACK")
        if final.status < 300:
            bye = bye_for(req, final, self.target)
            link.send(bytes(bye), "BYE (cleanup)")
            link.expect(lambda m: m.is_response and m.branch == bye.branch, timeout=1.0)

    def response_to(self, link: Link, data: bytes, timeout: float = 3.0) -> Message | None:
        """Send raw bytes (a torture message) and wait for any response to them."""
        link.send(data)
        return link.expect(lambda m: m.is_response, timeout=timeout)

    # --- verdicts ---------------------------------------------------------------------------

    def fail(self, expected: str, observed: str, requirement: int = 0, level: str = "") -> None:
        raise Failed(expected, observed, requirement, level)

    def check(
        self, ok: bool, expected: str, observed: str, requirement: int = 0, level: str = ""
    ) -> None:
        if not ok:
            raise Failed(expected, observed, requirement, level)

    def should(self, ok: bool, expected: str, observed: str) -> None:
        """A SHOULD-level check: a deviation is a warning, the case goes on."""
        if not ok:
            self.warnings.append(f"expected {expected}; observed {observed}")

    def inconclusive(self, reason: str) -> None:
        raise Inconclusive(reason)

    def not_applicable(self, reason: str) -> None:
        raise NotApplicable(reason)

    def require_final(self, msg: Message | None, what: str = "a final response") -> Message:
        if msg is None:
            raise Inconclusive(f"the target sent no {what}")
        return msg

    def close(self) -> None:
        for link in self.links:
            link.close()


def describe(msg: Message | None) -> str:
    """``'400 Bad Request'``-style description of a response, or 'no response'."""
    if msg is None:
        return "no response"
    if msg.is_response:
        return f"{msg.status} {msg.reason}".strip()
    return msg.start_line
