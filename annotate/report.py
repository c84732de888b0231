"""Coverage report: the status of every requirement, as text, JSON and a committed snapshot.

Statuses
========
A requirement (`annotate.requirements.extract_requirements`) is *cited* by an annotation when
the annotation's quote span (where ``normalize(quote)`` starts and ends in
``section.normalized``) overlaps the requirement's ``[start, end)``.  A TOML annotation
without a quote cites every requirement of its section and of the section's subsections.
``type=spec`` annotations declare a requirement where the extractor found none (level from
``level=``, default MUST); they cite nothing.

The status of a requirement follows from the types of the annotations citing it, the first
rule that applies winning (duvet's vocabulary):

1. ``complete``          an implementation *and* a test cite it, or an implication does;
2. ``exception``         an exception cites it (a deliberate deviation outranks partial work);
3. ``missing test``      an implementation cites it, no test;
4. ``missing citation``  a test cites it, no implementation;
5. ``todo``              a todo cites it;
6. ``not started``       nothing cites it.

The snapshot check ranks statuses ``complete`` > ``exception`` > ``missing test`` =
``missing citation`` > ``todo`` > ``not started``; a status *got worse* when its rank fell, or
when it moved between the two partial statuses (a citation was lost either way).

JSON schema (``--json PATH``; the documentation site is rendered from it)
=====================================================================
::

    {
      "format": 1,
      "generated": "2026-01-01T00:00:00Z",          # UTC, when the report ran
      "statuses": ["complete", "missing test", ...],  # in precedence order
      "levels": ["MUST", "SHOULD", "MAY"],
      "rfcs": [{
        "rfc": 3261, "title": "...", "url": "https://www.rfc-editor.org/rfc/rfc3261",
        "total": N, "by_status": {status: N, ...},   # every status present, 0 if none
        "by_level": {"MUST": {"total": N, status: N, ...}, "SHOULD": ..., "MAY": ...},
        "sections": [{                               # every section, in document order
          "number": "17.1.1.2", "title": "...", "kind": "section"|"appendix",
          "depth": 4, "anchor": "section-17.1.1.2", "url": ".../rfc3261#section-17.1.1.2",
          "total": N, "by_status": {...}, "by_level": {...}
        }],
        "requirements": [{                           # in document order
          "id": "rfc3261-17.1.1.2-r3-1a2b3c", "rfc": 3261, "section": "17.1.1.2",
          "ordinal": 3, "level": "MUST", "keyword": "MUST NOT", "text": "...",
          "start": i, "end": j,                      # into the section's normalized text
          "declared": false,                         # true when from a type=spec annotation
          "status": "complete",
          "citations": [{"path": "rfc3261/x.py", "line": 12, "block": [13, 20] | null,
                         "type": "implementation", "quote": "...", "origin": "code"|"toml"}]
        }]
      }],
      "annotations": [{                              # every annotation that was scanned
        "path", "line", "block": [start, end] | null, "target", "rfc", "section",
        "type", "quote", "meta": {...}, "origin",
        "valid": bool,                               # false: target or quote unresolved
        "span": [start, end] | null, "requirements": [ids it cites]
      }],
      "extensions": [{
        "module": "extensions/rfc3262.py",          # a .py file or a package folder
        "lines_of_code": N,                          # no blanks, comments, docstrings, tests
        "requirements": {"covered": N, "by_rfc": {"3262": N}},
        "conformance_cases": N                       # only when it ships cases (see below)
      }],
      "diagnostics": ["path:line: message", ...]     # what the checker would report
    }

Extension sizes count each module directly under ``extensions/`` (a ``.py`` file other than
``__init__.py``, or a package); test files (``tests/`` folders, ``test_*.py``) are left out,
and so are the folders ``extensions/tests/`` and ``extensions/conformance/``.  An extension
``NAME`` whose conformance cases sit in ``extensions/conformance/NAME.py`` (or a package
there) gets ``conformance_cases``: the cases its source registers (``@case`` functions and
``register(...)`` calls, a call in a loop counted once).
A module *covers* a requirement whose status is ``complete`` or ``missing test`` and that an
annotation in the module's files cites.

Snapshot (``annotate/coverage_snapshot.json``): ``{"format": 1, "requirements": {id:
status}}``, keys sorted, one requirement per line, no spec text.
"""

from __future__ import annotations

import ast
import datetime as _dt
import hashlib
import io
import json
import tokenize
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotate.annotations import ROOTS, Annotation, scan_tree
from annotate.checker import Diagnostic, DocumentCache, Resolved, diagnose

