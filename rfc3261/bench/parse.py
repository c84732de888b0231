"""Parser benchmark: sipref's message parser against other Python SIP parsers.

For each parser, message (rfc3261.bench.messages) and workload, `repeat` rounds of N
iterations (N calibrated to about `round_seconds` a round) are timed in this one process;
the best and median rounds give messages per second.  Before timing, each parser's reads
and output are checked against the expected values, so no parser is timed doing less work.

Workloads:
  parse      parse only (lazy parsers do little here; not a fair comparison on its own)
  fields     parse, then read the 8 usual fields (top Via branch, From tag, To tag, Call-ID,
             CSeq number and method, Contact URI host, Content-Length, body)
  serialize  parse, then serialize the unmodified message
  add-via    parse, prepend a Via (as a proxy does), then serialize
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from itertools import repeat
from typing import Any

from rfc3261.bench import Options, machine_info, measure_group
from rfc3261.bench.competitors import (
    FIELDS,
    PROXY_VIA,
    Adapter,
    load_adapters,
    verify_fields,
    verify_serialization,
)
from rfc3261.bench.messages import MESSAGES, BenchMessage

NAME = "parse"
OURS = "sipref"
WORKLOADS: dict[str, str] = {
    "parse": "parse only",
    "fields": "parse + read the 8 usual fields",
    "serialize": "parse + serialize",
    "add-via": "parse + prepend a Via + serialize",
}
FLOOR = {
    "message": "INVITE",
    "workload": "fields",
    "required_ratio": 2.0,
    "rule": "sipref parses the INVITE and reads the usual fields at least 2x as fast as "
    "the fastest competitor",
}


def workload_loop(adapter: Adapter, workload: str, data: bytes) -> Callable[[int], None]:
    """The timed function: `run(n)` does the workload n times on `data`."""
    parse = adapter.parse
    assert parse is not None
    if workload == "parse":

        def run(n: int) -> None:
            for _ in repeat(None, n):
                parse(data)

    elif workload == "fields":
        read_fields = adapter.read_fields
        assert read_fields is not None

        def run(n: int) -> None:
            for _ in repeat(None, n):
                read_fields(parse(data))

    elif workload == "serialize":
        serialize = adapter.serialize
        assert serialize is not None

        def run(n: int) -> None:
            for _ in repeat(None, n):
                serialize(parse(data))

    elif workload == "add-via":
        serialize, prepend_via = adapter.serialize, adapter.prepend_via
        assert serialize is not None and prepend_via is not None

        def run(n: int) -> None:
            for _ in repeat(None, n):
                message = parse(data)
                prepend_via(message, PROXY_VIA)
                serialize(message)

    else:
        raise ValueError(f"unknown workload {workload!r}")
    return run


def _skip_reason(adapter: Adapter, message: BenchMessage, workload: str) -> tuple[str, str]:
    """(status, reason) when `adapter` cannot run `workload` on `message`, else ("", "")."""
    if not adapter.available:
        return "unavailable", adapter.error or "not available"
    if message.name in adapter.unsupported:
        return "unsupported", adapter.unsupported[message.name]
    if workload in ("serialize", "add-via") and adapter.serialize is None:
        return "unsupported", f"{adapter.name} cannot serialize a parsed message"
    if workload == "add-via" and adapter.prepend_via is None:
        return "unsupported", f"{adapter.name} cannot add a Via"
    return "", ""


def _verify(adapter: Adapter, message: BenchMessage, workload: str) -> None:
    if workload in ("parse", "fields"):
        verify_fields(adapter, message)
    else:
        verify_serialization(adapter, message, add_via=workload == "add-via")


def bench_case(
    adapters: list[Adapter], message: BenchMessage, workload: str, options: Options
) -> list[dict[str, Any]]:
    """Verify, then time every adapter on one (message, workload), rounds interleaved.

    A parser that cannot run the case, or reads wrong values, gets a status and a reason
    instead of figures; it never stops the run.
    """
    results: list[dict[str, Any]] = []
    timed: list[tuple[dict[str, Any], Callable[[int], None]]] = []
    for adapter in adapters:
        result: dict[str, Any] = {
            "parser": adapter.name,
            "message": message.name,
            "workload": workload,
        }
        results.append(result)
        status, reason = _skip_reason(adapter, message, workload)
        if not status:
            try:
                _verify(adapter, message, workload)
                timed.append((result, workload_loop(adapter, workload, message.data)))
                continue
            except Exception as exc:  # a parser that fails is reported, not fatal
                status, reason = "error", f"{type(exc).__name__}: {exc}"
        result.update(status=status, reason=reason)
    timings = measure_group([run for _, run in timed], options)
    for (result, _), timing in zip(timed, timings, strict=True):
        result.update(
            status="ok",
            msgs_per_s_best=timing["per_s_best"],
            msgs_per_s_median=timing["per_s_median"],
            iterations=timing["iterations"],
            rounds=timing["rounds"],
            best_round_s=timing["best_s"],
            median_round_s=timing["median_s"],
            **{k: v for k, v in timing.items() if k in ("wall_best_s", "cpu_best_s")},
        )
    return results


def _rate_of(row: dict[str, Any] | None) -> float | None:
    return None if row is None else row["msgs_per_s_best"]


def _ratio(ours: dict[str, Any] | None, other: dict[str, Any] | None) -> float | None:
    if ours is None or other is None:
        return None
    return ours["msgs_per_s_best"] / other["msgs_per_s_best"]


def compare(results: list[dict[str, Any]], adapters: list[Adapter]) -> list[dict[str, Any]]:
    """Per message and workload: ours against the fastest competitor (best rounds), and
    against the fastest competitor that read all the usual fields (a "full reader")."""
    competitors = {a.name for a in adapters if a.competitor}
    full_readers = {a.name for a in adapters if a.competitor and not a.missing}
    table = []
    for message in MESSAGES:
        for workload in WORKLOADS:
            rows = [
                r
                for r in results
                if r["message"] == message.name
                and r["workload"] == workload
                and r["status"] == "ok"
            ]
            ours = next((r for r in rows if r["parser"] == OURS), None)

            def fastest(names: set[str], rows: list[dict[str, Any]] = rows) -> Any:
                found = [r for r in rows if r["parser"] in names]
                return max(found, key=lambda r: r["msgs_per_s_best"], default=None)

            best, best_full = fastest(competitors), fastest(full_readers)
            naive = next((r for r in rows if r["parser"] == "naive"), None)
            table.append(
                {
                    "message": message.name,
                    "workload": workload,
                    "ours_msgs_per_s": _rate_of(ours),
                    "fastest_competitor": best and best["parser"],
                    "fastest_competitor_msgs_per_s": _rate_of(best),
                    "ratio_to_fastest_competitor": _ratio(ours, best),
                    "fastest_full_reader": best_full and best_full["parser"],
                    "ratio_to_fastest_full_reader": _ratio(ours, best_full),
                    "ratio_to_naive": _ratio(ours, naive),
                }
            )
    return table


def floor_verdict(comparison: list[dict[str, Any]]) -> dict[str, Any]:
    """The floor's pass/fail (None when ours or every competitor could not be measured)."""
    row = next(
        r
        for r in comparison
        if r["message"] == FLOOR["message"] and r["workload"] == FLOOR["workload"]
    )
    ratio = row["ratio_to_fastest_competitor"]
    return {
        **FLOOR,
        "ratio": ratio,
        "fastest_competitor": row["fastest_competitor"],
        "passed": None if ratio is None else ratio >= FLOOR["required_ratio"],
    }


