"""One naming scheme for output keys (issue #24 item 4): the summary keys and timeseries columns
whose unit suffix read wrongly were renamed to the `_per_` scheme (docs/outputs.md, "Renamed in
#24"; RENAMED in heterofem.postprocess.names, re-exported by heterofem.solver.summary_units).
Names are a contract read by scripts: every place where a user names a key answers an old name
with an error that names the new one. Fake run directories, no solves: fast."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import cli
from heterofem.postprocess import PlotError, compare_runs, load_run, load_sweep
from heterofem.solver.summary_units import (RENAMED, SUMMARY_UNITS, TIMESERIES_UNITS,
                                            match_unit, renamed)

ROOT = Path(__file__).resolve().parents[2]


def _instance(pattern: str) -> str:
    """A concrete key of a pattern (``*`` -> a layer name or an index)."""
    return pattern.replace("*.*", "film.0").replace("*", "film")


def test_every_renamed_key_has_its_unit_under_the_new_name_only():
    for old, new in RENAMED.items():
        table = SUMMARY_UNITS if "." in old else TIMESERIES_UNITS
        assert match_unit(_instance(new), table) is not None, f"no unit row for {new}"
        assert match_unit(_instance(old), table) is None, f"{old} still has a unit row"
        assert renamed(_instance(old)) == _instance(new)
        assert renamed(_instance(new)) is None  # a new name is not "renamed" again
    # any end of an old dotted key, and the columns of any layer
    assert renamed("inventory_m2.film") == "inventory_per_m2.film"
    assert renamed("mobility_m3_J_s") == "mobility_m3_per_J_s"
    assert renamed("N_V_total_m2") == "N_V_total_per_m2"
    assert renamed("polarization.interfaces.buffer/film.P_C_m2") == \
        "polarization.interfaces.buffer/film.P_C_per_m2"
    for kept in ("phi_V", "work_function.work_function_eV", "P_z_C_per_m2", "c_V_per_m3",
                 "crystallization.deposition_pO2_mTorr", "t_s"):
        assert renamed(kept) is None


def test_docs_renamed_table_is_the_code_table():
    text = (ROOT / "docs" / "outputs.md").read_text()
    part = text.split("### Renamed in #24")[1].split("## Units of summary.json")[0]
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|$", part, re.M)
    assert dict(rows) == RENAMED and len(rows) == len(RENAMED), \
        "update docs/outputs.md, 'Renamed in #24', from heterofem.postprocess.names.RENAMED"
    assert "kept" not in text.split("## Naming")[1].split("## Units of summary.json")[0]


def _fake_run(path: Path, thickness: float = 1.0, inventory: float = 1e19) -> Path:
    path.mkdir(parents=True)
    summary = {"name": "r", "dimension": 1, "converged": True,
               "fields": {"phi_V": {"name": "phi", "unit": "V", "kind": "point"}},
               "vacancies": {"inventory_per_m2": {"a": inventory}}}
    summary["units"] = {"dimension": "1", "vacancies.inventory_per_m2.a": "m^-2"}
    (path / "summary.json").write_text(json.dumps(summary))
    (path / "config.resolved.toml").write_text(
        f'[run]\nname = "r"\ndimension = 1\n[[layers]]\nname = "a"\nmaterial = "TiO2"\n'
        f"thickness_nm = {thickness}\n")
    (path / "profiles.csv").write_text(f"z_nm,layer,phi_V\n0,a,0.0\n{thickness},a,1.0\n")
    (path / "profiles.units.json").write_text('{"z_nm": "nm", "layer": "", "phi_V": "V"}')
    (path / "timeseries.csv").write_text("t_s,N_V_a_per_m2\n0,1e19\n1,2e19\n")
    (path / "timeseries.units.json").write_text('{"t_s": "s", "N_V_a_per_m2": "m^-2"}')
    return path


_NAMES_NEW = "renamed to 'vacancies.inventory_per_m2.a' (#24"


def test_run_unit_and_timeseries_name_the_new_key(tmp_path):
    run = load_run(_fake_run(tmp_path / "r"))
    assert run.unit("vacancies.inventory_per_m2.a") == "m^-2"
    with pytest.raises(PlotError, match=re.escape(_NAMES_NEW)):
        run.unit("vacancies.inventory_m2.a")
    with pytest.raises(KeyError, match="renamed to 'N_V_a_per_m2'"):
        run.timeseries["N_V_a_m2"]
    with pytest.raises(KeyError):
        run.timeseries["not_a_column"]
    assert run.timeseries["N_V_a_per_m2"][-1] == 2e19


def test_plot_field_and_compare_name_the_new_column(tmp_path):
    a, b = _fake_run(tmp_path / "a"), _fake_run(tmp_path / "b")
    res = cli("plot", str(a), "--field", "N_V_a_m2", "--out", str(tmp_path / "p.png"))
    assert res.exit_code == 2 and "renamed to 'N_V_a_per_m2' (#24" in res.output, res.output
    assert "Traceback" not in res.output
    with pytest.raises(PlotError, match="renamed to 'P_C_per_m2'"):
        compare_runs([a, b], "P_C_m2")


def test_sweep_quantity_names_the_new_key(tmp_path):
    sweep = tmp_path / "sweep"
    for i, t in enumerate((1.0, 2.0)):
        _fake_run(sweep / f"t{t:g}", thickness=t, inventory=1e19 * (i + 1))
    s = load_sweep(sweep)
    assert list(s.values("vacancies.inventory_per_m2.a")[1]) == [1e19, 2e19]
    with pytest.raises(PlotError, match=re.escape(_NAMES_NEW)):
        s.values("vacancies.inventory_m2.a")
    with pytest.raises(PlotError, match="renamed to 'total_inventory_per_m2'"):
        s.values("total_inventory_m2")
    res = cli("plot", str(sweep), "--field", "vacancies.inventory_m2.a",
              "--out", str(tmp_path / "s.png"))
    assert res.exit_code == 2 and _NAMES_NEW in res.output, res.output


def test_study_scalar_outputs_name_the_new_key():
    from heterofem.solver.config import ConfigError
    from heterofem.studies.uncertainty_models import scalar_outputs

    scalar_outputs({"phi": "work_function.work_function_eV"})  # a current key is fine
    with pytest.raises(ConfigError) as err:
        scalar_outputs({"P": "polarization.interfaces.film/cap.P_C_m2"})
    assert "scalar_outputs.P" in str(err.value)
    assert "renamed to 'polarization.interfaces.film/cap.P_C_per_m2' (#24" in str(err.value)


def test_study_table_columns_in_the_new_scheme_read_their_unit():
    """Study tables (table.csv of a thickness series) have no units sidecar; their columns use
    the same scheme, and the suffix reader kept for them reads it."""
    from heterofem.postprocess.files import legacy_unit_from_suffix as unit

    assert unit("P_interface_C_per_m2") == "C/m^2" and unit("a1_film_J_m_per_C2") == "J*m/C^2"
    assert unit("inventory_per_m2") == "m^-2" and unit("diffusivity_m2_per_s") == "m^2/s"
    assert unit("energy_J_per_m2") == "J/m^2" and unit("rate_nm_per_s") == "nm/s"
