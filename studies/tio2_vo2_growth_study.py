"""The low-temperature epitaxy study of the TiO2/VO2 paper (Nat. Commun. 11, 1401 (2020)).

Runs problems/tio2_vo2_tio2_001_growth_1d.toml and its bare-TiO2 control, with the calibrated
vacancy formation energy of the amorphous film (studies/calibrated/tio2_epitaxy.toml, written by
heterofem.studies.calibrate_tio2_epitaxy) applied over them:

- on VO2 at 150 C and 300 C (12 mTorr): the epitaxial thickness against growth time;
- on VO2 at 150 C under 6, 12 and 24 mTorr: the template's delta (oxygen it gave up);
- on bare TiO2(001) at 150 C: the film should stay amorphous;
- a sweep of growth time (``heterofem sweep`` over time.end_s and the temperature; each case
  is a separate run stopped at that time) whose end points must fall on the curves.

Writes DIR/cases.csv, DIR/sweep/ (sweep.csv), DIR/epitaxy_vs_time.png (with the paper's
trend: saturation near 10 nm at 150 C, linear growth at 300 C) and DIR/checks.json, the
claims of the study evaluated on the runs, with the counts of the study's parameter ledger
(problems/ledgers/tio2_vo2_growth.toml: literature, derived, fitted, chosen), also printed.

    .venv/bin/python -m heterofem.studies.tio2_vo2_growth_study [--out DIR] [--jobs 2] [--no-sweep]
        [--po2-end-s 3800] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from heterofem.studies import LEDGERS, PROBLEMS
from heterofem.studies.overlay import set_args

GROWTH = PROBLEMS / "tio2_vo2_tio2_001_growth_1d.toml"
BARE = PROBLEMS / "tio2_tio2_001_growth_bare_1d.toml"
#: the study's configs (the calibration overlay holds a value for each)
CONFIGS = (GROWTH, BARE)
LEDGER = LEDGERS / "tio2_vo2_growth.toml"
#: the calibration overlay the study applies (heterofem.studies.overlay)
OVERLAY = "tio2_epitaxy"
T150, T300 = 423.15, 573.15
SWEEP_TIMES_S = (950.0, 1900.0, 2850.0, 3800.0)


def cases(po2_end_s: float) -> dict[str, tuple[Path, list[str]]]:
    def po2(p):
        sets = [f"crystallization.deposition.pO2_mTorr={p}", f"boundary.top.pO2_mTorr={p}"]
        if po2_end_s < 3800.0:
            sets += [f"time.end_s={po2_end_s}", "time.output_times_s=[]"]
        return sets

    return {
        "vo2_150C_12mTorr": (GROWTH, []),
        "vo2_300C_12mTorr": (GROWTH, [f"run.temperature_K={T300}"]),
        "bare_150C_12mTorr": (BARE, []),
        "vo2_150C_6mTorr": (GROWTH, po2(6.0)),
        "vo2_150C_24mTorr": (GROWTH, po2(24.0)),
    }


def run_case(name: str, config: Path, sets: list[str], out: Path) -> Path:
    """``heterofem run`` of one case in a subprocess (the cases run in parallel): the
    calibration overlay first, then the case's ``sets``."""
    run_dir = out / name
    cmd = [sys.executable, "-m", "heterofem.solver.cli", "--log-level", "warning", "run",
           str(config), "--out", str(run_dir), "--overwrite", *set_args(config, OVERLAY),
           "--set", f'run.name="{name}"']
    for s in sets:
        cmd += ["--set", s]
    subprocess.run(cmd, check=True)
    return run_dir


