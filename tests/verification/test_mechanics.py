"""Linear elasticity (solver/physics/mechanics.py) against analytic and manufactured solutions.

- Stiffness rotation: "001" is the identity, "110"/"100" permute and mix the tetragonal
  constants as rutile's symmetry says, rotations keep the Kelvin-form eigenvalues.
- A coherent film on a substrate (bottom fixed, lateral rollers, free top): each layer's
  lattice strain is (f_x, f_y) in plane, eps_zz = -(C_zzxx f_x + C_zzyy f_y) / C_zzzz, and
  sigma_xx = C_xxxx f_x + C_xxyy f_y + C_xxzz eps_zz from the rotated tensor; for (001) this is
  the textbook biaxial (3D) and plane-strain (2D, f_y = 0) result. To 1e-8 relative in every
  cell, in 2D and 3D, (001) and (110), with a vacuum layer on top.
- Electrostriction of a uniform P acts as a misfit; a top traction gives a uniform stress.
- Method of manufactured solutions with a piecewise anisotropic C (one layer rotated by an
  arbitrary rotation, so normal and shear strains couple) and a smooth eigenstrain: P1/P2
  converge at rates 2/3 in L2 and 1/2 in H1, in 2D and 3D.
"""

from __future__ import annotations

import numpy as np
import pytest
import ufl

from conftest import build_model, newton_lu
from heterofem.solver.config import Config
from heterofem.solver.domain import Domain
from heterofem.solver.dolfinx_env import MPI, dolfinx
from heterofem.solver.physics.mechanics import (
    C_REF_GPA, Mechanics, coherent_film, elasticity_residual, electrostriction_tensor,
    electrostriction_voigt, mesh_stress, rotate_stiffness, rotate_tensor4, strain_voigt,
    tensor_to_voigt, tetragonal_voigt, voigt_to_tensor)

TIO2 = dict(C11=268.0, C12=174.9, C13=147.4, C33=484.2, C44=123.8, C66=190.2)
RUO2 = dict(C11=335.0, C12=218.6, C13=184.2, C33=605.2, C44=154.8, C66=237.8)
OPTS = newton_lu(rtol=1e-14, atol=1e-14, max_it=5)


def _c6(c: dict) -> np.ndarray:
    return tetragonal_voigt(*(c[k] for k in ("C11", "C12", "C13", "C33", "C44", "C66")))


def _rot(axis: str, deg: float) -> np.ndarray:
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    i, j = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    r = np.eye(3)
    r[i, i] = r[j, j] = c
    r[i, j], r[j, i] = -s, s
    return r


def _mandel(c6: np.ndarray) -> np.ndarray:
    w = np.array([1, 1, 1, np.sqrt(2), np.sqrt(2), np.sqrt(2)])
    return c6 * np.outer(w, w)


# -- tensors -----------------------------------------------------------------------------------
def test_voigt_tensor_round_trip_and_symmetries():
    c6 = _c6(TIO2)
    c = voigt_to_tensor(c6)
    np.testing.assert_array_equal(tensor_to_voigt(c), c6)
    np.testing.assert_array_equal(c, c.transpose(1, 0, 2, 3))  # minor
    np.testing.assert_array_equal(c, c.transpose(0, 1, 3, 2))
    np.testing.assert_array_equal(c, c.transpose(2, 3, 0, 1))  # major
    assert c[0, 1, 0, 1] == TIO2["C66"] and c[2, 2, 0, 0] == TIO2["C13"]


def test_rotate_stiffness_001_is_identity():
    c6 = _c6(TIO2)
    np.testing.assert_allclose(rotate_stiffness(c6, "001"), c6, rtol=0, atol=1e-12)


