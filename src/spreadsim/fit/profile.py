"""Maximum likelihood and profile-likelihood intervals of a negative log-likelihood: the one home
of the optimiser and the profile-interval search of :mod:`spreadsim.fit` (the cascade fits and the
removal delays of :mod:`spreadsim.fit.delays`).

Deterministic: the minimum from fixed starting points (the best one wins), then for every parameter
the two points where the profile ``min over the others of -log L`` rises by
``chi2_1(level) / 2`` above its minimum (Wilks), found by stepping out from the estimate and
Brent's method. A side on which the profile never rises that far within the parameter's bounds
(default ``+-X_MAX`` in the working parameters) is open: its end is reported as the bound.

Two optimisers, for the joint fit and for the profile's inner minimisations:

* with a gradient (default): bounded truncated Newton (TNC), for smooth likelihoods with an
  analytic gradient (the cascade fits);
* gradient-free (``gradient=False``): Nelder-Mead, or for one free parameter bounded Brent over
  the whole range and over a unit window around each start (a narrow optimum is missed by a search
  over a wide range). For likelihoods without a gradient, or whose gradient is zero or useless
  where the search starts: the day-censored delay likelihoods, on which a gradient method stops at
  its start.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]
Value = Callable[[np.ndarray], float]
Bounds = Sequence[tuple[float, float]]

#: the optimiser's box in the working parameters (log n, log kernel parameters, beta)
X_MAX = 25.0
#: truncated Newton (scipy's C code): the same optima as L-BFGS-B to 1e-9 here, and no BLAS calls,
#: whose thread pool made every L-BFGS-B step cost milliseconds on a loaded machine (5-10x slower)
METHOD = "TNC"
OPTIONS = {"maxfun": 1000, "ftol": 1e-12, "gtol": 1e-8, "xtol": 1e-10}
#: the gradient-free optimisers' tolerances: Nelder-Mead, and bounded Brent for one parameter
FREE_OPTIONS = {"xatol": 1e-9, "fatol": 1e-11, "maxiter": 4000}
BRENT_XTOL = 1e-8
#: the value standing in for an infinite one (the line search backs off; never a minimum)
_HUGE = 1e300


@dataclass(frozen=True)
class Optimum:
    x: np.ndarray
    value: float
    converged: bool


def value_only(fun: Value) -> Objective:
    """A negative log-likelihood without a gradient, for the gradient-free optimiser (the
    gradient it returns is NaN and never used)."""
    def f(x: np.ndarray) -> tuple[float, np.ndarray]:
        return float(fun(x)), np.full(x.shape, np.nan)
    return f


def _safe(fun: Objective) -> Objective:
    """``fun`` with an infinite value turned into a large finite one (the line search backs off)."""
    def f(x: np.ndarray) -> tuple[float, np.ndarray]:
        v, g = fun(x)
        if not math.isfinite(v):
            return _HUGE, np.zeros_like(x)
        return v, g
    return f


def _box(bounds: Bounds | None, d: int) -> list[tuple[float, float]]:
    if bounds is None:
        return [(-X_MAX, X_MAX)] * d
    if len(bounds) != d:
        raise ValueError(f"{len(bounds)} bounds for {d} parameters")
    return [(float(lo), float(hi)) for lo, hi in bounds]


def _brent(f: Value, starts: Sequence[np.ndarray], box: tuple[float, float]) -> Optimum:
    """One free parameter: bounded Brent over the whole range and a unit window around each start."""
    lo, hi = box
    ranges = [(lo, hi)] + [(max(lo, float(s[0]) - 0.5), min(hi, float(s[0]) + 0.5)) for s in starts]
    best: Optimum | None = None
    for a, b in dict.fromkeys(ranges):
        if not b > a:
            continue
        r = optimize.minimize_scalar(lambda t: f(np.array([t])), bounds=(a, b), method="bounded",
                                     options={"xatol": BRENT_XTOL})
        if best is None or float(r.fun) < best.value:
            best = Optimum(np.array([float(r.x)]), float(r.fun), bool(r.success))
    assert best is not None
    return best


def minimise(fun: Objective, starts: Sequence[np.ndarray], *, gradient: bool = True,
             bounds: Bounds | None = None) -> Optimum:
    """The best of the minimisations of ``fun`` from ``starts`` within ``bounds`` (default
    ``+-X_MAX`` for every parameter): bounded truncated Newton (TNC) with ``fun``'s gradient, or
    gradient-free (``gradient=False``; see the module's docstring)."""
    f = _safe(fun)
    box = _box(bounds, len(starts[0]))
    runs: list[Optimum] = []
    if not gradient and len(box) == 1:
        runs.append(_brent(lambda x: f(x)[0], starts, box[0]))
    else:
        for x0 in starts:
            if gradient:
                r = optimize.minimize(f, np.asarray(x0, dtype=float), jac=True, method=METHOD,
                                      bounds=box, options=OPTIONS)
            else:
                r = optimize.minimize(lambda x: f(x)[0], np.asarray(x0, dtype=float), method="Nelder-Mead",
                                      bounds=box, options=FREE_OPTIONS)
            runs.append(Optimum(np.asarray(r.x, dtype=float), float(r.fun), bool(r.success)))
    best: Optimum | None = None
    for r in runs:
        if not math.isfinite(r.value) or r.value >= _HUGE / 10:
            continue
        if best is None or r.value < best.value - 1e-9:
            best = r
    if best is None:
        return Optimum(np.asarray(starts[0], dtype=float), math.inf, False)
    return best


def _fixed(fun: Objective, k: int, t: float) -> Objective:
    def f(y: np.ndarray) -> tuple[float, np.ndarray]:
        x = np.insert(y, k, t)
        v, g = fun(x)
        return v, np.delete(g, k)
    return f


def profile_interval(fun: Objective, opt: Optimum, k: int, level: float = 0.95,
                     scale: float = 0.1, *, gradient: bool = True, bounds: Bounds | None = None,
                     xtol: float = 1e-4) -> tuple[float, float]:
    """The profile-likelihood interval of parameter ``k`` (working scale) at ``level``.

    Parameters
    ----------
    fun : callable
        The negative log-likelihood and its gradient (:func:`value_only` for a function without
        one, with ``gradient=False``).
    opt : Optimum
        Its minimum.
    k : int
        The parameter.
    level : float
        The confidence level.
    scale : float
        The first step out from the estimate (a standard error, if one is known).
    gradient : bool
        The inner minimisations over the other parameters use the gradient (TNC, warm-started
        from the previous point) or not (gradient-free, started from the previous point and from
        the estimate).
    bounds : sequence of (float, float), optional
        Every parameter's range (default ``+-X_MAX``): the search of the others and the ends
        of an open side.
    xtol : float
        The tolerance of the ends.

    Returns
    -------
    (float, float)
        The ends; a side on which the profile stays within ``chi2_1(level) / 2`` of its minimum
        ends at the parameter's bound.
    """
    box = _box(bounds, opt.x.shape[0])
    others = [b for i, b in enumerate(box) if i != k]
    rest = np.delete(opt.x, k)
    warm = {1.0: rest, -1.0: rest}

    def profile(t: float, side: float) -> float:
        if opt.x.shape[0] == 1:
            return _safe(fun)(np.array([t]))[0]
        starts = [warm[side]] if gradient else list({tuple(s): s for s in (warm[side], rest)}.values())
        r = minimise(_fixed(fun, k, t), starts, gradient=gradient, bounds=others)
        if math.isfinite(r.value):
            warm[side] = r.x
        return r.value

    xk = float(opt.x[k])
    # the profile's own minimum: the joint optimiser may have stopped a little above it
    target = min(opt.value, profile(xk, 1.0)) + stats.chi2.ppf(level, 1) / 2.0
    warm[-1.0] = warm[1.0]
    ends = []
    for side, bound in ((-1.0, box[k][0]), (1.0, box[k][1])):
        step, prev, end = 1.5 * max(scale, 1e-3), xk, bound
        while True:
            t = min(max(xk + side * step, box[k][0]), box[k][1])
            if profile(t, side) > target:
                lo, hi = sorted((prev, t))
                end = optimize.brentq(lambda s, sd=side: profile(s, sd) - target, lo, hi, xtol=xtol)
                break
            if t == bound:
                break
            prev, step = t, step * 1.6
        ends.append(end)
    return ends[0], ends[1]


def standard_errors(fun: Objective, x: np.ndarray) -> np.ndarray:
    """Standard errors (working scale) from the observed information, by differencing the
    gradient; NaN where the information is not positive definite."""
    d = x.shape[0]
    h = np.zeros((d, d))
    for i in range(d):
        e = np.zeros(d)
        e[i] = 1e-5
        h[i] = (fun(x + e)[1] - fun(x - e)[1]) / 2e-5
    h = (h + h.T) / 2.0
    try:
        cov = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        return np.full(d, np.nan)
    diag = np.diag(cov)
    return np.where(diag > 0, np.sqrt(np.abs(diag)), np.nan)


__all__ = ["X_MAX", "Optimum", "minimise", "profile_interval", "standard_errors", "value_only"]
