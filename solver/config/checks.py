"""The checks that read the config alone: layer names and materials, facet names, features,
switches, time steps, vectors. The features' geometry is checked by the mesher's own
:func:`heterofem.meshes.features.feature_problems` (one definition of each check).

They run, with the checks the physics own (:mod:`heterofem.solver.physics.checks`), in the
one validation pass of :mod:`heterofem.solver.validation`.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from heterofem.meshes.features import feature_problems
from heterofem.meshes.geometry import layer_name_problems
from heterofem.solver.config.schema import NOT_IMPLEMENTED_PHYSICS, Config


def layer_checks(cfg: Config, known: set[str]) -> list[tuple[str, str]]:
    """Unique names, known materials, vacuum only on top and never polar."""
    problems: list[tuple[str, str]] = []
    names = [lay.name for lay in cfg.layers]
    known = known | set(cfg.materials)
    problems.extend(layer_name_problems(names))
    for i, lay in enumerate(cfg.layers):
        if lay.material not in known:
            close = difflib.get_close_matches(lay.material, sorted(known), n=1)
            hint = f"did you mean '{close[0]}'?" if close else "see `heterofem materials`"
            problems.append(
                (f"layers.{i}.material", f"unknown material '{lay.material}'; {hint} "
                 "(or define it under [materials.<name>])")
            )
        if lay.material == "vacuum" and i != len(cfg.layers) - 1:
            problems.append((f"layers.{i}.material", "vacuum is allowed only as the top layer"))
        if lay.material == "vacuum" and lay.polar:
            problems.append((f"layers.{i}.polar", "vacuum carries no polarization; remove polar "
                             "or set it to false"))
    if all(lay.material == "vacuum" for lay in cfg.layers):
        problems.append(("layers", "the stack needs at least one solid layer"))
    return problems


def facet_checks(cfg: Config) -> list[tuple[str, str]]:
    """Every [boundary.<facet>] names a facet set the built-in mesher creates."""
    problems: list[tuple[str, str]] = []
    if cfg.mesh.file is None:
        valid = cfg.facet_names()
        for facet in cfg.boundary:
            if facet not in valid:
                close = difflib.get_close_matches(facet, valid, n=1)
                hint = f"did you mean '{close[0]}'?" if close else ""
                problems.append(
                    (f"boundary.{facet}",
                     f"no facet named '{facet}' in this {cfg.run.dimension}D stack; {hint} "
                     f"valid names: {', '.join(valid)}")
                )
    return problems


def feature_checks(cfg: Config) -> list[tuple[str, str]]:
    """Lateral features lie inside the domain, on a layer with one above, and fit in it (the
    mesher's checks, :func:`heterofem.meshes.features.feature_problems`); an external mesh
    file exists."""
    problems = feature_problems(cfg.stack_geometry())
    if cfg.mesh.file is not None and not Path(cfg.mesh.file).is_file():
        problems.append(("mesh.file", f"cannot read '{cfg.mesh.file}'; give an existing Gmsh "
                         ".msh file"))
    return problems


def switch_checks(cfg: Config) -> list[tuple[str, str]]:
    """Switches this version cannot solve."""
    problems: list[tuple[str, str]] = []
    for switch in NOT_IMPLEMENTED_PHYSICS:
        if getattr(cfg.physics, switch):
            problems.append((f"physics.{switch}", "not implemented yet in this version; set it to false"))
    if not cfg.physics.electrostatics:
        problems.append(("physics.electrostatics", "the potential is always solved in this version; "
                         "set it to true"))
    return problems


def vector_checks(cfg: Config) -> list[tuple[str, str]]:
    """Displacement and traction vectors have one component per dimension."""
    problems: list[tuple[str, str]] = []
    for name, bc in cfg.boundary.items():
        for key in ("displacement_nm", "traction_GPa"):
            vec = getattr(bc, key)
            if vec is not None and len(vec) != cfg.run.dimension:
                problems.append((f"boundary.{name}.{key}", f"give {cfg.run.dimension} components "
                                 "(x, [y,] z)"))
    return problems


def time_checks(cfg: Config) -> list[tuple[str, str]]:
    """The step sizes and output times of a transient fit its end time."""
    problems: list[tuple[str, str]] = []
    t = cfg.time
    if t is None:
        return problems
    if t.dt_initial_s > t.end_s:
        problems.append(("time.dt_initial_s", "must not exceed end_s"))
    if t.dt_min > t.dt_initial_s:
        problems.append(("time.dt_min_s", "must not exceed dt_initial_s"))
    if t.dt_max < t.dt_min:
        problems.append(("time.dt_max_s", "must not be below dt_min_s (default dt_initial_s "
                         "x 1e-6)"))
    for j, to in enumerate(t.output_times_s):
        if to > t.end_s:
            problems.append((f"time.output_times_s.{j}", f"{to} s is after end_s = {t.end_s} s"))
    return problems