def test_rotate_stiffness_110():
    t = TIO2
    lab = rotate_stiffness(_c6(t), "110")  # x = c, y = [1-10], z = [110]
    half = 0.5 * (t["C11"] + t["C12"])
    expected = {
        (0, 0): t["C33"],  # lab xx is the c axis
        (1, 1): half + t["C66"], (2, 2): half + t["C66"],
        (1, 2): half - t["C66"], (0, 1): t["C13"], (0, 2): t["C13"],
        (3, 3): 0.5 * (t["C11"] - t["C12"]),  # yz: shear in the basal plane, rotated by 45 deg
        (4, 4): t["C44"], (5, 5): t["C44"],
    }
    for (i, j), value in expected.items():
        assert lab[i, j] == pytest.approx(value, rel=1e-12), (i, j)
        assert lab[j, i] == pytest.approx(value, rel=1e-12), (j, i)
    # no coupling between normal and shear strains
    np.testing.assert_allclose(lab[:3, 3:], 0.0, atol=1e-12)
    np.testing.assert_allclose(lab[3:, 3:] - np.diag(np.diag(lab[3:, 3:])), 0.0, atol=1e-12)


def test_rotate_stiffness_100():
    t = TIO2
    lab = rotate_stiffness(_c6(t), "100")  # x = c, y = b, z = a
    assert lab[0, 0] == pytest.approx(t["C33"]) and lab[2, 2] == pytest.approx(t["C11"])
    assert lab[1, 1] == pytest.approx(t["C11"]) and lab[1, 2] == pytest.approx(t["C12"])
    assert lab[0, 1] == pytest.approx(t["C13"]) and lab[0, 2] == pytest.approx(t["C13"])
    assert lab[3, 3] == pytest.approx(t["C66"]) and lab[4, 4] == pytest.approx(t["C44"])


def test_rotation_invariants_and_inverse():
    c6 = _c6(RUO2)
    r = _rot("z", 23.0) @ _rot("y", 31.0) @ _rot("x", -12.0)
    lab = rotate_stiffness(c6, r)
    assert np.abs(lab[:3, 3:]).max() > 1.0  # a general rotation couples normal and shear
    np.testing.assert_allclose(np.linalg.eigvalsh(_mandel(lab)), np.linalg.eigvalsh(_mandel(c6)),
                               rtol=1e-12)
    np.testing.assert_allclose(rotate_stiffness(lab, r.T), c6, atol=1e-10)


def test_coherent_film_closed_forms_001():
    t, f = TIO2, 0.013
    biax = coherent_film(_c6(t), f, f)
    assert biax["strain_zz"] == pytest.approx(-2 * t["C13"] / t["C33"] * f, rel=1e-14)
    assert biax["sigma_xx"] == pytest.approx(
        (t["C11"] + t["C12"] - 2 * t["C13"] ** 2 / t["C33"]) * f, rel=1e-14)
    plane = coherent_film(_c6(t), f, 0.0)  # 2D plane strain
    assert plane["strain_zz"] == pytest.approx(-t["C13"] / t["C33"] * f, rel=1e-14)
    assert plane["sigma_xx"] == pytest.approx((t["C11"] - t["C13"] ** 2 / t["C33"]) * f, rel=1e-14)


def test_electrostriction_voigt_crystal_frame():
    q11, q12, q44 = 0.089, -0.026, 0.0675
    m = electrostriction_voigt(electrostriction_tensor(q11, q12, q44))
    expected = np.zeros((6, 6))
    expected[:3, :3] = q12
    np.fill_diagonal(expected[:3, :3], q11)
    expected[3:, 3:] = np.diag([q44] * 3)
    np.testing.assert_allclose(m, expected, atol=1e-15)
    # the isotropic form (Q44 = 2 (Q11 - Q12)) is invariant under any rotation
    iso = electrostriction_tensor(q11, q12, 2 * (q11 - q12))
    r = _rot("y", 37.0) @ _rot("x", 11.0)
    np.testing.assert_allclose(rotate_tensor4(iso, r), iso, atol=1e-14)


