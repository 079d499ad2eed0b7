"""Sweeps: run one job (one sweep point, many paired seeds), aggregate many jobs into tables.

Two layers:

* a Hydra-free core that works on plain dicts and folders: :func:`check_job_config`,
  :func:`run_job`, :func:`aggregate`, :func:`summarize_results`, :func:`write_sweep_outputs`,
  :func:`format_summary`;
* a thin Hydra layer: :func:`hydra_job` (the task function body of the ``spreadsim`` app) and
  :class:`AggregateCallback` (validates the whole sweep before any job starts, aggregates at the
  end).

One job folder holds ``job.json`` (its overrides, swept values and the resolved config), the
``runs`` table (one row per seed), ``posts`` (per post per seed) and ``series`` (reach over time
per seed), each as Parquet + CSV, and a ``done`` marker written last. A sweep folder holds the
job folders plus ``results`` (one row per job x seed, the overrides as columns), ``summary``
(one row per sweep point) and ``reach_vs_latency.png``.

Seeds are paired: every sweep point runs the seeds ``seed, seed + 1, ..., seed + seeds - 1``,
so differences between points are the policy's, not noise (common random numbers).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spreadsim.engine.metrics import add_baseline
from spreadsim.engine.records import RunResult
from spreadsim.engine.simulation import graph_seed
from spreadsim.errors import ConfigError, DataError
from spreadsim.graphs.build import Graph, build_graph, check_graph_config
from spreadsim.outputs.io import atomic_write_bytes, read_table, write_table
from spreadsim.outputs.io import canonical as _canonical
from spreadsim.policies import check_stack, make_policies
from spreadsim.runs.deadline import DeadlineTrace, deadline_path_reason
from spreadsim.runs.platforms import MultiConfig, simulate_platforms
from spreadsim.runs.single import simulate
from spreadsim.runs.tracecache import TraceCache
from spreadsim.schema.config import SimConfig
from spreadsim.schema.fields import describe, parse
from spreadsim.schema.model import CalibrationSettings, RunSettings
from spreadsim.version import __version__

log = logging.getLogger(__name__)

#: the run settings of a job (schema.model.RunSettings)
RUN_KEYS = tuple(info.name for info in describe(RunSettings))
TOP_KEYS = ("graph", "spread", "scenario", "policy", *RUN_KEYS, "max_events", "calibration",
            "platforms", "cross_posting", "hash_sharing")
# the keys of a multi-platform run (spreadsim.runs.platforms), used instead of graph/policy
MULTI_KEYS = ("platforms", "spread", "scenario", "cross_posting", "hash_sharing", "max_events")
SIM_KEYS = ("graph", "spread", "scenario", "policy", "max_events")
# keys that change how results are shown, not what they are: left out of the job hash
PRESENTATION_KEYS = ("plots",)
DONE = "done"
JOB_FILE = "job.json"
JOB_TABLES = ("runs", "posts", "series")
SWEEP_TABLES = ("results", "summary", "categories")
SWEEP_FILE = ".sweep.json"
CACHE_DIR = ".cache"
PLOT_FILE = "reach_vs_latency.png"
REPORT_FILE = "report.html"
PROGRESS_EVERY_S = 10.0  # at most one per-seed progress line per job this often

__all__ = ["JobSpec", "JobError", "InvalidConfig", "check_job_config", "config_hash", "run_job",
           "aggregate", "summarize_results", "write_sweep_outputs", "format_summary",
           "remove_if_only_hydra"]


class JobError(ValueError):
    """A job failed on bad input; a plain one-line message that survives pickling between
    processes (unlike :class:`~spreadsim.errors.ConfigError`, whose constructor takes 3 fields)."""


class InvalidConfig(BaseException):  # noqa: N818 - not an Exception on purpose
    """Bad input found by :class:`AggregateCallback` before any job started.

    Hydra 1.3 turns an ``Exception`` raised in a callback into a warning and carries on, so the
    callback raises this ``BaseException`` instead; the ``spreadsim`` command catches it and prints
    its one-line message.
    """


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class JobSpec:
    """A validated job: the simulation config, the paired seeds and whether to run baselines."""

    sim: SimConfig | None
    seeds: tuple[int, ...]
    baseline: bool
    deadline_path: str = "auto"
    multi: MultiConfig | None = None  # several platforms (spreadsim.runs.platforms) instead of ``sim``
    calibration: CalibrationSettings | None = None  # an SLA calibration job


def check_job_config(cfg: Mapping[str, Any]) -> JobSpec:
    """Validate a whole job config (the composed app config as plain containers).

    Parameters
    ----------
    cfg : Mapping
        The world (``graph``, ``spread``, ``scenario``, ``policy``, ``max_events``, as for
        :meth:`SimConfig.from_dict`; or ``platforms`` with ``cross_posting``/``hash_sharing`` for
        several platforms), the run settings (:class:`~spreadsim.schema.model.RunSettings`:
        ``seed``, ``seeds``, ``baseline``, ``deadline_path``, ``plots``) and ``calibration``
        (:class:`~spreadsim.schema.model.Calibration`, or null). A key left out takes the schema's
        default.

    Returns
    -------
    JobSpec

    Raises
    ------
    ConfigError
        One line naming the first bad field, its value and what is allowed.
    """
    if not isinstance(cfg, Mapping):
        raise ConfigError("config", cfg, "must be a mapping")
    for k in cfg:
        if k not in TOP_KEYS:
            raise ConfigError(str(k), cfg[k], f"unknown key; allowed: {', '.join(TOP_KEYS)}")
    run = parse(RunSettings, {k: cfg[k] for k in RUN_KEYS if k in cfg}, "")
    seeds = tuple(range(run.seed, run.seed + run.seeds))
    if cfg.get("platforms") is not None:
        for k in ("graph", "policy", "calibration"):
            if cfg.get(k) is not None:
                raise ConfigError(k, cfg[k], "not used with platforms: each platform has its own "
                                  "graph and policy (set it to null)")
        if run.baseline:
            raise ConfigError("baseline", run.baseline, "must be false for a multi-platform run "
                              "(there is no paired unmoderated twin yet)")
        multi = MultiConfig.from_dict({k: cfg[k] for k in MULTI_KEYS if cfg.get(k) is not None})
        return JobSpec(None, seeds, False, "off", multi)
    for k in ("cross_posting", "hash_sharing"):
        if cfg.get(k) is not None:
            raise ConfigError(k, cfg[k], "only used with platforms (a multi-platform run)")
    sim = SimConfig.from_dict({k: cfg[k] for k in SIM_KEYS if k in cfg})
    n_users = check_graph_config(sim.graph)  # every parameter, without building the graph
    if n_users is not None and sim.scenario.uploaders > n_users:  # (as the engine checks it)
        raise ConfigError("scenario.uploaders", sim.scenario.uploaders,
                          f"must be <= the number of users ({n_users})")
    check_stack(make_policies(sim.policies))
    calibration = None
    if cfg.get("calibration") is not None:
        calibration = check_calibration(cfg)
        if run.seeds < 2:
            raise ConfigError("seeds", run.seeds, "must be at least 2 for a calibration (for an interval)")
    return JobSpec(sim, seeds, run.baseline, run.deadline_path, None, calibration)


def _lookup(cfg: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted path (list items by index); KeyError if a part is missing."""
    node: Any = cfg
    for part in dotted.split("."):
        if isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            raise KeyError(part)
    return node


