"""Solver options change the path, not the answer: the coupled vacancy + Poisson transient with
a GMRES / field-split preconditioner (GAMG on phi, LU on mu, index sets named after the
unknowns) gives the same result as the default MUMPS LU, and the fast block assembly
(``solver.assembly``, solver/fast_assembly.py) the same matrices and answers as DOLFINx's
standard one; the fast path is gated on the DOLFINx release it was written for."""

from __future__ import annotations

import logging

import pytest

from conftest import assert_input_error, cli, flat_scalars, heterofem, read_summary
from heterofem.solver.config import Config
from heterofem.solver.dolfinx_env import MPI
from heterofem.solver.run import run_case

STACK = {
    "run": {"dimension": 2, "temperature_K": 423.15},
    "layers": [
        {"name": "template", "material": "VO2_R", "thickness_nm": 6.0, "delta": 0.002},
        {"name": "film", "material": "TiO2", "thickness_nm": 4.0, "delta": 0.03},
    ],
    "mesh": {"size_nm": 0.8, "interface_size_nm": 0.2, "width_nm": 4.0},
    "physics": {"vacancies": True, "electrons": "fermi-dirac"},
    "boundary": {"bottom": {"phi_V": 0.0}},
    "time": {"end_s": 30.0, "dt_initial_s": 0.01},
    "output": {"fields": False, "mesh": False},
}
FIELDSPLIT = {
    "ksp_type": "gmres", "ksp_rtol": 1e-12, "pc_type": "fieldsplit",
    "pc_fieldsplit_type": "multiplicative",
    "fieldsplit_phi_ksp_type": "preonly", "fieldsplit_phi_pc_type": "gamg",
    "fieldsplit_mu_ksp_type": "preonly", "fieldsplit_mu_pc_type": "lu",
}


#: fixed steps of 1 s for comparing solvers: Newton ends on the residual's round-off floor
#: (2-4e-12 here, against rtol x F0 ~ 1e-12), so whether a step takes 4 or 5 iterations flips
#: with round-off (seen under mpirun -n 2: 20 steps against 21), and the adaptive stepper
#: sizes dt by that count: the answers then differ by the time-stepping error (4e-5)
FIXED_STEPS = {"end_s": 12.0, "dt_initial_s": 1.0, "dt_max_s": 1.0, "target_newton": 50,
               "error_control": False}


def test_fieldsplit_matches_direct_solver(tmp_path):
    """The GMRES + field split (GAMG on phi, LU on mu) gives MUMPS's answer, step by step."""
    stack = {**STACK, "time": FIXED_STEPS}
    direct = run_case(Config.model_validate(stack), tmp_path / "lu", MPI.COMM_WORLD)
    split = run_case(Config.model_validate({**stack, "solver": {"petsc_options": FIELDSPLIT}}),
                     tmp_path / "fs", MPI.COMM_WORLD)
    a, b = flat_scalars(direct), flat_scalars(split)
    moved = direct["vacancies"]["oxygen_transferred_up_per_m2"]["template/film"]
    assert moved > 1e17  # the transient did something
    for key in a:
        if key.startswith("vacancies."):  # per-area counts (~1e17-1e19 m^-2)
            assert b[key] == pytest.approx(a[key], rel=1e-7, abs=1e-9 * moved), key
        elif key.startswith("electrostatics."):  # volts, C/m^2, J/m^2
            assert b[key] == pytest.approx(a[key], rel=1e-7, abs=1e-9), key


PICARD = {
    "ksp_type": "gmres", "ksp_rtol": 1e-12, "ksp_max_it": 400, "ksp_gmres_restart": 200,
    "pc_type": "fieldsplit", "pc_fieldsplit_type": "multiplicative",
    "fieldsplit_phi_ksp_type": "preonly", "fieldsplit_phi_pc_type": "gamg",
    "fieldsplit_mu_ksp_type": "preonly", "fieldsplit_mu_pc_type": "gamg",
}


