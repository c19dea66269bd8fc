"""Shared test helpers: run the CLI (serially or under mpirun), build models through the Python
API (``heterofem.Simulation``; no test assembles config -> mesh -> Domain -> problem by hand),
and compare run results.

Fixtures: ``model_builder`` (:func:`build_model`), ``run_simulation`` (a
:class:`~heterofem.Simulation` run into ``tmp_path``). Helper modules of the tests import the
plain functions (``from conftest import build_model``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROBLEMS = REPO / "problems"
BIN = Path(sys.executable).parent


def mpirun_path() -> str | None:
    cand = BIN / "mpirun"
    return str(cand) if cand.exists() else shutil.which("mpirun")


def run_in_group(cfg: Path, out: Path, np: int | None = None, timeout: float = 120) -> None:
    """``heterofem run cfg --out out``, serially or under mpirun, in its own process group: on
    a timeout (a deadlock) the whole group (mpirun, its proxy and the ranks) is killed instead
    of left spinning, and the failure shows the end of run.log."""
    cmd = [sys.executable, "-m", "heterofem.solver.cli", "run", str(cfg), "--out", str(out)]
    if np is not None:
        mpirun = mpirun_path()
        if mpirun is None:
            pytest.fail("mpirun not found next to the Python interpreter or on PATH")
        cmd = [mpirun, "-n", str(np), sys.executable, "-m", "mpi4py", *cmd[1:]]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        log = (out / "run.log").read_text() if (out / "run.log").exists() else ""
        pytest.fail(f"{' '.join(cmd)} did not finish in {timeout} s (a deadlock? a collective "
                    "call skipped on a rank without cells of some layer); run.log ends:\n"
                    + log[-800:])
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{stdout}\n{stderr}"


def heterofem(*args: str, np: int | None = None, check: bool = True,
              timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the heterofem CLI in a subprocess (under ``mpirun -n np`` when np is given)."""
    cmd = [sys.executable, "-m", "heterofem.solver.cli", *args]
    if np is not None:
        mpirun = mpirun_path()
        if mpirun is None:
            pytest.fail("mpirun not found next to the Python interpreter or on PATH")
        cmd = [mpirun, "-n", str(np), sys.executable, "-m", "mpi4py", "-m",
               "heterofem.solver.cli", *args]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def read_summary(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "summary.json").read_text())


#: summary leaves that count solver work, not results: Newton stops on a residual norm, and on
#: a different partition the sums run in another order, so a solve that ends near its tolerance
#: may take one iteration more or less (CI saw 476 vs 475 over a 2D transient whose results agreed
#: to 1e-7). They must agree within ``SOLVER_WORK_SLACK``, not to ``rel``.
SOLVER_WORK = ("newton_iterations",)
SOLVER_WORK_SLACK = (2, 0.01)  #: at most max(2, 1 %) iterations apart


def solver_work(key: str) -> bool:
    """Whether a dotted summary key counts solver work (:data:`SOLVER_WORK`)."""
    return key.rsplit(".", 1)[-1] in SOLVER_WORK


def assert_solver_work_close(key: str, a: float, b: float) -> None:
    """Two solver-work counts of runs on different partitions agree within the slack."""
    assert abs(b - a) <= max(SOLVER_WORK_SLACK[0], SOLVER_WORK_SLACK[1] * abs(a)), (key, a, b)


def assert_scalars_agree(serial: dict, parallel: dict, rel: float) -> dict[str, float]:
    """Every numeric scalar of two summaries agrees to ``rel``, with an absolute floor of 1e-9
    of the largest value of the same group (the key without its last part: phi at a grounded
    facet is 0 beside volts elsewhere); solver-work counts (``SOLVER_WORK``) agree within
    ``SOLVER_WORK_SLACK``. Returns the serial run's flat scalars."""
    a, b = flat_scalars(serial), flat_scalars(parallel)
    assert a.keys() == b.keys()
    scale: dict[str, float] = {}
    for key, value in a.items():
        group = key.rsplit(".", 1)[0]
        scale[group] = max(scale.get(group, 0.0), abs(value))
    for key in a:
        if solver_work(key):
            assert_solver_work_close(key, a[key], b[key])
            continue
        group = scale[key.rsplit(".", 1)[0]]
        assert b[key] == pytest.approx(a[key], rel=rel, abs=1e-9 * group), key
    return a


