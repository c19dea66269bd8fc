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
from dataclasses import dataclass

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


#: ``[solver] preconditioner = "auto"`` (the default): the coupled vacancy + Poisson problem
#: (unknowns phi and mu) from this many unknowns gets the Picard field split with GAMG on both
#: fields, linear solves to 1e-2 and the preconditioner rebuilt every second Newton iteration
#: (benchmarks/README.md's "picard-lagged", :data:`AUTO_SPLIT_OPTIONS`); below it, and for
#: every other coupling, MUMPS LU. Measured (benchmarks/solver_crossover.py, 2D benchmark
#: step, one process, the machine shared; results/solver_crossover.md): time per step split /
#: MUMPS 1.54 and 0.88 (two runs) at 2070 unknowns, 1.06 at 5112, 0.80 at 12882, 0.33 at
#: 95790, the same Newton iterations (+1 at 2070). Below 1e4 the two are within this
#: machine's noise of each other and MUMPS (a direct solve, no Krylov tolerance) stays; from
#: 1e4 the split won in every run (vacancy_poisson.md, quiet machine: 0.79 at 12882, 0.60 at
#: 95790, 0.55 at 1.02e6 with 1656 against 3190 MiB). The other couplings: :data:`AUTO_SPLITS`.
AUTO_SPLIT_MIN_DOFS = 10_000
#: the unknowns "auto" knows a split for (the vacancy + Poisson problem)
AUTO_SPLIT_FIELDS = ("mu", "phi")
AUTO_SPLIT_OPTIONS = {
    "ksp_type": "gmres", "ksp_rtol": 1e-2, "ksp_max_it": 500, "ksp_gmres_restart": 30,
    "pc_type": "fieldsplit", "pc_fieldsplit_type": "multiplicative",
    "fieldsplit_phi_ksp_type": "preonly", "fieldsplit_phi_pc_type": "gamg",
    "fieldsplit_mu_ksp_type": "preonly", "fieldsplit_mu_pc_type": "gamg",
    "snes_lag_preconditioner": 2,
}


#: the field split on the EXACT Jacobian with a block per unknown (GAMG on each), for the
#: couplings without a Picard matrix (benchmarks/solver_crossover_combos.py "split"): the
#: ``fieldsplit_<unknown>_*`` keys are added per unknown by :func:`auto_split_options`.
#: GMRES to 1e-4 (chosen from the measurement, polarization + strain + Poisson: with 1e-2 the
#: split took 6 Newton iterations per step against MUMPS's 3-4, with 1e-4 it took 4 and less
#: time per step than with 1e-2 at each size; results/solver_crossover_combos.md)
COMBO_SPLIT_OPTIONS = {
    "ksp_type": "gmres", "ksp_rtol": 1e-4, "ksp_max_it": 500, "ksp_gmres_restart": 30,
    "pc_type": "fieldsplit", "pc_fieldsplit_type": "multiplicative",
}


#: ``physics.vacancy_flux = "fitted"`` (solver/fitted_flux.py): its exact Jacobian's mu block
#: is an M-matrix, so "auto" gives the same size range the field split on the EXACT Jacobian
#: ("split": no Picard matrix, no lagged rebuild), with GAMG for a nonsymmetric M-matrix on mu
#: (plain aggregation, SOR smoothing: tests/verification/test_fitted_flux.py, where the
#: default smoothed aggregation with Chebyshev smoothing did not converge)
FITTED_SPLIT_OPTIONS = {
    **{k: v for k, v in AUTO_SPLIT_OPTIONS.items() if k != "snes_lag_preconditioner"},
    "fieldsplit_mu_pc_gamg_agg_nsmooths": 0,
    "fieldsplit_mu_mg_levels_ksp_type": "richardson", "fieldsplit_mu_mg_levels_pc_type": "sor",
}


@dataclass(frozen=True)
class AutoSplit:
    """One row of :data:`AUTO_SPLITS`: what ``preconditioner = "auto"`` gives a coupling."""

    #: from this many unknowns in all the split replaces MUMPS; None: MUMPS at every size
    min_dofs: int | None
    #: "picard" (the Picard matrix, lagged) or "split" (the exact Jacobian)
    kind: str
    #: the options without the per-unknown blocks (:func:`auto_split_options` adds
    #: ``fieldsplit_<unknown>_ksp_type = "preonly"``, ``..._pc_type = "gamg"`` for each)
    options: dict
    #: the measurement the row comes from
    measured: str


