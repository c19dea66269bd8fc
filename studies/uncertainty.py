"""Sensitivity and uncertainty of a study's outputs over its parameter ledger (issues #22, #23).

A study is a *batch model*: a function that takes a list of parameter samples (``{ledger name:
value}``) and returns, per sample, a dict of outputs (``{output name: float}`` and, for curves,
``{name: 1D numpy array}`` on a fixed grid). :mod:`.uncertainty_models` builds such models from
heterofem runs (``heterofem sweep``'s :func:`~heterofem.solver.sweep.run_sweep`, or
:class:`heterofem.Simulation`); the unit tests use cheap analytic ones.

Given the study's ledger (:mod:`heterofem.solver.ledger`, ``../shared/design/LEDGER.md``):

- :func:`ledger_knobs`: the parameters to vary, with their ranges: every non-literature number
  with a ``range`` (fitted ones with a ``uncertainty`` are sampled as normal, +-1 sigma), plus
  literature numbers whose source gives a range; and the ``--set`` key each one is changed by;
- :func:`sensitivities`: central (or forward) finite differences of every output to every knob,
  normalised as the change across the knob's range (``dy_per_range``) and as the elasticity
  ``d ln y / d ln p``, ranked (:func:`ranking`);
- :func:`propagate`: a Latin hypercube (``scipy.stats.qmc.LatinHypercube``) over the knobs'
  ranges, giving percentiles of every output and of every curve (:class:`Band`);
- :func:`fit`: ``scipy.optimize.least_squares`` of at most a few knobs to named data (in ln p
  for knobs spanning decades, ``log=``), with the
  1-sigma from the Jacobian (infinite for a direction the data do not determine) and the
  residuals (:class:`FitResult`); :func:`refit_knobs` turns the fit into the band's knobs.

Reports (the predictions table with hit/miss, Markdown + JSON, CSV of bands and sensitivities):
:mod:`.uncertainty_report`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from heterofem.solver.ledger import CONFIG_HEADS

#: a batch model: parameter samples -> outputs per sample (floats or 1D arrays)
BatchModel = Callable[[list[dict[str, float]]], list[dict[str, float | np.ndarray]]]

#: top-level config sections: a ledger name starting with one of these is a config key; any
#: other ``<Material>.<key>`` is a material value, changed through ``materials.<Material>.<key>``
#: (one list, kept with the ledger checks that read names the same way)
CONFIG_SECTIONS = CONFIG_HEADS


def set_key(name: str) -> str:
    """The ``--set`` / ``Simulation(set=...)`` key that changes the ledger entry ``name``:
    config keys as they are, material values ``M.key`` as ``materials.M.key``."""
    head = name.split(".", 1)[0]
    if head in CONFIG_SECTIONS or "." not in name:
        return name
    return f"materials.{name}"


@dataclass(frozen=True)
class Knob:
    """One parameter the analysis varies.

    ``dist``: ``"uniform"`` over [low, high], ``"loguniform"`` (both bounds of one sign and
    more than a decade apart) or ``"normal"`` (mean ``value``, standard deviation ``sigma``,
    clipped to [low, high]). ``key``: the ``--set`` key; ``configs``: the config stems it
    applies to (None: all)."""

    name: str
    value: float
    low: float
    high: float
    status: str = "chosen"
    unit: str = ""
    dist: str = "uniform"
    sigma: float | None = None
    key: str = ""
    configs: tuple[str, ...] | None = None
    #: multiplies the value when it is set (ledger unit -> the unit a bare --set number of a
    #: material value is read in: the database's)
    factor: float = 1.0

    def __post_init__(self):
        if not self.key:
            object.__setattr__(self, "key", set_key(self.name))
        if not self.low <= self.high:
            raise ValueError(f"knob {self.name}: range [{self.low}, {self.high}] is reversed")
        if self.dist not in ("uniform", "loguniform", "normal"):
            raise ValueError(f"knob {self.name}: dist {self.dist!r} is not uniform, "
                             "loguniform or normal")
        if self.dist == "normal" and not (self.sigma and self.sigma > 0):
            raise ValueError(f"knob {self.name}: a normal knob needs sigma > 0")

    @property
    def width(self) -> float:
        return self.high - self.low

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Map points u in (0, 1) (a Latin hypercube column) to values of this knob."""
        u = np.asarray(u, dtype=float)
        if self.dist == "loguniform":
            sign = 1.0 if self.low > 0 else -1.0
            lo, hi = sorted((math.log(abs(self.low)), math.log(abs(self.high))))
            return sign * np.exp(lo + u * (hi - lo))
        if self.dist == "normal":
            from scipy.stats import norm

            x = self.value + self.sigma * norm.ppf(np.clip(u, 1e-12, 1 - 1e-12))
            return np.clip(x, self.low, self.high)
        return self.low + u * (self.high - self.low)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def ledger_knobs(ledger, *, literature: bool = True, names: Iterable[str] | None = None,
                 exclude: Iterable[str] = (), sigmas: float = 1.0,
                 config: str | None = None) -> tuple[list[Knob], list[str]]:
    """The ledger's numbers to vary, and why the other non-literature numbers are not varied.

    Varied: non-literature numeric entries with a nonzero ``range`` (loguniform when one sign
    and more than a decade wide) and fitted entries with an ``uncertainty`` (normal, +-
    ``sigmas`` x 4 sigma range limit); literature entries with a range when ``literature``.
    ``names`` restricts to those names, ``exclude`` drops some; ``config`` keeps the entries
    that apply to that config stem. Returns ``(knobs, skipped)`` with ``skipped`` lines
    ``"<name>: <reason>"`` for the non-literature numbers left out."""
    wanted = set(names) if names is not None else None
    excluded = set(exclude)
    knobs: list[Knob] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for p in ledger.parameter:
        if wanted is not None and p.name not in wanted or p.name in excluded:
            continue
        if config is not None and p.configs is not None and config not in p.configs:
            continue
        if not _number(p.value):
            continue
        if p.name in seen:
            skipped.append(f"{p.name}: a second entry (another config); the first is varied")
            continue
        knob = _knob(p, literature, sigmas)
        if isinstance(knob, str):
            if knob:
                skipped.append(f"{p.name}: {knob}")
            continue
        seen.add(p.name)
        knobs.append(knob)
    return knobs, skipped


