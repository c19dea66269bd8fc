"""The TiO2-delta / VO2 / TiO2(001) vacancy problem keeps its headline behaviour:
oxygen moves from the VO2 template into the film (directional transfer), the film is oxidised
and the template becomes VO2-delta.

(The former pO2 series of this problem, heterofem.studies.tio2_vo2_po2_series, imposed the
film's delta through an old deposit law written into the study; it is retired: the pO2
dependence is now the growth study's, through the physics' own deposit law and gas exchange,
tests/problems/test_study_growth.py and test_growth_mechanisms.py.)"""

from __future__ import annotations

import pytest

from heterofem.studies import PROBLEMS


@pytest.mark.slow
def test_directional_transfer_from_the_template_into_the_film(run_simulation):
    sim = run_simulation(PROBLEMS / "tio2_vo2_tio2_001_vacancies_1d.toml",
                         set={"mesh.size_nm": 0.5, "time.end_s": 600.0,
                              "time.output_times_s": [60.0]})
    vac = sim.summary["vacancies"]
    assert vac["oxygen_transferred_up_per_m2"]["template/film"] > 1e18  # O atoms per m^2 moved up
    assert vac["mean_delta"]["film"] < 0.1 * vac["initial_mean_delta"]["film"]
    assert vac["mean_delta"]["template"] > 2 * vac["initial_mean_delta"]["template"]
