"""Progress lines of a running job and sweep: seeds done in a job, jobs finished in a sweep, ETA,
and a line every ``PROGRESS_EVERY_S`` seconds while one long step (a seed's run, a graph build)
runs (:func:`heartbeat`).

Written to the ``spreadsim.sweep`` logger, as are the job runner's lines
(:mod:`spreadsim.runs.job`): the name these log lines had before the package was split into
subpackages, which ``benchmarks/bench_sweep.py`` reads.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from spreadsim.outputs.layout import DONE, SWEEP_FILE

log = logging.getLogger("spreadsim.sweep")

PROGRESS_EVERY_S = 10.0  # at most one per-seed progress line per job this often

__all__ = ["PROGRESS_EVERY_S", "SeedTicker", "heartbeat", "hms", "sweep_progress"]

# the labels of the steps under way in this process, innermost last: only the innermost one's
# heartbeat logs (a graph build inside a seed's run says "building the graph", not both)
_STEPS: list[str] = []
_STEPS_LOCK = threading.Lock()


@contextlib.contextmanager
def heartbeat(label: str, every: float | None = None) -> Iterator[None]:
    """Log ``<label>: still running, elapsed h:mm:ss`` every ``every`` seconds (default
    :data:`PROGRESS_EVERY_S`) while the block runs, from a daemon thread.

    The thread needs the interpreter between the steps' own calls: a compiled call that holds
    the GIL delays the line until it returns.
    """
    every = PROGRESS_EVERY_S if every is None else every
    stop = threading.Event()
    start = time.perf_counter()
    with _STEPS_LOCK:
        _STEPS.append(label)

    def beat() -> None:
        while not stop.wait(every):
            with _STEPS_LOCK:
                innermost = bool(_STEPS) and _STEPS[-1] == label
            if innermost:
                log.info("%s: still running, elapsed %s", label,
                         hms(time.perf_counter() - start))

    thread = threading.Thread(target=beat, name=f"spreadsim-heartbeat: {label}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        with _STEPS_LOCK:
            if label in _STEPS:
                del _STEPS[len(_STEPS) - 1 - _STEPS[::-1].index(label)]
        thread.join()


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
