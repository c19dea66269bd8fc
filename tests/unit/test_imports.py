"""The import contracts of issue #21 (.importlinter), checked with import-linter: meshes import
nothing of solver, postprocess neither solver nor DOLFINx, the physics modules do not import
each other, and no package has import cycles. A new import that breaks a layer fails here."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_import_contracts_are_kept():
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "check_imports.py")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "BROKEN" not in proc.stdout
    assert "4 kept, 0 broken" in proc.stdout


#: the layout rule of issue #21: modules stay readable
MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 80


def test_modules_and_functions_stay_small():
    """No module of solver/, meshes/, postprocess/ over 600 lines; no function over 80 lines
    unless its docstring gives the reason (it says "long:")."""
    import ast

    problems = []
    for folder in ("solver", "meshes", "postprocess", "heterofem"):
        for path in sorted((REPO / folder).rglob("*.py")):
            text = path.read_text()
            rel = path.relative_to(REPO)
            if text.count("\n") > MAX_FILE_LINES:
                problems.append(f"{rel}: {text.count(chr(10))} lines")
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    length = node.end_lineno - node.lineno + 1
                    doc = ast.get_docstring(node) or ""
                    if length > MAX_FUNCTION_LINES and "long:" not in doc:
                        problems.append(f"{rel}:{node.lineno} {node.name}: {length} lines")
    assert not problems, "\n".join(problems)
