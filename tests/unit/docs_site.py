"""The documentation site built once per test session (``sphinx -W``, as ``make docs``), shared by
tests/unit/test_docs.py and tests/unit/test_docs_browser.py (``from docs_site import
built_site``), so the suite builds it once.

The build takes about 15 s; HETEROFEM_SKIP_DOCS=1 skips it (only that skips it: without Sphinx
installed it fails, naming the fix)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
_BUILT: dict[str, tuple[Path, float]] = {}


def built_site(tmp_path_factory) -> tuple[Path, float]:
    """(HTML output directory, build seconds) of the site, built on the first call."""
    if os.environ.get("HETEROFEM_SKIP_DOCS") == "1":
        pytest.skip("HETEROFEM_SKIP_DOCS=1")
    if "html" in _BUILT:
        return _BUILT["html"]
    try:
        import myst_parser  # noqa: F401
        import sphinx  # noqa: F401
        import sphinx_click  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"the docs extra is not installed ({exc}): pip install -c constraints.txt "
                    "-e '.[docs]' (make docs does it), or set HETEROFEM_SKIP_DOCS=1")
    out = tmp_path_factory.mktemp("docs") / "html"
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b",
                           "html", str(DOCS), str(out)], capture_output=True, text=True,
                          timeout=300, cwd=REPO)
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, f"sphinx -W failed:\n{proc.stdout}\n{proc.stderr}"
    _BUILT["html"] = (out, seconds)
    return out, seconds
