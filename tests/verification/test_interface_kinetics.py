"""Vacancy transfer across interfaces at a finite rate (issue #26 items 1, 3, 4):
the broken mu (mu = mu_c + chi g, solver/physics/interface_kinetics.py) against exact results.

1. Initial inventories: each layer's N_O delta / 2 x thickness to round-off on the broken mu
   (the continuous mu misses it by O(h)).
2. A blocking interface (rate 0) keeps each layer's inventory to 1e-12 through a transient; a
   finite rate moves vacancies (the check can fail).
3. Conservation of the total inventory to 1e-10 with two kinetic interfaces.
4. Fast-rate limit: the inventories and the mu field approach the continuous-mu run as 1/k.
5. MMS with a mu jump and a linear interface rate: L2 rate 2 of mu and of the jump.
6. The layer inventories of the 1D TiO2/VO2/TiO2 stack converge at second order in h.
7. Bad input names the key.
8. mpirun -n 2 gives the serial summary.
9. With a growing film (crystallization + deposition, 1D TiO2/VO2/TiO2): rate 0 keeps the
   template's inventory to 1e-12, a rate conserves the total to 1e-10, the transport-limited
   rates agree and differ from the continuous-mu run by its O(h) initial deficit; 2D refused.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import tomli_w
import ufl

from conftest import assert_scalars_agree, build_model, read_summary, run_in_group
from heterofem.solver import units
from heterofem.solver.config import Config, ConfigError
from heterofem.solver.dolfinx_env import MPI
from heterofem.solver.validation import validate_data

T_K = 600.0
KT = units.K_B_EV * T_K
THICK = 5.0  #: nm per layer


def _p(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "source": "test value"}


def _material(n_o: float, e_f: float, d0: float = 1e-6, ea: float = 1.0) -> dict:
    return {"kind": "insulator", "eps_r_a": _p(10.0, "dimensionless"),
            "eps_r_c": _p(10.0, "dimensionless"), "oxygen_site_density": _p(n_o, "m^-3"),
            "vacancy_formation_energy": _p(e_f, "eV"), "vacancy_D0_a": _p(d0, "m^2/s"),
            "vacancy_Ea_a": _p(ea, "eV"), "vacancy_D0_c": _p(d0, "m^2/s"),
            "vacancy_Ea_c": _p(ea, "eV")}


N_O = {"A": 6e28, "B": 5e28}
DELTA = {"a": 2e-6, "b": 2e-7, "c": 1e-6}


def _stack(k0: float | None, layers: str = "ab", law: str | None = None, drive: bool = False,
           size: float = 0.25) -> dict:
    """Dilute vacancies in A / B (/ A) layers of 5 nm, small deltas (a weak field), tight
    Newton tolerances (the conservation checks are about the scheme). ``drive``: no deltas, a
    uniform initial mu and a higher fixed mu on top (both runs start from the same state)."""
    mats = {"a": "A", "b": "B", "c": "A"}
    data = {
        "run": {"name": "kinetics", "dimension": 1, "temperature_K": T_K},
        "layers": [{"name": n, "material": mats[n], "thickness_nm": THICK, "delta": DELTA[n]}
                   for n in layers],
        "materials": {"A": _material(N_O["A"], 1.0), "B": _material(N_O["B"], 1.2)},
        "mesh": {"size_nm": size, "interface_size_nm": size},
        "physics": {"vacancies": True, "vacancy_statistics": "dilute"},
        "boundary": {"bottom": {"phi_V": 0.0}},
        "time": {"end_s": 1.0, "dt_initial_s": 0.01},
        # a full Newton step: with a slow interface the first step's update of c overshoots
        # the Poisson rows' residual, and "bt" (on the norm of all rows) then crawls
        "solver": {"rtol": 1e-14, "atol": 1e-20,
                   "petsc_options": {"snes_linesearch_type": "basic"}},
        "output": {"fields": False, "mesh": False},
    }
    if drive:
        for lay in data["layers"]:
            del lay["delta"]
        data["initial"] = {"mu_eV": 0.30}
        data["boundary"]["top"] = {"vacancy": "fixed_mu", "mu_eV": 0.36}
    if k0 is not None:
        sec = {"vacancy_rate_k0_m_per_s": k0}
        if law is not None:
            sec["vacancy_kinetics"] = law
        data["interfaces"] = {"A|B": sec}
    return data


def _problem(data: dict, transient: bool = True):
    problem = build_model(Config.model_validate(data), transient=transient).problem
    return problem, problem.modules["vacancies"]


def _steps(problem, vac, dts_s, each=None) -> list[dict]:
    """BDF1 steps of the given sizes [s]; the layer inventories after each (and the start)."""
    h = problem.history
    h.shift(problem.u)
    h.shift(problem.u)
    out = [vac.inventory(problem.u)]
    for dt in dts_s:
        h.dt.value = dt / h.time_scale_s
        problem.solve()
        h.shift(problem.u)
        out.append(vac.inventory(problem.u))
    return out


def _exact_inventory(layers: str) -> dict[str, float]:
    mats = {"a": "A", "b": "B", "c": "A"}
    return {n: N_O[mats[n]] * DELTA[n] / 2 * THICK * units.NM for n in layers}


# -- 1. initial inventories -------------------------------------------------------------------
def test_initial_inventories_exact():
    """Two kinetic interfaces (A|B|A: colours 0, 1, 0): every layer holds N_O delta/2 t to
    round-off. The continuous mu gives the shared nodes one side's value: O(h) off."""
    exact = _exact_inventory("abc")
    problem, vac = _problem(_stack(1e-9, "abc"), transient=False)
    assert problem.names == ["phi", "mu", "mu_jump"]
    inv = vac.inventory(problem.u)
    for n in exact:
        assert inv[n] == pytest.approx(exact[n], rel=1e-13), (n, inv[n] / exact[n] - 1)
    problem_c, vac_c = _problem(_stack(None, "abc"), transient=False)
    inv_c = vac_c.inventory(problem_c.u)
    assert max(abs(inv_c[n] / exact[n] - 1) for n in exact) > 1e-3


