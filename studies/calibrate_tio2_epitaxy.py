"""Fit the amorphous film's vacancy formation energy to the ~10 nm epitaxial thickness at 150 C.

The seed (Nat. Commun. 11, 1401 (2020)) reports that at 150 C the epitaxial TiO2 thickness on
a VO2 template saturates near 10 nm for films thicker than ~10 nm (films 2.5-60 nm). ONE
parameter is fitted to ONE number: ``TiO2_amorphous.vacancy_formation_energy`` (how many more
vacancies the amorphous deposit holds than the crystal at the same chemical potential) to the
epitaxial thickness after 40 nm of deposit, 10 +- 3 nm. Every other value keeps its ledger
value (problems/ledgers/tio2_vo2_growth.toml, which counts the values that were set by hand
with the paper in view as fitted too). The rest of the paper (thin films fully epitaxial, the
plateau at 20 and 60 nm, 300 C, the bare control, the pO2 series, the template's expansion and
T_MI) is predicted, not fitted (heterofem.studies.tio2_vo2_growth_study).

Each evaluation is a full heterofem run of problems/tio2_vo2_tio2_001_growth_1d.toml: a 40 nm
film (the film layer is the deposit) with the cooldown as an isothermal hold
(heterofem.studies.tio2_growth_cases.hold_s); the study reuses the last one. scipy's least_squares through heterofem.studies.uncertainty.fit; 1 sigma from the
Jacobian with sigma = 3 nm on the datum.

Writes the overlay studies/calibrated/tio2_epitaxy.toml (the problem files and the material
database are inputs and stay as they are) and studies/reports/tio2_epitaxy_calibration.{md,json}.

    .venv/bin/python -m heterofem.studies.calibrate_tio2_epitaxy [--out DIR] [--workers 2]
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

from heterofem.studies import REPORTS, ROOT
from heterofem.studies import tio2_growth_model as M
from heterofem.studies.overlay import read_overlay, write_overlay
from heterofem.studies.tio2_growth_cases import BARE, GROWTH, OVERLAY

REPORT = REPORTS / "tio2_epitaxy_calibration"
LEDGER = M.LEDGER
KEY = "vacancy_formation_energy"
TARGET_NM, SIGMA_NM = M.FIT_VALUE_NM, M.FIT_SIGMA_NM
#: below the crystal's formation energy (TiO2.toml): the amorphous phase holds more vacancies
BOUNDS_EV = (2.90, 3.195)
FIT_CASE = M.FIT_CASE


def overlay_value() -> tuple[float, float]:
    """The fitted value and its 1 sigma as the overlay holds them."""
    p = read_overlay(OVERLAY)["parameters"][M.FIT_PARAMETER]
    return float(p["value"]), float(p["std"])


def fit(root: Path, knobs0, workers: int = 2, write: bool = True):
    """Least squares of :data:`M.FIT_PARAMETER` to the datum; every other knob at its ledger
    value. Writes the overlay and the report unless ``write`` is False. Returns the toolkit's
    FitResult."""
    from heterofem.studies import uncertainty as uq

    start, _ = overlay_value() if (REPORT.with_suffix(".json")).exists() else (3.1, 0.0)
    k0 = next(k for k in knobs0 if k.name == M.FIT_PARAMETER)
    knob = uq.Knob(k0.name, start, BOUNDS_EV[0], BOUNDS_EV[1], "fitted", k0.unit, key=k0.key)
    base = {**uq.nominal(knobs0), M.FIT_PARAMETER: start}
    model = M.make_model([FIT_CASE], root, workers=workers, units=M.units_of(knobs0))
    result = uq.fit(model, [knob], {M.FIT_OUTPUT: TARGET_NM}, SIGMA_NM, base=base,
                    max_nfev=12, diff_step=1e-3)
    if write:
        write_report(result)
    return result


def write_values(value: float, sigma: float, date: str | None = None) -> Path:
    """The fitted value (rounded to 4 decimals, as the database carries it) into the overlay
    studies/calibrated/tio2_epitaxy.toml, for both configs of the study."""
    key = f"materials.TiO2_amorphous.{KEY}"
    return write_overlay(
        OVERLAY, study="heterofem.studies.calibrate_tio2_epitaxy",  # __name__ is __main__ under -m
        report=REPORT.with_suffix(".md"),
        parameters={M.FIT_PARAMETER: {"value": value, "std": sigma}},
        configs={config.stem: {key: round(value, 4)} for config in (GROWTH, BARE)},
        note="vacancy formation energy of the amorphous TiO2 [eV], fitted to the ~10 nm "
             "epitaxial thickness at 150 C after 40 nm of deposit", date=date)


def ledger_paragraph() -> str:
    """The report's paragraph on the study's parameter ledger (counts, fitted entries)."""
    from heterofem.solver.ledger import load_ledger, markdown

    return markdown(load_ledger(LEDGER), f"problems/ledgers/{LEDGER.name}")


def write_report(result) -> None:
    from heterofem.studies.uncertainty_report import fit_markdown

    value, sigma = result.values[M.FIT_PARAMETER], result.std[M.FIT_PARAMETER]
    date = datetime.date.today().isoformat()
    write_values(value, sigma, date)
    data = {"date": date, "config": str(GROWTH.relative_to(ROOT)), "fitted_parameters": 1,
            "data_points": 1, "parameter": M.FIT_PARAMETER, "value_eV": value,
            "sigma_eV": sigma, "bounds_eV": BOUNDS_EV,
            "target": {"output": M.FIT_OUTPUT, "epitaxial_thickness_nm": TARGET_NM,
                       "sigma_nm": SIGMA_NM,
                       "condition": "150 C, 12 nm VO2 template, 12 mTorr, 40 nm deposit"},
            "fit": result.as_dict(), "ledger": M.ledger_summary()}
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n")
    REPORT.with_suffix(".md").write_text(
        f"# Calibration: TiO2 epitaxy on VO2 (heterofem.studies.calibrate_tio2_epitaxy)\n\n"
        f"Run on {date}. **1 parameter fitted by least squares to 1 measured number.**\n\n"
        "- Datum: the epitaxial thickness at 150 C on VO2 saturates near 10 nm (Nat. Commun. "
        "11, 1401 (2020), text; Supplementary Fig. 11), taken as 10 +- 3 nm after 40 nm of "
        "deposit (0.01 nm/s, 12 mTorr, 12 nm VO2).\n"
        f"- Parameter: `{M.FIT_PARAMETER}`, bounds {BOUNDS_EV} eV.\n"
        f"- Result: **{value:.4f} +- {sigma:.4f} eV**.\n"
        f"- {ledger_paragraph()}\n\n{fit_markdown(result, {M.FIT_PARAMETER: 'eV'})}\n")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/growth_study"),
                        help="run cache (shared with the growth study)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dry-run", action="store_true", help="fit, but write nothing")
    args = parser.parse_args(argv)
    knobs0, _ = M.knobs()
    result = fit(args.out, knobs0, args.workers, write=not args.dry_run)
    print(f"{M.FIT_PARAMETER} = {result.values[M.FIT_PARAMETER]:.4f} +- "
          f"{result.std[M.FIT_PARAMETER]:.4f} eV; model {result.model}")
    return result.as_dict()


if __name__ == "__main__":
    main()
