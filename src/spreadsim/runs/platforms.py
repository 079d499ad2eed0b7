"""Several platforms in one simulation: cross-posting users and a shared hash database.

Each platform has its own graph, its own policy stack and its own compiled spread kernel (one
:class:`~spreadsim.engine.simulation.Simulation` each); they share the spread model, the scenario, one SimPy
environment (the master clock) and one catalog of content ids and copy numbers.

Model
-----
* **Campaign**: the scenario's uploads (illegal and legal posts) happen on the *first* platform;
  the other platforms get content only by cross-posting (and whatever their policies upload, such
  as re-uploads of removed cross-posts).
* **Accounts**: for every pair of platforms A before B in the list, ``cross_posting.overlap`` is
  the fraction of A's users who also have an account on B: the nearest integer to
  ``overlap * n_A`` users of A (at most ``n_B``), drawn without replacement, are paired one to one
  with as many users of B drawn without replacement (stream ``accounts:<A>:<B>``). Pairs are drawn
  independently (a user of A paired on B and on C is not thereby paired between B and C).
* **Cross-posting**: when a user who has an account on another platform reshares a post
  (``on_share``), with probability ``cross_posting.prob`` that person uploads the same content on
  the other platform ``cross_posting.delay`` later (a :class:`~spreadsim.dists.Duration`), from
  their account there, as an ordinary (non-adversarial, unaltered) upload: same ``content_id``,
  and the copy number continues the content's count over all platforms. A person cross-posts a
  given content to a given platform at most once. Coin and delay are counter-based draws of stream
  ``cross_posting:<A>:<B>``, keyed by content, copy and user. The upload can be blocked by the
  target platform's policies (hash matching, suspensions) like any other upload.
* **Hash sharing** (``hash_sharing.sync_delay_h``): every platform's ``hash_matching`` policies
  read one database per platform; a removal on any platform at time ``r`` enters the databases of
  all other platforms at ``r + sync_delay_h`` (its own platform's entry keeps that policy's own
  ``sync_delay``), whether or not the removing platform runs hash matching itself. Without a
  ``hash_sharing`` section every platform's database is private.

Random streams: the first platform uses the single-platform names (``graph``, ``uploads``,
``spread``, ``policy:<i>:<name>``), so a one-platform run equals :func:`spreadsim.simulate` with
the same seed, table for table; platform ``P`` after the first prefixes them with ``platform:P:``.

Event order (the coordinator)
-----------------------------
SimPy is the master clock; every platform's spread events live in its own kernel heap. The global
order is that of one event queue sorted by time, ties broken by platform index (the order of
``platforms``), then by each kernel's own sequence; a SimPy event at time T comes after the spread
events due strictly before T, and the hooks of an exposure that stops a kernel run (as a SimPy
event) right after it. The platforms interact only through SimPy events (a cross-post is an upload
event, a hash entry is read by an upload event), and SimPy events are created only by SimPy events
and by kernel stops. So before SimPy processes its next event at T:

1. every platform's bound is T (exclusive);
2. among the platforms with a spread event before their bound, take the one with the earliest
   heap top (lowest index on a tie), say P;
3. advance P up to its bound, but not past the heap top of any other platform that can stop
   (some policy wants exposure hooks on it): exclusive for a platform before P in the list,
   inclusive (the next float up) for one after P. Those platforms could stop there, and the hooks
   of a stop at t may act on P at t (a cross-post with zero delay, a removal);
4. if P stops at an exposure at time t, its hooks become a SimPy event at t, and every other
   platform's bound becomes t: exclusive for the platforms after P, inclusive for those before it
   (their events at t precede P's in the order). Platforms that can stop have nothing left before
   t (step 3), so only hook-free platforms catch up to t;
5. repeat from 2 until no platform has an event before its bound; SimPy then processes its next
   event (the stop's hooks at t if there was a stop).

When no platform can stop, platforms never affect each other between SimPy events, so each
kernel just runs to T. The cost of the exact order: two busy platforms with hooks alternate in
short kernel calls (one per switch between them in time order).

Results: :class:`MultiRunResult` holds one :class:`~spreadsim.engine.simulation.RunResult` per platform,
a combined per-post table with a ``platform`` column, and a summary per platform and in total.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import simpy

from spreadsim.engine.records import Catalog, Post, RunResult
from spreadsim.engine.simulation import Simulation
from spreadsim.errors import ConfigError
from spreadsim.graphs import Graph, build_graph, graph_seed
from spreadsim.policies import Policy, make_policy
from spreadsim.policies.reappearance import HashDatabase, HashMatching
from spreadsim.rng import generator, stream_key, subkey, uniform
from spreadsim.runs.multiconfig import MultiConfig, PlatformConfig, policy_field, under_platform
from spreadsim.schema.model import LEGAL, check_seed

__all__ = ["PlatformConfig", "MultiConfig", "MultiSimulation", "MultiRunResult", "simulate_platforms",
           "advance_platforms"]


# --------------------------------------------------------------------------- coordinator


def advance_platforms(sims: Sequence[Simulation], until: float) -> None:
    """Advance every platform's kernel up to SimPy's next event at ``until``, in the exact global
    order described in the module docstring (stops become SimPy events; the call returns with
    every platform at its bound)."""
    n = len(sims)
    stoppable = [s.can_stop for s in sims]
    if not any(stoppable):
        for s in sims:
            s._advance(until)
        return
    bounds = [until] * n
    up = math.inf
    while True:
        tops = [s.next_spread_time() for s in sims]
        i = -1
        for k in range(n):
            if tops[k] < bounds[k] and (i < 0 or tops[k] < tops[i]):
                i = k
        if i < 0:
            return
        limit = bounds[i]
        for j in range(n):
            if j != i and stoppable[j]:
                limit = min(limit, tops[j] if j < i else math.nextafter(tops[j], up))
        t = sims[i]._advance(limit)
        if t is not None:
            for j in range(n):
                if j != i:
                    bounds[j] = min(bounds[j], math.nextafter(t, up) if j < i else t)
            bounds[i] = t  # its hooks run at t before anything else on it


class _SharedEnv(simpy.Environment):
    """The one SimPy environment of a multi-platform run: advances every kernel first."""

    def __init__(self) -> None:
        super().__init__()
        self.sims: list[Simulation] = []

    def step(self) -> None:
        advance_platforms(self.sims, self.peek())
        super().step()


class _Bridge(Policy):
    """Appended to every platform's stack: reports removals (hash sharing) to the run."""

    name = "platforms"

    def __init__(self, run: MultiSimulation, index: int) -> None:
        super().__init__({}, f"platforms[{index}]")
        self.run, self.index = run, index

    def on_removal(self, post: Post) -> None:
        self.run._removed(self.index, post)


