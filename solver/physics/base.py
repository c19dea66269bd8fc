"""The one interface every physics module implements.

A physics module declares its unknowns, adds residual terms to the equations (keyed by the
unknown whose test function they use), names its Dirichlet conditions by facet name, sets
initial values and reports derived outputs. :mod:`heterofem.solver.coupling` only sums what
the active modules give and hands the result to PETSc SNES. Adding a physics touches one new
file, one switch in the config schema, and its tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import ufl

from heterofem.solver.dolfinx_env import dolfinx
from heterofem.solver.domain import Domain


@dataclass(frozen=True)
class Unknown:
    """A primary field: name, Lagrange degree, and the unit it is stored in."""

    name: str
    degree: int
    unit: str
    description: str = ""


@dataclass(frozen=True)
class OutputField:
    """A field for files and profiles: a UFL expression and where it lives.

    ``kind`` is "point" (interpolated into the P1 output space) or "cell" (DG0 cell data);
    ``scale`` converts the solver's value to ``unit`` (SI, e.g. "V/m", "C/m^3"; "1" for none).
    Files and profiles name the field ``<name>_<unit token>``, e.g. ``Ez_V_per_m``.
    """

    name: str
    unit: str
    expr: object
    kind: str = "point"
    scale: float = 1.0

    @property
    def column(self) -> str:
        """Name in files and CSV columns, with the unit: phi_V, Ez_V_per_m, eps_zz."""
        if self.unit in ("1", ""):
            return self.name
        token = self.unit.replace("/", "_per_").replace("^", "").replace(" ", "")
        return f"{self.name}_{token}"


class Physics:
    """Base class; see the module docstring."""

    name = "physics"

    def __init__(self, domain: Domain):
        self.domain = domain

    def unknowns(self) -> list[Unknown]:
        return []

    def residual(self, u: dict[str, dolfinx.fem.Function],
                 v: dict[str, ufl.Argument]) -> dict[str, ufl.Form]:
        """Residual terms per equation name (the unknown whose test function is used)."""
        return {}

    def dirichlet(self, spaces: dict[str, dolfinx.fem.FunctionSpace]) -> list[dolfinx.fem.DirichletBC]:
        return []

    def initialise(self, u: dict[str, dolfinx.fem.Function]) -> None:
        """Set initial values / the Newton initial guess (default: zero)."""

    def outputs(self, u: dict[str, dolfinx.fem.Function]) -> list[OutputField]:
        return []

    def summary(self, u: dict[str, dolfinx.fem.Function]) -> dict[str, object]:
        """Scalars for summary.json (collective: every rank returns the same values)."""
        return {}
