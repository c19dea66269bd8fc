"""Structured meshes of flat stacks and parallel refinement (issue #25, items 1 and 2).

- ``[mesh] generator = "auto"`` meshes a stack without features on a graded tensor grid
  (meshes/structured.py) and keeps Gmsh for features and files;
- the structured mesh has the Gmsh path's tag values and names, exact layer volumes and facet
  measures, interfaces on nodes, ``h_interface`` at interfaces and at most ``size_nm`` away;
- its answers agree with the Gmsh mesh's within their discretisation error (each compared
  with a finer mesh);
- ``[mesh] refine_levels`` refines the distributed mesh keeping tags, volumes and measures,
  and the answer converges with the levels.

Serial == ``mpirun -n 2`` is in tests/parallel/test_refine.py.
"""

from __future__ import annotations

import heterofem.solver.dolfinx_env  # noqa: F401  (the wheel's MPI set-up before mpi4py)

import math

from mpi4py import MPI

import meshio
import numpy as np
import pytest

from conftest import PROBLEMS, assert_input_error, cli, flat_scalars, simulation
from heterofem.meshes import create_stack_mesh, structured_cell_count, uses_structured
from heterofem.meshes.structured import z_nodes

from test_mesh import LAYERS, STEP, assembled, expected_volumes, facet_measure, make_config

COMM = MPI.COMM_WORLD
PROBLEM_1D = PROBLEMS / "tio2_vo2_tio2_001_1d.toml"


def lateral(cfg, name: str) -> float:
    """Measure of a named facet set of a flat stack."""
    dim, width, depth = cfg.run.dimension, cfg.mesh.width_nm, cfg.mesh.depth_nm
    total = sum(lay.thickness_nm for lay in cfg.layers)
    across = [1.0, width, width * depth][dim - 1]
    sides = {"left": total * [1.0, 1.0, depth][dim - 1], "front": total * width}
    sides.update(right=sides["left"], back=sides["front"])
    return sides.get(name, across)


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("levels", [0, 1])
def test_volumes_measures_and_tags(dim, levels):
    """Layer volumes and facet measures exact (by assembly), with and without refinement;
    the tag values and names are the Gmsh path's."""
    cfg = make_config(dim, refine_levels=levels)
    geometry = cfg.stack_geometry()
    assert uses_structured(geometry)
    stack = create_stack_mesh(geometry, COMM)
    cells = stack.mesh.topology.index_map(dim).size_global
    assert cells == structured_cell_count(geometry) * 2 ** (dim * levels)
    for name, volume in expected_volumes(cfg).items():
        assert assembled(stack, "dx", stack.layer_ids[name]) == pytest.approx(volume, rel=1e-12)
    for name in cfg.facet_names():
        assert facet_measure(stack, name) == pytest.approx(lateral(cfg, name), rel=1e-12), name
    gmsh = create_stack_mesh(make_config(dim, generator="gmsh").stack_geometry(), COMM)
    assert (stack.layer_ids, stack.facet_ids) == (gmsh.layer_ids, gmsh.facet_ids)
    assert (stack.cell_tags.name, stack.facet_tags.name) == (gmsh.cell_tags.name,
                                                             gmsh.facet_tags.name)


def test_refinement_keeps_feature_tags():
    """Gmsh mesh with a step, refined once: volumes (feature moved into its layer) and the
    interface measure (13.5 nm: riser included) survive."""
    cfg = make_config(2, [STEP], refine_levels=1)
    assert not uses_structured(cfg.stack_geometry())
    coarse = create_stack_mesh(make_config(2, [STEP]).stack_geometry(), COMM)
    stack = create_stack_mesh(cfg.stack_geometry(), COMM)
    n = [s.mesh.topology.index_map(2).size_global for s in (coarse, stack)]
    assert n[1] == 4 * n[0]
    for name, volume in expected_volumes(cfg).items():
        assert assembled(stack, "dx", stack.layer_ids[name]) == pytest.approx(volume, rel=1e-12)
    assert facet_measure(stack, "substrate/film") == pytest.approx(13.5, rel=1e-12)
    assert facet_measure(stack, "left") == pytest.approx(15.3, rel=1e-12)


def test_grading_follows_the_size_field():
    """Interfaces are nodes; the cell at an interface is h_interface (scaled down at most to
    fit the layer), cells grow to size_nm and never exceed the size field."""
    thick = [{**lay, "thickness_nm": 10.0} for lay in LAYERS]
    h, h_i, r = 2.0, 0.25, 2.0
    geometry = make_config(1, layers=thick, size_nm=h, interface_size_nm=h_i,
                           refine_distance_nm=r).stack_geometry()
    z, rows = z_nodes(geometry)
    assert np.all(np.isin([10.0, 20.0], z))
    assert np.array_equal(np.bincount(rows), [np.sum(rows == i) for i in range(3)])
    spacing = np.diff(z)
    for zi in (10.0, 20.0):
        k = int(np.flatnonzero(np.isclose(z, zi))[0])
        for cell in (spacing[k - 1], spacing[k]):
            assert 0.8 * h_i <= cell <= h_i * (1 + 1e-12)
    mid = 0.5 * (z[1:] + z[:-1])
    d = np.min(np.abs(mid[:, None] - np.array([10.0, 20.0])[None, :]), axis=1)
    allowed = np.minimum(h_i + (h - h_i) * (d + spacing / 2) / r, h)  # at the far node
    assert np.all(spacing <= allowed * (1 + 1e-12))
    assert spacing.max() == pytest.approx(h, rel=0.25)


