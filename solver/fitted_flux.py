"""Exponentially fitted (Scharfetter-Gummel / edge-averaged) vacancy flux on P1 simplices.

The flux J = -(D/kT) c (1 - theta) grad mu (dilute: -(D/kT) c grad mu) written per edge
(docs/model.md, "Exponentially fitted flux"), so that its Jacobian with respect to mu is an
M-matrix for any drift and algebraic multigrid works on the exact Jacobian.

Edge form of P1 stiffness: on a simplex K with constant tensor D and barycentric gradients
g_a, int_K grad v . D grad u = sum over the edges (a, b) of K of w_ab (u_a - u_b)(v_a - v_b),
w_ab = -|K| g_a . D g_b (because sum_a g_a = 0). Any edge fluxes F_ab thus give the residual
int_K sum_ab (w_ab/|K|) F_ab (v_a - v_b), whose integrand is constant on K (v_a - v_b =
-grad v . t_ab for P1 v, t_ab = x_b - x_a): a one-point rule integrates it exactly. UFL
differentiates it: Newton gets the exact Jacobian. The time term is lumped to the vertices on
the same one-point rule (:func:`lumped_ddt`; a consistent mass matrix has positive
off-diagonals), and so are the reported inventories (:func:`lumped_c`: conservation).

The edge flux (from vertex a to b), with s = (mu - E_f - 2 phi)/kT and beta = 2 phi/kT
(E_f is constant on a cell, so only phi drifts inside it), d = beta_b - beta_a:

    dilute:          F_ab = n [B(d) e^{s_a} - B(-d) e^{s_b}]              (Scharfetter-Gummel)
    site exclusion:  F_ab = n [B(d) th_a (1 - th_b) - B(-d) th_b (1 - th_a)],  th = sigma(s)

B(x) = x / (e^x - 1) the Bernoulli function. Both vanish when mu_a = mu_b (equilibrium is
exact), reduce to n theta (1 - theta)(mu_a - mu_b)/kT for close values (consistency with the
continuous flux), increase in mu_a and decrease in mu_b (monotone: the M-matrix property).
Everything is evaluated from the centroid value and gradient of s and beta (the vertex values
of a cell-wise linear field), so no quadrature of an exponential is needed, in 1D, 2D and 3D.

With the crystallization phase field the edge flux is a_K [(1 - h_K) F^am + h_K F^cr] (each
phase's own formation energy and diffusivity; h and the deposition activation a at the
centroid), a combination with non-negative weights of monotone fluxes; with interface
kinetics mu = mu_c + chi g is linear on each cell and enters unchanged (docs/model.md).
"""

from __future__ import annotations

from itertools import combinations

import ufl
from ufl.algorithms import apply_derivatives as _ad
from ufl.classes import Argument, Coefficient, ReferenceGrad, Zero

from heterofem.solver.config import ConfigError

#: |x| below which the Bernoulli function is taken from its Taylor series (error < 1e-20)
TOL_B = 1e-3


def bernoulli(x):
    """B(x) = x / (e^x - 1) in UFL, never overflowing: |x| e^{-(|x| + x)/2} / (1 - e^{-|x|})
    (the same value for either sign of x), Taylor about 0 for small |x|. One exponential:
    e^{-(|x| + x)/2} is e^{-|x|} for x > 0 and 1 otherwise (6 exp calls fewer per
    tetrahedron in each flux kernel, benchmarks/README.md "fitted_flux.py")."""
    a = abs(x)
    e = ufl.exp(-a)
    exact = a * ufl.conditional(ufl.gt(x, 0.0), e, 1.0) / (1.0 - e)
    taylor = 1.0 - x / 2.0 + x * x / 12.0 - x**4 / 720.0
    return ufl.conditional(ufl.lt(a, TOL_B), taylor, exact)


def _reference_grad_rules() -> bool:
    """Let UFL differentiate the reference gradient of a raw form argument (f a P1 Function
    or Argument, before FFCx's pull-back wraps it in ReferenceValue). UFL 2026.1 refuses
    ReferenceGrad(f) in two places, both of which only raised before: the expansion of
    ReferenceGrad(expression) down to the terminals (now: ReferenceGrad(f) there, pulled back
    by FFCx to ReferenceGrad(ReferenceValue(f)) as usual) and the Gateaux derivative (now:
    d/dw[v] ReferenceGrad(w) = ReferenceGrad(v), 0 for another coefficient; refused as before
    with coefficient_derivatives). Every form that compiled before compiles to the same code.
    Idempotent. UFL internals (fenics-ufl is pinned in constraints.txt): where they are not
    as expected (another UFL), nothing is patched and False is returned, and
    :func:`vertex_differences` keeps the physical-gradient form (the same values, slower)."""
    try:
        rules = _ad.ReferenceGradRuleset.__dict__["process"]
        if getattr(rules, "_heterofem_raw", False):
            return True
        gateaux = _ad.GateauxDerivativeRuleset.__dict__["process"]
        refused = gateaux.dispatcher.dispatch(ReferenceGrad)
        register_terminal, register_gateaux = rules.register, gateaux.register
    except (AttributeError, KeyError, TypeError):
        return False
    register_terminal(Coefficient)(lambda self, o: ReferenceGrad(o))
    register_terminal(Argument)(lambda self, o: ReferenceGrad(o))

    def reference_grad(self, o):
        f = o.ufl_operands[0]
        if isinstance(f, Coefficient) and not self._cd:
            v = self._w2v.get(f)
            return Zero(o.ufl_shape) if v is None else ReferenceGrad(v)
        return refused(self, o)

    register_gateaux(ReferenceGrad)(reference_grad)
    rules._heterofem_raw = True
    return True


