"""Cascades drawn from the model the fit assumes: a marked Hawkes (branching) process, right-censored.

Every share ``i`` at time ``t_i`` has a Poisson number of direct reshares with mean
``nu_i m_i F(T - t_i)`` (``nu_i`` is ``n0`` for an original post, ``n`` for a reshare) before
the observation end ``T`` (``m_i`` its mark, 1 without followers), each after a delay drawn
from the kernel truncated to ``[0, T - t_i]``: exactly the cluster representation of the
process the likelihood of :mod:`spreadsim.fit.likelihood` describes. The tests draw the truth
from here; :meth:`CascadeFit` uses it for the size distribution of the fit. One seeded numpy
Generator, so the same arguments give the same table.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from spreadsim.errors import ConfigError
from spreadsim.fit.kernels import FAMILIES, log_params

LINKS = ("tree", "root", "none")


def grow(kernel: str, x_kernel: np.ndarray, n: float, times: np.ndarray, windows: np.ndarray,
         rng: np.random.Generator, *, n0: float | None = None, logm: np.ndarray | None = None,
         mark_pool: np.ndarray | None = None, max_events: int = 5_000_000
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Grow cascades from their original posts, generation by generation.

    ``times``/``windows``: each original post's time and observation end minus that time;
    ``n``/``n0``: the offspring mean of a reshare and of an original post (None: ``n``);
    ``logm``: the originals' log marks; ``mark_pool``: log marks reshares draw theirs from.
    Returns per share ``(cascade, parent index or -1, time since the original, log mark, index
    into the pool or -1)``, the originals first.
    """
    fam = FAMILIES[kernel]
    k0 = times.shape[0]
    casc = [np.arange(k0)]
    par = [np.full(k0, -1, dtype=np.int64)]
    age = [np.zeros(k0)]
    lm = [np.zeros(k0) if logm is None else np.asarray(logm, dtype=float)]
    pick = [np.full(k0, -1, dtype=np.int64)]
    front = np.arange(k0)
    total = k0
    while front.shape[0]:
        f_age, f_casc = np.concatenate(age)[front], np.concatenate(casc)[front]
        left = windows[f_casc] - f_age
        cdf, _ = fam.cdf(x_kernel, left)
        mean = (n if total > k0 or n0 is None else n0) * np.exp(np.concatenate(lm)[front]) * cdf
        counts = rng.poisson(mean)
        m = int(counts.sum())
        if m == 0:
            break
        if total + m > max_events:
            raise ConfigError("n", n, f"the cascades grew past {max_events:,} shares; use a smaller "
                              "n or a shorter observation")
        parent = np.repeat(front, counts)
        u = rng.random(m) * np.repeat(cdf, counts)
        delay = np.minimum(fam.draw(x_kernel, u), np.repeat(left, counts))
        casc.append(np.repeat(f_casc, counts))
        par.append(parent)
        age.append(np.repeat(f_age, counts) + delay)
        if mark_pool is None:
            lm.append(np.zeros(m))
            pick.append(np.full(m, -1, dtype=np.int64))
        else:
            pick.append(rng.integers(0, mark_pool.shape[0], m))
            lm.append(mark_pool[pick[-1]])
        front = np.arange(total, total + m)
        total += m
    return (np.concatenate(casc), np.concatenate(par), np.concatenate(age), np.concatenate(lm),
            np.concatenate(pick))


def simulate_cascades(kernel: str, params: Mapping[str, float], n: float, cascades: int, *,
                      observed_until: float, window_h: float = 0.0, seed: int = 0,
                      links: str = "tree", followers: np.ndarray | None = None,
                      beta: float = 0.0, n0: float | None = None) -> pa.Table:
    """A table of share events in the fit's input format (times in hours).

    Parameters
    ----------
    kernel, params : str, mapping
        The feed-delay kernel and its parameters as ``spread.kernel`` names them.
    n : float
        The branching factor (mean direct reshares per reshare).
    n0 : float, optional
        The mean direct reshares of an original post (None: ``n``).
    cascades : int
        Original posts, at times uniform over ``[0, window_h]``.
    observed_until : float
        The observation end (hours), the same for every cascade (a column of the table).
    links : str
        ``tree``: each reshare names its parent; ``root``: each names the original post (as
        platforms record reshares); ``none``: no ``parent`` column.
    followers : array, optional
        Follower counts every share draws its own from (uniformly); with them, a share's
        offspring mean is ``n w^beta / mean(w^beta)``, ``w = 1 + followers`` over this pool.
    """
    if links not in LINKS:
        raise ConfigError("links", links, "must be one of " + ", ".join(LINKS))
    if window_h > observed_until:
        raise ConfigError("window_h", window_h, f"must be <= observed_until ({observed_until:g})")
    rng = np.random.default_rng(seed)
    x = log_params(kernel, dict(params))
    t0 = rng.random(cascades) * window_h
    pool_f = None if followers is None else np.asarray(followers, dtype=np.int64)
    pool = None
    logm0 = idx0 = None
    if pool_f is not None:
        a = beta * np.log1p(pool_f)
        pool = a - np.log(np.mean(np.exp(a)))
        idx0 = rng.integers(0, pool.shape[0], cascades)
        logm0 = pool[idx0]
    casc, par, age, _, pick = grow(kernel, x, n, t0, observed_until - t0, rng, n0=n0, logm=logm0,
                                   mark_pool=pool)
    order = np.lexsort((np.arange(casc.shape[0]), age, casc))
    cols: dict[str, pa.Array] = {"cascade": pa.array(casc[order]), "event": pa.array(order)}
    if links != "none":
        # originals are shares 0..cascades-1, so the original of cascade c is share c
        p = par if links == "tree" else np.where(par >= 0, casc, -1)
        cols["parent"] = pa.array(p[order], mask=p[order] < 0)
    cols["time"] = pa.array(t0[casc[order]] + age[order])
    if pool_f is not None and idx0 is not None:
        pick[:cascades] = idx0
        cols["followers"] = pa.array(pool_f[pick[order]])
    cols["observed_until"] = pa.array(np.full(casc.shape[0], float(observed_until)))
    return pa.table(cols)


__all__ = ["LINKS", "grow", "simulate_cascades"]
