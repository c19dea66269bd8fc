"""What a mesh request can give, before and after meshing: the size floor, the cell budget,
the check that the mesh honours the request, and safe external mesh files.

Checked before anything is meshed (:func:`size_problems`, called by
the solver's preflight ``mesh_problems`` for ``run``, ``validate``, ``sweep`` and ``mesh``):

- every cell size is at least :data:`MIN_SIZE_NM`;
- the cell count, estimated from the geometry (:func:`estimate_cells`), is within
  ``[mesh] max_cells`` (``--max-cells``);
- ``mesh.file`` is a genuine Gmsh ``.msh`` file (:func:`mesh_file_problems`): Gmsh's
  ``merge`` reads any file whose first line is not a mesh header as a ``.geo`` script, and a
  script can run shell commands (``SystemCall``), whatever the file is called.

Checked after meshing (:func:`honour_problems`, on the Gmsh mesh before it is used or
written): the largest cell is no larger than the requested size allows, so a mesh that Gmsh
could not build as asked (e.g. its point count overflowing) is refused, never solved on.

Every function takes the :class:`~heterofem.meshes.geometry.StackGeometry` ``geo``; problems
are ``(key, message)`` named by the config's ``mesh.*`` keys. Sizes are nanometres; the size
field is the one of :func:`heterofem.meshes.stack._add_size_field`: ``h_interface`` on the
interfaces, growing linearly to ``size_nm`` at ``refine_distance_nm`` from them.
"""

from __future__ import annotations

import math
from pathlib import Path

from heterofem.meshes.features import feature_blocks
from heterofem.meshes.geometry import StackGeometry
from heterofem.meshes.structured import structured_cell_count, structured_problems
from heterofem.meshes.structured import uses_structured

#: Smallest cell size accepted [nm] (mesh.size_nm and the interface size). 1 pm is about
#: 1/300 of the shortest lattice spacing of the oxides modelled (~0.3 nm): a continuum cell
#: below it has no physical meaning. It also keeps every cell 1e5 times above Gmsh's
#: geometric tolerance (``Geometry.Tolerance`` = 1e-8 model units, i.e. nm: geometry points
#: closer than that count as one). Gmsh itself refuses no size: its 1D mesher counts the
#: points of a curve as a C ``int`` of the integral of 1/h, which wraps around above 2^31
#: (20 nm at 1e-9 nm gave one cell per layer and a wrong solution); the cell budget and
#: :func:`honour_problems` guard against that for stacks thick enough to overflow even
#: at this floor.
MIN_SIZE_NM = 1e-3

#: Gmsh cells per unit of volume measured in cell sizes, ``integral of dV / h^dim``: 1
#: interval per h in 1D; 2.3 triangles per h^2 of area in 2D (an equilateral triangle of
#: side h has area sqrt(3)/4 h^2); 4.6 tetrahedra per h^3 in 3D (Gmsh's Delaunay tets: a
#: uniform cube of side 24 h gets 4.66 per h^3, 16 h 4.72).
CELLS_PER_VOLUME = {1: 1.0, 2: 2.3, 3: 4.6}

#: extra cells per unit of boundary measured in cell sizes, ``integral of dS / h^(dim-1)``
#: (outer sides, and both sides of every interface): cells at a boundary and in a graded band
#: are smaller than the size field asks. Fitted with CELLS_PER_VOLUME fixed on Gmsh 4.15
#: meshes of the shipped 2D problems and coarse 2D/3D test stacks (estimate / actual
#: 0.96-1.10 in 2D, 0.69-1.19 in 3D, 0.92-1.0 in 1D); tests/unit/test_mesh_limits.py checks
#: the estimate within a factor 2.
CELLS_PER_BOUNDARY = {1: 0.0, 2: 1.15, 3: 2.0}

#: a mesh "honours" the request when its largest cell (longest edge) is at most this factor
#: times the largest requested size (Gmsh's longest edges reach 1.3x the size field in 2D
#: and 2.1x in 3D on the shipped problems and test stacks)
_HONOUR_FACTOR = 3.0

_MAX_CELLS_HINT = "or raise the limit with --max-cells N or [mesh] max_cells"


def _band_integral(geo: StackGeometry, a: float, power: int | None = None) -> float:
    """Integral of ``1 / h(d)^power`` (default: the dimension) over distances ``d`` in
    ``[0, a]`` from an interface, with ``h`` the Threshold size field (linear from
    h_interface at d = 0 to size_nm at refine_distance_nm, constant beyond). Closed form: no
    quadrature error near h_interface.
    """
    k = geo.dimension if power is None else power
    h0, h1, r = geo.h_interface, geo.size_nm, geo.refine_distance_nm
    ramp = min(a, r)
    slope = (h1 - h0) / r
    h_end = h0 + slope * ramp
    if abs(slope * ramp) <= 1e-12 * h0:
        inside = ramp / h0**k
    elif k == 1:
        inside = math.log(h_end / h0) / slope
    else:
        inside = (h0 ** (1 - k) - h_end ** (1 - k)) / ((k - 1) * slope)
    return inside + max(0.0, a - r) / h1**k


