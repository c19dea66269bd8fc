"""The TiO2/VO2 low-temperature epitaxy study (heterofem.studies.tio2_vo2_growth_study, #23):
its plumbing (reference data, verdicts, knobs, deposit protocol), a reduced run of the whole
pipeline (nominal parameters, 20 nm deposits), the mechanisms on that run, and the published
predictions that HIT, checked against the reduced run with the published band as tolerance
(never the fitted number)."""

from __future__ import annotations

import json
import math

import pytest

from heterofem.studies import REPORTS
from heterofem.studies import tio2_growth_cases as C
from heterofem.studies import tio2_growth_model as M
from heterofem.studies import tio2_growth_predictions as P

PUBLISHED = REPORTS / "tio2_growth_report.json"
#: outputs the reduced study computes from the same runs as the full one
SAME_PROTOCOL = {"fraction_2.5nm", "film6nm.fraction", "bare.fraction@6nm",
                 "delta_template:6-24", "delta_film:6-24", "expansion_percent:6-24",
                 "T_MI_K@24mTorr", "T_MI_K@6mTorr", "T_MI_K:6-24"}


def test_the_reference_data_cover_every_prediction_and_one_datum_is_fitted():
    refs = P.reference()
    assert {row[0] for row in P.ROWS} <= set(refs)
    for r in refs.values():
        assert r["low"] <= r["value"] <= r["high"] and r["source"].strip(), r["id"]
    fitted = [row for row in P.ROWS if row[4]]
    assert [row[1] for row in fitted] == [M.FIT_OUTPUT]


def test_a_direction_is_a_hit_only_when_the_whole_band_has_the_sign():
    def verdict(value, band, used=False):
        return P.DirectionPrediction("d", "1", value, band, "> 0", (0.0, math.inf),
                                     used).verdict

    assert verdict(0.1, (0.01, 0.2)) == "hit"
    assert verdict(0.1, (-0.01, 0.2)) == "miss"
    assert verdict(-0.1, (-0.2, -0.01)) == "miss"
    assert verdict(0.1, (0.01, 0.2), used=True) == "fitted"
    assert verdict(float("nan"), (0.01, 0.2)) == "no verdict"


def test_the_knobs_leave_the_case_keys_to_the_cases_and_carry_the_fit():
    knobs, _ = M.knobs(fit_value=3.0, fit_sigma=0.01)
    names = {k.name for k in knobs}
    assert not names & set(M.CASE_KEYS)
    fit = next(k for k in knobs if k.name == M.FIT_PARAMETER)
    assert fit.value == 3.0 and fit.dist == "normal" and fit.sigma == 0.01
    assert all(k.status != "literature" or k.high > k.low for k in knobs)


def test_a_deposit_sets_the_film_layer_and_the_time_with_the_cooldown_hold():
    sets = C.resolved_sets(C.Case("x", C.GROWTH, {"run.temperature_K": C.T150}, 20.0),
                           {"layers.template.thickness_nm": 8.0})
    assert sets["layers.film.thickness_nm"] == 20.0
    assert sets["layers.template.thickness_nm"] == 8.0
    hold = C.KB_EV_K * C.T150 ** 2 / (1.1 * C.COOLING_K_S)  # TiO2 vacancy_Ea_c = 1.1 eV
    assert sets["time.end_s"] == pytest.approx((20.0 - 0.5) / 0.01 + hold, rel=1e-6)
    assert 40.0 < hold < 45.0
    bare = C.resolved_sets(C.Case("b", C.BARE, {}, 6.0), {"layers.template.thickness_nm": 8.0})
    assert not any(k.startswith("layers.template") for k in bare)  # no template layer


def test_the_runs_share_a_directory_only_when_every_override_is_the_same(tmp_path):
    case = C.Case("x", C.GROWTH, {}, 10.0)
    a = C.run_dir_for(case, C.resolved_sets(case, {}), tmp_path)
    sample = C.parameter_sets({"TiO2.vacancy_Ea_c": 1.1}, {"TiO2.vacancy_Ea_c": "eV"})
    assert sample == {"materials.TiO2.vacancy_Ea_c": {"value": 1.1, "unit": "eV"}}
    b = C.run_dir_for(case, C.resolved_sets(case, sample), tmp_path)
    assert a == C.run_dir_for(case, C.resolved_sets(case, {}), tmp_path) and a != b


@pytest.fixture(scope="module")
def reduced(tmp_path_factory):
    from heterofem.studies import tio2_vo2_growth_study as study

    out = tmp_path_factory.mktemp("growth_study")
    data = study.main(["--out", str(out), "--quick", "--samples", "0", "--no-sensitivity",
                       "--workers", "2"])
    return out, data


def test_the_reduced_study_writes_its_report(reduced):
    out, data = reduced
    text = (out / "report.md").read_text()
    assert data["ledger"]["line"] in text and "Predictions against the paper" in text
    assert {row["prediction"] for row in data["predictions"]} == {row[2] for row in P.ROWS}
    assert all((out / name).is_file() for name in (
        "epitaxy_vs_deposit.png", "prediction_template_thickness.png", "bands_scalars.csv"))


