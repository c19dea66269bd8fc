"""The cross-checks that the physics own: what each switched-on physics needs from the
config and from the materials (vacancies, crystallization and deposition, polarization,
mechanics, lattice misfit, work function, electrons).

They run in the one validation pass (:func:`heterofem.solver.validation.cross_checks`) and
name the config or material key to fix. They sit in the physics layer, above the config (which
imports no physics), and read only the physics helpers that import no Domain
(:mod:`~heterofem.solver.physics.landau`, :mod:`~heterofem.solver.physics.deposition`,
:mod:`~heterofem.solver.physics.material_keys`).
"""

from __future__ import annotations

import math

from heterofem.solver.config.schema import Config
from heterofem.solver.physics.deposition import deposition_delta
from heterofem.solver.physics.landau import coefficient_problems, interface_problems
from heterofem.solver.physics.kinetics_config import kinetics_problems, uses_polar_keys
from heterofem.solver.physics.material_keys import (
    ELASTIC_KEYS,
    ELECTRON_KEYS,
    ELECTROSTRICTION_KEYS,
    NONSTOICHIOMETRY_KEYS,
    VACANCY_KEYS,
)


def material_checks(cfg: Config, materials, clean) -> list[tuple[str, str]]:
    """What the physics reads from the materials of the layers (every one resolved);
    ``clean(*keys)``: whether none of those config keys failed the schema."""
    problems: list[tuple[str, str]] = []
    if cfg.physics.polarization and clean("run.temperature_K", "boundary"):
        problems.extend(coefficient_problems(cfg, materials))
    if cfg.physics.polarization or cfg.physics.mechanics:
        problems.extend(_lattice_problems(cfg, materials))
    if cfg.interfaces:
        if not cfg.physics.polarization and any(uses_polar_keys(s) for s in cfg.interfaces.values()):
            problems.append(("interfaces", "the [interfaces] table holds polarization terms; "
                             "set [physics] polarization = true or remove it"))
        problems.extend(interface_problems(cfg, {lay.material for lay in cfg.layers} | {"vacuum"}))
        problems.extend(kinetics_problems(cfg))
    if cfg.work_function_on and clean("workfunction", "boundary") and cfg.solid_layers:
        problems.extend(_work_function_problems(cfg, materials))
    if cfg.physics.mechanics and clean("boundary", "run.dimension"):
        problems.extend(_mechanics_problems(cfg, materials))
    if cfg.physics.electrons != "none":
        for lay in cfg.solid_layers:
            mat = materials[lay.material]
            for key in ELECTRON_KEYS:
                if mat.kind == "semiconductor" and not mat.has(key):
                    problems.append((f"materials.{lay.material}.{key}", f"physics.electrons = "
                                     f"\"{cfg.physics.electrons}\" needs it in the semiconductor "
                                     f"layer '{lay.name}'; add it with value, unit and source, "
                                     "or set electrons = \"none\""))
    if cfg.physics.crystallization:
        problems.extend(_phase_material_problems(cfg, materials))
    return sorted(set(problems), key=problems.index)


def _mechanics_problems(cfg: Config, materials) -> list[tuple[str, str]]:
    """Elastic constants of every solid layer, electrostriction all or none, and rollers only
    on the axis-aligned outer sides (what solver/physics/mechanics.py needs)."""
    problems: list[tuple[str, str]] = []
    for lay in cfg.solid_layers:
        mat = materials[lay.material]
        lacking = [k for k in ELASTIC_KEYS if not mat.has(k)]
        if lacking:
            problems.append((f"materials.{lay.material}.{lacking[0]}", f"mechanics needs the "
                             f"elastic constants {', '.join(lacking)} [GPa] of layer '{lay.name}'; "
                             "add them as { value, unit, source }"))
        given = [k for k in ELECTROSTRICTION_KEYS if mat.has(k)]
        if given and len(given) < len(ELECTROSTRICTION_KEYS):
            missing = [k for k in ELECTROSTRICTION_KEYS if k not in given]
            problems.append((f"materials.{lay.material}.{missing[0]}", f"give all of "
                             f"{', '.join(ELECTROSTRICTION_KEYS)} [m^4/C^2] or none (layer "
                             f"'{lay.name}' has only {', '.join(given)})"))
    outer = [f for f in cfg.facet_names() if "/" not in f]
    for name, bc in cfg.boundary.items():
        if bc.mechanics == "roller" and name not in outer:
            problems.append((f"boundary.{name}.mechanics", "a roller needs an axis-aligned outer "
                             f"side ({', '.join(outer)}); use fixed, free, displacement or "
                             "traction here"))
    return problems


