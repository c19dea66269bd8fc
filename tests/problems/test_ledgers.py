"""The studies' parameter ledgers (problems/ledgers/*.toml, ../shared/design/LEDGER.md) account
for every knob: each parameter the study's configs and the materials they use supply is in the
ledger with a valid status and the same value, so a value changed without a ledger update
fails here. Fast: configs and materials are read, nothing is solved."""

from __future__ import annotations

import importlib
import re
import shutil
from pathlib import Path

import pytest

from heterofem.solver.ledger import (
    STATUSES,
    Ledger,
    LedgerError,
    config_paths,
    counts,
    format_counts,
    load_ledger,
    markdown,
    missing,
    summary,
    used_parameters,
)

PROBLEMS = Path(__file__).resolve().parents[2] / "problems"
LEDGERS = {"ruo2": PROBLEMS / "ledgers" / "ruo2_tio2_110_work_function.toml",
           "growth": PROBLEMS / "ledgers" / "tio2_vo2_growth.toml"}


def _script(name: str):
    """A study module of heterofem.studies."""
    return importlib.import_module(f"heterofem.studies.{name}")


@pytest.fixture(params=sorted(LEDGERS), scope="module")
def ledger(request) -> Ledger:
    return load_ledger(LEDGERS[request.param])


def test_every_used_parameter_is_in_the_ledger_with_its_value(ledger):
    assert missing(ledger) == []


def test_statuses_and_their_rules(ledger):
    data = set(ledger.study.data)
    assert all(p.status in STATUSES for p in ledger.parameter)
    for p in ledger.parameter:
        if p.status == "fitted":
            assert p.fitted_to and set(p.fitted_to) <= data, p.name
        if p.status == "chosen":
            assert p.why.strip() and p.looked_at_data is False, p.name
            if isinstance(p.value, float):
                assert p.range is not None, p.name
        if p.status in ("literature", "derived"):
            assert p.source.strip(), p.name


def test_the_header_states_the_counts_and_the_scans_are_used(ledger):
    text = ledger.path.read_text()
    assert f"# {format_counts(ledger)}\n" in text
    c = counts(ledger)
    assert list(c) == list(STATUSES) and sum(c.values()) == len(ledger.parameter)
    assert re.fullmatch(r"ledger: \d+ literature, \d+ derived, \d+ fitted, \d+ chosen "
                        r"\(\d+ parameters\)", format_counts(ledger))
    used = set().union(*(used_parameters(p) for p in config_paths(ledger)))
    assert set(ledger.study.scans) <= used


def _copy_config(ledger: Ledger, stem: str, tmp_path: Path, old: str, new: str) -> Path:
    src = next(p for p in config_paths(ledger) if p.stem == stem)
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    text = dst.read_text()
    assert text.count(old) == 1
    dst.write_text(text.replace(old, new))
    return dst


@pytest.mark.parametrize("old, new, key", [
    ('\nlaw = "people_bean"', '\nlaw = "matthews_blakeslee"', "strain.law"),
    ("band_alignment_length_nm = 17.2", "band_alignment_length_nm = 15.0",
     "workfunction.band_alignment_length_nm"),
    ("\n[strain]\n", "\n[materials.RuO2.landau_a11]\nvalue = 3.0e10\nunit = \"J*m^5/C^4\"\n"
                   "source = \"test\"\n\n[strain]\n", "RuO2.landau_a11"),
    ('screening_length = { value = 0.3, unit = "nm"', 'screening_length = { value = 3.0, '
     'unit = "angstrom"', None),
])
def test_a_changed_ruo2_value_fails(tmp_path, old, new, key):
    """A perturbed copy of the bilayer config: the ledger check reports the key (a value in
    another unit that is the same quantity passes)."""
    ledger = load_ledger(LEDGERS["ruo2"])
    path = _copy_config(ledger, "ruo2_tio2_110_polar_1d", tmp_path, old, new)
    problems = [p for p in missing(ledger, [path]) if "no config of the study uses" not in p]
    if key is None:
        assert problems == []
    else:
        assert len(problems) == 1 and key in problems[0] and "the ledger says" in problems[0]


def test_a_changed_or_new_growth_value_fails(tmp_path):
    ledger = load_ledger(LEDGERS["growth"])
    path = _copy_config(ledger, "tio2_vo2_tio2_001_growth_1d", tmp_path, "[boundary.bottom]",
                        "[materials.TiO2_amorphous]\ncrystallization_driving_force = 4.0e6\n\n"
                        "[boundary.bottom]")
    problems = missing(ledger, [path])
    assert any("TiO2_amorphous.crystallization_driving_force" in p and "4000000.0" in p
               for p in problems)
    # a key the study did not use before (a gas-exchange prefactor on the facet)
    path = _copy_config(ledger, "tio2_tio2_001_growth_bare_1d", tmp_path,
                        "pO2_mTorr = 12.0\n\n[time]",
                        "pO2_mTorr = 12.0\nexchange_k0_m_s = 1.0\n\n[time]")
    problems = missing(ledger, [path])
    assert any("boundary.top.exchange_k0_m_s" in p and "not in the ledger" in p
               for p in problems)
    # the facet's own k0 replaces the amorphous material's, which is then used by no config
    assert "TiO2_amorphous.surface_exchange_k0: in the ledger but no config of the study " \
        "uses it" in problems


