"""Electrostatics: Poisson's equation for the potential phi across the stack.

    -div(eps0 eps_r grad phi) = rho_fixed + rho_TF(phi) + rho_e(phi) + rho_provided
                                + (surface charges on facets)

- eps_r: piecewise tensor, given per material in crystal axes (eps_a across c, eps_c along c)
  and rotated by each layer's orientation (:mod:`heterofem.solver.orientation`); in layers
  whose polarization is an unknown, the background eps_inf (P carries the rest);
- rho_fixed: fixed space charge of a layer (``layers.N.space_charge_C_m3``) or of its material
  (``space_charge``, C/m^3);
- metals: linear Thomas-Fermi screening, rho_TF = -(eps0 eps_b / lambda_TF^2) (phi - phi_m),
  phi_m = 0 (grounded Fermi level); eps_b is the material's background permittivity;
- semiconductors with ``[physics] electrons`` = "boltzmann" or "fermi-dirac": electrons in
  equilibrium with the grounded Fermi level E_F = 0, n = N_c F_1/2((q phi - dE_c) / kT), with
  dE_c = E_c - E_F at phi = 0 (``conduction_band_offset``) and N_c(T) = N_c(300 K) (T/300)^1.5;
  fully ionised background donors and acceptors (``donor_density``, ``acceptor_density``, or
  the layer's ``donor_density_m3``/``acceptor_density_m3``);
- rho_provided: the charge density other physics provide (the additive ``charge_density``
  quantity, :mod:`heterofem.solver.physics.quantities`: e.g. the vacancies' ionic charge),
  summed over its providers and integrated over the solid layers. The other physics only
  provide the density; this module assembles every term of Poisson's equation, so no module
  adds terms to this one's equation;
- the bound charge -div P of the polarization P (the unknown ``P``, when a physics provides
  it), in weak form -int P . grad(v) over the polar layers: D = eps0 eps_inf E + P;
- boundaries by facet name: ``phi_V`` (Dirichlet), ``surface_charge_C_m2`` (Neumann on outer
  facets, a sheet charge on an interface), none (free: zero normal displacement).

Scaled form (lengths in nm, phi in V, see :mod:`heterofem.solver.units`):

    -div_nm(eps_r grad_nm phi) + (eps_b / lambda_nm^2) phi = RHO_SCALE rho
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import ufl

from heterofem.solver import orientation, units
from heterofem.solver.dolfinx_env import MPI, dolfinx
from heterofem.solver.materials import eps_tensor_crystal
from heterofem.solver.physics.base import OutputField, Physics, Unknown
from heterofem.solver.physics.landau import polar_layers
from heterofem.solver.physics.quantities import CHARGE_DENSITY, PERMITTIVITY_CHANGE, TEMPERATURE

#: the polarization [C/m^2]: the unknown of solver/physics/polarization.py, read by name
POLARIZATION = "P"


def fermi_dirac_half(eta):
    """F_1/2(eta) normalised so that F -> exp(eta) for eta -> -inf (UFL or NumPy input).

    Aymerich-Humet, Serra-Mestres and Millan, Solid-State Electron. 24, 981 (1981): relative
    error below 0.5 % for all eta; smooth, so Newton can differentiate it.
    """
    import numpy as np

    lib = np if isinstance(eta, (float, int, np.ndarray)) else ufl
    a, b, c = 2.584786, 2.105, 2.414214  # j = 1/2 constants of the paper
    j = 0.5
    gamma = 0.886226925  # Gamma(3/2)
    base = b + eta + (abs(eta - b) ** c + a**c) ** (1.0 / c)
    base_15 = base * lib.sqrt(base)  # base ** (j + 1): a square root is cheaper than a power
    unnormalised = 1.0 / ((j + 1) * 2 ** (j + 1) / base_15 + lib.exp(-eta) / gamma)
    return unnormalised / gamma


def poisson_residual(phi, v, eps, dx, sources=(), screening=(), fluxes=()):
    """Weak residual of -div(eps grad phi) + k (phi - phi_ref) = f, with flux terms.

    ``sources``: (f, measure) pairs; ``screening``: (k, phi_ref, measure); ``fluxes``:
    (g, measure) with g = eps grad(phi).n prescribed (interior measures use the '+' side of v).
    Kept free of heterofem objects so verification tests can call it on any mesh.
    """
    F = ufl.inner(eps * ufl.grad(phi), ufl.grad(v)) * dx
    for k, phi_ref, measure in screening:
        F += k * (phi - phi_ref) * v * measure
    for f, measure in sources:
        F -= f * v * measure
    for g, measure in fluxes:
        vv = v("+") if measure.integral_type() == "interior_facet" else v
        F -= g * vv * measure
    return F


class Electrostatics(Physics):
    """Poisson's equation (module docstring). Reads the temperature, and when provided the
    charge density of other physics (a source of its equation, and part of the summary's
    net charge), the polarization P (its bound charge) and a change of the permittivity (a
    phase mixture)."""

    name = "electrostatics"
    reads = (TEMPERATURE,)
    reads_optional = (CHARGE_DENSITY, PERMITTIVITY_CHANGE, POLARIZATION)

    def __init__(self, domain, couplings=None):
        super().__init__(domain, couplings)
        cfg, dim = domain.cfg, domain.dim
        eps, rho, screen, nc, offset = {}, {}, {}, {}, {}
        polar = polar_layers(cfg, domain.materials)
        for layer in cfg.layers:
            mat = domain.material(layer)
            crystal = eps_tensor_crystal(mat)
            if layer.name in polar:  # P is explicit: the rest is the background permittivity
                crystal = np.diag([mat.value("eps_inf_a", "dimensionless", 1.0)] * 2
                                  + [mat.value("eps_inf_c", "dimensionless", 1.0)])
            lab = orientation.to_lab(crystal, layer.orientation)
            eps[layer.name] = orientation.reduce_to_dim(lab, dim)
            if layer.space_charge_C_m3 is not None:
                rho[layer.name] = layer.space_charge_C_m3
            elif mat.has("space_charge"):
                rho[layer.name] = mat.value("space_charge", "C/m^3")
            if mat.kind == "metal" and mat.has("screening_length"):
                lam = mat.value("screening_length", "nm")
                eps_b = float(np.trace(lab)) / 3.0
                screen[layer.name] = eps_b / lam**2
            if mat.kind == "semiconductor" and cfg.physics.electrons != "none":
                nd = layer.donor_density_m3 if layer.donor_density_m3 is not None else \
                    mat.value("donor_density", "m^-3", 0.0)
                na = layer.acceptor_density_m3 if layer.acceptor_density_m3 is not None else \
                    mat.value("acceptor_density", "m^-3", 0.0)
                rho[layer.name] = rho.get(layer.name, 0.0) + units.Q_E * (nd - na)
                T = self.temperature_K
                nc[layer.name] = mat.value("effective_dos_conduction", "m^-3") * (T / 300.0) ** 1.5
                offset[layer.name] = mat.value("conduction_band_offset", "eV")
        self.eps = domain.cellwise(eps, "eps_r", (dim, dim))
        self.v_t = units.K_B_EV * self.temperature_K  #: thermal voltage [V]
        self.n_c = domain.cellwise(nc, "N_c_m3") if nc else None
        self.dEc = domain.cellwise(offset, "dEc_eV") if nc else None
        self.rho = domain.cellwise(rho, "rho_fixed_C_m3") if rho else None
        self.k_tf = domain.cellwise(screen, "k_TF") if screen else None
        #: each material term is integrated over the layers that carry it, never over vacuum
        #: (electrons' exp(phi/kT) overflows at a probe's potential; inf x 0 is NaN): the
        #: measures of the electrons, the fixed charge, the screening and the solid layers
        self.dx_electrons, self.dx_fixed, self.dx_screening = (
            self._layers_dx(names) for names in (nc, rho, screen))
        self.dx_solid = self._layers_dx([lay.name for lay in cfg.solid_layers])
        self.dx_polar = self._layers_dx(polar)  # the bound charge's (polarization.py's dx)
        self._eps_zz_values = {n: e[-1, -1] for n, e in eps.items()}

    def _layers_dx(self, names) -> "ufl.Measure | None":
        """dx over the named layers (the quadrature of every volume term); None for none."""
        tags = tuple(self.domain.stack.layer_ids[name] for name in names)
        return self.domain.dx(tags) if tags else None

    @cached_property
    def eps_zz(self):
        """eps_r[z, z] per cell (DG0; an output field, built when first written)."""
        return self.domain.cellwise(self._eps_zz_values, "eps_zz")

    @cached_property
    def layer_id(self):
        """The layer tag per cell (DG0; an output field, built when first written)."""
        return self.domain.cellwise(
            {n: float(i) for n, i in self.domain.stack.layer_ids.items()}, "layer_id")

    def unknowns(self):
        return [Unknown("phi", self.domain.cfg.physics.element_degree, "V",
                        "electrostatic potential")]

    def electron_density(self, phi):
        """n [m^-3] as a UFL expression (0 where no semiconductor carries electrons)."""
        if self.n_c is None:
            return None
        eta = (phi - self.dEc) / self.v_t
        if self.domain.cfg.physics.electrons == "boltzmann":
            return self.n_c * ufl.exp(eta)
        return self.n_c * fermi_dirac_half(eta)

    def residual(self, u, v, history=None):
        """Poisson's equation with the charge density the other physics provide
        (:meth:`provided_charges`) and the polarization's bound charge
        (:meth:`bound_charge_term`)."""
        F = self.potential_residual(u, v, self.provided_charges(u))
        bound = self.bound_charge_term(u, v)
        return {"phi": F if bound is None else F + bound}

    def bound_charge_term(self, u, v) -> "ufl.Form | None":
        """The weak form of the bound charge -div P, -int P . grad(v) over the polar layers
        (scaled), when some physics provides the polarization P; else None."""
        P = self.couplings.get(POLARIZATION)
        if P is None or self.dx_polar is None:
            return None
        P = P(u)
        P = ufl.as_vector([P]) if P.ufl_shape == () else P  # 1D: the z component only
        return -units.SIGMA_SCALE * ufl.inner(P, ufl.grad(v["phi"])) * self.dx_polar

    def provided_charges(self, u) -> list[tuple[object, ufl.Measure]]:
        """The charge density other physics provide [C/m^3] (the sum over its providers) as
        a (UFL expression, measure) pair over the solid layers, or none: the density is a
        material law of the solid (in vacuum, e.g. at a probe's potential, it may be inf or
        NaN), and UFL splits the tagged measure per layer, so the term merges with this
        module's per-layer kernels (the same quadrature degree)."""
        mobile = self.couplings.get(CHARGE_DENSITY)
        if mobile is None or self.dx_solid is None:
            return []
        return [(mobile(u), self.dx_solid)]

    def potential_residual(self, u, v, charges) -> ufl.Form:
        """The residual of Poisson's equation for ``u["phi"]`` with this module's own terms
        (permittivity, fixed charge, electrons, screening, surface charges) and the volume
        ``charges``: (charge density [C/m^3] as UFL, measure) pairs. The coupled residual
        passes the provided charge density (:meth:`residual`); the solve of the initial
        potential passes the modules' initial charges instead
        (:meth:`Physics.initial_charge_density`, :meth:`CoupledProblem.set_initial_state`)."""
        F = self._own_residual(u, v)
        for rho, measure in charges:  # one form each, after the own terms
            F = F + (-units.RHO_SCALE * rho * v["phi"] * measure)
        return F

    def _own_residual(self, u, v) -> ufl.Form:
        """Poisson's equation with this module's own sources only (no provided charge)."""
        d = self.domain
        dx = d.dx_layers  # per layer: the electron term below merges into the same kernels
        sources = [(units.RHO_SCALE * self.rho, self.dx_fixed)] if self.rho is not None else []
        n = self.electron_density(u["phi"])
        if n is not None:  # only where there are electrons: F_1/2 is the costliest integrand
            sources.append((-units.RHO_SCALE * units.Q_E * n, self.dx_electrons))
        screening = [(self.k_tf, 0.0, self.dx_screening)] if self.k_tf is not None else []
        fluxes = [
            (units.SIGMA_SCALE * bc.surface_charge_C_m2, d.facet_measure(name))
            for name, bc in d.cfg.boundary.items()
            if bc.surface_charge_C_m2 is not None
        ]
        eps = self.eps_state(u)
        return poisson_residual(u["phi"], v["phi"], eps, dx, sources, screening, fluxes)

    def eps_state(self, u):
        """The permittivity of a state: the fixed cell-wise eps, plus the change another
        physics provides (crystallization interpolates it between phases)."""
        change = self.couplings.get(PERMITTIVITY_CHANGE)
        return self.eps if change is None else self.eps + change(u)

    def dirichlet(self, spaces):
        d, V = self.domain, spaces["phi"]
        bcs = []
        for name, bc in d.cfg.boundary.items():
            if bc.phi_V is None:
                continue
            dofs = d.facet_dofs(V, name)
            bcs.append(dolfinx.fem.dirichletbc(dolfinx.default_scalar_type(bc.phi_V), dofs, V))
        return {"phi": bcs}

    def outputs(self, u):
        phi = u["phi"]
        E = -ufl.grad(phi)  # V/nm
        out = [
            OutputField("phi", "V", phi),
            OutputField("Ez", "V/m", E[self.domain.dim - 1], kind="cell", scale=1.0 / units.NM),
            OutputField("eps_zz", "1", self.eps_zz, kind="cell"),
            OutputField("layer_id", "1", self.layer_id, kind="cell"),
        ]
        if self.domain.dim >= 2:
            out.insert(2, OutputField("Ex", "V/m", E[0], kind="cell", scale=1.0 / units.NM))
        if self.rho is not None:
            out.append(OutputField("rho_fixed", "C/m^3", self.rho, kind="cell"))
        n = self.electron_density(phi)
        if n is not None:  # 0 where no layer carries electrons (exp(phi/kT) may overflow there)
            n = ufl.conditional(ufl.gt(self.n_c, 0.0), n, 0.0)
            out.append(OutputField("n_e", "m^-3", n, kind="cell"))
        return out

    def charge_terms(self, u) -> list[tuple[object, ufl.Measure]]:
        """The volume charge densities [C/m^3] of the state as (UFL expression, measure) pairs,
        each on the layers that carry it (the charge density of other physics, e.g.
        vacancies, on the solid layers): their integrals sum to the net charge."""
        phi = u["phi"]
        terms = []
        if self.rho is not None:
            terms.append((self.rho, self.dx_fixed))
        if self.k_tf is not None:
            terms.append((-self.k_tf * phi / units.RHO_SCALE, self.dx_screening))
        n = self.electron_density(phi)
        if n is not None:
            terms.append((-units.Q_E * n, self.dx_electrons))
        return terms + self.provided_charges(u)

    def summary(self, u):
        d, phi = self.domain, u["phi"]
        area = d.lateral_area_nm2
        grad = ufl.grad(phi)
        energy = d.integrate(0.5 * ufl.inner(self.eps * grad, grad))  # V^2 nm^(dim-2)
        charge = sum(d.integrate(rho, dx) for rho, dx in self.charge_terms(u))  # C/m^3 nm^dim
        bounds = d.cfg.layer_bounds_nm()
        zs = [0.0] + [top for _, top in bounds]
        pts = d.centre_line(2)[:1].repeat(len(zs), axis=0)
        pts[:, d.dim - 1] = zs
        phis = d.evaluate(phi, pts)
        names = ["bottom"] + d.cfg.interface_names() + ["top"]
        return {
            "phi_V": {n: float(p) for n, p in zip(names, phis)},
            "potential_drop_V": float(phis[-1] - phis[0]),
            "electrostatic_energy_J_per_m2": units.EPS0 * energy / units.NM / area,
            "net_charge_C_per_m2": charge * units.NM / area,
            "phi_min_V": d.comm.allreduce(float(np.min(phi.x.array, initial=np.inf)), op=MPI.MIN),
            "phi_max_V": d.comm.allreduce(float(np.max(phi.x.array, initial=-np.inf)), op=MPI.MAX),
        }
