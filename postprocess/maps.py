"""PyVista maps of a 2D run (x-z) or a 3D run (two vertical slices through the centre):
:func:`render_map` (an image array) and :func:`plot_map` (a file)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from heterofem.postprocess.drawing import LINE_FORMATS, MAP_FORMATS, _check_suffix, _log_scale, _title
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
               warp: str | float = "none", clim: tuple[float, float] | None = None,
               window_size: tuple[int, int] = (1000, 700), title: str | None = None,
               limits: str = "robust"):
    """An off-screen ``pyvista.Plotter`` showing one field of a 2D or 3D run, and a dict
    describing it (``array``, ``association``, ``clim``, ``log``, ``warp``, ``time``).

    2D: the x-z plane seen from the front, flat colours (no lighting, so a pixel's colour is the
    colour map's colour of the value there), layer outlines, layer names. 3D: two vertical
    slices through the lateral centre (x-z and y-z) with the layer outlines on them, the box
    outline, an isometric view. ``warp``: "none" (the default), "auto" (by the displacement
    where the run has one), "displacement", "scalar" (2D: the field as height), or a number
    (displacement scale factor). The colour range (``clim``, else ``limits``: "robust" or
    "minmax", see :func:`heterofem.postprocess.style.colour_limits`) is symmetric about zero
    with a diverging map for a signed field.
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
    from heterofem.postprocess.style import colour_limits, colour_map, is_signed

    meta_name = run.field_info.get(array, {}).get("name", array)
    signed = is_signed(meta_name, values)
    cmap = colour_map(signed)
    use_log = not signed and (_log_scale(values) if clim is None else
                              bool(clim[0] > 0 and clim[1] / clim[0] > 1e3))
    lo, hi = _colour_range(values, clim) if clim is not None or use_log else \
        colour_limits(values, signed, robust=limits != "minmax")
    extent = max(grid.bounds[1] - grid.bounds[0], grid.bounds[3] - grid.bounds[2],
                 grid.bounds[5] - grid.bounds[4])
    mesh, warp_text = _warped(grid, run, values, association, warp, extent, lo, hi)

    label = run.label(array) + (" (log)" if use_log else "")
    plotter = pv.Plotter(off_screen=True, window_size=list(window_size))
    plotter.set_background("white")
    bar = dict(title=label + "\n", vertical=True, position_x=0.84, position_y=0.12, height=0.66,
               width=0.05, fmt="%.3g", color="black", title_font_size=14, label_font_size=12,
               n_labels=5)
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
    plotter.add_mesh(shown, scalars=scalars, preference=association, cmap=cmap,
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
            "warp": warp_text or "none", "time": run.times[run.time_index(time)], "label": label,
            "cmap": cmap}
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
             time: float | None = None, warp: str | float = "none", limits: str = "robust"
             ) -> Path:
    """One field of a 2D/3D run to ``out``, in the format of its suffix (.png, .svg, .pdf, ...).
    A flat 2D map is drawn by :func:`draw_map_2d` (matplotlib: vector formats stay vector,
    the colour field rasterized inside); a 3D run or a warped map (``warp`` other than
    "none") is rendered with PyVista (:func:`render_map`), its screenshot placed in the file."""
    out = _check_suffix(Path(out), tuple(sorted(set(LINE_FORMATS + MAP_FORMATS))), "a map")
    run = load_run(run)
    if run.dimension == 2 and warp in ("none", None):
        return draw_map_2d(run, out, field, time, limits)[0]
    plotter, _ = render_map(run, field, time=time, warp=warp, limits=limits)
    try:
        if out.suffix.lower() in MAP_FORMATS:
            plotter.screenshot(str(out))
            return out
        image = np.asarray(plotter.screenshot(return_img=True))
    finally:
        plotter.close()
    from heterofem.postprocess.style import journal_style

    with journal_style() as plt:
        h, w = image.shape[:2]
        fig = plt.figure(figsize=(w / 200, h / 200))
        fig.figimage(image, resize=True)
        fig.savefig(out, dpi=200, bbox_inches=None)
        plt.close(fig)
    return out


# -- 2D maps with matplotlib (any format, vector or raster) ----------------------------------------
def _triangles(grid) -> np.ndarray | None:
    """The cells of a 2D grid as (n, 3) point indices, None unless they are all triangles."""
    types = np.asarray(grid.celltypes)
    conn = np.asarray(grid.cell_connectivity)
    # VTK_TRIANGLE or a degree-1 VTK_LAGRANGE_TRIANGLE (what DOLFINx writes)
    if types.size == 0 or not np.all(np.isin(types, (5, 69))) or conn.size != 3 * types.size:
        return None
    return conn.reshape(-1, 3)


