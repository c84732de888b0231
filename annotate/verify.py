"""Verification by breaking the code: does a cited test guard the cited code?

For each requirement cited by an implementation (a code block) *and* by a test,
`verify` works on a private copy of the tree:

1. it runs the cited tests on the intact copy; every one must pass (skips are ignored, but
   at least one must run);
2. it *neutralises* every implementation block citing the requirement (`neutralise`),
   runs the tests that passed, and restores the files.

The requirement is ``verified`` when at least one cited test fails with the blocks broken.
Otherwise a verdict says why not (`VERDICTS`).

Neutralising, per block kind (line numbers are kept: removed lines become blank):

- ``def`` (decorators included): the body after the docstring becomes
  ``raise NotImplementedError(...)``;
- ``class``: every method of it is neutralised so; a class without methods cannot be;
- an assignment in a module or class body (a constant, a table, a dataclass field with a
  default): its value is emptied (``{}``, ``()``, ``[]``, ``set()``, ``""``, ``0``; a bool
  negated; anything else ``None``).  When the module then no longer imports (a table
  unpacked at import time, a default that fails validation), the run is repeated with the
  value only *changed*: a number ``x`` becomes ``2x + 1``, a string gets ``-neutralised``
  appended, a tuple, list, set or dict loses its last item (in the innermost last
  container);
- any other statement (in a function body, or a module-level call): replaced by ``pass``;
- a clause (``else:``, ``except ...:``, ``elif ...:``) found by indentation: its body
  becomes ``pass``;
- a keyword argument on a line of its own inside a call (``stale=challenge.stale,``): its
  value is emptied (or changed), as an assignment's is;
- imports only, a one-line ``def``, a block spanning the whole module, a file that does not
  parse: not neutralised (verdict ``not neutralised``).

A requirement whose every implementation annotation says ``verify=absence`` (with a
``reason``) forbids a behaviour the code does not have: "a proxy MUST NOT modify the body",
"a UAS MUST ignore a header field it does not understand" (lazy parsing never reads it).
Removing code cannot add the forbidden behaviour, so nothing is broken: once its tests
pass on the intact tree it gets the verdict ``absence`` -- its own category, never counted
as ``verified``.

If a module no longer imports once neutralised, the tests error while being collected; that
is reported as ``not neutralised`` too (the tests would fail for a reason unrelated to the
requirement's behaviour).

Test ids: a ``type=test`` annotation on a test function (or inside one) stands for its
pytest node id (``path::test_x`` or ``path::TestX::test_x``; all parametrisations); on an
``@case("id", ...)`` conformance case it stands for
``annotate/verify_cases.py::test_case[id]``, the case run against our own program (so
does one on a registering call in a case module, ``torture("id", ...)``).  An annotation on
anything else (a helper, a fixture) names no test.

Results are cached in ``.cache/annotate-verify.json`` under a hash of the blocks' and
tests' source text, so a second run redoes only what changed; the verdicts (ids and verdicts
only) go to the snapshot ``annotate/verify_snapshot.json``.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from annotate.report import Coverage, RequirementStatus

__all__ = [
    "VERDICTS",
    "Candidate",
    "CannotNeutralise",
    "Outcome",
    "candidates",
    "changed_since",
    "neutralise",
    "node_id_of",
    "read_verify_keys",
    "read_verify_snapshot",
    "run_verify",
    "write_verify_snapshot",
]

#: Bump when the neutralisation or the verdict rules change: old cache entries then miss.
VERSION = "5"
CACHE = Path(".cache") / "annotate-verify.json"
SNAPSHOT = Path("annotate") / "verify_snapshot.json"
CASES_TEST = "annotate/verify_cases.py::test_case"

#: Verdicts, best first.
VERDICTS: dict[str, str] = {
    "verified": "a cited test fails with the cited code broken, and all pass intact",
    "survived": "every cited test still passes with the cited code broken",
    "fails intact": "a cited test fails, errors or hangs on the intact tree",
    "not neutralised": "a cited block could not be broken while keeping the module importable",
    "absence": "it forbids what the code never does (verify=absence): nothing to break",
    "no test": "no cited test could be run (not a test function, id not found, all skipped)",
    "timeout": "the tests outlived the time limit with the code broken",
}

_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    ".cache",
    "_build",
    "_generated",
    "*.egg-info",
    "node_modules",
)


class CannotNeutralise(Exception):
    """A block that cannot be broken without breaking its module's import."""


