"""The layered stack: geometry -> Gmsh model -> distributed DOLFINx mesh with named tags.

Coordinates are nanometres and the growth axis z is the *last* coordinate: a 1D mesh has
``x[0] = z``, a 2D mesh is an x-z cross-section (``x[0] = x``, ``x[1] = z``), a 3D mesh has
``(x, y, z)``. The stack starts at z = 0 with ``geometry.layers[0]``; laterally it spans
``0..width_nm`` (x) and ``0..depth_nm`` (y). Every function takes a
:class:`heterofem.meshes.geometry.StackGeometry` (the solver builds it from its config with
``Config.stack_geometry()``); problems are named by the config's keys (``mesh.*``, ``layers.*``).

Every layer is a cell physical group named after the layer. Facet groups are the outer sides
(``bottom``, ``top``, ``left``, ``right``, ``front``, ``back``) and one group per pair of
touching layers, named ``interface_name(lower, upper)`` in stack order. Cell tag values are
1..N in stack order; facet tag values follow (N+1, ...), so every physical tag in a written
``.msh`` is unique.

Only rank 0 talks to Gmsh; :func:`create_stack_mesh` hands the model to
``dolfinx.io.gmsh.model_to_mesh``, which distributes it with shared-facet ghosting so that
interface integrals (``dS``) see both cells of every interior facet.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

try:
    import dolfinx_solver  # noqa: F401  (sets up the MPI libraries; must precede mpi4py)
except ImportError:  # a conda/system DOLFINx needs no set-up
    pass

from mpi4py import MPI

import gmsh
import numpy as np

import dolfinx
from dolfinx.io import XDMFFile
from dolfinx.io import gmsh as gmshio

from heterofem.meshes.budget import check_mesh_file, honour_problems
from heterofem.meshes.features import feature_blocks, feature_problems
from heterofem.meshes.geometry import MeshError, StackGeometry, interface_name  # noqa: F401
from heterofem.meshes.geometry import layer_name_problems
from heterofem.meshes.refine import refine_tagged
from heterofem.meshes.structured import create_structured_mesh, structured_problems
from heterofem.meshes.structured import uses_structured

logger = logging.getLogger(__name__)

#: names of the cell and facet tags in XDMF files
CELL_TAGS_NAME = "layers"
FACET_TAGS_NAME = "facets"

#: Gmsh options that make the background size field the only source of cell sizes
_SIZE_OPTIONS = {
    "Mesh.MeshSizeExtendFromBoundary": 0,
    "Mesh.MeshSizeFromPoints": 0,
    "Mesh.MeshSizeFromCurvature": 0,
}

_SIMPLICES = (dolfinx.mesh.CellType.interval, dolfinx.mesh.CellType.triangle,
              dolfinx.mesh.CellType.tetrahedron)


@dataclass
class StackMesh:
    """A distributed mesh of the stack with its named cell and facet tags."""

    mesh: dolfinx.mesh.Mesh
    #: layer tags on cells (XDMF name "layers")
    cell_tags: dolfinx.mesh.MeshTags
    #: outer-side and interface tags on facets (XDMF name "facets")
    facet_tags: dolfinx.mesh.MeshTags
    #: layer name -> cell tag value
    layer_ids: dict[str, int]
    #: facet set name -> facet tag value
    facet_ids: dict[str, int]

    @property
    def dim(self) -> int:
        """Topological (= geometric) dimension of the mesh: 1, 2 or 3."""
        return self.mesh.topology.dim


# -- Gmsh model ------------------------------------------------------------------------------


@dataclass
class _Entities:
    """Gmsh entities of a built stack, before physical groups are added."""

    #: layer name -> entity tags of dimension dim
    cells: dict[str, list[int]]
    #: facet set name -> entity tags of dimension dim - 1
    facets: dict[str, list[int]]
    #: entities of dimension dim - 1 between two different layers (refined towards)
    interfaces: list[int]


def build_gmsh_model(geometry: StackGeometry) -> None:
    """Build the stack into the current (initialised) Gmsh model and mesh it.

    Creates the geometry (1D: built-in kernel; 2D/3D: OCC boxes fragmented together), the
    physical groups (layers; outer sides and interfaces), the interface-refining size field,
    and generates the mesh. Sets the global Gmsh options in ``_SIZE_OPTIONS``. Called on
    rank 0 only. Raises :class:`MeshError` for a geometry that cannot be built, and for a
    mesh whose cells are far larger than requested (Gmsh could not mesh as asked;
    :func:`heterofem.meshes.budget.honour_problems`).
    """
    problems = _stack_problems(geometry)
    if problems:
        raise MeshError(problems)
    for option, value in _SIZE_OPTIONS.items():
        gmsh.option.setNumber(option, value)
    entities = _build_1d(geometry) if geometry.dimension == 1 else _build_occ(geometry)
    _add_physical_groups(geometry, entities)
    _add_size_field(geometry, entities.interfaces)
    gmsh.model.mesh.generate(geometry.dimension)
    problems = honour_problems(geometry, *_largest_cell(geometry.dimension))
    if problems:
        raise MeshError(problems)


def _largest_cell(dim: int) -> tuple[int, float]:
    """(number of cells, longest cell edge [nm]) of the current Gmsh model's simplex mesh."""
    tags, coords, _ = gmsh.model.mesh.getNodes()
    x = np.zeros((int(tags.max(initial=0)) + 1, 3))
    x[tags.astype(np.int64)] = coords.reshape(-1, 3)
    n_cells, h_max = 0, 0.0
    for kind, nodes in zip(*gmsh.model.mesh.getElements(dim)[::2]):
        n_vertices = gmsh.model.mesh.getElementProperties(kind)[3]
        cells = nodes.astype(np.int64).reshape(-1, n_vertices)[:, : dim + 1]
        n_cells += len(cells)
        for i in range(dim + 1):
            for j in range(i):
                edges = np.linalg.norm(x[cells[:, i]] - x[cells[:, j]], axis=1)
                h_max = max(h_max, float(edges.max(initial=0.0)))
    return n_cells, h_max


