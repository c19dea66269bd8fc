"""The run configuration's schema: the pydantic models of every TOML section and the
:class:`Config` they make up, with the geometry derived from it.

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

A model validates single values and single sections; what needs several sections, the
materials or a physics is checked in :mod:`heterofem.solver.validation`. The mesher gets
:meth:`Config.stack_geometry`, not the config.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

# the facet naming is the mesher's; the config names its [boundary.<facet>] keys by it
from heterofem.meshes.geometry import FeatureSpec, StackGeometry, interface_name  # noqa: F401

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


class AdaptSection(_Strict):
    """``[mesh.adapt]``: adaptive meshes for fronts and walls (solver/adapt.py, issue #25).
    Every ``every_steps`` accepted time steps the mesh is rebuilt from the base mesh (the
    ``[mesh]`` sizes), refined up to ``max_levels`` times where the Kelly indicator of the
    ``fields`` exceeds ``refine_fraction`` of its largest value (coarse again where a front
    has passed); the state and its history move onto the new mesh with the vacancy
    inventory of each layer conserved and the phase field kept in [0, 1]."""

    #: remesh after every N accepted time steps
    every_steps: Annotated[int, Field(ge=1)] = 5
    #: refinement levels above the base mesh (each halves the marked cells' edges)
    max_levels: Annotated[int, Field(ge=1, le=6)] = 2
    #: unknowns whose indicator drives the refinement, e.g. ["xi"], ["P"], ["mu"]
    fields: Annotated[list[str], Field(min_length=1)]
    #: a cell is refined when its indicator exceeds this fraction of the largest one
    refine_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1
    #: rings of neighbouring cells refined around the marked ones (room for the front to move)
    buffer_cells: Annotated[int, Field(ge=0, le=4)] = 1


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
    #: the mesher: "auto" (structured for flat layers, Gmsh with features or mesh.file),
    #: "structured" (DOLFINx tensor grid graded towards the interfaces, meshes/structured.py)
    #: or "gmsh"
    generator: Literal["auto", "structured", "gmsh"] = "auto"
    #: uniform refinements of the distributed mesh, in parallel, after meshing at the sizes
    #: above (each halves every edge: 2^dim x the cells; meshes/refine.py, docs/cluster.md)
    refine_levels: Annotated[int, Field(ge=0, le=6)] = 0
    #: adaptive refinement at fronts and walls (presence enables it; solver/adapt.py)
    adapt: AdaptSection | None = None

    @model_validator(mode="after")
    def _adapt_alone(self) -> MeshSection:
        if self.adapt is not None and self.refine_levels > 0:
            raise ValueError("refine_levels > 0 together with [mesh.adapt] is not supported: "
                             "the adaptive mesh refines the base mesh itself (raise "
                             "mesh.adapt.max_levels instead); set refine_levels = 0")
        return self

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
    #: and with crystallization, quadrature at transport_quadrature_degree) or "quadrature";
    #: "fitted": the exponentially fitted edge flux (solver/fitted_flux.py: an M-matrix
    #: Jacobian for AMG, lumped mass; P1 simplices in 1D/2D/3D, also with crystallization
    #: and interface kinetics)
    vacancy_flux: Literal["exact", "quadrature", "fitted"] = "exact"


class StrainSection(_Strict):
    """Epitaxial strain of coherent layers and its relaxation with thickness, computed per
    in-plane direction x, y of the lab frame from a misfit-dislocation energy balance
    (solver/strain.py, docs/model.md "Strain"): the critical thickness and the retained
    misfit are outputs, never inputs.

    law = "coherent": the full misfit at any thickness; "people_bean": the People-Bean
    energy balance (nucleation-limited); "matthews_blakeslee": the Matthews-Blakeslee
    equilibrium. The Burgers vectors come from the lattice constants, the Poisson ratios
    from the elastic constants of the film.
    """

    law: Literal["coherent", "people_bean", "matthews_blakeslee"] = "coherent"

    @model_validator(mode="before")
    @classmethod
    def _no_typed_relaxation(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        typed = [k for k in ("critical_thickness_x_nm", "critical_thickness_y_nm",
                             "relaxation_width_x_nm", "relaxation_width_y_nm") if k in data]
        if typed:
            raise ValueError(f"{', '.join(typed)}: a typed critical thickness or relaxation "
                             "width is no longer accepted (issue #22); remove it and set law = "
                             "\"people_bean\" (or \"matthews_blakeslee\"), which computes h_c "
                             "and the retained misfit per direction from the Burgers vectors and "
                             "elastic constants (summary.json: strain.<layer>)")
        if data.get("law") in ("exponential", "inverse"):
            raise ValueError(f"law = \"{data['law']}\" (a typed relaxation law) was removed "
                             "(issue #22); use law = \"people_bean\" or \"matthews_blakeslee\" "
                             "(computed from the misfit dislocations), or \"coherent\"")
        return data


class InterfaceSection(_Strict):
    """One ordered pair of materials ``[interfaces."A|B"]`` (polarization): applied on every
    facet between a layer of A and a layer of B, with the normal pointing from A into B
    (solver/physics/polarization.py, docs/model.md "Interfaces")."""

    #: interface field h [V]: a surface energy -h P.n_AB, n_AB the unit normal from A into
    #: B; positive favours P pointing from A into B
    interface_field_V: float | None = None
    #: extrapolation length of the surface energy (g / (2 lambda)) |P|^2 [nm]
    polar_extrapolation_nm: Annotated[float, Field(gt=0.0)] | None = None
    #: vacancy transfer across the interface (solver/physics/interface_kinetics.py,
    #: docs/model.md "Interface kinetics"): a finite rate makes mu jump there; without it the
    #: interface is in local equilibrium (mu continuous). Rate constant k0 [m/s] of
    #: k = k0 exp(-Ea/kT); 0 blocks the interface
    vacancy_rate_k0_m_per_s: Annotated[float, Field(ge=0.0)] | None = None
    #: activation energy of the transfer rate [eV]
    vacancy_rate_Ea_eV: Annotated[float, Field(ge=0.0)] | None = None
    #: flux law: "butler_volmer" J = 2 k c_s sinh(Delta mu / 2kT), or its linearisation
    #: "linear" J = k c_s Delta mu / kT (c_s: the two sides' geometric-mean concentration);
    #: default "butler_volmer" where a rate is given
    vacancy_kinetics: Literal["linear", "butler_volmer"] | None = None


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
    #: gas exchange law: "mass_action" J.n = k c [1 - exp(-(mu - mu_gas)/kT)] (the surface
    #: reaction's rate), or "linear" (k c / kT)(mu - mu_gas), its near-equilibrium form
    exchange_law: Literal["mass_action", "linear"] = "mass_action"
    #: polarization: interface field, a surface energy -h P.e_z on this facet [V = J/m^2 per
    #: C/m^2]; positive favours P along +z (from the lower into the upper layer)
    polar_bias_V: float | None = None
    #: polarization: extrapolation length of the surface energy (g / (2 lambda)) P^2 [nm]
    polar_extrapolation_nm: Annotated[float, Field(gt=0.0)] | None = None
    #: mechanics: None = the module's default (bottom fixed, lateral sides roller, top and
    #: interfaces free); "displacement" with displacement_nm, "traction" with traction_GPa
    mechanics: Literal["fixed", "roller", "free", "displacement", "traction"] | None = None
    displacement_nm: list[float] | None = None
    traction_GPa: list[float] | None = None

    @model_validator(mode="before")
    @classmethod
    def _removed_polar_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "polar_bias_follows_strain" in data:
            raise ValueError("polar_bias_follows_strain was removed (issue #22): the interface "
                             "field now comes from the flexoelectric coupling to the solved "
                             "strain step (material keys flexo_coupling_a / flexo_coupling_c) "
                             "and from the per-material-pair table [interfaces.\"A|B\"] "
                             "(interface_field_V, polar_extrapolation_nm); remove the key")
        return data

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
        if self.exchange_law != "mass_action" and self.vacancy != "gas":
            raise ValueError("exchange_law needs vacancy = \"gas\" on this facet (gas exchange)")
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
    #: preconditioner differs. "auto" (default): MUMPS LU with "exact" for small problems;
    #: from a measured size per coupling (solver/petsc_policy.py's AUTO_SPLITS: vacancy +
    #: Poisson and crystallization; polarization + strain + Poisson stays MUMPS) the field
    #: split with GAMG (no [solver.petsc_options] needed; any ksp_/pc_ option of yours turns
    #: the switch off)
    preconditioner: Literal["auto", "exact", "picard"] = "auto"
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
    #: per ordered material pair "A|B" (polarization interface terms)
    interfaces: dict[str, InterfaceSection] = {}
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

    @property
    def solid_layers(self) -> list[Layer]:
        return [lay for lay in self.layers if lay.material != "vacuum"]

    def stack_geometry(self) -> StackGeometry:
        """What the mesher needs (:class:`heterofem.meshes.geometry.StackGeometry`): the layers
        and thicknesses, the lateral extent, the features and the cell sizes of [mesh]."""
        mesh = self.mesh
        return StackGeometry(
            dimension=self.run.dimension,
            layers=tuple((lay.name, lay.thickness_nm) for lay in self.layers),
            width_nm=mesh.width_nm, depth_nm=mesh.depth_nm,
            features=tuple(FeatureSpec(**feat.model_dump()) for feat in mesh.features),
            size_nm=mesh.size_nm, interface_size_nm=mesh.interface_size_nm,
            refine_distance_nm=mesh.refine_distance_nm, file=mesh.file,
            max_cells=mesh.max_cells, generator=mesh.generator,
            refine_levels=mesh.refine_levels)

    @property
    def total_thickness_nm(self) -> float:
        return self.stack_geometry().total_thickness_nm

    def layer_bounds_nm(self) -> list[tuple[float, float]]:
        """(z_bottom, z_top) of every layer, bottom to top."""
        return self.stack_geometry().layer_bounds_nm()

    def interface_names(self) -> list[str]:
        return self.stack_geometry().interface_names()

    def facet_names(self) -> list[str]:
        """Every named facet set the built-in mesher creates for this config."""
        return self.stack_geometry().facet_names()

    def layer(self, name: str) -> Layer:
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise KeyError(name)



def to_toml_dict(cfg: Config) -> dict[str, Any]:
    """The resolved config (defaults filled in) as a TOML-writable dict (None dropped)."""
    return _drop_none(cfg.model_dump(mode="json"))


def _drop_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_none(v) for v in obj]
    return obj