def _knob(p, literature: bool, sigmas: float) -> Knob | str:
    """The knob of one ledger entry, or why it has none ("" for literature values)."""
    configs = tuple(p.configs) if p.configs is not None else None
    common = dict(name=p.name, value=float(p.value), status=p.status, unit=p.unit,
                  configs=configs, factor=_unit_factor(p.name, p.unit))
    if p.status == "fitted" and p.uncertainty:
        s = sigmas * p.uncertainty
        lo, hi = (p.range if p.range is not None
                  else (p.value - 4 * s, p.value + 4 * s))
        return Knob(low=float(lo), high=float(hi), dist="normal", sigma=s, **common)
    if p.status == "literature" and not literature:
        return ""
    if p.range is None:
        return "" if p.status == "literature" else "no range in the ledger"
    lo, hi = (float(v) for v in p.range)
    if hi <= lo:
        return "" if p.status == "literature" else f"zero-width range [{lo}, {hi}]"
    log = lo * hi > 0 and max(abs(lo), abs(hi)) / min(abs(lo), abs(hi)) > 10.0
    return Knob(low=lo, high=hi, dist="loguniform" if log else "uniform", **common)


def _unit_factor(name: str, unit: str) -> float:
    """Ledger unit -> database unit of a material value (1 for config keys, unknown
    materials or keys, and entries without a unit)."""
    key = set_key(name)
    if not key.startswith("materials.") or not unit:
        return 1.0
    from heterofem.solver.materials.model import _convert

    _, mat, param = key.split(".", 2)
    db = _database()
    if mat not in db or not db[mat].has(param):
        return 1.0
    target = db[mat][param].unit
    return 1.0 if target == unit else _convert(1.0, unit, target)


