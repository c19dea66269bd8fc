"""The built documentation looks right in a browser (issue #24 item 6): the index and the gallery
page rendered by headless Chromium (Debian's /usr/bin/chromium driven by Playwright; never a
downloaded browser) are screenshotted (1280x2000 PNG) and checked: the page is not blank (grey
level spread, share of non-white pixels), every <img> is shown (naturalWidth > 0), the
browser logs no error and loads every resource, internal links (and their #anchors) resolve,
and each gallery picture on screen is the headline figure it should be (the element's pixels
correlate with the picture's file). Copies of the gallery page with a broken image, another
picture in its place, an empty body and dead links show that each check fails when it should.

Reuses the session's docs build (tests/unit/docs_site.py). Needs Chromium: without it the tests
skip, naming `apt-get install -y chromium`; with HETEROFEM_REQUIRE_BROWSER=1 (set by .ci/run,
which installs it) they fail instead. HETEROFEM_CHROMIUM names another Chromium binary;
HETEROFEM_SCREENSHOTS=DIR keeps the two screenshots. About 8 s beyond the build."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from docs_site import built_site
from PIL import Image

VIEWPORT = {"width": 1280, "height": 2000}
#: how Chromium starts here (as root, on a closed network: without the background-networking
#: flags it waits for the network)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
TIMEOUT_MS = 30_000
REQUIRE = os.environ.get("HETEROFEM_REQUIRE_BROWSER") == "1"


def _keep(shot: Path) -> None:
    """Copy a screenshot into $HETEROFEM_SCREENSHOTS (if set), e.g. for a CI artifact."""
    if os.environ.get("HETEROFEM_SCREENSHOTS"):
        keep = Path(os.environ["HETEROFEM_SCREENSHOTS"])
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, keep / shot.name)


def _missing(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"{reason} (HETEROFEM_REQUIRE_BROWSER=1: the browser check must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return built_site(tmp_path_factory)[0]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A Chromium context (fresh profile directory) with the 1280x2000 viewport."""
    exe = os.environ.get("HETEROFEM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(exe, os.X_OK):
        _missing(f"Chromium is not installed ({exe}): apt-get install -y chromium (Debian's "
                 "package; .ci/run installs it), or HETEROFEM_CHROMIUM=/path/to/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed: pip install -c constraints.txt -e '.[test]' "
                 "(make venv does it)")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=exe,
            headless=True, args=CHROMIUM_ARGS, viewport=VIEWPORT, timeout=TIMEOUT_MS)
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()


def blank_problems(png: Path) -> list[str]:
    """A screenshot that is (nearly) one colour, or nearly all white, is a blank page."""
    grey = np.asarray(Image.open(png).convert("L"), dtype=float)
    inked = float(np.mean(grey < 200))
    problems = []
    if grey.std() < 15.0:
        problems.append(f"blank page: grey level spread {grey.std():.1f} < 15")
    if inked < 0.01:
        problems.append(f"blank page: {inked:.2%} of the pixels are not white (< 1 %)")
    return problems


def link_problems(page_file: Path, hrefs: list[str]) -> list[str]:
    """Relative links whose file, or whose #anchor in it, does not exist."""
    problems, texts = [], {}
    for href in hrefs:
        if re.match(r"^[a-z]+:", href) or href in ("", "#"):
            continue  # http(s), mailto, javascript: not the site's own
        path, _, anchor = href.partition("#")
        target = (page_file.parent / path.split("?")[0]).resolve() if path else page_file
        if not target.is_file():
            problems.append(f"dead link {href}: no {target.name}")
            continue
        if anchor and target.suffix == ".html":
            text = texts.setdefault(target, target.read_text(errors="replace"))
            if f'id="{anchor}"' not in text:
                problems.append(f"dead link {href}: no #{anchor} in {target.name}")
    return problems


def render_and_check(context, page_file: Path, shot: Path) -> tuple[list[str], list[dict], Any]:
    """Render ``page_file``, screenshot it into ``shot``; (problems found, its images,
    the open page: the caller closes it)."""
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"script error: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"not loaded: {r.url}"))
    page.goto(page_file.as_uri(), wait_until="load")
    images = page.eval_on_selector_all(
        "img", "els => els.map(e => ({src: e.getAttribute('src'), width: e.naturalWidth}))")
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    page.screenshot(path=str(shot))
    problems = list(errors)
    problems += [f"image not shown: {im['src']}" for im in images if not im["width"]]
    problems += link_problems(page_file, hrefs)
    problems += blank_problems(shot)
    return problems, images, page


