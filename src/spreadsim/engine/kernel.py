"""The compiled spread kernel: every exposure and reshare between two SimPy events.

SimPy is the master clock of a simulation (:mod:`spreadsim.engine.simulation`). Spread events (a follower
exposed to a post after a feed delay, a reshare on first exposure) are far too many to be SimPy
events, so they live in one binary heap here. Before SimPy processes its next event at time T, the
engine calls :func:`advance` to process every spread event due strictly before T; nothing else can
happen in between, so the order of events is exactly that of one global event queue. When a policy
asks to see exposures or shares, :func:`advance` stops after such an event and the engine replays it
as a SimPy event at its own time, where the policy's hook runs.

Removal never races spreading: an exposure is checked at fire time against its post's removal time
(``cascade``: removing a post removes every share of it) and against the removal time of the copy
that caused it (``per_copy``: each share has its own clock); an exposure due at or after removal
never happens.

Randomness is counter based (:mod:`spreadsim.engine.rng`): the delay on edge u->v of post q and the reshare
coin of user v for post q are fixed functions of (post key, u, v), whatever order events run in.
"""

from __future__ import annotations

import math

import numpy as np

from spreadsim.dists import decay_factor, delay_from_uniform, delay_surely_before, latency_from_uniform
from spreadsim.engine.rng import _mix, subkey, uniform
from spreadsim.jit import njit, prefetch

# return codes of advance()
DONE, STOPPED, GROW = 0, 1, 2
# bits of the events reported to Python (meta[3] holds the bits of the reported exposure)
EV_EXPOSURE, EV_SHARE, EV_NOTICE, EV_THRESHOLD = 1, 2, 4, 8
# columns of the per-post float and int tables
(PF_T0, PF_P, PF_REMOVED, PF_DECAY_A, PF_DECAY_B, PF_COPY_A, PF_COPY_B, PF_COPY_PROB, PF_SCALE,
 PF_NOTICE_P, PF_LIMIT) = range(11)
NPF = 11
(PI_KEY, PI_UPLOADER, PI_DECAY_KIND, PI_COPY_KIND, PI_VIEWS, PI_REACH, PI_SHARES, PI_NOTICE_KEY,
 PI_REACH_TRIGGER, PI_LEGAL, PI_PH_TICKS, PI_DELAY_KEY, PI_SHARE_KEY) = range(13)
NPI = 13  # PI_DELAY_KEY, PI_SHARE_KEY: subkey(PI_KEY, 0) and subkey(PI_KEY, 1), set at upload
PH_TICKS = 65536.0  # exposure person-hours are summed in exact integer units of 1/65536 h
# heap columns
HF_TIME, HF_DEADLINE = 0, 1
HI_SEQ, HI_POST, HI_USER, HI_SRC = 0, 1, 2, 3


# The heap's rows are read through flat views with unsigned indices: a row is then a shift away
# (no multiply by the row length) and numba adds no negative-index wraparound to each access.
# Counted with valgrind on the benchmark's runs: a pop went from 710 to 500 instructions (about
# 10 levels each), and a run from 69 to 59 million instructions with the same change in share()
# and settle_inert().
_U0, _U1, _U2, _U4 = np.uint64(0), np.uint64(1), np.uint64(2), np.uint64(4)


@njit(cache=True, inline="always", _nrt=False)
def _set_row(f: np.ndarray, g: np.ndarray, i: np.uint64, t: float, deadline: float, seq: int,
             post: int, user: int, src: int) -> None:  # pragma: no cover
    """Write heap row ``i`` (``f``, ``g`` as in :func:`_push`)."""
    f[i * _U2] = t
    f[i * _U2 + _U1] = deadline
    j = i * _U4
    g[j] = seq
    g[j + _U1] = post
    g[j + _U2] = user
    g[j + np.uint64(3)] = src


@njit(cache=True, inline="always", _nrt=False)
def _copy_row(f: np.ndarray, g: np.ndarray, src: np.uint64, dst: np.uint64) -> None:  # pragma: no cover
    """Copy heap row ``src`` to row ``dst`` (``f``, ``g``: flat views of the float and int rows)."""
    fs, gs = src * _U2, src * _U4
    _set_row(f, g, dst, f[fs], f[fs + _U1], g[gs], g[gs + _U1], g[gs + _U2], g[gs + np.uint64(3)])