#: ``[solver] preconditioner = "auto"`` per coupling, keyed by the set of unknowns: a coupling
#: not in the table, or a row with ``min_dofs = None``, keeps MUMPS LU at every size.
#: Measurements: one step, one process, 2 shared cores, best of 2 (ratios split / MUMPS of
#: the time per step).
AUTO_SPLITS: dict[frozenset, AutoSplit] = {
    frozenset(AUTO_SPLIT_FIELDS): AutoSplit(
        AUTO_SPLIT_MIN_DOFS, "picard", AUTO_SPLIT_OPTIONS,
        "benchmarks/results/solver_crossover.md (see AUTO_SPLIT_MIN_DOFS)"),
    # crystallization + vacancies + Poisson: the vacancy + Poisson split (Picard mu block,
    # lagged by 2, GMRES to 1e-2) with a third GAMG block for xi. Measured
    # (results/solver_crossover_combos.md, problems/tio2_vo2_tio2_001_growth_2d_island.toml,
    # one 1 s step): split / MUMPS 1.13 at 5898 unknowns, 0.70 at 21462, 0.84 at 42474, 0.73
    # at 81870, 0.81 at 156450, Newton iterations +1 (9-10 against 8-10). The split on the
    # exact Jacobian (no Picard matrix) failed at every size (GMRES diverged or the line
    # search failed). Threshold: the smallest size measured from which the split won every time.
    frozenset({"phi", "mu", "xi"}): AutoSplit(
        20_000, "picard", AUTO_SPLIT_OPTIONS,
        "benchmarks/results/solver_crossover_combos.md, crystal"),
    # polarization + strain + Poisson: no Picard matrix; the split on the exact Jacobian
    # (COMBO_SPLIT_OPTIONS, GAMG per unknown, vector blocks with their block size) converges
    # (4 Newton iterations against MUMPS's 3-4, 30-47 GMRES iterations each) but did not beat
    # MUMPS (problems/ruo2_tio2_110_island_2d.toml, first pseudo-time step): split / MUMPS
    # 1.11 at 10745 unknowns, 0.97 at 27085, 1.13 at 57940, 1.27 at 100645, 1.28 at 183675
    # (the largest measured): MUMPS at every size.
    frozenset({"phi", "P", "u"}): AutoSplit(
        None, "split", COMBO_SPLIT_OPTIONS,
        "benchmarks/results/solver_crossover_combos.md, polar: MUMPS up to 183675 unknowns"),
}


def auto_split(names: list[str]) -> AutoSplit | None:
    """The :data:`AUTO_SPLITS` row of a problem with unknowns ``names`` (None: not measured)."""
    return AUTO_SPLITS.get(frozenset(names))


def auto_split_options(names: list[str]) -> dict:
    """The options of the coupling's split (:data:`AUTO_SPLITS`) with a GAMG block per
    unknown (those the row's options do not set already)."""
    row = auto_split(names)
    opts = dict(row.options) if row else {}
    for name in sorted(names):
        opts.setdefault(f"fieldsplit_{name}_ksp_type", "preonly")
        opts.setdefault(f"fieldsplit_{name}_pc_type", "gamg")
    return opts


def auto_preconditioner(cfg: Config, names: list[str], dofs: int) -> str:
    """The preconditioner a problem with unknowns ``names`` and ``dofs`` unknowns in all gets:
    ``[solver] preconditioner`` when it is "exact" or "picard"; for "auto", the coupling's
    row of :data:`AUTO_SPLITS` ("picard" or "split") from its ``min_dofs`` unknowns, unless
    [solver.petsc_options] chooses a Krylov method or preconditioner itself (then the user's
    options rule, as "exact"), else "exact". With the fitted vacancy flux the vacancy +
    Poisson problem gets "split" instead of "picard": the same split on the exact Jacobian
    (:data:`FITTED_SPLIT_OPTIONS`); other couplings with the fitted flux were not measured
    and keep "exact"."""
    chosen = cfg.solver.preconditioner
    if chosen != "auto":
        return chosen
    own = any(k.startswith(("ksp_", "pc_", "fieldsplit_")) for k in cfg.solver.petsc_options)
    row = auto_split(names)
    if own or row is None or row.min_dofs is None or dofs < row.min_dofs:
        return "exact"
    if cfg.physics.vacancy_flux == "fitted" and "mu" in names:
        return "split" if frozenset(names) == frozenset(AUTO_SPLIT_FIELDS) else "exact"
    return row.kind