if TYPE_CHECKING:
    from annotate.requirements import Requirement
    from annotate.rfctext import RfcDocument
    from annotate.specstore import SpecStore

__all__ = [
    "LEVELS",
    "STATUSES",
    "Coverage",
    "RequirementStatus",
    "RfcCoverage",
    "SnapshotDiff",
    "build_coverage",
    "compare_snapshot",
    "count_code_lines",
    "extension_sizes",
    "fail_under",
    "level_totals",
    "parse_fail_under",
    "read_snapshot",
    "snapshot_of",
    "status_of",
    "text_summary",
    "to_json",
    "write_snapshot",
]

STATUSES: tuple[str, ...] = (
    "complete",
    "exception",
    "missing test",
    "missing citation",
    "todo",
    "not started",
)
LEVELS: tuple[str, ...] = ("MUST", "SHOULD", "MAY")
RANK: dict[str, int] = {
    "complete": 4,
    "exception": 3,
    "missing test": 2,
    "missing citation": 2,
    "todo": 1,
    "not started": 0,
}
BASE_URL = "https://www.rfc-editor.org/rfc/"
DEFAULT_RFC = 3261


def status_of(types: Iterable[str]) -> str:
    """The status of a requirement cited by annotations of these types (see module doc)."""
    kinds = set(types)
    if ("implementation" in kinds and "test" in kinds) or "implication" in kinds:
        return "complete"
    if "exception" in kinds:
        return "exception"
    if "implementation" in kinds:
        return "missing test"
    if "test" in kinds:
        return "missing citation"
    if "todo" in kinds:
        return "todo"
    return "not started"


@dataclass
class RequirementStatus:
    requirement: Requirement
    status: str
    citations: list[Resolved] = field(default_factory=list)
    declared: bool = False


@dataclass
class RfcCoverage:
    document: RfcDocument
    requirements: list[RequirementStatus]


@dataclass
class Coverage:
    """Everything the report shows."""

    rfcs: list[RfcCoverage]
    annotations: list[Annotation]
    resolved: list[Resolved]
    diagnostics: list[Diagnostic]
    load_errors: list[str]
    extensions: list[dict[str, Any]]

    def rfc(self, number: int) -> RfcCoverage | None:
        return next((r for r in self.rfcs if r.document.number == number), None)


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _in_section(number: str, parent: str) -> bool:
    return number == parent or number.startswith(parent + ".")


def _declared_requirement(item: Resolved, ordinal: int) -> Requirement:
    from annotate.requirements import Requirement

    a = item.annotation
    text = item.section.normalized[item.span[0] : item.span[1]]
    level = a.meta.get("level", "MUST").upper()
    digest = hashlib.sha1(text.encode()).hexdigest()[:6]
    return Requirement(
        id=f"rfc{a.rfc}-{item.section.number}-s{ordinal}-{digest}",
        rfc=a.rfc,
        section=item.section.number,
        ordinal=ordinal,
        level=level,
        keyword=level,
        text=text,
        start=item.span[0],
        end=item.span[1],
    )


def _rfc_coverage(doc: RfcDocument, cites: list[Resolved]) -> RfcCoverage:
    from annotate.requirements import extract_requirements

    requirements = extract_requirements(doc)
    by_section: dict[str, list[Requirement]] = defaultdict(list)
    for req in requirements:
        by_section[req.section].append(req)
    declared: set[str] = set()
    for item in cites:
        if item.annotation.type != "spec" or item.whole_section:
            continue
        own = by_section[item.section.number]
        if not any(_overlaps(item.span, (r.start, r.end)) for r in own):
            req = _declared_requirement(item, len(own) + 1)
            own.append(req)
            declared.add(req.id)
    statuses: dict[str, RequirementStatus] = {}
    order: list[RequirementStatus] = []
    for section in doc.sections:
        for req in sorted(by_section.get(section.number, ()), key=lambda r: r.start):
            entry = RequirementStatus(req, "not started", declared=req.id in declared)
            statuses[req.id] = entry
            order.append(entry)
    in_section: dict[str, list[RequirementStatus]] = defaultdict(list)
    for entry in order:
        in_section[entry.requirement.section].append(entry)
    for item in cites:
        if item.annotation.type == "spec":
            continue
        number = item.section.number
        if item.whole_section:
            for entry in order:
                if _in_section(entry.requirement.section, number):
                    entry.citations.append(item)
            continue
        for entry in in_section.get(number, ()):
            req = entry.requirement
            if _overlaps(item.span, (req.start, req.end)):
                entry.citations.append(item)
    for entry in order:
        entry.status = status_of(c.annotation.type for c in entry.citations)
    return RfcCoverage(doc, order)


