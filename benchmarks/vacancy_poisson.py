"""Benchmark: coupled vacancy + Poisson solves (heterofem) against a scalar Poisson floor and FiPy.

    python benchmarks/vacancy_poisson.py [--quick] [--out DIR] [--parts transient,scaling[,fipy]]

Writes ``DIR/vacancy_poisson.json`` and ``DIR/vacancy_poisson.md`` (default DIR:
benchmarks/results; with --quick benchmarks/results/quick, not kept in git). Every case runs
in its own subprocess (a fresh process: peak RSS per case, no state carried between cases);
all cases run in one invocation, side by side. See benchmarks/README.md.

1. transient: the 1D TiO2/VO2_R/TiO2 stack (``configs/stack_tio2_vo2_tio2_1d.toml``) through
   ``Simulation.run`` (``run_case``) to steady state: wall time, steps, Newton iterations,
   time per Newton step.
2. scaling: the same stack in 2D (x-z, a 2 nm VO2 terrace step under the film), structured
   P1 triangles from ``dolfinx.mesh.create_rectangle`` at ~1e4, 1e5, 1e6 unknowns (mu and phi).
   Time per Newton iteration of one transient step (assembly + linear solve) with the default
   MUMPS LU, an options-only iterative solver (GMRES + field split: GAMG on phi, ASM/LU on mu),
   a Picard-preconditioned field split with GAMG on both fields (needs a solver change) and a
   quadrature-degree what-if, against the floor: one CG + GAMG scalar Poisson solve (assembly
   + solve) on the same mesh. Peak RSS per case; growth exponents fitted over N.
3. fipy: the 1D stack (dilute vacancies) in heterofem and in FiPy, same backward-Euler time
   schedule, meshes refined until the layer inventories at 60 s and 600 s are within 1e-3 of a
   fine heterofem reference; wall time at equal accuracy. See ``fipy_stack.py`` for the FiPy
   model and why it uses the Slotboom variable. Superseded by ``fipy_fair.py`` (issue #26
   item 5: FiPy as an expert writes it, a Richardson reference from both codes); runs only
   with ``--parts ...,fipy``. ``fipy_fair.py`` uses this file's workers and helpers.
"""

from __future__ import annotations

import argparse
import json
import math
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
STACK_1D = CONFIGS / "stack_tio2_vo2_tio2_1d.toml"
STACK_2D = CONFIGS / "stack_tio2_vo2_tio2_2d_step.toml"

#: PETSc options of the iterative coupled solver (under the heterofem_ prefix): GMRES with a
#: multiplicative field split, GAMG on the phi block and additive Schwarz with LU subdomains
#: (about 6000 dofs each, overlap 2) on the mu block. The mu block of the Jacobian is not an
#: M-matrix (the mobility derivative adds a strong convection-like term where mu is steep):
#: GAMG, SOR and ILU on it fail or stall; see the README. All of these go through
#: [solver.petsc_options] (heterofem names the split's index sets after the unknowns).
ITERATIVE_OPTIONS = {
    "ksp_type": "gmres",
    "ksp_rtol": 1e-8,
    "ksp_max_it": 500,
    "ksp_gmres_restart": 100,
    "pc_type": "fieldsplit",
    "pc_fieldsplit_type": "multiplicative",
}
FIELDSPLIT_OPTIONS = {
    "fieldsplit_phi_ksp_type": "preonly",
    "fieldsplit_phi_pc_type": "gamg",
    "fieldsplit_mu_ksp_type": "preonly",
    "fieldsplit_mu_pc_type": "asm",
    "fieldsplit_mu_pc_asm_blocks": "auto",  # number of mu dofs / ASM_BLOCK_DOFS
    "fieldsplit_mu_pc_asm_overlap": 2,
    "fieldsplit_mu_sub_pc_type": "lu",
}
ASM_BLOCK_DOFS = 6000
#: the "picard" variant: the same GMRES + field split, GAMG on both blocks, with heterofem's
#: ``solver.preconditioner = "picard"``: the preconditioning matrix is the Jacobian with the
#: vacancy mobility held fixed (the mu block is then storage + a mobility-weighted Laplacian,
#: an M-matrix). GMRES(30) (PETSc's default restart) instead of the 100 of ITERATIVE_OPTIONS:
#: at 1e6 the first Newton iterations take 70+ GMRES iterations and the Krylov basis (8 MiB a
#: vector) was 0.35 GB of the peak; restarting at 30 costs no time there (a probe, 2026-11-23:
#: 144 s against 148 s for 7 Newton iterations).
PICARD_FIELDSPLIT_OPTIONS = {
    "ksp_gmres_restart": 30,
    "fieldsplit_phi_ksp_type": "preonly",
    "fieldsplit_phi_pc_type": "gamg",
    "fieldsplit_mu_ksp_type": "preonly",
    "fieldsplit_mu_pc_type": "gamg",
}
#: the scalar initial-potential solve of the iterative case (it reads the same option table)
SCALAR_ITERATIVE_OPTIONS = {"ksp_type": "cg", "ksp_rtol": 1e-10, "pc_type": "gamg"}
FLOOR_OPTIONS = {"ksp_type": "cg", "ksp_rtol": 1e-8, "pc_type": "gamg"}

#: 2D meshes: cells across the 28 nm stack (multiples of 14 keep layer interfaces and the
#: step on mesh lines); the width is twice the height
SIZES_2D = {"1e4": 56, "1e5": 154, "1e6": 504}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


# ======================================================================================
# workers (each runs in its own process)
# ======================================================================================


def _hf_imports():
    from heterofem.solver.dolfinx_env import MPI, PETSc, dolfinx  # noqa: F401

    return MPI, PETSc, dolfinx


def worker_transient(args: dict) -> dict:
    """Part 1: a run (``Simulation.run``, as ``heterofem run``) of the 1D stack to steady state."""
    _hf_imports()
    from heterofem import Simulation
    import csv

    sim = Simulation.from_toml(STACK_1D)
    cfg = sim.config
    # warm-up (JIT compilation of the forms is cached on disk; not part of the timing)
    warm = sim.with_({"time.end_s": 1.0, "time.output_times_s": []})
    with tempfile.TemporaryDirectory() as tmp:
        # check=False: a known-good config; the PETSc check's trial solve is not part of a run
        warm.run(Path(tmp) / "warm", overwrite=True, check=False)
        t0 = time.perf_counter()
        summary = sim.run(Path(tmp) / "run", overwrite=True, check=False).summary
        wall = time.perf_counter() - t0
        rows = list(csv.DictReader(open(Path(tmp) / "run" / "timeseries.csv")))
    layers = [lay.name for lay in cfg.layers]
    t = [float(r["t_s"]) for r in rows]
    inv = {n: [float(r[f"N_V_{n}_per_m2"]) for r in rows] for n in layers}
    total = [float(r["N_V_total_per_m2"]) for r in rows]
    # steady state: change of each layer's inventory over the last half of the run, relative to
    # the total inventory; and the time after which every layer stays within 1e-6 of its end
    half = next(i for i, ti in enumerate(t) if ti >= t[-1] / 2)
    change = max(abs(inv[n][-1] - inv[n][half]) for n in layers) / total[-1]
    settled = 0.0
    for i in range(len(t) - 1, -1, -1):
        if max(abs(inv[n][i] - inv[n][-1]) for n in layers) > 1e-6 * total[-1]:
            settled = t[i + 1] if i + 1 < len(t) else t[-1]
            break
    st = summary["time"]
    solve = summary["timings_s"]["solve"]
    return {
        "config": str(STACK_1D.relative_to(HERE.parent)),
        "dofs": summary["dofs"],
        "cells": summary["mesh"]["cells"],
        "end_s": st["end_s"],
        "steps": st["steps"],
        "rejected_steps": st["rejected_steps"],
        "newton_iterations": st["newton_iterations"],
        "wall_s": wall,
        "timings_s": summary["timings_s"],
        "time_per_newton_ms": 1e3 * solve / max(st["newton_iterations"], 1),
        "time_per_step_ms": 1e3 * solve / max(st["steps"], 1),
        "steady_change_last_half": change,
        "settled_to_1e-6_at_s": settled,
        "initial_inventory_per_m2": summary["vacancies"]["initial_inventory_per_m2"],
        "final_inventory_per_m2": summary["vacancies"]["inventory_per_m2"],
        "final_mean_delta": summary["vacancies"]["mean_delta"],
        "potential_drop_V": summary["electrostatics"]["potential_drop_V"],
        "peak_rss_mib": peak_rss_mib(),
    }


