"""Structured meshes of layered stacks (no lateral features): DOLFINx's own grid, graded.

A stack of flat layers needs no Gmsh: the nodes are a tensor grid whose z coordinates are
graded towards every interface by the size field of the Gmsh path
(:func:`heterofem.meshes.stack._add_size_field`: ``h_interface`` on an interface, growing
linearly to ``size_nm`` at ``refine_distance_nm`` from it; :func:`_graded`), and whose
lateral coordinates are uniform at ``size_nm``. DOLFINx builds the grid
(``create_interval`` / ``create_rectangle`` / ``create_box``: intervals, two triangles per
rectangle, six tetrahedra per brick, simplices like Gmsh's, so every later step, e.g. the
closed-form vacancy flux on triangles, sees the same kind of mesh) on the integer index box,
and every rank moves its vertices to the graded coordinates. Cells and facets carry the tag
values and names of the Gmsh path: layers 1..N bottom to top, then
``geometry.facet_names()`` (outer sides, then interfaces); a cell's layer is the grid row of
its midpoint, a facet's set the plane it lies on.

The grid functions are plain numpy (the budget check imports them without DOLFINx); only
the mesh builders need DOLFINx.

Lateral size is ``size_nm`` (not ``h_interface``): a layered stack with uniform boundary
conditions varies along z only, so near an interface the cells are flat (aspect ratio
size_nm / h_interface, 4 by default) instead of isotropic: fewer cells for the same z
resolution (half the unknowns of the Gmsh mesh on tests/unit/test_structured_mesh.py's 2D
case, same accuracy). Use ``[mesh] generator = "gmsh"`` for isotropic cells.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from heterofem.meshes.geometry import MeshError, StackGeometry

#: the one value of ``[mesh] generator`` per mesher; "auto" picks structured without features
GENERATORS = ("auto", "structured", "gmsh")

_MESHIO_TYPES = {1: ("line", "vertex"), 2: ("triangle", "line"), 3: ("tetra", "triangle")}


def uses_structured(geometry: StackGeometry) -> bool:
    """Whether the stack is meshed by this module: ``generator = "structured"``, or "auto"
    for a stack without features and without an external file."""
    if geometry.generator == "structured":
        return True
    return geometry.generator == "auto" and not geometry.features and not geometry.file


def structured_problems(geometry: StackGeometry) -> list[tuple[str, str]]:
    """``generator = "structured"`` asked for a stack it cannot mesh (features, a file)."""
    if geometry.generator not in GENERATORS:
        return [("mesh.generator", f"unknown generator '{geometry.generator}'; give one of "
                 f"{', '.join(GENERATORS)}")]
    if geometry.generator != "structured":
        return []
    if geometry.features:
        return [("mesh.generator", "a structured mesh has flat layers only, and this stack "
                 "has [[mesh.features]]; set mesh.generator = \"gmsh\" (or \"auto\") or "
                 "remove the features")]
    if geometry.file:
        return [("mesh.generator", "mesh.file replaces meshing; remove mesh.generator = "
                 "\"structured\" or mesh.file")]
    return []


# -- node coordinates ------------------------------------------------------------------------


def _ramp(geometry: StackGeometry) -> np.ndarray:
    """Node distances from an interface through the ramp of the size field, up to the first
    at or beyond ``refine_distance_nm`` (a few dozen: the cells grow geometrically)."""
    h0, h1, r = geometry.h_interface, geometry.size_nm, geometry.refine_distance_nm
    s = (h1 - h0) / r
    if s > 1e-12:  # d_k = h0 ((1 + s)^k - 1) / s until d_k >= r
        k = np.arange(math.ceil(math.log1p(s * r / h0) / math.log1p(s) - 1e-12) + 1)
        return h0 * np.expm1(k * math.log1p(s)) / s
    # no growth (interface size >= size_nm): the smaller size up to r
    return np.arange(math.ceil(r / min(h0, h1) - 1e-12) + 1) * min(h0, h1)


def _graded_count(geometry: StackGeometry, ramp: np.ndarray, length: float) -> int:
    """Cells of :func:`_graded` over ``length``, without building them."""
    if ramp[-1] >= length:
        return max(1, int(np.searchsorted(ramp, length * (1 - 1e-12))))
    return ramp.size - 1 + math.ceil((length - ramp[-1]) / geometry.size_nm - 1e-9)


def _graded(geometry: StackGeometry, length: float) -> np.ndarray:
    """Distances ``0 .. length`` of the nodes graded away from an interface at distance 0.

    Each cell is as long as the size field at its interface-side node: ``h_interface`` at
    the interface, growing linearly (so the cells geometrically, by ``1 + s`` with ``s`` the
    ramp's slope) to ``size_nm`` at ``refine_distance_nm``, then ``size_nm``; the first node
    at or beyond ``length`` is kept and the whole sequence scaled down onto ``length`` (cells
    are never longer than asked)."""
    ramp = _ramp(geometry)
    n = _graded_count(geometry, ramp, length)
    if n >= ramp.size:
        ramp = np.concatenate([ramp, ramp[-1] + geometry.size_nm * np.arange(1, n - ramp.size + 2)])
    return ramp[: n + 1] * (length / ramp[n])


def _layer_count(geometry: StackGeometry, t: float, lower: bool, upper: bool) -> int:
    """Cells of :func:`_layer_nodes`, without building them."""
    if not (lower or upper):
        return max(1, math.ceil(t / geometry.size_nm - 1e-9))
    ramp = _ramp(geometry)
    if lower and upper:
        return 2 * _graded_count(geometry, ramp, t / 2)
    return _graded_count(geometry, ramp, t)


def _layer_nodes(geometry: StackGeometry, z0: float, z1: float, lower: bool,
                 upper: bool) -> np.ndarray:
    """Nodes in [z0, z1] (both included) spaced by the size field, graded towards the layer's
    interfaces (``lower``/``upper``: whether that end is an interface; :func:`_graded`). A
    layer with two interfaces is graded from each up to its middle."""
    t = z1 - z0
    if not (lower or upper):
        nodes = np.linspace(z0, z1, max(1, math.ceil(t / geometry.size_nm - 1e-9)) + 1)
    elif lower and upper:
        half = _graded(geometry, t / 2)
        nodes = np.concatenate([z0 + half, (z1 - half)[::-1][1:]])
    elif lower:
        nodes = z0 + _graded(geometry, t)
    else:
        nodes = (z1 - _graded(geometry, t))[::-1]
    nodes[0], nodes[-1] = z0, z1
    return nodes


def z_nodes(geometry: StackGeometry) -> tuple[np.ndarray, np.ndarray]:
    """(node z coordinates through the stack, layer index of each row of cells): every
    interface is a node."""
    bounds = geometry.layer_bounds_nm()
    n = len(bounds)
    parts, rows = [], []
    for i, (z0, z1) in enumerate(bounds):
        nodes = _layer_nodes(geometry, z0, z1, lower=i > 0, upper=i < n - 1)
        parts.append(nodes if i == 0 else nodes[1:])
        rows.append(np.full(nodes.size - 1, i, dtype=np.int32))
    return np.concatenate(parts), np.concatenate(rows)


def _lateral_nodes(extent: float, size: float) -> np.ndarray:
    return np.linspace(0.0, extent, max(1, math.ceil(extent / size - 1e-9)) + 1)


def grid_axes(geometry: StackGeometry) -> tuple[list[np.ndarray], np.ndarray]:
    """([node coordinates per axis, z last], layer index per row of cells)."""
    z, rows = z_nodes(geometry)
    lateral = [geometry.width_nm, geometry.depth_nm][: geometry.dimension - 1]
    return [_lateral_nodes(e, geometry.size_nm) for e in lateral] + [z], rows


def grid_shape(geometry: StackGeometry) -> tuple[int, ...]:
    """Cells of the grid along each axis (z last), without building it."""
    bounds = geometry.layer_bounds_nm()
    n = len(bounds)
    rows = sum(_layer_count(geometry, z1 - z0, i > 0, i < n - 1)
               for i, (z0, z1) in enumerate(bounds))
    lateral = [geometry.width_nm, geometry.depth_nm][: geometry.dimension - 1]
    return tuple(max(1, math.ceil(e / geometry.size_nm - 1e-9)) for e in lateral) + (rows,)


def structured_cell_count(geometry: StackGeometry) -> int:
    """Cells of the structured mesh (before refinement), exactly, without building it."""
    return math.factorial(geometry.dimension) * math.prod(grid_shape(geometry))


# -- cells -----------------------------------------------------------------------------------


def _grid_points(axes: list[np.ndarray]) -> np.ndarray:
    """Node coordinates (n, dim), axis 0 fastest."""
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.reshape(-1, order="F") for m in mesh], axis=1)


# -- tags ------------------------------------------------------------------------------------


def _planes(geometry: StackGeometry, z: np.ndarray) -> dict[str, tuple[int, float]]:
    """Facet set name -> (axis, coordinate) of the plane it lies on."""
    dim = geometry.dimension
    top = float(z[-1])
    planes = {"bottom": (dim - 1, 0.0), "top": (dim - 1, top)}
    if dim >= 2:
        planes.update(left=(0, 0.0), right=(0, geometry.width_nm))
    if dim == 3:
        planes.update(front=(1, 0.0), back=(1, geometry.depth_nm))
    for name, (_, z1) in zip(geometry.interface_names(), geometry.layer_bounds_nm()):
        planes[name] = (dim - 1, z1)
    return planes


def _tag_ids(geometry: StackGeometry) -> tuple[dict[str, int], dict[str, int]]:
    """The Gmsh path's tag values: layers 1..N, then the facet sets in facet_names() order."""
    layer_ids = {name: i + 1 for i, name in enumerate(geometry.layer_names)}
    facet_ids = {name: len(layer_ids) + 1 + k for k, name in enumerate(geometry.facet_names())}
    return layer_ids, facet_ids


def _tolerance(axes: list[np.ndarray]) -> float:
    return 1e-6 * min(float(np.diff(a).min()) for a in axes)


def _cell_tags(mesh, z: np.ndarray, rows: np.ndarray):
    """Layer tag of every local cell (owned and ghost): the row of the grid its midpoint
    lies in, and that row's layer."""
    import dolfinx

    tdim = mesh.topology.dim
    x = mesh.geometry.x
    mid = x[mesh.geometry.dofmaps[0], tdim - 1].mean(axis=1)
    row = np.clip(np.searchsorted(z, mid) - 1, 0, rows.size - 1)
    return dolfinx.mesh.meshtags(mesh, tdim, np.arange(mid.size, dtype=np.int32),
                                 (rows[row] + 1).astype(np.int32))


def _facet_tags(mesh, planes: dict[str, tuple[int, float]],
                facet_ids: dict[str, int], tol: float):
    """Facets on each named plane (outer sides and interfaces), tagged with its id."""
    import dolfinx

    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    indices, values = [], []
    for name, (axis, value) in planes.items():
        found = dolfinx.mesh.locate_entities(
            mesh, tdim - 1, lambda x, a=axis, v=value: np.abs(x[a] - v) <= tol)
        indices.append(found)
        values.append(np.full(found.size, facet_ids[name], dtype=np.int32))
    idx = np.concatenate(indices).astype(np.int32)
    vals = np.concatenate(values)
    order = np.argsort(idx, kind="stable")
    return dolfinx.mesh.meshtags(mesh, tdim - 1, idx[order], vals[order])


def _grid_mesh(comm, shape: tuple[int, ...]):
    """DOLFINx's own structured simplex mesh with ``shape`` cells per axis on the index box
    [0, n_0] x ... (vertex coordinates are the integer grid indices), ghosted by shared
    facets (for ``dS``)."""
    import dolfinx

    kind = {"ghost_mode": dolfinx.mesh.GhostMode.shared_facet}
    if len(shape) == 1:
        return dolfinx.mesh.create_interval(comm, shape[0], [0.0, float(shape[0])], **kind)
    if len(shape) == 2:
        return dolfinx.mesh.create_rectangle(comm, [[0.0, 0.0], [float(n) for n in shape]],
                                             list(shape), dolfinx.mesh.CellType.triangle, **kind)
    return dolfinx.mesh.create_box(comm, [[0.0, 0.0, 0.0], [float(n) for n in shape]],
                                   list(shape), dolfinx.mesh.CellType.tetrahedron, **kind)


def create_structured_mesh(geometry: StackGeometry, comm, msh_path: Path | None = None):
    """The stack as a structured simplex mesh distributed over ``comm`` (collective); returns
    ``(mesh, cell_tags, facet_tags, layer_ids, facet_ids)``. Rank 0 writes ``msh_path``
    (Gmsh MSH 2.2 with physical names) if given.

    DOLFINx builds the grid (``create_interval`` / ``create_rectangle`` / ``create_box`` on
    the integer index box: its fastest path, partitioned with shared-facet ghosts) and each
    rank moves its vertices to the graded coordinates: index i on an axis -> that axis's
    i-th node."""
    shape = grid_shape(geometry)
    nodes = math.prod(n + 1 for n in shape)
    if nodes >= 2**31:
        raise MeshError([("mesh.size_nm", f"the structured mesh would have {float(nodes):.3g} "
                          "nodes, built on rank 0, over DOLFINx's 32-bit local index (2^31); "
                          "coarsen mesh.size_nm / mesh.interface_size_nm and refine in "
                          "parallel with mesh.refine_levels (docs/cluster.md)")])
    axes, rows = grid_axes(geometry)
    mesh = _grid_mesh(comm, shape)
    x = mesh.geometry.x
    for axis, nodes_on_axis in enumerate(axes):
        x[:, axis] = nodes_on_axis[np.rint(x[:, axis]).astype(np.int64)]
    layer_ids, facet_ids = _tag_ids(geometry)
    planes = _planes(geometry, axes[-1])
    cell_tags = _cell_tags(mesh, axes[-1], rows)
    facet_tags = _facet_tags(mesh, planes, facet_ids, _tolerance(axes))
    if comm.allreduce(int(msh_path is not None)):  # collective: rank 0 alone has the path
        _gather_and_write(mesh, cell_tags, msh_path, geometry, axes, planes, layer_ids,
                          facet_ids)
    return mesh, cell_tags, facet_tags, layer_ids, facet_ids


# -- .msh output (rank 0) --------------------------------------------------------------------


def _plane_facets(cells: np.ndarray, x: np.ndarray, axis: int, value: float,
                  tol: float) -> np.ndarray:
    """Facets (vertex lists) of ``cells`` lying on the plane x[axis] = value, each once."""
    dim = cells.shape[1] - 1
    on = np.abs(x[:, axis] - value) <= tol
    hits = cells[on[cells].sum(axis=1) >= dim]
    found = []
    for drop in range(dim + 1):
        facets = np.delete(hits, drop, axis=1)
        found.append(facets[on[facets].all(axis=1)])
    return np.unique(np.sort(np.concatenate(found), axis=1), axis=0)


def _gather_and_write(mesh, cell_tags, msh_path, geometry: StackGeometry, axes, planes: dict,
                      layer_ids: dict, facet_ids: dict) -> None:
    """Gather the owned cells (as DOLFINx's input node numbers, axis 0 fastest: the grid's
    own numbering) and their layers on rank 0, which writes the .msh (collective)."""
    tdim = mesh.topology.dim
    n_owned = mesh.topology.index_map(tdim).size_local
    nodes = np.asarray(mesh.geometry.input_global_indices, dtype=np.int64)
    cells = nodes[mesh.geometry.dofmaps[0][:n_owned]]
    layers = np.full(n_owned, -1, dtype=np.int64)
    keep = cell_tags.indices < n_owned
    layers[cell_tags.indices[keep]] = cell_tags.values[keep] - 1
    parts = mesh.comm.gather((cells, layers), root=0)
    if mesh.comm.rank == 0:
        cells = np.concatenate([c for c, _ in parts])
        layers = np.concatenate([lay for _, lay in parts])
        _write_msh(Path(msh_path), geometry, _grid_points(axes), cells, layers, planes,
                   layer_ids, facet_ids, _tolerance(axes))


def _write_msh(path: Path, geometry: StackGeometry, x: np.ndarray, cells: np.ndarray,
               cell_layer: np.ndarray, planes: dict, layer_ids: dict, facet_ids: dict,
               tol: float) -> None:
    """The mesh with its physical groups as Gmsh MSH 2.2 (what the Gmsh path writes: a
    cell group per layer, a facet group per outer side and interface, named)."""
    import meshio

    dim = geometry.dimension
    cell_type, facet_type = _MESHIO_TYPES[dim]
    blocks, physical = [(cell_type, cells)], [cell_layer + 1]
    for name, (axis, value) in planes.items():
        facets = _plane_facets(cells, x, axis, value, tol)
        blocks.append((facet_type, facets))
        physical.append(np.full(len(facets), facet_ids[name]))
    field_data = {name: np.array([tag, dim]) for name, tag in layer_ids.items()}
    field_data.update({name: np.array([tag, dim - 1]) for name, tag in facet_ids.items()})
    points = np.zeros((len(x), 3))
    points[:, :dim] = x
    physical = [p.astype(np.int32) for p in physical]
    out = meshio.Mesh(points, blocks, field_data=field_data,
                      cell_data={"gmsh:physical": physical, "gmsh:geometrical": physical})
    path.parent.mkdir(parents=True, exist_ok=True)
    meshio.write(path, out, file_format="gmsh22", binary=False)
