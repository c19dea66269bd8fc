"""The coupled problem: the active physics modules' residuals summed into one monolithic
problem, solved with PETSc's SNES.

Each unknown gets its own function space; residual terms are summed per equation across the
modules (a dict keyed by unknown name), and the Jacobian is derived by UFL. One unknown gives
a plain :class:`dolfinx.fem.petsc.NonlinearProblem`; several give a blocked one.

The solver's other jobs live in their own modules, and the names other modules import from
here are re-exported:

- :mod:`heterofem.solver.petsc_policy`: which PETSc options a solve gets, and how they reach
  PETSc without leaking (``petsc_options_set``, ``PREFIX``, ``GAMG_CHEBYSHEV_ESTEIG``,
  ``OPTION_USE_OBSERVERS``);
- :mod:`heterofem.solver.picard`: the forms of the Picard preconditioner;
- :mod:`heterofem.solver.fast_assembly`: the block-by-block assembly through DOLFINx 0.11
  internals, and the gate that chooses it (``solver.assembly``);
- :mod:`heterofem.solver.newton`: the Newton update cap, the convergence check, ``SolveError``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import basix.ufl
import numpy as np
import ufl

from heterofem.solver import picard
from heterofem.solver.config import Config
from heterofem.solver.dolfinx_env import MPI, PETSc, dolfinx
from heterofem.solver.domain import Domain
from heterofem.solver.fast_assembly import assemble_blockwise, select_assembly
from heterofem.solver.newton import SolveError, check_converged, max_update, update_precheck
from heterofem.solver.petsc_policy import (
    DEFAULT_PETSC_OPTIONS,
    GAMG_CHEBYSHEV_ESTEIG,
    OPTION_USE_OBSERVERS,
    PREFIX,
    auto_preconditioner,
    diagonal_split,
    direct_fallback,
    petsc_options_set,
    preconditioner_lag,
    solver_options,
)
from heterofem.solver.physics.base import History, Physics
from heterofem.solver.physics.registry import build_physics

__all__ = [
    "DEFAULT_PETSC_OPTIONS", "GAMG_CHEBYSHEV_ESTEIG", "OPTION_USE_OBSERVERS", "PREFIX",
    "CoupledProblem", "SolveError", "active_physics", "continuation_dt", "petsc_options_set",
]

log = logging.getLogger("heterofem")


def active_physics(domain: Domain, extra: Iterable[str] = ()) -> list[Physics]:
    """The physics modules the config switches on (plus the registered switches in
    ``extra``), coupled through named quantities, in the registry's order
    (:func:`heterofem.solver.physics.registry.build_physics`)."""
    return build_physics(domain, extra)


def continuation_dt(modules: Iterable[Physics], dt_max: float = 1e-2) -> float:
    """The first pseudo-time step of a steady solve by continuation: ``dt_max``, or less
    where a module's stable step is smaller (:meth:`Physics.stable_pseudo_dt`)."""
    return min([dt_max] + [m.stable_pseudo_dt() for m in modules if m.steady_by_continuation])


