"""Exact event traces on tiny graphs with fixed delays, and engine bookkeeping."""

from __future__ import annotations

import gc
import json
import math
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import numpy as np
import pytest

from spreadsim import ConfigError, simulate
from spreadsim.engine.simulation import Simulation
from spreadsim.policies.base import Policy
from spreadsim.runs.single import new_simulation
from spreadsim.schema.config import SimConfig

from .helpers import config, digraph


def trace(result):
    e = result.exposures
    return [(float(t), int(q), int(v), int(s)) for t, q, v, s in
            zip(e["time_h"], e["post_id"], e["user"], e["source"], strict=True)]


def _assert_same_tables(got, want):
    """The per-post tables and the reach series of two runs are identical, column by column."""
    for col in want.posts:
        np.testing.assert_array_equal(got.posts[col], want.posts[col], err_msg=col)
    for col in want.series:
        np.testing.assert_array_equal(got.series[col], want.series[col], err_msg=col)


def _in_new_thread(f: Callable[[], Any]) -> Any:
    """``f()`` called in a thread of its own: the array pool is per thread (see
    :mod:`spreadsim.engine.pool`), so the runs in ``f`` start from an empty pool and the first one
    works on brand-new arrays; the thread and its pool are gone when this returns."""
    with ThreadPoolExecutor(max_workers=1) as ex:
        return ex.submit(f).result()


def _footprints(run: Callable[[int], Any], seeds) -> list[tuple[int, int]]:
    """``run(seed)`` for each seed in turn, in a thread of its own (an empty pool to start with);
    for each run, as tracemalloc counts them (numpy's arrays included): the bytes still allocated
    after it (its result dropped) since the thread started, and the peak bytes allocated during
    it above what was allocated before it."""
    def body() -> list[tuple[int, int]]:
        gc.collect()
        own = not tracemalloc.is_tracing()
        if own:
            tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            out = []
            for seed in seeds:
                before = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
                run(seed)  # (its result dropped)
                peak = tracemalloc.get_traced_memory()[1]
                gc.collect()
                out.append((tracemalloc.get_traced_memory()[0] - base, peak - before))
            return out
        finally:
            if own:
                tracemalloc.stop()

    return _in_new_thread(body)


#: bytes a run leaves allocated besides the pool's arrays (caches, counters): measured about 2 kB
#: for the runs below, far under the work arrays they pool (about 0.5 MB)
_OTHER_BYTES = 32 << 10


def _use_hash_sets(monkeypatch):
    """Make every run keep its exposed set and earliest times in hash maps, not arrays."""
    from spreadsim.engine import pool as engine

    monkeypatch.setattr(engine, "DENSE_SEEN_MAX_KEYS", 0)
    monkeypatch.setattr(engine, "TRACK_FIRST_MAX_KEYS", 0)


def test_chain_unmoderated_trace():
    g = digraph([(0, 1), (1, 2), (2, 3)])
    r = simulate(config(), seed=0, graph=g, trace=True)
    # (time, post, user exposed, the sharer whose share exposed them)
    assert trace(r) == [(1.0, 0, 1, 0), (2.0, 0, 2, 1), (3.0, 0, 3, 2)]
    assert r.posts["reach"].tolist() == [3]
    assert r.posts["shares"].tolist() == [3]  # user 3 reshares to nobody but still counts
    assert r.posts["views"].tolist() == [3]
    assert math.isnan(r.posts["removal_time_h"][0])


def test_removal_stops_exposures_cascade():
    g = digraph([(0, 1), (1, 2), (2, 3)])
    r = simulate(config(policy={"name": "fixed_latency", "latency_h": 2.5}), seed=0, graph=g,
                 trace=True)
    assert trace(r) == [(1.0, 0, 1, 0), (2.0, 0, 2, 1)]
    assert r.removals == [(2.5, 0, "policy0_fixed_latency:latency")]
    assert r.posts["removal_time_h"].tolist() == [2.5]


def test_exposure_due_exactly_at_removal_never_happens():
    g = digraph([(0, 1), (1, 2), (2, 3)])
    r = simulate(config(policy={"name": "fixed_latency", "latency_h": 2.0}), seed=0, graph=g,
                 trace=True)
    assert trace(r) == [(1.0, 0, 1, 0)]


def test_latency_zero_means_no_reach():
    g = digraph([(0, 1), (1, 2)])
    r = simulate(config(policy={"name": "fixed_latency", "latency_h": 0.0}), seed=0, graph=g,
                 trace=True)
    assert trace(r) == []
    assert r.posts["reach"].tolist() == [0]


def test_repeat_exposure_counts_as_view_not_reach():
    # 0 -> {1, 2, 3}, 1 -> 2: user 2 sees the post at t=1 from 0 and at t=2 from 1
    g = digraph([(0, 1), (0, 2), (0, 3), (1, 2)])
    r = simulate(config(), seed=0, graph=g, trace=True)
    assert trace(r) == [(1.0, 0, 1, 0), (1.0, 0, 2, 0), (1.0, 0, 3, 0), (2.0, 0, 2, 1)]
    assert r.exposures["first"].tolist() == [True, True, True, False]
    assert (r.posts["reach"][0], r.posts["views"][0], r.posts["shares"][0]) == (3, 4, 3)


