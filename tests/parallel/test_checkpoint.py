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

from conftest import (PROBLEMS, assert_solver_work_close, cli, flat_scalars, heterofem,
                      read_summary, solver_work)

CONFIG = str(PROBLEMS / "tio2_vo2_tio2_001_vacancies_1d.toml")
SETS = ["--set", "mesh.size_nm=0.5", "--set", "time.end_s=600", "--set", "time.dt_max_s=3.0",
        "--set", "time.output_times_s=[60.0]", "--set", "output.checkpoint_every_steps=4"]


def _entries(run_dir):
    path = run_dir / "checkpoints" / "index.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return []


def _assert_same(a: dict, b: dict, other_ranks: bool = False):
    """The scalars of two summaries agree to 1e-8; with ``other_ranks`` (a restart on another
    rank count) the solver-work counts within conftest's SOLVER_WORK_SLACK (a Newton solve that
    ends near its tolerance may take one iteration more on another partition)."""
    fa, fb = flat_scalars(a), flat_scalars(b)
    for key in ("time.restarted_from_s", "pseudo_transient.final_change"):
        fb.pop(key, None)
    assert fa.keys() == fb.keys()
    for k in fa:
        if other_ranks and solver_work(k):
            assert_solver_work_close(k, fa[k], fb[k])
            continue
        assert fb[k] == pytest.approx(fa[k], rel=1e-8, abs=1e-12), k


def _assert_same_series(a_dir, b_dir):
    """Two timeseries.csv of a run and its restart on another rank count: the same columns
    and rows, values to 1e-8, solver-work counts within SOLVER_WORK_SLACK."""
    import csv

    with open(a_dir / "timeseries.csv") as fa, open(b_dir / "timeseries.csv") as fb:
        ra, rb = list(csv.DictReader(fa)), list(csv.DictReader(fb))
    assert len(ra) == len(rb) and ra and ra[0].keys() == rb[0].keys()
    for x, y in zip(ra, rb):
        for k in x:
            u, v = float(x[k]), float(y[k])
            if solver_work(k):
                assert_solver_work_close(k, u, v)
            else:
                assert v == pytest.approx(u, rel=1e-8, abs=1e-12), (k, x["t_s"])


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
    _assert_same(reference, restarted, other_ranks=True)
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


# -- restart across adaptive remeshing (issue #25 item 3) ----------------------------------------

#: a flat crystallization front (constant driving force, no vacancies) in a 2D film on an
#: adaptive mesh: base 1.6 nm, refined twice (0.4 nm) around the front, remeshed every 3 steps
ADAPTIVE_FRONT = {
    "run": {"name": "adaptive_front", "dimension": 2, "temperature_K": 423.15},
    "layers": [{"name": "film", "material": "TiO2", "thickness_nm": 16.0}],
    "mesh": {"size_nm": 1.6, "interface_size_nm": 1.6, "width_nm": 1.6,
             "adapt": {"fields": ["xi"], "max_levels": 2, "every_steps": 3}},
    "physics": {"crystallization": True},
    "crystallization": {"layers": ["film"], "seed": "none", "initial_front_nm": 5.0,
                        "interface_width_nm": 1.0, "driving_force_J_m3": 1e7},
    "boundary": {"bottom": {"phi_V": 0.0}},
    "time": {"end_s": 0.8, "dt_initial_s": 0.05, "dt_max_s": 0.05, "scheme": "bdf2",
             "output_times_s": [0.3]},
    "output": {"checkpoint_every_steps": 4, "profile_points": 81},
}


