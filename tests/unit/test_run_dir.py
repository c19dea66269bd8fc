"""The run directory is never overwritten or mixed (issue #20, items 10, 11 and 13).

A run locks its directory: a second run into it exits 2 before meshing and writes nothing, also
when both passed the first check together. A directory left by an interrupted run is reused
only with --overwrite or --restart. A restart whose config differs from the checkpointed one
(other than the keys a restart may change) exits 2 naming each differing key, before writing.
A refused run meshes nothing and leaves no scratch directory; --overwrite deletes only what
heterofem wrote.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import pytest

from conftest import PROBLEMS, assert_input_error, cli, read_summary, snapshot_dir

CONFIG = str(PROBLEMS / "tio2_vo2_tio2_001_vacancies_1d.toml")
#: a short 1D transient (under a second) that writes fields at 0, 30, 60, 120 s and checkpoints
SHORT = ["--set", "mesh.size_nm=1.0", "--set", "time.end_s=120", "--set", "time.dt_max_s=4.0",
         "--set", "time.output_times_s=[30.0, 60.0]", "--set", "output.checkpoint_every_steps=4"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A complete run directory (with checkpoints); tests work on copies of it."""
    out = tmp_path_factory.mktemp("runs") / "finished"
    result = cli("run", CONFIG, "--out", str(out), *SHORT)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def scratch_root(tmp_path, monkeypatch) -> Path:
    """A private $TMPDIR, to see what a run leaves in it."""
    root = tmp_path / "tmpdir"
    root.mkdir()
    monkeypatch.setenv("TMPDIR", str(root))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read $TMPDIR
    return root


@pytest.fixture
def mesh_calls(monkeypatch) -> list:
    """Records every call of the stack mesher (and still meshes)."""
    import heterofem.meshes as meshes

    calls, mesher = [], meshes.create_stack_mesh

    def spy(*args, **kwargs):
        calls.append(args)
        return mesher(*args, **kwargs)

    monkeypatch.setattr(meshes, "create_stack_mesh", spy)
    return calls


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _hold_lock(run_dir: Path):
    """Take the run directory's lock as another run would (an open file holding flock)."""
    from heterofem.solver.outputs import LOCK_NAME

    run_dir.mkdir(parents=True, exist_ok=True)
    fh = open(run_dir / LOCK_NAME, "a")
    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fh


@pytest.mark.slow
def test_second_run_into_a_running_directory_exits_2_at_once(tmp_path, mesh_calls):
    """Two real processes: the second run (even with --overwrite) is refused before meshing,
    and the first finishes with outputs of its own config only."""
    out = tmp_path / "run"
    longer = ["--set", "mesh.size_nm=0.5", "--set", "time.end_s=900", "--set", "time.dt_max_s=3.0"]
    first = subprocess.Popen([sys.executable, "-m", "heterofem.solver.cli", "run", CONFIG,
                              "--out", str(out), *longer], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, OMP_NUM_THREADS="1"))
    try:
        deadline = time.time() + 60
        while not (out / "timeseries.csv").exists() and time.time() < deadline:
            time.sleep(0.02)
        assert first.poll() is None, "the first run ended before the second started"
        for extra in ([], ["--overwrite"]):
            second = cli("run", CONFIG, "--out", str(out), *SHORT, *extra)
            text = second.output
            assert second.exit_code == 2, text
            assert "another heterofem run" in text and "Traceback" not in text, text
        assert mesh_calls == []
    finally:
        _, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    summary = read_summary(out)
    assert summary["time"]["end_s"] == 900.0
    times = [float(r.split(",")[0]) for r in (out / "timeseries.csv").read_text().splitlines()[1:]]
    assert times == sorted(set(times)) and times[-1] == 900.0
    assert tomllib.loads((out / "config.resolved.toml").read_text())["time"]["end_s"] == 900.0


def test_locked_directory_is_refused_before_the_petsc_trial_solve(tmp_path, mesh_calls):
    """With PETSc options the preflight meshes a trial problem: a run into a directory that
    another run holds is refused before it (the directory's message, not the option's)."""
    import fcntl

    out = tmp_path / "run"
    out.mkdir()
    with open(out / ".heterofem.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = cli("run", CONFIG, "--out", str(out), *SHORT,
                     "--set", "solver.petsc_options.ksp_type=bogus")
    assert result.exit_code == 2, result.output
    assert "another heterofem run" in result.output and "bogus" not in result.output
    assert mesh_calls == []
    assert sorted(p.name for p in out.iterdir()) == [".heterofem.lock"]


