"""The RFC 3261 observability classification (issue 25) and the conformance coverage."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from annotate.observability import (
    OBSERVABILITY_FILE,
    ROLES,
    case_requirements,
    check_file,
    coverage_text,
    load_observability,
    observability_files,
    role_coverage,
    role_mismatches,
    stack_verdicts,
)
from annotate.requirements import extract_requirements

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def requirements(rfc3261):
    return extract_requirements(rfc3261)


def test_the_committed_file_classifies_every_requirement_once(requirements) -> None:
    obs, problems = check_file(REPO / OBSERVABILITY_FILE, requirements)
    assert problems == []
    assert set(obs.entries) == {r.id for r in requirements}
    assert all(obs.reviewed.values()) and obs.reviewed
    levels = Counter(r.level for r in requirements if obs.entries[r.id].observable)
    # most MUSTs of RFC 3261 can be judged on the wire; the ratio guards against a bulk edit
    must = sum(r.level == "MUST" for r in requirements)
    assert levels["MUST"] > 0.8 * must


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "observability.toml"
    path.write_text(body, encoding="utf-8")
    return path


def _section(requirements, number: str):
    return [r for r in requirements if r.section == number]


def test_errors_name_file_and_line(tmp_path: Path, requirements) -> None:
    reqs = _section(requirements, "8.1.1.7")
    a, b, c, d, e = (r.id for r in reqs)
    path = _write(
        tmp_path,
        '["8.1.1.7"]\n'
        "reviewed = true\n"
        f'"{a}" = ["uac"]\n'
        f'"{b}" = ["ua"]\n'
        f'"{c}" = {{ not_observable = "" }}\n'
        f'"{d}" = []\n'
        '"rfc3261-8.1.1.7-r99-000000" = ["uac"]\n',
    )
    _obs, problems = check_file(path, reqs, "obs.toml")
    text = [str(p) for p in problems]
    assert any(t.startswith("obs.toml:4: ") and "unknown role(s) ['ua']" in t for t in text)
    assert any(t.startswith("obs.toml:5: ") and "not_observable" in t for t in text)
    assert any(t.startswith("obs.toml:6: ") and "empty list" in t for t in text)
    assert any(t.startswith("obs.toml:7: ") and "not a requirement" in t for t in text)
    assert any(e in t and "not classified" in t and t.startswith("obs.toml:1: ") for t in text)
    # a malformed entry is reported once, not again as unclassified
    assert not any(b in t and "not classified" in t for t in text)
    assert len(problems) == 5


def test_an_id_in_another_sections_table_and_twice(tmp_path: Path, requirements) -> None:
    first = _section(requirements, "8.1.1.6")[0]
    path = _write(
        tmp_path,
        f'["8.1.1.6"]\nreviewed = true\n"{first.id}" = ["uac"]\n'
        f'["8.1.1.7"]\nreviewed = true\n"{first.id}" = ["uac"]\n',
    )
    _obs, problems = check_file(path, [first], "o.toml")
    assert [str(p) for p in problems] == [
        f"o.toml:6: {first.id} is classified twice (first at line 3)"
    ]
    path = _write(tmp_path, f'["8.1.1.7"]\nreviewed = true\n"{first.id}" = ["uac"]\n')
    _obs, problems = check_file(path, [first], "o.toml")
    assert [str(p) for p in problems] == [
        f"o.toml:3: {first.id} belongs to section 8.1.1.6, not [8.1.1.7]"
    ]


def test_a_section_not_reviewed_and_bad_toml(tmp_path: Path, requirements) -> None:
    first = _section(requirements, "8.1.1.6")[0]
    path = _write(tmp_path, f'\n["8.1.1.6"]\n"{first.id}" = ["uac"]\n')
    _obs, problems = check_file(path, [first], "o.toml")
    assert len(problems) == 1 and str(problems[0]).startswith("o.toml:2: [8.1.1.6] is not marked")
    path = _write(tmp_path, '["8.1.1.6"]\nreviewed = true\n"x" = [\n')
    _obs, problems = check_file(path, [first], "o.toml")
    assert len(problems) == 1 and "invalid TOML" in str(problems[0])


@dataclass
class FakeCase:
    id: str
    roles: tuple[str, ...]
    requirements: list = field(default_factory=list)


@dataclass
class Quote:
    rfc: int
    section: str
    quote: str


def test_role_coverage_counts_a_case_only_in_its_own_role(rfc3261, requirements) -> None:
    obs = load_observability(REPO / OBSERVABILITY_FILE)
    branch = next(
        r for r in requirements if r.section == "8.1.1.7" and "z9hG4bK" in r.text
    )  # observable for UACs and proxies
    case = FakeCase(
        "proxy-branch", ("proxy",), [Quote(3261, "8.1.1.7", branch.text), Quote(3262, "3", "x")]
    )
    judged = case_requirements([case], rfc3261)
    assert judged == {branch.id: [case]}
    rows = {row.role: row for row in role_coverage(requirements, obs, judged)}
    assert set(rows) == set(ROLES)
    assert rows["proxy"].covered == {"MUST": 1, "SHOULD": 0} and rows["proxy"].cases == 1
    assert rows["uac"].covered == {"MUST": 0, "SHOULD": 0}
    assert rows["proxy"].observable["MUST"] > 100
    text = coverage_text(list(rows.values()), {"MUST": 2}, {})
    assert "proxy" in text and "not observable: 2 MUST (2 in all)" in text
    # a registrar case citing it is outside its roles: listed, not counted
    stray = FakeCase("reg-branch", ("registrar",), [Quote(3261, "8.1.1.7", branch.text)])
    judged = case_requirements([case, stray], rfc3261)
    assert role_mismatches(obs, judged) == [("reg-branch", branch.id, ("registrar",))]
    rows = {row.role: row for row in role_coverage(requirements, obs, judged)}
    assert rows["registrar"].covered["MUST"] == 0
    text = coverage_text([], {}, {}, mismatches=role_mismatches(obs, judged))
    assert f"reg-branch (registrar) cites {branch.id}" in text


def test_stack_verdicts_read_result_files(tmp_path: Path) -> None:
    result = tmp_path / "stack-uas.json"
    result.write_text(
        '{"schema": "sipref-conformance/1", "cases": [{"id": "c1", "verdict": "fail",'
        ' "requirements": ["rfc3261-8.2-r1-x"]}, {"id": "c2", "verdict": "pass"}]}'
    )
    (tmp_path / "broken.json").write_text("{")
    verdicts = stack_verdicts([result, tmp_path / "broken.json"])
    assert verdicts == {"stack-uas": {"rfc3261-8.2-r1-x": [("c1", "fail")]}}
    text = coverage_text([], {}, verdicts)
    assert "stack-uas: 1 requirement(s) judged; verdicts 1 fail" in text


def test_check_and_report_commands(spec_dir: Path, tmp_path: Path, capsys) -> None:
    from annotate.__main__ import main

    root = tmp_path / "tree"
    (root / "rfc3261").mkdir(parents=True)
    (root / OBSERVABILITY_FILE).write_text('["8.1.1.7"]\nreviewed = true\n"bogus" = ["uac"]\n')
    args = ["--root", str(root), "--spec-dir", str(spec_dir), "--offline"]
    assert main(["check", *args]) == 1
    out = capsys.readouterr().out
    assert "rfc3261/observability.toml:3: bogus is not a requirement of RFC 3261" in out
    assert "is not classified" in out
    assert main(["report", "--spec-dir", str(spec_dir), "--offline", "--rfc", "3261"]) == 0
    out = capsys.readouterr().out
    section = out[out.index("conformance coverage") :]
    for role in ROLES:
        assert f"\n  {role} " in section
    assert "not observable:" in section


def test_extension_rfcs_keep_their_own_classification(spec_store) -> None:
    # issue 25: an extension RFC's classification sits beside its module, checked the same way
    files = observability_files(REPO)
    assert files[3261] == REPO / OBSERVABILITY_FILE
    extensions = {n: p for n, p in files.items() if n != 3261}
    assert {3262, 3311, 3428, 3515, 3891, 4028, 6665} <= set(extensions)
    for number, path in extensions.items():
        assert path == REPO / "extensions" / f"rfc{number}.observability.toml"
        reqs = extract_requirements(spec_store.document(number))
        obs, problems = check_file(path, reqs, rfc=number)
        assert problems == [], number
        assert set(obs.entries) == {r.id for r in reqs}


def test_check_names_an_extension_file_and_its_rfc(spec_dir: Path, tmp_path: Path, capsys) -> None:
    from annotate.__main__ import main

    root = tmp_path / "tree"
    (root / "extensions").mkdir(parents=True)
    path = root / "extensions" / "rfc3262.observability.toml"
    path.write_text('["3"]\nreviewed = true\n"bogus" = ["uas"]\n')
    args = ["--root", str(root), "--spec-dir", str(spec_dir), "--offline"]
    assert main(["check", *args]) == 1
    out = capsys.readouterr().out
    assert "extensions/rfc3262.observability.toml:3: bogus is not a requirement of RFC 3262" in out
    assert "rfc3262-3-r2-01ebe0 (MUST, §3) is not classified" in out