# -- 2. blocking interface, 3. conservation ----------------------------------------------------
DTS = [0.01 * 1.5**i for i in range(12)]  # 0.01 s .. 0.86 s (t_end 2.6 s)


def test_blocking_interface_keeps_each_layer():
    """Rate 0: each layer's inventory stays at its initial value (1e-12) in every step, while
    the same stack with a finite rate moves > 1 % of the film's vacancies."""
    problem, vac = _problem(_stack(0.0))
    series = _steps(problem, vac, DTS)
    exact = _exact_inventory("ab")
    for inv in series:
        for n in exact:
            assert inv[n] == pytest.approx(exact[n], rel=1e-12), (n, inv[n] / exact[n] - 1)
    problem, vac = _problem(_stack(1e-9))
    moved = _steps(problem, vac, DTS)[-1]
    assert moved["b"] < 0.99 * exact["b"]


@pytest.mark.parametrize("law", ["butler_volmer", "linear"])
def test_total_inventory_conserved(law):
    """Two kinetic interfaces: the total is constant to 1e-10 in every step, the middle layer
    loses vacancies to both neighbours."""
    problem, vac = _problem(_stack(1e-9, "abc", law=law))
    series = _steps(problem, vac, DTS)
    total0 = sum(series[0].values())
    for inv in series:
        assert sum(inv.values()) == pytest.approx(total0, rel=1e-10)
    assert series[-1]["b"] < 0.9 * series[0]["b"]
    assert series[-1]["a"] > series[0]["a"] and series[-1]["c"] > series[0]["c"]


def test_fast_and_standard_assembly_agree():
    """The jump unknown goes through the block-by-block assembly (solver.assembly = "fast",
    chosen by "auto" for blocked problems) with the same results as DOLFINx's standard one."""
    out = {}
    for assembly in ("fast", "standard"):
        data = _stack(1e-9, "abc")
        data["solver"]["assembly"] = assembly
        problem, vac = _problem(data)
        assert problem.assembly == assembly
        out[assembly] = _steps(problem, vac, DTS[:4])[-1]
    for n, value in out["fast"].items():
        assert value == pytest.approx(out["standard"][n], rel=1e-13)


