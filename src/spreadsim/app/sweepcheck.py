"""Every job of a sweep, listed as Hydra's basic sweeper lists them, composed and checked before any job starts.

Hydra's basic sweeper makes one job per combination of the swept values (``hydra.sweeper.params``
first, then the command line's overrides, a later one replacing an earlier one of the same key)
and composes each job's config before launching it, but checks only that it composes. Here each
job's config is made with Hydra's public compose API and checked as the job will check it
(:func:`spreadsim.runs.jobspec.check_job_config`), so a value that is bad only under one option of
a swept config group fails at once, in one line, with nothing written.

Jobs that differ only in the values of dotted keys (``policy.latency_h=0,1,6``) compose alike:
one config is composed for each combination of the other overrides (config groups, top-level and
appended keys) and the values are set on a copy of it with ``OmegaConf.update``, as Hydra sets
them. A value key that another override also sets, or that lies inside a subtree another override
sets, is composed with the rest instead. Above :data:`MAX_CHECKED_JOBS` jobs, each swept value is
checked on its own under every combination of the other overrides.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from collections.abc import Iterable, Iterator, Sequence

from hydra import compose
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType, ValueType
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from spreadsim.app.launchers import check_launcher
from spreadsim.app.messages import first_line, group_override_message, hydra_error_message
from spreadsim.app.task import task_container
from spreadsim.errors import ConfigError
from spreadsim.outputs.io import canonical
from spreadsim.runs.jobspec import PRESENTATION_KEYS, InvalidConfig, check_job_config
from spreadsim.version import __version__

__all__ = ["MAX_CHECKED_JOBS", "check_default_sweep", "check_sweep", "expected_jobs", "job_configs",
           "sweep_hash", "sweep_jobs", "sweep_lists", "swept_keys"]

#: sweeps up to this many jobs have every job checked (a few ms a job once composed)
MAX_CHECKED_JOBS = 500


def _parser() -> OverridesParser:
    gh = GlobalHydra.instance()  # (with its config loader, glob() lists a group's options)
    return OverridesParser.create(config_loader=gh.config_loader() if gh.is_initialized() else None)


def sweep_overrides(config: DictConfig) -> list[Override]:
    """The sweep's overrides as the basic sweeper reads them: ``hydra.sweeper.params``, then the
    command line's task overrides."""
    params = config.hydra.sweeper.get("params") or {}
    items = [f"{k}={v}" for k, v in params.items()] + [str(o) for o in config.hydra.overrides.task]
    return _parser().parse_overrides(items)


def _groups(config: DictConfig) -> set[str]:
    return {str(k) for k in (config.hydra.runtime.get("choices") or {})}


def _value_text(o: Override) -> str:
    return o.input_line.partition("=")[2] if o.input_line else ""


def sweep_lists(config: DictConfig) -> dict[str, list[str]]:
    """Each key's job overrides (``key=value``), in the basic sweeper's order: the jobs are their
    product.

    Raises
    ------
    ConfigError
        For a sweep that gives no values, or one the basic sweeper cannot expand (``glob()`` over
        a value, ``interval()``).
    """
    groups = _groups(config)
    lists: dict[str, list[str]] = {}
    for o in sweep_overrides(config):
        key = o.get_key_element()
        if not o.is_sweep_override():
            lists[key] = [f"{key}={o.get_value_element_as_str()}"]
            continue
        glob_of_values = o.value_type == ValueType.GLOB_CHOICE_SWEEP and o.key_or_group not in groups
        if glob_of_values or not o.is_discrete_sweep():
            what = "glob() selects config-group options" if glob_of_values else \
                f"{o.value_type.name if o.value_type else 'this'} sweep not supported"
            raise ConfigError(o.key_or_group, _value_text(o),
                              f"cannot expand this sweep ({what}); a value sweep is a list, "
                              "range() or choice()")
        try:
            values = list(o.sweep_string_iterator())
        except Exception as e:  # noqa: BLE001 - Hydra's own words, in one line
            raise ConfigError(o.key_or_group, _value_text(o),
                              f"cannot expand this sweep ({first_line(str(e))})") from None
        if not values:
            raise ConfigError(o.key_or_group, _value_text(o),
                              "empty sweep: it gives no values (nothing to run)")
        lists[key] = [f"{key}={v}" for v in values]
    return lists


