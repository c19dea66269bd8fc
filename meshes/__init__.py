"""heterofem meshes: the layered stack (with lateral features) as a DOLFINx mesh with named
cell tags (one per layer) and facet tags (outer sides and layer interfaces), and .msh/XDMF I/O.
"""

from heterofem.meshes.budget import (
    MIN_SIZE_NM,
    check_mesh_file,
    estimate_cells,
    honour_problems,
    size_problems,
)
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
    "MIN_SIZE_NM",
    "MeshError",
    "StackMesh",
    "build_gmsh_model",
    "check_mesh_file",
    "create_stack_mesh",
    "estimate_cells",
    "feature_blocks",
    "honour_problems",
    "mesh_statistics",
    "size_problems",
    "write_mesh_xdmf",
]
