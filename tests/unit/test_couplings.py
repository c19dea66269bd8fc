"""Named couplings (#21 item 1): physics modules exchange quantities by name through the model.

- a read without a provider, or a non-additive quantity with two providers, is an error that
  names the physics and the quantity;
- after a model is built, no module holds another module (they share only named values), and
  no module adds terms to another module's equation (electrostatics assembles the charges
  other physics provide);
- the registry maps every ``[physics]`` switch of the config schema to its module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import ufl

from conftest import build_model
from heterofem.solver import units
from heterofem.solver.config import Config
from heterofem.solver.dolfinx_env import dolfinx
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


def test_a_view_without_a_provider_leaves_its_contributions_out():
    """What CoupledProblem.potential_without reads: the same view, one provider left out."""
    board = Board()
    board.add("a", {CHARGE_DENSITY: lambda u: 1.5})
    board.add("b", {CHARGE_DENSITY: lambda u: 2.0, "P": lambda u: 7.0})
    view = board.view("electrostatics", [], [CHARGE_DENSITY, "P"])
    assert view[CHARGE_DENSITY](None) == 3.5 and view["P"](None) == 7.0
    without = view.without("b")
    assert without[CHARGE_DENSITY](None) == 1.5
    assert "P" not in without and without.get("P") is None and list(without) == [CHARGE_DENSITY]
    assert view["P"](None) == 7.0  # the original view is unchanged


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


@pytest.mark.parametrize("problem", ["tio2_vo2_tio2_001_vacancies_1d", "ruo2_tio2_110_polar_1d",
                                     "tio2_vo2_tio2_001_growth_1d"])
def test_no_module_adds_terms_to_another_modules_equation(problem):
    """Each module's residual terms are in its own unknowns' equations only: the vacancies'
    charge and the polarization's bound charge reach Poisson's equation as quantities that
    electrostatics reads and assembles (charge_density, P)."""
    coupled = build_model(PROBLEMS / f"{problem}.toml").problem
    for name, module in coupled.modules.items():
        own = {uk.name for uk in module.unknowns()}
        assert set(coupled.terms[name]) <= own, (name, sorted(coupled.terms[name]))


def _assembled(form) -> np.ndarray:
    return dolfinx.fem.assemble_vector(dolfinx.fem.form(form)).array


def test_electrostatics_assembles_the_provided_charges():
    """Poisson's equation of a model with vacancies and polarization differs from the one
    without them by exactly their charges: the vacancies' charge density over the solid
    layers, and the bound charge -div P (weak form -int P . grad v) over the polar layers."""
    coupled = build_model(PROBLEMS / "tio2_vo2_tio2_001_vacancies_1d.toml").problem
    es, vac = coupled.modules["electrostatics"], coupled.modules["vacancies"]
    u, v = coupled.u, coupled.v
    rho = vac.charge_density(vac.c_state(u))  # C/m^3
    charge = _assembled(-units.RHO_SCALE * rho * v["phi"] * es.dx_solid)
    diff = _assembled(es.residual(u, v)["phi"]) - _assembled(
        es.residual_without("vacancies", u, v)["phi"])
    assert np.abs(charge).max() > 0
    np.testing.assert_allclose(diff, charge, rtol=1e-9, atol=1e-12 * np.abs(charge).max())

    coupled = build_model(PROBLEMS / "ruo2_tio2_110_polar_1d.toml").problem
    es, pol = coupled.modules["electrostatics"], coupled.modules["polarization"]
    u, v = coupled.u, coupled.v
    bound = _assembled(-units.SIGMA_SCALE * ufl.inner(pol.vec(u["P"]), ufl.grad(v["phi"]))
                       * pol.dx_polar)
    diff = _assembled(es.residual(u, v)["phi"]) - _assembled(
        es.residual_without("polarization", u, v)["phi"])
    assert np.abs(bound).max() > 0
    np.testing.assert_allclose(diff, bound, rtol=1e-9, atol=1e-12 * np.abs(bound).max())
