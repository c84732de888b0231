"""Sphinx configuration of the sipref site (``make docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

project = "sipref"
author = "the sipref authors"
copyright = "the sipref authors, Apache-2.0"

extensions = [
    "sphinx.ext.githubpages",
    "sphinx_copybutton",
    "annotate.sphinxext",
]

exclude_patterns = ["_build", "_data", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []
root_doc = "index"

html_theme = "furo"
html_title = "sipref"
html_static_path = ["_static"]
# in the form Sphinx stores them (with the default priority): the configuration saved with
# the environment equals this one, and a rerun does not report "configuration has changed"
html_css_files = [("sipref.css", {"priority": 800})]
html_js_files = [("sipref.js", {"priority": 800})]
html_favicon = "_static/favicon.svg"
# section titles, header and timer names before full-text hits (docs/search_scorer.js)
html_search_scorer = str(ROOT / "docs" / "search_scorer.js")  # Sphinx opens it as given
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": True,
    "top_of_page_buttons": [],
}
# accessible-pygments (a furo dependency): readable contrast in both themes
pygments_style = "github-light"
pygments_dark_style = "github-dark"

copybutton_exclude = ".linenos, .gp"

# annotate.sphinxext: what to scan and where the data files are (defaults shown).
sipref_root = str(ROOT)
sipref_data_dir = str(ROOT / "docs" / "_data")
sipref_roots = ("rfc3261", "extensions", "conformance")
