"""Build the monolithic problem from the active physics modules and solve it with SNES.

Each unknown gets its own function space; residual terms are summed per equation across the
modules (a dict keyed by unknown name), and the Jacobian is derived by UFL. One unknown gives
a plain :class:`dolfinx.fem.petsc.NonlinearProblem`; several give a blocked one.
"""

from __future__ import annotations

import contextlib
import logging

import basix.ufl
import numpy as np
import ufl

from heterofem.solver.config import Config
from heterofem.solver.dolfinx_env import MPI, PETSc, dolfinx
from heterofem.solver.domain import Domain
from heterofem.solver.physics.base import History, Physics
from heterofem.solver.units import K_B_EV

log = logging.getLogger("heterofem")

#: SNES/KSP defaults: Newton with backtracking, LU (MUMPS) for the linear steps. Anything in
#: [solver.petsc_options] overrides these; PETSc command-line options under the prefix add
#: options not set here (e.g. -heterofem_snes_monitor), they cannot override these keys.
DEFAULT_PETSC_OPTIONS = {
    "snes_type": "newtonls",
    "snes_linesearch_type": "bt",
    "ksp_type": "preonly",
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
}

PREFIX = "heterofem_"

#: Chebyshev smoother bounds of every GAMG preconditioner, unless the options set them:
#: (min, max) = (0.1, 1.2) x the largest eigenvalue estimated by PETSc (its default is 1.1).
#: The estimate (a few Krylov iterations per level) comes out low on some levels of the
#: mu block's Picard matrix (mobility varying over decades) when it is partitioned: the
#: smoother then amplifies the highest modes. Measured (benchmarks/scaling.py --solver picard,
#: 86194 dofs, 2 ranks): GMRES hit 500 iterations in 6 of 15 steps with 1.1; none with 1.2,
#: and 10 steps, 44 Newton iterations on 1 and on 2 ranks alike.
GAMG_CHEBYSHEV_ESTEIG = "0,0.1,0,1.2"


class SolveError(RuntimeError):
    """A solve that did not converge (the message names the reason and what to try)."""


def active_physics(domain: Domain) -> list[Physics]:
    """The physics modules the config switches on, in coupling order."""
    from heterofem.solver.physics.electrostatics import Electrostatics
    from heterofem.solver.physics.polarization import Polarization
    from heterofem.solver.physics.vacancies import Vacancies

    modules: list[Physics] = []
    if domain.cfg.physics.electrostatics:
        modules.append(Electrostatics(domain))
    if domain.cfg.physics.vacancies:
        vac = Vacancies(domain)
        modules[0].extra_charge.append(lambda u: vac.charge_density(vac.c_state(u)))
        modules.append(vac)
    if domain.cfg.physics.polarization:
        modules.append(Polarization(domain))
    if domain.cfg.physics.mechanics:
        from heterofem.solver.physics.mechanics import Mechanics
        from heterofem.solver.strain import layer_strains

        strains = layer_strains(domain.cfg, domain.materials)
        modules.append(Mechanics(domain, misfit={n: (s.strain_x, s.strain_y)
                                                 for n, s in strains.items()}))
    if domain.cfg.physics.crystallization:
        from heterofem.solver.physics.crystallization import Crystallization

        modules.append(Crystallization(domain, vacancies=vac if domain.cfg.physics.vacancies
                                       else None, electrostatics=modules[0]))
    return modules


