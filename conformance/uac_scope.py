"""Which RFC 3261 UAC requirements the UAC-role cases judge: observable, covered, counts.

The scope is every MUST and SHOULD of RFC 3261 sections 8.1, 9.1, 10.2, 12.1.2, 12.2.1, 13.2,
14.1, 17.1, 18.1, 22.2 and 22.3.  A requirement is *covered* when a case in
``conformance/cases/uac*.py`` cites it (a ``##= type=test`` annotation); the others are
listed in ``conformance/uac_scope.toml``, as not observable (with the reason) or as not
covered yet (with what a case would need).  ``python -m conformance.uac_scope`` prints the
counts.
"""

from __future__ import annotations

import sys
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SECTIONS", "Scope", "uac_scope"]

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "uac_scope.toml"
SECTIONS = (
    "8.1",
    "9.1",
    "10.2",
    "12.1.2",
    "12.2.1",
    "13.2",
    "14.1",
    "17.1",
    "18.1",
    "22.2",
    "22.3",
)
#: where the UAC-role cases live
CASES = "conformance/cases/uac"


@dataclass
class Scope:
    """The requirements in scope (id: level) and what became of each."""

    levels: dict[str, str] = field(default_factory=dict)
    covered: set[str] = field(default_factory=set)
    not_observable: dict[str, str] = field(default_factory=dict)
    uncovered: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per level: in scope, observable, covered, uncovered (and of those, the ones only a
        TCP, TLS, DNS or multicast listener could judge)."""
        out: dict[str, Counter[str]] = {}
        for rid, level in self.levels.items():
            row = out.setdefault(level, Counter())
            row["scope"] += 1
            if rid in self.not_observable:
                continue
            row["observable"] += 1
            if rid in self.covered:
                row["covered"] += 1
            elif rid in self.uncovered:
                row["uncovered"] += 1
                if self.uncovered[rid].split(":", 1)[0] in ("tcp", "tls", "dns", "multicast"):
                    row["transport"] += 1
        return {level: dict(row) for level, row in out.items()}


def _in_scope(section: str) -> bool:
    return any(section == s or section.startswith(s + ".") for s in SECTIONS)


def uac_scope(root: Path = ROOT) -> Scope:
    """The scope, from the RFC text (``SIPREF_SPEC_DIR``), the cases and the data file."""
    from annotate.report import build_coverage
    from annotate.specstore import SpecStore

    coverage = build_coverage(
        root, SpecStore.from_env(), roots=("conformance",), extensions=False, core=(3261,)
    )
    rfc = coverage.rfc(3261)
    if rfc is None:
        raise LookupError("RFC 3261 text not found (set SIPREF_SPEC_DIR)")
    data = tomllib.loads(DATA.read_text(encoding="utf-8"))
    scope = Scope(not_observable=dict(data["not_observable"]), uncovered=dict(data["uncovered"]))
    for entry in rfc.requirements:
        req = entry.requirement
        if req.level not in ("MUST", "SHOULD") or not _in_scope(req.section):
            continue
        scope.levels[req.id] = req.level
        for citation in entry.citations:
            ann = citation.annotation
            if ann.type == "test" and str(ann.path).startswith(CASES):
                scope.covered.add(req.id)
    return scope


def main() -> int:
    counts = uac_scope().counts()
    for level in ("MUST", "SHOULD"):
        row = counts.get(level, {})
        observable, covered = row.get("observable", 0), row.get("covered", 0)
        udp = observable - row.get("transport", 0)
        print(
            f"{level}: {row.get('scope', 0)} in scope, {observable} observable, {covered} covered "
            f"({100 * covered / max(observable, 1):.0f} %; {100 * covered / max(udp, 1):.0f} % "
            f"of the {udp} a UDP runner can judge)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
