"""The electrostatic potential of a 2D/3D run as a map, and along a lateral line through a layer.

    python postprocess/examples/plot_potential_map.py RUN_DIR [--field phi] [--layer film]
                                                          [--out potential.png]

Writes OUT (the PyVista map, off-screen) and OUT's stem + "_lateral.png": the field along x
at mid-height of --layer (default: the layer with a mesh feature, else the second layer), the
line sampled with heterofem.postprocess.sample_line. A 1D run gets its profile along z.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from heterofem.postprocess import (
    PlotError,
    is_root,
    load_run,
    plot_profiles,
    render_map,
    sample_line,
)


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--field", default="phi")
    parser.add_argument("--layer", default=None,
                        help="layer whose mid-height the lateral line follows")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if not is_root():  # under mpirun: rank 0 draws
        return []

    run = load_run(args.run_dir)
    out = args.out or run.path / f"{args.field}_potential.png"
    if run.dimension == 1:
        path = plot_profiles(run, out, [args.field])
        print(f"1D run: the profile along z -> {path}")
        return [path]

    # the map: render_map gives the plotter, so a picture can be adjusted before it is saved
    plotter, info = render_map(run, args.field)
    plotter.screenshot(str(out))
    plotter.close()
    print(f"{info['label']}: {info['clim'][0]:.4g} .. {info['clim'][1]:.4g} -> {out}")

    # a lateral line at mid-height of a layer
    features = run.config.get("mesh", {}).get("features", [])
    default = features[0]["layer"] if features else run.layers[min(1, len(run.layers) - 1)].name
    name = args.layer or default
    layer = next((lay for lay in run.layers if lay.name == name), None)
    if layer is None:
        raise PlotError(f"no layer '{name}'; layers: {', '.join(lay.name for lay in run.layers)}")
    zc = 0.5 * (layer.z_bottom_nm + layer.z_top_nm)
    width = run.config["mesh"]["width_nm"]
    start, end = ((0.0, zc), (width, zc)) if run.dimension == 2 else \
        ((0.0, run.lateral_centre_nm[1], zc), (width, run.lateral_centre_nm[1], zc))
    line = sample_line(run, start, end, n=400, fields=[args.field])
    column = info["array"]

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.plot(line["x_nm"], line[column], color="k")
    ax.set_xlabel("x [nm]")
    ax.set_ylabel(run.label(column))
    ax.set_title(f"{run.name}: along x at z = {zc:g} nm (mid-{name})", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    lateral = out.with_name(out.stem + "_lateral.png")
    fig.savefig(lateral, dpi=130)
    plt.close(fig)
    finite = np.isfinite(line[column])
    print(f"along x at z = {zc:g} nm: {np.nanmin(line[column][finite]):.4g} .. "
          f"{np.nanmax(line[column][finite]):.4g} -> {lateral}")
    return [out, lateral]


if __name__ == "__main__":
    try:
        main()
    except PlotError as exc:
        sys.exit(f"error: {exc}")