_DB: dict = {}


def _database() -> dict:
    if not _DB:
        from heterofem.solver.materials import load_database

        _DB.update(load_database())
    return _DB


def nominal(knobs: Sequence[Knob]) -> dict[str, float]:
    """The ledger values of the knobs."""
    return {k.name: k.value for k in knobs}


# -- Latin hypercube -----------------------------------------------------------------------------

def lhs_samples(knobs: Sequence[Knob], n: int, seed: int = 0,
                base: dict[str, float] | None = None) -> list[dict[str, float]]:
    """``n`` Latin-hypercube samples over the knobs (scipy.stats.qmc.LatinHypercube, one
    stratum per sample in each knob), each ``{name: value}`` merged over ``base``."""
    from scipy.stats import qmc

    if n < 1:
        raise ValueError("lhs_samples: n must be >= 1")
    if not knobs:
        return [dict(base or {}) for _ in range(n)]
    u = qmc.LatinHypercube(d=len(knobs), seed=seed).random(n)
    cols = [k.from_unit(u[:, j]) for j, k in enumerate(knobs)]
    return [{**(base or {}), **{k.name: float(cols[j][i]) for j, k in enumerate(knobs)}}
            for i in range(n)]


# -- outputs as arrays ---------------------------------------------------------------------------

def _stack(results: list[dict], name: str) -> np.ndarray:
    """Output ``name`` over the samples: (n,) for scalars, (n, m) for curves; NaN where a
    sample lacks it."""
    vals = [r.get(name, np.nan) for r in results]
    shapes = {np.shape(v) for v in vals if np.ndim(v) > 0}
    if shapes:
        shape = shapes.pop()
        vals = [np.asarray(v, float) if np.ndim(v) > 0 else np.full(shape, np.nan) for v in vals]
        return np.vstack(vals)
    return np.array([np.nan if v is None else float(v) for v in vals])


def output_names(results: list[dict]) -> list[str]:
    names: list[str] = []
    for r in results:
        names += [k for k in r if k not in names]
    return names


# -- sensitivities -------------------------------------------------------------------------------

@dataclass
class Sensitivity:
    """Central differences at the nominal point: ``dy_dp[out][knob]``, ``dy_per_range`` (the
    derivative times the knob's range width: how much the output moves across the range; for
    a normal knob, times 2 sigma; for a loguniform one, p ln(high/low)), ``elasticity``
    (d ln y / d ln p), and the nominal outputs."""

    knobs: list[Knob]
    nominal: dict[str, float]
    dy_dp: dict[str, dict[str, float]]
    dy_per_range: dict[str, dict[str, float]]
    elasticity: dict[str, dict[str, float]]
    steps: dict[str, float] = field(default_factory=dict)

    def ranked(self, output: str) -> list[tuple[str, float]]:
        """Knobs by |dy_per_range| of one output, largest first."""
        row = self.dy_per_range[output]
        return sorted(row.items(), key=lambda kv: -abs(kv[1]) if np.isfinite(kv[1]) else 0.0)


