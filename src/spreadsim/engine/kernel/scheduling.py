"""A share: the exposure of every follower of the sharer, scheduled on the heap or, when it can
trigger nothing, counted or buffered as a view (:func:`share`, and :func:`_share` inlined into
the event loop)."""

from __future__ import annotations

import math

import numpy as np

from spreadsim.dists import decay_factor, delay_from_uniform, delay_surely_before, latency_from_uniform
from spreadsim.engine.kernel.heap import _push
from spreadsim.engine.kernel.layout import (
    CF_A,
    CF_B,
    CF_PROB,
    CI_KEY,
    CI_KIND,
    CI_NEXT,
    PF_DECAY_A,
    PF_DECAY_B,
    PF_LIMIT,
    PF_NOTICE_P,
    PF_P,
    PF_T0,
    PI_CLOCKS,
    PI_DECAY_KIND,
    PI_DELAY_KEY,
    PI_NOTICE_KEY,
    PI_REACH_TRIGGER,
    PI_SHARE_KEY,
    PI_UPLOADER,
    PI_VIEWS,
    Work,
)
from spreadsim.engine.kernel.sets import first_slot
from spreadsim.engine.kernel.timing import removal_cut
from spreadsim.jit import njit, prefetch
from spreadsim.rng import uniform


@njit(cache=True, inline="always", _nrt=False)
def copy_deadline(w: Work, q: int, u: int, t: float) -> float:  # pragma: no cover
    """The removal time of the copy of post ``q`` that user ``u`` shares at ``t`` (``inf``: none):
    the earliest of the post's per-copy clocks (rows of ``w.clock_f``/``w.clock_i`` linked from
    ``w.pi[q, PI_CLOCKS]``), whatever order the policies set them in. Each clock removes the copy
    with probability ``CF_PROB`` (coin ``uniform(key, u, 1)``) a latency after the share
    (quantile ``uniform(key, u, 0)``), ``key`` being the clock's own (``CI_KEY``)."""
    clock_f, clock_i = w.clock_f, w.clock_i
    deadline = math.inf
    c = w.pi[q, PI_CLOCKS] - 1
    while c >= 0:
        ckey = clock_i[c, CI_KEY]
        if uniform(ckey, u, 1) < clock_f[c, CF_PROB]:
            deadline = min(deadline, t + latency_from_uniform(
                clock_i[c, CI_KIND], clock_f[c, CF_A], clock_f[c, CF_B], w.lat_table, uniform(ckey, u, 0)))
        c = clock_i[c, CI_NEXT]
    return deadline


@njit(cache=True, _nrt=False)
def share(w: Work, q: int, u: int, t: float) -> None:  # pragma: no cover
    """User ``u`` shares post ``q`` at time ``t``: schedule an exposure of every follower (see
    :func:`_share`)."""
    _share(w, w.hf.reshape(-1), w.hi.reshape(-1), q, u, t)


