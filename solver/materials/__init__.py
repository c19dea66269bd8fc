"""The materials database: one TOML file per material, every value with a unit and a source.

Each ``<name>.toml`` beside this module holds ``name``, ``description``, ``kind`` (one of
:data:`KINDS`) and a ``[parameters]`` table whose entries are inline tables::

    eps_r_c = { value = 170.0, unit = "dimensionless", source = "Parker, PRB 124, 1719 (1961)",
                status = "V", note = "300 K, along c" }

``unit`` is any unit string pint parses; ``status`` is the mark of ``PARAMETERS.md`` (V seen in
a source, L recalled literature value, D derived, E estimate to calibrate). Tensor properties
are given in crystal axes (a, b, c of the rutile cell; ``*_a`` is perpendicular to c, ``*_c``
along c); the layer orientation rotates them elsewhere.

A run config can change the database without editing it (``[materials.<name>]``):

- override a database value: ``eps_r_c = 120.0`` (bare number, in the database's unit, source
  "config override") or a table ``screening_length = { value = 0.5, unit = "angstrom",
  source = "fit" }`` whose unit has the database's dimension (unit and source default to the
  database's unit and "config override"); a parameter the database lacks needs the full
  table ``{ value, unit, source }``;
- define a new material: ``kind`` and every parameter as ``{ value, unit, source }``, or
  ``base = "TiO2"`` to start from a database material and change some values.

:func:`resolve_materials` applies that to the materials the layers use and collects *every*
problem into one :class:`MaterialError`.
"""

from __future__ import annotations

import difflib
import functools
import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

#: Material kinds; the electrostatics picks its charge model from the kind.
KINDS = ("semiconductor", "insulator", "metal", "vacuum")

#: Status marks of PARAMETERS.md ("" is allowed for definitions and config overrides).
STATUS_MEANING = {
    "V": "seen in a source",
    "L": "recalled literature value; check before publication",
    "D": "derived from V/L inputs",
    "E": "estimate or placeholder; to be calibrated",
}

#: Parameters every material must have (all kinds), and the extra ones per kind.
REQUIRED_ALL = ("eps_r_a", "eps_r_c")
REQUIRED_BY_KIND: dict[str, tuple[str, ...]] = {"metal": ("screening_length",)}

#: Reference units of well-known keys: a value given for one of these keys (in a database file
#: or a config) must have the same dimension. Keys not listed may have any unit.
KNOWN_UNITS: dict[str, str] = {
    "a_lattice": "angstrom",
    "c_lattice": "angstrom",
    "eps_r_a": "dimensionless",
    "eps_r_c": "dimensionless",
    "eps_inf": "dimensionless",
    "eps_inf_a": "dimensionless",
    "eps_inf_c": "dimensionless",
    "curie_constant_a": "K",
    "curie_constant_c": "K",
    "curie_temperature_a": "K",
    "curie_temperature_c": "K",
    "screening_length": "nm",
    "carrier_density": "m^-3",
    "work_function": "eV",
    "band_gap": "eV",
    "electron_affinity": "eV",
    "ionization_potential": "eV",
    "vacancy_formation_energy": "eV",
    "oxygen_site_density": "m^-3",
    "vacancy_D0_a": "m^2/s",
    "vacancy_D0_c": "m^2/s",
    "vacancy_Ea_a": "eV",
    "vacancy_Ea_c": "eV",
    "surface_exchange_k0": "m/s",
    "surface_exchange_Ea": "eV",
    "electron_dos_mass": "dimensionless",
    "effective_dos_conduction": "m^-3",
    "conduction_band_offset": "eV",
    "donor_density": "m^-3",
    "acceptor_density": "m^-3",
    "C11": "GPa",
    "C12": "GPa",
    "C13": "GPa",
    "C33": "GPa",
    "C44": "GPa",
    "C66": "GPa",
    "bulk_modulus": "GPa",
    "shear_modulus": "GPa",
    "poisson_ratio": "dimensionless",
    "T_MIT": "K",
    # read by the physics (solver/physics/*.py, solver/strain.py, the deposition law in
    # solver/physics/deposition.py) with these units: another dimension would fail at run time
    "space_charge": "C/m^3",
    "landau_a1": "J*m/C^2",
    "landau_a1_c": "J*m/C^2",
    "landau_a11": "J*m^5/C^4",
    "landau_a111": "J*m^9/C^6",
    "landau_strain_coupling_a": "J*m/C^2",
    "landau_strain_coupling_c": "J*m/C^2",
    "gradient_energy": "J*m^3/C^2",
    "born_charge": "dimensionless",
    "formula_units_per_cell": "dimensionless",
    "electrostriction_Q11": "m^4/C^2",
    "electrostriction_Q12": "m^4/C^2",
    "electrostriction_Q44": "m^4/C^2",
    "interface_energy": "J/m^2",
    "crystallization_driving_force": "J/m^3",
    "front_mobility_M0": "m^3/(J*s)",
    "front_mobility_Ea": "eV",
    "nonstoichiometry_delta_ref": "dimensionless",
    "nonstoichiometry_pO2_ref": "Pa",
    "nonstoichiometry_exponent": "dimensionless",
}

