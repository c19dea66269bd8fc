"""heterofem meshes: the layered stack (with lateral features) as a DOLFINx mesh with named
cell tags (one per layer) and facet tags (outer sides and layer interfaces), and .msh/XDMF I/O.
"""

from heterofem.meshes.features import Block, feature_blocks
from heterofem.meshes.stack import (
    CELL_TAGS_NAME,
    FACET_TAGS_NAME,
    MeshError,
    StackMesh,
    build_gmsh_model,
    create_stack_mesh,
    mesh_statistics,
    write_mesh_xdmf,
)

__all__ = [
    "CELL_TAGS_NAME",
    "FACET_TAGS_NAME",
    "Block",
    "MeshError",
    "StackMesh",
    "build_gmsh_model",
    "create_stack_mesh",
    "feature_blocks",
    "mesh_statistics",
    "write_mesh_xdmf",
]
