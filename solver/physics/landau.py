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

from heterofem.solver import units
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
