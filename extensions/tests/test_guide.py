"""The extension guide works as written, and the API page matches the code.

``docs/guides/extensions.rst`` is followed in a temporary copy of the tree: its files (the
``code-block`` directives captioned with a path) are written there, and its commands (the
``$ python -m ...`` lines of its console blocks, and ``make check`` as the Makefile spells
it) are run there; what the guide shows they print, they print.  ``docs/guides/
extension-api.rst`` is compared with the code: every class, function and parameter its
signature blocks name exists in the module of the block's caption.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from rfc3261.tests.transport_support import missing_external

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guides" / "extensions.rst"
API = ROOT / "docs" / "guides" / "extension-api.rst"
SPEC_DIR = Path(os.environ.get("SIPREF_SPEC_DIR") or ROOT.parent / "shared" / "rfcs")
# What the guide's commands need of the tree (no .venv, no docs, no caches).
COPIED = ("rfc3261", "annotate", "extensions", "conformance", "pyproject.toml")


def code_blocks(rst: str) -> list[tuple[str, str, str]]:
    """``(language, caption, code)`` of every ``code-block`` directive, in order."""
    blocks = []
    lines = rst.splitlines()
    for i, line in enumerate(lines):
        match = re.fullmatch(r"\.\. code-block:: (\S+)", line)
        if match is None:
            continue
        j, caption = i + 1, ""
        while j < len(lines) and lines[j].startswith("   :"):
            option = re.fullmatch(r"   :caption: (.+)", lines[j])
            caption = option[1].strip() if option else caption
            j += 1
        body = []
        for text in lines[j:]:
            if text and not text.startswith("   "):
                break
            body.append(text[3:])
        blocks.append((match[1], caption, "\n".join(body).strip("\n") + "\n"))
    return blocks


def guide_files() -> dict[str, str]:
    """The files the guide asks to create: blocks captioned with a path."""
    return {
        caption: code
        for _language, caption, code in code_blocks(GUIDE.read_text(encoding="utf-8"))
        if "/" in caption and Path(caption).suffix in (".py", ".toml")
    }


def guide_commands() -> list[tuple[str, list[str]]]:
    """Each ``$ command`` of the guide's console blocks with the output lines shown after it."""
    out: list[tuple[str, list[str]]] = []
    for language, _caption, code in code_blocks(GUIDE.read_text(encoding="utf-8")):
        if language != "console":
            continue
        for line in code.splitlines():
            if line.startswith("$ "):
                out.append((line[2:].split("#")[0].strip(), []))
            elif out and line.strip() and line.strip() != "...":
                out[-1][1].append(line.rstrip())
    return out