# --- neutralising -------------------------------------------------------------------------

_RAISE = 'raise NotImplementedError("neutralised by annotate verify")'
_CLAUSE = re.compile(r"(else|elif|except|finally|case)\b")


def _first_line(stmt: ast.stmt) -> int:
    decorators = getattr(stmt, "decorator_list", None)
    return min(d.lineno for d in decorators) if decorators else stmt.lineno


def _statements(tree: ast.Module) -> list[tuple[ast.stmt, list[ast.stmt], ast.AST]]:
    """Every statement with its suite and the node owning the suite."""
    out = []
    todo: list[tuple[list[ast.stmt], ast.AST]] = [(tree.body, tree)]
    while todo:
        suite, owner = todo.pop()
        for stmt in suite:
            out.append((stmt, suite, owner))
            for name in ("body", "orelse", "finalbody"):
                child = getattr(stmt, name, None)
                if child and isinstance(child, list) and isinstance(child[0], ast.stmt):
                    todo.append((child, stmt))
            for holder in (*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())):
                todo.append((holder.body, stmt))
    return out


def _changed(value: ast.expr) -> ast.expr | None:
    """``value`` changed: a number moved, a string altered, a container's last item dropped
    (inside the last nested container); None when no such change applies."""
    if isinstance(value, ast.Constant):
        v = value.value
        if isinstance(v, bool):
            return ast.Constant(not v)
        if isinstance(v, int | float):
            return ast.Constant(v * 2 + 1)
        if isinstance(v, str):
            return ast.Constant(v + "-neutralised")
        if isinstance(v, bytes):
            return ast.Constant(v + b"-neutralised")
        return None
    if isinstance(value, ast.Tuple | ast.List | ast.Set) and value.elts:
        last = _changed(value.elts[-1]) if _is_container(value.elts[-1]) else None
        elts = [*value.elts[:-1], last] if last is not None else value.elts[:-1]
        if isinstance(value, ast.Set):
            return ast.Set(elts=elts) if elts else ast.Call(ast.Name("set"), [], [])
        return type(value)(elts=elts, ctx=ast.Load())
    if isinstance(value, ast.Dict) and value.keys:
        return ast.Dict(keys=value.keys[:-1], values=value.values[:-1])
    return None


def _is_container(value: ast.expr) -> bool:
    return isinstance(value, ast.Tuple | ast.List | ast.Set | ast.Dict) and bool(
        getattr(value, "elts", None) or getattr(value, "keys", None)
    )


def _emptied(value: ast.expr) -> str:
    if isinstance(value, ast.Dict | ast.DictComp):
        return "{}"
    if isinstance(value, ast.List | ast.ListComp):
        return "[]"
    if isinstance(value, ast.Tuple):
        return "()"
    if isinstance(value, ast.Set | ast.SetComp):
        return "set()"
    if isinstance(value, ast.Constant) and not isinstance(value.value, bool):
        if isinstance(value.value, str | bytes):
            return repr(type(value.value)())
        if isinstance(value.value, int | float):
            return "0"
    new = _changed(value)
    return "None" if new is None else ast.unparse(ast.fix_missing_locations(new))


def _changed_value(value: ast.expr, gentle: bool) -> str:
    """The source of ``value`` emptied, or only changed when ``gentle``."""
    if not gentle:
        return _emptied(value)
    new = _changed(value)
    return "None" if new is None else ast.unparse(ast.fix_missing_locations(new))


def _keyword_at(tree: ast.Module, line: int) -> ast.keyword | None:
    """The keyword argument of a call written at ``line`` (``name=value,`` on a line of
    its own), if one is."""
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg and node.lineno == line:
            return node
    return None