#: Keys of a ``[materials.<name>]`` config table that are not parameters.
_RESERVED = ("kind", "description", "base")
_PARAM_FIELDS = ("value", "unit", "source", "status", "note")
_OVERRIDE_SOURCE = "config override"
_DB_DIR = Path(__file__).resolve().parent


# -- errors -----------------------------------------------------------------------------------


class MaterialError(Exception):
    """One or more problems with the materials database or a config's ``[materials]``.

    ``problems`` is a list of ``(key, message)`` pairs: the dotted key (``materials.TiO2.eps_r_c``
    for a config, ``TiO2.toml:parameters.eps_r_c.unit`` for a database file) and a message that
    says what is wrong and how to fix it.
    """

    def __init__(self, problems: Iterable[tuple[str, str]]):
        self.problems: list[tuple[str, str]] = list(problems)
        super().__init__(self.format())

    def format(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} with materials:"
        return "\n".join([head] + [f"  - {key}: {msg}" for key, msg in self.problems])


# -- units ------------------------------------------------------------------------------------


@functools.cache
def unit_registry():
    """The module's pint registry (created on first use; creating one takes a fraction of a
    second). Share it rather than making another: quantities from different registries do not
    mix."""
    import pint

    return pint.UnitRegistry()


@functools.lru_cache(maxsize=1024)
def _unit(unit: str):
    """Parse a unit string; raises ValueError with a readable message."""
    if not isinstance(unit, str) or not unit.strip():
        raise ValueError("the unit is empty; write 'dimensionless' for a pure number")
    try:
        return unit_registry().parse_units(unit)
    except Exception as exc:  # pint raises several unrelated types
        raise ValueError(f"pint cannot read the unit '{unit}' ({exc})") from None


def _dimensionality(unit: str):
    return _unit(unit).dimensionality


def _dim_text(unit: str) -> str:
    dim = str(_dimensionality(unit))
    return "dimensionless" if dim in ("", "dimensionless") else dim


@functools.lru_cache(maxsize=4096)
def _convert(value: float, unit: str, target: str | None) -> float:
    q = unit_registry().Quantity(value, _unit(unit))
    if target is None:
        return float(q.to_base_units().magnitude)
    try:
        return float(q.to(_unit(target)).magnitude)
    except ValueError:
        raise
    except Exception:  # DimensionalityError is a TypeError
        raise ValueError(
            f"cannot convert {value:g} {unit} ({_dim_text(unit)}) to '{target}' "
            f"({_dim_text(target)})"
        ) from None


# -- data classes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One value with its unit, source, status mark (V/L/D/E) and an optional note."""

    value: float
    unit: str
    source: str
    status: str = ""
    note: str = ""

    @property
    def si(self) -> float:
        """The value in SI base units (m for nm and angstrom, J for eV, Pa for GPa, m^-3 for
        cm^-3, K for K, 1 for dimensionless)."""
        return _convert(float(self.value), self.unit, None)

    def to(self, unit: str) -> float:
        """The value converted to ``unit`` (any pint unit string, e.g. ``"nm"``, ``"eV"``);
        raises ValueError if the dimensions differ."""
        return _convert(float(self.value), self.unit, unit)

    @property
    def quantity(self):
        """The value as a pint Quantity of :func:`unit_registry`."""
        return unit_registry().Quantity(float(self.value), _unit(self.unit))


