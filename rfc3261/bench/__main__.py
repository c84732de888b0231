"""`python -m rfc3261.bench [--quick] [--only NAME ...] [--json PATH]`.

Runs the benchmarks listed in BENCHMARKS (all by default), prints each one's table and
writes its JSON to docs/_data/bench/<name>.json.  A new benchmark (transactions under SIPp
load, proxy) is a module with `NAME`, `run(options) -> dict`, `render(doc) -> str` and
`floors_passed(doc) -> bool | None`, added to BENCHMARKS.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from rfc3261.bench import Options, default_json_path, write_json

BENCHMARKS: dict[str, str] = {
    "parse": "rfc3261.bench.parse",
    "parse_instructions": "rfc3261.bench.instructions",
    "uas_load": "rfc3261.bench.uas_load",
    "proxy_load": "rfc3261.bench.proxy_load",
    "websocket_load": "rfc3261.bench.websocket_load",
    "location_pg": "rfc3261.bench.location_pg",
    "presence_load": "rfc3261.bench.presence_load",
    "dns_load": "rfc3261.bench.dns_load",
    "sdp": "rfc3261.bench.sdp",
    "transaction_memory": "rfc3261.bench.transaction_memory",
    "outbound_recovery": "rfc3261.bench.outbound_recovery",
}
"""Benchmark name -> module."""


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks; exit status 1 on a failed floor under --strict."""
    parser = argparse.ArgumentParser(prog="python -m rfc3261.bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a few fixed iterations (checks the harness)"
    )
    parser.add_argument(
        "--only", action="append", choices=sorted(BENCHMARKS), help="run only this benchmark"
    )
    parser.add_argument(
        "--json", type=Path, help="JSON output path (only with a single benchmark)"
    )
    parser.add_argument("--repeat", type=int, default=7, help="rounds per case (default 7)")
    parser.add_argument(
        "--round-seconds", type=float, default=0.3, help="target duration of a round"
    )
    parser.add_argument(
        "--timer",
        choices=("cpu", "wall"),
        default="cpu",
        help="time rounds by CPU time of this process (default) or elapsed wall time",
    )
    parser.add_argument(
        "--parsers", help="comma-separated parser names for the parse benchmark (default all)"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a floor fails")
    args = parser.parse_args(argv)

    names = args.only or list(BENCHMARKS)
    if args.json and len(names) != 1:
        parser.error("--json needs exactly one benchmark (use --only)")
    options = Options(
        quick=args.quick,
        repeat=args.repeat,
        round_seconds=args.round_seconds,
        timer=args.timer,
    )
    failed = False
    for name in names:
        module = importlib.import_module(BENCHMARKS[name])
        if name in ("parse", "parse_instructions") and args.parsers:
            doc = module.run(options, parsers=args.parsers.split(","))
        else:
            doc = module.run(options)
        print(module.render(doc))
        path = write_json(doc, args.json or default_json_path(name))
        print(f"wrote {path}")
        failed = failed or module.floors_passed(doc) is False
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
