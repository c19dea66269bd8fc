"""Figures of the TiO2/VO2 growth study (heterofem.studies.tio2_vo2_growth_study): the
epitaxial thickness against the deposit at 150 and 300 C with the paper's observations (the
headline), and the two predictions beyond the paper (template thickness, growth temperature),
each with the propagated 5-95 % band."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from heterofem.studies.tio2_growth_outputs import CURVE_NM


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _band(ax, x, values, colour, label, nominal=None):
    """Nominal curve and the 5-95 % band of the sampled curves (rows of ``values``)."""
    values = np.atleast_2d(values)
    ok = np.isfinite(values).any(axis=1)
    if ok.sum() >= 2:
        lo, hi = np.nanpercentile(values[ok], (5, 95), axis=0)
        ax.fill_between(x, lo, hi, color=colour, alpha=0.2, lw=0)
    if nominal is not None:
        ax.plot(x, nominal, color=colour, label=label)


def headline(nominal: dict, band_values: dict, refs: dict, path: Path, label: str = "") -> Path:
    """Epitaxial thickness against the deposit at 150 and 300 C and on bare TiO2, with bands
    and the paper's observations (problems/reference/tio2_vo2_growth.csv)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    x = CURVE_NM
    ax.plot(x, x, "k:", lw=1, label="deposit (fully epitaxial)")
    for key, colour, text in (("150C.curve", "C0", "on VO2, 150 C"),
                              ("300C.curve", "C3", "on VO2, 300 C"),
                              ("bare.curve", "C7", "on bare TiO2(001), 150 C")):
        if key in nominal:
            _band(ax, x, band_values.get(key, np.empty((0, len(x)))), colour, text,
                  nominal[key])
    for rid, marker in (("epi_2p5nm_150C", "s"), ("epi_6nm_150C", "s")):
        r = refs[rid]
        d = 2.5 if "2p5" in rid else 6.0
        ax.errorbar([d], [d * r["value"]], yerr=[[d * (r["value"] - r["low"])], [0]],
                    fmt=marker, color="C0", mfc="white", capsize=3)
    pts = [(20, "plateau_20nm_150C", "o"), (40, "plateau_40nm_150C", "D"),
           (60, "plateau_60nm_150C", "o")]
    for d, rid, marker in pts:
        r = refs[rid]
        ax.errorbar([d], [r["value"]], yerr=[[r["value"] - r["low"]], [r["high"] - r["value"]]],
                    fmt=marker, color="C0", mfc="white" if marker == "o" else "C0", capsize=3)
    films = [(2.5, nominal.get("fraction_2.5nm", np.nan) * 2.5),
             (6.0, nominal.get("film6nm.fraction", np.nan) * 6.0),
             (40.0, nominal.get("film40nm.epitaxial_nm", np.nan))]
    ax.plot(*zip(*films), "*", color="C0", ms=9, label="model: single films after cooldown")
    ax.plot([], [], "o", color="C0", mfc="white", label="paper, 150 C (text; D: fitted)")
    ax.plot([], [], "s", color="C0", mfc="white", label="paper: thin films rutile throughout")
    ax.plot([], [], "x", color="C7", label="paper: bare film amorphous (XRD, HRTEM)")
    ax.plot([6.0], [0.0], "x", color="C7", ms=8)
    ax.text(0.98, 0.97, "paper, 300 C: grows linearly", transform=ax.transAxes, ha="right",
            va="top", fontsize=8, color="C3")
    ax.set_xlabel("deposited TiO2 [nm]")
    ax.set_ylabel("epitaxial (crystalline) TiO2 [nm]")
    ax.set_xlim(0, 61)
    ax.set_ylim(0, 61)
    ax.set_title(f"TiO2 on VO2: epitaxial thickness (bands 5-95 %){label}", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=140)
    plt.close(fig)
    return path


def scan(nominal: dict, band_values: dict, xs: list[float], prefixes: list[str], path: Path,
         xlabel: str, title: str, deposits=(10.0, 20.0, 60.0)) -> Path:
    """A prediction beyond the paper: the epitaxial thickness at a few deposits against the
    scanned quantity (template thickness, temperature), with 5-95 % bars, and the curves."""
    plt = _plt()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10.5, 4.2))
    for j, d in enumerate(deposits):
        keys = [f"{p}.epitaxial_nm@{d:g}nm" for p in prefixes]
        y = np.array([nominal.get(k, np.nan) for k in keys])
        lo, hi = [], []
        for k in keys:
            v = np.asarray(band_values.get(k, []), float)
            v = v[np.isfinite(v)]
            lo.append(np.percentile(v, 5) if len(v) >= 2 else np.nan)
            hi.append(np.percentile(v, 95) if len(v) >= 2 else np.nan)
        lo, hi = np.array(lo), np.array(hi)
        ax.plot(xs, y, "o-", color=f"C{j}", label=f"after {d:g} nm of deposit")
        ax.fill_between(xs, lo, hi, color=f"C{j}", alpha=0.2, lw=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("epitaxial TiO2 [nm]")
    ax.legend(fontsize=8)
    ax.set_title(f"PREDICTION (not measured): {title}", fontsize=9)
    for j, (xv, p) in enumerate(zip(xs, prefixes)):
        if f"{p}.curve" in nominal:
            _band(bx, CURVE_NM, band_values.get(f"{p}.curve", np.empty((0, len(CURVE_NM)))),
                  f"C{j}", f"{xv:g}", nominal[f"{p}.curve"])
    bx.plot(CURVE_NM, CURVE_NM, "k:", lw=1)
    bx.set_xlabel("deposited TiO2 [nm]")
    bx.set_ylabel("epitaxial TiO2 [nm]")
    tops = [np.nanmax(nominal[f"{p}.curve"]) for p in prefixes if f"{p}.curve" in nominal]
    bx.set_ylim(0, 1.15 * max(tops) + 1 if tops else 61)
    bx.legend(fontsize=8, title=xlabel, title_fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=140)
    plt.close(fig)
    return path
