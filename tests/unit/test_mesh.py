"""Tests of heterofem.meshes: layer volumes, named facets, refinement, I/O, external .msh, MPI.

Volumes are checked with DOLFINx assembly (independent of ``mesh_statistics``, which uses
vertex coordinates). Meshes are small; the 3D ones coarse.
"""

from __future__ import annotations

import heterofem.solver.dolfinx_env  # noqa: F401  (the wheel's MPI set-up before mpi4py)

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from mpi4py import MPI

import gmsh
import meshio
import numpy as np
import pytest
import ufl

import dolfinx
from dolfinx.io import XDMFFile

from heterofem.meshes import (
    MeshError,
    StackMesh,
    create_stack_mesh,
    feature_blocks,
    mesh_statistics,
    write_mesh_xdmf,
)
from heterofem.solver.config import Config

COMM = MPI.COMM_WORLD

LAYERS = [
    {"name": "substrate", "material": "TiO2", "thickness_nm": 6.0},
    {"name": "film", "material": "VO2_R", "thickness_nm": 4.3},
    {"name": "vac", "material": "vacuum", "thickness_nm": 5.0},
]

STEP = {"type": "step", "layer": "substrate", "height_nm": 1.5, "x_nm": 7.0}
ISLAND_2D = {"type": "island", "layer": "film", "height_nm": 2.0, "width_nm": 3.0, "x_nm": 5.0}
ISLAND_3D = {"type": "island", "layer": "substrate", "height_nm": 1.5, "width_nm": 2.0,
             "depth_nm": 2.5, "x_nm": 3.0, "y_nm": 2.0}

# small and coarse so that the whole file stays fast
MESH = {
    1: {"size_nm": 1.0, "interface_size_nm": 0.25, "width_nm": 12.0, "depth_nm": 5.0},
    2: {"size_nm": 2.0, "interface_size_nm": 0.5, "width_nm": 12.0, "depth_nm": 5.0},
    3: {"size_nm": 2.5, "interface_size_nm": 1.0, "width_nm": 6.0, "depth_nm": 5.0},
}


def make_config(dim: int, features: list[dict] | None = None, layers: list[dict] | None = None,
                **mesh) -> Config:
    return Config.model_validate({
        "run": {"dimension": dim},
        "layers": layers or LAYERS,
        "mesh": {**MESH[dim], "features": features or [], **mesh},
    })


_CACHE: dict[str, StackMesh] = {}


def stack_for(cfg: Config) -> StackMesh:
    """Build each distinct config's mesh once per test session."""
    key = cfg.model_dump_json()
    if key not in _CACHE:
        _CACHE[key] = create_stack_mesh(cfg.stack_geometry(), COMM)
    return _CACHE[key]


def assembled(stack: StackMesh, integral: str, tag: int) -> float:
    """Global measure of a tagged set: ``integral`` is "dx", "ds" or "dS"."""
    mesh = stack.mesh
    data = stack.cell_tags if integral == "dx" else stack.facet_tags
    measure = ufl.Measure(integral, domain=mesh, subdomain_data=data)
    one = dolfinx.fem.Constant(mesh, dolfinx.default_scalar_type(1.0))
    value = dolfinx.fem.assemble_scalar(dolfinx.fem.form(one * measure(tag)))
    return mesh.comm.allreduce(value, op=MPI.SUM)


def facet_measure(stack: StackMesh, name: str) -> float:
    """Measure of a named facet set, whether its facets are on the boundary or inside."""
    tag = stack.facet_ids[name]
    return assembled(stack, "ds", tag) + assembled(stack, "dS", tag)


def cross_section(cfg: Config) -> float:
    """Lateral measure of the stack: 1 (1D), width (2D), width * depth (3D)."""
    dim = cfg.run.dimension
    return [1.0, cfg.mesh.width_nm, cfg.mesh.width_nm * cfg.mesh.depth_nm][dim - 1]


def expected_volumes(cfg: Config) -> dict[str, float]:
    """Layer volumes: thickness * cross-section, with each feature's volume moved from the
    layer above into the feature's layer."""
    names = [lay.name for lay in cfg.layers]
    volumes = {lay.name: lay.thickness_nm * cross_section(cfg) for lay in cfg.layers}
    for block in feature_blocks(cfg.stack_geometry()):
        moved = block.measure(cfg.run.dimension)
        volumes[block.layer] += moved
        volumes[names[names.index(block.layer) + 1]] -= moved
    return volumes


@pytest.fixture
def shared_tmp(tmp_path) -> Path:
    """A temporary folder that is the same on every rank (under ``mpirun ... pytest``)."""
    return Path(COMM.bcast(str(tmp_path), root=0))


