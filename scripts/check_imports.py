"""The import contracts of heterofem (issue #21): run import-linter on the package's layout.

The repository maps its top-level folders into the ``heterofem`` package (pyproject.toml:
``solver/`` -> ``heterofem.solver``, ``meshes/``, ``postprocess/``; ``heterofem/`` holds the
package itself). import-linter (grimp) finds a package's modules by walking its directory, so
it cannot see a package assembled from several folders. This script copies the Python sources
into a temporary ``heterofem/`` tree with the installed layout and runs ``lint-imports`` there
with the contracts in ``.importlinter``. Exit status: import-linter's (0 when every contract is
kept).

    python scripts/check_imports.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: folder in the repository -> subpackage of heterofem ("" is the package itself)
LAYOUT = {"heterofem": "", "solver": "solver", "meshes": "meshes", "postprocess": "postprocess",
          "studies": "studies"}


def assemble(target: Path) -> Path:
    """Copy the sources into ``target/heterofem`` as they are installed; returns that path."""
    root = target / "heterofem"
    for folder, sub in LAYOUT.items():
        shutil.copytree(REPO / folder, root / sub, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.toml", "*.md",
                                                      "*.png", "*.csv", "examples"))
    return root


def main() -> int:
    lint = Path(sys.executable).with_name("lint-imports")
    with tempfile.TemporaryDirectory(prefix="heterofem-imports-") as tmp:
        assemble(Path(tmp))
        env = dict(os.environ, PYTHONPATH=tmp)
        cmd = [str(lint), "--config", str(REPO / ".importlinter"), "--no-cache"]
        return subprocess.run(cmd, cwd=tmp, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
