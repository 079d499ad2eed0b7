"""Social graphs as compact CSR arrays for the simulation hot loop.

Direction convention
--------------------
An arc ``u -> v`` means "``v`` sees what ``u`` shares", i.e. ``v`` follows ``u``. The followers
of ``u`` are ``indices[indptr[u]:indptr[u + 1]]`` (sorted ascending), so the out-degree of ``u``
is its audience size. Undirected (friendship) graphs store both arcs of every edge.

Graphs are built once (from a config mapping with :func:`build_graph`, from NetworkX with
:func:`from_networkx` or from a SNAP-style edge list with :func:`load_edgelist`) and are then
plain ``numpy`` arrays that numba kernels can consume directly.
"""

from __future__ import annotations

import functools
import gzip
import math
import os
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from spreadsim.errors import ConfigError, DataError
from spreadsim.jit import njit
from spreadsim.schema.checks import boolean, integer, number, probability

if TYPE_CHECKING:  # NetworkX is imported where it is used: the default graph does not need it
    import networkx as nx

__all__ = [
    "GRAPH_KINDS",
    "Graph",
    "GraphKind",
    "barabasi_albert_edges",
    "build_graph",
    "from_networkx",
    "load_edgelist",
    "to_networkx",
]

_INT32_LIMIT = 2**31


# --------------------------------------------------------------------------------------------
# Graph container
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Graph:
    """An immutable social graph in CSR form.

    Parameters
    ----------
    indptr : numpy.ndarray
        ``int64`` array of length ``n + 1``; the followers of ``u`` are
        ``indices[indptr[u]:indptr[u + 1]]``.
    indices : numpy.ndarray
        ``int32`` array of follower ids (``int64`` only if ``n >= 2**31``), sorted ascending
        within each row, without self-loops or duplicates.
    directed : bool
        Whether the graph is directed. Undirected graphs store both arcs of every edge.
    name : str
        Human readable name (graph kind or file name).
    labels : numpy.ndarray or None
        For graphs loaded from an edge list or NetworkX, ``labels[i]`` is the original label of
        node ``i`` (``int64`` for integer labels, ``str`` for string labels).
    communities : numpy.ndarray or None
        For block models, ``communities[i]`` is the block of node ``i`` (``int64``).
    dropped_self_loops : int
        Number of input self-loop edges that were dropped.
    dropped_duplicates : int
        Number of input edges dropped because they repeated an earlier edge (for undirected
        graphs ``u v`` and ``v u`` are the same edge).
    """

    indptr: np.ndarray
    indices: np.ndarray
    directed: bool
    name: str
    labels: np.ndarray | None = None
    dropped_self_loops: int = 0
    dropped_duplicates: int = 0
    communities: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.indptr.ndim != 1 or self.indptr.shape[0] < 1 or self.indptr.dtype != np.int64:
            raise ValueError("Graph.indptr must be a 1-d int64 array of length n + 1")
        if self.indices.ndim != 1 or self.indices.dtype not in (np.int32, np.int64):
            raise ValueError("Graph.indices must be a 1-d int32 or int64 array")
        if int(self.indptr[-1]) != self.indices.shape[0] or int(self.indptr[0]) != 0:
            raise ValueError("Graph.indptr must start at 0 and end at len(indices)")
        n = self.indptr.shape[0] - 1
        for fname in ("labels", "communities"):
            arr = getattr(self, fname)
            if arr is not None and arr.shape[0] != n:
                raise ValueError(f"Graph.{fname} must have length n = {n}")

    @property
    def n(self) -> int:
        """Number of nodes."""
        return int(self.indptr.shape[0] - 1)

    @property
    def num_arcs(self) -> int:
        """Number of stored arcs (twice the number of edges for undirected graphs)."""
        return int(self.indices.shape[0])

    @property
    def num_edges(self) -> int:
        """Number of edges: arcs for directed graphs, arcs / 2 for undirected graphs."""
        return self.num_arcs if self.directed else self.num_arcs // 2

    @functools.cached_property
    def max_out_degree(self) -> int:
        """The largest number of followers of any node (0 for a graph without nodes)."""
        return int(np.diff(self.indptr).max()) if self.n else 0

    def out_degree(self) -> np.ndarray:
        """Number of followers of every node.

        Returns
        -------
        numpy.ndarray
            ``int64`` array of length ``n``.
        """
        return np.diff(self.indptr)

    def in_degree(self) -> np.ndarray:
        """Number of nodes every node follows.

        Returns
        -------
        numpy.ndarray
            ``int64`` array of length ``n``.
        """
        return np.bincount(self.indices, minlength=self.n).astype(np.int64, copy=False)

    def followers(self, u: int) -> np.ndarray:
        """Followers of node ``u`` (the nodes that see what ``u`` shares).

        Parameters
        ----------
        u : int
            Node id in ``0..n-1``.

        Returns
        -------
        numpy.ndarray
            Sorted view into :attr:`indices`.
        """
        u = int(u)
        if not 0 <= u < self.n:
            raise IndexError(f"node {u} out of range 0..{self.n - 1}")
        return self.indices[self.indptr[u] : self.indptr[u + 1]]

    def __repr__(self) -> str:
        kind = "directed" if self.directed else "undirected"
        return f"Graph(name={self.name!r}, {kind}, n={self.n}, arcs={self.num_arcs})"


