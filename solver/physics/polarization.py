"""Landau-Ginzburg-Devonshire polarization, renormalised by epitaxial strain, coupled to Poisson.

Order parameter P [C/m^2]: the out-of-plane component P_z in 1D, a vector (P_x, P_z) or
(P_x, P_y, P_z) in 2D/3D, living in the polar layers (``layers.N.polar``; by default those
whose material has Landau data). Free energy density [J/m^3]:

    f = P.A.P + a11 |P|^4 + a111 |P|^6 + (g/2) |grad P|^2 - E.P,      E = -grad phi

- A = diag(a1) in crystal axes, rotated by the orientation. a1 per crystal direction from the
  material: ``landau_a1`` if given, else from the Curie-Weiss fit of the permittivity,
  a1 = 1 / (2 eps0 (C/(T - T0) - eps_inf)): with the background eps_inf in Poisson's equation
  (polar layers use ``eps_inf_a/c``), the model then reproduces the measured static
  permittivity in the linear regime.
- Strain (:mod:`heterofem.solver.strain`): the out-of-plane coefficient is renormalised,
  a1*_z = a1_z - kappa_x eps_x - kappa_y eps_y (Pertsev-type; kappa = ``landau_strain_coupling_a``
  or ``_c`` for the crystal direction along each lab axis; kappa ~ Q12 / (s11 + s12)).
  P0 appears where a1*_z < 0, the transition strain is where it changes sign.
- Interfaces break inversion symmetry (per facet in ``[boundary."a/b"]``): a surface energy
  -h P.e_z (``polar_bias_V`` = h; positive favours P along +z) and/or (g / (2 lambda)) |P|^2
  (``polar_extrapolation_nm`` = lambda). With ``polar_bias_follows_strain = "x"`` (or "y")
  h is multiplied by the retained fraction r of the misfit along that axis of the strained
  layer at the facet (the [strain] law): the symmetry breaking comes from the strained polar
  (mm2) state, which turns nonpolar (4/mmm) as the strain relaxes (RuO2/TiO2(110), SHG). Why
  it is needed: in a metal the vacuum level sees only the surface dipole, which is limited by
  its own depolarization field (a shift ~ h), not by the strain-softened a1*, so a constant h
  gives a work function that hardly changes when the [001] strain relaxes (docs/model.md).
- Poisson: D = eps0 eps_inf E + P, i.e. the bound charge -div P enters the potential (the
  unknown P is a quantity electrostatics reads: it assembles the bound-charge term).

Euler-Lagrange equation (weak form, divided by s = 1e9 V/m; lengths in nm):

    int [2 A P + 4 a11 |P|^2 P + 6 a111 |P|^4 P].w / s + (g / (L^2 s)) grad P : grad w
        + (1 / (L s)) grad(phi).w  dx  + surface terms = 0

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
from heterofem.solver.physics.quantities import TEMPERATURE
# the Landau coefficients from the materials (in a module the config's checks can import)
from heterofem.solver.physics.landau import landau_a1, polar_layers
from heterofem.solver.strain import layer_strains

P_SCALE = 1e9  #: V/m, the scale of the polarization equation
KINETIC = 1e-3  #: TDGL kinetic coefficient in scaled units


class Polarization(Physics):
    """The Landau polarization P (module docstring): reads the temperature and the
    potential phi; its unknown P is read by electrostatics (the bound charge) and by
    mechanics (electrostriction)."""

    name = "polarization"
    reads = (TEMPERATURE, "phi")
    steady_by_continuation = True

    def __init__(self, domain, couplings=None):
        super().__init__(domain, couplings)
        cfg, dim = domain.cfg, domain.dim
        T = self.temperature_K
        self.layers = polar_layers(cfg, domain.materials)
        self.strains = layer_strains(cfg, domain.materials)
        A, a11, a111, g, born, omega = {}, {}, {}, {}, {}, {}
        for name in self.layers:
            lay = cfg.layer(name)
            mat = domain.material(lay)
            a_a, a_c = landau_a1(mat, T)
            lab = orientation.to_lab(np.diag([a_a, a_a, a_c]), lay.orientation)
            q = orientation.rotation(lay.orientation)
            kappa = [mat.value("landau_strain_coupling_a", "J*m/C^2", 0.0) * (1 - q[i, 2] ** 2)
                     + mat.value("landau_strain_coupling_c", "J*m/C^2", 0.0) * q[i, 2] ** 2
                     for i in (0, 1)]
            st = self.strains[name]
            lab[2, 2] -= kappa[0] * st.strain_x + kappa[1] * st.strain_y
            A[name] = orientation.reduce_to_dim(lab, dim)
            a11[name] = mat.value("landau_a11", "J*m^5/C^4")
            a111[name] = mat.value("landau_a111", "J*m^9/C^6", 0.0)
            g[name] = mat.value("gradient_energy", "J*m^3/C^2")
            born[name] = mat.value("born_charge", "dimensionless", 0.0)
            if born[name] > 0:  # volume per formula unit, for the displacement in pm
                a = mat.value("a_lattice", "m")
                c = mat.value("c_lattice", "m")
                omega[name] = a * a * c / mat.value("formula_units_per_cell", "dimensionless", 2.0)
        self.a1_zz = {n: float(A[n][-1, -1]) for n in self.layers}
        self.a1_min = {n: float(np.min(np.diag(A[n]))) for n in self.layers}
        cw = domain.cellwise
        self.A = cw({n: A[n] / P_SCALE for n in self.layers}, "A_hat", (dim, dim))
        self.a11 = cw({n: a11[n] / P_SCALE for n in self.layers}, "a11_hat")
        self.a111 = cw({n: a111[n] / P_SCALE for n in self.layers}, "a111_hat")
        self.g = cw({n: g[n] / (units.NM**2 * P_SCALE) for n in self.layers}, "g_hat")
        # polar displacement of the Ti ion: u = P Omega / (Z* e), in pm
        self.to_pm = cw({n: omega[n] / (born[n] * units.Q_E) * 1e12
                         for n in self.layers if born[n] > 0}, "P_to_pm")
        tags = tuple(domain.stack.layer_ids[n] for n in self.layers)
        self.dx_polar = domain.dx(tags)
        # the residual in-plane strain of every layer (the [strain] law), for the outputs
        self.strain_x = cw({n: s.strain_x for n, s in self.strains.items()}, "strain_x")
        self.strain_y = cw({n: s.strain_y for n, s in self.strains.items()}, "strain_y")

    def facet_layers(self, facet: str) -> list[str]:
        """The layers a named facet touches ("lower/upper", "bottom", "top")."""
        names = [lay.name for lay in self.domain.cfg.layers]
        if facet == "bottom":
            return names[:1]
        if facet == "top":
            return names[-1:]
        return [n for n in facet.split("/") if n in names]

    def bias_strain_fraction(self, facet: str) -> float:
        """r of ``polar_bias_follows_strain``: the retained fraction of the misfit along the
        chosen lab axis of the strained layer at the facet (the adjacent layer with the
        largest misfit along that axis); 1 for a constant bias or no strained neighbour."""
        bc = self.domain.cfg.boundary[facet]
        axis = bc.polar_bias_follows_strain
        if axis is None:
            return 1.0
        best, frac = 0.0, 1.0
        for name in self.facet_layers(facet):
            st = self.strains.get(name)
            if st is None:
                continue
            f, r = (st.misfit_x, st.retained_x) if axis == "x" else (st.misfit_y, st.retained_y)
            if abs(f) > best:
                best, frac = abs(f), r
        return frac

    def effective_bias(self, facet: str) -> float:
        """The interface field h [V] on a facet: ``polar_bias_V``, times the retained strain
        fraction where the bias follows the strain."""
        bc = self.domain.cfg.boundary[facet]
        return float(bc.polar_bias_V) * self.bias_strain_fraction(facet)

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

    def unknowns(self):
        dim = self.domain.dim
        return [Unknown("P", self.domain.cfg.physics.element_degree, "C/m^2",
                        "polarization", () if dim == 1 else (dim,))]

    def residual(self, u, v, history=None):
        d, dim = self.domain, self.domain.dim
        P, w, phi = self.vec(u["P"]), self.vec(v["P"]), u["phi"]
        P2 = ufl.inner(P, P)
        dx = self.dx_polar
        F = (ufl.inner(2 * self.A * P + 4 * self.a11 * P2 * P + 6 * self.a111 * P2 * P2 * P, w)
             + self.g * ufl.inner(ufl.grad(P), ufl.grad(w))
             + ufl.inner(ufl.grad(phi), w) / (units.NM * P_SCALE)) * dx
        if history is not None:
            F += KINETIC * ufl.inner(history.ddt(lambda s: self.vec(s["P"]), u), w) * dx
        ez = ufl.unit_vector(dim - 1, dim)
        for name, bc in d.cfg.boundary.items():
            measure = d.facet_measure(name)
            side = (lambda x: x("+")) if measure.integral_type() == "interior_facet" else (lambda x: x)
            if bc.polar_bias_V is not None:
                h = self.effective_bias(name)
                F -= h / (units.NM * P_SCALE) * ufl.inner(ez, side(w)) * measure
            if bc.polar_extrapolation_nm is not None:
                g_side = self.g("+") + self.g("-") if measure.integral_type() == "interior_facet" \
                    else self.g
                F += g_side / bc.polar_extrapolation_nm * ufl.inner(side(P), side(w)) * measure
        pattern = d.pattern_term(u["P"], v["P"], self.layers)
        if pattern is not None:
            F += pattern
        return {"P": F}  # the bound charge: Electrostatics.bound_charge_term

    def dirichlet(self, spaces):
        V = spaces["P"]
        dofs = self.domain.inactive_dofs(V, self.layers)
        zero = np.zeros(V.dofmap.index_map_bs) if V.dofmap.index_map_bs > 1 else 0.0
        return {"P": [dolfinx.fem.dirichletbc(dolfinx.default_scalar_type(zero)
                                              if np.ndim(zero) == 0 else zero, dofs, V)]}

    def initialise(self, u):
        """Start from a small P along +z in the polar layers (the bias then picks the sign)."""
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
        d = self.domain
        P = self.vec(u["P"])
        Pz = P[d.dim - 1]
        cols = d.centre_line(801)
        z = cols[:, d.dim - 1]
        # sample P_z along the centre line (P is continuous)
        Pz_fun = dolfinx.fem.Function(d.dg_space(d.cfg.physics.element_degree))
        Pz_fun.interpolate(dolfinx.fem.Expression(Pz, Pz_fun.function_space.element.interpolation_points))
        pz = d.evaluate(Pz_fun, cols)
        bounds = dict(zip([lay.name for lay in d.cfg.layers], d.cfg.layer_bounds_nm()))
        interfaces = {}
        for lower, upper in zip(d.cfg.layers, d.cfg.layers[1:]):
            if lower.name not in self.layers and upper.name not in self.layers:
                continue
            zi = bounds[lower.name][1]
            i0 = int(np.argmin(np.abs(z - zi)))
            entry = {"z_nm": zi, "P_C_m2": float(pz[i0])}
            for side, name in (("below", lower.name), ("above", upper.name)):
                if name in self.layers:
                    entry[f"decay_length_{side}_nm"] = _decay_length(z, pz, i0, bounds[name])
            interfaces[f"{lower.name}/{upper.name}"] = entry
        area = d.lateral_area_nm2
        bare = {}
        for name in self.layers:
            eps_b = self.domain.material(d.cfg.layer(name))
            tag = d.stack.layer_ids[name]
            eps_zz = float(orientation.reduce_to_dim(orientation.to_lab(
                np.diag([eps_b.value("eps_inf_a", "dimensionless", 1.0)] * 2
                        + [eps_b.value("eps_inf_c", "dimensionless", 1.0)]),
                d.cfg.layer(name).orientation), d.dim)[-1, -1])
            bare[name] = units.SIGMA_SCALE * d.integrate(Pz, d.dx(tag)) / eps_zz / area
        biases = {name: self.effective_bias(name) for name, bc in d.cfg.boundary.items()
                  if bc.polar_bias_V is not None}
        return {
            "interfaces": interfaces,
            "polar_bias_V": biases,
            "a1_zz_J_m_C2": self.a1_zz,
            "strain": {n: s.as_dict() for n, s in self.strains.items()},
            "max_abs_P_C_m2": float(np.nanmax(np.abs(pz))) if pz.size else 0.0,
            "max_displacement_pm": self._max_pm(pz, cols),
            "dipole_potential_step_bare_V": bare,
        }

    def _max_pm(self, pz, points) -> float:
        """Largest displacement along the centre line, on the points P_z was sampled at."""
        conv = self.domain.evaluate(self.to_pm, points)
        vals = np.abs(pz * conv)
        return float(np.nanmax(vals)) if vals.size else 0.0


def _decay_length(z, pz, i0, bounds) -> float | None:
    """Distance from the interface (index i0) into the layer [z0, z1] over which |P| falls to
    1/e of its interface value (None if it does not within the layer)."""
    p0 = abs(pz[i0])
    if p0 == 0 or not np.isfinite(p0):
        return None
    inside = (z >= bounds[0] - 1e-12) & (z <= bounds[1] + 1e-12)
    dist = np.abs(z - z[i0])
    order = np.argsort(dist)
    for j in order:
        if inside[j] and abs(pz[j]) <= p0 / np.e:
            return float(dist[j])
    return None
