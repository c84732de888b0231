"""The documentation site builds cleanly and shows what the report says.

One build per session (module-scoped fixture) into a temporary folder, with a temporary data
folder holding a fresh report JSON, one conformance result file and one benchmark file.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from annotate.rfctext import Block, normalize
from annotate.sphinxext import dashboards, render
from annotate.sphinxext.pages import Page, Part, write_stubs

ROOT = Path(__file__).resolve().parents[2]
SPEC_DIR = Path(os.environ.get("SIPREF_SPEC_DIR") or ROOT.parent / "shared" / "rfcs")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["SIPREF_SPEC_DIR"] = str(SPEC_DIR)
    env["SIPREF_OFFLINE"] = "1"
    return env


def build_site(tmp: Path) -> dict[str, Any]:
    """Build the site into ``tmp/html`` with a fresh report and fixture data files."""
    if not (SPEC_DIR / "rfc3261.txt").is_file():
        if os.environ.get("SIPREF_REQUIRE_EXTERNAL") == "1":
            pytest.fail(f"RFC texts not found in {SPEC_DIR} (set SIPREF_SPEC_DIR)")
        pytest.skip(f"RFC texts not found in {SPEC_DIR} (set SIPREF_SPEC_DIR)")
    data = tmp / "data"
    (data / "conformance").mkdir(parents=True)
    (data / "bench").mkdir()
    report = subprocess.run(
        [
            sys.executable,
            "-m",
            "annotate",
            "report",
            "--json",
            str(data / "coverage.json"),
            "--quiet",
        ],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert (data / "coverage.json").is_file(), report.stdout + report.stderr
    coverage = json.loads((data / "coverage.json").read_text(encoding="utf-8"))
    some_req = next(r["id"] for rfc in coverage["rfcs"] for r in rfc["requirements"])
    conformance = {
        "target": "sip:127.0.0.1:5060",
        "stack": "fixture-stack",
        "cases": [
            {"id": "case-invite-timer-a", "verdict": "pass", "requirements": [some_req]},
            {"id": "case-bad-via", "verdict": "fail", "requirements": []},
        ],
    }
    (data / "conformance" / "fixture.json").write_text(json.dumps(conformance), encoding="utf-8")
    # a second stack failing the same requirement, with what a reader needs to act on it
    ladder = [
        {
            "t": 0.0001,
            "time": 1764180000.1,
            "direction": "sent",
            "transport": "udp",
            "src": "127.0.0.1:40000",
            "dst": "127.0.0.1:5070",
            "summary": "OPTIONS sip:a@127.0.0.1 SIP/2.0",
            "note": "",
            "text": "OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n",
        },
        {
            "t": 0.0004,
            "time": 1764180000.1003,
            "direction": "received",
            "transport": "udp",
            "src": "127.0.0.1:5070",
            "dst": "127.0.0.1:40000",
            "summary": "SIP/2.0 500 Oops",
            "note": "",
            "text": "SIP/2.0 500 Oops\r\nContent-Length: 0\r\n\r\n",
        },
    ]
    other = {
        "target": "sip:127.0.0.1:5070", "stack": "Kamailio", "version": "5.8.4",
        "role": "registrar",
        "cases": [
            {"id": "case-invite-timer-a", "verdict": "fail", "requirements": [some_req],
             "expected": "a 200", "observed": "a 500", "reason": "expected a 200",
             "enforced": {"target": "https://www.rfc-editor.org/rfc/rfc3261#section-8",
                          "quote": "fixture sentence"},
             "ladder": ladder},
        ],
    }  # fmt: skip
    (data / "conformance" / "kamailio.json").write_text(json.dumps(other), encoding="utf-8")
    bench = {  # the shape rfc3261/bench writes
        "benchmark": "parse",
        "machine": {"python": "3.11.7", "cpu_count": 2},
        "workloads": {"parse": "parse only"},
        "results": [
            {"parser": "sipref", "message": "INVITE", "workload": "parse", "status": "ok",
             "msgs_per_s_best": 41000.0, "msgs_per_s_median": 40000.0},
            {"parser": "other", "message": "INVITE", "workload": "parse", "status": "ok",
             "msgs_per_s_best": 20500.0, "msgs_per_s_median": 20000.0},
            {"parser": "broken", "message": "INVITE", "workload": "parse", "status": "error",
             "reason": "ValueError: no Via"},
        ],
    }  # fmt: skip
    (data / "bench" / "parse.json").write_text(json.dumps(bench), encoding="utf-8")
    out = tmp / "html"
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    command += ["-d", str(tmp / "doctrees"), "-D", f"sipref_data_dir={data}"]
    command += [str(ROOT / "docs"), str(out)]
    build = subprocess.run(
        command, cwd=ROOT, env=_env(), capture_output=True, text=True, check=False
    )
    return {
        "out": out,
        "command": command,
        "build": build,
        "coverage": coverage,
        "conformance": conformance,
        "failing": other,
    }


_BUILT: dict[str, dict[str, Any]] = {}


def shared_site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One build per test session, shared by this module and the browser tests."""
    if "site" not in _BUILT:
        _BUILT["site"] = build_site(tmp_path_factory.mktemp("docs"))
    return _BUILT["site"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return shared_site(tmp_path_factory)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (name == "name" and tag == "a"):
                self.ids.add(value)
            elif name == "href" and tag in ("a", "link"):
                self.hrefs.append(value)


def test_build_is_clean(site: dict) -> None:
    build = site["build"]
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert "WARNING" not in build.stderr


def test_a_rebuild_of_an_unchanged_site_reads_nothing_again(site: dict) -> None:
    # The theme's pygments_dark_style used to make every rerun a full rebuild
    # ("The configuration has changed").
    # (-N: no colour codes inside the status lines, which CI=true turns on)
    command = [part for part in site["command"] if part != "-q"]
    command.insert(command.index("-b"), "-N")
    again = subprocess.run(
        command, cwd=ROOT, env=_env(), capture_output=True, text=True, check=False
    )
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "configuration has changed" not in again.stdout
    assert "updating environment: 0 added, 0 changed, 0 removed" in again.stdout


def test_spec_pages_follow_the_rfc_table_of_contents(site: dict) -> None:
    out: Path = site["out"]
    index = _read(out / "_generated/spec/rfc3261/index.html")
    for number in ("17", "17.1.1.2", "20.42", "25.1"):
        page = "section-" + number.split(".")[0]
        assert f'href="{page}.html#section-{number}"' in index, number
        assert f'id="section-{number}"' in _read(out / f"_generated/spec/rfc3261/{page}.html")


def test_every_annotated_block_sits_beside_its_spec_text(site: dict) -> None:
    out: Path = site["out"]
    checked = 0
    pages: dict[str, list[str]] = {}
    for a in site["coverage"]["annotations"]:
        if a["origin"] != "code" or not a["block"] or not a["path"].endswith(".py"):
            continue
        page = out / "_generated/code" / (a["path"][:-3] + ".html")
        if a["path"] not in pages:
            pages[a["path"]] = re.split(r'(?=<div class="sipref-row)', _read(page))
        row = next((r for r in pages[a["path"]] if f'id="a-{a["line"]}"' in r), None)
        assert row is not None, f"{a['path']}:{a['line']} has no row in the code view"
        left, _, right = row.partition('<div class="sipref-right">')
        assert f'id="L-{a["block"][0]}"' in right, f"{a['path']}:{a['line']}: block not beside"
        quote = html.escape(normalize(a["quote"]))
        assert quote in left, f"{a['path']}:{a['line']}: quote not shown beside the code"
        checked += 1
    assert checked > 0


def test_every_cited_requirement_shows_its_code_and_tests(site: dict) -> None:
    out: Path = site["out"]
    texts: dict[Path, str] = {}
    checked = 0
    for rfc in site["coverage"]["rfcs"]:
        for req in rfc["requirements"]:
            top = req["section"].split(".")[0]
            kind = "section" if top[0].isdigit() else "appendix"
            page = out / f"_generated/spec/rfc{rfc['rfc']}/{kind}-{top}.html"
            text = texts.setdefault(page, _read(page))
            start = text.index(f'id="cite-{req["id"]}"')
            end = text.find('<div class="sipref-row', start)
            card = text[start : end if end > 0 else len(text)]
            assert f'id="req-{req["id"]}"' in text
            for cite in req["citations"]:
                if cite["origin"] != "code" or not cite["block"]:
                    continue
                href = "/code/" + cite["path"][:-3] + f'.html#L-{cite["block"][0]}"'
                assert href in card, f"{req['id']}: no link to {cite['path']}:{cite['line']}"
                checked += 1
            if req["status"] == "not started":
                assert "sipref-ready" in card and "##% " in card  # the annotation to copy
    assert checked > 0


def test_every_internal_link_resolves(site: dict) -> None:
    out: Path = site["out"]
    parsed: dict[Path, _Links] = {}

    def load(path: Path) -> _Links:
        if path not in parsed:
            parser = _Links()
            parser.feed(_read(path))
            parsed[path] = parser
        return parsed[path]

    pages = sorted(out.rglob("*.html"))
    assert len(pages) > 50
    broken = []
    for page in pages:
        for href in load(page).hrefs:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(out)}: {href} (no such file)")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html" and fragment not in load(target).ids:
                broken.append(f"{page.relative_to(out)}: {href} (no such anchor)")
    assert not broken, "\n".join(broken[:30])


