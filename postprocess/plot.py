"""Pictures of heterofem results, all rendered off-screen (no display needed):

- :func:`plot_profiles`: every field along z, one panel each, layers shaded and labelled
  (PNG, SVG or PDF by the file suffix);
- :func:`plot_map` / :func:`render_map`: PyVista rendering of a 2D run (x-z map) or a 3D run
  (two vertical slices through the centre), scalar bar with the unit, layer outlines, the
  mesh warped by the mechanical displacement only when asked (``warp``);
- :func:`plot_run`: one run directory (``heterofem plot DIR``): the headline figure of its
  physics (:mod:`.headline`), the profiles that matter, a map per headline field;
- :func:`plot_sweep`: summary scalars against the swept parameter of a sweep directory, with
  reference points;
- :func:`animate_run`: the output times of a transient as a GIF (Pillow) or MP4 (imageio-ffmpeg);
- :func:`plot_comparison`: one field of several runs and their differences.

Under MPI only rank 0 draws (the others return an empty list). Used by ``heterofem plot`` and
``make demo``.

This module holds :func:`plot_run` and the dispatcher :func:`plot`; the drawing lives in
:mod:`.lines` (profiles, sweeps, comparisons), :mod:`.maps`, :mod:`.animation`, :mod:`.surface`
(the work-function map) and :mod:`.drawing` (what they share). Every name stays importable
from here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from heterofem.postprocess.animation import animate_run
from heterofem.postprocess.compare import compare_runs
from heterofem.postprocess.drawing import _as_list, load_fields, read_profiles
from heterofem.postprocess.files import PlotError, is_root, quiet_vtk
from heterofem.postprocess.lines import plot_comparison, plot_profiles, plot_sweep
from heterofem.postprocess.maps import plot_map, render_map
from heterofem.postprocess.rundir import Run, load_run
from heterofem.postprocess.sweep import is_sweep_dir, load_sweep

# The other public names this module held before its split stay importable from it:
from heterofem.postprocess.animation import ANIMATION_DEFAULTS, write_animation  # noqa: F401
from heterofem.postprocess.compare import Comparison  # noqa: F401
from heterofem.postprocess.drawing import (  # noqa: F401
    LINE_FORMATS,
    MAP_FORMATS,
    REFERENCE_STYLE,
    VACUUM_SHADE,
    layer_colours,
)
from heterofem.postprocess.files import read_csv_columns, unit_of  # noqa: F401
from heterofem.postprocess.lines import profile_columns  # noqa: F401
from heterofem.postprocess.sweep import Reference, Sweep, read_reference  # noqa: F401

__all__ = ["PlotError", "read_profiles", "load_fields", "plot_profiles", "render_map", "plot_map",
           "plot_run", "plot_sweep", "animate_run", "plot_comparison", "plot", "quiet_vtk"]


# -- one run ---------------------------------------------------------------------------------------
def _time_tag(run: Run, time: float | None) -> str:
    if time is None or len(run.times) <= 1:
        return ""
    i = run.time_index(time)
    return "" if i == len(run.times) - 1 else f"_t{run.times[i]:g}s"


#: the maps a 2D/3D run gets by default, by the kind of run (short field names)
MAP_FIELDS = {"growth": ("xi", "delta"), "polar": ("P_z", "phi"), "vacancies": ("delta", "phi"),
              "electrostatics": ("phi", "Ez")}


def _named(out: Path | None, run: Run, stem: str, tag: str, what: str) -> Path:
    """RUN_DIR/<stem><tag>.png, or beside ``out`` as <out stem>_<what><out suffix>."""
    if out is None:
        return run.path / f"{stem}{tag}.png"
    return out.with_name(f"{out.stem}_{what}{out.suffix}")


def plot_run(run_dir: str | os.PathLike | Run, field: str | Sequence[str] | None = None,
             out: str | os.PathLike | None = None, time: float | None = None,
             references: Sequence[Reference | str | os.PathLike] = (),
             warp: str | float = "none", limits: str = "robust") -> list[Path]:
    """Draw a run directory. Without ``field``: the headline figure of its physics
    (:func:`heterofem.postprocess.headline.plot_headline`; to ``out``, default
    RUN_DIR/headline.png), the profiles that matter along z (``<out stem>_profiles``, default
    RUN_DIR/profiles.png) and, for a 2D/3D run, one map per headline field (``<out
    stem>_<field>_map``, default RUN_DIR/<field>_map.png). With ``field``: those profiles (to
    ``out``, default RUN_DIR/profiles.png) and one map per field. Every file takes the suffix
    of ``out`` (.png, .svg, .pdf); ``time`` picks an output time."""
    from heterofem.postprocess.headline import plot_headline, run_kind

    if not is_root():
        return []
    run = load_run(run_dir)
    if not run.converged and not (run.path / "profiles.csv").is_file():
        why = f": {run.summary['error']}" if run.summary.get("error") else ""
        raise PlotError(f"the run in {run.path} did not converge{why}; nothing to draw")
    fields = _as_list(field)
    tag = _time_tag(run, time)
    out = Path(out) if out else None
    written: list[Path] = []
    if not fields:
        try:
            written.append(plot_headline(run, out or run.path / "headline.png"))
        except PlotError:
            pass  # e.g. a growth run without output times: its profiles and maps still tell
        profile_out = _named(out, run, "profiles", tag, "profiles") if written or out is None \
            else out
    else:
        profile_out = out or run.path / f"profiles{tag}.png"
    written.append(plot_profiles(run, profile_out, fields or None, time, references))
    if run.dimension >= 2 and run.times:
        available = run.fields(time).array_names
        wanted = fields or [f for f in MAP_FIELDS[run_kind(run)] if run.columns(f, available)]
        for name in wanted:
            column = run.column(name, available)
            short = run.field_info.get(column, {}).get("name", column)
            target = _named(out, run, f"{short}_map", tag, f"{short}_map")
            written.append(plot_map(run, target, column, time, warp, limits))
    return written


# -- dispatcher (the CLI) --------------------------------------------------------------------------
def plot(path: str | os.PathLike, field: str | Sequence[str] | None = None,
         out: str | os.PathLike | None = None, time: float | None = None, animate: bool = False,
         fps: float = 2.0, references: Sequence[str | os.PathLike] = (),
         parameter: str | None = None, compare: Sequence[str | os.PathLike] = (),
         warp: str | float = "none", report=None, limits: str = "robust") -> list[Path]:
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
        run = load_run(path)
        name = fields[0] if fields else "phi"
        comp = compare_runs([run, *compare], name, time=time)
        target = Path(out) if out else run.path / f"compare_{comp.column}.png"
        for line in str(comp).splitlines():
            report(line)
        return [comp.plot(target)]
    return plot_run(path, fields or None, out, time, references, warp, limits)