def test_a_removed_entry_fails():
    ledger = load_ledger(LEDGERS["growth"])
    cut = Ledger(study=ledger.study,
                 parameter=[p for p in ledger.parameter if p.name != "time.end_s"])
    problems = missing(cut, config_paths(ledger))
    assert sum("time.end_s" in p and "not in the ledger" in p for p in problems) == 2


def test_what_the_physics_reads():
    """Only values that can change a result: in 1D the tensor component along z, a strain
    coupling only where the layer is strained, exchange only on a gas-facing layer."""
    growth = used_parameters(PROBLEMS / "tio2_vo2_tio2_001_growth_1d.toml")
    assert "TiO2.vacancy_D0_c" in growth and "TiO2.vacancy_D0_a" not in growth
    assert "TiO2_amorphous.surface_exchange_k0" in growth
    assert "VO2_R.surface_exchange_k0" not in growth  # no gas facet on the template
    assert {"VO2_R.eps_r_a", "VO2_R.eps_r_c"} <= set(growth)  # metal: trace in the screening
    assert "time.dt_max_s" not in growth and "time.end_s" in growth
    film = used_parameters(PROBLEMS / "ruo2_tio2_110_polar_1d.toml")
    assert {"RuO2.landau_strain_coupling_a", "RuO2.landau_strain_coupling_c"} <= set(film)
    assert "TiO2.landau_strain_coupling_a" not in film  # the substrate is not strained
    assert film["RuO2.screening_length"].value == 0.3  # the config's override
    assert "RuO2.flexo_coupling" in film and "TiO2.flexo_coupling" not in film
    # the relaxation law reads the film's elastic constants (its Poisson ratios) even without
    # mechanics; a coherent film without mechanics reads none
    no_mech = ["physics.mechanics=false"]
    relaxing = used_parameters(PROBLEMS / "ruo2_tio2_110_polar_1d.toml", no_mech)
    coherent = used_parameters(PROBLEMS / "ruo2_tio2_110_polar_1d.toml",
                               no_mech + ["strain.law=\"coherent\""])
    assert "RuO2.C13" in relaxing and "TiO2.C13" not in relaxing
    assert "RuO2.C13" not in coherent and coherent["strain.law"].value == "coherent"


LEDGER_HEAD = """
[study]
name = "t"
data = ["a measured number"]
configs = ["../ruo2_tio2_110_polar_1d.toml"]

[[parameter]]
name = "x"
value = 1.0
unit = "nm"
"""


@pytest.mark.parametrize("entry, message", [
    ('status = "guessed"', "literature"),
    ('status = "literature"', "source"),
    ('status = "fitted"\nfitted_to = ["another number"]', "not in [study].data"),
    ('status = "fitted"', "fitted_to"),
    ('status = "chosen"\nwhy = "w"\nlooked_at_data = false', "range"),
    ('status = "chosen"\nwhy = "w"\nlooked_at_data = true\nrange = [0.5, 2.0]', "fitted"),
    ('status = "chosen"\nlooked_at_data = false\nrange = [0.5, 2.0]', "why"),
    ('status = "derived"\nsource = "s"\nconfigs = ["elsewhere"]', "not a config"),
    ('status = "derived"\nsource = "s"\n\n[[parameter]]\nname = "x"\nvalue = 2.0\n'
     'status = "derived"\nsource = "s"', "two entries"),
])
def test_the_rules_reject_a_bad_entry(tmp_path, entry, message):
    path = tmp_path / "ledger.toml"
    path.write_text(LEDGER_HEAD + entry + "\n")
    with pytest.raises(LedgerError, match=re.escape(message)):
        load_ledger(path)


def test_the_study_scripts_report_the_counts():
    """The study and calibration scripts print/write the ledger's counts."""
    for name, script, key in (("ruo2", "ruo2_thickness_series", "ledger_summary"),
                              ("growth", "tio2_vo2_growth_study", "ledger_summary")):
        ledger = load_ledger(LEDGERS[name])
        mod = _script(script)
        assert mod.LEDGER == LEDGERS[name]
        assert getattr(mod, key)() == summary(ledger)
        assert summary(ledger)["line"] == format_counts(ledger)
    for name, script in (("ruo2", "calibrate_ruo2_work_function"),
                         ("growth", "calibrate_tio2_epitaxy")):
        ledger = load_ledger(LEDGERS[name])
        paragraph = _script(script).ledger_paragraph()
        assert paragraph == markdown(ledger, f"problems/ledgers/{LEDGERS[name].name}")
        assert format_counts(ledger).removeprefix("ledger: ") in paragraph


