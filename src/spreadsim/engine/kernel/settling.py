"""Settling at the end of a run: the inert exposures counted once every removal time is final
(:func:`settle_inert`), and the span of the tracked first exposures (:func:`first_span`)."""

from __future__ import annotations

import math

import numpy as np

from spreadsim.engine.kernel.layout import (
    LF_DEADLINE,
    LF_TIME,
    LI_FLAGS,
    LI_POST,
    LI_SRC,
    LI_USER,
    LOG_FIRST,
    LOG_SETTLED,
    PF_CUT,
    PF_REMOVED,
    PH_TICKS,
    PI_LEGAL,
    PI_PH_TICKS,
    PI_REACH,
    PI_VIEWS,
    Work,
)
from spreadsim.engine.kernel.sets import seen_add
from spreadsim.jit import njit


@njit(cache=True, inline="always", _nrt=False)
def _bin(t: float, step: float, inv_step: float, nbins: int) -> int:  # pragma: no cover
    """The reach-histogram bin of a first exposure at ``t``: the k with (k-1) step < t <= k step
    (the products in floating point), at most ``nbins - 1``. ceil(t / step) from a product that
    may be one off near a bin edge, then made exact by the comparisons."""
    b = int(math.ceil(t * inv_step))
    if t > b * step:
        b += 1
    if b > 0 and t <= (b - 1) * step:
        b -= 1
    return min(b, nbins - 1)


@njit(cache=True, inline="always", _nrt=False)
def _end_ticks(pf: np.ndarray, q: int, dl: float, horizon: float) -> int:  # pragma: no cover
    """The tick at which a first exposure of post ``q`` (its copy's deadline ``dl``) ends."""
    return int(np.rint(min(pf[q, PF_REMOVED], dl, horizon) * PH_TICKS))