def test_uploader_is_not_counted():
    g = digraph([(0, 1), (0, 3), (1, 0), (1, 2)])  # uploader: 0 (top degree, first in a tie)
    r = simulate(config(), seed=0, graph=g, trace=True)
    assert trace(r) == [(1.0, 0, 1, 0), (1.0, 0, 3, 0), (2.0, 0, 2, 1)]


def test_per_copy_clocks():
    g = digraph([(0, 1), (1, 2), (2, 3)])
    # each copy lives 1.5 h from its own share: every 1 h hop gets through
    r = simulate(config(policy={"name": "fixed_latency", "latency_h": 1.5}, removal="per_copy"),
                 seed=0, graph=g, trace=True)
    assert trace(r) == [(1.0, 0, 1, 0), (2.0, 0, 2, 1), (3.0, 0, 3, 2)]
    # 0.5 h: the upload's own copy is gone before the first exposure
    r = simulate(config(policy={"name": "fixed_latency", "latency_h": 0.5}, removal="per_copy"),
                 seed=0, graph=g, trace=True)
    assert trace(r) == []


def test_exposure_person_hours():
    g = digraph([(0, 1), (1, 2), (2, 3)])
    r = simulate(config(policy={"name": "fixed_latency", "latency_h": 2.5}, horizon_h=10.0),
                 seed=0, graph=g)
    # user 1 sees it from 1 h to 2.5 h, user 2 from 2 h to 2.5 h
    assert r.posts["exposure_person_hours"][0] == pytest.approx(1.5 + 0.5)
    r = simulate(config(horizon_h=10.0), seed=0, graph=g)
    assert r.posts["exposure_person_hours"][0] == pytest.approx(9 + 8 + 7)


def test_horizon_cuts_spread():
    g = digraph([(0, 1), (1, 2), (2, 3)])
    r = simulate(config(horizon_h=2.5), seed=0, graph=g, trace=True)
    assert [x[2] for x in trace(r)] == [1, 2]


def test_reach_series_is_cumulative_first_exposures():
    g = digraph([(0, 1), (1, 2), (2, 3)])
    r = simulate(config(horizon_h=4.0), seed=0, graph=g)
    assert r.series["time_h"].tolist() == [0.0, 1.0, 2.0, 3.0]  # ends at the last new exposure
    assert r.series["reach_illegal"].tolist() == [0, 1, 2, 3]
    r = simulate(config(horizon_h=2.5), seed=0, graph=g)
    assert r.series["time_h"].tolist() == [0.0, 1.0, 2.0]


class _Recorder(Policy):
    """A policy that records the hooks it is called with, at SimPy's clock."""

    name = "recorder"
    wants = frozenset({"exposure", "share"})

    def __init__(self, remove_after_exposures: int | None = None) -> None:
        super().__init__({})
        self.log: list[tuple] = []
        self.k = remove_after_exposures

    def on_upload(self, post):
        self.log.append(("upload", self.sim.env.now, post.id, post.uploader))

    def on_exposure(self, post, user, source):
        self.log.append(("expose", self.sim.env.now, user, source))
        if self.k is not None and sum(x[0] == "expose" for x in self.log) >= self.k:
            self.sim.remove_post(post, self.cause("exposures"))

    def on_share(self, post, user, source):
        self.log.append(("share", self.sim.env.now, user, source))

    def on_removal(self, post):
        self.log.append(("remove", self.sim.env.now, post.id))


def test_hooks_run_at_simpy_time_in_order():
    g = digraph([(0, 1), (0, 2), (1, 3)])
    cfg = SimConfig.from_dict(config())
    rec = _Recorder()
    Simulation(cfg, 0, graph=g, policies=[rec]).run()
    assert rec.log == [("upload", 0.0, 0, 0), ("expose", 1.0, 1, 0), ("share", 1.0, 1, 0),
                       ("expose", 1.0, 2, 0), ("share", 1.0, 2, 0), ("expose", 2.0, 3, 1),
                       ("share", 2.0, 3, 1)]


def test_policy_can_remove_from_a_hook():
    g = digraph([(0, 1), (1, 2), (2, 3)])
    cfg = SimConfig.from_dict(config())
    rec = _Recorder(remove_after_exposures=2)
    r = Simulation(cfg, 0, graph=g, policies=[rec]).run()
    assert ("remove", 2.0, 0) in rec.log
    assert all(x[1] <= 2.0 for x in rec.log)
    assert r.posts["reach"].tolist() == [2]


def test_removal_prob_zero_removes_nothing():
    g = digraph([(0, 1), (1, 2)])
    r = simulate(config(policy={"name": "fixed_latency", "latency_h": 0.5, "removal_prob": 0.0}),
                 seed=0, graph=g)
    assert r.posts["reach"].tolist() == [2]


def test_category_override():
    g = digraph([(0, 1), (1, 2), (2, 3)])
    pol = {"name": "fixed_latency", "latency_h": 0.5,
           "categories": {"hate_speech": {"latency_h": 2.5}}}
    r = simulate(config(policy=pol), seed=0, graph=g)
    assert r.posts["reach"].tolist() == [2]