def run(options: Options, parsers: list[str] | None = None) -> dict[str, Any]:
    """Run the whole parser benchmark and return the JSON document."""
    adapters = load_adapters(parsers)
    results = [
        result
        for message in MESSAGES
        for workload in WORKLOADS
        for result in bench_case(adapters, message, workload, options)
    ]
    comparison = compare(results, adapters)
    return {
        "benchmark": NAME,
        "generated": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "method": {
            "quick": options.quick,
            "rounds": min(options.repeat, 2) if options.quick else options.repeat,
            "round_seconds": None if options.quick else options.round_seconds,
            "iterations": "fixed" if options.quick else "calibrated per case",
            "statistic": "messages/s of the best round (median also given)",
            "timer": {
                "cpu": "time.process_time: CPU time of this process, so that other load on "
                "the machine does not count (wall-clock best round also recorded)",
                "wall": "time.perf_counter: elapsed time (CPU best round also recorded)",
            }[options.timer],
            "gc": "enabled; collected before each round",
            "process": "all parsers measured in the same process and run; for each message "
            "and workload, round k of every parser runs before round k+1 of any",
        },
        "ours": OURS,
        "workloads": WORKLOADS,
        "fields": list(FIELDS),
        "messages": [
            {
                "name": m.name,
                "bytes": len(m.data),
                "body_bytes": len(m.expected.body),
            }
            for m in MESSAGES
        ],
        "parsers": [
            {
                "name": a.name,
                "distribution": a.distribution,
                "version": a.version,
                "competitor": a.competitor,
                "available": a.available,
                "error": a.error,
                "api": a.api,
                "missing_fields": a.missing,
                "unsupported_messages": a.unsupported,
            }
            for a in adapters
        ],
        "results": results,
        "comparison": comparison,
        "floor": floor_verdict(comparison),
    }


