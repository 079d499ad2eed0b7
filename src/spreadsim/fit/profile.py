"""Maximum likelihood and profile-likelihood intervals of a smooth negative log-likelihood.

Deterministic: bounded truncated Newton (TNC) from fixed starting points (the best one wins), then for every parameter
the two points where the profile ``min over the others of -log L`` rises by
``chi2_1(level) / 2`` above the minimum (Wilks), found by stepping out from the estimate and
Brent's method. A side on which the profile never rises that far within ``X_MAX`` (in log
parameters) is open: its end is reported as the edge of the parameter space.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]

#: the optimiser's box in the working parameters (log n, log kernel parameters, beta)
X_MAX = 25.0
#: truncated Newton (scipy's C code): the same optima as L-BFGS-B to 1e-9 here, and no BLAS calls,
#: whose thread pool made every L-BFGS-B step cost milliseconds on a loaded machine (5-10x slower)
METHOD = "TNC"
OPTIONS = {"maxfun": 1000, "ftol": 1e-12, "gtol": 1e-8, "xtol": 1e-10}


@dataclass(frozen=True)
class Optimum:
    x: np.ndarray
    value: float
    converged: bool


def _safe(fun: Objective) -> Objective:
    """``fun`` with an infinite value turned into a large finite one (the line search backs off)."""
    def f(x: np.ndarray) -> tuple[float, np.ndarray]:
        v, g = fun(x)
        if not math.isfinite(v):
            return 1e300, np.zeros_like(x)
        return v, g
    return f


def minimise(fun: Objective, starts: Sequence[np.ndarray]) -> Optimum:
    """The best of bounded truncated-Newton (TNC) runs from ``starts``."""
    best: Optimum | None = None
    f = _safe(fun)
    for x0 in starts:
        r = optimize.minimize(f, np.asarray(x0, dtype=float), jac=True, method=METHOD,
                              bounds=[(-X_MAX, X_MAX)] * len(x0),
                              options=OPTIONS)
        if not math.isfinite(r.fun) or r.fun >= 1e299:
            continue
        if best is None or r.fun < best.value - 1e-9:
            best = Optimum(np.asarray(r.x, dtype=float), float(r.fun), bool(r.success))
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
                     scale: float = 0.1) -> tuple[float, float]:
    """The profile-likelihood interval of parameter ``k`` (working scale) at ``level``.

    ``scale`` is the first step out from the estimate (a standard error, if one is known).
    """
    target = opt.value + stats.chi2.ppf(level, 1) / 2.0
    xk = float(opt.x[k])
    warm = {1.0: np.delete(opt.x, k), -1.0: np.delete(opt.x, k)}

    def excess(t: float, side: float) -> float:
        if opt.x.shape[0] == 1:
            v, _ = _safe(fun)(np.array([t]))
            return v - target
        r = minimise(_fixed(fun, k, t), [warm[side]])
        if math.isfinite(r.value):
            warm[side] = r.x
        return r.value - target

    ends = []
    for side in (-1.0, 1.0):
        step, prev, end = 1.5 * max(scale, 1e-3), xk, side * X_MAX
        while True:
            t = xk + side * step
            if abs(t) >= X_MAX:
                break
            if excess(t, side) > 0.0:
                lo, hi = sorted((prev, t))
                end = optimize.brentq(lambda s, sd=side: excess(s, sd), lo, hi, xtol=1e-4)
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


__all__ = ["X_MAX", "Optimum", "minimise", "profile_interval", "standard_errors"]
