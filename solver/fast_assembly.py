"""The fast assembly of the coupled (blocked) problem, through DOLFINx 0.11 internals.

DOLFINx's blocked NonlinearProblem packs the coefficients of every block before it assembles
the first one, and assembles each block through PETSc's MatSetValues. The callbacks here
assemble the same forms with the coefficients packed block by block (:class:`PackOnDemand`,
less peak memory), into DOLFINx CSR matrices whose arrays PETSc shares (:class:`BlockedCSR`,
:class:`MatrixBlock`: no row search), and for the Picard split into nests of blocks
(:class:`NestedPicardJacobian`: the Picard block assembled once for both matrices). Same
matrices and vectors as DOLFINx's own assembly (tests/verification/test_solvers.py compares
them entry by entry); measured in benchmarks/README.md.

They reach into DOLFINx's internals (``dolfinx.cpp.fem`` assemblers, the ``_blocks``
attribute of its blocked vectors, the problem's ``_A``, ``_cpp_object``), which change between
releases: :func:`select_assembly` allows this path only on the DOLFINx release it was written
for (:data:`WRITTEN_FOR`), according to ``solver.assembly`` ("auto": fall back to DOLFINx's
own assembly with a warning; "fast": refuse to run; "standard": never use it).
"""

from __future__ import annotations

import importlib
import logging
import re

import numpy as np
import ufl

from heterofem.solver.config import ConfigError
from heterofem.solver.dolfinx_env import PETSc, dolfinx

log = logging.getLogger("heterofem")

#: the DOLFINx release (major, minor) whose internals this module uses
WRITTEN_FOR = (0, 11)

#: the DOLFINx functions this module calls, by module (checked before the fast path is chosen)
_INTERNALS = {
    "dolfinx.cpp.fem": ("assemble_matrix", "insert_diagonal"),
    "dolfinx.cpp.fem.petsc": ("assemble_matrix", "insert_diagonal"),
    "dolfinx.fem": ("create_matrix", "pack_coefficients", "pack_constants", "bcs_by_block",
                    "extract_function_spaces", "form"),
    "dolfinx.fem.petsc": ("apply_lifting", "assemble_matrix", "assemble_vector", "assign",
                          "set_bc", "create_matrix"),
}


def unsupported_reason() -> str | None:
    """Why the fast assembly cannot run with the DOLFINx imported here, or None if it can:
    another release than :data:`WRITTEN_FOR`, or one of the functions it calls missing."""
    version = dolfinx.__version__
    found = re.match(r"(\d+)\.(\d+)", version)
    if found is None or tuple(int(v) for v in found.groups()) != WRITTEN_FOR:
        return (f"it was written for DOLFINx {WRITTEN_FOR[0]}.{WRITTEN_FOR[1]} and this is "
                f"DOLFINx {version}")
    missing = []
    for module, names in _INTERNALS.items():
        try:
            mod = importlib.import_module(module)
        except ImportError:
            missing.append(module)
            continue
        missing.extend(f"{module}.{name}" for name in names if not hasattr(mod, name))
    if missing:
        return f"DOLFINx {version} lacks {', '.join(missing)}"
    return None


def assembly_problems(setting: str) -> list[tuple[str, str]]:
    """``solver.assembly = setting`` as config problems: "fast" where this DOLFINx lacks the
    fast block assembly (run by the preflight, before anything is meshed or written)."""
    reason = unsupported_reason() if setting == "fast" else None
    if reason is None:
        return []
    return [("solver.assembly", f"\"fast\" is not available: {reason}; use \"auto\" or "
             "\"standard\" (DOLFINx's own assembly: same answers, more memory and time)")]


def select_assembly(setting: str, blocked: bool = True) -> str:
    """The assembly path of a problem, "fast" or "standard", for ``solver.assembly`` =
    ``setting``: "standard" as asked; "fast" where this DOLFINx supports it, else a
    :class:`ConfigError` naming ``solver.assembly``; "auto" the fast path where supported,
    else the standard one with a warning that says why. A problem that is not ``blocked``
    (one unknown) has no blocks to assemble one by one: "standard", and no warning."""
    if setting == "standard":
        return "standard"
    problems = assembly_problems(setting)
    if problems:
        raise ConfigError(problems)
    if not blocked:
        return "standard"
    reason = unsupported_reason()
    if reason is None:
        return "fast"
    log.warning("solver.assembly = \"auto\": using DOLFINx's standard assembly (same answers, "
                "more memory and time) because the fast block assembly is not available: %s",
                reason)
    return "standard"


