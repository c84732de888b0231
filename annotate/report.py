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
rule that applies winning (duvet's vocabulary, made stricter by issue 15 so that no status
overstates):

1. ``verified``          complete, and ``python -m annotate verify`` found that a cited test
                         fails when the cited code is broken (the verification snapshot
                         ``annotate/verify_snapshot.json`` says ``verified``);
2. ``complete``          an implementation *and* a test cite it, quoting every keyword clause;
3. ``partial``           an implementation and a test cite it, but some keyword clause is
                         quoted by neither (rule: the requirement's text is cut at its clause
                         boundaries -- ", and", "; ", " and ", ", but", ", or" -- and each
                         piece holding a BCP 14 keyword is a clause; a clause is covered when
                         an implementation quote and a test quote both contain its keyword);
4. ``implied``           an implication cites it and no implementation or test does;
5. ``exception``         an exception cites it (a deliberate deviation outranks partial work);
6. ``missing test``      an implementation cites it, no test;
7. ``missing citation``  a test cites it, no implementation;
8. ``todo``              a todo cites it;
9. ``not started``       nothing cites it.

A todo or exception quoting a requirement that code and tests also cite does not change its
status but is a warning of ``annotate check`` (`conflict_warnings`).  ``complete%`` counts
verified + complete; ``verified%`` counts verified; a level with no requirements shows n/a.

The snapshot check ranks statuses in that order (``missing test`` = ``missing citation``); a
status *got worse* when its rank fell, or when it moved between the two partial statuses (a
citation was lost either way).  A format-1 snapshot (written before verified/partial/implied)
is compared with the statuses under the format-1 rules (``legacy_status_of``: an implication
alone complete, no partial), so a lost citation still shows while the stricter rules do not
count as drops; ``--update-snapshot`` writes format 2.

