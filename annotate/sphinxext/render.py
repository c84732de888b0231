"""HTML fragments of the spec view, the code view and their index pages.

Links between generated pages are written as ``sipref:DOCNAME#ANCHOR`` and made relative by
the extension when a page is written (`annotate.sphinxext.resolve_links`), so the fragments
do not depend on the builder's URL scheme.
"""

from __future__ import annotations

import itertools
import re
import textwrap
from functools import lru_cache
from html import escape
from typing import TYPE_CHECKING, Any

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from annotate.rfctext import normalize
from annotate.sphinxext.model import (
    STATUS_HELP,
    STATUS_ICONS,
    STATUS_LABELS,
    CodeFile,
    Item,
    RfcView,
    Site,
    code_doc,
    spec_doc,
    status_class,
)

if TYPE_CHECKING:
    from annotate.annotations import Annotation
    from annotate.checker import Resolved
    from annotate.rfctext import Block, Section

#: The longest annotated block shown in full beside the spec; longer ones are cut (the code
#: view has the rest).
MAX_SNIPPET_LINES = 40
_LEXER = PythonLexer()


def link(docname: str, anchor: str | None = None) -> str:
    """An ``href`` value to another generated page, made relative at write time."""
    return f"sipref:{docname}" + (f"#{anchor}" if anchor else "")


def badge(status: str, href: str | None = None, extra: str = "") -> str:
    label = f"{STATUS_ICONS[status]} {STATUS_LABELS[status]}"
    if extra:
        label = f"{extra} · {label}"
    cls = f"sipref-badge {status_class(status)}"
    title = escape(STATUS_HELP[status], quote=True)
    if href:
        href = escape(href, quote=True)
        return f'<a class="{cls}" href="{href}" title="{title}">{escape(label)}</a>'
    return f'<span class="{cls}" title="{title}">{escape(label)}</span>'


def legend() -> str:
    entries = "".join(
        f"<li>{badge(s)} <span>{escape(STATUS_HELP[s])}</span></li>" for s in STATUS_LABELS
    )
    return (
        '<div class="sipref-legend" role="note" aria-label="Legend">'
        f'<span class="sipref-legend-title">Legend</span><ul>{entries}</ul></div>'
    )


@lru_cache(maxsize=2)
def _formatter(anchors: bool) -> HtmlFormatter:
    # Building a formatter computes its style sheet: do it once, not once per snippet.
    return HtmlFormatter(
        linenos="inline",
        lineanchors="L" if anchors else "",
        cssclass="highlight",
        wrapcode=True,
    )


@lru_cache(maxsize=4096)
def python_html(code: str, first_line: int = 1, anchors: bool = False) -> str:
    """Python source highlighted like Sphinx's own code blocks (copy button included)."""
    formatter = _formatter(anchors)
    formatter.linenostart = first_line
    body = highlight(code, _LEXER, formatter)
    return f'<div class="highlight-python notranslate">{body}</div>'


def plain_code_html(code: str) -> str:
    """Text to copy, unhighlighted (comments in most styles are too faint to read)."""
    body = f'<div class="highlight"><pre>{escape(code, quote=False)}</pre></div>'
    return f'<div class="highlight-text notranslate">{body}</div>'


def ready_annotation(section: Section, text: str, kind: str | None = None) -> str:
    """The annotation a contributor pastes above the code (or test) that satisfies ``text``."""
    lines = [f"##= {section.url}"]
    if kind:
        lines.append(f"##= type={kind}")
    lines += [
        "##% " + line
        for line in textwrap.wrap(text, 56, break_long_words=False, break_on_hyphens=False)
    ]
    return "\n".join(lines)


# --- spec text ------------------------------------------------------------------------------


def _normalized_positions(text: str) -> tuple[str, list[int]]:
    """``normalize(text)`` and, for each of its characters, its index in ``text``."""
    chars: list[tuple[str, int]] = []
    i = 0
    hyphen = re.compile(r"(?<=[A-Za-z0-9])-\n[ \t]*(?=[A-Za-z0-9])")
    for m in hyphen.finditer(text):
        chars.extend((text[k], k) for k in range(i, m.start()))
        chars.append(("-", m.start()))
        i = m.end()
    chars.extend((text[k], k) for k in range(i, len(text)))
    out: list[str] = []
    pos: list[int] = []
    space_at = -1
    for ch, k in chars:
        if ch.isspace():
            if space_at < 0:
                space_at = k
            continue
        if space_at >= 0 and out:
            out.append(" ")
            pos.append(space_at)
        space_at = -1
        out.append(ch)
        pos.append(k)
    return "".join(out), pos


