"""Observability and conformance coverage on the site (issue 25).

The spec pages are near their size cap (a §16 page holds 200 requirements), so what each
requirement gets -- its observability (roles, or why no tester can judge it) and the cases
that judge it with their verdict per stack -- is not written into every page: it goes once
into ``_static/sipref-observability.js`` (`DATA_FILE`), which the spec pages of every
classified RFC (RFC 3261, and each extension RFC with an ``extensions/rfcNNNN.observability.toml``)
load and ``sipref.js`` turns into a short line under each requirement's card.

The coverage dashboard gets a conformance column (observable / covered MUSTs and SHOULDs)
and a page with the table per RFC and role and the verdicts per stack.
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
    "RfcObservability",
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
class RfcObservability:
    """One classified RFC: its file, the role rows and the not-observable counts."""

    number: int
    path: str
    rows: list[Any] = field(default_factory=list)  # annotate.observability.RoleCoverage
    hidden: dict[str, int] = field(default_factory=dict)  # not observable, by level


@dataclass
class SiteObservability:
    """What the site shows: the classifications (every classified RFC's entries in one
    ``obs``: ids name their RFC), the cases per requirement, the role rows per RFC."""

    obs: Any = None  # annotate.observability.Observability
    judged: dict[str, list[Any]] = field(default_factory=dict)  # id -> conformance cases
    levels: dict[str, str] = field(default_factory=dict)  # id -> MUST/SHOULD/MAY
    rfcs: dict[int, RfcObservability] = field(default_factory=dict)
    problem: str = ""  # why something is missing (shown on the page, not an error)

    @property
    def ready(self) -> bool:
        return self.obs is not None

    @property
    def rows(self) -> list[Any]:
        """RFC 3261's role rows."""
        core = self.rfcs.get(RFC)
        return core.rows if core else []

    @property
    def hidden(self) -> dict[str, int]:
        """RFC 3261's not-observable counts by level."""
        core = self.rfcs.get(RFC)
        return core.hidden if core else {}


def load_site_observability(root: Path, coverage: Any) -> SiteObservability:
    """The classifications of ``root`` and the cases that judge each requirement."""
    from annotate.observability import (
        OBSERVABILITY_FILE,
        Observability,
        case_requirements,
        load_observability,
        observability_files,
        role_coverage,
    )

    files = {n: p for n, p in observability_files(Path(root)).items() if coverage.rfc(n)}
    if not files:
        return SiteObservability(problem=f"no {OBSERVABILITY_FILE.as_posix()} in this tree")
    out = SiteObservability(obs=Observability("observability"))
    try:
        from conformance.discovery import load_cases

        cases = load_cases(
            Path(root) / "conformance" / "cases", Path(root) / "extensions" / "conformance"
        )
    except Exception as exc:  # the site still shows the classification
        cases = []
        out.problem = f"the conformance cases cannot be loaded: {exc}"
    for number, path in files.items():
        rfc = coverage.rfc(number)
        obs = load_observability(path)
        out.obs.entries.update(obs.entries)
        requirements = [e.requirement for e in rfc.requirements]
        out.levels.update({r.id: r.level for r in requirements})
        judged = case_requirements(cases, rfc.document)
        out.judged.update(judged)
        hidden = Counter(
            r.level for r in requirements if r.id in obs.entries and not obs.entries[r.id].roles
        )
        display = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        out.rfcs[number] = RfcObservability(
            number,
            display,
            role_coverage(requirements, obs, judged),
            {level: hidden[level] for level in ("MUST", "SHOULD", "MAY")},
        )
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
    site_obs: SiteObservability, runs: list[Any], prefix: str = ""
) -> list[tuple[str, int, Counter[str]]]:
    """Per run: its label, the observable requirements its cases judged (of the RFC whose ids
    start with ``prefix``, e.g. ``rfc3261-``; all when empty), the verdicts."""
    out = []
    for run in runs:
        counts: Counter[str] = Counter()
        judged = set()
        for case in getattr(run, "cases", {}).values():
            for rid in case.get("requirements") or []:
                if prefix and not str(rid).startswith(prefix):
                    continue
                entry = site_obs.obs.entries.get(str(rid))
                if entry is not None and entry.roles:
                    judged.add(str(rid))
                    counts[str(case.get("verdict", ""))] += 1
        out.append((str(getattr(run, "label", "")), len(judged), counts))
    return out


def _cites(run: Any, prefix: str) -> bool:
    """Whether a run's cases cite any requirement whose id starts with ``prefix``."""
    return any(
        str(rid).startswith(prefix)
        for case in getattr(run, "cases", {}).values()
        for rid in case.get("requirements") or []
    )