def _argument_edit(
    argument: ast.keyword, lines: list[str], gentle: bool
) -> tuple[int, int, list[str]]:
    """The value of a keyword argument emptied (or changed): ``stale=challenge.stale`` ->
    ``stale=None``; a value over several lines keeps its line count."""
    value = argument.value
    first, last = value.lineno, value.end_lineno or value.lineno
    new = _changed_value(value, gentle)
    if new == ast.unparse(value):
        raise CannotNeutralise(
            f"the argument at line {argument.lineno} is empty: no change breaks it"
        )
    head = lines[first - 1][: value.col_offset]
    tail = lines[last - 1][value.end_col_offset or 0 :]
    return first, last, [head + new + tail]


def _def_edit(node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[int, int, list[str]]:
    body = node.body
    first = 0
    if (
        isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        first = 1
    if body[0].lineno == node.lineno:
        raise CannotNeutralise(f"one-line def {node.name} at line {node.lineno}")
    end = node.end_lineno or node.lineno
    indent = " " * body[0].col_offset
    if first == len(body):  # a docstring only: add the raise after it
        line = (body[0].end_lineno or body[0].lineno) + 1
        return line, line - 1, [indent + _RAISE]
    return body[first].lineno, end, [indent + _RAISE]


def _block_edits(
    tree: ast.Module, lines: list[str], block: tuple[int, int], gentle: bool
) -> tuple[list[tuple[int, int, list[str]]], str]:
    """Edits ``(first line, last line, new lines)`` that break ``block``, and their kind."""
    start, end = block
    found = [s for s in _statements(tree) if _first_line(s[0]) == start]
    if not found:
        argument = _keyword_at(tree, start)
        if argument is not None:
            return [_argument_edit(argument, lines, gentle)], (
                "argument changed" if gentle else "argument emptied"
            )
        head = lines[start - 1]
        if _CLAUSE.match(head.lstrip()) and end > start:
            body_indent = len(lines[start]) - len(lines[start].lstrip())
            return [(start + 1, end, [" " * body_indent + "pass"])], "clause body -> pass"
        raise CannotNeutralise(f"no statement starts at line {start}")
    stmt, suite, owner = found[0]
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
        return [_def_edit(stmt)], "def body raises"
    if isinstance(stmt, ast.ClassDef):
        methods = [s for s in stmt.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)]
        if not methods:
            raise CannotNeutralise(f"class {stmt.name} has no method to break")
        return [_def_edit(m) for m in methods], "every method raises"
    group = [s for s in suite if start <= _first_line(s) and (s.end_lineno or s.lineno) <= end]
    if all(isinstance(s, ast.Import | ast.ImportFrom) for s in group):
        raise CannotNeutralise(f"imports only at lines {start}-{end}")
    if isinstance(owner, ast.Module):
        rest = [
            s
            for s in tree.body
            if not isinstance(s, ast.Import | ast.ImportFrom)
            and not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
        ]
        if len(rest) > 1 and all(s in group for s in rest):
            raise CannotNeutralise("the block spans the whole module")
    edits = []
    kinds = set()
    top = isinstance(owner, ast.Module | ast.ClassDef)
    for s in group:
        indent = " " * s.col_offset
        first, last = _first_line(s), s.end_lineno or s.lineno
        if top and isinstance(s, ast.Assign | ast.AnnAssign) and s.value is not None:
            seg_end = s.value.lineno, s.value.col_offset
            prefix = lines[first - 1][: s.value.col_offset] if seg_end[0] == first else None
            if prefix is None:  # the value starts on a later line: rebuild the head
                targets = s.targets if isinstance(s, ast.Assign) else [s.target]
                names = " = ".join(ast.unparse(t) for t in targets)
                if isinstance(s, ast.AnnAssign):
                    names += f": {ast.unparse(s.annotation)}"
                prefix = f"{indent}{names} = "
            new = _changed_value(s.value, gentle)
            if new == ast.unparse(s.value):
                raise CannotNeutralise(f"the value at line {first} is empty: no change breaks it")
            edits.append((first, last, [prefix + new]))
            kinds.add("value changed" if gentle else "value emptied")
        elif isinstance(s, ast.Import | ast.ImportFrom):
            continue
        else:
            edits.append((first, last, [indent + "pass"]))
            kinds.add("statement -> pass")
    return edits, ", ".join(sorted(kinds))


def neutralise(
    text: str, blocks: Iterable[tuple[int, int]], gentle: bool = False
) -> tuple[str, list[str]]:
    """``text`` with every block broken (line count kept), and the kind of each edit.

    ``gentle`` changes values instead of emptying them (for a module that no longer imports
    with a value emptied).

    Raises `CannotNeutralise` naming the block that cannot be broken.
    """
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError) as exc:
        raise CannotNeutralise(f"does not parse: {exc}") from None
    lines = text.splitlines()
    chosen: list[tuple[int, int]] = []
    for block in sorted(set(blocks), key=lambda b: (b[0], -b[1])):
        if any(a <= block[0] and block[1] <= b for a, b in chosen):
            continue  # inside a block already broken
        chosen.append(block)
    edits: list[tuple[int, int, list[str]]] = []
    kinds: list[str] = []
    for block in chosen:
        found, kind = _block_edits(tree, lines, block, gentle)
        edits.extend(found)
        kinds.append(kind)
    for first, last, new in sorted(edits, reverse=True):
        old = last - first + 1
        lines[first - 1 : last] = new + [""] * max(0, old - len(new))
    return "\n".join(lines) + "\n", kinds


