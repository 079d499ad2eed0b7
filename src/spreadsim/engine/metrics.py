"""Turn a finished simulation into tables: per post, over time, and one summary row.

Definitions (hours throughout):

* reach: distinct users exposed to a post (its uploader excluded);
* views: all exposures, repeated ones included;
* shares: reshares (the upload itself is not counted);
* removal cause: which policy removed a post and why, ``"<policy label>:<reason>"`` (the label
  as in the policy's summary keys, ``policy0_fixed_latency``; the reasons a policy gives are its
  ``removal_reasons``); ``None`` for a post that was not removed;
* exposure person-hours: for each reached user, the time from first exposure until the post (or,
  in ``per_copy`` semantics, the copy first seen, by its clock or by a moderator) was removed or
  the simulation ended.

Summary statistics are over illegal posts; legal posts are in the per-post table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from spreadsim.engine.kernel import PH_TICKS
from spreadsim.engine.records import Post, RunResult
from spreadsim.engine.runlog import FIRST, RESHARED
from spreadsim.errors import ConfigError
from spreadsim.schema.model import LEGAL, MAX_SERIES_POINTS

#: the per-post table's columns, in order (:func:`post_tables`, and the deadline path's twin)
POST_COLUMNS = ("post_id", "content_id", "category", "uploader", "copy", "altered", "upload_time_h",
                "removal_time_h", "removal_cause", "reach", "views", "shares", "exposure_person_hours")
#: the prefix of the summary's removal counts per cause (:func:`removed_by`)
REMOVED_BY = "removed_by_"


def removed_by(cause: str) -> str:
    """The summary key that counts the removals of ``cause`` (``"policy0_fixed_latency:latency"``
    -> ``"removed_by_policy0_fixed_latency_latency"``)."""
    return REMOVED_BY + cause.replace(":", "_")


def collect(sim: Any) -> RunResult:
    """Tables of a finished :class:`~spreadsim.engine.simulation.Simulation` (which calls this),
    read through its record API (:mod:`spreadsim.engine.runlog`) and its public attributes."""

    pc = sim.post_counters()
    log = sim.exposure_log()
    first = (log.flags & FIRST) == FIRST
    deadline = log.copy_deadline[first]
    if sim.copy_removals:  # a copy removed after a user's first exposure through it ends it
        deadline = deadline.copy()
        q_first, src_first = log.post[first], log.source[first]
        for at, q, src, _ in sim.copy_removals:
            hit = (q_first == q) & (src_first == src)
            deadline[hit] = np.minimum(deadline[hit], at)
    settled = sim.settled_reach()
    posts, series = post_tables(
        sim.posts, pc.upload_time, pc.removal_time, pc.reach, pc.views, pc.shares,
        log.time[first], log.post[first], log.user[first], deadline,
        sim.config.scenario.horizon_h, sim.config.scenario.series_step_h,
        settled=(pc.settled_ticks, settled.hist, settled.last), causes=sim.removal_causes())
    exposures: dict[str, np.ndarray] = {}
    if sim.trace:
        exposures = {"time_h": log.time.copy(), "post_id": log.post.copy(), "user": log.user.copy(),
                     "source": log.source.copy(), "first": (log.flags & FIRST).astype(bool),
                     "shared": (log.flags & RESHARED).astype(bool)}
    summary = summarize(posts, stack_causes(sim.policies))
    for p in sim.policies:
        for k, v in p.summary().items():
            summary[f"{p.label}_{k}"] = v
    summary["uploads_blocked"] = len(sim.blocked)
    return RunResult(sim.seed, posts, series, summary, exposures, list(sim.removals),
                     list(sim.blocked), copy_removals=list(sim.copy_removals))


def post_tables(post_list: Sequence[Post], t0: np.ndarray, removed: np.ndarray, reach: np.ndarray,
                views: np.ndarray, shares: np.ndarray, t_first: np.ndarray, q_first: np.ndarray,
                u_first: np.ndarray, copy_deadline_first: np.ndarray, horizon: float,
                step: float, settled: tuple[np.ndarray, np.ndarray, float] | None = None,
                fixed: dict[str, np.ndarray] | None = None, causes: Sequence[str | None] = (),
                ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-post columns and the reach-over-time series from per-post counters and the logged
    first exposures (time, post, user, deadline of the copy first seen), in any order, plus the
    first exposures the kernel settled without logging (``settled``: person-hour ticks per post,
    a histogram of their times by series step for illegal/legal posts, and their latest time).
    ``fixed``: the columns of :func:`post_columns`, if the caller has them already. ``causes``:
    each post's removal cause (``None``: not removed; none given: every post's is ``None``).

    Exposure person-hours are summed in exact integer units of 1/65536 h (about 55 ms): each
    exposure counts from the tick of its start to the tick of its end, so the totals do not
    depend on the order in which the engine logged first exposures.
    """
    del u_first  # the sums are order-independent; kept in the signature for callers' clarity
    n = len(post_list)
    end = np.minimum(np.minimum(removed[q_first], copy_deadline_first), horizon)
    # each exposure lasts from its tick to the end's tick: integers, so exact sums below 2**53
    # ticks in any order, and a post's total is (count x end tick - sum of start ticks)
    ticks = np.rint(end * PH_TICKS) - np.rint(t_first * PH_TICKS)
    ph_ticks = np.bincount(q_first, weights=ticks, minlength=n) if n else np.zeros(0)
    if settled is not None:
        ph_ticks = ph_ticks + settled[0][:n]
    ph = ph_ticks / PH_TICKS
    posts: dict[str, np.ndarray] = {
        **(post_columns(post_list) if fixed is None else {k: v.copy() for k, v in fixed.items()}),
        "upload_time_h": np.asarray(t0, dtype=np.float64).copy(),
        "removal_time_h": np.where(np.isinf(removed), np.nan, removed),
        "removal_cause": cause_column(causes, n),
        "reach": np.asarray(reach, dtype=np.int64).copy(),
        "views": np.asarray(views, dtype=np.int64).copy(),
        "shares": np.asarray(shares, dtype=np.int64).copy(),
        "exposure_person_hours": np.asarray(ph, dtype=np.float64),
    }
    illegal_post = posts["category"] != LEGAL
    last = float(t_first.max()) if t_first.size else 0.0
    if settled is not None:
        last = max(last, settled[2])
    grid = series_grid(last, horizon, step)
    ill = illegal_post[q_first] if n else np.zeros(0, dtype=bool)
    counts = [_bin_counts(t_first[ill], grid), _bin_counts(t_first[~ill], grid)]
    if settled is not None and settled[1].shape[1]:
        for legal in (0, 1):
            h = settled[1][legal]
            k = min(grid.size - 1, h.size)
            counts[legal][:k] += h[:k]
            counts[legal][grid.size - 1] += h[k:].sum()
    series = {
        "time_h": grid,
        "reach_illegal": np.cumsum(counts[0]).astype(np.int64),
        "reach_legal": np.cumsum(counts[1]).astype(np.int64),
    }
    return posts, series