def _stack_problems(geometry: StackGeometry) -> list[tuple[str, str]]:
    """Geometry problems the mesher cannot work around (the checks the config's validation
    pass reports too: one definition each, here for a geometry that was never validated)."""
    return layer_name_problems(geometry.layer_names) + feature_problems(geometry)


def _build_1d(geometry: StackGeometry) -> _Entities:
    """Points at every interface z (on the Gmsh x axis) and one line per layer."""
    kernel = gmsh.model.geo
    bounds = geometry.layer_bounds_nm()
    points = [kernel.addPoint(z, 0.0, 0.0) for z in [b[0] for b in bounds] + [bounds[-1][1]]]
    lines = [kernel.addLine(a, b) for a, b in zip(points, points[1:])]
    kernel.synchronize()
    facets = {"bottom": [points[0]], "top": [points[-1]]}
    facets.update({name: [p] for name, p in zip(geometry.interface_names(), points[1:-1])})
    return _Entities(dict(zip(geometry.layer_names, ([ln] for ln in lines))), facets, points[1:-1])


def _occ_block(dim: int, lower: tuple[float, ...], size: tuple[float, ...]) -> int:
    """An OCC rectangle (2D, in the Gmsh x-y plane with y = z) or box (3D); returns its tag."""
    x, y, z = lower
    dx, dy, dz = size
    if dim == 2:
        return gmsh.model.occ.addRectangle(x, z, 0.0, dx, dz)
    return gmsh.model.occ.addBox(x, y, z, dx, dy, dz)


