"""Adaptive time stepping: backward Euler (BDF1) or variable-step BDF2, with step rejection
and local truncation-error control.

Newton control. A step whose Newton solve fails (or gives a non-finite state) is undone and
retried with dt * cut; once dt would fall below ``time.dt_min_s`` (default dt_initial_s *
1e-6) the run stops with :class:`StepFailure`, keeping the last accepted state and every
output written so far. After an easy step (Newton iterations <= ``time.target_newton``) dt
grows by ``grow``; after a hard one (> 2 x target) it shrinks by ``cut``; steps land exactly
on output times.

BDF2 with variable steps, omega = dt_n / dt_{n-1}:
    dq/dt ~ [ (1+2w)/(1+w) q^{n+1} - (1+w) q^n + w^2/(1+w) q^{n-1} ] / dt_n
(the first step is BDF1).

Error control (``time.error_control``, on by default; tolerance ``time.error_tolerance``).
Without it the answer depends on the first step guessed: a converging Newton solve says
nothing about the time-discretisation error. Milne's device, applied to each quantity q whose
time derivative the physics discretise (History.rates: the vacancy concentration c(mu, phi),
the phase field xi, the polarization P): the predictor q_p extrapolates q of the accepted
states (h = dt_n, h1 = dt_{n-1}, h2 = dt_{n-2}), the corrector q_c is q of Newton's answer,
and Taylor expansion of both about t_{n+1} gives the local truncation error (LTE) of q_c from
their difference, with no extra solve (q^(k): the k-th time derivative):

    BDF1, linear predictor through q_n, q_{n-1}:
        q_c - q = h^2 q^(2) / 2,   q - q_p = h (h + h1) q^(2) / 2
        LTE = h / (2h + h1) |q_c - q_p|                                   (1/3 for h = h1)
    BDF2, quadratic predictor through q_n, q_{n-1}, q_{n-2}:
        q_c - q = h^2 (h + h1)^2 q^(3) / (6 (2h + h1)),   q - q_p = h (h+h1)(h+h1+h2) q^(3) / 6
        LTE = h (h + h1) / (h (h + h1) + (2h + h1)(h + h1 + h2)) |q_c - q_p|  (2/11 for equal h)

so the LTE is O(h^(p+1)) with p = 1 (BDF1) or 2 (BDF2). The first step has no history: it is
checked by step doubling, one BDF1 step of h and two of h/2 from the same state; the full
step's error is 4x a half step's, the two halves' 2x, so LTE = 2 |q_h - q_{h/2,h/2}|, and the
full step is what is accepted (a first guess that is accurate keeps its step sequence). The
step after it, and one after a restart from a checkpoint without the third state, uses the
linear predictor (for BDF2 an overestimate).

Why q and not the unknowns: the BDF formula differentiates q, so its error is in q. The
unknowns are potentials (phi [V], mu [eV]): mu of a film that empties exponentially is linear
in t, its predictor is exact, and an estimate on mu sees nothing while BDF2's rate error in c
accumulates (measured: the film's delta of problems/tio2_vo2_tio2_001_vacancies_1d.toml 12 %
off the small-step answer with a mu-based estimate, 5 % with the c-based one, both at 1e-3).

Norm: the largest |LTE| / (tol s) over the quantities and the cells they are integrated over
(q at cell midpoints, never where its material is absent). A concentration spans decades
(the film's delta falls from 0.03 to 1e-7) and every decade matters, so s = |q| at the cell
(floored at CONCENTRATION_FLOOR = 1e-6 of its largest value): tol is the relative error of
the concentration per step down to that level. Order parameters (xi in [0, 1], P) take s = their largest |q|. The
maximum, not an RMS: what moves is localised (interfaces, a growth front), where an RMS over
all cells would dilute it with the still bulk, and the maximum does not depend on how many
cells the mesh puts elsewhere. As the estimate is per step, the error of a run after N steps
is up to N tol (no amplification in these dissipative problems).

A step with error ratio err = max |LTE| / (tol s) > 1 is undone and retried with

    dt = h * clip(SAFETY err^(-1/(p+1)), MIN_FACTOR, cut);

after an accepted step the next dt is the smaller of the Newton rule's and
h * clip(SAFETY err^(-1/(p+1)), cut, grow), the factors rounded down to powers of 2^(1/4) so
that round-off in err (1 vs 2 ranks) does not change the step sequence. A step already at dt_min is accepted with a
warning. The stats record "error_rejected_steps" and "error_estimate_max" (the largest err of
an accepted step); the third state and dt_{n-2} go into checkpoints.
"""

