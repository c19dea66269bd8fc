"""Check ``[solver.petsc_options]`` before anything is meshed or written.

PETSc reports a bad option only when the solver reads it, deep inside a run: an unknown
``ksp_type`` or an unparsable ``snes_max_it = "lots"`` ended in a petsc4py traceback after the
run directory was made, and a misspelt key (``ksp_tpye``) was never read and silently ignored.
:func:`petsc_option_problems` finds these up front, as ``(dotted key, message)`` pairs:

1. options that write files (a viewer with a file name, ``ksp_view = ":out.txt"``, binary,
   HDF5 or VTK viewers, ``log_view``, ``viewer_*``) unless ``--allow-petsc-output``;
2. ``*_type`` values of the objects PETSc has registries for (KSP, PC, SNES, line search,
   Mat, GAMG, the factorisation package), set on throwaway objects on ``COMM_SELF``, nested
   prefixes included (``fieldsplit_mu_pc_type``, ``mg_levels_ksp_type``);
3. a trial solve: the same physics and options on a coarse mesh of the same stack, in memory
   on ``COMM_SELF``, through the real code path (:class:`CoupledProblem`, one Newton solve or
   one time step). PETSc errors there (values that do not parse, enums it does not know) are
   named by the option they quote; afterwards PETSc's own record of which options it read
   (``PetscOptionsUsed``) names the options it never read. A trial solve is the honest way to
   find them: which options a solver reads depends on the types chosen (``ksp_gmres_restart``
   means nothing to CG) and some are read only during the solve (``ksp_view``,
   ``snes_converged_reason``), so no static list can tell.

Every rank checks on its own (no communication, the same answer everywhere). The trial solve
runs only when the config has PETSc options (the default has none).
"""

from __future__ import annotations

import contextlib
import ctypes
import difflib
import logging
import os
import re
import sys

from heterofem.solver.config import Config

KEY = "solver.petsc_options"
ALLOW_FLAG = "--allow-petsc-output"
#: viewer types that write a file even without a file name (binary writes "binaryoutput")
FILE_VIEWERS = ("binary", "hdf5", "vtk", "matlab", "adios", "glvis")
#: options that write files whatever their value (PETSc's logging and history, viewer settings)
FILE_OPTION = re.compile(r"(^|_)(log_view|log_trace|log_all|history|viewer_\w+)$")
#: sub-solvers that exist only for problems large enough to have them: GAMG on the trial
#: solve's coarse mesh may stop at one level, where PETSc reads no ``mg_levels_*`` option
SIZE_DEPENDENT = ("mg_levels_",)
#: trial solves at most (each leaves out the options the one before rejected)
MAX_TRIALS = 4

log = logging.getLogger("heterofem")


def petsc_option_problems(cfg: Config, allow_output: bool = False) -> list[tuple[str, str]]:
    """Every problem with ``cfg.solver.petsc_options`` (see the module docstring)."""
    options = dict(cfg.solver.petsc_options)
    if not options:
        return []
    problems = [(f"{KEY}.{k}", f"{v!r} writes a file; pass {ALLOW_FLAG} to allow PETSc "
                 "output files, or give \"\" to print to the terminal instead")
                for k, v in options.items() if writes_file(k, v) and not allow_output]
    bad_types = type_problems(options)
    problems += bad_types
    # the trial solve: bad types left out (reported above), files written to the terminal;
    # an option PETSc rejects is left out of the next try, so one pass finds all of them
    trial = {k: ("" if writes_file(k, v) else v) for k, v in options.items()
             if f"{KEY}.{k}" not in dict(bad_types)}
    for _ in range(MAX_TRIALS):
        if not trial:
            return problems
        used, error = trial_solve(cfg, trial)
        if error is None:
            break
        rejected = error_problems(error, trial)
        problems += rejected
        if any(key == KEY for key, _ in rejected):  # not about one option: stop here
            return problems
        named = [key.removeprefix(f"{KEY}.") for key, _ in rejected]
        trial = {k: v for k, v in trial.items() if k not in named}
    if error is None and used is not None:
        problems += unused_problems(trial, used)
    return problems


def writes_file(key: str, value) -> bool:
    """Whether the option makes PETSc write a file: a viewer value ``type:name:format:mode``
    with a file name or of a file type (an empty one prints to the terminal), or an option
    that writes a file by itself (``log_view``)."""
    if FILE_OPTION.search(key):
        return True
    if not isinstance(value, str) or not value:
        return False
    parts = value.split(":")
    return parts[0] in FILE_VIEWERS or (len(parts) > 1 and parts[1] != "")