def _marked(text: str, marks: list[tuple[int, int, str, str, str]]) -> str:
    """``text`` escaped, with ``marks`` (start, end, id, open tag, close html) wrapped around.

    Overlapping marks are clipped; a mark clipped to nothing still leaves its anchor.
    """
    out: list[str] = []
    at = 0
    for start, end, ident, open_tag, close in sorted(marks):
        start = max(start, at)
        anchor = (
            f'<span class="sipref-anchor" id="{escape(ident, quote=True)}"></span>'
            if ident
            else ""
        )
        if end <= start:
            out.append(escape(text[at:start], quote=False) + anchor)
            at = max(at, start)
            continue
        out.append(escape(text[at:start], quote=False))
        out.append(anchor + open_tag + escape(text[start:end], quote=False) + close)
        at = end
    out.append(escape(text[at:], quote=False))
    return "".join(out)


def _block_html(block: Block, items: list[Item]) -> str:
    """One block of spec text with its requirements highlighted."""
    marks: list[tuple[int, int, str, str, str]] = []
    pre = block.kind == "pre"
    shown = block.text if pre else block.normalized
    positions: list[int] | None = None
    if pre:
        norm, positions = _normalized_positions(block.text)
        if norm != block.normalized:
            positions = None
    for item in items:
        start = max(item.span[0], block.start) - block.start
        end = min(item.span[1], block.end) - block.start
        if end <= start:
            continue
        first = item.span[0] >= block.start
        last = item.span[1] <= block.end
        ident = f"req-{item.key}" if first else ""
        level = f"{item.level} · " if item.level else ""
        title = escape(f"{level}{STATUS_LABELS[item.status]}", quote=True)
        open_tag = f'<mark class="sipref-req {status_class(item.status)}" title="{title}">'
        close = "</mark>"
        if last and not pre:
            close += " " + badge(item.status, f"#cite-{item.key}", item.level or "")
        if pre:
            if positions is None:
                start = end = 0  # keep the anchor, highlight nothing
            else:
                start, end = positions[start], positions[end - 1] + 1
        marks.append((start, end, ident, open_tag, close))
    body = _marked(shown, marks)
    if pre:
        return f'<pre class="sipref-pre">{body}</pre>'
    cls = "sipref-para" if block.kind == "para" else "sipref-li"
    return f'<p class="{cls}">{body}</p>'


def _loc(a: Annotation) -> str:
    if a.block is not None and a.block[0] != a.block[1]:
        return f"{a.path}:{a.block[0]}–{a.block[1]}"
    if a.block is not None:
        return f"{a.path}:{a.block[0]}"
    return f"{a.path}:{a.line}"


def _citation_html(site: Site, cite: Resolved) -> str:
    a = cite.annotation
    kind = escape(a.type)
    target = site.code_target(a)
    loc = escape(_loc(a))
    where = f'<a href="{link(*target)}">{loc}</a>' if target else f"<code>{loc}</code>"
    extra = ""
    if a.meta.get("reason"):
        extra += f'<p class="sipref-reason">Reason: {escape(a.meta["reason"])}</p>'
    if a.meta.get("tracking-issue"):
        extra += f'<p class="sipref-reason">Tracking: {escape(a.meta["tracking-issue"])}</p>'
    code = ""
    text = site.block_text(a)
    if text and a.block is not None:
        lines = text.splitlines()
        cut = len(lines) > MAX_SNIPPET_LINES
        shown = "\n".join(lines[:MAX_SNIPPET_LINES])
        code = python_html(shown, a.block[0])
        if cut:
            more = len(lines) - MAX_SNIPPET_LINES
            code += (
                f'<p class="sipref-more"><a href="{link(*target)}">{more} more lines '
                "in the code view</a></p>"
                if target
                else ""
            )
    return (
        f'<div class="sipref-cite sipref-type-{kind}">'
        f'<p class="sipref-cite-head"><span class="sipref-type">{kind}</span> {where}</p>'
        f"{extra}{code}</div>"
    )


