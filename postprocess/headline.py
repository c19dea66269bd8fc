"""The headline figure of a run, chosen by the physics it solved (:func:`run_kind`):

- ``growth`` (crystallization): a kymograph, z against t, of the oxygen deficiency delta with
  the crystallization front (xi = 1/2) and the deposit surface on it, not-yet-deposited film
  left blank; the epitaxial and deposited thicknesses and the template's delta through time;
- ``polar`` (polarization): the interfacial polarization P_z and the polar displacement along
  z, and the work function and its parts (intrinsic, band alignment, charges, polarization);
- ``vacancies`` (a vacancy transient): the vacancy inventory of each layer and the oxygen
  transferred up across each interface through time (from the inventories: the bottom
  contact is blocking, so what crosses an interface is what the layers below gained), and
  delta along z at the output times;
- ``electrostatics``: the potential and the electric field along z.

:func:`plot_headline` draws it in the journal style (single column, physical names and units,
layers shaded lightly and named) as PNG, SVG or PDF by the suffix. :func:`profile_panel` draws
one field along z on an axis (used by :func:`heterofem.postprocess.lines.plot_profiles`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from heterofem.postprocess.drawing import (
    LINE_FORMATS,
    _check_suffix,
    _log_scale,
    _title,
    layer_colours,
)
from heterofem.postprocess.files import PlotError
from heterofem.postprocess.rundir import Run, load_run
from heterofem.postprocess.style import FIXED_LIMITS, SINGLE_COLUMN_IN, field_label, journal_style

KINDS = ("growth", "polar", "vacancies", "electrostatics")
#: the profile panels that matter for each kind (short field names, in order)
KEY_FIELDS = {
    "growth": ("xi", "delta", "phi"),
    "polar": ("P_z", "u_pol_z", "phi"),
    "vacancies": ("delta", "phi", "n_e"),
    "electrostatics": ("phi", "Ez", "Ex"),
}


def run_kind(run: Run) -> str:
    """What the run solved, for its headline figure: growth, polar, vacancies or
    electrostatics."""
    s = run.summary
    if "crystallization" in s:
        return "growth"
    if "polarization" in s:
        return "polar"
    if "vacancies" in s:
        return "vacancies"
    return "electrostatics"


def key_columns(run: Run, available) -> list[str]:
    """The profile columns that matter for the run's physics (see :data:`KEY_FIELDS`)."""
    out: list[str] = []
    for name in KEY_FIELDS[run_kind(run)]:
        out += [c for c in run.columns(name, available) if c not in out]
    return out or [c for c in available if c not in ("z_nm", "layer")][:3]


# -- profiles --------------------------------------------------------------------------------------
def _meta(run: Run, column: str) -> tuple[str, str]:
    meta = run.field_info.get(column, {})
    return meta.get("name", column), meta.get("unit", "1")


def shade_layers(ax, run: Run, top_nm: float | None = None, names: bool = True,
                 vertical: bool = True) -> None:
    """Each layer's span shaded lightly in its colour and named at the top of the axes; the
    interfaces dashed. ``top_nm``: the deposit surface (nothing is shaded above it).
    ``vertical=False`` shades horizontal bands (z on the y axis)."""
    colours = layer_colours(run)
    span = ax.axvspan if vertical else ax.axhspan
    line = ax.axvline if vertical else ax.axhline
    total = run.total_thickness_nm or 1.0
    for lay, z0, z1 in run.layer_spans:
        z1c = min(z1, top_nm) if top_nm is not None else z1
        if z1c > z0:
            span(z0, z1c, color=colours[lay.index], lw=0, zorder=0)
        if z1 < total - 1e-9:
            line(z1, color="0.55", lw=0.5, ls="--", zorder=1)
        if names and z1c > z0:
            centre = 0.5 * (z0 + z1c)
            if vertical:  # named only where the layer's middle is in view
                ax.annotate(lay.name, xy=(centre, 0.98), xycoords=("data", "axes fraction"),
                            xytext=(0, 4), textcoords="offset points", ha="center",
                            va="bottom", fontsize=6, color="0.3", annotation_clip=True,
                            rotation=0 if (z1c - z0) / total > 0.12 else 45)
            else:
                ax.annotate(lay.name, xy=(1.0, centre), xycoords=("axes fraction", "data"),
                            xytext=(2, 0), textcoords="offset points", ha="left",
                            va="center", fontsize=6, color="0.3", clip_on=False)