class _SharingBridge(_Bridge):
    """A bridge that also sees shares, on platforms with users who can cross-post."""

    wants = frozenset({"share"})

    def on_share(self, post: Post, user: int, source: int) -> None:
        self.run._shared(self.index, post, user)


# --------------------------------------------------------------------------- run


@dataclass
class MultiRunResult:
    """What a multi-platform run produced.

    Attributes
    ----------
    seed : int
    platforms : dict of str to RunResult
        One result per platform (its own per-post table, series, summary, removals, blocked).
    posts : dict of str to numpy.ndarray
        Every platform's per-post table one after the other, with a ``platform`` column first and
        ``cross_post`` (the post is a cross-post from another platform) last.
    summary : dict
        Totals over platforms (``posts``, ``reach_total``, ``reuploads_attempted``, ...) and every
        per-platform key as ``<platform>.<key>`` (the platform's own summary plus the keys of
        :meth:`platform_table`).
    accounts : dict of (str, str) to dict of int to int
        For each ordered pair of platforms, user on the first -> their account on the second.
    """

    seed: int
    platforms: dict[str, RunResult]
    posts: dict[str, np.ndarray]
    summary: dict[str, Any]
    accounts: dict[tuple[str, str], dict[int, int]]

    def platform_table(self) -> dict[str, np.ndarray]:
        """One row per platform and a ``total`` row: ``posts``, ``reach_total``,
        ``reuploads_attempted``, ``reuploads_blocked``, ``copies_reach``, ``cross_posts_out``,
        ``cross_posts_in``, ``cross_posts_blocked``, ``cross_posts_reach``."""
        names = [*self.platforms, "total"]
        cols: dict[str, np.ndarray] = {"platform": np.array(names, dtype=object)}
        for k in PLATFORM_KEYS:
            cols[k] = np.array([self.summary[f"{n}.{k}"] for n in self.platforms]
                               + [self.summary[_TOTAL_OF.get(k, k)]], dtype=np.int64)
        return cols


