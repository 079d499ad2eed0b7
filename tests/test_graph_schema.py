"""The graph section's schema: conf/graph files generated from it, its defaults, and the graph seed
(pinned to 2018 unless set to null, for the Python API as for the command line)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spreadsim import SimConfig
from spreadsim.graphs import GRAPH_KINDS, Graph, build_graph, check_graph_config, graph_seed
from spreadsim.runs.single import new_simulation
from spreadsim.schema.fields import defaults, describe
from spreadsim.schema.graphs import graph_mapping, parse_graph
from spreadsim.schema.yaml import section_yaml

CONF = Path(__file__).resolve().parents[1] / "conf"


def same(a: Graph, b: Graph) -> bool:
    return np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)


@pytest.mark.parametrize("kind", list(GRAPH_KINDS))
def test_conf_file_is_the_generated_text(kind: str) -> None:
    """conf/graph/<kind>.yaml is written from the schema: a drift fails here (regenerate with
    ``python -m spreadsim.schema.yaml conf``)."""
    assert (CONF / "graph" / f"{kind}.yaml").read_text() == section_yaml(GRAPH_KINDS[kind])


def test_conf_folder_has_no_other_graph() -> None:
    assert {p.stem for p in (CONF / "graph").glob("*.yaml")} == set(GRAPH_KINDS)


@pytest.mark.parametrize("kind", list(GRAPH_KINDS))
def test_defaults_parse_and_read_back(kind: str, tmp_path: Path) -> None:
    cls = GRAPH_KINDS[kind]
    raw = defaults(cls)
    if kind == "edgelist":
        (tmp_path / "e.txt").write_text("1 2\n2 3\n")
        raw["path"] = str(tmp_path / "e.txt")
    section = parse_graph(raw)
    assert type(section) is cls and section.kind == kind
    assert section.seed == (None if kind == "edgelist" else 2018)
    assert parse_graph(graph_mapping(section)) == section  # a completed mapping reads back the same
    assert parse_graph({"kind": kind, **({"path": raw["path"]} if kind == "edgelist" else {})}) == section
    assert check_graph_config(section) == (3 if kind == "edgelist" else section.n)


@pytest.mark.parametrize("kind", list(GRAPH_KINDS))
def test_every_field_is_described(kind: str) -> None:
    for info in describe(GRAPH_KINDS[kind]):
        assert info.help and "\n" not in info.help and info.check.text()


def test_the_api_without_a_graph_section_runs_the_pinned_default_graph() -> None:
    """No graph section: the embedded default graph (Barabasi-Albert, 10,000 users, m = 5,
    graph.seed 2018), whatever the run seed: the graph the command line's experiments pin."""
    a = new_simulation(SimConfig.from_dict({}), 0).graph
    b = new_simulation(SimConfig.from_dict({}), 7).graph
    assert a.n == 10_000 and not a.directed and a.num_edges == 5 * (10_000 - 5)
    assert same(a, b)
    assert same(a, build_graph({"kind": "barabasi_albert", "n": 10_000, "m": 5, "seed": 2018}, 123))
    # the command line's default graph group
    import yaml

    cli = yaml.safe_load((CONF / "graph" / "barabasi_albert.yaml").read_text())
    assert same(a, build_graph(cli, 0))


def test_a_graph_section_without_seed_is_pinned_too() -> None:
    cfg = {"kind": "random_k_out", "n": 60, "k": 2}
    assert graph_seed(cfg, 0) == graph_seed(cfg, 1) == 2018
    g0 = new_simulation(SimConfig.from_dict({"graph": cfg}), 0).graph
    g1 = new_simulation(SimConfig.from_dict({"graph": cfg}), 1).graph
    assert same(g0, g1) and same(g0, build_graph({**cfg, "seed": 2018}, 0))


def test_graph_seed_null_derives_the_graph_from_each_run_seed() -> None:
    cfg = {"kind": "random_k_out", "n": 60, "k": 2, "seed": None}
    g0 = new_simulation(SimConfig.from_dict({"graph": cfg}), 0).graph
    g1 = new_simulation(SimConfig.from_dict({"graph": cfg}), 1).graph
    assert not same(g0, g1)
    assert same(g0, build_graph(cfg, graph_seed(cfg, 0)))
    assert graph_seed(cfg, 0) != 0  # derived (the run seed's "graph" stream), not the run seed
    assert graph_seed(cfg, 0, "B:graph") != graph_seed(cfg, 0)  # a platform's own stream


def test_the_completed_config_holds_every_default() -> None:
    cfg = SimConfig.from_dict({"graph": {"kind": "erdos_renyi", "n": 100, "p": 0.05}})
    assert cfg.graph == {"kind": "erdos_renyi", "n": 100, "p": 0.05, "mean_degree": None,
                         "directed": False, "seed": 2018, "name": None}


@pytest.mark.parametrize("kind", list(GRAPH_KINDS))
def test_generated_conf_composes_under_hydra(kind: str, tmp_path: Path) -> None:
    """Each generated file composes as the graph group of the command line's config and passes
    the checks a sweep makes before any job."""
    hydra = pytest.importorskip("hydra")
    from omegaconf import OmegaConf

    overrides = [f"graph={kind}", "experiment=single"]
    if kind == "edgelist":
        (tmp_path / "e.txt").write_text("1 2\n2 3\n")
        overrides.append(f"graph.path={tmp_path / 'e.txt'}")
    with hydra.initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = hydra.compose(config_name="config", overrides=overrides)
    graph = OmegaConf.to_container(cfg.graph, resolve=True)
    assert isinstance(graph, dict)
    if kind != "edgelist":
        assert graph["seed"] == 2018
    section = parse_graph(graph)
    assert section.kind == kind
    check_graph_config(graph)
