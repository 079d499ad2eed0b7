"""Result tables on disk: Parquet (the record) plus CSV (for spreadsheets), written atomically.

A table is a plain ``dict`` of equally long 1-D numpy arrays (column name -> values), the shape
:class:`~spreadsim.engine.simulation.RunResult` already uses. :func:`write_table` writes
``<path>.parquet`` (every float at full precision) and ``<path>.csv`` (floats rounded to
:data:`CSV_DIGITS` significant digits, so a mean reads ``555.8525``, not
``555.8525000000001``); each file is first written to a temporary file in the same
folder and then moved into place with :func:`os.replace`, so a reader (or a sweep that resumes
after a crash) never sees half a file.

The Parquet output is deterministic: no timestamps, the column and row order given, fixed
compression. The same table gives the same bytes (with the same pyarrow version).

Examples
--------
>>> import tempfile, numpy as np
>>> d = tempfile.mkdtemp()
>>> write_table({"seed": np.array([0, 1]), "reach": np.array([2.5, 3.0])}, f"{d}/runs")
>>> read_table(f"{d}/runs")["reach"].tolist()
[2.5, 3.0]
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from spreadsim.errors import DataError, OutputError

COMPRESSION = "zstd"
#: significant digits of a float in a CSV file (the Parquet file keeps every bit)
CSV_DIGITS = 10
_UMASK = os.umask(0)
os.umask(_UMASK)

__all__ = ["CSV_DIGITS", "write_table", "read_table", "atomic_write_bytes", "to_arrow", "canonical",
           "round_significant"]


def round_significant(values: np.ndarray, digits: int = CSV_DIGITS) -> np.ndarray:
    """Floats rounded to ``digits`` significant digits (NaN and infinities as they are).

    >>> round_significant(np.array([555.8525000000001, 0.1 + 0.2, -1e-300, np.inf])).tolist()
    [555.8525, 0.3, -1e-300, inf]
    """
    x = np.asarray(values, dtype=np.float64)
    return np.array([float(f"{v:.{digits}g}") for v in x.tolist()], dtype=np.float64)


def _csv_columns(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The columns as the CSV file holds them: floating-point ones rounded
    (:func:`round_significant`)."""
    return {k: (round_significant(v) if np.asarray(v).dtype.kind == "f" else v)
            for k, v in columns.items()}


def to_arrow(columns: Mapping[str, np.ndarray]) -> pa.Table:
    """Convert a dict of 1-D arrays to a :class:`pyarrow.Table` (object arrays become strings).

    Parameters
    ----------
    columns : mapping of str to numpy.ndarray
        Equally long 1-D arrays, in the column order wanted.

    Returns
    -------
    pyarrow.Table
    """
    arrays = []
    n = None
    for name, values in columns.items():
        a = np.asarray(values)
        if a.ndim != 1:
            raise ValueError(f"column {name!r} must be 1-D, got shape {a.shape}")
        if n is None:
            n = a.shape[0]
        elif a.shape[0] != n:
            raise ValueError(f"column {name!r} has {a.shape[0]} rows, expected {n}")
        if a.dtype == object or a.dtype.kind in "US":
            arrays.append(pa.array([None if v is None else str(v) for v in a], type=pa.string()))
        else:
            arrays.append(pa.array(a))
    return pa.Table.from_arrays(arrays, names=[str(k) for k in columns])


def canonical(obj: Any) -> Any:
    """A config as JSON-ready plain data with stable types (non-finite floats as their repr), for
    hashing and for ``job.json``."""
    if isinstance(obj, Mapping):
        return {str(k): canonical(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [canonical(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)
    return obj


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename).

    Parameters
    ----------
    path : path-like
        Destination file; its folder must exist.
    data : bytes
        The content.
    """
    _atomic(Path(path), lambda tmp: Path(tmp).write_bytes(data))


def _atomic(path: Path, write: Callable[[str], object]) -> None:
    """Write through a temporary file in the same folder and rename it into place; on any failure
    the temporary file is removed, the destination is untouched, and an OS error (read-only
    folder, disk full) becomes a one-line :class:`OutputError`."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results get the usual permissions
        write(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError):
            reason = e.strerror or str(e).splitlines()[0]
            raise OutputError(f"cannot write {path}: {reason}") from e
        raise


def write_table(columns: Mapping[str, np.ndarray],
                path_without_suffix: str | os.PathLike[str]) -> None:
    """Write a table as ``<path>.parquet`` and ``<path>.csv``, each atomically.

    Parameters
    ----------
    columns : mapping of str to numpy.ndarray
        Equally long 1-D arrays; object/str arrays are stored as strings. Row and column order are
        kept as given.
    path_without_suffix : path-like
        Destination without suffix, e.g. ``out/runs`` gives ``out/runs.parquet`` and
        ``out/runs.csv``. The folder must exist.

    Notes
    -----
    The Parquet file is byte-identical for identical input: no timestamps are stored, the
    compression (zstd) and the writer options are fixed. It holds every float at full precision;
    the CSV file rounds floats to :data:`CSV_DIGITS` significant digits (for reading, not for
    computing on).
    """
    table = to_arrow(columns)
    csv_table = to_arrow(_csv_columns(columns))
    base = Path(path_without_suffix)
    _atomic(base.with_name(base.name + ".parquet"),
            lambda tmp: pq.write_table(table, tmp, compression=COMPRESSION, version="2.6",
                                       data_page_version="1.0", write_statistics=True))
    _atomic(base.with_name(base.name + ".csv"), lambda tmp: pacsv.write_csv(csv_table, tmp))


def read_table(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a table written by :func:`write_table`.

    Parameters
    ----------
    path : path-like
        ``<name>.parquet``, ``<name>.csv`` or ``<name>`` (then the Parquet file is read).

    Returns
    -------
    dict of str to numpy.ndarray
        One array per column; string columns are object arrays.

    Raises
    ------
    DataError
        If the file does not exist or cannot be read as a table.
    """
    p = Path(path)
    if p.suffix not in (".parquet", ".csv"):
        p = p.with_name(p.name + ".parquet")
    if not p.is_file():
        raise DataError(f"table {p}: file not found")
    try:
        table = pq.read_table(p) if p.suffix == ".parquet" else pacsv.read_csv(p)
    except (pa.ArrowException, OSError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"table {p}: cannot be read ({first})") from None
    out: dict[str, np.ndarray] = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            out[name] = np.array(col.to_pylist(), dtype=object)
        else:
            out[name] = col.to_numpy()
    return out
