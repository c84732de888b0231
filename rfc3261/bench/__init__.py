"""Benchmarks for sipref: `python -m rfc3261.bench` (run by `make bench`).

Each benchmark is a module in this package listed in `rfc3261.bench.__main__.BENCHMARKS`;
it offers `run(options) -> dict` (the JSON document) and `render(doc) -> str` (the terminal
table).  This module holds what they share: the options, machine information, timing with
auto-calibrated rounds, and the JSON writer.  Figures go to docs/_data/bench/<name>.json.
"""

from __future__ import annotations

import contextlib
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "docs" / "_data" / "bench"


@dataclass(frozen=True)
class Options:
    """How long and how often to measure.  `quick` runs a few fixed iterations (tests)."""

    quick: bool = False
    repeat: int = 7
    round_seconds: float = 0.3
    quick_iterations: int = 3
    timer: str = "cpu"
    """"cpu": CPU time of this process (robust on a shared machine); "wall": elapsed time."""


def default_json_path(name: str) -> Path:
    """Where benchmark `name` writes its figures."""
    return DATA_DIR / f"{name}.json"


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "python_build": " ".join(platform.python_build()),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "executable": sys.executable,
    }


TIMERS: dict[str, Callable[[], float]] = {
    "cpu": time.process_time,
    "wall": time.perf_counter,
}
"""The clocks a round can be timed with (Options.timer)."""


def calibrate(
    run: Callable[[int], object],
    round_seconds: float,
    clock: Callable[[], float] = time.process_time,
) -> int:
    """The iteration count for which one call of `run(n)` takes about `round_seconds`."""
    n = 1
    while True:
        start = clock()
        run(n)
        elapsed = clock() - start
        if elapsed >= round_seconds / 10 or n >= 1 << 30:
            break
        n *= 2 if elapsed > round_seconds / 100 else 10
    return max(1, round(n * round_seconds / max(elapsed, 1e-9)))


def measure(run: Callable[[int], object], options: Options) -> dict[str, Any]:
    """Time `options.repeat` rounds of `run(n)`; report the best and the median round."""
    return measure_group([run], options)[0]


def measure_group(runs: list[Callable[[int], object]], options: Options) -> list[dict[str, Any]]:
    """Time the cases in `runs` against each other: each gets its own calibrated n, and
    round k of every case runs before round k+1 of any, so that a burst of load from
    elsewhere on the machine hits all cases alike.  Best and median round per case.

    Rounds are timed with `options.timer` (the other clock is recorded too, as
    `wall_best_s` or `cpu_best_s`).  The garbage collector stays enabled (realistic), but is
    run before each round (not in quick mode) so that one round does not pay for the garbage
    of another.
    """
    clock = TIMERS[options.timer]
    other_name = "wall" if options.timer == "cpu" else "cpu"
    other = TIMERS[other_name]
    if options.quick:
        counts, repeat = [options.quick_iterations] * len(runs), min(options.repeat, 2)
    else:
        counts = [calibrate(run, options.round_seconds, clock) for run in runs]
        repeat = options.repeat
    rounds: list[list[float]] = [[] for _ in runs]
    other_rounds: list[list[float]] = [[] for _ in runs]
    for _ in range(repeat):
        for run, n, times, other_times in zip(runs, counts, rounds, other_rounds, strict=True):
            if not options.quick:
                gc.collect()
            start, other_start = clock(), other()
            run(n)
            times.append(clock() - start)
            other_times.append(other() - other_start)
    results = []
    for n, times, other_times in zip(counts, rounds, other_rounds, strict=True):
        # a CPU clock can tick coarsely: never divide by zero on a very short quick round
        best, median = max(min(times), 1e-9), max(statistics.median(times), 1e-9)
        results.append(
            {
                "iterations": n,
                "rounds": repeat,
                "timer": options.timer,
                "best_s": best,
                "median_s": median,
                "per_s_best": n / best,
                "per_s_median": n / median,
                f"{other_name}_best_s": min(other_times),
            }
        )
    return results


def write_json(doc: dict[str, Any], path: Path) -> Path:
    """Write `doc` as indented JSON, creating the folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


@contextlib.contextmanager
def programs_gc() -> Iterator[None]:
    """The garbage collector tuned as the programs tune it (rfc3261.programs.common)."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def cpu_and_profile(
    step: Callable[[int], object], count: int, profiled: int
) -> tuple[float, list[str]]:
    """Process seconds for ``count`` calls of ``step(n)`` (after 200 warm-up calls, with
    the programs' garbage-collector tuning), then the top of a profile of ``profiled`` more.
    Every call gets a distinct ``n`` (a Call-ID, an AOR)."""
    with programs_gc():
        for n in range(200):
            step(n)
        start = time.process_time()
        for n in range(100_000, 100_000 + count):
            step(n)
        elapsed = time.process_time() - start
        profiler = cProfile.Profile()
        profiler.enable()
        for n in range(10_000_000, 10_000_000 + profiled):
            step(n)
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    return elapsed, profile_lines(out.getvalue())


def profile_lines(text: str) -> list[str]:
    """The table of a printed ``pstats`` report: its header and the rows under it."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.strip().startswith("ncalls"):
            return [entry.rstrip() for entry in lines[index : index + 16] if entry.strip()]
    return []
