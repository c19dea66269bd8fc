"""The one validation pass of a config: the schema, then every cross-check.

:func:`load_config` (read, ``--set``, validate) and :func:`validate_data` collect *every*
problem (syntax, schema, cross references, what the physics need from the materials) and
raise one :class:`~heterofem.solver.config.ConfigError` listing them, each naming its dotted
key and the fix: the cross-checks run on what passed the schema, skipping only those that
read a failing value.

This module sits above the config layer (:mod:`heterofem.solver.config`: the schema, ``--set``,
errors and the checks that read the config alone) and the physics' own checks
(:mod:`heterofem.solver.physics.checks`), so the config imports no physics.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from heterofem.solver.config.checks import (
    facet_checks,
    feature_checks,
    layer_checks,
    switch_checks,
    time_checks,
    vector_checks,
)
from heterofem.solver.config.errors import ConfigError, partial_config, pydantic_problems
from heterofem.solver.config.overrides import apply_overrides, read_toml
from heterofem.solver.config.schema import Config
from heterofem.solver.physics.checks import crystallization_checks, material_checks, vacancy_checks


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
         lambda: layer_checks(cfg, known)),
        # (reads the facet names only: a facet whose values failed is still named right)
        (("layers.*.name", "run.dimension", "mesh.file"), lambda: facet_checks(cfg)),
        (("layers", "mesh", "run.dimension"), lambda: feature_checks(cfg)),
        (("physics", "run.dimension"), lambda: switch_checks(cfg)),
        (("time",), lambda: time_checks(cfg)),
        (("boundary", "run.dimension"), lambda: vector_checks(cfg)),
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
