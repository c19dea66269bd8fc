"""The look of heterofem's pictures: the journal style sheet shipped in the package
(``heterofem.mplstyle``: single-column sizes, 8 pt text, no offset labels), physical names and
symbols of the fields for axis labels, values scaled to an SI prefix (``E_z (MV/m)``) or a
power of ten (``c_V (10^27 m^-3)``) instead of a "1e8" on the axis, and the colour limits and
colour maps of maps (diverging and zero-centred for signed fields, robust percentiles).

    >>> from heterofem.postprocess.style import journal_style
    >>> with journal_style():
    ...     fig, ax = plt.subplots()

Nothing here reads a run directory; the units come from the caller (summary.json's field
metadata or the column a headline figure draws).
"""

from __future__ import annotations

import contextlib
import math
import re
from pathlib import Path

import numpy as np

#: the style sheet (matplotlib ``.mplstyle``) shipped with the package
STYLE_FILE = Path(__file__).with_name("heterofem.mplstyle")
#: single-column and double-column figure widths [inch]
SINGLE_COLUMN_IN = 3.4
DOUBLE_COLUMN_IN = 7.0

#: field name -> (physical name, symbol in matplotlib mathtext)
FIELD_NAMES: dict[str, tuple[str, str]] = {
    "phi": ("electric potential", r"\varphi"),
    "Ez": ("electric field", "E_z"),
    "Ex": ("electric field", "E_x"),
    "Ey": ("electric field", "E_y"),
    "eps_zz": ("relative permittivity", r"\varepsilon_{zz}"),
    "rho_fixed": ("fixed charge density", r"\rho_\mathrm{fixed}"),
    "n_e": ("electron density", "n_e"),
    "mu": ("vacancy electrochemical potential", r"\tilde\mu_V"),
    "c_V": ("vacancy concentration", "c_V"),
    "theta_V": ("vacancy site fraction", r"\theta_V"),
    "delta": ("oxygen deficiency", r"\delta"),
    "xi": ("crystalline fraction", r"\xi"),
    "deposited": ("deposited fraction", "d"),
    "driving_force": ("crystallization driving force", r"\Delta g"),
    "P_z": ("polarization", "P_z"),
    "P_x": ("polarization", "P_x"),
    "u_pol_z": ("polar displacement", "u_z"),
    "residual_strain_x": ("residual strain", r"\epsilon_{xx}"),
    "residual_strain_y": ("residual strain", r"\epsilon_{yy}"),
    "u_x": ("displacement", "u_x"),
    "u_y": ("displacement", "u_y"),
    "u_z": ("displacement", "u_z"),
    "sigma_xx": ("stress", r"\sigma_{xx}"),
    "sigma_zz": ("stress", r"\sigma_{zz}"),
    "sigma_xz": ("shear stress", r"\sigma_{xz}"),
    "von_mises": ("von Mises stress", r"\sigma_\mathrm{vM}"),
    "strain_xz": ("shear strain", r"\epsilon_{xz}"),
}
#: fields that are signed (drawn with a diverging, zero-centred colour map)
SIGNED = {"phi", "Ez", "Ex", "Ey", "rho_fixed", "driving_force", "P_z", "P_x", "u_pol_z",
          "residual_strain_x", "residual_strain_y", "u_x", "u_y", "u_z", "sigma_xx",
          "sigma_zz", "sigma_xz", "strain_xz", "mu"}
#: fields that are never negative in the physics (a tiny negative overshoot is numerics)
NONNEGATIVE = {"xi", "deposited", "delta", "theta_V", "c_V", "n_e", "eps_zz", "von_mises"}
#: fields drawn over a fixed range (fractions)
FIXED_LIMITS = {"xi": (0.0, 1.0), "deposited": (0.0, 1.0)}
SEQUENTIAL_CMAP = "viridis"
DIVERGING_CMAP = "RdBu_r"

_PREFIXES = {-15: "f", -12: "p", -9: "n", -6: "\u00b5", -3: "m", 0: "", 3: "k", 6: "M", 9: "G",
             12: "T"}
#: units that take an SI prefix on their first symbol (V/m -> MV/m)
_PREFIXABLE = re.compile(r"^(V|C|J|eV|Pa|A|W|N|s|F)(/|$| )")
#: units already carrying a prefix: scaled to a neighbour prefix of the same base
_PREFIXED = {"nm": ("m", -9), "pm": ("m", -12), "GPa": ("Pa", 9), "MPa": ("Pa", 6),
             "meV": ("eV", -3), "ms": ("s", -3)}