def _cell(page: str, **attrs: str) -> int:
    """The number in the one dashboard cell with these data attributes (a total without status)."""
    cls = "sipref-count" if "status" in attrs else "sipref-total"
    pattern = "".join(f'[^>]*data-{k}="{re.escape(v)}"' for k, v in attrs.items())
    found = re.findall(rf'<td class="num {cls}"{pattern}[^>]*>(\d+)</td>', page)
    assert len(found) == 1, (attrs, found)
    return int(found[0])


def test_dashboard_counts_equal_the_report(site: dict) -> None:
    page = _read(site["out"] / "_generated/coverage.html")
    coverage = site["coverage"]
    assert coverage["rfcs"]
    for rfc in coverage["rfcs"]:
        n = str(rfc["rfc"])
        assert _cell(page, rfc=n, level="ALL") == rfc["total"]
        for status, count in rfc["by_status"].items():
            assert _cell(page, rfc=n, level="ALL", status=status) == count
        for level, row in rfc["by_level"].items():
            assert _cell(page, rfc=n, level=level) == row["total"]
            assert _cell(page, rfc=n, level=level, status="complete") == row["complete"]
        for section in rfc["sections"]:
            if section["total"]:
                assert _cell(page, rfc=n, section=section["number"]) == section["total"]
    for ext in coverage["extensions"]:
        assert f'data-module="{ext["module"]}">{ext["lines_of_code"]}<' in page


