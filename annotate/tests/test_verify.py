"""`annotate.verify`: neutralising blocks, test ids, and a whole run on a tiny tree."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from textwrap import dedent

import pytest

from annotate.__main__ import main
from annotate.report import build_coverage
from annotate.specstore import SpecStore
from annotate.verify import (
    CASES_TEST,
    CannotNeutralise,
    candidates,
    neutralise,
    node_id_of,
    read_verify_snapshot,
    run_verify,
)

FIXTURES = Path(__file__).parent / "fixtures"

MODULE = dedent(
    '''\
    """A module."""

    import os

    TABLE = {"a": 1, "b": 2}
    LIMIT = 5
    PAIR = (1, (2, 3))


    def f(x):
        """Doc."""
        y = x + 1
        return y


    class C:
        size: int = 3

        def m(self):
            return 1

        def n(self):
            return 2


    class Empty:
        x: int


    def g(x):
        if x:
            return 1
        else:
            return 2
    '''
)


def block_of(name: str) -> tuple[int, int]:
    for node in ast.parse(MODULE).body:
        if getattr(node, "name", None) == name:
            return node.lineno, node.end_lineno or node.lineno
    raise LookupError(name)


def test_a_def_body_raises_and_the_line_count_is_kept() -> None:
    new, kinds = neutralise(MODULE, [block_of("f")])
    assert kinds == ["def body raises"]
    assert len(new.splitlines()) == len(MODULE.splitlines())
    namespace: dict[str, object] = {}
    exec(compile(new, "m.py", "exec"), namespace)
    with pytest.raises(NotImplementedError):
        namespace["f"](1)  # type: ignore[operator]
    assert '"""Doc."""' in new  # the docstring stays


def test_every_method_of_a_class_raises() -> None:
    new, kinds = neutralise(MODULE, [block_of("C")])
    assert kinds == ["every method raises"]
    namespace: dict[str, object] = {}
    exec(compile(new, "m.py", "exec"), namespace)
    obj = namespace["C"]()  # type: ignore[operator]
    for method in (obj.m, obj.n):
        with pytest.raises(NotImplementedError):
            method()


def test_constants_are_emptied_or_gently_changed() -> None:
    lines = MODULE.splitlines()
    table = lines.index('TABLE = {"a": 1, "b": 2}') + 1
    new, kinds = neutralise(MODULE, [(table, table + 2)])
    assert kinds == ["value emptied"]
    assert "TABLE = {}" in new and "LIMIT = 0" in new and "PAIR = ()" in new
    gentle, kinds = neutralise(MODULE, [(table, table + 2)], gentle=True)
    assert kinds == ["value changed"]
    assert "TABLE = {'a': 1}" in gentle and "LIMIT = 11" in gentle
    assert "PAIR = (1, (2,))" in gentle


def test_statements_in_a_function_become_pass() -> None:
    start = MODULE.splitlines().index("    y = x + 1") + 1
    new, kinds = neutralise(MODULE, [(start, start + 1)])
    assert kinds == ["statement -> pass"]
    assert "    y = x + 1" not in new and "return y" not in new


def test_an_else_clause_body_becomes_pass() -> None:
    start = MODULE.splitlines().index("    else:") + 1
    new, kinds = neutralise(MODULE, [(start, start + 1)])
    assert kinds == ["clause body -> pass"]
    namespace: dict[str, object] = {}
    exec(compile(new, "m.py", "exec"), namespace)
    assert namespace["g"](1) == 1  # type: ignore[operator]
    assert namespace["g"](0) is None  # type: ignore[operator]


@pytest.mark.parametrize(
    ("block", "why"),
    [
        ((3, 3), "imports only"),
        (block_of("Empty"), "no method"),
    ],
)
def test_blocks_that_cannot_be_neutralised_say_why(block: tuple[int, int], why: str) -> None:
    with pytest.raises(CannotNeutralise, match=why):
        neutralise(MODULE, [block])


def test_an_empty_value_is_refused_rather_than_left_unchanged() -> None:
    # Emptying () changes nothing: a "survived" verdict from such a no-op would be a lie.
    text = "import os\n\n\nclass C:\n    names = ()\n\n    def f(self):\n        return 1\n"
    with pytest.raises(CannotNeutralise, match="is empty"):
        neutralise(text, [(5, 5)])


def test_a_block_spanning_the_whole_module_is_refused() -> None:
    text = "X = 1\nY = 2\nprint(X + Y)\n"
    with pytest.raises(CannotNeutralise, match="whole module"):
        neutralise(text, [(1, 3)])


def test_node_ids_of_test_functions_methods_and_cases() -> None:
    text = dedent(
        """\
        def helper():
            pass


        def test_one():
            x = 1
            assert x


        class TestGroup:
            def test_two(self):
                pass


        @case("uas-options", roles=("uas",))
        def options(ctx):
            pass
        """
    )
    assert node_id_of("t.py", text, 1) is None
    assert node_id_of("t.py", text, 6) == "t.py::test_one"
    assert node_id_of("t.py", text, 11) == "t.py::TestGroup::test_two"
    assert node_id_of("t.py", text, 15) == f"{CASES_TEST}[uas-options]"
    registered = 'torture(\n    "torture-x",\n    "rfc4475/x.dat",\n)\n'
    assert node_id_of("conformance/cases/t.py", registered, 1) == f"{CASES_TEST}[torture-x]"
    assert node_id_of("rfc3261/tests/t.py", registered, 1) is None


# --- a whole run on a tiny tree -----------------------------------------------------------

CODE = '''\
"""Widgets (made-up RFC 9990 §3)."""


##= https://www.rfc-editor.org/rfc/rfc9990#section-3
##= type=implementation
##% Every widget MUST carry a name.
def make(name: str) -> dict:
    if not name:
        raise ValueError("a widget needs a name")
    return {"name": name}


##= https://www.rfc-editor.org/rfc/rfc9990#section-3
##% A widget SHOULD announce itself when it starts.
def start(widget: dict) -> str:
    return "HELLO"
'''

TESTS = """\
import time

