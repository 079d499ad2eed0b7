"""Composite config values: feed-delay kernels, attention decays and random durations.

Each is a mapping whose first key (``dist`` or ``kind``) chooses the parameters that follow; a
duration may also be a bare number of hours. The checks here turn them into the small records the
engine reads, with the same one-line errors as every other field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from spreadsim.dists import DECAY_KINDS, DELAY_KINDS, Duration
from spreadsim.errors import ConfigError
from spreadsim.schema.checks import INF_WORDS, check_keys, choice, mapping, number, require
from spreadsim.schema.fields import Custom

#: feed-delay kernels and their parameters (hours; ``sigma`` and ``gamma`` have no unit)
DELAY_PARAMS = {
    "fixed": ("value_h",),
    "exponential": ("rate_per_h",),
    "lognormal": ("median_h", "sigma"),
    "powerlaw": ("c_h", "gamma"),
}
#: attention decays and their parameters
DECAY_PARAMS = {"none": (), "exponential": ("half_life_h",), "powerlaw": ("c_h", "alpha")}
#: random durations of policy processes and their parameters
DURATION_PARAMS = {"fixed": ("value_h",), "exponential": ("mean_h",), "lognormal": ("median_h", "sigma")}
#: the largest sigma of a lognormal duration: a draw is median * exp(sigma * z) with |z| <= 8.3
#: for a 53-bit uniform, and its mean median * exp(sigma**2 / 2); sigma 20 already spreads the
#: middle 95% of the draws over 34 orders of magnitude, and keeps both far below float64's
#: largest number (exp(200) ~ 1e87), where sigma 1000 overflowed the sampling
MAX_SIGMA = 20.0
#: the largest median (or mean, or fixed value) of a duration, hours: about 114,000 years,
#: beyond any simulation horizon; with MAX_SIGMA every draw and mean stays finite
MAX_DURATION_H = 1e9


@dataclass(frozen=True)
class Kernel:
    """Feed-delay kernel: its name and two parameters, as the compiled kernel reads them."""

    dist: str
    a: float
    b: float = 0.0

    @property
    def code(self) -> int:
        return DELAY_KINDS[self.dist]


@dataclass(frozen=True)
class Decay:
    """Attention decay of the reshare probability with the post's age."""

    kind: str = "none"
    a: float = 1.0
    b: float = 0.0

    @property
    def code(self) -> int:
        return DECAY_KINDS[self.kind]


def kernel(path: str, value: Any) -> Kernel:
    """A feed-delay kernel mapping: ``{dist: lognormal, median_h: 2, sigma: 1.5}``."""
    cfg = mapping(path, value)
    dist = choice(f"{path}.dist", require(path, cfg, "dist"), DELAY_PARAMS, "delay kernel")
    names = DELAY_PARAMS[dist]
    check_keys(path, cfg, ("dist", *names))
    vals = [number(f"{path}.{k}", require(path, cfg, k), lo=0.0, lo_open=k != "value_h") for k in names]
    return Kernel(dist, *vals)


def decay(path: str, value: Any) -> Decay:
    """An attention decay mapping: ``{kind: none}``, ``{kind: exponential, half_life_h: 12}``, ..."""
    cfg = mapping(path, value)
    kind = choice(f"{path}.kind", cfg.get("kind", "none"), DECAY_PARAMS, "attention decay")
    names = DECAY_PARAMS[kind]
    check_keys(path, cfg, ("kind", *names))
    vals = [number(f"{path}.{k}", require(path, cfg, k), lo=0.0, lo_open=k != "alpha") for k in names]
    return Decay(kind, *vals)


def duration(path: str, value: Any) -> Duration:
    """A random duration: hours as a number (fixed), or ``{dist: exponential, mean_h: 2}``, ..."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Duration("fixed", number(path, value, lo=0.0, hi=MAX_DURATION_H, unit="hours"))
    m = mapping(path, value)
    dist = choice(f"{path}.dist", require(path, m, "dist"), DURATION_PARAMS, "duration distribution")
    names = DURATION_PARAMS[dist]
    check_keys(path, m, ("dist", *names))
    vals = [number(f"{path}.{k}", require(path, m, k), lo=0.0, lo_open=k in ("mean_h", "median_h"),
                   hi=MAX_SIGMA if k == "sigma" else MAX_DURATION_H, unit="" if k == "sigma" else "hours")
            for k in names]
    return Duration(dist, *vals)


def swept_value(key: str, value: Any) -> Any:
    """A swept parameter's value as the tables record it: the value of an hours field (a dotted
    key ending in ``_h``, such as ``policy.latency_h``) given as text (``never``, ``inf``, ``1e3``)
    is the number the schema reads from it (``never`` and ``inf`` are both ``math.inf``), so a
    swept list such as ``1,6,never`` is one numeric column; anything else is kept as it is.

    >>> swept_value("policy.latency_h", "never"), swept_value("policy", "none")
    (inf, 'none')
    """
    if not (isinstance(value, str) and str(key).rsplit(".", 1)[-1].endswith("_h")):
        return value
    if value.strip().lower() in INF_WORDS and value.strip().lower() != "none":
        return math.inf
    try:
        return number(str(key), value, allow_inf=True)
    except ConfigError:
        return value


def _forms(params: dict[str, tuple[str, ...]], key: str) -> str:
    return "; ".join(f"{{{key}: {name}" + "".join(f", {p}" for p in ps) + "}" for name, ps in params.items())


KERNEL = Custom(kernel, "a mapping: " + _forms(DELAY_PARAMS, "dist"))
DECAY = Custom(decay, "a mapping: " + _forms(DECAY_PARAMS, "kind"))
DURATION = Custom(duration, "hours (fixed), or a mapping: " + _forms(DURATION_PARAMS, "dist")
                  + f"; hours at most {MAX_DURATION_H:g}, sigma at most {MAX_SIGMA:g} (larger ones "
                  "overflow the sampling and mean nothing)")
