"""PyVista maps of a 2D run (x-z) or a 3D run (two vertical slices through the centre):
:func:`render_map` (an image array) and :func:`plot_map` (a file)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from heterofem.postprocess.drawing import MAP_FORMATS, _check_suffix, _log_scale, _title
from heterofem.postprocess.files import PlotError, quiet_vtk
from heterofem.postprocess.rundir import Run, load_run

# -- maps ------------------------------------------------------------------------------------------
def _default_map_field(run: Run, names: Sequence[str]) -> str:
    if "phi_V" in names:
        return "phi_V"
    point = [c for c in names if run.field_info.get(c, {}).get("kind") == "point"]
    return (point or [c for c in names if c != "layer_id"] or list(names))[0]


def _displacement(grid, run: Run) -> np.ndarray | None:
    comps = {"x": "u_x_nm", "y": "u_y_nm", "z": "u_z_nm"}
    if run.dimension == 2:
        want = [comps["x"], comps["z"]]
    elif run.dimension == 3:
        want = [comps["x"], comps["y"], comps["z"]]
    else:
        return None
    if not all(w in grid.point_data for w in want):
        return None
    vec = np.zeros((grid.n_points, 3))
    for j, w in enumerate(want):
        vec[:, j] = grid.point_data[w]
    return vec


def _outline_edges(grid, run: Run, planes=()):
    """Layer outlines: the boundary edges of each layer's region (2D), or of each layer's cut by
    the slice planes (3D)."""
    import pyvista as pv

    if "layer_id" not in grid.cell_data:
        return None
    ids = np.asarray(grid.cell_data["layer_id"])
    pieces = []
    for lid in np.unique(ids):
        part = grid.extract_cells(np.flatnonzero(ids == lid))
        surfaces = [part.slice(normal=n, origin=o) for n, o in planes] if planes else [part]
        for s in surfaces:
            if s.n_cells == 0:
                continue
            edges = s.extract_surface(algorithm="dataset_surface").extract_feature_edges(
                boundary_edges=True, feature_edges=False, manifold_edges=False,
                non_manifold_edges=False)
            if edges.n_cells:
                pieces.append(edges)
    return pv.merge(pieces) if pieces else None


def render_map(run: Run | str | os.PathLike, field: str | None = None, time: float | None = None,
               warp: str | float = "auto", clim: tuple[float, float] | None = None,
               window_size: tuple[int, int] = (1000, 700), title: str | None = None):
    """An off-screen ``pyvista.Plotter`` showing one field of a 2D or 3D run, and a dict
    describing it (``array``, ``association``, ``clim``, ``log``, ``warp``, ``time``).

    2D: the x-z plane seen from the front, flat colours (no lighting, so a pixel's colour is the
    colour map's colour of the value there), layer outlines, layer names. 3D: two vertical
    slices through the lateral centre (x-z and y-z) with the layer outlines on them, the box
    outline, an isometric view. ``warp``: "auto" (by the displacement where the run has one),
    "displacement", "scalar" (2D: the field as height), "none", or a number (displacement
    scale factor). The colour range is the field's min/max over the whole mesh, or ``clim``.
    The caller screenshots and closes the plotter (see :func:`plot_map`).
    """
    import pyvista as pv

    quiet_vtk()
    run = load_run(run)
    if run.dimension == 1:
        raise PlotError(f"{run.path} is a 1D run; maps are for 2D and 3D runs (use the profiles)")
    grid = run.fields(time)
    names = [n for n in grid.array_names]
    array = run.column(field, names) if field else _default_map_field(run, names)
    association = "point" if array in grid.point_data else "cell"
    values = np.asarray(grid.point_data[array] if association == "point" else grid.cell_data[array],
                        dtype=float)
    if values.ndim > 1:
        raise PlotError(f"'{array}' has {values.shape[1]} components; draw one component")
    use_log = _log_scale(values) if clim is None else bool(clim[0] > 0 and clim[1] / clim[0] > 1e3)
    lo, hi = _colour_range(values, clim)
    extent = max(grid.bounds[1] - grid.bounds[0], grid.bounds[3] - grid.bounds[2],
                 grid.bounds[5] - grid.bounds[4])
    mesh, warp_text = _warped(grid, run, values, association, warp, extent, lo, hi)

    label = run.label(array) + (" (log)" if use_log else "")
    plotter = pv.Plotter(off_screen=True, window_size=list(window_size))
    plotter.set_background("white")
    bar = dict(title=label, vertical=True, position_x=0.86, position_y=0.15, height=0.7,
               width=0.06, fmt="%.3g", color="black", title_font_size=16, label_font_size=13)
    three_d = run.dimension == 3
    planes = []
    if three_d:
        cx, cy = run.lateral_centre_nm
        planes = [((0, 1, 0), (cx, cy, 0.0)), ((1, 0, 0), (cx, cy, 0.0))]
        shown = pv.merge([mesh.slice(normal=n, origin=o) for n, o in planes])
        plotter.add_mesh(mesh.outline(), color="black", line_width=1)
    else:
        shown = mesh
    scalars = array
    plotter.add_mesh(shown, scalars=scalars, preference=association, cmap="viridis",
                     clim=(lo, hi), log_scale=use_log, lighting=warp == "scalar",
                     scalar_bar_args=bar, show_scalar_bar=True)
    edges = _outline_edges(mesh, run, planes)
    if edges is not None:
        if warp == "scalar":  # lift the outlines onto the surface
            edges = edges.sample(mesh)
        plotter.add_mesh(edges, color="white", line_width=3.0, lighting=False)
        plotter.add_mesh(edges, color="black", line_width=1.0, lighting=False)
    if run.layers and warp != "scalar":
        _add_layer_names(plotter, run, grid, extent)
    heading = title if title is not None else _title(run, time, where=False)
    if warp_text:
        heading += f" ({warp_text})"
    plotter.add_text(heading, position="upper_left", font_size=10, color="black")
    _set_view(plotter, three_d, warp, label)
    info = {"array": array, "association": association, "clim": (lo, hi), "log": use_log,
            "warp": warp_text or "none", "time": run.times[run.time_index(time)], "label": label}
    return plotter, info


def _colour_range(values: np.ndarray, clim: tuple[float, float] | None) -> tuple[float, float]:
    """The field's min/max (or ``clim``), widened a little for a constant field (which still
    gets a colour bar)."""
    if clim is None:
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    else:
        lo, hi = map(float, clim)
    if hi <= lo:
        pad = abs(lo) * 1e-6 or 1e-12
        lo, hi = lo - pad, hi + pad
    return lo, hi


def _warped(grid, run: Run, values: np.ndarray, association: str, warp, extent: float,
            lo: float, hi: float):
    """(the mesh to draw, a note on the warp): the grid moved by the displacement (``warp``
    "auto"/"displacement" or a scale factor), lifted by the values ("scalar", 2D point
    fields), or as it is."""
    mesh = grid.copy(deep=False)
    warp_text = ""
    disp = _displacement(grid, run)
    if warp == "displacement" and disp is None:
        raise PlotError(f"{run.path} has no displacement fields (u_x_nm, u_z_nm) to warp by")
    if isinstance(warp, (int, float)) and not isinstance(warp, bool) or \
            (warp in ("auto", "displacement") and disp is not None):
        umax = float(np.max(np.linalg.norm(disp, axis=1))) if disp is not None else 0.0
        if umax > 0:
            factor = float(warp) if isinstance(warp, (int, float)) else _nice(0.04 * extent / umax)
            mesh.points = np.asarray(grid.points) + factor * disp
            warp_text = f"displacement x {factor:g}"
    elif warp == "scalar":
        if run.dimension != 2 or association != "point":
            raise PlotError("warp = 'scalar' is for a point field of a 2D run")
        factor = 0.3 * extent / (hi - lo)
        pts = np.asarray(grid.points).copy()
        pts[:, 2] = (values - lo) * factor
        mesh.points = pts
        warp_text = "height = value"
    elif warp not in ("auto", "none", None, "displacement"):
        raise PlotError(f"warp must be auto, none, displacement, scalar or a number, not {warp!r}")
    return mesh, warp_text


def _add_layer_names(plotter, run: Run, grid, extent: float) -> None:
    """The layer names at the left edge, at mid-height of each layer."""
    pts, texts = [], []
    for lay in run.layers:
        zc = (lay.z_bottom_nm + lay.z_top_nm) / 2
        p = [grid.bounds[0] + 0.02 * extent, zc, 0.0] if run.dimension != 3 else \
            [grid.bounds[0], run.lateral_centre_nm[1], zc]
        pts.append(p)
        texts.append(lay.name)
    plotter.add_point_labels(np.array(pts), texts, font_size=11, show_points=False,
                             shape_opacity=0.45, always_visible=True, text_color="black",
                             shape_color="white", margin=2)


def _set_view(plotter, three_d: bool, warp, label: str) -> None:
    """The camera: 3D from the front left a little above (the open corner of the two slices);
    a 2D map lifted by its values seen tilted from the front; a flat 2D map face on."""
    if three_d:
        plotter.view_xz()
        plotter.camera.azimuth = -40.0
        plotter.camera.elevation = 18.0
        plotter.add_axes(color="black", xlabel="x", ylabel="y", zlabel="z")
        plotter.reset_camera()
        plotter.camera.zoom(0.9)
    elif warp == "scalar":
        plotter.view_xy()
        plotter.camera.elevation = -60.0
        plotter.camera.azimuth = -25.0
        plotter.reset_camera()
        plotter.show_bounds(xtitle="x [nm]", ytitle="z [nm]", ztitle=f"height ~ {label}",
                            color="black", font_size=9)
    else:
        plotter.view_xy()
        plotter.enable_parallel_projection()
        plotter.show_bounds(xtitle="x [nm]", ytitle="z [nm]", color="black", font_size=10,
                            location="outer")
        plotter.camera.zoom(0.95)


def _nice(x: float) -> float:
    """A round number (1, 2, 5 x 10^k) not above x."""
    if x <= 0 or not np.isfinite(x):
        return 1.0
    k = np.floor(np.log10(x))
    m = x / 10 ** k
    return float((5 if m >= 5 else 2 if m >= 2 else 1) * 10 ** k)


def plot_map(run: Run | str | os.PathLike, out: str | os.PathLike, field: str | None = "phi",
             time: float | None = None, warp: str | float = "auto") -> Path:
    """Off-screen PyVista picture of a field of a 2D/3D run (see :func:`render_map`) as PNG."""
    out = Path(out)
    if out.suffix.lower() not in MAP_FORMATS:
        out = out.with_suffix(".png")
    out = _check_suffix(out, MAP_FORMATS, "a map")
    plotter, _ = render_map(run, field, time=time, warp=warp)
    try:
        plotter.screenshot(str(out))
    finally:
        plotter.close()
    return out
