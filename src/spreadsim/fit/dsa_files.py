"""Streaming the DSA Transparency Database's dump files: record batches of the columns asked for,
as text, from a zip of ``*.csv.zip`` parts as downloaded (zips within zips), CSV, gzipped CSV or
Parquet (pyarrow's CSV stream reader over each zip member, ``ParquetFile.iter_batches``): one batch
in memory at a time. A file without a column asked for is a one-line :class:`DataError`.
"""
from __future__ import annotations

import gzip
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from spreadsim.errors import ConfigError, DataError

__all__ = ["DATA_SUFFIXES", "expand", "file_batches", "kind"]

DATA_SUFFIXES = (".zip", ".csv", ".csv.gz", ".parquet")
_BLOCK = 4 << 20  # bytes per CSV block read


def kind(name: str) -> str | None:
    low = name.lower()
    return next((s for s in DATA_SUFFIXES if low.endswith(s)), None)


def expand(files: Iterable[str | Path]) -> list[Path]:
    """The data files given (a folder gives its data files, sorted); a missing path or one of
    another kind is a one-line :class:`ConfigError`."""
    out: list[Path] = []
    for f in files:
        p = Path(f)
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.is_file() and kind(q.name)))
        elif not p.is_file():
            raise ConfigError("files", str(f), "file not found")
        elif kind(p.name) is None:
            raise ConfigError("files", str(f), f"not a dump file; allowed: {', '.join(DATA_SUFFIXES)}")
        else:
            out.append(p)
    if not out:
        raise ConfigError("files", [str(f) for f in files], "no dump files (.zip, .csv, .csv.gz, .parquet)")
    return out


def _csv_batches(stream: Any, columns: Sequence[str], where: str) -> Iterator[pa.RecordBatch]:
    try:
        reader = pacsv.open_csv(
            stream, read_options=pacsv.ReadOptions(block_size=_BLOCK),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(include_columns=list(columns),
                                                  column_types=dict.fromkeys(columns, pa.string())))
    except pa.ArrowException as e:  # "Column 'x' in include_columns does not exist in CSV file"
        missing = re.search(r"Column '([^']*)' in include_columns does not exist", str(e))
        if missing is None:
            raise
        _check_columns(pa.schema([]), [missing.group(1)], where)
    yield from reader


def _parquet_batches(source: Any, columns: Sequence[str], where: str) -> Iterator[pa.RecordBatch]:
    f = pq.ParquetFile(source)
    _check_columns(f.schema_arrow, columns, where)
    yield from f.iter_batches(batch_size=65536, columns=list(columns))


def _check_columns(schema: pa.Schema, columns: Sequence[str], where: str) -> None:
    missing = [c for c in columns if c not in schema.names or schema.field(c).type == pa.null()]
    if missing:
        raise DataError(f"{where}: no column {', '.join(missing)} (not a DSA Transparency Database dump?)")


def _zip_batches(zf: zipfile.ZipFile, columns: Sequence[str], where: str,
                 skipped: list[str]) -> Iterator[pa.RecordBatch]:
    for info in sorted(zf.infolist(), key=lambda i: i.filename):
        name, k = f"{where}:{info.filename}", kind(info.filename)
        if info.is_dir():
            continue
        if k is None:
            skipped.append(name)
            continue
        with zf.open(info) as member:
            if k == ".zip":
                with zipfile.ZipFile(member) as inner:
                    yield from _zip_batches(inner, columns, name, skipped)
            elif k == ".parquet":
                yield from _parquet_batches(member, columns, name)
            else:
                yield from _csv_batches(gzip.GzipFile(fileobj=member) if k == ".csv.gz" else member, columns, name)


def file_batches(path: Path, columns: Sequence[str], skipped: list[str]) -> Iterator[pa.RecordBatch]:
    k = kind(path.name)
    with ExitStack() as stack:
        if k == ".parquet":
            yield from _parquet_batches(str(path), columns, str(path))
        elif k == ".zip":
            yield from _zip_batches(stack.enter_context(zipfile.ZipFile(path)), columns, str(path), skipped)
        else:
            f: Any = gzip.open(path, "rb") if k == ".csv.gz" else open(path, "rb")
            yield from _csv_batches(stack.enter_context(f), columns, str(path))
