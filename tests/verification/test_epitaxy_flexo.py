"""The polarization driven by the solved strain (1D epitaxial mechanics, two-way coupling) and
the flexoelectric interface field, against analytic solutions (docs/model.md, "Strain",
"Polarization", "Flexoelectric interface field").

1. 1D epitaxial mechanics, uniform coherent film, sigma_zz = 0 at the free top: the lattice
   strain is (f_x, f_y, eps_zz) with eps_zz = -(C'_zx f_x + C'_zy f_y) / C'_zz, sigma_zz = 0
   everywhere, u_z(top) - u_z(interface) = eps_zz h (the reference is the substrate lattice).
2. P0 against misfit with the solved strain: minimising a1 P^2 + a11 P^4 - P^2 kappa.eps
   + (1/2) C'_zz eps_zz^2 + (C'_zx f_x + C'_zy f_y) eps_zz over eps_zz gives
   eps_zz = eps_zz0 + kappa_z P^2 / C'_zz and the renormalised
   a1* = a1 - kappa_x f_x - kappa_y f_y - kappa_z eps_zz0,  a11* = a11 - kappa_z^2 / (2 C'_zz):
   P0^2 = -a1* / (2 a11*) (with the substrate's small depolarizing shift, as in
   test_polarization.py check 3). Without mechanics the strain is the uniform state (a11 is
   not renormalised).
3. Flexoelectric field of a strain step: f_fl = (F.eps) dP_z/dz in a polar layer with uniform
   strain gives, by parts, the fields h = +F.eps at its lower and -F.eps at its upper facet.
   Open circuit (D = 0, a1eff = a1 + 1/(2 eps0 eps_b)), linear regime, layer thickness L,
   l = sqrt(g / (2 a1eff)): P(s) = h l / (g sinh(L/l)) [cosh((L - s)/l) - cosh(s/l)], s from
   the lower facet: odd about the mid-plane (mirror symmetry), positive at the bottom for
   F.eps > 0. With and without mechanics (the in-plane strain is the same).
4. The same field given once per material pair, [interfaces."D|FE"] interface_field_V = h,
   acts as +h on D/FE and -h on FE/D (normal from D into FE): the same profile.
"""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from heterofem.solver.dolfinx_env import MPI
from heterofem.solver.run import run_case
from heterofem.solver.validation import validate_data

EPS0 = 8.8541878128e-12
NM = 1e-9
#: tetragonal elastic constants [GPa] (rutile-like) for the inline materials
ELASTIC = {"C11": 268.0, "C12": 174.9, "C13": 147.4, "C33": 484.2, "C44": 123.8, "C66": 190.2}


def q(value, unit):
    return {"value": value, "unit": unit, "source": "test value"}


def dielectric(eps, a=4.0, c=3.0, elastic=False):
    mat = {"kind": "insulator", "eps_r_a": q(eps, "dimensionless"),
           "eps_r_c": q(eps, "dimensionless"), "a_lattice": q(a, "angstrom"),
           "c_lattice": q(c, "angstrom")}
    if elastic:
        mat.update({k: q(v, "GPa") for k, v in ELASTIC.items()})
    return mat


def ferro(a1, a11, g=1e-9, eps_b=10.0, a=4.0, c=3.0, elastic=False, **extra):
    mat = dielectric(eps_b, a, c, elastic)
    mat.update(eps_inf_a=q(eps_b, "dimensionless"), eps_inf_c=q(eps_b, "dimensionless"),
               landau_a11=q(a11, "J*m^5/C^4"), gradient_energy=q(g, "J*m^3/C^2"),
               landau_a1=q(a1, "J*m/C^2"), **extra)
    return mat


def config(layers, materials, boundary, size, mechanics=False, **sections):
    return validate_data({
        "run": {"name": "epi"},
        "layers": [{"name": n, "material": m, "thickness_nm": d, **kw} for n, m, d, kw in layers],
        "materials": materials,
        "physics": {"polarization": any("landau_a11" in m for m in materials.values()),
                    "mechanics": mechanics},
        "mesh": {"size_nm": size},
        "boundary": boundary,
        "output": {"fields": False, "mesh": False, "profile_points": 401},
        **sections,
    })


def profiles(run_dir):
    with open(run_dir / "profiles.csv") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0] if k != "layer"}


def lab_110(C):
    """C'_zx, C'_zy, C'_zz [GPa] of a tetragonal crystal in the (110) orientation."""
    return C["C13"], (C["C11"] + C["C12"] - 2 * C["C66"]) / 2, \
        (C["C11"] + C["C12"] + 2 * C["C66"]) / 2