def build_coverage(
    root: Path,
    store: SpecStore,
    roots: Iterable[str] = ROOTS,
    rfcs: Iterable[int] = (),
    extensions: bool = True,
    core: Iterable[int] = (DEFAULT_RFC,),
) -> Coverage:
    """Scan ``root``, resolve the annotations and compute every requirement's status.

    The report covers the ``core`` RFCs (RFC 3261), every RFC an annotation targets and
    ``rfcs``.
    """
    root = Path(root)
    annotations, errors = scan_tree(root, roots)
    docs = DocumentCache(store)
    resolved, diagnostics = diagnose(annotations, errors, docs)
    numbers = {*core, *rfcs, *(a.rfc for a in annotations if a.rfc is not None)}
    coverage = Coverage([], annotations, resolved, diagnostics, [], [])
    by_rfc: dict[int, list[Resolved]] = defaultdict(list)
    for item in resolved:
        by_rfc[item.document.number].append(item)
    for number in sorted(numbers):
        doc = docs.get(number)
        if isinstance(doc, str):
            coverage.load_errors.append(doc)
            continue
        coverage.rfcs.append(_rfc_coverage(doc, by_rfc[number]))
    if extensions:
        coverage.extensions = extension_sizes(root, coverage)
    return coverage


# --- counting -----------------------------------------------------------------------------


def _counts(entries: Iterable[RequirementStatus]) -> dict[str, Any]:
    by_status = dict.fromkeys(STATUSES, 0)
    by_level = {level: {"total": 0, **dict.fromkeys(STATUSES, 0)} for level in LEVELS}
    total = 0
    for entry in entries:
        total += 1
        by_status[entry.status] += 1
        level = by_level.setdefault(
            entry.requirement.level, {"total": 0, **dict.fromkeys(STATUSES, 0)}
        )
        level["total"] += 1
        level[entry.status] += 1
    return {"total": total, "by_status": by_status, "by_level": by_level}


def level_totals(coverage: Coverage, rfcs: Iterable[int] | None = None) -> dict[str, Any]:
    """Counts per level (and ``"ALL"``) over the chosen RFCs (default: all in the report)."""
    chosen = set(rfcs) if rfcs else None
    entries = [
        e
        for r in coverage.rfcs
        if chosen is None or r.document.number in chosen
        for e in r.requirements
    ]
    counts = _counts(entries)
    result = dict(counts["by_level"])
    result["ALL"] = {"total": counts["total"], **counts["by_status"]}
    return result


def _percent(part: int, whole: int) -> float:
    return 100.0 if whole == 0 else 100.0 * part / whole


def parse_fail_under(spec: str) -> tuple[str, float]:
    """``"MUST=80"`` -> ``("MUST", 80.0)``; raises ValueError naming the defect."""
    level, sep, pct = spec.partition("=")
    level = level.strip().upper()
    if not sep or level not in (*LEVELS, "ALL"):
        raise ValueError(
            f"--fail-under {spec!r}: expected LEVEL=PCT with LEVEL MUST, SHOULD, MAY or ALL"
        )
    try:
        value = float(pct)
    except ValueError:
        raise ValueError(f"--fail-under {spec!r}: {pct!r} is not a number") from None
    if not 0 <= value <= 100:
        raise ValueError(f"--fail-under {spec!r}: percentage must be within 0..100")
    return level, value


def fail_under(
    coverage: Coverage, thresholds: Iterable[tuple[str, float]], rfcs: Iterable[int] | None = None
) -> list[str]:
    """One message per level whose complete% is below its threshold (a level with no
    requirements counts as 100%)."""
    totals = level_totals(coverage, rfcs)
    failures = []
    for level, threshold in thresholds:
        counts = totals.get(level, {"total": 0, "complete": 0})
        pct = _percent(counts["complete"], counts["total"])
        if pct < threshold:
            failures.append(
                f"{level}: {pct:.1f}% complete ({counts['complete']} of {counts['total']}) "
                f"is under {threshold:g}%"
            )
    return failures


# --- extension sizes ----------------------------------------------------------------------


