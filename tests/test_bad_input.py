"""Bad input, as a matrix: every section, every numeric parameter, every named choice, unknown and
missing keys, bad files and bad seeds.

Each case checks that the error is a :class:`spreadsim.ConfigError` (or :class:`spreadsim.DataError`
for a bad file), that the message is one line, that it names the field with its full dotted path
(``scenario.window_h``) and shows the bad value's repr, and that it says what is allowed.
``tests/test_config.py`` and ``tests/test_graphs.py`` hold the hand-written cases; this file is the
systematic sweep, run through :func:`spreadsim.simulate` and :meth:`spreadsim.SimConfig.from_dict`.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest

from spreadsim import ConfigError, DataError, SimConfig, simulate
from spreadsim.graphs import build_graph, graph_seed
from spreadsim.policies import POLICIES, make_policy
from spreadsim.schema.graphs import MISSING

NAN, INF = math.nan, math.inf
DELETE = object()  # a case value meaning "remove this key"


def base() -> dict[str, Any]:
    """A valid config that sets every section explicitly (each case breaks one thing)."""
    return {
        "graph": {"kind": "random_k_out", "n": 20, "k": 2, "seed": 1},
        "spread": {"kernel": {"dist": "exponential", "rate_per_h": 0.5},
                   "decay": {"kind": "exponential", "half_life_h": 6.0},
                   "removal": "cascade"},
        "scenario": {"illegal_posts": 3, "window_h": 1.0, "horizon_h": 10.0, "uploaders": 2,
                     "uploader_selection": "random", "legal_posts": 1, "legal_share_prob": 0.1,
                     "series_step_h": 1.0,
                     "categories": {"hate_speech": {"weight": 1.0, "share_prob": 0.2}}},
        "policy": {"name": "fixed_latency", "latency_h": 1.0, "removal_prob": 1.0},
        "max_events": 100_000,
    }


def one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert msg and "\n" not in msg and "\r" not in msg, repr(msg)
    return msg


def check_config_error(exc: BaseException, field: str, value: Any, allowed: str) -> None:
    """One line: ``<field> = <repr(value)>: <what is allowed>``."""
    assert type(exc) is ConfigError, repr(exc)
    msg = one_line(exc)
    assert exc.field == field, msg
    shown = "<missing>" if value is DELETE else repr(value)
    assert msg.startswith(f"{field} = "), msg
    assert shown in msg, (shown, msg)
    assert allowed in msg.split(": ", 1)[1], (allowed, msg)


# ------------------------------------------------------------------------------------ the matrix

class Case(NamedTuple):
    path: tuple[str, ...]  # where to put ``value`` in the base config
    value: Any
    field: str  # the field the message must name
    allowed: str  # a fragment of "what is allowed"
    bad: Any = DELETE  # the value the message must show (default: ``value``)


def _set(cfg: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(cfg)
    d = cfg
    for k in path[:-1]:
        d = d[k]
    if value is DELETE:
        del d[path[-1]]
    else:
        d[path[-1]] = value
    return cfg


NOT_NUMBERS = [True, False, "abc", "", [1.0], {"x": 1}]
NONNEG = [-1.0, -1e-300, NAN, INF, -INF, *NOT_NUMBERS]  # where >= 0 (finite) is required
POS = [0, 0.0, *NONNEG]  # where > 0 is required
PROB = [1.5, 1 + 1e-12, -0.1, NAN, INF, -INF, *NOT_NUMBERS]
INTS = [1.5, NAN, INF, True, "3", [1]]  # where an integer is required (plus negatives below)


def numeric(path: tuple[str, ...], bads: list[Any], allowed: str = "must be") -> list[Case]:
    return [Case(path, v, ".".join(path), allowed, v) for v in bads]


def nested(path: tuple[str, ...], section: dict[str, Any], key: str, bads: list[Any],
           allowed: str = "must be") -> list[Case]:
    """Replace the whole section at ``path`` by ``section`` with ``key`` set to each bad value."""
    field = ".".join((*path, key))
    return [Case(path, {**section, key: v}, field, allowed, v) for v in bads]


K = ("spread", "kernel")
D = ("spread", "decay")
S = ("scenario",)
CAT = ("scenario", "categories", "hate_speech")
KERNELS = {"fixed": {"dist": "fixed", "value_h": 1.0},
           "exponential": {"dist": "exponential", "rate_per_h": 0.5},
           "lognormal": {"dist": "lognormal", "median_h": 1.0, "sigma": 1.0},
           "powerlaw": {"dist": "powerlaw", "c_h": 1.0, "gamma": 1.5}}
DECAYS = {"exponential": {"kind": "exponential", "half_life_h": 6.0},
          "powerlaw": {"kind": "powerlaw", "c_h": 1.0, "alpha": 1.0}}

CONFIG_CASES: list[Case] = [
    # ---- spread.kernel: every parameter of every delay kernel
    *nested(K, KERNELS["fixed"], "value_h", NONNEG, ">= 0"),
    *nested(K, KERNELS["exponential"], "rate_per_h", POS, "> 0"),
    *nested(K, KERNELS["lognormal"], "median_h", POS, "> 0"),
    *nested(K, KERNELS["lognormal"], "sigma", POS, "> 0"),
    *nested(K, KERNELS["powerlaw"], "c_h", POS, "> 0"),
    *nested(K, KERNELS["powerlaw"], "gamma", POS, "> 0"),
    *[Case(K, {k: v for k, v in kern.items() if k != p}, f"spread.kernel.{p}", "is required", None)
      for kern in KERNELS.values() for p in kern if p != "dist"],
    Case(K, {"rate_per_h": 0.5}, "spread.kernel.dist", "is required", None),
    Case(K, {"dist": "gamma", "rate_per_h": 0.5}, "spread.kernel.dist", "allowed: fixed, exponential",
         "gamma"),
    Case(K, {"dist": 1}, "spread.kernel.dist", "allowed:", 1),
    Case(K, {**KERNELS["exponential"], "median_h": 1.0}, "spread.kernel.median_h", "unknown key", 1.0),
    Case(K, {**KERNELS["lognormal"], "mu": 1.0}, "spread.kernel.mu", "unknown key", 1.0),
    Case(K, [1, 2], "spread.kernel", "must be a mapping", [1, 2]),
    # ---- spread.decay
    *nested(D, DECAYS["exponential"], "half_life_h", POS, "> 0"),
    *nested(D, DECAYS["powerlaw"], "c_h", POS, "> 0"),
    *nested(D, DECAYS["powerlaw"], "alpha", NONNEG, ">= 0"),
    Case(D, {"kind": "exponential"}, "spread.decay.half_life_h", "is required", None),
    Case(D, {"kind": "powerlaw", "c_h": 1.0}, "spread.decay.alpha", "is required", None),
    Case(D, {"kind": "hyperbolic"}, "spread.decay.kind", "allowed: none, exponential, powerlaw",
         "hyperbolic"),
    Case(D, {"kind": "none", "half_life_h": 3.0}, "spread.decay.half_life_h", "unknown key", 3.0),
    Case(D, "exponential", "spread.decay", "must be a mapping", "exponential"),
    # ---- spread
    Case(("spread", "removal"), "sometimes", "spread.removal", "allowed: cascade, per_copy"),
    Case(("spread", "removal"), True, "spread.removal", "allowed: cascade, per_copy"),
    Case(("spread", "latency"), 1.0, "spread.latency", "unknown key"),
    Case(("spread",), 3, "spread", "must be a mapping"),
    # ---- scenario numbers
    *numeric((*S, "illegal_posts"), [-1, *INTS], "integer >= 0"),
    *numeric((*S, "legal_posts"), [-1, *INTS], "integer >= 0"),
    *numeric((*S, "uploaders"), [0, -1, *INTS], "integer >= 1"),
    *numeric((*S, "window_h"), NONNEG, ">= 0"),
    *numeric((*S, "horizon_h"), POS, "> 0"),
    *numeric((*S, "series_step_h"), POS, "> 0"),
    *numeric((*S, "legal_share_prob"), PROB, "<= 1"),
    Case((*S, "horizon_h"), 0.5, "scenario.horizon_h", ">= scenario.window_h"),  # < window_h = 1
    # ---- scenario names and keys
    Case((*S, "uploader_selection"), "most_followers", "scenario.uploader_selection",
         "allowed: random, top_degree"),
    Case((*S, "uploader_selection"), None, "scenario.uploader_selection", "allowed:"),
    Case((*S, "uploadrs"), 3, "scenario.uploadrs", "unknown key"),
    Case((*S, "categories"), ["hate_speech"], "scenario.categories", "must be a mapping"),
    Case((*S, "categories", "spam"), {"share_prob": 0.1}, "scenario.categories.spam",
         "allowed: terrorist_propaganda", "spam"),
    Case((*S, "categories", "legal"), {"share_prob": 0.1}, "scenario.categories.legal",
         "unknown category", "legal"),
    Case((*S, "categories", "hate_speech"), {"weight": 0.0, "share_prob": 0.1}, "scenario.categories",
         "must add up to more than 0", {"hate_speech": 0.0}),
    # ---- scenario.categories.<name>
    *numeric((*CAT, "share_prob"), PROB, "<= 1"),
    *numeric((*CAT, "weight"), NONNEG, ">= 0"),
    Case((*CAT, "share_prob"), DELETE, "scenario.categories.hate_speech.share_prob", "is required", None),
    Case((*CAT, "virality"), 2.0, "scenario.categories.hate_speech.virality", "unknown key"),
    Case((*CAT, "decay"), {"kind": "exponential", "half_life_h": -1.0},
         "scenario.categories.hate_speech.decay.half_life_h", "> 0", -1.0),
    Case((*CAT, "decay"), {"kind": "linear"}, "scenario.categories.hate_speech.decay.kind", "allowed:",
         "linear"),
    Case(CAT, 0.2, "scenario.categories.hate_speech", "must be a mapping"),
    # ---- top level
    *numeric(("max_events",), [0, -1, *INTS], "integer >= 1"),
    Case(("polcy",), {"name": "none"}, "config.polcy", "unknown key"),
    Case(("graph",), "barabasi_albert", "graph", "must be a mapping"),
    Case(("policy",), 3, "policy", "must be a policy mapping or a list"),
    Case(("policy",), [{"name": "none"}, "fixed_latency"], "policy[1]", "must be a mapping",
         "fixed_latency"),
]


def _ids(cases: list[Case]) -> list[str]:
    return [f"{c.field}={c.bad if c.bad is not DELETE else c.value!r}"[:80] for c in cases]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=_ids(CONFIG_CASES))
def test_config_section_rejected(case: Case) -> None:
    cfg = _set(base(), case.path, case.value)
    bad = case.value if case.bad is DELETE else case.bad
    with pytest.raises(ConfigError) as from_dict:
        SimConfig.from_dict(cfg)
    check_config_error(from_dict.value, case.field, bad, case.allowed)
    with pytest.raises(ConfigError) as run:
        simulate(cfg, seed=0)
    assert str(run.value) == str(from_dict.value)


def test_base_config_is_valid() -> None:
    """The matrix breaks one thing at a time in a config that runs."""
    r = simulate(base(), seed=0)
    assert r.summary["posts"] == 3
    for name, kern in KERNELS.items():
        for decay in [*DECAYS.values(), {"kind": "none"}]:
            r = simulate(_set(_set(base(), K, kern), D, decay), seed=0)
            assert r.summary["legal_posts"] == 1, name


@pytest.mark.parametrize("value", [0.5, 0.0, INF])
def test_non_config_values_that_look_bad_but_are_allowed(value: float) -> None:
    """The boundaries: a fixed delay of 0, a window of 0 and an infinite latency are allowed."""
    cfg = _set(_set(base(), K, {"dist": "fixed", "value_h": 0.0}), (*S, "window_h"), 0.0)
    cfg["policy"]["latency_h"] = value
    simulate(cfg, seed=0)


def test_config_not_a_mapping() -> None:
    with pytest.raises(ConfigError) as exc:
        simulate([("graph", {})], seed=0)  # type: ignore[arg-type]
    check_config_error(exc.value, "config", [("graph", {})], "must be a mapping")


# ------------------------------------------------------------------------------------ graph section

G = ("graph",)
GRAPH_CASES: list[Case] = [
    Case((*G, "kind"), "small_world", "graph.kind", "must be one of barabasi_albert"),
    Case((*G, "kind"), DELETE, "graph.kind", "must be one of"),
    Case((*G, "kid"), 3, "graph.kid", "unknown key for graph kind 'random_k_out'"),
    Case((*G, "n"), "???", "graph.n", "required for graph kind 'random_k_out'", MISSING),
    *numeric((*G, "n"), [-1, 0, 1, 1.5, True, "20", NAN], "integer >= 2"),
    *numeric((*G, "k"), [0, -1, 2.5, False, INF], "integer >= 1"),
    Case((*G, "k"), 20, "graph.k", "must be <= graph.n - 1"),
    *numeric((*G, "seed"), [-1, 1.5, True, "1"], "integer >= 0"),
    Case((*G, "name"), {"a": 3}, "graph.name", "must be a string"),
]


@pytest.mark.parametrize("case", GRAPH_CASES, ids=_ids(GRAPH_CASES))
def test_graph_section_rejected(case: Case) -> None:
    cfg = _set(base(), case.path, case.value)
    bad = case.value if case.bad is DELETE else case.bad
    with pytest.raises(ConfigError) as exc:
        simulate(cfg, seed=0)
    check_config_error(exc.value, case.field, bad, case.allowed)


# ------------------------------------------------------------------------------------ policies

POLICY_BASE: dict[str, dict[str, Any]] = {
    "none": {},
    "fixed_latency": {"latency_h": 1.0},
    "latency_distribution": {"dist": "exponential", "half_life_h": 1.0},
    "notice_and_takedown": {},
    "authority_referral": {},
    "circuit_breaker": {},
    "automated_detection": {},
    "reupload": {"delay": 1.0},
    "hash_matching": {},
    "account_strikes": {},
}

DURATION = {"dist": "lognormal", "median_h": 1.0, "sigma": 1.0}

# (policy name, extra keys, field, bad value, allowed): one out-of-range number or bad name each,
# at least one per policy; unknown keys are added for every policy below
POLICY_BAD: list[tuple[str, dict[str, Any], str, Any, str]] = [
    ("fixed_latency", {"latency_h": -1.0}, "policy.latency_h", -1.0, "or 'inf' (never)"),
    ("fixed_latency", {"latency_h": NAN}, "policy.latency_h", NAN, ">= 0"),
    ("fixed_latency", {"latency_h": -INF}, "policy.latency_h", -INF, ">= 0"),
    ("fixed_latency", {"latency_h": "soon"}, "policy.latency_h", "soon", ">= 0"),
    ("fixed_latency", {"latency_h": None}, "policy.latency_h", None, ">= 0"),
    ("fixed_latency", {"removal_prob": 1.5}, "policy.removal_prob", 1.5, "<= 1"),
    ("fixed_latency", {"removal_prob": True}, "policy.removal_prob", True, "<= 1"),
    ("fixed_latency", {"applies_to": "legal"}, "policy.applies_to", "legal", "allowed: illegal, all"),
    ("fixed_latency", {"categories": {"spam": {"latency_h": 1.0}}}, "policy.categories.spam", "spam",
     "allowed: terrorist_propaganda"),
    ("fixed_latency", {"categories": {"legal": {"removal_prob": -0.5}}},
     "policy.categories.legal.removal_prob", -0.5, ">= 0"),
    ("fixed_latency", {"categories": {"legal": {"latncy_h": 1}}}, "policy.categories.legal.latncy_h", 1,
     "unknown key"),
    ("latency_distribution", {"dist": "weibull"}, "policy.dist", "weibull", "allowed: fixed, exponential"),
    ("latency_distribution", {"dist": None}, "policy.dist", None, "allowed: fixed, exponential"),
    ("latency_distribution", {"half_life_h": 0.0}, "policy.half_life_h", 0.0, "> 0"),
    ("latency_distribution", {"half_life_h": INF}, "policy.half_life_h", INF, "> 0"),
    ("latency_distribution", {"half_life_h": None}, "policy.half_life_h", None, "is required"),
    ("latency_distribution", {"dist": "lognormal", "half_life_h": DELETE, "median_h": 0, "sigma": 1},
     "policy.median_h", 0, "> 0"),
    ("latency_distribution", {"dist": "lognormal", "half_life_h": DELETE, "median_h": 1, "sigma": -1},
     "policy.sigma", -1, ">= 0"),
    ("latency_distribution", {"dist": "lognormal", "half_life_h": DELETE, "median_h": 1, "sigma": NAN},
     "policy.sigma", NAN, ">= 0"),
    ("latency_distribution", {"dist": "lognormal", "median_h": 1, "sigma": 1}, "policy.half_life_h", 1.0,
     "does not apply to dist 'lognormal'"),
    ("latency_distribution", {"removal_prob": NAN}, "policy.removal_prob", NAN, "<= 1"),
    ("latency_distribution", {"dist": "empirical", "half_life_h": DELETE}, "policy.path", None,
     "is required"),
    ("notice_and_takedown", {"moderators": 0}, "policy.moderators", 0, "integer >= 1"),
    ("notice_and_takedown", {"moderators": 2.5}, "policy.moderators", 2.5, "integer >= 1"),
    ("notice_and_takedown", {"notice_prob": 1.5}, "policy.notice_prob", 1.5, "<= 1"),
    ("notice_and_takedown", {"notice_prob": {"spam": 0.1}}, "policy.notice_prob.spam", "spam",
     "allowed:"),
    ("notice_and_takedown", {"notice_threshold": 0}, "policy.notice_threshold", 0, "integer >= 1"),
    ("notice_and_takedown", {"removal_prob": {"hate_speech": -0.1}}, "policy.removal_prob.hate_speech",
     -0.1, ">= 0"),
    ("notice_and_takedown", {"legal_removal_prob": INF}, "policy.legal_removal_prob", INF, "<= 1"),
    ("notice_and_takedown", {"renotify": "yes"}, "policy.renotify", "yes", "true or false"),
    ("notice_and_takedown", {"deadline_h": 0.0}, "policy.deadline_h", 0.0, "> 0"),
    ("notice_and_takedown", {"review_time": {"dist": "exponential", "mean_h": 0.0}},
     "policy.review_time.mean_h", 0.0, "> 0"),
    ("notice_and_takedown", {"review_time": {"dist": "lognormal", "median_h": 1.0, "sigma": -1.0}},
     "policy.review_time.sigma", -1.0, ">= 0"),
    # bounded where sampling would overflow float64 (median * exp(sigma * z), mean * exp(sigma^2 / 2))
    ("notice_and_takedown", {"review_time": {"dist": "lognormal", "median_h": 1.0, "sigma": 1000}},
     "policy.review_time.sigma", 1000, "<= 20"),
    ("notice_and_takedown", {"review_time": {"dist": "lognormal", "median_h": 1e308, "sigma": 1.0}},
     "policy.review_time.median_h", 1e308, "<= 1e+09"),
    ("reupload", {"delay": 1e300}, "policy.delay", 1e300, "<= 1e+09"),
    ("notice_and_takedown", {"review_time": {"dist": "gamma"}}, "policy.review_time.dist", "gamma",
     "allowed: fixed, exponential, lognormal"),
    ("notice_and_takedown", {"review_time": -2.0}, "policy.review_time", -2.0, ">= 0"),
    ("notice_and_takedown", {"review_time": {**DURATION, "mode_h": 1}}, "policy.review_time.mode_h", 1,
     "unknown key"),
    ("notice_and_takedown", {"shifts": {"start_h": 24}}, "policy.shifts.start_h", 24, "< 24"),
    ("notice_and_takedown", {"shifts": {"start_h": 8, "end_h": 25}}, "policy.shifts.end_h", 25, "<= 24"),
    ("notice_and_takedown", {"shifts": {"start_h": 8, "end_h": 8}}, "policy.shifts.end_h", 8.0,
     "must differ from start_h"),
    ("notice_and_takedown", {"trusted_flaggers": {"fraction": 2}}, "policy.trusted_flaggers.fraction", 2,
     "<= 1"),
    ("notice_and_takedown", {"trusted_flaggers": {"notice_weight": -1}},
     "policy.trusted_flaggers.notice_weight", -1, ">= 0"),
    ("notice_and_takedown", {"trusted_flaggers": {"priority": -1}}, "policy.trusted_flaggers.priority",
     -1, "integer >= 0"),
    ("notice_and_takedown", {"trusted_flaggers": {"share": 0.1}}, "policy.trusted_flaggers.share", 0.1,
     "unknown key"),
    ("authority_referral", {"referral_prob": 2.0}, "policy.referral_prob", 2.0, "<= 1"),
    ("authority_referral", {"deadline_h": 0}, "policy.deadline_h", 0, "> 0"),
    ("authority_referral", {"deadline_h": INF}, "policy.deadline_h", INF, "> 0"),
    ("authority_referral", {"order_compliance": NAN}, "policy.order_compliance", NAN, "<= 1"),
    ("authority_referral", {"priority": -1}, "policy.priority", -1, "integer >= 0"),
    ("authority_referral", {"categories": ["legal"]}, "policy.categories[0]", "legal", "allowed:"),
    ("authority_referral", {"categories": 3}, "policy.categories", 3, "must be a category or a list"),
    ("authority_referral", {"delay": {"dist": "fixed", "value_h": -1}}, "policy.delay.value_h", -1, ">= 0"),
    ("circuit_breaker", {"threshold": 0}, "policy.threshold", 0, "integer >= 1"),
    ("circuit_breaker", {"window_h": 0.0}, "policy.window_h", 0.0, "> 0"),
    ("circuit_breaker", {"factor": 1.5}, "policy.factor", 1.5, "<= 1"),
    ("circuit_breaker", {"applies_to": "legal"}, "policy.applies_to", "legal", "allowed: all, illegal"),
    ("circuit_breaker", {"removal_prob": -1}, "policy.removal_prob", -1, ">= 0"),
    ("circuit_breaker", {"priority": 0.5}, "policy.priority", 0.5, "integer >= 0"),
    ("automated_detection", {"recall": 1.5}, "policy.recall", 1.5, "<= 1"),
    ("automated_detection", {"precision": 0.0}, "policy.precision", 0.0, "must be > 0 when recall > 0"),
    ("automated_detection", {"reach_thresholds": [10, 0]}, "policy.reach_thresholds[1]", 0, "integer >= 1"),
    ("automated_detection", {"reach_thresholds": 10}, "policy.reach_thresholds", 10, "must be a list"),
    ("automated_detection", {"at_upload": False}, "policy.reach_thresholds", [], "nothing would be scanned"),
    ("automated_detection", {"at_upload": "yes"}, "policy.at_upload", "yes", "true or false"),
    ("automated_detection", {"action": "ban"}, "policy.action", "ban", "allowed: remove, review"),
    ("automated_detection", {"review_error": -0.1}, "policy.review_error", -0.1, ">= 0"),
    ("automated_detection", {"delay": NAN}, "policy.delay", NAN, ">= 0"),
    ("automated_detection", {"categories": {"legal": {"recall": 0.5}}}, "policy.categories.legal", "legal",
     "unknown illegal category"),
    ("automated_detection", {"categories": {"hate_speech": {"recall": 2}}},
     "policy.categories.hate_speech.recall", 2, "<= 1"),
    ("reupload", {"delay": {"mean_h": 1.0}}, "policy.delay.dist", None, "is required"),
    ("reupload", {"delay": -1.0}, "policy.delay", -1.0, ">= 0"),
    ("reupload", {"reupload_prob": 2}, "policy.reupload_prob", 2, "<= 1"),
    ("reupload", {"max_reuploads": -1}, "policy.max_reuploads", -1, "integer >= 0"),
    ("reupload", {"new_account_prob": INF}, "policy.new_account_prob", INF, "<= 1"),
    ("reupload", {"altered_prob": -0.5}, "policy.altered_prob", -0.5, ">= 0"),
    ("reupload", {"retry_blocked": 1}, "policy.retry_blocked", 1, "true or false"),
    ("hash_matching", {"recall": 2}, "policy.recall", 2, "<= 1"),
    ("hash_matching", {"recall_altered": -1}, "policy.recall_altered", -1, ">= 0"),
    ("hash_matching", {"sync_delay": NAN}, "policy.sync_delay", NAN, ">= 0"),
    ("hash_matching", {"sync_delay": {"dist": "exponential", "mean_h": -1}}, "policy.sync_delay.mean_h", -1,
     "> 0"),
    ("account_strikes", {"strikes": 0}, "policy.strikes", 0, "integer >= 1"),
    ("account_strikes", {"strikes": True}, "policy.strikes", True, "integer >= 1"),
    ("account_strikes", {"return_delay": -24}, "policy.return_delay", -24, ">= 0"),
]


def _policy_cfg(name: str, extra: dict[str, Any]) -> dict[str, Any]:
    cfg = {"name": name, **POLICY_BASE[name]}
    for k, v in extra.items():
        if v is DELETE:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    return cfg


def test_every_registered_policy_is_covered() -> None:
    """A new policy must get cases here (and a base config that builds)."""
    assert set(POLICY_BASE) == set(POLICIES)
    names_with_numbers = {name for name, *_ in POLICY_BAD}
    assert names_with_numbers == set(POLICIES) - {"none"}  # ``none`` has no parameters
    for name in POLICIES:
        assert make_policy(_policy_cfg(name, {})).name == name


@pytest.mark.parametrize("name", sorted(POLICY_BASE))
def test_policy_unknown_key(name: str) -> None:
    cfg = _policy_cfg(name, {"latncy_h": 3})
    with pytest.raises(ConfigError) as exc:
        make_policy(cfg)
    check_config_error(exc.value, "policy.latncy_h", 3, "unknown key; allowed: name")


@pytest.mark.parametrize(("name", "extra", "field", "bad", "allowed"), POLICY_BAD,
                         ids=[f"{n}:{f}={b!r}" for n, _, f, b, _ in POLICY_BAD])
def test_policy_bad_value(name: str, extra: dict[str, Any], field: str, bad: Any, allowed: str) -> None:
    with pytest.raises(ConfigError) as exc:
        make_policy(_policy_cfg(name, extra))
    check_config_error(exc.value, field, bad, allowed)
    # inside a stack, the field is the list entry's
    with pytest.raises(ConfigError) as exc:
        make_policy(_policy_cfg(name, extra), "policy[1]")
    check_config_error(exc.value, field.replace("policy", "policy[1]", 1), bad, allowed)


@pytest.mark.parametrize("name", [None, "takedown", 3])
def test_policy_name(name: Any) -> None:
    cfg = {} if name is None else {"name": name}
    with pytest.raises(ConfigError) as exc:
        make_policy(cfg)
    if name is None:
        check_config_error(exc.value, "policy.name", None, "is required")
    else:
        check_config_error(exc.value, "policy.name", name, "unknown policy; allowed: ")
        assert all(n in str(exc.value) for n in POLICIES)


def test_policy_errors_through_simulate() -> None:
    cfg = base()
    cfg["policy"] = [{"name": "none"}, {"name": "fixed_latency", "latency_h": -1}]
    with pytest.raises(ConfigError) as exc:
        simulate(cfg, seed=0)
    check_config_error(exc.value, "policy[1].latency_h", -1, ">= 0")
    cfg["policy"] = {"name": "circuit_breaker"}  # needs notice_and_takedown's review queue
    with pytest.raises(ConfigError) as exc:
        simulate(cfg, seed=0)
    check_config_error(exc.value, "policy", "circuit_breaker", "needs a review queue")


# ------------------------------------------------------------------------------------ edge lists

def _edgelist_cfg(path: Path) -> dict[str, Any]:
    cfg = base()
    cfg["graph"] = {"kind": "edgelist", "path": str(path)}
    cfg["scenario"]["uploaders"] = 1
    return cfg


def _data_error(cfg: dict[str, Any], path: Path, *fragments: str) -> str:
    with pytest.raises(DataError) as exc:
        simulate(cfg, seed=0)
    msg = one_line(exc.value)
    assert str(path) in msg, msg
    for f in fragments:
        assert f in msg, (f, msg)
    return msg


def test_edgelist_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.txt"
    _data_error(_edgelist_cfg(path), path, "file not found")


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n% another\n"])
def test_edgelist_empty_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.txt"
    path.write_text(text)
    _data_error(_edgelist_cfg(path), path, "no edges")


@pytest.mark.parametrize("data", [b"\x00\x01\x02\x03", b"1 2\n\xff\xfe\x80 3\n", bytes(range(256))])
def test_edgelist_binary_file(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "edges.bin"
    path.write_bytes(data)
    _data_error(_edgelist_cfg(path), path, "looks binary")


@pytest.mark.parametrize(("text", "lineno"), [
    ("1 2\n2 3\n4\n", 3),  # one column
    ("# header\n1 2\n\n2 3 0.5\n", 4),  # a weight column (weights: error)
    ("1 2\r\n2 x y\r\n", 2),  # string labels with three columns
    ("1 2\n" * 9 + "1 2 3 4\n", 10),
])
def test_edgelist_malformed_line(tmp_path: Path, text: str, lineno: int) -> None:
    path = tmp_path / "edges.txt"
    path.write_text(text)
    msg = _data_error(_edgelist_cfg(path), path, f"line {lineno}:", "expected 2 columns")
    assert f"line {lineno}:" in msg


def test_edgelist_self_loops_and_duplicates_dropped_and_counted(tmp_path: Path) -> None:
    """Self-loops are dropped and repeated edges collapsed; both counted on the Graph, and the
    simulation runs on what is left."""
    path = tmp_path / "edges.txt"
    path.write_text("1 2\n2 2\n1 2\n2 3\n3 3\n2 3\n3 1\n")
    g = build_graph({"kind": "edgelist", "path": str(path)}, 0)
    assert (g.n, g.num_arcs, g.dropped_self_loops, g.dropped_duplicates) == (3, 3, 2, 2)
    und = build_graph({"kind": "edgelist", "path": str(path), "directed": False}, 0)
    # undirected: 3 1 is the edge 1-3, new; "1 2" twice and "2 3" twice are duplicates
    assert (und.num_edges, und.dropped_self_loops, und.dropped_duplicates) == (3, 2, 2)
    r = simulate(_edgelist_cfg(path), seed=0)
    assert (r.posts["reach"] <= 2).all()
    path.write_text("1 1\n2 2\n")
    _data_error(_edgelist_cfg(path), path, "only self-loops")


def test_edgelist_bad_options(tmp_path: Path) -> None:
    path = tmp_path / "edges.txt"
    path.write_text("1 2\n")
    for key, value in [("directed", "yes"), ("edge_meaning", "likes"), ("weights", "sum")]:
        cfg = _edgelist_cfg(path)
        cfg["graph"][key] = value
        with pytest.raises(ConfigError) as exc:
            simulate(cfg, seed=0)
        check_config_error(exc.value, f"graph.{key}", value, "must be")


# ------------------------------------------------------------------------------------ delay CSVs

def _empirical(path: Path, column: str | None = None) -> dict[str, Any]:
    cfg = base()
    cfg["policy"] = {"name": "latency_distribution", "dist": "empirical", "path": str(path)}
    if column is not None:
        cfg["policy"]["column"] = column
    return cfg


@pytest.mark.parametrize(("text", "lineno", "value"), [
    ("delay_h\n0.5\n2\n-3\n", 4, "'-3'"),
    ("id,delay_h\n1,0.5\n\n2,-0.001\n", 4, "'-0.001'"),
    ("delay_h\n0.5\nnan\n", 3, "'nan'"),
    ("delay_h\n-inf\n", 2, "'-inf'"),
    ("delay_h\nsoon\n", 2, "'soon'"),
])
def test_delay_csv_bad_value_names_the_line(tmp_path: Path, text: str, lineno: int, value: str) -> None:
    path = tmp_path / "delays.csv"
    path.write_text(text)
    msg = _data_error(_empirical(path, "delay_h"), path, f"line {lineno}:", f"delay_h = {value}")
    assert ">= 0" in msg or "not a number" in msg


def test_delay_csv_empty_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "delays.csv"
    path.write_text("")
    _data_error(_empirical(path), path, "empty")
    path.write_text("delay_h\n\n")
    _data_error(_empirical(path), path, "no delays")
    path.write_text("delay_h\n1.0\n")
    with pytest.raises(ConfigError) as exc:
        simulate(_empirical(path, "hours"), seed=0)
    check_config_error(exc.value, "policy.column", "hours", "not a column")
    missing = tmp_path / "missing.csv"
    with pytest.raises(ConfigError) as exc:
        simulate(_empirical(missing), seed=0)
    check_config_error(exc.value, "policy.path", str(missing), "file not found")


def test_delay_csv_line_number_counts_comment_lines(tmp_path: Path) -> None:
    path = tmp_path / "delays.csv"
    path.write_text("# exported 2024-01-01\ndelay_h\n0.5\n-1\n")  # -1 is on line 4
    _data_error(_empirical(path), path, "line 4:")


def test_delay_csv_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "delays.csv"
    path.write_bytes(b"\xff\xfe\x00\x01\x80\x81")
    _data_error(_empirical(path), path, "binary")


# ------------------------------------------------------------------------------------ seeds

@pytest.mark.parametrize("seed", [-1, -(2**40), 1.5, NAN, INF, True, False, "1", None, [0]])
def test_bad_run_seed(seed: Any) -> None:
    with pytest.raises(ConfigError) as exc:
        simulate(base(), seed=seed)
    check_config_error(exc.value, "seed", seed, "integer >= 0")


def test_seed_zero_is_honoured() -> None:
    """0 is a seed like any other: it is used (not replaced by a default), stable, and distinct."""
    cfg = base()
    cfg["graph"]["seed"] = None  # the graph follows the run seed too
    a, b, c = simulate(cfg, seed=0), simulate(cfg, seed=0), simulate(cfg, seed=1)
    assert a.seed == 0
    for col in a.posts:
        np.testing.assert_array_equal(a.posts[col], b.posts[col], err_msg=col)
    assert not np.array_equal(a.posts["upload_time_h"], c.posts["upload_time_h"])
    # graph.seed: 0 pins the graph whatever the run seed; null derives it from the run seed
    rko = {"kind": "random_k_out", "n": 50, "k": 2}
    assert graph_seed({**rko, "seed": 0}, 5) == graph_seed({**rko, "seed": 0}, 6) == 0
    assert graph_seed({**rko, "seed": None}, 0) != graph_seed({**rko, "seed": None}, 1)
    g0 = build_graph({"kind": "random_k_out", "n": 50, "k": 2, "seed": 0}, 123)
    g1 = build_graph({"kind": "random_k_out", "n": 50, "k": 2, "seed": None}, 0)
    np.testing.assert_array_equal(g0.indices, g1.indices)


def test_integral_float_seed_accepted() -> None:
    assert simulate(base(), seed=3.0).seed == 3


def test_numpy_integer_seed_accepted() -> None:
    assert simulate(base(), seed=np.int64(0)).seed == 0


# ------------------------------------------------------------------------------------ found bugs

def test_numpy_bool_rejected_where_a_number_goes() -> None:
    cfg = _set(base(), (*CAT, "share_prob"), np.True_)
    with pytest.raises(ConfigError):
        SimConfig.from_dict(cfg)


@pytest.mark.parametrize(("path", "value"), [
    (("max_events",), 1e30),
    ((*S, "illegal_posts"), 10**30),
    ((*S, "series_step_h"), 1e-300),
])
def test_huge_values_rejected_by_validation(path: tuple[str, ...], value: Any) -> None:
    cfg = _set(base(), path, value)
    with pytest.raises(ConfigError) as exc:
        simulate(cfg, seed=0)
    assert exc.value.field == ".".join(path)


def test_a_review_time_that_would_overflow_is_refused_before_running() -> None:
    """``{dist: lognormal, median_h: 1e308, sigma: 1000}`` once passed the schema and raised
    OverflowError in the engine; the job check (the command line's) now refuses it in one line."""
    from spreadsim.runs.jobspec import check_job_config

    cfg = {**base(), "policy": {"name": "notice_and_takedown",
                                "review_time": {"dist": "lognormal", "median_h": 1e308, "sigma": 1000}}}
    with pytest.raises(ConfigError) as exc:
        check_job_config(cfg)
    check_config_error(exc.value, "policy.review_time.median_h", 1e308, "<= 1e+09")
    cfg["policy"]["review_time"]["median_h"] = 1e9  # the largest median, with the largest sigma: runs
    cfg["policy"]["review_time"]["sigma"] = 20
    assert simulate(cfg, seed=0).summary["posts"] > 0


STACKS = {
    "referral alone": ([{"name": "authority_referral"}], ("policy", "authority_referral", "needs a review queue")),
    "referral before the moderators": ([{"name": "authority_referral"}, {"name": "notice_and_takedown"}],
                                       ("policy[0]", "authority_referral", "needs a review queue")),
    "two moderator policies": ([{"name": "notice_and_takedown"}, {"name": "notice_and_takedown"}],
                               ("policy[1].name", "notice_and_takedown", "only one policy")),
    "detection review alone": ([{"name": "automated_detection", "action": "review"}],
                               ("policy.action", "review", "needs a review queue")),
    # detection takes the queue once the whole stack is bound: before the moderators is fine
    "detection review first": ([{"name": "automated_detection", "action": "review"},
                                {"name": "notice_and_takedown"}], None),
    "breaker after the moderators": ([{"name": "notice_and_takedown"}, {"name": "circuit_breaker"}], None),
}


@pytest.mark.parametrize("name", list(STACKS))
def test_stack_rules_found_before_any_simulation(name: str) -> None:
    """check_job_config (what a sweep runs before its jobs) gives the error binding gives."""
    from spreadsim.runs.jobspec import check_job_config

    stack, want = STACKS[name]
    cfg = base()
    cfg["policy"] = stack if len(stack) > 1 else stack[0]
    cfg["scenario"]["legal_posts"] = 20  # (detection's precision needs legal posts)
    if want is None:
        check_job_config(cfg)
        simulate(cfg, seed=0)
        return
    with pytest.raises(ConfigError) as before:
        check_job_config(cfg)
    check_config_error(before.value, *want)
    with pytest.raises(ConfigError) as bound:
        simulate(cfg, seed=0)
    assert str(bound.value) == str(before.value)
