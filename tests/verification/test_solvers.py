"""Solver options change the path, not the answer: the coupled vacancy + Poisson transient with
a GMRES / field-split preconditioner (GAMG on phi, LU on mu, index sets named after the
unknowns) gives the same result as the default MUMPS LU."""

from __future__ import annotations

import pytest

from conftest import flat_scalars
from heterofem.solver.config import Config
from heterofem.solver.dolfinx_env import MPI
from heterofem.solver.run import run_case

STACK = {
    "run": {"dimension": 2, "temperature_K": 423.15},
    "layers": [
        {"name": "template", "material": "VO2_R", "thickness_nm": 6.0, "delta": 0.002},
        {"name": "film", "material": "TiO2", "thickness_nm": 4.0, "delta": 0.03},
    ],
    "mesh": {"size_nm": 0.8, "interface_size_nm": 0.2, "width_nm": 4.0},
    "physics": {"vacancies": True, "electrons": "fermi-dirac"},
    "boundary": {"bottom": {"phi_V": 0.0}},
    "time": {"end_s": 30.0, "dt_initial_s": 0.01},
    "output": {"fields": False, "mesh": False},
}
FIELDSPLIT = {
    "ksp_type": "gmres", "ksp_rtol": 1e-12, "pc_type": "fieldsplit",
    "pc_fieldsplit_type": "multiplicative",
    "fieldsplit_phi_ksp_type": "preonly", "fieldsplit_phi_pc_type": "gamg",
    "fieldsplit_mu_ksp_type": "preonly", "fieldsplit_mu_pc_type": "lu",
}


def test_fieldsplit_matches_direct_solver(tmp_path):
    direct = run_case(Config.model_validate(STACK), tmp_path / "lu", MPI.COMM_WORLD)
    split = run_case(Config.model_validate({**STACK, "solver": {"petsc_options": FIELDSPLIT}}),
                     tmp_path / "fs", MPI.COMM_WORLD)
    a, b = flat_scalars(direct), flat_scalars(split)
    moved = direct["vacancies"]["oxygen_transferred_up_m2"]["template/film"]
    assert moved > 1e17  # the transient did something
    for key in a:
        if key.startswith("vacancies."):  # per-area counts (~1e17-1e19 m^-2)
            assert b[key] == pytest.approx(a[key], rel=1e-7, abs=1e-9 * moved), key
        elif key.startswith("electrostatics."):  # volts, C/m^2, J/m^2
            assert b[key] == pytest.approx(a[key], rel=1e-7, abs=1e-9), key
