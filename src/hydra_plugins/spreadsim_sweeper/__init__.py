"""spreadsim's Hydra sweeper: Hydra's basic sweeper, with faster job configs and spreadsim's
own check of every job before a batch starts.

Hydra composes every job's config from the config files, about 0.2 s a job: the basic sweeper
once in the main process to validate a batch, and the launcher again in the process that runs
the job. Jobs that differ only in values (``policy.latency_h=0,1,6,24``) compose alike, so this
sweeper hands both a :class:`CachingConfigLoader`: Hydra composes the first job of each kind, and
the next ones are a kept copy with their values set by Hydra's own override step (7 ms). The
configs are those Hydra composes (tested). Validating a batch then checks every job's composed
config as the job will (a bad option of a swept config group, or a value that is bad only under
one of them, fails before any job starts). The jobs and their order are the basic sweeper's.

With Hydra's joblib launcher, the sweeper launches through :class:`JoblibJobs`: the launcher's
settings, log and results, with the part every job of a batch shares sent to each worker once
rather than with every job (35-50 ms a job in the worker).
"""

from __future__ import annotations

import copy
import pickle
import secrets
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_loader import ConfigLoader
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

__all__ = ["CachingConfigLoader", "JoblibJobs", "SpreadsimSweeper", "structural_overrides"]


#: batches up to this many jobs have every job checked before any starts (about 25 ms a job)
MAX_CHECKED_JOBS = 400


def _key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def structural_overrides(overrides: Sequence[str]) -> tuple[str, ...]:
    """The overrides that can change the shape of a composed config: every override except a
    value of a dotted key outside ``hydra`` (``policy.latency_h=6``)."""
    return tuple(o for o in overrides
                 if "." not in _key(o) or _key(o).split(".")[0].split("/")[0] == "hydra")


#: composed job configs kept in this process, by (sweep, config, overrides but the swept values)
_TEMPLATES: OrderedDict[tuple[Any, ...], DictConfig] = OrderedDict()
_MAX_TEMPLATES = 16
_SCALARS = (bool, int, float, str, type(None))


def _is_value(o: Override) -> bool:
    """A plain new value for a dotted key outside ``hydra`` (``policy.latency_h=6``): Hydra sets it
    after composing, so it cannot change what is composed. Dicts and lists are left out (Hydra
    merges them into what is there)."""
    return (o.type == OverrideType.CHANGE and o.package is None and not o.is_hydra_override()
            and "." in o.key_or_group and not o.is_sweep_override()
            and isinstance(o.value(), _SCALARS))


