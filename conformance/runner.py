"""Runs cases against a target: probe first, then the cases (one at a time, or ``jobs`` side
by side where that cannot change a verdict: `Runner.segments`), each bounded in time.

Before any case the target is probed (OPTIONS, or a whole INVITE call when the profile says
``probe = "INVITE"``); a target that does not answer at all is an error of the run, not a
pile of inconclusive cases.  After every hostile case (torture messages, floods) the same
probe checks the target is still alive: a target that stops answering fails that case.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from conformance.model import (
    DEFAULT_USER,
    Case,
    Context,
    Failed,
    Inconclusive,
    NotApplicable,
    Profile,
    Verdict,
)
from conformance.target import Target
from conformance.wire import CaseTimeout, Ladder, Link

__all__ = ["CaseResult", "NoAnswer", "RunResult", "Runner", "default_jobs", "select_cases"]


def default_jobs(role: str) -> int:
    """How many cases run side by side by default: several where the runner owns both ends
    (a UAC under test is started afresh per case; a proxy serves many), else one (a phone
    under test may hold one call at a time)."""
    return 4 if role in ("uac", "proxy") else 1


class NoAnswer(Exception):
    """The target did not answer the initial probe."""


@dataclass
class CaseResult:
    """The verdict of one case and its evidence."""

    case: Case
    verdict: Verdict
    reason: str = ""
    expected: str = ""
    observed: str = ""
    enforced: int | None = None  # index into case.requirements of the sentence enforced
    warnings: list[str] = field(default_factory=list)
    ladder: Ladder = field(default_factory=Ladder)
    duration: float = 0.0
    alive_after: bool | None = None
    # the control exchange (the same request without the defect): its outcome, and whether
    # it succeeded (None: the case ran no control)
    control: str = ""
    control_ok: bool | None = None
    # the preamble: "ok: <the state it set up>" or "FAILED: ..." ('' = the case has none)
    preamble: str = ""
    # the postamble: one line per clean-up ("ok: ..." or "FAILED: ...")
    postamble: list[str] = field(default_factory=list)
    # what the case says beside its verdict (what it judged, what it had nothing to judge)
    notes: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    target: Target
    role: str
    profile: Profile
    stack: str = ""
    started: float = field(default_factory=time.time)
    duration: float = 0.0
    results: list[CaseResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # about the run itself

    def counts(self) -> dict[str, int]:
        out = {v.value: 0 for v in Verdict}
        for r in self.results:
            out[r.verdict.value] += 1
        return out

    @property
    def ok(self) -> bool:
        return not any(r.verdict in (Verdict.FAIL, Verdict.ERROR) for r in self.results)


def select_cases(
    cases: Iterable[Case],
    role: str | None = None,
    pattern: str | None = None,
    origin: str | None = None,
) -> list[Case]:
    """Cases declared for ``role`` whose id matches the glob(s) ``pattern`` (comma-separated).

    ``origin`` (comma-separated) keeps the cases of those origins only: ``core``, or the
    names of the extensions that ship them.
    """
    globs = [p.strip() for p in (pattern or "*").split(",") if p.strip()]
    wanted = {o.strip() for o in origin.split(",") if o.strip()} if origin else None
    return [
        c
        for c in cases
        if (role is None or role in c.roles)
        and (wanted is None or c.origin in wanted)
        and any(fnmatch.fnmatch(c.id, g) for g in globs)
    ]


class Runner:
    """Runs cases against one target: one after another, or ``jobs`` at a time."""

    def __init__(
        self,
        target: Target,
        role: str,
        profile: Profile,
        *,
        case_timeout: float = 15.0,
        total_timeout: float = 600.0,
        progress: Callable[[int, int, CaseResult], None] | None = None,
        slow: bool = False,
        probe_timeout: float = 4.0,
        jobs: int = 1,
    ) -> None:
        self.target = target
        self.role = role
        self.warnings: list[str] = []
        user = target.user or profile.user
        if not user and role != "uac":
            self.warnings.append(
                f"neither the target URI (sip:USER@host:port) nor the profile names a user: "
                f"every request goes to {DEFAULT_USER!r}, which the target may not know"
            )
        # every request the runner sends addresses this user (--target's wins)
        self.profile = dataclasses.replace(profile, user=user or DEFAULT_USER)
        self.case_timeout = case_timeout
        self.total_timeout = total_timeout
        self.progress = progress
        self.slow = slow
        self.probe_timeout = probe_timeout
        # cases run side by side on this many threads (`segments`); 1: one after another
        self.jobs = max(1, jobs)
        self.probe_ladder = Ladder()
        self.silent_methods: set[str] = set()

    def probe(self, timeout: float | None = None) -> bool:
        """True when the target answers the liveness probe."""
        timeout = timeout or self.probe_timeout
        entry = Case("probe", "liveness probe", (), "MUST", lambda ctx: None, "probe")
        ctx = Context(entry, self.target, self.profile, time.monotonic() + timeout + 2)
        ctx.ladder = self.probe_ladder
        try:
            link = ctx.link()
            if self.role == "proxy":
                return self._probe_proxy(ctx, link, timeout)
            req = ctx.request(self.profile.probe, link)
            final, _ = ctx.transaction(link, req, timeout=timeout, note="liveness probe")
            if self.profile.probe == "INVITE":
                ctx.finish_invite(link, req, final)
            return final is not None
        except (Inconclusive, CaseTimeout, OSError):
            return False
        finally:
            ctx.close()

    def _probe_proxy(self, ctx: Context, link: Link, timeout: float) -> bool:
        """A proxy is alive when an OPTIONS through it to the runner comes back answered."""
        from conformance.cases.proxy import answer_downstream

        down = ctx.listener()
        if self.profile.local_route:
            # every request goes through the proxy's local route (§16.6 step 5): answer there
            from conformance.sipmsg import uri_host_port
            from conformance.wire import Listener

            host, port = uri_host_port(self.profile.local_route)
            down = Listener(ctx.ladder, ctx.deadline, host, port or 5060)
            ctx.links.append(down)
        req = ctx.request("OPTIONS", link, uri=f"sip:probe@{down.hostport}")
        link.send(bytes(req), "liveness probe")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = down.expect(lambda m: m.method == "OPTIONS", timeout=0.05)
            if got is not None:
                answer_downstream(down, got)
            if link.expect(lambda m: m.is_response and (m.status or 0) >= 200, timeout=0.05):
                return True
        return False

    def run(self, cases: list[Case]) -> RunResult:
        """Probe, then run ``cases``; raises `NoAnswer` when the first probe gets nothing."""
        result = RunResult(self.target, self.role, self.profile, warnings=list(self.warnings))
        start = time.monotonic()
        # a UAC under test is driven by the profile's originate command; nothing to probe
        if self.role != "uac" and not self.probe():
            raise NoAnswer(
                f"the target {self.target} did not answer {self.profile.probe} "
                "(is it running, and listening on that transport?)"
            )
        self._dead = False
        results: list[CaseResult | None] = [None] * len(cases)
        done = 0
        lock = threading.Lock()

        def run_lane(lane: list[int]) -> None:
            nonlocal done
            for index in lane:
                res = self._next(cases[index], start)
                with lock:
                    results[index] = res
                    done += 1
                    if self.progress:
                        self.progress(done, len(cases), res)

        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            for segment in self.segments(cases):
                if len(segment) == 1:  # one lane (jobs 1, a case run alone): on this thread
                    run_lane(segment[0])
                    continue
                # a segment's lanes run side by side; the next segment waits for them all
                futures = [pool.submit(run_lane, lane) for lane in segment]
                try:
                    for future in futures:
                        future.result()
                except BaseException:  # Ctrl-C, a broken progress pipe: start no more lanes
                    pool.shutdown(cancel_futures=True)
                    raise
        result.results = [r for r in results if r is not None]
        result.duration = time.monotonic() - start
        return result

    def segments(self, cases: list[Case]) -> list[list[list[int]]]:
        """The order ``cases`` run in: segments one after another, each a list of lanes (the
        indices of cases run one after another) that run side by side on ``jobs`` threads.

        With ``jobs`` 1 there is one lane.  A case that runs alone (``serial="alone"``; a
        hostile one, which may take the target down) is a segment of its own at its place;
        cases naming the same ``serial`` share a lane; so do all registrar and redirect
        cases (they register the same address-of-record)."""
        if self.jobs <= 1:
            return [[list(range(len(cases)))]] if cases else []
        out: list[list[list[int]]] = []
        lanes: dict[str, list[int]] = {}
        for index, entry in enumerate(cases):
            if self.alone(entry):
                if lanes:
                    out.append(list(lanes.values()))
                out.append([[index]])
                lanes = {}
                continue
            # a registrar's or redirect server's cases register the same address-of-record
            shared = self.role in ("registrar", "redirect")
            key = entry.serial or (self.role if shared else entry.id)
            lanes.setdefault(key, []).append(index)
        if lanes:
            out.append(list(lanes.values()))
        return out

    def alone(self, entry: Case) -> bool:
        """Whether ``entry`` runs with no other case beside it (and teaches later cases
        which methods the target leaves unanswered)."""
        return entry.serial == "alone" or (entry.hostile and self.role != "uac")

    def _next(self, entry: Case, start: float) -> CaseResult:
        """Run ``entry`` unless the run's time is up or the target went silent (a hostile
        case took it down): then it is inconclusive."""
        if time.monotonic() - start > self.total_timeout:
            return CaseResult(entry, Verdict.INCONCLUSIVE, "the run's total time limit passed")
        if self._dead and not self.probe(timeout=min(2.0, self.probe_timeout)):
            return CaseResult(entry, Verdict.INCONCLUSIVE, "the target no longer answers")
        self._dead = False
        res = self.run_case(entry)
        if (
            self.role != "uac"
            and entry.hostile
            and res.verdict not in (Verdict.NOT_APPLICABLE, Verdict.ERROR)
        ):
            retry = min(2.0, self.probe_timeout)
            res.alive_after = self.probe() or self.probe(timeout=retry)
            if not res.alive_after:
                self._dead = True
                res.verdict = Verdict.FAIL
                res.expected = "the target still answers after the hostile message"
                res.observed = f"no answer to {self.profile.probe} afterwards"
                res.reason = res.expected + "; " + res.observed
                res.enforced = 0
        return res

    def run_case(self, entry: Case) -> CaseResult:
        """One case, with its verdict; never raises."""
        if self.target.transport not in entry.transports:
            return CaseResult(
                entry, Verdict.NOT_APPLICABLE, f"not over {self.target.transport.upper()}"
            )
        if "slow" in entry.tags and not self.slow:
            return CaseResult(entry, Verdict.NOT_APPLICABLE, "a slow case (run with --slow)")
        if any(fnmatch.fnmatch(entry.id, g) for g in self.profile.skip):
            return CaseResult(entry, Verdict.NOT_APPLICABLE, "the profile rules it out")
        limit = entry.timeout or self.case_timeout
        began = time.monotonic()
        ctx = Context(entry, self.target, self.profile, began + limit)
        ctx.role = self.role
        ctx.silent_methods = self.silent_methods
        ctx.learns = self.alone(entry)
        res = CaseResult(entry, Verdict.PASS, ladder=ctx.ladder)
        try:
            entry.run(ctx)
            if ctx.warnings:
                res.verdict = Verdict.WARN
                res.reason = ctx.warnings[0]
        except Failed as exc:
            level = exc.level or entry.level
            res.verdict = Verdict.FAIL if level == "MUST" else Verdict.WARN
            res.expected, res.observed = exc.expected, exc.observed
            res.enforced = exc.requirement if entry.requirements else None
            res.reason = str(exc)
        except Inconclusive as exc:
            res.verdict, res.reason = Verdict.INCONCLUSIVE, str(exc)
        except NotApplicable as exc:
            res.verdict, res.reason = Verdict.NOT_APPLICABLE, str(exc)
        except CaseTimeout:
            res.verdict = Verdict.INCONCLUSIVE
            res.reason = f"the case's time limit ({limit:g} s) passed"
        except Exception as exc:  # the runner's own fault: report it, keep going
            res.verdict = Verdict.ERROR
            res.reason = f"{type(exc).__name__}: {exc}"
            res.observed = traceback.format_exc(limit=-4)
        finally:
            try:
                res.postamble = ctx.teardown()
            except Exception as exc:  # the postamble never decides a verdict
                res.postamble = [f"FAILED: {type(exc).__name__}: {exc}"]
            ctx.close()
        res.control, res.control_ok = ctx.control_outcome, ctx.control_ok
        res.preamble = ctx.preamble_outcome
        res.warnings = ctx.warnings
        res.notes = ctx.notes
        res.duration = time.monotonic() - began
        return res
