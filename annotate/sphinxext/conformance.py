"""Conformance results on the site: one page per run with every case that did not pass
opened up (the sentence it enforces, expected and observed, the message ladder, a pcap),
and each stack's verdicts beside the requirement in the spec view.

Reads the result files `conformance.report` writes (schema ``sipref-conformance/1``) from
the data folder's ``conformance/``.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from annotate.sphinxext.dashboards import VERDICT_ICONS
from annotate.sphinxext.model import GENERATED

#: Verdicts a reader has to look at: their cell opens the case.
OPEN = ("fail", "error", "inconclusive", "warn")


@dataclass
class Run:
    """One result file: a stack, a role, its cases."""

    file: str
    data: dict[str, Any]
    label: str = ""
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", Path(self.file).stem.lower()).strip("-") or "run"

    @property
    def doc(self) -> str:
        return f"{GENERATED}/conformance/{self.slug}"


def verdict_slug(verdict: str) -> str:
    return re.sub(r"[^a-z]+", "-", verdict.lower()).strip("-") or "none"


def case_anchor(case_id: str) -> str:
    return "case-" + re.sub(r"[^A-Za-z0-9_-]+", "-", case_id)


def stack_label(data: dict[str, Any]) -> str:
    """Product and version (``Kamailio 5.8.4``), then the role when the product plays more
    than one (``registrar``)."""
    name = str(data.get("product") or data.get("stack") or "unnamed stack")
    version = str(data.get("version") or "")
    if version and version not in name:
        name = f"{name} {version}"
    return name


def load_runs(folder: Path, runs: list[dict[str, Any]]) -> list[Run]:
    """Runs from already-read result files (``{"file": name, **data}``), labelled so that no
    two columns share a name: the role, then the file name, tell them apart."""
    out = [Run(str(r["file"]), r) for r in runs]
    for run in out:
        run.label = stack_label(run.data)
        for case in run.data.get("cases", []):
            if isinstance(case, dict) and "id" in case:
                run.cases[str(case["id"])] = case
    for key in ("role", "file"):
        seen: dict[str, int] = {}
        for run in out:
            seen[run.label] = seen.get(run.label, 0) + 1
        for run in out:
            if seen[run.label] > 1:
                extra = run.data.get("role") if key == "role" else Path(run.file).stem
                if extra and str(extra) not in run.label:
                    run.label = f"{run.label} ({extra})"
    return out


def by_requirement(runs: list[Run]) -> dict[str, list[tuple[Run, dict[str, Any]]]]:
    """requirement id -> (run, case) of every case that exercises it."""
    found: dict[str, list[tuple[Run, dict[str, Any]]]] = {}
    for run in runs:
        for case in run.cases.values():
            for rid in case.get("requirements") or []:
                found.setdefault(str(rid), []).append((run, case))
    return found


def verdict_badge(verdict: str) -> str:
    slug = verdict_slug(verdict)
    return (
        f'<span class="sipref-verdict verdict-{slug}">'
        f"{VERDICT_ICONS.get(slug, '')} {escape(verdict)}</span>"
    )


#: The order verdicts are listed in beside a requirement: what needs a look first.
ORDER = ("fail", "error", "warn", "inconclusive", "pass", "not-applicable", "skip")


def requirement_verdicts_html(entries: list[tuple[Run, dict[str, Any]]], link: Any) -> str:
    """The line under a requirement's card: the stacks by verdict, a failure linked to its
    case (``✗ fail Kamailio 5.6.3 (proxy) · ✓ pass sipref ua 0.1.0, SIPp uas 3.6.1``)."""
    if not entries:
        return ""
    groups: dict[str, list[str]] = {}
    for run, case in entries:
        verdict = str(case.get("verdict", "?"))
        name = escape(run.label)
        if verdict_slug(verdict) in OPEN:
            name = f'<a href="{link(run.doc, case_anchor(str(case["id"])))}">{name}</a>'
        names = groups.setdefault(verdict, [])
        if name not in names:
            names.append(name)
    ranked = sorted(
        groups,
        key=lambda v: ORDER.index(verdict_slug(v)) if verdict_slug(v) in ORDER else len(ORDER),
    )
    cells = "".join(f"<li>{verdict_badge(v)} {', '.join(groups[v])}</li>" for v in ranked)
    return f'<ul class="sipref-verdicts" aria-label="Conformance">{cells}</ul>'


def _ladder_html(case: dict[str, Any]) -> str:
    events = [e for e in case.get("ladder") or [] if isinstance(e, dict)]
    if not events:
        return "<p>No message was exchanged.</p>"
    rows = []
    for e in events:
        direction = str(e.get("direction", ""))
        arrow = {"sent": "→", "received": "←"}.get(direction, "•")
        t = float(e.get("t") or 0.0)
        text = str(e.get("text") or "")
        summary = escape(str(e.get("summary") or e.get("note") or ""))
        body = (
            f"<details><summary>{summary}</summary><pre>{escape(text)}</pre></details>"
            if text
            else summary
        )
        rows.append(
            f'<tr class="ladder-{escape(direction)}"><td class="num">{1000 * t:.1f} ms</td>'
            f"<td>{arrow} {escape(direction)}</td>"
            f"<td><code>{escape(str(e.get('src', '')))}</code> → "
            f"<code>{escape(str(e.get('dst', '')))}</code></td><td>{body}</td></tr>"
        )
    return (
        '<div class="sipref-table-wrap"><table class="sipref-table sipref-ladder"><thead><tr>'
        "<th>t</th><th>Direction</th><th>From → to</th><th>Message</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def pcap_name(run: Run, case_id: str) -> str:
    """Where a case's pcap is written, relative to the output folder."""
    return f"_pcap/{run.slug}/{re.sub(r'[^A-Za-z0-9_.-]+', '-', case_id)}.pcap"