@pytest.mark.parametrize("ksp_rtol,lag", [(1e-12, 1), (1e-4, 1), (1e-2, 2)])
def test_picard_preconditioner_matches_direct_solver(tmp_path, ksp_rtol, lag):
    """solver.preconditioner = "picard" (mobility frozen in the preconditioning matrix) with
    GAMG on both fields: Newton still uses the exact Jacobian, so the answer is MUMPS's; also
    as an inexact Newton method (linear solves to 1e-4, the benchmarks' "picard-inexact", and
    to 1e-2 with the preconditioner rebuilt every second Newton iteration, "picard-lagged"):
    the Newton tolerances, not the linear ones, decide the answer of a step. (Inexact solves
    change the Newton iteration counts, which the adaptive stepper sizes dt by, and so the
    step sequence: those cases run fixed steps of 1 s, as the benchmark does; target_newton
    is raised so that the extra iterations of the 1e-2 case do not shrink them.)
    (On this small mesh GAMG copes with the exact mu block too; on the 2D benchmark stack it
    does not, see benchmarks/README.md.)"""
    stack = dict(STACK)
    if ksp_rtol > 1e-8:  # fixed steps (target_newton: no cut for the extra iterations)
        stack["time"] = FIXED_STEPS
    direct = run_case(Config.model_validate(stack), tmp_path / "lu", MPI.COMM_WORLD)
    options = {**PICARD, "ksp_rtol": ksp_rtol, "snes_lag_preconditioner": lag}
    picard = run_case(Config.model_validate(
        {**stack, "solver": {"preconditioner": "picard", "petsc_options": options}}),
        tmp_path / "picard", MPI.COMM_WORLD)
    a, b = flat_scalars(direct), flat_scalars(picard)
    moved = direct["vacancies"]["oxygen_transferred_up_per_m2"]["template/film"]
    assert moved > 1e17
    for key in a:
        if key.startswith("vacancies."):
            assert b[key] == pytest.approx(a[key], rel=1e-7, abs=1e-9 * moved), key
        elif key.startswith("electrostatics."):
            assert b[key] == pytest.approx(a[key], rel=1e-7, abs=1e-9), key
    assert picard["time"]["steps"] == direct["time"]["steps"]


def test_picard_preconditioner_forms():
    """The Picard preconditioner differs from the Jacobian only in the mu-mu and mu-phi
    blocks (the phi rows are exact), keeps the off-diagonal blocks only for a Schur split,
    and is absent by default."""
    problem = _picard_problem()
    P = problem.preconditioner_forms()
    assert problem.names == ["phi", "mu"]
    # a multiplicative split reads only the diagonal blocks of the preconditioning matrix
    assert len(P) == 2 and P[0][0] is not None and P[1][1] is not None
    assert P[0][1] is None and P[1][0] is None
    cfg = problem.domain.cfg
    cfg.solver.petsc_options = {**PICARD, "pc_fieldsplit_type": "schur"}
    assert all(f is not None for f in problem.preconditioner_forms()[1])  # Schur reads them
    assert problem.picard_split() is None  # Schur reads the Picard off-diagonal blocks too
    cfg.solver.petsc_options = {"ksp_type": "gmres"}  # one preconditioner for both fields
    assert all(f is not None for f in problem.preconditioner_forms()[1])
    assert problem.picard_split() is None
    cfg.solver.preconditioner = "exact"
    assert problem.preconditioner_forms() is None
    assert problem.picard_split() is None


def _problem(config: dict):
    """The transient coupled problem of a config, its history at the initial state."""
    from conftest import build_model

    problem = build_model(Config.model_validate(config), transient=True).problem
    problem.history.shift(problem.u)
    return problem


def _picard_problem(extra_options: dict | None = None):
    return _problem({**STACK, "solver": {"preconditioner": "picard",
                                         "petsc_options": {**PICARD, **(extra_options or {})}}})


