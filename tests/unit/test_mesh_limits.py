"""Meshes give what they ask for or an error (issue #20, items 1, 2 and 9).

- sizes below the floor are refused, and a built mesh whose cells are far larger than asked
  (Gmsh's point count overflowing) is refused instead of solved on;
- the cell count estimated from the config is within a factor 2 of Gmsh's, and a request
  over ``[mesh] max_cells`` / ``--max-cells`` is refused before anything is meshed;
- ``mesh.file`` is never run as a Gmsh script (``SystemCall`` runs a shell).

Bad input goes through the in-process CLI (``validate`` and ``run``): exit 2, the key named,
no traceback, nothing written. Meshes are small.
"""

from __future__ import annotations

import heterofem.solver.dolfinx_env  # noqa: F401  (the wheel's MPI set-up before mpi4py)

import math
from pathlib import Path

from mpi4py import MPI

import pytest

from conftest import PROBLEMS, assert_input_error, cli
from heterofem.meshes import (
    MIN_SIZE_NM,
    MeshError,
    check_mesh_file,
    create_stack_mesh,
    estimate_cells,
    honour_problems,
)
from heterofem.solver.config import Config
from heterofem.solver.validation import load_config

from test_mesh import ISLAND_3D, LAYERS, make_config

COMM = MPI.COMM_WORLD
PROBLEM_1D = PROBLEMS / "ruo2_tio2_110_1d.toml"
PROBLEM_2D = PROBLEMS / "ruo2_tio2_110_island_2d.toml"


def both_commands(config: Path, out: Path, *args: str):
    """``validate`` and ``run --out`` on the same input: [(result, out), ...]."""
    return [(cli("validate", str(config), *args), out),
            (cli("run", str(config), "--out", str(out), *args), out)]


# -- the estimate ----------------------------------------------------------------------------


CALIBRATION = {
    "1d-problem": lambda: load_config(PROBLEM_1D),
    "2d-island-problem": lambda: load_config(PROBLEM_2D),
    "3d-island": lambda: make_config(3, [ISLAND_3D]),  # coarse: boundary cells dominate
}


@pytest.mark.parametrize("case", list(CALIBRATION))
def test_estimate_within_factor_2_of_gmsh(case):
    cfg = CALIBRATION[case]()
    geometry = cfg.stack_geometry()
    actual = create_stack_mesh(geometry, COMM).mesh.topology.index_map(geometry.dimension)
    assert actual.size_global / 2 <= estimate_cells(geometry) <= 2 * actual.size_global


def test_estimate_follows_the_size_field():
    """A uniform layer: thickness / h intervals in 1D; halving h about quadruples the cells
    in 2D; an interface adds, per side, the integral of dz / h(z) over the linear ramp from
    h_interface to size_nm: R ln(H / h_i) / (H - h_i) intervals instead of R / H."""
    one = [{**LAYERS[0], "thickness_nm": 10.0}]
    assert estimate_cells(make_config(1, layers=one, size_nm=0.5).stack_geometry()) == 20
    gmsh_2d = {"width_nm": 50.0, "generator": "gmsh"}  # the formula (structured: exact count)
    coarse = estimate_cells(make_config(2, layers=one, size_nm=0.5, **gmsh_2d).stack_geometry())
    fine = estimate_cells(make_config(2, layers=one, size_nm=0.25, **gmsh_2d).stack_geometry())
    assert 3.5 < fine / coarse < 4.0
    two = [one[0], {**one[0], "name": "film"}]
    h, h_i, r = 1.0, 0.1, 2.0
    side = r * math.log(h / h_i) / (h - h_i) + (10.0 - r) / h
    cfg = make_config(1, layers=two, size_nm=h, interface_size_nm=h_i, refine_distance_nm=r)
    assert estimate_cells(cfg.stack_geometry()) == math.ceil(2 * side)


# -- item 1: tiny sizes ----------------------------------------------------------------------


def test_tiny_sizes_are_refused(tmp_path):
    """The issue's case meshed 3 cells and 'converged' on a wrong potential."""
    for result, out in both_commands(PROBLEM_1D, tmp_path / "out", "--set", "mesh.size_nm=1e-9",
                                     "--set", "mesh.interface_size_nm=1e-9"):
        assert_input_error(result, "mesh.size_nm", out)
        assert "mesh.interface_size_nm" in result.output
        assert f"{MIN_SIZE_NM:g}" in result.output
    # a size_nm whose derived interface size (size_nm / 4) is below the floor
    result = cli("validate", str(PROBLEM_1D), "--set", f"mesh.size_nm={2 * MIN_SIZE_NM}",
                 "--set", "mesh.interface_size_nm=1e-9")
    assert_input_error(result, "mesh.interface_size_nm")


def test_mesh_that_does_not_honour_the_size_is_refused(tmp_path):
    """Above the floor and with the budget raised, Gmsh's 1D point count (a C int of the
    integral of 1/h) still wraps around: a 1e7 nm layer at 1e-3 nm gets a few huge cells.
    The run must stop with an error naming mesh.size_nm, not solve on that mesh."""
    out = tmp_path / "out"
    result = cli("run", str(PROBLEM_1D), "--out", str(out), "--max-cells", str(10**11),
                 "--set", "layers.0.thickness_nm=1e7", "--set", "mesh.size_nm=1e-3",
                 "--set", "mesh.interface_size_nm=1e-3", "--set", "mesh.generator=gmsh")
    assert_input_error(result, "mesh.size_nm", out)
    assert "Gmsh made cells up to" in result.output


