"""Local truncation-error control of the time step (issue #20, item 6).

Without it a transient's answer depended on the first step guessed: dt_initial_s = 100 s with
solver.max_it = 8 converged every step but left the film's mean delta of the TiO2/VO2/TiO2
stack a third below the small-step answer (here 2.6e-5 against 3.9e-5 at 600 s; 1.7e-5 from
dt_initial_s = 1e-3, whose steps grow to 120 s unchecked). With the
predictor-corrector estimate (solver/stepping.py) bounding each step's relative error of the
vacancy concentration by time.error_tolerance (tol):

- two first guesses 1e5 apart take different first steps (one is cut by the estimate, the
  other doubled) but then follow the same error-controlled path: their answers agree to a
  small multiple of tol (measured 5.5e-4 relative, tol = 1e-3);
- both are within the global bound of a small-step reference: each accepted step adds at most
  tol (relative, to c) and the film's emptying does not amplify earlier errors, so the error
  after N steps is at most N tol (measured 1.4 % after ~160 steps, against a bound of ~16 %;
  without control 33 % and 57 % off).

The reference takes fixed 2 s BDF2 steps without the estimate (BDF2's own error at that step:
about 0.1 %, from the 1 s and 5 s steps' difference on the finer mesh).
"""

from __future__ import annotations

import json

import pytest

from conftest import PROBLEMS, cli

CONFIG = str(PROBLEMS / "tio2_vo2_tio2_001_vacancies_1d.toml")
COMMON = ["--set", "mesh.size_nm=0.5", "--set", "time.end_s=600",
          "--set", "time.output_times_s=[]", "--set", "output.fields=false"]


def _film_delta(tmp_path, name: str, *sets: str) -> tuple[float, dict]:
    out = tmp_path / name
    args = ["run", CONFIG, "--out", str(out), *COMMON]
    for s in sets:
        args += ["--set", s]
    result = cli(*args)
    summary = json.loads((out / "summary.json").read_text())
    assert result.exit_code == 0 and summary["converged"], result.output[-2000:]
    return summary["vacancies"]["mean_delta"]["film"], summary["time"]


@pytest.mark.slow
def test_answer_does_not_depend_on_the_first_step(tmp_path):
    ref, _ = _film_delta(tmp_path, "ref", "time.error_control=false",
                         "time.dt_initial_s=2.0", "time.dt_max_s=2.0")
    small, stats_small = _film_delta(tmp_path, "small", "time.dt_initial_s=1e-3")
    large, stats_large = _film_delta(tmp_path, "large", "time.dt_initial_s=100",
                                     "solver.max_it=8")
    tol = 1e-3  # the default of time.error_tolerance
    print(f"film delta: reference {ref:.6g}, dt_initial 1e-3 s {small:.6g}, 100 s {large:.6g}")
    assert abs(small - large) <= 2 * tol * ref
    for value, stats in ((small, stats_small), (large, stats_large)):
        assert abs(value - ref) <= stats["steps"] * tol * ref
        assert abs(value - ref) <= 0.05 * ref  # the issue: 22 % (here 33 %) without control
    assert stats_large["error_rejected_steps"] > 0  # the 100 s guess was cut by the estimate
