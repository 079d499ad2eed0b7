"""spreadsim: how far illegal online content spreads while removal policies act on it.

The longer illegal material stays online, the greater its reach: spreadsim turns that sentence
into numbers. A SimPy discrete-event engine propagates posts across social graphs (compact CSR
arrays built from NetworkX generators or edge lists) while configurable removal policies act on
them. Use :func:`simulate` from Python, or the ``spreadsim`` command (a Hydra app).

The engine (and with it numba) is imported on first use, so ``import spreadsim`` and the command
line's error messages stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ConfigError, DataError

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from .config import SimConfig
    from .engine import Post, RunResult, Simulation, simulate

_LAZY = {"SimConfig": "config", "Post": "engine", "RunResult": "engine", "Simulation": "engine",
         "simulate": "engine"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'spreadsim' has no attribute {name!r}")


__all__ = ["ConfigError", "DataError", "Post", "RunResult", "SimConfig", "Simulation", "simulate",
           "__version__"]
