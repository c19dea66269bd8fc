#!/usr/bin/env python3
"""Compare two heterofem summary.json files: every numeric (and boolean) leaf must agree.

    python3 containers/compare_summaries.py A/summary.json B/summary.json [--rel 1e-8] [--abs 1e-12]

Numbers agree when |a - b| <= rel * max(|a|, |b|) or |a - b| <= abs (the absolute floor is for
quantities that are zero up to round-off, e.g. a net charge of 1e-16 C/m^2). Booleans
(`converged`) must be equal. Leaves whose key is a timing, a version or the command line are
skipped (timings_s, wall_time_s, command_line, *_version, git_commit), as are strings; more keys
with --ignore KEY. A leaf present in one file only is a difference. Exit status 0 when they
agree, 1 when they don't, 2 on bad input. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

SKIP = {"timings_s", "wall_time_s", "command_line", "git_commit"}


def skipped(key: str, extra: set[str]) -> bool:
    return key in SKIP or key in extra or key.endswith("_version")


def leaves(node, path: str, extra: set[str], out: dict) -> dict:
    """Numeric and boolean leaves of a JSON tree, keyed by dotted path (list items by index)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if not skipped(str(k), extra):
                leaves(v, f"{path}.{k}" if path else str(k), extra, out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            leaves(v, f"{path}[{i}]", extra, out)
    elif isinstance(node, bool):
        out[path] = node
    elif isinstance(node, (int, float)):
        out[path] = float(node)
    return out


def compare(a: dict, b: dict, rel: float, atol: float) -> tuple[list[str], float]:
    """The differences beyond tolerance, and the largest relative difference seen."""
    problems, worst = [], 0.0
    for key in sorted(set(a) | set(b)):
        if key not in a or key not in b:
            problems.append(f"{key}: only in {'first' if key in a else 'second'}")
            continue
        x, y = a[key], b[key]
        if isinstance(x, bool) or isinstance(y, bool):
            if x is not y:
                problems.append(f"{key}: {x} != {y}")
            continue
        if math.isnan(x) or math.isnan(y):
            if not (math.isnan(x) and math.isnan(y)):
                problems.append(f"{key}: {x!r} != {y!r}")
            continue
        diff = abs(x - y)
        if diff > atol:
            worst = max(worst, diff / max(abs(x), abs(y)))
        if diff > atol and diff > rel * max(abs(x), abs(y)):
            scale = max(abs(x), abs(y))
            problems.append(f"{key}: {x!r} != {y!r} (rel {diff / scale:.3g})")
    return problems, worst


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("first", type=Path, help="summary.json (or its run directory)")
    p.add_argument("second", type=Path, help="summary.json (or its run directory)")
    p.add_argument("--rel", type=float, default=1e-8, help="relative tolerance (default 1e-8)")
    p.add_argument("--abs", dest="atol", type=float, default=1e-12,
                   help="absolute floor for round-off-sized values (default 1e-12)")
    p.add_argument("--ignore", action="append", default=[], metavar="KEY",
                   help="also skip leaves under this key (repeatable)")
    args = p.parse_args(argv)
    trees = []
    for f in (args.first, args.second):
        f = f / "summary.json" if f.is_dir() else f
        try:
            trees.append(json.loads(f.read_text()))
        except (OSError, ValueError) as e:
            print(f"compare_summaries: cannot read {f}: {e}", file=sys.stderr)
            return 2
    extra = set(args.ignore)
    a, b = (leaves(t, "", extra, {}) for t in trees)
    problems, worst = compare(a, b, args.rel, args.atol)
    if problems:
        print(f"compare_summaries: {len(problems)} of {len(set(a) | set(b))} values differ "
              f"(rel {args.rel:g}, abs {args.atol:g}):")
        for line in problems:
            print("  " + line)
        return 1
    print(f"compare_summaries: {len(a)} values agree (rel {args.rel:g}, abs {args.atol:g}; "
          f"largest relative difference {worst:.2g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
