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
    of the run that wrote it (None for checkpoints without one), and notes for the log."""

    state: dict
    fields: dict[str, tuple]
    file: str
    config: dict | None
    notes: list[str] = field(default_factory=list)

    @property
    def t_s(self) -> float:
        return float(self.state["t_s"])


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
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile,
            tomllib.TOMLDecodeError) as exc:
        log.warning("checkpoint %s cannot be read (%s); trying the previous one", path.name, exc)
        return None
    return Checkpoint(state, fields, path.name, config)


def _read_toml(path: Path) -> dict | None:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
