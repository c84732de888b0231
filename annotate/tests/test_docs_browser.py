"""The built site in a real browser: two columns side by side on a desktop, stacked on a phone,
and links that lead from the spec to the code and back.

Uses the system Chromium (/usr/bin/chromium, Debian package ``chromium``) through Playwright;
skips without it unless SIPREF_REQUIRE_EXTERNAL=1.  Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from annotate.tests.test_docs_build import ROOT, shared_site

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.browser


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} not found (apt-get install chromium)"
    if os.environ.get("SIPREF_REQUIRE_EXTERNAL") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _require_chromium()
    site = shared_site(tmp_path_factory)
    assert site["build"].returncode == 0, site["build"].stderr[-3000:]
    handler = functools.partial(_Quiet, directory=str(site["out"]))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {**site, "base": f"http://127.0.0.1:{server.server_port}/"}
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(served: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _cited_requirement(coverage: dict[str, Any]) -> dict[str, Any]:
    for rfc in coverage["rfcs"]:
        for req in rfc["requirements"]:
            if any(c["origin"] == "code" and c["block"] for c in req["citations"]):
                return req
    pytest.fail("no requirement is cited by code: nothing to show side by side")


def _spec_url(req: dict[str, Any]) -> str:
    rfc, top = req["rfc"], req["section"].split(".")[0]
    kind = "section" if top[0].isdigit() else "appendix"
    return f"_generated/spec/rfc{rfc}/{kind}-{top}.html#cite-{req['id']}"


def _columns(page: Any, row_selector: str) -> tuple[dict[str, float], dict[str, float]]:
    row = page.locator(row_selector).first
    row.scroll_into_view_if_needed()
    left = row.locator(":scope > .sipref-left").bounding_box()
    right = row.locator(":scope > .sipref-right").bounding_box()
    assert left and right, f"{row_selector}: a column is not rendered"
    return left, right


def _check_layout(browser: Any, url: str, row: str, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = browser.new_page(viewport=viewport)
        try:
            page.goto(url)
            page.wait_for_load_state("load")
            left, right = _columns(page, row)
            if label == "desktop":
                assert right["x"] >= left["x"] + left["width"] - 1, (name, left, right)
                assert abs(right["y"] - left["y"]) < 40, (name, left, right)
                assert left["width"] > 200 and right["width"] > 300, (name, left, right)
            else:
                assert right["y"] >= left["y"] + left["height"] - 1, (name, left, right)
                assert abs(right["x"] - left["x"]) < 2, (name, left, right)
                assert right["width"] > 0.8 * (viewport["width"] - 60), (name, right)
            page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"))
        finally:
            page.close()


def test_spec_view_columns_side_by_side_then_stacked(served: dict, browser: Any) -> None:
    req = _cited_requirement(served["coverage"])
    _check_layout(
        browser,
        served["base"] + _spec_url(req),
        f".sipref-row:has([id='cite-{req['id']}'])",
        "spec-view",
    )


def test_code_view_columns_side_by_side_then_stacked(served: dict, browser: Any) -> None:
    req = _cited_requirement(served["coverage"])
    cite = next(c for c in req["citations"] if c["origin"] == "code" and c["block"])
    url = served["base"] + "_generated/code/" + cite["path"][:-3] + ".html"
    _check_layout(browser, url, f".sipref-code-row:has([id='a-{cite['line']}'])", "code-view")


def test_links_lead_from_spec_to_code_and_back(served: dict, browser: Any) -> None:
    req = _cited_requirement(served["coverage"])
    cite = next(c for c in req["citations"] if c["origin"] == "code" and c["block"])
    page = browser.new_page(viewport=DESKTOP)
    try:
        page.goto(served["base"] + _spec_url(req))
        card = page.locator(f"[id='cite-{req['id']}']")
        expected = "/_generated/code/" + cite["path"][:-3] + ".html#L-" + str(cite["block"][0])
        card.locator(f"a[href$='{expected.rsplit('/', 1)[1]}']").first.click()
        page.wait_for_url(f"**{expected}")
        target = page.locator(f"[id='L-{cite['block'][0]}']")
        assert target.count() == 1
        row = page.locator(f".sipref-code-row:has([id='L-{cite['block'][0]}'])").first
        assert row.locator(".sipref-quote").count() >= 1, "the block has no spec text beside it"
        page.screenshot(path=str(ARTIFACTS / "spec-to-code.png"))
        # back: the quote's link leads to the requirement in the spec view
        quote = page.locator(f"[id='a-{cite['line']}']")
        quote.locator(".sipref-cite-head a").first.click()
        page.wait_for_url("**/_generated/spec/**")
        anchor = page.url.split("#", 1)[1]
        assert page.locator(f"[id='{anchor}']").count() == 1
        assert anchor.startswith(("req-", "section-", "appendix-"))
        page.screenshot(path=str(ARTIFACTS / "code-to-spec.png"))
    finally:
        page.close()


def test_search_finds_spec_text_and_code(served: dict, browser: Any) -> None:
    req = _cited_requirement(served["coverage"])
    cite = next(c for c in req["citations"] if c["origin"] == "code" and c["block"])
    page = browser.new_page(viewport=DESKTOP)
    try:
        # a function name from the cited code: found in the code view
        block = (ROOT / cite["path"]).read_text(encoding="utf-8").splitlines()
        name = next(
            (
                line.split("def ", 1)[1].split("(", 1)[0]
                for line in block[cite["block"][0] - 1 : cite["block"][1]]
                if "def " in line
            ),
            None,
        )
        queries = [("retransmission", "/_generated/spec/")]
        if name:
            queries.append((name, "/_generated/code/"))
        for query, where in queries:
            page.goto(served["base"] + f"search.html?q={query}")
            page.wait_for_selector("#search-results ul li a", timeout=20000)
            hrefs = page.eval_on_selector_all(
                "#search-results ul li a", "els => els.map(e => e.href)"
            )
            assert any(where in h for h in hrefs), (query, hrefs[:10])
        page.screenshot(path=str(ARTIFACTS / "search.png"))
    finally:
        page.close()


#: The pages with the most code beside the spec (RFC 3261 §16 and §17) and the longest
#: modules: the message layer and the proxy's §16.6 forwarding steps.
CODE_HEAVY = (
    "_generated/spec/rfc3261/section-16.html",
    "_generated/spec/rfc3261/section-17.html",
    "_generated/code/rfc3261/proxy/forwarding.html",
    "_generated/code/rfc3261/headers.html",
)
_CLIPPED = """() => {
  const boxes = [...document.querySelectorAll(
    '.sipref-code pre, .sipref-ready pre, pre.sipref-pre')];
  return {
    boxes: boxes.length,
    clipped: boxes.filter(b => b.scrollWidth > b.clientWidth + 1).map(
      b => [b.closest('[id]')?.id, b.scrollWidth, b.clientWidth]),
    page: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
  };
}"""


@pytest.mark.parametrize("url", CODE_HEAVY)
def test_no_code_box_is_clipped_on_a_desktop_or_a_phone(
    served: dict, browser: Any, url: str
) -> None:
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = browser.new_page(viewport=viewport)
        try:
            page.goto(served["base"] + url)
            page.wait_for_load_state("load")
            found = page.evaluate(_CLIPPED)
            assert found["boxes"] > 10, (url, label, found["boxes"])
            assert not found["clipped"], (url, label, found["clipped"][:5])
            width, client = found["page"]
            assert width <= client, (url, label, "the page scrolls sideways", width, client)
        finally:
            page.close()


def test_a_deep_link_lands_at_once_on_an_outlined_sentence(served: dict, browser: Any) -> None:
    req = _cited_requirement(served["coverage"])
    top = req["section"].split(".")[0]
    url = served["base"] + f"_generated/spec/rfc{req['rfc']}/section-{top}.html#req-{req['id']}"
    page = browser.new_page(viewport=DESKTOP)
    try:
        page.goto(url)
        page.wait_for_load_state("load")
        # no smooth scrolling: the target is in view right after load, not two seconds later
        assert page.evaluate("getComputedStyle(document.documentElement).scrollBehavior") == "auto"
        box = page.evaluate(
            f"document.getElementById('req-{req['id']}').getBoundingClientRect().toJSON()"
        )
        assert 0 <= box["y"] < DESKTOP["height"], box
        outline = page.evaluate(
            f"getComputedStyle(document.getElementById('req-{req['id']}')).outlineStyle"
        )
        assert outline == "solid", "the :target sentence is not outlined"
        page.screenshot(path=str(ARTIFACTS / "deep-link.png"))
    finally:
        page.close()


def test_a_coverage_count_opens_its_list(served: dict, browser: Any) -> None:
    rfc = next(r for r in served["coverage"]["rfcs"] if r["rfc"] == 3261)
    level, status = (
        "MUST",
        next(
            s
            for s in ("not started", "todo", "exception", "complete")
            if rfc["by_level"]["MUST"][s]
        ),
    )
    expected = rfc["by_level"]["MUST"][status]
    page = browser.new_page(viewport=DESKTOP)
    try:
        page.goto(served["base"] + "_generated/coverage.html")
        cell = page.locator(
            f'td.sipref-count[data-rfc="3261"][data-level="{level}"][data-status="{status}"]'
        )
        cell.locator("a").click()
        page.wait_for_url("**/_generated/requirements/rfc3261.html?*")
        visible = page.locator("table.sipref-reqlist tbody tr:not([hidden])")
        assert visible.count() == expected
        for row in visible.all()[:5]:
            assert row.get_attribute("data-level") == level
            assert row.get_attribute("data-status") == status.replace(" ", "-")
        assert page.locator(".sipref-shown").inner_text().startswith(f"{expected} of ")
        page.screenshot(path=str(ARTIFACTS / "coverage-list.png"))
    finally:
        page.close()


def _search(page: Any, base: str, query: str) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(base + "search.html?q=" + query.replace(" ", "+"))
    page.wait_for_selector("#search-results ul li a", timeout=20000)
    # summaries are fetched page by page after the list shows: let them come
    page.wait_for_load_state("networkidle")
    assert not errors, (query, errors)
    return page.eval_on_selector_all(
        "#search-results ul li a", "els => els.map(e => e.getAttribute('href'))"
    )


def test_search_ranks_the_defining_section_first(served: dict, browser: Any) -> None:
    page = browser.new_page(viewport=DESKTOP)
    try:
        hrefs = _search(page, served["base"], "Max-Forwards")
        assert hrefs[0].endswith("_generated/spec/rfc3261/section-20.html#section-20.22"), hrefs[
            :5
        ]
        hrefs = _search(page, served["base"], "Timer B")
        assert hrefs[0].endswith("section-17.html#section-17.1.1.2"), hrefs[:5]
        page.screenshot(path=str(ARTIFACTS / "search-timer-b.png"))
    finally:
        page.close()


def test_no_page_logs_an_error(served: dict, browser: Any) -> None:
    out: Path = served["out"]
    pages = sorted(str(p.relative_to(out)) for p in out.rglob("*.html"))
    assert len(pages) > 50
    page = browser.new_page(viewport=DESKTOP)
    errors: list[str] = []
    current = {"url": ""}
    page.on("pageerror", lambda e: errors.append(f"{current['url']}: {e}"))
    page.on(
        "console",
        lambda m: errors.append(f"{current['url']}: {m.text}") if m.type == "error" else None,
    )
    try:
        for name in pages:
            current["url"] = name
            page.goto(served["base"] + name, wait_until="load")
        assert not errors, errors[:10]
    finally:
        page.close()


def test_a_failing_conformance_cell_shows_its_ladder(served: dict, browser: Any) -> None:
    page = browser.new_page(viewport=DESKTOP)
    try:
        page.goto(served["base"] + "_generated/conformance.html")
        # the fixture's Kamailio run failed a case and kept its ladder
        page.locator("td.sipref-verdict.verdict-fail a[href*='kamailio']").first.click()
        page.wait_for_url("**/_generated/conformance/*.html#case-*")
        anchor = page.url.split("#", 1)[1]
        case = page.locator(f"[id='{anchor}']")
        assert case.locator("table.sipref-ladder tbody tr").count() >= 1
        assert case.locator("dt", has_text="Observed").count() == 1
        box = case.bounding_box()
        assert box and 0 <= box["y"] < DESKTOP["height"], box
        page.screenshot(path=str(ARTIFACTS / "conformance-case.png"))
    finally:
        page.close()


def test_a_requirement_card_shows_its_observability(served: dict, browser: Any) -> None:
    # the line comes from the shared data file (sipref.js renders it under each card)
    page = browser.new_page(viewport=DESKTOP)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(served["base"] + "_generated/spec/rfc3261/section-8.html")
        lines = page.locator(".sipref-card[id^='cite-rfc3261-'] p.sipref-obs")
        cards = page.locator(".sipref-card[id^='cite-rfc3261-']")
        assert lines.count() == cards.count() > 50
        texts = lines.all_text_contents()
        assert any(t.startswith("Observable: uac") for t in texts)
        assert any(t.startswith("Not observable: ") for t in texts)
        judged = page.locator("p.sipref-obs", has_text="judged by").first
        judged.scroll_into_view_if_needed()
        assert judged.locator("code").count() >= 1
        assert errors == []
        page.screenshot(path=str(ARTIFACTS / "observability.png"))
    finally:
        page.close()
