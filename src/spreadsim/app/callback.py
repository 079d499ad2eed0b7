"""The Hydra callback: every job's config checked before any job starts; a sweep aggregated when it ends."""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from spreadsim.app.console import command_line, compile_note, graph_line, label_own_lines
from spreadsim.app.messages import exception_line
from spreadsim.app.sweepcheck import (
    check_default_sweep,
    check_sweep,
    expected_jobs,
    sweep_hash,
    swept_keys,
)
from spreadsim.app.task import (
    MAIN_PID_ENV,
    PREEXISTING,
    config_text,
    experiment_name,
    print_answer,
    task_container,
)
from spreadsim.errors import ConfigError, DataError
from spreadsim.outputs.aggregate import find_job_dirs
from spreadsim.outputs.io import atomic_write_bytes
from spreadsim.outputs.layout import (
    CACHE_DIR,
    JOB_FILE,
    REPORT_FILE,
    SWEEP_FILE,
    holds_results,
    remove_aggregates,
    remove_if_only_hydra,
)
from spreadsim.outputs.sweep_outputs import write_outputs
from spreadsim.runs.job import remove_job_files
from spreadsim.runs.jobspec import InvalidConfig, SweepFailed, check_job_config
from spreadsim.runs.sweeplock import acquire_sweep_lock