def test_1d_mechanics_uniform_film(tmp_path):
    """RuO2 on TiO2(110), coherent: eps_zz = -(C'_zx f_x + C'_zy f_y) / C'_zz, sigma_zz = 0."""
    cfg = validate_data({
        "run": {"name": "mech1d"},
        "layers": [{"name": "substrate", "material": "TiO2", "thickness_nm": 5.0,
                    "orientation": "110"},
                   {"name": "film", "material": "RuO2", "thickness_nm": 3.0,
                    "orientation": "110"}],
        "physics": {"mechanics": True},
        "mesh": {"size_nm": 0.25},
        "boundary": {"bottom": {"phi_V": 0.0}},
        "output": {"fields": False, "mesh": False},
    })
    s = run_case(cfg, tmp_path / "run", MPI.COMM_WORLD)
    film = s["mechanics"]["layers"]["film"]
    fx, fy = (2.9587 - 3.1066) / 3.1066, (4.5937 - 4.4919) / 4.4919
    C = {"C11": 335.0, "C12": 218.6, "C13": 184.2, "C66": 237.8}  # RuO2.toml
    czx, czy, czz = lab_110(C)
    ezz = -(czx * fx + czy * fy) / czz
    assert film["strain_xx"] == pytest.approx(fx, rel=1e-10)
    assert film["strain_yy"] == pytest.approx(fy, rel=1e-10)
    assert film["strain_zz"] == pytest.approx(ezz, rel=1e-8)
    assert abs(film["sigma_zz_GPa"]) < 1e-8 and abs(s["mechanics"]["layers"]["substrate"][
        "strain_zz"]) < 1e-12
    prof = profiles(tmp_path / "run")
    uz = np.interp([5.0, 8.0], prof["z_nm"], prof["u_z_nm"])
    assert uz[1] - uz[0] == pytest.approx(ezz * 3.0, rel=1e-8)
    assert s["strain"]["film"]["retained_misfit_x"] == pytest.approx(fx, rel=1e-12)


STRAIN_FILM = {"a1": 3e8, "a11": 5e9, "kc": -2e10, "ka": 4e10}


@pytest.mark.parametrize("mechanics,fx,dim", [(True, -0.02, 1), (True, -0.012, 1),
                                              (False, -0.02, 1), (False, -0.012, 1),
                                              (True, -0.02, 2)])
def test_p0_follows_the_solved_strain(tmp_path, mechanics, fx, dim):
    """(2D: the same film in generalised plane strain on rollers: the solved strain is
    uniform and P_x stays 0, a1 > 0 in plane.)"""
    f = STRAIN_FILM
    a, c = 4.5, 3.0
    film = ferro(f["a1"], f["a11"], eps_b=1e9, a=a, c=c, elastic=True,
                 landau_strain_coupling_a=q(f["ka"], "J*m/C^2"),
                 landau_strain_coupling_c=q(f["kc"], "J*m/C^2"))
    sub = dielectric(20.0, a=a, c=c * (1 + fx), elastic=True)
    cfg = config([("substrate", "SUB", 2.0, {"orientation": "110"}),
                  ("film", "FILM", 3.0, {"orientation": "110"})],
                 {"SUB": sub, "FILM": film}, {"bottom": {"phi_V": 0.0}, "top": {"phi_V": 0.0}},
                 size=0.25, mechanics=mechanics)
    if dim == 2:
        cfg = validate_data({**cfg.model_dump(exclude_none=True), "run": {"name": "epi",
                                                                          "dimension": 2},
                             "mesh": {"size_nm": 0.5, "width_nm": 1.0}})
    s = run_case(cfg, tmp_path / "run", MPI.COMM_WORLD)
    czx, czy, czz = lab_110(ELASTIC)
    czz_pa = czz * 1e9
    ezz0 = -(czx * fx) / czz
    a1s = f["a1"] - f["kc"] * fx - f["ka"] * ezz0  # kappa_y = kappa_z = kappa_a on (110)
    assert s["polarization"]["a1_zz_J_m_per_C2"]["film"] == pytest.approx(a1s, rel=1e-9)
    a11s = f["a11"] - (f["ka"] ** 2 / (2 * czz_pa) if mechanics else 0.0)
    shift = 2.0 / (2 * EPS0 * (1e9 * 2.0 + 20.0 * 3.0))  # substrate depolarization
    P = float(np.interp(3.5, (p := profiles(tmp_path / "run"))["z_nm"], p["P_z_C_per_m2"]))
    p0 = math.sqrt(-(a1s + shift) / (2 * a11s))
    assert abs(P) == pytest.approx(p0, rel=1e-5)
    if mechanics:  # the solved eps_zz carries the electrostrictive part kappa_z P^2 / C'_zz
        ezz = s["mechanics"]["layers"]["film"]["strain_zz"]
        assert ezz == pytest.approx(ezz0 + f["ka"] * P * P / czz_pa, rel=1e-4)


