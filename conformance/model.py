"""Cases, verdicts and the context a case runs in.

A case is a function ``case(ctx: Context) -> None`` registered with `case` (or `register`
for table-driven ones).  It talks to the target through ``ctx`` and ends by returning (pass)
or by raising: `Failed` via ``ctx.fail``/``ctx.check``, `Inconclusive`, `NotApplicable`.
The RFC sentences it verifies are its ``##=``/``##%`` annotations, read from the source file
at registration (the same ones `python -m annotate check` verifies).
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from conformance.messages import Outgoing, ack_for, bye_for, make_request
from conformance.sipmsg import Message
from conformance.target import Target
from conformance.wire import CaseTimeout, Ladder, Link, Listener

__all__ = [
    "DEFAULT_USER",
    "REGISTRY",
    "ROLES",
    "Case",
    "Context",
    "Dialog",
    "Failed",
    "Inconclusive",
    "NotApplicable",
    "Requirement",
    "Verdict",
    "case",
    "register",
]

ROLES = ("uas", "uac", "registrar", "proxy", "redirect")
#: The user requests go to when neither ``--target sip:USER@...`` nor the profile names one.
DEFAULT_USER = "conformance"


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
    # the state the case needs before its exchange (a registered user, a dialog...); the
    # case establishes it with ``ctx.preamble(...)``: a failure there is inconclusive
    preamble: str = ""
    # why the case runs no control: its verdict cannot be confounded by the target turning
    # the request down for another reason ('' = it runs one, `Context.control`)
    no_control: str = ""
    # how the case may run beside others (runner --jobs): '' = freely; "alone" = with no
    # other case running, at its place in the order (timers measured on the wire, state it
    # learns for later cases); another name = one after another with the cases of that name
    serial: str = ""


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
    preamble: str = "",
    no_control: str = "",
    serial: str | None = None,
    depth: int = 1,
) -> Case:
    """Register a case; its requirements are the annotations above the calling statement.

    ``serial`` defaults to the module's ``SERIAL`` (see `Case.serial`)."""
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
        preamble=preamble,
        no_control=no_control,
        serial=frame.f_globals.get("SERIAL", "") if serial is None else serial,
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
class Dialog:
    """A call a case set up (a 2xx to its INVITE): the postamble hangs it up."""

    link: Link
    invite: Outgoing
    answer: Message
    cseq: int  # the highest CSeq the runner used in it
    ended: bool = False