class CachingConfigLoader(ConfigLoader):
    """Hydra's config loader, with each job's config made from a kept copy of an earlier job's.

    A job's config is Hydra's composition of the config files under the sweep's overrides,
    after which Hydra sets the plain values (``policy.latency_h=6``, see :func:`_is_value`) with
    its ``_apply_overrides_to_config`` and records the job's overrides
    (``hydra.overrides.task``, ``hydra.job.override_dirname``). Jobs whose other overrides are the
    same compose alike, so the first such job is composed by Hydra and kept (one copy per
    process, per sweep: ``token``); the next ones are a copy of it with their values set by the
    same Hydra function and their overrides recorded the same way. Anything else (a different
    config group, a dict or list value, a key that another override also sets) is composed by
    Hydra. Every other method is Hydra's loader's. Pickled (for a launcher's workers), the loader
    takes along the copies kept for its sweep, so that workers compose none of the kinds of job
    the main process composed to validate the batch.
    """

    def __init__(self, loader: ConfigLoader, token: str) -> None:
        self._loader = loader
        self._token = token

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # (unpickling: before __dict__ is filled)
            raise AttributeError(name)
        return getattr(self._loader, name)

    def __getstate__(self) -> dict[str, Any]:
        # the configs this sweep has composed so far go along: a worker then composes none
        # that the main process composed to validate the batch (0.2 s each)
        kept = [(k, v) for k, v in _TEMPLATES.items() if k[0] == self._token]
        return {"_loader": self._loader, "_token": self._token, "_kept": kept}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.pop("_kept", []):
            _TEMPLATES.setdefault(k, v)
        while len(_TEMPLATES) > _MAX_TEMPLATES:
            _TEMPLATES.popitem(last=False)
        self.__dict__.update(state)

    def load_configuration(self, *args: Any, **kwargs: Any) -> DictConfig:
        return self._loader.load_configuration(*args, **kwargs)

    def get_search_path(self) -> Any:
        return self._loader.get_search_path()

    def get_sources(self) -> Any:
        return self._loader.get_sources()

    def list_groups(self, parent_name: str) -> Any:
        return self._loader.list_groups(parent_name)

    def get_group_options(self, *args: Any, **kwargs: Any) -> Any:
        return self._loader.get_group_options(*args, **kwargs)

    def compute_defaults_list(self, *args: Any, **kwargs: Any) -> Any:
        return self._loader.compute_defaults_list(*args, **kwargs)

    def load_sweep_config(self, master_config: DictConfig, sweep_overrides: list[str]) -> DictConfig:
        parsed = OverridesParser.create().parse_overrides(list(sweep_overrides))
        values = [o for o in parsed if _is_value(o)]
        others = [o for o in parsed if not _is_value(o)]
        keys = [o.key_or_group for o in values]
        # a key set twice, or inside a subtree that another override sets (not a config group's
        # choice: the defaults list takes those): Hydra's order decides, so Hydra composes
        groups = set(master_config.hydra.runtime.choices)
        sets = [o.key_or_group for o in others
                if not (o.key_or_group in groups and isinstance(o.value(), str))]
        shared = len(set(keys)) < len(keys) or any(
            k == g or k.startswith(g + ".") for k in keys for g in sets)
        if shared:
            return self._loader.load_sweep_config(master_config, list(sweep_overrides))
        key = (self._token, master_config.hydra.job.config_name,
               tuple(master_config.hydra.overrides.hydra), tuple(o.input_line for o in others),
               tuple(keys))
        template = _TEMPLATES.get(key)
        if template is None:
            cfg = self._loader.load_sweep_config(master_config, list(sweep_overrides))
            _TEMPLATES[key] = copy.deepcopy(cfg)
            while len(_TEMPLATES) > _MAX_TEMPLATES:
                _TEMPLATES.popitem(last=False)
            return cfg
        cfg = copy.deepcopy(template)
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)  # as Hydra sets them
        task = [o for o in parsed if not o.is_hydra_override()]
        cfg.hydra.overrides.task = [o.input_line for o in task]
        od = cfg.hydra.job.config.override_dirname
        cfg.hydra.job.override_dirname = get_overrides_dirname(
            overrides=task, kv_sep=od.kv_sep, item_sep=od.item_sep, exclude_keys=od.exclude_keys)
        OmegaConf.copy_cache(from_config=master_config, to_config=cfg)  # as Hydra does
        return cfg


#: the shared part of a batch's jobs, unpickled once per worker process (see JoblibJobs)
_SHARED: dict[str, tuple[HydraContext, DictConfig, TaskFunction, Any]] = {}


