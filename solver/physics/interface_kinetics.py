"""Vacancy transfer across interfaces at a finite rate: a mu that jumps there.

Representation (docs/model.md "Interface kinetics"): duplicated interface dofs, written as a
second P1 unknown. The layers are coloured 0/1 so that every kinetic interface separates two
colours and every equilibrium interface joins two layers of one colour (the colour flips
across each kinetic facet; colour 1 is the side without the fastest diffusivity). Then

    mu = mu_c + chi g,

mu_c the continuous unknown "mu", chi the DG0 indicator of the colour-1 layers and g the
unknown "mu_jump", free only at the nodes of kinetic facets (fixed to 0 elsewhere). In every
layer mu is P1; across a kinetic facet mu_1 - mu_0 = g; across an equilibrium facet mu is
continuous. The test space is the same broken space, v = v_c + chi v_g: the equation of
mu_c is the layers' equation with v_c, that of g the one with chi v_g plus the transfer flux

    int_I J_10 v_g dS,   J_10 = 2 k c_s sinh(g / 2kT)  (butler_volmer),  k c_s g / kT  (linear),

J_10 the flux from the colour-1 side into the colour-0 side, k = k0 exp(-Ea/kT) and
c_s = sqrt(c_1 c_0 (1 - theta_1)(1 - theta_0)) (dilute: sqrt(c_1 c_0)), the mass-action
forward/backward rates with symmetry factor 1/2. k = 0 decouples the layers exactly; k -> inf
forces g -> 0, the continuous mu.

Works with the phase field (1D/2D/3D), mesh features (:meth:`InterfaceKinetics.check_facets`),
adaptive meshes (:meth:`InterfaceKinetics.fold`, :meth:`InterfaceKinetics.shift_at_facets`,
called by solver/adapt_transfer.py) and the Picard preconditioner (solver/picard.py).
"""

from __future__ import annotations

import numpy as np
import ufl

from heterofem.solver import units
from heterofem.solver.dolfinx_env import dolfinx
from heterofem.solver.physics.kinetics_config import kinetic_facet, kinetic_interfaces

JUMP = "mu_jump"  #: name of the jump unknown