#: per-platform counts of a multi-platform run (illegal content only, like every summary)
PLATFORM_KEYS = ("posts", "reach_total", "reuploads_attempted", "reuploads_blocked", "copies_reach",
                 "cross_posts_out", "cross_posts_in", "cross_posts_blocked", "cross_posts_reach")
_TOTAL_OF = {"cross_posts_out": "cross_posts", "cross_posts_in": "cross_posts"}
_SUMMED = ("posts", "reach_total", "views_total", "shares_total", "exposure_person_hours",
           "removed_posts", "legal_posts", "legal_reach_total", "uploads_blocked",
           "reuploads_attempted", "reuploads_blocked", "copies_reach", "cross_posts_blocked",
           "cross_posts_reach")


class MultiSimulation:
    """One run of several platforms with one seed.

    Parameters
    ----------
    config : MultiConfig
        The validated configuration.
    seed : int
        The run seed (>= 0).
    graphs : mapping of str to Graph, optional
        Prebuilt graphs by platform name (the others are built from their config).
    extra_policies : mapping of str to sequence of Policy, optional
        Policy objects appended to a platform's configured stack (tests, custom drivers).
    accounts : mapping of (str, str) to mapping of int to int, optional
        Explicit accounts for some pairs of platforms: ``{("A", "B"): {user on A: user on B}}``
        (one to one; it also gives B -> A). Pairs not listed are drawn from ``overlap``.
    trace : bool
        Keep every exposure in each platform's ``exposures``.
    """

    def __init__(self, config: MultiConfig, seed: int, *, graphs: Mapping[str, Graph] | None = None,
                 extra_policies: Mapping[str, Sequence[Policy]] | None = None,
                 accounts: Mapping[tuple[str, str], Mapping[int, int]] | None = None,
                 trace: bool = False) -> None:
        self.config = config
        self.seed = check_seed(seed)
        names = config.names
        self.names = names
        for what, given in (("graphs", graphs), ("extra_policies", extra_policies)):
            for key in given or {}:
                if key not in names:
                    raise ConfigError(what, key, f"not a platform; platforms: {', '.join(names)}")
        prefixes = ["" if i == 0 else f"platform:{n}:" for i, n in enumerate(names)]
        built: list[Graph] = []
        for i, p in enumerate(config.platforms):
            g = (graphs or {}).get(p.name)
            if g is None:
                with under_platform(f"platforms[{i}]"):
                    g = build_graph(p.sim.graph, graph_seed(p.sim.graph, self.seed, f"{prefixes[i]}graph"))
            built.append(g)
        self.accounts = self._draw_accounts(built, accounts or {})
        cp = config.cross_posting
        self._cross_keys = {(a, b): stream_key(self.seed, f"cross_posting:{names[a]}:{names[b]}")
                            for (a, b) in self.accounts}
        self._crossed: set[tuple[int, int, int]] = set()  # (platform, account, content id)
        n = len(names)
        self.cross_out = [0] * n
        self.cross_in = [0] * n
        self.cross_blocked = [0] * n
        self.cross_posts: list[set[int]] = [set() for _ in range(n)]  # post ids per platform
        sharing = config.hash_sync_h is not None
        self.databases = [HashDatabase() for _ in range(n)]
        self.env = _SharedEnv()
        self.catalog = Catalog()
        self.sims: list[Simulation] = []
        for i, p in enumerate(config.platforms):
            f = f"platforms[{i}]"
            pols: list[Policy] = []
            for k, pc in enumerate(p.sim.policies):
                pf = policy_field(f, k, len(p.sim.policies))
                pol = make_policy(pc, pf)
                if sharing and isinstance(pol, HashMatching):
                    pol = HashMatching(pc, pf, database=self.databases[i])
                pols.append(pol)
            pols.extend((extra_policies or {}).get(p.name, ()))
            if n > 1:
                can_cross = cp.prob > 0 and any(a == i and m for (a, _), m in self.accounts.items())
                pols.append(_SharingBridge(self, i) if can_cross else _Bridge(self, i))
            with under_platform(f):
                sim = Simulation(p.sim, self.seed, graph=built[i], policies=pols, trace=trace,
                                 env=self.env, stream_prefix=prefixes[i], catalog=self.catalog)
            self.sims.append(sim)
        self.env.sims = self.sims
        # fresh content ids start after the campaign's (which runs on the first platform)
        self.catalog.next_content = max(len(s._schedule) for s in self.sims)

    def _draw_accounts(self, graphs: list[Graph], given: Mapping[tuple[str, str], Mapping[int, int]]
                       ) -> dict[tuple[int, int], dict[int, int]]:
        names = self.names
        idx = {n: i for i, n in enumerate(names)}
        out: dict[tuple[int, int], dict[int, int]] = {}
        for pair, given_map in given.items():
            a, b = pair
            if a not in idx or b not in idx or a == b:
                raise ConfigError("accounts", pair, f"must be a pair of two platforms of {', '.join(names)}")
            fwd = {int(u): int(v) for u, v in given_map.items()}
            if len(set(fwd.values())) != len(fwd):
                raise ConfigError("accounts", pair, "must map users one to one")
            for u, v in fwd.items():
                if not (0 <= u < graphs[idx[a]].n and 0 <= v < graphs[idx[b]].n):
                    raise ConfigError("accounts", (u, v), f"not users of {a} and {b}")
            out[(idx[a], idx[b])] = fwd
            out[(idx[b], idx[a])] = {v: u for u, v in fwd.items()}
        overlap = self.config.cross_posting.overlap
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                if (i, j) in out:
                    continue
                ni, nj = graphs[i].n, graphs[j].n
                m = min(int(math.floor(overlap * ni + 0.5)), nj)
                rng = generator(self.seed, f"accounts:{names[i]}:{names[j]}")
                ua = rng.choice(ni, size=m, replace=False)
                ub = rng.choice(nj, size=m, replace=False)
                out[(i, j)] = {int(u): int(v) for u, v in zip(ua, ub, strict=True)}
                out[(j, i)] = {int(v): int(u) for u, v in zip(ua, ub, strict=True)}
        return out

    # ------------------------------------------------------------------ bridges
    def _shared(self, i: int, post: Post, user: int) -> None:
        """``user`` reshared ``post`` on platform ``i``: cross-post it where they have accounts."""
        cp = self.config.cross_posting
        env = self.env
        now = env.now
        horizon = self.config.platforms[0].sim.scenario.horizon_h
        cid = post.content_id
        for j in range(len(self.sims)):
            acc = self.accounts.get((i, j))
            if acc is None or user not in acc:
                continue
            b = acc[user]
            if (j, b, cid) in self._crossed:
                continue
            key = subkey(subkey(self._cross_keys[(i, j)], cid), post.copy)
            if float(uniform(key, user, 0)) >= cp.prob:
                continue
            at = now + cp.delay.sample(float(uniform(key, user, 1)))
            if at >= horizon:
                continue
            self._crossed.add((j, b, cid))
            if post.category != LEGAL:
                self.cross_out[i] += 1
            env.timeout(at - now).callbacks.append(partial(self._land, j, post.category, b, cid))

    def _land(self, j: int, category: str, account: int, cid: int, _event: Any = None) -> None:
        post = self.sims[j].upload(category, account, content_id=cid)
        illegal = category != LEGAL
        self.cross_in[j] += illegal
        if post is None:
            self.cross_blocked[j] += illegal
        else:
            self.cross_posts[j].add(post.id)

    def _removed(self, i: int, post: Post) -> None:
        """A removal on platform ``i`` enters the other platforms' hash databases."""
        sync = self.config.hash_sync_h
        if sync is None:
            return
        at = self.env.now + sync
        for j, db in enumerate(self.databases):
            if j != i:
                db.add(post.content_id, at)

    # ------------------------------------------------------------------ run
    def run(self) -> MultiRunResult:
        """Run every platform to the horizon and collect the results."""
        for s in self.sims:
            s.start()
        self.env.run(until=self.config.platforms[0].sim.scenario.horizon_h)
        results = {n: s.finish() for n, s in zip(self.names, self.sims, strict=True)}
        return self._collect(results)

    def _collect(self, results: dict[str, RunResult]) -> MultiRunResult:
        summary: dict[str, Any] = {}
        per: dict[str, dict[str, Any]] = {}
        parts = []
        for i, (name, r) in enumerate(results.items()):
            p = r.posts
            ill = p["category"] != LEGAL
            copies = ill & (p["copy"] > 0)
            crossed = np.zeros(len(p["post_id"]), dtype=bool)
            crossed[sorted(self.cross_posts[i])] = True
            blocked = sum(1 for a in r.blocked if a.copy > 0 and a.category != LEGAL)
            extra = {
                "reuploads_attempted": int(copies.sum()) + blocked,
                "reuploads_blocked": blocked,
                "copies_reach": int(p["reach"][copies].sum()),
                "cross_posts_out": self.cross_out[i],
                "cross_posts_in": self.cross_in[i],
                "cross_posts_blocked": self.cross_blocked[i],
                "cross_posts_reach": int(p["reach"][crossed & ill].sum()),
            }
            per[name] = {**r.summary, **extra}
            n_rows = len(p["post_id"])
            parts.append({"platform": np.full(n_rows, name, dtype=object), **p, "cross_post": crossed})
        for k in _SUMMED:
            summary[k] = sum(per[n][k] for n in per)
        summary["cross_posts"] = sum(self.cross_in)
        reach = np.concatenate([r.posts["reach"][r.posts["category"] != LEGAL] for r in results.values()])
        summary["reach_mean"] = float(reach.mean()) if reach.size else math.nan
        for name, d in per.items():
            for k, v in d.items():
                summary[f"{name}.{k}"] = v
        keys = list(parts[0])
        posts = {k: np.concatenate([part[k] for part in parts]) for k in keys}
        accounts = {(self.names[a], self.names[b]): dict(m) for (a, b), m in self.accounts.items()}
        return MultiRunResult(self.seed, results, posts, summary, accounts)