class CoupledProblem:
    """The monolithic problem: spaces, state, residual, boundary conditions, SNES.

    With ``transient=True`` it also holds the two previous states and the BDF constants that
    :class:`heterofem.solver.stepping.Stepper` updates.
    """

    def __init__(self, domain: Domain, modules: list[Physics], transient: bool = False):
        self.domain = domain
        self.modules = {m.name: m for m in modules}
        unknowns = [uk for m in modules for uk in m.unknowns()]
        self.spaces = {
            uk.name: dolfinx.fem.functionspace(
                domain.mesh, basix.ufl.element("Lagrange", domain.mesh.basix_cell(), uk.degree,
                                               shape=uk.shape))
            for uk in unknowns
        }
        self.names = list(self.spaces)
        self.u = {name: dolfinx.fem.Function(V, name=name) for name, V in self.spaces.items()}
        self.v = {name: ufl.TestFunction(V) for name, V in self.spaces.items()}
        self.time_scale_s = next((m.time_scale_s for m in modules if m.time_scale_s), 1.0)
        self.history = None
        if transient:
            mesh = domain.mesh
            self.history = History(
                old={n: dolfinx.fem.Function(V, name=f"{n}_old") for n, V in self.spaces.items()},
                older={n: dolfinx.fem.Function(V, name=f"{n}_older") for n, V in self.spaces.items()},
                dt=dolfinx.fem.Constant(mesh, 1.0),
                a=tuple(dolfinx.fem.Constant(mesh, v) for v in (1.0, -1.0, 0.0)),
                time_scale_s=self.time_scale_s,
                mesh=mesh,
            )
        #: residual terms per module and equation (kept apart for the initial-state solve)
        self.terms = {m.name: m.residual(self.u, self.v, self.history) for m in modules}
        self.residual: dict[str, ufl.Form] = {}
        for terms in self.terms.values():
            for eq, form in terms.items():
                self.residual[eq] = self.residual[eq] + form if eq in self.residual else form
        #: factors whole equations are multiplied by (conditioning; see Physics.equation_scales)
        self.scales = {eq: 1.0 for eq in self.names}
        for m in modules:
            for eq, factor in m.equation_scales().items():
                self.scales[eq] *= factor
        self.residual = {eq: self.scales[eq] * F for eq, F in self.residual.items()}
        missing = set(self.spaces) - set(self.residual)
        if missing:
            raise RuntimeError(f"no equation for unknown(s) {sorted(missing)}")
        self.bcs = {name: [] for name in self.names}
        for m in modules:
            for name, bcs in m.dirichlet(self.spaces).items():
                self.bcs[name].extend(bcs)
        self._problem = None
        self.set_initial_state()

    # -- state ----------------------------------------------------------------------------------
    def set_initial_state(self) -> None:
        """Initial values: each module's own, then for vacancies the potential of the initial
        vacancy charge and the mu that reproduces it (see Vacancies.initial_mu)."""
        for m in self.modules.values():
            m.initialise(self.u)
        vac = self.modules.get("vacancies")
        if vac is None:
            return
        phi = self.u["phi"]
        F0 = self.scales["phi"] * (self.terms["electrostatics"]["phi"]
                                   + vac.initial_phi_terms(phi, self.v["phi"]))
        self._solve_potential(F0, phi, "init_",
                              "the initial potential (Poisson with the initial vacancies)")
        mu0 = vac.initial_mu(self.spaces["mu"], phi)
        self.u["mu"].x.array[:] = mu0.x.array
        for bc in self.bcs["mu"]:
            bc.set(self.u["mu"].x.array)

    def potential_without(self, excluded: str) -> dolfinx.fem.Function:
        """The potential with one module's charges removed, everything else frozen at the
        current state (e.g. the potential without the polarization's bound charge)."""
        phi = self.u["phi"]
        ref = dolfinx.fem.Function(phi.function_space, name="phi_ref")
        ref.x.array[:] = phi.x.array
        F = sum(terms["phi"] for name, terms in self.terms.items()
                if name != excluded and "phi" in terms)
        F = self.scales["phi"] * ufl.replace(F, {phi: ref})
        self._solve_potential(F, ref, "ref_", f"the potential without {excluded}")
        return ref

    def _solve_potential(self, F: ufl.Form, phi: dolfinx.fem.Function, prefix: str,
                         what: str) -> None:
        """A single-field Newton solve of F for phi (the Dirichlet conditions of the phi
        space: a DirichletBC belongs to the space, so it applies to any function on it)."""
        opts = self.petsc_options(self.domain.cfg, single_field=True)
        with petsc_options_set(PREFIX + prefix, opts):
            problem = dolfinx.fem.petsc.NonlinearProblem(
                F, phi, bcs=self.bcs["phi"], petsc_options_prefix=PREFIX + prefix,
                petsc_options=opts)
            problem.solve()
        _check(problem.solver, what)

    def snapshot(self) -> dict[str, np.ndarray]:
        return {n: f.x.array.copy() for n, f in self.u.items()}

    def restore(self, snap: dict[str, np.ndarray]) -> None:
        for n, arr in snap.items():
            self.u[n].x.array[:] = arr

    # -- solving --------------------------------------------------------------------------------
    def petsc_options(self, cfg: Config, single_field: bool = False) -> dict:
        """SNES/KSP options: defaults, then [solver.petsc_options].

        A field split (``pc_type = "fieldsplit"`` with ``fieldsplit_<unknown>_*`` options) is
        for the coupled problem; the single-field solves (initial and reference potentials)
        then use GAMG instead.
        """
        opts = dict(DEFAULT_PETSC_OPTIONS)
        opts.update(
            snes_rtol=cfg.solver.rtol, snes_atol=cfg.solver.atol, snes_max_it=cfg.solver.max_it
        )
        opts.update(cfg.solver.petsc_options)
        if opts.get("pc_type") != "lu" and "pc_factor_mat_solver_type" not in cfg.solver.petsc_options:
            opts.pop("pc_factor_mat_solver_type", None)  # only the default LU uses it
        if (cfg.solver.preconditioner == "picard" and opts.get("pc_type") == "fieldsplit"
                and opts.get("pc_fieldsplit_type") != "schur"):
            # the Picard matrix has no off-diagonal blocks (preconditioner_forms): the split's
            # coupling terms come from the exact Jacobian (fewer Krylov iterations, measured)
            opts.setdefault("pc_fieldsplit_off_diag_use_amat", True)
        if single_field and opts.get("pc_type") == "fieldsplit":
            opts = {k: v for k, v in opts.items()
                    if not k.startswith(("pc_fieldsplit", "fieldsplit_"))}
            opts["pc_type"] = "gamg"
        for key, value in list(opts.items()):  # the PC itself or a split's block
            if key.endswith("pc_type") and value == "gamg":
                opts.setdefault(key[: -len("pc_type")] + "mg_levels_ksp_chebyshev_esteig",
                                GAMG_CHEBYSHEV_ESTEIG)
        return opts

    def split_index_sets(self) -> list[tuple[str, PETSc.IS]]:
        """(name, index set) of each unknown in the blocked system (DOLFINx gives a blocked
        matrix none): each rank owns the fields' dofs one after another."""
        spaces = [self.spaces[n] for n in self.names]
        sizes = [V.dofmap.index_map.size_local * V.dofmap.index_map_bs for V in spaces]
        comm = self.domain.comm
        offset = comm.exscan(sum(sizes)) or 0
        splits = []
        for name, n in zip(self.names, sizes):
            splits.append((name, PETSc.IS().createGeneral(
                np.arange(offset, offset + n, dtype=PETSc.IntType), comm=comm)))
            offset += n
        return splits

    def _install_fieldsplit(self, snes) -> None:
        """The unknowns' index sets, named after them, so that ``fieldsplit_phi_pc_type =
        "gamg"`` etc. reach the right block."""
        snes.getKSP().getPC().setFieldSplitIS(*self.split_index_sets())

    def _picard_active(self) -> bool:
        return (self.domain.cfg.solver.preconditioner == "picard" and "mu" in self.names
                and len(self.names) > 1)

    def _diagonal_split(self) -> bool:
        """Whether the PETSc options ask for a field split that reads only the diagonal blocks
        of the preconditioning matrix (additive or (symmetric) multiplicative: they take their
        residual updates from the operator, PETSc's Afield rows of Amat)."""
        opts = self.petsc_options(self.domain.cfg)
        return opts.get("pc_type") == "fieldsplit" and opts.get("pc_fieldsplit_type") != "schur"

    def _picard_parts(self):
        """The mu equation split for the Picard preconditioner: (flux, rest, frozen), where
        ``flux`` is the form of the terms with grad(mu), their grad(mu) written with the
        stand-in ``frozen`` (so that differentiating by mu reaches only the mobility, and by
        ``frozen`` only grad(mu)), and ``rest`` the other terms (storage, exchange)."""
        from ufl.corealg.map_dag import map_expr_dag
        from ufl.corealg.multifunction import MultiFunction

        mu = self.u["mu"]
        frozen = dolfinx.fem.Function(mu.function_space, name="mu_grad")  # stands in for grad's mu

        class _GradOfMu(MultiFunction):
            expr = MultiFunction.reuse_if_untouched

            def grad(self, o, *ops):
                if o.ufl_operands[0] == mu:
                    return ufl.grad(frozen)
                return self.reuse_if_untouched(o, *ops)

        def summands(e):
            return (summands(e.ufl_operands[0]) + summands(e.ufl_operands[1])
                    if isinstance(e, ufl.classes.Sum) else [e])

        flux, rest = [], []
        for itg in self.residual["mu"].integrals():
            for term in summands(itg.integrand()):
                swapped = map_expr_dag(_GradOfMu(), term)
                if swapped != term:
                    flux.append(itg.reconstruct(integrand=swapped))
                else:
                    rest.append(itg.reconstruct(integrand=term))
        return ufl.Form(flux), ufl.Form(rest), frozen

    def _derivative(self, form: ufl.Form, wrt, du, frozen) -> ufl.Form | None:
        """d form / d wrt in direction du, the stand-in then set back to mu (None if zero)."""
        if not form.integrals():
            return None
        d = ufl.algorithms.expand_derivatives(ufl.derivative(form, wrt, du))
        d = ufl.replace(d, {frozen: self.u["mu"]})
        return d if d.integrals() else None

    def _picard_entry(self, parts, name: str) -> ufl.Form | None:
        """The Picard matrix's (mu, name) block from :meth:`_picard_parts`: the derivative of
        the non-flux terms, plus on the diagonal the flux's derivative through grad(mu) only."""
        flux, rest, frozen = parts
        du = ufl.TrialFunction(self.spaces[name])
        terms = [self._derivative(rest, self.u[name], du, frozen)]
        if name == "mu":
            terms.append(self._derivative(flux, frozen, du, frozen))
        terms = [f for f in terms if f is not None]
        return sum(terms[1:], terms[0]) if terms else None

    def preconditioner_forms(self) -> list[list[ufl.Form]] | None:
        """The preconditioning matrix's block forms (``solver.preconditioner``).

        "exact": None (the Jacobian preconditions itself). "picard": the Jacobian with the
        coefficients of grad(mu) held fixed in the mu rows (the vacancy mobility, exponential
        in mu and phi, is not differentiated): the mu block is then storage + a
        mobility-weighted Laplacian, an M-matrix that GAMG handles, where the exact block has
        a convection-like part (dM/dmu) grad(mu) that defeats AMG, SOR and ILU. Newton still
        uses the exact Jacobian, so the answer and the Newton iterations are unchanged; the
        Krylov solver pays for the difference (tens of iterations). A field split other than
        Schur's reads only the diagonal blocks: the off-diagonal ones are not built then (and
        :meth:`picard_split` builds the matrix without a second assembly of the phi block)."""
        if not self._picard_active():
            return None
        parts = self._picard_parts()
        P = self._exact_jacobian()
        row = self.names.index("mu")
        for j, name in enumerate(self.names):
            P[row][j] = self._picard_entry(parts, name)
        if self._diagonal_split():  # the off-diagonal blocks would be assembled for nothing
            for i in range(len(P)):
                for j in range(len(P)):
                    if i != j:
                        P[i][j] = None
        return P

    def picard_split(self) -> tuple[ufl.Form, ufl.Form] | None:
        """The exact mu-mu Jacobian block as (Picard block, remainder), for a field split that
        reads only diagonal blocks (:meth:`_diagonal_split`), else None.

        The remainder is the mobility's derivative, (dM/dmu) du grad(mu) . grad(v); the
        Picard block is the rest. Assembling the Picard block into the preconditioning matrix,
        copying it into the Jacobian's mu-mu block and adding the remainder there gives both
        matrices for the cost of the Jacobian and one block's copy: the mobility's average is
        not evaluated twice, and the phi block is shared (:class:`_NestedPicardJacobian`;
        measured in benchmarks/README.md)."""
        if not (self._picard_active() and self._diagonal_split()):
            return None
        parts = self._picard_parts()
        flux, _, frozen = parts
        mu = self.u["mu"]
        remainder = self._derivative(flux, mu, ufl.TrialFunction(mu.function_space), frozen)
        picard = self._picard_entry(parts, "mu")
        if remainder is None or picard is None:
            return None
        return picard, remainder

    @property
    def problem(self) -> dolfinx.fem.petsc.NonlinearProblem:
        if self._problem is None:
            single = len(self.names) == 1
            bcs = [bc for n in self.names for bc in self.bcs[n]]
            opts = self.petsc_options(self.domain.cfg)
            if self._picard_active() and opts.get("ksp_type") == "preonly":
                log.warning("solver.preconditioner = \"picard\" with ksp_type = \"preonly\": "
                            "the linear step is the Picard step, Newton loses its quadratic "
                            "convergence; use a Krylov solver (ksp_type = \"gmres\") with the "
                            "field split")
            split = None if single else self.picard_split()
            exact_bcs = None
            self._problem = self._nonlinear_problem(bcs, split)
            if not single:
                try:
                    exact_bcs = _assemble_blockwise(self._problem, bcs, split_remainder=(
                        (self.names.index("mu"), split[1], self._exact_jacobian())
                        if split else None), lag_preconditioner=_lag(opts),
                        index_sets=[iset for _, iset in self.split_index_sets()])
                except (AttributeError, ImportError, TypeError) as exc:
                    # another DOLFINx than the pinned 0.11 (conda, container): keep its own
                    # callbacks, which pack every block at once (more memory, same results),
                    # and with the Picard preconditioner a matrix of its own (the split's
                    # Jacobian lacks the remainder that only the callbacks here add)
                    log.debug("block-by-block assembly not available (%s)", exc)
                    if split is not None:
                        self._problem = self._nonlinear_problem(bcs, None)
            if not single and opts.get("pc_type") == "fieldsplit":
                self._install_fieldsplit(self._problem.solver)
            cap = self.max_update()
            if cap or exact_bcs:
                self._problem.solver.setLineSearchPreCheck(_precheck(cap, exact_bcs))
        return self._problem

    def _exact_jacobian(self) -> list[list[ufl.Form]]:
        return dolfinx.fem.forms.derivative_block([self.residual[n] for n in self.names],
                                                  [self.u[n] for n in self.names])

    def _nonlinear_problem(self, bcs, split) -> dolfinx.fem.petsc.NonlinearProblem:
        """DOLFINx's NonlinearProblem of the coupled residual; with ``split`` (picard_split)
        the Jacobian's mu-mu block is the Picard block (_assemble_blockwise adds the rest)."""
        single = len(self.names) == 1
        F = self.residual[self.names[0]] if single else [self.residual[n] for n in self.names]
        u = self.u[self.names[0]] if single else [self.u[n] for n in self.names]
        J = P = None
        if split is not None:
            J = self._exact_jacobian()
            row = self.names.index("mu")
            J[row][row] = split[0]
        else:
            P = self.preconditioner_forms()
        opts = self.petsc_options(self.domain.cfg)
        with petsc_options_set(PREFIX, opts):
            return dolfinx.fem.petsc.NonlinearProblem(
                F, u, bcs=bcs, petsc_options_prefix=PREFIX, petsc_options=opts,
                kind=None if single else "mpi", J=J, P=P)

    def max_update(self) -> float:
        """Largest Newton update of a potential [V or eV] (0: no limit).

        Where concentrations depend exponentially on the potentials, a full Newton step from a
        distant iterate can overshoot by many kT; semiconductor codes limit the update to a
        few kT per iteration, and so does heterofem (``solver.max_update_kT``, default 10 when
        vacancies or electrons are on).
        """
        cfg = self.domain.cfg
        n_kT = cfg.solver.max_update_kT
        if n_kT is None:
            n_kT = 10.0 if (cfg.physics.vacancies or cfg.physics.electrons != "none") else 0.0
        return n_kT * K_B_EV * cfg.run.temperature_K

    def solve(self) -> int:
        """Newton solve; returns the iteration count, raises :class:`SolveError` on failure
        (including a solution that is not finite)."""
        problem = self.problem
        if self.history is not None:
            self.history.update()
        for name, bcs in self.bcs.items():  # the iterate starts on the Dirichlet values exactly
            for bc in bcs:
                bc.set(self.u[name].x.array)
        try:
            # the options again for the solve: a field split's sub-solvers read theirs when
            # the preconditioner is set up (petsc_options_set)
            with petsc_options_set(PREFIX, self.petsc_options(self.domain.cfg)):
                problem.solve()
        except PETSc.Error as exc:  # e.g. a failed factorisation: treat as a failed solve
            raise SolveError(f"PETSc error {exc.ierr} in the linear solve of the coupled "
                             "problem (singular or non-finite Jacobian?)") from None
        its = _check(problem.solver, "the coupled problem")
        finite = all(np.isfinite(f.x.array).all() for f in self.u.values())
        if not self.domain.comm.allreduce(finite, op=MPI.LAND):
            raise SolveError("the Newton iterate is not finite (NaN or Inf)")
        log.debug("Newton converged in %d iteration(s)", its)
        return its


