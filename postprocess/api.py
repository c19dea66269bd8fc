"""Reading heterofem results: run directories, sweeps of runs, lines through fields, comparisons.

A *run directory* is what ``heterofem run`` writes: ``summary.json``, ``profiles.csv``,
``config.resolved.toml``, ``fields.pvd`` (+ ``.pvtu``/``.vtu`` per output time), and for
transient runs ``timeseries.csv``. A *sweep directory* holds run directories (one per value
of a swept parameter), optionally with the ``table.csv`` a series script writes.

    >>> from heterofem.postprocess import load_run, sample_line, compare_runs
    >>> run = load_run("results/demo")
    >>> run.summary["electrostatics"]["phi_max_V"]
    >>> run.profiles["phi_V"]                      # along z through the lateral centre
    >>> grid = run.fields()                        # last output time, a pyvista UnstructuredGrid
    >>> line = sample_line(run, (0.0, 16.0), (30.0, 16.0), n=200)   # 2D: (x, z) in nm
    >>> compare_runs([run, load_run("results/demo_np2")], "phi").max_abs_diff

Coordinates: a 1D run's field files hold z as the first coordinate, a 2D x-z run stores z as
the second (VTK y) coordinate, a 3D run is (x, y, z). :func:`sample_line` and
:meth:`Run.vtk_points` take physical coordinates (``(z,)``, ``(x, z)`` or ``(x, y, z)``)
and do the mapping. Nothing here needs MPI or a display; pyvista is imported only when
fields are read.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import sys
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from dataclasses import field as dc_field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

#: VTK bookkeeping arrays that DOLFINx writes next to the fields (dropped when loading)
_VTK_INTERNAL = ("vtkGhostType", "vtkOriginalPointIds", "vtkOriginalCellIds",
                 "vtkValidPointMask", "Texture Coordinates", "Distance")
#: summary entries that are not results (skipped by :func:`flat_scalars`)
_NOT_RESULTS = ("timings_s", "wall_time_s", "mpi_size", "command_line", "fields",
                "config_sha256")


class PlotError(RuntimeError):
    """A run or sweep directory that cannot be read or drawn; the message says why and what to
    do."""


# -- MPI -------------------------------------------------------------------------------------------
def is_root() -> bool:
    """True on MPI rank 0, or outside MPI. Uses mpi4py if it is already imported, otherwise the
    rank variables that mpirun/srun set (so importing this never initialises MPI)."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized():
        return mpi.COMM_WORLD.rank == 0
    for var in ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "MV2_COMM_WORLD_RANK",
                "SLURM_PROCID"):
        value = os.environ.get(var)
        if value is not None and value.strip().isdigit():
            return int(value) == 0
    return True


# -- small readers ---------------------------------------------------------------------------------
def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise PlotError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}); the run was "
                        "probably interrupted while writing it: run it again") from None
    if not isinstance(data, dict):
        raise PlotError(f"{path} does not hold a heterofem summary (a JSON object)")
    return data


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise PlotError(f"{path} is not valid TOML ({exc}); the run directory is damaged") from None


def read_csv_columns(path: Path) -> dict[str, np.ndarray]:
    """A CSV file with a header row as columns: float arrays where every value is a number,
    string arrays otherwise (e.g. the ``layer`` column). Lines starting with ``#`` are skipped."""
    path = Path(path)
    if not path.is_file():
        raise PlotError(f"{path} does not exist")
    with open(path, newline="") as fh:
        rows = [r for r in csv.reader(line for line in fh if not line.lstrip().startswith("#"))
                if r]
    if not rows:
        raise PlotError(f"{path} is empty")
    header, body = rows[0], rows[1:]
    if not body:
        raise PlotError(f"{path} has a header but no rows")
    bad = [i + 2 for i, r in enumerate(body) if len(r) != len(header)]
    if bad:
        rows = ", ".join(map(str, bad[:5]))
        raise PlotError(f"{path} is damaged: row(s) {rows} have a different "
                        f"number of values than the header ({len(header)} columns); was the run "
                        "interrupted while writing it?")
    cols: dict[str, np.ndarray] = {}
    for j, name in enumerate(header):
        vals = [r[j] for r in body]
        try:
            cols[name] = np.array(vals, dtype=float)
        except ValueError:
            cols[name] = np.array(vals)
    return cols