# -- 4. fast-rate limit -------------------------------------------------------------------------
def test_fast_rate_limit_is_the_continuous_mu():
    """Vacancies pushed in from a fixed mu on top cross A|B; both runs start from the same
    uniform mu. As k grows tenfold the inventories and the nodal mu (either side of the
    interface) come tenfold closer to the continuous-mu run: the interface's resistance
    1/k is the only difference."""
    dts = [0.002 * 1.4**i for i in range(10)]

    def run(k0):
        problem, vac = _problem(_stack(k0, drive=True))
        inv = _steps(problem, vac, dts)[-1]
        mu = problem.u["mu"].x.array.copy()
        jump = problem.u["mu_jump"].x.array.copy() if k0 is not None else 0.0 * mu
        return inv, mu, jump

    inv_c, mu_c, _ = run(None)
    errors = []
    for k0 in (1e-4, 1e-3):
        inv, mu, jump = run(k0)
        errors.append([abs(inv[n] / inv_c[n] - 1) for n in inv]
                      + [max(np.abs(mu - mu_c).max(), np.abs(mu + jump - mu_c).max())])
    errors = np.array(errors)
    ratio = errors[0] / errors[1]
    assert np.all((ratio > 8.0) & (ratio < 12.0)), (errors, ratio)
    assert errors[1, :2].max() < 1e-4 and errors[1, 2] < 1e-5
    assert inv_c["b"] > 1.5 * 6.3e12  # vacancies did come in (a transient, not a rest state)


# -- 5. MMS with a jump ---------------------------------------------------------------------------
MMS_K0 = 4e-6  #: [m/s]: k L / D_ref ~ 1 with D_ref = 1e-6 exp(-1 eV / kT) m^2/s at 600 K


