"""Tests for spreadsim.graphs: generators, NetworkX interop, edge-list loading, validation."""

from __future__ import annotations

import gzip
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
import yaml

from spreadsim.errors import ConfigError, DataError
from spreadsim.graphs import (
    GRAPH_KINDS,
    Graph,
    barabasi_albert_edges,
    build_graph,
    check_graph_config,
    from_networkx,
    load_edgelist,
    to_networkx,
)

CONF_DIR = Path(__file__).resolve().parents[1] / "conf" / "graph"

# (graph.seed null: these graphs follow the seed given to build_graph)
SMALL: dict[str, dict[str, Any]] = {k: {**cfg, "seed": None} for k, cfg in {
    "barabasi_albert": {"kind": "barabasi_albert", "n": 300, "m": 3},
    "scale_free_directed": {"kind": "scale_free_directed", "n": 300},
    "watts_strogatz": {"kind": "watts_strogatz", "n": 300, "k": 6, "p": 0.2},
    "erdos_renyi": {"kind": "erdos_renyi", "n": 300, "mean_degree": 6},
    "erdos_renyi_directed": {"kind": "erdos_renyi", "n": 300, "p": 0.02, "directed": True},
    "powerlaw_cluster": {"kind": "powerlaw_cluster", "n": 300, "m": 3, "p": 0.5},
    "sbm": {"kind": "sbm", "sizes": [100, 150, 50], "p_in": 0.1, "p_out": 0.005},
    "random_k_out": {"kind": "random_k_out", "n": 300, "k": 4},
    "configuration_model": {
        "kind": "configuration_model",
        "n": 300,
        "degrees": {"dist": "poisson", "mean": 5},
    },
    "configuration_model_powerlaw": {
        "kind": "configuration_model",
        "n": 300,
        "degrees": {"dist": "powerlaw", "exponent": 2.5, "kmin": 2, "kmax": 50},
    },
}.items()}
EXPECTED_N = {key: 300 for key in SMALL}


def check_csr(g: Graph) -> None:
    """Structural invariants every Graph must satisfy."""
    assert g.indptr.dtype == np.int64
    assert g.indices.dtype == np.int32
    assert g.indptr.shape == (g.n + 1,)
    assert g.indptr[0] == 0 and g.indptr[-1] == g.num_arcs
    assert np.all(np.diff(g.indptr) >= 0)
    assert g.num_arcs > 0
    assert np.all((g.indices >= 0) & (g.indices < g.n))
    src = np.repeat(np.arange(g.n), g.out_degree())
    assert not np.any(src == g.indices), "self-loop stored"
    for u in range(g.n):
        row = g.followers(u)
        assert np.all(np.diff(row) > 0), f"row {u} not strictly sorted"
    if not g.directed:
        fwd = set(zip(src.tolist(), g.indices.tolist(), strict=True))
        assert all((v, u) in fwd for u, v in fwd), "undirected graph not symmetric"


def same(a: Graph, b: Graph) -> bool:
    return np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)


def one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and "\r" not in msg
    return msg


# --------------------------------------------------------------------------------------------
# generators
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(SMALL))
def test_kind_builds_valid_graph(key: str) -> None:
    g = build_graph(SMALL[key], seed=7)
    assert g.n == EXPECTED_N[key]
    check_csr(g)
    assert g.name == SMALL[key]["kind"]
    G = to_networkx(g)
    assert G.number_of_nodes() == g.n
    if g.directed:
        assert G.number_of_edges() == g.num_arcs
    else:
        assert g.num_arcs == 2 * G.number_of_edges()
        assert g.num_edges == G.number_of_edges()


def test_every_kind_is_covered() -> None:
    assert {cfg["kind"] for cfg in SMALL.values()} | {"edgelist"} == set(GRAPH_KINDS)


@pytest.mark.parametrize("key", sorted(SMALL))
def test_seeded_determinism(key: str) -> None:
    a = build_graph(SMALL[key], seed=11)
    b = build_graph(SMALL[key], seed=11)
    c = build_graph(SMALL[key], seed=12)
    assert same(a, b)
    assert not same(a, c)


@pytest.mark.parametrize("key", ["barabasi_albert", "random_k_out", "configuration_model"])
def test_config_seed_overrides_run_seed_and_zero_is_honoured(key: str) -> None:
    base = SMALL[key]
    pinned0_a = build_graph({**base, "seed": 0}, seed=5)
    pinned0_b = build_graph({**base, "seed": 0}, seed=6)
    assert same(pinned0_a, pinned0_b)
    assert same(pinned0_a, build_graph({**base, "seed": None}, seed=0))
    assert not same(pinned0_a, build_graph({**base, "seed": 1}, seed=5))
    # left out, graph.seed is 2018: the embedded default graph, whatever the seed given
    unset = {k: v for k, v in base.items() if k != "seed"}
    assert same(build_graph(unset, seed=5), build_graph({**base, "seed": 2018}, seed=6))


def test_directed_flags() -> None:
    assert build_graph(SMALL["scale_free_directed"], 0).directed
    assert build_graph(SMALL["random_k_out"], 0).directed
    assert build_graph(SMALL["erdos_renyi_directed"], 0).directed
    for key in ("barabasi_albert", "watts_strogatz", "erdos_renyi", "sbm", "configuration_model"):
        assert not build_graph(SMALL[key], 0).directed


def test_barabasi_albert_edge_count() -> None:
    g = build_graph({"kind": "barabasi_albert", "n": 200, "m": 4}, 3)
    assert g.num_arcs == 2 * 4 * (200 - 4)


