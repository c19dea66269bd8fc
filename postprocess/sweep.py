"""A directory of run directories (:class:`Sweep`, :func:`load_sweep`), reference data
(:class:`Reference`, :func:`read_reference`) and the reference CSVs a problem names.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path

import numpy as np

from heterofem.postprocess.files import (
    PlotError,
    _run_subdirs,
    flat_scalars,
    legacy_unit_from_suffix,
    read_csv_columns,
    read_units,
)
from heterofem.postprocess.names import check_not_renamed
from heterofem.postprocess.rundir import Run, load_run


# -- sweeps ----------------------------------------------------------------------------------------
def _layer_index_key(key: str, config: dict) -> str:
    """``layers.film.thickness_nm`` -> ``layers.1.thickness_nm`` (the index form of config keys)."""
    parts = key.split(".")
    if len(parts) > 2 and parts[0] == "layers" and not parts[1].isdigit():
        names = [lay.get("name") for lay in config.get("layers", [])]
        if parts[1] in names:
            parts[1] = str(names.index(parts[1]))
    return ".".join(parts)


def is_sweep_dir(path: str | os.PathLike) -> bool:
    path = Path(path)
    return path.is_dir() and not (path / "summary.json").is_file() and bool(_run_subdirs(path))


@dataclass
class Reference:
    """Reference data points from a CSV file (columns ``x``, ``y``, optional ``yerr``; comment
    lines ``# field: NAME``, ``# label: TEXT``, ``# source: ...``)."""

    path: Path
    x: np.ndarray
    y: np.ndarray
    yerr: np.ndarray | None = None
    field: str | None = None
    label: str | None = None
    meta: dict[str, str] = dc_field(default_factory=dict)


def read_reference(path: str | os.PathLike) -> Reference:
    """Read a reference CSV (see :class:`Reference`)."""
    path = Path(path)
    if not path.is_file():
        raise PlotError(f"reference file {path} does not exist or is not a file")
    meta: dict[str, str] = {}
    for line in path.read_text().splitlines():
        m = re.match(r"\s*#\s*([A-Za-z_]+)\s*:\s*(.*?)\s*$", line)
        if m:
            meta[m.group(1).lower()] = m.group(2)
    cols = read_csv_columns(path)
    lower = {k.strip().lower(): k for k in cols}
    if "x" not in lower or "y" not in lower:
        raise PlotError(f"reference file {path} needs columns x and y (has: {', '.join(cols)})")
    x, y = cols[lower["x"]], cols[lower["y"]]
    if x.dtype.kind != "f" or y.dtype.kind != "f":
        raise PlotError(f"reference file {path}: columns x and y must be numbers")
    yerr = cols[lower["yerr"]] if "yerr" in lower else None
    return Reference(path, x, y, yerr, meta.get("field"), meta.get("label") or path.stem, meta)


class Sweep:
    """A directory of run directories that differ in one (or more) config values: the output of
    a series script (``table.csv``) or of ``heterofem sweep`` (a directory per case, named by
    its parameters, ``sweep.csv`` with integer counts kept integers, ``sweep.units.json``).

    ``runs`` are sorted by the swept parameter ``parameter`` (a dotted config key such as
    ``layers.1.thickness_nm``), whose values are ``x``; ``parameters`` lists every numeric config
    value that varies; ``groups()`` splits the runs by the other parameters of a grid sweep;
    ``table`` holds table.csv (or None), ``sweep_table`` sweep.csv (or None); ``skipped`` the
    subdirectories that are not complete runs, ``failed`` the runs that did not converge and
    the failed cases of sweep.csv.
    """

    def __init__(self, path: Path, runs: list[Run], skipped: list[str],
                 parameter: str | None = None):
        self.path = Path(path)
        self.skipped = skipped
        flat = [flat_scalars(r.config) for r in runs]
        keys = [k for k in flat[0] if all(k in f for f in flat)]
        self.parameters: dict[str, list[float]] = {
            k: [f[k] for f in flat] for k in keys if len({f[k] for f in flat}) > 1}
        table = self.path / "table.csv"
        self.table = read_csv_columns(table) if table.is_file() else None
        swept = self.path / "sweep.csv"
        self.sweep_table = read_csv_columns(swept, keep_integers=True) if swept.is_file() \
            else None
        #: the keys ``heterofem sweep`` was given (sweep.csv's param.* columns), normalised
        self.swept_keys = [] if self.sweep_table is None else [
            _layer_index_key(c[len("param."):], runs[0].config)
            for c in self.sweep_table if c.startswith("param.")]
        if parameter is None:
            parameter = self._guess_parameter()
        else:
            parameter = _layer_index_key(parameter, runs[0].config)
        if parameter not in self.parameters:
            near = [k for k in self.parameters if k.endswith(parameter)]
            if len(near) == 1:
                parameter = near[0]
            else:
                raise PlotError(f"'{parameter}' does not vary across the runs in {self.path}; "
                                "varying: " + (", ".join(self.parameters) or "nothing"))
        self.parameter = parameter
        others = [self.parameters[k] for k in self._independent_others(parameter)]
        order = np.lexsort([np.asarray(o) for o in reversed(others)]
                           + [np.asarray(self.parameters[parameter])]) if others else \
            np.argsort(self.parameters[parameter], kind="stable")
        self.runs = [runs[i] for i in order]
        self.x = np.array([self.parameters[parameter][i] for i in order])
        self.failed = [r.path.name for r in self.runs if not r.converged]
        if self.sweep_table is not None and "status" in self.sweep_table:
            cases = self.sweep_table.get("case", np.array([""] * len(self.sweep_table["status"])))
            self.failed += [str(c) for c, st in zip(cases, self.sweep_table["status"])
                            if st == "failed" and str(c) not in self.failed]

    def __repr__(self) -> str:
        return f"Sweep({str(self.path)!r}: {len(self.runs)} runs over {self.parameter})"

    def _guess_parameter(self) -> str:
        if not self.parameters:
            raise PlotError(f"the {len(_run_subdirs(self.path))} run(s) in {self.path} do not "
                            "differ in any numeric config value; nothing to plot against")
        for key in self.swept_keys:  # heterofem sweep: the first --param that varies
            if key in self.parameters:
                return key
        if self.table is not None:  # the key the series script put first in table.csv
            first = next(iter(self.table))
            xs = self.table[first]
            for key, vals in self.parameters.items():
                if key.split(".")[-1] == first:
                    return key
            for key, vals in self.parameters.items():
                if xs.dtype.kind == "f" and len(xs) == len(vals) and \
                        np.allclose(sorted(xs), sorted(vals)):
                    return key
        for key in self.parameters:  # a thickness is the usual sweep
            if key.endswith("thickness_nm"):
                return key
        return next(iter(self.parameters))

    def _independent_others(self, parameter: str) -> list[str]:
        """The other varying keys that are not fixed by ``parameter`` (a grid sweep's other
        axes; a value that changes together with the parameter, as in a zipped sweep, is not)."""
        x = self.parameters[parameter]
        out = []
        for key, vals in self.parameters.items():
            if key == parameter:
                continue
            per_x: dict[float, set] = {}
            for xv, v in zip(x, vals):
                per_x.setdefault(xv, set()).add(v)
            if any(len(v) > 1 for v in per_x.values()):
                out.append(key)
        return out

    def groups(self) -> list[tuple[str, np.ndarray]]:
        """(label, indices into ``runs``) per combination of the other parameters of a grid
        sweep; one group labelled "" when only the parameter varies."""
        others = self._independent_others(self.parameter)
        if not others:
            return [("", np.arange(len(self.runs)))]
        flats = [flat_scalars(r.config) for r in self.runs]
        combos: dict[tuple, list[int]] = {}
        for i, f in enumerate(flats):
            combos.setdefault(tuple(f[k] for k in others), []).append(i)
        return [(", ".join(f"{k} = {v:g}" for k, v in zip(others, combo)), np.array(idx))
                for combo, idx in sorted(combos.items())]

    @property
    def parameter_label(self) -> str:
        key = self.parameter
        parts = key.split(".")
        label = key
        if parts[0] == "layers" and len(parts) > 2 and parts[1].isdigit():
            lay = self.runs[0].config["layers"][int(parts[1])]
            label = f"{key} ({lay['name']})"
        unit = self.unit(key)
        return f"{label} [{unit}]" if unit not in ("", "1") else label

    @property
    def parameter_axis_label(self) -> str:
        """The swept parameter as an axis label: "film thickness (nm)" for
        ``layers.<i>.thickness_nm``, else the key and its unit in parentheses."""
        from heterofem.postprocess.style import unit_tex

        key, parts = self.parameter, self.parameter.split(".")
        unit = self.unit(key)
        text = key
        if parts[0] == "layers" and len(parts) == 3 and parts[1].isdigit():
            lay = self.runs[0].config["layers"][int(parts[1])]
            name = parts[2].removesuffix("_" + unit.replace("/", "_")).replace("_", " ")
            text = f"{lay['name']} {name}"
        return f"{text} ({unit_tex(unit)})" if unit not in ("", "1") else text

    def unit(self, name: str) -> str:
        """The unit of a quantity: a summary scalar (the first run's ``units`` map), a column
        of table.csv / sweep.csv (their ``.units.json`` sidecars) or a swept config key. Config
        keys are input names whose suffix is their unit by the config schema's convention
        (docs/outputs.md); only they, and old run directories, are read by suffix."""
        for table in ("sweep.csv", "table.csv"):
            units = read_units(self.path / table)
            if name in units:
                return units[name]
        if name in self.parameters or name.startswith("param."):
            return legacy_unit_from_suffix(name)
        run = self.runs[0]
        try:
            kind, key = self.resolve(name)
        except PlotError:
            kind, key = "summary", name
        return run.unit(key) if kind == "summary" else legacy_unit_from_suffix(key)

    def scalar_names(self) -> list[str]:
        """Summary scalars (dotted paths) present in every run."""
        flats = [flat_scalars(r.summary) for r in self.runs]
        return [k for k in flats[0] if all(k in f for f in flats)]

    def resolve(self, name: str) -> tuple[str, str]:
        """('table', column) or ('summary', dotted path) for a quantity name: a table.csv column,
        a dotted summary path, or a unique ending of one (``max_displacement_pm``)."""
        if self.table is not None and name in self.table:
            return "table", name
        names = self.scalar_names()
        if name in names:
            return "summary", name
        ends = [k for k in names if k.endswith("." + name) or k.endswith(name)]
        if not ends:
            check_not_renamed(name, PlotError)  # an old name (#24): say the new one
        if len(ends) == 1:
            return "summary", ends[0]
        hint = (f"it could be {', '.join(ends[:8])}" if ends else
                "table.csv columns: "
                + (", ".join(self.table) if self.table is not None else "none")
                + "; summary scalars e.g. " + ", ".join(self.default_quantities(8) or names[:8]))
        raise PlotError(f"no summary scalar or table column '{name}' in {self.path}; {hint}")

    def values(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of a quantity against the swept parameter (NaN where a run lacks it)."""
        kind, key = self.resolve(name)
        if kind == "table":
            first = next(iter(self.table))
            tx = np.asarray(self.table[first], dtype=float)
            if tx.shape != self.x.shape or not np.allclose(np.sort(tx), self.x):
                raise PlotError(f"table.csv's first column ({first}) is not the swept parameter "
                                f"{self.parameter} of the runs in {self.path}; plot summary "
                                "scalars instead (or choose --param)")
            return tx, np.asarray(self.table[key], dtype=float)
        ys = [flat_scalars(r.summary).get(key, np.nan) for r in self.runs]
        return self.x, np.array(ys, dtype=float)

    def default_quantities(self, limit: int = 6) -> list[str]:
        """table.csv's columns (but the first), else the physics summary scalars that vary."""
        if self.table is not None:
            cols = [c for c in list(self.table)[1:] if self.table[c].dtype.kind == "f"]
            if cols:
                return cols[:limit]
        names = self.scalar_names()
        varying = [k for k in names
                   if len({flat_scalars(r.summary).get(k) for r in self.runs} - {None}) > 1]
        rank = {k: next((i for i, h in enumerate(HEADLINE_SCALARS) if re.fullmatch(h, k)), None)
                for k in varying}
        headline = [k for k in varying if rank[k] is not None]
        if headline:  # the physics' headline scalars (work function, P, epitaxy, transfer)
            return sorted(headline, key=lambda k: rank[k])[:limit]
        skip = ("mesh.", "dofs", "time.", "pseudo_transient.", "newton_iterations", "dimension",
                "interfaces.")
        out = []
        for k in names:
            if k.startswith(skip):
                continue
            vals = [flat_scalars(r.summary).get(k) for r in self.runs]
            if len({v for v in vals if v is not None}) > 1:
                out.append(k)
        return out[:limit]

    def problem_references(self) -> list[Reference]:
        """Reference CSVs the problem names: ``<config dir>/reference/<config stem>*.csv`` (and
        ``<run name>*.csv``), the config being the one in the first run's command line."""
        return problem_references(self.runs[0])


#: the summary scalars a sweep picture shows (regular expressions, in order), what each physics
#: is for; other varying scalars only when none of these varies
HEADLINE_SCALARS = (
    r"work_function\.work_function_eV", r"work_function\.polarization_eV",
    r"polarization\.interfaces\.[^.]+\.P_C_per_m2", r"polarization\.max_abs_P_C_per_m2",
    r"crystallization\.epitaxial_thickness_nm", r"crystallization\.deposited_thickness_nm",
    r"vacancies\.oxygen_transferred_up_per_m2\.[^.]+", r"vacancies\.total_inventory_per_m2",
    r"electrostatics\.potential_drop_V", r"electrostatics\.electrostatic_energy_J_per_m2",
)

#: axis labels of the headline scalars (regular expression -> label; groups fill {1}, {2})
SCALAR_LABELS = (
    (r"work_function\.work_function_eV", r"work function $\Phi$"),
    (r"work_function\.(\w+)_eV", r"{1} part of $\Phi$"),
    (r"polarization\.interfaces\.([^.]+)\.P_C_per_m2", r"$P_z$ at {1}"),
    (r"polarization\.max_abs_P_C_per_m2", r"largest $|P|$"),
    (r"crystallization\.epitaxial_thickness_nm", "epitaxial thickness"),
    (r"crystallization\.deposited_thickness_nm", "deposited thickness"),
    (r"vacancies\.oxygen_transferred_up_per_m2\.([^.]+)", "O transferred up, {1}"),
    (r"vacancies\.total_inventory_per_m2", "vacancy inventory"),
    (r"electrostatics\.potential_drop_V", "potential drop"),
    (r"electrostatics\.electrostatic_energy_J_per_m2", "electrostatic energy"),
)


def scalar_label(key: str) -> str:
    """A physical name for a summary scalar on an axis (:data:`SCALAR_LABELS`), else the dotted
    key broken at its dots into lines of at most 30 characters."""
    for pattern, label in SCALAR_LABELS:
        m = re.fullmatch(pattern, key)
        if m:
            return label.format(None, *(g.replace("_", " ") for g in m.groups()))
    lines = [""]
    for part in key.split("."):
        add = f".{part}" if lines[-1] else part
        if lines[-1] and len(lines[-1]) + len(add) > 30:
            lines.append(part)
        else:
            lines[-1] += add
    return "\n".join(lines)


def problem_references(run: Run) -> list[Reference]:
    cmd = run.summary.get("command_line") or []
    config = None
    for i, arg in enumerate(cmd[:-1]):
        if arg == "run":
            config = Path(cmd[i + 1])
            break
    if config is None or not config.is_file():
        return []
    ref_dir = config.parent / "reference"
    if not ref_dir.is_dir():
        return []
    found = sorted(set(ref_dir.glob(f"{config.stem}*.csv")) | set(ref_dir.glob(f"{run.name}*.csv")))
    return [read_reference(p) for p in found]


def load_sweep(path: str | os.PathLike, parameter: str | None = None) -> Sweep:
    """Open a sweep directory: every subdirectory with a summary.json is a run; the swept
    parameter is detected from the runs' config.resolved.toml (or given, e.g.
    ``layers.1.thickness_nm``)."""
    path = Path(path)
    if not path.is_dir():
        raise PlotError(f"{path} does not exist" if not path.exists() else
                        f"{path} is not a directory")
    runs, skipped = [], []
    for sub in sorted(p for p in path.iterdir() if p.is_dir()):
        try:
            runs.append(load_run(sub))
        except PlotError as exc:
            if (sub / "summary.json").exists() or (sub / "config.resolved.toml").exists():
                skipped.append(f"{sub.name}: {exc}")
    if not runs:
        raise PlotError(f"{path} holds no heterofem run directories (subdirectories with "
                        "summary.json)" + (f"; skipped: {'; '.join(skipped)}" if skipped else ""))
    if len(runs) < 2:
        raise PlotError(f"{path} holds only one run ({runs[0].path.name}); a sweep needs two "
                        "or more")
    return Sweep(path, runs, skipped, parameter)
