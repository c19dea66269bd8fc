"""The work function of the free surface, from the solved electrostatics.

The stack is grounded (Fermi level E_F = 0) and a vacuum layer sits on top of it. With a free
(zero normal field) top facet the potential in the vacuum far above a laterally uniform
surface is constant, phi_vac, and the vacuum level is E_vac = -q phi_vac. The work function
Phi = E_vac - E_F is split into

    Phi = W_top + dPhi_band + dPhi_charges + dPhi_pol

- W_top: the intrinsic work function of the top solid material (``work_function``);
- dPhi_band: band alignment of an ultrathin film with its substrate (``[workfunction]
  band_alignment``): "none", or "exponential": (W_substrate - W_top) exp(-t/l), so a film much
  thinner than l shows the substrate's value and a thick one its own (l =
  ``band_alignment_length_nm``, a parameter to calibrate); or "linear": (W_substrate - W_top)
  max(0, 1 - t/l), the baseline the RuO2/TiO2 paper subtracts (TiO2 value at t = 0 to the
  thickest film's at l = 17.2 nm): its "polarization-induced part" is defined against it;
- dPhi_charges = -phi_vac,ref: the vacuum-level shift of every charge except the polarization
  (vacancies, electrons, fixed charges, screening), phi_vac,ref being the potential solved
  with the polarization's bound charge removed and everything else frozen;
- dPhi_pol = -(phi_vac - phi_vac,ref): the part the polarization and its screening produce.

All from solved fields: the potential is evaluated, never a fitted curve. In 2D/3D the local
vacuum level along a line (2D) or plane (3D) at ``probe_height_nm`` above the highest surface
point gives a KPFM-like surface-potential map: this module computes the numbers (summary.json
gets its range), :mod:`heterofem.postprocess.surface` writes them to
``surface_potential.csv`` and draws ``surface_potential.png``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from heterofem.postprocess.surface import write_surface_map


def top_solid(cfg):
    return [lay for lay in cfg.layers if lay.material != "vacuum"][-1]


def band_alignment(cfg, materials) -> float:
    wf = cfg.workfunction
    if wf.band_alignment == "none":
        return 0.0
    solid = [lay for lay in cfg.layers if lay.material != "vacuum"]
    film, substrate = solid[-1], solid[0]
    w_top = materials[film.material].value("work_function", "eV")
    w_sub = materials[substrate.material].value("work_function", "eV")
    t, length = film.thickness_nm, wf.band_alignment_length_nm
    if wf.band_alignment == "linear":
        return (w_sub - w_top) * max(0.0, 1.0 - t / length)
    return (w_sub - w_top) * math.exp(-t / length)


def work_function(problem, out: Path) -> dict:
    """Phi and its parts (summary.json -> ``work_function``); writes the surface map in
    2D/3D. Collective."""
    domain = problem.domain
    cfg = domain.cfg
    top = top_solid(cfg)
    w_top = domain.materials[top.material].value("work_function", "eV")
    phi = problem.u["phi"]
    has_pol = "polarization" in problem.modules
    ref = problem.potential_without("polarization") if has_pol else phi
    height = cfg.total_thickness_nm
    pts = domain.centre_line(2)[:1].copy()
    pts[0, domain.dim - 1] = height
    phi_vac = float(domain.evaluate(phi, pts)[0])
    phi_ref = float(domain.evaluate(ref, pts)[0])
    d_band = band_alignment(cfg, domain.materials)
    result = {
        "top_material": top.material,
        "intrinsic_eV": w_top,
        "band_alignment_eV": d_band,
        "charges_eV": -phi_ref,
        "polarization_eV": -(phi_vac - phi_ref),
        "phi_vacuum_V": phi_vac,
        "work_function_eV": w_top + d_band - phi_vac,
    }
    if domain.dim >= 2:
        result["surface_map"] = _surface_map(domain, phi, w_top + d_band, out)
    return result


def _surface_map(domain, phi, w0: float, out: Path) -> dict:
    """Local vacuum level above the surface along x (2D) or over x-y (3D): its range for
    summary.json; the samples go to ``surface_potential.csv`` and ``.png`` (rank 0 writes
    them through :func:`heterofem.postprocess.surface.write_surface_map`). Collective."""
    cfg = domain.cfg
    probe = cfg.workfunction.probe_height_nm
    surface = max(b for (_, b), lay in zip(cfg.layer_bounds_nm(), cfg.layers)
                  if lay.material != "vacuum")
    surface += max([f.height_nm for f in cfg.mesh.features] + [0.0])
    z = min(surface + probe, cfg.total_thickness_nm) if probe is not None else cfg.total_thickness_nm
    n = 201 if domain.dim == 2 else 41
    x = np.linspace(0.0, cfg.mesh.width_nm, n)
    if domain.dim == 2:
        pts = np.column_stack([x, np.full(n, z), np.zeros(n)])
        cols = {"x_nm": x}
    else:
        y = np.linspace(0.0, cfg.mesh.depth_nm, n)
        X, Y = np.meshgrid(x, y, indexing="ij")
        pts = np.column_stack([X.ravel(), Y.ravel(), np.full(X.size, z)])
        cols = {"x_nm": X.ravel(), "y_nm": Y.ravel()}
    values = domain.evaluate(phi, pts)
    cols["phi_V"] = values
    cols["work_function_eV"] = w0 - values
    if domain.comm.rank == 0:
        write_surface_map(out, cols, domain.dim, z)
    wf = np.asarray(cols["work_function_eV"])
    return {"probe_z_nm": z, "min_eV": float(np.nanmin(wf)), "max_eV": float(np.nanmax(wf)),
            "contrast_eV": float(np.nanmax(wf) - np.nanmin(wf))}

