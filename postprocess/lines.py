"""Line plots: the fields along z of one run (:func:`plot_profiles`), summary scalars against
the swept parameter of a sweep (:func:`plot_sweep`), one field of several runs and their
differences (:func:`plot_comparison`)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

from heterofem.postprocess.drawing import (
    LINE_FORMATS,
    _as_list,
    _check_suffix,
    _draw_reference,
    _pyplot,
    _references,
    _title,
)
from heterofem.postprocess.files import PlotError, is_root, unit_of
from heterofem.postprocess.rundir import Run, load_run
from heterofem.postprocess.style import (
    DOUBLE_COLUMN_IN,
    SINGLE_COLUMN_IN,
    journal_style,
    scale_for,
)
from heterofem.postprocess.sweep import Reference, Sweep, load_sweep, scalar_label

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
    """The profiles that matter for the run's physics (or ``fields``) against z, one panel
    each, in the journal style: physical names and scaled units as labels, layers shaded
    lightly and named, interfaces dashed, film not yet deposited left blank; positive fields
    over more than three decades on a log axis. ``time`` picks an output time of a transient
    (default: the final state). Reference CSVs (x = z in nm) go on the panel of their
    ``# field:``, or the first panel. PNG, SVG, PDF, ... by the suffix of ``out``."""
    from heterofem.postprocess.headline import (deposit_top, key_columns, profile_panel,
                                                shade_layers)
    from heterofem.postprocess.style import SINGLE_COLUMN_IN, journal_style

    run = load_run(run)
    out = _check_suffix(Path(out), LINE_FORMATS, "a line plot")
    prof = run.profile(time)
    names = profile_columns(run, prof, fields) if fields else \
        key_columns(run, profile_columns(run, prof))
    refs = _references(references)
    for ref in refs:
        if ref.field and not run.columns(ref.field, names):
            raise PlotError(f"reference {ref.path} is for '{ref.field}', which is not among the "
                            f"plotted profiles ({', '.join(names)})")
    n = len(names)
    ncols = 1 if n <= 6 else 2
    nrows = -(-n // ncols)
    with journal_style() as plt:
        fig, axes = plt.subplots(nrows, ncols, figsize=(SINGLE_COLUMN_IN * ncols,
                                                        1.2 * nrows + 0.6),
                                 sharex=True, squeeze=False, layout="constrained")
        top = deposit_top(run, prof)
        for k, ax in enumerate(axes.T.ravel()):  # fill column by column
            if k >= n:
                ax.set_visible(False)
                continue
            shade_layers(ax, run, top, names=k % nrows == 0)
            profile_panel(ax, run, prof, names[k])
            for ref in refs:
                target = run.columns(ref.field, names)[:1] if ref.field else names[:1]
                if target == [names[k]]:
                    _draw_reference(ax, ref)
                    ax.legend(loc="best")
        for col in range(ncols):
            last = min(nrows, n - col * nrows) - 1
            axes[last, col].set_xlabel("height z (nm)")
            axes[last, col].xaxis.set_tick_params(labelbottom=True)
        fig.suptitle(_title(run, time), fontsize=7)
        fig.savefig(out)
        plt.close(fig)
    return out


# -- sweeps ----------------------------------------------------------------------------------------
@journal_style()
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
    width = SINGLE_COLUMN_IN if ncols == 1 else DOUBLE_COLUMN_IN
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, 1.9 * nrows + 0.4), squeeze=False,
                             layout="constrained")
    for k, ax in enumerate(axes.ravel()):
        if k >= n:
            ax.set_visible(False)
            continue
        kind, key = keys[k]
        x, y = sweep.values(key)
        unit = sweep.unit(key) if hasattr(sweep, "unit") else unit_of(key)
        factor, unit_text = scale_for(y, unit)  # no "1e-3" or offset on the axis
        groups = sweep.groups() if kind == "summary" else [("", np.arange(len(x)))]
        for g, (label, idx) in enumerate(groups):
            ax.plot(x[idx], y[idx] * factor, "o-", lw=1.0, ms=3.5,
                    color="k" if len(groups) == 1 else None, label=label or "heterofem")
        drawn = False
        for ref in refs:
            target = sweep.resolve(ref.field) if ref.field else keys[0]
            if target == keys[k]:
                _draw_reference(ax, replace(ref, y=np.asarray(ref.y) * factor, yerr=None
                                            if ref.yerr is None else np.asarray(ref.yerr) * factor))
                drawn = True
        if drawn or len(groups) > 1:
            ax.legend(fontsize=6)
        name = scalar_label(key)
        ax.set_ylabel(f"{name} ({unit_text})" if unit_text else name)
        ax.set_xlabel(sweep.parameter_axis_label)
        ax.grid(alpha=0.3)
    title = f"{sweep.path.name}: {len(sweep.runs)} runs of {sweep.runs[0].name}"
    if sweep.failed:
        title += f"; failed: {', '.join(sweep.failed)}"
    if sweep.skipped:
        title += f" ({len(sweep.skipped)} incomplete skipped)"
    fig.suptitle(title, fontsize=7)
    fig.savefig(out)
    plt.close(fig)
    return [out]


# -- comparisons -----------------------------------------------------------------------------------
def plot_comparison(comp, out: str | os.PathLike) -> Path:
    """One field of several runs along z (top) and each run minus the reference (bottom).
    ``comp``: a :class:`heterofem.postprocess.compare.Comparison` (not imported here: its
    ``plot`` method calls this function)."""
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
