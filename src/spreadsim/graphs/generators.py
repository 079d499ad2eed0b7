"""The generators of every graph kind: a parsed section and a seed in, a :class:`Graph` out.

The sections are checked already (:func:`spreadsim.schema.graphs.parse_graph`) and the memory
they need too (:mod:`spreadsim.graphs.memory`): a generator only generates. NetworkX is imported
by the generators that use it, so the default graph (Barabasi-Albert, replayed here) and the
command line do without it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from spreadsim.graphs.graph import Graph, edges_array, index_dtype, make_graph
from spreadsim.schema.graphs import (
    BarabasiAlbert,
    ConfigurationModel,
    ErdosRenyi,
    PowerlawCluster,
    RandomKOut,
    Sbm,
    ScaleFreeDirected,
    WattsStrogatz,
)

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["GENERATORS", "barabasi_albert_edges"]


def _from_nx_simple(G: nx.Graph, n: int, directed: bool, name: str, **kw: Any) -> Graph:
    src, dst = edges_array(G)
    return make_graph(src, dst, n, directed, name, **kw)


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



def barabasi_albert(s: BarabasiAlbert, seed: int, name: str) -> Graph:
    src, dst = barabasi_albert_edges(s.n, s.m, seed)
    return make_graph(src, dst, s.n, False, name)


def scale_free_directed(s: ScaleFreeDirected, seed: int, name: str) -> Graph:
    import networkx as nx

    G = nx.scale_free_graph(s.n, alpha=s.alpha, beta=s.beta, gamma=s.gamma,
                            delta_in=s.delta_in, delta_out=s.delta_out, seed=seed)
    a, b = edges_array(G)
    # NetworkX edge a -> b is read as "a follows b" (new nodes attach to nodes with a high
    # in-degree, i.e. popular accounts), so the spreading arc is b -> a: popular accounts get
    # many followers (high out-degree here).
    return make_graph(b, a, s.n, True, name)


def watts_strogatz(s: WattsStrogatz, seed: int, name: str) -> Graph:
    import networkx as nx

    return _from_nx_simple(nx.watts_strogatz_graph(s.n, s.k, s.p, seed=seed), s.n, False, name)


def erdos_renyi(s: ErdosRenyi, seed: int, name: str) -> Graph:
    import networkx as nx

    G = nx.fast_gnp_random_graph(s.n, s.edge_prob, seed=seed, directed=s.directed)
    return _from_nx_simple(G, s.n, s.directed, name)


def powerlaw_cluster(s: PowerlawCluster, seed: int, name: str) -> Graph:
    import networkx as nx

    return _from_nx_simple(nx.powerlaw_cluster_graph(s.n, s.m, s.p, seed=seed), s.n, False, name)


def sbm(s: Sbm, seed: int, name: str) -> Graph:
    import networkx as nx

    sizes = list(s.sizes)
    probs = [[s.p_in if i == j else s.p_out for j in range(len(sizes))] for i in range(len(sizes))]
    G = nx.stochastic_block_model(sizes, probs, seed=seed, directed=False)
    communities = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    return _from_nx_simple(G, s.n, False, name, communities=communities)


def random_k_out(s: RandomKOut, seed: int, name: str) -> Graph:
    n, k = s.n, s.k
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
    indices = draws.reshape(-1).astype(index_dtype(n))
    return Graph(indptr=indptr, indices=indices, directed=True, name=name)


def configuration_model(s: ConfigurationModel, seed: int, name: str) -> Graph:
    n, d = s.n, s.degrees
    draw: Callable[[int], np.ndarray]
    if d["dist"] == "poisson":
        mean = d["mean"]

        def draw(size: int) -> np.ndarray:
            return rng.poisson(mean, size).astype(np.int64)
    else:
        ks = np.arange(d["kmin"], d["kmax"] + 1, dtype=np.int64)
        weights = ks.astype(np.float64) ** -d["exponent"]
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
    return make_graph(stubs[0::2], stubs[1::2], n, False, name)


#: the generator of each generated kind's section (an edge list is read: :mod:`.edgelist`)
GENERATORS: dict[type, Callable[[Any, int, str], Graph]] = {
    BarabasiAlbert: barabasi_albert,
    ScaleFreeDirected: scale_free_directed,
    WattsStrogatz: watts_strogatz,
    ErdosRenyi: erdos_renyi,
    PowerlawCluster: powerlaw_cluster,
    Sbm: sbm,
    RandomKOut: random_k_out,
    ConfigurationModel: configuration_model,
}
