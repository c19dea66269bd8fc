"""Reports of a study's uncertainty analysis (:mod:`.uncertainty`): the predictions table with
its verdicts, the ranked sensitivity table, the fit, the ledger counts, as Markdown and JSON,
and the bands as CSV (``../shared/design/LEDGER.md``).

A :class:`Prediction` is one number the study compares with a measurement. Its verdict is
``hit`` when the measured interval overlaps the model's band (or the nominal value);
otherwise ``miss`` with the reason the study gives, also when the model gives no value at all
(e.g. no minimum where the paper sees one); ``no verdict`` without a measured interval or
without a band. A prediction
``used_in_fit`` is not a test of the model: its verdict is ``fitted``.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from heterofem.studies.uncertainty import Band, FitResult, Sensitivity, ranking


@dataclass
class Prediction:
    """One compared number. ``measured_interval``: the measured range (e.g. "~7 nm" as
    (6, 8)); ``measured``: how the paper states it (text); ``band``: the model's 5-95 % (or
    other) interval; ``reason``: why a miss misses (or a note on a hit)."""

    name: str
    unit: str
    predicted: float
    band: tuple[float, float]
    measured: str
    measured_interval: tuple[float, float] | None = None
    used_in_fit: bool = False
    reason: str = ""
    source: str = ""

    @property
    def verdict(self) -> str:
        if self.used_in_fit:
            return "fitted"
        if self.measured_interval is None:
            return "no verdict"
        if not math.isfinite(self.predicted):  # the model lacks what was measured
            return "miss"
        if not all(map(math.isfinite, self.band)):
            return "no verdict"
        lo, hi = self.measured_interval
        blo, bhi = min(self.band[0], self.predicted), max(self.band[1], self.predicted)
        return "hit" if (blo <= hi and bhi >= lo) else "miss"

    def as_dict(self) -> dict:
        d = asdict(self)
        d["verdict"] = self.verdict
        return d


def _fmt(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.3g}"


def predictions_markdown(preds: Sequence[Prediction]) -> str:
    """The table of LEDGER.md: prediction | model (band) | measured | used in fit | verdict."""
    lines = ["| prediction | model (band) | measured | used in fit | verdict |",
             "|---|---|---|---|---|"]
    for p in preds:
        verdict = p.verdict + (f": {p.reason}" if p.reason else "")
        lines.append(f"| {p.name} | {_fmt(p.predicted)} {p.unit} ({_fmt(p.band[0])} to "
                     f"{_fmt(p.band[1])}) | {p.measured} | {'yes' if p.used_in_fit else 'no'} "
                     f"| {verdict} |")
    return "\n".join(lines)


def verdict_counts(preds: Sequence[Prediction]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in preds:
        out[p.verdict] = out.get(p.verdict, 0) + 1
    return out


def sensitivity_markdown(sens: Sensitivity, outputs: Sequence[str] | None = None,
                         top: int = 6) -> str:
    """The ranked knobs (overall share, :func:`ranking`) and, per output, the largest
    ``dy_per_range`` (how much the output moves across each knob's range)."""
    lines = ["| rank | parameter | status | range | mean share of the outputs' spread |",
             "|---|---|---|---|---|"]
    by_name = {k.name: k for k in sens.knobs}
    for i, (name, score) in enumerate(ranking(sens), 1):
        k = by_name[name]
        rng = (f"{_fmt(k.value)} +- {_fmt(k.sigma)} (normal)" if k.dist == "normal"
               else f"[{_fmt(k.low)}, {_fmt(k.high)}]")
        lines.append(f"| {i} | `{name}` | {k.status} | {rng} {k.unit} | {score:.3f} |")
    lines += ["", "| output | nominal | largest changes across the range (dy per range) |",
              "|---|---|---|"]
    for out in outputs or list(sens.dy_per_range):
        top_k = [f"`{n}` {v:+.3g}" for n, v in sens.ranked(out)[:top] if np.isfinite(v)]
        lines.append(f"| {out} | {_fmt(sens.nominal[out])} | {', '.join(top_k)} |")
    return "\n".join(lines)


def sensitivity_csv(sens: Sensitivity, path: str | Path) -> Path:
    """One row per (output, knob): dy/dp, dy per range, elasticity, rank within the output."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["output", "parameter", "status", "nominal_output", "dy_dp",
                    "dy_per_range", "elasticity_dlny_dlnp", "rank"])
        status = {k.name: k.status for k in sens.knobs}
        for out in sens.dy_per_range:
            for rank, (name, v) in enumerate(sens.ranked(out), 1):
                w.writerow([out, name, status[name], sens.nominal[out], sens.dy_dp[out][name],
                            v, sens.elasticity[out][name], rank])
    return path


def band_csv(band: Band, path: str | Path, curve: str, x: Sequence[float], x_name: str = "x",
             nominal: Sequence[float] | None = None) -> Path:
    """A curve's band as CSV: x, each percentile (``p5``, ``p50``, ...), the nominal curve."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pct = band.percentiles(curve)
    cols = [f"p{q:g}" for q in band.q]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([x_name, *cols] + (["nominal"] if nominal is not None else []))
        for i, xi in enumerate(x):
            w.writerow([xi, *[pct[j][i] for j in range(len(cols))]]
                       + ([nominal[i]] if nominal is not None else []))
    return path


def scalar_band_table(band: Band, outputs: Sequence[str] | None = None) -> dict[str, dict]:
    """{output: {p5: .., p50: .., p95: .., failed: n}} for the scalar outputs."""
    out = {}
    for name in outputs or list(band.values):
        if band.values[name].ndim != 1:
            continue
        pct = band.percentiles(name)
        out[name] = {**{f"p{q:g}": float(v) for q, v in zip(band.q, pct)},
                     "failed": band.failed(name)}
    return out


def fit_markdown(result: FitResult, units: dict[str, str] | None = None) -> str:
    """The fit: values with 1 sigma, then measured, model and residual per datum."""
    units = units or {}
    lines = ["| fitted parameter | value | 1-sigma |", "|---|---|---|"]
    for k, v in result.values.items():
        lines.append(f"| `{k}` | {v:.4g} {units.get(k, '')} | {result.std[k]:.2g} |")
    lines += ["", "| datum | measured | sigma | model | residual |", "|---|---|---|---|---|"]
    for k, y in result.data.items():
        lines.append(f"| {k} | {y:.4g} | {result.sigma[k]:.2g} | {result.model[k]:.4g} | "
                     f"{result.residuals[k]:+.2g} |")
    lines += ["", f"chi^2 = {result.chi2:.3g} for {result.dof} degree(s) of freedom; "
              f"{result.nfev} evaluations"
              + (f" and {result.njev} Jacobians" if result.njev else "")
              + f"; scipy status {result.status} "
              + ("(converged)" if result.converged else "(NOT converged)")
              + f": {result.message}"]
    if result.transform and any(v == "log" for v in result.transform.values()):
        lines[-1] += (" Fitted in ln|p| for " + ", ".join(
            f"`{k}`" for k, v in result.transform.items() if v == "log") + ".")
    for k in result.at_bound:
        lo, hi = result.bounds.get(k, [math.nan, math.nan])
        lines[-1] += (f" `{k}` ends on a bound of its fit range [{lo:.4g}, {hi:.4g}]: the "
                      "data push it beyond the range (a constrained optimum).")
    return "\n".join(lines)


def write_report(stem: str | Path, *, title: str, sections: Sequence[tuple[str, str]],
                 data: dict) -> tuple[Path, Path]:
    """Write ``<stem>.md`` (a title, then ``(heading, markdown)`` sections) and
    ``<stem>.json`` (``data``, NumPy values converted)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    md = [f"# {title}", ""]
    for head, body in sections:
        md += [f"## {head}", "", body.rstrip(), ""]
    md_path, json_path = stem.with_suffix(".md"), stem.with_suffix(".json")
    md_path.write_text("\n".join(md))
    json_path.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")
    return md_path, json_path


def _jsonable(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if hasattr(o, "as_dict"):
        return o.as_dict()
    raise TypeError(f"not JSON: {type(o).__name__}")
