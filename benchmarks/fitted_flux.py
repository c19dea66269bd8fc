"""Benchmark (issue #26 item 5, the solver goals): the exact-Jacobian Newton step of the coupled
vacancy + Poisson problem with the exponentially fitted flux (physics.vacancy_flux = "fitted",
solver/fitted_flux.py) and GAMG, against the scalar floor, in 2D and 3D.

For each dimension, one flat TiO2 / VO2(R) / TiO2 stack (the benchmark stack of
vacancy_poisson.py without the terrace step, so that the structured mesh is used in 3D too),
with no preconditioner keys set: ``preconditioner = "auto"`` chooses the field split on the
exact Jacobian (petsc_policy.FITTED_SPLIT_OPTIONS). Measured, each dimension in a process of
its own (its own peak memory):

- the floor: one CG + GAMG scalar Poisson solve on the same mesh (assembly included; best of
  3), as vacancy_poisson.py defines it;
- the coupled step: backward-Euler steps from the initial state (the initial Poisson solve
  excluded), wall time per Newton iteration (the fastest of the steps), and where it goes
  (PETSc's log events over the steps: Jacobian assembly, residual assembly, the rest = the
  linear solves with their GAMG set-up and the line search's vector work);
- ratio = per Newton iteration / floor (goal: <= 3x), cost per unknown per Newton iteration,
  and its 3D / 2D ratio (goal: <= 2x), peak memory per unknown; the load average (the
  machine may be shared: both the floor and the step then slow down).

Sizes: "large" (the default) ~1e6 unknowns each, the issue's size: 982,802 in 2D, 1,060,970
in 3D (about 8 minutes on 2 cores, 4 GiB peak in 3D); "small" ~1e5 each (under a minute).
Results: results/fitted_flux.json and .md, with ``_exact`` for ``--flux exact`` and ``_small``
for ``--size small`` in the name; each goal MET / NOT MET at the measured size.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from vacancy_poisson import assemble_floor, floor_forms, floor_ksp, peak_rss_mib  # noqa: E402
from vacancy_poisson import spawn  # noqa: E402

#: (mesh size_nm, interface_size_nm, lateral width/depth nm) per size label and dimension
SIZES = {
    "small": {2: (0.125, 0.125, 28.0), 3: (0.4, 0.4, 10.0)},  # 101,250 and 95,992 unknowns
    "large": {2: (0.04, 0.04, 28.0), 3: (1.0 / 3.0, 1.0 / 3.0, 26.0)},  # 982,802; 1,060,970
}
#: the backward-Euler steps [s] from the initial state
STEPS_S = (0.01, 0.1)
GOAL_FLOOR_RATIO = 3.0
GOAL_3D_OVER_2D = 2.0
#: PETSc log events read over the steps (time per Newton iteration of each)
EVENTS = {"jacobian": "SNESJacobianEval", "residual": "SNESFunctionEval", "solve": "SNESSolve"}


def stack(dim: int, size: str, flux: str = "fitted") -> dict:
    h, h_i, width = SIZES[size][dim]
    return {
        "run": {"name": f"fitted_{dim}d", "dimension": dim, "temperature_K": 423.15},
        "layers": [
            {"name": "substrate", "material": "TiO2", "thickness_nm": 10.0, "delta": 1e-5},
            {"name": "template", "material": "VO2_R", "thickness_nm": 12.0, "delta": 0.002},
            {"name": "film", "material": "TiO2", "thickness_nm": 6.0, "delta": 0.03},
        ],
        "mesh": {"size_nm": h, "interface_size_nm": h_i, "width_nm": width, "depth_nm": width},
        "physics": {"vacancies": True, "electrons": "fermi-dirac", "vacancy_flux": flux},
        "boundary": {"bottom": {"phi_V": 0.0}},
        "time": {"end_s": 1.0, "dt_initial_s": 0.01},
    }


def measure_floor(model) -> dict:
    """The floor on the model's mesh: best of 3 (assembly + CG/GAMG solve)."""
    from heterofem.solver.dolfinx_env import dolfinx

    import dolfinx.fem.petsc  # noqa: F401

    es = next(m for m in model.modules if m.name == "electrostatics")
    V, a_form, L_form, bcs = floor_forms(es, model.stack)
    A = dolfinx.fem.petsc.create_matrix(a_form)
    b = dolfinx.fem.petsc.create_vector(V)
    x = b.duplicate()
    ksp = floor_ksp(model.stack.mesh.comm)
    floor = []
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        assemble_floor(A, b, a_form, L_form, bcs)
        ksp.setOperators(A)
        x.set(0.0)
        ksp.solve(b, x)
        floor.append((time.perf_counter() - t0, ksp.getIterationNumber(),
                      time.process_time() - c0))
    best = min(floor)
    for obj in (ksp, A, b, x):
        obj.destroy()
    return {"floor_s": best[0], "floor_ksp_its": best[1],
            "floor_cpu_s": min(f[2] for f in floor),
            "floor_dofs": V.dofmap.index_map.size_global}


