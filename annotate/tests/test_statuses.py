"""Statuses that never overstate (issue 15): partial, implied, verified, fragments, conflicts,
and the snapshot formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotate.__main__ import main
from annotate.report import (
    build_coverage,
    compare_snapshot,
    conflict_warnings,
    snapshot_of,
    to_json,
    write_snapshot,
)
from annotate.requirements import keyword_clauses
from annotate.specstore import SpecStore

FIXTURES = Path(__file__).parent / "fixtures"
TARGET = "https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2"
FIRST = "When timer A fires, the client transaction MUST retransmit the request by passing it"
WHOLE = FIRST + ("\n##% to the transport layer, and MUST reset the timer with a value of 2*T1.")


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("The client MUST retransmit the request, and MUST reset the timer.", 2),
        ("To and From MUST be present.", 1),
        ("The UAS MUST NOT place it; the UAC MUST ignore it.", 2),
        ("A proxy MAY do this but proxies MUST NOT do that.", 1),  # no clause boundary
    ],
)
def test_keyword_clauses(text: str, count: int) -> None:
    clauses = keyword_clauses(text)
    assert len(clauses) == count
    assert all(text[a:b] in ("MUST", "MUST NOT", "MAY") for a, b in clauses)


def _tree(tmp_path: Path, quote: str, todo: bool = False) -> Path:
    root = tmp_path / "tree"
    (root / "rfc3261" / "tests").mkdir(parents=True)
    (root / "rfc3261" / "timer.py").write_text(
        f"##= {TARGET}\n##% {quote}\ndef fire():\n    return 1\n"
    )
    (root / "rfc3261" / "tests" / "test_timer.py").write_text(
        f"##= {TARGET}\n##= type=test\n##% {quote}\ndef test_fire():\n    assert 1\n"
    )
    if todo:
        (root / "rfc3261" / "left.annotations.toml").write_text(
            "[[annotation]]\n"
            f'target = "{TARGET}"\n'
            'type = "todo"\n'
            'reason = "the reset is not done yet"\n'
            "quote = 'and MUST reset the timer with a value of 2*T1.'\n"
        )
    return root


def _entry(root: Path, spec_store: SpecStore, verdicts: dict[str, str] | None = None):
    coverage = build_coverage(root, spec_store, extensions=False, verdicts=verdicts)
    rfc = coverage.rfc(3261)
    assert rfc is not None
    entry = next(e for e in rfc.requirements if e.requirement.text.startswith("When timer A"))
    return coverage, entry


def test_a_quote_of_one_clause_is_partial(tmp_path: Path, spec_store: SpecStore) -> None:
    _, entry = _entry(_tree(tmp_path, FIRST), spec_store)
    assert entry.clauses == (1, 2)
    assert (entry.status, entry.legacy) == ("partial", "complete")
    # partial stays partial even when a verification says "verified"
    _, again = _entry(_tree(tmp_path / "b", FIRST), spec_store, {entry.requirement.id: "verified"})
    assert again.status == "partial"


def test_a_whole_quote_is_complete_then_verified(tmp_path: Path, spec_store: SpecStore) -> None:
    root = _tree(tmp_path, WHOLE)
    _, entry = _entry(root, spec_store)
    assert (entry.clauses, entry.status) == ((2, 2), "complete")
    rid = entry.requirement.id
    coverage, entry = _entry(root, spec_store, {rid: "verified"})
    assert (entry.status, entry.verdict) == ("verified", "verified")
    data = to_json(coverage)
    req = next(r for r in data["rfcs"][0]["requirements"] if r["id"] == rid)
    assert (req["status"], req["verdict"], req["clauses"]) == ("verified", "verified", [2, 2])
    # the verification snapshot in the tree is read by default
    (root / "annotate").mkdir()
    (root / "annotate" / "verify_snapshot.json").write_text(
        json.dumps({"format": 1, "requirements": {rid: "survived"}})
    )
    _, entry = _entry(root, spec_store)
    assert (entry.status, entry.verdict) == ("complete", "survived")


def test_a_todo_on_a_complete_requirement_is_a_warning(
    tmp_path: Path, spec_store: SpecStore
) -> None:
    coverage, entry = _entry(_tree(tmp_path, WHOLE, todo=True), spec_store)
    assert entry.status == "complete"
    (warning,) = conflict_warnings(coverage)
    assert warning.path == "rfc3261/left.annotations.toml"
    assert "is complete (cited in code and tests) but this todo says otherwise" in warning.message
    assert "the reset is not done yet" in warning.message


def test_a_todo_on_a_partial_requirement_tracks_the_rest(
    tmp_path: Path, spec_store: SpecStore
) -> None:
    # One clause quoted in code and test, a todo for the other: consistent, no warning.
    coverage, entry = _entry(_tree(tmp_path, FIRST, todo=True), spec_store)
    assert entry.status == "partial"
    assert conflict_warnings(coverage) == []


def test_check_prints_the_warning_and_fails_with_strict(
    tmp_path: Path, spec_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _tree(tmp_path, WHOLE, todo=True)
    args = ["check", "--root", str(root), "--spec-dir", str(spec_dir), "--offline"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "left.annotations.toml:1: warning:" in out and "1 warning(s)" in out
    assert main([*args, "--strict"]) == 1


def test_fragments_carry_their_sentence(tmp_path: Path) -> None:
    store = SpecStore(spec_dir=FIXTURES / "specs", cache_dir=tmp_path, allow_fetch=False)
    coverage = build_coverage(FIXTURES / "good", store, core=(9990,))
    reqs = {r["text"]: r for r in to_json(coverage)["rfcs"][0]["requirements"]}
    part = reqs["and SHOULD double the value of timer W."]
    assert part["fragment"] is True
    assert part["sentence"] == (
        "When timer W fires, the widget MUST retransmit the signal and SHOULD double the "
        "value of timer W."
    )
    whole = reqs["Every widget MUST carry a name."]
    assert (whole["fragment"], whole["sentence"]) == (False, whole["text"])


def test_snapshot_format_1_is_compared_under_its_own_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = SpecStore(spec_dir=FIXTURES / "specs", cache_dir=tmp_path, allow_fetch=False)
    coverage = build_coverage(FIXTURES / "good", store, core=(9990,))
    legacy = snapshot_of(coverage, legacy=True)
    new = snapshot_of(coverage)
    implied = [k for k, v in new.items() if v == "implied"]
    assert implied and all(legacy[k] == "complete" for k in implied)
    # against format-2 statuses, complete -> implied is a drop; under format-1 rules, none
    assert not compare_snapshot(legacy, new).ok
    assert compare_snapshot(legacy, snapshot_of(coverage, legacy=True)).ok
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"format": 1, "requirements": legacy}))
    args = ["report", "--root", str(FIXTURES / "good"), "--spec-dir", str(FIXTURES / "specs")]
    args += ["--offline", "--core-rfc", "9990", "--quiet", "--snapshot-file", str(old)]
    assert main([*args, "--check-snapshot"]) == 0
    assert "is format 1" in capsys.readouterr().out
    # a format-2 snapshot records the new statuses, and verified -> complete is a drop
    current = tmp_path / "new.json"
    write_snapshot(current, new)
    assert json.loads(current.read_text())["format"] == 2
    assert not compare_snapshot({"x": "verified"}, {"x": "complete"}).ok
    assert not compare_snapshot({"x": "complete"}, {"x": "partial"}).ok
