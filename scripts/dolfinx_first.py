"""A plain ``import dolfinx`` in heterofem's venv (installed by scripts/bootstrap.sh as
``_heterofem_dolfinx_first.py`` with a ``.pth`` file that imports it at start-up).

The ``dolfinx-solver-real`` wheel must be imported before ``dolfinx``, ``petsc4py`` and
``mpi4py``: it loads the MPI library its bindings link to (otherwise: "ImportError:
libmpi.so.12"). This finder imports it the first time any of those is imported, and does
nothing else: nothing is imported at start-up, and MPI starts only when a script asks for it.
"""

import importlib.abc
import sys

_FIRST = ("dolfinx", "petsc4py", "slepc4py", "mpi4py")


class _DolfinxWheelFirst(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if path is None and name in _FIRST:
            sys.meta_path[:] = [f for f in sys.meta_path if f is not self]
            try:
                import dolfinx_solver  # noqa: F401
            except ImportError:  # no wheel (conda or container DOLFINx): nothing to do
                pass
        return None  # the ordinary finders import the module itself


if not any(type(f).__name__ == "_DolfinxWheelFirst" for f in sys.meta_path):
    sys.meta_path.insert(0, _DolfinxWheelFirst())
