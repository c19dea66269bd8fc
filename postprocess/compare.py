"""Comparing one field of several runs along z (:func:`compare_runs`, :class:`Comparison`)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Sequence

import numpy as np

from heterofem.postprocess.files import PlotError
from heterofem.postprocess.rundir import Layer, Run, load_run


# -- comparing runs --------------------------------------------------------------------------------
@dataclass
class Comparison:
    """One field of several runs along z (through each run's lateral centre).

    ``values[label]`` are on the common heights ``z_nm``; ``max_abs_diff[label]`` is the
    largest |run - reference| (the reference is the first run) and ``max_rel_diff`` that
    relative to the reference's largest |value|.
    """

    column: str
    label: str
    z_nm: np.ndarray
    values: dict[str, np.ndarray]
    reference: str
    max_abs_diff: dict[str, float] = dc_field(default_factory=dict)
    max_rel_diff: dict[str, float] = dc_field(default_factory=dict)
    layers: list[Layer] = dc_field(default_factory=list)

    @property
    def max_difference(self) -> float:
        """The largest absolute difference of any run from the reference."""
        return max(self.max_abs_diff.values(), default=0.0)

    def __str__(self) -> str:
        lines = [f"{self.column}: reference {self.reference}"]
        for k, d in self.max_abs_diff.items():
            lines.append(f"  {k}: max |diff| = {d:.6g} (relative {self.max_rel_diff[k]:.3g})")
        return "\n".join(lines)

    def plot(self, out: str | os.PathLike) -> Path:
        from heterofem.postprocess.lines import plot_comparison

        return plot_comparison(self, out)


def compare_runs(runs: Sequence[Run | str | os.PathLike], field: str, time: float | None = None,
                 labels: Sequence[str] | None = None, out: str | os.PathLike | None = None
                 ) -> Comparison:
    """Compare one field of several runs along z through the lateral centre (the first run is the
    reference). The profiles are compared where they are sampled at the same heights, else on a
    common grid over the heights all runs share. With ``out``, also draws the profiles and their
    differences there. Runs at another output time: ``time`` (sampled from the fields)."""
    runs = [load_run(r) for r in runs]
    if len(runs) < 2:
        raise PlotError("compare_runs needs at least two runs")
    labels = list(labels) if labels else _short_labels([r.path for r in runs])
    profiles = [r.profile(time) for r in runs]
    cols = [r.column(field, [c for c in p if c not in ("z_nm", "layer")])
            for r, p in zip(runs, profiles)]
    zs = [np.asarray(p["z_nm"], dtype=float) for p in profiles]
    if all(len(z) == len(zs[0]) and np.allclose(z, zs[0], rtol=0, atol=1e-9) for z in zs):
        z = zs[0]
        values = {lab: np.asarray(p[c], dtype=float) for lab, p, c in zip(labels, profiles, cols)}
    else:
        lo, hi = max(z[0] for z in zs), min(z[-1] for z in zs)
        if hi <= lo:
            raise PlotError("the runs share no heights to compare along z")
        z = np.linspace(lo, hi, max(len(zz) for zz in zs))
        values = {lab: np.interp(z, zz, np.asarray(p[c], dtype=float))
                  for lab, p, c, zz in zip(labels, profiles, cols, zs)}
    ref_label = labels[0]
    ref = values[ref_label]
    scale = float(np.nanmax(np.abs(ref))) if np.any(np.isfinite(ref)) else 0.0
    comp = Comparison(cols[0], runs[0].label(cols[0]), z, values, ref_label, layers=runs[0].layers)
    for lab in labels[1:]:
        d = float(np.nanmax(np.abs(values[lab] - ref)))
        comp.max_abs_diff[lab] = d
        comp.max_rel_diff[lab] = d / scale if scale > 0 else (0.0 if d == 0 else math.inf)
    if out is not None:
        comp.plot(out)
    return comp


def _short_labels(paths: Sequence[Path]) -> list[str]:
    names = [p.name or str(p) for p in paths]
    if len(set(names)) < len(names):
        names = [str(p) for p in paths]
    if len(set(names)) < len(names):  # the same run twice
        names = [f"{n} ({k + 1})" for k, n in enumerate(names)]
    return names
