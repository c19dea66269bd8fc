"""Meshing at scale (issue #25, items 1 and 2): the structured mesher against
``dolfinx.mesh.create_rectangle``, and per-rank peak memory with and without parallel
refinement in 3D.

    .venv/bin/python benchmarks/meshing.py [--quick] [--no-gmsh] [--skip-memory]

1. **Meshing time** (one process): the 2D benchmark stack
   (benchmarks/configs/stack_tio2_vo2_tio2_2d_step.toml) without its step, meshed by
   ``[mesh] generator = "auto"`` (the structured mesher: graded grid, layer and facet tags)
   through ``heterofem.Simulation(...).build().stack``, against ``create_rectangle`` with the
   same number of triangles (no tags, no grading). Each timed twice, interleaved, best kept
   (the machine is shared). Goal: within 5x (Gmsh was 39x at 1e6 cells). With the Gmsh
   generator too (same stack at twice the size: its isotropic cells are ~4x as many; against
   create_rectangle at its own count) unless ``--no-gmsh``. Full: ~1e6 structured cells; ``--quick``: ~2.5e5.
2. **Per-rank peak memory in 3D** (``mpirun -n 2``): a flat 3-layer stack meshed at the fine
   size directly (rank 0 builds the whole grid) against meshed at twice the sizes with
   ``refine_levels = 1`` (the same cell count; rank 0 builds 1/8). Per rank: the peak
   resident memory during meshing above the resident memory before it (VmHWM after
   resetting it through /proc/self/clear_refs, minus VmRSS; Linux). Full: ~2e6
   tetrahedra; ``--quick``: ~3e5.

Writes benchmarks/results/meshing.{json,md} (``--quick`` too, labelled "quick sizes": the
committed numbers are quick ones, measured on the shared 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "configs" / "stack_tio2_vo2_tio2_2d_step.toml"
GOAL_RATIO = 5.0

LAYERS_3D = [{"name": "substrate", "material": "TiO2", "thickness_nm": 10.0},
             {"name": "template", "material": "VO2_R", "thickness_nm": 12.0},
             {"name": "film", "material": "TiO2", "thickness_nm": 6.0}]


def flat_stack(size_nm: float, generator: str):
    """The benchmark stack without its step, at ``size_nm`` (interface size / 4)."""
    import tomllib

    from heterofem import Simulation

    data = tomllib.loads(CONFIG.read_text())
    data["mesh"].pop("features", None)
    data["mesh"].update(size_nm=size_nm, generator=generator, max_cells=10**8)
    return Simulation.from_dict(data)


def time_stack(size_nm: float, generator: str) -> tuple[float, int]:
    sim = flat_stack(size_nm, generator)
    model = sim.build(transient=False)
    t0 = time.perf_counter()
    stack = model.stack
    elapsed = time.perf_counter() - t0
    return elapsed, stack.mesh.topology.index_map(2).size_global


def time_rectangle(cells: int) -> float:
    import math

    from heterofem.solver.dolfinx_env import MPI, dolfinx

    n = max(1, round(math.sqrt(cells / 2)))
    t0 = time.perf_counter()
    dolfinx.mesh.create_rectangle(MPI.COMM_WORLD, [[0.0, 0.0], [1.0, 1.0]], [n, n])
    return time.perf_counter() - t0


def meshing_time(size_nm: float, gmsh_size_nm: float | None) -> dict:
    time_rectangle(1000)  # imports and first-call costs out of the timings
    time_stack(4.0, "structured")
    structured, rect = [], []
    for _ in range(2):
        t, cells = time_stack(size_nm, "structured")
        structured.append(t)
        rect.append(time_rectangle(cells))
    out = {"size_nm": size_nm, "cells": cells, "structured_s": min(structured),
           "create_rectangle_s": min(rect), "ratio": min(structured) / min(rect)}
    if gmsh_size_nm:
        t, gcells = time_stack(gmsh_size_nm, "gmsh")
        r = time_rectangle(gcells)
        out.update(gmsh_size_nm=gmsh_size_nm, gmsh_cells=gcells, gmsh_s=t,
                   gmsh_rectangle_s=r, gmsh_ratio=t / r)
    return out


MEMORY_SCRIPT = r"""
import json, sys, time
from heterofem import Simulation
from heterofem.solver.dolfinx_env import MPI

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0  # MiB
data = json.loads(sys.argv[1])
model = Simulation.from_dict(data).build(transient=False)
try:  # reset the peak (VmHWM) to the current resident size (Linux >= 4.0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
before = status("VmRSS")
t0 = time.perf_counter()
stack = model.stack
elapsed = time.perf_counter() - t0
peak = status("VmHWM")
rows = MPI.COMM_WORLD.gather({"rank": MPI.COMM_WORLD.rank, "before_mib": before,
                              "peak_mib": peak, "meshing_mib": peak - before}, root=0)
cells = stack.mesh.topology.index_map(3).size_global
if MPI.COMM_WORLD.rank == 0:
    print("MEMORY " + json.dumps({"cells": cells, "time_s": elapsed, "ranks": rows}))
