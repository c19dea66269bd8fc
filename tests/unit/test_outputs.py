"""What a run writes: summary.json, profiles.csv, fields that PyVista opens, the resolved
config (which reloads to the same case), the log, and the mesh; --set reaches the run."""

from __future__ import annotations

import csv
import json
import tomllib

import numpy as np
import pytest

from conftest import PROBLEMS, heterofem, read_summary
from heterofem.solver.validation import load_config, validate_data
from heterofem.solver.dolfinx_env import MPI
from heterofem.solver.run import run_case


@pytest.fixture(scope="module")
def run_2d(tmp_path_factory):
    out = tmp_path_factory.mktemp("r") / "run"
    cfg = load_config(PROBLEMS / "tio2_vo2_tio2_001_2d_step.toml")
    return out, cfg, run_case(cfg, out, MPI.COMM_WORLD)


def test_run_directory_contents(run_2d):
    out, cfg, summary = run_2d
    for name in ("summary.json", "profiles.csv", "fields.pvd", "config.resolved.toml", "run.log",
                 "mesh.msh", "mesh.xdmf"):
        assert (out / name).is_file(), name
    on_disk = read_summary(out)
    for key in ("heterofem_version", "dolfinx_version", "mpi_size", "wall_time_s", "converged"):
        assert key in on_disk
    assert on_disk["converged"] is True and on_disk["mpi_size"] == 1
    assert "Newton converged" in (out / "run.log").read_text()


def test_resolved_config_reloads_to_the_same_case(run_2d):
    out, cfg, _ = run_2d
    again = validate_data(tomllib.loads((out / "config.resolved.toml").read_text()))
    assert again == cfg


def test_fields_open_in_pyvista_and_match_the_solution(run_2d):
    import pyvista as pv

    out, cfg, summary = run_2d
    data = pv.read(out / "fields.pvd")
    grid = data[0] if isinstance(data, pv.MultiBlock) else data
    assert {"phi_V", "Ez_V_per_m", "eps_zz", "layer_id"} <= set(grid.array_names)
    phi = np.asarray(grid.point_data["phi_V"])
    es = summary["electrostatics"]
    assert phi.min() == pytest.approx(es["phi_min_V"], abs=1e-12)
    assert phi.max() == pytest.approx(es["phi_max_V"], abs=1e-12)
    # the bounds are the stack: width x total thickness (2D x-z stored as x-y)
    assert grid.bounds[1] == pytest.approx(cfg.mesh.width_nm)
    assert grid.bounds[3] == pytest.approx(cfg.total_thickness_nm)
    # one layer id per layer
    assert len(np.unique(grid.cell_data["layer_id"])) == len(cfg.layers)


def test_profiles_csv_columns_and_interfaces(run_2d):
    out, cfg, summary = run_2d
    with open(out / "profiles.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {"z_nm", "layer", "phi_V", "Ez_V_per_m", "eps_zz"} <= set(rows[0])
    z = np.array([float(r["z_nm"]) for r in rows])
    assert z[0] == 0.0 and z[-1] == pytest.approx(cfg.total_thickness_nm)
    for _, top in cfg.layer_bounds_nm():
        assert np.min(np.abs(z - top)) < 1e-12  # every interface is sampled
    # the profile passes through the same potentials the summary reports
    phi = {float(r["z_nm"]): float(r["phi_V"]) for r in rows}
    assert phi[cfg.total_thickness_nm] == pytest.approx(summary["electrostatics"]["phi_V"]["top"])


def test_set_override_reaches_mesh_and_resolved_config(tmp_path):
    out = tmp_path / "run"
    heterofem("run", str(PROBLEMS / "ruo2_tio2_110_1d.toml"), "--out", str(out),
              "--set", "layers.1.thickness_nm=3.5", "--set", "layers.film.thickness_nm=4.25")
    summary = read_summary(out)
    assert summary["mesh"]["layers"]["film"]["volume"] == pytest.approx(4.25, rel=1e-12)
    resolved = tomllib.loads((out / "config.resolved.toml").read_text())
    assert resolved["layers"][1]["thickness_nm"] == 4.25


def test_mesh_command_writes_tagged_mesh(tmp_path):
    heterofem("mesh", str(PROBLEMS / "tio2_vo2_tio2_001_2d_step.toml"), "--out", str(tmp_path))
    stats = json.loads((tmp_path / "mesh.json").read_text())
    assert set(stats["facet_names"]) >= {"bottom", "top", "left", "right", "film/gap"}
    import meshio

    msh = meshio.read(tmp_path / "mesh.msh")
    assert {"substrate", "template", "film", "gap", "film/gap"} <= set(msh.field_data)


def test_plot_writes_pictures(run_2d):
    from heterofem.postprocess.plot import plot_run

    out, _, _ = run_2d
    paths = plot_run(out)
    assert [p.name for p in paths] == ["profiles.png", "phi_map.png"]
    for p in paths:
        assert p.stat().st_size > 10_000
