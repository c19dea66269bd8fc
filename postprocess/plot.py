"""Pictures of heterofem results, all rendered off-screen (no display needed):

- :func:`plot_profiles`: every field along z, one panel each, layers shaded and labelled
  (PNG, SVG or PDF by the file suffix);
- :func:`plot_map` / :func:`render_map`: PyVista rendering of a 2D run (x-z map) or a 3D run
  (two vertical slices through the centre), scalar bar with the unit, layer outlines, the
  mesh warped by the mechanical displacement where there is one;
- :func:`plot_run`: both for one run directory (``heterofem plot DIR``);
- :func:`plot_sweep`: summary scalars against the swept parameter of a sweep directory, with
  reference points;
- :func:`animate_run`: the output times of a transient as a GIF (Pillow) or MP4 (imageio-ffmpeg);
- :func:`plot_comparison`: one field of several runs and their differences.

Under MPI only rank 0 draws (the others return an empty list). Used by ``heterofem plot`` and
``make demo``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from heterofem.postprocess.api import (
    Comparison,
    PlotError,
    Reference,
    Run,
    Sweep,
    is_root,
    is_sweep_dir,
    load_run,
    load_sweep,
    quiet_vtk,
    read_csv_columns,
    read_reference,
    unit_of,
)

__all__ = ["PlotError", "read_profiles", "load_fields", "plot_profiles", "render_map", "plot_map",
           "plot_run", "plot_sweep", "animate_run", "plot_comparison", "plot", "quiet_vtk"]

LINE_FORMATS = (".png", ".svg", ".pdf", ".eps", ".jpg", ".jpeg")
MAP_FORMATS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
VACUUM_SHADE = (0.93, 0.93, 0.93, 1.0)
REFERENCE_STYLE = dict(marker="o", ms=7, mfc="none", mec="tab:red", color="tab:red", ls="none")


# -- compatibility (first version's helpers) -------------------------------------------------------
def read_profiles(run_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """profiles.csv of a run directory as columns (``z_nm``, ``layer``, fields)."""
    path = Path(run_dir) / "profiles.csv"
    if not path.is_file():
        raise PlotError(f"{run_dir} has no profiles.csv; is it a finished heterofem run directory?")
    return read_csv_columns(path)


def load_fields(run_dir: str | os.PathLike, time: float | None = None):
    """The fields at an output time (default: the last) as one PyVista UnstructuredGrid."""
    return load_run(run_dir).fields(time)


_quiet_vtk = quiet_vtk  # the first version's name


# -- helpers ---------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _check_suffix(out: Path, allowed: tuple[str, ...], what: str) -> Path:
    out = Path(out)
    if out.suffix.lower() not in allowed:
        raise PlotError(f"cannot write {what} as '{out.suffix or out.name}': use "
                        + ", ".join(allowed))
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _log_scale(values: np.ndarray) -> bool:
    """Positive values spanning more than three decades are drawn on a log scale."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return bool(v.size > 0 and np.all(v > 0) and v.max() / v.min() > 1e3)


def layer_colours(run: Run) -> list[tuple]:
    """One pastel shade per layer (neighbours differ; vacuum light grey)."""
    plt = _pyplot()
    palette = plt.cm.Pastel1(np.arange(9))
    out, k = [], 0
    for lay in run.layers:
        if lay.material == "vacuum":
            out.append(VACUUM_SHADE)
        else:
            out.append(tuple(palette[k % 9]))
            k += 1
    return out


def _shade_layers(ax, run: Run, colours) -> None:
    """Each layer's span along the profile line shaded in its colour, interfaces dashed."""
    spans = run.layer_spans
    for lay, z0, z1 in spans:
        ax.axvspan(z0, z1, color=colours[lay.index], lw=0, zorder=0)
    for _, _, z1 in spans[:-1]:
        ax.axvline(z1, color="0.35", lw=0.8, ls="--", zorder=1)


def _label_layers(ax, run: Run) -> None:
    total = run.total_thickness_nm or 1.0
    for lay, z0, z1 in run.layer_spans:
        narrow = (z1 - z0) / total < 0.12
        text = lay.name if narrow else f"{lay.name}\n({lay.material})"
        ax.annotate(text, xy=((z0 + z1) / 2, 1.0),
                    xycoords=("data", "axes fraction"), xytext=(0, 2), textcoords="offset points",
                    ha="center" if not narrow else "left", va="bottom", fontsize=7.5,
                    rotation=45 if narrow else 0)


