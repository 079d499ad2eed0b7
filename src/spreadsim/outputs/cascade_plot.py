"""The figure of one exported cascade: its transmission tree over time, the removal marked.

Reads a ``shares`` table (:mod:`spreadsim.outputs.cascade_tables`; written by
:mod:`spreadsim.runs.cascades`), so it works on any export, not on a run's objects. Each share
is a dot at its time (x) on its own row (y), the rows in depth-first order of the tree (a
share's subtree takes consecutive rows below it, children in time order), coloured by its depth
below the upload; a line joins every share to the share it reshared. The post's removal time is
a red vertical line; an unremoved post's observation end (the horizon) a grey dotted one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from spreadsim.errors import DataError
from spreadsim.outputs.cascade_tables import read_shares, share_depths
from spreadsim.outputs.plots import _pyplot, _save

__all__ = ["plot_cascade", "tree_rows"]

_COLUMNS = ("seed", "post_id", "cascade", "category", "event", "parent", "time", "observed_until",
            "removal_time_h")


def tree_rows(parent_index: np.ndarray, time: np.ndarray) -> np.ndarray:
    """The row of every share in a depth-first walk of one cascade's tree (the upload, with
    ``parent_index`` -1, on row 0; each share's children in time order right below it)."""
    n = parent_index.shape[0]
    children: list[list[int]] = [[] for _ in range(n)]
    for i in np.lexsort((np.arange(n), time)):
        p = int(parent_index[i])
        if p >= 0:
            children[p].append(int(i))
    rows = np.full(n, -1, dtype=np.int64)
    stack = [int(i) for i in np.flatnonzero(parent_index < 0)[::-1]]
    k = 0
    while stack:
        i = stack.pop()
        rows[i] = k
        k += 1
        stack.extend(reversed(children[i]))
    return rows


def plot_cascade(shares: str | os.PathLike[str] | pa.Table | Mapping[str, Any],
                 path: str | os.PathLike[str], cascade: str | None = None, *,
                 svg: bool = False) -> list[Path]:
    """Draw one cascade's tree over time (PNG, and SVG with ``svg``).

    Parameters
    ----------
    shares : path, pyarrow.Table or mapping
        An exported ``shares`` table.
    path : path-like
        The PNG file.
    cascade : str, optional
        The cascade's id (``"<seed>:<post>"``); None: the cascade with the most shares (the
        first of them in the table).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    DataError
        No such cascade, or a table that is not a shares table.
    """
    t = read_shares(shares, _COLUMNS)
    ids = np.asarray(t["cascade"]).astype(str)
    if ids.shape[0] == 0:
        raise DataError("shares table: no shares")
    if cascade is None:
        uniq, first, counts = np.unique(ids, return_index=True, return_counts=True)
        best = np.flatnonzero(counts == counts.max())
        cascade = str(uniq[best[np.argmin(first[best])]])
    sel = np.flatnonzero(ids == cascade)
    if sel.shape[0] == 0:
        raise DataError(f"cascade = {cascade!r}: not in the shares table (ids are <seed>:<post>, "
                        f"such as {ids[0]!r})")
    event, parent = t["event"][sel].astype(np.int64), t["parent"][sel].astype(np.int64)
    time = t["time"][sel].astype(np.float64)
    depth = share_depths(np.zeros(sel.shape[0], dtype=np.int64), event, parent)
    order = np.argsort(event, kind="stable")
    pos = np.searchsorted(event[order], parent)
    pidx = np.where(parent >= 0, order[np.minimum(pos, sel.shape[0] - 1)], -1)
    rows = tree_rows(pidx, time)
    removal = float(t["removal_time_h"][sel][0])
    until = float(t["observed_until"][sel][0])

    plt = _pyplot()
    from matplotlib.collections import LineCollection

    fig, ax = plt.subplots(figsize=(8, 5))
    linked = np.flatnonzero(pidx >= 0)
    segs = np.stack([np.stack([time[pidx[linked]], rows[pidx[linked]]], axis=1),
                     np.stack([time[linked], rows[linked]], axis=1)], axis=1)
    ax.add_collection(LineCollection(list(segs), colors="0.6", linewidths=0.7, zorder=1))
    dots = ax.scatter(time, rows, c=depth, cmap="viridis", s=max(4.0, 60.0 / np.sqrt(sel.shape[0])),
                      zorder=2)
    if depth.max() > 0:
        fig.colorbar(dots, ax=ax, label="depth (reshares below the upload)")
    if np.isfinite(removal):
        ax.axvline(removal, color="tab:red", linestyle="--", label=f"removed at {removal:.4g} h")
    else:
        ax.axvline(until, color="0.4", linestyle=":", label=f"not removed (observed until {until:.4g} h)")
    ax.set_xlim(time.min() - 0.02 * max(until - time.min(), 1e-9),
                max(until, removal if np.isfinite(removal) else until) + 0.02 * max(until - time.min(), 1e-9))
    ax.set_ylim(sel.shape[0] - 0.5, -0.5)
    ax.set_xlabel("time since the start of the run (hours)")
    ax.set_ylabel("share (depth-first order)")
    ax.set_title(f"cascade {cascade} ({t['category'][sel][0]}): {sel.shape[0] - 1} reshares, "
                 f"depth {int(depth.max())}")
    ax.legend(loc="best")
    return _save(fig, path, svg)
