"""The band of a fitted study at parameter sets consistent with its data (issue #22): the
fitted knobs are drawn from the fit's linearised confidence region (:func:`fit_region_samples`,
:func:`propagate_fit`) instead of independently over their fit ranges, which would put most
samples at chi^2 far above the optimum where the data leave one knob undetermined and another
one sits at a bound. Non-fitted knobs keep their own distributions. The fit and its Jacobian:
:func:`heterofem.studies.uncertainty.fit`."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from heterofem.studies.uncertainty import (Band, BatchModel, FitResult, Knob, _stack,
                                           output_names)
def _region_directions(result: FitResult, names: list[str], zlo: np.ndarray, zhi: np.ndarray,
                       sigmas: float) -> list[tuple[np.ndarray, float, float, float]]:
    """The principal directions of the fit's linearised confidence region in z (the fit's
    coordinates, origin at the optimum): ``(v, sd, tmin, tmax)`` each, with [tmin, tmax] the
    segment of z = t v inside the bounds and ``sd`` the 1 sigma along v (x ``sigmas``, scaled
    by the reduced chi^2 where it exceeds 1), or ``inf`` where the data do not determine the
    direction (a singular value of zero, or one whose 1 sigma exceeds the segment: the data
    leave the whole segment of the range open)."""
    jac = np.asarray(result.jacobian, float)
    n = len(names)
    if jac.shape != (len(result.data), n):
        raise ValueError("fit_region_samples: the fit has no Jacobian (a FitResult of fit())")
    rescale = max(1.0, result.chi2 / result.dof) if result.dof > 0 else 1.0
    _, sv, vt = np.linalg.svd(np.vstack([jac, np.zeros((max(0, n - jac.shape[0]), n))]))
    out = []
    for i in range(n):
        v = vt[i]
        with np.errstate(divide="ignore", invalid="ignore"):
            ta = np.where(v > 0, zlo / v, np.where(v < 0, zhi / v, -np.inf))
            tb = np.where(v > 0, zhi / v, np.where(v < 0, zlo / v, np.inf))
        tmin, tmax = float(np.max(ta)), float(np.min(tb))
        tmin, tmax = min(tmin, 0.0), max(tmax, 0.0)
        sd = sigmas * math.sqrt(rescale) / sv[i] if sv[i] > 1e-12 * max(sv.max(), 1e-300) \
            else math.inf
        if sd > tmax - tmin:
            sd = math.inf
        out.append((v, sd, tmin, tmax))
    return out


def fit_region_samples(knobs: Sequence[Knob], result: FitResult, n: int, *, seed: int = 0,
                       base: dict[str, float] | None = None,
                       sigmas: float = 1.0) -> list[dict[str, float]]:
    """long: ``n`` Latin-hypercube samples in which the fitted knobs stay consistent with the
    data (the fit's linearised confidence region), the other knobs over their own
    distributions (:meth:`Knob.from_unit`), merged over ``base``.

    The method: in the fit's coordinates z (ln p or relative p, ``result.transform``; origin
    at the optimum), the Jacobian's SVD J = U S V^T gives the principal directions v_i of the
    region. A direction the data determine is drawn as a normal of 1 sigma 1/s_i (x
    ``sigmas``, x sqrt(reduced chi^2) where that exceeds 1), truncated to the segment of the
    line z = t v_i inside the fit's bounds (so that a knob at a bound is not piled up on it);
    a direction the data do not determine (s_i = 0, or a 1 sigma wider than that segment) is
    drawn uniformly over the segment: the valley of equal chi^2, along which the data cannot
    choose. z is the sum of these moves, clipped to the bounds. Each direction takes one
    Latin-hypercube column. To first order every sample fits the data as well as the
    optimum within the drawn sigmas, and the optimum (the nominal) lies inside the set."""
    from scipy.stats import norm, qmc

    if n < 1:
        raise ValueError("fit_region_samples: n must be >= 1")
    knobs = list(knobs)
    fitted = [k for k in knobs if k.name in result.values]
    others = [k for k in knobs if k.name not in result.values]
    names = [k.name for k in fitted]
    xfit = np.array([result.values[m] for m in names])
    is_log = np.array([result.transform.get(m) == "log" for m in names])
    scale = np.array([result.scale.get(m, abs(x) or 1.0) for m, x in zip(names, xfit)])
    lo = np.array([result.bounds.get(k.name, [k.low, k.high])[0] for k in fitted])
    hi = np.array([result.bounds.get(k.name, [k.low, k.high])[1] for k in fitted])

    def to_z(x):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(is_log, np.log(np.where(is_log, x / xfit, 1.0)), (x - xfit) / scale)

    zlo, zhi = np.minimum(to_z(lo), to_z(hi)), np.maximum(to_z(lo), to_z(hi))
    dirs = _region_directions(result, names, zlo, zhi, sigmas) if fitted else []
    d = len(others) + len(dirs)
    u = qmc.LatinHypercube(d=d, seed=seed).random(n) if d else np.zeros((n, 0))
    samples = []
    for i in range(n):
        z = np.zeros(len(fitted))
        for j, (v, sd, tmin, tmax) in enumerate(dirs):
            uj = u[i, len(others) + j]
            if math.isinf(sd):
                t = tmin + uj * (tmax - tmin)
            else:
                a, b = norm.cdf(tmin / sd), norm.cdf(tmax / sd)
                t = sd * norm.ppf(np.clip(a + uj * (b - a), 1e-12, 1 - 1e-12))
            z += t * v
        z = np.clip(z, zlo, zhi)
        x = np.where(is_log, xfit * np.exp(np.where(is_log, z, 0.0)), xfit + z * scale)
        x = np.clip(x, np.minimum(lo, hi), np.maximum(lo, hi))
        sample = dict(base or {})
        sample.update({k.name: float(k.from_unit(u[i, j])) for j, k in enumerate(others)})
        sample.update({m: float(v) for m, v in zip(names, x)})
        samples.append(sample)
    return samples


def propagate_fit(model: BatchModel, knobs: Sequence[Knob], result: FitResult, n: int = 32,
                  *, seed: int = 0, base: dict[str, float] | None = None,
                  q: Sequence[float] = (5.0, 50.0, 95.0), sigmas: float = 1.0) -> Band:
    """:func:`propagate` with the fitted knobs drawn from the fit's confidence region
    (:func:`fit_region_samples`) instead of independently over their ranges; the other knobs
    as in :func:`propagate`."""
    samples = fit_region_samples(knobs, result, n, seed=seed, base=base, sigmas=sigmas)
    res = model(samples)
    return Band(samples, {name: _stack(res, name) for name in output_names(res)}, tuple(q))