def test_legal_posts_untouched_by_default():
    g = digraph([(0, 1), (1, 2)])
    cfg = config(policy={"name": "fixed_latency", "latency_h": 0.0}, posts=0)
    cfg["scenario"].update({"legal_posts": 3, "legal_share_prob": 1.0})
    r = simulate(cfg, seed=3, graph=g)
    assert (r.posts["category"] == "legal").all()
    assert np.isnan(r.posts["removal_time_h"]).all()
    cfg["policy"]["applies_to"] = "all"
    r = simulate(cfg, seed=3, graph=g)
    assert (r.posts["reach"] == 0).all()


def test_max_events_cap_is_reported():
    g = digraph([(i, j) for i in range(30) for j in range(30) if i != j])
    cfg = config()
    cfg["max_events"] = 100
    with pytest.raises(ConfigError, match="max_events"):
        simulate(cfg, seed=0, graph=g)


class _Live(Policy):
    """Forces live counts (every exposure through the event queue), changes nothing else."""

    name = "live"
    needs_live_counts = True

    def __init__(self) -> None:
        super().__init__({})


class _LateRemover(Policy):
    """Removes each post 5 h after upload through a SimPy process of its own (so the engine
    cannot know removal times at upload)."""

    name = "late_remover"

    def __init__(self) -> None:
        super().__init__({})

    def on_upload(self, post):
        def later():
            yield self.sim.env.timeout(5.0)
            self.sim.remove_post(post, self.cause("later"))

        self.sim.env.process(later())


@pytest.mark.parametrize("removal", ["cascade", "per_copy"])
@pytest.mark.parametrize("decay", [{"kind": "none"}, {"kind": "exponential", "half_life_h": 3.0}])
@pytest.mark.parametrize("known", [True, False], ids=["removal-known", "removal-later"])
@pytest.mark.parametrize("small", [True, False], ids=["bitset", "hashset"])
def test_inert_exposures_give_the_same_tables(removal, decay, known, small, monkeypatch):
    """Exposures that can trigger nothing skip the event queue (counted as scheduled when
    removal times are known at upload, else settled at the end; with a bitset or a hash set of
    exposed users): the tables must be those of processing every exposure as an event."""
    from spreadsim.graphs import build_graph
    from spreadsim.policies.base import FixedLatency

    if not small:
        _use_hash_sets(monkeypatch)
    g = build_graph({"kind": "barabasi_albert", "n": 2000, "m": 3}, seed=1)
    cfg = SimConfig.from_dict(config(share_prob=0.15, kernel={"dist": "lognormal", "median_h": 1.0,
                                                              "sigma": 1.0},
                                     removal=removal, posts=20, uploaders=5, window_h=12.0,
                                     horizon_h=200.0, selection="random", decay=decay))

    def pols():
        return [FixedLatency({"latency_h": 8.0})] if known else [_LateRemover()]

    for seed in range(3):
        fast_sim = Simulation(cfg, seed, graph=g, policies=pols())
        assert not fast_sim.live_counts
        fast = fast_sim.run()
        live_sim = Simulation(cfg, seed, graph=g, policies=[*pols(), _Live()])
        assert live_sim.live_counts
        live = live_sim.run()
        assert fast.posts["reach"].sum() > 50
        _assert_same_tables(fast, live)


def test_reach_query_needs_live_counts():
    g = digraph([(0, 1), (1, 2)])
    sim = new_simulation(SimConfig.from_dict(config()), 0, graph=g)
    with pytest.raises(RuntimeError, match="needs_live_counts"):
        sim.reach(None)  # type: ignore[arg-type]


def test_cumulative_counts_match_a_sorted_count():
    from spreadsim.engine.metrics import _cumulative_counts

    rng = np.random.default_rng(0)
    for step in (1.0, 0.1, 0.25, 3.0):
        grid = np.arange(0.0, 50.0 + step / 2, step)
        t = np.concatenate([rng.uniform(0, 50, 500), grid[::3]])  # values on grid points too
        expected = np.searchsorted(np.sort(t), grid, side="right")
        np.testing.assert_array_equal(_cumulative_counts(t, grid), expected)
        np.testing.assert_array_equal(_cumulative_counts(t[:0], grid), np.zeros(grid.size))


def test_summary_percentiles_are_numpys():
    """The summary's median and 95th percentile of reach use metrics._percentiles, numpy's
    default (linear) percentile by the same arithmetic: equal to np.percentile (and, on integer
    counts, the median to np.median) for any sizes, values and percentiles."""
    from spreadsim.engine.metrics import _percentiles, summarize

    rng = np.random.default_rng(3)
    for trial in range(3000):
        n = int(rng.integers(1, 50)) if trial % 10 else int(rng.integers(50, 3000))
        x = [rng.integers(0, 10 ** int(rng.integers(1, 12)), n).astype(np.float64),
             rng.uniform(0.0, 1e3, n), rng.lognormal(0.0, 3.0, n)][trial % 3]
        qs = (50.0, 95.0, 0.0, 100.0, float(rng.uniform(0.0, 100.0)))
        assert _percentiles(x, qs) == list(np.percentile(x, qs)), (x, qs)
    for n in [*range(1, 30), 999, 1000]:
        reach = rng.integers(0, int(rng.choice([5, 1000, 10**9])), n)
        posts = {"category": np.array(["hate_speech"] * n, dtype=object), "reach": reach,
                 "removal_time_h": np.full(n, np.nan), "upload_time_h": np.zeros(n),
                 "views": reach, "shares": reach, "exposure_person_hours": np.zeros(n)}
        s = summarize(posts)
        assert s["reach_median"] == np.median(reach.astype(np.float64))
        assert s["reach_p95"] == np.percentile(reach.astype(np.float64), 95)
    empty = summarize({k: v[:0] for k, v in posts.items()})
    assert np.isnan(empty["reach_median"]) and np.isnan(empty["reach_p95"])


