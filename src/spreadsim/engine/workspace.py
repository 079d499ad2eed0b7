"""The kernel's work arrays of one run: made at the start, grown when the kernel asks, settled
and given back at the end.

:class:`Workspace` is a base class of :class:`spreadsim.engine.simulation.Simulation`: the arrays
are the fields of its ``_work`` (a :class:`spreadsim.engine.kernel.Work`, passed whole to the
compiled kernel, :mod:`spreadsim.engine.kernel`, on every call; replaced by a new tuple whenever an
array is), the kernel's settings and counters the fields of ``_state``, its one-row record
(``_state.heap_size``, ...). Their sizes and forms follow the constants of
:mod:`spreadsim.engine.pool`, whose pool lends them between the runs of a thread.
"""

from __future__ import annotations

import math

import numpy as np

from spreadsim.engine import kernel as K
from spreadsim.engine import pool
from spreadsim.errors import ConfigError
from spreadsim.graphs import Graph
from spreadsim.schema.config import SimConfig


def _enlarge(a: np.ndarray, rows: int, exact: bool = False) -> np.ndarray:
    """``a`` with at least ``rows`` rows (new rows zero), grown by at least half in place where
    the allocator can, so that repeated growth stays linear in the final size."""
    new = rows if exact else max(rows, a.shape[0] + a.shape[0] // 2)
    a.resize((new, *a.shape[1:]), refcheck=False)
    return a


class Workspace:
    """The work arrays of a simulation and their life cycle. The simulation sets ``config``,
    ``graph``, ``per_copy``, ``trace``, ``record_views`` and the campaign's ``_schedule`` before
    :meth:`_init_kernel`."""

    config: SimConfig
    graph: Graph
    per_copy: bool
    trace: bool
    record_views: bool
    _schedule: list[tuple[float, str, int, bool]]

    _work: K.Work

    def _init_kernel(self) -> None:
        n_posts = max(1, len(self._schedule))
        n = self.graph.n
        max_degree = self.graph.max_out_degree
        n_keys = n_posts * n
        # buffers start large enough for most runs (np.empty: pages cost memory only once used)
        cap = max(1024, 4 * max_degree, min(n_keys // 8, 1 << 16))
        log_rows = max(4096, min(n_keys // 2, 1 << 16))
        # the set of (post, user) pairs already exposed: a bitset while it stays small
        self._dense = n_keys <= pool.DENSE_SEEN_MAX_KEYS
        # earliest inert exposure per (post, user) key: an array indexed by key while that stays
        # small, else a map (first_keys) that grows with the users reached
        self._mapped = n_keys > pool.TRACK_FIRST_MAX_KEYS
        slots = 1 << 12 if self._mapped else n_keys
        k = self.config.spread.kernel
        take = pool._POOL.take  # (a previous run's arrays where the run gives them back, see finish)
        self._work = K.Work(
            state=K.new_state(),
            indptr=self.graph.indptr, indices=self.graph.indices,
            pf=np.zeros((n_posts, K.NPF), dtype=np.float64),
            pi=np.zeros((n_posts, K.NPI), dtype=np.int64),
            hf=take((cap, 2), np.float64), hi=take((cap, 4), np.int64),
            seen=(take((K.dense_seen_words(n_posts, n),), np.int64, 0) if self._dense
                  else K.new_seen()),
            # row 0: the earliest exposure time per key (the hot row, contiguous); row 1, only
            # when copies have their own removal clocks (per_copy), the deadline of that
            # exposure's copy
            first=take((2 if self.per_copy else 1, slots), np.float64, math.inf),
            first_keys=take((slots if self._mapped else 1,), np.int64, -1),
            # every key touched at most once: room for all of them when the keys index an array
            touched=take((cap if self._mapped else min(n_keys, 1 << 24) + 1,), np.int64),
            inert_f=np.empty((cap, 2), dtype=np.float64),
            inert_i=np.empty((cap, 1), dtype=np.int64),
            log_f=take((log_rows, 2), np.float64), log_i=take((log_rows, 4), np.int64),
            delay_par=np.array([k.code, k.a, k.b], dtype=np.float64),
            lat_table=np.zeros(1, dtype=np.float64),
            # per-copy removal clocks (rows appended by set_copy_clock; kernel.layout's CF_, CI_)
            clock_f=np.zeros((4, 3), dtype=np.float64),
            clock_i=np.zeros((4, 3), dtype=np.int64),
            # per-user notice weights: read by the kernel only for posts with notices, so a full
            # array is made only when a policy sets notices (see _notice_weights)
            notice_weight=np.ones(1, dtype=np.float64),
            hist=np.zeros((2, 0), dtype=np.int64),  # filled by _settle
            hist_last=np.zeros(1, dtype=np.float64),
        )
        st = self._state = self._work.state[0]
        st.horizon = float(self.config.scenario.horizon_h)
        st.max_degree = max_degree
        st.max_events = self.config.max_events
        st.dense = int(self._dense)
        st.mapped = int(self._mapped)
        self._n_clocks = 0
        self._n_touched = 0  # the keys touched, once settled (state.n_touched counts them in the run)
        self._inert_rows = 0
        self._log_released = False  # (see RunLog.exposure_log)
        self._triggers: dict[int, list[int]] = {}

    def _set(self, **arrays: np.ndarray) -> None:
        """Replace work arrays (``pf=bigger``, ...): the kernel gets a new tuple from now on."""
        self._work = self._work._replace(**arrays)

    def _grow(self) -> None:
        """Make room for one more share's events in every buffer (called when the kernel asks)."""
        w, st = self._work, self._state
        room = int(st.max_degree)
        if st.n_inert + room > w.inert_f.shape[0]:
            inert_f = _enlarge(w.inert_f, w.inert_f.shape[0] + room)
            self._set(inert_f=inert_f, inert_i=_enlarge(w.inert_i, inert_f.shape[0]))
        if st.n_touched + room > w.touched.shape[0]:
            self._set(touched=_enlarge(w.touched, w.touched.shape[0] + room))
        if self._mapped and 2 * (st.n_touched + room) > w.first_keys.shape[0]:
            cap = 4 * w.first_keys.shape[0]
            while 2 * (st.n_touched + room) > cap:
                cap *= 2
            keys = np.full(cap, -1, dtype=np.int64)
            first = np.full((w.first.shape[0], cap), math.inf)
            K.rehash_first(w.first_keys, w.first, self._work.touched, int(st.n_touched), keys, first)
            self._set(first_keys=keys, first=first)
        w = self._work
        if st.heap_size + room > w.hf.shape[0]:
            hf = _enlarge(w.hf, w.hf.shape[0] + room)
            self._set(hf=hf, hi=_enlarge(w.hi, hf.shape[0]))
        if st.log_len + 1 > w.log_i.shape[0]:
            self._grow_log(w.log_i.shape[0])
        if not self._dense and 2 * (st.n_seen + 1) > w.seen.shape[0]:
            self._grow_seen(4 * w.seen.shape[0])
        if st.next_seq > self.config.max_events:
            raise ConfigError("max_events", self.config.max_events,
                              f"exceeded ({int(st.next_seq)} exposures scheduled); raise max_events "
                              "or shrink the scenario")

    def _grow_log(self, n: int) -> None:
        """Add at least ``n`` rows to the exposure log."""
        w = self._work
        rows = w.log_i.shape[0] + n
        self._set(log_i=_enlarge(w.log_i, rows, exact=True), log_f=_enlarge(w.log_f, rows, exact=True))

    def _grow_seen(self, capacity: int) -> None:
        bigger = K.new_seen(capacity)
        K.rehash(self._work.seen, bigger)
        self._set(seen=bigger)

    def _settle(self) -> None:
        """Count the inert exposures now that every removal time is final."""
        w, st = self._work, self._state
        n_inert = int(st.n_inert)
        n_touched = self._n_touched = int(st.n_touched)
        sc = self.config.scenario
        # first exposures go straight into the reach-over-time histogram (one bin per series step
        # up to the latest tracked exposure), unless it would be huge or each must be logged (for
        # recorded views, or when the event queue logged its first exposures: then every first
        # exposure is in the log)
        log_rows = self.record_views or not st.unlogged
        # many keys touched: read them in key order (sequential) rather than in touch order
        scan = (not self._mapped and not log_rows
                and n_touched >= pool.SCAN_MIN_TOUCHED * w.first.shape[1])
        bins = 0
        if not log_rows and n_touched:
            span = K.first_span(w.first, w.touched, n_touched, scan)
            steps = min(span, sc.horizon_h) / sc.series_step_h
            bins = int(steps) + 3 if steps < pool.HIST_MAX_BINS else 0
        self._set(hist=np.zeros((2, bins), dtype=np.int64))
        rows = n_touched if bins == 0 else 0  # rows to log
        if rows == 0 and n_inert == 0 and n_touched == 0:
            return
        free = w.log_i.shape[0] - int(st.log_len)
        if free < rows:
            self._grow_log(rows - free)
        if not self._dense and 2 * (st.n_seen + n_touched + 1) > w.seen.shape[0]:
            self._grow_seen(4 * (int(st.n_seen) + n_touched + 1))
        K.settle_inert(self._work, sc.series_step_h, scan and bins > 0, np.empty((2, 4096)))
        self._inert_rows = n_inert  # kept for record_views readers; the buffer is not cleared
        st.n_inert = 0
        st.n_touched = 0

    def _release(self) -> None:
        """Give the work arrays nothing reads after the run to the pool of the next run (the
        exposure log stays for trace and record_views runs, see RunLog.exposure_log; the inert
        buffer and the per-post tables always stay)."""
        w, st = self._work, self._state
        spent = [w.hf, w.hi, w.first_keys, w.touched]
        if self._dense:
            spent.append(w.seen)
        self._log_released = not (self.trace or self.record_views)
        if self._log_released:
            spent += [w.log_f, w.log_i]
        pool._POOL.give(*spent)
        # the earliest exposure times (indexed by key): every slot the run wrote was recorded in
        # the touched keys, so resetting those few leaves it as a fresh fill would (a run on a
        # big graph touches a small share of its post x user keys; filling all cost about 1 ms a
        # run with 40 posts on 30k users)
        # (settled: _n_touched counts them; released without settling, as the benchmark's bare
        # runs do: the kernel's count still stands in state.n_touched)
        n = self._n_touched + int(st.n_touched)
        if not self._mapped and n <= pool.RESET_MAX_SHARE * w.first.shape[1]:
            w.first[:, w.touched[:n]] = math.inf
            pool._POOL.give(w.first, filled=math.inf)
        else:
            pool._POOL.give(w.first)
        st.heap_size = 0  # the event queue is gone (events after the horizon never happen)
        empty = np.empty(0, dtype=np.int64)
        self._set(hf=np.empty((0, 2)), hi=np.empty((0, 4), dtype=np.int64), first=np.empty((1, 0)),
                  first_keys=empty, touched=empty, seen=empty)
        if self._log_released:
            self._set(log_f=np.empty((0, 2)), log_i=np.empty((0, 4), dtype=np.int64))