@njit(cache=True, _nrt=False)
def _settle_scan(w: Work, step: float, buf: np.ndarray, every: bool) -> int:  # pragma: no cover
    """:func:`settle_inert` on a bitset ``seen`` and a histogram, the keys scanned in key order;
    returns the users newly reached. (A function of its own: its loops get the registers.)

    Key order is post by post (no division per key). The keys that count (touched, before the
    removals, not exposed through the event queue: their bit in the bitset ``seen``, which is
    read, not updated, as nothing reads it after settling) are first gathered into ``buf``
    without a branch on the data (times row 0, copy deadlines row 1), then counted: the
    unpredictable tests cost no mispredicted branches.
    """
    pf, pi, seen, first, hist, last = w.pf, w.pi, w.seen, w.first, w.hist, w.hist_last
    n_users = w.indptr.shape[0] - 1
    horizon = w.state[0].horizon
    track_deadline = first.shape[0] > 1
    nbins = hist.shape[1]
    inv_step = 1.0 / step
    latest = last[0]
    cap = buf.shape[1]
    n_reached = 0
    # (1-d views and unsigned indices: no multiply by a row length and no negative-index
    # wraparound in the per-key loops; every index is >= 0)
    row0 = first[0]
    row1 = first[1] if track_deadline else first[0]
    b0, b1 = buf[0], buf[1]
    for q in range(first.shape[1] // n_users):
        base = q * n_users
        stop = base + n_users
        removed = pf[q, PF_CUT]  # (the tie rule; a copy's deadline was applied at scheduling)
        h = hist[pi[q, PI_LEGAL]]
        cdl, cend = math.inf, _end_ticks(pf, q, math.inf, horizon)
        reach = 0
        ph = 0
        word = seen[np.uint64(base >> 6)]
        m = 0
        key = base
        while key < stop:
            if (key & 63) == 0:
                word = seen[np.uint64(key >> 6)]
            t = row0[np.uint64(key)]
            dl = row1[np.uint64(key)] if track_deadline else math.inf
            b0[np.uint64(m)] = t
            b1[np.uint64(m)] = dl
            valid = (t < removed) & (t < dl)
            fresh = valid & (((word >> (key & 63)) & 1) == 0)
            reach += 1 if fresh else 0
            m += 1 if fresh | (valid & every) else 0
            key += 1
            if m == cap or key == stop:
                for i in range(m):
                    t = b0[np.uint64(i)]
                    dl = b1[np.uint64(i)]
                    if dl != cdl:
                        cdl, cend = dl, _end_ticks(pf, q, dl, horizon)
                    ph += cend - int(np.rint(t * PH_TICKS))
                    h[np.uint64(_bin(t, step, inv_step, nbins))] += 1
                    latest = max(latest, t)
                m = 0
        pi[q, PI_REACH] += reach
        pi[q, PI_PH_TICKS] += ph
        n_reached += reach
    last[0] = latest
    return n_reached


@njit(cache=True, _nrt=False)
def settle_inert(w: Work, step: float, scan: bool, buf: np.ndarray) -> None:  # pragma: no cover
    """Settle the inert exposures once removals are final: a buffered exposure before its post's
    (and copy's) removal is a view; the earliest inert exposure of a user not exposed through
    the event queue is their first exposure if it came before the removal (ties: the earliest
    scheduled).

    With ``state.unlogged`` set, the event queue's first exposures were not logged: they are
    counted (or logged) here from ``w.first`` too, where their time is (a first exposure through
    the queue is the earliest exposure of its key), but their reach was counted already.
    When ``w.hist`` has bins (only with ``state.unlogged`` set), every first exposure is counted
    straight into the reach-over-time histogram (``hist[legal, k]``: first exposures in
    ``((k-1) step, k step]``), its exposure person-hours into ``pi[:, PI_PH_TICKS]`` and its time
    into the latest, ``w.hist_last[0]``. Otherwise settled first exposures are logged (flags
    LOG_FIRST | LOG_SETTLED, source -1), and the log must have room for ``state.n_touched`` more
    rows. The counters ``n_inert`` and ``n_touched`` are left as they were (the engine resets them).
    ``scan``: visit the tracked keys by scanning ``first`` in key order (an array indexed by key)
    rather than in the order they were touched; the same counts, read sequentially.
    ``buf``: scratch room, shape (2, any > 0).
    """
    s = w.state[0]
    pf, pi, seen, first, first_keys, touched = w.pf, w.pi, w.seen, w.first, w.first_keys, w.touched
    inert_f, inert_i, log_f, log_i, hist = w.inert_f, w.inert_i, w.log_f, w.log_i, w.hist
    n_users = w.indptr.shape[0] - 1
    horizon = s.horizon
    dense = s.dense != 0
    mapped = s.mapped != 0
    every = s.unlogged != 0  # count the keys exposed through the queue too (not their reach)
    track_deadline = first.shape[0] > 1
    nbins = hist.shape[1]
    for r in range(s.n_inert):
        q = inert_i[r, 0]
        if inert_f[r, 0] < pf[q, PF_CUT] and inert_f[r, 0] < inert_f[r, 1]:
            pi[q, PI_VIEWS] += 1
    if scan and nbins > 0 and dense:
        s.n_seen += _settle_scan(w, step, buf, every)
        return
    j = s.log_len
    inv_step = 1.0 / step
    latest = w.hist_last[0]
    for c in range(first.shape[1] if scan else s.n_touched):
        if scan:
            t = first[0, c]
            if t == math.inf:
                continue  # never touched
            slot = c
        else:
            slot = touched[c]
            t = first[0, slot]
        key = first_keys[slot] if mapped else slot
        q = key // n_users
        dl = first[1, slot] if track_deadline else math.inf
        if t >= pf[q, PF_CUT] or t >= dl:
            continue
        if seen_add(seen, key, dense):
            s.n_seen += 1
            pi[q, PI_REACH] += 1
        elif not every:
            continue  # counted through the queue
        if nbins > 0:
            pi[q, PI_PH_TICKS] += _end_ticks(pf, q, dl, horizon) - int(np.rint(t * PH_TICKS))
            hist[pi[q, PI_LEGAL], _bin(t, step, inv_step, nbins)] += 1
            latest = max(latest, t)
            continue
        log_f[j, LF_TIME] = t
        log_f[j, LF_DEADLINE] = dl
        log_i[j, LI_POST] = q
        log_i[j, LI_USER] = key - q * n_users
        log_i[j, LI_SRC] = -1  # the source of an inert first exposure is not kept
        log_i[j, LI_FLAGS] = LOG_FIRST | LOG_SETTLED
        j += 1
    w.hist_last[0] = latest
    s.log_len = j


@njit(cache=True, _nrt=False)
def first_span(first: np.ndarray, touched: np.ndarray, n_touched: int, scan: bool) -> float:  # pragma: no cover
    """The latest tracked earliest-exposure time (0 if none): a bound on the last settled first
    exposure. ``scan`` as in :func:`settle_inert`."""
    m = 0.0
    row = first[0]
    if scan:
        for k in range(row.shape[0]):
            t = row[np.uint64(k)]  # (unsigned: no negative-index wraparound)
            if t > m and t != math.inf:
                m = t
    else:
        for c in range(n_touched):
            t = row[touched[c]]
            if t > m:
                m = t
    return m