def _build_occ(geometry: StackGeometry) -> _Entities:
    """Layer boxes plus feature blocks, fragmented into one conforming OCC geometry.

    Each resulting piece belongs to the layer whose box it came from, unless it also came
    from a feature block, which wins (the feature's material protrudes into the layer above).
    Using the fragment map instead of centres of mass keeps non-convex pieces (a layer around
    an island) right.
    """
    dim = geometry.dimension
    width, depth = geometry.width_nm, geometry.depth_nm
    owners, tags = [], []
    for name, (z0, z1) in zip(geometry.layer_names, geometry.layer_bounds_nm()):
        owners.append(name)
        tags.append(_occ_block(dim, (0.0, 0.0, z0), (width, depth, z1 - z0)))
    for block in feature_blocks(geometry):
        owners.append(block.layer)
        tags.append(_occ_block(dim, block.lower, block.size))

    if len(tags) > 1:
        _, pieces = gmsh.model.occ.fragment([(dim, tags[0])], [(dim, t) for t in tags[1:]])
    else:
        pieces = [[(dim, tags[0])]]
    gmsh.model.occ.synchronize()

    layer_of: dict[int, str] = {}
    for owner, children in zip(owners, pieces):  # layers first, then features override
        layer_of.update({tag: owner for _, tag in children})
    cells: dict[str, list[int]] = {}
    for tag, owner in sorted(layer_of.items()):
        cells.setdefault(owner, []).append(tag)
    facets, interfaces = _classify_facets(geometry, layer_of)
    return _Entities(cells, facets, interfaces)


def _classify_facets(
    geometry: StackGeometry, layer_of: dict[int, str]
) -> tuple[dict[str, list[int]], list[int]]:
    """Name every boundary entity of the fragmented geometry by adjacency.

    An entity bounding one cell entity is on an outer side (named by position); one between
    two cell entities of different layers is an interface (named in stack order); one between
    two pieces of the same layer is left unnamed.
    """
    dim = geometry.dimension
    order = {name: i for i, name in enumerate(geometry.layer_names)}
    facets: dict[str, list[int]] = {}
    interfaces: list[int] = []
    for _, tag in gmsh.model.getEntities(dim - 1):
        upward, _ = gmsh.model.getAdjacencies(dim - 1, tag)
        layers = sorted({layer_of[int(c)] for c in upward}, key=order.__getitem__)
        if len(upward) == 1:
            name = _outer_side(geometry, tag)
        elif len(layers) == 2:
            name = interface_name(*layers)
            interfaces.append(tag)
        else:
            continue
        facets.setdefault(name, []).append(tag)
    return facets, interfaces


def _outer_side(geometry: StackGeometry, tag: int) -> str:
    """The outer side (bottom, top, left, ...) an OCC boundary entity lies on."""
    dim = geometry.dimension
    com = gmsh.model.occ.getCenterOfMass(dim - 1, tag)
    total, width, depth = geometry.total_thickness_nm, geometry.width_nm, geometry.depth_nm
    tol = 1e-9 * max(total, width, depth)
    z_axis = dim - 1  # Gmsh y in 2D, z in 3D
    sides = [("bottom", z_axis, 0.0), ("top", z_axis, total), ("left", 0, 0.0),
             ("right", 0, width)]
    if dim == 3:
        sides += [("front", 1, 0.0), ("back", 1, depth)]
    for name, axis, value in sides:
        if abs(com[axis] - value) <= tol:
            return name
    raise MeshError([("mesh", f"internal error: boundary entity {tag} at {tuple(com)} lies on "
                      "no outer side; please report this config")])


def _group_ids(geometry: StackGeometry, facets: dict[str, list[int]]
               ) -> tuple[dict[str, int], dict[str, int]]:
    """Tag values: layers 1..N in stack order, then the facet sets in ``geometry.facet_names()``
    order, then any further pairing (sorted)."""
    layer_ids = {name: i + 1 for i, name in enumerate(geometry.layer_names)}
    expected = geometry.facet_names()
    missing = [name for name in expected if name not in facets]
    if missing:
        raise MeshError([("mesh", f"internal error: no facets found for {', '.join(missing)}; "
                          "please report this config")])
    names = expected + sorted(set(facets) - set(expected))
    facet_ids = {name: len(layer_ids) + 1 + k for k, name in enumerate(names)}
    return layer_ids, facet_ids


