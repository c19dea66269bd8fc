"""The goals of issue #10, each as a measured ratio, from the benchmark JSONs in one report.

    python benchmarks/report.py [--dir benchmarks/results]

Reads ``vacancy_poisson.json``, ``coupled_cases.json``, ``scipy_poisson.json``,
``scaling.json`` and ``sweep_throughput.json`` (whichever exist; nothing is rerun) and writes
``report.md`` and ``report.png`` (time per Newton iteration, ratio to the floor and memory per
unknown against N for the 2D vacancy + Poisson variants). ``make bench`` runs it last.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load(d: Path, name: str):
    p = d / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


def kb_per_unknown(rss_mib: float, dofs: int) -> float:
    return rss_mib * 1024.0 / dofs  # KiB per unknown


def goals(d: Path) -> list[str]:
    vp, cc, spy = load(d, "vacancy_poisson"), load(d, "coupled_cases"), load(d, "scipy_poisson")
    sc, sw = load(d, "scaling"), load(d, "sweep_throughput")
    out = []
    table = (vp or {}).get("scaling", {}).get("table", [])
    rows = [r for r in table if "ratio" in r and r["converged"]]
    big = [r for r in rows if r["dofs"] > 5e5]
    if big:
        best = min(big, key=lambda r: r["ratio"])
        out.append(
            f"**Newton step within 4x of the GAMG Poisson floor at 1e6: "
            f"{'MET' if best['ratio'] <= 4 else 'NOT MET'}**: best {best['ratio']:.1f}x "
            f"({best['solver']}, {best['dofs']} dofs, {best['newton_step_s']:.2f} s per Newton "
            f"iteration against {best['floor_median_s']:.2f} s); "
            + ", ".join(f"{r['solver']} {r['ratio']:.1f}x" for r in big) + ". Per time step "
            "(Newton iterations x their cost, what a run pays): "
            + ", ".join(f"{r['solver']} {r['newton_its']} x {r['newton_step_s']:.2f} s = "
                        f"{r['newton_its'] * r['newton_step_s']:.0f} s" for r in big) + ".")
        for solver in dict.fromkeys(r["solver"] for r in big):
            mine = sorted((r for r in rows if r["solver"] == solver), key=lambda r: r["dofs"])
            if len(mine) >= 2 and mine[0]["dofs"] < 2e4:
                n0, n1 = mine[0]["dofs"], mine[-1]["dofs"]
                grow = mine[-1]["newton_step_s"] / mine[0]["newton_step_s"]
                nlogn = n1 * math.log(n1) / (n0 * math.log(n0))
                out.append(f"**Growth no worse than N log N ({solver}): "
                           f"{'MET' if grow <= nlogn else 'NOT MET'}**: time per Newton iteration "
                           f"x{grow:.0f} from {n0} to {n1} dofs, N log N allows x{nlogn:.0f} "
                           f"(exponent {math.log(grow) / math.log(n1 / n0):.2f}).")
        mem = min(big, key=lambda r: r["peak_rss_mib"])
        kb = kb_per_unknown(mem["peak_rss_mib"], mem["dofs"])
        out.append(f"**Memory below 2 kB per unknown at 1e6 (coupled 2D): "
                   f"{'MET' if kb < 2 else 'NOT MET'}**: {kb:.2f} KiB ({mem['solver']}, peak RSS "
                   f"{mem['peak_rss_mib']:.0f} MiB incl. the ~150 MiB interpreter and libraries); "
                   + ", ".join(f"{r['solver']} {kb_per_unknown(r['peak_rss_mib'], r['dofs']):.2f}"
                               for r in big) + ".")
    fp = (vp or {}).get("fipy", {})
    if fp.get("speedup_at_target") and not load(d, "fipy_fair"):  # superseded by fipy_fair.py
        s = fp["speedup_at_target"]
        out.append(f"**10x faster than FiPy at equal accuracy: {'MET' if s >= 10 else 'NOT MET'}**: "
                   f"{s:.1f}x at {fp['target']:g} relative error in the layer inventories.")
    if spy:
        parts = []
        for c in spy["cases"]:
            if "failed" in c:
                continue
            s = c["solvers"]
            parts.append(f"{c['dofs']}: SciPy SuperLU {s['scipy-splu']['total_s'] / s['dolfinx-gamg']['total_s']:.1f}x, "
                         f"SciPy CG+Jacobi {s['scipy-cg']['total_s'] / s['dolfinx-gamg']['total_s']:.1f}x, "
                         f"DOLFINx+MUMPS {s['dolfinx-mumps']['total_s'] / s['dolfinx-gamg']['total_s']:.1f}x")
        if parts:
            out.append("**SciPy (plain assembly) on the same scalar Poisson problem**, time relative to "
                       "heterofem's DOLFINx + GAMG floor (no goal set; > 1: heterofem faster): "
                       + "; ".join(parts) + ".")
    for path in sorted(d.glob("scaling*.json")):  # one file per solver and mesh size
        run = json.loads(path.read_text())
        st = next((r for r in run["strong"] if r["ranks"] == 2), None)
        wk = next((r for r in run["weak"] if r["ranks"] == 2), None)
        if st and wk:
            ok = st["efficiency"] > 0.8 and wk["efficiency"] > 0.8
            out.append(f"**Parallel efficiency above 80 % at 2 ranks: {'MET' if ok else 'NOT MET'}** "
                       f"({path.name}, {run.get('solver', 'mumps')}, {st['dofs']} dofs): strong "
                       f"{100 * st['efficiency']:.1f} %, weak {100 * wk['efficiency']:.1f} % "
                       f"({wk['dofs']} dofs on 2 ranks).")
    if sc:
        big_r = [r for r in sc["strong"] if r["ranks"] >= 16]
        out.append("Parallel efficiency above 70 % at 16 ranks: "
                   + (f"{100 * big_r[0]['efficiency']:.0f} %" if big_r
                      else "not measured (no 16-core machine here; `scaling.py --ranks 1 2 4 8 16`)") + ".")
    if cc:
        effs = [c for c in cc["cases"] if c.get("parallel_efficiency")]
        if effs:
            out.append("Strong-scaling efficiency at 2 ranks per case (coupled_cases.py): "
                       + ", ".join(f"{c['problem']} {c['dim']}D {c['dofs']}: "
                                   f"{100 * c['parallel_efficiency']:.0f} %" for c in effs) + ".")
    if sw:
        out.append(f"Sweep throughput ({sw['cases']} cases, mpirun -n {sw['ranks']}): "
                   f"{sw['speedup']:.2f}x against one after another (goal 1.8x: "
                   f"{'MET' if sw['speedup'] >= 1.8 else 'NOT MET'}).")
    return out + issue25_goals(d) + fitted_flux_goals(d) + fipy_fair_goals(d)


def issue25_goals(d: Path) -> list[str]:
    """Issue #25: meshing.json (benchmarks/meshing.py), adaptivity.json (adaptivity.py),
    solver_crossover.json."""
    out = []
    mesh = load(d, "meshing")
    if mesh:
        t = mesh["time"]
        out.append(f"**Meshing within 5x of create_rectangle (#25): "
                   f"{'MET' if t['ratio'] <= 5 else 'NOT MET'}**: structured {t['ratio']:.1f}x "
                   f"at {t['cells']} cells{' (quick sizes)' if mesh.get('quick') else ''}"
                   + (f"; Gmsh {t['gmsh_ratio']:.0f}x at {t['gmsh_cells']}" if "gmsh_ratio" in t
                      else "") + ".")
        m = mesh.get("memory", {})
        for mesher in ("gmsh", "structured"):  # direct vs refine_levels = 1, 2 ranks
            if f"{mesher}-direct" not in m:
                continue
            cs = [m[f"{mesher}-{k}"] for k in ("direct", "refined")]
            peak = [max(r["meshing_mib"] for r in c["ranks"]) for c in cs]
            out.append(f"**3D parallel refinement lowers the largest per-rank meshing peak "
                       f"(#25, {mesher}, 2 ranks"
                       f"{', quick sizes' if mesh.get('memory_quick', mesh.get('quick')) else ''}"
                       f"): {'MET' if peak[1] < peak[0] else 'NOT MET'}**: {peak[0]:.0f} MiB "
                       f"direct ({cs[0]['cells']} cells), {peak[1]:.0f} MiB with refine_levels "
                       f"= 1 ({cs[1]['cells']} cells): {peak[0] / max(peak[1], 1e-9):.2f}x."
                       + (" (create_box builds the direct mesh distributed already.)"
                          if mesher == "structured" else ""))
    adapt = load(d, "adaptivity")  # benchmarks/adaptivity.py
    rows = [r for r in (adapt or {}).get("comparison", []) if "time_ratio" in r]
    if rows:
        r = min(rows, key=lambda r: r["finest_nm"])
        out.append(f"**Adaptive faster than uniform at equal front-velocity error (#25): "
                   f"{'MET' if r['time_ratio'] > 1 else 'NOT MET'}**: {r['time_ratio']:.2f}x "
                   f"({r['adaptive_dofs']} against {r['uniform_dofs']} unknowns; velocity error "
                   f"{r['adaptive_error']:+.1e} adaptive, {r['uniform_error']:+.1e} uniform "
                   f"{r['uniform_h_nm']:g} nm).")
    setup = [c for c in (load(d, "setup_share") or {}).get("cases", []) if "setup_ratio" in c]
    if setup:  # benchmarks/setup_share.py: mesh + setup + the first solve's excess, no goal set
        out.append("Setup (JIT + first assembly) share of a run, cold / warm JIT cache (#25): "
                   + "; ".join(f"{c['case']} ({c['dofs']} unknowns, {c['steps']} steps) "
                               f"{100 * c['cold']['setup_share']:.0f} % "
                               f"({c['cold']['setup_s']:.1f} s of {c['cold']['wall_time_s']:.1f} s)"
                               f" / {100 * c['warm']['setup_share']:.0f} % "
                               f"({c['warm']['setup_s']:.1f} s of {c['warm']['wall_time_s']:.1f} s)"
                               for c in setup) + ". Cold / warm: "
                   + "; ".join(f"{c['case']} setup {c['setup_ratio']:.0f}x, whole run "
                               f"{c['wall_ratio']:.2f}x" for c in setup) + ".")
    cross = load(d, "solver_crossover")
    if cross:
        ratios = ", ".join(f"{r['mumps']['dofs']}: {r['step_ratio']:.2f}"
                           for r in cross["rows"] if "step_ratio" in r)
        out.append(f"Auto solver (#25): split / MUMPS time per step {ratios}; switch at "
                   f"{cross['threshold_dofs']} unknowns.")
        a = cross.get("auto", {})
        if "floor_ratio" in a:  # the README config, no solver keys (solver_crossover.py)
            out.append(f"**Auto solver at {a['dofs']} unknowns within 4x of the floor, no "
                       f"solver keys (#25): {'MET' if a['floor_goal_met'] else 'NOT MET'}**: "
                       f"{a['floor_ratio']:.1f}x (\"{a['chosen']}\", "
                       f"{a['steps'][0]['per_newton_s']:.2f} s per Newton iteration against "
                       f"{a['floor']['total_s']:.2f} s, same process, load "
                       f"{a['load_average_start']:.1f} on 2 cores).")
            out.append(f"**Auto solver at {a['dofs']} unknowns under 2 KiB per unknown (#25): "
                       f"{'MET' if a['memory_goal_met'] else 'NOT MET'}**: "
                       f"{a['kib_per_unknown']:.2f} KiB (peak RSS {a['peak_rss_mib']:.0f} MiB).")
    out += _combo_lines(load(d, "solver_crossover_combos"))
    return out


def _combo_lines(combos: dict | None) -> list[str]:
    """benchmarks/solver_crossover_combos.py: the other couplings' split / MUMPS time per step
    at each size (the measurements behind solver/petsc_policy.py's AUTO_SPLITS)."""
    if not combos:
        return []
    per: dict[str, list[str]] = {}
    for row in combos.get("rows", []):
        cases = row["cases"]
        mumps = cases.get("mumps", {})
        for variant in ("split", "picard"):
            c = cases.get(variant)
            if c and c.get("converged") and mumps.get("converged"):
                per.setdefault(f"{row['combo']} {variant}", []).append(
                    f"{mumps['dofs']}: {c['step_s'] / mumps['step_s']:.2f}")
    return [f"Auto solver per coupling (#25): {name} / MUMPS time per step "
            f"{', '.join(ratios)}." for name, ratios in per.items()]


def fitted_flux_goals(d: Path) -> list[str]:
    """Issue #26 item 5, solver goals: fitted_flux.json (benchmarks/fitted_flux.py), with the
    cell-average flux's fitted_flux_exact.json beside it when present."""
    runs = load(d, "fitted_flux")
    if not runs:
        return []
    other = {r["dimension"]: r for r in load(d, "fitted_flux_exact") or []}
    out = []
    for r in runs:
        ref = other.get(r["dimension"])
        if ref and abs(ref["dofs"] - r["dofs"]) > 0.2 * r["dofs"]:
            ref = None  # another size: not a comparison
        b = r.get("breakdown_per_newton_s")
        cpu = r.get("cpu_floor_ratio", r["floor_ratio"])  # MET only if wall and CPU time are
        out.append(f"**Fitted flux, exact-Jacobian Newton iteration within 3x of the floor, "
                   f"{r['dimension']}D (#26): "
                   f"{'MET' if max(r['floor_ratio'], cpu) <= 3 else 'NOT MET'}**: "
                   f"{r['floor_ratio']:.1f}x wall"
                   + (f", {cpu:.1f}x CPU time" if "cpu_floor_ratio" in r else "")
                   + f" at {r['dofs']} unknowns "
                   f"(goal size 1e6; "
                   f"{r['per_newton_s']:.2f} s per Newton iteration against "
                   f"{r['floor_s']:.2f} s, {r['kib_per_unknown']:.1f} KiB per unknown"
                   + (f"; per iteration Jacobian assembly {b['jacobian']:.2f} s, residual "
                      f"{b['residual']:.2f} s, linear solve and rest "
                      f"{b['linear_solve_and_rest']:.2f} s" if b else "")
                   + (f"; load {r['load_average_1min'][0]:.1f}"
                      if r.get("load_average_1min") else "") + ")"
                   + (f"; cell-average flux ({ref['preconditioner']}) {ref['floor_ratio']:.1f}x"
                      if ref else "") + ".")
    by_dim = {r["dimension"]: r for r in runs}
    if 2 in by_dim and 3 in by_dim:
        def q(r):
            return r[3]["us_per_unknown_per_newton"] / r[2]["us_per_unknown_per_newton"]

        def q_cpu(r):  # CPU time per unknown (the load-robust one), wall time without it
            return ((r[3].get("cpu_per_newton_s", r[3]["per_newton_s"]) / r[3]["dofs"])
                    / (r[2].get("cpu_per_newton_s", r[2]["per_newton_s"]) / r[2]["dofs"]))

        worst = max(q(by_dim), q_cpu(by_dim))
        out.append(f"**Cost per unknown per Newton iteration 3D within 2x of 2D (#26): "
                   f"{'MET' if worst <= 2 else 'NOT MET'}**: {q(by_dim):.1f}x wall"
                   + (f", {q_cpu(by_dim):.1f}x CPU time" if "cpu_per_newton_s" in by_dim[3]
                      else "") + " with the "
                   "fitted flux" + (f", {q(other):.1f}x with the cell-average flux"
                                    if 2 in other and 3 in other and all(
                                        abs(other[k]["dofs"] - by_dim[k]["dofs"])
                                        <= 0.2 * by_dim[k]["dofs"] for k in (2, 3))
                                    else "") + ".")
    small = {r["dimension"]: r for r in load(d, "fitted_flux_small") or []}
    small_exact = {r["dimension"]: r for r in load(d, "fitted_flux_exact_small") or []}
    if small:  # the ~1e5 runs (fitted_flux.py --size small [--flux exact])
        out.append("At ~1e5 unknowns (floor ratio, wall): " + "; ".join(
            f"{k}D fitted {small[k]['floor_ratio']:.1f}x"
            + (f", cell-average ({small_exact[k]['preconditioner']}) "
               f"{small_exact[k]['floor_ratio']:.1f}x" if k in small_exact else "")
            for k in sorted(small)) + ".")
    return out


def fipy_fair_goals(d: Path) -> list[str]:
    """Issue #26 item 5, the fair FiPy comparison: fipy_fair.json (benchmarks/fipy_fair.py)."""
    res = load(d, "fipy_fair")
    if not res or not res.get("goals"):
        return []
    unc = res.get("reference", {}).get("uncertainty_rel")
    return [f"**10x faster than FiPy (expert model, Richardson reference) at {g['target']:g}, "
            f"{g['flux']} flux (#26): {g['status']}**: "
            + (f"FiPy/heterofem {g['ratio']:.2f}x ({g['fipy_s']:.2f} s / {g['heterofem_s']:.2f} s; "
               f"heterofem {g['heterofem_how']}, FiPy {g['fipy_how']})" if g.get("ratio") else "not measured")
            + (f"; reference uncertainty {unc:.1e}" if unc is not None else "") + "."
            for g in res["goals"]]


def plot(d: Path) -> bool:
    vp = load(d, "vacancy_poisson")
    table = (vp or {}).get("scaling", {}).get("table", [])
    if not table:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    solvers = list(dict.fromkeys(r["solver"] for r in table if "ratio" in r))
    for i, solver in enumerate(solvers):
        rows = sorted((r for r in table if r.get("solver") == solver and "ratio" in r),
                      key=lambda r: r["dofs"])
        n = [r["dofs"] for r in rows]
        kw = dict(marker="o", color=f"C{i}", label=solver)
        ax[0].loglog(n, [r["newton_step_s"] for r in rows], **kw)
        ax[1].semilogx(n, [r["ratio"] for r in rows], **kw)
        ax[2].loglog(n, [kb_per_unknown(r["peak_rss_mib"], r["dofs"]) for r in rows], **kw)
    floors = sorted({(r["dofs"], r["floor_median_s"]) for r in table if "floor_median_s" in r})
    ax[0].loglog([f[0] for f in floors], [f[1] for f in floors], "k--", marker="x",
                 label="floor (CG+GAMG Poisson)")
    ax[0].set_ylabel("time per Newton iteration [s]")
    ax[1].axhline(4.0, color="k", ls=":", lw=1, label="goal 4x")
    ax[1].set_ylabel("Newton iteration / floor")
    ax[2].axhline(2.0, color="k", ls=":", lw=1, label="goal 2 kB")
    ax[2].set_ylabel("peak RSS per unknown [KiB]")
    for a in ax:
        a.set_xlabel("unknowns (phi, mu)")
        a.grid(True, which="both", alpha=0.3)
        a.legend(fontsize=7)
    fig.suptitle("2D vacancy + Poisson, one backward-Euler step (vacancy_poisson.py)")
    fig.tight_layout()
    fig.savefig(d / "report.png", dpi=110)
    return True


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", default=str(HERE / "results"))
    a = p.parse_args(argv)
    d = Path(a.dir)
    lines = ["# Benchmark report: the goals of issue #10", "",
             "Generated by `benchmarks/report.py` from the JSON files next to it; details in "
             "vacancy_poisson.md, coupled_cases.md, scipy_poisson.md, scaling.md.", ""]
    lines += [f"- {g}" for g in goals(d)]
    if plot(d):
        lines += ["", "![vacancy + Poisson: time, ratio to the floor, memory](report.png)"]
    if (d / "coupled_cases.png").exists():
        lines += ["", "![coupled cases 1D/2D/3D, 1 and 2 ranks](coupled_cases.png)"]
    (d / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
