"""spreadsim's Hydra sweeper: the basic sweeper's jobs, order and batches, without composing every job first.

Hydra's basic sweeper composes every job's config in the main process before launching a batch,
only to see that it composes (about 0.06-0.1 s a job, one after another, while no job runs), and
the launcher composes each again where the job runs. spreadsim's callback has already composed and
checked every job's config before the sweep starts
(:func:`spreadsim.app.sweepcheck.check_sweep`), so this sweeper launches the same jobs
(:func:`spreadsim.app.sweepcheck.sweep_jobs`: ``hydra.sweeper.params``, then the command line,
the product of the swept values in the basic sweeper's order) in the same batches
(``max_batch_size``) without that first composition. It uses Hydra's public plugin interfaces
only (``hydra.plugins.sweeper.Sweeper``, ``Plugins.instantiate_launcher``); ``hydra/sweeper=basic``
gives Hydra's own, with the same jobs and files (tested).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

__all__ = ["SpreadsimSweeper"]


class SpreadsimSweeper(Sweeper):
    """The basic sweeper's jobs and batches, launched without composing each job first."""

    def __init__(self, max_batch_size: int | None = None, params: Any = None) -> None:
        self.max_batch_size = max_batch_size
        self.params = params  # (read from the config by sweep_jobs, as the callback reads them)
        self.config: DictConfig | None = None
        self.launcher: Any = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        from spreadsim.app.sweepcheck import sweep_jobs
        from spreadsim.outputs.io import atomic_write_bytes

        assert self.config is not None and self.launcher is not None
        jobs = sweep_jobs(self.config)  # (``arguments`` are the config's hydra.overrides.task)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        # as the basic sweeper, but written to a temporary name and renamed into place
        atomic_write_bytes(sweep_dir / "multirun.yaml", OmegaConf.to_yaml(self.config).encode())
        size = self.max_batch_size or max(len(jobs), 1)
        returns = []
        for start in range(0, len(jobs), size):
            results = self.launcher.launch(jobs[start:start + size], initial_job_idx=start)
            for r in results:
                _ = r.return_value  # a failed job raises here, as with the basic sweeper
            returns.append(results)
        return returns
