"""Property tests: random small graphs and random parameters, invariants that must always hold.

Graphs are NetworkX ``DiGraph``/``Graph`` objects on 2-12 nodes built from drawn edge lists (self-loops
and repeated edges included: the converter drops them) and converted with
:func:`spreadsim.graphs.from_networkx`; nodes are ``0..n-1``, so graph ids equal NetworkX labels.
Parameters cover every delay kernel, every attention decay, both removal semantics and the
pre-decided removal policies. Every run is seeded and Hypothesis is derandomized, so the file is
deterministic.
"""

from __future__ import annotations

import math
from typing import Any

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spreadsim import simulate
from spreadsim.graphs import Graph, from_networkx
from spreadsim.schema.model import CATEGORIES, LEGAL

FUZZ = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# replaced by ``graph=`` in every run; only validated as a mapping
DUMMY_GRAPH = {"kind": "barabasi_albert", "n": 10, "m": 2}

unit = st.floats(0.0, 1.0, allow_nan=False)
seeds = st.integers(0, 2**31 - 1)


# ------------------------------------------------------------------------------------ strategies

@st.composite
def nx_graphs(draw: st.DrawFn) -> nx.Graph:
    """A directed or undirected graph on 2-12 nodes with at least one edge that is not a loop."""
    n = draw(st.integers(2, 12))
    u = draw(st.integers(0, n - 1))
    v = (u + draw(st.integers(1, n - 1))) % n
    node = st.integers(0, n - 1)
    edges = [(u, v), *draw(st.lists(st.tuples(node, node), max_size=30))]
    G: nx.Graph = nx.DiGraph() if draw(st.booleans()) else nx.Graph()
    G.add_nodes_from(range(n))
    G.add_edges_from(edges)
    return G


kernels = st.one_of(
    st.builds(lambda v: {"dist": "fixed", "value_h": v}, st.floats(0.0, 5.0)),
    st.builds(lambda r: {"dist": "exponential", "rate_per_h": r}, st.floats(0.05, 10.0)),
    st.builds(lambda m, s: {"dist": "lognormal", "median_h": m, "sigma": s},
              st.floats(0.05, 5.0), st.floats(0.01, 3.0)),
    st.builds(lambda c, g: {"dist": "powerlaw", "c_h": c, "gamma": g},
              st.floats(0.05, 5.0), st.floats(0.3, 3.0)),
)

decays = st.one_of(
    st.just({"kind": "none"}),
    st.builds(lambda h: {"kind": "exponential", "half_life_h": h}, st.floats(0.1, 50.0)),
    st.builds(lambda c, a: {"kind": "powerlaw", "c_h": c, "alpha": a},
              st.floats(0.1, 10.0), st.floats(0.0, 3.0)),
)

latencies = st.one_of(st.floats(0.0, 10.0), st.floats(0.0, 100.0), st.just(math.inf))
# removal probabilities: mostly certain removal (so removals actually cut cascades), sometimes a coin
removal_probs = st.one_of(st.just(1.0), unit)

policies = st.one_of(
    st.just(None),
    st.just({"name": "none"}),
    st.builds(lambda lat, p, to: {"name": "fixed_latency", "latency_h": lat, "removal_prob": p,
                                  "applies_to": to},
              latencies, removal_probs, st.sampled_from(["illegal", "all"])),
    st.builds(lambda h, p: {"name": "latency_distribution", "dist": "exponential", "half_life_h": h,
                            "removal_prob": p},
              st.floats(0.01, 20.0), removal_probs),
    st.builds(lambda m, s, p: {"name": "latency_distribution", "dist": "lognormal", "median_h": m,
                               "sigma": s, "removal_prob": p},
              st.floats(0.01, 20.0), st.floats(0.0, 3.0), removal_probs),
)


