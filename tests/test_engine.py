"""Exact event traces on tiny graphs with fixed delays, and engine bookkeeping."""

from __future__ import annotations

import math

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
    assert r.removals == [(2.5, 0)]
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
            self.sim.remove_post(post)

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
            self.sim.remove_post(post)

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
        assert not fast_sim.live_counts and fast_sim._dense == small
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
        assert a_sim._meta[15] == 1
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
    sim = new_simulation(cfg, 0, graph=g)
    r = sim.run()
    assert 0 < sim._hist.shape[1] <= 10  # exposures at 1.5, 3 and 4.5 h, hourly steps
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
    array handed out unfilled must be written before it is read, so a pool of garbage gives the
    tables of fresh arrays; and a finished run's arrays are reused by the next one."""
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

    take = engine._ArrayPool.take
    monkeypatch.setattr(engine, "_POOL", engine._ArrayPool())
    monkeypatch.setattr(engine._ArrayPool, "take", _poisoned_take(take, "nan"))
    ref = [tables(Simulation(cfg, s, graph=g, policies=pols(), trace=trace).run()) for s in range(3)]
    assert all(r["p:reach"].sum() > 100 for r in ref)
    assert engine._POOL.nbytes > 0  # the runs gave their arrays back
    monkeypatch.setattr(engine._ArrayPool, "take", _poisoned_take(take, "random"))
    for s in range(3):
        got = tables(Simulation(cfg, s, graph=g, policies=pols(), trace=trace).run())
        assert got.keys() == ref[s].keys()
        for k in got:
            np.testing.assert_array_equal(got[k], ref[s][k], err_msg=k)
    # the next run takes the very arrays the last one gave back (those that kept their size:
    # the map of tracked keys grows with the users reached, the log with a trace)
    kept = {id(a) for stack in engine._POOL.free.values() for a in stack}
    # an array given back clean holds its fill everywhere, as a fresh one would
    clean = [a for stack in engine._POOL.free.values() for a in stack if id(a) in engine._POOL.filled]
    assert all(np.all(a == engine._POOL.filled[id(a)]) for a in clean)
    sim = Simulation(cfg, 0, graph=g, policies=pols(), trace=trace)
    assert not small or (id(sim._first) in kept and id(sim._seen) in kept)


def test_pool_is_bounded_and_per_thread(monkeypatch):
    """The pool keeps at most POOL_MAX_BYTES, only arrays owning their memory, one pool per
    thread."""
    import threading

    from spreadsim.engine import pool as engine

    pool = engine._ArrayPool()
    monkeypatch.setattr(engine, "POOL_MAX_BYTES", 1000)
    big, small = np.empty(200), np.empty(50)
    pool.give(big, small, np.empty(100)[::2], small[:10])  # views are not kept
    assert pool.nbytes == 400 and [a is small for a in pool.free[((50,), "<f8")]] == [True]
    a = pool.take((50,), np.float64, 7.0)
    assert a is small and np.all(a == 7.0) and pool.nbytes == 0
    assert pool.take((50,), np.float64).shape == (50,)  # empty pool: a new array
    pool.give(small)
    seen = []
    t = threading.Thread(target=lambda: seen.append(pool.free.get(((50,), "<f8"))))
    t.start()
    t.join()
    assert seen == [None] and pool.free[((50,), "<f8")] == [small]


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
        assert fast_sim._meta[14] == 1  # the queue's first exposures are not logged
        fast = fast_sim.run()
        assert (fast_sim._hist.shape[1] == 0) == (settle == "log")
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


def test_pool_hands_out_arrays_given_back_clean_without_filling():
    """An array given back with ``filled`` (every element holds that value) is preferred by a
    ``take`` with that fill and handed out as it is; a take with another fill, or none, fills it
    or leaves it; the record goes with the array."""
    from spreadsim.engine import pool as engine

    pool = engine._ArrayPool()
    dirty, clean = np.zeros(8), np.full(8, np.inf)
    pool.give(clean, filled=np.inf)
    pool.give(dirty)
    assert pool.take((8,), np.float64, np.inf) is clean and pool.filled == {}
    b = pool.take((8,), np.float64, np.inf)  # the dirty one, filled
    assert b is dirty and np.all(b == np.inf) and pool.nbytes == 0
    pool.give(clean, filled=np.inf)
    c = pool.take((8,), np.float64, 0.0)  # another fill: filled as asked
    assert c is clean and np.all(c == 0.0) and pool.filled == {}
    pool.give(c, filled=0.0)
    assert pool.take((8,), np.float64) is c and pool.filled == {}  # no fill asked: as it is