def simulate_platforms(config: MultiConfig | Mapping[str, Any], seed: int = 0, *,
                       graphs: Mapping[str, Graph] | None = None, trace: bool = False) -> MultiRunResult:
    """Run one multi-platform simulation.

    Parameters
    ----------
    config : MultiConfig or mapping
        The configuration (a mapping is validated with :meth:`MultiConfig.from_dict`).
    seed : int
        Run seed (>= 0). Same config and seed give identical results.
    graphs : mapping of str to Graph, optional
        Prebuilt graphs by platform name.
    trace : bool
        Keep every exposure in each platform's ``exposures``.

    Returns
    -------
    MultiRunResult

    Examples
    --------
    >>> cfg = {"platforms": [{"name": "A", "graph": {"kind": "barabasi_albert", "n": 300, "m": 3},
    ...                       "policy": {"name": "fixed_latency", "latency_h": 2.0}},
    ...                      {"name": "B", "graph": {"kind": "barabasi_albert", "n": 200, "m": 2},
    ...                       "policy": {"name": "hash_matching", "recall": 0.9}}],
    ...        "scenario": {"illegal_posts": 5, "uploaders": 2, "horizon_h": 48},
    ...        "spread": {"kernel": {"dist": "exponential", "rate_per_h": 1.0}},
    ...        "cross_posting": {"overlap": 0.5, "prob": 0.5, "delay": 1.0},
    ...        "hash_sharing": {"sync_delay_h": 0.0}}
    >>> r = simulate_platforms(cfg, seed=1)
    >>> sorted(r.platforms), r.summary["cross_posts"] == r.summary["B.cross_posts_in"] + r.summary["A.cross_posts_in"]
    (['A', 'B'], True)
    """
    cfg = config if isinstance(config, MultiConfig) else MultiConfig.from_dict(config)
    return MultiSimulation(cfg, seed, graphs=graphs, trace=trace).run()
