"""Cheap deadline curves: every point of a removal-deadline sweep from one unmoderated run.

Under ``cascade`` semantics a post removed at time R has exactly the exposures and shares that the
unmoderated run with the same seed had before R (the deadline identity of docs/design.md; the engine's counter-
based randomness makes it exact). When every policy of a stack fixes each post's removal time at
upload, independently of the spread (:class:`~spreadsim.policies.base.PreDecidedRemoval`: fixed latency,
latency distributions, with removal probabilities and category overrides), a whole sweep over
those policies' parameters costs one traced unmoderated run per seed plus a few array operations
per point, and gives the same tables as simulating each point.

:func:`deadline_path_reason` says whether a configuration qualifies (``None``) or why not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from spreadsim.engine.kernel import PH_TICKS, removal_cut
from spreadsim.engine.metrics import cause_column, post_columns, post_tables, series_grid, summarize
from spreadsim.engine.records import RunResult
from spreadsim.engine.runlog import FIRST, RESHARED, SETTLED
from spreadsim.engine.simulation import Simulation, policy_label, policy_stream_key
from spreadsim.graphs import Graph
from spreadsim.jit import njit
from spreadsim.policies import Policy, PreDecidedRemoval, make_policies
from spreadsim.schema.config import SimConfig
from spreadsim.schema.model import LEGAL

#: largest posts x series-points table of per-post cumulative reach kept per trace
CUM_TABLE_MAX = 5_000_000


def _policies(cfg: SimConfig) -> list[Policy]:
    return make_policies(cfg.policies)


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


class DeadlineTrace:
    """One traced unmoderated run, from which any pre-decided removal stack's results follow.

    Parameters
    ----------
    config : SimConfig
        The world (graph, spread, scenario); its policies are ignored here.
    seed : int
        The run seed.
    graph : Graph, optional
        Prebuilt graph.
    """

    def __init__(self, config: SimConfig, seed: int, *, graph: Graph | None = None) -> None:
        self.config = config
        self.seed = seed
        sim = Simulation(config, seed, graph=graph, policies=[], record_views=True)
        sim.run()
        self.graph = sim.graph
        self.posts = sim.posts
        log = sim.exposure_log()
        # first exposures: logged (as events, or settled from the inert buffer)
        first = (log.flags & FIRST) == FIRST
        self.t = log.time[first].copy()
        self.deadline = log.copy_deadline[first].copy()
        self.q = log.post[first].copy()
        self.user = log.user[first].copy()
        self.shared = (log.flags[first] & RESHARED) == RESHARED
        # every exposure (for views): the logged events plus the inert buffer
        event = (log.flags & SETTLED) == 0
        inert = sim.inert_views()
        self.view_t = np.concatenate([log.time[event], inert.time])
        self.view_q = np.concatenate([log.post[event], inert.post])
        self.t0 = np.array([p.upload_time for p in sim.posts], dtype=np.float64)

    def removal_times(self, cfg: SimConfig) -> np.ndarray:
        """Each post's removal time under ``cfg``'s policies (``inf``: never): the earliest of
        the policies' own :meth:`PreDecidedRemoval.removal_times`, as the engine schedules them."""
        return self.removals(cfg)[0]

    def removals(self, cfg: SimConfig) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """:meth:`removal_times`, each post's removing policy (its index in the stack, -1: not
        removed; the earliest removal wins, the first in the stack at a tie, as in the engine)
        and the removal cause of each policy of the stack."""
        why = deadline_path_reason(cfg)
        if why is not None:
            raise ValueError(f"deadline path not applicable: {why}")
        if not _same_world(cfg, self.config):
            raise ValueError("deadline path: the points must differ only in their policies")
        n = len(self.posts)
        horizon = cfg.scenario.horizon_h
        removed = np.full(n, math.inf)
        by = np.full(n, -1, dtype=np.int64)
        causes = []
        for i, pol in enumerate(_policies(cfg)):
            assert isinstance(pol, PreDecidedRemoval)
            # labelled and keyed as the engine binds it; its own method gives the times
            pol.label = policy_label(i, pol.name)
            pol.key = policy_stream_key(self.seed, i, pol.name)
            causes.append(pol.cause("latency"))
            at = pol.removal_times(self.posts)
            at[at >= horizon] = math.inf  # after the end: never observed (schedule_removal's rule)
            first = at < removed
            removed[first] = at[first]
            by[first] = i
        return removed, by, causes

    def _index(self) -> None:
        """Sort first exposures and views by (post, time) once, so that every point's counts
        are a binary search per post."""
        n = len(self.posts)
        order = _by_post_then_time(self.q, self.t, n)
        self.t, self.deadline, self.q = self.t[order], self.deadline[order], self.q[order]
        self.user, self.shared = self.user[order], self.shared[order]
        self._off = np.searchsorted(self.q, np.arange(n + 1))
        self._rank = np.arange(self.q.size) - self._off[self.q]
        self._shared_cum = np.concatenate([[0], np.cumsum(self.shared)])
        vorder = _by_post_then_time(self.view_q, self.view_t, n)
        self.view_t, self.view_q = self.view_t[vorder], self.view_q[vorder]
        self._voff = np.searchsorted(self.view_q, np.arange(n + 1))
        # exposure person-hours: start ticks summed per post in (post, time) order
        self._start_ticks = np.concatenate([[0], np.cumsum(np.rint(self.t * PH_TICKS).astype(np.int64))])
        # reach over time: for each post, first exposures at or before each time of the full
        # series grid (a point's grid is a prefix of it), if that table stays small
        sc = self.config.scenario
        self._grid = series_grid(float(self.t.max()) if self.t.size else 0.0, sc.horizon_h,
                                 sc.series_step_h)
        self._legal = np.array([p.category == LEGAL for p in self.posts], dtype=bool)
        self._cum = None
        if n * self._grid.size <= CUM_TABLE_MAX:
            self._cum = np.empty((n, self._grid.size), dtype=np.int64)
            for q in range(n):
                seg = self.t[self._off[q]:self._off[q + 1]]
                self._cum[q] = np.searchsorted(seg, self._grid, side="right")
        self._indexed = True

    def reach(self, cfg: SimConfig) -> np.ndarray:
        """Reach per post under ``cfg`` (the cheap part of :meth:`result`)."""
        if not getattr(self, "_indexed", False):
            self._index()
        return _count_below(self.t, self._off, _cuts(self.removal_times(cfg)))

    def result(self, cfg: SimConfig) -> RunResult:
        """The full :class:`RunResult` of ``cfg`` for this seed, as ``simulate`` would give it."""
        if not getattr(self, "_indexed", False):
            self._index()
        removed, by, stack = self.removals(cfg)
        cause = [stack[i] if i >= 0 else None for i in by.tolist()]
        n = len(self.posts)
        cut = _cuts(removed)  # (the tie rule of spreadsim.engine.kernel.timing)
        reach = _count_below(self.t, self._off, cut)  # first exposures before removal
        views = _count_below(self.view_t, self._voff, cut)
        shares = self._shared_cum[self._off[:-1] + reach] - self._shared_cum[self._off[:-1]]
        if getattr(self, "_fixed", None) is None:
            self._fixed = post_columns(self.posts)
        if self._cum is not None:
            posts, series = self._tables(cfg, removed, cause, reach, views, shares)
        else:
            f = self._rank < reach[self.q]
            posts, series = post_tables(self.posts, self.t0, removed, reach, views, shares,
                                        self.t[f], self.q[f], self.user[f], self.deadline[f],
                                        cfg.scenario.horizon_h, cfg.scenario.series_step_h,
                                        fixed=self._fixed, causes=cause)
        summary = summarize(posts, stack)
        summary["uploads_blocked"] = 0
        order = np.lexsort((np.arange(n), removed))
        order = order[np.isfinite(removed[order])]
        removals = [(float(removed[q]), int(q), stack[by[q]]) for q in order]
        return RunResult(self.seed, posts, series, summary, {}, removals, [])


    def _tables(self, cfg: SimConfig, removed: np.ndarray, cause: list[str | None], reach: np.ndarray,
                views: np.ndarray, shares: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The per-post table and the series without touching the exposures again: prefix sums
        per post (the same values as :func:`~spreadsim.engine.metrics.post_tables`, tested)."""
        assert self._cum is not None
        horizon = cfg.scenario.horizon_h
        start = self._off[:-1]
        end_ticks = np.rint(np.minimum(removed, horizon) * PH_TICKS).astype(np.int64)
        ph = reach * end_ticks - (self._start_ticks[start + reach] - self._start_ticks[start])
        posts = {k: v.copy() for k, v in self._fixed.items()}
        posts.update({
            "upload_time_h": self.t0.copy(),
            "removal_time_h": np.where(np.isinf(removed), np.nan, removed),
            "removal_cause": cause_column(cause, len(cause)),
            "reach": reach.astype(np.int64), "views": views.astype(np.int64),
            "shares": shares.astype(np.int64),
            "exposure_person_hours": ph.astype(np.float64) / PH_TICKS,
        })
        has = reach > 0
        last = float(self.t[start[has] + reach[has] - 1].max()) if has.any() else 0.0
        grid = series_grid(last, horizon, cfg.scenario.series_step_h)
        capped = np.minimum(self._cum[:, : grid.size], reach[:, None])
        series = {"time_h": grid,
                  "reach_illegal": capped[~self._legal].sum(axis=0).astype(np.int64),
                  "reach_legal": capped[self._legal].sum(axis=0).astype(np.int64)}
        return posts, series


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
    trace = DeadlineTrace(points[0], seed, graph=graph)
    return [trace.result(cfg) for cfg in points]


def _by_post_then_time(q: np.ndarray, t: np.ndarray, n_posts: int) -> np.ndarray:
    """Order by (post, time): a sort by time, then a stable sort by post (a radix sort when post
    numbers fit 16 bits)."""
    by_t = np.argsort(t)
    keys = q[by_t].astype(np.int16 if n_posts < 2**15 else np.int64)
    return by_t[np.argsort(keys, kind="stable")]


@njit(cache=True)
def _cuts(removed: np.ndarray) -> np.ndarray:  # pragma: no cover
    """``removal_cut`` of each removal time: exposures at or after it never happen."""
    out = np.empty(removed.shape[0])
    for i in range(removed.shape[0]):
        out[i] = removal_cut(removed[i])
    return out


@njit(cache=True)
def _count_below(t: np.ndarray, off: np.ndarray, limit: np.ndarray) -> np.ndarray:  # pragma: no cover
    """For each post q, how many of its times ``t[off[q]:off[q+1]]`` (sorted) are < limit[q]."""
    n = off.shape[0] - 1
    out = np.zeros(n, dtype=np.int64)
    for q in range(n):
        lo, hi = off[q], off[q + 1]
        out[q] = np.searchsorted(t[lo:hi], limit[q], side="left")
    return out