from __future__ import annotations

import logging

import numpy as np

from heterofem.solver.coupling import CoupledProblem, SolveError
from heterofem.solver.dolfinx_env import MPI, dolfinx

log = logging.getLogger("heterofem")

#: step-size controller: safety factor, and the smallest cut of a step rejected for its error
#: (a first guess far too large is brought down in a few tries)
SAFETY = 0.9
MIN_FACTOR = 0.1
#: a concentration is measured relative to itself down to this fraction of its largest value,
#: absolutely below: six decades reach the emptied film of the TiO2/VO2 stack (1e-5 of the
#: template's), while the cells where a species is practically absent (1e-12 of the largest,
#: e.g. next to a vacuum gap) carry Newton's round-off in relative terms and, measured there,
#: made the step sequence differ between 1 and 2 ranks
CONCENTRATION_FLOOR = 1e-6
#: accepted steps after a remesh whose error estimate leaves out the cells the remesh changed
#: (until the BDF2 predictor's three previous states are all the new mesh's; Stepper._remesh)
BLIND_STEPS = 3


def _quantised(factor: float) -> float:
    """A step factor rounded down to the grid 2^(k/4): the step sequence then does not follow
    the round-off of the estimate (which differs between 1 and 2 ranks), only its size."""
    return float(2.0 ** (np.floor(4.0 * np.log2(factor)) / 4.0))


class StepFailure(SolveError):
    """The time step was cut below its minimum without a converged step."""

    def __init__(self, stats: dict, message: str):
        super().__init__(message)
        self.stats = stats


