"""Linear elasticity of the stack: coherent misfit strain and electrostriction.

    div sigma = 0,    sigma = C : (eps(u) - eps_misfit - eps_es(P)),    eps(u) = sym grad u

Unknown: the displacement u [nm] (a vector of the run's dimension, Lagrange of the element
degree), in the solid layers only; dofs that touch no solid cell (vacuum) are fixed to 0.

Reference configuration. The mesh is the stack with every layer in its own unstrained
thickness along z and the substrate's (bottom layer's) lattice in plane. A coherent layer
whose bulk lattice differs from the substrate's carries the eigenstrain

    eps_misfit = diag(-f_x, -f_y, 0)        (lab frame)

where (f_x, f_y) is the in-plane misfit strain the layer must take to be coherent, f =
(a_substrate - a_layer) / a_layer along lab x and y (RuO2 on TiO2(110): f_x = -4.7 % along
[001], f_y = +2.3 % along [1-10]). It is given per layer (``misfit``; the strain-relaxation
law of :mod:`heterofem.solver.strain` provides the residual misfit of partly relaxed layers);
the substrate has f = 0. A coherent layer then ends up with the lattice strain
eps(u) - eps_misfit = f in plane, which is what the outputs report ("lattice strain": strain
relative to the layer's own unstrained bulk lattice, as X-ray diffraction measures it).

Electrostriction (only when an unknown "P" exists and the layer's material gives all of
``electrostriction_Q11``, ``electrostriction_Q12``, ``electrostriction_Q44`` [m^4/C^2]): the
eigenstrain eps_es_ij = Q_ijkl P_k P_l with the cubic-form tensor of the Devonshire
convention in crystal axes (Voigt, engineering shear strain): eps_1 = Q11 P1^2 + Q12 (P2^2 +
P3^2), ..., eps_4 = 2 eps_23 = Q44 P2 P3, ...; rotated to the lab frame like C. P is taken as
``polarization_scale * u["P"]`` in C/m^2 (lab components: (P_x, P_z) in 2D, (P_x, P_y, P_z) in
3D, a scalar P is P_z). This is a simplification: rutile is tetragonal and has six independent
Q_ij; the cubic form is what the literature gives for the interfacial polar layers.

Stiffness: the tetragonal (4/mmm) Voigt matrix of the material (C11, C12, C13, C33, C44, C66
in crystal axes a, b, c), rotated to the lab frame by the layer orientation,
C'_ijkl = R_ia R_jb R_kc R_ld C_abcd with R = :func:`heterofem.solver.orientation.rotation`.

1D runs are the epitaxial column: u = u_z(z) only, the in-plane total strain is zero (the
film is clamped in plane to the substrate, with its retained misfit as eigenstrain), so the
lattice strain is (f_x, f_y, du_z/dz - eps0_zz): bottom fixed, sigma_zz = 0 at the free top
and at every interface (traction continuity), which a uniform layer satisfies with
eps_zz = -(C'_zx f_x + C'_zy f_y) / C'_zz (:func:`coherent_film`).

Two-way coupling to the polarization: the stress the polarization's strain couplings give
(quantity ``polarization_stress``, d f_coupling / d eps: the Landau strain coupling
-kappa_i eps_ii P_z^2 and the flexoelectric term; solver/physics/polarization.py) is added to
the elastic stress, and this module provides the solved lattice strain (quantity
``lattice_strain``) that the polarization's Landau coefficients read.

2D runs are the x-z cross-section in generalised plane strain: u = (u_x, u_z) does not depend
on y and u_y = 0, so the total strain eps(u)_yy = 0 while the eigenstrain keeps its yy part:
a coherent layer has the lattice strain f_y along y too (laterally infinite in y), and
sigma_yy is reported. With f_y = 0 this is ordinary plane strain.

Scaling: lengths in nm (u in nm, strain dimensionless), stresses divided by C_REF = 100 GPa,
so the residual is O(strain) per unit volume:

    int_solid (C/C_REF) : (eps(u) - eps0) : eps(v) dx - int_N (t/C_REF) . v ds = 0

Boundary conditions by facet name (defaults mimic a thick substrate under a laterally
infinite, periodic film): ``bottom`` fixed (u = 0); ``left``/``right`` roller (u_x = 0),
``front``/``back`` roller (u_y = 0); ``top`` and interfaces free (traction-free). The
constructor's ``boundary`` dict, or (once the schema has them) the facet's
``[boundary.<facet>]`` keys ``mechanics = "fixed" | "roller" | "free" | "displacement" |
"traction"``, ``displacement_nm = [...]`` and ``traction_GPa = [...]`` change them. A roller
fixes the component normal to the facet, so it exists only on the axis-aligned outer sides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import ufl

from heterofem.solver import orientation, units
from heterofem.solver.dolfinx_env import MPI, dolfinx
from heterofem.solver.physics.base import OutputField, Physics, Unknown
from heterofem.solver.physics.material_keys import ELASTIC_KEYS, ELECTROSTRICTION_KEYS
from heterofem.solver.physics.quantities import LATTICE_STRAIN, POLARIZATION_STRESS

#: stress scale [GPa]: the residual carries sigma / C_REF
C_REF_GPA = 100.0
GPA = 1e9  #: [Pa]

#: Voigt order of the symmetric index pairs: xx, yy, zz, yz, xz, xy
VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
_VOIGT_OF = {}
for _I, (_i, _j) in enumerate(VOIGT):
    _VOIGT_OF[(_i, _j)] = _VOIGT_OF[(_j, _i)] = _I


#: mechanics condition of a facet that no config or constructor entry names
DEFAULT_BOUNDARY = {"bottom": "fixed", "left": "roller", "right": "roller",
                    "front": "roller", "back": "roller", "top": "free"}
BOUNDARY_KINDS = ("fixed", "roller", "free", "displacement", "traction")


# -- tensors (numpy) ---------------------------------------------------------------------------
def tetragonal_voigt(C11: float, C12: float, C13: float, C33: float, C44: float,
                     C66: float) -> np.ndarray:
    """The 6x6 Voigt stiffness of a tetragonal 4/mmm crystal (rutile), crystal axes a, b, c."""
    c = np.zeros((6, 6))
    c[0, 0] = c[1, 1] = C11
    c[2, 2] = C33
    c[0, 1] = c[1, 0] = C12
    c[0, 2] = c[2, 0] = c[1, 2] = c[2, 1] = C13
    c[3, 3] = c[4, 4] = C44
    c[5, 5] = C66
    return c


def voigt_to_tensor(c6: np.ndarray) -> np.ndarray:
    """The 3x3x3x3 stiffness C_ijkl of a 6x6 Voigt matrix (stress-strain, engineering shear)."""
    c6 = np.asarray(c6, dtype=float)
    c = np.empty((3, 3, 3, 3))
    for i, j, k, l in np.ndindex(3, 3, 3, 3):
        c[i, j, k, l] = c6[_VOIGT_OF[(i, j)], _VOIGT_OF[(k, l)]]
    return c


def tensor_to_voigt(c: np.ndarray) -> np.ndarray:
    """The 6x6 Voigt matrix of a stiffness tensor with minor symmetries (inverse of
    :func:`voigt_to_tensor`)."""
    c = np.asarray(c, dtype=float)
    return np.array([[c[i, j, k, l] for (k, l) in VOIGT] for (i, j) in VOIGT])


def rotate_tensor4(t: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """T'_ijkl = R_ia R_jb R_kc R_ld T_abcd (R maps crystal to lab components)."""
    r = np.asarray(rot, dtype=float)
    return np.einsum("ia,jb,kc,ld,abcd->ijkl", r, r, r, r, np.asarray(t, dtype=float))


