"""Epitaxial misfit of coherent layers and its relaxation with thickness, computed per
in-plane direction from a misfit-dislocation energy balance (docs/model.md, "Strain").

Misfit. Each solid layer (except the substrate, the bottom layer) grows coherent with the
substrate: its in-plane lattice is stretched to the substrate's along the lab axes x and y,

    f = (d_substrate - d_film) / d_film

per direction, d the lattice spacing along that lab axis (orientation table in
:mod:`heterofem.solver.orientation`: for (110) films x = [001] (spacing c) and y = [1-10]
(spacing a sqrt 2); for (001) films both are a). RuO2 on TiO2(110): -4.76 % along [001] and
+2.27 % along [1-10] (database lattice constants).

Relaxation (``[strain] law``), per direction i = x, y, with b_i the Burgers vector of the
misfit dislocations that relieve the misfit along i (pure edge, line in plane perpendicular to
i; rutile: b = c = [001] along [001], b = a = <100> for [1-10]: the shortest lattice
translations with a component along those directions, PARAMETERS.md row b) and nu_i the
Poisson ratio of the film for that direction, from its elastic constants in the lab frame:
nu_i / (1 - nu_i) = C'_zi / C'_zz (the out-of-plane response of a film strained along i with a
free top), i.e. nu_i = C'_zi / (C'_zi + C'_zz):

- "coherent": the full misfit at any thickness (no dislocations);
- "people_bean": the energy balance of People and Bean (Appl. Phys. Lett. 47, 322 (1985)):
  a film relaxes once its areal strain energy exceeds the self-energy of a dislocation
  array spread over a width ~ b (nucleation-limited: no pre-existing threading dislocations
  to bend over). Critical thickness for a misfit f,

      h_c = A / f^2 ln(h_c / b),     A = (1 - nu)/(1 + nu) b^2 / (16 pi sqrt(2) d),

  with d the film's lattice spacing along i (the lattice constant of the original form);
  the larger root (none when A / f^2 < e b: h_c < e b, relaxed from the first cells);
- "matthews_blakeslee": the equilibrium of a threading dislocation bending over
  (J. Cryst. Growth 27, 118 (1974)), pure edge b along i:

      h_c = B / f (ln(h_c / b) + 1),     B = b / (8 pi (1 + nu)).

Residual strain beyond h_c follows from the same balance: the retained strain eps(h) of a
film of thickness h > h_c is the strain for which h is critical, eps = sqrt(A ln(h/b) / h)
(People-Bean) or B (ln(h/b) + 1) / h (Matthews-Blakeslee), with the sign of f; below h_c the
film keeps f. Nothing is typed: h_c and the retained misfit are outputs.

Why People-Bean for RuO2 on TiO2(110): Matthews-Blakeslee gives h_c below one cell along
[001] (0.2 nm) and 1.2-1.7 nm along [1-10], while films stay fully strained to ~4 nm (RSM,
Jeong et al.): the glide of a threading dislocation is not what limits relaxation there (the
c-type Burgers vector glides on (110), the interface plane itself, so it cannot thread in from
the surface; the inclined <101>{101} systems need nucleation). This choice was made knowing
the measured 4 nm (ledger: the law counts as chosen with the data in view); it has no
continuous parameter tuned to it. It gives h_c = 2.2 nm along [001] and ~50 nm along [1-10]
with the database's RuO2 elastic constants. b = c is the smallest Burgers vector with an
[001] component (the lowest h_c); <101> dislocations (b = 0.55 nm) would give 5.6-10 nm
(docs/model.md: a structural uncertainty of the model).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from heterofem.solver import orientation
from heterofem.solver.config import Config, StrainSection
from heterofem.solver.materials import Material

#: lattice spacing along lab x and y for each orientation, in terms of (a, c)
_INPLANE = {
    "001": (lambda a, c: a, lambda a, c: a),
    "100": (lambda a, c: c, lambda a, c: a),
    "010": (lambda a, c: c, lambda a, c: a),
    "110": (lambda a, c: c, lambda a, c: a * math.sqrt(2.0)),
    "1-10": (lambda a, c: c, lambda a, c: a * math.sqrt(2.0)),
}

#: Burgers vector of the misfit dislocations relieving the strain along lab x and y, and the
#: lattice spacing d of the People-Bean form, in terms of (a, c) [same unit]
_BURGERS = {
    "001": ((lambda a, c: a, lambda a, c: a), (lambda a, c: a, lambda a, c: a)),
    "100": ((lambda a, c: c, lambda a, c: c), (lambda a, c: a, lambda a, c: a)),
    "010": ((lambda a, c: c, lambda a, c: c), (lambda a, c: a, lambda a, c: a)),
    "110": ((lambda a, c: c, lambda a, c: c), (lambda a, c: a, lambda a, c: a)),
    "1-10": ((lambda a, c: c, lambda a, c: c), (lambda a, c: a, lambda a, c: a)),
}

#: the relaxation laws (``[strain] law``)
LAWS = ("coherent", "people_bean", "matthews_blakeslee")


def inplane_spacings(material: Material, orientation_name: str) -> tuple[float, float]:
    a = material.value("a_lattice", "angstrom")
    c = material.value("c_lattice", "angstrom")
    fx, fy = _INPLANE[orientation_name]
    return fx(a, c), fy(a, c)


def misfit(film: Material, substrate: Material, orient: str,
           substrate_orientation: str | None = None) -> tuple[float, float]:
    """(f_x, f_y): strain a coherent film takes along lab x and y."""
    dfx, dfy = inplane_spacings(film, orient)
    dsx, dsy = inplane_spacings(substrate, substrate_orientation or orient)
    return (dsx - dfx) / dfx, (dsy - dfy) / dfy


def burgers_nm(material: Material, orient: str, axis: int) -> tuple[float, float]:
    """(b, d) [nm] of the misfit dislocations along lab axis 0 (x) or 1 (y)."""
    a = material.value("a_lattice", "nm")
    c = material.value("c_lattice", "nm")
    fb, fd = _BURGERS[orient][axis]
    return fb(a, c), fd(a, c)


#: the tetragonal (4/mmm) elastic constants of a material, Voigt order
ELASTIC_KEYS = ("C11", "C12", "C13", "C33", "C44", "C66")


def stiffness_lab(material: Material, orient: str) -> np.ndarray | None:
    """The lab-frame stiffness tensor C'_ijkl [GPa] of the tetragonal constants C11..C66 of
    a material (None when it lacks one of them)."""
    if not all(material.has(k) for k in ELASTIC_KEYS):
        return None
    C11, C12, C13, C33, C44, C66 = (material.value(k, "GPa") for k in ELASTIC_KEYS)
    c = np.zeros((3, 3, 3, 3))
    normal = np.array([[C11, C12, C13], [C12, C11, C13], [C13, C13, C33]])
    for i in range(3):
        for j in range(3):
            c[i, i, j, j] = normal[i, j]
    for (i, j), g in (((1, 2), C44), ((0, 2), C44), ((0, 1), C66)):
        c[i, j, i, j] = c[j, i, j, i] = c[i, j, j, i] = c[j, i, i, j] = g
    q = orientation.rotation(orient)
    return np.einsum("ia,jb,kc,ld,abcd->ijkl", q, q, q, q, c)


def poisson_ratios(material: Material, orient: str) -> tuple[float, float]:
    """(nu_x, nu_y): nu_i = C'_zi / (C'_zi + C'_zz), C' the lab-frame stiffness of the
    tetragonal constants C11..C66 (``poisson_ratio`` of the material for both when it has
    no elastic constants)."""
    lab = stiffness_lab(material, orient)
    if lab is None:
        nu = material.value("poisson_ratio", "dimensionless")
        return nu, nu
    czz = lab[2, 2, 2, 2]
    return tuple(float(lab[2, 2, i, i] / (lab[2, 2, i, i] + czz)) for i in (0, 1))


def free_surface_strain_zz(material: Material, orient: str, s_x: float, s_y: float) -> float:
    """eps_zz of a uniform layer with in-plane lattice strain (s_x, s_y) and sigma_zz = 0:
    -(C'_zx s_x + C'_zy s_y) / C'_zz (0 without elastic constants)."""
    lab = stiffness_lab(material, orient)
    if lab is None:
        return 0.0
    return float(-(lab[2, 2, 0, 0] * s_x + lab[2, 2, 1, 1] * s_y) / lab[2, 2, 2, 2])