def test_conformance_matrix_and_bench_tables(site: dict) -> None:
    out: Path = site["out"]
    conformance = _read(out / "_generated/conformance.html")
    assert "fixture-stack" in conformance
    assert 'class="sipref-verdict verdict-pass">✓ pass' in conformance
    assert 'class="sipref-verdict verdict-fail">✗ fail' in conformance
    req = site["conformance"]["cases"][0]["requirements"][0]
    assert f"#req-{req}" in conformance
    bench = _read(out / "_generated/bench.html")
    assert "41,000" in bench and "20,500" in bench
    assert 'aria-label="50% of the fastest"' in bench
    assert "<em>error</em> ValueError: no Via" in bench


def test_search_index_covers_spec_text_and_code(site: dict) -> None:
    from sphinx.search.en import SearchEnglish

    english = SearchEnglish({})
    stem = english.stem
    index = _read(site["out"] / "searchindex.js")
    terms = json.loads(re.search(r'"terms":(\{.*?\})', index).group(1))
    for word in ("retransmissions", "branch", "transaction"):  # words of the RFC text
        assert stem(word) in terms, word
    names = set()
    for a in site["coverage"]["annotations"]:
        if a["origin"] == "code" and a["block"] and a["type"] == "implementation":
            lines = (ROOT / a["path"]).read_text(encoding="utf-8").splitlines()
            head = lines[a["block"][0] - 1 : a["block"][1]]
            names.update(m[1] for line in head if (m := re.match(r"\s*def (\w+)", line)))
    assert names
    names = {n for n in names if n.lower() not in english.stopwords and len(n) > 2}
    missing = sorted(n for n in names if stem(n.lower()) not in terms)
    assert not missing, f"function names not in the search index: {missing[:10]}"
    assert "_generated/spec/rfc3261/section-17" in index