def sensitivities(model: BatchModel, knobs: Sequence[Knob], *, step: float = 0.05,
                  base: dict[str, float] | None = None, outputs: Sequence[str] | None = None,
                  central: bool = True) -> Sensitivity:
    """Finite differences of every scalar output to every knob, in one batch of 1 + 2 n runs:
    p +- h with h = ``step`` x the knob's range width (2 sigma for normal knobs; a factor in
    ln p for loguniform ones), one-sided where p +- h leaves the range; ``central=False``:
    forward differences p, p + h (p - h at the top of the range), 1 + n runs. Curves are left
    out (their band comes from :func:`propagate`)."""
    knobs = list(knobs)
    p0 = {**(base or {}), **nominal(knobs)}
    batch, steps = [dict(p0)], {}
    for k in knobs:
        if k.dist == "loguniform":  # steps in ln p
            f = math.exp(step * math.log(k.high / k.low))
            lo, hi = sorted((k.value / f, k.value * f))
            lo, hi = max(lo, min(k.low, k.high)), min(hi, max(k.low, k.high))
        else:
            h = step * (2 * k.sigma if k.dist == "normal" else k.width)
            lo, hi = max(k.value - h, k.low), min(k.value + h, k.high)
        if not central:
            lo, hi = (k.value, hi) if hi > k.value else (lo, k.value)
        if hi <= lo:  # no room (a zero-width range): no derivative
            lo, hi = k.value, k.value
        steps[k.name] = hi - lo if hi > lo else float("nan")
        batch += [{**p0, k.name: lo}, {**p0, k.name: hi}]
    if not central:  # each pair shares the nominal run: drop the copies of p0
        pairs = [(batch[1 + 2 * j], batch[2 + 2 * j]) for j in range(len(knobs))]
        batch = [dict(p0)] + [b if b[k.name] != k.value else a
                              for (a, b), k in zip(pairs, knobs)]
    res = model(batch)
    if not central:  # back to the (lo, hi) layout, the nominal run in the p0 slot
        full = [res[0]]
        for j, k in enumerate(knobs):
            other = res[1 + j]
            at_lo = batch[1 + j][k.name] < k.value
            full += [other, res[0]] if at_lo else [res[0], other]
        res = full
    names = [n for n in (outputs or output_names(res)) if _stack(res, n).ndim == 1]
    y0 = {n: float(_stack(res[:1], n)[0]) for n in names}
    dydp, per_range, elast = {}, {}, {}
    for n in names:
        col = _stack(res, n)
        dydp[n], per_range[n], elast[n] = {}, {}, {}
        for j, k in enumerate(knobs):
            d = (col[2 + 2 * j] - col[1 + 2 * j]) / steps[k.name]
            dydp[n][k.name] = float(d)
            per_range[n][k.name] = float(d * _span(k))
            y = y0[n]
            elast[n][k.name] = float(d * k.value / y) if y and np.isfinite(y) else float("nan")
    return Sensitivity(knobs, y0, dydp, per_range, elast, steps)


def _span(k: Knob) -> float:
    """What dy/dp is multiplied by to give the change across the knob's range: the range
    width (2 sigma for a normal knob); for a loguniform knob, p ln(high/low) at the nominal
    value (dy/d ln p times the range in ln p)."""
    if k.dist == "normal":
        return 2 * k.sigma
    if k.dist == "loguniform":
        return k.value * math.log(k.high / k.low)
    return k.width


def ranking(sens: Sensitivity) -> list[tuple[str, float]]:
    """Overall ranking of the knobs: for each output, each knob's share of the summed
    |dy_per_range|; averaged over the outputs (1 = the only knob that matters anywhere)."""
    score = {k.name: 0.0 for k in sens.knobs}
    used = 0
    for row in sens.dy_per_range.values():
        vals = {k: abs(v) for k, v in row.items() if np.isfinite(v)}
        total = sum(vals.values())
        if total > 0:
            used += 1
            for k, v in vals.items():
                score[k] += v / total
    return sorted(((k, v / max(used, 1)) for k, v in score.items()), key=lambda kv: -kv[1])


# -- propagated band -----------------------------------------------------------------------------

@dataclass
class Band:
    """The outputs over a Latin-hypercube sample: ``samples`` (the parameter dicts),
    ``values[out]`` ((n,) or (n, m) arrays), ``q`` the percentiles (e.g. 5, 50, 95)."""

    samples: list[dict[str, float]]
    values: dict[str, np.ndarray]
    q: tuple[float, ...] = (5.0, 50.0, 95.0)

    def percentiles(self, output: str) -> np.ndarray:
        """``len(q)`` values (scalar output) or a (len(q), m) array (curve), NaNs ignored
        (NaN where every sample failed)."""
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column gives NaN
            return np.nanpercentile(self.values[output], self.q, axis=0)

    def interval(self, output: str) -> tuple[float, float]:
        """The outer percentiles of a scalar output (default the 5-95 % interval)."""
        p = self.percentiles(output)
        return float(p[0]), float(p[-1])

    def failed(self, output: str) -> int:
        """How many samples gave no finite value."""
        v = self.values[output]
        return int(np.sum(~np.isfinite(v).all(axis=tuple(range(1, v.ndim)))))


