"""The KPFM-like surface-potential map of a 2D/3D run: ``surface_potential.csv`` and its picture.

The solver (:mod:`heterofem.solver.workfunction`) evaluates the potential along a line (2D)
or over a plane (3D) at the probe height above the surface and hands the numbers here; this
module writes them as ``surface_potential.csv`` (columns ``x_nm`` [, ``y_nm``], ``phi_V``,
``work_function_eV``) and draws ``surface_potential.png``. :func:`plot_surface_potential`
redraws the picture from a run directory's CSV.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Mapping

import numpy as np

from heterofem.postprocess.drawing import _pyplot
from heterofem.postprocess.files import PlotError, read_csv_columns

CSV_NAME = "surface_potential.csv"
PNG_NAME = "surface_potential.png"


def write_surface_csv(path: str | os.PathLike, columns: Mapping[str, np.ndarray]) -> Path:
    """Columns of equal length as CSV, numbers with 12 significant digits (the format of the
    run directory's other tables); written to a temporary file, then renamed, so a reader
    never sees half a file. Call it on one MPI rank."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(list(columns))
        for row in zip(*[np.asarray(c) for c in columns.values()]):
            writer.writerow([x if isinstance(x, str) else f"{x:.12g}" for x in row])
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def draw_surface_map(columns: Mapping[str, np.ndarray], dimension: int, z_nm: float,
                     path: str | os.PathLike) -> Path:
    """The local work function along x (2D, a line) or over x-y (3D, an image on the
    square grid of the samples) at the probe height ``z_nm``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5 if dimension == 2 else 5))
    if dimension == 2:
        ax.plot(columns["x_nm"], columns["work_function_eV"], color="k")
        ax.set_xlabel("x [nm]")
        ax.set_ylabel("local work function [eV]")
    else:
        n = int(round(np.sqrt(len(columns["x_nm"]))))
        x, y = np.asarray(columns["x_nm"]), np.asarray(columns["y_nm"])
        img = ax.imshow(np.asarray(columns["work_function_eV"]).reshape(n, n).T, origin="lower",
                        extent=[x.min(), x.max(), y.min(), y.max()], cmap="viridis")
        fig.colorbar(img, ax=ax, label="local work function [eV]")
        ax.set_xlabel("x [nm]")
        ax.set_ylabel("y [nm]")
    ax.set_title(f"KPFM-like surface potential map at z = {z_nm:.3g} nm")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def write_surface_map(out: str | os.PathLike, columns: Mapping[str, np.ndarray],
                      dimension: int, z_nm: float) -> tuple[Path, Path]:
    """``surface_potential.csv`` and ``surface_potential.png`` in the run directory ``out``
    (what a 2D/3D run with a work function writes). Call it on one MPI rank."""
    out = Path(out)
    return (write_surface_csv(out / CSV_NAME, columns),
            draw_surface_map(columns, dimension, z_nm, out / PNG_NAME))


def plot_surface_potential(run_dir: str | os.PathLike, out: str | os.PathLike | None = None
                           ) -> Path:
    """Redraw a run directory's surface-potential map from its ``surface_potential.csv`` (to
    ``out``, default the run's ``surface_potential.png``); the probe height comes from
    summary.json (``work_function.surface_map.probe_z_nm``)."""
    from heterofem.postprocess.rundir import load_run

    run = load_run(run_dir)
    path = run.path / CSV_NAME
    if not path.is_file():
        raise PlotError(f"{run.path} has no {CSV_NAME}: only 2D/3D runs with a work function "
                        "(a vacuum layer on top) write one")
    columns = read_csv_columns(path)
    z = run.summary.get("work_function", {}).get("surface_map", {}).get("probe_z_nm", np.nan)
    return draw_surface_map(columns, run.dimension, float(z), out or run.path / PNG_NAME)
