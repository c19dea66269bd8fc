"""Adaptive meshes (``[mesh.adapt]``, solver/adapt.py, issue #25 item 3): the Kelly indicator
finds a front, the adapted mesh is fine there and coarse elsewhere (and coarse again where
the front has gone), the vacancy inventory of each layer survives ten remeshes to 1e-10,
the phase field stays in [0, 1], and bad input is refused naming its key."""

from __future__ import annotations

import numpy as np
import pytest
import ufl

from conftest import PROBLEMS, assert_input_error, build_model, cli, snapshot_dir

from heterofem.solver.dolfinx_env import MPI, dolfinx

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

VACANCIES = PROBLEMS / "tio2_vo2_tio2_001_vacancies_1d.toml"
#: a small 2D stack: substrate 0-20 nm, template 20-32 nm, film 32-38 nm, 2 nm wide
SMALL_2D = ["run.dimension=2", "mesh.width_nm=2", "mesh.size_nm=1.0",
            "mesh.interface_size_nm=0.5"]


def _settings(**kw):
    from heterofem.solver.config.schema import AdaptSection

    return AdaptSection(**{"fields": ["mu"], **kw})


def _tanh_front(V, z0: float, width: float = 0.2) -> dolfinx.fem.Function:
    u = dolfinx.fem.Function(V, name="u")
    u.interpolate(lambda x: 0.5 * (1.0 + np.tanh((x[1] - z0) / width)))
    return u


def _cell_sizes(mesh) -> tuple[np.ndarray, np.ndarray]:
    """(midpoint z, area) of the owned triangles."""
    tdim = mesh.topology.dim
    cells = np.arange(mesh.topology.index_map(tdim).size_local, dtype=np.int32)
    mid = dolfinx.mesh.compute_midpoints(mesh, tdim, cells)
    x = mesh.geometry.x[dolfinx.mesh.entities_to_geometry(mesh, tdim, cells)]
    a, b = x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]
    return mid[:, 1], 0.5 * np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])


@pytest.fixture(scope="module")
def vacancy_model():
    """A coupled vacancy + Poisson state on the small 2D stack, with a front in mu (a tanh
    step of 0.1 eV in the template) in the state and both previous states.

    Dilute statistics: the site-exclusion site fraction 0.5 (1 - tanh(x/2)) loses digits to
    cancellation where it is small (theta down to 5e-14 in the substrate's space-charge
    zone here), so its integral carries ~5e-10 relative round-off, measured: more than the
    1e-10 to test. exp(-x) has none; the correction itself does not depend on the form."""
    model = build_model(VACANCIES, set=SMALL_2D + ['physics.vacancy_statistics="dilute"'],
                        transient=True)
    p = model.problem
    x = p.spaces["mu"].tabulate_dof_coordinates()
    for k, state in enumerate((p.u, p.history.old, p.history.older)):
        for name, f in state.items():
            f.x.array[:] = p.u[name].x.array if k else f.x.array
        state["mu"].x.array[:] += 0.1 * np.tanh((x[:, 1] - 26.0 - 0.1 * k) / 0.3)
    return model


def test_indicator_is_large_at_a_front_and_small_away(vacancy_model):
    from heterofem.solver.adapt import interface_facet_tags, kelly_indicator

    stack = vacancy_model.stack
    V = dolfinx.fem.functionspace(stack.mesh, ("Lagrange", 1))
    eta = kelly_indicator(_tanh_front(V, 26.0), interface_facet_tags(stack))
    z, _ = _cell_sizes(stack.mesh)
    n = z.size
    near, far = eta[:n][np.abs(z - 26.0) < 1.0], eta[:n][np.abs(z - 26.0) > 5.0]
    assert near.size and far.size
    assert near.max() > 1e4 * far.max()  # tanh: the gradient falls by e^-2|z|/w away
    # a linear field has no gradient jumps: round-off only, and the combined indicator
    # treats it as smooth (marks nothing)
    from heterofem.solver.adapt import combined_indicator

    lin = dolfinx.fem.Function(V)
    lin.interpolate(lambda x: 0.3 * x[1] + 0.1 * x[0])
    assert np.max(combined_indicator([lin], interface_facet_tags(stack))) == 0.0


