"""Mechanism checks of the RuO2/TiO2(110) polarization problems (issue #22 item 7), with the
materials and settings of problems/ruo2_tio2_110_polar_1d.toml and
problems/tio2_ruo2_tio2_110_trilayer_1d.toml (nothing fitted is asserted here; the tolerances
follow from the mechanism, docs/model.md "Polarization"):

- misfit removed (RuO2's lattice constants set to TiO2's): no strain, hence no flexoelectric
  field and no strain-softened a1*: the polarization part of Phi at 3.5 nm falls below 20 % of
  the strained value;
- reversing the stacking mirrors the answer: a TiO2 / RuO2 / TiO2 stack grounded at both ends
  and its reverse (the film coherent with the bottom TiO2 in both) give P_rev(z) = -P(L - z);
- a thicker film relaxes (computed) and loses it: the interface field scales with F.eps, so
  its ratio between 17.2 and 3.5 nm is the ratio of (eps_xx + eps_yy) of the two films, and the
  polarization part of Phi and the interfacial displacement shrink;
- the trilayer: the opposite polarization of its two RuO2/TiO2 interfaces follows from
  geometry (the same material pair, fields +F.eps and -F.eps), P pointing from TiO2 into RuO2
  at both, vanishing at the free surface.
"""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from conftest import PROBLEMS
from heterofem.solver.dolfinx_env import MPI
from heterofem.solver.run import run_case
from heterofem.solver.validation import validate_data

TIO2 = {"a_lattice": 4.5937, "c_lattice": 2.9587}  # angstrom, solver/materials/TiO2.toml


def _data(name: str) -> dict:
    with open(PROBLEMS / name, "rb") as fh:
        data = tomllib.load(fh)
    data.setdefault("output", {}).update(fields=False, mesh=False)
    return data


def _run(data: dict, out) -> dict:
    return run_case(validate_data(data), out, MPI.COMM_WORLD)


def _bilayer(t: float, unstrained: bool = False) -> dict:
    data = _data("ruo2_tio2_110_polar_1d.toml")
    data["layers"][1]["thickness_nm"] = t
    if unstrained:
        for key, value in TIO2.items():
            data["materials"]["RuO2"][key] = {"value": value, "unit": "angstrom",
                                              "source": "test: the substrate's lattice"}
    return data


@pytest.fixture(scope="module")
def strained(tmp_path_factory):
    return _run(_bilayer(3.5), tmp_path_factory.mktemp("strained") / "run")


def test_removing_the_misfit_removes_the_polarization_part(strained, tmp_path):
    flat = _run(_bilayer(3.5, unstrained=True), tmp_path / "run")
    assert flat["strain"]["film"]["retained_misfit_x"] == 0.0
    assert flat["polarization"]["interface_fields_V"] == {}
    pol, pol0 = strained["work_function"]["polarization_eV"], flat["work_function"][
        "polarization_eV"]
    assert abs(pol) > 1e-3  # the strained film has a polarization part to lose
    assert abs(pol0) < 0.2 * abs(pol)


def test_thicker_film_relaxes_and_loses_it(strained, tmp_path):
    thick = _run(_bilayer(17.2), tmp_path / "run")
    s3, s17 = strained["strain"]["film"], thick["strain"]["film"]
    assert s17["retained_x"] < s3["retained_x"] <= 1.0
    ratio = (s17["retained_misfit_x"] + s17["retained_misfit_y"]) / (
        s3["retained_misfit_x"] + s3["retained_misfit_y"])
    h3 = strained["polarization"]["interface_fields_V"]["substrate/film"]
    h17 = thick["polarization"]["interface_fields_V"]["substrate/film"]
    assert h17 == pytest.approx(ratio * h3, rel=1e-9)
    assert abs(h17) < abs(h3)
    assert abs(thick["work_function"]["polarization_eV"]) < abs(
        strained["work_function"]["polarization_eV"])
    d3 = strained["polarization"]["interfaces"]["substrate/film"]["mean_displacement_pm"]
    d17 = thick["polarization"]["interfaces"]["substrate/film"]["mean_displacement_pm"]
    assert abs(d17) < abs(d3)


def _sandwich(bottom: float, top: float) -> dict:
    """TiO2 (bottom nm) / RuO2 3.5 nm / TiO2 (top nm, on the film's lattice = the
    substrate's), grounded at both ends, with the bilayer config's materials and strain law."""
    data = _bilayer(3.5)
    sub, film = data["layers"][0], data["layers"][1]
    cap = dict(sub, name="cap", thickness_nm=top, coherent=False)
    data["layers"] = [dict(sub, thickness_nm=bottom), film, cap]
    data["boundary"] = {"bottom": {"phi_V": 0.0}, "top": {"phi_V": 0.0}}
    data.pop("workfunction", None)
    data["mesh"] = {"size_nm": 0.1}
    data["output"]["profile_points"] = 801
    return data


def _profile(run_dir) -> tuple[np.ndarray, np.ndarray]:
    import csv

    with open(run_dir / "profiles.csv") as fh:
        rows = list(csv.DictReader(fh))
    return (np.array([float(r["z_nm"]) for r in rows]),
            np.array([float(r["P_z_C_per_m2"]) for r in rows]))


def test_reversed_stacking_mirrors_the_polarization(tmp_path):
    _run(_sandwich(4.0, 2.0), tmp_path / "up")
    _run(_sandwich(2.0, 4.0), tmp_path / "down")
    z, p = _profile(tmp_path / "up")
    zr, pr = _profile(tmp_path / "down")
    length = z[-1]
    mirrored = -np.interp(length - z, zr, pr)
    scale = np.max(np.abs(p))
    assert scale > 1e-4
    assert np.max(np.abs(p - mirrored)) < 1e-6 * scale  # the two meshes are mirror images


def test_trilayer_opposite_polarization_from_geometry(tmp_path):
    s = _run(_data("tio2_ruo2_tio2_110_trilayer_1d.toml"), tmp_path / "run")
    pol = s["polarization"]
    fields = pol["interface_fields_V"]
    assert fields["buffer/film"] > 0 and fields["film/cap"] == pytest.approx(
        -fields["buffer/film"], rel=1e-12)  # one material pair, the sign from the normal
    lower, upper = pol["interfaces"]["buffer/film"], pol["interfaces"]["film/cap"]
    assert lower["P_C_per_m2"] > 0 > upper["P_C_per_m2"]  # from TiO2 into RuO2 at both
    assert lower["mean_displacement_pm"] > 0 > upper["mean_displacement_pm"]
    assert abs(pol["interfaces"]["cap/gap"]["P_C_per_m2"]) < 0.05 * lower["P_C_per_m2"]