def test_series_covers_an_exposure_at_a_denormal_time():
    # found by Hypothesis: last / step underflows to 0, the series must still reach the total
    g = digraph([(0, 1), (0, 2), (0, 3)])
    cfg = config(kernel={"dist": "fixed", "value_h": 0.0}, window_h=5e-324, horizon_h=2.0,
                 share_prob=0.0)
    cfg["scenario"]["series_step_h"] = 2.0
    denormal = 0
    for seed in range(20):  # uploads fall at 0 or at the denormal 5e-324: test both
        for trace in (False, True):
            r = simulate(cfg, seed=seed, graph=g, trace=trace)
            denormal += r.posts["upload_time_h"][0] > 0
            assert r.series["reach_illegal"][-1] == r.summary["reach_total"] == 3
    assert denormal > 0


class _Watcher(Policy):
    """Wants reach-threshold hooks (so reach is live but repeat exposures may skip the queue);
    records when each post's reach reached 5 and 20 users."""

    name = "watcher"
    wants = frozenset({"threshold"})

    def __init__(self) -> None:
        super().__init__({})
        self.hits: list[tuple[int, int, float]] = []

    def on_upload(self, post):
        for n in (5, 20):
            self.sim.add_reach_trigger(post, n)

    def on_reach_threshold(self, post, reach):
        self.hits.append((post.id, reach, self.sim.env.now))


@pytest.mark.parametrize("known", [True, False], ids=["removal-known", "removal-later"])
def test_repeats_skip_the_queue_when_only_reach_is_live(known):
    from spreadsim.graphs import build_graph
    from spreadsim.policies.base import FixedLatency

    g = build_graph({"kind": "barabasi_albert", "n": 2000, "m": 3}, seed=2)
    cfg = SimConfig.from_dict(config(share_prob=0.15, kernel={"dist": "lognormal", "median_h": 1.0,
                                                              "sigma": 1.0},
                                     posts=15, uploaders=5, window_h=12.0, horizon_h=200.0,
                                     selection="random"))
    for seed in range(3):
        pol = [FixedLatency({"latency_h": 8.0})] if known else [_LateRemover()]
        w1, w2 = _Watcher(), _Watcher()
        a_sim = Simulation(cfg, seed, graph=g, policies=[*pol, w1])
        assert a_sim.live_reach and not a_sim.live_views
        a = a_sim.run()
        pol = [FixedLatency({"latency_h": 8.0})] if known else [_LateRemover()]
        b = Simulation(cfg, seed, graph=g, policies=[*pol, w2, _Live()]).run()
        assert w1.hits == w2.hits and len(w1.hits) > 5
        _assert_same_tables(a, b)


@pytest.mark.parametrize("kernel", [{"dist": "exponential", "rate_per_h": 0.5},
                                    {"dist": "powerlaw", "c_h": 0.5, "gamma": 1.5},
                                    {"dist": "fixed", "value_h": 1.5}], ids=lambda k: k["dist"])
@pytest.mark.parametrize("removal", ["cascade", "per_copy"])
def test_repeats_counted_without_their_delay_give_the_same_tables(kernel, removal):
    """With removal times final at upload, a repeat exposure of a user exposed by then is counted
    as a view without drawing its delay when the delay surely lands before the removal: every
    feed-delay kernel must give the tables of processing every exposure as an event."""
    from spreadsim.graphs import build_graph
    from spreadsim.policies.base import FixedLatency

    g = build_graph({"kind": "barabasi_albert", "n": 1500, "m": 4}, seed=3)
    cfg = SimConfig.from_dict(config(share_prob=0.2, kernel=kernel, removal=removal, posts=10,
                                     uploaders=4, window_h=6.0, horizon_h=30.0, selection="random"))
    for seed in range(3):
        fast = Simulation(cfg, seed, graph=g, policies=[FixedLatency({"latency_h": 6.0})]).run()
        live = Simulation(cfg, seed, graph=g, policies=[FixedLatency({"latency_h": 6.0}), _Live()]).run()
        assert fast.posts["views"].sum() > fast.posts["reach"].sum() > 50  # repeats happened
        _assert_same_tables(fast, live)


@pytest.mark.parametrize("kind,a,b", [(1, 0.5, 0.0), (1, 40.0, 0.0), (2, 2.0, 1.5), (2, 0.01, 0.3),
                                      (3, 0.5, 1.5), (3, 3.0, 0.2)])
