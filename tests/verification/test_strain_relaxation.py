"""Strain relaxation computed from a misfit-dislocation energy balance (solver/strain.py).

Checks (RuO2 on TiO2(110) with the database's lattice and elastic constants):

1. Misfit: (110) x = [001] (spacing c), y = [1-10] (spacing a sqrt 2): -4.76 %, +2.27 %.
2. Poisson ratios from the elastic constants: nu_i = C'_zi / (C'_zi + C'_zz) with the closed
   forms of a tetragonal crystal: (001) C'_zx = C13, C'_zz = C33; (110) C'_zx = C13,
   C'_zy = (C11 + C12 - 2 C66) / 2, C'_zz = (C11 + C12 + 2 C66) / 2.
3. People-Bean: h_c solves h = A / f^2 ln(h / b) (the balance, evaluated independently here),
   and is the larger root (h_c > A / f^2). Matthews-Blakeslee: h = B / f (ln(h/b) + 1).
4. Self-consistency: the retained strain of a film thicker than h_c is the strain for which
   that thickness is critical (critical_thickness(retained strain) = h), and it decreases
   with thickness; thinner than h_c the film keeps its whole misfit.
5. A typed critical thickness or a typed law is a config error naming the replacement.
"""

from __future__ import annotations

import math

import pytest

from heterofem.solver.config import ConfigError
from heterofem.solver.materials import resolve_materials
from heterofem.solver.strain import (
    burgers_nm,
    critical_thickness,
    layer_strains,
    misfit,
    poisson_ratios,
)
from heterofem.solver.validation import validate_data


def _ruo2_on_tio2(h: float, law: str = "people_bean", **strain):
    return validate_data({
        "run": {"name": "ruo2"},
        "layers": [{"name": "substrate", "material": "TiO2", "thickness_nm": 10.0,
                    "orientation": "110"},
                   {"name": "film", "material": "RuO2", "thickness_nm": h, "orientation": "110"},
                   {"name": "gap", "material": "vacuum", "thickness_nm": 3.0}],
        "physics": {"polarization": True},
        "strain": {"law": law, **strain},
        "boundary": {"bottom": {"phi_V": 0.0}},
    })


@pytest.fixture(scope="module")
def mats():
    return resolve_materials(_ruo2_on_tio2(3.5))


def test_ruo2_tio2_110_misfit(mats):
    fx, fy = misfit(mats["RuO2"], mats["TiO2"], "110")
    assert fx == pytest.approx((2.9587 - 3.1066) / 3.1066, rel=1e-12)
    assert fy == pytest.approx((4.5937 - 4.4919) / 4.4919, rel=1e-12)
    assert round(100 * fx, 2) == -4.76 and round(100 * fy, 2) == 2.27
    fa = (4.5937 - 4.4919) / 4.4919  # (001): both in-plane spacings are a
    assert misfit(mats["RuO2"], mats["TiO2"], "001") == pytest.approx((fa, fa), rel=1e-12)


def test_poisson_ratios_from_elastic_constants(mats):
    ru = mats["RuO2"]
    C11, C12, C13, C33, C66 = (ru.value(k, "GPa") for k in ("C11", "C12", "C13", "C33", "C66"))
    nu001 = C13 / (C13 + C33)
    assert poisson_ratios(ru, "001") == pytest.approx((nu001, nu001), rel=1e-12)
    czz, czy = (C11 + C12 + 2 * C66) / 2, (C11 + C12 - 2 * C66) / 2
    assert poisson_ratios(ru, "110") == pytest.approx((C13 / (C13 + czz), czy / (czy + czz)),
                                                      rel=1e-12)


@pytest.mark.parametrize("axis", [0, 1])
def test_people_bean_solves_the_energy_balance(mats, axis):
    ru, ti = mats["RuO2"], mats["TiO2"]
    f = misfit(ru, ti, "110")[axis]
    b, d = burgers_nm(ru, "110", axis)
    nu = poisson_ratios(ru, "110")[axis]
    hc = critical_thickness(f, b, d, nu, "people_bean")
    A = (1 - nu) / (1 + nu) * b * b / (16 * math.pi * math.sqrt(2) * d) / f**2
    assert hc == pytest.approx(A * math.log(hc / b), rel=1e-9)
    assert hc > A  # the larger root (the smaller one lies below A)


