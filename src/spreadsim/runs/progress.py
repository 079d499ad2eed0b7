"""Progress lines of a running job and sweep: seeds done in a job, jobs finished in a sweep, ETA.

Written to the ``spreadsim.sweep`` logger, as are the job runner's lines
(:mod:`spreadsim.runs.job`): the name these log lines had before the package was split into
subpackages, which ``benchmarks/bench_sweep.py`` reads.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path

from spreadsim.outputs.layout import DONE, SWEEP_FILE

log = logging.getLogger("spreadsim.sweep")

PROGRESS_EVERY_S = 10.0  # at most one per-seed progress line per job this often

__all__ = ["PROGRESS_EVERY_S", "SeedTicker", "hms", "sweep_progress"]


class SeedTicker:
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
                     hms(now - self.start), hms(eta))


def hms(seconds: float | None) -> str:
    """A duration as ``h:mm:ss`` (``?`` if unknown)."""
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
    return f"{finished}/{n} jobs finished, elapsed {hms(elapsed)}, ETA {hms(eta)}"