def _add_physical_groups(geometry: StackGeometry, entities: _Entities) -> None:
    dim = geometry.dimension
    layer_ids, facet_ids = _group_ids(geometry, entities.facets)
    for name, value in layer_ids.items():
        gmsh.model.addPhysicalGroup(dim, entities.cells[name], value, name)
    for name, value in facet_ids.items():
        gmsh.model.addPhysicalGroup(dim - 1, entities.facets[name], value, name)


def _add_size_field(geometry: StackGeometry, interfaces: list[int]) -> None:
    """Background size: ``h_interface`` on the interfaces, growing linearly to ``size_nm`` at
    ``refine_distance_nm`` from them (uniform ``size_nm`` for a single layer)."""
    field = gmsh.model.mesh.field
    dim = geometry.dimension
    if not interfaces:
        size = field.add("MathEval")
        field.setString(size, "F", f"{geometry.size_nm:.17g}")
        field.setAsBackgroundMesh(size)
        return
    distance = field.add("Distance")
    field.setNumbers(distance, ("PointsList", "CurvesList", "SurfacesList")[dim - 1], interfaces)
    if dim > 1:
        field.setNumber(distance, "Sampling", _distance_sampling(geometry))
    size = field.add("Threshold")
    field.setNumber(size, "InField", distance)
    field.setNumber(size, "SizeMin", geometry.h_interface)
    field.setNumber(size, "SizeMax", geometry.size_nm)
    field.setNumber(size, "DistMin", 0.0)
    field.setNumber(size, "DistMax", geometry.refine_distance_nm)
    field.setAsBackgroundMesh(size)


def _distance_sampling(geometry: StackGeometry) -> int:
    """Sample points per interface curve/surface direction of the Distance field: about one
    per ``h_interface`` along the longest lateral extent, so that the sampled distance on an
    interface is at most ~h/2 (bounded to keep 3D fields cheap)."""
    extent = max(geometry.width_nm, geometry.depth_nm if geometry.dimension == 3 else 0.0)
    cap = 1000 if geometry.dimension == 2 else 400
    return int(min(cap, max(20, math.ceil(extent / geometry.h_interface) + 1)))


# -- Gmsh model -> DOLFINx mesh ----------------------------------------------------------------


@contextmanager
def _gmsh_model(active: bool, name: str = "heterofem_stack") -> Iterator[None]:
    """A fresh current Gmsh model on the active rank; Gmsh is initialised and finalised only
    if it was not running already (then the caller's current model and terminal are kept)."""
    if not active:
        yield
        return
    started = not gmsh.isInitialized()
    if started:
        gmsh.initialize(interruptible=threading.current_thread() is threading.main_thread())
    terminal = gmsh.option.getNumber("General.Terminal")
    gmsh.option.setNumber("General.Terminal", 1 if logger.isEnabledFor(logging.DEBUG) else 0)
    previous = gmsh.model.getCurrent()
    gmsh.model.add(name)
    try:
        yield
    finally:
        gmsh.model.setCurrent(name)
        gmsh.model.remove()
        if started:
            gmsh.finalize()
        else:
            gmsh.option.setNumber("General.Terminal", terminal)
            if previous in gmsh.model.list():
                gmsh.model.setCurrent(previous)


def _physical_groups() -> list[tuple[int, int, str]]:
    """(dim, tag, name) of every physical group of the current Gmsh model."""
    return [(dim, tag, gmsh.model.getPhysicalName(dim, tag))
            for dim, tag in gmsh.model.getPhysicalGroups()]


