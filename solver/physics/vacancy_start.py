"""The exact initial vacancy state with a continuous mu (docs/model.md, "Initial state").

Each solid layer L starts from its own concentration c_L,0 = c(mu_L, phi_0): mu_L from the
layer's delta at the initial potential phi_0, or the uniform [initial] mu_eV
(:meth:`VacancyStart.mu_broken`, cell by cell). Where these jump across an interface, a
continuous P1 mu cannot hold them; its nodal start (the smaller value at a shared node,
Vacancies.initial_mu) puts O(h) too few vacancies into the cells next to every interface.
At an interface with kinetics mu is broken and each side's start is exact already (its
patches are left alone: SKIP_RTOL); wherever mu is continuous :meth:`VacancyStart.project`
makes the start conservative, and locally so:

1. per ordered pair of layers (L, M): the band = L's own nodes (touching no other solid
   layer, no fixed_mu facet) in an L cell with a node L shares with M; the patch = the L
   cells touching the band or those shared nodes. The band's mu is shifted by one constant,
   the root (scipy.optimize.brentq) of ln N_patch(s) - ln N_patch,exact (N grows
   monotonically with s): the patch holds its exact amount, so what the interface node
   misses is put back within one cell of it;
2. a shift of all of L's own nodes then takes up what overlapping patches (thin layers,
   corners) left: every layer's inventory is the exact one to round-off.

Why local (measured on the 1D stack of the FiPy comparison, docs/model.md): the error of a
later inventory is the initial mass error weighted by a smooth dual solution; a mass error
balanced within O(h) of the interface contributes O(h^2), one balanced over the whole layer
(a uniform shift of the layer) O(h), like the uncorrected start. The local projection gives
the layer inventories order ~1.95; the uniform one ~0.9 and not monotone.

A layer without an own node on any rank (one cell whose other node is shared or a fixed_mu
node) cannot be shifted: it keeps the nodal start's inventory (a warning).
"""

from __future__ import annotations

import logging

import numpy as np
import ufl
from scipy.optimize import brentq

from heterofem.solver.dolfinx_env import MPI, dolfinx
from heterofem.solver.physics.interface_kinetics import JUMP

log = logging.getLogger("heterofem")

#: brentq's absolute tolerance on the shift [eV]: ln N changes by at most dS / kT (dilute), so
#: 1e-14 eV leaves < 1e-12 relative in N for kT > 0.01 eV
SHIFT_XTOL_EV = 1e-14
#: a patch or layer whose integral is this close (relative) to the exact one is not shifted:
#: those next to an interface with kinetics, whose broken mu holds each side exactly
SKIP_RTOL = 1e-13
#: bracket growth: start at +-BRACKET_KT kT around the dilute estimate, doubling
BRACKET_KT = 1.0
MAX_BRACKET = 60


