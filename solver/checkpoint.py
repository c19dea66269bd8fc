"""Checkpoints of transient runs, and restart from them (also on another number of ranks).

A checkpoint holds the time-stepper state (t, the step sizes, counters) and every unknown at
the current and the two previous times. Values are stored with the coordinates of their
degrees of freedom, gathered on rank 0, so a restart on any partition finds its values by
coordinate (the mesh is rebuilt identically from the config). Each checkpoint is one
``.npz`` file written atomically (temporary name, fsync, rename) with its SHA-256 recorded in
``checkpoints/index.json``; loading verifies the digest and falls back to the previous
checkpoint when the newest is damaged. The last ``keep`` checkpoints are kept. A damaged or
missing index is rebuilt from the ``checkpoint_*.npz`` files (their digests cannot be verified
then; each is checked by loading it).

A run with ``[mesh.adapt]`` computes on a mesh of its own after a remesh: its checkpoints
then hold that mesh too (node coordinates, cells, layer and facet tags, gathered on rank 0:
:func:`stack_arrays`), and a restart rebuilds it with ``dolfinx.mesh.create_mesh`` on any
number of ranks (:meth:`Checkpoint.stack`) before matching the values by coordinate.

Each checkpoint also holds the run's resolved config, so a restart can refuse a config that
differs in anything but what a restart may change (:func:`config_changes`,
:data:`RESTART_MAY_CHANGE`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tomli_w

from heterofem.solver.dolfinx_env import MPI

log = logging.getLogger("heterofem")

ROUND_NM = 1e-9  #: coordinates are matched after rounding to this many nm


#: dotted config keys (and their sub-keys) a restart may change: when the run ends, what it
#: writes, and how the solver iterates; everything else (temperature, layers, mesh, physics,
#: materials, boundaries, time stepping) defines the state the checkpoint holds
RESTART_MAY_CHANGE = ("time.end_s", "time.output_times_s", "output", "solver", "mesh.max_cells")


class CheckpointError(RuntimeError):
    pass


@dataclass
class Checkpoint:
    """A checkpoint read back: the stepper's ``state`` (a JSON dict, ``t_s`` in it), the
    stored ``fields`` ({name: (dof coordinates, values)}), its file name, the resolved config
    of the run that wrote it (None for checkpoints without one), notes for the log, and the
    adapted mesh's arrays (:func:`stack_arrays`; None when the run was on its config's mesh)."""

    state: dict
    fields: dict[str, tuple]
    file: str
    config: dict | None
    notes: list[str] = field(default_factory=list)
    mesh: dict[str, np.ndarray] | None = None

    @property
    def t_s(self) -> float:
        return float(self.state["t_s"])

    def stack(self, comm: MPI.Comm, base=None):
        """The stack mesh the checkpoint's fields live on, rebuilt over ``comm`` (collective;
        every rank holds the checkpoint), or None when it is the config's own mesh; ``base``:
        the run's base mesh, whose partition the rebuilt cells follow (see
        :func:`stack_from_arrays`)."""
        return None if self.mesh is None else stack_from_arrays(self.mesh, comm, base)


def _flatten(data, prefix: str = "") -> dict:
    """Dotted keys of a resolved config (list items by index: ``layers.1.thickness_nm``)."""
    items = data.items() if isinstance(data, dict) else enumerate(data) \
        if isinstance(data, list) else None
    if items is None:
        return {prefix[:-1]: data}
    flat = {}
    for key, value in items:
        flat.update(_flatten(value, f"{prefix}{key}."))
    return flat or {prefix[:-1]: data}


def config_changes(saved: dict, new: dict) -> tuple[list[tuple[str, str]], list[str]]:
    """Compare the checkpointed resolved config with the new one: (problems, allowed changes).

    ``problems`` lists ``(dotted key, message)`` for every change a restart may not make;
    ``allowed`` describes the changes under :data:`RESTART_MAY_CHANGE` (for the log).
    """
    a, b = _flatten(saved), _flatten(new)
    problems, allowed = [], []
    for key in sorted(a.keys() | b.keys()):
        old, now = a.get(key, "(not set)"), b.get(key, "(not set)")
        if old == now:
            continue
        if any(key == k or key.startswith(k + ".") for k in RESTART_MAY_CHANGE):
            allowed.append(f"{key}: {old!r} -> {now!r}")
        else:
            problems.append((key, f"{now!r} here but {old!r} in the checkpointed run; a restart "
                             "continues the same problem and may change only time.end_s, "
                             "time.output_times_s, mesh.max_cells, output.* and solver.*: set "
                             "it back, or start a new run with --out"))
    return problems, allowed


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _key(coords: np.ndarray) -> np.ndarray:
    """Sortable integer keys of coordinates (rounded), one row per dof."""
    return np.round(coords / ROUND_NM).astype(np.int64)


def _owned(func):
    V = func.function_space
    n = V.dofmap.index_map.size_local
    bs = V.dofmap.index_map_bs
    coords = V.tabulate_dof_coordinates()[:n]
    values = func.x.array[: n * bs].reshape(n, bs)
    return coords, values


class Checkpointer:
    def __init__(self, run_dir: Path, comm: MPI.Comm, keep: int = 2, config: dict | None = None):
        """``config``: the run's resolved config (a TOML-writable dict), stored in each
        checkpoint so that a restart can check it continues the same problem."""
        self.dir = Path(run_dir) / "checkpoints"
        self.comm = comm
        self.keep = keep
        self.config = tomli_w.dumps(config) if config is not None else None
        self.rebuilt = False  #: the index was damaged and rebuilt from the files
        if comm.rank == 0:
            self.dir.mkdir(parents=True, exist_ok=True)

    # -- writing --------------------------------------------------------------------------------
    def write(self, state: dict, fields: dict, stack=None) -> Path | None:
        """``state``: JSON-able stepper state; ``fields``: name -> Function; ``stack``: the
        adapted :class:`~heterofem.meshes.stack.StackMesh` the fields live on (None: the
        config's own mesh, rebuilt from the config on restart). Collective."""
        arrays = {}
        if stack is not None:
            mesh = stack_arrays(stack, self.comm)
            if self.comm.rank == 0:
                arrays.update({f"mesh.{k}": v for k, v in mesh.items()})
        for name, func in fields.items():
            coords, values = _owned(func)
            all_c = self.comm.gather(coords, root=0)
            all_v = self.comm.gather(values, root=0)
            if self.comm.rank == 0:
                arrays[f"{name}.coords"] = np.concatenate(all_c)
                arrays[f"{name}.values"] = np.concatenate(all_v)
        path = None
        if self.comm.rank == 0:
            index = self._index()
            number = (index[-1]["number"] + 1) if index else 0
            path = self.dir / f"checkpoint_{number:05d}.npz"
            tmp = path.with_name(f".{path.name}.tmp")
            with open(tmp, "wb") as fh:
                if self.config is not None:
                    arrays["config"] = np.frombuffer(self.config.encode(), dtype=np.uint8)
                np.savez(fh, state=np.frombuffer(json.dumps(state).encode(), dtype=np.uint8),
                         **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            index.append({"number": number, "file": path.name, "sha256": _sha256(path),
                          "t_s": state.get("t_s")})
            for old in index[: -self.keep]:
                (self.dir / old["file"]).unlink(missing_ok=True)
            self._write_index(index[-self.keep:])
        return self.comm.bcast(path, root=0)

    def _index(self) -> list[dict]:
        """The entries of ``index.json``; rebuilt from the checkpoint files when it is missing
        or damaged while checkpoint files exist (``sha256`` None: not verifiable)."""
        path = self.dir / "index.json"
        try:
            index = json.loads(path.read_text())
            if isinstance(index, list) and all(isinstance(e, dict) and {"number", "file"}
                                               <= e.keys() for e in index):
                return index
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            pass
        files = sorted((int(m[1]), p.name) for p in self.dir.glob("checkpoint_*.npz")
                       if (m := re.fullmatch(r"checkpoint_(\d+)\.npz", p.name)))
        if files:
            self.rebuilt = True
            log.warning("%s is %s; rebuilt it from the %d checkpoint file(s), whose digests "
                        "cannot be verified (each is checked by loading it)", path,
                        "damaged" if path.exists() else "missing", len(files))
        return [{"number": n, "file": name, "sha256": None, "t_s": None} for n, name in files]

    def _write_index(self, index: list[dict]) -> None:
        tmp = self.dir / ".index.json.tmp"
        tmp.write_text(json.dumps(index, indent=1))
        os.replace(tmp, self.dir / "index.json")

    # -- reading --------------------------------------------------------------------------------
    @staticmethod
    def load_latest(run_dir: Path, comm: MPI.Comm) -> Checkpoint:
        """The newest intact checkpoint of a run directory (read on rank 0, sent to all):
        a checkpoint whose digest differs from the index, or that cannot be read, is skipped
        for the previous one. Raises :class:`CheckpointError` when none is intact."""
        result, problem = None, None
        if comm.rank == 0:
            directory = Path(run_dir) / "checkpoints"
            reader = Checkpointer(run_dir, MPI.COMM_SELF) if directory.exists() else None
            index = reader._index() if reader else []
            for entry in reversed(index):
                result = _load(directory / entry["file"], entry.get("sha256"))
                if result is not None:
                    break
            if result is None:
                problem = f"no intact checkpoint in {directory}"
            else:
                if reader.rebuilt:
                    result.notes.append("checkpoints/index.json was damaged and has been rebuilt "
                                        "from the checkpoint files (digests not verified)")
                if result.config is None:  # written before checkpoints held their config
                    result.config = _read_toml(Path(run_dir) / "config.resolved.toml")
                log.info("restarting from %s (t = %.6g s)", result.file, result.t_s)
        problem = comm.bcast(problem, root=0)
        if problem:
            raise CheckpointError(problem)
        return comm.bcast(result, root=0)

    @staticmethod
    def restore(func, coords: np.ndarray, values: np.ndarray) -> None:
        """Set ``func``'s local dofs from stored (coords, values) by matching coordinates."""
        stored = _key(coords)
        order = np.lexsort(stored.T[::-1])
        stored = stored[order]
        V = func.function_space
        bs = V.dofmap.index_map_bs
        mine = _key(V.tabulate_dof_coordinates())
        # locate each local dof's row in the sorted stored keys
        view = np.dtype([("", np.int64)] * stored.shape[1])
        s_view = np.ascontiguousarray(stored).view(view).ravel()
        m_view = np.ascontiguousarray(mine).view(view).ravel()
        pos = np.searchsorted(s_view, m_view)
        pos = np.clip(pos, 0, len(s_view) - 1)
        if not np.all(s_view[pos] == m_view):
            raise CheckpointError("the checkpoint does not match this mesh (dof coordinates "
                                  "differ); restart with the same mesh settings")
        func.x.array[: len(m_view) * bs] = values[order][pos].reshape(-1)
        func.x.scatter_forward()


def _load(path: Path, sha256: str | None) -> Checkpoint | None:
    """Read one checkpoint file, or None (with a warning) when it is missing, its digest
    differs from ``sha256`` (when known), or it cannot be read in full."""
    if not path.exists() or (sha256 is not None and _sha256(path) != sha256):
        log.warning("checkpoint %s is missing or damaged; trying the previous one", path.name)
        return None
    try:
        with np.load(path) as data:
            arrays = {key: data[key] for key in data.files}  # reads (and CRC-checks) everything
        state = json.loads(bytes(arrays["state"]).decode())
        float(state["t_s"])
        config = tomllib.loads(bytes(arrays["config"]).decode()) if "config" in arrays else None
        fields = {key[: -len(".coords")]: (arrays[key], arrays[key[: -len(".coords")] + ".values"])
                  for key in arrays if key.endswith(".coords")}
        mesh = {k: arrays[f"mesh.{k}"] for k in MESH_ARRAYS} if "mesh.x" in arrays else None
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile,
            tomllib.TOMLDecodeError) as exc:
        log.warning("checkpoint %s cannot be read (%s); trying the previous one", path.name, exc)
        return None
    return Checkpoint(state, fields, path.name, config, mesh=mesh)


def _read_toml(path: Path) -> dict | None:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None


# -- the mesh of an adapted run (issue #25) -----------------------------------------------------

#: array names under which a checkpoint stores an adapted mesh (``mesh.`` prefix in the file)
MESH_ARRAYS = ("x", "cells", "cell_values", "facets", "facet_values", "ids")


def _unique_nodes(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique node coordinates, index of each row of ``coords`` among them), by coordinate."""
    _, first, inverse = np.unique(_key(coords), axis=0, return_index=True, return_inverse=True)
    return coords[first], inverse.reshape(-1)


def stack_arrays(stack, comm: MPI.Comm) -> dict[str, np.ndarray] | None:
    """The distributed mesh of ``stack`` (a :class:`heterofem.meshes.stack.StackMesh`, e.g.
    after adaptive refinement) as plain arrays on rank 0 (None elsewhere; collective): node
    coordinates ``x``, ``cells`` (node indices), their layer values, the tagged facets (node
    indices) with their values, and the layer/facet names (``ids``, JSON). Each rank sends
    its owned cells and owned tagged facets by coordinates; rank 0 numbers the nodes."""
    import dolfinx

    mesh = stack.mesh
    tdim, gdim = mesh.topology.dim, mesh.geometry.dim
    n_cells = mesh.topology.index_map(tdim).size_local
    mesh.topology.create_entities(tdim - 1)
    n_facets = mesh.topology.index_map(tdim - 1).size_local
    cells = np.arange(n_cells, dtype=np.int32)
    cell_nodes = dolfinx.mesh.entities_to_geometry(mesh, tdim, cells)
    values = np.full(n_cells, -1, dtype=np.int32)
    owned = stack.cell_tags.indices < n_cells
    values[stack.cell_tags.indices[owned]] = stack.cell_tags.values[owned]
    keep = stack.facet_tags.indices < n_facets
    facets = stack.facet_tags.indices[keep].astype(np.int32)
    facet_nodes = dolfinx.mesh.entities_to_geometry(mesh, tdim - 1, facets)
    x = mesh.geometry.x[:, :gdim]
    parts = comm.gather((x[cell_nodes.reshape(-1)], values, x[facet_nodes.reshape(-1)],
                         stack.facet_tags.values[keep].astype(np.int32)), root=0)
    if comm.rank != 0:
        return None
    c_xyz, c_val, f_xyz, f_val = (np.concatenate([p[i] for p in parts]) for i in range(4))
    nodes, index = _unique_nodes(np.concatenate([c_xyz, f_xyz]))
    split = len(c_xyz)
    ids = json.dumps({"layer_ids": stack.layer_ids, "facet_ids": stack.facet_ids,
                      "cell_name": stack.cell_tags.name, "facet_name": stack.facet_tags.name})
    return {"x": nodes, "cells": index[:split].reshape(-1, tdim + 1).astype(np.int64),
            "cell_values": c_val, "facets": index[split:].reshape(-1, tdim).astype(np.int64),
            "facet_values": f_val, "ids": np.frombuffer(ids.encode(), dtype=np.uint8)}


def _ancestor_ranks(base, midpoints: np.ndarray) -> np.ndarray:
    """For each point (rank 0's ``midpoints``; all ranks get the answer), the rank owning the
    cell of the ``base`` mesh that contains it (the lowest where several do). Collective."""
    import dolfinx

    comm, mesh = base.mesh.comm, base.mesh
    tdim = mesh.topology.dim
    points = comm.bcast(midpoints, root=0)
    xyz = np.zeros((len(points), 3))
    xyz[:, : points.shape[1]] = points
    owned = np.arange(mesh.topology.index_map(tdim).size_local, dtype=np.int32)
    tree = dolfinx.geometry.bb_tree(mesh, tdim, entities=owned)
    hits = dolfinx.geometry.compute_colliding_cells(
        mesh, dolfinx.geometry.compute_collisions_points(tree, xyz), xyz)
    mine = np.where(np.diff(hits.offsets) > 0, comm.rank, comm.size).astype(np.int32)
    ranks = np.empty_like(mine)
    comm.Allreduce(mine, ranks, op=MPI.MIN)
    if np.any(ranks == comm.size):
        raise CheckpointError("the checkpoint's mesh does not cover this run's mesh; restart "
                              "with the same mesh settings")
    return ranks


def _destinations(cells: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(data, offsets) of each cell's destination ranks: its ``owner`` first, then the owners
    of the cells sharing a facet with it (shared-facet ghosts, for ``dS``)."""
    k = cells.shape[1]
    facets = np.sort(np.concatenate([np.delete(cells, i, axis=1) for i in range(k)]), axis=1)
    cell_of = np.tile(np.arange(len(cells)), k)
    _, facet_id = np.unique(facets, axis=0, return_inverse=True)
    order = np.argsort(facet_id.reshape(-1), kind="stable")
    fid, cid = facet_id.reshape(-1)[order], cell_of[order]
    pair = np.flatnonzero(fid[1:] == fid[:-1])  # interior facets: consecutive equal ids
    a, b = cid[pair], cid[pair + 1]
    cross = owner[a] != owner[b]
    ghosts = np.concatenate([np.column_stack([a[cross], owner[b[cross]]]),
                             np.column_stack([b[cross], owner[a[cross]]])])
    ghosts = np.unique(ghosts, axis=0)  # sorted by cell, then rank
    count = np.bincount(ghosts[:, 0], minlength=len(cells)) + 1
    offsets = np.concatenate([[0], np.cumsum(count)]).astype(np.int32)
    data = np.empty(offsets[-1], dtype=np.int32)
    data[offsets[:-1]] = owner
    slot = offsets[ghosts[:, 0]] + 1 + (np.arange(len(ghosts)) -
                                        np.searchsorted(ghosts[:, 0], ghosts[:, 0]))
    data[slot] = ghosts[:, 1]
    return data, offsets


def _partitioner(arrays, comm: MPI.Comm, base):
    """create_mesh's partitioner: every cell to the rank of its ``base`` ancestor (where an
    adaptive remesh of this run would put it: refinement does not redistribute), ghosted by
    shared facets; without ``base`` the graph partitioner's (shared-facet ghosts)."""
    import dolfinx

    from heterofem.meshes.stack import _partitioner as graph_partitioner

    if base is None or comm.size == 1:
        return graph_partitioner()
    mids = arrays["x"][arrays["cells"]].mean(axis=1) if comm.rank == 0 else None
    owner = _ancestor_ranks(base, mids)
    data, offsets = (_destinations(arrays["cells"], owner) if comm.rank == 0
                     else (np.zeros(0, np.int32), np.zeros(1, np.int32)))

    def partition(_comm, _nparts, _cell_types, _cells):
        return dolfinx.graph.adjacencylist(data, offsets)._cpp_object

    return partition


def stack_from_arrays(arrays: dict[str, np.ndarray] | None, comm: MPI.Comm, base=None):
    """The :class:`~heterofem.meshes.stack.StackMesh` of :func:`stack_arrays`, rebuilt with
    ``dolfinx.mesh.create_mesh`` from rank 0's arrays (ignored elsewhere) and distributed
    over ``comm`` (any size) with shared-facet ghosts: each cell on the rank that owns its
    ancestor in ``base`` (the run's base mesh, where a remesh would put it, so that the next
    remesh sees the mesh it would have seen), or by the graph partitioner without ``base``.
    Cell tags follow the cells' input order, facet tags are distributed like Gmsh's
    (``distribute_entity_data``). Collective."""
    import basix.ufl
    import dolfinx
    import ufl

    from heterofem.meshes.refine import _fill_ghosts
    from heterofem.meshes.stack import StackMesh

    head = None
    if comm.rank == 0:
        head = (arrays["cells"].shape[1], arrays["x"].shape[1], bytes(arrays["ids"]).decode())
    k, gdim, ids = comm.bcast(head, root=0)
    ids = json.loads(ids)
    tdim = k - 1
    cell = {1: "interval", 2: "triangle", 3: "tetrahedron"}[tdim]
    element = ufl.Mesh(basix.ufl.element("Lagrange", cell, 1, shape=(gdim,)))
    if comm.rank == 0:
        cells, x = arrays["cells"], arrays["x"]
        facets, f_val = arrays["facets"], arrays["facet_values"]
    else:
        cells, x = np.zeros((0, k), np.int64), np.zeros((0, gdim))
        facets, f_val = np.zeros((0, k - 1), np.int64), np.zeros(0, np.int32)
    mesh = dolfinx.mesh.create_mesh(comm, cells, element, x, _partitioner(arrays, comm, base))
    c_val = comm.bcast(arrays["cell_values"] if comm.rank == 0 else None, root=0)
    original = np.asarray(mesh.topology.original_cell_index, dtype=np.int64)
    n_local = mesh.topology.index_map(tdim).size_local + mesh.topology.index_map(tdim).num_ghosts
    values = c_val[original[:n_local]]
    keep = np.flatnonzero(values >= 0).astype(np.int32)
    cell_tags = dolfinx.mesh.meshtags(mesh, tdim, keep, values[keep].astype(np.int32))
    cell_tags.name = ids["cell_name"]
    mesh.topology.create_entities(tdim - 1)
    mesh.topology.create_connectivity(tdim - 1, tdim)
    mesh.topology.create_connectivity(tdim, tdim - 1)
    local, local_values = dolfinx.io.distribute_entity_data(mesh, tdim - 1, facets, f_val)
    tags = dolfinx.mesh.meshtags_from_entities(
        mesh, tdim - 1, dolfinx.graph.adjacencylist(local), local_values.astype(np.int32))
    fmap = mesh.topology.index_map(tdim - 1)
    dense = np.full(fmap.size_local + fmap.num_ghosts, -1, dtype=np.int64)
    dense[tags.indices] = tags.values
    dense = _fill_ghosts(fmap, dense)
    keep = np.flatnonzero(dense >= 0).astype(np.int32)
    facet_tags = dolfinx.mesh.meshtags(mesh, tdim - 1, keep, dense[keep].astype(np.int32))
    facet_tags.name = ids["facet_name"]
    return StackMesh(mesh, cell_tags, facet_tags, ids["layer_ids"], ids["facet_ids"])
