"""Materials as data: kinds, the unit of every parameter the physics read (checked), units
(pint), :class:`Param` and :class:`Material`, :class:`MaterialError`."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path




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
    "surface_exchange_pO2_order": "dimensionless",
    "surface_exchange_pO2_ref": "Pa",
    "chemical_expansion_coefficient": "dimensionless",
    "clamped_expansion_factor": "dimensionless",
    "T_MIT_on_TiO2_001": "K",
    "dT_MIT_ddelta": "K",
    "T_MIT_law_delta_max": "dimensionless",
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
    "flexo_coupling": "V",  # flexoelectric coupling to the strain step (issue #22)
    "flexo_coupling_a": "V",
    "flexo_coupling_c": "V",
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