from rfc3261.widgets import make


##= https://www.rfc-editor.org/rfc/rfc9990#section-3
##= type=test
##% Every widget MUST carry a name.
def test_a_widget_has_its_name():
    assert make("w")["name"] == "w"


##= https://www.rfc-editor.org/rfc/rfc9990#section-3
##= type=test
##% A widget SHOULD announce itself when it starts.
def test_start_decides_nothing_itself():
    greeting = "HELLO"  # the test, not start(), decides the outcome
    assert greeting.startswith("HELLO")
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "rfc3261" / "tests").mkdir(parents=True)
    (root / "rfc3261" / "__init__.py").write_text("")
    (root / "rfc3261" / "tests" / "__init__.py").write_text("")
    (root / "rfc3261" / "widgets.py").write_text(CODE)
    (root / "rfc3261" / "tests" / "test_widgets.py").write_text(TESTS)
    return root


def _coverage(root: Path, tmp_path: Path):
    store = SpecStore(spec_dir=FIXTURES / "specs", cache_dir=tmp_path / "c", allow_fetch=False)
    return build_coverage(root, store, extensions=False, core=(9990,))


def test_a_guarding_test_verifies_and_a_blind_one_survives(tree: Path, tmp_path: Path) -> None:
    chosen = candidates(_coverage(tree, tmp_path), tree)
    assert len(chosen) == 2
    cache = tmp_path / "cache.json"
    outcomes = {o.id.split("-r")[1][0]: o for o in run_verify(tree, chosen, cache_path=cache)}
    assert outcomes["1"].verdict == "verified"
    assert outcomes["1"].failing == ["rfc3261/tests/test_widgets.py::test_a_widget_has_its_name"]
    assert outcomes["2"].verdict == "survived"
    # the original tree is untouched, and a second run comes from the cache
    assert (tree / "rfc3261" / "widgets.py").read_text() == CODE
    again = run_verify(tree, chosen, cache_path=cache)
    assert [o.cached for o in again] == [True, True]
    assert [o.verdict for o in again] == ["verified", "survived"]


