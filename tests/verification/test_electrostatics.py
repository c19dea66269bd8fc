"""Electrostatics against analytic solutions and manufactured solutions.

- A 2- and 3-layer dielectric stack between two fixed potentials is a series capacitor: the
  potential is linear in each layer with interface values V * sum_{i<k}(d_i/eps_i) / sum(d_i/eps_i).
  The whole pipeline (config -> Gmsh -> DOLFINx -> summary.json) must give them to 1e-8 relative
  in 1D, 2D and 3D, with eps_zz taken from the rotated tensor.
- Method of manufactured solutions with a piecewise anisotropic permittivity and Thomas-Fermi
  screening in one layer: u = g / eps_zz with g = sin(pi x) sin(pi z) vanishing on the interface
  z = 1, so u and the normal flux are continuous; P1 and P2 converge at rates 2 and 3 (L2).
"""

from __future__ import annotations

import numpy as np
import pytest
import ufl

from conftest import build_model
from heterofem.solver.config import Config
from heterofem.solver.dolfinx_env import MPI, dolfinx
from heterofem.solver.physics.electrostatics import poisson_residual
from heterofem.solver.run import run_case

PARAM = {"unit": "dimensionless", "source": "test value"}


def _dielectric(eps_a: float, eps_c: float) -> dict:
    return {"kind": "insulator",
            "eps_r_a": {"value": eps_a, **PARAM}, "eps_r_c": {"value": eps_c, **PARAM}}


# (material, eps_a, eps_c, orientation, thickness): eps_zz is eps_c for 001 and eps_a for 110/100
STACKS = {
    "two": [("A", 4.0, 9.0, "001", 3.0), ("B", 25.0, 2.0, "110", 5.0)],
    "three": [("A", 4.0, 9.0, "001", 3.0), ("B", 25.0, 2.0, "110", 2.0), ("C", 7.0, 40.0, "100", 4.0)],
}


def _stack_config(layers, dim: int, V: float) -> Config:
    return Config.model_validate({
        "run": {"name": "capacitor", "dimension": dim},
        "layers": [{"name": f"L{i}", "material": m, "thickness_nm": d, "orientation": o}
                   for i, (m, _, _, o, d) in enumerate(layers)],
        "materials": {m: _dielectric(a, c) for m, a, c, _, _ in layers},
        "mesh": {"size_nm": 1.5 if dim == 3 else 0.7, "interface_size_nm": 0.5 if dim == 3 else 0.25,
                 "width_nm": 4.0, "depth_nm": 3.0},
        "boundary": {"bottom": {"phi_V": 0.0}, "top": {"phi_V": V}},
        "output": {"fields": dim != 3, "profile_points": 50},
    })


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("stack", ["two", "three"])
def test_series_capacitor(tmp_path, dim, stack):
    layers, V = STACKS[stack], 1.7
    resistances = [d / (c if o == "001" else a) for _, a, c, o, d in layers]
    expected = V * np.concatenate([[0.0], np.cumsum(resistances)]) / sum(resistances)
    summary = run_case(_stack_config(layers, dim, V), tmp_path / "run", MPI.COMM_WORLD)
    phi = summary["electrostatics"]["phi_V"]
    got = [phi["bottom"]] + [phi[f"L{i}/L{i + 1}"] for i in range(len(layers) - 1)] + [phi["top"]]
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-10 * V)
    # stored energy per area equals C V^2 / 2 with C = eps0 / sum(d_i/eps_i)
    eps0, nm = 8.8541878128e-12, 1e-9
    assert summary["electrostatics"]["electrostatic_energy_J_per_m2"] == pytest.approx(
        0.5 * eps0 / (sum(resistances) * nm) * V**2, rel=1e-8)


# -- manufactured solutions ------------------------------------------------------------------

EPS = {0: np.diag([2.0, 5.0]), 1: np.diag([7.0, 1.5])}  # lower, upper layer (x, z)
K_TF = {0: 0.0, 1: 3.0}  # Thomas-Fermi screening coefficient in the upper layer


