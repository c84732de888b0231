"""Errata as data (issue 16): read like the RFC texts, located beside the sentence they
correct, accepted as quotes when verified, and flagged where code cites the words they change.

Every record here is made up (RFC 9990 is the project's own fixture RFC)."""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from annotate.__main__ import main
from annotate.checker import erratum_notes
from annotate.errata import ErrataStore, ErrataStoreError, locate, parse_records, stale_citations
from annotate.report import build_coverage
from annotate.specstore import SpecStore

FIXTURES = Path(__file__).parent / "fixtures"
TARGET = "https://www.rfc-editor.org/rfc/rfc9990#section-3.2"
ORIGINAL = "A widget name MUST be a token."
CORRECTED = "A widget name MUST be a token of at most 32 characters."

# The RFC Editor's errata.json format (the fields it publishes), made-up records.
RECORDS = [
    {
        "errata_id": 9001,
        "doc-id": "RFC9990",
        "errata_status_code": "Verified",
        "errata_type_code": "Technical",
        "section": "3.2",
        "orig_text": "   A widget name MUST be a\n   token.",
        "correct_text": "   A widget name MUST be a token of at most\n   32 characters.",
        "notes": "Names had no length limit.",
        "submit_date": "2031-01-02",
    },
    {
        "errata_id": 9002,
        "doc-id": "RFC9990",
        "errata_status_code": "Reported",
        "errata_type_code": "Editorial",
        "section": "3",
        "orig_text": "A widget is a small device that sends signals.",
        "correct_text": "A widget is a device that sends signals.",
        "notes": "",
        "submit_date": "2031-02-03",
    },
    {
        "errata_id": 9003,
        "doc-id": "RFC9990",
        "errata_status_code": "Rejected",
        "errata_type_code": "Technical",
        "section": "GLOBAL",
        "orig_text": "x",
        "correct_text": "y",
    },
    {"errata_id": "n/a", "doc-id": "RFC9990", "errata_status_code": "Verified"},
]
# A metadata-only list, as ../shared/errata holds: one new record, one already above.
METADATA = {
    "rfc": 9990,
    "errata": [
        {"eid": 9001, "rfc": 9990, "status": "Verified", "type": "Technical", "section": "3.2"},
        {"eid": 9004, "rfc": 9990, "status": "Held for Document Update", "section": None},
    ],
}


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """A folder like ../shared: specs/ with the fixture RFC, errata/ beside it."""
    (tmp_path / "specs").mkdir()
    shutil.copy(FIXTURES / "specs" / "rfc9990.txt", tmp_path / "specs")
    (tmp_path / "errata").mkdir()
    (tmp_path / "errata" / "errata.json").write_text(json.dumps(RECORDS))
    (tmp_path / "errata" / "rfc9990.json").write_text(json.dumps(METADATA))
    return tmp_path


def _store(shared: Path) -> SpecStore:
    return SpecStore(spec_dir=shared / "specs", cache_dir=shared / "cache" / "rfcs")


def test_records_from_the_folder_beside_the_specs(shared: Path) -> None:
    store = _store(shared)
    assert store.errata.errata_dir == shared / "errata" and not store.errata.allow_fetch
    records = store.errata.records(9990)
    assert [e.eid for e in records] == [9001, 9002, 9003, 9004]
    first = records[0]
    assert first.has_text and first.verified and first.section == "3.2"  # text beats metadata
    assert first.url == "https://www.rfc-editor.org/errata/eid9001"
    assert records[2].section is None  # "GLOBAL" names no section
    assert not records[3].has_text and records[3].status == "Held for Document Update"
    assert store.errata.records(3261) == []


def test_an_erratum_is_located_at_the_words_it_corrects(shared: Path) -> None:
    store = _store(shared)
    doc = store.document(9990)
    first, reported = store.errata.records(9990)[:2]
    section, (start, end) = locate(first, doc)  # type: ignore[misc]
    assert section.number == "3.2" and section.normalized[start:end] == ORIGINAL
    assert locate(reported, doc)[0].number == "3"  # type: ignore[index]
    assert locate(store.errata.records(9990)[3], doc) is None  # no text: nothing to place


def _tree(tmp_path: Path, quote: str) -> Path:
    root = tmp_path / "tree"
    (root / "rfc3261" / "tests").mkdir(parents=True)
    (root / "rfc3261" / "names.py").write_text(
        f"##= {TARGET}\n##% {quote}\ndef check(name):\n    return len(name) <= 32\n"
    )
    (root / "rfc3261" / "tests" / "test_names.py").write_text(
        f"##= {TARGET}\n##= type=test\n##% {quote}\ndef test_check():\n    assert 1\n"
    )
    return root