@pytest.mark.mpi
def test_restart_across_remeshing_on_another_rank_count(tmp_path):
    """Serial run to 0.3 s (an output time, so it steps like the long run), whose newest
    checkpoint was written after a remesh: it holds the adapted mesh and the adapt state;
    restarted on 2 ranks to 0.8 s it rebuilds that mesh and gives the uninterrupted serial
    run's time series, summary (remesh count and dofs included) and fields at every output
    time (values to 1e-8, solver-work counts within SOLVER_WORK_SLACK). Measured: identical
    time series text, scalars to ~1e-14."""
    import tomli_w

    config = tmp_path / "front.toml"
    config.write_text(tomli_w.dumps(ADAPTIVE_FRONT))
    full, part = tmp_path / "full", tmp_path / "part"
    assert cli("run", str(config), "--out", str(full)).exit_code == 0
    result = cli("run", str(config), "--out", str(part), "--set", "time.end_s=0.3")
    assert result.exit_code == 0, result.output
    newest = _entries(part)[-1]
    with np.load(part / "checkpoints" / newest["file"]) as data:
        assert "mesh.x" in data.files and "mesh.cells" in data.files
        state = json.loads(bytes(data["state"]).decode())
        cells = len(data["mesh.cells"])
    assert state["adapt"]["remeshes"] >= 1 and state["adapt"]["cells_final"] == cells
    base_cells = read_summary(part)["mesh"]["cells"]
    assert cells > base_cells  # the stored mesh is the refined one, not the config's

    heterofem("run", str(config), "--restart", str(part), np=2)
    restarted, reference = read_summary(part), read_summary(full)
    assert restarted["time"]["restarted_from_s"] == newest["t_s"]
    assert restarted["mesh"]["adapt"]["remeshes"] == reference["mesh"]["adapt"]["remeshes"]
    _assert_same(reference, restarted, other_ranks=True)
    _assert_same_series(full, part)
    assert_same_fields(full, part)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_adapted_mesh_round_trip(dim):
    """A locally refined stack mesh (two layers, the lower one's cells refined) stored as a
    checkpoint stores it (solver/checkpoint.py: stack_arrays) and rebuilt with create_mesh
    (stack_from_arrays, cells following the base mesh's partition): the same cell count,
    layer volumes, and measures of every named facet set, outer sides and the interface."""
    import ufl

    from heterofem.meshes import create_stack_mesh
    from heterofem.meshes.refine import refine_once
    from heterofem.solver.checkpoint import stack_arrays, stack_from_arrays
    from heterofem.solver.dolfinx_env import MPI, dolfinx
    from heterofem.solver.validation import validate_data

    comm = MPI.COMM_WORLD
    cfg = validate_data({"run": {"name": "m", "dimension": dim},
                         "layers": [{"name": "a", "material": "TiO2", "thickness_nm": 3.0},
                                    {"name": "b", "material": "VO2_R", "thickness_nm": 2.0}],
                         "mesh": {"size_nm": 1.0, "width_nm": 3.0, "depth_nm": 2.0}})
    base = create_stack_mesh(cfg.stack_geometry(), comm)
    mesh = base.mesh
    lower = base.cell_tags.find(base.layer_ids["a"])
    if dim > 1:
        mesh.topology.create_connectivity(dim, 1)
        c2e = mesh.topology.connectivity(dim, 1)
        lower = np.unique(np.concatenate([c2e.links(c) for c in lower])).astype(np.int32)
    fine = refine_once(mesh, base.cell_tags, base.facet_tags, edges=lower)
    adapted = type(base)(*fine, base.layer_ids, base.facet_ids)

    def measures(stack) -> dict:
        one = dolfinx.fem.Constant(stack.mesh, 1.0)
        dx = ufl.Measure("dx", stack.mesh, subdomain_data=stack.cell_tags)
        ds = ufl.Measure("ds", stack.mesh, subdomain_data=stack.facet_tags)
        dS = ufl.Measure("dS", stack.mesh, subdomain_data=stack.facet_tags)
        forms = {n: one * dx(i) for n, i in stack.layer_ids.items()}
        forms.update({n: one * ds(i) + one("+") * dS(i) for n, i in stack.facet_ids.items()})
        out = {n: comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(f)))
               for n, f in forms.items()}
        out["cells"] = stack.mesh.topology.index_map(dim).size_global
        return out

    stored = stack_arrays(adapted, comm)
    rebuilt = stack_from_arrays(stored, comm, base)
    before, after = measures(adapted), measures(rebuilt)
    assert before["cells"] > base.mesh.topology.index_map(dim).size_global  # refined
    assert after.keys() == before.keys()
    for name, value in before.items():
        assert after[name] == pytest.approx(value, rel=1e-12), name
