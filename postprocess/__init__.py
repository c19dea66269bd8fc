"""Post-processing of heterofem results: read run and sweep directories, sample fields, compare
runs, and draw them off-screen (line profiles, PyVista maps, sweep plots, animations).

    from heterofem.postprocess import load_run, sample_line, compare_runs, plot_run

See postprocess/README.md. Importing this package imports neither pyvista nor matplotlib;
they load when something is read or drawn.
"""

from heterofem.postprocess.api import (
    Comparison,
    Layer,
    PlotError,
    Reference,
    Run,
    Sweep,
    compare_runs,
    flat_scalars,
    is_root,
    is_sweep_dir,
    load_run,
    load_sweep,
    read_reference,
    sample_line,
    sample_points,
)
from heterofem.postprocess.plot import (
    animate_run,
    plot,
    plot_comparison,
    plot_map,
    plot_profiles,
    plot_run,
    plot_sweep,
    render_map,
)
from heterofem.postprocess.surface import plot_surface_potential

__all__ = [
    "Comparison", "Layer", "PlotError", "Reference", "Run", "Sweep", "animate_run",
    "compare_runs", "flat_scalars", "is_root", "is_sweep_dir", "load_run", "load_sweep", "plot",
    "plot_comparison", "plot_map", "plot_profiles", "plot_run", "plot_surface_potential",
    "plot_sweep", "read_reference", "render_map", "sample_line", "sample_points",
]
