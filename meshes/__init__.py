"""heterofem meshes: the layered stack (with lateral features) as a DOLFINx mesh with named
cell tags (one per layer) and facet tags (outer sides and layer interfaces), and .msh/XDMF I/O.
Flat stacks get a structured grid (``structured``), stacks with features Gmsh (``stack``);
either can be refined in parallel after distribution (``refine``, ``[mesh] refine_levels``).

The mesher takes a :class:`StackGeometry` (layers, thicknesses, features, sizes), not the run
configuration; this package imports nothing of the solver.

The names below load on first use (PEP 562): the light modules (``geometry``, ``features``,
``budget``: plain Python) can be imported, e.g. by the config's checks, without Gmsh and
DOLFINx, which only ``stack`` needs.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> submodule that defines it
_EXPORTS = {
    "MIN_SIZE_NM": "budget",
    "check_mesh_file": "budget",
    "estimate_cells": "budget",
    "honour_problems": "budget",
    "size_problems": "budget",
    "Block": "features",
    "feature_blocks": "features",
    "feature_problems": "features",
    "FeatureSpec": "geometry",
    "StackGeometry": "geometry",
    "interface_name": "geometry",
    "CELL_TAGS_NAME": "stack",
    "FACET_TAGS_NAME": "stack",
    "MeshError": "geometry",
    "GENERATORS": "structured",
    "create_structured_mesh": "structured",
    "structured_cell_count": "structured",
    "uses_structured": "structured",
    "refine_tagged": "refine",
    "StackMesh": "stack",
    "build_gmsh_model": "stack",
    "create_stack_mesh": "stack",
    "mesh_statistics": "stack",
    "write_mesh_xdmf": "stack",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Load ``name`` from its submodule on first access (then it is a module attribute)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
