"""Reading the files of a run directory: summary.json, CSV tables, config.resolved.toml and
the VTK field files (fields.pvd, .pvtu pieces); the error every reader raises (:class:`PlotError`).

Nothing here needs MPI or a display; pyvista is imported only when a field file is read.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

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


def read_csv_columns(path: Path, keep_integers: bool = False) -> dict[str, np.ndarray]:
    """A CSV file with a header row as columns: float arrays where every value is a number,
    string arrays otherwise (e.g. the ``layer`` column). Lines starting with ``#`` are skipped.
    ``keep_integers``: a column of integers (a count: steps, iterations, cells) is an integer
    array."""
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
        if keep_integers and all(re.fullmatch(r"[+-]?\d+", v.strip()) for v in vals):
            cols[name] = np.array([int(v) for v in vals], dtype=np.int64)
            continue
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


#: the ``units`` map of summary.json (dotted key -> unit), written since issue #24
UNITS_KEY = "units"


def units_sidecar(csv_path: Path) -> Path:
    """The units sidecar of a table: ``profiles.csv`` -> ``profiles.units.json``."""
    csv_path = Path(csv_path)
    return csv_path.with_name(f"{csv_path.stem}.units.json")


def read_units(csv_path: Path) -> dict[str, str]:
    """column -> unit of a CSV table, from its sidecar (``profiles.units.json``); empty when
    there is none (a run directory written before units were data)."""
    path = units_sidecar(csv_path)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise PlotError(f"{path} is not valid JSON ({exc.msg}); the run directory is "
                        "damaged") from None
    return {str(k): ("" if v is None else str(v)) for k, v in data.items()}


def summary_units(summary: dict) -> dict[str, str]:
    """dotted key -> unit of every numeric summary entry (summary.json's ``units`` map); empty
    for a summary written before units were data."""
    units = summary.get(UNITS_KEY)
    if not isinstance(units, dict):
        return {}
    return {str(k): ("" if v is None else str(v)) for k, v in units.items()}


def legacy_unit_from_suffix(name: str) -> str:
    """OLD RUN DIRECTORIES ONLY (no ``units`` map, no ``*.units.json``): the unit guessed from
    a name's suffix (``thickness_nm`` -> ``nm``). Suffixes are ambiguous (``_m2`` is m^-2 in
    ``inventory_m2`` and m^2 in ``diffusivity_m2_s``); new runs carry their units as data:
    use :meth:`heterofem.postprocess.rundir.Run.unit`."""
    units = {"_nm": "nm", "_pm": "pm", "_V": "V", "_eV": "eV", "_K": "K", "_s": "s",
             "_GPa": "GPa", "_Pa": "Pa", "_mTorr": "mTorr", "_C_m2": "C/m^2", "_C_per_m2": "C/m^2",
             "_C_m3": "C/m^3", "_C_per_m3": "C/m^3", "_J_m2": "J/m^2", "_m2": "m^-2",
             "_per_m3": "m^-3", "_J_m_C2": "J m/C^2", "_V_per_m": "V/m", "_m_s": "m/s",
             # the `_per_` scheme (#24; docs/outputs.md): study tables' columns use it too
             "_per_m2": "m^-2", "_J_per_m2": "J/m^2", "_J_per_m3": "J/m^3",
             "_nm_per_s": "nm/s", "_m2_per_s": "m^2/s", "_m3_per_J_s": "m^3/(J*s)",
             "_J_m_per_C2": "J*m/C^2"}
    for suffix in sorted(units, key=len, reverse=True):
        if name.endswith(suffix):
            return units[suffix]
    return ""


#: kept importable while postprocess modules move to :meth:`Run.unit` (old run directories only)
unit_of = legacy_unit_from_suffix


# -- field files ----------------------------------------------------------------------------------
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


def _run_subdirs(path: Path) -> list[Path]:
    try:
        return sorted(p for p in Path(path).iterdir()
                      if p.is_dir() and (p / "summary.json").is_file())
    except OSError:
        return []
