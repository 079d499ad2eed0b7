"""The engine's rules (issue 16's bugs): each test pins one rule of docs/design.md, "The engine's
rules"."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from spreadsim import SimConfig, simulate
from spreadsim.engine.records import Attempt
from spreadsim.engine.simulation import Simulation
from spreadsim.policies import Policy, make_policies
from spreadsim.schema.model import ALL_CATEGORIES, CATEGORIES

from .helpers import config, digraph

CHAIN = [(0, 1), (1, 2), (2, 3)]


# --------------------------------------------------------------------------- stacked clocks

@pytest.mark.parametrize("removal", ["cascade", "per_copy"])
def test_stacked_pre_decided_policies_the_earliest_removal_wins(removal):
    """Bug 1: stacked pre-decided policies, whatever their order: the earliest removal wins (per
    post under cascade, per copy under per_copy). On a chain with 1 h hops, a 0.5 h latency
    alone gives reach 0, and so does any stack that holds it."""
    g = digraph(CHAIN)
    short = {"name": "fixed_latency", "latency_h": 0.5}
    long = {"name": "fixed_latency", "latency_h": 100.0}
    for stack in (short, [short, long], [long, short], [long, short, long]):
        r = simulate(config(policy=stack, removal=removal), seed=0, graph=g)
        assert r.posts["reach"].tolist() == [0], stack
    # a clock that lets every hop through, stacked with one that does not: the copy goes at the
    # earlier one (per_copy: 1.5 h after each share lets 1 h hops through, 0.5 h does not)
    if removal == "per_copy":
        mid = {"name": "fixed_latency", "latency_h": 1.5}
        assert simulate(config(policy=mid, removal=removal), seed=0, graph=g).posts["reach"].tolist() == [3]
        for stack in ([mid, short], [short, mid]):
            assert simulate(config(policy=stack, removal=removal), seed=0,
                            graph=g).posts["reach"].tolist() == [0]


# --------------------------------------------------------------------------- the tie rule

@pytest.mark.parametrize("removal", ["cascade", "per_copy"])
def test_the_tie_at_the_removal_time_does_not_depend_on_float_sums(removal):
    """Bug 2: an exposure due at the removal time never happens, whatever the order of the float
    sums that gave both times. Fixed feed delay 0.1 h, latency 0.3 h, the upload at a random time
    in [0, 10) h: the third hop is due at the removal time (cascade: reach 2 for every seed;
    per_copy, 0.1 h hops under 0.3 h clocks: reach 3)."""
    g = digraph(CHAIN)
    cfg = config(kernel={"dist": "fixed", "value_h": 0.1}, window_h=10.0, removal=removal,
                 policy={"name": "fixed_latency", "latency_h": 0.3})
    reach = {int(simulate(cfg, seed=s, graph=g).posts["reach"][0]) for s in range(40)}
    assert reach == ({2} if removal == "cascade" else {3})


def test_the_tie_rule_is_a_relative_tolerance():
    """The rule as documented: an exposure at t is void when t >= R * (1 - TIE_REL) of its
    post's removal time R; one at R * (1 - 3 TIE_REL) happens."""
    from spreadsim.engine.kernel import TIE_REL, removal_cut

    assert TIE_REL == 1e-9
    for r in (0.3, 7.0000001, 1234.5):
        assert removal_cut(r) == r * (1.0 - TIE_REL)
        assert r * (1 - 3 * TIE_REL) < removal_cut(r) < r
    assert removal_cut(float("inf")) == float("inf") and removal_cut(0.0) == 0.0
    # a removal 0.3 h after an upload at t0 voids the third 0.1 h hop, summed in any order
    for t0 in (0.7, 3.3, 9.1):
        r = t0 + 0.3
        for te in (((t0 + 0.1) + 0.1) + 0.1, t0 + (0.1 + (0.1 + 0.1)), t0 + 0.3):
            assert te >= removal_cut(r)


# --------------------------------------------------------------------------- policy draws

class _Blocker(Policy):
    """Blocks the upload of content ``cid`` (if set): the posts after it get other ids."""

    name = "blocker"

    def __init__(self, cid: int | None) -> None:
        super().__init__({}, "blocker")
        self.cid = cid

    def on_upload_attempt(self, attempt: Attempt) -> bool:
        return attempt.content_id != self.cid


def _moderated(blocked: int | None) -> tuple[Simulation, Any]:
    cfg = SimConfig.from_dict({
        "graph": {"kind": "barabasi_albert", "n": 300, "m": 3, "seed": 5},
        "spread": {"kernel": {"dist": "lognormal", "median_h": 1.0, "sigma": 1.0}},
        "scenario": {"illegal_posts": 12, "uploaders": 4, "window_h": 12.0, "horizon_h": 48.0,
                     "legal_posts": 6, "legal_share_prob": 0.1},
        "policy": [
            # plenty of moderators and fixed reviews: no post waits for another's review
            {"name": "notice_and_takedown", "moderators": 1000, "review_time": 0.5,
             "notice_prob": {c: 0.05 for c in ALL_CATEGORIES}, "removal_prob": 0.5,
             "legal_removal_prob": 0.5},
            {"name": "authority_referral", "categories": list(CATEGORIES), "referral_prob": 0.5,
             "order_compliance": 0.5},
            {"name": "circuit_breaker", "threshold": 3, "window_h": 2.0, "removal_prob": 0.5,
             "legal_removal_prob": 0.5}]})
    # the blocker last: the other policies keep their streams (policy:<index>:<name>)
    sim = Simulation(cfg, 3, policies=[*make_policies(cfg.policies), _Blocker(blocked)])
    return sim, sim.run()


