"""The ``spreadsim`` task function's body: a composed Hydra config to plain containers, one job run."""

from __future__ import annotations

import copy
import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write

from spreadsim.errors import ConfigError, DataError
from spreadsim.outputs.io import atomic_write_bytes, canonical, write_table
from spreadsim.runs.sweep import (
    CACHE_DIR,
    REPORT_FILE,
    SIM_KEYS,
    JobError,
    calibration_kind,
    check_job_config,
    format_summary,
    remove_if_only_hydra,
    run_job,
    write_sweep_outputs,
)
from spreadsim.version import __version__

__all__ = ["config_text", "hydra_job", "override_params", "run_calibration", "task_container",
           "to_yaml"]

log = logging.getLogger(__name__)


def task_container(config: DictConfig) -> dict[str, Any]:
    """The composed config without its ``hydra`` node, as resolved plain containers.

    This is what a job runs: :func:`spreadsim.runs.sweep.check_job_config` and
    :func:`spreadsim.runs.sweep.run_job` take it as it is.

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


def to_yaml(obj: Any) -> str:
    """Plain containers as YAML (keys sorted, numpy scalars and infinities as plain values)."""
    return OmegaConf.to_yaml(OmegaConf.create(canonical(obj)))


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
    body = to_yaml(task_container(config))
    return "\n".join(head) + ("\n" if head else "") + body


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
    files and a :class:`~spreadsim.runs.sweep.JobError` is raised.

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
                       (json.dumps(canonical(answer), indent=2) + "\n").encode())
    files = plot_calibration(res.curve, lever=res.lever, target=res.target, value=res.value,
                             ci_low=res.ci_low, ci_high=res.ci_high, stat=res.stat,
                             path=out / "calibration.png", svg=svg)
    shown = [f for f in files if f.suffix == (".svg" if svg else ".png")]
    path = "deadline" if res.path.startswith("deadline") else "simulated"
    write_report(out / REPORT_FILE, title=f"spreadsim SLA calibration: {out}",
                 config_text=config_text or to_yaml(cfg), summary=table, plots=shown,
                 seeds=spec.seeds, paths={path: len(spec.seeds) * len(curve["lever"])},
                 answer=res.line())
    return res
