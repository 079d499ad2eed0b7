"""A sweep from Python: the jobs the ``spreadsim`` command runs, returned as pandas DataFrames.

:func:`sweep` takes a configuration (what :func:`spreadsim.load_config` reads: a mapping, YAML
text or a YAML file; None for the defaults) and the values to sweep (``over``: dotted config key
-> list of values; several keys make a grid, the product in the order given with the last key
varying fastest, as Hydra's basic sweeper orders the jobs of ``spreadsim a=1,2 b=x,y``). Each
sweep point is one job of paired seeds run by :func:`spreadsim.runs.job.run_job` (the deadline
path where it applies), and the tables are those of the command line
(:func:`spreadsim.outputs.aggregate.aggregate`, :mod:`spreadsim.outputs.tables`): the same
numbers, column for column (tested against the command's Parquet files). Whatever the tables
take from the config they read from each job's config, never from command-line overrides: the
body of ``conf/experiment/coc_2017.yaml`` (its ``target_round``) gives the monitoring round's
``target_*`` columns here as ``spreadsim experiment=coc_2017`` does.

Hydra-free: the jobs run one after another in this process. With ``out_dir`` the sweep writes
the command's folder layout there (job folders ``0``, ``1``, ... and the tables, plots and
``report.html``) and resumes a sweep interrupted in it (finished jobs are skipped).

Examples
--------
>>> import spreadsim
>>> s = spreadsim.sweep({"graph": {"kind": "barabasi_albert", "n": 300, "m": 2, "seed": 1},
...                      "scenario": {"illegal_posts": 4, "uploaders": 2, "horizon_h": 48}},
...                     over={"policy.latency_h": [0, 6, "never"]}, seeds=3)
>>> s.summary[["policy.latency_h", "n_seeds"]].values.tolist()
[[0.0, 3.0], [6.0, 3.0], [inf, 3.0]]
>>> float(s.summary["prevented_share"].iloc[0]), float(s.summary["prevented_share"].iloc[-1])
(1.0, 0.0)
"""

from __future__ import annotations

import copy
import itertools
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from spreadsim.errors import ConfigError
from spreadsim.outputs.aggregate import aggregate
from spreadsim.outputs.columns import Table
from spreadsim.outputs.io import read_table, to_arrow, write_table
from spreadsim.outputs.layout import CACHE_DIR, CATEGORIES, POSTS, RESULTS, SUMMARY
from spreadsim.outputs.report import config_yaml
from spreadsim.outputs.sweep_outputs import write_sweep_outputs
from spreadsim.outputs.tables import category_table, summarize_results
from spreadsim.runs.job import run_job
from spreadsim.runs.jobspec import JobSpec, check_job_config, read_config, set_dotted
from spreadsim.runs.sweeplock import acquire_sweep_lock
from spreadsim.schema.config import DEFAULT_GRAPH, DEFAULT_POLICY

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("spreadsim.sweep")

#: the config groups an ``over`` key may name by option (``{"policy": ["none", "fixed_latency"]}``)
CONFIG_GROUPS = ("graph", "spread", "policy", "scenario")

__all__ = ["CONFIG_GROUPS", "SweepResult", "group_option", "sweep", "sweep_points"]


@dataclass(frozen=True)
class SweepResult:
    """A sweep's tables as pandas DataFrames (the command's ``results``, ``summary`` and
    ``categories``; :mod:`spreadsim.outputs.glossary` describes every column).

    Attributes
    ----------
    results : pandas.DataFrame
        One row per sweep point x seed: the swept values, ``job`` and the run's statistics.
    summary : pandas.DataFrame
        One row per sweep point: means over seeds with 95% intervals, the share prevented.
    categories : pandas.DataFrame
        One row per sweep point and content category.
    params : tuple of str
        The swept keys (the parameter columns of the tables).
    out_dir : Path or None
        Where the sweep's folder was written (None: nothing was kept).
    """

    results: pd.DataFrame
    summary: pd.DataFrame
    categories: pd.DataFrame
    params: tuple[str, ...]
    out_dir: Path | None = None


