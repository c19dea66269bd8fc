"""The bad-input contract (issue #20): every bad input exits 2 with a message naming its dotted
key, no traceback and nothing written, for ``run`` (into a new or an existing run directory)
and ``validate`` alike; and ``validate`` reports every problem in one pass.

Each case is a shipped problem (problems/*.toml) with ``--set`` overrides or a small text
edit. All fail in validation (milliseconds): none meshes or solves.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import PROBLEMS, REPO, assert_input_error, cli, snapshot_dir

C1 = "ruo2_tio2_110_1d.toml"  # electrostatics; substrate, film (RuO2), gap (vacuum)
POL = "ruo2_tio2_110_polar_1d.toml"  # polarization, work function
ISL = "ruo2_tio2_110_island_2d.toml"  # 2D, mechanics, an island feature
STEP = "tio2_vo2_tio2_001_2d_step.toml"  # 2D, VO2_R template (no elastic constants)
TV = "tio2_vo2_tio2_001_1d.toml"  # substrate, template (VO2_R), film; no top boundary
VAC = "tio2_vo2_tio2_001_vacancies_1d.toml"  # vacancies, gas exchange at the top, [time]
GR = "tio2_vo2_tio2_001_growth_1d.toml"  # crystallization with deposition at a pO2

#: a new material with only the required permittivities (and whatever is added to it)
_NEW = ('kind="insulator", eps_r_a={value=9.0, unit="dimensionless", source="t"}, '
        'eps_r_c={value=9.0, unit="dimensionless", source="t"}')


def _set(case_id: str, problem: str, key: str, *sets: str):
    """A case: the problem with these ``--set`` overrides must be refused, naming ``key``."""
    return pytest.param(problem, sets, None, key, id=case_id)


def _edit(case_id: str, problem: str, key: str, old: str, new: str):
    """A case: the problem's text with ``old`` replaced by ``new`` (first occurrence)."""
    return pytest.param(problem, (), (old, new), key, id=case_id)


