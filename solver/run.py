"""One run, end to end: config -> mesh -> materials -> physics -> solve -> run directory."""

from __future__ import annotations

import hashlib
import os
import logging
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import numpy as np
import tomli_w

from heterofem.solver.checkpoint import (Checkpoint, CheckpointError, Checkpointer,
                                         config_changes)
from heterofem.solver.config import Config, ConfigError, to_toml_dict
from heterofem.solver.coupling import CoupledProblem, SolveError, active_physics, continuation_dt
from heterofem.solver.dolfinx_env import MPI, PETSc, dolfinx
from heterofem.solver.domain import Domain
from heterofem.solver.interfaces import interface_heights
from heterofem.solver.logs import add_logfile
from heterofem.solver.materials import resolve_materials
from heterofem.solver.physics.registry import steady_by_continuation
from heterofem.solver.stepping import Stepper, StepFailure, pseudo_transient
from heterofem.solver.template import template_outputs
from heterofem.solver.progress import Progress
from heterofem.solver.outputs import (
    FieldWriter,
    RunDir,
    RunDirError,
    OutputSet,
    TimeSeries,
    write_csv,
    write_summary,
    write_toml,
)
from heterofem.solver.exports import write_mesh_vtu

log = logging.getLogger("heterofem")


def versions() -> dict[str, str]:
    """Provenance: versions of heterofem and its stack, and the git commit of the source
    tree when it is a git checkout (``-dirty`` when it has uncommitted changes)."""
    try:
        own = metadata.version("heterofem")
    except metadata.PackageNotFoundError:
        own = "unknown"
    return {
        "heterofem_version": own,
        "git_commit": _git_commit(),
        "dolfinx_version": dolfinx.__version__,
        "petsc_version": ".".join(str(v) for v in PETSc.Sys.getVersion()),
        "python_version": platform.python_version(),
    }


def _git_commit() -> str | None:
    """The commit of the source tree; in a container (no .git) the image's build argument
    HETEROFEM_GIT_COMMIT."""
    src = Path(__file__).resolve().parent
    if not (src.parent / ".git").exists() and os.environ.get("HETEROFEM_GIT_COMMIT"):
        return os.environ["HETEROFEM_GIT_COMMIT"]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=src, capture_output=True,
                                text=True, timeout=5)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=src, capture_output=True, text=True, timeout=5)
        return commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


class Timer:
    def __init__(self):
        self.phases: dict[str, float] = {}

    @contextmanager
    def __call__(self, phase: str):
        t = time.perf_counter()
        yield
        self.phases[phase] = self.phases.get(phase, 0.0) + time.perf_counter() - t


def profile_columns(domain: Domain, outputs: OutputSet, n: int) -> dict[str, np.ndarray]:
    """Fields along z through the lateral centre of the stack (collective).

    Unknowns are sampled directly; derived fields through a discontinuous interpolation of
    the solution's degree (so a concentration jump at an interface stays sharp).
    """
    pts = domain.centre_line(n)
    z = pts[:, domain.dim - 1]
    cols: dict[str, np.ndarray] = {"z_nm": z}
    bounds = domain.cfg.layer_bounds_nm()
    idx = np.clip(np.searchsorted([b for _, b in bounds], z, side="left"), 0, len(bounds) - 1)
    cols["layer"] = np.array([domain.cfg.layers[i].name for i in idx])
    degree = domain.cfg.physics.element_degree
    for field in outputs.fields:
        if field.name == "layer_id":
            continue
        if outputs.smoothed(field) is not None:  # a "cell" field projected onto P1 (#24)
            source = outputs.smoothed(field)
        elif isinstance(field.expr, dolfinx.fem.Function) and field.scale == 1.0:
            source = field.expr
        else:
            space = domain.dg_space(degree if field.kind == "point" else max(degree - 1, 0))
            source = dolfinx.fem.Function(space)
            expr = field.expr * field.scale if field.scale != 1.0 else field.expr
            source.interpolate(dolfinx.fem.Expression(expr, space.element.interpolation_points))
        cols[field.column] = domain.evaluate(source, pts)
    return cols


