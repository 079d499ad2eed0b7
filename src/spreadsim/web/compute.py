"""What the page shows for one setting, computed by the code the command line runs.

Every number comes from a job run by :func:`spreadsim.runs.job.run_job` (the CLI's job runner:
the exact deadline path when every policy is pre-decided, simulation otherwise) and summarized by
:func:`spreadsim.outputs.aggregate.aggregate` and :func:`spreadsim.outputs.tables.summarize_results`
(the CLI's ``summary`` table, intervals by :func:`spreadsim.outputs.stats.mean_ci`). The traced
unmoderated runs are kept per (world, seed) by :class:`spreadsim.runs.tracecache.TraceCache` (on
disk under the app's folder and in memory), so a change of a pre-decided lever (latency,
half-life, removal probability) costs a few array operations per seed. Finished points are kept
in a small memo keyed by their whole job config: a pure function's cache, shared by every tab
without sharing any tab's state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spreadsim.engine.metrics import add_baseline
from spreadsim.errors import ConfigError
from spreadsim.graphs import Graph, graph_seed
from spreadsim.graphs.memory import least_size
from spreadsim.outputs.aggregate import aggregate
from spreadsim.outputs.answer import answer, points_answer
from spreadsim.outputs.columns import Table, plain, rows_to_columns
from spreadsim.outputs.io import canonical, read_table, write_table
from spreadsim.outputs.layout import POSTS, RESULTS, SUMMARY
from spreadsim.outputs.stats import nanmean
from spreadsim.outputs.tables import (
    DEADLINE_PATH,
    NOTICE_FIGURES,
    PATH,
    PREVENTED_SHARE,
    REACH,
    REMOVED_SHARE,
    median_time_to_removal,
    removal_delays,
    summarize_results,
)
from spreadsim.runs.job import pinned_graph, run_job
from spreadsim.runs.jobspec import check_job_config
from spreadsim.runs.tracecache import WORLD_KEYS, TraceCache
from spreadsim.schema.config import SimConfig, policy_stack
from spreadsim.schema.graphs import EdgeList, parse_graph
from spreadsim.schema.model import LEGAL
from spreadsim.schema.policies import parse_policy
from spreadsim.web.controls import (
    LATENCY_GRID_H,
    LEVERS,
    control_key,
    finite_or_none,
    job_config,
    short_repr,
)
from spreadsim.web.text import command_line, experiment_yaml, stack_words

__all__ = ["Limits", "Evaluator", "TTR_EDGES_H", "error_payload", "data_error_payload"]

#: the upper ends of the time-to-removal histogram's bins (hours from upload to removal): a delay
#: d falls in the first bin whose end is >= d (the first bin holds the removals at upload)
TTR_EDGES_H = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 12.0, 24.0, 48.0, 96.0, 168.0, math.inf)
#: delays are rounded to this many decimals of an hour before binning: a removal time is a float
#: sum of the upload time and a latency, so a 24 h deadline may give 23.999999999999996 h
TTR_DECIMALS = 6


@dataclass(frozen=True)
class Limits:
    """What the page runs interactively; bigger worlds are refused with a message that points
    to the command line."""

    users: int = 200_000
    edges: float = 2_000_000
    #: an edge list's size on disk (MB)
    edgelist_mb: float = 64.0
    #: what a compressed edge list may unpack to (MB): the page caps ``graph.max_unpacked_mb`` here
    unpacked_mb: int = 256
    posts: int = 2_000
    seeds: int = 100


@dataclass
class Point:
    """One finished job as the page reads it: its ``results`` and ``summary`` tables (the CLI's)
    and what the figures need from its ``runs`` and ``posts`` tables."""

    results: Table
    summary: Table
    ttr: dict[str, Any]
    #: median time from upload to removal of the removed illegal posts of every seed pooled
    #: (:func:`~spreadsim.outputs.tables.median_time_to_removal`, the categories table's)
    ttr_median_h: float

    def row(self) -> dict[str, Any]:
        """The summary's one row."""
        return {k: plain(v[0]) for k, v in self.summary.items()}


def _file_stamp(cfg: Mapping[str, Any]) -> str | None:
    """An edge-list world's file identity (device, inode, size, modification time) as a short
    hash; None for a generated graph."""
    graph = cfg.get("graph") or {}
    if graph.get("kind") != "edgelist":
        return None
    try:
        st = os.stat(graph["path"])
    except (OSError, KeyError, TypeError, ValueError):
        return None
    text = json.dumps([str(graph["path"]), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _ttr(posts: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The time-to-removal histogram of the illegal posts of every seed: the share of the posts
    removed within each bin of :data:`TTR_EDGES_H` (``(previous end, end]``), and the share never
    removed."""
    n = int((np.asarray(posts["category"]) != LEGAL).sum())
    removed = np.round(removal_delays(posts), TTR_DECIMALS)
    counts = np.bincount(np.searchsorted(np.asarray(TTR_EDGES_H), removed, side="left"),
                         minlength=len(TTR_EDGES_H))
    return {"ends": list(TTR_EDGES_H), "share": (counts / max(n, 1)).tolist(),
            "never": float((n - removed.size) / n) if n else math.nan, "posts": n}


def _queue(row: Mapping[str, Any]) -> dict[str, list[float]] | None:
    """The queue's figures from the summary row (None without a notice queue): the shares of
    notices reviewed within 24 h and removed, with their 95% intervals, and the share of the
    illegal posts removed."""
    out = {stem: [row[f"{stem}_mean"], row[f"{stem}_ci_low"], row[f"{stem}_ci_high"]]
           for stem in NOTICE_FIGURES.values() if f"{stem}_mean" in row}
    if not out:
        return None
    out["removed_share"] = [row[REMOVED_SHARE], math.nan, math.nan]
    return out


class Evaluator:
    """Runs the page's points in one folder it owns (traces and scratch job folders).

    Not thread-safe: the server calls it from one worker thread.

    Parameters
    ----------
    root : path-like, optional
        The folder for the trace cache and the scratch job folders; a temporary folder (removed
        by :meth:`close`) if omitted.
    limits : Limits
        What is run interactively.
    memo_size : int
        Finished points kept in memory.
    data_dir : path-like, optional
        The only folder edge lists are read from (relative paths are read in it); the current
        folder if omitted. A path that leads outside it (``..``, an absolute path, a symbolic
        link) is refused before anything opens it.
    """

    def __init__(self, root: str | Path | None = None, limits: Limits = Limits(),
                 memo_size: int = 256, data_dir: str | Path | None = None) -> None:
        self.data_dir = Path.cwd().resolve() if data_dir is None else Path(data_dir).resolve()
        self._own = root is None
        self.root = Path(tempfile.mkdtemp(prefix="spreadsim-app-")) if root is None else Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.traces = self.root / "traces"
        self.limits = limits
        self._memo: OrderedDict[str, Point] = OrderedDict()
        self._memo_size = memo_size
        self._curves: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def close(self) -> None:
        """Remove the folder if this evaluator made it."""
        if self._own:
            shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------------------ checks

    def check(self, settings: Any) -> tuple[dict[str, Any], list[str], SimConfig]:
        """The job config of ``settings``, checked by the schema (as the command line checks
        it) and against the interactive limits; the names of its policies; its world.

        Raises
        ------
        ConfigError
            The schema's one-line message, or why the world is too large for the page.
        """
        cfg, names = job_config(settings)
        lim = self.limits
        if cfg["graph"].get("kind") == "edgelist":
            cfg["graph"] = self._confined(cfg["graph"])
        spec = check_job_config(cfg)
        assert spec.sim is not None
        section = parse_graph(spec.sim.graph)
        size = least_size(section)
        too_big = "too large for the interactive page ({}); run it with the command line instead"
        if isinstance(section, EdgeList):
            mb = Path(section.path).stat().st_size / 2**20
            if mb > lim.edgelist_mb:
                raise ConfigError("graph.path", section.path, too_big.format(
                    f"a {mb:.0f} MB edge list; at most {lim.edgelist_mb:g} MB here"))
        elif size is not None:
            key, value, users, edges, _ = size
            if users > lim.users or edges > lim.edges:
                raise ConfigError(f"graph.{key}", value, too_big.format(
                    f"{users:.4g} users, about {edges:.3g} edges; at most {lim.users} users and "
                    f"{lim.edges:.3g} edges here"))
        sc = spec.sim.scenario
        if sc.illegal_posts + sc.legal_posts > lim.posts:
            raise ConfigError("scenario.illegal_posts", sc.illegal_posts, too_big.format(
                f"{sc.illegal_posts + sc.legal_posts} posts with the legal ones; at most "
                f"{lim.posts} here"))
        if len(spec.seeds) > lim.seeds:
            raise ConfigError("seeds", len(spec.seeds), too_big.format(f"at most {lim.seeds} seeds here"))
        return cfg, names, spec.sim

    def _confined(self, graph: Mapping[str, Any]) -> dict[str, Any]:
        """An edge-list graph section with its path inside :attr:`data_dir` (made absolute) and
        its unpacked size capped at the page's limit; a path outside the folder is refused
        before anything opens it.

        Raises
        ------
        ConfigError
            The path leads outside the data folder.
        """
        out = dict(graph)
        path = graph.get("path")
        if isinstance(path, str) and path:  # (anything else: the schema's message)
            full = (self.data_dir / Path(path).expanduser()).resolve()
            if not full.is_relative_to(self.data_dir):
                raise ConfigError("graph.path", path, f"must be a file in the page's data folder "
                                                      f"{self.data_dir} (spreadsim app --data-dir)")
            out["path"] = str(full)
        cap = self.limits.unpacked_mb
        mb = graph.get("max_unpacked_mb")
        if mb is None or (isinstance(mb, int | float) and not isinstance(mb, bool) and mb > cap):
            out["max_unpacked_mb"] = cap
        return out

    # ------------------------------------------------------------------------------ points

    def _trace_dir(self, cfg: Mapping[str, Any]) -> Path:
        """The trace cache's folder: one per state of an edge-list file (an edited file is a new
        world), else one for every generated world."""
        stamp = _file_stamp(cfg)
        return self.traces if stamp is None else self.traces / "files" / stamp

    def point(self, cfg: Mapping[str, Any]) -> Point:
        """One job of ``cfg`` run by :func:`run_job` into a scratch folder (removed after), its
        tables summarized as the command line does; memoized by the whole config."""
        key = json.dumps([canonical(cfg), _file_stamp(cfg)], sort_keys=True)
        hit = self._memo.get(key)
        if hit is not None:
            self._memo.move_to_end(key)
            return hit
        tmp = Path(tempfile.mkdtemp(prefix="job-", dir=self.root))
        try:
            run_job(cfg, tmp, cache_dir=self._trace_dir(cfg), skip_done=False)
            results, params = aggregate([tmp])
            summary = summarize_results(results, params)
            posts = read_table(tmp / POSTS)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        p = Point(results, summary, _ttr(posts), median_time_to_removal(removal_delays(posts)))
        self._memo[key] = p
        while len(self._memo) > self._memo_size:
            self._memo.popitem(last=False)
        return p

    @staticmethod
    def sentence(point: Point, cfg: Mapping[str, Any], words: str) -> str:
        """The answer in words, as the command line states it (:mod:`spreadsim.outputs.answer`):
        reach per illegal post against the unmoderated twin and, with a notice queue, the
        shares of notices reviewed within 24 h and removed; ``words`` is the setting
        (:func:`~spreadsim.web.text.stack_words`)."""
        label = [words]
        reach = points_answer(point.summary, label, point.results).sentence
        said = answer(point.summary, [], cfg, results=point.results, labels=label)
        return reach if said.kind == "points" else f"{reach} {said.sentence}"

    def csv(self, point: Point) -> dict[str, str]:
        """The point's ``results`` and ``summary`` tables as the CSV text the command line writes
        (:func:`spreadsim.outputs.io.write_table`)."""
        tmp = Path(tempfile.mkdtemp(prefix="csv-", dir=self.root))
        try:
            write_table(point.results, tmp / RESULTS)
            write_table(point.summary, tmp / SUMMARY)
            return {"results": (tmp / f"{RESULTS}.csv").read_text(),
                    "summary": (tmp / f"{SUMMARY}.csv").read_text()}
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def curve(self, cfg: Mapping[str, Any], names: list[str], sim: SimConfig) -> dict[str, Any]:
        """Reach and the share of reach prevented against removal latency (or half-life), with
        95% intervals over seeds: one point per stop of the latency grid, read off each seed's
        traced unmoderated run (:meth:`DeadlineTrace.result`, exact) and summarized by
        :func:`summarize_results`; ``baseline`` is the unmoderated runs' mean reach per illegal
        post (the dashed line).

        With a pre-decided policy first in the stack and nothing else, the curve moves its
        lever; otherwise it is the reference: that policy alone (or every post removed at a
        fixed latency, when there is none), and the page marks the setting at its lever value
        (or at its median time to removal)."""
        deadline = names[0] if names and names[0] in LEVERS else None
        pure = deadline is not None and len(names) == 1
        ref = {"name": "fixed_latency"} if deadline is None else dict(cfg["policy"][0])
        lever = LEVERS[ref["name"]]
        lo_open = lever == "half_life_h"  # (the schema's range: a half-life is > 0 and finite)
        grid = [x for x in LATENCY_GRID_H if not (lo_open and (x == 0 or math.isinf(x)))
                and (math.isinf(x) or x <= sim.scenario.horizon_h)]
        key = json.dumps(canonical({"world": {k: cfg.get(k) for k in WORLD_KEYS}, "file": _file_stamp(cfg),
                                    "seed": cfg["seed"], "seeds": cfg["seeds"],
                                    "ref": {k: v for k, v in ref.items() if k != lever}}),
                         sort_keys=True)
        hit = self._curves.get(key)
        if hit is None:
            hit = self._curve(cfg, sim, ref, lever, grid)
            self._curves[key] = hit
            while len(self._curves) > self._memo_size // 8:
                self._curves.popitem(last=False)
        self._curves.move_to_end(key)
        return {**hit, "lever": f"{ref['name']}.{lever}", "reference": not pure}

    def _curve(self, cfg: Mapping[str, Any], sim: SimConfig, ref: Mapping[str, Any], lever: str,
               grid: list[float]) -> dict[str, Any]:
        pinned = sim.graph.get("seed") is not None

        def graph_for(seed: int) -> Graph | None:  # (as run_job builds it: pinned graphs once)
            return pinned_graph(sim.graph, graph_seed(sim.graph, seed)) if pinned else None

        cache = TraceCache(self._trace_dir(cfg), cfg, sim, graph_for)
        unmoderated = dataclasses.replace(sim, policies=())
        seeds = range(int(cfg["seed"]), int(cfg["seed"]) + int(cfg["seeds"]))
        traces = [cache.get(s) for s in seeds]
        bases = [cache.unmoderated(t, unmoderated) for t in traces if t is not None]
        rows = []
        for j, x in enumerate(grid):
            point = dataclasses.replace(sim, policies=policy_stack("policy", [{**ref, lever: x}]))
            for s, t, b in zip(seeds, traces, bases, strict=True):
                assert t is not None
                r = t.result(point)
                add_baseline(r, b)
                rows.append({"job": j, "seed": s, **r.summary, PATH: DEADLINE_PATH})
        summary = summarize_results(rows_to_columns(rows), [])
        return {"x": grid, "baseline": nanmean([b.summary["reach_mean"] for b in bases]),
                "reach": [list(v) for v in zip(*(summary[c].tolist() for c in REACH), strict=True)],
                "prevented": [list(v) for v in zip(*(summary[c].tolist() for c in PREVENTED_SHARE),
                                                   strict=True)]}

    # ------------------------------------------------------------------------------ the page

    def evaluate(self, settings: Any, *, downloads: bool = True) -> dict[str, Any]:
        """Everything the page shows for ``settings`` (JSON-ready: NaN as null, infinities as
        ``"inf"``).

        Raises
        ------
        ConfigError, DataError
            Bad input (the schema's one-line message) or a world too large for the page.
        """
        tic = time.perf_counter()
        cfg, names, sim = self.check(settings)
        current = self.point(cfg)
        curve = self.curve(cfg, names, sim)
        row = current.row()
        lever = curve["lever"]
        # the checked policies (a latency sent as "1e1" is the 10 h the engine runs)
        policies = [parse_policy(p, f"policy[{i}]") for i, p in enumerate(sim.policies)]
        if names and names[0] in LEVERS:
            x, how = float(getattr(policies[0], lever.split(".", 1)[1])), "lever"
        else:  # (no removal in any seed: never)
            x, how = current.ttr_median_h, "median time to removal"
            x = math.inf if math.isnan(x) else x
        words = stack_words(policies)
        out: dict[str, Any] = {
            "summary": row, "names": names,
            "stack": words,
            "curve": curve,
            "marker": {"x": x, "how": how,
                       "reach": [row[c] for c in REACH],
                       "prevented": [row[c] for c in PREVENTED_SHARE]},
            "queue": _queue(row), "ttr": current.ttr,
            "sentence": self.sentence(current, cfg, words),
            "path": row.get(PATH),
        }
        if downloads:
            out["command"] = command_line()
            out["yaml"] = experiment_yaml(cfg)
            out["csv"] = self.csv(current)
        out["seconds"] = time.perf_counter() - tic
        return finite_or_none(out)


#: the longest one-line message the page shows
MAX_MESSAGE_CHARS = 300


def one_line(text: str) -> str:
    """A message's first line, at most :data:`MAX_MESSAGE_CHARS` characters."""
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= MAX_MESSAGE_CHARS else line[:MAX_MESSAGE_CHARS - 3] + "..."


def error_payload(e: ConfigError, settings: Any) -> dict[str, Any]:
    """A bad setting as the page shows it: the one-line message (the value's repr shortened,
    :func:`~spreadsim.web.controls.short_repr`) and the control it belongs to."""
    try:
        _, names = job_config(settings)
    except ConfigError:
        names = []
    return {"error": one_line(f"{e.field} = {short_repr(e.value)}: {e.allowed}"), "field": e.field,
            "control": control_key(e.field, names)}


def data_error_payload(e: Exception) -> dict[str, Any]:
    """An unreadable edge list as the page shows it: the field and a short reason, never a line
    of the file (the reader's ``got '...'``), so the page cannot display a file's contents."""
    reason = re.sub(r",? got '.*$", "", str(e).splitlines()[0] if str(e) else type(e).__name__)
    return {"error": one_line(f"graph.path: {reason}"), "field": "graph.path", "control": "graph.path"}