def _phase_material_problems(cfg: Config, materials) -> list[tuple[str, str]]:
    """What the phase field reads from the amorphous material (unless [crystallization]
    overrides it), and the deposited delta its pO2 law gives."""
    sec = cfg.crystallization
    name = sec.amorphous_material
    am = materials[name]
    problems: list[tuple[str, str]] = []
    overrides = {"interface_energy": sec.interface_energy_J_m2,
                 "crystallization_driving_force": sec.driving_force_J_m3,
                 "front_mobility_M0": sec.mobility_M0_m3_J_s,
                 "front_mobility_Ea": sec.mobility_Ea_eV}
    needs = [k for k, v in overrides.items() if v is None]
    if cfg.physics.vacancies:
        needs += list(VACANCY_KEYS)
    dep = sec.deposition
    if dep is not None and dep.pO2_mTorr is not None:
        needs += list(NONSTOICHIOMETRY_KEYS)
    for key in needs:
        if not am.has(key):
            problems.append((f"materials.{name}.{key}", "the crystallization (amorphous material "
                             f"'{name}') needs it; add it with value, unit and source"))
    if not problems and dep is not None and dep.pO2_mTorr is not None:
        delta = deposition_delta(am, dep.pO2_mTorr)
        if not (math.isfinite(delta) and 0.0 < delta < 2.0):
            problems.append(("crystallization.deposition.pO2_mTorr", f"the non-stoichiometry "
                             f"law of '{name}' gives delta = {delta:g} at this pO2, outside "
                             "0 < delta < 2; give delta directly or check the law's parameters"))
    return problems


def _work_function_problems(cfg: Config, materials) -> list[tuple[str, str]]:
    problems = []
    if cfg.layers[-1].material != "vacuum":
        problems.append(("workfunction.enabled", "the work function needs a vacuum layer on top "
                         "of the stack; add one or set enabled = false"))
        return problems
    top = cfg.boundary.get("top")
    if top is not None and top.phi_V is not None:
        problems.append(("boundary.top.phi_V", "the work function needs a free top facet (the "
                         "vacuum level floats); remove phi_V there or set workfunction.enabled "
                         "= false"))
    solid = cfg.solid_layers
    needs = [solid[-1]] + ([solid[0]] if cfg.workfunction.band_alignment != "none" else [])
    for lay in needs:
        if not materials[lay.material].has("work_function"):
            problems.append((f"materials.{lay.material}.work_function",
                             "the work-function output needs it; give it (eV) with a source"))
    return problems


def _lattice_problems(cfg: Config, materials) -> list[tuple[str, str]]:
    """The misfit needs lattice constants of the substrate and of every coherent layer."""
    problems = []
    solid = [lay for lay in cfg.layers if lay.material != "vacuum"]
    needs = [solid[0]] + [lay for lay in solid[1:] if lay.coherent] if len(solid) > 1 else []
    for lay in needs:
        for key in ("a_lattice", "c_lattice"):
            if not materials[lay.material].has(key):
                problems.append((f"materials.{lay.material}.{key}",
                                 f"the epitaxial misfit of layer '{lay.name}' needs it; give the "
                                 "lattice constant, or set the layer's coherent = false"))
    return problems


