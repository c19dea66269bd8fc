"""The outputs of the TiO2/VO2 growth study, read from the runs of one parameter sample
(heterofem.studies.tio2_growth_cases): the numbers the predictions table compares with the
paper and the curves the figures draw.

Every output is a plain float (NaN where the physics of this checkout does not write it, e.g.
a summary key that is not there) or a 1D array on a fixed grid (the curves), so that the
uncertainty toolkit (heterofem.studies.uncertainty) can take percentiles across samples.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from heterofem.studies.tio2_growth_cases import Result

#: deposits at which the epitaxial thickness is reported [nm]
DEPOSITS_NM = (2.5, 6.0, 10.0, 20.0, 30.0, 40.0, 60.0)
#: the curve grid of the deposit [nm] (the figures' x axis)
CURVE_NM = np.linspace(1.0, 60.0, 60)
#: the 300 C linearity is judged over this deposit window [nm]
LINEAR_WINDOW_NM = (10.0, 30.0)


def get(summary: Mapping, dotted: str, default: float = float("nan")) -> float:
    """A number from summary.json by its dotted key; ``default`` when absent."""
    node = summary
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    try:
        return float(node)
    except (TypeError, ValueError):
        return default


def epitaxial_curve(r: Result, grid: np.ndarray = CURVE_NM) -> np.ndarray:
    """Epitaxial (crystalline) thickness against the deposit, on ``grid`` (NaN beyond the run)."""
    m = r.growing()
    d, L = r.series["deposited_thickness_nm"][m], r.series["crystalline_thickness_nm"][m]
    out = np.where(grid <= d[-1] + 1e-6, np.interp(grid, d, L), np.nan)
    if grid[-1] >= d[-1] - 1e-6:  # the last point after the cooldown hold
        out[np.argmin(np.abs(grid - d[-1]))] = r.series["crystalline_thickness_nm"][-1]
    return out


def growth_outputs(prefix: str, r: Result) -> dict:
    """Epitaxial thickness at the reported deposits, its fraction of the deposit, the curve."""
    out: dict = {}
    dmax = r.series["deposited_thickness_nm"][-1]
    for d in DEPOSITS_NM:
        L = r.at_deposit("crystalline_thickness_nm", d) if d <= dmax + 1e-6 else np.nan
        out[f"{prefix}.epitaxial_nm@{d:g}nm"] = L
        out[f"{prefix}.fraction@{d:g}nm"] = L / d
    out[f"{prefix}.curve"] = epitaxial_curve(r)
    out[f"{prefix}.template_delta_final"] = get(r.summary, "vacancies.mean_delta.template")
    return out


def linearity(r: Result, window: tuple[float, float] = LINEAR_WINDOW_NM) -> dict:
    """Slope d(epitaxial)/d(deposit) over the window and the largest departure from that line
    (relative to the epitaxial growth over the window)."""
    g = r.growing()
    d, L = r.series["deposited_thickness_nm"][g], r.series["crystalline_thickness_nm"][g]
    m = (d >= window[0]) & (d <= window[1])
    if m.sum() < 3:
        return {"slope": np.nan, "nonlinearity": np.nan}
    p = np.polyfit(d[m], L[m], 1)
    span = max(L[m].max() - L[m].min(), 1e-12)
    return {"slope": float(p[0]),
            "nonlinearity": float(np.max(np.abs(np.polyval(p, d[m]) - L[m])) / span)}


def film_delta(r: Result, crystalline_only: bool = False) -> float:
    """Mean delta of the deposited film (z in the film layer, deposited), optionally only its
    crystalline part (xi > 1/2): what Ti L-edge XAS (several nm probing depth) and EELS of a
    2.5 nm film see. From profiles.csv (the final fields along z)."""
    p = r.profiles()
    m = (p["layer"] == "film") & (p["deposited"] > 0.5)
    if crystalline_only:
        m &= p["xi"] > 0.5
    z, delta = p["z_nm" if "z_nm" in p else "Z_nm"][m], p["delta"][m]
    if len(z) < 2:
        return float("nan")
    return float(np.trapezoid(delta, z) / (z[-1] - z[0]))


def template_outputs(tag: str, r: Result) -> dict:
    """The template's delta, out-of-plane expansion and T_MI, and the film's stoichiometry,
    of one pO2 run."""
    return {
        f"delta_template@{tag}": get(r.summary, "vacancies.mean_delta.template"),
        # the crystalline film's delta (Ti L-edge XAS, EELS) and its surface (Ti 2p XPS),
        # as the physics writes them; from the profiles where it does not
        f"delta_film@{tag}": get(r.summary, "vacancies.mean_delta_crystalline.film",
                                 film_delta(r, crystalline_only=True)),
        f"delta_film_surface@{tag}": get(r.summary, "vacancies.surface_delta.film"),
        f"delta_film_deposit@{tag}": film_delta(r),
        f"expansion_percent@{tag}": get(
            r.summary, "template.template.out_of_plane_expansion_percent"),
        f"T_MI_K@{tag}": get(r.summary, "template.template.T_MI_K"),
        f"fraction@{tag}": final_fraction(r),
        f"deposit_delta@{tag}": get(r.summary, "crystallization.deposition_delta"),
        f"deposit_nm@{tag}": float(r.series["deposited_thickness_nm"][-1]),
        f"template_nm@{tag}": float(r.case.sets.get("layers.template.thickness_nm", np.nan)),
    }


def final_fraction(r: Result) -> float:
    """Crystalline fraction of the deposited film at the end of a run (after the hold)."""
    return get(r.summary, "crystallization.crystalline_fraction",
               r.series["crystalline_thickness_nm"][-1] / r.series["deposited_thickness_nm"][-1])


def bare_outputs(r: Result, film6: Result | None = None, at_nm: float = 6.0) -> dict:
    """The bare-TiO2 control: crystalline fraction of the paper's 6 nm film (``film6``, a run
    of that deposit; else read off the long run) and at the end of the long run ``r``, and
    whether the crystal keeps growing (its growth rate over the second half of the deposition
    relative to the deposition rate; 1 = it keeps up with the deposit, 0 = stalled)."""
    g = r.growing()
    d, L = r.series["deposited_thickness_nm"][g], r.series["crystalline_thickness_nm"][g]
    late = d >= 0.5 * d[-1]
    rate = float(np.polyfit(d[late], L[late], 1)[0]) if late.sum() >= 3 else np.nan
    L6 = (film6.series["crystalline_thickness_nm"][-1] if film6 is not None
          else r.at_deposit("crystalline_thickness_nm", at_nm))
    return {
        f"bare.crystalline_nm@{at_nm:g}nm": float(L6),
        f"bare.fraction@{at_nm:g}nm": float(L6) / at_nm,
        "bare.fraction_final": final_fraction(r),
        "bare.crystalline_nm_final": float(r.series["crystalline_thickness_nm"][-1]),
        "bare.late_growth_over_deposit": rate,
        "bare.curve": epitaxial_curve(r),
    }


def sample_outputs(results: Mapping[str, Result]) -> dict:
    """Every output of one parameter sample from its runs (by case name)."""
    out: dict = {}
    if "vo2_150C" in results:
        out.update(growth_outputs("150C", results["vo2_150C"]))
    if "vo2_300C" in results:
        out.update(growth_outputs("300C", results["vo2_300C"]))
        lin = linearity(results["vo2_300C"])
        out["300C.slope"], out["300C.nonlinearity"] = lin["slope"], lin["nonlinearity"]
    lin150 = linearity(results["vo2_150C"], (20.0, 60.0)) if "vo2_150C" in results else None
    if lin150:
        out["150C.slope_20_60nm"] = lin150["slope"]
    if {"vo2_150C_6mTorr", "vo2_150C_24mTorr"} <= set(results):
        lo, hi = (template_outputs(t, results[f"vo2_150C_{t}"]) for t in ("6mTorr", "24mTorr"))
        out.update(lo)
        out.update(hi)
        for key in ("delta_template", "delta_film", "delta_film_surface", "delta_film_deposit",
                    "expansion_percent", "T_MI_K"):
            out[f"{key}:6-24"] = lo[f"{key}@6mTorr"] - hi[f"{key}@24mTorr"]
        out["fraction_2.5nm"] = min(lo["fraction@6mTorr"], hi["fraction@24mTorr"])
    for name, r in results.items():  # single films: vo2_150C_<D>nm, after the cooldown
        if (m := re.fullmatch(r"vo2_150C_([0-9.]+)nm", name)):
            out[f"film{m.group(1)}nm.fraction"] = final_fraction(r)
            out[f"film{m.group(1)}nm.epitaxial_nm"] = float(
                r.series["crystalline_thickness_nm"][-1])
    if "bare_150C" in results:
        out.update(bare_outputs(results["bare_150C"], results.get("bare_150C_6nm")))
    for name, r in results.items():
        if name.startswith("template_") or (name.startswith("vo2_") and name.endswith("0C")
                                            and name not in ("vo2_150C", "vo2_300C")):
            out.update(growth_outputs(name.removeprefix("vo2_"), r))
    return out
