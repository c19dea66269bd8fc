"""Charged oxygen vacancies (V_O, charge +2): drift-diffusion across heterointerfaces.

Primary unknown: the vacancy electrochemical potential mu [eV], continuous across interfaces
(local equilibrium); the concentration jumps where the formation energy E_f does:

    theta(mu, phi) = 1 / (1 + exp((E_f + 2 phi - mu) / kT))      site exclusion (theta < 1)
    theta(mu, phi) = exp((mu - E_f - 2 phi) / kT)                 dilute (Boltzmann) option
    c = N_O theta                                                  N_O: oxygen-site density
    J = -(D / kT) c (1 - theta) grad mu                            (dilute: -(D/kT) c grad mu)
    dc/dt + div J = 0,  and the charge density 2 q c enters Poisson's equation (provided as
    the ``charge_density`` quantity; electrostatics assembles the term).

D is a tensor: Arrhenius D0 exp(-Ea/kT) along and across the rutile c axis, rotated by the
layer's orientation. The site-exclusion theta is the logistic written with e^(-|x|)
(fitted_flux.sigma): it never overflows and keeps its relative precision where theta is tiny.

Boundaries (``[boundary.<facet>] vacancy = ...``): "blocking" (J.n = 0, the default),
"fixed_mu" (mu = mu_eV), "gas": the surface reaction V_O + 1/2 O2 <-> O_O by mass
action, J.n = k c [1 - exp(-(mu - mu_gas)/kT)] (:meth:`Vacancies.exchange_flux`; "linear":
its linearisation (k c / kT)(mu - mu_gas)), mu_gas = -Delta mu_O(T, pO2)
(:mod:`heterofem.solver.thermo`) and k = k0 exp(-Ea/kT) (pO2/p_ref)^n the surface exchange
coefficient of the material (or k0, Ea of the facet's config). A facet between a solid layer
and vacuum may carry them too.

Scaling: c = N_ref c^ (N_ref the largest N_O), lengths in nm, time t = t_ref t^ with
t_ref = (1 nm)^2 / D_ref (D_ref the largest diffusivity): then
    d c^/dt^ - div(D^ c^ (1-theta)/kT grad mu) = 0,    J^.n = (k L / D_ref) c^ [1 - e^(-(mu - mu_gas)/kT)].
Vacancies live in the solid layers only: the equation is integrated over them, and mu dofs
that touch no solid cell are fixed (they carry nothing).
"""

from __future__ import annotations

import logging
from functools import cached_property

import numpy as np
import ufl

from heterofem.solver import fitted_flux, orientation, thermo, units
from heterofem.solver.dolfinx_env import dolfinx
from heterofem.solver.physics import cell_average
from heterofem.solver.physics.base import OutputField, Physics, Unknown
from heterofem.solver.physics.deposition import deposited_delta
from heterofem.solver.physics.interface_kinetics import InterfaceKinetics
from heterofem.solver.physics.vacancy_start import VacancyStart
from heterofem.solver.physics.quantities import (
    AS_DEPOSITED_PHASE,
    CHARGE_DENSITY,
    DEPOSITION_FRONT,
    PHASE_FRACTION,
    TEMPERATURE,
    VACANCY_GRAND_POTENTIAL_JUMP,
    VACANCY_INVENTORY,
    VACANCY_MEAN_DELTA,
)

Z_V = 2  #: vacancy charge number
#: information depth of the surface stoichiometry probe [nm]: the inelastic mean free path of
#: Ti 2p photoelectrons in TiO2 at ~1 keV kinetic energy is about 2 nm (TPP-2M estimate, L);
#: the weight exp(-depth / 2 nm) is what Ti 2p XPS averages (summary: surface_delta)
PROBE_DEPTH_NM = 2.0
log = logging.getLogger("heterofem")