def layer_edges(tris: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The edges (pairs of point indices) between triangles of different ``ids``: the layer
    outlines inside the mesh."""
    edges = np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), axis=1)
    owner = np.tile(ids, 3)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    e, o = edges[order], owner[order]
    same = np.all(e[1:] == e[:-1], axis=1) & (o[1:] != o[:-1])
    return e[1:][same]


def _growth_view(run: Run, grid, tris: np.ndarray, array: str, values: np.ndarray,
                 association: str) -> tuple[np.ndarray, np.ndarray]:
    """(values, triangle mask) of a growth run's map: the film not yet deposited is masked
    (not material), and xi is 1 in the layers that are not grown (the substrate and the
    template are crystals)."""
    mask = np.zeros(len(tris), dtype=bool)
    grown = set(run.config.get("crystallization", {}).get("layers", []))
    if not grown or "layer_id" not in grid.cell_data:
        return values, mask
    ids = np.asarray(grid.cell_data["layer_id"]).astype(int)
    by_id = {int(lay.tag): lay for lay in run.layers if lay.tag is not None}
    in_grown = np.array([by_id.get(i) is not None and by_id[i].name in grown for i in ids])
    solid = np.array([by_id.get(i) is not None and by_id[i].material != "vacuum" for i in ids])
    if "deposited" in grid.point_data:
        # a triangle is material once one of its corners is deposited (the corners on the
        # template below carry deposited = 0)
        dep = np.asarray(grid.point_data["deposited"], dtype=float)[tris].max(axis=1)
        mask = in_grown & (dep < 0.5)
    if run.field_info.get(array, {}).get("name") == "xi":
        values = values.copy()
        crystal = solid & ~in_grown
        if association == "point":
            values[np.unique(tris[crystal])] = 1.0
        else:
            values[crystal] = 1.0
    return values, mask


def _map_norm(name: str, values: np.ndarray, limits: str):
    """(norm, colour map, extend) of a map: log for positive values over three decades,
    diverging and zero-centred for signed values, robust (percentile) or min/max limits."""
    from matplotlib.colors import LogNorm, Normalize

    from heterofem.postprocess.style import (FIXED_LIMITS, NONNEGATIVE, colour_limits,
                                             colour_map, is_signed)

    robust = limits != "minmax"
    finite = values[np.isfinite(values)]
    if name in FIXED_LIMITS:  # a fraction: its whole range, whatever the run reached
        lo, hi = FIXED_LIMITS[name]
        return Normalize(vmin=lo, vmax=hi), colour_map(False), "neither"
    signed = is_signed(name, finite)
    lo, hi = colour_limits(finite, signed, robust)
    if name in NONNEGATIVE and finite.size and _log_scale(finite[finite > 0]) and \
            np.mean(finite <= 0) < 0.05:  # a projection's zeros at an interface stay linear-free
        finite = finite[finite > 0]
    if not signed and _log_scale(finite):
        pos = finite[finite > 0]
        lo, hi = (np.percentile(pos, [1, 99]) if robust else (pos.min(), pos.max()))
        lo = max(lo, hi * 1e-6) if robust else lo  # interface dips do not set the scale
        norm = LogNorm(vmin=float(lo), vmax=float(max(hi, lo * 1.0001)))
    else:
        norm = Normalize(vmin=lo, vmax=hi)
    tol = 1e-9 * (abs(norm.vmax) + abs(norm.vmin))
    below, above = finite.min() < norm.vmin - tol, finite.max() > norm.vmax + tol
    extend = {(True, True): "both", (True, False): "min", (False, True): "max"}.get(
        (bool(below), bool(above)), "neither")
    return norm, colour_map(signed), extend


def draw_map_2d(run: Run | str | os.PathLike, out: str | os.PathLike, field: str | None = None,
                time: float | None = None, limits: str = "robust",
                clim: tuple[float, float] | None = None, title: str | None = None,
                dpi: float | None = None) -> tuple[Path, dict]:
    """long: one field of a 2D run as a flat x-z map with matplotlib (any format: PNG, SVG,
    PDF, ...): Gouraud-shaded point fields, flat cell fields, layer outlines and names, a colour
    bar with the unit (diverging and zero-centred for signed fields; ``limits`` "robust"
    (1st-99th percentile, the bar extended past them) or "minmax"); in a growth run the
    not-yet-deposited film is left blank and the crystallization front (xi = 1/2) drawn.
    ``out``: a file (its suffix picks the format) or a binary stream (PNG); ``clim`` fixes the
    colour range (an animation's frames). Returns the file and a dict (``array``, ``clim``,
    ``cmap``, ``log``, ``pixel``: (x, z) in nm -> (row, column) of the picture)."""
    import matplotlib.tri as mtri

    from heterofem.postprocess.style import (SINGLE_COLUMN_IN, field_label, journal_style,
                                             tick_formatter)

    run = load_run(run)
    if run.dimension != 2:
        raise PlotError(f"{run.path} is a {run.dimension}D run; draw_map_2d is for 2D runs")
    stream = hasattr(out, "write")  # a binary stream gets a PNG
    out = out if stream else Path(out)
    grid = run.fields(time)
    tris = _triangles(grid)
    if tris is None:
        raise PlotError(f"{run.path}: the field file's cells are not triangles")
    names = list(grid.array_names)
    array = run.column(field, names) if field else _default_map_field(run, names)
    association = "point" if array in grid.point_data else "cell"
    values = np.asarray(grid[array], dtype=float)
    if values.ndim > 1:
        raise PlotError(f"'{array}' has {values.shape[1]} components; draw one component")
    values, mask = _growth_view(run, grid, tris, array, values, association)
    pts = np.asarray(grid.points)
    tri = mtri.Triangulation(pts[:, 0], pts[:, 1], tris, mask=mask if mask.any() else None)
    shown = values if association == "point" else values[~mask]
    meta = run.field_info.get(array, {"name": array, "unit": "1"})
    norm, cmap, extend = _map_norm(meta["name"], shown, limits)
    if clim is not None:  # one colour range (and map) for all frames of an animation
        from heterofem.postprocess.style import colour_map

        norm.vmin, norm.vmax = map(float, clim)
        cmap = colour_map(clim[0] < 0 < clim[1] and abs(clim[0] + clim[1]) <= 1e-12 * clim[1])
        extend = "neither"
    log = type(norm).__name__ == "LogNorm"
    label, factor = field_label(meta["name"], meta["unit"], None if log else shown)
    with journal_style() as plt:
        width = SINGLE_COLUMN_IN
        x0, x1, z0, z1 = grid.bounds[:4]
        # the map takes ~0.62 of the width (labels and colour bar the rest); title and x label
        # ~0.75 in: the figure as tall as the equal-aspect map needs, little blank above/below
        fig, ax = plt.subplots(figsize=(width, min(1.6 * width, width * (z1 - z0) / (x1 - x0)
                                                   * 0.62 + 0.75)), layout="constrained")
        if not log:
            norm.vmin, norm.vmax = norm.vmin * factor, norm.vmax * factor
        v = values * (1.0 if log else factor)
        if log:  # a zero or an undershoot of a positive field: the low end, not a hole
            v = np.where(v > 0, v, 0.5 * norm.vmin)
        if association == "point":
            img = ax.tripcolor(tri, v, shading="gouraud", cmap=cmap, norm=norm, rasterized=True)
        else:
            img = ax.tripcolor(tri, facecolors=v, cmap=cmap, norm=norm, rasterized=True)
        _outline_layers(ax, run, grid, tris, pts)
        if "xi" in grid.point_data and "deposited" in grid.point_data:
            xi, _ = _growth_view(run, grid, tris, run.column("xi", names),
                                 np.asarray(grid.point_data["xi"], dtype=float), "point")
            ax.tricontour(tri, xi, levels=[0.5], colors="tab:cyan", linewidths=0.9)
        # the bar as tall as the map (an inset of the equal-aspect axes; a bar beside the
        # axes box would take the figure's height)
        cbar = fig.colorbar(img, cax=ax.inset_axes([1.03, 0.0, 0.045, 1.0]), extend=extend)
        cbar.set_label(label)
        if not log:
            cbar.ax.yaxis.set_major_formatter(tick_formatter())
        ax.set_aspect("equal")
        ax.set_xlim(x0, x1)
        ax.set_ylim(z0, z1)
        ax.set_xlabel("x (nm)")
        ax.set_ylabel("z (nm)")
        ax.tick_params(which="both", direction="out", top=False, right=False)
        ax.set_title(title if title is not None else _title(run, time, where=False), fontsize=6.5)
        dpi = dpi or plt.rcParams["savefig.dpi"]
        to_pixel = _pixel_mapping(fig, ax, dpi)
        fig.savefig(out, bbox_inches=fig.bbox_inches, dpi=dpi,  # uncropped: pixels known
                    **({"format": "png"} if stream else {}))
        plt.close(fig)
    info = {"array": array, "association": association, "cmap": cmap, "log": log,
            "pixel": to_pixel,
            "clim": (norm.vmin / (1 if log else factor), norm.vmax / (1 if log else factor))}
    return out, info


def _pixel_mapping(fig, ax, dpi: float):
    """A function (x, z) in nm -> (row, column) of the picture saved at ``dpi`` without
    cropping (for tests that look at pixels): the layout is done at that dpi, then frozen."""
    fig.set_dpi(dpi)
    fig.canvas.draw()
    fig.set_layout_engine("none")
    transform = ax.transData.frozen()
    height = fig.get_figheight() * dpi

    def to_pixel(x: float, z: float) -> tuple[int, int]:
        px, py = transform.transform((x, z))
        return int(round(height - py)), int(round(px))

    return to_pixel


def _outline_layers(ax, run: Run, grid, tris: np.ndarray, pts: np.ndarray) -> None:
    """The interfaces between layers (black lines) and the layer names at the left edge."""
    from matplotlib.collections import LineCollection

    if "layer_id" not in grid.cell_data:
        return
    ids = np.asarray(grid.cell_data["layer_id"]).astype(int)
    edges = layer_edges(tris, ids)
    if len(edges):
        ax.add_collection(LineCollection(pts[edges][:, :, :2], colors="k", linewidths=0.5))
    x0 = grid.bounds[0] + 0.02 * (grid.bounds[1] - grid.bounds[0])
    for lay, z0, z1 in run.layer_spans:
        ax.annotate(lay.name, (x0, 0.5 * (z0 + z1)), fontsize=5.5, va="center",
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.6))
