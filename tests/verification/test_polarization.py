"""Landau polarization + epitaxial strain + electrostatics against analytic solutions.

Convention (solver/physics/polarization.py): free energy density

    f = a1 P^2 + a11 P^4 + a111 P^6 + (g/2) |dP/dz|^2 - E P,       E = -dphi/dz,

Poisson with D = eps0 eps_b E + P (eps_b = eps_inf of the polar layer), and a surface energy
-h P (``polar_bias_V`` = h) plus (g / (2 lambda)) P^2 (``polar_extrapolation_nm`` = lambda)
on a facet. The checks and the formulas they use (derived here in this convention):

1. Uniform state, E = 0: df/dP = 2 a1 P + 4 a11 P^3 + 6 a111 P^5 = 0. Without a111:
   P0^2 = -a1 / (2 a11). With a111 > 0, x = P0^2 solves 3 a111 x^2 + 2 a11 x + a1 = 0:
   P0^2 = (-a11 + sqrt(a11^2 - 3 a1 a111)) / (3 a111) (also for a11 < 0). A single polar
   layer between two grounded electrodes (phi = 0 at both ends) with zero-gradient ends: a
   uniform P carries no bound charge inside and its surface charges sit on the electrodes,
   so phi = 0 and E = 0 exactly. Curie-Weiss a1 = 1 / (2 eps0 (C/(T - T0) - eps_inf)): under
   an applied field P solves 2 a1 P + 4 a11 P^3 = E, and in the linear regime
   D / (eps0 E) = eps_inf + 1/(2 eps0 a1) = C/(T - T0), the measured static permittivity.
   Checked twice: through run_case (the pseudo-transient path from P = 1e-3) and by Newton
   on the coupled residual from 1.1 P0 (the discrete equations alone).
2. 180-degree wall, f = a1 P^2 + a11 P^4 + (g/2) P'^2, a1 < 0: the Euler-Lagrange equation
   g P'' = 2 a1 P + 4 a11 P^3 is solved by P0 tanh(z/delta): P'' = -(2/delta^2) P (1 - t^2)
   and 2 a1 P + 4 a11 P^3 = 2 a1 P (1 - t^2) (using 4 a11 P0^2 = -2 a1), so
   delta = sqrt(-g/a1) = sqrt(2) xi with xi = sqrt(g/(-2 a1)) (MODEL.md sec. 4 and
   PEERS.md's delta = sqrt(-G/a) agree in this convention). Wall energy per area
   sigma = int g P'^2 dz = (4/3) g P0^2 / delta.
   A P_z wall along z is charged (bound charge -P'), so: (a) the wall alone, from the
   module's own P residual with phi = 0 (no Poisson: a lower-level solve); (b) the coupled
   problem between short-circuited electrodes: there eps0 eps_b phi' = P - <P>, and for the
   odd wall <P> = 0, so E = -P/(eps0 eps_b) locally: the wall stays exactly a tanh with
   a1 -> a1 + 1/(2 eps0 eps_b).
2b. 2D: A rotated with the orientation; the easy axis (a1 < 0 along c only) is z for (001)
   and x for (110), where the in-plane P must develop from the initial state.
3. Strain: a1*_z = a1_z - kappa_x f_x - kappa_y f_y (kappa_c for the lab axis along c);
   P0 = sqrt(-a1*/(2 a11)) for a1* < 0 and 0 above; the transition misfit is a1* = 0. The
   film's background permittivity is made huge (1e9) so that the depolarizing field of the
   dielectric substrate below it is small: it adds d_s / (2 eps0 (eps_b d_s + eps_s d_f))
   = 56 J m/C^2 to a1* (the formula of check 4, included).
4. Depolarization, short circuit: polar slab (d_p, eps_b) + dielectric gap (d_g, eps_g),
   phi = 0 at both ends. D continuous and E_p d_p + E_g d_g = 0 give
   E_p = -P d_g / (eps0 (eps_b d_g + eps_g d_p)), E_g = -E_p d_p / d_g, and the uniform P
   solves 2 (a1 + d_g / (2 eps0 (eps_b d_g + eps_g d_p))) P + 4 a11 P^3 = 0.
   Open circuit (top free, no free charge): D = 0 everywhere, so E = -P/(eps0 eps_b) in the
   polar layer and the potential step across it is int P dz / (eps0 eps_b) =
   ``dipole_potential_step_bare_V`` for any profile. In the linear regime
   (a11 P^2 << a1) with a bias h (and extrapolation length lambda) on one facet of a layer
   of thickness L, the facet condition from the surface energy is g dP/dn = h e_z.n
   - (g/lambda) P (n the outward normal of the polar layer) and the far facet has P' = 0:
   P = A cosh((L - s)/l), s the distance from the biased facet, l = sqrt(g / (2 a1eff)),
   a1eff = a1 + 1/(2 eps0 eps_b), A = h / (g (sinh(L/l)/l + cosh(L/l)/lambda)), positive on
   either facet.
   A sheet pair +sigma / -sigma a distance d apart: phi step -sigma d / (eps0 eps).
5. Strain relaxation (solver/strain.py): tests/verification/test_strain_relaxation.py;
   the solved-strain coupling, 1D mechanics and the flexoelectric interface field:
   tests/verification/test_epitaxy_flexo.py.
6. Bad Landau coefficients give a ConfigError naming the key.
"""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import ufl