#: Called with {option key: whether PETSc read it} as each :func:`petsc_options_set` block
#: ends, before the options are removed (the preflight's trial solve, solver/petsc_check.py,
#: finds the options PETSc never read).
OPTION_USE_OBSERVERS: list = []


@contextlib.contextmanager
def petsc_options_set(prefix: str, options: dict):
    """``options`` in PETSc's global options database under ``prefix`` while the block runs,
    removed afterwards.

    DOLFINx 0.11's NonlinearProblem sets its options and means to delete them after
    ``setFromOptions``, but petsc4py's ``del`` ignores the pushed prefix: they stayed, and every
    later problem with the same prefix in the process inherited them (a lagged preconditioner
    set for one run made a later MUMPS run of a test session inexact). A field split's
    sub-solvers read their options only when the preconditioner is set up, inside the solve:
    so the solve runs inside this block too."""
    db = PETSc.Options()
    names = [f"{prefix}{key}" for key in options]
    for name, value in zip(names, options.values()):
        db[name] = value
    try:
        yield
    finally:
        for observe in OPTION_USE_OBSERVERS:
            observe({key: db.used(name) for key, name in zip(options, names)})
        for name in names:
            db.delValue(name)


class _PackOnDemand:
    """Packed coefficients for DOLFINx's blocked assemblers, one block at a time.

    ``dolfinx.fem.petsc`` packs the coefficients of every block of a blocked form before it
    assembles the first one: an array of (cells x all coefficient dofs of the form) per
    integral and block, ~480 MiB for the coupled Jacobian at 1e6 unknowns (2D P1), and that
    was the peak memory of a Newton iteration. Handed this object as ``coeffs``, the
    assemblers pack a block (matrix: ``coeffs[i][j]``; vector: iterating; lifting:
    ``coeffs[i]``, one row) when they reach it, and the block before is released first.
    Same arrays, same assembly: only the lifetime changes."""

    def __init__(self, forms, nested: bool = False):
        self.forms, self.nested, self._last = forms, nested, []

    def _pack(self, form):
        for packed in self._last:  # the assembler is done with it
            packed.clear()
        packed = dolfinx.fem.pack_coefficients(form)
        self._last = packed if isinstance(packed, list) else [packed]
        return packed

    def __len__(self):
        return len(self.forms)

    def __getitem__(self, i):
        if self.nested:
            return _PackOnDemandRow(self, self.forms[i])
        return self._pack(self.forms[i])

    def __iter__(self):
        return (self[i] for i in range(len(self.forms)))


