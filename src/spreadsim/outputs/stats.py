"""Statistics over paired seeds: the one function that computes confidence intervals.

Every interval spreadsim reports (a sweep's summary and category tables, an SLA calibration's
curve and its answer) is :func:`mean_ci`: the mean over seeds and its two-sided Student t
interval.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import stdtrit  # the t quantile; far lighter to import than scipy.stats

__all__ = ["mean_ci", "nanmean"]


def mean_ci(values: Any, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of the finite values and its two-sided t confidence interval.

    Parameters
    ----------
    values : array-like
        One value per seed; NaN and infinite values are left out.
    level : float
        The confidence level.

    Returns
    -------
    mean, low, high : float
        NaN for all three without a finite value; the interval is NaN with one.

    Examples
    --------
    >>> m, lo, hi = mean_ci([1.0, 2.0, 3.0])
    >>> m, round(lo, 3), round(hi, 3)
    (2.0, -0.484, 4.484)
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan
    m = float(x.mean())
    if n == 1:
        return m, math.nan, math.nan
    half = float(stdtrit(n - 1, 0.5 + level / 2) * x.std(ddof=1) / math.sqrt(n))
    return m, m - half, m + half


def nanmean(values: Any) -> float:
    """Mean of the finite values (NaN without one)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else math.nan