from conftest import build_model, newton_lu
from heterofem.solver.config import Config, ConfigError
from heterofem.solver.validation import validate_data
from heterofem.solver.dolfinx_env import MPI, dolfinx
from heterofem.solver.materials import resolve_materials
from heterofem.solver.physics.polarization import Polarization
from heterofem.solver.run import run_case

EPS0 = 8.8541878128e-12
NM = 1e-9


def q(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "source": "test value"}


def dielectric(eps: float, a: float = 4.0, c: float = 3.0) -> dict:
    return {"kind": "insulator", "eps_r_a": q(eps, "dimensionless"),
            "eps_r_c": q(eps, "dimensionless"),
            "a_lattice": q(a, "angstrom"), "c_lattice": q(c, "angstrom")}


def ferro(a1: float | None, a11: float, g: float = 1e-9, a111: float | None = None,
          eps_b: float = 10.0, a: float = 4.0, c: float = 3.0, **extra) -> dict:
    """An inline polar material (isotropic a1 unless ``landau_a1_c`` is in ``extra``)."""
    mat = dielectric(eps_b, a, c)
    mat.update(eps_inf_a=q(eps_b, "dimensionless"), eps_inf_c=q(eps_b, "dimensionless"),
               landau_a11=q(a11, "J*m^5/C^4"), gradient_energy=q(g, "J*m^3/C^2"))
    if a1 is not None:
        mat["landau_a1"] = q(a1, "J*m/C^2")
    if a111 is not None:
        mat["landau_a111"] = q(a111, "J*m^9/C^6")
    mat.update(extra)
    return mat


def config(layers, materials, boundary, size=0.25, interface=None, **sections) -> Config:
    data = {
        "run": {"name": "pol"},
        "layers": [{"name": n, "material": m, "thickness_nm": d, **kw} for n, m, d, kw in layers],
        "materials": materials,
        "physics": {"polarization": True},
        "mesh": {"size_nm": size, "interface_size_nm": interface or size},
        "boundary": boundary,
        "output": {"fields": False, "mesh": False, "profile_points": 401},
        **sections,
    }
    return validate_data(data)


SHORT = {"bottom": {"phi_V": 0.0}, "top": {"phi_V": 0.0}}


def profiles(run_dir) -> dict[str, np.ndarray]:
    with open(run_dir / "profiles.csv") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0] if k != "layer"}


def at(prof, z: float, key: str = "P_z_C_per_m2") -> float:
    return float(np.interp(z, prof["z_nm"], prof[key]))


def uniform_p0(a1: float, a11: float, a111: float = 0.0) -> float:
    if a111 == 0.0:
        return math.sqrt(-a1 / (2 * a11)) if a1 < 0 else 0.0
    x = (-a11 + math.sqrt(a11 * a11 - 3 * a1 * a111)) / (3 * a111)
    return math.sqrt(x)


