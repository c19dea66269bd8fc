"""The config's validation pass: the schema, then every cross-check, in one pass.

:func:`load_config` (read, ``--set``, validate) and :func:`validate_data` collect *every*
problem (syntax, schema, cross references, what the physics needs from the materials) and
raise one :class:`~heterofem.solver.config.errors.ConfigError` listing them, each naming its
dotted key and the fix: the cross-checks run on what passed the schema, skipping only those
that read a failing value.

The checks here read the config alone (layer names and materials, facet names, features,
switches, time steps, vectors); the features' geometry is checked by the mesher's own
:func:`heterofem.meshes.features.feature_problems` (one definition of each check). What the
physics need from the config and the materials is in
:mod:`heterofem.solver.config.physics_checks`.
"""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from heterofem.meshes.features import feature_problems
from heterofem.meshes.geometry import layer_name_problems
from heterofem.solver.config.errors import ConfigError, partial_config, pydantic_problems
from heterofem.solver.config.overrides import apply_overrides, read_toml
from heterofem.solver.config.physics_checks import (
    crystallization_checks,
    material_checks,
    vacancy_checks,
)
from heterofem.solver.config.schema import NOT_IMPLEMENTED_PHYSICS, Config


def _overlaps(dep: str, bad: tuple[str, ...]) -> bool:
    """Whether a check reading ``dep`` (dotted; ``*`` matches any list index or key, as in
    ``layers.*.material``) reads the value replaced at ``bad``."""
    return all(d in ("*", b) for d, b in zip(dep.split("."), bad))


def cross_checks(cfg: Config, bad: set[tuple[str, ...]] | frozenset = frozenset()
                 ) -> list[tuple[str, str]]:
    """Checks that need more than one section (material names, facet names, physics).

    ``bad``: the paths that failed the schema and were replaced by defaults
    (:func:`~heterofem.solver.config.errors.partial_config`); a check that reads any of them
    is skipped, the others run, so that one pass reports every problem."""
    from heterofem.solver.materials import MaterialError, collect_materials, known_material_names

    def clean(*deps: str) -> bool:
        return not any(_overlaps(d, b) for d in deps for b in bad)

    try:
        known = set(known_material_names())
    except MaterialError as exc:  # a broken database file
        return exc.problems
    problems: list[tuple[str, str]] = []
    groups = (
        (("layers.*.name", "layers.*.material", "layers.*.polar", "materials"),
         lambda: _layer_checks(cfg, known)),
        # (reads the facet names only: a facet whose values failed is still named right)
        (("layers.*.name", "run.dimension", "mesh.file"), lambda: _facet_checks(cfg)),
        (("layers", "mesh", "run.dimension"), lambda: _feature_checks(cfg)),
        (("physics", "run.dimension"), lambda: _physics_checks(cfg)),
        (("time",), lambda: _time_checks(cfg)),
        (("boundary", "run.dimension"), lambda: _vector_checks(cfg)),
        (("physics", "crystallization", "layers", "materials", "run.dimension", "time"),
         lambda: crystallization_checks(cfg)),
    )
    for deps, check in groups:
        if clean(*deps):
            problems.extend(check())
    if not clean("materials"):
        return problems
    materials, table_problems = collect_materials(cfg)
    problems.extend(table_problems)
    if clean("boundary", "physics", "layers", "initial", "crystallization", "run.temperature_K",
             "time"):
        problems.extend(vacancy_checks(cfg, materials))
    needed = [lay.material for lay in cfg.layers] + (
        [cfg.crystallization.amorphous_material] if cfg.physics.crystallization else [])
    if clean("layers", "physics", "crystallization") and all(m in materials for m in needed):
        problems.extend(material_checks(cfg, materials, clean))
    return problems


def _layer_checks(cfg: Config, known: set[str]) -> list[tuple[str, str]]:
    """Unique names, known materials, vacuum only on top and never polar."""
    problems: list[tuple[str, str]] = []
    names = [lay.name for lay in cfg.layers]
    known = known | set(cfg.materials)
    problems.extend(layer_name_problems(names))
    for i, lay in enumerate(cfg.layers):
        if lay.material not in known:
            close = difflib.get_close_matches(lay.material, sorted(known), n=1)
            hint = f"did you mean '{close[0]}'?" if close else "see `heterofem materials`"
            problems.append(
                (f"layers.{i}.material", f"unknown material '{lay.material}'; {hint} "
                 "(or define it under [materials.<name>])")
            )
        if lay.material == "vacuum" and i != len(cfg.layers) - 1:
            problems.append((f"layers.{i}.material", "vacuum is allowed only as the top layer"))
        if lay.material == "vacuum" and lay.polar:
            problems.append((f"layers.{i}.polar", "vacuum carries no polarization; remove polar "
                             "or set it to false"))
    if all(lay.material == "vacuum" for lay in cfg.layers):
        problems.append(("layers", "the stack needs at least one solid layer"))
    return problems


