"""Goodness of fit of a fitted kernel: the delay CDF, the cascade-size distribution and the
time-rescaled residuals.

* **Delays.** With parent links, the parent -> child delays against the CDF the fit implies for
  *observed* delays (censoring included):
  ``sum_i nu_i m_i F(min(d, T - t_i)) / sum_i nu_i m_i F(T - t_i)`` over the shares ``i``
  (``nu_i`` is ``n0`` for an original post, ``n`` for a reshare). Without links, the reshares'
  times since their original post against
  the fitted expectation ``sum_c Lambda_c(min(t, T_c)) / sum_c Lambda_c(T_c)``. The KS distance
  (largest gap, on a log-spaced grid) is reported.
* **Sizes.** Observed reshares per cascade against cascades drawn from the fit with each
  cascade's own observation window and original post (:func:`spreadsim.fit.synthetic.grow`,
  seeded): the two-sample KS distance and the means.
* **Residuals.** By the time-rescaling theorem a cascade's reshares at ``Lambda(t_j)`` form a
  unit-rate Poisson process on ``[0, Lambda(T)]``; the cascades' rescaled axes laid end to end are
  one such process, so its gaps are i.i.d. Exp(1) under the model: a one-sample KS test against
  Exp(1). The parameters are estimated from the same data, so the
  p-value is conservative (too large) rather than exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from spreadsim.errors import ConfigError, DataError
from spreadsim.fit.events import Cascades
from spreadsim.fit.kernels import Family
from spreadsim.fit.likelihood import compensator_at_events, hawkes_pairs, marks
from spreadsim.fit.synthetic import grow

#: simulated cascades per observed cascade for the size distribution, and their cap
SIZE_REPLICATES, SIZE_MAX_CASCADES = 20, 20_000
GRID_POINTS = 200  # the delay CDFs are compared on this many log-spaced points


@dataclass(frozen=True)
class Fit:
    """What the goodness of fit says of one kernel."""

    delay_label: str
    grid: np.ndarray
    empirical: np.ndarray
    fitted: np.ndarray
    delay_ks: float
    sizes: np.ndarray
    sim_sizes: np.ndarray
    size_ks: float
    residuals: np.ndarray
    residual_ks: float
    residual_p: float
    notes: tuple[str, ...]


def _ecdf(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.sort(values), grid, side="right") / max(values.shape[0], 1)


def goodness(fam: Family, data: Cascades, x: np.ndarray, logw: np.ndarray | None, seed: int,
             max_pairs: int) -> Fit:
    """The goodness of fit of kernel ``fam`` at working parameters ``x``."""
    k = len(fam.params)
    mk = marks(logw, float(x[1 + k])) if logw is not None else None
    n, n0 = math.exp(float(x[0])), math.exp(float(x[-1]))
    # every share's expected offspring weight nu_i m_i (nu = n0 for an original post, n otherwise)
    m = (np.exp(mk[0]) if mk is not None else np.ones(data.n_shares)) * np.where(data.parent < 0, n0, n)
    xk = x[1 : 1 + k]
    window = data.window
    notes: list[str] = []
    reshares = np.flatnonzero(data.parent >= 0)
    if data.links == "tree":
        label = "delay from parent share (h)"
        obs = data.times[reshares] - data.times[data.parent[reshares]]
    else:
        label = "time since the original post (h)"
        obs = data.times[reshares]
    pos = obs[obs > 0]
    lo = max(float(pos.min()) if pos.shape[0] else 1e-3, 1e-4)
    hi = max(float(data.horizon.max()), lo * 10)
    grid = np.geomspace(lo, hi, GRID_POINTS)
    if data.links == "tree":
        # sum_i m_i F(min(g, tau_i)): shares with tau_i <= g give m_i F(tau_i), the others m_i F(g)
        order = np.argsort(window)
        tau, mw = window[order], m[order]
        below = np.concatenate(([0.0], np.cumsum(mw * fam.cdf(xk, tau)[0])))
        above = np.concatenate((np.cumsum(mw[::-1])[::-1], [0.0]))
        cut = np.searchsorted(tau, grid, side="right")
        fitted = (below[cut] + above[cut] * fam.cdf(xk, grid)[0]) / below[-1]
    else:
        hz = data.horizon[data.cascade]
        total = float(np.sum(m * fam.cdf(xk, np.maximum(hz - data.times, 0.0))[0]))
        fitted = np.empty(grid.shape[0])
        for i, g in enumerate(grid):
            fitted[i] = float(np.sum(m * fam.cdf(xk, np.maximum(np.minimum(g, hz) - data.times, 0.0))[0])) / total
    empirical = _ecdf(obs, grid)
    delay_ks = float(np.max(np.abs(empirical - fitted))) if obs.shape[0] else math.nan
    # residuals
    try:
        pairs = hawkes_pairs(data.times, data.start, window, logw, max_pairs)
        lam = np.zeros(data.n_shares)
        lam[pairs.targets] = compensator_at_events(fam, pairs, x)
        # each cascade's rescaled times lie on [0, Lambda_c(T_c)]; laid end to end they are one
        # unit-rate Poisson process, whose gaps are Exp(1) (a cascade's own gaps are not: its
        # censored tail would be left out)
        total_c = np.bincount(data.cascade, m * fam.cdf(xk, window)[0], minlength=data.n_cascades)
        offset = np.cumsum(total_c) - total_c
        tau = offset[data.cascade[pairs.targets]] + lam[pairs.targets]
        resid = np.diff(np.concatenate(([0.0], tau)))
        if resid.shape[0]:
            test = stats.kstest(resid, "expon")
            r_ks, r_p = float(test.statistic), float(test.pvalue)
        else:
            r_ks = r_p = math.nan
    except DataError as e:
        resid, r_ks, r_p = np.zeros(0), math.nan, math.nan
        notes.append(f"no residual test: {e}")
    # sizes
    sizes = data.sizes
    reps = max(1, min(SIZE_REPLICATES, SIZE_MAX_CASCADES // max(data.n_cascades, 1)))
    rng = np.random.default_rng(seed)
    roots = data.start[:-1]
    pool = mk[0][reshares] if mk is not None and reshares.shape[0] else None
    if mk is not None and pool is None:
        pool = mk[0][roots]
    logm0 = np.tile(mk[0][roots], reps) if mk is not None else None
    try:
        casc, *_ = grow(fam.name, xk, n, np.zeros(data.n_cascades * reps), np.tile(data.horizon, reps),
                        rng, n0=n0, logm=logm0, mark_pool=pool, max_events=max(2_000_000, 50 * data.n_shares))
        sim_sizes = np.bincount(casc, minlength=data.n_cascades * reps) - 1
        size_ks = float(stats.ks_2samp(sizes, sim_sizes).statistic)
    except ConfigError:
        sim_sizes, size_ks = np.zeros(0, dtype=np.int64), math.nan
        notes.append("no size check: cascades drawn from the fit grew past the cap (n near or above 1)")
    return Fit(label, grid, empirical, fitted, delay_ks, sizes, sim_sizes, size_ks, resid, r_ks, r_p,
               tuple(notes))


__all__ = ["Fit", "goodness"]