def _mms_errors(h: float) -> tuple[float, float]:
    """Steady (mu, phi) on A (z < 1 nm) | B (z > 1 nm) with a linear interface rate and a
    manufactured mu that jumps at z = 1. The forms are the module's; the sources are written
    from the model equations (dilute):
        -div(M grad mu) = f (each layer),  M = D^ n^ theta / kT,  theta = exp((mu - E_f - 2 phi)/kT)
        -div(eps grad phi) - RHO_SCALE 2 q N_ref n^ theta = f_phi
    and on the interface, with n_i the outward normal of layer i and
    J = k^ sqrt(c_B c_A) (mu_B - mu_A) / kT the flux from B into A, the sources
        s_B = (M grad mu_e . n_B) + J,   s_A = (M grad mu_e . n_A) - J
    that make mu_e satisfy the layers' weak forms with the transfer flux. Returns the L2 error
    of mu and the error of the jump at the interface."""
    import dolfinx.fem.petsc

    from heterofem.solver.coupling import active_physics

    mats = {"MA": (6e28, 1.2), "MB": (5e28, 1.3)}
    cfg = Config.model_validate({
        "run": {"name": "mms", "dimension": 1, "temperature_K": T_K},
        "layers": [{"name": "A", "material": "MA", "thickness_nm": 1.0},
                   {"name": "B", "material": "MB", "thickness_nm": 1.0}],
        "materials": {m: _material(n, e) for m, (n, e) in mats.items()},
        "mesh": {"size_nm": h, "interface_size_nm": h},
        "physics": {"vacancies": True, "vacancy_statistics": "dilute"},
        "interfaces": {"MA|MB": {"vacancy_rate_k0_m_per_s": MMS_K0, "vacancy_kinetics": "linear"}},
    })
    domain = build_model(cfg).domain
    es, vac = active_physics(domain)
    kin, mesh = vac.kinetics, domain.mesh
    d_ref = 1e-6 * math.exp(-1.0 / KT)
    assert kin.k_hat["A/B"] == pytest.approx(MMS_K0 * units.NM / d_ref, rel=1e-12)
    names = ("mu", "mu_jump", "phi")
    spaces = {n: dolfinx.fem.functionspace(mesh, ("Lagrange", 1)) for n in names}
    u = {n: dolfinx.fem.Function(V, name=n) for n, V in spaces.items()}
    v = {n: ufl.TestFunction(V) for n, V in spaces.items()}

    n_ref = max(n for n, _ in mats.values())
    chi = domain.cellwise({"B": 1.0}, "chi_B")  # independent of the module's colouring
    n_hat = domain.cellwise({"A": mats["MA"][0] / n_ref, "B": mats["MB"][0] / n_ref}, "n")
    e_f = domain.cellwise({"A": mats["MA"][1], "B": mats["MB"][1]}, "Ef")
    z = ufl.SpatialCoordinate(mesh)[0]
    mu_a = 0.0 + 0.06 * ufl.sin(1.7 * z + 0.3)
    mu_b = mu_a + 0.04 + 0.03 * ufl.cos(1.3 * z)
    mu_e = mu_a + chi * (mu_b - mu_a)
    phi_e = 0.04 * ufl.cos(1.3 * z)
    theta = ufl.exp((mu_e - e_f - 2 * phi_e) / KT)
    q = n_hat * theta / KT * ufl.grad(mu_e)  # D^ = 1: one diffusivity
    f_mu = -ufl.div(q)
    f_phi = -ufl.div(10.0 * ufl.grad(phi_e)) - units.RHO_SCALE * 2 * units.Q_E * n_ref * n_hat * theta
    nrm = ufl.FacetNormal(mesh)
    a, b = chi("+"), chi("-")
    qn_b = a * ufl.dot(q("+"), nrm("+")) + b * ufl.dot(q("-"), nrm("-"))
    qn_a = (1 - a) * ufl.dot(q("+"), nrm("+")) + (1 - b) * ufl.dot(q("-"), nrm("-"))
    c = n_hat * theta
    c_b, c_a = a * c("+") + b * c("-"), (1 - a) * c("+") + (1 - b) * c("-")
    J = MMS_K0 * units.NM / d_ref * ufl.sqrt(c_b * c_a) * (mu_b - mu_a)("+") / KT
    dx = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": 8})
    dS = domain.facet_measure("A/B")
    r_vac = vac.residual(u, v)
    F_mu = r_vac["mu"] - f_mu * v["mu"] * dx - (qn_b + J + qn_a - J) * v["mu"]("+") * dS
    F_g = r_vac["mu_jump"] - f_mu * chi * v["mu_jump"] * dx - (qn_b + J) * v["mu_jump"]("+") * dS
    F_phi = (1.0 / vac.poisson_scale) * (es.residual(u, v)["phi"] - f_phi * v["phi"] * dx)

    mesh.topology.create_connectivity(0, 1)
    outer = dolfinx.mesh.exterior_facet_indices(mesh.topology)
    bcs = kin.dirichlet(spaces, np.zeros(0, dtype=np.int32))["mu_jump"]
    for n, expr in (("mu", mu_e), ("phi", phi_e)):
        g = dolfinx.fem.Function(spaces[n])
        g.interpolate(dolfinx.fem.Expression(expr, spaces[n].element.interpolation_points))
        u[n].x.array[:] = g.x.array
        bcs.append(dolfinx.fem.dirichletbc(
            g, dolfinx.fem.locate_dofs_topological(spaces[n], 0, outer)))
    problem = dolfinx.fem.petsc.NonlinearProblem(
        [F_mu, F_g, F_phi], [u[n] for n in names], bcs=bcs, kind="mpi",
        petsc_options_prefix="kin_mms_",
        petsc_options={"snes_type": "newtonls", "snes_linesearch_type": "basic",
                       "snes_rtol": 1e-12, "snes_atol": 1e-14, "snes_max_it": 30,
                       "ksp_type": "preonly", "pc_type": "lu",
                       "pc_factor_mat_solver_type": "mumps"})
    problem.solve()
    assert problem.solver.getConvergedReason() > 0, problem.solver.getConvergedReason()
    e_mu = dolfinx.fem.assemble_scalar(dolfinx.fem.form((kin.mu(u) - mu_e) ** 2 * dx))
    e_jump = dolfinx.fem.assemble_scalar(dolfinx.fem.form(
        (u["mu_jump"]("+") - (mu_b - mu_a)("+")) ** 2 * dS))
    comm = MPI.COMM_WORLD
    return (math.sqrt(comm.allreduce(e_mu, op=MPI.SUM)),
            math.sqrt(comm.allreduce(e_jump, op=MPI.SUM)))


