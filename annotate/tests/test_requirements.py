"""Tests of requirement extraction (annotate.requirements)."""

from __future__ import annotations

import itertools
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from annotate.requirements import (
    KEYWORD_LEVELS,
    extract_requirements,
    nearest_sentence,
    section_requirements,
    split_sentences,
)
from annotate.rfctext import Block, RfcDocument, Section, normalize, parse_rfc
from annotate.tests.conftest import spec_rfc_numbers

RFCS = spec_rfc_numbers()

# RFC 3261 requirements per level, pinned.  Cross-checked by hand on the sections of
# HAND_CHECKED below (keywords counted in the raw text, sentences read one by one).
RFC3261_COUNTS = {"MUST": 545, "SHOULD": 292, "MAY": 191}
RFC3261_TOTAL = 1028

# (MUST, SHOULD, MAY) requirements per section, counted by hand from the RFC text: one per
# sentence holding a keyword, a sentence mixing levels split at the clause boundary
# (§7.3.1 "... MAY be present in a message, but ... MUST NOT be combined ..." is two),
# keywords of one level in one sentence counted once (§8.2.6.2 "MUST equal ... and MUST
# maintain"), keywords in examples not counted (§7.3.1 "HANDLING=OPTIONAL").
HAND_CHECKED = {
    "7.3.1": (4, 1, 2),
    "7.3.3": (1, 0, 2),
    "8.1.1.5": (2, 0, 0),
    "8.1.1.7": (5, 0, 0),
    "8.2.2.1": (0, 4, 1),
    "8.2.6.2": (7, 0, 0),
    "9.1": (7, 4, 0),
    "12.2.1.1": (17, 1, 0),
    "17.1.1.2": (18, 7, 1),
    "17.1.3": (0, 0, 0),
    "18.2.2": (5, 4, 0),
}

KEYWORD = re.compile(
    r"(?<![A-Za-z\"-])(MUST NOT|MUST|REQUIRED|SHALL NOT|SHALL|SHOULD NOT|SHOULD|"
    r"NOT RECOMMENDED|RECOMMENDED|MAY|OPTIONAL)(?![A-Za-z\"-])"
)


@pytest.fixture(scope="module")
def reqs3261(spec_store):
    return spec_store.requirements(3261)


def by_level(reqs) -> tuple[int, int, int]:
    c = Counter(r.level for r in reqs)
    return c["MUST"], c["SHOULD"], c["MAY"]


def test_rfc3261_counts(reqs3261):
    assert len(reqs3261) == RFC3261_TOTAL
    assert dict(Counter(r.level for r in reqs3261)) == RFC3261_COUNTS


@pytest.mark.parametrize("number", sorted(HAND_CHECKED))
def test_hand_checked_sections(number, rfc3261, reqs3261):
    section_reqs = [r for r in reqs3261 if r.section == number]
    assert by_level(section_reqs) == HAND_CHECKED[number]
    # every keyword of the section's prose is inside one of its requirements
    section = rfc3261.section(number)
    prose = [b for b in section.blocks if b.kind != "pre"]
    keywords = sum(len(KEYWORD.findall(b.normalized)) for b in prose)
    inside = sum(len(KEYWORD.findall(r.text)) for r in section_reqs)
    assert keywords == inside


def test_compound_sentence_split_by_level(rfc3261, reqs3261):
    texts = [r.text for r in reqs3261 if r.section == "17.1.1.2"]
    assert "T1 MAY be chosen larger" in texts
    assert (
        "and this is RECOMMENDED if it is known in advance (such as on high latency access "
        "links) that the RTT is larger." in texts
    )
    # same level twice: one requirement
    assert (
        "When timer A fires, the client transaction MUST retransmit the request by passing "
        "it to the transport layer, and MUST reset the timer with a value of 2*T1." in texts
    )


