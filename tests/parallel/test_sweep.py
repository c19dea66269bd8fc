"""Sweeps: cases split over MPI groups give the same table as a serial sweep; a bad case is
recorded and the others finish; a rerun skips finished cases."""

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
    assert "1 failed (case_0002)" in proc.stdout
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
    summary = json.loads((tmp_path / "mpi" / "case_0000" / "summary.json").read_text())
    assert summary["mpi_size"] == 1
    # a rerun skips what is done and runs the failed case again (still failing)
    again = heterofem("sweep", CONFIG, *PARAMS, "--out", str(tmp_path / "serial"))
    rows = _table(tmp_path / "serial")
    assert [r["status"] for r in rows] == ["done (earlier run)"] * 2 + ["failed", "done (earlier run)"]
    assert "1 failed" in again.stdout
