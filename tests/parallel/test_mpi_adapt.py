"""An adaptive 2D run (``[mesh.adapt]``, solver/adapt.py) under ``mpirun -n 2`` == serial.

The remeshing is collective: each rank refines its own cells (the base mesh's partition is
kept), the marks of cells on a rank boundary are made the same on both ranks, and the
inventory correction takes the same shifts everywhere (allreduced inventories). The same
cells are then refined on 1 and 2 ranks, so the cell and dof counts must be equal, and the
rest differs only by the linear solver's round-off (MUMPS on another ordering) carried
through Newton's tolerance (rtol 1e-10): the summary agrees to 1e-8 (measured: 1e-12 on a
longer run of the same case).
"""

from __future__ import annotations

import pytest

from conftest import PROBLEMS, assert_scalars_agree, heterofem, read_summary

ARGS = [str(PROBLEMS / "tio2_vo2_tio2_001_vacancies_1d.toml"),
        "--set", "run.dimension=2", "--set", "mesh.width_nm=2", "--set", "mesh.size_nm=1.0",
        "--set", "mesh.interface_size_nm=0.5", "--set", "time.end_s=0.002",
        "--set", "time.dt_initial_s=0.0005", "--set", "time.output_times_s=[]",
        "--set", 'mesh.adapt={fields=["mu"], every_steps=4, max_levels=2}',
        "--set", "solver.atol=1e-10", "--set", "output.fields=false"]


@pytest.mark.mpi
def test_adaptive_run_serial_equals_two_ranks(tmp_path):
    heterofem("run", *ARGS, "--out", str(tmp_path / "serial"))
    heterofem("run", *ARGS, "--out", str(tmp_path / "mpi"), np=2, timeout=300)
    serial, parallel = read_summary(tmp_path / "serial"), read_summary(tmp_path / "mpi")
    assert parallel["mpi_size"] == 2 and serial["converged"] and parallel["converged"]
    adapt = serial["mesh"]["adapt"]
    assert adapt["remeshes"] >= 1 and adapt["dofs_max"] > serial["dofs"]
    assert parallel["mesh"]["adapt"]["dofs_final"] == adapt["dofs_final"]
    assert parallel["mesh"]["adapt"]["cells_final"] == adapt["cells_final"]
    assert_scalars_agree(serial, parallel, rel=1e-8)