def test_requirement_fields(rfc3261, reqs3261):
    ids = [r.id for r in reqs3261]
    assert len(set(ids)) == len(ids)
    for r in reqs3261:
        assert re.fullmatch(rf"rfc3261-{re.escape(r.section)}-r{r.ordinal}-[0-9a-f]{{6}}", r.id)
        section = rfc3261.section(r.section)
        assert section.normalized[r.start : r.end] == r.text
        assert r.level == KEYWORD_LEVELS[r.keyword]
        assert r.keyword in r.text
    first = next(r for r in reqs3261 if r.section == "8.1.1.7")
    assert first.ordinal == 1
    assert first.text == "When the UAC creates a request, it MUST insert a Via into that request."
    assert first.url == "https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7"
    # ordinals count up within each section
    for number in {r.section for r in reqs3261}:
        ordinals = [r.ordinal for r in reqs3261 if r.section == number]
        assert ordinals == list(range(1, len(ordinals) + 1))


def test_ids_are_stable(spec_dir, reqs3261):
    again = extract_requirements(parse_rfc((spec_dir / "rfc3261.txt").read_text(), 3261))
    assert [r.id for r in again] == [r.id for r in reqs3261]


def test_boilerplate_and_examples_are_not_requirements(reqs3261):
    assert not any("are to be interpreted as described in" in r.text for r in reqs3261)
    assert not any("HANDLING=OPTIONAL" in r.text for r in reqs3261)


@pytest.mark.parametrize("rfc", RFCS)
def test_every_prose_keyword_is_in_a_requirement(rfc, spec_store):
    doc = spec_store.document(rfc)
    reqs = spec_store.requirements(rfc)
    by_section: dict[str, list] = {}
    for r in reqs:
        by_section.setdefault(r.section, []).append(r)
        assert doc.section(r.section).normalized[r.start : r.end] == r.text
    for section in doc.sections:
        spans = [(r.start, r.end) for r in by_section.get(section.number, [])]
        assert spans == sorted(spans)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end <= start, "requirements overlap"
        for block in section.blocks:
            if block.kind == "pre" or "to be interpreted as described in" in block.normalized:
                continue
            for m in KEYWORD.finditer(block.normalized):
                at = block.start + m.start()
                assert any(a <= at < b for a, b in spans), (section.number, m.group(0))


# ------------------------------------------------------------------------------ sentences


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def test_split_sentences_abbreviations_and_numbers():
    text = (
        "Proxies MAY add headers, e.g. Record-Route, i.e. the ones in Sec. 16. "
        "Rosenberg et al. wrote it. Timer values like 3.5 s and hosts like "
        'example.com stay whole. The rule is "a. B" in ABNF. Items etc. Are next.'
    )
    assert sentences(text) == [
        "Proxies MAY add headers, e.g. Record-Route, i.e. the ones in Sec. 16.",
        "Rosenberg et al. wrote it.",
        "Timer values like 3.5 s and hosts like example.com stay whole.",
        'The rule is "a. B" in ABNF.',
        "Items etc.",
        "Are next.",
    ]


def test_split_sentences_keeps_enumerators_and_question_marks():
    text = "1. The UAC MUST do this. Why? Because (see 2.) It must."
    assert sentences(text) == ["1. The UAC MUST do this.", "Why?", "Because (see 2.)", "It must."]


def make_section(*paras: str, pre: str | None = None) -> Section:
    blocks = [Block("para", p) for p in paras]
    if pre is not None:
        blocks.append(Block("pre", pre))
    return Section(9999, "1", "Test", "section", 1, blocks)


def test_compound_split_rules():
    s = make_section(
        "The UAC MUST NOT send it, and the UAS SHOULD reject it. "
        "A proxy MUST do A and MUST do B. "
        'The word "MUST" is defined elsewhere. '
        "It MAY (though it is NOT RECOMMENDED) do X. "
        "A server MUST check it; it SHOULD log it, but MAY drop it."
    )
    got = [(r.level, r.keyword, r.text) for r in section_requirements(s)]
    assert got == [
        ("MUST", "MUST NOT", "The UAC MUST NOT send it"),
        ("SHOULD", "SHOULD", "and the UAS SHOULD reject it."),
        ("MUST", "MUST", "A proxy MUST do A and MUST do B."),
        ("SHOULD", "NOT RECOMMENDED", "It MAY (though it is NOT RECOMMENDED) do X."),
        ("MUST", "MUST", "A server MUST check it"),
        ("SHOULD", "SHOULD", "it SHOULD log it"),
        ("MAY", "MAY", "but MAY drop it."),
    ]
    for r in section_requirements(s):
        assert s.normalized[r.start : r.end] == r.text