def _rotation_matrix(orient: str | np.ndarray) -> np.ndarray:
    return orientation.rotation(orient) if isinstance(orient, str) else np.asarray(orient, float)


def rotate_stiffness(c6: np.ndarray, orient: str | np.ndarray) -> np.ndarray:
    """A Voigt stiffness given in crystal axes, in the lab frame of an orientation ("001",
    "110", ...) or of an orthogonal matrix R (T_lab = R T_crystal R^T)."""
    return tensor_to_voigt(rotate_tensor4(voigt_to_tensor(c6), _rotation_matrix(orient)))


def electrostriction_tensor(Q11: float, Q12: float, Q44: float) -> np.ndarray:
    """Q_ijkl of the cubic-form electrostriction (Devonshire convention, engineering shear:
    2 eps_23 = Q44 P2 P3), so that eps_ij = Q_ijkl P_k P_l."""
    q = np.zeros((3, 3, 3, 3))
    for i in range(3):
        for j in range(3):
            if i == j:
                q[i, i, i, i] = Q11
            else:
                q[i, i, j, j] = Q12
                q[i, j, i, j] = q[i, j, j, i] = Q44 / 4.0
    return q


def electrostriction_voigt(q: np.ndarray) -> np.ndarray:
    """M (6x6) with eps_voigt = M . (P1^2, P2^2, P3^2, P2 P3, P1 P3, P1 P2), eps_voigt in
    engineering shear form (xx, yy, zz, 2 yz, 2 xz, 2 xy), for a tensor Q_ijkl."""
    m = np.zeros((6, 6))
    for I, (i, j) in enumerate(VOIGT):
        for J, (k, l) in enumerate(VOIGT):
            m[I, J] = (1.0 if I < 3 else 2.0) * q[i, j, k, l] * (1.0 if J < 3 else 2.0)
    return m