def deposit_top(run: Run, profile: dict) -> float | None:
    """z of the deposit surface in a growth run's profile (the top of the deposited film),
    or None for a run without deposition."""
    dep = profile.get("deposited")
    if dep is None:
        return None
    z = np.asarray(profile["z_nm"], dtype=float)
    film = np.asarray(dep, dtype=float) >= 0.5
    inside = film | _crystal_layers(run, profile)
    return float(z[inside].max()) if inside.any() else None


def _in_layers(run: Run, z: np.ndarray, names) -> np.ndarray:
    """Whether each height of the profile line lies in one of the layers ``names`` (by the
    layer spans on that line, which follow a step or an island of a 2D/3D run)."""
    z = np.asarray(z, dtype=float)
    inside = np.zeros(z.shape, dtype=bool)
    for lay, z0, z1 in run.layer_spans:
        if lay.name in names:
            inside |= (z >= z0 - 1e-9) & (z <= z1 + 1e-9)
    return inside


def _crystal_layers(run: Run, profile: dict) -> np.ndarray:
    """Where the profile lies in a solid layer that is not grown (a crystal from the start) in
    a crystallization run; all False otherwise."""
    grown = run.config.get("crystallization", {}).get("layers", [])
    z = np.asarray(profile["z_nm"], dtype=float)
    if not grown:
        return np.zeros(len(z), dtype=bool)
    solid = {lay.name for lay in run.layers if lay.material != "vacuum"} - set(grown)
    return _in_layers(run, z, solid) & ~_in_layers(run, z, grown)


def profile_panel(ax, run: Run, profile: dict, column: str, symbol_only: bool = False,
                  colour: str = "k", label: str | None = None) -> None:
    """One field along z: scaled to a readable unit, log axis for positive values over more
    than three decades, nothing drawn where the film is not yet deposited."""
    z = np.asarray(profile["z_nm"], dtype=float)
    y = np.asarray(profile[column], dtype=float).copy()
    top = deposit_top(run, profile)
    if top is not None:
        y[z > top + 1e-9] = np.nan
    name, unit = _meta(run, column)
    if name == "xi":
        y = np.where(_crystal_layers(run, profile), 1.0, y)  # substrate, template: crystals
    text, factor = field_label(name, unit, y, symbol_only)
    if len(text) > 24 and " $" in text:  # physical name above the symbol and unit
        head, _, tail = text.partition(" $")
        text = f"{head}\n${tail}"
    ax.plot(z, y * factor, color=colour, lw=1.0, zorder=3, label=label)
    if name in FIXED_LIMITS:  # a fraction: linear over its whole range, never a log axis
        lo, hi = FIXED_LIMITS[name]
        ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    elif _log_scale(y):
        ax.set_yscale("log")
        ax.set_ylim(bottom=max(np.nanmin(y[y > 0]), 1e-8 * np.nanmax(y)) / 1.5)
    ax.set_ylabel(text)
    ax.set_xlim(0.0, run.total_thickness_nm)


def draw_profiles(run: Run, columns, out: Path, time: float | None = None) -> Path:
    """The given columns along z, one panel each, sharing z; layers shaded and named."""
    prof = run.profile(time)
    with journal_style() as plt:
        n = len(columns)
        fig, axes = plt.subplots(n, 1, figsize=(SINGLE_COLUMN_IN, 1.25 * n + 0.5), sharex=True,
                                 squeeze=False)
        top = deposit_top(run, prof)
        for k, (ax, col) in enumerate(zip(axes[:, 0], columns)):
            shade_layers(ax, run, top, names=k == 0)
            profile_panel(ax, run, prof, col)
        axes[-1, 0].set_xlabel("height z (nm)")
        _suptitle(fig, run, time)
        return _save(fig, plt, out)