def test_the_mechanisms(reduced):
    """A thinner template gives at most as much epitaxy; no template, (almost) none; lower pO2
    pulls more oxygen out of the template."""
    n = reduced[1]["nominal"]
    assert n["template_4nm.epitaxial_nm@20nm"] <= n["150C.epitaxial_nm@20nm"] + 0.05
    assert n["bare.fraction@6nm"] < 0.5 * n["film6nm.fraction"]
    assert n["delta_template@6mTorr"] > n["delta_template@24mTorr"]


def test_the_published_hits_hold_within_their_band(reduced):
    """Each prediction the published study (studies/reports/tio2_growth_report.json) counts as
    a hit and that the reduced run makes the same way (the thin single films, the pO2 pair,
    the bare 6 nm film; the reduced run's 20 nm film is cooled, the published plateau points
    are read during growth) is reproduced within the published 5-95 % band (plus 2 % of the
    value for the band's sampling)."""
    assert PUBLISHED.exists(), "the published growth study is committed: run the study to restore it"
    pub = json.loads(PUBLISHED.read_text())
    key = {row[2]: row[1] for row in P.ROWS}
    n = reduced[1]["nominal"]
    checked = 0
    for row in pub["predictions"]:
        if row["verdict"] != "hit" or key[row["prediction"]] not in SAME_PROTOCOL:
            continue
        v = n[key[row["prediction"]]]
        lo = min(row["band_low"], row["predicted"])
        hi = max(row["band_high"], row["predicted"])
        tol = 0.02 * max(abs(lo), abs(hi)) + 1e-9
        assert lo - tol <= v <= hi + tol, (row["prediction"], v, lo, hi)
        checked += 1
    assert checked >= 1


def test_a_ledger_interface_rate_reaches_the_growth_runs():
    """An optional ledger entry ``interfaces."VO2_R|TiO2".vacancy_rate_k0_m_per_s`` (none in
    the committed ledger: the published runs keep the continuous mu) becomes a --set of the
    growth cases (not of the bare control, which has no template); the quick 2.5 nm case then
    builds with a mu jump on both template facets and takes steps."""
    from heterofem.solver.simulation import override_strings
    from heterofem.solver.validation import load_config
    from heterofem.studies.overlay import overrides as overlay_overrides
    from conftest import build_model

    key = f'interfaces."{C.INTERFACE_PAIR}".vacancy_rate_k0_m_per_s'
    assert key not in {p.name for p in M.load().parameter}  # default: no rate
    sets = C.parameter_sets({key: 1e-12}, {key: "m/s"})
    assert sets == {key: 1e-12}
    case = next(c for c in M.default_cases(quick=True)[0] if c.name == "vo2_150C_6mTorr")
    resolved = C.resolved_sets(case, sets)
    assert resolved[key] == 1e-12
    bare = next(c for c in M.default_cases(quick=True)[0] if c.config == C.BARE)
    assert key not in C.resolved_sets(bare, sets)
    cfg = load_config(case.config, override_strings(resolved))
    assert dict(overlay_overrides(case.config, C.OVERLAY)).items() <= resolved.items()
    problem = build_model(cfg, transient=True).problem
    kin = problem.modules["vacancies"].kinetics
    assert [k.facet for k in kin.interfaces] == ["substrate/template", "template/film"]
    h = problem.history
    h.shift(problem.u)
    h.shift(problem.u)
    for dt in (0.01, 0.02, 0.04):
        h.dt.value = dt / h.time_scale_s
        problem.solve()
        h.shift(problem.u)


def test_the_report_counts_failed_samples_and_names_every_failed_run(tmp_path, monkeypatch):
    """A band that silently drops samples overstates what it rests on: the report says how
    many samples had a failed run and lists every failed run with where and why it stopped;
    the summed run time counts the runs used."""
    import numpy as np

    from heterofem.studies import tio2_vo2_growth_study as S
    from heterofem.studies import uncertainty as uq

    ok, bad = tmp_path / "vo2_150C-ok", tmp_path / "vo2_150C-bad"
    for d, summary in ((ok, {"converged": True, "wall_time_s": 30.0}),
                       (bad, {"converged": False, "wall_time_s": 12.0, "error":
                              "at t = 0 s no step converged down to dt = 1e-08 s (the minimum "
                              "is time.dt_min_s = 1e-08 s); last error: Newton did not converge "
                              "(DIVERGED_MAX_IT); check the boundary conditions"})):
        d.mkdir()
        (d / "summary.json").write_text(json.dumps(summary))
    monkeypatch.setattr(C, "USED_RUNS", {ok: None, bad: None})
    band = uq.Band([{}] * 3, {"failed_runs": np.array([0.0, 2.0, 0.0])}, (5.0, 50.0, 95.0))
    text = S._failures_text(band)
    assert "1 of the 3 samples had a run that failed" in text
    assert "`vo2_150C-bad` (at t = 0 s no step converged down to dt = 1e-08 s: Newton did " \
           "not converge (DIVERGED_MAX_IT))" in text and "vo2_150C-ok" not in text
    assert C.runs_wall_s() == 42.0
    monkeypatch.setattr(C, "USED_RUNS", {ok: None})
    assert S._failures_text(None).endswith("No run of the study failed.")
