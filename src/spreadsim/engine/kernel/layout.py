"""The kernel's state: the work arrays (:class:`Work`), its named settings and counters
(:data:`STATE`), the return codes of :func:`~spreadsim.engine.kernel.advance`, the bits of the
events it reports, the flags of the exposure log and the columns of the per-post tables and of
the heap's rows.

Every kernel function takes the run's :class:`Work` as one argument and reads its arrays by name
(``w.pf``, ``w.hf``, ...). The engine (:mod:`spreadsim.engine.workspace`) makes it at the start of
a run and makes a new one (``work._replace(hf=bigger)``) whenever it replaces an array; numba
compiles the functions once for the tuple's array types. The settings and counters are the fields
of the one-row record array ``w.state`` (dtype :data:`STATE`); kernel code reads them through the
row, ``s = w.state[0]; s.heap_size += 1`` (numba and plain Python alike: the engine makes it a
``numpy.recarray``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# return codes of advance()
DONE, STOPPED, GROW = 0, 1, 2
# bits of the events reported to Python (``state.ev_bits`` of the reported exposure)
EV_EXPOSURE, EV_SHARE, EV_NOTICE, EV_THRESHOLD = 1, 2, 4, 8
# flags of a row of the exposure log (``log_i[:, LI_FLAGS]``): a first exposure, the user reshared,
# settled from the inert buffer at the end (:func:`~spreadsim.engine.kernel.settle_inert`)
LOG_FIRST, LOG_SHARED, LOG_SETTLED = 1, 2, 4

#: the settings and counters of a run, the fields of ``Work.state`` (one row). ``i8``: int64
STATE = np.dtype([
    # settings: set by the engine when the run starts, read by the kernel
    ("horizon", "f8"),      # the run's end (hours): exposures at or after it never happen
    ("max_degree", "i8"),   # the graph's largest out-degree: the most events one share adds
    ("max_events", "i8"),   # the budget of scheduled exposures (GROW past it; the engine raises)
    ("stop_mask", "i8"),    # advance() stops after a first exposure whose EV_ bits meet this
    ("log_every", "i8"),    # 1: log every exposure processed as an event, not only first ones
    ("track", "i8"),        # 1: earliest exposures tracked in ``first``; exposures that can
                            # trigger nothing skip the heap (inert); 0: every exposure is an event
    ("trigger_live", "i8"), # 1: the first exposures of posts with a pending reach trigger are
                            # events all the same (their reach is counted in time order)
    ("final", "i8"),        # 1: removal times are final at upload: inert views counted at once
    ("unlogged", "i8"),     # 1: first exposures not logged (settle_inert counts them from ``first``)
    ("dense", "i8"),        # 1: ``seen`` is a bitset (else an open-addressing hash set)
    ("mapped", "i8"),       # 1: ``first`` is reached through the map ``first_keys`` (else by key)
    # counters: kept by the kernel, read and reset by the engine
    ("heap_size", "i8"),    # events in the heap
    ("next_seq", "i8"),     # exposures scheduled so far (the next event's sequence number)
    ("log_len", "i8"),      # rows of the exposure log in use
    ("n_seen", "i8"),       # (post, user) keys in ``seen``
    ("n_inert", "i8"),      # inert exposures in the buffer
    ("n_touched", "i8"),    # keys tracked in ``first`` (listed in ``touched``)
    # the exposure advance() stopped at (STOPPED): its EV_ bits, post, user, source and time
    ("ev_bits", "i8"), ("ev_post", "i8"), ("ev_user", "i8"), ("ev_src", "i8"), ("ev_time", "f8"),
], align=True)


def new_state() -> np.ndarray:
    """A zeroed one-row state (a ``numpy.recarray``: its row's fields read as attributes in plain
    Python too)."""
    return np.zeros(1, dtype=STATE).view(np.recarray)


class Work(NamedTuple):
    """The work arrays of one run, passed to every kernel function as one argument."""

    state: np.ndarray        # STATE, one row: the settings and counters
    indptr: np.ndarray       # the graph (CSR): the followers of u are indices[indptr[u]:indptr[u+1]]
    indices: np.ndarray
    pf: np.ndarray           # per post, float columns PF_ and int columns PI_
    pi: np.ndarray
    hf: np.ndarray           # the heap's rows: float columns HF_ (time, deadline), int HI_
    hi: np.ndarray
    seen: np.ndarray         # the (post, user) keys exposed (kernel.sets)
    first: np.ndarray        # row 0: earliest exposure time scheduled per key (or map slot);
                             # row 1, under per_copy only: the deadline of that exposure's copy
    first_keys: np.ndarray   # the map's keys by slot (mapped), else unused
    touched: np.ndarray      # the slots of ``first`` touched, in order
    inert_f: np.ndarray      # the inert buffer: time, copy deadline | post
    inert_i: np.ndarray
    log_f: np.ndarray        # the exposure log: time, copy deadline | post, user, source, flags
    log_i: np.ndarray
    delay_par: np.ndarray    # the feed delay: kind, a, b (spreadsim.dists)
    lat_table: np.ndarray    # the sorted delays of an empirical latency (per-copy clocks)
    clock_f: np.ndarray      # per-copy removal clocks: float columns CF_, int columns CI_
    clock_i: np.ndarray
    notice_weight: np.ndarray  # per user (full size once a policy sets notices)
    hist: np.ndarray         # settle_inert's reach histogram: [legal, bin] first exposures
    hist_last: np.ndarray    # [0]: the latest first exposure counted in ``hist``


# columns of the per-post float and int tables
# PF_REMOVED: the post's removal time (inf: up); PF_CUT: removal_cut of it, what exposures are
# compared with (the tie rule, see .timing); PF_LIMIT: the cut of a removal scheduled ahead
(PF_T0, PF_P, PF_REMOVED, PF_DECAY_A, PF_DECAY_B, PF_SCALE, PF_NOTICE_P, PF_LIMIT, PF_CUT) = range(9)
NPF = 9
# PI_CLOCKS: 1 + the row of the post's first per-copy removal clock in the clock tables (0: none)
# PI_PH_TICKS: exposure person-hours of the first exposures settle_inert counted without logging
(PI_KEY, PI_UPLOADER, PI_DECAY_KIND, PI_CLOCKS, PI_VIEWS, PI_REACH, PI_SHARES, PI_NOTICE_KEY,
 PI_REACH_TRIGGER, PI_LEGAL, PI_PH_TICKS, PI_DELAY_KEY, PI_SHARE_KEY) = range(13)
NPI = 13  # PI_DELAY_KEY, PI_SHARE_KEY: subkey(PI_KEY, 0) and subkey(PI_KEY, 1), set at upload
# columns of the per-copy removal clocks (one row per clock; a post's clocks are a linked list):
# float (latency parameters a, b; removal probability), int (latency kind, key of the clock's
# draws, row of the post's next clock or -1)
CF_A, CF_B, CF_PROB = 0, 1, 2
CI_KIND, CI_KEY, CI_NEXT = 0, 1, 2
PH_TICKS = 65536.0  # exposure person-hours are summed in exact integer units of 1/65536 h
# heap columns
HF_TIME, HF_DEADLINE = 0, 1
HI_SEQ, HI_POST, HI_USER, HI_SRC = 0, 1, 2, 3
# exposure log columns: float (time, copy deadline), int (post, user, source, flags LOG_)
LF_TIME, LF_DEADLINE = 0, 1
LI_POST, LI_USER, LI_SRC, LI_FLAGS = 0, 1, 2, 3