def test_lowercase_quoted_and_pre_keywords_are_not_requirements():
    s = make_section(
        "The client must do this and should do that.",
        'The key words "MUST", "MUST NOT", "REQUIRED", "SHALL", "SHALL NOT", "SHOULD", '
        '"SHOULD NOT", "RECOMMENDED", "MAY", and "OPTIONAL" in this document are to be '
        "interpreted as described in RFC 2119.",
        "MUSTARD is not a keyword, nor is SHOULDER or MAYBE.",
        pre="   rule = token ; the value MUST be escaped",
    )
    assert section_requirements(s) == []


def test_all_keywords_and_levels():
    words = list(KEYWORD_LEVELS)
    s = make_section(*(f"Element {i} {kw} apply." for i, kw in enumerate(words)))
    reqs = section_requirements(s)
    assert [r.keyword for r in reqs] == words
    assert [r.level for r in reqs] == [KEYWORD_LEVELS[w] for w in words]
    assert {r.level for r in reqs} == {"MUST", "SHOULD", "MAY"}


def test_requirement_ids_depend_on_text():
    a = section_requirements(make_section("The UAC MUST do X."))[0]
    b = section_requirements(make_section("The UAC MUST do Y."))[0]
    assert a.id != b.id
    assert a.id.startswith("rfc9999-1-r1-")


def test_extract_requirements_over_document():
    doc = RfcDocument(9999, "Test", [make_section("It MUST work.")])
    assert [r.text for r in extract_requirements(doc)] == ["It MUST work."]


# -------------------------------------------------------------------------- nearest match


def test_nearest_sentence(rfc3261):
    section = rfc3261.section("17.1.1.2")
    quote = "If an unreliable transport is used, the client transaction MUST start timer A\n"
    assert nearest_sentence(section, quote) == (
        "If an unreliable transport is being used, the client transaction MUST start timer A "
        "with a value of T1."
    )
    assert nearest_sentence(make_section(), "anything") == ""
    pre = make_section("Unrelated prose here.", pre="  Request-Line = Method SP\n  other")
    assert nearest_sentence(pre, "Request-Line = Method") == "Request-Line = Method SP"


def test_normalize_matches_quotes_across_line_breaks(rfc3261):
    quote = (
        "If an unreliable transport is being used, the client transaction\n"
        "MUST start timer A with a value of T1."
    )
    assert normalize(quote) in rfc3261.section("17.1.1.2").normalized


def test_parse_and_extract_rfc3261_is_fast(spec_dir):
    text = (spec_dir / "rfc3261.txt").read_text(encoding="utf-8")
    start = time.perf_counter()
    extract_requirements(parse_rfc(text, 3261))
    assert time.perf_counter() - start < 1.0


def test_list_item_requirements_leave_out_the_bullet(reqs3261):
    texts = [r.text for r in reqs3261 if r.section == "8.2.7"]
    assert "A stateless UAS MUST NOT send provisional (1xx) responses." in texts
    assert not any(t.startswith("o ") for t in texts)


def test_own_annotations_quote_the_rfc(spec_store):
    """The ##= / ##% annotations in annotate/requirements.py quote BCP 14 exactly."""
    import annotate.requirements as module

    lines = Path(module.__file__).read_text(encoding="utf-8").splitlines()
    found = []
    for i, line in enumerate(lines):
        m = re.match(r"##= https://www\.rfc-editor\.org/rfc/rfc(\d+)#section-([\d.]+)$", line)
        if not m:
            continue
        quote = []
        for follow in lines[i + 1 :]:
            if follow.startswith("##%"):
                quote.append(follow[3:])
            elif not follow.startswith("##=") or "://" in follow:
                break  # the end of the comment, or the next annotation's target
        section = spec_store.document(int(m[1])).section(m[2])
        assert section.find("\n".join(quote)) is not None, (m[1], m[2], quote)
        found.append(m[1])
    assert found == ["8174", "2119"]
