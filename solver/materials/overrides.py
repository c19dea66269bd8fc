"""A config's ``[materials.<name>]`` tables applied to the database: overrides of database
values and new materials (:func:`resolve_materials`, :func:`collect_materials`)."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any

from heterofem.solver.materials.model import (
    KINDS,
    KNOWN_UNITS,
    Material,
    MaterialError,
    Param,
    STATUS_MEANING,
    _OVERRIDE_SOURCE,
    _PARAM_FIELDS,
    _RESERVED,
    _dim_text,
    _dimensionality,
    _unit,
)
from heterofem.solver.materials.database import (
    _check_value,
    _known_unit_problem,
    _required_problems,
    load_database,
)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _config_param(
    pkey: str, key: str, raw: Any, ref: Param | None, owner: str,
    problems: list[tuple[str, str]],
) -> Param | None:
    """One parameter of a ``[materials.<name>]`` table; ``ref`` is the value it replaces."""
    full_table = (f"{key} = {{ value = ..., unit = \"{KNOWN_UNITS.get(key, '...')}\", "
                  "source = \"...\" }")
    if _is_number(raw):
        if ref is None:
            problems.append((pkey, f"{owner} has no parameter '{key}', so a bare number has "
                             f"no unit; give unit and source: {full_table}"))
            return None
        if not math.isfinite(raw):
            problems.append((pkey, f"value must be finite (got {raw!r})"))
            return None
        return Param(float(raw), ref.unit, _OVERRIDE_SOURCE, "",
                     f"replaces {ref.value:g} {ref.unit} ({ref.source})")
    if not isinstance(raw, dict):
        unit_hint = f"a number (in {ref.unit}) or " if ref else ""
        problems.append((pkey, f"give {unit_hint}a table: {full_table} (got {raw!r})"))
        return None
    n_before = len(problems)
    for extra in raw:
        if extra not in _PARAM_FIELDS:
            close = difflib.get_close_matches(str(extra), _PARAM_FIELDS, n=1)
            hint = (f"did you mean '{close[0]}'?" if close
                    else f"allowed: {', '.join(_PARAM_FIELDS)}")
            problems.append((f"{pkey}.{extra}", f"unknown key; {hint}"))
    value = raw.get("value")
    if value is None:
        problems.append((pkey, f"the table needs value: {full_table}"))
    else:
        try:
            value = _check_value(value)
        except ValueError as exc:
            problems.append((pkey, str(exc)))
    unit = raw.get("unit", ref.unit if ref else None)
    if unit is None:
        problems.append((pkey, f"give the unit: {full_table}"))
    else:
        try:
            _unit(unit)
        except ValueError as exc:
            problems.append((pkey, f"{exc}; give a unit such as "
                             f"'{ref.unit if ref else KNOWN_UNITS.get(key, 'nm')}'"))
        else:
            if ref is not None and _dimensionality(unit) != _dimensionality(ref.unit):
                problems.append((pkey, f"unit '{unit}' is {_dim_text(unit)} but {owner} gives "
                                 f"{key} in '{ref.unit}' ({_dim_text(ref.unit)}); use a unit "
                                 "of that dimension, or a bare number in "
                                 f"'{ref.unit}'"))
            elif ref is None and (bad := _known_unit_problem(key, unit)):
                problems.append((pkey, bad))
    source = raw.get("source", _OVERRIDE_SOURCE if ref else None)
    if not isinstance(source, str) or not source.strip():
        problems.append((pkey, "give a source (paper and year, or 'estimate'): " + full_table))
    status = raw.get("status", "")
    if status not in STATUS_MEANING and status != "":
        problems.append((f"{pkey}.status", f"status must be one of {', '.join(STATUS_MEANING)}"))
    note = raw.get("note", "")
    if not isinstance(note, str):
        problems.append((f"{pkey}.note", "note must be a string"))
    if len(problems) > n_before:
        return None
    return Param(value, unit, source, status, note)


def _config_material(
    name: str, raw: Mapping[str, Any], db: dict[str, Material],
    problems: list[tuple[str, str]],
) -> Material | None:
    prefix = f"materials.{name}"
    n_before = len(problems)
    base = raw.get("base")
    kind = raw.get("kind")
    description = raw.get("description")

    start: Material | None = None
    if name in db:
        start = db[name].copy()
        start.origin = f"{start.origin} + config [materials.{name}]"
        owner = f"the database material '{name}'"
        if base is not None:
            problems.append((f"{prefix}.base", f"'{name}' is a database material: override its "
                             "values directly, or give the new material another name"))
    elif base is not None:
        owner = f"base material '{base}'"
        if isinstance(base, str) and base in db:
            start = db[base].copy()
            start.name = name
            start.description = f"{start.description} (config material based on {base})"
            start.origin = f"config [materials.{name}], base {base}"
        else:
            close = difflib.get_close_matches(str(base), list(db), n=1)
            hint = f"did you mean '{close[0]}'?" if close else ""
            problems.append((f"{prefix}.base", f"unknown database material {base!r}; {hint} "
                             f"known: {', '.join(sorted(db))}"))
    else:
        owner = f"the new material '{name}'"
        if kind is None:
            close = difflib.get_close_matches(name, list(db), n=1)
            hint = (f" (or did you mean to override the database material '{close[0]}'?)"
                    if close else "")
            problems.append((f"{prefix}.kind", f"'{name}' is not in the database, so it needs "
                             f"kind = one of {', '.join(KINDS)}, or base = \"<database "
                             f"material>\" to start from one{hint}"))

    if kind is not None and kind not in KINDS:
        problems.append((f"{prefix}.kind", f"kind must be one of {', '.join(KINDS)} "
                         f"(got {kind!r})"))
    if description is not None and not isinstance(description, str):
        problems.append((f"{prefix}.description", "description must be a string"))

    params = dict(start.params) if start else {}
    for key, value in raw.items():
        if key in _RESERVED:
            continue
        pkey = f"{prefix}.{key}"
        if not isinstance(key, str) or not key.isidentifier():
            problems.append((pkey, "a parameter name must be an identifier (letters, digits, _)"))
            continue
        ref = start.params.get(key) if start else None
        if ref is None and start is not None and _is_number(value):
            close = difflib.get_close_matches(key, list(start.params), n=1)
            if close:
                problems.append((pkey, f"{owner} has no parameter '{key}'; did you mean "
                                 f"'{close[0]}'? (a new parameter needs a full table "
                                 "{ value, unit, source })"))
                continue
        param = _config_param(pkey, key, value, ref, owner, problems)
        if param is not None:
            params[key] = param

    if len(problems) > n_before:
        return None
    mat = Material(
        name=name,
        description=description if description is not None else
        (start.description if start else f"config material '{name}'"),
        kind=kind if kind is not None else start.kind,  # type: ignore[union-attr]
        params=params,
        origin=start.origin if start else f"config [materials.{name}]",
    )
    missing = _required_problems(mat, prefix)
    problems.extend(missing)
    return None if missing else mat


#: parameters that must be positive (a negative diffusivity or site density is meaningless)
POSITIVE_KEYS = (
    "eps_r_a", "eps_r_c", "eps_inf_a", "eps_inf_c", "screening_length", "oxygen_site_density",
    "vacancy_D0_a", "vacancy_D0_c", "surface_exchange_k0", "effective_dos_conduction",
    "a_lattice", "c_lattice", "C11", "C33", "C44", "C66",
)
#: parameters that must not be negative
NON_NEGATIVE_KEYS = ("vacancy_Ea_a", "vacancy_Ea_c", "surface_exchange_Ea", "donor_density",
                     "acceptor_density")


def _sign_problems(mat: Material, prefix: str) -> list[tuple[str, str]]:
    problems = []
    for key in POSITIVE_KEYS + NON_NEGATIVE_KEYS:
        if mat.has(key):
            v = mat[key].value
            if v < 0 or (v == 0 and key in POSITIVE_KEYS):
                need = "> 0" if key in POSITIVE_KEYS else ">= 0"
                problems.append((f"{prefix}.{key}", f"must be {need} (got {v:g} {mat[key].unit})"))
    return problems


def resolve_materials(cfg: Any) -> dict[str, Material]:
    """The materials used by ``cfg.layers`` (keyed by material name, in layer order), with the
    config's ``[materials.<name>]`` tables applied.

    Every ``[materials]`` table is checked, used or not, and all problems are raised together
    as one :class:`MaterialError`. A layer material that is neither in the database nor in
    ``[materials]`` is left out: config validation reports it (``layers.<i>.material``).
    """
    used, problems = collect_materials(cfg)
    if problems:
        raise MaterialError(problems)
    return used


def collect_materials(cfg: Any) -> tuple[dict[str, Material], list[tuple[str, str]]]:
    """Like :func:`resolve_materials`, without raising: the used materials whose tables are
    fine, and every problem of the ``[materials]`` tables (so that config validation can
    report them beside the checks of the materials that are fine, in one pass)."""
    db = load_database()
    problems: list[tuple[str, str]] = []
    configured: dict[str, Material] = {}
    broken: set[str] = set()
    for name, raw in (getattr(cfg, "materials", None) or {}).items():
        n_before = len(problems)
        if not isinstance(raw, Mapping):
            problems.append((f"materials.{name}", "must be a table of parameters"))
        elif (mat := _config_material(name, raw, db, problems)) is not None:
            problems.extend(_sign_problems(mat, f"materials.{name}"))
            configured[name] = mat
        if len(problems) > n_before:
            broken.add(name)
    used: dict[str, Material] = {}
    names = [layer.material for layer in cfg.layers]
    physics, cryst = getattr(cfg, "physics", None), getattr(cfg, "crystallization", None)
    if physics is not None and physics.crystallization and cryst is not None:
        names.append(cryst.amorphous_material)  # the as-deposited phase of the film
    for name in names:
        if name in used or name in broken:
            continue
        if name in configured:
            used[name] = configured[name]
        elif name in db:
            used[name] = db[name]
    return used, problems


# -- helpers for the physics ------------------------------------------------------------------


