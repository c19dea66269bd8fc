"""The run configuration: TOML file -> validated :class:`Config`.

- :mod:`.schema`: the pydantic models of every section, :class:`Config` and the geometry
  derived from it (:meth:`Config.stack_geometry`, what the mesher gets);
- :mod:`.overrides`: reading TOML and ``--set dotted.key=value`` overrides;
- :mod:`.errors`: :class:`ConfigError`, pydantic's errors as dotted keys with their fix
  (allowed keys, did-you-mean);
- :mod:`.checks`: the checks that read the config alone.

The one validation pass (schema, these checks and the physics' own checks), with
``load_config`` and ``validate_data``, is :mod:`heterofem.solver.validation`: it sits above this
layer and the physics, so the config imports no physics.
"""

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
    "interface_name",
    "read_toml",
    "to_toml_dict",
]
