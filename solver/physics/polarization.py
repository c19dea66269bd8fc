"""Landau-Ginzburg-Devonshire polarization, coupled to the solved strain and to Poisson.

Order parameter P [C/m^2]: the out-of-plane component P_z in 1D, a vector (P_x, P_z) or
(P_x, P_y, P_z) in 2D/3D, living in the polar layers (``layers.N.polar``; by default those
whose material has Landau data). Free energy density [J/m^3] (docs/model.md, "Polarization"):

    f = P.A.P + a11 |P|^4 + a111 |P|^6 + (g/2) |grad P|^2 - E.P
        - P_z^2 sum_i kappa_i eps_ii  +  (F_x eps_xx + F_y eps_yy) dP_z/dz,      E = -grad phi

- A = diag(a1) in crystal axes, rotated by the orientation (``landau_a1`` or the Curie-Weiss
  fit of the permittivity, :mod:`heterofem.solver.physics.landau`).
- Strain coupling (Pertsev-type, both ways): eps is the LOCAL lattice strain (relative to the
  layer's bulk lattice, lab Voigt), the quantity ``lattice_strain`` of the mechanics solve
  (1D: the retained in-plane misfit of [strain] and the solved du_z/dz). kappa_i per lab axis
  from ``landau_strain_coupling_a`` / ``_c`` (:func:`landau.lab_axis_coefficients`). The
  coupling's stress d f / d eps_ii = -kappa_i P_z^2 (+ F_i dP_z/dz) is provided to the
  mechanics (quantity ``polarization_stress``). Without mechanics the strain is each layer's
  uniform state: the retained misfit in plane and eps_zz from sigma_zz = 0.
- Flexoelectric coupling to the strain step (F_i = ``flexo_coupling_a`` / ``_c`` [V]):
  integrating (F.eps) dP_z/dz by parts gives an interface field h = [F.eps] (the jump of
  F.eps going up, +z) on every interface and at the ends of the polar region: opposite at the
  two interfaces of a strained layer, so P points into (or out of) it at both. It is assembled
  as the volume term (F.eps) dw_z/dz, so no facet carries a typed sign.
- Interfaces per ordered material pair (``[interfaces."A|B"]``): a surface energy
  -h P.n_AB with n_AB the unit normal from A into B (``interface_field_V`` = h) and/or
  (g / (2 lambda)) |P|^2 (``polar_extrapolation_nm`` = lambda), on every facet between A and
  B. ``[boundary."a/b"] polar_bias_V`` / ``polar_extrapolation_nm`` act on one facet.
- Poisson: D = eps0 eps_inf E + P (the unknown P is read by electrostatics: bound charge).

Euler-Lagrange equation (weak form, divided by s = 1e9 V/m; lengths in nm):

    int [2 A* P + 4 a11 |P|^2 P + 6 a111 |P|^4 P].w / s + (g / (L^2 s)) grad P : grad w
        + (1 / (L s)) [grad(phi).w + (F.eps) dw_z/dz]  dx  + surface terms = 0,
    A*_zz = A_zz - sum_i kappa_i eps_ii

Time-dependent Ginzburg-Landau, m dP/dt^ = -dF/dP (scaled), with m = 1e-3 so that P relaxes a
thousand times faster than the run's time unit: quasi-static on ionic time scales. A steady
run with polarization is solved by pseudo-transient continuation (see stepping.py).
"""

from __future__ import annotations

import numpy as np
import ufl

from heterofem.solver import orientation, units
from heterofem.solver.dolfinx_env import dolfinx
from heterofem.solver.physics.base import OutputField, Physics, Unknown
from heterofem.solver.physics.landau import (
    interface_terms,
    lab_axis_coefficients,
    landau_a1,
    polar_layers,
)
from heterofem.solver.physics.polar_summary import polar_summary
from heterofem.solver.physics.quantities import LATTICE_STRAIN, POLARIZATION_STRESS, TEMPERATURE
from heterofem.solver.strain import free_surface_strain_zz, layer_strains

P_SCALE = 1e9  #: V/m, the scale of the polarization equation
KINETIC = 1e-3  #: TDGL kinetic coefficient in scaled units


