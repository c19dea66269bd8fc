"""Build the monolithic problem from the active physics modules and solve it with SNES.

Each unknown gets its own function space; residual terms are summed per equation across the
modules (a dict keyed by unknown name), and the Jacobian is derived by UFL. One unknown gives
a plain :class:`dolfinx.fem.petsc.NonlinearProblem`; several give a blocked one.
"""

from __future__ import annotations

import logging

import basix.ufl
import ufl

from heterofem.solver.config import Config
from heterofem.solver.dolfinx_env import PETSc, dolfinx
from heterofem.solver.domain import Domain
from heterofem.solver.physics.base import Physics

log = logging.getLogger("heterofem")

#: SNES/KSP defaults: Newton with backtracking, LU (MUMPS) for the linear steps. Anything in
#: [solver.petsc_options] overrides these, and so does the PETSc command line under the prefix.
DEFAULT_PETSC_OPTIONS = {
    "snes_type": "newtonls",
    "snes_linesearch_type": "bt",
    "ksp_type": "preonly",
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
}

PREFIX = "heterofem_"


class SolveError(RuntimeError):
    """A solve that did not converge (the message names the reason and what to try)."""


def active_physics(domain: Domain) -> list[Physics]:
    """The physics modules the config switches on, in coupling order."""
    from heterofem.solver.physics.electrostatics import Electrostatics

    modules: list[Physics] = []
    if domain.cfg.physics.electrostatics:
        modules.append(Electrostatics(domain))
    return modules


class CoupledProblem:
    def __init__(self, domain: Domain, modules: list[Physics]):
        self.domain = domain
        self.modules = modules
        unknowns = [uk for m in modules for uk in m.unknowns()]
        self.spaces = {
            uk.name: dolfinx.fem.functionspace(
                domain.mesh, basix.ufl.element("Lagrange", domain.mesh.basix_cell(), uk.degree))
            for uk in unknowns
        }
        self.u = {name: dolfinx.fem.Function(V, name=name) for name, V in self.spaces.items()}
        self.v = {name: ufl.TestFunction(V) for name, V in self.spaces.items()}
        residual: dict[str, ufl.Form] = {}
        for m in modules:
            for eq, form in m.residual(self.u, self.v).items():
                residual[eq] = residual[eq] + form if eq in residual else form
        missing = set(self.spaces) - set(residual)
        if missing:
            raise RuntimeError(f"no equation for unknown(s) {sorted(missing)}")
        self.names = list(self.spaces)
        self.bcs = [bc for m in modules for bc in m.dirichlet(self.spaces)]
        for m in modules:
            m.initialise(self.u)
        self.residual = residual
        self._problem = None

    def petsc_options(self, cfg: Config) -> dict:
        opts = dict(DEFAULT_PETSC_OPTIONS)
        opts.update(
            snes_rtol=cfg.solver.rtol, snes_atol=cfg.solver.atol, snes_max_it=cfg.solver.max_it
        )
        opts.update(cfg.solver.petsc_options)
        return opts

    @property
    def problem(self) -> dolfinx.fem.petsc.NonlinearProblem:
        if self._problem is None:
            single = len(self.names) == 1
            F = self.residual[self.names[0]] if single else [self.residual[n] for n in self.names]
            u = self.u[self.names[0]] if single else [self.u[n] for n in self.names]
            self._problem = dolfinx.fem.petsc.NonlinearProblem(
                F, u, bcs=self.bcs, petsc_options_prefix=PREFIX,
                petsc_options=self.petsc_options(self.domain.cfg),
                kind=None if single else "mpi",
            )
        return self._problem

    def solve(self) -> int:
        """Newton solve; returns the iteration count, raises :class:`SolveError` on failure."""
        problem = self.problem
        problem.solve()
        snes = problem.solver
        reason = snes.getConvergedReason()
        its = snes.getIterationNumber()
        if reason <= 0:
            raise SolveError(
                f"Newton did not converge ({_reason_name(reason)}, {its} iterations, residual "
                f"{snes.getFunctionNorm():.3e}); check the boundary conditions, or pass PETSc "
                "options under [solver.petsc_options] (e.g. snes_monitor = \"\")"
            )
        log.info("Newton converged in %d iteration(s): %s, |F| = %.3e",
                 its, _reason_name(reason), snes.getFunctionNorm())
        return its


def _reason_name(reason: int) -> str:
    names = {v: k for k, v in vars(PETSc.SNES.ConvergedReason).items() if isinstance(v, int)}
    return names.get(reason, str(reason))