@st.composite
def scenarios(draw: st.DrawFn, *, policy: Any = policies, horizon_multiple_of_step: bool = False,
              removal: Any = None) -> dict[str, Any]:
    """A config dict for a small graph (1-5 illegal posts, 0-3 legal posts)."""
    cats = draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=3, unique=True))
    window = draw(st.floats(0.0, 20.0))
    step = draw(st.floats(0.1, 5.0))
    if horizon_multiple_of_step:
        # a multiple of the step that covers the window (with a step of 0.1 h that can be 200 steps)
        k_min = max(1, math.ceil(window / step))
        horizon = step * draw(st.integers(k_min, k_min + 60))
    else:
        horizon = window + draw(st.floats(0.1, 100.0))
    cfg: dict[str, Any] = {
        "graph": DUMMY_GRAPH,
        "spread": {"kernel": draw(kernels), "decay": draw(decays),
                   "removal": removal or draw(st.sampled_from(["cascade", "per_copy"]))},
        "scenario": {
            "illegal_posts": draw(st.integers(1, 5)),
            "legal_posts": draw(st.integers(0, 3)),
            "legal_share_prob": draw(unit),
            "uploaders": draw(st.integers(1, 2)),  # <= n (graphs have >= 2 nodes)
            "uploader_selection": draw(st.sampled_from(["random", "top_degree"])),
            "window_h": window,
            "horizon_h": horizon,
            "series_step_h": step,
            "categories": {c: {"weight": draw(st.floats(0.1, 3.0)), "share_prob": draw(unit)}
                           for c in cats},
        },
    }
    pol = draw(policy)
    if pol is not None:
        cfg["policy"] = pol
    return cfg


def _graph(G: nx.Graph) -> Graph:
    g = from_networkx(G, name="fuzz")
    assert g.labels is not None and g.labels.tolist() == list(range(G.number_of_nodes()))
    return g


def _reachable(G: nx.Graph, u: int) -> int:
    """Users who can ever see what ``u`` shares (``u`` excluded)."""
    if G.is_directed():
        return len(nx.descendants(G, u))
    return len(nx.node_connected_component(G, u)) - 1


# ------------------------------------------------------------------------------------ properties

@FUZZ
@given(nx_graphs(), scenarios(), seeds)
def test_reach_bounded_by_reachable_users(G, cfg, seed):
    """(a) a post reaches no one outside its uploader's audience closure; never the uploader."""
    r = simulate(cfg, seed=seed, graph=_graph(G), trace=True)
    p = r.posts
    for q in range(len(p["post_id"])):
        assert p["reach"][q] <= _reachable(G, int(p["uploader"][q])), q
    e = r.exposures
    assert not (e["user"] == p["uploader"][e["post_id"]]).any()


@FUZZ
@given(nx_graphs(), scenarios(policy=st.just(None)), seeds,
       st.lists(st.floats(0.0, 30.0), min_size=1, max_size=4), st.sampled_from(["cascade", "per_copy"]))
def test_reach_monotone_in_fixed_latency(G, cfg, seed, lats, removal):
    """(b) same seed: a longer fixed latency never lowers any post's reach (both semantics)."""
    g = _graph(G)
    cfg["spread"]["removal"] = removal
    prev = None
    for lat in [*sorted(lats), math.inf]:
        cfg["policy"] = {"name": "fixed_latency", "latency_h": lat, "applies_to": "all"}
        reach = simulate(cfg, seed=seed, graph=g).posts["reach"]
        if prev is not None:
            assert (reach >= prev).all(), (lat, prev.tolist(), reach.tolist())
        prev = reach


@FUZZ
@given(nx_graphs(), scenarios(removal="cascade"), seeds)
def test_no_exposure_at_or_after_removal_cascade(G, cfg, seed):
    """(c) cascade: every exposure happens strictly before its post's removal time."""
    r = simulate(cfg, seed=seed, graph=_graph(G), trace=True)
    e = r.exposures
    removed = r.posts["removal_time_h"][e["post_id"]]  # NaN: never removed
    assert not (e["time_h"] >= removed).any()
    assert (e["time_h"] < cfg["scenario"]["horizon_h"]).all()
    # removals recorded by the engine agree with the per-post table
    for t, q, _ in r.removals:
        assert r.posts["removal_time_h"][q] == t


