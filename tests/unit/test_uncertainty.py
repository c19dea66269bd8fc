"""The uncertainty toolkit (heterofem.studies.uncertainty, uncertainty_report) on cheap analytic
models (no FEM): Latin-hypercube coverage, finite-difference sensitivities against analytic
derivatives, percentile bands against the exact distribution, the fit's 1 sigma, the ledger's
knobs and the predictions' verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from heterofem.solver.ledger import Ledger
from heterofem.studies import uncertainty as uq
from heterofem.studies import uncertainty_report as ur
from heterofem.studies.uncertainty_models import case_sets


def _knobs():
    return [uq.Knob("a", 2.0, 1.0, 3.0), uq.Knob("b", 0.5, 0.0, 1.0),
            uq.Knob("M.k", 1e-8, 1e-9, 1e-7, dist="loguniform")]


def _model(samples):
    """y = a^2 b + 3, z = a + 10 b, w = log10(k); a curve c(x) = a x + b on 5 points."""
    x = np.linspace(0.0, 1.0, 5)
    return [{"y": s["a"] ** 2 * s["b"] + 3.0, "z": s["a"] + 10 * s["b"],
             "w": np.log10(s["M.k"]), "c": s["a"] * x + s["b"]} for s in samples]


def test_latin_hypercube_puts_one_sample_in_each_stratum_of_each_knob():
    knobs = _knobs()
    n = 40
    samples = uq.lhs_samples(knobs, n, seed=3)
    for k in knobs:
        v = np.array([s[k.name] for s in samples])
        assert np.all((v >= k.low) & (v <= k.high))
        u = (np.log(v / k.low) / np.log(k.high / k.low) if k.dist == "loguniform"
             else (v - k.low) / k.width)
        strata = np.floor(u * n).astype(int)
        assert sorted(strata) == list(range(n)), k.name  # every stratum exactly once
    # a different seed gives different points; the same seed the same ones
    assert uq.lhs_samples(knobs, n, seed=3) == samples != uq.lhs_samples(knobs, n, seed=4)


def test_finite_difference_sensitivities_match_the_analytic_derivatives():
    knobs = _knobs()
    sens = uq.sensitivities(_model, knobs, step=0.01)
    a, b = 2.0, 0.5
    assert sens.nominal["y"] == pytest.approx(a * a * b + 3)
    assert sens.dy_dp["y"]["a"] == pytest.approx(2 * a * b, rel=1e-6)
    assert sens.dy_dp["y"]["b"] == pytest.approx(a * a, rel=1e-6)
    assert sens.dy_dp["y"]["M.k"] == pytest.approx(0.0, abs=1e-12)
    assert sens.dy_per_range["z"]["b"] == pytest.approx(10 * 1.0, rel=1e-9)
    assert sens.elasticity["y"]["a"] == pytest.approx(2 * a * b * a / (a * a * b + 3), rel=1e-6)
    assert sens.dy_dp["w"]["M.k"] == pytest.approx(1 / (1e-8 * np.log(10)), rel=2e-3)
    assert "c" not in sens.dy_dp  # curves get bands, not derivatives
    assert [n for n, _ in sens.ranked("z")] == ["b", "a", "M.k"]
    ranks = dict(uq.ranking(sens))
    assert ranks["b"] > ranks["a"] > 0 and sum(ranks.values()) == pytest.approx(1.0)


def test_one_sided_difference_at_the_edge_of_the_range():
    knob = uq.Knob("a", 3.0, 1.0, 3.0)
    sens = uq.sensitivities(lambda s: [{"y": x["a"] ** 3} for x in s], [knob], step=1e-4)
    assert sens.dy_dp["y"]["a"] == pytest.approx(27.0, rel=1e-3)


def test_percentile_band_of_a_uniform_knob_is_the_exact_quantile():
    knob = uq.Knob("a", 0.5, 0.0, 1.0)
    band = uq.propagate(lambda s: [{"y": 4 * x["a"] + 1, "c": x["a"] * np.ones(3)} for x in s],
                        [knob], n=200, seed=1)
    p5, p50, p95 = band.percentiles("y")
    # y uniform on [1, 5]: quantiles 1.2, 3, 4.8, met to the LHS stratum width 4/200
    assert (p5, p50, p95) == pytest.approx((1.2, 3.0, 4.8), abs=0.03)
    assert band.interval("y") == pytest.approx((1.2, 4.8), abs=0.03)
    curve = band.percentiles("c")
    assert curve.shape == (3, 3) and curve[0] == pytest.approx([0.05] * 3, abs=0.01)
    assert band.failed("y") == 0


def test_normal_knob_band_and_nan_samples():
    knob = uq.Knob("h", 1.0, -3.0, 5.0, dist="normal", sigma=0.5)
    band = uq.propagate(lambda s: [{"y": x["h"] if x["h"] < 1.8 else np.nan} for x in s],
                        [knob], n=400, seed=0)
    v = band.values["y"]
    assert np.nanstd(v) == pytest.approx(0.5, rel=0.15)
    assert band.failed("y") == pytest.approx(400 * 0.0548, abs=6)  # P(h > 1.8) = 5.5 %


def test_fit_recovers_values_and_sigma_of_a_linear_model():
    knobs = [uq.Knob("a", 1.0, -10.0, 10.0), uq.Knob("b", 0.0, -10.0, 10.0)]
    xs = (0.0, 1.0, 2.0)
    model = lambda s: [{f"y{x:g}": p["a"] * x + p["b"] for x in xs} for p in s]  # noqa: E731
    data = {"y0": 1.0, "y1": 3.0, "y2": 5.0}
    res = uq.fit(model, knobs, data, sigma=0.1)
    assert res.values == pytest.approx({"a": 2.0, "b": 1.0}, abs=1e-6)
    # exact fit (chi^2 = 0): sigma_a = 0.1 / sqrt(sum (x - xbar)^2) = 0.1 / sqrt(2)
    assert res.std["a"] == pytest.approx(0.1 / np.sqrt(2), rel=1e-3)
    assert max(abs(r) for r in res.residuals.values()) < 1e-6 and res.dof == 1
    refit = uq.refit_knobs(knobs, res)
    assert refit[0].dist == "normal" and refit[0].sigma == pytest.approx(res.std["a"])


def _ledger():
    return Ledger.model_validate({
        "study": {"name": "t", "data": ["d1"], "configs": ["x.toml"]},
        "parameter": [
            {"name": "M.a", "value": 2.0, "unit": "m", "status": "literature", "source": "s",
             "range": [1.9, 2.1]},
            {"name": "M.b", "value": 5.0, "status": "literature", "source": "s"},
            {"name": "M.c", "value": 1e-9, "status": "chosen", "why": "w",
             "looked_at_data": False, "range": [1e-10, 1e-8]},
            {"name": "layers.f.t", "value": 3.0, "status": "fitted", "fitted_to": ["d1"],
             "uncertainty": 0.2},
            {"name": "M.d", "value": 1.0, "status": "fitted", "fitted_to": ["d1"]},
            {"name": "run.x", "value": 0.0, "status": "chosen", "why": "w",
             "looked_at_data": False, "range": [0.0, 0.0]},
            {"name": "strain.law", "value": "e", "status": "chosen", "why": "w",
             "looked_at_data": False}]})


def test_ledger_knobs_take_the_ranges_and_say_what_is_left_out():
    knobs, skipped = uq.ledger_knobs(_ledger())
    by = {k.name: k for k in knobs}
    assert set(by) == {"M.a", "M.c", "layers.f.t"}
    assert by["M.c"].dist == "loguniform" and by["M.a"].dist == "uniform"
    assert by["layers.f.t"].dist == "normal" and by["layers.f.t"].sigma == 0.2
    assert by["M.a"].key == "materials.M.a" and by["layers.f.t"].key == "layers.f.t"
    assert any(s.startswith("M.d: no range") for s in skipped)
    assert any(s.startswith("run.x: zero-width") for s in skipped)
    assert {k.name for k in uq.ledger_knobs(_ledger(), literature=False)[0]} == {
        "M.c", "layers.f.t"}


def test_case_sets_skip_knobs_of_other_configs():
    knobs = [uq.Knob("M.a", 1.0, 0.0, 2.0, configs=("one",)), uq.Knob("run.t", 1, 0, 2)]
    assert case_sets({"M.a": 1.5, "run.t": 1.0}, "two", knobs) == {"run.t": 1.0}
    assert case_sets({"M.a": 1.5}, "one", knobs) == {"materials.M.a": 1.5}


def test_prediction_verdicts_and_tables(tmp_path):
    hit = ur.Prediction("t_min", "nm", 6.8, (6.1, 7.6), "~7 nm", (6.0, 8.0))
    miss = ur.Prediction("u", "pm", 14.0, (11.0, 17.0), "~9 pm", (8.0, 10.0),
                         reason="a11 too soft")
    fitted = ur.Prediction("Phi(3.5)", "eV", 5.4, (5.3, 5.5), "5.40 eV", (5.4, 5.4),
                           used_in_fit=True)
    none = ur.Prediction("x", "", 1.0, (0.5, 2.0), "not measured")
    absent = ur.Prediction("t_min", "nm", float("nan"), (float("nan"),) * 2, "~7 nm", (6, 8))
    assert absent.verdict == "miss"  # no minimum where the paper sees one
    assert [p.verdict for p in (hit, miss, fitted, none)] == ["hit", "miss", "fitted",
                                                              "no verdict"]
    md = ur.predictions_markdown([hit, miss, fitted])
    assert "| u | 14 pm (11 to 17) | ~9 pm | no | miss: a11 too soft |" in md
    assert ur.verdict_counts([hit, miss, fitted]) == {"hit": 1, "miss": 1, "fitted": 1}
    band = uq.propagate(_model, _knobs(), n=8)
    path = ur.band_csv(band, tmp_path / "b.csv", "c", np.linspace(0, 1, 5), "x_nm")
    lines = path.read_text().splitlines()
    assert lines[0] == "x_nm,p5,p50,p95" and len(lines) == 6
    sens = uq.sensitivities(_model, _knobs())
    assert "| 1 | `b` |" in ur.sensitivity_markdown(sens)
    assert len(ur.sensitivity_csv(sens, tmp_path / "s.csv").read_text().splitlines()) == 10
    md_path, js = ur.write_report(tmp_path / "r", title="T", sections=[("A", md)],
                                  data={"p": [hit], "a": np.arange(2)})
    assert md_path.read_text().startswith("# T") and '"verdict": "hit"' in js.read_text()


def test_forward_differences_need_one_run_per_knob():
    calls = []

    def model(samples):
        calls.append(len(samples))
        return _model(samples)

    knobs = _knobs()
    sens = uq.sensitivities(model, knobs, step=1e-4, central=False)
    assert calls == [1 + len(knobs)]
    assert sens.dy_dp["y"]["a"] == pytest.approx(2 * 2.0 * 0.5, rel=1e-3)
    assert sens.dy_dp["z"]["b"] == pytest.approx(10.0, rel=1e-9)
    top = uq.Knob("a", 3.0, 1.0, 3.0)  # at the top of its range: a backward difference
    back = uq.sensitivities(lambda s: [{"y": x["a"] ** 2} for x in s], [top], step=1e-5,
                            central=False)
    assert back.dy_dp["y"]["a"] == pytest.approx(6.0, rel=1e-4)


def test_a_fitted_knob_without_sigma_keeps_its_range_and_a_flat_knob_has_no_derivative():
    knob = uq.Knob("a", 1.0, 0.0, 5.0)
    res = uq.FitResult({"a": 5.0}, {"a": float("nan")}, [[1.0]], {}, {}, {}, 0.0, 0, 1, "")
    (k,) = uq.refit_knobs([knob], res)
    assert (k.value, k.low, k.high, k.status) == (5.0, 0.0, 5.0, "fitted")
    flat = uq.Knob("b", 2.0, 2.0, 2.0)
    sens = uq.sensitivities(lambda s: [{"y": x["b"]} for x in s], [flat])
    assert np.isnan(sens.dy_dp["y"]["b"])


def test_a_parameter_the_data_do_not_determine_gets_an_infinite_sigma():
    knobs = [uq.Knob("a", 1.0, -10.0, 10.0), uq.Knob("b", 0.5, -10.0, 10.0)]
    # y depends on a + b only: the difference is not determined by any datum
    model = lambda s: [{"y0": p["a"] + p["b"], "y1": 2 * (p["a"] + p["b"])} for p in s]  # noqa
    res = uq.fit(model, knobs, {"y0": 3.0, "y1": 6.0}, sigma=0.1)
    assert res.values["a"] + res.values["b"] == pytest.approx(3.0, abs=1e-6)
    assert res.std["a"] == res.std["b"] == float("inf")
    refit = uq.refit_knobs(knobs, res)
    assert refit[0].dist == "uniform" and (refit[0].low, refit[0].high) == (-10.0, 10.0)


# -- the fit's coordinates and the band at parameter sets consistent with the data -------------

from heterofem.studies import uncertainty_region as ur_region  # noqa: E402


def _valley_model(samples):
    """y1 = ln a + ln b (a and b enter only through a b: an exactly degenerate pair), y2 = c;
    the predictions p = ln a - ln b + c (along the valley) and s = ln(a b) + d (d: not
    fitted)."""
    return [{"y1": np.log(s["a"]) + np.log(s["b"]), "y2": s["c"],
             "p": np.log(s["a"]) - np.log(s["b"]) + s["c"],
             "s": np.log(s["a"] * s["b"]) + s["d"]} for s in samples]


def _valley_fit():
    knobs = [uq.Knob("a", 2.0, 0.1, 10.0, dist="loguniform"),
             uq.Knob("b", 2.0, 0.1, 10.0, dist="loguniform"), uq.Knob("c", 1.0, 0.0, 5.0),
             uq.Knob("d", 0.5, 0.0, 1.0)]
    res = uq.fit(_valley_model, knobs[:3], {"y1": 0.0, "y2": 2.0}, {"y1": 0.05, "y2": 0.1},
                 base={"d": 0.5}, log=[True, True, False], diff_step=1e-4, xtol=1e-6)
    return knobs, res


def test_a_log_fit_of_a_knob_spanning_decades_converges():
    k = uq.Knob("M.k", 1e-9, 1e-10, 1e-6, dist="loguniform")
    res = uq.fit(lambda ss: [{"w": np.log10(s["M.k"])} for s in ss], [k], {"w": np.log10(3e-8)},
                 0.01, log=True, diff_step=1e-4)
    assert res.converged and res.transform == {"M.k": "log"}
    assert res.values["M.k"] == pytest.approx(3e-8, rel=1e-4)
    assert res.std["M.k"] == pytest.approx(0.01 * np.log(10) * 3e-8, rel=1e-2)


def test_the_band_of_a_degenerate_pair_follows_the_valley_and_fits_the_data():
    knobs, res = _valley_fit()
    assert res.converged and res.chi2 < 1e-8
    assert np.isinf(res.std["a"]) and np.isinf(res.std["b"])
    band = ur_region.propagate_fit(_valley_model, knobs, res, 64, seed=1)
    ab = np.array([s["a"] * s["b"] for s in band.samples])
    # every sample fits y1 within its drawn sigma (LHS with 64 points: < 3 sigma), the
    # determined y2 too; the degenerate direction is drawn over its range (a from 0.1 to 10)
    assert np.all(np.abs(band.values["y1"]) < 3 * 0.05)
    assert np.all(np.abs(band.values["y2"] - 2.0) < 3 * 0.1)
    a = np.array([s["a"] for s in band.samples])
    assert a.min() < 0.2 and a.max() > 5 and np.all(ab > 0.8) and np.all(ab < 1.2)
    # the prediction along the valley: a wide band that contains the nominal prediction
    nom = _valley_model([{**res.values, "d": 0.5}])[0]
    for out in ("p", "s", "y1", "y2"):
        lo, hi = band.interval(out)
        assert lo < nom[out] < hi, out
    assert band.interval("p")[1] - band.interval("p")[0] > 4.0
    # the non-fitted knob keeps its own range
    d = np.array([s["d"] for s in band.samples])
    assert d.min() < 0.05 and d.max() > 0.95
    # sampling the fitted knobs independently over their ranges (refit_knobs) misses the data:
    # the check above can fail
    wide = uq.propagate(_valley_model, uq.refit_knobs(knobs, res), 64, seed=1)
    assert np.max(np.abs(wide.values["y1"])) > 1.0


def test_a_knob_at_a_bound_is_sampled_inside_its_range_near_the_bound():
    k = uq.Knob("a", 1.0, 0.0, 3.0)
    res = uq.fit(lambda ss: [{"y": s["a"]} for s in ss], [k], {"y": 5.0}, 0.1)
    assert res.at_bound == ["a"] and res.values["a"] == pytest.approx(3.0)
    samples = ur_region.fit_region_samples([k], res, 50, seed=2)
    a = np.array([s["a"] for s in samples])
    assert np.all(a <= 3.0) and np.all(a > 3.0 - 4 * 0.1)
    assert np.sum(a == 3.0) <= 1  # a truncated normal, not piled up on the bound
