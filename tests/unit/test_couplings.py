"""Named couplings (#21 item 1): physics modules exchange quantities by name through the model.

- a read without a provider, or a non-additive quantity with two providers, is an error that
  names the physics and the quantity;
- after a model is built, no module holds another module (they share only named values);
- the registry maps every ``[physics]`` switch of the config schema to its module.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import build_model
from heterofem.solver.config import Config
from heterofem.solver.physics import registry
from heterofem.solver.physics.base import Physics
from heterofem.solver.physics.quantities import (
    CHARGE_DENSITY,
    DEPOSITION_FRONT,
    PERMITTIVITY_CHANGE,
    PHASE_FRACTION,
    TEMPERATURE,
    VACANCY_GRAND_POTENTIAL_JUMP,
    Board,
    CouplingError,
    constant_temperature,
)

PROBLEMS = Path(__file__).resolve().parents[2] / "problems"


def test_missing_provider_names_reader_and_quantity():
    board = Board()
    board.add("run", constant_temperature(300.0))
    board.check("crystallization", [TEMPERATURE])  # provided: no error
    with pytest.raises(CouplingError, match=r"'vacancies' reads 'phi'.*no active physics"):
        board.check("vacancies", [TEMPERATURE, "phi"])
    view = board.view("vacancies", [TEMPERATURE], [PHASE_FRACTION])
    assert view.get(PHASE_FRACTION) is None and PHASE_FRACTION not in view
    assert view.constant(TEMPERATURE) == 300.0
    with pytest.raises(KeyError, match="does not declare reading 'permittivity_change'"):
        view[PERMITTIVITY_CHANGE]


def test_two_providers_of_one_quantity_are_an_error():
    board = Board()
    board.add("crystallization", {PHASE_FRACTION: lambda u: 0.5})
    with pytest.raises(CouplingError, match="'phase_fraction' is provided by both "
                                            "'crystallization' and 'other'"):
        board.add("other", {PHASE_FRACTION: lambda u: 0.25})


def test_additive_quantity_sums_its_providers():
    board = Board()
    board.add("a", {CHARGE_DENSITY: lambda u: 1.5})
    board.add("b", {CHARGE_DENSITY: lambda u: 2.0})
    assert board.view("electrostatics", [CHARGE_DENSITY])[CHARGE_DENSITY](None) == 3.5


def test_temperature_field_is_refused_where_a_constant_is_needed():
    board = Board()
    board.add("heat", {TEMPERATURE: lambda u: object()})  # a field: not a number
    with pytest.raises(CouplingError, match="needs 'temperature' as a constant"):
        board.view("vacancies", [TEMPERATURE]).constant(TEMPERATURE)


def _held_modules(module: Physics) -> list[str]:
    """Attributes of a module (also inside lists, tuples, dicts) that are physics modules."""
    found = []
    for name, value in vars(module).items():
        items = value.values() if isinstance(value, dict) else \
            value if isinstance(value, (list, tuple, set)) else [value]
        found += [name for item in items if isinstance(item, Physics)]
    return found


def test_modules_hold_no_other_module_and_couple_by_name():
    """Vacancies, crystallization and electrostatics of a growth problem: each reads the
    others' quantities through its couplings, none holds another."""
    model = build_model(PROBLEMS / "tio2_vo2_tio2_001_growth_1d.toml")
    modules = {m.name: m for m in model.modules}
    assert list(modules) == ["electrostatics", "vacancies", "crystallization"]
    for m in modules.values():
        assert _held_modules(m) == [], m.name
    es, vac, cryst = (modules[n] for n in ("electrostatics", "vacancies", "crystallization"))
    assert CHARGE_DENSITY in es.couplings and PERMITTIVITY_CHANGE in es.couplings
    assert PHASE_FRACTION in vac.couplings and DEPOSITION_FRONT in vac.couplings
    assert VACANCY_GRAND_POTENTIAL_JUMP in cryst.couplings
    assert es.temperature_K == vac.temperature_K == model.config.run.temperature_K


def test_registry_maps_every_physics_switch():
    physics = Config.model_fields["physics"].annotation
    flags = [name for name, f in physics.model_fields.items() if f.annotation is bool]
    assert flags and set(flags) <= set(registry.switches())
    for switch in flags:
        cls = registry.physics_class(switch)
        assert issubclass(cls, Physics) and cls.name == switch
    with pytest.raises(CouplingError, match="no physics registered as 'heat'"):
        registry.physics_class("heat")


def test_register_refuses_a_taken_name_and_accepts_a_decorator():
    with pytest.raises(ValueError, match="already registered"):
        registry.register("vacancies", Physics)

    @registry.register("dummy_physics")
    class Dummy(Physics):
        name = "dummy_physics"

    try:
        assert registry.physics_class("dummy_physics") is Dummy
        assert registry.switches()[-1] == "dummy_physics"
    finally:
        registry.unregister("dummy_physics")
