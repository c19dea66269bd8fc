"""The studies are importable modules with ``main(argv)`` (heterofem.studies); calibrated
values live in overlays the calibrations write (studies/calibrated/*.toml), which the studies
apply over the read-only problem configs: no study edits an input."""

from __future__ import annotations

import importlib
import json

import pytest

from heterofem.studies import CALIBRATED, PROBLEMS, REPORTS, overlay

STUDIES = ("tio2_vo2_growth_study", "calibrate_tio2_epitaxy")
# the RuO2 studies are tested in test_study_ruo2.py


@pytest.mark.parametrize("name", STUDIES)
def test_every_study_is_a_module_with_main(name):
    module = importlib.import_module(f"heterofem.studies.{name}")
    assert callable(module.main)
    with pytest.raises(SystemExit) as exc:
        module.main(["--help"])
    assert exc.value.code == 0


def test_the_overlays_hold_the_calibrated_values_of_the_reports():
    """Each overlay's [configs] values are its report's fitted values (rounded as applied),
    for configs of problems/ (the RuO2 overlay: test_study_ruo2.py)."""
    tio2 = overlay.read_overlay("tio2_epitaxy")
    value = json.loads((REPORTS / "tio2_epitaxy_calibration.json").read_text())["value_eV"]
    for stem in ("tio2_vo2_tio2_001_growth_1d", "tio2_tio2_001_growth_bare_1d"):
        assert tio2["configs"][stem] == {
            "materials.TiO2_amorphous.vacancy_formation_energy": round(value, 4)}
    assert all((PROBLEMS / f"{stem}.toml").is_file() for stem in tio2["configs"])


def test_an_overlay_is_applied_over_the_config_and_written_without_touching_inputs(
        tmp_path, monkeypatch):
    from heterofem import Simulation

    monkeypatch.setattr(overlay, "CALIBRATED", tmp_path)
    config = PROBLEMS / "ruo2_tio2_110_polar_1d.toml"
    before = config.read_bytes()
    key = 'boundary."substrate/film".polar_bias_V'
    path = overlay.write_overlay("trial", study="test", report=None,
                                 parameters={"h_interface_V": {"value": 7.25, "std": 0.5}},
                                 configs={config.stem: {key: 7.25}}, date="2026-01-01")
    assert path == tmp_path / "trial.toml" and config.read_bytes() == before
    assert overlay.overrides(config, "trial") == {key: 7.25}
    assert overlay.set_args(config, "trial") == ["--set", f"{key}=7.25"]
    assert overlay.overrides(config, "no_such_overlay") == {}
    sim = Simulation.from_toml(config, set=overlay.overrides(config, "trial"))
    assert sim.config.boundary["substrate/film"].polar_bias_V == 7.25
    assert CALIBRATED.is_dir()
