"""Pictures of a run directory: line profiles along z, and PyVista maps for 2D/3D runs.

Everything renders off-screen (no display needed). Used by ``heterofem plot`` and ``make demo``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np


class PlotError(RuntimeError):
    pass


def read_profiles(run_dir: Path) -> dict[str, np.ndarray]:
    path = Path(run_dir) / "profiles.csv"
    if not path.is_file():
        raise PlotError(f"{run_dir} has no profiles.csv; is it a finished heterofem run directory?")
    with open(path) as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    cols = {}
    for j, name in enumerate(header):
        vals = [r[j] for r in body]
        try:
            cols[name] = np.array(vals, dtype=float)
        except ValueError:
            cols[name] = np.array(vals)
    return cols


def _layers(run_dir: Path) -> list[tuple[str, str, float, float]]:
    """(name, material, z_bottom, z_top) from the resolved config."""
    import tomllib

    cfg = tomllib.loads((Path(run_dir) / "config.resolved.toml").read_text())
    out, z = [], 0.0
    for lay in cfg["layers"]:
        out.append((lay["name"], lay["material"], z, z + lay["thickness_nm"]))
        z += lay["thickness_nm"]
    return out


def _labels(run_dir: Path) -> dict[str, str]:
    """Axis labels "name [unit]" per column, from the field metadata in summary.json."""
    meta = json.loads((Path(run_dir) / "summary.json").read_text()).get("fields", {})
    return {col: f"{m['name']} [{m['unit']}]" if m["unit"] not in ("1", "") else m["name"]
            for col, m in meta.items()}


def plot_profiles(run_dir: Path, out: Path, fields: list[str] | None = None) -> Path:
    """Every profile column against z, one panel each, layers shaded and labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = read_profiles(run_dir)
    names = [c for c in cols if c not in ("z_nm", "layer") and cols[c].dtype.kind == "f"]
    if fields:
        names = [c for c in names if any(c.startswith(f + "_") or c == f for f in fields)]
        if not names:
            raise PlotError(f"no profile column matches {fields}; columns: {', '.join(cols)}")
    fig, axes = plt.subplots(len(names), 1, figsize=(7, 2.2 * len(names) + 0.6), sharex=True,
                             squeeze=False)
    layers = _layers(run_dir)
    labels = _labels(run_dir)
    shades = plt.cm.Pastel1(np.linspace(0, 1, max(len(layers), 2)))
    for ax, name in zip(axes[:, 0], names):
        for (lname, mat, z0, z1), colour in zip(layers, shades):
            ax.axvspan(z0, z1, color=colour, alpha=0.5, lw=0)
        ax.plot(cols["z_nm"], cols[name], color="k", lw=1.4)
        ax.set_ylabel(labels.get(name, name))
    top = axes[0, 0]
    for lname, mat, z0, z1 in layers:
        top.annotate(f"{lname}\n({mat})", xy=((z0 + z1) / 2, 1.0), xycoords=("data", "axes fraction"),
                     ha="center", va="bottom", fontsize=8)
    axes[-1, 0].set_xlabel("z [nm]")
    fig.tight_layout()
    fig.savefig(out, dpi=130)
    plt.close(fig)
    return Path(out)


def plot_map(run_dir: Path, out: Path, field: str = "phi") -> Path:
    """Off-screen PyVista rendering of a field of a 2D/3D run, with layer outlines."""
    import pyvista as pv

    _quiet_vtk()
    grid = load_fields(run_dir)
    array = next((n for n in grid.array_names if n == field or n.startswith(field + "_")), None)
    if array is None:
        raise PlotError(f"no field '{field}' in {run_dir}/fields.pvd; arrays: {', '.join(grid.array_names)}")
    plotter = pv.Plotter(off_screen=True, window_size=(1000, 700))
    plotter.add_mesh(grid, scalars=array, cmap="viridis",
                     scalar_bar_args={"title": _labels(run_dir).get(array, array), "vertical": True})
    if "layer_id" in grid.array_names:
        cells = grid.cell_data["layer_id"]
        for lid in np.unique(cells):
            part = grid.extract_cells(np.flatnonzero(cells == lid))
            plotter.add_mesh(part.extract_feature_edges(boundary_edges=True, feature_edges=False,
                                                        manifold_edges=False),
                             color="white", line_width=2)
    if grid.bounds[5] - grid.bounds[4] < 1e-12:  # 2D x-z run, stored as x-y
        plotter.view_xy()
    plotter.show_bounds(xtitle="x [nm]", ytitle="z [nm]" if grid.bounds[5] == grid.bounds[4] else "y [nm]",
                        ztitle="z [nm]")
    plotter.screenshot(str(out))
    plotter.close()
    return Path(out)


def _quiet_vtk() -> None:
    """Off-screen rendering: VTK tries an X display first and logs a warning; silence it."""
    from vtkmodules.vtkCommonCore import vtkLogger

    vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_OFF)


def load_fields(run_dir: Path):
    """The last time step of ``fields.pvd`` as one PyVista UnstructuredGrid (point and cell data)."""
    import pyvista as pv

    path = Path(run_dir) / "fields.pvd"
    if not path.is_file():
        raise PlotError(f"{run_dir} has no fields.pvd; run with [output] fields = true")
    reader = pv.get_reader(str(path))
    reader.set_active_time_point(len(reader.time_values) - 1)
    data = reader.read()
    blocks = [b for b in data.recursive_iterator()] if isinstance(data, pv.MultiBlock) else [data]
    merged = blocks[0] if len(blocks) == 1 else pv.merge(blocks)
    return merged


def plot_run(run_dir: Path, field: str | None = None, out: Path | None = None) -> list[Path]:
    run_dir = Path(run_dir)
    if not (run_dir / "summary.json").is_file():
        raise PlotError(f"{run_dir} is not a heterofem run directory (no summary.json)")
    summary = json.loads((run_dir / "summary.json").read_text())
    if not summary.get("converged", False):
        raise PlotError(f"the run in {run_dir} did not converge; nothing to draw")
    written = [plot_profiles(run_dir, out or run_dir / "profiles.png",
                             [field] if field else None)]
    if summary.get("dimension", 1) >= 2 and (run_dir / "fields.pvd").is_file():
        written.append(plot_map(run_dir, run_dir / f"{field or 'phi'}_map.png", field or "phi"))
    return written
