"""Redraw the gallery's pictures (docs/gallery/<problem>.png): run each problem of problems/
that finishes in a few minutes on 2 cores, as it is, and save its headline figure at a small
size; the tutorial's picture too (docs/tutorial_headline.png, from the stack in
docs/tutorial.md). The pictures are committed; the docs build does not run anything.

    .venv/bin/python docs/gallery/make_gallery.py [PROBLEM_STEM ...]
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1]
REPO = DOCS.parent
#: problems that take minutes or more are left out (the gallery says so)
SLOW = {"ruo2_tio2_110_island_2d", "tio2_vo2_tio2_001_growth_2d_island"}


def draw(config: Path, target: Path, work: Path) -> None:
    from heterofem.postprocess.headline import plot_headline

    out = work / config.stem
    subprocess.run([sys.executable, "-m", "heterofem.solver.cli", "--log-level", "warning", "run",
                    str(config), "--out", str(out), "--overwrite"], check=True, timeout=1800)
    plot_headline(out, target, dpi=110)
    print(f"wrote {target}")


def tutorial_config(work: Path) -> Path:
    text = (DOCS / "tutorial.md").read_text()
    block = re.search(r"```toml\n(.*?)```", text, re.S).group(1)
    path = work / "my_stack.toml"
    path.write_text(block)
    return path


def main(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for config in sorted((REPO / "problems").glob("*.toml")):
            if (names and config.stem not in names) or (not names and config.stem in SLOW):
                continue
            draw(config, DOCS / "gallery" / f"{config.stem}.png", work)
        if not names or "tutorial" in names:
            draw(tutorial_config(work), DOCS / "tutorial_headline.png", work)


if __name__ == "__main__":
    main(sys.argv[1:])