def run_case(cfg: Config, out: Path, comm: MPI.Comm = MPI.COMM_WORLD, overwrite: bool = False,
             command_line: list[str] | None = None, restart: bool = False) -> dict:
    """Run one configured case into ``out``; returns the summary (same on every rank).

    Raises :class:`SolveError` after writing a summary with ``converged = false`` (and no
    fields) when the solve fails. The run holds ``out`` for itself (see
    :class:`~heterofem.solver.outputs.RunDir`): an earlier run there is refused unless
    ``overwrite`` (which replaces it) or ``restart``. With ``restart`` the transient resumes
    from the newest intact checkpoint in ``out`` (see :mod:`heterofem.solver.checkpoint`) if
    the config continues the checkpointed problem; ``fields.pvd`` and ``timeseries.csv`` keep
    the outputs up to the checkpoint and go on from there, and ``run.log`` is appended to.
    """
    handlers: list[logging.Handler] = []
    rundir = RunDir(Path(out), comm)
    try:
        return _run_case(cfg, rundir, comm, overwrite and not restart, command_line, handlers,
                         restart)
    finally:
        for h in handlers:
            log.removeHandler(h)
            h.close()
        rundir.release()


def _resume_point(cfg: Config, out: Path, comm: MPI.Comm) -> Checkpoint:
    """The checkpoint a restart continues from, after checking that ``cfg`` continues its
    problem (raises :class:`ConfigError` naming every key that may not change)."""
    if cfg.time is None:
        raise RunDirError("--restart needs a transient run (a [time] table)")
    try:
        point = Checkpointer.load_latest(out, comm)
    except CheckpointError as exc:
        raise RunDirError(f"cannot restart from {out}: {exc}") from None
    if point.config is None:
        raise RunDirError(f"cannot restart from {out}: neither {point.file} nor the directory "
                          "holds the config of the run to continue (config.resolved.toml)")
    problems, allowed = config_changes(point.config, to_toml_dict(cfg))
    if problems:
        raise ConfigError(problems)
    point.notes += [f"changed for the restart: {c}" for c in allowed]
    return point


def _open_run(cfg: Config, rundir: RunDir, comm: MPI.Comm, overwrite: bool, restart: bool,
              timer: Timer, handlers: list) -> tuple:
    """Everything before the first write, in the order that leaves a refused run without any
    trace: check the directory (writes nothing), read and check the checkpoint to continue,
    mesh (the .msh into a scratch directory, removed on every path), then claim the directory
    (lock, check again, clean) and start the log. Returns (stack, mesh statistics, resume)."""
    from heterofem.meshes import create_stack_mesh, mesh_statistics

    if cfg.mesh.adapt is not None:  # [mesh.adapt] against the physics (solver/adapt.py)
        from heterofem.solver.adapt import config_problems

        if problems := config_problems(cfg):
            raise ConfigError(problems)
    rundir.check(overwrite=overwrite, restart=restart)
    resume = _resume_point(cfg, rundir.path, comm) if restart else None
    scratch = Path(tempfile.mkdtemp(prefix="heterofem-")) if comm.rank == 0 else None
    try:
        with timer("mesh"):
            stack = create_stack_mesh(cfg.stack_geometry(), comm,
                                      msh_path=scratch / "mesh.msh" if scratch else None)
            stats = mesh_statistics(stack)
        rundir.claim(overwrite=overwrite, restart=restart)
        if comm.rank == 0:
            handlers.append(add_logfile(rundir.path / "run.log", mode="a" if restart else "w"))
            if cfg.output.mesh and (scratch / "mesh.msh").exists():
                shutil.move(scratch / "mesh.msh", rundir.path / "mesh.msh")
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if resume is not None:
        log.info("resumed from checkpoint %s at t = %.6g s: the outputs after that time are "
                 "written again", resume.file, resume.t_s)
        for note in resume.notes:
            log.info("%s", note)
    return stack, stats, resume


