"""The run configuration: TOML file -> validated :class:`Config`.

- :mod:`.schema`: the pydantic models of every section, :class:`Config` and the geometry
  derived from it (:meth:`Config.stack_geometry`, what the mesher gets);
- :mod:`.overrides`: reading TOML and ``--set dotted.key=value`` overrides;
- :mod:`.errors`: :class:`ConfigError`, pydantic's errors as dotted keys with their fix
  (allowed keys, did-you-mean);
- :mod:`.checks`: the one validation pass (:func:`load_config`, :func:`validate_data`): the
  schema, then every cross-check; :mod:`.physics_checks`: what the physics need from the
  config and the materials.
"""

from heterofem.solver.config.checks import cross_checks, load_config, validate_data
from heterofem.solver.config.errors import ConfigError
from heterofem.solver.config.overrides import apply_overrides, read_toml
from heterofem.solver.config.schema import (
    MAX_TEMPERATURE_K,
    NOT_IMPLEMENTED_PHYSICS,
    ORIENTATIONS,
    BoundaryCondition,
    Config,
    CrystallizationSection,
    DepositionSection,
    Feature,
    InitialSection,
    Layer,
    MeshSection,
    OutputSection,
    PhysicsSection,
    RunSection,
    SolverSection,
    StrainSection,
    TimeSection,
    WorkFunctionSection,
    interface_name,
    to_toml_dict,
)

__all__ = [
    "MAX_TEMPERATURE_K",
    "NOT_IMPLEMENTED_PHYSICS",
    "ORIENTATIONS",
    "BoundaryCondition",
    "Config",
    "ConfigError",
    "CrystallizationSection",
    "DepositionSection",
    "Feature",
    "InitialSection",
    "Layer",
    "MeshSection",
    "OutputSection",
    "PhysicsSection",
    "RunSection",
    "SolverSection",
    "StrainSection",
    "TimeSection",
    "WorkFunctionSection",
    "apply_overrides",
    "cross_checks",
    "interface_name",
    "load_config",
    "read_toml",
    "to_toml_dict",
    "validate_data",
]