def test_mms_jump_with_linear_rate():
    """L2 error of the broken mu and the error of its jump: second order as h halves."""
    sizes = [0.2, 0.1, 0.05]
    errors = np.array([_mms_errors(h) for h in sizes])
    rates = np.log(errors[:-1] / errors[1:]) / math.log(2.0)
    assert np.all(errors[1:] < errors[:-1]), errors
    np.testing.assert_allclose(rates[:, 0], 2.0, atol=0.1, err_msg=f"{errors} {rates}")
    assert np.all(rates[:, 1] > 1.9), (errors, rates)


# -- 6. second order in the interface cell size on the 1D stack ---------------------------------
def test_stack_inventories_second_order():
    """The 1D TiO2 / VO2(R) / TiO2 stack of the FiPy comparison (benchmarks/configs, dilute,
    Fermi-Dirac electrons) with a fast transfer rate (k0 = 1e-6 m/s, 1e5 x D/L of the
    film): the layer inventories at 10 s converge at second order as the cells halve (size
    5h, interface h; successive differences, measured 1.79 then 1.89 for h = 0.1 .. 0.0125 nm),
    and start exact. (The continuous mu: the template's order 0.39 then 0.70, the initial
    inventories O(h) off.)"""
    from heterofem.solver.validation import load_config
    from conftest import REPO

    dts, t, dt = [], 0.0, 0.01
    while t < 10.0 - 1e-9:  # the benchmark's schedule: x1.2 per step
        dts.append(min(dt, 10.0 - t))
        t, dt = t + dts[-1], dt * 1.2
    layers = ("substrate", "template", "film")
    final, start = [], []
    for h in (0.05, 0.025, 0.0125):
        cfg = load_config(REPO / "benchmarks/configs/stack_tio2_vo2_tio2_1d.toml", [
            "physics.vacancy_statistics=dilute", f"mesh.size_nm={5 * h}",
            f"mesh.interface_size_nm={h}", 'interfaces."TiO2|VO2_R".vacancy_rate_k0_m_per_s=1e-6'])
        problem = build_model(cfg, transient=True).problem
        series = _steps(problem, problem.modules["vacancies"], dts)
        start.append([series[0][n] for n in layers])
        final.append([series[-1][n] for n in layers])
    cfg_layers = {lay.name: lay for lay in cfg.layers}
    for n, value in zip(layers, start[-1]):
        n_o = problem.modules["vacancies"].domain.material(cfg_layers[n]).value(
            "oxygen_site_density", "m^-3")
        exact = n_o * cfg_layers[n].delta / 2 * cfg_layers[n].thickness_nm * units.NM
        assert value == pytest.approx(exact, rel=1e-12), n
    diffs = np.abs(np.diff(np.array(final), axis=0))
    order = np.log2(diffs[0] / diffs[1])
    assert np.all(order > 1.75), order