def test_runs_reset_the_keys_they_touched(monkeypatch):
    """A run that touched few of its (post, user) keys gives its earliest-exposure array back
    reset at those keys only (the next run does not fill it), one that touched many gives it
    back to be filled; either way the next run's tables are those of a fresh array, including
    when posts were added during the run (the array grew)."""
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
    for posts, share, expect_clean, grow in ((16, 0.05, True, False), (2, 0.6, False, False),
                                             (16, 0.05, True, True)):
        cfg = SimConfig.from_dict(config(share_prob=share, posts=posts, uploaders=3, window_h=6.0,
                                         horizon_h=60.0, selection="random"))

        def pols(grow=grow):
            return [FixedLatency({"latency_h": 5.0}), *([Reupload()] if grow else [])]

        for seed in range(3):
            monkeypatch.setattr(engine, "_POOL", engine._ArrayPool())
            sim = Simulation(cfg, seed, graph=g, policies=pols())
            got = sim.run()
            # (the only pooled array of one row: the earliest times; grown with the posts)
            [first] = [a for stack in engine._POOL.free.values() for a in stack
                       if a.ndim == 2 and a.shape[0] == 1]
            assert (first.shape[1] > posts * g.n) == grow
            share_touched = sim._n_touched / first.shape[1]
            assert (id(first) in engine._POOL.filled) == expect_clean, share_touched
            assert (share_touched <= engine.RESET_MAX_SHARE) == expect_clean
            if expect_clean:
                assert np.all(first == np.inf) and sim._n_touched > 0
                again = Simulation(cfg, seed, graph=g, policies=pols())
                assert again._first is first or grow  # taken as it is (grown: a new size)
                _assert_same_tables(again.run(), got)
            keep = engine.POOL_MAX_BYTES
            monkeypatch.setattr(engine, "POOL_MAX_BYTES", 0)  # the same run with fresh arrays
            fresh = Simulation(cfg, seed, graph=g, policies=pols()).run()
            monkeypatch.setattr(engine, "POOL_MAX_BYTES", keep)
            _assert_same_tables(got, fresh)
    # released without settling (as the benchmark's bare runs do): the kernel's count of touched
    # keys is used, so the array still goes back clean
    monkeypatch.setattr(engine, "_POOL", engine._ArrayPool())
    sim = new_simulation(cfg, 0, graph=g)
    first = sim._first
    sim.upload(sim._schedule[0][1], sim._schedule[0][2])
    assert sim._meta[11] > 0 and np.any(first < np.inf)
    sim._release()
    assert id(first) in engine._POOL.filled and np.all(first == np.inf)


def test_pool_can_be_turned_off(monkeypatch):
    """With POOL_MAX_BYTES = 0 a finished run keeps nothing for the next one."""
    from spreadsim.engine import pool as engine
    from spreadsim.graphs import build_graph

    monkeypatch.setattr(engine, "_POOL", engine._ArrayPool())
    monkeypatch.setattr(engine, "POOL_MAX_BYTES", 0)
    g = build_graph({"kind": "barabasi_albert", "n": 300, "m": 2}, seed=0)
    new_simulation(SimConfig.from_dict(config(share_prob=0.3, posts=2, uploaders=1)), 0, graph=g).run()
    assert engine._POOL.nbytes == 0 and not any(engine._POOL.free.values())


@pytest.mark.parametrize(("weights", "n_ill", "n_leg"), [
    ((1.0,), 1, 0), ((1.0,), 7, 0), ((0.2, 0.5, 0.3), 40, 0), ((3.0, 1.0), 25, 9), ((1.0, 1.0), 0, 5),
])
def test_campaign_draws_are_numpys_choice(weights, n_ill, n_leg):
    """The campaign's categories come from NumPy's ``Generator.choice`` arithmetic without its
    checks, and empty draws are skipped: the schedule is the one the plain NumPy calls give."""
    from spreadsim.rng import generator
    from spreadsim.schema.model import LEGAL

    names = ("hate_speech", "terrorist_propaganda", "ip_infringement")
    cfg = config(posts=n_ill, selection="random")
    cfg["scenario"].update({"legal_posts": n_leg, "uploaders": 3, "window_h": 30.0, "categories": {
        names[i]: {"weight": w, "share_prob": 0.1} for i, w in enumerate(weights)}})
    g = digraph([(i, (i + 1) % 12) for i in range(12)])
    for seed in range(5):
        sim = new_simulation(SimConfig.from_dict(cfg), seed, graph=g)
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
        assert sim._schedule == want
        sim._release()


def test_kernel_compiles_one_signature_of_advance():
    """SimPy's clock may be an int (integer event times); the kernel still gets float times, so
    numba compiles advance() and share() once, not once per type of the clock (seconds on a
    fresh cache)."""
    from spreadsim.engine import kernel as K

    if not hasattr(K.advance, "signatures"):
        pytest.skip("plain-Python kernel")
    g = digraph([(0, 1), (1, 2), (2, 3)])
    cfg = config(policy={"name": "fixed_latency", "latency_h": 2}, horizon_h=10)
    simulate(cfg, seed=0, graph=g)
    assert K.advance.signatures
    assert all(str(sig[18]) == "float64" for sig in K.advance.signatures)
    assert K.share.signatures  # the upload at time 0 (an int on SimPy's clock) shared
    assert all(str(sig[17]) == str(sig[18]) == "float64" for sig in K.share.signatures)