CASES = [
    # -- item 3: NaN and inf anywhere ------------------------------------------------------
    _set("mesh-size-inf", C1, "mesh.size_nm", "mesh.size_nm=inf"),
    _set("temperature-inf", C1, "run.temperature_K", "run.temperature_K=inf"),
    _set("temperature-nan", C1, "run.temperature_K", "run.temperature_K=nan"),
    _set("temperature-absurd-1e30", C1, "run.temperature_K", "run.temperature_K=1e30"),
    _set("thickness-inf", C1, "layers.0.thickness_nm", "layers.0.thickness_nm=inf"),
    _edit("thickness-nan-in-file", C1, "layers.0.thickness_nm", "thickness_nm = 20.0",
          "thickness_nm = nan"),
    _set("phi-nan", C1, "boundary.top.phi_V", "boundary.top.phi_V=nan"),
    _set("surface-charge-nan", TV, "boundary.top.surface_charge_C_m2",
         "boundary.top.surface_charge_C_m2=nan"),
    _set("surface-charge-neg-inf", TV, "boundary.top.surface_charge_C_m2",
         "boundary.top.surface_charge_C_m2=-inf"),
    _set("initial-mu-nan", VAC, "initial.mu_eV", "initial.mu_eV=nan"),
    _edit("fixed-mu-nan", VAC, "boundary.top.mu_eV", 'vacancy = "gas"\npO2_mTorr = 12.0',
          'vacancy = "fixed_mu"\nmu_eV = nan'),
    _set("delta-nan", VAC, "layers.0.delta", "layers.0.delta=nan"),
    _set("space-charge-inf", TV, "layers.2.space_charge_C_m3", "layers.2.space_charge_C_m3=inf"),
    _set("polar-bias-inf", POL, "boundary.substrate/film.polar_bias_V",
         'boundary."substrate/film".polar_bias_V=inf'),
    _set("output-time-inf-in-list", VAC, "time.output_times_s.1",
         "time.output_times_s=[1.0, inf]"),
    _set("displacement-nan-in-list", ISL, "boundary.top.displacement_nm.0",
         "boundary.top.displacement_nm=[nan, 0.0]"),
    _set("end-time-inf", VAC, "time.end_s", "time.end_s=inf"),
    _set("deposition-rate-inf", GR, "crystallization.deposition.nm_per_pulse",
         "crystallization.deposition.nm_per_pulse=inf"),
    _set("feature-height-nan", ISL, "mesh.features.0.height_nm", "mesh.features.0.height_nm=nan"),
    _set("petsc-option-nan", C1, "solver.petsc_options.ksp_rtol",
         "solver.petsc_options.ksp_rtol=nan"),
    _set("material-override-nan", C1, "materials.RuO2.eps_r_c", "materials.RuO2.eps_r_c=nan"),
    _set("material-override-table-inf", C1, "materials.RuO2.screening_length",
         'materials.RuO2.screening_length={value=inf, unit="nm", source="t"}'),
    _set("new-material-value-nan", C1, "materials.Foo.eps_r_a",
         'materials.Foo={kind="insulator", eps_r_a={value=nan, unit="dimensionless", '
         'source="t"}, eps_r_c={value=9.0, unit="dimensionless", source="t"}}',
         'layers.0.material="Foo"'),
    # -- item 4: strict types, negative list indices ----------------------------------------
    _edit("thickness-as-string-in-file", C1, "layers.0.thickness_nm", "thickness_nm = 20.0",
          'thickness_nm = "20"'),
    _set("thickness-as-string-set", C1, "layers.1.thickness_nm", 'layers.1.thickness_nm="3.5"'),
    _set("temperature-as-string", C1, "run.temperature_K", 'run.temperature_K="300"'),
    _set("bool-as-string", C1, "physics.polarization", 'physics.polarization="true"'),
    _set("bool-as-integer", C1, "physics.polarization", "physics.polarization=1"),
    _set("dimension-as-bool", C1, "run.dimension", "run.dimension=true"),
    _set("dimension-as-float", C1, "run.dimension", "run.dimension=2.0"),
    _set("integer-as-float", VAC, "time.target_newton", "time.target_newton=4.5"),
    _set("max-cells-as-string", C1, "mesh.max_cells", 'mesh.max_cells="100"'),
    _set("list-item-as-string", VAC, "time.output_times_s.0", 'time.output_times_s=["1.0"]'),
    _set("orientation-as-integer", C1, "layers.0.orientation", "layers.0.orientation=110"),
    _set("negative-list-index", C1, "layers.-1.thickness_nm", "layers.-1.thickness_nm=2.0"),
    _set("list-index-past-end", C1, "layers.7.thickness_nm", "layers.7.thickness_nm=2.0"),
    # -- unknown keys in every section (optional ones included) -------------------------------
    _set("unknown-key-run", C1, "run.temperture_K", "run.temperture_K=300.0"),
    _set("unknown-key-layer", C1, "layers.0.thickness", "layers.0.thickness=1.0"),
    _set("unknown-key-mesh", C1, "mesh.sizes_nm", "mesh.sizes_nm=1.0"),
    _set("unknown-key-feature", ISL, "mesh.features.0.hieght_nm", "mesh.features.0.hieght_nm=1.0"),
    _set("unknown-key-physics", C1, "physics.vacancy", "physics.vacancy=true"),
    _set("unknown-key-boundary", C1, "boundary.top.phi", "boundary.top.phi=1.0"),
    _set("unknown-key-strain", POL, "strain.critical_thickness_nm",
         "strain.critical_thickness_nm=4.0"),
    _set("unknown-key-workfunction", POL, "workfunction.alignment",
         'workfunction.alignment="linear"'),
    _set("unknown-key-crystallization", GR, "crystallization.width_nm",
         "crystallization.width_nm=1.0"),
    _set("unknown-key-deposition", GR, "crystallization.deposition.rate",
         "crystallization.deposition.rate=1.0"),
    _set("unknown-key-initial", VAC, "initial.mu", "initial.mu=0.0"),
    _set("unknown-key-time", VAC, "time.end", "time.end=10.0"),
    _set("unknown-key-solver", C1, "solver.rtoll", "solver.rtoll=1e-8"),
    _set("unknown-key-output", C1, "output.field", "output.field=false"),
    _set("unknown-section", C1, "physiks", "physiks.vacancies=true"),
    _set("unknown-field-of-material-parameter", C1, "materials.RuO2.eps_r_c.unti",
         'materials.RuO2.eps_r_c={value=1.0, unti="dimensionless"}'),
    # -- classic: references, ranges, combinations --------------------------------------------
    _set("unknown-material", C1, "layers.1.material", 'layers.1.material="RuO3"'),
    _set("unknown-facet", C1, "boundary.topp", "boundary.topp.phi_V=1.0"),
    _set("orientation-unknown", C1, "layers.0.orientation", 'layers.0.orientation="111"'),
    _set("thickness-negative", C1, "layers.0.thickness_nm", "layers.0.thickness_nm=-1.0"),
    _set("mesh-size-zero", C1, "mesh.size_nm", "mesh.size_nm=0.0"),
    _set("dimension-4", C1, "run.dimension", "run.dimension=4"),
    _set("delta-out-of-range", VAC, "layers.0.delta", "layers.0.delta=2.5"),
    _set("vacuum-not-on-top", C1, "layers.0.material", 'layers.0.material="vacuum"'),
    _set("duplicate-layer-name", C1, "layers.1.name", 'layers.1.name="substrate"'),
    _set("dirichlet-and-neumann", C1, "boundary.bottom", "boundary.bottom.surface_charge_C_m2=0.1"),
    _edit("required-key-missing", C1, "layers.0.thickness_nm", "thickness_nm = 20.0\n", ""),
    _set("feature-in-1d", ISL, "mesh.features", "run.dimension=1"),
    _set("crystallization-unknown-layer", GR, "crystallization.layers.0",
         'crystallization.layers=["flim"]'),
    _set("gas-exchange-without-vacancies", VAC, "boundary.top.vacancy", "physics.vacancies=false"),
    _set("gas-exchange-out-of-temperature-range", VAC, "run.temperature_K",
         "run.temperature_K=50.0"),
    _set("steady-vacancies-blocking-only", C1, "time",
         "physics.vacancies=true", "initial.mu_eV=0.0"),
    _set("first-step-after-end", VAC, "time.dt_initial_s", "time.dt_initial_s=1e9"),
    _set("first-step-after-end-without-vacancies", POL, "time.dt_initial_s", "time.end_s=1.0",
         "time.dt_initial_s=10.0"),
    _set("output-time-after-end-without-vacancies", POL, "time.output_times_s.0",
         "time.end_s=1.0", "time.dt_initial_s=0.1", "time.output_times_s=[5.0]"),
    _set("material-unknown-base", C1, "materials.Foo.base", 'materials.Foo={base="TiO9"}'),
    _set("material-unreadable-unit", C1, "materials.RuO2.screening_length",
         'materials.RuO2.screening_length={value=1.0, unit="furlongs per blah"}'),
    _set("material-not-a-table", C1, "materials.RuO2", "materials.RuO2=3"),
    # -- item 8: what validate passed and run then refused or crashed on ----------------------
    _set("landau-unit-override", POL, "materials.RuO2.landau_a11",
         'materials.RuO2.landau_a11={value=1.0, unit="nm", source="t"}'),
    _set("landau-a1-unit-new-parameter", POL, "materials.TiO2.landau_a1",
         "layers.0.polar=true", 'materials.TiO2.landau_a1={value=1.0, unit="nm", source="t"}'),
    _set("born-charge-unit", POL, "materials.Foo.born_charge", 'layers.1.material="Foo"',
         'materials.Foo={base="RuO2", born_charge={value=1.0, unit="nm", source="t"}}'),
    _set("gradient-energy-unit-new-material", C1, "materials.Foo.gradient_energy",
         "materials.Foo={" + _NEW + ', gradient_energy={value=1.0, unit="eV", source="t"}}'),
    _set("space-charge-unit", TV, "materials.Foo.space_charge", 'layers.2.material="Foo"',
         'materials.Foo={base="TiO2", space_charge={value=1.0, unit="nm", source="t"}}'),
    _set("curie-weiss-singular-at-run-temperature", POL, "materials.TiO2.curie_temperature_a",
         "layers.0.polar=true", "materials.TiO2.curie_temperature_a=300.0"),
    _set("polar-layer-without-landau-data", POL, "layers.1.polar", 'layers.1.material="VO2_R"',
         "layers.1.polar=true"),
    _set("polar-vacuum", POL, "layers.2.polar", "layers.2.polar=true"),
    _set("typed-critical-thickness", POL, "strain", "strain.critical_thickness_x_nm=4.0"),
    _set("mechanics-without-elastic-constants", STEP, "materials.VO2_R.C11",
         "physics.mechanics=true"),
    _set("mechanics-roller-on-interface", ISL, "boundary.substrate/film.mechanics",
         'boundary."substrate/film".mechanics="roller"'),
    _set("mechanics-displacement-without-vector", ISL, "boundary.top",
         'boundary.top.mechanics="displacement"'),
    _set("mechanics-displacement-components", ISL, "boundary.top.displacement_nm",
         "boundary.top.displacement_nm=[0.0]"),
    _set("electrostriction-incomplete", ISL, "materials.RuO2.electrostriction_Q12",
         'materials.RuO2.electrostriction_Q11={value=0.1, unit="m^4/C^2", source="t"}'),
    _set("electrons-without-density-of-states", TV, "materials.Foo.effective_dos_conduction",
         'physics.electrons="boltzmann"', 'materials.Foo={base="TiO2_amorphous"}',
         'layers.2.material="Foo"'),
    _set("vacancy-data-missing", VAC, "materials.Foo.oxygen_site_density",
         "materials.Foo={" + _NEW + "}", 'layers.0.material="Foo"'),
    _set("vacancy-diffusivity-unit", VAC, "materials.TiO2.vacancy_D0_a",
         'materials.TiO2.vacancy_D0_a={value=1.0, unit="nm", source="t"}'),
    _set("crystallization-amorphous-lacks-data", GR, "materials.TiO2.interface_energy",
         'crystallization.amorphous_material="TiO2"'),
    _set("crystallization-amorphous-unknown", GR, "crystallization.amorphous_material",
         'crystallization.amorphous_material="Foo"'),
    _set("crystallization-mobility-unit", GR, "materials.TiO2_amorphous.front_mobility_M0",
         'materials.TiO2_amorphous.front_mobility_M0={value=1.0, unit="nm", source="t"}'),
    _set("deposition-pO2-gives-delta-out-of-range", GR, "crystallization.deposition.pO2_mTorr",
         "crystallization.deposition.pO2_mTorr=1e-30"),
    _set("work-function-without-vacuum", TV, "workfunction.enabled", "workfunction.enabled=true"),
    _set("work-function-unit", C1, "materials.RuO2.work_function",
         'materials.RuO2.work_function={value=4.5, unit="nm", source="t"}'),
    _set("work-function-missing-for-band-alignment", POL, "materials.Foo.work_function",
         'materials.Foo={base="TiO2_amorphous"}', 'layers.0.material="Foo"'),
]