# -- outputs ------------------------------------------------------------------------------------
def test_run_reports_the_jump(tmp_path):
    """A run through the CLI path: summary.json gives each kinetic facet's rate and mean jump
    (with units), the profile's mu jumps there by that amount, the inventories start exact."""
    from heterofem.solver.run import run_case
    from heterofem.solver.summary_units import summary_units

    data = _stack(1e-9, law="linear")
    data["time"] = {"end_s": 0.05, "dt_initial_s": 0.01}
    data["output"] = {"fields": True, "mesh": False}
    summary = run_case(Config.model_validate(data), tmp_path / "run", MPI.COMM_WORLD)
    kin = summary["vacancies"]["interface_kinetics"]["a/b"]
    assert kin["law"] == "linear" and kin["rate_m_per_s"] == pytest.approx(1e-9)
    units_of = summary_units(summary)
    assert units_of["vacancies.interface_kinetics.a/b.rate_m_per_s"] == "m/s"
    assert units_of["vacancies.interface_kinetics.a/b.mu_jump_eV"] == "eV"
    initial = summary["vacancies"]["initial_inventory_per_m2"]
    for n, value in _exact_inventory("ab").items():
        assert initial[n] == pytest.approx(value, rel=1e-13)
    rows = np.genfromtxt(tmp_path / "run" / "profiles.csv", delimiter=",", names=True,
                         dtype=None, encoding="utf-8")
    a = rows[rows["layer"] == "a"]["mu_eV"][-1]  # the interface seen from a, then from b
    b = rows[rows["layer"] == "b"]["mu_eV"]
    z_b = rows[rows["layer"] == "b"]["z_nm"]
    b_at = b[0] + (b[1] - b[0]) * (THICK - z_b[0]) / (z_b[1] - z_b[0])  # back to z = 5 nm
    assert kin["mu_jump_eV"] > 0.01  # b (higher E_f, its delta) sits above a's mu
    assert b_at - a == pytest.approx(kin["mu_jump_eV"], rel=1e-3)


# -- 7. bad input -------------------------------------------------------------------------------
def _bad(mod) -> dict:
    data = _stack(1e-9)
    mod(data)
    return data


