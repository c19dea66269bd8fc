"""The TiO2/VO2 growth study as a batch model for the uncertainty toolkit
(heterofem.studies.uncertainty): parameter samples (ledger names -> values) in, the study's
outputs (heterofem.studies.tio2_growth_outputs) out, one set of heterofem runs per sample
(heterofem.studies.tio2_growth_cases, cached on disk and run ``workers`` at a time).

Also: the knobs the study varies (the ledger's non-literature numbers with a range, less the
keys the cases set themselves) and the ledger's counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from heterofem.studies import LEDGERS
from heterofem.studies import tio2_growth_cases as cases_mod
from heterofem.studies.tio2_growth_cases import Case, parameter_sets, run_all
from heterofem.studies.tio2_growth_outputs import sample_outputs

LEDGER = LEDGERS / "tio2_vo2_growth.toml"
#: the parameter the least-squares fit adjusts, and the datum it is fitted to
FIT_PARAMETER = "TiO2_amorphous.vacancy_formation_energy"
FIT_OUTPUT, FIT_VALUE_NM, FIT_SIGMA_NM = "film40nm.epitaxial_nm", 10.0, 3.0
#: the fit's run: a 40 nm film at 150 C on 12 nm VO2, 12 mTorr (with the cooldown hold)
FIT_CASE = cases_mod.Case("vo2_150C_40nm", cases_mod.GROWTH,
                          {"run.temperature_K": cases_mod.T150}, 40.0)
#: the cases of the sensitivities: the short ones (thin films, pO2 pair, bare 6 nm)
SENSITIVITY_CASES = ("vo2_150C_6nm", "vo2_150C_6mTorr", "vo2_150C_24mTorr", "bare_150C_6nm")
#: config keys the cases set (temperature, pO2, deposit): not varied as parameters
CASE_KEYS = ("run.temperature_K", "time.end_s", "layers.film.thickness_nm",
             "boundary.top.pO2_mTorr", "crystallization.deposition.pO2_mTorr")


def load():
    from heterofem.solver.ledger import load_ledger

    return load_ledger(LEDGER)


def ledger_summary() -> dict:
    """The study's parameter ledger in numbers (heterofem.solver.ledger.summary)."""
    from heterofem.solver.ledger import summary

    return summary(load())


def knobs(ledger=None, fit_value: float | None = None, fit_sigma: float | None = None):
    """The ledger's knobs (heterofem.studies.uncertainty.ledger_knobs, literature values with a
    range included), less the case keys; the fitted parameter at ``fit_value`` +- ``fit_sigma``
    (normal) when given. Returns (knobs, skipped reasons)."""
    from heterofem.studies import uncertainty as uq

    ledger = ledger or load()
    ks, skipped = uq.ledger_knobs(ledger, literature=True, exclude=CASE_KEYS + NOT_VARIED)
    out = []
    for k in ks:
        if k.name == FIT_PARAMETER and fit_value is not None:
            s = fit_sigma or 0.0
            lo, hi = (min(k.low, fit_value - 4 * s), max(k.high, fit_value + 4 * s))
            k = uq.Knob(k.name, fit_value, lo, hi, "fitted", k.unit,
                        "normal" if s > 0 else "uniform", s or None, k.key, k.configs)
        out.append(k)
    return out, skipped


#: ledger entries with a range that the bands do not vary: the T_MI law's validity limit decides
#: only whether T_MI is reported (solver/template.py), not any value
NOT_VARIED = ("VO2_R.T_MIT_law_delta_max",)


#: knobs that only the template's response (solver/template.py) reads after a run: they do not
#: change the solved fields, so the runs leave them out and the response is recomputed per
#: sample from the run's deltas (no run per value)
POSTPROCESS = ("VO2_R.chemical_expansion_coefficient", "VO2_R.clamped_expansion_factor",
               "VO2_R.C11", "VO2_R.C12", "VO2_R.C13", "VO2_R.C33", "VO2_R.C44", "VO2_R.C66",
               "VO2_R.T_MIT_on_TiO2_001", "VO2_R.dT_MIT_ddelta")


def retemplate(result, post_sets: dict) -> None:
    """Recompute ``summary['template']`` of a run with the post-processing values."""
    from heterofem.solver.materials import resolve_materials
    from heterofem.solver.simulation import override_strings
    from heterofem.solver.template import template_summary
    from heterofem.solver.validation import load_config

    if "template" not in result.summary or not post_sets:
        return
    cfg = load_config(result.case.config, override_strings(post_sets))
    result.summary["template"] = template_summary(cfg, resolve_materials(cfg),
                                                  result.summary["vacancies"])


def make_model(case_list: Sequence[Case], root: Path, *, workers: int = 2,
               units: dict[str, str] | None = None, extra: Sequence[Case] = (),
               extra_first: int = 0):
    """A batch model: for each sample, run ``case_list`` (and ``extra`` for the first
    ``extra_first`` samples of a batch) and read the outputs; a sample whose runs failed gives
    NaN outputs (the toolkit's percentiles skip them)."""

    def model(samples: list[dict]) -> list[dict]:
        jobs, owner = [], []
        posts = []
        for i, s in enumerate(samples):
            sets = parameter_sets({k: v for k, v in s.items() if k not in POSTPROCESS}, units)
            posts.append(parameter_sets({k: v for k, v in s.items() if k in POSTPROCESS},
                                        units))
            todo = list(case_list) + (list(extra) if i < extra_first else [])
            jobs += [(c, sets) for c in todo]
            owner += [i] * len(todo)
        results = run_all(jobs, root, workers)
        grouped: list[dict] = [{} for _ in samples]
        for i, r in zip(owner, results):
            if r.summary.get("converged", False):
                retemplate(r, posts[i])
            grouped[i][r.case.name] = r
        out = []
        for g in grouped:
            if not all(r.summary.get("converged", False) for r in g.values()):
                ok = {n: r for n, r in g.items() if r.summary.get("converged", False)}
                vals = _safe(ok)
                vals["failed_runs"] = float(len(g) - len(ok))
            else:
                vals = _safe(g)
                vals["failed_runs"] = 0.0
            out.append(vals)
        return out

    return model


def _safe(results: dict) -> dict:
    try:
        return sample_outputs(results)
    except (KeyError, ValueError, IndexError) as exc:  # a run cut short: no outputs
        print(f"tio2 growth study: no outputs from {sorted(results)}: {exc!r}", flush=True)
        return {"failed_outputs": 1.0}


def parameter_sets_of(sample: dict, units: dict[str, str]) -> dict:
    """The run overrides of a sample (the post-processing knobs left out)."""
    return parameter_sets({k: v for k, v in sample.items() if k not in POSTPROCESS}, units)


def units_of(knob_list) -> dict[str, str]:
    return {k.name: k.unit for k in knob_list}


def default_cases(quick: bool = False) -> tuple[list[Case], list[Case]]:
    """(core cases, scan cases); ``quick``: the deposit capped at 20 nm and one template and
    one temperature in the scans (the tests' reduced study)."""
    if quick:
        core = cases_mod.core_cases(deposit_nm=20.0, bare_deposit_nm=8.0, hot_deposit_nm=20.0)
        scans = cases_mod.scan_cases(deposit_nm=20.0, templates_nm=(4.0,), temperatures_C=())
        return core, scans
    return cases_mod.core_cases(), cases_mod.scan_cases()