# -- geometry --------------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_layer_volumes(dim):
    cfg = make_config(dim)
    stack = stack_for(cfg)
    assert stack.dim == dim and stack.mesh.geometry.dim == dim
    for name, volume in expected_volumes(cfg).items():
        assert assembled(stack, "dx", stack.layer_ids[name]) == pytest.approx(volume, rel=1e-10)


@pytest.mark.parametrize("dim, feature", [(2, STEP), (2, ISLAND_2D), (3, ISLAND_3D)],
                         ids=["step-2d", "island-2d", "island-3d"])
def test_feature_moves_volume_to_its_layer(dim, feature):
    cfg = make_config(dim, [feature])
    stack = stack_for(cfg)
    (block,) = feature_blocks(cfg.stack_geometry())
    plain = {lay.name: lay.thickness_nm * cross_section(cfg) for lay in cfg.layers}
    above = "film" if feature["layer"] == "substrate" else "vac"
    for name in plain:
        got = assembled(stack, "dx", stack.layer_ids[name])
        change = {feature["layer"]: block.measure(dim), above: -block.measure(dim)}.get(name, 0.0)
        assert got == pytest.approx(plain[name] + change, rel=1e-10), name


@pytest.mark.parametrize("dim, features", [(1, []), (2, []), (2, [STEP]), (3, [ISLAND_3D])])
def test_every_named_set_exists(dim, features):
    cfg = make_config(dim, features)
    stack = stack_for(cfg)
    assert set(stack.layer_ids) == {lay.name for lay in cfg.layers}
    assert set(cfg.facet_names()) <= set(stack.facet_ids)
    values = list(stack.layer_ids.values()) + list(stack.facet_ids.values())
    assert len(set(values)) == len(values)
    for name, tag in stack.facet_ids.items():
        owned = stack.facet_tags.indices < stack.mesh.topology.index_map(dim - 1).size_local
        count = COMM.allreduce(int(np.sum(stack.facet_tags.values[owned] == tag)))
        assert count >= 1, name
    for name, tag in stack.layer_ids.items():
        assert COMM.allreduce(int(np.sum(stack.cell_tags.values == tag))) >= 1, name


def test_facet_measures_2d():
    cfg = make_config(2)
    stack = stack_for(cfg)
    width, total = cfg.mesh.width_nm, cfg.total_thickness_nm
    expected = {"bottom": width, "top": width, "left": total, "right": total,
                "substrate/film": width, "film/vac": width}
    for name, value in expected.items():
        assert facet_measure(stack, name) == pytest.approx(value, rel=1e-10), name
    # interfaces are interior facets, outer sides exterior ones
    assert assembled(stack, "ds", stack.facet_ids["substrate/film"]) == 0.0
    assert assembled(stack, "dS", stack.facet_ids["bottom"]) == 0.0


def test_facet_measures_3d_and_feature_interfaces():
    cfg = make_config(3)
    stack = stack_for(cfg)
    w, d, total = cfg.mesh.width_nm, cfg.mesh.depth_nm, cfg.total_thickness_nm
    expected = {"bottom": w * d, "top": w * d, "left": d * total, "right": d * total,
                "front": w * total, "back": w * total, "substrate/film": w * d}
    for name, value in expected.items():
        assert facet_measure(stack, name) == pytest.approx(value, rel=1e-10), name
    # a step adds its riser to the interface; an island its top is shifted and its sides added
    step = stack_for(make_config(2, [STEP]))
    assert facet_measure(step, "substrate/film") == pytest.approx(12.0 + 1.5, rel=1e-10)
    island = stack_for(make_config(3, [ISLAND_3D]))
    sides = 2 * (2.0 + 2.5) * 1.5
    assert facet_measure(island, "substrate/film") == pytest.approx(w * d + sides, rel=1e-10)


def test_vertices_at_every_interface_1d():
    cfg = make_config(1)
    z = stack_for(cfg).mesh.geometry.x[:, 0]
    for z0, _ in cfg.layer_bounds_nm()[1:]:
        found = COMM.allreduce(int(np.any(np.abs(z - z0) < 1e-12)))
        assert found >= 1, z0


# -- refinement ------------------------------------------------------------------------------


