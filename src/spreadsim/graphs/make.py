"""A graph from its config section: :func:`build_graph`, :func:`check_graph_config` (every check,
nothing built) and :func:`graph_seed` (the one place a graph's seed comes from)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from spreadsim.errors import ConfigError
from spreadsim.graphs.edgelist import read_edgelist
from spreadsim.graphs.generators import GENERATORS
from spreadsim.graphs.graph import Graph
from spreadsim.graphs.memory import check_fits
from spreadsim.rng import stream_key
from spreadsim.schema.graphs import EdgeList, parse_graph
from spreadsim.schema.model import check_seed

__all__ = ["EDGELIST_CHECK_MAX_BYTES", "build_graph", "check_graph_config", "graph_seed"]

#: edge-list files up to this size are read when a config is checked (before any job): their
#: contents fail early; bigger files are read by the jobs only
EDGELIST_CHECK_MAX_BYTES = 4 << 20


def graph_seed(cfg: Mapping[str, Any] | Any, seed: int, stream: str = "graph") -> int:
    """The seed a run builds its graph with: ``graph.seed`` if set (the graph is pinned; every
    generated kind defaults to 2018), else derived from the run seed's ``stream``.

    Parameters
    ----------
    cfg : Mapping or graph section
        The ``graph`` section (a mapping is read with :func:`~spreadsim.schema.graphs.parse_graph`).
    seed : int
        The run seed (>= 0).
    stream : str
        The name of the run seed's stream the graph seed is derived from (a platform's graph
        uses its own, ``"<platform prefix>graph"``).
    """
    section = parse_graph(cfg)
    seed = check_seed(seed)
    if section.seed is not None:
        return int(section.seed)
    return stream_key(seed, stream) % (2**31)


def build_graph(cfg: Mapping[str, Any] | Any, seed: int) -> Graph:
    """Build the graph of a ``graph`` section.

    Parameters
    ----------
    cfg : Mapping or graph section
        A plain mapping such as ``{"kind": "barabasi_albert", "n": 10000, "m": 5}`` (keys left
        out take their kind's defaults: :mod:`spreadsim.schema.graphs`) or a parsed section.
    seed : int
        The graph seed (>= 0) of a graph whose ``seed`` is null; :func:`graph_seed` derives it
        from a run seed. A pinned graph (an integer ``graph.seed``, 2018 unless set) ignores it.

    Returns
    -------
    Graph
        The generated (or read) graph, never empty.

    Raises
    ------
    ConfigError
        One-line message naming the offending ``graph.<key>``, its value and what is allowed;
        raised before any generation work, as is a graph too big for the memory.
    DataError
        For ``kind: edgelist`` if the file is missing, binary, empty or malformed.
    """
    section = parse_graph(cfg)
    seed = check_seed(seed)
    check_fits(section)
    if isinstance(section, EdgeList):
        return read_edgelist(section)
    graph_seed_ = section.seed if section.seed is not None else seed
    g = GENERATORS[type(section)](section, int(graph_seed_), section.name or section.kind)
    if g.num_arcs == 0:
        raise ConfigError("graph.kind", section.kind,
                          f"generated graph has no arcs (n={g.n}); use denser parameters")
    return g


def check_graph_config(cfg: Mapping[str, Any] | Any) -> int | None:
    """Check a ``graph`` section as :func:`build_graph` does, without building the graph.

    Every check :func:`build_graph` makes before generating is made here (the section, the
    memory it needs), and for ``kind: edgelist`` the file must exist; a file of at most
    :data:`EDGELIST_CHECK_MAX_BYTES` is read too (empty, binary or malformed contents fail here),
    a bigger one only when built. Sweeps call this before any job starts, so that a bad graph
    parameter fails at once and leaves nothing behind.

    Returns
    -------
    int or None
        The number of users, where the section fixes it (``n``, or the block sizes of ``sbm``)
        or a small edge list was read; else None.

    Raises
    ------
    ConfigError
        One line naming the offending ``graph.<key>``, its value and what is allowed.
    """
    section = parse_graph(cfg)
    check_fits(section)
    if not isinstance(section, EdgeList):
        return int(section.n)
    path = section.path
    if not os.path.isfile(path):
        raise ConfigError("graph.path", path,
                          "is a folder, not a file" if os.path.isdir(path) else "file not found")
    if os.path.getsize(path) <= EDGELIST_CHECK_MAX_BYTES:
        # a small file is read now as its job will read it: bad contents fail before any job
        return read_edgelist(section).n
    return None