# --------------------------------------------------------------------------------------------
# CSR construction
# --------------------------------------------------------------------------------------------


def _index_dtype(n: int) -> type[np.signedinteger[Any]]:
    return np.int32 if n < _INT32_LIMIT else np.int64


def _csr_from_arcs(
    src: np.ndarray, dst: np.ndarray, n: int, directed: bool
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Build CSR arrays from arc lists (node ids in ``0..n-1``).

    Self-loops are dropped and duplicates collapsed. For undirected graphs every input pair is
    an edge and both arcs are stored.

    Returns
    -------
    tuple
        ``(indptr, indices, dropped_self_loops, dropped_duplicates)``.
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    loops = src == dst
    n_loops = int(np.count_nonzero(loops))
    if n_loops:
        keep = ~loops
        src, dst = src[keep], dst[keep]
        del keep
    del loops
    m_in = int(src.shape[0])
    if directed:
        keys = src * n
        keys += dst
        del src, dst
        keys.sort()
        n_dups = _dedupe_sorted_inplace_count(keys)
        keys = _dedupe_sorted(keys, n_dups)
    else:
        lo = np.minimum(src, dst)
        hi = np.maximum(src, dst)
        del src, dst
        ekeys = lo * n
        ekeys += hi
        del lo, hi
        ekeys.sort()
        n_dups = _dedupe_sorted_inplace_count(ekeys)
        ekeys = _dedupe_sorted(ekeys, n_dups)
        lo, hi = np.divmod(ekeys, n)
        del ekeys
        keys = np.empty(2 * lo.shape[0], dtype=np.int64)
        np.multiply(lo, n, out=keys[: lo.shape[0]])
        keys[: lo.shape[0]] += hi
        np.multiply(hi, n, out=keys[lo.shape[0] :])
        keys[lo.shape[0] :] += lo
        del lo, hi
        keys.sort()
    assert m_in - n_dups == (keys.shape[0] if directed else keys.shape[0] // 2)
    indptr = np.searchsorted(keys, np.arange(n + 1, dtype=np.int64) * n).astype(np.int64)
    np.remainder(keys, n, out=keys)
    indices = keys.astype(_index_dtype(n))
    return indptr, indices, n_loops, n_dups


def _dedupe_sorted_inplace_count(keys: np.ndarray) -> int:
    if keys.shape[0] < 2:
        return 0
    return int(np.count_nonzero(keys[1:] == keys[:-1]))


def _dedupe_sorted(keys: np.ndarray, n_dups: int) -> np.ndarray:
    if n_dups == 0:
        return keys
    mask = np.empty(keys.shape[0], dtype=bool)
    mask[0] = True
    np.not_equal(keys[1:], keys[:-1], out=mask[1:])
    return keys[mask]


def _make_graph(
    src: np.ndarray,
    dst: np.ndarray,
    n: int,
    directed: bool,
    name: str,
    labels: np.ndarray | None = None,
    communities: np.ndarray | None = None,
) -> Graph:
    indptr, indices, loops, dups = _csr_from_arcs(src, dst, n, directed)
    return Graph(
        indptr=indptr,
        indices=indices,
        directed=directed,
        name=name,
        labels=labels,
        dropped_self_loops=loops,
        dropped_duplicates=dups,
        communities=communities,
    )


def _edges_array(G: nx.Graph) -> tuple[np.ndarray, np.ndarray]:
    """Edges of a graph whose nodes are ``0..n-1`` as two int64 arrays."""
    m = G.number_of_edges()
    flat = np.fromiter((x for e in G.edges() for x in e[:2]), dtype=np.int64, count=2 * m).reshape(
        m, 2
    )
    return flat[:, 0].copy(), flat[:, 1].copy()


# --------------------------------------------------------------------------------------------
# NetworkX interop
# --------------------------------------------------------------------------------------------


def _labels_array(nodes: Sequence[Any]) -> np.ndarray:
    if all(isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_) for x in nodes):
        try:
            return np.array(nodes, dtype=np.int64)
        except OverflowError:
            pass
    if all(isinstance(x, str) for x in nodes):
        return np.array(nodes, dtype=str)
    arr = np.empty(len(nodes), dtype=object)
    arr[:] = list(nodes)
    return arr


def from_networkx(G: nx.Graph | nx.DiGraph, name: str = "networkx") -> Graph:
    """Convert a NetworkX graph to a :class:`Graph`.

    Nodes are relabelled ``0..n-1`` in sorted order (insertion order if the labels cannot be
    sorted); ``labels[i]`` keeps the original label of node ``i``. A NetworkX arc ``u -> v``
    becomes the arc ``u -> v`` ("``v`` sees what ``u`` shares"); undirected edges store both
    arcs. Self-loops are dropped and parallel edges of multigraphs collapsed (both counted).

    Parameters
    ----------
    G : networkx.Graph or networkx.DiGraph
        Any NetworkX graph (multigraphs allowed).
    name : str
        Name of the resulting graph.

    Returns
    -------
    Graph
        The converted graph.

    Raises
    ------
    ConfigError
        If ``G`` has no nodes or no edges other than self-loops.
    """
    nodes = list(G.nodes())
    if not nodes:
        raise ConfigError("graph", name, "networkx graph has no nodes")
    try:
        nodes = sorted(nodes)
    except TypeError:
        pass
    index = {node: i for i, node in enumerate(nodes)}
    m = G.number_of_edges()
    flat = np.fromiter(
        (index[x] for e in G.edges() for x in e[:2]), dtype=np.int64, count=2 * m
    ).reshape(m, 2)
    g = _make_graph(
        flat[:, 0], flat[:, 1], len(nodes), G.is_directed(), name, labels=_labels_array(nodes)
    )
    if g.num_arcs == 0:
        raise ConfigError("graph", name, "networkx graph has no edges (after dropping self-loops)")
    return g


def to_networkx(g: Graph) -> nx.Graph | nx.DiGraph:
    """Convert a :class:`Graph` to NetworkX.

    Nodes are the original labels if ``g.labels`` is set, else ``0..n-1``; all nodes (also
    isolated ones) are included. Arc ``u -> v`` becomes the NetworkX edge ``(u, v)``. Block
    membership, if any, is stored as the node attribute ``"community"``.

    Parameters
    ----------
    g : Graph
        The graph to convert.

    Returns
    -------
    networkx.Graph or networkx.DiGraph
        ``DiGraph`` if ``g.directed`` else ``Graph``.
    """
    import networkx as nx

    G: nx.Graph = nx.DiGraph() if g.directed else nx.Graph()
    G.graph["name"] = g.name
    src = np.repeat(np.arange(g.n, dtype=np.int64), g.out_degree())
    dst = g.indices.astype(np.int64)
    if not g.directed:
        keep = src < dst
        src, dst = src[keep], dst[keep]
    if g.labels is not None:
        lab = g.labels.tolist()
        G.add_nodes_from(lab)
        G.add_edges_from(
            zip([lab[i] for i in src.tolist()], [lab[i] for i in dst.tolist()], strict=True)
        )
    else:
        G.add_nodes_from(range(g.n))
        G.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    if g.communities is not None:
        nodes = g.labels.tolist() if g.labels is not None else range(g.n)
        nx.set_node_attributes(
            G, dict(zip(nodes, g.communities.tolist(), strict=True)), "community"
        )
    return G


# --------------------------------------------------------------------------------------------
# Edge lists
# --------------------------------------------------------------------------------------------

_OK, _BAD_COLUMNS, _NOT_INT = 0, 1, 2
_EDGE_MEANINGS = ("shares_to", "follows")
_WEIGHTS = ("error", "ignore")


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


def _read_bytes(path: str) -> bytes:
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
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise DataError(f"edge list {path}: corrupt gzip data ({exc})") from None
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
    directed: bool = True,
    edge_meaning: str = "shares_to",
    name: str | None = None,
    weights: str = "error",
) -> Graph:
    """Load a SNAP-style edge list straight into CSR arrays.

    Format: one edge ``u v`` per line, separated by spaces and/or tabs; lines whose first
    non-blank character is ``#`` or ``%`` are comments; blank lines are skipped; ``\\r\\n`` line
    ends are fine. The file may be gzip-compressed (detected by its magic bytes, whatever the
    suffix). Labels may be integers (fast path, no NetworkX involved) or arbitrary strings.

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
    directed = boolean("graph.directed", directed)
    if edge_meaning not in _EDGE_MEANINGS:
        raise ConfigError(
            "graph.edge_meaning", edge_meaning, f"must be one of {', '.join(_EDGE_MEANINGS)}"
        )
    if weights not in _WEIGHTS:
        raise ConfigError("graph.weights", weights, f"must be one of {', '.join(_WEIGHTS)}")
    spath = os.fspath(path)
    if name is None:
        name = os.path.basename(spath)
    data = _read_bytes(spath)
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
    if directed and edge_meaning == "follows":
        src, dst = dst, src
    g = _make_graph(src, dst, int(labels.shape[0]), bool(directed), name, labels=labels)
    if g.num_arcs == 0:
        raise DataError(f"edge list {spath}: no edges (only self-loops)")
    return g


# --------------------------------------------------------------------------------------------
# Config validation
# --------------------------------------------------------------------------------------------


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def _is_int(x: Any) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_)


#: edge-list files up to this size are read when a config is checked (before any job): their
#: contents fail early; bigger files are read by the jobs only
EDGELIST_CHECK_MAX_BYTES = 4 << 20

#: the least memory a generated graph takes per edge while it is built (measured peaks are
#: 53-62 B an edge for spreadsim's own generators and 250-310 B for NetworkX's, 19 B an arc
#: for random_k_out): a lower bound, so that only graphs that cannot fit are refused
GEN_BYTES_PER_EDGE = 16
NX_BYTES_PER_EDGE = 150
#: and per node (the CSR row index, degrees, NetworkX's node table)
BYTES_PER_NODE = 16


def _fmt_bytes(b: float) -> str:
    if b < 1024:
        return f"{int(b)} B"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        b /= 1024
        if b < 1024 or unit == "PiB":
            return f"{b:.3g} {unit}"
    raise AssertionError  # pragma: no cover


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def memory_limit() -> int:
    """The memory a graph may take: ``SPREADSIM_MEMORY_LIMIT`` if set (bytes, or with a binary
    suffix: ``256G``; for a sweep checked on a login node whose jobs run on bigger nodes), else
    the machine's, or its control group's limit if lower (``memory.max``, cgroup v2); 2**62 when
    neither is known."""
    env = os.environ.get("SPREADSIM_MEMORY_LIMIT", "").strip()
    if env:
        number, unit = (env[:-1], env[-1].upper()) if env[-1:].upper() in "KMGT" else (env, "")
        try:
            value = float(number) * _UNITS[unit]
        except ValueError:
            value = math.nan
        if not 0 < value < 2.0**63:
            raise ConfigError("SPREADSIM_MEMORY_LIMIT", env,
                              "must be a number of bytes > 0, or with K, M, G or T: 256G")
        return int(value)
    limit = 1 << 62
    try:
        limit = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            text = f.read().strip()
        if text.isdigit():
            limit = min(limit, int(text))
    except OSError:
        pass
    return limit


class _Checked(Exception):
    """Raised by :meth:`_Params.checked` when only checking: the parameters are valid."""


class _Params:
    """Typed, validated access to one graph config mapping (field names prefixed).

    ``check_only``: the builder stops at :meth:`checked`, once every parameter is validated and
    before any generation work (see :func:`check_graph_config`)."""

    def __init__(self, cfg: Mapping[str, Any], prefix: str, kind: str,
                 check_only: bool = False) -> None:
        self.cfg = cfg
        self.prefix = prefix
        self.kind = kind
        self.check_only = check_only
        self.n_users: int | None = None  # set when only checking a small edge list (read)

    def checked(self) -> None:
        """Every builder calls this once its parameters are valid, before it generates."""
        if self.check_only:
            raise _Checked

    def field(self, key: str) -> str:
        return f"{self.prefix}.{key}"

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        value = self.cfg.get(key, default)
        if value is _MISSING or (isinstance(value, str) and value == "???"):
            if default is not _MISSING:
                return default
            raise ConfigError(self.field(key), _MISSING, f"required for graph kind '{self.kind}'")
        return value

    def integer(self, key: str, lo: int, hi: int | None = None, default: Any = _MISSING) -> int:
        return integer(self.field(key), self.raw(key, default), lo=lo, hi=hi)

    def real(self, key: str, lo: float = 0.0, hi: float | None = None, *, lo_open: bool = False,
             default: Any = _MISSING) -> float:
        return number(self.field(key), self.raw(key, default), lo=lo, hi=hi, lo_open=lo_open)

    def prob(self, key: str, default: Any = _MISSING) -> float:
        return probability(self.field(key), self.raw(key, default))

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        return boolean(self.field(key), self.raw(key, default))

    def choice(self, key: str, allowed: Sequence[str], default: Any = _MISSING) -> str:
        value = self.raw(key, default)
        if not isinstance(value, str) or value not in allowed:
            raise ConfigError(self.field(key), value, f"must be one of {', '.join(allowed)}")
        return value

    def fits(self, key: str, value: Any, n: int, edges: float, per_edge: int) -> None:
        """Refuse a graph that cannot fit in memory: ``n`` nodes and about ``edges`` edges at
        least ``per_edge`` bytes each (:data:`GEN_BYTES_PER_EDGE`, :data:`NX_BYTES_PER_EDGE`),
        named by ``key`` (the parameter that makes it this big) and its ``value``."""
        need = BYTES_PER_NODE * float(n) + per_edge * float(edges)
        have = memory_limit()
        if need > have:
            limit = (f"SPREADSIM_MEMORY_LIMIT is {_fmt_bytes(have)}"
                     if os.environ.get("SPREADSIM_MEMORY_LIMIT", "").strip() else
                     f"this machine has {_fmt_bytes(have)} (SPREADSIM_MEMORY_LIMIT sets the jobs' own)")
            raise ConfigError(
                self.field(key), value,
                f"a graph this size ({n:.4g} users, about {edges:.3g} edges) needs at least "
                f"{_fmt_bytes(need)} of memory to build; {limit}")

    def check_keys(self, allowed: Sequence[str]) -> None:
        for key in self.cfg:
            if key not in allowed:
                raise ConfigError(
                    self.field(str(key)),
                    self.cfg[key],
                    f"unknown key for graph kind '{self.kind}'; allowed: {', '.join(allowed)}",
                )


def _check_m_lt_n(p: _Params, key: str, value: int, n: int) -> None:
    if value >= n:
        raise ConfigError(p.field(key), value, f"must be < graph.n = {n}")


# --------------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------------


def _from_nx_simple(G: nx.Graph, n: int, directed: bool, name: str, **kw: Any) -> Graph:
    src, dst = _edges_array(G)
    return _make_graph(src, dst, n, directed, name, **kw)


def barabasi_albert_edges(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The edges of NetworkX's ``barabasi_albert_graph(n, m, seed=seed)``, without the graph.

    The same algorithm and the same calls to :class:`random.Random` as NetworkX 3 (a star on
    ``m + 1`` nodes, then each new node attaches to ``m`` distinct nodes drawn uniformly from the
    list holding every node once per edge end, appended to in the same set order), so the edge
    set is identical for the same seed (tested against the installed NetworkX); about 4x faster,
    since no ``networkx.Graph`` is built.

    Parameters
    ----------
    n, m : int
        Nodes and edges per new node, ``1 <= m < n``.
    seed : int
        Seed of the :class:`random.Random` stream.

    Returns
    -------
    tuple of numpy.ndarray
        ``(src, dst)`` ``int64`` arrays of the ``m * (n - m)`` edges (undirected).
    """
    if not 1 <= m < n:
        raise ValueError(f"barabasi_albert_edges needs 1 <= m < n, got m={m}, n={n}")
    choice = random.Random(seed).choice
    # star graph: node 0 has degree m, nodes 1..m degree 1 (NetworkX's degree order)
    repeated = [0] * m + list(range(1, m + 1))
    dst = list(range(1, m + 1))
    for source in range(m + 1, n):
        targets: set[int] = set()
        while len(targets) < m:
            targets.add(choice(repeated))
        repeated.extend(targets)  # set order, as NetworkX
        repeated.extend([source] * m)
        dst.extend(targets)
    src = np.empty(len(dst), dtype=np.int64)
    src[:m] = 0
    src[m:] = np.repeat(np.arange(m + 1, n, dtype=np.int64), m)
    return src, np.array(dst, dtype=np.int64)