def floor_forms(es, stack):
    """The floor's scalar Poisson problem on a stack: the stiffness of the electrostatics'
    permittivity (plus its Thomas-Fermi term), its fixed charge as the source (1 C/m^3 where
    the stack has none) and its Dirichlet facets. Returns (V, a_form, L_form, bcs).

    UFL's own quadrature degrees (exact for these polynomial integrands: 1 point for the
    stiffness of P1, 3 for the mass), not heterofem's one degree for every integral."""
    import ufl

    from heterofem.solver import units
    from heterofem.solver.dolfinx_env import dolfinx

    V = dolfinx.fem.functionspace(stack.mesh, ("Lagrange", 1))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    dx = ufl.Measure("dx", domain=stack.mesh, subdomain_data=stack.cell_tags)
    a = ufl.inner(es.eps * ufl.grad(u), ufl.grad(v)) * dx
    if es.k_tf is not None:
        a += es.k_tf * u * v * dx
    rho = es.rho if es.rho is not None else dolfinx.fem.Constant(stack.mesh, 1.0)
    a_form, L_form = dolfinx.fem.form(a), dolfinx.fem.form(units.RHO_SCALE * rho * v * dx)
    return V, a_form, L_form, es.dirichlet({"phi": V})["phi"]


def floor_ksp(comm):
    """The floor's Krylov solver: CG + GAMG (FLOOR_OPTIONS, under the prefix floor_)."""
    from heterofem.solver.dolfinx_env import PETSc

    ksp = PETSc.KSP().create(comm)
    ksp.setOptionsPrefix("floor_")
    opts = PETSc.Options()
    for k, val in FLOOR_OPTIONS.items():
        opts[f"floor_{k}"] = val
    ksp.setFromOptions()
    return ksp


def assemble_floor(A, b, a_form, L_form, bcs) -> None:
    """Assemble the floor's matrix and right-hand side (Dirichlet rows by lifting)."""
    from dolfinx.fem.petsc import apply_lifting, assemble_matrix, assemble_vector, set_bc

    from heterofem.solver.dolfinx_env import PETSc

    A.zeroEntries()
    assemble_matrix(A, a_form, bcs=bcs)
    A.assemble()
    with b.localForm() as loc:
        loc.set(0.0)
    assemble_vector(b, L_form)
    apply_lifting(b, [a_form], bcs=[bcs])
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    set_bc(b, bcs)


def structured_stack_mesh(cfg, ny: int):
    """The 2D stack on a structured triangle mesh (create_rectangle): ny cells across the
    height, 2 ny across the width; cells tagged by layer from their midpoints (a "step" feature
    raises its layer's top by height_nm for x > x_nm); outer facets tagged bottom/top/left/right.
    """
    import numpy as np

    MPI, _, dolfinx = _hf_imports()
    from heterofem.meshes import StackMesh

    H = cfg.total_thickness_nm
    W = cfg.mesh.width_nm
    nx = int(round(ny * W / H))
    mesh = dolfinx.mesh.create_rectangle(
        MPI.COMM_WORLD, [np.array([0.0, 0.0]), np.array([W, H])], [nx, ny],
        dolfinx.mesh.CellType.triangle)
    tdim = 2
    n_cells = mesh.topology.index_map(tdim).size_local + mesh.topology.index_map(tdim).num_ghosts
    cells = np.arange(n_cells, dtype=np.int32)
    mid = dolfinx.mesh.compute_midpoints(mesh, tdim, cells)
    tops = np.array([b for _, b in cfg.layer_bounds_nm()])
    names = [lay.name for lay in cfg.layers]
    top_of = np.tile(tops, (n_cells, 1))
    for feat in cfg.mesh.features:
        if feat.type != "step":
            raise ValueError("only step features are built here")
        i = names.index(feat.layer)
        top_of[mid[:, 0] > feat.x_nm, i] += feat.height_nm
    layer = np.argmax(mid[:, 1:2] < top_of, axis=1)
    layer_ids = {n: i + 1 for i, n in enumerate(names)}
    cell_tags = dolfinx.mesh.meshtags(mesh, tdim, cells, (layer + 1).astype(np.int32))
    mesh.topology.create_connectivity(tdim - 1, tdim)
    sides = {"bottom": lambda x: np.isclose(x[1], 0.0), "top": lambda x: np.isclose(x[1], H),
             "left": lambda x: np.isclose(x[0], 0.0), "right": lambda x: np.isclose(x[0], W)}
    facet_ids, ents, vals = {}, [], []
    for k, (name, where) in enumerate(sides.items(), start=1):
        f = dolfinx.mesh.locate_entities_boundary(mesh, tdim - 1, where)
        facet_ids[name] = k
        ents.append(f)
        vals.append(np.full(f.size, k, dtype=np.int32))
    ents, vals = np.concatenate(ents), np.concatenate(vals)
    order = np.argsort(ents, kind="stable")
    ents, vals = ents[order], vals[order]
    keep = np.concatenate([[True], np.diff(ents) > 0])  # corners: first side wins
    facet_tags = dolfinx.mesh.meshtags(mesh, tdim - 1, ents[keep], vals[keep])
    return StackMesh(mesh, cell_tags, facet_tags, layer_ids, facet_ids), nx


def _event_times(PETSc) -> dict:
    """Inclusive times [s] of PETSc's log events (KSPSetUp, and so PCSetUp and the field
    split's set-up of its blocks' preconditioners, PCSetUpOnBlocks, runs before the KSPSolve
    event starts: the linear solve is KSPSolve + PCSetUp + PCSetUpOnBlocks; with GAMG on both
    fields the last is most of the set-up), and the residual count."""
    names = ["SNESFunctionEval", "SNESJacobianEval", "KSPSolve", "PCSetUp", "PCSetUpOnBlocks",
             "PCApply"]
    out = {n: PETSc.Log.Event(n).getPerfInfo()["time"] for n in names}
    out["residual_count"] = PETSc.Log.Event("SNESFunctionEval").getPerfInfo()["count"]
    return out


