"""Observability of the requirements, and how much of it the conformance cases judge.

Issue 25: a tester on the wire can judge some requirements and not others.  The reviewed
classification of RFC 3261 lives in ``rfc3261/observability.toml`` (`OBSERVABILITY_FILE`);
an extension RFC keeps its own beside its module, ``extensions/rfcNNNN.observability.toml``
(`observability_files` finds them all).  One table per section::

    ["17.1.1.2"]
    reviewed = true
    "rfc3261-17.1.1.2-r3-1a2b3c" = ["uac", "proxy"]
    "rfc3261-17.1.1.2-r9-4d5e6f" = { not_observable = "internal state of the transaction" }

`check_file` verifies it against the requirements `annotate.requirements` extracts: every
requirement classified exactly once, in its own section's table, every id known, roles from
`ROLES`, a reason for each not observable one, every section marked reviewed.  Each problem
is a `Diagnostic` naming the file and line.

`case_requirements` maps each conformance case (``conformance.discovery``) to the ids its
annotations quote; `role_coverage` counts per role the observable MUSTs and SHOULDs and those
a case of that role judges; `stack_verdicts` reads the verdicts per requirement from result
files (schema ``sipref-conformance/1``).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotate.checker import Diagnostic

if TYPE_CHECKING:
    from annotate.requirements import Requirement
    from annotate.rfctext import RfcDocument

__all__ = [
    "OBSERVABILITY_FILE",
    "ROLES",
    "Classification",
    "Observability",
    "RoleCoverage",
    "case_requirements",
    "check_file",
    "coverage_text",
    "load_observability",
    "observability_files",
    "quote_requirements",
    "result_files",
    "role_coverage",
    "role_mismatches",
    "stack_verdicts",
]

#: The roles a tester can observe a requirement in (those of `conformance.model.ROLES`).
ROLES: tuple[str, ...] = ("uac", "uas", "registrar", "proxy", "redirect")
#: The classification of RFC 3261, relative to the repository root.
OBSERVABILITY_FILE = Path("rfc3261") / "observability.toml"
#: An extension RFC's classification, under ``extensions/``: ``rfcNNNN.observability.toml``.
EXTENSION_FILE = re.compile(r"rfc(\d+)\.observability\.toml")
#: The levels whose coverage counts (a MAY is an option: no case can fail it).
COUNTED: tuple[str, ...] = ("MUST", "SHOULD")

_TABLE = re.compile(r'^\s*\[\s*"([^"]+)"\s*\]')
_KEY = re.compile(r'^\s*"([^"]+)"\s*=')


@dataclass(frozen=True)
class Classification:
    """One requirement's entry: the roles that observe it, or why none does."""

    id: str
    section: str
    roles: tuple[str, ...] = ()
    reason: str = ""
    line: int = 0

    @property
    def observable(self) -> bool:
        return bool(self.roles)


@dataclass
class Observability:
    """The parsed file: entries by id, the sections marked reviewed, the problems found."""

    path: str
    entries: dict[str, Classification] = field(default_factory=dict)
    reviewed: dict[str, bool] = field(default_factory=dict)
    section_lines: dict[str, int] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)
    #: ids whose entry is malformed (reported once, not again as unclassified)
    invalid: set[str] = field(default_factory=set)


def observability_files(root: Path) -> dict[int, Path]:
    """RFC number -> its classification file in the tree at ``root`` (RFC 3261 first)."""
    root = Path(root)
    out: dict[int, Path] = {}
    if (root / OBSERVABILITY_FILE).is_file():
        out[3261] = root / OBSERVABILITY_FILE
    folder = root / "extensions"
    for path in sorted(folder.glob("rfc*.observability.toml")) if folder.is_dir() else []:
        match = EXTENSION_FILE.fullmatch(path.name)
        if match and int(match.group(1)) not in out:
            out[int(match.group(1))] = path
    return out