class _PackOnDemandRow:
    def __init__(self, owner: _PackOnDemand, row):
        self.owner, self.row = owner, row

    def __getitem__(self, j):
        return self.owner._pack(self.row[j])


def _lag(opts: dict) -> int:
    """``snes_lag_preconditioner`` of the options when it is a plain lag (> 1), else 1 (the
    preconditioner is rebuilt at every Jacobian: -1, -2, a lag that persists across solves and
    options we cannot read count as 1; a wrong 1 only costs the unneeded matrix)."""
    if str(opts.get("snes_lag_preconditioner_persists", "false")).lower() not in ("false", "0", "no"):
        return 1
    try:
        lag = int(opts.get("snes_lag_preconditioner", 1))
    except (TypeError, ValueError):
        return 1
    return lag if lag > 1 else 1


def _assemble_blockwise(problem, bcs, split_remainder=None, lag_preconditioner: int = 1,
                        index_sets=None):
    """Replace the SNES callbacks of a blocked (kind="mpi") NonlinearProblem by the same
    assembly (``dolfinx.fem.petsc.assemble_residual`` / ``assemble_jacobian``) with the
    coefficients packed block by block (:class:`_PackOnDemand`). Returns the line-search
    pre-check step that keeps the Dirichlet values exact.

    ``split_remainder`` = (row, form, exact) (:meth:`CoupledProblem.picard_split`): the
    problem's Jacobian has the Picard block in the (row, row) place and ``form`` is the rest
    of the exact block; ``exact`` is the exact Jacobian's UFL blocks, compiled when first
    needed (the residual's lifting, an iterate off its Dirichlet values). The matrices are
    then nested (:class:`_NestedPicardJacobian`, ``index_sets``: each unknown's global rows).
    Without it, a Jacobian of scalar unknowns on one rank with no separate preconditioning
    matrix is assembled through CSR blocks (:class:`_BlockedCSR`), anything else as DOLFINx
    does."""
    from dolfinx.fem import bcs_by_block, extract_function_spaces
    from dolfinx.fem.petsc import apply_lifting, assemble_matrix, assemble_vector, assign, set_bc

    snes, u = problem.solver, problem.u
    F, J, P = problem.F, problem.J, problem.preconditioner
    blocks = problem.b.getAttr("_blocks")
    bcs0 = bcs_by_block(extract_function_spaces(F), bcs)
    bcs1 = bcs_by_block(extract_function_spaces(J, 1), bcs)
    INSERT, ADD = PETSc.InsertMode.INSERT, PETSc.InsertMode.ADD
    FORWARD, REVERSE = PETSc.ScatterMode.FORWARD, PETSc.ScatterMode.REVERSE
    #: the exact Jacobian's compiled forms (the residual's lifting, the reused iterations)
    exact_jacobian = [J]
    nested = None
    if split_remainder is not None:
        row, remainder, exact = split_remainder
        exact_jacobian = [None]

    def exact_jacobian_forms():
        if exact_jacobian[0] is None:
            exact_jacobian[0] = dolfinx.fem.form(exact)
        return exact_jacobian[0]

    if split_remainder is not None:
        nested = _NestedPicardJacobian(J, row, remainder, exact_jacobian_forms, bcs,
                                       index_sets, lag_preconditioner, problem.A.getComm())
    blocked = None
    if (nested is None and P is None and problem.A.getComm().getSize() == 1
            and all(f.function_spaces[k].dofmap.index_map_bs == 1
                    for row in J for f in row if f is not None for k in (0, 1))):
        blocked = _BlockedCSR(J)  # scalar unknowns on one rank (vector ones: PETSc's path)
        cpp_bcs = [bc._cpp_object for bc in bcs]

    scratch = problem.b.duplicate()
    scratch.setAttr("_blocks", blocks)

    def _satisfies_bcs(x) -> bool:
        """Whether x equals the Dirichlet values on every constrained dof (all ranks): after
        the first Newton iteration it does, since updates are zero there."""
        with scratch.localForm() as loc:
            loc.set(0.0)
        set_bc(scratch, bcs0, x0=x, alpha=-1.0)  # x - g on the constrained dofs, 0 elsewhere
        return scratch.norm(PETSc.NormType.INFINITY) == 0.0

    def residual(_snes, x, b):
        x.ghostUpdate(addv=INSERT, mode=FORWARD)
        assign(x, u)
        b.setAttr("_blocks", blocks)
        x.setAttr("_blocks", blocks)
        with b.localForm() as loc:
            loc.set(0.0)
        assemble_vector(b, F, coeffs=_PackOnDemand(F))
        if not _satisfies_bcs(x):  # else the lifting J (g - x) is zero: skip its assembly
            J_lift = exact_jacobian_forms()
            apply_lifting(b, J_lift, bcs=bcs1, x0=x, alpha=-1.0, coeffs=_PackOnDemand(J_lift))
        b.ghostUpdate(addv=ADD, mode=REVERSE)
        set_bc(b, bcs0, x0=x, alpha=-1.0)
        b.ghostUpdate(addv=INSERT, mode=FORWARD)

    def jacobian(snes_, x, A, P_mat):
        x.ghostUpdate(addv=INSERT, mode=FORWARD)
        assign(x, u)
        if nested is not None:
            nested.assemble(snes_.getIterationNumber())
            return
        if blocked is not None:
            blocked.assemble(cpp_bcs)
            return
        for mat, forms in ((A, J), (P_mat, P)):
            if forms is None:
                continue
            mat.zeroEntries()
            assemble_matrix(mat, forms, bcs, diag=1.0, coeffs=_PackOnDemand(forms, nested=True))
            mat.assemble()

    def exact_bcs(x, y) -> None:
        """Newton update on the constrained dofs set to exactly x - g (a Krylov solve gives it
        only to its tolerance): the iterate then keeps the Dirichlet values to the last bit,
        and the residual can skip its lifting (_satisfies_bcs)."""
        y.setAttr("_blocks", blocks)
        set_bc(y, bcs0, x0=x, alpha=-1.0)

    snes.setFunction(residual, problem.b)
    A, P_mat = (nested.A, nested.P) if nested is not None else \
        (blocked.mat, None) if blocked is not None else (problem.A, problem.P_mat)
    snes.setJacobian(jacobian, A, P_mat)
    if A is not problem.A:
        # the blocked matrix DOLFINx made is not used: its memory goes, ours takes its place
        problem.A.destroy()
        problem._A = A
    return exact_bcs


