"""The coverage report: statuses and precedence, JSON, snapshot, fail-under, extension sizes."""

import datetime as dt
import json
from pathlib import Path

import pytest

from annotate.report import (
    LEVELS,
    STATUSES,
    build_coverage,
    compare_snapshot,
    count_code_lines,
    extension_sizes,
    fail_under,
    legacy_status_of,
    level_totals,
    parse_fail_under,
    read_snapshot,
    snapshot_of,
    status_of,
    text_summary,
    to_json,
    write_snapshot,
)
from annotate.specstore import SpecStore

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def coverage(tmp_path_factory):
    store = SpecStore(
        spec_dir=FIXTURES / "specs",
        cache_dir=tmp_path_factory.mktemp("cache"),
        allow_fetch=False,
    )
    return build_coverage(FIXTURES / "good", store, core=(9990,))


def by_text(coverage):
    """{(rfc, requirement text): RequirementStatus} (ids carry a hash; texts read better)."""
    return {
        (r.document.number, e.requirement.text): e for r in coverage.rfcs for e in r.requirements
    }


@pytest.mark.parametrize(
    ("types", "status"),
    [
        ((), "not started"),
        (("spec",), "not started"),
        (("todo",), "todo"),
        (("test",), "missing citation"),
        (("implementation",), "missing test"),
        (("implementation", "todo"), "missing test"),
        (("test", "todo"), "missing citation"),
        (("exception",), "exception"),
        (("exception", "todo"), "exception"),
        (("exception", "implementation"), "exception"),
        (("exception", "test"), "exception"),
        (("implementation", "test"), "complete"),
        # issue 15: an implication alone is "implied", counted apart from complete
        (("implication",), "implied"),
        (("implication", "implementation"), "missing test"),
        (("implementation", "test", "exception"), "complete"),
        (("implication", "exception", "todo"), "exception"),
    ],
)
def test_status_precedence(types, status):
    assert status_of(types) == status


def test_verified_and_partial_statuses():
    both = ("implementation", "test")
    assert status_of(both, verified=True) == "verified"
    assert status_of(both, whole=False) == "partial"
    assert status_of(both, whole=False, verified=True) == "partial"  # partial never verified
    assert status_of(("test",), verified=True) == "missing citation"
    assert legacy_status_of(("implication",)) == "complete"


def test_statuses_of_the_fixture_requirements(coverage):
    got = {key: entry.status for key, entry in by_text(coverage).items()}
    assert got == {
        (9990, "Every widget MUST carry a name."): "complete",
        (9990, "A widget SHOULD announce itself when it starts."): "missing test",
        (9990, "A widget MAY send a greeting to its neighbours."): "missing citation",
        (9990, "A widget MUST NOT send more than one greeting per second."): "todo",
        (
            9990,
            "When a widget sends a signal over an unreliable transport, the widget MUST start "
            "timer W with a value of T1.",
        ): "complete",
        # One quote of a compound sentence cites both of its requirements; the exception on
        # the SHOULD clause outranks the implementation.
        (9990, "When timer W fires, the widget MUST retransmit the signal"): "missing test",
        (9990, "and SHOULD double the value of timer W."): "exception",
        (9990, "The widget MUST stop timer W when it receives an acknowledgement"): "not started",
        (9990, "and it SHOULD forget the signal after ten seconds."): "not started",
        (
            9990,
            "This sentence is split across a page break, and the widget MUST keep it whole "
            "when it is quoted.",
        ): "implied",
        (9990, "A widget name MUST be a token."): "not started",
        (9990, "Names are compared case-insensitively."): "not started",  # type=spec
        # The TOML exception without a quote covers §4 and §4.1; complete still wins.
        (9990, "Widgets that need privacy MAY encrypt their signals with a shared key."): (
            "exception"
        ),
        (9990, "Encrypted signals MUST be marked as such."): "complete",
        (9990, "A secure widget MUST present a certificate."): "exception",
        (9990, "The certificate SHOULD be signed by a known authority."): "exception",
        (9990, "Implementations SHOULD NOT trust them."): "not started",
        (9990, "Implementations MAY log it."): "todo",  # TOML todo with a quote
        (9991, "A widget that supports gadgets MUST list them in its greeting."): "complete",
        (9991, "A widget MAY ignore gadgets it does not know."): "missing test",
    }


