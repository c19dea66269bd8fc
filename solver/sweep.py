"""Parameter sweeps: many cases of one config, run in parallel over MPI sub-communicators.

``heterofem sweep CONFIG --param key=start:stop:n --param key=[a, b] --out DIR``

- Each ``--param`` gives a dotted config key and its values: ``start:stop:n`` (n evenly spaced
  values, inclusive) or a TOML list. Several params form a grid (every combination) or, with
  ``--zip``, are paired element by element.
- Under ``mpirun -n N`` the world is split into N / K sub-communicators of K ranks
  (``--ranks-per-case K``). Cases are handed out dynamically: each group's leader takes the
  next case number from a shared counter (an MPI one-sided fetch-and-add), so uneven cases
  balance.
- Every case runs as an ordinary run in a directory named by its parameters
  (:func:`case_name`: ``DIR/layers.film.thickness_nm=3.5``, several joined by ``,``); its log
  goes to its own ``run.log`` only, and the console gets one line per case (name, status,
  wall time). A case that fails (bad value, failed solve) is recorded with its error and the
  sweep goes on. A rerun skips cases whose ``summary.json`` says they converged.
- ``DIR/sweep.csv`` and ``DIR/sweep.json``: one row per case with its directory, parameters,
  status and every numeric scalar of its summary (dotted keys, e.g.
  ``vacancies.mean_delta.film``); counts stay integers. ``DIR/sweep.units.json``: the unit of
  every column (the cases' summary units; ``param.*`` columns by the config's key names).
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import re
import sys
import time
import tomllib
from contextlib import contextmanager
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


def _name_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.12g}"
    return str(v)


def case_name(case: dict, index: int, longest: int = 120) -> str:
    """The directory name of a case from its parameters, e.g. ``layers.film.thickness_nm=3.5``
    (several joined by ``,``); characters other than letters, digits and ``. _ - = , +``
    become ``_``. A name longer than ``longest`` is cut and ends in ``~<index>``."""
    name = ",".join(f"{k}={_name_value(v)}" for k, v in case.items())
    name = re.sub(r"[^A-Za-z0-9._=,+-]", "_", name) or f"case_{index:04d}"
    if name.startswith((".", "-")):
        name = "_" + name
    return name if len(name) <= longest else f"{name[:longest]}~{index:04d}"


def case_names(todo: list[dict]) -> list[str]:
    """:func:`case_name` of every case, made unique (a repeat gets ``~<index>``)."""
    names, seen = [], set()
    for i, case in enumerate(todo):
        name = case_name(case, i)
        if name in seen:
            name = f"{name}~{i:04d}"
        seen.add(name)
        names.append(name)
    return names


@contextmanager
def quiet_console():
    """While a case runs: the console handlers of the heterofem log show warnings only (the
    case's log goes to its run.log in full)."""
    from heterofem.solver.logs import LOG

    console = [h for h in LOG.handlers
               if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    levels = [h.level for h in console]
    for h in console:
        h.setLevel(max(h.level, logging.WARNING))
    try:
        yield
    finally:
        for h, level in zip(console, levels):
            h.setLevel(level)


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
            out[key] = v  # a count stays an integer in sweep.csv
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
    names = case_names(todo)
    while True:
        index = np.zeros(1, dtype="i8")
        if sub.rank == 0:
            counter.Lock(0)
            counter.Fetch_and_op(one, index, 0, 0, MPI.SUM)
            counter.Unlock(0)
        i = int(sub.bcast(int(index[0]), root=0))
        if i >= len(todo):
            break
        start = time.perf_counter()
        with quiet_console():
            row = _run_one(Path(config), list(overrides or []), todo[i], out / names[i], sub)
        if sub.rank == 0:
            rows.append({"index": i, **row})
            # one line per case, from the rank that ran it (mpirun forwards every rank's stderr)
            print(f"heterofem sweep: case {i + 1}/{len(todo)} {names[i]}: {row['status']} "
                  f"({time.perf_counter() - start:.1f} s)"
                  + (f": {row['error'][:200]}" if row.get("error") else ""),
                  file=sys.stderr, flush=True)
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
    """sweep.csv, sweep.json and sweep.units.json (the unit of every column)."""
    columns: list[str] = []
    for row in table:
        for key in row:
            if key not in columns:
                columns.append(key)
    units = _column_units(out, table, columns)
    (out / "sweep.units.json").write_text(json.dumps(units, indent=2) + "\n")
    with open(out / "sweep.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(table)
    (out / "sweep.json").write_text(json.dumps(table, indent=1))


def _column_units(out: Path, table: list[dict], columns: list[str]) -> dict[str, str | None]:
    """column -> unit of sweep.csv: bookkeeping columns, the cases' summary units (from the
    first summary.json that has them) and the swept config keys (by their names' convention,
    e.g. ``thickness_nm``: nm; the config schema's keys carry their unit that way)."""
    from heterofem.solver.summary_units import match_unit

    summary_units: dict = {}
    for row in table:
        path = out / str(row.get("case", "")) / "summary.json"
        if path.is_file():
            summary_units = json.loads(path.read_text()).get("units") or {}
            if summary_units:
                break
    units: dict[str, str | None] = {}
    for c in columns:
        if c in ("index",):
            units[c] = "1"
        elif c in ("case", "status", "error"):
            units[c] = ""
        elif c.startswith("param."):
            units[c] = _config_unit(c[len("param."):])
        else:
            units[c] = summary_units.get(c, match_unit(c))
    return units


#: unit of a config key by the config schema's naming (inputs; outputs carry units as data)
_CONFIG_SUFFIX = (("_nm", "nm"), ("_K", "K"), ("_s", "s"), ("_V", "V"), ("_eV", "eV"),
                  ("_Pa", "Pa"), ("_mTorr", "mtorr"), ("_nm_s", "nm/s"), ("_C_per_m2", "C/m^2"),
                  ("_per_m3", "m^-3"))


def _config_unit(key: str) -> str:
    best = max((s for s, _ in _CONFIG_SUFFIX if key.endswith(s)), key=len, default=None)
    return dict(_CONFIG_SUFFIX)[best] if best else ""
