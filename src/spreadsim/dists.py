"""Distributions used inside the compiled spread kernel, as inverse CDFs of a uniform.

Each distribution is a small integer code plus two parameters, so that the numba kernel and the
Python side share one definition. Drawing by inverse CDF from a counter-based uniform keeps common
random numbers monotone: with the same uniform, a larger scale gives a larger draw.

Feed-delay kernels (``DELAY_KINDS``), hours:

* ``fixed``: ``value_h``
* ``exponential``: ``rate_per_h`` (density b*exp(-b t))
* ``lognormal``: ``median_h``, ``sigma``
* ``powerlaw``: ``c_h``, ``gamma`` (Lomax: density gamma*c^gamma*(t+c)^-(1+gamma))

Removal latencies (``LATENCY_KINDS``), hours: ``never``, ``fixed``, ``exponential`` (given a half-life),
``lognormal``, ``empirical`` (inverse empirical CDF of observed delays).

Attention decay (``DECAY_KINDS``), a factor in (0, 1] of the post's age a (hours): ``none`` (1),
``exponential`` (2^(-a/half_life_h)), ``powerlaw`` ((1 + a/c_h)^-alpha).
"""

from __future__ import annotations

import math

import numpy as np

from spreadsim.jit import njit

DELAY_FIXED, DELAY_EXPONENTIAL, DELAY_LOGNORMAL, DELAY_POWERLAW = 0, 1, 2, 3
DELAY_KINDS = {"fixed": DELAY_FIXED, "exponential": DELAY_EXPONENTIAL,
               "lognormal": DELAY_LOGNORMAL, "powerlaw": DELAY_POWERLAW}

LAT_NEVER, LAT_FIXED, LAT_EXPONENTIAL, LAT_LOGNORMAL, LAT_EMPIRICAL = 0, 1, 2, 3, 4
LATENCY_KINDS = {"never": LAT_NEVER, "fixed": LAT_FIXED, "exponential": LAT_EXPONENTIAL,
                 "lognormal": LAT_LOGNORMAL, "empirical": LAT_EMPIRICAL}

DECAY_NONE, DECAY_EXPONENTIAL, DECAY_POWERLAW = 0, 1, 2
DECAY_KINDS = {"none": DECAY_NONE, "exponential": DECAY_EXPONENTIAL, "powerlaw": DECAY_POWERLAW}

_LN2 = math.log(2.0)


@njit(cache=True)
def ndtri(p: float) -> float:  # pragma: no cover - compiled
    """Standard normal quantile (Acklam's rational approximation plus one Halley step)."""
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    a1, a2, a3 = -3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02
    a4, a5, a6 = 1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00
    b1, b2, b3 = -5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02
    b4, b5 = 6.680131188771972e01, -1.328068155288572e01
    c1, c2, c3 = -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00
    c4, c5, c6 = -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00
    d1, d2, d3, d4 = 7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00
    plow = 0.02425
    if p < plow:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((c1 * q + c2) * q + c3) * q + c4) * q + c5) * q + c6) / ((((d1 * q + d2) * q + d3) * q + d4) * q + 1.0)
    elif p <= 1.0 - plow:
        q = p - 0.5
        r = q * q
        num = (((((a1 * r + a2) * r + a3) * r + a4) * r + a5) * r + a6) * q
        x = num / (((((b1 * r + b2) * r + b3) * r + b4) * r + b5) * r + 1.0)
    else:
        q = math.sqrt(-2.0 * math.log1p(-p))
        x = -(((((c1 * q + c2) * q + c3) * q + c4) * q + c5) * q + c6) / ((((d1 * q + d2) * q + d3) * q + d4) * q + 1.0)
    e = 0.5 * math.erfc(-x / math.sqrt(2.0)) - p
    u = e * math.sqrt(2.0 * math.pi) * math.exp(x * x / 2.0)
    return x - u / (1.0 + x * u / 2.0)


@njit(cache=True, inline="always")
def delay_from_uniform(kind: int, a: float, b: float, u: float) -> float:  # pragma: no cover
    """Feed delay (hours) of kernel ``kind`` with parameters (a, b) at quantile ``u``."""
    if kind == DELAY_FIXED:
        return a
    if kind == DELAY_EXPONENTIAL:
        return -math.log1p(-u) / a
    if kind == DELAY_LOGNORMAL:
        return a * math.exp(b * ndtri(u))
    # Lomax power law: F(t) = 1 - (c/(t+c))^gamma
    return a * (math.pow(1.0 - u, -1.0 / b) - 1.0)


