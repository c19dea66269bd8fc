"""The Python API (heterofem.Simulation): build from a file, a dict or a Config, change, check,
run, read back, and build in memory; the same results as the CLI for the same config."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import numpy as np
import pytest

import heterofem
from conftest import PROBLEMS, cli, flat_scalars, read_summary, snapshot_dir
from heterofem.solver.config import Config, ConfigError

ELECTROSTATIC = PROBLEMS / "ruo2_tio2_110_1d.toml"   # three layers, a linear solve (~1 s)
POLAR = PROBLEMS / "ruo2_tio2_110_polar_1d.toml"     # steady polarization: pseudo-time path


def test_import_is_cheap():
    """``import heterofem`` and ``heterofem.Simulation`` load neither DOLFINx nor pyvista (a
    script that only builds configs pays for neither)."""
    code = ("import sys, heterofem; heterofem.Simulation; heterofem.ConfigError; "
            "print(sorted(m for m in ('dolfinx', 'pyvista', 'petsc4py') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_from_toml_with_set():
    sim = heterofem.Simulation.from_toml(ELECTROSTATIC, set={"layers.1.thickness_nm": 2.0,
                                                             "layers.film.orientation": "001",
                                                             "boundary.top": {"phi_V": 0.5}})
    assert isinstance(sim.config, Config)
    film = sim.config.layers[1]
    assert (film.thickness_nm, film.orientation) == (2.0, "001")
    assert sim.config.boundary["top"].phi_V == 0.5
    # the --set strings of the CLI give the same config
    same = heterofem.Simulation.from_toml(ELECTROSTATIC, set=[
        "layers.1.thickness_nm=2.0", "layers.film.orientation=001", "boundary.top.phi_V=0.5"])
    assert same.config == sim.config
    assert heterofem.Simulation.from_toml(ELECTROSTATIC).config.layers[1].thickness_nm == 3.5


def test_from_dict_and_from_config_and_with_():
    data = tomllib.loads(ELECTROSTATIC.read_text())
    sim = heterofem.Simulation.from_dict(data)
    assert sim.config == heterofem.Simulation.from_toml(ELECTROSTATIC).config
    thin = sim.with_({"layers.1.thickness_nm": 1.5}, **{"run.temperature_K": 350.0})
    assert (thin.config.layers[1].thickness_nm, thin.config.run.temperature_K) == (1.5, 350.0)
    assert sim.config.layers[1].thickness_nm == 3.5      # the original is unchanged
    assert data["layers"][1]["thickness_nm"] == 3.5      # so is the dict it was built from
    wrapped = heterofem.Simulation.from_config(thin.config)
    assert wrapped.config is thin.config
    back = wrapped.with_({"layers.1.thickness_nm": 3.5, "run.temperature_K": 300.0})
    assert back.config == sim.config


@pytest.mark.parametrize("make, key", [
    (lambda: heterofem.Simulation.from_toml(ELECTROSTATIC, set={"layers.1.thickness_nm": -1.0}),
     "layers.1.thickness_nm"),
    (lambda: heterofem.Simulation.from_toml(ELECTROSTATIC, set={"mesh.sise_nm": 0.5}),
     "mesh.sise_nm"),
    (lambda: heterofem.Simulation.from_dict({"run": {"name": "x"}, "layers": [
        {"name": "a", "material": "TiO3", "thickness_nm": 1.0}]}), "layers.0.material"),
    (lambda: heterofem.Simulation.from_toml(ELECTROSTATIC).with_({"run.temperature_K": None}),
     "run.temperature_K"),
])
def test_bad_input_raises_config_error_naming_the_key(make, key):
    with pytest.raises(ConfigError) as err:
        make()
    assert key in str(err.value)
    assert any(k == key for k, _ in err.value.problems), err.value.problems


def test_checks_before_the_run_write_nothing(tmp_path):
    """validate() (and run(), which calls it) raise every pre-solve problem, the mesh budget
    included, before anything is meshed or written."""
    sim = heterofem.Simulation.from_toml(ELECTROSTATIC, set={"mesh.max_cells": 10})
    with pytest.raises(ConfigError, match="max_cells"):
        sim.validate()
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match="max_cells"):
        sim.run(out=out)
    assert snapshot_dir(out) == {}
    with pytest.raises(RuntimeError, match="run"):
        sim.summary  # noqa: B018  (no run yet)


def test_run_matches_the_cli(tmp_path):
    """sim.run writes the run directory `heterofem run` writes: the same summary scalars, the
    same final fields and profiles; the run contract holds (no silent overwrite)."""
    change = {"layers.1.thickness_nm": 2.5}
    sim = heterofem.Simulation.from_toml(ELECTROSTATIC, set=change)
    assert sim.run(out=tmp_path / "api") is sim
    result = cli("run", str(ELECTROSTATIC), "--out", str(tmp_path / "cli"),
                 "--set", "layers.1.thickness_nm=2.5")
    assert result.exit_code == 0, result.output
    by_cli = read_summary(tmp_path / "cli")

    assert sim.summary["converged"] is True
    assert flat_scalars(sim.summary) == flat_scalars(read_summary(tmp_path / "api"))
    a, b = flat_scalars(sim.summary), flat_scalars(by_cli)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == pytest.approx(b[key], rel=1e-12, abs=1e-15), key
    assert sim.summary["config_sha256"] == by_cli["config_sha256"]

    grid = sim.fields
    from heterofem.postprocess import load_run

    other = load_run(tmp_path / "cli").fields()
    assert set(grid.point_data) == set(other.point_data) and "phi_V" in grid.point_data
    np.testing.assert_allclose(grid.points, other.points)
    for name in grid.point_data:
        np.testing.assert_allclose(grid.point_data[name], other.point_data[name], rtol=1e-12)
    np.testing.assert_allclose(sim.profiles["phi_V"], load_run(tmp_path / "cli").profiles["phi_V"],
                               rtol=1e-12)
    assert sim.result.path == tmp_path / "api"

    from heterofem.solver.outputs import RunDirError

    before = snapshot_dir(tmp_path / "api")
    with pytest.raises(RunDirError, match="overwrite"):
        sim.run(out=tmp_path / "api")
    assert snapshot_dir(tmp_path / "api") == before
    sim.run(out=tmp_path / "api", overwrite=True)
    assert sim.summary["converged"]


def test_build_solves_what_run_solves(tmp_path, model_builder):
    """The in-memory model (mesh, Domain, physics, CoupledProblem: no files) solved by
    Model.solve gives the summary scalars the run writes (here through the pseudo-time path
    of a steady polarization config)."""
    sim = heterofem.Simulation.from_toml(POLAR)
    model = sim.build()
    assert model.transient and model.pseudo_transient
    assert [m.name for m in model.modules] == ["electrostatics", "polarization", "mechanics"]
    assert model.domain.mesh is model.mesh is model.stack.mesh
    assert model.problem.names  # unknowns of the coupled problem
    in_memory = model.solve()
    sim.run(out=tmp_path / "run")
    for name, values in in_memory.items():
        a, b = flat_scalars(values), flat_scalars(sim.summary[name])
        assert a.keys() == b.keys() and a, name
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-9, abs=1e-12), (name, key)
    # the fixture: the same model from a Config, with the problem's time terms chosen
    steady = model_builder(sim.config, transient=False)
    assert not steady.transient and steady.config is sim.config


def test_run_simulation_fixture(run_simulation):
    sim = run_simulation(ELECTROSTATIC, set={"layers.1.thickness_nm": 2.5}, name="thin")
    assert sim.out.name == "thin" and sim.summary["converged"]
    assert sim.result.layers[1].thickness_nm == 2.5
