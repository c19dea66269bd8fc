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


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run directory (created; an earlier run there is kept unless --overwrite).")
@_set_option
@click.option("--overwrite", is_flag=True, help="Replace an earlier run in --out.")
@friendly_errors
def run(config: Path, out: Path, overrides: tuple[str, ...], overwrite: bool) -> None:
    """Solve the problem in CONFIG and write results to --out."""
    from heterofem.solver.config import load_config

    cfg = load_config(config, list(overrides))
    from heterofem.solver.run import run_case

    run_case(cfg, out, overwrite=overwrite, command_line=sys.argv)


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--param", "params", multiple=True, required=True, metavar="KEY=SPEC",
              help="A swept key: key=start:stop:n or key=[v1, v2] (repeatable: a grid).")
@click.option("--zip", "zipped", is_flag=True, help="Pair the --param values instead of a grid.")
@click.option("--ranks-per-case", default=1, show_default=True, type=click.IntRange(min=1),
              help="MPI ranks per case; the world is split into groups of this size.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path))
@_set_option
@friendly_errors
def sweep(config: Path, params: tuple[str, ...], zipped: bool, ranks_per_case: int, out: Path,
          overrides: tuple[str, ...]) -> None:
    """Run CONFIG for every combination of --param values (cases in parallel under mpirun)."""
    from heterofem.solver.config import load_config
    from heterofem.solver.sweep import SweepError, parse_param, run_sweep

    try:
        parsed = [parse_param(p) for p in params]
        load_config(config, list(overrides))  # the base case must be valid
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
@friendly_errors
def validate(config: Path, overrides: tuple[str, ...]) -> None:
    """Check CONFIG and report every problem at once."""
    from heterofem.solver.config import load_config

    cfg = load_config(config, list(overrides))
    if _rank() == 0:
        click.echo(f"{config}: valid ({cfg.run.dimension}D, {len(cfg.layers)} layers: "
                   f"{', '.join(f'{lay.name} ({lay.material})' for lay in cfg.layers)})")


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path))
@_set_option
@friendly_errors
def mesh(config: Path, out: Path, overrides: tuple[str, ...]) -> None:
    """Mesh the stack of CONFIG: writes mesh.msh and mesh.xdmf (with tags) to --out."""
    import json

    from heterofem.meshes import create_stack_mesh, mesh_statistics, write_mesh_xdmf
    from heterofem.solver.config import load_config
    from heterofem.solver.dolfinx_env import MPI

    cfg = load_config(config, list(overrides))
    comm = MPI.COMM_WORLD
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    comm.barrier()
    stack = create_stack_mesh(cfg, comm, msh_path=out / "mesh.msh")
    write_mesh_xdmf(stack, out / "mesh.xdmf")
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
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--field", default=None, help="Field to draw (default: phi).")
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Picture file (default: RUN_DIR/<field>.png).")
@friendly_errors
def plot(run_dir: Path, field: str | None, out: Path | None) -> None:
    """Draw a run: line profiles along z, and a PyVista map for 2D/3D runs."""
    from heterofem.postprocess.plot import PlotError, plot_run

    if _rank() != 0:
        return
    try:
        for path in plot_run(run_dir, field=field, out=out):
            click.echo(f"wrote {path}")
    except PlotError as exc:
        _fail(str(exc), EXIT_INPUT)


if __name__ == "__main__":
    main()