def test_empty_states(tmp_path: Path) -> None:
    html, runs = dashboards.conformance_html(tmp_path / "conformance")
    assert runs == 0 and "No conformance results yet" in html
    (tmp_path / "conformance").mkdir()
    (tmp_path / "conformance" / "bad.json").write_text('{"stack": "x"}', encoding="utf-8")
    html, runs = dashboards.conformance_html(tmp_path / "conformance")
    assert runs == 0 and "bad.json: expected an object with a " in html
    html, shown = dashboards.bench_html(tmp_path / "bench")
    assert shown == 0 and "No benchmark figures yet" in html
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "broken.json").write_text("{", encoding="utf-8")
    html, shown = dashboards.bench_html(tmp_path / "bench")
    assert shown == 0 and "not valid JSON" in html


def test_pre_block_highlight_maps_back_to_the_verbatim_text() -> None:
    text = "   Timer A  controls\n   request retrans-\n   missions.   MUST"
    block = Block("pre", text)
    norm, positions = render._normalized_positions(text)
    assert norm == normalize(text) == block.normalized
    assert all(text[p] == norm[i] or norm[i] == " " for i, p in enumerate(positions))


def test_stubs_are_rewritten_only_when_the_page_changes(tmp_path: Path) -> None:
    page = Page("_generated/x/a", Part("A", "a", "<p>one</p>"))
    assert write_stubs(tmp_path, {page.docname: page}) == (1, 0)
    stub = tmp_path / "_generated/x/a.rst"
    before = stub.stat().st_mtime_ns
    assert write_stubs(tmp_path, {page.docname: page}) == (0, 0)
    assert stub.stat().st_mtime_ns == before
    page.part.html = "<p>two</p>"
    assert write_stubs(tmp_path, {page.docname: page}) == (1, 0)
    assert write_stubs(tmp_path, {}) == (0, 1)
    assert not stub.exists()


def test_instruction_count_figures_show_both_floors(tmp_path: Path) -> None:
    folder = tmp_path / "bench"
    folder.mkdir()
    doc = {
        "benchmark": "parse_instructions",
        "results": [
            {"parser": "sipref", "message": "INVITE", "instructions": 200000},
            {"parser": "other", "message": "INVITE", "instructions": 330000},
        ],
        "floor": {
            "rule": "at most half the instructions",
            "ratio": 1.65,
            "against": "other",
            "passed": False,
            "like_for_like": {"rule": "reading the same fields", "ratio": 2.1, "passed": True},
        },
    }
    (folder / "parse_instructions.json").write_text(json.dumps(doc), encoding="utf-8")
    html, shown = dashboards.bench_html(folder)
    assert shown == 1
    assert "200,000" in html and "330,000" in html
    assert "Floor: at most half the instructions" in html and "(ratio 1.65) against other" in html
    assert "Like for like: reading the same fields" in html and "✓ met" in html


def test_a_block_is_rendered_once_per_spec_page(site: dict) -> None:
    out: Path = site["out"]
    for page in sorted((out / "_generated/spec").rglob("*.html")):
        text = _read(page)
        ids = re.findall(
            r'<div class="highlight-python notranslate sipref-code" id="(blk-\w+)"', text
        )
        assert len(ids) == len(set(ids)), f"{page.name}: a code block is printed twice"
        for ident in set(re.findall(r'href="#(blk-\w+)"', text)):
            assert ident in ids, f"{page.name}: #{ident} points at no block"