@pytest.mark.parametrize("lag", [1, 2])
def test_picard_split_matrices(lag):
    """With a diagonal field split the Jacobian and the preconditioning matrix are nests of
    blocks: the Jacobian's mu-mu block is the Picard block (assembled into the preconditioning
    matrix) copied and completed by the mobility's derivative, and the preconditioning
    matrix's phi block is a copy of the Jacobian's. The operator must still be the exact
    Jacobian, the preconditioning matrix exact in the phi block and the Picard block in the mu
    block. Checked
    at a perturbed state (grad mu != 0, where the two mu blocks differ), at Newton iterations
    0, 1, 2 (the first call lays out the blocks, later ones copy). With
    snes_lag_preconditioner = 2 PETSc reuses the preconditioner at iteration 1: the Jacobian's
    mu block is then assembled with the exact form and the preconditioning matrix left alone
    (its blocks zeroed here beforehand, they must stay zero), and rebuilt at iteration 2."""
    import numpy as np

    from heterofem.solver.dolfinx_env import dolfinx
    from dolfinx.fem.petsc import assemble_matrix, assign

    problem = _picard_problem({"snes_lag_preconditioner": lag} if lag > 1 else None)
    mu = problem.u["mu"]
    mu.x.array[:] += 0.05 * np.random.default_rng(1).standard_normal(mu.x.array.size)
    mu.x.scatter_forward()  # ghosts as their owners (each rank drew its own numbers)
    nl = problem.problem
    snes = nl.solver
    A, P = snes.getJacobian()[0], snes.getJacobian()[1]
    assert P is not None and P.handle != A.handle
    assign([problem.u[n] for n in problem.names], nl.x)
    bcs = [bc for n in problem.names for bc in problem.bcs[n]]
    exact = assemble_matrix(dolfinx.fem.form(problem.exact_jacobian()), bcs=bcs, kind="mpi")
    exact.assemble()
    forms = problem.preconditioner_forms()
    picard_mu = assemble_matrix(dolfinx.fem.form(forms[1][1]), bcs=problem.bcs["mu"])
    picard_mu.assemble()
    (_, is_phi), (_, is_mu) = problem.split_index_sets()

    def diff(M, N):
        D = M.copy()
        D.axpy(-1.0, N)
        return D.norm() / N.norm()

    phi, mu = problem.names.index("phi"), problem.names.index("mu")
    assert A.getType() == P.getType() == "nest"
    for i in (phi, mu):  # P's blocks are its own (a reused preconditioner keeps them)
        assert P.getNestSubMatrix(i, i).handle != A.getNestSubMatrix(i, i).handle
    for iteration in range(3):
        snes.setIterationNumber(iteration)
        reused = iteration % lag != 0
        if reused:
            for i in (phi, mu):
                P.getNestSubMatrix(i, i).zeroEntries()
        snes.getJacobian()[2][0](snes, nl.x, A, P)
        assert diff(A.convert("aij"), exact) < 1e-13  # the nest's rows: the blocked layout
        P_mu = P.getNestSubMatrix(mu, mu)
        if reused:
            assert P_mu.norm() == 0.0 and P.getNestSubMatrix(phi, phi).norm() == 0.0
            continue
        assert diff(P.getNestSubMatrix(phi, phi), exact.createSubMatrix(is_phi, is_phi)) < 1e-13
        assert diff(P_mu, picard_mu) < 1e-13
        assert diff(P_mu, exact.createSubMatrix(is_mu, is_mu)) > 1e-3


def test_petsc_options_apply_and_do_not_leak():
    """A problem's PETSc options reach its field split's sub-solvers (they read them when the
    preconditioner is set up, inside the solve) and are gone from PETSc's global database
    afterwards: options of one run (e.g. a lagged preconditioner) must not leak into the next
    run of the same process (a sweep, a test session)."""
    from heterofem.solver.dolfinx_env import PETSc

    problem = _picard_problem()
    problem.domain.cfg.solver.petsc_options = {**PICARD, "snes_lag_preconditioner": 2}
    assert problem.solve() > 0
    sub = problem.problem.solver.getKSP().getPC().getFieldSplitSubKSP()
    assert [k.getPC().getType() for k in sub] == ["gamg", "gamg"]
    assert not [k for k in PETSc.Options().getAll() if k.startswith("heterofem_")]