class VacancyStart:
    """The layer-wise initial mu of the vacancies module ``vac`` (see the module docstring)."""

    def __init__(self, vac):
        self.vac = vac
        d = vac.domain
        cfg = d.cfg
        logits = {}
        for name, th in vac.theta0.items():
            logits[name] = float(np.log(th) if vac.dilute else np.log(th / (1.0 - th)))
        self.from_delta = d.cellwise({n: 1.0 for n in logits}, "start_from_delta")
        self.logit = d.cellwise(logits, "start_logit")
        mu_u = cfg.initial.mu_eV
        self.mu_uniform = float(mu_u) if mu_u is not None else 0.0

    # -- the layer-wise initial mu -------------------------------------------------------------
    def mu_broken(self, st):
        """mu_L of each layer, cell by cell (UFL, discontinuous across interfaces): from the
        layer's delta at the potential of the state dict ``st``, else [initial] mu_eV."""
        vac = self.vac
        w = self.from_delta
        own = vac.E_f + 2.0 * st["phi"] + vac.kT * self.logit
        return w * own + (1.0 - w) * self.mu_uniform

    def exact_state(self, u) -> dict:
        """``u`` with mu replaced by the layer-wise initial mu (for inventories, deltas; with
        interface kinetics mu_c = mu_broken - chi g, so that mu_c + chi g is mu_broken)."""
        mu = self.mu_broken(u)
        if JUMP in u:
            mu = mu - self.vac.kinetics.chi * u[JUMP]
        return {**u, "mu": mu}

    # -- (a): the conservative projection ------------------------------------------------------
    def project(self, u) -> dict[str, float]:
        """Make every layer's inventory of the nodal start the exact one, locally: per pair of
        layers (L, M) the own nodes of L next to the nodes L shares with M (its band) are
        shifted by one constant so that the L cells touching the band or those shared nodes
        (the patch) hold their exact amount; then a shift of all of L's own nodes takes up
        what overlapping patches left (round-off where they do not overlap). Returns the
        relative change of each layer's inventory (what the nodal start missed). Collective
        (the integrals are allreduced and the nodes decided on their owners). Four compiled
        forms in all (:class:`_Weighted`): a DG0 weight picks the patch or the layer."""
        vac, d = self.vac, self.vac.domain
        mu = u["mu"]
        V = mu.function_space
        names = [lay.name for lay in vac.solid]
        touch = d.layer_dof_markers(V, names)
        own = self._own_dofs(V, touch)
        exact_state = self.exact_state(u)
        layers = _Weighted(vac, u, exact_state)
        before = {n: layers.integral(d.layer_cells(n)) for n in names}
        pairs = []  # (layer, band dofs, patch cells) of every pair of layers that touch
        for n in names:
            for m in names:
                if m != n:
                    band, patch = _band(V, d, n, touch[n] & touch[m], own[n])
                    if patch is not None:
                        pairs.append((n, m, band, patch))
        if pairs:
            union = np.unique(np.concatenate([p for *_, p in pairs])).astype(np.int32)
            patches = _Weighted(vac, u, exact_state, union)
        for n, m, band, patch in pairs:
            target = patches.integral(patch, exact=True)
            try:
                _shift_to(mu, band, lambda: patches.integral(patch), target, vac.kT)
            except RuntimeError:  # no root (a saturated patch): step 2 alone
                log.debug("vacancies: no local shift for %s next to %s", n, m)
        made = {}
        for n in names:
            cells = d.layer_cells(n)
            target = layers.integral(cells, exact=True)
            if target <= 0.0:
                continue
            made[n] = target / before[n] - 1.0 if before[n] > 0.0 else float("inf")
            if d.comm.allreduce(int(own[n].size), op=MPI.SUM) == 0:
                log.warning("vacancies: layer %r has no node of its own (one cell thick?): "
                            "its initial inventory keeps the nodal start's error", n)
                continue
            _shift_to(mu, own[n], lambda c=cells: layers.integral(c), target, vac.kT)
        log.debug("vacancies: initial inventories corrected by %s (relative)", made)
        return made

    def target_inventories(self, u) -> dict[str, float]:
        """The exact initial inventories [m^-2] (the module's :meth:`inventory` of
        :meth:`exact_state`)."""
        return self.vac.inventory(self.exact_state(u))

    def _own_dofs(self, V, touch: dict) -> dict[str, np.ndarray]:
        """Per solid layer, the local dofs of V that touch the layer, no other solid layer
        and no fixed_mu facet (:meth:`Domain.own_dofs`)."""
        d = self.vac.domain
        fixed = [d.facet_dofs(V, name) for name, bc in d.cfg.boundary.items()
                 if bc.vacancy == "fixed_mu"]
        pinned = np.concatenate(fixed) if fixed else np.zeros(0, np.int32)
        return d.own_dofs(V, [lay.name for lay in self.vac.solid], pinned, touch)