# --- test ids -----------------------------------------------------------------------------


def _case_id(node: ast.AST) -> str | None:
    for deco in getattr(node, "decorator_list", ()):
        if (
            isinstance(deco, ast.Call)
            and getattr(deco.func, "id", getattr(deco.func, "attr", "")) == "case"
            and deco.args
            and isinstance(deco.args[0], ast.Constant)
            and isinstance(deco.args[0].value, str)
        ):
            return deco.args[0].value
    return None


def node_id_of(path: str, text: str, line: int) -> str | None:
    """The pytest node id of the test whose block holds ``line`` of ``path`` (or None)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None

    def inside(node: ast.stmt) -> bool:
        return _first_line(node) <= line <= (node.end_lineno or node.lineno)

    cases_module = "/conformance/" in f"/{path}" and "/tests/" not in f"/{path}"
    for node in tree.body:
        if not inside(node):
            continue
        if (
            cases_module
            and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and node.value.args
            and isinstance(node.value.args[0], ast.Constant)
            and isinstance(node.value.args[0].value, str)
        ):  # a case registered by a call: torture("torture-4475-unkscm", ...)
            return f"{CASES_TEST}[{node.value.args[0].value}]"
        case = _case_id(node)
        if case is not None:
            return f"{CASES_TEST}[{case}]"
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            return f"{path}::{node.name}"
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for sub in node.body:
                if (
                    isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef)
                    and sub.name.startswith("test")
                    and inside(sub)
                ):
                    return f"{path}::{node.name}::{sub.name}"
            return f"{path}::{node.name}"
    return None


# --- candidates ---------------------------------------------------------------------------


@dataclass
class Candidate:
    """A requirement cited in code and in tests, ready to verify."""

    id: str
    level: str
    blocks: dict[str, list[tuple[int, int]]]  # path -> implementation blocks
    tests: list[str]  # node ids
    unresolved: list[str]  # "path:line" of test annotations that name no test
    key: str = ""
    absence: str = ""  # the reason, when every implementation citation says verify=absence


def _sections_match(section: str, wanted: Sequence[str]) -> bool:
    return any(section == w or section.startswith(w + ".") for w in wanted)


def candidates(
    coverage: Coverage,
    root: Path,
    rfcs: Sequence[int] = (),
    sections: Sequence[str] = (),
    ids: Sequence[str] = (),
) -> list[Candidate]:
    """The requirements to verify: cited by a code block and by a test annotation."""
    texts: dict[str, str] = {}

    def text(path: str) -> str:
        if path not in texts:
            texts[path] = (root / path).read_text(encoding="utf-8")
        return texts[path]

    out = []
    for rfc in coverage.rfcs:
        if rfcs and rfc.document.number not in rfcs:
            continue
        for entry in rfc.requirements:
            req = entry.requirement
            if sections and not _sections_match(req.section, sections):
                continue
            if ids and not any(req.id == i or req.id.startswith(i + "-") for i in ids):
                continue
            found = _candidate(entry, text)
            if found is not None:
                out.append(found)
    return out


def _candidate(entry: RequirementStatus, text: Callable[[str], str]) -> Candidate | None:
    impl = [
        c.annotation
        for c in entry.citations
        if c.annotation.type == "implementation" and c.annotation.block
    ]
    tests = [c.annotation for c in entry.citations if c.annotation.type == "test"]
    if not impl or not tests:
        return None
    blocks: dict[str, list[tuple[int, int]]] = {}
    for a in impl:
        assert a.block is not None
        blocks.setdefault(a.path, [])
        if a.block not in blocks[a.path]:
            blocks[a.path].append(a.block)
    node_ids: list[str] = []
    unresolved = []
    for a in tests:
        nid = node_id_of(a.path, text(a.path), a.block[0]) if a.block else None
        if nid is None:
            unresolved.append(a.location)
        elif nid not in node_ids:
            node_ids.append(nid)
    # The key is the text of the blocks and of the tests' annotated blocks, not where they
    # sit: an edit elsewhere in the file that only moves them keeps the verdict.
    digest = hashlib.sha256(VERSION.encode())
    for path in sorted(blocks):
        lines = text(path).splitlines()
        for a, b in sorted(blocks[path]):
            digest.update(f"\0{path}\0".encode())
            digest.update("\n".join(lines[a - 1 : b]).encode())
    for a in sorted(tests, key=lambda x: (x.path, x.line)):
        digest.update(f"\0{a.path}\0".encode())
        if a.block:
            lines = text(a.path).splitlines()
            digest.update("\n".join(lines[a.block[0] - 1 : a.block[1]]).encode())
    absence = ""
    if all(a.meta.get("verify") == "absence" for a in impl):
        absence = "; ".join(sorted({a.meta.get("reason", "") for a in impl} - {""}))
        absence = absence or "declared an absence"
        digest.update(f"\0absence\0{absence}".encode())
    req = entry.requirement
    return Candidate(req.id, req.level, blocks, node_ids, unresolved, digest.hexdigest(), absence)


# --- running ------------------------------------------------------------------------------


@dataclass
class Outcome:
    """The verdict for one requirement."""

    id: str
    verdict: str
    reason: str = ""
    tests: list[str] = field(default_factory=list)
    failing: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cached: bool = False

    def as_json(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "tests": self.tests,
            "failing": self.failing,
            "kinds": self.kinds,
        }


def _matching(results: dict[str, str], nodeid: str) -> dict[str, str]:
    """Outcomes of the items a node id selected (parametrisations, class members)."""
    return {
        k: v
        for k, v in results.items()
        if k == nodeid or k.startswith(nodeid + "[") or k.startswith(nodeid + "::")
    }


class _Workspace:
    """A private copy of the tree and a way to run pytest in it."""

    def __init__(self, root: Path, base: Path, index: int, timeout: float) -> None:
        self.dir = base / f"tree{index}"
        shutil.copytree(root, self.dir, ignore=_IGNORE, symlinks=True)
        self.timeout = timeout
        self.out = base / f"results{index}.json"

    def pytest(self, node_ids: Sequence[str], stop_first: bool) -> dict[str, str]:
        """``{node id: outcome}``; ``{"<run>": "timeout"}`` when the whole run overran."""
        if self.out.exists():
            self.out.unlink()
        env = dict(os.environ)
        env.update(
            # the copy first; then this package, for the plugin, should the tree lack it
            PYTHONPATH=os.pathsep.join([str(self.dir), str(Path(__file__).resolve().parents[1])]),
            SIPREF_VERIFY_OUT=str(self.out),
            SIPREF_VERIFY_TIMEOUT=str(self.timeout),
            PYTHONDONTWRITEBYTECODE="1",
        )
        argv = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "annotate.verify_plugin",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(self.dir),
            "-o",
            "addopts=",
            *(["-x"] if stop_first else []),
            *node_ids,
        ]
        limit = self.timeout * max(1, len(node_ids)) * 2 + 60
        try:
            subprocess.run(
                argv,
                cwd=self.dir,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=limit,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"<run>": "timeout"}
        try:
            return json.loads(self.out.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"<run>": "no results (pytest did not start)"}


def _verify_one(cand: Candidate, ws: _Workspace, intact: dict[str, str]) -> Outcome:
    started = time.perf_counter()
    out = Outcome(cand.id, "no test", tests=list(cand.tests))

    def done(verdict: str, reason: str) -> Outcome:
        out.verdict, out.reason = verdict, reason
        out.seconds = time.perf_counter() - started
        return out

    if not cand.tests:
        return done("no test", f"no test function at {', '.join(cand.unresolved)}")
    runnable = []
    for nid in cand.tests:
        got = _matching(intact, nid)
        if not got:
            return done("no test", f"test id not found: {nid}")
        bad = {k: v for k, v in got.items() if v not in ("passed", "skipped")}
        if bad:
            k, v = next(iter(bad.items()))
            return done("fails intact", f"{k} {v} on the intact tree")
        if any(v == "passed" for v in got.values()):
            runnable.append(nid)
    if not runnable:
        return done("no test", "every cited test skips")
    if cand.absence:
        return done("absence", cand.absence)
    results: dict[str, str] = {}
    for gentle in (False, True):
        out.kinds = []
        originals: dict[Path, str] = {}
        try:
            for path, blocks in cand.blocks.items():
                file = ws.dir / path
                text = file.read_text(encoding="utf-8")
                try:
                    new, kinds = neutralise(text, blocks, gentle)
                except CannotNeutralise as exc:
                    return done("not neutralised", f"{path}: {exc}")
                out.kinds.extend(kinds)
                originals[file] = text
                file.write_text(new, encoding="utf-8")
            results = ws.pytest(runnable, stop_first=True)
        finally:
            for file, text in originals.items():
                file.write_text(text, encoding="utf-8")
        imports = "<run>" not in results and "collect-error" not in results.values()
        if imports or not any("emptied" in k for k in out.kinds):
            break
    if results.get("<run>") == "timeout":
        return done("timeout", "the run with the code broken overran its time limit")
    if "<run>" in results:
        # e.g. a conftest that imports the broken module: no test ran at all
        return done("not neutralised", f"the tree no longer loads ({results['<run>']})")
    collect = [k for k, v in results.items() if v == "collect-error"]
    if collect:
        return done("not neutralised", f"the module no longer imports ({collect[0][10:]})")
    failing = sorted(k for k, v in results.items() if v in ("failed", "timeout"))
    if failing:
        out.failing = failing
        return done("verified", f"{len(failing)} test(s) fail with the code broken")
    return done("survived", f"all {len(runnable)} cited test(s) pass with the code broken")


def _load_cache(path: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def run_verify(
    root: Path,
    chosen: Sequence[Candidate],
    jobs: int = 1,
    timeout: float = 60.0,
    cache_path: Path | None = None,
    use_cache: bool = True,
    progress: Callable[[Outcome, int, int], None] | None = None,
) -> list[Outcome]:
    """Verify each candidate (cached ones are not rerun); outcomes in ``chosen`` order."""
    cache_file = cache_path or root / CACHE
    cache = _load_cache(cache_file) if use_cache else {}
    outcomes: dict[str, Outcome] = {}
    todo = []
    for cand in chosen:
        hit = cache.get(cand.key)
        if hit is not None:
            outcomes[cand.id] = Outcome(
                cand.id,
                str(hit["verdict"]),
                str(hit.get("reason", "")),
                list(hit.get("tests", [])),  # type: ignore[call-overload]
                list(hit.get("failing", [])),  # type: ignore[call-overload]
                list(hit.get("kinds", [])),  # type: ignore[call-overload]
                cached=True,
            )
        else:
            todo.append(cand)
    done = len(outcomes)
    total = len(chosen)
    if todo:
        jobs = max(1, min(jobs, len(todo)))
        with tempfile.TemporaryDirectory(prefix="annotate-verify-") as tmp:
            spaces = [_Workspace(root, Path(tmp), i, timeout) for i in range(jobs)]
            intact = _intact(todo, spaces)
            free = list(spaces)
            lock = threading.Lock()

            def work(cand: Candidate) -> Outcome:
                with lock:
                    ws = free.pop()
                try:
                    return _verify_one(cand, ws, intact)
                finally:
                    with lock:
                        free.append(ws)

            with ThreadPoolExecutor(max_workers=jobs) as pool:
                for outcome in pool.map(work, todo):
                    done += 1
                    outcomes[outcome.id] = outcome
                    if progress:
                        progress(outcome, done, total)
        by_id = {c.id: c for c in todo}
        for oid, outcome in outcomes.items():
            if not outcome.cached and oid in by_id:
                cache[by_id[oid].key] = outcome.as_json()
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(cache, indent=0, sort_keys=True), encoding="utf-8")
    return [outcomes[c.id] for c in chosen]


def _intact(todo: Sequence[Candidate], spaces: Sequence[_Workspace]) -> dict[str, str]:
    """Outcomes of every cited test on the intact tree (one pytest run per workspace)."""
    wanted = sorted({nid for c in todo for nid in c.tests})
    if not wanted:
        return {}
    chunks = [wanted[i :: len(spaces)] for i in range(len(spaces))]
    results: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=len(spaces)) as pool:
        for got in pool.map(
            lambda pair: pair[0].pytest(pair[1], stop_first=False) if pair[1] else {},
            zip(spaces, chunks, strict=True),
        ):
            results.update(got)
    if results.get("<run>"):
        # the batch overran or crashed: rerun the tests one by one to find the culprit
        results = {}
        for nid in wanted:
            got = spaces[0].pytest([nid], stop_first=False)
            if "<run>" in got:
                got = {nid: "timeout"}
            results.update(got)
    return results


def sample(chosen: Sequence[Candidate], n: int, seed: int) -> list[Candidate]:
    """``n`` candidates picked at random (reproducibly), in their original order."""
    if n >= len(chosen):
        return list(chosen)
    picked = set(random.Random(seed).sample(range(len(chosen)), n))
    return [c for i, c in enumerate(chosen) if i in picked]


# --- snapshot -----------------------------------------------------------------------------


def _snapshot_rows(path: Path) -> dict[str, dict[str, str]]:
    """``{requirement id: {"verdict": ..., "key": ...}}`` ({} when there is no snapshot).

    Format 1 held verdicts only (no key); format 2 adds the candidate's content key, so
    that ``--changed`` re-verifies only what changed since the snapshot was written.
    Raises ValueError for a malformed file.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: malformed verification snapshot: {exc}") from None
    reqs = data.get("requirements") if isinstance(data, dict) else None
    if not isinstance(reqs, dict):
        raise ValueError(f"{path}: malformed verification snapshot: no requirements")
    rows: dict[str, dict[str, str]] = {}
    for rid, value in reqs.items():
        row = {"verdict": value} if isinstance(value, str) else value
        if not isinstance(row, dict) or row.get("verdict") not in VERDICTS:
            raise ValueError(f"{path}: malformed verification snapshot entry {rid!r}")
        rows[rid] = {k: str(v) for k, v in row.items() if k in ("verdict", "key")}
    return rows


