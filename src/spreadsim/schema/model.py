"""Validated simulation configuration (no Hydra below this line).

A :class:`SimConfig` is built from plain dicts, the same shape as the YAML files in ``conf/``::

    SimConfig.from_dict({"graph": {...}, "spread": {...}, "scenario": {...}, "policy": {...}})

Every field is checked before anything runs; a bad one raises a one-line
:class:`~spreadsim.errors.ConfigError` naming the field, the value and what is allowed.
Times are in hours throughout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spreadsim.dists import DECAY_KINDS, DELAY_KINDS
from spreadsim.errors import ConfigError
from spreadsim.schema.checks import check_keys, choice, integer, mapping, number, probability, require

CATEGORIES = ("terrorist_propaganda", "hate_speech", "ip_infringement")
LEGAL = "legal"
ALL_CATEGORIES = (*CATEGORIES, LEGAL)
REMOVAL_SEMANTICS = ("cascade", "per_copy")

_DELAY_PARAMS = {
    "fixed": ("value_h",),
    "exponential": ("rate_per_h",),
    "lognormal": ("median_h", "sigma"),
    "powerlaw": ("c_h", "gamma"),
}
_DECAY_PARAMS = {"none": (), "exponential": ("half_life_h",), "powerlaw": ("c_h", "alpha")}


@dataclass(frozen=True)
class Kernel:
    """Feed-delay kernel: code and two parameters, as the compiled kernel reads them."""

    dist: str
    a: float
    b: float = 0.0

    @property
    def code(self) -> int:
        return DELAY_KINDS[self.dist]

    @classmethod
    def from_dict(cls, section: str, cfg: Any) -> Kernel:
        cfg = mapping(section, cfg)
        dist = choice(f"{section}.dist", require(section, cfg, "dist"), _DELAY_PARAMS, "delay kernel")
        names = _DELAY_PARAMS[dist]
        check_keys(section, cfg, ("dist", *names))
        vals = [number(f"{section}.{k}", require(section, cfg, k), lo=0.0, lo_open=k != "value_h")
                for k in names]
        return cls(dist, *vals)


@dataclass(frozen=True)
class Decay:
    """Attention decay of the reshare probability with the post's age."""

    kind: str = "none"
    a: float = 1.0
    b: float = 0.0

    @property
    def code(self) -> int:
        return DECAY_KINDS[self.kind]

    @classmethod
    def from_dict(cls, section: str, cfg: Any) -> Decay:
        cfg = mapping(section, cfg)
        kind = choice(f"{section}.kind", cfg.get("kind", "none"), _DECAY_PARAMS, "attention decay")
        names = _DECAY_PARAMS[kind]
        check_keys(section, cfg, ("kind", *names))
        vals = [number(f"{section}.{k}", require(section, cfg, k), lo=0.0, lo_open=k != "alpha")
                for k in names]
        return cls(kind, *vals)


@dataclass(frozen=True)
class SpreadConfig:
    """How posts spread: feed delay kernel, attention decay and removal semantics."""

    kernel: Kernel = field(default_factory=lambda: Kernel("exponential", 0.5))
    decay: Decay = field(default_factory=Decay)
    removal: str = "cascade"

    @classmethod
    def from_dict(cls, cfg: Any) -> SpreadConfig:
        cfg = mapping("spread", cfg)
        check_keys("spread", cfg, ("kernel", "decay", "removal"))
        return cls(
            kernel=Kernel.from_dict("spread.kernel", cfg.get("kernel", {"dist": "exponential", "rate_per_h": 0.5})),
            decay=Decay.from_dict("spread.decay", cfg.get("decay")),
            removal=choice("spread.removal", cfg.get("removal", "cascade"), REMOVAL_SEMANTICS,
                           "removal semantics"),
        )


@dataclass(frozen=True)
class Category:
    """One content category: its share of uploads and its virality."""

    name: str
    weight: float
    share_prob: float
    decay: Decay | None = None  # None: the spread config's decay