@dataclass
class Profile:
    """What the element under test supports and how to drive it (see `conformance.profile`)."""

    name: str = "default"
    user: str = ""  # '' = not given: the runner uses --target's user, else "conformance"
    domain: str = ""
    extensions: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    probe: str = "OPTIONS"
    ringing_user: str = ""
    busy_user: str = ""
    ring_seconds: float = 0.0
    username: str = ""
    password: str = ""
    # [credentials] of a second user whose name and password are not ASCII (RFC 7616 §4)
    international_username: str = ""
    international_password: str = ""
    originate: str = ""
    t1: float = 0.5
    registrar_requires_auth: bool = False
    skip: tuple[str, ...] = ()
    # [uac]: the command making the target send each kind of request (`conformance.trigger`
    # names the kinds), and "wait for the tester to dial" for the kinds without one
    triggers: dict[str, str] = field(default_factory=dict)
    dial: bool = False
    dial_timeout: float = 60.0
    # a proxy's Timer C (§16.6 step 11) in seconds when short enough to observe; 0: it is not
    timer_c: float = 0.0
    # a user whose calls the target answers and then ends itself with a BYE about
    # ``hangup_after`` seconds later (§15): the dialog-state cases judge that BYE
    hangup_user: str = ""
    hangup_after: float = 1.0
    # a user whose calls the target answers and then re-INVITEs (puts on hold) after
    # ``hangup_after`` seconds (§14.1): the glare case (§14.2) meets that re-INVITE
    hold_user: str = ""
    # the target is a stateless UAS (§8.2.7): no transactions, no retransmissions
    stateless: bool = False
    # the DNS server the target resolves names with ("127.0.0.1:PORT"): the RFC 3263 proxy
    # cases serve their zone there ('' = none: they are not applicable)
    dns: str = ""
    # certificate and key (PEM files) the runner's TLS listeners serve, e.g. a downstream
    # UAS behind a proxy reached over TLS (§16.6); the target must trust the certificate
    tls_cert: str = ""
    tls_key: str = ""
    # a proxy's local route set (§16.6 step 5), a URI with ;lr naming a socket the runner
    # binds to receive what the proxy forwards (empty: the proxy has none)
    local_route: str = ""


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
        # ... learned by cases that run alone (`Case.serial`); the others keep what they
        # learn to themselves, so no verdict depends on which cases ran beside which
        self.learns = True
        self.unanswered: set[str] = set()
        # what the case created, for the postamble (`teardown`): calls set up by a 2xx,
        # INVITEs left ringing, other clean-ups (an un-REGISTER...) as (label, action) pairs
        self.dialogs: list[Dialog] = []
        self.ringing: list[tuple[Link, Outgoing]] = []
        self.cleanups: list[tuple[str, Callable[[], bool]]] = []
        # the control exchange: what it was and how it went (None: the case has none)
        self.control_outcome = ""
        self.control_ok: bool | None = None
        # the preamble: the state it established (or why it could not), '' without one
        self.preamble_outcome = ""

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

    @property
    def user(self) -> str:
        """The target's user: --target's, else the profile's, else `DEFAULT_USER`."""
        return self.target.user or self.profile.user or DEFAULT_USER

    def request(self, method: str, link: Link, **kw: Any) -> Outgoing:
        kw.setdefault("user", self.user)
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
        if req.method in self.silent_methods or req.method in self.unanswered:
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
                if provisional and req.method == "INVITE":
                    self.ringing.append((link, req))
                return None, provisional
            msg = link.expect(
                lambda m: (
                    m.is_response
                    and (
                        m.branch == branch
                        if branch
                        # a request without branch (an RFC 2543 one): matched by Call-ID and CSeq
                        else m.call_id == req.call_id and m.cseq == (req.cseq_number, req.method)
                    )
                ),
                timeout=left,
                retransmit=None if provisional else retransmit,
                interval=self.profile.t1,
            )
            if msg is None:
                if learn and not provisional and req.method not in ("ACK", "CANCEL", "BYE"):
                    (self.silent_methods if self.learns else self.unanswered).add(req.method)
                if provisional and req.method == "INVITE":
                    self.ringing.append((link, req))
                return None, provisional
            if (msg.status or 0) >= 200:
                self._track(link, req, msg)
                return msg, provisional
            provisional.append(msg)

    # --- what a case creates, and the postamble that tears it down ----------------------------

    def _track(self, link: Link, req: Outgoing, final: Message) -> None:
        """Note the calls a request set up or ended, and the highest CSeq used in each."""
        status = final.status or 0
        if self.role == "proxy":
            # the runner plays both ends behind a proxy: its cases end their own calls
            return
        if req.method == "INVITE" and 200 <= status < 300:
            if self.dialog_of(req.call_id) is None:
                self.dialogs.append(Dialog(link, req, final, req.cseq_number))
            return
        dialog = self.dialog_of(req.call_id)
        if dialog is None or req.get("To") is None or "tag=" not in (req.get("To") or ""):
            return
        dialog.cseq = max(dialog.cseq, req.cseq_number)
        if req.method == "BYE" and (200 <= status < 300 or status == 481):
            dialog.ended = True

    def dialog_of(self, call_id: str) -> Dialog | None:
        """The call (set up in this case) with that Call-ID, if any."""
        for dialog in self.dialogs:
            if dialog.invite.call_id == call_id:
                return dialog
        return None

    def call(self, link: Link, req: Outgoing, final: Message) -> Dialog:
        """The call a 2xx to ``req`` set up (tracked for the postamble)."""
        dialog = self.dialog_of(req.call_id)
        if dialog is None:
            dialog = Dialog(link, req, final, req.cseq_number)
            self.dialogs.append(dialog)
        return dialog

    def hang_up(self, dialog: Dialog, note: str = "BYE (cleanup)") -> Message | None:
        """BYE the call with a CSeq above every one used in it (§12.2.1.1); its response.

        The call counts as ended on a 2xx or a 481 (it was gone already)."""
        bye = bye_for(dialog.invite, dialog.answer, self.target)
        dialog.cseq += 1
        bye.set("CSeq", f"{dialog.cseq} BYE")
        dialog.link.send(bytes(bye), note)
        got = dialog.link.expect(
            lambda m: m.is_response and m.branch == bye.branch and (m.status or 0) >= 200,
            timeout=max(1.0, 4 * self.profile.t1),
            retransmit=None if self.target.reliable else (lambda: dialog.link.send(bytes(bye))),
            interval=self.profile.t1,
        )
        status = got.status or 0 if got is not None else 0
        if 200 <= status < 300 or status == 481:
            dialog.ended = True
        return got

    def finish_invite(self, link: Link, req: Outgoing, final: Message | None) -> None:
        """ACK a final response to an INVITE, and hang up the call a 2xx set up."""
        if final is None or not final.status or final.status < 200:
            return
        link.send(bytes(ack_for(req, final, self.target)), "ACK")
        if final.status < 300:
            self.hang_up(self.call(link, req, final))

    def on_teardown(self, label: str, action: Callable[[], bool]) -> None:
        """Register a clean-up for the postamble; ``action`` returns True when it worked."""
        self.cleanups.append((label, action))

    def teardown(self) -> list[str]:
        """The postamble: end every call, ringing INVITE and binding the case left behind.

        Returns one line per clean-up with its outcome; never raises."""
        done: list[str] = []
        for link in self.links:
            # the case's own deadline may have passed: give the postamble time of its own
            link.deadline = max(link.deadline, time.monotonic() + 8 * max(self.profile.t1, 0.5))
        for link, invite in self.ringing:
            done.append(self._cancel(link, invite))
        for dialog in self.dialogs:
            if dialog.ended:
                continue
            try:
                dialog.link.send(bytes(ack_for(dialog.invite, dialog.answer, self.target)), "ACK")
                got = self.hang_up(dialog, "BYE (postamble)")
            except (OSError, CaseTimeout):
                got = None
            done.append(("ok: " if dialog.ended else "FAILED: ") + f"BYE {describe(got)}")
        for label, action in self.cleanups:
            try:
                ok = action()
            except (OSError, CaseTimeout, Inconclusive, Failed):
                ok = False
            done.append(("ok: " if ok else "FAILED: ") + label)
        return done

    def _cancel(self, link: Link, invite: Outgoing) -> str:
        """CANCEL an INVITE left ringing; ACK its final response, BYE a 2xx that crossed."""
        cancel = Outgoing("CANCEL", invite.uri)
        for name in ("Via", "Max-Forwards", "From", "To", "Call-ID"):
            cancel.add(name, invite.get(name) or "")
        cancel.add("CSeq", f"{invite.cseq_number} CANCEL")
        try:
            link.send(bytes(cancel), "CANCEL (postamble)")
            end = time.monotonic() + max(2.0, 8 * self.profile.t1)
            while (left := end - time.monotonic()) > 0:
                got = link.expect(
                    lambda m: (
                        m.is_response and m.branch == invite.branch and (m.status or 0) >= 200
                    ),
                    timeout=left,
                )
                if got is None:
                    break
                if got.cseq[1] == "CANCEL":
                    if got.status == 481:  # the INVITE had ended already
                        return "ok: CANCEL -> 481, the INVITE had ended"
                    continue
                self.finish_invite(link, invite, got)
                dialog = self.dialog_of(invite.call_id)
                ok = dialog is None or dialog.ended
                return ("ok: " if ok else "FAILED: ") + f"CANCEL, the INVITE ended {describe(got)}"
            return "FAILED: CANCEL, no final response to the INVITE"
        except (OSError, CaseTimeout):
            return "FAILED: CANCEL"

    # --- the control exchange -------------------------------------------------------------

    def control(
        self,
        link: Link,
        req: Outgoing,
        also: Callable[[int], bool] | None = None,
        what: str = "",
    ) -> Message:
        """Run the control: the same exchange without the defect; it must succeed (2xx, a 3xx
        from a redirect server, or a status ``also`` accepts), else the case is inconclusive
        with its outcome as reason."""

        def exchange() -> tuple[Message | None, bool]:
            final, _ = self.transaction(link, req, note="control", learn=False)
            if req.method == "INVITE":
                self.finish_invite(link, req, final)
            status = final.status or 0 if final is not None else 0
            # a redirect server's success is its redirection (RFC 3261 §8.3)
            redirected = self.role == "redirect" and 300 <= status < 400
            return final, 200 <= status < 300 or redirected or (also is not None and also(status))

        what = what or f"the control {req.method} (the request without the defect)"
        return self.controlled(req.method, exchange, what)

    def controlled(
        self, label: str, exchange: Callable[[], tuple[Message | None, bool]], what: str
    ) -> Message:
        """Run a control ``exchange`` of one's own (a REGISTER answering a challenge, a request
        through a proxy...): it returns the final response and whether that is a success.
        Its outcome is recorded; when it did not succeed the case is inconclusive."""
        try:
            final, ok = exchange()
        except (Inconclusive, Failed) as exc:
            self.control_outcome, self.control_ok = f"{label}: {exc}", False
            raise Inconclusive(f"{what}: {exc}") from exc
        self.control_outcome = f"{label} -> {describe(final)}"
        self.control_ok = ok and final is not None
        if not ok or final is None:
            raise Inconclusive(f"{what} got {describe(final)}")
        return final

    # --- the preamble -----------------------------------------------------------------------

    @contextlib.contextmanager
    def preamble(self, what: str) -> Iterator[None]:
        """Establish the state the case needs (``what``: a confirmed dialog, a binding...).

        Whatever goes wrong inside (no answer, a refusal, even a check) is no verdict on the
        case: it ends inconclusive, naming the preamble."""
        try:
            yield
        except (Inconclusive, Failed) as exc:
            self.preamble_outcome = f"FAILED: {what}: {exc}"
            raise Inconclusive(f"the preamble ({what}) failed: {exc}") from exc
        self.preamble_outcome = f"ok: {what}"

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

    def require_final(self, msg: Message | None, what: str = "final response") -> Message:
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
