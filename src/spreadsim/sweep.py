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
import hashlib
import json
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .config import SimConfig, check_seed
from .engine import graph_seed, simulate
from .errors import ConfigError, DataError
from .graphs import GRAPH_KINDS, build_graph
from .io import atomic_write_bytes, read_table, write_table
from .policies import make_policy

log = logging.getLogger(__name__)

TOP_KEYS = ("graph", "spread", "scenario", "policy", "seed", "seeds", "baseline", "max_events")
SIM_KEYS = ("graph", "spread", "scenario", "policy", "max_events")
DONE = "done"
JOB_FILE = "job.json"
JOB_TABLES = ("runs", "posts", "series")
SWEEP_TABLES = ("results", "summary")
PLOT_FILE = "reach_vs_latency.png"

__all__ = ["JobSpec", "JobError", "InvalidConfig", "check_job_config", "config_hash", "run_job",
           "aggregate", "summarize_results", "write_sweep_outputs", "format_summary", "hydra_job",
           "AggregateCallback", "remove_if_only_hydra"]


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

    sim: SimConfig
    seeds: tuple[int, ...]
    baseline: bool


def _check_graph(graph: Mapping[str, Any]) -> None:
    """Cheap graph check (no generation): kind, keys, and that an edge-list file exists."""
    kind = graph.get("kind")
    if not isinstance(kind, str) or kind not in GRAPH_KINDS:
        raise ConfigError("graph.kind", kind, f"must be one of {', '.join(GRAPH_KINDS)}")
    allowed = ("kind", "seed", "name", *GRAPH_KINDS[kind].keys)
    for k in graph:
        if k not in allowed:
            raise ConfigError(f"graph.{k}", graph[k],
                              f"unknown key for graph kind '{kind}'; allowed: {', '.join(allowed)}")
    if kind == "edgelist":
        path = graph.get("path")
        if not isinstance(path, str) or not path or path == "???":
            raise ConfigError("graph.path", path,
                              "required for graph kind 'edgelist' (a file path)")
        if not os.path.isfile(path):
            raise ConfigError("graph.path", path, "file not found")


def check_job_config(cfg: Mapping[str, Any]) -> JobSpec:
    """Validate a whole job config (the composed app config as plain containers).

    Parameters
    ----------
    cfg : Mapping
        Keys ``graph``, ``spread``, ``scenario``, ``policy`` (as for
        :meth:`SimConfig.from_dict`) plus ``seed`` (first seed, >= 0), ``seeds`` (number of
        paired seeds, >= 1) and ``baseline`` (bool).

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
    seed = check_seed(cfg.get("seed", 0), "seed")
    n = cfg.get("seeds", 1)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError("seeds", n, "must be an integer >= 1 (the number of paired seeds)")
    baseline = cfg.get("baseline", True)
    if not isinstance(baseline, bool):
        raise ConfigError("baseline", baseline, "must be true or false")
    sim = SimConfig.from_dict({k: cfg[k] for k in SIM_KEYS if k in cfg})
    _check_graph(sim.graph)
    for i, p in enumerate(sim.policies):
        make_policy(p, "policy" if len(sim.policies) == 1 else f"policy[{i}]")
    return JobSpec(sim, tuple(range(seed, seed + n)), baseline)


def _canonical(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _canonical(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_canonical(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)
    return obj


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
    text = json.dumps({"config": _canonical(cfg), "version": __version__}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- one job


def _job_is_done(out: Path, digest: str) -> bool:
    marker = out / DONE
    if not marker.is_file() or marker.read_text().strip() != digest:
        return False
    return all((out / f"{t}.parquet").is_file() for t in JOB_TABLES)


def run_job(cfg: Mapping[str, Any], out_dir: str | os.PathLike[str], *,
            params: Mapping[str, Any] | None = None, overrides: Sequence[str] = (),
            job_num: int = 0, skip_done: bool = True) -> bool:
    """Run every seed of one job and write its tables into ``out_dir``.

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
    graph = None
    if spec.sim.graph.get("seed") is not None:  # pinned: one graph for every seed
        graph = build_graph(spec.sim.graph, graph_seed(spec.sim.graph, spec.seeds[0]))
    runs: list[dict[str, Any]] = []
    posts: list[dict[str, np.ndarray]] = []
    series: list[dict[str, np.ndarray]] = []
    for s in spec.seeds:
        r = simulate(spec.sim, s, graph=graph, baseline=spec.baseline)
        row = {"seed": s, **r.summary}
        if spec.baseline:
            p = r.summary["posts"]
            row["reach_baseline_mean"] = r.summary["reach_baseline_total"] / p if p else math.nan
            row["reach_prevented_mean"] = row["reach_baseline_mean"] - r.summary["reach_mean"]
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
    log.info("job %d: %d seeds in %.2f s -> %s", job_num, len(spec.seeds),
             time.perf_counter() - tic, out)
    return True


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
                    "prevented_frac_mean", "removed_share_mean")


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
        CI; ``prevented_frac_mean``; ``removed_share_mean``.
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
            "removed_share_mean": _nanmean(results["removed_share"][sel].astype(np.float64)),
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
             ("95% CI ", 21), ("prevented", 9)]
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
                  ("-" if math.isnan(frac) else f"{100 * frac:.1f}%").rjust(9)]
        lines.append("  ".join(cells))
    return "\n".join(lines) + "\n"


