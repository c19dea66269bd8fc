"""Mechanisms of issue #23 against exact results (fast).

1. Gas exchange (solver/physics/vacancies.py, mass action V_O + 1/2 O2 <-> O_O):
   J.n = k(pO2) c [1 - exp(-(mu - mu_gas)/kT)], k = k0 (pO2/p_ref)^n.
   - it vanishes at mu = mu_gas: a layer that starts there stays there (both laws);
   - it oxidises a reduced layer, and in a layer thin enough to stay uniform (L k / D << 1)
     the inventory decays as exp(-k t / L) (the mass-action rate far from equilibrium);
   - its pO2 dependence is the rate order only: with n = 0 two pO2 give the same decay (mu_gas
     is 60 kT away), with n = 1 the decay rate scales as pO2;
   - the linear (Onsager) law is the mass-action law's linearisation: the two agree near
     equilibrium.
2. Template response (solver/template.py): the clamped out-of-plane strain of an isotropic
   chemical eigenstrain equals beta delta (1 + 2 C13/C33) for (001) tetragonal constants and
   beta delta (1 + nu)/(1 - nu) for an isotropic solid in any orientation; T_MI is linear
   inside the law's range 0 <= delta <= T_MIT_law_delta_max and not reported (null + note)
   outside it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from heterofem.solver import thermo, units
from heterofem.solver.config import Config
from heterofem.solver.dolfinx_env import MPI
from heterofem.solver.materials import load_database
from heterofem.solver.run import run_case
from heterofem.solver.template import (law_valid, out_of_plane_expansion, template_summary,
                                       transition_temperature)

T_K = 600.0
KT = units.K_B_EV * T_K
L_NM = 2.0
N_O = 1e22  #: dilute enough that the charge the exchange leaves behind is inert (phi << kT)


def _p(value, unit):
    return {"value": value, "unit": unit, "source": "test value"}


def _material(order: float | None, e_f: float):
    m = {"kind": "insulator", "eps_r_a": _p(10.0, "dimensionless"),
         "eps_r_c": _p(10.0, "dimensionless"),
         "oxygen_site_density": _p(N_O, "m^-3"), "vacancy_formation_energy": _p(e_f, "eV"),
         "vacancy_D0_a": _p(1e-6, "m^2/s"), "vacancy_Ea_a": _p(0.5, "eV"),
         "vacancy_D0_c": _p(1e-6, "m^2/s"), "vacancy_Ea_c": _p(0.5, "eV"),
         "surface_exchange_k0": _p(1e-9, "m/s"), "surface_exchange_Ea": _p(0.0, "eV")}
    if order is not None:
        m["surface_exchange_pO2_order"] = _p(order, "dimensionless")
        m["surface_exchange_pO2_ref"] = _p(1.0, "Pa")
    return m


def _run(tmp_path, name, pO2_Pa, order, delta, e_f, law="mass_action", end_s=0.5):
    cfg = Config.model_validate({
        "run": {"name": name, "dimension": 1, "temperature_K": T_K},
        "layers": [{"name": "A", "material": "M", "thickness_nm": L_NM, "delta": delta,
                    "space_charge_C_m3": -2.0 * units.Q_E * N_O * delta / 2.0}],
        "materials": {"M": _material(order, e_f)},
        "mesh": {"size_nm": 0.2},
        "physics": {"vacancies": True},
        "boundary": {"bottom": {"phi_V": 0.0},
                     "top": {"phi_V": 0.0, "vacancy": "gas", "pO2_Pa": pO2_Pa,
                             "exchange_law": law}},
        "time": {"end_s": end_s, "dt_initial_s": 5e-3, "dt_max_s": 5e-3, "scheme": "bdf2",
                 "error_control": False},
        "output": {"profile_points": 11, "fields": False},
    })
    s = run_case(cfg, tmp_path / name, MPI.COMM_WORLD)
    return s["vacancies"]["mean_delta"]["A"]


@pytest.mark.parametrize("law", ["mass_action", "linear"])
def test_exchange_vanishes_at_the_gas_potential(tmp_path, law):
    """A layer at mu = mu_gas (theta ~ 0.1, not dilute) stays there whichever law."""
    p = 10.0
    mu_gas = thermo.mu_vacancy_gas(T_K, p)
    e_f = mu_gas + 2.2 * KT  # theta_g = 1 / (1 + e^2.2) = 0.0998
    theta = 1.0 / (1.0 + math.exp(2.2))
    delta = _run(tmp_path, f"eq_{law}", p, 1.0, 2 * theta, e_f, law)
    assert delta == pytest.approx(2 * theta, rel=1e-7)


def test_exchange_oxidises_at_the_mass_action_rate_and_pO2_order(tmp_path):
    """A reduced layer (mu - mu_gas = 60 kT): delta decays as exp(-k t / L) with
    k = k0 (pO2/p_ref)^n; n = 0 makes pO2 drop out, n = 1 scales the rate with pO2."""
    p1, p2 = 1.0, 4.0
    mu_gas1 = thermo.mu_vacancy_gas(T_K, p1)
    delta0 = 0.02
    # start at theta0 = delta0/2: mu0 = e_f + kT ln(theta0/(1-theta0)); make mu0 - mu_gas = 60 kT
    e_f = mu_gas1 + 60 * KT - KT * math.log((delta0 / 2) / (1 - delta0 / 2))
    t_end, k0 = 0.25, 1e-9
    L = L_NM * units.NM
    got = {(n, p): _run(tmp_path, f"ox_{int(n)}_{int(p)}", p, n, delta0, e_f, end_s=t_end)
           for n, p in ((0.0, p1), (0.0, p2), (1.0, p2))}
    # n = 0: no pO2 dependence beyond mu_gas (exp(-60) away)
    assert got[(0.0, p1)] == pytest.approx(got[(0.0, p2)], rel=1e-9)
    for (n, p), delta in got.items():
        k = k0 * (p / 1.0) ** n
        # uniform layer (k L / D ~ 1e-9 m/s x 2e-9 m / 6e-11 m^2/s ~ 3e-8): exact exp decay,
        # up to the time discretisation (k dt = 2e-2 per step, BDF2)
        assert delta < delta0  # oxidised
        assert delta == pytest.approx(delta0 * math.exp(-k * t_end / L), rel=2e-3)


def test_linear_law_is_the_linearisation(tmp_path):
    """Near equilibrium (mu - mu_gas = 0.05 kT) the two laws oxidise at the same rate: their
    ratio is x / (1 - exp(-x)) = 1.025 at x = 0.05."""
    p = 10.0
    mu_gas = thermo.mu_vacancy_gas(T_K, p)
    theta0 = 0.01
    out = {}
    for x in (0.05,):
        e_f = mu_gas + x * KT - KT * math.log(theta0 / (1 - theta0))
        for law in ("mass_action", "linear"):
            out[(x, law)] = _run(tmp_path, f"lin_{law}", p, 0.0, 2 * theta0, e_f, law,
                                 end_s=0.5)
    loss_ma = 2 * theta0 - out[(0.05, "mass_action")]
    loss_lin = 2 * theta0 - out[(0.05, "linear")]
    assert loss_ma > 0 and loss_lin > 0
    assert loss_lin == pytest.approx(loss_ma, rel=0.03)


# -- 2. template response -----------------------------------------------------------------------

class _Mat:
    def __init__(self, values):
        self.values = values

    def value(self, key, unit=None, default=None):
        return self.values[key]

    def has(self, key):
        return key in self.values


def test_clamped_expansion_001_matches_the_analytic_formula():
    """Tetragonal (001): eps_zz = beta delta (C13 + C23 + C33)/C33 from the full 3x3 solve, and
    VO2_R's clamped_expansion_factor is that ratio for rutile TiO2's constants."""
    db = load_database()
    tio2, vo2 = db["TiO2"], db["VO2_R"]
    c = {k: tio2.value(k, "GPa") for k in ("C11", "C12", "C13", "C33", "C44", "C66")}
    factor = 1.0 + 2.0 * c["C13"] / c["C33"]
    m = _Mat({**c, "chemical_expansion_coefficient": 0.06})
    for delta in (0.01, 0.1):
        assert out_of_plane_expansion(m, "001", delta) == pytest.approx(0.06 * delta * factor,
                                                                        rel=1e-12)
    assert vo2.value("clamped_expansion_factor", "dimensionless") == pytest.approx(factor,
                                                                                   rel=1e-3)
    beta = vo2.value("chemical_expansion_coefficient", "dimensionless")
    assert out_of_plane_expansion(vo2, "001", 0.1) == pytest.approx(0.1 * beta * factor, rel=1e-3)
    assert out_of_plane_expansion(vo2, "001", 0.0) == 0.0
    with pytest.raises(ValueError, match="C11..C66"):
        out_of_plane_expansion(vo2, "110", 0.1)


@pytest.mark.parametrize("orient", ["001", "110", "100"])
def test_clamped_expansion_isotropic_solid(orient):
    """Isotropic solid (lambda, G): eps_zz = eps* (3 lambda + 2 G)/(lambda + 2 G)
    = eps* (1 + nu)/(1 - nu) in every orientation."""
    lam, g = 100.0, 60.0
    nu = lam / (2 * (lam + g))
    m = _Mat({"C11": lam + 2 * g, "C12": lam, "C13": lam, "C33": lam + 2 * g, "C44": g, "C66": g,
              "chemical_expansion_coefficient": 0.05})
    assert out_of_plane_expansion(m, orient, 0.1) == pytest.approx(
        0.005 * (1 + nu) / (1 - nu), rel=1e-12)


def test_transition_temperature_is_linear_in_delta():
    vo2 = load_database()["VO2_R"]
    t0 = vo2.value("T_MIT_on_TiO2_001", "K")
    slope = vo2.value("dT_MIT_ddelta", "K")
    assert transition_temperature(vo2, 0.0) == pytest.approx(t0)
    assert transition_temperature(vo2, 0.02) == pytest.approx(t0 + 0.02 * slope)
    assert slope < 0  # vacancies (electron doping) lower T_MI
    assert np.isfinite(t0)


def _template_entry(delta_final: float, delta_initial: float) -> dict:
    """summary.json's template entry of one (001) VO2 layer at the given mean deltas."""
    from types import SimpleNamespace

    vo2 = load_database()["VO2_R"]
    cfg = SimpleNamespace(layers=[SimpleNamespace(name="template", material="VO2_R",
                                                  orientation="001")])
    vac = {"mean_delta": {"template": delta_final},
           "initial_mean_delta": {"template": delta_initial}}
    return template_summary(cfg, {"VO2_R": vo2}, vac)["template"]


