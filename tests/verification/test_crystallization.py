"""Amorphous -> crystal phase field (solver/physics/crystallization.py) against exact results.

With h = xi^2 (3 - 2 xi) the tanh front xi = (1 - tanh((z - z_f) / (2 l))) / 2 is an exact
travelling wave of (1/M) dxi/dt = kappa lap(xi) - W g'(xi) - h'(xi) domega for a constant
driving force dG = -domega, moving at v = 6 l M dG, and its energy per area is gamma - dG z_f
(W = 3 gamma / l, kappa = 6 gamma l). Numbers measured when the tests were written are in
the comments (1D, P1, dt = 0.05 s with BDF2, h = 0.2 nm, l = 1 nm, M = 5.10e-8 m^3/(J s) at
423.15 K, dG = 1e7 J/m^3: v = 3.0618 nm/s, relaxation time 1/(M W) = 0.033 s).

1. A flat front moves at v = 6 l M dG (slope of the crystalline thickness) and keeps the tanh
   profile; the profile error falls at second order with the mesh size; M is the Arrhenius
   value of the amorphous material's M0, Ea.
2. dG = 0: a front in the middle of the film does not move; dG < 0: it moves back at -|v|.
3. The free energy never rises (isothermal, no deposition, no vacancies), also from a
   non-equilibrium start (a crystalline seed facet at the top against an amorphous film
   that then closes with the lower crystal); the flat front's energy is gamma - dG z_f.
4. Vacancies + crystallization + deposition with blocking facets conserve the vacancies
   (N_V_total) while the front moves; the front gives its vacancies to the template.
5. A crystallization run without [time] is rejected naming ``time``; a bottom film without a
   seed facet is rejected naming ``crystallization.seed``.
"""

from __future__ import annotations

import copy
import csv
import math
import time
from pathlib import Path

import numpy as np
import pytest
import tomli_w

from conftest import heterofem
from heterofem.solver import units
from heterofem.solver.config import ConfigError
from heterofem.solver.validation import validate_data
from heterofem.solver.dolfinx_env import MPI
from heterofem.solver.run import run_case

T_K = 423.15
GAMMA = 0.2  # J/m^2, TiO2_amorphous.toml interface_energy
M0, EA = 1.0e7, 1.2  # m^3/(J s), eV: TiO2_amorphous.toml front_mobility_M0 / _Ea
ELL = 1.0  # nm
DG = 1.0e7  # J/m^3


def _front_config(*, thickness=30.0, front=8.0, dG=DG, h=0.2, dt=0.05, end=3.0, scheme="bdf2",
                  seed="none", dt_initial=None, profile_points=301) -> dict:
    """One film, the phase field alone (no vacancies): a constant driving force dG."""
    return {
        "run": {"name": "allen_cahn_front", "dimension": 1, "temperature_K": T_K},
        "layers": [{"name": "film", "material": "TiO2", "thickness_nm": thickness}],
        "mesh": {"size_nm": h},
        "physics": {"crystallization": True},
        "crystallization": {"layers": ["film"], "seed": seed, "initial_front_nm": front,
                            "interface_width_nm": ELL, "driving_force_J_m3": dG},
        "boundary": {"bottom": {"phi_V": 0.0}},
        "time": {"end_s": end, "dt_initial_s": dt_initial or dt, "dt_max_s": dt,
                 "scheme": scheme},
        "output": {"fields": False, "mesh": False, "profile_points": profile_points},
    }


def _run(data: dict, out: Path) -> dict:
    t0 = time.perf_counter()
    summary = run_case(validate_data(copy.deepcopy(data)), out, MPI.COMM_WORLD)
    summary["_wall_s"] = time.perf_counter() - t0
    return summary