def _lines(text: str) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Line of each section table, and of each key within its table (1-based)."""
    tables: dict[str, int] = {}
    keys: dict[tuple[str, str], int] = {}
    current = ""
    for number, line in enumerate(text.splitlines(), 1):
        m = _TABLE.match(line)
        if m:
            current = m.group(1)
            tables.setdefault(current, number)
            continue
        m = _KEY.match(line)
        if m:
            keys.setdefault((current, m.group(1)), number)
    return tables, keys


def load_observability(path: Path, display: str | None = None) -> Observability:
    """Parse the classification file; grammar problems land in ``problems``."""
    name = display or str(path)
    out = Observability(name)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        out.problems.append(Diagnostic(name, 1, f"cannot read the observability file: {exc}"))
        return out
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        out.problems.append(
            Diagnostic(name, int(line.group(1)) if line else 1, f"invalid TOML: {exc}")
        )
        return out
    tables, keys = _lines(text)
    out.section_lines = tables
    for section, table in data.items():
        where = tables.get(section, 1)
        if not isinstance(table, dict):
            out.problems.append(
                Diagnostic(name, where, f"{section!r}: expected a table per section")
            )
            continue
        reviewed = table.get("reviewed", False)
        if not isinstance(reviewed, bool):
            message = f"[{section}] reviewed must be true or false"
            out.problems.append(Diagnostic(name, where, message))
            reviewed = False
        out.reviewed[section] = reviewed
        for key, value in table.items():
            if key == "reviewed":
                continue
            line = keys.get((section, key), where)
            entry = _entry(name, section, key, value, line, out.problems)
            if entry is None:
                out.invalid.add(key)
                continue
            if key in out.entries:
                first = out.entries[key].line
                out.problems.append(
                    Diagnostic(name, line, f"{key} is classified twice (first at line {first})")
                )
                continue
            out.entries[key] = entry
    return out


def _entry(
    name: str, section: str, key: str, value: Any, line: int, problems: list[Diagnostic]
) -> Classification | None:
    if isinstance(value, list):
        unknown = [r for r in value if r not in ROLES]
        if unknown or not value:
            what = f"unknown role(s) {unknown}" if unknown else "an empty list of roles"
            problems.append(
                Diagnostic(
                    name,
                    line,
                    f"{key}: {what}; roles are {', '.join(ROLES)} "
                    '(or { not_observable = "reason" })',
                )
            )
            return None
        if len(set(value)) != len(value):
            problems.append(Diagnostic(name, line, f"{key}: a role is listed twice"))
            return None
        return Classification(key, section, roles=tuple(value), line=line)
    if isinstance(value, dict):
        extra = set(value) - {"not_observable"}
        reason = value.get("not_observable")
        if extra or not isinstance(reason, str) or not reason.strip():
            problems.append(
                Diagnostic(
                    name,
                    line,
                    f"{key}: a requirement that is not observable needs "
                    '{ not_observable = "one-line reason" } and nothing else',
                )
            )
            return None
        return Classification(key, section, reason=reason.strip(), line=line)
    problems.append(
        Diagnostic(
            name,
            line,
            f'{key}: expected a list of roles or {{ not_observable = "reason" }}, '
            f"got {type(value).__name__}",
        )
    )
    return None


def check_file(
    path: Path,
    requirements: Sequence[Requirement],
    display: str | None = None,
    optional: Sequence[Requirement] = (),
    rfc: int = 3261,
) -> tuple[Observability, list[Diagnostic]]:
    """The file parsed, and every problem: grammar, unknown ids, ids in another section's
    table, requirements left unclassified, sections not marked reviewed.

    ``optional``: requirements that may be classified but need not be (those a ``type=spec``
    annotation declares).
    """
    obs = load_observability(path, display)
    problems = list(obs.problems)
    name = obs.path
    known = {r.id: r for r in [*requirements, *optional]}
    for entry in obs.entries.values():
        req = known.get(entry.id)
        if req is None:
            problems.append(
                Diagnostic(
                    name,
                    entry.line,
                    f"{entry.id} is not a requirement of RFC {rfc} (was the requirement text "
                    "or its extraction changed? see `python -m annotate report --json`)",
                )
            )
        elif req.section != entry.section:
            problems.append(
                Diagnostic(
                    name,
                    entry.line,
                    f"{entry.id} belongs to section {req.section}, not [{entry.section}]",
                )
            )
    if not obs.problems or obs.entries:
        missing = [r for r in requirements if r.id not in obs.entries and r.id not in obs.invalid]
        for req in missing:
            line = obs.section_lines.get(req.section, 1)
            problems.append(
                Diagnostic(
                    name,
                    line,
                    f"{req.id} ({req.level}, §{req.section}) is not classified: add its roles "
                    'or { not_observable = "reason" }',
                )
            )
        for section, done in obs.reviewed.items():
            if not done and any(e.section == section for e in obs.entries.values()):
                problems.append(
                    Diagnostic(
                        name,
                        obs.section_lines.get(section, 1),
                        f"[{section}] is not marked reviewed = true: read its MUSTs and "
                        "SHOULDs against the RFC, then mark it",
                    )
                )
    return obs, sorted(set(problems))


# --- coverage --------------------------------------------------------------------------------


def quote_requirements(doc: RfcDocument, section: str, quote: str) -> list[str]:
    """The ids of the requirements of ``doc`` §``section`` that ``quote`` overlaps."""
    from annotate.requirements import section_requirements
    from annotate.rfctext import normalize

    sec = doc.section(section)
    needle = normalize(quote)
    if sec is None or not needle:
        return []
    start = sec.normalized.find(needle)
    if start < 0:
        return []
    end = start + len(needle)
    return [r.id for r in section_requirements(sec) if r.start < end and start < r.end]


def case_requirements(cases: Iterable[Any], doc: RfcDocument) -> dict[str, list[Any]]:
    """RFC ``doc`` requirement id -> the cases (``conformance.model.Case``) that judge it."""
    out: dict[str, list[Any]] = defaultdict(list)
    for case in cases:
        seen: set[str] = set()
        for req in case.requirements:
            if req.rfc != doc.number:
                continue
            for rid in quote_requirements(doc, req.section, req.quote):
                if rid not in seen:
                    seen.add(rid)
                    out[rid].append(case)
    return dict(out)


@dataclass
class RoleCoverage:
    """One role's row: observable MUSTs/SHOULDs and how many a case of the role judges."""

    role: str
    observable: dict[str, int]
    covered: dict[str, int]
    cases: int = 0

    def percent(self, level: str) -> float | None:
        total = self.observable.get(level, 0)
        return None if not total else 100.0 * self.covered.get(level, 0) / total