"""


ISLAND = {"type": "island", "layer": "template", "height_nm": 2.0, "width_nm": 8.0,
          "depth_nm": 8.0}


def memory_case(size_nm: float, levels: int, ranks: int, width_nm: float,
                island: bool) -> dict:
    data = {"run": {"dimension": 3}, "layers": LAYERS_3D,
            "mesh": {"size_nm": size_nm, "width_nm": width_nm, "depth_nm": width_nm,
                     "refine_levels": levels, "max_cells": 10**8,
                     "features": [ISLAND] if island else []}}
    mpirun = Path(sys.executable).parent / "mpirun"
    cmd = [str(mpirun), "-n", str(ranks), sys.executable, "-c", MEMORY_SCRIPT, json.dumps(data)]
    run = subprocess.run(cmd, capture_output=True, text=True, check=True)
    line = next(ln for ln in run.stdout.splitlines() if ln.startswith("MEMORY "))
    return {"size_nm": size_nm, "refine_levels": levels,
            "mesher": "gmsh (island)" if island else "structured",
            **json.loads(line[len("MEMORY "):])}


def memory(quick: bool, sizes: list[float] | None = None) -> dict:
    """Gmsh (an island: rank 0 builds the whole model) and structured (DOLFINx's create_box
    builds its cells distributed already), each at the fine size directly and at twice it
    with one level of parallel refinement. ``sizes``: (Gmsh, structured) fine sizes [nm]."""
    gmsh_size, size, width = (1.2, 0.8, 24.0) if quick else (0.8, 0.5, 32.0)
    if sizes:
        gmsh_size, size = sizes
    return {"gmsh-direct": memory_case(gmsh_size, 0, 2, width, True),
            "gmsh-refined": memory_case(2 * gmsh_size, 1, 2, width, True),
            "structured-direct": memory_case(size, 0, 2, width, False),
            "structured-refined": memory_case(2 * size, 1, 2, width, False)}


def report(res: dict) -> list[str]:
    t = res["time"]
    met = "MET" if t["ratio"] <= GOAL_RATIO else "NOT MET"
    lines = [f"**Meshing within {GOAL_RATIO:g}x of create_rectangle: {met}**: structured "
             f"{t['structured_s']:.2f} s for {t['cells']} cells (tags and grading included), "
             f"create_rectangle {t['create_rectangle_s']:.2f} s for the same count: "
             f"{t['ratio']:.1f}x."]
    if "gmsh_s" in t:
        lines.append(f"Gmsh on the same stack at {t['gmsh_size_nm']:g} nm: {t['gmsh_s']:.2f} s for "
                     f"{t['gmsh_cells']} cells, {t['gmsh_ratio']:.1f}x create_rectangle at "
                     "its count.")
    if "memory" in res:
        m = res["memory"]
        for name, case in m.items():
            per_rank = ", ".join(f"rank {r['rank']} {r['meshing_mib']:.0f} MiB"
                                 for r in case["ranks"])
            lines.append(f"3D {name} ({case['mesher']}, size {case['size_nm']:g} nm, "
                         f"refine_levels {case['refine_levels']}, {case['cells']} cells, "
                         f"2 ranks, {case['time_s']:.1f} s): meshing peak above the resident "
                         f"memory before it: {per_rank}.")
        for mesher in ("gmsh", "structured"):
            peak = [max(r["meshing_mib"] for r in m[f"{mesher}-{k}"]["ranks"])
                    for k in ("direct", "refined")]
            cells = [m[f"{mesher}-{k}"]["cells"] for k in ("direct", "refined")]
            total = [max(r["peak_mib"] for r in m[f"{mesher}-{k}"]["ranks"])
                     for k in ("direct", "refined")]
            lines.append(f"**{mesher}: largest per-rank meshing peak {peak[0]:.0f} MiB direct, "
                         f"{peak[1]:.0f} MiB with refine_levels = 1 "
                         f"({peak[0] / max(peak[1], 1e-9):.2f}x; per cell "
                         f"{peak[0] / cells[0] / max(peak[1] / cells[1], 1e-12):.2f}x, "
                         f"{cells[0]} vs {cells[1]} cells)**; largest per-rank peak resident "
                         f"memory (imports and model included) {total[0]:.0f} vs "
                         f"{total[1]:.0f} MiB.")
        if res.get("load_average"):
            lines.append("1-minute load average on the 2 cores when the memory part started / "
                         f"ended: {res['load_average'][0]:.1f} / {res['load_average'][1]:.1f} "
                         "(memory, not time, is measured there).")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller meshes (~1 min)")
    parser.add_argument("--no-gmsh", action="store_true", help="skip the Gmsh timing")
    parser.add_argument("--skip-memory", action="store_true", help="skip the 3D memory part")
    parser.add_argument("--memory-only", action="store_true",
                        help="only the 3D memory part (the timing kept from meshing.json)")
    parser.add_argument("--memory-sizes", type=float, nargs=2, metavar=("GMSH_NM", "STRUCT_NM"),
                        help="fine sizes of the 3D memory part (full: 0.8 0.5; quick: 1.2 0.8)")
    args = parser.parse_args()
    size = 0.12 if args.quick else 0.06
    gmsh_size = None if args.no_gmsh else 2 * size  # Gmsh's isotropic cells: ~4x as many
    previous = HERE / "results" / "meshing.json"
    if args.memory_only and previous.exists():
        old = json.loads(previous.read_text())
        res = {"quick": old.get("quick", False), "time": old["time"]}
    else:
        res = {"quick": args.quick, "time": meshing_time(size, gmsh_size)}
    if not args.skip_memory:
        import os

        load0 = os.getloadavg()[0]
        res["memory"] = memory(args.quick, args.memory_sizes)
        res["memory_quick"] = args.quick and not args.memory_sizes
        res["load_average"] = [load0, os.getloadavg()[0]]
    lines = report(res)
    out = HERE / "results"  # quick results too (labelled): the ones committed here are quick
    out.mkdir(parents=True, exist_ok=True)
    (out / "meshing.json").write_text(json.dumps(res, indent=2))
    title = "# Meshing (issue #25)" + (" -- timing at quick sizes" if res["quick"] else "")
    if "memory" in res:
        title += " -- 3D memory at " + ("quick sizes" if res["memory_quick"] else "full sizes")
    (out / "meshing.md").write_text("\n\n".join([title, *lines]) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