def test_matthews_blakeslee_solves_the_force_balance(mats):
    ru, ti = mats["RuO2"], mats["TiO2"]
    fy = misfit(ru, ti, "110")[1]
    b, d = burgers_nm(ru, "110", 1)
    nu = poisson_ratios(ru, "110")[1]
    hc = critical_thickness(fy, b, d, nu, "matthews_blakeslee")
    B = b / (8 * math.pi * (1 + nu))
    assert hc == pytest.approx(B / fy * (math.log(hc / b) + 1), rel=1e-9)
    # along [001] (4.8 %) MB has no root above b: relaxed from the first cell
    fx = misfit(ru, ti, "110")[0]
    bx, dx = burgers_nm(ru, "110", 0)
    assert critical_thickness(fx, bx, dx, poisson_ratios(ru, "110")[0],
                              "matthews_blakeslee") == bx


@pytest.mark.parametrize("law", ["people_bean", "matthews_blakeslee"])
def test_retained_strain_is_critical_at_the_film_thickness(mats, law):
    ru = mats["RuO2"]
    nus = poisson_ratios(ru, "110")
    prev = {0: 2.0, 1: 2.0}
    for h in (1.0, 3.5, 6.5, 17.2, 40.0):
        cfg = _ruo2_on_tio2(h, law)
        film = layer_strains(cfg, resolve_materials(cfg))["film"]
        for axis, (f, r, hc) in enumerate(((film.misfit_x, film.retained_x,
                                            film.critical_thickness_x_nm),
                                           (film.misfit_y, film.retained_y,
                                            film.critical_thickness_y_nm))):
            b, d = burgers_nm(ru, "110", axis)
            if h <= hc:
                assert r == 1.0
            else:
                assert 0 < r < 1
                assert critical_thickness(f * r, b, d, nus[axis], law) == pytest.approx(
                    h, rel=1e-6)
            assert r <= prev[axis]  # thicker films keep less
            prev[axis] = r


def test_ruo2_people_bean_directions(mats):
    """The computed h_c per direction: [001] relaxes first, [1-10] persists beyond 17.2 nm
    (the RSM comparison is a study's job; these are the model's own orders)."""
    cfg = _ruo2_on_tio2(17.2)
    film = layer_strains(cfg, resolve_materials(cfg))["film"]
    assert film.critical_thickness_x_nm < 17.2 < film.critical_thickness_y_nm
    assert film.retained_y == 1.0 and film.retained_x < 1.0
    assert film.as_dict()["retained_misfit_x"] == pytest.approx(film.misfit_x * film.retained_x)


def test_incoherent_layer_is_unstrained():
    data = _ruo2_on_tio2(8.0).model_dump()
    data["layers"][1]["coherent"] = False
    cfg = validate_data(data)
    film = layer_strains(cfg, resolve_materials(cfg))["film"]
    assert (film.strain_x, film.strain_y) == (0.0, 0.0)


@pytest.mark.parametrize("strain,word", [
    ({"law": "exponential"}, "people_bean"),
    ({"law": "inverse"}, "people_bean"),
    ({"law": "people_bean", "critical_thickness_x_nm": 4.0}, "critical_thickness_x_nm"),
    ({"law": "coherent", "relaxation_width_x_nm": 1.0}, "people_bean"),
])
def test_typed_relaxation_is_rejected(strain, word):
    with pytest.raises(ConfigError) as info:
        validate_data({"layers": [{"name": "s", "material": "TiO2", "thickness_nm": 2.0}],
                       "strain": strain})
    assert any(word in msg for _, msg in info.value.problems), info.value.problems


def test_removed_bias_follows_strain_names_the_replacement():
    with pytest.raises(ConfigError) as info:
        validate_data({"layers": [{"name": "s", "material": "TiO2", "thickness_nm": 2.0}],
                       "boundary": {"top": {"polar_bias_V": 1.0,
                                            "polar_bias_follows_strain": "x"}}})
    assert any("flexo_coupling" in msg and "interfaces" in msg
               for _, msg in info.value.problems), info.value.problems