class PackOnDemand:
    """Packed coefficients for DOLFINx's blocked assemblers, one block at a time.

    ``dolfinx.fem.petsc`` packs the coefficients of every block of a blocked form before it
    assembles the first one: an array of (cells x all coefficient dofs of the form) per
    integral and block, ~480 MiB for the coupled Jacobian at 1e6 unknowns (2D P1), and that
    was the peak memory of a Newton iteration. Handed this object as ``coeffs``, the
    assemblers pack a block (matrix: ``coeffs[i][j]``; vector: iterating; lifting:
    ``coeffs[i]``, one row) when they reach it, and the block before is released first.
    Same arrays, same assembly: only the lifetime changes."""

    def __init__(self, forms, nested: bool = False):
        self.forms, self.nested, self._last = forms, nested, []

    def _pack(self, form):
        for packed in self._last:  # the assembler is done with it
            packed.clear()
        packed = dolfinx.fem.pack_coefficients(form)
        self._last = packed if isinstance(packed, list) else [packed]
        return packed

    def __len__(self):
        return len(self.forms)

    def __getitem__(self, i):
        if self.nested:
            return PackOnDemandRow(self, self.forms[i])
        return self._pack(self.forms[i])

    def __iter__(self):
        return (self[i] for i in range(len(self.forms)))


class PackOnDemandRow:
    """One row of a nested :class:`PackOnDemand` (a matrix's ``coeffs[i]``)."""

    def __init__(self, owner: PackOnDemand, row):
        self.owner, self.row = owner, row

    def __getitem__(self, j):
        return self.owner._pack(self.row[j])


def assemble_blockwise(problem, bcs, split_remainder=None, lag_preconditioner: int = 1,
                       index_sets=None):
    """Replace the SNES callbacks of a blocked (kind="mpi") NonlinearProblem by the same
    assembly (``dolfinx.fem.petsc.assemble_residual`` / ``assemble_jacobian``) with the
    coefficients packed block by block (:class:`PackOnDemand`). Returns the line-search
    pre-check step that keeps the Dirichlet values exact.

    ``split_remainder`` = (row, form, exact) (:func:`heterofem.solver.picard.picard_split`):
    the problem's Jacobian has the Picard block in the (row, row) place and ``form`` is the
    rest of the exact block; ``exact`` is the exact Jacobian's UFL blocks, compiled when first
    needed (the residual's lifting, an iterate off its Dirichlet values). The matrices are
    then nested (:class:`NestedPicardJacobian`, ``index_sets``: each unknown's global rows).
    Without it, a Jacobian of scalar unknowns on one rank with no separate preconditioning
    matrix is assembled through CSR blocks (:class:`BlockedCSR`), anything else as DOLFINx
    does."""
    callbacks = BlockwiseCallbacks(problem, bcs, split_remainder, lag_preconditioner,
                                   index_sets)
    snes = problem.solver
    snes.setFunction(callbacks.residual, problem.b)
    A, P_mat = callbacks.matrices(problem)
    snes.setJacobian(callbacks.jacobian, A, P_mat)
    if A is not problem.A:
        # the blocked matrix DOLFINx made is not used: its memory goes, ours takes its place
        problem.A.destroy()
        problem._A = A
    return callbacks.exact_bcs


