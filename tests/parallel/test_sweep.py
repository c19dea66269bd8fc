"""Sweeps: cases split over MPI groups give the same table as a serial sweep; a bad case is
recorded and the others finish; a rerun skips finished cases; cases are named by their
parameters, log to their own files with one console line each, and counts stay integers."""

from __future__ import annotations

import csv
import json

import pytest

from conftest import PROBLEMS, heterofem

CONFIG = str(PROBLEMS / "ruo2_tio2_110_1d.toml")
PARAMS = ["--param", "layers.1.thickness_nm=[1.5, 3.5, -1.0, 6.0]", "--param", "boundary.top.phi_V=[0.8]"]


def _table(out):
    with open(out / "sweep.csv") as fh:
        return list(csv.DictReader(fh))


def _numeric(row):
    out = {}
    for k, v in row.items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            pass
    return out


def test_parameter_parsing():
    from heterofem.solver.sweep import SweepError, cases, parse_param

    assert parse_param("run.temperature_K=300:400:3") == ("run.temperature_K", [300.0, 350.0, 400.0])
    assert parse_param("layers.1.material=[\"TiO2\", \"RuO2\"]")[1] == ["TiO2", "RuO2"]
    grid = cases([("a", [1, 2]), ("b", [3, 4])], zipped=False)
    assert len(grid) == 4 and {"a": 2, "b": 3} in grid
    assert cases([("a", [1, 2]), ("b", [3, 4])], zipped=True) == [{"a": 1, "b": 3}, {"a": 2, "b": 4}]
    with pytest.raises(SweepError):
        parse_param("x=1:2")
    with pytest.raises(SweepError):
        cases([("a", [1, 2]), ("b", [3])], zipped=True)


@pytest.mark.mpi
def test_sweep_two_ranks_matches_serial_and_reports_bad_case(tmp_path):
    heterofem("sweep", CONFIG, *PARAMS, "--out", str(tmp_path / "serial"))
    proc = heterofem("sweep", CONFIG, *PARAMS, "--ranks-per-case", "1", "--out",
                     str(tmp_path / "mpi"), np=2)
    assert "1 failed (layers.1.thickness_nm=-1,boundary.top.phi_V=0.8)" in proc.stdout
    serial, parallel = _table(tmp_path / "serial"), _table(tmp_path / "mpi")
    assert [r["status"] for r in serial] == ["ok", "ok", "failed", "ok"]
    assert "layers.1.thickness_nm" in serial[2]["error"]
    assert [r["status"] for r in parallel] == [r["status"] for r in serial]
    for a, b in zip(serial, parallel):
        na, nb = _numeric(a), _numeric(b)
        assert na.keys() == nb.keys()
        for k in na:
            assert nb[k] == pytest.approx(na[k], rel=1e-9, abs=1e-12), k
    # each case ran in one rank, under a 2-rank world
    summary = json.loads((tmp_path / "mpi" / "layers.1.thickness_nm=1.5,boundary.top.phi_V=0.8"
                          / "summary.json").read_text())
    assert summary["mpi_size"] == 1
    # a rerun skips what is done and runs the failed case again (still failing)
    again = heterofem("sweep", CONFIG, *PARAMS, "--out", str(tmp_path / "serial"))
    rows = _table(tmp_path / "serial")
    assert [r["status"] for r in rows] == ["done (earlier run)"] * 2 + ["failed", "done (earlier run)"]
    assert "1 failed" in again.stdout


def test_case_names_are_the_parameters_and_filesystem_safe():
    from heterofem.solver.sweep import case_name, case_names

    assert case_name({"layers.film.thickness_nm": 3.5}, 0) == "layers.film.thickness_nm=3.5"
    assert case_name({"a": 0.1 + 0.2, "b": 6.0}, 0) == "a=0.3,b=6"
    assert case_name({"boundary.substrate/film.x": "Ti O2"}, 0) == \
        "boundary.substrate_film.x=Ti_O2"
    long = case_name({"k" * 200: 1.0}, 7)
    assert len(long) < 130 and long.endswith("~0007")
    assert case_names([{"a": 1.0000000000001}, {"a": 1.0}]) == ["a=1", "a=1~0001"]


def test_sweep_logs_per_case_one_console_line_each_and_integer_columns(tmp_path, capfd):
    """In-process serial sweep: each case's log is in its own run.log, the console has one
    status line per case (and no case's solver log), sweep.csv keeps counts as integers and
    sweep.units.json gives every column's unit."""
    from heterofem.solver.logs import LOG, setup_logging
    from heterofem.solver.sweep import run_sweep

    saved = (list(LOG.handlers), LOG.level, LOG.propagate)
    setup_logging(0)  # as the CLI does: INFO to the console
    try:
        run_sweep(PROBLEMS / "ruo2_tio2_110_1d.toml",
                  [("layers.1.thickness_nm", [1.5, 3.5])], tmp_path)
    finally:
        LOG.handlers[:], LOG.level, LOG.propagate = saved
    err = capfd.readouterr().err
    lines = [l for l in err.splitlines() if l.startswith("heterofem sweep: case")]
    assert len(lines) == 2 and all(": ok (" in l for l in lines), err
    assert "Newton converged" not in err  # the cases' logs stay in their files
    for name in ("layers.1.thickness_nm=1.5", "layers.1.thickness_nm=3.5"):
        assert "Newton converged" in (tmp_path / name / "run.log").read_text()
    rows = _table(tmp_path)
    assert rows[0]["dofs"].isdigit()  # not "123.0"
    assert rows[0]["newton_iterations"] == "1"
    units = json.loads((tmp_path / "sweep.units.json").read_text())
    assert set(units) == set(rows[0])
    assert units["param.layers.1.thickness_nm"] == "nm"
    assert units["electrostatics.potential_drop_V"] == "V"
    from heterofem.postprocess import load_sweep

    sweep = load_sweep(tmp_path)
    assert sweep.sweep_table["dofs"].dtype.kind == "i"
    assert sweep.unit("electrostatics.potential_drop_V") == "V"
