"""Files other tools read (issue #24 item 5): the mesh with its tags as ``mesh.vtu`` and the
fields as one XDMF time series, ``fields.xdmf``; both open in meshio, PyVista and ParaView.

DOLFINx's own ``mesh.xdmf`` (mesh, cell tags and facet tags as three grids, data in HDF5) is
what DOLFINx reads back, but meshio reads one grid only and needs h5py for HDF5 data; VTX
(``.bp``, ADIOS2) is written by the wheel's DOLFINx but neither meshio nor the pip VTK reads
it. So rank 0 gathers the mesh (degree-1 geometry: the points are the mesh vertices, in the
global order of the geometry's index map) and writes these with meshio:

* ``mesh.vtu``: the cells (cell data ``tag`` = layer tag) and the tagged facets (``tag`` =
  facet tag) as two cell blocks, cell data ``dim`` (their dimension) and field data
  name -> [tag, dim] (the gmsh convention);
* ``fields.xdmf``: the output fields at every output time, point data (P1) and cell data
  (``layer_id``), values inline (XML: meshio reads it without h5py, from any directory).
  Written when the run's field writer closes; ``fields.pvd`` (VTK) is the series kept up to
  date after every output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from heterofem.solver.dolfinx_env import dolfinx

#: DOLFINx cell type -> (meshio name of the cell, meshio name of its facet)
_MESHIO = {"interval": ("line", "vertex"), "triangle": ("triangle", "line"),
           "quadrilateral": ("quad", "line"), "tetrahedron": ("tetra", "triangle"),
           "hexahedron": ("hexahedron", "quad")}


class GatheredMesh:
    """The mesh on rank 0 (collective to build): ``points`` (n, 3), ``cells`` (global point
    numbers of the owned cells of every rank, in rank order) and the maps that bring a P1 or
    DG0 function's values into that order (:meth:`point_values`, :meth:`cell_values`)."""

    def __init__(self, mesh: dolfinx.mesh.Mesh):
        self.mesh, self.comm = mesh, mesh.comm
        geom, tdim = mesh.geometry, mesh.topology.dim
        imap = geom.index_map()
        self.n_nodes = imap.size_local
        self.n_cells = mesh.topology.index_map(tdim).size_local
        self.cell_type, self.facet_type = _MESHIO[mesh.topology.cell_type.name]
        self._l2g = imap.local_to_global(np.arange(imap.size_local + imap.num_ghosts,
                                                   dtype=np.int32))
        self.points = self._gather(geom.x[: self.n_nodes])
        self.cells = self._gather(self._l2g[geom.dofmaps[0][: self.n_cells]])

    def _gather(self, local: np.ndarray) -> np.ndarray | None:
        parts = self.comm.gather(np.ascontiguousarray(local), root=0)
        return np.concatenate(parts) if self.comm.rank == 0 else None

    def point_values(self, f: dolfinx.fem.Function) -> np.ndarray | None:
        """A P1 function's values at the points (the P1 and geometry dofmaps number a cell's
        vertices alike); vectors padded to 3 components."""
        V = f.function_space
        bs = V.dofmap.index_map_bs
        geo = self.mesh.geometry.dofmaps[0]
        vals = np.zeros((len(self._l2g), bs))
        vals[geo.ravel()] = f.x.array.reshape(-1, bs)[V.dofmap.list[: len(geo)].ravel()]
        return _pad(self._gather(vals[: self.n_nodes]))

    def cell_values(self, f: dolfinx.fem.Function) -> np.ndarray | None:
        """A DG0 function's value in every cell."""
        V = f.function_space
        bs = V.dofmap.index_map_bs
        return _pad(self._gather(f.x.array.reshape(-1, bs)[V.dofmap.list[: self.n_cells, 0]]))

    def tagged_facets(self, tags: dolfinx.mesh.MeshTags) -> tuple:
        """(global point numbers, tag values) of the owned tagged facets, on rank 0."""
        fdim = self.mesh.topology.dim - 1
        owned = tags.indices < self.mesh.topology.index_map(fdim).size_local
        idx = tags.indices[owned]
        nodes = dolfinx.mesh.entities_to_geometry(self.mesh, fdim, idx) if len(idx) else \
            np.zeros((0, fdim + 1), dtype=np.int32)
        return self._gather(self._l2g[nodes].reshape(len(idx), -1)), \
            self._gather(tags.values[owned].astype(np.int64))