def _group_problems(geometry: StackGeometry, groups: list[tuple[int, int, str]]
                    ) -> list[tuple[str, str]]:
    """Check the physical groups against the geometry's layers (needed for external files)."""
    key = "mesh.file" if geometry.file else "mesh"
    dim = geometry.dimension
    if not groups:
        return [(key, "the mesh has no physical groups; name the cells of every layer with a "
                 "physical group called after the layer")]
    tdim = max(g[0] for g in groups)
    if tdim != dim:
        return [(key, f"the mesh is {tdim}D but run.dimension = {dim}; set run.dimension = "
                 f"{tdim} or give a {dim}D mesh")]
    problems = []
    for d in (tdim, tdim - 1):
        names = [name for g_dim, _, name in groups if g_dim == d and name]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append((key, f"the physical name '{name}' is used by several {d}D groups; "
                             "give each group its own name"))
    found = [name for g_dim, _, name in groups if g_dim == tdim and name]
    missing = [name for name in geometry.layer_names if name not in found]
    if missing:
        kind = ("lines", "surfaces", "volumes")[tdim - 1]
        problems.append((key, f"no cell physical group for layer{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(repr(m) for m in missing)}; the file has "
                         f"{', '.join(repr(f) for f in found) or 'no named cell groups'}; name "
                         f"the physical {kind} of every layer after it in [[layers]]"))
    return problems


def _prepare_model(geometry: StackGeometry, msh_path: Path | None):
    """Rank 0: build or read the model, check its groups, write the .msh.

    Returns ``(groups, problems, exception)`` instead of raising, so that every rank can
    raise together after a broadcast (a lone failing rank 0 would leave the others hanging).
    """
    try:
        if geometry.file:
            if not Path(geometry.file).is_file():
                return None, [("mesh.file", f"cannot read '{geometry.file}'; give an existing "
                               "Gmsh .msh file")], None
            unsafe = check_mesh_file(geometry.file)  # merge would run a script as code
            if unsafe:
                return None, unsafe, None
            gmsh.merge(str(geometry.file))
        else:
            build_gmsh_model(geometry)
        groups = _physical_groups()
        problems = _group_problems(geometry, groups)
        if msh_path is not None and not problems:
            Path(msh_path).parent.mkdir(parents=True, exist_ok=True)
            gmsh.write(str(msh_path))
        return groups, problems, None
    except MeshError as exc:
        return None, exc.problems, exc
    except Exception as exc:  # Gmsh raises plain Exception
        if geometry.file:
            msg = f"Gmsh cannot read '{geometry.file}' ({exc}); give a valid Gmsh .msh file"
            return None, [("mesh.file", msg)], exc
        msg = (f"Gmsh could not mesh the stack ({exc}); check the layer thicknesses, features "
               "and mesh sizes")
        return None, [("mesh", msg)], exc


def _partitioner():
    """Cell partitioner that ghosts both cells of every interior facet (for ``dS``)."""
    return dolfinx.mesh.create_cell_partitioner(dolfinx.mesh.GhostMode.shared_facet, 2)


def create_stack_mesh(geometry: StackGeometry, comm: MPI.Comm,
                      msh_path: Path | None = None) -> StackMesh:
    """Mesh the stack of ``geometry`` (or read ``geometry.file``) and distribute it over ``comm``.

    A stack of flat layers (``generator`` "auto" or "structured") gets the structured mesh of
    :mod:`heterofem.meshes.structured`; otherwise rank 0 builds the Gmsh model
    (:func:`build_gmsh_model`) or merges the external ``.msh`` and ``model_to_mesh``
    distributes it. Rank 0 writes ``msh_path`` if given. The distributed mesh is then refined
    ``geometry.refine_levels`` times in parallel (:mod:`heterofem.meshes.refine`). Collective.
    Raises :class:`MeshError` on every rank if the geometry or the file is unusable (an
    external file must have a cell physical group named after every layer; its other
    physical names become further layer/facet ids).
    """
    problems = structured_problems(geometry)
    if problems:
        raise MeshError(problems)
    if uses_structured(geometry):
        mesh, cells, facets, layer_ids, facet_ids = create_structured_mesh(
            geometry, comm, msh_path)
        cells.name, facets.name = CELL_TAGS_NAME, FACET_TAGS_NAME
        stack = StackMesh(mesh, cells, facets, layer_ids, facet_ids)
    else:
        stack = _gmsh_stack_mesh(geometry, comm, msh_path)
    if geometry.refine_levels:
        stack.mesh, stack.cell_tags, stack.facet_tags = refine_tagged(
            stack.mesh, stack.cell_tags, stack.facet_tags, geometry.refine_levels)
    logger.info("mesh: %dD, %d cells, %d vertices, layers %s", stack.dim,
                stack.mesh.topology.index_map(stack.dim).size_global,
                stack.mesh.topology.index_map(0).size_global, ", ".join(stack.layer_ids))
    return stack


