"""Outputs other tools read (issue #24 item 5): meshio and PyVista (VTK's readers, as
ParaView's) open the mesh with its tags and the fields as one time series, and its last step
is the run's final state; a plain ``import dolfinx`` works in the venv."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import PROBLEMS


@pytest.fixture(scope="module")
def transient(tmp_path_factory):
    """A short vacancy run with three field outputs (t = 0, 0.02 s, 0.05 s)."""
    from conftest import simulation

    out = tmp_path_factory.mktemp("readers") / "run"
    simulation(PROBLEMS / "tio2_vo2_tio2_001_vacancies_1d.toml",
               set=["time.end_s=0.05", "time.output_times_s=[0.02]"]).run(out)
    return out


def _by_coordinate(points: np.ndarray, values: np.ndarray) -> np.ndarray:
    return values[np.lexsort(points.T[::-1])]


def test_meshio_reads_the_mesh_with_its_tags(transient):
    import meshio

    summary = json.loads((transient / "summary.json").read_text())
    mesh = meshio.read(transient / "mesh.vtu")
    cells, facets = mesh.cells
    assert (cells.type, facets.type) == ("line", "vertex")  # a 1D stack
    assert len(cells.data) == summary["mesh"]["cells"]
    layer_tags, facet_tags = mesh.cell_data["tag"]
    per_layer = {name: v["cells"] for name, v in summary["mesh"]["layers"].items()}
    for name, layer in summary["mesh"]["layers"].items():
        assert np.count_nonzero(layer_tags == layer["tag"]) == per_layer[name]
    assert len(facet_tags) >= len(summary["interfaces"]) + 2  # bottom, top and interfaces
    assert set(np.unique(mesh.cell_data["dim"][1])) == {0}


def test_fields_time_series_opens_in_meshio_and_pyvista(transient):
    import meshio
    import pyvista as pv

    from heterofem.postprocess import load_run

    run = load_run(transient)
    assert run.times == pytest.approx([0.0, 0.02, 0.05])
    with meshio.xdmf.TimeSeriesReader(transient / "fields.xdmf") as reader:
        points, _ = reader.read_points_cells()
        steps = [reader.read_data(k) for k in range(reader.num_steps)]
    assert [t for t, _, _ in steps] == pytest.approx(run.times)
    t_last, point_data, cell_data = steps[-1]
    assert {"phi_V", "layer_id"} <= set(point_data) | set(cell_data)
    last = run.fields()  # fields.pvd's last output, through pyvista
    assert np.allclose(_by_coordinate(points, point_data["phi_V"]),
                       _by_coordinate(np.asarray(last.points), np.asarray(last["phi_V"])),
                       atol=1e-12)
    # the README's way to the last step with PyVista, for both series
    for name in ("fields.pvd", "fields.xdmf"):
        reader = pv.get_reader(transient / name)
        reader.set_active_time_value(reader.time_values[-1])
        data = reader.read()
        grid = data[0] if isinstance(data, pv.MultiBlock) else data
        assert np.sort(np.asarray(grid["phi_V"])) == pytest.approx(
            np.sort(np.asarray(last["phi_V"])), abs=1e-12)


def test_units_sidecars_match_the_tables(transient):
    for table in ("profiles", "timeseries"):  # the tables stay plain CSV numpy reads
        frame = np.genfromtxt(transient / f"{table}.csv", delimiter=",", names=True,
                              dtype=None, encoding="utf-8")
        units = json.loads((transient / f"{table}.units.json").read_text())
        assert list(units) == list(frame.dtype.names)
    assert units["t_s"] == "s" and units["N_V_total_per_m2"] == "m^-2"


def test_plain_import_dolfinx_works_in_the_venv():
    """scripts/bootstrap.sh installs a finder that loads the wheel's MPI first."""
    proc = subprocess.run([sys.executable, "-c", "import dolfinx; print(dolfinx.__version__)"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    start = subprocess.run([sys.executable, "-c", "import sys; print('mpi4py' in sys.modules)"],
                           capture_output=True, text=True, timeout=60)
    assert start.stdout.strip() == "False"  # nothing is imported at start-up


@pytest.mark.mpi
def test_two_ranks_write_the_same_series_and_smooth_profiles(tmp_path):
    """Under mpirun -n 2 rank 0 gathers the mesh and fields (fields.xdmf, mesh.vtu) in the
    same global order as a serial run, and the layer-wise projection of Ex gives the serial
    profile (every rank projects over the same layers)."""
    import meshio

    from conftest import heterofem

    cfg = str(PROBLEMS / "tio2_vo2_tio2_001_2d_step.toml")
    heterofem("run", cfg, "--out", str(tmp_path / "serial"))
    heterofem("run", cfg, "--out", str(tmp_path / "mpi"), np=2)
    series = []
    for name in ("serial", "mpi"):
        with meshio.xdmf.TimeSeriesReader(tmp_path / name / "fields.xdmf") as reader:
            points, cells = reader.read_points_cells()
            series.append((points, cells[0].data, reader.read_data(0)[1]))
    (p1, c1, d1), (p2, c2, d2) = series
    assert len(p1) == len(p2) and len(c1) == len(c2)
    for key in ("phi_V", "Ex_V_per_m"):
        a, b = _by_coordinate(p1, d1[key]), _by_coordinate(p2, d2[key])
        assert np.max(np.abs(a - b)) <= 1e-9 * np.max(np.abs(a)), key
    tags = [meshio.read(tmp_path / n / "mesh.vtu").cell_data["tag"][0] for n in ("serial", "mpi")]
    assert sorted(tags[0]) == sorted(tags[1])
    prof = [np.genfromtxt(tmp_path / n / "profiles.csv", delimiter=",", names=True,
                          dtype=None, encoding="utf-8")["Ex_V_per_m"] for n in ("serial", "mpi")]
    assert np.max(np.abs(prof[0] - prof[1])) <= 1e-9 * np.max(np.abs(prof[0]))