def _by_content(sim: Simulation, table: dict[str, np.ndarray], cols: tuple[str, ...]) -> set:
    cid = {p.id: (p.content_id, p.copy) for p in sim.posts}
    def value(col: np.ndarray, i: int) -> Any:
        x = col[i].item()
        return None if isinstance(x, float) and np.isnan(x) else x

    return {(cid[int(q)], *(value(table[c], i) for c in cols)) for i, q in enumerate(table["post_id"])}


def test_moderation_draws_belong_to_content_and_copy_not_post_ids():
    """Bug 3: every policy draw is keyed by the post's content and copy, not its id (which shifts
    when an upload is blocked). Blocking the first upload leaves every other post's notices,
    review decisions, referrals and trips, and so its removal, exactly as they were."""
    sim_a, a = _moderated(None)
    sim_b, b = _moderated(0)
    assert len(sim_b.posts) == len(sim_a.posts) - 1 and sim_b.blocked
    tabs = {"notices": ("user", "notice_time_h", "decision_time_h", "removed", "round"),
            "orders": ("issued_h", "decision_time_h", "removal_time_h"),
            "trips": ("trip_time_h", "decision_time_h", "removed")}
    name = {"notices": "policy0_notice_and_takedown_notices",
            "orders": "policy1_authority_referral_orders", "trips": "policy2_circuit_breaker_trips"}
    for t, cols in tabs.items():
        rows_a = {r for r in _by_content(sim_a, a.tables[name[t]], cols) if r[0][0] != 0}
        rows_b = _by_content(sim_b, b.tables[name[t]], cols)
        assert rows_a, t  # something to compare
        assert rows_b == rows_a, t
    removed_a = {(p.content_id, float(a.posts["removal_time_h"][p.id])) for p in sim_a.posts
                 if p.content_id != 0}
    removed_b = {(p.content_id, float(b.posts["removal_time_h"][p.id])) for p in sim_b.posts}
    assert str(sorted(removed_b)) == str(sorted(removed_a))
    assert a.summary["policy0_notice_and_takedown_reviews_removed"] > 0


# --------------------------------------------------------------------------- per-copy clocks

def _one_hop_posts(policy: Any, posts: int = 400, **kw: Any) -> Any:
    """``posts`` posts of user 0, each seen by user 1 one hour after upload (per_copy)."""
    return simulate(config(policy=policy, removal="per_copy", posts=posts, window_h=10.0, **kw),
                    seed=0, graph=digraph([(0, 1)]))


def test_per_copy_clocks_are_drawn_from_each_policys_own_stream():
    """Bug 4: a per-copy clock is drawn from its policy's own stream (keyed by content, copy and
    sharer), not from the post's spread stream: two stacked policies that each remove half of
    the copies 0.5 h after their share draw independent coins, so together they remove three
    quarters of the copies (shared draws would remove the same half twice)."""
    half = {"name": "fixed_latency", "latency_h": 0.5, "removal_prob": 0.5}
    one = (_one_hop_posts(half).posts["reach"] == 0).mean()
    two = (_one_hop_posts([half, half]).posts["reach"] == 0).mean()
    # 400 posts: binomial sd about 0.025
    assert abs(one - 0.5) < 0.1 and abs(two - 0.75) < 0.1, (one, two)


@pytest.mark.parametrize("dist", [{"dist": "exponential", "half_life_h": 1.0},
                                  {"dist": "lognormal", "median_h": 2.0, "sigma": 1.0}])
def test_a_policy_parameter_does_not_change_the_spread(dist):
    """A policy's parameters change which exposures are cut, never the spread itself: under
    per_copy, every exposure of a moderated run is an exposure of the unmoderated run (same time,
    user and source), and a slower removal (every clock scaled up: the same quantiles) keeps
    every exposure of a faster one."""
    cfg = {"graph": {"kind": "barabasi_albert", "n": 200, "m": 2, "seed": 1},
           "spread": {"kernel": {"dist": "lognormal", "median_h": 1.0, "sigma": 1.0},
                      "removal": "per_copy"},
           "scenario": {"illegal_posts": 6, "uploaders": 2, "window_h": 6.0, "horizon_h": 40.0,
                        "legal_posts": 0}}

    def exposures(policy: Any) -> set:
        r = simulate({**cfg, "policy": policy}, seed=2, trace=True)
        e = r.exposures
        return set(zip(e["time_h"].tolist(), e["post_id"].tolist(), e["user"].tolist(),
                       e["source"].tolist(), strict=True))

    free = exposures(None)
    fast = exposures({"name": "latency_distribution", **dist})
    slow_dist = {k: 4 * v if k.endswith("_h") else v for k, v in dist.items()}
    slow = exposures({"name": "latency_distribution", **slow_dist})
    assert fast <= slow <= free and fast < free