def _events() -> dict:
    from heterofem.solver.dolfinx_env import PETSc

    return {k: PETSc.Log.Event(name).getPerfInfo()["time"] for k, name in EVENTS.items()}


def measure(dim: int, size: str, flux: str = "fitted") -> dict:
    """The floor and the coupled Newton steps on one mesh."""
    from heterofem import Simulation
    from heterofem.solver.dolfinx_env import PETSc

    PETSc.Log.begin()
    load = [os.getloadavg()[0]]
    model = Simulation.from_dict(stack(dim, size, flux)).build(transient=True)
    out = {"dimension": dim, "size": size, "vacancy_flux": flux, **measure_floor(model)}
    problem = model.problem  # the initial state solved
    out["dofs"] = int(sum(W.dofmap.index_map.size_global for W in problem.spaces.values()))
    out["preconditioner"] = problem.preconditioner_kind()
    h = problem.history
    h.shift(problem.u)
    h.shift(problem.u)
    snes = problem.problem.solver
    steps, before, its_all = [], _events(), 0
    for dt in STEPS_S:
        h.dt.value = dt / h.time_scale_s
        t0, c0 = time.perf_counter(), time.process_time()
        its = problem.solve()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        its_all += its
        steps.append({"dt_s": dt, "newton_its": its, "wall_s": wall, "cpu_s": cpu,
                      "ksp_its": snes.getLinearSolveIterations(),
                      "per_newton_s": wall / max(its, 1), "cpu_per_newton_s": cpu / max(its, 1)})
        h.shift(problem.u)
    after = {k: v - before[k] for k, v in _events().items()}
    load.append(os.getloadavg()[0])
    n = max(its_all, 1)
    out["steps"] = steps
    out["per_newton_s"] = min(s["per_newton_s"] for s in steps)
    out["cpu_per_newton_s"] = min(s["cpu_per_newton_s"] for s in steps)
    out["breakdown_per_newton_s"] = {
        "jacobian": after["jacobian"] / n, "residual": after["residual"] / n,
        "linear_solve_and_rest": (after["solve"] - after["jacobian"] - after["residual"]) / n}
    out["floor_ratio"] = out["per_newton_s"] / out["floor_s"]
    out["cpu_floor_ratio"] = out["cpu_per_newton_s"] / out["floor_cpu_s"]
    out["us_per_unknown_per_newton"] = 1e6 * out["per_newton_s"] / out["dofs"]
    out["peak_rss_mib"] = peak_rss_mib()
    out["kib_per_unknown"] = 1024.0 * out["peak_rss_mib"] / out["dofs"]
    out["load_average_1min"] = load
    return out


