"""Config schema: defaults, --set overrides, and one clear message per problem."""

from __future__ import annotations

import pytest

from heterofem.solver.config import ConfigError, apply_overrides
from heterofem.solver.validation import load_config, validate_data

BASE = """
[run]
name = "t"
dimension = 1

[[layers]]
name = "substrate"
material = "TiO2"
thickness_nm = 10.0

[[layers]]
name = "film"
material = "RuO2"
thickness_nm = 3.0
orientation = "110"

[boundary.bottom]
phi_V = 0.0
"""


def _write(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def _problems(tmp_path, text, overrides=()):
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text), list(overrides))
    return dict(info.value.problems)


def test_defaults_and_derived_geometry(tmp_path):
    cfg = load_config(_write(tmp_path, BASE))
    assert cfg.run.temperature_K == 300.0 and cfg.layers[0].orientation == "001"
    assert cfg.layer_bounds_nm() == [(0.0, 10.0), (10.0, 13.0)]
    assert cfg.facet_names() == ["bottom", "top", "substrate/film"]
    assert cfg.mesh.h_interface == pytest.approx(cfg.mesh.size_nm / 4)


def test_set_overrides_by_index_and_by_name(tmp_path):
    path = _write(tmp_path, BASE)
    cfg = load_config(path, ["layers.1.thickness_nm=3.5", "run.temperature_K=423.15",
                             "layers.substrate.orientation=\"110\"", "boundary.top.phi_V=2"])
    assert cfg.layers[1].thickness_nm == 3.5
    assert cfg.run.temperature_K == 423.15
    assert cfg.layers[0].orientation == "110"
    assert cfg.boundary["top"].phi_V == 2.0
    # TOML-style quoting of a facet name with a slash
    cfg = load_config(path, ['boundary."substrate/film".surface_charge_C_m2=0.01'])
    assert cfg.boundary["substrate/film"].surface_charge_C_m2 == 0.01


def test_set_bad_path_is_reported():
    data = {"layers": [{"name": "a"}]}
    problems = apply_overrides(data, ["layers.5.thickness_nm=1", "novalue"])
    assert [k for k, _ in problems] == ["layers.5.thickness_nm", "novalue"]


def test_every_problem_reported_at_once(tmp_path):
    text = BASE.replace("thickness_nm = 3.0", "thickness_nm = -3.0").replace(
        'material = "TiO2"', 'material = "TiO3"').replace("dimension = 1", "dimension = 4")
    text = text.replace('name = "t"', 'name = "t"\ntemperture_K = 300')
    problems = _problems(tmp_path, text)
    assert "layers.1.thickness_nm" in problems and "greater than 0" in problems["layers.1.thickness_nm"]
    assert "run.dimension" in problems
    assert "did you mean 'temperature_K'" in problems["run.temperture_K"]
    # one pass: the unknown material is reported beside the schema errors
    assert "did you mean 'TiO2'" in problems["layers.0.material"]
    assert len(problems) == 4


def test_unknown_facet_names_valid_ones(tmp_path):
    problems = _problems(tmp_path, BASE + "\n[boundary.topp]\nphi_V = 1.0\n")
    assert "did you mean 'top'" in problems["boundary.topp"]
    assert "substrate/film" in problems["boundary.topp"]


def test_crystallization_inputs_checked(tmp_path):
    # the switch without layers, then a layer that does not exist and a steady run
    problems = _problems(tmp_path, BASE + "\n[physics]\ncrystallization = true\n")
    assert "name the layer" in problems["crystallization.layers"]
    text = BASE + "\n[physics]\ncrystallization = true\n\n[crystallization]\nlayers = [\"flim\"]\n"
    problems = _problems(tmp_path, text)
    assert "no layer 'flim'" in problems["crystallization.layers.0"]
    # a [crystallization] table without the switch
    text = BASE + "\n[crystallization]\nlayers = [\"film\"]\n"
    assert "crystallization = true" in _problems(tmp_path, text)["physics.crystallization"]
    # deposition: the initial thickness must be below the layer's (final) thickness
    text = BASE + ("\n[physics]\ncrystallization = true\n\n[crystallization]\nlayers = [\"film\"]\n"
                   "\n[crystallization.deposition]\nrate_nm_s = 0.01\ninitial_thickness_nm = 500.0\n"
                   "\n[time]\nend_s = 10.0\ndt_initial_s = 0.1\n")
    assert "must be smaller" in _problems(tmp_path, text)[
        "crystallization.deposition.initial_thickness_nm"]


def test_vacancy_inputs_checked(tmp_path):
    # a pO2 on a facet without gas exchange, and no initial state, and a steady blocking run
    text = BASE + "\n[physics]\nvacancies = true\n\n[boundary.top]\npO2_mTorr = 12.0\n"
    problems = _problems(tmp_path, text)
    assert any("needs vacancy" in m for m in problems.values())
    text = BASE + "\n[physics]\nvacancies = true\n"
    problems = _problems(tmp_path, text)
    assert "layers.0.delta" in problems and "time" in problems
    problems = _problems(tmp_path, text.replace("thickness_nm = 3.0", "thickness_nm = 3.0\ndelta = 2.5"))
    assert "layers.1.delta" in problems and "less than 2" in problems["layers.1.delta"]