def test_spec_annotation_declares_a_requirement(coverage):
    entry = by_text(coverage)[(9990, "Names are compared case-insensitively.")]
    assert entry.declared
    assert entry.requirement.level == "SHOULD"
    assert entry.requirement.section == "3.2"
    assert entry.citations == []


def test_citations_point_at_the_code(coverage):
    entry = by_text(coverage)[(9990, "Every widget MUST carry a name.")]
    cites = sorted(
        (c.annotation.path, c.annotation.line, c.annotation.type) for c in entry.citations
    )
    assert cites == [
        ("rfc3261/widget_checks.py", 6, "test"),
        ("rfc3261/widgets.py", 8, "implementation"),
    ]


def test_report_always_holds_the_core_rfc(tmp_path):
    store = SpecStore(spec_dir=FIXTURES / "specs", cache_dir=tmp_path, allow_fetch=False)
    (tmp_path / "rfc3261").mkdir()
    coverage = build_coverage(tmp_path, store, core=(9991,))
    assert [r.document.number for r in coverage.rfcs] == [9991]
    assert {e.status for e in coverage.rfcs[0].requirements} == {"not started"}
    missing = build_coverage(tmp_path, store, core=(9998,))
    assert missing.rfcs == []
    assert len(missing.load_errors) == 1
    assert "RFC 9998" in missing.load_errors[0]


def test_json_schema(coverage):
    data = to_json(coverage, generated=dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    json.dumps(data)  # serializable
    assert data["generated"] == "2030-01-02T03:04:05Z"
    assert set(data) == {
        "format",
        "generated",
        "statuses",
        "levels",
        "rfcs",
        "annotations",
        "extensions",
        "diagnostics",
    }
    assert data["statuses"] == list(STATUSES)
    assert data["diagnostics"] == []
    rfc = data["rfcs"][0]
    assert set(rfc) == {
        "rfc",
        "title",
        "url",
        "total",
        "by_status",
        "by_level",
        "sections",
        "requirements",
    }
    assert (rfc["rfc"], rfc["title"]) == (9990, "The Widget Signalling Protocol (WSP)")
    assert rfc["total"] == 18 == sum(rfc["by_status"].values())
    assert set(rfc["by_status"]) == set(STATUSES)
    assert set(rfc["by_level"]) == set(LEVELS)
    assert rfc["by_level"]["MUST"]["total"] == sum(rfc["by_level"]["MUST"][s] for s in STATUSES)
    section = next(s for s in rfc["sections"] if s["number"] == "3.1")
    assert section["anchor"] == "section-3.1"
    assert section["url"] == "https://www.rfc-editor.org/rfc/rfc9990#section-3.1"
    assert (section["title"], section["kind"], section["depth"]) == ("Widget Timers", "section", 2)
    assert section["total"] == 6
    assert section["by_status"]["complete"] == 1
    assert section["by_status"]["implied"] == 1
    appendix = next(s for s in rfc["sections"] if s["number"] == "A")
    assert appendix["anchor"] == "appendix-A"
    req = next(r for r in rfc["requirements"] if r["text"] == "Every widget MUST carry a name.")
    assert set(req) == {
        "id",
        "rfc",
        "section",
        "ordinal",
        "level",
        "keyword",
        "text",
        "start",
        "end",
        "declared",
        "status",
        "legacy_status",
        "verdict",
        "clauses",
        "fragment",
        "sentence",
        "conflicts",
        "citations",
    }
    assert (req["section"], req["level"], req["status"]) == ("3", "MUST", "complete")
    citation = next(c for c in req["citations"] if c["type"] == "implementation")
    assert citation == {
        "path": "rfc3261/widgets.py",
        "line": 8,
        "block": [11, 18],
        "type": "implementation",
        "quote": "Every widget MUST carry a name.",
        "origin": "code",
    }
    annotation = next(
        a for a in data["annotations"] if (a["path"], a["line"]) == ("rfc3261/widgets.py", 8)
    )
    assert annotation["valid"] is True
    assert annotation["requirements"] == [req["id"]]
    assert annotation["span"] == [req["start"], req["end"]]
    assert annotation["target"] == "https://www.rfc-editor.org/rfc/rfc9990#section-3"
    toml = next(a for a in data["annotations"] if a["origin"] == "toml" and a["section"] == "4")
    assert toml["block"] is None
    assert toml["meta"] == {"reason": "Secure widgets are out of scope."}
    assert len(toml["requirements"]) == 4


def test_invalid_annotations_are_listed_as_invalid(tmp_path):
    store = SpecStore(spec_dir=FIXTURES / "specs", cache_dir=tmp_path, allow_fetch=False)
    coverage = build_coverage(FIXTURES / "bad", store, core=(9990,))
    data = to_json(coverage)
    assert data["diagnostics"]
    assert all(a["valid"] is False for a in data["annotations"] if a["line"] == 22)
    assert {e.status for r in coverage.rfcs for e in r.requirements} <= set(STATUSES)


def test_level_totals_and_fail_under(coverage):
    totals = level_totals(coverage)
    assert totals["MUST"]["total"] == 10
    assert totals["MUST"]["complete"] == 4  # the implication-only one is "implied" now
    assert totals["MUST"]["implied"] == 1
    assert totals["ALL"]["total"] == 20
    assert totals["ALL"]["complete"] == 4
    assert fail_under(coverage, [("MUST", 40.0)]) == []
    (failure,) = fail_under(coverage, [("MUST", 40.1), ("SHOULD", 0.0)])
    assert failure.startswith("MUST: 40.0% complete (4 of 10) is under 40.1%")
    only_9990 = level_totals(coverage, [9990])
    assert (only_9990["MUST"]["complete"], only_9990["MUST"]["total"]) == (3, 9)
    assert fail_under(coverage, [("MUST", 40.0)], [9990])
    # nothing is verified without a verification snapshot
    (verified,) = fail_under(coverage, [("MUST", 1.0)], what="verified")
    assert verified.startswith("MUST: 0.0% verified (0 of 10)")
    # a level with no requirements is n/a: it never fails
    assert fail_under(coverage, [("SHOULD", 100.0)], [9991]) == []
    assert fail_under(coverage, [("MUST", 100.0)], [9991]) == []
    # A level without requirements counts as fully covered.
    assert fail_under(coverage, [("SHOULD", 100.0)], [9991]) == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("MUST=80", ("MUST", 80.0)), ("should=12.5", ("SHOULD", 12.5)), ("ALL=0", ("ALL", 0.0))],
)
def test_parse_fail_under(spec, expected):
    assert parse_fail_under(spec) == expected