def _split_options(problem, split_options: dict) -> dict:
    """The split options with "auto" ASM block counts resolved (about ASM_BLOCK_DOFS mu dofs
    per block)."""
    out = dict(split_options)
    for key, value in out.items():
        if value == "auto":
            out[key] = max(4, problem.spaces["mu"].dofmap.index_map.size_global // ASM_BLOCK_DOFS)
    return out


def worker_scaling(args: dict) -> dict:
    """Part 2: one mesh, one coupled solver; the scalar floor on the same mesh."""
    import numpy as np
    import ufl

    MPI, PETSc, dolfinx = _hf_imports()
    from dolfinx.fem.petsc import apply_lifting, assemble_matrix, assemble_vector, set_bc
    from heterofem import Simulation
    from heterofem.solver import units
    from heterofem.solver.validation import load_config

    PETSc.Log.begin()
    out = {"ny": args["ny"], "solver": args["solver"], "rss_mib": {"imports": peak_rss_mib()},
           "load_average_start": os.getloadavg()[0]}
    cfg = load_config(STACK_2D)
    for key in ("quadrature_degree", "transport_quadrature_degree", "vacancy_flux"):
        if args.get(key):  # e.g. the earlier default, 2k + 3 = 5 for every volume integral
            setattr(cfg.physics, key, args[key])
    out["quadrature_degrees"] = None  # read from the model's domain below (keeps the key order)
    t0 = time.perf_counter()
    stack, nx = structured_stack_mesh(cfg, args["ny"])
    out["mesh_s"] = time.perf_counter() - t0
    # the model on this mesh; its parts (domain, modules, problem) are made lazily, in the timed
    # phases below. It holds cfg itself: the solver options set below reach its problem.
    model = Simulation.from_config(cfg).build(stack=stack, transient=True)
    out["nx"] = nx
    out["cells"] = stack.mesh.topology.index_map(2).size_global
    out["vertices"] = stack.mesh.topology.index_map(0).size_global
    out["rss_mib"]["mesh"] = peak_rss_mib()

    # -- the floor: CG + GAMG on the scalar Poisson operator of the stack ----------------------
    t0 = time.perf_counter()
    es = model.modules[0]  # makes the domain and the physics modules
    V, a_form, L_form, bcs = floor_forms(es, stack)
    A = dolfinx.fem.petsc.create_matrix(a_form)
    b = dolfinx.fem.petsc.create_vector(V)
    x = b.duplicate()
    ksp = floor_ksp(stack.mesh.comm)
    out["floor_setup_s"] = time.perf_counter() - t0
    out["quadrature_degrees"] = {"default": model.domain.quadrature_degree,
                                 "transport": model.domain.transport_quadrature_degree}
    runs = []
    for _ in range(3):
        e0 = _event_times(PETSc)
        t0 = time.perf_counter()
        assemble_floor(A, b, a_form, L_form, bcs)
        t_asm = time.perf_counter()
        ksp.setOperators(A)
        x.set(0.0)
        ksp.solve(b, x)
        t1 = time.perf_counter()
        e1 = _event_times(PETSc)
        runs.append({"total_s": t1 - t0, "assembly_s": t_asm - t0, "solve_s": t1 - t_asm,
                     "pc_setup_s": e1["PCSetUp"] - e0["PCSetUp"],
                     "ksp_its": ksp.getIterationNumber(),
                     "converged": ksp.getConvergedReason() > 0})
    best = min(runs, key=lambda r: r["total_s"])
    out["floor"] = {**best, "repeats": [r["total_s"] for r in runs], "dofs": V.dofmap.index_map.size_global,
                    "options": FLOOR_OPTIONS}
    out["rss_mib"]["floor"] = peak_rss_mib()
    ksp.destroy()
    A.destroy()

    # -- the coupled problem ----------------------------------------------------------------
    solver = args["solver"]
    iterative = solver in ("iterative", "picard")
    split = FIELDSPLIT_OPTIONS if solver == "iterative" else PICARD_FIELDSPLIT_OPTIONS
    split = dict(args.get("split_options", split))
    t0 = time.perf_counter()
    if iterative:
        cfg.solver.petsc_options = dict(SCALAR_ITERATIVE_OPTIONS)  # the initial Poisson solve
    problem = model.problem  # the coupled problem, its initial state solved
    out["initial_state_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if iterative:
        # the split options go through [solver.petsc_options] like any user's
        split = _split_options(problem, split)
        cfg.solver.petsc_options = {**ITERATIVE_OPTIONS, **split, **args.get("extra_options", {})}
    elif args.get("extra_options"):
        cfg.solver.petsc_options = {**cfg.solver.petsc_options, **args["extra_options"]}
    # heterofem's option (CoupledProblem); MUMPS explicitly "exact" ("auto" would switch)
    cfg.solver.preconditioner = "picard" if solver == "picard" else "exact"
    # compiles the forms, creates the matrices and SNES; heterofem installs the split's index sets
    snes = problem.problem.solver
    out["problem_setup_s"] = time.perf_counter() - t0
    out["dofs"] = int(sum(Vs.dofmap.index_map.size_global for Vs in problem.spaces.values()))
    out["rss_mib"]["coupled_setup"] = peak_rss_mib()
    h = problem.history

    # the steps run `repeats` times from the same initial state, and the fastest run counts, as
    # for the floor (best of 3): the first run also pays one-off costs that a run of many steps
    # pays once (the matrices' first sparsity, GAMG's and the split's first allocations), and
    # the machine's noise (10-20 %) is additive. Every run's times are kept in the JSON.
    initial = problem.snapshot()
    runs = []
    for _ in range(max(int(args.get("repeats", 1)), 1)):
        problem.restore(initial)
        steps = _time_steps(problem, snes, h, args["dts"], iterative, out, PETSc)
        runs.append(steps)
        if not all(s["converged"] for s in steps):
            break
    out["repeats"] = [{"wall_s": sum(s["wall_s"] for s in r),
                       "newton_its": sum(s["newton_its"] for s in r),
                       "per_newton_s": [s["per_newton_s"] for s in r]} for r in runs]
    steps = runs[-1] if not all(s["converged"] for s in runs[-1]) else min(
        runs, key=lambda r: sum(s["wall_s"] for s in r))
    out["steps"] = steps
    if iterative and snes.getKSP().getPC().getType() == "fieldsplit":  # what PETSc set up
        sub = snes.getKSP().getPC().getFieldSplitSubKSP()
        out["split_pc_types"] = {n: k.getPC().getType() for n, k in zip(problem.names, sub)}
    out["rss_mib"]["coupled"] = peak_rss_mib()
    out["load_average_end"] = os.getloadavg()[0]
    out["options"] = {**problem.petsc_options(cfg), **(split if iterative else {})}
    out["preconditioner"] = cfg.solver.preconditioner
    return out


def _time_steps(problem, snes, h, dts, iterative, out, PETSc) -> list[dict]:
    """Backward-Euler steps of the given sizes from the problem's current state (old = older
    = that state), each timed with the PETSc events of its residual, Jacobian and solves."""
    from heterofem.solver.coupling import SolveError

    h.shift(problem.u)  # old = older = the current (initial) state
    h.shift(problem.u)
    steps = []
    for dt in dts:
        h.dt.value = dt / h.time_scale_s
        e0 = _event_times(PETSc)
        t0 = time.perf_counter()
        try:
            its = problem.solve()
            ok = True
        except SolveError as exc:
            its, ok = snes.getIterationNumber(), False
            out["error"] = str(exc)[:300]
        t1 = time.perf_counter()
        e1 = _event_times(PETSc)
        lin = snes.getLinearSolveIterations() if iterative else None  # reset per solve
        steps.append({"dt_s": dt, "converged": ok, "newton_its": its, "wall_s": t1 - t0,
                      "per_newton_s": (t1 - t0) / max(its, 1),
                      "residual_s": e1["SNESFunctionEval"] - e0["SNESFunctionEval"],
                      "jacobian_s": e1["SNESJacobianEval"] - e0["SNESJacobianEval"],
                      "linear_s": e1["KSPSolve"] - e0["KSPSolve"],
                      "pc_setup_s": e1["PCSetUp"] - e0["PCSetUp"],
                      "pc_setup_blocks_s": e1["PCSetUpOnBlocks"] - e0["PCSetUpOnBlocks"],
                      "residual_evaluations": e1["residual_count"] - e0["residual_count"],
                      "ksp_its_per_newton": None if lin is None else lin / max(its, 1)})
        if not ok:
            break
        h.shift(problem.u)
    return steps


def stack_params(cfg, stack=None) -> dict:
    """Per-layer parameters of the 1D stack as heterofem's physics modules hold them (read from
    their cellwise DG0 functions), for the FiPy model."""
    _hf_imports()
    from heterofem import Simulation
    from heterofem.solver import units

    model = Simulation.from_config(cfg).build(stack=stack)  # meshes when stack is None
    dom = model.domain
    mods = {m.name: m for m in model.modules}
    es, vac = mods["electrostatics"], mods["vacancies"]

    def at(f, cell):
        bs = f.function_space.dofmap.index_map_bs
        dof = f.function_space.dofmap.list[cell][0]
        return f.x.array[dof * bs:(dof + 1) * bs].tolist()

    layers = []
    for lay, (bot, top) in zip(cfg.layers, cfg.layer_bounds_nm()):
        cell = dom.layer_cells(lay.name)[0]
        d = {"name": lay.name, "bottom_nm": bot, "top_nm": top,
             "eps_zz": at(es.eps, cell)[-1],
             "k_tf": at(es.k_tf, cell)[0] if es.k_tf is not None else 0.0,
             "rho_fixed_C_m3": at(es.rho, cell)[0] if es.rho is not None else 0.0,
             "n_hat": at(vac.n_hat, cell)[0], "E_f_eV": at(vac.E_f, cell)[0],
             "D_zz_m2_s": at(vac.D_hat, cell)[-1] * vac.D_ref,
             "theta0": vac.theta0.get(lay.name)}
        if es.n_c is not None and dom.material(lay).kind == "semiconductor":
            d["n_c_m3"] = at(es.n_c, cell)[0]
            d["dEc_eV"] = at(es.dEc, cell)[0]
        layers.append(d)
    return {"layers": layers, "kT_eV": vac.kT, "N_ref_m3": vac.N_ref,
            "RHO_SCALE": units.RHO_SCALE, "Q_E": units.Q_E}


def shared_config(mesh: tuple[float, float] | None = None, extra: list[str] | None = None):
    """The 1D stack with dilute vacancies (the problem both codes solve), on a graded mesh
    (size_nm, interface_size_nm); ``extra``: more overrides (``physics.vacancy_flux=fitted``)."""
    from heterofem.solver.validation import load_config

    over = ["physics.vacancy_statistics=dilute"] + list(extra or [])
    if mesh:
        over += [f"mesh.size_nm={mesh[0]}", f"mesh.interface_size_nm={mesh[1]}"]
    return load_config(STACK_1D, over)


def schedule(marks: list[float], dt0: float = 0.01, grow: float = 1.2, dt_max: float = 20.0):
    """Backward-Euler steps: dt0 growing by ``grow`` up to dt_max, landing on every mark."""
    out, t, dt = [], 0.0, dt0
    for m in marks:
        while t < m * (1 - 1e-12):
            s = min(dt, m - t)
            if m - (t + s) < 1e-6 * m:
                s = m - t
            out.append(s)
            t += s
            dt = min(dt * grow, dt_max)
    return out


def worker_hf_series(args: dict) -> dict:
    """Part 3, heterofem side: the shared problem on each mesh, the benchmark's schedule.

    Also returns each mesh's vertex coordinates and the layer parameters (for FiPy)."""
    import numpy as np

    _hf_imports()
    from heterofem import Simulation
    from heterofem.solver.physics.electrostatics import fermi_dirac_half

    import fipy_stack  # the F_1/2 copy must match heterofem's (no FiPy import here)

    eta = np.linspace(-30.0, 30.0, 61)
    fd_match = float(np.max(np.abs(fermi_dirac_half(eta) / fipy_stack.fermi_dirac_half(eta) - 1)))

    results, params = [], None
    base = list(args.get("overrides") or [])
    # keep_going: a mesh whose solve fails with the default backtracking line search is
    # retried with the full Newton step (same tolerances: the same answer; flagged), then
    # reported as failed (its vertices still go to FiPy)
    attempts = [base, base + ['solver.petsc_options.snes_linesearch_type="basic"']] \
        if args.get("keep_going") else [base]
    for mesh in args["meshes"]:
        failure = None
        for extra in attempts:
            try:
                r, params = _hf_one(mesh, extra, args, params)
            except RuntimeError as exc:  # SolveError: of the initial potential, or of a step
                if not args.get("keep_going"):
                    raise
                failure = str(exc)[:300]
                continue
            if failure:
                r["first_failure"], r["retried_with"] = failure, extra[len(base):]
            break
        else:
            stack = Simulation.from_config(shared_config(tuple(mesh), base)).build().stack
            z = np.sort(stack.mesh.geometry.x[:, 0])
            r = {"mesh": mesh, "cells": int(z.size - 1), "failed": failure,
                 "z_nm": z.tolist() if args.get("return_z") else None}
        results.append(r)
    return {"runs": results, "params": params, "fd_match": fd_match, "peak_rss_mib": peak_rss_mib()}


def _hf_one(mesh, overrides: list[str], args: dict, params: dict | None):
    """One heterofem run of part 3 on ``mesh``; returns (result, layer parameters)."""
    import numpy as np

    from heterofem import Simulation

    sched, marks = args["schedule"], args["marks"]
    cfg = shared_config(tuple(mesh), overrides)
    model = Simulation.from_config(cfg).build(transient=True)  # lazy: nothing made yet
    t0 = time.perf_counter()
    stack = model.stack  # meshing
    t_mesh = time.perf_counter()
    if params is None:
        params = stack_params(cfg, stack)
    t1 = time.perf_counter()
    problem = model.problem  # domain, physics, coupled problem with its initial state
    problem.problem  # noqa: B018  (forms compiled: JIT cache on disk after the first mesh)
    vac, es = problem.modules["vacancies"], problem.modules["electrostatics"]
    h = problem.history
    h.shift(problem.u)  # old = older = the initial state
    h.shift(problem.u)
    t2 = time.perf_counter()
    t, its, scalars = 0.0, 0, {}
    for dt in sched:
        h.dt.value = dt / h.time_scale_s
        its += problem.solve()
        h.shift(problem.u)
        t += dt
        for m in marks:
            if abs(t - m) <= 1e-9 * m:
                scalars[f"{m:g}"] = {
                    "inventory_per_m2": vac.inventory(problem.u),
                    "potential_drop_V": es.summary(problem.u)["potential_drop_V"]}
    t3 = time.perf_counter()
    z = np.sort(stack.mesh.geometry.x[:, 0])
    return {"mesh": mesh, "cells": int(z.size - 1), "unknowns": 2 * int(z.size),
            "mesh_s": t_mesh - t0, "setup_s": t2 - t1, "time_loop_s": t3 - t2,
            "wall_s": (t3 - t2) + (t2 - t1), "steps": len(sched), "newton_iterations": its,
            "scalars": scalars, "z_nm": z.tolist() if args.get("return_z") else None}, params


def worker_fipy(args: dict) -> dict:
    """Part 3, FiPy side (no dolfinx in this process); ``suite``: FiPy's solver suite."""
    if args.get("suite"):
        os.environ["FIPY_SOLVERS"] = args["suite"]
    import fipy
    import fipy_stack
    import scipy

    runs = []
    for item in args["meshes"]:
        r = fipy_stack.run(args["params"], item["z_nm"], args["schedule"], args["marks"],
                           formulation=args.get("formulation", "slotboom"),
                           **args.get("kwargs", {}))
        r["mesh"] = item["mesh"]
        runs.append(r)
    return {"runs": runs, "fipy_version": fipy.__version__, "scipy_version": scipy.__version__,
            "solver_suite": os.environ.get("FIPY_SOLVERS"), "peak_rss_mib": peak_rss_mib()}


WORKERS = {"transient": worker_transient, "scaling": worker_scaling,
           "hf_series": worker_hf_series, "fipy": worker_fipy}


# ======================================================================================
# driver
# ======================================================================================


def spawn(kind: str | None, args: dict, timeout: float, script: str | Path = __file__,
          flag: str = "--worker") -> dict:
    """Run one worker in a fresh process (its own peak RSS): ``script flag [kind] args.json
    result.json``; returns its result, or {"failed": reason}. The other benchmark scripts
    start their workers through it too (``script``: theirs, ``flag``: their worker option)."""
    with tempfile.TemporaryDirectory() as tmp:
        a, r = Path(tmp) / "args.json", Path(tmp) / "result.json"
        a.write_text(json.dumps(args))
        env = dict(os.environ, OMP_NUM_THREADS="1", FIPY_SOLVERS="scipy")
        cmd = [sys.executable, str(Path(script).resolve()), flag,
               *([kind] if kind is not None else []), str(a), str(r)]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                                  cwd=str(HERE))
        except subprocess.TimeoutExpired:
            return {"failed": f"timed out after {timeout:.0f} s", "process_s": timeout}
        if proc.returncode != 0 or not r.exists():
            tail = (proc.stderr or proc.stdout)[-1500:]
            return {"failed": f"exit code {proc.returncode}: {tail}",
                    "process_s": time.perf_counter() - t0}
        res = json.loads(r.read_text())
        res["process_s"] = time.perf_counter() - t0
        return res


def fit_exponent(ns: list[float], ts: list[float]) -> float | None:
    import numpy as np

    pts = [(n, t) for n, t in zip(ns, ts) if t and t > 0]
    if len(pts) < 2:
        return None
    x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0])


