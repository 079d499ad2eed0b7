"""The likelihood of share times under a branching (Hawkes) model, one function for both data kinds.

Every share ``i`` at time ``t_i`` of a cascade observed until ``T`` gives birth to direct reshares
as a Poisson process of intensity ``nu_i m_i phi(t - t_i)``: ``nu_i`` is ``n0`` for the original
post and ``n`` for a reshare, ``phi`` the feed-delay kernel and ``m_i`` the share's mark (1
without marks; with follower counts ``f``, ``m_i = w_i^beta / mean(w^beta)`` with ``w = 1 + f``).
The original post has its own offspring mean ``n0`` because an uploader is not a reached user: in
spreadsim it passes its post to all its followers (mean ``p * out(uploader)``), while a reshare
passes it with the size-biased mean ``p * E_arcs[...]`` (:mod:`spreadsim.fit.spreadconfig`).
``n`` is the branching factor (mean direct reshares per reshare). Then

    log L = sum_j log g_j - n0 sum_{i root} m_i F(T - t_i) - n sum_{i reshare} m_i F(T - t_i),

where ``j`` runs over the ``N`` reshares and ``g_j = sum_{p -> j} nu_p m_p phi(t_j - t_p)`` over
the candidate parents ``p`` of ``j``: its parent when the data has parent links (the likelihood of
the transmission tree: delays and offspring counts, both right-censored at ``T`` through ``F``),
every earlier share of the cascade when it has not (the Hawkes likelihood of the cascade
conditioned on its original post, the immigrant, whose kernel weight is ``n0``). :class:`Pairs`
holds the candidate pairs; :func:`negloglik` is ``-log L`` with its gradient in
``(log n, log kernel parameters[, beta], log n0)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from spreadsim.errors import DataError
from spreadsim.fit.kernels import Family

#: candidate pairs (source, target) the Hawkes likelihood may hold in memory
MAX_PAIRS = 10_000_000


@dataclass(frozen=True)
class Pairs:
    """Candidate (parent, child) pairs, sorted by child, and what the compensator needs.

    ``src``/``dst`` index the shares (all events, roots included); ``delay`` is ``t_dst - t_src``;
    ``starts`` the first pair of every reshare (``targets``); ``window`` every share's
    ``T - t_i``; ``logw`` every share's ``log(1 + followers)`` (None without marks); ``root``
    whether a share is its cascade's original post.
    """

    src: np.ndarray
    dst: np.ndarray
    delay: np.ndarray
    starts: np.ndarray
    targets: np.ndarray
    window: np.ndarray
    logw: np.ndarray | None
    root: np.ndarray

    @property
    def n_reshares(self) -> int:
        return int(self.targets.shape[0])

    @property
    def single(self) -> bool:
        """One candidate parent per reshare (parent links)."""
        return self.starts.shape[0] == self.src.shape[0]


def tree_pairs(times: np.ndarray, parent: np.ndarray, window: np.ndarray,
               logw: np.ndarray | None) -> Pairs:
    """One pair per reshare: (its parent, itself)."""
    targets = np.flatnonzero(parent >= 0)
    src = parent[targets]
    return Pairs(src, targets, times[targets] - times[src], np.arange(targets.shape[0]), targets,
                 window, logw, parent < 0)


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
    return Pairs(src, dst, times[dst] - times[src], starts, targets, window, logw, pos == 0)


def marks(logw: np.ndarray | None, beta: float) -> tuple[np.ndarray, np.ndarray] | None:
    """``(log m, d log m / d beta)`` for every share, or None without marks."""
    if logw is None:
        return None
    a = beta * logw
    a_max = float(a.max())
    wb = np.exp(a - a_max)
    mean_logw = float(np.sum(wb * logw) / np.sum(wb))
    return a - a_max - math.log(float(np.mean(wb))), logw - mean_logw


def offspring_means(pairs: Pairs, log_n: float, log_n0: float) -> np.ndarray:
    """``log nu_i`` of every share: ``log n0`` for an original post, ``log n`` for a reshare."""
    return np.where(pairs.root, log_n0, log_n)


def negloglik(fam: Family, pairs: Pairs, x: np.ndarray) -> tuple[float, np.ndarray]:
    """``-log L`` and its gradient at ``x = (log n, log kernel parameters[, beta], log n0)``."""
    k = len(fam.params)
    log_n, xk, log_n0 = float(x[0]), x[1 : 1 + k], float(x[-1])
    mk = marks(pairs.logw, float(x[1 + k])) if pairs.logw is not None else None
    grad = np.zeros_like(x, dtype=float)
    lnu = offspring_means(pairs, log_n, log_n0)
    # compensator sum_i nu_i m_i F(window_i)
    cdf, dcdf = fam.cdf(xk, pairs.window)
    w = np.exp(lnu + mk[0]) if mk is not None else np.exp(lnu)
    wc = w * cdf
    comp = float(np.sum(wc))
    grad[-1] = float(np.sum(wc[pairs.root]))
    grad[0] = comp - grad[-1]
    for i, dc in enumerate(dcdf):
        grad[1 + i] = float(np.sum(w * dc))
    if mk is not None:
        grad[1 + k] = float(np.sum(wc * mk[1]))
    if pairs.src.shape[0] == 0:
        return comp, grad
    # sum_j log g_j, g_j = sum_p nu_p m_p phi(delay_p) (log-sum-exp within each target)
    lp, dlp = fam.logpdf(xk, pairs.delay)
    a = lp + lnu[pairs.src] + (mk[0][pairs.src] if mk is not None else 0.0)
    if pairs.single:  # one candidate each: no sums needed
        if not np.all(np.isfinite(a)):
            return math.inf, grad
        ll = float(np.sum(a))
        resp = np.ones(a.shape[0])
    else:
        amax = np.maximum.reduceat(a, pairs.starts)
        if not np.all(np.isfinite(amax)):
            return math.inf, grad
        reps = np.diff(np.append(pairs.starts, a.shape[0]))
        e = np.exp(a - np.repeat(amax, reps))
        gsum = np.add.reduceat(e, pairs.starts)
        ll = float(np.sum(amax) + np.sum(np.log(gsum)))
        resp = e / np.repeat(gsum, reps)
    value = comp - ll
    if not math.isfinite(value):
        return math.inf, grad
    from_root = pairs.root[pairs.src]
    r0 = float(np.sum(resp[from_root]))
    grad[-1] -= r0
    grad[0] -= float(np.sum(resp)) - r0
    for i, d in enumerate(dlp):
        grad[1 + i] -= float(np.sum(resp * d))
    if mk is not None:
        grad[1 + k] -= float(np.sum(resp * mk[1][pairs.src]))
    return value, grad


TINY = 1e-300


def best_log_n(fam: Family, pairs: Pairs, y: np.ndarray) -> tuple[float, float]:
    """``(log n, log n0)`` maximising the likelihood at the other working parameters ``y`` (the
    kernel's log parameters[, beta]).

    With ``S1 = sum_{i reshare} m_i F(T - t_i)`` and ``S0`` the same over the original posts:
    with parent links, in closed form, ``n = N1 / S1`` and ``n0 = N0 / S0`` (``N1``, ``N0``
    the reshares whose parent is a reshare, an original post). Without them, ``N = n S1 + n0 S0``
    still holds at the optimum; writing ``n0 = q N / S0``, ``n = (1 - q) N / S1``, the
    log-likelihood is concave in ``q`` in ``[0, 1]``: its root is found by Brent's method.
    """
    k = len(fam.params)
    cdf, _ = fam.cdf(y[:k], pairs.window)
    mk = marks(pairs.logw, float(y[k])) if pairs.logw is not None else None
    wc = np.exp(mk[0]) * cdf if mk is not None else cdf
    s0 = max(float(np.sum(wc[pairs.root])), TINY)
    s1 = max(float(np.sum(wc[~pairs.root])), TINY)
    n_all = pairs.n_reshares
    if pairs.single:
        n0_count = int(np.count_nonzero(pairs.root[pairs.src]))
        return (math.log(max(n_all - n0_count, TINY) / s1), math.log(max(n0_count, TINY) / s0))
    if n_all == 0:
        return math.log(TINY), math.log(TINY)
    # per reshare: the root's term A_j and the other shares' B_j, scaled by a common factor
    lp, _ = fam.logpdf(y[:k], pairs.delay)
    a = lp + (mk[0][pairs.src] if mk is not None else 0.0)
    from_root = pairs.root[pairs.src]
    amax = np.maximum.reduceat(np.where(np.isfinite(a), a, -np.inf), pairs.starts)
    amax = np.where(np.isfinite(amax), amax, 0.0)
    e = np.exp(a - np.repeat(amax, np.diff(np.append(pairs.starts, a.shape[0]))))
    big_a = np.add.reduceat(np.where(from_root, e, 0.0), pairs.starts) / s0
    big_b = np.add.reduceat(np.where(from_root, 0.0, e), pairs.starts) / s1

    def slope(q: float) -> float:
        g = q * big_a + (1.0 - q) * big_b
        with np.errstate(over="ignore"):  # +-inf at an end where some reshare has g = 0
            return float(np.sum((big_a - big_b) / np.maximum(g, TINY)))

    # at q = 0 (or 1) the slope is +inf (-inf) when some reshare can only be the original
    # post's child (a reshare's): bracket just inside, where it is finite
    lo, hi = 0.0, 1.0
    if math.isinf(slope(0.0)):
        lo = 1e-12
    if math.isinf(slope(1.0)):
        hi = 1.0 - 1e-12
    if slope(lo) <= 0.0:
        q = lo
    elif slope(hi) >= 0.0:
        q = hi
    else:
        q = float(optimize.brentq(slope, lo, hi, xtol=1e-14, rtol=1e-12))
    return (math.log(max((1.0 - q) * n_all, TINY) / s1), math.log(max(q * n_all, TINY) / s0))


def full_x(fam: Family, pairs: Pairs, y: np.ndarray) -> np.ndarray:
    """The working vector ``(log n, y, log n0)`` with ``n`` and ``n0`` at their best for ``y``."""
    log_n, log_n0 = best_log_n(fam, pairs, y)
    return np.concatenate(([log_n], y, [log_n0]))


def negloglik_profiled(fam: Family, pairs: Pairs, y: np.ndarray) -> tuple[float, np.ndarray]:
    """``-log L`` with ``n`` and ``n0`` at their best values for ``y`` (the kernel's log
    parameters[, beta]), and its gradient in ``y`` (by the envelope theorem, the partial
    derivatives at those values)."""
    v, g = negloglik(fam, pairs, full_x(fam, pairs, y))
    return v, g[1:-1]


def compensator_at_events(fam: Family, pairs: Pairs, x: np.ndarray) -> np.ndarray:
    """``Lambda(t_j)`` for every reshare ``j`` (``pairs`` must hold every earlier share of the
    cascade, :func:`hawkes_pairs`): ``sum_{i before j} nu_i m_i F(t_j - t_i)``."""
    k = len(fam.params)
    mk = marks(pairs.logw, float(x[1 + k])) if pairs.logw is not None else None
    cdf, _ = fam.cdf(x[1 : 1 + k], pairs.delay)
    lw = offspring_means(pairs, float(x[0]), float(x[-1]))[pairs.src]
    if mk is not None:
        lw = lw + mk[0][pairs.src]
    cdf = cdf * np.exp(lw)
    return np.add.reduceat(cdf, pairs.starts) if cdf.shape[0] else cdf


__all__ = ["MAX_PAIRS", "Pairs", "best_log_n", "compensator_at_events", "full_x", "hawkes_pairs",
           "marks", "negloglik", "negloglik_profiled", "offspring_means", "tree_pairs"]