@FUZZ
@given(nx_graphs(), scenarios(policy=st.just(None), removal="per_copy"), seeds, st.floats(0.0, 20.0),
       st.sampled_from(["illegal", "all"]))
def test_no_exposure_via_an_expired_copy_per_copy(G, cfg, seed, lat, applies_to):
    """(c) per_copy, fixed latency L, removal_prob 1: every exposure comes less than L after its
    source shared (the uploader's copy starts at upload)."""
    cfg["policy"] = {"name": "fixed_latency", "latency_h": lat, "applies_to": applies_to}
    r = simulate(cfg, seed=seed, graph=_graph(G), trace=True)
    e, p = r.exposures, r.posts
    shared_at = {(int(q), int(u)): float(t) for q, u, t, s in
                 zip(e["post_id"], e["user"], e["time_h"], e["shared"], strict=True) if s}
    for q, u, t, src in zip(e["post_id"], e["user"], e["time_h"], e["source"], strict=True):
        q, src = int(q), int(src)
        if applies_to == "illegal" and p["category"][q] == LEGAL:
            continue
        t_share = float(p["upload_time_h"][q]) if src == p["uploader"][q] else shared_at[(q, src)]
        assert t_share <= t < t_share + lat, (q, int(u), src, t, t_share)
    if lat == 0.0:
        ill = p["category"] != LEGAL
        assert (p["reach"][ill] == 0).all()


@FUZZ
@given(nx_graphs(), scenarios(horizon_multiple_of_step=True), seeds)
def test_counts_add_up(G, cfg, seed):
    """(d) summary totals are the per-post sums over illegal posts, the trace agrees with the
    counters, and the reach series is non-decreasing and ends at the total."""
    r = simulate(cfg, seed=seed, graph=_graph(G), trace=True)
    p, s, e = r.posts, r.summary, r.exposures
    ill = p["category"] != LEGAL
    assert s["reach_total"] == p["reach"][ill].sum()
    assert s["views_total"] == p["views"][ill].sum()
    assert s["shares_total"] == p["shares"][ill].sum()
    assert s["legal_reach_total"] == p["reach"][~ill].sum()
    assert s["posts"] == ill.sum() == cfg["scenario"]["illegal_posts"]
    assert s["legal_posts"] == (~ill).sum() == cfg["scenario"]["legal_posts"]
    assert s["exposure_person_hours"] == pytest.approx(p["exposure_person_hours"][ill].sum())
    assert (p["reach"] <= p["views"]).all()
    n = len(p["post_id"])
    np.testing.assert_array_equal(np.bincount(e["post_id"], minlength=n), p["views"])
    np.testing.assert_array_equal(np.bincount(e["post_id"][e["first"]], minlength=n), p["reach"])
    np.testing.assert_array_equal(np.bincount(e["post_id"][e["shared"]], minlength=n), p["shares"])
    # a user is exposed first once per post
    pairs = {(int(q), int(u)) for q, u in zip(e["post_id"][e["first"]], e["user"][e["first"]], strict=True)}
    assert len(pairs) == int(e["first"].sum())
    ser = r.series
    assert ser["time_h"][0] == 0.0
    assert (np.diff(ser["time_h"]) > 0).all()
    assert (np.diff(ser["reach_illegal"]) >= 0).all()
    assert (np.diff(ser["reach_legal"]) >= 0).all()
    assert ser["reach_illegal"][-1] == s["reach_total"]
    assert ser["reach_legal"][-1] == s["legal_reach_total"]


