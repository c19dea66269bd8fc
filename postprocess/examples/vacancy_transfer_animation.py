"""Oxygen-vacancy transfer in a transient run: an animation of delta along z (or a map, in
2D/3D) and the vacancy inventory of every layer against time.

    python postprocess/examples/vacancy_transfer_animation.py RUN_DIR [--field delta]
                                                              [--out transfer.gif] [--fps 2]

For example on problems/tio2_vo2_tio2_001_vacancies_1d.toml (vacancies leave the TiO2-delta film
for the VO2 template). Writes OUT (.gif or .mp4) and OUT's stem + "_inventory.png" from
timeseries.csv (the N_V_<layer>_per_m2 columns), with the field output times marked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from heterofem.postprocess import PlotError, animate_run, is_root, load_run


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--field", default=None, help="default: delta (or c_V, mu, phi)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--fps", type=float, default=2.0)
    args = parser.parse_args(argv)
    if not is_root():  # under mpirun: rank 0 draws
        return []

    run = load_run(args.run_dir)
    series = run.timeseries
    if series is None:
        raise PlotError(f"{run.path} is a steady run (no timeseries.csv); run a [time] problem")
    out = args.out or run.path / "vacancy_transfer.gif"
    animation = animate_run(run, args.field, out, fps=args.fps)
    times = ", ".join(f"{t:g}" for t in run.times)
    print(f"{len(run.times)} frames (t = {times} s) -> {animation}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = [c for c in series if c.startswith("N_V_") and c != "N_V_total_per_m2"]
    if not columns:
        raise PlotError(f"{run.path}/timeseries.csv has no N_V_<layer>_per_m2 columns "
                        "(vacancies off?)")
    t = series["t_s"]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for c in columns:
        ax.plot(t[1:], series[c][1:], label=c[len("N_V_"):-len("_per_m2")])
    if "N_V_total_per_m2" in series:
        ax.plot(t[1:], series["N_V_total_per_m2"][1:], "k--", lw=1, label="total")
    for tt in run.times[1:]:
        ax.axvline(tt, color="0.7", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("t [s]")
    ax.set_ylabel("vacancies per area [m^-2]")
    ax.set_title(f"{run.name}: vacancy inventory by layer (dotted: field output times)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    inventory = out.with_name(out.stem + "_inventory.png")
    fig.savefig(inventory, dpi=130)
    plt.close(fig)
    for c in columns:
        print(f"{c}: {series[c][0]:.4g} -> {series[c][-1]:.4g}")
    print(f"wrote {inventory}")
    return [animation, inventory]


if __name__ == "__main__":
    try:
        main()
    except PlotError as exc:
        sys.exit(f"error: {exc}")
