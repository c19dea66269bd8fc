"""The RuO2/TiO2(110) polarization problems keep their headline behaviour: at both interfaces
of the trilayer the polarization points from TiO2 into RuO2 (mirror-symmetric signs), with
displacements of several pm that vanish at the free surface; in the thickness series the
polarization reaches further into a strained film than into a relaxed one."""

from __future__ import annotations

import importlib.util

import pytest

from conftest import PROBLEMS
from heterofem.solver.config import load_config
from heterofem.solver.dolfinx_env import MPI
from heterofem.solver.run import run_case


def test_trilayer_mirror_symmetric_interfacial_polarization(tmp_path):
    cfg = load_config(PROBLEMS / "tio2_ruo2_tio2_110_trilayer_1d.toml")
    pol = run_case(cfg, tmp_path / "run", MPI.COMM_WORLD)["polarization"]
    lower, upper = pol["interfaces"]["buffer/film"], pol["interfaces"]["film/cap"]
    assert lower["P_C_m2"] > 0.05 and upper["P_C_m2"] < -0.05  # from TiO2 into RuO2, both
    assert abs(upper["P_C_m2"]) == pytest.approx(lower["P_C_m2"], rel=0.35)
    assert 3.0 < pol["max_displacement_pm"] < 20.0
    assert abs(pol["interfaces"]["cap/gap"]["P_C_m2"]) < 1e-3  # vanishes at the surface
    assert pol["strain"]["film"]["strain_x"] == pytest.approx(-0.0476, abs=5e-4)


def test_thickness_series_decay_length_follows_strain(tmp_path):
    spec = importlib.util.spec_from_file_location("series", PROBLEMS / "ruo2_thickness_series.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = {r["thickness_nm"]: r for r in mod.main(["--out", str(tmp_path), "--thickness",
                                                    "3.5", "8.0"])}
    strained, relaxed = rows[3.5], rows[8.0]
    assert strained["strain_x_001"] == pytest.approx(-0.0476, abs=5e-4)
    assert abs(relaxed["strain_x_001"]) < 0.002
    assert strained["a1_film_J_m_C2"] < 0.2 * relaxed["a1_film_J_m_C2"]
    assert strained["decay_length_in_film_nm"] > 1.5 * relaxed["decay_length_in_film_nm"]
