"""The likelihood of share times under a branching (Hawkes) model, one function for both data kinds.

Every share ``i`` (the original post included) at time ``t_i`` of a cascade observed until ``T``
gives birth to direct reshares as a Poisson process of intensity ``n m_i phi(t - t_i)``: ``n`` is
the branching factor (mean direct reshares per share), ``phi`` the feed-delay kernel and ``m_i``
the share's mark (1 without marks; with follower counts ``f``, ``m_i = w_i^beta / mean(w^beta)``
with ``w = 1 + f``, so that ``n`` stays the mean over the data's shares). Then

    log L = sum_j log g_j + N log n - n sum_i m_i F(T - t_i),

where ``j`` runs over the ``N`` reshares and ``g_j = sum_{p -> j} m_p phi(t_j - t_p)`` over the
candidate parents ``p`` of ``j``: its parent when the data has parent links (the likelihood of the
transmission tree: delays and offspring counts, both right-censored at ``T`` through ``F``), every
earlier share of the cascade when it has not (the Hawkes likelihood of the cascade conditioned on
its original post). :class:`Pairs` holds the candidate pairs; :func:`negloglik` is ``-log L`` with
its gradient in ``(log n, log kernel parameters, beta)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spreadsim.errors import DataError
from spreadsim.fit.kernels import Family

#: candidate pairs (source, target) the Hawkes likelihood may hold in memory
MAX_PAIRS = 10_000_000


@dataclass(frozen=True)
class Pairs:
    """Candidate (parent, child) pairs, sorted by child, and what the compensator needs.

    ``src``/``dst`` index the shares (all events, roots included); ``delay`` is ``t_dst - t_src``;
    ``starts`` the first pair of every reshare (``targets``); ``window`` every share's
    ``T - t_i``; ``logw`` every share's ``log(1 + followers)`` (None without marks).
    """

    src: np.ndarray
    dst: np.ndarray
    delay: np.ndarray
    starts: np.ndarray
    targets: np.ndarray
    window: np.ndarray
    logw: np.ndarray | None

    @property
    def n_reshares(self) -> int:
        return int(self.targets.shape[0])


def tree_pairs(times: np.ndarray, parent: np.ndarray, window: np.ndarray,
               logw: np.ndarray | None) -> Pairs:
    """One pair per reshare: (its parent, itself)."""
    targets = np.flatnonzero(parent >= 0)
    src = parent[targets]
    return Pairs(src, targets, times[targets] - times[src], np.arange(targets.shape[0]), targets,
                 window, logw)


def hawkes_pairs(times: np.ndarray, cascade_start: np.ndarray, window: np.ndarray,
                 logw: np.ndarray | None, max_pairs: int = MAX_PAIRS) -> Pairs:
    """Every earlier share of the cascade as a candidate parent of every reshare.

    ``times`` are sorted within each cascade (root first); ``cascade_start[k]`` is the first
    share of cascade ``k`` (with a final entry, the number of shares).
    """
    sizes = np.diff(cascade_start)
    total = int(np.sum(sizes * (sizes - 1) // 2))
    if total > max_pairs:
        big = int(sizes.max())
        raise DataError(f"the Hawkes likelihood without parent links needs {total:,} share pairs "
                        f"(the largest cascade has {big:,} shares), more than {max_pairs:,}: give "
                        "parent links, or fit fewer or smaller cascades")
    n = int(cascade_start[-1])
    pos = np.arange(n) - np.repeat(cascade_start[:-1], sizes)  # position within the cascade
    targets = np.flatnonzero(pos > 0)
    k = pos[targets]
    dst = np.repeat(targets, k)
    first = np.repeat(targets - k, k)  # the cascade's root
    starts = np.concatenate(([0], np.cumsum(k)[:-1])).astype(np.int64)
    src = first + (np.arange(dst.shape[0]) - np.repeat(starts, k))
    return Pairs(src, dst, times[dst] - times[src], starts, targets, window, logw)


def marks(logw: np.ndarray | None, beta: float) -> tuple[np.ndarray, np.ndarray] | None:
    """``(log m, d log m / d beta)`` for every share, or None without marks."""
    if logw is None:
        return None
    a = beta * logw
    a_max = float(a.max())
    wb = np.exp(a - a_max)
    mean_logw = float(np.sum(wb * logw) / np.sum(wb))
    return a - a_max - math.log(float(np.mean(wb))), logw - mean_logw


def negloglik(fam: Family, pairs: Pairs, x: np.ndarray) -> tuple[float, np.ndarray]:
    """``-log L`` and its gradient at ``x = (log n, log kernel parameters[, beta])``."""
    k = len(fam.params)
    log_n, xk = float(x[0]), x[1 : 1 + k]
    with_marks = pairs.logw is not None
    mk = marks(pairs.logw, float(x[1 + k])) if with_marks else None
    grad = np.zeros_like(x, dtype=float)
    # compensator n sum_i m_i F(window_i)
    cdf, dcdf = fam.cdf(xk, pairs.window)
    m = np.exp(mk[0]) if mk is not None else None
    s = float(np.sum(m * cdf)) if m is not None else float(np.sum(cdf))
    nv = math.exp(log_n)
    comp = nv * s
    grad[0] = comp - pairs.n_reshares
    for i, dc in enumerate(dcdf):
        grad[1 + i] = nv * (float(np.sum(m * dc)) if m is not None else float(np.sum(dc)))
    if mk is not None:
        grad[1 + k] = nv * float(np.sum(m * mk[1] * cdf))
    # sum_j log g_j, g_j = sum_p m_p phi(delay_p) (log-sum-exp within each target)
    lp, dlp = fam.logpdf(xk, pairs.delay)
    a = lp + mk[0][pairs.src] if mk is not None else lp
    if pairs.src.shape[0] == 0:
        return comp, grad
    if pairs.starts.shape[0] == pairs.src.shape[0]:  # one candidate each: no sums needed
        if not np.all(np.isfinite(a)):
            return math.inf, grad
        ll = float(np.sum(a))
        resp = None
    else:
        amax = np.maximum.reduceat(a, pairs.starts)
        if not np.all(np.isfinite(amax)):
            return math.inf, grad
        e = np.exp(a - np.repeat(amax, np.diff(np.append(pairs.starts, a.shape[0]))))
        gsum = np.add.reduceat(e, pairs.starts)
        ll = float(np.sum(amax) + np.sum(np.log(gsum)))
        resp = e / np.repeat(gsum, np.diff(np.append(pairs.starts, a.shape[0])))
    value = comp - pairs.n_reshares * log_n - ll
    if not math.isfinite(value):
        return math.inf, grad
    for i, d in enumerate(dlp):
        grad[1 + i] -= float(np.sum(d)) if resp is None else float(np.sum(resp * d))
    if mk is not None:
        dm = mk[1][pairs.src]
        grad[1 + k] -= float(np.sum(dm)) if resp is None else float(np.sum(resp * dm))
    return value, grad


def best_log_n(fam: Family, pairs: Pairs, y: np.ndarray) -> float:
    """``log n`` maximising the likelihood at the other working parameters ``y``: ``n = N / S``
    with ``S = sum_i m_i F(T - t_i)`` (``d log L / d n = N / n - S``)."""
    k = len(fam.params)
    cdf, _ = fam.cdf(y[:k], pairs.window)
    mk = marks(pairs.logw, float(y[k])) if pairs.logw is not None else None
    s = float(np.sum(np.exp(mk[0]) * cdf)) if mk is not None else float(np.sum(cdf))
    return math.log(max(pairs.n_reshares, 1e-300) / max(s, 1e-300))


def negloglik_profiled(fam: Family, pairs: Pairs, y: np.ndarray) -> tuple[float, np.ndarray]:
    """``-log L`` with ``n`` at its best value for ``y`` (the kernel's log parameters[, beta]),
    and its gradient in ``y`` (by the envelope theorem, the partial derivatives at that ``n``)."""
    v, g = negloglik(fam, pairs, np.concatenate(([best_log_n(fam, pairs, y)], y)))
    return v, g[1:]


def compensator_at_events(fam: Family, pairs: Pairs, x: np.ndarray) -> np.ndarray:
    """``Lambda(t_j)`` for every reshare ``j`` (``pairs`` must hold every earlier share of the
    cascade, :func:`hawkes_pairs`): ``n sum_{i before j} m_i F(t_j - t_i)``."""
    k = len(fam.params)
    mk = marks(pairs.logw, float(x[1 + k])) if pairs.logw is not None else None
    cdf, _ = fam.cdf(x[1 : 1 + k], pairs.delay)
    if mk is not None:
        cdf = cdf * np.exp(mk[0][pairs.src])
    return math.exp(float(x[0])) * np.add.reduceat(cdf, pairs.starts) if cdf.shape[0] else cdf


__all__ = ["MAX_PAIRS", "Pairs", "best_log_n", "compensator_at_events", "hawkes_pairs", "marks",
           "negloglik", "negloglik_profiled", "tree_pairs"]
