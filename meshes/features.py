"""Lateral features (terrace steps, islands) as axis-aligned blocks.

A feature is a block of a layer's material that sits on the layer's top surface and protrudes
into the layer above (see :class:`heterofem.solver.config.Feature`). This module only computes
the blocks' positions; :mod:`heterofem.meshes.stack` turns them into OCC solids.

Coordinates are nanometres, ``(x, y, z)`` with z the growth axis; in 2D the y entries are
ignored (the block spans the cross-section).
"""

from __future__ import annotations

from dataclasses import dataclass

from heterofem.solver.config import Config, Feature


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


def feature_block(cfg: Config, feature: Feature) -> Block:
    """The block of one feature, sitting on the top of its layer."""
    width, depth = cfg.mesh.width_nm, cfg.mesh.depth_nm
    names = [lay.name for lay in cfg.layers]
    z_top = cfg.layer_bounds_nm()[names.index(feature.layer)][1]
    x = feature.x_nm if feature.x_nm is not None else width / 2
    if feature.type == "step":
        return Block(feature.layer, (x, 0.0, z_top), (width - x, depth, feature.height_nm))
    y = feature.y_nm if feature.y_nm is not None else depth / 2
    w = feature.width_nm or 0.0
    d = feature.depth_nm if (feature.depth_nm and cfg.run.dimension == 3) else depth
    y0 = y - d / 2 if cfg.run.dimension == 3 else 0.0
    return Block(feature.layer, (x - w / 2, y0, z_top), (w, d, feature.height_nm))


def feature_blocks(cfg: Config) -> list[Block]:
    """The blocks of all features in ``cfg.mesh.features``, in config order."""
    return [feature_block(cfg, feat) for feat in cfg.mesh.features]


def feature_problems(cfg: Config) -> list[tuple[str, str]]:
    """Geometric problems that would make the features unmeshable, as ``(key, message)``.

    Mirrors the config cross-checks (which a config built with ``Config.model_validate``
    skips) so that :func:`heterofem.meshes.stack.build_gmsh_model` fails with a clear message
    instead of a Gmsh error.
    """
    problems: list[tuple[str, str]] = []
    dim = cfg.run.dimension
    names = [lay.name for lay in cfg.layers]
    if cfg.mesh.features and dim == 1:
        return [("mesh.features", "lateral features need dimension 2 or 3; remove them or set "
                 "run.dimension")]
    extent = (cfg.mesh.width_nm, cfg.mesh.depth_nm)
    for j, feat in enumerate(cfg.mesh.features):
        key = f"mesh.features.{j}"
        if feat.layer not in names:
            problems.append((f"{key}.layer", f"no layer named '{feat.layer}'; use one of "
                             f"{', '.join(names)}"))
            continue
        i = names.index(feat.layer)
        if i == len(names) - 1:
            problems.append((f"{key}.layer", "a feature protrudes into the layer above; the top "
                             "layer has none (add a vacuum layer on top)"))
            continue
        above = cfg.layers[i + 1]
        if feat.height_nm >= above.thickness_nm:
            problems.append((f"{key}.height_nm", f"must be smaller than the thickness of layer "
                             f"'{above.name}' above it ({above.thickness_nm} nm)"))
        if feat.type == "island" and feat.width_nm is None:
            problems.append((f"{key}.width_nm", "an island needs width_nm"))
            continue
        if feat.type == "island" and dim == 3 and feat.depth_nm is None:
            problems.append((f"{key}.depth_nm", "a 3D island needs depth_nm"))
            continue
        block = feature_block(cfg, feat)
        # a step spans x_nm..width and the whole depth; an island must lie strictly inside
        axes = ((0, "x_nm"), (1, "y_nm"))[: 2 if (dim == 3 and feat.type == "island") else 1]
        for axis, label in axes:
            lo, hi = block.lower[axis], block.upper[axis]
            inside = 0.0 < lo and (hi < extent[axis] or feat.type == "step")
            if not inside or block.size[axis] <= 0.0:
                size_key = ("width_nm", "depth_nm")[axis]
                problems.append((f"{key}.{label}", f"the feature must lie strictly inside "
                                 f"0 < {label[0]} < mesh.{size_key} = {extent[axis]} nm"))
    return problems