def _coupled(cfg: Config):
    model = build_model(cfg, transient=False)
    return model.domain, model.problem


# -- 1. uniform spontaneous polarization -------------------------------------------------------

# (a1, a11, a111): |a1| >= 1e8 J m/C^2 are the realistic (TiO2, RuO2) magnitudes
UNIFORM = {
    "4th-order-weak": (-5e7, 5e9, None),
    "4th-order": (-2e8, 5e9, None),
    "4th-order-strong": (-1e9, 5e9, None),
    "6th-order": (-2e8, 5e9, 2e11),
    "6th-order-a11<0": (-5e7, -5e9, 1e11),
}


@pytest.mark.parametrize("case", list(UNIFORM))
def test_uniform_p0_pipeline(tmp_path, case):
    """run_case (pseudo-transient from P = 1e-3) reaches the uniform P0 between grounded
    electrodes, to 1e-6 relative in the middle; phi stays 0."""
    a1, a11, a111 = UNIFORM[case]
    cfg = config([("F", "FE", 6.0, {})], {"FE": ferro(a1, a11, a111=a111)}, SHORT, size=0.3)
    s = run_case(cfg, tmp_path / "run", MPI.COMM_WORLD)
    p0 = uniform_p0(a1, a11, a111 or 0.0)
    prof = profiles(tmp_path / "run")
    assert s["polarization"]["a1_zz_J_m_per_C2"]["F"] == pytest.approx(a1, rel=1e-14)
    assert abs(at(prof, 3.0)) == pytest.approx(p0, rel=1e-6), \
        f"P(mid) = {at(prof, 3.0):.6g}, expected +-{p0:.6g} ({s['pseudo_transient']})"
    assert s["polarization"]["max_abs_P_C_per_m2"] == pytest.approx(p0, rel=1e-6)
    assert max(abs(s["electrostatics"]["phi_min_V"]), abs(s["electrostatics"]["phi_max_V"])) < 1e-9


@pytest.mark.parametrize("case", list(UNIFORM))
def test_uniform_p0_is_a_stationary_point(case):
    """The coupled residual alone (Newton from 1.1 P0, where f is convex, no pseudo-transient):
    the discrete solution is the uniform P0 to Newton tolerance."""
    a1, a11, a111 = UNIFORM[case]
    cfg = config([("F", "FE", 6.0, {})], {"FE": ferro(a1, a11, a111=a111)}, SHORT, size=0.3)
    domain, problem = _coupled(cfg)
    p0 = uniform_p0(a1, a11, a111 or 0.0)
    problem.u["P"].x.array[:] = 1.1 * p0
    problem.solve()
    P = problem.u["P"].x.array
    np.testing.assert_allclose(P, p0, rtol=1e-10)
    assert np.max(np.abs(problem.u["phi"].x.array)) < 1e-10


