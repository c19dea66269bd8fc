"""The command line: bad input gives one clear message naming the key, exit status 2, no
traceback (unless --debug), and nothing written into an existing output directory."""

from __future__ import annotations

import pytest

from conftest import PROBLEMS, heterofem

GOOD = (PROBLEMS / "ruo2_tio2_110_1d.toml").read_text()

BAD = {
    "negative thickness": (GOOD.replace("thickness_nm = 3.5", "thickness_nm = -3.5"),
                           "layers.1.thickness_nm"),
    "unknown material": (GOOD.replace('material = "RuO2"', 'material = "RuO3"'), "layers.1.material"),
    "misspelt key": (GOOD.replace("size_nm = 0.5", "sise_nm = 0.5"), "mesh.sise_nm"),
    "unknown facet": (GOOD.replace("[boundary.top]", "[boundary.surface]"), "boundary.surface"),
    "dimension 4": (GOOD.replace("dimension = 1", "dimension = 4"), "run.dimension"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_clear_message(tmp_path, case):
    text, key = BAD[case]
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    out = tmp_path / "existing"
    out.mkdir()
    (out / "keep.txt").write_text("earlier results")
    proc = heterofem("run", str(cfg), "--out", str(out), check=False)
    assert proc.returncode == 2, proc.stderr
    assert key in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    # validate reports the same problem; --debug shows the traceback
    assert key in heterofem("validate", str(cfg), check=False).stderr
    assert "Traceback" in heterofem("--debug", "validate", str(cfg), check=False).stderr


def test_unreadable_file(tmp_path):
    proc = heterofem("run", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o"), check=False)
    assert proc.returncode == 2 and "cannot read" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_run_refuses_to_overwrite_results(tmp_path):
    out = tmp_path / "run"
    heterofem("run", str(PROBLEMS / "ruo2_tio2_110_1d.toml"), "--out", str(out))
    before = (out / "summary.json").read_text()
    proc = heterofem("run", str(PROBLEMS / "ruo2_tio2_110_1d.toml"), "--out", str(out), check=False)
    assert proc.returncode == 2 and "--overwrite" in proc.stderr
    assert (out / "summary.json").read_text() == before


def test_validate_and_materials_commands():
    assert "valid" in heterofem("validate", str(PROBLEMS / "tio2_vo2_tio2_001_1d.toml")).stdout
    listing = heterofem("materials").stdout
    for name in ("TiO2", "VO2_M1", "VO2_R", "RuO2", "vacuum"):
        assert name in listing
    assert "Parker" in heterofem("materials", "TiO2").stdout
