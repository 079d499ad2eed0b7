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

The kernel's work arrays and their life cycle are in :mod:`spreadsim.engine.workspace`, the queries
and actions that policies call in :mod:`spreadsim.engine.policy_api`, the public read methods of
what a run recorded (the exposure log, per-post counters) in :mod:`spreadsim.engine.runlog`: all
three are base classes of :class:`Simulation`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import simpy

from spreadsim.engine import kernel as K
from spreadsim.engine.metrics import collect
from spreadsim.engine.policy_api import PolicyApi
from spreadsim.engine.records import Attempt, Catalog, Post, RunResult
from spreadsim.engine.runlog import RunLog
from spreadsim.engine.workspace import Workspace
from spreadsim.errors import ConfigError
from spreadsim.graphs import Graph, build_graph, graph_seed
from spreadsim.rng import generator, stream_key, subkey
from spreadsim.schema.config import SimConfig
from spreadsim.schema.model import LEGAL, check_seed


class _Env(simpy.Environment):
    """SimPy environment that advances the spread kernel up to each SimPy event."""

    def __init__(self, sim: Simulation) -> None:
        super().__init__()
        self._sim = sim

    def step(self) -> None:
        self._sim._advance(self.peek())
        super().step()


_HOOK_BITS = {"exposure": K.EV_EXPOSURE, "share": K.EV_SHARE, "notice": K.EV_NOTICE,
              "threshold": K.EV_THRESHOLD}


def policy_stream_key(seed: int, index: int, name: str, prefix: str = "") -> int:
    """The key of the random stream of the policy at ``index`` of a stack, named ``name``:
    ``stream_key(seed, "<prefix>policy:<index>:<name>")``. The one formula, for the engine, the
    deadline path and the reference engine alike (a policy's draws are keyed on it, see
    :mod:`spreadsim.policies.base`)."""
    return stream_key(seed, f"{prefix}policy:{index}:{name}")


def policy_label(index: int, name: str) -> str:
    """The label of the policy at ``index`` of a stack (``policy0_fixed_latency``): its summary
    keys, tables and removal causes start with it."""
    return f"policy{index}_{name}"


