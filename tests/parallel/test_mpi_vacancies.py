"""Coupled vacancy + Poisson transients: mpirun -n 2 gives the serial summary.json scalars.

The TiO2 / VO2(R) / TiO2 stack with Fermi-Dirac electrons, in 1D and in 2D (a (110) template
with a terrace step and vacuum on top, so the inactive vacuum mu dofs and the interface
facets are split across ranks). Adaptive BDF2 stepping: the step sequence too must be the
same, since it depends on Newton iteration counts.
"""

from __future__ import annotations

import copy

import pytest
import tomli_w

from conftest import assert_scalars_agree, read_summary, run_in_group

#: a rank waiting in a collective that another rank skipped spins for ever: give up after this
TIMEOUT_S = 90

STACK = {
    "run": {"name": "tio2_vo2", "dimension": 1, "temperature_K": 423.15},
    "layers": [
        {"name": "substrate", "material": "TiO2", "thickness_nm": 10.0, "delta": 1e-5},
        {"name": "template", "material": "VO2_R", "thickness_nm": 12.0, "delta": 0.002},
        {"name": "film", "material": "TiO2", "thickness_nm": 6.0, "delta": 0.03},
    ],
    "mesh": {"size_nm": 0.25, "interface_size_nm": 0.05},
    "physics": {"vacancies": True, "electrons": "fermi-dirac"},
    "boundary": {"bottom": {"phi_V": 0.0}},
    "time": {"end_s": 60.0, "dt_initial_s": 0.01, "output_times_s": [10.0], "scheme": "bdf2"},
    "output": {"profile_points": 101},
}


def _config(dim: int) -> dict:
    data = copy.deepcopy(STACK)
    if dim == 2:
        data["run"]["dimension"] = 2
        data["layers"][1]["orientation"] = "110"
        data["layers"].append({"name": "gas", "material": "vacuum", "thickness_nm": 3.0})
        data["mesh"] = {"size_nm": 0.8, "interface_size_nm": 0.25, "width_nm": 12.0,
                        "features": [{"type": "step", "layer": "template", "height_nm": 2.0,
                                      "x_nm": 6.0}]}
        data["time"].update(end_s=20.0, output_times_s=[10.0])
    return data


@pytest.mark.mpi
@pytest.mark.parametrize("dim", [1, 2])
def test_vacancy_transient_serial_and_two_ranks_agree(tmp_path, dim):
    cfg = tmp_path / f"stack_{dim}d.toml"
    cfg.write_text(tomli_w.dumps(_config(dim)))
    run_in_group(cfg, tmp_path / "serial", timeout=TIMEOUT_S)
    run_in_group(cfg, tmp_path / "mpi", np=2, timeout=TIMEOUT_S)
    serial, parallel = read_summary(tmp_path / "serial"), read_summary(tmp_path / "mpi")
    assert serial["mpi_size"] == 1 and parallel["mpi_size"] == 2
    assert serial["converged"] and parallel["converged"]
    a = assert_scalars_agree(serial, parallel, rel=1e-7)
    assert any(k.startswith("vacancies.inventory_per_m2.") for k in a)
    assert parallel["time"]["steps"] == serial["time"]["steps"]
