"""The ``graph`` section: one frozen dataclass per graph kind, picked by its ``kind`` key.

Each kind declares its parameters with :func:`~spreadsim.schema.fields.param` (default, one-line
description, range) and checks the rules between them in ``validate``; ``conf/graph/<kind>.yaml``
is generated from these classes. :func:`parse_graph` reads a mapping into the kind's class;
:mod:`spreadsim.graphs` builds the graph from it.

``seed`` pins the graph: every generated kind defaults to 2018, the embedded default graph, so
the Python API and the command line build the same world; ``null`` derives the graph's seed from
each run seed (:func:`spreadsim.graphs.graph_seed`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from spreadsim.errors import ConfigError
from spreadsim.schema.checks import integer, number
from spreadsim.schema.fields import (
    REQUIRED,
    Boolean,
    Check,
    Choice,
    Integer,
    Number,
    Optional,
    Probability,
    Text,
    describe,
    param,
    parse,
)
from spreadsim.schema.model import SEED_MAX

__all__ = [
    "GRAPH_KINDS", "GraphSection", "BarabasiAlbert", "ScaleFreeDirected", "WattsStrogatz",
    "ErdosRenyi", "PowerlawCluster", "Sbm", "RandomKOut", "ConfigurationModel", "EdgeList",
    "MISSING", "graph_mapping", "parse_graph",
]

#: the default pinned graph seed of every generated kind (the embedded default graph)
DEFAULT_GRAPH_SEED = 2018
SEED_HELP = ("graph seed: an integer pins the graph (2018: the embedded default graph); "
             "null derives it from each run seed")


class _Missing:
    """The value a message shows for a key that is absent (or Hydra's ``???``)."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


def _is_int(x: Any) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_)


# ------------------------------------------------------------------------------------------ checks


@dataclass(frozen=True)
class OneOf(Choice):
    """A :class:`Choice` whose message reads ``must be one of a, b``."""

    def __call__(self, path: str, value: Any) -> str:
        if not isinstance(value, str) or value not in self.options:
            raise ConfigError(path, value, f"must be one of {', '.join(self.options)}")
        return value


@dataclass(frozen=True)
class FilePath(Check):
    """A file path (a string, or an ``os.PathLike``), not checked to exist here."""

    kind: ClassVar[str] = "path"

    def __call__(self, path: str, value: Any) -> str:
        if not isinstance(value, str | os.PathLike) or not os.fspath(value):
            raise ConfigError(path, value, "must be a file path")
        return os.fspath(value)

    def text(self) -> str:
        return "a file path"


@dataclass(frozen=True)
class BlockSizes(Check):
    """A non-empty list of block sizes (integers >= 1) adding up to at least 2 users."""

    kind: ClassVar[str] = "list"

    def __call__(self, path: str, value: Any) -> tuple[int, ...]:
        rule = "must be a non-empty list of integers >= 1"
        if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
            raise ConfigError(path, value, rule)
        sizes = list(value)
        if not sizes or not all(_is_int(s) and s >= 1 for s in sizes):
            raise ConfigError(path, sizes, rule)
        if sum(int(s) for s in sizes) < 2:
            raise ConfigError(path, sizes, "must have at least 2 nodes in total")
        return tuple(int(s) for s in sizes)

    def text(self) -> str:
        return "a list of integers >= 1 (users in each block), at least 2 users in total"


@dataclass(frozen=True)
class UpToUsers(Check):
    """A number in [0, n - 1] where ``n`` is the section's user count: the range needs ``n``, so
    it is checked (and the value converted) by the section's ``validate``; here it passes as given."""

    kind: ClassVar[str] = "number"

    def __call__(self, path: str, value: Any) -> Any:
        return value

    def text(self) -> str:
        return "null or a number >= 0 and <= n - 1"


DEGREE_DISTS = ("poisson", "powerlaw")
_DEGREE_KEYS = {"poisson": ("dist", "mean"), "powerlaw": ("dist", "exponent", "kmin", "kmax")}
_DEGREE_RULE = ("must be a mapping like {dist: poisson, mean: 5} or "
                "{dist: powerlaw, exponent: 2.5, kmin: 2, kmax: 100}")