def run_transient(quick: bool) -> dict:
    print("[1/3] 1D transient to steady state (run_case) ...", flush=True)
    return spawn("transient", {}, timeout=300)


#: 2D variants: label -> (solver, extra worker args, sizes it runs at in a full run)
VARIANTS = {
    "mumps": ("mumps", {}, ("1e4", "1e5", "1e6")),
    "iterative": ("iterative", {}, ("1e4", "1e5")),
    # solver.preconditioner = "picard" with GAMG on both fields: AMG only
    "picard": ("picard", {}, ("1e4", "1e5", "1e6")),
    # the same as an inexact Newton method: each linear solve to 1e-4 instead of 1e-8 (the
    # converged answer is the same to SNES's tolerances; Newton may take one more iteration:
    # 9 instead of 8 at 1e6)
    "picard-inexact": ("picard", {"extra_options": {"ksp_rtol": 1e-4}}, ("1e4", "1e5", "1e6")),
    # looser still: linear solves to 1e-2 and the preconditioner (Picard matrix, GAMG
    # hierarchies) rebuilt every second Newton iteration; cheaper Newton iterations, more of them
    "picard-lagged": ("picard", {"extra_options": {"ksp_rtol": 1e-2,
                                                   "snes_lag_preconditioner": 2}},
                      ("1e4", "1e5", "1e6")),
    # the previous default flux: quadrature of degree 2k + 6 = 8 (16 points per triangle)
    # instead of the closed-form cell average of the mobility (solver/physics/cell_average.py)
    "mumps-flux-q8": ("mumps", {"vacancy_flux": "quadrature"}, ("1e4", "1e5", "1e6")),
    # what-if: no backtracking (one residual per Newton iteration; the 10 kT limiter stays)
    "mumps-basic-ls": ("mumps", {"extra_options": {"snes_linesearch_type": "basic"}}, ("1e4", "1e5")),
}