def test_spec_pages_stay_light(site: dict) -> None:
    spec = site["out"] / "_generated/spec"
    sizes = {str(p.relative_to(spec)): p.stat().st_size for p in spec.rglob("*.html")}
    # every spec page under 350 KB, RFC 3261 §16 too (200 requirements, most with code
    # beside them: 1 MB when each requirement repeated its code block, 354 KB before the
    # compact badges, token tags and shared test lists; 307 KB once the second-wave
    # conformance cases and the RFC 5658/6026 citations joined the code and tests)
    heavy = {name: size for name, size in sizes.items() if size > 350_000}
    assert not heavy, heavy


def test_cited_lines_point_at_the_row_a_sentence_is_about() -> None:
    table = "\n".join(
        [
            "TRANSITIONS = {",
            "    (State.CALLING, Event.TIMER_A): (State.CALLING, (A.SEND_REQUEST,)),",
            "    (State.CALLING, Event.TIMER_B): (State.TERMINATED, (A.INFORM_TU_TIMEOUT,)),",
            "    (State.PROCEEDING, Event.PROVISIONAL): (State.PROCEEDING, ()),",
            "    (State.COMPLETED, Event.TIMER_D): (State.TERMINATED, ()),",
            "}",
        ]
    )
    sentence = (
        'If Timer B fires while the client transaction is still in the "Calling" state, '
        "the client transaction SHOULD inform the TU that a timeout has occurred."
    )
    assert render.cited_lines(sentence, table, 195) == {197}
    assert render.cited_lines("The TU MUST be told.", table, 195) == frozenset()
    html = render.python_html(table, 195, marked=frozenset({197}), ident="blk-x")
    code = html.split("<code>", 1)[1].split("</code>", 1)[0]
    assert (
        len(re.findall(r"<span(?: class=\"hl\")?>(?:[^<]|<span[^>]*>[^<]*</span>)*</span>", code))
        == 6
    )
    assert '<span class="hl">' in html and 'id="blk-x"' in html
    assert "counter-reset:l 194" in html


def test_every_count_opens_the_list_behind_it(site: dict) -> None:
    out: Path = site["out"]
    page = _read(out / "_generated/coverage.html")
    targets = re.findall(
        r'<td class="num sipref-(?:count|total)"[^>]*data-list="([^"]+)"[^>]*>(\d+)<', page
    )
    assert len(targets) > 50
    lists: dict[str, list[dict[str, str]]] = {}
    for href, count in targets:
        path, _, query = html.unescape(href).partition("?")
        file = (out / "_generated" / path).resolve()
        assert file.is_file(), href
        if path not in lists:
            rows = re.findall(r'<tr id="r-[^"]+" ([^>]*)>', _read(file))
            lists[path] = [dict(re.findall(r'data-(\w+)="([^"]*)"', attrs)) for attrs in rows]
        wanted = dict(pair.split("=", 1) for pair in query.split("&") if pair)
        shown = [
            row
            for row in lists[path]
            if all(row.get(key) == value for key, value in wanted.items())
        ]
        assert len(shown) == int(count), (href, count, len(shown))


def test_the_requirement_list_gives_reasons_and_links(site: dict) -> None:
    text = _read(site["out"] / "_generated/requirements/rfc3261.html")
    rfc = next(r for r in site["coverage"]["rfcs"] if r["rfc"] == 3261)
    assert text.count('<tr id="r-') == len(rfc["requirements"])
    exception = next(
        r for r in rfc["requirements"] if r["status"] == "exception" and r["citations"]
    )
    row = text[text.index(f'id="r-{exception["id"]}"') :].split("</tr>", 1)[0]
    assert f"#req-{exception['id']}" in row  # to the spec
    assert "exception: " in row  # the reason
    done = next(r for r in rfc["requirements"] if r["status"] == "complete")
    row = text[text.index(f'id="r-{done["id"]}"') :].split("</tr>", 1)[0]
    assert row.count("/code/") >= 2  # to the code and to a test


