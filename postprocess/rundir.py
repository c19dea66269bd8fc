"""One run directory (:class:`Run`, :func:`load_run`) and the fields along lines through it
(:func:`sample_points`, :func:`sample_line`).

Coordinates: a 1D run's field files hold z as the first coordinate, a 2D x-z run stores z as
the second (VTK y) coordinate, a 3D run is (x, y, z). :func:`sample_line` and
:meth:`Run.vtk_points` take physical coordinates (``(z,)``, ``(x, z)`` or ``(x, y, z)``)
and do the mapping.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from heterofem.postprocess.files import (
    _VTK_INTERNAL,
    PlotError,
    _pvd_datasets,
    _read_grid,
    _read_json,
    _read_toml,
    _run_subdirs,
    legacy_unit_from_suffix,
    read_csv_columns,
    read_units,
    summary_units,
)
from heterofem.postprocess.names import Columns, check_not_renamed


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
        an island: a terrace step moves an interface there), where the interface heights the
        solver wrote to summary.json (``interfaces``) decide; a run directory written before
        the solver wrote them is searched for the changes of ``layer_id`` along the line."""
        spans = [(lay, lay.z_bottom_nm, lay.z_top_nm) for lay in self.layers]
        if self.dimension == 1 or not self.config.get("mesh", {}).get("features"):
            return spans
        from_summary = self._spans_from_summary()
        if from_summary:
            return from_summary
        if not self.times:
            return spans
        try:
            return self._spans_from_fields() or spans
        except PlotError:
            return spans

    def _spans_from_summary(self) -> list[tuple[Layer, float, float]]:
        """The spans between the interface heights of summary.json (``interfaces``: ``{name:
        {z_nm, below, above}}``, bottom to top); [] where the summary has none (older runs)."""
        interfaces = self.summary.get("interfaces")
        by_name = {lay.name: lay for lay in self.layers}
        if not interfaces or not all(isinstance(v, dict) and {"z_nm", "below", "above"} <= set(v)
                                     and v["below"] in by_name and v["above"] in by_name
                                     for v in interfaces.values()):
            return []
        ordered = sorted(interfaces.values(), key=lambda v: float(v["z_nm"]))
        out, z0 = [], 0.0
        for entry in ordered:
            out.append((by_name[entry["below"]], z0, float(entry["z_nm"])))
            z0 = float(entry["z_nm"])
        out.append((by_name[ordered[-1]["above"]], z0, self.total_thickness_nm))
        return out

    def _spans_from_fields(self) -> list[tuple[Layer, float, float]]:
        """The spans from the fields' ``layer_id`` along the line: every change found on a
        fine grid, then bisected (to ~1e-9 of the height). For runs without ``interfaces``
        in summary.json."""
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
    @cached_property
    def units(self) -> dict[str, str]:
        """Name -> unit of everything this run wrote with a unit: the summary's numeric entries
        (dotted keys, summary.json's ``units``), the columns of timeseries.csv and profiles.csv
        (their ``.units.json`` sidecars) and the fields (summary.json's ``fields``). Units are
        pint strings; "1" is dimensionless. Empty for a run directory older than these."""
        out = summary_units(self.summary)
        for table in ("timeseries.csv", "profiles.csv"):
            out.update(read_units(self.path / table))
        out.update({c: str(m.get("unit", "")) for c, m in self.field_info.items()})
        return out

    @property
    def has_units(self) -> bool:
        """Whether the run wrote its units as data (False: an older run directory)."""
        return bool(summary_units(self.summary))

    def unit(self, name: str) -> str:
        """The unit of a summary key (dotted: ``work_function.work_function_eV``), a column of
        timeseries.csv or profiles.csv, or a field; "" when it has none. Read from the run's
        files; only an old run directory without units falls back on the name's suffix
        (:func:`~heterofem.postprocess.files.legacy_unit_from_suffix`)."""
        if name in self.units:
            return self.units[name]
        if self.has_units:
            check_not_renamed(name, PlotError)  # an old name (#24): say the new one
            return ""
        return legacy_unit_from_suffix(name)

    def label(self, column: str) -> str:
        """Axis label "name [unit]" of a column: the field's name and unit from summary.json,
        else the column and its unit (:meth:`unit`); no unit shown for a dimensionless one."""
        meta = self.field_info.get(column)
        name, unit = (meta["name"], meta["unit"]) if meta else (column, self.unit(column))
        return f"{name} [{unit}]" if unit not in ("1", "") else name

    def columns(self, name: str, available: Iterable[str] | None = None) -> list[str]:
        """Every column that ``name`` selects: the column itself, the field of that short name
        (``phi`` -> ``phi_V``), or the columns it prefixes (``P`` -> ``P_z_...``, ``P_x_...``)."""
        avail = list(available) if available is not None else list(self.field_info)
        if name in avail:
            return [name]
        by_name = [c for c in avail if self.field_info.get(c, {}).get("name") == name]
        if by_name:
            return by_name
        found = [c for c in avail if c.startswith(name + "_")]
        if not found:
            check_not_renamed(name, PlotError)  # an old name (#24): say the new one
        return found

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
        """timeseries.csv columns (t_s, dt_s, newton_iterations, ...), None for a steady run;
        an old column name (#24) raises a KeyError that names the new one."""
        path = self.path / "timeseries.csv"
        return Columns(read_csv_columns(path)) if path.is_file() else None

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
