"""Strong and weak scaling of a coupled vacancy + Poisson transient (2D), ready for a larger
machine.

    .venv/bin/python benchmarks/scaling.py --ranks 1 2 4 8 16 [--size-nm 0.4] [--steps 10]

Strong scaling: one mesh, more ranks; weak scaling: the lateral width grows with the ranks
(fixed work per rank). Each case is `mpirun -n N heterofem run` of
benchmarks/configs/stack_tio2_vo2_tio2_2d_step.toml with a fixed number of time steps; the
solve time comes from summary.json (timings_s.solve), so start-up, meshing and output are
excluded. Parallel efficiency: strong T1 / (N T_N), weak T1 / T_N. Writes
benchmarks/results/scaling.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "configs" / "stack_tio2_vo2_tio2_2d_step.toml"


#: the iterative variant (as benchmarks/vacancy_poisson.py's "picard-inexact": linear solves
#: to 1e-4, Newton's tolerances unchanged)
PICARD_OPTIONS = {"ksp_type": "gmres", "ksp_rtol": 1e-4, "ksp_max_it": 500,
                  "ksp_gmres_restart": 30, "pc_type": "fieldsplit",
                  "pc_fieldsplit_type": "multiplicative",
                  "fieldsplit_phi_ksp_type": "preonly", "fieldsplit_phi_pc_type": "gamg",
                  "fieldsplit_mu_ksp_type": "preonly", "fieldsplit_mu_pc_type": "gamg"}


def run(n: int, sets: list[str], out: Path) -> dict:
    mpirun = Path(sys.executable).parent / "mpirun"
    cmd = [str(mpirun), "-n", str(n), sys.executable, "-m", "heterofem.solver.cli", "run",
           str(CONFIG), "--out", str(out), "--overwrite"] + [a for s in sets for a in ("--set", s)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    s = json.loads((out / "summary.json").read_text())
    return {"ranks": n, "dofs": s["dofs"], "solve_s": s["timings_s"]["solve"],
            "newton_iterations": s["time"]["newton_iterations"], "steps": s["time"]["steps"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--size-nm", type=float, default=0.4)
    parser.add_argument("--width-nm", type=float, default=40.0)  # the step sits at x = 28 nm
    parser.add_argument("--end-s", type=float, default=1.0)
    parser.add_argument("--solver", choices=("mumps", "picard"), default="mumps",
                        help="MUMPS LU (default) or GMRES + field split with GAMG on both "
                             "fields and the Picard preconditioning matrix")
    args = parser.parse_args()
    solver = ['solver.preconditioner="exact"'] if args.solver == "mumps" else [
        'solver.preconditioner="picard"'] + [
        f"solver.petsc_options.{k}={json.dumps(v)}" for k, v in PICARD_OPTIONS.items()]
    base = solver + [f"mesh.size_nm={args.size_nm}", f"mesh.interface_size_nm={args.size_nm / 2}",
            f"time.end_s={args.end_s}", f"time.dt_initial_s={args.end_s / 10}",
            f"time.dt_max_s={args.end_s / 10}", "time.output_times_s=[]",
            "output.fields=false", "output.mesh=false", "output.profile_points=11"]
    results = {"strong": [], "weak": []}
    with tempfile.TemporaryDirectory() as tmp:
        run(1, base, Path(tmp) / "warm")  # JIT cache
        for n in args.ranks:
            results["strong"].append(run(n, base + [f"mesh.width_nm={args.width_nm}"],
                                         Path(tmp) / f"s{n}"))
            results["weak"].append(run(n, base + [f"mesh.width_nm={args.width_nm * n}"],
                                       Path(tmp) / f"w{n}"))
    t1s, t1w = results["strong"][0]["solve_s"], results["weak"][0]["solve_s"]
    for r in results["strong"]:
        r["efficiency"] = t1s / (r["ranks"] * r["solve_s"])
    for r in results["weak"]:
        r["efficiency"] = t1w / r["solve_s"]
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    results["solver"] = args.solver
    results["size_nm"] = args.size_nm
    suffix = "" if (args.solver, args.size_nm) == ("mumps", 0.4) else \
        f"_{args.solver}_{args.size_nm:g}nm"
    (out / f"scaling{suffix}.json").write_text(json.dumps(results, indent=1))
    lines = [f"# scaling (2D vacancy + Poisson transient, {args.solver}, mesh {args.size_nm} nm)", "",
             "| kind | ranks | dofs | solve [s] | Newton its | efficiency |", "|---|---|---|---|---|---|"]
    for kind in ("strong", "weak"):
        for r in results[kind]:
            lines.append(f"| {kind} | {r['ranks']} | {r['dofs']} | {r['solve_s']:.2f} | "
                         f"{r['newton_iterations']} | {100 * r['efficiency']:.0f} % |")
    (out / f"scaling{suffix}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