BAD_INPUT = {
    "negative rate": (lambda d: d["interfaces"]["A|B"].update(vacancy_rate_k0_m_per_s=-1.0),
                      'interfaces.A|B.vacancy_rate_k0_m_per_s'),
    "negative barrier": (lambda d: d["interfaces"]["A|B"].update(vacancy_rate_Ea_eV=-0.1),
                         'interfaces.A|B.vacancy_rate_Ea_eV'),
    "unknown law": (lambda d: d["interfaces"]["A|B"].update(vacancy_kinetics="tafel"),
                    'interfaces.A|B.vacancy_kinetics'),
    "law without rate": (lambda d: d["interfaces"].update({"A|B": {"vacancy_kinetics": "linear"}}),
                         'interfaces.A|B.vacancy_kinetics'),
    "rate without vacancies": (lambda d: d["physics"].update(vacancies=False),
                               'interfaces.A|B.vacancy_rate_k0_m_per_s'),
    "vacuum pair": (lambda d: (d["layers"].append({"name": "gas", "material": "vacuum",
                                                   "thickness_nm": 2.0}),
                               d["interfaces"].update({"B|vacuum": {"vacancy_rate_k0_m_per_s": 1.0}})),
                    'interfaces.B|vacuum.vacancy_rate_k0_m_per_s'),
    "picard": (lambda d: d["solver"].update(preconditioner="picard"), "solver.preconditioner"),
    "fitted flux": (lambda d: d["physics"].update(vacancy_flux="fitted"), "physics.vacancy_flux"),
    "adaptivity": (lambda d: d["mesh"].update(adapt={"fields": ["mu"]}), "mesh.adapt"),
    "mesh features": (lambda d: (d["run"].update(dimension=2), d["mesh"].update(
        width_nm=4.0, features=[{"type": "step", "layer": "a", "height_nm": 1.0, "x_nm": 2.0}])),
        "mesh.features"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_names_the_key(case):
    mod, wanted = BAD_INPUT[case]
    with pytest.raises(ConfigError) as info:
        validate_data(_bad(mod))
    keys = [k for k, _ in info.value.problems]
    assert any(k == wanted or k.startswith(wanted + ".") for k in keys), keys


def test_polarization_keys_still_need_polarization():
    """A vacancy rate alone needs no polarization; an interface field still does."""
    validate_data(_stack(1e-9))
    data = _stack(1e-9)
    data["interfaces"]["A|B"]["interface_field_V"] = 0.1
    with pytest.raises(ConfigError) as info:
        validate_data(data)
    assert "interfaces" in [k for k, _ in info.value.problems]


def test_rate_is_a_ledger_parameter():
    """The rate keys are parameters a study's ledger must account for (solver/ledger.py), with
    vacancies on; none without kinetics."""
    from heterofem.solver.ledger_usage import config_parameters

    data = _stack(1e-9, law="linear")
    data["interfaces"]["A|B"]["vacancy_rate_Ea_eV"] = 0.2
    used = config_parameters(validate_data(data))
    assert used['interfaces."A|B".vacancy_rate_k0_m_per_s'] == 1e-9
    assert used['interfaces."A|B".vacancy_rate_Ea_eV'] == 0.2
    assert used['interfaces."A|B".vacancy_kinetics'] == "linear"
    assert not [k for k in config_parameters(validate_data(_stack(None))) if "interfaces" in k]


# -- 8. serial == mpirun -n 2 ---------------------------------------------------------------------
@pytest.mark.mpi
def test_serial_and_two_ranks_agree(tmp_path):
    """A 2D A | B | A stack with two Butler-Volmer interfaces (the interface facets and the
    jump dofs split across ranks): the same summary scalars."""
    data = _stack(1e-9, "abc")
    data["run"]["dimension"] = 2
    data["mesh"] = {"size_nm": 1.0, "interface_size_nm": 0.5, "width_nm": 4.0}
    data["time"] = {"end_s": 0.5, "dt_initial_s": 0.01, "scheme": "bdf2"}
    data["solver"] = {"rtol": 1e-12, "atol": 1e-18,
                      "petsc_options": {"snes_linesearch_type": "basic"}}
    cfg = tmp_path / "kinetics.toml"
    cfg.write_text(tomli_w.dumps(data))
    run_in_group(cfg, tmp_path / "serial", timeout=90)
    run_in_group(cfg, tmp_path / "mpi", np=2, timeout=90)
    serial, parallel = read_summary(tmp_path / "serial"), read_summary(tmp_path / "mpi")
    assert serial["mpi_size"] == 1 and parallel["mpi_size"] == 2
    flat = assert_scalars_agree(serial, parallel, rel=1e-7)
    moved = [v for k, v in flat.items() if k.startswith("vacancies.inventory_") and k.endswith(".b")]
    assert moved and moved[0] < 0.9 * _exact_inventory("b")["b"]  # b drained into a and c


# -- 9. kinetics with a growing film (crystallization + deposition, 1D) ---------------------------
def _growth(k0: float | None, blocking_top: bool = False) -> dict:
    """The TiO2/VO2/TiO2 growth problem (problems/tio2_vo2_tio2_001_growth_1d.toml, with the
    study's calibrated amorphous formation energy) cut to a 5 nm substrate and a 3 nm film, a
    rate on "VO2_R|TiO2" (both template facets: substrate/template and template/film), tight
    Newton tolerances; ``blocking_top``: no gas exchange."""
    import tomllib

    from heterofem.studies import PROBLEMS

    with open(PROBLEMS / "tio2_vo2_tio2_001_growth_1d.toml", "rb") as fh:
        data = tomllib.load(fh)
    data["materials"] = {"TiO2_amorphous": {"vacancy_formation_energy": 3.1166}}
    data["layers"][0]["thickness_nm"] = 5.0
    data["layers"][2]["thickness_nm"] = 3.0
    data["output"] = {"fields": False, "mesh": False}
    data["solver"] = {"rtol": 1e-13, "atol": 1e-13,
                      "petsc_options": {"snes_linesearch_type": "basic"}}
    if blocking_top:
        data["boundary"]["top"] = {"vacancy": "blocking"}
    if k0 is not None:
        data["interfaces"] = {"VO2_R|TiO2": {"vacancy_rate_k0_m_per_s": k0}}
    return data


def _grow(data: dict, n: int):
    """BDF1 steps 0.01 s x 1.5^i, i < n, with the deposition clock: (problem, inventories
    after each step and at the start, crystalline and deposited thickness at the end [nm])."""
    problem = build_model(validate_data(data), transient=True).problem
    vac, cryst = problem.modules["vacancies"], problem.modules["crystallization"]
    h = problem.history
    h.shift(problem.u)
    h.shift(problem.u)
    out, t = [vac.inventory(problem.u)], 0.0
    for i in range(n):
        dt = 0.01 * 1.5**i
        t += dt
        h.dt.value = dt / h.time_scale_s
        for module in problem.modules.values():
            if hasattr(module, "set_time"):
                module.set_time(t)
        problem.solve()
        h.shift(problem.u)
        out.append(vac.inventory(problem.u))
    return problem, out, cryst.crystalline_thickness_nm(problem.u), cryst.deposited_thickness_nm()


def test_blocking_interface_during_growth():
    """Rate 0 on both VO2|TiO2 facets while 0.66 nm of film is deposited (gas exchange on the
    growth surface): the template's inventory stays at its initial value (1e-12 in every step;
    the substrate's, which is 4e-4 of the total, to 1e-12 of the total) while the film's
    changes and its crystal grows."""
    problem, series, crystal, deposited = _grow(_growth(0.0), 20)
    assert problem.names == ["phi", "mu", "mu_jump", "xi"]
    assert deposited > 1.1
    first = series[0]
    scale = sum(first.values())  # the substrate holds 4e-4 of it: round-off on the total's scale
    for inv in series:
        for n in ("substrate", "template"):
            assert inv[n] == pytest.approx(first[n], rel=1e-12, abs=1e-12 * scale), \
                (n, inv[n] / first[n] - 1)
    assert abs(series[-1]["film"] / first["film"] - 1) > 1e-6  # the gas does act on the film
    assert crystal > 0.3


def test_growth_with_a_rate_conserves_the_total():
    """A finite rate, no gas exchange: the template takes vacancies from the growing film and
    the total inventory stays constant to 1e-10 in every step."""
    _, series, _, deposited = _grow(_growth(1e-12, blocking_top=True), 18)
    assert deposited > 0.75
    total0 = sum(series[0].values())
    for inv in series:
        assert sum(inv.values()) == pytest.approx(total0, rel=1e-10)
    assert series[-1]["template"] > 1.2 * series[0]["template"]


def test_growth_fast_rate_limit():
    """The TiO2/VO2 transfer is limited by transport, not by the rate: with the Butler-Volmer
    law the jump adjusts (about 2 kT ln 10 per decade of k) and a rate 100x larger moves the
    template's gain by < 1e-4 and the crystal by < 1e-4 nm. That limit is the continuous-mu
    run up to the continuous run's initial state: its shared interface node takes the
    template's mu (Vacancies.initial_mu), so its film starts short by Delta (O(h)) and the
    template gains less by at most about Delta; the broken mu starts every layer exact."""
    runs = {k0: _grow(_growth(k0), 16) for k0 in (None, 1e-13, 1e-11)}
    gain = {k: r[1][-1]["template"] - r[1][0]["template"] for k, r in runs.items()}
    crystal = {k: r[2] for k, r in runs.items()}
    assert gain[1e-11] == pytest.approx(gain[1e-13], rel=1e-4)
    assert crystal[1e-11] == pytest.approx(crystal[1e-13], abs=1e-4)
    deficit = runs[1e-13][1][0]["film"] - runs[None][1][0]["film"]  # continuous run's start
    assert deficit > 0
    assert 0.5 * deficit < gain[1e-11] - gain[None] < 1.5 * deficit, (gain, deficit)
    assert crystal[1e-11] == pytest.approx(crystal[None], abs=1e-3)


def test_growth_kinetics_in_2d_is_refused_naming_the_dimension():
    data = _growth(1e-12)
    data["run"]["dimension"] = 2
    data["mesh"]["width_nm"] = 2.0
    with pytest.raises(ConfigError) as info:
        validate_data(data)
    found = dict(info.value.problems)
    assert "1D only" in found["physics.crystallization"]
    assert "run.dimension = 2" in found["physics.crystallization"]