def _lateral_measure(geo: StackGeometry) -> float:
    """1 (1D), the width (2D) or width x depth (3D) [nm^(dim-1)]."""
    return (1.0, geo.width_nm, geo.width_nm * geo.depth_nm)[geo.dimension - 1]


def _feature_side_measure(geo: StackGeometry) -> float:
    """Interface measure that features add to the flat interfaces: the riser of a step, the
    sides of an island (their tops only move a flat interface up)."""
    dim, total = geo.dimension, 0.0
    for block, feature in zip(feature_blocks(geo), geo.features):
        dx, dy, dz = block.size
        if dim == 2:
            total += dz * (1 if feature.type == "step" else 2)
        elif feature.type == "step":
            total += dz * dy
        else:
            total += 2 * dz * (dx + dy)
    return total


def _size_at(geo: StackGeometry, distance: float) -> float:
    """The size field at ``distance`` from the nearest interface (size_nm without one)."""
    if len(geo.layers) == 1:
        return geo.size_nm
    h0, h1, r = geo.h_interface, geo.size_nm, geo.refine_distance_nm
    return h0 + (h1 - h0) * min(distance, r) / r


def _through_stack(geo: StackGeometry, power: int) -> float:
    """Integral of ``dz / h(z)^power`` through the stack: each layer is refined from each of
    its interfaces (split at mid-layer between two); a single layer is uniform."""
    n, total = len(geo.layers), 0.0
    for i, (_, thickness) in enumerate(geo.layers):
        ends = (i > 0) + (i < n - 1)
        if ends == 2:
            total += 2.0 * _band_integral(geo, thickness / 2.0, power)
        elif ends == 1:
            total += _band_integral(geo, thickness, power)
        else:
            total += thickness / geo.size_nm**power
    return total


def _feature_terms(geo: StackGeometry) -> tuple[float, float]:
    """(volume, boundary) terms that feature risers and island sides add: their interface
    measure times the excess cell density of a refined band, and twice over as boundary."""
    side = _feature_side_measure(geo)
    if side == 0.0:
        return 0.0, 0.0
    dim, r = geo.dimension, geo.refine_distance_nm
    excess = _band_integral(geo, r) - r / geo.size_nm**dim
    return 2.0 * max(0.0, excess) * side, 2.0 * side / geo.h_interface ** (dim - 1)


def estimate_cells(geo: StackGeometry) -> int:
    """Cells the built-in mesher will make for the geometry ``geo``, before meshing (no Gmsh),
    times 2^(dim x refine_levels) for the parallel refinement (meshes/refine.py).

    ``CELLS_PER_VOLUME x integral of dV / h^dim + CELLS_PER_BOUNDARY x integral of
    dS / h^(dim-1)`` over the size field (h_interface at interfaces, growing linearly to
    size_nm over refine_distance_nm), with the lateral extent multiplying the integrals
    through the stack. Within about a factor 2 of Gmsh's count: it is there to refuse
    runaway requests before they take the memory, not to predict exactly. A structured 2D/3D
    mesh (:mod:`heterofem.meshes.structured`) is counted exactly (its lateral spacing is
    size_nm, not the isotropic interface size this formula assumes); in 1D both agree to a
    cell per layer.
    """
    dim, n = geo.dimension, len(geo.layers)
    lateral = _lateral_measure(geo)
    volume = lateral * _through_stack(geo, dim)
    boundary = 0.0
    if dim > 1:
        rim = 2.0 if dim == 2 else 2.0 * (geo.width_nm + geo.depth_nm)
        faces = (_size_at(geo, geo.layers[0][1]) ** (1 - dim)
                 + _size_at(geo, geo.layers[-1][1]) ** (1 - dim)
                 + 2.0 * (n - 1) * geo.h_interface ** (1 - dim))
        boundary = rim * _through_stack(geo, dim - 1) + lateral * faces
    extra_volume, extra_boundary = _feature_terms(geo)
    cells = (CELLS_PER_VOLUME[dim] * (volume + extra_volume)
             + CELLS_PER_BOUNDARY[dim] * (boundary + extra_boundary))
    if not cells <= 1e300:  # sizes far below the floor overflow the integrals (inf, nan)
        cells = 1e300
    if dim > 1 and uses_structured(geo) and cells < 1e9:  # the grid's count is exact
        cells = structured_cell_count(geo)
    return max(n, math.ceil(min(1e300, cells * 2.0 ** (dim * geo.refine_levels))))


# -- checks before meshing -------------------------------------------------------------------


