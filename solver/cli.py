"""The ``heterofem`` command: run, validate, mesh, materials, plot.

Errors in the input (config, mesh, materials, run directory) print one clear message per
problem on rank 0 and exit with status 2; a solve that fails exits with status 1. No traceback
is shown unless ``--debug`` is given.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

EXIT_INPUT = 2
EXIT_SOLVE = 1


def _rank() -> int:
    from heterofem.solver.dolfinx_env import MPI

    return MPI.COMM_WORLD.rank


def _fail(message: str, code: int) -> None:
    if _rank() == 0:
        click.echo(f"heterofem: error: {message}", err=True)
    sys.exit(code)


def friendly_errors(func):
    """Turn known errors into a message and an exit status (tracebacks only with --debug)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from heterofem.meshes import MeshError
        from heterofem.solver.config import ConfigError
        from heterofem.solver.coupling import SolveError
        from heterofem.solver.materials import MaterialError
        from heterofem.solver.outputs import RunDirError

        debug = click.get_current_context().find_root().params.get("debug", False)
        try:
            return func(*args, **kwargs)
        except (ConfigError, MaterialError, MeshError, RunDirError) as exc:
            if debug:
                raise
            _fail(str(exc), EXIT_INPUT)
        except SolveError as exc:
            if debug:
                raise
            _fail(f"the solve failed: {exc}", EXIT_SOLVE)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks and debug logging.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.version_option(package_name="heterofem")
@click.pass_context
def main(ctx: click.Context, debug: bool, log_level: str) -> None:
    """heterofem: finite elements for oxide heterostructures (DOLFINx, MPI)."""
    from heterofem.solver.logs import setup_logging

    setup_logging(_rank(), "DEBUG" if debug else log_level)


_set_option = click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE",
    help="Override a config value, e.g. --set layers.1.thickness_nm=3.5 (repeatable).")
_max_cells_option = click.option(
    "--max-cells", "max_cells", default=None, type=click.IntRange(min=1), metavar="N",
    help="Refuse meshes estimated above N cells (default: [mesh] max_cells, 2e6).")
_petsc_output_option = click.option(
    "--allow-petsc-output", is_flag=True,
    help="Allow PETSc options that write files (*_view = \":path\").")


def _load(config: Path, overrides, max_cells: int | None = None,
          allow_petsc_output: bool = False, petsc: bool = True, rundir=None):
    """Load and validate CONFIG, then run every check that needs no solve (one pass).

    ``rundir``: (path, overwrite, restart) of a run: the directory is checked (finished,
    incomplete, another run's lock) before the preflight, whose PETSc check meshes a trial
    problem: a refused run meshes nothing (the run checks it again before writing)."""
    from heterofem.solver.validation import load_config
    from heterofem.solver.preflight import preflight

    extra = [f"mesh.max_cells={max_cells}"] if max_cells is not None else []
    cfg = load_config(config, list(overrides) + extra)
    if rundir is not None:
        from heterofem.solver.dolfinx_env import MPI
        from heterofem.solver.outputs import RunDir

        path, overwrite, restart = rundir
        RunDir(path, MPI.COMM_WORLD).check(overwrite=overwrite, restart=restart)
    preflight(cfg, allow_petsc_output=allow_petsc_output, petsc=petsc)
    return cfg


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Run directory (created; an earlier run there is kept unless --overwrite).")
@_set_option
@click.option("--overwrite", is_flag=True, help="Replace an earlier run in --out.")
@click.option("--restart", "restart", default=None,
              type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Resume the transient run in this directory from its newest checkpoint "
                   "(any number of ranks); implies --out DIR.")
