"""Share events as checked cascades: ids resolved, parents linked, original posts found, the
observation end set, and every inconsistency refused in one line naming the file and the row.

The original post of a cascade is its event without a parent (with parent links) or its
earliest event (without; ties: the first in the file). Parent links are used as given (``tree``)
unless every reshare points to its cascade's original post, which is how platforms record
reshares without the path: then the cascade is fitted as a self-exciting process (``hawkes``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spreadsim.errors import DataError
from spreadsim.fit.reader import LINK_MODES, Source, fail, observed_until_arg, read_columns

_US_PER_H = 3.6e9


@dataclass(frozen=True)
class Cascades:
    """Checked cascades, shares sorted by cascade, then time (each original post first).

    ``start[k]:start[k + 1]`` are cascade ``k``'s shares (``start`` ends with the number of
    shares); ``times`` are hours since the cascade's original post; ``parent`` the index of each
    share's parent (-1 for originals; without links, the original post); ``horizon[k]`` the
    observation end of cascade ``k`` in hours since its original post; ``links`` ``tree`` or
    ``hawkes``; ``notes`` say how the links and the observation end were decided.
    """

    source: str
    ids: list[str]
    start: np.ndarray
    times: np.ndarray
    parent: np.ndarray
    horizon: np.ndarray
    followers: np.ndarray | None
    links: str
    notes: tuple[str, ...]

    @property
    def n_cascades(self) -> int:
        return len(self.ids)

    @property
    def n_shares(self) -> int:
        return int(self.times.shape[0])

    @property
    def cascade(self) -> np.ndarray:
        """The cascade of every share."""
        return np.repeat(np.arange(self.n_cascades), np.diff(self.start))

    @property
    def window(self) -> np.ndarray:
        """Every share's time left until its cascade's observation end (hours)."""
        return self.horizon[self.cascade] - self.times

    @property
    def sizes(self) -> np.ndarray:
        """Reshares per cascade (the original post not counted)."""
        return np.diff(self.start) - 1


def _codes(col: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Dense codes in order of first appearance, and the distinct values."""
    enc = pc.dictionary_encode(col.combine_chunks())
    return enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), enc.dictionary


def _depth(parent: np.ndarray) -> np.ndarray | None:
    """Generations below the root of every share (pointer doubling); None if links form a cycle."""
    depth = (parent >= 0).astype(np.int64)
    nxt = parent.copy()
    for _ in range(int(np.log2(max(parent.shape[0], 2))) + 2):
        live = np.flatnonzero(nxt >= 0)
        if not live.shape[0]:
            return depth
        depth[live] += depth[nxt[live]]
        nxt[live] = nxt[nxt[live]]
    return None if np.any(nxt >= 0) else depth


