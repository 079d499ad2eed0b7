"""Named random streams and counter-based uniforms.

One seed per run is split into named, independent streams (``"graph"``, ``"uploads"``,
``"spread"``, ``"policy:fixed_latency"``, ...) by a stable hash (BLAKE2b of the seed and the name;
never Python's salted ``hash()``), so adding a component never shifts another component's draws.

The spread engine draws from *counter-based* uniforms: ``uniform(key, a, b)`` is a fixed function of
a stream key and two integers (for example a post's key, a sharer and a follower). A feed delay or a
reshare coin therefore belongs to its edge or user, not to the order in which events happen to be
processed. This is what makes common random numbers exact: a run with a longer removal latency sees
the very same delays and coins as a run with a shorter one, so reach can only grow with latency.

Examples
--------
>>> k = stream_key(42, "spread")
>>> k == stream_key(42, "spread"), k == stream_key(42, "uploads")
(True, False)
>>> 0.0 <= uniform(k, 3, 7) < 1.0
True
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from spreadsim.jit import HAVE_NUMBA, njit

_MASK64 = (1 << 64) - 1


def stream_key(seed: int, name: str) -> int:
    """Stable 63-bit key of the stream ``name`` under run seed ``seed``.

    Parameters
    ----------
    seed : int
        The run seed (any integer >= 0; 0 is a seed like any other).
    name : str
        The stream's name, e.g. ``"uploads"`` or ``"policy:fixed_latency"``.

    Returns
    -------
    int
        A non-negative integer below 2**63, the same on every machine and Python version.
    """
    h = hashlib.blake2b(f"{int(seed)}\x1f{name}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") >> 1


def generator(seed: int, name: str) -> np.random.Generator:
    """A NumPy generator for the named stream (for bulk draws outside the spread kernel)."""
    return np.random.Generator(np.random.PCG64(stream_key(seed, name)))


@njit(cache=True, inline="always")
def _mix(x: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    # splitmix64 finaliser: a bijection of 64-bit integers with full avalanche
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True, inline="always")
def uniform(key: int, a: int, b: int) -> float:  # pragma: no cover - compiled
    """Counter-based uniform on [0, 1) from a stream key and two integer counters."""
    x = _mix(np.uint64(key) ^ (np.uint64(a) * np.uint64(0x9E3779B97F4A7C15)))
    x = _mix(x ^ (np.uint64(b) * np.uint64(0xD1B54A32D192ED03) + np.uint64(0x632BE59BD9B4E019)))
    return float(x >> np.uint64(11)) / 9007199254740992.0


@njit(cache=True, inline="always")
def subkey(key: int, a: int) -> int:  # pragma: no cover - compiled
    """Derive the key of sub-stream ``a`` (for example one post) of a stream."""
    x = _mix(np.uint64(key) ^ _mix(np.uint64(a) + np.uint64(0x9E3779B97F4A7C15)))
    return int(x >> np.uint64(1))


if not HAVE_NUMBA:  # pragma: no cover - the pure-Python twins, bit for bit the same numbers

    def _mix(x: Any) -> int:
        x = int(x) & _MASK64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
        return x ^ (x >> 31)

    def uniform(key: int, a: int, b: int) -> float:
        x = _mix(int(key) ^ ((int(a) * 0x9E3779B97F4A7C15) & _MASK64))
        x = _mix(x ^ ((int(b) * 0xD1B54A32D192ED03 + 0x632BE59BD9B4E019) & _MASK64))
        return float(x >> 11) / 9007199254740992.0

    def subkey(key: int, a: int) -> int:
        x = _mix(int(key) ^ _mix((int(a) + 0x9E3779B97F4A7C15) & _MASK64))
        return x >> 1
