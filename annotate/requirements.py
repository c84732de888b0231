"""The requirements of an RFC: its sentences that use a BCP 14 keyword.

BCP 14 is RFC 2119 plus RFC 8174.  A requirement is a sentence (or, for a compound
sentence mixing levels, one clause) of a prose block that holds a keyword in capitals.
Levels: MUST (MUST, MUST NOT, REQUIRED, SHALL, SHALL NOT), SHOULD (SHOULD, SHOULD NOT,
RECOMMENDED, NOT RECOMMENDED) and MAY (MAY, OPTIONAL).  ABNF, figures and messages
("pre" blocks) hold no requirements; neither does the paragraph that defines the keywords.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import re
from dataclasses import dataclass

from .rfctext import RfcDocument, Section, normalize

__all__ = [
    "KEYWORD_LEVELS",
    "LEVELS",
    "Requirement",
    "extract_requirements",
    "keyword_clauses",
    "nearest_sentence",
    "section_requirements",
    "split_sentences",
]

##= https://www.rfc-editor.org/rfc/rfc8174#section-2
##= type=implementation
##% The words have the meanings specified herein only when they are in
##% all capitals.
##= https://www.rfc-editor.org/rfc/rfc2119#section-1
##= type=implementation
##% This word, or the terms "REQUIRED" or "SHALL", mean that the
##% definition is an absolute requirement of the specification.
KEYWORD_LEVELS: dict[str, str] = {
    "MUST NOT": "MUST",
    "MUST": "MUST",
    "REQUIRED": "MUST",
    "SHALL NOT": "MUST",
    "SHALL": "MUST",
    "SHOULD NOT": "SHOULD",
    "SHOULD": "SHOULD",
    "NOT RECOMMENDED": "SHOULD",
    "RECOMMENDED": "SHOULD",
    "MAY": "MAY",
    "OPTIONAL": "MAY",
}
LEVELS = ("MUST", "SHOULD", "MAY")

# Longest alternatives first so "MUST NOT" wins over "MUST".  Case-sensitive on purpose.
_KEYWORD = re.compile(
    r"(?<![A-Za-z0-9\-])(MUST NOT|MUST|REQUIRED|SHALL NOT|SHALL|SHOULD NOT|SHOULD|"
    r"NOT RECOMMENDED|RECOMMENDED|MAY|OPTIONAL)(?![A-Za-z0-9\-])"
)


@dataclass(frozen=True)
class Requirement:
    """One requirement; ``text == section.normalized[start:end]``."""

    id: str
    rfc: int
    section: str
    ordinal: int
    level: str
    keyword: str
    text: str
    start: int
    end: int
    #: the span of the whole sentence this requirement is a clause of (None: the same span)
    sentence: tuple[int, int] | None = None

    @property
    def fragment(self) -> bool:
        """Whether this is one clause of a longer sentence ("but proxies MUST NOT ...")."""
        return self.sentence is not None and self.sentence != (self.start, self.end)

    @property
    def url(self) -> str:
        kind = "appendix" if self.section[:1].isalpha() else "section"
        return f"https://www.rfc-editor.org/rfc/rfc{self.rfc}#{kind}-{self.section}"


# ------------------------------------------------------------------------- sentences

# Abbreviations after which a period does not end the sentence.
_ABBREVIATIONS = {
    "e.g.",
    "i.e.",
    "al.",
    "et.",
    "cf.",
    "vs.",
    "sec.",
    "fig.",
    "no.",
    "nos.",
    "approx.",
    "resp.",
    "viz.",
    "mr.",
    "dr.",
    "st.",
    "ref.",
    "ch.",
    "pp.",
    "eq.",
}
_END = re.compile(r"[.?!](?:[\"')\]]+)?(?= )")
_QUOTED = re.compile(r'"[^"]{0,300}"')
_ENUMERATOR = re.compile(r"^(?:\(?\d{1,2}[.)]|\(?[a-zA-Z][.)]|[ivx]+[.)])$")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of normalized prose ``text``.

    A period ends a sentence only when a space and a capital, digit, quote or bracket
    follow, and not after "e.g.", "i.e.", "et al." and the like, inside a quoted string,
    or after a list enumerator ("2.") opening the sentence.  Numbers ("3.5") and host
    names ("example.com") have no space after their dots, so they never split.
    """
    quoted = [(m.start(), m.end()) for m in _QUOTED.finditer(text)]
    spans: list[tuple[int, int]] = []
    start = 0
    n = len(text)
    for m in _END.finditer(text):
        end = m.end()
        nxt = end + 1
        if nxt >= n:
            break
        c = text[nxt]
        if not (c.isupper() or c.isdigit() or c in "\"'([<"):
            continue
        if any(a < m.start() < b - 1 for a, b in quoted):
            continue
        word_start = text.rfind(" ", start, m.start()) + 1
        word = text[word_start:end].lower().rstrip("\"')]")
        if text[m.start()] == "." and word in _ABBREVIATIONS:
            continue
        if word_start == start and _ENUMERATOR.match(text[word_start:end]):
            continue
        spans.append((start, end))
        start = nxt
    if start < n:
        spans.append((start, n))
    return spans


# ---------------------------------------------------------------------- requirements

_BOILERPLATE = re.compile(
    r"key ?words? .{0,200}(?:are|is) to be interpreted as described in", re.IGNORECASE
)
# The bullet or number that opens a list item ("o", "-", "1.", "(a)").
_MARKER = re.compile(r"^(?:[o*+\-•]|\d{1,2}[.)]|\(\d{1,2}\)|[a-z][.)]|\([a-z]\))\s+")
_CLAUSE_BOUNDARY = re.compile(r", and |; |, but |, or | and ")


