"""A model of a plain-text RFC: sections, appendices and their blocks of text.

The RFC Editor's plain-text form (RFC 7322 §4, RFC 7994 for the v3 format) is
paginated: every page ends with a footer ("Rosenberg, et. al.  Standards Track
[Page 12]"), a form feed and a header ("RFC 3261  SIP: Session Initiation Protocol
June 2002").  :func:`parse_rfc` removes that pagination, joins the paragraphs a page
break cut, skips the front matter and the table of contents (kept as ``doc.toc``),
and splits the body into numbered sections and appendices.  Each section is a list of
blocks: filled prose ("para"), bullet or numbered items ("list-item"), and
preformatted text ("pre": figures, ABNF, tables, message examples) kept verbatim.

Annotations quote the RFC; the checker compares ``normalize(quote)`` with
``section.normalized``, so both sides go through the same :func:`normalize`.
"""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

__all__ = [
    "Block",
    "RfcDocument",
    "RfcParseError",
    "Section",
    "TocEntry",
    "normalize",
    "parse_rfc",
]


class RfcParseError(ValueError):
    """The text is not an RFC this parser can read (names the RFC and the defect)."""


# A hyphen at the end of a line is part of a compound word ("Proxy-" / "Authenticate"):
# the RFC tools only break lines at hyphens the author wrote, so the line break goes and
# the hyphen stays.
_LINE_END_HYPHEN = re.compile(r"(?<=[A-Za-z0-9])-\n[ \t]*(?=[A-Za-z0-9])")


def normalize(text: str) -> str:
    """Collapse every run of whitespace to one space and strip the ends.

    A hyphen that ends a line is joined to the next word without a space
    ("Proxy-\\nAuthenticate" -> "Proxy-Authenticate"), as the RFC wrote it.
    """
    if "-\n" in text:
        text = _LINE_END_HYPHEN.sub("-", text)
    return " ".join(text.split())


@dataclass
class Block:
    """One block of a section: "para", "list-item" or "pre" (verbatim lines)."""

    kind: str
    text: str
    #: offset of this block's normalized text in ``Section.normalized`` (set by Section)
    start: int = 0

    @cached_property
    def normalized(self) -> str:
        return normalize(self.text)

    @property
    def end(self) -> int:
        return self.start + len(self.normalized)


@dataclass
class Section:
    """A numbered section ("17.1.1.2") or appendix ("A", "A.1") of an RFC."""

    rfc: int
    number: str
    title: str
    kind: str  # "section" | "appendix"
    level: int
    blocks: list[Block] = field(default_factory=list)

    def __post_init__(self) -> None:
        offset = 0
        for block in self.blocks:
            block.start = offset
            offset += len(block.normalized) + 1

    @property
    def anchor(self) -> str:
        return f"{self.kind}-{self.number}"

    @property
    def url(self) -> str:
        return f"https://www.rfc-editor.org/rfc/rfc{self.rfc}#{self.anchor}"

    @cached_property
    def text(self) -> str:
        return "\n\n".join(block.text for block in self.blocks)

    @cached_property
    def normalized(self) -> str:
        # Equal to normalize(self.text): blocks never start or end with whitespace.
        return " ".join(block.normalized for block in self.blocks)

    def find(self, quote: str) -> tuple[int, int] | None:
        """The span of ``normalize(quote)`` in ``self.normalized``, or None."""
        needle = normalize(quote)
        if not needle:
            return None
        index = self.normalized.find(needle)
        return None if index < 0 else (index, index + len(needle))

    def block_at(self, offset: int) -> Block | None:
        """The block whose normalized text contains ``offset``."""
        for block in self.blocks:
            if block.start <= offset < block.end:
                return block
        return None


class TocEntry(NamedTuple):
    """One numbered entry of the RFC's own table of contents: (number, title, level)."""

    number: str
    title: str
    level: int


@dataclass
class RfcDocument:
    """A parsed RFC: its title, table of contents and sections in document order."""

    number: int
    title: str
    sections: list[Section]
    toc: list[TocEntry] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_number = {s.number.lower(): s for s in self.sections}

    def section(self, ref: str) -> Section | None:
        """Look a section up by "17.1.1.2", "section-17.1.1.2", "A", "appendix-A"."""
        key = ref.strip()
        for prefix in ("section-", "appendix-", "section ", "appendix ", "§"):
            if key.lower().startswith(prefix):
                key = key[len(prefix) :]
                break
        key = key.strip().rstrip(".").lower()
        return self._by_number.get(key)

    @property
    def url(self) -> str:
        return f"https://www.rfc-editor.org/rfc/rfc{self.number}"


