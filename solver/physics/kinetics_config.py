"""Which interfaces carry vacancy kinetics, and the config checks of those keys.

``[interfaces."A|B"]`` (per ordered material pair, as for the polarization's interface terms)
may give ``vacancy_rate_k0_m_per_s`` [m/s], ``vacancy_rate_Ea_eV`` [eV] and ``vacancy_kinetics``
("butler_volmer", the default, or "linear"). A facet between adjacent layers whose pair (in
either order: the transfer law is symmetric) has a rate gets a finite transfer rate and a
jump of mu (solver/physics/interface_kinetics.py, docs/model.md "Interface kinetics"); every
other interface stays in local equilibrium (mu continuous). Layers that touch through mesh
features or in a mesh file are paired the same way once the mesh is built.

Reads only the config (no DOLFINx): the physics checks (solver/physics/checks.py) import it.
"""

from __future__ import annotations

from dataclasses import dataclass

KINETIC_KEYS = ("vacancy_rate_k0_m_per_s", "vacancy_rate_Ea_eV", "vacancy_kinetics")
POLAR_KEYS = ("interface_field_V", "polar_extrapolation_nm")


@dataclass(frozen=True)
class KineticInterface:
    """One facet "lower/upper" with a finite vacancy transfer rate."""

    facet: str
    lower: str
    upper: str
    pair: str  #: the [interfaces] key that gave it
    k0_m_s: float
    Ea_eV: float
    law: str  #: "butler_volmer" or "linear"


def kinetic_facet(cfg, lower, upper) -> KineticInterface | None:
    """The facet "lower/upper" between two layers (config layer entries) with its vacancy
    rate, when their material pair has one (either order); else None."""
    for pair in (f"{lower.material}|{upper.material}", f"{upper.material}|{lower.material}"):
        sec = cfg.interfaces.get(pair)
        if sec is not None and sec.vacancy_rate_k0_m_per_s is not None:
            return KineticInterface(
                f"{lower.name}/{upper.name}", lower.name, upper.name, pair,
                float(sec.vacancy_rate_k0_m_per_s), float(sec.vacancy_rate_Ea_eV or 0.0),
                sec.vacancy_kinetics or "butler_volmer")
    return None


def kinetic_interfaces(cfg) -> list[KineticInterface]:
    """The facets between adjacent layers whose material pair has a vacancy rate, bottom to
    top. (Mesh features or a mesh file may make other layers touch: those facets are added
    and checked once the mesh is there, InterfaceKinetics.)"""
    return [ki for lower, upper in zip(cfg.layers, cfg.layers[1:])
            if (ki := kinetic_facet(cfg, lower, upper)) is not None]


def uses_polar_keys(sec) -> bool:
    return any(getattr(sec, key) is not None for key in POLAR_KEYS)


def uses_kinetic_keys(sec) -> bool:
    return any(getattr(sec, key) is not None for key in KINETIC_KEYS)


def kinetics_problems(cfg) -> list[tuple[str, str]]:
    """Bad vacancy-kinetics input: a law or barrier without a rate, a rate without vacancies,
    or at a vacuum pair (the keys named)."""
    problems: list[tuple[str, str]] = []
    for key, sec in cfg.interfaces.items():
        where = f"interfaces.{key}"
        if not uses_kinetic_keys(sec):
            continue
        if sec.vacancy_rate_k0_m_per_s is None:
            given = next(k for k in KINETIC_KEYS if getattr(sec, k) is not None)
            problems.append((f"{where}.{given}", "needs vacancy_rate_k0_m_per_s (the transfer rate "
                             "constant [m/s]) in the same table, or remove it"))
            continue
        if not cfg.physics.vacancies:
            problems.append((f"{where}.vacancy_rate_k0_m_per_s", "a vacancy transfer rate needs "
                             "[physics] vacancies = true; remove it or switch vacancies on"))
        if "vacuum" in key.split("|"):
            problems.append((f"{where}.vacancy_rate_k0_m_per_s", "vacancies do not enter vacuum; a "
                             "solid/vacuum facet takes gas exchange ([boundary.<facet>] "
                             "vacancy = \"gas\")"))
    # everything else combines with the broken mu: the phase field in 1D/2D/3D, [mesh.adapt],
    # the Picard preconditioner, the fitted flux, mesh features and mesh files (whose facets
    # between layers are checked against the two-colouring once the mesh is built,
    # InterfaceKinetics.check_facets)
    return problems
