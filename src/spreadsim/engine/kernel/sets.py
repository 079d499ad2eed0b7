"""The kernel's sets of (post, user) keys: the keys already exposed (a bitset, or an
open-addressing hash set when there are too many keys) and the open-addressing map of the keys
whose earliest exposure is tracked."""

from __future__ import annotations

import numpy as np

from spreadsim.jit import njit
from spreadsim.rng import _mix


@njit(cache=True, inline="always", _nrt=False)
def _claim(keys: np.ndarray, key: int) -> tuple[int, bool]:  # pragma: no cover
    """Slot of ``key`` (>= 0) in the open-addressing table ``keys`` (empty slots hold -1; linear
    probing), claiming a slot if the key is new; returns (slot, new)."""
    mask = keys.shape[0] - 1
    i = int(_mix(np.uint64(key))) & mask
    while True:
        k = keys[i]
        if k == key:
            return i, False
        if k == -1:
            keys[i] = key
            return i, True
        i = (i + 1) & mask


@njit(cache=True, inline="always", _nrt=False)
def first_slot(keys: np.ndarray, key: int) -> int:  # pragma: no cover
    """The slot of ``key`` in the map ``keys`` of tracked first exposures (claimed if new)."""
    return _claim(keys, key)[0]


@njit(cache=True, _nrt=False)
def rehash_first(keys: np.ndarray, first: np.ndarray, touched: np.ndarray, n_touched: int,
                 new_keys: np.ndarray, new_first: np.ndarray) -> None:  # pragma: no cover
    """Move the tracked keys into a bigger map (``new_first``, rows as ``first``, filled with
    inf), renumbering
    ``touched`` to the new slots."""
    for c in range(n_touched):
        old = touched[c]
        slot = first_slot(new_keys, keys[old])
        for r in range(first.shape[0]):
            new_first[r, slot] = first[r, old]
        touched[c] = slot


@njit(cache=True, inline="always", _nrt=False)
def seen_add(table: np.ndarray, key: int, dense: bool) -> bool:  # pragma: no cover
    """Add ``key`` (>= 0) to the set of (post, user) pairs already exposed; True if it is new.

    Keys are ``post * n_users + user``. ``dense``: ``table`` is a bitset (64 keys a word), the
    fast choice while posts x users is moderate. Otherwise it is an open-addressing hash set
    (empty slots hold -1) whose load factor the caller keeps at most 1/2.
    """
    if dense:
        w = key >> 6
        bit = np.int64(1) << (key & 63)
        if table[w] & bit:
            return False
        table[w] |= bit
        return True
    return _claim(table, key)[1]


@njit(cache=True, _nrt=False)
def rehash(old: np.ndarray, new: np.ndarray) -> None:  # pragma: no cover
    """Insert every key of the hash set ``old`` into the empty hash set ``new``."""
    for k in old:
        if k != -1:
            seen_add(new, k, False)


def dense_seen_words(n_posts: int, n_users: int) -> int:
    """Length of the bitset of the keys of ``n_posts`` posts (one spare word)."""
    return (n_posts * n_users) // 64 + 2


def new_seen(capacity: int = 1 << 12) -> np.ndarray:
    """An empty hash set for :func:`seen_add` (capacity rounded up to a power of two)."""
    cap = 1 << max(4, int(capacity - 1).bit_length())
    return np.full(cap, -1, dtype=np.int64)