@njit(cache=True, inline="always", _nrt=False)
def _push(f: np.ndarray, g: np.ndarray, size: int, t: float, deadline: float, seq: int,
          post: int, user: int, src: int) -> int:  # pragma: no cover
    """Insert an event into the binary heap ordered by (time, sequence number); ``f``, ``g``: flat
    views of the heap's float rows (time, deadline) and int rows (sequence, post, user, source)."""
    i = np.uint64(size)
    while i != _U0:  # move the hole up past every later parent
        parent = (i - _U1) >> _U1
        pt = f[parent * _U2]
        if t < pt or (t == pt and seq < g[parent * _U4]):
            _copy_row(f, g, parent, i)
            i = parent
        else:
            break
    _set_row(f, g, i, t, deadline, seq, post, user, src)
    return size + 1


@njit(cache=True, _nrt=False)
def _pop(f: np.ndarray, g: np.ndarray, size: int) -> int:  # pragma: no cover
    """Move the smallest event to slot ``size - 1`` and restore the heap on the rest (``f``, ``g``
    as in :func:`_push`)."""
    last = np.uint64(size - 1)
    # keep the root aside, sift the last element down from the root through a hole
    r_t, r_d = f[0], f[1]
    r_s, r_q, r_u, r_v = g[0], g[1], g[2], g[3]
    xt = f[last * _U2]
    xs = g[last * _U4]
    i = np.uint64(0)
    while True:
        c = i + i + _U1
        if c >= last:
            break
        d = c + _U1
        if d < last:
            ct, dt = f[c * _U2], f[d * _U2]
            if dt < ct or (dt == ct and g[d * _U4] < g[c * _U4]):
                c = d
        ct = f[c * _U2]
        if ct < xt or (ct == xt and g[c * _U4] < xs):
            _copy_row(f, g, c, i)
            i = c
        else:
            break
    if i != last:
        _copy_row(f, g, last, i)
    _set_row(f, g, last, r_t, r_d, r_s, r_q, r_u, r_v)
    return size - 1


@njit(cache=True, _nrt=False)
def share(indptr: np.ndarray, indices: np.ndarray, pf: np.ndarray, pi: np.ndarray,
          hf: np.ndarray, hi: np.ndarray, meta: np.ndarray, delay_par: np.ndarray,
          lat_table: np.ndarray, notice_weight: np.ndarray, inert_f: np.ndarray,
          inert_i: np.ndarray, first: np.ndarray, first_keys: np.ndarray, touched: np.ndarray,
          q: int, u: int, t: float, horizon: float) -> None:  # pragma: no cover
    """User ``u`` shares post ``q`` at time ``t``: schedule an exposure of every follower (see
    :func:`_share`; ``hf``, ``hi``: the heap's float and int rows)."""
    _share(indptr, indices, pf, pi, hf.reshape(-1), hi.reshape(-1), meta, delay_par, lat_table,
           notice_weight, inert_f, inert_i, first, first_keys, touched, q, u, t, horizon)