def sweep_jobs(config: DictConfig) -> list[list[str]]:
    """The sweep's jobs, each a list of overrides, in the basic sweeper's order (the product of
    :func:`sweep_lists`); spreadsim's sweeper launches these."""
    return [list(job) for job in itertools.product(*sweep_lists(config).values())]


def sweep_hash(config: DictConfig) -> str:
    """What identifies a sweep's results: the task config, every swept key's values and the
    spreadsim version (keys of :data:`~spreadsim.runs.jobspec.PRESENTATION_KEYS`, the launcher
    and the ``hydra`` node left out), as a hex SHA-256."""
    lists = {k: v for k, v in sweep_lists(config).items()
             if k.lstrip("+~").split(".")[0] not in PRESENTATION_KEYS}
    task = {k: v for k, v in task_container(config).items() if k not in PRESENTATION_KEYS}
    text = json.dumps({"config": canonical(task), "sweep": lists, "version": __version__},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def expected_jobs(config: DictConfig) -> int | None:
    """How many jobs the basic sweeper makes of this sweep (None if it cannot be told)."""
    try:
        return math.prod(len(v) for v in sweep_lists(config).values())
    except Exception:  # noqa: BLE001 - another sweeper: aggregate every finished job folder
        return None


def _is_value(o: Override, groups: set[str]) -> bool:
    """A plain new value for a key (not a config group, not under ``hydra``): Hydra sets it on the
    composed config, so it cannot change what is composed."""
    return (o.type == OverrideType.CHANGE and o.package is None and not o.is_hydra_override()
            and o.key_or_group not in groups and "/" not in o.key_or_group)


def _overlaps(key: str, other: str) -> bool:
    return key == other or key.startswith(other + ".") or other.startswith(key + ".")


def _value_keys(lists: dict[str, list[str]], parsed: dict[str, Override], groups: set[str]) -> list[str]:
    """The swept keys whose values are set on a composed config (see the module's docstring)."""
    keys = {k: parsed[items[0]] for k, items in lists.items()}
    out = []
    for k, o in keys.items():
        if len(lists[k]) < 2 or not _is_value(o, groups):
            continue
        others = [p.key_or_group for j, p in keys.items() if j != k and p.key_or_group not in groups]
        if not any(_overlaps(o.key_or_group, g) for g in others):
            out.append(k)
    return out


def _compose(config_name: str, hydra_overrides: Sequence[str], overrides: Sequence[str]) -> DictConfig:
    """The job's config as Hydra composes it (Hydra's errors as one-line :class:`InvalidConfig`)."""
    try:
        return compose(config_name=config_name, overrides=[*hydra_overrides, *overrides])
    except (HydraException, OmegaConfBaseException) as e:
        raise InvalidConfig(hydra_error_message(e)) from None
    except (TypeError, ValueError) as e:  # the defaults list on a group given a non-name
        message = group_override_message(overrides)
        if message is None:
            raise
        raise InvalidConfig(message) from e


def _with_values(cfg: DictConfig, values: Iterable[Override]) -> tuple[DictConfig, Override | None]:
    """A copy of ``cfg`` with the value overrides set as Hydra sets them, and the first override
    whose key the config lacks (set anyway, so that the check can name it; Hydra would refuse it)."""
    trial = copy.deepcopy(cfg)
    unknown = None
    for o in values:
        try:
            OmegaConf.update(trial, o.key_or_group, o.value(), merge=True)
        except (ConfigAttributeError, ConfigKeyError):
            with open_dict(trial):
                OmegaConf.update(trial, o.key_or_group, o.value(), merge=True)
            unknown = unknown or o
    return trial, unknown


def _check(cfg: DictConfig, values: Iterable[Override]) -> None:
    trial, unknown = _with_values(cfg, values)
    check_job_config(task_container(trial))
    if unknown is not None:  # (the check names most unknown keys itself)
        raise ConfigError(unknown.key_or_group, unknown.value(),
                          f"unknown key (to add a key use +{unknown.input_line})")


class _Plan:
    """A sweep's jobs: the combinations of the overrides that are composed (``structures``) times
    those of the values set on each composed config (``value_lists``)."""

    def __init__(self, config: DictConfig) -> None:
        self.lists = sweep_lists(config)
        groups = _groups(config)
        parser = _parser()
        self.parsed = {s: parser.parse_override(s) for items in self.lists.values() for s in items}
        values = _value_keys(self.lists, self.parsed, groups)
        self.structures = [items for k, items in self.lists.items() if k not in values]
        self.value_lists = [self.lists[k] for k in values]
        self.jobs = math.prod(len(v) for v in self.lists.values())
        self.config_name = str(config.hydra.job.config_name)
        self.hydra_overrides = [str(o) for o in config.hydra.overrides.hydra]

    def composed(self) -> Iterator[tuple[tuple[str, ...], DictConfig]]:
        for structure in itertools.product(*self.structures):
            yield structure, _compose(self.config_name, self.hydra_overrides, structure)


def job_configs(config: DictConfig) -> Iterator[tuple[tuple[str, ...], DictConfig]]:
    """Every job of the sweep: its overrides (composed ones first, then the values set) and its
    config (without the ``hydra`` node), as the checks see it.

    Parameters
    ----------
    config : DictConfig
        The sweep's composed config, ``hydra`` node included.
    """
    plan = _Plan(config)
    for structure, cfg in plan.composed():
        for job in itertools.product(*plan.value_lists):
            yield (*structure, *job), _with_values(cfg, (plan.parsed[s] for s in job))[0]


def check_sweep(config: DictConfig) -> None:
    """Check a sweep before any job starts: the base config, the launcher's settings
    (:func:`~spreadsim.app.launchers.check_launcher`), every sweep's values, and every job's
    config as its job will check it (above :data:`MAX_CHECKED_JOBS` jobs, every swept value on
    its own under each combination of the composed overrides).

    Parameters
    ----------
    config : DictConfig
        The sweep's composed config, ``hydra`` node included (``on_multirun_start``'s).

    Raises
    ------
    ConfigError, DataError
        The first bad field, in one line.
    InvalidConfig
        A job's config that Hydra cannot compose, in one line.
    """
    check_job_config(task_container(config))
    check_launcher(config)
    plan = _Plan(config)
    every = plan.jobs <= MAX_CHECKED_JOBS
    for _, cfg in plan.composed():
        if every:
            for job in itertools.product(*plan.value_lists):
                _check(cfg, (plan.parsed[s] for s in job))
        else:
            for s in itertools.chain.from_iterable(plan.value_lists):
                _check(cfg, [plan.parsed[s]])


def swept_keys(config: DictConfig) -> list[str]:
    """The keys the sweep gives more than one value."""
    return [k for k, v in sweep_lists(config).items() if len(v) > 1]


def _example(v: object) -> str:
    if isinstance(v, int):
        return f"{v},{2 * v},{4 * v}" if v else "0,1,2"
    return f"{v:g},{2 * v:g},{4 * v:g}" if isinstance(v, float) and v else "0,1,2"


def check_default_sweep(config: DictConfig) -> None:
    """Refuse, in one line that says what to do, an experiment's sweep over a key of the policy
    that the command line's policy does not have (``spreadsim policy=notice_and_takedown``: the
    default experiment sweeps ``policy.latency_h``).

    Raises
    ------
    InvalidConfig
        Naming the experiment, the swept key, the policy, and a command that runs.
    """
    params = config.hydra.sweeper.get("params") or {}
    policy = config.get("policy")
    if not params or not isinstance(policy, DictConfig):
        return  # (a stack of policies or none: the job's own check names a bad key)
    given = {o.key_or_group for o in _parser().parse_overrides(
        [str(o) for o in config.hydra.overrides.task])}
    choices = config.hydra.runtime.get("choices") or {}
    experiment = str(choices.get("experiment"))
    name = str(policy.get("name"))
    for key in map(str, params):
        sub = key.removeprefix("policy.")
        if sub == key or "." in sub or sub in policy or key in given:
            continue
        which = (f"experiment {experiment}" if "experiment" in given
                 else f"the default experiment ({experiment})")
        numbers = [str(k) for k, v in policy.items()
                   if isinstance(v, int | float) and not isinstance(v, bool)]
        hint = (f" or sweep one of its keys: spreadsim policy={name} experiment=single "
                f"hydra.mode=MULTIRUN policy.{numbers[0]}={_example(policy[numbers[0]])} (its numeric keys: "
                f"{', '.join(numbers)})" if numbers else "")
        raise InvalidConfig(f"{which} sweeps {key}, which the {name} policy does not have; "
                            f"choose experiment=single for one run of it,{hint}")

