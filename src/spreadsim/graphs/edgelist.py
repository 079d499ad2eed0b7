"""SNAP-style edge lists read straight into CSR arrays (:func:`load_edgelist`).

Integer labels take a compiled fast path (no NetworkX, no Python objects per edge); any other
labels a slower exact one. Errors in the file are one-line :class:`~spreadsim.errors.DataError` s
naming the file and the line; the options are the ``edgelist`` graph section's
(:class:`spreadsim.schema.graphs.EdgeList`), checked there.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib

import numpy as np

from spreadsim.errors import DataError
from spreadsim.graphs.graph import Graph, make_graph
from spreadsim.jit import njit
from spreadsim.schema.fields import defaults
from spreadsim.schema.graphs import EdgeList, parse_graph

__all__ = ["load_edgelist", "read_edgelist"]

_OK, _BAD_COLUMNS, _NOT_INT = 0, 1, 2
_DEFAULTS = defaults(EdgeList)



@njit(cache=True, nogil=True)
def _is_space(c: int) -> bool:  # space, \t, \v, \f, \r (not \n, which ends a line)
    return c == 32 or c == 9 or c == 11 or c == 12 or c == 13


@njit(cache=True, nogil=True)
def _parse_int_pairs(buf, cap, allow_extra):  # pragma: no cover
    """Parse ``u v`` integer lines; returns (u, v, m, status, bad_line, bad_line_start).

    ``cap`` must be at least the number of lines (newlines + 1).
    """
    size = buf.shape[0]
    us = np.empty(cap, dtype=np.int64)
    vs = np.empty(cap, dtype=np.int64)
    m = 0
    line = 0
    i = 0
    limit = 922337203685477580  # (2**63 - 1) // 10
    while i < size:
        line += 1
        start = i
        while i < size and _is_space(buf[i]):
            i += 1
        if i >= size:
            break
        c = buf[i]
        if c == 10:
            i += 1
            continue
        if c == 35 or c == 37:  # '#' or '%'
            while i < size and buf[i] != 10:
                i += 1
            i += 1
            continue
        ncol = 0
        a = 0
        b = 0
        while i < size and buf[i] != 10:
            if ncol < 2:
                neg = False
                if buf[i] == 45:  # '-'
                    neg = True
                    i += 1
                val = 0
                ndig = 0
                while i < size and 48 <= buf[i] <= 57:
                    if val > limit:
                        return us, vs, m, 2, line, start
                    val = val * 10 + (buf[i] - 48)
                    ndig += 1
                    i += 1
                if ndig == 0 or val < 0 or (i < size and buf[i] != 10 and not _is_space(buf[i])):
                    return us, vs, m, 2, line, start
                if neg:
                    val = -val
                if ncol == 0:
                    a = val
                else:
                    b = val
            else:
                while i < size and buf[i] != 10 and not _is_space(buf[i]):
                    i += 1
            ncol += 1
            while i < size and _is_space(buf[i]):
                i += 1
        i += 1
        if ncol < 2 or (ncol > 2 and not allow_extra):
            return us, vs, m, 1, line, start
        us[m] = a
        vs[m] = b
        m += 1
    return us, vs, m, 0, line, 0


@njit(cache=True, nogil=True)
def _dense_relabel_inplace(u, v, lo, span):  # pragma: no cover
    """Replace labels in ``u``/``v`` (all in ``lo..lo+span-1``) by their sorted rank."""
    idmap = np.zeros(span, dtype=np.int64)
    for i in range(u.shape[0]):
        idmap[u[i] - lo] = 1
        idmap[v[i] - lo] = 1
    n = 0
    for j in range(span):
        if idmap[j]:
            idmap[j] = n
            n += 1
        else:
            idmap[j] = -1
    labels = np.empty(n, dtype=np.int64)
    for j in range(span):
        if idmap[j] >= 0:
            labels[idmap[j]] = j + lo
    for i in range(u.shape[0]):
        u[i] = idmap[u[i] - lo]
        v[i] = idmap[v[i] - lo]
    return labels


#: bytes decompressed at a time from a gzip file (the bound is checked after each chunk)
_GZIP_CHUNK = 16 * 2**20


def _gunzip(path: str, data: bytes, max_mb: int) -> bytes:
    """``data`` decompressed (every gzip member), in chunks, stopping past ``max_mb`` MB."""
    limit = max_mb * 2**20
    chunks: list[bytes] = []
    total = 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
            while True:
                chunk = fh.read(min(_GZIP_CHUNK, limit + 1 - total))
                if not chunk:
                    break
                total += len(chunk)
                if total > limit:
                    raise DataError(
                        f"graph.path = {path}: decompresses to more than {max_mb} MB, the bound "
                        f"graph.max_unpacked_mb = {max_mb} (raise it to read a larger file)")
                chunks.append(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"edge list {path}: corrupt gzip data ({exc})") from None
    return b"".join(chunks)


def _read_bytes(path: str, max_mb: int = _DEFAULTS["max_unpacked_mb"]) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise DataError(f"edge list {path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"edge list {path}: is a directory, not a file") from None
    except OSError as exc:
        raise DataError(f"edge list {path}: cannot read ({exc.strerror})") from None
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(path, data, max_mb)
    return data


def _check_text(path: str, data: bytes) -> None:
    if b"\x00" in data:
        raise DataError(f"edge list {path}: looks binary (contains NUL bytes), expected text")
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(
                f"edge list {path}: looks binary (not valid UTF-8 at byte {exc.start})"
            ) from None


def _bad_line(path: str, lineno: int, content: str, weights: str) -> DataError:
    content = content.strip()
    if len(content) > 80:
        content = content[:77] + "..."
    content = "".join(c if c.isprintable() else repr(c)[1:-1] for c in content)
    what = "at least 2 columns 'u v ...'" if weights == "ignore" else "2 columns 'u v'"
    return DataError(f"edge list {path} line {lineno}: expected {what}, got '{content}'")


def _parse_generic(path: str, text: str, weights: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slow exact parser for arbitrary (string) labels; returns (src, dst, sorted labels)."""
    index: dict[str, int] = {}
    ids: list[int] = []
    add = ids.append
    for lineno, line in enumerate(text.split("\n"), start=1):
        parts = line.split()
        if not parts or parts[0][0] in "#%":
            continue
        if len(parts) < 2 or (len(parts) > 2 and weights != "ignore"):
            raise _bad_line(path, lineno, line, weights)
        add(index.setdefault(parts[0], len(index)))
        add(index.setdefault(parts[1], len(index)))
    if not ids:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, dtype=str)
    names = list(index)
    del index
    order = sorted(range(len(names)), key=names.__getitem__)
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names), dtype=np.int64)
    labels = np.array([names[i] for i in order], dtype=str)
    pairs = rank[np.array(ids, dtype=np.int64)]
    return pairs[0::2].copy(), pairs[1::2].copy(), labels