def stiffness_lab(material, orient: str) -> np.ndarray:
    """Lab-frame Voigt stiffness [GPa] of a material (C11..C66) in an orientation."""
    c6 = tetragonal_voigt(*(material.value(k, "GPa") for k in ELASTIC_KEYS))
    return rotate_stiffness(c6, orient)


def coherent_film(c6_lab: np.ndarray, f_x: float, f_y: float) -> dict[str, float]:
    """The analytic state of a coherent, laterally uniform layer with a traction-free top:
    lattice strain (f_x, f_y) in plane, eps_zz from sigma_zz = 0, and the in-plane stresses
    (units of C). Valid where the normal strains do not couple to shear (all orientations of
    :mod:`heterofem.solver.orientation`)."""
    c = voigt_to_tensor(c6_lab)
    ezz = -(c[2, 2, 0, 0] * f_x + c[2, 2, 1, 1] * f_y) / c[2, 2, 2, 2]
    sig = lambda i: c[i, i, 0, 0] * f_x + c[i, i, 1, 1] * f_y + c[i, i, 2, 2] * ezz  # noqa: E731
    return {"strain_xx": f_x, "strain_yy": f_y, "strain_zz": ezz,
            "sigma_xx": sig(0), "sigma_yy": sig(1)}


# -- UFL (no heterofem objects: verification tests call these on any mesh) ---------------------
def strain_voigt(u, dim: int):
    """Voigt strain (xx, yy, zz, 2 yz, 2 xz, 2 xy) of a displacement; 2D meshes are the lab
    x-z plane (mesh coordinates (x, z)) in plane strain (no y component)."""
    g = ufl.grad(u)
    if dim == 1:  # the epitaxial column: only u_z(z)
        return ufl.as_vector([0.0, 0.0, g[0], 0.0, 0.0, 0.0])
    if dim == 3:
        return ufl.as_vector([g[0, 0], g[1, 1], g[2, 2], g[1, 2] + g[2, 1], g[0, 2] + g[2, 0],
                              g[0, 1] + g[1, 0]])
    if dim == 2:
        return ufl.as_vector([g[0, 0], 0.0, g[1, 1], 0.0, g[0, 1] + g[1, 0], 0.0])
    raise ValueError("mechanics needs a 1D, 2D or 3D mesh")


def voigt_tensor(s):
    """The symmetric 3x3 lab tensor of a Voigt stress vector."""
    return ufl.as_matrix([[s[0], s[5], s[4]], [s[5], s[1], s[3]], [s[4], s[3], s[2]]])


def mesh_stress(s, dim: int):
    """The dim x dim block of a Voigt stress in mesh coordinates (2D: x, z)."""
    t = voigt_tensor(s)
    return t if dim == 3 else ufl.as_matrix([[t[0, 0], t[0, 2]], [t[2, 0], t[2, 2]]])