def flat_scalars(d: dict, prefix: str = "") -> dict[str, float]:
    """Every numeric leaf of a summary, keyed by dotted path (no timings or versions)."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if k in ("timings_s", "wall_time_s", "mpi_size", "command_line"):
            continue
        if isinstance(v, dict):
            out.update(flat_scalars(v, key + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = float(v)
    return out


def newton_lu(rtol: float = 1e-12, atol: float = 1e-14, max_it: int = 20,
              linesearch: str | None = "basic") -> dict:
    """PETSc options of the verification tests' hand-built nonlinear problems: Newton with a
    direct (MUMPS) solve, so that the discretisation error, not the solver's, is measured."""
    opts = {"snes_type": "newtonls", "snes_rtol": rtol, "snes_atol": atol, "snes_max_it": max_it,
            "ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}
    if linesearch is not None:
        opts["snes_linesearch_type"] = linesearch
    return opts


def cli(*args: str):
    """Run the heterofem CLI in this process (fast: no interpreter start, no re-import);
    returns click's Result (``exit_code``, ``stdout``, ``stderr``, ``output``)."""
    from click.testing import CliRunner

    from heterofem.solver.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=True)


def snapshot_dir(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` with its bytes (an empty dict when it does not exist)."""
    path = Path(path)
    if not path.exists():
        return {}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


def assert_input_error(result, key: str, out: Path | None = None,
                       before: dict[str, bytes] | None = None) -> None:
    """The bad-input contract: exit status 2, a message naming ``key``, no traceback, and
    nothing written to ``out`` (or ``out`` left byte-identical to ``before``)."""
    text = (result.stdout or "") + (result.stderr or "")
    exc = result.exception
    assert result.exit_code == 2, (
        f"exit {result.exit_code}, expected 2:\n{text}\n"
        f"{'' if exc is None or isinstance(exc, SystemExit) else repr(exc)}")
    assert key in text, f"the message does not name {key!r}:\n{text}"
    assert "Traceback" not in text, text
    if out is not None:
        assert snapshot_dir(out) == (before or {}), f"{out} was changed"


# -- the Python API ------------------------------------------------------------------------------
def simulation(config, set=None):
    """A :class:`heterofem.Simulation` of ``config``: a ``Config`` (kept as it is, e.g. built
    with ``Config.model_validate``, which skips the cross-checks), a config dict, or a TOML
    path; ``set``: dotted keys to change (like ``--set``)."""
    from heterofem.solver.simulation import Simulation
    from heterofem.solver.config import Config

    if isinstance(config, Config):
        sim = Simulation.from_config(config)
        return sim.with_(set) if set else sim
    if isinstance(config, (str, os.PathLike)):
        return Simulation.from_toml(config, set=set)
    return Simulation.from_dict(config, set=set)


def build_model(config, set=None, **options):
    """The in-memory model of ``config`` (see :func:`simulation`): ``Simulation.build``, whose
    parts (``stack``, ``domain``, ``modules``, ``problem``) are made on first access.
    ``options``: ``stack`` (reuse a mesh), ``transient`` (default: as a run decides), ``comm``."""
    return simulation(config, set).build(**options)


@pytest.fixture
def model_builder():
    """:func:`build_model`: ``model_builder(cfg, transient=False).problem``."""
    return build_model


@pytest.fixture
def run_simulation(tmp_path):
    """Run a config through the Python API into ``tmp_path / name``; returns the
    :class:`heterofem.Simulation` (``.summary``, ``.fields``, ``.profiles``, ``.result``)."""

    def run(config, set=None, name: str = "run", **options):
        return simulation(config, set).run(tmp_path / name, **options)

    return run
