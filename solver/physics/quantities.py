"""Named quantities: how physics modules exchange what they compute, without knowing each other.

Each physics module declares the quantities it ``provides`` and those it ``reads``
(:class:`heterofem.solver.physics.base.Physics`). The model
(:func:`heterofem.solver.physics.registry.build_physics`) collects the providers on a
:class:`Board`, checks that every read has a provider (exactly one, except for additive
quantities whose contributions are summed), and hands each module a :class:`Couplings`: a
read-only view of the board limited to what the module declared. No module holds another
module or changes one.

A quantity's value is a function of a state dict (``u``: unknown name -> function, the current
state or a previous one of the time stepper), so that a reader can evaluate it at any state,
e.g. inside a BDF time derivative; a quantity that does not depend on the state ignores its
argument. Temperature is such a quantity: a constant of the config today
(:func:`constant_temperature`), a field tomorrow; a module that needs a number when it is
built (Arrhenius prefactors) asks for :meth:`Couplings.constant`, which says clearly when the
temperature is not a constant.

Compared with PyBaMM's submodels, which exchange an untyped ``variables`` dict filled in
order, the reads here are declared and checked before any form is built, and a missing or
doubly provided quantity is an error naming the modules; compared with FESTIM, where a
problem object holds and mutates its species and subdomains, the modules here share only
named values.

The unknowns are quantities too: the module that declares an unknown provides it (its
value is ``u[name]``), so that "vacancies read phi" fails clearly without electrostatics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

#: a quantity's value: a function of a state dict (see the module docstring)
Value = Callable[[Mapping], object]


@dataclass(frozen=True)
class Quantity:
    """A named quantity: its unit and meaning. ``additive``: several modules may provide
    it and readers get the sum of their contributions (e.g. charge densities)."""

    name: str
    unit: str
    doc: str
    additive: bool = False


#: the catalogue of exchanged quantities (unknowns are added by name when a module declares them)
QUANTITIES: dict[str, Quantity] = {}


def quantity(name: str, unit: str, doc: str, additive: bool = False) -> str:
    """Add a quantity to the catalogue (a physics defined outside the library may add its
    own); returns its name, the key modules use in ``provides`` and ``reads``."""
    QUANTITIES[name] = Quantity(name, unit, doc, additive)
    return name


TEMPERATURE = quantity("temperature", "K", "absolute temperature (run.temperature_K today)")
CHARGE_DENSITY = quantity(
    "charge_density", "C/m^3", "volume charge in the solid layers (e.g. the vacancies' "
    "ionic charge), summed over the providers; electrostatics assembles it into Poisson's "
    "equation over the solid layers", additive=True)
PERMITTIVITY_CHANGE = quantity(
    "permittivity_change", "1", "change of the relative permittivity tensor from the fixed "
    "cell-wise one (e.g. a phase mixture)")
PHASE_FRACTION = quantity(
    "phase_fraction", "1", "h(xi): fraction of the crystalline phase in the crystallizing "
    "layers, 0 elsewhere")
AS_DEPOSITED_PHASE = quantity(
    "as_deposited_phase", "", "the crystallizing layers: layer name -> the material of their "
    "as-deposited (amorphous) phase; known when the model is built")
DEPOSITION_FRONT = quantity(
    "deposition_front", "", "the growth surface of a film being deposited "
    "(a DepositionFront, or None without deposition)")
VACANCY_GRAND_POTENTIAL_JUMP = quantity(
    "vacancy_grand_potential_jump", "J/m^3", "omega_cryst - omega_am of the vacancy lattice "
    "gas (the vacancies' part of the crystallization driving force)")
VACANCY_INVENTORY = quantity(
    "vacancy_inventory", "m^-2", "vacancies per lateral area in each solid layer (a dict; "
    "collective)")
VACANCY_MEAN_DELTA = quantity(
    "vacancy_mean_delta", "1", "delta of MO(2-delta) averaged over each solid layer (a dict; "
    "collective)")

LATTICE_STRAIN = quantity(
    "lattice_strain", "1", "Voigt strain (xx, yy, zz, 2 yz, 2 xz, 2 xy; lab frame) relative to "
    "each solid layer's own bulk lattice, from the mechanics solve (1D: the in-plane retained "
    "misfit and the solved du_z/dz); 0 outside the solid")
POLARIZATION_STRESS = quantity(
    "polarization_stress", "Pa", "Voigt stress of the polarization's strain couplings "
    "(d f / d eps of the Landau strain coupling and the flexoelectric term), which mechanics "
    "adds to its elastic stress: the other half of the two-way coupling")


@dataclass(frozen=True)
class DepositionFront:
    """The growth surface of a deposited film: ``activation`` (1 in deposited material, 0
    above the surface; UFL), ``surface_delta`` (the diffuse surface, integrating to 1 across
    it [1/nm]; UFL) and ``layer`` (the growing layer, whose top facet's exchange acts on the
    moving surface)."""

    activation: object
    surface_delta: object
    layer: str


class CouplingError(ValueError):
    """A read without a provider, or a quantity with two providers."""


class Board:
    """The providers of a model: quantity name -> [(provider name, value)]."""

    def __init__(self):
        self.providers: dict[str, list[tuple[str, Value]]] = {}

    def add(self, provider: str, values: Mapping[str, Value]) -> None:
        """Register ``provider``'s values; a second provider of a non-additive quantity is an
        error naming both."""
        for name, value in values.items():
            known = self.providers.setdefault(name, [])
            additive = QUANTITIES.get(name, Quantity(name, "", "")).additive
            if known and not additive:
                raise CouplingError(
                    f"quantity '{name}' is provided by both '{known[0][0]}' and '{provider}': "
                    "exactly one physics may provide it")
            known.append((provider, value))

    def value(self, name: str, exclude: Iterable[str] = ()) -> Value | None:
        """The value of a quantity (the sum of the contributions of an additive one), or
        None when nothing provides it; the contributions of the providers in ``exclude`` are
        left out."""
        known = [(p, v) for p, v in self.providers.get(name, ()) if p not in exclude]
        if not known:
            return None
        if len(known) == 1:
            return known[0][1]
        values = [v for _, v in known]
        return lambda u: sum((v(u) for v in values[1:]), values[0](u))

    def check(self, reader: str, reads: Iterable[str]) -> None:
        """Every required read of ``reader`` has a provider, else a :class:`CouplingError`."""
        for name in reads:
            if not self.providers.get(name):
                q = QUANTITIES.get(name)
                what = f" ({q.doc} [{q.unit}])" if q is not None else ""
                raise CouplingError(
                    f"physics '{reader}' reads '{name}'{what}, which no active physics "
                    "provides: switch on the physics that provides it")

    def view(self, reader: str, reads: Iterable[str], optional: Iterable[str] = ()
             ) -> Couplings:
        return Couplings(self, reader, tuple(reads), tuple(optional))


class Couplings(Mapping):
    """What one module may read: a read-only mapping, quantity name -> value (a function of
    a state dict), limited to the module's declared reads. Looked up when used, so modules
    can be built in any order. An optional read without a provider is absent (``get``
    returns None)."""

    def __init__(self, board: Board, reader: str, reads: tuple, optional: tuple = (),
                 exclude: tuple = ()):
        self._board, self._reader = board, reader
        self._names = reads + tuple(n for n in optional if n not in reads)
        self._exclude = exclude

    def without(self, provider: str) -> Couplings:
        """The same reads with ``provider``'s contributions left out (e.g. the potential
        without the polarization's bound charge, solver/workfunction.py)."""
        return Couplings(self._board, self._reader, self._names, (),
                         self._exclude + (provider,))

    def __getitem__(self, name: str) -> Value:
        if name not in self._names:
            raise KeyError(f"physics '{self._reader}' does not declare reading '{name}' "
                           "(add it to its reads)")
        value = self._board.value(name, self._exclude)
        if value is None:
            raise KeyError(f"no active physics provides '{name}' (read by '{self._reader}')")
        return value

    def __iter__(self):
        return (n for n in self._names if self._board.value(n, self._exclude) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, name) -> bool:
        return name in self._names and self._board.value(name, self._exclude) is not None

    def constant(self, name: str) -> float:
        """A state-independent quantity as a number (e.g. the temperature where a module
        needs it when it is built)."""
        value = self[name](None)
        try:
            return float(value)
        except TypeError:
            raise CouplingError(f"physics '{self._reader}' needs '{name}' as a constant, but "
                                "its provider gives a field") from None


def constant_temperature(T_K: float) -> dict[str, Value]:
    """The temperature provider of a run: the constant ``run.temperature_K``."""
    T = float(T_K)
    return {TEMPERATURE: lambda u: T}


def standalone(domain, reader: str, reads: Iterable[str] = (), optional: Iterable[str] = ()
               ) -> Couplings:
    """The couplings of a module built on its own (outside a model, e.g. in a test): only the
    config's temperature is provided."""
    board = Board()
    board.add("run", constant_temperature(domain.cfg.run.temperature_K))
    return board.view(reader, reads, optional)