class Polarization(Physics):
    """The Landau polarization P (module docstring): reads the temperature, the potential
    phi and (when mechanics runs) the solved lattice strain; its unknown P is read by
    electrostatics (the bound charge) and mechanics (the coupling stress)."""

    name = "polarization"
    reads = (TEMPERATURE, "phi")
    reads_optional = (LATTICE_STRAIN,)
    provides = (POLARIZATION_STRESS,)
    steady_by_continuation = True

    def __init__(self, domain, couplings=None):
        super().__init__(domain, couplings)
        cfg, dim = domain.cfg, domain.dim
        T = self.temperature_K
        self.layers = polar_layers(cfg, domain.materials)
        self.strains = layer_strains(cfg, domain.materials)
        A, a11, a111, g, born, omega, kappa, flexo, eps0 = ({} for _ in range(9))
        for name in self.layers:
            lay = cfg.layer(name)
            mat = domain.material(lay)
            a_a, a_c = landau_a1(mat, T)
            A[name] = orientation.to_lab(np.diag([a_a, a_a, a_c]), lay.orientation)
            kappa[name] = lab_axis_coefficients(mat, lay.orientation, "landau_strain_coupling",
                                                "J*m/C^2")
            flexo[name] = lab_axis_coefficients(mat, lay.orientation, "flexo_coupling", "V",
                                                axes=(0, 1))
            st = self.strains[name]
            ezz = free_surface_strain_zz(mat, lay.orientation, st.strain_x, st.strain_y)
            eps0[name] = np.array([st.strain_x, st.strain_y, ezz, 0.0, 0.0, 0.0])
            a11[name] = mat.value("landau_a11", "J*m^5/C^4")
            a111[name] = mat.value("landau_a111", "J*m^9/C^6", 0.0)
            g[name] = mat.value("gradient_energy", "J*m^3/C^2")
            born[name] = mat.value("born_charge", "dimensionless", 0.0)
            if born[name] > 0:  # volume per formula unit, for the displacement in pm
                a = mat.value("a_lattice", "m")
                c = mat.value("c_lattice", "m")
                omega[name] = a * a * c / mat.value("formula_units_per_cell", "dimensionless", 2.0)
        #: a1*_zz of each layer in its uniform strain state (the summary's a1_zz)
        self.a1_zz = {n: float(A[n][2, 2] - np.dot(kappa[n], eps0[n][:3])) for n in self.layers}
        self.a1_min = {n: min(float(np.min(np.diag(A[n]))), self.a1_zz[n]) for n in self.layers}
        self.kappa_lab, self.flexo_lab = kappa, flexo
        cw = domain.cellwise
        self.A = cw({n: orientation.reduce_to_dim(A[n], dim) / P_SCALE for n in self.layers},
                    "A_hat", (dim, dim))
        self.kappa = cw(kappa, "kappa_strain", (3,))  # J m/C^2
        self.flexo = cw(flexo, "flexo_coupling", (2,))  # V
        self.eps_uniform = cw(eps0, "eps_uniform", (6,))
        self.a11 = cw({n: a11[n] / P_SCALE for n in self.layers}, "a11_hat")
        self.a111 = cw({n: a111[n] / P_SCALE for n in self.layers}, "a111_hat")
        self.g = cw({n: g[n] / (units.NM**2 * P_SCALE) for n in self.layers}, "g_hat")
        # polar displacement of the cation: u = P Omega / (Z* e), in pm
        self.to_pm = cw({n: omega[n] / (born[n] * units.Q_E) * 1e12
                         for n in self.layers if born[n] > 0}, "P_to_pm")
        tags = tuple(domain.stack.layer_ids[n] for n in self.layers)
        self.dx_polar = domain.dx(tags)
        self.strain_x = cw({n: s.strain_x for n, s in self.strains.items()}, "strain_x")
        self.strain_y = cw({n: s.strain_y for n, s in self.strains.items()}, "strain_y")

    def stable_pseudo_dt(self) -> float:
        """Largest first pseudo-time step that does not overshoot the unstable P = 0 state:
        backward Euler on dP/dt = lambda P with lambda = 2 |a1*| / (P_SCALE KINETIC) flips
        the sign of P once lambda dt > 2 and then converges to the saddle."""
        unstable = max([-a for a in self.a1_min.values()] + [0.0])
        lam = 2.0 * unstable / (P_SCALE * KINETIC)
        return 0.5 / lam if lam > 0 else float("inf")

    def vec(self, P):
        """P as a vector (1D: the z component only)."""
        return ufl.as_vector([P]) if self.domain.dim == 1 else P

    def strain(self, u):
        """The lattice strain the couplings read (Voigt): the mechanics solve's, else each
        layer's uniform state."""
        provider = self.couplings.get(LATTICE_STRAIN)
        return provider(u) if provider is not None else self.eps_uniform

    def dz_Pz(self, u):
        """dP_z/dz [C/m^2 per nm]."""
        dim = self.domain.dim
        return ufl.grad(self.vec(u["P"])[dim - 1])[dim - 1]

    def coupling_stress(self, u):
        """d f / d eps of the strain couplings [Pa], Voigt (the quantity
        ``polarization_stress``): -kappa_i P_z^2 + F_i dP_z/dz (in plane)."""
        Pz = self.vec(u["P"])[self.domain.dim - 1]
        fl = self.dz_Pz(u) / units.NM
        return ufl.as_vector([-self.kappa[0] * Pz**2 + self.flexo[0] * fl,
                              -self.kappa[1] * Pz**2 + self.flexo[1] * fl,
                              -self.kappa[2] * Pz**2, 0.0, 0.0, 0.0])

    def provided(self):
        return {POLARIZATION_STRESS: self.coupling_stress}

    def unknowns(self):
        dim = self.domain.dim
        return [Unknown("P", self.domain.cfg.physics.element_degree, "C/m^2",
                        "polarization", () if dim == 1 else (dim,))]

    def residual(self, u, v, history=None):
        d, dim = self.domain, self.domain.dim
        P, w, phi = self.vec(u["P"]), self.vec(v["P"]), u["phi"]
        P2 = ufl.inner(P, P)
        dx = self.dx_polar
        eps = self.strain(u)
        shift = sum(self.kappa[i] * eps[i] for i in range(3)) / P_SCALE  # kappa.eps, scaled
        flexo = (self.flexo[0] * eps[0] + self.flexo[1] * eps[1]) / (units.NM * P_SCALE)
        wz = w[dim - 1]
        F = (ufl.inner(2 * self.A * P + 4 * self.a11 * P2 * P + 6 * self.a111 * P2 * P2 * P, w)
             - 2 * shift * P[dim - 1] * wz
             + flexo * ufl.grad(wz)[dim - 1]
             + self.g * ufl.inner(ufl.grad(P), ufl.grad(w))
             + ufl.inner(ufl.grad(phi), w) / (units.NM * P_SCALE)) * dx
        if history is not None:
            F += KINETIC * ufl.inner(history.ddt(lambda s: self.vec(s["P"]), u), w) * dx
        for facet, field, lam in self._facet_terms():
            measure = d.facet_measure(facet)
            interior = measure.integral_type() == "interior_facet"
            side = (lambda x: x("+")) if interior else (lambda x: x)
            if field:
                F -= field / (units.NM * P_SCALE) * side(wz) * measure
            if lam is not None:
                g_side = self.g("+") + self.g("-") if interior else self.g
                F += g_side / lam * ufl.inner(side(P), side(w)) * measure
        pattern = d.pattern_term(u["P"], v["P"], self.layers)
        if pattern is not None:
            F += pattern
        return {"P": F}  # the bound charge: Electrostatics.bound_charge_term

    def _facet_terms(self) -> list[tuple[str, float, float | None]]:
        """(facet, field h along +z [V], extrapolation length [nm] or None): the
        ``[boundary]`` entries and the ``[interfaces]`` pairs with their normals."""
        out = []
        for name, bc in self.domain.cfg.boundary.items():
            if bc.polar_bias_V is not None or bc.polar_extrapolation_nm is not None:
                out.append((name, float(bc.polar_bias_V or 0.0), bc.polar_extrapolation_nm))
        for facet, sign, sec in interface_terms(self.domain.cfg):
            out.append((facet, sign * float(sec.interface_field_V or 0.0),
                        sec.polar_extrapolation_nm))
        return out

    def interface_fields(self) -> dict[str, float]:
        """The field along +z [V] on each facet: typed ([boundary], [interfaces]) plus the
        flexoelectric jump [F.eps] of the layers' uniform strain states (summary)."""
        cfg = self.domain.cfg
        out: dict[str, float] = {}
        for facet, h, _ in self._facet_terms():
            out[facet] = out.get(facet, 0.0) + h
        fe = {n: float(np.dot(self.flexo_lab[n], [s.strain_x, s.strain_y]))
              for n, s in self.strains.items() if n in self.layers}
        for lower, upper in zip(cfg.layers, cfg.layers[1:]):
            jump = fe.get(upper.name, 0.0) - fe.get(lower.name, 0.0)
            if jump:
                facet = f"{lower.name}/{upper.name}"
                out[facet] = out.get(facet, 0.0) + jump
        return out

    def dirichlet(self, spaces):
        V = spaces["P"]
        dofs = self.domain.inactive_dofs(V, self.layers)
        zero = np.zeros(V.dofmap.index_map_bs) if V.dofmap.index_map_bs > 1 else 0.0
        return {"P": [dolfinx.fem.dirichletbc(dolfinx.default_scalar_type(zero)
                                              if np.ndim(zero) == 0 else zero, dofs, V)]}

    def initialise(self, u):
        """Start from a small P along +z in the polar layers (the fields then pick the sign)."""
        P = u["P"]
        bs = P.function_space.dofmap.index_map_bs
        arr = P.x.array.reshape(-1, bs)
        arr[:, :-1] = 1e-4  # in-plane seeds, so an in-plane easy axis can develop
        arr[:, -1] = 1e-3
        inactive = self.domain.inactive_dofs(P.function_space, self.layers)
        arr[inactive] = 0.0

    # -- outputs -------------------------------------------------------------------------------
    def outputs(self, u):
        P = self.vec(u["P"])
        dim = self.domain.dim
        out = [OutputField("P_z", "C/m^2", P[dim - 1])]
        if dim >= 2:
            out.append(OutputField("P_x", "C/m^2", P[0]))
        out.append(OutputField("u_pol_z", "pm", self.to_pm * P[dim - 1], kind="cell"))
        out.append(OutputField("residual_strain_x", "1", self.strain_x, kind="cell"))
        out.append(OutputField("residual_strain_y", "1", self.strain_y, kind="cell"))
        return out

    def summary(self, u):
        return polar_summary(self, u)
