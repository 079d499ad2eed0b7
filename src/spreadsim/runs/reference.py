"""A reference engine: every exposure a SimPy event, in plain Python, as an oracle for the kernel.

:class:`ReferenceSimulation` runs the same model as :class:`spreadsim.engine.simulation.Simulation`
from the model's own definitions, without the compiled kernel and without any of its shortcuts
(no inert exposures, no settling, no tracked earliest times, no dropping of events at scheduling;
the removals already scheduled for a post are known when its exposures fire, because the tie rule
compares an exposure with the post's removal time even when that is a hair later):

* the world: the graph of :mod:`spreadsim.graphs`, the campaign drawn from the ``uploads`` stream
  (``Generator.choice`` with the category weights), one key per post
  ``subkey(subkey(stream_key(seed, "spread"), content_id), copy)``;
* a share of post ``q`` by user ``u`` at time ``t`` exposes every follower ``w`` of ``u`` but the
  post's uploader at ``t + delay(uniform(subkey(key, 0), u, w))`` (:func:`spreadsim.dists.delay_from_uniform`);
* an exposure is a SimPy event of low priority (after every other SimPy event at the same time,
  as the engine's kernel events are); it happens if its time is before the horizon and before
  the tie rule's cut (:func:`spreadsim.engine.kernel.timing.removal_cut`) of the post's removal
  time (the earliest of its removal and the removals scheduled for it so far), of its copy's
  removal clock and of its copy's removal (``remove_copy``), and then counts as a view; the first one of a user counts
  for reach, and the user reshares if ``uniform(subkey(key, 1), w, 0) < share_prob * throttle *
  decay(age)`` and files a notice if ``uniform(notice key, w, 0) < notice_prob * weight[w]``;
* ``per_copy``: each share gets the clocks the policies set (``set_copy_clock``), each drawn from
  the calling policy's key keyed by the sharer (coin counter 1, latency counter 0); a copy's
  removal time is the earliest of its clocks, or its removal by ``remove_copy`` if earlier;
* every removal records its cause (``"<policy label>:<reason>"``): ``removals`` are (time, post,
  cause), ``copy_removals`` (time, post, sharer, cause);
* the policies are the real policy classes, bound to this engine, whose hooks they call through
  the same queries and actions (:class:`spreadsim.engine.policy_api.PolicyApi`'s names);
* the tables come from the metrics' own definitions (:func:`spreadsim.engine.metrics.post_tables`,
  :func:`~spreadsim.engine.metrics.summarize`) fed with this engine's counts and first exposures.

It is slow (a SimPy event per exposure): for graphs of tens to a few thousand users. The oracle
tests (``tests/test_oracle.py``) compare it with the engine table for table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL, EventPriority

from spreadsim.dists import decay_factor, delay_from_uniform, latency_from_uniform
from spreadsim.engine.kernel.timing import removal_cut
from spreadsim.engine.metrics import post_tables, stack_causes, summarize
from spreadsim.engine.records import Attempt, Catalog, Post, RunResult
from spreadsim.engine.simulation import policy_label, policy_stream_key
from spreadsim.graphs import Graph, build_graph, graph_seed
from spreadsim.policies import make_policies
from spreadsim.rng import generator, stream_key, subkey, uniform
from spreadsim.schema.config import SimConfig
from spreadsim.schema.model import LEGAL, check_seed

#: SimPy priority of an exposure: after the urgent (0) and normal (1) events of its time
EXPOSURE_PRIORITY = 2
_HOOKS = ("exposure", "share", "notice", "threshold")


class _Exposure(simpy.Timeout):
    """An exposure: a timeout that :class:`_Env` schedules at :data:`EXPOSURE_PRIORITY`."""


class _Env(simpy.Environment):
    """A SimPy environment in which exposures come after every other event of their time."""

    def schedule(self, event: simpy.Event, priority: EventPriority = NORMAL, delay: float = 0) -> None:
        if isinstance(event, _Exposure):
            priority = EventPriority(EXPOSURE_PRIORITY)
        super().schedule(event, priority, delay)


class _PostState:
    """What the reference engine knows of one post."""

    __slots__ = ("post", "key", "p", "decay", "removed", "limit", "scale", "clocks", "notice_p",
                 "notice_key", "seen", "reach", "views", "shares", "triggers", "cause")

    def __init__(self, post: Post, key: int, p: float, decay: Any) -> None:
        self.post, self.key, self.p, self.decay = post, key, p, decay
        self.removed = math.inf
        self.limit = math.inf  # the earliest removal scheduled so far (the post's removal time R)
        self.cause: str | None = None
        self.scale = 1.0
        self.clocks: list[tuple[int, float, float, float, np.ndarray, int]] = []
        self.notice_p, self.notice_key = 0.0, 0
        self.seen: set[int] = set()
        self.reach = self.views = self.shares = 0
        self.triggers: list[int] = []


class ReferenceSimulation:
    """One run of ``config`` with ``seed``, every exposure a SimPy event (see the module).

    Parameters
    ----------
    config : SimConfig
    seed : int
    graph : Graph, optional
        Built from ``config.graph`` (the ``graph`` stream) if omitted.
    policies : sequence of Policy
        Fresh policy objects (:func:`spreadsim.policies.make_policies`), bound to this engine.
    """

    def __init__(self, config: SimConfig, seed: int, *, graph: Graph | None = None,
                 policies: Sequence[Any] = ()) -> None:
        self.config = config
        self.seed = check_seed(seed)
        self.graph = graph if graph is not None else build_graph(
            config.graph, graph_seed(config.graph, seed, "graph"))
        self.policies = list(policies)
        self.per_copy = config.spread.removal == "per_copy"
        self.env: simpy.Environment = _Env()
        self.posts: list[Post] = []
        self.removals: list[tuple[float, int, str]] = []
        self.copy_removals: list[tuple[float, int, int, str]] = []
        self._copy_removed: dict[tuple[int, int], float] = {}
        self.blocked: list[Attempt] = []
        self.review: Any = None
        self.replaced: dict[int, int] = {}
        self.catalog = Catalog()
        self._state: list[_PostState] = []
        self._weights = np.ones(self.graph.n)
        self._spread_key = stream_key(self.seed, "spread")
        # (time, post, user, copy deadline, source)
        self._firsts: list[tuple[float, int, int, float, int]] = []
        self.exposures: list[tuple[float, int, int, int, bool, bool]] = []
        self._campaign()
        self.exact_copies = self.per_copy and any(p.removes_copies for p in self.policies)
        for i, p in enumerate(self.policies):
            p.label = policy_label(i, p.name)
            p.bind(self, policy_stream_key(self.seed, i, p.name))

    # ------------------------------------------------------------------ the world
    def _campaign(self) -> None:
        sc, g = self.config.scenario, self.graph
        rng = generator(self.seed, "uploads")
        if sc.uploader_selection == "top_degree":
            self.uploaders = np.argsort(-np.diff(g.indptr), kind="stable")[: sc.uploaders]
        else:
            self.uploaders = rng.choice(g.n, size=sc.uploaders, replace=False)
        n_ill, n_leg = sc.illegal_posts, sc.legal_posts
        w = np.array([c.weight for c in sc.categories])
        times = list(rng.uniform(0.0, sc.window_h, n_ill))
        cats = [sc.categories[c].name for c in rng.choice(len(w), n_ill, p=w / w.sum())]
        ups = list(self.uploaders[rng.integers(0, len(self.uploaders), n_ill)])
        if n_leg:
            times += list(rng.uniform(0.0, sc.window_h, n_leg))
            ups += list(rng.integers(0, g.n, n_leg))
        cats += [LEGAL] * n_leg
        order = np.argsort(np.array(times), kind="stable")
        self._schedule = [(float(times[i]), cats[i], int(ups[i]), bool(i < n_ill)) for i in order]

    # ------------------------------------------------------------------ queries (PolicyApi's)
    def account(self, user: int) -> int:
        seen = set()
        while user in self.replaced and user not in seen:
            seen.add(user)
            user = self.replaced[user]
        return user

    def is_removed(self, post: Post) -> bool:
        return self._state[post.id].removed <= self.env.now

    def reach(self, post: Post) -> int:
        return self._state[post.id].reach

    def views(self, post: Post) -> int:
        return self._state[post.id].views

    def shares(self, post: Post) -> int:
        return self._state[post.id].shares

    # ------------------------------------------------------------------ actions (PolicyApi's)
    def removal_cause(self, post: Post) -> str | None:
        return self._state[post.id].cause if self.is_removed(post) else None

    def remove_post(self, post: Post, cause: str) -> None:
        self._remove(post, self.env.now, cause)

    def _remove(self, post: Post, at: float, cause: str) -> None:
        st = self._state[post.id]
        if st.removed <= at:
            return
        st.removed = at
        st.cause = cause
        self.removals.append((at, post.id, cause))
        for p in self.policies:
            p.on_removal(post)

    def remove_copy(self, post: Post, sharer: int, cause: str) -> None:
        """Remove now the copy ``sharer`` shared: its exposures still due never happen (tie rule);
        under ``cascade`` a copy is the post."""
        if not self.per_copy:
            self.remove_post(post, cause)
            return
        if not self.exact_copies:
            raise RuntimeError("remove_copy under per_copy needs a policy with removes_copies = "
                               "True in the stack")
        k = (post.id, int(sharer))
        if self.is_removed(post) or k in self._copy_removed:
            return
        at = self.env.now
        self._copy_removed[k] = at
        self.copy_removals.append((at, post.id, int(sharer), cause))

    def schedule_removal(self, post: Post, at: float, cause: str) -> None:
        if at <= self.env.now:
            self.remove_post(post, cause)
        elif at < self.config.scenario.horizon_h:
            st = self._state[post.id]
            st.limit = min(st.limit, at)  # the post's removal time is at most this from now on
            self.env.timeout(at - self.env.now).callbacks.append(lambda _e: self._remove(post, at, cause))

    def set_copy_clock(self, post: Post, kind: int, a: float, b: float, prob: float,
                       table: np.ndarray, *, key: int) -> None:
        """Every share of ``post`` gets a removal clock: with probability ``prob``, a latency of
        ``kind`` (a, b, table) after the share; drawn from the policy's ``key`` keyed by the
        sharer. Clocks stack: the earliest removes the copy."""
        if kind != 0:
            self._state[post.id].clocks.append((kind, a, b, prob, table, key))

    def set_notices(self, post: Post, prob: float, key: int) -> None:
        st = self._state[post.id]
        st.notice_p, st.notice_key = prob, key

    def set_notice_weights(self, users: np.ndarray, weight: float) -> None:
        self._weights[np.asarray(users, dtype=np.int64)] = weight

    def add_reach_trigger(self, post: Post, reach: int) -> None:
        st = self._state[post.id]
        if reach > st.reach and reach not in st.triggers:
            st.triggers.append(reach)
            st.triggers.sort()

    def throttle(self, post: Post, factor: float) -> None:
        self._state[post.id].scale = factor

    def new_content_id(self) -> int:
        cid = max(self.catalog.next_content, len(self._schedule))
        self.catalog.next_content = cid + 1
        return cid

    def upload(self, category: str, uploader: int, *, content_id: int | None = None,
               altered: bool = False, adversarial: bool = False) -> Post | None:
        t = self.env.now
        cid = self.new_content_id() if content_id is None else int(content_id)
        copy = self.catalog.copies.get(cid, 0)
        self.catalog.copies[cid] = copy + 1
        attempt = Attempt(cid, category, int(uploader), t, copy, altered, adversarial)
        for pol in self.policies:
            if pol.on_upload_attempt(attempt) is False:
                self.blocked.append(attempt)
                return None
        post = Post(len(self.posts), cid, category, int(uploader), t, copy, altered, adversarial)
        self.posts.append(post)
        sc, spread = self.config.scenario, self.config.spread
        if category == LEGAL:
            p, decay = sc.legal_share_prob, spread.decay
        else:
            cat = {c.name: c for c in sc.categories}.get(category, sc.categories[0])
            p, decay = cat.share_prob, cat.decay or spread.decay
        st = _PostState(post, subkey(subkey(self._spread_key, cid), copy), p, decay)
        self._state.append(st)
        for pol in self.policies:
            pol.on_upload(post)
        if t < removal_cut(min(st.removed, st.limit)):
            self._share(st, int(uploader), t)
        return post

    # ------------------------------------------------------------------ spreading
    def _copy_deadline(self, st: _PostState, u: int, t: float) -> float:
        """The removal time of the copy user ``u`` shares at ``t``: the earliest of its clocks."""
        deadline = math.inf
        for kind, a, b, prob, table, ckey in st.clocks:
            if uniform(ckey, u, 1) < prob:
                deadline = min(deadline, t + latency_from_uniform(kind, a, b, table, uniform(ckey, u, 0)))
        return deadline

    def _share(self, st: _PostState, u: int, t: float) -> None:
        """User ``u`` shares the post at ``t``: one exposure event per follower (not the uploader)."""
        kern, g = self.config.spread.kernel, self.graph
        deadline = self._copy_deadline(st, u, t)
        dkey = subkey(st.key, 0)
        horizon = self.config.scenario.horizon_h
        for w in g.indices[g.indptr[u]:g.indptr[u + 1]]:
            w = int(w)
            if w == st.post.uploader:
                continue
            te = t + delay_from_uniform(kern.code, kern.a, kern.b, uniform(dkey, u, w))
            if te >= horizon or te >= removal_cut(deadline):
                continue  # never happens: after the end, or at/after its copy's clock (tie rule)
            _Exposure(self.env, te - self.env.now).callbacks.append(
                partial(self._expose, st, w, u, te, deadline))

    def _expose(self, st: _PostState, v: int, src: int, t: float, deadline: float, _e: Any = None) -> None:
        """An exposure of user ``v`` to the post at ``t`` via ``src``'s copy, if still up."""
        copy_removed = self._copy_removed.get((st.post.id, src), math.inf)
        if t >= removal_cut(min(st.removed, st.limit)) or t >= removal_cut(min(deadline, copy_removed)):
            return  # the post or its copy is removed at or (within TIE_REL) before t: the tie rule
        st.views += 1
        first = v not in st.seen
        shared = False
        if first:
            st.seen.add(v)
            st.reach += 1
            self._firsts.append((t, st.post.id, v, deadline, src))
            d = st.decay
            thr = st.p * st.scale * decay_factor(d.code, d.a, d.b, t - st.post.upload_time)
            shared = uniform(subkey(st.key, 1), v, 0) < thr
        self.exposures.append((t, st.post.id, v, src, first, shared))
        if not first:
            return
        if shared:
            st.shares += 1
            self._share(st, v, t)
        notice = st.notice_p > 0.0 and uniform(st.notice_key, v, 0) < st.notice_p * self._weights[v]
        threshold = bool(st.triggers) and st.reach == st.triggers[0]
        if threshold:
            while st.triggers and st.triggers[0] <= st.reach:
                st.triggers.pop(0)
        post = st.post
        for p in self.policies:
            if "exposure" in p.wants:
                p.on_exposure(post, v, src)
            if shared and "share" in p.wants:
                p.on_share(post, v, src)
            if notice and "notice" in p.wants:
                p.on_notice(post, v, src)
            if threshold and "threshold" in p.wants:
                p.on_reach_threshold(post, st.reach)

    # ------------------------------------------------------------------ run
    def _uploads(self) -> Any:
        for i, (t, cat, up, adv) in enumerate(self._schedule):
            if t > self.env.now:
                yield self.env.timeout(t - self.env.now)
            self.upload(cat, self.account(up) if adv else up, content_id=i, adversarial=adv)

    def run(self) -> RunResult:
        """Run to the horizon; the same tables as the engine's :class:`RunResult`."""
        unknown = set().union(*(p.wants for p in self.policies)) - set(_HOOKS) if self.policies else set()
        if unknown:
            raise ValueError(f"policies want unknown hooks {sorted(unknown)}")
        for p in self.policies:
            p.start()
        self.env.process(self._uploads())
        sc = self.config.scenario
        self.env.run(until=sc.horizon_h)
        sts = self._state
        f = np.array(self._firsts, dtype=np.float64).reshape(-1, 5)
        # a copy removed after a user's first exposure through it ends that exposure then
        dl = np.array([min(d, self._copy_removed.get((int(q), int(s)), math.inf))
                       for _, q, _, d, s in f], dtype=np.float64)
        posts, series = post_tables(
            self.posts, np.array([s.post.upload_time for s in sts]), np.array([s.removed for s in sts]),
            np.array([s.reach for s in sts]), np.array([s.views for s in sts]),
            np.array([s.shares for s in sts]), f[:, 0], f[:, 1].astype(np.int64),
            f[:, 2].astype(np.int64), dl, sc.horizon_h, sc.series_step_h,
            causes=[s.cause for s in sts])
        summary = summarize(posts, stack_causes(self.policies))
        tables = {}
        for p in self.policies:
            for k, v in p.summary().items():
                summary[f"{p.label}_{k}"] = v
            for name, table in p.tables().items():
                tables[f"{p.label}_{name}"] = table
        summary["uploads_blocked"] = len(self.blocked)
        e = self.exposures
        exposures = {"time_h": np.array([x[0] for x in e], dtype=np.float64),
                     "post_id": np.array([x[1] for x in e], dtype=np.int64),
                     "user": np.array([x[2] for x in e], dtype=np.int64),
                     "source": np.array([x[3] for x in e], dtype=np.int64),
                     "first": np.array([x[4] for x in e], dtype=bool),
                     "shared": np.array([x[5] for x in e], dtype=bool)}
        return RunResult(self.seed, posts, series, summary, exposures, list(self.removals),
                         list(self.blocked), tables, copy_removals=list(self.copy_removals))


def reference_run(config: SimConfig | Any, seed: int = 0, *, graph: Graph | None = None) -> RunResult:
    """One run of ``config`` (a SimConfig or a mapping) with ``seed`` on the reference engine,
    with the policies of its ``policy`` sections."""
    cfg = config if isinstance(config, SimConfig) else SimConfig.from_dict(config)
    return ReferenceSimulation(cfg, seed, graph=graph, policies=make_policies(cfg.policies)).run()


__all__ = ["ReferenceSimulation", "reference_run", "EXPOSURE_PRIORITY"]
