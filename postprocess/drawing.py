"""What the pictures share: file formats and styles, matplotlib off-screen, the layers shaded
and labelled, reference points, titles; and the first version's helpers (``read_profiles``,
``load_fields``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from heterofem.postprocess.files import PlotError, quiet_vtk, read_csv_columns
from heterofem.postprocess.rundir import Run, load_run
from heterofem.postprocess.sweep import Reference, read_reference

LINE_FORMATS = (".png", ".svg", ".pdf", ".eps", ".jpg", ".jpeg")
MAP_FORMATS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
VACUUM_SHADE = (0.96, 0.96, 0.96, 1.0)
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


def layer_colours(run: Run, light: bool = True) -> list[tuple]:
    """One shade per layer (neighbours differ; vacuum light grey): pastel mixed half with
    white (``light``, the background of profiles), or a distinct line colour per layer."""
    plt = _pyplot()
    palette = plt.cm.Pastel1(np.arange(9)) if light else plt.cm.tab10(np.arange(10))
    out, k = [], 0
    for lay in run.layers:
        if lay.material == "vacuum":
            out.append(VACUUM_SHADE if light else (0.5, 0.5, 0.5, 1.0))
        else:
            c = palette[k % len(palette)]
            out.append(tuple(0.5 + 0.5 * c[:3]) + (1.0,) if light else tuple(c))
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


def _as_list(field: str | Sequence[str] | None) -> list[str]:
    if field is None:
        return []
    if isinstance(field, str):
        return [f for f in (s.strip() for s in field.split(",")) if f]
    return [f for f in field if f]