def test_vacuum_only_on_top_and_features_checked():
    data = {
        "run": {"dimension": 2},
        "layers": [{"name": "gap", "material": "vacuum", "thickness_nm": 2.0},
                   {"name": "film", "material": "TiO2", "thickness_nm": 3.0}],
        "mesh": {"features": [{"type": "island", "layer": "film", "height_nm": 1.0, "x_nm": 5.0}]},
    }
    with pytest.raises(ConfigError) as info:
        validate_data(data)
    problems = dict(info.value.problems)
    assert "only as the top layer" in problems["layers.0.material"]
    assert "mesh.features.0.layer" in problems  # the top layer cannot carry a feature
    assert "mesh.features.0.width_nm" in problems


def test_both_dirichlet_and_neumann_rejected(tmp_path):
    problems = _problems(tmp_path, BASE.replace("phi_V = 0.0", "phi_V = 0.0\nsurface_charge_C_m2 = 0.1"))
    assert any("either phi_V or surface_charge_C_m2" in m for m in problems.values())


def test_unreadable_and_invalid_toml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    problems = _problems(tmp_path, "[run\nname=1")
    assert any("invalid TOML" in m for m in problems.values())


def test_validate_and_mesher_share_the_feature_checks():
    """One definition of each feature check (heterofem.meshes.features.feature_problems): the
    config reports what the mesher would refuse, e.g. a 3D island reaching past mesh.depth_nm
    (the config's copy of the checks looked at x only)."""
    from heterofem.meshes.features import feature_problems
    from heterofem.solver.config import Config

    data = {
        "run": {"dimension": 3},
        "layers": [{"name": "substrate", "material": "TiO2", "thickness_nm": 4.0},
                   {"name": "gap", "material": "vacuum", "thickness_nm": 3.0}],
        "mesh": {"width_nm": 10.0, "depth_nm": 10.0, "features": [
            {"type": "island", "layer": "substrate", "height_nm": 1.0, "width_nm": 2.0,
             "depth_nm": 4.0, "x_nm": 5.0, "y_nm": 9.0},
            {"type": "step", "layer": "substrate", "height_nm": 3.0, "x_nm": 12.0}]},
    }
    with pytest.raises(ConfigError) as info:
        validate_data(data)
    reported = [p for p in info.value.problems if p[0].startswith("mesh.features")]
    assert [key for key, _ in reported] == ["mesh.features.0.y_nm", "mesh.features.1.height_nm",
                                            "mesh.features.1.x_nm"]
    # the mesher's check of the same geometry (schema only: no cross-checks) says the same
    assert reported == feature_problems(Config.model_validate(data).stack_geometry())


def test_stack_geometry_is_what_the_mesher_needs():
    """Config.stack_geometry(): layers (name, thickness) in order, the [mesh] sizes and
    features; its facet names are the config's."""
    cfg = validate_data({
        "run": {"dimension": 2},
        "layers": [{"name": "substrate", "material": "TiO2", "thickness_nm": 4.0},
                   {"name": "film", "material": "RuO2", "thickness_nm": 2.0},
                   {"name": "gap", "material": "vacuum", "thickness_nm": 3.0}],
        "mesh": {"size_nm": 0.5, "width_nm": 12.0, "features": [
            {"type": "step", "layer": "substrate", "height_nm": 1.0, "x_nm": 6.0}]},
    })
    geometry = cfg.stack_geometry()
    assert geometry.dimension == 2
    assert geometry.layers == (("substrate", 4.0), ("film", 2.0), ("gap", 3.0))
    assert geometry.width_nm == 12.0 and geometry.size_nm == 0.5
    assert geometry.h_interface == cfg.mesh.h_interface == 0.125
    assert geometry.features[0].type == "step" and geometry.features[0].x_nm == 6.0
    assert geometry.facet_names() == cfg.facet_names()
    assert geometry.facet_names()[-2:] == ["substrate/film", "film/gap"]
    assert geometry.layer_bounds_nm() == cfg.layer_bounds_nm() == [(0.0, 4.0), (4.0, 6.0),
                                                                  (6.0, 9.0)]


def test_config_imports_no_domain_and_meshes_no_solver():
    """Import layering (#21): the config imports no physics module that imports the Domain
    (which imports the config: a cycle) and no DOLFINx/Gmsh; heterofem.meshes imports nothing
    of heterofem.solver."""
    import subprocess
    import sys

    probe = ("import sys, importlib; importlib.import_module(sys.argv[1]); "
             "print(' '.join(sorted(m for m in sys.modules if m.startswith(('heterofem.', "
             "'dolfinx', 'gmsh')))))")

    def loaded(module: str) -> set[str]:
        out = subprocess.run([sys.executable, "-c", probe, module], check=True,
                             capture_output=True, text=True).stdout
        return set(out.split())

    config = loaded("heterofem.solver.config")
    assert not {m for m in config if m.startswith(("dolfinx", "gmsh"))}, config
    assert not config & {"heterofem.solver.domain", "heterofem.solver.physics.base"}, config
    meshes = loaded("heterofem.meshes") | loaded("heterofem.meshes.stack")
    assert not {m for m in meshes if m.startswith("heterofem.solver")}, meshes