def calibration_kind(cfg: Mapping[str, Any]) -> str:
    """``latency`` (continuous lever: its name ends in ``_h`` or its value is a float) or ``count``
    (an integer lever such as ``policy.moderators``)."""
    lever = str(cfg["calibration"]["lever"])
    value = _lookup(cfg, lever)
    if lever.endswith("_h") or not isinstance(value, int) or isinstance(value, bool):
        return "latency"
    return "count"


def check_calibration(cfg: Mapping[str, Any]) -> CalibrationSettings:
    """Validate the ``calibration`` block of an SLA calibration config against the job it moves:
    the lever must name a number of the policy, and the ends of the search must be values the
    lever may take.

    Raises
    ------
    ConfigError
    """
    cal = parse(CalibrationSettings, cfg["calibration"], "calibration")
    try:
        value = _lookup(cfg, cal.lever)
    except KeyError:
        raise ConfigError("calibration.lever", cal.lever, "no such key in the composed config") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError("calibration.lever", cal.lever, f"must name a number (it holds {value!r})")
    if calibration_kind(cfg) == "latency":
        ends: dict[str, float] = {"max": cal.latency_max()}
    else:
        lo, hi = cal.count_range()
        ends = {"min": lo, "max": hi}
    # the ends of the search must be values the lever may take
    for end, v in ends.items():
        trial = copy.deepcopy({k: x for k, x in cfg.items() if k != "calibration"})
        set_dotted(trial, cal.lever, v)
        try:
            check_job_config(trial)
        except ConfigError as e:
            raise ConfigError(f"calibration.{end}", v, f"not a value {cal.lever} may take: "
                              f"{e.allowed}") from None
    return cal