# -- the module on stack meshes ----------------------------------------------------------------
def _domain(dim: int, layers, materials=None, size=1.0) -> Domain:
    cfg = Config.model_validate({
        "run": {"name": "mechanics", "dimension": dim},
        "layers": [{"name": n, "material": m, "thickness_nm": d, "orientation": o}
                   for n, m, d, o in layers],
        "physics": {"mechanics": True},
        "mesh": {"size_nm": size, "interface_size_nm": size, "width_nm": 4.0, "depth_nm": 3.0},
        "materials": materials or {},
    })
    return build_model(cfg).domain


def _solve(mech: Mechanics, extra: dict | None = None) -> dict:
    d = mech.domain
    (uk,) = mech.unknowns()
    V = dolfinx.fem.functionspace(d.mesh, ("Lagrange", uk.degree, uk.shape))
    u = {"u": dolfinx.fem.Function(V, name="u"), **(extra or {})}
    F = mech.residual(u, {"u": ufl.TestFunction(V)})["u"]
    bcs = mech.dirichlet({"u": V})["u"]
    problem = dolfinx.fem.petsc.NonlinearProblem(F, u["u"], bcs=bcs, petsc_options=OPTS,
                                                 petsc_options_prefix="mechtest_")
    problem.solve()
    assert problem.solver.getConvergedReason() > 0
    return u


def _cell_values(mech: Mechanics, u: dict) -> tuple[np.ndarray, np.ndarray]:
    """Lattice strain and stress [GPa] per cell (Voigt, engineering shear)."""
    W = dolfinx.fem.functionspace(mech.domain.mesh, ("DG", 0, (6,)))
    out = []
    for expr in (mech.lattice_strain(u), C_REF_GPA * mech.stress_hat(u)):
        f = dolfinx.fem.Function(W)
        f.interpolate(dolfinx.fem.Expression(expr, W.element.interpolation_points))
        out.append(f.x.array.reshape(-1, 6))
    return out[0], out[1]


def _check_coherent(mech: Mechanics, u: dict, eps_es_zz: dict | None = None) -> None:
    d = mech.domain
    eps, sig = _cell_values(mech, u)
    summary = mech.summary(u)["layers"]
    uz_top = 0.0
    for lay in d.cfg.layers:
        cells = d.layer_cells(lay.name)
        if lay.material == "vacuum":
            np.testing.assert_allclose(eps[cells], 0.0, atol=1e-14)
            np.testing.assert_allclose(sig[cells], 0.0, atol=1e-14)
            continue
        fx, fy = mech.misfit[lay.name]
        exact = coherent_film(mech.stiffness_GPa[lay.name], fx, fy)
        scale = max(abs(fx), abs(fy), 1e-3)
        ezz_extra = (eps_es_zz or {}).get(lay.name, 0.0)
        want_eps = [fx, fy, exact["strain_zz"] + ezz_extra, 0.0, 0.0, 0.0]
        want_sig = [exact["sigma_xx"], exact["sigma_yy"], 0.0, 0.0, 0.0, 0.0]
        sig_scale = C_REF_GPA * scale
        np.testing.assert_allclose(eps[cells], np.tile(want_eps, (cells.size, 1)),
                                   rtol=0, atol=1e-8 * scale)
        np.testing.assert_allclose(sig[cells], np.tile(want_sig, (cells.size, 1)),
                                   rtol=0, atol=1e-8 * sig_scale)
        s = summary[lay.name]
        assert s["strain_zz"] == pytest.approx(want_eps[2], rel=1e-8, abs=1e-10 * scale)
        assert s["sigma_xx_GPa"] == pytest.approx(want_sig[0], rel=1e-8, abs=1e-8 * sig_scale)
        assert s["sigma_yy_GPa"] == pytest.approx(want_sig[1], rel=1e-8, abs=1e-8 * sig_scale)
        uz_top += want_eps[2] * lay.thickness_nm
    # the top of the solid stack rose by the sum of the layers' eps_zz * thickness
    z_top = sum(lay.thickness_nm for lay in d.cfg.solid_layers)
    pt = d.centre_line(2)[:1]
    pt[0, d.dim - 1] = z_top
    got = d.evaluate(u["u"], pt)[0]
    assert got[-1] == pytest.approx(uz_top, rel=1e-8)
    np.testing.assert_allclose(got[:-1], 0.0, atol=1e-10 * abs(uz_top))