@pytest.mark.parametrize("T", [300.0, 500.0])
def test_curie_weiss_static_permittivity(tmp_path, T):
    """Database TiO2 (001: z along c, Curie-Weiss a1) between 0 and V: uniform P solving
    2 a1 P + 4 a11 P^3 = E with E = -V/d; a1 = 1/(2 eps0 (C/(T-T0) - eps_inf_c)); and the
    effective permittivity D/(eps0 E) -> C/(T - T0) in the linear regime."""
    d, V = 10.0, 0.01
    cfg = validate_data({
        "run": {"name": "cw", "temperature_K": T},
        "layers": [{"name": "F", "material": "TiO2", "thickness_nm": d, "orientation": "001"}],
        "physics": {"polarization": True}, "mesh": {"size_nm": 0.5},
        "boundary": {"bottom": {"phi_V": 0.0}, "top": {"phi_V": V}},
        "output": {"fields": False, "mesh": False},
    })
    s = run_case(cfg, tmp_path / "run", MPI.COMM_WORLD)
    tio2 = resolve_materials(cfg)["TiO2"]
    C, T0 = tio2.value("curie_constant_c", "K"), tio2.value("curie_temperature_c", "K")
    eps_inf, a11 = tio2.value("eps_inf_c", "dimensionless"), tio2.value("landau_a11", "J*m^5/C^4")
    eps_static = C / (T - T0)
    a1 = 1.0 / (2 * EPS0 * (eps_static - eps_inf))
    assert s["polarization"]["a1_zz_J_m_per_C2"]["F"] == pytest.approx(a1, rel=1e-12)
    E = -V / (d * NM)
    roots = np.roots([4 * a11, 0.0, 2 * a1, -E])
    P_exact = float(np.real(roots[np.abs(roots.imag) < 1e-12 * abs(roots).max()][0]))
    prof = profiles(tmp_path / "run")
    P = at(prof, d / 2)
    assert P == pytest.approx(P_exact, rel=1e-8)
    assert at(prof, d / 2, "Ez_V_per_m") == pytest.approx(E, rel=1e-9)
    D = EPS0 * eps_inf * E + P
    # linear-regime permittivity (the cubic term changes it by 4 a11 P^2 / (2 a1) ~ 1e-5)
    assert D / (EPS0 * E) == pytest.approx(eps_static, rel=1e-4)


# -- 2. 180-degree domain wall -----------------------------------------------------------------

WALL = {"a1": -2e8, "a11": 5e9, "g": 8e-10}  # delta = sqrt(-g/a1) = 2 nm
HALF = 15.0  # nm: the layer spans [-7.5 delta, 7.5 delta] around the wall (delta = 2 nm)


def _wall_config(eps_b: float) -> Config:
    return config([("F", "FE", 2 * HALF, {})],
                  {"FE": ferro(WALL["a1"], WALL["a11"], g=WALL["g"], eps_b=eps_b)}, SHORT,
                  size=0.03)


def _wall_check(domain, P, a1_eff):
    a11, g = WALL["a11"], WALL["g"]
    p0, delta = math.sqrt(-a1_eff / (2 * a11)), math.sqrt(-g / a1_eff) / NM  # delta in nm
    z = np.linspace(0.0, 2 * HALF, 1201)
    pts = np.zeros((z.size, 3))
    pts[:, 0] = z
    vals = domain.evaluate(P, pts)
    exact = p0 * np.tanh((z - HALF) / delta)
    err = np.max(np.abs(vals - exact)) / p0
    assert err < 2e-4, f"max |P - P0 tanh(z/delta)| / P0 = {err:.3g}"
    # wall width from int (P0^2 - P^2) dz = 2 P0^2 delta tanh(HALF/delta)
    deficit = domain.integrate(p0**2 - P**2)
    width = deficit / (2 * p0**2 * math.tanh(HALF / delta))
    assert width == pytest.approx(delta, rel=2e-4)
    # wall energy sigma = int g P'^2 dz = (4/3) g P0^2 / delta (grad in 1/nm)
    sigma = g / NM * domain.integrate(ufl.inner(ufl.grad(P), ufl.grad(P)))
    assert sigma == pytest.approx(4.0 / 3.0 * g * p0**2 / (delta * NM), rel=1e-4)


def _tanh_guess(P, p0, width):
    P.interpolate(lambda x: p0 * np.tanh((x[0] - HALF) / width))


def test_domain_wall_without_poisson():
    """The module's P residual with phi = 0 (Poisson removed; a lower-level solve): Newton
    from a tanh of the wrong width converges to P0 tanh(z/delta), delta = sqrt(-g/a1)."""
    cfg = _wall_config(10.0)
    domain = build_model(cfg).domain
    pol = Polarization(domain)
    V = dolfinx.fem.functionspace(domain.mesh, ("Lagrange", 1))
    P, phi = dolfinx.fem.Function(V), dolfinx.fem.Function(V)  # phi = 0: no electric field
    F = pol.residual({"P": P, "phi": phi}, {"P": ufl.TestFunction(V), "phi": ufl.TestFunction(V)})
    _tanh_guess(P, 0.8 * uniform_p0(WALL["a1"], WALL["a11"]), 1.5)
    problem = dolfinx.fem.petsc.NonlinearProblem(
        F["P"], P, bcs=pol.dirichlet({"P": V})["P"], petsc_options_prefix="wall_",
        petsc_options=newton_lu(rtol=1e-10, atol=1e-12, max_it=50, linesearch=None))
    problem.solve()
    assert problem.solver.getConvergedReason() > 0
    _wall_check(domain, P, WALL["a1"])