@dataclass
class Material:
    """A material: name, kind and parameters (crystal axes for tensors)."""

    name: str
    description: str
    kind: str
    params: dict[str, Param] = field(default_factory=dict)
    #: where it came from: a database file, or a config table (for messages and `describe`)
    origin: str = ""

    def __getitem__(self, key: str) -> Param:
        try:
            return self.params[key]
        except KeyError:
            raise KeyError(self._missing(key)) from None

    def __contains__(self, key: object) -> bool:
        return key in self.params

    def has(self, key: str) -> bool:
        return key in self.params

    def value(self, key: str, unit: str, default: float | None = None) -> float:
        """Parameter ``key`` converted to ``unit``; ``default`` (in ``unit``) when the material
        lacks it, or KeyError naming the material and key when no default is given."""
        if key not in self.params:
            if default is not None:
                return float(default)
            raise KeyError(self._missing(key))
        try:
            return self.params[key].to(unit)
        except ValueError as exc:
            raise ValueError(f"material '{self.name}', parameter '{key}': {exc}") from None

    def copy(self) -> Material:
        return Material(self.name, self.description, self.kind, dict(self.params), self.origin)

    def _missing(self, key: str) -> str:
        close = difflib.get_close_matches(key, list(self.params), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return (f"material '{self.name}' has no parameter '{key}'{hint} "
                f"(add it under [materials.{self.name}] as {{ value, unit, source }})")


# -- database files ---------------------------------------------------------------------------


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


def _as_material(material: Material | str) -> Material:
    if isinstance(material, Material):
        return material
    db = load_database()
    if material not in db:
        raise KeyError(f"unknown material '{material}'; known: {', '.join(sorted(db))}")
    return db[material]


def eps_tensor_crystal(material: Material | str) -> np.ndarray:
    """Static relative permittivity in crystal axes (a, b, c): diag(eps_r_a, eps_r_a, eps_r_c)."""
    mat = _as_material(material)
    ea = mat.value("eps_r_a", "dimensionless")
    ec = mat.value("eps_r_c", "dimensionless")
    return np.diag([ea, ea, ec])


def lattice_misfit(film: Material | str, substrate: Material | str,
                   key: str = "c_lattice") -> float:
    """Epitaxial misfit strain of ``film`` clamped to ``substrate`` along the lattice constant
    ``key``: (d_substrate - d_film) / d_film (negative: the film is compressed)."""
    f = _as_material(film).value(key, "m")
    s = _as_material(substrate).value(key, "m")
    return (s - f) / f


# -- description for `heterofem materials` ----------------------------------------------------


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header) - 1)]

    def line(r: list[str]) -> str:
        cells = [c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)] + [r[-1]]
        return "  ".join(cells).rstrip()

    return [line(header), line(["-" * w for w in widths] + ["-" * len(header[-1])])] + [
        line(r) for r in rows
    ]


def describe(name: str | None = None, materials: Mapping[str, Material] | None = None) -> str:
    """A readable table: with no ``name`` one line per material (kind, description); with a
    ``name`` every parameter with value, unit, status and source. ``materials`` (e.g. from
    :func:`resolve_materials`) replaces the database as what is described."""
    mats = dict(materials) if materials is not None else load_database()
    if name is None:
        rows = [[m.name, m.kind, str(len(m.params)), m.description]
                for m in sorted(mats.values(), key=lambda m: m.name.lower())]
        lines = _table(rows, ["material", "kind", "params", "description"])
        lines.append("")
        lines.append("`heterofem materials NAME` lists a material's values and sources.")
        return "\n".join(lines)
    if name not in mats:
        close = difflib.get_close_matches(name, list(mats), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise MaterialError([(name, f"unknown material; {hint}known: {', '.join(sorted(mats))}")])
    m = mats[name]
    rows, notes = [], {}
    for key, p in m.params.items():
        rows.append([key, f"{p.value:g}", p.unit, p.status or "-", p.source])
        if p.note:
            notes[key] = p.note
    lines = [f"{m.name} ({m.kind}): {m.description}"]
    if m.origin:
        lines.append(f"from: {m.origin}")
    lines.append("")
    for row in _table(rows, ["parameter", "value", "unit", "status", "source"]):
        lines.append(row)
        key = row.split("  ", 1)[0].strip()
        if key in notes:
            indent = len(row) - len(row.lstrip())
            lines.append(" " * (indent + 4) + f"note: {notes[key]}")
    lines.append("")
    lines.append("status marks (PARAMETERS.md):")
    lines.extend(f"  {k}: {v}" for k, v in STATUS_MEANING.items())
    return "\n".join(lines)


__all__ = [
    "KINDS",
    "KNOWN_UNITS",
    "STATUS_MEANING",
    "Material",
    "MaterialError",
    "Param",
    "collect_materials",
    "describe",
    "eps_tensor_crystal",
    "known_material_names",
    "lattice_misfit",
    "load_database",
    "resolve_materials",
    "unit_registry",
]