def test_adapted_mesh_is_fine_at_the_front_and_coarse_again_behind_it(vacancy_model):
    from heterofem.solver.adapt import adapted_stack

    from heterofem.meshes.refine import refine_tagged

    base = vacancy_model.stack
    # the front as a fine mesh holds it (on the base mesh itself the P1 interpolant is linear
    # inside each coarse cell: no jumps for the finer levels to find)
    fine = refine_tagged(base.mesh, base.cell_tags, base.facet_tags, 3)[0]
    V = dolfinx.fem.functionspace(fine, ("Lagrange", 1))
    z0, a0 = _cell_sizes(base.mesh)
    first = adapted_stack(base, [_tanh_front(V, 26.0)], max_levels=3, fraction=0.1, buffer=1)
    z1, a1 = _cell_sizes(first.mesh)
    a_base = a0[np.abs(z0 - 26.0) < 0.5].min()
    # 3 levels: the cells across the front are 1/4^3 of the base cells' area
    assert a1[np.abs(z1 - 26.0) < 0.1].max() <= 1.01 * a_base / 64.0
    far = np.abs(z1 - 10.0) < 5.0  # the substrate's middle: the base mesh
    assert a1[far].min() == pytest.approx(a0[np.abs(z0 - 10.0) < 5.0].min(), rel=1e-12)
    # the front moves to z = 30 nm: rebuilt from the base mesh, the cells at 26 nm are coarse
    # again (at most one bisection, Plaza's closure next to the refined zone)
    second = adapted_stack(base, [_tanh_front(V, 30.0)], max_levels=3, fraction=0.1, buffer=1)
    z2, a2 = _cell_sizes(second.mesh)
    assert a2[np.abs(z2 - 30.0) < 0.1].max() <= 1.01 * a_base / 64.0
    assert a2[np.abs(z2 - 26.0) < 0.5].min() >= 0.49 * a_base
    assert a1[np.abs(z1 - 26.0) < 0.5].min() < 0.1 * a_base  # (it was fine there)
    # the layers keep their tags: each layer's area is the base mesh's
    for stack in (first, second):
        for name, tag in base.layer_ids.items():
            assert _area(stack, tag) == pytest.approx(_area(base, tag), rel=1e-12), name


def _area(stack, tag: int) -> float:
    dx = ufl.Measure("dx", domain=stack.mesh, subdomain_data=stack.cell_tags)
    one = dolfinx.fem.Constant(stack.mesh, 1.0)
    return MPI.COMM_WORLD.allreduce(
        dolfinx.fem.assemble_scalar(dolfinx.fem.form(one * dx(tag))), op=MPI.SUM)


def test_inventory_conserved_across_ten_remeshes(vacancy_model):
    """Ten remeshes of a coupled vacancy + Poisson state with the levels and the marking
    fraction changing each time (refining and coarsening): every layer's inventory of the
    state and of both previous states stays at its start value to 1e-10, while plain
    interpolation moves it by much more (the check can fail)."""
    from heterofem.solver.adapt import Adaptivity

    problem = vacancy_model.problem
    vac = problem.modules["vacancies"]
    states = lambda p: (p.u, p.history.old, p.history.older)  # noqa: E731
    start = [vac.inventory(s) for s in states(problem)]
    adapt = Adaptivity(_settings(max_levels=1), problem)
    for k in range(10):
        adapt.settings = _settings(max_levels=1 + k % 3, refine_fraction=(0.05, 0.2)[k % 2])
        problem, _ = adapt.remesh(problem)
        vac = problem.modules["vacancies"]
        for before, state in zip(start, states(problem)):
            now = vac.inventory(state)
            for layer, value in before.items():
                assert now[layer] == pytest.approx(value, rel=1e-10), (k, layer)
    stats = adapt.summary()
    assert stats["remeshes"] == 10
    assert stats["inventory_relative_change_max"] <= 1e-10
    assert adapt.interpolation_change_max > 1e-6  # what the correction removed
    assert stats["dofs_max"] >= stats["dofs_final"] > 0


