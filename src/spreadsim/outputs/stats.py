"""Statistics over paired seeds: the one home of confidence intervals.

Every interval spreadsim reports comes from here:

* :func:`mean_ci`: a mean over seeds (reach per post, reach prevented per post, a policy's share
  per seed, an SLA calibration's curve) and its two-sided Student t interval, cut to the range
  the mean is known to lie in (``bounds``: reach is never negative, a share lies in [0, 1]);
* :func:`share_prevented_ci`: the share of reach prevented, ``1 - sum(reach) / sum(paired
  baseline reach)`` over the seeds (a ratio of means), with a delta-method interval for a paired
  ratio (on the logit scale when every seed's reach is at most its twin's, so that the interval
  stays inside [0, 1]).

Their standard errors, :func:`mean_se` and :func:`ratio_se`, are what the theory checks of
``spreadsim validate`` and the studies in ``experiments/`` compare in standard errors.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import stdtrit  # the t quantile; far lighter to import than scipy.stats

__all__ = ["mean_ci", "mean_se", "nanmean", "ratio_se", "share_prevented_ci"]


def mean_ci(values: Any, level: float = 0.95,
            bounds: tuple[float | None, float | None] = (None, None)) -> tuple[float, float, float]:
    """Mean of the finite values and its two-sided t confidence interval.

    Parameters
    ----------
    values : array-like
        One value per seed; NaN and infinite values are left out.
    level : float
        The confidence level.
    bounds : (low, high), optional
        The range the true mean is known to lie in (reach is never negative, a share lies in
        [0, 1]): the interval is cut to it (None: no bound). Cutting an interval to the values
        its parameter can take never removes the truth from it, so its coverage is kept.

    Returns
    -------
    mean, low, high : float
        NaN for all three without a finite value; the interval is NaN with one.

    Examples
    --------
    >>> m, lo, hi = mean_ci([1.0, 2.0, 3.0])
    >>> m, round(lo, 3), round(hi, 3)
    (2.0, -0.484, 4.484)
    >>> mean_ci([1.0, 2.0, 3.0], bounds=(0.0, None))[1]
    0.0
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan
    m = float(x.mean())
    if n == 1:
        return m, math.nan, math.nan
    half = _t_quantile(n, level) * float(x.std(ddof=1)) / math.sqrt(n)
    lo, hi = m - half, m + half
    if bounds[0] is not None:
        lo = max(lo, bounds[0])
    if bounds[1] is not None:
        hi = min(hi, bounds[1])
    return m, lo, hi


def nanmean(values: Any) -> float:
    """Mean of the finite values (NaN without one)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else math.nan


def mean_se(values: Any) -> tuple[float, float]:
    """Mean of the finite values and its standard error ``sd / sqrt(n)`` (NaN standard error
    with fewer than two values; NaN mean without one)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return (float(x.mean()) if x.size else math.nan), math.nan
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def ratio_se(x: Any, y: Any) -> tuple[float, float]:
    """``sum(x) / sum(y)`` over paired samples and its delta-method standard error,
    ``sd(x - R y) / (sqrt(n) mean(y))`` (the standard error :func:`share_prevented_ci` uses)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    r = float(x.sum() / y.sum())
    if x.size < 2:
        return r, math.nan
    return r, float(np.std(x - r * y, ddof=1) / (math.sqrt(x.size) * y.mean()))


def _t_quantile(n: int, level: float) -> float:
    """The two-sided ``level`` quantile of Student's t with ``n - 1`` degrees of freedom."""
    return float(stdtrit(n - 1, 0.5 + level / 2))


def share_prevented_ci(reach: Any, baseline: Any, level: float = 0.95) -> tuple[float, float, float]:
    """Share of reach prevented over paired seeds, ``1 - sum(reach) / sum(baseline)``, and its
    two-sided confidence interval.

    The estimate is a ratio of means (total reach over every seed against the paired unmoderated
    twins' total), not a mean of per-seed ratios, so it equals ``1 - reach_mean /
    reach_baseline_mean`` whenever every seed has the same number of posts.

    The interval is the delta method for a ratio of paired means: with ``R = sum(x) / sum(y)``
    and the residuals ``d = x - R y``, the standard error of ``R`` is ``sd(d) / (sqrt(n) *
    mean(y))``, and the quantile is Student's t with ``n - 1`` degrees of freedom. When every seed's
    reach is at most its twin's (always so under removal deadlines: removal never adds reach), the
    share lies in [0, 1] for every seed and the interval is computed on the logit scale and
    mapped back, so it stays inside [0, 1] (a share of exactly 0 or 1 then has no spread and a
    zero-width interval); otherwise (re-uploads, say, can add reach) it is the plain delta-method
    interval, capped at 1 (reach is never negative).

    The branch is chosen by the data, not by a bound known in advance, and that is valid here:
    unlike cutting an interval to a range (:func:`mean_ci`'s ``bounds``, which must be known
    beforehand), both branches are the delta method for the same ratio, one on the share's
    scale and one on its logit's (mapped back), which agree to first order, so switching between
    them moves the coverage only at second order. Where removal can only cut reach (a deadline), every sample
    takes the logit branch; elsewhere a sample takes it only when every seed happens to fall in
    [0, 1]. The coverage is measured in each regime (``tests/test_stats.py``: every sample on the
    logit branch, every sample on the plain one, and a mixture where about 40-60% of the samples
    take the logit branch), each within 3 standard errors of 95% over 4000 samples.

    Parameters
    ----------
    reach, baseline : array-like
        One total per seed: the moderated run's reach and its paired unmoderated twin's. Pairs with
        a value that is not finite are left out.
    level : float
        The confidence level.

    Returns
    -------
    share, low, high : float
        NaN for all three without a pair whose baseline reach is positive in total; the interval
        is NaN with a single pair.

    Examples
    --------
    >>> share, lo, hi = share_prevented_ci([50, 20, 30], [100, 60, 40])
    >>> round(share, 4), 0 <= lo <= share <= hi <= 1
    (0.5, True)
    """
    x = np.asarray(reach, dtype=np.float64)
    y = np.asarray(baseline, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = x.size
    if n == 0 or y.sum() <= 0:
        return math.nan, math.nan, math.nan
    ratio, se = ratio_se(x, y)
    share = 1.0 - ratio
    if n == 1:
        return share, math.nan, math.nan
    half = _t_quantile(n, level) * se
    if bool(np.all((x >= 0) & (x <= y))):  # every seed's share in [0, 1]
        if se == 0.0 or share <= 0.0 or share >= 1.0:
            return share, share, share
        logit = math.log(share / ratio)
        h = half / (share * ratio)  # d logit(s) / ds = 1 / (s (1 - s))
        return share, _expit(logit - h), _expit(logit + h)
    return share, share - half, min(1.0, share + half)


def _expit(z: float) -> float:
    """The logistic function, without overflow."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)
