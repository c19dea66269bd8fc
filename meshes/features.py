"""Lateral features (terrace steps, islands) as axis-aligned blocks, and the checks that they
can be meshed.

A feature is a block of a layer's material that sits on the layer's top surface and protrudes
into the layer above (see :class:`heterofem.meshes.geometry.FeatureSpec`). This module
computes the blocks' positions (:mod:`heterofem.meshes.stack` turns them into OCC solids) and
is the one home of the feature checks (:func:`feature_problems`): the config's validation
pass reports them under their ``mesh.features.<j>`` keys, and the mesher refuses a geometry
that fails them before Gmsh sees it.

Coordinates are nanometres, ``(x, y, z)`` with z the growth axis; in 2D the y entries are
ignored (the block spans the cross-section).
"""

from __future__ import annotations

from dataclasses import dataclass

from heterofem.meshes.geometry import FeatureSpec, StackGeometry


@dataclass(frozen=True)
class Block:
    """An axis-aligned block filled with the material of ``layer``."""

    layer: str
    #: lower corner (x, y, z) [nm]
    lower: tuple[float, float, float]
    #: extents (dx, dy, dz) [nm]
    size: tuple[float, float, float]

    def measure(self, dim: int) -> float:
        """Area (2D: dx * dz) or volume (3D: dx * dy * dz) of the block [nm^dim]."""
        dx, dy, dz = self.size
        return dx * dz if dim == 2 else dx * dy * dz

    @property
    def upper(self) -> tuple[float, float, float]:
        return tuple(a + b for a, b in zip(self.lower, self.size))  # type: ignore[return-value]


def _lateral(geometry: StackGeometry, feature: FeatureSpec) -> tuple[tuple[float, float],
                                                                       tuple[float, float]]:
    """((x0, y0), (dx, dy)) of a feature's block [nm]: a step spans x_nm..width and the whole
    depth; an island is centred at (x_nm, y_nm) (3D; in 2D it spans the depth). A missing
    island width counts as 0."""
    width, depth = geometry.width_nm, geometry.depth_nm
    x = feature.x_nm if feature.x_nm is not None else width / 2
    if feature.type == "step":
        return (x, 0.0), (width - x, depth)
    y = feature.y_nm if feature.y_nm is not None else depth / 2
    w = feature.width_nm or 0.0
    three_d = geometry.dimension == 3
    d = feature.depth_nm if (feature.depth_nm and three_d) else depth
    return (x - w / 2, y - d / 2 if three_d else 0.0), (w, d)


def feature_block(geometry: StackGeometry, feature: FeatureSpec) -> Block:
    """The block of one feature, sitting on the top of its layer."""
    z_top = geometry.layer_bounds_nm()[geometry.layer_names.index(feature.layer)][1]
    (x0, y0), (dx, dy) = _lateral(geometry, feature)
    return Block(feature.layer, (x0, y0, z_top), (dx, dy, feature.height_nm))


def feature_blocks(geometry: StackGeometry) -> list[Block]:
    """The blocks of all features of the geometry, in config order."""
    return [feature_block(geometry, feat) for feat in geometry.features]


def feature_problems(geometry: StackGeometry) -> list[tuple[str, str]]:
    """Problems that make the features unmeshable, as ``(key, message)`` with the config's
    dotted keys (``mesh.features.<j>.<field>``): features in 1D, a feature on an unknown or
    the top layer, one as high as the layer above, an island without its width (depth in
    3D), and a block not strictly inside the lateral extent."""
    dim, names = geometry.dimension, geometry.layer_names
    if geometry.features and dim == 1:
        return [("mesh.features", "lateral features need dimension 2 or 3; remove them or set "
                 "run.dimension")]
    problems: list[tuple[str, str]] = []
    for j, feat in enumerate(geometry.features):
        key = f"mesh.features.{j}"
        if feat.layer not in names:
            problems.append((f"{key}.layer", f"no layer named '{feat.layer}'; use one of "
                             f"{', '.join(names)}"))
        elif feat.layer == names[-1]:
            problems.append((f"{key}.layer", "a feature protrudes into the layer above; the top "
                             "layer has none (add a vacuum layer on top)"))
        else:
            above, thickness = geometry.layers[names.index(feat.layer) + 1]
            if feat.height_nm >= thickness:
                problems.append((f"{key}.height_nm", f"must be smaller than the thickness of "
                                 f"layer '{above}' above it ({thickness} nm)"))
        island = feat.type == "island"
        if island and feat.width_nm is None:
            problems.append((f"{key}.width_nm", "an island needs width_nm"))
        if island and dim == 3 and feat.depth_nm is None:
            problems.append((f"{key}.depth_nm", "a 3D island needs depth_nm"))
        problems.extend(_inside_problems(geometry, feat, key))
    return problems


def _inside_problems(geometry: StackGeometry, feat: FeatureSpec, key: str
                     ) -> list[tuple[str, str]]:
    """The feature's block must lie strictly inside the lateral extent (a step reaches the
    right side by construction; along y only a 3D island is bounded)."""
    lower, size = _lateral(geometry, feat)
    extent = (geometry.width_nm, geometry.depth_nm)
    island = feat.type == "island"
    axes = [(0, "x_nm")]
    if geometry.dimension == 3 and island and feat.depth_nm is not None:
        axes.append((1, "y_nm"))
    problems = []
    for axis, label in axes:
        lo, hi = lower[axis], lower[axis] + size[axis]
        inside = (0.0 < lo and hi < extent[axis]) if island else (0.0 < lo < extent[axis])
        if not inside:
            size_key = ("width_nm", "depth_nm")[axis]
            problems.append((f"{key}.{label}", f"the feature must lie strictly inside "
                             f"0 < {label[0]} < mesh.{size_key} = {extent[axis]} nm"))
    return problems