@_max_cells_option
@_petsc_output_option
@friendly_errors
def run(config: Path, out: Path | None, overrides: tuple[str, ...], overwrite: bool,
        restart: Path | None, max_cells: int | None, allow_petsc_output: bool) -> None:
    """Solve the problem in CONFIG and write results to --out."""
    if out is None and restart is None:
        _fail("give --out DIR (or --restart DIR)", EXIT_INPUT)
    if overwrite and restart is not None:
        _fail("--overwrite replaces a run and --restart continues one: give one of them",
              EXIT_INPUT)
    cfg = _load(config, overrides, max_cells, allow_petsc_output,
                rundir=(restart or out, overwrite, restart is not None))
    from heterofem.solver.simulation import Simulation  # the Python API's run (run_case)

    Simulation.from_config(cfg).run(restart or out, overwrite=overwrite,
                                    restart=restart is not None, command_line=sys.argv,
                                    check=False)  # _load has checked it


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--param", "params", multiple=True, required=True, metavar="KEY=SPEC",
              help="A swept key: key=start:stop:n or key=[v1, v2] (repeatable: a grid).")
@click.option("--zip", "zipped", is_flag=True, help="Pair the --param values instead of a grid.")
@click.option("--ranks-per-case", default=1, show_default=True, type=click.IntRange(min=1),
              help="MPI ranks per case; the world is split into groups of this size.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path))
@_set_option
@_petsc_output_option
@friendly_errors
def sweep(config: Path, params: tuple[str, ...], zipped: bool, ranks_per_case: int, out: Path,
          overrides: tuple[str, ...], allow_petsc_output: bool) -> None:
    """Run CONFIG for every combination of --param values (cases in parallel under mpirun)."""
    from heterofem.solver.sweep import SweepError, parse_param, run_sweep

    try:
        parsed = [parse_param(p) for p in params]
        _load(config, overrides, allow_petsc_output=allow_petsc_output)  # the base case
        table = run_sweep(config, parsed, out, zipped=zipped, ranks_per_case=ranks_per_case,
                          overrides=list(overrides))
    except SweepError as exc:
        _fail(str(exc), EXIT_INPUT)
    if _rank() == 0:
        failed = [r["case"] for r in table if r["status"] == "failed"]
        click.echo(f"sweep: {len(table)} cases, {len(failed)} failed"
                   + (f" ({', '.join(failed)})" if failed else "") + f"; table in {out}/sweep.csv")


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@_set_option
@_max_cells_option
@_petsc_output_option
@friendly_errors
def validate(config: Path, overrides: tuple[str, ...], max_cells: int | None,
             allow_petsc_output: bool) -> None:
    """Check CONFIG and report every problem at once (every check that runs before a solve)."""
    cfg = _load(config, overrides, max_cells, allow_petsc_output)
    if _rank() == 0:
        click.echo(f"{config}: valid ({cfg.run.dimension}D, {len(cfg.layers)} layers: "
                   f"{', '.join(f'{lay.name} ({lay.material})' for lay in cfg.layers)})")


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path))
@_set_option
@_max_cells_option
@friendly_errors
def mesh(config: Path, out: Path, overrides: tuple[str, ...], max_cells: int | None) -> None:
    """Mesh the stack of CONFIG: writes mesh.msh and mesh.xdmf (with tags) to --out."""
    import json
    import shutil
    import tempfile

    from heterofem.meshes import create_stack_mesh, mesh_statistics, write_mesh_xdmf
    from heterofem.solver.dolfinx_env import MPI

    cfg = _load(config, overrides, max_cells, petsc=False)
    comm = MPI.COMM_WORLD
    # mesh into a scratch directory (removed on every path): a mesh that fails writes nothing
    with tempfile.TemporaryDirectory(prefix="heterofem-") as scratch:
        msh = Path(scratch) / "mesh.msh" if comm.rank == 0 else None
        stack = create_stack_mesh(cfg.stack_geometry(), comm, msh_path=msh)
        if comm.rank == 0:
            out.mkdir(parents=True, exist_ok=True)
            shutil.move(msh, out / "mesh.msh")
    comm.barrier()
    write_mesh_xdmf(stack, out / "mesh.xdmf")
    from heterofem.solver.exports import write_mesh_vtu

    write_mesh_vtu(stack, out / "mesh.vtu")  # with tags, for meshio / PyVista / ParaView
    stats = mesh_statistics(stack)
    if comm.rank == 0:
        (out / "mesh.json").write_text(json.dumps(stats, indent=2))
        click.echo(json.dumps(stats, indent=2))


