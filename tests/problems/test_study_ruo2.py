"""The RuO2/TiO2(110) work-function study (heterofem.studies.ruo2_work_function_study, issue
#22): it runs from one command on a reduced grid (the pipeline: fit values, predictions,
sensitivity, band, report, figure), and the predictions the full study reports as hits still
come out of the current physics within their propagated band; the tolerances are the band's
(studies/reports/ruo2_work_function_study.json), never a fitted KPFM number. The ledger
counts are printed."""

from __future__ import annotations

import importlib
import json
import math

import pytest

from heterofem.solver.ledger import format_counts, load_ledger
from heterofem.studies import REPORTS

STUDY = "ruo2_work_function_study"
REPORT_JSON = REPORTS / f"{STUDY}.json"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """The study with ``--quick`` (reduced grid, no fit, one knob, two samples): ~30 s."""
    module = importlib.import_module(f"heterofem.studies.{STUDY}")
    out = tmp_path_factory.mktemp("ruo2_study")
    result = module.main(["--quick", "--out", str(out)])
    return out, result


@pytest.mark.slow
def test_the_study_runs_from_one_command_and_writes_every_file(quick):
    out, result = quick
    names = {p.name for p in out.iterdir()}
    assert {f"{STUDY}.md", f"{STUDY}.json", f"{STUDY}.png", f"{STUDY}.pdf",
            "ruo2_work_function_band.csv", "ruo2_work_function_sensitivity.csv"} <= names
    report = (out / f"{STUDY}.md").read_text()
    ledger = load_ledger(importlib.import_module(f"heterofem.studies.{STUDY}").LEDGER)
    print(format_counts(ledger))
    assert format_counts(ledger).removeprefix("ledger: ") in report
    assert "| prediction | model (band) | measured | used in fit | verdict |" in report
    band = (out / "ruo2_work_function_band.csv").read_text().splitlines()
    assert band[0] == "thickness_nm,p5,p50,p95,nominal"
    assert len(band) == 1 + len(result["grid_nm"])
    # the fitted KPFM points are reported as fitted, never as hits
    verdicts = {p["name"]: p["verdict"] for p in result["predictions"]}
    assert verdicts["Phi at 1.5 nm"] == verdicts["Phi at 3.5 nm"] == "fitted"


def _full_report() -> dict:
    assert REPORT_JSON.exists(), f"{REPORT_JSON.name} is committed: run the full study to restore it"
    return json.loads(REPORT_JSON.read_text())


def test_the_report_is_of_the_current_ledger():
    report = _full_report()
    ledger = load_ledger(importlib.import_module(f"heterofem.studies.{STUDY}").LEDGER)
    print(format_counts(ledger))
    assert report["ledger"]["line"] == format_counts(ledger)
    assert not report["quick"] and report["fit"] is not None
    assert len(report["fit"]["values"]) <= 3 and len(report["fit"]["data"]) <= 3


@pytest.mark.slow
def test_the_hits_of_the_full_study_stay_within_their_band(quick):
    """Every hit of the full study that the reduced grid resolves: today's physics at the
    calibrated values gives the reported prediction to within the width of its propagated
    5-95 % band, and that band still meets the measured interval (the hit itself)."""
    _, result = quick
    report = _full_report()
    keys = {label: key for key, (label, *_rest) in _spec_measured().items()}
    checked = []
    for p in report["predictions"]:
        if p["verdict"] != "hit":
            continue
        key = keys[p["name"]]
        if key in _GRID_DEPENDENT:
            continue
        value = result["nominal"].get(key, math.nan)
        lo, hi = p["band"]
        # tolerance: the band's width (the fitted optimum may sit at the band's edge, e.g. a
        # parameter at its bound), never the measured number
        tol = 1e-6 + (hi - lo)
        assert abs(value - p["predicted"]) <= tol, (p["name"], value, p["predicted"], (lo, hi))
        mlo, mhi = p["measured_interval"]
        assert min(lo, p["predicted"]) <= mhi and max(hi, p["predicted"]) >= mlo, p["name"]
        checked.append(p["name"])
    print("hits checked against their band:", checked)
    assert checked, "no hit of the full study is resolved by the reduced grid"


#: outputs the reduced grid cannot resolve (the minimum, the peak and the modulation need the
#: full thickness series)
_GRID_DEPENDENT = {"t_peak_nm", "t_min_nm", "phi_min_eV", "phi_peak_eV", "modulation_eV",
                   "pol_part_peak_eV", "t_pol_peak_nm"}


def _spec_measured() -> dict:
    from heterofem.studies import ruo2_study_spec

    return ruo2_study_spec.MEASURED


@pytest.mark.parametrize("name", ("ruo2_work_function_study", "ruo2_thickness_series",
                                  "calibrate_ruo2_work_function"))
def test_every_ruo2_study_is_a_module_with_main(name):
    module = importlib.import_module(f"heterofem.studies.{name}")
    with pytest.raises(SystemExit) as exc:
        module.main(["--help"])
    assert exc.value.code == 0


def test_the_overlay_holds_the_fitted_values_of_the_report():
    """studies/calibrated/ruo2_work_function.toml = the full study's fit (4 digits), applied
    to both configs through the parameters' --set keys; at most three fitted values."""
    from heterofem.studies import overlay
    from heterofem.studies.uncertainty import set_key

    report = _full_report()
    data = overlay.read_overlay("ruo2_work_function")
    values = report["fit"]["values"]
    assert 1 <= len(values) <= 3
    expected = {set_key(n): float(f"{v:.4g}") for n, v in values.items()}
    for stem in ("ruo2_tio2_110_polar_1d", "tio2_ruo2_tio2_110_trilayer_1d"):
        assert data["configs"][stem] == expected
    assert {n: p["value"] for n, p in data["parameters"].items()} == pytest.approx(values)


def test_the_fit_converged_and_says_which_knob_ends_on_a_bound():
    """The report says how the least squares ended (scipy's status, converged or stopped at
    its evaluation limit) and names every knob within one difference step (1 % in ln p) of a
    bound of its fit range."""
    report = _full_report()
    fit = report["fit"]
    md = REPORT_JSON.with_suffix(".md").read_text()
    assert fit["converged"], fit["message"]  # not stopped at the evaluation limit
    label = "(converged)" if fit["converged"] else "(NOT converged)"
    assert fit["converged"] == (fit["status"] > 0)
    assert f"scipy status {fit['status']} {label}" in md
    for name, (lo, hi) in fit["bounds"].items():
        v = fit["values"][name]
        assert lo <= v <= hi
        near = min(abs(math.log(v / lo)), abs(math.log(v / hi))) <= 1e-2
        assert (name in fit["at_bound"]) == near, name
    for name in fit["at_bound"]:
        assert f"`{name}` ends on a bound of its fit range" in md


def test_the_band_samples_the_fitted_knobs_inside_the_fit_range_and_holds_the_fit():
    """The band's fitted knobs come from the fit's confidence region (within the fit's bounds),
    so the band describes the model at parameter sets consistent with the data: the fitted
    curve's value at each fitted KPFM thickness lies inside the 5-95 % band there (a band that
    samples a knob on a bound over its whole range, as before, lies beside it)."""
    report = _full_report()
    fit = report["fit"]
    for s in report["band_parameter_samples"]:
        for name, (lo, hi) in fit["bounds"].items():
            assert lo <= s[name] <= hi, name
    band = report["band_percentiles"]
    for key, model in fit["model"].items():
        assert band[key]["p5"] <= model <= band[key]["p95"], (key, model, band[key])
