"""The predictions table of the TiO2/VO2 growth study: each observation of the paper
(problems/reference/tio2_vo2_growth.csv, with its figure and sentence) against the model's
output, its propagated band (heterofem.studies.uncertainty) and a verdict
(heterofem.studies.uncertainty_report.Prediction: hit when the measured interval overlaps the
band; a direction is a hit only when the whole band has the measured sign). Misses stay in the
table with their reason; the one number the fit used is marked ``fitted``.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass

import numpy as np

from heterofem.studies import REFERENCE
from heterofem.studies.uncertainty_report import Prediction

REFERENCE_CSV = REFERENCE / "tio2_vo2_growth.csv"


def reference() -> dict[str, dict]:
    """The paper's observations by id: value, [low, high], unit, kind, condition, source."""
    with open(REFERENCE_CSV) as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        for k in ("value", "low", "high"):
            r[k] = float(r[k])
    return {r["id"]: r for r in rows}


@dataclass
class DirectionPrediction(Prediction):
    """A sign the paper observes: a hit only when the prediction and its whole band have it."""

    @property
    def verdict(self) -> str:
        if self.used_in_fit:
            return "fitted"
        if not all(map(math.isfinite, (*self.band, self.predicted))):
            return "no verdict"
        lo, hi = self.measured_interval
        vals = (self.predicted, *self.band)
        return "hit" if all(lo <= v <= hi for v in vals) else "miss"


#: (reference id, output, label, unit, used in the fit)
ROWS = (
    ("template_delta_direction", "delta_template:6-24",
     "pO2 -> VO2 oxygen deficiency: delta(6 mTorr) - delta(24 mTorr)", "1", False),
    ("film_delta_direction", "delta_film:6-24",
     "pO2 -> film stoichiometry: delta_film(6 mTorr) - delta_film(24 mTorr)", "1", False),
    ("vo2_expansion", "expansion_percent:6-24",
     "VO2 out-of-plane expansion, 6 vs 24 mTorr", "%", False),
    ("tmi_24mTorr", "T_MI_K@24mTorr", "T_MI of the template, 24 mTorr", "K", False),
    ("tmi_6mTorr", "T_MI_K@6mTorr", "T_MI of the template, 6 mTorr", "K", False),
    ("tmi_shift", "T_MI_K:6-24", "T_MI shift, 24 -> 6 mTorr", "K", False),
    ("epi_2p5nm_150C", "fraction_2.5nm",
     "2.5 nm films at 150 C (6 and 24 mTorr): crystalline fraction, the lower", "1", False),
    ("epi_6nm_150C", "film6nm.fraction", "6 nm film at 150 C: crystalline fraction", "1", False),
    ("plateau_20nm_150C", "150C.epitaxial_nm@20nm", "plateau: epitaxial thickness at 20 nm, 150 C",
     "nm", False),
    ("plateau_40nm_150C", "film40nm.epitaxial_nm", "epitaxial thickness of a 40 nm film, 150 C",
     "nm", True),
    ("plateau_60nm_150C", "150C.epitaxial_nm@60nm", "plateau: epitaxial thickness at 60 nm, 150 C",
     "nm", False),
    ("linear_300C", "300C.slope", "300 C: d(epitaxial)/d(deposit), 10-30 nm", "1", False),
    ("bare_150C", "bare.fraction@6nm", "bare TiO2(001), 6 nm at 150 C: crystalline fraction", "1",
     False),
)


def _measured_text(ref: dict) -> str:
    if ref["kind"] == "direction":
        return "> 0" if ref["value"] > 0 else "< 0"
    return f"{ref['value']:g} [{ref['low']:g}, {ref['high']:g}] {ref['unit']}"


def predictions(nominal: dict, band: dict[str, tuple[float, float]],
                reasons: dict[str, str] | None = None) -> list[Prediction]:
    """The table's rows: ``nominal`` outputs (the fitted parameter set), ``band`` {output: (5 %,
    95 %)} (an output without one is judged on its nominal value), ``reasons`` {reference id: why it misses / a note}; outputs the physics does not
    write come out as ``no verdict`` with the reason 'not modelled'."""
    refs, reasons = reference(), reasons or {}
    out: list[Prediction] = []
    for rid, key, label, unit, used in ROWS:
        ref = refs[rid]
        value = float(nominal.get(key, np.nan))
        # no band (a nominal-only run): the verdict is the nominal value's
        lo, hi = band.get(key, (value, value))
        why = reasons.get(rid, "")
        if not math.isfinite(value):
            why = why or (f"no value: the runs give no `{key}` (not modelled, or beyond the "
                          "deposit of a reduced run)")
        cls = DirectionPrediction if ref["kind"] == "direction" else Prediction
        out.append(cls(label, unit, value, (float(lo), float(hi)), _measured_text(ref),
                       (ref["low"], ref["high"]), used, why,
                       f"{ref['condition']}: {ref['source']}"))
    return out


def table_rows(preds: list[Prediction]) -> list[dict]:
    """The table as plain rows (predicted, band, measured, used in fit, verdict, reason)."""
    return [{"prediction": p.name, "unit": p.unit, "predicted": p.predicted,
             "band_low": p.band[0], "band_high": p.band[1], "measured": p.measured,
             "used_in_fit": p.used_in_fit, "verdict": p.verdict, "reason": p.reason,
             "source": p.source} for p in preds]
