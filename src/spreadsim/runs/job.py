"""One job of a sweep: every paired seed of one sweep point run, its tables written, and resume.

A job runs the seeds ``seed, seed + 1, ..., seed + seeds - 1`` of one config (the same seeds at
every sweep point: differences between points are the policy's, not noise), on the exact deadline
path when it can (:mod:`spreadsim.runs.deadline`, traces shared through
:class:`~spreadsim.runs.tracecache.TraceCache`) and simulated otherwise, and writes the job folder
described in :mod:`spreadsim.outputs.layout`. A folder that already holds the finished job with
the same config (its ``done`` marker holds the config's hash) is skipped: a killed sweep resumes.
Joining job folders into a sweep's tables is :mod:`spreadsim.outputs.aggregate`'s.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spreadsim.engine.metrics import add_baseline
from spreadsim.engine.records import RunResult
from spreadsim.graphs import Graph, build_graph, graph_seed
from spreadsim.outputs.columns import concat, rows_to_columns
from spreadsim.outputs.io import atomic_write_bytes, write_table
from spreadsim.outputs.io import canonical as _canonical
from spreadsim.outputs.layout import DONE, JOB_FILE, JOB_TABLES, POSTS, RUNS, SERIES
from spreadsim.runs.cascades import CascadeExport, export_files
from spreadsim.runs.deadline import DeadlineTrace, deadline_path_reason
from spreadsim.runs.jobspec import RUN_KEYS, JobSpec, check_job_config, config_hash
from spreadsim.runs.platforms import simulate_platforms
from spreadsim.runs.progress import SeedTicker, heartbeat, sweep_progress
from spreadsim.runs.single import simulate
from spreadsim.runs.tracecache import TraceCache
from spreadsim.schema.config import SimConfig
from spreadsim.schema.fields import parse
from spreadsim.schema.model import RunSettings
from spreadsim.schema.values import swept_value
from spreadsim.version import __version__

log = logging.getLogger("spreadsim.sweep")  # the name of these lines in every log (see runs.progress)

__all__ = ["done_marker", "job_damage", "pinned_graph", "remove_job_files", "run_job"]


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
    """:func:`~spreadsim.graphs.build_graph` once per process for a pinned graph.

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
        with heartbeat(f"building the graph ({cfg.get('kind')}, seed {seed})"):
            g = build_graph(cfg, seed)
        _PINNED.clear()
        _PINNED[key] = g
    return g


def _job_files(out: Path) -> list[Path]:
    """A job's own files, the done marker first."""
    return [out / DONE, out / JOB_FILE,
            *(out / f"{t}.{ext}" for t in JOB_TABLES for ext in ("parquet", "csv")), *export_files(out)]


def remove_job_files(out: str | os.PathLike[str]) -> None:
    """Remove a job folder's own files (the done marker first), those a failed job wrote."""
    out = Path(out)
    for f in _job_files(out):
        f.unlink(missing_ok=True)


def done_marker(out: Path, digest: str) -> bytes:
    """The done marker's content (JSON): the job's config hash, and the size and SHA-256 of each
    table file the job wrote, so that resume can tell a damaged table from a finished one."""
    files = {}
    tables = [out / f"{t}.{ext}" for t in JOB_TABLES for ext in ("parquet", "csv")]
    for f in tables + [f for f in export_files(out) if f.exists()]:  # (export: the cascades too)
        files[f.name] = {"size": f.stat().st_size, "sha256": _sha256(f)}
    return (json.dumps({"config_hash": digest, "files": files}, indent=1) + "\n").encode()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def job_damage(out: Path, digest: str) -> str | None:
    """Why the job folder ``out`` does not hold the finished job of config hash ``digest``
    (None if it does): no or another done marker, or a table missing or not the size and
    checksum its marker records."""
    text = ""
    try:
        text = (out / DONE).read_text()
        marker = json.loads(text)
    except FileNotFoundError:
        return "not finished"
    except (OSError, ValueError):
        marker = None
        if len(text.strip()) != 64:  # (an earlier version's marker: the config hash alone)
            return "its done marker cannot be read"
    if not isinstance(marker, dict) or not isinstance(marker.get("files"), dict):
        return "its done marker records no tables (an earlier version's)"
    if marker.get("config_hash") != digest:
        return "another config"
    for name, want in sorted(marker["files"].items()):
        f = out / name
        try:
            size = f.stat().st_size
        except OSError:
            return f"{name} is missing"
        if size != want.get("size"):
            return f"{name} has {size} bytes, its done marker says {want.get('size')}"
        if _sha256(f) != want.get("sha256"):
            return f"{name} does not match its checksum"
    return None


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
    says which (``deadline`` or ``simulated``). With ``export`` set (``shares`` or ``exposures``)
    every seed is simulated, traced, and its cascades go into the job folder
    (:class:`~spreadsim.runs.cascades.CascadeExport`: one file for all seeds).

    Parameters
    ----------
    cfg : Mapping
        The job config as plain containers (see :func:`check_job_config`).
    out_dir : path-like
        The job folder (created if missing).
    params : Mapping, optional
        The job's parameter values (override key -> value), recorded in ``job.json`` (an hours
        value given as text is recorded as its number, ``never`` as ``inf``:
        :func:`~spreadsim.schema.values.swept_value`) and turned into columns by
        :func:`~spreadsim.outputs.aggregate.aggregate`.
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
    if skip_done:
        why_not = job_damage(out, digest)
        if why_not is None:
            log.info("job %d: already done in %s, skipped", job_num, out)
            return False
        if why_not not in ("not finished", "another config"):
            log.warning("job %d: run again: %s in %s", job_num, why_not, out)
    tic = time.perf_counter()

    def graph_for(seed: int) -> Graph | None:
        assert spec.sim is not None
        if spec.sim.graph.get("seed") is None:  # derived from each run seed: the engine builds it
            return None
        return pinned_graph(spec.sim.graph, graph_seed(spec.sim.graph, seed))

    export = parse(RunSettings, {k: cfg[k] for k in RUN_KEYS if k in cfg}, "").export
    if spec.multi is not None:  # (check_job_config refused export for several platforms)
        return _run_multi_job(spec, cfg, out, digest, params, overrides, job_num, sweep_dir, tic)
    assert spec.sim is not None
    why = (deadline_path_reason(spec.sim) if spec.deadline_path == "auto"
           else "deadline_path is off")
    if export != "none":  # each seed's tree comes from its own traced run
        why = f"export is {export}"
    path = "deadline" if why is None else "simulated"
    log.info("job %d: %d seeds, %s path%s", job_num, len(spec.seeds), path,
             "" if why is None else f" ({why})")
    done: dict[int, RunResult] = {}
    ticker = SeedTicker(job_num, len(spec.seeds))
    ex: CascadeExport | None = None
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
        ex = None if export == "none" else CascadeExport(out, exposures=export == "exposures")
        try:
            for k, s in enumerate(spec.seeds):
                with heartbeat(f"job {job_num}: seed {s} ({k + 1}/{len(spec.seeds)})"):
                    done[s] = simulate(spec.sim, s, graph=graph_for(s), baseline=spec.baseline,
                                       export=ex)
                ticker.tick(len(done))
        except BaseException:
            if ex is not None:
                ex.abort()
            raise
    return _write_job(spec, cfg, out, digest, params, overrides, job_num, sweep_dir, tic, path,
                      done, ex)