@njit(cache=True, inline="always", _nrt=False)
def _share(indptr: np.ndarray, indices: np.ndarray, pf: np.ndarray, pi: np.ndarray,
           hf: np.ndarray, hi: np.ndarray, meta: np.ndarray, delay_par: np.ndarray,
           lat_table: np.ndarray, notice_weight: np.ndarray, inert_f: np.ndarray,
           inert_i: np.ndarray, first: np.ndarray, first_keys: np.ndarray, touched: np.ndarray,
           q: int, u: int, t: float, horizon: float) -> None:  # pragma: no cover
    """User ``u`` shares post ``q`` at time ``t``: schedule an exposure of every follower
    (``hf``, ``hi``: flat views of the heap's rows, as :func:`_push` takes them).

    With inert exposures on (``meta[9]``) or live reach without live views (``meta[15]``: 2 for
    every post, 1 for posts with a pending reach trigger), the earliest
    exposure scheduled so far is tracked per (post, user) in ``first`` (indexed by key, or through
    the open-addressing map ``first_keys`` when there are too many keys; ``first[0]`` the times,
    ``first[1]``, if present, the deadlines of their copies), like a tentative distance
    in Dijkstra's algorithm. Only an exposure earlier than it can be the user's first, so every
    other exposure is a view and nothing more: it skips the heap (as does a repeat of a user
    already processed, which is necessarily later). An earlier exposure goes to the heap when it
    may trigger something: always while the post's reach is live (first exposures are live),
    otherwise when the user would reshare at this age (the coin is below ``share_prob * decay(age)``, an
    upper bound since throttles only lower it) or files a notice. Reshare probability falls with
    age, so a user's earliest exposure is live whenever any of their exposures is: first
    exposures of users who may act are processed in time order; the earliest exposure of the
    others is settled from ``first``. An exposure that may fire with a later removal time is
    exactly as certain as the earliest one (a post's removal cancels every exposure at or after
    it; a copy's clock is known at scheduling), so dropping the later ones loses nothing.
    Skipped views are counted at once when removal times are final at upload, else buffered.
    :func:`settle_inert` settles both at the end.
    """
    key = pi[q, PI_KEY]
    copy_kind = pi[q, PI_COPY_KIND]
    deadline = math.inf
    if copy_kind != 0:  # per-copy removal clock, drawn from the policy's own stream
        ckey = subkey(key, 3)
        if uniform(ckey, u, 1) < pf[q, PF_COPY_PROB]:
            deadline = t + latency_from_uniform(copy_kind, pf[q, PF_COPY_A], pf[q, PF_COPY_B],
                                                lat_table, uniform(ckey, u, 0))
    dkey = pi[q, PI_DELAY_KEY]
    skey = pi[q, PI_SHARE_KEY]
    nkey = pi[q, PI_NOTICE_KEY]
    notice_p = pf[q, PF_NOTICE_P]
    p_max = pf[q, PF_P] * max(1.0, pf[q, PF_SCALE])
    t0 = pf[q, PF_T0]
    dk, da, db = pi[q, PI_DECAY_KIND], pf[q, PF_DECAY_A], pf[q, PF_DECAY_B]
    # track earliest exposures (skip the heap when nothing can happen) unless every exposure is
    # live; first exposures are live when reach is counted live for this post
    track = meta[9] != 0 or meta[15] != 0
    reach_live = meta[15] == 2 or (meta[15] == 1 and pi[q, PI_REACH_TRIGGER] > 0)
    mapped = meta[12] != 0
    final = meta[13] != 0
    track_deadline = first.shape[0] > 1
    limit = pf[q, PF_LIMIT]
    n_users = indptr.shape[0] - 1
    kind = int(delay_par[0])
    a = delay_par[1]
    b = delay_par[2]
    uploader = pi[q, PI_UPLOADER]
    size = meta[0]
    seq = meta[1]
    n_inert = meta[8]
    n_touched = meta[11]
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
        sure = delay_surely_before(kind, a, b, t, min(deadline, horizon, limit))
    for e in range(lo, hi_):
        w = indices[np.uint64(e)]
        if w == uploader:
            continue
        x = uniform(dkey, u, w)
        if x < sure and row[np.uint64(q * n_users + w)] <= t:
            seq += 1
            views += 1
            continue
        te = t + delay_from_uniform(kind, a, b, x)
        if te >= deadline or te >= horizon or te >= limit:
            continue  # at or after the copy's or post's (scheduled) removal, or the end: never
        seq += 1
        if track:
            # the earliest exposure scheduled so far per (post, user): only an exposure earlier
            # than it can be the user's first, so only such an exposure may need the event queue
            # (a repeat of a user already processed is later than its first exposure, too)
            k = q * n_users + w
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
                        uniform(skey, w, 0) < p_max * decay_factor(dk, da, db, te - t0)
                        or (notice_p > 0.0 and uniform(nkey, w, 0) < notice_p * notice_weight[w])):
                    size = _push(hf, hi, size, te, deadline, seq, q, w, u)
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
        size = _push(hf, hi, size, te, deadline, seq, q, w, u)
    meta[0] = size
    meta[1] = seq
    meta[8] = n_inert
    meta[11] = n_touched
    pi[q, PI_VIEWS] += views


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
def _settle_scan(pf: np.ndarray, pi: np.ndarray, seen: np.ndarray, n_users: int, first: np.ndarray,
                 hist: np.ndarray, step: float, horizon: float, last: np.ndarray, buf: np.ndarray,
                 every: bool) -> int:  # pragma: no cover
    """:func:`settle_inert` on a bitset ``seen`` and a histogram, the keys scanned in key order;
    returns the users newly reached. (A function of its own: its loops get the registers.)

    Key order is post by post (no division per key). The keys that count (touched, before the
    removals, not exposed through the event queue: their bit in the bitset ``seen``, which is
    read, not updated, as nothing reads it after settling) are first gathered into ``buf``
    without a branch on the data (times row 0, copy deadlines row 1), then counted: the
    unpredictable tests cost no mispredicted branches.
    """
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
        removed = pf[q, PF_REMOVED]
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
def settle_inert(pf: np.ndarray, pi: np.ndarray, seen: np.ndarray, n_users: int,
                 inert_f: np.ndarray, inert_i: np.ndarray, n_inert: int, log_f: np.ndarray,
                 log_i: np.ndarray, meta: np.ndarray, first: np.ndarray, first_keys: np.ndarray,
                 touched: np.ndarray, hist: np.ndarray, step: float, horizon: float,
                 last: np.ndarray, scan: bool, buf: np.ndarray) -> None:  # pragma: no cover
    """Settle the inert exposures once removals are final: a buffered exposure before its post's
    (and copy's) removal is a view; the earliest inert exposure of a user not exposed through
    the event queue is their first exposure if it came before the removal (ties: the earliest
    scheduled).

    With ``meta[14]`` set, the event queue's first exposures were not logged: they are counted
    (or logged) here from ``first`` too, where their time is (a first exposure through the queue
    is the earliest exposure of its key), but their reach was counted already.
    When ``hist`` has bins (only with ``meta[14]`` set), every first exposure is counted straight
    into the reach-over-time histogram (``hist[legal, k]``: first exposures in
    ``((k-1) step, k step]``), its exposure person-hours into ``pi[:, PI_PH_TICKS]`` and its time
    into the latest, ``last[0]``. Otherwise settled first exposures are logged, and the log must
    have room for ``meta[11]`` more rows.
    ``scan``: visit the tracked keys by scanning ``first`` in key order (an array indexed by key)
    rather than in the order they were touched; the same counts, read sequentially.
    ``buf``: scratch room, shape (2, any > 0).
    """
    dense = meta[10] != 0
    mapped = meta[12] != 0
    every = meta[14] != 0  # count the keys exposed through the queue too (not their reach)
    track_deadline = first.shape[0] > 1
    nbins = hist.shape[1]
    for r in range(n_inert):
        q = inert_i[r, 0]
        if inert_f[r, 0] < pf[q, PF_REMOVED] and inert_f[r, 0] < inert_f[r, 1]:
            pi[q, PI_VIEWS] += 1
    if scan and nbins > 0 and dense:
        meta[7] += _settle_scan(pf, pi, seen, n_users, first, hist, step, horizon, last, buf, every)
        return
    j = meta[2]
    inv_step = 1.0 / step
    latest = last[0]
    for c in range(first.shape[1] if scan else meta[11]):
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
        if t >= pf[q, PF_REMOVED] or t >= dl:
            continue
        if seen_add(seen, key, dense):
            meta[7] += 1
            pi[q, PI_REACH] += 1
        elif not every:
            continue  # counted through the queue
        if nbins > 0:
            pi[q, PI_PH_TICKS] += _end_ticks(pf, q, dl, horizon) - int(np.rint(t * PH_TICKS))
            hist[pi[q, PI_LEGAL], _bin(t, step, inv_step, nbins)] += 1
            latest = max(latest, t)
            continue
        log_f[j, 0] = t
        log_f[j, 1] = dl
        log_i[j, 0] = q
        log_i[j, 1] = key - q * n_users
        log_i[j, 2] = -1  # the source of an inert first exposure is not kept
        log_i[j, 3] = 5  # a first exposure (1), settled from the inert buffer (4)
        j += 1
    last[0] = latest
    meta[2] = j


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