#: runs of the timed step per case (from the same initial state; the fastest counts, like the
#: floor's best of 3)
SCALING_REPEATS = 2


def run_scaling(quick: bool, variants: list[str] | None = None, previous: dict | None = None) -> dict:
    """The 2D cases; with ``variants``, only those run and the other variants' cases are kept
    from ``previous`` (the scaling part of an earlier JSON)."""
    sizes = {k: v for k, v in SIZES_2D.items() if not (quick and k == "1e6")}
    dts = [1.0]  # one backward-Euler step from the initial state (8 Newton iterations)
    cases = []
    if variants and previous:
        cases = [c for c in previous["cases"] if c["solver"] not in variants
                 and c["solver"] in VARIANTS and c["label"] in sizes]
    for label, ny in sizes.items():
        for name, (solver, extra, where) in VARIANTS.items():
            if label not in where or (quick and name not in ("mumps", "picard")):
                continue
            if variants and name not in variants:
                continue
            print(f"[2/3] 2D {label}: {name} ...", flush=True)
            res = spawn("scaling", {"ny": ny, "solver": solver, "dts": dts,
                                    "repeats": SCALING_REPEATS, **extra},
                        timeout=900 if label == "1e6" else 600)
            res.update(label=label, solver=name, ny=ny)
            cases.append(res)
    order = {name: i for i, name in enumerate(VARIANTS)}
    cases.sort(key=lambda c: (list(sizes).index(c["label"]), order[c["solver"]]))
    return scaling_summary({"cases": cases, "dts_s": dts}, list(sizes))


