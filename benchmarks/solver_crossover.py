"""Where the Picard field split beats MUMPS (issue #25 item 4: the crossover of
``[solver] preconditioner = "auto"``).

    .venv/bin/python benchmarks/solver_crossover.py [--ny 22 35 56 154]

The 2D vacancy + Poisson step of benchmarks/vacancy_poisson.py (its worker, its problem, one
backward-Euler step from the same state, best of 2 runs) at a few sizes, with MUMPS LU
(``preconditioner = "exact"``) and with the options ``"auto"`` switches to
(``picard-lagged``: solver/petsc_policy.py ``AUTO_SPLIT_OPTIONS``). ny = 56 is the 1e4 case
(12882 unknowns), ny = 154 the 1e5 case (95790); 1e6 is left to vacancy_poisson.py (minutes
per case, too slow with others on the machine). Writes benchmarks/results/solver_crossover.
{json,md}: time per Newton iteration and per step of each, and the ratio; sizes not given
in ``--ny`` are kept from the earlier JSON (rerun a size that another job disturbed).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vacancy_poisson import SCALING_REPEATS, spawn

HERE = Path(__file__).resolve().parent


def case(ny: int, solver: str, extra: dict) -> dict:
    res = spawn("scaling", {"ny": ny, "solver": solver, "dts": [1.0],
                            "repeats": SCALING_REPEATS, **extra}, timeout=600)
    if "steps" not in res:
        return {"failed": res.get("failed", "?")[:300]}
    warm = res["steps"][-1]
    return {"dofs": res["dofs"], "newton_its": warm["newton_its"],
            "per_newton_s": warm["per_newton_s"], "step_s": warm["wall_s"],
            "converged": all(s["converged"] for s in res["steps"])}


def main() -> None:
    from heterofem.solver.petsc_policy import AUTO_SPLIT_MIN_DOFS, AUTO_SPLIT_OPTIONS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ny", type=int, nargs="+", default=[22, 35, 56, 154])
    args = parser.parse_args()
    split = {k: v for k, v in AUTO_SPLIT_OPTIONS.items()
             if not k.startswith(("pc_", "fieldsplit_", "ksp_type", "ksp_max_it",
                                  "ksp_gmres"))}
    rows = []
    for ny in args.ny:
        mumps = case(ny, "mumps", {})
        picard = case(ny, "picard", {"extra_options": split})
        row = {"ny": ny, "mumps": mumps, "auto_split": picard}
        if "per_newton_s" in mumps and "per_newton_s" in picard:
            row["step_ratio"] = picard["step_s"] / mumps["step_s"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = HERE / "results"
    previous = out / "solver_crossover.json"
    if previous.exists():  # sizes not rerun are kept from the earlier run
        kept = [r for r in json.loads(previous.read_text())["rows"] if r["ny"] not in args.ny]
        rows = sorted(kept + rows, key=lambda r: r["ny"])
    (out / "solver_crossover.json").write_text(json.dumps(
        {"rows": rows, "threshold_dofs": AUTO_SPLIT_MIN_DOFS}, indent=2))
    lines = ["# Solver crossover (issue #25 item 4)", "",
             "| dofs | MUMPS Newton its | MUMPS step [s] | split Newton its | split step [s] "
             "| split / MUMPS |", "|---|---|---|---|---|---|"]
    for r in rows:
        m, p = r["mumps"], r["auto_split"]
        if "step_ratio" not in r:
            lines.append(f"| ny={r['ny']} | failed: {m.get('failed', p.get('failed'))} |")
            continue
        lines.append(f"| {m['dofs']} | {m['newton_its']} | {m['step_s']:.3g} | "
                     f"{p['newton_its']} | {p['step_s']:.3g} | {r['step_ratio']:.2f} |")
    lines += ["", f"`preconditioner = \"auto\"` switches at {AUTO_SPLIT_MIN_DOFS} unknowns."]
    (out / "solver_crossover.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