def config_hash(cfg: Mapping[str, Any]) -> str:
    """Stable hash of a job config (and the spreadsim version), to recognise finished jobs.

    Parameters
    ----------
    cfg : Mapping
        The job config as plain containers.

    Returns
    -------
    str
        Hex SHA-256 of the canonical JSON.
    """
    kept = {k: v for k, v in cfg.items() if k not in PRESENTATION_KEYS}
    text = json.dumps({"config": _canonical(kept), "version": __version__}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- one job


_PINNED: dict[str, Graph] = {}  # the last pinned graph built in this process (one entry)


def _graph_key(cfg: Mapping[str, Any], seed: int) -> str:
    """What identifies a built graph: its config, its seed and, for an edge list, the file's
    identity (device, inode, size, modification time), so an edited file is read again."""
    stamp = None
    path = cfg.get("path")
    if cfg.get("kind") == "edgelist" and isinstance(path, str | os.PathLike):
        try:
            st = os.stat(path)
            stamp = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]
        except (OSError, ValueError):
            stamp = None  # build_graph raises the one-line error
    return json.dumps([_canonical(dict(cfg)), int(seed), stamp], sort_keys=True)


def pinned_graph(cfg: Mapping[str, Any], seed: int) -> Graph:
    """:func:`~spreadsim.graphs.build.build_graph` once per process for a pinned graph.

    Every seed of a job, and every job of a sweep that a worker process runs, uses the same
    pinned graph (``graph.seed`` set), so it is built once and kept (only the last one, to bound
    memory) instead of once per job. Graphs are immutable, so sharing one cannot change results
    (tested: byte-identical tables).

    Parameters
    ----------
    cfg : Mapping
        The graph config (plain containers).
    seed : int
        The graph seed.

    Returns
    -------
    Graph
        The same object for the same config, seed and (edge list) file.
    """
    key = _graph_key(cfg, seed)
    g = _PINNED.get(key)
    if g is None:
        g = build_graph(cfg, seed)
        _PINNED.clear()
        _PINNED[key] = g
    return g


def _job_is_done(out: Path, digest: str) -> bool:
    marker = out / DONE
    if not marker.is_file() or marker.read_text().strip() != digest:
        return False
    return all((out / f"{t}.parquet").is_file() for t in JOB_TABLES)


def run_job(cfg: Mapping[str, Any], out_dir: str | os.PathLike[str], *,
            params: Mapping[str, Any] | None = None, overrides: Sequence[str] = (),
            job_num: int = 0, skip_done: bool = True,
            cache_dir: str | os.PathLike[str] | None = None,
            sweep_dir: str | os.PathLike[str] | None = None) -> bool:
    """Run every seed of one job and write its tables into ``out_dir``.

    When the job's policies are pure deadlines in ``cascade`` semantics
    (:func:`~spreadsim.runs.deadline.deadline_path_reason` is None) and ``deadline_path`` is ``auto``,
    no seed is simulated with its policy: each seed's traced unmoderated run
    (:class:`~spreadsim.runs.deadline.DeadlineTrace`, shared with the sweep's other jobs through
    ``cache_dir``) gives the exact result and is itself the paired baseline. Otherwise every seed
    is simulated (with its unmoderated twin if ``baseline``). The ``runs`` table's ``path`` column
    says which (``deadline`` or ``simulated``).

    Parameters
    ----------
    cfg : Mapping
        The job config as plain containers (see :func:`check_job_config`).
    out_dir : path-like
        The job folder (created if missing).
    params : Mapping, optional
        The job's parameter values (override key -> value), recorded in ``job.json`` and turned
        into columns by :func:`aggregate`.
    overrides : sequence of str
        The job's command-line overrides, recorded as they were given.
    job_num : int
        The job's number within its sweep (orders the rows of the aggregated tables).
    skip_done : bool
        Skip the job if ``out_dir`` already holds a finished job with an identical config.
    cache_dir : path-like, optional
        Folder of the traces shared by a sweep's jobs (``<sweep dir>/.cache``); None: in memory.
    sweep_dir : path-like, optional
        The sweep folder, for progress lines (jobs finished, elapsed, ETA).

    Returns
    -------
    bool
        True if the job ran, False if it was skipped as already done.

    Raises
    ------
    ConfigError, DataError
        Bad input; nothing is written but ``job.json`` is never created either.
    """
    spec = check_job_config(cfg)
    out = Path(out_dir)
    digest = config_hash(cfg)
    if skip_done and _job_is_done(out, digest):
        log.info("job %d: already done in %s, skipped", job_num, out)
        return False
    tic = time.perf_counter()

    def graph_for(seed: int) -> Graph | None:
        assert spec.sim is not None
        if spec.sim.graph.get("seed") is None:  # derived from each run seed: the engine builds it
            return None
        return pinned_graph(spec.sim.graph, graph_seed(spec.sim.graph, seed))

    if spec.multi is not None:
        return _run_multi_job(spec, cfg, out, digest, params, overrides, job_num, sweep_dir, tic)
    assert spec.sim is not None
    why = (deadline_path_reason(spec.sim) if spec.deadline_path == "auto"
           else "deadline_path is off")
    path = "deadline" if why is None else "simulated"
    log.info("job %d: %d seeds, %s path%s", job_num, len(spec.seeds), path,
             "" if why is None else f" ({why})")
    done: dict[int, RunResult] = {}
    ticker = _SeedTicker(job_num, len(spec.seeds))
    if path == "deadline":
        cache = TraceCache(cache_dir, cfg, spec.sim, graph_for)
        unmoderated = dataclasses.replace(spec.sim, policies=())
        deferred = []
        for s in spec.seeds:  # seeds another job is tracing right now are left for later
            trace = cache.get(s, blocking=False)
            if trace is None:
                deferred.append(s)
                continue
            done[s] = _deadline_result(trace, spec, cache, unmoderated)
            ticker.tick(len(done))
        for s in deferred:
            trace = cache.get(s)
            assert trace is not None
            done[s] = _deadline_result(trace, spec, cache, unmoderated)
            ticker.tick(len(done))
        log.info("job %d: traces: %d computed, %d loaded from the sweep cache", job_num,
                 cache.computed, cache.loaded)
    else:
        for s in spec.seeds:
            done[s] = simulate(spec.sim, s, graph=graph_for(s), baseline=spec.baseline)
            ticker.tick(len(done))
    return _write_job(spec, cfg, out, digest, params, overrides, job_num, sweep_dir, tic, path,
                      done)