def _facet_checks(cfg: Config) -> list[tuple[str, str]]:
    """Every [boundary.<facet>] names a facet set the built-in mesher creates."""
    problems: list[tuple[str, str]] = []
    if cfg.mesh.file is None:
        valid = cfg.facet_names()
        for facet in cfg.boundary:
            if facet not in valid:
                close = difflib.get_close_matches(facet, valid, n=1)
                hint = f"did you mean '{close[0]}'?" if close else ""
                problems.append(
                    (f"boundary.{facet}",
                     f"no facet named '{facet}' in this {cfg.run.dimension}D stack; {hint} "
                     f"valid names: {', '.join(valid)}")
                )
    return problems


def _feature_checks(cfg: Config) -> list[tuple[str, str]]:
    """Lateral features lie inside the domain, on a layer with one above, and fit in it (the
    mesher's checks, :func:`heterofem.meshes.features.feature_problems`); an external mesh
    file exists."""
    problems = feature_problems(cfg.stack_geometry())
    if cfg.mesh.file is not None and not Path(cfg.mesh.file).is_file():
        problems.append(("mesh.file", f"cannot read '{cfg.mesh.file}'; give an existing Gmsh "
                         ".msh file"))
    return problems


def _physics_checks(cfg: Config) -> list[tuple[str, str]]:
    """Switches this version cannot solve."""
    problems: list[tuple[str, str]] = []
    if cfg.physics.mechanics and cfg.run.dimension == 1:
        problems.append(("physics.mechanics", "linear elasticity needs run.dimension = 2 or 3 (in 1D "
                         "the strain of each layer is its residual misfit, see [strain])"))
    for switch in NOT_IMPLEMENTED_PHYSICS:
        if getattr(cfg.physics, switch):
            problems.append((f"physics.{switch}", "not implemented yet in this version; set it to false"))
    if not cfg.physics.electrostatics:
        problems.append(("physics.electrostatics", "the potential is always solved in this version; "
                         "set it to true"))
    return problems


def _vector_checks(cfg: Config) -> list[tuple[str, str]]:
    """Displacement and traction vectors have one component per dimension."""
    problems: list[tuple[str, str]] = []
    for name, bc in cfg.boundary.items():
        for key in ("displacement_nm", "traction_GPa"):
            vec = getattr(bc, key)
            if vec is not None and len(vec) != cfg.run.dimension:
                problems.append((f"boundary.{name}.{key}", f"give {cfg.run.dimension} components "
                                 "(x, [y,] z)"))
    return problems


def _time_checks(cfg: Config) -> list[tuple[str, str]]:
    """The step sizes and output times of a transient fit its end time."""
    problems: list[tuple[str, str]] = []
    t = cfg.time
    if t is None:
        return problems
    if t.dt_initial_s > t.end_s:
        problems.append(("time.dt_initial_s", "must not exceed end_s"))
    if t.dt_min > t.dt_initial_s:
        problems.append(("time.dt_min_s", "must not exceed dt_initial_s"))
    if t.dt_max < t.dt_min:
        problems.append(("time.dt_max_s", "must not be below dt_min_s (default dt_initial_s "
                         "x 1e-6)"))
    for j, to in enumerate(t.output_times_s):
        if to > t.end_s:
            problems.append((f"time.output_times_s.{j}", f"{to} s is after end_s = {t.end_s} s"))
    return problems


def validate_data(data: dict[str, Any], source: str = "config") -> Config:
    """Validate a config dictionary; raise :class:`ConfigError` with every problem found.

    One pass: the schema errors, then the cross-checks on what passed the schema (those that
    read a failing value are skipped; see
    :func:`~heterofem.solver.config.errors.partial_config`)."""
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        problems = pydantic_problems(exc)
        partial, bad = partial_config(data, exc)
        if partial is not None:
            reported = {key for key, _ in problems}
            problems.extend(p for p in cross_checks(partial, bad) if p[0] not in reported)
        raise ConfigError(problems) from None
    problems = cross_checks(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read, override (``--set``) and validate a TOML config."""
    data = read_toml(path)
    data = copy.deepcopy(data)
    problems = apply_overrides(data, list(overrides or []))
    if problems:
        raise ConfigError(problems)
    mesh = data.get("mesh")
    if isinstance(mesh, dict) and isinstance(mesh.get("file"), str):
        # a relative mesh file is relative to the config file
        candidate = Path(path).parent / mesh["file"]
        if not Path(mesh["file"]).is_absolute() and candidate.is_file():
            mesh["file"] = str(candidate.resolve())
    return validate_data(data, str(path))