def von_mises(s):
    """Von Mises equivalent stress of a Voigt stress vector."""
    return ufl.sqrt(0.5 * ((s[0] - s[1]) ** 2 + (s[1] - s[2]) ** 2 + (s[2] - s[0]) ** 2)
                    + 3.0 * (s[3] ** 2 + s[4] ** 2 + s[5] ** 2))


def polarization_lab(P, dim: int):
    """Lab 3-vector of a polarization field: scalar -> (0, 0, P), 2D (x, z) -> (P_x, 0, P_z)."""
    if P.ufl_shape == ():
        return ufl.as_vector([0.0, 0.0, P])
    if P.ufl_shape == (2,):
        return ufl.as_vector([P[0], 0.0, P[1]])
    return P


def electrostriction_strain(M, P):
    """Voigt eigenstrain M . (P1^2, P2^2, P3^2, P2 P3, P1 P3, P1 P2) of a lab 3-vector P."""
    pp = ufl.as_vector([P[0] ** 2, P[1] ** 2, P[2] ** 2, P[1] * P[2], P[0] * P[2], P[0] * P[1]])
    return ufl.dot(M, pp)


def elasticity_residual(u, v, C, dx, dim: int, eigenstrain=None, body_force=None,
                        tractions=()):
    """Weak residual of -div(C : (eps(u) - eps0)) = f with Neumann tractions.

    ``C``: 6x6 Voigt stiffness (UFL, e.g. DG0); ``eigenstrain``: Voigt 6-vector (engineering
    shear); ``body_force``: a dim-vector; ``tractions``: (t, measure) pairs with t = sigma.n
    prescribed (a dim-vector; interior measures use the '+' side of v). All in the units of C.
    """
    eps = strain_voigt(u, dim)
    if eigenstrain is not None:
        eps = eps - eigenstrain
    F = ufl.inner(ufl.dot(C, eps), strain_voigt(v, dim)) * dx
    if body_force is not None:
        F -= ufl.dot(body_force, v) * dx
    for t, measure in tractions:
        vv = v("+") if measure.integral_type() == "interior_facet" else v
        F -= ufl.dot(t, vv) * measure
    return F


# -- the physics module ------------------------------------------------------------------------
Misfit = Mapping[str, Sequence[float]] | Callable[[object], Sequence[float]]


