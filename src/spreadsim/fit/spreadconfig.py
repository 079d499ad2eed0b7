"""From a fitted branching factor to a graph's share probability, and the config files a sweep runs.

In spreadsim a user reached by a share reshares once, on first exposure, with probability ``p``
(``scenario.categories.<c>.share_prob``), and then exposes every follower. Following arc
``u -> v`` (``v`` follows ``u``) reaches ``v``, whose offspring are its followers other than
``u`` who reshare: on a locally tree-like graph its mean is ``p (out(v) - [v -> u])``. A share
reaches a user with probability proportional to the number of arcs into it, so averaged over the
arcs:

    n = p * E_arcs[out(v) - [v -> u]] = p * (sum_v in(v) out(v) - R) / A,

with ``A`` the arcs and ``R`` the reciprocated ones (``u -> v`` and ``v -> u``). For a directed
graph without reciprocated arcs this is ``sum_v in(v) out(v) / sum_v in(v)``; for an undirected
graph (every arc reciprocated, ``in = out = k``) it is the mean excess degree ``<k^2>/<k> - 1``.
So ``p = n / E_arcs[...]``, with ``n`` the fitted mean offspring of a *reshare*. The original
post is not reached through an arc: its uploader passes it to all its followers, mean
``p * out(uploader)``, which the fit reports apart as ``n0`` and which does not set ``p`` (it
depends on who uploads: on the Barabasi-Albert graph a random uploader gives ``n0 = p <k>``,
less than half of ``n``). The derivation is in ``docs/fitting.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from spreadsim.errors import ConfigError
from spreadsim.graphs import Graph, build_graph, parse_graph
from spreadsim.schema.config import DEFAULT_GRAPH
from spreadsim.schema.fields import parse
from spreadsim.schema.graphs import graph_mapping
from spreadsim.schema.model import CATEGORIES, ScenarioConfig, SpreadConfig
from spreadsim.schema.yaml import scalar

NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


def mean_offspring_degree(graph: Graph) -> float:
    """``E_arcs[out(v) - [v -> u]]``: the mean number of followers a reached user can pass a share
    to (its followers other than the one it came from), over the graph's arcs ``u -> v``."""
    out = graph.out_degree()
    src = np.repeat(np.arange(graph.n, dtype=np.int64), out)
    dst = graph.indices.astype(np.int64)
    if dst.shape[0] == 0:
        return 0.0
    n = np.int64(graph.n)
    keys = src * n + dst  # sorted: rows ascending, followers ascending within a row
    rev = dst * n + src
    pos = np.minimum(np.searchsorted(keys, rev), keys.shape[0] - 1)
    reciprocated = int(np.count_nonzero(keys[pos] == rev))
    return float((np.sum(out[dst].astype(np.float64)) - reciprocated) / dst.shape[0])


def graph_section(graph: Any) -> dict[str, Any]:
    """A graph given as a kind name, a section mapping or None (the default graph): its full
    section, as ``conf/graph/*.yaml`` writes it."""
    if graph is None:
        graph = DEFAULT_GRAPH
    if isinstance(graph, str):
        graph = {"kind": graph}
    return dict(graph_mapping(parse_graph(graph, "graph")))


def share_probability(n: float, graph: Graph) -> tuple[float, float]:
    """``(p, E)``: the share probability giving mean offspring ``n`` on ``graph``, and the graph's
    :func:`mean_offspring_degree` ``E``."""
    e = mean_offspring_degree(graph)
    if e <= 0.0:
        raise ConfigError("graph", graph.name, "has no user with followers to pass a share to")
    p = n / e
    if p > 1.0:
        raise ConfigError("graph", graph.name, f"cannot give n = {n:.4g} reshares per share: a reached "
                          f"user has {e:.4g} followers to pass a share to on average, so even "
                          "share_prob = 1 gives less; choose a denser graph")
    return p, e


def sections(kernel: Mapping[str, Any], n: float, graph: Graph | Mapping[str, Any] | str | None,
             categories: Sequence[str] = CATEGORIES) -> tuple[dict[str, Any], float, float, Graph]:
    """The ``spread`` and ``scenario`` sections of a fit on ``graph``: ``({"spread": ...,
    "scenario": ...}, p, E, the graph)``. Both are checked by the schema."""
    g = graph if isinstance(graph, Graph) else build_graph(graph_section(graph), 0)
    p, e = share_probability(n, g)
    for c in categories:
        if c not in CATEGORIES:
            raise ConfigError("category", c, "must be one of " + ", ".join(CATEGORIES))
    spread = {"kernel": dict(kernel), "decay": {"kind": "none"}, "removal": "cascade"}
    scenario = {"categories": {c: {"weight": 1.0, "share_prob": float(f"{p:.6g}")} for c in categories}}
    parse(SpreadConfig, spread, "spread")
    parse(ScenarioConfig, scenario, "scenario")
    return {"spread": spread, "scenario": scenario}, p, e, g


def _yaml(mapping: Mapping[str, Any], comment: str) -> str:
    lines = [f"# {line}" if line else "#" for line in comment.splitlines()]
    lines += [f"{k}: {scalar(v)}" for k, v in mapping.items()]
    return "\n".join(lines) + "\n"


def config_files(name: str, secs: Mapping[str, Any], graph: Mapping[str, Any] | None,
                 comment: str) -> dict[str, str]:
    """``{relative path: YAML text}`` of ``spread/fitted_<name>.yaml``, ``scenario/...`` and, for a
    graph section, ``graph/...``: the config groups ``spread=fitted_<name>`` etc. load."""
    if not NAME.match(name):
        raise ConfigError("name", name, "must be letters, digits, '_' or '-' (a config file name)")
    stem = f"fitted_{name}"
    files = {f"spread/{stem}.yaml": _yaml(secs["spread"], comment),
             f"scenario/{stem}.yaml": _yaml(secs["scenario"], comment + "\nOther scenario keys take "
                                            "their defaults (conf/scenario/default.yaml).")}
    if graph is not None:
        files[f"graph/{stem}.yaml"] = _yaml(graph, "The graph the share probability was set for.")
    return files


__all__ = ["NAME", "config_files", "graph_section", "mean_offspring_degree", "sections",
           "share_probability"]
