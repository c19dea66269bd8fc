"""RuO2/TiO2(110): work function, interfacial polarization and residual strain against thickness.

Runs problems/ruo2_tio2_110_polar_1d.toml with the calibrated values of
studies/calibrated/ruo2_work_function.toml (written by
heterofem.studies.ruo2_work_function_study, the full study with predictions and bands, or
heterofem.studies.calibrate_ruo2_work_function, its fit alone) for each RuO2 thickness, in
turn and in this process, through the Python API (heterofem.Simulation), and writes to the
output directory (default results/ruo2_series):

- table.csv: thickness, the work function Phi = E_vac - E_F and its parts (intrinsic RuO2(110)
  value, band alignment, polarization-induced part), the interfacial P at the buried interface
  and at the surface, the polar displacement, a1*_z of the film, the interface fields (the
  flexoelectric jump [F.eps]), the retained strains along x = [001] and y = [1-10];
- work_function.png: Phi against thickness with the paper's KPFM points
  (problems/reference/ruo2_tio2_110_work_function.csv) and the polarization-induced part;
- trilayer.json: the TiO2/RuO2/TiO2 trilayer's interfacial polarization at both interfaces
  (problems/tio2_ruo2_tio2_110_trilayer_1d.toml, with the same overlay; the opposite sign of
  the upper interface follows from the geometry);
- ledger.json: the counts of the study's parameter ledger
  (problems/ledgers/ruo2_tio2_110_work_function.toml: literature, derived, fitted, chosen),
  also printed;
- one run directory per thickness (t_<t>nm/) with summary.json, profiles.csv, fields.

Every Phi comes from the solved potential in the vacuum above the film.

    .venv/bin/python -m heterofem.studies.ruo2_thickness_series [--out DIR]
        [--thickness 1.5 3.5 ...] [--set key=value ...] [--no-trilayer]

It runs under ``mpirun -n N`` too (each case on all ranks).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from pathlib import Path

from heterofem.studies import LEDGERS, PROBLEMS, REFERENCE
from heterofem.studies import overlay

CONFIG = PROBLEMS / "ruo2_tio2_110_polar_1d.toml"
TRILAYER = PROBLEMS / "tio2_ruo2_tio2_110_trilayer_1d.toml"
REFERENCE_CSV = REFERENCE / "ruo2_tio2_110_work_function.csv"
LEDGER = LEDGERS / "ruo2_tio2_110_work_function.toml"
#: the calibration overlay the series applies (heterofem.studies.overlay)
OVERLAY = "ruo2_work_function"
THICKNESSES_NM = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0, 8.0, 9.0, 10.0,
                  12.0, 14.0, 17.2)


def _solve(config: Path, out: Path, sets: list[str], comm=None) -> dict:
    """Run ``config`` through the Python API with the calibration overlay, then ``sets``
    (``--set`` strings, applied last: a fit's trial values win); returns the summary."""
    from heterofem import Simulation
    from heterofem.solver.simulation import override_strings

    sim = Simulation.from_toml(
        config, set=override_strings(overlay.overrides(config, OVERLAY)) + list(sets))
    return sim.run(out, overwrite=True, comm=comm, check=False).summary


def run_thickness(t_nm: float, out: Path, overrides: list[str] = (), comm=None) -> dict:
    """Solve the RuO2 film of thickness t_nm; returns one row of the table."""
    return row(t_nm, _solve(CONFIG, out, [f"layers.film.thickness_nm={t_nm}", *overrides], comm))


def row(t_nm: float, summary: dict) -> dict:
    pol, wf = summary["polarization"], summary["work_function"]
    iface = pol["interfaces"]["substrate/film"]
    strain = summary.get("strain", pol.get("strain", {}))["film"]
    fields = pol.get("interface_fields_V", pol.get("polar_bias_V", {}))
    return {
        "thickness_nm": t_nm,
        "work_function_eV": wf["work_function_eV"],
        "wf_intrinsic_eV": wf["intrinsic_eV"],
        "wf_band_alignment_eV": wf["band_alignment_eV"],
        "wf_polarization_eV": wf["polarization_eV"],
        "wf_charges_eV": wf["charges_eV"],
        "P_interface_C_per_m2": iface["P_C_per_m2"],
        "P_surface_C_per_m2": pol["interfaces"]["film/gap"]["P_C_per_m2"],
        "decay_length_in_film_nm": iface.get("decay_length_above_nm") or float("nan"),
        "max_displacement_pm": pol["max_displacement_pm"],
        "a1_film_J_m_per_C2": pol["a1_zz_J_m_per_C2"]["film"],
        "field_interface_V": fields.get("substrate/film", float("nan")),
        "field_surface_V": fields.get("film/gap", float("nan")),
        "strain_x_001": strain["strain_x"],
        "strain_y_1-10": strain["strain_y"],
    }


def reference_points() -> list[tuple[float, float]]:
    lines = REFERENCE_CSV.read_text().splitlines()
    data = [line for line in lines if line and not line.startswith("#")][1:]  # past "x,y"
    return [tuple(float(v) for v in line.split(",")) for line in data]


def trilayer(out: Path, overrides: list[str] = ()) -> dict:
    """The trilayer's interfacial polarization (a prediction with the calibrated data)."""
    summary = _solve(TRILAYER, out, list(overrides))
    pol = summary["polarization"]
    return {
        "P_lower_interface_C_per_m2": pol["interfaces"]["buffer/film"]["P_C_per_m2"],
        "P_upper_interface_C_per_m2": pol["interfaces"]["film/cap"]["P_C_per_m2"],
        "P_surface_C_per_m2": pol["interfaces"]["cap/gap"]["P_C_per_m2"],
        "decay_length_lower_nm": pol["interfaces"]["buffer/film"].get("decay_length_above_nm"),
        "decay_length_upper_nm": pol["interfaces"]["film/cap"].get("decay_length_below_nm"),
        "max_displacement_pm": pol["max_displacement_pm"],
        "work_function_eV": summary.get("work_function", {}).get("work_function_eV"),
    }


def ledger_summary() -> dict:
    """The study's parameter ledger in numbers (heterofem.solver.ledger.summary)."""
    from heterofem.solver.ledger import load_ledger, summary

    return summary(load_ledger(LEDGER))


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/ruo2_series"))
    parser.add_argument("--thickness", type=float, nargs="+", default=list(THICKNESSES_NM))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--no-trilayer", action="store_true", help="skip the trilayer prediction")
    args = parser.parse_args(argv)
    from heterofem.solver.dolfinx_env import MPI

    logging.getLogger("heterofem").setLevel(logging.WARNING)
    rank0 = MPI.COMM_WORLD.rank == 0
    rows = []
    for t in args.thickness:
        rows.append(run_thickness(t, args.out / f"t_{t:g}nm", args.overrides))
        if rank0:
            print(", ".join(f"{k} = {v:.4g}" for k, v in rows[-1].items()), flush=True)
    tri = None if args.no_trilayer else trilayer(args.out / "trilayer")
    if rank0:
        args.out.mkdir(parents=True, exist_ok=True)
        with open(args.out / "table.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        if tri is not None:
            (args.out / "trilayer.json").write_text(json.dumps(tri, indent=2) + "\n")
            print("trilayer: " + ", ".join(f"{k} = {v}" for k, v in tri.items()), flush=True)
        _figure(rows, args.out / "work_function.png")
        ledger = ledger_summary()
        (args.out / "ledger.json").write_text(json.dumps(ledger, indent=2) + "\n")
        print(ledger["line"], flush=True)
    return rows


def _figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ref = np.array(reference_points())
    t = [r["thickness_nm"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.plot(t, [r["work_function_eV"] for r in rows], "o-", color="k", label="heterofem: Phi")
    ax.plot(t, [r["work_function_eV"] - r["wf_polarization_eV"] for r in rows], "--",
            color="0.5", label="intrinsic + band alignment (no polarization)")
    ax.plot(t, [r["wf_polarization_eV"] for r in rows], ":", color="tab:blue",
            label="polarization-induced part")
    ax.plot(ref[:, 0], ref[:, 1], "s", color="tab:red", ms=8,
            label="KPFM (Jeong et al. 2026), fitted points")
    ax.axvspan(4.0, 6.5, color="tab:orange", alpha=0.12, label="[001] relaxes (RSM)")
    ax.set_xlabel("RuO2 thickness [nm]")
    ax.set_ylabel("work function [eV]")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
