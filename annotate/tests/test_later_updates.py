"""The reviewed data of what later RFCs changed: loading, the quote check, the CLI hook."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from annotate.checker import DocumentCache
from annotate.later_updates import UPDATES_FILE, check_updates, load_updates
from annotate.specstore import SpecStore

FIXTURES = Path(__file__).parent / "fixtures"
SPECS = FIXTURES / "specs"
REPO = Path(__file__).resolve().parents[2]

# RFC 9991 (made up) "updates" RFC 9990 (made up): the fixture specs
GOOD = '''
[[update]]
rfc = 9991
section = "2"
updates = "9990#section-3"
kind = "add"
old = """A widget MAY send a greeting to its
neighbours."""
new = "A widget that supports gadgets MUST list them in its greeting."
'''
BAD_OLD = """
[[update]]
rfc = 9991
section = "2"
updates = "9990#section-3"
kind = "replace"
old = "A widget name MUST be a token."
new = "A widget that supports gadgets MUST list them in its greeting."
"""
BAD_NEW = """
[[update]]
rfc = 9991
section = "1"
updates = "9990#section-3"
kind = "replace"
old = "Every widget MUST carry a name."
new = "A widget MAY ignore gadgets it does not know."
"""
MALFORMED = """
[[update]]
rfc = 9991
section = "2"
updates = "section 3"
kind = "replace"
old = "x"
new = "y"

[[update]]
rfc = 9991
section = "2"
updates = "9990#section-3"
kind = "rewrite"
old = "x"
new = "y"

[[update]]
rfc = 9991
updates = "9990#section-3"
kind = "add"
old = "x"
new = "y"
"""


@pytest.fixture
def docs(tmp_path) -> DocumentCache:
    return DocumentCache(SpecStore(SPECS, cache_dir=tmp_path / "cache", allow_fetch=False))


def _load(tmp_path: Path, text: str):
    path = tmp_path / "later_rfcs.toml"
    path.write_text(text, encoding="utf-8")
    return load_updates(path)


def test_a_good_entry_loads_and_checks_clean(tmp_path, docs):
    updates, problems = _load(tmp_path, GOOD)
    assert problems == []
    (update,) = updates
    assert (update.rfc, update.section, update.kind) == (9991, "2", "add")
    assert (update.target_rfc, update.target_section, update.line) == (9990, "3", 2)
    assert check_updates(updates, docs) == []


def test_old_quote_missing_from_the_changed_section_is_reported_with_where_it_is(tmp_path, docs):
    updates, _ = _load(tmp_path, GOOD + BAD_OLD)
    (problem,) = check_updates(updates, docs)
    assert problem.line == 11  # the second [[update]] header
    assert "old quote not found in RFC 9990 §3" in problem.message
    assert "it occurs in §3.2" in problem.message


def test_new_quote_missing_from_the_updating_section_is_reported(tmp_path, docs):
    updates, _ = _load(tmp_path, BAD_NEW)
    (problem,) = check_updates(updates, docs)
    assert "RFC 9991 update: new quote not found in RFC 9991 §1" in problem.message


def test_unknown_section_and_rfc_are_reported(tmp_path, docs):
    text = GOOD.replace('section = "2"', 'section = "7"')
    updates, _ = _load(tmp_path, text)
    (problem,) = check_updates(updates, docs)
    assert "RFC 9991 §7 does not exist" in problem.message


def test_malformed_entries_are_diagnostics_not_exceptions(tmp_path):
    updates, problems = _load(tmp_path, MALFORMED)
    assert updates == []
    messages = [(p.line, p.message) for p in problems]
    assert messages[0][0] == 2 and "expected '3261#section-X'" in messages[0][1]
    assert "kind = 'rewrite'" in messages[1][1]
    assert "missing section" in messages[2][1]
    _, problems = _load(tmp_path, "[[update]\n")
    assert "not valid TOML" in problems[0].message


def test_check_command_fails_on_a_bad_updates_file(tmp_path, monkeypatch, capsys):
    from annotate.__main__ import main

    monkeypatch.setenv("SIPREF_OFFLINE", "1")
    monkeypatch.setenv("SIPREF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SIPREF_SPEC_DIR", raising=False)
    root = tmp_path / "tree"
    shutil.copytree(FIXTURES / "good", root)
    args = ["check", "--root", str(root), "--spec-dir", str(SPECS), "--core-rfc", "9990"]
    (root / "annotate").mkdir()
    (root / UPDATES_FILE).write_text(GOOD, encoding="utf-8")
    assert main(args) == 0
    (root / UPDATES_FILE).write_text(GOOD + BAD_OLD, encoding="utf-8")
    capsys.readouterr()
    assert main(args) == 1
    out = capsys.readouterr().out
    assert f"{UPDATES_FILE}:11: RFC 9991 update: old quote not found" in out


def test_the_repository_updates_file_checks_clean(spec_store):
    updates, problems = load_updates(REPO / UPDATES_FILE)
    assert problems == []
    assert {u.rfc for u in updates} >= {6026, 5393, 5954, 8760, 7616}
    assert check_updates(updates, DocumentCache(spec_store)) == []