def _rate(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    return f"{value / 1e3:.1f}k"


def render(doc: dict[str, Any]) -> str:
    """The terminal table (messages/s of the best round) and the notes."""
    parsers = [p["name"] for p in doc["parsers"]]
    machine = doc["machine"]
    lines = [
        f"Parser benchmark: messages/s, best of {doc['method']['rounds']} rounds"
        f" ({doc['method']['timer'].partition(':')[0]})"
        f"{' (QUICK: not meaningful)' if doc['method']['quick'] else ''}",
        f"Python {machine['python']} on {machine['platform']}, {machine['cpu_count']} CPUs",
        "",
    ]
    header = ["message", "workload", *parsers, "ours/fastest", "(fastest)", "ours/full", "(full)"]
    rows = [header]
    by_key = {(r["parser"], r["message"], r["workload"]): r for r in doc["results"]}
    for comp in doc["comparison"]:
        cells = [comp["message"], comp["workload"]]
        for name in parsers:
            r = by_key[(name, comp["message"], comp["workload"])]
            cells.append(_rate(r["msgs_per_s_best"]) if r["status"] == "ok" else r["status"])
        for ratio, name in (
            (comp["ratio_to_fastest_competitor"], comp["fastest_competitor"]),
            (comp["ratio_to_fastest_full_reader"], comp["fastest_full_reader"]),
        ):
            cells.append("-" if ratio is None else f"{ratio:.2f}x")
            cells.append(name or "-")
        rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        lines.append(
            "  ".join(
                cell.ljust(w) if i < 2 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
    lines.append(
        f"ours = {OURS}; fastest = fastest competitor; full = fastest competitor that reads all"
        " the usual fields; naive = split-on-delimiters baseline (not a competitor)"
    )
    lines.append("")
    for p in doc["parsers"]:
        if p["error"]:
            lines.append(f"{p['name']}: unavailable: {p['error']}")
        for name, why in p["missing_fields"].items():
            lines.append(f"{p['name']}: field {name} not read: {why}")
        for name, why in p["unsupported_messages"].items():
            lines.append(f"{p['name']}: {name} not parsed: {why}")
    for r in doc["results"]:
        if r["status"] == "error":
            lines.append(f"{r['parser']} {r['message']} {r['workload']}: ERROR {r['reason']}")
    floor = doc["floor"]
    verdict = {True: "PASS", False: "FAIL", None: "NOT MEASURED"}[floor["passed"]]
    ratio = "-" if floor["ratio"] is None else f"{floor['ratio']:.2f}x"
    lines.append(f"floor: {floor['rule']}: {verdict} ({ratio}, need {floor['required_ratio']}x)")
    return "\n".join(lines)


def floors_passed(doc: dict[str, Any]) -> bool | None:
    """True/False for the floor; None when it could not be measured."""
    return doc["floor"]["passed"]