class Stepper:
    def __init__(self, problem: CoupledProblem, on_step, on_output, checkpointer=None,
                 checkpoint_every: int = 0, adapt=None):
        """``on_step(t, dt, its)`` after every accepted step; ``on_output(t)`` at output times;
        every ``checkpoint_every`` accepted steps the state goes to ``checkpointer``;
        ``adapt`` (a :class:`heterofem.solver.adapt.Adaptivity`): remesh when it is due after
        an accepted step (before the checkpoint), then ``on_remesh(new problem)``."""
        self.problem = problem
        self.adapt = adapt
        self.on_remesh = None  #: called with the new problem after a remesh
        #: after a remesh: a DG0 marker of the cells it changed, left out of the error estimate
        #: for BLIND_STEPS accepted steps (see _remesh); checkpointed as "blind"
        self.blind: dolfinx.fem.Function | None = None
        self.blind_steps = 0
        self.cfg = problem.domain.cfg.time
        self.on_step, self.on_output = on_step, on_output
        self.checkpointer, self.checkpoint_every = checkpointer, checkpoint_every
        self.progress = None  #: a heterofem.solver.progress.Progress, if any
        self.stats = {"steps": 0, "rejected_steps": 0, "newton_iterations": 0,
                      "dt_min_used_s": None, "dt_max_used_s": None, "end_s": 0.0,
                      "error_rejected_steps": 0, "error_estimate_max": 0.0}
        #: the two previous step sizes, and the state before u_{n-1} (the BDF2 predictor's)
        self.prev_dt: float | None = None
        self.prev2_dt: float | None = None
        self.past = {n: dolfinx.fem.Function(f.function_space, name=f"{n}_past")
                     for n, f in problem.u.items()}
        #: (DG0 function, Expression of q(u), cells, dofs, relative) per quantity under d/dt
        self.rates = self._rate_evaluators() if self.cfg.error_control else []

    # -- checkpoint state -----------------------------------------------------------------------
    def fields(self) -> dict:
        h, u = self.problem.history, self.problem.u
        out = {f"u.{n}": f for n, f in u.items()}
        out.update({f"old.{n}": f for n, f in h.old.items()})
        out.update({f"older.{n}": f for n, f in h.older.items()})
        out.update({f"past.{n}": f for n, f in self.past.items()})
        if self.blind_steps > 0 and self.blind is not None:
            out["blind"] = self.blind
        return out

    def _checkpoint(self, t: float, dt: float) -> None:
        state = {"t_s": t, "dt_s": dt, "prev_dt_s": self.prev_dt, "prev2_dt_s": self.prev2_dt,
                 "stats": self.stats, "blind_steps": self.blind_steps}
        stack = None
        if self.adapt is not None:  # restart across remeshes: the adapted mesh goes along
            state["adapt"] = self.adapt.summary()
            if self.adapt.stats["remeshes"]:
                stack = self.adapt.current_stack
        self.checkpointer.write(state, self.fields(), stack=stack)

    def _move_to(self, stack, adapt_stats: dict) -> None:
        """Restart onto a checkpoint's adapted mesh (solver/checkpoint.py): the problem is
        rebuilt there (its modules keep the ``initial_*`` records of this problem's start,
        as after a remesh); the values are then restored by coordinate."""
        from heterofem.solver.adapt_transfer import rebuild

        new = rebuild(self.problem, stack)
        self.problem = new
        self.past = {n: dolfinx.fem.Function(f.function_space, name=f"{n}_past")
                     for n, f in new.u.items()}
        self.rates = self._rate_evaluators() if self.cfg.error_control else []
        if self.adapt is not None:
            self.adapt.current_stack = stack
            self.adapt.stats.update(adapt_stats)
        if self.on_remesh is not None:
            self.on_remesh(new)

    def resume(self, state: dict, fields: dict, stack=None) -> tuple[float, float]:
        """Load a checkpoint into the problem; returns (t, dt) to continue from (a checkpoint
        without the third state continues with the linear predictor); ``stack``: the adapted
        mesh the checkpoint was written on (None: the config's mesh)."""
        from heterofem.solver.checkpoint import Checkpointer

        if stack is not None:
            self._move_to(stack, state.get("adapt", {}))
        self._set_blind(None, int(state.get("blind_steps", 0)))  # its marker: restored below

        complete = all(name in fields for name in self.fields())
        for name, func in self.fields().items():
            if name in fields:
                Checkpointer.restore(func, *fields[name])
        self.stats = {**self.stats, **state["stats"]}
        self.prev_dt = state["prev_dt_s"]
        self.prev2_dt = state.get("prev2_dt_s") if complete else None
        return state["t_s"], state["dt_s"]

    def _save(self) -> dict[str, np.ndarray]:
        """The stepper's state (the unknowns and the three previous states), to undo a step."""
        return {name: f.x.array.copy() for name, f in self.fields().items()}

    def _load(self, saved: dict[str, np.ndarray]) -> None:
        for name, f in self.fields().items():
            f.x.array[:] = saved[name]

    # -- one step -------------------------------------------------------------------------------
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
        """past <- older <- old <- u."""
        for name, f in self.past.items():
            f.x.array[:] = self.problem.history.older[name].x.array
        self.problem.history.shift(self.problem.u)

    def _solve(self, t: float, step: float, prev_dt: float | None) -> int:
        """Solve for the state at t + step from the history; the Newton iterations."""
        self._set_scheme(step, prev_dt)
        self._set_time(t + step)
        return self.problem.solve()

    def _rate_evaluators(self) -> list:
        """Per quantity q under a time derivative (History.rates): a DG0 function and the
        Expression of q(u), to evaluate q at the midpoints of the cells it is integrated over
        (the cells of its ``at`` measure; never where its material is absent)."""
        domain, u = self.problem.domain, self.problem.u
        n_cells = domain.mesh.topology.index_map(domain.dim)
        all_cells = np.arange(n_cells.size_local + n_cells.num_ghosts, dtype=np.int32)
        out = []
        for q, at, relative in self.problem.history.rates:
            expr = q(u)
            V = dolfinx.fem.functionspace(domain.mesh, ("DG", 0, expr.ufl_shape))
            ids = at.subdomain_id() if at is not None else "everywhere"
            if isinstance(ids, str):
                cells = all_cells
            else:
                ids = ids if isinstance(ids, tuple) else (ids,)
                cells = np.sort(np.concatenate(
                    [domain.stack.cell_tags.find(i) for i in ids])).astype(np.int32)
            out.append((dolfinx.fem.Function(V), dolfinx.fem.Expression(
                expr, V.element.interpolation_points), cells, V.dofmap.list[cells].reshape(-1),
                relative))
        return out

    def _rates_of(self, state: dict[str, np.ndarray] | None = None) -> list[np.ndarray]:
        """Each q at its cells, (cells, components), for a state of the unknowns (arrays by
        name; None: the current one): the state is put into u for the evaluation."""
        current = None
        if state is not None:
            current = self.problem.snapshot()
            self.problem.restore(state)
        values = []
        for f, expr, cells, dofs, _ in self.rates:
            f.interpolate(expr, cells0=cells)
            bs = f.function_space.dofmap.index_map_bs
            values.append(f.x.array.reshape(-1, bs)[dofs].copy())
        if current is not None:
            self.problem.restore(current)
        return values

    def _error_ratio(self, q_c: list, q_p: list, coeff: float) -> float:
        """max over the quantities and cells of coeff |q_c - q_p| / (tol s) (collective); s:
        |q_c| at the cell for a ``relative`` quantity (floored at CONCENTRATION_FLOOR of its
        largest value), else the largest |q_c| (see the module docstring)."""
        comm = self.problem.domain.comm
        size = np.array([np.max(np.abs(c), initial=0.0) for c in q_c])
        comm.Allreduce(MPI.IN_PLACE, size, op=MPI.MAX)
        worst = np.zeros(1)
        for rate, c, p, big in zip(self.rates, q_c, q_p, size):
            if self.blind_steps > 0:  # the cells a remesh changed (see _remesh)
                blind_dofs = self.blind.function_space.dofmap.list[rate[2], 0]
                keep = self.blind.x.array[blind_dofs] < 0.5
                c, p = c[keep], p[keep]
            if big <= 0.0 or c.size == 0:
                continue
            diff = coeff * np.max(np.abs(c - p), axis=1)
            scale = np.maximum(np.max(np.abs(c), axis=1), CONCENTRATION_FLOOR * big) \
                if rate[-1] else big
            worst[0] = max(worst[0], float(np.max(diff / scale)))
        comm.Allreduce(MPI.IN_PLACE, worst, op=MPI.MAX)
        return float(worst[0]) / self.cfg.error_tolerance

    def _predictor_error(self, step: float) -> tuple[float, int]:
        """Milne's estimate of the step just solved: (error ratio, order p)."""
        h, h1, h2 = step, self.prev_dt, self.prev2_dt
        hist = self.problem.history
        q_c = self._rates_of()
        q_n = self._rates_of({n: f.x.array for n, f in hist.old.items()})
        q_n1 = self._rates_of({n: f.x.array for n, f in hist.older.items()})
        if self.cfg.scheme == "bdf2" and h2 is not None:
            q_n2 = self._rates_of({n: f.x.array for n, f in self.past.items()})
            l0 = (h + h1) * (h + h1 + h2) / (h1 * (h1 + h2))  # Lagrange weights at t_n + h
            l1 = -h * (h + h1 + h2) / (h1 * h2)
            l2 = h * (h + h1) / ((h1 + h2) * h2)
            pred = [l0 * a + l1 * b + l2 * c for a, b, c in zip(q_n, q_n1, q_n2)]
            coeff = h * (h + h1) / (h * (h + h1) + (2 * h + h1) * (h + h1 + h2))
            return self._error_ratio(q_c, pred, coeff), 2
        pred = [a + (h / h1) * (a - b) for a, b in zip(q_n, q_n1)]
        return self._error_ratio(q_c, pred, h / (2 * h + h1)), 1

    def _doubled_first_step(self, t: float, step: float) -> tuple[float, int, dict]:
        """The first step (no history to predict from): one BDF1 step of ``step``, checked by
        two of step/2 from the same state. Returns the full step's error ratio, its Newton
        iterations and state; the stepper's state is left as it was."""
        saved = self._save()
        its = self._solve(t, step, None)
        full = self.problem.snapshot()
        self._load(saved)
        half = 0.5 * step
        self._solve(t, half, None)
        self._shift_history()
        self._solve(t + half, half, None)
        err = self._error_ratio(self._rates_of(full), self._rates_of(), 2.0)
        self._load(saved)
        return err, its, full

    def _attempt(self, t: float, step: float) -> tuple[float, int, int, dict]:
        """Solve one step (checked by step doubling at the start, under error control): the
        error ratio, the order p of the estimate, the Newton iterations and the new state."""
        if not self.cfg.error_control:
            its = self._solve(t, step, self.prev_dt)
            return 0.0, 1, its, self.problem.snapshot()
        if self.prev_dt is None:
            err, its, state = self._doubled_first_step(t, step)
            return err, 1, its, state
        its = self._solve(t, step, self.prev_dt)
        err, order = self._predictor_error(step)
        return err, order, its, self.problem.snapshot()

    def _accept(self, t: float, step: float, its: int, err: float, next_out: float,
                tol: float) -> float:
        """Take the state in ``problem.u`` as the step from t by ``step``; the new time."""
        st = self.stats
        self._shift_history()
        t = next_out if abs(next_out - (t + step)) <= tol else t + step
        self._set_time(t)
        self.prev2_dt, self.prev_dt = self.prev_dt, step
        st["steps"] += 1
        st["newton_iterations"] += its
        st["end_s"] = t
        st["error_estimate_max"] = max(st["error_estimate_max"], err)
        st["dt_min_used_s"] = step if st["dt_min_used_s"] is None else min(st["dt_min_used_s"], step)
        st["dt_max_used_s"] = step if st["dt_max_used_s"] is None else max(st["dt_max_used_s"], step)
        self.on_step(t, step, its)
        if abs(t - next_out) <= tol:
            self.on_output(t)
        log.debug("t = %.6g s, dt = %.3g s, %d Newton iterations, error %.3g x tolerance",
                  t, step, its, err)
        return t

    def _next_dt(self, dt: float, step: float, its: int, err: float, order: int) -> float:
        """The next step: the Newton rule (grow after an easy step, cut after a hard one),
        and under error control no more than the estimate allows (module docstring)."""
        cfg = self.cfg
        base = max(dt, step)
        if its <= cfg.target_newton:
            dt = min(base * cfg.grow, cfg.dt_max)
        elif its > 2 * cfg.target_newton:
            dt = max(base * cfg.cut, cfg.dt_min)
        if cfg.error_control:
            factor = _quantised(SAFETY * err ** (-1.0 / (order + 1))) if err > 0.0 else np.inf
            dt = min(dt, float(np.clip(step * factor, step * cfg.cut, base * cfg.grow)))
            dt = max(dt, cfg.dt_min)
        return dt

    def _failed(self, t: float, step: float, exc: SolveError) -> float:
        """The step after a failed Newton solve (dt * cut), or StepFailure below dt_min."""
        cfg = self.cfg
        self.stats["rejected_steps"] += 1
        dt = step * cfg.cut
        if dt < cfg.dt_min:
            raise StepFailure(self.stats,
                f"at t = {t:.6g} s no step converged down to dt = {step:.3g} s (the "
                f"minimum is time.dt_min_s = {cfg.dt_min:.3g} s); last error: {exc}. "
                "Outputs up to this time are kept.") from None
        log.warning("t = %.6g s: step dt = %.3g s failed (%s); retrying with %.3g s",
                    t, step, str(exc).split(";")[0], dt)
        return dt

    def _too_inaccurate(self, t: float, step: float, err: float, order: int) -> float | None:
        """The step to retry with when the error estimate exceeds the tolerance, else None
        (also at dt_min: that step is accepted with a warning)."""
        cfg = self.cfg
        if err <= 1.0:
            return None
        if step <= cfg.dt_min * (1.0 + 1e-9):
            log.warning("t = %.6g s: error estimate %.3g x time.error_tolerance at the minimum "
                        "step dt = %.3g s; accepted", t, err, step)
            return None
        self.stats["error_rejected_steps"] += 1
        factor = float(np.clip(_quantised(SAFETY * err ** (-1.0 / (order + 1))), MIN_FACTOR,
                               cfg.cut))
        dt = max(step * factor, cfg.dt_min)
        log.info("t = %.6g s: step dt = %.3g s rejected (error estimate %.3g x tolerance); "
                 "retrying with %.3g s", t, step, err, dt)
        return dt

    def _remesh(self, t: float) -> None:
        """Move the state, its history and the third state onto an adapted mesh
        (solver/adapt.py) and go on with the problem built there.

        For BLIND_STEPS accepted steps the error estimate leaves out the cells the remesh
        changed: there the predictor's previous states are the old mesh's representation
        interpolated, the corrector the new mesh's solution, and q_c - q_p measures the
        difference between the two meshes' discrete solutions, which does not shrink with the
        step (measured: the step cut to dt_min after the first remesh of
        problems/tio2_vo2_tio2_001_growth_adaptive_2d.toml). The other cells are checked as
        always; after BLIND_STEPS steps all previous states are on the new mesh."""
        new, moved = self.adapt.remesh(self.problem, {"past": self.past})
        if new is self.problem:  # the same mesh: nothing moved
            return
        self._set_blind(new, BLIND_STEPS, self.adapt.changed)
        self.problem, self.past = new, moved["past"]
        self.rates = self._rate_evaluators() if self.cfg.error_control else []
        self._set_time(t)
        if self.on_remesh is not None:
            self.on_remesh(new)

    def _set_blind(self, problem, steps: int, changed: np.ndarray | None = None) -> None:
        """The marker of the cells a remesh changed (on ``problem``'s mesh; None: the
        current one), for ``steps`` more accepted steps; ``changed``: its values by local
        cell (None: zero, a checkpoint restores them)."""
        self.blind_steps = steps
        self.blind = None
        if steps > 0:
            mesh = (problem or self.problem).domain.mesh
            V = dolfinx.fem.functionspace(mesh, ("DG", 0))
            self.blind = dolfinx.fem.Function(V, name="blind")
            if changed is not None:
                self.blind.x.array[V.dofmap.list[:, 0]] = changed.astype(float)
                self.blind.x.scatter_forward()  # the owner's mark on the ghosts

    def run(self, resume_from: tuple | None = None) -> dict:
        """March to the end time; ``resume_from`` = a checkpoint's (state, fields[, adapted
        stack mesh])."""
        cfg = self.cfg
        end = cfg.end_s
        tol = 1e-12 * end
        outputs = sorted({t for t in cfg.output_times_s if t > tol} | {end})
        if resume_from is None:
            self.on_output(0.0)  # the initial state is always written
            self._shift_history()  # old = older = the initial state
            self._shift_history()
            t, dt = 0.0, min(cfg.dt_initial_s, cfg.dt_max)
        else:
            t, dt = self.resume(*resume_from)
            self._set_time(t)
        st = self.stats
        while t < end - tol:
            next_out = next(o for o in outputs if o > t + tol)
            step = min(dt, cfg.dt_max, next_out - t)
            saved = self._save()
            try:
                err, order, its, state = self._attempt(t, step)
            except SolveError as exc:
                self._load(saved)
                self._set_time(t)
                dt = self._failed(t, step, exc)
                continue
            retry = self._too_inaccurate(t, step, err, order)
            self._load(saved)
            if retry is not None:
                self._set_time(t)
                dt = retry
                continue
            self.problem.restore(state)
            t = self._accept(t, step, its, err, next_out, tol)
            dt = self._next_dt(dt, step, its, err, order)
            if self.blind_steps > 0:
                self.blind_steps -= 1
            if self.adapt is not None and self.adapt.due(st["steps"]) and t < end - tol:
                self._remesh(t)
            if self.checkpointer is not None and self.checkpoint_every \
                    and st["steps"] % self.checkpoint_every == 0:
                self._checkpoint(t, dt)
            if self.progress is not None:
                self.progress.update(t, f"{st['steps']} steps, dt = {step:.3g} s")
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
