"""Parameter ledgers of the studies: every knob a study turns, with what it is and where from.

A ledger (format: ``../shared/design/LEDGER.md``; the studies' ledgers live in
``problems/ledgers/``) is a TOML file with a ``[study]`` table (``name``, ``data``: the measured
numbers the study may fit or compares with, ``configs``: the problem files the study runs,
relative to the ledger) and one ``[[parameter]]`` table per parameter::

    [[parameter]]
    name = "RuO2.landau_a11"          # <material>.<key> or a config key (dotted, as --set)
    value = 2.0e10
    unit = "J*m^5/C^4"
    status = "fitted"                 # literature | derived | fitted | chosen
    fitted_to = ["KPFM Phi peak: 5.40 eV at 3.5 nm"]   # items of [study].data

Rules that make the counts mean something (checked by :class:`Ledger`): ``literature`` and
``derived`` entries give a ``source`` (derived: the formula and what it comes from);
``fitted`` entries name the data they were fitted to, each an item of ``[study].data``;
``chosen`` entries say ``why``, ``looked_at_data = false`` (a value set while looking at a
measured number is fitted, not chosen) and, for a number, a ``range``. An entry applies to
every config of the study unless ``configs`` lists the config file stems it applies to (two
configs with different values need two entries).

What a config uses (:func:`used_parameters`) is read from the config and the materials
without solving anything (no DOLFINx): the physical config keys (numerical settings such as
the mesh, the solver and the time-step control are left out, see :data:`NUMERICAL_KEYS`) and
the material values the switched-on physics read for the layers (:mod:`.ledger_usage`).
:func:`missing` compares that with a ledger, so a value changed in a config or in the
materials database without a ledger update is reported.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from heterofem.solver.ledger_usage import config_parameters, material_parameters

#: the statuses of LEDGER.md, in the order the counts are printed
STATUSES = ("literature", "derived", "fitted", "chosen")

#: config keys that are numerical settings, not physical parameters (prefix match on the
#: dotted key); mesh and time-step convergence are checked by tests, not by data
NUMERICAL_KEYS = ("run.name", "run.dimension", "mesh.", "solver.", "output.", "physics.",
                  "time.dt_", "time.scheme", "time.output_times_s", "time.grow", "time.cut",
                  "time.target_newton", "time.error_")

#: the top-level config tables: a ledger name that starts with one of them is a config key
#: (any other name is <material>.<key>; the studies turn ledger names into --set keys with
#: it: heterofem.studies.uncertainty.set_key, tio2_growth_cases)
CONFIG_HEADS = ("run", "layers", "boundary", "strain", "workfunction", "crystallization",
                "time", "initial", "physics", "mesh", "solver", "output", "interfaces",
                "interface", "mechanics", "polarization", "vacancies", "deposition",
                "template", "electrons")

Value = float | str | bool


class LedgerError(ValueError):
    """A ledger file that cannot be read or breaks the rules of LEDGER.md."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class Study(_Strict):
    name: str
    #: the measured numbers the study fits or compares with; ``fitted_to`` names items of it
    data: Annotated[list[str], Field(min_length=1)]
    #: the problem files the study runs, relative to the ledger file
    configs: Annotated[list[str], Field(min_length=1)]
    #: the configs' values the study scans (dotted key -> values), for the reader
    scans: dict[str, list[Value]] = {}
    #: the calibration overlay the study applies over its configs (relative to the ledger;
    #: ``[configs.<stem>]`` of dotted keys, heterofem.studies.overlay): the ledger records the
    #: values the study runs with, so :func:`missing` applies it
    overlay: str | None = None


class Parameter(_Strict):
    name: Annotated[str, Field(min_length=1)]
    value: Value
    unit: str = ""
    status: Literal[STATUSES]  # type: ignore[valid-type]
    source: str = ""
    fitted_to: list[str] = []
    uncertainty: Annotated[float, Field(ge=0.0)] | None = None
    why: str = ""
    looked_at_data: bool | None = None
    range: Annotated[list[Value], Field(min_length=2, max_length=2)] | None = None
    #: stems of the config files this entry applies to (default: every config of the study)
    configs: list[str] | None = None
    note: str = ""

    @model_validator(mode="after")
    def _status_rules(self) -> Parameter:
        s = self.status
        if s in ("literature", "derived") and not self.source.strip():
            raise ValueError(f"a {s} value needs a source (derived: the formula and its inputs)")
        if s == "fitted" and not self.fitted_to:
            raise ValueError("a fitted value names the data it was fitted to (fitted_to)")
        if s == "chosen":
            if not self.why.strip():
                raise ValueError("a chosen value says why (why = \"...\")")
            if self.looked_at_data is not False:
                raise ValueError("a chosen value needs looked_at_data = false; a value set "
                                 "while looking at a measured number is fitted")
            if _is_number(self.value) and self.range is None:
                raise ValueError("a chosen number needs a range = [low, high]")
        if self.range is not None and _is_number(self.value) \
                and not all(_is_number(v) for v in self.range):
            raise ValueError("the range of a number is two numbers")
        return self