def build(src: Source, parts: dict[str, list[Any]], kind: str, rows: int, observed_until: Any,
          links: str) -> Cascades:
    """Resolve and check the columns :func:`spreadsim.fit.reader.read_columns` read."""
    casc = pa.chunked_array(parts["cascade"], type=pa.string())
    code, cuniq = _codes(casc)
    k = len(cuniq)
    raw_t = np.concatenate(parts["time"])
    zero = float(raw_t.min()) if kind == "timestamp" else 0.0
    scale = _US_PER_H if kind == "timestamp" else 1.0
    t = (raw_t - zero) / scale
    row = np.arange(rows)
    has_links = "parent" in parts and any(c.null_count < len(c) for c in parts["parent"])
    parent = np.full(rows, -1, dtype=np.int64)
    if "event" in parts:
        ev = pa.chunked_array(parts["event"], type=pa.string())
        ecode, euniq = _codes(ev)
        keys = code * len(euniq) + ecode
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        dup = np.flatnonzero(sk[1:] == sk[:-1])
        if dup.shape[0]:
            r = int(order[dup[0] + 1])
            raise fail(src, r, "event", ev[r].as_py(), f"repeats event {ev[r].as_py()!r} of cascade "
                       f"{casc[r].as_py()!r} ({src.where(int(order[dup[0]])).split(', ')[-1]})")
        if has_links:
            par = pa.chunked_array(parts["parent"], type=pa.string())
            isnull = par.is_null().to_numpy(zero_copy_only=False)
            pcode = pc.index_in(par, value_set=euniq).to_numpy(zero_copy_only=False)
            linked = np.flatnonzero(~isnull)
            pkeys = code[linked] * len(euniq) + np.nan_to_num(pcode[linked], nan=-1).astype(np.int64)
            pos = np.minimum(np.searchsorted(sk, pkeys), rows - 1)
            found = (sk[pos] == pkeys) & ~np.isnan(pcode[linked].astype(float))
            if not np.all(found):
                r = int(linked[np.flatnonzero(~found)[0]])
                raise fail(src, r, "parent", par[r].as_py(), f"is not an event of cascade {casc[r].as_py()!r}")
            parent[linked] = order[pos]
            self_loop = np.flatnonzero(parent[linked] == linked)
            if self_loop.shape[0]:
                r = int(linked[self_loop[0]])
                raise fail(src, r, "parent", par[r].as_py(), "is the event itself")
    if has_links:
        roots = np.flatnonzero(parent < 0)
        count = np.bincount(code[roots], minlength=k)
        for c in np.flatnonzero(count != 1)[:1]:
            if count[c] == 0:
                raise DataError(f"{src.name}: cascade {cuniq[c].as_py()!r} has no original post (every "
                                "event has a parent, so the links form a cycle)")
            rs = roots[code[roots] == c][:2]
            raise DataError(f"{src.name}: cascade {cuniq[c].as_py()!r} has {count[c]} events without a "
                            f"parent ({src.where(int(rs[0]))}; {src.where(int(rs[1])).split(', ')[-1]}, ...): "
                            "a cascade has one original post, the event without a parent")
        depth = _depth(parent)
        if depth is None:
            raise DataError(f"{src.name}: parent links form a cycle")
        late = np.flatnonzero((parent >= 0) & (t < t[np.maximum(parent, 0)]))
        if late.shape[0]:
            r = int(late[0])
            p = int(parent[r])
            raise fail(src, r, "time", parts_value(parts, "time", r, kind),
                       f"is before the time of its parent ({src.where(p).split(', ')[-1]}: "
                       f"{parts_value(parts, 'time', p, kind)})")
        root_of = np.zeros(k, dtype=np.int64)
        root_of[code[roots]] = roots
        early = np.flatnonzero(t < t[root_of[code]])
        if early.shape[0]:
            r = int(early[0])
            o = int(root_of[code[r]])
            raise fail(src, r, "time", parts_value(parts, "time", r, kind), "is before the original "
                       f"post of cascade {casc[r].as_py()!r} ({src.where(o).split(', ')[-1]}: "
                       f"{parts_value(parts, 'time', o, kind)})")
    else:
        depth = np.ones(rows, dtype=np.int64)
        first = np.lexsort((row, t, code))
        is_first = np.ones(rows, dtype=bool)
        is_first[1:] = code[first][1:] != code[first][:-1]
        depth[first[is_first]] = 0
    order = np.lexsort((row, depth, t, code))
    start = np.searchsorted(code[order], np.arange(k + 1))
    roots_sorted = order[start[:-1]]
    star = bool(np.all(np.isin(parent[parent >= 0], roots_sorted))) if has_links else True
    notes = []
    mode = links
    if links == "auto":
        mode = "hawkes" if star else "tree"
        if has_links and star:
            notes.append("every reshare points to its original post: fitted as a self-exciting "
                         "process (links=tree fits the links as given)")
    elif links == "tree" and not has_links:
        raise DataError(f"{src.name}: links = 'tree' needs parent links (a column parent with values)")
    horizon_abs = _observation_end(src, parts, kind, code, k, raw_t, observed_until, notes)
    late = np.flatnonzero(raw_t > horizon_abs[code])
    if late.shape[0]:
        r = int(late[0])
        raise fail(src, r, "time", parts_value(parts, "time", r, kind),
                   f"is after the observation end of cascade {casc[r].as_py()!r} "
                   f"({_fmt(horizon_abs[code[r]], kind)})")
    inv = np.empty(rows, dtype=np.int64)
    inv[order] = np.arange(rows)
    p_sorted = parent[order]
    p_sorted = np.where(p_sorted >= 0, inv[np.maximum(p_sorted, 0)], -1)
    if not has_links:
        p_sorted = np.where(np.arange(rows) == start[code[order]], -1, start[code[order]])
    t0 = t[roots_sorted]
    times = t[order] - t0[code[order]]
    horizon = (horizon_abs - zero) / scale - t0
    followers = np.concatenate(parts["followers"])[order] if "followers" in parts else None
    return Cascades(src.name, [str(v) for v in cuniq.to_pylist()], start.astype(np.int64), times,
                    p_sorted, horizon, followers, mode, tuple(notes))


