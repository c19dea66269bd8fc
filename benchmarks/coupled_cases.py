"""Benchmark: the coupled problems through ``Simulation.run`` in 1D, 2D and 3D, serial and mpirun -n 2.

    python benchmarks/coupled_cases.py [--quick] [--out DIR] [--ranks 1 2] [--problems vacancy,polar-strain]

Two coupled problems, each at increasing mesh sizes in 1D, 2D and 3D, each size on 1 and on 2
MPI ranks (``mpirun -n R``, one process group per case):

- ``vacancy``: charged oxygen vacancies + Poisson with Fermi-Dirac electrons, the
  TiO2/VO2_R/TiO2 stack of ``vacancy_poisson.py`` (2D/3D: a 2 nm VO2 terrace step), one
  backward-Euler step of 1 s from the initial state (default Newton + MUMPS);
- ``polar-strain``: Landau polarization + Poisson + linear elasticity
  (``configs/ruo2_tio2_110_island_polar_strain.toml``: a RuO2 island on RuO2/TiO2(110);
  1D without mechanics and island), steady state by heterofem's pseudo-transient continuation;
- ``crystallization``: phase field + vacancies + Poisson
  (``configs/tio2_vo2_tio2_crystallization_1d.toml``: a TiO2 film deposited on a VO2
  template, crystallizing; BDF2 to 100 s in 1D, 20 s in 2D), one mesh each (not in --quick).

Per case: dofs, wall time of the solve phase (``summary.json`` timings; meshing, setup and
output apart), Newton iterations, time per Newton iteration, the scalar Poisson floor on the
same mesh (CG + GAMG, assembly + solve, as in vacancy_poisson.py) and the ratio to it, peak RSS
per rank (``getrusage``), and memory per unknown (sum over ranks of peak RSS, and of peak RSS
less the RSS after the imports, divided by the dofs). The forms are compiled by a coarse
warm-up run in the same process before the timed run. Parallel efficiency at 2 ranks =
T(1) / (2 T(2)) for the same mesh. Writes ``DIR/coupled_cases.json``, ``.csv``, ``.md`` and
``coupled_cases.png`` (default DIR benchmarks/results; --quick: benchmarks/results/quick).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIGS = HERE / "configs"

#: problem -> dimension -> (config, fixed overrides, [(mesh size_nm, interface_size_nm), ...]
#: coarse to fine), and the sizes a --quick run uses (indices)
PROBLEMS = {
    "vacancy": {
        1: (CONFIGS / "stack_tio2_vo2_tio2_1d.toml",
            ["time.end_s=1.0", "time.dt_initial_s=1.0", "time.output_times_s=[]"],
            [(0.05, 0.005), (0.005, 0.0005), (0.0005, 0.0001)]),
        2: (CONFIGS / "stack_tio2_vo2_tio2_2d_step.toml", ["time.end_s=1.0"],
            [(1.0, 0.25), (0.4, 0.1), (0.14, 0.035)]),
        3: (CONFIGS / "stack_tio2_vo2_tio2_2d_step.toml",
            ["run.dimension=3", "mesh.width_nm=28.0", "mesh.depth_nm=10.0",
             "mesh.features.0.x_nm=14.0", "time.end_s=1.0"],
            [(2.0, 0.5), (1.2, 0.3)]),
    },
    "polar-strain": {
        1: (CONFIGS / "ruo2_tio2_110_island_polar_strain.toml",
            ["run.dimension=1", "physics.mechanics=false", "mesh.features=[]"],
            [(0.25, 0.05), (0.025, 0.005), (0.0025, 0.0005)]),
        2: (CONFIGS / "ruo2_tio2_110_island_polar_strain.toml", [],
            [(0.6, 0.15), (0.3, 0.075), (0.15, 0.0375), (0.055, 0.0138)]),
        3: (CONFIGS / "ruo2_tio2_110_island_polar_strain.toml",
            ["run.dimension=3", "mesh.depth_nm=12.0", "mesh.features.0.y_nm=6.0",
             "mesh.features.0.depth_nm=6.0"],
            [(1.5, 0.5), (1.0, 0.3)]),
    },
    "crystallization": {
        1: (CONFIGS / "tio2_vo2_tio2_crystallization_1d.toml", [], [(0.5, 0.05)]),
        2: (CONFIGS / "tio2_vo2_tio2_crystallization_1d.toml",
            ["run.dimension=2", "time.end_s=20.0"], [(1.0, 0.1)]),
    },
}
#: problems left out of --quick (slow per unknown)
NOT_QUICK = ("crystallization",)
QUICK = {1: [], 2: [0], 3: []}
#: the mesh indices that also run on more than one rank, per dimension (1D is too small to
#: split; the 1e6 polar-strain mesh runs serially only, to keep `make bench` short)
PARALLEL = {1: (), 2: (0, 1, 2), 3: (0, 1)}
#: coarse warm-up mesh per dimension (compiles the forms)
WARMUP = {1: (0.5, 0.1), 2: (2.0, 0.5), 3: (3.0, 1.5)}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(args: dict) -> dict:
    rss_imports = None
    from heterofem.solver.dolfinx_env import MPI, dolfinx

    comm = MPI.COMM_WORLD
    rss_imports = peak_rss_mib()
    from heterofem import Simulation
    from heterofem.solver.physics.electrostatics import Electrostatics

    sys.path.insert(0, str(HERE))
    from vacancy_poisson import assemble_floor, floor_forms, floor_ksp

    out_dir = Path(args["out"])
    size, iface = args["mesh"]
    ws, wi = args["warmup"]
    mesh_set = lambda s, i: [f"mesh.size_nm={s}", f"mesh.interface_size_nm={i}"]  # noqa: E731
    warm = Simulation.from_toml(args["config"], set=args["overrides"] + mesh_set(ws, wi))
    if warm.config.time is not None:  # two steps compile every form
        warm.config.time.end_s = min(warm.config.time.end_s, 2.0 * warm.config.time.dt_initial_s)
    # check=False: the configs are known good, and the PETSc check's trial solve stays untimed
    warm.run(out_dir / "warm", overwrite=True, comm=comm, check=False)
    sim = Simulation.from_toml(args["config"], set=args["overrides"] + mesh_set(size, iface))
    comm.Barrier()
    t0 = time.perf_counter()
    summary = sim.run(out_dir / "run", overwrite=True, comm=comm, check=False).summary
    wall = time.perf_counter() - t0
    rss_case = peak_rss_mib()

    # the floor: CG + GAMG scalar Poisson of the same stack on the same mesh (meshed again, as
    # the run's model is not kept), with the electrostatics module alone
    model = sim.build(comm)
    es = Electrostatics(model.domain)
    V, a_form, L_form, bcs = floor_forms(es, model.stack)
    A = dolfinx.fem.petsc.create_matrix(a_form)
    b = dolfinx.fem.petsc.create_vector(V)
    x = b.duplicate()
    ksp = floor_ksp(comm)
    floors = []
    for _ in range(3):
        comm.Barrier()
        t1 = time.perf_counter()
        assemble_floor(A, b, a_form, L_form, bcs)
        ksp.setOperators(A)
        x.set(0.0)
        ksp.solve(b, x)
        floors.append(comm.allreduce(time.perf_counter() - t1, op=MPI.MAX))
    rss = comm.gather(rss_case, root=0)
    rss0 = comm.gather(rss_imports, root=0)
    if comm.rank != 0:
        return {}
    pt = summary.get("pseudo_transient") or summary.get("time") or {}
    newton = pt.get("newton_iterations", summary.get("newton_iterations"))
    solve = summary["timings_s"]["solve"]
    return {
        "dofs": summary["dofs"], "cells": summary["mesh"]["cells"], "ranks": comm.size,
        "converged": summary["converged"], "wall_s": wall, "timings_s": summary["timings_s"],
        "solve_s": solve, "newton_iterations": newton, "steps": pt.get("steps"),
        "per_newton_s": solve / max(newton or 1, 1),
        "floor_s": min(floors), "floor_dofs": V.dofmap.index_map.size_global,
        "floor_ksp_its": ksp.getIterationNumber(),
        "peak_rss_mib_per_rank": rss, "rss_after_imports_mib_per_rank": rss0,
        "kB_per_unknown": 1024.0 * sum(rss) / summary["dofs"],
        "kB_per_unknown_above_imports": 1024.0 * (sum(rss) - sum(rss0)) / summary["dofs"],
    }


def spawn(args: dict, ranks: int, timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        a, r = Path(tmp) / "args.json", Path(tmp) / "result.json"
        a.write_text(json.dumps({**args, "out": str(Path(tmp) / "runs")}))
        env = dict(os.environ, OMP_NUM_THREADS="1")
        mpirun = Path(sys.executable).parent / "mpirun"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(a), str(r)]
        if ranks > 1:
            cmd = [str(mpirun), "-n", str(ranks)] + cmd
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return {"failed": f"timed out after {timeout:.0f} s"}
        if proc.returncode != 0 or not r.exists():
            return {"failed": f"exit code {proc.returncode}: {(proc.stderr or proc.stdout)[-1200:]}"}
        res = json.loads(r.read_text())
        res["process_s"] = time.perf_counter() - t0
        return res


def efficiency(cases: list[dict]) -> None:
    """Strong-scaling efficiency T1 / (R T_R) of the solve phase, per problem, dim and mesh."""
    serial = {(c["problem"], c["dim"], tuple(c["mesh"])): c for c in cases
              if c["ranks"] == 1 and "solve_s" in c}
    for c in cases:
        s = serial.get((c["problem"], c["dim"], tuple(c["mesh"])))
        if c["ranks"] > 1 and s and "solve_s" in c:
            c["parallel_efficiency"] = s["solve_s"] / (c["ranks"] * c["solve_s"])


def markdown(res: dict) -> str:
    L = [f"# coupled_cases benchmark{' (--quick)' if res['quick'] else ''}", "",
         f"{res['date']} on {res['machine']}. Solve phase of run_case (meshing, setup and output "
         "apart; forms compiled by a warm-up run); floor = CG + GAMG scalar Poisson on the same "
         "mesh with the same ranks; memory = peak RSS summed over ranks / dofs (in brackets: "
         "less the RSS after the imports, ~150 MiB per rank). Efficiency = T(1 rank) / (2 T(2 ranks)).",
         "",
         "| problem | dim | dofs | ranks | Newton its (steps) | solve [s] | per Newton [s] | floor [s] | ratio | peak RSS/rank [MiB] | kB/unknown | efficiency |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in res["cases"]:
        if "failed" in c:
            L.append(f"| {c['problem']} | {c['dim']}D | mesh {c['mesh']} | {c['ranks']} | FAILED: "
                     f"{c['failed'][-160:]} ||||||||")
            continue
        eff = c.get("parallel_efficiency")
        L.append(f"| {c['problem']} | {c['dim']}D | {c['dofs']} | {c['ranks']} | "
                 f"{c['newton_iterations']} ({c['steps']}) | {c['solve_s']:.3g} | {c['per_newton_s']:.3g} | "
                 f"{c['floor_s']:.3g} | {c['per_newton_s'] / c['floor_s']:.1f} | "
                 f"{max(c['peak_rss_mib_per_rank']):.0f} | {c['kB_per_unknown']:.1f} "
                 f"({c['kB_per_unknown_above_imports']:.1f}) | {'-' if eff is None else f'{100 * eff:.0f} %'} |")
    L += ["", "![time and memory](coupled_cases.png)", ""]
    return "\n".join(L)


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    for prob, marker in (("vacancy", "o"), ("polar-strain", "s"), ("crystallization", "^")):
        for dim, color in ((1, "C0"), (2, "C1"), (3, "C2")):
            for ranks, ls in ((1, "-"), (2, "--")):
                rows = sorted((c for c in res["cases"] if c["problem"] == prob and c["dim"] == dim
                               and c["ranks"] == ranks and "solve_s" in c), key=lambda c: c["dofs"])
                if not rows:
                    continue
                n = [c["dofs"] for c in rows]
                kw = dict(marker=marker, color=color, ls=ls, label=f"{prob} {dim}D n={ranks}")
                ax[0].loglog(n, [c["per_newton_s"] for c in rows], **kw)
                ax[1].semilogx(n, [c["per_newton_s"] / c["floor_s"] for c in rows], **kw)
                ax[2].loglog(n, [c["kB_per_unknown"] for c in rows], **kw)
    ax[0].set_ylabel("time per Newton iteration [s]")
    ax[1].set_ylabel("per Newton / GAMG Poisson floor")
    ax[1].axhline(4.0, color="k", lw=0.8, ls=":")
    ax[2].set_ylabel("peak RSS (all ranks) per unknown [kB]")
    ax[2].axhline(2.0, color="k", lw=0.8, ls=":")
    for a in ax:
        a.set_xlabel("unknowns")
        a.grid(True, which="both", alpha=0.3)
    ax[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="the coarsest sizes only (~1 min)")
    p.add_argument("--out", default=None)
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--problems", default=",".join(PROBLEMS))
    p.add_argument("--dims", default="1,2,3")
    p.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        res = worker(json.loads(Path(a.worker[0]).read_text()))
        if res:
            Path(a.worker[1]).write_text(json.dumps(res))
        return 0
    out = Path(a.out or (HERE / "results" / ("quick" if a.quick else "")))
    t0 = time.perf_counter()
    cases = []
    previous = out / "coupled_cases.json"
    if previous.exists():  # a partial run keeps the other problems' and dimensions' cases
        old = json.loads(previous.read_text())
        rerun = {(p, d) for p in a.problems.split(",") for d in map(int, a.dims.split(","))}
        if old.get("quick") == a.quick:
            cases = [c for c in old["cases"] if (c["problem"], c["dim"]) not in rerun]
    for prob in a.problems.split(","):
        for dim in map(int, a.dims.split(",")):
            if dim not in PROBLEMS[prob] or (a.quick and prob in NOT_QUICK):
                continue
            config, overrides, meshes = PROBLEMS[prob][dim]
            picks = QUICK[dim] if a.quick else range(len(meshes))
            for i in picks:
                for ranks in a.ranks:
                    if ranks > 1 and i not in PARALLEL[dim]:
                        continue
                    print(f"coupled_cases: {prob} {dim}D mesh {meshes[i]} on {ranks} rank(s) ...",
                          flush=True)
                    c = spawn({"config": str(config), "overrides": overrides, "mesh": meshes[i],
                               "warmup": WARMUP[dim]}, ranks, timeout=600)
                    c.update(problem=prob, dim=dim, mesh=list(meshes[i]), ranks=ranks)
                    cases.append(c)
    efficiency(cases)
    res = {"quick": a.quick, "date": time.strftime("%Y-%m-%d %H:%M"),
           "machine": f"{platform.machine()}, {os.cpu_count()} cores",
           "cases": cases, "benchmark_wall_s": time.perf_counter() - t0}
    out.mkdir(parents=True, exist_ok=True)
    (out / "coupled_cases.json").write_text(json.dumps(res, indent=1))
    cols = ["problem", "dim", "ranks", "dofs", "cells", "newton_iterations", "steps", "solve_s",
            "per_newton_s", "floor_s", "kB_per_unknown", "kB_per_unknown_above_imports",
            "parallel_efficiency", "failed"]
    with open(out / "coupled_cases.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols + ["peak_rss_mib_max_rank"], extrasaction="ignore")
        w.writeheader()
        for c in cases:
            w.writerow({**c, "peak_rss_mib_max_rank": max(c.get("peak_rss_mib_per_rank") or [0])})
    plot(res, out / "coupled_cases.png")
    (out / "coupled_cases.md").write_text(markdown(res))
    print(markdown(res))
    print(f"wrote {out / 'coupled_cases.json'} in {res['benchmark_wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
