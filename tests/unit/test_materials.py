"""The materials database (solver/materials): files, units, sources, config overrides."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from heterofem.solver import materials as mats
from heterofem.solver.config import Config, ConfigError
from heterofem.solver.validation import validate_data
from heterofem.solver.materials import (
    KINDS,
    MaterialError,
    Param,
    describe,
    eps_tensor_crystal,
    known_material_names,
    lattice_misfit,
    load_database,
    resolve_materials,
)

DB_DIR = Path(mats.__file__).resolve().parent
EXPECTED = {"TiO2", "VO2_M1", "VO2_R", "RuO2", "vacuum"}


def make_cfg(materials: dict | None = None, stack: tuple[str, ...] = ("TiO2", "RuO2", "vacuum")):
    layers = [{"name": f"l{i}", "material": m, "thickness_nm": 2.0} for i, m in enumerate(stack)]
    return Config.model_validate({"layers": layers, "materials": materials or {}})


def keys(exc: MaterialError) -> list[str]:
    return [k for k, _ in exc.problems]


# -- database files ---------------------------------------------------------------------------


def test_every_file_loads():
    db = load_database()
    files = {p.stem for p in DB_DIR.glob("*.toml")}
    assert set(db) == files
    assert EXPECTED <= set(db)
    assert known_material_names() == sorted(db)


def test_every_parameter_has_unit_source_and_status():
    ureg = mats.unit_registry()
    for mat in load_database().values():
        assert mat.kind in KINDS
        assert mat.description
        for key, p in mat.params.items():
            assert isinstance(p, Param)
            assert p.unit.strip(), f"{mat.name}.{key} has no unit"
            ureg.parse_units(p.unit)
            assert p.source.strip(), f"{mat.name}.{key} has no source"
            assert p.status in ("V", "L", "D", "E", ""), f"{mat.name}.{key}"
            if mat.kind != "vacuum":
                assert p.status, f"{mat.name}.{key} has no status mark"
            if p.status == "E":
                assert "calibrat" in p.note, f"{mat.name}.{key}: an E value must say to calibrate"


def test_required_keys_per_kind():
    db = load_database()
    for mat in db.values():
        assert mat.has("eps_r_a") and mat.has("eps_r_c")
        if mat.kind == "metal":
            assert 0.0 < mat.value("screening_length", "nm") < 1.0
    assert db["TiO2"].kind == "semiconductor"
    assert {db["RuO2"].kind, db["VO2_R"].kind} == {"metal"}
    assert db["vacuum"].kind == "vacuum"


def test_values_from_parameters_md():
    db = load_database()
    ti = db["TiO2"]
    assert ti.value("eps_r_a", "dimensionless") == 86.0
    assert ti.value("eps_r_c", "dimensionless") == 170.0
    assert ti["eps_r_c"].status == "V"
    assert ti.value("a_lattice", "angstrom") == 4.5937
    assert ti.value("c_lattice", "angstrom") == 2.9587
    assert ti.value("C33", "GPa") == 484.2
    # Curie-Weiss fits reproduce Parker's 300 K values within 2 %
    for ax, eps in (("a", 86.0), ("c", 170.0)):
        c = ti.value(f"curie_constant_{ax}", "K")
        t0 = ti.value(f"curie_temperature_{ax}", "K")
        assert c / (300.0 - t0) == pytest.approx(eps, rel=0.02)
    assert db["RuO2"].value("screening_length", "angstrom") == pytest.approx(0.7)
    assert db["vacuum"].value("eps_r_c", "dimensionless") == 1.0


def test_units_convert():
    ti = load_database()["TiO2"]
    assert ti["a_lattice"].si == pytest.approx(4.5937e-10)
    assert ti["a_lattice"].to("nm") == pytest.approx(0.45937)
    assert ti["band_gap"].si == pytest.approx(3.0 * 1.602176634e-19)
    assert ti["band_gap"].to("eV") == pytest.approx(3.0)
    assert ti["C11"].si == pytest.approx(268e9)
    assert load_database()["RuO2"]["carrier_density"].si == pytest.approx(2e28)
    with pytest.raises(ValueError, match="a_lattice"):
        ti.value("a_lattice", "eV")


def test_missing_parameter():
    ti = load_database()["TiO2"]
    with pytest.raises(KeyError, match="TiO2.*eps_r_x"):
        ti.value("eps_r_x", "dimensionless")
    with pytest.raises(KeyError, match="TiO2"):
        ti["nope"]
    assert ti.value("nope", "nm", default=2.5) == 2.5


def test_database_copies_are_independent():
    db = load_database()
    db["TiO2"].params["eps_r_c"] = Param(1.0, "dimensionless", "test")
    assert load_database()["TiO2"].value("eps_r_c", "dimensionless") == 170.0


def test_misfit_ruo2_on_tio2_110():
    # PARAMETERS.md: -4.7 % along [001] (c), +2.3 % along [1-10] (a); misfit (sub - film)/film
    db = load_database()
    f_c = lattice_misfit(db["RuO2"], db["TiO2"], "c_lattice")
    c_ti, c_ru = db["TiO2"].value("c_lattice", "m"), db["RuO2"].value("c_lattice", "m")
    assert f_c == pytest.approx((c_ti - c_ru) / c_ru)
    assert 100 * f_c == pytest.approx(-4.7, abs=0.1)
    assert 100 * lattice_misfit("RuO2", "TiO2", "a_lattice") == pytest.approx(2.3, abs=0.1)
    # VO2(R) on TiO2(001): +0.86 % in-plane (PARAMETERS.md sec. 2)
    assert 100 * lattice_misfit("VO2_R", "TiO2", "a_lattice") == pytest.approx(0.86, abs=0.01)


def test_eps_tensor_crystal():
    eps = eps_tensor_crystal(load_database()["TiO2"])
    assert eps.shape == (3, 3)
    np.testing.assert_allclose(eps, np.diag([86.0, 86.0, 170.0]))
    np.testing.assert_allclose(eps_tensor_crystal("vacuum"), np.eye(3))


def test_broken_database_file_names_file_and_key(tmp_path):
    (tmp_path / "Good.toml").write_text((DB_DIR / "vacuum.toml").read_text().replace(
        'name = "vacuum"', 'name = "Good"'))
    (tmp_path / "Bad.toml").write_text(
        'name = "Bad"\ndescription = "x"\nkind = "metal"\n[parameters]\n'
        'eps_r_a = { value = 1.0, unit = "nmm", source = "x" }\n'
        'eps_r_c = { value = 1.0, unit = "dimensionless", source = "" }\n'
    )
    with pytest.raises(MaterialError) as info:
        load_database(tmp_path)
    ks = keys(info.value)
    assert "Bad.toml:parameters.eps_r_a.unit" in ks
    assert "Bad.toml:parameters.eps_r_c.source" in ks
    assert "Bad.toml:parameters" in ks  # a metal without screening_length
    assert "Bad.toml" in str(info.value)


# -- oxygen vacancies and electrons (MODEL.md sec. 2, 3) ----------------------------------------

OXIDES = ("TiO2", "VO2_M1", "VO2_R", "RuO2")
VACANCY_KEYS = ("oxygen_site_density", "vacancy_formation_energy", "vacancy_D0_c", "vacancy_Ea_c",
                "vacancy_D0_a", "vacancy_Ea_a", "surface_exchange_k0", "surface_exchange_Ea")
ELECTRON_KEYS = ("effective_dos_conduction", "conduction_band_offset", "donor_density",
                 "acceptor_density")
KB_EV = 8.617333262e-5


def d_vacancy(mat, axis: str, T: float) -> float:
    """Arrhenius vacancy diffusivity [m^2/s] along crystal axis 'a' or 'c'."""
    d0 = mat.value(f"vacancy_D0_{axis}", "m^2/s")
    return d0 * np.exp(-mat.value(f"vacancy_Ea_{axis}", "eV") / (KB_EV * T))


def fd_half(eta: float) -> float:
    """F_1/2(eta), normalised to exp(eta) for eta -> -inf (u = sqrt(x) quadrature)."""
    u = np.linspace(0.0, np.sqrt(max(eta, 0.0) + 60.0), 20001)
    f = 2.0 * u**2 / (1.0 + np.exp(np.clip(u**2 - eta, -700.0, 700.0)))
    return float(np.sum((f[1:] + f[:-1]) * np.diff(u)) / 2.0 * 2.0 / np.sqrt(np.pi))


def neutral_delta(mat, mu: float, T: float, electrons: bool) -> float:
    """delta = 2 theta of a charge-neutral bulk at vacancy potential mu [eV] (phi solved from
    2 c + N_D - N_A = n for a semiconductor; phi = 0 for a metal or without electrons)."""
    kt = KB_EV * T
    n_o = mat.value("oxygen_site_density", "m^-3")
    ef = mat.value("vacancy_formation_energy", "eV")

    def theta(qphi):
        return 1.0 / (1.0 + np.exp((ef + 2.0 * qphi - mu) / kt))

    if not electrons:
        return 2.0 * theta(0.0)
    nc = mat.value("effective_dos_conduction", "m^-3") * (T / 300.0) ** 1.5
    dec = mat.value("conduction_band_offset", "eV")
    nd = mat.value("donor_density", "m^-3") - mat.value("acceptor_density", "m^-3")

    def excess(qphi):  # positive minus negative charge / q
        return 2.0 * theta(qphi) * n_o + nd - nc * fd_half((qphi - dec) / kt)

    lo, hi = -2.0, 2.0  # excess falls with qphi
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if excess(mid) > 0 else (lo, mid)
    return 2.0 * theta(0.5 * (lo + hi))


def test_vacancy_and_electron_keys_have_unit_source_status():
    db = load_database()
    for name in OXIDES:
        mat = db[name]
        need = VACANCY_KEYS + (ELECTRON_KEYS if mat.kind == "semiconductor" else ())
        for key in need:
            assert mat.has(key), f"{name} lacks {key}"
            p = mat[key]
            assert p.unit.strip() and p.source.strip() and p.status, f"{name}.{key}"
            assert p.note.strip(), f"{name}.{key} needs a note explaining the choice"
            ref = mats.KNOWN_UNITS[key]
            assert mats._dimensionality(p.unit) == mats._dimensionality(ref), f"{name}.{key}"
            assert p.value >= 0.0, f"{name}.{key}"
        if mat.kind == "metal":
            assert mat.has("screening_length") and mat.has("carrier_density")


def test_oxygen_site_density_from_lattice():
    db = load_database()
    for name in OXIDES:
        mat = db[name]
        a, c = mat.value("a_lattice", "m"), mat.value("c_lattice", "m")
        assert mat.value("oxygen_site_density", "m^-3") == pytest.approx(4.0 / (a * a * c),
                                                                         rel=1e-5), name
        assert mat["oxygen_site_density"].status == "D"
    assert db["TiO2"].value("oxygen_site_density", "nm^-3") == pytest.approx(64.07, abs=0.01)


def test_vacancy_formation_energy_jump_tio2_vo2():
    # TiO2/VO2 paper (Nat. Commun. 11, 1401 (2020)): DFT E_f(V_O) at least 0.69 eV lower in VO2
    db = load_database()
    ef_ti = db["TiO2"].value("vacancy_formation_energy", "eV")
    for vo2 in ("VO2_R", "VO2_M1"):
        assert db[vo2].value("vacancy_formation_energy", "eV") <= ef_ti - 0.69, vo2
    # vacancies favour the metallic phase (they lower T_MIT)
    assert db["VO2_R"].value("vacancy_formation_energy", "eV") < \
        db["VO2_M1"].value("vacancy_formation_energy", "eV")


def test_vacancy_formation_energy_matches_phase_boundaries():
    # PARAMETERS.md sec. 5c at 423 K: Ti4O7/TiO2 -3.44, Ti3O5/TiO2 -3.53, V2O3/VO2 -1.76 eV per O
    db = load_database()
    T = 423.15
    for mu in (3.44, 3.53):  # a reduced TiO2-delta film (delta 0.01-0.05), electrons neutralise
        assert 0.01 <= neutral_delta(db["TiO2"], mu, T, electrons=True) <= 0.05, mu
    # VO2 (metal at 423 K) is near-stoichiometric at its own reduction boundary
    assert 1e-3 <= neutral_delta(db["VO2_R"], 1.76, T, electrons=False) <= 1e-2
    assert 1e-3 <= neutral_delta(db["VO2_R"], 1.65, 573.15, electrons=False) <= 1e-2
    # at the TiO2-delta film's potential, VO2 would take up far more vacancies: O flows VO2 -> TiO2
    assert neutral_delta(db["VO2_R"], 3.44, T, electrons=False) > 0.5


def test_vacancy_diffusion_anisotropy_and_scale():
    db = load_database()
    T = 423.15
    for name in OXIDES:
        mat = db[name]
        assert d_vacancy(mat, "c", T) >= d_vacancy(mat, "a", T), name  # c: rutile channels
    ti = db["TiO2"]
    assert d_vacancy(ti, "c", T) > 1.5 * d_vacancy(ti, "a", T)
    # PARAMETERS.md sec. 1c: ~10 nm in 10 min - 2 h at 150 C, sub-um or more at 300 C
    for t in (600.0, 7200.0):
        assert 3e-9 <= np.sqrt(d_vacancy(ti, "c", T) * t) <= 3e-8
    assert np.sqrt(d_vacancy(ti, "c", 573.15) * 3600.0) > 2e-7
    # the high-T tracer law is far too slow at 150 C (why the effective law exists)
    d_tracer = ti.value("D0_O_tracer_c", "m^2/s") * np.exp(
        -ti.value("Ea_O_tracer_c", "eV") / (KB_EV * T))
    assert d_tracer < 1e-30 < d_vacancy(ti, "c", T)


def test_surface_exchange_arita():
    ti = load_database()["TiO2"]
    assert ti.value("surface_exchange_k0", "m/s") == pytest.approx(0.24)
    assert ti.value("surface_exchange_Ea", "eV") == pytest.approx(246.0 / 96.485, abs=0.005)
    assert ti["surface_exchange_k0"].status == "V" and "Arita" in ti["surface_exchange_k0"].source


def test_effective_dos_from_mass():
    # N_c = 2 (2 pi m* kT / h^2)^(3/2) at 300 K, from the file's own electron_dos_mass
    h, me, kb = 6.62607015e-34, 9.1093837015e-31, 1.380649e-23
    for name in ("TiO2", "VO2_M1"):
        mat = load_database()[name]
        m = mat.value("electron_dos_mass", "dimensionless")
        nc = 2.0 * (2.0 * np.pi * m * me * kb * 300.0 / h**2) ** 1.5
        assert mat.value("effective_dos_conduction", "m^-3") == pytest.approx(nc, rel=0.01), name
        assert 0.0 < mat.value("conduction_band_offset", "eV") < 0.5


# -- config materials -------------------------------------------------------------------------


def test_resolve_without_overrides():
    out = resolve_materials(make_cfg())
    assert list(out) == ["TiO2", "RuO2", "vacuum"]
    assert out["TiO2"].value("eps_r_c", "dimensionless") == 170.0


def test_override_bare_number_keeps_db_unit():
    overrides = {"TiO2": {"eps_r_c": 120.0}, "RuO2": {"screening_length": 0.05}}
    out = resolve_materials(make_cfg(overrides))
    p = out["TiO2"]["eps_r_c"]
    assert p.value == 120.0 and p.unit == "dimensionless"
    assert p.source == "config override"
    q = out["RuO2"]["screening_length"]
    assert q.unit == "nm" and q.to("angstrom") == pytest.approx(0.5)
    assert out["TiO2"].value("eps_r_a", "dimensionless") == 86.0  # others untouched
    assert load_database()["TiO2"].value("eps_r_c", "dimensionless") == 170.0  # DB untouched


def test_override_table_with_other_unit():
    cfg = make_cfg({"RuO2": {"screening_length": {"value": 0.5, "unit": "angstrom",
                                                   "source": "fit 2026"}}})
    p = resolve_materials(cfg)["RuO2"]["screening_length"]
    assert p.to("nm") == pytest.approx(0.05)
    assert p.source == "fit 2026"


def test_override_wrong_dimension_is_an_error():
    cfg = make_cfg({"TiO2": {"eps_r_c": {"value": 1.0, "unit": "nm", "source": "x"}}})
    with pytest.raises(MaterialError) as info:
        resolve_materials(cfg)
    assert "materials.TiO2.eps_r_c" in keys(info.value)
    assert "materials.TiO2.eps_r_c" in str(info.value)


def test_unknown_key_bare_number_needs_unit_and_source():
    with pytest.raises(MaterialError) as info:
        resolve_materials(make_cfg({"TiO2": {"trap_density": 1e24}}))
    ((key, msg),) = info.value.problems
    assert key == "materials.TiO2.trap_density"
    assert "unit" in msg and "source" in msg
    # a misspelt key gets a did-you-mean
    with pytest.raises(MaterialError, match="eps_r_c"):
        resolve_materials(make_cfg({"TiO2": {"eps_r_cc": 100.0}}))


def test_unknown_key_full_table_is_allowed():
    cfg = make_cfg({"TiO2": {"trap_density": {"value": 1e24, "unit": "m^-3", "source": "guess"}}})
    assert resolve_materials(cfg)["TiO2"].value("trap_density", "cm^-3") == pytest.approx(1e18)


def test_database_key_bare_number_override():
    # donor_density is a database key of TiO2: a bare number is taken in the database's unit
    p = resolve_materials(make_cfg({"TiO2": {"donor_density": 1e24}}))["TiO2"]["donor_density"]
    assert p.unit == "m^-3" and p.to("cm^-3") == pytest.approx(1e18)
    assert p.source == "config override"


def test_new_material_without_kind_is_an_error():
    cfg = make_cfg({"Foo": {"eps_r_a": {"value": 3.0, "unit": "dimensionless", "source": "x"},
                            "eps_r_c": {"value": 3.0, "unit": "dimensionless", "source": "x"}}},
                   stack=("TiO2", "Foo"))
    with pytest.raises(MaterialError) as info:
        resolve_materials(cfg)
    assert "materials.Foo.kind" in keys(info.value)


def test_new_material_complete_and_with_base():
    new = {"kind": "insulator", "description": "spacer",
           "eps_r_a": {"value": 9.0, "unit": "dimensionless", "source": "estimate"},
           "eps_r_c": {"value": 9.0, "unit": "dimensionless", "source": "estimate"}}
    based = {"base": "TiO2", "eps_r_c": 100.0}
    out = resolve_materials(make_cfg({"Spacer": new, "TiO2_film": based},
                                     stack=("TiO2", "Spacer", "TiO2_film")))
    assert out["Spacer"].kind == "insulator"
    assert out["TiO2_film"].kind == "semiconductor"
    assert out["TiO2_film"].value("eps_r_c", "dimensionless") == 100.0
    assert out["TiO2_film"].value("C11", "GPa") == 268.0
    assert out["TiO2"].value("eps_r_c", "dimensionless") == 170.0


def test_new_material_problems_are_all_collected():
    cfg = make_cfg({
        "Foo": {"kind": "metal", "eps_r_a": 3.0,
                "eps_r_c": {"value": 3.0, "unit": "dimensionless"}},
        "Bar": {"base": "TiO3"},
        "TiO2": {"kind": "superconductor", "eps_r_c": "high"},
    }, stack=("TiO2", "Foo", "Bar"))
    with pytest.raises(MaterialError) as info:
        resolve_materials(cfg)
    ks = keys(info.value)
    for k in ("materials.Foo.eps_r_a", "materials.Foo.eps_r_c", "materials.Bar.base",
              "materials.TiO2.kind", "materials.TiO2.eps_r_c"):
        assert k in ks, (k, ks)
    assert "TiO2" in dict(info.value.problems)["materials.Bar.base"]  # did you mean


def test_metal_needs_screening_length():
    new = {"kind": "metal",
           "eps_r_a": {"value": 5.0, "unit": "dimensionless", "source": "x"},
           "eps_r_c": {"value": 5.0, "unit": "dimensionless", "source": "x"}}
    with pytest.raises(MaterialError, match="screening_length"):
        resolve_materials(make_cfg({"M": new}, stack=("TiO2", "M")))


def test_config_validation_reports_material_problems():
    data = {"layers": [{"name": "sub", "material": "TiO2", "thickness_nm": 5.0}],
            "materials": {"TiO2": {"eps_r_c": {"value": 1.0, "unit": "eV", "source": "x"}}}}
    with pytest.raises(ConfigError) as info:
        validate_data(data)
    assert "materials.TiO2.eps_r_c" in [k for k, _ in info.value.problems]
    data["materials"] = {"TiO2": {"eps_r_c": 150.0}}
    validate_data(data)  # valid


# -- describe ---------------------------------------------------------------------------------


def test_describe_lists_all_materials():
    text = describe()
    for name in known_material_names():
        assert name in text
    for kind in ("semiconductor", "metal", "vacuum"):
        assert kind in text


def test_describe_one_material():
    text = describe("TiO2")
    assert "eps_r_c" in text and "Parker" in text and "GPa" in text
    for key in load_database()["TiO2"].params:
        assert key in text
    with pytest.raises(MaterialError, match="did you mean 'TiO2'"):
        describe("TiO3")