def _first_outputs(cfg, stack, stats, resolved: dict, out: Path, comm,
                   command_line) -> dict:
    """Write mesh.xdmf and config.resolved.toml, log the run, and return the summary's
    provenance part (name, versions, command line, config digest, mesh)."""
    from heterofem.meshes import write_mesh_xdmf

    if cfg.output.mesh:
        write_mesh_xdmf(stack, out / "mesh.xdmf")
        write_mesh_vtu(stack, out / "mesh.vtu")  # meshio, PyVista, ParaView (#24)
    write_toml(out / "config.resolved.toml", resolved, comm)
    log.info("run '%s': %dD, %d layers, %d MPI rank(s) -> %s", cfg.run.name, cfg.run.dimension,
             len(cfg.layers), comm.size, out)
    n_cells = stack.mesh.topology.index_map(stack.mesh.topology.dim).size_global
    log.info("mesh: %d cells", n_cells)
    strain = {}
    if cfg.physics.polarization or cfg.physics.mechanics:  # computed relaxation (#22)
        from heterofem.solver.strain import strain_summary

        strain["strain"] = strain_summary(cfg, resolve_materials(cfg))
    return {
        "name": cfg.run.name,
        "dimension": cfg.run.dimension,
        **versions(),
        "mpi_size": comm.size,
        "command_line": command_line or sys.argv,
        "config_sha256": hashlib.sha256(tomli_w.dumps(resolved).encode()).hexdigest(),
        "mesh": {"cells": int(n_cells), "layers": stats.get("layers", {})},
        "interfaces": interface_heights(cfg.stack_geometry()),  # z along the profile line
        **strain,  # per layer: misfit, computed h_c and retained misfit (solver/strain.py)
    }


def _run_case(cfg, rundir: RunDir, comm, overwrite, command_line, handlers, restart=False) -> dict:
    t_start = time.perf_counter()
    timer = Timer()
    stack, stats, resume = _open_run(cfg, rundir, comm, overwrite, restart, timer, handlers)
    out = rundir.path
    resolved = to_toml_dict(cfg)
    summary = _first_outputs(cfg, stack, stats, resolved, out, comm, command_line)

    def write_failure(exc: Exception) -> None:
        """summary.json of a run that stopped: converged false, the error, no fields."""
        summary.update(converged=False, error=str(exc), timings_s=timer.phases,
                       wall_time_s=time.perf_counter() - t_start)
        write_summary(out / "summary.json", summary, comm)

    with timer("setup"):
        domain = Domain(cfg, stack, resolve_materials(cfg))
        modules = active_physics(domain)
        pseudo = steady_by_continuation(cfg)  # e.g. polarization: steady via continuation
        try:
            problem = CoupledProblem(domain, modules, transient=cfg.time is not None or pseudo)
        except SolveError as exc:  # the initial state (e.g. its potential) did not converge
            write_failure(exc)
            raise
        summary["dofs"] = int(sum(V.dofmap.index_map.size_global * V.dofmap.index_map_bs
                                  for V in problem.spaces.values()))
        summary["solver"] = {"assembly": problem.assembly}  # "fast" or "standard" (#21)
        fields = [f for m in modules for f in m.outputs(problem.u)]
        outputs = OutputSet(domain.mesh, fields, domain.stack.cell_tags)
        for m in modules:
            m.start(problem.u)
    log.info("unknowns: %s (%d dofs)", ", ".join(problem.names), summary["dofs"])
    summary["fields"] = {f.column: {"name": f.name, "unit": f.unit, "kind": outputs.kind_of(f)}
                         for f in fields}

    writer = FieldWriter(rundir, domain.mesh, resume.t_s if resume else None) \
        if cfg.output.fields else None
    live = {"problem": problem, "outputs": outputs}  # replaced by an adaptive remesh
    failure: SolveError | None = None
    try:
        with timer("solve"):
            if cfg.time is None:
                summary.update(_steady(problem, modules, pseudo))
                if writer is not None:
                    outputs.update()
                    writer.write(outputs.functions, 0.0)
            else:
                summary["time"] = _transient(problem, modules, outputs, writer, out, comm,
                                             resume, resolved, live)
                if resume is not None:
                    summary["time"]["restarted_from_s"] = resume.t_s
    except StepFailure as exc:  # the last accepted state is kept and reported
        failure = exc
        summary["time"] = exc.stats
    except SolveError as exc:  # a steady solve failed: nothing trustworthy to write
        write_failure(exc)
        raise
    finally:
        if writer is not None:
            writer.close()

    if "adapt" in live:  # the final mesh's problem (solver/adapt.py)
        problem, outputs = live["problem"], live["outputs"]
        domain, modules = problem.domain, list(problem.modules.values())
        summary["mesh"]["adapt"] = live["adapt"].summary()
    with timer("output"):
        _final_outputs(cfg, domain, problem, modules, outputs, summary, out, comm)
    summary["converged"] = failure is None
    if failure is not None:
        summary["error"] = str(failure)
    summary["timings_s"] = timer.phases
    summary["wall_time_s"] = time.perf_counter() - t_start
    write_summary(out / "summary.json", summary, comm)
    if failure is not None:
        raise failure
    log.info("done in %.2f s; wrote %s", summary["wall_time_s"], out)
    return summary


