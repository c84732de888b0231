"""annotate: link RFC text to the code that implements it, check the links, report coverage.

``python -m annotate check`` verifies annotations; ``python -m annotate report`` reports the
status of every requirement.  The public API below is re-exported lazily (each name is
imported from its module on first use), so ``python -m annotate`` starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from annotate.annotations import Annotation, ScanError, parse_target, scan_file, scan_tree
    from annotate.checker import Diagnostic, check, resolve
    from annotate.report import Coverage, build_coverage, to_json
    from annotate.requirements import Requirement, extract_requirements, nearest_sentence
    from annotate.rfctext import RfcDocument, Section, normalize, parse_rfc
    from annotate.specstore import SpecStore, SpecStoreError

_EXPORTS = {
    "annotate.annotations": ("Annotation", "ScanError", "parse_target", "scan_file", "scan_tree"),
    "annotate.checker": ("Diagnostic", "check", "resolve"),
    "annotate.report": ("Coverage", "build_coverage", "to_json"),
    "annotate.requirements": ("Requirement", "extract_requirements", "nearest_sentence"),
    "annotate.rfctext": ("RfcDocument", "Section", "normalize", "parse_rfc"),
    "annotate.specstore": ("SpecStore", "SpecStoreError"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "Annotation",
    "Coverage",
    "Diagnostic",
    "Requirement",
    "RfcDocument",
    "ScanError",
    "Section",
    "SpecStore",
    "SpecStoreError",
    "build_coverage",
    "check",
    "extract_requirements",
    "nearest_sentence",
    "normalize",
    "parse_rfc",
    "parse_target",
    "resolve",
    "scan_file",
    "scan_tree",
    "to_json",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'annotate' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
