"""The engine's rules (issue 16's bugs): each test pins one rule of docs/design.md, "The engine's
rules"."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from spreadsim import ConfigError, SimConfig, simulate
from spreadsim.engine.records import Attempt
from spreadsim.engine.simulation import Simulation
from spreadsim.policies import Policy, make_policies
from spreadsim.policies.review import Shifts
from spreadsim.schema.model import ALL_CATEGORIES, CATEGORIES

from .helpers import config, digraph

CHAIN = [(0, 1), (1, 2), (2, 3)]


def _draws(r: Any) -> tuple[dict, dict]:
    """The spread's draws as a traced run saw them: the feed delay of every exposure, by (post,
    sharer, follower) (its time less the time the sharer shared: the upload, or their first
    exposure), and the reshare decision of every first exposure, by (post, user). Two runs that
    differ only in removals must agree on every key they share."""
    e = r.exposures
    shared_at = {(q, int(u)): float(t) for q, (u, t) in
                 enumerate(zip(r.posts["uploader"], r.posts["upload_time_h"], strict=True))}
    for t, q, v, first, sh in zip(e["time_h"], e["post_id"], e["user"], e["first"], e["shared"],
                                  strict=True):
        if first and sh:
            shared_at[(int(q), int(v))] = float(t)
    delays = {(int(q), int(s), int(v)): round(float(t) - shared_at[(int(q), int(s))], 9)
              for t, q, v, s in zip(e["time_h"], e["post_id"], e["user"], e["source"], strict=True)}
    decisions = {(int(q), int(v)): bool(sh) for q, v, first, sh in
                 zip(e["post_id"], e["user"], e["first"], e["shared"], strict=True) if first}
    return delays, decisions


def _same_draws(a: Any, b: Any) -> int:
    """Assert that two traced runs saw the same draws where both drew; the keys in common."""
    (da, sa), (db, sb) = _draws(a), _draws(b)
    common = da.keys() & db.keys()
    assert {k: da[k] for k in common} == {k: db[k] for k in common}
    both = sa.keys() & sb.keys()
    assert {k: sa[k] for k in both} == {k: sb[k] for k in both}
    return len(common)


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


@pytest.mark.parametrize("dist", [{"dist": "exponential", "half_life_h": 3.0},
                                  {"dist": "lognormal", "median_h": 3.0, "sigma": 1.0}])
def test_a_policy_parameter_does_not_change_the_spread(dist):
    """A policy's parameters change which exposures are cut, never the spread's draws: under
    per_copy, runs with faster and slower removal (every clock scaled: the same quantiles) and
    the unmoderated run see the same feed delay on every edge and the same reshare decision of
    every user they share; and the exposures before any removal (before the earliest upload
    plus the shortest latency) are the unmoderated run's."""
    cfg = {"graph": {"kind": "barabasi_albert", "n": 200, "m": 2, "seed": 1},
           "spread": {"kernel": {"dist": "lognormal", "median_h": 1.0, "sigma": 1.0},
                      "decay": {"kind": "none"}, "removal": "per_copy"},
           "scenario": {"illegal_posts": 6, "uploaders": 2, "window_h": 6.0, "horizon_h": 40.0,
                        "legal_posts": 0,
                        "categories": {"hate_speech": {"weight": 1.0, "share_prob": 0.3}}}}
    slow_dist = {k: 4 * v if k.endswith("_h") else v for k, v in dist.items()}
    free, fast, slow = (simulate({**cfg, "policy": p}, seed=2, trace=True) for p in (
        None, {"name": "latency_distribution", **dist}, {"name": "latency_distribution", **slow_dist}))
    assert fast.posts["reach"].sum() < slow.posts["reach"].sum() < free.posts["reach"].sum()
    for a, b in ((free, fast), (free, slow), (fast, slow)):
        assert _same_draws(a, b) > 100
    # fixed clocks: nothing is removed before the earliest upload plus the latency
    lat = 6.0
    fixed = simulate({**cfg, "policy": {"name": "fixed_latency", "latency_h": lat}}, seed=2, trace=True)
    start = float(free.posts["upload_time_h"].min()) + lat

    def before(r: Any) -> list:
        e = r.exposures
        return sorted((t, q, v, s) for t, q, v, s in zip(e["time_h"].tolist(), e["post_id"].tolist(),
                                                          e["user"].tolist(), e["source"].tolist(),
                                                          strict=True) if t < start)

    assert before(fixed) == before(free) and len(before(free)) > 50