def test_a_failing_case_opens_with_its_sentence_ladder_and_pcap(site: dict) -> None:
    out: Path = site["out"]
    matrix = _read(out / "_generated/conformance.html")
    assert "Kamailio 5.8.4" in matrix  # product and version, not a port
    assert 'href="conformance/kamailio.html#case-case-invite-timer-a"' in matrix
    page = _read(out / "_generated/conformance/kamailio.html")
    case = page[page.index('id="case-case-invite-timer-a"') :]
    assert "fixture sentence" in case and "a 500" in case and "a 200" in case
    assert case.count('<tr class="ladder-') == 2 and "0.4 ms" in case
    pcap = out / "_pcap/kamailio/case-invite-timer-a.pcap"
    assert pcap.is_file() and pcap.stat().st_size > 24
    assert "../../_pcap/kamailio/case-invite-timer-a.pcap" in case


def test_a_requirement_shows_every_stack_verdict(site: dict) -> None:
    req = site["failing"]["cases"][0]["requirements"][0]
    m = re.match(r"rfc(\d+)-([0-9A-Z]+)", req)
    assert m
    kind = "section" if m[2][0].isdigit() else "appendix"
    text = _read(site["out"] / f"_generated/spec/rfc{m[1]}/{kind}-{m[2]}.html")
    card = text[text.index(f'id="cite-{req}"') :].split('<div class="sipref-card', 1)[0]
    verdicts = card[card.index('class="sipref-verdicts"') :]
    assert "✓ pass</span> fixture-stack" in verdicts
    assert "✗ fail</span> <a href=" in verdicts
    assert 'kamailio.html#case-case-invite-timer-a">Kamailio 5.8.4</a>' in verdicts


def test_later_rfcs_are_found_from_their_headers_and_references(tmp_path: Path) -> None:
    from annotate.specstore import SpecStore
    from annotate.sphinxext.later import later_rfcs, updates

    assert updates("Request for Comments: 6026\nUpdates: 3261                 Sept 2010\n") == {
        3261
    }
    assert updates("Updates: 3261, 3262,\n         3265\nCategory: x") == {3261, 3262, 3265}
    assert updates("Obsoletes: 3261\n") == set()
    store = SpecStore.from_env(SPEC_DIR)
    later = later_rfcs(store)
    assert 6026 in later.updaters and 4320 in later.updaters
    assert (6026, "8.4") in later.at("17.1.1.2")  # "Section 17.1.1.2. Replace paragraph 7"
    assert (5393, "4.2.1") in later.at("16.6")  # "... Section 16.6 of RFC 3261"


def test_a_spec_section_names_the_later_rfcs_that_change_it(site: dict) -> None:
    page = _read(site["out"] / "_generated/spec/rfc3261/section-17.html")
    assert "Later RFCs on this section:" in page and "RFC 6026 §" in page
    index = _read(site["out"] / "_generated/spec/rfc3261/index.html")
    assert "Updated by " in index and "RFC 5393" in index


def _aside_after(page: str, sentence: str, naming: str) -> str:
    """The first later-RFC aside after ``sentence`` that names ``naming`` (several later
    RFCs may comment on one paragraph: RFC 5658 §4 sits beside §16.7 step 9 too)."""
    rest = page[page.index(sentence) :]
    for part in rest.split('<aside class="sipref-update')[1:6]:
        aside = part.split("</aside>", 1)[0]
        if naming in aside:
            return aside
    raise AssertionError(f"no aside naming {naming} after {sentence!r}")


def test_a_spec_sentence_shows_what_a_later_rfc_changed(site: dict) -> None:
    # RFC 6026 §8.3 replaces a sentence of RFC 3261 §16.7 (annotate/later_rfcs.toml)
    page = _read(site["out"] / "_generated/spec/rfc3261/section-16.html")
    old = "If the server transaction is no longer available to handle the transmission"
    aside = _aside_after(page, old, "RFC 6026 §8.3</a> replaces")
    assert "RFC 6026 §8.3</a> replaces" in aside
    assert "the response is simply discarded." in aside
    assert "states no requirement of its own" in aside  # "simply discarded": no keyword
    # RFC 6026 §8.2 replaces the sentence before it with a MUST NOT: sipref's status on that
    # requirement, linked to it in RFC 6026's spec view
    aside = _aside_after(
        page, "If none is found, the element MUST process the response", "RFC 6026 §8.2</a>"
    )
    assert "RFC 6026 §8.2</a> replaces" in aside
    assert "If none is found, the element MUST NOT forward the response." in aside
    assert re.search(r'In sipref: <a class="sipref-badge st-[a-z-]+" href="[^"]*rfc6026', aside)
    # an "add": RFC 5393 §5.3.3 (Max-Breadth) after the Max-Forwards step of §16.6
    assert "RFC 5393 §5.3.3</a> adds after" in page


