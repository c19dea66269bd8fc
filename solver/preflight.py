"""Every check that can run before the solve, in one pass (``heterofem run`` and ``validate``).

The config schema and its cross-checks run in :func:`heterofem.solver.validation.load_config`.
What needs more than the config's own values runs here, after it: the mesh's size budget
(the cell count estimated from the config, :mod:`heterofem.meshes`) and the PETSc options
(types, values, unused and file-writing options). Each check returns ``(dotted key, message)``
pairs; :func:`preflight` raises one :class:`ConfigError` listing them all, before anything is
meshed or written.
"""

from __future__ import annotations

from heterofem.solver.config import Config, ConfigError


def mesh_problems(cfg: Config) -> list[tuple[str, str]]:
    """Mesh sizes that cannot give the cells they ask for, cell counts over the budget, and a
    ``mesh.file`` that is not a genuine Gmsh MSH file
    (:func:`heterofem.meshes.budget.size_problems`)."""
    from heterofem.meshes.budget import size_problems

    return size_problems(cfg.stack_geometry())


def petsc_problems(cfg: Config, allow_output: bool = False) -> list[tuple[str, str]]:
    """PETSc options with unknown types, unparsable values, that PETSc never reads, or that
    write files (unless ``allow_output``): :mod:`heterofem.solver.petsc_check` (a trial solve
    on a coarse mesh, only when the config has PETSc options)."""
    if not cfg.solver.petsc_options:
        return []
    from heterofem.solver.petsc_check import petsc_option_problems

    return petsc_option_problems(cfg, allow_output)


def assembly_problems(cfg: Config) -> list[tuple[str, str]]:
    """``solver.assembly = "fast"`` where this DOLFINx lacks the fast block assembly
    (:func:`heterofem.solver.fast_assembly.assembly_problems`)."""
    from heterofem.solver.fast_assembly import assembly_problems as problems

    return problems(cfg.solver.assembly)


def preflight(cfg: Config, allow_petsc_output: bool = False, petsc: bool = True) -> None:
    """Raise :class:`ConfigError` with every problem the checks above find (collective-safe:
    every rank computes the same answer from the same config). ``petsc=False`` skips the
    PETSc options (``heterofem mesh`` solves nothing)."""
    problems = mesh_problems(cfg)
    if petsc:
        problems += assembly_problems(cfg) + petsc_problems(cfg, allow_output=allow_petsc_output)
    if problems:
        raise ConfigError(problems)