def _run_multi_job(spec: JobSpec, cfg: Mapping[str, Any], out: Path, digest: str,
                   params: Mapping[str, Any] | None, overrides: Sequence[str], job_num: int,
                   sweep_dir: str | os.PathLike[str] | None, tic: float) -> bool:
    """A job of several platforms: every seed simulated with :func:`simulate_platforms`; the
    tables carry a ``platform`` column (the summary row: totals and ``<platform>.<key>``)."""
    assert spec.multi is not None
    log.info("job %d: %d seeds, %d platforms", job_num, len(spec.seeds), len(spec.multi.platforms))
    done: dict[int, Any] = {}
    ticker = _SeedTicker(job_num, len(spec.seeds))
    for s in spec.seeds:
        mr = simulate_platforms(spec.multi, s)
        series = [{"platform": np.full(len(r.series["time_h"]), name, dtype=object), **r.series}
                  for name, r in mr.platforms.items()]
        done[s] = RunResult(s, mr.posts, _concat(series), dict(mr.summary))
        ticker.tick(len(done))
    return _write_job(spec, cfg, out, digest, params, overrides, job_num, sweep_dir, tic,
                      "simulated", done)


def _write_job(spec: JobSpec, cfg: Mapping[str, Any], out: Path, digest: str,
               params: Mapping[str, Any] | None, overrides: Sequence[str], job_num: int,
               sweep_dir: str | os.PathLike[str] | None, tic: float, path: str,
               done: Mapping[int, RunResult]) -> bool:
    """Write one job's tables (runs, posts, series), its ``job.json`` and its done marker."""
    runs: list[dict[str, Any]] = []
    posts: list[dict[str, np.ndarray]] = []
    series: list[dict[str, np.ndarray]] = []
    for s in spec.seeds:
        r = done[s]
        row = {"seed": s, **r.summary}
        if spec.baseline:
            p = r.summary["posts"]
            row["reach_baseline_mean"] = r.summary["reach_baseline_total"] / p if p else math.nan
            row["reach_prevented_mean"] = row["reach_baseline_mean"] - r.summary["reach_mean"]
        row["path"] = path
        runs.append(row)
        n_posts = len(next(iter(r.posts.values()))) if r.posts else 0
        posts.append({"seed": np.full(n_posts, s, dtype=np.int64), **r.posts})
        n_t = len(r.series["time_h"])
        series.append({"seed": np.full(n_t, s, dtype=np.int64), **r.series})
    out.mkdir(parents=True, exist_ok=True)
    (out / DONE).unlink(missing_ok=True)
    job = {"job_num": int(job_num), "overrides": list(overrides),
           "params": _canonical(dict(params or {})), "config": _canonical(cfg),
           "config_hash": digest, "version": __version__}
    atomic_write_bytes(out / JOB_FILE, (json.dumps(job, indent=2, sort_keys=False) + "\n").encode())
    write_table(_rows_to_columns(runs), out / "runs")
    write_table(_concat(posts), out / "posts")
    write_table(_concat(series), out / "series")
    atomic_write_bytes(out / DONE, (digest + "\n").encode())
    elapsed = time.perf_counter() - tic
    log.info("job %d done: %d seeds, %s path, %.2f s -> %s", job_num, len(spec.seeds), path,
             elapsed, out)
    if sweep_dir is not None:
        log.info("progress: %s", sweep_progress(sweep_dir))
    return True


def _deadline_result(trace: DeadlineTrace, spec: JobSpec, cache: TraceCache,
                     unmoderated: SimConfig) -> RunResult:
    """One seed's result from its traced unmoderated run (the trace is also the baseline)."""
    assert spec.sim is not None
    result = trace.result(spec.sim)
    if spec.baseline:
        add_baseline(result, cache.unmoderated(trace, unmoderated))
    return result


