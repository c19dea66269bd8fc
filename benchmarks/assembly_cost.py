"""Assembly cost of the coupled vacancy + Poisson forms by quadrature choice, side by side.

    python benchmarks/assembly_cost.py [--ny 154] [--repeats 5]

On the 2D structured stack mesh of vacancy_poisson.py (ny = 154: 9.6e4 unknowns), one process
builds the coupled problem for each quadrature setting and runs the residual and Jacobian
callbacks that SNES calls (block-by-block packing; for "picard" the Jacobian callback also
makes the preconditioning matrix), interleaved, ``--repeats`` times; the best time of each is
reported with the ratio to the scalar Poisson assembly (DOLFINx, UFL's degree) on
the same mesh. Interleaving in one process makes the ratios robust to the machine's load (the
2-core machine here ran other work; single-case timings in vacancy_poisson.md varied 2x).
Writes results/assembly_cost.json and .md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: label -> (quadrature_degree, transport_quadrature_degree, vacancy_flux, preconditioner)
SETTINGS = {
    "default (2, exact flux)": (None, None, "exact", "exact"),
    "previous default (2, flux 8)": (None, None, "quadrature", "exact"),
    "earlier (5, flux 5)": (5, 5, "quadrature", "exact"),
    "cheap, inaccurate (2, flux 2)": (2, 2, "quadrature", "exact"),
    "default + picard P (field split)": (None, None, "exact", "picard"),
}
#: the split the "picard" setting is used with (its P has no off-diagonal blocks then)
PICARD_SPLIT = {"ksp_type": "gmres", "pc_type": "fieldsplit", "pc_fieldsplit_type": "multiplicative"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ny", type=int, default=154)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default=str(HERE / "results"))
    a = p.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from vacancy_poisson import STACK_2D, structured_stack_mesh

    import ufl
    from heterofem import Simulation
    from heterofem.solver.validation import load_config
    from heterofem.solver.dolfinx_env import dolfinx
    from dolfinx.fem.petsc import assemble_matrix, assign

    cfg0 = load_config(STACK_2D)
    stack, _ = structured_stack_mesh(cfg0, a.ny)
    built = {}
    for label, (q, qt, flux, pc) in SETTINGS.items():
        cfg = load_config(STACK_2D)
        cfg.physics.quadrature_degree, cfg.physics.transport_quadrature_degree = q, qt
        cfg.physics.vacancy_flux = flux
        cfg.solver.preconditioner = pc
        if pc == "picard":
            cfg.solver.petsc_options = dict(PICARD_SPLIT)
        model = Simulation.from_config(cfg).build(stack=stack, transient=True)  # the shared mesh
        problem = model.problem
        problem.history.update()
        nl = problem.problem
        assign([problem.u[n] for n in problem.names], nl.x)
        built[label] = (nl, model)
    # the scalar Poisson matrix (the floor's assembly), with the first setting's permittivity
    es = next(iter(built.values()))[1].modules[0]
    V = dolfinx.fem.functionspace(stack.mesh, ("Lagrange", 1))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a_form = dolfinx.fem.form(ufl.inner(es.eps * ufl.grad(u), ufl.grad(v)) * ufl.dx
                              + es.k_tf * u * v * ufl.dx)
    A0 = assemble_matrix(a_form)
    A0.assemble()
    calls = {}
    for label, (nl, _) in built.items():
        snes = nl.solver
        residual, jacobian = snes.getFunction()[1][0], snes.getJacobian()[2][0]
        A, P = snes.getJacobian()[:2]
        b = nl.b.duplicate()
        jacobian(snes, nl.x, A, P)  # the first call also lays out a copied Picard matrix
        residual(snes, nl.x, b)  # first calls: one-off set-up (index sets, scratch vectors)
        calls[label] = (lambda snes=snes, f=residual, b=b, x=nl.x: f(snes, x, b),
                        lambda snes=snes, f=jacobian, A=A, P=P, x=nl.x: f(snes, x, A, P))
    best = {label: {} for label in built}
    best_poisson = float("inf")
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        A0.zeroEntries()
        assemble_matrix(A0, a_form)
        A0.assemble()
        best_poisson = min(best_poisson, time.perf_counter() - t0)
        for label, (residual, jacobian) in calls.items():
            t0 = time.perf_counter()
            residual()
            t1 = time.perf_counter()
            jacobian()
            times = {"residual": t1 - t0, "jacobian": time.perf_counter() - t1}
            for k, t in times.items():
                best[label][k] = min(best[label].get(k, float("inf")), t)
    dofs = sum(V.dofmap.index_map.size_global for _ in range(2))
    res = {"ny": a.ny, "dofs": dofs, "repeats": a.repeats, "poisson_matrix_s": best_poisson,
           "settings": {k: {"quadrature_degree": s[0], "transport_quadrature_degree": s[1],
                            "vacancy_flux": s[2], "preconditioner": s[3], **best[k]}
                        for k, s in SETTINGS.items()}}
    lines = [f"# assembly_cost (ny = {a.ny}, {dofs} unknowns, best of {a.repeats}, interleaved)", "",
             f"Scalar Poisson matrix assembly (the floor's): {best_poisson:.4f} s.", "",
             "| setting | residual [s] | Jacobian (+ P for picard) [s] | residual + Jacobian / Poisson matrix |",
             "|---|---|---|---|"]
    for label, b in best.items():
        tot = b["residual"] + b["jacobian"]
        lines.append(f"| {label} | {b['residual']:.4f} | {b['jacobian']:.4f} | "
                     f"{tot / best_poisson:.1f} |")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "assembly_cost.json").write_text(json.dumps(res, indent=1))
    (out / "assembly_cost.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
