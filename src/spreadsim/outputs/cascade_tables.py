"""The exported cascades (issue 19, section 2): the columns of the ``shares`` and ``exposures``
tables, and the per-cascade size and depth table computed from a ``shares`` table.

The tables are written by :mod:`spreadsim.runs.cascades` (from a traced run); this module knows
no model object: it names the columns (the one home of their names and types) and reads the
tables back. A ``shares`` table is in the input format of ``spreadsim fit``
(``docs/fitting.md``): ``cascade``, ``event``, ``parent``, ``user``, ``time``,
``observed_until``, so fitting spreadsim's own output is the round trip.

:func:`cascade_table` computes, per cascade, its reshares, depth (the longest chain of reshares
below the upload) and breadth (the most shares at one depth), from the shares table's parent
links, with whole-column numpy operations (no per-row Python objects).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from spreadsim.errors import DataError

#: the columns of the input format of ``spreadsim fit`` (docs/fitting.md), which the ``shares``
#: table is written in: required, then optional (the fit's reader takes them from here)
CASCADE, EVENT, PARENT, USER, TIME, FOLLOWERS, OBSERVED_UNTIL = (
    "cascade", "event", "parent", "user", "time", "followers", "observed_until")
FIT_REQUIRED = (CASCADE, TIME)
FIT_OPTIONAL = (EVENT, PARENT, USER, FOLLOWERS, OBSERVED_UNTIL)

#: the columns of the ``shares`` table: name -> Arrow type (one row per share; the upload is the
#: share without a parent)
SHARE_SCHEMA = pa.schema([
    ("seed", pa.int64()),            # the run seed
    ("post_id", pa.int64()),         # post id in the run (as in the posts table)
    ("content_id", pa.int64()),      # content id (re-uploads share it)
    ("copy", pa.int64()),            # 0: original upload, k: k-th re-upload
    ("category", pa.string()),       # content category (legal for background posts)
    (CASCADE, pa.string()),          # "<seed>:<post>"
    (EVENT, pa.int64()),             # the share's id in its cascade: its sharer's user id
    (PARENT, pa.int64()),            # the event (sharer) of the share it reshared; null: upload
    (USER, pa.int64()),              # the sharer
    (TIME, pa.float64()),            # hours since the start of the run
    (OBSERVED_UNTIL, pa.float64()),  # min(horizon, the post's removal time), hours
    ("removal_time_h", pa.float64()),  # the post's removal time, hours (null: not removed)
])
#: the columns of the ``exposures`` table (one row per exposure, repeats included)
EXPOSURE_SCHEMA = pa.schema([
    ("seed", pa.int64()),
    ("post_id", pa.int64()),
    ("user", pa.int64()),            # the user exposed
    ("source", pa.int64()),          # the sharer whose share (copy) they saw: the parent event
    ("time", pa.float64()),
    ("first", pa.bool_()),           # the user's first exposure to the post
    ("reshared", pa.bool_()),        # the user reshared the post at this exposure
    ("removal_time_h", pa.float64()),  # when the copy seen went: min(post, copy removal); null: never
    ("before_removal", pa.bool_()),  # time < removal_time_h (the engine's tie rule): always true
])
SHARE_COLUMNS = tuple(SHARE_SCHEMA.names)
EXPOSURE_COLUMNS = tuple(EXPOSURE_SCHEMA.names)
#: the columns of the per-cascade table (:func:`cascade_table`)
CASCADE_COLUMNS = ("seed", "post_id", "cascade", "category", "reshares", "depth", "breadth",
                   "upload_time_h", "last_share_time_h", "observed_until", "removed")

__all__ = ["CASCADE", "EVENT", "PARENT", "USER", "TIME", "FOLLOWERS", "OBSERVED_UNTIL", "FIT_REQUIRED",
           "FIT_OPTIONAL", "SHARE_SCHEMA", "EXPOSURE_SCHEMA", "SHARE_COLUMNS", "EXPOSURE_COLUMNS", "CASCADE_COLUMNS",
           "read_shares", "cascade_table", "share_depths"]


def read_shares(source: str | os.PathLike[str] | pa.Table | Mapping[str, Any],
                columns: tuple[str, ...] = SHARE_COLUMNS) -> dict[str, np.ndarray]:
    """The ``columns`` of a shares table (a Parquet file, an Arrow table or a mapping of
    arrays) as numpy arrays; ``parent`` with -1 for the uploads."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.exists():
            raise DataError(f"{path}: no such file")
        try:
            table = pq.read_table(path, columns=list(columns))
        except (pa.ArrowException, OSError) as e:
            raise DataError(f"{path}: cannot read the shares table: {str(e).splitlines()[0]}") from None
    elif isinstance(source, pa.Table):
        table = source.select(list(columns))
    else:
        missing = [c for c in columns if c not in source]
        if missing:
            raise DataError(f"shares table: no column {missing[0]!r}")
        return {c: np.asarray(source[c]) for c in columns}
    out: dict[str, np.ndarray] = {}
    for c in columns:
        col = table.column(c)
        if c == "parent":
            out[c] = col.fill_null(-1).to_numpy()
        elif pa.types.is_string(col.type):
            out[c] = np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)
        else:
            out[c] = col.to_numpy()
    return out