# --------------------------------------------------------------------------- what moderators remove

#: 0 shares to 1 and 2; 1 to 3, 2 to 4, 3 to 5 (1 h hops)
TREE = [(0, 1), (0, 2), (1, 3), (2, 4), (3, 5)]


def _nat(**kw: Any) -> dict[str, Any]:
    """One moderator, 0.5 h reviews, every exposed user notifies, every review removes."""
    return {"name": "notice_and_takedown", "moderators": 1, "review_time": 0.5,
            "notice_prob": {"hate_speech": 1.0}, "removal_prob": 1.0, **kw}


def test_a_moderators_decision_removes_what_the_policy_says():
    """Bug 5: what a decision on a notified copy takes down is notice_and_takedown's ``removes``.
    ``post`` (the default): the post and every copy of it; ``copy``: only the copies its notices
    came through, so under per_copy the other copies spread on (and are notified in turn)."""
    g = digraph(TREE)
    post = simulate(config(policy=_nat(), removal="per_copy", horizon_h=10.0), seed=0, graph=g)
    assert post.posts["reach"].tolist() == [2]  # 1 and 2 at 1 h; the post is down at 1.5 h
    assert post.posts["removal_time_h"].tolist() == [1.5]
    default = simulate(config(policy=_nat(removes="post"), removal="per_copy", horizon_h=10.0),
                       seed=0, graph=g)
    assert default.posts["reach"].tolist() == [2]
    with pytest.raises(ConfigError, match=r"^policy.removes = 'all': .*allowed: post, copy, content"):
        simulate(config(policy=_nat(removes="all")), seed=0, graph=g)

    r = simulate(config(policy=_nat(removes="copy"), removal="per_copy", horizon_h=10.0), seed=0,
                 graph=g, trace=True)
    # 1 and 2 notify the upload's copy (source 0): it goes at 1.5 h; their own copies reach 3
    # and 4 at 2 h, who notify them (down at 2.5 h); 3's copy reaches 5 at 3 h (down at 3.5 h)
    assert r.posts["reach"].tolist() == [5]
    assert math.isnan(r.posts["removal_time_h"][0])  # the post itself stays up
    notices = r.tables["policy0_notice_and_takedown_notices"]
    assert notices["user"].tolist() == [1, 2, 3, 4, 5]
    assert notices["source"].tolist() == [0, 0, 1, 2, 3]
    assert notices["decision_time_h"].tolist() == [1.5, 1.5, 2.5, 2.5, 3.5]
    assert notices["removed"].all()
    # each reached user saw the post from their first exposure until their copy went: 0.5 h each
    assert r.posts["exposure_person_hours"][0] == pytest.approx(5 * 0.5)
    assert r.summary["policy0_notice_and_takedown_copies_removed"] == 4


def test_a_copy_removed_by_a_moderator_exposes_nobody_afterwards():
    """A copy removed at R by a moderator: none of its exposures due at R or later happens (the
    tie rule), and the spread's draws are the unmoderated run's (a user cut off one copy may be
    reached later through another, so times move, never delays or reshare decisions). Random
    delays on a BA graph; the removals come from the run's records."""
    cfg = {"graph": {"kind": "barabasi_albert", "n": 400, "m": 3, "seed": 3},
           "spread": {"kernel": {"dist": "lognormal", "median_h": 1.0, "sigma": 1.0},
                      "decay": {"kind": "none"}, "removal": "per_copy"},
           "scenario": {"illegal_posts": 6, "uploaders": 3, "window_h": 6.0, "horizon_h": 30.0,
                        "legal_posts": 0,
                        "categories": {"hate_speech": {"weight": 1.0, "share_prob": 0.3}}}}

    def run(policy: Any) -> Any:
        r = simulate({**cfg, "policy": policy}, seed=1, trace=True)
        e = r.exposures
        return r, list(zip(e["time_h"].tolist(), e["post_id"].tolist(), e["user"].tolist(),
                           e["source"].tolist(), strict=True))

    free, every = run(None)
    r, got = run(_nat(removes="copy", notice_prob=0.1, moderators=2))
    assert len(r.copy_removals) > 20 and not r.removals
    down = {(q, src): at for at, q, src, _ in r.copy_removals}
    assert {c for *_, c in r.copy_removals} == {"policy0_notice_and_takedown:notice"}
    assert not [x for x in got if x[0] >= down.get((x[1], x[3]), math.inf) * (1 - 1e-9)]
    cut = [x for x in every if x[0] >= down.get((x[1], x[3]), math.inf)]
    assert cut  # the removals cut something
    assert _same_draws(free, r) > 100  # and moved no draw of the spread
    # the tables do not depend on the trace
    plain = simulate({**cfg, "policy": _nat(removes="copy", notice_prob=0.1, moderators=2)}, seed=1)
    for col in r.posts:
        np.testing.assert_array_equal(plain.posts[col], r.posts[col], err_msg=col)