def _suptitle(fig, run: Run, time: float | None) -> None:
    fig.suptitle(_title(run, time), fontsize=7, y=1.0 + 0.02, va="bottom")


def _save(fig, plt, out: Path) -> Path:
    fig.align_ylabels()
    fig.savefig(out)
    plt.close(fig)
    return out


# -- growth ----------------------------------------------------------------------------------------
def _kymograph_data(run: Run):
    """(times, z, delta(t, z) with NaN above the deposit surface, xi(t, z)) at the output
    times, along the profile line."""
    times = list(run.times)
    if len(times) < 2:
        raise PlotError(f"{run.path} has {len(times)} output time(s); the growth kymograph "
                        "needs a transient with output times ([time] output_times_s)")
    profiles = [run.profile(t) for t in times]
    z = np.asarray(profiles[-1]["z_nm"], dtype=float)
    delta = np.full((len(times), len(z)), np.nan)
    xi = np.zeros_like(delta)
    crystalline_below = _crystal_layers(run, profiles[-1])
    ts = run.timeseries or {}
    surface = "deposited_thickness_nm" in ts
    for i, p in enumerate(profiles):
        d = np.asarray(p[run.column("delta", p)], dtype=float).copy()
        top = deposit_top(run, p)
        if top is not None and not surface:
            d[z > top + 1e-9] = np.nan
        delta[i] = d
        x = np.asarray(p[run.column("xi", p)], dtype=float)
        xi[i] = np.where(crystalline_below, 1.0, x)  # template and substrate are crystals
    times = np.asarray(times)
    if surface:  # drawn between the output times, blank above the deposit surface (every step)
        fine = np.linspace(times[0], times[-1], 400)
        idx = np.clip(np.searchsorted(times, fine, side="right") - 1, 0, len(times) - 2)
        w = ((fine - times[idx]) / (times[idx + 1] - times[idx]))[:, None]
        delta = (1 - w) * delta[idx] + w * delta[idx + 1]
        xi = (1 - w) * xi[idx] + w * xi[idx + 1]
        top = _film_bottom(run) + np.interp(fine, ts["t_s"], ts["deposited_thickness_nm"])
        grown = run.config.get("crystallization", {}).get("layers", [])
        above = (z[None, :] > top[:, None] + 1e-9) & _in_layers(run, z, grown)[None, :] \
            & ~crystalline_below[None, :]
        delta[above] = np.nan
        xi[above] = np.nan
        return fine, z, delta, xi
    return times, z, delta, xi


def _film_bottom(run: Run) -> float:
    """The bottom of the grown layer as configured: the deposit surface is flat at this height
    plus the deposited thickness (also above an island of the template)."""
    grown = run.config.get("crystallization", {}).get("layers", [])
    bottoms = [lay.z_bottom_nm for lay in run.layers if lay.name in grown]
    return min(bottoms) if bottoms else 0.0


