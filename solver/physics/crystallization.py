"""Crystallization of a deposited film (amorphous xi = 0 -> crystal xi = 1), fed by oxygen.

Phase field xi in the layers of ``[crystallization] layers``; the layer's material is the
crystal (rutile TiO2) and ``amorphous_material`` the as-deposited phase (TiO2_amorphous).

Free energy and kinetics (Allen-Cahn; MODEL.md section 6, docs/model.md):

    (1/M) dxi/dt = kappa lap(xi) - W g'(xi) - h'(xi) domega(mu, phi)
    g = xi^2 (1 - xi)^2,   h = xi^2 (3 - 2 xi),   M = M0 exp(-Ea / kT)
    kappa = 6 gamma l,  W = 3 gamma / l   (gamma interface energy, l interface width):
    a flat front is xi = (1 - tanh(z / (2 l))) / 2 and carries the energy gamma.

h = xi^2 (3 - 2 xi) (h' = 6 xi (1 - xi)) rather than the quintic interpolation: with it the
tanh profile is an *exact* travelling wave for any constant driving force, moving at
v = 6 l M (-domega), so the test of the front velocity has no asymptotic error.

Coupling to the vacancies (grand potential, Plapp, Phys. Rev. E 84, 031601 (2011)): each phase
is a lattice gas of vacancies on the N_O oxygen sites with its own formation energy E_p,

    omega_p(mu, phi) = f_p - N_O kT ln(1 + exp((mu - E_p - 2 phi) / kT)),  c_p = -d omega_p/d mu,
    omega = h omega_cryst + (1 - h) omega_am,   c = h c_cryst + (1 - h) c_am,
    domega = omega_cryst - omega_am = -dG + N_O kT [ln(1 - theta_cryst) - ln(1 - theta_am)]

with dG = f_am - f_cryst > 0 the driving force of a stoichiometric film (``driving_force``).
The crystal's formation energy is higher (it holds fewer vacancies), so an oxygen-deficient
film (large theta_am) has domega > 0 and stays amorphous; the front advances only where
vacancies can leave (into a template of lower formation energy, or to the gas). c enters the
vacancy balance dc/dt + div J = 0, so vacancies released by the moving front are conserved
by construction; the mobility, the formation energy and the permittivity are interpolated by
h(xi) between the two phases. Without vacancies, domega = -dG (a constant force).

Deposition (``[crystallization.deposition]``): the growing layer is meshed to its final
thickness. Above the growth surface z_s(t) = z_0 + h_0 + R t, material waits frozen at the
deposition state (amorphous, delta of the deposit): the activation
a = (1 - tanh((z - z_s) / w)) / 2 multiplies the vacancy mobility and the phase-field forces,
so there it neither moves nor transforms, and it joins the film as the surface passes. Its
vacancies are counted from the start, which keeps the vacancy balance exact. The gas exchange
of the top surface acts on the moving growth surface (a diffuse surface of width w, with the
amorphous material's exchange coefficient).

Nucleation (the seed paper's Eq. (3)): for a spherical nucleus in this free energy,
dG* = 16 pi gamma^3 S(theta) / (3 (dG_eff)^2) with dG_eff = -domega(mu) the local driving force:
a film whose vacancies raise domega toward zero has a diverging barrier, which is the paper's
"oxygen supply lowers dG*". Nucleation itself is not modelled: the crystal grows from the
template (the seed facet, held at xi = 1), i.e. epitaxy; summary.json reports dG* for the
deposited and the final film state.
"""

from __future__ import annotations

import numpy as np
import ufl

from heterofem.solver import orientation, units
from heterofem.solver.dolfinx_env import MPI, dolfinx
from heterofem.solver.materials import eps_tensor_crystal
from heterofem.solver.physics.base import OutputField, Physics, Unknown
from heterofem.solver.physics.quantities import (
    AS_DEPOSITED_PHASE,
    DEPOSITION_FRONT,
    PERMITTIVITY_CHANGE,
    PHASE_FRACTION,
    TEMPERATURE,
    VACANCY_GRAND_POTENTIAL_JUMP,
    VACANCY_INVENTORY,
    VACANCY_MEAN_DELTA,
    DepositionFront,
)
# the pO2 -> delta law of the deposited material (in a module the config can import)
from heterofem.solver.physics.deposition import deposited_delta, deposition_delta  # noqa: F401


