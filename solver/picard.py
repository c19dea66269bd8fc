"""The Picard preconditioner of the coupled vacancy problem (``solver.preconditioner =
"picard"``): UFL forms of the Jacobian with the coefficients of grad(mu) held fixed in the mu
rows.

The vacancy flux is M(mu, phi) grad(mu) with a mobility M exponential in mu and phi. Its exact
Jacobian has a convection-like part (dM/dmu) du grad(mu) that defeats AMG, SOR and ILU; without
it (M frozen) the mu block is storage + a mobility-weighted Laplacian, an M-matrix that GAMG
handles. Newton still uses the exact Jacobian, so the answer and the Newton iterations are
unchanged; the Krylov solver pays for the difference (tens of iterations, benchmarks/README.md).

The forms are built by rewriting the row's residual: each term with grad(mu) gets grad of a
stand-in function ``frozen`` instead (so that differentiating by mu reaches only the
mobility, and by ``frozen`` only grad(mu)), and the stand-in is set back to mu after the
derivative is taken.
"""

from __future__ import annotations

import ufl
from ufl.corealg.map_dag import map_expr_dag
from ufl.corealg.multifunction import MultiFunction

from heterofem.solver.dolfinx_env import dolfinx


def picard_parts(residual: ufl.Form, mu: dolfinx.fem.Function):
    """The ``mu`` equation's ``residual`` split as (flux, rest, frozen): ``flux`` is the form of
    the terms with grad(mu), their grad(mu) written with the stand-in ``frozen``, and ``rest``
    the other terms (storage, exchange)."""
    frozen = dolfinx.fem.Function(mu.function_space, name="mu_grad")  # stands in for grad's mu

    class _GradOfMu(MultiFunction):
        expr = MultiFunction.reuse_if_untouched

        def grad(self, o, *ops):
            if o.ufl_operands[0] == mu:
                return ufl.grad(frozen)
            return self.reuse_if_untouched(o, *ops)

    def summands(e):
        return (summands(e.ufl_operands[0]) + summands(e.ufl_operands[1])
                if isinstance(e, ufl.classes.Sum) else [e])

    flux, rest = [], []
    for itg in residual.integrals():
        for term in summands(itg.integrand()):
            swapped = map_expr_dag(_GradOfMu(), term)
            if swapped != term:
                flux.append(itg.reconstruct(integrand=swapped))
            else:
                rest.append(itg.reconstruct(integrand=term))
    return ufl.Form(flux), ufl.Form(rest), frozen


def _derivative(form: ufl.Form, wrt, du, frozen, mu) -> ufl.Form | None:
    """d form / d wrt in direction du, the stand-in then set back to mu (None if zero)."""
    if not form.integrals():
        return None
    d = ufl.algorithms.expand_derivatives(ufl.derivative(form, wrt, du))
    d = ufl.replace(d, {frozen: mu})
    return d if d.integrals() else None


def picard_entry(parts, mu: dolfinx.fem.Function, wrt: dolfinx.fem.Function) -> ufl.Form | None:
    """The Picard matrix's (mu, wrt) block from :func:`picard_parts`: the derivative of the
    non-flux terms, plus on the diagonal (``wrt`` is mu) the flux's derivative through grad(mu)
    only."""
    flux, rest, frozen = parts
    du = ufl.TrialFunction(wrt.function_space)
    terms = [_derivative(rest, wrt, du, frozen, mu)]
    if wrt is mu:
        terms.append(_derivative(flux, frozen, du, frozen, mu))
    terms = [f for f in terms if f is not None]
    return sum(terms[1:], terms[0]) if terms else None


def preconditioner_forms(exact: list[list[ufl.Form]], names: list[str],
                         u: dict[str, dolfinx.fem.Function], residual: ufl.Form,
                         diagonal_only: bool, row: str = "mu") -> list[list[ufl.Form]]:
    """The Picard preconditioning matrix's block forms: the exact Jacobian's blocks ``exact``
    (unknowns in the order of ``names``) with the ``row`` equation's (``residual``) blocks
    replaced by :func:`picard_entry`. With ``diagonal_only`` (a field split that reads only
    the diagonal blocks) the off-diagonal blocks are dropped: they would be assembled for
    nothing."""
    mu = u[row]
    parts = picard_parts(residual, mu)
    P = exact
    r = names.index(row)
    for j, name in enumerate(names):
        P[r][j] = picard_entry(parts, mu, u[name])
    if diagonal_only:
        for i in range(len(P)):
            for j in range(len(P)):
                if i != j:
                    P[i][j] = None
    return P


def picard_split(residual: ufl.Form, mu: dolfinx.fem.Function):
    """The exact mu-mu Jacobian block of the mu equation's ``residual`` as (Picard block,
    remainder), or None when either is zero.

    The remainder is the mobility's derivative, (dM/dmu) du grad(mu) . grad(v); the Picard
    block is the rest. Assembling the Picard block into the preconditioning matrix, copying
    it into the Jacobian's mu-mu block and adding the remainder there gives both matrices
    for the cost of the Jacobian and one block's copy: the mobility's average is not
    evaluated twice, and the phi block is shared
    (:class:`heterofem.solver.fast_assembly.NestedPicardJacobian`; measured in
    benchmarks/README.md)."""
    parts = picard_parts(residual, mu)
    flux, _, frozen = parts
    remainder = _derivative(flux, mu, ufl.TrialFunction(mu.function_space), frozen, mu)
    picard = picard_entry(parts, mu, mu)
    if remainder is None or picard is None:
        return None
    return picard, remainder