def figure_match(page, index: int, source: Path, shot: Path, size: int = 48) -> float:
    """Correlation of the ``index``-th <img> as drawn on screen with its picture file, both in
    RGB, averaged over blocks (``size`` px wide) so that resampling does not count (1: the
    figure is shown; near 0: something else is)."""
    page.locator("img").nth(index).screenshot(path=str(shot))
    shown = Image.open(shot).convert("RGB")
    box = (size, max(1, round(size * shown.height / shown.width)))
    want = Image.open(source).convert("RGBA")
    flat = Image.new("RGBA", want.size, "white")
    flat.alpha_composite(want)
    a = np.asarray(shown.resize(box, Image.BOX), dtype=float).ravel()
    b = np.asarray(flat.convert("RGB").resize(box, Image.BOX), dtype=float).ravel()
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def test_index_page_renders(browser, site, tmp_path):
    problems, images, page = render_and_check(browser, site / "index.html",
                                              tmp_path / "index.png")
    page.close()
    _keep(tmp_path / "index.png")
    assert not problems, problems
    assert images, "the index shows the demo's headline figure"
    assert Image.open(tmp_path / "index.png").size == (1280, 2000)


def test_gallery_page_shows_its_headline_figures(browser, site, tmp_path):
    problems, images, page = render_and_check(browser, site / "gallery.html",
                                              tmp_path / "gallery.png")
    _keep(tmp_path / "gallery.png")
    assert not problems, problems
    assert len(images) >= 5, images
    scores = {}
    for i, im in enumerate(images):
        scores[im["src"]] = figure_match(page, i, site / im["src"], tmp_path / f"img{i}.png")
    page.close()
    assert all(s > 0.95 for s in scores.values()), scores  # 0.99 or more here


@pytest.fixture
def broken_site(browser, site, tmp_path) -> Path:
    copy = tmp_path / "html"
    shutil.copytree(site, copy, ignore=shutil.ignore_patterns(".doctrees"))
    return copy


def test_the_checks_catch_a_broken_gallery_page(broken_site, browser, tmp_path):
    """Each defect, planted alone in a copy of the built gallery page, is reported."""
    html = (broken_site / "gallery.html").read_text()
    srcs = re.findall(r'<img[^>]*src="(_images/[^"]+)"', html)
    src, other = srcs[0], srcs[-1]
    cases = {
        "image": html.replace(f'src="{src}"', 'src="_images/no_such_figure.png"', 1),
        "swapped": html.replace(f'src="{src}"', f'src="{other}"', 1),
        "blank": re.sub(r"<body[^>]*>.*</body>", "<body></body>", html, flags=re.S),
        "link": html.replace("</body>", '<a href="tutorial.html#no-such-section">x</a>'
                             '<a href="no_such_page.html">y</a></body>'),
    }
    found = {}
    for name, text in cases.items():
        page_file = broken_site / f"gallery_{name}.html"
        page_file.write_text(text)
        problems, images, page = render_and_check(browser, page_file, tmp_path / f"{name}.png")
        if name in ("image", "swapped"):  # the first picture is not the one it should be
            first = figure_match(page, 0, broken_site / src, tmp_path / f"{name}_img0.png")
            assert first < 0.9, (name, first)  # 0.26 (broken), -0.12 (swapped) here
        page.close()
        found[name] = problems
    assert any("image not shown: _images/no_such_figure.png" in p for p in found["image"])
    assert any("no_such_figure.png" in p and p.startswith("not loaded") for p in found["image"])
    assert any(p.startswith("blank page") for p in found["blank"]), found["blank"]
    assert not any(p.startswith("blank page") for p in found["link"] + found["image"])
    assert not found["swapped"], found["swapped"]  # only the figure comparison sees it
    assert "dead link no_such_page.html: no no_such_page.html" in found["link"]
    assert "dead link tutorial.html#no-such-section: no #no-such-section in tutorial.html" \
        in found["link"]
