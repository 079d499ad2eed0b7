"""Reading share events (CSV or Parquet, streamed with pyarrow): the columns the fit uses, converted.

The format (``docs/fitting.md``): one row per share; ``cascade`` and ``time`` are required,
``event``, ``parent``, ``user``, ``followers`` and ``observed_until`` optional. Files are read in
record batches (``pyarrow.csv.open_csv``, ``pyarrow.dataset``) keeping only the columns the fit
uses; every bad value stops the read with one line naming the file, the line (CSV) or row, the
column and the value. :mod:`spreadsim.fit.events` turns the columns into checked cascades.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as pads

from spreadsim.errors import DataError
from spreadsim.outputs.cascade_tables import FIT_OPTIONAL, FIT_REQUIRED, USER

REQUIRED = FIT_REQUIRED  # the format's columns have one home, beside the export that writes it
OPTIONAL = FIT_OPTIONAL
COLUMNS = REQUIRED + OPTIONAL
_READ = tuple(c for c in COLUMNS if c != USER)  # ``user`` is not used
#: how parent links are used: auto (links if they are more than "every reshare -> the original"),
#: tree (the links as given), hawkes (ignore them: the self-exciting likelihood)
LINK_MODES = ("auto", "tree", "hawkes")
_BATCH_BYTES = 1 << 22
#: a zone (Z or a UTC offset) at the end of a timestamp, only after a time of day: the "-01" of
#: the date-only "2024-05-01" is the day, not an offset
_ZONED = r"[T ]\d\d(:?\d\d){0,2}([.,]\d+)?(Z|[+-]\d\d(:?\d\d)?)$"


class Source:
    """Record batches of the columns the fit reads, and where a row is in the file."""

    def __init__(self, source: Any) -> None:
        self.csv = False
        self.path: Path | None = None
        if isinstance(source, str | os.PathLike):
            self.path = Path(source)
            self.name = str(source)
            if not self.path.exists():
                raise DataError(f"{self.name}: no such file")
            self.csv = not self.path.is_dir() and not self.path.name.lower().endswith((".parquet", ".pq"))
            self.columns = self._names()
            self.table = None
        else:
            self.name = "<table>"
            table = source if isinstance(source, pa.Table) else pa.Table.from_pandas(source, preserve_index=False)
            self.table = table
            self.columns = list(table.column_names)
        missing = [c for c in REQUIRED if c not in self.columns]
        if missing:
            raise DataError(f"{self.name}: no column {missing[0]!r} (columns: "
                            f"{', '.join(self.columns) or 'none'}); required: {', '.join(REQUIRED)}")
        self.read = [c for c in _READ if c in self.columns]

    def _names(self) -> list[str]:
        try:
            if self.csv:
                with pacsv.open_csv(self.path, read_options=pacsv.ReadOptions(block_size=_BATCH_BYTES)) as r:
                    return list(r.schema.names)
            return list(pads.dataset(self.path, format="parquet").schema.names)
        except (pa.ArrowException, OSError) as e:
            raise DataError(f"{self.name}: cannot read: {str(e).splitlines()[0]}") from None

    def where(self, row: int) -> str:
        return f"{self.name}, line {row + 2}" if self.csv else f"{self.name}, row {row + 1}"

    def batches(self) -> Iterator[pa.RecordBatch]:
        try:
            if self.table is not None:
                yield from self.table.select(self.read).to_batches(max_chunksize=1 << 16)
            elif self.csv:
                opts = pacsv.ConvertOptions(include_columns=self.read, strings_can_be_null=True,
                                            column_types={c: pa.string() for c in self.read})
                with pacsv.open_csv(self.path, read_options=pacsv.ReadOptions(block_size=_BATCH_BYTES),
                                    convert_options=opts) as reader:
                    yield from reader
            else:
                yield from pads.dataset(self.path, format="parquet").to_batches(columns=self.read)
        except (pa.ArrowException, OSError) as e:
            raise DataError(f"{self.name}: cannot read: {str(e).splitlines()[0]}") from None


def fail(src: Source, row: int, column: str, value: Any, allowed: str) -> DataError:
    return DataError(f"{src.where(row)}: {column} = {value!r}: {allowed}")


def _strings(src: Source, col: pa.Array, name: str, r0: int, nullable: bool) -> pa.Array:
    if pa.types.is_floating(col.type):  # integer ids in a column with nulls (pandas: NaN)
        vals = col.to_numpy(zero_copy_only=False)
        ok = np.isnan(vals) | (vals == np.round(vals))
        if np.all(ok):
            col = pc.cast(col, pa.int64())
    col = pc.utf8_trim_whitespace(pc.cast(col, pa.string()))
    col = pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)
    if not nullable and col.null_count:
        row = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
        raise fail(src, r0 + row, name, "", "must not be empty")
    return col


def _first_bad(values: list[Any], parse: Any) -> int:
    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            parse(v)
        except (ValueError, pa.ArrowException):
            return i
    return 0


def _numbers(src: Source, col: pa.Array, name: str, r0: int, allowed: str) -> np.ndarray:
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        col = pc.utf8_trim_whitespace(col)
        col = pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)
        try:
            col = pc.cast(col, pa.float64())
        except pa.ArrowException:
            values = col.to_pylist()
            i = _first_bad(values, float)
            raise fail(src, r0 + i, name, values[i], allowed) from None
    elif not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        raise DataError(f"{src.name}: column {name} has type {col.type}: {allowed}")
    return pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)


def _timestamps(src: Source, col: pa.Array, name: str, r0: int) -> np.ndarray:
    """Microseconds since 1970 (UTC; a time without zone is taken as UTC)."""
    if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
        ts = pc.cast(col, pa.timestamp("us", tz=col.type.tz) if pa.types.is_timestamp(col.type)
                     else pa.timestamp("us"))
        return pc.cast(ts, pa.int64()).to_numpy(zero_copy_only=False).astype(float)
    col = pc.utf8_trim_whitespace(pc.cast(col, pa.string()))
    out = np.full(len(col), np.nan)
    zoned = pc.fill_null(pc.match_substring_regex(col, _ZONED), False).to_numpy(zero_copy_only=False)
    for mask, typ in ((zoned, pa.timestamp("us", tz="UTC")), (~zoned, pa.timestamp("us"))):
        idx = np.flatnonzero(mask)
        if not idx.shape[0]:
            continue
        sub = col.take(pa.array(idx))
        try:
            vals = pc.cast(pc.cast(sub, typ), pa.int64())
        except pa.ArrowException:
            values = sub.to_pylist()
            i = _first_bad(values, lambda v, t=typ: pc.cast(pa.array([v]), t))
            raise fail(src, r0 + int(idx[i]), name, values[i], "not an ISO-8601 timestamp (the "
                        "column's first value is one; give every time as a timestamp, e.g. "
                        "2024-05-01T12:30:00Z, or every time as hours)") from None
        out[idx] = vals.to_numpy(zero_copy_only=False).astype(float)
    return out


def _time_kind(col: pa.Array) -> str:
    if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
        return "timestamp"
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        return "hours"
    for v in col.to_pylist():
        if v is not None and str(v).strip():
            try:
                float(v)
                return "hours"
            except ValueError:
                return "timestamp"
    return "hours"


def _times(src: Source, col: pa.Array, name: str, r0: int, kind: str, nullable: bool) -> np.ndarray:
    if not nullable and col.null_count:
        row = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
        raise fail(src, r0 + row, name, "", "must not be empty")
    if kind == "hours":
        if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
            raise DataError(f"{src.name}: column {name} holds timestamps but column time holds hours")
        v = _numbers(src, col, name, r0, "must be hours as a number (the column's first value is "
                     "one; give every time as hours, or every time as an ISO-8601 timestamp)")
    else:
        v = _timestamps(src, col, name, r0)
    bad = np.flatnonzero(np.isinf(v) | (np.isnan(v) & ~col.is_null().to_numpy(zero_copy_only=False)))
    if bad.shape[0]:
        raise fail(src, r0 + int(bad[0]), name, col[int(bad[0])].as_py(), "must be a finite time")
    return v


def observed_until_arg(value: Any, kind: str) -> float:
    """The ``observed_until`` argument on the file's clock (hours, or microseconds since 1970)."""
    if kind == "hours":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise DataError(f"observed_until = {value!r}: must be hours as a number (the file's times are hours)")
        try:
            v = float(value)
        except ValueError:
            raise DataError(f"observed_until = {value!r}: must be hours as a number (the file's "
                            "times are hours)") from None
        if not math.isfinite(v):
            raise DataError(f"observed_until = {value!r}: must be a finite number of hours")
        return v
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return dt.timestamp() * 1e6
    text = str(value).strip()
    typ = pa.timestamp("us", tz="UTC") if re.search(_ZONED, text) else pa.timestamp("us")
    try:
        return float(pc.cast(pc.cast(pa.array([text]), typ), pa.int64())[0].as_py())
    except pa.ArrowException:
        raise DataError(f"observed_until = {value!r}: must be an ISO-8601 timestamp such as "
                        "2024-05-01T12:00:00Z (the file's times are timestamps)") from None