def test_delay_surely_before_is_sure_and_tight(kind, a, b):
    """Every quantile below ``delay_surely_before`` lands strictly before the limit (checked at
    the bound itself, the worst case), and the bound is the delay's CDF (scipy's) at the limit
    less the documented margin, not something looser."""
    from scipy import stats

    from spreadsim.dists import delay_from_uniform, delay_surely_before

    dist = {1: stats.expon(scale=1 / a), 2: stats.lognorm(s=b or 1, scale=a),
            3: stats.lomax(c=b or 1, scale=a)}[kind]
    rng = np.random.default_rng(kind * 100 + int(a * 10))
    for _ in range(2000):
        t = float(rng.choice([0.0, rng.uniform(0, 10), rng.uniform(0, 1e6)]))
        limit = t + float(rng.choice([rng.exponential(1.0), rng.exponential(100.0), 1e-12, 0.0]))
        c = delay_surely_before(kind, a, b, t, limit)
        assert 0.0 <= c < 1.0
        u_top = np.nextafter(c, 0.0)  # the largest quantile the kernel takes the short cut for
        for u in (u_top, c * 0.5, c * rng.uniform()):
            if u > 0:
                assert t + delay_from_uniform(kind, a, b, u) < limit, (t, limit, u)
        y = (limit - t) - 1e-9 * max(abs(limit), 1.0)
        expected = float(dist.cdf(y)) * (1 - 1e-9) if y > 0 else 0.0
        assert c == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert delay_surely_before(kind, a, b, 1.0, math.inf) > 1.0  # no limit: every quantile
    assert delay_surely_before(0, 1.0, 0.0, 0.0, 5.0) == 0.0  # fixed: never a short cut


@pytest.mark.parametrize("triggers", [(3,), (2, 40)])
def test_reach_is_live_only_while_a_trigger_is_pending(triggers):
    """With threshold hooks only, a post's first exposures go through the event queue until its
    last trigger fired, and skip it afterwards (queued entries may then be superseded by earlier
    exposures kept off the queue): hooks and tables must be those of live counts throughout."""
    from spreadsim.graphs import build_graph

    g = build_graph({"kind": "barabasi_albert", "n": 3000, "m": 3}, seed=4)
    cfg = SimConfig.from_dict(config(share_prob=0.2, kernel={"dist": "lognormal", "median_h": 1.0,
                                                             "sigma": 1.5},
                                     posts=12, uploaders=4, window_h=6.0, horizon_h=100.0,
                                     selection="random"))

    class _Few(_Watcher):
        def on_upload(self, post):
            if post.id % 3:  # a third of the posts get no trigger at all
                for n in triggers:
                    self.sim.add_reach_trigger(post, n)

    for seed in range(4):
        w1, w2 = _Few(), _Few()
        a_sim = Simulation(cfg, seed, graph=g, policies=[w1])
        assert a_sim.live_reach and not a_sim.live_views  # repeats may skip the queue
        a = a_sim.run()
        b = Simulation(cfg, seed, graph=g, policies=[w2, _Live()]).run()
        assert w1.hits == w2.hits and len(w1.hits) > 3
        _assert_same_tables(a, b)


def test_reach_of_a_post_without_pending_trigger_is_refused_later():
    """A post whose reach stopped being counted live (no trigger left) cannot be read, nor get
    a trigger, at a later SimPy event: one line saying what to do instead. Right at the hook it
    can (nothing has moved since), and a trigger added then makes it live again."""
    g = digraph([(0, 1), (1, 2), (2, 3), (3, 4)])
    cfg = SimConfig.from_dict(config(share_prob=1.0, kernel={"dist": "fixed", "value_h": 1.0},
                                     horizon_h=20.0))

    class _Late(_Watcher):
        def on_upload(self, post):
            self.sim.add_reach_trigger(post, 1)

        def on_reach_threshold(self, post, reach):
            super().on_reach_threshold(post, reach)
            if reach == 1:
                self.sim.add_reach_trigger(post, 2)  # at the hook: allowed, live again

        def start(self):
            def later():
                yield self.sim.env.timeout(10.0)
                self.sim.add_reach_trigger(self.sim.posts[0], 9)

            self.sim.env.process(later())

    w = _Late()
    sim = Simulation(cfg, 0, graph=g, policies=[w])
    with pytest.raises(RuntimeError, match="pending reach trigger"):
        sim.run()
    assert [(r, t) for _, r, t in w.hits] == [(1, 1.0), (2, 2.0)]


def test_reach_histogram_is_sized_by_the_latest_exposure_not_the_horizon():
    """A long horizon with a fine series step must not allocate a histogram bin per step up to
    the horizon: settling sizes it by the latest tracked exposure; the series is unchanged."""
    g = digraph([(0, 1), (1, 2), (2, 3)])
    cfg = SimConfig.from_dict(config(share_prob=1.0, kernel={"dist": "fixed", "value_h": 1.5},
                                     horizon_h=1e6))
    new_simulation(cfg, 0, graph=g).run()  # compiled, imports done: what follows is the run's
    [(_, peak)] = _footprints(lambda seed: new_simulation(cfg, seed, graph=g).run(), [0])
    # a bin per hourly step up to the horizon: two rows (illegal, legal) of 1e6 int64 counts,
    # 16 MB; the run itself allocates about 0.1 MB (exposures at 1.5, 3 and 4.5 h: a few bins)
    assert peak < 1 << 20
    r = new_simulation(cfg, 0, graph=g).run()
    np.testing.assert_array_equal(r.series["reach_illegal"], [0, 0, 1, 2, 2, 3])  # reach <= t
    np.testing.assert_array_equal(r.series["time_h"], np.arange(6.0))


