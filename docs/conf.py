"""Sphinx configuration of the heterofem documentation (``make docs``; offline, HTML in
docs/_build/html). Markdown pages through myst-parser; the config reference, the JSON schema
for editors and the gallery are generated from the code at build time (docs/_ext), the CLI
reference by sphinx-click, the Python API by autodoc."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

project = "heterofem"
author = "the heterofem authors"
copyright = "2026, the heterofem authors (MIT licence)"
extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx_click",
    "heterofem_docs",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "gallery/README.md", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
html_theme = "alabaster"
html_static_path: list[str] = []
html_theme_options = {"description": "finite elements for oxide heterostructures",
                      "page_width": "1100px", "sidebar_width": "230px"}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False}
nitpicky = False
# the repository's Markdown pages link to source files (../solver/...), which are not pages
suppress_warnings = ["myst.xref_missing"]