def _gmsh_stack_mesh(geometry: StackGeometry, comm: MPI.Comm, msh_path: Path | None) -> StackMesh:
    """The Gmsh path of :func:`create_stack_mesh` (a built model or an external file)."""
    root = comm.rank == 0
    with _gmsh_model(active=root):
        groups, problems, error = _prepare_model(geometry, msh_path) if root else (None, [], None)
        groups, problems = comm.bcast((groups, problems), root=0)
        if problems:
            raise MeshError(problems) from error
        try:
            data = gmshio.model_to_mesh(gmsh.model if root else None, comm, 0,
                                        gdim=geometry.dimension, partitioner=_partitioner())
        except RuntimeError as exc:
            key = "mesh.file" if geometry.file else "mesh"
            msg = f"{exc}; tag every cell with exactly one physical group"
            raise MeshError([(key, msg)]) from exc
    return _stack_from(geometry, data, groups)


def _stack_from(
    geometry: StackGeometry, data: gmshio.MeshData, groups: list[tuple[int, int, str]]
) -> StackMesh:
    """Wrap ``model_to_mesh`` output; names come from the Gmsh groups per dimension (a layer
    and a facet set may share a name, which ``MeshData.physical_groups`` cannot hold)."""
    mesh = data.mesh
    tdim = mesh.topology.dim
    cells = {name: tag for dim, tag, name in groups if dim == tdim and name}
    facets = {name: tag for dim, tag, name in groups if dim == tdim - 1 and name}
    layer_ids = {name: cells[name] for name in geometry.layer_names}
    layer_ids.update({name: tag for name, tag in cells.items() if name not in layer_ids})
    facet_tags = data.facet_tags
    if facet_tags is None:
        mesh.topology.create_connectivity(tdim - 1, tdim)
        facet_tags = dolfinx.mesh.meshtags(mesh, tdim - 1, np.empty(0, np.int32),
                                           np.empty(0, np.int32))
    data.cell_tags.name = CELL_TAGS_NAME
    facet_tags.name = FACET_TAGS_NAME
    return StackMesh(mesh, data.cell_tags, facet_tags, layer_ids, facets)


# -- output and statistics -------------------------------------------------------------------


def write_mesh_xdmf(stack: StackMesh, path: Path) -> None:
    """Write the mesh with its cell tags ("layers") and facet tags ("facets") to XDMF (+ .h5).
    Collective."""
    mesh = stack.mesh
    path = Path(path)
    if mesh.comm.rank == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
    mesh.comm.barrier()
    mesh.topology.create_connectivity(stack.dim - 1, stack.dim)
    with XDMFFile(mesh.comm, str(path), "w") as xdmf:
        xdmf.write_mesh(mesh)
        xdmf.write_meshtags(stack.cell_tags, mesh.geometry)
        xdmf.write_meshtags(stack.facet_tags, mesh.geometry)


