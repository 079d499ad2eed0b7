"""Social graphs as compact CSR arrays for the simulation hot loop.

Owns the :class:`Graph` container and NetworkX interop (:mod:`.graph`), the generator of every
graph kind (:mod:`.generators`), SNAP-style edge lists (:mod:`.edgelist`), the refusal of graphs
that cannot fit in memory (:mod:`.memory`), and building a graph from its config section with
the one derivation of a graph's seed (:mod:`.make`). The sections themselves (kinds, defaults,
ranges) are :mod:`spreadsim.schema.graphs`.

May import the base modules (:mod:`spreadsim.errors`, :mod:`spreadsim.version`,
:mod:`spreadsim.jit`, :mod:`spreadsim.dists`, :mod:`spreadsim.rng`) and :mod:`spreadsim.schema`;
never the engine, policies, outputs, runs or app (nor Hydra, OmegaConf or joblib).
"""

from spreadsim.graphs.edgelist import load_edgelist
from spreadsim.graphs.generators import barabasi_albert_edges
from spreadsim.graphs.graph import Graph, from_networkx, to_networkx
from spreadsim.graphs.make import build_graph, check_graph_config, graph_seed
from spreadsim.graphs.memory import memory_limit
from spreadsim.schema.graphs import GRAPH_KINDS, parse_graph

__all__ = [
    "GRAPH_KINDS",
    "Graph",
    "barabasi_albert_edges",
    "build_graph",
    "check_graph_config",
    "from_networkx",
    "graph_seed",
    "load_edgelist",
    "memory_limit",
    "parse_graph",
    "to_networkx",
]