def test_a_run_that_loses_the_race_for_the_lock_writes_nothing(tmp_path, monkeypatch):
    """Both runs pass the first check (no directory yet); the other run takes the lock while
    this one meshes: this one exits 2 and writes nothing."""
    import heterofem.meshes as meshes

    out = tmp_path / "run"
    mesher, held = meshes.create_stack_mesh, []

    def mesh_then_lose_the_race(*args, **kwargs):
        held.append(_hold_lock(out))
        return mesher(*args, **kwargs)

    monkeypatch.setattr(meshes, "create_stack_mesh", mesh_then_lose_the_race)
    before = snapshot_dir(out)  # empty
    try:
        result = cli("run", CONFIG, "--out", str(out), *SHORT)
        after = snapshot_dir(out)
    finally:
        for fh in held:
            fh.close()
    assert result.exit_code == 2 and "another heterofem run" in result.output, result.output
    assert {k: v for k, v in after.items() if not k.startswith(".heterofem")} == before


def test_incomplete_run_is_refused_without_overwrite_or_restart(finished, tmp_path):
    out = _copy(finished, tmp_path / "killed")
    (out / "summary.json").unlink()  # what a killed run leaves: no summary.json
    before = snapshot_dir(out)
    result = cli("run", CONFIG, "--out", str(out), *SHORT, "--set", "run.temperature_K=448.15")
    assert_input_error(result, "incomplete", out, before)
    assert "--restart" in result.output and "--overwrite" in result.output

    start = time.time()
    result = cli("run", CONFIG, "--out", str(out), *SHORT, "--set", "run.temperature_K=448.15",
                 "--overwrite")
    assert result.exit_code == 0, result.output
    # no stale checkpoint of the replaced run survives
    for path in (out / "checkpoints").glob("checkpoint_*.npz"):
        assert path.stat().st_mtime >= start - 1, path.name


def test_refused_run_meshes_nothing_and_leaves_no_scratch(finished, tmp_path, scratch_root,
                                                          mesh_calls):
    out = _copy(finished, tmp_path / "done")
    before = snapshot_dir(out)
    result = cli("run", CONFIG, "--out", str(out), *SHORT)
    assert_input_error(result, "--overwrite", out, before)
    assert mesh_calls == [], "the directory must be checked before meshing"
    assert list(scratch_root.iterdir()) == []


def test_mesh_error_leaves_no_scratch_and_no_directory(tmp_path, scratch_root, monkeypatch):
    import heterofem.meshes as meshes

    def broken(cfg, comm, msh_path=None):
        if msh_path is not None:  # the mesher writes its .msh before it fails
            Path(msh_path).write_text("partial")
        raise meshes.MeshError([("mesh.size_nm", "gmsh failed (test)")])

    monkeypatch.setattr(meshes, "create_stack_mesh", broken)
    out = tmp_path / "run"
    result = cli("run", CONFIG, "--out", str(out), *SHORT)
    assert_input_error(result, "mesh.size_nm", out)
    assert list(scratch_root.iterdir()) == []


def test_overwrite_deletes_only_what_heterofem_wrote(finished, tmp_path):
    out = _copy(finished, tmp_path / "run")
    (out / "notes.png").write_bytes(b"\x89PNG user picture")
    (out / "fields_of_view.vtu").write_text("user data")
    fewer = ["--set", "time.output_times_s=[]", "--set", "output.checkpoint_every_steps=0"]
    result = cli("run", CONFIG, "--out", str(out), *SHORT, *fewer, "--overwrite")
    assert result.exit_code == 0, result.output
    fresh = tmp_path / "fresh"
    assert cli("run", CONFIG, "--out", str(fresh), *SHORT, *fewer).exit_code == 0
    # exactly the fresh run's files (nothing stale of the replaced run) and the user's files
    assert set(snapshot_dir(out)) == set(snapshot_dir(fresh)) | {"notes.png",
                                                                 "fields_of_view.vtu"}
    assert (out / "notes.png").read_bytes() == b"\x89PNG user picture"


def test_restart_with_another_config_is_refused_naming_each_key(finished, tmp_path):
    out = _copy(finished, tmp_path / "run")
    before = snapshot_dir(out)
    result = cli("run", CONFIG, "--restart", str(out), *SHORT,
                 "--set", "run.temperature_K=448.15", "--set", "mesh.size_nm=0.5",
                 "--set", "time.end_s=240")  # a later end time alone would be fine
    assert_input_error(result, "run.temperature_K", out, before)
    assert "mesh.size_nm" in result.output
    assert "- time.end_s" not in result.output  # allowed to change
    assert "2 problems" in result.output


def test_overwrite_and_restart_together_are_refused(finished, tmp_path):
    out = _copy(finished, tmp_path / "run")
    before = snapshot_dir(out)
    result = cli("run", CONFIG, "--restart", str(out), *SHORT, "--overwrite")
    assert_input_error(result, "--restart", out, before)
