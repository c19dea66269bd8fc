"""Checkpoint and restart: a transient killed with SIGKILL mid-way and restarted (on another
number of ranks) reproduces the uninterrupted run; a damaged newest checkpoint is detected and
the previous one used."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import PROBLEMS, flat_scalars, heterofem, read_summary

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
