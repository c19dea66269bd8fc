"""Parallel uniform refinement of a distributed stack mesh, keeping its tags.

``[mesh] refine_levels = k``: the stack is meshed at the [mesh] sizes (on rank 0, Gmsh or the
structured mesher), distributed, and then every rank refines its own cells k times with
``dolfinx.mesh.refine`` (each level splits every edge at its midpoint: 2^dim children per
cell). The layer tags follow each child's parent cell and the facet tags each child facet's
parent facet, through the refinement's parent maps, so a refined mesh has the same named
layers and facet sets with the same volumes and measures (the stack's interfaces are planes:
midpoints of their edges stay on them). The fine mesh never exists on one rank: rank 0
holds 1 / 2^(dim k) of it while meshing.

``dolfinx.mesh.transfer_meshtag`` would do the transfer, but DOLFINx 0.11 refuses ghosted
meshes there, and interface integrals (``dS``) need the shared-facet ghosts. So the parent
maps (which cover the owned cells) are applied here with numpy and the ghosts get their
values from their owners by a scatter. Intervals have no parent-facet map in 0.11: a 1D
facet is a vertex, and a refined vertex tag is found at the coarse tagged vertex's position.
"""

from __future__ import annotations

import numpy as np


def _dense(tags, n: int) -> np.ndarray:
    """Tag value of each of ``n`` local entities, -1 where untagged."""
    values = np.full(n, -1, dtype=np.int64)
    values[tags.indices] = tags.values
    return values


def _fill_ghosts(index_map, values: np.ndarray) -> np.ndarray:
    """``values`` (owned + ghost entities) with each untagged ghost given its owner's value."""
    import dolfinx

    vec = dolfinx.la.vector(index_map, 1, dtype=np.float64)
    n_owned = index_map.size_local
    vec.array[:n_owned] = values[:n_owned]
    vec.scatter_forward()
    owners = np.rint(vec.array).astype(np.int64)
    return np.where(values >= 0, values, owners)


def _meshtags(mesh, dim: int, values: np.ndarray, name: str):
    import dolfinx

    keep = np.flatnonzero(values >= 0).astype(np.int32)
    tags = dolfinx.mesh.meshtags(mesh, dim, keep, values[keep].astype(np.int32))
    tags.name = name
    return tags


def _entity_count(mesh, dim: int) -> int:
    index_map = mesh.topology.index_map(dim)
    return index_map.size_local + index_map.num_ghosts


def _input_rows(fine, n_owned: int) -> np.ndarray:
    """Row of each owned fine cell in the refinement's parent maps: the maps are in the order
    the children were created on this rank (the original cell index, less the rank's
    offset), not in the fine mesh's local order."""
    from mpi4py import MPI

    offset = fine.comm.exscan(n_owned, op=MPI.SUM)  # collective; None on rank 0
    offset = offset if fine.comm.rank else 0
    original = np.asarray(fine.topology.original_cell_index, dtype=np.int64)[:n_owned]
    return original - offset


def _fine_facet_values(coarse, fine, facet_tags, parent_cell, parent_facet) -> np.ndarray:
    """Facet tag values on the fine mesh (2D, 3D): a child facet inside a parent facet takes
    its value (parent_facet: local facet of the parent cell, or -1 inside the parent)."""
    tdim = fine.topology.dim
    n_owned = fine.topology.index_map(tdim).size_local
    rows = _input_rows(fine, n_owned)
    coarse_c2f = coarse.topology.connectivity(tdim, tdim - 1).array.reshape(-1, tdim + 1)
    fine_c2f = fine.topology.connectivity(tdim, tdim - 1).array.reshape(-1, tdim + 1)[:n_owned]
    local = np.asarray(parent_facet, dtype=np.int64).reshape(n_owned, tdim + 1)[rows]
    inside = local >= 0
    parents = np.broadcast_to(np.asarray(parent_cell)[rows][:, None], local.shape)[inside]
    coarse_values = _dense(facet_tags, _entity_count(coarse, tdim - 1))
    values = np.full(_entity_count(fine, tdim - 1), -1, dtype=np.int64)
    values[fine_c2f[inside]] = coarse_values[coarse_c2f[parents, local[inside]]]
    return _fill_ghosts(fine.topology.index_map(tdim - 1), values)


def _fine_vertex_values(coarse, fine, facet_tags) -> np.ndarray:
    """Vertex (1D facet) tag values on the fine mesh: the coarse tagged vertices' positions."""
    import dolfinx
    from mpi4py import MPI

    nodes = dolfinx.mesh.entities_to_geometry(coarse, 0, facet_tags.indices).reshape(-1)
    pairs = np.column_stack([coarse.geometry.x[nodes, 0], facet_tags.values])
    pairs = np.unique(np.concatenate(coarse.comm.allgather(pairs)), axis=0)
    cells = np.arange(coarse.topology.index_map(1).size_local, dtype=np.int32)
    h_min = coarse.comm.allreduce(float(coarse.h(1, cells).min(initial=np.inf)), op=MPI.MIN)
    tol = 1e-6 * h_min
    values = np.full(_entity_count(fine, 0), -1, dtype=np.int64)
    for position, value in pairs:
        found = dolfinx.mesh.locate_entities(fine, 0, lambda x, p=position: np.abs(x[0] - p) <= tol)
        values[found] = int(value)
    return values


def refine_once(mesh, cell_tags, facet_tags, edges=None):
    """One refinement of ``mesh`` with its cell and facet tags (collective): uniform, or with
    ``edges`` (local edge indices; the cells in 1D) only the cells around those edges
    (Plaza's algorithm, which closes the marking so that the mesh stays conforming; the
    adaptive meshes of solver/adapt.py)."""
    import dolfinx

    tdim = mesh.topology.dim
    mesh.topology.create_entities(1)
    mesh.topology.create_connectivity(tdim, tdim - 1)
    option = (dolfinx.mesh.RefinementOption.parent_cell if tdim == 1
              else dolfinx.mesh.RefinementOption.parent_cell_and_facet)
    fine, parent_cell, parent_facet = dolfinx.mesh.refine(mesh, edges, option=option)
    fine.topology.create_entities(tdim - 1)
    fine.topology.create_connectivity(tdim, tdim - 1)
    fine.topology.create_connectivity(tdim - 1, tdim)
    n_owned = fine.topology.index_map(tdim).size_local
    cells = np.full(_entity_count(fine, tdim), -1, dtype=np.int64)
    parents = np.asarray(parent_cell)[_input_rows(fine, n_owned)]
    cells[:n_owned] = _dense(cell_tags, _entity_count(mesh, tdim))[parents]
    cells = _fill_ghosts(fine.topology.index_map(tdim), cells)
    if tdim == 1:
        facets = _fine_vertex_values(mesh, fine, facet_tags)
    else:
        facets = _fine_facet_values(mesh, fine, facet_tags, parent_cell, parent_facet)
    return (fine, _meshtags(fine, tdim, cells, cell_tags.name),
            _meshtags(fine, tdim - 1, facets, facet_tags.name))


def refine_tagged(mesh, cell_tags, facet_tags, levels: int):
    """``(mesh, cell_tags, facet_tags)`` refined ``levels`` times uniformly (collective); the
    tags keep their values and names."""
    for _ in range(levels):
        mesh, cell_tags, facet_tags = refine_once(mesh, cell_tags, facet_tags)
    return mesh, cell_tags, facet_tags
