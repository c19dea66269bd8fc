"""The oxygen deficiency of deposited material: delta from the growth pO2.

Part of the crystallization physics (:mod:`heterofem.solver.physics.crystallization`, which
re-exports it), kept in a module that imports no Domain so that the validation pass
(:mod:`heterofem.solver.physics.checks`) can use it before any Domain exists; the vacancies
read the deposited delta of their initial state from here.
"""

from __future__ import annotations

from heterofem.solver.materials import Material, resolve_materials


def deposition_delta(material: Material, pO2_mTorr: float) -> float:
    """delta of TiO2-delta deposited at pO2 by the non-stoichiometry law
    delta = delta_ref (pO2 / p_ref)^(-1/n) of the (amorphous) material (PARAMETERS.md 5c)."""
    ref = material.value("nonstoichiometry_delta_ref", "dimensionless")
    p_ref = material.value("nonstoichiometry_pO2_ref", "Pa")
    n = material.value("nonstoichiometry_exponent", "dimensionless")
    pO2_Pa = pO2_mTorr * 1e-3 * 101325.0 / 760.0
    return ref * (pO2_Pa / p_ref) ** (-1.0 / n)


def deposited_delta(cfg, layer: str) -> float | None:
    """delta of a crystallizing layer of the config ``cfg`` set by [crystallization.deposition]:
    the given delta, or the amorphous material's law at the given pO2; None for a layer the
    deposition does not set."""
    dep = cfg.crystallization.deposition
    if not cfg.physics.crystallization or dep is None or layer not in cfg.crystallization.layers:
        return None
    if dep.delta is not None:
        return dep.delta
    if dep.pO2_mTorr is not None:
        material = resolve_materials(cfg)[cfg.crystallization.amorphous_material]
        return deposition_delta(material, dep.pO2_mTorr)
    return None