def critical_thickness(f: float, b: float, d: float, nu: float, law: str) -> float:
    """h_c [units of b] of a misfit |f| (module docstring); inf for f = 0 or "coherent",
    and the smallest meaningful thickness (b) when the balance has no root above b."""
    f = abs(f)
    if law == "coherent" or f == 0.0:
        return math.inf
    if law == "people_bean":
        A = (1.0 - nu) / (1.0 + nu) * b * b / (16.0 * math.pi * math.sqrt(2.0) * d) / f**2
        g = lambda h: h - A * math.log(h / b)  # noqa: E731
        if A < math.e * b:  # min of g at h = A is positive: no root, relaxed at once
            return b
        lo, hi = A, A
        while g(hi) < 0:
            hi *= 2.0
        return _bisect(g, lo, hi)
    if law == "matthews_blakeslee":
        B = b / (8.0 * math.pi * (1.0 + nu)) / f
        g = lambda h: h - B * (math.log(h / b) + 1.0)  # noqa: E731
        if g(b) > 0.0:
            return b
        hi = 2.0 * b
        while g(hi) < 0:
            hi *= 2.0
        return _bisect(g, b, hi)
    raise ValueError(f"unknown strain law {law!r}; use one of {', '.join(LAWS)}")


def _bisect(g, lo: float, hi: float) -> float:
    from scipy.optimize import brentq

    return float(brentq(g, lo, hi, xtol=1e-12, rtol=1e-12))


