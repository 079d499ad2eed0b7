"""Shared test set-up."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _unfrozen_heap() -> Iterator[None]:
    """A command run in-process warms the engine and freezes the heap (``gc.freeze``), as the
    CLI does for its jobs; the test process goes on unfrozen."""
    yield
    gc.unfreeze()
