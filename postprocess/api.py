"""Reading heterofem results: run directories, sweeps of runs, lines through fields, comparisons.

A *run directory* is what ``heterofem run`` writes: ``summary.json``, ``profiles.csv``,
``config.resolved.toml``, ``fields.pvd`` (+ ``.pvtu``/``.vtu`` per output time), and for
transient runs ``timeseries.csv``. A *sweep directory* holds run directories (one per value
of a swept parameter), optionally with the ``table.csv`` a series script writes.

    >>> from heterofem.postprocess import load_run, sample_line, compare_runs
    >>> run = load_run("results/demo")
    >>> run.summary["electrostatics"]["phi_max_V"]
    >>> run.profiles["phi_V"]                      # along z through the lateral centre
    >>> grid = run.fields()                        # last output time, a pyvista UnstructuredGrid
    >>> line = sample_line(run, (0.0, 16.0), (30.0, 16.0), n=200)   # 2D: (x, z) in nm
    >>> compare_runs([run, load_run("results/demo_np2")], "phi").max_abs_diff

Coordinates: a 1D run's field files hold z as the first coordinate, a 2D x-z run stores z as
the second (VTK y) coordinate, a 3D run is (x, y, z). :func:`sample_line` and
:meth:`Run.vtk_points` take physical coordinates (``(z,)``, ``(x, z)`` or ``(x, y, z)``)
and do the mapping. Nothing here needs MPI or a display; pyvista is imported only when
fields are read.

This module gathers the reading API; it lives in :mod:`.files` (the files of a run directory,
:class:`PlotError`), :mod:`.rundir` (:class:`Run`, :func:`load_run`, :func:`sample_line`),
:mod:`.compare` (:func:`compare_runs`) and :mod:`.sweep` (:class:`Sweep`, :func:`load_sweep`,
reference data). Every name stays importable from here.
"""

from __future__ import annotations

from heterofem.postprocess.compare import Comparison, compare_runs
from heterofem.postprocess.files import (
    PlotError,
    flat_scalars,
    is_root,
    pieces_of,
    quiet_vtk,
    read_csv_columns,
    unit_of,
)
from heterofem.postprocess.rundir import Layer, Run, load_run, sample_line, sample_points
from heterofem.postprocess.sweep import (
    Reference,
    Sweep,
    is_sweep_dir,
    load_sweep,
    problem_references,
    read_reference,
)

__all__ = [
    "Comparison", "Layer", "PlotError", "Reference", "Run", "Sweep", "compare_runs",
    "flat_scalars", "is_root", "is_sweep_dir", "load_run", "load_sweep", "pieces_of",
    "problem_references", "quiet_vtk", "read_csv_columns", "read_reference", "sample_line",
    "sample_points", "unit_of",
]