class _Weighted:
    """Inventory integrals of the state ``u`` and of the exact start over chosen cells, as
    Vacancies.inventory integrates them (the lumped rule with the fitted flux), from two
    compiled forms: a DG0 weight (1 on the chosen cells) times the concentration, over the
    solid layers or over the cells ``region`` (local cell indices) alone."""

    def __init__(self, vac, u, exact_state, region: np.ndarray | None = None):
        from heterofem.solver import fitted_flux

        d = vac.domain
        self.comm = d.comm
        self.weight = dolfinx.fem.Function(dolfinx.fem.functionspace(d.mesh, ("DG", 0)))
        dx = d.dx
        c_u, c_exact = vac.c_state(u), vac.c_state(exact_state)
        if d.cfg.physics.vacancy_flux == "fitted":
            dx = d.dx_at(1)
            c_u, c_exact = fitted_flux.lumped_c(vac, u), fitted_flux.lumped_c(vac, exact_state)
        if region is None:
            measure = dx(tuple(d.stack.layer_ids[lay.name] for lay in vac.solid))
        else:
            tags = dolfinx.mesh.meshtags(d.mesh, d.dim, region,
                                         np.ones(region.size, dtype=np.int32))
            measure = ufl.Measure("dx", domain=d.mesh, subdomain_data=tags,
                                  metadata=dx.metadata())(1)
        self.forms = {False: dolfinx.fem.form(self.weight * c_u * measure),
                      True: dolfinx.fem.form(self.weight * c_exact * measure)}

    def integral(self, cells: np.ndarray, exact: bool = False) -> float:
        """The integral over the local cells ``cells`` (owned and ghost) summed over ranks."""
        w = self.weight
        w.x.array[:] = 0.0
        w.x.array[w.function_space.dofmap.list[cells].reshape(-1)] = 1.0
        return _assemble(self.forms[exact], self.comm)


def _band(V, d, layer: str, shared: np.ndarray, own: np.ndarray):
    """The own dofs of ``layer`` in a cell of the layer with a ``shared`` dof (boolean per
    local dof), and the local indices of the layer's cells touching those or the shared
    dofs; (empty, None) when no rank has such a dof."""
    cells = d.layer_cells(layer)
    dofs = V.dofmap.list[cells]
    near = d.dof_marker(V, dofs[shared[dofs].any(axis=1)].reshape(-1))
    band = own[near[own]]
    if d.comm.allreduce(int(band.size), op=MPI.SUM) == 0:
        return band, None
    inband = np.zeros(near.size, bool)
    inband[band] = True
    inband = d.dof_marker(V, np.flatnonzero(inband))
    return band, np.unique(cells[(inband | shared)[dofs].any(axis=1)]).astype(np.int32)


def _shift_to(mu, dofs: np.ndarray, integral, target: float, kT: float) -> None:
    """Add one constant to mu at ``dofs`` (the same on every rank) so that ``integral()``
    (collective, increasing in it) equals ``target``: brentq on the log of their ratio."""
    if target <= 0.0:
        return
    base = mu.x.array[dofs].copy()

    def err(s):
        mu.x.array[dofs] = base + s
        return float(np.log(integral() / target))

    e0 = err(0.0)
    if abs(e0) <= SKIP_RTOL:  # exact already (a kinetic interface's patch): left as it is
        return
    lo, hi = _bracket(err, -kT * e0, BRACKET_KT * kT)
    err(brentq(err, lo, hi, xtol=SHIFT_XTOL_EV, rtol=4 * np.finfo(float).eps))


def _assemble(form, comm) -> float:
    return comm.allreduce(float(dolfinx.fem.assemble_scalar(form)), op=MPI.SUM)


def _bracket(f, guess: float, width: float) -> tuple[float, float]:
    """An interval around ``guess`` where the increasing ``f`` changes sign."""
    lo, hi = guess - width, guess + width
    flo, fhi = f(lo), f(hi)
    for _ in range(MAX_BRACKET):
        if flo <= 0.0 <= fhi:
            return lo, hi
        width *= 2.0
        if flo > 0.0:
            lo = lo - width
            flo = f(lo)
        else:
            hi = hi + width
            fhi = f(hi)
    raise RuntimeError("vacancies: no shift of mu reaches a layer's initial inventory")