def cause_column(causes: Sequence[str | None], n: int) -> np.ndarray:
    """The ``removal_cause`` column of ``n`` posts (object array; ``None``: not removed)."""
    col = np.full(n, None, dtype=object)
    if len(causes):
        col[:] = list(causes)
    return col


def stack_causes(policies: Sequence[Any]) -> list[str]:
    """Every removal cause a bound policy stack can give (``Policy.causes``), in stack order."""
    return [c for p in policies for c in p.causes()]


def series_grid(last: float, horizon: float, step: float) -> np.ndarray:
    """Times of the reach-over-time series: multiples of ``step`` up to the step after the last
    new exposure (reach is flat from there on), ending at the horizon if that comes first."""
    k_end = math.ceil(last / step) if last > 0 else 0
    if k_end * step < last:  # last / step rounded down (e.g. underflow): the next step covers it
        k_end += 1
    end = min(horizon, step * k_end)
    if end / step > MAX_SERIES_POINTS:
        raise ConfigError("scenario.series_step_h", step, f"too small for this run: the series "
                          f"would have {end / step:.3g} points (at most {MAX_SERIES_POINTS:.0e})")
    grid = np.arange(0.0, end + step / 2, step)
    if grid[-1] < end:  # the horizon is not a multiple of the step: end the grid at it
        grid = np.append(grid, end)
    return grid


