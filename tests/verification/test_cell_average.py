"""The closed-form cell average of the vacancy mobility (solver/physics/cell_average.py).

1. It is the exact average of exp(s) or sigma'(s) over each interval / triangle for a linear s:
   checked against a fine tensor Gauss rule (400 x 400 points on the collapsed square) for
   spreads from 1e-7 (Taylor branch) to 40 kT per cell, and the even-function flip.
2. UFL's Jacobian of a flux built on it matches central finite differences of the residual.
3. On the 2D stack of the conservation test, the film's loss after 10 s with the closed form
   equals the converged quadrature (degree 16) and not the degree-2 rule, which is 10x off.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import ufl
from scipy.special import expit

from heterofem.solver.dolfinx_env import MPI, dolfinx
from heterofem.solver.physics.cell_average import cell_average

import dolfinx.fem.petsc  # noqa: E402  (assemble_matrix / assemble_vector with PETSc)

FUNCTIONS = {"exp": np.exp, "logistic'": lambda t: expit(t) * expit(-t)}


def _mesh(dim: int):
    if dim == 1:
        return dolfinx.mesh.create_unit_interval(MPI.COMM_SELF, 12)
    return dolfinx.mesh.create_unit_square(MPI.COMM_SELF, 5, 5, dolfinx.mesh.CellType.triangle)


def _reference_averages(f, values: np.ndarray, cells: np.ndarray, dim: int) -> np.ndarray:
    """Cell averages of f(linear interpolant of the vertex values) by a fine Gauss rule."""
    g, w = np.polynomial.legendre.leggauss(400)
    g, w = (g + 1) / 2, w / 2
    if dim == 1:
        a, b = values[cells[:, 0]], values[cells[:, 1]]
        return np.array([np.sum(w * f((1 - g) * x + g * y)) for x, y in zip(a, b)])
    U, V = np.meshgrid(g, g, indexing="ij")
    l1, l2 = U, V * (1 - U)  # Duffy map of the unit square onto the triangle
    weight = 2.0 * np.outer(w, w) * (1 - U)  # normalised: the reference triangle has area 1/2
    out = []
    for c in cells:
        s0, s1, s2 = values[c]
        out.append(np.sum(weight * f((1 - l1 - l2) * s0 + l1 * s1 + l2 * s2)))
    return np.array(out)


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("kind", ["exp", "logistic'"])
@pytest.mark.parametrize("scale,shift", [
    (1e-7, -5.0),   # vertices nearly equal: Taylor branches
    (3e-3, -20.0),  # spreads between the Taylor thresholds and 1e-2
    (0.3, -4.0),
    (5.0, -10.0),
    (40.0, -60.0),  # many kT per cell, values over 90 orders of magnitude
    (3.0, 4.0),     # mean above zero: sigma' is evaluated at -s
])
def test_cell_average_is_exact(dim, kind, scale, shift):
    mesh = _mesh(dim)
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
    W = dolfinx.fem.functionspace(mesh, ("DG", 0))
    s = dolfinx.fem.Function(V)
    rng = np.random.default_rng(7)
    s.interpolate(lambda x: shift + scale * (np.sin(7 * x[0]) + 2 * x[1] ** 2
                                             + rng.standard_normal(x.shape[1])))
    w = ufl.TestFunction(W)
    one_point = ufl.dx(metadata={"quadrature_degree": 1})
    integral = dolfinx.fem.assemble_vector(
        dolfinx.fem.form(cell_average(kind, s, mesh) * w * one_point)).array
    volume = dolfinx.fem.assemble_vector(dolfinx.fem.form(w * ufl.dx)).array
    cells = V.dofmap.list
    ref = _reference_averages(FUNCTIONS[kind], s.x.array, cells, dim)
    np.testing.assert_allclose(integral / volume, ref, rtol=1e-8, atol=0)


def test_cell_average_rejects_tetrahedra():
    mesh = dolfinx.mesh.create_unit_cube(MPI.COMM_SELF, 1, 1, 1)
    s = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("Lagrange", 1)))
    with pytest.raises(ValueError, match="3D"):
        cell_average("logistic'", s, mesh)


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("kind", ["exp", "logistic'"])
def test_jacobian_matches_finite_differences(kind, tied):
    """F(u; v) = int avg f(u - 2 p) grad u . grad v dx (one point), J = dF/d(u, p) by UFL:
    J w equals the central difference of F along w to 1e-6 (the state spans 25 kT/cell).
    ``tied``: s depends on y only, so two vertices of every triangle have exactly the same value
    (as in a uniform layer), where the sorted divided difference must still give each vertex
    its own derivative."""
    mesh = _mesh(2)
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
    u, p = dolfinx.fem.Function(V), dolfinx.fem.Function(V)
    if tied:
        u.interpolate(lambda x: -8.0 + 25.0 * x[1])
    else:
        u.interpolate(lambda x: -8.0 + 25.0 * x[1] + 3.0 * np.sin(5 * x[0]))
        p.interpolate(lambda x: 0.5 * np.cos(3 * x[0] * x[1]))
    v = ufl.TestFunction(V)
    one_point = ufl.dx(metadata={"quadrature_degree": 1})
    F = cell_average(kind, u - 2.0 * p, mesh) * ufl.inner(ufl.grad(u), ufl.grad(v)) * one_point
    rng = np.random.default_rng(3)
    for field in (u, p):
        J = dolfinx.fem.petsc.assemble_matrix(
            dolfinx.fem.form(ufl.derivative(F, field, ufl.TrialFunction(V))))
        J.assemble()
        direction = rng.standard_normal(field.x.array.size)
        Jw = J.createVecLeft()
        x = J.createVecRight()
        x.array[:] = direction
        J.mult(x, Jw)
        base, eps = field.x.array.copy(), 1e-6
        values = []
        for sign in (1.0, -1.0):
            field.x.array[:] = base + sign * eps * direction
            values.append(dolfinx.fem.assemble_vector(dolfinx.fem.form(F)).array.copy())
        field.x.array[:] = base
        fd = (values[0] - values[1]) / (2 * eps)
        np.testing.assert_allclose(Jw.array, fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())


def test_exact_flux_is_the_converged_quadrature(tmp_path):
    """The 2D stack of test_vacancies' conservation test (10 s, a 2 nm step, 1.2 nm cells):
    the film's loss with the closed form equals degree-16 quadrature to 1e-5 (degree 8, the
    previous default, is 2e-3 off; degree 2 loses a tenth of it)."""
    from test_vacancies import _stack_2d

    from heterofem.solver.config import Config
    from heterofem.solver.run import run_case

    moved = {}
    for label, physics in (("exact", {}),
                           ("q16", {"vacancy_flux": "quadrature", "transport_quadrature_degree": 16}),
                           ("q2", {"vacancy_flux": "quadrature", "transport_quadrature_degree": 2})):
        data = copy.deepcopy(_stack_2d())
        data["physics"].update(physics)
        data["output"] = {"fields": False}
        summary = run_case(Config.model_validate(data), tmp_path / label, MPI.COMM_WORLD)
        moved[label] = summary["vacancies"]["oxygen_transferred_up_per_m2"]["template/film"]
    assert moved["exact"] == pytest.approx(moved["q16"], rel=1e-5)
    assert moved["q2"] < 0.2 * moved["exact"]


@pytest.mark.parametrize("dim,physics,expected", [
    (1, {}, True),
    (2, {"vacancy_statistics": "dilute"}, True),
    (2, {"vacancy_flux": "quadrature"}, False),
    (1, {"element_degree": 2}, False),   # s is not linear on the cell
    (3, {}, False),                      # tetrahedra: no closed form implemented
])
def test_where_the_closed_form_is_used(dim, physics, expected):
    from test_vacancies import STACK

    from conftest import build_model
    from heterofem.solver.config import Config
    from heterofem.solver.physics.vacancies import Vacancies

    data = copy.deepcopy(STACK)
    data["run"]["dimension"] = dim
    data["physics"].update(physics)
    data["mesh"] = {"size_nm": 2.0, "interface_size_nm": 1.0, "width_nm": 4.0, "depth_nm": 4.0}
    cfg = Config.model_validate(data)
    domain = build_model(cfg).domain
    assert Vacancies(domain).exact_flux is expected
