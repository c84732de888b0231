"""Where the cases come from: every module of ``conformance/cases/`` and of the extensions.

A case module is a ``.py`` file (or a package) in a cases folder; names starting with ``_``
are helpers, not case modules.  The core's folder is ``conformance/cases/``; an extension
``extensions/NAME.py`` (or package ``extensions/NAME/``) ships its cases in
``extensions/conformance/NAME.py``, a folder that mirrors ``conformance/cases/``.

Modules load in a fixed order: the core's first, then the extensions'; within each, by the
module's ``ORDER`` (an integer literal at module level, `DEFAULT_ORDER` without one), then by
name.  The order matters a little: the UAS cases run first and learn which methods the target
leaves unanswered, so later cases that need them do not each wait for a response.

A module that fails to import, and a case id registered twice, stop the load with a
`CaseLoadError` naming the file.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from conformance.model import REGISTRY, Case

__all__ = [
    "CORE",
    "CORE_CASES",
    "DEFAULT_ORDER",
    "EXTENSION_CASES",
    "CaseLoadError",
    "CaseModule",
    "find_case_modules",
    "load_cases",
    "origins",
]

ROOT = Path(__file__).resolve().parents[1]
#: the core's cases
CORE_CASES = ROOT / "conformance" / "cases"
#: the extensions' cases, one module per extension, named after it
EXTENSION_CASES = ROOT / "extensions" / "conformance"
#: the origin of the core's cases (an extension's cases have the extension's name)
CORE = "core"
#: the ORDER of a case module that declares none
DEFAULT_ORDER = 100


class CaseLoadError(Exception):
    """A case module could not be loaded (it fails to import, or repeats a case id)."""


@dataclass(frozen=True)
class CaseModule:
    """One case module found in a cases folder."""

    origin: str  # CORE, or the name of the extension that ships it
    path: Path  # the .py file, or the package's folder
    order: int

    @property
    def file(self) -> Path:
        """The file that is executed on import."""
        return self.path / "__init__.py" if self.path.is_dir() else self.path

    def holds(self, source: Path) -> bool:
        """True when the file ``source`` (a resolved path) belongs to this module."""
        return source == self.file or (self.path.is_dir() and self.path in source.parents)


def _order_of(path: Path) -> int:
    """The module's ``ORDER = N``, read without importing it."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, ValueError) as exc:
        raise CaseLoadError(f"{path}: cannot read the case module: {exc}") from exc
    for node in tree.body:
        target = value = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and target.id == "ORDER":
            if not isinstance(value, ast.Constant) or type(value.value) is not int:
                raise CaseLoadError(f"{path}:{node.lineno}: ORDER must be an integer literal")
            return value.value
    return DEFAULT_ORDER


def _modules_in(folder: Path, origin: str | None) -> list[CaseModule]:
    """The case modules of one folder, in load order; ``origin`` None: each module's name."""
    found = []
    for path in folder.resolve().iterdir():
        if path.name.startswith(("_", ".")):
            continue
        if path.is_file() and path.suffix == ".py":
            found.append(CaseModule(origin or path.stem, path, _order_of(path)))
        elif path.is_dir() and (path / "__init__.py").is_file():
            found.append(CaseModule(origin or path.name, path, _order_of(path / "__init__.py")))
    return sorted(found, key=lambda m: (m.order, m.path.name))


def find_case_modules(
    core: Path | None = CORE_CASES, extensions: Path | None = EXTENSION_CASES
) -> list[CaseModule]:
    """The case modules under ``core`` and ``extensions`` (None: none), in load order."""
    out = []
    for folder, origin in ((core, CORE), (extensions, None)):
        if folder is not None and Path(folder).is_dir():
            out += _modules_in(Path(folder), origin)
    return out


def _dotted_name(path: Path) -> str:
    """The module's name when imported through its packages (``conformance.cases.uas``)."""
    parts = [path.stem if path.suffix == ".py" else path.name]
    parent = path.parent
    while (parent / "__init__.py").is_file():
        parts.insert(0, parent.name)
        parent = parent.parent
    return ".".join(parts)


def _importable_as(name: str, module: CaseModule) -> bool:
    """True when importing ``name`` from ``sys.path`` executes ``module``'s file."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    return bool(spec and spec.origin and Path(spec.origin).resolve() == module.file)


def _import(module: CaseModule) -> ModuleType:
    """Import the module by its package name if it has one, else straight from its file."""
    name = _dotted_name(module.path)
    if _importable_as(name, module):
        return importlib.import_module(name)
    # A folder outside sys.path (a test's temporary tree): load the file under a private name.
    name = f"_conformance_cases_{module.origin}_{module.path.stem}"
    loaded = sys.modules.get(name)
    if loaded is not None and Path(getattr(loaded, "__file__", "")).resolve() == module.file:
        return loaded
    locations = [str(module.path)] if module.path.is_dir() else None
    spec = importlib.util.spec_from_file_location(
        name, module.file, submodule_search_locations=locations
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"no loader for {module.file}")
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    try:
        spec.loader.exec_module(loaded)
    except BaseException:
        del sys.modules[name]
        raise
    return loaded


def load_cases(
    core: Path | None = CORE_CASES, extensions: Path | None = EXTENSION_CASES
) -> list[Case]:
    """Import every case module under the roots; their cases, in load order.

    A case belongs to the module whose file registers it (a package: any file in it); its
    ``origin`` is set to that module's origin.  Loading again is cheap: modules
    already imported are not run twice.  Raises `CaseLoadError` naming the file at fault.
    """
    modules = find_case_modules(core, extensions)
    for module in modules:
        before = set(REGISTRY)
        try:
            _import(module)
        except CaseLoadError:
            raise
        except Exception as exc:
            # leave no half-registered module behind: a second load would see duplicates
            for new in set(REGISTRY) - before:
                del REGISTRY[new]
            raise CaseLoadError(
                f"{module.file}: cannot load its conformance cases: {type(exc).__name__}: {exc}"
            ) from exc
    sources = {entry.id: Path(entry.source[0]).resolve() for entry in REGISTRY.values()}
    out: list[Case] = []
    for module in modules:
        for entry in REGISTRY.values():
            if module.holds(sources[entry.id]):
                entry.origin = module.origin
                out.append(entry)
    return out


def origins(cases: Iterable[Case]) -> list[str]:
    """The origins of ``cases``, each once, in order."""
    return list(dict.fromkeys(c.origin for c in cases))