class _SeedTicker:
    """Per-seed progress of one job: a log line at most every ``PROGRESS_EVERY_S`` seconds."""

    def __init__(self, job_num: int, n: int) -> None:
        self.job_num, self.n = job_num, n
        self.start = self.last = time.perf_counter()

    def tick(self, k: int) -> None:
        now = time.perf_counter()
        if now - self.last >= PROGRESS_EVERY_S and k < self.n:
            self.last = now
            eta = (now - self.start) / k * (self.n - k)
            log.info("job %d: seed %d/%d, elapsed %s, ETA %s", self.job_num, k, self.n,
                     _hms(now - self.start), _hms(eta))


def _hms(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def sweep_progress(sweep_dir: str | os.PathLike[str]) -> str:
    """A one-line progress report of a running sweep, from its job folders' ``done`` markers.

    Parameters
    ----------
    sweep_dir : path-like
        The sweep folder (with the ``.sweep.json`` written when the sweep started).

    Returns
    -------
    str
        ``k/N jobs finished, elapsed h:mm:ss, ETA h:mm:ss`` (ETA from the jobs finished since the
        sweep (re)started; jobs skipped as already done count as finished but not for the rate).
    """
    d = Path(sweep_dir)
    try:
        info = json.loads((d / SWEEP_FILE).read_text())
    except (OSError, ValueError):
        info = {}
    start = float(info.get("start_time", math.nan))
    total = info.get("jobs")
    finished = fresh = 0
    for job in d.iterdir() if d.is_dir() else ():
        marker = job / DONE
        if job.is_dir() and marker.is_file():
            finished += 1
            if math.isfinite(start) and marker.stat().st_mtime >= start:
                fresh += 1
    now = time.time()
    elapsed = now - start if math.isfinite(start) else None
    eta = None
    if elapsed is not None and fresh and total:
        eta = elapsed / fresh * max(0, int(total) - finished)
    n = "?" if total is None else str(total)
    return f"{finished}/{n} jobs finished, elapsed {_hms(elapsed)}, ETA {_hms(eta)}"


def _column(values: list[Any]) -> np.ndarray:
    """One column from row values: numbers (None -> NaN) or strings."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool | np.bool_) for v in present):
        if len(present) == len(values):
            return np.array(values, dtype=bool)
        return np.array(values, dtype=object)
    if present and all(isinstance(v, int | np.integer) and not isinstance(v, bool)
                       for v in present) and len(present) == len(values):
        return np.array(values, dtype=np.int64)
    if all(isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
           for v in present):
        return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
    return np.array([None if v is None else str(v) for v in values], dtype=object)


def _rows_to_columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    keys: list[str] = []
    for r in rows:
        keys.extend(k for k in r if k not in keys)
    return {k: _column([r.get(k) for r in rows]) for k in keys}


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    keys: list[str] = []
    for p in parts:
        keys.extend(k for k in p if k not in keys)
    out = {}
    for k in keys:
        arrs = [p[k] for p in parts if k in p]
        out[k] = np.concatenate(arrs) if arrs else np.zeros(0)
    return out


# --------------------------------------------------------------------------- aggregation


def find_job_dirs(sweep_dir: str | os.PathLike[str], limit: int | None = None) -> list[Path]:
    """The finished job folders of a sweep folder, in job order.

    Parameters
    ----------
    sweep_dir : path-like
        A sweep folder (its job folders are its subfolders holding a ``done`` marker).
    limit : int, optional
        Keep only jobs numbered below ``limit`` (ignores stale folders of an earlier, larger sweep).

    Returns
    -------
    list of Path
    """
    found = []
    for d in Path(sweep_dir).iterdir():
        if d.is_dir() and (d / DONE).is_file() and (d / JOB_FILE).is_file():
            num = json.loads((d / JOB_FILE).read_text())["job_num"]
            if limit is None or num < limit:
                found.append((num, d.name, d))
    return [d for _, _, d in sorted(found)]


Table = dict[str, np.ndarray]


def aggregate(job_dirs: Iterable[str | os.PathLike[str]]) -> tuple[Table, list[str]]:
    """Join the ``runs`` tables of finished jobs into one table (one row per job x seed).

    Parameters
    ----------
    job_dirs : iterable of path-like
        Job folders, in the order wanted.

    Returns
    -------
    results : dict of str to numpy.ndarray
        The job's parameters as columns (named by their override key, e.g. ``policy.latency_h``;
        ``config.<key>`` if the key is also a result column, e.g. ``config.seed``), then ``job``
        and every column of the ``runs`` tables.
    params : list of str
        The parameter column names.
    """
    rows: list[dict[str, Any]] = []
    params: list[str] = []
    for d in map(Path, job_dirs):
        job = json.loads((d / JOB_FILE).read_text())
        runs = read_table(d / "runs")
        reserved = {"job", *runs, *_SUMMARY_COLUMNS}
        p = {(f"config.{k}" if k in reserved else k): _decode(v) for k, v in job["params"].items()}
        params.extend(k for k in p if k not in params)
        n = len(runs["seed"])
        for i in range(n):
            rows.append({**p, "job": job["job_num"], **{k: _py(v[i]) for k, v in runs.items()}})
    return _rows_to_columns(rows), params


def _decode(v: Any) -> Any:
    if isinstance(v, str) and v in ("inf", "-inf", "nan"):
        return float(v)
    return v


def _py(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


_SUMMARY_COLUMNS = ("n_seeds", "reach_mean", "reach_ci_low", "reach_ci_high", "reach_baseline_mean",
                    "prevented_mean", "prevented_ci_low", "prevented_ci_high",
                    "prevented_frac_mean", "removed_share_mean", "path")


def _ci(x: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% t confidence interval of the finite values of ``x``."""
    from scipy.special import stdtrit  # t quantile; far lighter to import than scipy.stats

    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan
    m = float(x.mean())
    if n == 1:
        return m, math.nan, math.nan
    half = float(stdtrit(n - 1, 0.975) * x.std(ddof=1) / math.sqrt(n))
    return m, m - half, m + half