@dataclass(frozen=True)
class DegreeDist(Check):
    """The degree distribution of the configuration model: ``{dist: poisson, mean}`` or
    ``{dist: powerlaw, exponent, kmin, kmax}``. Its shape and keys are checked here; its numbers
    (whose ranges need ``n``) by the section's ``validate``."""

    kind: ClassVar[str] = "mapping"
    graph_kind: str = "configuration_model"

    def __call__(self, path: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise ConfigError(path, value, _DEGREE_RULE)
        dist = value.get("dist", MISSING)
        if dist is MISSING or (isinstance(dist, str) and dist == REQUIRED):
            raise ConfigError(f"{path}.dist", MISSING, f"required for graph kind '{self.graph_kind}'")
        dist = OneOf(DEGREE_DISTS)(f"{path}.dist", dist)
        allowed = _DEGREE_KEYS[dist]
        for key in value:
            if key not in allowed:
                raise ConfigError(f"{path}.{key}", value[key],
                                  f"unknown key for graph kind '{self.graph_kind}'; allowed: {', '.join(allowed)}")
        for key in allowed:
            v = value.get(key, MISSING)
            if v is MISSING or (isinstance(v, str) and v == REQUIRED):
                raise ConfigError(f"{path}.{key}", MISSING, f"required for graph kind '{self.graph_kind}'")
        return {key: value[key] for key in allowed}

    def text(self) -> str:
        return ("{dist: poisson, mean: > 0 and <= n - 1} or {dist: powerlaw, exponent: > 1, "
                "kmin: 1 to n - 1, kmax: kmin to n - 1}")


# ------------------------------------------------------------------------------------------ rules


def _less_than_n(path: str, key: str, value: int, n: int) -> None:
    if value >= n:
        raise ConfigError(f"{path}.{key}", value, f"must be < {path}.n = {n}")


def _set(section: Any, key: str, value: Any) -> None:
    """Store a value converted by ``validate`` (ranges that need another field)."""
    object.__setattr__(section, key, value)


# ------------------------------------------------------------------------------------------ kinds


class GraphSection:
    """What every graph kind has: ``kind``, ``seed`` and ``name`` (see the subclasses)."""

    kind: str
    seed: int | None
    name: str | None

    @classmethod
    def raw_defaults(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """The mapping with the defaults that a key the user gave replaces (none by default)."""
        return raw


def _kind(name: str) -> Any:
    return param(name, "graph kind", Choice((name,), what="graph kind"))


def _seed() -> Any:
    return param(DEFAULT_GRAPH_SEED, SEED_HELP, Optional(Integer(0, SEED_MAX)))


def _name(default: str = "the kind") -> Any:
    return param(None, f"graph name in tables and plots (null: {default})", Optional(Text()))


def _users(default: int, lo: int) -> Any:
    return param(default, "users (nodes)", Integer(lo=lo))


@dataclass(frozen=True)
class BarabasiAlbert(GraphSection):
    """Barabasi-Albert preferential attachment (undirected friend graph). The same graph as
    NetworkX's barabasi_albert_graph(n, m, seed) for the same seed (spreadsim replays its
    algorithm, 4x faster)."""

    kind: str = _kind("barabasi_albert")
    n: int = _users(10000, 2)
    m: int = param(5, "edges attached by every new user (m < n); mean degree about 2m", Integer(lo=1))
    seed: int | None = _seed()
    name: str | None = _name()

    def validate(self, path: str) -> None:
        _less_than_n(path, "m", self.m, self.n)


@dataclass(frozen=True)
class ScaleFreeDirected(GraphSection):
    """Directed scale-free follower graph (Bollobas et al., nx.scale_free_graph), collapsed to a
    simple digraph without self-loops. A NetworkX edge a -> b is read as "a follows b", so the
    spreading arc is b -> a: accounts with many followers (heavy-tailed) have a high out-degree."""

    kind: str = _kind("scale_free_directed")
    n: int = _users(10000, 3)
    alpha: float = param(0.41, "probability that a step adds a new user following an existing "
                               "one chosen by follower count", Number(0.0, 1.0, lo_open=True))
    beta: float = param(0.54, "probability that a step adds a follow between existing users",
                        Number(0.0, 1.0, lo_open=True))
    gamma: float = param(0.05, "probability that a step adds a new user followed by an existing "
                               "one (alpha + beta + gamma = 1)", Number(0.0, 1.0, lo_open=True))
    delta_in: float = param(0.2, "bias added to follower counts when choosing whom to follow",
                            Number(0.0))
    delta_out: float = param(0, "bias added to following counts when choosing who follows",
                             Number(0.0))
    seed: int | None = _seed()
    name: str | None = _name()

    def validate(self, path: str) -> None:
        total = self.alpha + self.beta + self.gamma
        if abs(total - 1.0) >= 1e-9:
            raise ConfigError(f"{path}.alpha", self.alpha,
                              f"alpha + beta + gamma must equal 1 (got {total:g})")


@dataclass(frozen=True)
class WattsStrogatz(GraphSection):
    """Watts-Strogatz small world (undirected): a ring lattice with k neighbours, rewired with
    probability p (nx.watts_strogatz_graph)."""

    kind: str = _kind("watts_strogatz")
    n: int = _users(10000, 3)
    k: int = param(10, "ring neighbours each user is joined to (k < n)", Integer(lo=2))
    p: float = param(0.1, "probability of rewiring each edge", Probability())
    seed: int | None = _seed()
    name: str | None = _name()

    def validate(self, path: str) -> None:
        _less_than_n(path, "k", self.k, self.n)


@dataclass(frozen=True)
class ErdosRenyi(GraphSection):
    """Erdos-Renyi G(n, p) random graph (nx.fast_gnp_random_graph); set exactly one of p and
    mean_degree (a p given without mean_degree replaces mean_degree's default)."""

    kind: str = _kind("erdos_renyi")
    n: int = _users(10000, 2)
    p: float | None = param(None, "probability of each edge (of each arc if directed)",
                            Optional(Probability()))
    mean_degree: float | None = param(10, "expected edges per user, instead of p = mean_degree / (n - 1)",
                                      UpToUsers())
    directed: bool = param(False, "true: each ordered pair of users is an arc independently",
                           Boolean())
    seed: int | None = _seed()
    name: str | None = _name()

    @classmethod
    def raw_defaults(cls, raw: dict[str, Any]) -> dict[str, Any]:
        if raw.get("p") is not None and "mean_degree" not in raw:
            return {**raw, "mean_degree": None}
        return raw

    def validate(self, path: str) -> None:
        if (self.p is None) == (self.mean_degree is None):
            raise ConfigError(f"{path}.p", self.p, f"give exactly one of {path}.p or {path}.mean_degree")
        if self.mean_degree is not None:
            _set(self, "mean_degree", number(f"{path}.mean_degree", self.mean_degree, lo=0.0,
                                             hi=float(self.n - 1)))

    @property
    def edge_prob(self) -> float:
        """The probability of each edge (arc), from p or mean_degree."""
        return self.p if self.p is not None else float(self.mean_degree) / (self.n - 1)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PowerlawCluster(GraphSection):
    """Holme-Kim power-law graph with clustering (undirected, nx.powerlaw_cluster_graph)."""

    kind: str = _kind("powerlaw_cluster")
    n: int = _users(10000, 2)
    m: int = param(5, "edges attached by every new user (m < n)", Integer(lo=1))
    p: float = param(0.3, "probability of closing a triangle after each attachment", Probability())
    seed: int | None = _seed()
    name: str | None = _name()

    def validate(self, path: str) -> None:
        _less_than_n(path, "m", self.m, self.n)


@dataclass(frozen=True)
class Sbm(GraphSection):
    """Stochastic block model (undirected communities); Graph.communities holds each user's block."""

    kind: str = _kind("sbm")
    sizes: tuple[int, ...] = param([2500, 2500, 2500, 2500], "users in each block (n = their sum)",
                                   BlockSizes())
    p_in: float = param(0.004, "probability of an edge between two users of the same block",
                        Probability())
    p_out: float = param(0.0002, "probability of an edge between users of different blocks",
                         Probability())
    seed: int | None = _seed()
    name: str | None = _name()

    @property
    def n(self) -> int:
        """Users: the sum of the block sizes."""
        return sum(self.sizes)


@dataclass(frozen=True)
class RandomKOut(GraphSection):
    """Every user has exactly k distinct followers drawn uniformly among the other users
    (directed; locally tree-like for k << n: the graph of the branching-process checks)."""

    kind: str = _kind("random_k_out")
    n: int = _users(100000, 2)
    k: int = param(3, "followers per user (k <= n - 1)", Integer(lo=1))
    seed: int | None = _seed()
    name: str | None = _name()

    def validate(self, path: str) -> None:
        if self.k > self.n - 1:
            raise ConfigError(f"{path}.k", self.k, f"must be <= {path}.n - 1 = {self.n - 1}")


@dataclass(frozen=True)
class ConfigurationModel(GraphSection):
    """Configuration model: a random undirected graph with the given degree distribution (uniform
    stub matching, then self-loops dropped and multi-edges collapsed, both counted).

    Power-law degrees instead: degrees: {dist: powerlaw, exponent: 2.5, kmin: 2, kmax: 100}"""

    kind: str = _kind("configuration_model")
    n: int = _users(10000, 2)
    degrees: dict[str, Any] = param({"dist": "poisson", "mean": 5},
                                    "degree distribution (edges per user): {dist: poisson, mean} or "
                                    "{dist: powerlaw, exponent, kmin, kmax}", DegreeDist())
    seed: int | None = _seed()
    name: str | None = _name()

    def validate(self, path: str) -> None:
        d, p, n = dict(self.degrees), f"{path}.degrees", self.n
        if d["dist"] == "poisson":
            d["mean"] = number(f"{p}.mean", d["mean"], lo=0.0, hi=float(n - 1), lo_open=True)
        else:
            d["exponent"] = number(f"{p}.exponent", d["exponent"], lo=1.0, lo_open=True)
            d["kmin"] = integer(f"{p}.kmin", d["kmin"], lo=1, hi=n - 1)
            d["kmax"] = integer(f"{p}.kmax", d["kmax"], lo=d["kmin"], hi=n - 1)
        _set(self, "degrees", d)


EDGE_MEANINGS = ("shares_to", "follows")
WEIGHTS = ("error", "ignore")


@dataclass(frozen=True)
class EdgeList(GraphSection):
    """SNAP-style edge list file ("u v" per line, '#'/'%' comments, spaces or tabs, optional .gz)."""

    kind: str = _kind("edgelist")
    path: str = param(REQUIRED, "the edge list file (mandatory: e.g. graph.path=/data/soc-Epinions1.txt.gz)",
                      FilePath())
    directed: bool = param(True, "false: every line is an undirected edge", Boolean())
    edge_meaning: str = param("shares_to", "shares_to: line 'u v' means v sees what u shares; "
                                           "follows: line 'u v' means u follows v", OneOf(EDGE_MEANINGS))
    weights: str = param("error", "a 3rd column: error rejects it; ignore reads only the first two",
                         OneOf(WEIGHTS))
    max_unpacked_mb: int = param(4096, "largest size in MB a gzip-compressed file may decompress to "
                                       "(a guard against gzip bombs); raise it for a larger file",
                                 Integer(1, 2**40))
    seed: int | None = param(None, "unused (the file fixes the graph)", Optional(Integer(0, SEED_MAX)))
    name: str | None = _name("the file name")


#: every graph kind's section, by its ``kind`` (the order of the messages)
GRAPH_KINDS: dict[str, type[GraphSection]] = {
    cls.__dataclass_fields__["kind"].metadata["default"]: cls
    for cls in (BarabasiAlbert, ScaleFreeDirected, WattsStrogatz, ErdosRenyi, PowerlawCluster,
                Sbm, RandomKOut, ConfigurationModel, EdgeList)
}

_COMMON_KEYS = ("kind", "seed", "name")


def parse_graph(raw: Any, path: str = "graph") -> Any:
    """The ``graph`` section: ``raw`` read into its kind's class, every value checked.

    A section already parsed is returned as it is. One-line :class:`ConfigError` s name the
    field (``graph.m``), the value and what is allowed: an unknown or missing ``kind``, a key the
    kind does not have, a required key left out (or Hydra's ``???``), a value out of its range.
    """
    if isinstance(raw, GraphSection):
        return raw
    if not isinstance(raw, Mapping):
        raise ConfigError(path, raw, "must be a mapping with a 'kind' key")
    kind = raw.get("kind", MISSING)
    if not isinstance(kind, str) or kind not in GRAPH_KINDS:
        raise ConfigError(f"{path}.kind", kind, f"must be one of {', '.join(GRAPH_KINDS)}")
    cls = GRAPH_KINDS[kind]
    infos = describe(cls)
    allowed = list(_COMMON_KEYS) + [i.name for i in infos if i.name not in _COMMON_KEYS]
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"{path}.{key}", raw[key],
                              f"unknown key for graph kind '{kind}'; allowed: {', '.join(allowed)}")
    for i in infos:
        value = raw.get(i.name, i.default)
        if isinstance(value, str) and value == REQUIRED:
            raise ConfigError(f"{path}.{i.name}", MISSING, f"required for graph kind '{kind}'")
        if value is None and i.required:
            i.check(f"{path}.{i.name}", value)  # (its own message: "must be a file path")
    return parse(cls, cls.raw_defaults(dict(raw)), path)


def graph_mapping(section: Any) -> dict[str, Any]:
    """A parsed section as a plain mapping, every default filled in (``parse_graph`` reads it
    back to the same section)."""
    out = {f.name: getattr(section, f.name) for f in dataclasses.fields(section)}
    for key, value in out.items():
        if isinstance(value, tuple):
            out[key] = list(value)
        elif isinstance(value, dict):
            out[key] = dict(value)
    return out