def _tests_html(site: Site, tests: list[Resolved]) -> str:
    entries = []
    for cite in tests:
        a = cite.annotation
        target = site.code_target(a)
        name = escape(f"{a.path}::{site.test_name(a)}" if a.block else a.path)
        lines = (
            f" <span class='sipref-lines'>lines {a.block[0]}–{a.block[1]}</span>"
            if a.block
            else ""
        )
        ref = f'<a href="{link(*target)}">{name}</a>' if target else f"<code>{name}</code>"
        entries.append(f"<li>{ref}{lines}</li>")
    return (
        '<div class="sipref-tests"><p class="sipref-cite-head">Verified by</p>'
        f"<ul>{''.join(entries)}</ul></div>"
    )


def _card_html(site: Site, item: Item) -> str:
    tests = [c for c in item.citations if c.annotation.type == "test"]
    others = [c for c in item.citations if c.annotation.type != "test"]
    head = badge(item.status, f"#req-{item.key}")
    ident = escape(item.key)
    short = ""
    if item.requirement is not None:
        keyword = getattr(item.requirement, "keyword", "")
        short = f'<span class="sipref-keyword">{escape(keyword)}</span>'
    parts = [
        f'<div class="sipref-card {status_class(item.status)}" '
        f'id="cite-{escape(item.key, quote=True)}">',
        f'<p class="sipref-card-head">{head} {short}'
        f'<span class="sipref-reqid">{ident}</span></p>\n',
    ]
    parts += [_citation_html(site, c) for c in others]
    if tests:
        parts.append(_tests_html(site, tests))
    missing = {
        "not started": (None, "Cite it: paste this above the code that does it"),
        "todo": (None, "Cite it: paste this above the code that does it"),
        "missing test": ("test", "Add a test: paste this above the test function"),
        "missing citation": (None, "Cite the code: paste this above the block that does it"),
    }.get(item.status)
    if missing is not None and item.requirement is not None:
        kind, label = missing
        snippet = ready_annotation(item.section, item.text, kind)
        open_ = " open" if item.status == "not started" else ""
        parts.append(
            f'<details class="sipref-ready"{open_}><summary>{escape(label)}</summary>'
            f"{plain_code_html(snippet)}</details>"
        )
    parts.append("</div>")
    return "".join(parts)


def _whole_section_html(site: Site, cites: list[Resolved]) -> str:
    out = []
    for cite in cites:
        a = cite.annotation
        reason = a.meta.get("reason", "")
        out.append(
            f'<div class="sipref-whole {status_class(_type_status(a.type))}">'
            f"{badge(_type_status(a.type))} "
            "<span>The whole section, with its subsections, is marked "
            f"<strong>{escape(a.type)}</strong> "
            f"in <code>{escape(a.path)}:{a.line}</code>"
            + (f": {escape(reason)}" if reason else "")
            + "</span></div>"
        )
    return "".join(out)


def _type_status(kind: str) -> str:
    return {"exception": "exception", "todo": "todo", "implication": "complete"}.get(kind, "cited")


def section_body_html(site: Site, view: RfcView, section: Section) -> str:
    """A section's blocks, each in a row with the cards of the requirements it starts."""
    items = view.items.get(section.number, [])
    out: list[str] = []
    if section.number in view.whole:
        out.append(_whole_section_html(site, view.whole[section.number]))
    counts = view.counts(section.number)
    source = f'<a class="sipref-source" href="{section.url}">this section on rfc-editor.org</a>'
    if counts:
        summary = ", ".join(
            f"{counts[s]} {STATUS_LABELS[s].lower()}" for s in STATUS_LABELS if counts.get(s)
        )
        total = sum(counts.values())
        out.append(
            f'<p class="sipref-section-summary">{total} requirement{"s" if total != 1 else ""}: '
            f"{escape(summary)} · {source}</p>"
        )
    else:
        out.append(f'<p class="sipref-section-summary">No requirements · {source}</p>')
    blocks = section.blocks
    for index, block in enumerate(blocks):
        upper = blocks[index + 1].start if index + 1 < len(blocks) else len(section.normalized) + 1
        starting = [i for i in items if block.start <= i.span[0] < upper]
        touching = [i for i in items if i.span[0] < block.end and i.span[1] > block.start]
        cards = "".join(_card_html(site, i) for i in starting)
        out.append(
            '<div class="sipref-row">\n'
            f'<div class="sipref-left">{_block_html(block, touching)}</div>\n'
            f'<div class="sipref-right">{cards}</div></div>\n'
        )
    if not blocks:
        out.append('<p class="sipref-empty">This section has no text of its own.</p>')
    return "".join(out)


