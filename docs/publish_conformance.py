"""Publish a conformance run for the site: ``docs/conformance-results/``.

``make conformance`` writes fresh results to ``docs/_data/conformance/`` (not committed);
the site shows them when they exist.  A fresh checkout has none, so the site falls back to
the published set in ``docs/conformance-results/``: the same files, dated, each stamped
with the product version of the stack that ran (``kamailio -v``, ``sipp -v``, sipref's own
version), and slimmed to what the site shows (the message ladder of the cases that did not
pass; a passing case keeps its verdict and requirements).

    python docs/publish_conformance.py [--from DIR] [--to DIR]

Refresh it after a ``make conformance`` run whose results should be the ones a reader sees,
and commit the folder (the diff is the change of verdicts).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPEN = ("fail", "error", "inconclusive", "warn")


def _first_line_matching(argv: list[str], pattern: str) -> str:
    binary = shutil.which(argv[0]) or (argv[0] if Path(argv[0]).exists() else None)
    if binary is None:
        return ""
    try:
        done = subprocess.run(
            [binary, *argv[1:]], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    m = re.search(pattern, done.stdout + done.stderr)
    return m[1] if m else ""


def versions() -> dict[str, str]:
    """Product -> version of the stacks the selftest runs, as installed here."""
    found = {
        "Kamailio": _first_line_matching(["/usr/sbin/kamailio", "-v"], r"kamailio (\S+)")
        or _first_line_matching(["kamailio", "-v"], r"kamailio (\S+)"),
        "SIPp": _first_line_matching(["sipp", "-v"], r"SIPp v(\d[\w.]*)"),
    }
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    m = re.search(r'^version = "([^"]+)"', text, re.M)
    found["sipref"] = m[1] if m else ""
    return {k: v for k, v in found.items() if v}


def publish(source: Path, target: Path) -> list[Path]:
    """Copy each result file of ``source`` to ``target``, stamped and slimmed."""
    files = sorted(source.glob("*.json"))
    if not files:
        raise SystemExit(f"no result files in {source} (run make conformance first)")
    known = versions()
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.json"):
        old.unlink()
    written = []
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        stack = str(data.get("stack", ""))
        product = next((p for p in known if stack.lower().startswith(p.lower())), "")
        if product:
            data.setdefault("product", stack)
            data.setdefault("version", known[product])
        for case in data.get("cases", []):
            if case.get("verdict") not in OPEN:
                case["ladder"] = []
            for event in case.get("ladder", []):
                event.pop("base64", None)
        out = target / path.name
        out.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")
        written.append(out)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--from", dest="source", type=Path, default=ROOT / "docs/_data/conformance"
    )
    parser.add_argument(
        "--to", dest="target", type=Path, default=ROOT / "docs/conformance-results"
    )
    args = parser.parse_args(argv)
    for path in publish(args.source, args.target):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