def test_gamg_smoothers_get_a_safe_eigenvalue_bound(tmp_path):
    """Every GAMG (a split's block, or the single-field potential solve) smooths with Chebyshev
    bounds (0.1, 1.2) x the estimated largest eigenvalue unless the options say otherwise:
    PETSc's 1.1 let the estimate fall short on the partitioned mu block (GMRES stalled at 500
    iterations in 6 of 15 steps on 2 ranks, benchmarks/scaling.py --solver picard)."""
    from heterofem.solver.coupling import GAMG_CHEBYSHEV_ESTEIG
    from heterofem.solver.dolfinx_env import PETSc

    problem = _picard_problem()
    cfg = problem.domain.cfg
    cfg.solver.petsc_options = dict(PICARD)
    opts = problem.petsc_options(cfg)
    for block in ("phi", "mu"):
        assert opts[f"fieldsplit_{block}_mg_levels_ksp_chebyshev_esteig"] == GAMG_CHEBYSHEV_ESTEIG
    assert problem.petsc_options(cfg, single_field=True)["mg_levels_ksp_chebyshev_esteig"] \
        == GAMG_CHEBYSHEV_ESTEIG
    assert "mg_levels_ksp_chebyshev_esteig" not in opts  # the split itself is no GAMG
    mine = {**PICARD, "fieldsplit_mu_mg_levels_ksp_chebyshev_esteig": "0,0.05,0,1.05"}
    cfg.solver.petsc_options = mine
    assert problem.petsc_options(cfg)["fieldsplit_mu_mg_levels_ksp_chebyshev_esteig"] \
        == "0,0.05,0,1.05"  # the user's choice stands
    # and it reaches PETSc's smoothers: the transform on a level of the mu block's GAMG
    cfg.solver.petsc_options = dict(PICARD)
    assert problem.solve() > 0
    mu_pc = problem.problem.solver.getKSP().getPC().getFieldSplitSubKSP()[1].getPC()
    smoother = mu_pc.getMGSmoother(mu_pc.getMGLevels() - 1)
    path = tmp_path / f"smoother{MPI.COMM_WORLD.rank}.txt"
    viewer = PETSc.Viewer().createASCII(str(path), comm=PETSc.COMM_SELF)
    smoother.view(viewer)
    viewer.destroy()
    text = path.read_text()
    assert "[0. 0.1; 0. 1.2]" in text, text


def test_blocked_jacobian_is_dolfinx_blocked_assembly():
    """The default (exact, MUMPS) Jacobian: on one rank its blocks go through DOLFINx CSR
    matrices into the PETSc matrix's values at precomputed positions (fast_assembly.BlockedCSR); it
    must equal DOLFINx's own blocked assembly entry by entry (same sparsity), at a perturbed
    state, and again after a second call (the blocks' values are overwritten, not added)."""
    import numpy as np

    from heterofem.solver.dolfinx_env import dolfinx
    from dolfinx.fem.petsc import assemble_matrix, assign

    problem = _problem(STACK)
    mu = problem.u["mu"]
    mu.x.array[:] += 0.05 * np.random.default_rng(2).standard_normal(mu.x.array.size)
    mu.x.scatter_forward()
    nl = problem.problem
    snes = nl.solver
    A, P, (jacobian, _, _) = snes.getJacobian()
    assign([problem.u[n] for n in problem.names], nl.x)
    bcs = [bc for n in problem.names for bc in problem.bcs[n]]
    exact = assemble_matrix(dolfinx.fem.form(problem.exact_jacobian()), bcs=bcs, kind="mpi")
    exact.assemble()
    for _ in range(2):
        jacobian(snes, nl.x, A, P)
        D = A.copy()
        D.axpy(-1.0, exact, structure=D.Structure.DIFFERENT_NONZERO_PATTERN)
        assert D.norm() <= 1e-14 * exact.norm()
        assert A.getInfo()["nz_used"] == exact.getInfo()["nz_used"]


# -- the fast block assembly against DOLFINx's standard one (solver.assembly) -------------------

#: a few fixed steps of 1 s (as FIXED_STEPS: the same step sequence on both paths)
SHORT_STEPS = {**FIXED_STEPS, "end_s": 6.0}
#: an older or newer DOLFINx than the fast assembly was written for, as the gate would see it
OTHER_DOLFINX = "0.12.0"


def _problem_pair(options: dict) -> dict:
    """The transient coupled problem of STACK with the solver ``options``, built twice on one
    mesh (same dofs): assembled the "fast" and the "standard" way, at the initial state."""
    from conftest import build_model

    pair, stack = {}, None
    for path in ("fast", "standard"):
        cfg = Config.model_validate({**STACK, "solver": {**options, "assembly": path}})
        model = build_model(cfg, stack=stack, transient=True)
        stack = model.stack
        pair[path] = model.problem
        pair[path].history.shift(pair[path].u)
        assert pair[path].assembly == path
    return pair


