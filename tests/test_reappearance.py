"""Re-uploads, hash matching and account strikes: exact traces, shares within 3 SE, CRN, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import yaml

from spreadsim import ConfigError, simulate
from spreadsim.engine.simulation import Simulation
from spreadsim.graphs import from_networkx
from spreadsim.policies import Policy, make_policy
from spreadsim.policies.reappearance import AccountStrikes, HashDatabase, HashMatching, Reupload
from spreadsim.schema.config import SimConfig

from .helpers import config, digraph

CONF = Path(__file__).resolve().parents[1] / "conf" / "policy"
CHAIN = digraph([(i, i + 1) for i in range(9)])  # 0 -> 1 -> ... -> 9, user 0 uploads
RING = digraph([(i, (i + 1) % 50) for i in range(50)])
# the traces below were written for every removal re-uploaded from the same account, unaltered,
# and for hash matching that blocks every exact copy and no altered one (the schema's defaults are
# the shipped YAML's: 0.8, 0.3, 0.3 and 0.99, 0.3)
SAME = {"reupload_prob": 1.0, "new_account_prob": 0.0, "altered_prob": 0.0}
EXACT = {"recall": 1.0, "recall_altered": 0.0}


def stack(cfgs):
    return [make_policy(c, f"policy[{i}]") for i, c in enumerate(cfgs)]


def run(policies, cfg=None, graph=CHAIN, seed=0):
    sim = Simulation(SimConfig.from_dict(cfg or config()), seed, graph=graph, policies=policies)
    return sim, sim.run()


def rows(r):
    p = r.posts
    return list(zip(p["content_id"].tolist(), p["copy"].tolist(), p["uploader"].tolist(),
                    p["upload_time_h"].tolist(), strict=True))


# --------------------------------------------------------------------------- re-upload traces

def test_reupload_trace():
    pols = stack([{"name": "fixed_latency", "latency_h": 2.5},
                  {"name": "reupload", "delay": 3.0, "max_reuploads": 2, **SAME}])
    _, r = run(pols)
    # removed at 2.5, back at 5.5 (copy 1), removed at 8.0, back at 11.0 (copy 2), removed 13.5
    assert rows(r) == [(0, 0, 0, 0.0), (0, 1, 0, 5.5), (0, 2, 0, 11.0)]
    assert [(t, q) for t, q, _ in r.removals] == [(2.5, 0), (8.0, 1), (13.5, 2)]
    assert {c for *_, c in r.removals} == {"policy0_fixed_latency:latency"}
    assert r.posts["reach"].tolist() == [2, 2, 2]  # exposures at +1 h and +2 h each time
    s = pols[1].summary()
    assert (s["attempts"], s["uploaded"], s["live"], s["copies_reach"]) == (2, 2, 0, 4)


def test_reupload_only_for_adversarial_posts():
    class Legal(Policy):
        name = "legal_upload"

        def start(self):
            self.sim.env.timeout(1.0).callbacks.append(
                lambda _e: self.sim.upload("hate_speech", 0, adversarial=False))

    pols = [*stack([{"name": "fixed_latency", "latency_h": 0.5},
                    {"name": "reupload", "delay": 1.0, **SAME}]), Legal({})]
    _, r = run(pols, config(posts=0))
    assert rows(r) == [(0, 0, 0, 1.0)]


def _many(n=2000, **reupload):
    """n adversarial posts, each removed at upload and re-uploaded 1 h later (unless blocked)."""
    cfg = config(posts=n, uploaders=20, window_h=24.0, selection="random", share_prob=0.0)
    pols = [{"name": "fixed_latency", "latency_h": 0.0},
            {"name": "reupload", "delay": 1.0, "max_reuploads": 1, **SAME, **reupload}]
    return cfg, pols


def test_max_reuploads_and_altered_share():
    n, a = 2000, 0.3
    cfg, pols = _many(n, altered_prob=a)
    pols = stack(pols)
    _, r = run(pols, cfg, graph=RING, seed=1)
    assert r.posts["copy"].max() == 1 and (r.posts["copy"] == 1).sum() == n
    s = pols[1].summary()
    sd = math.sqrt(a * (1 - a) / n)  # 0.0102
    assert abs(s["altered"] / n - a) < 3 * sd, (s["altered"] / n, a, sd)
    cfg, p0 = _many(n, max_reuploads=0)
    _, r = run(stack(p0), cfg, graph=RING, seed=1)
    assert (r.posts["copy"] == 0).all()


def test_reupload_prob_share():
    n, q = 2000, 0.6
    cfg, pols = _many(n, reupload_prob=q)
    pols = stack(pols)
    run(pols, cfg, graph=RING, seed=2)
    got = pols[1].summary()["attempts"] / n
    assert abs(got - q) < 3 * math.sqrt(q * (1 - q) / n), got


def test_new_accounts():
    cfg, pols = _many(500, new_account_prob=1.0)
    pols = stack(pols)
    _, r = run(pols, cfg, graph=RING, seed=3)
    s = pols[1].summary()
    assert s["new_accounts"] == s["attempts"] == 500
    orig = dict(zip(r.posts["content_id"][r.posts["copy"] == 0].tolist(),
                    r.posts["uploader"][r.posts["copy"] == 0].tolist(), strict=True))
    moved = sum(orig[c] != u for c, u, k in zip(r.posts["content_id"].tolist(),
                                                r.posts["uploader"].tolist(),
                                                r.posts["copy"].tolist(), strict=True) if k)
    assert moved > 450  # a random user of 50 is the same account with probability 1/50


# --------------------------------------------------------------------------- hash matching

def test_hash_matching_recall_one_blocks_every_unaltered_reupload():
    cfg, pols = _many(2000)
    pols = stack([*pols, {"name": "hash_matching", **EXACT}])
    _, r = run(pols, cfg, graph=RING, seed=1)
    assert (r.posts["copy"] == 0).all()
    assert pols[1].summary()["blocked"] == pols[2].summary()["blocked"] == 2000
    assert len(r.blocked) == 2000 and all(a.copy == 1 for a in r.blocked)


@pytest.mark.parametrize("altered, recall", [(0.0, 0.7), (1.0, 0.25)])
def test_hash_matching_blocked_share(altered, recall):
    n = 2000
    cfg, pols = _many(n, altered_prob=altered)
    hm = {"name": "hash_matching", "recall": recall if not altered else 1.0,
          "recall_altered": recall if altered else 0.0}
    pols = stack([*pols, hm])
    run(pols, cfg, graph=RING, seed=5)
    s = pols[2].summary()
    assert s["known_attempts"] == n
    sd = math.sqrt(recall * (1 - recall) / n)  # 0.0102 and 0.0097
    assert abs(s["blocked"] / n - recall) < 3 * sd, (s["blocked"] / n, recall, sd)


def test_hash_matching_sync_delay():
    for sync, blocked in ((2.0, 0), (0.5, 300)):
        cfg, pols = _many(300)
        pols = stack([*pols, {"name": "hash_matching", "sync_delay": sync, **EXACT}])
        run(pols, cfg, graph=RING)
        assert pols[2].summary()["blocked"] == blocked  # re-uploads come 1 h after removal


def test_shared_database():
    db = HashDatabase()
    db.add(3, 1.0)
    cfg, pols = _many(5)
    pols = [*stack(pols), HashMatching({"name": "hash_matching", **EXACT}, database=db)]
    sim, _ = run(pols, cfg, graph=RING)
    assert pols[2].db is db and len(db) == 5
    assert db.known(3, 1.0) and not db.known(3, 0.5)


# --------------------------------------------------------------------------- account strikes

class _Driver(Policy):
    """Test-only uploader: adversarial uploads at fixed times from fixed (or current) accounts."""

    name = "driver"

    def __init__(self, uploads):
        super().__init__({})
        self.uploads = uploads

    def start(self):
        self.sim.env.process(self._run())

    def _run(self):
        env = self.sim.env
        for t, user, follow in self.uploads:
            yield env.timeout(t - env.now)
            who = self.sim.account(user) if follow else user
            self.sim.upload("hate_speech", who, adversarial=True)


def test_account_strikes_trace():
    driver = _Driver([(0.0, 0, False), (2.0, 0, False), (4.0, 0, False), (6.0, 0, False),
                      (20.0, 0, True)])
    pols = [driver, *stack([{"name": "fixed_latency", "latency_h": 1.0},
                            {"name": "account_strikes", "strikes": 2, "return_delay": 5.0}])]
    strikes = pols[2]
    assert isinstance(strikes, AccountStrikes)
    sim, r = run(pols, config(posts=0))
    x, y = sim.replaced[0], sim.replaced[sim.replaced[0]]
    assert len({0, x, y}) == 3
    assert strikes.log == [
        (3.0, "suspend", 0, 2),   # second removal of account 0's posts
        (4.0, "block", 0, 2),     # content 2 and 3 are blocked ...
        (6.0, "block", 0, 3),
        (8.0, "return", 0, x),    # ... and come back from account x at 3 + 5 h
        (9.0, "suspend", x, 2),   # x's two posts come down at 9: x is suspended too
        (14.0, "return", x, y),
    ]
    assert rows(r) == [(0, 0, 0, 0.0), (1, 0, 0, 2.0), (2, 1, x, 8.0), (3, 1, x, 8.0),
                       (4, 0, y, 20.0)]  # the campaign's later upload follows 0 -> x -> y
    assert [a.content_id for a in r.blocked] == [2, 3]
    assert strikes.summary() == {"suspensions": 2, "new_accounts": 2, "blocked": 2,
                                 "returned_uploads": 2}


def test_strikes_one_suspends_at_first_removal():
    driver = _Driver([(0.0, 0, False), (2.0, 0, False)])
    pols = [driver, *stack([{"name": "fixed_latency", "latency_h": 1.0},
                            {"name": "account_strikes", "strikes": 1, "return_delay": 100.0}])]
    _, r = run(pols, config(posts=0, horizon_h=50.0))
    assert pols[2].log == [(1.0, "suspend", 0, 1), (2.0, "block", 0, 1)]
    assert len(r.posts["post_id"]) == 1  # the return would be after the horizon


# --------------------------------------------------------------------------- common random numbers

G300 = from_networkx(nx.barabasi_albert_graph(300, 3, seed=7), name="ba300")


def _crn_cfg():
    cfg = config(posts=30, uploaders=5, window_h=24.0, selection="random", share_prob=0.15,
                 kernel={"dist": "exponential", "rate_per_h": 1.0}, horizon_h=120.0)
    cfg["policy"] = [{"name": "latency_distribution", "dist": "exponential", "half_life_h": 3.0},
                     {"name": "reupload", "reupload_prob": 0.8,
                      "delay": {"dist": "exponential", "mean_h": 3.0}, "max_reuploads": 3,
                      "altered_prob": 0.3, "new_account_prob": 0.3}]
    return cfg


def test_same_seed_same_tables():
    cfg = _crn_cfg()
    cfg["policy"] = [*cfg["policy"], {"name": "hash_matching", "recall": 0.9, "recall_altered": 0.0},
                     {"name": "account_strikes", "strikes": 2, "return_delay": 4.0}]
    a = simulate(cfg, seed=3, graph=G300)
    b = simulate(cfg, seed=3, graph=G300)
    assert a.posts.keys() == b.posts.keys()
    for k in a.posts:
        np.testing.assert_array_equal(a.posts[k], b.posts[k])
    assert a.summary == pytest.approx(b.summary, nan_ok=True)
    assert a.removals == b.removals and a.blocked == b.blocked


def test_hash_matching_never_increases_copies_reach():
    """Blocking truncates each content's re-upload chain; every copy that still gets through has
    the same draws (content id, copy number, time, account) as without hash matching, so for
    each seed the reach of copies can only fall, and the originals are untouched."""
    without = _crn_cfg()
    with_hm = _crn_cfg()
    with_hm["policy"] = [*with_hm["policy"],
                         {"name": "hash_matching", "recall": 0.9, "recall_altered": 0.2}]
    drops = 0
    for seed in range(8):
        a = simulate(without, seed=seed, graph=G300)
        b = simulate(with_hm, seed=seed, graph=G300)
        ca, cb = a.summary["policy1_reupload_copies_reach"], b.summary["policy1_reupload_copies_reach"]
        assert cb <= ca, seed
        drops += cb < ca
        orig_a, orig_b = a.posts["copy"] == 0, b.posts["copy"] == 0
        np.testing.assert_array_equal(a.posts["reach"][orig_a], b.posts["reach"][orig_b])
        # every copy that got through with hash matching is the same post without it
        key_a = {(c, k): x for c, k, x in zip(a.posts["content_id"], a.posts["copy"],
                                              a.posts["reach"], strict=True)}
        for c, k, x in zip(b.posts["content_id"], b.posts["copy"], b.posts["reach"], strict=True):
            assert key_a[(c, k)] == x
    assert drops >= 4


# --------------------------------------------------------------------------- bad input

def _reup(**kw):
    return {"name": "reupload", "delay": 1.0, **SAME, **kw}


@pytest.mark.parametrize("pol, field", [
    (_reup(reupload_prob=1.2), "policy.reupload_prob"),
    (_reup(reupload_prob=math.nan), "policy.reupload_prob"),
    (_reup(delay=-1.0), "policy.delay"),
    (_reup(delay="soon"), "policy.delay"),
    (_reup(delay={"dist": "lognormal", "median_h": 1}), "policy.delay.sigma"),
    (_reup(max_reuploads=-1), "policy.max_reuploads"),
    (_reup(max_reuploads=1.5), "policy.max_reuploads"),
    (_reup(new_account_prob=math.nan), "policy.new_account_prob"),
    (_reup(altered_prob=-0.1), "policy.altered_prob"),
    (_reup(retry_blocked="no"), "policy.retry_blocked"),
    (_reup(dealy=1.0), "policy.dealy"),
    ({"name": "hash_matching", "recall": math.nan}, "policy.recall"),
    ({"name": "hash_matching", "recall": 1.01}, "policy.recall"),
    ({"name": "hash_matching", "recall_altered": -1}, "policy.recall_altered"),
    ({"name": "hash_matching", "sync_delay": -0.5}, "policy.sync_delay"),
    ({"name": "hash_matching", "recal": 1.0}, "policy.recal"),
    ({"name": "account_strikes", "strikes": 0}, "policy.strikes"),
    ({"name": "account_strikes", "strikes": 1.5}, "policy.strikes"),
    ({"name": "account_strikes", "strikes": True}, "policy.strikes"),
    ({"name": "account_strikes", "return_delay": -2}, "policy.return_delay"),
    ({"name": "account_strikes", "strike": 2}, "policy.strike"),
])
def test_bad_input(pol, field):
    with pytest.raises(ConfigError) as info:
        simulate(config(policy=pol), seed=0, graph=CHAIN)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(field + " = "), msg


def test_bad_input_in_a_stack_names_the_index():
    cfg = config(policy=[{"name": "fixed_latency", "latency_h": 1},
                         {"name": "account_strikes", "strikes": 0}])
    with pytest.raises(ConfigError, match=r"^policy\[1\]\.strikes = 0:"):
        simulate(cfg, seed=0, graph=CHAIN)


@pytest.mark.parametrize("name, cls", [("reupload", Reupload), ("hash_matching", HashMatching),
                                       ("account_strikes", AccountStrikes)])
def test_yaml_builds(name, cls):
    cfg = yaml.safe_load((CONF / f"{name}.yaml").read_text())
    assert isinstance(make_policy(cfg), cls)
    simulate(config(policy=[{"name": "fixed_latency", "latency_h": 1.0}, cfg]), seed=0, graph=CHAIN)


def test_baseline_twin_with_reuploads():
    cfg = config(policy=[{"name": "fixed_latency", "latency_h": 2.5},
                         {"name": "reupload", "delay": 3.0, "max_reuploads": 2, **SAME}])
    r = simulate(cfg, seed=0, graph=CHAIN, baseline=True)
    # copies do not exist in the unmoderated twin: their baseline reach is 0
    assert r.posts["reach_baseline"].tolist() == [9, 0, 0]
    assert r.summary["reach_baseline_total"] == 9
    assert r.summary["reach_prevented_total"] == 9 - 6  # the copies' reach counts against it


def test_the_baseline_per_post_is_the_twins_own_with_re_uploads():
    """With re-uploads the moderated run has more posts than its unmoderated twin: the baseline
    per post and the reach prevented per post divide by the twin's posts (the campaign's uploads),
    so reach_baseline_mean is the twin's own mean, as the what-if page draws it."""
    import spreadsim

    cfg = {"graph": {"kind": "barabasi_albert", "n": 2000, "m": 3, "seed": 4},
           "scenario": {"illegal_posts": 20, "legal_posts": 0, "uploaders": 5, "horizon_h": 96.0},
           "policy": [{"name": "fixed_latency", "latency_h": 2.0},
                      {"name": "reupload", "delay": 1.0, "max_reuploads": 2, **SAME}]}
    r = spreadsim.simulate(cfg, seed=1, baseline=True)
    twin = spreadsim.simulate({**cfg, "policy": None}, seed=1)
    s, t = r.summary, twin.summary
    assert s["posts"] > t["posts"]  # the re-uploads
    assert s["reach_baseline_mean"] == t["reach_mean"]
    assert s["reach_prevented_mean"] == pytest.approx((t["reach_total"] - s["reach_total"]) / t["posts"])
