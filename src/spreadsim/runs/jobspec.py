"""A job's config: the keys a job takes, their check before anything runs, and its hash.

:func:`check_job_config` checks a whole job config (the composed app config as plain containers:
the world, the run settings, an optional ``calibration`` block, or several ``platforms``) through
the schema and returns a :class:`JobSpec`; :func:`config_hash` identifies a finished job (resume).
The errors a job reports to the command line (:class:`JobError`, :class:`InvalidConfig`) live here
too, so that the app and the runners share them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from spreadsim.errors import ConfigError
from spreadsim.graphs import check_graph_config
from spreadsim.outputs.io import canonical as _canonical
from spreadsim.policies import check_stack, make_policies
from spreadsim.runs.multiconfig import MultiConfig
from spreadsim.schema.checks import check_keys
from spreadsim.schema.config import SIM_KEYS, SimConfig
from spreadsim.schema.fields import describe, parse
from spreadsim.schema.model import CalibrationSettings, RunSettings
from spreadsim.schema.platforms import MULTI_KEYS
from spreadsim.version import __version__

#: the run settings of a job (schema.model.RunSettings)
RUN_KEYS = tuple(info.name for info in describe(RunSettings))
TOP_KEYS = ("graph", "spread", "scenario", "policy", *RUN_KEYS, "max_events", "calibration",
            "platforms", "cross_posting", "hash_sharing")
# keys that change how results are shown or where they go, not what they are: left out of the
# job hash (and of a sweep's); target_round only sets reference figures beside the results
PRESENTATION_KEYS = ("plots", "overwrite", "target_round")

__all__ = ["RUN_KEYS", "TOP_KEYS", "MULTI_KEYS", "SIM_KEYS", "PRESENTATION_KEYS", "JobSpec", "JobError",
           "InvalidConfig", "SweepFailed", "check_job_config", "check_calibration", "calibration_kind", "config_hash",
           "set_dotted", "read_config", "load_config"]


class JobError(ValueError):
    """A job failed on bad input; a plain one-line message that survives pickling between
    processes (unlike :class:`~spreadsim.errors.ConfigError`, whose constructor takes 3 fields)."""


class InvalidConfig(BaseException):  # noqa: N818 - not an Exception on purpose
    """Bad input found by the app's callback (:class:`spreadsim.app.callback.AggregateCallback`)
    before any job started.

    Hydra 1.3 turns an ``Exception`` raised in a callback into a warning and carries on, so the
    callback raises this ``BaseException`` instead; the ``spreadsim`` command catches it and prints
    its one-line message.
    """


class SweepFailed(BaseException):  # noqa: N818 - not an Exception on purpose
    """A sweep that could not be run or finished for a reason other than bad input: its folder
    is held by another sweep or holds another sweep's results, or its outputs could not be
    written or aggregated. One line; a ``BaseException`` for the same reason as
    :class:`InvalidConfig` (raised from Hydra's callbacks); the command exits with status 1."""


@dataclass(frozen=True)
class JobSpec:
    """A validated job: the simulation config, the paired seeds and whether to run baselines."""

    sim: SimConfig | None
    seeds: tuple[int, ...]
    baseline: bool
    deadline_path: str = "auto"
    multi: MultiConfig | None = None  # several platforms (spreadsim.runs.platforms) instead of ``sim``
    calibration: CalibrationSettings | None = None  # an SLA calibration job


def check_job_config(cfg: Mapping[str, Any]) -> JobSpec:
    """Validate a whole job config (the composed app config as plain containers).

    Parameters
    ----------
    cfg : Mapping
        The world (``graph``, ``spread``, ``scenario``, ``policy``, ``max_events``, as for
        :meth:`SimConfig.from_dict`; or ``platforms`` with ``cross_posting``/``hash_sharing`` for
        several platforms), the run settings (:class:`~spreadsim.schema.model.RunSettings`:
        ``seed``, ``seeds``, ``baseline``, ``deadline_path``, ``plots``) and ``calibration``
        (:class:`~spreadsim.schema.model.CalibrationSettings`, or null). A key left out takes the schema's
        default.

    Returns
    -------
    JobSpec

    Raises
    ------
    ConfigError
        One line naming the first bad field, its value and what is allowed.
    """
    if not isinstance(cfg, Mapping):
        raise ConfigError("config", cfg, "must be a mapping")
    check_keys("", cfg, TOP_KEYS)
    run = parse(RunSettings, {k: cfg[k] for k in RUN_KEYS if k in cfg}, "")
    seeds = tuple(range(run.seed, run.seed + run.seeds))
    if cfg.get("platforms") is not None:
        for k in ("graph", "policy", "calibration"):
            if cfg.get(k) is not None:
                raise ConfigError(k, cfg[k], "not used with platforms: each platform has its own "
                                  "graph and policy (set it to null)")
        if run.baseline:
            raise ConfigError("baseline", run.baseline, "must be false for a multi-platform run "
                              "(there is no paired unmoderated twin yet)")
        if run.export != "none":
            raise ConfigError("export", run.export, "must be none for a multi-platform run (each "
                              "platform's cascades cannot be exported yet)")
        multi = MultiConfig.from_dict({k: cfg[k] for k in MULTI_KEYS if cfg.get(k) is not None})
        return JobSpec(None, seeds, False, "off", multi)
    for k in ("cross_posting", "hash_sharing"):
        if cfg.get(k) is not None:
            raise ConfigError(k, cfg[k], "only used with platforms (a multi-platform run)")
    sim = SimConfig.from_dict({k: cfg[k] for k in SIM_KEYS if k in cfg})
    n_users = check_graph_config(sim.graph)  # every parameter, without building the graph
    if n_users is not None and sim.scenario.uploaders > n_users:  # (as the engine checks it)
        raise ConfigError("scenario.uploaders", sim.scenario.uploaders,
                          f"must be <= the number of users ({n_users})")
    policies = make_policies(sim.policies)
    check_stack(policies)
    for p in policies:  # each policy against the scenario (as binding it to a run would)
        p.check_scenario(sim.scenario)
    calibration = None
    if cfg.get("calibration") is not None:
        calibration = check_calibration(cfg)
        if run.export != "none":
            raise ConfigError("export", run.export, "must be none for a calibration (it runs many "
                              "configs and exports none of them; export from a single run instead)")
        if run.seeds < 2:
            raise ConfigError("seeds", run.seeds, "must be at least 2 for a calibration (for an interval)")
    return JobSpec(sim, seeds, run.baseline, run.deadline_path, None, calibration)


def _lookup(cfg: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted path (list items by index); KeyError if a part is missing."""
    node: Any = cfg
    for part in dotted.split("."):
        if isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            raise KeyError(part)
    return node


def calibration_kind(cfg: Mapping[str, Any]) -> str:
    """``latency`` (continuous lever: its name ends in ``_h`` or its value is a float) or ``count``
    (an integer lever such as ``policy.moderators``)."""
    lever = str(cfg["calibration"]["lever"])
    value = _lookup(cfg, lever)
    if lever.endswith("_h") or not isinstance(value, int) or isinstance(value, bool):
        return "latency"
    return "count"


def check_calibration(cfg: Mapping[str, Any]) -> CalibrationSettings:
    """Validate the ``calibration`` block of an SLA calibration config against the job it moves:
    the lever must name a number of the policy, and the ends of the search must be values the
    lever may take.

    Raises
    ------
    ConfigError
    """
    cal = parse(CalibrationSettings, cfg["calibration"], "calibration")
    try:
        value = _lookup(cfg, cal.lever)
    except KeyError:
        raise ConfigError("calibration.lever", cal.lever, "no such key in the composed config") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError("calibration.lever", cal.lever, f"must name a number (it holds {value!r})")
    if calibration_kind(cfg) == "latency":
        ends: dict[str, float] = {"max": cal.latency_max()}
    else:
        lo, hi = cal.count_range()
        ends = {"min": lo, "max": hi}
    # the ends of the search must be values the lever may take
    for end, v in ends.items():
        trial = copy.deepcopy({k: x for k, x in cfg.items() if k != "calibration"})
        set_dotted(trial, cal.lever, v)
        try:
            check_job_config(trial)
        except ConfigError as e:
            raise ConfigError(f"calibration.{end}", v, f"not a value {cal.lever} may take: "
                              f"{e.allowed}") from None
    return cal


def config_hash(cfg: Mapping[str, Any]) -> str:
    """Stable hash of a job config (and the spreadsim version), to recognise finished jobs.

    Parameters
    ----------
    cfg : Mapping
        The job config as plain containers.

    Returns
    -------
    str
        Hex SHA-256 of the canonical JSON.
    """
    kept = {k: v for k, v in cfg.items() if k not in PRESENTATION_KEYS}
    text = json.dumps({"config": _canonical(kept), "version": __version__}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def set_dotted(d: Any, key: str, value: Any) -> None:
    """Set ``value`` at a dotted key (list items by index, e.g. ``policy.1.referral_prob``)."""
    parts = key.split(".")
    for i, p in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(d, list):
            j = int(p) if p.lstrip("-").isdigit() else None
            if j is None or not -len(d) <= j < len(d):
                raise ConfigError(".".join(parts[: i + 1]), value, f"no item {p} in a list of {len(d)}")
            if last:
                d[j] = value
            else:
                d = d[j]
            continue
        if last:
            d[p] = value
        else:
            if not isinstance(d.get(p), dict | list):
                d[p] = {}
            d = d[p]


def read_config(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """A job config as plain containers, unchecked: a YAML file (a path, or a string naming an
    existing file or ending in ``.yaml``/``.yml``), YAML text, or a mapping (copied).

    Raises
    ------
    ConfigError
        A file that cannot be read, text that is not YAML, or YAML that is not a mapping (field
        ``config``).
    """
    if isinstance(source, Mapping):
        return copy.deepcopy(dict(source))
    text = str(source)
    # a path object, or a string naming a file or a .yaml file: a file; any other string: YAML
    if isinstance(source, os.PathLike) or ("\n" not in text and (
            Path(text).is_file() or text.endswith((".yaml", ".yml")))):
        path = Path(source)
        try:
            text = path.read_text()
        except OSError as e:
            raise ConfigError("config", str(path), f"cannot be read ({e.strerror or e})") from None
    try:
        cfg = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError("config", text[:60], f"is not YAML ({str(e).splitlines()[0]})") from None
    if cfg is None:
        return {}
    if not isinstance(cfg, Mapping):
        raise ConfigError("config", text[:60], "must be a mapping of config keys")
    return dict(cfg)


def load_config(source: str | os.PathLike[str] | Mapping[str, Any]) -> JobSpec:
    """A whole job config, checked: what ``spreadsim ... --cfg job`` prints, as a YAML file (a path,
    or a string naming an existing file or ending in ``.yaml``/``.yml``), YAML text or a mapping
    (read by :func:`read_config`).

    The result runs through the Python API: ``spreadsim.simulate(spec.sim, seed=spec.seeds[0],
    baseline=spec.baseline)`` is the job's first run, :func:`spreadsim.runs.job.run_job` the whole
    job.

    Raises
    ------
    ConfigError
        A file that cannot be read or is not YAML (field ``config``), or the first bad field.
    """
    return check_job_config(read_config(source))