def _run_multi_job(spec: JobSpec, cfg: Mapping[str, Any], out: Path, digest: str,
                   params: Mapping[str, Any] | None, overrides: Sequence[str], job_num: int,
                   sweep_dir: str | os.PathLike[str] | None, tic: float) -> bool:
    """A job of several platforms: every seed simulated with :func:`simulate_platforms`; the
    tables carry a ``platform`` column (the summary row: totals and ``<platform>.<key>``)."""
    assert spec.multi is not None
    log.info("job %d: %d seeds, %d platforms", job_num, len(spec.seeds), len(spec.multi.platforms))
    done: dict[int, Any] = {}
    ticker = SeedTicker(job_num, len(spec.seeds))
    for k, s in enumerate(spec.seeds):
        with heartbeat(f"job {job_num}: seed {s} ({k + 1}/{len(spec.seeds)})"):
            mr = simulate_platforms(spec.multi, s)
        series = [{"platform": np.full(len(r.series["time_h"]), name, dtype=object), **r.series}
                  for name, r in mr.platforms.items()]
        done[s] = RunResult(s, mr.posts, concat(series), dict(mr.summary))
        ticker.tick(len(done))
    return _write_job(spec, cfg, out, digest, params, overrides, job_num, sweep_dir, tic,
                      "simulated", done)


def _write_job(spec: JobSpec, cfg: Mapping[str, Any], out: Path, digest: str,
               params: Mapping[str, Any] | None, overrides: Sequence[str], job_num: int,
               sweep_dir: str | os.PathLike[str] | None, tic: float, path: str,
               done: Mapping[int, RunResult], export: CascadeExport | None = None) -> bool:
    """Write one job's tables (runs, posts, series), its ``job.json``, its exported cascades
    (``export``: finished here, after the stale files went) and its done marker."""
    runs: list[dict[str, Any]] = []
    posts: list[dict[str, np.ndarray]] = []
    series: list[dict[str, np.ndarray]] = []
    for s in spec.seeds:
        r = done[s]
        row = {"seed": s, **r.summary, "path": path}
        runs.append(row)
        n_posts = len(next(iter(r.posts.values()))) if r.posts else 0
        posts.append({"seed": np.full(n_posts, s, dtype=np.int64), **r.posts})
        n_t = len(r.series["time_h"])
        series.append({"seed": np.full(n_t, s, dtype=np.int64), **r.series})
    job = {"job_num": int(job_num), "overrides": list(overrides),
           "params": _canonical({k: swept_value(k, v) for k, v in (params or {}).items()}),
           "config": _canonical(cfg),
           "config_hash": digest, "version": __version__}
    try:
        out.mkdir(parents=True, exist_ok=True)
        remove_job_files(out)  # the done marker first: an earlier job's files are stale now
        atomic_write_bytes(out / JOB_FILE,
                           (json.dumps(job, indent=2, sort_keys=False) + "\n").encode())
        write_table(rows_to_columns(runs), out / RUNS)
        write_table(concat(posts), out / POSTS)
        write_table(concat(series), out / SERIES)
        if export is not None:
            export.close()
        atomic_write_bytes(out / DONE, done_marker(out, digest))
    except BaseException:
        if export is not None:
            export.abort()
        try:  # a failed job leaves none of its files behind
            remove_job_files(out)
        except OSError:
            pass
        raise
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
