"""Sphinx extension: the spec view, the code view and the dashboards of the sipref site.

At ``builder-inited`` the extension runs the coverage report in-process
(`annotate.report.build_coverage`: RFC texts from the spec store, annotations scanned from the
source as text), plans every generated page (`annotate.sphinxext.pages`) and writes a stub
source per page under ``docs/_generated/``.  Each stub holds a ``sipref-page`` directive that
turns the planned page into sections (real titles, anchors, labels: the search index and the
toctree see them) with HTML bodies.  Links between generated pages are resolved per builder
at ``doctree-resolved``.

Configuration (``conf.py``):

- ``sipref_root``: the repository root to scan (default: the parent of the docs folder);
- ``sipref_data_dir``: the data folder (default ``<srcdir>/_data``): ``coverage.json``,
  ``conformance/*.json``, ``bench/*.json``;
- ``sipref_roots``: the folders holding annotated code.

RFC texts come from `annotate.specstore.SpecStore.from_env`; when ``SIPREF_SPEC_DIR`` is set
the build never fetches (an RFC missing there and in the cache is a build error).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from annotate.sphinxext.model import GENERATED, Site
from annotate.sphinxext.pages import Page, Part, all_pages, write_stubs

__all__ = ["setup"]

logger = logging.getLogger(__name__)
#: ``href`` (or ``data-list``: a count that JavaScript turns into a link) to a generated page,
#: with an optional query (filters of the requirement list) and anchor.
_LINK = re.compile(r'(href|data-list)="sipref:([^"#?]*)(\?[^"#]*)?(?:#([^"]*))?"')


def _build_site(app: Sphinx) -> None:
    from annotate.report import build_coverage
    from annotate.specstore import SpecStore

    started = time.perf_counter()
    srcdir = Path(app.srcdir)
    root = Path(app.config.sipref_root or srcdir.parent)
    data_dir = Path(app.config.sipref_data_dir or srcdir / "_data")
    store = SpecStore.from_env()
    if os.environ.get("SIPREF_SPEC_DIR"):
        # With a spec folder the site builds offline: an RFC missing from it (and from the
        # cache) is reported, never fetched.
        store.allow_fetch = False
    coverage = build_coverage(root, store, tuple(app.config.sipref_roots))
    for message in coverage.load_errors:
        logger.warning("sipref: %s", message, type="sipref", subtype="spec")
    site = Site(root, coverage)
    from annotate.sphinxext.later import later_rfcs

    site.later = later_rfcs(store)
    site.updates = _later_updates(root, store)
    site.errata = {number: store.errata.records(number) for number in site.rfcs}
    if store.errata.problem:
        logger.warning("sipref: %s", store.errata.problem, type="sipref", subtype="errata")
    pages = all_pages(site, data_dir, srcdir / "conformance-results")
    written, removed = write_stubs(srcdir, pages)
    app.sipref_site = site  # type: ignore[attr-defined]
    app.sipref_pages = pages  # type: ignore[attr-defined]
    logger.info(
        "sipref: %d pages planned (%d stubs written, %d removed) in %.2fs",
        len(pages),
        written,
        removed,
        time.perf_counter() - started,
    )


def _later_updates(root: Path, store: Any) -> list[Any]:
    """The reviewed sentences later RFCs changed; a quote that is not there is a warning."""
    from annotate.checker import DocumentCache
    from annotate.later_updates import UPDATES_FILE, check_updates, load_updates

    path = root / UPDATES_FILE
    if not path.is_file():
        return []
    updates, problems = load_updates(path)
    for problem in problems + check_updates(updates, DocumentCache(store)):
        logger.warning("sipref: %s", problem, type="sipref", subtype="later")
    return updates


class SiprefPage(SphinxDirective):
    """Insert the generated page planned for the current document."""

    has_content = False
    option_spec: ClassVar[dict[str, Any]] = {"digest": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        pages: dict[str, Page] = getattr(self.env.app, "sipref_pages", {})
        page = pages.get(self.env.docname)
        if page is None:
            raise self.error(f"no generated page is planned for {self.env.docname!r}")
        section = self._section(page.part)
        toctree = page.toctree_rst()
        if toctree:
            self.state.nested_parse(StringList(toctree, self.env.docname), 0, section)
        return [section]

    def _section(self, part: Part) -> nodes.section:
        document = self.state.document
        section = nodes.section(ids=[part.ident])
        section += nodes.title(part.title, part.title)
        if part.label:
            section["names"].append(part.label)
            document.note_explicit_target(section, section)
        else:
            document.set_id(section)
        if part.terms:
            # index entries ("main": ranked with the best results, not after them)
            section += addnodes.index(
                entries=[("single", term, part.ident, "main", None) for term in part.terms]
            )
        if part.html:
            section += nodes.raw("", part.html, format="html")
        for child in part.children:
            section += self._section(child)
        return section


def prune_spec_toc(app: Sphinx, doctree: nodes.document) -> None:
    """Keep only the page title in the TOC of a spec page.

    Its subsections stay real sections (anchors, labels, search titles), but the global
    navigation, which Sphinx copies for every page written, no longer carries ~300 RFC
    subsections: that copy dominated the build time.
    """
    env = app.env
    current = getattr(env, "current_document", None)
    docname = getattr(current, "docname", None) or env.docname
    if not docname.startswith(f"{GENERATED}/spec/") or docname.endswith("/index"):
        return
    toc = env.tocs.get(docname)
    if toc is None:
        return
    for item in toc.findall(nodes.list_item):
        for child in list(item.children):
            if isinstance(child, nodes.bullet_list):
                item.remove(child)
        break


def resolve_links(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Turn ``sipref:DOC#ANCHOR`` hrefs into URIs relative to the page being written."""
    all_docs = app.env.all_docs

    def replace(m: re.Match[str]) -> str:
        attr, target, query, anchor = m[1], m[2], m[3] or "", m[4]
        if target not in all_docs:
            logger.warning(
                "sipref: link to unknown page %r", target, location=docname, type="sipref"
            )
            return f'{attr}="#"'
        uri = "" if target == docname else app.builder.get_relative_uri(docname, target)
        uri += query
        return f'{attr}="{uri}#{anchor}"' if anchor else f'{attr}="{uri or "#"}"'

    for node in doctree.findall(nodes.raw):
        text = node.astext()
        if "sipref:" in text:
            node.children = [nodes.Text(_LINK.sub(replace, text))]


