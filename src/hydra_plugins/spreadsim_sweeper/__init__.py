"""spreadsim's Hydra sweeper: Hydra's basic sweeper, validating fewer configs.

Before a batch of jobs starts, Hydra's basic sweeper composes every job's config in the main
process to catch composition errors early (about 0.2 s a job, one after another). Jobs that
differ only in values (``policy.latency_h=0,1,6,24``) compose alike, and spreadsim checks every
swept value itself before any job starts (``spreadsim.sweep.AggregateCallback``), so this
sweeper composes one job for each distinct set of the other overrides: config groups
(``policy=...``), top-level keys and ``hydra`` keys. The jobs, their order and their configs are
those of the basic sweeper.
"""

from __future__ import annotations

from collections.abc import Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

__all__ = ["SpreadsimSweeper", "structural_overrides"]


def _key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def structural_overrides(overrides: Sequence[str]) -> tuple[str, ...]:
    """The overrides that can change the shape of a composed config: every override except a
    value of a dotted key outside ``hydra`` (``policy.latency_h=6``)."""
    return tuple(o for o in overrides
                 if "." not in _key(o) or _key(o).split(".")[0].split("/")[0] == "hydra")


class SpreadsimSweeper(BasicSweeper):
    """Hydra's basic sweeper composing one job per distinct :func:`structural_overrides`."""

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        assert self.hydra_context is not None and self.config is not None
        seen: set[tuple[str, ...]] = set()
        for overrides in batch:
            key = structural_overrides(overrides)
            if key in seen:
                continue
            seen.add(key)
            self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