def propagate(model: BatchModel, knobs: Sequence[Knob], n: int = 32, *, seed: int = 0,
              base: dict[str, float] | None = None,
              q: Sequence[float] = (5.0, 50.0, 95.0)) -> Band:
    """Run the model over ``n`` Latin-hypercube samples of the knobs; returns the :class:`Band`
    (percentiles ``q`` of each scalar output and, pointwise, of each curve)."""
    samples = lhs_samples(knobs, n, seed, base)
    res = model(samples)
    return Band(samples, {name: _stack(res, name) for name in output_names(res)}, tuple(q))


# -- fit -----------------------------------------------------------------------------------------

@dataclass
class FitResult:
    """A least-squares fit: ``values`` and ``std`` (1 sigma) per fitted knob, ``correlation``
    matrix, ``residuals`` per datum (model - measured, in the data's unit), ``model`` values,
    ``chi2``, ``dof``, ``nfev``, ``message``; ``status`` (scipy's: 0 = stopped at max_nfev,
    > 0 = a convergence test was met; ``converged``), ``transform`` per knob (``"log"``: fitted
    in ln|p|, ``"linear"``: in (p - p0) / scale), ``jacobian`` (of the weighted residuals in
    those coordinates, at the optimum), ``at_bound`` (the knobs whose fitted value sits on a
    bound of the fit range: the data push them beyond it) and ``bounds`` ([low, high] per
    knob)."""

    values: dict[str, float]
    std: dict[str, float]
    correlation: list[list[float]]
    data: dict[str, float]
    sigma: dict[str, float]
    model: dict[str, float]
    chi2: float
    dof: int
    nfev: int
    message: str
    status: int = 1
    transform: dict[str, str] = field(default_factory=dict)
    jacobian: list[list[float]] = field(default_factory=list)
    at_bound: list[str] = field(default_factory=list)
    bounds: dict[str, list[float]] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    njev: int = 0

    @property
    def converged(self) -> bool:
        return self.status > 0

    @property
    def residuals(self) -> dict[str, float]:
        return {k: self.model[k] - self.data[k] for k in self.data}

    def as_dict(self) -> dict:
        return {"values": self.values, "std": self.std, "correlation": self.correlation,
                "data": self.data, "sigma": self.sigma, "model": self.model,
                "residuals": self.residuals, "chi2": self.chi2, "dof": self.dof,
                "nfev": self.nfev, "message": self.message, "status": self.status,
                "converged": self.converged, "transform": self.transform,
                "jacobian": self.jacobian, "at_bound": self.at_bound, "bounds": self.bounds,
                "scale": self.scale, "njev": self.njev}


def _log_ok(k: Knob) -> bool:
    """Whether a knob can be fitted in ln|p|: both bounds nonzero and of one sign."""
    return k.low * k.high > 0


