"""The Hydra callback: every job's config checked before any job starts; a sweep aggregated when it ends."""

from __future__ import annotations

import functools
import json
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from spreadsim.app.messages import exception_line
from spreadsim.app.sweepcheck import check_sweep, expected_jobs
from spreadsim.app.task import config_text, task_container
from spreadsim.errors import ConfigError, DataError
from spreadsim.outputs.aggregate import find_job_dirs
from spreadsim.outputs.io import atomic_write_bytes
from spreadsim.outputs.layout import CACHE_DIR, REPORT_FILE, SWEEP_FILE, remove_if_only_hydra
from spreadsim.outputs.sweep_outputs import write_sweep_outputs
from spreadsim.outputs.tables import format_summary
from spreadsim.runs.jobspec import InvalidConfig, SweepFailed, check_job_config

__all__ = ["LOG_FAILURES", "AggregateCallback", "cleanup_failed_sweep", "output_dir",
           "quiet_log_errors"]

log = logging.getLogger(__name__)

_ACTIVE: dict[str, Any] = {}  # the main process's current sweep folder, for clean-up on failure
#: the first failure to write a log line in this process (a full disk, a read-only log folder)
LOG_FAILURES: list[str] = []


def _log_failed(handler: logging.Handler, record: logging.LogRecord) -> None:
    """``Handler.handleError`` for Hydra's handlers: the first failure is kept (the command
    reports it in one line), instead of a ``--- Logging error ---`` traceback on stderr per line."""
    if not LOG_FAILURES:
        where = getattr(handler, "baseFilename", None) or type(handler).__name__
        LOG_FAILURES.append(f"cannot write the log {where}: {exception_line(sys.exc_info()[1] or OSError())}")


def quiet_log_errors() -> None:
    """Make the root logger's handlers (Hydra's console and file handlers) report a failed write
    through :data:`LOG_FAILURES` instead of printing a traceback."""
    for h in logging.getLogger().handlers:
        h.handleError = functools.partial(_log_failed, h)  # type: ignore[method-assign]


class AggregateCallback(Callback):
    """Hydra callback: validate before anything runs, aggregate a sweep when it ends.

    ``on_run_start`` checks the composed config; ``on_multirun_start`` checks the sweep
    (:func:`~spreadsim.app.sweepcheck.check_sweep`: the launcher's settings and every job's
    config), so that bad input fails before any job starts and leaves no folder behind.
    ``on_multirun_end`` reads the sweep's job folders and writes ``results``, ``summary``, the
    plots and ``report.html`` into the sweep folder, then prints the summary.

    Hydra 1.3 turns an ``Exception`` raised in a callback into a warning and carries on, so bad
    input is raised as :class:`~spreadsim.runs.sweep.InvalidConfig` (a ``BaseException``), which
    the ``spreadsim`` command prints as one line.
    """

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        quiet_log_errors()  # (Hydra has configured the job's logging by now)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _ACTIVE["run_dir"] = str(config.hydra.run.dir)
        try:
            check_job_config(task_container(config))
        except (ConfigError, DataError) as e:
            raise InvalidConfig(str(e)) from None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        quiet_log_errors()
        _ACTIVE["sweep_dir"] = str(config.hydra.sweep.dir)
        _ACTIVE["job_name"] = str(config.hydra.job.name)
        tic = time.perf_counter()
        try:
            check_sweep(config)
        except (ConfigError, DataError) as e:
            raise InvalidConfig(str(e)) from None
        n = expected_jobs(config)
        log.debug("sweep checked in %.2f s", time.perf_counter() - tic)
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            sweep_dir.mkdir(parents=True, exist_ok=True)
            _ACTIVE["start"] = time.time()
            info = {"jobs": n, "start_time": _ACTIVE["start"], "seeds": config.get("seeds")}
            atomic_write_bytes(sweep_dir / SWEEP_FILE, (json.dumps(info) + "\n").encode())
        except (OSError, DataError) as e:  # (Hydra would turn an Exception into a warning)
            raise SweepFailed(f"cannot write the sweep folder {sweep_dir}: "
                              f"{exception_line(e)}") from None
        log.info("sweep: %s jobs x %s seeds -> %s", "?" if n is None else n,
                 config.get("seeds"), sweep_dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            self._aggregate(config, sweep_dir)
        except Exception as e:  # noqa: BLE001 - Hydra would turn it into a warning and exit 0
            raise SweepFailed(f"sweep {sweep_dir}: aggregation failed: {exception_line(e)}") \
                from None

    def _aggregate(self, config: DictConfig, sweep_dir: Path) -> None:
        if config.get("calibration") is not None:  # one calibration per job: no tables to join
            _ACTIVE.pop("sweep_dir", None)
            for f in sorted(sweep_dir.glob("*/calibration.json")):
                sys.stdout.write(f"{f.parent.name}: {json.loads(f.read_text())['line']}\n")
            sys.stdout.flush()
            return
        expected = expected_jobs(config)
        dirs = find_job_dirs(sweep_dir, expected)
        svg = bool((config.get("plots") or {}).get("svg", False))
        summary, params = write_sweep_outputs(sweep_dir, dirs, svg=svg,
                                              config_text=config_text(config))
        _ACTIVE.pop("sweep_dir", None)
        if expected is not None and len(dirs) == expected:  # complete: the traces are not needed
            shutil.rmtree(sweep_dir / CACHE_DIR, ignore_errors=True)
        start = _ACTIVE.pop("start", None)
        took = f" in {time.time() - start:.1f} s" if start is not None else ""
        log.info("sweep finished%s: %d jobs aggregated into %s", took, len(dirs), sweep_dir)
        sys.stdout.write(format_summary(summary, params))
        sys.stdout.write(f"report: {(sweep_dir / REPORT_FILE).resolve()}\n")
        sys.stdout.write(f"results: {sweep_dir.resolve()}\n")
        sys.stdout.flush()


def output_dir() -> str | None:
    """The current sweep's (or single run's) output folder, for messages."""
    return _ACTIVE.get("sweep_dir") or _ACTIVE.get("run_dir")


def cleanup_failed_sweep() -> None:
    """Remove the current sweep folder if a failed sweep left only Hydra's files in it."""
    d = _ACTIVE.pop("sweep_dir", None)
    if d is not None:
        remove_if_only_hydra(d, _ACTIVE.get("job_name", "spreadsim"))