@pytest.mark.parametrize("eps_b", [1e12, 1.0 / (2 * EPS0 * 1e8)])
def test_domain_wall_coupled_short_circuit(eps_b):
    """The full coupled problem (P and phi, short-circuited electrodes): eps_b = 1e12
    decouples the bound charge (a1 shift 5e-2 J m/C^2); eps_b = 565 shifts a1 by
    1/(2 eps0 eps_b) = +1e8 (a1_eff = a1/2): the charged wall is still a tanh, wider by
    sqrt(2) and with P0 smaller by sqrt(2)."""
    domain, problem = _coupled(_wall_config(eps_b))
    a1_eff = WALL["a1"] + 1.0 / (2 * EPS0 * eps_b)
    _tanh_guess(problem.u["P"], 0.8 * uniform_p0(a1_eff, WALL["a11"]), 1.5)
    problem.solve()
    _wall_check(domain, problem.u["P"], a1_eff)


# -- 2b. 2D: the vector order parameter --------------------------------------------------------


@pytest.mark.parametrize("orientation,easy", [("001", "z"), ("110", "x")])
def test_uniform_p0_2d_easy_axis(tmp_path, orientation, easy):
    """2D, a1 < 0 only along c (a1_c = -5e7, a1_a = 2e8): for (001) c is along z and the
    uniform P_z = P0; for (110) c is along x and P_x = P0, P_z = 0. The lateral sides are
    free (D.n = 0), so an in-plane P_x is open-circuit in x: a1_c + 1/(2 eps0 eps_b), made
    negligible (56 J m/C^2) by eps_b = 1e9."""
    a1_c, eps_b = -5e7, 1e9
    mat = ferro(2e8, 5e9, eps_b=eps_b, landau_a1_c=q(a1_c, "J*m/C^2"))
    cfg = validate_data({
        "run": {"name": "p2d", "dimension": 2},
        "layers": [{"name": "F", "material": "FE", "thickness_nm": 4.0,
                    "orientation": orientation}],
        "materials": {"FE": mat}, "physics": {"polarization": True},
        "mesh": {"size_nm": 0.5, "width_nm": 4.0}, "boundary": SHORT,
        "output": {"fields": False, "mesh": False, "profile_points": 41},
    })
    run_case(cfg, tmp_path / "run", MPI.COMM_WORLD)
    prof = profiles(tmp_path / "run")
    shift = 1.0 / (2 * EPS0 * eps_b) if easy == "x" else 0.0
    p0 = uniform_p0(a1_c + shift, 5e9)
    along, across = ("P_z_C_per_m2", "P_x_C_per_m2") if easy == "z" else \
        ("P_x_C_per_m2", "P_z_C_per_m2")
    np.testing.assert_allclose(np.abs(prof[along]), p0, rtol=1e-6,
                               err_msg=f"|{along}| should be P0 = {p0:.6g}")
    assert np.max(np.abs(prof[across])) < 1e-8


# -- 3. P0 against misfit strain ---------------------------------------------------------------

# film a1 (across c) = 3e8, kappa_c = -2e10 (lab x = [001] on (110)), kappa_a = 2e10 (lab y);
# misfits f_y = -f_x / 2: a1* = 3e8 - kappa_c f_x - kappa_a f_y = 3e8 + 3e10 f_x, so the
# transition misfit is f_x = -1 %.
STRAIN_FILM = {"a1": 3e8, "a1_c": 7e8, "a11": 5e9, "kc": -2e10, "ka": 2e10, "a": 4.5, "c": 3.0}