def _timeseries(run_dir: Path) -> dict[str, np.ndarray]:
    with open(Path(run_dir) / "timeseries.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def _profiles(run_dir: Path) -> dict[str, np.ndarray]:
    with open(Path(run_dir) / "profiles.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([r[k] if k == "layer" else float(r[k]) for r in rows]) for k in rows[0]}


def _tanh_front(z, z_f):
    return 0.5 * (1.0 - np.tanh((z - z_f) / (2.0 * ELL)))


def _slope(ts: dict, t_from: float) -> float:
    """Least-squares slope of the crystalline thickness [nm/s] over t >= t_from."""
    keep = ts["t_s"] >= t_from
    assert keep.sum() > 10
    return float(np.polyfit(ts["t_s"][keep], ts["crystalline_thickness_nm"][keep], 1)[0])


def _profile_error(run_dir: Path) -> float:
    """Max |xi - tanh front| at the end, the front placed at the crystalline thickness."""
    prof, ts = _profiles(run_dir), _timeseries(run_dir)
    assert np.all(prof["layer"] == "film")
    exact = _tanh_front(prof["z_nm"], ts["crystalline_thickness_nm"][-1])
    return float(np.max(np.abs(prof["xi"] - exact)))


def _assert_energy_non_increasing(ts: dict, label: str) -> float:
    energy = ts["phase_free_energy_J_per_m2"]
    rises = np.diff(energy)
    # round-off of an integral of O(0.1 J/m^2) summed over the cells
    tol = 1e-12 * np.max(np.abs(energy))
    worst = int(np.argmax(rises)) + 1
    assert np.all(rises <= tol), (f"{label}: free energy rises by up to {rises.max():.3e} J/m^2 "
                                  f"(step {worst}, t = {ts['t_s'][worst]} s)")
    return float(rises.max())


@pytest.fixture(scope="module")
def front_run(tmp_path_factory):
    """Runs of _front_config, each done once per module (keyed by its overrides)."""
    done: dict[tuple, tuple[Path, dict]] = {}

    def get(**kw):
        key = tuple(sorted(kw.items()))
        if key not in done:
            out = tmp_path_factory.mktemp("front") / "run"
            done[key] = (out, _run(_front_config(**kw), out))
        return done[key]

    return get


# -- 1. travelling wave ------------------------------------------------------------------------

def test_flat_front_moves_at_the_analytic_velocity(front_run):
    """Front at 8 nm in a 30 nm film, 3 s with BDF2 (dt = 0.05 s, 60 steps): the slope of the
    crystalline thickness over t >= 0.5 s is 6 l M dG. Measured: rel. error -5.3e-4 (h = 0.2,
    dt = 0.05); dt = 0.1 gives -4.9e-3, dt = 0.025 gives +6.1e-4 (the mesh error)."""
    out, summary = front_run()
    cr = summary["crystallization"]
    # M is the Arrhenius mobility of TiO2_amorphous.toml, and the reported velocity 6 l M dG
    mobility = M0 * math.exp(-EA / (units.K_B_EV * T_K))
    assert cr["mobility_m3_per_J_s"] == pytest.approx(mobility, rel=1e-12)
    v = 6.0 * ELL * mobility * DG  # nm/s (l in nm)
    assert cr["front_velocity_stoichiometric_nm_per_s"] == pytest.approx(v, rel=1e-12)
    assert cr["interface_energy_J_per_m2"] == GAMMA and cr["interface_width_nm"] == ELL
    ts = _timeseries(out)
    slope = _slope(ts, 0.5)
    err = slope / v - 1.0
    print(f"front velocity: v = {v:.6f} nm/s, fitted {slope:.6f} nm/s, rel. error {err:.2e}; "
          f"{summary['time']['steps']} steps, {summary['_wall_s']:.1f} s")
    assert abs(err) < 2e-3
    # the front really crossed the film: ~9 nm in 3 s, and stays inside it
    moved = ts["crystalline_thickness_nm"][-1] - ts["crystalline_thickness_nm"][0]
    assert moved == pytest.approx(v * 3.0, rel=2e-3)
    assert cr["xi_max"] <= 1.0 + 1e-9 and cr["xi_min"] >= -1e-9


def test_flat_front_keeps_the_tanh_profile(front_run):
    """profiles.csv xi at the end against (1 - tanh((z - z_f)/(2 l)))/2, z_f the crystalline
    thickness. Measured max error 4.5e-4 (h = 0.2 nm; 3.3e-5 at h = 0.1, 1.7e-3 at h = 0.4).
    The profile points (0.1 nm apart) include the cell midpoints, where the P1 interpolation
    error h^2/8 |xi''| dominates: halving h divides the error by ~3.8 (order 1.9)."""
    err = {h: _profile_error(front_run(h=h)[0]) for h in (0.4, 0.2)}
    order = math.log2(err[0.4] / err[0.2])
    print(f"tanh profile: max error {err[0.4]:.2e} (h = 0.4), {err[0.2]:.2e} (h = 0.2), "
          f"order {order:.2f}")
    assert err[0.2] < 2e-3
    assert order > 1.6


# -- 2. zero and negative driving force ----------------------------------------------------------

def test_zero_driving_force_front_stays(front_run):
    """dG = 0, the front in the middle of a uniform 30 nm film, 30 relaxation times: by
    symmetry it cannot move. Measured shift 0 to round-off (~1e-14 nm); the profile stays
    the exact tanh (3e-4, the interpolation error)."""
    out, summary = front_run(front=15.0, dG=0.0, end=1.0, dt=0.1)
    ts = _timeseries(out)
    shift = np.max(np.abs(ts["crystalline_thickness_nm"] - ts["crystalline_thickness_nm"][0]))
    print(f"dG = 0: max shift {shift:.2e} nm, profile error {_profile_error(out):.2e}")
    assert ts["crystalline_thickness_nm"][0] == pytest.approx(15.0, abs=1e-6)
    assert shift < 1e-6
    assert _profile_error(out) < 2e-3
    assert summary["crystallization"]["front_velocity_stoichiometric_nm_per_s"] == 0.0
    _assert_energy_non_increasing(ts, "dG = 0")


def test_negative_driving_force_front_recedes(front_run):
    """dG = -1e7 J/m^3: the amorphous phase is favoured and the front moves down at
    -6 l M |dG|. Measured rel. error -5.3e-4 (the mirror image of the dG > 0 run)."""
    out, summary = front_run(front=20.0, dG=-DG, end=2.0)
    v = summary["crystallization"]["front_velocity_stoichiometric_nm_per_s"]
    assert v < 0.0
    forward = front_run()[1]["crystallization"]["front_velocity_stoichiometric_nm_per_s"]
    assert v == pytest.approx(-forward, rel=1e-12)
    ts = _timeseries(out)
    slope = _slope(ts, 0.5)
    print(f"dG < 0: v = {v:.6f} nm/s, fitted {slope:.6f} nm/s, rel. error {slope / v - 1:.2e}")
    assert slope < 0.0
    assert abs(slope / v - 1.0) < 2e-3
    assert _profile_error(out) < 2e-3


# -- 3. free energy --------------------------------------------------------------------------------

def test_flat_front_energy_and_decay(front_run):
    """E = gamma - dG z_f for the tanh front, at the start and along the run (it is a
    travelling wave, so E falls at the rate dG v); never rising at any BDF2 step.
    Measured: E(0) = 0.1200665 vs 0.12 (5.5e-4 relative, the O(h^2) gradient energy);
    E(3 s) - (gamma - dG z_f(3 s)) = 6.7e-5 J/m^2."""
    out, summary = front_run()
    ts = _timeseries(out)
    z_f = ts["crystalline_thickness_nm"]
    expected = GAMMA - DG * z_f * units.NM
    e0 = ts["phase_free_energy_J_per_m2"][0]
    print(f"flat front energy: E(0) = {e0:.7f} J/m^2, gamma - dG z_f = {expected[0]:.7f}; "
          f"at the end {ts['phase_free_energy_J_per_m2'][-1]:.7f} vs {expected[-1]:.7f}")
    assert e0 == pytest.approx(GAMMA - DG * 8.0 * units.NM, rel=1e-3)
    # the interface energy alone is gamma
    np.testing.assert_allclose(ts["phase_free_energy_J_per_m2"] + DG * z_f * units.NM, GAMMA,
                               rtol=1e-3)
    np.testing.assert_allclose(ts["phase_free_energy_J_per_m2"], expected, rtol=0, atol=2e-4)
    _assert_energy_non_increasing(ts, "flat front, BDF2")


def test_energy_decreases_from_a_non_equilibrium_start(tmp_path):
    """A crystalline seed facet at the top (xi = 1 held there from t = 0 against an amorphous
    film: a jump, far from equilibrium) and a crystal below a front at 6 nm in a 16 nm film,
    dG > 0: a second front forms at the top and runs down, the two meet and annihilate, and the
    film ends fully crystalline with E = -dG L. BDF1 with dt <= 0.05 s (below 2 / (M W
    max|g'' + h'' dG/W|) = 0.06 s, where backward Euler is energy stable). The energy must not
    rise at any step, through the annihilation too. Measured: E from 0.34 to -0.16 J/m^2,
    largest rise <= 0."""
    data = _front_config(thickness=16.0, front=6.0, seed="top", scheme="bdf1", dt=0.05,
                         dt_initial=0.005, end=3.0, profile_points=161)
    summary = _run(data, tmp_path / "run")
    ts = _timeseries(tmp_path / "run")
    energy = ts["phase_free_energy_J_per_m2"]
    worst = _assert_energy_non_increasing(ts, "seed at the top")
    final = -DG * 16.0 * units.NM
    print(f"non-equilibrium start: E {energy[0]:.5f} -> {energy[-1]:.6f} J/m^2 "
          f"(-dG L = {final:.6f}), largest step change {worst:.2e}; "
          f"{summary['time']['steps']} steps, "
          f"{summary['_wall_s']:.1f} s")
    # the start is far from equilibrium: the seed's jump costs far more than gamma
    assert energy[0] > GAMMA - DG * 6.0 * units.NM + 0.1
    # the fronts closed: all crystal, E = -dG L
    assert summary["crystallization"]["xi_min"] > 1.0 - 1e-6
    assert ts["crystalline_thickness_nm"][-1] == pytest.approx(16.0, rel=1e-6)
    assert energy[-1] == pytest.approx(final, rel=1e-6)


# -- 4. vacancy conservation with crystallization and deposition ---------------------------------

GROWTH = {
    "run": {"name": "growth_blocking", "dimension": 1, "temperature_K": T_K},
    "layers": [
        {"name": "substrate", "material": "TiO2", "thickness_nm": 8.0, "delta": 1e-5},
        {"name": "template", "material": "VO2_R", "thickness_nm": 12.0, "delta": 0.002},
        {"name": "film", "material": "TiO2", "thickness_nm": 10.0},
    ],
    "mesh": {"size_nm": 0.5, "interface_size_nm": 0.05, "refine_distance_nm": 1.0},
    "physics": {"vacancies": True, "electrons": "fermi-dirac", "crystallization": True},
    "crystallization": {"layers": ["film"],
                        "deposition": {"rate_nm_s": 0.01, "initial_thickness_nm": 0.5,
                                       "pO2_mTorr": 12.0}},
    "boundary": {"bottom": {"phi_V": 0.0}},  # no gas facet: every facet blocks the vacancies
    "time": {"end_s": 500.0, "dt_initial_s": 0.01, "scheme": "bdf2", "dt_max_s": 50.0},
    "output": {"fields": False, "mesh": False, "profile_points": 101},
}


def test_vacancies_conserved_while_the_front_moves(tmp_path):
    """TiO2 / VO2(R) template / TiO2 film deposited at 0.01 nm/s at 150 C, blocking facets:
    N_V_total is constant while the film grows from 0.5 to 5.5 nm and the front, fed by the
    template taking the film's vacancies, advances by ~1.85 nm. Measured: max |N_V_total / N_V(0)
    - 1| = 3.8e-10 (dt_max = 50 s; 6.8e-12 with dt_max = 20 s), 31 steps."""
    summary = _run(GROWTH, tmp_path / "run")
    ts = _timeseries(tmp_path / "run")
    total = ts["N_V_total_per_m2"]
    drift = float(np.max(np.abs(total / total[0] - 1.0)))
    grown = ts["crystalline_thickness_nm"][-1] - ts["crystalline_thickness_nm"][0]
    print(f"conservation: max rel. drift of N_V_total {drift:.2e}; front advanced {grown:.3f} nm; "
          f"template delta {ts['delta_template'][0]} -> {ts['delta_template'][-1]:.5f}; "
          f"{summary['time']['steps']} steps, {summary['_wall_s']:.1f} s")
    assert grown > 1.0  # the front really moved
    assert drift < 1e-8
    # the parts add up to the total, and the template gains what the others lose
    parts = ts["N_V_substrate_per_m2"] + ts["N_V_template_per_m2"] + ts["N_V_film_per_m2"]
    np.testing.assert_allclose(parts, total, rtol=1e-10)  # csv: 12 digits
    gained = ts["N_V_template_per_m2"] - ts["N_V_template_per_m2"][0]
    np.testing.assert_allclose(ts["oxygen_from_template_per_m2"], gained, rtol=1e-9,
                               atol=1e-9 * total[0])
    assert gained[-1] > 0.1 * ts["N_V_film_per_m2"][0]  # a large exchange, not a round-off one
    # deposition: z_s = 0.5 nm + 0.01 nm/s t
    np.testing.assert_allclose(ts["deposited_thickness_nm"], 0.5 + 0.01 * ts["t_s"], rtol=1e-10)
    cr = summary["crystallization"]
    assert cr["epitaxial_thickness_nm"] == pytest.approx(ts["crystalline_thickness_nm"][-1],
                                                         rel=1e-10)  # csv: 12 digits
    assert cr["deposited_thickness_nm"] == pytest.approx(5.5, rel=1e-12)
    assert summary["vacancies"]["total_inventory_per_m2"] == pytest.approx(total[0], rel=1e-8)
    # P1 with a consistent mass matrix has no discrete maximum principle: a small undershoot
    # (measured xi_min = -1.7e-5 on this 0.5 nm mesh, -2e-9 on a 0.25 nm one)
    assert -1e-3 < cr["xi_min"] and cr["xi_max"] <= 1.0 + 1e-9


# -- 5. bad input ----------------------------------------------------------------------------------

def test_crystallization_without_time_is_rejected(tmp_path):
    """No [time]: exit status 2 and one message naming ``time``, nothing written; a film on
    the bottom of the stack with neither a seed nor an initial front names
    ``crystallization.seed``."""
    data = _front_config()
    del data["time"]
    cfg = tmp_path / "steady.toml"
    cfg.write_text(tomli_w.dumps(data))
    out = tmp_path / "out"
    proc = heterofem("run", str(cfg), "--out", str(out), check=False)
    assert proc.returncode == 2, proc.stderr
    assert "time" in proc.stderr and "transient" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (out / "summary.json").exists()
    data = _front_config()
    del data["crystallization"]["seed"], data["crystallization"]["initial_front_nm"]
    with pytest.raises(ConfigError) as info:
        validate_data(data)
    assert "name a seed facet" in dict(info.value.problems)["crystallization.seed"]