def _keywords(sentence: str) -> list[re.Match[str]]:
    """The keyword matches of ``sentence``, skipping quoted ones ("MUST")."""
    found = []
    for m in _KEYWORD.finditer(sentence):
        a, b = m.start(), m.end()
        before = sentence[a - 1] if a else ""
        after = sentence[b] if b < len(sentence) else ""
        if before in "\"'" and after in "\"'" and before:
            continue
        found.append(m)
    return found


def _strongest(matches: list[re.Match[str]]) -> re.Match[str]:
    return min(matches, key=lambda m: LEVELS.index(KEYWORD_LEVELS[m.group(1)]))


def _split_by_level(sentence: str, matches: list[re.Match[str]]) -> list[tuple[int, int, int]]:
    """Split a sentence into clauses of one level each.

    Returns (start, end, index of the clause's keyword in ``matches``).  A keyword of a
    different level from the clause so far starts a new clause at the nearest clause
    boundary (", and", "; ", " and ", ", but", ", or") after the previous keyword; with no
    such boundary the sentence stays whole.
    """
    clauses: list[tuple[int, int, list[int]]] = []
    start = 0
    current = [0]
    for k in range(1, len(matches)):
        prev, m = matches[k - 1], matches[k]
        level = KEYWORD_LEVELS[m.group(1)]
        if any(KEYWORD_LEVELS[matches[j].group(1)] == level for j in current):
            current.append(k)
            continue
        cut = None
        for b in _CLAUSE_BOUNDARY.finditer(sentence, prev.end(), m.start()):
            cut = b
        if cut is None:
            current.append(k)
            continue
        clauses.append((start, cut.start(), current))
        text = cut.group(0)
        start = cut.start() + (len(text) - len(text.lstrip(",; ")))
        current = [k]
    clauses.append((start, len(sentence), current))
    out = []
    for a, b, idx in clauses:
        best = _strongest([matches[j] for j in idx])
        out.append((a, b, matches.index(best)))
    return out


def section_requirements(section: Section) -> list[Requirement]:
    """The requirements of one section, in document order."""
    reqs: list[Requirement] = []
    norm = section.normalized
    for block in section.blocks:
        if block.kind == "pre":
            continue
        text = block.normalized
        if not _KEYWORD.search(text) or _BOILERPLATE.search(text):
            continue
        marker = _MARKER.match(text) if block.kind == "list-item" else None
        for s_start, s_end in split_sentences(text):
            if s_start == 0 and marker is not None:
                s_start = marker.end()  # "o  The UAC MUST ...": the item, not its bullet
            sentence = text[s_start:s_end]
            matches = _keywords(sentence)
            if not matches:
                continue
            for c_start, c_end, k in _split_by_level(sentence, matches):
                clause = sentence[c_start:c_end]
                lead = len(clause) - len(clause.lstrip())
                clause = clause.strip()
                start = block.start + s_start + c_start + lead
                end = start + len(clause)
                keyword = matches[k].group(1)
                ordinal = len(reqs) + 1
                digest = hashlib.sha1(clause.encode("utf-8")).hexdigest()[:6]
                if norm[start:end] != clause:  # an offset bug must not go unnoticed
                    raise AssertionError(f"{section.anchor}: requirement span mismatch")
                reqs.append(
                    Requirement(
                        id=f"rfc{section.rfc}-{section.number}-r{ordinal}-{digest}",
                        rfc=section.rfc,
                        section=section.number,
                        ordinal=ordinal,
                        level=KEYWORD_LEVELS[keyword],
                        keyword=keyword,
                        text=clause,
                        start=start,
                        end=end,
                        sentence=(block.start + s_start, block.start + s_end),
                    )
                )
    return reqs


def keyword_clauses(text: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` of each keyword of ``text`` that opens a clause of its own.

    ``text`` is cut at its clause boundaries (", and", "; ", " and ", ", but", ", or"); each
    piece that holds a keyword counts once, by its first keyword.  "The client MUST retransmit
    the request, and MUST reset the timer" has two; "To and From MUST be present" has one.
    """
    cuts = [0, *(m.start() for m in _CLAUSE_BOUNDARY.finditer(text)), len(text)]
    found = []
    for a, b in itertools.pairwise(cuts):
        matches = _keywords(text[a:b])
        if matches:
            found.append((a + matches[0].start(), a + matches[0].end()))
    return found


def extract_requirements(doc: RfcDocument) -> list[Requirement]:
    """Every requirement of ``doc``, section by section."""
    out: list[Requirement] = []
    for section in doc.sections:
        out.extend(section_requirements(section))
    return out


def nearest_sentence(section: Section, quote: str) -> str:
    """The sentence of ``section`` most like ``quote`` (for "did you mean" messages)."""
    needle = normalize(quote)
    candidates: list[str] = []
    for block in section.blocks:
        text = block.normalized
        if block.kind == "pre":
            candidates.extend(normalize(x) for x in block.text.splitlines() if x.strip())
        else:
            candidates.extend(text[a:b] for a, b in split_sentences(text))
    if not candidates:
        return ""
    best = difflib.get_close_matches(needle, candidates, n=1, cutoff=0.0)
    if best:
        return best[0]
    return candidates[0]
