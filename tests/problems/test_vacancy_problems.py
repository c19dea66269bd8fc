"""The TiO2-delta / VO2 / TiO2(001) vacancy problem keeps its headline behaviour:
oxygen moves from the VO2 template into the film (directional transfer), the film is oxidised,
the template becomes VO2-delta, lower pO2 puts more vacancies into the template, and no
vacancy is lost (the bottom is blocking, the top's exchange negligible at 150 C)."""

from __future__ import annotations

import pytest

from heterofem.studies.tio2_vo2_po2_series import main as po2_series


@pytest.mark.slow
def test_po2_series_directional_transfer(tmp_path):
    rows = po2_series(["--out", str(tmp_path), "--set", "mesh.size_nm=0.5",
                       "--set", "time.end_s=600", "--set", "time.output_times_s=[60.0]"])
    by_p = {r["pO2_mTorr"]: r for r in rows}
    for r in rows:
        assert r["oxygen_into_film_m2"] > 1e18  # O atoms per m^2 moved up into the film
        assert r["film_delta_final"] < 0.1 * r["film_delta_initial"]
        assert r["template_delta_final"] > 2 * r["template_delta_initial"]
    assert by_p[6.0]["template_delta_final"] > by_p[12.0]["template_delta_final"] \
        > by_p[24.0]["template_delta_final"]