def count_code_lines(text: str) -> int:
    """Lines holding code: not blank, not only a comment, not part of a docstring."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return sum(
            1 for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
        )
    doc_lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                doc_lines.update(range(body[0].lineno, (body[0].end_lineno or 0) + 1))
    skip = {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENCODING,
        tokenize.ENDMARKER,
    }
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type in skip:
            continue
        lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines - doc_lines)


def _is_test_path(path: Path) -> bool:
    return "tests" in path.parts or path.name.startswith("test_") or path.name == "conftest.py"


def _module_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(
        p
        for p in path.rglob("*.py")
        if not _is_test_path(p.relative_to(path)) and "__pycache__" not in p.parts
    )


#: folders directly under extensions/ that hold no extension
_NOT_EXTENSIONS = ("tests", "conformance")


def count_cases(path: Path) -> int:
    """The cases a case module registers: ``case(...)`` and ``register(...)`` calls in it."""
    total = 0
    for file in _module_files(path):
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                total += name == "case" or (name == "register" and isinstance(func, ast.Name))
    return total


def extension_sizes(root: Path, coverage: Coverage) -> list[dict[str, Any]]:
    """Lines of code and covered requirements of each module under ``extensions/``."""
    base = Path(root) / "extensions"
    if not base.is_dir():
        return []
    modules = []
    for path in sorted(base.iterdir()):
        if path.is_file() and path.suffix == ".py" and path.name != "__init__.py":
            if not _is_test_path(Path(path.name)):
                modules.append(path)
        elif (
            path.is_dir() and (path / "__init__.py").is_file() and path.name not in _NOT_EXTENSIONS
        ):
            modules.append(path)
    results = []
    for module in modules:
        name = module.relative_to(root).as_posix()
        files = _module_files(module)
        loc = sum(count_code_lines(f.read_text(encoding="utf-8")) for f in files)
        paths = {f.relative_to(root).as_posix() for f in files}
        by_rfc: dict[str, int] = {}
        for rfc in coverage.rfcs:
            covered = sum(
                1
                for entry in rfc.requirements
                if entry.status in ("complete", "missing test")
                and any(c.annotation.path in paths for c in entry.citations)
            )
            if covered:
                by_rfc[str(rfc.document.number)] = covered
        row: dict[str, Any] = {
            "module": name,
            "lines_of_code": loc,
            "requirements": {"covered": sum(by_rfc.values()), "by_rfc": by_rfc},
        }
        stem = module.stem if module.is_file() else module.name
        for cases in (base / "conformance" / f"{stem}.py", base / "conformance" / stem):
            if cases.is_file() or (cases / "__init__.py").is_file():
                row["conformance_cases"] = count_cases(cases)
        results.append(row)
    return results


# --- JSON ---------------------------------------------------------------------------------


def _annotation_json(a: Annotation) -> dict[str, Any]:
    return {
        "path": a.path,
        "line": a.line,
        "block": list(a.block) if a.block else None,
        "target": a.target,
        "rfc": a.rfc,
        "section": a.section,
        "type": a.type,
        "quote": a.quote,
        "meta": dict(a.meta),
        "origin": a.origin,
    }


def _citation_json(item: Resolved) -> dict[str, Any]:
    a = item.annotation
    return {
        "path": a.path,
        "line": a.line,
        "block": list(a.block) if a.block else None,
        "type": a.type,
        "quote": a.quote,
        "origin": a.origin,
    }


def to_json(coverage: Coverage, generated: _dt.datetime | None = None) -> dict[str, Any]:
    """The report as JSON-ready data (schema in the module docstring)."""
    when = generated or _dt.datetime.now(_dt.UTC)
    cited: dict[int, list[str]] = defaultdict(list)
    spans: dict[int, tuple[int, int]] = {id(r.annotation): r.span for r in coverage.resolved}
    rfcs = []
    for rfc in coverage.rfcs:
        doc = rfc.document
        url = f"{BASE_URL}rfc{doc.number}"
        per_section: dict[str, list[RequirementStatus]] = defaultdict(list)
        requirements = []
        for entry in rfc.requirements:
            req = entry.requirement
            per_section[req.section].append(entry)
            for c in entry.citations:
                cited[id(c.annotation)].append(req.id)
            requirements.append(
                {
                    "id": req.id,
                    "rfc": req.rfc,
                    "section": req.section,
                    "ordinal": req.ordinal,
                    "level": req.level,
                    "keyword": req.keyword,
                    "text": req.text,
                    "start": req.start,
                    "end": req.end,
                    "declared": entry.declared,
                    "status": entry.status,
                    "citations": [_citation_json(c) for c in entry.citations],
                }
            )
        sections = [
            {
                "number": s.number,
                "title": s.title,
                "kind": s.kind,
                "depth": s.level,
                "anchor": s.anchor,
                "url": f"{url}#{s.anchor}",
                **_counts(per_section.get(s.number, ())),
            }
            for s in doc.sections
        ]
        rfcs.append(
            {
                "rfc": doc.number,
                "title": doc.title,
                "url": url,
                **_counts(rfc.requirements),
                "sections": sections,
                "requirements": requirements,
            }
        )
    annotations = []
    for a in coverage.annotations:
        entry = _annotation_json(a)
        span = spans.get(id(a))
        entry["valid"] = span is not None
        entry["span"] = list(span) if span else None
        entry["requirements"] = cited.get(id(a), [])
        annotations.append(entry)
    return {
        "format": 1,
        "generated": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "statuses": list(STATUSES),
        "levels": list(LEVELS),
        "rfcs": rfcs,
        "annotations": annotations,
        "extensions": coverage.extensions,
        "diagnostics": [str(d) for d in coverage.diagnostics],
    }


# --- snapshot -----------------------------------------------------------------------------


def snapshot_of(coverage: Coverage) -> dict[str, str]:
    """``{requirement id: status}`` for every requirement in the report."""
    return {e.requirement.id: e.status for r in coverage.rfcs for e in r.requirements}


def write_snapshot(path: Path, statuses: dict[str, str]) -> None:
    data = {"format": 1, "requirements": dict(sorted(statuses.items()))}
    Path(path).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def read_snapshot(path: Path) -> dict[str, str]:
    """The snapshot's ``{id: status}``; raises ValueError naming the defect."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the coverage snapshot: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: malformed coverage snapshot: {exc.msg}") from None
    requirements = data.get("requirements") if isinstance(data, dict) else None
    if not isinstance(requirements, dict) or not all(
        isinstance(v, str) and v in RANK for v in requirements.values()
    ):
        raise ValueError(
            f"{path}: malformed coverage snapshot: expected {{'requirements': {{id: status}}}}"
        )
    return requirements


