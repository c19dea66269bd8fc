"""What a run config uses, by ledger name, without solving (for :mod:`heterofem.solver.ledger`).

Two parts:

- :func:`config_parameters`: the config's keys (defaults filled in) that the switched-on
  physics read, as dotted names the way ``--set`` writes them (``layers.film.thickness_nm``,
  ``boundary."substrate/film".polar_bias_V``). Structural keys (layer names, materials,
  orientations, the crystallizing layers) describe the experiment, not a knob, and are left
  out; :data:`heterofem.solver.ledger.NUMERICAL_KEYS` are dropped by the caller.
- :func:`material_parameters`: the material values the physics read for the config's layers
  (``<material>.<key>``), after the config's ``[materials]`` overrides. Only values that can
  change a result are listed: in 1D only the tensor component along z is used (a (001) layer
  reads ``*_c``, a (110) layer ``*_a``), a metal's screening uses the trace of its
  permittivity (both components), a strain coupling counts only where the layer is strained,
  a surface-exchange coefficient only on a layer that touches a gas facet.

The rules mirror what solver/physics/*.py, solver/strain.py and solver/workfunction.py read
(their docstrings and :mod:`heterofem.solver.physics.material_keys`); they were checked
against the keys a real run reads (``Material.value`` recorded during runs of the two
studies' configs). A physics that starts reading a new material key must add it here, or the
ledger test cannot see it.
"""

from __future__ import annotations

from typing import Any

from heterofem.solver import orientation
from heterofem.solver.physics.kinetics_config import KINETIC_KEYS, POLAR_KEYS
from heterofem.solver.physics.landau import polar_layers
from heterofem.solver.physics.material_keys import (
    ELASTIC_KEYS,
    ELECTROSTRICTION_KEYS,
    NONSTOICHIOMETRY_KEYS,
)
from heterofem.solver.strain import layer_strains

#: keys of a layer that describe the stack rather than set a value
_STRUCTURAL_LAYER_KEYS = ("name", "material", "orientation")
#: which physics reads which boundary key (electrostatics always runs)
_BOUNDARY_PHYSICS = {
    "vacancy": "vacancies", "mu_eV": "vacancies", "pO2_Pa": "vacancies",
    "pO2_mTorr": "vacancies", "exchange_k0_m_s": "vacancies", "exchange_Ea_eV": "vacancies",
    "exchange_law": "vacancies",
    "polar_bias_V": "polarization", "polar_extrapolation_nm": "polarization",
    "polar_bias_follows_strain": "polarization", "mechanics": "mechanics",
    "displacement_nm": "mechanics", "traction_GPa": "mechanics",
}


def facet_key(facet: str) -> str:
    """A facet as a dotted-key part: quoted when it names an interface (``"a/b"``)."""
    return f'"{facet}"' if "/" in facet else facet


def _flatten(prefix: str, data: dict, out: dict) -> None:
    for key, val in data.items():
        if isinstance(val, dict):
            _flatten(f"{prefix}{key}.", val, out)
        else:
            out[f"{prefix}{key}"] = val


def config_parameters(cfg) -> dict[str, Any]:
    """The physical config keys the switched-on physics read, with their values."""
    from heterofem.solver.config import to_toml_dict

    data, ph = to_toml_dict(cfg), cfg.physics
    strained = ph.polarization or ph.mechanics
    out: dict[str, Any] = {}
    _flatten("run.", data["run"], out)
    for i, lay in enumerate(data["layers"]):
        vacuum = lay["material"] == "vacuum"
        for key, val in lay.items():
            skip = (key in _STRUCTURAL_LAYER_KEYS or (vacuum and key != "thickness_nm")
                    or (key == "coherent" and (i == 0 or not strained))
                    or (key == "polar" and not ph.polarization)
                    or (key == "delta" and not ph.vacancies)
                    or (key.endswith("_density_m3") and ph.electrons == "none"))
            if not skip:
                out[f"layers.{lay['name']}.{key}"] = val
    for facet, bc in data["boundary"].items():
        for key, val in bc.items():
            need = _BOUNDARY_PHYSICS.get(key, "electrostatics")
            if getattr(ph, need):
                out[f"boundary.{facet_key(facet)}.{key}"] = val
    if strained:
        out.update(_strain_keys(cfg))
    if (ph.polarization or ph.vacancies) and getattr(cfg, "interfaces", None):
        out.update(_interface_keys(cfg))
    if cfg.work_function_on:
        wf = cfg.workfunction
        out["workfunction.band_alignment"] = wf.band_alignment
        if wf.band_alignment != "none":
            out["workfunction.band_alignment_length_nm"] = wf.band_alignment_length_nm
        if cfg.run.dimension > 1 and wf.probe_height_nm is not None:
            out["workfunction.probe_height_nm"] = wf.probe_height_nm
    if ph.crystallization:
        sec = {k: v for k, v in data["crystallization"].items()
               if k not in ("layers", "amorphous_material")}
        _flatten("crystallization.", sec, out)
    if ph.vacancies and cfg.initial.mu_eV is not None:
        out["initial.mu_eV"] = cfg.initial.mu_eV
    if cfg.time is not None:
        _flatten("time.", data["time"], out)
    return out