class _BlockedCSR:
    """The blocked Jacobian on one rank, assembled block by block into DOLFINx CSR matrices and
    written into the PETSc matrix's value array (which it shares, ``createAIJWithArrays``) at
    precomputed positions: no PETSc MatSetValues (the row search and the local sub-matrix's
    index mapping), as for :class:`_MatrixBlock`. Blocks of the same sparsity share one CSR
    matrix (one block's values at a time); the positions cost 4 bytes per nonzero. Scalar
    unknowns only (a vector space's CSR matrix holds blocks)."""

    def __init__(self, J):
        n = len(J)
        spaces = [next(f for f in J[i] if f is not None).function_spaces[0] for i in range(n)]
        sizes = [V.dofmap.index_map.size_local * V.dofmap.index_map_bs for V in spaces]
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        self.J, self._scratch, self.entries = J, {}, []
        counts = [[None] * n for _ in range(n)]
        for i in range(n):
            for j in range(n):
                if J[i][j] is None:
                    continue
                csr = dolfinx.fem.create_matrix(J[i][j])
                key = (csr.indptr.tobytes(), csr.indices.tobytes())
                csr = self._scratch.setdefault(key, csr)  # one matrix per distinct sparsity
                counts[i][j] = np.diff(csr.indptr[: sizes[i] + 1])
                self.entries.append([i, j, csr, None])
        row_nnz = [sum(c for c in counts[i] if c is not None) for i in range(n)]
        indptr = np.concatenate([[0], np.cumsum(np.concatenate(row_nnz))]).astype(PETSc.IntType)
        indices = np.empty(indptr[-1], dtype=PETSc.IntType)
        for entry in self.entries:
            i, j, csr, _ = entry
            before = sum(counts[i][k] for k in range(j) if counts[i][k] is not None)
            start = indptr[offsets[i]: offsets[i] + sizes[i]] + before  # the block's first slot
            c = counts[i][j]
            nnz = int(csr.indptr[sizes[i]])
            pos = np.repeat(start - csr.indptr[: sizes[i]], c) + np.arange(nnz)
            entry[3] = pos.astype(PETSc.IntType)
            indices[entry[3]] = csr.indices[:nnz] + offsets[j]
        self.values = np.zeros(indptr[-1])
        N = int(offsets[-1])
        self.mat = PETSc.Mat().createAIJWithArrays((N, N), (indptr, indices, self.values),
                                                   comm=spaces[0].mesh.comm)

    def assemble(self, bcs) -> None:
        from dolfinx import cpp as _cpp

        for i, j, csr, pos in self.entries:
            form = self.J[i][j]
            csr.data[:] = 0.0
            _cpp.fem.assemble_matrix(csr._cpp_object, form._cpp_object,
                                     dolfinx.fem.pack_constants(form),
                                     dolfinx.fem.pack_coefficients(form), bcs)
            if i == j:
                _cpp.fem.insert_diagonal(csr._cpp_object, form.function_spaces[0], bcs, 1.0)
            self.values[pos] = csr.data[: pos.size]
        self.mat.assemble()


