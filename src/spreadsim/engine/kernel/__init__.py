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
that caused it (``per_copy``: each share has its own clocks, one per policy, and goes at the
earliest, :func:`~.scheduling.copy_deadline`); an exposure due at or after removal never happens,
and neither does one due less than 1e-9 of the removal time before it (the tie rule of
:mod:`.timing`: the decision does not depend on the order of the float sums that gave the times).

Randomness is counter based (:mod:`spreadsim.rng`): the delay on edge u->v of post q and the reshare
coin of user v for post q are fixed functions of (post key, u, v), whatever order events run in.

The modules: :mod:`.layout` (the run's work arrays :class:`Work`, passed to every kernel function
as one argument, its named settings and counters :data:`STATE`, return codes, event bits, the
columns of the per-post tables, the log and the heap's rows), :mod:`.heap` (the event queue),
:mod:`.sets` (the set of exposed (post, user) keys
and the map of tracked first exposures), :mod:`.scheduling` (a share: :func:`share`),
:mod:`.loop` (the event loop: :func:`advance`) and :mod:`.settling` (the inert exposures at the
end: :func:`settle_inert`). The engine calls the kernel through this package (``K.advance``, ...).

numba's on-disk cache checks only the file that defines a cached function, not the files of the
functions it calls or of the constants it reads (a known numba limitation): after editing one of
these modules (or :mod:`spreadsim.dists`, :mod:`spreadsim.rng`), delete the ``*.nbi``
files in ``__pycache__`` so that no stale compiled code is loaded."""

from __future__ import annotations

from spreadsim.engine.kernel.heap import cap_copy_deadline
from spreadsim.engine.kernel.layout import (
    CF_A,
    CF_B,
    CF_PROB,
    CI_KEY,
    CI_KIND,
    CI_NEXT,
    DONE,
    EV_EXPOSURE,
    EV_NOTICE,
    EV_SHARE,
    EV_THRESHOLD,
    GROW,
    HF_DEADLINE,
    HF_TIME,
    HI_POST,
    HI_SEQ,
    HI_SRC,
    HI_USER,
    LF_DEADLINE,
    LF_TIME,
    LI_FLAGS,
    LI_POST,
    LI_SRC,
    LI_USER,
    LOG_FIRST,
    LOG_SETTLED,
    LOG_SHARED,
    NPF,
    NPI,
    PF_CUT,
    PF_DECAY_A,
    PF_DECAY_B,
    PF_LIMIT,
    PF_NOTICE_P,
    PF_P,
    PF_REMOVED,
    PF_SCALE,
    PF_T0,
    PH_TICKS,
    PI_CLOCKS,
    PI_DECAY_KIND,
    PI_DELAY_KEY,
    PI_KEY,
    PI_LEGAL,
    PI_NOTICE_KEY,
    PI_PH_TICKS,
    PI_REACH,
    PI_REACH_TRIGGER,
    PI_SHARE_KEY,
    PI_SHARES,
    PI_UPLOADER,
    PI_VIEWS,
    STATE,
    STOPPED,
    Work,
    new_state,
)
from spreadsim.engine.kernel.loop import advance
from spreadsim.engine.kernel.scheduling import share
from spreadsim.engine.kernel.sets import dense_seen_words, first_slot, new_seen, rehash, rehash_first, seen_add
from spreadsim.engine.kernel.settling import first_span, settle_inert
from spreadsim.engine.kernel.timing import TIE_REL, removal_cut

__all__ = [
    "CF_A", "CF_B", "CF_PROB", "CI_KEY", "CI_KIND", "CI_NEXT", "DONE", "EV_EXPOSURE", "EV_NOTICE",
    "EV_SHARE", "EV_THRESHOLD", "GROW", "HF_DEADLINE", "HF_TIME", "HI_POST", "HI_SEQ", "HI_SRC",
    "HI_USER", "LF_DEADLINE", "LF_TIME", "LI_FLAGS", "LI_POST", "LI_SRC", "LI_USER", "LOG_FIRST",
    "LOG_SETTLED", "LOG_SHARED", "NPF", "NPI", "PF_CUT", "PF_DECAY_A", "PF_DECAY_B", "PF_LIMIT", "PF_NOTICE_P", "PF_P",
    "PF_REMOVED", "PF_SCALE", "PF_T0",
    "PH_TICKS", "PI_CLOCKS", "PI_DECAY_KIND", "PI_DELAY_KEY", "PI_KEY", "PI_LEGAL", "PI_NOTICE_KEY",
    "PI_PH_TICKS", "PI_REACH", "PI_REACH_TRIGGER", "PI_SHARE_KEY", "PI_SHARES", "PI_UPLOADER", "PI_VIEWS",
    "STATE", "STOPPED", "TIE_REL", "Work", "advance", "cap_copy_deadline", "dense_seen_words", "first_slot",
    "first_span", "new_seen", "new_state", "rehash", "rehash_first", "removal_cut", "seen_add", "settle_inert", "share",
]