class BlockwiseCallbacks:
    """The residual and Jacobian callbacks of :func:`assemble_blockwise` and its pre-check
    step (what they need of the problem is kept, not the problem: SNES holds the callbacks).
    """

    def __init__(self, problem, bcs, split_remainder, lag_preconditioner, index_sets):
        from dolfinx.fem import bcs_by_block, extract_function_spaces

        self.u, self.F, self.J, self.P = problem.u, problem.F, problem.J, problem.preconditioner
        self.bcs = bcs
        self.blocks = problem.b.getAttr("_blocks")
        self.bcs0 = bcs_by_block(extract_function_spaces(self.F), bcs)
        self.bcs1 = bcs_by_block(extract_function_spaces(self.J, 1), bcs)
        #: the exact Jacobian's compiled forms (the residual's lifting, the reused iterations)
        self._exact_forms, self._exact_ufl = self.J, None
        self.nested = self.blocked = None
        comm = problem.A.getComm()
        if split_remainder is not None:
            row, remainder, self._exact_ufl = split_remainder
            self._exact_forms = None
            self.nested = NestedPicardJacobian(self.J, row, remainder, self.exact_jacobian_forms,
                                               bcs, index_sets, lag_preconditioner, comm)
        elif (self.P is None and comm.getSize() == 1
              and all(f.function_spaces[k].dofmap.index_map_bs == 1
                      for row in self.J for f in row if f is not None for k in (0, 1))):
            self.blocked = BlockedCSR(self.J)  # scalar unknowns on one rank (vector: PETSc's)
            self.cpp_bcs = [bc._cpp_object for bc in bcs]
        self.scratch = problem.b.duplicate()
        self.scratch.setAttr("_blocks", self.blocks)

    def matrices(self, problem):
        """(Jacobian, preconditioning matrix) that SNES assembles into."""
        if self.nested is not None:
            return self.nested.A, self.nested.P
        if self.blocked is not None:
            return self.blocked.mat, None
        return problem.A, problem.P_mat

    def exact_jacobian_forms(self):
        """The exact Jacobian's compiled blocks (compiled at the first call)."""
        if self._exact_forms is None:
            self._exact_forms = dolfinx.fem.form(self._exact_ufl)
        return self._exact_forms

    def _satisfies_bcs(self, x) -> bool:
        """Whether x equals the Dirichlet values on every constrained dof (all ranks): after
        the first Newton iteration it does, since updates are zero there."""
        from dolfinx.fem.petsc import set_bc

        with self.scratch.localForm() as loc:
            loc.set(0.0)
        set_bc(self.scratch, self.bcs0, x0=x, alpha=-1.0)  # x - g on the constrained dofs
        return self.scratch.norm(PETSc.NormType.INFINITY) == 0.0

    def residual(self, _snes, x, b) -> None:
        from dolfinx.fem.petsc import apply_lifting, assemble_vector, assign, set_bc

        x.ghostUpdate(addv=_INSERT, mode=_FORWARD)
        assign(x, self.u)
        b.setAttr("_blocks", self.blocks)
        x.setAttr("_blocks", self.blocks)
        with b.localForm() as loc:
            loc.set(0.0)
        assemble_vector(b, self.F, coeffs=PackOnDemand(self.F))
        if not self._satisfies_bcs(x):  # else the lifting J (g - x) is zero: skip it
            J_lift = self.exact_jacobian_forms()
            apply_lifting(b, J_lift, bcs=self.bcs1, x0=x, alpha=-1.0,
                          coeffs=PackOnDemand(J_lift))
        b.ghostUpdate(addv=_ADD, mode=_REVERSE)
        set_bc(b, self.bcs0, x0=x, alpha=-1.0)
        b.ghostUpdate(addv=_INSERT, mode=_FORWARD)

    def jacobian(self, snes_, x, A, P_mat) -> None:
        from dolfinx.fem.petsc import assemble_matrix, assign

        x.ghostUpdate(addv=_INSERT, mode=_FORWARD)
        assign(x, self.u)
        if self.nested is not None:
            self.nested.assemble(snes_.getIterationNumber())
            return
        if self.blocked is not None:
            self.blocked.assemble(self.cpp_bcs)
            return
        for mat, forms in ((A, self.J), (P_mat, self.P)):
            if forms is None:
                continue
            mat.zeroEntries()
            assemble_matrix(mat, forms, self.bcs, diag=1.0,
                            coeffs=PackOnDemand(forms, nested=True))
            mat.assemble()

    def exact_bcs(self, x, y) -> None:
        """Newton update on the constrained dofs set to exactly x - g (a Krylov solve gives it
        only to its tolerance): the iterate then keeps the Dirichlet values to the last bit,
        and the residual can skip its lifting (_satisfies_bcs)."""
        from dolfinx.fem.petsc import set_bc

        y.setAttr("_blocks", self.blocks)
        set_bc(y, self.bcs0, x0=x, alpha=-1.0)


_INSERT, _ADD = PETSc.InsertMode.INSERT, PETSc.InsertMode.ADD
_FORWARD, _REVERSE = PETSc.ScatterMode.FORWARD, PETSc.ScatterMode.REVERSE


