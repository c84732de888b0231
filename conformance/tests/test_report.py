"""JSON, JUnit and terminal reports of a run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from conformance.model import REGISTRY, Profile, Verdict
from conformance.report import SCHEMA, requirement_ids, summary_text, to_junit, write_json
from conformance.runner import CaseResult, RunResult
from conformance.target import parse_target
from conformance.tests.support import run_cases  # noqa: F401  (registers the cases)
from conformance.wire import Event, Ladder


def _run() -> RunResult:
    run = RunResult(parse_target("udp:127.0.0.1:5070"), "uas", Profile(name="demo"))
    ladder = Ladder()
    ladder.add(
        Event(
            0, "sent", "udp", ("127.0.0.1", 1), ("127.0.0.1", 5070), b"OPTIONS x SIP/2.0\r\n\r\n"
        )
    )
    failing = CaseResult(
        REGISTRY["uas-to-tag-added"],
        Verdict.FAIL,
        "expected a tag; observed none",
        "a tag in To",
        "To: <sip:x>",
        0,
        ladder=ladder,
    )
    run.results = [
        CaseResult(REGISTRY["uas-options-final"], Verdict.PASS),
        failing,
        CaseResult(REGISTRY["uas-options-allow"], Verdict.WARN, "missing Allow", warnings=["w"]),
        CaseResult(REGISTRY["txn-cancel-200"], Verdict.INCONCLUSIVE, "answered at once"),
        CaseResult(REGISTRY["uac-ack-2xx"], Verdict.NOT_APPLICABLE, "no originate command"),
        CaseResult(REGISTRY["uas-cseq-echo"], Verdict.ERROR, "KeyError: x", observed="tb"),
    ]
    run.duration = 1.5
    return run


def test_json_schema(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    write_json(_run(), path)
    data = json.loads(path.read_text())
    assert data["schema"] == SCHEMA and data["stack"] == "demo" and data["ok"] is False
    assert data["summary"] == {
        "pass": 1,
        "warn": 1,
        "fail": 1,
        "inconclusive": 1,
        "not-applicable": 1,
        "error": 1,
    }
    case = data["cases"][1]
    assert case["id"] == "uas-to-tag-added" and case["verdict"] == "fail"
    assert case["enforced"]["quote"].startswith("However, if the To header field")
    assert case["ladder"][0]["direction"] == "sent"
    assert case["ladder"][0]["base64"] and case["ladder"][0]["summary"].startswith("OPTIONS")
    assert all(r.startswith("rfc3261-8.2.6.2-") for r in case["requirements"])


def test_requirement_ids_resolve_to_annotate_ids() -> None:
    req = REGISTRY["uas-420-options"].requirements[0]
    ids = requirement_ids(req)
    assert ids and all(i.startswith("rfc3261-8.2.2.3-r") for i in ids)


def test_docs_page_renders_it(tmp_path: Path) -> None:
    from annotate.sphinxext.dashboards import conformance_html

    write_json(_run(), tmp_path / "demo.json")
    html, count = conformance_html(tmp_path)
    assert count == 1 and "uas-to-tag-added" in html and "verdict-fail" in html


def test_junit() -> None:
    root = ET.fromstring(to_junit(_run()))
    cases = root.findall(".//testcase")
    assert len(cases) == 6
    by_name = {c.get("name"): c for c in cases}
    assert by_name["uas-to-tag-added"].find("failure") is not None
    assert "8.2.6.2" in (by_name["uas-to-tag-added"].find("failure").text or "")
    assert by_name["uas-cseq-echo"].find("error") is not None
    assert by_name["txn-cancel-200"].find("skipped") is not None
    assert by_name["uas-options-final"].find("failure") is None


def test_summary_names_the_sentence() -> None:
    text = summary_text(_run())
    assert "FAIL  uas-to-tag-added" in text and "RFC 3261 §8.2.6.2" in text
    assert text.splitlines()[-1].startswith("6 cases against")