def test_structured_mesh_over_the_local_index_is_refused(tmp_path):
    """The same request on the structured mesher (rank 0 builds the grid): refused by its
    node count before any array is allocated, naming mesh.size_nm and refine_levels."""
    out = tmp_path / "out"
    result = cli("run", str(PROBLEM_1D), "--out", str(out), "--max-cells", str(10**11),
                 "--set", "layers.0.thickness_nm=1e7", "--set", "mesh.size_nm=1e-3",
                 "--set", "mesh.interface_size_nm=1e-3", "--set", "mesh.generator=structured")
    assert_input_error(result, "mesh.size_nm", out)
    assert "refine_levels" in result.output


def test_honour_check_accepts_the_shipped_meshes_and_refuses_huge_cells():
    cfg = load_config(PROBLEM_2D)
    create_stack_mesh(cfg.stack_geometry(), COMM)  # would raise MeshError were the check too strict
    assert honour_problems(cfg.stack_geometry(), 3, 1.3 * cfg.mesh.size_nm) == []
    ((key, message),) = honour_problems(cfg.stack_geometry(), 3, 20.0)
    assert key == "mesh.size_nm" and "20 nm" in message


# -- item 2: the cell budget -----------------------------------------------------------------


def budget_message_parts(cfg: Config) -> list[str]:
    return ["mesh.max_cells", f"about {float(estimate_cells(cfg.stack_geometry())):.3g} cells",
            f"limit of {cfg.mesh.max_cells}", "--max-cells", "[mesh] max_cells"]


@pytest.mark.parametrize("problem, overrides", [
    (PROBLEM_1D, ["mesh.size_nm=1e-6"]),  # the 1D case (also below the size floor)
    (PROBLEM_2D, ["mesh.size_nm=1e-4"]),  # the 2D case
    (PROBLEM_2D, ["mesh.size_nm=0.01", "mesh.interface_size_nm=0.01"]),  # above the floor
    (PROBLEM_1D, ["layers.0.thickness_nm=1e9"]),  # not Gmsh's bare "()"
], ids=["1d-1e-6", "2d-1e-4", "2d-0.01", "thickness-1e9"])
def test_over_budget_is_refused_before_meshing(tmp_path, problem, overrides):
    sets = [arg for o in overrides for arg in ("--set", o)]
    cfg = load_config(problem, overrides)
    assert estimate_cells(cfg.stack_geometry()) > cfg.mesh.max_cells
    for result, out in both_commands(problem, tmp_path / "out", *sets):
        assert_input_error(result, "mesh.max_cells", out)
        for part in budget_message_parts(cfg):
            assert part in result.output, (part, result.output)


def test_max_cells_sets_the_limit(tmp_path):
    """--max-cells lowers or raises the limit (validate only: nothing is meshed)."""
    estimate = estimate_cells(load_config(PROBLEM_1D).stack_geometry())
    result = cli("validate", str(PROBLEM_1D), "--max-cells", str(estimate - 1))
    assert_input_error(result, "mesh.max_cells")
    assert f"limit of {estimate - 1}" in result.output
    assert cli("validate", str(PROBLEM_1D), "--max-cells", str(estimate)).exit_code == 0
    big = ["--set", "mesh.size_nm=0.01", "--set", "mesh.interface_size_nm=0.01"]
    assert cli("validate", str(PROBLEM_2D), *big).exit_code == 2
    assert cli("validate", str(PROBLEM_2D), *big, "--max-cells", str(10**8)).exit_code == 0


# -- item 9: mesh files never run code -------------------------------------------------------


@pytest.mark.parametrize("name, text", [
    ("evil.msh", 'SystemCall "touch {marker}";\n'),
    ("evil.geo", 'SystemCall "touch {marker}";\n'),
    # Gmsh matches the header at the very first byte; a leading blank line makes it a script
    ("blank.msh", '\n$MeshFormat\n4.1 0 8\n$EndMeshFormat\nSystemCall "touch {marker}";\n'),
], ids=["script-named-msh", "geo-script", "blank-line-before-header"])
def test_mesh_file_script_is_never_run(tmp_path, name, text):
    marker = tmp_path / "marker"
    mesh_file = tmp_path / name
    mesh_file.write_text(text.format(marker=marker))
    for result, out in both_commands(PROBLEM_1D, tmp_path / "out", "--set",
                                     f"mesh.file={mesh_file}"):
        assert_input_error(result, "mesh.file", out)
        assert not marker.exists(), "Gmsh ran the file as a script"
    # the mesher refuses it too when called directly (without the CLI's preflight)
    with pytest.raises(MeshError, match="mesh.file"):
        create_stack_mesh(load_config(PROBLEM_1D, [f"mesh.file={mesh_file}"]).stack_geometry(),
                          COMM)
    assert not marker.exists()


def test_genuine_msh_with_extra_sections_is_read_as_data(tmp_path):
    """Gmsh's MSH reader stores unknown sections as text: a genuine mesh still works."""
    cfg = load_config(PROBLEM_1D)
    path = tmp_path / "stack.msh"
    built = create_stack_mesh(cfg.stack_geometry(), COMM, msh_path=path)
    marker = tmp_path / "marker"
    with path.open("a") as f:
        f.write(f'$Extra\nSystemCall "touch {marker}";\n$EndExtra\n')
    assert check_mesh_file(path) == []
    external = create_stack_mesh(
        load_config(PROBLEM_1D, [f"mesh.file={path}"]).stack_geometry(), COMM)
    assert external.layer_ids == built.layer_ids
    assert (external.mesh.topology.index_map(1).size_global
            == built.mesh.topology.index_map(1).size_global)
    assert not marker.exists()
