"""The Hydra layer of sweeps: the task function body, config checks before any job, launcher
settings and the callback that aggregates a sweep when it ends."""

from __future__ import annotations

import copy
import gc
import json
import logging
import os
import shutil
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write

from spreadsim.engine.simulation import graph_seed
from spreadsim.errors import ConfigError, DataError
from spreadsim.outputs.io import atomic_write_bytes, write_table
from spreadsim.outputs.io import canonical as _canonical
from spreadsim.runs.single import simulate
from spreadsim.runs.sweep import (
    CACHE_DIR,
    REPORT_FILE,
    SIM_KEYS,
    SWEEP_FILE,
    InvalidConfig,
    JobError,
    _yaml,
    calibration_kind,
    check_job_config,
    find_job_dirs,
    format_summary,
    pinned_graph,
    remove_if_only_hydra,
    run_job,
    set_dotted,
    write_sweep_outputs,
)
from spreadsim.version import __version__

log = logging.getLogger(__name__)

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


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, stripped (for one-line error messages)."""
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


#: at most this many workers a core: each worker is a process with the engine loaded (~200 MB)
MAX_WORKERS_PER_CORE = 4


def check_composed_job(config: DictConfig) -> None:
    """Check one job's composed config (Hydra's, ``hydra`` node included) as the job will, before
    any job of the sweep starts (called by spreadsim's sweeper for every job of a batch).

    Raises
    ------
    InvalidConfig
        With the one-line message of the first bad field.
    """
    try:
        check_job_config(task_container(config))
    except (ConfigError, DataError) as e:
        raise InvalidConfig(str(e)) from None


def check_launcher(config: DictConfig) -> None:
    """The launcher's and sweeper's own settings, checked before any worker starts:
    ``hydra.launcher.n_jobs`` (joblib: -1 or another negative number for all cores but some, or
    1 to :data:`MAX_WORKERS_PER_CORE` x the cores), ``hydra.launcher.timeout`` (null or > 0),
    ``hydra.sweeper.max_batch_size`` (null or >= 1), and Slurm's ``srun`` on this machine for
    the Slurm launcher.

    Raises
    ------
    ConfigError
    """
    from spreadsim.schema.checks import integer, number

    launcher = config.hydra.get("launcher") or {}
    if "n_jobs" in launcher:
        cores = os.cpu_count() or 1
        n = launcher.get("n_jobs")
        top = MAX_WORKERS_PER_CORE * cores
        allowed = (f"must be an integer: -1 (a worker per core), another negative number (all "
                   f"cores but some), or 1 to {top} ({MAX_WORKERS_PER_CORE} x the {cores} cores "
                   "here)")
        if isinstance(n, bool) or not isinstance(n, int) or n == 0 or n > top:
            raise ConfigError("hydra.launcher.n_jobs", n, allowed)
    if launcher.get("timeout") is not None:
        number("hydra.launcher.timeout", launcher.get("timeout"), lo=0.0, lo_open=True,
               unit="seconds, or null for none")
    sweeper = config.hydra.get("sweeper") or {}
    if sweeper.get("max_batch_size") is not None:
        integer("hydra.sweeper.max_batch_size", sweeper.get("max_batch_size"), lo=1)
    target = str(launcher.get("_target_", ""))
    if target.endswith(".SlurmLauncher") and shutil.which("srun") is None:
        choice = (config.hydra.get("runtime") or {}).get("choices", {}).get("hydra/launcher", "slurm")
        raise ConfigError("hydra/launcher", choice,
                          "needs Slurm (no 'srun' on this machine's PATH): run the sweep on a "
                          "Slurm login node, or try it here with hydra/launcher=submitit_local")


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


def _abs_dir(d: str, cwd: str) -> Path:
    p = Path(d)
    return p if p.is_absolute() else Path(cwd) / p


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
    body = _yaml(task_container(config))
    return "\n".join(head) + ("\n" if head else "") + body


def hydra_job(cfg: DictConfig) -> None:
    """Body of the ``spreadsim`` task function: run one job into Hydra's job output folder.

    In ``RUN`` mode the job folder is also aggregated (tables, plots, ``report.html``) and the
    summary printed. With a ``calibration`` block the job is an SLA calibration
    (:func:`run_calibration`). On bad input the folder is removed if it holds only Hydra's own
    files and a :class:`JobError` is raised.

    Parameters
    ----------
    cfg : DictConfig
        The composed task config.
    """
    hc = HydraConfig.get()
    out = Path(hc.runtime.output_dir)
    overrides = list(hc.overrides.task)
    multirun = hc.mode == RunMode.MULTIRUN
    sweep_dir = _abs_dir(str(hc.sweep.dir), str(hc.runtime.cwd)) if multirun else None
    try:
        plain = task_container(cfg)
        svg = bool((plain.get("plots") or {}).get("svg", False))
        if plain.get("calibration") is not None:
            cal = run_calibration(plain, out, svg=svg, config_text=config_text(cfg))
            sys.stdout.write(cal.line() + "\n")
            sys.stdout.write(f"results: {out}\n")
            sys.stdout.flush()
            return
        params = override_params(overrides, cfg)
        job_num = int(hc.job.num) if multirun else 0
        run_job(plain, out, params=params, overrides=overrides, job_num=job_num,
                cache_dir=None if sweep_dir is None else sweep_dir / CACHE_DIR,
                sweep_dir=sweep_dir)
    except (ConfigError, DataError) as e:
        remove_if_only_hydra(out, hc.job.name)
        raise JobError(str(e)) from None
    if not multirun:
        summary, params_ = write_sweep_outputs(out, [out], svg=svg, config_text=config_text(cfg),
                                               title=f"spreadsim run: {out}")
        sys.stdout.write(format_summary(summary, params_))
        sys.stdout.write(f"results: {out}\n")
        sys.stdout.flush()


def run_calibration(cfg: Mapping[str, Any], out_dir: str | os.PathLike[str], *, svg: bool = False,
                    config_text: str | None = None) -> Any:
    """Run an SLA calibration (``calibration`` block of ``cfg``) and write its outputs.

    A latency lever (its name ends in ``_h``, or its value is a float) is calibrated with
    :func:`~spreadsim.runs.calibration.calibrate_latency` (the exact deadline path when the policies
    are pure deadlines), an integer lever such as ``policy.moderators`` with
    :func:`~spreadsim.runs.calibration.calibrate_count`. Writes ``calibration`` (the evaluated curve,
    Parquet + CSV), ``calibration.json`` (the answer), ``calibration.png`` and ``report.html``.

    Parameters
    ----------
    cfg : Mapping
        The job config as plain containers, with ``calibration: {target, stat, lever, ...}``.
    out_dir : path-like
        The run folder.
    svg : bool
        Also write the plot as SVG.
    config_text : str, optional
        The configuration for the report.

    Returns
    -------
    spreadsim.runs.calibration.Calibration
    """
    from spreadsim.outputs.plots import plot_calibration
    from spreadsim.outputs.report import write_report
    from spreadsim.runs.calibration import calibrate_count, calibrate_latency

    spec = check_job_config(cfg)
    cal = cfg["calibration"]
    sim = {k: cfg[k] for k in SIM_KEYS if k in cfg}
    kind = calibration_kind(cfg)
    stat = cal.get("stat", "mean")
    tic = time.perf_counter()
    if kind == "latency":
        res = calibrate_latency(sim, spec.seeds, float(cal["target"]), lever=cal["lever"], stat=stat,
                                max_latency_h=float(cal.get("max", 720.0)),
                                tol=float(cal.get("tol", 1e-3)))
    else:
        res = calibrate_count(sim, spec.seeds, float(cal["target"]), lever=cal["lever"], stat=stat,
                              lo=int(cal.get("min", 1)), hi=int(cal.get("max", 256)))
    log.info("calibration: %d points evaluated in %.2f s", len(res.curve.get("lever", [])),
             time.perf_counter() - tic)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    curve = {k: np.asarray(v, dtype=np.float64) for k, v in res.curve.items()}
    table = {cal["lever"]: curve["lever"], f"reach_{stat}": curve["reach"],
             "ci_low": curve["ci_low"], "ci_high": curve["ci_high"]}
    write_table(table, out / "calibration")
    answer = {"lever": res.lever, "target": res.target, "stat": res.stat, "value": res.value,
              "ci_low": res.ci_low, "ci_high": res.ci_high, "path": res.path, "seeds": list(spec.seeds),
              "feasible": res.feasible, "line": res.line(), "version": __version__}
    atomic_write_bytes(out / "calibration.json",
                       (json.dumps(_canonical(answer), indent=2) + "\n").encode())
    files = plot_calibration(res.curve, lever=res.lever, target=res.target, value=res.value,
                             ci_low=res.ci_low, ci_high=res.ci_high, stat=res.stat,
                             path=out / "calibration.png", svg=svg)
    shown = [f for f in files if f.suffix == (".svg" if svg else ".png")]
    path = "deadline" if res.path.startswith("deadline") else "simulated"
    write_report(out / REPORT_FILE, title=f"spreadsim SLA calibration: {out}",
                 config_text=config_text or _yaml(cfg), summary=table, plots=shown,
                 seeds=spec.seeds, paths={path: len(spec.seeds) * len(curve["lever"])},
                 answer=res.line())
    return res



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


JOBLIB_LAUNCHER = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
BASIC_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"


def _warm_worker(cfg: Mapping[str, Any], pin_graph: bool = False) -> int | None:
    """Run in a launcher worker before its first job: import the engine and load its compiled
    functions (numba's first call in a process costs about 1 s) with one run of the sweep's own
    policies on a 60-user graph; with ``pin_graph``, build the config's pinned graph (if
    ``graph.seed`` is set) for :func:`pinned_graph`; then move everything loaded so far out of
    the garbage collector's reach (:func:`gc.freeze`). Best effort: any failure is left to the
    real jobs to report. Returns the process id (None if the warm-up failed).

    The freeze matters: numba, Hydra and the engine leave about 130,000 objects that a full
    collection walks, 130 ms each time, and loky's workers run one after any task that ends more
    than a second after the last (without psutil), i.e. after nearly every job of a sweep;
    frozen, it takes well under a millisecond. Objects created later are collected as usual.
    """
    pid: int | None = None
    try:
        trial = copy.deepcopy(dict(cfg))
        trial["graph"] = {"kind": "barabasi_albert", "n": 60, "m": 2, "seed": 0}
        spec = check_job_config(trial)
        if spec.sim is not None:
            simulate(spec.sim, spec.seeds[0], baseline=False)
            job = check_job_config(cfg).sim if pin_graph else None
            if job is not None and job.graph.get("seed") is not None:
                # the very mapping run_job's graph_for passes, so the jobs find it
                pinned_graph(job.graph, graph_seed(job.graph, spec.seeds[0]))
        pid = os.getpid()
    except Exception:  # noqa: BLE001 - a warm-up must never fail a sweep
        pass
    gc.collect()
    gc.freeze()
    return pid


def joblib_settings(launcher: DictConfig) -> dict[str, Any]:
    """The keyword arguments the joblib launcher gives ``joblib.Parallel`` (its ``launch``)."""
    from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg

    container = OmegaConf.to_container(launcher, resolve=True)
    assert isinstance(container, dict)
    joblib_cfg = {str(k): v for k, v in container.items() if k != "_target_"}
    joblib_cfg["backend"] = "loky"  # hard-coded by the launcher
    process_joblib_cfg(joblib_cfg)
    return joblib_cfg


def _graph_is_fixed(config: DictConfig) -> bool:
    """Whether every job of the sweep has the base config's graph: no sweep over ``graph``,
    ``graph.<key>`` or ``experiment`` (the warm-up then builds a pinned graph for the jobs)."""
    return not any(o.is_sweep_override() and o.get_key_element().lstrip("+~").split(".")[0]
                   in ("graph", "experiment") for o in _sweep_overrides(config))


def prestart_workers(config: DictConfig) -> Any:
    """Get the processes that will run a sweep's jobs ready while Hydra validates the jobs.

    Hydra's sweeper composes job configs in the main process before the launcher starts (0.2-0.4
    s each: one per distinct choice of config groups with spreadsim's sweeper, every job with
    Hydra's basic one); the joblib launcher's workers then take 1.5-2 s to start and import, and
    numba another second at the first run in each process. With the joblib launcher and more
    than one worker, the workers are started here, before that validation, through joblib with the
    launcher's own settings (loky's executor is shared by every ``Parallel`` with the same
    settings, so the launcher's ``Parallel`` reuses them), and each runs :func:`_warm_worker`.
    Nothing is waited for: the returned generator is drained by :func:`_collect_warm_up` when the
    sweep ends. When the jobs run in this process (the basic launcher, or joblib with one
    worker) the warm-up runs here, so that every job of a sweep finds compiled code loaded
    whatever the launcher. Other launchers run their jobs elsewhere: nothing is done (None).
    """
    try:
        launcher = config.hydra.launcher
        target = str(launcher.get("_target_"))
        pin = _graph_is_fixed(config)
        if target == BASIC_LAUNCHER:
            _warm_worker(task_container(config), pin)
            return None
        if target != JOBLIB_LAUNCHER:
            return None
        from joblib import Parallel, delayed

        joblib_cfg = joblib_settings(launcher)
        parallel = Parallel(**joblib_cfg, return_as="generator_unordered")
        n = parallel._effective_n_jobs()
        cfg = task_container(config)
        if n <= 1:  # joblib runs the jobs in this process
            _warm_worker(cfg, pin)
            return None
        warm = parallel(delayed(_warm_worker)(cfg, pin) for _ in range(n))
        _ACTIVE["executor"] = getattr(parallel._backend, "_workers", None)
        return warm
    except Exception:  # noqa: BLE001 - an optimisation: the launcher starts its workers anyway
        log.debug("workers not pre-started", exc_info=True)
        return None


def _stop_workers() -> None:
    """Let the pre-started workers exit while the sweep is aggregated (their interpreters' tear-
    down took 0.5-1 s, waited for at exit) instead of after; joblib starts new ones if asked."""
    executor = _ACTIVE.pop("executor", None)
    if executor is not None:
        try:
            executor.shutdown(wait=False)
        except Exception:  # noqa: BLE001 - loky stops them at exit anyway
            log.debug("workers not stopped early", exc_info=True)


def _collect_warm_up(warm: Any) -> None:
    if warm is None:
        return
    try:
        for _ in warm:
            pass
    except Exception:  # noqa: BLE001 - see _warm_worker
        log.debug("worker warm-up failed", exc_info=True)


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
            plain = task_container(config)
            check_job_config(plain)
        except (ConfigError, DataError) as e:
            raise InvalidConfig(str(e)) from None
        _warm_worker(plain)  # the job runs in this process: compiled code loaded, heap frozen

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _ACTIVE["sweep_dir"] = str(config.hydra.sweep.dir)
        _ACTIVE["job_name"] = str(config.hydra.job.name)
        try:
            self._check_sweep(config)
        except (ConfigError, DataError) as e:
            raise InvalidConfig(str(e)) from None
        sweep_dir = Path(str(config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        n = _expected_jobs(config)
        _ACTIVE["start"] = time.time()
        info = {"jobs": n, "start_time": _ACTIVE["start"], "seeds": config.get("seeds")}
        atomic_write_bytes(sweep_dir / SWEEP_FILE, (json.dumps(info) + "\n").encode())
        log.info("sweep: %s jobs x %s seeds -> %s", "?" if n is None else n,
                 config.get("seeds"), sweep_dir)
        _ACTIVE["warm"] = prestart_workers(config)

    @staticmethod
    def _check_sweep(config: DictConfig) -> None:
        from hydra.core.override_parser.types import Override

        base = task_container(config)
        check_job_config(base)
        check_launcher(config)
        for o in _sweep_overrides(config):
            if not o.is_sweep_override():
                continue
            try:
                empty = not list(o.sweep_string_iterator())
            except Exception:  # noqa: BLE001 - a sweeper-specific form: let the sweeper judge it
                empty = False
            if empty:
                raise ConfigError(o.key_or_group, o.input_line.partition("=")[2] if o.input_line
                                  else "", "empty sweep: it gives no values (nothing to run)")
            if not _is_param(o):
                continue
            key = o.key_or_group
            if "." not in key and isinstance(base.get(key), dict):
                continue  # a config-group sweep: each option is validated by its job
            try:
                values = list(o.sweep_iterator())
            except Exception as e:  # noqa: BLE001 - e.g. glob(), which only selects group options
                raise ConfigError(key, o.input_line.partition("=")[2] if o.input_line else "",
                                  f"cannot expand this sweep ({first_line(str(e))}); a value "
                                  "sweep is a list, range() or choice()") from None
            for v in values:
                trial = copy.deepcopy(base)
                # (a quoted element is a QuotedString: its text is the job's value, as Hydra sets it)
                set_dotted(trial, key, Override._convert_value(v))
                check_job_config(trial)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        _collect_warm_up(_ACTIVE.pop("warm", None))
        _stop_workers()
        sweep_dir = Path(str(config.hydra.sweep.dir))
        if config.get("calibration") is not None:  # one calibration per job: no tables to join
            _ACTIVE.pop("sweep_dir", None)
            for f in sorted(sweep_dir.glob("*/calibration.json")):
                sys.stdout.write(f"{f.parent.name}: {json.loads(f.read_text())['line']}\n")
            sys.stdout.flush()
            return
        expected = _expected_jobs(config)
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


def cleanup_failed_sweep() -> None:
    """Remove the current sweep folder if a failed sweep left only Hydra's files in it, and stop
    the workers started for it."""
    warm = _ACTIVE.pop("warm", None)
    _ACTIVE.pop("executor", None)
    if warm is not None:
        try:
            with warnings.catch_warnings():  # joblib's note on cancelled tasks: not the user's
                warnings.simplefilter("ignore")
                warm.close()  # joblib stops the workers of an abandoned Parallel
        except Exception:  # noqa: BLE001 - they are stopped at exit anyway
            log.debug("workers not stopped", exc_info=True)
    d = _ACTIVE.pop("sweep_dir", None)
    if d is not None:
        remove_if_only_hydra(d, _ACTIVE.get("job_name", "spreadsim"))