def _type_checks() -> dict:
    """Option suffix -> (what it names, a function that raises ``PETSc.Error`` for an
    unknown type name, the names petsc4py knows for suggestions). Longer suffixes first."""
    from heterofem.solver.dolfinx_env import PETSc

    self_ = PETSc.COMM_SELF

    def setter(cls):
        return lambda v: _throwaway(cls().create(self_), lambda obj: obj.setType(v))

    def gamg(v):
        return _throwaway(PETSc.PC().create(self_),
                          lambda pc: (pc.setType("gamg"), pc.setGAMGType(v)))

    def names(enum):
        return sorted(v for k, v in vars(enum).items() if not k.startswith("_")
                      and isinstance(v, str))

    return {
        "pc_factor_mat_solver_type": ("factorization package", _factor_package,
                                      names(PETSc.Mat.SolverType)),
        "snes_linesearch_type": ("line search type", setter(PETSc.SNESLineSearch),
                                 names(PETSc.SNESLineSearch.Type)),
        "pc_gamg_type": ("GAMG type", gamg, names(PETSc.PC.GAMGType)),
        "ksp_type": ("KSP type", setter(PETSc.KSP), names(PETSc.KSP.Type)),
        "snes_type": ("SNES type", setter(PETSc.SNES), names(PETSc.SNES.Type)),
        "pc_type": ("PC type", setter(PETSc.PC), names(PETSc.PC.Type)),
        "mat_type": ("Mat type", setter(PETSc.Mat), names(PETSc.Mat.Type)),
    }


def _throwaway(obj, action) -> None:
    """Apply ``action`` to a new PETSc object and destroy it, also when PETSc raises."""
    try:
        action(obj)
    finally:
        obj.destroy()


def _factor_package(value: str) -> None:
    """Raise ``PETSc.Error`` unless ``value`` is a factorisation package in this PETSc build
    (an LU of a 1x1 matrix)."""
    from heterofem.solver.dolfinx_env import PETSc

    A = PETSc.Mat().createAIJ([1, 1], nnz=1, comm=PETSc.COMM_SELF)
    A[0, 0] = 1.0
    A.assemble()
    pc = PETSc.PC().create(PETSc.COMM_SELF)
    try:
        pc.setOperators(A)
        pc.setType("lu")
        pc.setFactorSolverType(value)
        pc.setUp()
    finally:
        pc.destroy()
        A.destroy()


def type_problems(options: dict) -> list[tuple[str, str]]:
    """``*_type`` options whose value PETSc does not know (any prefix before the object's)."""
    from heterofem.solver.dolfinx_env import PETSc

    checks = _type_checks()
    problems = []
    for key, value in options.items():
        suffix = next((s for s in checks if key == s or key.endswith("_" + s)), None)
        if suffix is None:
            continue
        what, check, known = checks[suffix]
        try:
            check(str(value))
        except PETSc.Error as exc:
            close = difflib.get_close_matches(str(value), known, n=3)
            hint = f"did you mean {' or '.join(map(repr, close))}?" if close else \
                f"known: {', '.join(known)}"
            problems.append((f"{KEY}.{key}", f"PETSc has no {what} {value!r} "
                             f"({_petsc_message(exc)}); {hint}"))
    return problems


def _petsc_message(exc) -> str:
    """The last line of a PETSc error's traceback (what went wrong), without the rank."""
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    return re.sub(r"^\[\d+\]\s*", "", lines[-1]) if lines else str(exc)


def error_problems(exc, options: dict) -> list[tuple[str, str]]:
    """Name the options a PETSc error of the trial solve is about: the ones whose name or
    value its message quotes (``Input string lots has no integer value``)."""
    from heterofem.solver.coupling import PREFIX

    text = str(exc)
    message = _petsc_message(exc)
    quoted = [k for k in options if re.search(rf"-{PREFIX}(\w+_)?{re.escape(k)}\b", text)]
    # the longest match: "-heterofem_fieldsplit_mu_ksp_type" is not about ksp_type
    named = [k for k in quoted if not any(o.endswith("_" + k) for o in quoted)]
    if not named:
        named = [k for k, v in options.items() if not isinstance(v, bool) and str(v)
                 and re.search(rf"(?<![\w.-]){re.escape(str(v))}(?![\w.-])", message)]
    if not named and re.search(r"\btrue\b|\bfalse\b", message):
        named = [k for k, v in options.items() if isinstance(v, bool)]
    fix = "fix the value (see the PETSc manual page of the option)"
    if "viewer" in message:
        fix = "a viewer takes \"\" (the terminal) or \"type:file:format\""
    if not named:
        return [(KEY, f"PETSc rejected the options in a trial solve: {message}; {fix}")]
    return [(f"{KEY}.{k}", f"PETSc rejected {options[k]!r}: {message}; {fix}") for k in named]


def unused_problems(options: dict, used: dict[str, bool]) -> list[tuple[str, str]]:
    """Options PETSc never read in the trial solve (``used``: key -> read in any solve)."""
    problems = []
    for key in options:
        if used.get(key, True) or any(p in key for p in SIZE_DEPENDENT):
            continue
        read = [k for k, was in used.items() if was]
        close = difflib.get_close_matches(key, read, n=1)
        hint = (f"did you mean {close[0]!r}?" if close else
                "check its spelling, and that it belongs to the solver, preconditioner or "
                "line search that the other options choose")
        problems.append((f"{KEY}.{key}", f"PETSc never read this option in a trial solve of "
                         f"this problem, so it would have no effect; {hint}"))
    return problems