def _map_int_labels(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map integer labels to ``0..n-1`` in sorted order (may overwrite u, v); (src, dst, labels)."""
    lo = int(min(u.min(), v.min()))
    hi = int(max(u.max(), v.max()))
    span = hi - lo + 1
    if span <= 4 * (u.shape[0] + v.shape[0]) + 1024:
        labels = _dense_relabel_inplace(u, v, lo, span)
        return u, v, labels
    labels, inverse = np.unique(np.concatenate([u, v]), return_inverse=True)
    inverse = inverse.astype(np.int64, copy=False).reshape(-1)
    return inverse[: u.shape[0]], inverse[u.shape[0] :], labels.astype(np.int64)


def load_edgelist(
    path: str | os.PathLike[str],
    *,
    directed: bool = _DEFAULTS["directed"],
    edge_meaning: str = _DEFAULTS["edge_meaning"],
    name: str | None = None,
    weights: str = _DEFAULTS["weights"],
    max_unpacked_mb: int = _DEFAULTS["max_unpacked_mb"],
) -> Graph:
    """Load a SNAP-style edge list straight into CSR arrays.

    Format: one edge ``u v`` per line, separated by spaces and/or tabs; lines whose first
    non-blank character is ``#`` or ``%`` are comments; blank lines are skipped; ``\\r\\n`` line
    ends are fine. The file may be gzip-compressed (detected by its magic bytes, whatever the
    suffix) and may decompress to at most ``max_unpacked_mb`` MB (a guard against gzip bombs: a
    larger one is a one-line :class:`DataError` naming the bound). Labels may be integers (fast
    path, no NetworkX involved) or arbitrary strings.

    Nodes are renumbered ``0..n-1`` in sorted label order and ``labels[i]`` keeps the original
    label of node ``i``: an ``int64`` array if every label is an integer that fits in int64,
    else a ``str`` array (all labels kept as strings, e.g. ``"42"``). Every
    label appearing in the file is a node, even if only in a self-loop. Self-loops are dropped
    (counted in ``dropped_self_loops``) and repeated edges collapsed (counted in
    ``dropped_duplicates``; for undirected graphs ``u v`` and ``v u`` are the same edge).

    Parameters
    ----------
    path : str or os.PathLike
        File to read.
    directed : bool
        If false, every line is an undirected edge and both arcs are stored.
    edge_meaning : {"shares_to", "follows"}
        ``"shares_to"``: line ``u v`` is the arc ``u -> v`` (``v`` sees what ``u`` shares).
        ``"follows"``: line ``u v`` means ``u`` follows ``v``, i.e. the arc ``v -> u``.
        Irrelevant for undirected graphs.
    name : str, optional
        Graph name; defaults to the file name.
    weights : {"error", "ignore"}
        What to do with a third (weight, timestamp, ...) column: ``"error"`` rejects it,
        ``"ignore"`` keeps only the first two columns.
    max_unpacked_mb : int
        The largest size in MB a gzip-compressed file may decompress to.

    Returns
    -------
    Graph
        The loaded graph with ``labels`` set.

    Raises
    ------
    DataError
        One-line message if the file is missing, binary, has no edges (after dropping
        self-loops) or a malformed line (named by its 1-based line number in the file).
    ConfigError
        If an option is invalid.
    """
    section = parse_graph({"kind": "edgelist", "path": path, "directed": directed,
                           "edge_meaning": edge_meaning, "weights": weights, "name": name,
                           "max_unpacked_mb": max_unpacked_mb})
    return read_edgelist(section)


def read_edgelist(section: EdgeList) -> Graph:
    """The graph of a parsed ``edgelist`` section (see :func:`load_edgelist`)."""
    spath, directed, weights = section.path, section.directed, section.weights
    name = section.name if section.name is not None else os.path.basename(spath)
    data = _read_bytes(spath, section.max_unpacked_mb)
    _check_text(spath, data)
    buf = np.frombuffer(data, dtype=np.uint8)
    us, vs, m, status, bad_line, bad_start = _parse_int_pairs(
        buf, data.count(b"\n") + 1, weights == "ignore"
    )
    labels: np.ndarray
    if status == _BAD_COLUMNS:
        end = data.find(b"\n", bad_start)
        content = data[bad_start : end if end >= 0 else len(data)].decode("utf-8", "replace")
        raise _bad_line(spath, int(bad_line), content, weights)
    if status == _OK:
        del buf
        if m == 0:
            raise DataError(f"edge list {spath}: no edges")
        if us.shape[0] > 2 * m + 16:  # give back the over-allocation before the heavy part
            us, vs = us[:m].copy(), vs[:m].copy()
        else:
            us, vs = us[:m], vs[:m]
        del data
        src, dst, labels = _map_int_labels(us, vs)
        del us, vs
    else:
        del us, vs, buf
        text = data.decode("utf-8")
        del data
        src, dst, labels = _parse_generic(spath, text, weights)
        del text
        if src.shape[0] == 0:
            raise DataError(f"edge list {spath}: no edges")
    if directed and section.edge_meaning == "follows":
        src, dst = dst, src
    g = make_graph(src, dst, int(labels.shape[0]), bool(directed), name, labels=labels)
    if g.num_arcs == 0:
        raise DataError(f"edge list {spath}: no edges (only self-loops)")
    return g
