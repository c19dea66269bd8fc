"""Proof by extension (#21 item 7): a physics defined here, outside the library, registered
through the public registry, switched on without a schema edit and solved coupled with the
library's electrostatics in one monolithic Newton solve.

The tracer: a neutral species c diffusing with its own Arrhenius D(T), the temperature read
from the model's temperature provider, and a reaction with the potential phi that it reads
from the electrostatics' unknown (the coupling block of the Jacobian is not empty):

    -D c'' + k phi c = f    in the layer,      c = 1 on the bottom and top facets.

Manufactured solution c = 1 + sin(pi z / L). Between phi = 0 and phi = V across one
dielectric layer the potential is V z / L, which P1 represents exactly, so f is built with
that phi and the tracer's error is the discretisation error alone: rate 2 in L2 for P1.
"""

from __future__ import annotations

import numpy as np
import pytest
import ufl

from conftest import build_model
from heterofem.solver import units
from heterofem.solver.config import Config
from heterofem.solver.coupling import CoupledProblem, active_physics
from heterofem.solver.dolfinx_env import MPI, dolfinx
from heterofem.solver.physics import registry
from heterofem.solver.physics.base import OutputField, Physics, Unknown
from heterofem.solver.physics.quantities import TEMPERATURE

L_NM, V, T_K = 4.0, 0.8, 500.0
D0_NM2, EA_EV, K_REACT = 3.0, 0.05, 0.7


class Tracer(Physics):
    """A neutral tracer c [1]: steady diffusion with a reaction driven by phi."""

    name = "tracer"
    reads = (TEMPERATURE, "phi")

    def __init__(self, domain, couplings=None):
        super().__init__(domain, couplings)
        kT = units.K_B_EV * self.temperature_K
        self.D = D0_NM2 * float(np.exp(-EA_EV / kT))  # nm^2 per time unit

    def unknowns(self):
        return [Unknown("c", 1, "1", "neutral tracer")]

    def exact(self):
        z = ufl.SpatialCoordinate(self.domain.mesh)[self.domain.dim - 1]
        return 1.0 + ufl.sin(ufl.pi * z / L_NM), V * z / L_NM

    def residual(self, u, v, history=None):
        c, w = u["c"], v["c"]
        phi = self.couplings["phi"](u)
        c_ex, phi_ex = self.exact()
        f = self.D * (ufl.pi / L_NM) ** 2 * (c_ex - 1.0) + K_REACT * phi_ex * c_ex
        dx = self.domain.dx
        F = (self.D * ufl.inner(ufl.grad(c), ufl.grad(w)) + K_REACT * phi * c * w - f * w) * dx
        return {"c": F}

    def dirichlet(self, spaces):
        d, V_c = self.domain, spaces["c"]
        facets = np.concatenate([d.stack.facet_tags.find(d.stack.facet_ids[n])
                                 for n in ("bottom", "top")])
        dofs = dolfinx.fem.locate_dofs_topological(V_c, d.dim - 1, facets)
        return {"c": [dolfinx.fem.dirichletbc(dolfinx.default_scalar_type(1.0), dofs, V_c)]}

    def initialise(self, u):
        u["c"].x.array[:] = 1.0

    def outputs(self, u):
        return [OutputField("c_tracer", "1", u["c"])]


@pytest.fixture
def tracer():
    registry.register("tracer", Tracer)
    yield "tracer"
    registry.unregister("tracer")


def _config(h: float) -> Config:
    return Config.model_validate({
        "run": {"name": "tracer", "dimension": 1, "temperature_K": T_K},
        "layers": [{"name": "film", "material": "D", "thickness_nm": L_NM}],
        "materials": {"D": {"kind": "insulator",
                            "eps_r_a": {"value": 5.0, "unit": "dimensionless", "source": "test"},
                            "eps_r_c": {"value": 5.0, "unit": "dimensionless", "source": "test"}}},
        "mesh": {"size_nm": h, "interface_size_nm": h},
        "boundary": {"bottom": {"phi_V": 0.0}, "top": {"phi_V": V}},
    })


def _tracer_error(h: float, switch: str) -> float:
    domain = build_model(_config(h)).domain
    modules = active_physics(domain, extra=[switch])
    assert [m.name for m in modules] == ["electrostatics", "tracer"]
    problem = CoupledProblem(domain, modules)
    assert problem.names == ["phi", "c"]
    problem.solve()
    tracer = problem.modules["tracer"]
    c_ex, phi_ex = tracer.exact()
    err = ufl.dx(metadata={"quadrature_degree": 6})
    form = dolfinx.fem.form((problem.u["c"] - c_ex) ** 2 * err)
    total = domain.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)
    phi_err = dolfinx.fem.form((problem.u["phi"] - phi_ex) ** 2 * err)
    assert domain.comm.allreduce(dolfinx.fem.assemble_scalar(phi_err), op=MPI.SUM) < 1e-20
    return float(np.sqrt(total))


def test_tracer_physics_converges_at_rate_two(tracer):
    hs = [0.5, 0.25, 0.125]
    errors = [_tracer_error(h, tracer) for h in hs]
    rates = np.log(np.array(errors[:-1]) / errors[1:]) / np.log(2.0)
    assert errors[-1] < 1e-3
    assert rates == pytest.approx([2.0, 2.0], abs=0.1), (errors, rates)


def test_tracer_without_provider_is_a_clear_error(tracer):
    """The tracer reads phi: without electrostatics the model names the reader and phi."""
    cfg = _config(0.5)
    cfg.physics.electrostatics = False
    domain = build_model(cfg).domain
    with pytest.raises(ValueError, match="'tracer' reads 'phi'"):
        active_physics(domain, extra=[tracer])