def test_an_interface_pair_value_is_a_ledgered_knob():
    """[interfaces."A|B"] values of pairs that meet in the stack are used parameters."""
    used = used_parameters(PROBLEMS / "ruo2_tio2_110_polar_1d.toml",
                           ['interfaces."TiO2|RuO2".interface_field_V=0.5',
                            'interfaces."TiO2|vacuum".interface_field_V=0.7'])
    assert used['interfaces."TiO2|RuO2".interface_field_V'].value == 0.5
    assert not any("TiO2|vacuum" in k for k in used)  # TiO2 never meets the vacuum here


# -- a knob that the study passes to its runs (issue #26: an interface rate) ---------------------
RATE = 'interfaces."VO2_R|TiO2".vacancy_rate_k0_m_per_s'
RATE_ENTRY = """
[[parameter]]
name = '{name}'
value = {value}
unit = "m/s"
{status}
"""
#: a chosen rate as #14 might add it (a test value: no rate is in the committed ledger)
CHOSEN = ('status = "chosen"\nwhy = "test entry: a slow template facet"\n'
          'looked_at_data = false\nrange = [1.0e-14, 1.0e-10]')


def _growth_ledger_with(tmp_path: Path, entry: str) -> Ledger:
    """A copy of the growth ledger in tmp_path with one more entry, its config and overlay
    paths made absolute."""
    src = LEDGERS["growth"]
    text = src.read_text()
    for rel in ('"../tio2_vo2_tio2_001_growth_1d.toml"', '"../tio2_tio2_001_growth_bare_1d.toml"',
                '"../../studies/calibrated/tio2_epitaxy.toml"'):
        assert text.count(rel) == 1
        text = text.replace(rel, f'"{(src.parent / rel.strip(chr(34))).resolve()}"')
    path = tmp_path / "growth_with_rate.toml"
    path.write_text(text + entry)
    return load_ledger(path)


@pytest.mark.parametrize("entry, flagged", [
    (RATE_ENTRY.format(name=RATE, value="1.0e-12", status=CHOSEN), False),
    # no range: not a knob the study varies, so its runs do not get it
    (RATE_ENTRY.format(name=RATE, value="1.0e-12", status='status = "literature"\n'
                       'source = "test"'), True),
    # a pair that meets in neither config
    (RATE_ENTRY.format(name='interfaces."RuO2|TiO2".vacancy_rate_k0_m_per_s', value="1.0e-12",
                       status=CHOSEN), True),
])
def test_a_rate_the_study_passes_to_its_runs_is_used(tmp_path, entry, flagged):
    """An interface rate in the growth ledger reaches the growth runs as a --set (the study's
    knobs, tio2_growth_cases.parameter_sets; no problem file sets it): missing() counts it as
    used by the growth config (the template's pair meets there) and does not flag it; an
    entry the study would not pass (no range) or that no config's stack can use is still
    "in the ledger but no config of the study uses it"."""
    ledger = _growth_ledger_with(tmp_path, entry)
    name = ledger.parameter[-1].name
    problems = missing(ledger)
    unused = f"{name}: in the ledger but no config of the study uses it"
    assert problems == ([unused] if flagged else []), problems


def test_a_growth_run_with_a_ledger_rate_uses_it(tmp_path):
    """The growth study's own path from a ledger with a rate to a run: its knobs at their
    ledger values (tio2_growth_model.knobs), the run overrides (parameter_sets_of,
    tio2_growth_cases.resolved_sets) hold the rate for the VO2 config and not for the bare
    control, and a short run of the VO2 case (3 nm film, 0.05 s) reports both template facets
    with that rate in summary.json's interface_kinetics."""
    from heterofem.solver.dolfinx_env import MPI
    from heterofem.solver.run import run_case
    from heterofem.solver.simulation import override_strings
    from heterofem.solver.validation import load_config
    from heterofem.studies import tio2_growth_model as M
    from heterofem.studies import uncertainty as uq
    from heterofem.studies.tio2_growth_cases import BARE, GROWTH, Case, resolved_sets

    ledger = _growth_ledger_with(tmp_path, RATE_ENTRY.format(name=RATE, value="1.0e-12",
                                                             status=CHOSEN))
    knobs, _ = M.knobs(ledger)
    params = M.parameter_sets_of(uq.nominal(knobs), M.units_of(knobs))
    assert params[RATE] == 1.0e-12
    assert RATE not in resolved_sets(Case("bare", BARE, {"time.end_s": 0.05}), params)
    sets = resolved_sets(Case("vo2", GROWTH, {"layers.film.thickness_nm": 3.0,
                                              "time.end_s": 0.05}), params)
    assert sets[RATE] == 1.0e-12
    cfg = load_config(GROWTH, override_strings(sets))
    summary = run_case(cfg, tmp_path / "run", MPI.COMM_WORLD)
    kinetics = summary["vacancies"]["interface_kinetics"]
    assert set(kinetics) == {"substrate/template", "template/film"}
    for facet in kinetics.values():
        assert facet["rate_m_per_s"] == pytest.approx(1.0e-12, rel=1e-12)
        assert facet["law"] == "butler_volmer"