def write_sweep_outputs(out_dir: str | os.PathLike[str],
                        job_dirs: Iterable[str | os.PathLike[str]]) -> tuple[Table, list[str]]:
    """Aggregate job folders into ``results``, ``summary`` (Parquet + CSV) and the plot.

    Parameters
    ----------
    out_dir : path-like
        Where to write (the sweep folder; the job folder itself for a single run).
    job_dirs : iterable of path-like
        The finished job folders, in order.

    Returns
    -------
    summary : dict of str to numpy.ndarray
    params : list of str
        The parameter columns.
    """
    from .plots import plot_reach_vs_latency

    dirs = list(job_dirs)
    if not dirs:
        raise DataError(f"sweep {out_dir}: no finished job folders to aggregate")
    out = Path(out_dir)
    results, params = aggregate(dirs)
    summary = summarize_results(results, params)
    write_table(results, out / "results")
    write_table(summary, out / "summary")
    plot_reach_vs_latency(summary, out / PLOT_FILE)
    return summary, params


# --------------------------------------------------------------------------- clean-up


def _only_hydra_files(path: Path, job_name: str) -> bool:
    for p in path.iterdir():
        if p.is_dir():
            if p.name == ".hydra":
                continue
            if not _only_hydra_files(p, job_name):
                return False
        elif p.name not in ("multirun.yaml", f"{job_name}.log"):
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


# --------------------------------------------------------------------------- Hydra layer
# Everything below imports Hydra/OmegaConf; the core above does not need them.

from hydra.core.hydra_config import HydraConfig  # noqa: E402
from hydra.experimental.callback import Callback  # noqa: E402
from hydra.types import RunMode  # noqa: E402
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write  # noqa: E402

_ACTIVE: dict[str, Any] = {}  # the main process's current sweep folder, for clean-up on failure


def task_container(config: DictConfig) -> dict[str, Any]:
    """The composed config without its ``hydra`` node, as resolved plain containers.

    Parameters
    ----------
    config : DictConfig
        A composed Hydra config (with or without the ``hydra`` node).

    Returns
    -------
    dict
    """
    c = copy.deepcopy(config)
    with read_write(c), open_dict(c):
        c.pop("hydra", None)
    out = OmegaConf.to_container(c, resolve=True)
    assert isinstance(out, dict)
    return {str(k): v for k, v in out.items()}


def _parse_overrides(items: Sequence[str]) -> list[Any]:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_overrides(list(items))


def _is_param(override: Any) -> bool:
    key = override.key_or_group
    return not (override.is_delete() or key.startswith("hydra") or key == "experiment"
                or override.package)


def override_params(overrides: Sequence[str], cfg: DictConfig) -> dict[str, Any]:
    """The job's parameter values: one per task override (``hydra.*`` and ``experiment`` left out).

    A value override gives the resolved config value; a config-group override (``policy=none``)
    gives the option name.

    Parameters
    ----------
    overrides : sequence of str
        ``HydraConfig.get().overrides.task``.
    cfg : DictConfig
        The job's composed config.

    Returns
    -------
    dict
    """
    out: dict[str, Any] = {}
    for o in _parse_overrides(overrides):
        if not _is_param(o):
            continue
        key = o.key_or_group
        v = OmegaConf.select(cfg, key, default=None)
        if v is None or isinstance(v, DictConfig | ListConfig):
            v = o.value()
            v = v if isinstance(v, int | float | str | bool) else str(v)
        out[key] = v
    return out


