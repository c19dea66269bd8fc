"""Newton's safeguards around PETSc's SNES: the update cap (a line-search pre-check), the
convergence check after a solve, and :class:`SolveError` for a solve that failed."""

from __future__ import annotations

from heterofem.solver.config import Config
from heterofem.solver.dolfinx_env import PETSc
from heterofem.solver.units import K_B_EV


class SolveError(RuntimeError):
    """A solve that did not converge (the message names the reason and what to try)."""


def max_update(cfg: Config) -> float:
    """Largest Newton update of a potential [V or eV] (0: no limit).

    Where concentrations depend exponentially on the potentials, a full Newton step from a
    distant iterate can overshoot by many kT; semiconductor codes limit the update to a
    few kT per iteration, and so does heterofem (``solver.max_update_kT``, default 10 when
    vacancies or electrons are on).
    """
    n_kT = cfg.solver.max_update_kT
    if n_kT is None:
        n_kT = 10.0 if (cfg.physics.vacancies or cfg.physics.electrons != "none") else 0.0
    return n_kT * K_B_EV * cfg.run.temperature_K


def update_precheck(cap: float, exact_bcs=None):
    """A line-search pre-check: the update shortened so that no component changes by more
    than ``cap`` (0: no limit; the direction is kept, so it stays a descent direction), then
    the exact update on the Dirichlet dofs (``exact_bcs``, from the fast assembly)."""

    def precheck(x, y):
        if cap:
            biggest = y.norm(PETSc.NormType.INFINITY)
            if biggest > cap:
                y.scale(cap / biggest)
        if exact_bcs is not None:
            exact_bcs(x, y)

    return precheck


def check_converged(snes, what: str) -> int:
    """The Newton iteration count of a finished SNES solve; raises :class:`SolveError`
    naming ``what`` and PETSc's reason when it did not converge (DOLFINx does not raise)."""
    reason = snes.getConvergedReason()
    its = snes.getIterationNumber()
    if reason <= 0:
        raise SolveError(
            f"Newton did not converge for {what} ({reason_name(reason)}, {its} iterations, "
            f"residual {snes.getFunctionNorm():.3e}); check the boundary conditions, or pass "
            "PETSc options under [solver.petsc_options] (e.g. snes_monitor = \"\")"
        )
    return its


def reason_name(reason: int) -> str:
    """PETSc's name of a SNES converged/diverged reason (e.g. DIVERGED_MAX_IT)."""
    names = {v: k for k, v in vars(PETSc.SNES.ConvergedReason).items() if isinstance(v, int)}
    return names.get(reason, str(reason))
