"""``[solver] preconditioner = "auto"`` per coupling (issue #25 item 4): the table
solver/petsc_policy.py ``AUTO_SPLITS`` (measured by benchmarks/solver_crossover.py and
benchmarks/solver_crossover_combos.py) decides, the user's own KSP/PC options win, and a
split that the table chooses gives MUMPS's answer on a small problem."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from conftest import REPO, build_model
from heterofem.solver import petsc_policy
from heterofem.solver.config import Config
from heterofem.solver.petsc_policy import (AUTO_SPLITS, auto_preconditioner, auto_split,
                                           solver_options)

#: the couplings of the issue, as their sets of unknowns, and a small 2D problem of each
#: (mesh sizes [nm], step [s] or None for the first pseudo-time step)
COUPLINGS = {
    "vacancy+Poisson": (["phi", "mu"], None),
    "polarization+strain+Poisson": (["phi", "P", "u"], (
        "problems/ruo2_tio2_110_island_2d.toml", {"mesh.size_nm": 1.2,
                                                  "mesh.interface_size_nm": 0.3}, None)),
    "crystallization": (["phi", "mu", "xi"], (
        "problems/tio2_vo2_tio2_001_growth_2d_island.toml",
        {"mesh.size_nm": 1.6, "mesh.interface_size_nm": 0.6}, 1.0)),
}

CFG = {"run": {"name": "t", "dimension": 1},
       "layers": [{"name": "a", "material": "TiO2", "thickness_nm": 5.0}]}


def _cfg(solver: dict | None = None) -> Config:
    return Config.model_validate({**CFG, "solver": solver or {}})


@pytest.mark.parametrize("coupling", list(COUPLINGS))
def test_auto_follows_the_table_for_each_coupling(coupling):
    """Every coupling of the issue has a measured row; "auto" switches at its threshold (or
    never, where MUMPS won at every size measured); the options of the split name a GAMG
    block for each unknown."""
    names, _ = COUPLINGS[coupling]
    row = auto_split(names)
    assert row is not None and row.measured, coupling
    cfg = _cfg()
    assert auto_preconditioner(cfg, names, 10) == "exact"
    if row.min_dofs is None:
        assert auto_preconditioner(cfg, names, 10**8) == "exact"
        return
    assert auto_preconditioner(cfg, names, row.min_dofs - 1) == "exact"
    assert auto_preconditioner(cfg, names, row.min_dofs) == row.kind
    opts = solver_options(cfg, preconditioner=row.kind, names=names)
    assert opts["pc_type"] == "fieldsplit" and opts["ksp_type"] != "preonly"
    for name in names:
        assert opts[f"fieldsplit_{name}_pc_type"] == "gamg", name


@pytest.mark.parametrize("coupling", list(COUPLINGS))
def test_user_options_and_explicit_choices_win_over_the_table(coupling):
    names, _ = COUPLINGS[coupling]
    for solver in ({"petsc_options": {"ksp_type": "cg"}}, {"petsc_options": {"pc_type": "ilu"}},
                   {"preconditioner": "exact"}):
        assert auto_preconditioner(_cfg(solver), names, 10**8) == "exact", solver
    assert auto_preconditioner(_cfg({"preconditioner": "picard"}), names, 10) == "picard"
    own = solver_options(_cfg({"petsc_options": {"ksp_type": "cg", "pc_type": "jacobi"}}),
                         preconditioner="exact", names=names)
    assert (own["ksp_type"], own["pc_type"]) == ("cg", "jacobi")


def test_unlisted_couplings_keep_mumps():
    for names in (["phi"], ["phi", "P"], ["phi", "mu", "eta"], ["u"]):
        assert auto_split(names) is None
        assert auto_preconditioner(_cfg(), names, 10**8) == "exact", names


def _step(path: str, changes: dict, dt: float | None) -> tuple[dict, str, str, dict]:
    from heterofem.solver.coupling import continuation_dt

    problem = build_model(REPO / path, set=changes, transient=True).problem
    h = problem.history
    h.shift(problem.u)
    h.shift(problem.u)
    step = dt if dt is not None else continuation_dt(problem.modules.values()) * h.time_scale_s
    h.dt.value = step / h.time_scale_s
    start = problem.snapshot()
    problem.solve()
    return problem.snapshot(), problem.preconditioner_kind(), \
        problem.problem.solver.getKSP().getPC().getType(), start


SPLIT_COUPLINGS = [c for c, (names, small) in COUPLINGS.items()
                   if small and auto_split(names) and auto_split(names).min_dofs is not None]


@pytest.mark.parametrize("coupling", SPLIT_COUPLINGS)
def test_the_chosen_split_gives_the_mumps_answer(coupling, monkeypatch):
    """The coupling's split, chosen by "auto" on a small problem (threshold lowered to 1),
    converges to MUMPS's answer of the same step at Newton's tolerance (the crystallization
    step at 1743 unknowns: 1e-10 relative or less, measured)."""
    names, (path, changes, dt) = COUPLINGS[coupling]
    key = frozenset(names)
    direct, kind, pc, start = _step(path, changes, dt)
    assert (kind, pc) == ("exact", "lu")
    monkeypatch.setitem(petsc_policy.AUTO_SPLITS, key,
                        dataclasses.replace(AUTO_SPLITS[key], min_dofs=1))
    split, kind, pc, _ = _step(path, changes, dt)
    assert (kind, pc) == (AUTO_SPLITS[key].kind, "fieldsplit")
    moved = 0.0
    for name, ref in direct.items():
        scale = max(np.abs(ref).max(), 1e-300)
        err = np.abs(split[name] - ref).max() / scale
        assert err < 1e-6, (name, err)  # measured: 1e-10 or less
        moved = max(moved, np.abs(ref - start[name]).max() / scale)
    assert moved > 1e-3  # the step changed the state: the comparison means something


@pytest.mark.parametrize("dim", [2, 3])
def test_reference_vertex_differences_match_the_physical_ones(dim):
    """The fitted flux's vertex differences as reference gradients (solver/fitted_flux.py,
    written for speed: FFCx no longer multiplies out J K = I) against grad f . J[:, k]: the
    residual of a nonlinear form in them, s = (mu - E - 2 phi)/kT with a cell-wise E, and its
    Jacobians in mu and in phi (UFL's Gateaux rule for ReferenceGrad added there) agree to
    round-off; the derivative in the cell-wise E is exactly 0."""
    import dolfinx.fem.petsc  # noqa: F401
    import ufl
    from mpi4py import MPI

    from heterofem.solver import fitted_flux
    from heterofem.solver.dolfinx_env import dolfinx

    cells = dolfinx.mesh.CellType.triangle if dim == 2 else dolfinx.mesh.CellType.tetrahedron
    mesh = dolfinx.mesh.create_unit_square(MPI.COMM_SELF, 3, 3, cells) if dim == 2 else \
        dolfinx.mesh.create_unit_cube(MPI.COMM_SELF, 2, 2, 2, cells)
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
    E = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("DG", 0)))
    mu, phi = dolfinx.fem.Function(V), dolfinx.fem.Function(V)
    rng = np.random.default_rng(3)
    for f in (mu, phi, E):
        f.x.array[:] = rng.standard_normal(f.x.array.size)
    v, J = ufl.TestFunction(V), ufl.Jacobian(mesh)
    s = (mu - E - 2.0 * phi) / 0.7
    physical = [0.0] + [ufl.dot(ufl.grad(s), J[:, k]) for k in range(dim)]
    assert fitted_flux._reference_grad_rules()  # the pinned UFL takes the rules (else: fallback)
    reference = fitted_flux.vertex_differences(s, mesh)
    dv = fitted_flux.vertex_differences(v, mesh)

    def form(d):
        return sum(ufl.exp(d[a] - 0.3 * d[b]) * (dv[a] - dv[b])
                   for a, b in fitted_flux.edges(dim)) * ufl.dx(metadata={"quadrature_degree": 1})

    new, old = form(reference), form(physical)
    r_new, r_old = (dolfinx.fem.assemble_vector(dolfinx.fem.form(F)).array for F in (new, old))
    np.testing.assert_allclose(r_new, r_old, rtol=0, atol=1e-13 * np.abs(r_old).max())
    for w in (mu, phi):
        A_new, A_old = (dolfinx.fem.assemble_matrix(dolfinx.fem.form(
            ufl.derivative(F, w))).to_dense() for F in (new, old))
        assert np.abs(A_old).max() > 1.0  # a Jacobian that is there
        np.testing.assert_allclose(A_new, A_old, rtol=0, atol=1e-13 * np.abs(A_old).max())
    A = dolfinx.fem.assemble_matrix(dolfinx.fem.form(ufl.derivative(new, E))).to_dense()
    assert np.all(A == 0.0)  # E is cell-wise: its vertex differences are 0 exactly
