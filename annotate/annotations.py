"""Annotation scanner: duvet's annotation grammar in Python comments and TOML files.

An annotation is a block of comment lines right above the code it cites::

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
    ##= type=implementation
    ##% If an unreliable transport is being used, the client transaction
    ##% MUST start timer A with a value of T1.
    def start_timer_a(...):

- The first ``##=`` line is the *target*: an RFC URL whose fragment names a section
  (``#section-17.1.1.2``) or an appendix (``#appendix-A``).
- Further ``##=`` lines are ``key=value`` meta lines (`META_KEYS`); ``type`` defaults to
  ``implementation``.
- ``##%`` lines quote the spec; line breaks and spacing may differ from the RFC.
- Several annotations may stack above one block: each new ``##=`` URL line starts one.

The *block* an annotation belongs to is the first code line after it (blank lines and plain
comments skipped) and, when that line starts a ``def``/``class`` (decorators included), the
whole definition; otherwise the group of sibling statements up to the next blank line, the
next ``def``/``class`` or the end of the enclosing suite.  Blocks are 1-based, inclusive line
ranges.

Annotations that concern no code (a feature skipped as a whole, say S/MIME, RFC 3261 §23) live
in ``*.annotations.toml`` files (also ``exceptions.toml``)::

    [[annotation]]
    target = "https://www.rfc-editor.org/rfc/rfc3261#section-23"
    type = "exception"
    reason = "S/MIME is out of scope"
    quote = '''optional: a sentence of the section'''

A TOML annotation without ``quote`` covers the whole section (and its subsections).

The scanner checks the grammar only (targets, keys, types, reasons, quotes present); whether
the quote occurs in the RFC is the checker's job (`annotate.checker`).
"""

from __future__ import annotations

import ast
import os
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "META_KEYS",
    "ROOTS",
    "TOML_TYPES",
    "TYPES",
    "VERIFY_KINDS",
    "Annotation",
    "ScanError",
    "is_annotation_toml",
    "iter_source_files",
    "parse_target",
    "scan_file",
    "scan_source",
    "scan_toml",
    "scan_tree",
]

#: The folders of the repository that hold annotated code.
ROOTS: tuple[str, ...] = ("rfc3261", "extensions", "conformance")

#: Annotation types, duvet's vocabulary.
TYPES: frozenset[str] = frozenset(
    {"implementation", "test", "implication", "exception", "todo", "spec"}
)
#: Types that make sense without code (TOML annotations).
TOML_TYPES: frozenset[str] = frozenset({"exception", "todo", "implication", "spec"})
#: Meta keys allowed on ``##=`` lines (besides the target).
META_KEYS: frozenset[str] = frozenset({"type", "reason", "tracking-issue", "level", "verify"})
#: Values of the ``verify`` meta key: ``absence`` marks an implementation annotation whose
#: requirement forbids a behaviour the code simply does not have (nothing to break; the
#: ``reason`` says where the absence lies).  See `annotate.verify`.
VERIFY_KINDS: frozenset[str] = frozenset({"absence"})
LEVELS: frozenset[str] = frozenset({"MUST", "SHOULD", "MAY"})

_TOML_KEYS = frozenset({"target", "type", "reason", "tracking-issue", "level", "quote"})
_SKIP_DIRS = frozenset(
    {
        "__pycache__",
        ".pytest_cache",
        ".ruff_cache",
        ".mypy_cache",
        ".hypothesis",
        ".cache",
        "node_modules",  # npm packages of the browser tests (rfc3261/tests/browser)
    }
)
_TARGET = re.compile(
    r"https://www\.rfc-editor\.org/rfc/rfc(?P<rfc>[1-9][0-9]*)(?:\.html|\.txt)?"
    r"#(?:(?P<section>section-[0-9]+(?:\.[0-9]+)*)|(?P<appendix>appendix-[A-Z](?:\.[0-9]+)*))"
)
_META = re.compile(r"(?P<key>[A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?P<value>.*)")
_CLAUSE = re.compile(r"(else|elif|except|finally|case)\b")


