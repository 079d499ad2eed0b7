"""``spreadsim.fit_cascades``: observed cascades in, spread parameters out.

For every kernel: the maximum-likelihood branching factor ``n`` (mean direct reshares of a
reshare), the original post's offspring mean ``n0``, kernel parameters (and the mark
exponent ``beta``), their profile-likelihood intervals, the log-likelihood and AIC
(:mod:`spreadsim.fit.likelihood`, :mod:`spreadsim.fit.profile`); the kernel with the smallest AIC
is chosen; the goodness of fit (:mod:`spreadsim.fit.gof`), a plot, a text summary, and the
``spread`` and ``scenario`` sections for a graph (:mod:`spreadsim.fit.spreadconfig`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spreadsim.errors import ConfigError
from spreadsim.fit.events import Cascades, read_events
from spreadsim.fit.gof import Fit, goodness
from spreadsim.fit.kernels import FAMILIES, KERNELS, Family
from spreadsim.fit.likelihood import (
    MAX_PAIRS,
    Pairs,
    full_x,
    hawkes_pairs,
    negloglik,
    negloglik_profiled,
    tree_pairs,
)
from spreadsim.fit.profile import Optimum, minimise, profile_interval, standard_errors
from spreadsim.fit.report import plot, summary
from spreadsim.fit.spreadconfig import sections
from spreadsim.graphs import Graph
from spreadsim.schema.model import CATEGORIES

#: the level of the reported intervals
LEVEL = 0.95


@dataclass(frozen=True)
class KernelFit:
    """One kernel's fit: ``params`` holds ``n`` (mean direct reshares of a reshare), ``n0`` (of
    an original post), the kernel's parameters (spread-config names) and, with marks, ``beta``;
    ``intervals`` their profile-likelihood intervals."""

    kernel: str
    params: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    loglik: float
    aic: float
    converged: bool
    x: np.ndarray = field(repr=False)
    gof: Fit | None = field(default=None, repr=False)

    @property
    def spread_kernel(self) -> dict[str, Any]:
        """The ``spread.kernel`` mapping."""
        return FAMILIES[self.kernel].spread_kernel(self.x[1 : 1 + len(FAMILIES[self.kernel].params)])

    @property
    def mean_delay_h(self) -> float:
        return FAMILIES[self.kernel].mean(self.x[1 : 1 + len(FAMILIES[self.kernel].params)])


@dataclass(frozen=True)
class CascadeFit:
    """The result of :func:`fit_cascades`."""

    data: Cascades
    fits: dict[str, KernelFit]
    failed: dict[str, str]
    marks: bool
    level: float
    notes: tuple[str, ...] = ()

    @property
    def chosen(self) -> str:
        """The kernel with the smallest AIC."""
        return min(self.fits, key=lambda k: self.fits[k].aic)

    @property
    def best(self) -> KernelFit:
        return self.fits[self.chosen]

    def spread_config(self, graph: Graph | Any = None, kernel: str | None = None,
                      categories: Sequence[str] = CATEGORIES) -> dict[str, Any]:
        """The ``spread`` and ``scenario`` sections that simulate the fit on ``graph``.

        ``graph``: a :class:`~spreadsim.graphs.Graph`, a graph section (``{"kind": ...}``), a
        kind name, or None for the default graph. The share probability of ``categories`` is set
        so that a reached user's mean offspring equals the fitted ``n`` (a reshare's, not the
        original post's ``n0``, which depends on who uploads)
        (:func:`spreadsim.fit.spreadconfig.share_probability`). Merge the result into a config:
        ``spreadsim.simulate({"graph": ..., **fit.spread_config(...)})``.
        """
        f = self.fits[kernel or self.chosen]
        secs, _, _, _ = sections(f.spread_kernel, f.params["n"], graph, categories)
        return secs

    def plot(self, path: str | Path) -> Path:
        """Write the goodness-of-fit figure (PNG) to ``path``."""
        return plot(self, path)

    def summary(self) -> str:
        """The fit as text: data, every kernel's parameters with intervals, AIC, goodness of fit."""
        return summary(self)


def _pairs(data: Cascades, logw: np.ndarray | None, max_pairs: int) -> Pairs:
    if data.links == "tree":
        return tree_pairs(data.times, data.parent, data.window, logw)
    return hawkes_pairs(data.times, data.start, data.window, logw, max_pairs)


def _starts(fam: Family, pairs: Pairs, with_marks: bool) -> list[np.ndarray]:
    """Starting points of the kernel's log parameters (and beta)."""
    pos = pairs.delay[pairs.delay > 0]
    scale = float(np.median(pos)) if pos.shape[0] else 1.0
    if pairs.starts.shape[0] != pairs.src.shape[0]:  # Hawkes: the delays from the original are longer
        scale /= 2.0
    betas = (0.0, 1.0) if with_marks else (None,)
    return [np.concatenate((xk, [] if b is None else [b])) for xk in fam.starts(scale) for b in betas]