def _floor_problems(geo: StackGeometry) -> list[tuple[str, str]]:
    """Sizes below :data:`MIN_SIZE_NM` (the interface size is checked under its own key when
    set, else it is size_nm / 4 and named as such)."""
    problems = []
    why = (f"is below the smallest cell size of {MIN_SIZE_NM:g} nm (1/300 of a lattice "
           "spacing: no continuum model holds there, and Gmsh silently meshes such sizes "
           "wrong)")
    if geo.size_nm < MIN_SIZE_NM:
        problems.append(("mesh.size_nm", f"{geo.size_nm:g} nm {why}; give at least "
                         f"{MIN_SIZE_NM:g}"))
    if geo.interface_size_nm is not None:
        if geo.interface_size_nm < MIN_SIZE_NM:
            problems.append(("mesh.interface_size_nm", f"{geo.interface_size_nm:g} nm "
                             f"{why}; give at least {MIN_SIZE_NM:g}"))
    elif MIN_SIZE_NM <= geo.size_nm < 4 * MIN_SIZE_NM:
        problems.append(("mesh.size_nm", f"the interface size, size_nm / 4 = "
                         f"{geo.h_interface:g} nm, {why}; set mesh.interface_size_nm "
                         f">= {MIN_SIZE_NM:g} or a larger size_nm"))
    return problems


def budget_problems(geo: StackGeometry) -> list[tuple[str, str]]:
    """The estimated cell count over ``mesh.max_cells``, as ``("mesh.max_cells", message)``.

    Skipped for ``mesh.file``: the file's cells exist already (its size on disk bounds them)
    and the [mesh] sizes do not apply to it.
    """
    if geo.file:
        return []
    estimate = estimate_cells(geo)
    limit = geo.max_cells
    if estimate <= limit:
        return []
    levels = (f" (after {geo.refine_levels} refinement level"
              f"{'s' if geo.refine_levels > 1 else ''}: lower mesh.refine_levels, or)"
              if geo.refine_levels else "")
    return [("mesh.max_cells", f"the mesh would have about {float(estimate):.3g} cells{levels}, "
             f"over the limit of {limit}; coarsen mesh.size_nm / mesh.interface_size_nm (or "
             f"thin the layers, narrow mesh.width_nm / depth_nm), {_MAX_CELLS_HINT}")]


def mesh_file_problems(geo: StackGeometry) -> list[tuple[str, str]]:
    """``mesh.file`` that is not a genuine Gmsh MSH file (see :func:`check_mesh_file`)."""
    return check_mesh_file(geo.file) if geo.file else []


def check_mesh_file(path: str | Path) -> list[tuple[str, str]]:
    """Problems that make ``path`` unsafe or unfit to hand to ``gmsh.merge``.

    ``gmsh.merge`` picks the reader by the file's first line, not its name: a file starting
    with ``$MeshFormat`` goes to the MSH reader, which only reads data (unknown sections are
    stored as text, never run); almost anything else goes to the ``.geo`` parser, which runs
    script commands such as ``SystemCall`` (a shell). So only files named ``*.msh`` whose
    first bytes are exactly ``$MeshFormat`` are accepted (not ``.msh.gz``: Gmsh uncompresses
    that with a shell command).
    """
    path = Path(path)
    if path.suffix.lower() != ".msh":
        return [("mesh.file", f"'{path}' is not a .msh file; give a mesh in Gmsh's MSH format "
                 "(a .geo or other script is never read: it could run commands)")]
    try:
        with path.open("rb") as f:
            head = f.read(len(b"$MeshFormat"))
    except OSError as exc:
        return [("mesh.file", f"cannot read '{path}' ({exc.strerror}); give an existing Gmsh "
                 ".msh file")]
    if head != b"$MeshFormat":
        return [("mesh.file", f"'{path}' does not start with $MeshFormat, so it is not a Gmsh "
                 "MSH mesh (Gmsh would run it as a script); give a mesh saved by Gmsh in MSH "
                 "format (gmsh -save, or File > Export > .msh)")]
    return []


def size_problems(geo: StackGeometry) -> list[tuple[str, str]]:
    """Every mesh-request problem found before meshing: mesh.file not a genuine MSH
    file; or sizes below the floor and an estimated cell count over the budget."""
    generator = structured_problems(geo)
    if geo.file:
        return generator + mesh_file_problems(geo)
    return generator + _floor_problems(geo) + (budget_problems(geo) if not generator else [])


# -- check after meshing ---------------------------------------------------------------------


def honour_problems(geo: StackGeometry, n_cells: int, h_max: float) -> list[tuple[str, str]]:
    """Problems if a built mesh of ``n_cells`` cells, whose longest cell edge is ``h_max``,
    does not honour the requested sizes: every cell at most ``_HONOUR_FACTOR`` times the
    largest requested size. Catches a mesh Gmsh could not build as asked (its point
    count overflowing gives one cell per layer) before anything is solved on it."""
    requested = max(geo.size_nm, geo.h_interface)
    if h_max <= _HONOUR_FACTOR * requested:
        return []
    return [("mesh.size_nm", f"Gmsh made cells up to {h_max:.3g} nm ({n_cells} cells; about "
             f"{float(estimate_cells(geo)):.3g} expected) for a requested size of "
             f"{requested:g} nm: it could not mesh this request as asked; coarsen "
             "mesh.size_nm / mesh.interface_size_nm or thin the layers")]
