"""The run directory: summary.json, profiles.csv, fields.pvd, config.resolved.toml, run.log.

What each file holds and its units: docs/outputs.md. Units are data, not name suffixes:
summary.json has a ``units`` map and the CSV tables a ``<stem>.units.json`` sidecar
(:mod:`heterofem.solver.summary_units`). Besides the VTK series, the mesh with its tags is
written as ``mesh.vtu`` and the fields as one XDMF time series, ``fields.xdmf``, both of
which meshio, PyVista and ParaView open (:mod:`heterofem.solver.exports`).

Small files are written by rank 0 only, atomically (write to a temporary name, then rename),
so an interrupted run never leaves a half-written summary behind. Field files are written
collectively by DOLFINx (VTK .pvd/.pvtu, which ParaView and PyVista open); ``fields.pvd`` is
kept up to date after every output, and continues across restarts (:class:`FieldWriter`).
One run at a time holds a run directory (:class:`RunDir`: a lock, checks before meshing, and
a list of what heterofem wrote, so that --overwrite removes only that).
"""

from __future__ import annotations

import csv
import fcntl
import json
import logging
import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import tomli_w

from heterofem.solver.dolfinx_env import MPI, dolfinx
from heterofem.solver.summary_units import (profile_units, sidecar_path, timeseries_units,
                                            units_json, with_units)

log = logging.getLogger("heterofem")


class RunDirError(RuntimeError):
    pass


LOCK_NAME = ".heterofem.lock"  #: held (flock) by rank 0 of the run writing the directory
MANIFEST_NAME = ".heterofem-files"  #: what heterofem wrote there, one name a line
SERIES_STEM = "fields"  #: the field series: fields.pvd and its parts' .pvtu/.vtu files

#: the files a run writes into its directory, besides the field series and checkpoints/
RUN_FILES = ("summary.json", "profiles.csv", "timeseries.csv", "config.resolved.toml", "run.log",
             "mesh.msh", "mesh.xdmf", "mesh.h5", "surface_potential.csv", "surface_potential.png",
             "profiles.units.json", "timeseries.units.json", "mesh.vtu", "fields.xdmf")
#: the final results of a run: a restart removes them when it claims the directory (the run is
#: in progress again; a restart that is killed must not leave the earlier end's summary)
FINAL_FILES = ("summary.json", "profiles.csv", "surface_potential.csv", "surface_potential.png",
               "profiles.units.json")
#: files of a field series part with stem S: S.pvd, S000000.pvtu, S_p0_000000.vtu (DOLFINx)
_SERIES_FILE = r"(?:\.pvd|\d{6}\.pvtu|_p\d+_\d{6}\.vtu)"
#: pictures ``heterofem plot`` writes into a run directory by default (postprocess/plot.py):
#: they show the run, so --overwrite removes them with it; any other picture is the user's
_PLOT_DEFAULTS = re.compile(r"(?:profiles|\w+_map)(?:_t\S+s)?\.png|\w+_animation\.(?:gif|mp4)")


