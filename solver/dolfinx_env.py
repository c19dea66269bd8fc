"""Import DOLFINx the way the PyPI wheel needs it.

The ``dolfinx-solver-real`` wheel must be imported before ``dolfinx``, ``petsc4py`` and
``mpi4py`` (it loads its MPI first). A conda or container DOLFINx has no such module, which is
fine. Every heterofem module that touches DOLFINx imports it through here.
"""

try:  # the PyPI wheel
    import dolfinx_solver  # noqa: F401
except ImportError:  # conda-forge / container DOLFINx
    pass

import dolfinx  # noqa: E402
import dolfinx.fem.petsc  # noqa: E402,F401
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

__all__ = ["MPI", "PETSc", "dolfinx"]
