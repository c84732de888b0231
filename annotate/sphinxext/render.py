"""HTML fragments of the spec view, the code view and their index pages.

Links between generated pages are written as ``sipref:DOCNAME#ANCHOR`` and made relative by
the extension when a page is written (`annotate.sphinxext.resolve_links`), so the fragments
do not depend on the builder's URL scheme.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import textwrap
from functools import lru_cache
from html import escape
from typing import TYPE_CHECKING, Any

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from annotate.errata import Erratum, locate
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
    from annotate.rfctext import Block, RfcDocument, Section

#: The longest snippet of an annotated block shown beside the spec; longer blocks are cut
#: around their cited lines (the code view has the rest).
MAX_SNIPPET_LINES = 14
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
        # the words say it all; the meaning of each status is in the legend (no title: a
        # spec page carries hundreds of these)
        return f'<a class="{cls}" href="{href}">{escape(label)}</a>'
    return f'<span class="{cls}" title="{title}">{escape(label)}</span>'


def legend() -> str:
    entries = "".join(
        f"<li>{badge(s)} <span>{escape(STATUS_HELP[s])}</span></li>" for s in STATUS_LABELS
    )
    return (
        '<div class="sipref-legend" role="note" aria-label="Legend">'
        f'<span class="sipref-legend-title">Legend</span><ul>{entries}</ul></div>'
    )


@lru_cache(maxsize=1)
def _formatter() -> HtmlFormatter:
    # Building a formatter computes its style sheet: do it once, not once per snippet.
    return HtmlFormatter(cssclass="highlight", wrapcode=True)


_CODE_BODY = re.compile(r"(<code>)(.*?)(</code>)", re.S)
#: Tokens shown in the base text colour: punctuation and whitespace (that colour in both site
#: styles, github-light and github-dark), plain names, operators, ``self`` and builtins (so
#: the code reads like the pseudo-code it is; keywords, strings, comments, numbers and
#: definitions keep colour).  Their spans were half the markup of a spec page.
_PLAIN_TOKEN = re.compile(r'<span class="(?:[pwno]|bp|nb)">([^<]*)</span>')
#: The most frequent coloured tokens as one-letter elements (keywords <b>, comments <i>,
#: strings <u>; the stylesheet gives them the colours of the site's two Pygments styles and
#: resets bold, italics and underline): a third of a spec page's code markup.
_SHORT_TOKEN = re.compile(r'<span class="(k|c1|s[12di]?)">([^<]*)</span>')
_SHORT_TAG = {"k": "b", "c1": "i"}


def _short_token(m: re.Match[str]) -> str:
    tag = _SHORT_TAG.get(m[1], "u")
    return f"<{tag}>{m[2]}</{tag}>"


#: Word operators (``and``, ``not``, ``in``) and keyword constants (``None``) read as keywords.
_KEYWORD_TOKEN = re.compile(r'<span class="(?:ow|kc)">')


@lru_cache(maxsize=4096)
def python_html(
    code: str,
    first_line: int = 1,
    anchors: bool = False,
    marked: frozenset[int] = frozenset(),
    ident: str = "",
) -> str:
    """Python source highlighted like Sphinx's own code blocks (copy button included).

    Each source line is its own box (a ``span`` child of ``code``), so a long line wraps
    inside the column with a hanging indent and a continuation bar instead of being
    clipped; line numbers are a CSS
    counter (not text: nothing to exclude when copying, less markup).  ``anchors`` gives each
    line the id ``L-<number>`` (the code view); ``marked`` holds the line numbers a
    requirement cites (highlighted); ``ident`` is the id of the whole box.
    """
    body = highlight(code, _LEXER, _formatter())
    last = first_line + code.count("\n")

    def lines(m: re.Match[str]) -> str:
        out = []
        text = _KEYWORD_TOKEN.sub('<span class="k">', _PLAIN_TOKEN.sub(r"\1", m[2]))
        text = _SHORT_TOKEN.sub(_short_token, text)
        for number, line in enumerate(text.split("\n")[: last - first_line + 1], first_line):
            # a line is a bare span, child of <code> (the CSS selects it so): no class to repeat
            attr = ' class="hl"' if number in marked else ""
            attr += f' id="L-{number}"' if anchors else ""
            out.append(f"<span{attr}>{line}</span>")
        return m[1] + "".join(out) + m[3]

    body = _CODE_BODY.sub(lines, body, count=1).replace("<pre><span></span>", "<pre>", 1)
    width = len(str(last))
    attr = f' id="{ident}"' if ident else ""
    gutter = "" if width == 3 else f"--g:{width}ch;"  # 3 digits: the stylesheet's default
    return (
        f'<div class="highlight-python notranslate sipref-code"{attr} '
        f'style="{gutter}counter-reset:l {first_line - 1}">'
        f"{body}</div>"
    )


#: Words of a requirement that name something the code spells out: timers, quoted states,
#: header names, status codes.
_TERMS = (
    (re.compile(r"\b[Tt]imer ([A-K])\b"), lambda m: f"timer_{m[1].lower()}"),
    (re.compile(r'"([A-Za-z][A-Za-z -]{1,30})"'), lambda m: re.sub(r"[ -]", "_", m[1].lower())),
    (
        re.compile(r"\b([A-Z][a-z]+(?:-[A-Z][A-Za-z]+)+)\b"),
        lambda m: m[1].lower().replace("-", "_"),
    ),
    (re.compile(r"\b([1-6]\d\d)\b"), lambda m: m[1]),
)


def cited_lines(requirement: str, code: str, first_line: int) -> frozenset[int]:
    """The lines of a longer block that the requirement's own terms point at.

    A block that implements several sentences (a transition table, say) is shown once; the
    row that a given sentence is about (``(State.CALLING, Event.TIMER_B)`` for "If Timer B
    fires while ... in the "Calling" state") is the line that names most of its terms.
    """
    lines = code.splitlines()
    if len(lines) < 5:
        return frozenset()
    terms = {convert(m) for pattern, convert in _TERMS for m in pattern.finditer(requirement)}
    if not terms:
        return frozenset()
    scores = []
    for line in lines:
        low = line.lower().replace("-", "_")
        code_part = "" if low.lstrip().startswith("#") else low
        scores.append(sum(term in code_part for term in terms))
    best = max(scores)
    if best == 0:
        return frozenset()
    hits = [first_line + i for i, score in enumerate(scores) if score == best]
    if len(hits) > max(2, len(lines) // 3):
        return frozenset()  # the terms are everywhere: no line stands out
    return frozenset(hits)


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

    The id goes on the open tag (a ``{id}`` placeholder in it), so ``:target`` outlines the
    sentence itself.  Overlapping marks are clipped; a mark clipped to nothing still leaves an
    empty anchor.
    """
    out: list[str] = []
    at = 0
    for start, end, ident, open_tag, close in sorted(marks):
        start = max(start, at)
        id_attr = f' id="{escape(ident, quote=True)}"' if ident else ""
        if end <= start:
            anchor = f'<span class="sipref-anchor"{id_attr}></span>' if ident else ""
            out.append(escape(text[at:start], quote=False) + anchor)
            at = max(at, start)
            continue
        out.append(escape(text[at:start], quote=False))
        out.append(
            open_tag.replace("{id}", id_attr) + escape(text[start:end], quote=False) + close
        )
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
        # the last piece of a sentence carries its badge, drawn by the stylesheet
        # (``mark[data-l]::after``: the level from data-l, the status from the class); no
        # link: the card is beside the sentence (below it on a phone), in its row
        level = f' data-l="{item.level or ""}"' if last and not pre else ""
        open_tag = f'<mark class="{status_class(item.status)}"{level}{{id}}>'
        close = "</mark>"
        if pre:
            if positions is None:
                start = end = 0  # keep the anchor, highlight nothing
            else:
                start, end = positions[start], positions[end - 1] + 1
        marks.append((start, end, ident, open_tag, close))
    body = _marked(shown, marks)
    if pre:
        return f'<pre class="sipref-pre">{body}</pre>'
    if block.kind == "para":
        return f"<p>{body}</p>"
    return f'<p class="sipref-li">{body}</p>'


def _loc(a: Annotation) -> str:
    if a.block is not None and a.block[0] != a.block[1]:
        return f"{a.path}:{a.block[0]}–{a.block[1]}"
    if a.block is not None:
        return f"{a.path}:{a.block[0]}"
    return f"{a.path}:{a.line}"


def _block_id(a: Annotation) -> str:
    start = a.block[0] if a.block is not None else a.line
    return "blk-" + hashlib.sha1(f"{a.path}:{start}".encode()).hexdigest()[:10]


def _covers_html(site: Site, a: Annotation, here: Item) -> str:
    """The requirements one block covers, each linked to its sentence."""
    if a.block is None:
        return ""
    items = [i for i in site.items_on_block(a.path, a.block) if i.requirement is not None]
    if len(items) < 2:
        return ""
    items.sort(key=lambda i: (i.section.rfc, i.section.number, i.span[0]))
    links = []
    for i in items:
        sign = "§" if i.section.number[0].isdigit() else "App. "
        label = f"{sign}{i.section.number} {i.level or ''}".strip()
        if i.section.rfc != here.section.rfc:
            label = f"RFC {i.section.rfc} {label}"
        href = (
            f"#req-{i.key}"
            if spec_doc(i.section.rfc, i.section.number)
            == spec_doc(here.section.rfc, here.section.number)
            else link(spec_doc(i.section.rfc, i.section.number), f"req-{i.key}")
        )
        links.append(
            f'<a class="{status_class(i.status)}" href="{href}">'
            f"{STATUS_ICONS[i.status]} {escape(label)}</a>"
        )
    return f'<p class="sipref-covers">Covers {len(items)}: {" ".join(links)}</p>'


def _window(total: int, marked: frozenset[int], first_line: int) -> int:
    """Where a long block's snippet starts: at the top, or just above the cited lines."""
    if total <= MAX_SNIPPET_LINES or not marked:
        return 0
    top = min(marked) - first_line
    if max(marked) - first_line < MAX_SNIPPET_LINES:
        return 0
    return max(0, min(top - 3, total - MAX_SNIPPET_LINES))


def _lines_label(lines: frozenset[int]) -> str:
    ordered = sorted(lines)
    word = "line" if len(ordered) == 1 else "lines"
    return f"{word} {', '.join(map(str, ordered))}"


def _citation_html(
    site: Site, cite: Resolved, item: Item, shown: dict[str, Item] | None = None
) -> str:
    """One citation on a card; its code block is rendered once per page (``shown``)."""
    a = cite.annotation
    kind = escape(a.type)
    # "implementation" is the rule; only the other types are named
    label = "" if a.type == "implementation" else f'<span class="sipref-type">{kind}</span> '
    target = site.code_target(a)
    loc = escape(_loc(a))
    where = f'<a href="{link(*target)}">{loc}</a>' if target else f"<code>{loc}</code>"
    extra = ""
    if a.meta.get("reason"):
        extra += f'<p class="sipref-reason">Reason: {escape(a.meta["reason"])}</p>'
    if a.meta.get("tracking-issue"):
        extra += f'<p class="sipref-reason">Tracking: {escape(a.meta["tracking-issue"])}</p>'
    code = ""
    same = ""
    text = site.block_text(a)
    if text and a.block is not None:
        lines = text.splitlines()
        marked = cited_lines(item.text, text, a.block[0]) if item.requirement else frozenset()
        start = _window(len(lines), marked, a.block[0])
        # dedented: a method's body reads from the left edge of a narrow card
        window = textwrap.dedent("\n".join(lines[start : start + MAX_SNIPPET_LINES])).split("\n")
        first = a.block[0] + start
        marked = frozenset(n for n in marked if first <= n < first + len(window))
        ident = _block_id(a)
        owner = shown.get(ident) if shown is not None else None
        if owner is not None:
            cited = f" ({_lines_label(marked)})" if marked else ""
            same = f' <a class="sipref-same" href="#{ident}">↑ shown above{cited}</a>'
        else:
            if shown is not None:
                shown[ident] = item
            note = f'<p class="sipref-lines">{_lines_label(marked)} cited</p>' if marked else ""
            code = _covers_html(site, a, item) + note
            code += python_html("\n".join(window), first, marked=marked, ident=ident)
            hidden = len(lines) - len(window)
            if hidden and target:
                code += (
                    f'<p class="sipref-more"><a href="{link(*target)}">{hidden} more lines '
                    "in the code view</a></p>"
                )
    cls = "sipref-cite" + ("" if not label else " sipref-type-" + kind)
    if same and not extra:
        # the code is above: the citation is its head line alone
        cls = "sipref-cite-head" + ("" if not label else " sipref-type-" + kind)
        return f'<p class="{cls}">{label}{where}{same}</p>'
    return (
        f'<div class="{cls}">'
        f'<p class="sipref-cite-head">{label}{where}{same}</p>'
        f"{extra}{code}</div>"
    )


def _tests_html(site: Site, tests: list[Resolved]) -> str:
    """The tests verifying a requirement, each linked to its code (``</li>`` is implied)."""
    entries = []
    for cite in tests:
        a = cite.annotation
        target = site.code_target(a)
        # the test's name; its file is in the link target
        name = escape(site.test_name(a) if a.block else a.path)
        ref = f'<a href="{link(*target)}">{name}</a>' if target else f"<code>{name}</code>"
        entries.append(f"<li>{ref}")
    # "Verified by" is the list's first line, drawn by the stylesheet (ul.sipref-tests::before)
    return f'<ul class="sipref-tests">{"".join(entries)}</ul>'


def _card_html(site: Site, item: Item, shown: dict[str, Item] | None = None) -> str:
    tests = [c for c in item.citations if c.annotation.type == "test"]
    others = [c for c in item.citations if c.annotation.type != "test"]
    keyword = getattr(item.requirement, "keyword", "") if item.requirement is not None else ""
    # the card's badge is drawn by the stylesheet (``.sipref-card::before``): its level from
    # ``data-l``, its status from the card's class; no link back to the sentence, the card
    # sits beside it (below it on a phone)
    level = f' data-l="{escape(keyword, quote=True)}"' if keyword else ""
    parts = [
        f'<div class="sipref-card {status_class(item.status)}" '
        f'id="cite-{escape(item.key, quote=True)}"{level}>',
    ]
    parts += [_citation_html(site, c, item, shown) for c in others]
    if tests:
        parts.append(_tests_html(site, tests))
    verdicts = site.verdicts.get(item.key)
    if verdicts:
        from annotate.sphinxext.conformance import requirement_verdicts_html

        parts.append(requirement_verdicts_html(verdicts, link))
    missing = {
        "not started": (None, "Cite it: paste this above its code"),
        "todo": (None, "Cite it: paste this above its code"),
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


def section_body_html(
    site: Site, view: RfcView, section: Section, shown: dict[str, Item] | None = None
) -> str:
    """A section's blocks, each in a row with the cards of the requirements it starts.

    ``shown`` collects the code blocks already rendered on the page (shared by the sections
    of one page), so a block that covers several requirements is printed once.
    """
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
    out.append(later_html(site, view.document.number, section.number))
    out.append(section_errata_html(site, view.document, section))
    blocks = section.blocks
    pending: list[str] = []  # blocks with no card: they share one row (less markup)

    def flush() -> None:
        if pending:
            joined = "".join(pending)
            out.append(f'<div class="sipref-row"><div class="sipref-left">{joined}</div></div>')
            pending.clear()

    for index, block in enumerate(blocks):
        upper = blocks[index + 1].start if index + 1 < len(blocks) else len(section.normalized) + 1
        starting = [i for i in items if block.start <= i.span[0] < upper]
        touching = [i for i in items if i.span[0] < block.end and i.span[1] > block.start]
        left = _block_html(block, touching)
        left += updates_html(site, view.document.number, section, block.start, upper)
        left += errata_html(site, view.document, section, block.start, upper)
        if not starting:
            if block.kind == "pre":  # a figure gets a row of its own, to span it
                flush()
                pending.append(left)
                flush()
            else:
                pending.append(left)
            continue
        flush()
        cards = "".join(_card_html(site, i, shown) for i in starting)
        out.append(
            f'<div class="sipref-row"><div class="sipref-left">{left}</div>'
            f'<div class="sipref-right">{cards}</div></div>'
        )
    flush()
    if not blocks:
        out.append('<p class="sipref-empty">This section has no text of its own.</p>')
    return "".join(out)


def _ellipsis(text: str, words: int = 14) -> str:
    parts = normalize(text).split(" ")
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def updates_html(site: Site, rfc: int, section: Section, start: int, upper: int) -> str:
    """The later RFCs' text beside the sentence it replaces (or follows), with sipref's
    status on the updating requirement (`annotate.later_updates`, reviewed data)."""
    found = []
    for u in getattr(site, "updates", ()):
        if u.target_rfc != rfc or u.target_section != section.number:
            continue
        span = section.find(u.old)
        if span is not None and start <= span[0] < upper:
            found.append(u)
    out = []
    for u in found:
        view = site.rfcs.get(u.rfc)
        there = view.document.section(u.section) if view is not None else None
        label = f"RFC {u.rfc} §{u.section}"
        if view is not None and there is not None:
            href = link(spec_doc(u.rfc, there.number), there.anchor)
        else:
            href = f"https://www.rfc-editor.org/rfc/rfc{u.rfc}#section-{u.section}"
        verb = "replaces" if u.kind == "replace" else "adds after"
        status = "sipref does not track this RFC"
        if view is not None and there is not None:
            span = there.find(u.new)
            items = [
                i
                for i in view.items.get(there.number, [])
                if i.requirement is not None
                and span is not None
                and i.span[0] < span[1]
                and i.span[1] > span[0]
            ]
            if items:
                doc = spec_doc(u.rfc, there.number)
                status = "In sipref: " + " ".join(
                    badge(i.status, link(doc, f"req-{i.key}"), i.level or "") for i in items
                )
            else:
                status = "states no requirement of its own"
        out.append(
            f'<aside class="sipref-update sipref-update-{u.kind}">'
            f'<p class="sipref-update-head"><a href="{href}">{escape(label)}</a> {verb} '
            f"<q>{escape(_ellipsis(u.old))}</q></p>"
            f'<blockquote class="sipref-update-new">{escape(normalize(u.new))}</blockquote>'
            f'<p class="sipref-update-status">{status}</p></aside>'
        )
    return "".join(out)


def _errata_placed(
    site: Site, doc: RfcDocument, section: Section
) -> tuple[list[tuple[Erratum, tuple[int, int]]], list[Erratum]]:
    """This section's errata: those placed at the words they correct, and the others that
    name it (metadata only, or words not found)."""
    placed: list[tuple[Erratum, tuple[int, int]]] = []
    named: list[Erratum] = []
    for erratum in getattr(site, "errata", {}).get(doc.number, ()):
        found = locate(erratum, doc)
        if found is not None and found[0] is section:
            placed.append((erratum, found[1]))
        elif found is None and erratum.section == section.number:
            named.append(erratum)
    return placed, named


def _erratum_label(erratum: Erratum) -> str:
    kind = f", {erratum.type}" if erratum.type else ""
    return (
        f'<a href="{erratum.url}">Erratum {erratum.eid}</a> '
        f'<span class="sipref-erratum-status">({escape(erratum.status)}{escape(kind)})</span>'
    )


def errata_html(site: Site, doc: RfcDocument, section: Section, start: int, upper: int) -> str:
    """Each erratum beside the words it corrects: original and corrected text, status."""
    placed, _ = _errata_placed(site, doc, section)
    out = []
    for erratum, span in placed:
        if not start <= span[0] < upper:
            continue
        notes = normalize(erratum.notes)
        state = "verified" if erratum.verified else "unverified"
        out.append(
            f'<aside class="sipref-erratum sipref-erratum-{state}">'
            f'<p class="sipref-update-head">{_erratum_label(erratum)} corrects '
            f"<q>{escape(_ellipsis(erratum.original))}</q></p>"
            f'<p class="sipref-erratum-text"><del>{escape(normalize(erratum.original))}</del></p>'
            f'<p class="sipref-erratum-text"><ins>{escape(normalize(erratum.corrected))}</ins></p>'
            + (f'<p class="sipref-erratum-notes">{escape(notes)}</p>' if notes else "")
            + "</aside>"
        )
    return "".join(out)


def section_errata_html(site: Site, doc: RfcDocument, section: Section) -> str:
    """The errata that name this section but could not be placed at a sentence."""
    _, named = _errata_placed(site, doc, section)
    if not named:
        return ""
    links = ", ".join(_erratum_label(e) for e in named)
    return (
        f'<p class="sipref-updated sipref-errata-named">Errata on this section: {links} '
        "(the text is on rfc-editor.org)</p>"
    )


def unsectioned_errata_html(site: Site, doc: RfcDocument) -> str:
    """The errata of an RFC that name no section of it (shown on the RFC's index page)."""
    records = [
        e
        for e in getattr(site, "errata", {}).get(doc.number, ())
        if (e.section is None or doc.section(e.section) is None) and locate(e, doc) is None
    ]
    if not records:
        return ""
    links = ", ".join(_erratum_label(e) for e in records)
    return f'<p class="sipref-updated sipref-errata-named">Errata on the whole RFC: {links}</p>'


def later_html(site: Site, rfc: int, number: str) -> str:
    """The sections of later RFCs that update this one and name it, with sipref's status."""
    later = getattr(site, "later", None)
    if later is None or rfc != 3261 or not later.at(number):
        return ""
    links = []
    for other, where in later.at(number):
        label = f"RFC {other} §{where}"
        view = site.rfcs.get(other)
        section = view.document.section(where) if view else None
        if view is not None and section is not None:
            href = link(spec_doc(other, section.number), section.anchor)
            counts = view.counts(section.number, deep=True)
            total = sum(counts.values())
            done = counts.get("complete", 0)
            status = f" ({done}/{total} complete in sipref)" if total else ""
        else:
            href = f"https://www.rfc-editor.org/rfc/rfc{other}#section-{where}"
            status = ""
        links.append(f'<a href="{href}">{escape(label)}</a>{escape(status)}')
    return '<p class="sipref-updated">Later RFCs on this section: ' + ", ".join(links) + "</p>"


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
        f"annotation{'s' if len(annotations) != 1 else ''}. "
        f"Source: <code>{escape(code.path)}</code>. Each block of code sits beside the spec "
        "text it cites; the links lead to that text in the spec view.</p>"
        + _module_index_html(site, annotations, sections, links)
    )


def _module_index_html(
    site: Site,
    annotations: list[Annotation],
    sections: list[tuple[int, str]],
    links: list[str],
) -> str:
    """The module's own index: per RFC section, the blocks on this page that cite it."""
    if not sections:
        return ""
    rows = []
    for (rfc, number), section_link in zip(sections, links, strict=True):
        first: dict[int, int] = {}  # block start -> the first annotation on it
        for a in annotations:
            if a.rfc == rfc and a.section == number:
                start = a.block[0] if a.block else a.line
                first[start] = min(first.get(start, a.line), a.line)
        places = sorted(first.items())
        jumps = ", ".join(f'<a href="#a-{line}">{start}</a>' for start, line in places)
        rows.append(f"<li>{section_link}: line{'s' if len(places) > 1 else ''} {jumps}</li>")
    return (
        '<details class="sipref-module-index" open><summary>In this module, by RFC section'
        f"</summary><ul>{''.join(rows)}</ul></details>"
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
