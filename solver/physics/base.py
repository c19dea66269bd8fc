"""The one interface every physics module implements.

A physics module declares its unknowns, adds residual terms to the equations (keyed by the
unknown whose test function they use), names its Dirichlet conditions by facet name, sets
initial values and reports derived outputs. :mod:`heterofem.solver.coupling` only sums what
the active modules give and hands the result to PETSc SNES. Adding a physics touches one new
file, one switch in the config schema (or :func:`heterofem.solver.physics.registry.register`
and ``extra`` switches), and its tests.

Modules couple through named quantities (:mod:`heterofem.solver.physics.quantities`): a
module declares what it ``provides`` (values from :meth:`Physics.provided`) and what it
``reads`` (required) or ``reads_optional``; it reads them from ``self.couplings``, never from
another module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import ufl

from heterofem.solver.dolfinx_env import dolfinx
from heterofem.solver.domain import Domain
from heterofem.solver.physics.quantities import TEMPERATURE, Couplings, standalone


@dataclass(frozen=True)
class Unknown:
    """A primary field: name, Lagrange degree, and the unit it is stored in."""

    name: str
    degree: int
    unit: str
    description: str = ""
    #: value shape: () for a scalar, (gdim,) for a vector
    shape: tuple = ()
    #: the potential of a flux M(u) grad(u) whose mobility the Picard preconditioner holds
    #: fixed in this unknown's rows (``solver.preconditioner = "picard"``; the vacancies' mu)
    picard: bool = False


#: output fields that are a value per cell by nature (a layer's tag or material property, a
#: per-layer constant): written as DG0 cell data, never smoothed
CELLWISE = frozenset({"layer_id", "eps_zz", "rho_fixed", "residual_strain_x",
                      "residual_strain_y"})


@dataclass(frozen=True)
class OutputField:
    """A field for files and profiles: a UFL expression and where it lives.

    ``kind`` is "point" (interpolated into the P1 output space) or "cell" (a value per cell in
    the solver: a gradient of P1 fields, a layer's property); ``scale`` converts the solver's
    value to ``unit`` (SI, e.g. "V/m", "C/m^3"; "1" for none). Files and profiles name the
    field ``<name>_<unit token>``, e.g. ``Ez_V_per_m``.

    A "cell" field is written smooth, L2-projected onto P1 (:class:`heterofem.solver.outputs.
    OutputSet`; electric field, stress, strain, P-derived displacement: no cell-to-cell noise
    or staircases), unless it is truly cell-wise (``smooth=False``, or by default the layer
    properties in :data:`CELLWISE`), which stays DG0 cell data.
    """

    name: str
    unit: str
    expr: object
    kind: str = "point"
    scale: float = 1.0
    #: None: smooth unless :data:`CELLWISE` names it; False: keep DG0 cell data
    smooth: bool | None = None

    @property
    def written_kind(self) -> str:
        """"point" (P1 point data) or "cell" (DG0 cell data): how the files hold the field."""
        if self.kind == "point":
            return "point"
        smooth = self.smooth if self.smooth is not None else self.name not in CELLWISE
        return "point" if smooth else "cell"

    @property
    def column(self) -> str:
        """Name in files and CSV columns, with the unit: phi_V, Ez_V_per_m, eps_zz."""
        if self.unit in ("1", ""):
            return self.name
        token = re.sub(r"(\w+)\^-(\d+)", r"per_\1\2", self.unit)  # m^-3 -> per_m3
        token = token.replace("/", "_per_").replace("^", "").replace(" ", "")
        return f"{self.name}_{token}"


@dataclass
class History:
    """Previous states and the BDF time derivative, shared by all transient physics.

    ``ddt(q, u)``, with ``q`` a function of a state dict, returns
    (a0 q(u) + a1 q(u_old) + a2 q(u_older)) / dt as UFL; a0, a1, a2 and dt are constants the
    stepper updates (BDF1: 1, -1, 0; variable-step BDF2 otherwise), so forms compile once.
    ``dt`` is in the solver's time unit (``time_scale_s`` seconds).

    With ``at`` (a measure with a quadrature degree) and the ``mesh``, the past part
    a1 q(u_old) + a2 q(u_older) is a function at that measure's quadrature points, evaluated
    once per solve (:meth:`update`, called by the coupled solve) instead of in every residual:
    the same numbers at the same points, and the residual packs and evaluates one value per
    point instead of the two previous states (for the vacancies' concentration at 1e6
    unknowns: 0.59 -> 0.36 s per mu residual, measured in benchmarks/README.md). Each such
    call makes a new quadrature function: build the forms once, then :meth:`update` before
    every solve (CoupledProblem.solve does).
    """

    old: dict
    older: dict
    dt: object
    a: tuple
    time_scale_s: float
    mesh: object = None
    #: (quadrature function, its Expression) of each past part held at quadrature points
    past_at_points: list = field(default_factory=list)
    #: (q, at, relative) of every ddt: the quantities whose time derivative is discretised,
    #: for the stepper's local-error estimate (solver/stepping.py)
    rates: list = field(default_factory=list)

    def ddt(self, q, u: dict, at: ufl.Measure | None = None, relative: bool = False) -> object:
        """``relative``: the error estimate measures q relative to its local magnitude (a
        concentration spanning decades), else relative to its largest magnitude."""
        self.rates.append((q, at, relative))
        a0, a1, a2 = self.a
        past = a1 * q(self.old) + a2 * q(self.older)
        degree = at.metadata().get("quadrature_degree") if at is not None else None
        if degree is not None and self.mesh is not None:
            past = self._at_points(past, degree)
        return (a0 * q(u) + past) / self.dt

    def _at_points(self, expr, degree: int) -> dolfinx.fem.Function:
        import basix.ufl

        element = basix.ufl.quadrature_element(self.mesh.basix_cell(),
                                               value_shape=expr.ufl_shape, degree=degree)
        f = dolfinx.fem.Function(dolfinx.fem.functionspace(self.mesh, element), name="past")
        points = f.function_space.element.interpolation_points
        self.past_at_points.append((f, dolfinx.fem.Expression(expr, points)))
        return f

    def update(self) -> None:
        """Evaluate the past parts held at quadrature points (after the stepper has set the
        scheme's constants and the previous states, before the solve)."""
        for f, expr in self.past_at_points:
            f.interpolate(expr)
            f.x.scatter_forward()

    def shift(self, u: dict) -> None:
        """Accept a step: older <- old <- u (the state's arrays are copied)."""
        for name, f in u.items():
            self.older[name].x.array[:] = self.old[name].x.array
            self.old[name].x.array[:] = f.x.array


class Physics:
    """Base class; see the module docstring."""

    name = "physics"
    #: the natural time unit of a transient physics [s] (the solver's time is t / scale)
    time_scale_s: float | None = None
    #: quantities this module provides (:meth:`provided` gives their values)
    provides: tuple[str, ...] = ()
    #: quantities (or unknowns of other modules) this module needs: a model without a
    #: provider of one of them is an error
    reads: tuple[str, ...] = (TEMPERATURE,)
    #: quantities this module uses when some module provides them
    reads_optional: tuple[str, ...] = ()
    #: a steady solve with this physics goes by pseudo-time continuation (e.g. the Landau
    #: double well, whose Newton solve from P ~ 0 finds the unstable state); the first
    #: pseudo step is at most :meth:`stable_pseudo_dt`
    steady_by_continuation: bool = False

    def __init__(self, domain: Domain, couplings: Couplings | None = None):
        self.domain = domain
        #: what this module may read (a read-only view of the model's providers); built on
        #: its own, a module sees only the config's temperature
        self.couplings = couplings if couplings is not None else standalone(
            domain, self.name, self.reads, self.reads_optional)

    @classmethod
    def from_domain(cls, domain: Domain, couplings: Couplings | None = None) -> "Physics":
        """The module as a run builds it (:func:`registry.build_physics`); a module whose
        constructor takes more than the domain derives those arguments here."""
        return cls(domain, couplings=couplings)

    @property
    def temperature_K(self) -> float:
        """The (constant) temperature [K], from the temperature provider."""
        return self.couplings.constant(TEMPERATURE)

    @classmethod
    def provided_at_build(cls, domain: Domain) -> dict[str, object]:
        """Values of :attr:`provides` known from the config and the materials alone, on the
        board before any module is built (modules may read them in their constructors)."""
        return {}

    def provided(self) -> dict[str, object]:
        """The values of :attr:`provides`: quantity name -> function of a state dict."""
        return {}

    def stable_pseudo_dt(self) -> float:
        """Largest first pseudo-time step of a continuation (default: no limit)."""
        return float("inf")

    def unknowns(self) -> list[Unknown]:
        return []

    def residual(self, u: dict[str, dolfinx.fem.Function], v: dict[str, ufl.Argument],
                 history: "History | None" = None) -> dict[str, ufl.Form]:
        """Residual terms per equation name (the unknown whose test function is used).

        ``history`` is None for a steady solve; in a transient it gives the previous states
        and the time-derivative operator (see :class:`History`).
        """
        return {}

    def residual_without(self, provider: str, u: dict, v: dict,
                         history: "History | None" = None) -> dict[str, ufl.Form]:
        """:meth:`residual` as if ``provider`` provided nothing this module reads (e.g. the
        potential without the polarization's bound charge,
        :meth:`heterofem.solver.coupling.CoupledProblem.potential_without`): the residual is
        built with a view of the couplings that leaves that provider out."""
        couplings = self.couplings
        self.couplings = couplings.without(provider)
        try:
            return self.residual(u, v, history)
        finally:
            self.couplings = couplings

    def equation_scales(self) -> dict[str, float]:
        """Factors the coupling multiplies whole equations by (conditioning; default none)."""
        return {}

    def dirichlet(self, spaces: dict[str, dolfinx.fem.FunctionSpace]
                  ) -> dict[str, list[dolfinx.fem.DirichletBC]]:
        """Dirichlet conditions per unknown name."""
        return {}

    def initialise(self, u: dict[str, dolfinx.fem.Function]) -> None:
        """Set initial values / the Newton initial guess (default: zero)."""

    def initial_charge_density(self, phi: dolfinx.fem.Function
                               ) -> "list[tuple[object, ufl.Measure]] | None":
        """This module's initial charge density [C/m^3] as a function of the potential
        ``phi``: (UFL expression, measure) pairs, each on the cells that carry it; or None
        (default) when the module's initial state does not depend on the potential. The
        initial potential solves the potential owner's equation with these charges in place
        of the provided charge density (``potential_residual(u, v, charges)`` of the module
        owning phi, electrostatics); then :meth:`initialise_from_potential` sets the module's
        state from it."""
        return None

    def initialise_from_potential(self, u: dict[str, dolfinx.fem.Function]) -> None:
        """Set this module's initial state from the initial potential ``u["phi"]`` (called
        after that solve, only when :meth:`initial_charge_density` gave charges)."""

    def set_time(self, t_s: float) -> None:
        """The physical time [s] of the state being solved for (transients; default: unused)."""

    def start(self, u: dict[str, dolfinx.fem.Function]) -> None:
        """Called once the initial state is set (e.g. to record initial inventories)."""

    def outputs(self, u: dict[str, dolfinx.fem.Function]) -> list[OutputField]:
        return []

    def timeseries(self, u: dict[str, dolfinx.fem.Function]) -> dict[str, float]:
        """Scalars for one row of timeseries.csv (collective); keys carry units."""
        return {}

    def summary(self, u: dict[str, dolfinx.fem.Function]) -> dict[str, object]:
        """Scalars for summary.json (collective: every rank returns the same values)."""
        return {}