def read_verify_snapshot(path: Path) -> dict[str, str]:
    """``{requirement id: verdict}`` from a verification snapshot ({} when there is none).

    Raises ValueError for a malformed file.
    """
    return {rid: row["verdict"] for rid, row in _snapshot_rows(path).items()}


def read_verify_keys(path: Path) -> dict[str, str]:
    """``{requirement id: content key}`` of the verdicts in a snapshot (format 2 rows only)."""
    return {rid: row["key"] for rid, row in _snapshot_rows(path).items() if "key" in row}


def changed_since(
    chosen: Sequence[Candidate], verdicts: dict[str, str], keys: dict[str, str]
) -> tuple[list[Candidate], list[Candidate]]:
    """(the candidates of the snapshot whose blocks or test annotations changed since it was
    written, the candidates it has no verdict for).  A verdict recorded without a key (a
    format-1 snapshot) counts as changed."""
    changed = [c for c in chosen if c.id in verdicts and keys.get(c.id) != c.key]
    new = [c for c in chosen if c.id not in verdicts]
    return changed, new


def write_verify_snapshot(
    path: Path, verdicts: dict[str, str], keys: dict[str, str] | None = None
) -> None:
    """Write ``verdicts`` (with each one's content key where known) as a format-2 snapshot."""
    keys = keys or {}
    rows = {
        rid: {"verdict": verdict, **({"key": keys[rid]} if rid in keys else {})}
        for rid, verdict in sorted(verdicts.items())
    }
    data = {"format": 2, "requirements": rows}
    Path(path).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
