"""Calibrated values as overlays: TOML files a calibration writes and the studies apply.

A calibration never edits a problem config or the material database. It writes
``studies/calibrated/<name>.toml``::

    [calibration]                       # who wrote it, when, from which report
    study = "heterofem.studies.calibrate_ruo2_work_function"
    date = "2026-11-23"
    report = "studies/reports/ruo2_work_function_calibration.md"

    [parameters.h_interface_V]          # the fitted values, with their 1-sigma
    value = 6.670134412252452
    std = 0.755

    [configs.ruo2_tio2_110_polar_1d]    # per problem config (file stem): dotted key = value,
    'boundary."substrate/film".polar_bias_V' = 6.67   # what ``--set`` / ``set=`` take

and a study applies it with :func:`overrides`: ``Simulation.from_toml(path,
set=overrides(path, "ruo2_work_function"))`` or, for a CLI run, the ``--set`` strings of
:func:`set_args`. The values under ``[configs]`` are the ones the runs use (rounded as the
calibration chooses); ``[parameters]`` keeps the fit's full precision for the record.
"""

from __future__ import annotations

import datetime
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from heterofem.studies import CALIBRATED, ROOT


def overlay_path(name: str) -> Path:
    """``studies/calibrated/<name>.toml``."""
    return CALIBRATED / f"{name}.toml"


def read_overlay(name: str) -> dict[str, Any]:
    """The overlay ``name`` as a dict (``calibration``, ``parameters``, ``configs``); an empty
    one when the calibration has not been run (no file)."""
    path = overlay_path(name)
    if not path.exists():
        return {"calibration": {}, "parameters": {}, "configs": {}}
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    data.setdefault("parameters", {})
    data.setdefault("configs", {})
    return data


def overrides(config: str | Path, *names: str) -> dict[str, Any]:
    """The calibrated values the overlays ``names`` hold for ``config`` (matched by file
    stem), merged in order (a later overlay wins): ``{dotted key: value}``, what
    ``Simulation.from_toml(path, set=...)`` takes."""
    stem = Path(config).stem
    merged: dict[str, Any] = {}
    for name in names:
        merged.update(read_overlay(name)["configs"].get(stem, {}))
    return merged


def set_args(config: str | Path, *names: str) -> list[str]:
    """:func:`overrides` as CLI arguments: ``["--set", "key=value", ...]``."""
    from heterofem.solver.simulation import override_strings

    return [arg for s in override_strings(overrides(config, *names)) for arg in ("--set", s)]


def write_overlay(name: str, *, study: str, report: Path | None,
                  parameters: Mapping[str, Mapping[str, float]],
                  configs: Mapping[str, Mapping[str, Any]], note: str = "",
                  date: str | None = None) -> Path:
    """Write ``studies/calibrated/<name>.toml`` (replacing it): ``parameters`` {name: {value,
    std, ...}}, ``configs`` {config stem: {dotted key: value}}, ``date`` of the fit (ISO,
    default today); returns its path."""
    calibration = {"study": study, "date": date or datetime.date.today().isoformat()}
    if report is not None:
        calibration["report"] = str(Path(report).resolve().relative_to(ROOT))
    if note:
        calibration["note"] = note
    data = {"calibration": calibration,
            "parameters": {k: dict(v) for k, v in parameters.items()},
            "configs": {k: dict(v) for k, v in configs.items()}}
    path = overlay_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (f"# Calibrated values written by {study}.\n# The studies apply [configs] over the "
              "problem configs (heterofem.studies.overlay).\n# Rerun the calibration to change "
              "them; do not edit by hand.\n")
    path.write_text(header + tomli_w.dumps(data))
    return path