def role_coverage(
    requirements: Sequence[Requirement],
    obs: Observability,
    judged: Mapping[str, Sequence[Any]],
) -> list[RoleCoverage]:
    """Per role in `ROLES`: observable MUSTs/SHOULDs, and those a case of that role judges.

    A case counts for a requirement in a role when the case plays that role
    (``case.roles``) and the classification lists the role for the requirement.
    """
    rows = []
    for role in ROLES:
        observable = dict.fromkeys(COUNTED, 0)
        covered = dict.fromkeys(COUNTED, 0)
        for req in requirements:
            entry = obs.entries.get(req.id)
            if req.level not in COUNTED or entry is None or role not in entry.roles:
                continue
            observable[req.level] += 1
            if any(role in c.roles for c in judged.get(req.id, ())):
                covered[req.level] += 1
        cases = len({c.id for cs in judged.values() for c in cs if role in c.roles})
        rows.append(RoleCoverage(role, observable, covered, cases))
    return rows


def role_mismatches(
    obs: Observability, judged: Mapping[str, Sequence[Any]]
) -> list[tuple[str, str, tuple[str, ...]]]:
    """(case id, requirement id, case roles) for each case citing a requirement in none of
    the roles the classification lists for it: either the case plays the wrong role, or
    the classification misses a role (a reviewer decides which)."""
    out = []
    for rid, cases in sorted(judged.items()):
        entry = obs.entries.get(rid)
        if entry is None:
            continue
        for case in cases:
            if not set(case.roles) & set(entry.roles):
                out.append((case.id, rid, tuple(case.roles)))
    return out


def result_files(root: Path) -> list[Path]:
    """The conformance result files of the site: ``docs/_data/conformance/*.json`` when there
    are any, else the published ``docs/conformance-results/*.json``."""
    for folder in (root / "docs" / "_data" / "conformance", root / "docs" / "conformance-results"):
        files = sorted(folder.glob("*.json")) if folder.is_dir() else []
        if files:
            return files
    return []


def stack_verdicts(files: Iterable[Path]) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """Result file stem -> requirement id -> [(case id, verdict)], from result files."""
    out: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        per: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for case in data.get("cases", []):
            if not isinstance(case, dict):
                continue
            for rid in case.get("requirements", []) or []:
                per[str(rid)].append((str(case.get("id", "")), str(case.get("verdict", ""))))
        out[path.stem] = dict(per)
    return out


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}%"


def coverage_text(
    rows: Sequence[RoleCoverage],
    not_observable: Mapping[str, int],
    verdicts: Mapping[str, Mapping[str, Sequence[tuple[str, str]]]] | None = None,
    observable_ids: Iterable[str] = (),
    mismatches: Sequence[tuple[str, str, tuple[str, ...]]] = (),
    rfc: int = 3261,
    path: str = "rfc3261/observability.toml",
) -> str:
    """The "conformance coverage" section of ``python -m annotate report`` for one RFC."""
    out = [f"conformance coverage (RFC {rfc}, observable MUST/SHOULD judged by a case):"]
    rows = [row for row in rows if any(row.observable.values())]
    out.append(
        f"  {'role':<10}{'cases':>6}{'MUST obs':>10}{'covered':>9}{'%':>6}"
        f"{'SHOULD obs':>12}{'covered':>9}{'%':>6}"
    )
    for row in rows:
        out.append(
            f"  {row.role:<10}{row.cases:>6}"
            f"{row.observable['MUST']:>10}{row.covered['MUST']:>9}{_pct(row.percent('MUST')):>6}"
            f"{row.observable['SHOULD']:>12}{row.covered['SHOULD']:>9}"
            f"{_pct(row.percent('SHOULD')):>6}"
        )
    total = sum(not_observable.values())
    out.append(
        "  not observable: "
        + ", ".join(f"{n} {level}" for level, n in not_observable.items())
        + f" ({total} in all)"
    )
    wanted = set(observable_ids)
    for stack, per in (verdicts or {}).items():
        counts: dict[str, int] = defaultdict(int)
        judged = 0
        for rid, results in per.items():
            if wanted and rid not in wanted:
                continue
            judged += 1
            for _case, verdict in results:
                counts[verdict] += 1
        if not judged:
            continue
        out.append(
            f"  {stack}: {judged} requirement(s) judged; verdicts "
            + (", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "none")
        )
    if mismatches:
        out.append(
            f"  {len(mismatches)} case citation(s) outside the requirement's observable roles "
            f"(not counted; fix the case's roles or {path}):"
        )
        out += [f"    {case} ({'/'.join(roles)}) cites {rid}" for case, rid, roles in mismatches]
    return "\n".join(out)
