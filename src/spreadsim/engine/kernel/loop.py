"""The kernel's event loop: every spread event due before SimPy's next event (:func:`advance`)."""

from __future__ import annotations

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
    LF_DEADLINE,
    LF_TIME,
    LI_FLAGS,
    LI_POST,
    LI_SRC,
    LI_USER,
    LOG_FIRST,
    LOG_SHARED,
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
    Work,
)
from spreadsim.engine.kernel.scheduling import _share
from spreadsim.engine.kernel.sets import first_slot, seen_add
from spreadsim.engine.kernel.timing import removal_cut
from spreadsim.jit import njit, prefetch
from spreadsim.rng import uniform


@njit(cache=True, _nrt=False)
def advance(w: Work, until: float) -> int:  # pragma: no cover
    """Process every spread event due strictly before ``until``.

    The log (``w.log_f``, ``w.log_i``, columns LF_ and LI_) gets one row per first exposure (every
    exposure processed as an event with ``state.log_every``): time, copy deadline, post, user,
    source, flags (LOG_FIRST, LOG_SHARED: the user reshared; LOG_SETTLED is :func:`settle_inert`'s).
    With ``state.unlogged``, first exposures are not logged: :func:`settle_inert` counts them from
    ``w.first``, where their times are.
    A first exposure carries the bits EV_EXPOSURE, EV_SHARE (the user reshared), EV_NOTICE (the
    user filed a notice: coin ``uniform(notice key, user)`` below the post's notice probability
    times ``notice_weight[user]``) and EV_THRESHOLD (the post's reach just reached its trigger).
    Returns DONE, STOPPED (a first exposure whose bits meet ``state.stop_mask`` was processed;
    its bits, post, user, source and time are in ``state.ev_*``) or GROW (the heap or the log
    must grow, or more than ``state.max_events`` exposures were scheduled, before going on;
    nothing was consumed).
    """
    s = w.state[0]
    pf, pi, hf, hi, seen, first, first_keys = w.pf, w.pi, w.hf, w.hi, w.seen, w.first, w.first_keys
    indptr, indices, log_f, log_i = w.indptr, w.indices, w.log_f, w.log_i
    n_users = indptr.shape[0] - 1
    dense = s.dense != 0
    mapped = s.mapped != 0
    trigger_live = s.trigger_live != 0  # reach live only for posts with a pending trigger
    unlogged = s.unlogged != 0  # first exposures are settled from ``first``, not logged
    log_every = s.log_every != 0
    max_degree, max_events, stop_mask = s.max_degree, s.max_events, s.stop_mask
    cap_heap = hf.shape[0]
    cap_log = log_f.shape[0]
    hfl = hf.reshape(-1)  # flat views of the heap's rows, for _pop and _push
    hil = hi.reshape(-1)
    while s.heap_size > 0:
        if hf[0, HF_TIME] >= until:
            return DONE
        if (s.heap_size + max_degree > cap_heap or s.log_len + 1 > cap_log or s.next_seq > max_events
                or (not dense and 2 * (s.n_seen + 1) > seen.shape[0])
                or s.n_inert + max_degree > w.inert_f.shape[0]
                or s.n_touched + max_degree > w.touched.shape[0]
                or (mapped and 2 * (s.n_touched + max_degree) > first_keys.shape[0])):
            return GROW
        # the next event's followers: their row start was asked for one event ago
        prefetch(indices, indptr[hi[0, HI_USER]])
        last = _pop(hfl, hil, s.heap_size)
        s.heap_size = last
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
        if log_every or (is_first and not unlogged):
            j = s.log_len
            log_f[j, LF_TIME] = t
            log_f[j, LF_DEADLINE] = deadline
            log_i[j, LI_POST] = q
            log_i[j, LI_USER] = v
            log_i[j, LI_SRC] = src
            log_i[j, LI_FLAGS] = LOG_FIRST if is_first else 0
            s.log_len = j + 1
        if not is_first:
            continue
        s.n_seen += 1
        pi[q, PI_REACH] += 1
        age = t - pf[q, PF_T0]
        thr = pf[q, PF_P] * pf[q, PF_SCALE] * decay_factor(pi[q, PI_DECAY_KIND], pf[q, PF_DECAY_A],
                                                           pf[q, PF_DECAY_B], age)
        shared = uniform(pi[q, PI_SHARE_KEY], v, 0) < thr
        if shared:
            pi[q, PI_SHARES] += 1
            if j >= 0:
                log_i[j, LI_FLAGS] = LOG_FIRST | LOG_SHARED
            _share(w, hfl, hil, q, v, t)
        bits = EV_EXPOSURE | (EV_SHARE if shared else 0)
        if pf[q, PF_NOTICE_P] > 0.0 and uniform(pi[q, PI_NOTICE_KEY], v, 0) < pf[q, PF_NOTICE_P] * w.notice_weight[v]:
            bits |= EV_NOTICE
        if pi[q, PI_REACH] == pi[q, PI_REACH_TRIGGER]:
            bits |= EV_THRESHOLD
        if bits & stop_mask:
            s.ev_bits = bits
            s.ev_post = q
            s.ev_user = v
            s.ev_src = src
            s.ev_time = t
            return STOPPED
    return DONE
