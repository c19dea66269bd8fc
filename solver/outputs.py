"""The run directory: summary.json, profiles.csv, fields.pvd, config.resolved.toml, run.log.

Small files are written by rank 0 only, atomically (write to a temporary name, then rename),
so an interrupted run never leaves a half-written summary behind. Field files are written
collectively by DOLFINx (VTK .pvd/.pvtu, which ParaView and PyVista open).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import tomli_w

from heterofem.solver.dolfinx_env import MPI, dolfinx

log = logging.getLogger("heterofem")


class RunDirError(RuntimeError):
    pass


#: what a run writes; --overwrite removes these (and nothing else) from an earlier run
RUN_OUTPUTS = ("summary.json", "profiles.csv", "timeseries.csv", "config.resolved.toml",
               "run.log", "mesh.msh", "mesh.xdmf", "mesh.h5", "fields*.pvd", "fields*.pvtu",
               "fields*.vtu", "*.png")


def prepare_run_dir(out: Path, comm: MPI.Comm, overwrite: bool, clean: bool = False) -> Path:
    """Create ``out``; refuse to overwrite an earlier run's results unless asked to; with
    ``clean`` remove the earlier run's outputs (and checkpoints) first."""
    out = Path(out)
    problem = None
    if comm.rank == 0:
        if out.exists() and not out.is_dir():
            problem = f"--out {out} exists and is not a directory; choose another path"
        elif (out / "summary.json").exists() and not overwrite:
            problem = (f"--out {out} already holds a run (summary.json); choose a new directory "
                       "or pass --overwrite")
        else:
            try:
                out.mkdir(parents=True, exist_ok=True)
                if clean and (out / "summary.json").exists():
                    for pattern in RUN_OUTPUTS:
                        for path in out.glob(pattern):
                            path.unlink()
                    shutil.rmtree(out / "checkpoints", ignore_errors=True)
            except OSError as exc:
                problem = f"cannot create --out {out}: {exc.strerror}"
    problem = comm.bcast(problem, root=0)
    if problem:
        raise RunDirError(problem)
    return out


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json(path: Path, data: dict, comm: MPI.Comm) -> None:
    if comm.rank == 0:
        _atomic_write(path, lambda fh: json.dump(data, fh, indent=2, sort_keys=False))


def write_toml(path: Path, data: dict, comm: MPI.Comm) -> None:
    if comm.rank == 0:
        _atomic_write(path, lambda fh: fh.write(tomli_w.dumps(data)))


def write_csv(path: Path, columns: dict[str, np.ndarray], comm: MPI.Comm) -> None:
    """Columns of equal length; names carry units (``z_nm``, ``phi_V``)."""
    if comm.rank != 0:
        return

    def write(fh):
        w = csv.writer(fh)
        w.writerow(list(columns))
        for row in zip(*[np.asarray(c) for c in columns.values()]):
            w.writerow([x if isinstance(x, str) else f"{x:.12g}" for x in row])

    _atomic_write(path, write)


class OutputSet:
    """Output fields as functions: "point" fields in P1, "cell" fields in DG0.

    Built once (expressions compile once); :meth:`update` re-interpolates them from the
    current state. Function names carry the unit (``phi_V``, ``Ez_V_per_m``): the arrays'
    names in the files.
    """

    def __init__(self, mesh: dolfinx.mesh.Mesh, fields):
        spaces = {"point": dolfinx.fem.functionspace(mesh, ("Lagrange", 1)),
                  "cell": dolfinx.fem.functionspace(mesh, ("DG", 0))}
        self.fields = list(fields)
        self.functions = []
        self._exprs = []
        for field in self.fields:
            space = spaces[field.kind]
            self.functions.append(dolfinx.fem.Function(space, name=field.column))
            expr = field.expr * field.scale if field.scale != 1.0 else field.expr
            self._exprs.append(dolfinx.fem.Expression(expr, space.element.interpolation_points))
        self.update()

    def update(self) -> None:
        for f, expr in zip(self.functions, self._exprs):
            f.interpolate(expr)


class TimeSeries:
    """``timeseries.csv``: one row per accepted step, flushed at once (rank 0), so a run
    that stops keeps every row written so far."""

    def __init__(self, path: Path, comm: MPI.Comm, resume_after_s: float | None = None):
        """With ``resume_after_s`` (a restart) the rows up to that time are kept and new rows
        are appended; later rows (from the interrupted run) are dropped."""
        self.path, self.comm = Path(path), comm
        self._fh = None
        self._writer = None
        self.columns: list[str] | None = None
        if resume_after_s is not None and comm.rank == 0 and self.path.exists():
            with open(self.path, newline="") as fh:
                rows = list(csv.reader(fh))
            if rows:
                self.columns = rows[0]
                kept = [r for r in rows[1:] if r and float(r[0]) <= resume_after_s * (1 + 1e-12)]
                self._fh = open(self.path, "w", newline="")
                self._writer = csv.writer(self._fh)
                self._writer.writerows([self.columns] + kept)
                self._fh.flush()

    def write(self, row: dict[str, float]) -> None:
        if self.comm.rank != 0:
            return
        if self._fh is None:
            self.columns = list(row)
            self._fh = open(self.path, "w", newline="")
            self._writer = csv.writer(self._fh)
            self._writer.writerow(self.columns)
        self._writer.writerow([f"{row[c]:.12g}" for c in self.columns])
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class FieldWriter:
    """Fields of one mesh into ``fields.pvd`` (one .pvtu per output time)."""

    def __init__(self, out: Path, mesh: dolfinx.mesh.Mesh, name: str = "fields.pvd"):
        self.path = Path(out) / name
        self._file = dolfinx.io.VTKFile(mesh.comm, str(self.path), "w")

    def write(self, functions: list[dolfinx.fem.Function], t: float = 0.0) -> None:
        self._file.write_function(functions, t)

    def close(self) -> None:
        self._file.close()
