"""The run configuration: TOML file -> validated :class:`Config`.

Schema (pydantic, ``extra="forbid"`` everywhere so a misspelt key is an error; strict types,
so ``"20"`` is not a number; NaN and inf are errors everywhere):

- ``[run]``: ``name``, ``dimension`` (1, 2, 3), ``temperature_K``
- ``[[layers]]`` bottom to top: ``name``, ``material``, ``thickness_nm``, ``orientation``
- ``[mesh]``: ``size_nm``, ``interface_size_nm``, ``width_nm``, ``depth_nm``, ``features``, ``file``
- ``[physics]``: switches ``electrostatics``, ``vacancies``, ``polarization``, ``mechanics``,
  ``crystallization``; ``element_degree``
- ``[boundary.<facet name>]``: ``phi_V`` (Dirichlet) or ``surface_charge_C_m2`` (Neumann)
- ``[materials.<name>]``: new materials or overrides of database values
- ``[solver]``: ``petsc_options`` passed through to PETSc; ``[output]``

:func:`load_config` collects *every* problem (syntax, schema, cross references, what the physics
needs from the materials) in one pass and raises one :class:`ConfigError` listing them, each
naming its dotted key and the fix: the cross-checks run on what passed the schema, skipping
only those that read a failing value.
"""

from __future__ import annotations

import copy
import difflib
import math
import tomllib
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

#: Physics switches that exist in the schema but have no solver yet (each lands with its issue).
NOT_IMPLEMENTED_PHYSICS: tuple[str, ...] = ()

#: Crystal orientations understood by :mod:`heterofem.solver.orientation`: the crystal
#: direction along the growth axis z.
ORIENTATIONS = ("001", "100", "010", "110", "1-10")

Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=64)]


def _integer_choice(*choices: int) -> Any:
    """``Literal[choices]`` that refuses booleans and floats: pydantic compares a Literal by
    equality, so ``dimension = true`` or ``1.0`` would otherwise pass as 1."""

    def integer_only(value: Any) -> Any:
        if isinstance(value, (bool, float)):
            raise ValueError(f"give one of the integers {', '.join(map(str, choices))}")
        return value

    return Annotated[Literal[choices], BeforeValidator(integer_only)]


#: integer choices such as ``run.dimension`` (no bool or float stand-ins)
Dimension = _integer_choice(1, 2, 3)
Degree = _integer_choice(1, 2)

#: The highest temperature a run accepts [K]: the database's oxides melt or decompose below it
#: (TiO2 2116 K, VO2 2240 K, RuO2 ~1700 K), so their solid-state data mean nothing above.
MAX_TEMPERATURE_K = 3000.0


