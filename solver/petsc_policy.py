"""The PETSc option policy of the coupled solve: which SNES/KSP/PC options a problem gets, and
how they reach PETSc's global options database without leaking into later problems.

The options come from the defaults here, the Newton tolerances of ``[solver]`` and
``[solver.petsc_options]`` (which override the defaults), plus a few derived defaults that the
measurements in benchmarks/README.md justify (GAMG's Chebyshev bounds, the Picard split's
off-diagonal blocks from the operator). :class:`heterofem.solver.coupling.CoupledProblem`
asks :func:`solver_options` for them and solves inside :func:`petsc_options_set`.
"""

from __future__ import annotations

import contextlib

from heterofem.solver.config import Config
from heterofem.solver.dolfinx_env import PETSc

#: SNES/KSP defaults: Newton with backtracking, LU (MUMPS) for the linear steps. Anything in
#: [solver.petsc_options] overrides these; PETSc command-line options under the prefix add
#: options not set here (e.g. -heterofem_snes_monitor), they cannot override these keys.
DEFAULT_PETSC_OPTIONS = {
    "snes_type": "newtonls",
    "snes_linesearch_type": "bt",
    "ksp_type": "preonly",
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
}

#: options prefix of the coupled solve (the single-field potential solves append theirs)
PREFIX = "heterofem_"

#: Chebyshev smoother bounds of every GAMG preconditioner, unless the options set them:
#: (min, max) = (0.1, 1.2) x the largest eigenvalue estimated by PETSc (its default is 1.1).
#: The estimate (a few Krylov iterations per level) comes out low on some levels of the
#: mu block's Picard matrix (mobility varying over decades) when it is partitioned: the
#: smoother then amplifies the highest modes. Measured (benchmarks/scaling.py --solver picard,
#: 86194 dofs, 2 ranks): GMRES hit 500 iterations in 6 of 15 steps with 1.1; none with 1.2,
#: and 10 steps, 44 Newton iterations on 1 and on 2 ranks alike.
GAMG_CHEBYSHEV_ESTEIG = "0,0.1,0,1.2"

#: Called with {option key: whether PETSc read it} as each :func:`petsc_options_set` block
#: ends, before the options are removed (the preflight's trial solve, solver/petsc_check.py,
#: finds the options PETSc never read).
OPTION_USE_OBSERVERS: list = []


def solver_options(cfg: Config, single_field: bool = False) -> dict:
    """SNES/KSP options: defaults, then [solver.petsc_options].

    A field split (``pc_type = "fieldsplit"`` with ``fieldsplit_<unknown>_*`` options) is
    for the coupled problem; the single-field solves (initial and reference potentials)
    then use GAMG instead.
    """
    opts = dict(DEFAULT_PETSC_OPTIONS)
    opts.update(
        snes_rtol=cfg.solver.rtol, snes_atol=cfg.solver.atol, snes_max_it=cfg.solver.max_it
    )
    opts.update(cfg.solver.petsc_options)
    if opts.get("pc_type") != "lu" and "pc_factor_mat_solver_type" not in cfg.solver.petsc_options:
        opts.pop("pc_factor_mat_solver_type", None)  # only the default LU uses it
    if cfg.solver.preconditioner == "picard" and diagonal_split(opts):
        # the Picard matrix has no off-diagonal blocks (picard.preconditioner_forms): the
        # split's coupling terms come from the exact Jacobian (fewer Krylov iterations,
        # measured)
        opts.setdefault("pc_fieldsplit_off_diag_use_amat", True)
    if single_field and opts.get("pc_type") == "fieldsplit":
        opts = {k: v for k, v in opts.items()
                if not k.startswith(("pc_fieldsplit", "fieldsplit_"))}
        opts["pc_type"] = "gamg"
    for key, value in list(opts.items()):  # the PC itself or a split's block
        if key.endswith("pc_type") and value == "gamg":
            opts.setdefault(key[: -len("pc_type")] + "mg_levels_ksp_chebyshev_esteig",
                            GAMG_CHEBYSHEV_ESTEIG)
    return opts


def diagonal_split(opts: dict) -> bool:
    """Whether the options ask for a field split that reads only the diagonal blocks of the
    preconditioning matrix (additive or (symmetric) multiplicative: they take their residual
    updates from the operator, PETSc's Afield rows of Amat)."""
    return opts.get("pc_type") == "fieldsplit" and opts.get("pc_fieldsplit_type") != "schur"


def preconditioner_lag(opts: dict) -> int:
    """``snes_lag_preconditioner`` of the options when it is a plain lag (> 1), else 1 (the
    preconditioner is rebuilt at every Jacobian: -1, -2, a lag that persists across solves and
    options we cannot read count as 1; a wrong 1 only costs the unneeded matrix)."""
    persists = str(opts.get("snes_lag_preconditioner_persists", "false")).lower()
    if persists not in ("false", "0", "no"):
        return 1
    try:
        lag = int(opts.get("snes_lag_preconditioner", 1))
    except (TypeError, ValueError):
        return 1
    return lag if lag > 1 else 1


@contextlib.contextmanager
def petsc_options_set(prefix: str, options: dict):
    """``options`` in PETSc's global options database under ``prefix`` while the block runs,
    removed afterwards.

    DOLFINx 0.11's NonlinearProblem sets its options and means to delete them after
    ``setFromOptions``, but petsc4py's ``del`` ignores the pushed prefix: they stayed, and every
    later problem with the same prefix in the process inherited them (a lagged preconditioner
    set for one run made a later MUMPS run of a test session inexact). A field split's
    sub-solvers read their options only when the preconditioner is set up, inside the solve:
    so the solve runs inside this block too."""
    db = PETSc.Options()
    names = [f"{prefix}{key}" for key in options]
    for name, value in zip(names, options.values()):
        db[name] = value
    try:
        yield
    finally:
        for observe in OPTION_USE_OBSERVERS:
            observe({key: db.used(name) for key, name in zip(options, names)})
        for name in names:
            db.delValue(name)