def read_series(run_dir: Path) -> dict[str, np.ndarray]:
    with open(run_dir / "timeseries.csv") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def run_sweep(out: Path, overrides: list[str]) -> list[dict]:
    """The growth-time sweep: 4 end times x 2 temperatures through ``heterofem sweep``."""
    sweep_dir = out / "sweep"
    mpirun = shutil.which("mpirun", path=str(Path(sys.executable).parent)) or shutil.which("mpirun")
    cmd = [sys.executable, "-m", "heterofem.solver.cli", "--log-level", "warning", "sweep",
           str(GROWTH), "--out", str(sweep_dir), *set_args(GROWTH, OVERLAY),
           "--param", f"time.end_s=[{', '.join(str(t) for t in SWEEP_TIMES_S)}]",
           "--param", f"run.temperature_K=[{T150}, {T300}]",
           "--set", "time.output_times_s=[]", "--set", "output.fields=false"]
    for s in overrides:
        cmd += ["--set", s]
    if mpirun:
        cmd = [mpirun, "-n", "2"] + cmd
    subprocess.run(cmd, check=True)
    with open(sweep_dir / "sweep.csv") as fh:
        return list(csv.DictReader(fh))


def checks(series: dict, rate_nm_s: float) -> dict:
    """The study's claims, evaluated on the runs."""
    s150, s300, bare = (series[k] for k in ("vo2_150C_12mTorr", "vo2_300C_12mTorr",
                                            "bare_150C_12mTorr"))
    t, L = s150["t_s"], s150["crystalline_thickness_nm"]
    late = t >= 0.5 * t[-1]
    rate150 = float(np.polyfit(t[late], L[late], 1)[0])
    t3, L3 = s300["t_s"], s300["crystalline_thickness_nm"]
    late3 = t3 >= 0.5 * t3[-1]
    fit3 = np.polyfit(t3[late3], L3[late3], 1)
    linear_residual = float(np.max(np.abs(np.polyval(fit3, t3[late3]) - L3[late3])))
    delta = {p: float(series[f"vo2_150C_{p}mTorr"]["delta_template"][-1]) for p in (6, 12, 24)}
    t_common = min(series[f"vo2_150C_{p}mTorr"]["t_s"][-1] for p in (6, 12, 24))
    delta_common = {p: float(np.interp(t_common, series[f"vo2_150C_{p}mTorr"]["t_s"],
                                       series[f"vo2_150C_{p}mTorr"]["delta_template"]))
                    for p in (6, 12, 24)}
    return {
        "deposition_rate_nm_s": rate_nm_s,
        "vo2_150C": {"epitaxial_final_nm": float(L[-1]),
                     "deposited_final_nm": float(s150["deposited_thickness_nm"][-1]),
                     "late_growth_rate_nm_s": rate150,
                     "late_rate_over_deposition": rate150 / rate_nm_s},
        "vo2_300C": {"epitaxial_final_nm": float(L3[-1]),
                     "late_growth_rate_nm_s": float(fit3[0]),
                     "late_rate_over_deposition": float(fit3[0]) / rate_nm_s,
                     "max_deviation_from_line_nm": linear_residual},
        "bare_150C": {"epitaxial_final_nm": float(bare["crystalline_thickness_nm"][-1]),
                      "deposited_final_nm": float(bare["deposited_thickness_nm"][-1])},
        "template_delta_at_t_s": t_common,
        "template_delta_vs_pO2_mTorr": delta_common,
        "template_delta_final_vs_pO2_mTorr": delta,
    }


def ledger_summary() -> dict:
    """The study's parameter ledger in numbers (heterofem.solver.ledger.summary)."""
    from heterofem.solver.ledger import load_ledger, summary

    return summary(load_ledger(LEDGER))