def _build_barabasi_albert(p: _Params, seed: int, name: str) -> Graph:
    n = p.integer("n", 2)
    m = p.integer("m", 1)
    _check_m_lt_n(p, "m", m, n)
    p.fits("n", n, n, m * (n - m), GEN_BYTES_PER_EDGE)
    p.checked()
    src, dst = barabasi_albert_edges(n, m, seed)
    return _make_graph(src, dst, n, False, name)


def _build_scale_free_directed(p: _Params, seed: int, name: str) -> Graph:
    import networkx as nx

    n = p.integer("n", 3)
    alpha = p.real("alpha", 0.0, 1.0, lo_open=True, default=0.41)
    beta = p.real("beta", 0.0, 1.0, lo_open=True, default=0.54)
    gamma = p.real("gamma", 0.0, 1.0, lo_open=True, default=0.05)
    if abs(alpha + beta + gamma - 1.0) >= 1e-9:
        raise ConfigError(
            p.field("alpha"),
            alpha,
            f"alpha + beta + gamma must equal 1 (got {alpha + beta + gamma:g})",
        )
    delta_in = p.real("delta_in", 0.0, default=0.2)
    delta_out = p.real("delta_out", 0.0, default=0.0)
    p.fits("n", n, n, n, NX_BYTES_PER_EDGE)  # (at least one edge per new node)
    p.checked()
    G = nx.scale_free_graph(
        n, alpha=alpha, beta=beta, gamma=gamma, delta_in=delta_in, delta_out=delta_out, seed=seed
    )
    a, b = _edges_array(G)
    # NetworkX edge a -> b is read as "a follows b" (new nodes attach to nodes with a high
    # in-degree, i.e. popular accounts), so the spreading arc is b -> a: popular accounts get
    # many followers (high out-degree here).
    return _make_graph(b, a, n, True, name)


