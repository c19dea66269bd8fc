"""Adaptive time stepping: backward Euler (BDF1) or variable-step BDF2, with step rejection.

A step whose Newton solve fails (or gives a non-finite state) is undone and retried with
dt * cut; once dt would fall below ``time.dt_min_s`` (default dt_initial_s * 1e-6) the run
stops with :class:`StepFailure`, keeping the last accepted state and every output written so
far. After an easy step (Newton iterations <= ``time.target_newton``) dt grows by ``grow``;
after a hard one (> 2 x target) it shrinks by ``cut``; steps land exactly on output times.

BDF2 with variable steps, omega = dt_n / dt_{n-1}:
    dq/dt ~ [ (1+2w)/(1+w) q^{n+1} - (1+w) q^n + w^2/(1+w) q^{n-1} ] / dt_n
(the first step is BDF1).
"""

from __future__ import annotations

import logging

import numpy as np

from heterofem.solver.coupling import CoupledProblem, SolveError

log = logging.getLogger("heterofem")


class StepFailure(SolveError):
    """The time step was cut below its minimum without a converged step."""

    def __init__(self, stats: dict, message: str):
        super().__init__(message)
        self.stats = stats


class Stepper:
    def __init__(self, problem: CoupledProblem, on_step, on_output, checkpointer=None,
                 checkpoint_every: int = 0):
        """``on_step(t, dt, its)`` after every accepted step; ``on_output(t)`` at output times;
        every ``checkpoint_every`` accepted steps the state goes to ``checkpointer``."""
        self.problem = problem
        self.cfg = problem.domain.cfg.time
        self.on_step, self.on_output = on_step, on_output
        self.checkpointer, self.checkpoint_every = checkpointer, checkpoint_every
        self.progress = None  #: a heterofem.solver.progress.Progress, if any
        self.stats = {"steps": 0, "rejected_steps": 0, "newton_iterations": 0,
                      "dt_min_used_s": None, "dt_max_used_s": None, "end_s": 0.0}

    # -- checkpoint state -----------------------------------------------------------------------
    def fields(self) -> dict:
        h, u = self.problem.history, self.problem.u
        out = {f"u.{n}": f for n, f in u.items()}
        out.update({f"old.{n}": f for n, f in h.old.items()})
        out.update({f"older.{n}": f for n, f in h.older.items()})
        return out

    def _checkpoint(self, t: float, dt: float, prev_dt: float | None) -> None:
        state = {"t_s": t, "dt_s": dt, "prev_dt_s": prev_dt, "stats": self.stats}
        self.checkpointer.write(state, self.fields())

    def resume(self, state: dict, fields: dict) -> tuple[float, float, float | None]:
        """Load a checkpoint into the problem; returns (t, dt, prev_dt) to continue from."""
        from heterofem.solver.checkpoint import Checkpointer

        for name, func in self.fields().items():
            Checkpointer.restore(func, *fields[name])
        self.stats = dict(state["stats"])
        return state["t_s"], state["dt_s"], state["prev_dt_s"]

    def _set_scheme(self, dt: float, prev_dt: float | None) -> None:
        h = self.problem.history
        h.dt.value = dt / h.time_scale_s
        if self.cfg.scheme == "bdf2" and prev_dt is not None:
            w = dt / prev_dt
            coeffs = ((1 + 2 * w) / (1 + w), -(1 + w), w * w / (1 + w))
        else:
            coeffs = (1.0, -1.0, 0.0)
        for const, value in zip(h.a, coeffs):
            const.value = value

    def _set_time(self, t: float) -> None:
        for module in self.problem.modules.values():
            module.set_time(t)

    def _shift_history(self) -> None:
        self.problem.history.shift(self.problem.u)

    def run(self, resume_from: tuple[dict, dict] | None = None) -> dict:
        """March to the end time; ``resume_from`` = a checkpoint's (state, fields)."""
        cfg, problem = self.cfg, self.problem
        end = cfg.end_s
        tol = 1e-12 * end
        outputs = sorted({t for t in cfg.output_times_s if t > tol} | {end})
        if resume_from is None:
            self.on_output(0.0)  # the initial state is always written
            self._shift_history()  # old = older = the initial state
            self._shift_history()
            t, dt, prev_dt = 0.0, min(cfg.dt_initial_s, cfg.dt_max), None
        else:
            t, dt, prev_dt = self.resume(*resume_from)
            self._set_time(t)
        st = self.stats
        while t < end - tol:
            next_out = next(o for o in outputs if o > t + tol)
            step = min(dt, cfg.dt_max, next_out - t)
            self._set_scheme(step, prev_dt)
            self._set_time(t + step)
            snap = problem.snapshot()
            try:
                its = problem.solve()
            except SolveError as exc:
                problem.restore(snap)
                self._set_time(t)
                st["rejected_steps"] += 1
                dt = step * cfg.cut
                if dt < cfg.dt_min:
                    raise StepFailure(self.stats,
                        f"at t = {t:.6g} s no step converged down to dt = {step:.3g} s (the "
                        f"minimum is time.dt_min_s = {cfg.dt_min:.3g} s); last error: {exc}. "
                        "Outputs up to this time are kept.") from None
                log.warning("t = %.6g s: step dt = %.3g s failed (%s); retrying with %.3g s",
                            t, step, str(exc).split(";")[0], dt)
                continue
            self._shift_history()
            t = next_out if abs(next_out - (t + step)) <= tol else t + step
            self._set_time(t)
            prev_dt = step
            st["steps"] += 1
            st["newton_iterations"] += its
            st["end_s"] = t
            st["dt_min_used_s"] = step if st["dt_min_used_s"] is None else min(st["dt_min_used_s"], step)
            st["dt_max_used_s"] = step if st["dt_max_used_s"] is None else max(st["dt_max_used_s"], step)
            self.on_step(t, step, its)
            if abs(t - next_out) <= tol:
                self.on_output(t)
            if its <= cfg.target_newton:
                dt = min(max(dt, step) * cfg.grow, cfg.dt_max)
            elif its > 2 * cfg.target_newton:
                dt = max(max(dt, step) * cfg.cut, cfg.dt_min)
            if self.checkpointer is not None and self.checkpoint_every \
                    and st["steps"] % self.checkpoint_every == 0:
                self._checkpoint(t, dt, prev_dt)
            if self.progress is not None:
                self.progress.update(t, f"{st['steps']} steps, dt = {step:.3g} s")
            log.debug("t = %.6g s, dt = %.3g s, %d Newton iterations", t, step, its)
        return st