#: strength of the term that holds not-yet-deposited material amorphous, relative to the
#: double well's curvature g''(0) = 2
PIN = 100.0
#: crystalline fraction from which a film counts as epitaxial (and 1 - it: the crystal is a
#: thin interfacial layer): the seed paper's "crystalline throughout within 10 %"
EPITAXIAL_FRACTION = 0.9
#: the late growth rate is fitted over this last fraction of the run time
LATE_WINDOW = 0.2
#: the pin starts this many surface widths above the growth surface
PIN_OFFSET = 6.0


def h_interp(xi):
    return xi * xi * (3.0 - 2.0 * xi)


def h_prime(xi):
    return 6.0 * xi * (1.0 - xi)


def g_well(xi):
    return xi * xi * (1.0 - xi) ** 2


def g_prime(xi):
    return 2.0 * xi * (1.0 - xi) * (1.0 - 2.0 * xi)


class Crystallization(Physics):
    """The phase field xi (module docstring). Provides its crystalline fraction h(xi), the
    permittivity change of the phase mixture and the deposition front; reads the vacancies'
    grand-potential jump and inventories when vacancies are on."""

    name = "crystallization"
    reads = (TEMPERATURE,)
    reads_optional = (VACANCY_GRAND_POTENTIAL_JUMP, VACANCY_INVENTORY, VACANCY_MEAN_DELTA)
    provides = (PHASE_FRACTION, PERMITTIVITY_CHANGE, DEPOSITION_FRONT, AS_DEPOSITED_PHASE)

    @classmethod
    def provided_at_build(cls, domain):
        """The as-deposited (amorphous) material of each crystallizing layer."""
        sec = domain.cfg.crystallization
        phases = {name: domain.materials[sec.amorphous_material] for name in sec.layers}
        return {AS_DEPOSITED_PHASE: lambda u: phases}

    def __init__(self, domain, couplings=None):
        super().__init__(domain, couplings)
        cfg = domain.cfg
        sec = cfg.crystallization
        self.sec = sec
        self.layers = list(sec.layers)
        am = domain.materials[sec.amorphous_material]
        self.amorphous = am
        T = self.temperature_K
        self.kT = units.K_B_EV * T
        self.gamma = sec.interface_energy_J_m2 or am.value("interface_energy", "J/m^2")
        self.ell = sec.interface_width_nm
        self.W = 3.0 * self.gamma / (self.ell * units.NM)  # J/m^3
        self.dG = (sec.driving_force_J_m3 if sec.driving_force_J_m3 is not None
                   else am.value("crystallization_driving_force", "J/m^3"))
        M0 = sec.mobility_M0_m3_J_s or am.value("front_mobility_M0", "m^3/(J*s)")
        Ea = sec.mobility_Ea_eV if sec.mobility_Ea_eV is not None else \
            am.value("front_mobility_Ea", "eV")
        self.M = M0 * float(np.exp(-Ea / self.kT))  # m^3/(J s)
        #: the phase field's own time unit: relaxation time of the double well [s]
        self.time_scale_s = 1.0 / (self.M * self.W)
        self.in_film = domain.cellwise({n: 1.0 for n in self.layers}, "crystallizing")
        tags = tuple(domain.stack.layer_ids[n] for n in self.layers)
        self.dx_film = domain.dx(tags)
        bounds = dict(zip([lay.name for lay in cfg.layers], cfg.layer_bounds_nm()))
        self.z_bottom = min(bounds[n][0] for n in self.layers)
        self.z_top = max(bounds[n][1] for n in self.layers)
        self.below = self._layer_below()
        self.t_s = dolfinx.fem.Constant(domain.mesh, 0.0)  #: physical time [s] (the stepper's)
        dep = sec.deposition
        self.deposition = dep
        z = ufl.SpatialCoordinate(domain.mesh)[domain.dim - 1]
        if dep is not None:
            self.rate = dep.rate  # nm/s
            self.w = dep.surface_width_nm or self.ell
            zs = self.z_bottom + dep.initial_thickness_nm + self.rate * self.t_s
            #: the pin is a tanh step PIN_OFFSET w above the growth surface: a pin that
            #: followed the activation's tanh tail, PIN (1 - a) ~ PIN exp(-2 d / w) at a depth d
            #: below the surface, outweighed the driving force h' domega / W (~1e-3..1e-2) down
            #: to d ~ 5 w and held the front ~2.5-3 nm behind the deposit whatever the oxygen
            #: supply; a pin at the surface itself left an amorphous skin ~2 l thick (the
            #: gradient term); its own tail is PIN exp(-2 PIN_OFFSET) ~ 6e-4 at the surface.
            #: Between the surface and the pin the forces are scaled by a, so a front may lead
            #: the surface by ~(w/2) ln(v/R); only crystal in deposited material is counted
            #: (crystalline_thickness_nm integrates a xi)
            self.pin_weight = 0.5 * (1.0 + ufl.tanh((z - zs - PIN_OFFSET * self.w) / self.w))
            arg = (z - zs) / self.w
            a_film = 0.5 * (1.0 - ufl.tanh(arg))
            #: activation: 1 in deposited material and outside the film, 0 above the surface
            self.activation = 1.0 - self.in_film + self.in_film * a_film
            #: the diffuse growth surface, integrating to 1 across it [1/nm]
            self.surface_delta = self.in_film * (1.0 - ufl.tanh(arg) ** 2) / (2.0 * self.w)
        else:
            self.activation = None
            self.surface_delta = None
        self._bcs: list = []
        #: (t [s], crystalline thickness [nm]) of every reported step, for the late growth rate
        self._history: list[tuple[float, float]] = []

    def _layer_below(self) -> str | None:
        names = [lay.name for lay in self.domain.cfg.layers]
        i = min(names.index(n) for n in self.layers)
        return names[i - 1] if i > 0 else None

    # -- interpolation between the phases -------------------------------------------------------
    def h_film(self, xi):
        """h(xi) in the crystallizing layers, 0 elsewhere (their properties do not mix)."""
        return self.in_film * h_interp(xi)

    def provided(self):
        front = None if self.activation is None else DepositionFront(
            self.activation, self.surface_delta, self.layers[-1])
        return {PHASE_FRACTION: lambda u: self.h_film(u["xi"]),
                PERMITTIVITY_CHANGE: self._permittivity_change(),
                DEPOSITION_FRONT: lambda u: front}

    @property
    def _vacancies_on(self) -> bool:
        return VACANCY_GRAND_POTENTIAL_JUMP in self.couplings

    def _permittivity_change(self):
        """eps - eps_cryst_lab = (1 - h) (eps_am - eps_cryst) in the crystallizing layers: eps =
        eps_cryst + (1 - h) (eps_am - eps_cryst) (a function of the state)."""
        d = self.domain
        am = eps_tensor_crystal(self.amorphous)
        diff = {}
        for lay in d.cfg.layers:
            if lay.name in self.layers:
                cryst = orientation.to_lab(eps_tensor_crystal(d.material(lay)), lay.orientation)
                diff[lay.name] = orientation.reduce_to_dim(
                    orientation.to_lab(am, lay.orientation) - cryst, d.dim)
        deps = d.cellwise(diff, "eps_am_minus_cryst", (d.dim, d.dim))
        return lambda u: (self.in_film - self.h_film(u["xi"])) * deps

    def driving_force(self, u):
        """omega_cryst - omega_am [J/m^3] (negative: the crystal is favoured)."""
        if not self._vacancies_on:
            return -self.dG * self.in_film
        jump = self.couplings[VACANCY_GRAND_POTENTIAL_JUMP]  # the vacancies' lattice gas
        return self.in_film * (-self.dG + jump(u))

    # -- Physics interface ---------------------------------------------------------------------
    def unknowns(self):
        return [Unknown("xi", self.domain.cfg.physics.element_degree, "1",
                        "crystalline fraction (phase field)")]

    def residual(self, u, v, history=None):
        if history is None:
            raise ValueError("crystallization is a transient: add a [time] table")
        xi, eta = u["xi"], v["xi"]
        tau = 1.0 / (self.M * self.W * history.time_scale_s)  # scaled relaxation time
        a = self.activation if self.activation is not None else 1.0
        force = (2.0 * self.ell**2 * ufl.inner(ufl.grad(xi), ufl.grad(eta))
                 + (g_prime(xi) + h_prime(xi) * self.driving_force(u) / self.W) * eta)
        F = tau * history.ddt(lambda s: s["xi"], u) * eta * self.dx_film + a * force * self.dx_film
        if self.activation is not None:
            # the activation scales the local Allen-Cahn force, a (kappa lap xi - ...): the
            # weak form of a kappa lap xi is -int kappa grad xi . grad(a eta), i.e. the
            # gradient term above plus this one. Without it the form was div(a kappa grad xi),
            # whose extra term kappa grad a . grad xi (~ l / w, against h' domega / W ~ 1e-2)
            # dragged the crystal up with the growth surface whatever the driving force
            F += 2.0 * self.ell**2 * ufl.inner(ufl.grad(xi), ufl.grad(a)) * eta * self.dx_film
            # material not deposited yet is held amorphous (the forces above vanish there with
            # the activation, but the relaxation time is far shorter than a growth step)
            F += PIN * self.pin_weight * xi * eta * self.dx_film
        pattern = self.domain.pattern_term(xi, eta, self.layers)
        if pattern is not None:
            F += pattern
        return {"xi": F}

    def dirichlet(self, spaces):
        d, V = self.domain, spaces["xi"]
        bcs = [dolfinx.fem.dirichletbc(dolfinx.default_scalar_type(0.0),
                                       d.inactive_dofs(V, self.layers), V)]
        seed = self.sec.seed
        if seed is None and self.below is not None and self.sec.initial_front_nm is None:
            seed = f"{self.below}/{self.layers[0]}"
        if seed not in (None, "none"):
            dofs = d.facet_dofs(V, seed)
            bcs.append(dolfinx.fem.dirichletbc(dolfinx.default_scalar_type(1.0), dofs, V))
        self._bcs = bcs
        return {"xi": bcs}

    def initialise(self, u):
        xi = u["xi"]
        if self.sec.initial_front_nm is not None:
            z = ufl.SpatialCoordinate(self.domain.mesh)[self.domain.dim - 1]
            front = 0.5 * (1.0 - ufl.tanh((z - self.sec.initial_front_nm) / (2.0 * self.ell)))
            init = self.domain.layerwise_nodal(xi.function_space, {n: front for n in self.layers},
                                               name="xi0")
            xi.x.array[:] = init.x.array
        else:
            xi.x.array[:] = 0.0
        for bc in self._bcs:
            bc.set(xi.x.array)

    def set_time(self, t_s: float) -> None:
        self.t_s.value = t_s

    def start(self, u):
        if self._vacancies_on:
            #: the vacancy inventory of the initial state, for the oxygen given up below
            self.initial_inventory = self.couplings[VACANCY_INVENTORY](u)
        self.initial_state = self.timeseries(u)

    # -- reporting ------------------------------------------------------------------------------
    def crystalline_thickness_nm(self, u) -> float:
        """Crystal per lateral area [nm] in the deposited material: int a xi (int xi without
        deposition)."""
        d = self.domain
        a = self.activation if self.activation is not None else 1.0
        return d.integrate(a * u["xi"], self.dx_film) / d.lateral_area_nm2

    def deposited_thickness_nm(self) -> float:
        if self.deposition is None:
            return self.z_top - self.z_bottom
        grown = self.deposition.initial_thickness_nm + self.rate * float(self.t_s.value)
        return min(grown, self.z_top - self.z_bottom)

    def phase_free_energy(self, u) -> float:
        """Free energy of the phase field per lateral area [J/m^2]: double well, gradient and
        the constant driving force (the whole free energy when vacancies are off)."""
        xi = u["xi"]
        dens = g_well(xi) + self.ell**2 * ufl.inner(ufl.grad(xi), ufl.grad(xi)) \
            - h_interp(xi) * self.dG / self.W
        d = self.domain
        return self.W * d.integrate(dens, self.dx_film) * units.NM / d.lateral_area_nm2

    def timeseries(self, u):
        row = {"crystalline_thickness_nm": self.crystalline_thickness_nm(u),
               "deposited_thickness_nm": self.deposited_thickness_nm()}
        self._history.append((float(self.t_s.value), row["crystalline_thickness_nm"]))
        if not self._vacancies_on:
            row["phase_free_energy_J_per_m2"] = self.phase_free_energy(u)
        elif self.below is not None:
            inv = self.couplings[VACANCY_INVENTORY](u)
            initial = getattr(self, "initial_inventory", inv)
            # vacancies gained below = oxygen given up to the film
            row[f"oxygen_from_{self.below}_per_m2"] = inv[self.below] - initial[self.below]
            row[f"delta_{self.below}"] = self.couplings[VACANCY_MEAN_DELTA](u)[self.below]
        return row

    def nucleation_barrier_eV(self, dG_eff: float) -> float | None:
        """Homogeneous barrier 16 pi gamma^3 / (3 dG_eff^2) [eV] (S(theta) = 1); None if the
        crystal is not favoured."""
        if dG_eff <= 0.0:
            return None
        return 16.0 * np.pi * self.gamma**3 / (3.0 * dG_eff**2) / units.Q_E

    def mean_driving_force(self, u) -> float:
        """Driving force -domega [J/m^3] averaged over the still-amorphous deposited film."""
        d = self.domain
        weight = (1.0 - h_interp(u["xi"])) * (self.activation if self.activation is not None else 1.0)
        num = d.integrate(-self.driving_force(u) * weight, self.dx_film)
        den = d.integrate(weight * self.in_film, self.dx_film)
        return num / den if den > 1e-12 else float("nan")

    def late_growth_rate_nm_s(self) -> float | None:
        """Slope [nm/s] of the crystalline thickness over the last LATE_WINDOW of the growth
        (of the run, or of the deposition when it ended earlier: a hold after growth is not
        counted); least squares over the reported steps; None with fewer than 3 steps there."""
        if not self._history:
            return None
        t = np.array([h[0] for h in self._history])
        x = np.array([h[1] for h in self._history])
        t_end = t[-1]
        if self.deposition is not None:
            full = self.z_top - self.z_bottom - self.deposition.initial_thickness_nm
            t_end = min(t_end, full / self.rate)
        late = (t >= t_end * (1.0 - LATE_WINDOW)) & (t <= t_end)
        if late.sum() < 3 or np.ptp(t[late]) <= 0.0:
            return None
        return float(np.polyfit(t[late], x[late], 1)[0])

    def growth_verdict(self, fraction: float, relative_rate: float | None) -> str:
        """"epitaxial": at least EPITAXIAL_FRACTION of the deposit is crystal (the seed's
        "crystalline throughout within 10 %"); "amorphous": most of the deposit is not crystal
        and the crystal has stopped following the deposit (late growth rate below
        1 - EPITAXIAL_FRACTION of the deposition rate): an interfacial crystal under an
        amorphous film; otherwise "partly crystalline" (a lagging front still growing)."""
        if fraction >= EPITAXIAL_FRACTION:
            return "epitaxial"
        stopped = relative_rate is None or relative_rate < 1.0 - EPITAXIAL_FRACTION
        if fraction < 0.5 and stopped:
            return "amorphous"
        return "partly crystalline"

    def summary(self, u):
        thick = self.crystalline_thickness_nm(u)
        final_force = self.mean_driving_force(u)
        deposited = self.deposited_thickness_nm()
        fraction = thick / deposited if deposited > 0 else float("nan")
        rate = self.late_growth_rate_nm_s()
        relative = None
        if rate is not None and self.deposition is not None:
            relative = rate / self.rate
        out = {
            "epitaxial_thickness_nm": thick,
            "crystalline_fraction": fraction,
            "late_growth_rate_nm_per_s": rate,
            "late_growth_rate_relative": relative,
            "verdict": self.growth_verdict(fraction, relative),
            "deposited_thickness_nm": deposited,
            "crystallized": bool(thick >= self.sec.crystallized_threshold_nm),
            "crystallized_threshold_nm": self.sec.crystallized_threshold_nm,
            "interface_energy_J_per_m2": self.gamma,
            "interface_width_nm": self.ell,
            "driving_force_J_per_m3": self.dG,
            "mobility_m3_per_J_s": self.M,
            "front_velocity_stoichiometric_nm_per_s": 6.0 * self.ell * self.M * self.dG,
            "amorphous_driving_force_J_per_m3": final_force,
            "nucleation_barrier_stoichiometric_eV": self.nucleation_barrier_eV(self.dG),
            "nucleation_barrier_amorphous_eV": self.nucleation_barrier_eV(final_force),
        }
        cfg = self.domain.cfg
        out["temperature_K"] = self.temperature_K
        if self.deposition is not None:
            out["deposition_rate_nm_per_s"] = self.rate
            out["deposition_delta"] = deposited_delta(cfg, self.layers[-1])
            out["deposition_pO2_mTorr"] = self.deposition.pO2_mTorr
        xi = u["xi"]
        comm = self.domain.comm
        out["xi_min"] = comm.allreduce(float(np.min(xi.x.array, initial=np.inf)), op=MPI.MIN)
        out["xi_max"] = comm.allreduce(float(np.max(xi.x.array, initial=-np.inf)), op=MPI.MAX)
        return out

    def outputs(self, u):
        out = [OutputField("xi", "1", u["xi"])]
        if self.activation is not None:
            out.append(OutputField("deposited", "1", self.activation * self.in_film))
        if self._vacancies_on:
            out.append(OutputField("driving_force", "J/m^3", -self.driving_force(u), kind="cell"))
        return out