def _strained_config(fx: float, thickness=3.0, strain=None) -> Config:
    f = STRAIN_FILM
    fy = -fx / 2
    film = ferro(f["a1"], f["a11"], eps_b=1e9, a=f["a"], c=f["c"],
                 landau_a1_c=q(f["a1_c"], "J*m/C^2"),
                 landau_strain_coupling_a=q(f["ka"], "J*m/C^2"),
                 landau_strain_coupling_c=q(f["kc"], "J*m/C^2"))
    sub = dielectric(20.0, a=f["a"] * (1 + fy), c=f["c"] * (1 + fx))
    return config([("substrate", "SUB", 2.0, {"orientation": "110"}),
                   ("film", "FILM", thickness, {"orientation": "110"})],
                  {"SUB": sub, "FILM": film}, SHORT, size=0.25,
                  **({"strain": strain} if strain else {}))


@pytest.mark.parametrize("fx", [-0.0102, -0.0098, -0.009, 0.01, -0.02])
def test_p0_follows_strain_renormalised_a1(tmp_path, fx):
    """a1*_z = a1 - kappa_x f_x - kappa_y f_y: summary a1_zz, and P0 = sqrt(-a1*/(2 a11))
    below the transition misfit (-1 %), P = 0 above it."""
    f = STRAIN_FILM
    fy = -fx / 2
    s = run_case(_strained_config(fx), tmp_path / "run", MPI.COMM_WORLD)
    st = s["polarization"]["strain"]["film"]
    assert st["misfit_x"] == pytest.approx(fx, rel=1e-12)
    assert st["misfit_y"] == pytest.approx(fy, rel=1e-12)
    a1s = f["a1"] - f["kc"] * fx - f["ka"] * fy
    assert s["polarization"]["a1_zz_J_m_per_C2"]["film"] == pytest.approx(a1s, rel=1e-9)
    assert "substrate" not in s["polarization"]["a1_zz_J_m_per_C2"]  # no Landau data: not polar
    P = at(profiles(tmp_path / "run"), 3.5)
    # the substrate's depolarizing field (section 4 of the docstring): a1 + 56.5 J m/C^2
    shift = 2.0 / (2 * EPS0 * (1e9 * 2.0 + 20.0 * 3.0))
    if a1s < 0:
        assert abs(P) == pytest.approx(uniform_p0(a1s + shift, f["a11"]), rel=1e-6), \
            f"P = {P:.6g} (a1* = {a1s:.3g}; pseudo-transient: {s['pseudo_transient']})"
    else:
        assert abs(P) < 1e-8


# -- 4. depolarization and dipole layers -------------------------------------------------------


def test_depolarizing_field_short_circuit(tmp_path):
    """Polar slab + dielectric gap between grounded electrodes: uniform P with a1 renormalised
    by the depolarizing field, E_p = -P d_g / (eps0 (eps_b d_g + eps_g d_p)) in the slab,
    E_g = -E_p d_p / d_g in the gap, phi(interface) = -E_p d_p."""
    a1, a11, eps_b, eps_g, dp, dg = -1.3e8, 5e9, 400.0, 80.0, 4.0, 2.0
    cfg = config([("slab", "FE", dp, {}), ("gap", "GAP", dg, {})],
                 {"FE": ferro(a1, a11, eps_b=eps_b), "GAP": dielectric(eps_g)}, SHORT, size=0.2)
    s = run_case(cfg, tmp_path / "run", MPI.COMM_WORLD)
    k = dg / (EPS0 * (eps_b * dg + eps_g * dp))  # E_p = -k P
    p_exact = uniform_p0(a1 + k / 2, a11)
    prof = profiles(tmp_path / "run")
    P = at(prof, dp / 2)
    assert abs(P) == pytest.approx(p_exact, rel=1e-7)
    assert at(prof, dp / 2, "Ez_V_per_m") == pytest.approx(-k * P, rel=1e-7)
    assert at(prof, dp + dg / 2, "Ez_V_per_m") == pytest.approx(k * P * dp / dg, rel=1e-7)
    phi_i = s["electrostatics"]["phi_V"]["slab/gap"]
    assert phi_i == pytest.approx(k * P * dp * NM, rel=1e-7)
    # the bare dipole step int P dz / (eps0 eps_b) is what the slab would give in open circuit
    assert s["polarization"]["dipole_potential_step_bare_V"]["slab"] == pytest.approx(
        P * dp * NM / (EPS0 * eps_b), rel=1e-7)