@dataclass
class SnapshotDiff:
    dropped: list[tuple[str, str, str | None]]  # (id, old status, new status or None if gone)
    improved: list[tuple[str, str | None, str]]  # (id, old status or None if new, new status)

    @property
    def ok(self) -> bool:
        return not self.dropped


def _worse(old: str, new: str) -> bool:
    return RANK[new] < RANK[old] or (RANK[new] == RANK[old] and new != old)


def compare_snapshot(old: dict[str, str], new: dict[str, str]) -> SnapshotDiff:
    """What got worse (or disappeared) and what got better since the snapshot."""
    dropped: list[tuple[str, str, str | None]] = []
    improved: list[tuple[str, str | None, str]] = []
    for rid, status in sorted(old.items()):
        now = new.get(rid)
        if now is None or _worse(status, now):
            dropped.append((rid, status, now))
        elif now != status:
            improved.append((rid, status, now))
    for rid in sorted(set(new) - set(old)):
        improved.append((rid, None, new[rid]))
    return SnapshotDiff(dropped, improved)


# --- text ---------------------------------------------------------------------------------


def text_summary(coverage: Coverage, rfcs: Sequence[int] | None = None) -> str:
    """Per RFC: the number of requirements and the count per status, per level."""
    out: list[str] = []
    chosen = set(rfcs) if rfcs else None
    columns = ("total", *STATUSES)
    widths = [max(len(c), 5) + 2 for c in columns]
    header = f"  {'level':<7}" + "".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True))
    header += f"{'complete%':>11}"
    for rfc in coverage.rfcs:
        doc = rfc.document
        if chosen is not None and doc.number not in chosen:
            continue
        counts = _counts(rfc.requirements)
        out.append(f"RFC {doc.number}: {doc.title} — {counts['total']} requirements")
        out.append(header)
        rows = [(lvl, counts["by_level"][lvl]) for lvl in counts["by_level"]]
        rows.append(("all", {"total": counts["total"], **counts["by_status"]}))
        for name, row in rows:
            pct = _percent(row["complete"], row["total"])
            out.append(
                f"  {name:<7}"
                + "".join(f"{row[c]:>{w}}" for c, w in zip(columns, widths, strict=True))
                + f"{pct:>10.1f}%"
            )
    files = len({a.path for a in coverage.annotations})
    out.append(
        f"annotations: {len(coverage.annotations)} in {files} files, "
        f"{len(coverage.resolved)} resolved"
    )
    for ext in coverage.extensions:
        out.append(
            f"extension {ext['module']}: {ext['lines_of_code']} lines of code, "
            f"{ext['requirements']['covered']} requirements covered"
            + (
                f", {ext['conformance_cases']} conformance cases"
                if "conformance_cases" in ext
                else ""
            )
        )
    return "\n".join(out)