def _references(references: Sequence[Reference | str | os.PathLike]) -> list[Reference]:
    return [r if isinstance(r, Reference) else read_reference(r) for r in references]


def _draw_reference(ax, ref: Reference) -> None:
    if ref.yerr is not None:
        ax.errorbar(ref.x, ref.y, yerr=ref.yerr, capsize=2, label=ref.label, **REFERENCE_STYLE)
    else:
        ax.plot(ref.x, ref.y, label=ref.label, **REFERENCE_STYLE)


def _time_text(run: Run, time: float | None) -> str:
    if run.summary.get("time") is None and len(run.times) <= 1:
        return ""
    t = run.times[run.time_index(time)] if run.times else run.summary.get("time", {}).get("end_s")
    return f"t = {t:g} s" if t is not None else ""


def _title(run: Run, time: float | None = None, where: bool = True) -> str:
    parts = [run.name]
    if run.dimension >= 2 and where:
        centre = run.lateral_centre_nm
        parts.append("profile at " + ", ".join(f"{a} = {c:g} nm" for a, c in zip("xy", centre)))
    tt = _time_text(run, time)
    if tt:
        parts.append(tt)
    if not run.converged:
        error = run.summary.get("error")
        parts.append("NOT CONVERGED" + (f": {error[:60]}" if error else ""))
    return ", ".join(parts)


# -- line profiles ---------------------------------------------------------------------------------
def profile_columns(run: Run, profile: dict[str, np.ndarray], fields: Sequence[str] | None = None
                    ) -> list[str]:
    """The numeric field columns of a profile, or those ``fields`` select (short names work)."""
    names = [c for c in profile if c not in ("z_nm", "layer") and profile[c].dtype.kind == "f"]
    if not fields:
        return names
    chosen: list[str] = []
    for f in fields:
        for c in run.columns(f, names):
            if c not in chosen:
                chosen.append(c)
    if not chosen:
        raise PlotError(f"no profile column matches {', '.join(fields)}; columns: "
                        f"{', '.join(names)}")
    return chosen


