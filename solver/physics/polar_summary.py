"""summary.json's ``polarization`` block (solver/physics/polarization.py), per interface:

- ``z_nm``, ``P_C_per_m2``: position and P_z at the interface; ``decay_length_below_nm`` /
  ``_above_nm``: distance over which |P_z| falls to 1/e of its interface value;
- ``field_V``: the interface field along +z acting there (typed + flexoelectric jump);
- ``mean_displacement_pm``: the plane-averaged polar displacement of the interfacial region,
  u_z = P_z Omega / (Z* e) averaged over the polar layers within one lattice plane
  (``PLANE_NM`` = 0.32 nm, the (110) spacing a/sqrt(2) of RuO2) on either side of the
  interface, integrated over the cells (laterally too in 2D/3D); ``max_displacement_pm``: the
  displacement of largest magnitude there along the centre line (sign kept);
- ``interfacial_layer_thickness_nm``: the equivalent width of the polar distortion on the
  metal side, int |P_z| dz / max |P_z| over that layer up to its mid-plane (= the decay
  length of an exponential profile): the model's "compensated interfacial layer" (docs/model.md).

Top level: ``interfacial_layer_thickness_nm`` (mean over the metal/solid interfaces),
``interface_fields_V``, ``a1_zz_J_m_per_C2`` (a1*_zz in each layer's uniform strain state),
``strain`` (solver/strain.py), ``max_abs_P_C_per_m2``, ``max_displacement_pm``,
``dipole_potential_step_bare_V``.
"""

from __future__ import annotations

import numpy as np
import ufl

from heterofem.solver import orientation, units
from heterofem.solver.dolfinx_env import dolfinx

#: half-width of the interfacial region of the displacement outputs [nm]
PLANE_NM = 0.32


def polar_summary(pol, u) -> dict:
    """long: the summary of a :class:`~heterofem.solver.physics.polarization.Polarization`."""
    d = pol.domain
    P = pol.vec(u["P"])
    Pz = P[d.dim - 1]
    cols = d.centre_line(1601)
    z = cols[:, d.dim - 1]
    Pz_fun = dolfinx.fem.Function(d.dg_space(d.cfg.physics.element_degree))
    points = Pz_fun.function_space.element.interpolation_points
    Pz_fun.interpolate(dolfinx.fem.Expression(Pz, points))
    pz = d.evaluate(Pz_fun, cols)
    conv = d.evaluate(pol.to_pm, cols)
    bounds = dict(zip([lay.name for lay in d.cfg.layers], d.cfg.layer_bounds_nm()))
    fields = pol.interface_fields()
    interfaces, widths = {}, []
    for lower, upper in zip(d.cfg.layers, d.cfg.layers[1:]):
        if lower.name not in pol.layers and upper.name not in pol.layers:
            continue
        zi = bounds[lower.name][1]
        i0 = int(np.argmin(np.abs(z - zi)))
        facet = f"{lower.name}/{upper.name}"
        entry = {"z_nm": zi, "P_C_per_m2": float(pz[i0]), "field_V": fields.get(facet, 0.0)}
        metal_width = None
        for side, lay in (("below", lower), ("above", upper)):
            if lay.name not in pol.layers:
                continue
            entry[f"decay_length_{side}_nm"] = _decay_length(z, pz, i0, bounds[lay.name])
            width = _equivalent_width(z, pz, zi, bounds[lay.name])
            entry[f"equivalent_width_{side}_nm"] = width
            if d.material(lay).kind == "metal":
                metal_width = width
        entry["interfacial_layer_thickness_nm"] = metal_width
        near = (np.abs(z - zi) <= PLANE_NM) & np.isfinite(conv) & (conv > 0)
        disp = (pz * conv)[near]
        entry["mean_displacement_pm"] = _plane_average(pol, Pz, zi)
        entry["max_displacement_pm"] = float(disp[np.argmax(np.abs(disp))]) if disp.size else 0.0
        interfaces[facet] = entry
        solid = lower.material != "vacuum" and upper.material != "vacuum"
        if metal_width is not None and solid:
            widths.append(metal_width)
    disp_all = np.abs(pz * conv)
    disp_all = disp_all[np.isfinite(disp_all)]
    return {
        "interfaces": interfaces,
        "interfacial_layer_thickness_nm": float(np.mean(widths)) if widths else None,
        "interface_fields_V": fields,
        "a1_zz_J_m_per_C2": pol.a1_zz,
        "strain": {n: s.as_dict() for n, s in pol.strains.items()},
        "max_abs_P_C_per_m2": float(np.nanmax(np.abs(pz))) if pz.size else 0.0,
        "max_displacement_pm": float(np.max(disp_all)) if disp_all.size else 0.0,
        "dipole_potential_step_bare_V": _bare_steps(pol, Pz),
    }


def _plane_average(pol, Pz, zi: float) -> float:
    """u_z = P_z Omega / (Z* e) [pm] averaged over the polar layers with a Born charge within
    PLANE_NM of the height zi (laterally too in 2D/3D; collective)."""
    d = pol.domain
    z = ufl.SpatialCoordinate(d.mesh)[d.dim - 1]
    has_born = ufl.conditional(ufl.gt(pol.to_pm, 0.0), 1.0, 0.0)
    window = ufl.conditional(ufl.le(abs(z - zi), PLANE_NM), 1.0, 0.0) * has_born
    volume = d.integrate(window, pol.dx_polar)
    return float(d.integrate(window * pol.to_pm * Pz, pol.dx_polar) / volume) if volume > 0 else 0.0


def _bare_steps(pol, Pz) -> dict[str, float]:
    """Per polar layer: int P_z dz / (eps0 eps_inf,zz) [V], the unscreened dipole step."""
    d = pol.domain
    out = {}
    for name in pol.layers:
        mat = d.material(d.cfg.layer(name))
        eps_zz = float(orientation.reduce_to_dim(orientation.to_lab(
            np.diag([mat.value("eps_inf_a", "dimensionless", 1.0)] * 2
                    + [mat.value("eps_inf_c", "dimensionless", 1.0)]),
            d.cfg.layer(name).orientation), d.dim)[-1, -1])
        tag = d.stack.layer_ids[name]
        out[name] = units.SIGMA_SCALE * d.integrate(Pz, d.dx(tag)) / eps_zz / d.lateral_area_nm2
    return out


def _equivalent_width(z, pz, zi, bounds) -> float | None:
    """int |P_z| dz / max |P_z| over the layer [z0, z1] from the interface at zi up to the
    layer's mid-plane (None where P vanishes there)."""
    mid = 0.5 * (bounds[0] + bounds[1])
    lo, hi = (zi, mid) if zi <= mid else (mid, zi)
    sel = (z >= lo - 1e-12) & (z <= hi + 1e-12) & np.isfinite(pz)
    if sel.sum() < 2:
        return None
    p = np.abs(pz[sel])
    peak = float(np.max(p))
    if peak == 0.0:
        return None
    return float(np.trapezoid(p, z[sel]) / peak)


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