@contextlib.contextmanager
def journal_style():
    """Matplotlib (Agg, off-screen) with the heterofem style sheet for the ``with`` block."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.style.context(str(STYLE_FILE)):
        yield plt


def unit_tex(unit: str) -> str:
    """A unit as matplotlib mathtext: ``m^-3`` -> ``m$^{-3}$``; ``1`` -> ``""``."""
    if unit in ("1", "", None):
        return ""
    return re.sub(r"\^(-?\d+)", r"$^{\1}$", unit)


def _decade(values: np.ndarray) -> int:
    v = np.abs(np.asarray(values, dtype=float))
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return 0
    return int(math.floor(math.log10(float(np.max(v)))))


def scale_for(values, unit: str) -> tuple[float, str]:
    """(factor, unit text) so that ``values * factor`` reads without an offset or a "1e8":
    an SI prefix on a prefixable unit (engineering steps of 10^3: 3.2e8 V/m -> 320 MV/m), a
    power of ten otherwise (2e27 m^-3 -> 2 x 10^27 m^-3). Values between 0.01 and 1000 are
    left as they are."""
    decade = _decade(values)
    base_unit = unit if unit not in ("1", None) else ""
    if -2 <= decade < 3:
        return 1.0, unit_tex(base_unit)
    if base_unit in _PREFIXED:
        base, shift = _PREFIXED[base_unit]
        eng = 3 * math.floor((decade + shift) / 3)
        if eng in _PREFIXES and base != "m" or eng in (-12, -9, -6, -3, 0):
            return 10.0 ** (shift - eng), unit_tex(_PREFIXES[eng] + base)
    elif _PREFIXABLE.match(base_unit):
        eng = 3 * math.floor(decade / 3)
        if eng in _PREFIXES:
            return 10.0 ** (-eng), unit_tex(_PREFIXES[eng] + base_unit)
    power = f"$10^{{{decade}}}$"
    return 10.0 ** (-decade), f"{power} {unit_tex(base_unit)}".strip()


def field_label(name: str, unit: str, values=None, symbol_only: bool = False) -> tuple[str, float]:
    """(axis label, factor): "electric field $E_z$ (MV/m)" and the factor to multiply the
    values by (1 without ``values``). Unknown names are written as they are."""
    physical, symbol = FIELD_NAMES.get(name, (None, None))
    factor, text = scale_for(values, unit) if values is not None else (1.0, unit_tex(unit))
    head = f"${symbol}$" if symbol else name.replace("_", " ")
    if physical and not symbol_only:
        head = f"{physical} {head}"
    return (f"{head} ({text})" if text else head), factor


# -- colour maps and limits ------------------------------------------------------------------------
def is_signed(name: str, values) -> bool:
    """Drawn with a diverging, zero-centred map: values (1st to 99th percentile) of both signs,
    the smaller side above 1 % of the range for a signed quantity (E, P, u, stress, ...) and
    above 5 % for any other."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0 or name in NONNEGATIVE:
        return False
    lo, hi = (float(x) for x in np.percentile(v, [1.0, 99.0]))
    share = 0.01 if name in SIGNED else 0.05
    return lo < 0 < hi and min(-lo, hi) > share * (hi - lo)


def colour_limits(values, signed: bool, robust: bool = True, percentile: float = 0.5,
                  tail: float = 0.25) -> tuple[float, float]:
    """Colour limits of a map: min/max, except (``robust``) where the values beyond the
    ``percentile`` / ``100 - percentile`` percentile reach further than ``tail`` times the
    range between them (a corner singularity, a spike at a contact): there the percentile,
    so one point does not wash out the picture; symmetric about zero for a signed field (zero
    is the white middle of the diverging map). A constant field gets a small range."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    if robust:
        plo, phi_ = (float(x) for x in np.percentile(v, [percentile, 100.0 - percentile]))
        width = phi_ - plo
        if plo - lo > tail * width:
            lo = plo
        if hi - phi_ > tail * width:
            hi = phi_
    if signed:
        m = max(abs(lo), abs(hi)) or float(np.max(np.abs(v))) or 1.0
        return -m, m
    if hi <= lo:
        pad = abs(lo) * 1e-6 or 1e-12
        lo, hi = lo - pad, hi + pad
    return lo, hi


def colour_map(signed: bool) -> str:
    return DIVERGING_CMAP if signed else SEQUENTIAL_CMAP


def tick_formatter():
    """A colour-bar/axis tick formatter without "-0" (a tick at -1e-17 of a range of 1 is 0)
    and without an offset; 3 significant digits, a true minus sign."""
    from matplotlib.ticker import Formatter

    class _Ticks(Formatter):
        def __call__(self, x, pos=None):
            axis = getattr(self, "axis", None)
            span = max(abs(v) for v in axis.get_view_interval()) if axis is not None else 1.0
            if abs(x) <= 1e-9 * span:
                x = 0.0
            text = f"{x:.3g}"
            if text.startswith("-") and float(text) == 0.0:
                text = text[1:]
            return text.replace("-", "\u2212")

    return _Ticks()
