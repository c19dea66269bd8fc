"""Files of the RuO2/TiO2(110) work-function study (:mod:`.ruo2_work_function_study`): the
report (Markdown + JSON), the Phi(t) figure with its band and the KPFM points (PNG + PDF), the
band and sensitivity CSVs, and the calibrated overlay."""

from __future__ import annotations

import datetime
import textwrap
from pathlib import Path

import numpy as np

from heterofem.studies import ROOT
from heterofem.studies import ruo2_study_spec as spec
from heterofem.studies import uncertainty_report as ur
from heterofem.studies.uncertainty import Band
from heterofem.studies.uncertainty_report import Prediction


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def write(result: dict, stem: Path) -> dict[str, Path]:
    """Write every file of the study next to ``stem`` (…/ruo2_work_function_study)."""
    obj = result["_objects"]
    stem = Path(stem)
    grid = result["grid_nm"]
    band_path = ur.band_csv(obj["band"], stem.parent / "ruo2_work_function_band.csv",
                            "phi_curve_eV", grid, "thickness_nm",
                            nominal=list(result["nominal"]["phi_curve_eV"]))
    sens_path = ur.sensitivity_csv(obj["sens"],
                                   stem.parent / "ruo2_work_function_sensitivity.csv")
    fig = figure(result, stem)
    data = {k: v for k, v in result.items() if k != "_objects"}
    data["band_percentiles"] = ur.scalar_band_table(obj["band"])
    data["band_values"] = dict(obj["band"].values)  # every sample's outputs
    data["band_parameter_samples"] = obj["band"].samples
    data["verdicts"] = ur.verdict_counts(obj["preds"])
    data["files"] = {"band_csv": _rel(band_path), "sensitivity_csv": _rel(sens_path),
                     "figure": [_rel(p) for p in fig]}
    md, js = ur.write_report(stem, title=_title(result), sections=_sections(result, data),
                             data=data)
    print(result["ledger"]["line"], flush=True)
    print(ur.predictions_markdown(obj["preds"]), flush=True)
    return {"md": md, "json": js, "band": band_path, "sensitivity": sens_path}


def _title(result: dict) -> str:
    t = "RuO2/TiO2(110) work function: calibration, predictions, uncertainty"
    return t + (" (quick, reduced grid)" if result["quick"] else "")


def _sections(result: dict, data: dict) -> list[tuple[str, str]]:
    """long: the report's sections: how it was made, ledger, fit, predictions, sensitivity."""
    obj = result["_objects"]
    led = obj["ledger"]
    from heterofem.solver.ledger import markdown

    how = (f"Written by `python -m heterofem.studies.ruo2_work_function_study` on "
           f"{datetime.date.today().isoformat()} ({result['wall_time_s']:.0f} s). Mechanism: "
           f"{result['mechanism']}. Thickness grid: "
           f"{', '.join(f'{t:g}' for t in result['grid_nm'])}"
           f" nm. Band: {result['band_samples']} Latin-hypercube samples (seed {result['seed']})"
           ", 5-95 %, " + (_BAND_FIT if obj["fit"] is not None else
                           "every varied parameter over its ledger range (no fit in this run)."))
    ledger_md = (markdown(led, f"problems/ledgers/{led.path.name}") + "\n\n"
                 + "Not varied: " + "; ".join(result["ledger_skipped"] or ["none"]) + ".")
    fit_md = _fit_section(obj["fit"])
    pred_md = _predictions_intro(data) + ur.predictions_markdown(obj["preds"])
    sens_md = ("Forward differences at the fitted point for every non-literature parameter "
               "(step 5 % of each range, in ln p for ranges over a decade; normal knobs: of "
               "2 sigma), through heterofem sweep, on the thickness grid "
               f"{', '.join(f'{t:g}' for t in spec.SENSITIVITY_THICKNESSES_NM)} nm. 'dy per "
               "range': the change of the output across the parameter's whole range (linear "
               "estimate). 'Share': each parameter's part of the summed |dy per range|, "
               "averaged over the outputs.\n\n"
               + ur.sensitivity_markdown(obj["sens"], outputs=[
                   k for k in spec.MEASURED if k in obj["sens"].dy_per_range]))
    return [("How this was made", how), ("Parameter ledger", ledger_md), ("Fit", fit_md),
            ("Predictions against the paper", pred_md), ("Sensitivities", sens_md),
            ("Files", "\n".join(f"- {k}: {v}" for k, v in data["files"].items()))]


