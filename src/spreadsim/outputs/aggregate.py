"""Finished job folders joined into one results table (one row per job x seed).

Works on folders alone (no Hydra): a job folder as :mod:`spreadsim.outputs.layout` describes it,
whoever wrote it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from spreadsim.outputs.columns import Table, plain, rows_to_columns
from spreadsim.outputs.io import read_table
from spreadsim.outputs.layout import DONE, JOB_FILE, RUNS
from spreadsim.outputs.tables import SUMMARY_COLUMNS, TARGET_COLUMNS, coc_targets
from spreadsim.schema.values import swept_value

__all__ = ["find_job_dirs", "aggregate"]


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
        ``config.<key>`` if the key is also a result column, e.g. ``config.seed``; an hours value
        given as text, ``never``, is the number, ``inf``: :func:`~spreadsim.schema.values.swept_value`),
        then ``job`` and every column of the ``runs`` tables; for a job whose config sets a Code
        of Conduct monitoring round (``target_round``, as ``experiment=coc_2017`` does), the
        round's figures (:data:`~spreadsim.outputs.tables.TARGET_COLUMNS`).
    params : list of str
        The parameter column names.
    """
    rows: list[dict[str, Any]] = []
    params: list[str] = []
    for d in map(Path, job_dirs):
        job = json.loads((d / JOB_FILE).read_text())
        runs = read_table(d / RUNS)
        reserved = {"job", *runs, *SUMMARY_COLUMNS, *TARGET_COLUMNS}
        p = {(f"config.{k}" if k in reserved else k): _decode(k, v)
             for k, v in job["params"].items()}
        targets = coc_targets((job.get("config") or {}).get("target_round"))
        params.extend(k for k in p if k not in params)
        n = len(runs["seed"])
        for i in range(n):
            rows.append({**p, "job": job["job_num"], **{k: plain(v[i]) for k, v in runs.items()},
                         **targets})
    return rows_to_columns(rows), params


def _decode(key: str, v: Any) -> Any:
    """A parameter value from ``job.json`` (non-finite floats are stored as their repr; an hours
    value written as a word by an earlier version is its number)."""
    if isinstance(v, str) and v in ("inf", "-inf", "nan"):
        return float(v)
    return swept_value(key, v)