# --------------------------------------------------------------------------- pagination

_FOOTER = re.compile(r"^\S.*\[Page \d+\]\s*$")
_HEADER = re.compile(r"^RFC \d+\s{2,}.*\S\s*$")


def _is_blank(line: str) -> bool:
    return not line.strip()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _first_word(line: str) -> str:
    parts = line.split(None, 1)
    return parts[0] if parts else ""


_LIST_MARKER = re.compile(r"^\s*(?:[o*+\-•]|\d{1,2}[.)]|\(\d{1,2}\)|[a-z][.)]|\([a-z]\))\s+\S")


def _join_across_break(prev: str, nxt: str, width: int, short_page: bool) -> bool:
    """True when the page break cut a block: the lines before and after belong together.

    ``short_page``: the page ended with more blank lines than most pages do, which
    happens when the paragraph (or a kept-together figure) ended there.
    """
    if not nxt.startswith(" ") or _is_blank(prev):
        return False  # a heading (column 0) starts the new page
    pi, ni = _indent(prev), _indent(nxt)
    p = prev.rstrip()
    if _LIST_MARKER.match(nxt) and p.endswith((".", ":", ";")):
        return False
    prev_code, next_code = _looks_like_code([prev]), _looks_like_code([nxt])
    if prev_code or next_code:
        return prev_code and next_code  # ABNF or a message going on, or prose around it
    fits = len(p) + 1 + len(_first_word(nxt)) <= width
    ends_sentence = p.endswith((".", ":", "?", "!", '."', ".)", "]"))
    if pi == ni:
        if ends_sentence and short_page:
            return False
        # Filled prose: the first word of the next line did not fit on this one.
        if not fits:
            return True
        return not ends_sentence and not p.endswith(";")
    # the hanging indent of a list item whose first line ended the page
    return ni > pi and _LIST_MARKER.match(prev) is not None and not ends_sentence


def _blank_run_before(lines: list[str], i: int) -> int:
    k = i
    while k > 0 and _is_blank(lines[k - 1]):
        k -= 1
    return i - k


def _depaginate(lines: list[str], width: int) -> list[str]:
    """Drop page headers, footers and form feeds; rejoin what a page break cut."""
    footers = [k for k, x in enumerate(lines) if _FOOTER.match(x)]
    runs = [_blank_run_before(lines, k) for k in footers]
    usual = max(set(runs), key=runs.count) if runs else 0
    out: list[str] = []
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        is_footer = _FOOTER.match(line) is not None
        if not is_footer:
            rest = line.replace("\f", "")
            if rest == line or (rest.strip() and not _HEADER.match(rest)):
                out.append(rest)  # text (a stray form feed inside a line is dropped)
                i += 1
                continue
        # Skip the footer, the form feed and the next page's header.
        trailing = _blank_run_before(lines, i)
        # (this line is the footer, a lone form feed, or the header with the form feed)
        j = i + 1
        while j < n and _is_blank(lines[j].replace("\f", "")):
            j += 1
        if j < n and _HEADER.match(lines[j].replace("\f", "")):
            j += 1
        while j < n and _is_blank(lines[j]):
            j += 1
        # The blank lines that padded the page out are not the document's.
        while out and _is_blank(out[-1]):
            out.pop()
        if j < n and out and not _join_across_break(out[-1], lines[j], width, trailing > usual):
            out.append("")
        i = j
    return out


def _line_width(lines: list[str]) -> int:
    """The fill width of the document (72 for nearly every RFC)."""
    lengths = sorted(n for n in map(len, lines) if n >= 40)
    if not lengths:
        return 72
    return min(72, lengths[int(len(lengths) * 0.97)])


# ------------------------------------------------------------------ headings and the TOC

