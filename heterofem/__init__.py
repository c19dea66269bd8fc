"""heterofem: finite elements for oxide heterostructures (DOLFINx, PETSc, MPI).

The Python API (see README.md, "Python API")::

    import heterofem

    sim = heterofem.Simulation.from_toml("problems/tio2_vo2_tio2_001_1d.toml",
                                         set={"layers.1.thickness_nm": 3.0})
    sim.run(out="results/thin")
    sim.summary["converged"]          # summary.json as a dict
    sim.fields["phi_V"]               # the final fields (a pyvista grid)
    model = sim.build()               # in memory: mesh, Domain, physics, CoupledProblem

The subpackages hold the layers below: :mod:`heterofem.solver` (config, physics, coupling,
runs, CLI; the API itself is :mod:`heterofem.solver.simulation`, beside the CLI and the sweep
that use it, so that no subpackage imports this package: no import cycle), :mod:`heterofem.meshes`
(Gmsh stacks), :mod:`heterofem.postprocess` (reading and drawing run directories).

Importing this package is cheap: it loads neither DOLFINx nor pyvista. ``Simulation``,
``Model`` and ``ConfigError`` are imported on first use (PEP 562 module ``__getattr__``).
"""

from __future__ import annotations

import pkgutil

# The subpackages live in other folders of the repository (solver/, meshes/, postprocess/; see
# pyproject.toml). Installed from a wheel they sit beside this file; when the source tree is
# also on sys.path (pytest run from the repository root against an installed package), this
# folder shadows the installed one, so the installed ``heterofem/`` is added to the search path.
__path__ = pkgutil.extend_path(__path__, __name__)

__all__ = ["ConfigError", "Model", "Simulation"]

_LAZY = {
    "Simulation": "heterofem.solver.simulation",
    "Model": "heterofem.solver.simulation",
    "ConfigError": "heterofem.solver.config",
}


def __getattr__(name: str):
    """Import the public names on first use (keeps ``import heterofem`` free of DOLFINx)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'heterofem' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