class _NestedPicardJacobian:
    """The Jacobian and the Picard preconditioning matrix of a diagonal field split, as PETSc
    nests of the blocks (``index_sets``: each unknown's global rows, the field split's).

    A = [[J_ij]] with J_rr = the Picard block + ``remainder`` (row r: mu); P = diag(J_ii with
    the Picard block at r). Nothing is assembled twice: the Picard block is assembled into P
    and copied into J_rr, which the remainder completes, and P's other diagonal blocks are
    copies of A's. The field split takes its blocks from the nests without copying them (a
    monolithic matrix made it extract copies of P's diagonal blocks and A's off-diagonal rows
    at every set-up, and P was a copy of all of A). Each block is assembled on its own
    (:class:`_MatrixBlock`).

    At the Newton iterations whose preconditioner PETSc reuses (``lag`` > 1: SNES rebuilds it
    when the iteration number is a multiple of the lag) P is not read and stays as it was
    (its blocks are copies, not A's own: the reused GAMG hierarchies, and their smoothers'
    eigenvalue bounds, stay those of the matrices they were built from), and J_rr is assembled
    with the exact form in one pass instead of the Picard block, the copy and the remainder's
    pass."""

    def __init__(self, J, row: int, remainder: ufl.Form, exact_forms, bcs, index_sets,
                 lag: int, comm):
        self.J, self.row, self.exact_forms, self.lag = J, row, exact_forms, lag
        self.bcs = [bc._cpp_object for bc in bcs]
        n = len(J)
        self.blocks = [[None if J[i][j] is None else _MatrixBlock(J[i][j]) for j in range(n)]
                       for i in range(n)]
        #: P's diagonal: the Picard block in row r, copies of A's blocks elsewhere
        self.diagonal = [_MatrixBlock(J[i][i]) for i in range(n)]
        self.picard = self.diagonal[row]
        self._picard_built = False
        diagonal = [[self.diagonal[i].mat if i == j else None for j in range(n)]
                    for i in range(n)]
        self.A = PETSc.Mat().createNest([[None if b is None else b.mat for b in blocks]
                                         for blocks in self.blocks],
                                        isrows=index_sets, iscols=index_sets, comm=comm)
        self.P = PETSc.Mat().createNest(diagonal, isrows=index_sets, iscols=index_sets,
                                        comm=comm)
        self.remainder = dolfinx.fem.form(remainder)

    def assemble(self, iteration: int) -> None:
        r = self.row
        reused = self._picard_built and iteration % self.lag
        for i, row in enumerate(self.blocks):
            for j, block in enumerate(row):
                if block is not None and (i, j) != (r, r):
                    block.assemble(self.J[i][j], self.bcs)
        J_rr = self.blocks[r][r]
        if reused:  # P is not read: the exact block in one pass
            J_rr.assemble(self.exact_forms()[r][r], self.bcs)
        else:
            self.picard.assemble(self.J[r][r], self.bcs)
            first = not self._picard_built
            if first:  # J_rr gets the pattern to copy into
                J_rr.assemble(self.J[r][r], self.bcs)
            self._picard_built = True
            J_rr.copy_from(self.picard)
            J_rr.assemble(self.remainder, self.bcs, add=True)
            for i, block in enumerate(self.diagonal):
                if i != r:
                    if first:  # the pattern, as for J_rr
                        block.assemble(self.J[i][i], self.bcs)
                    block.copy_from(self.blocks[i][i])
            self.P.assemble()
        self.A.assemble()


