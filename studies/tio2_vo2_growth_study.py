"""The low-temperature epitaxy study of the TiO2/VO2 paper (Nat. Commun. 11, 1401 (2020)),
issue #23: one command runs the fit, the predictions with their propagated bands, the
sensitivities and the predictions beyond the paper, and writes the report.

    .venv/bin/python -m heterofem.studies.tio2_vo2_growth_study --out DIR [--workers 2]
        [--samples 8] [--scan-samples 4] [--no-fit] [--no-sensitivity] [--quick]

Steps (runs: heterofem.studies.tio2_growth_cases, cached in DIR/runs):
1. the parameter ledger (problems/ledgers/tio2_vo2_growth.toml) and its counts; an optional
   entry interfaces."VO2_R|TiO2".vacancy_rate_k0_m_per_s (none committed: mu continuous)
   gives the template facets a finite vacancy transfer rate in every growth run
   (tio2_growth_cases.INTERFACE_PAIR, docs/model.md "Interface kinetics");
2. the fit (heterofem.studies.calibrate_tio2_epitaxy): ONE parameter, the amorphous film's
   vacancy formation energy, by least squares to ONE datum, the ~10 nm epitaxial thickness at
   150 C (taken at 40 nm of deposit, 10 +- 3 nm); written to studies/calibrated/tio2_epitaxy.toml;
3. the nominal runs (the fitted value, every other parameter at its ledger value): on VO2 at
   150 and 300 C to 60 nm, the 6 / 24 mTorr pair (2.5 nm films on 14 nm VO2), the bare-TiO2
   control, and the scans beyond the paper (template 4, 8, 24 nm; 100, 200, 250 C);
4. one-sided finite-difference sensitivities of every output to every ledger knob;
5. a Latin-hypercube band (heterofem.studies.uncertainty.propagate) over every knob's range
   (the fitted value from its 1 sigma), ``--samples`` samples (the scans on the first
   ``--scan-samples``);
6. the predictions table against problems/reference/tio2_vo2_growth.csv (hit/miss with the
   reason), the figures with bands, the bands and sensitivities as CSV, DIR/report.{md,json};
   without ``--quick`` the report, figures and CSVs are also copied to studies/reports/tio2_growth_*.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np

from heterofem.studies import REPORTS
from heterofem.studies import tio2_growth_figures as figs
from heterofem.studies import tio2_growth_model as M
from heterofem.studies.tio2_growth_cases import BARE, GROWTH, OVERLAY
from heterofem.studies.tio2_growth_outputs import CURVE_NM
from heterofem.studies.tio2_growth_predictions import predictions, reference, table_rows
from heterofem.studies.tio2_growth_reasons import reasons, xrd_paragraph

#: the study's configs (the calibration overlay holds a value for each)
CONFIGS = (GROWTH, BARE)
LEDGER = M.LEDGER
ledger_summary = M.ledger_summary
__all__ = ["BARE", "CONFIGS", "GROWTH", "LEDGER", "OVERLAY", "ledger_summary", "main"]
#: the outputs whose sensitivities the report ranks
SENS_OUTPUTS = ("film6nm.fraction", "fraction_2.5nm", "delta_template@24mTorr",
                "delta_template:6-24", "delta_film@24mTorr", "delta_film:6-24",
                "expansion_percent:6-24", "T_MI_K@24mTorr", "T_MI_K:6-24", "bare.fraction@6nm")
TEMPLATES_NM = (4.0, 8.0, 12.0, 24.0)
NOTES = (
    "Notes. (1) Thin films and the fitted 40 nm film are single runs of that deposit with the "
    "cooldown as an isothermal hold (heterofem.studies.tio2_growth_cases.hold_s); the curves "
    "and the 20 / 60 nm plateau points are read off one 60 nm run during growth (no hold: the "
    "hold crystallizes the top ~1 nm of a thin film, not the buried front of a thick one). "
    "(2) Sensitivities are one-sided differences (10 % of each range) on the short runs "
    "(6 nm film, the 6 / 24 mTorr pair, bare 6 nm): the long runs were too expensive to repeat "
    "per knob on the shared machine; the plateau's and 300 C's spread is in the band. "
    "(3) The bands come from few Latin-hypercube samples: their 5-95 % are close to the "
    "sampled extremes. (4) T_MI is the linear law T_MI(0) + dT/d delta x delta, reported only "
    "inside its range of validity 0 <= delta <= VO2_R.T_MIT_law_delta_max (0.03, the W-doping "
    "range of the analogy it rests on; solver/template.py): outside it summary.json has "
    "T_MI_K = null with a T_MI_note (the thick films and thin templates of the scans reach "
    "delta well above 0.03, ~0.08 for the 12 nm template under 60 nm and more for thinner "
    "templates, where the law would give ~100 K or less, down to below 0 K); only the 2.5 nm pO2 pair is compared "
    "with the paper, and its deltas (< 0.01) lie inside. (5) A hit means that the measured "
    "interval overlaps the 5-95 % band: where the band spans a factor of several (the plateau "
    "points, the 6 nm film's fraction, the bare control) such a hit is weak, and the nominal "
    "value against the datum is the stronger reading.")
TEMPERATURES_C = (100.0, 150.0, 200.0, 250.0, 300.0)


def one_sided_sensitivities(model, knobs, step: float = 0.1, outputs=None):
    """Forward differences (1 + n runs instead of the toolkit's 1 + 2n central ones: the
    study's runs are minutes each): p -> p + h, h = ``step`` x the range (in ln p for a
    loguniform knob, 2 sigma for a normal one), backwards where p + h leaves the range.
    Returns the toolkit's :class:`~heterofem.studies.uncertainty.Sensitivity`."""
    from heterofem.studies import uncertainty as uq

    p0 = uq.nominal(knobs)
    batch, steps = [dict(p0)], {}
    for k in knobs:
        if k.dist == "loguniform":
            f = math.exp(step * math.log(k.high / k.low))
            new = k.value * f if k.value * f <= k.high else k.value / f
        else:
            h = step * (2 * k.sigma if k.dist == "normal" else k.width)
            new = k.value + h if k.value + h <= k.high else k.value - h
        steps[k.name] = new - k.value
        batch.append({**p0, k.name: new})
    res = model(batch)
    names = [n for n in (outputs or res[0]) if np.ndim(res[0].get(n, np.nan)) == 0]
    y0 = {n: float(res[0].get(n, np.nan)) for n in names}
    dydp, per_range, elast = {}, {}, {}
    for n in names:
        dydp[n], per_range[n], elast[n] = {}, {}, {}
        for j, k in enumerate(knobs, 1):
            d = (float(res[j].get(n, np.nan)) - y0[n]) / steps[k.name]
            dydp[n][k.name] = d
            per_range[n][k.name] = d * _span(k)
            elast[n][k.name] = d * k.value / y0[n] if y0[n] else float("nan")
    return uq.Sensitivity(list(knobs), y0, dydp, per_range, elast, steps)