class BlockedCSR:
    """The blocked Jacobian on one rank, assembled block by block into DOLFINx CSR matrices and
    written into the PETSc matrix's value array (which it shares, ``createAIJWithArrays``) at
    precomputed positions: no PETSc MatSetValues (the row search and the local sub-matrix's
    index mapping), as for :class:`MatrixBlock`. Blocks of the same sparsity share one CSR
    matrix (one block's values at a time); the positions cost 4 bytes per nonzero. Scalar
    unknowns only (a vector space's CSR matrix holds blocks)."""

    def __init__(self, J):
        n = len(J)
        spaces = [next(f for f in J[i] if f is not None).function_spaces[0] for i in range(n)]
        sizes = [V.dofmap.index_map.size_local * V.dofmap.index_map_bs for V in spaces]
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        self.J, self._scratch, self.entries = J, {}, []
        counts = [[None] * n for _ in range(n)]
        for i in range(n):
            for j in range(n):
                if J[i][j] is None:
                    continue
                csr = dolfinx.fem.create_matrix(J[i][j])
                key = (csr.indptr.tobytes(), csr.indices.tobytes())
                csr = self._scratch.setdefault(key, csr)  # one matrix per distinct sparsity
                counts[i][j] = np.diff(csr.indptr[: sizes[i] + 1])
                self.entries.append([i, j, csr, None])
        row_nnz = [sum(c for c in counts[i] if c is not None) for i in range(n)]
        indptr = np.concatenate([[0], np.cumsum(np.concatenate(row_nnz))]).astype(PETSc.IntType)
        indices = np.empty(indptr[-1], dtype=PETSc.IntType)
        for entry in self.entries:
            i, j, csr, _ = entry
            before = sum(counts[i][k] for k in range(j) if counts[i][k] is not None)
            start = indptr[offsets[i]: offsets[i] + sizes[i]] + before  # the block's first slot
            c = counts[i][j]
            nnz = int(csr.indptr[sizes[i]])
            pos = np.repeat(start - csr.indptr[: sizes[i]], c) + np.arange(nnz)
            entry[3] = pos.astype(PETSc.IntType)
            indices[entry[3]] = csr.indices[:nnz] + offsets[j]
        self.values = np.zeros(indptr[-1])
        N = int(offsets[-1])
        self.mat = PETSc.Mat().createAIJWithArrays((N, N), (indptr, indices, self.values),
                                                   comm=spaces[0].mesh.comm)

    def assemble(self, bcs) -> None:
        from dolfinx import cpp as _cpp

        for i, j, csr, pos in self.entries:
            form = self.J[i][j]
            csr.data[:] = 0.0
            _cpp.fem.assemble_matrix(csr._cpp_object, form._cpp_object,
                                     dolfinx.fem.pack_constants(form),
                                     dolfinx.fem.pack_coefficients(form), bcs)
            if i == j:
                _cpp.fem.insert_diagonal(csr._cpp_object, form.function_spaces[0], bcs, 1.0)
            self.values[pos] = csr.data[: pos.size]
        self.mat.assemble()