@njit(cache=True, inline="always", _nrt=False)
def _share(w: Work, hf: np.ndarray, hi: np.ndarray, q: int, u: int, t: float) -> None:  # pragma: no cover
    """User ``u`` shares post ``q`` at time ``t``: schedule an exposure of every follower
    (``hf``, ``hi``: flat views of ``w.hf``, ``w.hi``, as :func:`_push` takes them).

    With ``state.track`` (all modes but the one where every exposure is an event), the
    earliest exposure scheduled so far is tracked per (post, user) in ``w.first`` (indexed by
    key, or through the open-addressing map ``w.first_keys`` when there are too many keys
    (``state.mapped``); ``first[0]`` the times, ``first[1]``, if present, the deadlines of their
    copies), like a tentative distance
    in Dijkstra's algorithm. Only an exposure earlier than it can be the user's first, so every
    other exposure is a view and nothing more: it skips the heap (as does a repeat of a user
    already processed, which is necessarily later). An earlier exposure goes to the heap when it
    may trigger something: always while the post's reach is live (``state.trigger_live`` and a
    pending reach trigger: first exposures are live),
    otherwise when the user would reshare at this age (the coin is below ``share_prob * decay(age)``, an
    upper bound since throttles only lower it: ``Simulation.throttle`` rejects a factor above 1)
    or files a notice. Reshare probability falls with
    age, so a user's earliest exposure is live whenever any of their exposures is: first
    exposures of users who may act are processed in time order; the earliest exposure of the
    others is settled from ``first``. An exposure that may fire with a later removal time is
    exactly as certain as the earliest one (a post's removal cancels every exposure at or after
    it; a copy's clock is known at scheduling), so dropping the later ones loses nothing.
    Skipped views are counted at once when removal times are final at upload (``state.final``),
    else buffered. :func:`settle_inert` settles both at the end.
    """
    s = w.state[0]
    pf, pi, first, first_keys, touched = w.pf, w.pi, w.first, w.first_keys, w.touched
    indptr, indices = w.indptr, w.indices
    inert_f, inert_i, notice_weight = w.inert_f, w.inert_i, w.notice_weight
    horizon = s.horizon
    deadline = copy_deadline(w, q, u, t)
    dcut = removal_cut(deadline)  # (the tie rule)
    dkey = pi[q, PI_DELAY_KEY]
    skey = pi[q, PI_SHARE_KEY]
    nkey = pi[q, PI_NOTICE_KEY]
    notice_p = pf[q, PF_NOTICE_P]
    p_max = pf[q, PF_P]  # an upper bound: a throttle (PF_SCALE, in [0, 1]) only lowers it
    t0 = pf[q, PF_T0]
    dk, da, db = pi[q, PI_DECAY_KIND], pf[q, PF_DECAY_A], pf[q, PF_DECAY_B]
    # track earliest exposures (skip the heap when nothing can happen) unless every exposure is
    # an event; first exposures are live while a reach trigger of this post is pending
    track = s.track != 0
    reach_live = s.trigger_live != 0 and pi[q, PI_REACH_TRIGGER] > 0
    mapped = s.mapped != 0
    final = s.final != 0
    track_deadline = first.shape[0] > 1
    limit = pf[q, PF_LIMIT]  # (a cut already)
    n_users = indptr.shape[0] - 1
    kind = int(w.delay_par[0])
    a = w.delay_par[1]
    b = w.delay_par[2]
    uploader = pi[q, PI_UPLOADER]
    size = s.heap_size
    seq = s.next_seq
    n_inert = s.n_inert
    n_touched = s.n_touched
    views = 0
    lo, hi_ = indptr[u], indptr[u + 1]
    # (the hot arrays are indexed with unsigned ints, so that numba adds no negative-index
    # wraparound to each access; every index here is >= 0)
    row = first[0]  # earliest times, by key or by slot of the map
    if track and not mapped:
        # ask for every follower's earliest-exposure time at once: the misses overlap
        base = q * n_users
        for e in range(lo, hi_):
            prefetch(row, base + indices[e])
    # a repeat is only a view when removal times are final: it needs no delay if it will surely
    # come before the removal and the end (draws below ``sure``) and the user was exposed by now
    sure = 0.0
    if final and track and not mapped:
        sure = delay_surely_before(kind, a, b, t, min(dcut, horizon, limit))
    for e in range(lo, hi_):
        v = indices[np.uint64(e)]
        if v == uploader:
            continue
        x = uniform(dkey, u, v)
        if x < sure and row[np.uint64(q * n_users + v)] <= t:
            seq += 1
            views += 1
            continue
        te = t + delay_from_uniform(kind, a, b, x)
        if te >= dcut or te >= horizon or te >= limit:
            continue  # at or after the copy's or post's (scheduled) removal, or the end: never
        seq += 1
        if track:
            # the earliest exposure scheduled so far per (post, user): only an exposure earlier
            # than it can be the user's first, so only such an exposure may need the event queue
            # (a repeat of a user already processed is later than its first exposure, too)
            k = q * n_users + v
            slot = first_slot(first_keys, k) if mapped else k
            cur = row[np.uint64(slot)]
            if te < cur:
                if cur == math.inf:  # first touch: remember the slot
                    touched[np.uint64(n_touched)] = slot
                    n_touched += 1
                row[np.uint64(slot)] = te
                if track_deadline:
                    first[1, slot] = deadline
                if reach_live or (
                        uniform(skey, v, 0) < p_max * decay_factor(dk, da, db, te - t0)
                        or (notice_p > 0.0 and uniform(nkey, v, 0) < notice_p * notice_weight[v])):
                    size = _push(hf, hi, size, te, deadline, seq, q, v, u)
                    continue
            # a view only: a later exposure, or one of a user who will not act at this age
            if final:
                views += 1  # removal times are final: this view will happen
                continue
            inert_f[n_inert, 0] = te
            inert_f[n_inert, 1] = deadline
            inert_i[n_inert, 0] = q
            n_inert += 1
            continue
        size = _push(hf, hi, size, te, deadline, seq, q, v, u)
    s.heap_size = size
    s.next_seq = seq
    s.n_inert = n_inert
    s.n_touched = n_touched
    pi[q, PI_VIEWS] += views