@pytest.mark.parametrize("spec", ["MUST", "OUGHT=5", "MUST=high", "MAY=101"])
def test_parse_fail_under_rejects(spec):
    with pytest.raises(ValueError, match="--fail-under"):
        parse_fail_under(spec)


def test_snapshot_round_trip_has_ids_and_statuses_only(coverage, tmp_path):
    path = tmp_path / "snap.json"
    statuses = snapshot_of(coverage)
    write_snapshot(path, statuses)
    assert read_snapshot(path) == statuses
    text = path.read_text()
    assert "Every widget" not in text  # no spec text
    lines = text.splitlines()
    ids = [line.split('"')[1] for line in lines if line.startswith('  "rfc')]
    assert ids == sorted(ids) and len(ids) == 20  # one requirement per line, sorted


def test_snapshot_comparison():
    old = {"a": "complete", "b": "missing test", "c": "not started", "d": "todo", "e": "exception"}
    new = {
        "a": "missing test",  # worse
        "b": "missing citation",  # lost the implementation citation: worse
        "c": "todo",  # better
        # "d" disappeared
        "e": "complete",  # better
        "f": "not started",  # new
    }
    diff = compare_snapshot(old, new)
    assert diff.dropped == [
        ("a", "complete", "missing test"),
        ("b", "missing test", "missing citation"),
        ("d", "todo", None),
    ]
    assert diff.improved == [
        ("c", "not started", "todo"),
        ("e", "exception", "complete"),
        ("f", None, "not started"),
    ]
    assert not diff.ok
    assert compare_snapshot(old, old).ok
    assert compare_snapshot(old, old).improved == []


