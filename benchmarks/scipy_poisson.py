"""Benchmark: heterofem's scalar Poisson solve against a plain SciPy P1 assembly on the same mesh.

    python benchmarks/scipy_poisson.py [--quick] [--out DIR]

The third comparison of issue #10 (besides the GAMG floor and FiPy): the scalar Poisson
operator of the 2D benchmark stack (``configs/stack_tio2_vo2_tio2_2d_step.toml``: anisotropic
permittivity per layer, Thomas-Fermi screening in VO2, the fixed space charge, phi = 0 at the
bottom) on the structured P1 triangle meshes of ``vacancy_poisson.py``, solved three ways in one
process, side by side:

- ``dolfinx-gamg``: DOLFINx assembly + CG/GAMG (rtol 1e-8): the floor of vacancy_poisson.py;
- ``dolfinx-mumps``: DOLFINx assembly + MUMPS LU (heterofem's default linear solver);
- ``scipy-splu``: the same P1 matrices assembled with NumPy (vectorised over cells: element
  matrices by einsum, one COO -> CSR conversion), Dirichlet rows eliminated, and
  ``scipy.sparse.linalg.spsolve`` (SuperLU, COLAMD ordering);
- ``scipy-cg``: the SciPy matrix with ``scipy.sparse.linalg.cg`` and a Jacobi preconditioner
  (SciPy has no AMG; pyamg is not part of the environment).

The SciPy solution is checked against DOLFINx's (same matrix up to round-off: the difference of
the solutions is reported), so the timings compare the same discrete problem. Every size runs in
its own process; serial, OMP_NUM_THREADS=1. Writes ``DIR/scipy_poisson.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
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
STACK_2D = HERE / "configs" / "stack_tio2_vo2_tio2_2d_step.toml"
#: ny (cells across the stack) -> scalar unknowns (2 ny^2 + 3 ny + 1): 6.4e3, 4.8e4, 5.1e5, 1.0e6
SIZES = {"6e3": 56, "5e4": 154, "5e5": 504, "1e6": 714}
QUICK_SIZES = ("6e3", "5e4")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _best(fn, repeats=3):
    """Best of ``repeats`` wall times of fn() and its last result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def worker(args: dict) -> dict:
    import numpy as np
    import scipy
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    sys.path.insert(0, str(HERE))
    from vacancy_poisson import assemble_floor, floor_forms, structured_stack_mesh

    from heterofem import Simulation
    from heterofem.solver import units
    from heterofem.solver.dolfinx_env import PETSc, dolfinx

    sim = Simulation.from_toml(STACK_2D)
    cfg = sim.config
    stack, _ = structured_stack_mesh(cfg, args["ny"])
    mesh = stack.mesh
    es = sim.build(stack=stack).modules[0]  # the electrostatics module of the coupled model
    V, a_form, L_form, bcs = floor_forms(es, stack)
    out = {"ny": args["ny"], "dofs": V.dofmap.index_map.size_global,
           "cells": mesh.topology.index_map(2).size_global, "scipy_version": scipy.__version__,
           "rss_mib": {"setup": peak_rss_mib()}}

    # -- DOLFINx: assembly, then GAMG and MUMPS ---------------------------------------------
    A = dolfinx.fem.petsc.create_matrix(a_form)
    b = dolfinx.fem.petsc.create_vector(V)

    def assemble():
        assemble_floor(A, b, a_form, L_form, bcs)

    t_asm, _ = _best(assemble)
    res = {}
    for name, opts in (("dolfinx-gamg", {"ksp_type": "cg", "ksp_rtol": 1e-8, "pc_type": "gamg"}),
                       ("dolfinx-mumps", {"ksp_type": "preonly", "pc_type": "lu",
                                          "pc_factor_mat_solver_type": "mumps"})):
        x = b.duplicate()
        ksp = PETSc.KSP().create(mesh.comm)
        ksp.setOptionsPrefix(name.replace("-", "_") + "_")
        o = PETSc.Options()
        for k, val in opts.items():
            o[f"{ksp.getOptionsPrefix()}{k}"] = val
        ksp.setFromOptions()

        def solve():
            ksp.setOperators(A)  # a fresh setup each time (GAMG hierarchy / factorisation)
            ksp.reset()
            ksp.setOperators(A)
            ksp.setFromOptions()
            x.set(0.0)
            ksp.solve(b, x)
            return ksp.getIterationNumber()

        t_solve, its = _best(solve, 2 if out["dofs"] > 3e5 else 3)
        res[name] = {"assembly_s": t_asm, "solve_s": t_solve, "total_s": t_asm + t_solve,
                     "iterations": its, "converged": ksp.getConvergedReason() > 0}
        sol = x.array.copy()
        ksp.destroy()
        res[name]["rss_mib"] = peak_rss_mib()
    A.destroy()

    # -- SciPy: the same P1 matrices from NumPy ----------------------------------------------
    cells = V.dofmap.list  # (n_cells, 3) dof numbers
    xy = V.tabulate_dof_coordinates()[:, :2]
    ndof = xy.shape[0]
    eps = es.eps.x.array.reshape(-1, 2, 2)  # DG0 tensor per cell (cell i <-> dof i in DG0)
    eps_dofs = es.eps.function_space.dofmap.list[:, 0]
    k_tf = (es.k_tf.x.array[es.k_tf.function_space.dofmap.list[:, 0]]
            if es.k_tf is not None else 0.0)
    rho = es.rho.x.array[es.rho.function_space.dofmap.list[:, 0]] if es.rho is not None else 0.0
    eps_c = eps[eps_dofs]
    bc_dofs = np.unique(np.concatenate([bc.dof_indices()[0] for bc in bcs]))
    bc_vals = np.zeros(ndof)
    for bc in bcs:
        d = bc.dof_indices()[0]
        bc_vals[d] = bc.g.x.array[d] if hasattr(bc.g, "x") else float(bc.g.value)

    def scipy_assemble():
        p = xy[cells]  # (n, 3, 2)
        d1, d2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
        det = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
        area = 0.5 * np.abs(det)
        # gradients of the barycentric functions: G (n, 3, 2)
        inv = np.empty((len(det), 2, 2))
        inv[:, 0, 0], inv[:, 0, 1] = d2[:, 1] / det, -d2[:, 0] / det
        inv[:, 1, 0], inv[:, 1, 1] = -d1[:, 1] / det, d1[:, 0] / det
        ref = np.array([[-1.0, -1.0], [1.0, 0.0], [0.0, 1.0]])
        G = np.einsum("ij,njk->nik", ref, inv)
        Ke = np.einsum("nik,nkl,njl->nij", G, eps_c, G) * area[:, None, None]
        Me = (np.ones((3, 3)) + np.eye(3)) / 12.0
        Ke += (k_tf * area)[:, None, None] * Me
        fe = np.repeat((units.RHO_SCALE * rho * area / 3.0)[:, None], 3, axis=1)
        rows = np.repeat(cells, 3, axis=1).ravel()
        cols = np.tile(cells, (1, 3)).ravel()
        K = sp.coo_matrix((Ke.ravel(), (rows, cols)), shape=(ndof, ndof)).tocsr()
        f = np.bincount(cells.ravel(), fe.ravel(), minlength=ndof)
        # Dirichlet: move the known values to the right-hand side, identity rows
        f -= K @ bc_vals
        f[bc_dofs] = bc_vals[bc_dofs]
        keep = np.ones(ndof)
        keep[bc_dofs] = 0.0
        D = sp.diags(keep)
        K = (D @ K @ D + sp.diags(1.0 - keep)).tocsc()
        return K, f

    t_sasm, (K, f) = _best(scipy_assemble)
    out["rss_mib"]["scipy_assembly"] = peak_rss_mib()
    big = out["dofs"] > 3e5
    t_splu, xs = _best(lambda: spla.spsolve(K, f), 1 if big else 3)
    out["rss_mib"]["scipy_splu"] = peak_rss_mib()
    res["scipy-splu"] = {"assembly_s": t_sasm, "solve_s": t_splu, "total_s": t_sasm + t_splu,
                         "iterations": None, "converged": True}
    Kr = K.tocsr()
    Mj = sp.diags(1.0 / Kr.diagonal())
    its = [0]

    def cg():
        its[0] = 0

        def count(_):
            its[0] += 1
        return spla.cg(Kr, f, rtol=1e-8, M=Mj, maxiter=20000, callback=count)

    t_cg, (xc, info) = _best(cg, 1 if big else 3)
    res["scipy-cg"] = {"assembly_s": t_sasm, "solve_s": t_cg, "total_s": t_sasm + t_cg,
                       "iterations": its[0], "converged": info == 0}
    scale = np.max(np.abs(xs))
    out["max_diff_scipy_vs_dolfinx_rel"] = float(np.max(np.abs(xs - sol)) / scale)
    out["max_diff_cg_vs_splu_rel"] = float(np.max(np.abs(xc - xs)) / scale)
    out["solvers"] = res
    out["rss_mib"]["end"] = peak_rss_mib()
    return out