class Simulation(PolicyApi, RunLog, Workspace):
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
        # (time, post id, cause); single copies: (time, post id, sharer, cause)
        self.removals: list[tuple[float, int, str]] = []
        self._causes: dict[int, str] = {}  # post id -> the cause of its removal
        self.copy_removals: list[tuple[float, int, int, str]] = []
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
        # The kernel's mode (docs/design.md, The share routine's modes), from the most exact:
        # every exposure through the event queue, views and reach live (a trace, exposure hooks,
        # a policy reading counts, or single copies removed: see Policy.removes_copies); or
        # exposures that can trigger nothing skip the queue (inert, counted at the end) but the
        # first exposures of posts with a pending reach trigger run in time order (threshold
        # hooks); or every such exposure skips it, views counted as they are scheduled when every
        # policy fixes removal times at upload (final), else buffered until the end
        self.exact_copies = self.per_copy and any(p.removes_copies for p in self.policies)
        self.live_views = (trace or self.exact_copies or "exposure" in wants
                           or any(p.needs_live_counts for p in self.policies))
        self.live_reach = self.live_views or "threshold" in wants
        self.live_counts = self.live_reach
        st = self._state
        st.stop_mask = self._stop_mask
        st.track = 0 if self.live_views else 1
        st.trigger_live = int(self.live_reach and not self.live_views)
        self._finished = False
        self._advances = 0  # kernel advances so far (reach() of a post whose reach stopped being
        self._reach_frozen: dict[int, int] = {}  # live is exact only until the next advance)
        st.final = int(all(p.pre_decided for p in self.policies))
        # record_views (for the deadline path): keep the time of every exposure, cheaply: the
        # event-queue ones in the log, the inert ones in their buffer (settled first exposures
        # are logged too, flagged SETTLED: their view is in the buffer)
        self.record_views = record_views and not self.live_counts
        if self.record_views:
            st.final = 0
        st.log_every = int(self.trace or self.record_views)
        # with earliest times tracked and nothing that needs the log's rows (a trace, recorded
        # views), first exposures through the event queue are not logged: settling counts them
        # from the tracked earliest times, where their times are
        st.unlogged = int(st.track != 0 and not (self.trace or self.record_views))
        for i, p in enumerate(self.policies):
            p.label = policy_label(i, p.name)  # (as the policy's summary keys and tables)
            p.bind(self, policy_stream_key(self.seed, i, p.name, stream_prefix))

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

    @property
    def can_stop(self) -> bool:
        """Whether the kernel may stop at an exposure (some policy wants exposure hooks)."""
        return self._stop_mask != 0

    def next_spread_time(self) -> float:
        """Time of the earliest spread event in the kernel's queue (``inf`` if it is empty); a
        lower bound of the next exposure, which may turn out to be void (its post removed)."""
        return float(self._work.hf[0, K.HF_TIME]) if self._state.heap_size > 0 else math.inf

    def _advance(self, until: float) -> float | None:
        """Process the spread events due strictly before ``until``; if the kernel stops at an
        exposure with hooks, replay it as a SimPy event and return its time (else ``None``)."""
        # a float always (SimPy's clock may be an int): one compiled signature of the kernel
        until = float(min(until, self.config.scenario.horizon_h))
        self._advances += 1
        while True:
            code = K.advance(self._work, until)
            if code == K.GROW:
                self._grow()
                continue
            if code == K.STOPPED:
                st = self._state
                t = float(st.ev_time)
                self._replay(t, int(st.ev_bits), int(st.ev_post), int(st.ev_user), int(st.ev_src))
                return t
            return None

    def _replay(self, t: float, bits: int, q: int, v: int, src: int) -> None:
        """Replay a reported exposure as a SimPy event at its own time, for the hooks."""
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
                    p.on_notice(post, v, src)
                if bits & K.EV_THRESHOLD and "threshold" in p.wants:
                    p.on_reach_threshold(post, self.reach(post))

        # a timeout is an event already triggered (ok, no value), scheduled at t with the same
        # priority as a plain event: SimPy's public way to schedule a callback at a time
        self.env.timeout(t - self.env.now).callbacks.append(fire)

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
        w = self._work
        if q >= w.pf.shape[0]:
            n_slots = 2 * w.pf.shape[0]
            self._set(pf=np.concatenate([w.pf, np.zeros_like(w.pf)]),
                      pi=np.concatenate([w.pi, np.zeros_like(w.pi)]))
            if not self._mapped:  # one row per (post slot, user) key
                more = np.full((w.first.shape[0], n_slots * self.graph.n - w.first.shape[1]), math.inf)
                self._set(first=np.concatenate([w.first, more], axis=1))
            if self._dense:  # the bitset covers keys of every post slot
                extra = K.dense_seen_words(n_slots, self.graph.n) - w.seen.size
                self._set(seen=np.concatenate([w.seen, np.zeros(max(extra, 0), dtype=np.int64)]))
        post = Post(q, cid, category, int(uploader), t, copy, altered, adversarial)
        self.posts.append(post)
        sc = self.config.scenario
        if category == LEGAL:
            p, decay = sc.legal_share_prob, self.config.spread.decay
        else:
            c = self._cat.get(category)
            p = c.share_prob if c is not None else sc.categories[0].share_prob
            decay = (c.decay if c is not None else None) or self.config.spread.decay
        pf, pi = self._work.pf[q], self._work.pi[q]
        pf[K.PF_T0] = t
        pf[K.PF_P] = p
        pf[K.PF_REMOVED] = pf[K.PF_CUT] = math.inf
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
        w = self._work  # (a policy's on_upload may have grown the tables: read them anew)
        if not w.pi[q, K.PI_REACH_TRIGGER]:
            self._freeze_reach(post)  # no trigger: its reach need not be counted live
        if t < w.pf[q, K.PF_CUT]:
            self._grow()  # room for one share's worth of events
            K.share(self._work, q, uploader, float(t))  # a float: one compiled signature
        return post

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

    def _collect(self) -> RunResult:
        result = collect(self)
        for p in self.policies:
            for name, table in p.tables().items():
                result.tables[f"{p.label}_{name}"] = table
        return result