def _entity_measures(mesh: dolfinx.mesh.Mesh, dim: int, entities: np.ndarray) -> np.ndarray | None:
    """Length/area/volume of simplex entities from their vertices (points count 1); None for
    non-simplex cells."""
    if dim == 0:
        return np.ones(len(entities))
    if mesh.topology.cell_type not in _SIMPLICES:
        return None
    nodes = dolfinx.mesh.entities_to_geometry(mesh, dim, entities)[:, : dim + 1]
    x = mesh.geometry.x[nodes][:, :, : mesh.geometry.dim]
    edges = x[:, 1:, :] - x[:, :1, :]
    gram = edges @ edges.transpose(0, 2, 1)
    return np.sqrt(np.abs(np.linalg.det(gram))) / math.factorial(dim)


def _owned_values(tags: dolfinx.mesh.MeshTags, n_owned: int) -> np.ndarray:
    """Tag value of each owned entity (-1 where untagged)."""
    values = np.full(n_owned, -1, dtype=np.int64)
    keep = tags.indices < n_owned
    values[tags.indices[keep]] = tags.values[keep]
    return values


def _reduce(comm: MPI.Comm, select: np.ndarray, measure: np.ndarray | None,
            h: np.ndarray | None = None) -> dict:
    """Global count, summed measure and h range of the selected owned entities."""
    count = comm.allreduce(int(select.sum()), op=MPI.SUM)
    total = None if measure is None else comm.allreduce(float(measure[select].sum()), op=MPI.SUM)
    out = {"count": count, "measure": total}
    if h is not None:
        h_sel = h[select]
        h_min = comm.allreduce(float(h_sel.min()) if h_sel.size else math.inf, op=MPI.MIN)
        h_max = comm.allreduce(float(h_sel.max()) if h_sel.size else 0.0, op=MPI.MAX)
        out.update(h_min=h_min if count else None, h_max=h_max if count else None)
    return out


def mesh_statistics(stack: StackMesh) -> dict:
    """Cell counts, volumes and cell sizes per layer, totals, and the facet sets. Collective;
    every rank gets the same dict (JSON-ready).

    Volumes are lengths in 1D, areas in 2D (nm^dim); ``h`` is the largest vertex distance of
    a cell [nm]. Facet measures are summed over owned facets (a 1D "facet" counts 1).
    """
    mesh, comm, tdim = stack.mesh, stack.mesh.comm, stack.dim
    n_cells = mesh.topology.index_map(tdim).size_local
    cells = np.arange(n_cells, dtype=np.int32)
    volume = _entity_measures(mesh, tdim, cells)
    h = mesh.h(tdim, cells)
    cell_values = _owned_values(stack.cell_tags, n_cells)

    def cell_summary(select: np.ndarray) -> dict:
        r = _reduce(comm, select, volume, h)
        return {"cells": r["count"], "volume": r["measure"], "h_min": r["h_min"],
                "h_max": r["h_max"]}

    layers = {name: {"tag": value, **cell_summary(cell_values == value)}
              for name, value in stack.layer_ids.items()}
    total = cell_summary(np.ones(n_cells, dtype=bool))
    total["vertices"] = mesh.topology.index_map(0).size_global

    mesh.topology.create_entities(tdim - 1)
    n_facets = mesh.topology.index_map(tdim - 1).size_local
    facet_values = _owned_values(stack.facet_tags, n_facets)
    tagged = np.flatnonzero(facet_values >= 0).astype(np.int32)
    measure = np.zeros(n_facets)
    facet_measure = _entity_measures(mesh, tdim - 1, tagged)
    if facet_measure is not None:
        measure[tagged] = facet_measure
    facets = {}
    for name, value in stack.facet_ids.items():
        r = _reduce(comm, facet_values == value, None if facet_measure is None else measure)
        facets[name] = {"tag": value, "facets": r["count"], "measure": r["measure"]}

    return {
        "dimension": tdim,
        "units": {"length": "nm", "volume": f"nm^{tdim}"},
        "layers": layers,
        "total": total,
        "facets": facets,
        "facet_names": list(stack.facet_ids),
    }