CASES = {
    # (layers, misfit): layers are (name, material, thickness, orientation) bottom to top
    "001-f-x": ([("sub", "TiO2", 5.0, "001"), ("film", "RuO2", 3.0, "001")],
                {"film": (0.012, 0.0)}),
    "001-biaxial": ([("sub", "TiO2", 5.0, "001"), ("film", "RuO2", 3.0, "001")],
                    {"film": (0.012, 0.012)}),
    "110-vacuum": ([("sub", "TiO2", 4.0, "110"), ("film", "RuO2", 3.0, "110"),
                    ("vac", "vacuum", 2.0, "001")],
                   {"film": (-0.0476, 0.0227)}),
    "three-layers": ([("sub", "TiO2", 4.0, "110"), ("film", "RuO2", 2.0, "110"),
                      ("cap", "Stiff", 2.0, "100")],
                     {"film": (-0.0476, 0.0227), "cap": (0.008, -0.015)}),
}
STIFF = {"Stiff": {"base": "TiO2", "C11": 310.0, "C12": 120.0, "C13": 160.0, "C33": 520.0,
                   "C44": 140.0, "C66": 170.0}}


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("case", list(CASES))
def test_coherent_film(dim, case):
    layers, misfit = CASES[case]
    d = _domain(dim, layers, STIFF if case == "three-layers" else None,
                size=1.0 if dim == 2 else 1.5)
    mech = Mechanics(d, misfit=misfit)
    _check_coherent(mech, _solve(mech))


def test_coherent_film_closed_form_001_3d_and_2d():
    """The brief's closed forms, end to end: biaxial (3D) and plane strain (2D)."""
    t, f = RUO2, 0.01
    for dim, fy, ezz, sxx in [
        (3, f, -2 * t["C13"] / t["C33"] * f,
         (t["C11"] + t["C12"] - 2 * t["C13"] ** 2 / t["C33"]) * f),
        (2, 0.0, -t["C13"] / t["C33"] * f, (t["C11"] - t["C13"] ** 2 / t["C33"]) * f),
    ]:
        d = _domain(dim, [("sub", "TiO2", 4.0, "001"), ("film", "RuO2", 2.0, "001")], size=2.0)
        mech = Mechanics(d, misfit={"film": (f, fy)})
        s = mech.summary(_solve(mech))["layers"]["film"]
        assert s["strain_xx"] == pytest.approx(f, rel=1e-8)
        assert s["strain_zz"] == pytest.approx(ezz, rel=1e-8)
        assert s["sigma_xx_GPa"] == pytest.approx(sxx, rel=1e-8)
        assert s["sigma_zz_GPa"] == pytest.approx(0.0, abs=1e-8 * abs(sxx))