def _config(tmp_path: Path, problem: str, edit: tuple[str, str] | None) -> str:
    """The problem file, or an edited copy of it in tmp_path."""
    path = PROBLEMS / problem
    if edit is None:
        return str(path)
    old, new = edit
    text = path.read_text()
    assert old in text, f"{problem} no longer contains {old!r}; update the case"
    edited = tmp_path / problem
    edited.write_text(text.replace(old, new, 1))
    return str(edited)


def test_the_table_is_large_and_distinct():
    ids = [case.id for case in CASES]
    assert len(ids) >= 60 and len(set(ids)) == len(ids)
    changes = [(case.values[0], case.values[1], case.values[2]) for case in CASES]
    assert len(set(changes)) == len(changes)


@pytest.mark.parametrize("problem, sets, edit, key", CASES)
def test_bad_input_exits_2_naming_the_key_and_writes_nothing(tmp_path, problem, sets, edit, key):
    config = _config(tmp_path, problem, edit)
    overrides = [arg for s in sets for arg in ("--set", s)]
    # a new run directory: not created
    out = tmp_path / "out"
    assert_input_error(cli("run", config, "--out", str(out), *overrides), key, out)
    assert not out.exists()
    # an existing run directory, even with --overwrite: byte-identical
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "summary.json").write_text('{"converged": true}\n')
    before = snapshot_dir(earlier)
    result = cli("run", config, "--out", str(earlier), "--overwrite", *overrides)
    assert_input_error(result, key, earlier, before)
    # validate refuses it with the same key
    assert_input_error(cli("validate", config, *overrides), key)