class _MatrixBlock:
    """One block of a nest: a PETSc matrix with the sparsity of its form.

    On one rank it is a DOLFINx CSR matrix whose arrays the PETSc matrix shares: DOLFINx then
    adds each cell's entries at their positions in the rows, where PETSc's MatSetValues (the
    path of every PETSc matrix) searched the rows and cost about a fifth of the Jacobian's
    assembly (perf, benchmarks/README.md). On several ranks DOLFINx assembles into a PETSc
    matrix (its ghost rows go to their owners in PETSc's assembly)."""

    def __init__(self, form):
        from dolfinx.fem.petsc import create_matrix

        self.csr = None
        if form.mesh.comm.size == 1:
            self.csr = dolfinx.fem.create_matrix(form)
            V0, V1 = form.function_spaces
            shape = tuple(V.dofmap.index_map.size_local * V.dofmap.index_map_bs for V in (V0, V1))
            self.mat = PETSc.Mat().createAIJWithArrays(
                shape, (self.csr.indptr.astype(PETSc.IntType), self.csr.indices, self.csr.data),
                comm=form.mesh.comm)
        else:
            self.mat = create_matrix(form)

    def assemble(self, form, bcs, add: bool = False) -> None:
        """``form`` assembled into the block (rows and columns of Dirichlet dofs skipped; a
        diagonal block gets 1 on their diagonal), or with ``add`` added to it (no diagonal)."""
        from dolfinx import cpp as _cpp

        target = self.mat if self.csr is None else self.csr._cpp_object
        module = _cpp.fem.petsc if self.csr is None else _cpp.fem
        if not add:
            if self.csr is None:
                self.mat.zeroEntries()
            else:
                self.csr.data[:] = 0.0
        module.assemble_matrix(target, form._cpp_object, dolfinx.fem.pack_constants(form),
                               dolfinx.fem.pack_coefficients(form), bcs)
        if not add and form.function_spaces[0] is form.function_spaces[1]:
            if self.csr is None:  # PETSc: added values flushed before the diagonal is set
                self.mat.assemble(PETSc.Mat.AssemblyType.FLUSH)
            module.insert_diagonal(target, form.function_spaces[0], bcs, 1.0)
        self.mat.assemble()

    def copy_from(self, other: "_MatrixBlock") -> None:
        """The values of a block with the same sparsity (from the same form, both assembled
        at least once: PETSc's copy needs the pattern)."""
        if self.csr is not None:
            self.csr.data[:] = other.csr.data
            self.mat.assemble()
            return
        other.mat.copy(self.mat, structure=PETSc.Mat.Structure.SAME_NONZERO_PATTERN)


def _precheck(cap: float, exact_bcs=None):
    """A line-search pre-check: the update shortened so that no component changes by more
    than ``cap`` (0: no limit; the direction is kept, so it stays a descent direction), then
    the exact update on the Dirichlet dofs (``exact_bcs``)."""

    def precheck(x, y):
        if cap:
            biggest = y.norm(PETSc.NormType.INFINITY)
            if biggest > cap:
                y.scale(cap / biggest)
        if exact_bcs is not None:
            exact_bcs(x, y)

    return precheck


def _check(snes, what: str) -> int:
    reason = snes.getConvergedReason()
    its = snes.getIterationNumber()
    if reason <= 0:
        raise SolveError(
            f"Newton did not converge for {what} ({_reason_name(reason)}, {its} iterations, "
            f"residual {snes.getFunctionNorm():.3e}); check the boundary conditions, or pass "
            "PETSc options under [solver.petsc_options] (e.g. snes_monitor = \"\")"
        )
    return its


def _reason_name(reason: int) -> str:
    names = {v: k for k, v in vars(PETSc.SNES.ConvergedReason).items() if isinstance(v, int)}
    return names.get(reason, str(reason))