@njit(cache=True, inline="always", _nrt=False)
def _claim(keys: np.ndarray, key: int) -> tuple[int, bool]:  # pragma: no cover
    """Slot of ``key`` (>= 0) in the open-addressing table ``keys`` (empty slots hold -1; linear
    probing), claiming a slot if the key is new; returns (slot, new)."""
    mask = keys.shape[0] - 1
    i = int(_mix(np.uint64(key))) & mask
    while True:
        k = keys[i]
        if k == key:
            return i, False
        if k == -1:
            keys[i] = key
            return i, True
        i = (i + 1) & mask


@njit(cache=True, inline="always", _nrt=False)
def first_slot(keys: np.ndarray, key: int) -> int:  # pragma: no cover
    """The slot of ``key`` in the map ``keys`` of tracked first exposures (claimed if new)."""
    return _claim(keys, key)[0]


@njit(cache=True, _nrt=False)
def rehash_first(keys: np.ndarray, first: np.ndarray, touched: np.ndarray, n_touched: int,
                 new_keys: np.ndarray, new_first: np.ndarray) -> None:  # pragma: no cover
    """Move the tracked keys into a bigger map (``new_first``, rows as ``first``, filled with
    inf), renumbering
    ``touched`` to the new slots."""
    for c in range(n_touched):
        old = touched[c]
        slot = first_slot(new_keys, keys[old])
        for r in range(first.shape[0]):
            new_first[r, slot] = first[r, old]
        touched[c] = slot