def _build_watts_strogatz(p: _Params, seed: int, name: str) -> Graph:
    import networkx as nx

    n = p.integer("n", 3)
    k = p.integer("k", 2)
    _check_m_lt_n(p, "k", k, n)
    prob = p.prob("p")
    p.fits("n", n, n, n * (k // 2), NX_BYTES_PER_EDGE)
    p.checked()
    return _from_nx_simple(nx.watts_strogatz_graph(n, k, prob, seed=seed), n, False, name)


def _build_erdos_renyi(p: _Params, seed: int, name: str) -> Graph:
    import networkx as nx

    n = p.integer("n", 2)
    directed = p.boolean("directed", default=False)
    has_p = p.cfg.get("p") is not None
    has_mean = p.cfg.get("mean_degree") is not None
    if has_p == has_mean:
        raise ConfigError(
            p.field("p"),
            p.cfg.get("p", _MISSING),
            "give exactly one of graph.p or graph.mean_degree",
        )
    if has_p:
        prob = p.prob("p")
    else:
        mean = p.real("mean_degree", 0.0, float(n - 1))
        prob = mean / (n - 1)
    pairs = n * (n - 1) / (1 if directed else 2)
    p.fits("p" if has_p else "mean_degree", p.cfg.get("p" if has_p else "mean_degree"), n,
           prob * pairs, NX_BYTES_PER_EDGE)
    p.checked()
    G = nx.fast_gnp_random_graph(n, prob, seed=seed, directed=directed)
    return _from_nx_simple(G, n, directed, name)


def _build_powerlaw_cluster(p: _Params, seed: int, name: str) -> Graph:
    import networkx as nx

    n = p.integer("n", 2)
    m = p.integer("m", 1)
    _check_m_lt_n(p, "m", m, n)
    prob = p.prob("p")
    p.fits("n", n, n, m * (n - m), NX_BYTES_PER_EDGE)
    p.checked()
    return _from_nx_simple(nx.powerlaw_cluster_graph(n, m, prob, seed=seed), n, False, name)


def _build_sbm(p: _Params, seed: int, name: str) -> Graph:
    import networkx as nx

    sizes_raw = p.raw("sizes")
    rule = "must be a non-empty list of integers >= 1"
    if isinstance(sizes_raw, str | bytes) or not isinstance(sizes_raw, Sequence | np.ndarray):
        raise ConfigError(p.field("sizes"), sizes_raw, rule)
    sizes = list(sizes_raw)
    if not sizes or not all(_is_int(s) and s >= 1 for s in sizes):
        raise ConfigError(p.field("sizes"), sizes, rule)
    sizes = [int(s) for s in sizes]
    n = sum(sizes)
    if n < 2:
        raise ConfigError(p.field("sizes"), sizes, "must have at least 2 nodes in total")
    p_in = p.prob("p_in")
    p_out = p.prob("p_out")
    within = sum(float(s) * (s - 1) / 2 for s in sizes)
    p.fits("sizes", sizes, n, p_in * within + p_out * (float(n) * (n - 1) / 2 - within),
           NX_BYTES_PER_EDGE)
    p.checked()
    probs = [[p_in if i == j else p_out for j in range(len(sizes))] for i in range(len(sizes))]
    G = nx.stochastic_block_model(sizes, probs, seed=seed, directed=False)
    communities = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    return _from_nx_simple(G, n, False, name, communities=communities)


def _build_random_k_out(p: _Params, seed: int, name: str) -> Graph:
    n = p.integer("n", 2)
    k = p.integer("k", 1)
    if k > n - 1:
        raise ConfigError(p.field("k"), k, f"must be <= graph.n - 1 = {n - 1}")
    p.fits("n", n, n, n * k, GEN_BYTES_PER_EDGE)
    p.checked()
    rng = np.random.default_rng(seed)
    own = np.arange(n, dtype=np.int64)[:, None]
    if 4 * k > n - 1:
        # dense: a uniformly random k-subset of the n - 1 other nodes per row (in row chunks
        # to bound the memory of the n x (n - 1) random keys)
        draws = np.empty((n, k), dtype=np.int64)
        step = max(1, 2**22 // (n - 1))
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            if k == n - 1:
                draws[lo:hi] = np.arange(n - 1, dtype=np.int64)
            else:
                keys = rng.random((hi - lo, n - 1))
                draws[lo:hi] = np.argpartition(keys, k - 1, axis=1)[:, :k]
        draws += draws >= own
        draws.sort(axis=1)
    else:
        # sparse: draw with replacement, redraw the rows that contain a repeat
        draws = rng.integers(0, n - 1, size=(n, k), dtype=np.int64)
        draws += draws >= own
        draws.sort(axis=1)
        bad = np.flatnonzero(np.any(draws[:, 1:] == draws[:, :-1], axis=1))
        while bad.size:
            redo = rng.integers(0, n - 1, size=(bad.size, k), dtype=np.int64)
            redo += redo >= own[bad]
            redo.sort(axis=1)
            draws[bad] = redo
            still = np.any(redo[:, 1:] == redo[:, :-1], axis=1)
            bad = bad[still]
    indptr = np.arange(0, n * k + 1, k, dtype=np.int64)
    indices = draws.reshape(-1).astype(_index_dtype(n))
    return Graph(indptr=indptr, indices=indices, directed=True, name=name)


_DEGREE_DISTS = ("poisson", "powerlaw")


def _build_configuration_model(p: _Params, seed: int, name: str) -> Graph:
    n = p.integer("n", 2)
    spec = p.raw("degrees")
    if not isinstance(spec, Mapping):
        raise ConfigError(
            p.field("degrees"),
            spec,
            "must be a mapping like {dist: poisson, mean: 5} or "
            "{dist: powerlaw, exponent: 2.5, kmin: 2, kmax: 100}",
        )
    d = _Params(spec, p.field("degrees"), p.kind)
    dist = d.choice("dist", _DEGREE_DISTS)
    draw: Callable[[int], np.ndarray]
    if dist == "poisson":
        d.check_keys(["dist", "mean"])
        mean = d.real("mean", 0.0, float(n - 1), lo_open=True)
        p.fits("n", n, n, n * mean / 2, GEN_BYTES_PER_EDGE)
        p.checked()

        def draw(size: int) -> np.ndarray:
            return rng.poisson(mean, size).astype(np.int64)
    else:
        d.check_keys(["dist", "exponent", "kmin", "kmax"])
        exponent = d.real("exponent", 1.0, lo_open=True)
        kmin = d.integer("kmin", 1, n - 1)
        kmax = d.integer("kmax", kmin, n - 1)
        p.fits("n", n, n, n * kmin / 2, GEN_BYTES_PER_EDGE)
        p.checked()
        ks = np.arange(kmin, kmax + 1, dtype=np.int64)
        weights = ks.astype(np.float64) ** -exponent
        weights /= weights.sum()

        def draw(size: int) -> np.ndarray:
            return rng.choice(ks, size=size, p=weights)

    rng = np.random.default_rng(seed)
    deg = draw(n)
    # the number of stubs must be even: redraw one random node's degree (bounded), else add one
    for _ in range(1000):
        if int(deg.sum()) % 2 == 0:
            break
        deg[rng.integers(n)] = draw(1)[0]
    else:
        deg[rng.integers(n)] += 1
    # uniformly random stub matching, exactly what nx.configuration_model does, in numpy
    stubs = np.repeat(np.arange(n, dtype=np.int64), deg)
    rng.shuffle(stubs)
    return _make_graph(stubs[0::2], stubs[1::2], n, False, name)


def _build_edgelist(p: _Params, seed: int, name: str | None) -> Graph:
    path = p.raw("path")
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise ConfigError(p.field("path"), path, "must be a file path")
    directed = p.boolean("directed", default=True)
    meaning = p.choice("edge_meaning", _EDGE_MEANINGS, default="shares_to")
    weights = p.choice("weights", _WEIGHTS, default="error")
    if p.check_only and not os.path.isfile(path):
        raise ConfigError(p.field("path"), os.fspath(path),
                          "is a folder, not a file" if os.path.isdir(path) else "file not found")
    if p.check_only and os.path.getsize(path) <= EDGELIST_CHECK_MAX_BYTES:
        # a small file is read now as its job will read it: bad contents fail before any job
        p.n_users = load_edgelist(path, directed=directed, edge_meaning=meaning, name=name,
                                  weights=weights).n
    p.checked()
    return load_edgelist(path, directed=directed, edge_meaning=meaning, name=name, weights=weights)


@dataclass(frozen=True)
class GraphKind:
    """One entry of :data:`GRAPH_KINDS`.

    Parameters
    ----------
    build : callable
        ``build(params, seed, name) -> Graph``; validates its parameters, then calls
        ``params.checked()``, before any work (:func:`check_graph_config` stops there).
    keys : tuple of str
        Parameter keys accepted besides ``kind``, ``seed`` and ``name``.
    directed : bool or None
        Whether the generated graphs are directed (None: depends on the parameters).
    description : str
        One-line description.
    """

    build: Callable[..., Graph]
    keys: tuple[str, ...]
    directed: bool | None
    description: str


GRAPH_KINDS: dict[str, GraphKind] = {
    "barabasi_albert": GraphKind(
        _build_barabasi_albert, ("n", "m"), False, "preferential attachment friend graph"
    ),
    "scale_free_directed": GraphKind(
        _build_scale_free_directed,
        ("n", "alpha", "beta", "gamma", "delta_in", "delta_out"),
        True,
        "directed scale-free follower graph (Bollobas et al.)",
    ),
    "watts_strogatz": GraphKind(
        _build_watts_strogatz, ("n", "k", "p"), False, "small-world ring lattice with rewiring"
    ),
    "erdos_renyi": GraphKind(
        _build_erdos_renyi, ("n", "p", "mean_degree", "directed"), None, "G(n, p) random graph"
    ),
    "powerlaw_cluster": GraphKind(
        _build_powerlaw_cluster, ("n", "m", "p"), False, "Holme-Kim clustered scale-free graph"
    ),
    "sbm": GraphKind(
        _build_sbm, ("sizes", "p_in", "p_out"), False, "stochastic block model (communities)"
    ),
    "random_k_out": GraphKind(
        _build_random_k_out, ("n", "k"), True, "every node has exactly k random followers"
    ),
    "configuration_model": GraphKind(
        _build_configuration_model,
        ("n", "degrees"),
        False,
        "random simple graph with a given degree distribution",
    ),
    "edgelist": GraphKind(
        _build_edgelist,
        ("path", "directed", "edge_meaning", "weights"),
        None,
        "SNAP-style edge list file",
    ),
}

_COMMON_KEYS = ("kind", "seed", "name")


def _plain_mapping(cfg: Any) -> Any:
    """OmegaConf containers to plain dicts/lists (Hydra's ``???`` stays a literal string)."""
    try:
        from omegaconf import DictConfig, OmegaConf
    except ImportError:  # pragma: no cover - omegaconf comes with hydra-core
        return cfg
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)
    return cfg


def build_graph(cfg: Mapping[str, Any], seed: int) -> Graph:
    """Build the graph described by a config mapping.

    Parameters
    ----------
    cfg : Mapping
        Plain dict (or OmegaConf ``DictConfig``) such as
        ``{"kind": "barabasi_albert", "n": 10000, "m": 5, "seed": None}``. Keys are those of
        :data:`GRAPH_KINDS` ``[kind].keys`` plus ``kind``, ``seed`` and an optional ``name``.
    seed : int
        Run seed (>= 0), used when ``cfg["seed"]`` is missing or None. An integer
        ``cfg["seed"]`` (0 included) pins the graph regardless of the run seed.

    Returns
    -------
    Graph
        The generated graph (never empty).

    Raises
    ------
    ConfigError
        One-line message naming the offending ``graph.<key>``, its value and what is allowed;
        raised before any generation work.
    DataError
        For ``kind: edgelist`` if the file is missing, binary, empty or malformed.
    """
    spec, params, graph_seed, name = _parse_graph_config(cfg, seed)
    if params.kind == "edgelist":
        return spec.build(params, graph_seed, name)
    g = spec.build(params, graph_seed, name or params.kind)
    if g.num_arcs == 0:
        raise ConfigError(
            "graph.kind",
            params.kind,
            f"generated graph has no arcs (n={g.n}); use denser parameters",
        )
    return g


def check_graph_config(cfg: Mapping[str, Any]) -> int | None:
    """Validate a graph config mapping as :func:`build_graph` does, without building the graph.

    Every parameter check :func:`build_graph` makes before generating is made here, and for
    ``kind: edgelist`` the file must exist; a file of at most :data:`EDGELIST_CHECK_MAX_BYTES` is
    read too (empty, binary or malformed contents fail here), a bigger one only when built.
    Sweeps call this before any job starts, so that a bad graph parameter fails at once and
    leaves nothing behind.

    Parameters
    ----------
    cfg : Mapping
        As for :func:`build_graph`.

    Returns
    -------
    int or None
        The number of users, where the config fixes it (``n``, or the block sizes of ``sbm``)
        or a small edge list was read; else None.

    Raises
    ------
    ConfigError
        One line naming the offending ``graph.<key>``, its value and what is allowed.
    """
    spec, params, graph_seed, name = _parse_graph_config(cfg, 0, check_only=True)
    try:
        spec.build(params, graph_seed, name or params.kind)
    except _Checked:
        if "n" in spec.keys:
            return params.integer("n", 1)
        if "sizes" in spec.keys:
            return sum(int(x) for x in params.raw("sizes"))
        return params.n_users
    raise AssertionError(f"graph kind {params.kind!r}: its builder never called checked()")  # pragma: no cover


def _parse_graph_config(cfg: Mapping[str, Any], seed: int,
                        check_only: bool = False) -> tuple[GraphKind, _Params, int, str | None]:
    """The checks common to every kind: (kind's entry, its parameters, graph seed, name)."""
    cfg = _plain_mapping(cfg)
    if not isinstance(cfg, Mapping):
        raise ConfigError("graph", cfg, "must be a mapping with a 'kind' key")
    kind = cfg.get("kind", _MISSING)
    allowed_kinds = ", ".join(GRAPH_KINDS)
    if not isinstance(kind, str) or kind not in GRAPH_KINDS:
        raise ConfigError("graph.kind", kind, f"must be one of {allowed_kinds}")
    spec = GRAPH_KINDS[kind]
    params = _Params(cfg, "graph", kind, check_only)
    params.check_keys(_COMMON_KEYS + spec.keys)
    graph_seed = cfg.get("seed")
    if graph_seed is None:
        if not _is_int(seed) or seed < 0:
            raise ConfigError("seed", seed, "must be an integer >= 0")
        graph_seed = int(seed)
    elif not _is_int(graph_seed) or not 0 <= graph_seed <= 2**63 - 1:
        raise ConfigError("graph.seed", graph_seed, "must be null or an integer >= 0 and <= 2**63 - 1")
    name = cfg.get("name")
    if name is not None and not isinstance(name, str):
        raise ConfigError("graph.name", name, "must be a string")
    return spec, params, int(graph_seed), name
