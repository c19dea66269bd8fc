"""Heights of the interfaces along the profile line, for ``summary.json`` (``interfaces``).

The profile line runs along z through the lateral centre of the stack (``profiles.csv``,
:meth:`heterofem.solver.domain.Domain.centre_line`). Along it the layers follow the config's
thicknesses, except where a mesh feature (a terrace step, an island: an axis-aligned block of
a layer's material on its top, :mod:`heterofem.meshes.features`) crosses the line and moves
an interface up. The solver writes these heights so that the post-processing does not have
to search the fields' ``layer_id`` for them.
"""

from __future__ import annotations

from heterofem.meshes.features import Block, feature_blocks
from heterofem.meshes.geometry import StackGeometry, interface_name


def _crosses_centre(block: Block, geometry: StackGeometry) -> bool:
    """Whether the block covers the lateral centre (its faces included: a step whose edge is
    at the centre lifts the interface there, as the meshed cells do)."""
    centre = (geometry.width_nm / 2, geometry.depth_nm / 2)
    axes = {1: 0, 2: 1, 3: 2}[geometry.dimension]
    return all(lo <= c <= lo + size
               for c, lo, size in zip(centre[:axes], block.lower, block.size))


def interface_heights(geometry: StackGeometry) -> dict[str, dict]:
    """``{"below/above": {"z_nm": z, "below": name, "above": name}}`` for every change of
    layer along the profile line, bottom to top (a name seen twice gets ``#2``, ...)."""
    bounds = geometry.layer_bounds_nm()
    names = geometry.layer_names
    blocks = ([b for b in feature_blocks(geometry) if _crosses_centre(b, geometry)]
              if geometry.dimension > 1 else [])
    edges = sorted({0.0, *(top for _, top in bounds),
                    *(b.lower[2] for b in blocks), *(b.upper[2] for b in blocks)})

    def layer_at(z: float) -> str:
        for b in blocks:
            if b.lower[2] < z < b.upper[2]:
                return b.layer
        return next((n for n, (lo, hi) in zip(names, bounds) if lo < z < hi), names[-1])

    out: dict[str, dict] = {}
    below = layer_at(0.5 * (edges[0] + edges[1])) if len(edges) > 1 else names[0]
    for z, z_next in zip(edges[1:-1], edges[2:]):
        above = layer_at(0.5 * (z + z_next))
        if above == below:
            continue
        key, k = interface_name(below, above), 2
        while key in out:
            key, k = f"{interface_name(below, above)}#{k}", k + 1
        out[key] = {"z_nm": float(z), "below": below, "above": above}
        below = above
    return out
