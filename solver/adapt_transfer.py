"""Moving a transient state onto an adapted mesh (solver/adapt.py).

Every unknown AND its BDF history (the previous states ``old``, ``older``, and the stepper's
third state for the error estimate) is interpolated onto the new mesh
(``interpolate_nonmatching``: point values of the old field at the new nodes). Then

(a) vacancies: in each solid layer the inventory, integral of c(mu, phi, xi), of every state
    (u, old, older) is made equal to that state's inventory on the old mesh to 1e-10
    relative, by a uniform shift of mu on the layer's own nodes (those touching no other
    solid layer; a Dirichlet node keeps its value): c grows monotonically with mu, so the
    shift is the root of one scalar equation (secant method on the log of the inventory).
    Interpolation alone changes an inventory by the interpolation error of c, an exponential
    of mu, where the mesh coarsens (measured: up to 0.3 % on the vacancy stack of
    tests/verification/test_adapt.py); BDF's discrete conservation (the mu rows sum to the
    change of the inventory) then holds across the remesh as it does across a step.
(b) the phase field xi is clipped to [0, 1]: P1 point values stay in the range of the
    nodal values, but a P2 field overshoots between its nodes at a sharp front (by more
    than 1e-3 in the test), and point values taken there leave [0, 1].
(c) P, phi and the others: plain interpolation (phi is the next Newton solve's start).
(d) interface kinetics (mu = mu_c + chi g, solver/physics/interface_kinetics.py): the broken
    mu is moved, not mu_c and g apart: where the new mesh fixes g = 0 (every node off the
    kinetic facets) its interpolated value goes into mu_c on the colour-1 side
    (InterfaceKinetics.fold); the shift of (a) moves each layer's side of its kinetic facets
    as well (mu_c and g there, InterfaceKinetics.shift_at_facets). The refined mesh keeps the
    facet tags (meshes/refine.py), so the new problem's jump is free on the same facets.
"""

from __future__ import annotations

import logging

import numpy as np

from heterofem.solver.dolfinx_env import MPI, dolfinx

log = logging.getLogger("heterofem")

#: unknowns that are phase fractions, kept in [0, 1]
BOUNDED = ("xi",)
#: the relative inventory error the shift of mu is solved to (1e-10 promised; the site
#: fraction 0.5 (1 - tanh) of a dilute layer (theta ~ 1e-6) carries ~1e-11 relative round-off,
#: the floor of what any correction reaches there)
INVENTORY_RTOL = 1e-12
#: secant iterations at most (each one evaluates every layer's inventory once)
MAX_SECANT = 12


def rebuild(problem, stack):
    """The problem of ``problem``'s config and materials on ``stack``'s mesh, built as run.py
    builds it (the JIT cache makes the forms cheap); the modules keep what they recorded at
    the start (their ``initial_*`` attributes: initial inventories, deltas)."""
    from heterofem.solver.coupling import CoupledProblem, active_physics
    from heterofem.solver.domain import Domain

    old = problem.domain
    domain = Domain(old.cfg, stack, old.materials)
    modules = active_physics(domain)
    for m in modules:
        before = problem.modules.get(m.name)
        if before is None:
            continue
        for key, value in vars(before).items():
            if key.startswith("initial_") and not callable(value):
                setattr(m, key, value)
    return CoupledProblem(domain, modules, transient=problem.history is not None)


def _states(problem) -> dict[str, dict]:
    """The problem's states by name: "u", and with a history "old", "older"."""
    out = {"u": problem.u}
    if problem.history is not None:
        out.update(old=problem.history.old, older=problem.history.older)
    return out


def transfer_state(old, new, extra: dict) -> tuple[dict, float, float]:
    """Interpolate ``old``'s states into ``new``'s (and each function of ``extra``, a dict of
    name -> {unknown: function}, onto new functions), apply (a)-(c) of the module docstring.
    Returns (the moved ``extra``, the largest relative change of a layer's inventory by the
    interpolation, and what is left of it after the correction; 0, 0 without vacancies).
    Collective."""
    cmap = new.domain.mesh.topology.index_map(new.domain.dim)
    cells = np.arange(cmap.size_local + cmap.num_ghosts, dtype=np.int32)
    data = {n: dolfinx.fem.create_interpolation_data(V, old.spaces[n], cells, padding=1e-10)
            for n, V in new.spaces.items()}

    def move(src: dict, dst: dict) -> None:
        for n, f in dst.items():
            f.interpolate_nonmatching(src[n], cells, data[n])
            f.x.scatter_forward()
            if n in BOUNDED:
                np.clip(f.x.array, 0.0, 1.0, out=f.x.array)

    before, after = _states(old), _states(new)
    kinetics = new.modules["vacancies"].kinetics if "vacancies" in new.modules else None
    for key in after:
        move(before[key], after[key])
        if kinetics is not None:  # (d) the broken mu in the new mesh's representation
            kinetics.fold(after[key])
    moved = {}
    for key, funcs in extra.items():
        moved[key] = {n: dolfinx.fem.Function(new.spaces[n], name=f.name)
                      for n, f in funcs.items()}
        move(funcs, moved[key])
        if kinetics is not None:
            kinetics.fold(moved[key])
    change = left = 0.0
    if "vacancies" in new.modules and "mu" in new.u:
        for key in after:
            made, kept = conserve_inventory(old.modules["vacancies"], before[key], new,
                                            after[key])
            change, left = max(change, made), max(left, kept)
    return moved, change, left