def _fmt(v: float, kind: str) -> str:
    if kind == "hours":
        return f"{v:g} h"
    return str(pa.scalar(int(v), pa.timestamp("us", tz="UTC")).as_py().isoformat())


def parts_value(parts: dict[str, list[Any]], name: str, row: int, kind: str) -> str:
    """A converted value as the error message shows it."""
    return _fmt(float(np.concatenate(parts[name])[row]), kind)


def _observation_end(src: Source, parts: dict[str, list[Any]], kind: str, code: np.ndarray, k: int,
                     raw_t: np.ndarray, observed_until: Any, notes: list[str]) -> np.ndarray:
    """Every cascade's observation end on the file's clock."""
    end = np.full(k, np.nan)
    if "observed_until" in parts:
        obs = np.concatenate(parts["observed_until"])
        have = ~np.isnan(obs)
        lo = np.full(k, np.inf)
        hi = np.full(k, -np.inf)
        np.minimum.at(lo, code[have], obs[have])
        np.maximum.at(hi, code[have], obs[have])
        bad = np.flatnonzero(np.isfinite(lo) & (lo != hi))
        if bad.shape[0]:
            c = int(bad[0])
            r = int(np.flatnonzero((code == c) & have & (obs == hi[c]))[0])
            raise fail(src, r, "observed_until", _fmt(hi[c], kind), "differs from another row of the "
                       f"same cascade ({_fmt(lo[c], kind)}): one observation end per cascade")
        end = np.where(np.isfinite(lo), lo, np.nan)
    missing = np.isnan(end)
    if np.any(missing):
        if observed_until is not None:
            end[missing] = observed_until_arg(observed_until, kind)
        else:
            end[missing] = float(raw_t.max())
            notes.append(f"observation end: the latest time in the file ({_fmt(float(raw_t.max()), kind)}), "
                         "for cascades without observed_until")
    return end


def read_events(source: Any, observed_until: Any = None, links: str = "auto") -> Cascades:
    """Read and check share events.

    Parameters
    ----------
    source : path or pyarrow.Table or pandas.DataFrame
        A CSV (optionally compressed: ``.gz``, ``.bz2``) or Parquet file (or a folder of them).
    observed_until : number, str or datetime, optional
        The observation end of cascades without an ``observed_until`` value: hours on the file's
        clock, or a timestamp when the times are timestamps. None: the latest time in the file.
    links : str
        ``auto``, ``tree`` or ``hawkes`` (:data:`spreadsim.fit.reader.LINK_MODES`).

    Raises
    ------
    DataError
        One line naming the file, the line or row, the column and the value.
    """
    if links not in LINK_MODES:
        raise DataError(f"links = {links!r}: must be one of {', '.join(LINK_MODES)}")
    src, parts, kind, rows = read_columns(source)
    return build(src, parts, kind, rows, observed_until, links)


__all__ = ["Cascades", "build", "read_events"]