def spawn(args: dict, timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        a, r = Path(tmp) / "args.json", Path(tmp) / "result.json"
        a.write_text(json.dumps(args))
        env = dict(os.environ, OMP_NUM_THREADS="1")
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(a), str(r)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return {"failed": f"timed out after {timeout:.0f} s"}
        if proc.returncode != 0 or not r.exists():
            return {"failed": f"exit code {proc.returncode}: {(proc.stderr or proc.stdout)[-1500:]}"}
        return json.loads(r.read_text())


def markdown(res: dict) -> str:
    L = [f"# scipy_poisson benchmark{' (--quick)' if res['quick'] else ''}", "",
         f"{res['date']} on {res['machine']}; serial. The scalar Poisson operator of the 2D "
         "benchmark stack on structured P1 triangles; assembly + solve, best of 3 (1 for SciPy "
         "above 3e5 unknowns). Ratio = time / `dolfinx-gamg` time (the floor of "
         "vacancy_poisson.py).", "",
         "| N | solver | assembly [s] | solve [s] | total [s] | its | ratio to floor |",
         "|---|---|---|---|---|---|---|"]
    for c in res["cases"]:
        if "failed" in c:
            L.append(f"| {c.get('label')} | FAILED: {c['failed'][:150]} ||||||")
            continue
        floor = c["solvers"]["dolfinx-gamg"]["total_s"]
        for name, s in c["solvers"].items():
            its = "-" if s["iterations"] is None else s["iterations"]
            conv = "" if s["converged"] else " (not converged)"
            L.append(f"| {c['dofs']} | {name}{conv} | {s['assembly_s']:.3g} | {s['solve_s']:.3g} | "
                     f"{s['total_s']:.3g} | {its} | {s['total_s'] / floor:.2f} |")
    L += ["", "Same discrete problem: largest difference of the SciPy (SuperLU) and DOLFINx (MUMPS) "
          "solutions, relative to max |phi|: "
          + ", ".join(f"{c['dofs']}: {c['max_diff_scipy_vs_dolfinx_rel']:.1e}"
                      for c in res["cases"] if "failed" not in c) + ".", ""]
    return "\n".join(L)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="the two smallest sizes only")
    p.add_argument("--out", default=None)
    p.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        res = worker(json.loads(Path(a.worker[0]).read_text()))
        Path(a.worker[1]).write_text(json.dumps(res))
        return 0
    out = Path(a.out or (HERE / "results" / ("quick" if a.quick else "")))
    cases = []
    for label, ny in SIZES.items():
        if a.quick and label not in QUICK_SIZES:
            continue
        print(f"scipy_poisson: {label} (ny = {ny}) ...", flush=True)
        c = spawn({"ny": ny}, timeout=900)
        c["label"] = label
        cases.append(c)
    res = {"quick": a.quick, "date": time.strftime("%Y-%m-%d %H:%M"),
           "machine": f"{platform.machine()}, {os.cpu_count()} cores", "cases": cases}
    out.mkdir(parents=True, exist_ok=True)
    (out / "scipy_poisson.json").write_text(json.dumps(res, indent=1))
    (out / "scipy_poisson.md").write_text(markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