def pseudo_transient(problem: CoupledProblem, dt0: float = 1e-2, grow: float = 2.0,
                     max_steps: int = 400, tol: float = 1e-10) -> dict:
    """Steady state by pseudo-transient continuation: backward Euler steps of growing size
    (scaled time) from the initial state until the state stops changing.

    Used for steady runs with an order parameter (the double well of the Landau energy makes
    a plain Newton solve from a poor guess land on the saddle P = 0 or diverge). Converged
    when an accepted step changes no unknown by more than tol x (1 + max |u|); a failed step
    is retried with a quarter of the step.
    """
    from heterofem.solver.dolfinx_env import MPI

    h, u, comm = problem.history, problem.u, problem.domain.comm
    for name, f in u.items():
        h.old[name].x.array[:] = f.x.array
        h.older[name].x.array[:] = f.x.array
    for const, value in zip(h.a, (1.0, -1.0, 0.0)):
        const.value = value
    dt, steps, newton, rejected = dt0, 0, 0, 0
    while steps < max_steps:
        h.dt.value = dt
        snap = problem.snapshot()
        try:
            its = problem.solve()
        except SolveError:
            problem.restore(snap)
            rejected += 1
            dt *= 0.25
            if dt < dt0 * 1e-8:
                raise
            continue
        steps += 1
        newton += its
        changes = [comm.allreduce(float(np.max(np.abs(f.x.array - h.old[n].x.array), initial=0.0)),
                                  op=MPI.MAX) for n, f in u.items()]
        sizes = [comm.allreduce(float(np.max(np.abs(f.x.array), initial=0.0)), op=MPI.MAX)
                 for f in u.values()]
        change, size = max(changes), max(sizes)
        relative = max(c / (s_ + 1e-300) for c, s_ in zip(changes, sizes))
        for name, f in u.items():
            h.old[name].x.array[:] = f.x.array
        if change <= tol * (1.0 + size):
            log.info("pseudo-transient: steady after %d steps (%d rejected), final dt^ = %.3g",
                     steps, rejected, dt)
            return {"steps": steps, "rejected_steps": rejected, "newton_iterations": newton,
                    "final_change": change}
        if relative < 0.2:  # grow only once the state moves slowly (not near a saddle)
            dt *= grow
    raise SolveError(f"pseudo-transient continuation did not reach a steady state in {max_steps} "
                     f"steps (last change {change:.3g}); check the Landau coefficients and biases")
