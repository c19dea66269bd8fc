"""The work function from the solved electrostatics, against analytic vacuum-level shifts.

- A dipole sheet (+sigma and -sigma a distance d apart in a dielectric eps_B) between a
  grounded back contact and vacuum shifts the vacuum level: Phi - W = sigma d / (eps0 eps_B)
  (D = sigma between the sheets, zero elsewhere: the field is E = sigma/(eps0 eps_B) upward
  between them, so phi_vac = -sigma d/(eps0 eps_B) and Phi = W - phi_vac).
- A polarized insulating layer under vacuum: the polarization part equals minus the bare
  dipole step int P_z / (eps0 eps_inf) dz of that layer (open circuit: D = 0 everywhere).
- A metal screens a sheet charge at its surface over lambda_TF: the potential in the metal
  decays as exp(-distance / lambda_TF).
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from conftest import PROBLEMS
from heterofem.solver.config import Config
from heterofem.solver.dolfinx_env import MPI
from heterofem.solver.run import run_case

EPS0 = 8.8541878128e-12
SRC = {"source": "test value"}


def _diel(eps, wf=4.5, **extra):
    p = {"kind": "insulator", "eps_r_a": {"value": eps, "unit": "dimensionless", **SRC},
         "eps_r_c": {"value": eps, "unit": "dimensionless", **SRC},
         "work_function": {"value": wf, "unit": "eV", **SRC}}
    p.update(extra)
    return p


def test_dipole_sheet_shifts_the_vacuum_level(tmp_path):
    sigma, d, eps_b = 0.01, 2.0, 7.0
    cfg = Config.model_validate({
        "run": {"dimension": 1},
        "layers": [{"name": "A", "material": "dA", "thickness_nm": 3.0},
                   {"name": "B", "material": "dB", "thickness_nm": d},
                   {"name": "C", "material": "dA", "thickness_nm": 1.0},
                   {"name": "gap", "material": "vacuum", "thickness_nm": 2.0}],
        "materials": {"dA": _diel(20.0, wf=4.7), "dB": _diel(eps_b)},
        "mesh": {"size_nm": 0.2, "interface_size_nm": 0.05},
        "boundary": {"bottom": {"phi_V": 0.0}, "A/B": {"surface_charge_C_m2": sigma},
                     "B/C": {"surface_charge_C_m2": -sigma}},
    })
    wf = run_case(cfg, tmp_path / "run", MPI.COMM_WORLD)["work_function"]
    shift = sigma * d * 1e-9 / (EPS0 * eps_b)
    assert wf["charges_eV"] == pytest.approx(shift, rel=1e-8)
    assert wf["work_function_eV"] == pytest.approx(4.7 + shift, rel=1e-10)
    assert wf["polarization_eV"] == 0.0


def test_polarized_layer_shift_is_its_dipole_step(tmp_path):
    landau = {
        "landau_a1": {"value": 2e8, "unit": "J*m/C^2", **SRC},
        "landau_a11": {"value": 5e9, "unit": "J*m^5/C^4", **SRC},
        "gradient_energy": {"value": 1e-9, "unit": "J*m^3/C^2", **SRC},
        "eps_inf_a": {"value": 6.0, "unit": "dimensionless", **SRC},
        "eps_inf_c": {"value": 6.0, "unit": "dimensionless", **SRC},
    }
    cfg = Config.model_validate({
        "run": {"dimension": 1},
        "layers": [{"name": "sub", "material": "dA", "thickness_nm": 4.0, "polar": False,
                    "coherent": False},
                   {"name": "polar", "material": "pol", "thickness_nm": 3.0, "coherent": False},
                   {"name": "gap", "material": "vacuum", "thickness_nm": 2.0}],
        "materials": {"dA": _diel(20.0), "pol": _diel(30.0, wf=5.0, **landau)},
        "mesh": {"size_nm": 0.1, "interface_size_nm": 0.05},
        "physics": {"polarization": True},
        "boundary": {"bottom": {"phi_V": 0.0}, "sub/polar": {"polar_bias_V": 0.3}},
    })
    summary = run_case(cfg, tmp_path / "run", MPI.COMM_WORLD)
    wf, pol = summary["work_function"], summary["polarization"]
    bare = pol["dipole_potential_step_bare_V"]["polar"]
    assert abs(bare) > 1e-3  # a real polarization
    assert wf["polarization_eV"] == pytest.approx(-bare, rel=1e-6)
    assert wf["work_function_eV"] == pytest.approx(5.0 + wf["charges_eV"] - bare, rel=1e-8)


def test_metal_screens_over_the_thomas_fermi_length(tmp_path):
    lam = 0.25
    metal = _diel(5.0, wf=5.05, screening_length={"value": lam, "unit": "nm", **SRC})
    metal["kind"] = "metal"
    cfg = Config.model_validate({
        "run": {"dimension": 1},
        "layers": [{"name": "metal", "material": "m", "thickness_nm": 6.0},
                   {"name": "diel", "material": "dA", "thickness_nm": 2.0},
                   {"name": "gap", "material": "vacuum", "thickness_nm": 2.0}],
        "materials": {"m": metal, "dA": _diel(10.0)},
        "mesh": {"size_nm": 0.02, "interface_size_nm": 0.01},
        "boundary": {"bottom": {"phi_V": 0.0}, "metal/diel": {"surface_charge_C_m2": 0.02}},
        "output": {"profile_points": 3001},
    })
    run_case(cfg, tmp_path / "run", MPI.COMM_WORLD)
    with open(tmp_path / "run" / "profiles.csv") as fh:
        rows = [(float(r["z_nm"]), float(r["phi_V"])) for r in csv.DictReader(fh)]
    z, phi = np.array(rows).T
    inside = (z > 6.0 - 4 * lam) & (z < 6.0 - 0.5 * lam)
    slope = np.polyfit(6.0 - z[inside], np.log(phi[inside]), 1)[0]
    assert -1.0 / slope == pytest.approx(lam, rel=1e-2)


def test_surface_map_numbers_from_the_solver_files_from_postprocess(tmp_path):
    """A 2D run with a work function: the solver computes the KPFM-like map (its range in
    summary.json); heterofem.postprocess.surface writes surface_potential.csv and .png from
    those numbers, and redraws the picture from the CSV."""
    from heterofem import Simulation
    from heterofem.postprocess import load_run
    from heterofem.postprocess.surface import plot_surface_potential

    sim = Simulation.from_toml(PROBLEMS / "ruo2_tio2_110_island_2d.toml",
                               set={"mesh.size_nm": 1.0})
    run_dir = tmp_path / "island"
    sim.run(run_dir)
    surface = sim.summary["work_function"]["surface_map"]
    with open(run_dir / "surface_potential.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["x_nm", "phi_V", "work_function_eV"] and len(rows) == 201
    wf = np.array([float(r["work_function_eV"]) for r in rows])
    assert wf.min() == pytest.approx(surface["min_eV"], rel=1e-11)
    assert wf.max() == pytest.approx(surface["max_eV"], rel=1e-11)
    assert surface["contrast_eV"] > 0  # the island shows in the map
    assert (run_dir / "surface_potential.png").stat().st_size > 1000
    redrawn = plot_surface_potential(run_dir, tmp_path / "again.png")
    assert redrawn.stat().st_size > 1000
    # the solver wrote the interface heights on the profile line: the island lifts film/gap
    assert sim.summary["interfaces"]["film/gap"]["z_nm"] == pytest.approx(12.0)
    spans = {lay.name: (a, b) for lay, a, b in load_run(run_dir).layer_spans}
    assert spans["film"] == pytest.approx((8.0, 12.0))