def _assembled(problem):
    """(Jacobian, preconditioning matrix or None, residual) through the problem's SNES
    callbacks at its current state (Newton iteration 0: the preconditioner is built)."""
    from dolfinx.fem.petsc import assign

    nl = problem.problem
    snes = nl.solver
    assign([problem.u[n] for n in problem.names], nl.x)
    snes.setIterationNumber(0)
    A, P, (jacobian, args, kwargs) = snes.getJacobian()
    jacobian(snes, nl.x, A, P, *(args or ()), **(kwargs or {}))
    b, (residual, args, kwargs) = snes.getFunction()
    residual(snes, nl.x, b, *(args or ()), **(kwargs or {}))
    return A, P, b


def _relative_difference(M, N) -> float:
    """||M - N|| / ||N|| (Frobenius) of two matrices of the blocked layout (a nest converted)."""
    M, N = (X.convert("aij") if X.getType() == "nest" else X for X in (M, N))
    D = M.copy()
    D.axpy(-1.0, N, structure=D.Structure.DIFFERENT_NONZERO_PATTERN)
    return D.norm() / N.norm()


@pytest.mark.parametrize("options", [{}, {"preconditioner": "picard", "petsc_options": PICARD}],
                         ids=["exact", "picard-split"])
def test_fast_and_standard_assembly_give_the_same_matrices(options):
    """At the same state (mu perturbed, so that grad mu != 0 and the Picard block differs from
    the exact one), the fast assembly's Jacobian, preconditioning matrix (the Picard split's
    nests) and residual equal DOLFINx's standard assembly entry by entry: first off the
    Dirichlet values (the residual's lifting), then on them (the fast path skips the
    lifting)."""
    import numpy as np

    pair = _problem_pair(options)
    fast, standard = pair["fast"], pair["standard"]
    mu = fast.u["mu"]
    mu.x.array[:] += 0.05 * np.random.default_rng(3).standard_normal(mu.x.array.size)
    mu.x.scatter_forward()
    for on_bcs in (False, True):
        if on_bcs:
            for bc in fast.bcs["mu"]:
                bc.set(mu.x.array)
        for name in fast.names:
            standard.u[name].x.array[:] = fast.u[name].x.array
        (A1, P1, b1), (A0, P0, b0) = _assembled(fast), _assembled(standard)
        assert _relative_difference(A1, A0) < 1e-12
        if options:  # a preconditioning matrix of its own
            assert P1.handle != A1.handle and P0.handle != A0.handle
            assert _relative_difference(P1, P0) < 1e-12
            assert _relative_difference(P1, A0) > 1e-3  # the Picard matrix, not the Jacobian
        d = b1.copy()
        d.axpy(-1.0, b0)
        assert d.norm() <= 1e-12 * b0.norm()


def _short_run(tmp_path, name: str, solver: dict) -> dict:
    stack = {**STACK, "time": SHORT_STEPS, "solver": solver}
    return run_case(Config.model_validate(stack), tmp_path / name, MPI.COMM_WORLD)


def _assert_same_answers(a: dict, b: dict, rel: float = 1e-9) -> None:
    """Two summaries of the STACK transient agree (vacancy counts, potentials), step by step."""
    moved = a["vacancies"]["oxygen_transferred_up_per_m2"]["template/film"]
    assert moved > 1e16  # the transient did something
    x, y = flat_scalars(a), flat_scalars(b)
    assert x.keys() == y.keys()
    for key in x:
        if key.startswith("vacancies."):  # per-area counts (~1e17-1e19 m^-2)
            assert y[key] == pytest.approx(x[key], rel=rel, abs=1e-12 * moved), key
        elif key.startswith("electrostatics."):  # volts, C/m^2, J/m^2
            assert y[key] == pytest.approx(x[key], rel=rel, abs=1e-12), key
    assert a["time"]["steps"] == b["time"]["steps"]


@pytest.mark.parametrize("options", [{}, {"preconditioner": "picard", "petsc_options": PICARD}],
                         ids=["exact", "picard-split"])
def test_fast_and_standard_assembly_give_the_same_answers(tmp_path, options):
    """A short transient assembled either way gives the same answers, and summary.json says
    which way it was assembled."""
    fast = _short_run(tmp_path, "fast", {**options, "assembly": "fast"})
    standard = _short_run(tmp_path, "standard", {**options, "assembly": "standard"})
    assert read_summary(tmp_path / "fast")["solver"]["assembly"] == "fast"
    assert read_summary(tmp_path / "standard")["solver"]["assembly"] == "standard"
    _assert_same_answers(fast, standard)


