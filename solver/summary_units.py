"""Units as data: the unit of every numeric entry of ``summary.json`` and of every column of
``timeseries.csv`` and ``profiles.csv`` (issue #24 item 4).

A run writes them next to the numbers, so that no reader parses a unit out of a name:

* ``summary.json`` gets a top-level ``units`` map, dotted path -> unit
  (``summary["units"]["work_function.work_function_eV"] == "eV"``; list items are indexed
  ``vacancies.diffusivity_m2_per_s.film.0``);
* ``timeseries.csv`` and ``profiles.csv`` get a sidecar, ``timeseries.units.json`` and
  ``profiles.units.json``: column -> unit (the CSV files themselves stay plain tables that
  numpy and pandas read as before).

Units are pint strings (``"V/m"``, ``"m^-2"``, ``"J*m/C^2"``); ``"1"`` is dimensionless (a count,
a ratio, a strain). :data:`SUMMARY_UNITS` and :data:`TIMESERIES_UNITS` are the one table of
them (docs/outputs.md shows it); ``*`` in a pattern stands for one name (a layer, an
interface ``a/b``, a list index). A key that no pattern matches is written with unit ``None``
and logged: tests/unit/test_units.py walks the summaries of every problem and fails on one.
Field columns (profiles.csv, the field files) take the unit their physics module declares
(:class:`~heterofem.solver.physics.base.OutputField`).

Names: a unit suffix for people, with ``/`` written ``_per_`` and a negative power written
``per_<unit>n`` (``_nm_per_s``, ``_per_m2``, ``_J_per_m2``); the units map, not the suffix, is
authoritative. :data:`RENAMED` lists the keys renamed to that scheme in #24 (old -> new).
"""

from __future__ import annotations

import json
import logging
import re
from functools import lru_cache
from pathlib import Path

# the one table of the keys renamed to the `_per_` scheme (#24), old -> new; it lives in the
# post-processing (which may not import the solver) and is used by both
from heterofem.postprocess.names import RENAMED, renamed, renamed_message  # noqa: F401

log = logging.getLogger("heterofem")

UNITS_KEY = "units"  #: the top-level key of the units map in summary.json

#: summary.json entries that are not numbers with a unit (text, provenance) or hold their own
#: units (``fields``: column -> {name, unit, kind}); the walk skips them
_SKIP = ("name", "heterofem_version", "git_commit", "dolfinx_version", "petsc_version",
         "python_version", "command_line", "config_sha256", "fields", "error", "converged",
         "solver", UNITS_KEY)