def collapse_navigation(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: object
) -> None:
    """Show the navigation's branch of the current page only (furo expands every branch).

    Runs before furo's own handler and makes the ``toctree`` it calls collapse: with ~250
    generated pages, the fully expanded tree was 30 KB of every page (and build time).
    """
    toctree = context.get("toctree")
    if toctree is None:
        return

    def collapsed(**kwargs: Any) -> str:
        return toctree(**{**kwargs, "collapse": True})

    context["toctree"] = collapsed


def write_pcaps(app: Sphinx, exception: Exception | None) -> None:
    """A pcap beside each conformance case that did not pass (linked from its run page)."""
    if exception is not None or app.builder.format != "html":
        return
    from annotate.sphinxext.conformance import write_pcaps as write

    runs = getattr(getattr(app, "sipref_site", None), "runs", [])
    if runs:
        write(Path(app.outdir), runs)


def spec_page_data(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """The spec pages of every classified RFC load the shared observability data once
    (issue 25)."""
    from annotate.sphinxext.observability import DATA_FILE, RFC

    site_obs = getattr(getattr(app, "sipref_site", None), "observability", None)
    numbers = set(getattr(site_obs, "rfcs", None) or {RFC: None})
    if any(pagename.startswith(f"{GENERATED}/spec/rfc{n}/") for n in numbers):
        app.add_js_file(DATA_FILE, priority=790)


def write_observability(app: Sphinx, exception: Exception | None) -> None:
    """``_static/sipref-observability.js``: per requirement its roles (or why it is not
    observable) and the cases that judge it, with their verdicts per stack."""
    if exception is not None or app.builder.format != "html":
        return
    from annotate.sphinxext.observability import DATA_FILE, data_script

    site = getattr(app, "sipref_site", None)
    site_obs = getattr(site, "observability", None)
    if site_obs is None:
        return
    path = Path(app.outdir) / "_static" / DATA_FILE
    text = data_script(site_obs, getattr(site, "runs", []))
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _copybutton_path(app: Sphinx, config: Any) -> None:
    """Put sphinx-copybutton's static folder in ``html_static_path`` before the saved
    environment is compared with this configuration (copybutton adds it later, at
    ``builder-inited``): an unchanged site is then not rebuilt as "configuration changed"."""
    if "sphinx_copybutton" not in config.extensions:
        return
    import sphinx_copybutton

    folder = str(Path(sphinx_copybutton.__file__).parent.joinpath("_static").absolute())
    if folder not in config.html_static_path:
        config.html_static_path.append(folder)


def _theme_options_early(app: Sphinx, config: Any) -> None:
    """Load the furo theme's setup now, not when the builder loads the theme: it registers
    ``pygments_dark_style``, and the saved environment's configuration (which has it) is
    compared with this one in between -- every rerun was a full "configuration changed"
    rebuild.  (Furo refuses to be listed in ``extensions``; this loads it by name.)"""
    if getattr(config, "html_theme", None) == "furo" and "furo" not in app.extensions:
        app.setup_extension("furo")


def _dedupe_static_path(app: Sphinx) -> None:
    """Drop the second copy of copybutton's folder (its own ``builder-inited`` handler)."""
    paths = app.config.html_static_path
    paths[:] = list(dict.fromkeys(paths))


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("sipref_root", "", "env", [str])
    app.add_config_value("sipref_data_dir", "", "env", [str])
    app.add_config_value("sipref_roots", ("rfc3261", "extensions", "conformance"), "env")
    app.add_directive("sipref-page", SiprefPage)
    app.connect("config-inited", _copybutton_path)
    app.connect("config-inited", _theme_options_early)
    app.connect("builder-inited", _dedupe_static_path, priority=900)
    app.connect("builder-inited", _build_site)
    app.connect("doctree-read", prune_spec_toc, priority=900)
    app.connect("doctree-resolved", resolve_links)
    app.connect("html-page-context", collapse_navigation, priority=400)
    app.connect("build-finished", write_pcaps)
    app.connect("build-finished", write_observability)
    app.connect("html-page-context", spec_page_data)
    return {
        "version": "1",
        "parallel_read_safe": True,
        "parallel_write_safe": True,
        "env_version": 1,
    }
