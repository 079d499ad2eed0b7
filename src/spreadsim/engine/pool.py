"""The kernel's work arrays between runs: a per-thread pool, and the sizes that choose their forms.

The sizing constants choose between the forms of a run's work arrays (a bitset or a hash set of
the exposed keys, an array or a map of the earliest exposures, a histogram or log rows for the
settled first exposures; see :class:`spreadsim.engine.workspace.Workspace`), and how much of them
the pool keeps. Read at run time: tests set them here to force the other forms.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

#: below this many (post, user) keys the exposed set is a bitset (8 MiB), above a hash set
DENSE_SEEN_MAX_KEYS = 1 << 26
#: below this many keys the earliest inert exposure per key is tracked in an array (16 B a key,
#: 512 MiB at most), above in a map that grows with the users reached (about 48 B a user)
TRACK_FIRST_MAX_KEYS = 1 << 25
#: settled first exposures go straight into a histogram of at most this many bins
HIST_MAX_BINS = 1 << 22
#: settling scans the tracked keys in key order when at least this share of them was touched
SCAN_MIN_TOUCHED = 1 / 32

#: a run's earliest-exposure array goes back to the pool reset (its touched keys only) when it
#: touched at most this share of the keys; otherwise the next run fills it whole
RESET_MAX_SHARE = 1 / 16

#: work arrays kept for the next run of the same thread (see _ArrayPool), at most this many bytes
POOL_MAX_BYTES = 64 << 20


class _ArrayPool(threading.local):
    """The kernel's work arrays that a finished run no longer needs, kept for the next run in the
    same thread: sweeps run many seeds of one configuration, and fresh memory costs a page fault
    (and the kernel zeroing the page) per 4 KiB touched, about 0.5 ms a run on a 100k-user graph.
    An array is handed out only after it is filled (or was given back holding its fill
    everywhere: the run reset what it wrote) or where every element is written before it is
    read, so results do not depend on what a previous run left behind (tested). One pool per
    thread: nothing is shared between threads."""

    def __init__(self) -> None:
        self.free: dict[tuple[tuple[int, ...], str], list[np.ndarray]] = {}
        #: the value every element of a kept array holds, by ``id`` (arrays given back clean)
        self.filled: dict[int, float] = {}
        self.nbytes = 0

    def take(self, shape: tuple[int, ...], dtype: Any, fill: float | None = None) -> np.ndarray:
        """An array of ``shape`` and ``dtype``, filled with ``fill`` (uninitialized if ``None``);
        a kept array that holds ``fill`` everywhere already is handed out without filling."""
        key = (shape, np.dtype(dtype).str)
        stack = self.free.get(key)
        if stack:
            i = len(stack) - 1
            if fill is not None:  # prefer an array given back clean with this value
                i = next((j for j in range(i, -1, -1) if self.filled.get(id(stack[j])) == fill), i)
            a = stack.pop(i)
            self.nbytes -= a.nbytes
            clean = self.filled.pop(id(a), None)
            if fill is not None and clean != fill:
                a.fill(fill)
            return a
        return np.empty(shape, dtype) if fill is None else np.full(shape, fill, dtype)

    def give(self, *arrays: np.ndarray, filled: float | None = None) -> None:
        """Keep ``arrays`` (owners of their memory, no longer used) for later runs, within
        :data:`POOL_MAX_BYTES`; ``filled``: the value every element of each holds (the caller
        reset what its run wrote), so that a later ``take`` with that fill need not fill it."""
        for a in arrays:
            if a.base is not None or not a.flags.c_contiguous or self.nbytes + a.nbytes > POOL_MAX_BYTES:
                continue
            self.free.setdefault((a.shape, a.dtype.str), []).append(a)
            self.nbytes += a.nbytes
            if filled is not None:
                self.filled[id(a)] = filled


_POOL = _ArrayPool()
