"""Closed-form cell averages of exponential coefficients of a P1 field.

The vacancy mobility is exp(s) (dilute) or theta (1 - theta) = sigma'(s) (site exclusion) of
s = (mu - E_f - 2 phi) / kT, and s changes by many units inside one interface element early in
a transient. Quadrature needs degree 8 (16 points per triangle) to get the flux through those
elements right (Domain.transport_quadrature_degree), and that was half the cost of the
Jacobian's assembly. For P1 fields s is linear on each simplex, and the average of f(s) over
the cell has a closed form (Hermite-Genocchi):

    (1 / |T|) int_T f(s) dx = n! G[s_0, ..., s_n],   G^(n) = f,

the n-th divided difference of an n-fold antiderivative G at the vertex values s_i (n the
cell's dimension). With the flux's other factors constant on the cell (grad mu, grad v, D),
the flux integral is then exact, evaluated with a one-point rule: s and grad s at the
centroid give the vertex values through the cell's Jacobian.

    f = exp:      G = exp
    f = sigma':   n = 1: G = sigma (logistic);  n = 2: G = softplus = log(1 + e^s)

Implemented for intervals and triangles. Tetrahedra keep quadrature: sigma' would need
G = -Li_2(-e^s), which UFL lacks, and the third divided difference's case analysis makes a
very large Jacobian kernel.

Divided differences cancel when vertex values are close: below a spread of TOL_1 (first
differences) or TOL_2 (second) their Taylor series about the mean is used instead (error
below 1e-10 relative). sigma' is even, so sigma' kinds are evaluated at -s where the mean of s
is positive (sigma and softplus stay accurate in relative terms for negative arguments).
UFL differentiates all of it, so Newton gets the exact Jacobian of this discretisation.
"""

from __future__ import annotations

import ufl

TOL_1 = 1e-4  #: spread below which a first divided difference is taken from its Taylor series
TOL_2 = 1e-3  #: the same for a second divided difference


def supported(kind: str, tdim: int) -> bool:
    """Whether the closed form is implemented for this coefficient ("exp" or "logistic'") on
    cells of dimension tdim: intervals and triangles (tetrahedra use quadrature)."""
    return kind in ("exp", "logistic'") and tdim in (1, 2)


def cell_average(kind: str, s, mesh):
    """UFL expression of (1/|T|) int_T f(s) dx, f = exp ("exp") or sigma' ("logistic'"),
    for s linear on each cell; integrate it with a one-point (centroid) rule."""
    tdim = mesh.topology.dim
    if not supported(kind, tdim):
        raise ValueError(f"no closed-form cell average of {kind!r} in {tdim}D")
    s_i = vertex_values(s, mesh)
    if kind == "logistic'":  # even: evaluate on the side where sigma and softplus are accurate
        mean = sum(s_i) / len(s_i)
        sign = ufl.conditional(ufl.gt(mean, 0.0), -1.0, 1.0)
        s_i = [sign * v for v in s_i]
    derivs = _antiderivative(kind, tdim)
    if tdim == 1:
        return _dd1(derivs, *s_i)
    return 2.0 * _dd2(derivs, *s_i)


def vertex_values(s, mesh) -> list:
    """Values of a cell-wise linear s at the vertices, from s and grad s at the centroid."""
    tdim = mesh.topology.dim
    J = ufl.Jacobian(mesh)  # columns: edges from vertex 0 to vertices 1..n
    g = ufl.grad(s)
    d = [ufl.dot(g, J[:, k]) for k in range(tdim)]  # s_k - s_0
    s0 = s - sum(d) / (tdim + 1)  # the centroid is the mean of the vertices
    return [s0] + [s0 + dk for dk in d]


# -- antiderivatives and their derivatives: derivs[k] = G^(k) -----------------------------------
def _sigma(t):
    e = ufl.exp(-abs(t))  # never overflows
    return ufl.conditional(ufl.lt(t, 0.0), e / (1.0 + e), 1.0 / (1.0 + e))


def _log1p(x):
    """log(1 + x) for 0 <= x <= 1 to a few ulps (Goldberg's correction; series for tiny x)."""
    u = 1.0 + x
    return ufl.conditional(ufl.lt(x, 1e-8), x * (1.0 - 0.5 * x), ufl.ln(u) * x / (u - 1.0))


def _softplus(t):
    return ufl.max_value(t, 0.0) + _log1p(ufl.exp(-abs(t)))


def _antiderivative(kind: str, n: int) -> list:
    """[G, G', ..., G^(n+2)] as functions of t, with G^(n) = f."""
    if kind == "exp":
        return [ufl.exp] * (n + 3)

    def sig1(t):
        s = _sigma(t)
        return s * (1.0 - s)

    def sig2(t):
        s = _sigma(t)
        return s * (1.0 - s) * (1.0 - 2.0 * s)

    def sig3(t):
        p = sig1(t)
        return p * (1.0 - 6.0 * p)

    chain = [_softplus, _sigma, sig1, sig2, sig3]  # softplus' = sigma, sigma' = sigma(1-sigma)
    return chain[2 - n:]  # 1D: from sigma (G' = sigma'); 2D: from softplus


def _dd1(G, a, b):
    """G[a, b] = (G(a) - G(b)) / (a - b); Taylor about the midpoint for close arguments."""
    h = a - b
    m = 0.5 * (a + b)
    taylor = G[1](m) + G[3](m) * h * h / 24.0
    return ufl.conditional(ufl.lt(abs(h), TOL_1), taylor, (G[0](a) - G[0](b)) / h)


def _dd2(G, a, b, c):
    """G[a, b, c] with the arguments sorted (hi >= md >= lo): the extreme ones in the outer
    division, so the inner differences never span more than it; Taylor about the mean for close
    arguments. (Sorting first builds one formula where a case analysis over the orderings built
    three, each with its Jacobian: the mu rows' kernels were most of the coupled Jacobian's
    assembly, benchmarks/README.md.)"""
    m = (a + b + c) / 3.0
    taylor = G[2](m) / 2.0 + G[4](m) * ((a - m) ** 2 + (b - m) ** 2 + (c - m) ** 2) / 48.0
    hi, md, lo = _sorted3(a, b, c)
    exact = (_dd1(G, hi, md) - _dd1(G, md, lo)) / (hi - lo)
    return ufl.conditional(ufl.lt(hi - lo, TOL_2), taylor, exact)


def _sorted3(a, b, c):
    """(hi, md, lo): a, b, c in decreasing order, ties going to the earlier argument, as one
    permutation: each argument takes exactly one place, so that UFL's derivative of the
    selection is right where values tie (independent max/min selections sent a tied argument's
    derivative to both places and the other's to none: a wrong Jacobian in the many cells of a
    uniform region where vertex values coincide exactly)."""
    x, y, z = ufl.ge(a, b), ufl.ge(a, c), ufl.ge(b, c)  # "a before b", ...
    cond = ufl.conditional
    hi = cond(x, cond(y, a, c), cond(z, b, c))
    md = cond(x, cond(y, cond(z, b, c), a), cond(z, cond(y, a, c), b))
    lo = cond(z, cond(y, c, a), cond(x, b, a))
    return hi, md, lo