def share_depths(cascade: np.ndarray, event: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Generations below the upload of every share (0: the upload), from the parent links.

    ``cascade``: integer codes of each share's cascade; ``event``, ``parent``: ids within the
    cascade (``parent`` -1 for the upload). Pointer doubling: ``log2`` of the depth passes over
    the arrays.

    Raises
    ------
    DataError
        A parent that is not a share of the same cascade, or links that form a cycle.
    """
    n = event.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    span = int(max(int(event.max()), int(parent.max()), 0)) + 1
    if int(cascade.max()) + 1 > (1 << 62) // span:
        raise DataError("shares table: too many cascades x users to index")
    key = cascade.astype(np.int64) * span + event
    order = np.argsort(key, kind="stable")
    sk = key[order]
    if np.any(sk[1:] == sk[:-1]):
        raise DataError("shares table: a user shares a post twice (event ids repeat in a cascade)")
    linked = parent >= 0
    pkey = cascade[linked].astype(np.int64) * span + parent[linked]
    pos = np.minimum(np.searchsorted(sk, pkey), n - 1)
    if not np.all(sk[pos] == pkey):
        raise DataError("shares table: a parent is not a share of its cascade")
    up = np.full(n, -1, dtype=np.int64)
    up[linked] = order[pos]
    depth = linked.astype(np.int64)
    for _ in range(64):
        live = np.flatnonzero(up >= 0)
        if not live.shape[0]:
            return depth
        depth[live] += depth[up[live]]
        up[live] = up[up[live]]
    raise DataError("shares table: parent links form a cycle")


def cascade_table(shares: str | os.PathLike[str] | pa.Table | Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Per cascade (``seed``, ``post_id``): its reshares, depth, breadth and times.

    Parameters
    ----------
    shares : path, pyarrow.Table or mapping
        A ``shares`` table (:data:`SHARE_COLUMNS`).

    Returns
    -------
    dict of numpy arrays
        :data:`CASCADE_COLUMNS`, one row per cascade in (seed, post) order: ``reshares`` (shares
        but the upload), ``depth`` (the longest chain of reshares below the upload; 0: nobody
        reshared), ``breadth`` (the most shares at one depth below the upload; 0: none),
        ``upload_time_h``, ``last_share_time_h``, ``observed_until`` and ``removed``
        (whether the post was removed before the horizon).
    """
    t = read_shares(shares, ("seed", "post_id", "category", "event", "parent", "time",
                             "observed_until", "removal_time_h"))
    seed, post = t["seed"].astype(np.int64), t["post_id"].astype(np.int64)
    pairs = np.stack([seed, post], axis=1)
    uniq, first, code = np.unique(pairs, axis=0, return_index=True, return_inverse=True)
    code = code.reshape(-1)
    k = uniq.shape[0]
    depth = share_depths(code, t["event"].astype(np.int64), t["parent"].astype(np.int64))
    max_depth = np.zeros(k, dtype=np.int64)
    np.maximum.at(max_depth, code, depth)
    breadth = np.zeros(k, dtype=np.int64)
    if depth.shape[0]:
        level = code * (int(depth.max()) + 1) + depth
        counts = np.bincount(level[depth > 0], minlength=k * (int(depth.max()) + 1))
        breadth = counts.reshape(k, -1).max(axis=1)
    time = t["time"].astype(np.float64)
    root = depth == 0
    if np.bincount(code[root], minlength=k).max(initial=1) != 1 or np.any(np.bincount(code[root], minlength=k) == 0):
        raise DataError("shares table: every cascade needs exactly one upload (a share without a parent)")
    upload = np.empty(k)
    upload[code[root]] = time[root]
    last = np.full(k, -np.inf)
    np.maximum.at(last, code, time)
    removal = t["removal_time_h"].astype(np.float64)
    return {"seed": uniq[:, 0], "post_id": uniq[:, 1],
            "cascade": np.array([f"{s}:{q}" for s, q in uniq], dtype=object),
            "category": t["category"][first],
            "reshares": np.bincount(code, minlength=k) - 1, "depth": max_depth, "breadth": breadth,
            "upload_time_h": upload, "last_share_time_h": last,
            "observed_until": t["observed_until"].astype(np.float64)[first],
            "removed": ~np.isnan(removal[first])}
