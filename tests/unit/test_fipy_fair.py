"""The fair FiPy comparison's analysis (benchmarks/fipy_fair.py, issue #26 item 5): Richardson
extrapolation from a halving mesh sequence and the time-to-target rule. Synthetic data with a
known limit and order; no FiPy and no dolfinx needed."""

from __future__ import annotations

import math
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import fipy_fair  # noqa: E402


def _runs(q_star: float, c: float, p: float, n: int = 4) -> list[dict]:
    """Inventories Q(h) = Q* + C h^p on h = 1, 1/2, 1/4...; time ~ cells."""
    out = []
    for k in range(n):
        h = 0.5**k
        q = q_star + c * h**p
        out.append({"mesh": [h, h / 10], "cells": 100 * 2**k, "time_s": 0.5 * 2**k,
                    "scalars": {"60": {"inventory_per_m2": {"film": q, "template": 2 * q}}}})
    return out


@pytest.mark.parametrize("p", [1.0, 2.0, 1.6])
def test_richardson_recovers_the_limit_and_the_order(p):
    ref = fipy_fair.richardson(_runs(1e18, 3e16, p))
    assert ref["order_median"] == pytest.approx(p, rel=1e-9)
    assert ref["inventory_per_m2"]["60"]["film"] == pytest.approx(1e18, rel=1e-12)
    assert ref["inventory_per_m2"]["60"]["template"] == pytest.approx(2e18, rel=1e-12)


def test_time_at_interpolates_and_flags_extrapolation():
    runs = _runs(1e18, 3e16, 2.0)
    ref = {"60": {"film": 1e18, "template": 2e18}}
    for r in runs:
        r["error"] = fipy_fair.inv_error(r["scalars"], ref)
    errors = [r["error"] for r in runs]
    assert errors == pytest.approx([0.03 * 0.25**k for k in range(4)], rel=1e-9)
    # between the 2nd and 3rd run (errors 7.5e-3, 1.9e-3): log-log interpolation, time ~ err^-1/2
    hit = fipy_fair.time_at(runs, 3e-3, 2.0)
    assert hit["how"] == "interpolated"
    assert hit["time_s"] == pytest.approx(1.0 * math.sqrt(7.5e-3 / 3e-3), rel=1e-9)
    # beyond the finest run (4.7e-4): cells from the order (N ~ err^-1/2 in 1D), time linear in N
    far = fipy_fair.time_at(runs, 4.6875e-4 / 16, 2.0)
    assert far["how"].startswith("extrapolated")
    assert far["cells"] == 800 * 4
    assert far["time_s"] == pytest.approx(4.0 * 4, rel=1e-9)