_COUNT = "1"
#: (pattern of a dotted summary path, unit); the first match wins
SUMMARY_UNITS: tuple[tuple[str, str], ...] = (
    # run and mesh
    ("dimension", _COUNT), ("dofs", _COUNT), ("mpi_size", _COUNT), ("newton_iterations", _COUNT),
    ("wall_time_s", "s"), ("timings_s.*", "s"),
    ("mesh.cells", _COUNT), ("mesh.layers.*.cells", _COUNT), ("mesh.layers.*.tag", _COUNT),
    ("mesh.layers.*.h_min", "nm"), ("mesh.layers.*.h_max", "nm"),
    ("mesh.layers.*.volume", "nm^{dimension}"),  # length in 1D, area in 2D, volume in 3D
    ("mesh.adapt.remeshes", _COUNT), ("mesh.adapt.dofs_final", _COUNT),
    ("mesh.adapt.dofs_max", _COUNT), ("mesh.adapt.cells_final", _COUNT),
    ("mesh.adapt.inventory_relative_change_max", _COUNT),
    ("interfaces.*.z_nm", "nm"),
    # steady continuation and time loop
    ("pseudo_transient.final_change", _COUNT), ("pseudo_transient.newton_iterations", _COUNT),
    ("pseudo_transient.steps", _COUNT), ("pseudo_transient.rejected_steps", _COUNT),
    ("time.end_s", "s"), ("time.restarted_from_s", "s"), ("time.dt_min_used_s", "s"),
    ("time.dt_max_used_s", "s"), ("time.steps", _COUNT), ("time.rejected_steps", _COUNT),
    ("time.error_rejected_steps", _COUNT), ("time.newton_iterations", _COUNT),
    ("time.error_estimate_max", _COUNT),
    # electrostatics
    ("electrostatics.phi_V.*", "V"), ("electrostatics.phi_min_V", "V"),
    ("electrostatics.phi_max_V", "V"), ("electrostatics.potential_drop_V", "V"),
    ("electrostatics.net_charge_C_per_m2", "C/m^2"),
    ("electrostatics.electrostatic_energy_J_per_m2", "J/m^2"),
    # polarization
    ("polarization.max_abs_P_C_per_m2", "C/m^2"), ("polarization.max_displacement_pm", "pm"),
    ("polarization.interfaces.*.P_C_per_m2", "C/m^2"), ("polarization.interfaces.*.z_nm", "nm"),
    ("polarization.interfaces.*.decay_length_above_nm", "nm"),
    ("polarization.interfaces.*.decay_length_below_nm", "nm"),
    ("polarization.a1_zz_J_m_per_C2.*", "J*m/C^2"),
    ("polarization.dipole_potential_step_bare_V.*", "V"), ("polarization.polar_bias_V.*", "V"),
    ("polarization.interfaces.*.field_V", "V"),
    ("polarization.interfaces.*.equivalent_width_*_nm", "nm"),
    ("polarization.interfaces.*.interfacial_layer_thickness_nm", "nm"),
    ("polarization.interfaces.*.mean_displacement_pm", "pm"),
    ("polarization.interfaces.*.max_displacement_pm", "pm"),
    ("polarization.interfacial_layer_thickness_nm", "nm"),
    ("polarization.interface_fields_V.*", "V"),
    ("polarization.strain.*.critical_thickness_*_nm", "nm"),
    ("polarization.strain.*.*", _COUNT),  # misfit, retained fraction, strain: ratios
    # epitaxial strain (solver/strain.py)
    ("strain.*.critical_thickness_*_nm", "nm"), ("strain.*.*", _COUNT),
    # mechanics
    ("mechanics.elastic_energy_J_per_m2", "J/m^2"), ("mechanics.von_mises_max_GPa", "GPa"),
    ("mechanics.layers.*.sigma_*_GPa", "GPa"), ("mechanics.layers.*.strain_*", _COUNT),
    ("mechanics.layers.*.misfit_*", _COUNT),
    # vacancies (inventories are areal densities: per m^2)
    ("vacancies.time_scale_s", "s"), ("vacancies.total_inventory_per_m2", "m^-2"),
    ("vacancies.inventory_per_m2.*", "m^-2"), ("vacancies.initial_inventory_per_m2.*", "m^-2"),
    ("vacancies.oxygen_transferred_up_per_m2.*", "m^-2"),
    ("vacancies.mean_delta.*", _COUNT), ("vacancies.initial_mean_delta.*", _COUNT),
    ("vacancies.mean_delta_crystalline.*", _COUNT), ("vacancies.surface_delta.*", _COUNT),
    ("vacancies.diffusivity_m2_per_s.*.*", "m^2/s"),
    ("vacancies.interface_kinetics.*.rate_m_per_s", "m/s"),
    ("vacancies.interface_kinetics.*.mu_jump_eV", "eV"),
    # crystallization and deposition
    ("crystallization.temperature_K", "K"), ("crystallization.epitaxial_thickness_nm", "nm"),
    ("crystallization.deposited_thickness_nm", "nm"),
    ("crystallization.crystallized_threshold_nm", "nm"),
    ("crystallization.interface_width_nm", "nm"),
    ("crystallization.interface_energy_J_per_m2", "J/m^2"),
    ("crystallization.driving_force_J_per_m3", "J/m^3"),
    ("crystallization.amorphous_driving_force_J_per_m3", "J/m^3"),
    ("crystallization.mobility_m3_per_J_s", "m^3/(J*s)"),
    ("crystallization.front_velocity_stoichiometric_nm_per_s", "nm/s"),
    ("crystallization.nucleation_barrier_*_eV", "eV"),
    ("crystallization.deposition_rate_nm_per_s", "nm/s"),
    ("crystallization.deposition_pO2_mTorr", "mtorr"),
    ("crystallization.deposition_delta", _COUNT),
    ("crystallization.xi_min", _COUNT), ("crystallization.xi_max", _COUNT),
    ("crystallization.crystalline_fraction", _COUNT),
    ("crystallization.late_growth_rate_nm_per_s", "nm/s"),
    ("crystallization.late_growth_rate_relative", _COUNT),
    # a VO2-delta template (solver/template.py)
    ("template.*.delta", _COUNT), ("template.*.out_of_plane_expansion_percent", "percent"),
    ("template.*.out_of_plane_expansion_change_percent", "percent"),
    ("template.*.T_MI_K", "K"), ("template.*.T_MI_initial_K", "K"),
    # work function
    ("work_function.work_function_eV", "eV"), ("work_function.intrinsic_eV", "eV"),
    ("work_function.band_alignment_eV", "eV"), ("work_function.charges_eV", "eV"),
    ("work_function.polarization_eV", "eV"), ("work_function.phi_vacuum_V", "V"),
    ("work_function.surface_map.*_eV", "eV"), ("work_function.surface_map.probe_z_nm", "nm"),
)