@dataclass(frozen=True)
class ScenarioConfig:
    """The content campaign: who uploads what, when, and how long the simulation runs."""

    illegal_posts: int = 20
    window_h: float = 24.0
    horizon_h: float = 336.0
    uploaders: int = 10
    uploader_selection: str = "random"
    categories: tuple[Category, ...] = (
        Category("terrorist_propaganda", 1.0, 0.05),
        Category("hate_speech", 1.0, 0.05),
        Category("ip_infringement", 1.0, 0.05),
    )
    legal_posts: int = 0
    legal_share_prob: float = 0.05
    series_step_h: float = 1.0

    @classmethod
    def from_dict(cls, cfg: Any) -> ScenarioConfig:
        s = "scenario"
        cfg = mapping(s, cfg)
        keys = ("illegal_posts", "window_h", "horizon_h", "uploaders", "uploader_selection",
                "categories", "legal_posts", "legal_share_prob", "series_step_h")
        check_keys(s, cfg, keys)
        d = cls()
        cats_cfg = mapping(f"{s}.categories", cfg.get("categories"))
        cats = []
        for name, c in cats_cfg.items():
            f = f"{s}.categories.{name}"
            choice(f, name, CATEGORIES, "category")
            c = mapping(f, c)
            check_keys(f, c, ("weight", "share_prob", "decay"))
            cats.append(Category(
                name,
                number(f"{f}.weight", c.get("weight", 1.0), lo=0.0),
                probability(f"{f}.share_prob", require(f, c, "share_prob")),
                Decay.from_dict(f"{f}.decay", c["decay"]) if c.get("decay") is not None else None,
            ))
        if not cats_cfg:
            cats = list(d.categories)
        if sum(c.weight for c in cats) <= 0:
            raise ConfigError(f"{s}.categories", {c.name: c.weight for c in cats},
                              "the weights must add up to more than 0")
        window = number(f"{s}.window_h", cfg.get("window_h", d.window_h), lo=0.0, unit="hours")
        horizon = number(f"{s}.horizon_h", cfg.get("horizon_h", d.horizon_h), lo=0.0, lo_open=True,
                         unit="hours")
        if horizon < window:
            raise ConfigError(f"{s}.horizon_h", horizon, f"must be >= scenario.window_h ({window:g})")
        return cls(
            illegal_posts=integer(f"{s}.illegal_posts", cfg.get("illegal_posts", d.illegal_posts), lo=0,
                                  hi=MAX_POSTS),
            window_h=window,
            horizon_h=horizon,
            uploaders=integer(f"{s}.uploaders", cfg.get("uploaders", d.uploaders), lo=1),
            uploader_selection=choice(f"{s}.uploader_selection",
                                      cfg.get("uploader_selection", d.uploader_selection),
                                      ("random", "top_degree"), "uploader selection"),
            categories=tuple(cats),
            legal_posts=integer(f"{s}.legal_posts", cfg.get("legal_posts", d.legal_posts), lo=0,
                                hi=MAX_POSTS),
            legal_share_prob=probability(f"{s}.legal_share_prob",
                                         cfg.get("legal_share_prob", d.legal_share_prob)),
            series_step_h=_series_step(f"{s}.series_step_h",
                                       cfg.get("series_step_h", d.series_step_h), horizon),
        )


MAX_POSTS = 10_000_000  # posts per run (each post's state lives in memory)
MAX_SERIES_POINTS = 10_000_000  # points of the reach-over-time series of one run
MAX_HORIZON_STEPS = 1e12


def _series_step(field_name: str, value: Any, horizon: float) -> float:
    # the series ends after the last new exposure; a step this small could never be stored
    step = number(field_name, value, lo=0.0, lo_open=True, unit="hours")
    if horizon / step > MAX_HORIZON_STEPS:
        raise ConfigError(field_name, value, f"must be >= horizon_h / {MAX_HORIZON_STEPS:.0e} "
                          f"({horizon / MAX_HORIZON_STEPS:.3g} h)")
    return step


@dataclass(frozen=True)
class SimConfig:
    """Everything one simulation run needs besides its seed."""

    graph: Mapping[str, Any]
    spread: SpreadConfig = field(default_factory=SpreadConfig)
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    policies: tuple[Mapping[str, Any], ...] = ()
    max_events: int = 50_000_000

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any]) -> SimConfig:
        """Validate and build from a dict shaped like the composed Hydra config.

        ``policy`` is one policy mapping (with a ``name``) or a list of them (a stack); the policy
        classes validate their own parameters when the simulation is built.
        """
        cfg = mapping("config", cfg)
        check_keys("config", cfg, ("graph", "spread", "scenario", "policy", "max_events"))
        graph = mapping("graph", require("config", cfg, "graph"))
        pol = cfg.get("policy")
        if pol is None:
            pols: tuple[Mapping[str, Any], ...] = ()
        elif isinstance(pol, Mapping):
            pols = (pol,)
        elif isinstance(pol, list | tuple):
            pols = tuple(mapping(f"policy[{i}]", p) for i, p in enumerate(pol))
        else:
            raise ConfigError("policy", pol, "must be a policy mapping or a list of them")
        return cls(
            graph=dict(graph),
            spread=SpreadConfig.from_dict(cfg.get("spread")),
            scenario=ScenarioConfig.from_dict(cfg.get("scenario")),
            policies=pols,
            max_events=integer("max_events", cfg.get("max_events", 50_000_000), lo=1, hi=2**62),
        )


#: the largest seed (run or graph): seeds are stored as 64-bit integers in the result tables
SEED_MAX = 2**63 - 1


def check_seed(seed: Any, field_name: str = "seed") -> int:
    """A run seed: an integer >= 0 (0 is a seed like any other) and <= :data:`SEED_MAX`."""
    return integer(field_name, seed, lo=0, hi=SEED_MAX)


def as_latency(field_name: str, value: Any) -> float:
    """A removal latency in hours: a number >= 0, or ``inf``/``never``."""
    return number(field_name, value, lo=0.0, allow_inf=True, unit="hours")


__all__ = ["ALL_CATEGORIES", "CATEGORIES", "LEGAL", "SimConfig", "SpreadConfig", "ScenarioConfig",
           "Kernel", "Decay", "Category", "check_seed", "as_latency", "SEED_MAX"]