def _strain_keys(cfg) -> dict[str, Any]:
    """The relaxation law: the critical thickness and the retained misfit are computed from
    it (solver/strain.py), nothing else of [strain] is typed."""
    return {"strain.law": cfg.strain.law}


def _interface_keys(cfg) -> dict[str, Any]:
    """``[interfaces."A|B"]`` values (polarization; vacancy transfer rates) of the pairs that
    meet in the stack, as ``interfaces."A|B".<key>``."""
    ph = cfg.physics
    out: dict[str, Any] = {}
    pairs = set()
    for lo, up in zip(cfg.layers, cfg.layers[1:]):
        pairs |= {f"{lo.material}|{up.material}", f"{up.material}|{lo.material}"}
    for pair, sec in cfg.interfaces.items():
        if pair in pairs:
            used = ((POLAR_KEYS if ph.polarization else ())
                    + (KINETIC_KEYS if ph.vacancies and sec.vacancy_rate_k0_m_per_s is not None else ()))
            out.update({f'interfaces."{pair}".{key}': val
                        for key, val in sec.model_dump().items() if val is not None and key in used})
    return out


def _axes(orient: str, lab_axes) -> list[str]:
    """The crystal axes ("a", "c") that the given lab axes of a layer see."""
    q = orientation.rotation(orient)
    out = []
    for i in lab_axes:
        c = float(q[i, 2] ** 2)
        out += (["c"] if c > 1e-12 else []) + (["a"] if 1.0 - c > 1e-12 else [])
    return sorted(set(out))


def _solved_axes(cfg, lay) -> list[str]:
    """Crystal axes along the lab axes the run resolves: z in 1D, x and z in 2D, all in 3D."""
    lab = {1: (2,), 2: (0, 2), 3: (0, 1, 2)}[cfg.run.dimension]
    return _axes(lay.orientation, lab)


class _Reads:
    """Collects ``(material, key)`` reads, skipping keys the material does not have (the
    physics' defaults then apply, which are no database value)."""

    def __init__(self, materials):
        self.materials, self.keys = materials, {}

    def add(self, material: str, *keys: str) -> None:
        mat = self.materials[material]
        for key in keys:
            if mat.has(key):
                self.keys[f"{material}.{key}"] = mat[key]


def material_parameters(cfg, materials) -> dict:
    """``{"<material>.<key>": Param}`` for every material value the config's physics read."""
    reads = _Reads(materials)
    ph = cfg.physics
    polar = polar_layers(cfg, materials)
    cryst = list(cfg.crystallization.layers) if ph.crystallization else []
    amorphous = cfg.crystallization.amorphous_material
    if ph.electrostatics:
        _electrostatics_reads(cfg, materials, polar, cryst, reads)
    if ph.polarization:
        _polarization_reads(cfg, materials, polar, reads)
    if ph.polarization or ph.mechanics:
        _strain_reads(cfg, reads)
    if ph.mechanics:
        for lay in cfg.solid_layers:
            reads.add(lay.material, *ELASTIC_KEYS, *ELECTROSTRICTION_KEYS)
    if cfg.work_function_on and cfg.solid_layers:
        solid = cfg.solid_layers
        reads.add(solid[-1].material, "work_function")
        if cfg.workfunction.band_alignment != "none":
            reads.add(solid[0].material, "work_function")
    if ph.vacancies:
        _vacancy_reads(cfg, cryst, amorphous, reads)
    if ph.crystallization:
        sec = cfg.crystallization
        overrides = {"interface_energy": sec.interface_energy_J_m2,
                     "crystallization_driving_force": sec.driving_force_J_m3,
                     "front_mobility_M0": sec.mobility_M0_m3_J_s,
                     "front_mobility_Ea": sec.mobility_Ea_eV}
        reads.add(amorphous, *[k for k, v in overrides.items() if v is None])
        dep = sec.deposition
        if dep is not None and dep.delta is None and dep.pO2_mTorr is not None:
            reads.add(amorphous, *NONSTOICHIOMETRY_KEYS)
    return reads.keys


def _electrostatics_reads(cfg, materials, polar, cryst, reads: _Reads) -> None:
    """Permittivity (eps_inf in polar layers; the amorphous phase's too in crystallizing
    layers), fixed charge, Thomas-Fermi screening, electrons (solver/physics/electrostatics.py,
    crystallization.py)."""
    for lay in cfg.layers:
        mat = materials[lay.material]
        metal = mat.kind == "metal"
        axes = ["a", "c"] if metal else _solved_axes(cfg, lay)  # screening: trace of eps
        stem = "eps_inf_" if lay.name in polar else "eps_r_"
        reads.add(lay.material, *[stem + ax for ax in axes])
        if lay.name in cryst:
            reads.add(cfg.crystallization.amorphous_material,
                      *["eps_r_" + ax for ax in _solved_axes(cfg, lay)])
        if lay.space_charge_C_m3 is None:
            reads.add(lay.material, "space_charge")
        if metal:
            reads.add(lay.material, "screening_length")
        if mat.kind == "semiconductor" and cfg.physics.electrons != "none":
            reads.add(lay.material, "effective_dos_conduction", "conduction_band_offset")
            if lay.donor_density_m3 is None:
                reads.add(lay.material, "donor_density")
            if lay.acceptor_density_m3 is None:
                reads.add(lay.material, "acceptor_density")


