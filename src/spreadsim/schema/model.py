"""The sections of a run's world besides graph and policy (spread, scenario, content categories),
and the settings of a job of runs (seeds, baseline, deadline path, plots).

Every field is declared once here with its default, range and description
(:mod:`spreadsim.schema.fields`); ``conf/spread/default.yaml`` and ``conf/scenario/default.yaml`` are
generated from these declarations. Times are in hours throughout.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from typing import Any

from spreadsim.errors import ConfigError
from spreadsim.schema.checks import integer, mapping
from spreadsim.schema.fields import (
    Boolean,
    Choice,
    Custom,
    Hours,
    Integer,
    Number,
    Optional,
    Probability,
    Section,
    param,
    parse,
)
from spreadsim.schema.values import DECAY, KERNEL, Decay, Kernel

CATEGORIES = ("terrorist_propaganda", "hate_speech", "ip_infringement")
LEGAL = "legal"
ALL_CATEGORIES = (*CATEGORIES, LEGAL)
REMOVAL_SEMANTICS = ("cascade", "per_copy")

MAX_POSTS = 10_000_000  # posts per run (each post's state lives in memory)
MAX_SERIES_POINTS = 10_000_000  # points of the reach-over-time series of one run
MAX_HORIZON_STEPS = 1e12
#: the largest seed (run or graph): seeds are stored as 64-bit integers in the result tables
SEED_MAX = 2**63 - 1
#: paired seeds per job at most
MAX_SEEDS = 1_000_000


@dataclass(frozen=True)
class SpreadConfig:
    """Feed delay from a share to a follower's exposure: lognormal, median 2 h, sigma 1.5 (heavy
    tailed: 10% of exposures come after about 14 h, 1% after about 66 h), as response times on
    social media are; with it, reach keeps growing from minutes to days, which the removal-latency
    question is about. No attention decay; removing a post removes every share of it (cascade)."""

    kernel: Kernel = param({"dist": "lognormal", "median_h": 2.0, "sigma": 1.5},
                           "feed delay from a share to each follower's exposure (hours)", KERNEL)
    decay: Decay = param({"kind": "none"}, "attention decay of the reshare probability with the "
                         "post's age", DECAY)
    removal: str = param("cascade", "cascade: removing a post removes every share of it; per_copy: "
                         "every share has its own removal clock",
                         Choice(REMOVAL_SEMANTICS, "removal semantics"))


@dataclass(frozen=True)
class Category:
    """One content category: its share of uploads and its virality."""

    name: str
    weight: float
    share_prob: float
    decay: Decay | None = None  # None: the spread config's decay


def categories(path: str, value: Any) -> tuple[Category, ...]:
    """``{category: {weight, share_prob, decay}}`` for the illegal categories uploaded."""
    cats = []
    for name, c in mapping(path, value).items():
        f = f"{path}.{name}"
        Choice(CATEGORIES, "category")(f, name)
        cats.append(parse(CategoryFields, c, f).category(name))
    if sum(c.weight for c in cats) <= 0:
        raise ConfigError(path, {c.name: c.weight for c in cats}, "the weights must add up to more than 0")
    return tuple(cats)


@dataclass(frozen=True)
class CategoryFields:
    """The parameters of one category in ``scenario.categories``."""

    weight: float = param(1.0, "relative share of the illegal uploads", Number(lo=0.0))
    share_prob: float = param("???", "probability that a user exposed to the post reshares it",
                              Probability())
    decay: Decay | None = param(None, "attention decay of this category (null: spread.decay)",
                                Optional(DECAY))

    def category(self, name: str) -> Category:
        return Category(name, self.weight, self.share_prob, self.decay)


@dataclass(frozen=True)
class ScenarioConfig:
    """The content campaign: 20 illegal posts uploaded over the first day by 10 random accounts,
    plus 20 legal background posts by random users, followed for two weeks (horizon 336 h).

    Virality: share_prob is the probability that a user exposed to a post reshares it, per category.
    On the default graph (Barabasi-Albert n=10000 m=5, graph.seed 2018) with the default lognormal
    feed delay the epidemic threshold is about <k>/(<k^2> - <k>) = 0.038, so all three categories
    are supercritical, and mean reach per post grows with the removal latency from under 1 (15 min)
    to about 550 (never)."""

    illegal_posts: int = param(20, "illegal posts uploaded by the campaign", Integer(lo=0, hi=MAX_POSTS))
    window_h: float = param(24.0, "uploads are uniform over [0, window_h] (hours)", Hours())
    horizon_h: float = param(336.0, "the simulation ends here (hours)", Hours(lo_open=True))
    uploaders: int = param(10, "accounts that upload the illegal posts", Integer(lo=1))
    uploader_selection: str = param("random", "how the uploader accounts are chosen",
                                    Choice(("random", "top_degree"), "uploader selection"))
    categories: tuple[Category, ...] = param(
        {"terrorist_propaganda": {"weight": 1.0, "share_prob": 0.10},
         "hate_speech": {"weight": 1.0, "share_prob": 0.08},
         "ip_infringement": {"weight": 1.0, "share_prob": 0.06}},
        "illegal categories: {name: {weight, share_prob, decay}}",
        Custom(categories, "a mapping {category: {weight, share_prob, decay}} over "
               + ", ".join(CATEGORIES)))
    legal_posts: int = param(20, "legal background posts by random users (targets of wrongful "
                             "removals; untouched by deadline policies)", Integer(lo=0, hi=MAX_POSTS))
    legal_share_prob: float = param(0.05, "reshare probability of a legal post", Probability())
    series_step_h: float = param(1.0, "time step of the reach-over-time series (hours)",
                                 Hours(lo_open=True))

    def validate(self, path: str) -> None:
        if self.horizon_h < self.window_h:
            raise ConfigError(f"{path}.horizon_h", self.horizon_h,
                              f"must be >= scenario.window_h ({self.window_h:g})")
        # the series ends after the last new exposure; a step this small could never be stored
        if self.horizon_h / self.series_step_h > MAX_HORIZON_STEPS:
            raise ConfigError(f"{path}.series_step_h", self.series_step_h,
                              f"must be >= horizon_h / {MAX_HORIZON_STEPS:.0e} "
                              f"({self.horizon_h / MAX_HORIZON_STEPS:.3g} h)")


def check_seed(seed: Any, field_name: str = "seed") -> int:
    """A run seed: an integer >= 0 (0 is a seed like any other) and <= :data:`SEED_MAX`."""
    return integer(field_name, seed, lo=0, hi=SEED_MAX)


@dataclass(frozen=True)
class Plots:
    """How plots are written."""

    svg: bool = param(False, "also write every plot as SVG (PNG always)", Boolean())


def _read_coc_rounds() -> dict[str, dict[str, str]]:
    text = (resources.files("spreadsim.data") / "code_of_conduct_rounds.csv").read_text()
    return {row["round"]: row for row in csv.DictReader(text.splitlines())}


#: the EU Code of Conduct monitoring rounds a run can be set beside (``target_round``): round ->
#: its row of the shipped ``data/code_of_conduct_rounds.csv`` (the one reader of that table)
COC_ROUNDS = _read_coc_rounds()

#: what a job may export per seed (``export``; spreadsim.runs.cascades)
EXPORT_KINDS = ("none", "shares", "exposures")


@dataclass(frozen=True)
class RunSettings:
    """The settings of a job of runs, beside the world: which seeds, and what else to compute."""

    seed: int = param(0, "first run seed (0 is a seed like any other)", Integer(lo=0, hi=SEED_MAX))
    seeds: int = param(20, "paired seeds per job: seed, seed+1, ..., the same at every sweep point",
                       Integer(lo=1, hi=MAX_SEEDS))
    baseline: bool = param(True, "also run the unmoderated twin of each seed to report reach "
                           "prevented", Boolean())
    deadline_path: str = param(
        "auto", "auto: when every policy is a pure deadline (cascade semantics), compute each seed's "
        "unmoderated run once and read every point's exact result off it; off: simulate every point",
        Choice(("auto", "off"), "deadline path"))
    plots: Plots = param({"svg": False}, "plot options", Section(Plots))
    export: str = param(
        "none", "write each seed's transmission tree into the job folder (traced runs, simulated): "
        "none; shares: every share (shares.parquet, the input format of spreadsim fit); exposures: "
        "also every exposure (exposures.parquet)", Choice(EXPORT_KINDS, "export"))
    overwrite: bool = param(
        False, "replace the results of another config in hydra.sweep.dir (a sweep refuses to "
        "mix two configs in one folder)", Boolean())
    target_round: str | None = param(
        None, "the EU Code of Conduct monitoring round the results are set beside (presentation "
        "only: the tables get the round's figures as target_* columns and the answer compares "
        "with them); null: none", Optional(Choice(tuple(COC_ROUNDS), "monitoring round")))

    def validate(self, path: str) -> None:
        if self.seed + self.seeds - 1 > SEED_MAX:
            raise ConfigError("seed", self.seed, f"must be <= {SEED_MAX - self.seeds + 1} with seeds = "
                              f"{self.seeds} (the last seed, seed + seeds - 1, must be <= {SEED_MAX})")


#: the statistics of reach per post a calibration can target
CALIBRATION_STATS = ("mean", "p95")
#: the search range of a calibration when ``min``/``max`` are null: latency levers (hours), count levers
LATENCY_MAX_H = 720.0
COUNT_RANGE = (1, 256)
#: relative tolerance of a latency bisection
CALIBRATION_TOL = 1e-3


def _lever(path: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(path, value, "must be a dotted config key such as policy.latency_h or "
                          "policy.moderators")
    if not value.startswith("policy."):
        # the graph, the scenario and the spread are fixed while the lever moves
        raise ConfigError(path, value, "must be a parameter of the policy (policy.<key>), such as "
                          "policy.latency_h or policy.moderators")
    return value


@dataclass(frozen=True)
class CalibrationSettings:
    """An SLA calibration: the value of one policy lever that keeps reach per post under a target.

    A latency lever (continuous, hours) is found by bisection; an integer lever (a head-count such
    as policy.moderators) by searching the integers."""

    target: float = param("???", "reach per illegal post not to exceed", Number(lo=0.0))
    stat: str = param("mean", "mean: mean reach per post; p95: 95th percentile of reach per post, "
                      "averaged over seeds", Choice(CALIBRATION_STATS, "statistic"))
    lever: str = param("???", "the policy parameter to set: a latency (hours) or an integer lever",
                       Custom(_lever, "a dotted key policy.<key> naming a number"))
    min: int | None = param(None, "integer levers: smallest value tried (null: 1)",
                            Optional(Integer(lo=0)))
    max: float | None = param(None, "latency: upper end of the search (hours, null: 720); integer "
                              "levers: largest value tried (null: 256)",
                              Optional(Number(lo=0.0, lo_open=True)))
    tol: float = param(CALIBRATION_TOL, "latency: relative tolerance of the bisection",
                       Number(lo=0.0, lo_open=True, hi=0.5))

    def latency_max(self) -> float:
        """The upper end of a latency search (hours)."""
        return LATENCY_MAX_H if self.max is None else float(self.max)

    def count_range(self, path: str = "calibration") -> tuple[int, int]:
        """The integers a count lever may take, lowest and highest."""
        lo = COUNT_RANGE[0] if self.min is None else self.min
        hi = COUNT_RANGE[1] if self.max is None else self.max
        if isinstance(hi, float) and not hi.is_integer():
            raise ConfigError(f"{path}.max", hi, "must be an integer for an integer lever")
        if hi < lo:
            raise ConfigError(f"{path}.max", hi, f"must be an integer >= {lo}")
        return lo, int(hi)


__all__ = ["ALL_CATEGORIES", "CATEGORIES", "LEGAL", "SpreadConfig", "ScenarioConfig",
           "RunSettings", "COC_ROUNDS", "EXPORT_KINDS", "Plots", "Kernel", "Decay", "Category", "CategoryFields",
           "check_seed", "SEED_MAX",
           "MAX_SEEDS", "MAX_POSTS", "MAX_SERIES_POINTS", "CalibrationSettings", "CALIBRATION_STATS",
           "LATENCY_MAX_H", "COUNT_RANGE", "CALIBRATION_TOL"]
