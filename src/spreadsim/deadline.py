"""Cheap deadline curves: every point of a removal-deadline sweep from one unmoderated run.

Under ``cascade`` semantics a post removed at time R has exactly the exposures and shares that the
unmoderated run with the same seed had before R (the identity of DESIGN.md; the engine's counter-
based randomness makes it exact). When every policy of a stack fixes each post's removal time at
upload, independently of the spread (:class:`~spreadsim.policies.PreDecidedRemoval`: fixed latency,
latency distributions, with removal probabilities and category overrides), a whole sweep over
those policies' parameters costs one traced unmoderated run per seed plus a few array operations
per point, and gives the same tables as simulating each point.

:func:`deadline_path_reason` says whether a configuration qualifies (``None``) or why not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .config import SimConfig
from .engine import RunResult, Simulation
from .graphs import Graph
from .metrics import post_tables, summarize
from .policies import Policy, PreDecidedRemoval, make_policy
from .rng import stream_key


def _policies(cfg: SimConfig) -> list[Policy]:
    n = len(cfg.policies)
    return [make_policy(p, "policy" if n == 1 else f"policy[{i}]") for i, p in enumerate(cfg.policies)]


def deadline_path_reason(cfg: SimConfig) -> str | None:
    """``None`` if the cheap deadline path gives exact results for ``cfg``, else why not."""
    if cfg.spread.removal != "cascade":
        return f"spread.removal is {cfg.spread.removal!r} (the identity needs 'cascade')"
    for pol in _policies(cfg):
        if not isinstance(pol, PreDecidedRemoval):
            return f"policy {pol.name!r} reacts to the spread (not a pure deadline)"
    return None


def _same_world(a: SimConfig, b: SimConfig) -> bool:
    return (a.graph == b.graph and a.spread == b.spread and a.scenario == b.scenario
            and a.max_events == b.max_events)


def deadline_sweep(points: Sequence[SimConfig], seed: int, *,
                   graph: Graph | None = None) -> list[RunResult]:
    """Results of every configuration in ``points`` for one seed, from one unmoderated run.

    Parameters
    ----------
    points : sequence of SimConfig
        Configurations that differ only in their (pre-decided) policies.
    seed : int
        The run seed.
    graph : Graph, optional
        Prebuilt graph.

    Returns
    -------
    list of RunResult
        One per point, identical to ``simulate(point, seed)``.

    Raises
    ------
    ValueError
        If a point does not qualify (see :func:`deadline_path_reason`) or the points differ in
        anything but their policies.
    """
    if not points:
        return []
    for cfg in points:
        why = deadline_path_reason(cfg)
        if why is not None:
            raise ValueError(f"deadline path not applicable: {why}")
        if not _same_world(cfg, points[0]):
            raise ValueError("deadline path: the points must differ only in their policies")
    sim = Simulation(points[0], seed, graph=graph, policies=[], trace=True)
    sim.run()
    n = len(sim.posts)
    m = int(sim._meta[2])
    t = sim._log_f[:m, 0]
    q = sim._log_i[:m, 0]
    flags = sim._log_i[:m, 3]
    first = (flags & 1) == 1
    shared = (flags & 2) == 2
    t0 = np.array([p.upload_time for p in sim.posts], dtype=np.float64)
    horizon = points[0].scenario.horizon_h
    out = []
    for cfg in points:
        removed = np.full(n, math.inf)
        pols = _policies(cfg)
        for i, pol in enumerate(pols):
            pol.key = stream_key(seed, f"policy:{i}:{pol.name}")
            assert isinstance(pol, PreDecidedRemoval)
            for post in sim.posts:
                if pol.applies(post):
                    at = post.upload_time + pol.latency(post)
                    if at < horizon:
                        removed[post.id] = min(removed[post.id], at)
        live = t < removed[q]
        reach = np.bincount(q[live & first], minlength=n)
        views = np.bincount(q[live], minlength=n)
        shares = np.bincount(q[live & shared], minlength=n)
        f = live & first
        posts, series = post_tables(sim.posts, t0, removed, reach, views, shares, t[f], q[f],
                                    sim._log_i[:m, 1][f], sim._log_f[:m, 1][f], horizon,
                                    cfg.scenario.series_step_h)
        summary = summarize(posts)
        summary["uploads_blocked"] = 0
        order = np.lexsort((np.arange(n), removed))
        removals = [(float(removed[i]), int(i)) for i in order if not math.isinf(removed[i])]
        out.append(RunResult(sim.seed, posts, series, summary, {}, removals, []))
    return out