def flat_scalars(d: dict, prefix: str = "") -> dict[str, float]:
    """Every numeric leaf of a summary (or config) dictionary, keyed by dotted path; lists are
    indexed (``layers.1.thickness_nm``). Timings, versions and the command line are skipped."""
    out: dict[str, float] = {}
    items = d.items() if isinstance(d, dict) else enumerate(d)
    for k, v in items:
        if k in _NOT_RESULTS and not prefix:
            continue
        key = f"{prefix}{k}"
        if isinstance(v, (dict, list)):
            out.update(flat_scalars(v, key + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = float(v)
    return out


def unit_of(name: str) -> str:
    """The unit a column or key name carries in its suffix (``thickness_nm`` -> ``nm``)."""
    units = {"_nm": "nm", "_pm": "pm", "_V": "V", "_eV": "eV", "_K": "K", "_s": "s",
             "_GPa": "GPa", "_Pa": "Pa", "_mTorr": "mTorr", "_C_m2": "C/m^2", "_C_per_m2": "C/m^2",
             "_C_m3": "C/m^3", "_C_per_m3": "C/m^3", "_J_m2": "J/m^2", "_m2": "m^-2",
             "_per_m3": "m^-3", "_J_m_C2": "J m/C^2", "_V_per_m": "V/m", "_m_s": "m/s"}
    for suffix in sorted(units, key=len, reverse=True):
        if name.endswith(suffix):
            return units[suffix]
    return ""


# -- one run ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layer:
    """One layer of the stack, bottom to top: ``z_bottom_nm`` .. ``z_top_nm``."""

    index: int
    name: str
    material: str
    z_bottom_nm: float
    z_top_nm: float
    tag: int | None = None

    @property
    def thickness_nm(self) -> float:
        return self.z_top_nm - self.z_bottom_nm


class Run:
    """A finished (or stopped) heterofem run directory; build it with :func:`load_run`.

    Attributes: ``path``, ``summary`` (summary.json), ``config`` (config.resolved.toml),
    ``name``, ``dimension``, ``converged``, ``layers`` (:class:`Layer` list, bottom to top),
    ``field_info`` (column -> {name, unit, kind}), ``times`` (output times of fields.pvd,
    empty without field files); lazily: ``profiles`` (profiles.csv columns),
    ``timeseries`` (timeseries.csv columns, or None for a steady run).
    """

    def __init__(self, path: Path, summary: dict, config: dict):
        self.path = Path(path)
        self.summary = summary
        self.config = config
        self.name: str = summary.get("name") or config.get("run", {}).get("name", self.path.name)
        self.dimension: int = int(summary.get("dimension")
                                  or config.get("run", {}).get("dimension", 1))
        self.converged: bool = bool(summary.get("converged", False))
        self.field_info: dict[str, dict] = dict(summary.get("fields", {}))
        tags = {n: v.get("tag") for n, v in summary.get("mesh", {}).get("layers", {}).items()}
        self.layers: list[Layer] = []
        z = 0.0
        for i, lay in enumerate(config.get("layers", [])):
            t = float(lay["thickness_nm"])
            self.layers.append(Layer(i, lay["name"], lay.get("material", "?"), z, z + t,
                                     tags.get(lay["name"], i + 1)))
            z += t
        self._grids: dict[int, Any] = {}

    def __repr__(self) -> str:
        return (f"Run({str(self.path)!r}: {self.name}, {self.dimension}D, "
                f"{len(self.layers)} layers, {len(self.times)} output time(s))")

    # geometry ---------------------------------------------------------------------------------
    @property
    def total_thickness_nm(self) -> float:
        return self.layers[-1].z_top_nm if self.layers else 0.0

    @property
    def interfaces_nm(self) -> list[float]:
        """z of the internal interfaces, bottom to top."""
        return [lay.z_top_nm for lay in self.layers[:-1]]

    @property
    def z_axis(self) -> int:
        """Index of z among the field files' coordinates (0 in 1D, 1 in 2D x-z, 2 in 3D)."""
        return self.dimension - 1

    @property
    def lateral_centre_nm(self) -> tuple[float, ...]:
        """(x,) in 2D, (x, y) in 3D: where profiles.csv samples; () in 1D."""
        mesh = self.config.get("mesh", {})
        if self.dimension == 1:
            return ()
        centre = (mesh.get("width_nm", 20.0) / 2,)
        if self.dimension == 3:
            centre += (mesh.get("depth_nm", 20.0) / 2,)
        return centre

    def vtk_points(self, coords) -> np.ndarray:
        """Physical coordinates, shape (n, dimension) as (z,) / (x, z) / (x, y, z) in nm, to the
        3-vectors of the field files."""
        c = np.atleast_2d(np.asarray(coords, dtype=float))
        if c.shape[1] != self.dimension:
            raise PlotError(f"{self.dimension}D run: give points as "
                            f"{['(z,)', '(x, z)', '(x, y, z)'][self.dimension - 1]} in nm, "
                            f"not {c.shape[1]} coordinate(s)")
        pts = np.zeros((c.shape[0], 3))
        pts[:, : self.dimension] = c
        return pts

    def centre_line_points(self, z: np.ndarray) -> np.ndarray:
        """Physical coordinates of the points at heights ``z`` through the lateral centre."""
        z = np.asarray(z, dtype=float)
        lateral = [np.full_like(z, c) for c in self.lateral_centre_nm]
        return np.column_stack(lateral + [z])

    @cached_property
    def layer_spans(self) -> list[tuple[Layer, float, float]]:
        """(layer, z_bottom, z_top) along the profile line through the lateral centre, bottom to
        top. From the config's thicknesses, except in a 2D/3D run with mesh features (a step,
        an island), where the layer_id of the fields along the line decides (a terrace step
        moves an interface there)."""
        spans = [(lay, lay.z_bottom_nm, lay.z_top_nm) for lay in self.layers]
        if self.dimension == 1 or not self.config.get("mesh", {}).get("features") or not self.times:
            return spans
        try:
            return self._spans_from_fields() or spans
        except PlotError:
            return spans

    def _spans_from_fields(self) -> list[tuple[Layer, float, float]]:
        total = self.total_thickness_nm
        grid = self.fields()
        if "layer_id" not in grid.cell_data:
            return []
        hi = grid.bounds[2 * self.z_axis + 1]

        def ids(z):
            vals = sample_points(self, self.centre_line_points(np.asarray(z)), fields=["layer_id"])
            return vals["layer_id"]

        z = np.linspace(0.0, hi, 2001)
        lid = ids(z)
        ok = np.isfinite(lid)
        z, lid = z[ok], lid[ok]
        cut = np.flatnonzero(np.diff(lid) != 0)
        a, b = z[cut], z[cut + 1]
        below = lid[cut]
        for _ in range(24):  # bisect every transition at once (to ~1e-9 of the height)
            m = 0.5 * (a + b)
            same = ids(m) == below
            a, b = np.where(same, m, a), np.where(same, b, m)
        edges = np.concatenate([[z[0]], 0.5 * (a + b), [z[-1]]])
        by_id = {int(lay.tag): lay for lay in self.layers}
        segment_ids = np.concatenate([[lid[0]], lid[cut + 1]])
        out = []
        for k, i in enumerate(segment_ids):
            lay = by_id.get(int(i))
            if lay is not None:
                out.append((lay, float(edges[k]), float(edges[k + 1])))
        if out and abs(out[-1][2] - total) < 1e-6 * max(total, 1.0):
            out[-1] = (out[-1][0], out[-1][1], total)
        return out

    def layer_at(self, z: float) -> Layer:
        for lay in self.layers:
            if z <= lay.z_top_nm:
                return lay
        return self.layers[-1]

    # fields and labels --------------------------------------------------------------------------
    def label(self, column: str) -> str:
        """Axis label "name [unit]" of a column, from the field metadata in summary.json."""
        meta = self.field_info.get(column)
        if meta is None:
            unit = unit_of(column)
            return f"{column} [{unit}]" if unit else column
        return f"{meta['name']} [{meta['unit']}]" if meta["unit"] not in ("1", "") else meta["name"]

    def columns(self, name: str, available: Iterable[str] | None = None) -> list[str]:
        """Every column that ``name`` selects: the column itself, the field of that short name
        (``phi`` -> ``phi_V``), or the columns it prefixes (``P`` -> ``P_z_...``, ``P_x_...``)."""
        avail = list(available) if available is not None else list(self.field_info)
        if name in avail:
            return [name]
        by_name = [c for c in avail if self.field_info.get(c, {}).get("name") == name]
        if by_name:
            return by_name
        return [c for c in avail if c.startswith(name + "_")]

    def column(self, name: str, available: Iterable[str] | None = None) -> str:
        """The one column ``name`` stands for (the first, if it prefixes several)."""
        avail = list(available) if available is not None else list(self.field_info)
        found = self.columns(name, avail)
        if not found:
            raise PlotError(f"no field '{name}' in {self.path}; fields: "
                            f"{', '.join(c for c in avail if c != 'layer') or 'none'}")
        return found[0]

    # lazily read files -------------------------------------------------------------------------
    @cached_property
    def profiles(self) -> dict[str, np.ndarray]:
        """profiles.csv: ``z_nm``, ``layer`` (names) and every field along z through the
        lateral centre, in the final state."""
        path = self.path / "profiles.csv"
        if not path.is_file():
            why = f" ({self.summary['error']})" if self.summary.get("error") else ""
            raise PlotError(f"{self.path} has no profiles.csv" +
                            (f": the run did not converge{why}" if not self.converged else
                             "; is it a finished heterofem run directory?"))
        cols = read_csv_columns(path)
        if "z_nm" not in cols:
            raise PlotError(f"{path} has no z_nm column; not a heterofem profile")
        return cols

    @cached_property
    def timeseries(self) -> dict[str, np.ndarray] | None:
        """timeseries.csv columns (t_s, dt_s, newton_iterations, ...), None for a steady run."""
        path = self.path / "timeseries.csv"
        return read_csv_columns(path) if path.is_file() else None

    @cached_property
    def _datasets(self) -> list[tuple[float, Path]]:
        """(time, .pvtu) of every field output, in time order: fields.pvd, then the files of
        each restart (``fields_restart_<t>s.pvd``, which replace the outputs after ``t``)."""
        sets = _pvd_datasets(self.path / "fields.pvd") if (self.path / "fields.pvd").is_file() \
            else self._orphan_datasets()
        restarts = []
        for pvd in self.path.glob("fields_restart_*s.pvd"):
            m = re.fullmatch(r"fields_restart_(.+)s\.pvd", pvd.name)
            try:
                restarts.append((float(m.group(1)), pvd))
            except (AttributeError, ValueError):
                continue
        for t_restart, pvd in sorted(restarts):
            tol = 1e-9 * max(1.0, abs(t_restart))
            later = _pvd_datasets(pvd)
            sets = [(t, f) for t, f in sets if t <= t_restart + tol
                    and not any(abs(t - u) <= tol * max(1.0, abs(t)) for u, _ in later)]
            sets += later
        return sorted(sets, key=lambda s: s[0])

    def _orphan_datasets(self) -> list[tuple[float, Path]]:
        """A transient killed before it closed fields.pvd leaves fields000000.pvtu, ... behind;
        they are the outputs at t = 0 and the configured output times, in order."""
        files = sorted(self.path.glob("fields[0-9][0-9][0-9][0-9][0-9][0-9].pvtu"))
        time_cfg = self.config.get("time") or {}
        if not files or not time_cfg:
            return []
        candidates = [0.0] + sorted(float(t) for t in time_cfg.get("output_times_s", []))
        candidates += [float(time_cfg["end_s"])] if "end_s" in time_cfg else []
        candidates = sorted(set(candidates))
        return list(zip(candidates, files))[: len(files)]

    @property
    def times(self) -> list[float]:
        """Output times of the field files [s] (``[0.0]`` for a steady run; empty without
        fields)."""
        return [t for t, _ in self._datasets]

    def time_index(self, time: float | None) -> int:
        """Index of the output time closest to ``time`` (the last one for None); an error if no
        output time is within 1e-6 (relative) of it."""
        times = self.times
        if not times:
            raise PlotError(f"{self.path} has no fields.pvd (field output times); run with "
                            "[output] fields = true")
        if time is None:
            return len(times) - 1
        i = int(np.argmin([abs(t - time) for t in times]))
        if abs(times[i] - time) > 1e-6 * max(1.0, abs(time)):
            raise PlotError(f"no output at t = {time:g} s in {self.path}; output times [s]: "
                            + ", ".join(f"{t:g}" for t in times))
        return i

    def fields(self, time: float | None = None):
        """The fields at an output time (default: the last) as one ``pyvista.UnstructuredGrid``:
        point data (P1 fields), cell data (DG0 fields, ``layer_id``). Pieces written by several
        MPI ranks are merged: ghost cells are dropped and shared points joined, so the grid is
        the same as a serial run's."""
        i = self.time_index(time)
        if i not in self._grids:
            self._grids[i] = _read_grid(self._datasets[i][1])
        return self._grids[i]

    def profile(self, time: float | None = None) -> dict[str, np.ndarray]:
        """The profile along z through the lateral centre at an output time: profiles.csv for the
        final state, otherwise the fields at that time sampled at profiles.csv's heights."""
        if time is None or not self.times or self.time_index(time) == len(self.times) - 1:
            return self.profiles
        z = self.profiles["z_nm"]
        line = sample_points(self, self.centre_line_points(z), time=time)
        out = {"z_nm": z, "layer": self.profiles.get("layer", np.array([""] * len(z)))}
        out.update({k: v for k, v in line.items() if k in self.field_info and k != "layer_id"})
        return out

    @property
    def layer_names_by_id(self) -> dict[int, str]:
        """``layer_id`` value (mesh tag) -> layer name."""
        return {int(lay.tag): lay.name for lay in self.layers if lay.tag is not None}


def _pvd_datasets(path: Path) -> list[tuple[float, Path]]:
    """(time, file) of each DataSet of a .pvd collection; a file cut short is read as far as
    it goes."""
    text = path.read_text()
    try:
        entries = [(ds.get("timestep", "0"), ds.get("file", ""))
                   for ds in ET.fromstring(text).iter("DataSet")]
    except ET.ParseError:
        entries = re.findall(r'<DataSet[^>]*?timestep="([^"]*)"[^>]*?file="([^"]*)"', text)
    try:
        sets = [(float(t), path.parent / f) for t, f in entries]
    except ValueError:
        raise PlotError(f"{path} is damaged (a time step is not a number)") from None
    if not sets:
        raise PlotError(f"{path} lists no time steps; was the run interrupted?")
    return sets


def quiet_vtk() -> None:
    """Off-screen rendering: VTK tries an X display first and logs a warning; silence it."""
    from vtkmodules.vtkCommonCore import vtkLogger

    vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_OFF)


def _read_grid(path: Path):
    """One .pvtu (or .vtu) as a clean UnstructuredGrid: no ghosts, no VTK bookkeeping arrays."""
    import pyvista as pv

    quiet_vtk()
    if not path.is_file():
        raise PlotError(f"{path.parent / 'fields.pvd'} names {path.name}, which is missing; the "
                        "run directory is incomplete (interrupted run or partial copy)")
    if path.suffix == ".pvtu":
        try:
            pieces = [p.get("Source") for p in ET.parse(path).getroot().iter("Piece")]
        except ET.ParseError as exc:
            raise PlotError(f"{path} is damaged ({exc})") from None
        missing = [s for s in pieces if not (path.parent / s).is_file()]
        if missing:
            raise PlotError(f"{path.name} names {', '.join(missing)}, which "
                            f"{'is' if len(missing) == 1 else 'are'} missing from {path.parent}; "
                            "the run directory is incomplete")
    grid = pv.read(str(path))
    if isinstance(grid, pv.MultiBlock):
        grid = pv.merge([b for b in grid.recursive_iterator() if b is not None])
    if grid.n_cells == 0:
        raise PlotError(f"{path} holds no cells; the run directory is damaged")
    ghosts = grid.cell_data.get("vtkGhostType")
    if ghosts is not None and np.any(np.asarray(ghosts) != 0):
        grid = grid.extract_cells(np.flatnonzero(np.asarray(ghosts) == 0))
    if len(pieces_of(path)) > 1:  # join the points that several ranks' pieces share
        grid = grid.clean(tolerance=1e-10, produce_merge_map=False)
    for name in _VTK_INTERNAL:
        for data in (grid.point_data, grid.cell_data):
            while name in data:
                data.remove(name)
    if not isinstance(grid, pv.UnstructuredGrid):
        grid = grid.cast_to_unstructured_grid()
    return grid


def pieces_of(path: Path) -> list[str]:
    if Path(path).suffix != ".pvtu":
        return [Path(path).name]
    return [p.get("Source") for p in ET.parse(path).getroot().iter("Piece")]


def load_run(path: str | os.PathLike | Run) -> Run:
    """Open a run directory. Raises :class:`PlotError` with a clear message for a missing,
    incomplete or damaged directory (or a sweep directory given where a run is expected)."""
    if isinstance(path, Run):
        return path
    path = Path(path)
    if not path.exists():
        raise PlotError(f"{path} does not exist")
    if not path.is_dir():
        raise PlotError(f"{path} is not a directory; give a heterofem run directory (--out of "
                        "heterofem run)")
    summary_path = path / "summary.json"
    if not summary_path.is_file():
        if _run_subdirs(path):
            raise PlotError(f"{path} is a sweep directory (it holds run directories), not a run; "
                            "use load_sweep")
        started = [n for n in ("config.resolved.toml", "run.log", "mesh.msh", "fields.pvd")
                   if (path / n).exists()]
        if started:
            hint = ("; it wrote checkpoints: continue it with heterofem run CONFIG --restart "
                    f"{path}" if (path / "checkpoints").is_dir() else "")
            raise PlotError(f"the run in {path} is incomplete: no summary.json (it has "
                            f"{', '.join(started)}); it was interrupted or is still running; "
                            f"see run.log{hint}")
        raise PlotError(f"{path} is not a heterofem run directory (no summary.json)")
    summary = _read_json(summary_path)
    cfg_path = path / "config.resolved.toml"
    if not cfg_path.is_file():
        raise PlotError(f"{path} has no config.resolved.toml; the run directory is incomplete")
    return Run(path, summary, _read_toml(cfg_path))


# -- lines through fields --------------------------------------------------------------------------
def sample_points(run: Run | str | os.PathLike, points, time: float | None = None,
                  fields: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Field values at points given in physical coordinates (see :meth:`Run.vtk_points`): a dict
    of arrays, NaN outside the mesh. Cell (DG0) fields take the value of the cell holding the
    point (either cell, exactly on a cell boundary)."""
    import pyvista as pv

    run = load_run(run)
    grid = run.fields(time)
    pts = run.vtk_points(points)
    probe = pv.PolyData(pts).sample(grid, tolerance=1e-9 * max(grid.length, 1.0))
    valid = np.asarray(probe.point_data["vtkValidPointMask"]).astype(bool)
    names = [n for n in grid.array_names if n not in _VTK_INTERNAL]
    if fields:
        names = [c for f in fields for c in run.columns(f, names)] or [run.column(fields[0], names)]
    out: dict[str, np.ndarray] = {}
    for name in names:
        vals = np.array(probe.point_data[name], dtype=float)
        vals[~valid] = np.nan
        out[name] = vals
    if "layer_id" in out:
        ids = run.layer_names_by_id
        out["layer"] = np.array([ids.get(int(v), "") if np.isfinite(v) else ""
                                 for v in out["layer_id"]])
    return out


def sample_line(run: Run | str | os.PathLike, start, end, n: int = 200, time: float | None = None,
                fields: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Fields along the straight line ``start`` -> ``end`` (physical coordinates in nm: ``(z,)``
    in 1D, ``(x, z)`` in 2D, ``(x, y, z)`` in 3D) at ``n`` equally spaced points.

    Returns a dict: ``s_nm`` (distance from start), the coordinates (``x_nm``, ``y_nm``,
    ``z_nm`` as the run has them), ``layer`` (layer names) and every field array (or those
    ``fields`` selects; short names work: ``phi``), NaN where the line leaves the mesh.
    """
    run = load_run(run)
    a, b = (np.asarray(p, dtype=float).ravel() for p in (start, end))
    if n < 2:
        raise PlotError("sample_line needs n >= 2 points")
    t = np.linspace(0.0, 1.0, n)
    coords = a[None, :] + t[:, None] * (b - a)[None, :]
    out: dict[str, np.ndarray] = {"s_nm": t * float(np.linalg.norm(b - a))}
    axes = {1: ("z_nm",), 2: ("x_nm", "z_nm"), 3: ("x_nm", "y_nm", "z_nm")}[run.dimension]
    for j, name in enumerate(axes):
        out[name] = coords[:, j] if coords.shape[1] == run.dimension else np.full(n, np.nan)
    out.update(sample_points(run, coords, time=time, fields=fields))
    return out


# -- comparing runs --------------------------------------------------------------------------------
@dataclass
class Comparison:
    """One field of several runs along z (through each run's lateral centre).

    ``values[label]`` are on the common heights ``z_nm``; ``max_abs_diff[label]`` is the
    largest |run - reference| (the reference is the first run) and ``max_rel_diff`` that
    relative to the reference's largest |value|.
    """

    column: str
    label: str
    z_nm: np.ndarray
    values: dict[str, np.ndarray]
    reference: str
    max_abs_diff: dict[str, float] = dc_field(default_factory=dict)
    max_rel_diff: dict[str, float] = dc_field(default_factory=dict)
    layers: list[Layer] = dc_field(default_factory=list)

    @property
    def max_difference(self) -> float:
        """The largest absolute difference of any run from the reference."""
        return max(self.max_abs_diff.values(), default=0.0)

    def __str__(self) -> str:
        lines = [f"{self.column}: reference {self.reference}"]
        for k, d in self.max_abs_diff.items():
            lines.append(f"  {k}: max |diff| = {d:.6g} (relative {self.max_rel_diff[k]:.3g})")
        return "\n".join(lines)

    def plot(self, out: str | os.PathLike) -> Path:
        from heterofem.postprocess.plot import plot_comparison

        return plot_comparison(self, out)


def compare_runs(runs: Sequence[Run | str | os.PathLike], field: str, time: float | None = None,
                 labels: Sequence[str] | None = None, out: str | os.PathLike | None = None
                 ) -> Comparison:
    """Compare one field of several runs along z through the lateral centre (the first run is the
    reference). The profiles are compared where they are sampled at the same heights, else on a
    common grid over the heights all runs share. With ``out``, also draws the profiles and their
    differences there. Runs at another output time: ``time`` (sampled from the fields)."""
    runs = [load_run(r) for r in runs]
    if len(runs) < 2:
        raise PlotError("compare_runs needs at least two runs")
    labels = list(labels) if labels else _short_labels([r.path for r in runs])
    profiles = [r.profile(time) for r in runs]
    cols = [r.column(field, [c for c in p if c not in ("z_nm", "layer")])
            for r, p in zip(runs, profiles)]
    zs = [np.asarray(p["z_nm"], dtype=float) for p in profiles]
    if all(len(z) == len(zs[0]) and np.allclose(z, zs[0], rtol=0, atol=1e-9) for z in zs):
        z = zs[0]
        values = {lab: np.asarray(p[c], dtype=float) for lab, p, c in zip(labels, profiles, cols)}
    else:
        lo, hi = max(z[0] for z in zs), min(z[-1] for z in zs)
        if hi <= lo:
            raise PlotError("the runs share no heights to compare along z")
        z = np.linspace(lo, hi, max(len(zz) for zz in zs))
        values = {lab: np.interp(z, zz, np.asarray(p[c], dtype=float))
                  for lab, p, c, zz in zip(labels, profiles, cols, zs)}
    ref_label = labels[0]
    ref = values[ref_label]
    scale = float(np.nanmax(np.abs(ref))) if np.any(np.isfinite(ref)) else 0.0
    comp = Comparison(cols[0], runs[0].label(cols[0]), z, values, ref_label, layers=runs[0].layers)
    for lab in labels[1:]:
        d = float(np.nanmax(np.abs(values[lab] - ref)))
        comp.max_abs_diff[lab] = d
        comp.max_rel_diff[lab] = d / scale if scale > 0 else (0.0 if d == 0 else math.inf)
    if out is not None:
        comp.plot(out)
    return comp


def _short_labels(paths: Sequence[Path]) -> list[str]:
    names = [p.name or str(p) for p in paths]
    if len(set(names)) < len(names):
        names = [str(p) for p in paths]
    if len(set(names)) < len(names):  # the same run twice
        names = [f"{n} ({k + 1})" for k, n in enumerate(names)]
    return names


# -- sweeps ----------------------------------------------------------------------------------------
def _layer_index_key(key: str, config: dict) -> str:
    """``layers.film.thickness_nm`` -> ``layers.1.thickness_nm`` (the index form of config keys)."""
    parts = key.split(".")
    if len(parts) > 2 and parts[0] == "layers" and not parts[1].isdigit():
        names = [lay.get("name") for lay in config.get("layers", [])]
        if parts[1] in names:
            parts[1] = str(names.index(parts[1]))
    return ".".join(parts)


def _run_subdirs(path: Path) -> list[Path]:
    try:
        return sorted(p for p in Path(path).iterdir()
                      if p.is_dir() and (p / "summary.json").is_file())
    except OSError:
        return []


def is_sweep_dir(path: str | os.PathLike) -> bool:
    path = Path(path)
    return path.is_dir() and not (path / "summary.json").is_file() and bool(_run_subdirs(path))


@dataclass
class Reference:
    """Reference data points from a CSV file (columns ``x``, ``y``, optional ``yerr``; comment
    lines ``# field: NAME``, ``# label: TEXT``, ``# source: ...``)."""

    path: Path
    x: np.ndarray
    y: np.ndarray
    yerr: np.ndarray | None = None
    field: str | None = None
    label: str | None = None
    meta: dict[str, str] = dc_field(default_factory=dict)


def read_reference(path: str | os.PathLike) -> Reference:
    """Read a reference CSV (see :class:`Reference`)."""
    path = Path(path)
    if not path.is_file():
        raise PlotError(f"reference file {path} does not exist or is not a file")
    meta: dict[str, str] = {}
    for line in path.read_text().splitlines():
        m = re.match(r"\s*#\s*([A-Za-z_]+)\s*:\s*(.*?)\s*$", line)
        if m:
            meta[m.group(1).lower()] = m.group(2)
    cols = read_csv_columns(path)
    lower = {k.strip().lower(): k for k in cols}
    if "x" not in lower or "y" not in lower:
        raise PlotError(f"reference file {path} needs columns x and y (has: {', '.join(cols)})")
    x, y = cols[lower["x"]], cols[lower["y"]]
    if x.dtype.kind != "f" or y.dtype.kind != "f":
        raise PlotError(f"reference file {path}: columns x and y must be numbers")
    yerr = cols[lower["yerr"]] if "yerr" in lower else None
    return Reference(path, x, y, yerr, meta.get("field"), meta.get("label") or path.stem, meta)


class Sweep:
    """A directory of run directories that differ in one (or more) config values: the output of
    a series script (``table.csv``) or of ``heterofem sweep`` (``case_NNNN/``, ``sweep.csv``).

    ``runs`` are sorted by the swept parameter ``parameter`` (a dotted config key such as
    ``layers.1.thickness_nm``), whose values are ``x``; ``parameters`` lists every numeric config
    value that varies; ``groups()`` splits the runs by the other parameters of a grid sweep;
    ``table`` holds table.csv (or None), ``sweep_table`` sweep.csv (or None); ``skipped`` the
    subdirectories that are not complete runs, ``failed`` the runs that did not converge and
    the failed cases of sweep.csv.
    """

    def __init__(self, path: Path, runs: list[Run], skipped: list[str],
                 parameter: str | None = None):
        self.path = Path(path)
        self.skipped = skipped
        flat = [flat_scalars(r.config) for r in runs]
        keys = [k for k in flat[0] if all(k in f for f in flat)]
        self.parameters: dict[str, list[float]] = {
            k: [f[k] for f in flat] for k in keys if len({f[k] for f in flat}) > 1}
        table = self.path / "table.csv"
        self.table = read_csv_columns(table) if table.is_file() else None
        swept = self.path / "sweep.csv"
        self.sweep_table = read_csv_columns(swept) if swept.is_file() else None
        #: the keys ``heterofem sweep`` was given (sweep.csv's param.* columns), normalised
        self.swept_keys = [] if self.sweep_table is None else [
            _layer_index_key(c[len("param."):], runs[0].config)
            for c in self.sweep_table if c.startswith("param.")]
        if parameter is None:
            parameter = self._guess_parameter()
        else:
            parameter = _layer_index_key(parameter, runs[0].config)
        if parameter not in self.parameters:
            near = [k for k in self.parameters if k.endswith(parameter)]
            if len(near) == 1:
                parameter = near[0]
            else:
                raise PlotError(f"'{parameter}' does not vary across the runs in {self.path}; "
                                "varying: " + (", ".join(self.parameters) or "nothing"))
        self.parameter = parameter
        others = [self.parameters[k] for k in self._independent_others(parameter)]
        order = np.lexsort([np.asarray(o) for o in reversed(others)]
                           + [np.asarray(self.parameters[parameter])]) if others else \
            np.argsort(self.parameters[parameter], kind="stable")
        self.runs = [runs[i] for i in order]
        self.x = np.array([self.parameters[parameter][i] for i in order])
        self.failed = [r.path.name for r in self.runs if not r.converged]
        if self.sweep_table is not None and "status" in self.sweep_table:
            cases = self.sweep_table.get("case", np.array([""] * len(self.sweep_table["status"])))
            self.failed += [str(c) for c, st in zip(cases, self.sweep_table["status"])
                            if st == "failed" and str(c) not in self.failed]

    def __repr__(self) -> str:
        return f"Sweep({str(self.path)!r}: {len(self.runs)} runs over {self.parameter})"

    def _guess_parameter(self) -> str:
        if not self.parameters:
            raise PlotError(f"the {len(_run_subdirs(self.path))} run(s) in {self.path} do not "
                            "differ in any numeric config value; nothing to plot against")
        for key in self.swept_keys:  # heterofem sweep: the first --param that varies
            if key in self.parameters:
                return key
        if self.table is not None:  # the key the series script put first in table.csv
            first = next(iter(self.table))
            xs = self.table[first]
            for key, vals in self.parameters.items():
                if key.split(".")[-1] == first:
                    return key
            for key, vals in self.parameters.items():
                if xs.dtype.kind == "f" and len(xs) == len(vals) and \
                        np.allclose(sorted(xs), sorted(vals)):
                    return key
        for key in self.parameters:  # a thickness is the usual sweep
            if key.endswith("thickness_nm"):
                return key
        return next(iter(self.parameters))

    def _independent_others(self, parameter: str) -> list[str]:
        """The other varying keys that are not fixed by ``parameter`` (a grid sweep's other
        axes; a value that changes together with the parameter, as in a zipped sweep, is not)."""
        x = self.parameters[parameter]
        out = []
        for key, vals in self.parameters.items():
            if key == parameter:
                continue
            per_x: dict[float, set] = {}
            for xv, v in zip(x, vals):
                per_x.setdefault(xv, set()).add(v)
            if any(len(v) > 1 for v in per_x.values()):
                out.append(key)
        return out

    def groups(self) -> list[tuple[str, np.ndarray]]:
        """(label, indices into ``runs``) per combination of the other parameters of a grid
        sweep; one group labelled "" when only the parameter varies."""
        others = self._independent_others(self.parameter)
        if not others:
            return [("", np.arange(len(self.runs)))]
        flats = [flat_scalars(r.config) for r in self.runs]
        combos: dict[tuple, list[int]] = {}
        for i, f in enumerate(flats):
            combos.setdefault(tuple(f[k] for k in others), []).append(i)
        return [(", ".join(f"{k} = {v:g}" for k, v in zip(others, combo)), np.array(idx))
                for combo, idx in sorted(combos.items())]

    @property
    def parameter_label(self) -> str:
        key = self.parameter
        parts = key.split(".")
        label = key
        if parts[0] == "layers" and len(parts) > 2 and parts[1].isdigit():
            lay = self.runs[0].config["layers"][int(parts[1])]
            label = f"{key} ({lay['name']})"
        unit = unit_of(key)
        return f"{label} [{unit}]" if unit else label

    def scalar_names(self) -> list[str]:
        """Summary scalars (dotted paths) present in every run."""
        flats = [flat_scalars(r.summary) for r in self.runs]
        return [k for k in flats[0] if all(k in f for f in flats)]

    def resolve(self, name: str) -> tuple[str, str]:
        """('table', column) or ('summary', dotted path) for a quantity name: a table.csv column,
        a dotted summary path, or a unique ending of one (``max_displacement_pm``)."""
        if self.table is not None and name in self.table:
            return "table", name
        names = self.scalar_names()
        if name in names:
            return "summary", name
        ends = [k for k in names if k.endswith("." + name) or k.endswith(name)]
        if len(ends) == 1:
            return "summary", ends[0]
        hint = (f"it could be {', '.join(ends[:8])}" if ends else
                "table.csv columns: "
                + (", ".join(self.table) if self.table is not None else "none")
                + "; summary scalars e.g. " + ", ".join(self.default_quantities(8) or names[:8]))
        raise PlotError(f"no summary scalar or table column '{name}' in {self.path}; {hint}")

    def values(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of a quantity against the swept parameter (NaN where a run lacks it)."""
        kind, key = self.resolve(name)
        if kind == "table":
            first = next(iter(self.table))
            tx = np.asarray(self.table[first], dtype=float)
            if tx.shape != self.x.shape or not np.allclose(np.sort(tx), self.x):
                raise PlotError(f"table.csv's first column ({first}) is not the swept parameter "
                                f"{self.parameter} of the runs in {self.path}; plot summary "
                                "scalars instead (or choose --param)")
            return tx, np.asarray(self.table[key], dtype=float)
        ys = [flat_scalars(r.summary).get(key, np.nan) for r in self.runs]
        return self.x, np.array(ys, dtype=float)

    def default_quantities(self, limit: int = 6) -> list[str]:
        """table.csv's columns (but the first), else the physics summary scalars that vary."""
        if self.table is not None:
            cols = [c for c in list(self.table)[1:] if self.table[c].dtype.kind == "f"]
            if cols:
                return cols[:limit]
        skip = ("mesh.", "dofs", "time.", "pseudo_transient.", "newton_iterations", "dimension")
        out = []
        for k in self.scalar_names():
            if k.startswith(skip):
                continue
            vals = [flat_scalars(r.summary).get(k) for r in self.runs]
            if len({v for v in vals if v is not None}) > 1:
                out.append(k)
        return out[:limit]

    def problem_references(self) -> list[Reference]:
        """Reference CSVs the problem names: ``<config dir>/reference/<config stem>*.csv`` (and
        ``<run name>*.csv``), the config being the one in the first run's command line."""
        return problem_references(self.runs[0])


def problem_references(run: Run) -> list[Reference]:
    cmd = run.summary.get("command_line") or []
    config = None
    for i, arg in enumerate(cmd[:-1]):
        if arg == "run":
            config = Path(cmd[i + 1])
            break
    if config is None or not config.is_file():
        return []
    ref_dir = config.parent / "reference"
    if not ref_dir.is_dir():
        return []
    found = sorted(set(ref_dir.glob(f"{config.stem}*.csv")) | set(ref_dir.glob(f"{run.name}*.csv")))
    return [read_reference(p) for p in found]


def load_sweep(path: str | os.PathLike, parameter: str | None = None) -> Sweep:
    """Open a sweep directory: every subdirectory with a summary.json is a run; the swept
    parameter is detected from the runs' config.resolved.toml (or given, e.g.
    ``layers.1.thickness_nm``)."""
    path = Path(path)
    if not path.is_dir():
        raise PlotError(f"{path} does not exist" if not path.exists() else
                        f"{path} is not a directory")
    runs, skipped = [], []
    for sub in sorted(p for p in path.iterdir() if p.is_dir()):
        try:
            runs.append(load_run(sub))
        except PlotError as exc:
            if (sub / "summary.json").exists() or (sub / "config.resolved.toml").exists():
                skipped.append(f"{sub.name}: {exc}")
    if not runs:
        raise PlotError(f"{path} holds no heterofem run directories (subdirectories with "
                        "summary.json)" + (f"; skipped: {'; '.join(skipped)}" if skipped else ""))
    if len(runs) < 2:
        raise PlotError(f"{path} holds only one run ({runs[0].path.name}); a sweep needs two "
                        "or more")
    return Sweep(path, runs, skipped, parameter)
