"""The materials database: one TOML file per material, every value with a unit and a source.

Each ``<name>.toml`` beside this module holds ``name``, ``description``, ``kind`` (one of
:data:`KINDS`) and a ``[parameters]`` table whose entries are inline tables::

    eps_r_c = { value = 170.0, unit = "dimensionless", source = "Parker, PRB 124, 1719 (1961)",
                status = "V", note = "300 K, along c" }

``unit`` is any unit string pint parses; ``status`` is the mark of ``PARAMETERS.md`` (V seen in
a source, L recalled literature value, D derived, E estimate to calibrate). Tensor properties
are given in crystal axes (a, b, c of the rutile cell; ``*_a`` is perpendicular to c, ``*_c``
along c); the layer orientation rotates them elsewhere.

A run config can change the database without editing it (``[materials.<name>]``):

- override a database value: ``eps_r_c = 120.0`` (bare number, in the database's unit, source
  "config override") or a table ``screening_length = { value = 0.5, unit = "angstrom",
  source = "fit" }`` whose unit has the database's dimension (unit and source default to the
  database's unit and "config override"); a parameter the database lacks needs the full
  table ``{ value, unit, source }``;
- define a new material: ``kind`` and every parameter as ``{ value, unit, source }``, or
  ``base = "TiO2"`` to start from a database material and change some values.

:func:`resolve_materials` applies that to the materials the layers use and collects *every*
problem into one :class:`MaterialError`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

import numpy as np


from heterofem.solver.materials.model import (  # noqa: F401 (the public names)
    KINDS,
    KNOWN_UNITS,
    Material,
    MaterialError,
    Param,
    REQUIRED_ALL,
    REQUIRED_BY_KIND,
    STATUS_MEANING,
    unit_registry,
)
from heterofem.solver.materials.model import _dimensionality  # noqa: F401 (unit checks)
from heterofem.solver.materials.database import (  # noqa: F401 (the public names)
    known_material_names,
    load_database,
)
from heterofem.solver.materials.overrides import (  # noqa: F401 (the public names)
    NON_NEGATIVE_KEYS,
    POSITIVE_KEYS,
    collect_materials,
    resolve_materials,
)


def _as_material(material: Material | str) -> Material:
    if isinstance(material, Material):
        return material
    db = load_database()
    if material not in db:
        raise KeyError(f"unknown material '{material}'; known: {', '.join(sorted(db))}")
    return db[material]


def eps_tensor_crystal(material: Material | str) -> np.ndarray:
    """Static relative permittivity in crystal axes (a, b, c): diag(eps_r_a, eps_r_a, eps_r_c)."""
    mat = _as_material(material)
    ea = mat.value("eps_r_a", "dimensionless")
    ec = mat.value("eps_r_c", "dimensionless")
    return np.diag([ea, ea, ec])


def lattice_misfit(film: Material | str, substrate: Material | str,
                   key: str = "c_lattice") -> float:
    """Epitaxial misfit strain of ``film`` clamped to ``substrate`` along the lattice constant
    ``key``: (d_substrate - d_film) / d_film (negative: the film is compressed)."""
    f = _as_material(film).value(key, "m")
    s = _as_material(substrate).value(key, "m")
    return (s - f) / f


# -- description for `heterofem materials` ----------------------------------------------------


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header) - 1)]

    def line(r: list[str]) -> str:
        cells = [c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)] + [r[-1]]
        return "  ".join(cells).rstrip()

    return [line(header), line(["-" * w for w in widths] + ["-" * len(header[-1])])] + [
        line(r) for r in rows
    ]


def describe(name: str | None = None, materials: Mapping[str, Material] | None = None) -> str:
    """A readable table: with no ``name`` one line per material (kind, description); with a
    ``name`` every parameter with value, unit, status and source. ``materials`` (e.g. from
    :func:`resolve_materials`) replaces the database as what is described."""
    mats = dict(materials) if materials is not None else load_database()
    if name is None:
        rows = [[m.name, m.kind, str(len(m.params)), m.description]
                for m in sorted(mats.values(), key=lambda m: m.name.lower())]
        lines = _table(rows, ["material", "kind", "params", "description"])
        lines.append("")
        lines.append("`heterofem materials NAME` lists a material's values and sources.")
        return "\n".join(lines)
    if name not in mats:
        close = difflib.get_close_matches(name, list(mats), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise MaterialError([(name, f"unknown material; {hint}known: {', '.join(sorted(mats))}")])
    m = mats[name]
    rows, notes = [], {}
    for key, p in m.params.items():
        rows.append([key, f"{p.value:g}", p.unit, p.status or "-", p.source])
        if p.note:
            notes[key] = p.note
    lines = [f"{m.name} ({m.kind}): {m.description}"]
    if m.origin:
        lines.append(f"from: {m.origin}")
    lines.append("")
    for row in _table(rows, ["parameter", "value", "unit", "status", "source"]):
        lines.append(row)
        key = row.split("  ", 1)[0].strip()
        if key in notes:
            indent = len(row) - len(row.lstrip())
            lines.append(" " * (indent + 4) + f"note: {notes[key]}")
    lines.append("")
    lines.append("status marks (PARAMETERS.md):")
    lines.extend(f"  {k}: {v}" for k, v in STATUS_MEANING.items())
    return "\n".join(lines)


__all__ = [
    "KINDS",
    "KNOWN_UNITS",
    "STATUS_MEANING",
    "Material",
    "MaterialError",
    "Param",
    "collect_materials",
    "describe",
    "eps_tensor_crystal",
    "known_material_names",
    "lattice_misfit",
    "load_database",
    "resolve_materials",
    "unit_registry",
]