def _growth(run: Run, fig_axes) -> None:
    """long: the kymograph (top) and the thicknesses and the template's delta (bottom)."""
    from matplotlib.colors import LogNorm

    ax, ax2 = fig_axes
    t, z, delta, xi = _kymograph_data(run)
    positive = delta[np.isfinite(delta) & (delta > 0)]
    norm = LogNorm(vmin=max(positive.min(), positive.max() * 1e-4), vmax=positive.max()) \
        if positive.size else None
    mesh = ax.pcolormesh(t, z, np.ma.masked_invalid(delta.T), shading="nearest", norm=norm,
                         cmap="magma_r", rasterized=True)
    cbar = ax.figure.colorbar(mesh, ax=ax, location="top", shrink=0.8, aspect=30, pad=0.02)
    cbar.set_label(r"oxygen deficiency $\delta$", fontsize=7)
    ts = run.timeseries or {}
    base = _film_bottom(run)
    if "deposited_thickness_nm" in ts:
        surface = base + np.asarray(ts["deposited_thickness_nm"], dtype=float)
        grown = run.config.get("crystallization", {}).get("layers", [])
        local = min([z0 for lay, z0, _ in run.layer_spans if lay.name in grown], default=base)
        ax.plot(ts["t_s"], np.where(surface >= local - 1e-9, surface, np.nan), color="0.1",
                lw=0.9, label="deposit surface")
    if "crystalline_thickness_nm" not in ts or run.dimension > 1:
        # the front on the profile line, from the output times (the time series holds the
        # crystal per lateral area, which is the front's height only in 1D)
        ax.contour(t, z, np.ma.masked_invalid(xi.T), levels=[0.5], colors="tab:cyan",
                   linewidths=1.0)
        ax.plot([], [], color="tab:cyan", label=r"front ($\xi = 1/2$)")
    else:
        ax.plot(ts["t_s"], base + ts["crystalline_thickness_nm"], color="tab:cyan", lw=1.0,
                ls="--", label=r"front ($\xi = 1/2$)")
    for lay, z0, z1 in run.layer_spans[:-1]:
        ax.axhline(z1, color="0.5", lw=0.4, ls=":")
    for lay, z0, z1 in run.layer_spans:
        ax.annotate(lay.name, xy=(0.99, 0.5 * (z0 + z1)), xycoords=("axes fraction", "data"),
                    fontsize=6, va="center", ha="right", color="0.1",
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.7))
    ax.set_ylabel("height z (nm)")
    ax.set_ylim(0, run.total_thickness_nm)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, 1.0), fontsize=6)
    if ts:
        tt = ts["t_s"]
        if "deposited_thickness_nm" in ts:
            ax2.plot(tt, ts["deposited_thickness_nm"], color="0.1", label="deposited")
        if "crystalline_thickness_nm" in ts:
            ax2.plot(tt, ts["crystalline_thickness_nm"], color="tab:blue",
                     label="epitaxial" + (" (mean over x)" if run.dimension > 1 else ""))
        ax2.set_ylabel("thickness (nm)")
        ax2.legend(loc="upper left", fontsize=6)
        if "delta_template" in ts:
            tw = ax2.twinx()
            tw.plot(tt, ts["delta_template"], color="tab:red", lw=0.9, ls="-.")
            tw.set_ylabel(r"template $\delta$", color="tab:red")
            tw.tick_params(axis="y", colors="tab:red")
    ax2.set_xlabel("time t (s)")
    ax2.set_xlim(t[0], t[-1])


# -- polar -----------------------------------------------------------------------------------------
def _interfacial_window(run: Run, prof: dict, column: str) -> tuple[float, float]:
    z = np.asarray(prof["z_nm"], dtype=float)
    p = np.abs(np.asarray(prof[column], dtype=float))
    big = z[p > 0.01 * np.nanmax(p)] if np.nanmax(p) > 0 else z
    return max(0.0, big.min() - 2.0), min(run.total_thickness_nm, big.max() + 2.0)


def bar_label(v: float, signed: bool = True) -> str:
    """``v`` [eV] to two decimals, without a "-0.00" or "+0.00" for a part that rounds to zero."""
    v = round(float(v), 2) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{v:+.2f}" if signed and v != 0.0 else f"{v:.2f}"