def test_fast_assembly_gate(monkeypatch):
    """The fast assembly runs only on the DOLFINx release it was written for, with the
    functions it calls present; "standard" never asks, and a single unknown (no blocks) is
    assembled by DOLFINx."""
    from heterofem.solver import fast_assembly
    from heterofem.solver.config import ConfigError
    from heterofem.solver.dolfinx_env import dolfinx

    assert fast_assembly.unsupported_reason() is None  # the pinned DOLFINx
    assert fast_assembly.select_assembly("auto") == fast_assembly.select_assembly("fast") == "fast"
    assert fast_assembly.select_assembly("auto", blocked=False) == "standard"
    with monkeypatch.context() as m:
        m.setattr(dolfinx, "__version__", OTHER_DOLFINX)
        assert OTHER_DOLFINX in fast_assembly.unsupported_reason()
        assert fast_assembly.select_assembly("standard") == "standard"
        with pytest.raises(ConfigError, match="solver.assembly"):
            fast_assembly.select_assembly("fast", blocked=False)
    with monkeypatch.context() as m:
        m.delattr(dolfinx.cpp.fem, "insert_diagonal")
        assert "dolfinx.cpp.fem.insert_diagonal" in fast_assembly.unsupported_reason()
        assert fast_assembly.assembly_problems("fast")[0][0] == "solver.assembly"
        assert fast_assembly.assembly_problems("auto") == []


def test_auto_assembly_falls_back_with_a_warning(tmp_path, monkeypatch, caplog):
    """``solver.assembly = "auto"`` (the default) on another DOLFINx release: the standard
    assembly, a warning that says why, and "standard" in summary.json."""
    from heterofem.solver.dolfinx_env import dolfinx

    monkeypatch.setattr(dolfinx, "__version__", OTHER_DOLFINX)
    logger = logging.getLogger("heterofem")
    isolated = not logger.propagate  # the CLI's logging set-up stops propagation to root
    if isolated:
        logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="heterofem"):
            summary = _short_run(tmp_path, "auto", {})
    finally:
        if isolated:
            logger.removeHandler(caplog.handler)
    assert summary["solver"]["assembly"] == "standard"
    assert read_summary(tmp_path / "auto")["solver"]["assembly"] == "standard"
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno == logging.WARNING and "solver.assembly" in r.getMessage()]
    assert len(warnings) == 1 and OTHER_DOLFINX in warnings[0], caplog.text


def test_fast_assembly_refused_on_another_dolfinx(tmp_path, monkeypatch):
    """``solver.assembly = "fast"`` on another DOLFINx release: ``heterofem run`` stops with
    exit 2 naming solver.assembly before anything is written (the preflight), and a
    CoupledProblem built without the preflight refuses too, before its initial solve."""
    import tomli_w

    from conftest import build_model
    from heterofem.solver.config import ConfigError
    from heterofem.solver.dolfinx_env import dolfinx

    data = {**STACK, "time": SHORT_STEPS, "solver": {"assembly": "fast"}}
    path = tmp_path / "fast.toml"
    path.write_text(tomli_w.dumps(data))
    monkeypatch.setattr(dolfinx, "__version__", OTHER_DOLFINX)
    out = tmp_path / "run"
    assert_input_error(cli("run", str(path), "--out", str(out)), "solver.assembly", out)
    model = build_model(Config.model_validate(data), transient=True)
    with pytest.raises(ConfigError, match="solver.assembly"):
        model.problem


@pytest.mark.mpi
def test_assembly_paths_agree_serial_and_on_two_ranks(tmp_path):
    """On two ranks the fast path assembles through PETSc matrices (and the Picard split's
    nests through PETSc blocks): fast and standard on two ranks agree with each other and
    with the serial fast run."""
    import tomli_w

    solver = {"preconditioner": "picard", "petsc_options": PICARD}
    runs = {}
    for name, np_, assembly in (("serial", None, "fast"), ("fast", 2, "fast"),
                                ("standard", 2, "standard")):
        path = tmp_path / f"{name}.toml"
        data = {**STACK, "time": SHORT_STEPS, "solver": {**solver, "assembly": assembly},
                "run": {**STACK["run"], "name": name}}
        path.write_text(tomli_w.dumps(data))
        heterofem("run", str(path), "--out", str(tmp_path / name), np=np_)
        runs[name] = read_summary(tmp_path / name)
        assert runs[name]["solver"]["assembly"] == assembly
    assert runs["fast"]["mpi_size"] == 2
    _assert_same_answers(runs["fast"], runs["standard"])
    _assert_same_answers(runs["serial"], runs["fast"])