def test_removes_content_takes_down_every_post_of_the_content():
    """``removes: content``: a decision takes down every live post of the same content (the
    re-uploads too), as hash matching matches content."""
    g = digraph([(0, 1), (10, 11), (10, 12)])
    cfg = SimConfig.from_dict(config(policy=_nat(removes="content"), posts=0, horizon_h=10.0))
    sim = Simulation(cfg, 0, graph=g, policies=make_policies(cfg.policies))

    def uploads() -> Any:
        sim.upload("hate_speech", 0, content_id=7)
        yield sim.env.timeout(0.2)
        sim.upload("hate_speech", 10, content_id=7)  # a re-upload (copy 1) elsewhere
        sim.upload("hate_speech", 10, content_id=8)  # other content

    sim.env.process(uploads())
    r = sim.run()
    # user 1 notifies content 7's first post at 1 h: the review takes both of its posts down at
    # 1.5 h (the re-upload's exposures at 1.2 h happened; its own review, queued at 1.2 h, is
    # dropped); content 8, notified at 1.2 h too, is reviewed next and goes at 2 h
    assert r.posts["content_id"].tolist() == [7, 7, 8]
    assert r.posts["removal_time_h"].tolist() == [1.5, 1.5, 2.0]


# --------------------------------------------------------------------------- throttles

class _Booster(Policy):
    """Multiplies every post's reshare probability by ``factor`` at upload."""

    name = "booster"

    def __init__(self, factor: float) -> None:
        super().__init__({}, "policy[1]")
        self.factor = factor

    def on_upload(self, post: Any) -> None:
        self.sim.throttle(post, self.factor, field=f"{self.field}.factor")


def test_a_throttle_above_one_is_rejected_in_one_line():
    """Bug 6: a throttle only lowers a post's reshare probability (the engine's inert-exposure
    shortcut decides at scheduling which exposures may reshare, from the probability then): a
    factor above 1 (or below 0) is a one-line ConfigError naming the field, from the schema
    (circuit_breaker's factor) and from Simulation.throttle alike."""
    cfg = config(share_prob=0.3, policy=None)
    for bad in (1.5, -0.1, float("nan")):
        sim = Simulation(SimConfig.from_dict(cfg), 0, graph=digraph(TREE), policies=[_Booster(bad)])
        with pytest.raises(ConfigError, match=r"^policy\[1\]\.factor = .*: must be .*\[0, 1\]") as e:
            sim.run()
        assert "\n" not in str(e.value)
    ok = Simulation(SimConfig.from_dict(cfg), 0, graph=digraph(TREE), policies=[_Booster(0.5)])
    ok.run()
    stack = [_nat(), {"name": "circuit_breaker", "factor": 1.5}]
    with pytest.raises(ConfigError, match=r"^policy\[1\]\.factor = 1\.5: ") as e:
        simulate(config(policy=stack), seed=0, graph=digraph(TREE))
    assert "\n" not in str(e.value)


# --------------------------------------------------------------------------- shifts