def _work_function_bars(ax, wf: dict) -> None:
    """The work function as a waterfall: its parts, each from where the previous one ended, and
    the total."""
    parts = [("intrinsic", "intrinsic_eV"), ("band\nalignment", "band_alignment_eV"),
             ("charges", "charges_eV"), ("polarization", "polarization_eV")]
    level = 0.0
    for k, (label, key) in enumerate(parts):
        v = float(wf.get(key, 0.0))
        colour = "0.6" if k == 0 else ("tab:red" if v >= 0 else "tab:blue")
        ax.bar(k, v, bottom=level, color=colour, width=0.6)
        ax.annotate(bar_label(v, signed=k > 0), (k, level + max(v, 0)), ha="center",
                    va="bottom", fontsize=6, xytext=(0, 1), textcoords="offset points")
        level += v
    total = float(wf.get("work_function_eV", level))
    ax.bar(len(parts), total, color="k", width=0.6)
    ax.annotate(bar_label(total, signed=False), (len(parts), total), ha="center", va="bottom", fontsize=6,
                xytext=(0, 1), textcoords="offset points")
    ax.set_xticks(range(len(parts) + 1), [p[0] for p in parts] + ["work\nfunction"],
                  fontsize=6)
    ax.tick_params(axis="x", which="both", length=0, top=False)
    ax.set_ylabel(r"energy (eV)")
    lo = min(0.0, level, total, *(float(wf.get(k, 0)) for _, k in parts))
    ax.set_ylim(lo, 1.15 * max(total, level, float(wf.get("intrinsic_eV", 0))))


def _polar(run: Run, axes) -> None:
    prof = run.profiles
    cols = [c for c in (run.columns("P_z", prof)[:1] + run.columns("u_pol_z", prof)[:1])]
    if not cols:
        raise PlotError(f"{run.path}: a polarization run without P_z in profiles.csv")
    window = _interfacial_window(run, prof, cols[0])
    for k, (ax, col) in enumerate(zip(axes, cols)):
        shade_layers(ax, run, names=k == 0)
        profile_panel(ax, run, prof, col)
        ax.axhline(0.0, color="0.4", lw=0.4)
        ax.set_xlim(*window)
    axes[len(cols) - 1].set_xlabel("height z (nm)")
    if len(cols) < 2:
        axes[1].set_visible(False)
    wf = run.summary.get("work_function")
    if wf:
        _work_function_bars(axes[-1], wf)
    else:
        axes[-1].set_visible(False)


# -- vacancies -------------------------------------------------------------------------------------
def _inventories(run: Run) -> dict[str, np.ndarray]:
    ts = run.timeseries or {}
    return {lay.name: np.asarray(ts[f"N_V_{lay.name}_per_m2"], dtype=float) for lay in run.layers
            if f"N_V_{lay.name}_per_m2" in ts}


def transfer_up(run: Run) -> dict[str, np.ndarray]:
    """Oxygen transferred up across each interface through time [m^-2] (``below/above`` ->
    values at timeseries.csv's times): the vacancies the layers below it gained since t = 0.
    The bottom contact is blocking for vacancies, so this is the flux integrated in time
    (conservation); it stops at the first layer without an inventory column (vacuum)."""
    inv = _inventories(run)
    out: dict[str, np.ndarray] = {}
    below = None
    for lay in run.layers[:-1]:
        if lay.name not in inv or run.layers[lay.index + 1].name not in inv:
            break
        gain = inv[lay.name] - inv[lay.name][0]
        below = gain if below is None else below + gain
        out[f"{lay.name}/{run.layers[lay.index + 1].name}"] = below
    return out