@FUZZ
@given(nx_graphs(), scenarios(), seeds)
def test_same_seed_same_tables(G, cfg, seed):
    """(e) the same config and seed give identical per-post tables and series."""
    g = _graph(G)
    a = simulate(cfg, seed=seed, graph=g)
    b = simulate(cfg, seed=seed, graph=g)
    assert a.posts.keys() == b.posts.keys()
    for col in a.posts:
        np.testing.assert_array_equal(a.posts[col], b.posts[col], err_msg=col)
    for col in a.series:
        np.testing.assert_array_equal(a.series[col], b.series[col], err_msg=col)
    assert a.removals == b.removals


@FUZZ
@given(nx_graphs(), scenarios(), seeds)
def test_bounds(G, cfg, seed):
    """(f) views >= reach >= 0, reach >= shares >= 0, 0 <= person-hours <= reach * horizon."""
    r = simulate(cfg, seed=seed, graph=_graph(G))
    p = r.posts
    horizon = cfg["scenario"]["horizon_h"]
    assert (p["reach"] >= 0).all()
    assert (p["views"] >= p["reach"]).all()
    assert (p["shares"] >= 0).all() and (p["shares"] <= p["reach"]).all()
    ph = p["exposure_person_hours"]
    assert np.isfinite(ph).all()
    assert (ph >= 0).all()
    # person-hours are summed in ticks of 1/65536 h (metrics.PH_TICKS): each reached user's start
    # and end are rounded to the nearest tick, by half a tick each at most: one tick per user
    slack = p["reach"] * (1.0 / 65536) + 1e-9
    assert (ph <= p["reach"] * horizon + slack).all()
    # tighter: nobody is exposed before the upload
    assert (ph <= p["reach"] * (horizon - p["upload_time_h"]) + slack).all()
    assert ((p["upload_time_h"] >= 0) & (p["upload_time_h"] <= cfg["scenario"]["window_h"])).all()


# ------------------------------------------------------------------------------------ found bugs

def test_series_ends_at_reach_total_when_horizon_is_not_a_multiple_of_the_step():
    G = nx.DiGraph([(0, 1), (1, 2), (2, 3)])
    cfg = {"graph": DUMMY_GRAPH,
           "spread": {"kernel": {"dist": "fixed", "value_h": 1.15}},
           "scenario": {"illegal_posts": 1, "uploaders": 1, "uploader_selection": "top_degree",
                        "window_h": 0.0, "horizon_h": 2.5, "series_step_h": 1.0,
                        "categories": {"hate_speech": {"share_prob": 1.0}}}}
    r = simulate(cfg, seed=0, graph=_graph(G))
    assert r.summary["reach_total"] == 2  # users 1 and 2, exposed at 1.15 h and 2.3 h
    # the series is time [0, 1, 2], reach [0, 0, 1]: the exposure at 2.3 h is lost
    assert r.series["reach_illegal"][-1] == r.summary["reach_total"]


def test_person_hours_round_both_ends_to_a_tick():
    """The case hypothesis found for test_bounds: the upload at 0.68800611 h and the horizon at
    1.1 h are 0.2 and 0.4 of a tick from the nearest ticks, so the user's person-hours exceed the
    exact 0.41199389 h by 0.6 of a tick: more than half a tick, within one."""
    cfg = {"graph": DUMMY_GRAPH,
           "spread": {"kernel": {"dist": "fixed", "value_h": 0.0}, "decay": {"kind": "none"}},
           "scenario": {"illegal_posts": 1, "uploaders": 1, "uploader_selection": "random",
                        "window_h": 1.0, "horizon_h": 1.1, "series_step_h": 1.0,
                        "categories": {"terrorist_propaganda": {"weight": 1.0, "share_prob": 0.0}}}}
    p = simulate(cfg, seed=0, graph=_graph(nx.path_graph(2))).posts
    exact = 1.1 - p["upload_time_h"][0]
    excess = (p["exposure_person_hours"][0] - exact) * 65536
    assert p["reach"][0] == 1
    assert 0.5 < excess <= 1.0
