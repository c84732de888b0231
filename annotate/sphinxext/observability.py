"""Observability and conformance coverage on the site (issue 25).

The spec pages are near their size cap (a §16 page holds 200 requirements), so what each
requirement gets -- its observability (roles, or why no tester can judge it) and the cases
that judge it with their verdict per stack -- is not written into every page: it goes once
into ``_static/sipref-observability.js`` (`DATA_FILE`), which the RFC 3261 spec pages load
and ``sipref.js`` turns into a short line under each requirement's card.

The coverage dashboard gets a conformance column (observable / covered MUSTs and SHOULDs)
and a page with the table per role and the verdicts per stack.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

__all__ = [
    "DATA_FILE",
    "SiteObservability",
    "coverage_cell",
    "coverage_html",
    "data_script",
    "load_site_observability",
    "stack_counts",
]

#: The shared data file, under the output's ``_static/``.
DATA_FILE = "sipref-observability.js"
RFC = 3261


@dataclass
class SiteObservability:
    """What the site shows: the classification, the cases per requirement, the role rows."""

    obs: Any = None  # annotate.observability.Observability
    judged: dict[str, list[Any]] = field(default_factory=dict)  # id -> conformance cases
    rows: list[Any] = field(default_factory=list)  # annotate.observability.RoleCoverage
    hidden: dict[str, int] = field(default_factory=dict)  # not observable, by level
    levels: dict[str, str] = field(default_factory=dict)  # id -> MUST/SHOULD/MAY
    problem: str = ""  # why something is missing (shown on the page, not an error)

    @property
    def ready(self) -> bool:
        return self.obs is not None


def load_site_observability(root: Path, coverage: Any) -> SiteObservability:
    """The classification of ``root`` and the cases that judge each requirement."""
    from annotate.observability import (
        OBSERVABILITY_FILE,
        case_requirements,
        load_observability,
        role_coverage,
    )

    rfc = coverage.rfc(RFC)
    path = Path(root) / OBSERVABILITY_FILE
    if rfc is None or not path.is_file():
        return SiteObservability(problem=f"no {OBSERVABILITY_FILE.as_posix()} in this tree")
    out = SiteObservability(obs=load_observability(path))
    requirements = [e.requirement for e in rfc.requirements]
    out.levels = {r.id: r.level for r in requirements}
    try:
        from conformance.discovery import load_cases

        cases = load_cases(
            Path(root) / "conformance" / "cases", Path(root) / "extensions" / "conformance"
        )
    except Exception as exc:  # the site still shows the classification
        cases = []
        out.problem = f"the conformance cases cannot be loaded: {exc}"
    out.judged = case_requirements(cases, rfc.document)
    out.rows = role_coverage(requirements, out.obs, out.judged)
    hidden = Counter(
        r.level
        for r in requirements
        if r.id in out.obs.entries and not out.obs.entries[r.id].observable
    )
    out.hidden = {level: hidden[level] for level in ("MUST", "SHOULD", "MAY")}
    return out


def data_script(site_obs: SiteObservability, runs: list[Any]) -> str:
    """The JavaScript data file: per requirement its roles (or a reason) and its cases, per
    case its verdict in each run.  Short keys keep it small: ``r`` roles, ``n`` reason
    index, ``c`` case indexes."""
    if not site_obs.ready:
        return "window.siprefObservability = null;\n"
    reasons: list[str] = []
    reason_index: dict[str, int] = {}
    cases: list[str] = []
    case_index: dict[str, int] = {}
    reqs: dict[str, dict[str, Any]] = {}
    for rid, entry in site_obs.obs.entries.items():
        item: dict[str, Any] = {}
        if entry.roles:
            item["r"] = list(entry.roles)
        else:
            if entry.reason not in reason_index:
                reason_index[entry.reason] = len(reasons)
                reasons.append(entry.reason)
            item["n"] = reason_index[entry.reason]
        judging = []
        for case in site_obs.judged.get(rid, []):
            if case.id not in case_index:
                case_index[case.id] = len(cases)
                cases.append(case.id)
            judging.append(case_index[case.id])
        if judging:
            item["c"] = judging
        reqs[rid] = item
    stacks = [getattr(run, "label", "") for run in runs]
    verdicts: dict[str, list[list[Any]]] = {}
    for s, run in enumerate(runs):
        for case_id, case in getattr(run, "cases", {}).items():
            if case_id in case_index:
                verdicts.setdefault(str(case_index[case_id]), []).append(
                    [s, str(case.get("verdict", ""))]
                )
    data = {
        "reasons": reasons,
        "cases": cases,
        "stacks": stacks,
        "verdicts": verdicts,
        "req": reqs,
    }
    body = json.dumps(data, separators=(",", ":"), sort_keys=True)
    return f"window.siprefObservability = {body};\n"


def _pct(part: int, whole: int) -> str:
    return "n/a" if not whole else f"{100 * part / whole:.0f}%"


def stack_counts(
    site_obs: SiteObservability, runs: list[Any]
) -> list[tuple[str, int, Counter[str]]]:
    """Per run: its label, the observable requirements its cases judged, the verdicts."""
    out = []
    for run in runs:
        counts: Counter[str] = Counter()
        judged = set()
        for case in getattr(run, "cases", {}).values():
            for rid in case.get("requirements") or []:
                entry = site_obs.obs.entries.get(str(rid))
                if entry is not None and entry.roles:
                    judged.add(str(rid))
                    counts[str(case.get("verdict", ""))] += 1
        out.append((str(getattr(run, "label", "")), len(judged), counts))
    return out


def coverage_cell(
    site_obs: SiteObservability | None, rfc: Any, href: str, runs: Sequence[Any] = ()
) -> str:
    """The dashboard's conformance cell of one RFC row: observable MUSTs and SHOULDs a case
    covers, then each stack's verdicts on them (one short line per stack)."""
    if site_obs is None or not site_obs.ready or rfc != RFC:
        return '<td class="num" title="not classified yet">—</td>'
    must_obs = must_cov = should_obs = should_cov = 0
    # a requirement observable in several roles counts once, covered when any role covers it
    for rid, entry in site_obs.obs.entries.items():
        if not entry.roles:
            continue
        level = site_obs.levels.get(rid, "")
        covered = any(set(c.roles) & set(entry.roles) for c in site_obs.judged.get(rid, []))
        if level == "MUST":
            must_obs += 1
            must_cov += covered
        elif level == "SHOULD":
            should_obs += 1
            should_cov += covered
    stacks = "".join(
        f"<br><small>{escape(label)}: "
        + escape(", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "—")
        + "</small>"
        for label, _judged, counts in stack_counts(site_obs, list(runs))
    )
    return (
        f'<td class="num"><a href="{escape(href, quote=True)}">'
        f"MUST {must_cov}/{must_obs} · SHOULD {should_cov}/{should_obs}</a>{stacks}</td>"
    )


def coverage_html(site_obs: SiteObservability, runs: list[Any]) -> str:
    """The conformance coverage page: per role, then per stack."""
    if not site_obs.ready:
        return f"<p>No observability classification: {escape(site_obs.problem)}.</p>"
    head = (
        "<thead><tr><th>Role</th><th>Cases</th><th>Observable MUST</th><th>Covered</th>"
        "<th>%</th><th>Observable SHOULD</th><th>Covered</th><th>%</th></tr></thead>"
    )
    rows = []
    for row in site_obs.rows:
        rows.append(
            f"<tr><th scope=row>{escape(row.role)}</th><td class=num>{row.cases}</td>"
            f"<td class=num>{row.observable['MUST']}</td><td class=num>{row.covered['MUST']}</td>"
            f"<td class=num>{_pct(row.covered['MUST'], row.observable['MUST'])}</td>"
            f"<td class=num>{row.observable['SHOULD']}</td>"
            f"<td class=num>{row.covered['SHOULD']}</td>"
            f"<td class=num>{_pct(row.covered['SHOULD'], row.observable['SHOULD'])}</td></tr>"
        )
    roles = (
        '<div class="sipref-table-wrap"><table class="sipref-table sipref-dashboard">'
        f"{head}<tbody>{''.join(rows)}</tbody></table></div>"
    )
    hidden = ", ".join(f"{n} {level}" for level, n in site_obs.hidden.items() if n)
    unobservable = [e.reason for e in site_obs.obs.entries.values() if not e.roles]
    reasons = Counter(unobservable).most_common(8)
    reason_list = "".join(f"<li>{n} × {escape(r)}</li>" for r, n in reasons)
    stack_rows = []
    for label, judged, counts in stack_counts(site_obs, runs):
        cells = ", ".join(f"{n} {escape(v)}" for v, n in sorted(counts.items()))
        stack_rows.append(
            f"<tr><th scope=row>{escape(label)}</th>"
            f"<td class=num>{judged}</td><td>{cells or '—'}</td></tr>"
        )
    stacks = (
        (
            '<div class="sipref-table-wrap"><table class="sipref-table sipref-dashboard">'
            "<thead><tr><th>Stack</th><th>Requirements judged</th><th>Verdicts</th></tr>"
            f"</thead><tbody>{''.join(stack_rows)}</tbody></table></div>"
        )
        if stack_rows
        else "<p>No conformance results yet: <code>make conformance</code> writes them.</p>"
    )
    note = f'<p class="sipref-warn">{escape(site_obs.problem)}</p>' if site_obs.problem else ""
    return (
        note + "<p>Each RFC 3261 requirement is classified in "
        "<code>rfc3261/observability.toml</code> by the roles in which a tester on the wire "
        "can judge it, or marked not observable with a reason. A requirement is "
        "<em>covered</em> in a role when a conformance case playing that role cites it.</p>"
        f"<h3>By role</h3>{roles}"
        f"<p>Not observable: {escape(hidden)}. The most frequent reasons:</p>"
        f"<ul>{reason_list}</ul>"
        f"<h3>By stack (observable requirements only)</h3>{stacks}"
    )
