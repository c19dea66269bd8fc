"""Calibrate the RuO2/TiO2(110) study's fitted parameters to the KPFM work function (Jeong et
al., Nat. Commun. 2026): the fit step of heterofem.studies.ruo2_work_function_study, alone.

Fitted (studies/ruo2_study_spec.py FIT, at most three; the ledger
problems/ledgers/ruo2_tio2_110_work_function.toml counts them as fitted): by
scipy.optimize.least_squares over heterofem runs of problems/ruo2_tio2_110_polar_1d.toml at the
KPFM thicknesses of FIT_POINTS_NM, each residual (model Phi - measured) / SIGMA_EV (an assumed
0.05 eV); 1 sigma from the Jacobian. Writes the overlay studies/calibrated/ruo2_work_function.toml
(applied over both study configs) and the report studies/reports/ruo2_work_function_calibration.md
(+ .json). The full study (predictions, sensitivities, band) is
``python -m heterofem.studies.ruo2_work_function_study``, which runs this fit first.

    .venv/bin/python -m heterofem.studies.calibrate_ruo2_work_function [--no-write] [--max-nfev N]
"""

from __future__ import annotations

import argparse
import datetime
import logging

from heterofem.studies import REPORTS
from heterofem.studies import ruo2_study_spec as spec
from heterofem.studies import ruo2_work_function_study as study

REPORT = REPORTS / "ruo2_work_function_calibration.md"
LEDGER = study.LEDGER
OVERLAY = study.OVERLAY


def ledger_paragraph() -> str:
    """The report's paragraph on the study's parameter ledger (counts, fitted entries)."""
    from heterofem.solver.ledger import load_ledger, markdown

    return markdown(load_ledger(LEDGER), f"problems/ledgers/{LEDGER.name}")


def main(argv: list[str] | None = None) -> dict:
    from heterofem.solver.ledger import load_ledger, summary
    from heterofem.studies import ruo2_study_report, uncertainty_report as ur

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="fit and print only")
    parser.add_argument("--max-nfev", type=int, default=40)
    args = parser.parse_args(argv)
    logging.getLogger("heterofem").setLevel(logging.WARNING)
    ledger = load_ledger(LEDGER)
    knobs, fit_knobs, _ = study.knobs_of(ledger)
    fit = study.calibrate(fit_knobs, args.max_nfev)
    result = {"fit": fit.as_dict(), "ledger": summary(ledger), "knobs": [k.__dict__ for k in knobs],
              "_objects": {"fit": fit}}
    print(ur.fit_markdown(fit))
    if not args.no_write:
        ruo2_study_report.write_overlay(result, REPORT.with_suffix(""))
        sections = [("Fit", f"Data: {', '.join(spec.KPFM_DATA[t] for t in spec.FIT_POINTS_NM)}"
                     f" (sigma {spec.SIGMA_EV} eV, assumed).\n\n" + ur.fit_markdown(fit)),
                    ("Parameter ledger", ledger_paragraph())]
        ur.write_report(REPORT.with_suffix(""), title="Calibration: RuO2/TiO2(110) work "
                        f"function ({datetime.date.today().isoformat()})", sections=sections,
                        data={k: v for k, v in result.items() if k != "_objects"})
    return result


if __name__ == "__main__":
    main()
