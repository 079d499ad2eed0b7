"""Feed-delay kernels as the fit sees them: log density and CDF with their gradients in log
parameters, starting points, draws, and the spread config's form.

The parameters are the spread config's (:data:`spreadsim.schema.values.DELAY_PARAMS`, the
definitions of :mod:`spreadsim.dists`), so a fitted kernel drops into ``spread.kernel``:

* ``exponential``: ``rate_per_h`` b, density ``b exp(-b t)``;
* ``lognormal``: ``median_h`` m, ``sigma`` s, density of ``m exp(s Z)``;
* ``powerlaw``: ``c_h`` c, ``gamma`` g (Lomax), density ``g c^g (t + c)^-(1 + g)``.

The optimiser works on ``x = log(parameters)``; every function here takes ``x``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

from spreadsim.dists import DELAY_KINDS, delay_from_uniform
from spreadsim.jit import njit
from spreadsim.schema.values import DELAY_PARAMS

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)

Grad = tuple[np.ndarray, list[np.ndarray]]


def _exp_logpdf(x: np.ndarray, d: np.ndarray) -> Grad:
    b = math.exp(x[0])
    return x[0] - b * d, [1.0 - b * d]


def _exp_cdf(x: np.ndarray, t: np.ndarray) -> Grad:
    b = math.exp(x[0])
    e = np.exp(-b * t)
    return -np.expm1(-b * t), [b * t * e]


def _ln_logpdf(x: np.ndarray, d: np.ndarray) -> Grad:
    s = math.exp(x[1])
    with np.errstate(divide="ignore"):
        z = (np.log(d) - x[0]) / s
    with np.errstate(invalid="ignore"):
        lp = -np.log(d) - x[1] - _LOG_SQRT_2PI - 0.5 * z * z
    return lp, [z / s, z * z - 1.0]


def _ln_cdf(x: np.ndarray, t: np.ndarray) -> Grad:
    s = math.exp(x[1])
    with np.errstate(divide="ignore"):
        z = (np.log(t) - x[0]) / s
    dens = np.exp(-0.5 * z * z - _LOG_SQRT_2PI)  # 0 at z = -inf or inf
    zd = np.where(np.isfinite(z), z, 0.0) * dens
    return special.ndtr(z), [-dens / s, -zd]


def _pl_logpdf(x: np.ndarray, d: np.ndarray) -> Grad:
    c, g = math.exp(x[0]), math.exp(x[1])
    lr = np.log1p(d / c)  # log((d + c) / c)
    return x[1] - x[0] - (1.0 + g) * lr, [g - (1.0 + g) * c / (d + c), 1.0 - g * lr]


def _pl_cdf(x: np.ndarray, t: np.ndarray) -> Grad:
    c, g = math.exp(x[0]), math.exp(x[1])
    lr = np.log1p(t / c)
    surv = np.exp(-g * lr)
    return -np.expm1(-g * lr), [-surv * g * t / (t + c), surv * g * lr]


@njit(cache=True)
def _delays_at(kind: int, a: float, b: float, u: np.ndarray) -> np.ndarray:  # pragma: no cover
    """The engine's own inverse CDF (:func:`spreadsim.dists.delay_from_uniform`) at every ``u``."""
    out = np.empty(u.shape[0])
    for i in range(u.shape[0]):
        out[i] = delay_from_uniform(kind, a, b, u[i])
    return out


@dataclass(frozen=True)
class Family:
    """One feed-delay kernel family."""

    name: str
    logpdf: Callable[[np.ndarray, np.ndarray], Grad]
    cdf: Callable[[np.ndarray, np.ndarray], Grad]

    @property
    def params(self) -> tuple[str, ...]:
        """The parameter names, as ``spread.kernel`` spells them."""
        return DELAY_PARAMS[self.name]

    def values(self, x: np.ndarray) -> dict[str, float]:
        """The parameters at log parameters ``x``."""
        return {k: float(math.exp(v)) for k, v in zip(self.params, x, strict=True)}

    def spread_kernel(self, x: np.ndarray) -> dict[str, object]:
        """The ``spread.kernel`` mapping of log parameters ``x``."""
        return {"dist": self.name, **{k: float(f"{v:.6g}") for k, v in self.values(x).items()}}

    def starts(self, scale_h: float) -> list[np.ndarray]:
        """Deterministic starting points for a delay scale (a typical delay in hours)."""
        ls = math.log(max(scale_h, 1e-6))
        if self.name == "exponential":
            return [np.array([-ls + k]) for k in (0.0, -1.5, 1.5)]
        if self.name == "lognormal":
            return [np.array([ls + a, math.log(s)]) for a in (-1.0, 0.0) for s in (0.7, 1.5)]
        return [np.array([ls + a, math.log(g)]) for a in (-1.0, 0.5) for g in (0.8, 2.0)]

    def draw(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Delays at quantiles ``p``: the inverse CDF the engine draws with
        (:func:`spreadsim.dists.delay_from_uniform`, the spread config's parameters in order)."""
        v = np.exp(np.asarray(x, dtype=float))
        u = np.asarray(p, dtype=float)
        flat = np.ascontiguousarray(u.reshape(-1))
        b = float(v[1]) if v.shape[0] > 1 else 0.0
        return _delays_at(DELAY_KINDS[self.name], float(v[0]), b, flat).reshape(u.shape)

    def mean(self, x: np.ndarray) -> float:
        """The mean delay (hours; inf for a power law with gamma <= 1)."""
        v = np.exp(x)
        if self.name == "exponential":
            return float(1.0 / v[0])
        if self.name == "lognormal":
            return float(v[0] * math.exp(v[1] ** 2 / 2.0))
        return float(v[0] / (v[1] - 1.0)) if v[1] > 1.0 else math.inf


FAMILIES = {
    "exponential": Family("exponential", _exp_logpdf, _exp_cdf),
    "lognormal": Family("lognormal", _ln_logpdf, _ln_cdf),
    "powerlaw": Family("powerlaw", _pl_logpdf, _pl_cdf),
}
#: the kernels a fit tries unless told otherwise
KERNELS = tuple(FAMILIES)


def family(name: str) -> Family:
    """The kernel family called ``name``."""
    return FAMILIES[name]


def log_params(name: str, params: dict[str, float]) -> np.ndarray:
    """The log parameters of a kernel given as ``{param: value}`` (spread-config names)."""
    return np.log(np.array([float(params[k]) for k in FAMILIES[name].params]))


__all__ = ["FAMILIES", "KERNELS", "Family", "family", "log_params"]