def vertex_differences(f, mesh) -> list:
    """f_k - f_0 at the cell's vertices k = 0..tdim for a cell-wise linear f (P1 fields and
    cell-wise constants): component k - 1 of its reference gradient (the reference simplex
    has vertex 0 at the origin, vertex k at e_k), exact in the dofs. Written as grad f . J[:, k]
    (the same values; the derivative of f_k - f_0 with respect to a third vertex's dof was
    round-off, ~1e-17, instead of 0), FFCx could not see J K = I and multiplied it out in
    every test x trial product of the Jacobian; as reference gradients the products are 0/1
    tables (benchmarks/README.md, "fitted_flux.py": ops per cell and time)."""
    if _reference_grad_rules():
        g = ReferenceGrad(f)
        return [0.0] + [g[k] for k in range(mesh.topology.dim)]
    J = ufl.Jacobian(mesh)
    return [0.0] + [ufl.dot(ufl.grad(f), J[:, k]) for k in range(mesh.topology.dim)]


def vertex_values(f, mesh) -> list:
    """f at the cell's vertices for a cell-wise linear f, on a one-point (centroid) rule: f
    there minus the mean of :func:`vertex_differences` (the centroid is the vertices' mean)."""
    d = vertex_differences(f, mesh)
    f0 = f - sum(d[1:]) / len(d)
    return [f0 + dk for dk in d]


def sigma(t):
    """The logistic 1 / (1 + e^-t) in UFL, never overflowing."""
    e = ufl.exp(-abs(t))
    return ufl.conditional(ufl.lt(t, 0.0), e / (1.0 + e), 1.0 / (1.0 + e))


def sigma_pair(t) -> tuple:
    """(sigma(t), sigma(-t)) from one exponential (UFL does not see |-t| = |t|): the same
    values as :func:`sigma` twice."""
    e = ufl.exp(-abs(t))
    low, high = e / (1.0 + e), 1.0 / (1.0 + e)
    negative = ufl.lt(t, 0.0)
    return ufl.conditional(negative, low, high), ufl.conditional(negative, high, low)


def barycentric_gradients(mesh) -> list:
    """grad lambda_a of the affine simplex's barycentric coordinates (rows of J^{-1}; the
    first is minus their sum)."""
    tdim = mesh.topology.dim
    K = ufl.JacobianInverse(mesh)
    g = [K[k, :] for k in range(tdim)]
    return [-sum(g)] + g


def edges(tdim: int) -> list[tuple[int, int]]:
    """The edges (a, b), a < b, of a simplex of dimension tdim, as vertex indices."""
    return list(combinations(range(tdim + 1), 2))


def edge_weights(D, mesh) -> list:
    """w_ab / |K| = -g_a . D g_b for each edge of :func:`edges` (D a cell-constant tensor, or
    a scalar). Weights below 1e-12 of the cell's largest are set to 0: they are zero in
    exact arithmetic (the hypotenuse of a right triangle with a diagonal D, the face and body
    diagonals of a brick's six tetrahedra) and their round-off would put a sign error into
    the Jacobian."""
    tdim = mesh.topology.dim
    g = barycentric_gradients(mesh)
    if len(getattr(D, "ufl_shape", ())) == 2:
        raw = [-ufl.dot(g[a], ufl.dot(D, g[b])) for a, b in edges(tdim)]
    else:
        raw = [-D * ufl.dot(g[a], g[b]) for a, b in edges(tdim)]
    largest = abs(raw[0])
    for w in raw[1:]:
        largest = ufl.max_value(largest, abs(w))
    return [ufl.conditional(ufl.lt(abs(w), 1e-12 * largest), 0.0, w) for w in raw]


def edge_form(D, mesh, edge_flux, v, dx):
    """int sum_ab (w_ab/|K|) F_ab (v_a - v_b) dx: the residual of edge fluxes
    ``edge_flux(a, b)`` (from vertex a to b) for a P1 test function v; dx a one-point rule
    (the integrand is constant on each cell). With F_ab = u_a - u_b it is
    int grad v . D grad u dx."""
    dv = vertex_differences(v, mesh)
    weights = edge_weights(D, mesh)
    return sum(w * edge_flux(a, b) * (dv[a] - dv[b])
               for (a, b), w in zip(edges(mesh.topology.dim), weights)) * dx