def crystallization_checks(cfg: Config) -> list[tuple[str, str]]:
    section, problems = cfg.crystallization, []
    used = section.layers or section.deposition is not None
    if not cfg.physics.crystallization:
        if used:
            problems.append(("physics.crystallization", "a [crystallization] table needs "
                             "[physics] crystallization = true"))
        return problems
    names = [lay.name for lay in cfg.layers]
    if not section.layers:
        problems.append(("crystallization.layers", "name the layer(s) the phase field lives in, "
                         "e.g. layers = [\"film\"]"))
    for i, name in enumerate(section.layers):
        if name not in names:
            problems.append((f"crystallization.layers.{i}", f"no layer '{name}'; layers are {names}"))
    if problems:
        return problems
    from heterofem.solver.materials import known_material_names

    if section.amorphous_material not in set(known_material_names()) | set(cfg.materials):
        problems.append(("crystallization.amorphous_material", f"unknown material "
                         f"'{section.amorphous_material}'; see `heterofem materials` (or define it "
                         "under [materials.<name>])"))
    idx = sorted(names.index(n) for n in section.layers)
    if idx != list(range(idx[0], idx[-1] + 1)):
        problems.append(("crystallization.layers", "the crystallizing layers must be adjacent"))
    if section.seed not in (None, "none") and section.seed not in cfg.facet_names():
        problems.append(("crystallization.seed", f"no facet '{section.seed}'; facets are "
                         f"{cfg.facet_names()} or \"none\""))
    if section.seed is None and idx[0] == 0 and section.initial_front_nm is None:
        problems.append(("crystallization.seed", "the lowest crystallizing layer is the bottom "
                         "layer: name a seed facet, or set seed = \"none\""))
    dep = section.deposition
    if dep is not None:
        if idx[-1] != len(names) - 1 and cfg.layers[idx[-1] + 1].material != "vacuum":
            problems.append(("crystallization.deposition", "the growing layer must be the top solid "
                             "layer"))
        top = cfg.layers[idx[-1]]
        if dep.initial_thickness_nm >= top.thickness_nm:
            problems.append(("crystallization.deposition.initial_thickness_nm", "must be smaller "
                             f"than the thickness of layer '{top.name}' ({top.thickness_nm} nm), "
                             "which is the final deposited thickness"))
        if dep.delta is not None or dep.pO2_mTorr is not None:
            for i, lay in enumerate(cfg.layers):
                if lay.name in section.layers and lay.delta is not None:
                    problems.append((f"layers.{i}.delta", "the deposition sets this layer's delta "
                                     "(crystallization.deposition.delta or pO2_mTorr): remove one"))
    if cfg.time is None:
        problems.append(("time", "crystallization is a transient: add a [time] table"))
    return problems


def vacancy_checks(cfg: Config, materials) -> list[tuple[str, str]]:
    """Vacancy boundary conditions, initial state, material data and time stepping;
    ``materials``: the resolved materials (those with problems left out)."""
    problems: list[tuple[str, str]] = []
    vac_keys = [(name, bc) for name, bc in cfg.boundary.items()
                if bc.vacancy != "blocking" or bc.pO2 is not None or bc.mu_eV is not None]
    if not cfg.physics.vacancies:
        for name, _ in vac_keys:
            problems.append((f"boundary.{name}.vacancy", "vacancy boundary conditions need "
                             "[physics] vacancies = true"))
        return problems
    vacuum = {lay.name for lay in cfg.layers if lay.material == "vacuum"}
    for name, bc in vac_keys:
        if "/" in name and not set(name.split("/")) & vacuum:
            problems.append((f"boundary.{name}.vacancy", "vacancy conditions apply on outer facets "
                             "and on surfaces facing vacuum only (interfaces keep mu continuous)"))
    for i, lay in enumerate(cfg.layers):
        if lay.material != "vacuum" and lay.delta is None and cfg.initial.mu_eV is None \
                and not _deposition_sets_delta(cfg, lay.name):
            problems.append((f"layers.{i}.delta", "the initial vacancy content is undefined: give "
                             "this layer a delta, or set [initial] mu_eV for a uniform start"))
    for lay in cfg.layers:
        mat = materials.get(lay.material)
        if mat is None or lay.material == "vacuum":
            continue
        for key in VACANCY_KEYS:
            if not mat.has(key):
                problems.append((f"materials.{lay.material}.{key}",
                                 f"vacancies need it in layer '{lay.name}'; add it with value, "
                                 "unit and source"))
        if mat.has("surface_exchange_pO2_order") and not mat.has("surface_exchange_pO2_ref"):
            problems.append((f"materials.{lay.material}.surface_exchange_pO2_ref",
                             "a pO2 order of the exchange rate needs the pO2 it refers to "
                             "(k = k0 exp(-Ea/kT) (pO2/p_ref)^n); add it in Pa"))
    if any(bc.vacancy == "gas" for bc in cfg.boundary.values()) \
            and not 100.0 <= cfg.run.temperature_K <= 2000.0:
        problems.append(("run.temperature_K", "gas exchange uses O2 data for 100-2000 K; choose a "
                         "temperature in that range"))
    open_bc = any(bc.vacancy in ("gas", "fixed_mu") for bc in cfg.boundary.values())
    if cfg.time is None and not open_bc:
        problems.append(("time", "a steady vacancy solve with only blocking boundaries has no "
                         "unique answer; add a [time] table (transient) or a gas/fixed_mu facet"))
    return problems


def _deposition_sets_delta(cfg: Config, layer: str) -> bool:
    """Whether [crystallization.deposition] gives the layer's delta (without computing it:
    :func:`~heterofem.solver.physics.deposition.deposited_delta` needs the amorphous material's data, checked elsewhere)."""
    dep = cfg.crystallization.deposition
    return (cfg.physics.crystallization and dep is not None
            and layer in cfg.crystallization.layers
            and (dep.delta is not None or dep.pO2_mTorr is not None))