def test_phase_field_stays_bounded():
    """P2 phase field with a sharp front: point values of the P2 interpolant overshoot
    [0, 1] on another mesh (plain interpolation leaves it), the transfer keeps [0, 1]."""
    from heterofem.solver.adapt import Adaptivity, transfer_function

    model = build_model(PROBLEMS / "tio2_vo2_tio2_001_growth_1d.toml", transient=True,
                        set=SMALL_2D + ["layers.2.thickness_nm=4", "physics.element_degree=2",
                                        "crystallization.deposition.initial_thickness_nm=3.5"])
    p = model.problem
    xi = p.u["xi"]
    front = lambda x: 0.5 * (1.0 - np.tanh((x[1] - 34.0) / 0.05))  # noqa: E731
    for state in (p.u, p.history.old, p.history.older):
        state["xi"].interpolate(front)
    adapt = Adaptivity(_settings(fields=["xi"], max_levels=2), p)
    plain = transfer_function(xi, dolfinx.fem.functionspace(
        adapt.new_stack(p).mesh, xi.function_space.ufl_element()))
    lo = MPI.COMM_WORLD.allreduce(float(plain.x.array.min()), op=MPI.MIN)
    hi = MPI.COMM_WORLD.allreduce(float(plain.x.array.max()), op=MPI.MAX)
    assert lo < -1e-3 or hi > 1.0 + 1e-3  # the overshoot the transfer must remove
    new, _ = adapt.remesh(p)
    for state in (new.u, new.history.old, new.history.older):
        values = state["xi"].x.array
        assert values.min() >= 0.0 and values.max() <= 1.0
        assert values.max() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("setting, key", [
    ('mesh.adapt={every_steps=0, fields=["mu"]}', "mesh.adapt.every_steps"),
    ('mesh.adapt={max_levels=7, fields=["mu"]}', "mesh.adapt.max_levels"),
    ('mesh.adapt={refine_fraction=1.5, fields=["mu"]}', "mesh.adapt.refine_fraction"),
    ('mesh.adapt={fields=[]}', "mesh.adapt.fields"),
    ('mesh.adapt={max_levels=2}', "mesh.adapt.fields"),
    ('mesh.adapt={fields=["xi"]}', "mesh.adapt.fields"),  # no crystallization in this run
    ('mesh.adapt={fields=["mu"], levels=2}', "mesh.adapt.levels"),
])
def test_bad_adapt_input_is_refused(tmp_path, setting, key):
    out = tmp_path / "out"
    result = cli("run", str(VACANCIES), "--out", str(out), "--set", setting)
    assert_input_error(result, key, out, snapshot_dir(out))
    if "xi" in setting:
        assert "valid names: phi, mu" in result.output


def test_adapt_with_refine_levels_is_refused(tmp_path):
    out = tmp_path / "out"
    result = cli("run", str(VACANCIES), "--out", str(out), "--set", "mesh.refine_levels=1",
                 "--set", 'mesh.adapt={fields=["mu"]}')
    assert_input_error(result, "refine_levels", out, snapshot_dir(out))


def test_adaptive_run_writes_fields_on_every_mesh(tmp_path):
    """A short adaptive run: fields.pvd lists the outputs of the base and the adapted mesh
    (each .vtu holds its own mesh), the XDMF series gets one file per mesh, the summary
    reports the remeshing with units, and the inventory held through every remesh."""
    import re

    from heterofem.solver.outputs import read_pvd

    out = tmp_path / "run"
    result = cli("run", str(VACANCIES), "--out", str(out), *[
        a for s in SMALL_2D + ["time.end_s=0.002", "time.dt_initial_s=0.0005",
                               "time.output_times_s=[]", "solver.atol=1e-10",
                               'mesh.adapt={fields=["mu"], every_steps=4, max_levels=2}']
        for a in ("--set", s)])
    assert result.exit_code == 0, result.output
    summary = __import__("json").loads((out / "summary.json").read_text())
    adapt = summary["mesh"]["adapt"]
    assert adapt["remeshes"] >= 1 and adapt["dofs_final"] > summary["dofs"]
    assert adapt["inventory_relative_change_max"] <= 1e-9  # site exclusion: round-off ~5e-10
    assert summary["units"]["mesh.adapt.dofs_max"] == "1"
    datasets = read_pvd(out / "fields.pvd")
    assert [t for t, _ in datasets] == [0.0, 0.002]
    points = [int(re.search(r'NumberOfPoints="(\d+)"', (out / name.replace(
        "fields0", "fields_p0_0").replace(".pvtu", ".vtu")).read_text())[1])
        for _, name in datasets]
    assert points[1] > points[0]
    assert (out / "fields.xdmf").exists() and list(out.glob("fields_m*.xdmf"))