def _mms_error(dim: int, n: int, degree: int) -> tuple[float, float]:
    comm = MPI.COMM_WORLD
    if dim == 1:
        mesh = dolfinx.mesh.create_interval(comm, 2 * n, [0.0, 2.0])
    else:
        mesh = dolfinx.mesh.create_rectangle(comm, [[0.0, 0.0], [1.0, 2.0]], [n, 2 * n])
    z_of = lambda x: x[dim - 1]  # noqa: E731
    tdim = mesh.topology.dim
    n_local = mesh.topology.index_map(tdim).size_local + mesh.topology.index_map(tdim).num_ghosts
    mid = dolfinx.mesh.compute_midpoints(mesh, tdim, np.arange(n_local, dtype=np.int32))
    upper = (mid[:, dim - 1] > 1.0).astype(int)

    T = dolfinx.fem.functionspace(mesh, ("DG", 0, (dim, dim)))
    S = dolfinx.fem.functionspace(mesh, ("DG", 0))
    eps, k = dolfinx.fem.Function(T), dolfinx.fem.Function(S)
    sl = slice(2 - dim, 2)  # 1D keeps only the z entry
    eps.x.array[:] = np.array([EPS[u][sl, sl].ravel() for u in upper]).ravel()
    k.x.array[:] = np.array([K_TF[u] for u in upper])

    x = ufl.SpatialCoordinate(mesh)
    g = ufl.sin(ufl.pi * z_of(x)) * (ufl.sin(ufl.pi * x[0]) if dim == 2 else 1.0)
    u_exact = g / eps[dim - 1, dim - 1]
    # f = -div(eps grad u) + k u, with eps constant per cell (u_exact is smooth per layer)
    f = -ufl.div(eps * ufl.grad(u_exact)) + k * u_exact

    V = dolfinx.fem.functionspace(mesh, ("Lagrange", degree))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    dx = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": degree + 4})
    a, L = ufl.system(poisson_residual(u, v, eps, dx, sources=[(f, dx)], screening=[(k, 0.0, dx)]))
    mesh.topology.create_connectivity(tdim - 1, tdim)
    bfacets = dolfinx.mesh.exterior_facet_indices(mesh.topology)
    bc = dolfinx.fem.dirichletbc(0.0, dolfinx.fem.locate_dofs_topological(V, tdim - 1, bfacets), V)
    uh = dolfinx.fem.petsc.LinearProblem(
        a, L, bcs=[bc], petsc_options_prefix="mms_",
        petsc_options={"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"},
    ).solve()
    dxe = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": degree + 6})
    e = uh - u_exact
    l2 = comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(e * e * dxe)), op=MPI.SUM)
    h1 = comm.allreduce(dolfinx.fem.assemble_scalar(
        dolfinx.fem.form(ufl.inner(ufl.grad(e), ufl.grad(e)) * dxe)), op=MPI.SUM)
    return np.sqrt(l2), np.sqrt(h1)


@pytest.mark.parametrize("dim,degree,sizes", [
    (1, 1, [8, 16, 32, 64]),
    (1, 2, [4, 8, 16, 32]),
    (2, 1, [4, 8, 16, 32]),
    (2, 2, [4, 8, 16]),
])
def test_mms_convergence_piecewise_anisotropic(dim, degree, sizes):
    errors = np.array([_mms_error(dim, n, degree) for n in sizes])
    rates = np.log2(errors[:-1] / errors[1:])
    # L2 rate degree+1, H1 rate degree, on the last refinements
    assert rates[-1, 0] == pytest.approx(degree + 1, abs=0.15), rates
    assert rates[-1, 1] == pytest.approx(degree, abs=0.15), rates
    assert np.all(errors[1:, 0] < errors[:-1, 0])


def test_per_layer_measure_is_the_whole_domain():
    """Domain.dx_layers (the Poisson terms' measure: per-layer kernels, so terms on some layers
    merge into them) integrates over exactly the cells of dx: the coupled phi residual
    assembled with it equals the all-cell one to rounding, and a mesh with an untagged cell
    falls back to plain dx (a cell left out of Poisson's equation would be silent)."""
    import dolfinx.fem.petsc  # noqa: F401

    from heterofem.meshes import StackMesh
    from test_vacancies import _stack_2d

    cfg = Config.model_validate(_stack_2d())  # vacancies, Fermi-Dirac electrons, a vacuum layer
    stack = build_model(cfg).stack
    residuals = {}
    for label in ("per-layer", "all-cell"):
        model = build_model(cfg, stack=stack, transient=False)
        domain = model.domain
        if label == "all-cell":
            domain.__dict__["dx_layers"] = domain.dx  # what the cached property would not give
        else:
            assert domain.dx_layers.subdomain_id() == tuple(sorted(stack.layer_ids.values()))
        problem = model.problem
        F = problem.residual["phi"]
        ids = {itg.subdomain_id() for itg in F.integrals()}
        assert ("everywhere" in ids) == (label == "all-cell"), ids
        residuals[label] = dolfinx.fem.assemble_vector(dolfinx.fem.form(F)).array
    b, b_all = residuals["per-layer"], residuals["all-cell"]
    assert np.abs(b).max() > 0
    np.testing.assert_allclose(b, b_all, rtol=0, atol=1e-12 * np.abs(b).max())

    # one cell without a layer tag: plain dx
    tags = stack.cell_tags
    keep = tags.indices != tags.indices[0]
    partial = dolfinx.mesh.meshtags(stack.mesh, stack.mesh.topology.dim, tags.indices[keep],
                                    tags.values[keep])
    broken = StackMesh(stack.mesh, partial, stack.facet_tags, stack.layer_ids, stack.facet_ids)
    assert build_model(cfg, stack=broken).domain.dx_layers.subdomain_id() == "everywhere"