def _polarization_reads(cfg, materials, polar, reads: _Reads) -> None:
    """Landau coefficients of the polar layers (solver/physics/polarization.py, landau.py):
    a1 along the solved axes, the strain couplings along strained in-plane directions, the
    quartic/sextic and gradient terms, the Born charge and the cell volume it needs."""
    strains = layer_strains(cfg, materials)
    for name in polar:
        lay = cfg.layer(name)
        mat, m = materials[lay.material], lay.material
        axes = _solved_axes(cfg, lay)
        if mat.has("landau_a1"):
            reads.add(m, "landau_a1")
            if "c" in axes:
                reads.add(m, "landau_a1_c")
        else:
            reads.add(m, *[f"{k}_{ax}" for ax in axes
                           for k in ("curie_constant", "curie_temperature", "eps_inf")])
        st = strains[name]
        for lab, strain in ((0, st.strain_x), (1, st.strain_y)):
            if strain != 0.0:
                reads.add(m, *[f"landau_strain_coupling_{ax}" for ax in _axes(lay.orientation,
                                                                              (lab,))])
        reads.add(m, "flexo_coupling",
                  *[f"flexo_coupling_{ax}" for ax in _axes(lay.orientation, (0, 1))])
        reads.add(m, "landau_a11", "landau_a111", "gradient_energy", "born_charge")
        if mat.has("born_charge") and mat.value("born_charge", "dimensionless") > 0:
            reads.add(m, "a_lattice", "c_lattice", "formula_units_per_cell")


def _strain_reads(cfg, reads: _Reads) -> None:
    """Lattice constants along the in-plane axes of the substrate and of every coherent
    layer above it (solver/strain.py); none when no layer is coherent with the substrate. A
    relaxation law (not "coherent") also reads the Burgers vectors (the film's a and c) and
    its Poisson ratios: the elastic constants, or ``poisson_ratio`` without them."""
    from heterofem.solver.strain import layer_strains

    solid = cfg.solid_layers
    coherent = [lay for lay in solid[1:] if lay.coherent]
    for lay in ([solid[0]] + coherent) if coherent else []:
        reads.add(lay.material, *[f"{ax}_lattice" for ax in _axes(lay.orientation, (0, 1))])
    if cfg.strain.law == "coherent" or not coherent:
        return
    strains = layer_strains(cfg, reads.materials)
    for lay in coherent:
        st = strains[lay.name]
        if st.misfit_x == 0.0 and st.misfit_y == 0.0:
            continue
        mat = reads.materials[lay.material]
        reads.add(lay.material, "a_lattice", "c_lattice")
        if all(mat.has(k) for k in ELASTIC_KEYS):
            reads.add(lay.material, *ELASTIC_KEYS)
        else:
            reads.add(lay.material, "poisson_ratio")


def _vacancy_reads(cfg, cryst, amorphous, reads: _Reads) -> None:
    """Site density, formation energy and diffusivity along the solved axes of every solid
    layer (the amorphous phase's too in crystallizing layers), and the surface exchange of the
    layers that touch a gas facet without their own k0 (solver/physics/vacancies.py)."""
    solid = cfg.solid_layers
    names = [lay.name for lay in solid]
    gas_layers = set()
    for facet, bc in cfg.boundary.items():
        if bc.vacancy == "gas" and bc.exchange_k0_m_s is None:
            near = {"top": names[-1:], "bottom": names[:1]}.get(
                facet, [n for n in facet.split("/") if n in names])
            gas_layers.update(near)
    for lay in solid:
        diff = [f"vacancy_{k}_{ax}" for ax in _solved_axes(cfg, lay) for k in ("D0", "Ea")]
        reads.add(lay.material, "oxygen_site_density", "vacancy_formation_energy", *diff)
        if lay.name in cryst:
            reads.add(amorphous, "vacancy_formation_energy", *diff)
        if lay.name in gas_layers:
            reads.add(amorphous if lay.name in cryst else lay.material,
                      "surface_exchange_k0", "surface_exchange_Ea",
                      "surface_exchange_pO2_order", "surface_exchange_pO2_ref")
        if reads.materials[lay.material].has("chemical_expansion_coefficient"):
            # a template's response to its delta (solver/template.py, summary "template")
            reads.add(lay.material, "chemical_expansion_coefficient", "C11", "C12", "C13",
                      "C33", "C44", "C66", "clamped_expansion_factor", "T_MIT_on_TiO2_001",
                      "dT_MIT_ddelta", "T_MIT_law_delta_max")
