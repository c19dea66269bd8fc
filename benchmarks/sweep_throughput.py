"""Throughput of a 16-case 1D sweep under `mpirun -n 2` (K = 1) against running the same cases
one after another in separate processes. Goal: >= 1.8x.

    .venv/bin/python benchmarks/sweep_throughput.py [--cases 16] [--np 2]

Writes benchmarks/results/sweep_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CONFIG = HERE.parent / "problems" / "tio2_vo2_tio2_001_vacancies_1d.toml"
SETS = ["--set", "time.end_s=600", "--set", "time.output_times_s=[]", "--set", "output.fields=false",
        "--set", "output.mesh=false"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=16)
    parser.add_argument("--np", type=int, default=2)
    args = parser.parse_args()
    deltas = np.linspace(0.01, 0.05, args.cases)
    bindir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # warm the form cache so neither side pays the JIT
        subprocess.run([sys.executable, "-m", "heterofem.solver.cli", "run", str(CONFIG), "--out",
                        str(tmp / "warm"), *SETS], check=True, capture_output=True)
        t0 = time.perf_counter()
        for i, d in enumerate(deltas):
            subprocess.run([sys.executable, "-m", "heterofem.solver.cli", "run", str(CONFIG),
                            "--out", str(tmp / f"seq_{i}"), *SETS, "--set",
                            f"layers.film.delta={d}"], check=True, capture_output=True)
        sequential = time.perf_counter() - t0
        values = "[" + ", ".join(f"{d:.6g}" for d in deltas) + "]"
        t0 = time.perf_counter()
        subprocess.run([str(bindir / "mpirun"), "-n", str(args.np), sys.executable, "-m",
                        "heterofem.solver.cli", "sweep", str(CONFIG), "--param",
                        f"layers.film.delta={values}", "--ranks-per-case", "1", "--out",
                        str(tmp / "sweep"), *SETS], check=True, capture_output=True)
        swept = time.perf_counter() - t0
    result = {"cases": args.cases, "ranks": args.np, "sequential_s": sequential,
              "sweep_s": swept, "speedup": sequential / swept}
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "sweep_throughput.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