def _read_config(config: Any) -> dict[str, Any]:
    """The job config as plain containers: a mapping (copied), YAML text or a YAML file, read by
    :func:`~spreadsim.runs.jobspec.read_config`."""
    if config is None:
        return {}
    if isinstance(config, JobSpec):
        raise ConfigError("config", "a JobSpec", "pass the mapping, YAML text or file it was loaded "
                          "from: a JobSpec holds the checked world, not the config its jobs record")
    if not isinstance(config, str | os.PathLike | Mapping):
        raise ConfigError("config", type(config).__name__,
                          "must be a mapping, YAML text or a YAML file (as load_config reads it)")
    return read_config(config)


def group_option(group: str, value: Any) -> Any:
    """A config group's option by name, as ``spreadsim policy=none`` selects it: the section in
    ``conf/<group>/<name>.yaml`` (shipped as ``spreadsim.conf``); a mapping (or null) as it is.

    >>> group_option("policy", "none")
    {'name': 'none'}
    """
    if not isinstance(value, str):
        return value
    root = resources.files("spreadsim.conf") / group
    options = sorted(f.name[: -len(".yaml")] for f in root.iterdir() if f.name.endswith(".yaml"))
    if value not in options:
        raise ConfigError(group, value, f"unknown {group} option; options: {', '.join(options)} "
                          "(or a mapping)")
    return yaml.safe_load((root / f"{value}.yaml").read_text())


