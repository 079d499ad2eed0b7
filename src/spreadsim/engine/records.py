"""What the engine hands out: posts, upload attempts, content catalogues and a run's results.

Plain records with no behaviour, imported by the engine, the policies and the metrics alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Post:
    """One uploaded post. A share is not a post; a re-upload is, with the same ``content_id``.

    ``copy`` counts the uploads of the same content (0 for the original); ``altered`` marks a copy
    changed to evade hash matching; ``adversarial`` marks posts of the campaign's uploader accounts.
    """

    id: int
    content_id: int
    category: str
    uploader: int
    upload_time: float
    copy: int = 0
    altered: bool = False
    adversarial: bool = False


@dataclass(frozen=True)
class Attempt:
    """An upload that has not happened yet: policies may block it (hash matching, suspension)."""

    content_id: int
    category: str
    uploader: int
    time: float
    copy: int
    altered: bool
    adversarial: bool


@dataclass
class RunResult:
    """What one run produced: per-post columns, the reach-over-time series and a summary."""

    seed: int
    posts: dict[str, np.ndarray]
    series: dict[str, np.ndarray]
    summary: dict[str, Any]
    exposures: dict[str, np.ndarray] = field(default_factory=dict)
    # (time, post id, cause): the cause names the policy and why (``"policy0_fixed_latency:latency"``)
    removals: list[tuple[float, int, str]] = field(default_factory=list)
    blocked: list[Attempt] = field(default_factory=list)
    # policy tables (per-notice records, queue length over time, ...), named
    # ``policy<i>_<name>_<table>``; each a dict of equal-length numpy arrays
    tables: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    # single copies removed (per_copy semantics, ``Simulation.remove_copy``): (time, post id,
    # the user whose share it was, cause)
    copy_removals: list[tuple[float, int, int, str]] = field(default_factory=list)

    def frames(self) -> dict[str, pd.DataFrame]:
        """The run's tables as pandas DataFrames: ``posts``, ``series``, ``summary`` (one row),
        ``exposures`` when the run was traced, and each policy table by its name."""
        import pandas as pd

        named = {"posts": self.posts, "series": self.series,
                 **({"exposures": self.exposures} if self.exposures else {}), **self.tables}
        return {"summary": pd.DataFrame([self.summary]),
                **{k: pd.DataFrame({c: np.asarray(v) for c, v in t.items()}) for k, t in named.items()}}


class Catalog:
    """Content ids and copy numbers: per simulation, or shared by the platforms of one run.

    ``copies`` maps a content id to the number of uploads attempted so far (the next copy number);
    fresh content ids start after the campaign's (0..n-1).
    """

    def __init__(self) -> None:
        self.copies: dict[int, int] = {}
        self.next_content = 0