def read_columns(source: Any) -> tuple[Source, dict[str, list[Any]], str, int]:
    """Stream ``source`` and return its reader, the converted column chunks, the time kind
    (``hours`` or ``timestamp``: microseconds since 1970, UTC) and the number of rows."""
    src = Source(source)
    has = set(src.read)
    if "parent" in has and "event" not in has:
        raise DataError(f"{src.name}: column parent names events, so column event is needed")
    parts: dict[str, list[Any]] = {c: [] for c in src.read}
    kind = ""
    r0 = 0
    for batch in src.batches():
        cols = dict(zip(batch.schema.names, batch.columns, strict=True))
        if not kind and batch.num_rows:
            kind = _time_kind(cols["time"])
        parts["cascade"].append(_strings(src, cols["cascade"], "cascade", r0, nullable=False))
        parts["time"].append(_times(src, cols["time"], "time", r0, kind, nullable=False))
        for c in ("event", "parent"):
            if c in has:
                parts[c].append(_strings(src, cols[c], c, r0, nullable=c == "parent"))
        if "followers" in has:
            f = _numbers(src, cols["followers"], "followers", r0, "must be a count >= 0")
            bad = np.flatnonzero(~(f >= 0) | ~np.isfinite(f))
            if bad.shape[0]:
                v = cols["followers"][int(bad[0])].as_py()
                raise fail(src, r0 + int(bad[0]), "followers", "" if v is None else v, "must be a count >= 0")
            parts["followers"].append(f)
        if "observed_until" in has:
            parts["observed_until"].append(_times(src, cols["observed_until"], "observed_until", r0,
                                                  kind, nullable=True))
        r0 += batch.num_rows
    if r0 == 0:
        raise DataError(f"{src.name}: no events")
    return src, parts, kind, r0


__all__ = ["COLUMNS", "LINK_MODES", "OPTIONAL", "REQUIRED", "Source", "fail", "observed_until_arg",
           "read_columns"]
