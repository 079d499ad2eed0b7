"""The kernel's event loop: every spread event due before SimPy's next event (:func:`advance`)."""

from __future__ import annotations

import numpy as np

from spreadsim.dists import decay_factor
from spreadsim.engine.kernel.heap import _pop
from spreadsim.engine.kernel.layout import (
    DONE,
    EV_EXPOSURE,
    EV_NOTICE,
    EV_SHARE,
    EV_THRESHOLD,
    GROW,
    HF_DEADLINE,
    HF_TIME,
    HI_POST,
    HI_SRC,
    HI_USER,
    PF_CUT,
    PF_DECAY_A,
    PF_DECAY_B,
    PF_NOTICE_P,
    PF_P,
    PF_SCALE,
    PF_T0,
    PI_DECAY_KIND,
    PI_NOTICE_KEY,
    PI_REACH,
    PI_REACH_TRIGGER,
    PI_SHARE_KEY,
    PI_SHARES,
    PI_VIEWS,
    STOPPED,
)
from spreadsim.engine.kernel.scheduling import _share
from spreadsim.engine.kernel.sets import first_slot, seen_add
from spreadsim.engine.kernel.timing import removal_cut
from spreadsim.jit import njit, prefetch
from spreadsim.rng import uniform


@njit(cache=True, _nrt=False)
def advance(indptr: np.ndarray, indices: np.ndarray, pf: np.ndarray, pi: np.ndarray,
            hf: np.ndarray, hi: np.ndarray, meta: np.ndarray, delay_par: np.ndarray,
            lat_table: np.ndarray, clock_f: np.ndarray, clock_i: np.ndarray, seen: np.ndarray,
            log_f: np.ndarray, log_i: np.ndarray, notice_weight: np.ndarray, inert_f: np.ndarray,
            inert_i: np.ndarray, first: np.ndarray, first_keys: np.ndarray, touched: np.ndarray,
            until: float,
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
        if t >= pf[q, PF_CUT] or t >= removal_cut(deadline):
            continue  # the post or this copy was removed before the exposure was due (tie rule)
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
            _share(indptr, indices, pf, pi, hfl, hil, meta, delay_par, lat_table, clock_f, clock_i,
                   notice_weight, inert_f, inert_i, first, first_keys, touched, q, v, t, horizon)
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
