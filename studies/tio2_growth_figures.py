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


def _band(ax, x, values, colour, label, nominal=None, samples=False) -> int:
    """Nominal curve (thick, on top) and the 5-95 % band of the sampled curves (rows of
    ``values``): a light fill with dashed edges, and with ``samples`` each sampled curve as a
    thin line (a band from a few samples is read best from the samples themselves). Returns
    the number of finite samples."""
    values = np.atleast_2d(values)
    ok = np.isfinite(values).any(axis=1)
    if samples:
        for row in values[ok]:
            ax.plot(x, row, color=colour, lw=0.6, alpha=0.45, zorder=2)
    if ok.sum() >= 2:
        lo, hi = np.nanpercentile(values[ok], (5, 95), axis=0)
        ax.fill_between(x, lo, hi, color=colour, alpha=0.10, lw=0, zorder=1)
        for edge in (lo, hi):
            ax.plot(x, edge, color=colour, lw=0.8, ls="--", zorder=2)
    if nominal is not None:
        ax.plot(x, nominal, color=colour, lw=2.2, label=label, zorder=4)
    return int(ok.sum())


def headline(nominal: dict, band_values: dict, refs: dict, path: Path, label: str = "") -> Path:
    """Epitaxial thickness against the deposit, with bands and the paper's observations
    (problems/reference/tio2_vo2_growth.csv): left, 150 C on VO2 (the fitted point and the
    predictions); right, the two controls, 300 C on VO2 and 150 C on bare TiO2(001). Each curve:
    nominal (thick), the Latin-hypercube samples (thin), their 5-95 % band (dashed edges)."""
    plt = _plt()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11.0, 4.8), sharey=True)
    x = CURVE_NM
    n = {}  # finite samples per curve, per panel
    for axis, curves in ((ax, (("150C.curve", "C0", "model, on VO2, 150 C"),)),
                         (bx, (("300C.curve", "C3", "model, on VO2, 300 C"),
                               ("bare.curve", "C7", "model, on bare TiO2(001), 150 C")))):
        axis.plot(x, x, "k:", lw=1, label="deposit (fully epitaxial)")
        for key, colour, text in curves:
            if key in nominal:
                n.setdefault(axis, {})[key.split(".")[0]] = _band(
                    axis, x, band_values.get(key, np.empty((0, len(x)))), colour, text,
                    nominal[key], samples=True)
    for rid in ("epi_2p5nm_150C", "epi_6nm_150C"):
        r = refs[rid]
        d = 2.5 if "2p5" in rid else 6.0
        ax.errorbar([d], [d * r["value"]], yerr=[[d * (r["value"] - r["low"])], [0]],
                    fmt="s", color="k", mfc="white", capsize=3, zorder=5,
                    label="paper: thin films rutile throughout" if d == 2.5 else None)
    for d, rid, fitted in ((20, "plateau_20nm_150C", False), (40, "plateau_40nm_150C", True),
                           (60, "plateau_60nm_150C", False)):
        r = refs[rid]
        ax.errorbar([d], [r["value"]], yerr=[[r["value"] - r["low"]], [r["high"] - r["value"]]],
                    fmt="D" if fitted else "o", color="k", mfc="k" if fitted else "white",
                    capsize=3, zorder=5,
                    label=("paper: ~10 nm, the FITTED datum" if fitted else
                           "paper: ~10 nm plateau (text)" if d == 20 else None))
    films = [(2.5, nominal.get("fraction_2.5nm", np.nan) * 2.5),
             (6.0, nominal.get("film6nm.fraction", np.nan) * 6.0),
             (40.0, nominal.get("film40nm.epitaxial_nm", np.nan))]
    ax.plot(*zip(*films), "*", color="C0", mec="k", ms=11, zorder=6,
            label="model: single films after cooldown")
    bx.plot([6.0], [0.0], "x", color="k", ms=9, mew=2, zorder=6, clip_on=False,
            label="paper: bare 6 nm film amorphous (XRD, HRTEM)")
    bx.text(0.97, 0.60, "paper, 300 C:\nepitaxial film grows\nwith the deposit (text)",
            transform=bx.transAxes, ha="right", va="top", fontsize=8, color="C3")
    for axis, title in ((ax, "150 C on a 12 nm VO2 template"),
                        (bx, "controls: 300 C on VO2, 150 C without template")):
        counts = n.get(axis, {})
        count = (f"{next(iter(counts.values()))}" if len(set(counts.values())) == 1 else
                 ", ".join(f"{c} at {name}" for name, c in counts.items()))
        axis.plot([], [], color="0.4", lw=0.6,
                  label=f"thin: sampled parameter sets that ran (n = {count})")
        axis.plot([], [], color="0.4", lw=0.8, ls="--", label="dashed: 5-95 % band")
        axis.set_xlabel("deposited TiO2 [nm]")
        axis.set_xlim(0, 61)
        axis.set_ylim(0, 61)
        axis.set_title(title, fontsize=9)
        axis.legend(fontsize=7, loc="upper left")
        axis.grid(alpha=0.25)
    ax.set_ylabel("epitaxial (crystalline) TiO2 [nm]")
    fig.suptitle(f"TiO2 on VO2: epitaxial thickness against the deposit{label}", fontsize=10)
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
