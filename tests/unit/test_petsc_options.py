"""[solver.petsc_options] are checked before anything is written (issue #20, item 7): unknown
types and values PETSc cannot parse exit 2 naming the key, options PETSc never reads are an
error, and options that write files need --allow-petsc-output. Every case through ``validate``
and ``run`` of a fast 1D steady problem (in process)."""

from __future__ import annotations

import pytest

from conftest import PROBLEMS, assert_input_error, cli, read_summary

CONFIG = str(PROBLEMS / "ruo2_tio2_110_1d.toml")
KEY = "solver.petsc_options"
GOOD = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps",
        "snes_monitor": '""', "ksp_converged_reason": '""', "snes_converged_reason": '""'}


def _sets(options: dict) -> list[str]:
    return [arg for k, v in options.items() for arg in ("--set", f"{KEY}.{k}={v}")]


def _invoke(command: str, options: dict, tmp_path, *extra: str):
    """``heterofem validate|run CONFIG --set solver.petsc_options.KEY=VALUE ...``; returns
    (click result, the run directory a run would write)."""
    out = tmp_path / "out"
    args = [command, CONFIG, *_sets(options), *extra]
    if command == "run":
        args += ["--out", str(out)]
    return cli(*args), out


BAD = {
    "unknown type": ({"ksp_type": "bogus"}, "ksp_type", "Unable to find requested KSP type"),
    "unknown nested type": ({"fieldsplit_mu_pc_type": "gamgg"}, "fieldsplit_mu_pc_type",
                            "did you mean 'gamg'"),
    "unknown package": ({"pc_factor_mat_solver_type": "mumsp"}, "pc_factor_mat_solver_type",
                        "did you mean 'mumps'"),
    "unparsable integer": ({"snes_max_it": "lots"}, "snes_max_it", "no integer value"),
    "misspelt key": ({"ksp_tpye": "cg"}, "ksp_tpye", "did you mean 'ksp_type'"),
    "option of an unused solver": ({"ksp_gmres_restart": 50}, "ksp_gmres_restart", "never read"),
}


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("case", list(BAD))
def test_bad_option_exits_2_naming_it(case, command, tmp_path):
    """Each bad option: exit 2, one message naming solver.petsc_options.<key> with PETSc's
    reason or a suggestion, no traceback, no run directory."""
    options, key, reason = BAD[case]
    result, out = _invoke(command, options, tmp_path)
    assert_input_error(result, f"{KEY}.{key}", out)
    assert reason in result.output
    assert "1 problem" in result.output, result.output  # the bad option only


@pytest.mark.parametrize("command", ["validate", "run"])
def test_all_bad_options_reported_at_once(command, tmp_path):
    """A bad type, a bad value and a typo together: three messages, one pass."""
    options = {"ksp_type": "bogus", "snes_max_it": "lots", "ksp_tpye": "cg"}
    result, out = _invoke(command, options, tmp_path)
    assert_input_error(result, f"{KEY}.ksp_type", out)
    for key in options:
        assert f"{KEY}.{key}:" in result.output
    assert "3 problems" in result.output, result.output


@pytest.mark.parametrize("command", ["validate", "run"])
def test_file_output_needs_the_flag(command, tmp_path):
    """``ksp_view = ":file"`` writes a file: refused (naming the key and the flag) without
    --allow-petsc-output, and the file is not written."""
    view = tmp_path / "ksp_view.txt"
    result, out = _invoke(command, {"ksp_view": f":{view}"}, tmp_path)
    assert_input_error(result, f"{KEY}.ksp_view", out)
    assert "--allow-petsc-output" in result.output
    assert not view.exists()


def test_file_output_with_the_flag(tmp_path):
    """With --allow-petsc-output: validate passes and writes nothing (the trial solve views
    to nowhere); the run writes the view."""
    view = tmp_path / "ksp_view.txt"
    result, out = _invoke("validate", {"ksp_view": f":{view}"}, tmp_path, "--allow-petsc-output")
    assert result.exit_code == 0, result.output
    assert not view.exists() and not out.exists()
    result, out = _invoke("run", {"ksp_view": f":{view}"}, tmp_path, "--allow-petsc-output")
    assert result.exit_code == 0, result.output
    assert "KSP Object: (heterofem_)" in view.read_text()
    assert read_summary(out)["converged"] is True


@pytest.mark.parametrize("command", ["validate", "run"])
def test_good_options_pass(command, tmp_path):
    """A direct solver spelt out, monitors and reasons printed to the terminal: accepted."""
    result, out = _invoke(command, GOOD, tmp_path)
    assert result.exit_code == 0, result.output
    if command == "run":
        assert read_summary(out)["converged"] is True


def test_trial_solve_leaves_no_options_behind(tmp_path):
    """The trial solve's options leave PETSc's database as they found it, also when PETSc
    fails inside DOLFINx's set-up (which pushed the options prefix): a later option lands
    under its own name, and a later run is not affected."""
    from heterofem.solver.dolfinx_env import PETSc

    db = PETSc.Options()
    before = db.getAll()
    result, _ = _invoke("validate", {"snes_max_it": "lots", "snes_lag_jacobian": 5}, tmp_path)
    assert result.exit_code == 2, result.output
    result, _ = _invoke("validate", {"snes_max_it": 0, "snes_lag_jacobian": 5}, tmp_path)
    assert result.exit_code == 0, result.output
    assert db.getAll() == before
    db["heterofem_test_probe"] = 1
    try:
        assert "heterofem_test_probe" in db.getAll()  # no prefix left pushed
    finally:
        db.delValue("heterofem_test_probe")
    result, out = _invoke("run", {}, tmp_path)
    assert result.exit_code == 0, result.output
    assert read_summary(out)["converged"] is True


@pytest.mark.parametrize("key, value, writes", [
    ("ksp_view", ":/tmp/x.txt", True),
    ("ksp_view", "ascii:x.txt:ascii_info", True),
    ("ksp_view_mat", "binary", True),
    ("snes_view", "hdf5:x.h5", True),
    ("ksp_monitor", "", False),
    ("ksp_view", "::ascii_info", False),
    ("snes_monitor", True, False),
    ("log_view", "", True),
    ("ksp_type", "cg", False),
])
def test_writes_file(key, value, writes):
    from heterofem.solver.petsc_check import writes_file

    assert writes_file(key, value) is writes