def report(results: list[dict]) -> str:
    """long: the Markdown table, the goals and the breakdown of the measured results."""
    lines = [f"# vacancy_flux = {results[0]['vacancy_flux']!r}: Newton step against the floor "
             "(issue #26 item 5)", "",
             "| dim | unknowns | preconditioner | floor [s] | per Newton it. [s] | ratio | "
             "us / unknown / it. | KiB / unknown (peak RSS) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['dimension']}D | {r['dofs']} | {r['preconditioner']} | "
                     f"{r['floor_s']:.3f} | {r['per_newton_s']:.3f} | {r['floor_ratio']:.1f}x | "
                     f"{r['us_per_unknown_per_newton']:.1f} | {r['kib_per_unknown']:.1f} |")
    lines.append("")
    for r in results:
        cpu = r.get("cpu_floor_ratio", r["floor_ratio"])
        verdict = "MET" if max(r["floor_ratio"], cpu) <= GOAL_FLOOR_RATIO else "NOT MET"
        size = "the issue's size" if r["dofs"] > 9e5 else "the issue's size is 1e6"
        lines.append(f"- {r['dimension']}D Newton iteration / floor <= {GOAL_FLOOR_RATIO:g}x: "
                     f"{r['floor_ratio']:.1f}x wall, {cpu:.1f}x CPU time at {r['dofs']} "
                     f"unknowns: **{verdict}** ({size}; MET only if both are)")
    by_dim = {r["dimension"]: r for r in results}
    if 2 in by_dim and 3 in by_dim:
        r2, r3 = by_dim[2], by_dim[3]
        q = r3["us_per_unknown_per_newton"] / r2["us_per_unknown_per_newton"]
        qc = (r3.get("cpu_per_newton_s", r3["per_newton_s"]) / r3["dofs"]) / (
            r2.get("cpu_per_newton_s", r2["per_newton_s"]) / r2["dofs"])
        verdict = "MET" if max(q, qc) <= GOAL_3D_OVER_2D else "NOT MET"
        lines.append(f"- cost per unknown per Newton iteration, 3D / 2D <= "
                     f"{GOAL_3D_OVER_2D:g}x: {q:.1f}x wall, {qc:.1f}x CPU time: **{verdict}**")
    lines.append("")
    lines.append("Where a Newton iteration goes (PETSc log events over the steps, per Newton "
                 "iteration; the rest = the linear solves with their GAMG set-up and the line "
                 "search's vector work):")
    lines.append("")
    for r in results:
        b = r.get("breakdown_per_newton_s")
        if b:
            lines.append(f"- {r['dimension']}D: Jacobian assembly {b['jacobian']:.3f} s, "
                         f"residual assembly {b['residual']:.3f} s, linear solve and rest "
                         f"{b['linear_solve_and_rest']:.3f} s (floor {r['floor_s']:.3f} s; CPU "
                         f"time per Newton iteration {r['cpu_per_newton_s']:.3f} s)")
    lines.append("")
    lines.append("Steps: " + "; ".join(
        f"{r['dimension']}D " + ", ".join(f"dt {s['dt_s']} s: {s['newton_its']} Newton, "
                                           f"{s['ksp_its']} KSP its, {s['wall_s']:.2f} s"
                                           for s in r["steps"]) for r in results))
    loads = ", ".join(f"{r['dimension']}D {r['load_average_1min'][0]:.1f} -> "
                      f"{r['load_average_1min'][1]:.1f}" for r in results
                      if "load_average_1min" in r)
    if loads:
        lines.append("")
        lines.append(f"Load average (1 min) before -> after each dimension's run: {loads} on "
                     f"{os.cpu_count()} cores. Above the core count other processes shared the "
                     "cores: the floor and the step both slow down, their ratio less so.")
    return "\n".join(lines) + "\n"


def worker(args_path: str, result_path: str) -> None:
    """One dimension in this process (``--worker args.json result.json``, started by spawn)."""
    a = json.loads(Path(args_path).read_text())
    Path(result_path).write_text(json.dumps(measure(a["dim"], a["size"], a["flux"])))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="large")
    parser.add_argument("--flux", default="fitted", choices=("fitted", "exact"),
                        help="physics.vacancy_flux (\"exact\": the cell-average flux, for "
                             "comparison; results then go to fitted_flux_exact*)")
    parser.add_argument("--dim", type=int, choices=(2, 3), action="append",
                        help="the dimensions to run (default: 2 and 3); a dimension run alone "
                             "replaces its row in the existing results file")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds per dimension's process")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    name = "fitted_flux" + ("" if args.flux == "fitted" else f"_{args.flux}") + (
        "" if args.size == "large" else f"_{args.size}")
    path = args.out / f"{name}.json"
    rows = {}
    if args.dim and path.exists():  # the other dimension's row stays
        rows = {r["dimension"]: r for r in json.loads(path.read_text())}
    for dim in args.dim or (2, 3):
        res = spawn(None, {"dim": dim, "size": args.size, "flux": args.flux}, args.timeout,
                    script=__file__, flag="--worker")
        if "failed" in res:
            raise SystemExit(f"{dim}D run failed: {res['failed']}")
        rows[dim] = res
    results = [rows[d] for d in sorted(rows)]
    args.out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    text = report(results)
    (args.out / f"{name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
