"""What the mesher needs to know about a stack: :class:`StackGeometry`.

The mesher takes this small, frozen description (layers and thicknesses, lateral extent,
features, cell sizes, an external file, the cell budget) instead of the whole run
configuration, so that the meshes package does not depend on the solver package: the solver
builds it from its config (``Config.stack_geometry()``).

Sizes are nanometres; z (the growth axis) starts at 0 at the bottom of ``layers[0]``.
Also here: the naming of the facet sets (:func:`interface_name`, outer sides), which the
config uses for its ``[boundary.<facet>]`` keys, and the check that layer names are unique.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


def interface_name(lower: str, upper: str) -> str:
    """Name of the facet set between two layers (TOML: ``[boundary."film/substrate"]``)."""
    return f"{lower}/{upper}"


class MeshError(Exception):
    """One or more problems with the mesh (geometry, external file, physical names).

    ``problems`` is a list of ``(key, message)`` pairs; the message says what is wrong and how
    to fix it (the same shape as the config's ``ConfigError``).
    """

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = list(problems)
        super().__init__(self.format())

    def format(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} with the mesh:"
        return "\n".join([head] + [f"  - {key}: {msg}" for key, msg in self.problems])


@dataclass(frozen=True)
class FeatureSpec:
    """A lateral feature on top of a layer (2D/3D): the layer's material protrudes upward into
    the layer above it (see :mod:`heterofem.meshes.features`).

    - ``step``: the layer is ``height_nm`` thicker for x > ``x_nm`` (default: mid-width);
    - ``island``: a block ``width_nm`` (x) by ``depth_nm`` (y, 3D) by ``height_nm`` centred at
      (``x_nm``, ``y_nm``) (default: the centre).
    """

    type: Literal["step", "island"]
    layer: str
    height_nm: float
    x_nm: float | None = None
    y_nm: float | None = None
    width_nm: float | None = None
    depth_nm: float | None = None


@dataclass(frozen=True)
class StackGeometry:
    """The stack to mesh: layers bottom to top, lateral extent, features and cell sizes."""

    #: 1, 2 or 3 (2D is an x-z cross-section)
    dimension: int
    #: ``(name, thickness_nm)`` of every layer, bottom to top
    layers: tuple[tuple[str, float], ...]
    #: lateral extent along x (2D, 3D) and y (3D) [nm]
    width_nm: float = 20.0
    depth_nm: float = 20.0
    features: tuple[FeatureSpec, ...] = ()
    #: cell size away from interfaces [nm]
    size_nm: float = 1.0
    #: cell size at interfaces [nm]; None: size_nm / 4
    interface_size_nm: float | None = None
    #: distance from an interface over which the size grows back to size_nm [nm]
    refine_distance_nm: float = 2.0
    #: an external Gmsh .msh file whose physical names match the layer names (replaces meshing)
    file: str | None = None
    #: the largest cell count accepted (estimated before meshing)
    max_cells: int = 2_000_000
    #: "auto" (structured for flat layers, Gmsh with features or a file), "structured", "gmsh"
    generator: str = "auto"
    #: uniform refinements of the distributed mesh after meshing (each halves every edge)
    refine_levels: int = 0

    @property
    def h_interface(self) -> float:
        """The cell size at interfaces [nm]."""
        return self.interface_size_nm if self.interface_size_nm else self.size_nm / 4.0

    @property
    def layer_names(self) -> list[str]:
        return [name for name, _ in self.layers]

    @property
    def total_thickness_nm(self) -> float:
        return sum(thickness for _, thickness in self.layers)

    def layer_bounds_nm(self) -> list[tuple[float, float]]:
        """(z_bottom, z_top) of every layer, bottom to top."""
        bounds, z = [], 0.0
        for _, thickness in self.layers:
            bounds.append((z, z + thickness))
            z += thickness
        return bounds

    def interface_names(self) -> list[str]:
        """The facet sets between touching layers, bottom to top."""
        names = self.layer_names
        return [interface_name(a, b) for a, b in zip(names, names[1:])]

    def facet_names(self) -> list[str]:
        """Every named facet set the built-in mesher creates: the outer sides (bottom, top;
        left, right in 2D and 3D; front, back in 3D), then the interfaces."""
        outer = ["bottom", "top"]
        if self.dimension >= 2:
            outer += ["left", "right"]
        if self.dimension == 3:
            outer += ["front", "back"]
        return outer + self.interface_names()


def layer_name_problems(names: list[str]) -> list[tuple[str, str]]:
    """Layer names used more than once, as ``("layers.<i>.name", message)`` for each repeat
    (cell and facet groups are named after the layers, so names must be unique)."""
    return [(f"layers.{i}.name", f"layer name '{name}' is used twice; names must be unique")
            for i, name in enumerate(names) if names.count(name) > 1]