#: (pattern of a timeseries.csv column, unit); ``*`` is a layer name
TIMESERIES_UNITS: tuple[tuple[str, str], ...] = (
    ("t_s", "s"), ("dt_s", "s"), ("newton_iterations", _COUNT),
    ("N_V_*_per_m2", "m^-2"), ("oxygen_from_*_per_m2", "m^-2"), ("delta_*", _COUNT),
    ("crystalline_thickness_nm", "nm"), ("deposited_thickness_nm", "nm"),
    ("epitaxial_thickness_nm", "nm"), ("phase_free_energy_J_per_m2", "J/m^2"),
)

#: columns of profiles.csv that are not fields
PROFILE_UNITS = {"z_nm": "nm", "layer": ""}


@lru_cache(maxsize=None)
def _regex(pattern: str) -> re.Pattern:
    """``*`` matches one dotted segment (or, inside a column name, any text without a dot)."""
    return re.compile("".join("[^.]+" if c == "*" else re.escape(c) for c in pattern))


def match_unit(key: str, table=SUMMARY_UNITS, dimension: int | None = None) -> str | None:
    """The unit of ``key`` from ``table`` (None when no pattern matches)."""
    for pattern, unit in table:
        if _regex(pattern).fullmatch(key):
            return unit.replace("{dimension}", str(dimension or 1))
    return None


def numeric_paths(summary: dict) -> list[str]:
    """The dotted path of every number in ``summary`` (booleans and text left out)."""
    out: list[str] = []

    def walk(node, prefix: str) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in items:
            if not prefix and k in _SKIP:
                continue
            key = f"{prefix}{k}"
            if isinstance(v, (dict, list, tuple)):
                walk(v, key + ".")
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                out.append(key)

    walk(summary, "")
    return out


def summary_units(summary: dict) -> dict[str, str | None]:
    """The ``units`` map of a summary: every numeric dotted path -> its unit (None, logged,
    for a key that :data:`SUMMARY_UNITS` does not know yet)."""
    dim = summary.get("dimension") if isinstance(summary.get("dimension"), int) else None
    units = {key: match_unit(key, SUMMARY_UNITS, dim) for key in numeric_paths(summary)}
    unknown = [k for k, u in units.items() if u is None]
    if unknown:
        log.warning("summary keys without a unit in solver/summary_units.py: %s",
                    ", ".join(unknown))
    return units


def with_units(summary: dict) -> dict:
    """``summary`` with its ``units`` map (the last entry of summary.json)."""
    out = {k: v for k, v in summary.items() if k != UNITS_KEY}
    out[UNITS_KEY] = summary_units(out)
    return out


def timeseries_units(columns) -> dict[str, str | None]:
    """column -> unit of timeseries.csv."""
    return {c: match_unit(c, TIMESERIES_UNITS) for c in columns}


def profile_units(fields) -> dict[str, str]:
    """column -> unit of profiles.csv, from the output fields' declared units."""
    out = dict(PROFILE_UNITS)
    out.update({f.column: f.unit for f in fields})
    return out


def sidecar_path(csv_path: Path) -> Path:
    """``profiles.csv`` -> ``profiles.units.json``."""
    csv_path = Path(csv_path)
    return csv_path.with_name(f"{csv_path.stem}.units.json")


def units_json(units: dict) -> str:
    return json.dumps(units, indent=2) + "\n"


def markdown_rows(table) -> str:
    """The rows of docs/outputs.md's tables: ``| `pattern` | `unit` |``."""
    return "\n".join(f"| `{p}` | `{u}` |" for p, u in table)


if __name__ == "__main__":  # python -m heterofem.solver.summary_units: rows for docs/outputs.md
    print("summary.json:\n" + markdown_rows(SUMMARY_UNITS))
    print("\ntimeseries.csv:\n" + markdown_rows(TIMESERIES_UNITS))