def hydra_job(cfg: DictConfig) -> None:
    """Body of the ``spreadsim`` task function: run one job into Hydra's job output folder.

    In ``RUN`` mode the job folder is also aggregated (``results``, ``summary``, plot) and the
    summary printed. On bad input the folder is removed if it holds only Hydra's own files and a
    :class:`JobError` is raised.

    Parameters
    ----------
    cfg : DictConfig
        The composed task config.
    """
    hc = HydraConfig.get()
    out = Path(hc.runtime.output_dir)
    overrides = list(hc.overrides.task)
    try:
        plain = task_container(cfg)
        params = override_params(overrides, cfg)
        job_num = int(hc.job.num) if hc.mode == RunMode.MULTIRUN else 0
        run_job(plain, out, params=params, overrides=overrides, job_num=job_num)
    except (ConfigError, DataError) as e:
        remove_if_only_hydra(out, hc.job.name)
        raise JobError(str(e)) from None
    if hc.mode == RunMode.RUN:
        summary, params_ = write_sweep_outputs(out, [out])
        sys.stdout.write(format_summary(summary, params_))
        sys.stdout.write(f"results: {out}\n")
        sys.stdout.flush()


def _set_dotted(d: Any, key: str, value: Any) -> None:
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


def _sweep_overrides(config: DictConfig) -> list[Any]:
    """The sweep's overrides as the basic sweeper sees them (config params, then command line)."""
    params = config.hydra.sweeper.get("params") or {}
    items = [f"{k}={v}" for k, v in params.items()]
    items += list(config.hydra.overrides.task)
    merged: dict[str, Any] = {}
    for o in _parse_overrides(items):
        merged[o.get_key_element()] = o
    return list(merged.values())


def _expected_jobs(config: DictConfig) -> int | None:
    try:
        n = 1
        for o in _sweep_overrides(config):
            if o.is_sweep_override():
                n *= len(list(o.sweep_string_iterator()))
        return n
    except Exception:  # another sweeper: aggregate every finished job folder
        return None


class AggregateCallback(Callback):
    """Hydra callback: validate before anything runs, aggregate a sweep when it ends.

    ``on_run_start``/``on_multirun_start`` validate the composed config (and, for a sweep, every
    swept value of every non-group parameter) so that bad input fails before any job starts and
    leaves no folder behind. ``on_multirun_end`` reads the sweep's job folders and writes
    ``results``, ``summary`` and ``reach_vs_latency.png`` into the sweep folder, then prints the
    summary.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            check_job_config(task_container(config))
        except (ConfigError, DataError) as e:
            raise InvalidConfig(str(e)) from None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _ACTIVE["sweep_dir"] = str(config.hydra.sweep.dir)
        _ACTIVE["job_name"] = str(config.hydra.job.name)
        try:
            self._check_sweep(config)
        except (ConfigError, DataError) as e:
            raise InvalidConfig(str(e)) from None

    @staticmethod
    def _check_sweep(config: DictConfig) -> None:
        base = task_container(config)
        check_job_config(base)
        for o in _sweep_overrides(config):
            if not _is_param(o) or not o.is_sweep_override():
                continue
            key = o.key_or_group
            if "." not in key and isinstance(base.get(key), dict):
                continue  # a config-group sweep: each option is validated by its job
            for v in o.sweep_iterator():
                trial = copy.deepcopy(base)
                _set_dotted(trial, key, v)
                check_job_config(trial)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        dirs = find_job_dirs(sweep_dir, _expected_jobs(config))
        summary, params = write_sweep_outputs(sweep_dir, dirs)
        _ACTIVE.pop("sweep_dir", None)
        sys.stdout.write(format_summary(summary, params))
        sys.stdout.write(f"results: {sweep_dir.resolve()}\n")
        sys.stdout.flush()


def cleanup_failed_sweep() -> None:
    """Remove the current sweep folder if a failed sweep left only Hydra's files in it."""
    d = _ACTIVE.pop("sweep_dir", None)
    if d is not None:
        remove_if_only_hydra(d, _ACTIVE.get("job_name", "spreadsim"))
