"""Adaptive meshes for moving fronts and walls (``[mesh.adapt]``, issue #25 item 3).

DOLFINx has refinement but no coarsening, so the mesh is never refined in place: the BASE
mesh (the stack as meshed and distributed, at the ``[mesh]`` sizes) is kept, and every
``every_steps`` accepted time steps a new mesh is built from it, level by level
(``max_levels`` at most): at each level the current solution is interpolated onto that level's
mesh (``dolfinx.fem.Function.interpolate_nonmatching``), its Kelly indicator marks the cells
where it is large, and those cells (with ``buffer_cells`` rings of neighbours) are refined
(``dolfinx.mesh.refine`` on their edges, Plaza's algorithm; the layer and facet tags follow
the parent maps, :func:`heterofem.meshes.refine.refine_once`). Where a front has passed the
indicator is small again and the mesh is the base mesh there: coarsening for free. A cell
where the previous mesh was finer stays refined while its indicator exceeds
``KEEP x refine_fraction`` (hysteresis: a marking that flips between remeshes moves the
state between meshes for nothing, and each move perturbs the time stepping).

Indicator (Kelly, Gago, Zienkiewicz & Babuska 1983), per cell K and driving field u:

    eta_K^2 = sum over the interior facets F of K of  h_F || [[grad u . n]] ||^2_{L2(F)}

(h_F: the mean diameter of the two cells), assembled with a DG0 test function on dS. The
facets of the layer interfaces are left out: there grad(mu), grad(phi) jump by the material
contrast, not by a discretisation error. Each field's eta is divided by its largest value
(fields in different units are comparable), the cell's indicator is the largest over the
fields, and a cell is marked when it exceeds ``refine_fraction`` (the maximum strategy). A
field whose gradient does not jump (uniform or linear: largest eta below UNIFORM of its
scale) marks nothing.

The state moves to the new mesh by :mod:`heterofem.solver.adapt_transfer` (the unknowns and
their BDF history; the vacancy inventory per layer conserved, the phase field bounded).
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import ufl

from heterofem.solver.dolfinx_env import MPI, dolfinx
from heterofem.solver.domain import Domain

log = logging.getLogger("heterofem")

#: hysteresis: where the previous mesh was finer, a cell stays refined down to this fraction
#: of refine_fraction. Without it the marking of a zone whose indicator sits near the
#: threshold flips between remeshes, and each flip moves a steep state between meshes
#: (measured on the vacancy stack of tests/verification/test_adapt.py: the time step cut
#: ~30x after most remeshes, at the cells next to the template/film interface whose size
#: had changed)
KEEP = 0.25
#: a field whose largest indicator is below this fraction of its scale (:func:`_scale`) is
#: treated as smooth (uniform or linear: its jumps are round-off): it marks no cell
UNIFORM = 1e-8


def interface_facet_tags(stack, mesh=None, facet_tags=None):
    """Facet tags for the indicator's dS: 1 on every facet, 2 on the tagged layer
    interfaces (facet sets named "a/b"), which the indicator leaves out."""
    mesh = stack.mesh if mesh is None else mesh
    facet_tags = stack.facet_tags if facet_tags is None else facet_tags
    fdim = mesh.topology.dim - 1
    mesh.topology.create_entities(fdim)
    imap = mesh.topology.index_map(fdim)
    values = np.ones(imap.size_local + imap.num_ghosts, dtype=np.int32)
    ids = [tag for name, tag in stack.facet_ids.items() if "/" in name]
    if ids:
        values[facet_tags.indices[np.isin(facet_tags.values, ids)]] = 2
    return dolfinx.mesh.meshtags(mesh, fdim, np.arange(values.size, dtype=np.int32), values)


def kelly_indicator(u: dolfinx.fem.Function, facets) -> np.ndarray:
    """eta_K (not squared) of every local cell (owned and ghost) for the field ``u``, over the
    interior facets tagged 1 in ``facets`` (:func:`interface_facet_tags`). Collective."""
    mesh = u.function_space.mesh
    W = dolfinx.fem.functionspace(mesh, ("DG", 0))
    w = ufl.TestFunction(W)
    n = ufl.FacetNormal(mesh)
    h = ufl.CellDiameter(mesh)
    jump = ufl.jump(ufl.grad(u), n)
    dS = ufl.Measure("dS", domain=mesh, subdomain_data=facets)
    form = dolfinx.fem.form(ufl.avg(h) * ufl.inner(jump, jump) * (w("+") + w("-")) * dS(1))
    eta2 = dolfinx.fem.Function(W)
    dolfinx.fem.assemble_vector(eta2.x.array, form)
    eta2.x.scatter_reverse(dolfinx.la.InsertMode.add)
    eta2.x.scatter_forward()
    return np.sqrt(np.maximum(eta2.x.array[W.dofmap.list[:, 0]], 0.0))  # by cell, not dof


def _global_max(comm, values: np.ndarray) -> float:
    return comm.allreduce(float(np.max(np.abs(values), initial=0.0)), op=MPI.MAX)


def _scale(u: dolfinx.fem.Function) -> float:
    """The size eta has for a jump of the whole range of u over the domain's extent L:
    range * L^(dim/2 - 1) (eta^2 ~ h (u/L)^2 L^(dim-1)). Collective."""
    mesh = u.function_space.mesh
    comm = mesh.comm
    top = comm.allreduce(float(np.max(u.x.array, initial=-np.inf)), op=MPI.MAX)
    bottom = comm.allreduce(float(np.min(u.x.array, initial=np.inf)), op=MPI.MIN)
    extent = _global_max(comm, mesh.geometry.x) + 1e-300
    return max(top - bottom, 0.0) * extent ** (mesh.topology.dim / 2.0 - 1.0)


def combined_indicator(functions: list, facets) -> np.ndarray:
    """The largest over the fields of eta_K / max eta (see the module docstring); zeros where
    every field is uniform or linear (largest eta below UNIFORM of its :func:`_scale`: the
    round-off of a gradient that does not jump). A field may be given in parts, a list of
    (function, cell mask): its eta is each part's where its mask is true (a mu broken at
    kinetic facets, :func:`broken_parts`). Collective."""
    total = None
    for u in functions:
        parts = u if isinstance(u, list) else [(u, None)]
        eta = sum(kelly_indicator(f, facets) if mask is None
                  else np.where(mask, kelly_indicator(f, facets), 0.0) for f, mask in parts)
        big = _global_max(parts[0][0].function_space.mesh.comm, eta)
        scale = max(_scale(f) for f, _ in parts)
        scaled = eta / big if big > UNIFORM * scale else np.zeros_like(eta)
        total = scaled if total is None else np.maximum(total, scaled)
    return total


def broken_parts(problem, name: str):
    """The field ``name`` for the indicator: the unknown itself, or for "mu" broken at
    kinetic facets (solver/physics/interface_kinetics.py) a list of (function, layers): mu_c,
    which is mu on the colour-0 layers, and mu_c + g, which is mu on the colour-1 layers.
    (mu_c alone has a kink in the colour-1 cells next to a kinetic facet, where g's hat
    function ends: its indicator refined there for nothing.)"""
    u = problem.u[name]
    vac = problem.modules.get("vacancies")
    kin = getattr(vac, "kinetics", None)
    if name != "mu" or kin is None or not kin.active:
        return u
    side1 = dolfinx.fem.Function(u.function_space, name="mu_colour1")
    side1.x.array[:] = u.x.array + problem.u["mu_jump"].x.array
    layers = {c: [n for n, k in kin.colour.items() if k == c] for c in (0, 1)}
    return [(u, layers[0]), (side1, layers[1])]


def _level_fields(functions: list, mesh, cell_tags, layer_ids: dict) -> list:
    """``functions`` (each a function or :func:`broken_parts`) interpolated onto ``mesh``, a
    part's layers turned into a mask of the mesh's local cells. Collective."""
    n_cells = mesh.topology.index_map(mesh.topology.dim)
    n_cells = n_cells.size_local + n_cells.num_ghosts
    out = []
    for u in functions:
        parts = u if isinstance(u, list) else [(u, None)]
        moved = []
        for f, layers in parts:
            V = dolfinx.fem.functionspace(mesh, f.function_space.ufl_element())
            mask = None
            if layers is not None:
                mask = np.zeros(n_cells, dtype=bool)
                for n in layers:
                    mask[cell_tags.find(layer_ids[n])] = True
            moved.append((transfer_function(f, V), mask))
        out.append(moved if isinstance(u, list) else moved[0][0])
    return out


def _cell_marker(mesh, marked: np.ndarray) -> np.ndarray:
    """Whether each local cell is marked, made consistent across ranks (a cell marked on any
    rank, as owner or ghost, is marked everywhere): :meth:`Domain.dof_marker` on DG0.
    Collective."""
    W = dolfinx.fem.functionspace(mesh, ("DG", 0))
    dofs = W.dofmap.list[:, 0]
    return Domain.dof_marker(W, dofs[marked])[dofs]


def marked_cells(mesh, indicator: np.ndarray, fraction: float, buffer: int) -> np.ndarray:
    """Local cells with indicator > fraction, grown by ``buffer`` rings of vertex neighbours
    (each ring made consistent across ranks). Collective."""
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim, 0)
    mesh.topology.create_connectivity(0, tdim)
    c2v, v2c = mesh.topology.connectivity(tdim, 0), mesh.topology.connectivity(0, tdim)
    marker = _cell_marker(mesh, np.flatnonzero(indicator > fraction))
    for _ in range(buffer):
        cells = np.flatnonzero(marker)
        if cells.size:
            verts = np.unique(np.concatenate([c2v.links(c) for c in cells]))
            cells = np.unique(np.concatenate([v2c.links(v) for v in verts]))
        marker = _cell_marker(mesh, cells)
    return np.flatnonzero(marker).astype(np.int32)


def cell_edges(mesh, cells: np.ndarray) -> np.ndarray:
    """The local edges of ``cells`` (the cells themselves in 1D)."""
    tdim = mesh.topology.dim
    if tdim == 1:
        return np.asarray(cells, dtype=np.int32)
    mesh.topology.create_entities(1)
    mesh.topology.create_connectivity(tdim, 1)
    c2e = mesh.topology.connectivity(tdim, 1)
    if cells.size == 0:
        return np.zeros(0, dtype=np.int32)
    return np.unique(np.concatenate([c2e.links(c) for c in cells])).astype(np.int32)


def transfer_function(u_from: dolfinx.fem.Function, V_to, data=None) -> dolfinx.fem.Function:
    """``u_from`` interpolated onto ``V_to`` (a space on another mesh of the same domain):
    ``dolfinx.fem.Function.interpolate_nonmatching``. Collective."""
    out = dolfinx.fem.Function(V_to, name=u_from.name)
    cmap = V_to.mesh.topology.index_map(V_to.mesh.topology.dim)
    cells = np.arange(cmap.size_local + cmap.num_ghosts, dtype=np.int32)
    if data is None:
        data = dolfinx.fem.create_interpolation_data(V_to, u_from.function_space, cells,
                                                     padding=1e-10)
    out.interpolate_nonmatching(u_from, cells, data)
    out.x.scatter_forward()
    return out


def cell_volumes(mesh) -> np.ndarray:
    """The volume (length, area) of every local cell. Collective."""
    W = dolfinx.fem.functionspace(mesh, ("DG", 0))
    f = dolfinx.fem.Function(W)
    f.interpolate(dolfinx.fem.Expression(ufl.CellVolume(mesh), W.element.interpolation_points))
    return f.x.array[W.dofmap.list[:, 0]]


def finer_before(mesh, previous) -> np.ndarray:
    """Whether the ``previous`` mesh (same domain) was finer inside each local cell of
    ``mesh``: a previous owned cell of less than 0.6 of its volume has its midpoint there
    (the meshes descend from the same base cells on the same rank: refinement does not
    redistribute). Collective."""
    tdim = mesh.topology.dim
    n_prev = previous.topology.index_map(tdim).size_local
    cells = np.arange(n_prev, dtype=np.int32)
    points = dolfinx.mesh.compute_midpoints(previous, tdim, cells)
    tree = dolfinx.geometry.bb_tree(mesh, tdim)
    hits = dolfinx.geometry.compute_colliding_cells(
        mesh, dolfinx.geometry.compute_collisions_points(tree, points), points)
    found = np.flatnonzero(np.diff(hits.offsets) > 0)
    here = hits.array[hits.offsets[found]]
    volume = cell_volumes(mesh)
    finer = cell_volumes(previous)[:n_prev][found] < 0.6 * volume[here]
    out = np.zeros(volume.size, dtype=bool)
    out[here[finer]] = True
    return out


def changed_cells(mesh, previous) -> np.ndarray:
    """Whether each local cell of ``mesh`` differs from the ``previous`` mesh's cell at its
    midpoint (another volume, or no previous cell there on this rank). Collective."""
    tdim = mesh.topology.dim
    volume = cell_volumes(mesh)
    points = dolfinx.mesh.compute_midpoints(mesh, tdim, np.arange(volume.size, dtype=np.int32))
    tree = dolfinx.geometry.bb_tree(previous, tdim)
    hits = dolfinx.geometry.compute_colliding_cells(
        previous, dolfinx.geometry.compute_collisions_points(tree, points), points)
    found = np.flatnonzero(np.diff(hits.offsets) > 0)
    before = cell_volumes(previous)[hits.array[hits.offsets[found]]]
    changed = np.ones(volume.size, dtype=bool)
    changed[found] = np.abs(before / volume[found] - 1.0) > 1e-9
    return changed


def adapted_stack(base, functions: list, max_levels: int, fraction: float, buffer: int,
                  previous=None):
    """A new stack mesh: ``base`` refined up to ``max_levels`` times where the fields
    ``functions`` (on any mesh of the same domain; a field may be :func:`broken_parts`) have a
    large indicator. With the
    ``previous`` mesh, hysteresis: a cell stays refined where that mesh was finer while its
    indicator exceeds KEEP x ``fraction`` (see :data:`KEEP`). Collective."""
    from heterofem.meshes.refine import refine_once

    mesh, cell_tags, facet_tags = base.mesh, base.cell_tags, base.facet_tags
    for level in range(max_levels):
        mesh.topology.create_entities(mesh.topology.dim - 1)
        facets = interface_facet_tags(base, mesh, facet_tags)
        here = _level_fields(functions, mesh, cell_tags, base.layer_ids)
        indicator = combined_indicator(here, facets)
        if previous is not None:
            keep = finer_before(mesh, previous) & (indicator > KEEP * fraction)
            indicator = np.where(keep, np.maximum(indicator, 1.0), indicator)
        cells = marked_cells(mesh, indicator, fraction, buffer)
        if mesh.comm.allreduce(int(cells.size), op=MPI.SUM) == 0:
            log.debug("adapt: nothing to refine at level %d", level)
            break
        mesh, cell_tags, facet_tags = refine_once(mesh, cell_tags, facet_tags,
                                                  edges=cell_edges(mesh, cells))
    return dataclasses.replace(base, mesh=mesh, cell_tags=cell_tags, facet_tags=facet_tags)


#: the unknown of each built-in physics switch (a registered physics adds its own: the check
#: at the run's start, :func:`config_problems`, then leaves its names to :class:`Adaptivity`)
UNKNOWNS = {"electrostatics": "phi", "vacancies": "mu", "polarization": "P", "mechanics": "u",
            "crystallization": "xi"}


def config_problems(cfg) -> list[tuple[str, str]]:
    """The problems of ``[mesh.adapt]`` that the config shows before anything is built: no
    [time] table; a field that no switched-on built-in physics solves for."""
    settings = cfg.mesh.adapt
    if settings is None:
        return []
    problems = []
    if cfg.time is None:
        problems.append(("mesh.adapt", "adaptive meshes follow a transient: add a [time] table "
                         "or remove [mesh.adapt]"))
    from heterofem.solver.physics.registry import enabled_switches

    switches = enabled_switches(cfg)
    if any(switch not in UNKNOWNS for switch in switches):
        return problems  # a registered physics: its unknowns are known once it is built
    names = [UNKNOWNS[switch] for switch in switches]
    bad = [f for f in settings.fields if f not in names]
    if bad:
        problems.append(("mesh.adapt.fields", f"{', '.join(map(repr, bad))}: not an unknown "
                         f"of this run's physics; valid names: {', '.join(names)}"))
    return problems


def same_mesh(a, b) -> bool:
    """Whether two meshes built from the same base mesh are the same (cell count, and the
    volume-weighted sum of the cell midpoints: refinement adds cells or moves mass). Collective."""
    tdim = a.topology.dim
    if global_cells(a) != global_cells(b):
        return False

    def moment(mesh) -> np.ndarray:
        n = mesh.topology.index_map(tdim).size_local
        mid = dolfinx.mesh.compute_midpoints(mesh, tdim, np.arange(n, dtype=np.int32))
        vol = cell_volumes(mesh)[:n]
        local = np.array([np.sum(vol ** 2), *np.sum(vol[:, None] ** 2 * mid, axis=0)])
        return mesh.comm.allreduce(local, op=MPI.SUM)

    ma, mb = moment(a), moment(b)
    return bool(np.allclose(ma, mb, rtol=1e-10, atol=0.0))


def check_fields(settings, names: list[str]) -> None:
    """A ConfigError naming ``mesh.adapt.fields`` when a field is not an unknown of the run."""
    from heterofem.solver.config import ConfigError

    bad = [f for f in settings.fields if f not in names]
    if bad:
        raise ConfigError([("mesh.adapt.fields", f"{', '.join(map(repr, bad))} is not an unknown "
                            f"of this run's physics; valid names: {', '.join(names)}")])


def global_cells(mesh) -> int:
    return int(mesh.topology.index_map(mesh.topology.dim).size_global)


def global_dofs(problem) -> int:
    return int(sum(V.dofmap.index_map.size_global * V.dofmap.index_map_bs
                   for V in problem.spaces.values()))


class Adaptivity:
    """What the stepper calls: ``due(steps)`` after an accepted step, then ``remesh`` (the
    new problem on the adapted mesh, with the state and its history moved onto it)."""

    def __init__(self, settings, problem):
        check_fields(settings, problem.names)
        self.settings = settings
        self.base_stack = problem.domain.stack  #: the mesh every adapted one is built from
        self.current_stack = problem.domain.stack
        self.stats = {"remeshes": 0, "dofs_final": global_dofs(problem),
                      "dofs_max": global_dofs(problem),
                      "cells_final": global_cells(problem.domain.mesh),
                      "inventory_relative_change_max": 0.0}
        self.interpolation_change_max = 0.0

    def due(self, steps: int) -> bool:
        return steps > 0 and steps % self.settings.every_steps == 0

    def new_stack(self, problem):
        s = self.settings
        return adapted_stack(self.base_stack, [broken_parts(problem, n) for n in s.fields],
                             s.max_levels, s.refine_fraction, s.buffer_cells,
                             previous=problem.domain.mesh)

    def remesh(self, problem, extra: dict | None = None):
        """(new problem, ``extra`` functions moved onto its mesh); ``problem`` and ``extra``
        themselves when the adapted mesh is the current one (nothing is moved then, and the
        remesh is not counted). Collective."""
        from heterofem.solver.adapt_transfer import rebuild, transfer_state

        stack = self.new_stack(problem)
        if same_mesh(stack.mesh, problem.domain.mesh):
            log.debug("adapt: the adapted mesh is the current one; kept")
            return problem, extra or {}
        new = rebuild(problem, stack)
        moved, change, left = transfer_state(problem, new, extra or {})
        #: the new mesh's local cells that differ from the old mesh's (Stepper: error estimate)
        self.changed = changed_cells(new.domain.mesh, problem.domain.mesh)
        self.current_stack = stack
        st = self.stats
        st["remeshes"] += 1
        st["dofs_final"] = global_dofs(new)
        st["dofs_max"] = max(st["dofs_max"], st["dofs_final"])
        st["cells_final"] = global_cells(new.domain.mesh)
        st["inventory_relative_change_max"] = max(st["inventory_relative_change_max"], left)
        #: the largest inventory change interpolation alone made (what the correction removed)
        self.interpolation_change_max = max(self.interpolation_change_max, change)
        log.info("adapt: remesh %d: %d cells, %d dofs", st["remeshes"], st["cells_final"],
                 st["dofs_final"])
        return new, moved

    def summary(self) -> dict:
        return dict(self.stats)