def _fit_section(fit) -> str:
    """The Fit section: data, method, the fit table, and what a knob on a bound means
    (spec.BOUND_NOTES)."""
    if fit is None:
        return "No fit in this run (`--no-fit`/`--quick`): the ledger's values."
    text = (f"Fitted {len(fit.values)} parameter(s) to {len(fit.data)} KPFM point(s) "
            f"({', '.join(spec.KPFM_DATA[t] for t in spec.FIT_POINTS_NM)}), sigma = "
            f"{spec.SIGMA_EV} eV each (assumed), scipy.optimize.least_squares (dogbox, in "
            "ln|p|, forward differences of 1 % in ln p) over heterofem runs, started from "
            "spec.FIT's start values.\n\n" + ur.fit_markdown(fit))
    notes = [spec.BOUND_NOTES[n] for n in fit.at_bound if n in spec.BOUND_NOTES]
    return text + ("\n\n" + "\n\n".join(notes) if notes else "")


def _fit_of(data: dict):
    """The FitResult of a written report's JSON (None without a fit)."""
    from dataclasses import fields

    from heterofem.studies.uncertainty import FitResult

    if not data.get("fit"):
        return None
    names = {f.name for f in fields(FitResult)}
    kept = {k: v for k, v in data["fit"].items() if k in names}
    if "status" not in kept:  # a report written before the status was recorded
        kept["status"] = 0 if "maximum number" in kept.get("message", "") else 1
    return FitResult(**kept)


def _predictions_intro(data: dict) -> str:
    """The paragraph above the predictions table: verdict counts, what a hit means, and which
    fitted parameters the data leave undetermined (sampled over their whole fit range)."""
    counts = ", ".join(f"{n} {v}" for v, n in data["verdicts"].items())
    loose = [n for n, e in (data.get("fit") or {}).get("std", {}).items()
             if not np.isfinite(e)]
    text = (f"Verdicts: {counts}. A hit: the measured interval (the paper's words as numbers, "
            "studies/ruo2_study_spec.py MEASURED, written before the comparison) overlaps the "
            "model's 5-95 % band. 'fitted': the number informed the fit (not a test).")
    if loose:
        text += (" The KPFM points fix only a combination of " + ", ".join(f"`{n}`" for n in loose)
                 + " (no finite 1 sigma each): the band moves them along the valley of equal "
                 "chi^2 over their fit range, so the predictions that depend on where along "
                 "the valley the model sits get a wide band; a hit by a wide band is a weak "
                 "test.")
    return text + "\n\n"


#: the band's method, for the report (uncertainty_region.fit_region_samples)
_BAND_FIT = ("the fitted parameters drawn from the fit's linearised confidence region "
             "(heterofem.studies.uncertainty_region.fit_region_samples): in the fit's "
             "coordinates (ln|p|), the SVD of the Jacobian of the weighted residuals gives the "
             "principal directions; a direction the KPFM points determine is drawn as a normal "
             "of its 1 sigma truncated to the fit's bounds, a direction they leave open "
             "(1 sigma wider than the range along it) uniformly along the range (the valley of "
             "equal chi^2). To first order every sample fits the KPFM points as well as the "
             "optimum (within the drawn sigma), and the fitted curve lies inside the set. Every "
             "other varied parameter over its ledger range (normal knobs: +-1 sigma).")


