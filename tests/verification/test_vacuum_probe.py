"""A biased probe over a vacuum gap with vacancies on (issue #20, item 5).

The vacancy charge (and every other material charge) is integrated over the layers that carry
it, never over vacuum: there theta(mu, phi) is no material law, and at a probe's potential the
derivative of its tanh is inf/inf (phi/kT past ~710, about 18 V at 300 K), which put NaN into
the Jacobian and failed every time step of a 30 V probe.

Analytic answer: with a negligible vacancy charge the stack is a series of capacitors
(dielectric layers of eps_zz and the gap of eps = 1, no free charge), so D = eps0 eps_i E_i is
the same in every layer and

    E_gap = V / (d_gap + sum_i d_i / eps_i),    phi(film/gap) = V - E_gap d_gap.

The 1D P1 solution of a charge-free piecewise-constant-eps problem is exact at the nodes, so
the only departures are the vacancy charge Q (per area) and the Newton tolerance: Q displaces
at most Q / eps0 of field from the gap (all of it enclosed below the gap), a relative change of
Q / (eps0 E_gap) (3e-7 here); the tolerance adds 1e-6 for the solver.
"""

from __future__ import annotations

import csv
import json
import math

import pytest

from conftest import cli

EPS0 = 8.8541878128e-12  # F/m

CONFIG = """
[run]
name = "vacuum_probe"
dimension = 1
temperature_K = 300.0

[[layers]]
name = "substrate"
material = "TiO2"
thickness_nm = 10.0
orientation = "001"
delta = 1e-10

[[layers]]
name = "film"
material = "TiO2"
thickness_nm = 4.0
orientation = "001"
delta = 1e-10

[[layers]]
name = "gap"
material = "vacuum"
thickness_nm = 5.0

[mesh]
size_nm = 0.5
interface_size_nm = 0.1
refine_distance_nm = 1.0

[physics]
vacancies = true
vacancy_statistics = "{statistics}"

[boundary.bottom]
phi_V = 0.0

[boundary.top]
phi_V = {bias}

[time]
end_s = 1.0
dt_initial_s = 0.1
"""


@pytest.mark.parametrize("statistics, bias", [("site-exclusion", 30.0), ("dilute", -30.0)])
def test_probe_over_vacuum_gap_solves_as_series_capacitor(tmp_path, statistics, bias):
    """30 V at 300 K (phi/kT ~ 1160 in the gap): the run converges, its profiles are finite,
    and the gap takes the drop like a capacitor in series with the dielectric layers. (The
    dilute law's exp overflows instead for a negative probe.)"""
    cfg = tmp_path / "probe.toml"
    cfg.write_text(CONFIG.format(statistics=statistics, bias=bias))
    out = tmp_path / "run"
    result = cli("run", str(cfg), "--out", str(out))
    summary = json.loads((out / "summary.json").read_text())
    assert result.exit_code == 0 and summary["converged"], result.output[-2000:]

    with open(out / "profiles.csv") as fh:
        rows = list(csv.DictReader(fh))
    # no material law is evaluated in the gap, also not for the output fields
    assert all(math.isfinite(float(v)) for r in rows for k, v in r.items() if k != "layer")
    eps = {r["layer"]: float(r["eps_zz"]) for r in rows}  # the solver's eps_zz per layer
    thick = {"substrate": 10.0, "film": 4.0, "gap": 5.0}
    assert eps["gap"] == 1.0
    e_gap = bias / sum(d / eps[name] for name, d in thick.items())  # V/nm
    phi_if = summary["electrostatics"]["phi_V"]["film/gap"]
    field_gap = (bias - phi_if) / thick["gap"]
    charge = abs(summary["electrostatics"]["net_charge_C_per_m2"])
    rel = charge / (EPS0 * abs(e_gap) * 1e9) + 1e-6
    assert field_gap == pytest.approx(e_gap, rel=rel)
    gap_rows = [r for r in rows if r["layer"] == "gap"]
    assert all(float(r["Ez_V_per_m"]) == pytest.approx(-e_gap * 1e9, rel=rel) for r in gap_rows)
