"""Reports of a run: JSON (read by the docs site), JUnit XML, and the terminal summary.

JSON schema (``"schema": "sipref-conformance/1"``), one object per run::

    {
      "schema": "sipref-conformance/1",
      "stack": "sipref minimal UAS",      # the profile's name (or --stack)
      "target": "sip:127.0.0.1:5070;transport=udp",
      "role": "uas", "transport": "udp",
      "started": "2026-11-26T18:00:00Z", "duration": 42.1,    # seconds
      "ok": true,                          # no case failed or errored
      "summary": {"pass": 90, "warn": 3, "fail": 0, "inconclusive": 2,
                  "not-applicable": 20, "error": 0},
      "warnings": ["..."],                 # about the run (no user named...)
      "cases": [
        {
          "id": "uas-options-200",         # stable identifier
          "title": "...", "group": "uas",  # group = cases module
          "roles": ["uas"], "level": "MUST", "tags": ["slow"], "etsi": "",
          "verdict": "pass",               # pass | warn | fail | inconclusive
                                           # | not-applicable | error
          "reason": "...",                 # why, for anything but pass
          "expected": "...", "observed": "...",
          "enforced": {"target": URL, "quote": "..."} | null,  # the sentence a fail enforces
          "requirements": ["rfc3261-8.2.2.1-r2-1a2b3c", ...],  # annotate requirement ids
                          # (or annotation URLs when the RFC text is not at hand)
          "annotations": [{"target": URL, "quote": "..."}],
          "control": {"outcome": "OPTIONS -> 200 OK", "ok": true} | null,
                          # the control exchange (the same request without the defect);
                          # when it fails the verdict is inconclusive, its outcome the reason
          "preamble": "ok: a confirmed dialog" | "",  # the state set up first, if any
          "no_control": "...",            # why the case needs no control ('' = it runs one)
          "postamble": ["ok: BYE -> 200 OK", ...],   # the clean-ups after the case
          "warnings": ["..."], "duration": 0.012, "alive_after": true | null,
          "notes": ["..."],               # what the case says beside its verdict
          "ladder": [{"t": 0.0012, "time": 1764180000.1, "direction": "sent",
                      "transport": "udp", "src": "127.0.0.1:40000",
                      "dst": "127.0.0.1:5070", "summary": "OPTIONS sip:... SIP/2.0",
                      "note": "", "text": "...", "base64": "..."}]   # base64: exact
                                   # bytes (left out by the selftest to keep docs data small)
        }
      ]
    }

``requirements`` lists the ids of the requirements (`annotate.requirements`) whose text the
case's annotation quotes overlap, so the docs page links each case to the spec.
"""

from __future__ import annotations

import json
import os
import sys
import time
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import Any, TextIO

from conformance.model import Requirement, Verdict
from conformance.runner import CaseResult, RunResult

__all__ = ["SCHEMA", "requirement_ids", "summary_text", "to_json", "to_junit", "write_json"]

SCHEMA = "sipref-conformance/1"


@cache
def _spec_document(rfc: int) -> Any:
    try:
        from annotate.specstore import SpecStore

        spec = os.environ.get("SIPREF_SPEC_DIR")
        folder = Path(spec) if spec else Path(__file__).resolve().parents[2] / "shared" / "rfcs"
        return SpecStore(spec_dir=folder, allow_fetch=False).document(rfc)
    except Exception:
        return None


def requirement_ids(requirement: Requirement) -> list[str]:
    """Ids of the requirements the annotation's quote overlaps (its URL when unknown)."""
    doc = _spec_document(requirement.rfc)
    if doc is None:
        return [requirement.target]
    from annotate.requirements import section_requirements
    from annotate.rfctext import normalize

    section = doc.section(requirement.section)
    if section is None:
        return [requirement.target]
    start = section.normalized.find(normalize(requirement.quote))
    if start < 0:
        return [requirement.target]
    end = start + len(normalize(requirement.quote))
    found = [r.id for r in section_requirements(section) if r.start < end and start < r.end]
    return found or [requirement.target]


def case_json(res: CaseResult, base64: bool = True) -> dict[str, Any]:
    entry = res.case
    ids: list[str] = []
    for req in entry.requirements:
        ids += [i for i in requirement_ids(req) if i not in ids]
    enforced = None
    if res.enforced is not None and 0 <= res.enforced < len(entry.requirements):
        req = entry.requirements[res.enforced]
        enforced = {"target": req.target, "quote": req.quote}
    return {
        "id": entry.id,
        "title": entry.title,
        "group": entry.group,
        "roles": list(entry.roles),
        "level": entry.level,
        "tags": list(entry.tags),
        "etsi": entry.etsi,
        "verdict": res.verdict.value,
        "reason": res.reason,
        "expected": res.expected,
        "observed": res.observed,
        "enforced": enforced,
        "requirements": ids,
        "annotations": [{"target": r.target, "quote": r.quote} for r in entry.requirements],
        "control": (
            {"outcome": res.control, "ok": res.control_ok} if res.control_ok is not None else None
        ),
        "preamble": res.preamble,
        "no_control": entry.no_control,
        "postamble": list(res.postamble),
        "warnings": res.warnings,
        "notes": res.notes,
        "duration": round(res.duration, 4),
        "alive_after": res.alive_after,
        "ladder": [_event(e, base64) for e in res.ladder.events],
    }


