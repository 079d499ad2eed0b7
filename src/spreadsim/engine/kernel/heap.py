"""The kernel's event queue: a binary heap of spread events ordered by (time, sequence number),
its rows in a float table (time, copy deadline) and an int table (sequence, post, user, source)."""

from __future__ import annotations

import numpy as np

from spreadsim.engine.kernel.layout import HF_DEADLINE, HI_POST, HI_SRC, Work
from spreadsim.jit import njit

# The heap's rows are read through flat views with unsigned indices: a row is then a shift away
# (no multiply by the row length) and numba adds no negative-index wraparound to each access.
# Counted with valgrind on the benchmark's runs: a pop went from 710 to 500 instructions (about
# 10 levels each), and a run from 69 to 59 million instructions with the same change in share()
# and settle_inert().
_U0, _U1, _U2, _U4 = np.uint64(0), np.uint64(1), np.uint64(2), np.uint64(4)


@njit(cache=True, inline="always", _nrt=False)
def _set_row(f: np.ndarray, g: np.ndarray, i: np.uint64, t: float, deadline: float, seq: int,
             post: int, user: int, src: int) -> None:  # pragma: no cover
    """Write heap row ``i`` (``f``, ``g`` as in :func:`_push`)."""
    f[i * _U2] = t
    f[i * _U2 + _U1] = deadline
    j = i * _U4
    g[j] = seq
    g[j + _U1] = post
    g[j + _U2] = user
    g[j + np.uint64(3)] = src


@njit(cache=True, inline="always", _nrt=False)
def _copy_row(f: np.ndarray, g: np.ndarray, src: np.uint64, dst: np.uint64) -> None:  # pragma: no cover
    """Copy heap row ``src`` to row ``dst`` (``f``, ``g``: flat views of the float and int rows)."""
    fs, gs = src * _U2, src * _U4
    _set_row(f, g, dst, f[fs], f[fs + _U1], g[gs], g[gs + _U1], g[gs + _U2], g[gs + np.uint64(3)])


@njit(cache=True, inline="always", _nrt=False)
def _push(f: np.ndarray, g: np.ndarray, size: int, t: float, deadline: float, seq: int,
          post: int, user: int, src: int) -> int:  # pragma: no cover
    """Insert an event into the binary heap ordered by (time, sequence number); ``f``, ``g``: flat
    views of the heap's float rows (time, deadline) and int rows (sequence, post, user, source)."""
    i = np.uint64(size)
    while i != _U0:  # move the hole up past every later parent
        parent = (i - _U1) >> _U1
        pt = f[parent * _U2]
        if t < pt or (t == pt and seq < g[parent * _U4]):
            _copy_row(f, g, parent, i)
            i = parent
        else:
            break
    _set_row(f, g, i, t, deadline, seq, post, user, src)
    return size + 1


@njit(cache=True, _nrt=False)
def cap_copy_deadline(w: Work, q: int, src: int, at: float) -> None:  # pragma: no cover
    """A copy removed at ``at``: the deadline of every queued exposure of post ``q`` through the
    copy of ``src`` becomes at most ``at`` (the event loop drops those due at or after it; the
    heap's order, by time, is unchanged)."""
    hf, hi = w.hf, w.hi
    for i in range(w.state[0].heap_size):
        if hi[i, HI_POST] == q and hi[i, HI_SRC] == src and hf[i, HF_DEADLINE] > at:
            hf[i, HF_DEADLINE] = at


@njit(cache=True, _nrt=False)
def _pop(f: np.ndarray, g: np.ndarray, size: int) -> int:  # pragma: no cover
    """Move the smallest event to slot ``size - 1`` and restore the heap on the rest (``f``, ``g``
    as in :func:`_push`)."""
    last = np.uint64(size - 1)
    # keep the root aside, sift the last element down from the root through a hole
    r_t, r_d = f[0], f[1]
    r_s, r_q, r_u, r_v = g[0], g[1], g[2], g[3]
    xt = f[last * _U2]
    xs = g[last * _U4]
    i = np.uint64(0)
    while True:
        c = i + i + _U1
        if c >= last:
            break
        d = c + _U1
        if d < last:
            ct, dt = f[c * _U2], f[d * _U2]
            if dt < ct or (dt == ct and g[d * _U4] < g[c * _U4]):
                c = d
        ct = f[c * _U2]
        if ct < xt or (ct == xt and g[c * _U4] < xs):
            _copy_row(f, g, c, i)
            i = c
        else:
            break
    if i != last:
        _copy_row(f, g, last, i)
    _set_row(f, g, last, r_t, r_d, r_s, r_q, r_u, r_v)
    return size - 1