def test_complete_to_exception_is_a_drop():
    assert not compare_snapshot({"a": "complete"}, {"a": "exception"}).ok
    assert compare_snapshot({"a": "missing test"}, {"a": "exception"}).ok


@pytest.mark.parametrize(
    "content",
    ["{", '{"requirements": []}', '{"requirements": {"a": "done"}}', "[]"],
)
def test_read_snapshot_rejects_malformed(tmp_path, content):
    path = tmp_path / "snap.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=r"snap\.json"):
        read_snapshot(path)


def test_extension_sizes(coverage):
    assert coverage.extensions == [
        {
            "module": "extensions/gadgets.py",
            # Hand count: GADGETS, def, the four lines of the list, return, class, and the
            # two lines of the multi-line string; docstrings, comments and blanks excluded.
            "lines_of_code": 10,
            "requirements": {"covered": 1, "by_rfc": {"9991": 1}},
        },
        {
            "module": "extensions/widgetpkg",
            # __init__: import, __all__; core: def, return; tests/ not counted.
            "lines_of_code": 4,
            "requirements": {"covered": 1, "by_rfc": {"9991": 1}},
        },
    ]


_CASES = """
from conformance.model import case, register


@case("rfc1-a", roles=("uas",))
def a(ctx):
    reg.register(["*"])  # a registrar helper's method, not a case


@case("rfc1-b", roles=("uas",))
def b(ctx):
    pass


for name in ("c",):
    register(f"rfc1-{name}", a, title=name, roles=("uas",))
"""


def test_extension_sizes_skip_cases_and_tests_folders(tmp_path, coverage):
    ext = tmp_path / "extensions"
    for folder in ("pkg", "conformance", "tests"):
        (ext / folder).mkdir(parents=True)
        (ext / folder / "__init__.py").write_text('"""Doc."""\n')
    (ext / "rfc1.py").write_text("x = 1\n")
    (ext / "pkg" / "core.py").write_text("y = 2\n")
    (ext / "conformance" / "rfc1.py").write_text(_CASES)
    (ext / "tests" / "test_rfc1.py").write_text("def test_x():\n    assert True\n")
    rows = extension_sizes(tmp_path, coverage)
    assert [row["module"] for row in rows] == ["extensions/pkg", "extensions/rfc1.py"]
    assert "conformance_cases" not in rows[0]
    # two decorated cases and one register() call; the cases' lines are not the module's
    assert rows[1]["conformance_cases"] == 3 and rows[1]["lines_of_code"] == 1


@pytest.mark.parametrize(
    ("source", "count"),
    [
        ("", 0),
        ("# only a comment\n\n", 0),
        ('"""Docstring."""\nx = 1\n', 1),
        ('def f():\n    """Doc\n    string."""\n    return 1\n', 2),
        ('x = """not a\ndocstring"""\n', 2),
        ("x = 1  # trailing comment\n", 1),
        ("y = (\n    1,\n    # inner comment\n    2,\n)\n", 4),
        ("def f(:\n  # comment\n  pass\n", 2),  # does not parse: a plain count
    ],
)
def test_count_code_lines(source, count):
    assert count_code_lines(source) == count


def test_text_summary(coverage):
    text = text_summary(coverage)
    lines = text.splitlines()
    assert lines[0] == "RFC 9990: The Widget Signalling Protocol (WSP) — 18 requirements"
    must = next(line for line in lines if line.strip().startswith("MUST"))
    # total verified complete partial implied exception missing-test missing-citation todo
    # not-started complete% verified%
    row = ["MUST", "9", "0", "3", "0", "1", "1", "1", "0", "1", "2", "33.3%", "0.0%"]
    assert must.split() == row
    # RFC 9991 has no SHOULD: n/a, not 100 %
    should = next(line for line in text_summary(coverage, [9991]).splitlines() if "SHOULD" in line)
    assert should.split()[1] == "0" and should.split()[-2:] == ["n/a", "n/a"]
    assert "RFC 9991: Gadgets for the Widget Signalling Protocol — 2 requirements" in lines
    assert "extension extensions/gadgets.py: 10 lines of code, 1 requirements covered" in lines
    only = text_summary(coverage, [9991])
    assert "RFC 9990" not in only and "RFC 9991" in only