@njit(cache=True, _nrt=False)
def advance(indptr: np.ndarray, indices: np.ndarray, pf: np.ndarray, pi: np.ndarray,
            hf: np.ndarray, hi: np.ndarray, meta: np.ndarray, delay_par: np.ndarray,
            lat_table: np.ndarray, seen: np.ndarray, log_f: np.ndarray, log_i: np.ndarray,
            notice_weight: np.ndarray, inert_f: np.ndarray, inert_i: np.ndarray,
            first: np.ndarray, first_keys: np.ndarray, touched: np.ndarray, until: float,
            horizon: float, max_degree: int, stop_mask: int, trace: bool,
            max_events: int) -> int:  # pragma: no cover
    """Process every spread event due strictly before ``until``.

    The log gets one row per first exposure (every exposure with ``trace``): time, copy deadline,
    post, user, source, flags (1: first exposure, 2: the user reshared, 4: settled from the
    inert buffer by :func:`settle_inert`).

    ``meta`` = [heap size, next sequence number, log length, reported event bits, reported post,
    reported user, reported source, size of the ``seen`` set, inert exposures buffered, inert
    exposures on (0/1), ``seen`` is a dense bitset (0/1), keys tracked in ``first``, ``first`` is
    reached through the map ``first_keys`` (0/1), removal times final at upload (0/1), first
    exposures not logged (0/1: only with earliest times tracked and no trace; :func:`settle_inert`
    counts them from ``first``), reach live without live views (0: no; 1: for posts with a
    pending reach trigger; 2: for every post)];
    ``first[0, slot]`` = earliest exposure time scheduled for the key, ``first[1, slot]`` its copy's
    deadline (that row only exists when copy clocks may be set; otherwise every deadline is inf). The
    reported time is written to ``log_f``'s spare row -1.
    A first exposure carries the bits EV_EXPOSURE, EV_SHARE (the user reshared), EV_NOTICE (the
    user filed a notice: coin ``uniform(notice key, user)`` below the post's notice probability
    times ``notice_weight[user]``) and EV_THRESHOLD (the post's reach just reached its trigger).
    Returns DONE, STOPPED (an exposure whose bits meet ``stop_mask`` was processed and is reported)
    or GROW (the heap or the log must grow, or more than ``max_events`` exposures were scheduled,
    before going on; nothing was consumed).
    """
    n_users = indptr.shape[0] - 1
    dense = meta[10] != 0
    mapped = meta[12] != 0
    trigger_live = meta[15] == 1  # reach live only for posts with a pending trigger
    unlogged = meta[14] != 0  # first exposures are settled from ``first``, not logged
    cap_heap = hf.shape[0]
    cap_log = log_f.shape[0] - 1
    hfl = hf.reshape(-1)  # flat views of the heap's rows, for _pop and _push
    hil = hi.reshape(-1)
    while meta[0] > 0:
        if hf[0, HF_TIME] >= until:
            return DONE
        if (meta[0] + max_degree > cap_heap or meta[2] + 1 > cap_log or meta[1] > max_events
                or (not dense and 2 * (meta[7] + 1) > seen.shape[0])
                or meta[8] + max_degree > inert_f.shape[0]
                or meta[11] + max_degree > touched.shape[0]
                or (meta[12] != 0 and 2 * (meta[11] + max_degree) > first_keys.shape[0])):
            return GROW
        # the next event's followers: their row start was asked for one event ago
        prefetch(indices, indptr[hi[0, HI_USER]])
        last = _pop(hfl, hil, meta[0])
        meta[0] = last
        if last > 0:
            prefetch(indptr, hi[0, HI_USER])  # the row start of the event after this one
        t = hf[last, HF_TIME]
        deadline = hf[last, HF_DEADLINE]
        q = hi[last, HI_POST]
        v = hi[last, HI_USER]
        src = hi[last, HI_SRC]  # read now: share() below reuses the freed slot
        if t >= pf[q, PF_REMOVED] or t >= deadline:
            continue  # the post or this copy was removed before the exposure was due
        pi[q, PI_VIEWS] += 1
        key = q * n_users + v
        # an entry queued while the post's reach was live may have been superseded by an earlier
        # exposure scheduled once it no longer was (and kept off the queue): then it is a repeat
        is_first = (not (trigger_live and t > first[0, first_slot(first_keys, key) if mapped else key])
                    and seen_add(seen, key, dense))
        j = -1
        if trace or (is_first and not unlogged):
            j = meta[2]
            log_f[j, 0] = t
            log_f[j, 1] = deadline
            log_i[j, 0] = q
            log_i[j, 1] = v
            log_i[j, 2] = src
            log_i[j, 3] = 1 if is_first else 0
            meta[2] = j + 1
        if not is_first:
            continue
        meta[7] += 1
        pi[q, PI_REACH] += 1
        age = t - pf[q, PF_T0]
        thr = pf[q, PF_P] * pf[q, PF_SCALE] * decay_factor(pi[q, PI_DECAY_KIND], pf[q, PF_DECAY_A],
                                                           pf[q, PF_DECAY_B], age)
        shared = uniform(pi[q, PI_SHARE_KEY], v, 0) < thr
        if shared:
            pi[q, PI_SHARES] += 1
            if j >= 0:
                log_i[j, 3] = 3  # first exposure, and the user reshared
            _share(indptr, indices, pf, pi, hfl, hil, meta, delay_par, lat_table, notice_weight,
                   inert_f, inert_i, first, first_keys, touched, q, v, t, horizon)
        bits = EV_EXPOSURE | (EV_SHARE if shared else 0)
        if pf[q, PF_NOTICE_P] > 0.0 and uniform(pi[q, PI_NOTICE_KEY], v, 0) < pf[q, PF_NOTICE_P] * notice_weight[v]:
            bits |= EV_NOTICE
        if pi[q, PI_REACH] == pi[q, PI_REACH_TRIGGER]:
            bits |= EV_THRESHOLD
        if bits & stop_mask:
            meta[3] = bits
            meta[4] = q
            meta[5] = v
            meta[6] = src
            log_f[cap_log, 0] = t
            return STOPPED
    return DONE