def test_failing_missing_and_hanging_tests_get_clear_verdicts(tree: Path, tmp_path: Path) -> None:
    tests = tree / "rfc3261" / "tests" / "test_widgets.py"
    text = TESTS.replace('assert make("w")["name"] == "w"', "time.sleep(30)")
    text = text.replace('assert greeting.startswith("HELLO")', "assert not greeting")
    tests.write_text(text)
    chosen = candidates(_coverage(tree, tmp_path), tree)
    outcomes = run_verify(tree, chosen, timeout=2, use_cache=False, cache_path=tmp_path / "c.j")
    assert [o.verdict for o in outcomes] == ["fails intact", "fails intact"]
    assert "timeout" in outcomes[0].reason and "failed" in outcomes[1].reason
    chosen[0].tests = ["rfc3261/tests/test_widgets.py::test_gone"]
    [gone] = run_verify(tree, chosen[:1], use_cache=False, cache_path=tmp_path / "c.j")
    assert gone.verdict == "no test" and "not found" in gone.reason


def test_the_command_writes_a_snapshot_of_ids_and_verdicts(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = tmp_path / "verify.json"
    argv = ["verify", "--root", str(tree), "--spec-dir", str(FIXTURES / "specs"), "--offline"]
    argv += ["--core-rfc", "9990", "--verify-snapshot", str(snapshot), "--update-snapshot"]
    assert main(argv) == 0
    verdicts = read_verify_snapshot(snapshot)
    assert sorted(verdicts.values()) == ["survived", "verified"]
    assert all(k.startswith("rfc9990-3-") for k in verdicts)
    assert set(json.loads(snapshot.read_text())) == {"format", "requirements"}
    # a verified requirement that stops being verified fails --check-snapshot
    (tree / "rfc3261" / "tests" / "test_widgets.py").write_text(
        TESTS.replace('assert make("w")["name"] == "w"', 'assert {"name": "w"}["name"] == "w"')
    )
    argv[-1] = "--check-snapshot"
    assert main(argv) == 1
    assert "was verified, now survived" in capsys.readouterr().out


def test_changed_reverifies_only_what_changed_since_the_snapshot(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = tmp_path / "verify.json"
    argv = ["verify", "--root", str(tree), "--spec-dir", str(FIXTURES / "specs"), "--offline"]
    argv += ["--core-rfc", "9990", "--verify-snapshot", str(snapshot), "--no-cache"]
    assert main([*argv, "--update-snapshot"]) == 0
    rows = json.loads(snapshot.read_text())["requirements"]
    assert all(len(row["key"]) == 64 for row in rows.values())
    capsys.readouterr()
    # nothing changed: no test runs, the snapshot's verdicts stand (what CI does)
    assert main([*argv, "--changed", "--check-snapshot"]) == 0
    assert "nothing changed" in capsys.readouterr().out
    # the guarding test is weakened: only its requirement is verified again, and fails
    (tree / "rfc3261" / "tests" / "test_widgets.py").write_text(
        TESTS.replace('assert make("w")["name"] == "w"', 'assert {"name": "w"}["name"] == "w"')
    )
    assert main([*argv, "--changed", "--check-snapshot"]) == 1
    out = capsys.readouterr().out
    assert "1 requirement(s) unchanged" in out and "was verified, now survived" in out


def test_a_format_1_snapshot_still_reads(tmp_path: Path) -> None:
    old = tmp_path / "v1.json"
    old.write_text(json.dumps({"format": 1, "requirements": {"rfc3261-8-r1-abc": "verified"}}))
    assert read_verify_snapshot(old) == {"rfc3261-8-r1-abc": "verified"}
    old.write_text(json.dumps({"format": 1, "requirements": {"x": "great"}}))
    with pytest.raises(ValueError, match="malformed"):
        read_verify_snapshot(old)


def test_changed_leaves_requirements_without_a_verdict_to_make_verify(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = tmp_path / "verify.json"
    snapshot.write_text(json.dumps({"format": 2, "requirements": {}}))
    argv = ["verify", "--root", str(tree), "--spec-dir", str(FIXTURES / "specs"), "--offline"]
    argv += ["--core-rfc", "9990", "--verify-snapshot", str(snapshot), "--no-cache"]
    assert main([*argv, "--changed", "--check-snapshot"]) == 0
    out = capsys.readouterr().out
    assert "2 cited requirement(s) have no verdict yet" in out and "nothing changed" in out


def test_a_tree_that_no_longer_loads_is_not_neutralised_rather_than_survived(
    tree: Path, tmp_path: Path
) -> None:
    # A conftest imports the module: broken at import, pytest never starts a test.
    (tree / "rfc3261" / "widgets.py").write_text(
        CODE
        + "\n\n##= https://www.rfc-editor.org/rfc/rfc9990#section-3.2\n"
        + "##% A widget name MUST be a token.\n"
        + 'TOKEN = "NAME"\n\nif not TOKEN.isupper():\n    raise ImportError("no token")\n'
    )
    (tree / "rfc3261" / "tests" / "conftest.py").write_text("import rfc3261.widgets\n")
    (tree / "rfc3261" / "tests" / "test_token.py").write_text(
        "from rfc3261.widgets import TOKEN\n\n\n"
        "##= https://www.rfc-editor.org/rfc/rfc9990#section-3.2\n##= type=test\n"
        "##% A widget name MUST be a token.\ndef test_token():\n    assert TOKEN\n"
    )
    chosen = [c for c in candidates(_coverage(tree, tmp_path), tree) if "-3.2-" in c.id]
    [outcome] = run_verify(tree, chosen, use_cache=False, cache_path=tmp_path / "c.json")
    assert outcome.verdict == "not neutralised" and "no longer loads" in outcome.reason


def test_the_key_ignores_where_the_blocks_sit(tree: Path, tmp_path: Path) -> None:
    before = {c.id: c.key for c in candidates(_coverage(tree, tmp_path), tree)}
    code = tree / "rfc3261" / "widgets.py"
    code.write_text(code.read_text().replace('"""Widgets', '"""A line more.\n\nWidgets', 1))
    moved = {c.id: c.key for c in candidates(_coverage(tree, tmp_path), tree)}
    assert moved == before
    code.write_text(code.read_text().replace('raise ValueError("a widget needs a name")', "pass"))
    changed = {c.id: c.key for c in candidates(_coverage(tree, tmp_path), tree)}
    assert sum(changed[k] != before[k] for k in before) == 1


def test_a_declared_absence_is_its_own_verdict_never_verified(tree: Path, tmp_path: Path) -> None:
    code = tree / "rfc3261" / "widgets.py"
    code.write_text(
        CODE.replace(
            "##% A widget SHOULD announce itself when it starts.\ndef start",
            "##= verify=absence\n##= reason=start() has no way to stay silent\n"
            "##% A widget SHOULD announce itself when it starts.\ndef start",
        )
    )
    chosen = candidates(_coverage(tree, tmp_path), tree)
    outcomes = run_verify(tree, chosen, use_cache=False, cache_path=tmp_path / "c.j")
    assert [o.verdict for o in outcomes] == ["verified", "absence"]
    assert outcomes[1].reason == "start() has no way to stay silent"
    # the declaration is part of the key: dropping it verifies the requirement again
    code.write_text(CODE)
    assert candidates(_coverage(tree, tmp_path), tree)[1].key != chosen[1].key


def test_an_unknown_verify_kind_is_refused() -> None:
    from annotate.annotations import scan_source

    text = "##= https://www.rfc-editor.org/rfc/rfc3261#section-8\n##= verify=maybe\n##% x\nx = 1\n"
    _annotations, errors = scan_source(text, "x.py")
    assert any("verify kind" in str(e) for e in errors)


def test_a_keyword_argument_on_its_own_line_is_emptied_or_changed() -> None:
    text = dedent(
        """\
        def make(challenge):
            return dict(
                ##= https://www.rfc-editor.org/rfc/rfc7616#section-3.3
                ##% ... MUST be obtained.
                stale=challenge.stale,
                retries=3,
            )
        """
    )
    new, kinds = neutralise(text, [(5, 5)])
    assert kinds == ["argument emptied"] and "stale=None," in new.splitlines()[4]
    assert "retries=3," in new
    new, kinds = neutralise(text, [(6, 6)], gentle=True)
    assert kinds == ["argument changed"] and "retries=7," in new.splitlines()[5]
    ast.parse(new)
