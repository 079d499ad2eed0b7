"""Benchmark the share routine's modes: each against the more general mode that gives the same tables.

The kernel has four modes (docs/design.md, The share routine's modes), chosen once per run from the
state fields ``track``, ``trigger_live`` and ``final``. Here each run is set up as usual, then its
mode is forced to a more general one (every exposure as an event, inert views buffered instead of
counted, every post's first exposures as events), which must give the same tables (checked). Runs
alternate between the modes seed by seed; CPU time (``time.process_time``) of a whole run (set-up,
SimPy loop, kernel, tables), median per mode. Worlds: a Barabasi-Albert graph (``--n`` users, m =
5), exponential feed delays (rate 1/h).

Usage::

    python benchmarks/bench_modes.py [--n 100000 --seeds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from spreadsim.engine import kernel as K
from spreadsim.engine.simulation import Simulation
from spreadsim.graphs import Graph, build_graph
from spreadsim.policies import make_policies
from spreadsim.policies.base import Policy
from spreadsim.schema.config import SimConfig


def world(policy: Any, posts: int = 1, p: float = 0.23, window: float = 0.0,
          horizon: float = 1e6) -> SimConfig:
    return SimConfig.from_dict({
        "graph": {"kind": "barabasi_albert"},  # the graph is passed in
        "spread": {"kernel": {"dist": "exponential", "rate_per_h": 1.0}},
        "scenario": {"illegal_posts": posts, "legal_posts": 0, "uploaders": max(1, posts // 4),
                     "horizon_h": horizon, "window_h": window,
                     "categories": {"hate_speech": {"weight": 1, "share_prob": p}}},
        "policy": policy})


class Watch(Policy):
    """A policy that wants exposure hooks and does nothing with them."""

    name = "watch"
    wants = frozenset({"exposure"})


def force(sim: Simulation, mode: str) -> None:
    """Force a more general mode on a simulation that has not started."""
    st = sim._state
    if mode == "inert":  # inert views buffered until the end (final off)
        st.final = 0
    elif mode == "all first":  # every post's first exposures as events (the dropped fifth mode):
        st.track = 1  # a reach trigger never reached, pending on every post (no policy sets one)
        st.trigger_live = 1
        st.unlogged = 1
        sim._work.pi[:, K.PI_REACH_TRIGGER] = 1 << 62
    elif mode == "every event":
        st.track = 0
        st.trigger_live = 0
        st.unlogged = 0


def run(cfg: SimConfig, g: Graph, seed: int, mode: str, extra: Sequence[Policy]) -> tuple[float, Any]:
    c0 = time.process_time()
    sim = Simulation(cfg, seed, graph=g, policies=make_policies(cfg.policies) + list(extra))
    force(sim, mode)
    r = sim.run()
    return time.process_time() - c0, r


def compare(label: str, cfg: SimConfig, g: Graph, modes: list[str], seeds: range,
            extra: Callable[[], Sequence[Policy]] = lambda: ()) -> None:
    times: dict[str, list[float]] = {m: [] for m in modes}
    for m in modes:
        run(cfg, g, 10**6, m, extra())  # warm-up (compilation)
    for s in seeds:
        res = {}
        for m in modes:
            t, res[m] = run(cfg, g, s, m, extra())
            times[m].append(t)
        for m in modes[1:]:
            for k in ("reach", "views", "shares", "exposure_person_hours", "removal_time_h"):
                a, b = res[modes[0]].posts[k], res[m].posts[k]
                assert np.array_equal(a, b, equal_nan=True), (label, m, k)
    med = {m: statistics.median(v) for m, v in times.items()}
    print(f"{label}: " + ", ".join(f"{m} {med[m] * 1000:.1f} ms" for m in modes) + " | "
          + ", ".join(f"{m}/{modes[0]} {med[m] / med[modes[0]]:.2f}" for m in modes[1:]), flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="users (default 100000)")
    ap.add_argument("--seeds", type=int, default=5, help="seeds per world (default 5)")
    a = ap.parse_args(argv)
    g = build_graph({"kind": "barabasi_albert", "n": a.n, "m": 5}, seed=1)
    seeds = range(a.seeds)
    compare("no policy, 1 post, p=0.23", world(None), g, ["inert, final", "inert", "every event"], seeds)
    compare("fixed_latency 5 h, 1 post, p=0.23", world({"name": "fixed_latency", "latency_h": 5.0}), g,
            ["inert, final", "inert"], seeds)
    nt = {"name": "notice_and_takedown", "moderators": 2, "notice_prob": 0.01}
    for p in (0.1, 0.23):
        compare(f"notice_and_takedown, 40 posts, p={p}", world(nt, 40, p, 24.0, 200.0), g,
                ["inert", "every event"], seeds)
    for p in (0.15, 0.23):
        for thr in ([100, 1000], [10, 100, 1000, 10000]):
            det = {"name": "automated_detection", "recall": 0.5, "reach_thresholds": thr,
                   "delay": {"dist": "exponential", "mean_h": 1.0}}
            compare(f"detection {thr}, 40 posts, p={p}", world(det, 40, p, 24.0, 200.0), g,
                    ["triggers", "every event"], seeds)
    compare("exposure hooks, 40 posts, p=0.1", world(None, 40, 0.1, 24.0, 200.0), g,
            ["every event", "all first"], seeds, extra=lambda: [Watch({})])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