class RunDir:
    """The run directory of one run, never shared and never mixed.

    :meth:`check` (before meshing; writes nothing) refuses a path that is not a directory, a
    directory another run is writing (its lock is held), and, unless --overwrite or --restart,
    a finished run (``summary.json``) or an incomplete one (heterofem files without a
    ``summary.json``: killed, or failed early). :meth:`claim` (before the first write) creates
    the directory, takes its lock (``flock`` on :data:`LOCK_NAME`, held by rank 0 until
    :meth:`release` or the process ends, also when killed), checks again under the lock (two
    runs may both have passed :meth:`check`), and removes what an overwritten run wrote (the
    names in :data:`MANIFEST_NAME`, the field series' files and the default pictures of
    ``heterofem plot``) and nothing else. Collective; rank 0 decides.
    """

    def __init__(self, path: Path, comm: MPI.Comm):
        self.path = Path(path)
        self.comm = comm
        self._lock = None

    def check(self, overwrite: bool = False, restart: bool = False) -> None:
        problem = self._problem(overwrite, restart) if self.comm.rank == 0 else None
        self._raise(problem)

    def claim(self, overwrite: bool = False, restart: bool = False) -> None:
        problem = None
        if self.comm.rank == 0:
            problem = self._lock_dir()
            problem = problem or self._problem(overwrite, restart, held=True)
            if problem is None and restart:
                self._clean(FINAL_FILES)
            elif problem is None and overwrite:
                self._clean(self._written())
                (self.path / MANIFEST_NAME).unlink(missing_ok=True)
            if problem is None:
                self.record(*RUN_FILES, "checkpoints/")
            else:
                self.release()
        self._raise(problem)

    def release(self) -> None:
        """Give the lock back (closing the file releases the flock)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def record(self, *names: str) -> None:
        """List ``names`` (relative; a trailing / for a folder) as written by heterofem (rank 0),
        before they are written, so that an interrupted write is still listed."""
        if self.comm.rank != 0:
            return
        manifest = self.path / MANIFEST_NAME
        listed = set(manifest.read_text().split()) if manifest.exists() else set()
        new = [n for n in dict.fromkeys(names) if n not in listed]
        if new:
            with open(manifest, "a") as fh:
                fh.write("".join(f"{n}\n" for n in new))

    # -- rank 0 -----------------------------------------------------------------------------
    def _raise(self, problem: str | None) -> None:
        problem = self.comm.bcast(problem, root=0)
        if problem:
            raise RunDirError(problem)

    def _problem(self, overwrite: bool, restart: bool, held: bool = False) -> str | None:
        """Why this run may not write into the directory (None: it may)."""
        out = self.path
        if out.exists() and not out.is_dir():
            return f"--out {out} exists and is not a directory; choose another path"
        if not out.exists():
            return None
        if not held and _locked(out / LOCK_NAME):
            return (f"another heterofem run is writing to {out} (it holds {LOCK_NAME}); wait "
                    "for it to finish or choose another --out")
        if overwrite or restart:
            return None
        if (out / "summary.json").exists():
            return (f"--out {out} already holds a run (summary.json); choose a new directory, "
                    f"pass --overwrite to replace it or continue it with --restart {out}")
        if self._written(present=True):
            return (f"--out {out} holds an incomplete run (heterofem files but no "
                    "summary.json: it was interrupted or failed before it finished); continue "
                    f"it with --restart {out} (from its checkpoints) or replace it with "
                    "--overwrite")
        return None

    def _lock_dir(self) -> str | None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fh = open(self.path / LOCK_NAME, "a")
        except OSError as exc:
            return f"cannot create --out {self.path}: {exc.strerror}"
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return (f"another heterofem run is writing to {self.path} (it holds {LOCK_NAME}); "
                    "wait for it to finish or choose another --out")
        self._lock = fh
        return None

    def _written(self, present: bool = False) -> list[str]:
        """What heterofem wrote here: the manifest's names, the field series' files and the
        default pictures of ``heterofem plot``; without a manifest (an older heterofem) the
        names it always used. ``present``: only those that exist."""
        out = self.path
        try:
            names = (out / MANIFEST_NAME).read_text().split()
        except OSError:
            names = [*RUN_FILES, "checkpoints/"]
        names += [p.name for p in out.iterdir()
                  if re.fullmatch(rf"{SERIES_STEM}(?:_r\d+_)?{_SERIES_FILE}", p.name)
                  or re.fullmatch(rf"{SERIES_STEM}_restart_\S+s\.pvd", p.name)  # earlier versions
                  or _PLOT_DEFAULTS.fullmatch(p.name)]
        safe = [n for n in dict.fromkeys(names) if "/" not in n.rstrip("/") and ".." not in n]
        return [n for n in safe if (out / n).exists()] if present else safe

    def _clean(self, names) -> None:
        for name in names:
            path = self.path / name
            if name.endswith("/"):
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _locked(lock: Path) -> bool:
    """Whether another process holds the flock on ``lock`` (opened read-only: writes nothing)."""
    try:
        fh = open(lock)
    except OSError:
        return False
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


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


def write_summary(path: Path, summary: dict, comm: MPI.Comm) -> None:
    """summary.json with its ``units`` map (every numeric entry's unit, dotted paths)."""
    write_json(path, with_units(summary), comm)


def write_units(csv_path: Path, units: dict, comm: MPI.Comm) -> None:
    """The units sidecar of a CSV table: ``profiles.csv`` -> ``profiles.units.json``."""
    if comm.rank == 0:
        _atomic_write(sidecar_path(csv_path), lambda fh: fh.write(units_json(units)))


def write_csv(path: Path, columns: dict[str, np.ndarray], comm: MPI.Comm,
              units: dict[str, str] | None = None) -> None:
    """Columns of equal length; ``units`` (column -> unit) go to the sidecar
    ``<stem>.units.json`` (written first: a table never lacks its units)."""
    if units is not None:
        write_units(path, {c: units.get(c) for c in columns}, comm)
    if comm.rank != 0:
        return

    def write(fh):
        w = csv.writer(fh)
        w.writerow(list(columns))
        for row in zip(*[np.asarray(c) for c in columns.values()]):
            w.writerow([x if isinstance(x, str) else f"{x:.12g}" for x in row])

    _atomic_write(path, write)


class OutputSet:
    """Output fields as functions: "point" fields interpolated into P1; "cell" fields
    L2-projected onto P1 (:class:`L2Projection`: smooth electric field, stress, strain, no
    cell-to-cell noise) unless truly cell-wise (``OutputField.written_kind == "cell"``: the
    layer id, per-layer properties), which are interpolated into DG0.

    Built once (expressions and forms compile once, the mass matrix is assembled once);
    :meth:`update` recomputes them from the current state. Function names carry the unit
    (``phi_V``, ``Ez_V_per_m``): the arrays' names in the files.
    """

    def __init__(self, mesh: dolfinx.mesh.Mesh, fields, cell_tags=None):
        spaces = {"point": dolfinx.fem.functionspace(mesh, ("Lagrange", 1)),
                  "cell": dolfinx.fem.functionspace(mesh, ("DG", 0))}
        self.fields = list(fields)
        self.functions = []
        self._updates = []
        self._smoothed: dict[str, dolfinx.fem.Function] = {}
        projection = None
        for field in self.fields:
            expr = field.expr * field.scale if field.scale != 1.0 else field.expr
            kind = field.written_kind if getattr(expr, "ufl_shape", ()) == () else field.kind
            f = dolfinx.fem.Function(spaces[kind], name=field.column)
            self.functions.append(f)
            if field.kind == "cell" and kind == "point":
                projection = projection or L2Projection(spaces["point"], cell_tags)
                self._updates.append(projection.target(expr, f))
                self._smoothed[field.column] = self._updates[-1].broken
            else:
                compiled = dolfinx.fem.Expression(expr, spaces[kind].element.interpolation_points)
                self._updates.append(lambda f=f, e=compiled: f.interpolate(e))
        self.update()

    def update(self) -> None:
        for update in self._updates:
            update()

    def smoothed(self, field) -> dolfinx.fem.Function | None:
        """The layer-wise P1 projection of a "cell" field as a DG1 function, sharp at layer
        interfaces (for profiles; the files hold its continuous P1 average); None when the
        field is not smoothed."""
        return self._smoothed.get(field.column)

    @property
    def units(self) -> dict[str, str]:
        """column -> unit of profiles.csv (``z_nm``, ``layer`` and the fields)."""
        return profile_units(self.fields)

    def kind_of(self, field) -> str:
        """"point" or "cell": how the field files hold ``field``."""
        return "point" if field.column in self._smoothed or field.kind == "point" else "cell"


class L2Projection:
    """L2 projection onto P1, layer by layer: in each layer L (cells tagged L), find p_L in P1
    with (p_L, v)_L = (f, v)_L for every v of L; the output p is p_L inside L and, at a node on
    an interface, the average of the layers' values weighted by their lumped mass there.

    Layer by layer, a true jump at an interface (the electric field across a dielectric step,
    the stress across a misfit) does not ring through the neighbouring layers as one global
    projection would; within a layer the consistent mass matrix (assembled once per layer,
    conjugate gradients with Jacobi, relative tolerance 1e-12) makes it the best L2
    approximation, exact for a field that is linear there. Integrals by a degree-2 rule
    (exact for P1 and DG0 fields). Without ``cell_tags``: one projection over the mesh.
    ``broken`` (a DG1 function, per field) holds p_L in the cells of L: sharp at interfaces,
    for profiles.
    """

    def __init__(self, V: dolfinx.fem.FunctionSpace, cell_tags=None):
        import ufl

        self.V = V
        self.v = ufl.TestFunction(V)
        self.dg1 = dolfinx.fem.functionspace(V.mesh, ("DG", 1))
        # one compiled form each, restricted to a layer by the indicator chi (DG0)
        self.chi = dolfinx.fem.Function(dolfinx.fem.functionspace(V.mesh, ("DG", 0)))
        self.dx = ufl.dx(domain=V.mesh, metadata={"quadrature_degree": 2})
        tags = [] if cell_tags is None else sorted(  # every rank the same layers, in order
            set().union(*V.mesh.comm.allgather(set(np.unique(cell_tags.values).tolist()))))
        self.layers = [cell_tags.find(int(t)) for t in tags] or [None]
        self._mass = dolfinx.fem.form(ufl.TrialFunction(V) * self.v * self.chi * self.dx)
        self._lumped = dolfinx.fem.form(self.v * self.chi * self.dx)
        self._systems = [self._system(cells) for cells in self.layers]
        total = sum(w for w, _, _ in self._systems)
        self._weights = [w / np.where(total > 0, total, 1.0) for w, _, _ in self._systems]

    def _select(self, cells) -> None:
        """chi = 1 in ``cells`` (all cells for None), 0 elsewhere."""
        dofs = self.chi.function_space.dofmap.list[:, 0]
        self.chi.x.array[:] = 1.0 if cells is None else 0.0
        if cells is not None:
            self.chi.x.array[dofs[cells]] = 1.0

    def _system(self, cells) -> tuple:
        """(lumped mass at each local dof, KSP, dofs outside the layer) of one layer."""
        from dolfinx.fem.petsc import assemble_matrix, assemble_vector

        from heterofem.solver.dolfinx_env import PETSc

        V = self.V
        self._select(cells)
        lumped = assemble_vector(self._lumped)
        lumped.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        lumped.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        with lumped.localForm() as local:
            weight = local.array.copy()
        outside = np.flatnonzero(weight <= 0.0).astype(np.int32)
        bc = dolfinx.fem.dirichletbc(PETSc.ScalarType(0.0), outside, V)
        A = assemble_matrix(self._mass, bcs=[bc], diag=1.0)
        A.assemble()
        ksp = PETSc.KSP().create(V.mesh.comm)
        ksp.setOperators(A)
        ksp.setType("cg")
        ksp.getPC().setType("jacobi")
        ksp.setTolerances(rtol=1e-12, atol=0.0, max_it=2000)
        return weight, ksp, outside

    def target(self, expr, out: dolfinx.fem.Function):
        """A function that projects ``expr`` into ``out`` (forms compiled now); it also
        fills the DG1 function it returns as ``update.broken``."""
        from dolfinx.fem.petsc import assemble_vector, create_vector

        from heterofem.solver.dolfinx_env import PETSc

        rhs = dolfinx.fem.form(expr * self.v * self.chi * self.dx)
        b = create_vector(self.V)
        part = dolfinx.fem.Function(self.V)
        broken = dolfinx.fem.Function(self.dg1, name=out.name)

        def update() -> None:
            out.x.array[:] = 0.0
            for cells, (_, ksp, outside), w in zip(self.layers, self._systems, self._weights):
                self._select(cells)
                with b.localForm() as local:
                    local.set(0.0)
                assemble_vector(b, rhs)
                b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
                with b.localForm() as local:
                    local.array[outside] = 0.0
                ksp.solve(b, part.x.petsc_vec)
                part.x.scatter_forward()
                out.x.array[:] += w * part.x.array
                if cells is None:
                    broken.interpolate(part)
                else:
                    broken.interpolate(part, cells0=cells)
            out.x.scatter_forward()

        update.broken = broken
        return update


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
            _atomic_write(sidecar_path(self.path),
                          lambda fh: fh.write(units_json(timeseries_units(self.columns))))
        self._writer.writerow([f"{row[c]:.12g}" for c in self.columns])
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class FieldWriter:
    """Fields of one mesh as one VTK time series, ``fields.pvd``, across restarts.

    DOLFINx's VTKFile numbers its files per writer (``<stem>000000.pvtu``, ...) and writes its
    ``.pvd`` only when closed: a killed run would leave its fields in no collection, and a
    restarted writer would overwrite the first run's files. So each writer (a *part*) gets its
    own stem, ``fields`` for the first run and ``fields_r<k>_`` for the k-th restart, and rank 0
    keeps ``fields.pvd`` itself, rewritten atomically after every output: the earlier parts'
    outputs up to the restart time ``resume_after_s``, then this part's. The earlier parts'
    outputs after that time (the interrupted run's) are dropped with their files.
    """

    def __init__(self, rundir: RunDir, mesh: dolfinx.mesh.Mesh,
                 resume_after_s: float | None = None):
        self.dir, self.comm, self._rundir = rundir.path, mesh.comm, rundir
        self.path = self.dir / f"{SERIES_STEM}.pvd"
        part, self._datasets = 0, []
        if resume_after_s is not None and self.comm.rank == 0:
            part, self._datasets = self._resume(resume_after_s)
        part = self.comm.bcast(part, root=0)
        self.stem = SERIES_STEM if part == 0 else f"{SERIES_STEM}_r{part}_"
        self._count = 0
        rundir.record(self.path.name, f"{self.stem}.pvd")
        self._file = dolfinx.io.VTKFile(self.comm, str(self.dir / f"{self.stem}.pvd"), "w")
        from heterofem.solver.exports import XdmfSeries

        self._xdmf = XdmfSeries(self.dir / f"{SERIES_STEM}.xdmf", mesh, resume_after_s)
        if resume_after_s is not None:
            self._write_collection()

    def _resume(self, t_resume: float) -> tuple[int, list[tuple[float, str]]]:
        """(number of this part, the earlier outputs kept) for a restart at ``t_resume``."""
        tol = 1e-12 * max(1.0, abs(t_resume))
        earlier = read_pvd(self.path)
        kept = [(t, f) for t, f in earlier if t <= t_resume + tol]
        for _, name in earlier[len(kept):]:  # after the checkpoint: replaced by this part
            m = re.fullmatch(r"(.+?)(\d{6})\.pvtu", name)
            if m and "/" not in name:
                (self.dir / name).unlink(missing_ok=True)
                for piece in self.dir.glob(f"{m[1]}_p*_{m[2]}.vtu"):
                    piece.unlink(missing_ok=True)
        parts = [int(m[1]) for p in self.dir.iterdir()
                 if (m := re.fullmatch(rf"{SERIES_STEM}_r(\d+)_{_SERIES_FILE}", p.name))]
        return max(parts, default=0) + 1, kept

    def write(self, functions: list[dolfinx.fem.Function], t: float = 0.0) -> None:
        """Write the fields at time ``t`` (collective) and add them to ``fields.pvd``."""
        n = f"{self._count:06d}"
        pvtu = f"{self.stem}{n}.pvtu"
        self._rundir.record(pvtu, *(f"{self.stem}_p{r}_{n}.vtu" for r in range(self.comm.size)))
        self._file.write_function(functions, t)
        self._xdmf.write(functions, t)
        self._count += 1
        self._datasets.append((float(t), pvtu))
        self._write_collection()

    def new_mesh(self, mesh: dolfinx.mesh.Mesh) -> None:
        """The fields from now on live on ``mesh`` (an adapted mesh, solver/adapt.py).
        ``fields.pvd`` goes on listing every output (each .pvtu holds its own mesh); the XDMF
        series, bound to one mesh, gets one file per mesh: ``fields.xdmf`` for the first,
        ``fields_m<k>.xdmf`` for the k-th remesh. Collective."""
        from heterofem.solver.exports import XdmfSeries

        self._xdmf.close()
        self._segment = getattr(self, "_segment", 0) + 1
        name = f"{SERIES_STEM}_m{self._segment}.xdmf"
        self._rundir.record(name)
        self._xdmf = XdmfSeries(self.dir / name, mesh)

    def _write_collection(self) -> None:
        if self.comm.rank == 0:
            write_pvd(self.path, self._datasets)

    def close(self) -> None:
        """Close the VTK writer; ``fields.pvd`` stays the whole series (DOLFINx's own
        collection of a restarted part, written now, repeats part of it and is removed)."""
        self._file.close()
        self._file = None  # its destructor writes the collection once more: let it run now
        self._xdmf.close()
        if self.comm.rank == 0:
            if self.stem != SERIES_STEM:
                (self.dir / f"{self.stem}.pvd").unlink(missing_ok=True)
            write_pvd(self.path, self._datasets)


def read_pvd(path: Path) -> list[tuple[float, str]]:
    """(time, file) of every data set of a VTK collection (``.pvd``), in file order; empty
    when it is missing or damaged (a warning says so)."""
    if not Path(path).exists():
        return []
    try:
        root = ET.parse(path).getroot()
        return [(float(d.get("timestep", 0.0)), d.get("file"))
                for d in root.iter("DataSet") if d.get("file")]
    except (ET.ParseError, ValueError) as exc:
        log.warning("%s cannot be read (%s); its outputs are left out of the series", path, exc)
        return []


def write_pvd(path: Path, datasets: list[tuple[float, str]]) -> None:
    """A VTK collection of (time, file) data sets, written atomically (rank 0 calls it)."""
    root = ET.Element("VTKFile", type="Collection", version="1.0")
    collection = ET.SubElement(root, "Collection")
    for t, name in datasets:
        ET.SubElement(collection, "DataSet", timestep=repr(float(t)), part="0", file=name)
    ET.indent(root)
    _atomic_write(Path(path), lambda fh: fh.write('<?xml version="1.0"?>\n'
                                                  + ET.tostring(root, encoding="unicode") + "\n"))