def test_electrostriction_uniform_polarization():
    """A uniform P_z in a (001) film is a misfit -Q12 P^2 in plane plus a free Q11 P^2 along z."""
    q11, q12, q44, p = 0.10, -0.04, 0.05, 0.3  # m^4/C^2, C/m^2
    table = lambda v: {"value": v, "unit": "m^4/C^2", "source": "test value"}  # noqa: E731
    mats = {"PolarRuO2": {"base": "RuO2", "electrostriction_Q11": table(q11),
                          "electrostriction_Q12": table(q12), "electrostriction_Q44": table(q44)}}
    d = _domain(2, [("sub", "TiO2", 4.0, "001"), ("film", "PolarRuO2", 3.0, "001")], mats)
    mech = Mechanics(d)
    P = dolfinx.fem.Function(dolfinx.fem.functionspace(d.mesh, ("Lagrange", 1, (2,))), name="P")
    P.x.array.reshape(-1, 2)[:, 1] = p
    u = _solve(mech, {"P": P})
    # no misfit: the eigenstrain is the electrostrictive one; the lattice strain reported is
    # relative to the paraelectric bulk lattice, so it includes Q11 P^2 along z
    film_misfit = -q12 * p**2
    eps, sig = _cell_values(mech, u)
    cells = d.layer_cells("film")
    exact = coherent_film(mech.stiffness_GPa["film"], film_misfit, film_misfit)
    # in 2D the y direction keeps eps(u)_yy = 0: lattice strain eps_yy = 0, stress from both
    np.testing.assert_allclose(sig[cells, 0], exact["sigma_xx"], rtol=1e-8)
    np.testing.assert_allclose(sig[cells, 2], 0.0, atol=1e-8 * abs(exact["sigma_xx"]))
    np.testing.assert_allclose(eps[cells, 2], exact["strain_zz"] + q11 * p**2, rtol=1e-8)
    np.testing.assert_allclose(eps[cells, 0], 0.0, atol=1e-12)  # eps(u)_xx = 0, eps0_xx = 0
    # the energy density's derivative with respect to P is the force on P (nonzero here)
    dE = ufl.derivative(mech.elastic_energy_density(u), P, ufl.TestFunction(P.function_space))
    force = dolfinx.fem.assemble_vector(dolfinx.fem.form(dE * mech.dx_solid))
    force.scatter_reverse(dolfinx.la.InsertMode.add)
    assert d.comm.allreduce(float(np.abs(force.array).max(initial=0.0)), op=MPI.MAX) > 0


def test_top_traction_gives_uniform_stress():
    d = _domain(2, [("sub", "TiO2", 4.0, "110")], size=1.0)
    mech = Mechanics(d, boundary={"bottom": "roller", "right": "free",
                                  "top": ("traction", [0.0, -1.5])})
    u = _solve(mech)
    _, sig = _cell_values(mech, u)
    np.testing.assert_allclose(sig[:, 2], -1.5, rtol=1e-9)
    np.testing.assert_allclose(sig[:, [0, 3, 4, 5]], 0.0, atol=1e-9)
    c = voigt_to_tensor(mech.stiffness_GPa["sub"])
    # plane strain: sigma_xx = 0 and eps_yy = 0 fix eps_xx, eps_zz; then sigma_yy follows
    a = np.array([[c[0, 0, 0, 0], c[0, 0, 2, 2]], [c[2, 2, 0, 0], c[2, 2, 2, 2]]])
    exx, ezz = np.linalg.solve(a, [0.0, -1.5])
    np.testing.assert_allclose(sig[:, 1], c[1, 1, 0, 0] * exx + c[1, 1, 2, 2] * ezz, rtol=1e-9)


def test_errors_name_the_problem():
    d = _domain(2, [("sub", "TiO2", 4.0, "001"), ("film", "VO2_M1", 2.0, "001")], size=2.0)
    with pytest.raises(ValueError, match="VO2_M1.*C11"):  # a material without elastic data
        Mechanics(d)
    d = _domain(2, [("sub", "TiO2", 4.0, "001")], size=2.0)
    with pytest.raises(ValueError, match="not solid layers"):
        Mechanics(d, misfit={"flim": (0.01, 0.0)})
    with pytest.raises(ValueError, match="needs 2 components"):
        Mechanics(d, boundary={"bottom": ("displacement", [0.0])})
    with pytest.raises(ValueError, match="unknown kind"):
        Mechanics(d, boundary={"top": "clamped"})
    d = _domain(2, [("sub", "TiO2", 4.0, "001"), ("film", "RuO2", 2.0, "001")], size=2.0)
    with pytest.raises(ValueError, match="axis-aligned"):
        Mechanics(d, boundary={"sub/film": "roller"})