@pytest.mark.parametrize("facet", ["D1/F", "F/D2"])
@pytest.mark.parametrize("lam", [None, 0.5])
def test_open_circuit_biased_layer(tmp_path, lam, facet):
    """Paraelectric layer between dielectrics, bias h on its lower or upper facet, top free
    (D = 0): the potential step across the polar layer equals dipole_potential_step_bare_V,
    and P is the linear-regime profile A cosh(distance-from-the-other-facet / l) (module
    docstring), positive (h > 0 favours +z on either side), with the 1/e decay length that
    the summary reports; P is zero in the non-polar layers."""
    a1, g, eps_b, h, L = 2e8, 1e-9, 100.0, 0.05, 4.0
    bc = {"bottom": {"phi_V": 0.0}, facet: {"polar_bias_V": h}}
    if lam is not None:
        bc[facet]["polar_extrapolation_nm"] = lam
    cfg = config([("D1", "D", 2.0, {}), ("F", "FE", L, {}), ("D2", "D", 2.0, {})],
                 {"FE": ferro(a1, 1.0, g=g, eps_b=eps_b), "D": dielectric(10.0)}, bc, size=0.02)
    s = run_case(cfg, tmp_path / "run", MPI.COMM_WORLD)
    phi = s["electrostatics"]["phi_V"]
    step = phi["F/D2"] - phi["D1/F"]
    bare = s["polarization"]["dipole_potential_step_bare_V"]["F"]
    assert step == pytest.approx(bare, rel=1e-9)
    assert abs(phi["D1/F"]) < 1e-9 and phi["top"] == pytest.approx(phi["F/D2"], abs=1e-9)
    a1_eff = a1 + 1.0 / (2 * EPS0 * eps_b)
    ell = math.sqrt(g / (2 * a1_eff)) / NM  # nm
    inv_lam = 0.0 if lam is None else 1.0 / (lam * NM)
    A = h / (g * (math.sinh(L / ell) / (ell * NM) + math.cosh(L / ell) * inv_lam))
    s_grid = np.linspace(0.0, L, 81)  # distance from the biased facet into F
    z = 2.0 + (s_grid if facet == "D1/F" else L - s_grid)
    prof = profiles(tmp_path / "run")
    got = np.array([at(prof, zi) for zi in z])
    exact = A * np.cosh((L - s_grid) / ell)
    assert np.max(np.abs(got - exact)) < 1e-3 * exact[0]
    entry = s["polarization"]["interfaces"][facet]
    assert entry["P_C_per_m2"] == pytest.approx(exact[0], rel=1e-3)
    # bare step from the analytic profile: int P = A l sinh(L/l)
    assert bare == pytest.approx(A * ell * NM * math.sinh(L / ell) / (EPS0 * eps_b), rel=1e-3)
    decay = L - ell * math.acosh(math.cosh(L / ell) / math.e)  # cosh((L-s)/l) = cosh(L/l)/e
    side = "above" if facet == "D1/F" else "below"
    assert entry[f"decay_length_{side}_nm"] == pytest.approx(decay, abs=0.015)
    # P lives on F only (it falls to 0 within one cell outside)
    assert at(prof, 1.0) == 0.0 and at(prof, 7.0) == 0.0