def post_columns(post_list: Sequence[Post]) -> dict[str, np.ndarray]:
    """The per-post columns that describe the posts themselves (not what happened to them)."""
    return {
        "post_id": np.array([p.id for p in post_list], dtype=np.int64),
        "content_id": np.array([p.content_id for p in post_list], dtype=np.int64),
        "category": np.array([p.category for p in post_list], dtype=object),
        "uploader": np.array([p.uploader for p in post_list], dtype=np.int64),
        "copy": np.array([p.copy for p in post_list], dtype=np.int64),
        "altered": np.array([p.altered for p in post_list], dtype=bool),
    }


def _bin_counts(t: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """For each k, the number of times in ``(grid[k-1], grid[k]]`` (``[.., grid[0]]`` for k=0)."""
    if t.size == 0:
        return np.zeros(grid.size, dtype=np.int64)
    step = grid[1] - grid[0] if grid.size > 1 else 1.0  # uniform but for a shorter last step
    k = np.clip(np.ceil(t / step).astype(np.int64), 0, grid.size - 1)
    # the division may round across a grid point: fix up to the exact comparison t <= grid[k]
    k += (t > grid[k]) & (k < grid.size - 1)
    k -= (k > 0) & (t <= grid[np.maximum(k - 1, 0)])
    return np.bincount(k[t <= grid[k]], minlength=grid.size).astype(np.int64)


def _cumulative_counts(t: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Number of times ``<= grid[k]`` for each k (without sorting ``t``)."""
    return np.cumsum(_bin_counts(t, grid)).astype(np.int64)


def summarize(posts: dict[str, np.ndarray], causes: Sequence[str] = ()) -> dict[str, Any]:
    """One summary row from the per-post columns (illegal posts only).

    ``causes``: the removal causes the policy stack can give (:func:`stack_causes`); the row
    counts the illegal posts removed for each (:func:`removed_by`; 0 for a cause not found), and
    for any other cause in the ``removal_cause`` column, so the counts add up to ``removed_posts``.
    """
    ill = posts["category"] != LEGAL
    reach = posts["reach"][ill].astype(np.float64)
    removed = ~np.isnan(posts["removal_time_h"][ill])
    lat = (posts["removal_time_h"] - posts["upload_time_h"])[ill][removed]
    # on integer counts the 50th percentile is exactly the median
    median, p95 = _percentiles(reach, (50.0, 95.0))
    return {
        "posts": int(ill.sum()),
        "reach_mean": float(reach.mean()) if reach.size else math.nan,
        "reach_median": float(median),
        "reach_p95": float(p95),
        "reach_total": int(reach.sum()),
        "views_total": int(posts["views"][ill].sum()),
        "shares_total": int(posts["shares"][ill].sum()),
        "exposure_person_hours": float(posts["exposure_person_hours"][ill].sum()),
        "removed_posts": int(removed.sum()),
        "removed_share": float(removed.mean()) if reach.size else math.nan,
        "time_to_removal_median_h": float(np.median(lat)) if lat.size else math.nan,
        "legal_posts": int((~ill).sum()),
        "legal_reach_total": int(posts["reach"][~ill].sum()),
        **removal_counts(posts["removal_cause"][ill] if "removal_cause" in posts else (), causes),
    }


def removal_counts(causes_of_posts: Any, causes: Sequence[str]) -> dict[str, int]:
    """``{removed_by(cause): posts removed for it}`` for every cause in ``causes`` (0 if none) and
    any other cause found in ``causes_of_posts`` (``None``: not removed)."""
    found: dict[str, int] = dict.fromkeys(causes, 0)
    for c in causes_of_posts:
        if c is not None:
            found[c] = found.get(c, 0) + 1
    return {removed_by(c): k for c, k in found.items()}


def _percentiles(x: np.ndarray, qs: Sequence[float]) -> list[float]:
    """``np.percentile(x, qs)`` (its default, linear method) for a 1-d float array without NaN,
    by the same arithmetic after one sort (NaN for an empty array). ``np.percentile``'s set-up
    costs 0.1-0.4 ms, as much as the rest of a small run's tables; tests compare the two."""
    if x.size == 0:
        return [math.nan] * len(qs)
    s = np.sort(x)
    n = s.size
    out = []
    for q in qs:
        v = (n - 1) * (q / 100.0)  # the virtual index, then numpy's _lerp of its two neighbours
        i = min(math.floor(v), n - 1)
        g = v - i
        a, b = float(s[i]), float(s[min(i + 1, n - 1)])
        d = b - a
        out.append(b - d * (1.0 - g) if g >= 0.5 else a + d * g)
    return out


def add_baseline(result: RunResult, base: RunResult) -> None:
    """Add the paired unmoderated run's reach and the reach prevented to ``result``.

    Posts are matched by content id: ``reach_baseline`` of an original upload is its reach in the
    unmoderated run; a re-upload (copy > 0) does not exist there, so its baseline reach is 0.
    ``legal_reach_lost_total`` is the reach that legal posts removed by moderation (wrongful
    removals) lost against the unmoderated run. ``reach_baseline_mean`` is the twin's reach per
    illegal post and ``reach_prevented_mean`` the reach prevented per illegal post of the twin
    (the campaign's uploads): with re-uploads the moderated run has more posts than its twin, and
    dividing the twin's reach by them would understate it.
    """
    result.posts["reach_baseline"] = baseline_reach(result.posts, base.posts)
    legal_removed = ((result.posts["category"] == LEGAL)
                     & ~np.isnan(result.posts["removal_time_h"]))
    lost = result.posts["reach_baseline"][legal_removed] - result.posts["reach"][legal_removed]
    result.summary["legal_reach_lost_total"] = int(lost.sum())
    b = base.summary["reach_total"]
    n = base.summary["posts"]  # the twin's illegal posts: the campaign's uploads, no re-uploads
    s = result.summary
    s["reach_baseline_total"] = b
    s["reach_prevented_total"] = b - s["reach_total"]
    # undefined (NaN) when the twin reached nobody: there was no reach to prevent
    s["reach_prevented_frac"] = (b - s["reach_total"]) / b if b > 0 else math.nan
    # per illegal post of the campaign (the twin's own mean; re-uploads of the moderated run are
    # not posts of the twin, so both figures divide by the twin's posts)
    s["reach_baseline_mean"] = base.summary["reach_mean"]
    s["reach_prevented_mean"] = (b - s["reach_total"]) / n if n else math.nan


def baseline_reach(posts: dict[str, np.ndarray], base: dict[str, np.ndarray]) -> np.ndarray:
    """Per post of ``posts``, the reach of the same content's original upload in ``base`` (the
    unmoderated twin run); 0 for re-uploads (copy > 0) and content the twin never uploaded."""
    cid, copy = posts["content_id"], posts["copy"]
    orig = base["copy"] == 0
    b_cid = base["content_id"][orig]
    size = 1 + int(max(cid.max(initial=-1), b_cid.max(initial=-1)))
    table = np.zeros(size, dtype=np.int64)
    table[b_cid] = base["reach"][orig]
    return np.where(copy == 0, table[cid], 0).astype(np.int64)
