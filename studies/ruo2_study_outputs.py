"""The outputs of the RuO2/TiO2(110) study, read from its runs (``reduce`` functions of
:func:`heterofem.studies.uncertainty_models.runs_model`).

Bilayer (a thickness series of problems/ruo2_tio2_110_polar_1d.toml): the work-function curve
Phi(t) and its features, the polarization-induced part at the peak, the retained misfit at the
RSM thicknesses and the computed critical thickness. Trilayer
(problems/tio2_ruo2_tio2_110_trilayer_1d.toml): the polar displacement (its profile from
profiles.csv: peak, value at the top surface and in the substrate), the sign of P at the two
RuO2/TiO2 interfaces, and the compensated interfacial layer (docs/model.md defines the measure;
read from summary.json). A run that failed gives NaN.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

NAN = float("nan")


def first(row: dict, *keys: str) -> float:
    """The first of ``keys`` the row has (summary scalars by dotted key), else NaN."""
    for k in keys:
        v = row.get(k)
        if v is not None and v != "" and not (isinstance(v, float) and math.isnan(v)):
            return float(v)
    return NAN


def ok(row: dict) -> bool:
    return row.get("status", "ok") != "failed"


def curve_minimum(t: np.ndarray, y: np.ndarray, after: int) -> tuple[float, float]:
    """(t, y) of the lowest point of y beyond index ``after``, refined by the parabola through
    it and its neighbours (non-uniform grid); NaN when the lowest point is the last one (no
    interior minimum) or there is none."""
    if after >= len(y) - 1 or not np.isfinite(y[after:]).all():
        return NAN, NAN
    i = after + int(np.argmin(y[after:]))
    if i >= len(y) - 1 or i <= after:
        return NAN, NAN
    (x0, x1, x2), (y0, y1, y2) = t[i - 1:i + 2], y[i - 1:i + 2]
    a = np.polyfit([x0, x1, x2], [y0, y1, y2], 2)
    if a[0] <= 0:
        return float(x1), float(y1)
    tv = -a[1] / (2 * a[0])
    tv = min(max(tv, x0), x2)
    return float(tv), float(np.polyval(a, tv))


def bilayer_outputs(rows: list[dict]) -> dict:
    """Outputs of one sample's thickness series (rows sorted by the scanned thickness)."""
    rows = sorted(rows, key=lambda r: r["scan"])
    t = np.array([float(r["scan"]) for r in rows])
    phi = np.array([first(r, "work_function.work_function_eV") if ok(r) else NAN
                    for r in rows])
    pol = np.array([first(r, "work_function.polarization_eV") if ok(r) else NAN for r in rows])
    out: dict = {"phi_curve_eV": phi, "pol_curve_eV": pol}
    for tk in (1.5, 3.5, 17.2):
        j = np.flatnonzero(np.isclose(t, tk))
        out[f"phi_{tk:g}nm_eV"] = float(phi[j[0]]) if j.size else NAN
    if np.isfinite(phi).all():
        ip = int(np.argmax(phi))
        out["t_peak_nm"], out["phi_peak_eV"] = float(t[ip]), float(phi[ip])
        out["t_min_nm"], out["phi_min_eV"] = curve_minimum(t, phi, ip)
        out["modulation_eV"] = float(phi.max() - phi.min())
        out["t_lowest_nm"] = float(t[int(np.argmin(phi))])
        # the paper's measure: the largest polarization-induced part (Phi minus its linear
        # baseline) over the series, and where it is
        jp = int(np.argmax(pol))
        out["pol_part_peak_eV"], out["t_pol_peak_nm"] = float(pol[jp]), float(t[jp])
    else:
        out.update(t_peak_nm=NAN, t_lowest_nm=NAN, t_pol_peak_nm=NAN, phi_peak_eV=NAN,
                   t_min_nm=NAN, phi_min_eV=NAN,
                   modulation_eV=NAN, pol_part_peak_eV=NAN)
    by_t = {float(r["scan"]): r for r in rows}
    for key, tk, axis in (("retained_x_4nm", 4.0, "x"), ("retained_x_6.5nm", 6.5, "x"),
                          ("retained_y_17.2nm", 17.2, "y")):
        r = by_t.get(tk)
        out[key] = first(r, f"strain.film.retained_{axis}",
                         f"polarization.strain.film.retained_{axis}") if r else NAN
    r0 = rows[0]
    out["hc_x_nm"] = first(r0, "strain.film.critical_thickness_x_nm")
    out["hc_y_nm"] = first(r0, "strain.film.critical_thickness_y_nm")
    r35 = by_t.get(3.5)
    out["t_comp_bilayer_nm"] = _compensated(r35, ("substrate/film",)) if r35 else NAN
    return out


def _compensated(row: dict, facets: tuple[str, ...]) -> float:
    """The compensated interfacial layer thickness docs/model.md defines, summed over the
    RuO2/TiO2 facets (summary ``polarization.interfaces.<facet>.interfacial_layer_thickness_nm``);
    NaN when the run has none."""
    if not ok(row):
        return NAN
    parts = [first(row, f"polarization.interfaces.{f}.interfacial_layer_thickness_nm")
             for f in facets]
    return float(sum(parts)) if all(map(math.isfinite, parts)) else NAN


def read_profile(run_dir: str | Path, column: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(z_nm, column, layer names) of a run's profiles.csv."""
    z, v, lay = [], [], []
    with open(Path(run_dir) / "profiles.csv", newline="") as fh:
        for rec in csv.DictReader(fh):
            z.append(float(rec["z_nm"]))
            v.append(float(rec.get(column) or 0.0))
            lay.append(rec.get("layer", ""))
    return np.array(z), np.array(v), lay


def trilayer_outputs(rows: list[dict]) -> dict:
    """Outputs of one sample's trilayer run."""
    row = rows[0]
    keys = ("u_plane_pm", "u_top_ratio", "u_substrate_ratio", "P_lower_C_per_m2",
            "P_upper_C_per_m2",
            "opposite_P", "t_comp_trilayer_nm", "phi_trilayer_eV")
    if not ok(row):
        return dict.fromkeys(keys, NAN)
    p_lo = first(row, "polarization.interfaces.buffer/film.P_C_per_m2")
    p_up = first(row, "polarization.interfaces.film/cap.P_C_per_m2")
    z_lo = first(row, "polarization.interfaces.buffer/film.z_nm")
    out = {"P_lower_C_per_m2": p_lo, "P_upper_C_per_m2": p_up,
           "opposite_P": float(-np.sign(p_lo * p_up)) if p_lo * p_up != 0 else 0.0,
           "t_comp_trilayer_nm": _compensated(row, ("buffer/film", "film/cap")),
           "phi_trilayer_eV": first(row, "work_function.work_function_eV")}
    z, u, layers = read_profile(row["dir"], "u_pol_z_pm")
    solid = np.array([name != "gap" for name in layers])
    umax = float(np.max(np.abs(u[solid]))) if solid.any() else NAN
    out["u_plane_pm"] = umax
    if umax and math.isfinite(umax):
        top = float(z[solid].max())
        out["u_top_ratio"] = float(abs(u[np.isclose(z, top)][-1])) / umax
        deep = solid & (z < z_lo - 2.0) if math.isfinite(z_lo) else np.zeros_like(solid)
        out["u_substrate_ratio"] = float(np.max(np.abs(u[deep]))) / umax if deep.any() else NAN
    else:
        out["u_top_ratio"] = out["u_substrate_ratio"] = NAN
    return out