class ConfigError(Exception):
    """One or more problems with a configuration.

    ``problems`` is a list of ``(key, message)`` pairs; the message says what is wrong and how
    to fix it.
    """

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__(self.format())

    def format(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the configuration:"
        return "\n".join([head] + [f"  - {key}: {msg}" for key, msg in self.problems])


class _Strict(BaseModel):
    """Base of every section: unknown keys are errors (``extra="forbid"``); values are not
    coerced (``strict``: ``"20"`` is not a number, ``1`` is not ``true``; an integer is still
    a valid float); NaN and infinity are errors everywhere (``allow_inf_nan=False``)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True,
                              allow_inf_nan=False)


class RunSection(_Strict):
    name: Name = "heterofem"
    dimension: Dimension = 1
    temperature_K: Annotated[float, Field(gt=0.0, le=MAX_TEMPERATURE_K)] = 300.0


class Layer(_Strict):
    name: Name
    material: str
    thickness_nm: Annotated[float, Field(gt=0.0)]
    orientation: Literal[ORIENTATIONS] = "001"  # type: ignore[valid-type]
    #: fixed space charge of this layer [C/m^3]; overrides the material's value
    space_charge_C_m3: float | None = None
    #: initial oxygen deficiency delta of MO(2-delta) (vacancies; site fraction theta = delta/2)
    delta: Annotated[float, Field(gt=0.0, lt=2.0)] | None = None
    #: background donor / acceptor densities [m^-3]; override the material's values
    donor_density_m3: Annotated[float, Field(ge=0.0)] | None = None
    acceptor_density_m3: Annotated[float, Field(ge=0.0)] | None = None
    #: carries the polarization order parameter (default: when its material has Landau data)
    polar: bool | None = None
    #: coherently strained to the substrate (the bottom layer), before relaxation
    coherent: bool = True


class Feature(_Strict):
    """A lateral feature on top of a layer (2D/3D): the layer's material protrudes upward into
    the layer above it.

    - ``step``: the layer is ``height_nm`` thicker for x > ``x_nm`` (a terrace step);
    - ``island``: a block ``width_nm`` (x) by ``depth_nm`` (y, 3D) by ``height_nm`` centred at
      (``x_nm``, ``y_nm``).
    """

    type: Literal["step", "island"]
    layer: Name
    height_nm: Annotated[float, Field(gt=0.0)]
    x_nm: float | None = None
    y_nm: float | None = None
    width_nm: Annotated[float, Field(gt=0.0)] | None = None
    depth_nm: Annotated[float, Field(gt=0.0)] | None = None


class MeshSection(_Strict):
    size_nm: Annotated[float, Field(gt=0.0)] = 1.0
    #: cell size at interfaces; default size_nm / 4
    interface_size_nm: Annotated[float, Field(gt=0.0)] | None = None
    #: distance from an interface over which the size grows back to size_nm
    refine_distance_nm: Annotated[float, Field(gt=0.0)] = 2.0
    width_nm: Annotated[float, Field(gt=0.0)] = 20.0
    depth_nm: Annotated[float, Field(gt=0.0)] = 20.0
    features: list[Feature] = []
    #: an external Gmsh .msh file whose physical names match the layer names (replaces meshing)
    file: str | None = None
    #: refuse a mesh whose cell count, estimated from the config before meshing, exceeds
    #: this (raise it here or with ``heterofem run --max-cells N``)
    max_cells: Annotated[int, Field(ge=1)] = 2_000_000

    @property
    def h_interface(self) -> float:
        return self.interface_size_nm if self.interface_size_nm else self.size_nm / 4.0


class PhysicsSection(_Strict):
    electrostatics: bool = True
    vacancies: bool = False
    polarization: bool = False
    mechanics: bool = False
    crystallization: bool = False
    #: Lagrange degree of the continuous fields
    element_degree: Degree = 1
    #: electrons in semiconductors: none, Boltzmann, or Fermi-Dirac (F_1/2) statistics
    electrons: Literal["none", "boltzmann", "fermi-dirac"] = "none"
    #: vacancy statistics: site exclusion theta/(1-theta), or the dilute (Boltzmann) limit
    vacancy_statistics: Literal["site-exclusion", "dilute"] = "site-exclusion"
    #: quadrature degree of every volume integral (None: 2 x element_degree, exact for the
    #: mass matrix and optimal-order accurate for the nonlinear terms; see Domain)
    quadrature_degree: Annotated[int, Field(ge=1, le=12)] | None = None
    #: quadrature degree of the vacancy flux (its mobility is exponential in mu; None: 2 x
    #: element_degree + 6, converged to ~0.3 % in the transported amount, see Domain)
    transport_quadrature_degree: Annotated[int, Field(ge=1, le=20)] | None = None
    #: the vacancy flux integral: "exact" (closed-form cell average of the exponential
    #: mobility for P1 on intervals and triangles, solver/physics/cell_average.py; elsewhere,
    #: and with crystallization, quadrature at transport_quadrature_degree) or "quadrature"
    vacancy_flux: Literal["exact", "quadrature"] = "exact"


class StrainSection(_Strict):
    """Epitaxial strain of coherent layers and its relaxation with thickness (per in-plane
    direction x, y of the lab frame; see docs/model.md).

    law = "coherent": the full misfit at any thickness; "inverse": r = min(1, h_c/h)
    (Matthews-Blakeslee-type asymptote); "exponential": r = 1 below h_c and
    exp(-(h - h_c)/w) above (a kinetic law, calibrated to the observed h_c). The residual
    strain is r x misfit.
    """

    law: Literal["coherent", "inverse", "exponential"] = "coherent"
    critical_thickness_x_nm: Annotated[float, Field(gt=0.0)] | None = None
    critical_thickness_y_nm: Annotated[float, Field(gt=0.0)] | None = None
    relaxation_width_x_nm: Annotated[float, Field(gt=0.0)] = 1.0
    relaxation_width_y_nm: Annotated[float, Field(gt=0.0)] = 1.0


class WorkFunctionSection(_Strict):
    """The work function of the free surface (needs a vacuum layer on top); see
    solver/workfunction.py."""

    #: compute it; default: whenever the top layer is vacuum
    enabled: bool | None = None
    #: "none"; "exponential": (W_substrate - W_film) exp(-t / band_alignment_length_nm);
    #: "linear": (W_substrate - W_film) max(0, 1 - t / band_alignment_length_nm)
    band_alignment: Literal["none", "exponential", "linear"] = "none"
    band_alignment_length_nm: Annotated[float, Field(gt=0.0)] = 1.0
    #: 2D/3D: height of the KPFM-like map above the highest surface point (default: the top)
    probe_height_nm: Annotated[float, Field(gt=0.0)] | None = None


class DepositionSection(_Strict):
    """Film growth on a fixed mesh (solver/physics/crystallization.py): the crystallizing
    layers are meshed to their final thickness; material above the growth surface
    z_s(t) = z_0 + initial_thickness_nm + rate x t waits frozen (no transport, no
    crystallization) at the deposition state and joins as the surface passes."""

    #: growth rate [nm/s]; or give nm_per_pulse and pulse_rate_Hz (PLD)
    rate_nm_s: Annotated[float, Field(gt=0.0)] | None = None
    nm_per_pulse: Annotated[float, Field(gt=0.0)] | None = None
    pulse_rate_Hz: Annotated[float, Field(gt=0.0)] | None = None
    #: thickness already deposited at t = 0 [nm]
    initial_thickness_nm: Annotated[float, Field(ge=0.0)] = 0.0
    #: oxygen deficiency delta of the arriving (amorphous) material; or derive it from the
    #: growth pO2 by the amorphous material's non-stoichiometry law (give pO2_mTorr)
    delta: Annotated[float, Field(gt=0.0, lt=2.0)] | None = None
    pO2_mTorr: Annotated[float, Field(gt=0.0)] | None = None
    #: width of the smoothed growth surface [nm] (default: the phase-field interface width)
    surface_width_nm: Annotated[float, Field(gt=0.0)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "DepositionSection":
        pulsed = (self.nm_per_pulse is not None, self.pulse_rate_Hz is not None)
        if any(pulsed) and not all(pulsed):
            raise ValueError("give nm_per_pulse together with pulse_rate_Hz")
        if self.rate_nm_s is not None and any(pulsed):
            raise ValueError("give either rate_nm_s or nm_per_pulse and pulse_rate_Hz, not both")
        if self.rate_nm_s is None and not any(pulsed):
            raise ValueError("give the growth rate: rate_nm_s, or nm_per_pulse and pulse_rate_Hz")
        if self.delta is not None and self.pO2_mTorr is not None:
            raise ValueError("give either delta or pO2_mTorr for the deposited material, not both")
        return self

    @property
    def rate(self) -> float:
        """Growth rate [nm/s]."""
        if self.rate_nm_s is not None:
            return self.rate_nm_s
        return self.nm_per_pulse * self.pulse_rate_Hz


def deposition_delta(material, pO2_mTorr: float) -> float:
    """delta of TiO2-delta deposited at pO2 by the non-stoichiometry law
    delta = delta_ref (pO2 / p_ref)^(-1/n) of the (amorphous) material (PARAMETERS.md 5c)."""
    ref = material.value("nonstoichiometry_delta_ref", "dimensionless")
    p_ref = material.value("nonstoichiometry_pO2_ref", "Pa")
    n = material.value("nonstoichiometry_exponent", "dimensionless")
    pO2_Pa = pO2_mTorr * 1e-3 * 101325.0 / 760.0
    return ref * (pO2_Pa / p_ref) ** (-1.0 / n)


class CrystallizationSection(_Strict):
    """Amorphous -> crystalline phase field (solver/physics/crystallization.py, docs/model.md).

    The listed layers' material is the crystal (e.g. "TiO2"); ``amorphous_material`` gives the
    properties of the as-deposited phase and the transformation parameters."""

    #: layers in which the phase field lives (the deposited film)
    layers: list[Name] = []
    amorphous_material: str = "TiO2_amorphous"
    #: facet held crystalline (xi = 1): the epitaxial seed; default: the interface below the
    #: lowest crystallizing layer; "none" for no seed
    seed: str | None = None
    #: a flat crystalline region below this height [nm] at t = 0 (tanh profile); default none
    initial_front_nm: float | None = None
    #: diffuse-interface width l [nm]: xi = (1 - tanh(z / (2 l))) / 2 across a flat front
    interface_width_nm: Annotated[float, Field(gt=0.0)] = 1.0
    #: overrides of the amorphous material's values (J/m^3, J/m^2, m^3/(J s), eV)
    driving_force_J_m3: float | None = None
    interface_energy_J_m2: Annotated[float, Field(gt=0.0)] | None = None
    mobility_M0_m3_J_s: Annotated[float, Field(gt=0.0)] | None = None
    mobility_Ea_eV: Annotated[float, Field(ge=0.0)] | None = None
    #: the film counts as crystallized when its crystalline thickness exceeds this [nm]
    crystallized_threshold_nm: Annotated[float, Field(gt=0.0)] = 2.0
    deposition: DepositionSection | None = None


class InitialSection(_Strict):
    """Initial vacancy state: per-layer ``delta`` where given, elsewhere equilibrium with a
    uniform vacancy electrochemical potential ``mu_eV``."""

    mu_eV: float | None = None


class TimeSection(_Strict):
    """Transient run (without a [time] table the run is a steady solve)."""

    end_s: Annotated[float, Field(gt=0.0)]
    dt_initial_s: Annotated[float, Field(gt=0.0)]
    #: the run stops with a message when a step that does not converge is cut below this
    dt_min_s: Annotated[float, Field(gt=0.0)] | None = None
    dt_max_s: Annotated[float, Field(gt=0.0)] | None = None
    scheme: Literal["bdf1", "bdf2"] = "bdf1"
    #: times at which fields are written (the end time always is)
    output_times_s: list[Annotated[float, Field(ge=0.0)]] = []
    #: step growth after an easy step, and cut after a failed one
    grow: Annotated[float, Field(gt=1.0, le=10.0)] = 1.5
    cut: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    #: Newton iterations at or below which the step grows; above 2x it shrinks
    target_newton: Annotated[int, Field(ge=1)] = 4
    #: local truncation-error control of the step size (predictor-corrector estimate on the
    #: quantities under d/dt: vacancy concentration, phase field, polarization; stepping.py)
    error_control: bool = True
    #: tolerance of that estimate: the relative error of the concentration (of an order
    #: parameter, relative to its largest value) one step may make; a run of N steps may be up
    #: to N x this off. 1e-3: the TiO2/VO2 transient ends 1.4 % (600 s) / 5 % (1800 s) from
    #: the small-step answer whatever dt_initial_s (45 % before), for ~2x the steps
    error_tolerance: Annotated[float, Field(gt=0.0, lt=1.0)] = 1e-3

    @property
    def dt_min(self) -> float:
        return self.dt_min_s if self.dt_min_s else self.dt_initial_s * 1e-6

    @property
    def dt_max(self) -> float:
        return self.dt_max_s if self.dt_max_s else self.end_s / 5.0


class BoundaryCondition(_Strict):
    """Conditions on one named facet set. A facet with no entry is free for the potential
    (zero normal displacement) and blocking for vacancies."""

    #: fixed electrostatic potential [V] (Dirichlet)
    phi_V: float | None = None
    #: surface charge density [C/m^2] (Neumann: eps0 eps grad(phi).n = sigma)
    surface_charge_C_m2: float | None = None
    #: vacancies: blocking (J.n = 0), fixed electrochemical potential, or gas exchange
    vacancy: Literal["blocking", "fixed_mu", "gas"] = "blocking"
    #: vacancy electrochemical potential [eV] for vacancy = "fixed_mu"
    mu_eV: float | None = None
    #: oxygen partial pressure of the gas (vacancy = "gas"): give one of the two
    pO2_Pa: Annotated[float, Field(gt=0.0)] | None = None
    pO2_mTorr: Annotated[float, Field(gt=0.0)] | None = None
    #: surface exchange coefficient k = k0 exp(-Ea/kT) [m/s, eV]; default: the material's
    exchange_k0_m_s: Annotated[float, Field(gt=0.0)] | None = None
    exchange_Ea_eV: Annotated[float, Field(ge=0.0)] | None = None
    #: polarization: interface field, a surface energy -h P.e_z on this facet [V = J/m^2 per
    #: C/m^2]; positive favours P along +z (from the lower into the upper layer)
    polar_bias_V: float | None = None
    #: polarization: extrapolation length of the surface energy (g / (2 lambda)) P^2 [nm]
    polar_extrapolation_nm: Annotated[float, Field(gt=0.0)] | None = None
    #: polarization: scale polar_bias_V by the retained fraction r of the misfit along lab
    #: "x" or "y" of the strained layer at this facet (the strain-stabilised interface dipole
    #: fades as that strain relaxes; solver/physics/polarization.py); None: a constant bias
    polar_bias_follows_strain: Literal["x", "y"] | None = None
    #: mechanics: None = the module's default (bottom fixed, lateral sides roller, top and
    #: interfaces free); "displacement" with displacement_nm, "traction" with traction_GPa
    mechanics: Literal["fixed", "roller", "free", "displacement", "traction"] | None = None
    displacement_nm: list[float] | None = None
    traction_GPa: list[float] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> BoundaryCondition:
        if self.phi_V is not None and self.surface_charge_C_m2 is not None:
            raise ValueError("give either phi_V or surface_charge_C_m2, not both")
        has_p = self.pO2_Pa is not None or self.pO2_mTorr is not None
        if self.pO2_Pa is not None and self.pO2_mTorr is not None:
            raise ValueError("give either pO2_Pa or pO2_mTorr, not both")
        if has_p and self.vacancy != "gas":
            raise ValueError("a pO2 needs vacancy = \"gas\" on this facet (gas exchange)")
        if self.vacancy == "gas" and not has_p:
            raise ValueError("vacancy = \"gas\" needs pO2_Pa or pO2_mTorr")
        if self.displacement_nm is not None and self.mechanics not in (None, "displacement"):
            raise ValueError("displacement_nm goes with mechanics = \"displacement\"")
        if self.traction_GPa is not None and self.mechanics not in (None, "traction"):
            raise ValueError("traction_GPa goes with mechanics = \"traction\"")
        if self.displacement_nm is not None and self.traction_GPa is not None:
            raise ValueError("give either displacement_nm or traction_GPa, not both")
        if self.mechanics == "displacement" and self.displacement_nm is None:
            raise ValueError("mechanics = \"displacement\" needs displacement_nm = [x, (y,) z]")
        if self.mechanics == "traction" and self.traction_GPa is None:
            raise ValueError("mechanics = \"traction\" needs traction_GPa = [x, (y,) z]")
        if (self.mu_eV is not None) != (self.vacancy == "fixed_mu"):
            raise ValueError("mu_eV goes with vacancy = \"fixed_mu\" (give both or neither)")
        return self

    @property
    def pO2(self) -> float | None:
        """Oxygen partial pressure [Pa]."""
        if self.pO2_Pa is not None:
            return self.pO2_Pa
        if self.pO2_mTorr is not None:
            return self.pO2_mTorr * 1e-3 * 101325.0 / 760.0
        return None


PetscValue = str | int | float | bool


class SolverSection(_Strict):
    #: passed through to PETSc under the solver's options prefix (e.g. ksp_type = "cg")
    petsc_options: dict[str, PetscValue] = {}
    rtol: Annotated[float, Field(gt=0.0, lt=1.0)] = 1e-10
    atol: Annotated[float, Field(gt=0.0)] = 1e-12
    max_it: Annotated[int, Field(ge=1)] = 50
    #: largest change of any potential (phi [V], mu [eV]) in one Newton update, in units of
    #: kT/q; the default limits updates when exponential (Boltzmann-type) terms are present
    #: and not otherwise; 0 switches the limiter off
    max_update_kT: Annotated[float, Field(ge=0.0)] | None = None
    #: preconditioning matrix of the coupled Newton solve: "exact" (the Jacobian itself) or
    #: "picard" (the Jacobian with the vacancy mobility held fixed in its derivative: the mu
    #: block becomes an M-matrix that GAMG handles; for a field split with GAMG on both
    #: fields, see benchmarks/README.md). Newton's convergence is unchanged: only the
    #: preconditioner differs.
    preconditioner: Literal["exact", "picard"] = "exact"
    #: matrix assembly of the coupled Jacobian: "fast" (block by block through the DOLFINx
    #: version it was written for), "standard" (DOLFINx's public assembly), "auto" (fast where
    #: available, else standard with a warning); the path taken is in summary.json
    assembly: Literal["auto", "fast", "standard"] = "auto"


class OutputSection(_Strict):
    #: write field files (VTK .pvd/.vtu and XDMF mesh)
    fields: bool = True
    #: points of the line profile through the stack centre
    profile_points: Annotated[int, Field(ge=2, le=100000)] = 401
    #: write the mesh (.msh and .xdmf with tags) into the run directory
    mesh: bool = True
    #: transient runs: write a checkpoint every this many accepted steps (0: never)
    checkpoint_every_steps: Annotated[int, Field(ge=0)] = 0
    #: how many checkpoints to keep
    checkpoint_keep: Annotated[int, Field(ge=1)] = 2


class Config(_Strict):
    run: RunSection = RunSection()
    layers: Annotated[list[Layer], Field(min_length=1)]
    mesh: MeshSection = MeshSection()
    physics: PhysicsSection = PhysicsSection()
    boundary: dict[str, BoundaryCondition] = {}
    strain: StrainSection = StrainSection()
    workfunction: WorkFunctionSection = WorkFunctionSection()
    crystallization: CrystallizationSection = CrystallizationSection()
    initial: InitialSection = InitialSection()
    time: TimeSection | None = None
    materials: dict[str, dict[str, Any]] = {}
    solver: SolverSection = SolverSection()
    output: OutputSection = OutputSection()

    # -- derived geometry -------------------------------------------------------------------
    @property
    def work_function_on(self) -> bool:
        top = self.boundary.get("top")
        free_top = top is None or top.phi_V is None  # a biased probe fixes the vacuum level
        auto = self.layers[-1].material == "vacuum" and len(self.solid_layers) > 0 and free_top
        return auto if self.workfunction.enabled is None else self.workfunction.enabled

    def deposited_delta(self, layer: str) -> float | None:
        """delta of a crystallizing layer set by [crystallization.deposition] (delta given, or
        from pO2 by the amorphous material's law; see solver/physics/crystallization.py)."""
        dep = self.crystallization.deposition
        if not self.physics.crystallization or dep is None or layer not in self.crystallization.layers:
            return None
        if dep.delta is not None:
            return dep.delta
        if dep.pO2_mTorr is not None:
            from heterofem.solver.materials import resolve_materials

            mat = resolve_materials(self)[self.crystallization.amorphous_material]
            return deposition_delta(mat, dep.pO2_mTorr)
        return None

    @property
    def solid_layers(self) -> list[Layer]:
        return [lay for lay in self.layers if lay.material != "vacuum"]

    @property
    def total_thickness_nm(self) -> float:
        return sum(lay.thickness_nm for lay in self.layers)

    def layer_bounds_nm(self) -> list[tuple[float, float]]:
        """(z_bottom, z_top) of every layer, bottom to top."""
        bounds, z = [], 0.0
        for lay in self.layers:
            bounds.append((z, z + lay.thickness_nm))
            z += lay.thickness_nm
        return bounds

    def interface_names(self) -> list[str]:
        return [interface_name(a.name, b.name) for a, b in zip(self.layers, self.layers[1:])]

    def facet_names(self) -> list[str]:
        """Every named facet set the built-in mesher creates for this config."""
        outer = ["bottom", "top"]
        if self.run.dimension >= 2:
            outer += ["left", "right"]
        if self.run.dimension == 3:
            outer += ["front", "back"]
        return outer + self.interface_names()

    def layer(self, name: str) -> Layer:
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise KeyError(name)


def interface_name(lower: str, upper: str) -> str:
    """Name of the facet set between two layers (TOML: ``[boundary."film/substrate"]``)."""
    return f"{lower}/{upper}"


# -- loading -----------------------------------------------------------------------------------


def read_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(
            [(str(path), f"cannot read the file ({exc.strerror}); check the path and permissions")]
        ) from None
    except UnicodeDecodeError:
        raise ConfigError([(str(path), "not a text file; give a TOML config")]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([(str(path), f"invalid TOML: {exc}; fix the syntax there")]) from None


def _parse_value(text: str) -> Any:
    """A --set value is read as a TOML value (3.5, true, "x", [1, 2]); bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> list[tuple[str, str]]:
    """Apply ``dotted.key=value`` overrides in place; returns problems instead of raising.

    List items are addressed by 0-based index (``layers.1.thickness_nm``) or, for lists of
    named tables, by name (``layers.film.thickness_nm``). Tables are created as needed, so
    ``boundary.top.phi_V=1`` works on a config without that table; unknown keys are then
    caught by the schema.
    """
    problems: list[tuple[str, str]] = []
    for item in overrides:
        if "=" not in item:
            problems.append((item, "a --set needs the form dotted.key=value"))
            continue
        key, text = item.split("=", 1)
        # quotes around a part are TOML-style quoting of a name (boundary."film/gap".phi_V)
        parts = [part.strip().strip('"').strip("'") for part in key.strip().split(".")]
        node: Any = data
        try:
            for i, part in enumerate(parts[:-1]):
                node = _descend(node, part, create=True)
            last = parts[-1]
            if isinstance(node, list):
                node[_list_index(node, last)] = _parse_value(text.strip())
            else:
                node[last] = _parse_value(text.strip())
        except (KeyError, IndexError, TypeError) as exc:
            problems.append((key, f"--set cannot address this key ({exc}); check the path"))
    return problems


def _list_index(node: list, part: str) -> int:
    """The 0-based index ``part`` (or the item named ``part``) of a list; negative indices are
    refused (a config key names one item, counted from the bottom layer)."""
    if part.startswith("-") and part[1:].isdigit():
        raise IndexError(f"negative index {part}: items count from 0 (0 to {len(node) - 1} "
                         "here), or address a layer by its name")
    if part.isdigit():
        idx = int(part)
        if idx >= len(node):
            raise IndexError(f"index {idx} is past the end: the list has {len(node)} item(s)")
        return idx
    for i, item in enumerate(node):
        if isinstance(item, dict) and item.get("name") == part:
            return i
    raise KeyError(f"no list item named {part!r}")


def _descend(node: Any, part: str, create: bool) -> Any:
    if isinstance(node, list):
        return node[_list_index(node, part)]
    if not isinstance(node, dict):
        raise TypeError(f"{part!r} is inside a value, not a table")
    if part not in node:
        if not create:
            raise KeyError(part)
        node[part] = {}
    return node[part]


#: pydantic's labels of union branches and validator wrappers in an error location
def _is_branch_label(part: str) -> bool:
    return (part in ("float", "int", "str", "bool", "list", "dict") or "[" in part
            or part.startswith(("constrained-", "function-", "literal", "lax-", "strict-")))


def _schema_errors(exc: ValidationError) -> list[tuple[tuple[str, ...], str, str]]:
    """(location, pydantic error type, message) of every schema error, the location as the
    config's dotted path (branch labels dropped); one error per location, preferring a value
    error over the type mismatches of the other branches of a union."""
    found: dict[tuple[str, ...], tuple[str, str]] = {}
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"] if not _is_branch_label(str(p)))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(list(loc[:-1]))
            close = difflib.get_close_matches(loc[-1], allowed, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            msg = f"unknown key; {hint}allowed keys: {', '.join(allowed) or '(none)'}"
        elif err["type"] == "missing":
            msg = "required key is missing; add it"
        elif "input" in err and err["type"] not in ("model_type", "dict_type", "list_type"):
            msg = f"{msg} (got {err['input']!r}){_fix_hint(err['type'], err['input'])}"
        if loc not in found or found[loc][0].endswith("_type"):
            found[loc] = (err["type"], msg)
    return [(loc, typ, msg) for loc, (typ, msg) in found.items()]


def _fix_hint(kind: str, given: Any) -> str:
    """How to fix a value of the wrong type (strict schema: no conversions)."""
    if kind == "finite_number":
        return "; NaN and inf are not allowed: give a finite number"
    if kind in ("float_type", "int_type", "bool_type") and isinstance(given, str):
        return "; write it without quotes (a quoted value is text)"
    if kind == "bool_type":
        return "; write true or false"
    return ""


def _pydantic_problems(exc: ValidationError, data: dict[str, Any] | None = None
                       ) -> list[tuple[str, str]]:
    """The schema errors as ``(dotted key, message)`` problems."""
    return [(".".join(loc) or "(top level)", msg) for loc, _, msg in _schema_errors(exc)]


def _unwrap(tp: Any) -> Any:
    """The type inside ``Annotated[...]`` and ``X | None`` (the first model, dict or list of a
    union, else its first member)."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            nested = [a for a in members if _is_model(_unwrap(a))
                      or get_origin(_unwrap(a)) in (dict, list)]
            tp = (nested or members)[0]
        else:
            return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _type_at(loc: list[str] | tuple[str, ...]) -> Any:
    """The schema type at a dotted location (``boundary.top`` -> BoundaryCondition); None
    where the schema has no such key."""
    tp: Any = Config
    for part in loc:
        tp = _unwrap(tp)
        if _is_model(tp):
            field = tp.model_fields.get(part)
            if field is None:
                return None
            tp = field.annotation
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        elif get_origin(tp) is list:
            tp = get_args(tp)[0]
        else:
            return None
    return _unwrap(tp)


def _allowed_keys(loc: list[str]) -> list[str]:
    """The keys the schema accepts at a dotted location (for did-you-mean hints)."""
    tp = _type_at(loc)
    return sorted(tp.model_fields) if _is_model(tp) else []


def _placeholder(annotation: Any) -> Any:
    """A valid stand-in for a required text, choice or positive number (None: no stand-in)."""
    tp = _unwrap(annotation)
    if get_origin(tp) is Literal:
        return get_args(tp)[0]
    return {str: "placeholder", float: 1.0}.get(tp)


def _drop_bad_value(data: dict[str, Any], loc: tuple[str, ...]
                    ) -> tuple[tuple[str, ...], bool] | None:
    """Remove the value at ``loc`` (or the nearest enclosing one) that the schema can do
    without: an unknown key, an optional field (its default takes over) or a dict entry; a
    required field of a list item (a layer, a feature) gets a placeholder instead, since the
    item cannot go without renumbering the others. Returns (the path, whether it was an
    unknown key) or None (a required value with no stand-in)."""
    for n in range(len(loc), 0, -1):
        parent_path, last = loc[:n - 1], loc[n - 1]
        parent: Any = data
        for part in parent_path:
            if isinstance(parent, list) and part.isdigit() and int(part) < len(parent):
                parent = parent[int(part)]
            elif isinstance(parent, dict) and part in parent:
                parent = parent[part]
            else:
                parent = None
                break
        if not isinstance(parent, dict):
            continue
        ptype = _type_at(parent_path)
        if _is_model(ptype):
            field = ptype.model_fields.get(last)
            in_list = bool(parent_path) and parent_path[-1].isdigit()
            if field is not None and field.is_required():
                stand_in = _placeholder(field.annotation) if in_list else None
                if stand_in is None:
                    continue
                parent[last] = stand_in
                return loc[:n], False
            if last not in parent:
                continue
            del parent[last]
            return loc[:n], field is None
        if last not in parent:
            continue
        if get_origin(ptype) is dict:
            del parent[last]
            return loc[:n], False
    return None


#: stands in for a [[layers]] list that failed the schema, so that the checks that do not
#: read the layers still run (those that do are skipped: "layers" is marked bad)
_PLACEHOLDER_LAYERS = [{"name": "placeholder", "material": "vacuum", "thickness_nm": 1.0}]


def _partial_config(data: dict[str, Any], exc: ValidationError
                    ) -> tuple[Config | None, set[tuple[str, ...]]]:
    """The config without the values that failed the schema (defaults in their place), and
    the paths removed: the cross-checks that read none of them can still run, so that one
    pass reports every problem. (None, ...) when no valid config remains."""
    work = copy.deepcopy(data)
    bad: set[tuple[str, ...]] = set()
    for _ in range(8):  # removing a value can expose a dependent one (model validators)
        for loc, _typ, _msg in _schema_errors(exc):
            dropped = _drop_bad_value(work, loc)
            if dropped is None and loc and loc[0] == "layers":
                work["layers"], dropped = copy.deepcopy(_PLACEHOLDER_LAYERS), (("layers",), False)
            if dropped is None:
                return None, bad
            if not dropped[1]:  # an unknown key removed changes nothing the checks read
                bad.add(dropped[0])
        try:
            return Config.model_validate(work), bad
        except ValidationError as again:
            exc = again
    return None, bad


def _overlaps(dep: str, bad: tuple[str, ...]) -> bool:
    """Whether a check reading ``dep`` (dotted; ``*`` matches any list index or key, as in
    ``layers.*.material``) reads the value replaced at ``bad``."""
    return all(d in ("*", b) for d, b in zip(dep.split("."), bad))


def _cross_checks(cfg: Config, bad: set[tuple[str, ...]] | frozenset = frozenset()
                  ) -> list[tuple[str, str]]:
    """Checks that need more than one section (material names, facet names, physics).

    ``bad``: the paths that failed the schema and were replaced by defaults
    (:func:`_partial_config`); a check that reads any of them is skipped, the others run, so
    that one pass reports every problem."""
    from heterofem.solver.materials import MaterialError, collect_materials, known_material_names

    def clean(*deps: str) -> bool:
        return not any(_overlaps(d, b) for d in deps for b in bad)

    try:
        known = set(known_material_names())
    except MaterialError as exc:  # a broken database file
        return exc.problems
    problems: list[tuple[str, str]] = []
    groups = (
        (("layers.*.name", "layers.*.material", "layers.*.polar", "materials"),
         lambda: _layer_checks(cfg, known)),
        # (reads the facet names only: a facet whose values failed is still named right)
        (("layers.*.name", "run.dimension", "mesh.file"), lambda: _facet_checks(cfg)),
        (("layers", "mesh", "run.dimension"), lambda: _feature_checks(cfg)),
        (("physics", "run.dimension"), lambda: _physics_checks(cfg)),
        (("time",), lambda: _time_checks(cfg)),
        (("boundary", "run.dimension"), lambda: _vector_checks(cfg)),
        (("physics", "crystallization", "layers", "materials", "run.dimension", "time"),
         lambda: _crystallization_checks(cfg)),
    )
    for deps, check in groups:
        if clean(*deps):
            problems.extend(check())
    if not clean("materials"):
        return problems
    materials, table_problems = collect_materials(cfg)
    problems.extend(table_problems)
    if clean("boundary", "physics", "layers", "initial", "crystallization", "run.temperature_K",
             "time"):
        problems.extend(_vacancy_checks(cfg, materials))
    needed = [lay.material for lay in cfg.layers] + (
        [cfg.crystallization.amorphous_material] if cfg.physics.crystallization else [])
    if clean("layers", "physics", "crystallization") and all(m in materials for m in needed):
        problems.extend(_material_checks(cfg, materials, clean))
    return problems


def _material_checks(cfg: Config, materials, clean) -> list[tuple[str, str]]:
    """What the physics reads from the materials of the layers (every one resolved)."""
    problems: list[tuple[str, str]] = []
    if cfg.physics.polarization and clean("run.temperature_K", "boundary"):
        from heterofem.solver.physics.polarization import coefficient_problems

        problems.extend(coefficient_problems(cfg, materials))
    if cfg.physics.polarization or cfg.physics.mechanics:
        problems.extend(_lattice_problems(cfg, materials))
    if cfg.work_function_on and clean("workfunction", "boundary") and cfg.solid_layers:
        problems.extend(_work_function_problems(cfg, materials))
    if cfg.physics.mechanics and cfg.run.dimension > 1 and clean("boundary", "run.dimension"):
        problems.extend(_mechanics_problems(cfg, materials))
    if cfg.physics.electrons != "none":
        for lay in cfg.solid_layers:
            mat = materials[lay.material]
            for key in ("effective_dos_conduction", "conduction_band_offset"):
                if mat.kind == "semiconductor" and not mat.has(key):
                    problems.append((f"materials.{lay.material}.{key}", f"physics.electrons = "
                                     f"\"{cfg.physics.electrons}\" needs it in the semiconductor "
                                     f"layer '{lay.name}'; add it with value, unit and source, "
                                     "or set electrons = \"none\""))
    if cfg.physics.crystallization:
        problems.extend(_phase_material_problems(cfg, materials))
    return sorted(set(problems), key=problems.index)


def _layer_checks(cfg: Config, known: set[str]) -> list[tuple[str, str]]:
    """Unique names, known materials, vacuum only on top and never polar."""
    problems: list[tuple[str, str]] = []
    names = [lay.name for lay in cfg.layers]
    known = known | set(cfg.materials)
    for i, lay in enumerate(cfg.layers):
        if names.count(lay.name) > 1:
            problems.append((f"layers.{i}.name", f"layer name '{lay.name}' is used twice; names must be unique"))
        if lay.material not in known:
            close = difflib.get_close_matches(lay.material, sorted(known), n=1)
            hint = f"did you mean '{close[0]}'?" if close else "see `heterofem materials`"
            problems.append(
                (f"layers.{i}.material", f"unknown material '{lay.material}'; {hint} "
                 "(or define it under [materials.<name>])")
            )
        if lay.material == "vacuum" and i != len(cfg.layers) - 1:
            problems.append((f"layers.{i}.material", "vacuum is allowed only as the top layer"))
        if lay.material == "vacuum" and lay.polar:
            problems.append((f"layers.{i}.polar", "vacuum carries no polarization; remove polar "
                             "or set it to false"))
    if all(lay.material == "vacuum" for lay in cfg.layers):
        problems.append(("layers", "the stack needs at least one solid layer"))
    return problems


def _facet_checks(cfg: Config) -> list[tuple[str, str]]:
    """Every [boundary.<facet>] names a facet set the built-in mesher creates."""
    problems: list[tuple[str, str]] = []
    if cfg.mesh.file is None:
        valid = cfg.facet_names()
        for facet in cfg.boundary:
            if facet not in valid:
                close = difflib.get_close_matches(facet, valid, n=1)
                hint = f"did you mean '{close[0]}'?" if close else ""
                problems.append(
                    (f"boundary.{facet}",
                     f"no facet named '{facet}' in this {cfg.run.dimension}D stack; {hint} "
                     f"valid names: {', '.join(valid)}")
                )
    return problems


def _feature_checks(cfg: Config) -> list[tuple[str, str]]:
    """Lateral features lie inside the domain, on a layer with one above, and fit in it."""
    problems: list[tuple[str, str]] = []
    names = [lay.name for lay in cfg.layers]
    if cfg.mesh.features and cfg.run.dimension == 1:
        problems.append(("mesh.features", "lateral features need dimension 2 or 3; remove them or set run.dimension"))
    for j, feat in enumerate(cfg.mesh.features):
        key = f"mesh.features.{j}"
        if feat.layer not in names:
            problems.append((f"{key}.layer", f"no layer named '{feat.layer}'; use one of {', '.join(names)}"))
        elif feat.layer == names[-1]:
            problems.append((f"{key}.layer", "a feature protrudes into the layer above; the top layer has none "
                             "(add a vacuum layer on top)"))
        else:
            above = cfg.layers[names.index(feat.layer) + 1]
            if feat.height_nm >= above.thickness_nm:
                problems.append((f"{key}.height_nm", f"must be smaller than the thickness of layer "
                                 f"'{above.name}' above it ({above.thickness_nm} nm)"))
        if feat.type == "island" and feat.width_nm is None:
            problems.append((f"{key}.width_nm", "an island needs width_nm"))
        if feat.type == "island" and cfg.run.dimension == 3 and feat.depth_nm is None:
            problems.append((f"{key}.depth_nm", "a 3D island needs depth_nm"))
        x = feat.x_nm if feat.x_nm is not None else cfg.mesh.width_nm / 2
        half = (feat.width_nm or 0.0) / 2
        if not (0.0 < x - half and x + half < cfg.mesh.width_nm):
            problems.append((f"{key}.x_nm", f"the feature must lie inside 0 < x < width_nm = {cfg.mesh.width_nm}"))
    if cfg.mesh.file is not None and not Path(cfg.mesh.file).is_file():
        problems.append(("mesh.file", f"cannot read '{cfg.mesh.file}'; give an existing Gmsh .msh file"))
    return problems


def _physics_checks(cfg: Config) -> list[tuple[str, str]]:
    """Switches this version cannot solve."""
    problems: list[tuple[str, str]] = []
    if cfg.physics.mechanics and cfg.run.dimension == 1:
        problems.append(("physics.mechanics", "linear elasticity needs run.dimension = 2 or 3 (in 1D "
                         "the strain of each layer is its residual misfit, see [strain])"))
    for switch in NOT_IMPLEMENTED_PHYSICS:
        if getattr(cfg.physics, switch):
            problems.append((f"physics.{switch}", "not implemented yet in this version; set it to false"))
    if not cfg.physics.electrostatics:
        problems.append(("physics.electrostatics", "the potential is always solved in this version; "
                         "set it to true"))
    return problems


def _vector_checks(cfg: Config) -> list[tuple[str, str]]:
    """Displacement and traction vectors have one component per dimension."""
    problems: list[tuple[str, str]] = []
    for name, bc in cfg.boundary.items():
        for key in ("displacement_nm", "traction_GPa"):
            vec = getattr(bc, key)
            if vec is not None and len(vec) != cfg.run.dimension:
                problems.append((f"boundary.{name}.{key}", f"give {cfg.run.dimension} components "
                                 "(x, [y,] z)"))
    return problems


def _mechanics_problems(cfg: Config, materials) -> list[tuple[str, str]]:
    """Elastic constants of every solid layer, electrostriction all or none, and rollers only
    on the axis-aligned outer sides (what solver/physics/mechanics.py needs)."""
    from heterofem.solver.physics.mechanics import ELASTIC_KEYS, ELECTROSTRICTION_KEYS

    problems: list[tuple[str, str]] = []
    for lay in cfg.solid_layers:
        mat = materials[lay.material]
        lacking = [k for k in ELASTIC_KEYS if not mat.has(k)]
        if lacking:
            problems.append((f"materials.{lay.material}.{lacking[0]}", f"mechanics needs the "
                             f"elastic constants {', '.join(lacking)} [GPa] of layer '{lay.name}'; "
                             "add them as { value, unit, source }"))
        given = [k for k in ELECTROSTRICTION_KEYS if mat.has(k)]
        if given and len(given) < len(ELECTROSTRICTION_KEYS):
            missing = [k for k in ELECTROSTRICTION_KEYS if k not in given]
            problems.append((f"materials.{lay.material}.{missing[0]}", f"give all of "
                             f"{', '.join(ELECTROSTRICTION_KEYS)} [m^4/C^2] or none (layer "
                             f"'{lay.name}' has only {', '.join(given)})"))
    outer = [f for f in cfg.facet_names() if "/" not in f]
    for name, bc in cfg.boundary.items():
        if bc.mechanics == "roller" and name not in outer:
            problems.append((f"boundary.{name}.mechanics", "a roller needs an axis-aligned outer "
                             f"side ({', '.join(outer)}); use fixed, free, displacement or "
                             "traction here"))
    return problems


def _phase_material_problems(cfg: Config, materials) -> list[tuple[str, str]]:
    """What the phase field reads from the amorphous material (unless [crystallization]
    overrides it), and the deposited delta its pO2 law gives."""
    sec = cfg.crystallization
    name = sec.amorphous_material
    am = materials[name]
    problems: list[tuple[str, str]] = []
    overrides = {"interface_energy": sec.interface_energy_J_m2,
                 "crystallization_driving_force": sec.driving_force_J_m3,
                 "front_mobility_M0": sec.mobility_M0_m3_J_s,
                 "front_mobility_Ea": sec.mobility_Ea_eV}
    needs = [k for k, v in overrides.items() if v is None]
    if cfg.physics.vacancies:
        needs += list(VACANCY_KEYS)
    dep = sec.deposition
    if dep is not None and dep.pO2_mTorr is not None:
        needs += ["nonstoichiometry_delta_ref", "nonstoichiometry_pO2_ref",
                  "nonstoichiometry_exponent"]
    for key in needs:
        if not am.has(key):
            problems.append((f"materials.{name}.{key}", "the crystallization (amorphous material "
                             f"'{name}') needs it; add it with value, unit and source"))
    if not problems and dep is not None and dep.pO2_mTorr is not None:
        delta = deposition_delta(am, dep.pO2_mTorr)
        if not (math.isfinite(delta) and 0.0 < delta < 2.0):
            problems.append(("crystallization.deposition.pO2_mTorr", f"the non-stoichiometry "
                             f"law of '{name}' gives delta = {delta:g} at this pO2, outside "
                             "0 < delta < 2; give delta directly or check the law's parameters"))
    return problems


def _work_function_problems(cfg: Config, materials) -> list[tuple[str, str]]:
    problems = []
    if cfg.layers[-1].material != "vacuum":
        problems.append(("workfunction.enabled", "the work function needs a vacuum layer on top "
                         "of the stack; add one or set enabled = false"))
        return problems
    top = cfg.boundary.get("top")
    if top is not None and top.phi_V is not None:
        problems.append(("boundary.top.phi_V", "the work function needs a free top facet (the "
                         "vacuum level floats); remove phi_V there or set workfunction.enabled "
                         "= false"))
    solid = cfg.solid_layers
    needs = [solid[-1]] + ([solid[0]] if cfg.workfunction.band_alignment != "none" else [])
    for lay in needs:
        if not materials[lay.material].has("work_function"):
            problems.append((f"materials.{lay.material}.work_function",
                             "the work-function output needs it; give it (eV) with a source"))
    return problems


def _lattice_problems(cfg: Config, materials) -> list[tuple[str, str]]:
    """The misfit needs lattice constants of the substrate and of every coherent layer."""
    problems = []
    solid = [lay for lay in cfg.layers if lay.material != "vacuum"]
    needs = [solid[0]] + [lay for lay in solid[1:] if lay.coherent] if len(solid) > 1 else []
    for lay in needs:
        for key in ("a_lattice", "c_lattice"):
            if not materials[lay.material].has(key):
                problems.append((f"materials.{lay.material}.{key}",
                                 f"the epitaxial misfit of layer '{lay.name}' needs it; give the "
                                 "lattice constant, or set the layer's coherent = false"))
    return problems


def _crystallization_checks(cfg: Config) -> list[tuple[str, str]]:
    section, problems = cfg.crystallization, []
    used = section.layers or section.deposition is not None
    if not cfg.physics.crystallization:
        if used:
            problems.append(("physics.crystallization", "a [crystallization] table needs "
                             "[physics] crystallization = true"))
        return problems
    names = [lay.name for lay in cfg.layers]
    if not section.layers:
        problems.append(("crystallization.layers", "name the layer(s) the phase field lives in, "
                         "e.g. layers = [\"film\"]"))
    for i, name in enumerate(section.layers):
        if name not in names:
            problems.append((f"crystallization.layers.{i}", f"no layer '{name}'; layers are {names}"))
    if problems:
        return problems
    from heterofem.solver.materials import known_material_names

    if section.amorphous_material not in set(known_material_names()) | set(cfg.materials):
        problems.append(("crystallization.amorphous_material", f"unknown material "
                         f"'{section.amorphous_material}'; see `heterofem materials` (or define it "
                         "under [materials.<name>])"))
    idx = sorted(names.index(n) for n in section.layers)
    if idx != list(range(idx[0], idx[-1] + 1)):
        problems.append(("crystallization.layers", "the crystallizing layers must be adjacent"))
    if section.seed not in (None, "none") and section.seed not in cfg.facet_names():
        problems.append(("crystallization.seed", f"no facet '{section.seed}'; facets are "
                         f"{cfg.facet_names()} or \"none\""))
    if section.seed is None and idx[0] == 0 and section.initial_front_nm is None:
        problems.append(("crystallization.seed", "the lowest crystallizing layer is the bottom "
                         "layer: name a seed facet, or set seed = \"none\""))
    dep = section.deposition
    if dep is not None:
        if idx[-1] != len(names) - 1 and cfg.layers[idx[-1] + 1].material != "vacuum":
            problems.append(("crystallization.deposition", "the growing layer must be the top solid "
                             "layer"))
        top = cfg.layers[idx[-1]]
        if dep.initial_thickness_nm >= top.thickness_nm:
            problems.append(("crystallization.deposition.initial_thickness_nm", "must be smaller "
                             f"than the thickness of layer '{top.name}' ({top.thickness_nm} nm), "
                             "which is the final deposited thickness"))
        if dep.delta is not None or dep.pO2_mTorr is not None:
            for i, lay in enumerate(cfg.layers):
                if lay.name in section.layers and lay.delta is not None:
                    problems.append((f"layers.{i}.delta", "the deposition sets this layer's delta "
                                     "(crystallization.deposition.delta or pO2_mTorr): remove one"))
    if cfg.time is None:
        problems.append(("time", "crystallization is a transient: add a [time] table"))
    return problems


#: material parameters the vacancy transport reads (solver/physics/vacancies.py)
VACANCY_KEYS = ("oxygen_site_density", "vacancy_formation_energy", "vacancy_D0_a",
                "vacancy_Ea_a", "vacancy_D0_c", "vacancy_Ea_c")


def _vacancy_checks(cfg: Config, materials) -> list[tuple[str, str]]:
    """Vacancy boundary conditions, initial state, material data and time stepping;
    ``materials``: the resolved materials (those with problems left out)."""
    problems: list[tuple[str, str]] = []
    vac_keys = [(name, bc) for name, bc in cfg.boundary.items()
                if bc.vacancy != "blocking" or bc.pO2 is not None or bc.mu_eV is not None]
    if not cfg.physics.vacancies:
        for name, _ in vac_keys:
            problems.append((f"boundary.{name}.vacancy", "vacancy boundary conditions need "
                             "[physics] vacancies = true"))
        return problems
    vacuum = {lay.name for lay in cfg.layers if lay.material == "vacuum"}
    for name, bc in vac_keys:
        if "/" in name and not set(name.split("/")) & vacuum:
            problems.append((f"boundary.{name}.vacancy", "vacancy conditions apply on outer facets "
                             "and on surfaces facing vacuum only (interfaces keep mu continuous)"))
    for i, lay in enumerate(cfg.layers):
        if lay.material != "vacuum" and lay.delta is None and cfg.initial.mu_eV is None \
                and not _deposition_sets_delta(cfg, lay.name):
            problems.append((f"layers.{i}.delta", "the initial vacancy content is undefined: give "
                             "this layer a delta, or set [initial] mu_eV for a uniform start"))
    for lay in cfg.layers:
        mat = materials.get(lay.material)
        if mat is None or lay.material == "vacuum":
            continue
        for key in VACANCY_KEYS:
            if not mat.has(key):
                problems.append((f"materials.{lay.material}.{key}",
                                 f"vacancies need it in layer '{lay.name}'; add it with value, "
                                 "unit and source"))
    if any(bc.vacancy == "gas" for bc in cfg.boundary.values()) \
            and not 100.0 <= cfg.run.temperature_K <= 2000.0:
        problems.append(("run.temperature_K", "gas exchange uses O2 data for 100-2000 K; choose a "
                         "temperature in that range"))
    open_bc = any(bc.vacancy in ("gas", "fixed_mu") for bc in cfg.boundary.values())
    if cfg.time is None and not open_bc:
        problems.append(("time", "a steady vacancy solve with only blocking boundaries has no "
                         "unique answer; add a [time] table (transient) or a gas/fixed_mu facet"))
    return problems


def _time_checks(cfg: Config) -> list[tuple[str, str]]:
    """The step sizes and output times of a transient fit its end time."""
    problems: list[tuple[str, str]] = []
    t = cfg.time
    if t is None:
        return problems
    if t.dt_initial_s > t.end_s:
        problems.append(("time.dt_initial_s", "must not exceed end_s"))
    if t.dt_min > t.dt_initial_s:
        problems.append(("time.dt_min_s", "must not exceed dt_initial_s"))
    if t.dt_max < t.dt_min:
        problems.append(("time.dt_max_s", "must not be below dt_min_s (default dt_initial_s "
                         "x 1e-6)"))
    for j, to in enumerate(t.output_times_s):
        if to > t.end_s:
            problems.append((f"time.output_times_s.{j}", f"{to} s is after end_s = {t.end_s} s"))
    return problems


def _deposition_sets_delta(cfg: Config, layer: str) -> bool:
    """Whether [crystallization.deposition] gives the layer's delta (without computing it:
    :meth:`Config.deposited_delta` needs the amorphous material's data, checked elsewhere)."""
    dep = cfg.crystallization.deposition
    return (cfg.physics.crystallization and dep is not None
            and layer in cfg.crystallization.layers
            and (dep.delta is not None or dep.pO2_mTorr is not None))


def validate_data(data: dict[str, Any], source: str = "config") -> Config:
    """Validate a config dictionary; raise :class:`ConfigError` with every problem found.

    One pass: the schema errors, then the cross-checks on what passed the schema (those that
    read a failing value are skipped; see :func:`_partial_config`)."""
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        problems = _pydantic_problems(exc)
        partial, bad = _partial_config(data, exc)
        if partial is not None:
            reported = {key for key, _ in problems}
            problems.extend(p for p in _cross_checks(partial, bad) if p[0] not in reported)
        raise ConfigError(problems) from None
    problems = _cross_checks(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read, override (``--set``) and validate a TOML config."""
    data = read_toml(path)
    data = copy.deepcopy(data)
    problems = apply_overrides(data, list(overrides or []))
    if problems:
        raise ConfigError(problems)
    mesh = data.get("mesh")
    if isinstance(mesh, dict) and isinstance(mesh.get("file"), str):
        # a relative mesh file is relative to the config file
        candidate = Path(path).parent / mesh["file"]
        if not Path(mesh["file"]).is_absolute() and candidate.is_file():
            mesh["file"] = str(candidate.resolve())
    return validate_data(data, str(path))


def to_toml_dict(cfg: Config) -> dict[str, Any]:
    """The resolved config (defaults filled in) as a TOML-writable dict (None dropped)."""
    return _drop_none(cfg.model_dump(mode="json"))


def _drop_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_none(v) for v in obj]
    return obj
