"""A sweep's outputs from its finished job folders: the tables, the plots and ``report.html``.

Hydra-free: :func:`write_sweep_outputs` needs only the folders (the ``spreadsim`` command calls it
when a sweep ends, and on a single run's folder).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from spreadsim.errors import DataError, OutputError
from spreadsim.outputs import glossary
from spreadsim.outputs import plots as P
from spreadsim.outputs.aggregate import aggregate
from spreadsim.outputs.answer import Answer, answer, describe_point
from spreadsim.outputs.columns import Table
from spreadsim.outputs.io import read_table, write_table
from spreadsim.outputs.layout import (
    CATEGORIES,
    CATEGORY_PLOT,
    JOB_FILE,
    OVER_TIME_PLOT,
    PLOT_FILE,
    POSTS,
    PREVENTED_PLOT,
    REMOVAL_PLOT,
    REPORT_FILE,
    RESULTS,
    RUNS,
    SERIES,
    SUMMARY,
    remove_aggregates,
)
from spreadsim.outputs.report import config_yaml, write_report
from spreadsim.outputs.tables import (
    PATH,
    PREVENTED_SHARE,
    category_table,
    removal_delays,
    summarize_results,
    swept_params,
)
from spreadsim.version import __version__

__all__ = ["Outputs", "write_outputs", "write_sweep_outputs", "mean_reach_over_time",
           "graph_of_config"]


@dataclass(frozen=True)
class Outputs:
    """What :func:`write_outputs` wrote: the summary, its parameter columns, the answer and
    where the report is."""

    summary: Table
    params: list[str]
    answer: Answer
    report: Path


def mean_reach_over_time(series: Mapping[str, np.ndarray],
                         runs: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds of reach per illegal post over time (each seed's series held flat after
    its end, where reach no longer changes).

    Parameters
    ----------
    series, runs : mapping of str to numpy.ndarray
        A job's ``series`` and ``runs`` tables.

    Returns
    -------
    time_h, reach : numpy.ndarray
        The longest seed's time grid and the mean reach per post on it.
    """
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
    """:func:`write_outputs`, returning the summary and its parameter columns only."""
    o = write_outputs(out_dir, job_dirs, svg=svg, config_text=config_text, title=title)
    return o.summary, o.params


def write_outputs(out_dir: str | os.PathLike[str], job_dirs: Iterable[str | os.PathLike[str]],
                  *, svg: bool = False, config_text: str | None = None,
                  title: str | None = None, experiment: str | None = None,
                  command: str | None = None, graph: str | None = None) -> Outputs:
    """Aggregate job folders into tables, plots and ``report.html``, and state the answer.

    Writes ``results`` (one row per job x seed), ``summary`` (one row per job, 95% CIs) and
    ``categories`` (one row per job x content category), each as Parquet + CSV; the plots
    ``reach_vs_latency``, ``prevented_vs_latency``, ``time_to_removal``, ``reach_over_time`` and
    ``reach_by_category`` (PNG, and SVG if ``svg``); and the self-contained HTML report, which
    opens with the experiment's answer (:func:`spreadsim.outputs.answer.answer`). A sweep and a
    single run's folder (one job folder, itself) get the same outputs.

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
        What the report is (the output folder if omitted).
    experiment : str, optional
        The experiment's name, for the report's title.
    command : str, optional
        The command line, for the report.
    graph : str, optional
        The graph in one line (:meth:`spreadsim.graphs.Graph.describe`); the config's graph
        section if omitted.

    Returns
    -------
    Outputs
    """
    dirs = [Path(d) for d in job_dirs]
    out = Path(out_dir)
    try:
        remove_aggregates(out)  # nothing of an earlier aggregation may look current
    except OSError as e:
        raise OutputError(f"cannot remove the earlier aggregates in {out}: "
                          f"{e.strerror or e}") from None
    if not dirs:
        raise DataError(f"sweep {out_dir}: no finished job folders to aggregate")
    try:
        return _write_sweep_outputs(out, dirs, svg=svg, config_text=config_text, title=title,
                                    meta={"experiment": experiment, "command": command,
                                          "graph": graph})
    except BaseException:
        try:  # a failed aggregation leaves none of its files behind
            remove_aggregates(out)
        except OSError:
            pass
        raise