_NUM = r"(?:\d+(?:\.\d+)*|[A-Z](?:\.\d+)*)"
# "17.1.1.2 Title", "17.1.1.2.  Title", "Appendix A.  Title", "A.1.  Title",
# "A Table of Timer Values", "Appendix A - Algorithms"
_HEADING = re.compile(
    rf"^(?P<app>Appendix\s+)?(?P<num>{_NUM})(?:[.:]\s*|\s+-\s+|\s+)(?P<title>[^\s.].*?)\s*$"
)
# Dot leaders and the page number ("..... 34", ".34", "  34"); pages have 1-3 digits, so
# a title ending in "RFC 3261" is not taken for a page number.
_TOC_LEADER = re.compile(r"(?:\s*\.)+\s*\d{1,3}\s*$|\s+\d{1,3}\s*$")
_TOC_PAGINATED = re.compile(r"(?:\s*\.){2,}\s*\d{1,3}\s*$|\s{2,}\d{1,3}\s*$")
_TOC_ENTRY = re.compile(
    rf"^\s+(?P<app>Appendix\s+)?(?P<num>{_NUM})(?:\.|:|\s+-)?\s+(?P<title>\S.*?)\s*$"
)


def _kind(number: str) -> str:
    return "appendix" if number[0].isalpha() else "section"


def _level(number: str) -> int:
    return number.count(".") + 1


def _title_key(title: str) -> str:
    return re.sub(r"[^a-z0-9]", "", title.lower())