def plot_profiles(run: Run | str | os.PathLike, out: str | os.PathLike,
                  fields: Sequence[str] | None = None, time: float | None = None,
                  references: Sequence[Reference | str | os.PathLike] = ()) -> Path:
    """Every profile column (or ``fields``) against z, one panel each, layers shaded and labelled,
    interfaces dashed; positive fields over more than three decades on a log axis. ``time``
    picks an output time of a transient (default: the final state). Reference CSVs (x = z in
    nm) go on the panel of their ``# field:``, or the first panel."""
    plt = _pyplot()
    run = load_run(run)
    out = _check_suffix(Path(out), LINE_FORMATS, "a line plot")
    prof = run.profile(time)
    names = profile_columns(run, prof, fields)
    refs = _references(references)
    for ref in refs:
        if ref.field and not run.columns(ref.field, names):
            raise PlotError(f"reference {ref.path} is for '{ref.field}', which is not among the "
                            f"plotted profiles ({', '.join(names)})")
    n = len(names)
    ncols = 1 if n <= 6 else 2
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.5 * ncols, 1.9 * nrows + 1.1), sharex=True,
                             squeeze=False)
    colours = layer_colours(run)
    z = prof["z_nm"]
    for k, ax in enumerate(axes.T.ravel()):  # fill column by column
        if k >= n:
            ax.set_visible(False)
            continue
        name = names[k]
        _shade_layers(ax, run, colours)
        y = np.asarray(prof[name], dtype=float)
        ax.plot(z, y, color="k", lw=1.4, zorder=3)
        if _log_scale(y):
            ax.set_yscale("log")
        ax.set_ylabel(run.label(name), fontsize=9)
        for ref in refs:
            target = run.columns(ref.field, names)[:1] if ref.field else names[:1]
            if target == [name]:
                _draw_reference(ax, ref)
                ax.legend(fontsize=7, loc="best")
        ax.set_xlim(0.0, run.total_thickness_nm)
        ax.tick_params(labelsize=8)
    for col in range(ncols):
        _label_layers(axes[0, col], run)
        last = min(nrows, n - col * nrows) - 1
        axes[last, col].set_xlabel("z [nm]")
        axes[last, col].xaxis.set_tick_params(labelbottom=True)
    fig.suptitle(_title(run, time), fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=130)
    plt.close(fig)
    return out


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
    if clim is None:
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    else:
        lo, hi = map(float, clim)
    if hi <= lo:  # a constant field still gets a colour bar
        pad = abs(lo) * 1e-6 or 1e-12
        lo, hi = lo - pad, hi + pad
    mesh = grid.copy(deep=False)
    extent = max(grid.bounds[1] - grid.bounds[0], grid.bounds[3] - grid.bounds[2],
                 grid.bounds[5] - grid.bounds[4])
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
    # layer names at the left edge, at mid-height of each layer
    if run.layers and warp != "scalar":
        pts, texts = [], []
        for lay in run.layers:
            zc = (lay.z_bottom_nm + lay.z_top_nm) / 2
            p = [grid.bounds[0] + 0.02 * extent, zc, 0.0] if not three_d else \
                [grid.bounds[0], run.lateral_centre_nm[1], zc]
            pts.append(p)
            texts.append(lay.name)
        plotter.add_point_labels(np.array(pts), texts, font_size=11, show_points=False,
                                 shape_opacity=0.45, always_visible=True, text_color="black",
                                 shape_color="white", margin=2)
    heading = title if title is not None else _title(run, time, where=False)
    if warp_text:
        heading += f" ({warp_text})"
    plotter.add_text(heading, position="upper_left", font_size=10, color="black")
    if three_d:  # the open corner of the two slices, from the front left, a little above
        plotter.view_xz()
        plotter.camera.azimuth = -40.0
        plotter.camera.elevation = 18.0
        plotter.add_axes(color="black", xlabel="x", ylabel="y", zlabel="z")
        plotter.reset_camera()
        plotter.camera.zoom(0.9)
    elif warp == "scalar":  # the map seen from the front (low z), tilted, values up
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
    info = {"array": array, "association": association, "clim": (lo, hi), "log": use_log,
            "warp": warp_text or "none", "time": run.times[run.time_index(time)], "label": label}
    return plotter, info


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


# -- one run ---------------------------------------------------------------------------------------
def _as_list(field: str | Sequence[str] | None) -> list[str]:
    if field is None:
        return []
    if isinstance(field, str):
        return [f for f in (s.strip() for s in field.split(",")) if f]
    return [f for f in field if f]


def _time_tag(run: Run, time: float | None) -> str:
    if time is None or len(run.times) <= 1:
        return ""
    i = run.time_index(time)
    return "" if i == len(run.times) - 1 else f"_t{run.times[i]:g}s"


def plot_run(run_dir: str | os.PathLike | Run, field: str | Sequence[str] | None = None,
             out: str | os.PathLike | None = None, time: float | None = None,
             references: Sequence[Reference | str | os.PathLike] = (),
             warp: str | float = "auto") -> list[Path]:
    """Draw a run directory: the profiles along z (``out``, default RUN_DIR/profiles.png) and,
    for 2D/3D runs, a map of ``field`` (default phi) next to it (``<field>_map.png`` in the run
    directory, or ``<out stem>_map.png`` beside ``out``). ``time`` picks an output time."""
    if not is_root():
        return []
    run = load_run(run_dir)
    if not run.converged and not (run.path / "profiles.csv").is_file():
        why = f": {run.summary['error']}" if run.summary.get("error") else ""
        raise PlotError(f"the run in {run.path} did not converge{why}; nothing to draw")
    fields = _as_list(field)
    tag = _time_tag(run, time)
    profile_out = Path(out) if out else run.path / f"profiles{tag}.png"
    written = [plot_profiles(run, profile_out, fields or None, time, references)]
    if run.dimension >= 2 and run.times:
        map_field = fields[0] if fields else "phi"
        if not fields and not run.columns("phi", run.fields(time).array_names):
            map_field = None
        stem = map_field or "fields"
        map_out = (profile_out.with_name(f"{profile_out.stem}_map.png") if out else
                   run.path / f"{stem}_map{tag}.png")
        written.append(plot_map(run, map_out, map_field, time, warp))
    return written


