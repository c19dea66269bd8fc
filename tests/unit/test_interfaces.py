"""The interface heights the solver writes to summary.json (``interfaces``): the config's layer
bounds along the profile line through the lateral centre, moved by a feature that crosses the
line (a terrace step whose edge is at the centre counts, as in the meshed cells). Pure
geometry: no mesh, no DOLFINx."""

from __future__ import annotations

import pytest

from heterofem.meshes.geometry import FeatureSpec, StackGeometry
from heterofem.solver.interfaces import interface_heights

LAYERS = (("substrate", 10.0), ("film", 6.0), ("gap", 4.0))


def _z(geometry):
    return {k: v["z_nm"] for k, v in interface_heights(geometry).items()}


def test_flat_stack_uses_the_layer_bounds():
    assert _z(StackGeometry(dimension=1, layers=LAYERS)) == {"substrate/film": 10.0,
                                                             "film/gap": 16.0}
    entry = interface_heights(StackGeometry(dimension=2, layers=LAYERS))["film/gap"]
    assert entry == {"z_nm": 16.0, "below": "film", "above": "gap"}


@pytest.mark.parametrize("x_nm, lifted", [(10.0, True), (8.0, True), (12.0, False)])
def test_a_step_lifts_the_interface_where_it_covers_the_centre(x_nm, lifted):
    step = FeatureSpec(type="step", layer="film", height_nm=0.6, x_nm=x_nm)
    z = _z(StackGeometry(dimension=2, layers=LAYERS, width_nm=20.0, features=(step,)))
    assert z == pytest.approx({"substrate/film": 10.0, "film/gap": 16.6 if lifted else 16.0})


def test_an_island_of_the_lower_layer_moves_the_interface_above_it():
    island = FeatureSpec(type="island", layer="substrate", height_nm=3.0, width_nm=4.0)
    z = _z(StackGeometry(dimension=3, layers=LAYERS, features=(island,)))
    assert z == pytest.approx({"substrate/film": 13.0, "film/gap": 16.0})
    beside = FeatureSpec(type="island", layer="substrate", height_nm=3.0, width_nm=4.0,
                         x_nm=3.0)
    assert _z(StackGeometry(dimension=3, layers=LAYERS, features=(beside,))) == \
        {"substrate/film": 10.0, "film/gap": 16.0}
