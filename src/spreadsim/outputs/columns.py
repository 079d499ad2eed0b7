"""Tables in memory: a ``dict`` of equally long 1-D numpy arrays (column name -> values).

Rows (dicts) become columns with :func:`rows_to_columns`, tables are stacked with :func:`concat`;
the tables on disk are :mod:`spreadsim.outputs.io`'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: a table: column name -> 1-D array
Table = dict[str, np.ndarray]

__all__ = ["Table", "column", "rows_to_columns", "concat", "plain"]


def column(values: list[Any]) -> np.ndarray:
    """One column from row values: booleans, integers, floats (None -> NaN) or strings."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool | np.bool_) for v in present):
        if len(present) == len(values):
            return np.array(values, dtype=bool)
        return np.array(values, dtype=object)
    if present and all(isinstance(v, int | np.integer) and not isinstance(v, bool)
                       for v in present) and len(present) == len(values):
        return np.array(values, dtype=np.int64)
    if all(isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
           for v in present):
        return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
    return np.array([None if v is None else str(v) for v in values], dtype=object)


def rows_to_columns(rows: Sequence[Mapping[str, Any]]) -> Table:
    """A table from rows; its columns in order of first appearance (a row without one: None)."""
    keys: list[str] = []
    for r in rows:
        keys.extend(k for k in r if k not in keys)
    return {k: column([r.get(k) for r in rows]) for k in keys}


def concat(parts: Sequence[Mapping[str, np.ndarray]]) -> Table:
    """Tables one after the other; columns in order of first appearance."""
    keys: list[str] = []
    for p in parts:
        keys.extend(k for k in p if k not in keys)
    out = {}
    for k in keys:
        arrs = [p[k] for p in parts if k in p]
        out[k] = np.concatenate(arrs) if arrs else np.zeros(0)
    return out


def plain(v: Any) -> Any:
    """A numpy scalar as the Python value (anything else as it is)."""
    if isinstance(v, np.generic):
        return v.item()
    return v
