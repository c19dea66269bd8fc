"""Units as data (issue #24 item 4): every numeric entry of summary.json and every column of
timeseries.csv / profiles.csv has a unit that pint parses, written next to the numbers; the
post-processing reads it from there, not from the key's suffix."""

from __future__ import annotations

import json
from pathlib import Path

import pint
import pytest

from heterofem.solver.summary_units import (SUMMARY_UNITS, TIMESERIES_UNITS, match_unit,
                                            numeric_paths, with_units)

ROOT = Path(__file__).resolve().parents[2]
PROBLEMS = sorted((ROOT / "problems").glob("*.toml"))
UREG = pint.UnitRegistry()

#: short, coarse versions of the problems: the summary's keys depend on the physics and the
#: layers, not on the resolution or on how long the run is
_SHORT = ["time.end_s=0.001", "time.dt_initial_s=0.0002", "time.output_times_s=[]"]
_COARSE_2D = {"ruo2_tio2_110_island_2d": ["mesh.size_nm=2.0", "mesh.interface_size_nm=0.5"],
              "tio2_vo2_tio2_001_growth_2d_island": ["mesh.size_nm=2.0",
                                                     "mesh.interface_size_nm=1.0"],
              "demo_growth_2d_island": ["mesh.size_nm=2.0", "mesh.interface_size_nm=1.0"]}


def _dims(unit: str):
    return UREG.parse_units(unit).dimensionality


def _assert_units(units: dict, what: str) -> None:
    missing = sorted(k for k, u in units.items() if u is None)
    assert not missing, f"{what}: no unit for {missing}; add them to solver/summary_units.py"
    for key, unit in units.items():
        if unit:  # "" only for text columns (layer)
            try:
                UREG.parse_units(unit)
            except (pint.errors.UndefinedUnitError, pint.errors.DefineError, ValueError) as exc:
                pytest.fail(f"{what}: unit {unit!r} of {key} is not a pint unit ({exc})")


def test_table_units_parse():
    for pattern, unit in SUMMARY_UNITS + TIMESERIES_UNITS:
        UREG.parse_units(unit.replace("{dimension}", "2"))


def test_units_the_issue_found_wrong():
    """The keys whose suffix read back wrongly (unit_of gave "s" for a velocity and a
    mobility; "_m2" is m^-2 in an inventory and m^2 in a diffusivity)."""
    length, time = UREG.meter.dimensionality, UREG.second.dimensionality
    energy = UREG.joule.dimensionality
    assert _dims(match_unit("crystallization.front_velocity_stoichiometric_nm_per_s")) == \
        length / time
    assert _dims(match_unit("crystallization.mobility_m3_per_J_s")) == length**3 / (energy * time)
    assert _dims(match_unit("vacancies.inventory_per_m2.film")) == length**-2
    assert _dims(match_unit("vacancies.diffusivity_m2_per_s.film.0")) == length**2 / time
    assert match_unit("electrostatics.net_charge_C_per_m2") == match_unit(
        "polarization.interfaces.a/b.P_C_per_m2") == "C/m^2"
    assert match_unit("mesh.layers.film.volume", dimension=2) == "nm^2"
    assert match_unit("vacancies.something_new") is None  # unknown keys are not guessed


def test_with_units_walks_every_number():
    summary = {"name": "x", "dimension": 1, "converged": True, "wall_time_s": 1.0,
               "work_function": {"work_function_eV": 4.9, "surface_map": {"min_eV": 4.8}},
               "vacancies": {"diffusivity_m2_per_s": {"film": [1e-19, 2e-19]}, "odd": 3.0}}
    out = with_units(summary)
    assert set(out["units"]) == set(numeric_paths(summary)) == {
        "dimension", "wall_time_s", "work_function.work_function_eV",
        "work_function.surface_map.min_eV", "vacancies.diffusivity_m2_per_s.film.0",
        "vacancies.diffusivity_m2_per_s.film.1", "vacancies.odd"}
    assert out["units"]["vacancies.diffusivity_m2_per_s.film.1"] == "m^2/s"
    assert out["units"]["vacancies.odd"] is None