def equilibrium_strain(h: float, b: float, d: float, nu: float, law: str) -> float:
    """|eps|(h): the strain for which a film of thickness h is critical (module docstring)."""
    if h <= b:
        return math.inf
    if law == "people_bean":
        A = (1.0 - nu) / (1.0 + nu) * b * b / (16.0 * math.pi * math.sqrt(2.0) * d)
        return math.sqrt(A * math.log(h / b) / h)
    if law == "matthews_blakeslee":
        return b / (8.0 * math.pi * (1.0 + nu)) * (math.log(h / b) + 1.0) / h
    return math.inf


def retained_fraction(h_nm: float, f: float, b: float, d: float, nu: float, law: str) -> float:
    """r(h): the fraction of the misfit f a layer of thickness h keeps."""
    if law == "coherent" or f == 0.0:
        return 1.0
    return min(1.0, equilibrium_strain(h_nm, b, d, nu, law) / abs(f))


@dataclass(frozen=True)
class LayerStrain:
    misfit_x: float
    misfit_y: float
    retained_x: float
    retained_y: float
    critical_thickness_x_nm: float = math.inf
    critical_thickness_y_nm: float = math.inf

    @property
    def strain_x(self) -> float:
        """Residual in-plane lattice strain along x (the retained misfit)."""
        return self.misfit_x * self.retained_x

    @property
    def strain_y(self) -> float:
        return self.misfit_y * self.retained_y

    def as_dict(self) -> dict[str, float | None]:
        """summary.json's ``strain.<layer>`` (an infinite h_c, no relaxation, is None)."""
        d = asdict(self)
        for k in ("critical_thickness_x_nm", "critical_thickness_y_nm"):
            d[k] = None if not math.isfinite(d[k]) else d[k]
        return {**d, "retained_misfit_x": self.strain_x, "retained_misfit_y": self.strain_y,
                "strain_x": self.strain_x, "strain_y": self.strain_y}


def layer_strain(film: Material, substrate: Material, orient: str, sub_orient: str,
                 h_nm: float, law: str) -> LayerStrain:
    """Misfit, critical thickness and retained fraction of one coherent layer."""
    f = misfit(film, substrate, orient, sub_orient)
    hc, r = [], []
    nus = poisson_ratios(film, orient) if law != "coherent" else (0.0, 0.0)
    for axis in (0, 1):
        b, d = burgers_nm(film, orient, axis)
        hc.append(critical_thickness(f[axis], b, d, nus[axis], law))
        r.append(retained_fraction(h_nm, f[axis], b, d, nus[axis], law))
    return LayerStrain(f[0], f[1], r[0], r[1], hc[0], hc[1])


def layer_strains(cfg: Config, materials: dict[str, Material]) -> dict[str, LayerStrain]:
    """In-plane misfit and residual strain of every solid layer (the substrate: zero)."""
    st: StrainSection = cfg.strain
    substrate = cfg.layers[0]
    out = {}
    for lay in cfg.layers:
        if lay.material == "vacuum":
            continue
        if lay is substrate or not lay.coherent:
            out[lay.name] = LayerStrain(0.0, 0.0, 1.0, 1.0)
            continue
        out[lay.name] = layer_strain(materials[lay.material], materials[substrate.material],
                                     lay.orientation, substrate.orientation, lay.thickness_nm,
                                     st.law)
    return out


def strain_summary(cfg: Config, materials: dict[str, Material]) -> dict[str, dict]:
    """summary.json's ``strain``: per solid layer the misfit, the computed critical
    thickness per direction and the retained misfit (the in-plane lattice strain)."""
    return {n: s.as_dict() for n, s in layer_strains(cfg, materials).items()}
