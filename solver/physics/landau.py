"""The Landau coefficients of the polarization physics, read from the materials: which layers
are polar, the quadratic coefficient a1 at a temperature, and the checks of a material's
Landau data.

Part of :mod:`heterofem.solver.physics.polarization` (which imports these names), kept in a
module that imports no Domain so that the validation pass
(:mod:`heterofem.solver.physics.checks`) can call :func:`coefficient_problems` before any
Domain exists.
"""

from __future__ import annotations

import numpy as np

from heterofem.solver import orientation, units
from heterofem.solver.materials import Material


def has_landau(mat: Material) -> bool:
    return mat.has("landau_a11") and (
        mat.has("landau_a1") or (mat.has("curie_constant_a") and mat.has("curie_constant_c")))


def polar_layers(cfg, materials: dict[str, Material]) -> list[str]:
    """Names of the layers that carry P."""
    if not cfg.physics.polarization:
        return []
    out = []
    for lay in cfg.layers:
        if lay.material == "vacuum":
            continue
        wanted = lay.polar if lay.polar is not None else has_landau(materials[lay.material])
        if wanted:
            out.append(lay.name)
    return out


def landau_a1(mat: Material, T: float) -> tuple[float, float]:
    """(a1 across c, a1 along c) [J m / C^2] at temperature T."""
    if mat.has("landau_a1"):
        a1 = mat.value("landau_a1", "J*m/C^2")
        return a1, mat.value("landau_a1_c", "J*m/C^2", a1)
    out = []
    for d in ("a", "c"):
        chi = mat.value(f"curie_constant_{d}", "K") / (T - mat.value(f"curie_temperature_{d}", "K"))
        chi -= mat.value(f"eps_inf_{d}", "dimensionless", 0.0)
        out.append(1.0 / (2.0 * units.EPS0 * chi))
    return out[0], out[1]


def _a1_problem(mat: Material, T: float) -> str | None:
    """Why a1 at temperature T is not a finite number (the Curie-Weiss fit at T = T0, or a
    susceptibility equal to eps_inf), or None."""
    try:
        a1 = landau_a1(mat, T)
    except ZeroDivisionError:
        a1 = (float("inf"),)
    if all(np.isfinite(a1)):
        return None
    return (f"a1 is not finite at run.temperature_K = {T:g} K (Curie-Weiss singular: T = T0, "
            "or C/(T - T0) = eps_inf); change the temperature or the Curie-Weiss data, or give "
            "landau_a1")


def coefficient_problems(cfg, materials: dict[str, Material]) -> list[tuple[str, str]]:
    """Bad Landau coefficients, named by their config/material key."""
    problems = []
    for name in polar_layers(cfg, materials):
        lay = cfg.layer(name)
        mat = materials[lay.material]
        key = f"materials.{lay.material}"
        if not has_landau(mat):
            problems.append((f"layers.{cfg.layers.index(lay)}.polar",
                             f"material '{lay.material}' has no Landau coefficients (landau_a11 and "
                             "landau_a1 or Curie-Weiss constants); add them under [materials]"))
            continue
        if (bad := _a1_problem(mat, cfg.run.temperature_K)) is not None:
            problems.append((f"{key}.curie_temperature_a", bad))
        a11 = mat.value("landau_a11", "J*m^5/C^4")
        a111 = mat.value("landau_a111", "J*m^9/C^6", 0.0)
        if a11 <= 0 and a111 <= 0:
            problems.append((f"{key}.landau_a11", f"a11 = {a11:g} <= 0 with no stabilising sixth-"
                             "order term: the free energy is unbounded; give a11 > 0 or a111 > 0"))
        if a111 < 0:
            problems.append((f"{key}.landau_a111", "must be >= 0 (the free energy is unbounded)"))
        if mat.value("gradient_energy", "J*m^3/C^2", 0.0) <= 0:
            problems.append((f"{key}.gradient_energy", "must be > 0 (a negative or zero gradient "
                             "energy gives no length scale and an ill-posed problem)"))
        born = mat.value("born_charge", "dimensionless", 0.0)
        for latt in ("a_lattice", "c_lattice"):
            if born > 0 and not mat.has(latt):
                problems.append((f"{key}.{latt}", "needed with born_charge (displacement in pm); "
                                 "give the lattice constant"))
        if not mat.has("gradient_energy"):
            problems.append((f"{key}.gradient_energy", "missing: the polarization needs a gradient "
                             "energy g [J m^3/C^2]"))
    return problems


# -- strain couplings and interfaces (issue #22) ------------------------------------------------
def lab_axis_coefficients(mat: Material, orient: str, key: str, unit: str,
                          axes=(0, 1, 2)) -> list[float]:
    """A coefficient given per crystal direction (``<key>_a``, ``<key>_c``; both default to an
    isotropic ``<key>``, else 0) along the lab axes of a layer: k_i = k_a (1 - q_ic^2) +
    k_c q_ic^2, q_ic the c-component of lab axis i (rutile (110): x = [001] sees k_c,
    y = [1-10] and z = [110] see k_a)."""
    q = orientation.rotation(orient)
    iso = mat.value(key, unit, 0.0)
    ka = mat.value(f"{key}_a", unit, iso)
    kc = mat.value(f"{key}_c", unit, iso)
    return [ka * (1.0 - q[i, 2] ** 2) + kc * q[i, 2] ** 2 for i in axes]


def interface_terms(cfg) -> list[tuple[str, float, object]]:
    """(facet "lower/upper", sign, InterfaceSection) for every facet between adjacent layers
    whose ordered material pair has an ``[interfaces."A|B"]`` entry: sign = +1 when A is the
    lower layer (the normal from A into B is +z), -1 when A is the upper one."""
    out = []
    for lower, upper in zip(cfg.layers, cfg.layers[1:]):
        facet = f"{lower.name}/{upper.name}"
        up = cfg.interfaces.get(f"{lower.material}|{upper.material}")
        down = cfg.interfaces.get(f"{upper.material}|{lower.material}")
        if lower.material == upper.material:
            down = None
        if up is not None:
            out.append((facet, 1.0, up))
        if down is not None:
            out.append((facet, -1.0, down))
    return out


def interface_problems(cfg, known_materials) -> list[tuple[str, str]]:
    """Bad ``[interfaces]`` entries: keys not "A|B" of known materials, a pair given in both
    orders, a field on a pair of one material (no direction)."""
    problems = []
    for key, sec in cfg.interfaces.items():
        parts = key.split("|")
        where = f"interfaces.{key}"
        if len(parts) != 2 or not all(parts):
            problems.append((where, "the key must be an ordered material pair \"A|B\" (e.g. "
                             "\"TiO2|RuO2\"): the field is defined from A into B"))
            continue
        a, b = parts
        for m in (a, b):
            if m not in known_materials:
                problems.append((where, f"unknown material '{m}'; use the materials of the "
                                 "layers (or \"vacuum\")"))
        if a != b and f"{b}|{a}" in cfg.interfaces:
            problems.append((where, f"the pair is also given as \"{b}|{a}\": describe each "
                             "interface once (the sign follows from the normal)"))
        if a == b and sec.interface_field_V is not None:
            problems.append((f"{where}.interface_field_V", "a pair of one material has no "
                             "direction from A into B; remove the field"))
    return problems
