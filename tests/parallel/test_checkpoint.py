"""Checkpoint and restart: a transient killed with SIGKILL mid-way and restarted (on another
number of ranks) reproduces the uninterrupted run, every output time's fields included, in one
time series; a run extended by a restart with a later end time does too; a damaged newest
checkpoint is detected and the previous one used; a damaged index is rebuilt from the
checkpoint files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import PROBLEMS, cli, flat_scalars, heterofem, read_summary

CONFIG = str(PROBLEMS / "tio2_vo2_tio2_001_vacancies_1d.toml")
SETS = ["--set", "mesh.size_nm=0.5", "--set", "time.end_s=600", "--set", "time.dt_max_s=3.0",
        "--set", "time.output_times_s=[60.0]", "--set", "output.checkpoint_every_steps=4"]


def _entries(run_dir):
    path = run_dir / "checkpoints" / "index.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return []


def _assert_same(a: dict, b: dict):
    fa, fb = flat_scalars(a), flat_scalars(b)
    for key in ("time.restarted_from_s", "pseudo_transient.final_change"):
        fb.pop(key, None)
    assert fa.keys() == fb.keys()
    for k in fa:
        assert fb[k] == pytest.approx(fa[k], rel=1e-8, abs=1e-12), k


def field_series(run_dir) -> dict[float, dict[str, np.ndarray]]:
    """Every output time of ``fields.pvd``: {t: {array name: values ordered by position}}
    (the pieces of all ranks merged; points by coordinates, cells by their centres)."""
    import pyvista as pv

    reader = pv.get_reader(str(run_dir / "fields.pvd"))
    times = list(reader.time_values)
    assert len(times) == len(set(times)), f"repeated output times in fields.pvd: {times}"
    series = {}
    for t in times:
        reader.set_active_time_value(t)
        grid = reader.read().combine()
        arrays = {}
        for data, where in ((grid.point_data, grid.points), (grid.cell_data,
                                                                grid.cell_centers().points)):
            _, first = np.unique(np.round(where, 9), axis=0, return_index=True)
            for name in data.keys():
                if not name.startswith("vtk"):
                    arrays[name] = np.asarray(data[name])[first]
        series[float(t)] = arrays
    return series


def assert_same_fields(reference, restarted) -> None:
    """The same output times, and every field at every time equal to round-off."""
    a, b = field_series(reference), field_series(restarted)
    assert list(b) == list(a)
    for t in a:
        assert a[t].keys() == b[t].keys(), t
        for name in a[t]:
            scale = float(np.max(np.abs(a[t][name]), initial=0.0))
            np.testing.assert_allclose(b[t][name], a[t][name], rtol=1e-8, atol=1e-12 * scale,
                                       err_msg=f"{name} at t = {t} s")


@pytest.mark.mpi
def test_killed_run_restarts_to_the_same_result(tmp_path):
    heterofem("run", CONFIG, "--out", str(tmp_path / "full"), *SETS)
    reference = read_summary(tmp_path / "full")

    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "heterofem.solver.cli", "run", CONFIG,
                             "--out", str(killed), *SETS],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(_entries(killed)) < 2 and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed; make it longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "summary.json").exists()
    t_kill = _entries(killed)[-1]["t_s"]
    assert 0 < t_kill < 600

    heterofem("run", CONFIG, "--restart", str(killed), *SETS, np=2)
    restarted = read_summary(killed)
    assert restarted["converged"] and restarted["time"]["restarted_from_s"] == t_kill
    _assert_same(reference, restarted)
    # the time series holds every step once, in order, up to the end
    rows = (killed / "timeseries.csv").read_text().splitlines()[1:]
    times = [float(r.split(",")[0]) for r in rows]
    assert times == sorted(times) and len(times) == len(set(times)) and times[-1] == 600.0
    # one field series with every output time, each with its own data
    assert_same_fields(tmp_path / "full", killed)
    log = (killed / "run.log").read_text()  # appended: the killed run's lines, then the resumed
    assert log.index("mesh:") < log.index("resumed from checkpoint") < log.rindex("done in")


def test_damaged_checkpoint_falls_back_to_the_previous_one(tmp_path):
    run = tmp_path / "run"
    heterofem("run", CONFIG, "--out", str(run), *SETS)
    reference = read_summary(run)
    entries = _entries(run)
    assert len(entries) == 2
    newest = run / "checkpoints" / entries[-1]["file"]
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # truncated
    proc = heterofem("run", CONFIG, "--restart", str(run), *SETS)
    assert "damaged" in proc.stderr
    restarted = read_summary(run)
    assert restarted["time"]["restarted_from_s"] == entries[0]["t_s"]
    _assert_same(reference, restarted)


def test_restart_without_checkpoint_is_a_clear_error(tmp_path):
    run = tmp_path / "run"
    heterofem("run", CONFIG, "--out", str(run), *SETS[:-2])  # no checkpoints written
    proc = heterofem("run", CONFIG, "--restart", str(run), *SETS[:-2], check=False)
    assert proc.returncode == 2 and "no intact checkpoint" in proc.stderr


#: a short transient (under a second per run); 120 s is an output time of every run below, so
#: a run ending there steps exactly like the longer one
SHORT = ["--set", "mesh.size_nm=1.0", "--set", "time.dt_max_s=4.0",
         "--set", "time.output_times_s=[30.0, 60.0, 120.0]",
         "--set", "output.checkpoint_every_steps=4"]


def test_restart_with_a_later_end_time_continues_one_field_series(tmp_path):
    """Run to 120 s, restart with time.end_s = 240 (allowed to change): the fields at every
    output time, the summary and the time series equal those of a run straight to 240 s."""
    full, part = tmp_path / "full", tmp_path / "part"
    assert cli("run", CONFIG, "--out", str(full), *SHORT, "--set", "time.end_s=240").exit_code == 0
    assert cli("run", CONFIG, "--out", str(part), *SHORT, "--set", "time.end_s=120").exit_code == 0
    first_log = (part / "run.log").read_text()
    result = cli("run", CONFIG, "--restart", str(part), *SHORT, "--set", "time.end_s=240")
    assert result.exit_code == 0, result.output
    assert_same_fields(full, part)
    _assert_same(read_summary(full), read_summary(part))
    log = (part / "run.log").read_text()
    assert log.startswith(first_log) and "resumed from checkpoint" in log[len(first_log):]
    assert (part / "timeseries.csv").read_text() == (full / "timeseries.csv").read_text()


def test_damaged_index_is_rebuilt_from_the_checkpoint_files(tmp_path):
    run = tmp_path / "run"
    assert cli("run", CONFIG, "--out", str(run), *SHORT, "--set", "time.end_s=120").exit_code == 0
    reference = read_summary(run)
    newest = _entries(run)[-1]
    (run / "checkpoints" / "index.json").write_text('[{"number": 3, "fi')  # cut short
    result = cli("run", CONFIG, "--restart", str(run), *SHORT, "--set", "time.end_s=120")
    assert result.exit_code == 0, result.output
    assert "rebuilt" in (run / "run.log").read_text()
    restarted = read_summary(run)
    assert restarted["time"]["restarted_from_s"] == newest["t_s"]
    _assert_same(reference, restarted)
