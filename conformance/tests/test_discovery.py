"""Case modules are found, not listed: the core's in order, an extension's beside it."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.discovery import (
    CORE,
    CORE_CASES,
    DEFAULT_ORDER,
    CaseLoadError,
    find_case_modules,
    load_cases,
)
from conformance.model import REGISTRY, Profile, Verdict
from conformance.runner import Runner, select_cases
from conformance.target import parse_target
from conformance.tests.faulty_uas import FaultyElement
from conformance.tests.support import run_cases  # noqa: F401  (registers the cases)

DEMO = '''
"""The demo extension's cases."""

from conformance.model import case, describe


@case("demo-options-200", roles=("uas",))
def options_200(ctx):
    """OPTIONS gets a 200 (the demo extension's case)."""
    link = ctx.link()
    final, _ = ctx.transaction(link, ctx.request("OPTIONS", link))
    final = ctx.require_final(final)
    ctx.check(final.status == 200, "200 OK", describe(final))
'''


def _write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _registry() -> Iterator[None]:
    """The cases a test registers from its temporary folder are gone after it."""
    saved = dict(REGISTRY)
    modules = set(sys.modules)
    yield
    REGISTRY.clear()
    REGISTRY.update(saved)
    for name in set(sys.modules) - modules:
        if name.startswith("_conformance_cases_"):
            del sys.modules[name]


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """An extensions/conformance folder holding the demo extension's cases."""
    folder = tmp_path / "extensions" / "conformance"
    _write(folder, "__init__.py", '"""Cases."""\n')
    _write(folder, "demo.py", DEMO)
    return folder


@pytest.fixture
def element() -> Iterator[FaultyElement]:
    e = FaultyElement("uas")
    e.start()
    yield e
    e.stop()


def test_core_order_kept() -> None:
    modules = find_case_modules(CORE_CASES, None)
    stems = [m.path.stem for m in modules]
    legacy = ["uas", "transaction", "registrar", "proxy", "uac", "torture"]
    assert [s for s in stems if s in legacy] == legacy
    assert {m.origin for m in modules} == {CORE}
    cases = load_cases(CORE_CASES, None)
    assert cases[0].group == "uas"
    assert list(dict.fromkeys(c.group for c in cases))[: len(legacy)] == legacy
    # the registry, which older callers iterate, holds the core's cases in the same order
    assert [c.id for c in REGISTRY.values() if c.origin == CORE] == [c.id for c in cases]


def test_extension_cases_found_listed_and_run(
    demo: Path, element: FaultyElement, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = load_cases(None, demo)
    assert [(c.id, c.origin, c.group) for c in cases] == [("demo-options-200", "demo", "demo")]
    assert load_cases(None, demo) == cases  # loading again registers nothing twice
    both = load_cases(CORE_CASES, demo)
    assert both[-1] is cases[0] and both[0].origin == CORE  # the core's cases first

    run = Runner(parse_target(f"udp:127.0.0.1:{element.port}"), "uas", Profile()).run(cases)
    assert [(r.case.id, r.verdict) for r in run.results] == [("demo-options-200", Verdict.PASS)]

    assert main(["list", "--extension", "demo"], extensions=demo) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("demo-options-200")
    assert lines[0].split()[3] == "demo"  # id, roles, level, origin
    assert main(["list", "--role", "uas"], extensions=demo) == 0
    out = capsys.readouterr().out
    assert "demo-options-200" in out and "uas-options-final" in out


def test_cli_runs_only_the_extensions_cases(
    demo: Path, element: FaultyElement, tmp_path: Path
) -> None:
    report = tmp_path / "r.json"
    argv = ["run", "--target", f"udp:127.0.0.1:{element.port}", "--role", "uas", "--quiet"]
    assert main([*argv, "--extension", "demo", "--json", str(report)], extensions=demo) == 0
    data = json.loads(report.read_text())
    assert [(c["id"], c["verdict"]) for c in data["cases"]] == [("demo-options-200", "pass")]


def test_unknown_extension_is_a_usage_error(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["list", "--extension", "nosuch"], extensions=demo) == 2
    err = capsys.readouterr().err
    assert "nosuch" in err and "core, demo" in err


def test_select_cases_by_origin(demo: Path) -> None:
    cases = load_cases(CORE_CASES, demo)
    assert [c.id for c in select_cases(cases, origin="demo")] == ["demo-options-200"]
    core = select_cases(cases, "uas", "uas-options-*", origin="core")
    assert core and all(c.origin == CORE for c in core)
    assert select_cases(cases, "registrar", origin="demo") == []


def test_duplicate_case_id_names_both_files(tmp_path: Path) -> None:
    source = """
        from conformance.model import register
        register("dup-x", lambda ctx: None, title="x", roles=("uas",))
    """
    _write(tmp_path, "first.py", source)
    _write(tmp_path, "second.py", source)
    with pytest.raises(CaseLoadError, match="duplicate case id dup-x") as info:
        load_cases(None, tmp_path)
    message = str(info.value)
    assert message.startswith(str(tmp_path / "second.py")) and "first.py" in message


def test_broken_module_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, "fine.py", DEMO)
    _write(tmp_path, "broken.py", "import conformance.no_such_module\n")
    with pytest.raises(CaseLoadError, match="ModuleNotFoundError") as info:
        load_cases(None, tmp_path)
    assert str(info.value).startswith(str(tmp_path / "broken.py"))
    assert main(["list"], extensions=tmp_path) == 2
    assert "broken.py: cannot load its conformance cases" in capsys.readouterr().err


def test_syntax_error_is_named(tmp_path: Path) -> None:
    _write(tmp_path, "typo.py", "def case(:\n")
    with pytest.raises(CaseLoadError, match=r"typo\.py"):
        find_case_modules(None, tmp_path)


def test_order_constant_then_name(tmp_path: Path) -> None:
    _write(tmp_path, "alpha.py", "")
    _write(tmp_path, "beta.py", "ORDER = 5\n")
    _write(tmp_path, "gamma.py", "ORDER: int = 5\n")
    _write(tmp_path, "_helpers.py", "")  # a helper, not a case module
    _write(tmp_path, "notes.txt", "")
    modules = find_case_modules(None, tmp_path)
    assert [(m.path.name, m.order) for m in modules] == [
        ("beta.py", 5),
        ("gamma.py", 5),
        ("alpha.py", DEFAULT_ORDER),
    ]
    _write(tmp_path, "delta.py", 'ORDER = "first"\n')
    with pytest.raises(CaseLoadError, match=r"delta\.py:1: ORDER must be an integer"):
        find_case_modules(None, tmp_path)


def test_package_extension(tmp_path: Path) -> None:
    _write(tmp_path, "bigext/__init__.py", "from . import more  # noqa: F401\n")
    _write(tmp_path, "bigext/more.py", DEMO.replace("demo-options-200", "bigext-options"))
    cases = load_cases(None, tmp_path)
    assert [(c.id, c.origin, c.group) for c in cases] == [("bigext-options", "bigext", "more")]