def scaling_summary(out: dict, sizes: list[str]) -> dict:
    """Table, ratios and growth exponents from the raw cases (also used by --rerender)."""
    cases = out["cases"]
    # ratios and growth
    table = []
    for c in cases:
        if "failed" in c and "steps" not in c:
            table.append({"label": c["label"], "solver": c["solver"], "failed": c["failed"][:300]})
            continue
        warm = c["steps"][-1]
        row = {"label": c["label"], "solver": c["solver"], "dofs": c["dofs"],
               "floor_s": c["floor"]["total_s"], "floor_ksp_its": c["floor"]["ksp_its"],
               "newton_step_s": warm["per_newton_s"], "newton_its": warm["newton_its"],
               "converged": all(s["converged"] for s in c["steps"]),
               "ratio": warm["per_newton_s"] / c["floor"]["total_s"],
               "assembly_per_newton_s": (warm["residual_s"] + warm["jacobian_s"]) / max(warm["newton_its"], 1),
               "linear_per_newton_s": (warm["linear_s"] + warm["pc_setup_s"]
                                       + warm.get("pc_setup_blocks_s", 0.0)) / max(warm["newton_its"], 1),
               "step_s": warm["wall_s"],
               "residuals_per_newton": warm.get("residual_evaluations", 0) / max(warm["newton_its"], 1),
               "ksp_its_per_newton": warm["ksp_its_per_newton"],
               "peak_rss_mib": c["rss_mib"]["coupled"], "floor_rss_mib": c["rss_mib"]["floor"],
               "mesh_s": c["mesh_s"],
               # every run of the step (per Newton iteration): the first pays one-off costs
               "runs_per_newton_s": [r["wall_s"] / max(r["newton_its"], 1)
                                     for r in c.get("repeats", [])]}
        table.append(row)
    # the floor is the same computation in every case of one size: its median over the cases is
    # the reference of the ratios (one process's floor varies with the machine's load)
    import statistics

    for label in sizes:
        floors = [r["floor_s"] for r in table if r.get("label") == label and "floor_s" in r]
        for r in table:
            if r.get("label") == label and "floor_s" in r:
                r["floor_median_s"] = statistics.median(floors)
                r["ratio_own_floor"] = r["ratio"]
                r["ratio"] = r["newton_step_s"] / r["floor_median_s"]
    out["table"] = table
    growth = {}
    for solver in VARIANTS:
        rows = [r for r in table if r["solver"] == solver and "ratio" in r and r["converged"]]
        growth[solver] = {
            "newton_step": fit_exponent([r["dofs"] for r in rows], [r["newton_step_s"] for r in rows]),
            "floor": fit_exponent([r["dofs"] / 2 for r in rows], [r["floor_median_s"] for r in rows]),
            "peak_rss": fit_exponent([r["dofs"] for r in rows], [r["peak_rss_mib"] for r in rows]),
        }
    out["growth_exponents"] = growth
    return out


#: meshes of the accuracy study: (size_nm, interface_size_nm), graded towards the interfaces
#: (the Thomas-Fermi length of VO2 is 0.064 nm: the interface size must resolve it)
MESHES_FULL = [(0.5, 0.05), (0.25, 0.025), (0.125, 0.0125), (0.0625, 0.00625),
               (0.03125, 0.003125), (0.015625, 0.0015625), (0.0078125, 0.00078125)]
REFERENCE_FULL = (0.002, 0.0002)
#: --quick: a smoke test of the pipeline (one coarse mesh, 60 s only), not an accuracy result
MESHES_QUICK = [(0.5, 0.05)]
REFERENCE_QUICK = (0.0625, 0.00625)
TARGET = 1e-3


def _errors(scalars: dict, ref: dict) -> dict:
    """Relative errors of the layer inventories (max over layers and marked times) and the
    absolute error of the potential drop [V]."""
    inv, drop = 0.0, 0.0
    for t, s in ref.items():
        if t not in scalars:
            return {"inventory": None, "potential_drop_V": None}
        for layer, value in s["inventory_per_m2"].items():
            inv = max(inv, abs(scalars[t]["inventory_per_m2"][layer] / value - 1.0))
        drop = max(drop, abs(scalars[t]["potential_drop_V"] - s["potential_drop_V"]))
    return {"inventory": inv, "potential_drop_V": drop}


def _time_at_target(runs: list[dict]) -> dict | None:
    """Wall time at TARGET error: the first run below it, and a log-log interpolation between
    the runs around it."""
    ok = [r for r in runs if r.get("error", {}).get("inventory") is not None]
    first = next((r for r in ok if r["error"]["inventory"] <= TARGET), None)
    if first is None:
        return None
    out = {"first_mesh": first["mesh"], "cells": first["cells"], "wall_s": first["wall_s"],
           "error": first["error"]["inventory"]}
    i = ok.index(first)
    if i > 0:
        a, b = ok[i - 1], first
        ea, eb = math.log(a["error"]["inventory"]), math.log(b["error"]["inventory"])
        ta, tb = math.log(a["wall_s"]), math.log(b["wall_s"])
        if ea != eb:
            w = (math.log(TARGET) - ea) / (eb - ea)
            out["interpolated_wall_s"] = math.exp(ta + w * (tb - ta))
    return out


def run_fipy(quick: bool) -> dict:
    marks = [60.0] if quick else [60.0, 600.0]
    sched = schedule(marks)
    meshes = MESHES_QUICK if quick else MESHES_FULL
    reference = REFERENCE_QUICK if quick else REFERENCE_FULL
    print(f"[3/3] heterofem on {len(meshes)} meshes + reference ...", flush=True)
    hf = spawn("hf_series", {"meshes": [list(reference)] + [list(m) for m in meshes],
                             "schedule": sched, "marks": marks, "return_z": True}, timeout=900)
    if "failed" in hf:
        return {"failed": hf["failed"]}
    ref, runs = hf["runs"][0], hf["runs"][1:]
    items = [{"mesh": r["mesh"], "z_nm": r["z_nm"]} for r in runs]
    fipy_args = {"params": hf["params"], "schedule": sched, "marks": marks}
    print("[3/3] FiPy, mu formulation with lagged mobility (documents the failure) ...", flush=True)
    attempt = spawn("fipy", {**fipy_args, "meshes": items[:1], "formulation": "mu",
                             "kwargs": {"max_sweeps": 30 if quick else 100}}, timeout=300)
    print(f"[3/3] FiPy (Slotboom) on {len(items)} meshes ...", flush=True)
    fp = spawn("fipy", {**fipy_args, "meshes": items}, timeout=1800)
    for r in runs + [ref]:
        r.pop("z_nm", None)
    for r in runs:
        r["error"] = _errors(r["scalars"], ref["scalars"])
    for r in fp.get("runs", []):
        r["error"] = _errors(r["scalars"], ref["scalars"]) if "failed" not in r else {"inventory": None}
    out = {
        "problem": "1D TiO2/VO2_R/TiO2 stack, dilute vacancies, Fermi-Dirac electrons, "
                   "Thomas-Fermi VO2; backward Euler on a shared schedule",
        "schedule_steps": len(sched), "marks_s": marks, "target": TARGET,
        "reference": {"mesh": ref["mesh"], "cells": ref["cells"], "scalars": ref["scalars"],
                      "wall_s": ref["wall_s"]},
        "fd_match": hf["fd_match"],
        "heterofem": {"runs": runs, "at_target": _time_at_target(runs),
                      "peak_rss_mib": hf["peak_rss_mib"]},
        "fipy": {"runs": fp.get("runs", []), "at_target": _time_at_target(fp.get("runs", [])),
                 "versions": {k: fp.get(k) for k in ("fipy_version", "scipy_version", "solver_suite")},
                 "peak_rss_mib": fp.get("peak_rss_mib"), "failed": fp.get("failed")},
        "fipy_mu_formulation": {k: v for k, v in (attempt.get("runs") or [attempt])[0].items()
                                if k != "scalars"},
        "quick_note": "smoke test: one coarse mesh, 60 s only; not an accuracy result" if quick else None,
    }
    # the reference's own error, from heterofem's first-order convergence: the finest run's
    # error times h_ref / (h_finest - h_ref)
    if runs and runs[-1]["error"]["inventory"]:
        h1, h0 = runs[-1]["mesh"][1], ref["mesh"][1]
        out["reference_error_estimate"] = runs[-1]["error"]["inventory"] * h0 / (h1 - h0)
    h, f = out["heterofem"]["at_target"], out["fipy"]["at_target"]
    if h and f:
        th = h.get("interpolated_wall_s", h["wall_s"])
        tf = f.get("interpolated_wall_s", f["wall_s"])
        out["speedup_at_target"] = tf / th
    # per-iteration cost on the same mesh (the sweeps / Newton counts aside)
    per = []
    for hr, fr in zip(runs, fp.get("runs", [])):
        if "failed" in fr:
            continue
        per.append({"mesh": hr["mesh"], "cells": hr["cells"],
                    "heterofem_ms_per_newton": 1e3 * hr["time_loop_s"] / max(hr["newton_iterations"], 1),
                    "fipy_ms_per_sweep": 1e3 * fr["time_loop_s"] / max(fr["sweeps"], 1),
                    "heterofem_newton": hr["newton_iterations"], "fipy_sweeps": fr["sweeps"]})
    out["per_iteration"] = per
    return out


