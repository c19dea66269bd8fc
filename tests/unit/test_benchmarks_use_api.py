"""The benchmarks build their models through the Python API (issue #21, item 2):
``heterofem.Simulation`` (``from_toml``/``from_dict``/``from_config``, ``build()``, ``run()``),
not by hand from config -> mesh -> Domain -> physics -> CoupledProblem. A benchmark that
builds the stack by hand again fails here, naming the file, the line and the call."""

from __future__ import annotations

import ast

from conftest import REPO

#: the calls that assemble the stack by hand; heterofem.Simulation / Model make each of them
HAND_BUILT = {"Domain", "CoupledProblem", "create_stack_mesh", "active_physics"}


def _called_name(node: ast.Call) -> str | None:
    """``f`` for a call ``f(...)`` or ``something.f(...)``."""
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def test_benchmarks_build_models_through_the_api():
    scripts = sorted((REPO / "benchmarks").glob("*.py"))
    assert scripts, "no benchmark scripts found"
    found = []
    for path in scripts:
        tree = ast.parse(path.read_text(), filename=str(path))  # calls only: docstrings may name them
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called_name(node) in HAND_BUILT:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {_called_name(node)}(...)")
    assert not found, ("benchmarks build the stack by hand; use heterofem.Simulation "
                       "(from_config(cfg).build(), model.stack/.domain/.modules/.problem):\n"
                       + "\n".join(found))
