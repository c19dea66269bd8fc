"""Compare one field of two or more runs along z (e.g. a serial and an mpirun run, or two mesh
sizes) and draw the profiles and their differences.

    python postprocess/examples/compare_profiles.py RUN_A RUN_B [RUN_C ...] [--field phi]
                                                    [--time T] [--out compare.png] [--tol 1e-8]

Prints the largest |difference| of every run from RUN_A (absolute and relative to RUN_A's
largest |value|); exits with status 1 if one exceeds --tol (relative), so it can guard a
script.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from heterofem.postprocess import PlotError, compare_runs, is_root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--field", default="phi")
    parser.add_argument("--time", type=float, default=None)
    parser.add_argument("--out", type=Path, default=Path("compare.png"))
    parser.add_argument("--tol", type=float, default=None,
                        help="largest relative difference allowed")
    args = parser.parse_args(argv)
    if not is_root():  # under mpirun: rank 0 draws
        return 0
    if len(args.runs) < 2:
        parser.error("give two or more run directories")
    comp = compare_runs(args.runs, args.field, time=args.time, out=args.out)
    print(comp)
    print(f"wrote {args.out}")
    worst = max(comp.max_rel_diff.values())
    if args.tol is not None and worst > args.tol:
        print(f"relative difference {worst:.3g} exceeds --tol {args.tol:g}")
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except PlotError as exc:
        sys.exit(f"error: {exc}")
