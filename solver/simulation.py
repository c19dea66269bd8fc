"""The Python API: a :class:`Simulation` is one configured problem you can change, check, run
and read back without the command line; :class:`Model` is its in-memory finite-element model.

    sim = Simulation.from_toml("problems/tio2_vo2_tio2_001_1d.toml",
                               set={"layers.1.thickness_nm": 3.0})
    thin = sim.with_({"run.temperature_K": 600.0})    # a changed copy
    sim.validate()                                    # every pre-solve check (heterofem validate)
    sim.run(out="results/thin")                       # heterofem run: the same run directory
    sim.summary["vacancies"]                          # summary.json
    sim.fields["phi_V"]                               # final fields (pyvista grid, fields.pvd)
    model = sim.build()                               # mesh -> Domain -> physics -> problem

The three constructors take the same inputs as the CLI: a TOML file, the dict it would hold, or
a validated :class:`~heterofem.solver.config.Config`. ``set`` overrides keys by their dotted
names exactly like ``--set`` (``layers.1.thickness_nm``, ``layers.film.delta``,
``boundary.top.phi_V``); values are Python values (numbers, strings, bools, lists; a dict sets
each of its keys). Bad input raises :class:`~heterofem.solver.config.ConfigError` naming every
bad key, before anything is meshed or written.

:meth:`Simulation.run` is :func:`heterofem.solver.run.run_case` (the run directory's lock,
``overwrite`` and ``restart``, errors: ``SolveError`` after writing a summary with
``converged = false``); ``heterofem run`` and ``heterofem sweep`` go through it.
:meth:`Simulation.build` gives what a run solves, in memory and without files, for tests and
studies that look inside (assemble a residual, swap a module, solve step by step).

DOLFINx is imported only when a model is built or run.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import tomli_w

from heterofem.solver.config import Config, ConfigError, apply_overrides, to_toml_dict
from heterofem.solver.validation import load_config, validate_data

#: what ``set=`` takes: {dotted key: value}, or CLI-style "dotted.key=value" strings
Overrides = Mapping[str, Any] | Iterable[str] | str | None


def override_strings(changes: Overrides) -> list[str]:
    """``set=`` as the CLI's ``--set`` strings: ``{"layers.1.thickness_nm": 3}`` ->
    ``["layers.1.thickness_nm=3"]``. A dict value sets each of its keys
    (``{"boundary.top": {"phi_V": 1}}`` -> ``boundary.top.phi_V=1``); strings ``"key=value"``
    pass through (their value read as TOML, like ``--set``). Raises :class:`ConfigError` for a
    value TOML cannot hold (None, objects)."""
    if changes is None:
        return []
    if isinstance(changes, str):
        return [changes]
    if not isinstance(changes, Mapping):
        return [str(item) for item in changes]
    out: list[str] = []
    problems: list[tuple[str, str]] = []
    for key, value in changes.items():
        if isinstance(value, Mapping):
            out += override_strings({f"{key}.{k}": v for k, v in value.items()})
            continue
        try:
            text = tomli_w.dumps({"v": value})  # 'v = <TOML value>\n'
        except TypeError:
            problems.append((str(key), f"{value!r} is not a TOML value; give a number, string, "
                                       "bool, list or dict"))
            continue
        out.append(f"{key}={text[len('v = '):].strip()}")
    if problems:
        raise ConfigError(problems)
    return out


class Simulation:
    """One configured problem: change it, check it, run it, read its results.

    Build it with :meth:`from_toml`, :meth:`from_dict` or :meth:`from_config`; the constructor
    validates the config (the schema and its cross-checks, like ``heterofem validate`` before
    the mesh and PETSc checks of :meth:`validate`).

    Attributes: ``config`` (the validated :class:`Config`), ``source`` (the TOML file or
    ``None``), ``out`` (the run directory of the last :meth:`run`, ``None`` before).
    """

    def __init__(self, config: Config, *, path: str | os.PathLike | None = None,
                 data: dict | None = None, overrides: list[str] | None = None):
        # the recipe (file or dict, plus --set strings) is kept so that with_() re-applies the
        # changes to the input, not to the resolved config (defaults follow the new values)
        self.config = config
        self.source = Path(path) if path is not None else None
        self._data = data
        self._overrides = list(overrides or [])
        self._checked = False  # validate() has passed (run() checks once)
        self.out: Path | None = None
        self._summary: dict | None = None

    # -- constructors --------------------------------------------------------------------------
    @classmethod
    def from_toml(cls, path: str | os.PathLike, set: Overrides = None) -> Simulation:
        """Read a TOML config, apply ``set`` (dotted keys, like ``--set``), validate. A relative
        ``mesh.file`` is relative to the config file."""
        overrides = override_strings(set)
        return cls(load_config(path, overrides), path=path, overrides=overrides)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], set: Overrides = None) -> Simulation:
        """Validate a config dict (the TOML file's content; ``data`` is not changed), with
        ``set`` applied first."""
        data = copy.deepcopy(dict(data))
        overrides = override_strings(set)
        return cls(_validated(data, overrides), data=data, overrides=overrides)

    @classmethod
    def from_config(cls, config: Config) -> Simulation:
        """Wrap a :class:`Config` as it is (no second validation: a config built with
        ``Config.model_validate``, which skips the cross-checks, stays as built)."""
        return cls(config, data=to_toml_dict(config))

    def with_(self, changes: Overrides = None, /, **more: Any) -> Simulation:
        """A copy with some keys changed: ``sim.with_({"layers.1.thickness_nm": 3.0})`` or
        ``sim.with_(**{"run.temperature_K": 600.0})``; the same keys and values as ``set``.
        The copy is validated again (a config file is read again) and has no results."""
        added = override_strings(changes) + override_strings(more)
        overrides = self._overrides + added
        if self.source is not None:
            return type(self).from_toml(self.source, overrides)
        return type(self)(_validated(self._data, overrides), data=self._data,
                          overrides=overrides)

    def __repr__(self) -> str:
        cfg = self.config
        where = f" from {self.source}" if self.source else ""
        layers = ", ".join(f"{lay.name} ({lay.material})" for lay in cfg.layers)
        return (f"Simulation('{cfg.run.name}'{where}: {cfg.run.dimension}D, {layers}"
                + (f"; ran in {self.out}" if self.out else "") + ")")

    # -- checking and running ------------------------------------------------------------------
    def validate(self, allow_petsc_output: bool = False, petsc: bool = True) -> Simulation:
        """Every check that needs no solve, as ``heterofem validate``: the schema and its
        cross-checks (again, for a config given to :meth:`from_config`), then the mesh size
        budget and the PETSc options (:func:`heterofem.solver.preflight.preflight`; the PETSc
        check makes a trial solve on a coarse mesh when the config has options). Raises
        :class:`ConfigError` listing every problem; returns ``self``."""
        from heterofem.solver.preflight import preflight

        validate_data(to_toml_dict(self.config))
        preflight(self.config, allow_petsc_output=allow_petsc_output, petsc=petsc)
        self._checked = True
        return self

    def run(self, out: str | os.PathLike, overwrite: bool = False, restart: bool = False, *,
            comm=None, command_line: list[str] | None = None,
            check: bool = True) -> Simulation:
        """Solve into the run directory ``out`` (what ``heterofem run CONFIG --out DIR``
        writes; ``overwrite`` replaces an earlier run there, ``restart`` continues its
        transient from the newest checkpoint). Collective over ``comm`` (default: all MPI
        ranks). ``check``: run :meth:`validate` first (once; the CLI has already checked).

        Returns ``self``, now holding the results: :attr:`summary` (returned by the run),
        :attr:`fields`, :attr:`profiles` and :attr:`result` (read from ``out`` on first use).
        A failed solve raises :class:`~heterofem.solver.coupling.SolveError` after writing its
        summary (``converged = false``), which :attr:`summary` then reads.
        """
        from heterofem.solver.dolfinx_env import MPI
        from heterofem.solver.run import run_case

        comm = MPI.COMM_WORLD if comm is None else comm
        if check and not self._checked:
            self.validate()
        self.out, self._summary = Path(out), None
        self.__dict__.pop("result", None)
        self._summary = run_case(self.config, self.out, comm, overwrite=overwrite,
                                 command_line=command_line, restart=restart)
        comm.barrier()  # rank 0 wrote the small files: every rank may read them from here on
        return self

    # -- results -------------------------------------------------------------------------------
    @cached_property
    def result(self):
        """The last run's directory as a :class:`heterofem.postprocess.Run` (``.summary``,
        ``.profiles``, ``.timeseries``, ``.fields(time)``, ``.times``; read on first use)."""
        from heterofem.postprocess import load_run

        return load_run(self._run_dir())

    @property
    def summary(self) -> dict:
        """summary.json of the last run (converged, the physics' scalars, timings, ...)."""
        if self._summary is not None:
            return self._summary
        return self.result.summary

    @property
    def fields(self):
        """The final fields of the last run: a ``pyvista.UnstructuredGrid`` read from the last
        step of fields.pvd (MPI pieces merged), with point data for the continuous fields
        (``grid["phi_V"]``) and cell data for cell-wise ones (``layer_id``); coordinates in
        nm, z first in 1D, (x, z) in 2D. Needs ``[output] fields = true`` (the default).
        Other times: ``sim.result.fields(time=t)``; lines: ``sim.profiles``."""
        return self.result.fields()

    @property
    def profiles(self) -> dict:
        """profiles.csv of the last run: ``z_nm``, ``layer`` and every field along z through
        the lateral centre (numpy arrays)."""
        return self.result.profiles

    def _run_dir(self) -> Path:
        if self.out is None:
            raise RuntimeError("no results yet: call run(out=...) first")
        return self.out

    # -- in memory -----------------------------------------------------------------------------
    def build(self, comm=None, *, stack=None, transient: bool | None = None) -> Model:
        """The in-memory model of this config, built lazily (see :class:`Model`); nothing is
        written. ``stack``: reuse a mesh (:class:`heterofem.meshes.StackMesh`) instead of
        meshing; ``transient``: the problem's time terms (default: as a run decides)."""
        return Model(self.config, comm, stack=stack, transient=transient)


def _validated(data: dict, overrides: list[str]) -> Config:
    """Apply ``overrides`` to a copy of ``data`` and validate it (ConfigError on problems)."""
    data = copy.deepcopy(data)
    problems = apply_overrides(data, overrides)
    if problems:
        raise ConfigError(problems)
    return validate_data(data)


class Model:
    """What a run solves, built in memory in the data flow's order: ``stack`` (the mesh with
    its layer and facet tags), ``materials``, ``domain`` (:class:`heterofem.solver.domain.Domain`),
    ``modules`` (the active physics), ``problem`` (the
    :class:`~heterofem.solver.coupling.CoupledProblem`). Each part is made on first access
    and kept, so a test can change the domain before the problem is made, or make physics
    modules of its own from ``domain`` without the coupled problem. The problem is made as a
    run makes it (with its initial state solved) except that the modules' ``start`` (which
    records initial inventories) waits for :meth:`solve`.
    """

    def __init__(self, config: Config, comm=None, *, stack=None, transient: bool | None = None):
        from heterofem.solver.dolfinx_env import MPI

        self.config = config
        self.comm = MPI.COMM_WORLD if comm is None else comm
        if stack is not None:
            self.__dict__["stack"] = stack
        from heterofem.solver.physics.registry import steady_by_continuation

        pseudo = steady_by_continuation(config)
        #: a steady run with e.g. polarization is solved by pseudo-time continuation (as
        #: run_case does)
        self.pseudo_transient = bool(pseudo) and transient is None
        self.transient = (config.time is not None or bool(pseudo)) if transient is None \
            else transient

    @cached_property
    def stack(self):
        from heterofem.meshes import create_stack_mesh

        return create_stack_mesh(self.config.stack_geometry(), self.comm)

    @property
    def mesh(self):
        return self.stack.mesh

    @cached_property
    def materials(self) -> dict:
        from heterofem.solver.materials import resolve_materials

        return resolve_materials(self.config)

    @cached_property
    def domain(self):
        from heterofem.solver.domain import Domain

        return Domain(self.config, self.stack, self.materials)

    @cached_property
    def modules(self) -> list:
        from heterofem.solver.coupling import active_physics

        return active_physics(self.domain)

    @cached_property
    def problem(self):
        from heterofem.solver.coupling import CoupledProblem

        return CoupledProblem(self.domain, self.modules, transient=self.transient)

    def solve(self) -> dict:
        """The steady solve of a run (Newton; pseudo-time continuation for a steady
        polarization config), after the modules' ``start``; returns each module's summary
        ({module name: scalars}, as in summary.json). A transient config is run with
        :meth:`Simulation.run` (its time loop writes as it goes)."""
        if self.config.time is not None:
            raise ValueError("a transient config ([time]): use Simulation.run for its time loop")
        problem = self.problem
        for m in self.modules:
            m.start(problem.u)
        if self.pseudo_transient:
            from heterofem.solver.coupling import continuation_dt
            from heterofem.solver.stepping import pseudo_transient

            pseudo_transient(problem, dt0=continuation_dt(self.modules))
        else:
            problem.solve()
        return self.summary()

    def summary(self) -> dict:
        """Each module's summary of the current state ({module name: scalars})."""
        return {m.name: m.summary(self.problem.u) for m in self.modules}
