"""Which interfaces carry vacancy kinetics, and the config checks of those keys.

``[interfaces."A|B"]`` (per ordered material pair, as for the polarization's interface terms)
may give ``vacancy_rate_k0_m_per_s`` [m/s], ``vacancy_rate_Ea_eV`` [eV] and ``vacancy_kinetics``
("butler_volmer", the default, or "linear"). A facet between adjacent layers whose pair (in
either order: the transfer law is symmetric) has a rate gets a finite transfer rate and a
jump of mu (solver/physics/interface_kinetics.py, docs/model.md "Interface kinetics"); every
other interface stays in local equilibrium (mu continuous).

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


def kinetic_interfaces(cfg) -> list[KineticInterface]:
    """The facets between adjacent layers whose material pair has a vacancy rate, bottom to
    top."""
    out = []
    for lower, upper in zip(cfg.layers, cfg.layers[1:]):
        for pair in (f"{lower.material}|{upper.material}", f"{upper.material}|{lower.material}"):
            sec = cfg.interfaces.get(pair)
            if sec is not None and sec.vacancy_rate_k0_m_per_s is not None:
                out.append(KineticInterface(
                    f"{lower.name}/{upper.name}", lower.name, upper.name, pair,
                    float(sec.vacancy_rate_k0_m_per_s), float(sec.vacancy_rate_Ea_eV or 0.0),
                    sec.vacancy_kinetics or "butler_volmer"))
                break
    return out


def uses_polar_keys(sec) -> bool:
    return any(getattr(sec, key) is not None for key in POLAR_KEYS)


def uses_kinetic_keys(sec) -> bool:
    return any(getattr(sec, key) is not None for key in KINETIC_KEYS)


def kinetics_problems(cfg) -> list[tuple[str, str]]:
    """Bad vacancy-kinetics input: a law or barrier without a rate, a rate without vacancies,
    at a vacuum pair, or combined with what the broken mu does not support (the keys named)."""
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
    active = kinetic_interfaces(cfg)
    if not active:
        return problems
    first = f"interfaces.{active[0].pair}.vacancy_rate_k0_m_per_s"
    unsupported = [
        (cfg.mesh.features or cfg.mesh.file is not None, "mesh.features",
         "interface kinetics needs a plain layer stack (the built-in mesher without features): "
         "remove the features or the rate"),
        (cfg.solver.preconditioner == "picard", "solver.preconditioner",
         "the Picard preconditioner has no rows for the interface jump of mu; use \"exact\" or "
         "\"auto\" with interface kinetics"),
        (cfg.physics.crystallization and cfg.run.dimension != 1, "physics.crystallization",
         "interface kinetics with the phase field is implemented in 1D only "
         f"(run.dimension = {cfg.run.dimension}); use a 1D stack or remove the rate"),
        (getattr(cfg.mesh, "adapt", None) is not None, "mesh.adapt",
         "mesh adaptivity does not transfer the interface jump of mu; remove [mesh.adapt] or "
         "the rate"),
        (cfg.physics.vacancy_flux not in ("exact", "quadrature"), "physics.vacancy_flux",
         f"the \"{cfg.physics.vacancy_flux}\" flux is not combined with interface kinetics; "
         "use \"exact\" or \"quadrature\""),
    ]
    for bad, key, message in unsupported:
        if bad:
            problems.append((key, f"{message} ({first})"))
    return problems
