"""Where a field split with GAMG beats MUMPS for the couplings other than vacancy + Poisson
(issue #25 item 4: the crossover of ``[solver] preconditioner = "auto"`` per combination of
unknowns; vacancy + Poisson is benchmarks/solver_crossover.py).

    cd benchmarks && ../.venv/bin/python solver_crossover_combos.py [--combo polar crystal] \
        [--scale 1 0.5 0.35 0.25] [--variants mumps split picard] [--fresh]

The results/ tables came from ``--combo crystal --scale 1 0.5 0.35 0.25 0.18`` and ``--combo
polar --scale 1 0.6 0.4 0.3 0.22`` (~10 min together), cases rerun where another job had
disturbed them (each row keeps the faster process).

Two 2D problems, each at a few mesh sizes (``[mesh] size_nm`` and ``interface_size_nm`` of
the problem file times ``--scale``), one backward-Euler step from the initial state (old =
older = the initial state, the step of :data:`COMBOS`), best of 2 runs in one fresh process
per case, with

- ``mumps``: ``preconditioner = "exact"``, no options (MUMPS LU, the default);
- ``split``: the exact Jacobian, a multiplicative field split with one block per unknown, GAMG
  on each block, GMRES to 1e-2 (solver/petsc_policy.py ``COMBO_SPLIT_OPTIONS``);
- ``picard`` (only where an unknown has a Picard row, i.e. mu): the Picard field split of
  the vacancy + Poisson "auto", lagged (``AUTO_SPLIT_OPTIONS`` with a block per unknown).

``polar``: problems/ruo2_tio2_110_island_2d.toml (polarization P + mechanics u + Poisson phi,
steady: the first pseudo-time step of its continuation). ``crystal``:
problems/tio2_vo2_tio2_001_growth_2d_island.toml (crystallization xi + vacancies mu +
Poisson phi). Writes benchmarks/results/solver_crossover_combos.{json,md}; cases not rerun
are kept from the earlier JSON, and a rerun case keeps the faster converged step of the two
(``--fresh``: the new one), with each process's step in ``processes_s``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from vacancy_poisson import spawn as vp_spawn

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: combination -> (problem file, step [s] or None for the first pseudo-time step, variants,
#: unknowns)
COMBOS = {
    "polar": ("problems/ruo2_tio2_110_island_2d.toml", None, ["mumps", "split"],
              ["P", "u", "phi"]),
    "crystal": ("problems/tio2_vo2_tio2_001_growth_2d_island.toml", 1.0,
                ["mumps", "split", "picard"], ["xi", "mu", "phi"]),
}


def variant_options(variant: str, names: list[str]) -> tuple[str, dict]:
    """(``[solver] preconditioner``, ``[solver.petsc_options]``) of a variant."""
    from heterofem.solver.petsc_policy import AUTO_SPLIT_OPTIONS, COMBO_SPLIT_OPTIONS

    if variant == "mumps":
        return "exact", {}
    base = COMBO_SPLIT_OPTIONS if variant == "split" else AUTO_SPLIT_OPTIONS
    opts = {k: v for k, v in base.items() if not k.startswith("fieldsplit_")}
    for n in names:
        opts[f"fieldsplit_{n}_ksp_type"] = "preonly"
        opts[f"fieldsplit_{n}_pc_type"] = "gamg"
    return ("exact" if variant == "split" else "picard"), opts


def worker(args: dict) -> dict:
    """long: one combination, one scale, one variant: build, then ``repeats`` runs of the
    step from the same initial state (the fastest kept)."""
    from heterofem import Simulation
    from heterofem.solver.coupling import SolveError, continuation_dt
    from heterofem.solver.validation import load_config

    path, dt, _, names = COMBOS[args["combo"]]
    cfg = load_config(ROOT / path)
    f = args["scale"]
    sim = Simulation.from_config(cfg).with_({"mesh.size_nm": cfg.mesh.size_nm * f,
                                             "mesh.interface_size_nm":
                                                 cfg.mesh.interface_size_nm * f})
    pc, opts = variant_options(args["variant"], names)
    changes = {"solver.preconditioner": pc}
    changes.update({f"solver.petsc_options.{k}": v for k, v in opts.items()})
    model = sim.with_(changes).build(transient=True)
    t0 = time.perf_counter()
    problem = model.problem
    snes = problem.problem.solver
    out = {"setup_s": time.perf_counter() - t0, "names": problem.names,
           "dofs": int(sum(V.dofmap.index_map.size_global * V.dofmap.index_map_bs
                           for V in problem.spaces.values())),
           "pc_type": snes.getKSP().getPC().getType(),
           "load_average_start": os.getloadavg()[0]}
    h = problem.history
    step = dt if dt is not None else continuation_dt(problem.modules.values()) * h.time_scale_s
    out["dt_s"] = step
    initial = problem.snapshot()
    runs = []
    for _ in range(args.get("repeats", 2)):
        problem.restore(initial)
        h.shift(problem.u)
        h.shift(problem.u)
        h.dt.value = step / h.time_scale_s
        t0 = time.perf_counter()
        try:
            its, ok, err = problem.solve(), True, None
        except SolveError as exc:
            its, ok, err = snes.getIterationNumber(), False, str(exc)[:300]
        wall = time.perf_counter() - t0
        lin = snes.getLinearSolveIterations()
        runs.append({"converged": ok, "newton_its": its, "step_s": wall,
                     "per_newton_s": wall / max(its, 1),
                     "ksp_its_per_newton": lin / max(its, 1), "error": err,
                     "solution": {n: problem.u[n].x.petsc_vec.norm() for n in problem.names}})
        if not ok:
            break
    out["runs_s"] = [r["step_s"] for r in runs]
    out.update(min(runs, key=lambda r: (not r["converged"], r["step_s"])))
    out["load_average_end"] = os.getloadavg()[0]
    return out


def spawn(args: dict, timeout: float) -> dict:
    """:func:`worker` in a fresh process (vacancy_poisson.spawn's launcher)."""
    return vp_spawn(None, args, timeout, script=__file__)


def faster(old: dict | None, new: dict, fresh: bool) -> dict:
    """The new case, or the earlier one where both converged and it was faster (a rerun is
    another "best of": the machine is shared); ``processes_s``: each process's best step."""
    runs = [] if fresh or not old else old.get("processes_s", [old.get("step_s")])
    if new.get("converged"):
        runs = runs + [new["step_s"]]
    keep = old if (not fresh and old and old.get("converged") and new.get("converged")
                   and old["step_s"] < new["step_s"]) else new
    return {**keep, "processes_s": [r for r in runs if r is not None]}


def table(rows: list[dict]) -> list[str]:
    lines = []
    for combo in COMBOS:
        sel = sorted((r for r in rows if r["combo"] == combo), key=lambda r: -r["scale"])
        if not sel:
            continue
        variants = COMBOS[combo][2]
        lines += ["", f"## {combo}: {COMBOS[combo][0]}", "",
                  "| scale | dofs | " + " | ".join(
                      f"{v} its | {v} step [s]" for v in variants)
                  + " | " + " | ".join(f"{v} / mumps" for v in variants[1:]) + " |",
                  "|" + "---|" * (2 + 2 * len(variants) + len(variants) - 1)]
        for r in sel:
            cells, ratios = [], []
            dofs = next((c["dofs"] for c in r["cases"].values() if "dofs" in c), "?")
            for v in variants:
                c = r["cases"].get(v, {"failed": "not run"})
                if c.get("converged"):
                    cells.append(f"{c['newton_its']} ({c['ksp_its_per_newton']:.0f} KSP) | "
                                 f"{c['step_s']:.3g}")
                else:
                    why = c.get("failed") or c.get("error") or "?"
                    cells.append(f"failed | {why[:60].replace('|', '/')}")
            m = r["cases"].get("mumps", {})
            for v in variants[1:]:
                c = r["cases"].get(v, {})
                ok = m.get("converged") and c.get("converged")
                ratios.append(f"{c['step_s'] / m['step_s']:.2f}" if ok else "-")
            lines.append(f"| {r['scale']:g} | {dofs} | " + " | ".join(cells) + " | "
                         + " | ".join(ratios) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--combo", nargs="*", default=list(COMBOS))
    parser.add_argument("--scale", type=float, nargs="*", default=[1.0, 0.5, 0.35, 0.25])
    parser.add_argument("--variants", nargs="*", default=None)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--fresh", action="store_true",
                        help="replace earlier results of the cases run (default: keep the "
                             "faster of the earlier and the new one)")
    args = parser.parse_args()
    out = HERE / "results"
    previous = out / "solver_crossover_combos.json"
    old = json.loads(previous.read_text()) if previous.exists() else {}
    rows = {(r["combo"], r["scale"]): r for r in old.get("rows", [])}
    for combo in args.combo:
        for scale in args.scale:
            row = rows.setdefault((combo, scale), {"combo": combo, "scale": scale, "cases": {}})
            for v in args.variants or COMBOS[combo][2]:
                if v not in COMBOS[combo][2]:
                    continue
                new = spawn({"combo": combo, "scale": scale, "variant": v, "repeats": 2},
                            args.timeout)
                row["cases"][v] = faster(row["cases"].get(v), new, args.fresh)
                print(combo, scale, v, json.dumps(row["cases"][v])[:400], flush=True)
            previous.write_text(json.dumps({"rows": list(rows.values()),
                                            "notes": old.get("notes", [])}, indent=2))
    result = {"rows": list(rows.values()), "notes": old.get("notes", [])}
    previous.write_text(json.dumps(result, indent=2))
    lines = ["# Solver crossover per coupling (issue #25 item 4)", "",
             "One backward-Euler step from the initial state, best of 2, one process, "
             "2 shared cores (`benchmarks/solver_crossover_combos.py`); its = Newton "
             "iterations (KSP iterations per Newton iteration)."]
    lines += table(result["rows"]) + [""] + list(result["notes"])
    (out / "solver_crossover_combos.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        res = worker(json.loads(Path(sys.argv[2]).read_text()))
        Path(sys.argv[3]).write_text(json.dumps(res))
    else:
        main()