def make_recipe(target: str) -> list[list[str]]:
    """The commands of a Makefile target, with the venv's tools as this interpreter's."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(makefile) if line.startswith(f"{target}:"))
    commands = []
    for line in makefile[start + 1 :]:
        if not line.startswith("\t"):
            break
        words = shlex.split(line.strip())
        if words[0] == "$(PY)":
            words[0:1] = [sys.executable]
        elif words[0].startswith("$(VENV)/bin/"):
            words[0:1] = [sys.executable, "-m", words[0].removeprefix("$(VENV)/bin/")]
        commands.append(words)
    return commands


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tracked tree with the guide's files written into it."""
    if not (SPEC_DIR / "rfc3326.txt").is_file():
        missing_external(f"RFC texts not found in {SPEC_DIR} (set SIPREF_SPEC_DIR)")
    copy = tmp_path_factory.mktemp("guide")
    listed = subprocess.run(
        ["git", "ls-files", "-z", *COPIED], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    files = guide_files()
    for name in filter(None, listed.split("\0")):
        # the guide's example replaces a real module of the same name, if one ever ships
        if name not in files and (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / name, copy / name)
    for name, code in files.items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_text(code, encoding="utf-8")
    # A requirement the guide's example covers less than a real module would is not a loss.
    snapshot = copy / "annotate" / "coverage_snapshot.json"
    text = snapshot.read_text(encoding="utf-8")
    snapshot.write_text(re.sub(r'\n *"rfc3326-[^\n]*', "", text), encoding="utf-8")
    # Nor is the guide's example verified because the real module was.
    verified = copy / "annotate" / "verify_snapshot.json"
    if verified.is_file():
        data = json.loads(verified.read_text(encoding="utf-8"))
        found = data.get("requirements", {})
        data["requirements"] = {k: v for k, v in found.items() if not k.startswith("rfc3326-")}
        verified.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return copy


def run(tree: Path, argv: list[str]) -> str:
    env = dict(os.environ, PYTHONPATH=str(tree), SIPREF_SPEC_DIR=str(SPEC_DIR))
    env["SIPREF_OFFLINE"] = "1"
    done = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{shlex.join(argv)} failed:\n{output}"
    return output


def test_the_guide_names_every_file_of_a_patch() -> None:
    assert sorted(guide_files()) == [
        "extensions/conformance/rfc3326.py",
        "extensions/rfc3326.annotations.toml",
        "extensions/rfc3326.py",
        "extensions/tests/test_rfc3326.py",
    ]
    commands = [command for command, _ in guide_commands()]
    assert "make check" in commands
    assert "python -m pytest -q extensions/tests/test_rfc3326.py" in commands
    assert any(c.startswith("python -m annotate report") for c in commands)


def test_the_guides_commands_print_what_it_shows(tree: Path) -> None:
    for command, shown in guide_commands():
        argv = shlex.split(command)
        if argv[:2] != ["python", "-m"]:
            continue  # make targets: below
        output = run(tree, [sys.executable, *argv[1:]])
        lines = [line.rstrip() for line in output.splitlines()]
        for expected in shown:
            assert any(line.startswith(expected) for line in lines), (
                f"`{command}` did not print {expected!r}:\n{output}"
            )


def test_make_check_passes_with_the_guides_files(tree: Path) -> None:
    recipe = make_recipe("check")
    assert [words[1:4] for words in recipe] == [
        ["-m", "ruff", "check"],
        ["-m", "ruff", "format"],
        ["-m", "annotate", "check"],
    ]
    outputs = [run(tree, words) for words in recipe]
    # the checker read the extension's annotations: RFC 3326 is among the RFCs it names
    assert re.search(r"OK \(RFC [0-9, ]*\b3326\b", outputs[-1]), outputs[-1]


def test_the_report_counts_the_extension(tree: Path) -> None:
    output = run(tree, [sys.executable, "-m", "annotate", "report", "--rfc", "3326"])
    row = re.search(r"extension extensions/rfc3326\.py: (\d+) lines of code, (\d+) req", output)
    assert row is not None, output
    shown = re.search(r"here (\d+) lines", GUIDE.read_text(encoding="utf-8"))
    assert shown is not None and int(row[1]) == int(shown[1])
    assert int(row[2]) == 3  # the guide explains which three


# -- the API page -----------------------------------------------------------------------


def _module(caption: str) -> ModuleType:
    """The module a caption of the API page names."""
    return importlib.import_module(caption)


def _parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def _documented(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = node.args
    return [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)] + [
        f"**{args.kwarg.arg}" if args.kwarg else ""
    ]


def _check_function(node: ast.FunctionDef | ast.AsyncFunctionDef, real: Any, where: str) -> None:
    documented = [a for a in _documented(node) if a]
    actual = _parameters(real)
    if documented and documented[0] == "self" and actual[:1] != ["self"]:
        documented = documented[1:]  # a bound or static view of a method
    actual = [f"**{a}" if a == "build" else a for a in actual]
    assert documented == actual, f"{where}: documented {documented}, the code has {actual}"
    assert inspect.iscoroutinefunction(real) == isinstance(node, ast.AsyncFunctionDef), where


def test_the_api_page_matches_the_code() -> None:
    checked = 0
    for language, caption, code in code_blocks(API.read_text(encoding="utf-8")):
        if language != "python" or not caption:
            continue
        module = _module(caption)
        for node in ast.parse(code).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                _check_function(node, getattr(module, node.name), f"{caption}.{node.name}")
                checked += 1
            elif isinstance(node, ast.ClassDef):
                cls = getattr(module, node.name)
                assert inspect.isclass(cls), f"{caption}.{node.name} is not a class"
                fields = (
                    {f.name for f in dataclasses.fields(cls)}
                    if dataclasses.is_dataclass(cls)
                    else set()
                )
                for item in node.body:
                    where = f"{caption}.{node.name}"
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        _check_function(item, getattr(cls, item.name), f"{where}.{item.name}")
                    elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        name = item.target.id
                        assert (
                            name in fields
                            or hasattr(cls, name)
                            or name in getattr(cls, "__annotations__", {})
                        ), f"{where} has no attribute {name}"
                    checked += 1
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                assert hasattr(module, node.target.id), f"{caption} has no {node.target.id}"
                checked += 1
    assert checked > 80
