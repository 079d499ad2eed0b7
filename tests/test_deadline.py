"""The cheap deadline path gives exactly the tables of simulating every point."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spreadsim import SimConfig, simulate
from spreadsim.graphs import build_graph
from spreadsim.runs.deadline import deadline_path_reason, deadline_sweep

from .helpers import config


@pytest.fixture(scope="module")
def graph():
    return build_graph({"kind": "barabasi_albert", "n": 2000, "m": 3}, seed=3)


def _cfg(policy, removal="cascade"):
    c = config(share_prob=0.12, kernel={"dist": "exponential", "rate_per_h": 0.7}, policy=policy,
               removal=removal, posts=25, uploaders=8, window_h=24.0, horizon_h=400.0,
               selection="random")
    c["scenario"]["legal_posts"] = 5
    return c


POINTS = [
    {"name": "fixed_latency", "latency_h": lat} for lat in (0.0, 0.5, 2.0, 24.0, math.inf)
] + [
    {"name": "fixed_latency", "latency_h": 3.0, "removal_prob": 0.59,
     "categories": {"hate_speech": {"latency_h": 1.0}}},
    {"name": "latency_distribution", "dist": "exponential", "half_life_h": 2.0,
     "removal_prob": 0.7, "applies_to": "all"},
    {"name": "latency_distribution", "dist": "lognormal", "median_h": 4.0, "sigma": 1.2},
]


@pytest.mark.parametrize("table", [True, False], ids=["prefix-sums", "from-exposures"])
@pytest.mark.parametrize("seed", [0, 4])
def test_deadline_path_equals_simulation(graph, seed, table, monkeypatch):
    from spreadsim.runs import deadline

    if not table:
        monkeypatch.setattr(deadline, "CUM_TABLE_MAX", 0)
    cfgs = [SimConfig.from_dict(_cfg(p)) for p in POINTS]
    fast = deadline_sweep(cfgs, seed, graph=graph)
    for cfg, f in zip(cfgs, fast, strict=True):
        slow = simulate(cfg, seed, graph=graph)
        assert f.posts.keys() == slow.posts.keys()
        for col in slow.posts:
            np.testing.assert_array_equal(f.posts[col], slow.posts[col], err_msg=col)
        for col in slow.series:
            np.testing.assert_array_equal(f.series[col], slow.series[col], err_msg=col)
        assert f.summary == pytest.approx(slow.summary, nan_ok=True)
        assert f.removals == slow.removals


def test_deadline_path_reasons():
    assert deadline_path_reason(SimConfig.from_dict(_cfg(POINTS[1]))) is None
    why = deadline_path_reason(SimConfig.from_dict(_cfg(POINTS[1], removal="per_copy")))
    assert why is not None and "cascade" in why
    with pytest.raises(ValueError, match="differ only"):
        a = SimConfig.from_dict(_cfg(POINTS[1]))
        b = _cfg(POINTS[2])
        b["scenario"]["illegal_posts"] = 3
        deadline_sweep([a, SimConfig.from_dict(b)], 0)
