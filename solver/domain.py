"""The discretised stack a physics module works on: mesh, tags, materials, measures.

:class:`Domain` is what every physics module receives. It knows which layer each cell belongs
to and builds cell-wise (DG0) material properties from per-layer values, so physics modules
never loop over cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import ufl

from heterofem.solver.dolfinx_env import MPI, dolfinx
from heterofem.solver.config import Config, Layer
from heterofem.solver.materials import Material


@dataclass
class Domain:
    cfg: Config
    stack: "object"  # heterofem.meshes.StackMesh
    materials: dict[str, Material]  #: by material name
    _cache: dict = field(default_factory=dict, repr=False)

    # -- geometry -------------------------------------------------------------------------------
    @property
    def mesh(self) -> dolfinx.mesh.Mesh:
        return self.stack.mesh

    @property
    def dim(self) -> int:
        return self.mesh.topology.dim

    @property
    def comm(self) -> MPI.Comm:
        return self.mesh.comm

    @property
    def quadrature_degree(self) -> int:
        """One quadrature degree for every volume integral (``physics.quadrature_degree``).

        Default 2k for Lagrange degree k: exact for the mass matrix and the polynomial
        sources, and above the 2k - 2 that keeps the optimal H1 and L2 rates with smooth
        nonlinear coefficients (exp, tanh, F_1/2: UFL would let their estimated degree grow
        without need). Residual, Jacobian and reported inventories share the rule, so the
        discrete conservation holds at any degree. The one integrand this is not enough for
        is a flux with an exponential coefficient (the vacancy mobility): see
        :attr:`transport_quadrature_degree`."""
        q = self.cfg.physics.quadrature_degree
        return q if q is not None else 2 * self.cfg.physics.element_degree

    @property
    def transport_quadrature_degree(self) -> int:
        """Quadrature degree of fluxes whose coefficient is exponential in the unknowns
        (``physics.transport_quadrature_degree``; default 2k + 6), where the closed-form cell
        average (solver/physics/cell_average.py, ``physics.vacancy_flux = "exact"``) is not
        available (P2, tetrahedra with site exclusion, crystallization) or not wanted.

        The vacancy mobility ~ exp(mu/kT) changes by orders of magnitude inside one interface
        element early in a transient, and the flux through those elements sets the
        redistribution: on the 2D stack of tests/verification/test_vacancies.py (10 s) the
        film's loss is 4.24 % of its inventory at degree 2, 40.45 % at 8, 40.32 % at 12 and
        40.357 % at 16, where the closed form gives 40.357 % (2026-11-23)."""
        q = self.cfg.physics.transport_quadrature_degree
        return q if q is not None else 2 * self.cfg.physics.element_degree + 6

    def dx_at(self, degree: int) -> ufl.Measure:
        """dx (layer tags as subdomain data) with a given quadrature degree."""
        return ufl.Measure("dx", domain=self.mesh, subdomain_data=self.stack.cell_tags,
                           metadata={"quadrature_degree": degree})

    @cached_property
    def dx(self) -> ufl.Measure:
        return self.dx_at(self.quadrature_degree)

    @cached_property
    def dx_layers(self):
        """dx over every layer by its tag: the same cells as dx when every cell carries a layer
        tag, but as subdomain integrals, so that a term added on some layers only (electrons,
        polarization) merges into the same per-layer kernels instead of making DOLFINx visit
        (and pack the coefficients of) those cells twice, once for an all-cell integral.
        Plain dx where some cell has no layer tag."""
        tags = self.stack.cell_tags
        cmap = self.mesh.topology.index_map(self.dim)
        n_local = cmap.size_local + cmap.num_ghosts
        ids = tuple(sorted(self.stack.layer_ids.values()))
        tagged = np.isin(tags.values, ids)
        complete = np.unique(tags.indices[tagged]).size == n_local
        if not self.comm.allreduce(bool(complete), op=MPI.LAND):
            return self.dx
        return self.dx(ids)

    @cached_property
    def dx_transport(self) -> ufl.Measure:
        """dx at :attr:`transport_quadrature_degree` (same subdomain data as :attr:`dx`)."""
        return self.dx_at(self.transport_quadrature_degree)

    @cached_property
    def ds(self) -> ufl.Measure:
        return ufl.Measure("ds", domain=self.mesh, subdomain_data=self.stack.facet_tags)

    @cached_property
    def dS(self) -> ufl.Measure:
        return ufl.Measure("dS", domain=self.mesh, subdomain_data=self.stack.facet_tags)

    def facet_measure(self, name: str) -> ufl.Measure:
        """ds on an outer facet set, dS on an interface (interior facets)."""
        tag = self.stack.facet_ids[name]
        return self.dS(tag) if "/" in name else self.ds(tag)

    @property
    def lateral_area_nm2(self) -> float:
        """Cross-section area that per-area quantities are divided by (1 in 1D)."""
        m = self.cfg.mesh
        return {1: 1.0, 2: m.width_nm, 3: m.width_nm * m.depth_nm}[self.dim]

    def centre_line(self, n: int) -> np.ndarray:
        """Points along z through the lateral centre, including every interface, shape (m, 3)."""
        height = self.cfg.total_thickness_nm
        z = np.union1d(np.linspace(0.0, height, n), [b for _, b in self.cfg.layer_bounds_nm()])
        pts = np.zeros((z.size, 3))
        pts[:, self.dim - 1] = z
        if self.dim >= 2:
            pts[:, 0] = self.cfg.mesh.width_nm / 2
        if self.dim == 3:
            pts[:, 1] = self.cfg.mesh.depth_nm / 2
        return pts

    # -- materials ------------------------------------------------------------------------------
    def material(self, layer: Layer) -> Material:
        return self.materials[layer.material]

    def layer_cells(self, layer_name: str) -> np.ndarray:
        """Local cell indices (owned and ghost) of one layer."""
        return self.stack.cell_tags.find(self.stack.layer_ids[layer_name])

    def cellwise(self, values: dict[str, float | np.ndarray], name: str,
                 shape: tuple[int, ...] = ()) -> dolfinx.fem.Function:
        """A DG0 function holding a per-layer value (scalar or tensor); missing layers are 0."""
        key = ("dg0", shape)
        if key not in self._cache:
            self._cache[key] = dolfinx.fem.functionspace(self.mesh, ("DG", 0, shape))
        space = self._cache[key]
        f = dolfinx.fem.Function(space, name=name)
        bs = space.dofmap.index_map_bs
        for layer_name, value in values.items():
            dofs = space.dofmap.list[self.layer_cells(layer_name)].reshape(-1)
            flat = np.asarray(value, dtype=float).reshape(-1)
            for k in range(bs):
                f.x.array[dofs * bs + k] = flat[k]
        f.x.scatter_forward()
        return f

    def layerwise_nodal(self, V: dolfinx.fem.FunctionSpace, exprs: dict[str, object],
                        name: str, shared: str = "upper") -> dolfinx.fem.Function:
        """A continuous function built from one UFL expression per layer.

        Each layer's expression is interpolated on its own cells; at a node shared by layers
        the upper layer (later in the stack) wins, or with ``shared="min"`` the smallest value.
        Contributions are summed to the owning rank before the rule is applied, so the result
        does not depend on the partition. Nodes of no listed layer get 0.
        """
        out = dolfinx.fem.Function(V, name=name)
        val, count = dolfinx.fem.Function(V), dolfinx.fem.Function(V)
        done = np.zeros(out.x.array.size, dtype=bool)
        order = [lay.name for lay in self.cfg.layers if lay.name in exprs]
        for layer in reversed(order):  # upper layers first: they take shared nodes
            cells = self.layer_cells(layer)
            val.x.array[:] = 0.0
            count.x.array[:] = 0.0
            # creating an Expression compiles it: collective, so every rank does it
            expr = dolfinx.fem.Expression(exprs[layer], V.element.interpolation_points)
            if cells.size:
                val.interpolate(expr, cells0=cells)
                count.x.array[V.dofmap.list[cells].reshape(-1)] = 1.0
            for f in (val, count):
                f.x.scatter_reverse(dolfinx.la.InsertMode.add)
                f.x.scatter_forward()
            here = count.x.array > 0.5
            value = np.where(here, val.x.array / np.maximum(count.x.array, 1.0), 0.0)
            if shared == "min":
                both = here & done
                value[both] = np.minimum(value[both], out.x.array[both])
                take = here
            else:
                take = here & ~done
            out.x.array[take] = value[take]
            done |= here
        return out

    # -- dofs decided the same way on every partition ----------------------------------------
    def facet_dofs(self, V: dolfinx.fem.FunctionSpace, facet: str) -> np.ndarray:
        """Local dofs of V on the named facet (``bottom``, ``top``, ``"A/B"``)."""
        facets = self.stack.facet_tags.find(self.stack.facet_ids[facet])
        return dolfinx.fem.locate_dofs_topological(V, self.dim - 1, facets)

    @staticmethod
    def dof_marker(V: dolfinx.fem.FunctionSpace, dofs: np.ndarray) -> np.ndarray:
        """Boolean per local dof (owned and ghost): marked on some rank. The marks are summed
        to the owner and sent back, so a dof that one rank sees only as a ghost of a cell of
        another layer gets the same answer as on its owner. Collective."""
        f = dolfinx.fem.Function(V)
        f.x.array[dofs] = 1.0
        f.x.scatter_reverse(dolfinx.la.InsertMode.add)
        f.x.scatter_forward()
        return f.x.array > 0.5

    def layer_dof_markers(self, V: dolfinx.fem.FunctionSpace,
                          layers: list[str]) -> dict[str, np.ndarray]:
        """Per layer, :meth:`dof_marker` of the dofs of its cells (touches the layer)."""
        return {n: self.dof_marker(V, V.dofmap.list[self.layer_cells(n)].reshape(-1))
                for n in layers}

    def own_dofs(self, V: dolfinx.fem.FunctionSpace, layers: list[str], pinned: np.ndarray,
                 touch: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Per layer of ``layers``, the local dofs of V that touch a cell of the layer, no cell
        of another of ``layers`` and are not ``pinned`` (local dof indices, e.g. Dirichlet
        ones): the nodes a per-layer shift may move without touching a neighbour. Decided by
        markers summed to the owners (partition-independent); ``touch`` reuses
        :meth:`layer_dof_markers`. Collective."""
        touch = touch if touch is not None else self.layer_dof_markers(V, layers)
        fixed = self.dof_marker(V, pinned)
        out = {}
        for n in layers:
            others = np.zeros(fixed.size, bool)
            for m in layers:
                if m != n:
                    others |= touch[m]
            out[n] = np.flatnonzero(touch[n] & ~others & ~fixed).astype(np.int32)
        return out

    # -- fields that live on some layers only ------------------------------------------------
    def inactive_dofs(self, V: dolfinx.fem.FunctionSpace, layers: list[str]) -> np.ndarray:
        """Local dofs of V that touch no cell of ``layers``.

        Found by assembling the layers' indicator against the test functions (summed over
        ranks), so the answer does not depend on the partition. A field living on ``layers``
        fixes these dofs by a Dirichlet condition (see :meth:`pattern_term`).
        """
        key = ("inactive", id(V), tuple(sorted(layers)))
        if key not in self._cache:
            indicator = self.cellwise({name: 1.0 for name in layers}, "indicator")
            v = ufl.TestFunction(V)
            test = sum(v[i] for i in range(v.ufl_shape[0])) if v.ufl_shape else v
            marker = dolfinx.fem.assemble_vector(dolfinx.fem.form(
                indicator * test * ufl.dx(domain=self.mesh, metadata={"quadrature_degree": 2})))
            marker.scatter_reverse(dolfinx.la.InsertMode.add)
            marker.scatter_forward()
            bs = V.dofmap.index_map_bs
            touched = (np.abs(marker.array) >= 1e-300).reshape(-1, bs).any(axis=1)
            self._cache[key] = np.flatnonzero(~touched).astype(np.int32)  # block dof indices
        return self._cache[key]

    def pattern_term(self, u, v, layers: list[str]):
        """A zero residual term on the cells outside ``layers``.

        It puts the diagonal of the fixed (inactive) dofs into the sparsity pattern; without
        it the Jacobian has empty rows there and the Dirichlet diagonal cannot be set.
        """
        others = tuple(self.stack.layer_ids[lay.name] for lay in self.cfg.layers
                       if lay.name not in layers)
        if not others:
            return None
        zero = dolfinx.fem.Constant(self.mesh, 0.0)
        return zero * ufl.inner(u, v) * self.dx(others)

    # -- sampling -------------------------------------------------------------------------------
    def dg_space(self, degree: int) -> dolfinx.fem.FunctionSpace:
        key = ("dg", degree)
        if key not in self._cache:
            self._cache[key] = dolfinx.fem.functionspace(self.mesh, ("DG", degree))
        return self._cache[key]

    @cached_property
    def _bb_tree(self):
        return dolfinx.geometry.bb_tree(self.mesh, self.dim)

    def evaluate(self, func: dolfinx.fem.Function, points: np.ndarray) -> np.ndarray:
        """Values of ``func`` at ``points`` (n, 3), the same on every rank (collective).

        Each point is evaluated on a rank that holds a cell containing it; a point outside
        the mesh gives NaN.
        """
        pts = np.ascontiguousarray(points, dtype=self.mesh.geometry.x.dtype)
        cands = dolfinx.geometry.compute_collisions_points(self._bb_tree, pts)
        colliding = dolfinx.geometry.compute_colliding_cells(self.mesh, cands, pts)
        ncomp = int(np.prod(func.ufl_shape)) if func.ufl_shape else 1
        local = np.full((len(pts), ncomp), np.nan)
        found = np.flatnonzero(np.diff(colliding.offsets) > 0)
        if found.size:
            cells = colliding.array[colliding.offsets[found]]
            local[found] = func.eval(pts[found], cells).reshape(found.size, ncomp)
        gathered = self.comm.allgather(local)
        out = np.full_like(local, np.nan)
        for arr in gathered:  # first rank that found a point wins (values agree across ranks)
            take = np.isnan(out[:, 0]) & ~np.isnan(arr[:, 0])
            out[take] = arr[take]
        return out[:, 0] if ncomp == 1 else out

    def integrate(self, expr, measure=None) -> float:
        """Global integral of a scalar UFL expression (allreduced).

        The compiled form is kept, keyed by the form's signature and the identities of its
        coefficients and constants: summaries and time series integrate the same expressions
        at every step, and ``dolfinx.fem.form`` costs ~0.1 s per call even when its JIT cache
        hits (the cached module's import), which dominated the time per step of small runs."""
        ufl_form = expr * (measure if measure is not None else self.dx)
        key = ("integrate", ufl_form.signature(),
               tuple(c.count() for c in ufl_form.coefficients()),
               tuple(c.count() for c in ufl_form.constants()))
        form = self._cache.get(key)
        if form is None:
            form = self._cache[key] = dolfinx.fem.form(ufl_form)
        return self.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)