@njit(cache=True)
def delay_surely_before(kind: int, a: float, b: float, t: float, limit: float) -> float:  # pragma: no cover
    """A quantile ``c`` such that every draw below it lands strictly before ``limit``: for every
    ``u < c``, ``t + delay_from_uniform(kind, a, b, u) < limit`` in floating point.

    Conservative by a margin far above rounding error (``limit - t`` less 1e-9 of ``limit``, then
    ``c`` less 1e-9 of itself); 0 when no quantile is sure (or for ``fixed``, cheap to compute
    exactly anyway). Lets the kernel tell that an exposure will happen without the delay itself.
    """
    if limit == math.inf:
        return 2.0  # every u in [0, 1)
    y = (limit - t) - 1e-9 * max(abs(limit), 1.0)
    if kind == DELAY_FIXED or not y > 0.0:
        return 0.0
    if kind == DELAY_EXPONENTIAL:
        c = -math.expm1(-a * y)
    elif kind == DELAY_LOGNORMAL:
        c = 0.5 * math.erfc(-(math.log(y / a) / b) / math.sqrt(2.0))  # sigma b > 0
    else:
        c = 1.0 - math.pow(1.0 + y / a, -b)
    return c * (1.0 - 1e-9)


@njit(cache=True, _nrt=False)
def latency_from_uniform(kind: int, a: float, b: float, table: np.ndarray, u: float) -> float:  # pragma: no cover
    """Removal latency (hours) of kind ``kind`` at quantile ``u``; ``table`` holds sorted observed
    delays for ``empirical`` (inverse empirical CDF)."""
    if kind == LAT_NEVER:
        return math.inf
    if kind == LAT_FIXED:
        return a
    if kind == LAT_EXPONENTIAL:
        return -math.log1p(-u) * a / _LN2
    if kind == LAT_LOGNORMAL:
        return a * math.exp(b * ndtri(u))
    n = table.shape[0]
    i = int(u * n)
    if i >= n:
        i = n - 1
    return table[i]


@njit(cache=True, inline="always")
def decay_factor(kind: int, a: float, b: float, age: float) -> float:  # pragma: no cover
    """Attention decay factor at post age ``age`` (hours)."""
    if kind == DECAY_NONE:
        return 1.0
    if kind == DECAY_EXPONENTIAL:
        return math.pow(2.0, -age / a)
    return math.pow(1.0 + age / a, -b)


class Duration:
    """A random duration in hours, drawn by inverse CDF from a uniform (for policy processes:
    review times, detection delays, re-upload delays, sync delays).

    Config forms (checked by :func:`spreadsim.schema.values.duration`): ``{dist: fixed, value_h: 2}``,
    ``{dist: exponential, mean_h: 2}``, ``{dist: lognormal, median_h: 2, sigma: 1}``; a bare number
    means ``fixed``.

    Examples
    --------
    >>> Duration("exponential", 2.0).mean
    2.0
    >>> Duration("fixed", 1.5).sample(0.3)
    1.5
    """

    def __init__(self, dist: str, a: float, b: float = 0.0) -> None:
        self.dist, self.a, self.b = dist, a, b

    def __eq__(self, other: object) -> bool:  # config sections holding durations compare by value
        if not isinstance(other, Duration):
            return NotImplemented
        return (self.dist, self.a, self.b) == (other.dist, other.a, other.b)

    def __hash__(self) -> int:
        return hash((self.dist, self.a, self.b))

    @property
    def mean(self) -> float:
        if self.dist == "lognormal":
            return self.a * math.exp(self.b**2 / 2)
        return self.a

    def sample(self, u: float) -> float:
        """The duration at quantile ``u`` in [0, 1)."""
        if self.dist == "fixed":
            return self.a
        if self.dist == "exponential":
            return -math.log1p(-u) * self.a
        return self.a * math.exp(self.b * float(ndtri(u)))

    def __repr__(self) -> str:
        return f"Duration({self.dist!r}, {self.a!r}, {self.b!r})"