class Mechanics(Physics):
    """Linear elasticity with misfit and electrostrictive eigenstrains (see module docstring).

    ``misfit``: per layer name (f_x, f_y), or a callable taking a config Layer and returning
    (f_x, f_y); layers not named get (0, 0). ``boundary``: facet name -> "fixed" | "roller" |
    "free" | ("displacement", [u_x, (u_y,) u_z] nm) | ("traction", [t_x, (t_y,) t_z] GPa);
    it overrides the config and the defaults. ``polarization_scale``: C/m^2 per unit of the
    unknown "P".
    """

    name = "mechanics"
    reads = ()
    #: electrostriction and the polarization's coupling stress, when a polarization exists
    reads_optional = ("P", POLARIZATION_STRESS)
    provides = (LATTICE_STRAIN,)

    @classmethod
    def from_domain(cls, domain, couplings=None):
        """As a run builds it: the residual misfit of each layer from the [strain] law."""
        from heterofem.solver.strain import layer_strains

        strains = layer_strains(domain.cfg, domain.materials)
        return cls(domain, misfit={n: (s.strain_x, s.strain_y) for n, s in strains.items()},
                   couplings=couplings)

    def __init__(self, domain, misfit: Misfit | None = None,
                 boundary: Mapping[str, object] | None = None,
                 polarization_scale: float = 1.0, couplings=None):
        super().__init__(domain, couplings)
        cfg = domain.cfg
        self.solid = [lay for lay in cfg.layers if lay.material != "vacuum"]
        self.misfit = self._resolve_misfit(misfit)
        self.polarization_scale = float(polarization_scale)

        stiff, eps0, es, missing = {}, {}, {}, []
        for lay in self.solid:
            mat = domain.material(lay)
            lacking = [k for k in ELASTIC_KEYS if not mat.has(k)]
            if lacking:
                missing.append(f"layer '{lay.name}' (material '{mat.name}') lacks "
                               f"{', '.join(lacking)}")
                continue
            stiff[lay.name] = stiffness_lab(mat, lay.orientation)
            f_x, f_y = self.misfit[lay.name]
            eps0[lay.name] = np.array([-f_x, -f_y, 0.0, 0.0, 0.0, 0.0])
            given = [k for k in ELECTROSTRICTION_KEYS if mat.has(k)]
            if given and len(given) < len(ELECTROSTRICTION_KEYS):
                missing.append(f"layer '{lay.name}' (material '{mat.name}') gives "
                               f"{', '.join(given)} but not all of "
                               f"{', '.join(ELECTROSTRICTION_KEYS)}")
            elif given:
                q = electrostriction_tensor(*(mat.value(k, "m^4/C^2")
                                              for k in ELECTROSTRICTION_KEYS))
                rot = orientation.rotation(lay.orientation)
                es[lay.name] = electrostriction_voigt(rotate_tensor4(q, rot))
        if missing:
            raise ValueError("mechanics needs the elastic constants C11, C12, C13, C33, C44, "
                             "C66 [GPa] of every solid layer (and all three electrostriction "
                             "coefficients [m^4/C^2] or none): " + "; ".join(missing)
                             + " (add them under [materials.<name>] as { value, unit, source })")
        #: lab-frame Voigt stiffness per layer [GPa]
        self.stiffness_GPa = stiff
        cw = domain.cellwise
        self.C = cw({n: c / C_REF_GPA for n, c in stiff.items()}, "C_hat", (6, 6))
        self.eps0 = cw(eps0, "eps0_misfit", (6,))
        self.M_es = cw(es, "Q_electrostriction", (6, 6)) if es else None
        self.is_solid = cw({lay.name: 1.0 for lay in self.solid}, "solid")
        self.dx = domain.dx
        self.dx_solid = self.dx(tuple(domain.stack.layer_ids[lay.name] for lay in self.solid))
        self.boundary = self._resolve_boundary(boundary or {})

    # -- set-up ----------------------------------------------------------------------------
    def _resolve_misfit(self, misfit: Misfit | None) -> dict[str, tuple[float, float]]:
        names = [lay.name for lay in self.solid]
        if misfit is None:
            return {n: (0.0, 0.0) for n in names}
        if callable(misfit):
            out = {lay.name: misfit(lay) for lay in self.solid}
        else:
            unknown = sorted(set(misfit) - set(names))
            if unknown:
                raise ValueError(f"misfit given for {unknown}, which are not solid layers "
                                 f"(solid layers: {', '.join(names)})")
            out = {n: misfit.get(n, (0.0, 0.0)) for n in names}
        resolved = {}
        for n, value in out.items():
            f = tuple(float(x) for x in value)
            if len(f) != 2 or not all(np.isfinite(f)):
                raise ValueError(f"misfit of layer '{n}' must be two finite numbers (f_x, f_y), "
                                 f"got {value!r}")
            resolved[n] = f
        return resolved

    def _resolve_boundary(self, override: Mapping[str, object]) -> dict[str, tuple[str, object]]:
        """facet -> (kind, value): defaults, then the config's keys, then ``override``."""
        d = self.domain
        facets = d.stack.facet_ids
        spec: dict[str, object] = {n: k for n, k in DEFAULT_BOUNDARY.items() if n in facets}
        for name, bc in d.cfg.boundary.items():
            kind = getattr(bc, "mechanics", None)
            disp = getattr(bc, "displacement_nm", None)
            trac = getattr(bc, "traction_GPa", None)
            if disp is not None:
                spec[name] = ("displacement", disp)
            elif trac is not None:
                spec[name] = ("traction", trac)
            elif kind is not None:
                spec[name] = kind
        if d.dim == 1:  # the traction has one component; a roller is a fixed end
            spec = {n: ("fixed" if k == "roller" else k) for n, k in spec.items()}
        spec.update(override)
        out = {}
        for name, value in spec.items():
            if name not in facets:
                raise ValueError(f"mechanics boundary on '{name}': no such facet set "
                                 f"(facets: {', '.join(facets)})")
            kind, vals = (value, None) if isinstance(value, str) else tuple(value)
            if kind not in BOUNDARY_KINDS:
                raise ValueError(f"mechanics boundary on '{name}': unknown kind {kind!r}; "
                                 f"use one of {', '.join(BOUNDARY_KINDS)}")
            if kind in ("displacement", "traction"):
                vals = np.asarray(vals, dtype=float).reshape(-1)
                if vals.size != d.dim:
                    raise ValueError(f"mechanics boundary on '{name}': {kind} needs "
                                     f"{d.dim} components, got {vals.size}")
            if kind == "roller" and self._normal_axis(name) is None:
                raise ValueError(f"mechanics boundary on '{name}': a roller needs an "
                                 "axis-aligned outer side (bottom, top, left, right, front, back)")
            if kind != "free":
                out[name] = (kind, vals)
        return out

    def _normal_axis(self, facet: str) -> int | None:
        dim = self.domain.dim
        axes = {"bottom": dim - 1, "top": dim - 1}
        if dim >= 2:
            axes.update(left=0, right=0)
        if dim == 3:
            axes.update(front=1, back=1)
        return axes.get(facet)

    # -- constitutive relations ------------------------------------------------------------
    def eigenstrain(self, u: dict):
        """Voigt eigenstrain (misfit + electrostriction) as UFL."""
        eps0 = self.eps0
        if self.M_es is not None and "P" in u:
            P = polarization_lab(self.polarization_scale * u["P"], self.domain.dim)
            eps0 = eps0 + electrostriction_strain(self.M_es, P)
        return eps0

    def lattice_strain(self, u: dict):
        """Voigt strain relative to each layer's unstrained bulk lattice (0 outside the solid)."""
        return self.is_solid * (strain_voigt(u["u"], self.domain.dim) - self.eps0)

    def stress_hat(self, u: dict):
        """Voigt stress / C_REF (0 outside the solid)."""
        return ufl.dot(self.C, strain_voigt(u["u"], self.domain.dim) - self.eigenstrain(u))

    def elastic_energy_density(self, u: dict):
        """Elastic energy density [J/m^3] (UFL): 1/2 sigma : (eps - eps0). Its derivative
        with respect to P is the electrostrictive force a polarization module adds."""
        eps = strain_voigt(u["u"], self.domain.dim) - self.eigenstrain(u)
        return 0.5 * C_REF_GPA * GPA * ufl.inner(ufl.dot(self.C, eps), eps)

    # -- Physics interface -----------------------------------------------------------------
    def provided(self):
        return {LATTICE_STRAIN: self.lattice_strain}

    def unknowns(self):
        dim = self.domain.dim
        return [Unknown("u", self.domain.cfg.physics.element_degree, "nm", "displacement",
                        shape=() if dim == 1 else (dim,))]

    def residual(self, u, v, history=None):
        d = self.domain
        tractions = []
        for name, (kind, vals) in self.boundary.items():
            if kind == "traction":
                t = dolfinx.fem.Constant(d.mesh, np.asarray(vals / C_REF_GPA,
                                                            dtype=dolfinx.default_scalar_type))
                tractions.append((t, d.facet_measure(name)))
        F = elasticity_residual(u["u"], v["u"], self.C, self.dx_solid, d.dim,
                                eigenstrain=self.eigenstrain(u), tractions=tractions)
        stress = self.couplings.get(POLARIZATION_STRESS)
        if stress is not None:  # the polarization's coupling stress [Pa]
            F += ufl.inner(stress(u) / (C_REF_GPA * GPA),
                           strain_voigt(v["u"], d.dim)) * self.dx_solid
        pattern = d.pattern_term(u["u"], v["u"], [lay.name for lay in self.solid])
        if pattern is not None:
            F += pattern
        return {"u": F}

    def dirichlet(self, spaces):
        d, V = self.domain, spaces["u"]
        fdim, dtype = d.dim - 1, dolfinx.default_scalar_type
        zeros = dtype(0.0) if d.dim == 1 else np.zeros(d.dim, dtype=dtype)
        bcs = []
        for name, (kind, vals) in self.boundary.items():
            if kind == "traction":
                continue
            facets = d.stack.facet_tags.find(d.stack.facet_ids[name])
            if kind == "roller" and d.dim > 1:
                Vi = V.sub(self._normal_axis(name))
                dofs = dolfinx.fem.locate_dofs_topological(Vi, fdim, facets)
                bcs.append(dolfinx.fem.dirichletbc(dtype(0.0), dofs, Vi))
                continue
            value = zeros if kind == "fixed" else (
                dtype(vals[0]) if d.dim == 1 else vals.astype(dtype))
            dofs = dolfinx.fem.locate_dofs_topological(V, fdim, facets)
            bcs.append(dolfinx.fem.dirichletbc(value, dofs, V))
        inactive = d.inactive_dofs(V, [lay.name for lay in self.solid])
        bcs.append(dolfinx.fem.dirichletbc(zeros, inactive, V))
        return {"u": bcs}

    def outputs(self, u):
        dim = self.domain.dim
        e = self.lattice_strain(u)
        s = self.stress_hat(u)
        lab = {1: "z", 2: "xz", 3: "xyz"}[dim]
        out = [OutputField(f"u_{c}", "nm", u["u"] if dim == 1 else u["u"][i])
               for i, c in enumerate(lab)]
        normal = {"x": 0, "y": 1, "z": 2}
        for c in ("x", "y", "z"):
            out.append(OutputField(f"strain_{c}{c}", "1", e[normal[c]], kind="cell"))
        out.append(OutputField("strain_xz", "1", 0.5 * e[4], kind="cell"))
        for c in ("x", "y", "z"):
            out.append(OutputField(f"sigma_{c}{c}", "GPa", s[normal[c]], kind="cell",
                                   scale=C_REF_GPA))
        out.append(OutputField("sigma_xz", "GPa", s[4], kind="cell", scale=C_REF_GPA))
        out.append(OutputField("von_mises", "GPa", von_mises(s), kind="cell", scale=C_REF_GPA))
        return out

    def layer_means(self, u) -> dict[str, dict[str, float]]:
        """Per solid layer: mean lattice strains and stresses [GPa] (collective)."""
        d = self.domain
        e, s = self.lattice_strain(u), self.stress_hat(u)
        out = {}
        for lay in self.solid:
            dx = self.dx(d.stack.layer_ids[lay.name])
            vol = d.integrate(ufl.as_ufl(1.0), dx)
            mean = lambda x: d.integrate(x, dx) / vol  # noqa: E731
            out[lay.name] = {
                "misfit_fx": self.misfit[lay.name][0],
                "misfit_fy": self.misfit[lay.name][1],
                "strain_xx": mean(e[0]), "strain_yy": mean(e[1]), "strain_zz": mean(e[2]),
                "sigma_xx_GPa": C_REF_GPA * mean(s[0]),
                "sigma_yy_GPa": C_REF_GPA * mean(s[1]),
                "sigma_zz_GPa": C_REF_GPA * mean(s[2]),
            }
        return out

    def summary(self, u):
        d = self.domain
        energy = d.integrate(self.elastic_energy_density(u), self.dx_solid)  # J/m^3 nm^dim
        vm = dolfinx.fem.Function(d.dg_space(0))
        vm.interpolate(dolfinx.fem.Expression(C_REF_GPA * von_mises(self.stress_hat(u)),
                                              vm.function_space.element.interpolation_points))
        n_owned = d.mesh.topology.index_map(d.dim).size_local
        vm_max = d.comm.allreduce(float(np.max(vm.x.array[:n_owned], initial=0.0)), op=MPI.MAX)
        return {
            "layers": self.layer_means(u),
            "elastic_energy_J_per_m2": energy * units.NM / d.lateral_area_nm2,
            "von_mises_max_GPa": vm_max,
            "boundary": {name: kind for name, (kind, _) in self.boundary.items()},
        }