# -- [solver] preconditioner = "auto" (issue #25 item 4) ---------------------------------------


def test_auto_keeps_mumps_for_small_problems_and_other_couplings():
    """The default ("auto") on a small vacancy + Poisson problem is MUMPS LU with exactly the
    options of "exact" (so the answers are unchanged); a large one gets the Picard split; any
    other set of unknowns, or a user's own ksp_/pc_ option, keeps "exact"."""
    from heterofem.solver.petsc_policy import (AUTO_SPLIT_MIN_DOFS, AUTO_SPLIT_OPTIONS,
                                               auto_preconditioner, solver_options)

    problem = _problem(STACK)
    cfg = problem.domain.cfg
    assert cfg.solver.preconditioner == "auto"
    assert problem.preconditioner_kind() == "exact"
    opts = problem.petsc_options(cfg)
    assert (opts["pc_type"], opts["pc_factor_mat_solver_type"]) == ("lu", "mumps")
    assert opts == solver_options(Config.model_validate(
        {**STACK, "solver": {"preconditioner": "exact"}}))
    assert problem.preconditioner_forms() is None
    big = AUTO_SPLIT_MIN_DOFS
    assert auto_preconditioner(cfg, ["phi", "mu"], big - 1) == "exact"
    assert auto_preconditioner(cfg, ["phi", "mu"], big) == "picard"
    split = solver_options(cfg, preconditioner="picard")
    assert all(split[k] == v for k, v in AUTO_SPLIT_OPTIONS.items())
    assert split["pc_fieldsplit_off_diag_use_amat"] is True
    for names in (["phi", "P", "u"], ["phi", "mu", "eta"], ["phi"]):
        assert auto_preconditioner(cfg, names, 10**7) == "exact", names
    own = Config.model_validate({**STACK, "solver": {"petsc_options": {"ksp_type": "cg"}}})
    assert auto_preconditioner(own, ["phi", "mu"], 10**7) == "exact"


def test_auto_picks_the_split_above_the_threshold_and_keeps_the_answer(tmp_path):
    """STACK widened to just above the threshold: "auto" solves with the Picard field split
    (GAMG, linear solves to 1e-2, preconditioner lagged by 2) and gives MUMPS's answer at
    Newton's tolerance, step by step (fixed steps, as the other inexact cases)."""
    import math

    from heterofem.meshes.structured import grid_shape
    from heterofem.solver.petsc_policy import AUTO_SPLIT_MIN_DOFS

    rows = grid_shape(Config.model_validate(STACK).stack_geometry())[-1]
    cols = math.ceil(AUTO_SPLIT_MIN_DOFS / (2 * (rows + 1)))  # 2 unknowns per vertex
    stack = {**STACK, "time": {**FIXED_STEPS, "end_s": 2.0},
             "mesh": {**STACK["mesh"], "width_nm": cols * STACK["mesh"]["size_nm"]}}
    problem = _problem(stack)
    dofs = sum(V.dofmap.index_map.size_global for V in problem.spaces.values())
    assert AUTO_SPLIT_MIN_DOFS <= dofs < 1.2 * AUTO_SPLIT_MIN_DOFS
    assert problem.preconditioner_kind() == "picard"
    assert problem.petsc_options(problem.domain.cfg)["pc_type"] == "fieldsplit"
    auto = run_case(Config.model_validate(stack), tmp_path / "auto", MPI.COMM_WORLD)
    direct = run_case(Config.model_validate({**stack, "solver": {"preconditioner": "exact"}}),
                      tmp_path / "lu", MPI.COMM_WORLD)
    a, b = flat_scalars(direct), flat_scalars(auto)
    moved = direct["vacancies"]["oxygen_transferred_up_per_m2"]["template/film"]
    assert moved > 1e16
    for key in a:
        if key.startswith("vacancies."):
            assert b[key] == pytest.approx(a[key], rel=1e-7, abs=1e-9 * moved), key
        elif key.startswith("electrostatics."):
            assert b[key] == pytest.approx(a[key], rel=1e-7, abs=1e-9), key
    assert auto["time"]["steps"] == direct["time"]["steps"]