@pytest.mark.slow
@pytest.mark.parametrize("problem", PROBLEMS, ids=[p.stem for p in PROBLEMS])
def test_every_output_number_of_every_problem_has_a_unit(problem, run_simulation):
    """Run each problem (short, coarse) and walk EVERY numeric key of its summary.json and
    every column of its CSV tables: each has a unit in the file's units data, and pint
    parses it. A new summary key without a unit fails here."""
    text = problem.read_text()
    overrides = (_SHORT if "[time]" in text else []) + _COARSE_2D.get(problem.stem, [])
    sim = run_simulation(problem, set=overrides or None, name=problem.stem)
    out = sim.out
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["units"]) == set(numeric_paths(summary))
    _assert_units(summary["units"], f"{problem.stem} summary.json")
    for table in ("profiles", "timeseries"):
        csv = out / f"{table}.csv"
        if not csv.exists():
            continue
        units = json.loads((out / f"{table}.units.json").read_text())
        header = csv.read_text().splitlines()[0].split(",")
        assert list(units) == header, f"{table}.units.json does not match {table}.csv"
        _assert_units(units, f"{problem.stem} {table}.csv")
    for column, meta in summary["fields"].items():
        UREG.parse_units(meta["unit"])


def _fake_run(path: Path, summary: dict, profile_units: dict | None) -> Path:
    path.mkdir()
    (path / "summary.json").write_text(json.dumps(summary))
    (path / "config.resolved.toml").write_text(
        '[run]\nname = "r"\ndimension = 1\n[[layers]]\nname = "a"\nthickness_nm = 1.0\n')
    (path / "profiles.csv").write_text("z_nm,q_m2\n0,1\n1,2\n")
    if profile_units is not None:
        (path / "profiles.units.json").write_text(json.dumps(profile_units))
    return path


def test_postprocess_reads_units_from_the_files_not_the_suffix(tmp_path):
    from heterofem.postprocess import load_run

    summary = {"name": "r", "dimension": 1, "converged": True, "fields": {},
               "vacancies": {"inventory_per_m2": {"a": 1e19}},
               "units": {"dimension": "1", "vacancies.inventory_per_m2.a": "m^-2"}}
    run = load_run(_fake_run(tmp_path / "new", summary, {"z_nm": "nm", "q_m2": "m^-2"}))
    assert run.unit("vacancies.inventory_per_m2.a") == "m^-2"
    assert run.unit("q_m2") == "m^-2"
    assert run.label("q_m2") == "q_m2 [m^-2]"
    assert run.unit("not_there_nm") == ""  # a run with units data guesses nothing
    old = {k: v for k, v in summary.items() if k != "units"}
    legacy = load_run(_fake_run(tmp_path / "old", old, None))
    assert not legacy.has_units and legacy.unit("thickness_nm") == "nm"  # old runs only


def test_docs_table_is_the_code_table():
    """docs/outputs.md is the one documented table: its rows are SUMMARY_UNITS and
    TIMESERIES_UNITS, pattern for pattern and unit for unit."""
    import re

    text = (ROOT / "docs" / "outputs.md").read_text()
    summary_part = text.split("## Units of summary.json")[1].split("## Units of timeseries.csv")[0]
    series_part = text.split("## Units of timeseries.csv")[1]
    row = re.compile(r"^\| `([^`]+)` \| `([^`]+)` \|$", re.M)
    hint = "update docs/outputs.md: python -m heterofem.solver.summary_units prints the rows"
    assert [tuple(r) for r in row.findall(summary_part)] == list(SUMMARY_UNITS), hint
    assert [tuple(r) for r in row.findall(series_part)] == list(TIMESERIES_UNITS), hint