# -- sweeps ----------------------------------------------------------------------------------------
def plot_sweep(sweep_dir: str | os.PathLike | Sweep, fields: str | Sequence[str] | None = None,
               out: str | os.PathLike | None = None, parameter: str | None = None,
               references: Sequence[Reference | str | os.PathLike] = (),
               problem_references: bool = True) -> list[Path]:
    """Summary scalars (``fields``: table.csv columns or dotted summary paths or their unique
    endings; default: table.csv's columns, else the varying physics scalars) against the swept
    parameter (detected, or ``parameter``), one panel each, with reference points: the given
    CSVs and those the problem names (``problems/reference/<config stem>*.csv``). A reference
    goes on the panel of its ``# field:``, which is added if not chosen, else on the first."""
    if not is_root():
        return []
    plt = _pyplot()
    sweep = sweep_dir if isinstance(sweep_dir, Sweep) else load_sweep(sweep_dir, parameter)
    out = _check_suffix(Path(out) if out else sweep.path / "sweep.png", LINE_FORMATS, "a line plot")
    refs = _references(references)
    if problem_references:
        refs += [r for r in sweep.problem_references() if r.field]
    names = _as_list(fields) or sweep.default_quantities()
    if not names:
        raise PlotError(f"no summary scalar varies across the runs in {sweep.path}; name one with "
                        "--field (e.g. " + ", ".join(sweep.scalar_names()[:5]) + ")")
    keys = [sweep.resolve(n) for n in names]
    for ref in refs:
        if ref.field and sweep.resolve(ref.field) not in keys:
            keys.append(sweep.resolve(ref.field))
    n = len(keys)
    ncols = 1 if n <= 3 else 2
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.5 * ncols, 2.6 * nrows + 0.8), squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        if k >= n:
            ax.set_visible(False)
            continue
        kind, key = keys[k]
        x, y = sweep.values(key)
        groups = sweep.groups() if kind == "summary" else [("", np.arange(len(x)))]
        for g, (label, idx) in enumerate(groups):
            ax.plot(x[idx], y[idx], "o-", lw=1.3, ms=5, color="k" if len(groups) == 1 else None,
                    label=label or "heterofem")
        drawn = False
        for ref in refs:
            target = sweep.resolve(ref.field) if ref.field else keys[0]
            if target == keys[k]:
                _draw_reference(ax, ref)
                drawn = True
        if drawn or len(groups) > 1:
            ax.legend(fontsize=7)
        ax.set_ylabel(f"{key} [{unit_of(key)}]" if unit_of(key) else key, fontsize=8)
        ax.set_xlabel(sweep.parameter_label, fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    title = f"{sweep.path.name}: {len(sweep.runs)} runs of {sweep.runs[0].name}"
    if sweep.failed:
        title += f"; failed: {', '.join(sweep.failed)}"
    if sweep.skipped:
        title += f" ({len(sweep.skipped)} incomplete skipped)"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=130)
    plt.close(fig)
    return [out]