def trial_solve(cfg: Config, options: dict) -> tuple[dict[str, bool] | None, Exception | None]:
    """Solve ``cfg`` once with ``options`` on a coarse mesh, in memory on ``COMM_SELF``.

    Returns ``(used, None)`` with used = {option key: whether PETSc read it in any solve}
    (the defaults' keys too), or ``(None, error)`` for a PETSc error about an option (a value
    that does not parse, an unknown enum or viewer), or ``(None, None)`` when the trial
    cannot judge (it failed for another reason, e.g. the initial state did not converge on
    the coarse mesh: the real run reports that). Not converging is fine: the options were read.
    The options are gone from PETSc's database afterwards (:func:`petsc_options_set`).
    """
    from heterofem.solver import coupling
    from heterofem.solver.dolfinx_env import PETSc

    used: dict[str, bool] = {}
    reached = []  # the coupled solve was reached (the initial-state solves come first)

    def observe(read: dict[str, bool]) -> None:
        for key, was in read.items():
            used[key] = used.get(key, False) or was

    coupling.OPTION_USE_OBSERVERS.append(observe)
    try:
        with _quiet():
            _solve_once(_coarse(cfg, options), reached)
    except (PETSc.Error, coupling.SolveError) as exc:
        cause = exc if isinstance(exc, PETSc.Error) else exc.__context__
        if _about_options(cause):
            return None, cause
        if not reached or cause is not None:
            log.debug("PETSc options: the trial solve stopped (%s); unused options not "
                      "checked", exc)
            return None, None
    except Exception as exc:  # noqa: BLE001 - the run itself reports what is wrong
        log.debug("PETSc options: no trial solve (%s); unused options not checked", exc)
        return None, None
    finally:
        coupling.OPTION_USE_OBSERVERS.remove(observe)
        _pop_prefixes()
    return used, None


def _about_options(exc) -> bool:
    """Whether a PETSc error is about an option: an unknown type, or raised while PETSc
    parsed an option (a ``PetscOptions*`` function in its traceback)."""
    from heterofem.solver.dolfinx_env import PETSc

    unknown_type = 86  # PETSC_ERR_UNKNOWN_TYPE
    return isinstance(exc, PETSc.Error) and (
        exc.ierr == unknown_type or re.search(r"\bPetscOptions\w*\(\)", str(exc)) is not None)


def _coarse(cfg: Config, options: dict) -> Config:
    """``cfg`` on a coarse mesh of the same stack (cells about as large as the thinnest
    layer, generated even where the config reads a mesh file) with ``options``: the same
    unknowns, forms and solver set-up, for little time. (Newton keeps its iteration limit: the
    initial-state solves come before the coupled one and must converge for it to run.)"""
    size = max(cfg.mesh.size_nm, min(layer.thickness_nm for layer in cfg.layers))
    mesh = cfg.mesh.model_copy(update={"size_nm": size, "interface_size_nm": size,
                                       "file": None})
    solver = cfg.solver.model_copy(update={"petsc_options": options})
    return cfg.model_copy(update={"mesh": mesh, "solver": solver})


def _solve_once(cfg: Config, reached: list) -> None:
    """Build the problem as a run does (heterofem.solver.run) on ``COMM_SELF`` and solve it
    once (one step of a transient)."""
    from heterofem.meshes import create_stack_mesh
    from heterofem.solver.coupling import CoupledProblem, active_physics
    from heterofem.solver.dolfinx_env import MPI
    from heterofem.solver.domain import Domain
    from heterofem.solver.materials import resolve_materials
    from heterofem.solver.physics.registry import steady_by_continuation

    stack = create_stack_mesh(cfg.stack_geometry(), MPI.COMM_SELF)
    domain = Domain(cfg, stack, resolve_materials(cfg))
    # a steady run by pseudo-time continuation (e.g. polarization) solves transient steps too
    transient = cfg.time is not None or steady_by_continuation(cfg)
    problem = CoupledProblem(domain, active_physics(domain), transient=transient)
    reached.append(True)
    problem.solve()


@contextlib.contextmanager
def _quiet():
    """No terminal output from the trial solve: PETSc's monitors and views (C stdout, file
    descriptor 1) and heterofem's log below ERROR."""
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        libc.fflush(None)
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
        logging.disable(previous)


def _pop_prefixes() -> None:
    """Pop options prefixes left pushed: DOLFINx's NonlinearProblem pushes its prefix before
    ``setFromOptions`` and pops it after, so an error there left it on PETSc's stack, and
    every later option set in this process would have gone under it."""
    from heterofem.solver.dolfinx_env import PETSc

    db = PETSc.Options()
    for _ in range(8):
        try:
            db.prefixPop()
        except PETSc.Error:
            return
