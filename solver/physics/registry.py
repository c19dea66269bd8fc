"""The physics registry: ``[physics]`` switch -> module class, and the model's assembly step.

The built-in modules are registered here by import path (imported only when switched on);
a physics defined elsewhere (a user script, a test) adds itself with :func:`register` and is
switched on by name (``build_physics(domain, extra=["tracer"])``) without a schema edit.

The registry's order is the coupling order: the order of the unknowns in the blocked system
and of the terms summed per equation. Modules never need each other at construction (the
quantities they read are looked up when their forms are built), so the order is only a
convention that keeps the numbers of a run reproducible, not a wiring.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from heterofem.solver.physics.quantities import Board, CouplingError, constant_temperature

#: switch -> the module class, or "module:Class" for a built-in imported on first use
_REGISTRY: dict[str, object] = {
    "electrostatics": "heterofem.solver.physics.electrostatics:Electrostatics",
    "vacancies": "heterofem.solver.physics.vacancies:Vacancies",
    "polarization": "heterofem.solver.physics.polarization:Polarization",
    "mechanics": "heterofem.solver.physics.mechanics:Mechanics",
    "crystallization": "heterofem.solver.physics.crystallization:Crystallization",
}


def register(switch: str, cls: type | None = None, *, replace: bool = False):
    """Register a physics class under a switch name (also usable as a class decorator:
    ``@register("tracer")``). The class is built as ``cls.from_domain(domain, couplings)``
    (:meth:`Physics.from_domain`). Re-registering a name needs ``replace=True``."""

    def add(c: type) -> type:
        if switch in _REGISTRY and not replace:
            raise ValueError(f"physics '{switch}' is already registered")
        _REGISTRY[switch] = c
        return c

    return add if cls is None else add(cls)


def unregister(switch: str) -> None:
    """Remove a registered physics (built-ins included; for tests and plug-ins)."""
    _REGISTRY.pop(switch)


def switches() -> list[str]:
    """The registered switch names, in coupling order."""
    return list(_REGISTRY)


def physics_class(switch: str) -> type:
    """The module class of a switch (a built-in is imported here)."""
    try:
        entry = _REGISTRY[switch]
    except KeyError:
        raise CouplingError(f"no physics registered as '{switch}' (registered: "
                            f"{', '.join(_REGISTRY)})") from None
    if isinstance(entry, str):
        module, name = entry.split(":")
        entry = getattr(importlib.import_module(module), name)
    return entry


def enabled_switches(cfg, extra: Iterable[str] = ()) -> list[str]:
    """The switches a config turns on (a ``[physics]`` flag of that name) plus ``extra``,
    in registry order."""
    extra = set(extra)
    unknown = extra - set(_REGISTRY)
    if unknown:
        raise CouplingError(f"no physics registered as {sorted(unknown)}")
    return [s for s in _REGISTRY if s in extra or getattr(cfg.physics, s, False) is True]


def steady_by_continuation(cfg, extra: Iterable[str] = ()) -> bool:
    """Whether a steady run of ``cfg`` (no [time] table) is solved by pseudo-time
    continuation: some switched-on physics declares ``steady_by_continuation``."""
    return cfg.time is None and any(physics_class(s).steady_by_continuation
                                    for s in enabled_switches(cfg, extra))


def build_physics(domain, extra: Iterable[str] = ()) -> list:
    """The physics modules of a model, coupled by name: the config's temperature provider and
    each module's :meth:`provided` quantities and unknowns go on one :class:`Board`; every
    module reads through its own view of it; a required read without a provider, or a second
    provider of a non-additive quantity, is a :class:`CouplingError` naming both."""
    board = Board()
    board.add("run", constant_temperature(domain.cfg.run.temperature_K))
    classes = [physics_class(switch) for switch in enabled_switches(domain.cfg, extra)]
    for cls in classes:  # what the config alone determines, readable in constructors
        board.add(cls.name, _declared(cls, cls.provided_at_build(domain)))
    modules = [cls.from_domain(domain, board.view(cls.name, cls.reads, cls.reads_optional))
               for cls in classes]
    for m in modules:
        board.add(m.name, _declared(m, m.provided()))
        board.add(m.name, {uk.name: _unknown(uk.name) for uk in m.unknowns()})
    for m in modules:
        board.check(m.name, m.reads)
    return modules


def _declared(physics, values: dict) -> dict:
    """``values``, checked against the physics' declared provides."""
    undeclared = set(values) - set(physics.provides)
    if undeclared:
        raise CouplingError(f"physics '{physics.name}' provides {sorted(undeclared)} "
                            "without declaring them in its provides")
    return values


def _unknown(name: str):
    """The value of an unknown as a quantity: its function in the state dict."""
    return lambda u: u[name]