def test_transition_temperature_only_inside_the_laws_range():
    """The linear law is reported only for 0 <= delta <= T_MIT_law_delta_max (the W-doping
    range it comes from); at the limit it is still well above 0 K, beyond it T_MI is None with
    a note naming the key, and the JSON carries null."""
    import json

    vo2 = load_database()["VO2_R"]
    lim = vo2.value("T_MIT_law_delta_max", "dimensionless")
    assert 0.0 < lim < 0.1
    assert transition_temperature(vo2, lim) > 100.0  # the law stays physical in its range
    assert law_valid(vo2, 0.0) and law_valid(vo2, lim)
    assert not law_valid(vo2, 1.01 * lim) and not law_valid(vo2, -1e-3)
    inside = _template_entry(0.5 * lim, 0.0)
    assert inside["T_MI_K"] == pytest.approx(transition_temperature(vo2, 0.5 * lim))
    assert inside["T_MI_initial_K"] == pytest.approx(vo2.value("T_MIT_on_TiO2_001", "K"))
    assert "T_MI_note" not in inside
    outside = _template_entry(3.0 * lim, 0.5 * lim)  # a thin template under a thick film
    assert outside["T_MI_K"] is None
    assert outside["T_MI_initial_K"] == pytest.approx(transition_temperature(vo2, 0.5 * lim))
    assert "T_MIT_law_delta_max" in outside["T_MI_note"] and "T_MI_K " in outside["T_MI_note"]
    assert outside["out_of_plane_expansion_percent"] > 0  # the expansion is still reported
    assert json.loads(json.dumps(outside))["T_MI_K"] is None


def test_exchange_law_needs_a_gas_facet(tmp_path):
    from conftest import assert_input_error, cli

    out = tmp_path / "run"
    result = cli("run", "problems/tio2_vo2_tio2_001_vacancies_1d.toml", "--out", str(out),
                 "--set", "boundary.bottom.exchange_law=linear")
    assert_input_error(result, "boundary.bottom", out)
