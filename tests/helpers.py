"""Shared builders for the engine tests."""

from __future__ import annotations

from typing import Any

import networkx as nx

from spreadsim.graphs import Graph, from_networkx


def digraph(edges: list[tuple[int, int]], n: int | None = None) -> Graph:
    """A directed graph on nodes 0..n-1 (arc u->v: v sees what u shares)."""
    G = nx.DiGraph()
    G.add_nodes_from(range(n if n is not None else 1 + max(max(e) for e in edges)))
    G.add_edges_from(edges)
    return from_networkx(G, name="test")


def config(*, share_prob: float = 1.0, kernel: dict[str, Any] | None = None,
           policy: dict[str, Any] | None = None, removal: str = "cascade",
           posts: int = 1, uploaders: int = 1, window_h: float = 0.0, horizon_h: float = 100.0,
           selection: str = "top_degree", decay: dict[str, Any] | None = None) -> dict[str, Any]:
    """A config dict for small deterministic tests (one category, fixed delays by default)."""
    cfg: dict[str, Any] = {
        "graph": {"kind": "barabasi_albert", "n": 10, "m": 2},  # replaced by graph= in tests
        "spread": {"kernel": kernel or {"dist": "fixed", "value_h": 1.0},
                   "decay": decay or {"kind": "none"}, "removal": removal},
        "scenario": {"illegal_posts": posts, "uploaders": uploaders, "window_h": window_h,
                     "horizon_h": horizon_h, "uploader_selection": selection,
                     "categories": {"hate_speech": {"weight": 1.0, "share_prob": share_prob}},
                     "legal_posts": 0},
    }
    cfg["policy"] = policy  # None: no policy (a config without the key gets the default policy)
    return cfg


def stderr_lines(err: str) -> list[str]:
    """Every line a command wrote to stderr, blank ones included (a fault test asserts their exact
    number: a traceback, a warning or a stray blank line counts, not only 'spreadsim: error:')."""
    return err.splitlines()


def latency_job(latency: float, seeds: int) -> dict[str, Any]:
    """A small job config of the fixed-latency policy (800 users), with paired baselines: the
    world the answer and report tests sweep."""
    return {"graph": {"kind": "barabasi_albert", "n": 800, "m": 3, "seed": 7},
            "scenario": {"illegal_posts": 6, "legal_posts": 2, "uploaders": 4, "horizon_h": 200},
            "policy": {"name": "fixed_latency", "latency_h": latency},
            "seed": 0, "seeds": seeds, "baseline": True}