def test_the_stylesheet_names_every_status_of_a_compact_badge() -> None:
    from annotate.sphinxext.model import STATUS_ICONS, STATUS_LABELS, status_class

    css = (ROOT / "docs/_static/sipref.css").read_text(encoding="utf-8")
    for status, label in STATUS_LABELS.items():
        rule = f'.{status_class(status)} {{ --sc: "{STATUS_ICONS[status]} {label}"; }}'
        assert rule in css, rule


def test_a_rerun_with_nothing_changed_writes_nothing(site: dict) -> None:
    # `make docs` twice: no page is written again, and the configuration saved with the
    # environment is this one (the stylesheets in their stored form, copybutton's folder
    # in html_static_path before the comparison); furo's own pygments_dark_style, which it
    # registers only when the theme loads, is the one key Sphinx still names
    command = [arg for arg in site["command"] if arg != "-q"]
    rerun = subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "targets for 0 source files that are out of date" in rerun.stdout, rerun.stdout
    changed = re.search(r"The configuration has changed \(([^)]*)\)", rerun.stdout)
    names = set(re.findall(r"'(\w+)'", changed[1])) if changed else set()
    assert names <= {"pygments_dark_style"}, names


def test_observability_is_one_shared_file_the_rfc3261_pages_load(site: dict) -> None:
    # issue 25: each requirement's observability and judging cases would push the §16 page
    # over its cap if written inline; one data file serves every spec page instead
    out: Path = site["out"]
    text = _read(out / "_static/sipref-observability.js")
    prefix = "window.siprefObservability = "
    assert text.startswith(prefix)
    data = json.loads(text[len(prefix) :].rstrip().rstrip(";"))
    rfc3261 = next(r for r in site["coverage"]["rfcs"] if r["rfc"] == 3261)
    ids = {r["id"] for r in rfc3261["requirements"]}
    assert ids <= set(data["req"])
    entry = next(data["req"][i] for i in sorted(ids) if "n" in data["req"][i])
    assert data["reasons"][entry["n"]]
    judged = [e for e in data["req"].values() if e.get("c")]
    assert judged and all(data["cases"][i] for e in judged for i in e["c"])
    page = _read(out / "_generated/spec/rfc3261/section-8.html")
    assert page.count("_static/sipref-observability.js") == 1
    assert "Not observable:" not in page
    # an extension RFC with a classification (extensions/rfc3262.observability.toml) loads
    # it too; one without (RFC 5057) does not
    classified = _read(out / "_generated/spec/rfc3262/section-4.html")
    assert classified.count("_static/sipref-observability.js") == 1
    assert any(i.startswith("rfc3262-") for i in data["req"])
    other = _read(out / "_generated/spec/rfc5057/section-5.html")
    assert "sipref-observability.js" not in other


def test_the_dashboard_shows_conformance_coverage(site: dict) -> None:
    page = _read(site["out"] / "_generated/coverage.html")
    assert "Conformance</th>" in page
    cell = re.search(r'href="#conformance-coverage">MUST (\d+)/(\d+) · SHOULD (\d+)/(\d+)<', page)
    assert cell, "no conformance cell on the RFC 3261 row"
    must_covered, must_observable = int(cell[1]), int(cell[2])
    assert 0 < must_covered < must_observable
    # each stack's verdicts on the observable requirements, one line per stack
    row = page[cell.end() : page.index("</td>", cell.end())]
    assert row.count("<small>") == 2 and "Kamailio" in row
    part = page[page.index('id="conformance-coverage"') :]
    for role in ("uac", "uas", "registrar", "proxy", "redirect"):
        assert f"<th scope=row>{role}</th>" in part
    assert "Not observable:" in part