def _flexo_stack(tmp_path, mechanics, F, table_h=None):
    """D (2 nm) / FE (4 nm, misfit -0.99 % along x and y) / D (2 nm), open circuit."""
    a1, g, eps_b = 2e8, 1e-9, 100.0
    extra = {} if F is None else {"flexo_coupling_a": q(F, "V"), "flexo_coupling_c": q(F, "V")}
    mats = {"FE": ferro(a1, 1.0, g=g, eps_b=eps_b, a=4.04, c=3.0, elastic=mechanics, **extra),
            "D": dielectric(10.0, elastic=mechanics)}
    sections = {}
    if table_h is not None:
        sections["interfaces"] = {"D|FE": {"interface_field_V": table_h}}
    cfg = config([("D1", "D", 2.0, {}), ("F", "FE", 4.0, {}), ("D2", "D", 2.0, {})], mats,
                 {"bottom": {"phi_V": 0.0}}, size=0.02, mechanics=mechanics, **sections)
    s = run_case(cfg, tmp_path, MPI.COMM_WORLD)
    return s, profiles(tmp_path), (a1, g, eps_b)


@pytest.mark.parametrize("mechanics", [False, True])
def test_flexoelectric_field_of_a_strain_step(tmp_path, mechanics):
    F, L = -10.0, 4.0
    s, prof, (a1, g, eps_b) = _flexo_stack(tmp_path / "run", mechanics, F)
    f = (4.0 - 4.04) / 4.04
    h = F * 2 * f  # F (eps_xx + eps_yy), both along a on (001)
    fields = s["polarization"]["interface_fields_V"]
    assert fields["D1/F"] == pytest.approx(h, rel=1e-12)
    assert fields["F/D2"] == pytest.approx(-h, rel=1e-12)
    ell = math.sqrt(g / (2 * (a1 + 1.0 / (2 * EPS0 * eps_b)))) / NM
    A = h * ell * NM / (g * math.sinh(L / ell))
    s_grid = np.linspace(0.0, L, 81)
    exact = A * (np.cosh((L - s_grid) / ell) - np.cosh(s_grid / ell))
    got = np.interp(2.0 + s_grid, prof["z_nm"], prof["P_z_C_per_m2"])
    assert exact[0] > 0  # F.eps > 0: P points into the strained layer from below ...
    assert np.max(np.abs(got - exact)) < 2e-3 * exact[0]
    assert np.max(np.abs(got + got[::-1])) < 1e-6 * exact[0]  # ... and from above: odd


def test_interface_table_acts_with_the_normal(tmp_path):
    """[interfaces."D|FE"] h: +h on D1/F (D below) and -h on F/D2 (D above), the same profile
    as the flexoelectric field F.eps = h."""
    F = -10.0
    h = F * 2 * (4.0 - 4.04) / 4.04
    _, flexo, _ = _flexo_stack(tmp_path / "flexo", False, F)
    s, table, _ = _flexo_stack(tmp_path / "table", False, None, table_h=h)
    assert s["polarization"]["interface_fields_V"] == pytest.approx({"D1/F": h, "F/D2": -h})
    scale = np.max(np.abs(flexo["P_z_C_per_m2"]))
    assert np.max(np.abs(flexo["P_z_C_per_m2"] - table["P_z_C_per_m2"])) < 1e-8 * scale


@pytest.mark.parametrize("interfaces,key,word", [
    ({"D|Foo": {"interface_field_V": 1.0}}, "interfaces.D|Foo", "unknown material"),
    ({"D-FE": {"interface_field_V": 1.0}}, "interfaces.D-FE", "ordered material pair"),
    ({"D|FE": {"interface_field_V": 1.0}, "FE|D": {"interface_field_V": -1.0}},
     "interfaces.D|FE", "once"),
    ({"D|D": {"interface_field_V": 1.0}}, "interfaces.D|D.interface_field_V", "direction"),
])
def test_bad_interface_table_names_the_key(interfaces, key, word):
    from heterofem.solver.config import ConfigError

    mats = {"FE": ferro(2e8, 1.0, a=4.04), "D": dielectric(10.0)}
    with pytest.raises(ConfigError) as info:
        config([("D1", "D", 2.0, {}), ("F", "FE", 4.0, {}), ("D2", "D", 2.0, {})], mats,
               {"bottom": {"phi_V": 0.0}}, size=0.2, interfaces=interfaces)
    assert any(k == key and word in msg for k, msg in info.value.problems), info.value.problems