@njit(cache=True, inline="always", _nrt=False)
def seen_add(table: np.ndarray, key: int, dense: bool) -> bool:  # pragma: no cover
    """Add ``key`` (>= 0) to the set of (post, user) pairs already exposed; True if it is new.

    Keys are ``post * n_users + user``. ``dense``: ``table`` is a bitset (64 keys a word), the
    fast choice while posts x users is moderate. Otherwise it is an open-addressing hash set
    (empty slots hold -1) whose load factor the caller keeps at most 1/2.
    """
    if dense:
        w = key >> 6
        bit = np.int64(1) << (key & 63)
        if table[w] & bit:
            return False
        table[w] |= bit
        return True
    return _claim(table, key)[1]


@njit(cache=True, _nrt=False)
def rehash(old: np.ndarray, new: np.ndarray) -> None:  # pragma: no cover
    """Insert every key of the hash set ``old`` into the empty hash set ``new``."""
    for k in old:
        if k != -1:
            seen_add(new, k, False)


def dense_seen_words(n_posts: int, n_users: int) -> int:
    """Length of the bitset of the keys of ``n_posts`` posts (one spare word)."""
    return (n_posts * n_users) // 64 + 2



def new_seen(capacity: int = 1 << 12) -> np.ndarray:
    """An empty hash set for :func:`seen_add` (capacity rounded up to a power of two)."""
    cap = 1 << max(4, int(capacity - 1).bit_length())
    return np.full(cap, -1, dtype=np.int64)