def _queue_run(shifts: dict[str, float], requests: list[tuple[float, str, int]],
               moderators: int = 1, horizon_h: float = 96.0) -> tuple[Simulation, list[Any]]:
    """One post, no notices; ``requests`` = [(time, source, priority)] submitted to the review
    queue of a notice_and_takedown with ``shifts`` and fixed 1 h reviews that keep the post."""
    cfg = SimConfig.from_dict(config(horizon_h=horizon_h, policy=_nat(
        moderators=moderators, shifts=shifts, review_time=1.0, notice_prob=0.0)))
    sim = Simulation(cfg, 0, graph=digraph(CHAIN), policies=make_policies(cfg.policies))
    made: list[Any] = []

    def submit(source: str, priority: int) -> None:
        made.append(sim.review.submit(sim.posts[0], source, lambda _r: False, priority=priority))

    for t, source, priority in requests:
        sim.env.timeout(t).callbacks.append(lambda _e, s=source, p=priority: submit(s, p))
    sim.run()
    return sim, made


def test_requests_wait_in_priority_order_until_a_moderator_is_on_shift():
    """Bug 7: an off-shift moderator does not take a request and hold it: requests wait in the
    queue, in priority order, until a moderator is on shift. Shifts 9-17 h, one moderator: a
    notice filed at 18 h and a priority-0 removal order filed at 19 h: the order starts first, at
    33 h (9 h the next day), the notice after it, at 34 h."""
    _, (notice, order) = _queue_run({"start_h": 9, "end_h": 17},
                                    [(18.0, "notice", 2), (19.0, "referral", 0)])
    assert (order.started, notice.started) == (33.0, 34.0)
    # a request filed on shift starts at once; one filed as the shift ends waits for the next
    _, (a, b) = _queue_run({"start_h": 9, "end_h": 17}, [(10.0, "notice", 2), (17.0, "notice", 2)])
    assert (a.started, b.started) == (10.0, 33.0)
    # a review may run past the end of the shift: it is finished (started 16.5 h, done 17.5 h)
    _, (c,) = _queue_run({"start_h": 9, "end_h": 17}, [(16.5, "notice", 2)])
    assert (c.started, c.decided) == (16.5, 17.5)


def test_shifts_crossing_midnight():
    """A night shift (start_h 20, end_h 8) is accepted: reviews start from 20 h to 8 h."""
    sim, made = _queue_run({"start_h": 20, "end_h": 8}, [(t, "notice", 2) for t in (2.0, 7.5, 10.0, 21.5)],
                           moderators=2)
    assert [(r.created, r.started) for r in made] == [(2.0, 2.0), (7.5, 7.5), (10.0, 20.0), (21.5, 21.5)]
    shifts = sim.review.shifts
    assert shifts.on_shift_between(0.0, 24.0) == 12.0  # 0-8 h and 20-24 h
    assert shifts.on_shift_between(6.0, 22.0) == 4.0
    assert shifts.next_start(8.0) == 20.0 and shifts.next_start(23.0) == 23.0
    with pytest.raises(ConfigError, match=r"^policy.shifts.end_h = 8"):
        make_policies([_nat(shifts={"start_h": 8, "end_h": 8})])
    # 0 to 24 h: around the clock
    assert Shifts(0.0, 24.0).on_shift_between(5.0, 77.0) == 72.0 and Shifts(0.0, 24.0).on_shift(23.9)


# --------------------------------------------------------------------------- removal causes

FLAG = {"name": "automated_detection", "recall": 1.0, "delay": 2.0}  # flags at upload, removes at 2 h


