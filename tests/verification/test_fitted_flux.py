"""The exponentially fitted vacancy flux (solver/fitted_flux.py, physics.vacancy_flux = "fitted";
issue #26 item 2, docs/model.md "Exponentially fitted flux").

(a) The edge form of the P1 stiffness equals the cell form (1D/2D/3D, anisotropic D), and the
    Bernoulli function is right in its Taylor, moderate and overflowing ranges.
(b) The mu block of the exact Jacobian with the fitted flux (transient, lumped mass), on the
    structured stack with a strong field (0.1 V/nm: 2 phi/kT changes by 5-11 per cell), is an
    M-matrix in 1D/2D/3D, site exclusion and dilute: off-diagonals <= 0, diagonals > 0 and
    column sums >= 0, to round-off of the neighbouring entries; the closed-form cell-average
    flux's is not (positive off-diagonals of 0.35-0.6 of the row's largest entry, negative
    diagonals: the convection-like dM/dmu grad mu of the issue).
(c) Concentrations: c = N sigma(s) > 0 by construction in the mu formulation (no scheme can
    make them negative); the discrete maximum principle that the fitted flux adds is that of
    the Newton step (an M-matrix has a non-negative inverse), which (b) establishes.
(d) Fitted and cell-average fluxes converge to the same transferred amount on the 1D stack.
(e) Conservation to 1e-10 in a transient with the fitted flux.
(f) GMRES + GAMG on the fitted exact Jacobian's mu block: iterations bounded under refinement
    in 2D and 3D; on the cell-average flux's, GAMG returns a wrong answer. preconditioner =
    "auto" picks that split on the exact Jacobian for fitted runs; mpirun -n 2 == serial.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import ufl
from scipy.sparse import csr_matrix

from heterofem.solver import fitted_flux
from heterofem.solver.config import Config
from heterofem.solver.dolfinx_env import MPI, PETSc, dolfinx
from heterofem.solver.run import run_case

import dolfinx.fem.petsc  # noqa: E402

STACK = {
    "run": {"name": "tio2_vo2", "dimension": 1, "temperature_K": 423.15},
    "layers": [
        {"name": "substrate", "material": "TiO2", "thickness_nm": 10.0, "delta": 1e-5},
        {"name": "template", "material": "VO2_R", "thickness_nm": 12.0, "delta": 0.002,
         "orientation": "110"},
        {"name": "film", "material": "TiO2", "thickness_nm": 6.0, "delta": 0.03},
    ],
    "mesh": {"size_nm": 0.25, "interface_size_nm": 0.05},
    "physics": {"vacancies": True, "electrons": "none"},
    "boundary": {"bottom": {"phi_V": 0.0}},
    "time": {"end_s": 10.0, "dt_initial_s": 0.01, "output_times_s": []},
    "output": {"fields": False},
}


def _unit_mesh(dim: int):
    if dim == 1:
        return dolfinx.mesh.create_unit_interval(MPI.COMM_SELF, 7)
    if dim == 2:
        return dolfinx.mesh.create_unit_square(MPI.COMM_SELF, 4, 3)
    return dolfinx.mesh.create_unit_cube(MPI.COMM_SELF, 2, 3, 2)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_edge_form_is_the_p1_stiffness(dim):
    mesh = _unit_mesh(dim)
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    rng = np.random.default_rng(1)
    a = rng.standard_normal((dim, dim))
    D = ufl.as_matrix((a @ a.T + dim * np.eye(dim)).tolist())  # full anisotropic tensor
    f = dolfinx.fem.Function(V)
    f.x.array[:] = rng.standard_normal(f.x.array.size)
    vals = [f + d for d in fitted_flux.vertex_differences(f, mesh)]
    one_point = ufl.dx(domain=mesh, metadata={"quadrature_degree": 1})
    F = fitted_flux.edge_form(D, mesh, lambda i, j: vals[i] - vals[j], v, one_point)
    edge = dolfinx.fem.assemble_matrix(dolfinx.fem.form(ufl.derivative(F, f, u))).to_dense()
    cell = dolfinx.fem.assemble_matrix(dolfinx.fem.form(
        ufl.inner(ufl.dot(D, ufl.grad(u)), ufl.grad(v)) * ufl.dx)).to_dense()
    np.testing.assert_allclose(edge, cell, rtol=0, atol=1e-13 * np.abs(cell).max())


def test_bernoulli():
    mesh = dolfinx.mesh.create_unit_interval(MPI.COMM_SELF, 1)
    x = np.array([-800.0, -40.0, -1.0, -2e-3, -1e-7, 0.0, 1e-7, 5e-4, 2e-3, 1.0, 40.0, 800.0])
    c = dolfinx.fem.Constant(mesh, 0.0)
    form = dolfinx.fem.form(fitted_flux.bernoulli(c) * ufl.dx(domain=mesh))
    got = []
    for value in x:
        c.value = value
        got.append(dolfinx.fem.assemble_scalar(form))
    with np.errstate(over="ignore"):
        ref = np.where(x == 0, 1.0, x / np.expm1(np.where(x == 0, 1.0, x)))
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-300)


def _config(dim: int, flux: str, size: float = 2.0, **physics) -> Config:
    data = copy.deepcopy(STACK)
    data["run"]["dimension"] = dim
    data["physics"].update(vacancy_flux=flux, **physics)
    data["mesh"] = {"size_nm": size, "interface_size_nm": size / 2, "width_nm": 2 * size,
                    "depth_nm": 2 * size}
    if flux == "exact" and dim == 3:  # tetrahedra: quadrature; a low degree keeps it quick
        data["physics"]["transport_quadrature_degree"] = 4
    return Config.model_validate(data)


def _mu_block(cfg: Config, field_V_per_nm: float = 0.1, dt: float = 1.0):
    """The mu rows' exact Jacobian w.r.t. mu (transient, BDF1 with scaled step ``dt``) at the
    initial state plus a strong field phi = E z and a wave in mu (None: the initial state as
    it is), restricted to the active dofs (scipy CSR)."""
    from conftest import build_model

    problem = build_model(cfg, transient=True).problem
    problem.set_initial_state()
    problem.history.dt.value = dt
    u, dim = problem.u, cfg.run.dimension
    if field_V_per_nm is not None:
        mu0 = u["mu"].x.array.copy()
        u["phi"].interpolate(lambda x: field_V_per_nm * x[dim - 1])
        u["mu"].interpolate(lambda x: 0.05 * np.sin(x[dim - 1]))
        u["mu"].x.array[:] += mu0
    form = dolfinx.fem.form(ufl.derivative(problem.residual["mu"], u["mu"]))
    J = dolfinx.fem.petsc.assemble_matrix(form, bcs=problem.bcs["mu"])
    J.assemble()
    indptr, indices, data = J.getValuesCSR()
    A = csr_matrix((data, indices, indptr))
    fixed = np.concatenate([bc.dof_indices()[0] for bc in problem.bcs["mu"]])
    active = np.setdiff1d(np.arange(A.shape[0]), fixed)
    return A[active][:, active]


def _m_matrix_defect(A: np.ndarray) -> dict[str, float]:
    """The M-matrix defects of A, each relative to the local scale L_i of its node: the
    largest |entry| in the rows of i and of its neighbours. Local, because the concentration
    (and with it the entries) spans 1e-150..1 across a strongly biased stack; over the
    neighbours, because a vertex value's derivative with respect to a third vertex's dof is
    round-off (~1e-17, fitted_flux.vertex_differences) times that neighbour's entries, which
    at a node 1e16 emptier than its neighbour outweighs the node's own entries. Returned:
    max A_ij / max(L_i, L_j) over off-diagonals, max -A_ii / L_i, max -(column sum) / L_j."""
    pattern = A != 0
    row = np.abs(A).max(axis=1)
    local = np.array([row[pattern[i]].max() for i in range(A.shape[0])])
    off = A - np.diag(np.diag(A))
    pair = np.maximum.outer(local, local)
    return {"off_diagonal": float((off / pair).max()),
            "diagonal": float(-(np.diag(A) / local).min()),
            "column_sum": float(-(A.sum(axis=0) / local).min())}


@pytest.mark.parametrize("dim,statistics", [(1, "site-exclusion"), (2, "site-exclusion"),
                                            (3, "site-exclusion"), (2, "dilute")])
def test_fitted_jacobian_is_an_m_matrix(dim, statistics):
    law = {"vacancy_statistics": statistics}
    fitted = _m_matrix_defect(_mu_block(_config(dim, "fitted", **law)).toarray())
    current = _m_matrix_defect(_mu_block(_config(dim, "exact", **law)).toarray())
    print(f"{dim}D {statistics} M-matrix defects: fitted {fitted}, cell average {current}")
    assert max(fitted.values()) <= 1e-12
    assert current["off_diagonal"] > 1e-2  # why the issue exists


#: GAMG for a nonsymmetric M-matrix: plain aggregation and SOR smoothing (the default smoothed
#: aggregation with Chebyshev smoothing failed on both fluxes' Jacobians: 200 iterations)
GAMG_M_MATRIX = {"pc_type": "gamg", "pc_gamg_agg_nsmooths": 0,
                 "mg_levels_ksp_type": "richardson", "mg_levels_pc_type": "sor"}


@pytest.mark.parametrize("dim", [1, 2])
def test_jacobian_matches_finite_differences(dim):
    """The transient mu rows (flux and lumped time term) at the initial state: J w equals the
    central difference of the residual along w, for w in mu and in phi. (It caught FFCx 0.11
    assembling a wrong residual when a "vertex"-rule integral shares a kernel with a
    one-point rule, which the lumped mass first used: fitted_flux.lumped_ddt.)"""
    from conftest import build_model

    problem = build_model(_config(dim, "fitted", 1.0), transient=True).problem
    problem.set_initial_state()
    problem.history.dt.value = 0.01
    u, F = problem.u, problem.residual["mu"]
    for name in u:
        problem.history.old[name].x.array[:] = u[name].x.array
        problem.history.older[name].x.array[:] = u[name].x.array
    rng = np.random.default_rng(5)
    for name in ("mu", "phi"):
        J = dolfinx.fem.petsc.assemble_matrix(dolfinx.fem.form(ufl.derivative(F, u[name])))
        J.assemble()
        w, Jw = J.createVecRight(), J.createVecLeft()
        w.array[:] = 1e-3 * rng.standard_normal(w.array.size)
        J.mult(w, Jw)
        base, eps, values = u[name].x.array.copy(), 1e-4, []
        for sign in (1.0, -1.0):
            u[name].x.array[:] = base + sign * eps * w.array
            values.append(dolfinx.fem.petsc.assemble_vector(dolfinx.fem.form(F)).array.copy())
        u[name].x.array[:] = base
        fd = (values[0] - values[1]) / (2 * eps)
        np.testing.assert_allclose(Jw.array, fd, rtol=0, atol=1e-6 * np.abs(fd).max())


def _gamg_solve(A: csr_matrix, prefix: str) -> tuple[int, float]:
    """GMRES + GAMG (:data:`GAMG_M_MATRIX`) on A x = A x_true, x_true random O(1) (a Newton
    update of ~kT): (iterations to rtol 1e-8, max |x - x_true|). The error, not the residual:
    the rows span ~1e-100..1, and a residual norm says nothing about the small rows."""
    M = PETSc.Mat().createAIJ(size=A.shape, csr=(A.indptr, A.indices, A.data),
                              comm=MPI.COMM_SELF)
    opts = PETSc.Options()
    for key, value in GAMG_M_MATRIX.items():
        opts[prefix + key] = value
    ksp = PETSc.KSP().create(MPI.COMM_SELF)
    ksp.setOptionsPrefix(prefix)
    ksp.setOperators(M)
    ksp.setType("gmres")
    ksp.setTolerances(rtol=1e-8, max_it=200)
    ksp.setFromOptions()
    x_true, b = M.createVecs()
    x_true.array[:] = np.random.default_rng(0).standard_normal(A.shape[0])
    M.mult(x_true, b)
    x = M.createVecRight()
    ksp.solve(b, x)
    for key in GAMG_M_MATRIX:
        opts.delValue(prefix + key)
    return ksp.getIterationNumber(), float(np.abs(x.array - x_true.array).max())


def _flat(dim: int, flux: str, size: float) -> Config:
    data = _config(dim, flux, size).model_dump()
    data["mesh"].update(width_nm=8.0, depth_nm=8.0)  # several cells laterally at every size
    return Config.model_validate(data)


@pytest.mark.parametrize("dim,sizes", [(2, (0.5, 0.25)), (3, (2.0, 1.0))])
def test_gamg_on_the_exact_jacobian(dim, sizes):
    """The initial state (its interface fields), a long step (dt = 100 t_ref: the flux
    dominates the mass): GAMG solves the fitted Jacobian's mu block, in a number of
    iterations that stays bounded as the mesh is refined; on the cell-average flux's Jacobian
    it returns an answer that is off by more than the update itself."""
    runs = [_gamg_solve(_mu_block(_flat(dim, "fitted", h), None, dt=100.0), f"fit{dim}{k}_")
            for k, h in enumerate(sizes)]
    print(f"{dim}D fitted, GMRES+GAMG (iterations, max error) at h = {sizes}: {runs}")
    assert all(err < 1e-3 for _, err in runs)
    assert runs[-1][0] <= 2 * runs[0][0] + 5 and max(its for its, _ in runs) <= 60
    if dim == 2:
        its, err = _gamg_solve(_mu_block(_flat(dim, "exact", sizes[0]), None, dt=1.0), "cell_")
        print(f"{dim}D cell average, h = {sizes[0]}: {its} iterations, max error {err:.1e}")
        assert err > 1.0


def _moved(tmp_path, flux: str, size: float, label: str, end_s: float = 10.0,
           fixed_steps: bool = False, **solver):
    data = copy.deepcopy(STACK)
    data["time"]["end_s"] = end_s
    if fixed_steps:  # the same step sequence for every run: only the space error differs
        data["time"].update(dt_initial_s=0.05, dt_max_s=0.05, error_control=False)
    data["physics"]["vacancy_flux"] = flux
    data["mesh"] = {"size_nm": size, "interface_size_nm": size / 5}
    data["solver"] = solver
    summary = run_case(Config.model_validate(data), tmp_path / label, MPI.COMM_WORLD)
    return summary["vacancies"]


def test_fitted_and_cell_average_converge_together(tmp_path):
    sizes = (1.0, 0.5, 0.25)
    moved = {flux: [] for flux in ("fitted", "exact")}
    for flux in moved:
        for h in sizes:
            vac = _moved(tmp_path, flux, h, f"{flux}_{h}", end_s=2.0, fixed_steps=True)
            moved[flux].append(vac["oxygen_transferred_up_per_m2"]["template/film"])
    f, e = np.array(moved["fitted"]), np.array(moved["exact"])
    gap = np.abs(f - e) / np.abs(e)
    orders = {k: float(np.log2(abs(v[0] - v[1]) / abs(v[1] - v[2]))) for k, v in
              (("fitted", f), ("exact", e))}
    print(f"moved at h = {sizes}: fitted {f}, cell average {e}; relative gap {gap}; "
          f"observed orders {orders}")
    assert gap[-1] < 0.5 * gap[0] and gap[-1] < 2e-2
    assert all(o > 0.5 for o in orders.values())


def test_fitted_conserves(tmp_path):
    vac = _moved(tmp_path, "fitted", 0.5, "conserve", rtol=1e-12, atol=1e-16)
    n0 = sum(vac["initial_inventory_per_m2"].values())
    assert vac["total_inventory_per_m2"] == pytest.approx(n0, rel=1e-10)
    assert vac["oxygen_transferred_up_per_m2"]["template/film"] > 0.05 * vac[
        "initial_inventory_per_m2"]["film"]


def test_fitted_needs_p1(tmp_path):
    import tomli_w

    from conftest import assert_input_error, cli

    data = copy.deepcopy(STACK)
    data["physics"].update(vacancy_flux="fitted", element_degree=2)
    path = tmp_path / "p2.toml"
    path.write_text(tomli_w.dumps(data))
    assert_input_error(cli("run", str(path), "--out", str(tmp_path / "out")),
                       "physics.vacancy_flux")
    data["physics"].update(vacancy_flux="fited", element_degree=1)
    path.write_text(tomli_w.dumps(data))
    assert_input_error(cli("run", str(path), "--out", str(tmp_path / "out2")),
                       "physics.vacancy_flux")


@pytest.mark.mpi
def test_fitted_serial_and_two_ranks_agree(tmp_path):
    """A short 2D transient with the fitted flux: mpirun -n 2 gives the serial summary."""
    import tomli_w

    from conftest import assert_scalars_agree, read_summary, run_in_group

    data = copy.deepcopy(STACK)
    data["run"]["dimension"] = 2
    data["physics"]["vacancy_flux"] = "fitted"
    data["mesh"] = {"size_nm": 1.0, "interface_size_nm": 0.5, "width_nm": 4.0}
    data["time"].update(end_s=2.0, scheme="bdf2")
    cfg = tmp_path / "fitted_2d.toml"
    cfg.write_text(tomli_w.dumps(data))
    run_in_group(cfg, tmp_path / "serial", timeout=90)
    run_in_group(cfg, tmp_path / "mpi", np=2, timeout=90)
    serial, parallel = read_summary(tmp_path / "serial"), read_summary(tmp_path / "mpi")
    assert serial["mpi_size"] == 1 and parallel["mpi_size"] == 2
    assert serial["converged"] and parallel["converged"]
    agreed = assert_scalars_agree(serial, parallel, rel=1e-7)
    assert any(k.startswith("vacancies.inventory_per_m2.") for k in agreed)


def test_auto_gives_the_split_on_the_exact_jacobian():
    """preconditioner = "auto" with the fitted flux: from AUTO_SPLIT_MIN_DOFS the field split
    on the exact Jacobian ("split", no Picard matrix), mu with GAMG for an M-matrix (SOR
    smoothing, so no Chebyshev bounds there)."""
    from heterofem.solver.petsc_policy import (AUTO_SPLIT_MIN_DOFS, auto_preconditioner,
                                               solver_options)

    fitted, current = _config(2, "fitted"), _config(2, "exact")
    big = AUTO_SPLIT_MIN_DOFS
    assert auto_preconditioner(fitted, ["phi", "mu"], big) == "split"
    assert auto_preconditioner(fitted, ["phi", "mu"], big - 1) == "exact"
    assert auto_preconditioner(current, ["phi", "mu"], big) == "picard"
    opts = solver_options(fitted, preconditioner="split")
    assert opts["pc_type"] == "fieldsplit" and "snes_lag_preconditioner" not in opts
    assert opts["fieldsplit_mu_mg_levels_pc_type"] == "sor"
    assert "fieldsplit_mu_mg_levels_ksp_chebyshev_esteig" not in opts
    assert "fieldsplit_phi_mg_levels_ksp_chebyshev_esteig" in opts
