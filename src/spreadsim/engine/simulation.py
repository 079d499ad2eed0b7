"""The simulation: a SimPy environment driving the compiled spread kernel.

SimPy is the master clock. Uploads, removals and every policy process are SimPy events; before
SimPy processes its next event at time T, :class:`_Env` lets the kernel process every spread event
due strictly before T (:func:`spreadsim.engine.kernel.advance`). A policy that wants exposure or share
hooks makes the kernel stop after each such event, which is then replayed as a SimPy event at its
own time so the hook runs at the right ``env.now``.

The world is built once per run: the graph (compact CSR arrays, built from the ``graph`` stream or
passed in), uploaders and upload times (``uploads`` stream), one key per post (``spread`` stream),
one stream per policy (``policy:<index>:<name>``).

Several platforms in one run (:mod:`spreadsim.runs.platforms`) share one SimPy environment (``env=``)
and one :class:`Catalog` of content ids and copy numbers (``catalog=``); each platform's streams
carry a prefix (``stream_prefix=``), and a coordinator drives every platform's kernel through
:meth:`Simulation.next_spread_time` and :meth:`Simulation._advance` (see that module for the order).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import simpy

from spreadsim.engine import kernel as K
from spreadsim.engine.metrics import collect
from spreadsim.engine.records import Attempt, Catalog, Post, RunResult
from spreadsim.engine.rng import generator, stream_key, subkey
from spreadsim.errors import ConfigError
from spreadsim.graphs.build import Graph, build_graph
from spreadsim.schema.model import LEGAL, SimConfig, check_seed


class _Env(simpy.Environment):
    """SimPy environment that advances the spread kernel up to each SimPy event."""

    def __init__(self, sim: Simulation) -> None:
        super().__init__()
        self._sim = sim

    def step(self) -> None:
        self._sim._advance(self.peek())
        super().step()


#: below this many (post, user) keys the exposed set is a bitset (8 MiB), above a hash set
DENSE_SEEN_MAX_KEYS = 1 << 26
#: below this many keys the earliest inert exposure per key is tracked in an array (16 B a key,
#: 512 MiB at most), above in a map that grows with the users reached (about 48 B a user)
TRACK_FIRST_MAX_KEYS = 1 << 25
#: settled first exposures go straight into a histogram of at most this many bins
HIST_MAX_BINS = 1 << 22
#: settling scans the tracked keys in key order when at least this share of them was touched
SCAN_MIN_TOUCHED = 1 / 32

#: a run's earliest-exposure array goes back to the pool reset (its touched keys only) when it
#: touched at most this share of the keys; otherwise the next run fills it whole
RESET_MAX_SHARE = 1 / 16

#: work arrays kept for the next run of the same thread (see _ArrayPool), at most this many bytes
POOL_MAX_BYTES = 64 << 20


class _ArrayPool(threading.local):
    """The kernel's work arrays that a finished run no longer needs, kept for the next run in the
    same thread: sweeps run many seeds of one configuration, and fresh memory costs a page fault
    (and the kernel zeroing the page) per 4 KiB touched, about 0.5 ms a run on a 100k-user graph.
    An array is handed out only after it is filled (or was given back holding its fill
    everywhere: the run reset what it wrote) or where every element is written before it is
    read, so results do not depend on what a previous run left behind (tested). One pool per
    thread: nothing is shared between threads."""

    def __init__(self) -> None:
        self.free: dict[tuple[tuple[int, ...], str], list[np.ndarray]] = {}
        #: the value every element of a kept array holds, by ``id`` (arrays given back clean)
        self.filled: dict[int, float] = {}
        self.nbytes = 0

    def take(self, shape: tuple[int, ...], dtype: Any, fill: float | None = None) -> np.ndarray:
        """An array of ``shape`` and ``dtype``, filled with ``fill`` (uninitialized if ``None``);
        a kept array that holds ``fill`` everywhere already is handed out without filling."""
        key = (shape, np.dtype(dtype).str)
        stack = self.free.get(key)
        if stack:
            i = len(stack) - 1
            if fill is not None:  # prefer an array given back clean with this value
                i = next((j for j in range(i, -1, -1) if self.filled.get(id(stack[j])) == fill), i)
            a = stack.pop(i)
            self.nbytes -= a.nbytes
            clean = self.filled.pop(id(a), None)
            if fill is not None and clean != fill:
                a.fill(fill)
            return a
        return np.empty(shape, dtype) if fill is None else np.full(shape, fill, dtype)

    def give(self, *arrays: np.ndarray, filled: float | None = None) -> None:
        """Keep ``arrays`` (owners of their memory, no longer used) for later runs, within
        :data:`POOL_MAX_BYTES`; ``filled``: the value every element of each holds (the caller
        reset what its run wrote), so that a later ``take`` with that fill need not fill it."""
        for a in arrays:
            if a.base is not None or not a.flags.c_contiguous or self.nbytes + a.nbytes > POOL_MAX_BYTES:
                continue
            self.free.setdefault((a.shape, a.dtype.str), []).append(a)
            self.nbytes += a.nbytes
            if filled is not None:
                self.filled[id(a)] = filled


_POOL = _ArrayPool()

_HOOK_BITS = {"exposure": K.EV_EXPOSURE, "share": K.EV_SHARE, "notice": K.EV_NOTICE,
              "threshold": K.EV_THRESHOLD}


def _enlarge(a: np.ndarray, rows: int, exact: bool = False) -> np.ndarray:
    """``a`` with at least ``rows`` rows (new rows zero), grown by at least half in place where
    the allocator can, so that repeated growth stays linear in the final size."""
    new = rows if exact else max(rows, a.shape[0] + a.shape[0] // 2)
    a.resize((new, *a.shape[1:]), refcheck=False)
    return a


def graph_seed(cfg: Mapping[str, Any], seed: int, stream: str = "graph") -> int:
    """The graph's seed: ``graph.seed`` if set, else derived from the run seed's ``stream``."""
    s = cfg.get("seed")
    if s is None:
        return stream_key(seed, stream) % (2**31)
    return check_seed(s, "graph.seed")


class Simulation:
    """One run of one configuration with one seed.

    Parameters
    ----------
    config : SimConfig
        The validated configuration.
    seed : int
        The run seed (>= 0).
    graph : Graph, optional
        A prebuilt graph (reused across the seeds of a sweep); built from ``config.graph`` if omitted.
    policies : sequence of Policy
        The policy objects acting on this run (:func:`spreadsim.runs.single.new_simulation` builds
        them from ``config.policies``); none: the unmoderated run.
    trace : bool
        Keep every exposure (not only first exposures) for exact trace tests.
    record_views : bool
        Keep the time of every exposure without tracing (for the deadline path): log rows for
        exposures processed as events and first exposures, the inert buffer for the others.
    env : simpy.Environment, optional
        An environment shared with other simulations (platforms), driven by a coordinator that
        advances this simulation's kernel (:meth:`next_spread_time`, :meth:`_advance`); run it with
        :meth:`start`, ``env.run`` and :meth:`finish`. A private one if omitted.
    stream_prefix : str
        Prefix of the names of this simulation's random streams (``"<prefix>spread"``, ...);
        empty for a single platform.
    catalog : Catalog, optional
        Content ids and copy numbers shared with other simulations; a private one if omitted.
    """

    def __init__(self, config: SimConfig, seed: int, *, graph: Graph | None = None,
                 policies: Sequence[Any] = (), trace: bool = False,
                 env: simpy.Environment | None = None, stream_prefix: str = "",
                 catalog: Catalog | None = None, record_views: bool = False) -> None:
        self.config = config
        self.seed = check_seed(seed)
        self.stream_prefix = stream_prefix
        self.graph = graph if graph is not None else build_graph(
            config.graph, graph_seed(config.graph, seed, f"{stream_prefix}graph"))
        if self.graph.n == 0 or self.graph.num_arcs == 0:
            raise ConfigError("graph", self.graph.name, "the graph is empty (no users or no edges)")
        self.policies = list(policies)
        self.per_copy = config.spread.removal == "per_copy"
        self.trace = trace
        self.env: simpy.Environment = env if env is not None else _Env(self)
        self.posts: list[Post] = []
        self.removals: list[tuple[float, int]] = []
        self.blocked: list[Attempt] = []
        # the shared human review queue, created by the policy that configures moderators
        self.review: Any = None
        # suspended adversary accounts -> the new account the adversary uploads from instead
        # (set by account_strikes; the campaign's later uploads follow it, see ``account``)
        self.replaced: dict[int, int] = {}
        self.catalog = catalog if catalog is not None else Catalog()
        self._copies = self.catalog.copies  # content id -> uploads so far
        self._spread_key = stream_key(self.seed, f"{stream_prefix}spread")
        self._build_campaign()
        self._init_kernel()
        wants = set().union(*(p.wants for p in self.policies)) if self.policies else set()
        unknown = wants - set(_HOOK_BITS)
        if unknown:
            raise ValueError(f"policies want unknown hooks {sorted(unknown)}; known: {list(_HOOK_BITS)}")
        self._stop_mask = sum(bit for name, bit in _HOOK_BITS.items() if name in wants)
        # exposures that can trigger nothing skip the event queue and are counted at the end,
        # unless something needs every exposure as it happens (trace, exposure or reach hooks,
        # or a policy that reads reach/views during the run)
        # live views: every exposure counted as it happens (trace, or a policy reading views);
        # live reach: every first exposure processed in time order (exposure or reach hooks),
        # while repeat exposures may still skip the queue
        self.live_views = trace or any(p.needs_live_counts for p in self.policies)
        self.live_reach = self.live_views or bool(wants & {"exposure", "threshold"})
        self.live_counts = self.live_reach
        self._meta[9] = 0 if self.live_reach else 1
        # reach live without live views: for every post with exposure hooks, else only for posts
        # with a pending reach trigger (their reach is counted in time order until the last one)
        self._meta[15] = (2 if "exposure" in wants else 1) if self.live_reach and not self.live_views else 0
        self._finished = False
        self._advances = 0  # kernel advances so far (reach() of a post whose reach stopped being
        self._reach_frozen: dict[int, int] = {}  # live is exact only until the next advance)
        # when every policy fixes removal times at upload, inert exposures are counted as they
        # are scheduled instead of being buffered until the end
        self._meta[13] = int(all(p.pre_decided for p in self.policies))
        # record_views (for the deadline path): keep the time of every exposure, cheaply: the
        # event-queue ones in the log, the inert ones in their buffer (settled first exposures
        # are logged too, flagged 4: their view is in the buffer)
        self.record_views = record_views and not self.live_counts
        if self.record_views:
            self._meta[13] = 0
        # with earliest times tracked and nothing that needs the log's rows (a trace, recorded
        # views), first exposures through the event queue are not logged: settling counts them
        # from the tracked earliest times, where their times are
        tracked = self._meta[9] != 0 or self._meta[15] != 0
        self._meta[14] = int(tracked and not (self.trace or self.record_views))
        for i, p in enumerate(self.policies):
            p.bind(self, stream_key(self.seed, f"{stream_prefix}policy:{i}:{p.name}"))

    # ------------------------------------------------------------------ world
    def _build_campaign(self) -> None:
        sc = self.config.scenario
        rng = generator(self.seed, f"{self.stream_prefix}uploads")
        g = self.graph
        if sc.uploaders > g.n:
            raise ConfigError("scenario.uploaders", sc.uploaders, f"must be <= the number of users ({g.n})")
        if sc.uploader_selection == "top_degree":
            deg = g.out_degree()
            self.uploaders = np.argsort(-deg, kind="stable")[: sc.uploaders].astype(np.int64)
        else:
            self.uploaders = rng.choice(g.n, size=sc.uploaders, replace=False).astype(np.int64)
        # Poisson arrivals over the window, conditioned on the count: sorted uniform times
        n_ill, n_leg = sc.illegal_posts, sc.legal_posts
        weights = np.array([c.weight for c in sc.categories], dtype=np.float64)
        ill_times = rng.uniform(0.0, sc.window_h, n_ill)
        # rng.choice(len(weights), n_ill, p=weights / weights.sum()), by its own arithmetic (the
        # same draws; without its checks of p, which cost more than a small run's set-up)
        cdf = np.cumsum(weights / weights.sum())
        cdf /= cdf[-1]
        ill_cat = cdf.searchsorted(rng.random(n_ill), side="right")
        ill_up = self.uploaders[rng.integers(0, len(self.uploaders), n_ill)]
        # (empty draws leave the generator's state as it is: skipped)
        leg_times = rng.uniform(0.0, sc.window_h, n_leg) if n_leg else np.empty(0)
        leg_up = rng.integers(0, g.n, n_leg) if n_leg else np.empty(0, dtype=np.int64)
        times = np.concatenate([ill_times, leg_times])
        order = np.argsort(times, kind="stable")
        cats = [sc.categories[c].name for c in ill_cat] + [LEGAL] * n_leg
        ups = np.concatenate([ill_up, leg_up])
        adv = [True] * n_ill + [False] * n_leg
        self._schedule = [(float(times[i]), cats[i], int(ups[i]), adv[i]) for i in order]
        self._cat = {c.name: c for c in sc.categories}

    def _init_kernel(self) -> None:
        n_posts = max(1, len(self._schedule))
        self._pf = np.zeros((n_posts, K.NPF), dtype=np.float64)
        self._pi = np.zeros((n_posts, K.NPI), dtype=np.int64)
        self._max_degree = self.graph.max_out_degree
        n_keys = n_posts * self.graph.n
        # buffers start large enough for most runs (np.empty: pages cost memory only once used)
        cap = max(1024, 4 * self._max_degree, min(n_keys // 8, 1 << 16))
        # (from the pool of a previous run's arrays where the run gives them back, see finish)
        self._hf = _POOL.take((cap, 2), np.float64)
        self._hi = _POOL.take((cap, 4), np.int64)
        self._meta = np.zeros(16, dtype=np.int64)
        self._inert_f = np.empty((cap, 2), dtype=np.float64)
        self._inert_i = np.empty((cap, 1), dtype=np.int64)
        log_rows = max(4096, min(n_keys // 2, 1 << 16))
        self._log_f = _POOL.take((log_rows + 1, 2), np.float64)
        self._log_i = _POOL.take((log_rows, 4), np.int64)
        k = self.config.spread.kernel
        self._delay = np.array([k.code, k.a, k.b], dtype=np.float64)
        self._lat_tables: list[np.ndarray] = []
        self._lat_table = np.zeros(1, dtype=np.float64)
        # the set of (post, user) pairs already exposed: a bitset while it stays small
        self._dense = n_posts * self.graph.n <= DENSE_SEEN_MAX_KEYS
        self._seen = (_POOL.take((K.dense_seen_words(n_posts, self.graph.n),), np.int64, 0)
                      if self._dense else K.new_seen())
        self._meta[10] = 1 if self._dense else 0
        # earliest inert exposure per (post, user) key: an array indexed by key while that stays
        # small, else a map (first_keys) that grows with the users reached
        self._mapped = n_posts * self.graph.n > TRACK_FIRST_MAX_KEYS
        slots = 1 << 12 if self._mapped else n_posts * self.graph.n
        # row 0: the earliest exposure time per key (the hot row, contiguous); row 1, only when
        # copies have their own removal clocks (per_copy), the deadline of that exposure's copy
        self._first = _POOL.take((2 if self.per_copy else 1, slots), np.float64, math.inf)
        self._first_keys = _POOL.take((slots if self._mapped else 1,), np.int64, -1)
        # every key touched at most once: room for all of them when the keys index an array
        self._touched = _POOL.take((cap if self._mapped else min(n_keys, 1 << 24) + 1,), np.int64)
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

    @property
    def can_stop(self) -> bool:
        """Whether the kernel may stop at an exposure (some policy wants exposure hooks)."""
        return self._stop_mask != 0

    def next_spread_time(self) -> float:
        """Time of the earliest spread event in the kernel's queue (``inf`` if it is empty); a
        lower bound of the next exposure, which may turn out to be void (its post removed)."""
        return float(self._hf[0, K.HF_TIME]) if self._meta[0] > 0 else math.inf

    def _advance(self, until: float) -> float | None:
        """Process the spread events due strictly before ``until``; if the kernel stops at an
        exposure with hooks, replay it as a SimPy event and return its time (else ``None``)."""
        horizon = float(self.config.scenario.horizon_h)
        # a float always (SimPy's clock may be an int): one compiled signature of the kernel
        until = float(min(until, horizon))
        self._advances += 1
        while True:
            code = K.advance(self._indptr, self._indices, self._pf, self._pi, self._hf, self._hi,
                             self._meta, self._delay, self._lat_table, self._seen, self._log_f,
                             self._log_i, self._notice_weight, self._inert_f, self._inert_i,
                             self._first, self._first_keys, self._touched, until, horizon,
                             self._max_degree, self._stop_mask,
                             self.trace or self.record_views,
                             self.config.max_events)
            if code == K.GROW:
                self._grow()
                continue
            if code == K.STOPPED:
                t = float(self._log_f[-1, 0])
                self._replay(t, *(int(x) for x in self._meta[3:7]))
                return t
            return None

    def _replay(self, t: float, bits: int, q: int, v: int, src: int) -> None:
        """Replay a reported exposure as a SimPy event at its own time, for the hooks."""
        ev = simpy.Event(self.env)
        ev._ok = True
        ev._value = None
        post = self.posts[q]

        def fire(_: simpy.Event) -> None:
            if bits & K.EV_THRESHOLD:
                self._next_trigger(post)
            for p in self.policies:
                if bits & K.EV_EXPOSURE and "exposure" in p.wants:
                    p.on_exposure(post, v, src)
                if bits & K.EV_SHARE and "share" in p.wants:
                    p.on_share(post, v, src)
                if bits & K.EV_NOTICE and "notice" in p.wants:
                    p.on_notice(post, v)
                if bits & K.EV_THRESHOLD and "threshold" in p.wants:
                    p.on_reach_threshold(post, self.reach(post))

        ev.callbacks.append(fire)
        self.env.schedule(ev, delay=t - self.env.now)

    # ------------------------------------------------------------------ actions
    def new_content_id(self) -> int:
        """A fresh content id (the campaign's posts use 0..n-1 in upload order)."""
        cid = max(self.catalog.next_content, len(self._schedule))
        self.catalog.next_content = cid + 1
        return cid

    def upload(self, category: str, uploader: int, *, content_id: int | None = None,
               altered: bool = False, adversarial: bool = False) -> Post | None:
        """Upload a post now; returns ``None`` if a policy blocked it.

        Re-uploads pass the ``content_id`` of the removed material: the copy number and the post's
        random stream follow from it, so a re-upload sees the same draws whatever else changed.
        """
        t = self.env.now
        cid = self.new_content_id() if content_id is None else int(content_id)
        copy = self._copies.get(cid, 0)
        self._copies[cid] = copy + 1
        attempt = Attempt(cid, category, int(uploader), t, copy, altered, adversarial)
        for pol in self.policies:
            if pol.on_upload_attempt(attempt) is False:
                self.blocked.append(attempt)
                return None
        q = len(self.posts)
        if q >= self._pf.shape[0]:
            self._pf = np.concatenate([self._pf, np.zeros_like(self._pf)])
            self._pi = np.concatenate([self._pi, np.zeros_like(self._pi)])
            if not self._mapped:  # one row per (post slot, user) key
                more = np.full((self._first.shape[0], self._pf.shape[0] * self.graph.n
                                - self._first.shape[1]), math.inf)
                self._first = np.concatenate([self._first, more], axis=1)
            if self._dense:  # the bitset covers keys of every post slot
                extra = K.dense_seen_words(self._pf.shape[0], self.graph.n) - self._seen.size
                self._seen = np.concatenate([self._seen, np.zeros(max(extra, 0), dtype=np.int64)])
        post = Post(q, cid, category, int(uploader), t, copy, altered, adversarial)
        self.posts.append(post)
        sc = self.config.scenario
        if category == LEGAL:
            p, decay = sc.legal_share_prob, self.config.spread.decay
        else:
            c = self._cat.get(category)
            p = c.share_prob if c is not None else sc.categories[0].share_prob
            decay = (c.decay if c is not None else None) or self.config.spread.decay
        pf, pi = self._pf[q], self._pi[q]
        pf[K.PF_T0] = t
        pf[K.PF_P] = p
        pf[K.PF_REMOVED] = math.inf
        pf[K.PF_DECAY_A], pf[K.PF_DECAY_B] = decay.a, decay.b
        pf[K.PF_SCALE] = 1.0
        pf[K.PF_LIMIT] = math.inf
        pi[K.PI_KEY] = subkey(subkey(self._spread_key, cid), copy)
        pi[K.PI_DELAY_KEY], pi[K.PI_SHARE_KEY] = subkey(pi[K.PI_KEY], 0), subkey(pi[K.PI_KEY], 1)
        pi[K.PI_UPLOADER] = uploader
        pi[K.PI_DECAY_KIND] = decay.code
        pi[K.PI_LEGAL] = 1 if category == LEGAL else 0
        for pol in self.policies:
            pol.on_upload(post)
        if not self._pi[q, K.PI_REACH_TRIGGER]:
            self._freeze_reach(post)  # no trigger: its reach need not be counted live
        if t < self._pf[q, K.PF_REMOVED]:
            self._grow()  # room for one share's worth of events
            K.share(self._indptr, self._indices, self._pf, self._pi, self._hf, self._hi, self._meta,
                    self._delay, self._lat_table, self._notice_weight, self._inert_f,
                    self._inert_i, self._first, self._first_keys, self._touched, q, uploader,
                    float(t), float(sc.horizon_h))  # floats: one compiled signature
        return post

    # ------------------------------------------------------------------ queries
    def account(self, user: int) -> int:
        """The account ``user`` uploads from now: itself, or the account that replaced it after a
        suspension (following ``replaced`` to its end)."""
        for _ in range(len(self.replaced) + 1):
            if user not in self.replaced:
                break
            user = self.replaced[user]
        return user

    def is_removed(self, post: Post) -> bool:
        """Whether ``post`` has been removed (as of now)."""
        return bool(self._pf[post.id, K.PF_REMOVED] <= self.env.now)

    def reach(self, post: Post) -> int:
        """Distinct users exposed to ``post`` so far (during a run: needs a policy that wants
        exposure hooks or ``needs_live_counts``, or, with reach-threshold hooks only, a post
        whose reach is still counted live: one with a pending reach trigger)."""
        if not self.live_reach:
            raise RuntimeError("reach() during a run needs live counts: give the policy "
                               "needs_live_counts = True (or wants 'threshold')")
        if self._reach_frozen.get(post.id, self._advances) != self._advances:
            raise RuntimeError(f"reach() of post {post.id} during a run: with reach-threshold hooks "
                               "only, a post's reach is counted live while it has a pending reach "
                               "trigger (add triggers at upload); give the policy needs_live_counts "
                               "= True or want 'exposure' hooks to read it at any time")
        return int(self._pi[post.id, K.PI_REACH])

    def views(self, post: Post) -> int:
        """Exposures of ``post`` so far (during a run: needs a policy with
        ``needs_live_counts``)."""
        if not self.live_views:
            raise RuntimeError("views() during a run needs live counts: give the policy "
                               "needs_live_counts = True")
        return int(self._pi[post.id, K.PI_VIEWS])

    def shares(self, post: Post) -> int:
        """Reshares of ``post`` so far."""
        return int(self._pi[post.id, K.PI_SHARES])

    # ------------------------------------------------------------------ actions
    def remove_post(self, post: Post) -> None:
        """Remove ``post`` now (cascade: every share of it goes with it)."""
        self._remove(post, self.env.now)

    def _remove(self, post: Post, at: float) -> None:
        if self._pf[post.id, K.PF_REMOVED] <= at:
            return  # already removed
        # exposures are checked against this time when they fire, so recording the exact
        # scheduled time (rather than the clock's float sum) keeps results path-independent
        self._pf[post.id, K.PF_REMOVED] = at
        self.removals.append((at, post.id))
        for p in self.policies:
            p.on_removal(post)

    def schedule_removal(self, post: Post, at: float) -> None:
        """Remove ``post`` at time ``at`` (hours; no earlier than now)."""
        if at <= self.env.now:
            self.remove_post(post)
            return
        if at >= self.config.scenario.horizon_h:
            return  # after the end of the simulation: never observed
        # an upper bound on the removal time: spread events at or after it can be dropped early
        self._pf[post.id, K.PF_LIMIT] = min(self._pf[post.id, K.PF_LIMIT], at)
        self.env.timeout(at - self.env.now).callbacks.append(lambda _e: self._remove(post, at))

    def set_copy_clock(self, post: Post, kind: int, a: float, b: float, prob: float,
                       table: np.ndarray) -> None:
        """Per-copy semantics: every share of ``post`` is removed after its own latency."""
        if table.size > 1:
            if self._lat_table.size > 1 and not np.array_equal(self._lat_table, table):
                raise ConfigError("policy", "empirical", "one empirical delay table per simulation "
                                  "in per_copy semantics")
            self._lat_table = table
        if kind != 0 and self._first.shape[0] == 1:  # keep the copies' deadlines from now on
            self._first = np.vstack([self._first, np.full_like(self._first, math.inf)])
        pf, pi = self._pf[post.id], self._pi[post.id]
        pi[K.PI_COPY_KIND] = kind if kind != 0 else 0
        pf[K.PF_COPY_A], pf[K.PF_COPY_B], pf[K.PF_COPY_PROB] = a, b, prob

    def set_notices(self, post: Post, prob: float, key: int) -> None:
        """Each first exposure to ``post`` files a notice with probability ``prob`` (times the
        user's notice weight), decided by the counter-based coin of stream ``key``."""
        self._notice_weights()
        self._pf[post.id, K.PF_NOTICE_P] = prob
        self._pi[post.id, K.PI_NOTICE_KEY] = key

    def set_notice_weights(self, users: np.ndarray, weight: float) -> None:
        """Multiply the notice probability of ``users`` by ``weight`` (a user group)."""
        self._notice_weights()[np.asarray(users, dtype=np.int64)] = weight

    def _notice_weights(self) -> np.ndarray:
        """The per-user notice weights, made full size (all 1) on first use."""
        if self._notice_weight.shape[0] != self.graph.n:
            self._notice_weight = np.ones(self.graph.n, dtype=np.float64)
        return self._notice_weight

    def add_reach_trigger(self, post: Post, reach: int) -> None:
        """Call ``on_reach_threshold`` when ``post``'s reach reaches ``reach`` users."""
        lst = self._triggers.setdefault(post.id, [])
        if reach > self.reach(post) and reach not in lst:
            lst.append(reach)
            lst.sort()
        self._pi[post.id, K.PI_REACH_TRIGGER] = lst[0] if lst else 0
        if lst:
            self._reach_frozen.pop(post.id, None)  # counted live again from now on

    def _next_trigger(self, post: Post) -> None:
        lst = self._triggers.get(post.id, [])
        while lst and lst[0] <= self.reach(post):
            lst.pop(0)
        self._pi[post.id, K.PI_REACH_TRIGGER] = lst[0] if lst else 0
        if not lst:
            self._freeze_reach(post)

    def _freeze_reach(self, post: Post) -> None:
        """With reach counted live only for posts with a pending trigger (``meta[15] == 1``),
        ``post`` has none left: its reach stays exact only until the kernel advances."""
        if self._meta[15] == 1:
            self._reach_frozen[post.id] = self._advances

    def throttle(self, post: Post, factor: float) -> None:
        """Scale ``post``'s reshare probability by ``factor`` from now on."""
        self._pf[post.id, K.PF_SCALE] = factor

    # ------------------------------------------------------------------ run
    def _uploads(self) -> Any:
        for i, (t, cat, up, adv) in enumerate(self._schedule):
            if t > self.env.now:
                yield self.env.timeout(t - self.env.now)
            self.upload(cat, self.account(up) if adv else up, content_id=i, adversarial=adv)

    def run(self) -> RunResult:
        """Run to the horizon and collect the results."""
        self.start()
        self.env.run(until=self.config.scenario.horizon_h)
        return self.finish()

    def start(self) -> None:
        """Start the policies' processes and the campaign's uploads (before ``env.run``)."""
        for p in self.policies:
            p.start()
        self.env.process(self._uploads())

    def finish(self) -> RunResult:
        """Collect the results once the environment has run to the horizon (once: the run's work
        arrays go back to the pool for the next run)."""
        if self._finished:
            raise RuntimeError("this simulation has finished already: its results are in the "
                               "RunResult that run() or finish() returned")
        self._finished = True
        self._settle()
        # every count is final: reach()/views() are valid after the run
        self.live_counts = self.live_reach = self.live_views = True
        self._reach_frozen.clear()
        result = self._collect()
        self._release()
        return result

    def _release(self) -> None:
        """Give the work arrays nothing reads after the run to the pool of the next run (the
        exposure log and the inert buffer stay when record_views keeps them for the caller)."""
        spent = [self._hf, self._hi, self._first_keys, self._touched]
        if self._dense:
            spent.append(self._seen)
        if not self.record_views:
            spent += [self._log_f, self._log_i]
        _POOL.give(*spent)
        # the earliest exposure times (indexed by key): every slot the run wrote was recorded in
        # the touched keys, so resetting those few leaves it as a fresh fill would (a run on a
        # big graph touches a small share of its post x user keys; filling all cost about 1 ms a
        # run with 40 posts on 30k users)
        # (settled: _n_touched counts them; released without settling, as the benchmark's bare
        # runs do: the kernel's count still stands in meta[11])
        n = self._n_touched + int(self._meta[11])
        if not self._mapped and n <= RESET_MAX_SHARE * self._first.shape[1]:
            self._first[:, self._touched[:n]] = math.inf
            _POOL.give(self._first, filled=math.inf)
        else:
            _POOL.give(self._first)
        self._meta[0] = 0  # the event queue is gone (events after the horizon never happen)
        empty_f, empty_i = np.empty((0, 2)), np.empty((0, 4), dtype=np.int64)
        self._hf, self._hi, self._first = empty_f, empty_i, np.empty((1, 0))
        self._first_keys = self._touched = self._seen = np.empty(0, dtype=np.int64)
        if not self.record_views:
            self._log_f, self._log_i = np.empty((1, 2)), empty_i

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
                and n_touched >= SCAN_MIN_TOUCHED * self._first.shape[1])
        bins = 0
        if not log_rows and n_touched:
            span = K.first_span(self._first, self._touched, n_touched, scan)
            steps = min(span, sc.horizon_h) / sc.series_step_h
            bins = int(steps) + 3 if steps < HIST_MAX_BINS else 0
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

    def _collect(self) -> RunResult:
        result = collect(self)
        for i, p in enumerate(self.policies):
            for name, table in p.tables().items():
                result.tables[f"policy{i}_{p.name}_{name}"] = table
        return result