def figure(result: dict, stem: Path) -> list[Path]:
    """long: two panels in the journal style (heterofem.postprocess.style): top, Phi(t) at
    the fitted values with its 5-95 % band and the KPFM points (filled: used in the fit;
    open: not); bottom, the polarization-induced part (Phi - the linear baseline) with its
    band and the paper's "> 1 eV near 3.5 nm". The y-limits follow the data and the curves."""
    from heterofem.postprocess.style import SINGLE_COLUMN_IN, journal_style

    band = result["_objects"]["band"]
    t = np.array(result["grid_nm"])
    nom = result["nominal"]
    fitted = set(spec.FIT_POINTS_NM) if result["fit"] or result["quick"] else set()
    with journal_style() as plt:
        fig, (ax, bx) = plt.subplots(2, 1, sharex=True, figsize=(SINGLE_COLUMN_IN, 4.4),
                                     gridspec_kw={"height_ratios": (3, 2)})
        p = band.percentiles("phi_curve_eV")
        ax.fill_between(t, p[0], p[-1], color="0.82", lw=0, label="5-95 % band")
        ax.plot(t, nom["phi_curve_eV"], "o-", color="k", ms=2.5, label="model (fitted values)")
        for tk, y in spec.KPFM_EV.items():
            used = tk in fitted
            ax.errorbar([tk], [y], yerr=[spec.SIGMA_EV], fmt="s", ms=4.5, color="tab:red",
                        mfc="tab:red" if used else "none", capsize=1.5,
                        label="KPFM, fitted" if used else "KPFM, not fitted")
        ax.axvline(7.0, color="tab:green", ls="--", lw=0.7, label="KPFM minimum ~7 nm")
        ys = np.concatenate([np.ravel(p[[0, -1]]), np.asarray(nom["phi_curve_eV"], float),
                             list(spec.KPFM_EV.values())])
        ys = ys[np.isfinite(ys)]
        pad = 0.08 * (ys.max() - ys.min()) + 0.02
        ax.set_ylim(ys.min() - pad, ys.max() + pad)
        ax.set_ylabel(r"work function $\Phi$ (eV)")
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles))
        ax.legend(uniq.values(), uniq.keys(), loc="lower right", fontsize=6)
        ax.set_title("\n".join(textwrap.wrap(f"RuO$_2$/TiO$_2$(110): {result['mechanism']}",
                                              60)), fontsize=6)
        q = band.percentiles("pol_curve_eV")
        bx.fill_between(t, q[0], q[-1], color="0.82", lw=0, label="5-95 % band")
        bx.plot(t, nom["pol_curve_eV"], "o-", color="tab:blue", ms=2.5,
                label="polarization-induced part")
        bx.axhline(1.0, color="tab:red", ls=":", lw=0.7)
        bx.plot([3.5], [1.0], "^", ms=5, color="tab:red", label="paper: > 1 eV near 3.5 nm")
        zs = np.concatenate([np.ravel(q[[0, -1]]), np.asarray(nom["pol_curve_eV"], float),
                             [0.0, 1.0]])
        zs = zs[np.isfinite(zs)]
        bx.set_ylim(min(0.0, zs.min()) - 0.05, zs.max() * 1.12 + 0.05)
        bx.set_xlabel(r"RuO$_2$ thickness (nm)")
        bx.set_ylabel(r"$\Phi - \Phi_\mathrm{baseline}$ (eV)")
        bx.legend(loc="upper right", fontsize=6)
        paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
        for path in paths:
            fig.savefig(path)
        plt.close(fig)
    return paths


def write_overlay(result: dict, stem: Path) -> Path:
    """The fitted values as the overlay studies/calibrated/ruo2_work_function.toml, applied to
    both configs (their ``--set`` keys; TIES for per-facet names)."""
    from heterofem.studies.overlay import write_overlay as write
    from heterofem.studies.uncertainty import set_key

    fit = result["_objects"]["fit"]
    knobs = {k["name"]: k for k in result["knobs"]}
    configs = {}
    for path in (spec.BILAYER, spec.TRILAYER):
        values = spec.tied(dict(fit.values), path.stem)
        table = {}
        for name, v in values.items():
            k = knobs.get(name)
            if k is not None and k["configs"] is not None and path.stem not in k["configs"]:
                continue
            table[set_key(name)] = float(f"{v * (k['factor'] if k else 1.0):.4g}")
        configs[path.stem] = table
    return write("ruo2_work_function", study="heterofem.studies.ruo2_work_function_study",
                 report=stem.with_suffix(".md") if ROOT in stem.resolve().parents else None,
                 parameters={n: {"value": v, "std": fit.std[n]} for n, v in fit.values.items()},
                 configs=configs, note="fitted to the KPFM work function "
                 + ", ".join(f"{t:g}" for t in spec.FIT_POINTS_NM) + " nm")


