"""The layering the extension API promises, checked on the source.

- ``rfc3261/`` never imports ``extensions/``: the core knows nothing of what plugs in.
- The core's modules form no import cycle (a lazy import inside a function counts: it
  hides a cycle, it does not remove it).
- The sans-I/O core (``rfc3261/*.py``) imports neither asyncio, sockets, TLS nor a
  clock, and nothing of the asyncio edge (``rfc3261/asyncio/``) or the programs; only
  the location service opens a file (its SQLite database, state that must survive a
  restart).
- An extension never monkey-patches the core: no assignment onto, and no ``setattr``
  on, anything it imported from ``rfc3261``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "rfc3261"
EXTENSIONS = ROOT / "extensions"


def _modules(package: Path) -> dict[str, Path]:
    names = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Lines inside ``if TYPE_CHECKING:`` blocks (imports for annotations only)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                for inner in ast.walk(child):
                    if hasattr(inner, "lineno"):
                        lines.add(inner.lineno)
    return lines


def imports_of(
    module: str, path: Path, known: set[str] | frozenset[str] = frozenset()
) -> set[str]:
    """The absolute names ``module`` imports when it runs (anywhere in its code).

    ``from . import abnf`` names the submodule, not the package, when ``known`` has it.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base)
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            names = {f"{target}.{alias.name}" for alias in node.names}
            found.update(names)
            if not names <= known:
                found.add(target)
    return found


def core_graph() -> dict[str, set[str]]:
    modules = {name: path for name, path in _modules(CORE).items() if ".tests" not in f"{name}."}
    known = set(modules)
    return {name: imports_of(name, path, known) & known - {name} for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def monkey_patches(path: Path) -> list[str]:
    """Assignments onto (or ``setattr`` on) names an extension imported from the core."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    core_names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rfc3261"):
            core_names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("rfc3261"):
                    core_names.add((alias.asname or alias.name).split(".")[0])

    def rooted_in_core(target: ast.expr) -> bool:
        while isinstance(target, ast.Attribute):
            target = target.value
        return isinstance(target, ast.Name) and target.id in core_names

    found = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("setattr", "delattr")
            and node.args
            and rooted_in_core(node.args[0])
        ):
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
        for target in targets:
            if isinstance(target, ast.Attribute) and rooted_in_core(target):
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(target)} = ...")
    return found


def test_the_core_never_imports_extensions() -> None:
    offenders = {
        name: sorted(n for n in imports_of(name, path) if n.split(".")[0] == "extensions")
        for name, path in _modules(CORE).items()
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_import_check_sees_an_import_of_extensions(tmp_path: Path) -> None:
    module = tmp_path / "probe.py"
    module.write_text("def f():\n    from extensions import rfc3262\n", encoding="utf-8")
    assert "extensions" in imports_of("rfc3261.probe", module)


# What only the edge may import: the event loop, sockets, TLS, the clock.
EDGE_ONLY = {"asyncio", "socket", "ssl", "time", "selectors"}


def test_the_sans_io_core_does_no_io() -> None:
    found = {}
    for path in sorted(CORE.glob("*.py")):
        name = f"rfc3261.{path.stem}" if path.stem != "__init__" else "rfc3261"
        bad = sorted(
            n
            for n in imports_of(name, path)
            if n.split(".")[0] in EDGE_ONLY
            or n.startswith(("rfc3261.asyncio", "rfc3261.programs", "rfc3261.bench"))
        )
        if bad:
            found[path.name] = bad
    assert found == {}


def test_the_core_has_no_import_cycle() -> None:
    assert cycles(core_graph()) == []


def test_the_cycle_check_finds_a_lazy_cycle() -> None:
    # The shape the core had before the extension API: a module-level import one way
    # and a lazy import inside a function the other way.
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_extension_monkey_patches_the_core() -> None:
    found = [
        line
        for path in sorted(EXTENSIONS.rglob("*.py"))
        if "tests" not in path.relative_to(EXTENSIONS).parts
        for line in monkey_patches(path)
    ]
    assert found == []


def test_the_monkey_patch_scan_finds_patches(tmp_path: Path) -> None:
    module = tmp_path / "patching.py"
    module.write_text(
        "import rfc3261.ua_core as core\n"
        "from rfc3261.ua_core import UserAgent\n"
        "from rfc3261 import headers\n"
        "UserAgent.receive = lambda self, *a: []\n"
        "core.KNOWN_METHODS = frozenset()\n"
        "setattr(headers, 'HEADER_TYPES', {})\n"
        "mine = object()\n"
        "mine.x = 1\n",
        encoding="utf-8",
    )
    assert [line.split(":")[1] for line in monkey_patches(module)] == ["4", "5", "6"]