def coverage_cell(
    site_obs: SiteObservability | None, rfc: Any, href: str, runs: Sequence[Any] = ()
) -> str:
    """The dashboard's conformance cell of one RFC row: observable MUSTs and SHOULDs a case
    covers, then each stack's verdicts on them (one short line per stack)."""
    try:
        number = int(rfc)
    except (TypeError, ValueError):
        number = 0
    if site_obs is None or not site_obs.ready or number not in site_obs.rfcs:
        return '<td class="num" title="not classified yet">—</td>'
    must_obs = must_cov = should_obs = should_cov = 0
    prefix = f"rfc{number}-"
    # a requirement observable in several roles counts once, covered when any role covers it
    for rid, entry in site_obs.obs.entries.items():
        if not entry.roles or not rid.startswith(prefix):
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
        for (label, _judged, counts), run in zip(
            stack_counts(site_obs, list(runs), prefix), runs, strict=True
        )
        if _cites(run, prefix)
    )
    return (
        f'<td class="num"><a href="{escape(href, quote=True)}">'
        f"MUST {must_cov}/{must_obs} · SHOULD {should_cov}/{should_obs}</a>{stacks}</td>"
    )


def _role_table(rows: Sequence[Any]) -> str:
    head = (
        "<thead><tr><th>Role</th><th>Cases</th><th>Observable MUST</th><th>Covered</th>"
        "<th>%</th><th>Observable SHOULD</th><th>Covered</th><th>%</th></tr></thead>"
    )
    body = []
    for row in rows:
        if not any(row.observable.values()):
            continue
        body.append(
            f"<tr><th scope=row>{escape(row.role)}</th><td class=num>{row.cases}</td>"
            f"<td class=num>{row.observable['MUST']}</td><td class=num>{row.covered['MUST']}</td>"
            f"<td class=num>{_pct(row.covered['MUST'], row.observable['MUST'])}</td>"
            f"<td class=num>{row.observable['SHOULD']}</td>"
            f"<td class=num>{row.covered['SHOULD']}</td>"
            f"<td class=num>{_pct(row.covered['SHOULD'], row.observable['SHOULD'])}</td></tr>"
        )
    return (
        '<div class="sipref-table-wrap"><table class="sipref-table sipref-dashboard">'
        f"{head}<tbody>{''.join(body)}</tbody></table></div>"
    )


def _stack_table(site_obs: SiteObservability, runs: list[Any], prefix: str) -> str:
    stack_rows = []
    for label, judged, counts in stack_counts(site_obs, runs, prefix):
        if not judged:
            continue
        cells = ", ".join(f"{n} {escape(v)}" for v, n in sorted(counts.items()))
        stack_rows.append(
            f"<tr><th scope=row>{escape(label)}</th>"
            f"<td class=num>{judged}</td><td>{cells or '—'}</td></tr>"
        )
    if not stack_rows:
        return "<p>No conformance results yet: <code>make conformance</code> writes them.</p>"
    return (
        '<div class="sipref-table-wrap"><table class="sipref-table sipref-dashboard">'
        "<thead><tr><th>Stack</th><th>Requirements judged</th><th>Verdicts</th></tr>"
        f"</thead><tbody>{''.join(stack_rows)}</tbody></table></div>"
    )


def coverage_html(site_obs: SiteObservability, runs: list[Any]) -> str:
    """The conformance coverage page: per classified RFC, per role, then per stack."""
    if not site_obs.ready:
        return f"<p>No observability classification: {escape(site_obs.problem)}.</p>"
    parts = []
    for number, item in site_obs.rfcs.items():
        prefix = f"rfc{number}-"
        hidden = ", ".join(f"{n} {level}" for level, n in item.hidden.items() if n) or "none"
        unobservable = [
            e.reason
            for rid, e in site_obs.obs.entries.items()
            if not e.roles and rid.startswith(prefix)
        ]
        reasons = Counter(unobservable).most_common(8)
        reason_list = "".join(f"<li>{n} × {escape(r)}</li>" for r, n in reasons)
        parts.append(
            f"<h3>RFC {number} by role</h3>"
            f"<p>Classified in <code>{escape(item.path)}</code>.</p>{_role_table(item.rows)}"
            f"<p>Not observable: {escape(hidden)}."
            + (f" The most frequent reasons:</p><ul>{reason_list}</ul>" if reasons else "</p>")
            + f"<h4>RFC {number} by stack (observable requirements only)</h4>"
            + _stack_table(site_obs, runs, prefix)
        )
    note = f'<p class="sipref-warn">{escape(site_obs.problem)}</p>' if site_obs.problem else ""
    return (
        note + "<p>Each requirement of a classified RFC (RFC 3261 in "
        "<code>rfc3261/observability.toml</code>, an extension RFC in "
        "<code>extensions/rfcNNNN.observability.toml</code>) is listed with the roles in which "
        "a tester on the wire can judge it, or marked not observable with a reason. A "
        "requirement is <em>covered</em> in a role when a conformance case playing that role "
        "cites it.</p>" + "".join(parts)
    )