def fit_kernel(fam: Family, pairs: Pairs, *, intervals: bool = True, level: float = LEVEL
               ) -> tuple[Optimum, dict[str, float], dict[str, tuple[float, float]]]:
    """The maximum-likelihood fit of one kernel and its profile-likelihood intervals.

    The working vector is ``(log n, log kernel parameters[, beta], log n0)``. ``n`` (mean direct
    reshares of a reshare) and ``n0`` (of an original post) are profiled out
    (:func:`~spreadsim.fit.likelihood.best_log_n`) while the kernel is optimised and while the
    kernel's parameters are profiled; the intervals of ``n`` and ``n0`` profile the other
    parameters out numerically.
    """
    with_marks = pairs.logw is not None
    names = ["n", *fam.params] + (["beta"] if with_marks else []) + ["n0"]
    last = len(names) - 1

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        return negloglik(fam, pairs, x)

    def reduced(y: np.ndarray) -> tuple[float, np.ndarray]:
        return negloglik_profiled(fam, pairs, y)

    red = minimise(reduced, _starts(fam, pairs, with_marks))
    if not math.isfinite(red.value):
        return red, {}, {}
    x = full_x(fam, pairs, red.x)
    opt = minimise(fun, [x])  # polish jointly (a no-op at the optimum)
    if not opt.value <= red.value:
        opt = Optimum(x, red.value, red.converged)
    red = Optimum(opt.x[1:-1], opt.value, opt.converged)
    values = {k: (float(v) if k == "beta" else math.exp(float(v))) for k, v in zip(names, opt.x, strict=True)}
    order = ["n", "n0", *names[1:last]]  # the offspring means first
    params = {k: values[k] for k in order}
    ivs: dict[str, tuple[float, float]] = {}
    if intervals:
        se = standard_errors(fun, opt.x)
        for i, k in enumerate(names):
            step = float(se[i]) if math.isfinite(se[i]) and se[i] > 0 else 0.1
            lo, hi = (profile_interval(fun, opt, i, level, scale=step) if i in (0, last)
                      else profile_interval(reduced, red, i - 1, level, scale=step))
            ivs[k] = (lo, hi) if k == "beta" else (math.exp(lo), math.exp(hi))
        ivs = {k: ivs[k] for k in order}
    return opt, params, ivs


def fit_cascades(source: Any, observed_until: Any = None, kernels: Sequence[str] = KERNELS, *,
                 links: str = "auto", marks: bool | None = None, intervals: bool = True,
                 level: float = LEVEL, seed: int = 0, max_pairs: int = MAX_PAIRS) -> CascadeFit:
    """Fit feed-delay kernels and the branching factor to observed cascades.

    Parameters
    ----------
    source : path, pyarrow.Table, pandas.DataFrame or Cascades
        Share events in the format of ``docs/fitting.md`` (CSV or Parquet, read in batches).
    observed_until : number, str or datetime, optional
        The observation end of cascades without an ``observed_until`` column value (hours on
        the file's clock, or a timestamp); None: the latest time in the file.
    kernels : sequence of str
        Among ``exponential``, ``lognormal``, ``powerlaw``.
    links : str
        ``auto`` (parent links if the data has more than reshares pointing at the original
        post), ``tree`` or ``hawkes``.
    marks : bool, optional
        Scale every share's offspring by its followers: ``m = (1 + f)^beta / mean((1 + f)^beta)``
        (None: when the data has a ``followers`` column).
    intervals : bool
        Compute profile-likelihood intervals (the slow part).
    level : float
        Their level (0.95).
    seed : int
        Seed of the cascades drawn for the size check (the fit itself is deterministic).
    max_pairs : int
        The most candidate (parent, child) pairs the Hawkes likelihood may hold.

    Returns
    -------
    CascadeFit
    """
    unknown = [k for k in kernels if k not in FAMILIES]
    if unknown or not kernels:
        raise ConfigError("kernels", list(kernels), "must be one or more of " + ", ".join(KERNELS))
    if not 0.0 < level < 1.0:
        raise ConfigError("level", level, "must be a number in (0, 1)")
    data = source if isinstance(source, Cascades) else read_events(source, observed_until, links)
    use_marks = data.followers is not None if marks is None else bool(marks)
    if use_marks and data.followers is None:
        raise ConfigError("marks", True, f"needs a followers column ({data.source} has none)")
    notes: list[str] = []
    if use_marks and marks is None and data.followers is not None and np.ptp(data.followers) == 0:
        use_marks = False  # every share has the same followers: beta could not be estimated
        notes.append("every share has the same follower count: fitted without marks")
    logw = np.log1p(data.followers) if use_marks and data.followers is not None else None
    pairs = _pairs(data, logw, max_pairs)
    fits: dict[str, KernelFit] = {}
    failed: dict[str, str] = {}
    for name in dict.fromkeys(kernels):
        fam = FAMILIES[name]
        opt, params, ivs = fit_kernel(fam, pairs, intervals=intervals, level=level)
        if not params:
            zero = int(np.count_nonzero(pairs.delay <= 0))
            failed[name] = (f"no finite likelihood ({zero} reshares at delay 0; the {name} density "
                            "is 0 there)" if zero and name == "lognormal" else "no finite likelihood")
            continue
        gof = goodness(fam, data, opt.x, logw, seed, max_pairs)
        fits[name] = KernelFit(name, params, ivs, -opt.value, 2.0 * opt.x.shape[0] + 2.0 * opt.value,
                               opt.converged, opt.x, gof)
    if not fits:
        raise ConfigError("kernels", list(kernels), "none could be fitted: " +
                          "; ".join(f"{k}: {v}" for k, v in failed.items()))
    return CascadeFit(data, fits, failed, use_marks, level, tuple(notes))


__all__ = ["LEVEL", "CascadeFit", "KernelFit", "fit_cascades", "fit_kernel"]