# -- manufactured solutions --------------------------------------------------------------------
def _mms_error(dim: int, n: int, degree: int) -> tuple[float, float]:
    comm = MPI.COMM_WORLD
    if dim == 2:
        mesh = dolfinx.mesh.create_unit_square(comm, n, n)
    else:
        mesh = dolfinx.mesh.create_unit_cube(comm, n, n, n)
    tdim = mesh.topology.dim
    imap = mesh.topology.index_map(tdim)
    mid = dolfinx.mesh.compute_midpoints(mesh, tdim, np.arange(imap.size_local + imap.num_ghosts,
                                                                dtype=np.int32))
    upper = mid[:, dim - 1] > 0.5
    lower_c = rotate_stiffness(_c6(TIO2), "001") / C_REF_GPA
    upper_c = rotate_stiffness(_c6(RUO2), _rot("z", 23.0) @ _rot("y", 31.0)) / C_REF_GPA
    T = dolfinx.fem.functionspace(mesh, ("DG", 0, (6, 6)))
    C = dolfinx.fem.Function(T)
    C.x.array[:] = np.where(upper[:, None], upper_c.ravel()[None, :],
                            lower_c.ravel()[None, :]).ravel()

    x = ufl.SpatialCoordinate(mesh)
    z = x[dim - 1]
    w = (z - 0.5) ** 2  # u and eps(u), eps0 vanish on the interface: tractions are continuous
    if dim == 2:
        u_ex = w * ufl.as_vector([ufl.sin(ufl.pi * x[0]) * (1 + z), ufl.cos(ufl.pi * x[0] * z)])
    else:
        u_ex = w * ufl.as_vector([ufl.sin(ufl.pi * x[0]) * (1 + z), ufl.cos(ufl.pi * x[1] * z),
                                  ufl.sin(ufl.pi * (x[0] + x[1])) * ufl.exp(-z)])
    eps0 = w * ufl.cos(x[0]) * ufl.as_vector([0.3, -0.2, 0.1, 0.05, -0.1, 0.2])
    sigma = mesh_stress(ufl.dot(C, strain_voigt(u_ex, dim) - eps0), dim)
    f = -ufl.div(sigma)

    V = dolfinx.fem.functionspace(mesh, ("Lagrange", degree, (dim,)))
    uh, v = dolfinx.fem.Function(V), ufl.TestFunction(V)
    dx = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": degree + 4})
    F = elasticity_residual(uh, v, C, dx, dim, eigenstrain=eps0, body_force=f)
    mesh.topology.create_connectivity(tdim - 1, tdim)
    bfacets = dolfinx.mesh.exterior_facet_indices(mesh.topology)
    g = dolfinx.fem.Function(V)
    g.interpolate(dolfinx.fem.Expression(u_ex, V.element.interpolation_points))
    bc = dolfinx.fem.dirichletbc(g, dolfinx.fem.locate_dofs_topological(V, tdim - 1, bfacets))
    problem = dolfinx.fem.petsc.NonlinearProblem(F, uh, bcs=[bc], petsc_options=OPTS,
                                                 petsc_options_prefix="mechmms_")
    problem.solve()
    assert problem.solver.getConvergedReason() > 0
    dxe = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": degree + 6})
    e = uh - u_ex
    l2 = comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(ufl.inner(e, e) * dxe)),
                        op=MPI.SUM)
    h1 = comm.allreduce(dolfinx.fem.assemble_scalar(
        dolfinx.fem.form(ufl.inner(ufl.grad(e), ufl.grad(e)) * dxe)), op=MPI.SUM)
    return np.sqrt(l2), np.sqrt(h1)


@pytest.mark.parametrize("dim,degree,sizes", [
    (2, 1, [4, 8, 16, 32]),
    (2, 2, [4, 8, 16]),
    (3, 1, [4, 8, 16]),
    (3, 2, [2, 4, 8]),
])
def test_mms_convergence_piecewise_anisotropic(dim, degree, sizes):
    errors = np.array([_mms_error(dim, n, degree) for n in sizes])
    rates = np.log2(errors[:-1] / errors[1:])
    assert rates[-1, 0] == pytest.approx(degree + 1, abs=0.15), rates
    assert rates[-1, 1] == pytest.approx(degree, abs=0.15), rates
    assert np.all(errors[1:] < errors[:-1])
