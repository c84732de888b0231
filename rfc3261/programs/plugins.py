"""Extensions for the programs, by name: ``python -m rfc3261 ua --extension reason,message``.

``rfc3261/`` never imports ``extensions/`` (rfc3261/tests/test_architecture.py): the
core knows nothing of what plugs in.  The programs find the extensions at run time
instead: every module of the ``extensions`` package (``extensions/rfcNNNN.py``, or a
package) is loaded with :func:`importlib.import_module` from its name as a string, and
each :class:`~rfc3261.extension.UAExtension` subclass it defines is offered under its
``name`` ("reason", "message", ...).  Nothing is listed here: a new module is found.

The registrar and the proxy load theirs the same way (:func:`load_extension` with
:class:`~rfc3261.registrar.RegistrarExtension` or
:class:`~rfc3261.proxy.ProxyExtension`): RFC 3327 Path and RFC 5626 outbound.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from typing import Any, TypeVar

from rfc3261.extension import UAExtension

__all__ = [
    "EXTENSION_PACKAGE",
    "available_extensions",
    "available_ua_extensions",
    "load_extension",
    "load_ua_extensions",
]

T = TypeVar("T")

#: The package whose modules are searched (a name, never an import: see above).
EXTENSION_PACKAGE = "extensions"
# Folders of the package that hold no extension.
_NOT_EXTENSIONS = frozenset({"tests", "conformance"})


def available_ua_extensions(package: str = EXTENSION_PACKAGE) -> dict[str, type[UAExtension]]:
    """The UA extensions installed with sipref, by name (empty without the package)."""
    return available_extensions(UAExtension, package)


def available_extensions(base: type[T], package: str = EXTENSION_PACKAGE) -> dict[str, type[T]]:
    """The subclasses of ``base`` with a ``name`` defined in ``package``, by name."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.submodule_search_locations is None:
        return {}
    found: dict[str, type[T]] = {}
    for info in sorted(pkgutil.iter_modules(spec.submodule_search_locations), key=str):
        if info.name.startswith("_") or info.name in _NOT_EXTENSIONS:
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, base)
                and value.__module__ == module.__name__
                and getattr(value, "name", "")
            ):
                found[value.name] = value  # type: ignore[attr-defined]
    return dict(sorted(found.items()))


def load_extension(
    base: type[T], name: str, package: str = EXTENSION_PACKAGE, **options: Any
) -> T:
    """A new instance of the ``base`` subclass called ``name``, given ``options``.

    Raises ``ValueError`` naming what is installed for an unknown name.
    """
    available = available_extensions(base, package)
    if name not in available:
        offered = ", ".join(available) or "none"
        raise ValueError(f"no {base.__name__} named {name} (installed: {offered})")
    return available[name](**options)


def load_ua_extensions(names: str | None, package: str = EXTENSION_PACKAGE) -> list[UAExtension]:
    """One new instance of each extension of the comma-separated ``names``, in that order.

    Raises ``ValueError`` naming what is installed for an unknown name.
    """
    wanted = [name.strip() for name in (names or "").split(",") if name.strip()]
    if not wanted:
        return []
    available = available_ua_extensions(package)
    unknown = [name for name in wanted if name not in available]
    if unknown:
        offered = ", ".join(available) or "none"
        raise ValueError(f"no extension named {', '.join(unknown)} (installed: {offered})")
    if len(set(wanted)) != len(wanted):
        raise ValueError(f"an extension is named twice in {names!r}")
    return [available[name]() for name in wanted]
