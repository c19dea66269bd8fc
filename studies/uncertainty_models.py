"""Batch models (:data:`heterofem.studies.uncertainty.BatchModel`) made of heterofem runs.

:func:`runs_model` turns a config into a batch model: each parameter sample becomes one run
(or one run per value of a scanned key, e.g. the film thickness), with the sample's values set
through their ``--set`` keys (:func:`heterofem.studies.uncertainty.set_key`). The runs go
through ``heterofem sweep``'s :func:`~heterofem.solver.sweep.run_sweep` (``engine="sweep"``,
the default: the cases of a batch are one zipped sweep, balanced over the MPI ranks when run
under ``mpirun``) or one :class:`heterofem.Simulation` after another (``engine="simulation"``).
A ``reduce`` function turns a sample's runs (rows: the summary's numeric scalars by dotted key,
as in ``sweep.csv``, plus ``status``, ``scan`` (the scanned value) and ``dir``: the run
directory, for profiles) into the sample's outputs. Failed runs come with ``status =
"failed"``; ``reduce`` decides what that means (usually NaN outputs).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from heterofem.studies.uncertainty import Knob, set_key

#: a sample's runs -> its outputs
Reduce = Callable[[list[dict[str, Any]]], dict[str, Any]]


def case_sets(sample: dict[str, float], config_stem: str,
              knobs: Sequence[Knob] = ()) -> dict[str, float]:
    """The ``--set`` keys and values of one sample for one config: a knob that applies to
    other configs only (its ``configs``) is left out; a knob's value is multiplied by its
    ``factor`` (ledger unit -> database unit); names without a knob use :func:`set_key`."""
    by_name = {k.name: k for k in knobs}
    out = {}
    for name, value in sample.items():
        k = by_name.get(name)
        if k is not None and k.configs is not None and config_stem not in k.configs:
            continue
        out[k.key if k is not None else set_key(name)] = (
            value * k.factor if k is not None else value)
    return out


def runs_model(config: str | Path, reduce: Reduce, *, scan: tuple[str, Sequence] | None = None,
               knobs: Sequence[Knob] = (), overrides: Sequence[str] = (),
               engine: str = "sweep", workdir: str | Path | None = None,
               keep: bool = False) -> Callable[[list[dict]], list[dict]]:
    """A batch model: for each sample, run ``config`` (once, or once per value of the scanned
    key ``scan = (key, values)``) with ``overrides`` (``--set`` strings, e.g. a calibration
    overlay) and the sample's values, then ``reduce(rows)``. ``workdir``: where the runs go
    (default a temporary folder, removed after each batch unless ``keep``)."""
    if engine not in ("sweep", "simulation"):
        raise ValueError(f"runs_model: engine {engine!r} is not 'sweep' or 'simulation'")
    config = Path(config)

    def model(samples: list[dict]) -> list[dict]:
        cases, owner = [], []
        scan_values = list(scan[1]) if scan is not None else [None]
        for i, sample in enumerate(samples):
            sets = case_sets(sample, config.stem, knobs)
            for v in scan_values:
                cases.append({**sets, **({scan[0]: v} if scan is not None else {})})
                owner.append((i, v))
        with _workdir(workdir, keep) as out:
            rows = (_sweep if engine == "sweep" else _simulations)(config, cases, out,
                                                                   list(overrides))
            grouped: list[list[dict]] = [[] for _ in samples]
            for row, (i, v) in zip(rows, owner):
                grouped[i].append({**row, "scan": v})
            return [reduce(g) for g in grouped]

    return model


class _workdir:
    def __init__(self, path, keep):
        self.path, self.keep, self._tmp = path, keep, None

    def __enter__(self) -> Path:
        if self.path is not None:
            base = Path(self.path)
            base.mkdir(parents=True, exist_ok=True)
            return Path(tempfile.mkdtemp(prefix="batch_", dir=base))
        if self.keep:
            return Path(tempfile.mkdtemp(prefix="heterofem_batch_"))
        self._tmp = tempfile.TemporaryDirectory(prefix="heterofem_batch_")
        return Path(self._tmp.name)

    def __exit__(self, *exc):
        if self._tmp is not None:
            self._tmp.cleanup()


def _sweep(config: Path, cases: list[dict], out: Path, overrides: list[str]) -> list[dict]:
    """The cases as one zipped sweep (every case sets the same keys)."""
    from heterofem.solver.sweep import run_sweep

    keys: list[str] = []
    for c in cases:
        keys += [k for k in c if k not in keys]
    missing = [k for k in keys if any(k not in c for c in cases)]
    if missing:
        raise ValueError(f"runs_model: the cases of a batch must set the same keys ({missing})")
    params = [(k, [c[k] for c in cases]) for k in keys]
    if not params:  # nothing varies: one plain run per case
        return _simulations(config, cases, out, overrides)
    table = run_sweep(config, params, out, zipped=True, overrides=overrides)
    return [{**row, "dir": str(out / row["case"])} for row in table]


def _simulations(config: Path, cases: list[dict], out: Path, overrides: list[str]) -> list[dict]:
    """The cases one after another through heterofem.Simulation."""
    from heterofem import Simulation
    from heterofem.solver.simulation import override_strings
    from heterofem.solver.sweep import flat_scalars

    rows = []
    for i, case in enumerate(cases):
        d = out / f"case_{i:04d}"
        try:
            sim = Simulation.from_toml(config, set=list(overrides) + override_strings(case))
            sim.run(d, overwrite=True, check=False)
            rows.append({"case": d.name, "status": "ok", "dir": str(d),
                         **flat_scalars(sim.summary)})
        except Exception as exc:  # noqa: BLE001 - a failed case is a row, as in run_sweep
            rows.append({"case": d.name, "status": "failed", "error": str(exc), "dir": str(d)})
    return rows


def summary_of(row: dict) -> dict:
    """The full summary.json of a row's run (for values that are not numeric scalars)."""
    return json.loads((Path(row["dir"]) / "summary.json").read_text())


def scalar_outputs(keys: dict[str, str]) -> Reduce:
    """A ``reduce`` for unscanned models: ``{output name: dotted summary key}`` of the
    sample's single run (NaN for a failed run or a missing key). A key renamed in #24 is a
    ConfigError naming the new key (it would otherwise be NaN in every sample)."""
    from heterofem.solver.config import ConfigError
    from heterofem.solver.summary_units import renamed_message

    problems = [(f"scalar_outputs.{name}", msg) for name, key in keys.items()
                if (msg := renamed_message(key)) is not None]
    if problems:
        raise ConfigError(problems)

    def reduce(rows: list[dict]) -> dict:
        row = rows[0]
        ok = row.get("status", "ok") != "failed"
        return {name: float(row.get(key, float("nan"))) if ok else float("nan")
                for name, key in keys.items()}

    return reduce