def summarize_results(results: Mapping[str, np.ndarray], params: Sequence[str]) -> Table:
    """One row per sweep point (job): mean reach per post and reach prevented, with 95% CIs.

    Parameters
    ----------
    results : mapping of str to numpy.ndarray
        The table from :func:`aggregate`.
    params : sequence of str
        Its parameter columns (copied to the summary).

    Returns
    -------
    dict of str to numpy.ndarray
        Columns: the parameters, ``job``, ``n_seeds``; ``reach_mean`` (mean over seeds of the
        per-run mean reach per illegal post) with ``reach_ci_low``/``reach_ci_high`` (95%, t
        distribution over seeds); ``reach_baseline_mean`` (unmoderated twin);
        ``prevented_mean`` (paired per-seed difference baseline - moderated, per post) with its
        CI; ``prevented_frac_mean``; ``removed_share_mean``; ``path`` (``deadline`` or
        ``simulated``: how the job's runs were computed).
    """
    jobs = results["job"]
    order = list(dict.fromkeys(jobs.tolist()))
    nan = np.full(len(jobs), np.nan)
    rows = []
    for j in order:
        sel = jobs == j
        first = int(np.flatnonzero(sel)[0])
        reach = results["reach_mean"][sel].astype(np.float64)
        prevented = results.get("reach_prevented_mean", nan)[sel].astype(np.float64)
        base = results.get("reach_baseline_mean", nan)[sel].astype(np.float64)
        frac = results.get("reach_prevented_frac", nan)[sel].astype(np.float64)
        m, lo, hi = _ci(reach)
        pm, plo, phi = _ci(prevented)
        row: dict[str, Any] = {k: _py(results[k][first]) for k in params}
        row.update({
            "job": int(j), "n_seeds": int(sel.sum()),
            "reach_mean": m, "reach_ci_low": lo, "reach_ci_high": hi,
            "reach_baseline_mean": _nanmean(base),
            "prevented_mean": pm, "prevented_ci_low": plo, "prevented_ci_high": phi,
            "prevented_frac_mean": _nanmean(frac),
            "removed_share_mean": (_nanmean(results["removed_share"][sel].astype(np.float64))
                                   if "removed_share" in results else math.nan),
            "path": ",".join(dict.fromkeys(results["path"][sel].tolist())) if "path" in results
            else "-",
        })
        rows.append(row)
    return _rows_to_columns(rows)


