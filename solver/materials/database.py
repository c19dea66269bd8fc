"""The database files: one TOML file per material beside this package, read and checked
(:func:`load_database`, :func:`known_material_names`)."""

from __future__ import annotations

import functools
import math
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from heterofem.solver.materials.model import (
    KINDS,
    KNOWN_UNITS,
    Material,
    MaterialError,
    Param,
    REQUIRED_ALL,
    REQUIRED_BY_KIND,
    STATUS_MEANING,
    _DB_DIR,
    _PARAM_FIELDS,
    _RESERVED,
    _dim_text,
    _dimensionality,
    _unit,
)


def _check_value(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"value must be a number (got {v!r})")
    if not math.isfinite(v):
        raise ValueError(f"value must be finite (got {v!r})")
    return float(v)


class _ParamEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Any
    unit: str
    source: str
    status: str = ""
    note: str = ""

    @field_validator("value", mode="before")
    @classmethod
    def _value(cls, v: Any) -> float:
        return _check_value(v)

    @field_validator("unit")
    @classmethod
    def _unit_ok(cls, v: str) -> str:
        _unit(v)
        return v

    @field_validator("source")
    @classmethod
    def _source_ok(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("source is empty; cite the paper and year (or 'estimate')")
        return v

    @field_validator("status")
    @classmethod
    def _status_ok(cls, v: str) -> str:
        if v not in STATUS_MEANING and v != "":
            raise ValueError(f"status must be one of {', '.join(STATUS_MEANING)} (or empty)")
        return v


class _MaterialFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str
    kind: str
    parameters: dict[str, _ParamEntry]

    @field_validator("kind")
    @classmethod
    def _kind_ok(cls, v: str) -> str:
        if v not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        return v


def _required_problems(mat: Material, key_prefix: str) -> list[tuple[str, str]]:
    need = REQUIRED_ALL + REQUIRED_BY_KIND.get(mat.kind, ())
    missing = [k for k in need if k not in mat.params]
    if not missing:
        return []
    return [(key_prefix, f"a {mat.kind} needs {', '.join(missing)}; add "
             + ", ".join(f"{k} = {{ value = ..., unit = \"{KNOWN_UNITS.get(k, '...')}\", "
                         "source = \"...\" }" for k in missing))]


def _known_unit_problem(key: str, unit: str) -> str | None:
    ref = KNOWN_UNITS.get(key)
    if ref is None or _dimensionality(unit) == _dimensionality(ref):
        return None
    return (f"unit '{unit}' is {_dim_text(unit)} but {key} must be {_dim_text(ref)} "
            f"(e.g. '{ref}')")


def _read_file(path: Path, problems: list[tuple[str, str]]) -> Material | None:
    fname = path.name
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        problems.append((fname, f"cannot read the database file ({exc}); restore it"))
        return None
    except tomllib.TOMLDecodeError as exc:
        problems.append((fname, f"invalid TOML: {exc}; fix the syntax there"))
        return None
    try:
        model = _MaterialFile.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key; allowed: " + (
                    ", ".join(_PARAM_FIELDS) if loc.startswith("parameters.")
                    else "name, description, kind, [parameters]")
            elif err["type"] == "missing":
                msg = "required key is missing; add it"
            problems.append((f"{fname}:{loc}", msg))
        # still report missing required parameters, so one pass shows every problem
        raw_params = data.get("parameters")
        if isinstance(raw_params, dict) and data.get("kind") in KINDS:
            stub = Material(str(data.get("name")), "", data["kind"],
                            {k: Param(0.0, "dimensionless", "") for k in raw_params})
            problems.extend(_required_problems(stub, f"{fname}:parameters"))
        return None
    n_before = len(problems)
    if model.name != path.stem:
        problems.append((f"{fname}:name", f"name '{model.name}' must match the file name "
                         f"('{path.stem}'); rename one of them"))
    params: dict[str, Param] = {}
    for key, entry in model.parameters.items():
        if not key.isidentifier() or key in _RESERVED:
            problems.append((f"{fname}:parameters.{key}", "a parameter name must be an "
                             f"identifier and not one of {', '.join(_RESERVED)}; rename it"))
        bad = _known_unit_problem(key, entry.unit)
        if bad:
            problems.append((f"{fname}:parameters.{key}.unit", bad))
        params[key] = Param(entry.value, entry.unit, entry.source, entry.status, entry.note)
    mat = Material(model.name, model.description, model.kind, params, origin=str(path))
    problems.extend(_required_problems(mat, f"{fname}:parameters"))
    return mat if len(problems) == n_before else None


@functools.lru_cache(maxsize=8)
def _load_dir(directory: str) -> dict[str, Material]:
    problems: list[tuple[str, str]] = []
    db: dict[str, Material] = {}
    files = sorted(Path(directory).glob("*.toml"))
    if not files:
        raise MaterialError([(directory, "no material files (*.toml) found; reinstall heterofem")])
    for path in files:
        mat = _read_file(path, problems)
        if mat is not None:
            if mat.name in db:
                problems.append((path.name, f"material '{mat.name}' is defined twice"))
            db[mat.name] = mat
    if problems:
        raise MaterialError(problems)
    return db


def load_database(directory: str | Path | None = None) -> dict[str, Material]:
    """Every material of the database, validated (cached; each call returns fresh copies, so
    changing them does not change the database). ``directory`` defaults to the package's own
    files. A broken file raises :class:`MaterialError` naming the file and key."""
    db = _load_dir(str(Path(directory).resolve() if directory else _DB_DIR))
    return {name: mat.copy() for name, mat in db.items()}


def known_material_names() -> list[str]:
    """Names of the database materials, sorted."""
    return sorted(_load_dir(str(_DB_DIR)))


# -- config materials -------------------------------------------------------------------------