class NestedPicardJacobian:
    """The Jacobian and the Picard preconditioning matrix of a diagonal field split, as PETSc
    nests of the blocks (``index_sets``: each unknown's global rows, the field split's).

    A = [[J_ij]] with J_rr = the Picard block + ``remainder`` (row r: mu); P = diag(J_ii with
    the Picard block at r). Nothing is assembled twice: the Picard block is assembled into P
    and copied into J_rr, which the remainder completes, and P's other diagonal blocks are
    copies of A's. The field split takes its blocks from the nests without copying them (a
    monolithic matrix made it extract copies of P's diagonal blocks and A's off-diagonal rows
    at every set-up, and P was a copy of all of A). Each block is assembled on its own
    (:class:`MatrixBlock`).

    At the Newton iterations whose preconditioner PETSc reuses (``lag`` > 1: SNES rebuilds it
    when the iteration number is a multiple of the lag) P is not read and stays as it was
    (its blocks are copies, not A's own: the reused GAMG hierarchies, and their smoothers'
    eigenvalue bounds, stay those of the matrices they were built from), and J_rr is assembled
    with the exact form in one pass instead of the Picard block, the copy and the remainder's
    pass."""

    def __init__(self, J, row: int, remainder: ufl.Form, exact_forms, bcs, index_sets,
                 lag: int, comm):
        self.J, self.row, self.exact_forms, self.lag = J, row, exact_forms, lag
        self.bcs = [bc._cpp_object for bc in bcs]
        n = len(J)
        self.blocks = [[None if J[i][j] is None else MatrixBlock(J[i][j]) for j in range(n)]
                       for i in range(n)]
        #: P's diagonal: the Picard block in row r, copies of A's blocks elsewhere
        self.diagonal = [MatrixBlock(J[i][i]) for i in range(n)]
        self.picard = self.diagonal[row]
        self._picard_built = False
        diagonal = [[self.diagonal[i].mat if i == j else None for j in range(n)]
                    for i in range(n)]
        self.A = PETSc.Mat().createNest([[None if b is None else b.mat for b in blocks]
                                         for blocks in self.blocks],
                                        isrows=index_sets, iscols=index_sets, comm=comm)
        self.P = PETSc.Mat().createNest(diagonal, isrows=index_sets, iscols=index_sets,
                                        comm=comm)
        self.remainder = dolfinx.fem.form(remainder)

    def assemble(self, iteration: int) -> None:
        r = self.row
        reused = self._picard_built and iteration % self.lag
        for i, row in enumerate(self.blocks):
            for j, block in enumerate(row):
                if block is not None and (i, j) != (r, r):
                    block.assemble(self.J[i][j], self.bcs)
        J_rr = self.blocks[r][r]
        if reused:  # P is not read: the exact block in one pass
            J_rr.assemble(self.exact_forms()[r][r], self.bcs)
        else:
            self.picard.assemble(self.J[r][r], self.bcs)
            first = not self._picard_built
            if first:  # J_rr gets the pattern to copy into
                J_rr.assemble(self.J[r][r], self.bcs)
            self._picard_built = True
            J_rr.copy_from(self.picard)
            J_rr.assemble(self.remainder, self.bcs, add=True)
            for i, block in enumerate(self.diagonal):
                if i != r:
                    if first:  # the pattern, as for J_rr
                        block.assemble(self.J[i][i], self.bcs)
                    block.copy_from(self.blocks[i][i])
            self.P.assemble()
        self.A.assemble()


class MatrixBlock:
    """One block of a nest: a PETSc matrix with the sparsity of its form.

    On one rank it is a DOLFINx CSR matrix whose arrays the PETSc matrix shares: DOLFINx then
    adds each cell's entries at their positions in the rows, where PETSc's MatSetValues (the
    path of every PETSc matrix) searched the rows and cost about a fifth of the Jacobian's
    assembly (perf, benchmarks/README.md). On several ranks DOLFINx assembles into a PETSc
    matrix (its ghost rows go to their owners in PETSc's assembly)."""

    def __init__(self, form):
        from dolfinx.fem.petsc import create_matrix

        self.csr = None
        if form.mesh.comm.size == 1:
            self.csr = dolfinx.fem.create_matrix(form)
            V0, V1 = form.function_spaces
            shape = tuple(V.dofmap.index_map.size_local * V.dofmap.index_map_bs for V in (V0, V1))
            self.mat = PETSc.Mat().createAIJWithArrays(
                shape, (self.csr.indptr.astype(PETSc.IntType), self.csr.indices, self.csr.data),
                comm=form.mesh.comm)
        else:
            self.mat = create_matrix(form)

    def assemble(self, form, bcs, add: bool = False) -> None:
        """``form`` assembled into the block (rows and columns of Dirichlet dofs skipped; a
        diagonal block gets 1 on their diagonal), or with ``add`` added to it (no diagonal)."""
        from dolfinx import cpp as _cpp

        target = self.mat if self.csr is None else self.csr._cpp_object
        module = _cpp.fem.petsc if self.csr is None else _cpp.fem
        if not add:
            if self.csr is None:
                self.mat.zeroEntries()
            else:
                self.csr.data[:] = 0.0
        module.assemble_matrix(target, form._cpp_object, dolfinx.fem.pack_constants(form),
                               dolfinx.fem.pack_coefficients(form), bcs)
        if not add and form.function_spaces[0] is form.function_spaces[1]:
            if self.csr is None:  # PETSc: added values flushed before the diagonal is set
                self.mat.assemble(PETSc.Mat.AssemblyType.FLUSH)
            module.insert_diagonal(target, form.function_spaces[0], bcs, 1.0)
        self.mat.assemble()

    def copy_from(self, other: "MatrixBlock") -> None:
        """The values of a block with the same sparsity (from the same form, both assembled
        at least once: PETSc's copy needs the pattern)."""
        if self.csr is not None:
            self.csr.data[:] = other.csr.data
            self.mat.assemble()
            return
        other.mat.copy(self.mat, structure=PETSc.Mat.Structure.SAME_NONZERO_PATTERN)


