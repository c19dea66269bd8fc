"""RuO2/TiO2(110) work-function study (issue #22): calibrate at most three parameters to at
most the three KPFM points, then predict without refitting, with sensitivities and a
propagated band, against the paper (Jeong et al., Nat. Commun. 2026, seed 002).

One command runs everything:

    .venv/bin/python -m heterofem.studies.ruo2_work_function_study [--out DIR]
        [--n-samples N] [--seed S] [--no-fit] [--quick] [--no-write]

Steps (the parameters, data and measured intervals are data: :mod:`.ruo2_study_spec` and the
ledger problems/ledgers/ruo2_tio2_110_work_function.toml):

1. the ledger's knobs (:func:`heterofem.studies.uncertainty.ledger_knobs`): every
   non-literature number with a range, literature numbers whose source gives one;
2. the fit: ``scipy.optimize.least_squares`` of the spec's FIT parameters to the FIT_POINTS_NM
   KPFM points, through heterofem runs of problems/ruo2_tio2_110_polar_1d.toml; written to the
   overlay studies/calibrated/ruo2_work_function.toml;
3. the predictions at the fitted values: the thickness series (Phi(t), its maximum and minimum,
   the modulation, the polarization-induced part, the retained misfit at 4, 6.5 and 17.2 nm,
   the computed critical thickness) and the trilayer (polar displacement, its decay, the signs
   of the interface polarizations, the compensated interfacial layer);
4. sensitivities (forward differences through ``heterofem sweep``'s run_sweep, ranked) and a
   Latin-hypercube band over every knob: the fitted ones drawn from the fit's linearised
   confidence region (:func:`heterofem.studies.uncertainty_region.fit_region_samples`: normal
   along the directions the KPFM points determine, uniform along the valley they leave open,
   within the fit's bounds), the others over their ledger ranges;
5. the report: studies/reports/ruo2_work_function_study.md/.json (ledger counts, fit,
   predictions table with hit/miss, ranked sensitivities), the figure
   ruo2_work_function_study.png/.pdf (Phi(t), band, KPFM points), the band CSV
   ruo2_work_function_band.csv and the sensitivity CSV ruo2_work_function_sensitivity.csv.

``--quick`` (the tests): the reduced grid, no fit (the ledger's values), one knob, two samples;
it writes to ``--out`` only. The full study takes 20-40 min on two cores (about 1.5 s a run).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from heterofem.studies import LEDGERS, REPORTS
from heterofem.studies import ruo2_study_report as report
from heterofem.studies import ruo2_study_spec as spec
from heterofem.studies import uncertainty as uq
from heterofem.studies.ruo2_study_outputs import bilayer_outputs, trilayer_outputs
from heterofem.studies.uncertainty_models import runs_model
from heterofem.studies.uncertainty_region import propagate_fit

BILAYER, TRILAYER = spec.BILAYER, spec.TRILAYER
LEDGER = LEDGERS / "ruo2_tio2_110_work_function.toml"
STEM = REPORTS / "ruo2_work_function_study"
OVERLAY = "ruo2_work_function"


def study_model(thicknesses, knobs, *, trilayer: bool = True, engine: str = "sweep"):
    """The study as one batch model: each sample runs the thickness series of the bilayer
    (and the trilayer), outputs merged (:mod:`.ruo2_study_outputs`)."""
    knobs = list(knobs)
    bi = runs_model(BILAYER, bilayer_outputs, scan=(spec.THICKNESS_KEY, list(thicknesses)),
                    knobs=knobs, engine=engine)
    tri = runs_model(TRILAYER, trilayer_outputs, knobs=knobs, engine=engine)

    def model(samples: list[dict]) -> list[dict]:
        out = bi([spec.tied(s, BILAYER.stem) for s in samples])
        if trilayer:
            for o, t in zip(out, tri([spec.tied(s, TRILAYER.stem) for s in samples])):
                o.update(t)
        return out

    return model


def knobs_of(ledger) -> tuple[list[uq.Knob], list[uq.Knob], list[str]]:
    """(all knobs, the fitted ones with the spec's bounds, why others are not varied)."""
    knobs, skipped = uq.ledger_knobs(ledger, exclude=spec.NOT_VARIED)
    skipped += [f"{n}: {why}" for n, why in spec.NOT_VARIED.items()]
    entries = {p.name: p for p in ledger.parameter}
    fit_knobs = []
    for f in spec.FIT:
        p = entries.get(f["name"])
        if p is None:
            raise SystemExit(f"ruo2 study: the fitted parameter {f['name']} is not in the "
                             f"ledger {LEDGER}; add it (status fitted) or change FIT in "
                             "studies/ruo2_study_spec.py")
        sigma = p.uncertainty or None  # the last fit's 1 sigma (a band without a refit)
        fit_knobs.append(uq.Knob(p.name, float(p.value), f["low"], f["high"], "fitted",
                                 p.unit, "normal" if sigma else "uniform", sigma,
                                 factor=uq._unit_factor(p.name, p.unit),
                                 configs=tuple(p.configs) if p.configs else None))
    names = {k.name for k in fit_knobs}
    others = [k for k in knobs if k.name not in names]
    return fit_knobs + others, fit_knobs, skipped


def calibrate(fit_knobs, max_nfev: int = 40) -> uq.FitResult:
    """Least squares of the fitted knobs to the spec's KPFM points, in ln|p| for every fitted
    knob (their ranges span one to three decades), difference steps of 1 % in ln p, scipy's
    dogbox method (it fixes a knob on an active bound and goes on in the others), stopped by
    scipy's ftol/xtol tests (1e-6) or at ``max_nfev`` (then reported as not converged)."""
    model = study_model(spec.FIT_POINTS_NM, fit_knobs, trilayer=False)
    data = {f"phi_{t:g}nm_eV": spec.KPFM_EV[t] for t in spec.FIT_POINTS_NM}
    start = {f["name"]: f["start"] for f in spec.FIT if "start" in f}
    return uq.fit(model, fit_knobs, data, spec.SIGMA_EV, start=start, max_nfev=max_nfev,
                  diff_step=1e-2, progress=True, log=True, xtol=1e-6, ftol=1e-6,
                  method="dogbox")


def run_study(out: Path, *, n_samples: int = 32, seed: int = 0, do_fit: bool = True,
              quick: bool = False, engine: str = "sweep") -> dict:
    """long: the whole study (steps 1-4 of the module docstring); returns the JSON-ready
    result (the report writer :mod:`.ruo2_study_report` turns it into files)."""
    from heterofem.solver.ledger import load_ledger, summary

    start = time.perf_counter()
    ledger = load_ledger(LEDGER)
    knobs, fit_knobs, skipped = knobs_of(ledger)
    fit_result = None
    if do_fit and not quick:
        fit_result = calibrate(fit_knobs)
        print("fit:", fit_result.values, "+-", fit_result.std, flush=True)
        knobs = uq.refit_knobs(knobs, fit_result)
    grid = spec.REDUCED_THICKNESSES_NM if quick else spec.THICKNESSES_NM
    # quick: the sensitivity of the first fitted knob at 3.5 nm, a 2-sample band of the
    # fitted knobs without the trilayer (the pipeline, not the numbers)
    sens_grid = (3.5,) if quick else spec.SENSITIVITY_THICKNESSES_NM
    # the sensitivities: every non-literature knob (issue #22 item 6), forward differences
    sens_knobs = knobs[:1] if quick else [k for k in knobs if k.status != "literature"]
    band_knobs = fit_knobs if quick else knobs
    n = 2 if quick else n_samples
    nominal = study_model(grid, knobs, engine=engine)([uq.nominal(knobs)])[0]
    print("nominal:", {k: v for k, v in nominal.items() if np.ndim(v) == 0}, flush=True)
    sens = uq.sensitivities(study_model(sens_grid, knobs, engine=engine, trilayer=not quick),
                            sens_knobs, base=uq.nominal(knobs), central=False)
    band_model = study_model(grid, knobs, engine=engine, trilayer=not quick)
    if fit_result is not None:  # the fitted knobs within the fit's confidence region
        band = propagate_fit(band_model, band_knobs, fit_result, n, seed=seed,
                             base=uq.nominal(knobs))
    else:
        band = uq.propagate(band_model, band_knobs, n, seed=seed, base=uq.nominal(knobs))
    fitted_outputs = set(fit_result.data) if fit_result else {
        f"phi_{t:g}nm_eV" for t in spec.FIT_POINTS_NM}
    preds = report.predictions(nominal, band, fitted_outputs)
    return {"mechanism": spec.MECHANISM, "quick": quick, "grid_nm": list(grid),
            "ledger": summary(ledger), "ledger_skipped": skipped,
            "knobs": [k.__dict__ for k in knobs],
            "fit": fit_result.as_dict() if fit_result else None,
            "nominal": nominal, "predictions": [p.as_dict() for p in preds],
            "_objects": {"sens": sens, "band": band, "preds": preds, "ledger": ledger,
                         "fit": fit_result},
            "band_samples": n, "seed": seed, "wall_time_s": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="where the report files go (default studies/reports/)")
    parser.add_argument("--n-samples", type=int, default=32, help="Latin-hypercube samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-fit", action="store_true", help="use the ledger's values")
    parser.add_argument("--quick", action="store_true", help="reduced grid, no fit (tests)")
    parser.add_argument("--no-write", action="store_true",
                        help="do not write the calibrated overlay")
    parser.add_argument("--engine", choices=("sweep", "simulation"), default="sweep")
    parser.add_argument("--refresh", action="store_true",
                        help="no runs: rebuild the predictions table of the written report "
                             "with the current spec (intervals, notes, reasons for misses)")
    args = parser.parse_args(argv)
    if args.refresh:
        stem = (args.out / STEM.name) if args.out is not None else STEM
        from heterofem.studies.uncertainty_report import predictions_markdown

        print(predictions_markdown(report.refresh(stem)))
        return {}
    logging.getLogger("heterofem").setLevel(logging.WARNING)
    if args.quick and args.out is None:
        parser.error("--quick writes only to an explicit --out")
    result = run_study(args.out or REPORTS, n_samples=args.n_samples, seed=args.seed,
                       do_fit=not args.no_fit, quick=args.quick, engine=args.engine)
    stem = (args.out / STEM.name) if args.out is not None else STEM
    report.write(result, stem)
    if result["fit"] and not args.no_write and not args.quick:
        report.write_overlay(result, stem)
    return result


if __name__ == "__main__":
    main()