JSON schema (``--json PATH``; the documentation site is rendered from it)
=====================================================================
::

    {
      "format": 1,
      "generated": "2026-01-01T00:00:00Z",          # UTC, when the report ran
      "statuses": ["verified", "complete", ...],    # in precedence order
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
          "legacy_status": "complete",               # under the format-1 rules
          "verdict": "verified" | "survived" | ... | null,  # annotate verify, if run
          "clauses": [covered, total],               # keyword clauses quoted in code+test
          "fragment": false,                         # one clause of a longer sentence
          "sentence": "...",                         # that whole sentence (= text if not)
          "conflicts": ["path:line", ...],           # todo/exception notes contradicting it
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
A module *covers* a requirement whose status is ``verified``, ``complete``, ``partial`` or
``missing test`` and that an annotation in the module's files cites.

Snapshot (``annotate/coverage_snapshot.json``): ``{"format": 2, "requirements": {id:
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
    "conflict_warnings",
    "count_code_lines",
    "extension_sizes",
    "fail_under",
    "legacy_status_of",
    "level_totals",
    "parse_fail_under",
    "read_snapshot",
    "snapshot_format",
    "snapshot_of",
    "status_of",
    "text_summary",
    "to_json",
    "write_snapshot",
]

STATUSES: tuple[str, ...] = (
    "verified",
    "complete",
    "partial",
    "implied",
    "exception",
    "missing test",
    "missing citation",
    "todo",
    "not started",
)
LEVELS: tuple[str, ...] = ("MUST", "SHOULD", "MAY")
RANK: dict[str, int] = {
    "verified": 8,
    "complete": 7,
    "partial": 6,
    "implied": 5,
    "exception": 4,
    "missing test": 3,
    "missing citation": 3,
    "todo": 1,
    "not started": 0,
}
#: The statuses of format 1 (before ``verified``, ``partial`` and ``implied``).
LEGACY_STATUSES: tuple[str, ...] = (
    "complete",
    "exception",
    "missing test",
    "missing citation",
    "todo",
    "not started",
)
#: Statuses whose requirement is implemented and tested (what "complete%" counts).
DONE: tuple[str, ...] = ("verified", "complete")
BASE_URL = "https://www.rfc-editor.org/rfc/"
DEFAULT_RFC = 3261


def status_of(types: Iterable[str], *, whole: bool = True, verified: bool = False) -> str:
    """The status of a requirement cited by annotations of these types (see module doc).

    ``whole``: every keyword clause is quoted by an implementation and by a test;
    ``verified``: the verification snapshot says ``verified``.
    """
    kinds = set(types)
    if "implementation" in kinds and "test" in kinds:
        if not whole:
            return "partial"
        return "verified" if verified else "complete"
    if "exception" in kinds:
        return "exception"
    if "implication" in kinds and not kinds & {"implementation", "test"}:
        return "implied"
    return _rest(kinds)


def legacy_status_of(types: Iterable[str]) -> str:
    """The status under the format-1 rules (an implication alone complete, no partial)."""
    kinds = set(types)
    if ("implementation" in kinds and "test" in kinds) or "implication" in kinds:
        return "complete"
    if "exception" in kinds:
        return "exception"
    return _rest(kinds)


def _rest(kinds: set[str]) -> str:
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
    legacy: str = "not started"  # the status under the format-1 rules
    clauses: tuple[int, int] = (1, 1)  # (keyword clauses quoted in code and test, all)
    verdict: str | None = None  # from the verification snapshot

    @property
    def conflicts(self) -> list[Resolved]:
        """The project's own todo/exception notes quoting a requirement code and tests cite
        (a note on a whole section is too broad to contradict one requirement; on a partial
        requirement a note tracks the clauses no citation covers, and contradicts nothing)."""
        kinds = {c.annotation.type for c in self.citations}
        if not {"implementation", "test"} <= kinds or self.status == "partial":
            return []
        return [
            c
            for c in self.citations
            if c.annotation.type in ("todo", "exception") and not c.whole_section
        ]


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


def _clauses(entry: RequirementStatus) -> tuple[int, int]:
    """(keyword clauses quoted by an implementation and by a test, keyword clauses)."""
    from annotate.requirements import keyword_clauses

    req = entry.requirement
    clauses = [(req.start + a, req.start + b) for a, b in keyword_clauses(req.text)] or [
        (req.start, req.end)
    ]

    def quoted(kind: str, clause: tuple[int, int]) -> bool:
        return any(
            c.annotation.type == kind and c.span[0] <= clause[0] and clause[1] <= c.span[1]
            for c in entry.citations
        )

    done = sum(quoted("implementation", c) and quoted("test", c) for c in clauses)
    return done, len(clauses)


def _rfc_coverage(
    doc: RfcDocument, cites: list[Resolved], verdicts: dict[str, str] | None = None
) -> RfcCoverage:
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
        types = [c.annotation.type for c in entry.citations]
        entry.legacy = legacy_status_of(types)
        entry.clauses = _clauses(entry)
        entry.verdict = (verdicts or {}).get(entry.requirement.id)
        entry.status = status_of(
            types,
            whole=entry.clauses[0] == entry.clauses[1],
            verified=entry.verdict == "verified",
        )
    return RfcCoverage(doc, order)


def build_coverage(
    root: Path,
    store: SpecStore,
    roots: Iterable[str] = ROOTS,
    rfcs: Iterable[int] = (),
    extensions: bool = True,
    core: Iterable[int] = (DEFAULT_RFC,),
    verdicts: dict[str, str] | None = None,
) -> Coverage:
    """Scan ``root``, resolve the annotations and compute every requirement's status.

    The report covers the ``core`` RFCs (RFC 3261), every RFC an annotation targets and
    ``rfcs``.  ``verdicts`` are those of ``python -m annotate verify`` (default: the
    verification snapshot ``root/annotate/verify_snapshot.json``, none when absent).
    """
    root = Path(root)
    if verdicts is None:
        from annotate.verify import SNAPSHOT, read_verify_snapshot

        try:
            verdicts = read_verify_snapshot(root / SNAPSHOT)
        except ValueError as exc:
            verdicts = {}
            load_error: str | None = str(exc)
        else:
            load_error = None
    else:
        load_error = None
    annotations, errors = scan_tree(root, roots)
    docs = DocumentCache(store)
    resolved, diagnostics = diagnose(annotations, errors, docs)
    numbers = {*core, *rfcs, *(a.rfc for a in annotations if a.rfc is not None)}
    coverage = Coverage([], annotations, resolved, diagnostics, [], [])
    if load_error:
        coverage.load_errors.append(load_error)
    by_rfc: dict[int, list[Resolved]] = defaultdict(list)
    for item in resolved:
        by_rfc[item.document.number].append(item)
    for number in sorted(numbers):
        doc = docs.get(number)
        if isinstance(doc, str):
            coverage.load_errors.append(doc)
            continue
        coverage.rfcs.append(_rfc_coverage(doc, by_rfc[number], verdicts))
    if extensions:
        coverage.extensions = extension_sizes(root, coverage)
    return coverage


def conflict_warnings(coverage: Coverage) -> list[Diagnostic]:
    """A warning per todo/exception on a requirement that code and tests also cite.

    Such a requirement counts as complete (or verified), yet the project's own note says
    something is left undone or deliberately different: one of the two is wrong.
    """
    out = []
    for rfc in coverage.rfcs:
        for entry in rfc.requirements:
            for item in entry.conflicts:
                a = item.annotation
                note = a.meta.get("reason") or a.meta.get("tracking-issue") or ""
                out.append(
                    Diagnostic(
                        a.path,
                        a.line,
                        f"warning: {entry.requirement.id} is {entry.status} (cited in code and "
                        f"tests) but this {a.type} says otherwise"
                        + (f" ({note})" if note else "")
                        + "; drop the note or the citation",
                    )
                )
    return sorted(out)


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


def _percent(part: int, whole: int) -> float | None:
    """The percentage, None (shown "n/a") when there is nothing to count."""
    return None if whole == 0 else 100.0 * part / whole


def _pct_text(pct: float | None, width: int = 0) -> str:
    return f"{'n/a':>{width}}" if pct is None else f"{pct:>{width - 1 if width else 0}.1f}%"


def _done(row: dict[str, int], what: str) -> int:
    """Requirements counted by ``complete%`` (verified + complete) or ``verified%``."""
    return row.get("verified", 0) + (row.get("complete", 0) if what == "complete" else 0)


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
    coverage: Coverage,
    thresholds: Iterable[tuple[str, float]],
    rfcs: Iterable[int] | None = None,
    what: str = "complete",
) -> list[str]:
    """One message per level whose ``what``% is below its threshold.

    ``what`` is ``complete`` (verified or complete) or ``verified``.  A level with no
    requirements is n/a and never fails.
    """
    totals = level_totals(coverage, rfcs)
    failures = []
    for level, threshold in thresholds:
        counts = totals.get(level, {"total": 0})
        done = _done(counts, what)
        pct = _percent(done, counts["total"])
        if pct is not None and pct < threshold:
            failures.append(
                f"{level}: {pct:.1f}% {what} ({done} of {counts['total']}) is under {threshold:g}%"
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
                if entry.status in ("verified", "complete", "partial", "missing test")
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


def _sentence(rfc: RfcCoverage, req: Requirement) -> str:
    """The whole sentence a requirement belongs to (its own text when it is one)."""
    if req.sentence is None or not req.fragment:
        return req.text
    section = rfc.document.section(req.section)
    if section is None:
        return req.text
    return section.normalized[req.sentence[0] : req.sentence[1]]


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
                    "legacy_status": entry.legacy,
                    "verdict": entry.verdict,
                    "clauses": list(entry.clauses),
                    "fragment": req.fragment,
                    "sentence": _sentence(rfc, req),
                    "conflicts": [c.annotation.location for c in entry.conflicts],
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


def snapshot_of(coverage: Coverage, legacy: bool = False) -> dict[str, str]:
    """``{requirement id: status}`` for every requirement in the report.

    ``legacy``: the statuses under the format-1 rules, to compare with a format-1 snapshot.
    """
    return {
        e.requirement.id: e.legacy if legacy else e.status
        for r in coverage.rfcs
        for e in r.requirements
    }


#: The snapshot format `write_snapshot` writes: 2 has ``verified``, ``partial``, ``implied``.
SNAPSHOT_FORMAT = 2


def snapshot_format(path: Path) -> int:
    """The ``format`` of a snapshot file (1 when it says none or cannot be read)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 1
    value = data.get("format", 1) if isinstance(data, dict) else 1
    return value if isinstance(value, int) else 1


def write_snapshot(path: Path, statuses: dict[str, str]) -> None:
    data = {"format": SNAPSHOT_FORMAT, "requirements": dict(sorted(statuses.items()))}
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
    header += f"{'complete%':>11}{'verified%':>11}"
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
            out.append(
                f"  {name:<7}"
                + "".join(f"{row[c]:>{w}}" for c, w in zip(columns, widths, strict=True))
                + _pct_text(_percent(_done(row, "complete"), row["total"]), 11)
                + _pct_text(_percent(_done(row, "verified"), row["total"]), 11)
            )
    chosen_rfcs = [r for r in coverage.rfcs if chosen is None or r.document.number in chosen]
    conflicts = sum(bool(e.conflicts) for r in chosen_rfcs for e in r.requirements)
    if conflicts:
        out.append(
            f"{conflicts} requirement(s) cited in code and tests also carry a todo or "
            "exception (see `python -m annotate check`)"
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
