"""Where the Picard field split beats MUMPS (issue #25 item 4: the crossover of
``[solver] preconditioner = "auto"``).

    cd benchmarks && ../.venv/bin/python solver_crossover.py [--ny 22 35 56 154] [--auto-ny 504]

The 2D vacancy + Poisson step of benchmarks/vacancy_poisson.py (its worker, its problem, one
backward-Euler step from the same state, best of 2 runs) at a few sizes, with MUMPS LU
(``preconditioner = "exact"``) and with the options ``"auto"`` switches to
(``picard-lagged``: solver/petsc_policy.py ``AUTO_SPLIT_OPTIONS``). ny = 56 is the 1e4 case
(12882 unknowns), ny = 154 the 1e5 case (95790). ``--auto-ny 504`` (the default; 1019090
unknowns, the 1e6 case, 5-10 min) runs the README config as a user gets it (``preconditioner =
"auto"``, no solver keys: :func:`worker_auto`) against the scalar floor measured in the same
process, for the goals "within 4x of the floor" and "under 2 KiB per unknown" (``--ny`` with
no sizes runs only it). Writes benchmarks/results/solver_crossover.{json,md}: time per Newton
iteration and per step of each, and the ratio; sizes not given in ``--ny`` (and the auto case
with ``--auto-ny 0``) are kept from the earlier JSON (rerun a size that another job
disturbed), and so are the JSON's "notes" (printed under the table).
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


def worker_auto(args: dict) -> dict:
    """long: the 1e6 case as a user gets it: the benchmark config untouched (``[solver]
    preconditioner = "auto"``, no [solver.petsc_options]) on vacancy_poisson.py's structured
    mesh; the scalar floor (CG + GAMG, best of 3) on the same mesh in the same process first,
    then ``repeats`` runs of one backward-Euler step from the same state (fastest kept), peak
    RSS of the process (the floor's matrices freed before the coupled problem is made)."""
    import os
    import time

    import vacancy_poisson as vp

    MPI, PETSc, dolfinx = vp._hf_imports()
    from heterofem import Simulation
    from heterofem.solver.validation import load_config

    PETSc.Log.begin()
    out = {"ny": args["ny"], "load_average_start": os.getloadavg()[0]}
    cfg = load_config(vp.STACK_2D)
    out["config_solver"] = {"preconditioner": cfg.solver.preconditioner,
                            "petsc_options": dict(cfg.solver.petsc_options)}
    stack, _ = vp.structured_stack_mesh(cfg, args["ny"])
    model = Simulation.from_config(cfg).build(stack=stack, transient=True)
    V, a_form, L_form, bcs = vp.floor_forms(model.modules[0], stack)
    A = dolfinx.fem.petsc.create_matrix(a_form)
    b = dolfinx.fem.petsc.create_vector(V)
    x = b.duplicate()
    ksp = vp.floor_ksp(stack.mesh.comm)
    floors = []
    for _ in range(3):
        t0 = time.perf_counter()
        vp.assemble_floor(A, b, a_form, L_form, bcs)
        ksp.setOperators(A)
        x.set(0.0)
        ksp.solve(b, x)
        floors.append(time.perf_counter() - t0)
    out["floor"] = {"total_s": min(floors), "repeats": floors, "ksp_its": ksp.getIterationNumber(),
                    "dofs": V.dofmap.index_map.size_global}
    out["rss_mib_floor"] = vp.peak_rss_mib()
    ksp.destroy()
    A.destroy()
    t0 = time.perf_counter()
    problem = model.problem  # initial state solved with the options "auto" gives
    snes = problem.problem.solver
    out["setup_s"] = time.perf_counter() - t0
    out["dofs"] = int(sum(Vs.dofmap.index_map.size_global for Vs in problem.spaces.values()))
    out["chosen"] = problem.preconditioner_kind(cfg)
    iterative = snes.getKSP().getPC().getType() == "fieldsplit"
    initial = problem.snapshot()
    runs = []
    for _ in range(max(int(args.get("repeats", 1)), 1)):
        problem.restore(initial)
        runs.append(vp._time_steps(problem, snes, problem.history, [1.0], iterative, out, PETSc))
    out["runs_s"] = [r[0]["wall_s"] for r in runs]
    out["steps"] = min(runs, key=lambda r: r[0]["wall_s"])
    out["pc_type"] = snes.getKSP().getPC().getType()
    out["peak_rss_mib"] = vp.peak_rss_mib()
    out["load_average_end"] = os.getloadavg()[0]
    return out


def spawn_auto(ny: int, repeats: int, timeout: float) -> dict:
    """:func:`worker_auto` in a fresh process (its own peak RSS)."""
    return spawn(None, {"ny": ny, "repeats": repeats}, timeout, script=__file__,
                 flag="--worker-auto")


#: issue #25 item 4's goals for the README config at 1e6 unknowns with no solver keys set
GOAL_FLOOR_RATIO = 4.0
GOAL_KIB_PER_UNKNOWN = 2.0


def auto_summary(res: dict) -> dict:
    """The auto case's goal numbers: time per Newton iteration / the floor of the same
    process, peak RSS per unknown."""
    if "steps" not in res:
        return res
    step = res["steps"][0]
    ratio = step["per_newton_s"] / res["floor"]["total_s"]
    kib = res["peak_rss_mib"] * 1024.0 / res["dofs"]
    return {**res, "floor_ratio": ratio, "kib_per_unknown": kib,
            "floor_goal_met": step["converged"] and ratio <= GOAL_FLOOR_RATIO,
            "memory_goal_met": kib < GOAL_KIB_PER_UNKNOWN}


def auto_lines(a: dict) -> list[str]:
    if "floor_ratio" not in a:
        return ["", f"Auto case (ny = {a.get('ny')}): failed: {a.get('failed', '?')}"]
    st = a["steps"][0]
    met = {True: "MET", False: "NOT MET"}
    return ["", f"## The README config at {a['dofs']} unknowns, no solver keys set", "",
            f"`preconditioner = \"{a['config_solver']['preconditioner']}\"`, "
            f"[solver.petsc_options] {a['config_solver']['petsc_options'] or 'empty'}: chose "
            f"\"{a['chosen']}\" (PC {a['pc_type']}). One backward-Euler step (1 s) from the "
            f"initial state, best of {len(a['runs_s'])} "
            f"({', '.join(f'{t:.1f}' for t in a['runs_s'])} s): {st['newton_its']} Newton "
            f"iterations, {st['per_newton_s']:.2f} s each "
            f"(KSP its per Newton {st['ksp_its_per_newton'] or 0:.0f}). Floor (CG + GAMG scalar "
            f"Poisson, assembly + solve, same mesh, same process, best of 3): "
            f"{a['floor']['total_s']:.3f} s.", "",
            f"- **within {GOAL_FLOOR_RATIO:g}x of the floor: {met[a['floor_goal_met']]}** "
            f"({a['floor_ratio']:.1f}x)",
            f"- **under {GOAL_KIB_PER_UNKNOWN:g} KiB per unknown: "
            f"{met[a['memory_goal_met']]}** ({a['kib_per_unknown']:.2f} KiB: peak RSS "
            f"{a['peak_rss_mib']:.0f} MiB of the whole process, interpreter and floor included)",
            "", f"1-minute load average (2 cores) at the start / end of this case: "
            f"{a['load_average_start']:.1f} / {a['load_average_end']:.1f}. Processes run: "
            + "; ".join(f"{r['floor_ratio']:.2f}x, {r['kib_per_unknown']:.2f} KiB (step "
                        f"{r['steps'][0]['wall_s']:.1f} s, floor {r['floor']['total_s']:.2f} s)"
                        for r in a.get("runs", [a]) if "floor_ratio" in r)
            + " (the one with the faster step is reported above)."]


def main() -> None:
    from heterofem.solver.petsc_policy import AUTO_SPLIT_MIN_DOFS, AUTO_SPLIT_OPTIONS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ny", type=int, nargs="*", default=[22, 35, 56, 154])
    parser.add_argument("--auto-ny", type=int, default=504,
                        help="the README config as a user gets it at this ny (504: ~1e6 "
                             "unknowns, 5-10 min; 0: skip, keep the earlier result)")
    parser.add_argument("--auto-repeats", type=int, default=2)
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
    old = json.loads(previous.read_text()) if previous.exists() else {}
    kept = [r for r in old.get("rows", []) if r["ny"] not in args.ny]  # sizes not rerun
    rows = sorted(kept + rows, key=lambda r: r["ny"])
    auto = old.get("auto")
    if args.auto_ny:  # with the previous run at the same size: the faster step of the two
        new = auto_summary(spawn_auto(args.auto_ny, args.auto_repeats, timeout=1800))
        runs = [r for r in (auto or {}).get("runs", [auto] if auto else [])
                if r.get("ny") == args.auto_ny and "floor_ratio" in r][-1:] + [new]
        ok = [r for r in runs if "floor_ratio" in r] or [new]
        auto = {**min(ok, key=lambda r: r["steps"][0]["wall_s"]), "runs": [
            {k: v for k, v in r.items() if k != "runs"} for r in runs]}
    result = {"rows": rows, "threshold_dofs": AUTO_SPLIT_MIN_DOFS, "notes": old.get("notes", [])}
    if auto:
        result["auto"] = auto
    previous.write_text(json.dumps(result, indent=2))
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
    lines += [f"{n}" for n in result["notes"]]
    if auto:
        lines += auto_lines(auto)
    (out / "solver_crossover.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 4 and sys.argv[1] == "--worker-auto":
        result = worker_auto(json.loads(Path(sys.argv[2]).read_text()))
        Path(sys.argv[3]).write_text(json.dumps(result))
    else:
        main()