# -- comparisons -----------------------------------------------------------------------------------
def plot_comparison(comp: Comparison, out: str | os.PathLike) -> Path:
    """One field of several runs along z (top) and each run minus the reference (bottom)."""
    plt = _pyplot()
    out = _check_suffix(Path(out), LINE_FORMATS, "a line plot")
    fig, (ax, axd) = plt.subplots(2, 1, figsize=(7.5, 5.6), sharex=True,
                                  gridspec_kw={"height_ratios": [2, 1]})
    for lay in comp.layers[:-1]:
        for a in (ax, axd):
            a.axvline(lay.z_top_nm, color="0.5", lw=0.8, ls="--")
    styles = ["-", "--", ":", "-."]
    for i, (lab, v) in enumerate(comp.values.items()):
        ax.plot(comp.z_nm, v, styles[i % 4], lw=1.4, label=lab)
        if lab != comp.reference:
            axd.plot(comp.z_nm, v - comp.values[comp.reference], styles[i % 4], lw=1.2,
                     label=f"{lab} (max {comp.max_abs_diff[lab]:.3g})")
    ax.set_ylabel(comp.label)
    ax.legend(fontsize=8)
    axd.set_ylabel(f"minus {comp.reference}", fontsize=8)
    axd.set_xlabel("z [nm]")
    if len(comp.values) > 1:
        axd.legend(fontsize=7)
    fig.suptitle(f"{comp.column}: max |difference| = {comp.max_difference:.3g}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=130)
    plt.close(fig)
    return out


# -- animations ------------------------------------------------------------------------------------
ANIMATION_DEFAULTS = ("delta", "c_V", "theta_V", "mu", "phi")


def _line_frames(run: Run, field: str, size=(8.0, 4.8), dpi=100) -> list[np.ndarray]:
    plt = _pyplot()
    profiles = [run.profile(t) for t in run.times]
    names = [c for c in profiles[-1] if c not in ("z_nm", "layer")]
    col = run.column(field, names)
    ys = [np.asarray(p[col], dtype=float) for p in profiles]
    every = np.concatenate(ys)
    log = _log_scale(every)
    lo, hi = np.nanmin(every), np.nanmax(every)
    if log:
        lims = (lo / 1.5, hi * 1.5)
    else:
        pad = 0.05 * (hi - lo) or abs(hi) * 0.05 or 1.0
        lims = (lo - pad, hi + pad)
    fig, ax = plt.subplots(figsize=size, dpi=dpi)
    _shade_layers(ax, run, layer_colours(run))
    _label_layers(ax, run)
    z = profiles[0]["z_nm"]
    ax.plot(z, ys[0], color="0.45", lw=1.0, ls=":", label=f"t = {run.times[0]:g} s", zorder=2)
    (line,) = ax.plot(z, ys[0], color="k", lw=1.6, zorder=3)
    ax.set_xlim(0, run.total_thickness_nm)
    if log:
        ax.set_yscale("log")
    ax.set_ylim(*lims)
    ax.set_xlabel("z [nm]")
    ax.set_ylabel(run.label(col))
    ax.legend(loc="lower right", fontsize=8)
    text = ax.text(0.01, 0.97, "", transform=ax.transAxes, va="top", fontsize=10,
                   bbox=dict(fc="white", alpha=0.8, lw=0))
    fig.suptitle(run.name, fontsize=10)
    fig.tight_layout()
    frames = []
    for t, y in zip(run.times, ys):
        line.set_ydata(y)
        text.set_text(f"t = {t:g} s")
        fig.canvas.draw()
        frames.append(np.asarray(fig.canvas.buffer_rgba())[:, :, :3].copy())
    plt.close(fig)
    return frames


def _map_frames(run: Run, field: str, warp) -> list[np.ndarray]:
    grids = [run.fields(t) for t in run.times]
    names = grids[-1].array_names
    col = run.column(field, names)
    every = np.concatenate([np.asarray(g[col], dtype=float).ravel() for g in grids])
    clim = (float(np.nanmin(every)), float(np.nanmax(every)))
    frames = []
    for t in run.times:
        plotter, _ = render_map(run, col, time=t, warp=warp, clim=clim, window_size=(960, 672),
                                title=f"{run.name}, t = {t:g} s")
        try:
            frames.append(np.asarray(plotter.screenshot(return_img=True))[:, :, :3].copy())
        finally:
            plotter.close()
    return frames


def _pad16(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    H, W = -(-h // 16) * 16, -(-w // 16) * 16
    if (H, W) == (h, w):
        return frame
    out = np.full((H, W, 3), 255, dtype=np.uint8)
    out[:h, :w] = frame
    return out


def write_animation(frames: Sequence[np.ndarray], out: Path, fps: float = 2.0) -> Path:
    """Frames (RGB uint8 arrays of one size) to a GIF (Pillow) or an MP4 (imageio-ffmpeg, H.264)."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise PlotError(f"an animation is written as .gif or .mp4, not '{out.suffix or out.name}'")
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gif":
        from PIL import Image

        images = [Image.fromarray(np.ascontiguousarray(f)).convert(
            "P", palette=Image.Palette.ADAPTIVE) for f in frames]
        images[0].save(out, save_all=True, append_images=images[1:], duration=int(1000 / fps),
                       loop=0, optimize=False, disposal=1)
        return out
    try:
        import imageio_ffmpeg
    except ImportError:
        raise PlotError("writing MP4 needs imageio-ffmpeg (pip install imageio-ffmpeg); "
                        "or write a .gif") from None
    padded = [_pad16(np.ascontiguousarray(f, dtype=np.uint8)) for f in frames]
    h, w = padded[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(str(out), (w, h), fps=fps, codec="libx264",
                                         pix_fmt_in="rgb24", pix_fmt_out="yuv420p", quality=7,
                                         macro_block_size=16, output_params=["-loglevel", "error"])
    writer.send(None)
    for f in padded:
        writer.send(f.tobytes())
    writer.close()
    return out


def animate_run(run_dir: str | os.PathLike | Run, field: str | None = None,
                out: str | os.PathLike | None = None, fps: float = 2.0,
                warp: str | float = "auto") -> Path | None:
    """One frame per output time of a transient (fields.pvd): a 1D run as a line along z over the
    layers (the first frame dotted for reference), a 2D/3D run as a map with one colour range for
    all frames. ``field`` defaults to the first of delta, c_V, theta_V, mu, phi the run has.
    Written to ``out`` (.gif or .mp4; default RUN_DIR/<field>_animation.gif)."""
    if not is_root():
        return None
    run = load_run(run_dir)
    if len(run.times) < 2:
        raise PlotError(f"{run.path} has {len(run.times)} output time(s) in fields.pvd; an "
                        "animation needs a transient run with two or more ([time] output_times_s)")
    available = list(run.field_info)
    if field is None:
        field = next((f for f in ANIMATION_DEFAULTS if run.columns(f, available)), None) or \
            _default_map_field(run, [c for c in available if c != "layer_id"])
    run.column(field, available)  # a clear error for an unknown field
    out = Path(out) if out else run.path / f"{field}_animation.gif"
    if out.suffix.lower() not in (".gif", ".mp4"):
        raise PlotError(f"an animation is written as .gif or .mp4, not '{out.suffix or out.name}'")
    frames = _line_frames(run, field) if run.dimension == 1 else _map_frames(run, field, warp)
    return write_animation(frames, out, fps)


# -- dispatcher (the CLI) --------------------------------------------------------------------------
def plot(path: str | os.PathLike, field: str | Sequence[str] | None = None,
         out: str | os.PathLike | None = None, time: float | None = None, animate: bool = False,
         fps: float = 2.0, references: Sequence[str | os.PathLike] = (),
         parameter: str | None = None, compare: Sequence[str | os.PathLike] = (),
         warp: str | float = "auto", report=None) -> list[Path]:
    """What ``heterofem plot`` draws for PATH: a sweep directory's scalars, a run's animation,
    a comparison with other runs, or a run's profiles and map. ``report`` (a callable taking a
    line of text) receives what is worth telling besides the files: the numbers of a
    comparison, the runs of a sweep that were skipped."""
    if not is_root():
        return []
    report = report or (lambda line: None)
    path = Path(path)
    fields = _as_list(field)
    if is_sweep_dir(path):
        if animate or compare or time is not None:
            raise PlotError(f"{path} is a sweep directory; --animate, --compare and --time are "
                            "for one run directory")
        sweep = load_sweep(path, parameter)
        report(f"{sweep.path}: {len(sweep.runs)} runs over {sweep.parameter} = "
               + ", ".join(f"{v:g}" for v in np.unique(sweep.x)))
        for line in sweep.skipped:
            report(f"skipped {line}")
        if sweep.failed:
            report(f"failed (no values): {', '.join(sweep.failed)}")
        return plot_sweep(sweep, fields, out, parameter, references)
    if parameter:
        raise PlotError("--param is for sweep directories (a directory of runs)")
    if animate:
        if len(fields) > 1:
            raise PlotError("an animation draws one field; give one --field")
        result = animate_run(path, fields[0] if fields else None, out, fps, warp)
        return [result] if result else []
    if compare:
        from heterofem.postprocess.api import compare_runs

        run = load_run(path)
        name = fields[0] if fields else "phi"
        comp = compare_runs([run, *compare], name, time=time)
        target = Path(out) if out else run.path / f"compare_{comp.column}.png"
        for line in str(comp).splitlines():
            report(line)
        return [comp.plot(target)]
    return plot_run(path, fields or None, out, time, references, warp)
