"""The checker: every diagnostic on fixture trees, quote matching, and the real repository."""

import re
from pathlib import Path

import pytest

from annotate.annotations import Annotation
from annotate.checker import Diagnostic, DocumentCache, check, resolve
from annotate.specstore import SpecStore

FIXTURES = Path(__file__).parent / "fixtures"
_EXPECT = re.compile(r"#\s*EXPECT(?:\+(\d+))?:\s*(.+?)\s*$")


@pytest.fixture
def store(tmp_path):
    return SpecStore(spec_dir=FIXTURES / "specs", cache_dir=tmp_path / "cache", allow_fetch=False)


def expected_diagnostics(root: Path) -> list[tuple[str, int, str]]:
    """(path, line, text) from the '# EXPECT: text' / '# EXPECT+N: text' markers."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".py", ".toml"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            m = _EXPECT.search(line)
            if m and not line.lstrip().startswith(("Each", '"')):
                found.append((path.relative_to(root).as_posix(), number + int(m[1] or 1), m[2]))
    return found


def test_good_fixture_has_no_diagnostics(store):
    assert check(FIXTURES / "good", store) == []


def test_every_bad_annotation_is_reported_at_its_line(store):
    root = FIXTURES / "bad"
    diagnostics = check(root, store)
    expected = expected_diagnostics(root)
    assert len(expected) >= 20
    unmatched = list(diagnostics)
    for path, line, text in expected:
        hits = [d for d in unmatched if (d.path, d.line) == (path, line) and text in d.message]
        assert hits, (
            f"no diagnostic {text!r} at {path}:{line}; got {[str(d) for d in diagnostics]}"
        )
        unmatched.remove(hits[0])
    assert unmatched == [], "diagnostics without an EXPECT marker"


def test_diagnostics_are_sorted_and_printable(store):
    diagnostics = check(FIXTURES / "bad", store)
    assert diagnostics == sorted(diagnostics)
    for d in diagnostics:
        assert re.fullmatch(r"rfc3261/[\w.]+:\d+: .+", str(d)), str(d)


def test_unloadable_rfc_message_names_where_it_looked(store):
    diagnostics = check(FIXTURES / "bad", store)
    (unknown,) = [d for d in diagnostics if "RFC 9999" in d.message]
    assert "rfc9999.txt" in unknown.message
    assert "fetching is off" in unknown.message
    (garbled,) = [d for d in diagnostics if "RFC 9992" in d.message]
    assert "rfc9992.txt" in garbled.message


def annotation(quote: str, section: str = "3.1", origin: str = "code", type_: str = "test"):
    target = f"https://www.rfc-editor.org/rfc/rfc9990#section-{section}"
    return Annotation("t.py", 1, target, 9990, section, type_, {}, quote, (2, 3), origin)


def test_quote_matching_ignores_line_breaks_and_spaces_across_a_page_break(store):
    quote = "This sentence is split\n  across a page   break, and the widget MUST keep it whole"
    resolved, diagnostics = resolve([annotation(quote)], DocumentCache(store))
    assert diagnostics == []
    (item,) = resolved
    text = item.section.normalized
    assert text[item.span[0] : item.span[1]] == (
        "This sentence is split across a page break, and the widget MUST keep it whole"
    )


@pytest.mark.parametrize(
    "quote",
    [
        "this sentence is split across a page break",  # case differs
        "This sentence is split across a page break and the widget",  # punctuation differs
        "This sentence is split over a page break",  # a word differs
    ],
)
def test_quote_must_keep_words_case_and_punctuation(store, quote):
    resolved, diagnostics = resolve([annotation(quote)], DocumentCache(store))
    assert resolved == []
    (d,) = diagnostics
    assert d == Diagnostic("t.py", 1, d.message)
    assert d.message.startswith("quote not found in RFC 9990 §3.1; nearest sentence: ")
    assert "This sentence is split across a page break" in d.message


def test_toml_annotation_without_quote_covers_the_section(store):
    resolved, diagnostics = resolve(
        [annotation("", "4", "toml", "exception")], DocumentCache(store)
    )
    assert diagnostics == []
    (item,) = resolved
    assert item.whole_section
    assert item.span == (0, len(item.section.normalized))


def test_appendix_targets_resolve(store):
    a = Annotation(
        "t.py",
        1,
        "https://www.rfc-editor.org/rfc/rfc9990#appendix-A",
        9990,
        "A",
        "implementation",
        {},
        "Implementations MAY log it.",
        (2, 2),
    )
    resolved, diagnostics = resolve([a], DocumentCache(store))
    assert diagnostics == []
    assert resolved[0].section.kind == "appendix"


def test_documents_are_loaded_once(store):
    calls = []
    original = store.document

    def counting(rfc):
        calls.append(rfc)
        return original(rfc)

    store.document = counting
    cache = DocumentCache(store)
    resolve([annotation("timer W"), annotation("T1"), annotation("x", "3")], cache)
    assert calls == [9990]