def _final_outputs(cfg, domain, problem, modules, outputs, summary, out, comm) -> None:
    """The end-of-run outputs: profiles.csv and each module's summary entries, the template
    response (#23) and the work function, into ``summary``. Collective."""
    outputs.update()
    write_csv(out / "profiles.csv", profile_columns(domain, outputs,
              cfg.output.profile_points), comm, units=outputs.units)
    for m in modules:
        summary[m.name] = m.summary(problem.u)
    summary.update(template_outputs(cfg, domain.materials, summary))  # VO2-delta (#23)
    if cfg.work_function_on:
        from heterofem.solver.workfunction import work_function

        summary["work_function"] = work_function(problem, out)


def _steady(problem, modules, pseudo: bool) -> dict:
    """A steady solve: Newton from the initial state, or pseudo-time continuation where a
    physics asks for it (an order parameter's double well); returns the summary entries."""
    if pseudo:
        return {"pseudo_transient": pseudo_transient(problem, continuation_dt(modules))}
    its = problem.solve()
    log.info("Newton converged in %d iteration(s)", its)
    return {"newton_iterations": its}


def _transient(problem, modules, outputs, writer, out: Path, comm, resume=None,
               config: dict | None = None, live: dict | None = None) -> dict:
    """Run the time loop, writing timeseries.csv every step and fields at output times;
    ``resume``: the :class:`Checkpoint` to continue from; ``config``: the resolved config,
    stored with each checkpoint; ``live``: {"problem", "outputs"}, replaced after each
    adaptive remesh (``[mesh.adapt]``), with "adapt" (the :class:`Adaptivity`) added."""
    series = TimeSeries(out / "timeseries.csv", comm,
                        resume_after_s=resume.t_s if resume else None)
    live = {"problem": problem, "outputs": outputs} if live is None else live

    def row(t: float, dt: float, its: int) -> None:
        values = {"t_s": t, "dt_s": dt, "newton_iterations": its}
        for m in live["problem"].modules.values():
            values.update(m.timeseries(live["problem"].u))
        series.write(values)

    def output(t: float) -> None:
        if t == 0.0:
            row(0.0, 0.0, 0)
        if writer is not None:
            live["outputs"].update()
            writer.write(live["outputs"].functions, t)

    every = problem.domain.cfg.output.checkpoint_every_steps
    checkpointer = Checkpointer(out, comm, problem.domain.cfg.output.checkpoint_keep,
                                config=config) if every else None
    stepper = Stepper(problem, row, output, checkpointer, every,
                      adapt=_adaptivity(problem, writer, live))
    if stepper.adapt is not None:
        stepper.on_remesh = live["on_remesh"]
    stepper.progress = Progress(problem.domain.cfg.time.end_s, "time", "s", comm.rank)
    # an adapted checkpoint's mesh, its cells on the ranks of their base-mesh ancestors
    resume_from = (resume.state, resume.fields, resume.stack(comm, problem.domain.stack)) \
        if resume else None
    try:
        return stepper.run(resume_from)
    finally:
        stepper.progress.close()
        series.close()
        log.info("time loop: %d steps to t = %.4g s; rejected: %d that Newton did not solve, "
                 "%d for their error estimate", stepper.stats["steps"], stepper.stats["end_s"],
                 stepper.stats["rejected_steps"], stepper.stats.get("error_rejected_steps", 0))


def _adaptivity(problem, writer, live: dict):
    """The :class:`~heterofem.solver.adapt.Adaptivity` of ``[mesh.adapt]`` (None without
    it), with ``live["on_remesh"]``: the outputs and the field writer follow the new mesh."""
    settings = problem.domain.cfg.mesh.adapt
    if settings is None:
        return None
    from heterofem.solver.adapt import Adaptivity

    def on_remesh(new) -> None:
        fields = [f for m in new.modules.values() for f in m.outputs(new.u)]
        live["problem"] = new
        live["outputs"] = OutputSet(new.domain.mesh, fields, new.domain.stack.cell_tags)
        if writer is not None:
            writer.new_mesh(new.domain.mesh)

    live["adapt"] = Adaptivity(settings, problem)
    live["on_remesh"] = on_remesh
    return live["adapt"]
