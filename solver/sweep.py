"""Parameter sweeps: many cases of one config, run in parallel over MPI sub-communicators.

``heterofem sweep CONFIG --param key=start:stop:n --param key=[a, b] --out DIR``

- Each ``--param`` gives a dotted config key and its values: ``start:stop:n`` (n evenly spaced
  values, inclusive) or a TOML list. Several params form a grid (every combination) or, with
  ``--zip``, are paired element by element.
- Under ``mpirun -n N`` the world is split into N / K sub-communicators of K ranks
  (``--ranks-per-case K``). Cases are handed out dynamically: each group's leader takes the
  next case number from a shared counter (an MPI one-sided fetch-and-add), so uneven cases
  balance.
- Every case runs in ``DIR/case_NNNN`` as an ordinary run; a case that fails (bad value,
  failed solve) is recorded with its error and the sweep goes on. A rerun skips cases whose
  ``summary.json`` says they converged.
- ``DIR/sweep.csv`` and ``DIR/sweep.json``: one row per case with its parameters, status and
  every numeric scalar of its summary (dotted keys, e.g. ``vacancies.mean_delta.film``).
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import tomllib
from pathlib import Path

import numpy as np

from heterofem.solver.config import ConfigError
from heterofem.solver.dolfinx_env import MPI
from heterofem.solver.progress import Progress

log = logging.getLogger("heterofem")

#: summary entries that are bookkeeping, not results
_SKIP = ("timings_s", "wall_time_s", "mpi_size", "command_line", "fields", "mesh")


class SweepError(ValueError):
    pass


def parse_param(text: str) -> tuple[str, list]:
    """``key=start:stop:n`` or ``key=[v1, v2, ...]`` (TOML values) -> (key, values)."""
    if "=" not in text:
        raise SweepError(f"--param {text!r}: use key=start:stop:n or key=[v1, v2]")
    key, spec = (s.strip() for s in text.split("=", 1))
    if spec.startswith("["):
        try:
            values = tomllib.loads(f"v = {spec}")["v"]
        except tomllib.TOMLDecodeError as exc:
            raise SweepError(f"--param {key}: not a TOML list ({exc})") from None
    else:
        parts = spec.split(":")
        try:
            start, stop, n = float(parts[0]), float(parts[1]), int(parts[2])
        except (IndexError, ValueError):
            raise SweepError(f"--param {key}={spec}: use start:stop:n (n an integer) or a "
                             "list [v1, v2]") from None
        if len(parts) != 3 or n < 1:
            raise SweepError(f"--param {key}={spec}: use start:stop:n with n >= 1")
        values = [float(v) for v in np.linspace(start, stop, n)]
    if not values:
        raise SweepError(f"--param {key}: no values")
    return key, values


def cases(params: list[tuple[str, list]], zipped: bool) -> list[dict]:
    keys = [k for k, _ in params]
    lists = [v for _, v in params]
    if zipped:
        if len({len(v) for v in lists}) > 1:
            raise SweepError("--zip needs every --param to have the same number of values")
        combos = list(zip(*lists))
    else:
        combos = list(itertools.product(*lists))
    return [dict(zip(keys, combo)) for combo in combos]


def _toml_value(v) -> str:
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v)


def flat_scalars(d: dict, prefix: str = "") -> dict[str, float]:
    out = {}
    for k, v in d.items():
        if k in _SKIP:
            continue
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flat_scalars(v, key + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = float(v)
    return out


def _run_one(config: Path, overrides: list[str], case: dict, out: Path, comm) -> dict:
    from heterofem.meshes import MeshError
    from heterofem.solver.coupling import SolveError
    from heterofem.solver.materials import MaterialError
    from heterofem.solver.outputs import RunDirError
    from heterofem.solver.simulation import Simulation

    row = {"case": out.name, **{f"param.{k}": v for k, v in case.items()}}
    summary_path = out / "summary.json"
    if summary_path.exists():
        previous = json.loads(summary_path.read_text())
        if previous.get("converged"):
            row.update(status="done (earlier run)", **flat_scalars(previous))
            return row
    sets = list(overrides) + [f"{k}={_toml_value(v)}" for k, v in case.items()]
    try:
        sim = Simulation.from_toml(config, set=sets)
        sim.run(out, overwrite=True, comm=comm, check=False,  # the CLI checked the base case
                command_line=["heterofem", "run", str(config)]
                + [a for s in sets for a in ("--set", s)])
        row.update(status="ok", **flat_scalars(sim.summary))
    except (ConfigError, MaterialError, MeshError, RunDirError, SolveError) as exc:
        row.update(status="failed", error=str(exc).replace("\n", " "))
        if comm.rank == 0:
            log.warning("case %s failed: %s", out.name, str(exc).splitlines()[0])
    return row


def run_sweep(config: Path, params: list[tuple[str, list]], out: Path, *, zipped: bool = False,
              ranks_per_case: int = 1, overrides: list[str] | None = None,
              world: MPI.Comm = MPI.COMM_WORLD) -> list[dict]:
    """Run every case; returns the table (on every rank)."""
    todo = cases(params, zipped)
    if world.size % ranks_per_case:
        raise SweepError(f"--ranks-per-case {ranks_per_case} must divide the {world.size} ranks")
    groups = world.size // ranks_per_case
    color = world.rank // ranks_per_case
    sub = world.Split(color, world.rank)
    out = Path(out)
    if world.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        log.info("sweep: %d cases over %d group(s) of %d rank(s) -> %s", len(todo), groups,
                 ranks_per_case, out)
    world.barrier()

    # the shared case counter lives on world rank 0; group leaders fetch-and-add it
    counter = MPI.Win.Allocate(np.dtype("i8").itemsize if world.rank == 0 else 0,
                               comm=world)
    if world.rank == 0:
        counter.Lock(0)
        counter.Put(np.zeros(1, dtype="i8"), 0)
        counter.Unlock(0)
    world.barrier()
    rows: list[dict] = []
    one = np.ones(1, dtype="i8")
    progress = Progress(len(todo), "sweep", "cases", world.rank)
    while True:
        index = np.zeros(1, dtype="i8")
        if sub.rank == 0:
            counter.Lock(0)
            counter.Fetch_and_op(one, index, 0, 0, MPI.SUM)
            counter.Unlock(0)
        i = int(sub.bcast(int(index[0]), root=0))
        if i >= len(todo):
            break
        row = _run_one(Path(config), list(overrides or []), todo[i], out / f"case_{i:04d}", sub)
        if sub.rank == 0:
            rows.append({"index": i, **row})
            log.info("sweep: case %d/%d %s", i + 1, len(todo), row["status"])
        progress.update(min(i + 1, len(todo)), row["status"])
    progress.close()
    world.barrier()
    counter.Free()
    sub.Free()
    gathered = world.gather(rows, root=0)
    table = sorted((r for part in gathered for r in part), key=lambda r: r["index"]) \
        if world.rank == 0 else None
    table = world.bcast(table, root=0)
    if world.rank == 0:
        write_table(out, table)
    return table


def write_table(out: Path, table: list[dict]) -> None:
    columns: list[str] = []
    for row in table:
        for key in row:
            if key not in columns:
                columns.append(key)
    with open(out / "sweep.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(table)
    (out / "sweep.json").write_text(json.dumps(table, indent=1))
