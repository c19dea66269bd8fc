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
    assert [p.name for p in paths] == ["headline.png", "profiles.png", "phi_map.png", "Ez_map.png"]
    for p in paths:
        assert p.stat().st_size > 10_000


# -- smooth derived fields (issue #24 item 2) ------------------------------------------------------
def _two_layer_square(n: int = 8):
    from heterofem.solver.dolfinx_env import dolfinx

    mesh = dolfinx.mesh.create_rectangle(MPI.COMM_WORLD, [[0.0, 0.0], [2.0, 1.0]], [2 * n, n])
    tdim = mesh.topology.dim
    cells = np.arange(mesh.topology.index_map(tdim).size_local
                      + mesh.topology.index_map(tdim).num_ghosts, dtype=np.int32)
    mid = dolfinx.mesh.compute_midpoints(mesh, tdim, cells)
    values = np.where(mid[:, 1] < 0.5, 1, 2).astype(np.int32)
    tags = dolfinx.mesh.meshtags(mesh, tdim, cells, values)
    return mesh, tags


def test_projection_reproduces_a_linear_field_and_keeps_a_layer_jump():
    """A "cell" field is L2-projected onto P1 layer by layer: a linear field comes back exactly
    (at every node, also on the interface), and a jump between layers stays a jump in the
    profile source (no ringing into either layer) while the P1 file value at the interface
    lies between the two sides."""
    import ufl

    from heterofem.solver.outputs import OutputSet
    from heterofem.solver.physics.base import OutputField

    mesh, tags = _two_layer_square()
    x = ufl.SpatialCoordinate(mesh)
    jump = ufl.conditional(ufl.lt(x[1], 0.5), 1.0, 3.0)
    fields = [OutputField("lin", "1", 0.3 + 2.0 * x[0] - 5.0 * x[1], kind="cell"),
              OutputField("step", "1", jump, kind="cell"),
              OutputField("layer_id", "1", jump, kind="cell")]
    out = OutputSet(mesh, fields, tags)
    lin, step, layer_id = out.functions
    assert [out.kind_of(f) for f in fields] == ["point", "point", "cell"]
    X = lin.function_space.tabulate_dof_coordinates()
    assert np.allclose(lin.x.array, 0.3 + 2.0 * X[:, 0] - 5.0 * X[:, 1], atol=1e-10)
    broken = out.smoothed(fields[1]).x.array  # DG1: p_L in each layer's cells
    assert np.all(np.isclose(broken, 1.0, atol=1e-10) | np.isclose(broken, 3.0, atol=1e-10))
    on_interface = np.isclose(X[:, 1], 0.5)
    assert np.allclose(step.x.array[~on_interface & (X[:, 1] < 0.5)], 1.0, atol=1e-10)
    assert np.allclose(step.x.array[~on_interface & (X[:, 1] > 0.5)], 3.0, atol=1e-10)
    assert np.all((step.x.array[on_interface] > 1.0) & (step.x.array[on_interface] < 3.0))
    assert layer_id.function_space.element.basix_element.degree == 0  # cell-wise stays DG0


def test_demo_electric_field_profile_is_smooth():
    """The demo (2D step): Ex along the profile line in the film had +-4e5 V/m cell-to-cell
    noise as DG0 cell values; the projected profile varies an order of magnitude less (total
    variation along the line), and the mean over the film is the same field."""
    from conftest import build_model
    from heterofem.solver.dolfinx_env import dolfinx
    from heterofem.solver.outputs import OutputSet

    model = build_model(PROBLEMS / "tio2_vo2_tio2_001_2d_step.toml")
    model.problem.solve()
    fields = [f for m in model.modules for f in m.outputs(model.problem.u) if f.name == "Ex"]
    out = OutputSet(model.domain.mesh, fields, model.domain.stack.cell_tags)
    dg0 = dolfinx.fem.Function(dolfinx.fem.functionspace(model.domain.mesh, ("DG", 0)))
    dg0.interpolate(dolfinx.fem.Expression(fields[0].expr * fields[0].scale,
                                           dg0.function_space.element.interpolation_points))
    z0, z1 = dict(zip([lay.name for lay in model.config.layers],
                      model.config.layer_bounds_nm()))["film"]
    pts = model.domain.centre_line(400)
    inside = (pts[:, 1] > z0 + 0.05) & (pts[:, 1] < z1 - 0.05)
    smooth = model.domain.evaluate(out.smoothed(fields[0]), pts[inside])
    cellwise = model.domain.evaluate(dg0, pts[inside])
    tv_smooth, tv_cells = (np.abs(np.diff(v)).sum() for v in (smooth, cellwise))
    assert np.abs(np.diff(cellwise)).max() > 2e5  # the noise the issue saw is there in DG0
    assert tv_smooth < 0.2 * tv_cells, (tv_smooth, tv_cells)
    assert np.mean(smooth) == pytest.approx(np.mean(cellwise), rel=0.3)


# -- progress (issue #24 item 7) -------------------------------------------------------------------
class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_eta_follows_the_recent_rate_not_the_slow_start():
    """A 1.5 s run (simulated) whose first step took 1 s of wall time (compiling) and whose
    later steps take 10 ms per 10 ms simulated: the estimate from the average rate since the
    start said minutes; the smoothed recent rate gives the wall time actually left."""
    from heterofem.solver.progress import Eta

    clock = _Clock()
    eta = Eta(1.5, clock=clock)
    eta.update(0.0)
    clock.t, done = 1.0, 1e-4  # the first step: slow, and tiny
    eta.update(done)
    while done < 0.75 - 1e-12:
        clock.t += 0.01
        done += 0.01
        eta.update(done)
    naive = clock.t * (1.5 - done) / done  # the average rate since the start
    assert eta.seconds_left() == pytest.approx(0.75, rel=0.05)  # truly left: 0.75 s
    assert naive > 1.7  # the old estimate: more than twice too long
    assert eta.text() == "under 1 s left"
    constant = Eta(100.0, clock=clock)
    for k in range(5):  # a constant rate: the estimate is exact
        constant.update(10.0 * k)
        clock.t += 1.0
    assert constant.seconds_left() == pytest.approx(6.0)
    assert Eta(10.0).text() == ""  # no rate yet: no estimate
