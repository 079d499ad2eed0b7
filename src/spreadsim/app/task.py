"""The ``spreadsim`` task function's body: a composed Hydra config to plain containers, one job run."""

from __future__ import annotations

import copy
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write

from spreadsim.app.console import command_line, graph_line, mark_compiled
from spreadsim.app.messages import first_line
from spreadsim.errors import ConfigError, DataError, OutputError
from spreadsim.outputs.answer import calibration_answer
from spreadsim.outputs.layout import CACHE_DIR, CALIBRATION_FILE, REPORT_FILE, remove_if_only_hydra
from spreadsim.outputs.report import config_yaml
from spreadsim.outputs.sweep_outputs import Outputs, write_outputs
from spreadsim.outputs.tables import format_summary
from spreadsim.runs.calibration import run_calibration
from spreadsim.runs.job import remove_job_files, run_job
from spreadsim.runs.jobspec import JobError

__all__ = ["config_text", "experiment_name", "hydra_job", "override_params", "print_answer",
           "task_container"]

log = logging.getLogger(__name__)

#: run folders (``hydra.run.dir``) that existed before this process's run: kept on failure
PREEXISTING: set[str] = set()
#: the sweep's main process id, set by the callback before any worker starts (workers inherit it)
MAIN_PID_ENV = "SPREADSIM_SWEEP_PID"
#: how often a worker checks that the sweep's main process is still its parent (seconds)
PARENT_CHECK_S = 0.5
_WATCHING: list[int] = []


def watch_parent() -> None:
    """In a worker process of a local launcher (a child of the sweep's main process): a daemon
    thread that ends the worker at once when the main process is gone (the worker is then
    re-parented), so that a killed sweep leaves no worker running or blocked on a pipe. Does
    nothing in the main process or where the jobs are not its children (Slurm, Ray)."""
    try:
        main_pid = int(os.environ.get(MAIN_PID_ENV, "0"))
    except ValueError:
        return
    if _WATCHING or main_pid <= 0 or main_pid == os.getpid() or os.getppid() != main_pid:
        return
    _WATCHING.append(main_pid)

    def watch() -> None:
        while os.getppid() == main_pid:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)  # the main process died: nobody will read this worker's results

    threading.Thread(target=watch, name="spreadsim-parent-watch", daemon=True).start()


def task_container(config: DictConfig) -> dict[str, Any]:
    """The composed config without its ``hydra`` node, as resolved plain containers.

    This is what a job runs: :func:`spreadsim.runs.jobspec.check_job_config` and
    :func:`spreadsim.runs.job.run_job` take it as it is.

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


def config_text(config: DictConfig) -> str:
    """The task config as YAML for the report, headed by the sweep's overrides."""
    head = []
    if "hydra" in config:
        try:
            over = [str(o) for o in config.hydra.overrides.task]
            params = dict(config.hydra.sweeper.get("params") or {})
        except Exception:  # noqa: BLE001 - a report must not fail on an unusual sweeper
            over, params = [], {}
        head += [f"# sweep: {k}={v}" for k, v in params.items()]
        if over:
            head.append("# command-line overrides: " + " ".join(over))
    body = config_yaml(task_container(config))
    return "\n".join(head) + ("\n" if head else "") + body


def experiment_name(config: DictConfig | None = None) -> str | None:
    """The experiment Hydra composed (``latency_sweep``, ``coc_2017``...), if any."""
    try:
        choices = (config.hydra.runtime.choices if config is not None and "hydra" in config
                   else HydraConfig.get().runtime.choices)
        name = choices.get("experiment")
    except Exception:  # noqa: BLE001 - outside a Hydra run: no experiment
        return None
    return None if name is None else str(name)


def print_answer(outputs: Outputs, folder: Path) -> None:
    """What a finished run or sweep prints: the summary table, the answer block, where the
    report and the results are."""
    sys.stdout.write(format_summary(outputs.summary, outputs.params))
    sys.stdout.write(outputs.answer.text())
    sys.stdout.write(f"report: {outputs.report.resolve()}\n")
    sys.stdout.write(f"results: {folder.resolve()}\n")
    sys.stdout.flush()
    mark_compiled()


def _is_param(override: Any) -> bool:
    key = override.key_or_group
    return not (override.is_delete() or key.startswith("hydra") or key == "experiment"
                or key == "overwrite" or override.package)


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
    for o in OverridesParser.create().parse_overrides(list(overrides)):
        if not _is_param(o):
            continue
        key = o.key_or_group
        v = OmegaConf.select(cfg, key, default=None)
        if v is None or isinstance(v, DictConfig | ListConfig):
            v = o.value()
            v = v if isinstance(v, int | float | str | bool) else str(v)
        out[key] = v
    return out


def _abs_dir(d: str, cwd: str) -> Path:
    p = Path(d)
    return p if p.is_absolute() else Path(cwd) / p


def hydra_job(cfg: DictConfig) -> None:
    """Body of the ``spreadsim`` task function: run one job into Hydra's job output folder.

    In ``RUN`` mode the job folder is also aggregated (tables, plots, ``report.html``) and the
    summary printed. With a ``calibration`` block the job is an SLA calibration
    (:func:`run_calibration`). On bad input the folder is removed if it holds only Hydra's own
    files and a :class:`~spreadsim.runs.jobspec.JobError` is raised.

    Parameters
    ----------
    cfg : DictConfig
        The composed task config.
    """
    hc = HydraConfig.get()
    watch_parent()
    out = Path(hc.runtime.output_dir)
    overrides = list(hc.overrides.task)
    multirun = hc.mode == RunMode.MULTIRUN
    sweep_dir = _abs_dir(str(hc.sweep.dir), str(hc.runtime.cwd)) if multirun else None
    try:
        plain = task_container(cfg)
        svg = bool((plain.get("plots") or {}).get("svg", False))
        if plain.get("calibration") is not None:
            run_calibration(plain, out, svg=svg, config_text=config_text(cfg),
                            meta={"experiment": experiment_name(), "command": command_line(),
                                  "graph": graph_line(plain)})
            said = calibration_answer(json.loads((out / CALIBRATION_FILE).read_text()))
            sys.stdout.write(said.text())
            sys.stdout.write(f"report: {(out / REPORT_FILE).resolve()}\n")
            sys.stdout.write(f"results: {out.resolve()}\n")
            sys.stdout.flush()
            mark_compiled()
            return
        params = override_params(overrides, cfg)
        job_num = int(hc.job.num) if multirun else 0
        run_job(plain, out, params=params, overrides=overrides, job_num=job_num,
                cache_dir=None if sweep_dir is None else sweep_dir / CACHE_DIR,
                sweep_dir=sweep_dir)
    except (ConfigError, DataError) as e:
        remove_if_only_hydra(out, hc.job.name, keep_top=str(out.absolute()) in PREEXISTING)
        if isinstance(e, OutputError):  # (a plain one-line error; pickles between processes)
            raise
        raise JobError(str(e)) from None
    if not multirun:
        try:
            outputs = write_outputs(out, [out], svg=svg, config_text=config_text(cfg),
                                    experiment=experiment_name(), command=command_line(),
                                    graph=graph_line(plain))
        except Exception as e:
            try:  # a run that failed leaves none of its results behind
                remove_job_files(out)
                remove_if_only_hydra(out, hc.job.name, keep_top=str(out.absolute()) in PREEXISTING)
            except OSError:
                pass
            if isinstance(e, DataError):
                raise
            raise OutputError(f"run {out}: aggregation failed: {type(e).__name__}: "
                              f"{first_line(str(e))}") from None
        print_answer(outputs, out)