def _poisoned_take(take, poison):
    """An ``_ArrayPool.take`` whose unfilled arrays hold garbage: ``"nan"`` (NaN, a huge
    integer) or ``"random"`` (uniform on [0, 100), random integers)."""
    rng = np.random.default_rng(7)

    def poisoned(self, shape, dtype, fill=None):
        a = take(self, shape, dtype, fill)
        if fill is None:
            if poison == "nan":
                a.fill(np.nan if a.dtype.kind == "f" else np.iinfo(a.dtype).max // 3)
            elif a.dtype.kind == "f":
                a[...] = rng.uniform(0.0, 100.0, a.shape)
            else:
                a[...] = rng.integers(-5, 1 << 20, a.shape)
        return a

    return poisoned


@pytest.mark.parametrize("removal", ["cascade", "per_copy"])
@pytest.mark.parametrize("known", [True, False], ids=["removal-known", "removal-later"])
@pytest.mark.parametrize("trace", [False, True], ids=["counts", "trace"])
@pytest.mark.parametrize("small", [True, False], ids=["bitset", "hashset"])
def test_pooled_work_arrays_carry_nothing_between_runs(removal, known, trace, small, monkeypatch):
    """A run takes its work arrays from the pool of earlier runs (see engine._ArrayPool): every
    array handed out unfilled must be written before it is read, so runs one after the other on
    pooled arrays full of garbage give the tables of runs on brand-new arrays. (That the next run
    does take the arrays a run gave back: test_pool_is_bounded_and_per_thread.)"""
    from spreadsim.engine import pool as engine
    from spreadsim.graphs import build_graph
    from spreadsim.policies.base import FixedLatency

    if not small:
        _use_hash_sets(monkeypatch)
    g = build_graph({"kind": "barabasi_albert", "n": 1500, "m": 3}, seed=2)
    cfg = SimConfig.from_dict(config(share_prob=0.2, removal=removal, posts=8, uploaders=3,
                                     window_h=6.0, horizon_h=60.0, selection="random"))

    def pols():
        return [FixedLatency({"latency_h": 5.0})] if known else [_LateRemover()]

    def tables(r):
        return {**{f"p:{k}": v for k, v in r.posts.items()}, **{f"s:{k}": v for k, v in r.series.items()},
                **{f"e:{k}": v for k, v in r.exposures.items()}}

    def run(seed):
        return tables(Simulation(cfg, seed, graph=g, policies=pols(), trace=trace).run())

    # each run alone in a thread: its pool starts empty, every array is new
    fresh = [_in_new_thread(partial(run, s)) for s in range(3)]
    assert all(r["p:reach"].sum() > 100 for r in fresh)
    take = engine._ArrayPool.take
    for poison in ("nan", "random"):  # (this thread's pool: what earlier runs gave back)
        monkeypatch.setattr(engine._ArrayPool, "take", _poisoned_take(take, poison))
        for s in range(3):
            got = run(s)
            assert got.keys() == fresh[s].keys()
            for k in got:
                np.testing.assert_array_equal(got[k], fresh[s][k], err_msg=f"{poison} {k}")


def _pool_world():
    """A graph and a config whose runs pool about 0.5 MB of work arrays, and their key count."""
    from spreadsim.graphs import build_graph

    g = build_graph({"kind": "barabasi_albert", "n": 1500, "m": 3}, seed=2)
    cfg = SimConfig.from_dict(config(share_prob=0.2, posts=8, uploaders=3, window_h=6.0,
                                     horizon_h=60.0, selection="random"))
    new_simulation(cfg, 0, graph=g).run()  # compiled, imports done: what follows is the runs'
    return g, cfg, 8 * g.n


def test_pool_is_bounded_and_per_thread(monkeypatch):
    """A finished run keeps its work arrays for the next run of its thread, which then allocates
    that much less; the pool keeps at most POOL_MAX_BYTES; it goes with its thread; runs in
    concurrent threads, each with its pool, give the tables of runs alone."""
    from spreadsim.engine import pool as engine

    g, cfg, keys = _pool_world()

    def run(seed):
        return new_simulation(cfg, seed, graph=g).run()

    # (the earliest exposure time of every (post, user) key alone: 8 bytes a key; the pooled
    # arrays are about 0.5 MB in all: that, the exposure log, the event heap, ...)
    first_bytes = 8 * keys
    (kept0, peak0), *rest = _footprints(run, range(4))
    assert kept0 >= first_bytes
    for kept, peak in rest:
        assert kept <= kept0 + _OTHER_BYTES  # the same arrays, kept again
        assert peak <= peak0 - first_bytes  # taken from the pool, not allocated
    # a bound under what the runs would keep: kept within it
    with monkeypatch.context() as m:
        m.setattr(engine, "POOL_MAX_BYTES", kept0 // 4)
        for kept, _ in _footprints(run, range(4)):
            assert kept <= kept0 // 4 + _OTHER_BYTES

    # a thread's pool is freed with the thread
    def in_a_thread(seed):
        _in_new_thread(lambda: run(seed) and None)

    [(kept, _)] = _footprints(in_a_thread, [0])
    assert kept <= _OTHER_BYTES
    # four threads at once, three runs each on the arrays of their thread's previous run
    want = {s: run(s) for s in range(12)}
    with ThreadPoolExecutor(max_workers=4) as ex:
        got = dict(zip(range(12), ex.map(run, range(12)), strict=True))
    for s in want:
        _assert_same_tables(got[s], want[s])


@pytest.mark.parametrize("removal", ["cascade", "per_copy"])
@pytest.mark.parametrize("known", [True, False], ids=["removal-known", "removal-later"])
@pytest.mark.parametrize("settle", ["scan", "touched", "log"])
@pytest.mark.parametrize("small", [True, False], ids=["bitset", "hashset"])
def test_settling_orders_give_the_same_tables(removal, known, settle, small, monkeypatch):
    """Settling counts the first exposures (the event queue's, which are not logged when the
    earliest times are tracked, and the inert ones) from the tracked earliest times: scanning
    them in key order, following the touched keys, or logging them (series too long for a
    histogram); each must give the tables of processing every exposure as an event."""
    from spreadsim.engine import pool as engine
    from spreadsim.graphs import build_graph
    from spreadsim.policies.base import FixedLatency

    if not small:
        _use_hash_sets(monkeypatch)
    if settle == "scan":
        monkeypatch.setattr(engine, "SCAN_MIN_TOUCHED", 0.0)
    if settle == "touched":
        monkeypatch.setattr(engine, "SCAN_MIN_TOUCHED", math.inf)
    if settle == "log":
        monkeypatch.setattr(engine, "HIST_MAX_BINS", 0)
    g = build_graph({"kind": "barabasi_albert", "n": 1500, "m": 3}, seed=4)
    cfg = SimConfig.from_dict(config(share_prob=0.2, kernel={"dist": "lognormal", "median_h": 1.0,
                                                             "sigma": 1.0},
                                     removal=removal, posts=12, uploaders=4, window_h=10.0,
                                     horizon_h=100.0, selection="random"))

    def pols():
        return [FixedLatency({"latency_h": 6.0})] if known else [_LateRemover()]

    for seed in range(2):
        fast_sim = Simulation(cfg, seed, graph=g, policies=pols())
        assert not fast_sim.live_counts
        fast = fast_sim.run()
        live = Simulation(cfg, seed, graph=g, policies=[*pols(), _Live()]).run()
        assert fast.posts["reach"].sum() > 50
        _assert_same_tables(fast, live)


def test_a_finished_simulation_answers_queries_but_does_not_finish_twice():
    """After the run (whose work arrays went back to the pool) reach, views, shares and the next
    spread time still answer; a second finish() is refused with a clear error."""
    from spreadsim.graphs import build_graph

    g = build_graph({"kind": "barabasi_albert", "n": 500, "m": 3}, seed=0)
    cfg = SimConfig.from_dict(config(share_prob=0.3, posts=3, uploaders=2, horizon_h=3.0))
    sim = new_simulation(cfg, 0, graph=g)
    r = sim.run()
    assert [sim.reach(p) for p in sim.posts] == r.posts["reach"].tolist()
    assert [sim.views(p) for p in sim.posts] == r.posts["views"].tolist()
    assert [sim.shares(p) for p in sim.posts] == r.posts["shares"].tolist()
    assert sim.next_spread_time() == math.inf
    with pytest.raises(RuntimeError, match="finished already"):
        sim.finish()


def test_runs_reset_the_keys_they_touched():
    """A run that touched few of its (post, user) keys gives its earliest-exposure array back
    reset at those keys only (the next run does not fill it), one that touched many gives it
    back to be filled; either way runs one after the other give the tables of runs on brand-new
    arrays, including when posts were added during the run (the array grew)."""
    from spreadsim.engine import pool as engine
    from spreadsim.graphs import build_graph
    from spreadsim.policies.base import FixedLatency, Policy

    class Reupload(Policy):
        """Uploads a copy of every removed original an hour later: the post arrays grow."""

        name = "reupload"

        def __init__(self) -> None:
            super().__init__({})

        def on_removal(self, post):
            def later():
                yield self.sim.env.timeout(1.0)
                self.sim.upload(post.category, post.uploader, content_id=post.content_id)

            if post.copy == 0:
                self.sim.env.process(later())

    g = build_graph({"kind": "barabasi_albert", "n": 2000, "m": 3}, seed=1)
    seeds = range(4)
    for posts, share, few, grow in ((16, 0.05, True, False), (2, 0.6, False, False),
                                    (16, 0.05, True, True)):
        cfg = SimConfig.from_dict(config(share_prob=share, posts=posts, uploaders=3, window_h=6.0,
                                         horizon_h=60.0, selection="random"))

        def run(seed, grow=grow, cfg=cfg):
            pols = [FixedLatency({"latency_h": 5.0}), *([Reupload()] if grow else [])]
            return Simulation(cfg, seed, graph=g, policies=pols).run()

        fresh = [_in_new_thread(partial(run, s)) for s in seeds]  # alone: brand-new arrays
        # in one thread: each run on the arrays its predecessor gave back
        chained = _in_new_thread(partial(list, map(run, seeds)))
        for f, c in zip(fresh, chained, strict=True):
            # the case this scenario is for: every key reached was touched (with removal times
            # known at upload, only those), one key per (post slot, user), slots grown with posts
            slots = len(f.posts["reach"])
            assert (slots > posts) == grow
            reached = int(f.posts["reach"].sum())
            assert reached > 0 and (reached <= engine.RESET_MAX_SHARE * slots * g.n) == few
            _assert_same_tables(c, f)


def test_pool_can_be_turned_off(monkeypatch):
    """With POOL_MAX_BYTES = 0 a finished run keeps nothing for the next one: no memory stays
    allocated after it, and each run allocates its work arrays anew."""
    from spreadsim.engine import pool as engine

    g, cfg, keys = _pool_world()
    monkeypatch.setattr(engine, "POOL_MAX_BYTES", 0)
    (kept0, peak0), *rest = _footprints(lambda s: new_simulation(cfg, s, graph=g).run(), range(3))
    assert kept0 <= _OTHER_BYTES and peak0 >= 8 * keys  # (the earliest times alone: 8 B a key)
    for kept, peak in rest:
        assert kept <= _OTHER_BYTES and peak >= peak0 - _OTHER_BYTES


@pytest.mark.parametrize(("weights", "n_ill", "n_leg"), [
    ((1.0,), 1, 0), ((1.0,), 7, 0), ((0.2, 0.5, 0.3), 40, 0), ((3.0, 1.0), 25, 9), ((1.0, 1.0), 0, 5),
])
def test_campaign_draws_are_numpys_choice(weights, n_ill, n_leg):
    """The campaign's categories come from NumPy's ``Generator.choice`` arithmetic without its
    checks, and empty draws are skipped: the uploads (times, categories, uploaders, in order)
    are those the plain NumPy calls give."""
    from spreadsim.rng import generator
    from spreadsim.schema.model import LEGAL

    names = ("hate_speech", "terrorist_propaganda", "ip_infringement")
    cfg = config(posts=n_ill, selection="random")
    cfg["scenario"].update({"legal_posts": n_leg, "uploaders": 3, "window_h": 30.0, "categories": {
        names[i]: {"weight": w, "share_prob": 0.1} for i, w in enumerate(weights)}})
    g = digraph([(i, (i + 1) % 12) for i in range(12)])
    for seed in range(5):
        sim = new_simulation(SimConfig.from_dict(cfg), seed, graph=g)
        r = sim.run()  # (no policy: every upload of the window happens, before the horizon)
        cats = [c.name for c in sim.config.scenario.categories]
        rng = generator(seed, "uploads")
        ups = rng.choice(g.n, size=3, replace=False)
        w = np.array([c.weight for c in sim.config.scenario.categories])
        ill_t = rng.uniform(0.0, 30.0, n_ill)
        ill_c = rng.choice(len(w), size=n_ill, p=w / w.sum())
        ill_u = ups[rng.integers(0, 3, n_ill)]
        leg_t = rng.uniform(0.0, 30.0, n_leg)
        leg_u = rng.integers(0, g.n, n_leg)
        t = np.concatenate([ill_t, leg_t])
        c = [cats[k] for k in ill_c] + [LEGAL] * n_leg
        u = np.concatenate([ill_u, leg_u])
        want = [(float(t[i]), c[i], int(u[i]), i < n_ill) for i in np.argsort(t, kind="stable")]
        p = r.posts
        assert list(zip(p["upload_time_h"].tolist(), p["category"].tolist(), p["uploader"].tolist(),
                        [q.adversarial for q in sim.posts], strict=True)) == want
        assert p["content_id"].tolist() == list(range(n_ill + n_leg))  # in upload order


_SIGNATURES = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from spreadsim import simulate
from spreadsim.engine import kernel as K
from tests.helpers import config, digraph
g = digraph([(0, 1), (1, 2), (2, 3)])
# integer latency and horizon: SimPy's clock is an int (the upload at 0, the removal at 2);
# then a float clock (an upload at a random time in the first hour, the removal 2.5 h later)
simulate(config(policy={"name": "fixed_latency", "latency_h": 2}, horizon_h=10), seed=0, graph=g)
simulate(config(policy={"name": "fixed_latency", "latency_h": 2.5}, horizon_h=10.5, window_h=1.0),
         seed=0, graph=g)
print(json.dumps([len(K.advance.signatures), len(K.share.signatures)]))
"""


def test_kernel_compiles_one_signature_of_advance():
    """SimPy's clock may be an int (integer event times); the kernel still gets float times, so
    numba compiles advance() and share() once, not once per type of the clock (seconds on a
    fresh cache): a fresh interpreter that ran a world with an int clock and one with a float
    clock holds one compiled signature of each."""
    from pathlib import Path

    from spreadsim.engine import kernel as K

    if not hasattr(K.advance, "signatures"):
        pytest.skip("plain-Python kernel")
    root = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run([sys.executable, "-c", _SIGNATURES, root], capture_output=True, text=True,
                         check=True, timeout=600)
    assert json.loads(out.stdout.splitlines()[-1]) == [1, 1]  # advance(), share()