# -- report ---------------------------------------------------------------------------------


def _f(x, fmt="{:.3g}"):
    return "-" if x is None else fmt.format(x)


def markdown(res: dict) -> str:
    L = [f"# vacancy_poisson benchmark{' (--quick)' if res['quick'] else ''}", "",
         f"{res['date']} on {res['machine']}; heterofem {res['versions'].get('heterofem_version')}, "
         f"DOLFINx {res['versions'].get('dolfinx_version')}, PETSc {res['versions'].get('petsc_version')}; "
         "serial (1 MPI rank, OMP_NUM_THREADS=1). Each case ran in its own process."
         + ("" if len(set(res.get("part_dates", {}).values())) <= 1 else
            " Parts run at: " + ", ".join(f"{k} {v}" for k, v in res["part_dates"].items()) + "."), ""]
    tr = res.get("transient")
    if tr and "failed" not in tr:
        L += ["## 1. 1D transient to steady state (run_case)", "",
              f"`{tr['config']}`: {tr['cells']} cells, {tr['dofs']} dofs, to t = {tr['end_s']:g} s.", "",
              "| wall [s] | solve [s] | steps (rejected) | Newton its | per Newton [ms] | per step [ms] | peak RSS [MiB] |",
              "|---|---|---|---|---|---|---|",
              f"| {tr['wall_s']:.2f} | {tr['timings_s']['solve']:.2f} | {tr['steps']} ({tr['rejected_steps']}) | "
              f"{tr['newton_iterations']} | {tr['time_per_newton_ms']:.2f} | {tr['time_per_step_ms']:.2f} | "
              f"{tr['peak_rss_mib']:.0f} |", "",
              f"Steady state: layer inventories change by {tr['steady_change_last_half']:.1e} of the total over "
              f"the last half of the run, and stay within 1e-6 of their final values from "
              f"t = {tr['settled_to_1e-6_at_s']:.3g} s on. Final inventories [m^-2]: "
              + ", ".join(f"{k} {v:.4e}" for k, v in tr["final_inventory_per_m2"].items())
              + ".", ""]
    elif tr:
        L += ["## 1. 1D transient", "", f"FAILED: {tr['failed']}", ""]
    sc = res.get("scaling")
    if sc:
        L += ["## 2. 2D coupled Newton step against the scalar Poisson floor", "",
              "Time per Newton iteration (residual + Jacobian assembly + linear solve + line search), "
              f"averaged over one backward-Euler step of dt = {sc['dts_s'][-1]:g} s from the initial state, "
              "the fastest of the runs of that step in the case's process (every run in the last column: the "
              "first also pays the matrices' first sparsity and the solvers' first allocations); floor = "
              "one CG + GAMG solve (rtol 1e-8) of the scalar Poisson operator of the same stack "
              "(assembly + GAMG setup + solve, best of 3 in each case's process); the ratio divides by the median "
              "of the floors of all cases of that size (a single process's floor varied with the machine's load; "
              "its own ratio is in the JSON). Mesh and setup time excluded.", "",
              "| N (dofs) | solver | Newton its | per Newton [s] | step [s] | assembly [s] | linear [s] | KSP its/Newton | floor [s] | ratio | peak RSS [MiB] | runs [s/Newton] |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in sc["table"]:
            if "failed" in r:
                L.append(f"| {r['label']} | {r['solver']} | FAILED: {r['failed'][:120]} |||||||||||")
                continue
            conv = "" if r["converged"] else " (not converged)"
            L.append(f"| {r['dofs']} | {r['solver']}{conv} | {r['newton_its']} | {r['newton_step_s']:.3g} | "
                     f"{_f(r.get('step_s'), '{:.3g}')} | "
                     f"{r['assembly_per_newton_s']:.3g} | {r['linear_per_newton_s']:.3g} | "
                     f"{_f(r['ksp_its_per_newton'], '{:.0f}')} | {r['floor_median_s']:.3g} | **{r['ratio']:.1f}** | "
                     f"{r['peak_rss_mib']:.0f} | "
                     + (", ".join(f"{t:.3g}" for t in r.get("runs_per_newton_s", [])) or "1 run") + " |")
        g = sc["growth_exponents"]
        L += ["", "Growth exponents (time or memory ~ N^p, least squares over the sizes run): "
              + "; ".join(f"{s}: Newton step {_f(v['newton_step'], '{:.2f}')}, floor {_f(v['floor'], '{:.2f}')}, "
                          f"peak RSS {_f(v['peak_rss'], '{:.2f}')}" for s, v in g.items()) + ".", ""]
        for name in ("iterative", "picard", "picard-inexact", "picard-lagged"):
            it = next((c for c in reversed(sc["cases"]) if c.get("solver") == name and "options" in c),
                      None)
            if it:
                L += [f"`{name}` options (largest case): `" + ", ".join(
                    f"{k}={v}" for k, v in it["options"].items()
                    if k.startswith(("ksp", "pc", "fieldsplit")) and not k.startswith("pc_factor")) + "`", ""]
        loads = [c.get("load_average_start") for c in sc["cases"] if c.get("load_average_start")]
        if loads:
            L += [f"1-minute load average when the cases started: {min(loads):.1f} to {max(loads):.1f} "
                  f"on {os.cpu_count()} cores (other work shared the machine; ratios are measured "
                  "in one process, back to back).", ""]
    fp = res.get("fipy")
    if fp and "failed" not in fp:
        L += ["## 3. heterofem against FiPy at equal accuracy (1D)", "",
              "**Superseded (issue #26 item 5) by `fipy_fair.py` / `fipy_fair.md`**: the FiPy model "
              "below is not what an expert writes (per-variable coupled form, lagged mobility) and the "
              "reference is a fine heterofem run that shares heterofem's bias; kept for the record.", "",
              fp["problem"] + f" ({fp['schedule_steps']} steps). "
              f"Reference: heterofem on mesh {fp['reference']['mesh']} ({fp['reference']['cells']} cells). "
              f"Error = largest relative error of the three layer inventories at {', '.join(f'{m:g}' for m in fp['marks_s'])} s. "
              "Both codes run on the same graded meshes (FiPy's cells = heterofem's elements).", "",
              "| mesh (size, interface) nm | cells | heterofem error | heterofem wall [s] | Newton its | FiPy error | FiPy wall [s] | FiPy sweeps |",
              "|---|---|---|---|---|---|---|---|"]
        fr = {tuple(r["mesh"]): r for r in fp["fipy"]["runs"]}
        for r in fp["heterofem"]["runs"]:
            f = fr.get(tuple(r["mesh"]), {})
            fe = f.get("error", {}).get("inventory") if f else None
            L.append(f"| {tuple(r['mesh'])} | {r['cells']} | {_f(r['error']['inventory'], '{:.2e}')} | {r['wall_s']:.2f} | "
                     f"{r['newton_iterations']} | {_f(fe, '{:.2e}')}{' (failed)' if f.get('failed') else ''} | "
                     f"{_f(f.get('wall_s'), '{:.2f}')} | {f.get('sweeps', '-')} |")
        h, f = fp["heterofem"]["at_target"], fp["fipy"]["at_target"]
        L += [""]
        for name, a in (("heterofem", h), ("FiPy", f)):
            if a:
                L.append(f"- {name} reaches {TARGET:g}: first on mesh {tuple(a['first_mesh'])} ({a['cells']} cells, "
                         f"{a['wall_s']:.2f} s); interpolated {_f(a.get('interpolated_wall_s'), '{:.2f}')} s.")
            else:
                L.append(f"- {name} does not reach {TARGET:g} on the meshes run.")
        if "speedup_at_target" in fp:
            L.append(f"- **FiPy time / heterofem time at {TARGET:g}: {fp['speedup_at_target']:.1f}x**.")
        if fp.get("per_iteration"):
            p = fp["per_iteration"]
            L.append("- Cost per iteration on the same mesh: heterofem "
                     + ", ".join(f"{q['heterofem_ms_per_newton']:.1f}" for q in p) + " ms per Newton iteration; FiPy "
                     + ", ".join(f"{q['fipy_ms_per_sweep']:.1f}" for q in p) + " ms per sweep (meshes as above).")
        mu = fp.get("fipy_mu_formulation", {})
        L.append(f"- FiPy in heterofem's own mu formulation (lagged mobility, {mu.get('max_sweeps', '?')} sweeps "
                 f"per step at most, coarsest mesh): {mu.get('failed', 'converged')} after {mu.get('steps', '?')} steps.")
        if "reference_error_estimate" in fp:
            L.append(f"- Estimated error of the reference itself (first-order extrapolation): "
                     f"{fp['reference_error_estimate']:.1e}.")
        if fp.get("quick_note"):
            L.append(f"- --quick: {fp['quick_note']}.")
        L.append(f"- F_1/2 copy in fipy_stack.py matches heterofem's to {fp['fd_match']:.1e}.")
        L.append("")
    elif fp:
        L += ["## 3. FiPy", "", f"FAILED: {fp['failed']}", ""]
    L += ["## Goals", ""] + [f"- {g}" for g in res.get("goals", [])] + [""]
    return "\n".join(L)


def goals(res: dict) -> list[str]:
    out = []
    sc = res.get("scaling")
    if sc:
        for solver in VARIANTS:
            rows = [r for r in sc["table"] if r.get("solver") == solver and "ratio" in r]
            if rows:
                worst = max(r["ratio"] for r in rows)
                met = all(r["ratio"] <= 4.0 and r["converged"] for r in rows)
                out.append(f"coupled Newton step within 4x the scalar Poisson floor ({solver}): "
                           f"{'MET' if met else 'NOT MET'} (ratios "
                           + ", ".join(f"{r['label']}: {r['ratio']:.1f}" for r in rows) + ")")
    fp = res.get("fipy")
    if fp and "failed" not in fp:
        s = fp.get("speedup_at_target")
        out.append("(superseded, not a fair measurement: see fipy_fair.md, #26 item 5) faster than FiPy at equal accuracy: "
                   + ("not measured (a code missed the target)" if s is None
                      else f"{'MET' if s > 1 else 'NOT MET'} (FiPy/heterofem time {s:.1f}x)"))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="1e4 and 1e5 only, two FiPy meshes (~2 min)")
    p.add_argument("--out", default=None,
                   help="directory of the JSON and markdown report (default benchmarks/results, "
                        "with --quick benchmarks/results/quick)")
    p.add_argument("--parts", default="transient,scaling",
                   help="transient,scaling[,fipy]; fipy (the old comparison) is superseded by "
                        "fipy_fair.py and runs only when named")
    p.add_argument("--variants", default=None,
                   help="comma-separated 2D variants to (re)run in the scaling part, keeping the "
                        f"others from the JSON ({', '.join(VARIANTS)})")
    p.add_argument("--rerender", action="store_true",
                   help="rebuild the tables and the markdown from the JSON in --out (no runs)")
    p.add_argument("--worker", nargs=3, metavar=("KIND", "ARGS", "RESULT"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.out is None:
        a.out = str(HERE / "results" / "quick") if a.quick else str(HERE / "results")
    if a.rerender:
        path = Path(a.out) / "vacancy_poisson.json"
        res = json.loads(path.read_text())
        if "scaling" in res:
            sizes = list(dict.fromkeys(c["label"] for c in res["scaling"]["cases"]))
            res["scaling"] = scaling_summary(res["scaling"], sizes)
        res["goals"] = goals(res)
        path.write_text(json.dumps(res, indent=1))
        (Path(a.out) / "vacancy_poisson.md").write_text(markdown(res))
        print(markdown(res))
        return 0
    if a.worker:
        kind, args_path, result_path = a.worker
        sys.path.insert(0, str(HERE))
        res = WORKERS[kind](json.loads(Path(args_path).read_text()))
        Path(result_path).write_text(json.dumps(res))
        return 0

    t0 = time.perf_counter()
    parts = a.parts.split(",")
    sys.path.insert(0, str(HERE))
    from heterofem.solver.run import versions

    res = {"quick": a.quick, "date": time.strftime("%Y-%m-%d %H:%M"),
           "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
           "versions": versions()}
    if "transient" in parts:
        res["transient"] = run_transient(a.quick)
    if "scaling" in parts:
        variants = a.variants.split(",") if a.variants else None
        unknown = set(variants or []) - set(VARIANTS)
        if unknown:
            p.error(f"--variants: unknown {sorted(unknown)}; choose from {', '.join(VARIANTS)}")
        previous = Path(a.out) / "vacancy_poisson.json"
        before = json.loads(previous.read_text()).get("scaling") if previous.exists() else None
        res["scaling"] = run_scaling(a.quick, variants, before)
    if "fipy" in parts:
        res["fipy"] = run_fipy(a.quick)
    res["goals"] = goals(res)
    res["benchmark_wall_s"] = time.perf_counter() - t0
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    previous = out / "vacancy_poisson.json"
    if set(parts) != {"transient", "scaling", "fipy"} and previous.exists():
        # a partial run updates the parts it ran and keeps the others (with their dates)
        old = json.loads(previous.read_text())
        if old.get("quick") == a.quick:
            for part in ("transient", "scaling", "fipy"):
                if part not in parts and part in old:
                    res[part] = old[part]
                    res.setdefault("part_dates", {})[part] = old.get("part_dates", {}).get(part, old["date"])
            res["goals"] = goals(res)
    for part in parts:
        res.setdefault("part_dates", {})[part] = res["date"]
    (out / "vacancy_poisson.json").write_text(json.dumps(res, indent=1))
    (out / "vacancy_poisson.md").write_text(markdown(res))
    print(markdown(res))
    print(f"wrote {out / 'vacancy_poisson.json'} and .md in {res['benchmark_wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
