#!/usr/bin/env python3
"""Check that containers/environment.yml (conda) is in step with constraints.txt (pip).

Every conda package of environment.yml that has a pip counterpart in constraints.txt must be
pinned to a prefix of the pip version ("pyvista=0.49" for "pyvista==0.49.1"), and every
runtime package of the pinned stack must appear. Standard library only (no YAML parser: the
file's dependency lines are "  - name=version[=build]").
    python3 containers/check_pins.py [--root REPO]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

# conda name -> pip name (where they differ)
CONDA_TO_PIP = {"fenics-dolfinx": "dolfinx-solver-real", "python-gmsh": "gmsh",
                "tomli-w": "tomli-w", "pint": "pint"}
# conda-only packages (no pip pin to follow)
CONDA_ONLY = {"python", "pip", "petsc", "petsc4py", "c-compiler"}
# pip packages that must have a conda line
REQUIRED = {"dolfinx-solver-real", "fenics-basix", "fenics-ffcx", "fenics-ufl", "mpich",
            "mpi4py", "gmsh", "meshio", "pyvista", "numpy", "pydantic", "click", "tomli-w",
            "pint", "matplotlib", "rich", "pillow", "imageio-ffmpeg", "pytest", "scipy"}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    root = p.parse_args().root
    pins = {}
    for line in (root / "constraints.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)", line)
        if m:
            pins[norm(m[1])] = m[2]
    problems, seen = [], set()
    for line in (root / "containers" / "environment.yml").read_text().splitlines():
        m = re.match(r"^\s+-\s+([A-Za-z0-9_.\-]+)(?:=([^=\s#]+))?", line)
        if not m or line.strip().startswith("- conda-forge") or line.strip() == "- nodefaults":
            continue
        name, version = norm(m[1]), m[2]
        if name in CONDA_ONLY or name in ("conda-forge", "nodefaults"):
            continue
        pip_name = norm(CONDA_TO_PIP.get(name, name))
        seen.add(pip_name)
        if pip_name not in pins:
            problems.append(f"{m[1]}: not in constraints.txt")
        elif not version:
            problems.append(f"{m[1]}: no version (constraints.txt has {pins[pip_name]})")
        elif not (pins[pip_name] == version or pins[pip_name].startswith(version + ".")):
            problems.append(f"{m[1]}={version}: constraints.txt has {pip_name}=={pins[pip_name]}")
    for name in sorted(REQUIRED - seen):
        problems.append(f"{name}: pinned in constraints.txt but missing from environment.yml")
    if problems:
        print("check_pins: environment.yml is out of step with constraints.txt:")
        print("\n".join("  " + s for s in problems))
        return 1
    print(f"check_pins: environment.yml in step with constraints.txt ({len(seen)} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
