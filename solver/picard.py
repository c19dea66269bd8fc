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
derivative is taken. With interface kinetics the gradient is that of the broken mu,
grad(mu_c + chi g) (solver/physics/interface_kinetics.py): mu_c and the jump g both get stand-ins
inside it, so the mu rows' Picard blocks are mu-mu and mu-g with the mobility held; the jump's
own rows keep the exact Jacobian (docs/model.md "Interface kinetics").
"""

from __future__ import annotations

import ufl
from ufl.corealg.map_dag import map_expr_dag
from ufl.corealg.multifunction import MultiFunction

from heterofem.solver.dolfinx_env import dolfinx


def picard_parts(residual: ufl.Form, mu: dolfinx.fem.Function, others=()):
    """The ``mu`` equation's ``residual`` split as (flux, rest, stand-ins): ``flux`` is the form
    of the terms with grad(mu), their grad(mu) written with a stand-in function, and ``rest``
    the other terms (storage, exchange); stand-ins maps mu (and each of ``others`` that sits
    inside such a gradient) to its stand-in. With interface kinetics the gradient is that of
    the broken mu, grad(mu_c + chi g) (solver/physics/interface_kinetics.py): both unknowns
    get stand-ins there, so the Picard matrix holds the mobility fixed in the jump's column
    too."""
    frozen = dolfinx.fem.Function(mu.function_space, name="mu_grad")  # stands in for grad's mu
    stand_ins = {mu: frozen}
    for w in others:
        stand_ins[w] = dolfinx.fem.Function(w.function_space, name=f"{w.name}_grad")

    class _GradOfMu(MultiFunction):
        expr = MultiFunction.reuse_if_untouched

        def grad(self, o, *ops):
            inner = o.ufl_operands[0]
            if inner == mu:
                return ufl.grad(frozen)
            inside = ufl.algorithms.extract_coefficients(inner)
            if mu in inside:  # the broken mu
                return ufl.grad(ufl.replace(inner, {w: s for w, s in stand_ins.items()
                                                    if w in inside}))
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
    return ufl.Form(flux), ufl.Form(rest), stand_ins


def _derivative(form: ufl.Form, wrt, du, stand_ins: dict) -> ufl.Form | None:
    """d form / d wrt in direction du, the stand-ins then set back to their unknowns (None if
    zero)."""
    if not form.integrals():
        return None
    d = ufl.algorithms.expand_derivatives(ufl.derivative(form, wrt, du))
    d = ufl.replace(d, {s: w for w, s in stand_ins.items()})
    return d if d.integrals() else None


def picard_entry(parts, mu: dolfinx.fem.Function, wrt: dolfinx.fem.Function) -> ufl.Form | None:
    """The Picard matrix's (mu, wrt) block from :func:`picard_parts`: the derivative of the
    non-flux terms, plus where ``wrt`` has a stand-in (mu; the jump of a broken mu) the
    flux's derivative through the gradient only."""
    flux, rest, stand_ins = parts
    du = ufl.TrialFunction(wrt.function_space)
    terms = [_derivative(rest, wrt, du, stand_ins)]
    if wrt in stand_ins:
        terms.append(_derivative(flux, stand_ins[wrt], du, stand_ins))
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
    parts = picard_parts(residual, mu, [u[n] for n in names if n != row])
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
    flux, _, stand_ins = parts
    remainder = _derivative(flux, mu, ufl.TrialFunction(mu.function_space), stand_ins)
    picard = picard_entry(parts, mu, mu)
    if remainder is None or picard is None:
        return None
    return picard, remainder