def figure(series: dict, sweep: list[dict], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    s150 = series["vo2_150C_12mTorr"]
    ax.plot(s150["t_s"] / 60, s150["deposited_thickness_nm"], "k:", lw=1, label="deposited")
    styles = {"vo2_150C_12mTorr": ("C0", "on VO2, 150 C"), "vo2_300C_12mTorr": ("C3", "on VO2, 300 C"),
              "bare_150C_12mTorr": ("C7", "on bare TiO2, 150 C")}
    for name, (colour, label) in styles.items():
        s = series[name]
        ax.plot(s["t_s"] / 60, s["crystalline_thickness_nm"], color=colour, label=label)
    for row in sweep:
        if row.get("status") != "ok":
            continue
        T = float(row["param.run.temperature_K"])
        ax.plot(float(row["param.time.end_s"]) / 60, float(row["crystallization.epitaxial_thickness_nm"]),
                "o", mfc="none", color="C0" if T < 500 else "C3")
    if sweep:
        ax.plot([], [], "o", mfc="none", color="k", label="sweep of growth time")
    ax.axhspan(7.0, 13.0, color="C0", alpha=0.12, label="paper, 150 C: saturates near 10 nm")
    ax.text(0.02, 0.96, "paper, 300 C: grows linearly with time", transform=ax.transAxes,
            va="top", fontsize=8, color="C3")
    ax.set_xlabel("growth time [min]")
    ax.set_ylabel("epitaxial (crystalline) thickness [nm]")
    ax.legend(fontsize=8, loc="center right")
    for p, colour in ((6, "C2"), (12, "C0"), (24, "C1")):
        s = series[f"vo2_150C_{p}mTorr"]
        bx.plot(s["t_s"] / 60, s["delta_template"], color=colour, label=f"{p} mTorr")
    bx.set_xlabel("growth time [min]")
    bx.set_ylabel("mean delta of the VO2 template")
    bx.set_title("lower pO2: more vacancies into VO2", fontsize=9)
    bx.legend(fontsize=8)
    fig.tight_layout()
    path = out / "epitaxy_vs_time.png"
    fig.savefig(path, dpi=130)
    return path


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/growth_study"))
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once")
    parser.add_argument("--no-sweep", action="store_true", help="skip the growth-time sweep")
    parser.add_argument("--po2-end-s", type=float, default=3800.0,
                        help="growth time of the 6 and 24 mTorr runs")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    todo = cases(args.po2_end_s)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        dirs = dict(zip(todo, pool.map(
            lambda item: run_case(item[0], item[1][0], item[1][1] + args.overrides, args.out),
            todo.items())))
    series = {name: read_series(d) for name, d in dirs.items()}
    summary = json.loads((dirs["vo2_150C_12mTorr"] / "summary.json").read_text())
    rate = summary["crystallization"]["deposition_rate_nm_s"]
    rows = []
    for name, d in dirs.items():
        s = json.loads((d / "summary.json").read_text())
        cr, vac = s["crystallization"], s["vacancies"]
        rows.append({"case": name, "temperature_K": cr["temperature_K"],
                     "pO2_mTorr": cr["deposition_pO2_mTorr"],
                     "growth_time_s": s["time"]["end_s"],
                     "deposited_nm": cr["deposited_thickness_nm"],
                     "epitaxial_nm": cr["epitaxial_thickness_nm"],
                     "crystallized": cr["crystallized"],
                     "template_delta": vac["mean_delta"].get("template", ""),
                     "film_delta": vac["mean_delta"]["film"]})
    with open(args.out / "cases.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    sweep = [] if args.no_sweep else run_sweep(args.out, args.overrides)
    result = checks(series, rate)
    result["sweep"] = [{k: row[k] for k in ("param.time.end_s", "param.run.temperature_K", "status",
                                             "crystallization.epitaxial_thickness_nm") if k in row}
                       for row in sweep]
    result["figure"] = str(figure(series, sweep, args.out))
    result["ledger"] = ledger_summary()
    (args.out / "checks.json").write_text(json.dumps(result, indent=2) + "\n")
    for r in rows:
        print(", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}"
                        for k, v in r.items()))
    print(json.dumps({k: v for k, v in result.items() if k not in ("sweep", "ledger")}, indent=2))
    print(result["ledger"]["line"])
    return result


if __name__ == "__main__":
    main()