def run_page_html(run: Run, link: Any, requirement_link: Any) -> str:
    """A run: its summary, then each case that did not pass, in full; passes listed."""
    data = run.data
    summary = data.get("summary") or {}
    counts = ", ".join(f"{n} {escape(str(k))}" for k, n in summary.items() if n)
    out = [
        '<dl class="sipref-meta">'
        f"<dt>Stack</dt><dd>{escape(run.label)}</dd>"
        f"<dt>Role</dt><dd>{escape(str(data.get('role', '')))}</dd>"
        f"<dt>Target</dt><dd><code>{escape(str(data.get('target', '')))}</code></dd>"
        f"<dt>Run</dt><dd>{escape(str(data.get('started', '')))}, "
        f"{float(data.get('duration') or 0):.1f} s</dd>"
        f"<dt>Verdicts</dt><dd>{counts}</dd>"
        f"<dt>File</dt><dd><code>{escape(run.file)}</code></dd></dl>"
    ]
    passed = []
    for cid, case in run.cases.items():
        verdict = str(case.get("verdict", "?"))
        if verdict_slug(verdict) not in OPEN:
            passed.append(f"<li>{verdict_badge(verdict)} <code>{escape(cid)}</code></li>")
            continue
        enforced = case.get("enforced") or {}
        quote = ""
        if enforced.get("quote"):
            quote = (
                f'<blockquote class="sipref-enforced">{escape(str(enforced["quote"]))}'
                f'<br><a href="{escape(str(enforced.get("target", "")), quote=True)}">'
                f"{escape(str(enforced.get('target', '')))}</a></blockquote>"
            )
        reqs = " ".join(requirement_link(str(r)) for r in case.get("requirements") or [])
        # the pcaps sit beside the pages (write_pcaps, at the end of the build)
        pcap = "../../" + pcap_name(run, cid) if case.get("ladder") else ""
        out.append(
            f'<section class="sipref-case" id="{case_anchor(cid)}">'
            f"<h3>{verdict_badge(verdict)} <code>{escape(cid)}</code></h3>"
            f"<p>{escape(str(case.get('title', '')))} "
            f"<span class='sipref-type'>{escape(str(case.get('level') or ''))}</span></p>"
            f"{quote}"
            '<dl class="sipref-meta">'
            + "".join(
                f"<dt>{label}</dt><dd>{escape(str(case[key]))}</dd>"
                for key, label in (
                    ("expected", "Expected"),
                    ("observed", "Observed"),
                    ("reason", "Reason"),
                )
                if case.get(key)
            )
            + trust_html(case)
            + (f"<dt>Requirements</dt><dd>{reqs}</dd>" if reqs else "")
            + (f'<dt>Capture</dt><dd><a href="{pcap}">{escape(cid)}.pcap</a></dd>' if pcap else "")
            + "</dl>"
            + _ladder_html(case)
            + "</section>"
        )
    if passed:
        out.append(
            f"<details><summary>{len(passed)} other cases</summary>"
            f'<ul class="sipref-passed">{"".join(passed)}</ul></details>'
        )
    return "".join(out)


def trust_html(case: dict[str, Any]) -> str:
    """What the verdict rests on: the state the preamble set up, the control exchange (the
    same request without the defect) and the clean-up, as ``<dt>/<dd>`` rows."""
    rows = []
    if case.get("preamble"):
        rows.append(f"<dt>Preamble</dt><dd>{escape(str(case['preamble']))}</dd>")
    control = case.get("control")
    if isinstance(control, dict) and control.get("outcome"):
        mark = "passed" if control.get("ok") else "did not pass: the verdict is not trusted"
        rows.append(
            f"<dt>Control</dt><dd>{escape(str(control['outcome']))} "
            f'<span class="sipref-control-{"ok" if control.get("ok") else "bad"}">'
            f"({mark})</span></dd>"
        )
    elif case.get("no_control"):
        rows.append(f"<dt>No control</dt><dd>{escape(str(case['no_control']))}</dd>")
    postamble = [str(p) for p in case.get("postamble") or []]
    if postamble:
        rows.append(f"<dt>Postamble</dt><dd>{escape('; '.join(postamble))}</dd>")
    return "".join(rows)


def write_pcaps(outdir: Path, runs: list[Run]) -> int:
    """A pcap per opened case, from the ladder (exact bytes when the file kept them)."""
    from conformance.pcap import write_pcap
    from conformance.wire import Event

    written = 0
    for run in runs:
        for cid, case in run.cases.items():
            if verdict_slug(str(case.get("verdict", ""))) not in OPEN or not case.get("ladder"):
                continue
            events = []
            for e in case["ladder"]:
                if not isinstance(e, dict) or e.get("direction") not in ("sent", "received"):
                    continue
                try:
                    src, dst = _endpoint(str(e["src"])), _endpoint(str(e["dst"]))
                except (KeyError, ValueError):
                    continue
                raw = e.get("base64")
                data = base64.b64decode(raw) if raw else str(e.get("text", "")).encode()
                events.append(
                    Event(
                        t=float(e.get("t") or 0.0),
                        direction=str(e["direction"]),
                        transport=str(e.get("transport") or "udp"),
                        src=src,
                        dst=dst,
                        data=data,
                        wall=float(e.get("time") or e.get("t") or 0.0),
                    )
                )
            path = outdir / pcap_name(run, cid)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_pcap(path, events)
            written += 1
    return written


def _endpoint(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)