class InterfaceKinetics:
    """The jump unknown's colouring, boundary conditions, residual terms and initial state
    for a :class:`~heterofem.solver.physics.vacancies.Vacancies` module ``vac``. Without
    kinetic interfaces (:attr:`active` false) it is inert: mu is the unknown "mu", one
    equation, no extra unknown (the forms are those of the continuous mu, unchanged)."""

    def __init__(self, domain, vac):
        self.domain, self.vac = domain, vac
        cfg = domain.cfg
        self.interfaces = kinetic_interfaces(cfg) + self._touching()
        self.active = bool(self.interfaces)
        if not self.active:
            return
        kinetic = {ki.facet for ki in self.interfaces}
        names = [lay.name for lay in cfg.layers]
        self.colour = {names[0]: 0}
        for lower, upper in zip(names, names[1:]):
            self.colour[upper] = self.colour[lower] ^ (f"{lower}/{upper}" in kinetic)
        self.check_facets()
        # g on the slower side: where it sits on the faster one, the rows of mu_c and g at an
        # interface node both carry that side's large flux terms and differ by the slow side's
        # small ones, and the Newton solve loses digits in their difference (measured on the
        # TiO2/VO2 stack, VO2's D 15x TiO2's: Newton's residual floor 2.3e-12 with g in the
        # template, 1.2e-12 with g in the TiO2 layers; docs/model.md "Interface kinetics")
        fastest = {c: max((max(d) for n, d in vac.diffusivity_m2_s.items()
                           if self.colour[n] == c), default=0.0) for c in (0, 1)}
        if fastest[1] > fastest[0]:
            self.colour = {n: 1 - c for n, c in self.colour.items()}
        self.chi = domain.cellwise({n: 1.0 for n, c in self.colour.items() if c == 1},
                                   "mu_jump_side")
        #: scaled transfer rate k L / D_ref per kinetic facet
        self.k_hat = {ki.facet: ki.k0_m_s * float(np.exp(-ki.Ea_eV / vac.kT)) * units.NM
                      / vac.D_ref for ki in self.interfaces}
        self.rates_m_s = {ki.facet: ki.k0_m_s * float(np.exp(-ki.Ea_eV / vac.kT))
                          for ki in self.interfaces}
        self.one = domain.cellwise({n: 1.0 for n in names}, "one")

    def _layer_facets(self) -> list[tuple[str, str, str]]:
        """(facet, layer, layer) of the mesh's facet sets between two solid layers."""
        solid = {lay.name for lay in self.vac.solid}
        out = []
        for name in self.domain.stack.facet_ids:
            parts = name.split("/")
            if len(parts) == 2 and set(parts) <= solid and parts[0] != parts[1]:
                out.append((name, parts[0], parts[1]))
        return out

    def _touching(self) -> list:
        """The kinetic facets between layers that are not neighbours in [[layers]] but touch in
        the mesh (mesh features: a step taller than the layer above; a mesh file)."""
        cfg = self.domain.cfg
        order = [lay.name for lay in cfg.layers]
        layers = {lay.name: lay for lay in cfg.layers}
        out = []
        for facet, a, b in self._layer_facets():
            if abs(order.index(a) - order.index(b)) != 1:
                ki = kinetic_facet(cfg, layers[a], layers[b])
                out += [ki] if ki is not None else []
        return out

    def check_facets(self) -> None:
        """Every facet between two solid layers must be kinetic exactly where the colouring
        flips (the colours follow [[layers]]; with mesh features or a mesh file other layers
        may touch); a ConfigError naming the mesh key otherwise."""
        from heterofem.solver.config import ConfigError

        kinetic = {ki.facet for ki in self.interfaces}
        cfg = self.domain.cfg
        key = "mesh.file" if cfg.mesh.file is not None else "mesh.features"
        problems = []
        for facet, a, b in self._layer_facets():
            is_kinetic, flips = facet in kinetic, self.colour[a] != self.colour[b]
            if is_kinetic != flips:
                problems.append((key, f"layers {a!r} and {b!r} touch across the facet {facet!r}, "
                                 f"{'a kinetic' if is_kinetic else 'an equilibrium'} facet, "
                                 "but the layers' other facets put them on "
                                 f"{'the same side' if not flips else 'two sides'} of the jump of "
                                 "mu (docs/model.md \"Interface kinetics\": two colours); change "
                                 "the features or the [interfaces] rates"))
        if problems:
            raise ConfigError(problems)

    # -- the broken mu -----------------------------------------------------------------------
    def mu(self, u):
        """mu = mu_c + chi g (UFL); the unknown "mu" when inactive."""
        return u["mu"] + self.chi * u[JUMP] if self.active else u["mu"]

    def test_function(self, v):
        """v = v_c + chi v_g: the broken test space."""
        return v["mu"] + self.chi * v[JUMP] if self.active else v["mu"]

    def unknowns(self, degree: int) -> list:
        """The jump unknown (none when inactive)."""
        from heterofem.solver.physics.base import Unknown

        return [Unknown(JUMP, degree, "eV", "jump of mu across kinetic interfaces")] \
            if self.active else []

    def split(self, F, u, v) -> dict:
        """The residual of the broken test function as the two equations, with the transfer
        flux on the kinetic facets in the jump's ({"mu": F} when inactive)."""
        if not self.active:
            return {"mu": F}
        zero = ufl.zero()
        F_mu = ufl.replace(F, {v[JUMP]: zero})
        F_g = ufl.replace(F, {v["mu"]: zero})
        dS = self.domain.dS
        for ki in self.interfaces:
            tag = self.domain.stack.facet_ids[ki.facet]
            F_g += self.transfer_flux(u, ki) * v[JUMP]("+") * dS(tag)
        # every jump dof in the pattern (most are fixed: their Dirichlet rows need a diagonal)
        nothing = dolfinx.fem.Constant(self.domain.mesh, 0.0)
        F_g += nothing * u[JUMP] * v[JUMP] * self.domain.dx
        return {"mu": F_mu, JUMP: F_g}

    def sides(self, expr):
        """(colour-1 side, colour-0 side) values of a cell-wise expression on an interior
        facet of a kinetic interface."""
        a, b = self.chi("+"), self.chi("-")
        return a * expr("+") + b * expr("-"), (1.0 - a) * expr("+") + (1.0 - b) * expr("-")

    def transfer_flux(self, u, ki):
        """Scaled flux J_10 from the colour-1 into the colour-0 side (module docstring)."""
        vac = self.vac
        theta1, theta0 = self.sides(vac.theta_state(u))
        n1, n0 = self.sides(vac.n_hat)
        c_s2 = n1 * theta1 * n0 * theta0
        if not vac.dilute:
            c_s2 = c_s2 * (1.0 - theta1) * (1.0 - theta0)
        c_s = ufl.sqrt(c_s2)
        g = u[JUMP]("+")
        k = self.k_hat[ki.facet]
        if ki.law == "linear":
            return k * c_s * g / vac.kT
        return 2.0 * k * c_s * ufl.sinh(0.5 * g / vac.kT)

    # -- boundary conditions and initial state -------------------------------------------------
    def free_mask(self, V, fixed_facets: list[str], inactive: np.ndarray) -> np.ndarray:
        """Local dofs of the jump space where g is free: on a kinetic facet, not on a fixed-mu
        facet, not inactive (:meth:`Domain.dof_marker`: independent of the partition)."""
        d = self.domain
        on = [d.facet_dofs(V, ki.facet) for ki in self.interfaces]
        off = [d.facet_dofs(V, name) for name in fixed_facets] + [inactive]
        return (d.dof_marker(V, np.concatenate(on)) & ~d.dof_marker(V, np.concatenate(off)))

    def dirichlet(self, spaces: dict, inactive: np.ndarray) -> dict:
        """g = 0 wherever it is not free (``inactive``: the mu dofs outside the solid)."""
        if not self.active:
            return {}
        V = spaces[JUMP]
        fixed = [n for n, bc in self.domain.cfg.boundary.items() if bc.vacancy == "fixed_mu"]
        self.free = self.free_mask(V, fixed, inactive)
        dofs = np.flatnonzero(~self.free).astype(np.int32)
        return {JUMP: [dolfinx.fem.dirichletbc(dolfinx.default_scalar_type(0.0), dofs, V)]}

    def initialise(self, u, per_layer: dict) -> None:
        """Each layer's own initial mu (per_layer: layer -> UFL expression) on the broken
        space: at the free nodes mu_c takes the colour-0 side's value, g the difference, so
        every layer holds its initial state exactly. Nothing when inactive."""
        if not self.active:
            return
        d, V = self.domain, u["mu"].function_space
        side = {c: d.layerwise_nodal(V, {n: e for n, e in per_layer.items()
                                         if self.colour[n] == c}, name="mu") for c in (0, 1)}
        free = self.free
        g = u[JUMP]
        g.x.array[:] = 0.0
        u["mu"].x.array[free] = side[0].x.array[free]
        g.x.array[free] = side[1].x.array[free] - side[0].x.array[free]

    # -- adaptive meshes (solver/adapt_transfer.py) ---------------------------------------------
    def _colour_nodes(self, V, colour: int) -> np.ndarray:
        """Whether each local dof of V lies on a cell of a layer of that colour."""
        d = self.domain
        mask = np.zeros(V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts, bool)
        for name, c in self.colour.items():
            if c == colour:
                mask[V.dofmap.list[d.layer_cells(name)].reshape(-1)] = True
        return mask

    def fold(self, state: dict) -> None:
        """After a non-matching interpolation of (mu_c, g) onto a new mesh, the broken mu in
        this mesh's representation: g is the old jump's P1 interpolant, also nonzero at new
        nodes next to a kinetic facet where g is fixed to 0 here; at those nodes the broken
        mu's value mu_c + chi g goes into mu_c and g is set to 0. At the free nodes both are
        kept: a kinetic facet is a facet of both meshes, and the interpolants along it are
        the old traces of either side. Nothing when inactive."""
        if not self.active or JUMP not in state:
            return
        mu, g = state["mu"], state[JUMP]
        fixed = ~self.free
        add = fixed & self._colour_nodes(g.function_space, 1)
        mu.x.array[add] += g.x.array[add]
        g.x.array[fixed] = 0.0
        mu.x.scatter_forward()
        g.x.scatter_forward()

    def shift_at_facets(self, state: dict, shifts: dict) -> None:
        """Add each layer's mu shift (layer -> eV) at the free nodes of its kinetic facets,
        on its own side only: a colour-0 layer's mu is mu_c there (mu_c += s, g -= s keeps
        the other side's mu_c + g), a colour-1 layer's is mu_c + g (g += s). The inventory
        correction of an adapted mesh (adapt_transfer.conserve_inventory) shifts the layer's
        interior with the same s: each layer's mu moves as a whole, the jump takes the
        difference. Nothing when inactive."""
        if not self.active or JUMP not in state:
            return
        mu, g = state["mu"], state[JUMP]
        V = g.function_space
        d = self.domain
        for name, s in shifts.items():
            if name not in self.colour or s == 0.0:
                continue
            nodes = np.zeros(self.free.size, bool)
            nodes[V.dofmap.list[d.layer_cells(name)].reshape(-1)] = True
            nodes &= self.free
            if self.colour[name] == 0:
                mu.x.array[nodes] += s
                g.x.array[nodes] -= s
            else:
                g.x.array[nodes] += s
        mu.x.scatter_forward()
        g.x.scatter_forward()

    # -- reports ---------------------------------------------------------------------------------
    def summary(self, u) -> dict:
        """``interface_kinetics``: per kinetic facet the rate [m/s], the law and the mean jump
        mu_upper - mu_lower [eV] over the facet ({} when inactive)."""
        if not self.active:
            return {}
        d = self.domain
        out = {}
        for ki in self.interfaces:
            dS = d.dS(d.stack.facet_ids[ki.facet])
            area = d.integrate(self.one("+"), dS)
            jump = d.integrate(u[JUMP]("+"), dS) / area if area > 0 else float("nan")
            sign = 1.0 if self.colour[ki.upper] == 1 else -1.0
            out[ki.facet] = {"rate_m_per_s": self.rates_m_s[ki.facet], "law": ki.law,
                             "mu_jump_eV": sign * jump}
        return {"interface_kinetics": out}