def _event(event: Any, base64: bool) -> dict[str, Any]:
    data = event.to_json()
    if not base64:
        del data["base64"]
    return data


def to_json(run: RunResult, base64: bool = True) -> dict[str, Any]:
    """The run as a JSON-ready object (schema in the module docstring); without ``base64``
    the ladder keeps only the text form of each message."""
    return {
        "schema": SCHEMA,
        "stack": run.stack or run.profile.name,
        "target": str(run.target),
        "role": run.role,
        "transport": run.target.transport,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(run.started)),
        "duration": round(run.duration, 3),
        "ok": run.ok,
        "summary": run.counts(),
        "warnings": list(run.warnings),
        "cases": [case_json(r, base64) for r in run.results],
    }


def write_json(run: RunResult, path: Path, base64: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_json(run, base64), indent=1, ensure_ascii=False)
    path.write_text(text + "\n", "utf-8")


def to_junit(run: RunResult) -> bytes:
    """JUnit XML: one testsuite per case group; fail -> <failure>, error -> <error>,
    inconclusive/not-applicable -> <skipped>, warn -> system-out."""
    root = ET.Element("testsuites", name=f"conformance {run.target}")
    groups: dict[str, list[CaseResult]] = {}
    for res in run.results:
        groups.setdefault(res.case.group, []).append(res)
    for group, results in groups.items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=group,
            tests=str(len(results)),
            failures=str(sum(r.verdict == Verdict.FAIL for r in results)),
            errors=str(sum(r.verdict == Verdict.ERROR for r in results)),
            skipped=str(
                sum(r.verdict in (Verdict.INCONCLUSIVE, Verdict.NOT_APPLICABLE) for r in results)
            ),
            time=f"{sum(r.duration for r in results):.3f}",
        )
        for res in results:
            tc = ET.SubElement(
                suite,
                "testcase",
                classname=f"conformance.{group}",
                name=res.case.id,
                time=f"{res.duration:.3f}",
            )
            ladder = "\n".join(
                f"{e.t:8.3f} {e.direction:8} {e.summary()}" for e in res.ladder.events
            )
            if res.verdict == Verdict.FAIL:
                enforced = ""
                if res.enforced is not None and res.enforced < len(res.case.requirements):
                    req = res.case.requirements[res.enforced]
                    enforced = f"\n{req.ref}: {' '.join(req.quote.split())}"
                failure = ET.SubElement(tc, "failure", message=res.reason, type=res.case.level)
                failure.text = res.reason + enforced + "\n\n" + ladder
            elif res.verdict == Verdict.ERROR:
                ET.SubElement(tc, "error", message=res.reason).text = res.observed
            elif res.verdict in (Verdict.INCONCLUSIVE, Verdict.NOT_APPLICABLE):
                ET.SubElement(tc, "skipped", message=f"{res.verdict.value}: {res.reason}")
            if res.verdict == Verdict.WARN or ladder:
                out = ("warning: " + "; ".join(res.warnings or [res.reason]) + "\n") * (
                    res.verdict == Verdict.WARN
                )
                ET.SubElement(tc, "system-out").text = out + ladder
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def progress_line(done: int, total: int, res: CaseResult, stream: TextIO = sys.stderr) -> None:
    """The one-line progress display (rewritten in place on a terminal)."""
    text = f"[{done}/{total}] {res.verdict.value:14} {res.case.id}"
    if stream.isatty():
        stream.write("\r\x1b[K" + text[:110] + ("\n" if done == total else ""))
    else:
        stream.write(text + "\n")
    stream.flush()


#: How the summary labels each verdict other than pass.
_LABELS = {
    Verdict.FAIL: "FAIL",
    Verdict.ERROR: "ERROR",
    Verdict.WARN: "WARN",
    Verdict.INCONCLUSIVE: "INCONCLUSIVE",
    Verdict.NOT_APPLICABLE: "N/A",
}


def summary_text(run: RunResult) -> str:
    """The terminal summary: every verdict but pass with its reason (failures with the RFC
    sentence, inconclusive ones with the control's outcome), then the counts."""
    lines = [f"warning: {w}" for w in run.warnings]
    for res in run.results:
        if res.verdict == Verdict.PASS:
            continue
        lines.append(f"{_LABELS[res.verdict]:5} {res.case.id}: {res.reason or '(no reason)'}")
        enforced = res.enforced if res.verdict in (Verdict.FAIL, Verdict.WARN) else None
        if enforced is not None and enforced < len(res.case.requirements):
            req = res.case.requirements[enforced]
            lines.append(f'      {req.ref}: "{" ".join(req.quote.split())}"')
        if res.control_ok is False and res.control not in res.reason:
            lines.append(f"      control: {res.control}")
    for res in run.results:
        failed = [p for p in res.postamble if p.startswith("FAILED")]
        if failed:
            lines.append(f"POSTAMBLE {res.case.id}: {'; '.join(failed)}")
    counts = run.counts()
    lines.append(
        f"{len(run.results)} cases against {run.target} ({run.role}) in {run.duration:.1f} s: "
        + ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    )
    return "\n".join(lines)
