"""The TiO2-delta / VO2 / TiO2(001) vacancy problem at 150 C under 6, 12 and 24 mTorr.

Runs problems/tio2_vo2_tio2_001_vacancies_1d.toml three times (the film's initial delta
follows pO2 as delta_ref (pO2/p_ref)^(-1/6)) and writes results/po2_series/table.csv: the
oxygen moved from the template into the film, and the template's and film's mean delta.

    .venv/bin/python -m heterofem.studies.tio2_vo2_po2_series [--out DIR] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

from heterofem.studies import PROBLEMS

CONFIG = PROBLEMS / "tio2_vo2_tio2_001_vacancies_1d.toml"
PRESSURES_MTORR = (6.0, 12.0, 24.0)
DELTA_REF, P_REF_MTORR, EXPONENT = 0.03, 12.0, -1.0 / 6.0


def film_delta(p_mtorr: float) -> float:
    return DELTA_REF * (p_mtorr / P_REF_MTORR) ** EXPONENT


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/po2_series"))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv)
    rows = []
    for p in PRESSURES_MTORR:
        run_dir = args.out / f"pO2_{p:g}mTorr"
        sets = [f"boundary.top.pO2_mTorr={p}", f"layers.film.delta={film_delta(p):.6g}",
                f"run.name=\"pO2_{p:g}mTorr\""] + args.overrides
        cmd = [sys.executable, "-m", "heterofem.solver.cli", "run", str(CONFIG), "--out",
               str(run_dir), "--overwrite"] + [a for s in sets for a in ("--set", s)]
        subprocess.run(cmd, check=True)
        vac = json.loads((run_dir / "summary.json").read_text())["vacancies"]
        rows.append({
            "pO2_mTorr": p,
            "film_delta_initial": vac["initial_mean_delta"]["film"],
            "film_delta_final": vac["mean_delta"]["film"],
            "template_delta_initial": vac["initial_mean_delta"]["template"],
            "template_delta_final": vac["mean_delta"]["template"],
            "oxygen_into_film_m2": vac["oxygen_transferred_up_m2"]["template/film"],
        })
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "table.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for r in rows:
        print(", ".join(f"{k} = {v:.4g}" for k, v in r.items()))
    return rows


if __name__ == "__main__":
    main()
