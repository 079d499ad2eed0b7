"""What a job folder and a sweep folder hold: the names of their files, and the clean-up of a
folder that holds nothing but Hydra's own files and spreadsim's bookkeeping.

A job folder holds :data:`JOB_FILE` (its overrides, swept values and resolved config), the
:data:`JOB_TABLES` (``runs``: one row per seed; ``posts``: per post per seed; ``series``: reach
over time per seed), each as Parquet + CSV, with ``export`` set the :data:`EXPORT_TABLES`, and
the :data:`DONE` marker, written last. A sweep folder holds its job folders, :data:`SWEEP_FILE`
(when the sweep started, how many jobs), the :data:`SWEEP_TABLES`, the plots, :data:`REPORT_FILE`
and, while it runs, the trace cache :data:`CACHE_DIR`. The job runner (:mod:`spreadsim.runs.job`)
writes these names and the aggregation (:mod:`spreadsim.outputs.aggregate`) reads them, from this one place.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: a job's finished marker, written last (JSON: the job's config hash, and the size and SHA-256 of
#: each table file, checked when a sweep resumes)
DONE = "done"
#: a job's record: overrides, parameters, resolved config, config hash, version
JOB_FILE = "job.json"
#: the tables of one job: one row per seed, per post per seed, reach over time per seed
RUNS, POSTS, SERIES = JOB_TABLES = ("runs", "posts", "series")
#: the tables of a sweep (or of a single run's folder): one row per job x seed, per job, per job x
#: content category
RESULTS, SUMMARY, CATEGORIES = SWEEP_TABLES = ("results", "summary", "categories")
#: a sweep's start time and number of jobs (progress lines)
SWEEP_FILE = ".sweep.json"
#: the traces shared by a sweep's jobs (removed when the sweep completes)
CACHE_DIR = ".cache"
#: every plot of a sweep (PNG, and SVG with ``plots.svg``): reach and the share prevented
#: against latency, time to removal, reach over time, reach by content category
PLOTS = (REACH_PLOT, PREVENTED_PLOT, REMOVAL_PLOT, OVER_TIME_PLOT, CATEGORY_PLOT) = (
    "reach_vs_latency", "prevented_vs_latency", "time_to_removal", "reach_over_time",
    "reach_by_category")
#: the main plot of a sweep (its PNG file)
PLOT_FILE = f"{REACH_PLOT}.png"
#: the self-contained HTML report
REPORT_FILE = "report.html"
#: the sweep lock: the live sweep's pid, host and start time (empty when no sweep holds it)
LOCK_FILE = ".sweep.lock"
#: an SLA calibration's curve (a table), answer and plot
CALIBRATION_TABLE = "calibration"
CALIBRATION_FILE = "calibration.json"
CALIBRATION_PLOT = "calibration.png"
#: a job's exported cascades (``export: shares`` or ``exposures``; :mod:`spreadsim.runs.cascades`):
#: every share and every exposure (Parquet, streamed), and per cascade its size and depth
#: (Parquet + CSV)
SHARES, EXPOSURES, CASCADES = EXPORT_TABLES = ("shares", "exposures", "cascades")

__all__ = ["DONE", "JOB_FILE", "JOB_TABLES", "RUNS", "POSTS", "SERIES", "SWEEP_TABLES", "RESULTS",
           "SUMMARY", "CATEGORIES", "SWEEP_FILE", "CACHE_DIR", "PLOT_FILE", "REACH_PLOT",
           "PREVENTED_PLOT", "REMOVAL_PLOT", "OVER_TIME_PLOT", "CATEGORY_PLOT",
           "REPORT_FILE", "CALIBRATION_TABLE", "CALIBRATION_FILE", "CALIBRATION_PLOT",
           "PLOTS", "LOCK_FILE", "SHARES", "EXPOSURES", "CASCADES", "EXPORT_TABLES", "BOOKKEEPING",
           "aggregate_files", "holds_results", "remove_aggregates",
           "remove_if_only_hydra"]


def aggregate_files(out_dir: str | os.PathLike[str]) -> list[Path]:
    """The aggregates a sweep (or a single run's folder) may hold: the :data:`SWEEP_TABLES` as
    Parquet + CSV, the :data:`PLOTS` as PNG + SVG and :data:`REPORT_FILE` (whether they exist
    or not)."""
    d = Path(out_dir)
    return ([d / f"{t}.{ext}" for t in SWEEP_TABLES for ext in ("parquet", "csv")]
            + [d / f"{p}.{ext}" for p in PLOTS for ext in ("png", "svg")] + [d / REPORT_FILE])


def holds_results(out_dir: str | os.PathLike[str]) -> bool:
    """Whether a sweep folder holds results: a finished job (a job folder with its :data:`DONE`
    marker) or any aggregate (:func:`aggregate_files`). Only such a folder is protected by the
    config hash in its :data:`SWEEP_FILE`; a sweep that failed before any job finished leaves
    nothing to protect, and the next sweep into the folder replaces its record."""
    d = Path(out_dir)
    if any(f.exists() for f in aggregate_files(d)):
        return True
    try:
        return any((j / DONE).is_file() for j in d.iterdir() if j.is_dir())
    except OSError:
        return False


def remove_aggregates(out_dir: str | os.PathLike[str]) -> list[Path]:
    """Remove a folder's aggregates (:func:`aggregate_files`), so that none from an earlier or a
    failed aggregation looks current; returns the files removed.

    Every file is tried, even after one fails, so that as few stale aggregates as possible
    remain. Then, if any could not be removed, raises one :class:`OSError` whose ``strerror``
    names each of them and why, in one line (``summary.csv: Permission denied, report.html:
    ...``); its ``errno`` is the first failure's."""
    removed = []
    failed: list[tuple[Path, OSError]] = []
    for f in aggregate_files(out_dir):
        try:
            f.unlink()
            removed.append(f)
        except FileNotFoundError:
            pass
        except OSError as e:
            failed.append((f, e))
    if failed:
        why = ", ".join(f"{f.name}: {e.strerror or e}" for f, e in failed)
        raise OSError(failed[0][1].errno, why)
    return removed


#: what spreadsim writes to run a sweep, not its results: the sweep record, the sweep lock and
#: the trace cache (its traces and per-seed locks can be recomputed)
BOOKKEEPING = (SWEEP_FILE, LOCK_FILE, CACHE_DIR)


def _only_hydra_files(path: Path, job_name: str) -> bool:
    for p in path.iterdir():
        if p.is_dir() and not p.is_symlink():
            if p.name in (".hydra", CACHE_DIR):
                continue
            if not _only_hydra_files(p, job_name):
                return False
        elif p.name not in ("multirun.yaml", f"{job_name}.log", SWEEP_FILE, LOCK_FILE):
            return False
    return True


def remove_if_only_hydra(path: str | os.PathLike[str], job_name: str = "spreadsim", *,
                         keep_top: bool = False) -> bool:
    """Remove an output folder if it holds nothing but Hydra's own files (``.hydra``,
    ``multirun.yaml``, the log) and spreadsim's :data:`BOOKKEEPING` (:data:`SWEEP_FILE`,
    :data:`LOCK_FILE`, the trace cache :data:`CACHE_DIR`): no job's tables, no aggregate.

    Parameters
    ----------
    path : path-like
        A job or sweep folder.
    job_name : str
        Hydra's job name (its log file is ``<job_name>.log``).
    keep_top : bool
        Remove only what is inside ``path`` and keep the folder itself (one that existed before
        the run, such as an empty folder the user made and gave as ``hydra.sweep.dir``).

    Returns
    -------
    bool
        True if the folder (or, with ``keep_top``, its content) was removed.
    """
    p = Path(path)
    if not (p.is_dir() and _only_hydra_files(p, job_name)):
        return False
    if keep_top:
        for child in p.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    else:
        shutil.rmtree(p)
    return True
