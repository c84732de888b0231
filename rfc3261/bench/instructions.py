"""Parser benchmark by instruction count: the "fields" workload under valgrind's callgrind.

The time-based parser benchmark (rfc3261.bench.parse) moves with whatever else the machine
is doing: on a shared machine the same parsers give ratios some 10 % apart from one run to
the next.  Callgrind counts the instructions a process executes, which is the same for the
same interpreter, code and input whatever the load.  For each parser and message, two
processes run under callgrind: one parses and reads the usual fields `iterations` times,
the other does everything but that loop (imports, adapter set-up, one untimed check of the
values read); the difference divided by `iterations` is the cost of one message.

Instructions are not time (a cache miss or a mispredicted branch costs more than an add),
but for code that runs the same interpreter on the same machine they rank alike; the
figures here are the ones to compare across runs and machines of one architecture.
Needs `valgrind` on PATH; the benchmark reports itself unavailable otherwise.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rfc3261.bench import Options, machine_info
from rfc3261.bench.competitors import load_adapters, sipref_reading_only, verify_fields
from rfc3261.bench.messages import MESSAGES

NAME = "parse_instructions"
OURS = "sipref"
ITERATIONS = 2000
QUICK_ITERATIONS = 20
FLOOR = {
    "message": "INVITE",
    "required_ratio": 2.0,
    "rule": "sipref parses the INVITE and reads the usual fields in at most half the "
    "instructions of the cheapest competitor",
}
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _child(adapter_name: str, message_name: str, iterations: int, skipped: str) -> None:
    """The measured process: parse + read the usual fields `iterations` times."""
    (adapter,) = load_adapters([adapter_name])
    message = next(m for m in MESSAGES if m.name == message_name)
    verify_fields(adapter, message)  # also part of the baseline run, so not counted
    parse, read_fields, data = adapter.parse, adapter.read_fields, message.data
    if skipped:
        read_fields = sipref_reading_only(frozenset(skipped.split(",")))
    assert parse is not None and read_fields is not None
    for _ in range(iterations):
        read_fields(parse(data))


def count_instructions(adapter: str, message: str, iterations: int, skipped: str = "") -> int:
    """Instructions executed by one child process (callgrind's "Collected" total)."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        __name__,
        "--child",
        adapter,
        message,
        str(iterations),
        skipped,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run of {adapter} on {message} failed: {done.stderr[-400:]}")
    return int(found.group(1))


def per_message(adapter: str, message: str, iterations: int, skipped: str = "") -> float:
    """Instructions for one parse + read of the usual fields (but `skipped`, comma-separated)."""
    loop = count_instructions(adapter, message, iterations, skipped)
    baseline = count_instructions(adapter, message, 0, skipped)
    return (loop - baseline) / iterations


def run(options: Options, parsers: list[str] | None = None) -> dict[str, Any]:
    """Count every available parser on every message it can parse."""
    iterations = QUICK_ITERATIONS if options.quick else ITERATIONS
    doc: dict[str, Any] = {
        "benchmark": NAME,
        "generated": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "ours": OURS,
        "unit": "instructions per message: parse + read the 8 usual fields (fewer is better)",
        "method": {"tool": "valgrind --tool=callgrind", "iterations": iterations},
        "machine": machine_info(),
        "results": [],
    }
    if shutil.which("valgrind") is None:
        doc["status"] = "unavailable: valgrind is not installed (Debian package valgrind)"
        doc["floor"] = {**FLOOR, "passed": None}
        return doc
    # (parser, message, fields skipped): every parser reads what it can; where a competitor
    # cannot read some fields, sipref is counted once more skipping the same ones.
    cases: list[tuple[str, str, str]] = []
    adapters = load_adapters(parsers)
    for adapter in adapters:
        for message in MESSAGES:
            if adapter.available and message.name not in adapter.unsupported:
                cases.append((adapter.name, message.name, ""))
                if adapter.missing and adapter.competitor:
                    cases.append((OURS, message.name, ",".join(sorted(adapter.missing))))
            else:
                reason = adapter.error or adapter.unsupported.get(message.name, "")
                doc["results"].append(
                    {"parser": adapter.name, "message": message.name, "status": reason}
                )
    competitor = {adapter.name: adapter.competitor for adapter in adapters}
    not_read = {adapter.name: sorted(adapter.missing) for adapter in adapters}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        counts = pool.map(lambda case: per_message(case[0], case[1], iterations, case[2]), cases)
        for (parser, message_name, skipped), instructions in zip(cases, counts, strict=True):
            doc["results"].append(
                {
                    "parser": parser if not skipped else f"{parser} (not reading {skipped})",
                    "message": message_name,
                    "competitor": competitor.get(parser, False),
                    "fields_not_read": skipped.split(",") if skipped else not_read[parser],
                    "instructions": round(instructions),
                }
            )
    doc["floor"] = _floor(doc["results"])
    return doc


def _ratios(results: list[dict[str, Any]], message: str) -> dict[str, tuple[float, float]]:
    """Competitor -> (its instructions / ours reading all fields,
    its instructions / ours reading the same fields as it), on `message`."""
    counted = [r for r in results if r["message"] == message and "instructions" in r]
    ours = {r["parser"]: r["instructions"] for r in counted if not r["competitor"]}
    if OURS not in ours:
        return {}
    ratios = {}
    for r in counted:
        if r["competitor"]:
            skipped = ",".join(r["fields_not_read"])
            same = ours.get(f"{OURS} (not reading {skipped})", ours[OURS])
            ratios[r["parser"]] = (r["instructions"] / ours[OURS], r["instructions"] / same)
    return ratios


def _floor(results: list[dict[str, Any]]) -> dict[str, Any]:
    ratios = _ratios(results, FLOOR["message"])
    if not ratios:
        return {**FLOOR, "passed": None}
    cheapest = min(ratios, key=lambda name: ratios[name][0])
    like = min(ratios, key=lambda name: ratios[name][1])
    return {
        **FLOOR,
        "against": cheapest,
        "ratio": round(ratios[cheapest][0], 3),
        "passed": ratios[cheapest][0] >= FLOOR["required_ratio"],
        "like_for_like": {
            "rule": "the same, sipref reading only the fields each competitor reads",
            "against": like,
            "ratio": round(ratios[like][1], 3),
            "passed": ratios[like][1] >= FLOOR["required_ratio"],
        },
    }


def render(doc: dict[str, Any]) -> str:
    """The terminal table: thousands of instructions per message, and the ratios."""
    lines = ["Parser benchmark by instruction count (callgrind): parse + read the usual fields"]
    if doc.get("status"):
        return "\n".join([*lines, doc["status"]])
    results = doc["results"]
    parsers = list(dict.fromkeys(r["parser"] for r in results))
    lines.append(f"{'parser':<42}" + "".join(f"{m.name:>10}" for m in MESSAGES))
    for parser in parsers:
        cells = []
        for message in MESSAGES:
            found = [r for r in results if r["message"] == message.name and r["parser"] == parser]
            value = found[0].get("instructions") if found else None
            cells.append(f"{value / 1000:>9.0f}k" if value is not None else f"{'-':>10}")
        lines.append(f"{parser:<42}" + "".join(cells))
    lines.append("competitor/ours (all fields; the same fields):")
    for message in MESSAGES:
        ratios = _ratios(results, message.name)
        if ratios:
            shown = ", ".join(f"{n} {a:.2f}x; {b:.2f}x" for n, (a, b) in sorted(ratios.items()))
            lines.append(f"  {message.name:<9} {shown}")
    floor = doc.get("floor", {})
    if floor.get("passed") is not None:
        like = floor["like_for_like"]
        for rule, part in ((floor["rule"], floor), (like["rule"], like)):
            verdict = "PASS" if part["passed"] else "FAIL"
            lines.append(
                f"floor: {rule}: {verdict} ({part['ratio']:.2f}x against {part['against']},"
                f" need {floor['required_ratio']:.1f}x)"
            )
    return "\n".join(lines)


def floors_passed(doc: dict[str, Any]) -> bool | None:
    return doc.get("floor", {}).get("passed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}")
    parser.add_argument("--child", nargs=4, metavar=("ADAPTER", "MESSAGE", "N", "SKIPPED"))
    args = parser.parse_args(argv)
    if args.child:
        adapter, message, iterations, skipped = args.child
        _child(adapter, message, int(iterations), skipped)
        return 0
    parser.error("run it through python -m rfc3261.bench --only parse_instructions")
    return 2


if __name__ == "__main__":
    sys.exit(main())