@pytest.mark.parametrize("key, field", [
    ("time.foo", "dt_initial_s"),
    ("crystallization.deposition.foo", "rate_nm_s"),
    ("boundary.top.foo", "surface_charge_C_m2"),
    ("mesh.features.0.foo", "height_nm"),
    ("layers.0.foo", "thickness_nm"),
    ("strain.foo", "law"),
])
def test_unknown_key_lists_the_allowed_keys_in_optional_sections(key, field):
    """The hint lists the section's keys (it listed nothing for optional sections)."""
    sets = ["--set", f"{key}=1.0"]
    result = cli("validate", str(PROBLEMS / ISL), *sets)
    assert_input_error(result, key)
    line = next(ln for ln in result.output.splitlines() if f"- {key}:" in ln)
    listed = line.split("allowed keys:", 1)[1]
    assert field in [k.strip() for k in listed.split(",")], line


def test_did_you_mean_and_the_allowed_keys():
    result = cli("validate", str(PROBLEMS / VAC), "--set", "time.end=10.0")
    assert_input_error(result, "time.end")
    assert "did you mean 'end_s'?" in result.output
    assert "allowed keys: cut, dt_initial_s" in result.output


def test_validate_reports_every_problem_in_one_pass():
    """Schema errors (an unknown key, a string number, NaN), cross-checks (an unknown facet,
    a removed strain law) and material checks (a wrong unit, a parameter the physics lacks) come
    out of one ``validate``."""
    result = cli(
        "validate", str(PROBLEMS / POL),
        "--set", "run.temperture_K=300.0",  # schema: unknown key
        "--set", 'layers.1.thickness_nm="3.5"',  # schema: a string number
        "--set", "boundary.bottom.phi_V=nan",  # schema: NaN
        "--set", "boundary.topp.phi_V=1.0",  # cross-check: no such facet
        "--set", 'strain.law="exponential"',  # schema: a removed (typed) law
        "--set", 'materials.RuO2.screening_length={value=0.3, unit="eV"}',  # units
        "--set", 'materials.TiO2.landau_a1={value=1.0, unit="nm", source="t"}',  # units
    )
    keys = ["run.temperture_K", "layers.1.thickness_nm", "boundary.bottom.phi_V",
            "boundary.topp", "strain", "materials.RuO2.screening_length",
            "materials.TiO2.landau_a1"]
    for key in keys:
        assert_input_error(result, key)
    assert f"{len(keys)} problems in the configuration" in result.output, result.output