def interface_and_far_sizes(stack: StackMesh, cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """Sizes h of owned cells touching an interface, and of cells farther than
    ``refine_distance_nm`` from every interface."""
    mesh, dim = stack.mesh, stack.dim
    z_if = np.array([b[0] for b in cfg.layer_bounds_nm()[1:]])

    def near(x):
        return np.any(np.abs(x[dim - 1][:, None] - z_if[None, :]) < 1e-12, axis=1)

    vertices = dolfinx.mesh.locate_entities(mesh, 0, near)
    mesh.topology.create_connectivity(0, dim)
    touching = dolfinx.mesh.compute_incident_entities(mesh.topology, vertices, 0, dim)
    n_owned = mesh.topology.index_map(dim).size_local
    touching = touching[touching < n_owned]
    cells = np.arange(n_owned, dtype=np.int32)
    mid = dolfinx.mesh.compute_midpoints(mesh, dim, cells)[:, dim - 1]
    far = cells[np.min(np.abs(mid[:, None] - z_if[None, :]), axis=1) > cfg.mesh.refine_distance_nm]
    return mesh.h(dim, touching), mesh.h(dim, far)


@pytest.mark.parametrize("dim", [1, 2])
def test_cells_are_refined_at_interfaces(dim):
    thick = [{**lay, "thickness_nm": 10.0} for lay in LAYERS]
    # 2D: Gmsh's isotropic cells (the structured mesher's flat cells keep h = size_nm
    # laterally; its z spacing is checked in test_structured_mesh.py)
    cfg = make_config(dim, layers=thick, size_nm=2.0, interface_size_nm=0.25,
                      refine_distance_nm=2.0, width_nm=10.0,
                      generator="gmsh" if dim == 2 else "auto")
    near, far = interface_and_far_sizes(create_stack_mesh(cfg.stack_geometry(), COMM), cfg)
    mean_near = COMM.allreduce(near.sum()) / COMM.allreduce(near.size)
    mean_far = COMM.allreduce(far.sum()) / COMM.allreduce(far.size)
    max_near = COMM.allreduce(near.max(initial=0.0), op=MPI.MAX)
    assert mean_near < 0.25 * mean_far
    assert max_near < 0.5 * mean_far
    assert mean_near == pytest.approx(0.25, rel=0.5 if dim == 2 else 0.2)


# -- statistics ------------------------------------------------------------------------------


def test_mesh_statistics():
    cfg = make_config(2, [STEP])
    stack = stack_for(cfg)
    stats = json.loads(json.dumps(mesh_statistics(stack)))  # JSON-ready
    volumes = expected_volumes(cfg)
    for name, layer in stats["layers"].items():
        assert layer["volume"] == pytest.approx(volumes[name], rel=1e-10)
        assert layer["cells"] > 0 and 0 < layer["h_min"] <= layer["h_max"]
    assert stats["total"]["volume"] == pytest.approx(sum(volumes.values()), rel=1e-10)
    assert stats["total"]["cells"] == sum(lay["cells"] for lay in stats["layers"].values())
    assert stats["total"]["cells"] == stack.mesh.topology.index_map(2).size_global
    assert set(cfg.facet_names()) <= set(stats["facet_names"])
    assert stats["facets"]["bottom"]["measure"] == pytest.approx(cfg.mesh.width_nm, rel=1e-12)
    assert stats["facets"]["substrate/film"]["measure"] == pytest.approx(13.5, rel=1e-12)


# -- I/O -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [1, 2])
def test_write_mesh_xdmf_reads_back(dim, shared_tmp):
    stack = stack_for(make_config(dim))
    path = shared_tmp / "mesh.xdmf"
    write_mesh_xdmf(stack, path)
    grids = [g.get("Name") for g in ET.parse(path).getroot().iter("Grid")]
    assert grids == ["mesh", "layers", "facets"]
    # meshio and PyPI VTK read only single-grid XDMF, so read back with DOLFINx itself
    with XDMFFile(COMM, str(path), "r") as xdmf:
        mesh = xdmf.read_mesh(name="mesh")
        mesh.topology.create_connectivity(dim - 1, dim)
        layers = xdmf.read_meshtags(mesh, name="layers")
        facets = xdmf.read_meshtags(mesh, name="facets")
    n_cells = stack.mesh.topology.index_map(dim).size_global
    assert mesh.topology.index_map(dim).size_global == n_cells
    for tags, ids in ((layers, stack.layer_ids), (facets, stack.facet_ids)):
        for tag in ids.values():
            assert COMM.allreduce(int(np.sum(tags.values == tag))) >= 1


def test_msh_file_has_physical_names(shared_tmp):
    cfg = make_config(2, [ISLAND_2D])
    path = shared_tmp / "sub" / "stack.msh"
    stack = create_stack_mesh(cfg.stack_geometry(), COMM, msh_path=path)
    msh = meshio.read(path)
    for name, tag in stack.layer_ids.items():
        assert tuple(msh.field_data[name]) == (tag, 2)
    for name, tag in stack.facet_ids.items():
        assert tuple(msh.field_data[name]) == (tag, 1)
    assert sum(len(c.data) for c in msh.cells if c.type == "triangle") == \
        stack.mesh.topology.index_map(2).size_global


def test_external_msh_round_trip(shared_tmp):
    cfg = make_config(2, [STEP])
    path = shared_tmp / "stack.msh"
    built = create_stack_mesh(cfg.stack_geometry(), COMM, msh_path=path)
    external = create_stack_mesh(make_config(2, [STEP], file=str(path)).stack_geometry(), COMM)
    assert external.layer_ids == built.layer_ids
    assert external.facet_ids == built.facet_ids
    for name, volume in expected_volumes(cfg).items():
        got = assembled(external, "dx", external.layer_ids[name])
        assert got == pytest.approx(volume, rel=1e-10), name
    assert facet_measure(external, "substrate/film") == pytest.approx(13.5, rel=1e-10)


def test_external_msh_missing_layer(shared_tmp):
    path = shared_tmp / "stack.msh"
    create_stack_mesh(make_config(2).stack_geometry(), COMM, msh_path=path)
    renamed = [LAYERS[0], {**LAYERS[1], "name": "electrode"}, LAYERS[2]]
    with pytest.raises(MeshError) as info:
        create_stack_mesh(make_config(2, layers=renamed, file=str(path)).stack_geometry(), COMM)
    (key, message), = info.value.problems
    assert key == "mesh.file" and "'electrode'" in message and "'film'" in message
    with pytest.raises(MeshError, match="run.dimension"):
        create_stack_mesh(make_config(3, file=str(path)).stack_geometry(), COMM)
    with pytest.raises(MeshError, match="existing Gmsh"):
        create_stack_mesh(make_config(2, file=str(shared_tmp / "none.msh")).stack_geometry(), COMM)


def test_bad_feature_raises_mesh_error():
    outside = {**ISLAND_2D, "x_nm": 11.5}
    too_high = {**STEP, "height_nm": 4.3}
    with pytest.raises(MeshError) as info:
        create_stack_mesh(make_config(2, [outside, too_high]).stack_geometry(), COMM)
    keys = [key for key, _ in info.value.problems]
    assert keys == ["mesh.features.0.x_nm", "mesh.features.1.height_nm"]


def test_running_gmsh_session_is_left_alone():
    started = not gmsh.isInitialized()
    if COMM.rank == 0:
        if started:
            gmsh.initialize()
        gmsh.model.add("caller")
    try:
        create_stack_mesh(make_config(1).stack_geometry(), COMM)
        if COMM.rank == 0:
            assert gmsh.isInitialized() and gmsh.model.getCurrent() == "caller"
    finally:
        if COMM.rank == 0:
            gmsh.model.remove()
            if started:
                gmsh.finalize()


# -- MPI -------------------------------------------------------------------------------------

MPI_SCRIPT = """
import json, sys
from heterofem.solver.dolfinx_env import MPI, dolfinx  # the wheel's MPI first, or conda's
import ufl
from heterofem.meshes import create_stack_mesh, mesh_statistics
from heterofem.solver.config import Config

cfg = Config.model_validate_json(open(sys.argv[1]).read())
stack = create_stack_mesh(cfg.stack_geometry(), MPI.COMM_WORLD)
stats = mesh_statistics(stack)
dS = ufl.Measure("dS", domain=stack.mesh, subdomain_data=stack.facet_tags)
one = dolfinx.fem.Constant(stack.mesh, 1.0)
local = dolfinx.fem.assemble_scalar(dolfinx.fem.form(one * dS(stack.facet_ids["substrate/film"])))
stats["dS"] = stack.mesh.comm.allreduce(local)
stats["ranks"] = stack.mesh.comm.size
if stack.mesh.comm.rank == 0:
    print("STATS", json.dumps(stats))
"""


@pytest.mark.mpi
def test_two_ranks_match_serial(tmp_path):
    if COMM.size > 1:
        pytest.skip("already running under MPI")
    mpirun = Path(sys.executable).parent / "mpirun"
    if not mpirun.exists():
        pytest.skip(f"no mpirun next to {sys.executable}")
    cfg = make_config(2, [STEP])
    (tmp_path / "cfg.json").write_text(cfg.model_dump_json())
    (tmp_path / "script.py").write_text(MPI_SCRIPT)
    run = subprocess.run([str(mpirun), "-n", "2", sys.executable, "script.py", "cfg.json"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    line = next(ln for ln in run.stdout.splitlines() if ln.startswith("STATS "))
    parallel = json.loads(line[len("STATS "):])
    serial = mesh_statistics(stack_for(cfg))
    assert parallel["ranks"] == 2
    assert parallel["dS"] == pytest.approx(13.5, rel=1e-12)
    for name, layer in serial["layers"].items():
        other = parallel["layers"][name]
        assert other["cells"] == layer["cells"]
        assert other["volume"] == pytest.approx(layer["volume"], rel=1e-12)
        assert (other["h_min"], other["h_max"]) == pytest.approx((layer["h_min"], layer["h_max"]))
    for name, facet in serial["facets"].items():
        assert parallel["facets"][name]["facets"] == facet["facets"], name
        assert parallel["facets"][name]["measure"] == pytest.approx(facet["measure"], rel=1e-12)