def fit(model: BatchModel, knobs: Sequence[Knob], data: dict[str, float],
        sigma: dict[str, float] | float, *, base: dict[str, float] | None = None,
        start: dict[str, float] | None = None, max_nfev: int = 40,
        diff_step: float = 1e-3, progress: bool = False,
        log: bool | Sequence[bool] = False, xtol: float = 1e-8,
        ftol: float = 1e-8, method: str = "trf") -> FitResult:
    """long: Fit ``knobs`` (values within [low, high]) so that the model's outputs ``data``
    keys meet the measured values, weighted by ``sigma`` (per output or one for all), with
    ``scipy.optimize.least_squares`` from ``start`` (default the knobs' values); ``progress``
    prints every evaluation.

    Coordinates: ``log`` (one flag, or one per knob; only for knobs whose bounds share a sign)
    fits z = ln(p / p0), so that parameters spanning decades get steps of ``diff_step`` in
    ln p and O(1) trust-region steps; the others z = (p - p0) / |p0| (relative steps).
    ``xtol``/``ftol``: scipy's convergence tests (in z and in chi^2); ``method``: scipy's
    (``"dogbox"`` handles a knob on an active bound better than ``"trf"``, whose steps
    shrink near a bound and can meet ``ftol`` early); ``max_nfev``: the
    limit on scipy's function evaluations (each Jacobian costs n more model runs, counted in
    ``njev``; status 0 and ``converged`` False when the limit is reached).

    The 1 sigma comes from a Jacobian evaluated afresh at the optimum (n more runs, one-sided
    steps that stay inside the bounds); a parameter the data do not determine gets an infinite
    sigma. The covariance is (J^T J)^-1 of the weighted residuals, scaled by the reduced
    chi^2 where it exceeds 1 (and where dof > 0); the Jacobian is kept in the result
    (``jacobian``, in z) for :func:`fit_region_samples`."""
    from scipy.optimize import least_squares

    knobs = list(knobs)
    names = list(data)
    sig = {n: float(sigma[n] if isinstance(sigma, dict) else sigma) for n in names}
    y = np.array([data[n] for n in names])
    s = np.array([sig[n] for n in names])
    x0 = np.array([(start or {}).get(k.name, k.value) for k in knobs])
    lo, hi = np.array([k.low for k in knobs]), np.array([k.high for k in knobs])
    x0 = np.clip(x0, lo, hi)
    flags = [bool(log)] * len(knobs) if isinstance(log, bool) else [bool(f) for f in log]
    if len(flags) != len(knobs):
        raise ValueError(f"fit: log has {len(flags)} flags for {len(knobs)} knobs")
    is_log = np.array([f and _log_ok(k) and x != 0 for f, k, x in zip(flags, knobs, x0)])
    # linear coordinates z = (x - x0) / scale, so that the difference steps (diff_step in z)
    # are relative to each knob's size whatever its unit
    scale = np.where(np.abs(x0) > 0, np.abs(x0), hi - lo)
    scale = np.where(scale > 0, scale, 1.0)

    def to_x(z):
        z = np.asarray(z, float)
        return np.where(is_log, x0 * np.exp(np.where(is_log, z, 0.0)), x0 + z * scale)

    def to_z(x):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(is_log, np.log(np.where(is_log, x / x0, 1.0)), (x - x0) / scale)

    zlo, zhi = np.minimum(to_z(lo), to_z(hi)), np.maximum(to_z(lo), to_z(hi))

    def run(x):
        out = model([{**(base or {}), **{k.name: float(v) for k, v in zip(knobs, x)}}])[0]
        y_x = np.array([float(out[n]) for n in names])
        if progress:
            print("fit: " + ", ".join(f"{k.name} = {v:.5g}" for k, v in zip(knobs, x))
                  + " -> " + ", ".join(f"{n} = {v:.4g}" for n, v in zip(names, y_x)),
                  flush=True)
        return y_x

    cache: dict[bytes, np.ndarray] = {}

    def residual(z):  # a failed model run (NaN) is a large residual, not a crash
        key = np.asarray(z, float).tobytes()
        if key not in cache:
            r = (run(to_x(z)) - y) / s
            cache.clear()
            cache[key] = np.where(np.isfinite(r), r, 1e3)
        return cache[key]

    def jacobian(z):  # forward steps of diff_step in z, turned back where they leave the box
        r0, jz = residual(z), np.empty((len(y), len(knobs)))
        for j in range(len(knobs)):
            h = diff_step if z[j] + diff_step <= zhi[j] else -diff_step
            zj = np.array(z, float)
            zj[j] += h
            jz[:, j] = (np.where(np.isfinite(r := (run(to_x(zj)) - y) / s), r, 1e3) - r0) / h
        return jz

    res = least_squares(residual, np.zeros_like(x0), jac=jacobian, bounds=(zlo, zhi),
                        max_nfev=max_nfev, xtol=xtol, ftol=ftol, method=method)
    zfit = np.clip(res.x, zlo, zhi)
    xfit = to_x(zfit)
    ymod = run(xfit)
    dof = len(y) - len(knobs)
    chi2 = float(np.sum(((ymod - y) / s) ** 2))
    rescale = max(1.0, chi2 / dof) if dof > 0 else 1.0
    # the Jacobian at the optimum (in z) by one-sided differences that stay inside the bounds
    # (the solver's own is modified for parameters at a bound)
    jac = np.empty((len(y), len(knobs)))
    for j in range(len(knobs)):
        h = diff_step * (1 if zfit[j] + diff_step <= zhi[j] else -1)
        zj = zfit.copy()
        zj[j] += h
        jac[:, j] = (run(to_x(zj)) - ymod) / (s * h)
    cov_z = rescale * _covariance(jac)
    dxdz = np.where(is_log, np.abs(xfit), scale)  # |dx/dz| at the optimum
    cov = cov_z * np.outer(dxdz, dxdz)
    err = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(err, err)
    # on a bound: within one difference step of it (the resolution of the Jacobian)
    at_bound = [k.name for k, z, a, b in zip(knobs, zfit, zlo, zhi)
                if z - a <= diff_step or b - z <= diff_step]
    return FitResult({k.name: float(v) for k, v in zip(knobs, xfit)},
                     {k.name: float(e) for k, e in zip(knobs, err)},
                     np.nan_to_num(corr).tolist(), {n: float(v) for n, v in zip(names, y)},
                     sig, {n: float(v) for n, v in zip(names, ymod)}, chi2, dof,
                     int(res.nfev), str(res.message), int(res.status),
                     {k.name: "log" if f else "linear" for k, f in zip(knobs, is_log)},
                     jac.tolist(), at_bound,
                     {k.name: [float(k.low), float(k.high)] for k in knobs},
                     {k.name: float(c) for k, c in zip(knobs, scale)},
                     int(res.njev or 0))


