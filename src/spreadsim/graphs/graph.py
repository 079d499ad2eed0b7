"""The CSR graph: :class:`Graph`, its construction from arc lists, and NetworkX interop.

Direction convention
--------------------
An arc ``u -> v`` means "``v`` sees what ``u`` shares", i.e. ``v`` follows ``u``. The followers
of ``u`` are ``indices[indptr[u]:indptr[u + 1]]`` (sorted ascending), so the out-degree of ``u``
is its audience size. Undirected (friendship) graphs store both arcs of every edge.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from spreadsim.errors import ConfigError

if TYPE_CHECKING:  # NetworkX is imported where it is used: the default graph does not need it
    import networkx as nx

__all__ = ["Graph", "edges_array", "from_networkx", "index_dtype", "make_graph", "to_networkx"]

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

    @functools.cached_property
    def isolated_users(self) -> int:
        """The number of users with no arc at all (no follower and following no one)."""
        if not self.n:
            return 0
        linked = np.diff(self.indptr) > 0
        linked[self.indices] = True
        return int(self.n - np.count_nonzero(linked))

    def describe(self) -> str:
        """One line for a reader: users, arcs, what loading dropped and the isolated users
        (``polblogs.txt: 1,224 users, 19,022 arcs (directed); dropped 3 self-loops, 65
        duplicate arcs; 0 isolated users``)."""
        kind = "directed" if self.directed else "undirected"
        return (f"{self.name}: {self.n:,} users, {self.num_arcs:,} arcs ({kind}); dropped "
                f"{self.dropped_self_loops:,} self-loops, {self.dropped_duplicates:,} duplicate "
                f"{'arcs' if self.directed else 'edges'}; {self.isolated_users:,} isolated users")

    def __repr__(self) -> str:
        kind = "directed" if self.directed else "undirected"
        return f"Graph(name={self.name!r}, {kind}, n={self.n}, arcs={self.num_arcs})"


# --------------------------------------------------------------------------------------------
# CSR construction
# --------------------------------------------------------------------------------------------


def index_dtype(n: int) -> type[np.signedinteger[Any]]:
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
    indices = keys.astype(index_dtype(n))
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


def make_graph(
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


def edges_array(G: nx.Graph) -> tuple[np.ndarray, np.ndarray]:
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
    g = make_graph(
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
