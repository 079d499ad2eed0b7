"""Compilation switch: numba when it is there, the same code as plain Python when it is not.

The spread kernel, the random-number helpers and the edge-list parser are written in the subset
of Python that numba compiles. With numba installed (a core dependency) they are compiled and
cached on disk; without it, or with ``SPREADSIM_PURE_PYTHON=1`` in the environment, the very same
functions run as plain Python: far slower, same results for the same seed (tested).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

PURE_PYTHON = os.environ.get("SPREADSIM_PURE_PYTHON", "") not in ("", "0")

if not PURE_PYTHON:
    try:
        from numba import njit as _numba_njit
    except ImportError:  # pragma: no cover - exercised on machines without numba
        PURE_PYTHON = True

HAVE_NUMBA = not PURE_PYTHON


def njit(*args: Any, **kwargs: Any) -> Any:
    """``numba.njit`` when compiling, else a decorator that returns the function unchanged."""
    if HAVE_NUMBA:
        return _numba_njit(*args, **kwargs)
    if args and callable(args[0]):
        return args[0]

    def keep(f: Callable[..., Any]) -> Callable[..., Any]:
        return f

    return keep