def rfc_toc_html(view: RfcView) -> str:
    """The RFC's own table of contents, each entry linked to its place in the spec view."""
    doc = view.document
    entries = doc.toc or [_entry(s) for s in doc.sections]
    out = ['<nav class="sipref-toc" aria-label="Table of contents"><ul>']
    for entry in entries:
        section = doc.section(entry.number)
        counts = view.counts(entry.number, deep=True) if section is not None else {}
        total = sum(counts.values())
        done = counts.get("complete", 0)
        label = f"{escape(entry.number)} {escape(entry.title)}"
        if section is not None:
            href = link(spec_doc(doc.number, section.number), section.anchor)
            label = f'<a href="{href}">{label}</a>'
        stat = (
            f' <span class="sipref-toc-count" title="complete / requirements">'
            f"{done}/{total}</span>{mini_bar(counts)}"
            if total
            else ""
        )
        out.append(f'<li class="sipref-toc-l{min(entry.level, 5)}">{label}{stat}</li>')
    out.append("</ul></nav>")
    return "".join(out)


def _entry(section: Section) -> object:
    from annotate.rfctext import TocEntry

    return TocEntry(section.number, section.title, section.level)


def mini_bar(counts: dict[str, int]) -> str:
    """A small stacked bar of requirements by status, with a text alternative."""
    total = sum(counts.values())
    if not total:
        return ""
    spans = []
    described = []
    for status in STATUS_LABELS:
        n = counts.get(status, 0)
        if n:
            spans.append(
                f'<span class="{status_class(status)}" '
                f'style="width:{100 * n / total:.2f}%"></span>'
            )
            described.append(f"{n} {STATUS_LABELS[status].lower()}")
    label = escape(", ".join(described), quote=True)
    return (
        f'<span class="sipref-bar" role="img" aria-label="{label}" title="{label}">'
        f"{''.join(spans)}</span>"
    )


# --- code view ------------------------------------------------------------------------------


def _annotation_html(site: Site, a: Annotation) -> str:
    target = site.spec_target(a)
    if a.rfc is not None and a.section is not None:
        sign = "§" if a.section[0].isdigit() else "Appendix "
        where = f"RFC {a.rfc} {sign}{a.section}"
    else:
        where = a.target
    place = f'<a href="{link(*target)}">{escape(where)}</a>' if target else escape(where)
    items = site.items_of_annotation.get(id(a), [])
    badges = " ".join(
        badge(
            i.status,
            link(spec_doc(i.section.rfc, i.section.number), f"req-{i.key}"),
            i.level or "",
        )
        for i in items
    )
    resolved = id(a) in site.resolved_by_annotation
    warn = (
        ""
        if resolved or a.type == "spec"
        else '<p class="sipref-warn">⚠ This quote was not found in the section '
        "(<code>python -m annotate check</code> says why).</p>"
    )
    meta = ""
    for key in ("reason", "tracking-issue", "level"):
        if a.meta.get(key):
            meta += f'<p class="sipref-reason">{escape(key)}: {escape(a.meta[key])}</p>'
    return (
        f'<div class="sipref-quote sipref-type-{escape(a.type)}" id="a-{a.line}">'
        f'<p class="sipref-cite-head">{place} <span class="sipref-type">{escape(a.type)}</span> '
        f"{badges}</p>\n<blockquote>{escape(normalize(a.quote))}</blockquote>\n{meta}{warn}</div>\n"
    )