def _find_toc(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        # RFC 3863 heads its TOC "Table of Content".
        if re.match(r"^\s*(?:Table of Contents?|Contents)\s*$", line):
            return i
    return None


def _parse_toc(lines: list[str], start: int) -> tuple[list[TocEntry], list[str], int]:
    """Read the TOC from ``lines[start]`` (its title line).

    Returns the numbered entries, the titles of the unnumbered ones ("Authors'
    Addresses") and the index of the first line after the TOC.
    """
    entries: list[tuple[str, str, bool]] = []  # number ("" if none), title, closed
    # A TOC is paginated when some entry ends in a clear leader; a title that merely ends
    # in a version number ("TLS 1.0 and TLS 1.1", RFC 8996) is not a page number.
    paginated = any(_TOC_PAGINATED.search(x) for x in lines[start + 1 : start + 40])
    i = start + 1
    while i < len(lines):
        line = lines[i]
        if _is_blank(line):
            i += 1
            continue
        if not line.startswith(" "):
            break  # the first heading of the body
        leader = _TOC_LEADER.search(line) if paginated else None
        text = line[: leader.start()] if leader else line
        m = _TOC_ENTRY.match(text)
        open_entry = entries and not entries[-1][2]
        if open_entry and (not m or paginated):
            number, title, _ = entries[-1]
            entries[-1] = (number, f"{title} {text.strip()}", leader is not None)
        elif m:
            title = m["title"].rstrip(" .")
            entries.append((m["num"], title, leader is not None or not paginated))
        else:
            entries.append(("", text.strip().rstrip(" ."), leader is not None or not paginated))
        i += 1
    toc = [TocEntry(num, normalize(title), _level(num)) for num, title, _ in entries if num]
    unnumbered = [normalize(title) for num, title, _ in entries if not num]
    return toc, unnumbered, i


# Column-0 headings that end the numbered part when no TOC names them.
_TRAILERS = {
    _title_key(t)
    for t in (
        "Authors' Addresses",
        "Author's Address",
        "Authors Addresses",
        "Author's Addresses",
        "Full Copyright Statement",
        "Intellectual Property Statement",
        "Intellectual Property",
        "Acknowledgements",
        "Acknowledgments",
        "Contributors",
        "Index",
        "Normative References",
        "Informative References",
        "References",
    )
}


def _successor_ok(prev: str | None, number: str) -> bool:
    """Whether section ``number`` may follow section ``prev``: its first subsection
    (3 -> 3.1), the next sibling of it or of an ancestor (3.1.2 -> 3.1.3, 3.2, 4), or
    the first appendix (9 -> A)."""
    if prev is None:
        return number in ("1", "A")
    p, n = prev.split("."), number.split(".")
    if n == [*p, "1"]:
        return True
    if len(n) > len(p) or p[: len(n) - 1] != n[:-1]:
        return False
    before, last = p[len(n) - 1], n[-1]
    if before.isdigit() and last.isdigit():
        return int(last) == int(before) + 1
    if before.isalpha() and last.isalpha():
        return ord(last) == ord(before) + 1
    return number == "A"


def _titles_match(heading: str, toc_title: str) -> bool:
    """Whether a heading's title is the TOC's (RFC authors did not always keep them equal)."""
    a, b = _title_key(heading), _title_key(toc_title)
    if not a or not b:
        return False
    if a == b or a in b or b in a:
        return True
    if difflib.SequenceMatcher(None, a, b).ratio() >= 0.7:
        return True
    wa, wb = set(heading.lower().split()), set(toc_title.lower().split())
    return len(wa & wb) * 2 >= len(wa | wb)


# ------------------------------------------------------------------------------ blocks

# Box drawing and arrows of figures and state diagrams.
_BOX = re.compile(r"[|+]-|-[|+]|-->|<--|\+\+|\|\s|\s\||^\||\|$")
# A run of two or more spaces inside a line, not after a sentence's end: table columns,
# aligned ABNF ("Request-Line  =  Method SP ...").
_GAP = re.compile(r"(?<=[^.?!:\s]) {2,}(?=\S)")
# An ABNF rule: "name = elements", "name =/ elements" (RFC 5234 §2.2).
_ABNF_RULE = re.compile(r"^\s*[A-Za-z][A-Za-z0-9_-]*\s*=/?\s")
# "INVITE sip:bob@biloxi.com SIP/2.0", "SIP/2.0 200 OK"
_START_LINE = re.compile(r"^\s*(?:[A-Z]+ \S+ SIP/2\.0\s*$|SIP/2\.0 \d{3}\b)")
# "v=0", "o=<username> <sess-id> ..."
_SDP_LINE = re.compile(r"^\s*[a-z]=\S")
# "Via: SIP/2.0/UDP ...", "l: 0"
_HEADER_FIELD = re.compile(r"^\s*[A-Za-z][A-Za-z0-9-]*\s*:\s*\S")
# "rr->jitter = s->jitter >> 4;", "if (x) {", "}"
_CODE = re.compile(r"=.*;\s*$|[{}]\s*$|^\s*}")
# "Section 8.2.2" and friends are not broken across lines by xml2rfc (no-break space).
_NO_BREAK = re.compile(r"^\s*(?:Section|Sections|Appendix|RFC|Figure|Table|Step)\s+\S+")


def _next_word(line: str) -> str:
    m = _NO_BREAK.match(line)
    return m.group(0).strip() if m else _first_word(line)


def _is_filled(lines: list[str], width: int) -> bool:
    """Prose filled to the line width: no line could have taken the next line's first word."""
    pairs = len(lines) - 1
    if pairs == 0:
        return True
    short = 0
    for a, b in itertools.pairwise(lines):
        if len(a.rstrip()) + 1 + len(_next_word(b)) <= width - 4:
            short += 1
    return short * 3 <= pairs


def _strip_marker(line: str) -> str:
    m = _LIST_MARKER.match(line)
    return line[m.end() - 1 :] if m else line.strip()


def _looks_like_code(group: list[str]) -> bool:
    """A SIP message, SDP lines or program code (RFC 3550's C, RFC 4475's messages)."""
    first = group[0]
    if _START_LINE.match(first) or _SDP_LINE.match(first) or _ABNF_RULE.match(first):
        return True
    fields = sum(1 for x in group if _HEADER_FIELD.match(x))
    if fields >= 2 and fields * 2 >= len(group):
        return True
    return any(_CODE.search(x) for x in group)


def _looks_like_prose(group: list[str], base: int, width: int) -> bool:
    """Filled prose (para or list item) as opposed to a figure, table, ABNF or message."""
    if any(_BOX.search(x.strip()) for x in group) or _looks_like_code(group):
        return False
    if len(group) > 1 and sum(len(x.split()) for x in group) < 3 * len(group):
        return False  # URIs, header fields, code: not sentences
    first = _strip_marker(group[0])
    first_gaps = list(_GAP.finditer(first))
    if len(group) == 1:
        if first_gaps:
            return False
        if _LIST_MARKER.match(group[0]):
            return True
        words = first.split()
        ends = first[-1] in '.:;?!)"'
        if _indent(group[0]) <= base:
            return ends or len(words) >= 6  # not "INVITE F2 Proxy->UA-A"
        return len(words) >= 4 and ends
    indents = {_indent(x) for x in group[1:]}
    if len(indents) > 1:
        return False  # ragged left edge: a figure, message or table
    # A hanging definition ("<username>  is the user's login ...") has one gap after
    # the term on its first line.
    if first_gaps and not (
        len(first_gaps) == 1 and first_gaps[0].start() <= 30 and min(indents) > _indent(group[0])
    ):
        return False
    gaps = sum(len(_GAP.findall(x.strip())) for x in group[1:])
    if gaps > (len(group) - 1) // 4:
        return False
    if min(indents) > _indent(group[0]) and len(group[0].strip()) <= 30 and len(group) > 2:
        return _is_filled(group[1:], width)  # "auth-param" / its indented definition
    return _is_filled(group, width)


def _split_items(group: list[str]) -> list[list[str]]:
    """Split a group of lines at the list markers that start its items."""
    ind = _indent(group[0])
    starts = [
        k for k, x in enumerate(group) if _indent(x) == ind and _LIST_MARKER.match(x) is not None
    ]
    if not starts or starts[0] != 0:
        return [group]
    bounds = [*starts, len(group)]
    return [group[a:b] for a, b in itertools.pairwise(bounds)]


def _join_prose(lines: list[str]) -> str:
    text = lines[0].strip()
    for line in lines[1:]:
        part = line.strip()
        if text.endswith("-") and len(text) > 1 and text[-2].isalnum() and part[:1].isalnum():
            text += part
        else:
            text += " " + part
    return text


def _make_blocks(body: list[str], base: int, width: int) -> list[Block]:
    blocks: list[Block] = []
    group: list[str] = []

    def flush() -> None:
        if not group:
            return
        items = _split_items(group)
        prose = [_looks_like_prose(x, base, width) for x in items]
        if len(items) > 1 and not all(prose):
            items, prose = [group], [_looks_like_prose(group, base, width)]
        for item, is_prose in zip(items, prose, strict=True):
            if is_prose:
                kind = "list-item" if _LIST_MARKER.match(item[0]) else "para"
                blocks.append(Block(kind, _join_prose(item)))
            else:
                blocks.append(Block("pre", "\n".join(x.rstrip() for x in item)))
        group.clear()

    for line in body:
        if _is_blank(line):
            flush()
        else:
            group.append(line)
    flush()
    return blocks


# ------------------------------------------------------------------------------- parse


def _doc_title(lines: list[str], number: int) -> str:
    j = next((k for k, line in enumerate(lines[:80]) if "Request for Comments" in line), None)
    if j is None:
        return f"RFC {number}"
    while j < len(lines) and not _is_blank(lines[j]):
        j += 1
    title: list[str] = []
    for line in lines[j : j + 20]:
        if _is_blank(line):
            if title:
                break
            continue
        if not line.startswith(" "):
            break
        title.append(line.strip())
    return " ".join(title) or f"RFC {number}"


def parse_rfc(text: str, number: int) -> RfcDocument:
    """Parse the plain text of RFC ``number`` into sections and appendices.

    Raises RfcParseError (naming the RFC) when the text has no recognisable sections.
    """
    if "\x00" in text:
        raise RfcParseError(f"RFC {number}: not a text file (NUL bytes)")
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    raw = text.split("\n")
    if "Request for Comments" not in "\n".join(raw[:60]):
        raise RfcParseError(
            f"RFC {number}: no 'Request for Comments:' line in the header; not an RFC text"
        )
    width = _line_width(raw)
    lines = _depaginate(raw, width)

    toc: list[TocEntry] = []
    unnumbered: list[str] = []
    toc_at = _find_toc(lines)
    if toc_at is not None:
        toc, unnumbered, body_start = _parse_toc(lines, toc_at)
    else:
        body_start = 0

    toc_by_num = {e.number: e for e in toc}
    toc_depth: dict[str, int] = {}
    for e in toc:
        top = e.number.split(".")[0]
        toc_depth[top] = max(toc_depth.get(top, 0), e.level)
    stop_titles = {_title_key(t) for t in unnumbered} | _TRAILERS

    # (line index, number, title) of every accepted heading, and the stop lines.
    heads: list[_Head] = []
    stops: list[int] = []
    seen: set[str] = set()
    last: str | None = None
    toc_order = [e.number for e in toc]
    toc_pos = 0  # index in toc_order after the last TOC entry found
    for i in range(body_start, len(lines)):
        line = lines[i]
        if not line or line[0] == " ":
            continue
        m = _HEADING.match(line)
        if m is None or m["num"] in seen:
            if heads and _title_key(line) in stop_titles:
                stops.append(i)
            continue
        num, title = m["num"], m["title"]
        head: _Head | None = None
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if (
            nxt.strip()
            and _indent(nxt) == m.start("title")
            and len(nxt.split()) <= 6
            and len(line.rstrip()) + 1 + len(_first_word(nxt)) > width - 2
        ):
            # xml2rfc wraps a long heading with its second line under the title.
            head = _Head(i, num, normalize(f"{title} {nxt}"), wrapped=True)
            title = head.title
        if toc_by_num:
            entry = toc_by_num.get(num)
            if head is not None:
                # a wrapped heading is in the TOC too, or deeper than the TOC goes
                if entry is not None:
                    keep = _titles_match(title, entry.title)
                else:
                    keep = _deeper_than_toc(num, title, seen, last, toc_depth)
                if not keep:
                    head = None
            elif entry is not None:
                longer = normalize(f"{title} {nxt}")
                if nxt.strip() and _title_key(longer) in _title_key(entry.title):
                    # a heading too long for one line continues on the next
                    head = _Head(i, num, longer, wrapped=True)
                elif _titles_match(title, entry.title):
                    head = _Head(i, num, title)
            elif _deeper_than_toc(num, title, seen, last, toc_depth):
                # Deeper than the TOC goes (RFC 8866 lists three levels, has four).
                head = _Head(i, num, title)
            elif toc_pos < len(toc_order) and _title_key(title) == _title_key(
                toc_by_num[toc_order[toc_pos]].title
            ):
                # The heading's number is a typo for the TOC's (RFC 3903 "19.2" for 18.2).
                head = _Head(i, toc_order[toc_pos], title, alias=num)
        elif head is not None:
            if not _successor_ok(last, num):
                head = None
        elif _successor_ok(last, num) and title[:1].isupper():
            # No TOC (RFC 2119): "1. MUST   This word, ..." is heading and first line.
            title, _, rest = title.partition("   ")
            if len(title) < 80 and not title.endswith((".", ",", ";")):
                head = _Head(i, num, title.strip(), first_line=rest.strip())
        if head is None:
            if heads and _title_key(line) in stop_titles:
                stops.append(i)
            continue
        heads.append(head)
        seen.add(head.number)
        last = head.number
        if head.number in toc_by_num:
            toc_pos = max(toc_pos, toc_order.index(head.number) + 1)

    if not heads:
        raise RfcParseError(f"RFC {number}: no section headings found (truncated or not an RFC?)")

    base = _base_indent(lines[heads[0].line :])
    sections: list[Section] = []
    aliases: dict[str, Section] = {}
    stop_iter = iter(sorted(stops))
    next_stop = next(stop_iter, len(lines))
    for k, head in enumerate(heads):
        end = heads[k + 1].line if k + 1 < len(heads) else len(lines)
        while next_stop <= head.line:
            next_stop = next(stop_iter, len(lines))
        end = min(end, next_stop)
        body = lines[head.line + (2 if head.wrapped else 1) : end]
        if head.first_line:
            body = [" " * base + head.first_line, *body]
        blocks = _make_blocks(body, base, width)
        num = head.number
        section = Section(number, num, normalize(head.title), _kind(num), _level(num), blocks)
        sections.append(section)
        if head.alias:
            aliases[head.alias.lower()] = section
    doc = RfcDocument(number, _doc_title(raw, number), sections, toc)
    for alias, section in aliases.items():
        doc._by_number.setdefault(alias, section)
    return doc


@dataclass
class _Head:
    line: int
    number: str
    title: str
    wrapped: bool = False
    alias: str | None = None
    first_line: str = ""


def _deeper_than_toc(
    num: str, title: str, seen: set[str], last: str | None, toc_depth: dict[str, int]
) -> bool:
    parent = num.rsplit(".", 1)[0] if "." in num else None
    return (
        parent is not None
        and parent in seen
        and _level(num) > toc_depth.get(num.split(".")[0], 99)
        and _successor_ok(last, num)
        and len(title) < 80
        and not title.endswith((".", ",", ";"))
    )


def _base_indent(lines: list[str]) -> int:
    counts: dict[int, int] = {}
    for line in lines[:3000]:
        if line.strip():
            ind = _indent(line)
            counts[ind] = counts.get(ind, 0) + 1
    return max(counts, key=lambda k: counts[k]) if counts else 3