@dataclass(frozen=True)
class ScanError:
    """A defect found while reading annotations: ``path:line: message``."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class Annotation:
    """One annotation: where it is, what it cites, and the code block it belongs to.

    ``path`` is relative to the scanned root (POSIX separators) when scanned with
    `scan_tree`; ``line`` is the line of the target (``##=`` URL line or TOML table header);
    ``rfc``/``section`` come from the target (``None`` when the target is malformed;
    ``section`` is ``"17.1.1.2"`` or ``"A"``); ``quote`` is the quoted text as written (lines
    joined by newlines, ``""`` when absent); ``block`` is the cited code's 1-based inclusive
    line range, ``None`` for TOML annotations.
    """

    path: str
    line: int
    target: str
    rfc: int | None
    section: str | None
    type: str = "implementation"
    meta: dict[str, str] = field(default_factory=dict)
    quote: str = ""
    block: tuple[int, int] | None = None
    origin: str = "code"

    @property
    def anchor(self) -> str | None:
        """The section anchor, ``section-17.1.1.2`` or ``appendix-A``."""
        if self.section is None:
            return None
        kind = "section" if self.section[0].isdigit() else "appendix"
        return f"{kind}-{self.section}"

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}"


def _unknown(what: str, value: str, allowed: Iterable[str]) -> str:
    return f"unknown {what} {value!r} (expected one of {', '.join(sorted(allowed))})"


def parse_target(target: str) -> tuple[int, str] | None:
    """``(rfc, section)`` for a target URL, ``None`` if it is not of the accepted form."""
    m = _TARGET.fullmatch(target.strip())
    if m is None:
        return None
    anchor = m["section"] or m["appendix"]
    return int(m["rfc"]), anchor.split("-", 1)[1]


# --- scanning Python source ---------------------------------------------------------------


def scan_source(text: str, path: str) -> tuple[list[Annotation], list[ScanError]]:
    """Annotations and grammar errors in one Python source text."""
    if "##" not in text:
        return [], []
    lines = text.splitlines()
    annotations: list[Annotation] = []
    errors: list[ScanError] = []
    pending: list[Annotation] = []  # the annotations of the current comment run
    quoting = False  # the current annotation has quote lines already
    typed: Annotation | None = None  # the last annotation given a type= line
    waiting: list[tuple[list[Annotation], int]] = []  # (run, line after the run)

    def error(line: int, message: str) -> None:
        errors.append(ScanError(path, line, message))

    def close_run(next_line: int) -> None:
        nonlocal pending, quoting
        if pending:
            waiting.append((pending, next_line))
        pending = []
        quoting = False

    for index, raw in enumerate(lines):
        stripped = raw.lstrip()
        lineno = index + 1
        if not stripped.startswith("##"):
            if pending:
                close_run(lineno)
            continue
        marker = stripped[:3]
        body = stripped[3:]
        if marker == "##=":
            value = body.strip()
            meta = _META.fullmatch(value)
            if meta is not None:
                key, val = meta["key"].lower(), meta["value"].strip()
                if not pending:
                    error(lineno, f"'##= {value}' meta line without a target URL line above it")
                    continue
                current = pending[-1]
                if quoting:
                    error(
                        lineno, f"meta line '{key}=' after the quote; put it above the '##%' lines"
                    )
                if key not in META_KEYS:
                    error(lineno, _unknown("meta key", key, META_KEYS))
                if key == "type":
                    if typed is current:
                        error(lineno, "meta key 'type' given twice")
                    typed = current
                    current.type = val
                    if val not in TYPES:
                        error(lineno, _unknown("annotation type", val, TYPES))
                else:
                    if key in current.meta:
                        error(lineno, f"meta key {key!r} given twice")
                    current.meta[key] = val
                    if key == "level" and val.upper() not in LEVELS:
                        error(lineno, f"unknown level {val!r} (expected MUST, SHOULD or MAY)")
                    if key == "verify" and val not in VERIFY_KINDS:
                        error(lineno, _unknown("verify kind", val, VERIFY_KINDS))
                continue
            # A target line starts a new annotation.
            parsed = parse_target(value)
            if parsed is None:
                error(
                    lineno,
                    f"malformed target {value!r}: expected "
                    "https://www.rfc-editor.org/rfc/rfcNNNN#section-X.Y or #appendix-A",
                )
            rfc, section = parsed if parsed else (None, None)
            pending.append(Annotation(path, lineno, value, rfc, section))
            quoting = False
        elif marker == "##%":
            if not pending:
                error(lineno, "'##%' quote line not preceded by a '##=' target line")
                continue
            quote_line = body[1:] if body.startswith(" ") else body
            current = pending[-1]
            current.quote = f"{current.quote}\n{quote_line}" if current.quote else quote_line
            quoting = True
        else:
            # A plain '##' comment (a heading, say) ends the run like any other line.
            if pending:
                close_run(lineno)
    if pending:
        close_run(len(lines) + 1)

    if waiting:
        finder = _BlockFinder(text, lines)
        for run, next_line in waiting:
            start = finder.first_code_line(next_line)
            block = finder.block(start) if start is not None else None
            for annotation in run:
                annotation.block = block
                if block is None:
                    error(annotation.line, "annotation is not followed by any code block")
                _check_local(annotation, errors)
                annotations.append(annotation)
    return annotations, errors


def _check_local(annotation: Annotation, errors: list[ScanError]) -> None:
    """Grammar checks that need the whole annotation."""
    where = (annotation.path, annotation.line)
    if annotation.origin == "code" and not annotation.quote.strip():
        errors.append(
            ScanError(*where, "annotation has no quote: add '##%' lines with the spec's words")
        )
    if annotation.type == "exception" and not annotation.meta.get("reason", "").strip():
        errors.append(ScanError(*where, "exception without a reason: add '##= reason=...'"))


class _BlockFinder:
    """Line ranges of code blocks, from the syntax tree (indentation when it won't parse)."""

    def __init__(self, text: str, lines: list[str]) -> None:
        self.lines = lines
        self.starts: dict[int, tuple[ast.stmt, list[ast.stmt], int]] = {}
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            return
        self._index(tree)

    def _index(self, tree: ast.Module) -> None:
        # Statements only: expressions never start a block, and skipping them keeps this fast.
        suites: list[list[ast.stmt]] = [tree.body]
        while suites:
            suite = suites.pop()
            for i, stmt in enumerate(suite):
                self.starts.setdefault(_first_line(stmt), (stmt, suite, i))
                for name in ("body", "orelse", "finalbody"):
                    child = getattr(stmt, name, None)
                    if child and isinstance(child, list) and isinstance(child[0], ast.stmt):
                        suites.append(child)
                for holder in (*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())):
                    suites.append(holder.body)

    def first_code_line(self, lineno: int) -> int | None:
        """The first line at or after ``lineno`` that is neither blank nor a comment."""
        for index in range(lineno - 1, len(self.lines)):
            stripped = self.lines[index].strip()
            if stripped and not stripped.startswith("#"):
                return index + 1
        return None

    def block(self, start: int) -> tuple[int, int]:
        found = self.starts.get(start)
        if found is None:
            return self._by_indentation(start)
        stmt, suite, i = found
        end = stmt.end_lineno or start
        if _is_definition(stmt):
            return start, end
        for sibling in suite[i + 1 :]:
            first = _first_line(sibling)
            if _is_definition(sibling) or self._blank_between(end, first):
                break
            end = sibling.end_lineno or first
        return start, end

    def _blank_between(self, end: int, first: int) -> bool:
        return any(not self.lines[k].strip() for k in range(end, first - 1))

    def _by_indentation(self, start: int) -> tuple[int, int]:
        """Fallback for lines that start no statement (``else:``) or files that don't parse."""
        head = self.lines[start - 1]
        indent = len(head) - len(head.lstrip())
        clause = _CLAUSE.match(head.lstrip()) is not None
        end = start
        for index in range(start, len(self.lines)):
            line = self.lines[index]
            if not line.strip():
                break
            depth = len(line) - len(line.lstrip())
            if depth < indent or (clause and depth == indent):
                break
            end = index + 1
        return start, end


def _first_line(stmt: ast.stmt) -> int:
    decorators = getattr(stmt, "decorator_list", None)
    if decorators:
        return min(d.lineno for d in decorators)
    return stmt.lineno


def _is_definition(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)


# --- scanning TOML ------------------------------------------------------------------------


def is_annotation_toml(name: str) -> bool:
    """Whether a file name is that of an annotation TOML file."""
    return name.endswith("annotations.toml") or name == "exceptions.toml"


def scan_toml(text: str, path: str) -> tuple[list[Annotation], list[ScanError]]:
    """Annotations and errors in one annotation TOML text (``[[annotation]]`` tables)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        return [], [ScanError(path, int(m[1]) if m else 1, f"malformed TOML: {exc}")]
    header_lines = [
        i + 1 for i, line in enumerate(text.splitlines()) if line.strip() == "[[annotation]]"
    ]
    errors: list[ScanError] = []
    extra = sorted(set(data) - {"annotation"})
    if extra:
        errors.append(
            ScanError(path, 1, f"unknown top-level key(s) {', '.join(extra)}: use [[annotation]]")
        )
    entries = data.get("annotation", [])
    if not isinstance(entries, list):
        return [], [*errors, ScanError(path, 1, "'annotation' must be an array of tables")]
    annotations: list[Annotation] = []
    for i, entry in enumerate(entries):
        line = header_lines[i] if i < len(header_lines) else 1
        if not isinstance(entry, dict):
            errors.append(ScanError(path, line, "annotation entry is not a table"))
            continue
        bad = [k for k, v in entry.items() if not isinstance(v, str)]
        for key in bad:
            errors.append(ScanError(path, line, f"{key!r} must be a string"))
        values = {k: v for k, v in entry.items() if isinstance(v, str)}
        for key in sorted(set(values) - _TOML_KEYS):
            errors.append(ScanError(path, line, _unknown("key", key, _TOML_KEYS)))
        target = values.get("target", "").strip()
        parsed = parse_target(target) if target else None
        if not target:
            errors.append(ScanError(path, line, "annotation has no 'target'"))
        elif parsed is None:
            errors.append(
                ScanError(
                    path,
                    line,
                    f"malformed target {target!r}: expected "
                    "https://www.rfc-editor.org/rfc/rfcNNNN#section-X.Y or #appendix-A",
                )
            )
        type_ = values.get("type", "")
        if not type_:
            errors.append(ScanError(path, line, "TOML annotation has no 'type'"))
        elif type_ not in TYPES:
            errors.append(
                ScanError(
                    path,
                    line,
                    _unknown("annotation type", type_, TYPES),
                )
            )
        elif type_ not in TOML_TYPES:
            errors.append(
                ScanError(
                    path,
                    line,
                    f"type {type_!r} needs code: annotate the code block instead "
                    f"(TOML allows {', '.join(sorted(TOML_TYPES))})",
                )
            )
        level = values.get("level")
        if level is not None and level.upper() not in LEVELS:
            errors.append(
                ScanError(path, line, f"unknown level {level!r} (expected MUST, SHOULD or MAY)")
            )
        meta = {k: v for k, v in values.items() if k not in {"target", "type", "quote"}}
        rfc, section = parsed if parsed else (None, None)
        annotation = Annotation(
            path, line, target, rfc, section, type_, meta, values.get("quote", ""), None, "toml"
        )
        _check_local(annotation, errors)
        annotations.append(annotation)
    return annotations, errors


# --- files and trees ----------------------------------------------------------------------


def scan_file(path: Path, display: str | None = None) -> tuple[list[Annotation], list[ScanError]]:
    """Annotations and errors of one ``.py`` or annotation TOML file."""
    name = display if display is not None else str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [ScanError(name, 1, f"cannot read file: {exc}")]
    if Path(path).suffix == ".toml":
        return scan_toml(text, name)
    return scan_source(text, name)


def iter_source_files(root: Path, roots: Iterable[str] = ROOTS) -> Iterator[Path]:
    """The ``.py`` and annotation TOML files under ``root/<each of roots>``, sorted.

    Caches (``__pycache__``, ``.pytest_cache``, ...) are skipped.
    """
    for top in roots:
        base = Path(root) / top
        if not base.is_dir():
            continue
        found: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [
                d for d in dirnames if d not in _SKIP_DIRS and not d.endswith(".egg-info")
            ]
            for filename in filenames:
                if filename.endswith(".py") or is_annotation_toml(filename):
                    found.append(Path(dirpath) / filename)
        yield from sorted(found)


def scan_tree(
    root: Path, roots: Iterable[str] = ROOTS
) -> tuple[list[Annotation], list[ScanError]]:
    """All annotations and grammar errors under the given folders of ``root``.

    Paths in the results are relative to ``root`` with POSIX separators.
    """
    root = Path(root)
    annotations: list[Annotation] = []
    errors: list[ScanError] = []
    for path in iter_source_files(root, roots):
        found, errs = scan_file(path, path.relative_to(root).as_posix())
        annotations.extend(found)
        errors.extend(errs)
    return annotations, errors