def _span(k) -> float:
    """What dy/dp is multiplied by for the change across a knob's range (as the toolkit's
    central differences): the width; 2 sigma (normal); p ln(high/low) (loguniform)."""
    if k.dist == "normal":
        return 2 * k.sigma
    if k.dist == "loguniform":
        return k.value * math.log(k.high / k.low)
    return k.width


def _intervals(band) -> dict[str, tuple[float, float]]:
    out = {}
    for name, v in band.values.items():
        if np.ndim(v) == 1 and np.isfinite(v).sum() >= 2:
            out[name] = band.interval(name)
    return out


def _scalar_csv(path: Path, nominal: dict, band) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["output", "nominal", "p5", "p50", "p95", "samples_with_value"])
        for name in sorted(k for k, v in nominal.items() if np.ndim(v) == 0):
            v = np.asarray(band.values.get(name, []), float) if band else np.array([])
            fin = v[np.isfinite(v)] if v.ndim == 1 else np.array([])
            p = np.percentile(fin, (5, 50, 95)) if len(fin) else [np.nan] * 3
            w.writerow([name, nominal[name], *p, len(fin)])
    return path


def _scan_table(nominal: dict, intervals: dict, prefixes, xs, unit, deposits=(10, 20, 60)) -> str:
    lines = [f"| {unit} | " + " | ".join(f"after {d} nm" for d in deposits) + " |",
             "|---" * (len(deposits) + 1) + "|"]
    for x, p in zip(xs, prefixes):
        cells = []
        for d in deposits:
            k = f"{p}.epitaxial_nm@{d}nm"
            lo, hi = intervals.get(k, (np.nan, np.nan))
            cells.append(f"{nominal.get(k, np.nan):.3g} ({lo:.3g}-{hi:.3g})")
        lines.append(f"| {x:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _scan_prefixes(quick: bool):
    tmpl = [("150C" if t == 12.0 else f"template_{t:g}nm") for t in TEMPLATES_NM]
    temp = [("150C" if t == 150.0 else "300C" if t == 300.0 else f"{t:g}C")
            for t in TEMPERATURES_C]
    if quick:
        return [12.0, 4.0], ["150C", "template_4nm"], [150.0], ["150C"]
    return list(TEMPLATES_NM), tmpl, list(TEMPERATURES_C), temp


def fit_step(args, knobs0, root: Path):
    """The least-squares fit (heterofem.studies.calibrate_tio2_epitaxy), or the overlay's
    value with ``--no-fit``. Returns (value, sigma, FitResult or None)."""
    from heterofem.studies import calibrate_tio2_epitaxy as cal

    if args.no_fit or args.quick:
        value, sigma = cal.overlay_value()
        return value, sigma, None
    result = cal.fit(root, knobs0, workers=args.workers, write=not args.quick)
    return result.values[M.FIT_PARAMETER], result.std[M.FIT_PARAMETER], result


def main(argv: list[str] | None = None) -> dict:
    """long: parse, then run the steps of the module docstring in order."""
    from heterofem.solver.ledger import format_counts, markdown as ledger_markdown
    from heterofem.studies import uncertainty as uq
    from heterofem.studies import uncertainty_report as ur

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/growth_study"))
    parser.add_argument("--workers", type=int, default=3, help="runs at once")
    parser.add_argument("--samples", type=int, default=8, help="Latin-hypercube samples")
    parser.add_argument("--scan-samples", type=int, default=4,
                        help="of which run the scans beyond the paper too")
    parser.add_argument("--no-fit", action="store_true", help="use the overlay's fitted value")
    parser.add_argument("--no-sensitivity", action="store_true")
    parser.add_argument("--sens-knobs", default="",
                        help="comma-separated knob names for the sensitivities (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="reduced study (20 nm deposits, one scan case, no fit; tests)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    t0 = time.time()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    root = out  # runs cached under DIR/runs
    ledger = M.load()
    knobs0, skipped = M.knobs(ledger)
    value, sigma, fitres = fit_step(args, knobs0, root)
    knobs, _ = M.knobs(ledger, value, sigma)
    units = M.units_of(knobs)
    core, scans = M.default_cases(args.quick)
    extra = [*scans, M.FIT_CASE] if not args.quick else scans
    nominal_model = M.make_model(core, root, workers=args.workers, units=units, extra=extra,
                                 extra_first=1)
    nominal = nominal_model([uq.nominal(knobs)])[0]
    sens = None
    if not args.no_sensitivity:
        chosen = set(filter(None, args.sens_knobs.split(",")))
        short = [c for c in core if c.name in M.SENSITIVITY_CASES]
        sens = one_sided_sensitivities(M.make_model(short, root, workers=args.workers,
                                                    units=units),
                                       [k for k in knobs if not chosen or k.name in chosen],
                                       outputs=[o for o in SENS_OUTPUTS if o in nominal])
    band = None
    if args.samples >= 2:
        band_model = M.make_model(core, root, workers=args.workers, units=units, extra=scans,
                                  extra_first=args.scan_samples)
        band = uq.propagate(band_model, knobs, n=args.samples, seed=args.seed)
    intervals = _intervals(band) if band else {}
    refs = reference()
    preds = predictions(nominal, intervals, reasons(nominal, intervals))
    band_values = band.values if band else {}
    suffix = " [QUICK]" if args.quick else ""
    paths = {"headline": figs.headline(nominal, band_values, refs,
                                       out / "epitaxy_vs_deposit.png", suffix)}
    txs, tpre, Txs, Tpre = _scan_prefixes(args.quick)
    paths["template"] = figs.scan(nominal, band_values, txs, tpre,
                                  out / "prediction_template_thickness.png",
                                  "VO2 template thickness [nm]", "epitaxy vs template, 150 C")
    paths["temperature"] = figs.scan(nominal, band_values, Txs, Tpre,
                                     out / "prediction_temperature.png",
                                     "growth temperature [C]", "epitaxy vs growth temperature",
                                     deposits=(10.0, 20.0, 30.0))
    csvs = {"scalars": _scalar_csv(out / "bands_scalars.csv", nominal, band)}
    if band:
        for key in ("150C.curve", "300C.curve", "bare.curve"):
            if key in band.values:
                name = key.split(".")[0]
                csvs[key] = ur.band_csv(band, out / f"band_{name}_vs_deposit.csv", key,
                                        CURVE_NM, "deposit_nm", nominal.get(key))
    if sens:
        csvs["sensitivities"] = ur.sensitivity_csv(sens, out / "sensitivities.csv")
    tol_text = _numerics_check(root, knobs, units, args.workers) if not args.quick else ""
    rel = f"problems/ledgers/{LEDGER.name}"
    counts_line = format_counts(ledger)
    sections = [
        ("What ran", _settings_text(args, knobs, skipped, time.time() - t0) + "\n\n"
         + tol_text + "\n\n" + NOTES),
        ("Parameter ledger", f"{counts_line}\n\n{ledger_markdown(ledger, rel)}"),
        ("Fit (at most two parameters; here one)",
         ur.fit_markdown(fitres, units) if fitres else
         f"Not rerun (--no-fit / --quick): `{M.FIT_PARAMETER}` = {value:.4f} +- {sigma:.4f} eV "
         "from studies/calibrated/tio2_epitaxy.toml."),
        ("Predictions against the paper", ur.predictions_markdown(preds)
         + f"\n\nVerdicts: {ur.verdict_counts(preds)}. Bands: 5-95 % of {args.samples} "
           "Latin-hypercube samples over every knob's ledger range (the fitted value from "
           "its 1 sigma, not refitted per sample). " + _failures_text(band)),
        ("Bare-TiO2 control: what XRD would see", xrd_paragraph(nominal, intervals)),
        ("PREDICTIONS beyond the paper (not measured)",
         "Template thickness, 150 C, 12 mTorr:\n\n"
         + _scan_table(nominal, intervals, tpre, txs, "VO2 template [nm]")
         + "\n\nGrowth temperature, 12 mTorr, 12 nm template:\n\n"
         + _scan_table(nominal, intervals, Tpre, Txs, "T [C]", (10, 20, 30))
         + (f"\n\nBands of the scans from the first {args.scan_samples} samples."
            if args.scan_samples >= 2 and args.samples >= 2 else
            "\n\nNO BAND on the scans in this run (--scan-samples < 2: each scan sample is "
            "six long runs, beyond this run's compute budget); the brackets (band) read nan. "
            "Rerun with --scan-samples >= 2 for the bands.")),
        ("Sensitivities (ranked)", ur.sensitivity_markdown(sens, [o for o in SENS_OUTPUTS
                                                                  if o in sens.nominal])
         if sens else "not run (--no-sensitivity)"),
    ]
    data = {"date": datetime.date.today().isoformat(), "quick": args.quick,
            "ledger": ledger_summary(), "fit": fitres.as_dict() if fitres else
            {"values": {M.FIT_PARAMETER: value}, "std": {M.FIT_PARAMETER: sigma}},
            "predictions": table_rows(preds), "verdicts": ur.verdict_counts(preds),
            "nominal": {k: v for k, v in nominal.items() if np.ndim(v) == 0},
            "band_5_95": intervals, "samples": args.samples,
            "sensitivity": ({"dy_per_range": sens.dy_per_range, "ranking": uq.ranking(sens)}
                            if sens else None),
            "figures": {k: str(v) for k, v in paths.items()},
            "csv": {k: str(v) for k, v in csvs.items()}, "wall_s": time.time() - t0}
    md, js = ur.write_report(out / "report", title="TiO2/VO2 low-temperature epitaxy study "
                             f"(issue #23){suffix}", sections=sections, data=data)
    if not args.quick:
        _publish(out, [md, js, *paths.values(), *csvs.values()])
    print(counts_line)
    print(ur.predictions_markdown(preds))
    print(f"report: {md}")
    return data


def _failures_text(band) -> str:
    """How many Latin-hypercube samples had a run that failed (their outputs are missing from
    the bands, which then rest on fewer samples), and every failed run of the study with the
    start of its error, read from the runs' summaries."""
    from heterofem.studies.tio2_growth_cases import USED_RUNS

    failed = []
    for d in sorted(USED_RUNS):
        try:
            summary = json.loads((d / "summary.json").read_text())
        except (OSError, ValueError):
            failed.append(f"`{d.name}` (no summary)")
            continue
        if not summary.get("converged", False):
            error = str(summary.get("error", ""))
            where = error.split(";")[0].split(" (the minimum")[0]
            last = error.split("last error: ")[-1].split("; check")[0] if "last error: " \
                in error else ""
            failed.append(f"`{d.name}` ({where}{': ' + last if last else ''})")
    v = np.asarray(band.values.get("failed_runs", []), float) if band else np.array([])
    n_bad = int((v > 0).sum())
    text = (f"{n_bad} of the {v.size} samples had a run that failed: its outputs are left out "
            "of the bands (the samples with a value per output: bands_scalars.csv). "
            if v.size else "")
    if not failed:
        return text + "No run of the study failed."
    return text + (f"Failed runs ({len(failed)}, sensitivity runs included; a failed "
                   "sensitivity run scores its knob 0 for the outputs it would have given): "
                   + "; ".join(failed) + ".")


def _numerics_check(root: Path, knobs, units, workers: int) -> str:
    """The 6 nm film and the 2.5 nm 6 mTorr film rerun at a tighter time-step tolerance (the
    configs' default 1e-3 against the study's) and on a mesh with every size halved: the change
    of the outputs the study reads, so a reader sees how far the numbers are from converged."""
    from heterofem.solver.validation import load_config
    from heterofem.studies import uncertainty as uq
    from heterofem.studies.tio2_growth_cases import ERROR_TOLERANCE, core_cases, run_all

    params = M.parameter_sets_of(uq.nominal(knobs), units)
    base = [c for c in core_cases() if c.name in ("vo2_150C_6nm", "vo2_150C_6mTorr")]
    mesh = load_config(base[0].config).mesh
    checks = [(f"Time-step tolerance {ERROR_TOLERANCE:g} (study) vs 1e-3 (configs)", "_tight",
               {"time.error_tolerance": 1e-3}),
              (f"Mesh {mesh.size_nm:g} / {mesh.interface_size_nm:g} nm (bulk / interface "
               f"cells, the configs') vs halved", "_fine",
               {"mesh.size_nm": mesh.size_nm / 2, "mesh.interface_size_nm":
                mesh.interface_size_nm / 2})]
    variants = [type(c)(c.name + tag, c.config, {**c.sets, **sets}, c.deposit_nm)
                for _, tag, sets in checks for c in base]
    res = run_all([(c, params) for c in base + variants], root, workers)
    ref, out = res[:len(base)], []
    for k, (text, _, _) in enumerate(checks):
        rows = []
        for a, b in zip(ref, res[len(base) * (k + 1):len(base) * (k + 2)]):
            La, Lb = (r.series["crystalline_thickness_nm"][-1] for r in (a, b))
            da, db = (r.summary["vacancies"]["mean_delta"].get("template", np.nan)
                      for r in (a, b))
            rows.append(f"{a.case.name}: crystalline {La:.4f} vs {Lb:.4f} nm, template delta "
                        f"{da:.5g} vs {db:.5g}")
        out.append(f"{text}: " + "; ".join(rows) + ".")
    return "\n\n".join(out)


def _settings_text(args, knobs, skipped, wall) -> str:
    from heterofem.studies.tio2_growth_cases import USED_RUNS, code_hash, code_versions, runs_wall_s

    versions = code_versions()
    code = (f"Solver code hash now {code_hash()}; the runs used span {len(versions)} code "
            f"version(s) {versions}" + (" - WARNING: the shared tree changed under the study "
                                        "(the hash covers every file under solver/, so edits "
                                        "unrelated to this physics count too; the time-step "
                                        "check below reruns two cases with the newest code). "
                                        if len(versions) > 1 else ". "))
    return (code + f"Runs cached in `{args.out}/runs`; {args.workers} at a time; wall {wall:.0f} s "
            f"for this invocation (cached runs are read, not rerun); the {len(USED_RUNS)} runs "
            f"used took {runs_wall_s() / 60:.0f} min of run time in all. "
            f"{len(knobs)} knobs varied (ledger ranges): "
            + ", ".join(f"`{k.name}`" for k in knobs)
            + ". Not varied: " + "; ".join(skipped) + ". Case keys (temperature, pO2, deposit, "
            "template thickness of a scan) are set by the cases. Time-step tolerance of the "
            "study's runs: heterofem.studies.tio2_growth_cases.ERROR_TOLERANCE; smallest "
            "step: DT_MIN_S there (why: its comment).")


def _publish(out: Path, files) -> None:
    """Copy the report, figures and CSVs into studies/reports/ as tio2_growth_<name>."""
    REPORTS.mkdir(parents=True, exist_ok=True)
    for f in files:
        f = Path(f)
        shutil.copy(f, REPORTS / f"tio2_growth_{f.name}")


if __name__ == "__main__":
    main()