def _own_dofs(new, layers: list[str]) -> dict[str, np.ndarray]:
    """Per layer, mu's local dofs that touch no other solid layer and carry no Dirichlet
    value (:meth:`Domain.own_dofs`, partition-independent); all of the layer's non-Dirichlet
    dofs when it has no such dof on any rank."""
    V = new.spaces["mu"]
    domain = new.domain
    solid = [lay.name for lay in new.modules["vacancies"].solid]
    fixed = np.concatenate([bc.dof_indices()[0] for bc in new.bcs["mu"]] or
                           [np.zeros(0, np.int32)])
    touch = domain.layer_dof_markers(V, solid)
    own = domain.own_dofs(V, solid, fixed, touch)
    out = {}
    for name in layers:
        # the same decision on every rank (allreduced), so the collective marker is safe here
        if domain.comm.allreduce(int(own[name].size), op=MPI.SUM) == 0:
            own[name] = np.flatnonzero(touch[name] & ~domain.dof_marker(V, fixed)
                                       ).astype(np.int32)
        out[name] = own[name]
    return out


def conserve_inventory(vac_old, state_old: dict, new, state_new: dict) -> tuple[float, float]:
    """Shift mu per solid layer (:func:`_own_dofs`) so that each layer's inventory of
    ``state_new`` (the module's own :meth:`inventory`) equals that of ``state_old`` on the old
    mesh. The root of ln(N_L(s) / N_L,old) in the shift s is found by the secant method for
    all layers at once (their own dofs do not overlap; ln N is near-linear in s, slope
    (1 - theta)/kT, so a few evaluations do). Returns the largest relative change
    interpolation had made and the largest left after the correction. Collective (the
    inventories are allreduced: every rank takes the same shifts)."""
    vac = new.modules["vacancies"]
    target = vac_old.inventory(state_old)
    layers = [name for name, value in target.items() if value > 0.0]
    mu = state_new["mu"]
    base = mu.x.array.copy()
    dofs = _own_dofs(new, layers)
    jump = state_new.get("mu_jump")  # interface kinetics: the layer's side of its facets too
    base_jump = None if jump is None else jump.x.array.copy()

    def errors(shifts: dict) -> dict:
        mu.x.array[:] = base
        for name in layers:
            mu.x.array[dofs[name]] += shifts[name]
        mu.x.scatter_forward()
        if jump is not None:
            jump.x.array[:] = base_jump
            vac.kinetics.shift_at_facets(state_new, shifts)
        now = vac.inventory(state_new)
        return {name: float(np.log(now[name] / target[name])) for name in layers}

    s0 = dict.fromkeys(layers, 0.0)
    e0 = errors(s0)
    change = max([abs(np.expm1(e)) for e in e0.values()], default=0.0)
    s1 = {name: -vac.kT * e0[name] for name in layers}  # the dilute limit's exact shift
    best = (max([abs(e) for e in e0.values()], default=0.0), s0)
    for _ in range(MAX_SECANT):
        if best[0] <= INVENTORY_RTOL:
            break
        e1 = errors(s1)
        worst = max(abs(e) for e in e1.values())
        if worst < best[0]:
            best = (worst, dict(s1))
        step = {name: (-e1[name] * (s1[name] - s0[name]) / (e1[name] - e0[name])
                       if e1[name] != e0[name] else 0.0) for name in layers}
        s0, e0 = s1, e1
        s1 = {name: s1[name] + step[name] for name in layers}
    errors(best[1])  # the best shifts found (round-off may stop short of INVENTORY_RTOL)
    log.debug("adapt: inventories corrected (largest change by interpolation %.3g, left %.3g)",
              change, best[0])
    return float(change), float(np.expm1(best[0]))