def _pad(values: np.ndarray | None) -> np.ndarray | None:
    if values is None or values.shape[1] == 1:
        return None if values is None else values[:, 0]
    return np.hstack([values, np.zeros((len(values), 3 - values.shape[1]))])


def write_mesh_vtu(stack, path: Path) -> None:
    """``mesh.vtu``: cells and tagged facets with their tags (collective; rank 0 writes)."""
    import meshio

    g = GatheredMesh(stack.mesh)
    facets, facet_tags = g.tagged_facets(stack.facet_tags)
    cell_tags = _cell_tag_values(g, stack.cell_tags)
    if stack.mesh.comm.rank != 0:
        return
    dim = stack.dim
    field_data = {n: np.array([t, dim]) for n, t in stack.layer_ids.items()}
    field_data.update({n: np.array([t, dim - 1]) for n, t in stack.facet_ids.items()})
    mesh = meshio.Mesh(
        g.points, [(g.cell_type, g.cells), (g.facet_type, facets)],
        cell_data={"tag": [cell_tags, facet_tags],
                   "dim": [np.full(len(g.cells), dim), np.full(len(facets), dim - 1)]},
        field_data=field_data)
    tmp = Path(path).with_name(f".{Path(path).name}.tmp.vtu")
    meshio.write(tmp, mesh, binary=True)
    tmp.replace(path)


def _cell_tag_values(g: GatheredMesh, tags: dolfinx.mesh.MeshTags) -> np.ndarray | None:
    values = np.full(g.n_cells, -1, dtype=np.int64)
    keep = tags.indices < g.n_cells
    values[tags.indices[keep]] = tags.values[keep]
    return g._gather(values)


class XdmfSeries:
    """``fields.xdmf``: every output of the run as one XDMF time series (rank 0 writes it on
    :meth:`close`). A restart keeps the earlier outputs up to ``resume_after_s``."""

    def __init__(self, path: Path, mesh: dolfinx.mesh.Mesh, resume_after_s: float | None = None):
        self.path = Path(path)
        self.gathered = GatheredMesh(mesh)
        self.steps: list[tuple[float, dict, dict]] = []
        if resume_after_s is not None and mesh.comm.rank == 0 and self.path.exists():
            self.steps = _read_steps(self.path, resume_after_s)

    def write(self, functions: list[dolfinx.fem.Function], t: float) -> None:
        """Gather the fields at time ``t`` (collective)."""
        g = self.gathered
        point, cell = {}, {}
        for f in functions:
            is_dg0 = f.function_space.element.basix_element.degree == 0 and \
                f.function_space.element.basix_element.discontinuous
            values = g.cell_values(f) if is_dg0 else g.point_values(f)
            if values is not None:
                (cell if is_dg0 else point)[f.name] = values
        if g.comm.rank == 0:
            self.steps.append((float(t), point, cell))

    def close(self) -> None:
        """Write the series (rank 0), atomically."""
        import meshio

        g = self.gathered
        if g.comm.rank != 0 or not self.steps:
            return
        tmp = self.path.with_name(f".{self.path.name}.tmp.xdmf")
        with meshio.xdmf.TimeSeriesWriter(tmp, data_format="XML") as w:
            w.write_points_cells(g.points, [(g.cell_type, g.cells)])
            for t, point, cell in self.steps:
                w.write_data(t, point_data=point, cell_data={k: [v] for k, v in cell.items()})
        tmp.replace(self.path)


def _read_steps(path: Path, t_max: float) -> list[tuple[float, dict, dict]]:
    """The outputs of an earlier fields.xdmf up to ``t_max`` (a restart)."""
    import meshio

    tol = 1e-12 * max(1.0, abs(t_max))
    try:
        with meshio.xdmf.TimeSeriesReader(path) as r:
            r.read_points_cells()
            steps = [r.read_data(k) for k in range(r.num_steps)]
    except Exception:  # noqa: BLE001 - a damaged series: the restart rewrites what it has
        return []
    return [(t, p, {k: v[0] for k, v in c.items()}) for t, p, c in steps if t <= t_max + tol]