@main.command()
@click.argument("name", required=False)
@friendly_errors
def materials(name: str | None) -> None:
    """List the materials database, or every parameter of NAME with units and sources."""
    from heterofem.solver.materials import describe

    click.echo(describe(name))


@main.command()
@click.argument("run_dir", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--field", "fields", multiple=True, metavar="NAME",
              help="Field(s) to draw (repeatable or comma-separated; short names work: phi, "
                   "delta, P_z). Run: the profile panels and one map per field (default: the "
                   "headline figure of the run's physics, its key profiles and maps). "
                   "Sweep: summary scalars or table.csv columns (default: table.csv's columns).")
@click.option("--time", "time", type=float, default=None, metavar="T",
              help="Output time [s] of a transient to draw (default: the last).")
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Picture file; the suffix picks the format of every picture: .png, .svg, "
                   ".pdf (vector), .gif or .mp4 with --animate. The profiles and maps go beside "
                   "it as <stem>_profiles.<ext>, <stem>_<field>_map.<ext>. Default: "
                   "DIR/headline.png, DIR/profiles.png, DIR/<field>_map.png, DIR/sweep.png, "
                   "DIR/<field>_animation.gif.")
@click.option("--animate", is_flag=True,
              help="Animate a transient over the output times of fields.pvd (GIF or MP4): one "
                   "frame per computed output time; more [time] output_times_s give more "
                   "frames.")
@click.option("--fps", type=click.FloatRange(min=0.1, max=60), default=2.0, show_default=True,
              help="Frames per second of --animate.")
@click.option("--reference", "references", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="CSV of reference points (columns x, y[, yerr]; '# field: NAME' picks the "
                   "panel) drawn over a sweep's scalars or a run's profiles (repeatable).")
@click.option("--param", "parameter", default=None, metavar="KEY",
              help="Sweep: the config value to plot against (default: detected, e.g. "
                   "layers.1.thickness_nm).")
@click.option("--compare", "compare", multiple=True, metavar="DIR",
              type=click.Path(path_type=Path),
              help="Compare --field (default phi) of DIR with these runs along z: prints the "
                   "largest difference and draws both (repeatable).")
@click.option("--warp", default="none", show_default=True,
              type=click.Choice(["none", "auto", "displacement", "scalar"]),
              help="2D/3D maps: warp the mesh by the mechanical displacement (displacement; "
                   "auto: when there is one), or a 2D field as a height surface (scalar).")
@click.option("--limits", default="robust", show_default=True,
              type=click.Choice(["robust", "minmax"]),
              help="Colour limits of maps: robust (a tail beyond the 0.5/99.5 percentiles, "
                   "such as a corner singularity, is clipped) or the field's min/max.")
def plot(run_dir: Path, fields: tuple[str, ...], time: float | None, out: Path | None,
         animate: bool, fps: float, references: tuple[Path, ...], parameter: str | None,
         compare: tuple[Path, ...], warp: str, limits: str) -> None:
    """Draw DIR: a run directory (profiles along z with the layers; a PyVista map of 2D/3D runs;
    --animate for a transient) or a sweep directory (summary scalars against the swept
    parameter). Off-screen; under mpirun only rank 0 draws."""
    # (no friendly_errors: reading results raises only PlotError, handled here, and the
    # solver's error types would cost a second of imports)
    from heterofem.postprocess.plot import PlotError
    from heterofem.postprocess.plot import plot as draw

    if _rank() != 0:
        return
    try:
        for path in draw(run_dir, field=list(fields) or None, out=out, time=time, animate=animate,
                         fps=fps, references=references, parameter=parameter, compare=compare,
                         warp=warp, report=click.echo, limits=limits):
            click.echo(f"wrote {path}")
    except PlotError as exc:
        if click.get_current_context().find_root().params.get("debug", False):
            raise
        _fail(str(exc), EXIT_INPUT)


if __name__ == "__main__":
    main()