class Ledger(_Strict):
    study: Study
    parameter: Annotated[list[Parameter], Field(min_length=1)]
    #: the file it was read from (configs are relative to its directory)
    _path: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _cross_rules(self) -> Ledger:
        data = set(self.study.data)
        stems = {Path(c).stem for c in self.study.configs}
        problems = []
        for p in self.parameter:
            problems += [f"{p.name}: fitted_to {item!r} is not in [study].data"
                         for item in p.fitted_to if item not in data]
            problems += [f"{p.name}: configs names {c!r}, not a config of the study"
                         for c in (p.configs or ()) if c not in stems]
        for stem in stems:
            names = [p.name for p in self.parameter if p.configs is None or stem in p.configs]
            problems += [f"{n}: two entries apply to config {stem!r}"
                         for n in sorted({n for n in names if names.count(n) > 1})]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def path(self) -> Path | None:
        """The file the ledger was read from (None for one built in memory)."""
        return self._path

    def entries_for(self, stem: str) -> dict[str, Parameter]:
        """The entries that apply to the config file with this stem, by name."""
        return {p.name: p for p in self.parameter if p.configs is None or stem in p.configs}


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def load_ledger(path: str | Path) -> Ledger:
    """Read and check a ledger file; raises :class:`LedgerError` listing every problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise LedgerError(f"{path}: {exc}") from None
    try:
        ledger = Ledger.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = list(err["loc"])
            if loc[:1] == ["parameter"] and len(loc) > 1 and isinstance(loc[1], int):
                entry = data["parameter"][loc[1]]
                loc[1] = entry.get("name", loc[1]) if isinstance(entry, dict) else loc[1]
            lines.append(f"  - {'.'.join(map(str, loc)) or '(top)'}: "
                         f"{err['msg'].removeprefix('Value error, ')}")
        raise LedgerError(f"{path}: {len(lines)} problem(s):\n" + "\n".join(lines)) from None
    ledger._path = path.resolve()
    return ledger


def config_paths(ledger: Ledger) -> list[Path]:
    """The study's config files, resolved against the ledger's directory."""
    base = ledger.path.parent if ledger.path is not None else Path.cwd()
    return [(base / c).resolve() for c in ledger.study.configs]


def counts(ledger: Ledger) -> dict[str, int]:
    """Number of entries per status, in :data:`STATUSES` order."""
    return {s: sum(p.status == s for p in ledger.parameter) for s in STATUSES}


def format_counts(ledger: Ledger) -> str:
    """The line a study report prints, e.g. ``ledger: 31 literature, 4 derived, 9 fitted,
    5 chosen (49 parameters)``."""
    c = counts(ledger)
    return ("ledger: " + ", ".join(f"{n} {s}" for s, n in c.items())
            + f" ({sum(c.values())} parameters)")


def summary(ledger: Ledger) -> dict:
    """What a study report writes: the ledger file, the counts, the report line and the
    fitted entries with the data each was fitted to (JSON-ready)."""
    return {"file": ledger.path.name if ledger.path is not None else None,
            "counts": counts(ledger), "line": format_counts(ledger),
            "fitted": {p.name: p.fitted_to for p in ledger.parameter if p.status == "fitted"}}


def markdown(ledger: Ledger, where: str = "") -> str:
    """One report paragraph: the counts and the names of the fitted entries; ``where``: how
    the report names the ledger file (default its file name)."""
    fitted = [p.name for p in ledger.parameter if p.status == "fitted"]
    where = where or (ledger.path.name if ledger.path is not None else "ledger")
    return (f"Parameter ledger (`{where}`): {format_counts(ledger).removeprefix('ledger: ')}. "
            f"Fitted (by least squares or by hand while looking at the data): "
            + ", ".join(f"`{n}`" for n in fitted) + ".")


@dataclass(frozen=True)
class Used:
    """A parameter a config uses: its value, and for a material value its database entry
    (:class:`heterofem.solver.materials.Param`, with the unit to convert from)."""

    value: Value
    param: object = None

    def __str__(self) -> str:
        return f"{self.value!r}" + (f" {self.param.unit}" if self.param is not None else "")


def used_parameters(config: str | Path, overrides: Iterable[str] = ()) -> dict[str, Used]:
    """What the config (with ``--set`` style overrides) uses, by ledger name: the physical
    config keys and the material values the switched-on physics read."""
    from heterofem.solver.validation import load_config
    from heterofem.solver.materials import resolve_materials

    cfg = load_config(Path(config), list(overrides))
    out = {k: Used(v) for k, v in config_parameters(cfg).items()
           if not k.startswith(NUMERICAL_KEYS)}
    for name, param in material_parameters(cfg, resolve_materials(cfg)).items():
        out[name] = Used(param.value, param)
    return out


def overlay_overrides(ledger: Ledger, stem: str) -> list[str]:
    """``--set`` strings of the study's calibration overlay (``[study] overlay``) for the
    config with this stem; none without an overlay file."""
    if ledger.study.overlay is None:
        return []
    base = ledger.path.parent if ledger.path is not None else Path.cwd()
    path = (base / ledger.study.overlay).resolve()
    if not path.is_file():
        return []
    from heterofem.solver.simulation import override_strings

    table = tomllib.loads(path.read_text()).get("configs", {}).get(stem, {})
    return override_strings(table)


def passed_to_runs(entry: Parameter) -> bool:
    """Whether a study passes the entry to its runs itself (as ``--set``) when no config holds
    it: a config key (:data:`CONFIG_HEADS`) whose number the study varies, i.e. an entry with
    a ``range`` or a fitted one with an ``uncertainty`` (the knobs of
    heterofem.studies.uncertainty.ledger_knobs; the growth study's runs get every knob at its
    value, studies/tio2_growth_cases.parameter_sets, e.g. an optional
    ``interfaces."VO2_R|TiO2".vacancy_rate_k0_m_per_s`` that no problem file sets)."""
    return (entry.name.split(".", 1)[0] in CONFIG_HEADS and _is_number(entry.value)
            and (entry.range is not None
                 or (entry.status == "fitted" and entry.uncertainty is not None)))


def missing(ledger: Ledger, configs: Iterable[str | Path] | None = None) -> list[str]:
    """Problems between the ledger and what the configs use (default: the study's configs,
    with the study's calibration overlay applied): a used parameter without an entry, or
    whose value differs from the entry's; an entry no config uses. Empty when the ledger
    accounts for every knob.

    An entry the config does not use as it is but the study passes to its runs
    (:func:`passed_to_runs`) is applied over the config as the study applies it, and counts
    as used where the config then uses it (the rate of a pair that meets in the stack, with
    vacancies on); a config that holds the key itself is compared with the entry as usual."""
    configs = list(configs) if configs is not None else config_paths(ledger)
    problems, used_names = [], set()
    for path in configs:
        stem = Path(path).stem
        entries = ledger.entries_for(stem)
        sets = overlay_overrides(ledger, stem)
        used_here = used_parameters(path, sets)
        passed = {n: e.value for n, e in entries.items()
                  if n not in used_here and passed_to_runs(e)}
        if passed:
            used_here = _used_with(path, sets, passed)
        for name, used in used_here.items():
            used_names.add(name)
            entry = entries.get(name)
            if entry is None:
                problems.append(f"{stem}: {name} = {used} is used but not in the ledger")
            elif (why := _differs(entry, used)) is not None:
                problems.append(f"{stem}: {name}: {why}")
    problems += [f"{p.name}: in the ledger but no config of the study uses it"
                 for p in ledger.parameter if p.name not in used_names]
    return problems


def _used_with(path, sets: list[str], passed: dict) -> dict[str, Used]:
    """:func:`used_parameters` with the ``passed`` entries set over ``sets``; an entry the
    config cannot take (a layer it does not have, an interface of materials it does not
    have: the studies leave it out of that config's runs, tio2_growth_cases.resolved_sets)
    is left out."""
    from heterofem.solver.config import ConfigError
    from heterofem.solver.simulation import override_strings

    try:
        return used_parameters(path, sets + override_strings(passed))
    except ConfigError as exc:
        bad = [key for key, _ in exc.problems]

        def named(n: str) -> bool:  # the key, or a table above it (quotes dropped)
            plain = n.replace('"', "")
            return any(plain == k or plain.startswith(k + ".") for k in bad)

        kept = {n: v for n, v in passed.items() if not named(n)}
        if len(kept) == len(passed):
            raise
        return _used_with(path, sets, kept) if kept else used_parameters(path, sets)


def _differs(entry: Parameter, used: Used) -> str | None:
    """Why the entry's value is not the used value (None when they agree; numbers to 1e-9
    relative, a material value converted to the entry's unit first)."""
    value = used.value
    if used.param is not None:
        try:
            value = used.param.to(entry.unit or used.param.unit)
        except ValueError as exc:
            return f"unit {entry.unit!r}: {exc}"
    if _is_number(value) and _is_number(entry.value):
        if math.isclose(float(value), float(entry.value), rel_tol=1e-9, abs_tol=0.0):
            return None
    elif type(value) is type(entry.value) and value == entry.value:
        return None
    return f"the ledger says {entry.value!r}, the study uses {value!r}"