def solver_options(cfg: Config, single_field: bool = False,
                   preconditioner: str | None = None, names: list[str] | None = None) -> dict:
    """SNES/KSP options: defaults, then [solver.petsc_options].

    ``preconditioner``: the one :func:`auto_preconditioner` chose for the problem (default:
    ``[solver] preconditioner``, "auto" counting as "exact"); "picard" or "split" chosen by
    "auto" adds the split of the coupling with unknowns ``names`` (default: vacancy +
    Poisson; :func:`auto_split_options`) before [solver.petsc_options]. A field split (``pc_type =
    "fieldsplit"`` with ``fieldsplit_<unknown>_*`` options) is for the coupled problem; the
    single-field solves (initial and reference potentials) then use GAMG instead.
    """
    chosen = cfg.solver.preconditioner
    if preconditioner is None:
        preconditioner = "exact" if chosen == "auto" else chosen
    opts = dict(DEFAULT_PETSC_OPTIONS)
    opts.update(
        snes_rtol=cfg.solver.rtol, snes_atol=cfg.solver.atol, snes_max_it=cfg.solver.max_it
    )
    fitted = frozenset(names or AUTO_SPLIT_FIELDS) == frozenset(AUTO_SPLIT_FIELDS) \
        and cfg.physics.vacancy_flux == "fitted"
    if chosen == "auto" and preconditioner == "split" and fitted:  # the exact Jacobian, split
        opts.update(FITTED_SPLIT_OPTIONS)
    elif chosen == "auto" and preconditioner in ("picard", "split"):
        opts.update(auto_split_options(list(names or AUTO_SPLIT_FIELDS)))
    opts.update(cfg.solver.petsc_options)
    if opts.get("pc_type") != "lu" and "pc_factor_mat_solver_type" not in cfg.solver.petsc_options:
        opts.pop("pc_factor_mat_solver_type", None)  # only the default LU uses it
    if preconditioner == "picard" and diagonal_split(opts):
        # the Picard matrix has no off-diagonal blocks (picard.preconditioner_forms): the
        # split's coupling terms come from the exact Jacobian (fewer Krylov iterations,
        # measured)
        opts.setdefault("pc_fieldsplit_off_diag_use_amat", True)
    if single_field and opts.get("pc_type") == "fieldsplit":
        opts = {k: v for k, v in opts.items()
                if not k.startswith(("pc_fieldsplit", "fieldsplit_"))}
        opts["pc_type"] = "gamg"
    for key, value in list(opts.items()):  # the PC itself or a split's block
        smoother = opts.get(key[: -len("pc_type")] + "mg_levels_ksp_type", "chebyshev")
        if key.endswith("pc_type") and value == "gamg" and smoother == "chebyshev":
            opts.setdefault(key[: -len("pc_type")] + "mg_levels_ksp_chebyshev_esteig",
                            GAMG_CHEBYSHEV_ESTEIG)
    return opts


def direct_fallback(opts: dict) -> dict | None:
    """The options ``opts`` with the linear solve replaced by MUMPS's LU (the default), or None
    when they are a direct solve already: what a single-field potential solve retries with
    after its iterative solve failed (solver/coupling.py). The split's inexact-Newton Krylov
    tolerance (1e-2, preconditioned norm) can give the potential's Newton a direction the
    backtracking line search finds no decrease along (a graded 1D mesh with 7.8e-4 nm
    interface cells: DIVERGED_LINE_SEARCH after one iteration), and GAMG does not solve
    every potential to a tight tolerance (DIVERGED_LINEAR_SOLVE on the crystallization test
    stack at 1e-6): one direct solve is the robust answer, and it costs only where it is
    needed."""
    if opts.get("pc_type") == "lu" and opts.get("ksp_type") == "preonly":
        return None
    kept = {k: v for k, v in opts.items() if not k.startswith(("ksp_", "pc_", "mg_"))}
    return {**kept, **{k: v for k, v in DEFAULT_PETSC_OPTIONS.items()
                       if k.startswith(("ksp_", "pc_"))}}


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