def _vacancies(run: Run, axes) -> None:
    """long: inventories (top), transfer across each interface (middle), delta at the output
    times (bottom)."""
    ts = run.timeseries
    if not ts:
        raise PlotError(f"{run.path} has no timeseries.csv; the vacancy headline figure is for a "
                        "transient")
    t = np.asarray(ts["t_s"], dtype=float)
    inv = _inventories(run)
    later = t > 0
    colours = layer_colours(run, light=False)
    ax, axt, axp = axes
    for lay in run.layers:
        if lay.name in inv:
            ax.plot(t[later], inv[lay.name][later], color=colours[lay.index], label=lay.name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylabel("vacancy inventory\n$N_V$ (m$^{-2}$)")  # two lines: as tall as the panel
    ax.legend(loc="best", ncol=len(inv))
    curves = transfer_up(run)
    scale = max((np.abs(v).max() for v in curves.values()), default=1.0) or 1.0
    factor, unit = _power_scale(scale)
    for name, values in curves.items():
        axt.plot(t[later], values[later] * factor, label=name)
    axt.axhline(0.0, color="0.4", lw=0.4)
    axt.set_xscale("log")
    axt.set_ylabel(f"O transferred up\n({unit})")
    axt.set_xlabel("time t (s)")
    axt.legend(loc="best")
    _delta_at_times(run, axp)


def _power_scale(value: float) -> tuple[float, str]:
    k = int(np.floor(np.log10(value))) if value > 0 else 0
    return 10.0 ** -k, f"$10^{{{k}}}$ m$^{{-2}}$"


def _delta_at_times(run: Run, ax) -> None:
    times = run.times
    cmap = __import__("matplotlib").colormaps["viridis"]
    for k, t in enumerate(times):
        p = run.profile(t)
        col = run.column("delta", p)
        ax.plot(p["z_nm"], np.asarray(p[col], dtype=float), color=cmap(k / max(len(times) - 1, 1)),
                lw=0.9, label=f"{t:g} s")
    shade_layers(ax, run, names=True)
    ax.set_yscale("log")
    ax.set_xlim(0, run.total_thickness_nm)
    ax.set_xlabel("height z (nm)")
    ax.set_ylabel(r"oxygen deficiency $\delta$")
    ax.legend(loc="best", fontsize=5.5, ncol=2, title="t", title_fontsize=6)


# -- electrostatics --------------------------------------------------------------------------------
def _electrostatics(run: Run, axes) -> None:
    prof = run.profiles
    cols = run.columns("phi", prof)[:1] + run.columns("Ez", prof)[:1]
    for k, (ax, col) in enumerate(zip(axes, cols)):
        shade_layers(ax, run, names=k == 0)
        profile_panel(ax, run, prof, col)
    axes[-1].set_xlabel("height z (nm)")


# -- the figure ------------------------------------------------------------------------------------
_LAYOUT = {"growth": (2, (3.0, 1.3), True), "polar": (3, (1.2, 1.2, 1.5), False),
           "vacancies": (3, (1.3, 1.3, 1.5), False), "electrostatics": (2, (1.3, 1.3), True)}


def plot_headline(run: Run | str | os.PathLike, out: str | os.PathLike | None = None,
                  kind: str | None = None, dpi: float | None = None) -> Path:
    """The headline figure of a run (see the module docstring), chosen by ``kind`` (default:
    :func:`run_kind`), written to ``out`` (.png, .svg, .pdf, ...; default RUN_DIR/headline.png;
    raster formats at ``dpi``, default the style's 300)."""
    run = load_run(run)
    kind = kind or run_kind(run)
    if kind not in KINDS:
        raise PlotError(f"unknown headline kind '{kind}'; one of {', '.join(KINDS)}")
    out = _check_suffix(Path(out) if out else run.path / "headline.png", LINE_FORMATS,
                        "a line plot")
    n, heights, share = _LAYOUT[kind]
    with journal_style() as plt:
        fig, axes = plt.subplots(n, 1, figsize=(SINGLE_COLUMN_IN, sum(heights) + 0.5),
                                 gridspec_kw={"height_ratios": heights}, sharex=share,
                                 layout="constrained")
        {"growth": _growth, "polar": _polar, "vacancies": _vacancies,
         "electrostatics": _electrostatics}[kind](run, list(axes))
        fig.suptitle(_title(run, None, where=run.dimension > 1), fontsize=7)
        fig.savefig(out, **({"dpi": dpi} if dpi else {}))
        plt.close(fig)
    return out