def predictions(nominal: dict, band, fitted_outputs: set[str]) -> list:
    """The predictions table: every MEASURED output, its nominal value and band (``band``: a
    :class:`~heterofem.studies.uncertainty.Band` or ``{output: (low, high)}``)."""
    nan2 = (float("nan"),) * 2
    preds = []
    for key, (label, unit, text, interval, used, source) in spec.MEASURED.items():
        value = float(nominal.get(key, float("nan")))
        if isinstance(band, Band):
            lo, hi = band.interval(key) if key in band.values else nan2
        else:
            lo, hi = band.get(key, nan2)
        fixed_by = _fixed_by_fit(key, nominal)
        pred = Prediction(label, unit, value, (lo, hi), text, interval,
                          used or key in fitted_outputs or bool(fixed_by), fixed_by, source)
        if pred.verdict == "miss":
            pred.reason = spec.MISS_REASONS.get(key) or _auto_reason(value, (lo, hi), interval)
        elif pred.verdict == "hit" and key in spec.WEAK_HITS:
            pred.reason = spec.WEAK_HITS[key]
        if key in spec.NOTES:
            pred.reason = "; ".join(r for r in (pred.reason, spec.NOTES[key]) if r)
        preds.append(pred)
    return preds


def _fixed_by_fit(key: str, nominal: dict) -> str:
    """Why an output is fixed by the fitted points ("" when it is not): its thicknesses
    (spec.DEPENDS_ON_THICKNESS) all fall on fitted KPFM thicknesses."""
    deps = spec.DEPENDS_ON_THICKNESS.get(key)
    if not deps:
        return ""
    ts = [nominal.get(d, float("nan")) for d in deps]
    if all(any(np.isclose(t, f) for f in spec.FIT_POINTS_NM) for t in ts):
        return ("set by the fitted point(s) at " + ", ".join(f"{t:g}" for t in sorted(set(ts)))
                + " nm")
    return ""


def _auto_reason(value: float, band, interval) -> str:
    if not np.isfinite(value):
        return "the model gives no value (e.g. no interior minimum on the grid)"
    side = "above" if value > interval[1] else "below"
    return (f"model {value:.3g} (band {band[0]:.3g}-{band[1]:.3g}) lies {side} the measured "
            f"{interval[0]:g}-{interval[1]:g}; see the sensitivities for what moves it")


def refresh(stem: Path) -> list:
    """Rebuild the predictions of a written report (``<stem>.json``) with the current spec
    (MEASURED intervals as written, NOTES, MISS_REASONS, BOUND_NOTES: the reasons are written
    after the comparison) and rewrite its Fit and predictions sections in ``<stem>.md`` and
    the JSON; no run."""
    import json

    stem = Path(stem)
    data = json.loads(stem.with_suffix(".json").read_text())
    bands = {k: (v["p5"], v["p95"]) for k, v in data["band_percentiles"].items()}
    fitted = set(data["fit"]["data"]) if data.get("fit") else set()
    preds = predictions(data["nominal"], bands, fitted)
    data["predictions"] = [p.as_dict() for p in preds]
    data["verdicts"] = ur.verdict_counts(preds)
    stem.with_suffix(".json").write_text(json.dumps(data, indent=2, default=ur._jsonable) + "\n")
    md = stem.with_suffix(".md").read_text()
    for head, body in (("## Fit\n\n", _fit_section(_fit_of(data))),
                       ("## Predictions against the paper\n\n",
                        _predictions_intro(data) + ur.predictions_markdown(preds))):
        i = md.index(head) + len(head)
        j = md.index("\n## ", i)
        md = md[:i] + body.rstrip() + "\n" + md[j:]
    stem.with_suffix(".md").write_text(md)
    return preds
