"""The response of an oxygen-deficient template layer (VO2-delta) to the oxygen it gave up:
its out-of-plane lattice expansion and its metal-insulator transition temperature.

Both are read off the layer's mean delta after a run (summary.json ``template.<layer>``) and
are predictions: no parameter here is fitted (docs/model.md, "Template response").

Chemical expansion. Vacancies strain the lattice as an isotropic eigenstrain
eps* = beta delta (``chemical_expansion_coefficient`` beta, per unit delta of MO(2-delta)).
A layer coherently clamped to the substrate keeps its in-plane strain (eps_xx = eps_yy =
eps_xy = 0 relative to the clamped, stoichiometric state) and is free along the normal
(sigma_xz = sigma_yz = sigma_zz = 0), so with the lab-frame stiffness C' of the layer's
orientation the out-of-plane strain follows from the 3x3 system

    C'_i3k3 eps_k3 (k = 1..3, doubled shears) = C'_i3kl eps*_kl,   i = 1..3.

For a (001) tetragonal layer this is eps_zz = beta delta (C13 + C23 + C33) / C33 =
beta delta (1 + 2 C13 / C33): the Poisson response to the clamped in-plane expansion adds to
the free expansion.

Metal-insulator transition. T_MI(delta) = T_MI(0) + (dT_MI/d delta) delta
(``T_MIT_on_TiO2_001``, ``dT_MIT_ddelta`` of the material): the linear, rigid-band doping
law (each V_O gives two electrons to the V 3d band, as a W6+ donor does). The law holds only
over the doping range of that analogy, 0 <= delta <= ``T_MIT_law_delta_max``: outside it
``T_MI_K`` is None (null in summary.json) and ``T_MI_note`` says why.
"""

from __future__ import annotations

import numpy as np

from heterofem.solver.strain import ELASTIC_KEYS, stiffness_lab

def clamped_normal_strain(c_lab: np.ndarray, eigenstrain_lab: np.ndarray) -> float:
    """eps_zz of a layer clamped in-plane (eps_xx = eps_yy = eps_xy = 0) and traction-free
    along z (sigma_i3 = 0) carrying the eigenstrain ``eigenstrain_lab`` (3x3, lab frame)."""
    # unknowns e = (eps_13, eps_23, eps_33); sigma_i3 = C_i3kl (eps_kl - eps*_kl) = 0
    a = np.zeros((3, 3))
    for i in range(3):
        a[i, 0] = c_lab[i, 2, 0, 2] + c_lab[i, 2, 2, 0]
        a[i, 1] = c_lab[i, 2, 1, 2] + c_lab[i, 2, 2, 1]
        a[i, 2] = c_lab[i, 2, 2, 2]
    b = np.einsum("ikl,kl->i", c_lab[:, 2, :, :], eigenstrain_lab)
    return float(np.linalg.solve(a, b)[2])


def out_of_plane_expansion(material, orient: str, delta: float) -> float:
    """Out-of-plane strain eps_zz of a clamped layer of ``material`` at oxygen deficiency
    ``delta`` (isotropic chemical eigenstrain beta delta), relative to delta = 0: from the
    material's C11..C66, or (a (001) layer of a material without them) from its
    ``clamped_expansion_factor`` (C13 + C23 + C33)/C33."""
    beta = material.value("chemical_expansion_coefficient", "dimensionless")
    c_lab = stiffness_lab(material, orient)
    if c_lab is None:
        if orient != "001":
            raise ValueError(f"{getattr(material, 'name', 'material')}: the clamped expansion of a "
                             f"({orient}) layer needs the elastic constants C11..C66")
        return beta * delta * material.value("clamped_expansion_factor", "dimensionless")
    return clamped_normal_strain(c_lab, beta * delta * np.eye(3))


def expansion_known(material, orient: str) -> bool:
    """Whether :func:`out_of_plane_expansion` can be computed for this layer."""
    return all(material.has(k) for k in ELASTIC_KEYS) or (
        orient == "001" and material.has("clamped_expansion_factor"))


def transition_temperature(material, delta: float) -> float:
    """T_MI [K] of a VO2-delta layer clamped on TiO2(001): T_MI(0) + dT/d delta x delta
    (the linear law itself, whatever delta; see :func:`law_valid` for its range)."""
    return (material.value("T_MIT_on_TiO2_001", "K")
            + material.value("dT_MIT_ddelta", "K") * delta)


def law_valid(material, delta: float) -> bool:
    """Whether ``delta`` lies in the linear T_MI law's range of validity,
    0 <= delta <= ``T_MIT_law_delta_max`` (the doping range of the W analogy it rests on);
    without that key the law has no stated limit and is taken as valid."""
    if delta < 0.0:
        return False
    return (not material.has("T_MIT_law_delta_max")
            or delta <= material.value("T_MIT_law_delta_max", "dimensionless"))


def _tmi_entry(material, d1: float, d0: float) -> dict:
    """``T_MI_K`` and ``T_MI_initial_K`` inside the law's range, else None with a note."""
    out, outside = {}, []
    for key, d in (("T_MI_K", d1), ("T_MI_initial_K", d0)):
        ok = law_valid(material, d)
        out[key] = transition_temperature(material, d) if ok else None
        if not ok:
            outside.append(f"{key} (delta {d:.4g})")
    if outside:
        lim = (material.value("T_MIT_law_delta_max", "dimensionless")
               if material.has("T_MIT_law_delta_max") else float("inf"))
        out["T_MI_note"] = (f"outside the linear T_MI law's range 0 <= delta <= {lim:g} "
                            f"(T_MIT_law_delta_max): not reported for " + ", ".join(outside))
    return out


def is_template(material) -> bool:
    """A layer whose material carries a chemical-expansion coefficient."""
    return material.has("chemical_expansion_coefficient")


def template_summary(cfg, materials, vacancies: dict) -> dict:
    """summary.json ``template``: per template layer, from its final (and initial) mean delta,
    the out-of-plane expansion [%] relative to delta = 0 and its change during the run, and
    T_MI [K] (None with ``T_MI_note`` outside the law's delta range); empty without template
    layers."""
    out = {}
    final = vacancies.get("mean_delta", {})
    initial = vacancies.get("initial_mean_delta", {})
    for lay in cfg.layers:
        mat = materials.get(lay.material)
        if lay.name not in final or mat is None or not is_template(mat):
            continue
        d1, d0 = final[lay.name], initial.get(lay.name, final[lay.name])
        entry = {"delta": d1}
        if expansion_known(mat, lay.orientation):
            entry["out_of_plane_expansion_percent"] = 100.0 * out_of_plane_expansion(
                mat, lay.orientation, d1)
            entry["out_of_plane_expansion_change_percent"] = 100.0 * (
                out_of_plane_expansion(mat, lay.orientation, d1)
                - out_of_plane_expansion(mat, lay.orientation, d0))
        else:  # a (hkl) layer of a material without elastic constants: not computable
            entry["expansion_note"] = (f"no clamped expansion for a ({lay.orientation}) layer: "
                                       "the material has no elastic constants C11..C66")
        if mat.has("dT_MIT_ddelta") and mat.has("T_MIT_on_TiO2_001"):
            entry.update(_tmi_entry(mat, d1, d0))
        out[lay.name] = entry
    return out


def template_outputs(cfg, materials, summary: dict) -> dict:
    """``{"template": ...}`` for summary.json when the run solved vacancies, else {}."""
    if "vacancies" not in summary:
        return {}
    return {"template": template_summary(cfg, materials, summary["vacancies"])}