class Vacancies(Physics):
    """Vacancy drift-diffusion (module docstring). Reads the temperature and the potential
    phi; with a phase field, its crystalline fraction h(xi) and the deposition front.
    Provides the vacancy charge density, the vacancy part of the crystallization driving
    force, and the inventories for reports."""

    name = "vacancies"
    reads = (TEMPERATURE, "phi")
    reads_optional = (PHASE_FRACTION, DEPOSITION_FRONT, AS_DEPOSITED_PHASE)
    provides = (CHARGE_DENSITY, VACANCY_GRAND_POTENTIAL_JUMP, VACANCY_INVENTORY,
                VACANCY_MEAN_DELTA)

    def __init__(self, domain, couplings=None):
        super().__init__(domain, couplings)
        cfg, dim = domain.cfg, domain.dim
        self.kT = units.K_B_EV * self.temperature_K  # eV
        self.dilute = cfg.physics.vacancy_statistics == "dilute"
        self.solid = [lay for lay in cfg.layers if lay.material != "vacuum"]
        n_o, e_f, diff, k_ex, theta0 = {}, {}, {}, {}, {}
        k_order, k_ln_pref = {}, {}  # pO2 order of the exchange rate and ln(p_ref / Pa)
        #: crystallizing layers (AS_DEPOSITED_PHASE, from solver/physics/crystallization.py):
        #: the base values are the amorphous phase's; the crystal's formation energy and
        #: diffusivity are kept apart
        phases = self.couplings.get(AS_DEPOSITED_PHASE)
        cryst = phases(None) if phases is not None else {}
        e_f_cryst, diff_cryst = {}, {}
        for lay in self.solid:
            mat = domain.material(lay)
            n_o[lay.name] = mat.value("oxygen_site_density", "m^-3")
            e_f[lay.name] = mat.value("vacancy_formation_energy", "eV")
            diff[lay.name] = self._diffusivity(mat, lay.orientation, dim)
            if lay.name in cryst:
                am = cryst[lay.name]
                e_f_cryst[lay.name] = e_f[lay.name] - am.value("vacancy_formation_energy", "eV")
                diff_cryst[lay.name] = diff[lay.name]
                e_f[lay.name] = am.value("vacancy_formation_energy", "eV")
                diff[lay.name] = self._diffusivity(am, lay.orientation, dim)
                mat = am  # surface exchange of the growing (amorphous) surface
            if mat.has("surface_exchange_k0"):
                k_ex[lay.name] = _arrhenius(mat.value("surface_exchange_k0", "m/s"),
                                            mat.value("surface_exchange_Ea", "eV", 0.0), self.kT)
            order, p_ref = exchange_pO2_dependence(mat)
            k_order[lay.name], k_ln_pref[lay.name] = order, float(np.log(p_ref))
            delta = lay.delta if lay.delta is not None else deposited_delta(cfg, lay.name)
            if delta is not None:
                theta0[lay.name] = delta / 2.0  # MO(2-delta): 2 O sites per formula unit
        self._warn_if_ill_posed(k_ex)
        self.N_ref = max(n_o.values())
        self.D_ref = max(float(np.max(np.linalg.eigvalsh(d)))
                         for d in list(diff.values()) + list(diff_cryst.values()))
        self.time_scale_s = units.NM**2 / self.D_ref
        self.diffusivity_m2_s = {name: np.diag(d).tolist() for name, d in diff.items()}

        cw = domain.cellwise
        self.n_hat = cw({k: v / self.N_ref for k, v in n_o.items()}, "n_O_hat")
        self.E_f = cw(e_f, "E_f_eV")
        self.D_hat = cw({k: v / self.D_ref for k, v in diff.items()}, "D_hat", (dim, dim))
        self.k_hat = cw({k: v * units.NM / self.D_ref for k, v in k_ex.items()}, "k_exchange_hat")
        self.k_order = cw(k_order, "k_exchange_pO2_order")
        self.k_ln_pref = cw(k_ln_pref, "k_exchange_ln_pO2_ref")
        self.is_solid = cw({lay.name: 1.0 for lay in self.solid}, "solid")
        #: crystal minus amorphous formation energy [eV], and the crystal's scaled diffusivity,
        #: in crystallizing layers (built on first use: dE_cryst, D_hat_cryst); the phase
        #: mixture h(xi) is the PHASE_FRACTION quantity when a phase field provides it
        self._cryst_values = (e_f_cryst, {k: v / self.D_ref for k, v in diff_cryst.items()})
        self.theta0 = theta0
        # one quadrature rule for the residual and for the inventories, so that the discrete
        # conservation (sum of the mu rows = d/dt of the inventory) holds for what is reported
        self.dx = domain.dx
        tags = tuple(domain.stack.layer_ids[lay.name] for lay in self.solid)
        self.dx_solid = self.dx(tags)
        #: the flux: its mobility is exponential in mu, a higher degree (Domain.dx_transport)
        self.dx_flux = domain.dx_transport(tags)
        #: the one-point (centroid) rule of the closed-form flux (see flux_term)
        self.dx_centroid = domain.dx_at(1)(tags)
        #: the Poisson equation is divided by this (V/nm^2 per unit c^), so that both equations'
        #: residuals count vacancies on the same scale
        self.poisson_scale = units.RHO_SCALE * units.Q_E * Z_V * self.N_ref
        self.kinetics = InterfaceKinetics(domain, self)  #: finite interface rates: mu broken
        self.exact_start = VacancyStart(self)  #: the layer-wise initial state (vacancy_start.py)

    def _warn_if_ill_posed(self, k_ex: dict[str, float]) -> None:
        """A steady solve held only by gas exchange is ill-determined when the exchange is
        negligible (e.g. rutile at 150 C, k ~ 1e-31 m/s): say so instead of returning the
        initial state as 'converged'."""
        cfg = self.domain.cfg
        bcs = {name: bc for name, bc in cfg.boundary.items() if bc.vacancy != "blocking"}
        if cfg.time is not None or any(bc.vacancy == "fixed_mu" for bc in bcs.values()):
            return
        solid = [lay.name for lay in self.solid]
        adjacent = {"top": solid[-1:], "bottom": solid[:1]}
        k = 0.0
        for name, bc in bcs.items():
            if bc.exchange_k0_m_s is not None:
                k = max(k, _arrhenius(bc.exchange_k0_m_s, bc.exchange_Ea_eV or 0.0, self.kT))
            else:
                layers = adjacent.get(name, [n for n in name.split("/") if n in solid] or solid)
                k = max([k] + [k_ex.get(n, 0.0) for n in layers])
        if k < 1e-15:
            log.warning("steady vacancy solve held only by gas exchange with k <= %.2g m/s: "
                        "the steady state is ill-determined; use a [time] table (transient) "
                        "or a fixed_mu facet", k)

    def _diffusivity(self, mat, orient: str, dim: int) -> np.ndarray:
        """Arrhenius D tensor [m^2/s] of a material, rotated to the lab frame."""
        d_a = _arrhenius(mat.value("vacancy_D0_a", "m^2/s"), mat.value("vacancy_Ea_a", "eV"), self.kT)
        d_c = _arrhenius(mat.value("vacancy_D0_c", "m^2/s"), mat.value("vacancy_Ea_c", "eV"), self.kT)
        lab = orientation.to_lab(np.diag([d_a, d_a, d_c]), orient)
        return orientation.reduce_to_dim(lab, dim)

    # -- constitutive relations ----------------------------------------------------------------
    def theta(self, mu, phi, shift=0.0):
        """Site fraction; ``shift`` is added to the formation energy (the crystal's offset)."""
        x = (self.E_f + shift + Z_V * phi - mu) / self.kT
        if self.dilute:
            return ufl.exp(-x)
        return fitted_flux.sigma(-x)  # 1 / (1 + e^x), full relative precision where tiny

    @cached_property
    def dE_cryst(self):
        """Crystal minus amorphous formation energy [eV] (DG0), 0 outside crystallizing layers."""
        return self.domain.cellwise(self._cryst_values[0], "dE_f_cryst_eV")

    @cached_property
    def D_hat_cryst(self):
        """The crystal's scaled diffusivity (DG0 tensor), 0 outside crystallizing layers."""
        dim = self.domain.dim
        return self.domain.cellwise(self._cryst_values[1], "D_hat_cryst", (dim, dim))

    def phase_fraction(self, u):
        """h(xi) of a state dict when a phase field provides it (PHASE_FRACTION), else None."""
        h = self.couplings.get(PHASE_FRACTION)
        return None if h is None else h(u)

    def deposition_front(self):
        """The growth surface of a deposited film (DEPOSITION_FRONT), or None."""
        front = self.couplings.get(DEPOSITION_FRONT)
        return None if front is None else front(None)

    def theta_mix(self, mu, phi, h=None):
        """Site fraction; with a phase fraction h = h(xi) the mixture h theta_cryst + (1 - h)
        theta_am in the crystallizing layers (solver/physics/crystallization.py)."""
        if h is None:
            return self.theta(mu, phi)
        return (1.0 - h) * self.theta(mu, phi) + h * self.theta(mu, phi, self.dE_cryst)

    def c_hat(self, mu, phi, h=None):
        """Scaled concentration c / N_ref (zero outside the solid), phase mixture with h."""
        return self.n_hat * self.theta_mix(mu, phi, h)

    def mu_of(self, u):
        """mu of a state dict: the unknown "mu", or with interface kinetics mu_c + chi g."""
        return self.kinetics.mu(u)

    def theta_state(self, u):
        """Site fraction of a state dict (the phase mixture in crystallizing layers)."""
        return self.theta_mix(self.mu_of(u), u["phi"], self.phase_fraction(u))

    def c_state(self, u):
        """c_hat of a state dict (with its phase fraction, if any)."""
        return self.c_hat(self.mu_of(u), u["phi"], self.phase_fraction(u))

    def mobility(self, mu, phi, h=None):
        """(D / kT) c (1 - theta) (dilute: (D / kT) c), scaled; with a phase fraction h the
        mixture of the two phases, times the deposition activation when there is one."""
        def part(theta, D):
            factor = self.n_hat * theta if self.dilute else self.n_hat * theta * (1.0 - theta)
            return D * factor / self.kT

        if h is None:
            return part(self.theta(mu, phi), self.D_hat)
        M = (1.0 - h) * part(self.theta(mu, phi), self.D_hat) \
            + h * part(self.theta(mu, phi, self.dE_cryst), self.D_hat_cryst)
        front = self.deposition_front()
        if front is not None:  # material not yet deposited does not move
            M = front.activation * M
        return M

    def grand_potential_jump(self, u):
        """omega_cryst - omega_am of the vacancy lattice gas [J/m^3] (without the film
        indicator): N_O kT [ln(1 - theta_cryst) - ln(1 - theta_am)] (dilute: N_O kT
        (theta_am - theta_cryst)); the vacancies' part of the crystallization driving force
        (Plapp's grand potential, solver/physics/crystallization.py)."""
        mu, phi = self.mu_of(u), u["phi"]
        n_sites = self.n_hat * self.N_ref  # m^-3
        x_am = (self.E_f + 2.0 * phi - mu) / self.kT
        x_cr = x_am + self.dE_cryst / self.kT
        if self.dilute:
            occupancy = ufl.exp(-x_am) - ufl.exp(-x_cr)  # theta_am - theta_cryst
        else:  # ln(1 - theta_cr) - ln(1 - theta_am) = softplus(-x_am) - softplus(-x_cr)
            occupancy = _softplus(-x_am) - _softplus(-x_cr)
        return n_sites * self.kT * units.Q_E * occupancy

    def provided(self):
        return {CHARGE_DENSITY: lambda u: self.charge_density(self.c_state(u)),
                VACANCY_GRAND_POTENTIAL_JUMP: self.grand_potential_jump,
                VACANCY_INVENTORY: self.inventory, VACANCY_MEAN_DELTA: self.mean_delta}

    @property
    def _mobility_kind(self) -> str:
        """The mobility's shape in s for cell_average: theta (dilute) or theta (1 - theta)."""
        return "exp" if self.dilute else "logistic'"

    @cached_property
    def exact_flux(self) -> bool:
        """Whether the flux integral uses the closed-form cell average of the mobility
        (:mod:`heterofem.solver.physics.cell_average`; ``physics.vacancy_flux``): P1 on affine
        intervals or triangles, no phase field (its h(xi) mixes two mobilities)."""
        cfg = self.domain.cfg
        if cfg.physics.vacancy_flux == "quadrature":
            return False
        mesh = self.domain.mesh
        simplex = mesh.topology.cell_type in (dolfinx.mesh.CellType.interval,
                                              dolfinx.mesh.CellType.triangle)
        ok = (cfg.physics.element_degree == 1 and PHASE_FRACTION not in self.couplings
              and simplex and mesh.geometry.cmaps[0].degree == 1  # s linear on affine simplices
              and cell_average.supported(self._mobility_kind, self.domain.dim))
        if not ok:
            log.debug("vacancy flux: quadrature of degree %d (no closed form for this case)",
                      self.domain.transport_quadrature_degree)
        return ok

    def flux_term(self, mu, phi, h, v_mu):
        """int M grad mu . grad v over the solid: exact per-cell average of the mobility where
        available (:attr:`exact_flux`), else quadrature at the transport degree."""
        if self.domain.cfg.physics.vacancy_flux == "fitted":
            return fitted_flux.flux_term(self, mu, phi, h, v_mu)
        if not self.exact_flux:
            return ufl.inner(self.mobility(mu, phi, h) * ufl.grad(mu), ufl.grad(v_mu)) * self.dx_flux
        s = (mu - self.E_f - Z_V * phi) / self.kT  # linear on each cell: E_f is cell-wise
        mean = cell_average.cell_average(self._mobility_kind, s, self.domain.mesh)
        M = self.D_hat * self.n_hat * mean / self.kT
        return ufl.inner(M * ufl.grad(mu), ufl.grad(v_mu)) * self.dx_centroid

    def in_solid(self, expr, side: str | None = None):
        """``expr`` in the solid cells, 0 in vacuum (on one ``side`` of an interior facet).

        A conditional, not a product with the 0/1 indicator: the material law evaluated in
        vacuum may be inf (exp(-x) of the dilute law at a probe's potential) and inf x 0 is
        NaN; the generated code selects the branch, so the vacuum value never reaches the
        result (used by the output fields, which are interpolated on every cell, and by the
        gas exchange on a solid/vacuum facet)."""
        solid = self.is_solid if side is None else self.is_solid(side)
        value = expr if side is None else expr(side)
        return ufl.conditional(ufl.gt(solid, 0.5), value, 0.0)

    def charge_density(self, c_hat):
        """Vacancy charge density [C/m^3] of a scaled concentration."""
        return Z_V * units.Q_E * self.N_ref * c_hat

    # -- Physics interface ---------------------------------------------------------------------
    def equation_scales(self):
        return {"phi": 1.0 / self.poisson_scale}

    def unknowns(self):
        degree = self.domain.cfg.physics.element_degree
        return [Unknown("mu", degree, "eV", "vacancy electrochemical potential",
                        picard=True)] + self.kinetics.unknowns(degree)

    def residual(self, u, v, history=None):
        mu, phi, h = self.mu_of(u), u["phi"], self.phase_fraction(u)
        v_mu = self.kinetics.test_function(v)  # v["mu"] without interface kinetics
        dx = self.dx_solid
        F = self.flux_term(mu, phi, h, v_mu)
        if history is not None:
            if self.domain.cfg.physics.vacancy_flux == "fitted":
                F += fitted_flux.lumped_ddt(self, history, u, v_mu)
            else:
                F += history.ddt(self.c_state, u, at=dx, relative=True) * v_mu * dx
        front = self.deposition_front()
        for name, bc in self.domain.cfg.boundary.items():
            if bc.vacancy != "gas":
                continue
            if front is not None and self._on_growth_surface(name, front):
                F += self._growth_surface_exchange(u, v_mu, bc, front)
                continue
            flux = self.exchange_flux(u, bc)
            measure = self.domain.facet_measure(name)
            if measure.integral_type() == "interior_facet":
                # between a solid and vacuum: the solid side's flux; the vacuum side's theta
                # is no material law (it may overflow at a probe's potential) and is not used
                F += (self.in_solid(flux, "+") + self.in_solid(flux, "-")) * v_mu("+") * measure
            else:
                F += flux * v_mu * measure
        pattern = self.domain.pattern_term(u["mu"], v["mu"], [lay.name for lay in self.solid])
        if pattern is not None:
            F += pattern
        # the charge enters Poisson's equation through the charge_density quantity
        # (provided()), which electrostatics integrates over the solid layers only: in vacuum
        # theta(mu, phi) is not a material law, and at a probe's potential (phi/kT past ~710:
        # 18 V at 300 K) the derivative of its tanh is inf/inf, a NaN in the Jacobian even
        # where n_hat = 0 multiplies it
        return self.kinetics.split(F, u, v)  # with kinetics the two equations of a broken v

    @staticmethod
    def _on_growth_surface(facet: str, front) -> bool:
        """The top facet of a growing film (it sits above the growth surface, in material that
        is not deposited yet): its gas exchange acts on the moving surface instead."""
        return facet == "top" or facet.split("/")[0] == front.layer

    def _growth_surface_exchange(self, u, v_mu, bc, front):
        """J.n = k (c - c_gas) on the diffuse growth surface (solver/physics/crystallization.py),
        with the exchange coefficient of the facet's config or the amorphous material."""
        return self.exchange_flux(u, bc) * front.surface_delta * v_mu * self.dx_solid

    def exchange_rate(self, bc):
        """Scaled surface exchange coefficient k(T, pO2) = k0 exp(-Ea/kT) (pO2/p_ref)^n: k0, Ea
        from the facet's config or the material, the pO2 order n and p_ref from the material
        (``surface_exchange_pO2_order``, ``surface_exchange_pO2_ref``; n = 0 without them)."""
        k = self.k_hat
        if bc.exchange_k0_m_s is not None:
            k_si = _arrhenius(bc.exchange_k0_m_s, bc.exchange_Ea_eV or 0.0, self.kT)
            k = self.is_solid * k_si * units.NM / self.D_ref
        return k * ufl.exp(self.k_order * (float(np.log(bc.pO2)) - self.k_ln_pref))

    def exchange_flux(self, u, bc):
        """Scaled outward flux J.n of the surface reaction V_O + 1/2 O2 <-> O_O, driven by the
        vacancy chemical potential against the gas's, mu_gas = -Delta mu_O(T, pO2):

            mass action (default): J.n = k N_O [theta - (1 - theta) theta_g / (1 - theta_g)]
                                       = k c [1 - exp(-(mu - mu_gas) / kT)]
            linear (exchange_law = "linear"): J.n = (k c / kT) (mu - mu_gas)

        The first is the mass-action rate of the reaction (forward k c, backward fixed by
        detailed balance); it vanishes at mu = mu_gas, oxidises a reduced film (mu > mu_gas
        gives J.n > 0, vacancies leave), and saturates at k c far from equilibrium. The second
        is its linearisation (Onsager form), valid only for |mu - mu_gas| << kT. In the dilute
        limit the first is k (c - c_gas) (docs/model.md)."""
        mu, phi, h = self.mu_of(u), u["phi"], self.phase_fraction(u)
        mu_gas = thermo.mu_vacancy_gas(self.temperature_K, bc.pO2)
        k = self.exchange_rate(bc)
        theta = self.theta_mix(mu, phi, h)
        if bc.exchange_law == "linear":
            return k * self.n_hat * theta * (mu - mu_gas) / self.kT
        theta_g = self.theta_mix(mu_gas, phi, h)
        if self.dilute:
            return k * self.n_hat * (theta - theta_g)
        return k * self.n_hat * (theta - (1.0 - theta) * theta_g / (1.0 - theta_g))

    def dirichlet(self, spaces):
        V, d = spaces["mu"], self.domain
        bcs = []
        for name, bc in d.cfg.boundary.items():
            if bc.vacancy == "fixed_mu":
                dofs = d.facet_dofs(V, name)
                bcs.append(dolfinx.fem.dirichletbc(dolfinx.default_scalar_type(bc.mu_eV), dofs, V))
        inactive = d.inactive_dofs(V, [lay.name for lay in self.solid])
        bcs.append(dolfinx.fem.dirichletbc(dolfinx.default_scalar_type(0.0), inactive, V))
        return {"mu": bcs, **self.kinetics.dirichlet(spaces, inactive)}

    # -- initial state -------------------------------------------------------------------------
    def initial_charge_density(self, phi):
        """The initial vacancy charge density (:meth:`initial_rho`)."""
        return self.initial_rho(phi)

    def initialise_from_potential(self, u):
        """mu from the initial potential (:meth:`initial_mu`)."""
        u["mu"].x.array[:] = self.initial_mu(u["mu"].function_space, u["phi"]).x.array
        self.kinetics.initialise(u, self._initial_per_layer)  # kinetics: each layer exact
        self.exact_start.project(u)  # where mu is continuous: each layer's inventory exact

    def initial_rho(self, phi) -> list[tuple[object, ufl.Measure]]:
        """The initial vacancy charge density [C/m^3] per solid layer, as (UFL expression,
        measure of the layer) pairs: the layer's delta where given, elsewhere equilibrium with
        the uniform mu of [initial] mu_eV at the potential ``phi``."""
        mu_u = self.domain.cfg.initial.mu_eV
        terms = []
        for lay in self.solid:
            tag = self.domain.stack.layer_ids[lay.name]
            if lay.name in self.theta0:
                c = self.n_hat * self.theta0[lay.name]
            else:
                c = self.c_hat(mu_u, phi)
            terms.append((self.charge_density(c), self.dx(tag)))
        return terms

    def initial_mu(self, V, phi) -> dolfinx.fem.Function:
        """mu that reproduces each layer's initial theta at the solved potential.

        A node shared by layers takes the smallest of their values: the interface starts
        depleted rather than flooding the layer of lower formation energy (a rule that does
        not depend on the mesh partition).
        """
        mu_u = self.domain.cfg.initial.mu_eV
        per_layer = {}
        for lay in self.solid:
            if lay.name in self.theta0:
                th = self.theta0[lay.name]
                logit = np.log(th) if self.dilute else np.log(th / (1.0 - th))
                per_layer[lay.name] = self.E_f + Z_V * phi + self.kT * logit
            else:
                per_layer[lay.name] = dolfinx.fem.Constant(self.domain.mesh, float(mu_u))
        self._initial_per_layer = per_layer
        return self.domain.layerwise_nodal(V, per_layer, name="mu", shared="min")

    # -- outputs -------------------------------------------------------------------------------
    def outputs(self, u):
        mu = self.mu_of(u)
        theta = self.in_solid(self.theta_state(u))
        return [  # a broken mu is written layer by layer (sharp in profiles), as cell fields are
            OutputField("mu", "eV", mu, kind="cell" if self.kinetics.active else "point"),
            OutputField("c_V", "m^-3", self.N_ref * self.in_solid(self.c_state(u)), kind="cell"),
            OutputField("theta_V", "1", theta, kind="cell"),
            OutputField("delta", "1", 2.0 * theta, kind="cell"),
        ]

    def inventory(self, u) -> dict[str, float]:
        """Vacancies per lateral area [m^-2] in each solid layer."""
        d = self.domain
        c, dx = self.c_state(u), self.dx
        if d.cfg.physics.vacancy_flux == "fitted":  # the lumped mass of the time term
            c, dx = fitted_flux.lumped_c(self, u), d.dx_at(1)
        scale = self.N_ref * units.NM / d.lateral_area_nm2
        return {lay.name: scale * d.integrate(c, dx(d.stack.layer_ids[lay.name]))
                for lay in self.solid}

    def mean_delta(self, u) -> dict[str, float]:
        """delta of MO(2-delta) averaged over each solid layer."""
        d = self.domain
        theta = self.theta_state(u)
        out = {}
        for lay in self.solid:
            dx = self.dx(d.stack.layer_ids[lay.name])
            out[lay.name] = 2.0 * d.integrate(theta, dx) / d.integrate(ufl.as_ufl(1.0), dx)
        return out

    def set_time(self, t_s: float) -> None:
        self.t_s = t_s

    def film_deltas(self, u) -> dict[str, dict[str, float]]:
        """The stoichiometry observables of crystallizing layers: ``mean_delta_crystalline``
        (delta averaged with the crystalline fraction h(xi): what XAS/EELS of the rutile film
        sees) and ``surface_delta`` (delta weighted by exp(-depth / PROBE_DEPTH_NM) below the
        growth surface: what Ti 2p XPS sees)."""
        h = self.phase_fraction(u)
        cfg, d = self.domain.cfg, self.domain
        if h is None:
            return {}
        theta = self.theta_state(u)
        bounds = dict(zip([lay.name for lay in cfg.layers], cfg.layer_bounds_nm()))
        dep = cfg.crystallization.deposition
        z = ufl.SpatialCoordinate(d.mesh)[d.dim - 1]
        crystalline, surface = {}, {}
        for name in cfg.crystallization.layers:
            dx = self.dx(d.stack.layer_ids[name])
            wh = d.integrate(h, dx)
            crystalline[name] = 2.0 * d.integrate(h * theta, dx) / wh if wh > 1e-12 else float("nan")
            z_s = bounds[name][1]
            if dep is not None:
                grown = dep.initial_thickness_nm + dep.rate * getattr(self, "t_s", 0.0)
                z_s = min(bounds[name][0] + grown, z_s)
            w = ufl.conditional(ufl.lt(z, z_s), ufl.exp(-(z_s - z) / PROBE_DEPTH_NM), 0.0)
            surface[name] = 2.0 * d.integrate(w * theta, dx) / d.integrate(w, dx)
        return {"mean_delta_crystalline": crystalline, "surface_delta": surface}

    def start(self, u):
        """Record the initial inventories and deltas: the layer-wise initial state's."""
        exact = self.exact_start.exact_state(u)
        self.initial_inventory = self.inventory(exact)
        self.initial_delta = self.mean_delta(exact)

    def timeseries(self, u):
        inv = self.inventory(u)
        row = {f"N_V_{name}_per_m2": value for name, value in inv.items()}
        row["N_V_total_per_m2"] = sum(inv.values())
        return row

    def oxygen_transferred(self, inv: dict[str, float]) -> dict[str, float]:
        """Net oxygen moved upward across each interface between solid layers [m^-2].

        Oxygen moving up is vacancies moving down, so it is the gain of vacancies in all the
        layers below the interface; exact when the bottom facet is blocking (the default).
        """
        names = [lay.name for lay in self.solid]
        out = {}
        for i in range(len(names) - 1):
            below = names[: i + 1]
            out[f"{names[i]}/{names[i + 1]}"] = sum(inv[n] - self.initial_inventory[n] for n in below)
        return out

    def summary(self, u):
        inv = self.inventory(u)
        return {
            **self.film_deltas(u),
            "inventory_per_m2": inv,
            "initial_inventory_per_m2": self.initial_inventory,
            "total_inventory_per_m2": sum(inv.values()),
            "mean_delta": self.mean_delta(u),
            "initial_mean_delta": self.initial_delta,
            "oxygen_transferred_up_per_m2": self.oxygen_transferred(inv),
            "time_scale_s": self.time_scale_s,
            "diffusivity_m2_per_s": self.diffusivity_m2_s, **self.kinetics.summary(u),
        }


def exchange_pO2_dependence(mat) -> tuple[float, float]:
    """(n, p_ref [Pa]) of k ~ (pO2 / p_ref)^n of a material; (0, 1 Pa) without the keys."""
    if not mat.has("surface_exchange_pO2_order"):
        return 0.0, 1.0
    return (mat.value("surface_exchange_pO2_order", "dimensionless"),
            mat.value("surface_exchange_pO2_ref", "Pa"))


def _softplus(y):
    """ln(1 + exp(y)) without overflow (UFL)."""
    return 0.5 * (y + abs(y)) + ufl.ln(1.0 + ufl.exp(-abs(y)))


def _arrhenius(prefactor: float, barrier_eV: float, kT: float) -> float:
    return prefactor * float(np.exp(-barrier_eV / kT))