def test_lateral_cells_and_auto_choice():
    """2D: size_nm laterally; a feature or mesh.generator = "gmsh" gives Gmsh (more cells:
    isotropic refinement at interfaces); "structured" with a feature is refused, naming the
    key and the fix."""
    cfg = make_config(2)
    stack = create_stack_mesh(cfg.stack_geometry(), COMM)
    n_x = math.ceil(cfg.mesh.width_nm / cfg.mesh.size_nm)
    assert stack.mesh.topology.index_map(2).size_global % (2 * n_x) == 0
    assert not uses_structured(make_config(2, [STEP]).stack_geometry())
    assert not uses_structured(make_config(2, generator="gmsh").stack_geometry())
    result = cli("validate", str(PROBLEMS / "tio2_vo2_tio2_001_2d_step.toml"),
                 "--set", "mesh.generator=structured")
    assert_input_error(result, "mesh.generator")
    assert "gmsh" in result.output


def test_mesh_command_writes_msh_with_names(tmp_path):
    result = cli("mesh", str(PROBLEM_1D), "--out", str(tmp_path), "--set", "run.dimension=2",
                 "--set", "mesh.width_nm=3")
    assert result.exit_code == 0, result.output
    msh = meshio.read(tmp_path / "mesh.msh")
    assert {"substrate", "template", "film", "bottom", "top", "left", "right",
            "substrate/template", "template/film"} <= set(msh.field_data)
    # the written cells are the solved ones: each layer's triangles add up to its area
    tags = msh.cell_data_dict["gmsh:physical"]["triangle"]
    tri = msh.points[msh.cells_dict["triangle"]][:, :, :2]
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    area = 0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
    for name, thickness in (("substrate", 20.0), ("template", 12.0), ("film", 6.0)):
        tag = msh.field_data[name][0]
        assert area[tags == tag].sum() == pytest.approx(3.0 * thickness, rel=1e-12)
    lines = msh.cells_dict["line"][msh.cell_data_dict["gmsh:physical"]["line"]
                                   == msh.field_data["template/film"][0]]
    assert np.allclose(msh.points[lines][:, :, 1], 32.0)


@pytest.fixture(scope="module")
def summaries(tmp_path_factory):
    """summary scalars of the 1D problem in 2D (width 3 nm): structured, Gmsh, a finer Gmsh
    reference (sizes / 4), and structured with 1 and 2 refinement levels."""
    out = tmp_path_factory.mktemp("summaries")
    base = ["run.dimension=2", "mesh.width_nm=3", "output.fields=false", "output.mesh=false"]
    cases = {
        "structured": [],
        "gmsh": ["mesh.generator=gmsh"],
        "fine": ["mesh.generator=gmsh", "mesh.size_nm=0.125", "mesh.interface_size_nm=0.0125"],
        "level1": ["mesh.refine_levels=1"],
        "level2": ["mesh.refine_levels=2"],
    }
    return {name: flat_scalars(simulation(PROBLEM_1D, set=base + extra)
                               .run(out / name).summary) for name, extra in cases.items()}


KEYS = ["electrostatics.phi_V.template/film", "electrostatics.phi_max_V",
        "electrostatics.electrostatic_energy_J_per_m2"]


@pytest.mark.parametrize("key", KEYS)
def test_structured_answer_matches_gmsh_within_discretisation_error(summaries, key):
    """Both meshes converge to the same answer: the structured mesh is as close to the fine
    reference as the Gmsh mesh (its error is ~2.6 % at these sizes for both), and the two
    coarse answers differ by less than half that common error (half the unknowns: the
    structured cells are flat at the interfaces)."""
    fine = summaries["fine"][key]
    err_gmsh = abs(summaries["gmsh"][key] - fine)
    err_structured = abs(summaries["structured"][key] - fine)
    assert err_structured <= 1.5 * err_gmsh
    assert abs(summaries["structured"][key] - summaries["gmsh"][key]) <= 0.5 * err_gmsh


@pytest.mark.parametrize("key", KEYS)
def test_answer_converges_with_refine_levels(summaries, key):
    """Successive differences shrink with each level (at least halved: P1 converges at
    order 1-2 in these quantities), and level 2 is close to the fine reference."""
    a, b, c = (summaries[k][key] for k in ("structured", "level1", "level2"))
    assert abs(c - b) <= 0.5 * abs(b - a)
    assert abs(c - summaries["fine"][key]) <= 2e-3 * abs(summaries["fine"][key])


def test_budget_counts_the_refined_cells(tmp_path):
    """max_cells applies to the refined mesh (2^(dim k) x the coarse count), and the refusal
    names mesh.max_cells and refine_levels."""
    from heterofem.meshes import estimate_cells

    cfg = make_config(2)
    coarse = estimate_cells(cfg.stack_geometry())
    assert coarse == structured_cell_count(cfg.stack_geometry())
    assert estimate_cells(make_config(2, refine_levels=2).stack_geometry()) == 16 * coarse
    result = cli("validate", str(PROBLEM_1D), "--set", "mesh.refine_levels=6",
                 "--set", "mesh.max_cells=1000")
    assert_input_error(result, "mesh.max_cells")
    assert "refine_levels" in result.output