@pytest.mark.parametrize("n, m, seed", [(2, 1, 0), (8, 7, 1), (50, 7, 9), (1000, 1, 3),
                                         (3000, 5, 2018), (2000, 12, 77)])
def test_barabasi_albert_is_networkx_graph(n: int, m: int, seed: int) -> None:
    # spreadsim's generator replays NetworkX's algorithm and random calls without building a
    # networkx.Graph: the same graph for the same seed as the installed NetworkX
    ours = build_graph({"kind": "barabasi_albert", "n": n, "m": m, "seed": seed}, 0)
    theirs = from_networkx(nx.barabasi_albert_graph(n, m, seed=seed))
    assert same(ours, theirs)
    src, dst = barabasi_albert_edges(n, m, seed)
    assert src.dtype == dst.dtype == np.int64 and len(src) == len(dst) == m * (n - m)


def test_default_graph_and_cli_do_not_import_networkx() -> None:
    # NetworkX takes 0.2-0.3 s to import in every process of a sweep; the default graph and the
    # command line do without it (it is imported by the generators and the interop that use it)
    code = ("import sys, spreadsim.app.cli\n"
            "from spreadsim.graphs import build_graph\n"
            "g = build_graph({'kind': 'barabasi_albert', 'n': 300, 'm': 3}, 1)\n"
            "assert g.num_edges == 3 * 297\n"
            "assert 'networkx' not in sys.modules, 'networkx imported'\n"
            "build_graph({'kind': 'watts_strogatz', 'n': 50, 'k': 4, 'p': 0.1}, 1)\n"
            "assert 'networkx' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("n, m", [(5, 0), (5, 5), (5, 6), (1, 1)])
def test_barabasi_albert_edges_refuses_bad_m(n: int, m: int) -> None:
    with pytest.raises(ValueError, match=f"1 <= m < n, got m={m}, n={n}"):
        barabasi_albert_edges(n, m, 0)


def test_watts_strogatz_regular_without_rewiring() -> None:
    g = build_graph({"kind": "watts_strogatz", "n": 50, "k": 4, "p": 0.0}, 3)
    assert np.all(g.out_degree() == 4)


def test_erdos_renyi_p_and_mean_degree_equivalent() -> None:
    a = build_graph({"kind": "erdos_renyi", "n": 101, "p": 0.05}, 9)
    b = build_graph({"kind": "erdos_renyi", "n": 101, "mean_degree": 5.0, "p": None}, 9)
    assert same(a, b)


def test_scale_free_directed_direction_convention() -> None:
    g = build_graph({"kind": "scale_free_directed", "n": 200, "seed": 4}, 0)
    nxg = nx.scale_free_graph(200, alpha=0.41, beta=0.54, gamma=0.05, delta_in=0.2, seed=4)
    expected = {(b, a) for a, b in nxg.edges() if a != b}  # nx "a follows b" -> arc b -> a
    src = np.repeat(np.arange(g.n), g.out_degree())
    assert set(zip(src.tolist(), g.indices.tolist(), strict=True)) == expected
    assert g.dropped_self_loops == sum(1 for a, b in nxg.edges() if a == b)
    # popular accounts have many followers
    assert g.out_degree().max() > 5 * g.in_degree().max() / 2


def test_sbm_communities() -> None:
    g = build_graph(SMALL["sbm"], 1)
    assert g.communities is not None
    assert np.array_equal(np.bincount(g.communities), [100, 150, 50])
    src = np.repeat(np.arange(g.n), g.out_degree())
    inside = g.communities[src] == g.communities[g.indices]
    assert inside.mean() > 0.5


def test_random_k_out_exact_out_degree() -> None:
    for n, k in [(1000, 5), (50, 1), (10, 9), (30, 20)]:
        g = build_graph({"kind": "random_k_out", "n": n, "k": k}, 2)
        assert g.n == n
        assert np.all(g.out_degree() == k)
        check_csr(g)


def test_random_k_out_uniform_followers() -> None:
    g = build_graph({"kind": "random_k_out", "n": 20, "k": 3}, 1)
    counts = np.zeros(20)
    for seed in range(200):
        counts += build_graph({"kind": "random_k_out", "n": 20, "k": 3, "seed": None}, seed).in_degree()
    expected = 200 * 3  # each node is a follower of k of the other n - 1 nodes on average
    assert np.all(np.abs(counts - expected) < 0.2 * expected)
    assert g.directed


def test_configuration_model_counts_dropped() -> None:
    g = build_graph(
        {"kind": "configuration_model", "n": 200, "degrees": {"dist": "poisson", "mean": 20}}, 3
    )
    assert g.dropped_self_loops > 0
    assert g.dropped_duplicates > 0
    check_csr(g)
    mean = g.out_degree().mean()
    assert 17 < mean < 21


def test_configuration_model_powerlaw_bounds() -> None:
    cfg = SMALL["configuration_model_powerlaw"]
    g = build_graph(cfg, 1)
    assert g.out_degree().max() <= 51  # kmax (+1 possible parity fix)


# --------------------------------------------------------------------------------------------
# NetworkX interop
# --------------------------------------------------------------------------------------------


def test_networkx_round_trip_undirected() -> None:
    G = nx.karate_club_graph()
    g = from_networkx(G, name="karate")
    check_csr(g)
    assert g.n == 34 and g.num_arcs == 2 * G.number_of_edges() and not g.directed
    assert g.labels is not None and g.labels.dtype == np.int64
    H = to_networkx(g)
    assert set(H.nodes) == set(G.nodes)
    assert {frozenset(e) for e in H.edges} == {frozenset(e) for e in G.edges}
    assert same(from_networkx(H), g)


def test_networkx_round_trip_directed_string_labels() -> None:
    G = nx.DiGraph([("carol", "alice"), ("alice", "bob"), ("bob", "alice")])
    G.add_node("dave")
    g = from_networkx(G)
    assert g.directed and g.n == 4
    assert g.labels is not None and list(g.labels) == ["alice", "bob", "carol", "dave"]
    assert list(g.followers(0)) == [1]  # alice -> bob
    assert list(g.followers(2)) == [0]  # carol -> alice
    assert g.out_degree()[3] == 0
    H = to_networkx(g)
    assert isinstance(H, nx.DiGraph)
    assert set(H.edges) == set(G.edges) and set(H.nodes) == set(G.nodes)


def test_from_networkx_unsortable_labels_use_insertion_order() -> None:
    G = nx.Graph([(1, "a"), ("a", (2, 3))])
    g = from_networkx(G)
    assert g.labels is not None and list(g.labels) == [1, "a", (2, 3)]
    assert g.num_arcs == 4


def test_from_networkx_multigraph_and_self_loops_counted() -> None:
    G = nx.MultiDiGraph([(0, 1), (0, 1), (1, 1), (1, 2)])
    g = from_networkx(G)
    assert g.num_arcs == 2 and g.dropped_duplicates == 1 and g.dropped_self_loops == 1


def test_from_networkx_empty_rejected() -> None:
    with pytest.raises(ConfigError):
        from_networkx(nx.Graph())
    with pytest.raises(ConfigError):
        from_networkx(nx.empty_graph(5))


def test_to_networkx_generated_graph_and_communities() -> None:
    g = build_graph(SMALL["sbm"], 0)
    G = to_networkx(g)
    assert set(G.nodes) == set(range(g.n))
    assert G.nodes[0]["community"] == 0 and G.nodes[299]["community"] == 2
    back = from_networkx(G)
    assert same(back, g)


def test_graph_accessors() -> None:
    g = load_edgelist_text("0 1\n0 2\n2 1\n")
    assert g.n == 3 and g.num_arcs == 3
    assert list(g.out_degree()) == [2, 0, 1]
    assert list(g.in_degree()) == [0, 2, 1]
    assert list(g.followers(0)) == [1, 2]
    with pytest.raises(IndexError):
        g.followers(3)
    assert "n=3" in repr(g)


# --------------------------------------------------------------------------------------------
# edge lists
# --------------------------------------------------------------------------------------------

_TMP: list[Path] = []


@pytest.fixture(autouse=True)
def _tmp_dir(tmp_path: Path) -> Any:
    _TMP.append(tmp_path)
    yield
    _TMP.pop()


def write(text: str | bytes, name: str = "edges.txt") -> Path:
    path = _TMP[-1] / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return path


def load_edgelist_text(text: str, **kw: Any) -> Graph:
    return load_edgelist(write(text), **kw)


def arcs_by_label(g: Graph) -> set[tuple[Any, Any]]:
    assert g.labels is not None
    lab = g.labels.tolist()
    src = np.repeat(np.arange(g.n), g.out_degree())
    return {(lab[u], lab[v]) for u, v in zip(src.tolist(), g.indices.tolist(), strict=True)}


SNAP = (
    "# Directed graph (each unordered pair of nodes is saved once): test.txt\n"
    "# Nodes: 5 Edges: 5\n"
    "% matrix-market style comment\n"
    "\n"
    "10\t20\n"
    "10 30\n"
    "  20 \t 30  \r\n"
    "\n"
    "30\t\t10\n"
    "40 10\n"
)


def test_edgelist_comments_tabs_spaces_crlf() -> None:
    g = load_edgelist_text(SNAP)
    check_csr(g)
    assert g.directed and g.n == 4
    assert g.labels is not None and g.labels.dtype == np.int64
    assert list(g.labels) == [10, 20, 30, 40]
    assert arcs_by_label(g) == {(10, 20), (10, 30), (20, 30), (30, 10), (40, 10)}
    assert g.name == "edges.txt"
    assert g.dropped_self_loops == 0 and g.dropped_duplicates == 0


def test_edgelist_no_trailing_newline_and_name() -> None:
    g = load_edgelist(write("1 2\n2 3"), name="tiny")
    assert g.name == "tiny" and g.num_arcs == 2


def test_edgelist_follows_reverses_arcs() -> None:
    g = load_edgelist_text("1 2\n1 3\n", edge_meaning="follows")
    assert arcs_by_label(g) == {(2, 1), (3, 1)}
    g = load_edgelist_text("1 2\n1 3\n", edge_meaning="shares_to")
    assert arcs_by_label(g) == {(1, 2), (1, 3)}


def test_edgelist_undirected_stores_both_arcs() -> None:
    g = load_edgelist_text("1 2\n2 3\n3 2\n", directed=False)
    check_csr(g)
    assert not g.directed
    assert arcs_by_label(g) == {(1, 2), (2, 1), (2, 3), (3, 2)}
    assert g.dropped_duplicates == 1  # "3 2" repeats the edge "2 3"
    # follows is irrelevant for undirected graphs
    h = load_edgelist_text("1 2\n2 3\n3 2\n", directed=False, edge_meaning="follows")
    assert same(g, h)


def test_edgelist_self_loops_and_duplicates_dropped_and_counted() -> None:
    g = load_edgelist_text("1 2\n1 1\n1 2\n2 1\n3 3\n1 2\n")
    assert arcs_by_label(g) == {(1, 2), (2, 1)}
    assert g.dropped_self_loops == 2
    assert g.dropped_duplicates == 2
    assert g.n == 3  # node 3 only appears in a self-loop: kept as an isolated node
    assert g.out_degree()[2] == 0


def test_edgelist_gzip_detected_by_magic_bytes() -> None:
    raw = gzip.compress(SNAP.encode())
    plain = load_edgelist_text(SNAP)
    assert same(load_edgelist(write(raw, "edges.txt.gz")), plain)
    assert same(load_edgelist(write(raw, "no_suffix.txt")), plain)


def test_edgelist_string_labels_kept() -> None:
    g = load_edgelist_text("# who shares to whom\nbob alice\nalice\tcarol\ncarol bob\nbob 42\n")
    assert g.labels is not None and g.labels.dtype.kind == "U"
    assert list(g.labels) == ["42", "alice", "bob", "carol"]
    assert arcs_by_label(g) == {
        ("bob", "alice"),
        ("alice", "carol"),
        ("carol", "bob"),
        ("bob", "42"),
    }


def test_edgelist_unicode_labels() -> None:
    g = load_edgelist_text("José Zoë\nZoë 李\n")
    assert g.labels is not None and set(g.labels.tolist()) == {"José", "Zoë", "李"}


def test_edgelist_negative_and_sparse_integer_labels() -> None:
    g = load_edgelist_text("-5 7\n7 1000000000000\n-5 1000000000000\n")
    assert g.labels is not None and list(g.labels) == [-5, 7, 10**12]
    assert arcs_by_label(g) == {(-5, 7), (7, 10**12), (-5, 10**12)}


def test_edgelist_integers_beyond_int64_fall_back_to_strings() -> None:
    big = str(2**70)
    g = load_edgelist_text(f"1 {big}\n")
    assert g.labels is not None and set(g.labels.tolist()) == {"1", big}


def test_edgelist_weights_ignore() -> None:
    text = "# u v w\n1 2 0.5\n2 3 1.5 extra\n"
    g = load_edgelist_text(text, weights="ignore")
    assert arcs_by_label(g) == {(1, 2), (2, 3)}
    g = load_edgelist_text("a b 0.5\n", weights="ignore")
    assert arcs_by_label(g) == {("a", "b")}


def test_edgelist_matches_networkx_reader() -> None:
    rng = np.random.default_rng(0)
    uv = rng.integers(0, 500, size=(3000, 2))
    text = "".join(f"{u} {v}\n" for u, v in uv)
    g = load_edgelist_text(text)
    G = nx.read_edgelist(write(text, "b.txt"), nodetype=int, create_using=nx.DiGraph)
    G.remove_edges_from(list(nx.selfloop_edges(G)))
    assert same(g, from_networkx(G))


def test_build_graph_edgelist_kind() -> None:
    path = write("1 2\n2 3\n")
    g = build_graph({"kind": "edgelist", "path": str(path), "edge_meaning": "follows"}, 0)
    assert arcs_by_label(g) == {(2, 1), (3, 2)}
    g = build_graph({"kind": "edgelist", "path": str(path), "directed": False, "seed": None}, 0)
    assert not g.directed and g.num_arcs == 4


# --------------------------------------------------------------------------------------------
# edge-list errors
# --------------------------------------------------------------------------------------------


def test_edgelist_missing_file() -> None:
    path = _TMP[-1] / "nope.txt"
    with pytest.raises(DataError) as exc:
        load_edgelist(path)
    assert one_line(exc) == f"edge list {path}: file not found"


@pytest.mark.parametrize("text", ["", "# only comments\n\n% here\n", "   \n\n"])
def test_edgelist_empty(text: str) -> None:
    with pytest.raises(DataError) as exc:
        load_edgelist_text(text)
    assert "no edges" in one_line(exc)


def test_edgelist_only_self_loops_is_empty() -> None:
    with pytest.raises(DataError) as exc:
        load_edgelist_text("1 1\n2 2\n")
    assert "no edges" in one_line(exc)


@pytest.mark.parametrize(
    "data",
    [b"1 2\n\x00\x01\x02\x03", b"\x89PNG\r\n\x1a\n\xff\xfe\xfd 1 2\n", bytes(range(256))],
)
def test_edgelist_binary(data: bytes) -> None:
    with pytest.raises(DataError) as exc:
        load_edgelist(write(data, "bin.dat"))
    msg = one_line(exc)
    assert "looks binary" in msg and "bin.dat" in msg


def test_edgelist_gzip_of_binary() -> None:
    with pytest.raises(DataError, match="looks binary"):
        load_edgelist(write(gzip.compress(b"\x00\x00\x00"), "x.gz"))


def test_edgelist_corrupt_gzip() -> None:
    with pytest.raises(DataError) as exc:
        load_edgelist(write(gzip.compress(b"1 2\n" * 100)[:-12], "x.gz"))
    assert "gzip" in one_line(exc)


@pytest.mark.parametrize(
    ("text", "lineno", "got"),
    [
        ("# header\n# more\n1 2\n\n3 4\nabc\n5 6\n", 6, "abc"),
        ("1 2\n2 3 4\n", 2, "2 3 4"),
        ("1 2\n7\n", 2, "7"),
        ("a b\nc d e\n", 2, "c d e"),
        ("1 2\nx\n", 2, "x"),
        ("a b\n% c\n\nq\r\n", 4, "q"),
    ],
)
def test_edgelist_malformed_line(text: str, lineno: int, got: str) -> None:
    path = write(text)
    with pytest.raises(DataError) as exc:
        load_edgelist(path)
    assert one_line(exc) == f"edge list {path} line {lineno}: expected 2 columns 'u v', got '{got}'"


def test_edgelist_malformed_line_17() -> None:
    lines = ["# comment"] * 3 + [f"{i} {i + 1}" for i in range(13)] + ["abc"] + ["1 2"] * 5
    path = write("\n".join(lines) + "\n")
    with pytest.raises(DataError) as exc:
        load_edgelist(path)
    assert one_line(exc) == f"edge list {path} line 17: expected 2 columns 'u v', got 'abc'"


def test_edgelist_bad_options() -> None:
    path = write("1 2\n")
    with pytest.raises(ConfigError) as exc:
        load_edgelist(path, edge_meaning="likes")
    assert "graph.edge_meaning = 'likes'" in one_line(exc)
    with pytest.raises(ConfigError):
        load_edgelist(path, weights="sum")
    with pytest.raises(ConfigError):
        load_edgelist(path, directed=1)


# --------------------------------------------------------------------------------------------
# config validation
# --------------------------------------------------------------------------------------------


def test_unknown_kind() -> None:
    with pytest.raises(ConfigError) as exc:
        build_graph({"kind": "small_world", "n": 10}, 0)
    msg = one_line(exc)
    assert msg.startswith("graph.kind = 'small_world': must be one of ")
    assert "barabasi_albert" in msg and "edgelist" in msg


def test_missing_kind() -> None:
    with pytest.raises(ConfigError) as exc:
        build_graph({"n": 10}, 0)
    assert one_line(exc).startswith("graph.kind = <missing>")


def test_unknown_key() -> None:
    with pytest.raises(ConfigError) as exc:
        build_graph({"kind": "barabasi_albert", "n": 100, "m": 2, "p": 0.1}, 0)
    msg = one_line(exc)
    assert msg.startswith("graph.p = 0.1: unknown key for graph kind 'barabasi_albert'; allowed:")
    assert "m" in msg


def test_missing_required_key() -> None:
    """A key left out takes its kind's default; a required one (the edge list's path), or one
    left as Hydra's ``???``, is a one-line error."""
    assert build_graph({"kind": "barabasi_albert", "n": 100}, 0).num_edges == 5 * 95  # m: 5
    with pytest.raises(ConfigError) as exc:
        build_graph({"kind": "barabasi_albert", "n": 100, "m": "???"}, 0)
    assert one_line(exc) == "graph.m = <missing>: required for graph kind 'barabasi_albert'"
    with pytest.raises(ConfigError, match=r"graph\.path = <missing>"):
        build_graph({"kind": "edgelist", "path": "???"}, 0)
    with pytest.raises(ConfigError) as exc:
        build_graph({"kind": "edgelist"}, 0)
    assert one_line(exc) == "graph.path = <missing>: required for graph kind 'edgelist'"


BAD_VALUES: list[tuple[dict[str, Any], str]] = [
    ({"kind": "barabasi_albert", "n": -3, "m": 1}, "graph.n = -3"),
    ({"kind": "barabasi_albert", "n": 0, "m": 1}, "graph.n = 0"),
    ({"kind": "barabasi_albert", "n": True, "m": 1}, "graph.n = True"),
    ({"kind": "barabasi_albert", "n": 100.5, "m": 1}, "graph.n = 100.5"),
    ({"kind": "barabasi_albert", "n": "100", "m": 1}, "graph.n = '100'"),
    ({"kind": "barabasi_albert", "n": "100", "m": 1}, "graph.n = '100'"),
    ({"kind": "barabasi_albert", "n": 100, "m": 100}, "graph.m = 100"),
    ({"kind": "barabasi_albert", "n": 100, "m": 0}, "graph.m = 0"),
    ({"kind": "barabasi_albert", "n": 100, "m": False}, "graph.m = False"),
    ({"kind": "watts_strogatz", "n": 100, "k": 4, "p": math.nan}, "graph.p = nan"),
    ({"kind": "watts_strogatz", "n": 100, "k": 4, "p": 1.5}, "graph.p = 1.5"),
    ({"kind": "watts_strogatz", "n": 100, "k": 4, "p": -0.1}, "graph.p = -0.1"),
    ({"kind": "watts_strogatz", "n": 100, "k": 4, "p": True}, "graph.p = True"),
    ({"kind": "watts_strogatz", "n": 10, "k": 10, "p": 0.1}, "graph.k = 10"),
    ({"kind": "erdos_renyi", "n": 100, "mean_degree": None}, "graph.p = None: give exactly one of"),
    ({"kind": "erdos_renyi", "n": 100, "p": 0.1, "mean_degree": 3}, "graph.p = 0.1"),
    ({"kind": "erdos_renyi", "n": 100, "mean_degree": math.inf}, "graph.mean_degree = inf"),
    ({"kind": "erdos_renyi", "n": 100, "mean_degree": -2}, "graph.mean_degree = -2"),
    ({"kind": "erdos_renyi", "n": 100, "mean_degree": 100}, "graph.mean_degree = 100"),
    ({"kind": "erdos_renyi", "n": 100, "p": 0.1, "directed": 1}, "graph.directed = 1"),
    ({"kind": "powerlaw_cluster", "n": 10, "m": 10, "p": 0.1}, "graph.m = 10"),
    ({"kind": "scale_free_directed", "n": 100, "alpha": 0.5}, "graph.alpha = 0.5"),
    ({"kind": "scale_free_directed", "n": 100, "delta_in": -1}, "graph.delta_in = -1"),
    ({"kind": "scale_free_directed", "n": 100, "gamma": math.nan}, "graph.gamma = nan"),
    ({"kind": "sbm", "sizes": [10, 0], "p_in": 0.1, "p_out": 0.1}, "graph.sizes = [10, 0]"),
    ({"kind": "sbm", "sizes": 10, "p_in": 0.1, "p_out": 0.1}, "graph.sizes = 10"),
    ({"kind": "sbm", "sizes": [], "p_in": 0.1, "p_out": 0.1}, "graph.sizes = []"),
    ({"kind": "sbm", "sizes": [5, True], "p_in": 0.1, "p_out": 0.1}, "graph.sizes = [5, True]"),
    ({"kind": "sbm", "sizes": [5, 5], "p_in": 2, "p_out": 0.1}, "graph.p_in = 2"),
    ({"kind": "random_k_out", "n": 10, "k": 10}, "graph.k = 10"),
    ({"kind": "random_k_out", "n": 10, "k": -1}, "graph.k = -1"),
    ({"kind": "configuration_model", "n": 10, "degrees": "???"}, "graph.degrees = <missing>"),
    (
        {"kind": "configuration_model", "n": 10, "degrees": {"dist": "poisson"}},
        "graph.degrees.mean = <missing>: required for graph kind 'configuration_model'",
    ),
    ({"kind": "configuration_model", "n": 10, "degrees": 5}, "graph.degrees = 5"),
    (
        {"kind": "configuration_model", "n": 10, "degrees": {"dist": "zipf"}},
        "graph.degrees.dist = 'zipf'",
    ),
    (
        {"kind": "configuration_model", "n": 10, "degrees": {"dist": "poisson", "mean": 0}},
        "graph.degrees.mean = 0",
    ),
    (
        {"kind": "configuration_model", "n": 10, "degrees": {"dist": "poisson", "mu": 2}},
        "graph.degrees.mu = 2",
    ),
    (
        {
            "kind": "configuration_model",
            "n": 100,
            "degrees": {"dist": "powerlaw", "exponent": 2.5, "kmin": 5, "kmax": 2},
        },
        "graph.degrees.kmax = 2",
    ),
    (
        {
            "kind": "configuration_model",
            "n": 100,
            "degrees": {"dist": "powerlaw", "exponent": math.nan, "kmin": 1, "kmax": 2},
        },
        "graph.degrees.exponent = nan",
    ),
    ({"kind": "edgelist", "path": 3}, "graph.path = 3"),
    ({"kind": "edgelist", "path": "x.txt", "edge_meaning": "likes"}, "graph.edge_meaning"),
    ({"kind": "edgelist", "path": "x.txt", "directed": "yes"}, "graph.directed = 'yes'"),
    ({"kind": "random_k_out", "n": 10, "k": 2, "seed": -1}, "graph.seed = -1"),
    ({"kind": "random_k_out", "n": 10, "k": 2, "seed": True}, "graph.seed = True"),
    ({"kind": "random_k_out", "n": 10, "k": 2, "seed": 1.5}, "graph.seed = 1.5"),
    ({"kind": "random_k_out", "n": 10, "k": 2, "name": [3]}, "graph.name = [3]"),
]


def test_whole_floats_and_numeric_strings_read_as_in_every_other_section() -> None:
    """Graph fields go through the same validators as the rest of the config: an integer field
    takes a whole float (``graph.n=1e4`` on the command line), a real field a numeric string."""
    g = build_graph({"kind": "barabasi_albert", "n": 1e4, "m": 2.0}, 0)
    assert g.n == 10_000
    assert g.num_edges == build_graph({"kind": "barabasi_albert", "n": 10_000, "m": 2}, 0).num_edges
    er = build_graph({"kind": "erdos_renyi", "n": 50, "p": "0.1"}, 3)
    assert er.num_arcs == build_graph({"kind": "erdos_renyi", "n": 50, "p": 0.1}, 3).num_arcs
    with pytest.raises(ConfigError, match=r"^graph\.p = 1\.5: must be a number >= 0 and <= 1$"):
        build_graph({"kind": "erdos_renyi", "n": 50, "p": 1.5}, 3)
    with pytest.raises(ConfigError, match=r"^graph\.directed = 1: must be true or false$"):
        build_graph({"kind": "erdos_renyi", "n": 50, "p": 0.1, "directed": 1}, 3)
    # a name is text: the command line reads graph.name=2018 as a number
    assert build_graph({"kind": "random_k_out", "n": 10, "k": 2, "name": 2018}, 0).name == "2018"


@pytest.mark.parametrize(("cfg", "prefix"), BAD_VALUES, ids=[p for _, p in BAD_VALUES])
def test_bad_values(cfg: dict[str, Any], prefix: str) -> None:
    with pytest.raises(ConfigError) as exc:
        build_graph(cfg, 0)
    assert one_line(exc).startswith(prefix)


@pytest.mark.parametrize(("cfg", "prefix"), BAD_VALUES, ids=[p for _, p in BAD_VALUES])
def test_check_graph_config_rejects_what_build_graph_rejects(cfg: dict[str, Any], prefix: str) -> None:
    """The check a sweep makes before any job gives the same one-line error as building."""
    with pytest.raises(ConfigError) as built:
        build_graph(cfg, 0)
    with pytest.raises(ConfigError) as checked:
        check_graph_config(cfg)
    assert one_line(checked) == one_line(built)


@pytest.mark.parametrize("kind", [*SMALL, "edgelist"])
def test_check_graph_config_accepts_every_kind_without_building(kind: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Valid configs pass, and nothing is generated or read: every builder stops at checked()."""
    cfg = dict(SMALL.get(kind, {}))
    if kind == "edgelist":
        f = tmp_path / "e.txt"
        f.write_text("0 1\n")
        cfg = {"kind": "edgelist", "path": str(f)}
        # (a small file is read when checking, see the next test: not above the limit)
        monkeypatch.setattr("spreadsim.graphs.make.EDGELIST_CHECK_MAX_BYTES", 0)
    assert {c["kind"] for c in SMALL.values()} | {"edgelist"} == set(GRAPH_KINDS)

    def boom(*a: Any, **k: Any) -> None:
        raise AssertionError("the check built something")

    _no_building(monkeypatch, boom)
    for name in ("scale_free_graph", "watts_strogatz_graph", "fast_gnp_random_graph",
                 "powerlaw_cluster_graph", "stochastic_block_model"):
        monkeypatch.setattr(nx, name, boom)
    monkeypatch.setattr(np.random, "default_rng", boom)
    check_graph_config(cfg)
    with pytest.raises(AssertionError, match="built something"):
        build_graph(cfg, 0)


def _no_building(monkeypatch: pytest.MonkeyPatch, boom: Any) -> None:
    """Make every generator, the edge-list reader and NetworkX's generators fail if called."""
    from spreadsim.graphs import make

    monkeypatch.setattr(make, "GENERATORS", {cls: boom for cls in make.GENERATORS})
    monkeypatch.setattr(make, "read_edgelist", boom)
    for name in ("scale_free_graph", "watts_strogatz_graph", "fast_gnp_random_graph",
                 "powerlaw_cluster_graph", "stochastic_block_model"):
        monkeypatch.setattr(nx, name, boom)
    monkeypatch.setattr(np.random, "default_rng", boom)


# the parameter that makes each small config's graph big (ER with mean_degree: the mean degree)
SIZE_FIELD = {"sbm": "sizes", "erdos_renyi": "mean_degree", "erdos_renyi_directed": "p"}


@pytest.mark.parametrize("name", list(SMALL))
def test_graphs_that_cannot_fit_in_memory_are_refused_before_any_work(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every generator refuses a graph whose least memory (nodes and expected edges at a lower
    bound of bytes each) exceeds the machine's, naming the parameter, before generating
    anything; building and checking give the same one-line error; within the limit it builds."""
    from spreadsim.graphs import memory as graphs

    cfg = SMALL[name]
    g = build_graph(cfg, 0)
    per_edge = graphs.NX_BYTES_PER_EDGE if name in (
        "scale_free_directed", "watts_strogatz", "erdos_renyi", "erdos_renyi_directed",
        "powerlaw_cluster", "sbm") else graphs.GEN_BYTES_PER_EDGE
    # the estimate is a lower bound: at most the edges built (within a Poisson/binomial margin)
    least = graphs.BYTES_PER_NODE * g.n + per_edge * g.num_edges * 1.3
    monkeypatch.setattr(graphs, "memory_limit", lambda: int(least))
    assert build_graph(cfg, 0).num_edges == g.num_edges
    monkeypatch.setattr(graphs, "memory_limit", lambda: 1000)

    def boom(*a: Any, **k: Any) -> None:
        raise AssertionError("generated before the memory check")

    _no_building(monkeypatch, boom)
    with pytest.raises(ConfigError) as built:
        build_graph(cfg, 0)
    with pytest.raises(ConfigError) as checked:
        check_graph_config(cfg)
    msg = one_line(built)
    assert msg == one_line(checked)
    assert msg.startswith(f"graph.{SIZE_FIELD.get(name, 'n')} = "), msg
    assert "needs at least" in msg and "this machine (or process) has 1000 B" in msg


def test_memory_limit_can_be_set_for_the_jobs_machines(monkeypatch: pytest.MonkeyPatch) -> None:
    """SPREADSIM_MEMORY_LIMIT (a sweep checked on a small login node, its jobs on big nodes)
    replaces the machine's memory; a bad value is a one-line error naming it."""
    from spreadsim.graphs import memory_limit

    cfg = {"kind": "barabasi_albert", "n": 10**9, "m": 5}
    for value, limit in (("256G", 256 << 30), ("1.5t", int(1.5 * (1 << 40))), ("4096", 4096)):
        monkeypatch.setenv("SPREADSIM_MEMORY_LIMIT", value)
        assert memory_limit() == limit
    monkeypatch.setenv("SPREADSIM_MEMORY_LIMIT", "1T")
    check_graph_config(cfg)  # 1e9 users fit in 1 TiB (checked, not built)
    monkeypatch.setenv("SPREADSIM_MEMORY_LIMIT", "1G")
    with pytest.raises(ConfigError, match=r"^graph\.n = 1000000000: .* needs at least 89\.4 GiB "
                                          r"of memory to build; SPREADSIM_MEMORY_LIMIT is 1 GiB$"):
        check_graph_config(cfg)
    for bad in ("lots", "-5G", "0", "nanG", "1e30T"):
        monkeypatch.setenv("SPREADSIM_MEMORY_LIMIT", bad)
        with pytest.raises(ConfigError, match=rf"^SPREADSIM_MEMORY_LIMIT = '{bad}': must be a number"):
            check_graph_config(cfg)


def test_a_trillion_users_is_refused_at_once() -> None:
    """graph.n=1e12 used to hang before any job: the real memory limit refuses it."""
    from spreadsim.graphs import memory_limit

    assert 1 << 20 < memory_limit() < 1 << 62
    with pytest.raises(ConfigError, match=r"^graph\.n = 1000000000000: a graph this size "
                                          r"\(1e\+12 users, about 5e\+12 edges\) needs at least"):
        check_graph_config({"kind": "barabasi_albert", "n": 10**12, "m": 5})
    with pytest.raises(ConfigError, match=r"^graph\.p = 1\.0: .* about 5e\+09 edges"):
        build_graph({"kind": "erdos_renyi", "n": 100_000, "p": 1.0}, 0)


def test_check_graph_config_edgelist_file_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(ConfigError, match=r"^graph\.path = '.*nope\.txt': file not found$"):
        check_graph_config({"kind": "edgelist", "path": str(missing)})
    with pytest.raises(ConfigError, match=r"^graph\.path = '.*': is a folder, not a file$"):
        check_graph_config({"kind": "edgelist", "path": str(tmp_path)})


def test_bad_run_seed() -> None:
    with pytest.raises(ConfigError, match=r"^seed = -1"):
        build_graph(SMALL["random_k_out"], -1)
    with pytest.raises(ConfigError, match=r"^seed = True"):
        build_graph(SMALL["random_k_out"], True)


def test_validation_happens_before_work(tmp_path: Path) -> None:
    # the bad key is reported even though the file does not exist
    with pytest.raises(ConfigError, match=r"^graph\.weights"):
        build_graph({"kind": "edgelist", "path": str(tmp_path / "x"), "weights": "sum"}, 0)


def test_generated_empty_graph_rejected() -> None:
    with pytest.raises(ConfigError) as exc:
        build_graph({"kind": "erdos_renyi", "n": 50, "p": 0.0}, 0)
    assert "no arcs" in one_line(exc)


def test_not_a_mapping() -> None:
    with pytest.raises(ConfigError):
        build_graph(["barabasi_albert"], 0)


# --------------------------------------------------------------------------------------------
# conf/graph/*.yaml
# --------------------------------------------------------------------------------------------


def test_conf_files_cover_every_kind() -> None:
    kinds = {p.stem for p in CONF_DIR.glob("*.yaml")}
    assert kinds == set(GRAPH_KINDS)


@pytest.mark.parametrize("kind", sorted(GRAPH_KINDS))
def test_conf_file_valid(kind: str, tmp_path: Path) -> None:
    cfg = yaml.safe_load((CONF_DIR / f"{kind}.yaml").read_text())
    assert cfg["kind"] == kind
    assert cfg["seed"] == (None if kind == "edgelist" else 2018)
    if kind == "edgelist":
        assert cfg["path"] == "???"
        cfg["path"] = str(tmp_path / "e.txt")
        (tmp_path / "e.txt").write_text("1 2\n")
    elif kind == "sbm":
        cfg["sizes"] = [20, 30]
        cfg["p_in"], cfg["p_out"] = 0.3, 0.05
    else:
        cfg["n"] = 60
        for key in ("m", "k"):
            if key in cfg:
                cfg[key] = 3 if kind != "watts_strogatz" else 4
        if kind == "erdos_renyi":
            cfg["mean_degree"] = 4
    g = build_graph(cfg, 0)
    assert g.num_arcs > 0


def test_hydra_configs_build_as_plain_containers() -> None:
    """The app layer hands the core plain containers (``OmegaConf.to_container``): Hydra's
    ``???`` stays a literal there and reads as a missing required key."""
    omegaconf = pytest.importorskip("omegaconf")
    cfg = omegaconf.OmegaConf.load(CONF_DIR / "configuration_model.yaml")
    cfg.n = 100
    g = build_graph(omegaconf.OmegaConf.to_container(cfg, resolve=True), 3)
    assert g.n == 100
    edgelist = omegaconf.OmegaConf.to_container(omegaconf.OmegaConf.load(CONF_DIR / "edgelist.yaml"))
    with pytest.raises(ConfigError, match=r"^graph\.path = <missing>: required for graph kind 'edgelist'$"):
        build_graph(edgelist, 0)


def test_graphs_import_no_hydra() -> None:
    code = ("import sys\n"
            "from spreadsim.graphs import build_graph, check_graph_config\n"
            "build_graph({'kind': 'barabasi_albert', 'n': 300, 'm': 3}, 1)\n"
            "check_graph_config({'kind': 'sbm'})\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('hydra', 'omegaconf', 'joblib')]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_check_graph_config_reads_a_small_edge_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A small edge list is read when the config is checked (bad contents fail before any job,
    and its number of users is known); a file above the limit is left to the jobs."""
    import spreadsim.graphs.make as graphs

    bad = tmp_path / "bad.txt"
    bad.write_text("0 1\n1 2\nfoo bar baz\n")
    with pytest.raises(DataError, match=r"line 3: expected 2 columns"):
        check_graph_config({"kind": "edgelist", "path": str(bad)})
    good = tmp_path / "good.txt"
    good.write_text("0 1\n1 2\n2 0\n")
    assert check_graph_config({"kind": "edgelist", "path": str(good)}) == 3
    monkeypatch.setattr(graphs, "EDGELIST_CHECK_MAX_BYTES", 4)
    assert check_graph_config({"kind": "edgelist", "path": str(bad)}) is None  # not read


def test_an_address_space_limit_is_part_of_the_memory_check(tmp_path: Path) -> None:
    """Under ``ulimit -v`` (RLIMIT_AS) a graph that cannot fit in what the limit leaves the process
    is refused in one line before any work (it used to pass the check and run out of memory)."""
    code = ("import resource, sys\n"
            "from spreadsim.graphs import check_graph_config\n"
            "from spreadsim.errors import ConfigError\n"
            "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, resource.RLIM_INFINITY))\n"
            "try:\n"
            "    check_graph_config({'kind': 'barabasi_albert', 'n': 60_000_000, 'm': 5})\n"
            "except ConfigError as e:\n"
            "    print(e)\n"
            "    sys.exit(0)\n"
            "sys.exit('not refused')\n")
    env = {k: v for k, v in os.environ.items() if k != "SPREADSIM_MEMORY_LIMIT"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    [line] = out.stdout.splitlines()
    assert line.startswith("graph.n = 60000000: a graph this size") and "this machine (or process) has" in line
