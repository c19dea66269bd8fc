#!/usr/bin/env bash
# Create .venv with a Python >= 3.12 and install heterofem with its pinned stack.
#
# Python is looked for on PATH first (python3.12, python3.13, python3, python), then among
# pyenv's versions ($PYENV_ROOT or ~/.pyenv). The install is skipped when pyproject.toml,
# constraints.txt and the interpreter are unchanged since the last one (stamp in .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

is_ok() { "$1" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }

find_python() {
    local c p
    for c in python3.12 python3.13 python3 python; do
        p=$(command -v "$c" 2>/dev/null) || continue
        if is_ok "$p"; then echo "$p"; return 0; fi
    done
    local root=${PYENV_ROOT:-$HOME/.pyenv}
    # 3.12 first (the version the device machines and containers use), then newer ones
    for p in $(ls -d "$root"/versions/3.12*/bin/python3 2>/dev/null | sort -V -r) \
             $(ls -d "$root"/versions/3.*/bin/python3 2>/dev/null | sort -V -r); do
        if is_ok "$p"; then echo "$p"; return 0; fi
    done
    return 1
}

if [ ! -x "$VENV/bin/python" ]; then
    if ! PY=$(find_python); then
        cat >&2 <<'MSG'
error: heterofem needs Python >= 3.12 and none was found (looked on PATH for python3.12,
python3.13, python3, python, then in $PYENV_ROOT/versions or ~/.pyenv/versions).
Fix: install Python 3.12 (e.g. `pyenv install 3.12`, or your system's python3.12 package with
its venv module), or run heterofem in its container (see containers/ and the README).
MSG
        exit 1
    fi
    echo "bootstrap: creating $VENV with $PY ($("$PY" -V 2>&1))"
    "$PY" -m venv "$VENV"
fi

# a plain `import dolfinx` works in the venv: the wheel's MPI is loaded first, on first import
# of dolfinx/petsc4py/mpi4py (scripts/dolfinx_first.py; nothing is imported at start-up)
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if ! cmp -s scripts/dolfinx_first.py "$site/_heterofem_dolfinx_first.py"; then
    cp scripts/dolfinx_first.py "$site/_heterofem_dolfinx_first.py"
    echo "import _heterofem_dolfinx_first" > "$site/heterofem-dolfinx-first.pth"
fi

stamp="$VENV/.heterofem-install-stamp"
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)-$("$VENV/bin/python" -V 2>&1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
echo "bootstrap: installing heterofem and its pinned stack into $VENV (about 30 s)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -c constraints.txt -e ".[test]" 2> >(grep -v "^WARNING: Location" >&2)
echo "$want" > "$stamp"
echo "bootstrap: done"
