"""The launcher's and sweeper's own settings (``hydra.launcher.*``, ``hydra.sweeper.*``), checked before any job."""

from __future__ import annotations

import os
import shutil

from omegaconf import DictConfig

from spreadsim.errors import ConfigError
from spreadsim.schema.checks import integer, number

__all__ = ["MAX_WORKERS_PER_CORE", "check_launcher"]

#: at most this many workers a core: each worker is a process with the engine loaded (~200 MB)
MAX_WORKERS_PER_CORE = 4


def check_launcher(config: DictConfig) -> None:
    """The launcher's and sweeper's own settings, checked before any worker starts.

    ``hydra.launcher.n_jobs`` (joblib: -1 or another negative number for all cores but some, or
    1 to :data:`MAX_WORKERS_PER_CORE` x the cores), ``hydra.launcher.timeout`` (null or > 0),
    ``hydra.sweeper.max_batch_size`` (null or >= 1), and Slurm's ``srun`` on this machine for
    the Slurm launcher.

    Parameters
    ----------
    config : DictConfig
        The composed config, ``hydra`` node included.

    Raises
    ------
    ConfigError
        With the one-line message of the first bad setting.
    """
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