def vacancy_flux_form(s, beta, D, n_hat, dilute: bool, v, mesh, dx):
    """The fitted vacancy flux residual (module docstring): s, beta linear on each cell (P1
    fields and cell-wise constants), D the scaled diffusivity tensor, n_hat the scaled site
    density (cell-wise), v the test function, dx a one-point (centroid) rule over the solid.

    (A one-point rule at a vertex, where the P1 values are exact, gave a wrong Jacobian in
    FFCx 0.11 when the same kernel also held the vertex-rule time term with the previous
    states: checked against finite differences; the centroid rule does not.)"""
    s_i = vertex_values(s, mesh)
    beta_i = vertex_differences(beta, mesh)
    if dilute:
        def occupancy(a, b):  # the factor of the edge flux out of a
            return ufl.exp(s_i[a])
    else:
        pairs = [sigma_pair(s) for s in s_i]

        def occupancy(a, b):  # sigma(s_a) sigma(-s_b)
            return pairs[a][0] * pairs[b][1]

    def flux(a, b):
        d = beta_i[b] - beta_i[a]
        B = bernoulli(d)  # B(-d) = B(d) + d: one Bernoulli function per edge
        return n_hat * (B * occupancy(a, b) - (B + d) * occupancy(b, a))

    return edge_form(D, mesh, flux, v, dx)


# -- the hooks of the vacancy module (solver/physics/vacancies.py), given the module `vac` --
def flux_term(vac, mu, phi, h, v_mu):
    """The vacancies' flux term with ``physics.vacancy_flux = "fitted"``: P1 on affine
    simplices, else a ConfigError naming the key. ``mu`` may be broken across kinetic
    interfaces (mu_c + chi g: still linear on each cell). With a phase fraction h (the
    crystallization phase field) the mixture of the two phases' edge fluxes, each with its
    own formation energy and diffusivity, weighted by the cell's (centroid) values of 1 - h
    and h (clamped to [0, 1]) times the deposition activation: a combination with
    non-negative weights of monotone edge fluxes is monotone (docs/model.md)."""
    mesh, cfg = vac.domain.mesh, vac.domain.cfg
    simplex = mesh.topology.cell_type.name in ("interval", "triangle", "tetrahedron")
    if cfg.physics.element_degree != 1 or not simplex or mesh.geometry.cmaps[0].degree != 1:
        raise ConfigError([("physics.vacancy_flux", "\"fitted\" needs element_degree = 1 and "
                            "an affine simplex mesh; use \"exact\"")])
    s = (mu - vac.E_f - 2.0 * phi) / vac.kT  # linear on each cell: E_f is cell-wise
    beta = 2.0 * phi / vac.kT
    if h is None:
        return vacancy_flux_form(s, beta, vac.D_hat, vac.n_hat, vac.dilute, v_mu, mesh,
                                 vac.dx_centroid)
    h_K = ufl.min_value(ufl.max_value(h, 0.0), 1.0)  # at the centroid (one-point rule)
    front = vac.deposition_front()
    n_K = vac.n_hat if front is None else vac.n_hat * front.activation
    amorphous = vacancy_flux_form(s, beta, vac.D_hat, n_K * (1.0 - h_K), vac.dilute, v_mu,
                                  mesh, vac.dx_centroid)
    crystal = vacancy_flux_form(s - vac.dE_cryst / vac.kT, beta, vac.D_hat_cryst, n_K * h_K,
                                vac.dilute, v_mu, mesh, vac.dx_centroid)
    return amorphous + crystal


def vertex_states(vac, u) -> list[dict]:
    """The state dict at each of the cell's vertices: every scalar field of ``u`` replaced by
    its vertex value (:func:`vertex_values`; P1 fields, and the broken mu's parts)."""
    mesh = vac.domain.mesh
    values = {name: vertex_values(f, mesh) for name, f in u.items() if f.ufl_shape == ()}
    return [{name: vals[i] for name, vals in values.items()}
            for i in range(mesh.topology.dim + 1)]


def c_vertices(vac, u) -> list:
    """c_hat at the cell's vertices of a state dict (lumped mass and inventory): the cell's
    side of a broken mu, and with a phase field the mixture n [(1 - h_i) theta_am + h_i
    theta_cr] with h_i = h(xi_i) at the vertex."""
    return [vac.c_state(st) for st in vertex_states(vac, u)]


def lumped_c(vac, u):
    """The vertex mean of c_hat: integrated with a one-point rule, the lumped inventory."""
    values = c_vertices(vac, u)
    return sum(values) / len(values)


def lumped_ddt(vac, history, u, v_mu):
    """The time term with the mass lumped to the vertices, sum_i d(c_i)/dt v_i |K|/(n+1), on
    the flux's one-point rule: a diagonal mass matrix keeps the M-matrix. (FFCx 0.11's
    "vertex" rule, and a custom rule at the vertices, assembled a wrong residual in a kernel
    that also held a one-point rule: checked against separate assembly; hence this form.)"""
    vs = vertex_values(v_mu, vac.domain.mesh)
    n = len(vs)
    return sum(history.ddt(lambda st, i=i: c_vertices(vac, st)[i], u, at=vac.dx_centroid,
                           relative=True) * vs[i] for i in range(n)) / n * vac.dx_centroid