def test_sheet_charge_dipole_step(tmp_path):
    """Sheets +sigma (lower) and -sigma (upper) a distance d apart, top free: phi steps by
    -sigma d / (eps0 eps) across the dipole layer and is flat outside."""
    sigma, d, eps = 0.02, 1.5, 7.0
    cfg = validate_data({
        "run": {"name": "dip"},
        "layers": [{"name": "A", "material": "D", "thickness_nm": 3.0},
                   {"name": "B", "material": "D", "thickness_nm": d},
                   {"name": "C", "material": "D", "thickness_nm": 3.0}],
        "materials": {"D": dielectric(eps)}, "mesh": {"size_nm": 0.5},
        "boundary": {"bottom": {"phi_V": 0.0}, "A/B": {"surface_charge_C_m2": sigma},
                     "B/C": {"surface_charge_C_m2": -sigma}},
        "output": {"fields": False, "mesh": False},
    })
    phi = run_case(cfg, tmp_path / "run", MPI.COMM_WORLD)["electrostatics"]["phi_V"]
    assert phi["B/C"] - phi["A/B"] == pytest.approx(-sigma * d * NM / (EPS0 * eps), rel=1e-10)
    assert abs(phi["A/B"]) < 1e-12 and phi["top"] == pytest.approx(phi["B/C"], abs=1e-12)


# -- 6. bad coefficients -----------------------------------------------------------------------


def _problems(mat: dict, polar=None) -> dict[str, str]:
    layer = {"name": "F", "material": "FE", "thickness_nm": 5.0}
    if polar is not None:
        layer["polar"] = polar
    with pytest.raises(ConfigError) as info:
        validate_data({"layers": [layer], "materials": {"FE": mat},
                       "physics": {"polarization": True},
                       "boundary": {"bottom": {"phi_V": 0.0}}})
    return dict(info.value.problems)


@pytest.mark.parametrize("a11", [0.0, -1e9])
def test_a11_not_positive_without_sixth_order(a11):
    problems = _problems(ferro(-1e8, a11))
    assert "materials.FE.landau_a11" in problems
    assert "unbounded" in problems["materials.FE.landau_a11"]


def test_negative_a11_with_sixth_order_is_accepted():
    validate_data({"layers": [{"name": "F", "material": "FE", "thickness_nm": 5.0}],
                   "materials": {"FE": ferro(-1e8, -1e9, a111=1e11)},
                   "physics": {"polarization": True}, "boundary": {"bottom": {"phi_V": 0.0}}})


def test_negative_a111():
    problems = _problems(ferro(-1e8, 5e9, a111=-1e10))
    assert "materials.FE.landau_a111" in problems


@pytest.mark.parametrize("g", [-1e-9, 0.0])
def test_gradient_energy_not_positive(g):
    problems = _problems(ferro(-1e8, 5e9, g=g))
    assert "materials.FE.gradient_energy" in problems
    assert "must be > 0" in problems["materials.FE.gradient_energy"]


def test_gradient_energy_missing():
    mat = ferro(-1e8, 5e9)
    del mat["gradient_energy"]
    problems = _problems(mat)
    assert "missing" in problems["materials.FE.gradient_energy"]


def test_polar_layer_without_landau_data():
    problems = _problems(dielectric(10.0), polar=True)
    assert "layers.0.polar" in problems


def test_polar_layer_needs_no_lattice_constants(tmp_path):
    """A single polar layer (the substrate: no misfit) without born_charge needs no lattice
    constants: a valid config must run, not fail with a KeyError in the setup."""
    mat = ferro(-5e7, 5e9)
    del mat["a_lattice"], mat["c_lattice"]
    cfg = config([("F", "FE", 4.0, {})], {"FE": mat}, SHORT, size=0.5)
    s = run_case(cfg, tmp_path / "run", MPI.COMM_WORLD)
    assert s["converged"]


def test_strained_layer_without_lattice_constants_is_a_config_error():
    """A coherent layer above the substrate needs lattice constants for its misfit: the
    config check must say so (naming the key), not a KeyError deep in the run."""
    film = ferro(-5e7, 5e9)
    del film["a_lattice"]
    with pytest.raises(ConfigError) as info:
        validate_data({"layers": [{"name": "S", "material": "SUB", "thickness_nm": 2.0},
                                  {"name": "F", "material": "FE", "thickness_nm": 3.0}],
                       "materials": {"SUB": dielectric(20.0), "FE": film},
                       "physics": {"polarization": True},
                       "boundary": {"bottom": {"phi_V": 0.0}}})
    assert any("a_lattice" in key for key, _ in info.value.problems)