class CoupledProblem:
    """The monolithic problem: spaces, state, residual, boundary conditions, SNES.

    With ``transient=True`` it also holds the two previous states and the BDF constants that
    :class:`heterofem.solver.stepping.Stepper` updates.
    """

    def __init__(self, domain: Domain, modules: list[Physics], transient: bool = False):
        self.domain = domain
        self.modules = {m.name: m for m in modules}
        unknowns = [uk for m in modules for uk in m.unknowns()]
        self.spaces = {
            uk.name: dolfinx.fem.functionspace(
                domain.mesh, basix.ufl.element("Lagrange", domain.mesh.basix_cell(), uk.degree,
                                               shape=uk.shape))
            for uk in unknowns
        }
        self.names = list(self.spaces)
        #: the unknown whose rows the Picard preconditioner changes (Unknown.picard), or None
        self.picard_row = next((uk.name for uk in unknowns if uk.picard), None)
        self.u = {name: dolfinx.fem.Function(V, name=name) for name, V in self.spaces.items()}
        self.v = {name: ufl.TestFunction(V) for name, V in self.spaces.items()}
        self.time_scale_s = next((m.time_scale_s for m in modules if m.time_scale_s), 1.0)
        self.history = None
        if transient:
            mesh = domain.mesh
            self.history = History(
                old={n: dolfinx.fem.Function(V, name=f"{n}_old") for n, V in self.spaces.items()},
                older={n: dolfinx.fem.Function(V, name=f"{n}_older") for n, V in self.spaces.items()},
                dt=dolfinx.fem.Constant(mesh, 1.0),
                a=tuple(dolfinx.fem.Constant(mesh, v) for v in (1.0, -1.0, 0.0)),
                time_scale_s=self.time_scale_s,
                mesh=mesh,
            )
        #: residual terms per module and equation (kept apart for the initial-state solve)
        self.terms = {m.name: m.residual(self.u, self.v, self.history) for m in modules}
        self.residual: dict[str, ufl.Form] = {}
        for terms in self.terms.values():
            for eq, form in terms.items():
                self.residual[eq] = self.residual[eq] + form if eq in self.residual else form
        #: factors whole equations are multiplied by (conditioning; see Physics.equation_scales)
        self.scales = {eq: 1.0 for eq in self.names}
        for m in modules:
            for eq, factor in m.equation_scales().items():
                self.scales[eq] *= factor
        self.residual = {eq: self.scales[eq] * F for eq, F in self.residual.items()}
        missing = set(self.spaces) - set(self.residual)
        if missing:
            raise RuntimeError(f"no equation for unknown(s) {sorted(missing)}")
        self.bcs = {name: [] for name in self.names}
        for m in modules:
            for name, bcs in m.dirichlet(self.spaces).items():
                self.bcs[name].extend(bcs)
        #: how the Jacobian and residual are assembled, "fast" or "standard" (``solver.assembly``,
        #: :func:`fast_assembly.select_assembly`; decided before the initial solve, so that an
        #: unavailable "fast" stops the run first); run.py writes it into summary.json
        self.assembly = select_assembly(domain.cfg.solver.assembly, blocked=len(self.names) > 1)
        self._problem = None
        self.set_initial_state()

    # -- state ----------------------------------------------------------------------------------
    def set_initial_state(self) -> None:
        """Initial values: each module's own; then, when modules have an initial charge
        (:meth:`Physics.initial_charge_density`, e.g. the vacancies' initial delta), the
        potential of that charge (the potential owner's equation, its
        ``potential_residual``, with those charges in place of the provided charge density
        and without other modules' phi terms) and the modules' states set from it
        (:meth:`Physics.initialise_from_potential`, e.g. the vacancies' mu)."""
        for m in self.modules.values():
            m.initialise(self.u)
        if "phi" not in self.u:
            return
        phi = self.u["phi"]
        charged = {name: charges for name, m in self.modules.items()
                   if (charges := m.initial_charge_density(phi)) is not None}
        if not charged:
            return
        owner = next(m for m in self.modules.values()
                     if any(uk.name == "phi" for uk in m.unknowns()))
        charges = [term for terms in charged.values() for term in terms]
        F0 = self.scales["phi"] * owner.potential_residual(self.u, self.v, charges)
        what = ", ".join(charged)
        self._solve_potential(F0, phi, "init_", f"the initial potential (Poisson with the "
                                                f"initial charge of {what})")
        for name in charged:
            module = self.modules[name]
            module.initialise_from_potential(self.u)
            for uk in module.unknowns():  # the iterate starts on the Dirichlet values
                for bc in self.bcs[uk.name]:
                    bc.set(self.u[uk.name].x.array)

    def potential_without(self, excluded: str) -> dolfinx.fem.Function:
        """The potential with one module's charges removed, everything else frozen at the
        current state (e.g. the potential without the polarization's bound charge): the phi
        equation rebuilt as if ``excluded`` provided nothing (:meth:`Physics.residual_without`)."""
        phi = self.u["phi"]
        ref = dolfinx.fem.Function(phi.function_space, name="phi_ref")
        ref.x.array[:] = phi.x.array
        F = sum(self.modules[name].residual_without(excluded, self.u, self.v)["phi"]
                for name, terms in self.terms.items() if name != excluded and "phi" in terms)
        F = self.scales["phi"] * ufl.replace(F, {phi: ref})
        self._solve_potential(F, ref, "ref_", f"the potential without {excluded}")
        return ref

    def _solve_potential(self, F: ufl.Form, phi: dolfinx.fem.Function, prefix: str,
                         what: str) -> None:
        """A single-field Newton solve of F for phi (the Dirichlet conditions of the phi
        space: a DirichletBC belongs to the space, so it applies to any function on it)."""
        opts = self.petsc_options(self.domain.cfg, single_field=True)
        start = phi.x.array.copy()
        try:
            self._newton_potential(F, phi, prefix, opts, what)
        except SolveError as exc:  # an iterative solve that failed: once more, directly
            direct = direct_fallback(opts)
            if direct is None:
                raise
            log.warning("%s: %s; retrying with a direct linear solve (MUMPS)", what, exc)
            phi.x.array[:] = start
            self._newton_potential(F, phi, prefix + "lu_", direct, what)

    def _newton_potential(self, F, phi, prefix: str, opts: dict, what: str) -> None:
        with petsc_options_set(PREFIX + prefix, opts):
            problem = dolfinx.fem.petsc.NonlinearProblem(
                F, phi, bcs=self.bcs["phi"], petsc_options_prefix=PREFIX + prefix,
                petsc_options=opts)
            problem.solve()
        check_converged(problem.solver, what)

    def snapshot(self) -> dict[str, np.ndarray]:
        return {n: f.x.array.copy() for n, f in self.u.items()}

    def restore(self, snap: dict[str, np.ndarray]) -> None:
        for n, arr in snap.items():
            self.u[n].x.array[:] = arr

    # -- solving --------------------------------------------------------------------------------
    def petsc_options(self, cfg: Config, single_field: bool = False) -> dict:
        """SNES/KSP options of this problem's solves (:func:`petsc_policy.solver_options`)."""
        return solver_options(cfg, single_field, self.preconditioner_kind(cfg), self.names)

    def preconditioner_kind(self, cfg: Config | None = None) -> str:
        """"exact", "picard" or "split": ``[solver] preconditioner``, with "auto" resolved by
        the problem's unknowns and size (:func:`petsc_policy.auto_preconditioner`, its table
        ``AUTO_SPLITS``)."""
        cfg = self.domain.cfg if cfg is None else cfg
        dofs = sum(V.dofmap.index_map.size_global * V.dofmap.index_map_bs
                   for V in self.spaces.values())
        return auto_preconditioner(cfg, self.names, dofs)

    def split_index_sets(self) -> list[tuple[str, PETSc.IS]]:
        """(name, index set) of each unknown in the blocked system (DOLFINx gives a blocked
        matrix none): each rank owns the fields' dofs one after another. A vector unknown's
        set carries its block size (the split's block matrix gets it: GAMG then aggregates
        whole nodes; measured, benchmarks/solver_crossover_combos.py, polarization + strain +
        Poisson at 10745 unknowns: 18.5 GMRES iterations per Newton iteration against 91)."""
        spaces = [self.spaces[n] for n in self.names]
        sizes = [V.dofmap.index_map.size_local * V.dofmap.index_map_bs for V in spaces]
        comm = self.domain.comm
        offset = comm.exscan(sum(sizes)) or 0
        splits = []
        for name, V, n in zip(self.names, spaces, sizes):
            iset = PETSc.IS().createGeneral(np.arange(offset, offset + n, dtype=PETSc.IntType),
                                            comm=comm)
            if V.dofmap.index_map_bs > 1:
                iset.setBlockSize(V.dofmap.index_map_bs)
            splits.append((name, iset))
            offset += n
        return splits

    def _install_fieldsplit(self, snes) -> None:
        """The unknowns' index sets, named after them, so that ``fieldsplit_phi_pc_type =
        "gamg"`` etc. reach the right block."""
        snes.getKSP().getPC().setFieldSplitIS(*self.split_index_sets())

    def _picard_active(self) -> bool:
        return (self.preconditioner_kind() == "picard"
                and self.picard_row is not None and len(self.names) > 1)

    def _diagonal_split(self) -> bool:
        """Whether the options ask for a field split that reads only the diagonal blocks of
        the preconditioning matrix (:func:`petsc_policy.diagonal_split`)."""
        return diagonal_split(self.petsc_options(self.domain.cfg))

    def preconditioner_forms(self) -> list[list[ufl.Form]] | None:
        """The preconditioning matrix's block forms (``solver.preconditioner``).

        "exact": None (the Jacobian preconditions itself). "picard": the Jacobian with the
        coefficients of grad(mu) held fixed in the mu rows (:mod:`heterofem.solver.picard`;
        mu: the :attr:`picard_row`).
        A field split other than Schur's reads only the diagonal blocks: the off-diagonal ones
        are not built then (and :meth:`picard_split` builds the matrix without a second
        assembly of the phi block)."""
        if not self._picard_active():
            return None
        row = self.picard_row
        return picard.preconditioner_forms(self.exact_jacobian(), self.names, self.u,
                                           self.residual[row], self._diagonal_split(), row)

    def picard_split(self) -> tuple[ufl.Form, ufl.Form] | None:
        """The exact mu-mu Jacobian block as (Picard block, remainder)
        (:func:`picard.picard_split`), for a field split that reads only diagonal blocks
        (:meth:`_diagonal_split`), else None."""
        if not (self._picard_active() and self._diagonal_split()):
            return None
        return picard.picard_split(self.residual[self.picard_row], self.u[self.picard_row])

    @property
    def problem(self) -> dolfinx.fem.petsc.NonlinearProblem:
        """DOLFINx's NonlinearProblem of the coupled residual, built at the first use; with
        the fast assembly (:attr:`assembly`) its SNES callbacks are replaced
        (:func:`fast_assembly.assemble_blockwise`), and with the Picard preconditioner and a
        diagonal field split its matrices are then nests of blocks."""
        if self._problem is None:
            bcs = [bc for n in self.names for bc in self.bcs[n]]
            opts = self.petsc_options(self.domain.cfg)
            if self.domain.cfg.solver.preconditioner == "auto":
                log.info("solver: preconditioner auto -> %s (%s)", self.preconditioner_kind(),
                         "Picard field split, GAMG" if self.preconditioner_kind() == "picard"
                         else "MUMPS LU" if opts.get("pc_type") == "lu" else opts.get("pc_type"))
            if self._picard_active() and opts.get("ksp_type") == "preonly":
                log.warning("solver.preconditioner = \"picard\" with ksp_type = \"preonly\": "
                            "the linear step is the Picard step, Newton loses its quadratic "
                            "convergence; use a Krylov solver (ksp_type = \"gmres\") with the "
                            "field split")
            # the nested Picard matrices need the fast path: it adds the remainder to the
            # Jacobian's mu block (the standard path gets a preconditioning matrix of its own)
            split = self.picard_split() if self.assembly == "fast" else None
            exact_bcs = None
            self._problem = self._nonlinear_problem(bcs, split)
            if self.assembly == "fast":
                exact_bcs = assemble_blockwise(self._problem, bcs, split_remainder=(
                    (self.names.index(self.picard_row), split[1], self.exact_jacobian())
                    if split else None), lag_preconditioner=preconditioner_lag(opts),
                    index_sets=[iset for _, iset in self.split_index_sets()])
            if len(self.names) > 1 and opts.get("pc_type") == "fieldsplit":
                self._install_fieldsplit(self._problem.solver)
            cap = max_update(self.domain.cfg)
            if cap or exact_bcs:
                self._problem.solver.setLineSearchPreCheck(update_precheck(cap, exact_bcs))
        return self._problem

    def exact_jacobian(self) -> list[list[ufl.Form]]:
        """The exact Jacobian's UFL blocks (unknowns in the order of :attr:`names`)."""
        return dolfinx.fem.forms.derivative_block([self.residual[n] for n in self.names],
                                                  [self.u[n] for n in self.names])

    def _nonlinear_problem(self, bcs, split) -> dolfinx.fem.petsc.NonlinearProblem:
        """DOLFINx's NonlinearProblem of the coupled residual; with ``split`` (picard_split)
        the Jacobian's mu-mu block is the Picard block (assemble_blockwise adds the rest)."""
        single = len(self.names) == 1
        F = self.residual[self.names[0]] if single else [self.residual[n] for n in self.names]
        u = self.u[self.names[0]] if single else [self.u[n] for n in self.names]
        J = P = None
        if split is not None:
            J = self.exact_jacobian()
            row = self.names.index(self.picard_row)
            J[row][row] = split[0]
        else:
            P = self.preconditioner_forms()
        opts = self.petsc_options(self.domain.cfg)
        with petsc_options_set(PREFIX, opts):
            return dolfinx.fem.petsc.NonlinearProblem(
                F, u, bcs=bcs, petsc_options_prefix=PREFIX, petsc_options=opts,
                kind=None if single else "mpi", J=J, P=P)

    def max_update(self) -> float:
        """Largest Newton update of a potential [V or eV] (:func:`newton.max_update`)."""
        return max_update(self.domain.cfg)

    def solve(self) -> int:
        """Newton solve; returns the iteration count, raises :class:`SolveError` on failure
        (including a solution that is not finite)."""
        problem = self.problem
        if self.history is not None:
            self.history.update()
        for name, bcs in self.bcs.items():  # the iterate starts on the Dirichlet values exactly
            for bc in bcs:
                bc.set(self.u[name].x.array)
        try:
            # the options again for the solve: a field split's sub-solvers read theirs when
            # the preconditioner is set up (petsc_options_set)
            with petsc_options_set(PREFIX, self.petsc_options(self.domain.cfg)):
                problem.solve()
        except PETSc.Error as exc:  # e.g. a failed factorisation: treat as a failed solve
            raise SolveError(f"PETSc error {exc.ierr} in the linear solve of the coupled "
                             "problem (singular or non-finite Jacobian?)") from None
        its = check_converged(problem.solver, "the coupled problem")
        finite = all(np.isfinite(f.x.array).all() for f in self.u.values())
        if not self.domain.comm.allreduce(finite, op=MPI.LAND):
            raise SolveError("the Newton iterate is not finite (NaN or Inf)")
        log.debug("Newton converged in %d iteration(s)", its)
        return its
