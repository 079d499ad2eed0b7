"""The kernel's work arrays of one run: made at the start, grown when the kernel asks, settled
and given back at the end.

:class:`Workspace` is a base class of :class:`spreadsim.engine.simulation.Simulation`: the arrays
are the simulation's attributes (``_pf``, ``_pi``, ``_meta``, the heap, the log, ...), passed to the
compiled kernel (:mod:`spreadsim.engine.kernel`) on every call. Their sizes and forms follow the
constants of :mod:`spreadsim.engine.pool`, whose pool lends them between the runs of a thread.
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
    ``graph``, ``per_copy``, ``record_views`` and the campaign's ``_schedule`` before
    :meth:`_init_kernel`."""

    config: SimConfig
    graph: Graph
    per_copy: bool
    record_views: bool
    _schedule: list[tuple[float, str, int, bool]]

    def _init_kernel(self) -> None:
        n_posts = max(1, len(self._schedule))
        self._pf = np.zeros((n_posts, K.NPF), dtype=np.float64)
        self._pi = np.zeros((n_posts, K.NPI), dtype=np.int64)
        self._max_degree = self.graph.max_out_degree
        n_keys = n_posts * self.graph.n
        # buffers start large enough for most runs (np.empty: pages cost memory only once used)
        cap = max(1024, 4 * self._max_degree, min(n_keys // 8, 1 << 16))
        # (from the pool of a previous run's arrays where the run gives them back, see finish)
        self._hf = pool._POOL.take((cap, 2), np.float64)
        self._hi = pool._POOL.take((cap, 4), np.int64)
        self._meta = np.zeros(16, dtype=np.int64)
        self._inert_f = np.empty((cap, 2), dtype=np.float64)
        self._inert_i = np.empty((cap, 1), dtype=np.int64)
        log_rows = max(4096, min(n_keys // 2, 1 << 16))
        self._log_f = pool._POOL.take((log_rows + 1, 2), np.float64)
        self._log_i = pool._POOL.take((log_rows, 4), np.int64)
        k = self.config.spread.kernel
        self._delay = np.array([k.code, k.a, k.b], dtype=np.float64)
        self._lat_table = np.zeros(1, dtype=np.float64)
        # per-copy removal clocks (rows appended by set_copy_clock; see kernel.layout's CF_, CI_)
        self._clock_f = np.zeros((4, 3), dtype=np.float64)
        self._clock_i = np.zeros((4, 3), dtype=np.int64)
        self._n_clocks = 0
        # the set of (post, user) pairs already exposed: a bitset while it stays small
        self._dense = n_posts * self.graph.n <= pool.DENSE_SEEN_MAX_KEYS
        self._seen = (pool._POOL.take((K.dense_seen_words(n_posts, self.graph.n),), np.int64, 0)
                      if self._dense else K.new_seen())
        self._meta[10] = 1 if self._dense else 0
        # earliest inert exposure per (post, user) key: an array indexed by key while that stays
        # small, else a map (first_keys) that grows with the users reached
        self._mapped = n_posts * self.graph.n > pool.TRACK_FIRST_MAX_KEYS
        slots = 1 << 12 if self._mapped else n_posts * self.graph.n
        # row 0: the earliest exposure time per key (the hot row, contiguous); row 1, only when
        # copies have their own removal clocks (per_copy), the deadline of that exposure's copy
        self._first = pool._POOL.take((2 if self.per_copy else 1, slots), np.float64, math.inf)
        self._first_keys = pool._POOL.take((slots if self._mapped else 1,), np.int64, -1)
        # every key touched at most once: room for all of them when the keys index an array
        self._touched = pool._POOL.take((cap if self._mapped else min(n_keys, 1 << 24) + 1,), np.int64)
        self._n_touched = 0  # the keys touched, once settled (meta[11] counts them in the run)
        self._hist = np.zeros((2, 0), dtype=np.int64)  # filled by _settle
        self._hist_last = np.zeros(1, dtype=np.float64)
        self._inert_rows = 0
        self._meta[12] = 1 if self._mapped else 0
        # per-user notice weights: read by the kernel only for posts with notices, so a full
        # array is made only when a policy sets notices (see _notice_weights)
        self._notice_weight = np.ones(1, dtype=np.float64)
        self._triggers: dict[int, list[int]] = {}
        self._indptr = self.graph.indptr
        self._indices = self.graph.indices

    def _grow(self) -> None:
        """Make room for one more share's events in every buffer (called when the kernel asks)."""
        room = self._max_degree
        if self._meta[8] + room > self._inert_f.shape[0]:
            self._inert_f = _enlarge(self._inert_f, self._inert_f.shape[0] + room)
            self._inert_i = _enlarge(self._inert_i, self._inert_f.shape[0])
        if self._meta[11] + room > self._touched.shape[0]:
            self._touched = _enlarge(self._touched, self._touched.shape[0] + room)
        if self._mapped and 2 * (self._meta[11] + room) > self._first_keys.shape[0]:
            cap = 4 * self._first_keys.shape[0]
            while 2 * (self._meta[11] + room) > cap:
                cap *= 2
            keys = np.full(cap, -1, dtype=np.int64)
            first = np.full((self._first.shape[0], cap), math.inf)
            K.rehash_first(self._first_keys, self._first, self._touched, int(self._meta[11]),
                           keys, first)
            self._first_keys, self._first = keys, first
        if self._meta[0] + room > self._hf.shape[0]:
            self._hf = _enlarge(self._hf, self._hf.shape[0] + room)
            self._hi = _enlarge(self._hi, self._hf.shape[0])
        if self._meta[2] + 1 > self._log_i.shape[0]:
            self._grow_log(self._log_i.shape[0])
        if not self._dense and 2 * (self._meta[7] + 1) > self._seen.shape[0]:
            self._grow_seen(4 * self._seen.shape[0])
        if self._meta[1] > self.config.max_events:
            raise ConfigError("max_events", self.config.max_events,
                              f"exceeded ({int(self._meta[1])} exposures scheduled); raise max_events "
                              "or shrink the scenario")

    def _grow_log(self, n: int) -> None:
        """Add at least ``n`` rows to the exposure log (its last float row is the report slot)."""
        rows = self._log_i.shape[0] + n
        self._log_i = _enlarge(self._log_i, rows, exact=True)
        self._log_f = _enlarge(self._log_f, rows + 1, exact=True)

    def _grow_seen(self, capacity: int) -> None:
        bigger = K.new_seen(capacity)
        K.rehash(self._seen, bigger)
        self._seen = bigger

    def _settle(self) -> None:
        """Count the inert exposures now that every removal time is final."""
        n_inert = int(self._meta[8])
        n_touched = self._n_touched = int(self._meta[11])
        sc = self.config.scenario
        # first exposures go straight into the reach-over-time histogram (one bin per series step
        # up to the latest tracked exposure), unless it would be huge or each must be logged (for
        # recorded views, or when the event queue logged its first exposures: then every first
        # exposure is in the log)
        log_rows = self.record_views or not self._meta[14]
        # many keys touched: read them in key order (sequential) rather than in touch order
        scan = (not self._mapped and not log_rows
                and n_touched >= pool.SCAN_MIN_TOUCHED * self._first.shape[1])
        bins = 0
        if not log_rows and n_touched:
            span = K.first_span(self._first, self._touched, n_touched, scan)
            steps = min(span, sc.horizon_h) / sc.series_step_h
            bins = int(steps) + 3 if steps < pool.HIST_MAX_BINS else 0
        self._hist = np.zeros((2, bins), dtype=np.int64)
        rows = n_touched if bins == 0 else 0  # rows to log
        if rows == 0 and n_inert == 0 and n_touched == 0:
            return
        free = self._log_i.shape[0] - int(self._meta[2])
        if free < rows:
            self._grow_log(rows - free)
        if not self._dense and 2 * (self._meta[7] + n_touched + 1) > self._seen.shape[0]:
            self._grow_seen(4 * (int(self._meta[7]) + n_touched + 1))
        K.settle_inert(self._pf, self._pi, self._seen, self.graph.n, self._inert_f, self._inert_i,
                       n_inert, self._log_f, self._log_i, self._meta, self._first,
                       self._first_keys, self._touched, self._hist, sc.series_step_h,
                       sc.horizon_h, self._hist_last, scan and bins > 0, np.empty((2, 4096)))
        self._inert_rows = n_inert  # kept for record_views readers; the buffer is not cleared
        self._meta[8] = 0
        self._meta[11] = 0

    def _release(self) -> None:
        """Give the work arrays nothing reads after the run to the pool of the next run (the
        exposure log and the inert buffer stay when record_views keeps them for the caller)."""
        spent = [self._hf, self._hi, self._first_keys, self._touched]
        if self._dense:
            spent.append(self._seen)
        if not self.record_views:
            spent += [self._log_f, self._log_i]
        pool._POOL.give(*spent)
        # the earliest exposure times (indexed by key): every slot the run wrote was recorded in
        # the touched keys, so resetting those few leaves it as a fresh fill would (a run on a
        # big graph touches a small share of its post x user keys; filling all cost about 1 ms a
        # run with 40 posts on 30k users)
        # (settled: _n_touched counts them; released without settling, as the benchmark's bare
        # runs do: the kernel's count still stands in meta[11])
        n = self._n_touched + int(self._meta[11])
        if not self._mapped and n <= pool.RESET_MAX_SHARE * self._first.shape[1]:
            self._first[:, self._touched[:n]] = math.inf
            pool._POOL.give(self._first, filled=math.inf)
        else:
            pool._POOL.give(self._first)
        self._meta[0] = 0  # the event queue is gone (events after the horizon never happen)
        empty_f, empty_i = np.empty((0, 2)), np.empty((0, 4), dtype=np.int64)
        self._hf, self._hi, self._first = empty_f, empty_i, np.empty((1, 0))
        self._first_keys = self._touched = self._seen = np.empty(0, dtype=np.int64)
        if not self.record_views:
            self._log_f, self._log_i = np.empty((1, 2)), empty_i