def test_one_pass_keeps_the_checks_of_the_parts_that_passed():
    """A failing value skips only the checks that read it: with the time table broken, the
    crystallization's material needs are still reported (and the removed [time] does not
    give a spurious "add a [time] table")."""
    result = cli("validate", str(PROBLEMS / GR), "--set", "time.end_s=nan",
                 "--set", 'crystallization.amorphous_material="TiO2"')
    assert_input_error(result, "time.end_s")
    assert "materials.TiO2.interface_energy" in result.output
    assert "add a [time] table" not in result.output


def test_integers_and_set_values_still_work_for_float_fields(tmp_path):
    """Strict types still take a TOML integer for a float (in the file and from --set)."""
    text = (PROBLEMS / C1).read_text().replace("thickness_nm = 20.0", "thickness_nm = 20")
    (tmp_path / "c.toml").write_text(text)
    result = cli("validate", str(tmp_path / "c.toml"), "--set", "run.temperature_K=300",
                 "--set", "layers.film.thickness_nm=4", "--set", "mesh.max_cells=1000000")
    assert result.exit_code == 0, result.output


def test_every_parameter_the_physics_reads_has_a_checked_unit():
    """Every ``material.value("key", "unit")`` in the solver names a key of KNOWN_UNITS with
    the same dimension, so a config giving it in another dimension is refused at validation
    (not a traceback at run time)."""
    from heterofem.solver.materials import KNOWN_UNITS, unit_registry

    ureg = unit_registry()
    pattern = re.compile(r"\.value\(\s*f?\"([A-Za-z0-9_{}]+)\",\s*\"([^\"]+)\"")
    reads = set()
    for path in (REPO / "solver").rglob("*.py"):
        for key, unit in pattern.findall(path.read_text()):
            keys = ([key.replace("{d}", d) for d in ("a", "c")] if "{d}" in key else [key])
            reads.update((k, unit, path.name) for k in keys)
    assert len(reads) > 30
    for key, unit, where in sorted(reads):
        assert key in KNOWN_UNITS, f"{where} reads {key} in {unit}: add it to KNOWN_UNITS"
        assert ureg.parse_units(unit).dimensionality == \
            ureg.parse_units(KNOWN_UNITS[key]).dimensionality, (key, unit, where)