def test_every_removal_records_its_cause():
    """Bug 8: every removal records which policy removed the post and why; the per-post table has
    it (``removal_cause``) and the summary counts removals per cause (illegal posts, as
    ``removed_posts``: the counts add up to it). Detection counts a removal as its own by that
    cause: a fixed latency that removes the post at the very time detection would (2 h, first in
    the stack) is the cause, and detection removed nothing."""
    from spreadsim.engine.metrics import POST_COLUMNS, removed_by

    g = digraph(CHAIN)
    fixed = {"name": "fixed_latency", "latency_h": 2.0}
    r = simulate(config(policy=[fixed, FLAG]), seed=0, graph=g)
    assert r.removals == [(2.0, 0, "policy0_fixed_latency:latency")]
    assert r.posts["removal_cause"].tolist() == ["policy0_fixed_latency:latency"]
    assert list(r.posts)[:len(POST_COLUMNS)] == list(POST_COLUMNS)
    assert r.summary["policy1_automated_detection_removals_true"] == 0
    assert r.summary[removed_by("policy0_fixed_latency:latency")] == 1
    assert r.summary[removed_by("policy1_automated_detection:flag")] == 0
    r = simulate(config(policy=[FLAG, fixed]), seed=0, graph=g)
    assert r.posts["removal_cause"].tolist() == ["policy0_automated_detection:flag"]
    assert r.summary["policy0_automated_detection_removals_true"] == 1
    assert r.summary[removed_by("policy0_automated_detection:flag")] == 1
    # not removed: no cause
    r = simulate(config(policy={"name": "fixed_latency", "latency_h": 200.0}), seed=0, graph=g)
    assert r.posts["removal_cause"].tolist() == [None] and r.removals == []
    assert r.summary[removed_by("policy0_fixed_latency:latency")] == 0


def test_removal_causes_of_a_moderated_stack_add_up():
    """Moderators, orders, trips and detection in one stack, on a random graph: each removal's
    cause names the policy whose request or rule removed the post (the review queue's decisions
    are the requesting policy's), the per-post column agrees with the removals, and the counts per
    cause add up to ``removed_posts``. The deadline path gives the same causes as simulating."""
    from spreadsim.engine.metrics import removed_by
    from spreadsim.runs.deadline import deadline_sweep

    cfg = {"graph": {"kind": "barabasi_albert", "n": 300, "m": 3, "seed": 5},
           "spread": {"kernel": {"dist": "lognormal", "median_h": 1.0, "sigma": 1.0}},
           "scenario": {"illegal_posts": 30, "uploaders": 6, "window_h": 12.0, "horizon_h": 48.0,
                        "legal_posts": 10, "legal_share_prob": 0.2},
           "policy": [
               {"name": "notice_and_takedown", "moderators": 3, "notice_prob": 0.03},
               {"name": "authority_referral", "categories": list(CATEGORIES), "referral_prob": 0.3},
               {"name": "circuit_breaker", "threshold": 4, "window_h": 2.0},
               {"name": "automated_detection", "recall": 0.3, "precision": 0.9, "delay": 1.0},
               {"name": "automated_detection", "at_upload": False, "reach_thresholds": [20],
                "recall": 0.5, "action": "review"},
               {"name": "latency_distribution", "half_life_h": 30.0}]}
    r = simulate(cfg, seed=4)
    causes = r.posts["removal_cause"]
    assert {c for _, _, c in r.removals} == {c for c in causes if c is not None}
    assert [(q, c) for _, q, c in sorted(r.removals, key=lambda x: x[1])] == \
        [(q, c) for q, c in enumerate(causes) if c is not None]
    kinds = {c.split(":")[0] for c in causes if c is not None}
    assert len(kinds) >= 4, kinds  # most policies removed something
    keys = [k for k in r.summary if k.startswith("removed_by_")]
    assert len(keys) == 7  # every cause the stack can give, found or not
    assert sum(r.summary[k] for k in keys) == r.summary["removed_posts"]
    for c in set(causes) - {None}:
        ill = (causes == c) & (r.posts["category"] != "legal")
        assert r.summary[removed_by(c)] == ill.sum()
    # the deadline path (pre-decided policies only)
    pre = {**cfg, "policy": [{"name": "fixed_latency", "latency_h": 5.0, "removal_prob": 0.5},
                             {"name": "latency_distribution", "half_life_h": 3.0}]}
    sim = simulate(pre, seed=4)
    (fast,) = deadline_sweep([SimConfig.from_dict(pre)], seed=4)
    assert fast.removals == sim.removals and len({c for *_, c in sim.removals}) == 2
    np.testing.assert_array_equal(fast.posts["removal_cause"], sim.posts["removal_cause"])
    assert list(fast.posts) == list(sim.posts)  # (engine.metrics.POST_COLUMNS, in order)
    assert {k: v for k, v in fast.summary.items() if k.startswith("removed_by_")} == \
        {k: v for k, v in sim.summary.items() if k.startswith("removed_by_")}