def test_a_quote_of_the_corrected_text_is_accepted_and_said_so(
    shared: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _tree(shared, CORRECTED)
    coverage = build_coverage(root, _store(shared), extensions=False, core=(9990,))
    assert coverage.diagnostics == []
    (code, _test) = sorted(coverage.resolved, key=lambda r: r.annotation.path)
    assert code.erratum == 9001 and code.section.normalized[slice(*code.span)] == ORIGINAL
    (entry,) = [
        e for e in coverage.rfc(9990).requirements if e.requirement.text.startswith(ORIGINAL)
    ]
    assert entry.status == "complete"  # the requirement the erratum corrects
    assert "verified erratum 9001" in str(erratum_notes(coverage.resolved)[0])
    args = ["check", "--root", str(root), "--spec-dir", str(shared / "specs"), "--offline"]
    assert main([*args, "--core-rfc", "9990", "--strict"]) == 0
    assert "note: quotes the text of RFC 9990 §3.2 as corrected by verified erratum 9001" in (
        capsys.readouterr().out
    )


def test_code_citing_words_a_verified_erratum_corrects_is_a_warning(
    shared: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _tree(shared, ORIGINAL)
    store = _store(shared)
    coverage = build_coverage(root, store, extensions=False, core=(9990,))
    warnings = stale_citations(coverage.resolved, store.errata.records)
    assert [w.path for w in warnings] == ["rfc3261/names.py", "rfc3261/tests/test_names.py"]
    assert "verified erratum 9001 corrects" in warnings[0].message
    args = ["check", "--root", str(root), "--spec-dir", str(shared / "specs"), "--offline"]
    assert main([*args, "--core-rfc", "9990"]) == 0
    assert main([*args, "--core-rfc", "9990", "--strict"]) == 1
    assert "warning: RFC 9990 §3.2" in capsys.readouterr().out


def test_only_a_verified_erratum_may_be_quoted(shared: Path) -> None:
    root = _tree(shared, "A widget is a device that sends signals.")  # 9002 is Reported
    (root / "rfc3261" / "names.py").write_text(
        "##= https://www.rfc-editor.org/rfc/rfc9990#section-3\n"
        "##% A widget is a device that sends signals.\ndef f():\n    return 1\n"
    )
    coverage = build_coverage(root, _store(shared), extensions=False, core=(9990,))
    assert any("quote not found in RFC 9990 §3" in d.message for d in coverage.diagnostics)


def test_malformed_errata_leave_a_reason_and_no_records(tmp_path: Path) -> None:
    (tmp_path / "errata.json").write_text("{not json")
    store = ErrataStore(tmp_path)
    assert store.records(9990) == [] and "cannot read" in (store.problem or "")
    with pytest.raises(ErrataStoreError, match="a list of errata records"):
        parse_records("a string")


@pytest.fixture
def errata_server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on loopback serving a made-up errata.json; the paths it was asked."""
    body = json.dumps(RECORDS).encode()
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/errata.json", asked
    finally:
        server.shutdown()
        server.server_close()


def test_fetched_once_into_the_cache(tmp_path: Path, errata_server: tuple[str, list[str]]) -> None:
    url, asked = errata_server
    cache = tmp_path / "cache" / "errata"
    store = ErrataStore(cache_dir=cache, url=url, allow_fetch=True, timeout=5)
    assert [e.eid for e in store.records(9990)] == [9001, 9002, 9003]
    assert (cache / "errata.json").is_file() and asked == ["/errata.json"]
    again = ErrataStore(cache_dir=cache, url=url, allow_fetch=True)
    assert len(again.records(9990)) == 3 and asked == ["/errata.json"]  # from the cache
    offline = ErrataStore(cache_dir=tmp_path / "empty", url=url, allow_fetch=False)
    assert offline.records(9990) == [] and asked == ["/errata.json"]


def test_the_spec_view_shows_each_erratum_beside_its_words(shared: Path) -> None:
    from annotate.sphinxext import render
    from annotate.sphinxext.model import Site

    store = _store(shared)
    root = _tree(shared, CORRECTED)
    site = Site(root, build_coverage(root, store, extensions=False, core=(9990,)))
    site.errata = {9990: store.errata.records(9990)}
    view = site.rfcs[9990]
    names = render.section_body_html(site, view, view.document.section("3.2"))
    assert 'href="https://www.rfc-editor.org/errata/eid9001">Erratum 9001</a>' in names
    assert f"<del>{ORIGINAL}</del>" in names and f"<ins>{CORRECTED}</ins>" in names
    assert "sipref-erratum-verified" in names and "Names had no length limit." in names
    widgets = render.section_body_html(site, view, view.document.section("3"))
    assert "Erratum 9002" in widgets and "sipref-erratum-unverified" in widgets
    # 9003 and 9004 name no section: listed once, on the RFC's index page
    whole = render.unsectioned_errata_html(site, view.document)
    assert "Erratum 9003" in whole and "Erratum 9004" in whole and "9001" not in whole