def _covariance(jac: np.ndarray) -> np.ndarray:
    """(J^T J)^-1 from the SVD of J; a direction the data do not determine (singular value
    below 1e-8 of the largest) gives an infinite variance to every parameter it involves,
    instead of the zero a pseudo-inverse would give."""
    _, sv, vt = np.linalg.svd(jac, full_matrices=False)
    n = jac.shape[1]
    keep = sv > 1e-8 * (sv.max() if sv.size else 0.0)
    cov = (vt[keep].T / sv[keep] ** 2) @ vt[keep]
    null = np.vstack([vt[~keep], np.zeros((max(0, n - len(sv)), n))]) if n > keep.sum() \
        else np.zeros((0, n))
    if n > len(sv):  # fewer data than parameters: complete the null space
        full = np.linalg.svd(np.vstack([jac, np.zeros((n - jac.shape[0], n))]))[2]
        null = full[keep.sum():]
    loose = np.any(np.abs(null) > 1e-6, axis=0) if null.size else np.zeros(n, bool)
    cov[loose, :] = np.inf
    cov[:, loose] = np.inf
    return cov


def refit_knobs(knobs: Sequence[Knob], result: FitResult, sigmas: float = 1.0) -> list[Knob]:
    """The knobs with the fitted values and normal distributions of the fit's 1 sigma (for the
    band of the predictions: the fit's own uncertainty is propagated with the rest)."""
    out = []
    for k in knobs:
        if k.name in result.values:
            s = sigmas * result.std[k.name]
            v = result.values[k.name]
            if math.isfinite(s) and s > 0:
                out.append(Knob(k.name, v, max(k.low, v - 4 * s), min(k.high, v + 4 * s),
                                "fitted", k.unit, "normal", s, k.key, k.configs, k.factor))
                continue
            # no usable 1 sigma (a parameter at a bound, a flat direction): its whole range
            out.append(Knob(k.name, v, k.low, k.high, "fitted", k.unit,
                            "loguniform" if k.dist == "loguniform" else "uniform", None,
                            k.key, k.configs, k.factor))
        else:
            out.append(k)
    return out

