"""The hostile-message soak of issue 13: our programs under malformed requests.

Seeded malformed requests (rfc3261/tests/soak_support.py), each INVITE followed by
its CANCEL and every non-2xx final by its ACK, go unpaced over UDP and TCP to the
ua (ringing), the proxy and the registrar, each a subprocess on 127.0.0.1, with a
liveness OPTIONS after each case.  Each check is its own test, so one defect fails
one test.  The short form (a fixed seed, a few hundred cases, under ~60 s for the
three programs) runs in ``make test``; ``make fuzz`` (``SIPREF_FUZZ=1``) sends
thousands, checks that a second round reuses the memory of the first once every
timer has fired (RSS) and writes its figures to
docs/_data/bench/soak.json (generated, never committed).
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from rfc3261.tests.soak_support import (
    REPO,
    Outcome,
    Program,
    Run,
    Sink,
    Target,
    make_cases,
    program_args,
    read_answer,
    soak,
    tracebacks,
    warm_up,
    write_figures,
)

FUZZ = bool(os.environ.get("SIPREF_FUZZ"))
SEED = 13
PROGRAMS = ("ua", "proxy", "registrar")
# Cases per transport, and the wall-clock budget of one run: the short form keeps the
# three programs under a minute; the long form is bounded by its count.
CASES = {"UDP": 5000, "TCP": 800} if FUZZ else {"UDP": 1000, "TCP": 120}
RUN_BUDGET = {"UDP": 300.0, "TCP": 120.0} if FUZZ else {"UDP": 12.0, "TCP": 6.0}
# Timer B/F/H/J are 64*T1 = 32 s (§17): past them nothing a case started is left.
TIMERS_FIRED = 40.0
FIGURES = REPO / "docs" / "_data" / "bench" / "soak.json"


@dataclass(repr=False)
class Soaked:
    """One program after its soak: the runs, its process and RSS figures."""

    program: Program
    runs: list[Run] = field(default_factory=list)
    baseline_kb: int = 0
    peak_kb: int = 0
    after_timers_kb: int | None = None
    second_round_kb: int | None = None
    sink: Sink | None = None
    ended: float = 0.0

    def __repr__(self) -> str:
        return f"<Soaked {self.program.name}: {[run.figures() for run in self.runs]}>"

    def outcomes(self) -> Iterator[Outcome]:
        for run in self.runs:
            yield from run.outcomes

    def listing(self, outcomes: list[Outcome], limit: int = 8) -> str:
        """A few failing cases, enough to reproduce one (mutation, first bytes)."""
        shown = []
        for outcome in outcomes[:limit]:
            case = outcome.case
            answers = ", ".join(a.first_line + " / " + a.cseq_method for a in outcome.answers)
            shown.append(
                f"#{case.number} {case.mutation} [{outcome.verdict()}] answers: {answers}\n"
                f"    {case.request[:300]!r}"
            )
        return f"{len(outcomes)} case(s):\n" + "\n".join(shown)


@pytest.fixture(scope="module")
def soaked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Soaked]]:
    """Every program started, soaked over UDP then TCP, and left running for the checks."""
    sink = Sink()
    results: dict[str, Soaked] = {}
    try:
        for name in PROGRAMS:
            workdir = tmp_path_factory.mktemp(f"soak-{name}")
            program = Program(name, program_args(name, workdir, sink.port), workdir)
            item = results[name] = Soaked(program, sink=sink)
            assert warm_up(program) > 0, program.log_text()
            item.baseline_kb = program.rss_kb()
            for transport in ("UDP", "TCP"):
                count, deadline = CASES[transport], time.monotonic() + RUN_BUDGET[transport]
                run = soak(program, transport, count, SEED, sink=sink, deadline=deadline)
                item.runs.append(run)
                if program.alive():
                    item.peak_kb = max(item.peak_kb, program.rss_kb())
            item.ended = time.monotonic()
        runs = [run for item in results.values() for run in item.runs]
        print("\nsoak:", *(run.figures() for run in runs), sep="\n  ")
        yield results
    finally:
        for item in results.values():
            item.program.stop()
        sink.close()


# -- the generator -------------------------------------------------------------------------


def test_the_cases_are_seeded_and_cover_the_mutations() -> None:
    target = Target("proxy", "UDP", 5060, 40000)
    first = make_cases(target, SEED, 400, "t")
    again = make_cases(target, SEED, 400, "t")
    assert [c.mutation for c in first] == [c.mutation for c in again]
    families = Counter(m.split(":")[0] for c in first for m in c.mutation.split("+"))
    for family in ("bytes", "value", "oversized", "utf8", "nul", "duplicate", "missing",
                   "crlf", "line", "via"):  # fmt: skip
        assert families[family] > 0, family
    assert any(len(c.request) > 50_000 for c in first)
    assert any(b"\x00" in c.request for c in first)
    assert all(c.cancel is not None for c in first if c.method == "INVITE")
    # Only loopback: every top Via the cases carry names 127.0.0.1, whatever else broke.
    for case in first:
        via = re.search(rb"\nVia: SIP/[^ ]* ([^:;\r\n]*)", case.request)
        assert via is None or via.group(1) == b"127.0.0.1", case.mutation


def test_answers_are_read_leniently() -> None:
    answer = read_answer(
        b"SIP/2.0 400 Bad\r\nv: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKx\r\nCSeq: 1 \xffACK\r\n\r\n",
        0.0,
    )
    assert answer is not None and answer.status == 400 and answer.branch == "z9hG4bKx"
    assert read_answer(b"ACK sip:a@b SIP/2.0\r\n\r\n", 0.0) is None


# -- the checks: one test per program and check ------------------------------------------


def test_every_liveness_probe_is_answered(soaked: dict[str, Soaked], program: str) -> None:
    """Alive and answering OPTIONS after every case."""
    item = soaked[program]
    lost = [o for o in item.outcomes() if not o.probe_answered]
    assert item.program.alive(), item.program.log_text()[-2000:]
    assert sum(len(run.outcomes) for run in item.runs) >= CASES["TCP"]
    assert not lost, item.listing(lost)


def test_no_traceback_in_the_log(soaked: dict[str, Soaked], program: str) -> None:
    """No unhandled exception logged (issue 13, defect 3: the ua's lazy Contact parse)."""
    found = tracebacks(soaked[program].program.log_text())
    assert not found, f"{len(found)} traceback(s), the first:\n" + "\n".join(found[:1])


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##= type=test
##% If the message is a request, the
##% element SHOULD generate a 400 (Bad Request) response.
def test_every_request_with_a_readable_via_is_answered(
    soaked: dict[str, Soaked], program: str
) -> None:
    """400/505 or the RFC's answer whenever Via and CSeq read (issue 13, defects 2, 9)."""
    silent = [o for o in soaked[program].outcomes() if o.verdict() in ("silent", "closed")]
    assert not silent, soaked[program].listing(silent)


##= https://www.rfc-editor.org/rfc/rfc3261#section-17
##= type=test
##% The client transaction is also responsible for receiving responses
##% and delivering them to the TU, filtering out any response
##% retransmissions or disallowed responses (such as a response to ACK).
def test_no_response_to_any_ack(soaked: dict[str, Soaked], program: str) -> None:
    """Not even a 400 to an ACK that does not parse (issue 13, defect 1)."""
    answered = [o for o in soaked[program].outcomes() if o.to_ack()]
    assert not answered, soaked[program].listing(answered)
    # answers that lost both branch and Call-ID to the damage still name their method
    stray = [a for run in soaked[program].runs for a in run.stray if a.cseq_method == "ACK"]
    assert not stray, stray[:5]


# What may answer a CANCEL: 200 or 481 (§9.2), a proxy's own 200 (§16.10), or a
# complaint about the CANCEL itself (its syntax, 4xx, or a server error, 5xx); never
# an answer meant for a new request (405, 404, 480, 486...).
CANCEL_SYNTAX = {400, 413, 414, 416, 420, 481, 483}


##= https://www.rfc-editor.org/rfc/rfc3261#section-9.2
##= type=test
##% If the UAS did not find a matching transaction for the CANCEL
##% according to the procedure above, it SHOULD respond to the CANCEL
##% with a 481 (Call Leg/Transaction Does Not Exist).
def test_cancel_is_answered_as_a_cancel(soaked: dict[str, Soaked], program: str) -> None:
    """CANCEL gets 200/481, never a new request's answer (issue 13, defect 6)."""
    wrong = [
        o
        for o in soaked[program].outcomes()
        if any(
            a.cseq_method == "CANCEL"
            and a.status >= 200
            and not (a.status < 300 or a.status >= 500 or a.status in CANCEL_SYNTAX)
            for a in o.answers
        )
    ]
    assert not wrong, soaked[program].listing(wrong)


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% The server transaction MUST generate a 100
##% (Trying) response unless it knows that the TU will generate a
##% provisional or final response within 200 ms
def test_no_100_after_a_final_response(soaked: dict[str, Soaked], program: str) -> None:
    """A 100 (Trying) never follows the final response (issue 13, defect 5)."""
    late = [o for o in soaked[program].outcomes() if o.hundred_after_final()]
    assert not late, soaked[program].listing(late)


# Why not "RSS back to the baseline": once every timer has fired, the memory Python
# holds is back within ~10 % of where it started (tracemalloc inside the programs after
# 3000 UDP cases: registrar 9.4 -> 10.3 MB, proxy 9.7 -> 10.8 MB, the rest free lists
# and table sizes; test_hostile_servers holds that bar in process).  RSS is not: during
# the run each completed transaction keeps its up-to-60 kB request for 64*T1 (~40 MB
# of Python objects at the peak), and once they are freed the allocators keep the
# pages (glibc's heap, pymalloc's partly used arenas).  Registrar, 3000 UDP cases:
# RSS 29.8 -> 62.7 MB, 61.9 MB after the timers, 64.1 MB after a second round; proxy
# 30.2 -> 68.6, 67.6, 71.4 MB.  What can be asserted honestly is that the
# memory is reused: a second round of the same size does not grow RSS beyond the
# first round's plateau by more than 20 %.
@pytest.mark.skipif(
    not FUZZ, reason="two more rounds of waiting for every 32 s timer: SIPREF_FUZZ=1 (make fuzz)"
)
def test_rss_does_not_grow_round_after_round(soaked: dict[str, Soaked], program: str) -> None:
    """A second UDP round leaves RSS within 20 % of the first's plateau (issue 13, defect 8)."""
    item = soaked[program]
    time.sleep(max(0.0, item.ended + TIMERS_FIRED - time.monotonic()))
    assert item.program.alive()
    plateau_kb = item.after_timers_kb = item.program.rss_kb()
    deadline = time.monotonic() + RUN_BUDGET["UDP"]
    soak(item.program, "UDP", CASES["UDP"], SEED + 1, sink=item.sink, deadline=deadline)
    time.sleep(TIMERS_FIRED)
    assert item.program.alive()
    now_kb = item.second_round_kb = item.program.rss_kb()
    assert now_kb <= plateau_kb * 1.2, (
        f"RSS {now_kb} kB after a second round and its timers; after the first "
        f"{plateau_kb} kB; baseline {item.baseline_kb} kB, peak {item.peak_kb} kB"
    )


def test_cases_per_second_are_reported(soaked: dict[str, Soaked]) -> None:
    runs = [run for item in soaked.values() for run in item.runs]
    assert all(run.cases_per_second > 0 for run in runs)
    assert {(run.program, run.transport) for run in runs} == {
        (p, t) for p in PROGRAMS for t in ("UDP", "TCP")
    }
    if FUZZ:
        rss = {
            name: {
                "baseline_kb": item.baseline_kb,
                "peak_kb": item.peak_kb,
                "after_timers_kb": item.after_timers_kb,
                "second_round_kb": item.second_round_kb,
            }
            for name, item in soaked.items()
        }
        write_figures(FIGURES, runs, {"seed": SEED, "rss": rss})
        assert FIGURES.is_file()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "program" in metafunc.fixturenames:
        metafunc.parametrize("program", PROGRAMS)