def code_rows_html(site: Site, code: CodeFile) -> str:
    """The module as rows: each annotated block's code beside its quoted spec text.

    The ``##`` lines themselves are not repeated in the code column: their quotes are the left
    column.  Runs of annotations on one block (a plain comment between them) share one row.
    """
    lines = code.lines
    out: list[str] = []

    def trimmed(start: int, end: int) -> tuple[int, list[str]]:
        chunk = lines[start - 1 : end]
        while chunk and not chunk[-1].strip():
            chunk.pop()
        while chunk and not chunk[0].strip():
            chunk.pop(0)
            start += 1
        return start, chunk

    def row(ranges: list[tuple[int, int]], left: str, ident: str) -> None:
        segments = []
        for start, end in ranges:
            first, chunk = trimmed(start, end)
            if chunk:
                segments.append(python_html("\n".join(chunk), first, anchors=True))
        if not segments and not left:
            return
        cls = "sipref-row sipref-code-row" + ("" if left else " sipref-plain")
        out.append(
            f'<div class="{cls}" id="{ident}">\n<div class="sipref-left">{left}</div>\n'
            f'<div class="sipref-right">{"".join(segments)}</div></div>\n'
        )

    groups: list[list[Any]] = []
    for run in code.runs:
        if groups and run.block is not None and groups[-1][-1].block == run.block:
            groups[-1].append(run)
        else:
            groups.append([run])
    cursor = 1
    for index, group in enumerate(groups):
        first, last = group[0], group[-1]
        if first.start > cursor:
            row([(cursor, first.start - 1)], "", f"code-{cursor}")
        next_start = groups[index + 1][0].start if index + 1 < len(groups) else len(lines) + 1
        stop = next_start - 1
        if last.block is not None:
            stop = min(stop, last.block[1])
        ranges = [(a.end + 1, b.start - 1) for a, b in itertools.pairwise(group)]
        ranges.append((last.end + 1, stop))
        left = "".join(_annotation_html(site, a) for run in group for a in run.annotations)
        row(ranges, left, f"run-{first.start}")
        cursor = stop + 1
    if cursor <= len(lines):
        row([(cursor, len(lines))], "", f"code-{cursor}")
    return "".join(out)


def code_summary_html(site: Site, code: CodeFile) -> str:
    annotations = [a for run in code.runs for a in run.annotations]
    sections = sorted(
        {(a.rfc, a.section) for a in annotations if a.rfc and a.section},
        key=lambda x: (
            x[0],
            [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in x[1].split(".")],
        ),
    )
    links = []
    for rfc, number in sections:
        view = site.rfcs.get(rfc)
        section = view.document.section(number) if view else None
        text = f"RFC {rfc} §{number}"
        links.append(
            f'<a href="{link(spec_doc(rfc, section.number), section.anchor)}">{escape(text)}</a>'
            if section
            else escape(text)
        )
    kind = "test module" if code.is_test else "module"
    return (
        f'<p class="sipref-module-summary">This {kind} carries {len(annotations)} '
        f"annotation{'s' if len(annotations) != 1 else ''}, "
        f"citing {', '.join(links) or 'no section'}. "
        f"Source: <code>{escape(code.path)}</code>. Each block of code sits beside the spec "
        "text it cites; the links lead to that text in the spec view.</p>"
    )


def code_index_html(site: Site) -> str:
    """Tables of the annotated modules and test modules."""
    out = []
    for title, tests in (("Modules", False), ("Tests", True)):
        rows = []
        for path, code in site.files.items():
            if code.is_test != tests:
                continue
            annotations = [a for run in code.runs for a in run.annotations]
            cited = {i.key for a in annotations for i in site.items_of_annotation.get(id(a), [])}
            rfcs = sorted({a.rfc for a in annotations if a.rfc})
            rows.append(
                f'<tr><td><a href="{link(code_doc(path))}"><code>{escape(path)}</code></a></td>'
                f'<td class="num">{len(code.lines)}</td><td class="num">{len(annotations)}</td>'
                f'<td class="num">{len(cited)}</td>'
                f"<td>{', '.join(f'RFC {r}' for r in rfcs)}</td></tr>"
            )
        if not rows:
            out.append(f"<h2>{title}</h2><p>No annotated {title.lower()} yet.</p>")
            continue
        out.append(
            f'<h2>{title}</h2><table class="sipref-table"><thead><tr><th>File</th>'
            '<th class="num">Lines</th><th class="num">Annotations</th>'
            '<th class="num">Requirements cited</th><th>RFCs</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    return "".join(out)


def spec_index_html(site: Site) -> str:
    rows = []
    for number in site.rfc_numbers():
        view = site.rfcs[number]
        counts: dict[str, int] = {}
        for items in view.items.values():
            for item in items:
                if item.requirement is not None:
                    counts[item.status] = counts.get(item.status, 0) + 1
        total = sum(counts.values())
        doc = view.document
        rows.append(
            f'<tr><td><a href="{link(f"_generated/spec/rfc{number}/index")}">RFC {number}</a></td>'
            f"<td>{escape(doc.title)}</td><td class='num'>{total}</td>"
            f"<td class='num'>{counts.get('complete', 0)}</td><td>{mini_bar(counts)}</td></tr>"
        )
    return (
        '<table class="sipref-table"><thead><tr><th>RFC</th><th>Title</th>'
        '<th class="num">Requirements</th><th class="num">Complete</th>'
        "<th>Status</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