__all__ = ["LOG_FAILURES", "AggregateCallback", "cleanup_failed_sweep", "output_dir",
           "quiet_log_errors", "is_multirun"]

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
    input is raised as :class:`~spreadsim.runs.jobspec.InvalidConfig` (a ``BaseException``), which
    the ``spreadsim`` command prints as one line.
    """

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        quiet_log_errors()  # (Hydra has configured the job's logging by now)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        label_own_lines()  # (Hydra's own logging is in place until the job's starts)
        _ACTIVE["run_dir"] = str(config.hydra.run.dir)
        if Path(_ACTIVE["run_dir"]).exists():  # (a folder the user made is kept on failure)
            PREEXISTING.add(str(Path(_ACTIVE["run_dir"]).absolute()))
        try:
            plain = task_container(config)
            check_job_config(plain)
            _ACTIVE["graph"] = graph_line(plain)  # (the run uses this very graph)
        except (ConfigError, DataError) as e:
            raise InvalidConfig(str(e)) from None
        _start_lines(f"{_graph_heading(plain)}{_ACTIVE['graph']}; outputs -> {_ACTIVE['run_dir']}")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        quiet_log_errors()
        os.environ[MAIN_PID_ENV] = str(os.getpid())  # workers end when this process is gone
        _ACTIVE["sweep_dir"] = str(config.hydra.sweep.dir)
        _ACTIVE["job_name"] = str(config.hydra.job.name)
        label_own_lines()
        tic = time.perf_counter()
        try:
            check_default_sweep(config)
            check_sweep(config)
            swept_graph = any(k.lstrip("+~").split(".")[0].split("/")[0] in ("graph", "platforms")
                              for k in swept_keys(config))
            plain = task_container(config)
            _ACTIVE["graph"] = "swept (see the summary)" if swept_graph else graph_line(plain)
        except (ConfigError, DataError) as e:
            raise InvalidConfig(str(e)) from None
        n = expected_jobs(config)
        log.debug("sweep checked in %.2f s", time.perf_counter() - tic)
        sweep_dir = Path(str(config.hydra.sweep.dir))
        digest = sweep_hash(config)
        try:
            _ACTIVE["created"] = _make_dirs(sweep_dir)
            _ACTIVE["lock"] = acquire_sweep_lock(sweep_dir)
            _check_same_sweep(sweep_dir, digest, bool(config.get("overwrite")))
            _ACTIVE["start"] = time.time()
            info = {"jobs": n, "start_time": _ACTIVE["start"], "seeds": config.get("seeds"),
                    "config_hash": digest}
            atomic_write_bytes(sweep_dir / SWEEP_FILE, (json.dumps(info) + "\n").encode())
        except (OSError, DataError) as e:  # (Hydra would turn an Exception into a warning)
            raise SweepFailed(f"cannot write the sweep folder {sweep_dir}: "
                              f"{exception_line(e)}") from None
        _start_lines(f"{_graph_heading(plain)}{_ACTIVE['graph']}; {'?' if n is None else n} jobs x "
                     f"{config.get('seeds')} seeds; outputs -> {sweep_dir}")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        label_own_lines()  # (the basic launcher's jobs configured their own logging)
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            self._aggregate(config, sweep_dir)
        except Exception as e:  # noqa: BLE001 - Hydra would turn it into a warning and exit 0
            raise SweepFailed(f"sweep {sweep_dir}: aggregation failed: {exception_line(e)}") \
                from None
        _release_lock()

    def _aggregate(self, config: DictConfig, sweep_dir: Path) -> None:
        if config.get("calibration") is not None:  # one calibration per job: no tables to join
            _ACTIVE.pop("sweep_dir", None)
            for f in sorted(sweep_dir.glob("*/calibration.json")):
                sys.stdout.write(f"{f.parent.name}: {json.loads(f.read_text())['line']}\n")
                sys.stdout.write(f"report: {(f.parent / REPORT_FILE).resolve()}\n")
            sys.stdout.flush()
            return
        expected = expected_jobs(config)
        dirs = find_job_dirs(sweep_dir, expected)
        svg = bool((config.get("plots") or {}).get("svg", False))
        outputs = write_outputs(sweep_dir, dirs, svg=svg, config_text=config_text(config),
                                experiment=experiment_name(config), command=command_line(),
                                graph=_ACTIVE.get("graph"))
        _ACTIVE.pop("sweep_dir", None)
        if expected is not None and len(dirs) == expected:  # complete: the traces are not needed
            shutil.rmtree(sweep_dir / CACHE_DIR, ignore_errors=True)
        start = _ACTIVE.pop("start", None)
        took = f" in {time.time() - start:.1f} s" if start is not None else ""
        log.info("sweep finished%s: %d jobs aggregated into %s", took, len(dirs), sweep_dir)
        print_answer(outputs, sweep_dir)


def output_dir() -> str | None:
    """The current sweep's (or single run's) output folder, for messages."""
    return _ACTIVE.get("sweep_dir") or _ACTIVE.get("run_dir")


def is_multirun() -> bool:
    """Whether this process runs a sweep (its folder is :func:`output_dir`)."""
    return "sweep_dir" in _ACTIVE or "run_dir" not in _ACTIVE


def _graph_heading(plain: dict[str, Any]) -> str:
    return "graphs: " if plain.get("platforms") else "graph "


def _start_lines(line: str) -> None:
    """The line at start (the graph, where the outputs go) and, on a first run, the note that
    the kernel compiles."""
    log.info("%s", line)
    note = compile_note()
    if note is not None:
        log.info("%s", note)


def _make_dirs(path: Path) -> list[Path]:
    """``mkdir -p``, returning the folders it created (the clean-up removes only those)."""
    missing = []
    p = path.absolute()
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    path.mkdir(parents=True, exist_ok=True)
    return missing


def _check_same_sweep(sweep_dir: Path, digest: str, overwrite: bool) -> None:
    """Refuse a folder that holds another config's sweep (its recorded hash differs) unless
    ``overwrite``; with it, remove that sweep's files first.

    The rule: the recorded hash protects a folder only once it holds results (a finished job or
    an aggregate, :func:`~spreadsim.outputs.layout.holds_results`). A record left by a sweep
    that failed before any job finished protects nothing: it is replaced."""
    if not holds_results(sweep_dir):
        return
    try:
        earlier = json.loads((sweep_dir / SWEEP_FILE).read_text()).get("config_hash")
    except (OSError, ValueError, AttributeError):
        return  # no earlier sweep here (or one of an earlier version: its jobs' hashes decide)
    if earlier is None or earlier == digest:
        return
    if not overwrite:
        raise SweepFailed(f"sweep folder {sweep_dir} holds the results of another config (sweep "
                          f"hash {earlier[:12]}, this one {digest[:12]}): give another "
                          "hydra.sweep.dir, or add overwrite=true to replace them")
    log.warning("sweep folder %s: overwrite=true: removing the results of another config",
                sweep_dir)
    for d in sweep_dir.iterdir():
        if d.is_dir() and (d / JOB_FILE).is_file():
            remove_job_files(d)
            remove_if_only_hydra(d, _ACTIVE.get("job_name", "spreadsim"))
    remove_aggregates(sweep_dir)
    shutil.rmtree(sweep_dir / CACHE_DIR, ignore_errors=True)


def _release_lock() -> None:
    lock = _ACTIVE.pop("lock", None)
    if lock is not None:
        lock.release()


def cleanup_failed_sweep() -> None:
    """Remove the folders this sweep created if it left only Hydra's files in them (a folder
    that existed before, such as one the user made, is kept, emptied of Hydra's files), then
    release the sweep lock. Nothing is removed unless this sweep held the folder's lock."""
    d = _ACTIVE.pop("sweep_dir", None)
    created = _ACTIVE.pop("created", [])
    if d is None or "lock" not in _ACTIVE:  # not this sweep's folder (another sweep holds it)
        _release_lock()
        return
    job_name = _ACTIVE.get("job_name", "spreadsim")
    path = Path(d).absolute()
    if path in created:
        remove_if_only_hydra(path, job_name)
        for p in created:  # the parents this sweep made, innermost first, if left empty
            if p != path and p.is_dir() and not any(p.iterdir()):
                p.rmdir()
    else:
        remove_if_only_hydra(path, job_name, keep_top=True)
    _release_lock()  # (after the clean-up: no other sweep may start in a folder being removed)