def graph_of_config(config: Mapping[str, Any]) -> str:
    """A config's graph in one line, from its ``graph`` section (or its platforms' graphs)."""
    def one(g: Any) -> str:
        if not isinstance(g, Mapping):
            return str(g)
        keys = [k for k in ("path", "n", "m", "k", "p", "seed") if g.get(k) is not None]
        return f"{g.get('kind', '?')} (" + ", ".join(f"{k}={g[k]}" for k in keys) + ")"
    if config.get("platforms"):
        return "; ".join(f"{p.get('name')}: {one(p.get('graph'))}" for p in config["platforms"])
    return one(config.get("graph"))


def _write_sweep_outputs(out: Path, dirs: list[Path], *, svg: bool, config_text: str | None,
                         title: str | None, meta: Mapping[str, str | None]) -> Outputs:
    results, params = aggregate(dirs)
    summary = summarize_results(results, params)
    posts = [read_table(d / POSTS) for d in dirs]
    series = [read_table(d / SERIES) for d in dirs]
    runs = [read_table(d / RUNS) for d in dirs]
    cats = category_table(results, params, posts)
    write_table(results, out / RESULTS)
    write_table(summary, out / SUMMARY)
    write_table(cats, out / CATEGORIES)
    job = json.loads((dirs[0] / JOB_FILE).read_text())
    config = job.get("config") or {}
    swept = swept_params(summary, params)
    labels = (P.point_labels(summary, swept) if swept
              else [describe_point(config)] * len(summary["job"]))
    files = P.plot_reach_vs_latency(summary, out / PLOT_FILE, params=params, svg=svg, labels=labels)
    share = PREVENTED_SHARE[0]
    if share in summary and np.isfinite(summary[share]).any():
        files += P.plot_prevented_vs_latency(summary, out / f"{PREVENTED_PLOT}.png",
                                             params=params, svg=svg, labels=labels)
    delays = [(label, removal_delays(p)) for label, p in zip(labels, posts, strict=True)]
    files += P.plot_time_to_removal(delays, out / f"{REMOVAL_PLOT}.png", svg=svg)
    curves = [(label, *mean_reach_over_time(sr, rn))
              for label, sr, rn in zip(labels, series, runs, strict=True)]
    files += P.plot_reach_over_time(curves, out / f"{OVER_TIME_PLOT}.png", svg=svg)
    files += P.plot_reach_by_category(cats, labels, out / f"{CATEGORY_PLOT}.png", svg=svg)
    if config_text is None:
        config_text = config_yaml(config)
    paths: dict[str, int] = {}
    if PATH in results:
        for v in results[PATH].tolist():
            paths[str(v)] = paths.get(str(v), 0) + 1
    said = answer(summary, swept, config, results=results, labels=labels)
    shown = [f for f in files if f.suffix == (".svg" if svg else ".png")]
    info = {"command": meta.get("command"),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "version": f"spreadsim {__version__}",
            "graph": meta.get("graph") or graph_of_config(config)}
    tables = [("Per platform", said.table)] if said.table is not None else []
    report = write_report(out / REPORT_FILE, title=title or str(out.resolve()),
                          config_text=config_text, summary=summary, plots=shown,
                          seeds=sorted(set(results["seed"].tolist())), paths=paths,
                          answer=said.sentence, experiment=meta.get("experiment"),
                          question=said.question, details=said.details, meta=info,
                          tables=tables, swept=swept,
                          units={c: glossary.unit(SUMMARY, c, params) for c in summary
                                 if c not in params},  # (a parameter's unit is its key's)
                          meanings={c: glossary.meaning(SUMMARY, c, params) for c in summary})
    return Outputs(summary, params, said, report)