def _nanmean(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else math.nan


def _fmt(x: Any, width: int) -> str:
    if isinstance(x, float | np.floating):
        f = float(x)
        if math.isnan(f):
            return "-".rjust(width)
        if math.isinf(f):
            return ("inf" if f > 0 else "-inf").rjust(width)
        return f"{f:{width}.{2 if abs(f) < 1e5 else 0}f}"
    return str(x).rjust(width)


def _fmt_param(x: Any, width: int) -> str:
    if isinstance(x, float | np.floating) and not math.isnan(x):
        return f"{x:g}".rjust(width)
    return _fmt(x, width)


def format_summary(summary: Mapping[str, np.ndarray], params: Sequence[str]) -> str:
    """The summary as a fixed-width text table (what the ``spreadsim`` command prints).

    Parameters
    ----------
    summary : mapping of str to numpy.ndarray
        The table from :func:`summarize_results`.
    params : sequence of str
        Parameter columns to show first.

    Returns
    -------
    str
        Header line plus one line per sweep point, newline-terminated.
    """
    cols: list[tuple[str, int]] = [(p, max(10, len(p))) for p in params]
    cols += [("n_seeds", 7), ("reach/post", 10), ("95% CI", 21), ("prevented/post", 14),
             ("95% CI ", 21), ("prevented", 9), ("path", 9)]
    lines = ["  ".join(h.strip().rjust(w) for h, w in cols)]
    for i in range(len(summary["job"])):
        cells = [_fmt_param(summary[p][i], w) for p, w in cols[: len(params)]]
        ci = f"[{_fmt(summary['reach_ci_low'][i], 8)}, {_fmt(summary['reach_ci_high'][i], 8)}]"
        pci = (f"[{_fmt(summary['prevented_ci_low'][i], 8)}, "
               f"{_fmt(summary['prevented_ci_high'][i], 8)}]")
        frac = summary["prevented_frac_mean"][i]
        cells += [str(summary["n_seeds"][i]).rjust(7), _fmt(summary["reach_mean"][i], 10),
                  ci.rjust(21),
                  _fmt(summary["prevented_mean"][i], 14), pci.rjust(21),
                  ("-" if math.isnan(frac) else f"{100 * frac:.1f}%").rjust(9),
                  str(summary["path"][i] if "path" in summary else "-").rjust(9)]
        lines.append("  ".join(cells))
    return "\n".join(lines) + "\n"


def _seed_ci(values: np.ndarray) -> tuple[float, float, float]:
    return _ci(np.asarray(values, dtype=np.float64))


def category_table(results: Mapping[str, np.ndarray], params: Sequence[str],
                   posts: Sequence[Mapping[str, np.ndarray]]) -> Table:
    """Reach per post by content category: one row per sweep point (job) and category.

    Parameters
    ----------
    results : mapping of str to numpy.ndarray
        The table from :func:`aggregate` (for the parameter values of each job).
    params : sequence of str
        Its parameter columns.
    posts : sequence of mappings
        The ``posts`` table of each job, in the order of the jobs in ``results``.

    Returns
    -------
    dict of str to numpy.ndarray
        The parameters, ``job``, ``category``, ``n_seeds``, ``posts_per_seed``, ``reach_mean``
        (mean over seeds of the seed's mean reach per post of the category) with a 95% CI,
        ``removed_share`` and ``time_to_removal_median_h``.
    """
    jobs = list(dict.fromkeys(results["job"].tolist()))
    rows: list[dict[str, Any]] = []
    for j, p in zip(jobs, posts, strict=True):
        first = int(np.flatnonzero(results["job"] == j)[0])
        seeds = list(dict.fromkeys(np.asarray(p["seed"]).tolist()))
        for cat in sorted(set(np.asarray(p["category"]).tolist())):
            per_seed = []
            in_cat = p["category"] == cat
            for sd in seeds:
                sel = in_cat & (p["seed"] == sd)
                if sel.any():
                    per_seed.append(float(np.asarray(p["reach"][sel], dtype=np.float64).mean()))
            m, lo, hi = _seed_ci(np.array(per_seed))
            removed = ~np.isnan(np.asarray(p["removal_time_h"][in_cat], dtype=np.float64))
            delay = (p["removal_time_h"] - p["upload_time_h"])[in_cat][removed]
            row: dict[str, Any] = {k: _py(results[k][first]) for k in params}
            row.update({"job": int(j), "category": str(cat), "n_seeds": len(per_seed),
                        "posts_per_seed": int(in_cat.sum()) / max(1, len(seeds)),
                        "reach_mean": m, "reach_ci_low": lo, "reach_ci_high": hi,
                        "removed_share": float(removed.mean()) if removed.size else math.nan,
                        "time_to_removal_median_h": float(np.median(delay)) if delay.size
                        else math.nan})
            rows.append(row)
    return _rows_to_columns(rows)


def _mean_reach_over_time(series: Mapping[str, np.ndarray],
                          runs: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds of reach per illegal post over time (each seed's series held flat after
    its end, where reach no longer changes)."""
    seeds = list(dict.fromkeys(np.asarray(runs["seed"]).tolist()))
    grids = [series["time_h"][series["seed"] == sd] for sd in seeds]
    grid = max(grids, key=len) if grids else np.zeros(1)
    total = np.zeros(len(grid))
    for sd in seeds:
        r = np.asarray(series["reach_illegal"][series["seed"] == sd], dtype=np.float64)
        n_posts = float(runs["posts"][runs["seed"] == sd][0]) if "posts" in runs else 1.0
        full = np.full(len(grid), r[-1] if r.size else 0.0)
        full[: r.size] = r
        total += full / max(1.0, n_posts)
    return grid, total / max(1, len(seeds))


def write_sweep_outputs(out_dir: str | os.PathLike[str],
                        job_dirs: Iterable[str | os.PathLike[str]], *, svg: bool = False,
                        config_text: str | None = None,
                        title: str | None = None) -> tuple[Table, list[str]]:
    """Aggregate job folders into tables, plots and ``report.html``.

    Writes ``results`` (one row per job x seed), ``summary`` (one row per job, 95% CIs) and
    ``categories`` (one row per job x content category), each as Parquet + CSV; the plots
    ``reach_vs_latency``, ``prevented_vs_latency``, ``time_to_removal``, ``reach_over_time`` and
    ``reach_by_category`` (PNG, and SVG if ``svg``); and the self-contained HTML report.

    Parameters
    ----------
    out_dir : path-like
        Where to write (the sweep folder; the job folder itself for a single run).
    job_dirs : iterable of path-like
        The finished job folders, in order.
    svg : bool
        Also write the plots as SVG (and inline them in the report).
    config_text : str, optional
        The configuration (YAML) for the report; the first job's config if omitted.
    title : str, optional
        The report's heading.

    Returns
    -------
    summary : dict of str to numpy.ndarray
    params : list of str
        The parameter columns.
    """
    from spreadsim.outputs import plots as P
    from spreadsim.outputs.report import write_report

    dirs = [Path(d) for d in job_dirs]
    if not dirs:
        raise DataError(f"sweep {out_dir}: no finished job folders to aggregate")
    out = Path(out_dir)
    results, params = aggregate(dirs)
    summary = summarize_results(results, params)
    posts = [read_table(d / "posts") for d in dirs]
    series = [read_table(d / "series") for d in dirs]
    runs = [read_table(d / "runs") for d in dirs]
    cats = category_table(results, params, posts)
    write_table(results, out / "results")
    write_table(summary, out / "summary")
    write_table(cats, out / "categories")
    labels = P.point_labels(summary, params)
    files = P.plot_reach_vs_latency(summary, out / PLOT_FILE, params=params, svg=svg)
    if "prevented_mean" in summary and np.isfinite(summary["prevented_mean"]).any():
        files += P.plot_prevented_vs_latency(summary, out / "prevented_vs_latency.png",
                                             params=params, svg=svg)
    delays = []
    for label, p in zip(labels, posts, strict=True):
        ill = p["category"] != "legal"
        d = (p["removal_time_h"] - p["upload_time_h"])[ill]
        delays.append((label, np.asarray(d[~np.isnan(d)], dtype=np.float64)))
    files += P.plot_time_to_removal(delays, out / "time_to_removal.png", svg=svg)
    curves = [(label, *_mean_reach_over_time(sr, rn))
              for label, sr, rn in zip(labels, series, runs, strict=True)]
    files += P.plot_reach_over_time(curves, out / "reach_over_time.png", svg=svg)
    files += P.plot_reach_by_category(cats, labels, out / "reach_by_category.png", svg=svg)
    if config_text is None:
        job = json.loads((dirs[0] / JOB_FILE).read_text())
        config_text = _yaml(job["config"])
    paths: dict[str, int] = {}
    if "path" in results:
        for v in results["path"].tolist():
            paths[str(v)] = paths.get(str(v), 0) + 1
    shown = [f for f in files if f.suffix == (".svg" if svg else ".png")]
    write_report(out / REPORT_FILE, title=title or f"spreadsim sweep: {out.resolve()}",
                 config_text=config_text, summary=summary, plots=shown,
                 seeds=sorted(set(results["seed"].tolist())), paths=paths)
    return summary, params


def _yaml(obj: Any) -> str:
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(OmegaConf.create(_canonical(obj)))


# --------------------------------------------------------------------------- clean-up


def _only_hydra_files(path: Path, job_name: str) -> bool:
    for p in path.iterdir():
        if p.is_dir():
            if p.name == ".hydra":
                continue
            if not _only_hydra_files(p, job_name):
                return False
        elif p.name not in ("multirun.yaml", f"{job_name}.log", SWEEP_FILE):
            return False
    return True


def remove_if_only_hydra(path: str | os.PathLike[str], job_name: str = "spreadsim") -> bool:
    """Remove an output folder if it holds nothing but Hydra's own files.

    Parameters
    ----------
    path : path-like
        A job or sweep folder.
    job_name : str
        Hydra's job name (its log file is ``<job_name>.log``).

    Returns
    -------
    bool
        True if the folder was removed.
    """
    p = Path(path)
    if p.is_dir() and _only_hydra_files(p, job_name):
        shutil.rmtree(p)
        return True
    return False

def set_dotted(d: Any, key: str, value: Any) -> None:
    """Set ``value`` at a dotted key (list items by index, e.g. ``policy.1.referral_prob``)."""
    parts = key.split(".")
    for i, p in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(d, list):
            j = int(p) if p.lstrip("-").isdigit() else None
            if j is None or not -len(d) <= j < len(d):
                raise ConfigError(".".join(parts[: i + 1]), value, f"no item {p} in a list of {len(d)}")
            if last:
                d[j] = value
            else:
                d = d[j]
            continue
        if last:
            d[p] = value
        else:
            if not isinstance(d.get(p), dict | list):
                d[p] = {}
            d = d[p]
