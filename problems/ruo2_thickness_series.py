"""RuO2/TiO2(110): interfacial polarization and residual strain against film thickness.

Runs problems/ruo2_tio2_110_polar_1d.toml for each thickness and writes
results/ruo2_series/table.csv (thickness, interfacial P and displacement, a1*_z of the film,
residual strains along x = [001] and y = [1-10], the work function and its parts from the
solved fields) and work_function.png against the paper's KPFM values
(problems/reference/ruo2_tio2_110_work_function.csv).

    .venv/bin/python problems/ruo2_thickness_series.py [--out DIR] [--thickness 1.5 3.5 ...]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "ruo2_tio2_110_polar_1d.toml"
THICKNESSES_NM = (1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 8.0, 10.0, 13.0, 17.2)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/ruo2_series"))
    parser.add_argument("--thickness", type=float, nargs="+", default=list(THICKNESSES_NM))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv)
    rows = []
    for t in args.thickness:
        run_dir = args.out / f"t_{t:g}nm"
        sets = [f"layers.film.thickness_nm={t}"] + args.overrides
        cmd = [sys.executable, "-m", "heterofem.solver.cli", "run", str(CONFIG), "--out",
               str(run_dir), "--overwrite"] + [a for s in sets for a in ("--set", s)]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        summary = json.loads((run_dir / "summary.json").read_text())
        pol, wf = summary["polarization"], summary["work_function"]
        iface = pol["interfaces"]["substrate/film"]
        strain = pol["strain"]["film"]
        rows.append({
            "thickness_nm": t,
            "P_interface_C_m2": iface["P_C_m2"],
            "decay_length_in_film_nm": iface.get("decay_length_above_nm") or float("nan"),
            "max_displacement_pm": pol["max_displacement_pm"],
            "a1_film_J_m_C2": pol["a1_zz_J_m_C2"]["film"],
            "strain_x_001": strain["strain_x"],
            "strain_y_1-10": strain["strain_y"],
            "work_function_eV": wf["work_function_eV"],
            "wf_band_alignment_eV": wf["band_alignment_eV"],
            "wf_polarization_eV": wf["polarization_eV"],
            "wf_charges_eV": wf["charges_eV"],
        })
        print(", ".join(f"{k} = {v:.4g}" for k, v in rows[-1].items()), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "table.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _figure(rows, args.out / "work_function.png")
    return rows


def _figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    lines = (HERE / "reference" / "ruo2_tio2_110_work_function.csv").read_text().splitlines()
    data = [line for line in lines if line and not line.startswith("#")][1:]  # past "x,y"
    ref = np.array([[float(v) for v in line.split(",")] for line in data])
    t = [r["thickness_nm"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(t, [r["work_function_eV"] for r in rows], "o-", color="k", label="heterofem")
    ax.plot(t, [r["work_function_eV"] - r["wf_polarization_eV"] for r in rows], "--",
            color="0.5", label="without the polarization part")
    ax.plot(ref[:, 0], ref[:, 1], "s", color="tab:red", label="KPFM (Jeong et al. 2026)")
    ax.set_xlabel("RuO2 thickness [nm]")
    ax.set_ylabel("work function [eV]")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