def sweep_points(over: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The sweep points of ``over`` (key -> a list of values, or one value): the product of the
    lists in the order of the keys, the last key varying fastest (Hydra's basic sweeper's
    order); one empty point without keys.

    >>> sweep_points({"a": [1, 2], "b": "x"})
    [{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'x'}]
    """
    if not over:
        return [{}]
    lists = []
    for key, values in over.items():
        if not isinstance(key, str) or not key:
            raise ConfigError("over", key, "keys must be dotted config keys such as policy.latency_h")
        vals = list(values) if isinstance(values, list | tuple | range) else [values]
        if not vals:
            raise ConfigError(f"over.{key}", values, "must hold at least one value")
        lists.append([(key, v) for v in vals])
    return [dict(combo) for combo in itertools.product(*lists)]


def _frame(table: Table) -> pd.DataFrame:
    """A table as the DataFrame pandas reads from its Parquet file."""
    return to_arrow(table).to_pandas()


def sweep(config: Any = None, over: Mapping[str, Any] | None = None, *, seeds: int | None = None,
          seed: int | None = None, baseline: bool | None = None,
          out_dir: str | os.PathLike[str] | None = None, plots: bool = True) -> SweepResult:
    """Run a sweep as the ``spreadsim`` command does and return its tables as DataFrames.

    Parameters
    ----------
    config : mapping, str or path-like, optional
        The job config: a mapping shaped like the composed config (``graph``, ``spread``,
        ``scenario``, ``policy``, ``seed``, ``seeds``, ``baseline``, ...; a key left out takes the
        schema's default, the world of ``spreadsim experiment=single``), YAML text or a YAML file
        such as ``spreadsim ... --cfg job`` prints. None: every default.
    over : mapping of str to list, optional
        Dotted config key -> the values to sweep (``{"policy.latency_h": [0, 1, 6, "never"]}``;
        ``never`` and ``inf`` are the same number); a config group (``graph``, ``spread``,
        ``policy``, ``scenario``) takes option names as on the command line (``{"policy": ["none",
        "fixed_latency"]}``) or mappings. Several keys: every combination, the last key varying
        fastest. A key with one value is recorded as a parameter column, as a command-line
        override is. None: one point, the config as it is.
    seeds : int, optional
        Paired seeds per point (the config's ``seeds`` if None; the default 20).
    seed : int, optional
        The first seed (the config's ``seed`` if None; the default 0).
    baseline : bool, optional
        Also run each seed's unmoderated twin, for the reach prevented (the config's if None;
        the default true).
    out_dir : path-like, optional
        Write the command's sweep folder there (job folders ``0``, ``1``, ..., the tables as
        Parquet + CSV, the plots and ``report.html``); finished jobs already there are skipped.
        None: the jobs run in a temporary folder that is removed afterwards.
    plots : bool
        With ``out_dir``: also write the plots and ``report.html``.

    Returns
    -------
    SweepResult
        ``.results``, ``.summary``, ``.categories`` (pandas DataFrames) and ``.params``.

    Raises
    ------
    ConfigError, DataError
        Bad input, one line naming the field, before any job runs (every point is checked first).
    """
    base = _read_config(config)
    for key, value in (("seeds", seeds), ("seed", seed), ("baseline", baseline)):
        if value is not None:
            base[key] = value
    if base.get("calibration") is not None:
        raise ConfigError("calibration", base["calibration"], "is an SLA calibration's block "
                          "(spreadsim.runs.calibration.run_calibration), not a sweep's: set it to null")
    points = sweep_points(over)
    # a section left out is the default the command line composes, so that a swept key such as
    # policy.latency_h moves the default policy's latency (as `spreadsim policy.latency_h=...`)
    for section, default in (("graph", DEFAULT_GRAPH), ("policy", DEFAULT_POLICY)):
        if section not in base and any(k.split(".")[0] == section for k in points[0]):
            base[section] = dict(default)
    jobs = []
    for params in points:  # every point is checked before any job runs
        cfg = copy.deepcopy(base)
        # as Hydra composes: a config group's option first (it replaces the section), then values
        for key, value in sorted(params.items(), key=lambda kv: kv[0] not in CONFIG_GROUPS):
            set_dotted(cfg, key, group_option(key, value) if key in CONFIG_GROUPS else value)
        check_job_config(cfg)
        jobs.append((cfg, params))
    if out_dir is None:
        with tempfile.TemporaryDirectory(prefix="spreadsim-sweep-") as tmp:
            return _run(jobs, Path(tmp), keep=False, plots=False)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lock = acquire_sweep_lock(out)
    try:
        return _run(jobs, out, keep=True, plots=plots)
    finally:
        lock.release()


def _run(jobs: Sequence[tuple[dict[str, Any], dict[str, Any]]], out: Path, *, keep: bool,
         plots: bool) -> SweepResult:
    dirs = []
    log.info("sweep: %d jobs -> %s", len(jobs), out if keep else "a temporary folder")
    for num, (cfg, params) in enumerate(jobs):
        d = out / str(num)
        overrides = [f"{k}={v}" for k, v in params.items()]
        run_job(cfg, d, params=params, overrides=overrides, job_num=num, cache_dir=out / CACHE_DIR,
                sweep_dir=out)
        dirs.append(d)
    shutil.rmtree(out / CACHE_DIR, ignore_errors=True)  # complete: the traces are not needed
    if keep and plots:
        _, params_ = write_sweep_outputs(out, dirs, config_text=config_yaml(jobs[0][0]),
                                         title=f"spreadsim sweep: {out.resolve()}")
        tables = {t: read_table(out / t) for t in (RESULTS, SUMMARY, CATEGORIES)}
    else:
        results, params_ = aggregate(dirs)
        tables = {RESULTS: results, SUMMARY: summarize_results(results, params_),
                  CATEGORIES: category_table(results, params_, [read_table(d / POSTS) for d in dirs])}
        if keep:
            for name, table in tables.items():
                write_table(table, out / name)
    return SweepResult(_frame(tables[RESULTS]), _frame(tables[SUMMARY]), _frame(tables[CATEGORIES]),
                       tuple(params_), out if keep else None)
