"""Checkpoints of transient runs, and restart from them (also on another number of ranks).

A checkpoint holds the time-stepper state (t, the step sizes, counters) and every unknown at
the current and the two previous times. Values are stored with the coordinates of their
degrees of freedom, gathered on rank 0, so a restart on any partition finds its values by
coordinate (the mesh is rebuilt identically from the config). Each checkpoint is one
``.npz`` file written atomically (temporary name, fsync, rename) with its SHA-256 recorded in
``checkpoints/index.json``; loading verifies the digest and falls back to the previous
checkpoint when the newest is damaged. The last ``keep`` checkpoints are kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from heterofem.solver.dolfinx_env import MPI

log = logging.getLogger("heterofem")

ROUND_NM = 1e-9  #: coordinates are matched after rounding to this many nm


class CheckpointError(RuntimeError):
    pass


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
    def __init__(self, run_dir: Path, comm: MPI.Comm, keep: int = 2):
        self.dir = Path(run_dir) / "checkpoints"
        self.comm = comm
        self.keep = keep
        if comm.rank == 0:
            self.dir.mkdir(parents=True, exist_ok=True)

    # -- writing --------------------------------------------------------------------------------
    def write(self, state: dict, fields: dict) -> Path | None:
        """``state``: JSON-able stepper state; ``fields``: name -> Function (collective)."""
        arrays = {}
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
        path = self.dir / "index.json"
        if not path.exists():
            return []
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            return []

    def _write_index(self, index: list[dict]) -> None:
        tmp = self.dir / ".index.json.tmp"
        tmp.write_text(json.dumps(index, indent=1))
        os.replace(tmp, self.dir / "index.json")

    # -- reading --------------------------------------------------------------------------------
    @staticmethod
    def latest(run_dir: Path, comm: MPI.Comm) -> tuple[dict, dict[str, tuple]] | None:
        """The newest intact checkpoint of a run directory: (state, {name: (coords, values)})."""
        result, problem = None, None
        if comm.rank == 0:
            directory = Path(run_dir) / "checkpoints"
            index = Checkpointer(run_dir, MPI.COMM_SELF)._index() if directory.exists() else []
            for entry in reversed(index):
                path = directory / entry["file"]
                if not path.exists() or _sha256(path) != entry["sha256"]:
                    log.warning("checkpoint %s is missing or damaged; trying the previous one",
                                entry["file"])
                    continue
                try:
                    with np.load(path) as data:
                        state = json.loads(bytes(data["state"]).decode())
                        fields = {}
                        for key in data.files:
                            if key.endswith(".coords"):
                                name = key[: -len(".coords")]
                                fields[name] = (data[key], data[f"{name}.values"])
                    result = (state, fields)
                    log.info("restarting from %s (t = %.6g s)", entry["file"], state["t_s"])
                    break
                except (OSError, ValueError, KeyError) as exc:
                    log.warning("checkpoint %s cannot be read (%s); trying the previous one",
                                entry["file"], exc)
            if result is None:
                problem = f"no intact checkpoint in {directory}"
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
