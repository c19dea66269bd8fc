"""The summary keys and table columns renamed to the ``_per_`` naming scheme (issue #24 item 4):
:data:`RENAMED` is the one table of them, old -> new; :func:`renamed` finds the new name of an
old one, so that every place where a user NAMES a key (``heterofem plot --field``, a sweep's
quantities, ``Run.unit``, :func:`~heterofem.postprocess.compare.compare_runs`, a study's
``scalar_outputs``) answers an old name with an error that names the new key.

The table lives here because the post-processing may not import the solver (.importlinter);
:mod:`heterofem.solver.summary_units` re-exports it beside the units table.

Patterns as in the units table: dotted summary paths and timeseries.csv columns, ``*`` one
name (a layer, an interface ``a/b``, a list index). Units did not change, only names.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: old name -> new name (summary.json dotted paths; timeseries.csv columns)
RENAMED: dict[str, str] = {
    "electrostatics.net_charge_C_m2": "electrostatics.net_charge_C_per_m2",
    "electrostatics.electrostatic_energy_J_m2": "electrostatics.electrostatic_energy_J_per_m2",
    "polarization.max_abs_P_C_m2": "polarization.max_abs_P_C_per_m2",
    "polarization.interfaces.*.P_C_m2": "polarization.interfaces.*.P_C_per_m2",
    "polarization.a1_zz_J_m_C2.*": "polarization.a1_zz_J_m_per_C2.*",
    "mechanics.elastic_energy_J_m2": "mechanics.elastic_energy_J_per_m2",
    "vacancies.total_inventory_m2": "vacancies.total_inventory_per_m2",
    "vacancies.inventory_m2.*": "vacancies.inventory_per_m2.*",
    "vacancies.initial_inventory_m2.*": "vacancies.initial_inventory_per_m2.*",
    "vacancies.oxygen_transferred_up_m2.*": "vacancies.oxygen_transferred_up_per_m2.*",
    "vacancies.diffusivity_m2_s.*.*": "vacancies.diffusivity_m2_per_s.*.*",
    "crystallization.interface_energy_J_m2": "crystallization.interface_energy_J_per_m2",
    "crystallization.driving_force_J_m3": "crystallization.driving_force_J_per_m3",
    "crystallization.amorphous_driving_force_J_m3":
        "crystallization.amorphous_driving_force_J_per_m3",
    "crystallization.mobility_m3_J_s": "crystallization.mobility_m3_per_J_s",
    "crystallization.front_velocity_stoichiometric_nm_s":
        "crystallization.front_velocity_stoichiometric_nm_per_s",
    "crystallization.deposition_rate_nm_s": "crystallization.deposition_rate_nm_per_s",
    "crystallization.late_growth_rate_nm_s": "crystallization.late_growth_rate_nm_per_s",
    # timeseries.csv
    "N_V_*_m2": "N_V_*_per_m2",
    "oxygen_from_*_m2": "oxygen_from_*_per_m2",
    "phase_free_energy_J_m2": "phase_free_energy_J_per_m2",
}


def _segment_regex(pattern: str) -> re.Pattern:
    return re.compile("".join("(.+)" if c == "*" else re.escape(c) for c in pattern))


@lru_cache(maxsize=1)
def _segment_renames() -> tuple[tuple[re.Pattern, re.Pattern, str], ...]:
    """(old, new, new pattern) of every name segment that changed (``inventory_m2`` ->
    ``inventory_per_m2``, ``N_V_*_m2`` -> ``N_V_*_per_m2``)."""
    out = []
    for old, new in RENAMED.items():
        for a, b in zip(old.split("."), new.split(".")):
            if a != b:
                out.append((_segment_regex(a), _segment_regex(b), b))
    return tuple(out)


def renamed(name: str) -> str | None:
    """The new name of an old summary key (whole dotted path, or any end of one such as
    ``inventory_m2.film`` or ``mobility_m3_J_s``) or timeseries column; None when ``name``
    uses no old name."""
    parts = str(name).split(".")
    changed = False
    for i, part in enumerate(parts):
        for old, new, new_pattern in _segment_renames():
            m = old.fullmatch(part)
            if m and not new.fullmatch(part):
                pieces = new_pattern.split("*")
                parts[i] = pieces[0] + "".join(g + p for g, p in zip(m.groups(), pieces[1:]))
                changed = True
                break
    return ".".join(parts) if changed else None


def renamed_message(name: str) -> str | None:
    """"'old' was renamed to 'new' (#24) ..." for an old name, else None."""
    new = renamed(name)
    if new is None:
        return None
    return (f"'{name}' was renamed to '{new}' (#24: the `_per_` naming scheme; the unit is "
            "unchanged, see docs/outputs.md, 'Renamed in #24')")


def check_not_renamed(name: str, error: type[Exception] = KeyError) -> None:
    """Raise ``error`` naming the new key when ``name`` is an old one."""
    msg = renamed_message(name)
    if msg is not None:
        raise error(msg)


class Columns(dict):
    """A dict of table columns (or summary entries) whose missing-key error names the new
    key of an old one: ``run.timeseries["N_V_film_m2"]`` -> KeyError "... renamed to
    'N_V_film_per_m2' (#24) ..."."""

    def __missing__(self, key):
        check_not_renamed(str(key))
        raise KeyError(key)