def _execute_job(idx: int, overrides: Sequence[str], token: str, shared: bytes) -> JobReturn:
    """Run one job of a batch as Hydra's joblib launcher does (``_core.execute_job``), with the
    batch's shared part (``shared``: pickled hydra context, sweep config, task function and
    Hydra's singletons) unpickled and installed at the first job of the batch in this process
    only; the later jobs keep the singletons as the earlier ones left them, as the jobs of a
    one-worker launch do in Hydra's own launcher."""
    from hydra.core.singleton import Singleton
    from omegaconf.basecontainer import BaseContainer

    state = _SHARED.get(token)
    if state is None:
        state = pickle.loads(shared)
        setup_globals()
        Singleton.set_state(state[3])  # (scans Hydra's plugins: before this module keeps state)
        _SHARED.clear()
        _SHARED[token] = state
    else:  # (as Singleton.set_state: each job starts with the launch's resolvers)
        BaseContainer._resolvers = copy.deepcopy(state[3]["omegaconf_resolvers"])
    hydra_context, config, task_function, _ = state
    sweep_config = hydra_context.config_loader.load_sweep_config(config, list(overrides))
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
        sweep_config.hydra.job.num = idx
    HydraConfig.instance().set_config(sweep_config)
    return run_job(hydra_context=hydra_context, config=sweep_config, task_function=task_function,
                   job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")


class JoblibJobs(Launcher):
    """Hydra's joblib launcher (``hydra/launcher=joblib``, its settings and its log), sending
    each worker the part every job of a batch shares once rather than with every job.

    Hydra's launcher pickles the hydra context, the sweep config, the task function and Hydra's
    singletons with every job, and the worker unpickles and installs them before composing the
    job's config: 35-50 ms a job on this project's sweeps. Here they are pickled once per batch
    (with loky's pickler, as it pickles a job) and sent as bytes, which a worker unpickles at the
    first job of the batch it runs. Everything else, including the jobs' order, their
    ``JobReturn`` and the worker pool (loky's executor, shared by every ``Parallel`` with the
    same settings), is the launcher's. With one worker joblib runs the jobs in this process,
    where nothing is sent: Hydra's launcher runs them.
    """

    def __init__(self, launcher: Launcher) -> None:
        self.launcher = launcher

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.launcher.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from hydra.core.singleton import Singleton
        from hydra_plugins.hydra_joblib_launcher._core import log, process_joblib_cfg
        from joblib import Parallel, delayed
        from joblib.externals.loky.backend.reduction import dumps

        launcher: Any = self.launcher
        config = launcher.config
        joblib_cfg = launcher.joblib
        joblib_cfg["backend"] = "loky"  # (hard-coded by Hydra's launcher: threads break Hydra)
        process_joblib_cfg(joblib_cfg)
        if Parallel(**joblib_cfg)._effective_n_jobs() <= 1:  # jobs in this process: nothing to send
            return launcher.launch(job_overrides, initial_job_idx)
        setup_globals()
        configure_log(config.hydra.hydra_logging, config.hydra.verbose)
        sweep_dir = Path(str(config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        log.info("Joblib.Parallel({}) is launching {} jobs".format(
            ",".join(f"{k}={v}" for k, v in joblib_cfg.items()), len(job_overrides)))
        log.info(f"Launching jobs, sweep output dir : {sweep_dir}")
        for idx, overrides in enumerate(job_overrides):
            log.info("\t#{} : {}".format(idx, " ".join(filter_overrides(overrides))))
        shared = bytes(dumps((launcher.hydra_context, config, launcher.task_function,
                              Singleton.get_state())))  # (loky's pickler, as for any job)
        token = secrets.token_hex(8)
        runs = Parallel(**joblib_cfg)(
            delayed(_execute_job)(initial_job_idx + idx, overrides, token, shared)
            for idx, overrides in enumerate(job_overrides))
        assert isinstance(runs, list)
        return runs


def _is_joblib_launcher(launcher: Any) -> bool:
    try:
        from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
    except ImportError:
        return False
    return type(launcher) is JoblibLauncher


class SpreadsimSweeper(BasicSweeper):
    """Hydra's basic sweeper, with a :class:`CachingConfigLoader` for its launcher, a check of
    every job's config by spreadsim before any job of a batch starts, and Hydra's joblib
    launcher sending what the jobs share once per worker (:class:`JoblibJobs`)."""

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        loader = CachingConfigLoader(hydra_context.config_loader, secrets.token_hex(8))
        super().setup(hydra_context=HydraContext(config_loader=loader,
                                                 callbacks=hydra_context.callbacks),
                      task_function=task_function, config=config)
        if self.launcher is not None and _is_joblib_launcher(self.launcher):
            self.launcher = JoblibJobs(self.launcher)

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        """Compose every job's config (Hydra's composition errors) and check it as its job will
        (:func:`spreadsim.app.hydra_app.check_composed_job`): a bad option of a swept config group, or a
        value that is bad only under one of them, fails here, before any job starts.

        That takes about 25 ms a job, in the main process; in a batch of more than
        :data:`MAX_CHECKED_JOBS` jobs only the first job of each distinct set of
        :func:`structural_overrides` is checked (each swept value has been checked on its own
        by ``spreadsim.app.hydra_app.AggregateCallback``)."""
        from spreadsim.app.hydra_app import check_composed_job

        assert self.hydra_context is not None and self.config is not None
        every = len(batch) <= MAX_CHECKED_JOBS
        seen: set[tuple[str, ...]] = set()
        for overrides in batch:
            if not every:
                key = structural_overrides(overrides)
                if key in seen:
                    continue
                seen.add(key)
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            check_composed_job(cfg)
