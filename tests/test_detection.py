"""Automated detection: exact traces on chains, precision calibration, review, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from spreadsim import ConfigError, simulate
from spreadsim.dists import Duration
from spreadsim.engine.simulation import Simulation
from spreadsim.policies import Policy, make_policy, post_uniform
from spreadsim.policies.detection import AutomatedDetection
from spreadsim.policies.review import ReviewQueue
from spreadsim.schema.config import SimConfig

from .helpers import config, digraph

CONF = Path(__file__).resolve().parents[1] / "conf" / "policy"
CHAIN = digraph([(i, i + 1) for i in range(8)])  # 0 -> 1 -> ... -> 8, user 0 uploads


def detection(**kw):
    return {"name": "automated_detection", "precision": 1.0, **kw}


def run(policies, cfg=None, graph=CHAIN, seed=0):
    sim = Simulation(SimConfig.from_dict(cfg or config()), seed, graph=graph, policies=policies)
    return sim, sim.run()


class _Queue(Policy):
    """Test-only stand-in for notice_and_takedown: provides the review queue."""

    name = "test_queue"

    def __init__(self, moderators: int = 1, review_h: float = 1.0) -> None:
        super().__init__({})
        self.m, self.h = moderators, review_h

    def bind(self, sim, key):
        super().bind(sim, key)
        sim.review = ReviewQueue(sim, self.m, Duration("fixed", self.h), key)


# --------------------------------------------------------------------------- exact traces

def test_scans_fire_at_reach_thresholds():
    # reach grows by one user per hour along the chain; recall 0: scans, never flags
    det = make_policy(detection(at_upload=False, reach_thresholds=[4, 2], recall=0.0))
    _, r = run([det])
    assert det.scan_log == [(2.0, 0, 2, False), (4.0, 0, 4, False)]
    assert r.posts["reach"].tolist() == [8]
    assert det.summary()["scans"] == 2


def test_threshold_detection_removes_after_delay():
    det = make_policy(detection(at_upload=False, reach_thresholds=[2, 4], recall=1.0, delay=0.5))
    _, r = run([det])
    assert det.scan_log == [(2.0, 0, 2, True)]  # flagged at reach 2; no scan while pending
    assert r.removals == [(2.5, 0, "policy0_automated_detection:flag")]  # scan time + delay
    assert r.posts["reach"].tolist() == [2]  # the exposure due at 3.0 never happens
    s = det.summary()
    assert (s["detections_true"], s["removals_true"], s["removals_wrongful"]) == (1, 1, 0)
    assert s["precision_measured"] == 1.0


def test_upload_scan_with_delay():
    det = make_policy(detection(recall=1.0, delay=1.5))
    _, r = run([det])
    assert det.scan_log == [(0.0, 0, 0, True)]
    assert r.removals == [(1.5, 0, "policy0_automated_detection:flag")]
    assert r.posts["reach"].tolist() == [1]
    # delay 0: removed at upload, nobody sees it
    det = make_policy(detection(recall=1.0))
    _, r = run([det])
    assert r.removals == [(0.0, 0, "policy0_automated_detection:flag")]
    assert r.posts["reach"].tolist() == [0]


def test_random_delays_are_respected():
    g = digraph([(i, i + 1) for i in range(49)])
    cfg = config(posts=200, uploaders=20, window_h=24.0, selection="random", share_prob=0.0)
    det = make_policy(detection(recall=0.5, delay={"dist": "exponential", "mean_h": 2.0}))
    sim, r = run([det], cfg, graph=g, seed=4)
    removed = {q: t for t, q, _ in r.removals}
    assert 60 < len(removed) < 140  # recall 0.5 of 200 (sd 7)
    for t, q, _, flagged in det.scan_log:
        post = sim.posts[q]
        if flagged:
            delay = det.params.delay.sample(post_uniform(det.key, post, 1))
            if t + delay < cfg["scenario"]["horizon_h"]:
                assert removed[q] == t + delay
        else:
            assert q not in removed


def test_review_action_goes_through_the_queue():
    det = make_policy(detection(recall=1.0, delay=0.5, action="review"))
    _, r = run([_Queue(review_h=1.0), det])
    # flagged at 0, queued at 0.5, reviewed for 1 h
    assert r.removals == [(1.5, 0, "policy1_automated_detection:review")]
    assert r.posts["reach"].tolist() == [1]
    s = det.summary()
    assert (s["reviews"], s["removals_true"]) == (1, 1)


def test_review_action_needs_a_queue():
    with pytest.raises(ConfigError, match="policy.action"):
        run([make_policy(detection(action="review"))])


# --------------------------------------------------------------------------- precision

def _stream(n_ill, n_leg, share_prob=0.0):
    cfg = config(posts=n_ill, uploaders=20, window_h=24.0, selection="random",
                 share_prob=share_prob)
    cfg["scenario"].update({"legal_posts": n_leg, "legal_share_prob": share_prob})
    return cfg


G50 = digraph([(i, (i + 1) % 50) for i in range(50)])


def test_measured_precision_matches_configured():
    n1, n2, rec, prec = 2000, 8000, 0.8, 0.9
    det = make_policy(detection(recall=rec, precision=prec))
    _, r = run([det], _stream(n1, n2), graph=G50, seed=11)
    s = det.summary()
    fpr = rec * n1 * (1 - prec) / (prec * n2)
    assert s["fpr"] == pytest.approx(fpr)
    # true removals X ~ Bin(n1, rec), wrongful Y ~ Bin(n2, fpr); delta-method sd of X / (X + Y)
    mx, my = n1 * rec, n2 * fpr
    sd = math.sqrt(my**2 * n1 * rec * (1 - rec) + mx**2 * n2 * fpr * (1 - fpr)) / (mx + my) ** 2
    assert abs(s["precision_measured"] - prec) < 3 * sd, (s["precision_measured"], prec, sd)
    assert abs(s["removals_wrongful"] - my) < 3 * math.sqrt(n2 * fpr * (1 - fpr))
    assert s["removals_wrongful"] == int(((r.posts["category"] == "legal")
                                          & ~np.isnan(r.posts["removal_time_h"])).sum())


def test_precision_one_never_removes_legal_posts():
    det = make_policy(detection(recall=0.9, precision=1.0))
    _, r = run([det], _stream(300, 1000), graph=G50, seed=2)
    s = det.summary()
    assert s["fpr"] == 0.0 and s["removals_wrongful"] == 0 and s["detections_false"] == 0
    assert s["removals_true"] > 0
    assert np.isnan(r.posts["removal_time_h"][r.posts["category"] == "legal"]).all()


def test_reviewers_keep_flagged_legal_posts():
    det = make_policy(detection(recall=0.8, precision=0.5, action="review"))
    _, r = run([_Queue(moderators=50, review_h=0.1), det], _stream(200, 800), graph=G50, seed=3)
    s = det.summary()
    assert s["detections_false"] > 100  # fpr 0.2 of 800
    assert s["removals_wrongful"] == 0 and s["removals_true"] == s["detections_true"]
    # with review_error 1 every decision is wrong: legal posts come down, illegal ones stay
    det = make_policy(detection(recall=0.8, precision=0.5, action="review", review_error=1.0))
    _, r = run([_Queue(moderators=50, review_h=0.1), det], _stream(200, 800), graph=G50, seed=3)
    s = det.summary()
    assert s["removals_true"] == 0 and s["removals_wrongful"] == s["detections_false"]


def test_reach_lost_by_wrongly_removed_legal_posts():
    import networkx as nx

    from spreadsim.graphs import from_networkx

    g = from_networkx(nx.gnp_random_graph(200, 0.04, seed=5, directed=True), name="gnp")
    cfg = _stream(20, 60, share_prob=0.2)
    cfg["policy"] = detection(recall=0.5, precision=0.6, at_upload=False, reach_thresholds=[3])
    r = simulate(cfg, seed=1, graph=g, baseline=True)
    legal = (r.posts["category"] == "legal") & ~np.isnan(r.posts["removal_time_h"])
    assert legal.sum() > 0
    lost = (r.posts["reach_baseline"] - r.posts["reach"])[legal]
    assert (lost >= 0).all()
    assert r.summary["legal_reach_lost_total"] == lost.sum() > 0


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("pol, field", [
    (detection(recall=1.5), "policy.recall"),
    (detection(recall=-0.1), "policy.recall"),
    (detection(recall=math.nan), "policy.recall"),
    (detection(precision=1.2), "policy.precision"),
    (detection(precision=math.nan), "policy.precision"),
    (detection(precision=0.0, recall=0.5), "policy.precision"),
    (detection(categories={"hate_speech": {"recall": 2}}), "policy.categories.hate_speech.recall"),
    (detection(categories={"spam": {"recall": 0.5}}), "policy.categories.spam"),
    (detection(categories={"hate_speech": {"recal": 0.5}}), "policy.categories.hate_speech.recal"),
    (detection(delay=-1.0), "policy.delay"),
    (detection(delay={"dist": "exponential", "mean_h": -1}), "policy.delay.mean_h"),
    (detection(action="delete"), "policy.action"),
    (detection(recal=0.5), "policy.recal"),
    (detection(reach_thresholds=[100, 0]), "policy.reach_thresholds[1]"),
    (detection(reach_thresholds="100"), "policy.reach_thresholds"),
    (detection(at_upload="yes"), "policy.at_upload"),
    (detection(at_upload=False), "policy.reach_thresholds"),
    (detection(review_error=2), "policy.review_error"),
    (detection(priority=-1), "policy.priority"),
])
def test_bad_input(pol, field):
    with pytest.raises(ConfigError) as info:
        simulate(config(policy=pol), seed=0, graph=CHAIN)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(field + " = "), msg


def test_calibration_errors_name_precision():
    # precision < 1 with no legal posts to misflag
    with pytest.raises(ConfigError, match=r"^policy\.precision = 0\.9:.*legal_posts"):
        simulate(config(policy=detection(precision=0.9)), seed=0, graph=CHAIN)
    # the false-positive probability would exceed 1: 0.9 * 100 * 0.9 / (0.1 * 10) = 81
    cfg = _stream(100, 10)
    cfg["policy"] = [{"name": "fixed_latency", "latency_h": 5},
                     detection(categories={"hate_speech": {"precision": 0.1}})]
    with pytest.raises(ConfigError, match=r"^policy\[1\]\.categories\.hate_speech\.precision"):
        simulate(cfg, seed=0, graph=G50)
    # recall 0 makes any precision harmless
    simulate(config(policy=detection(recall=0.0, precision=0.0)), seed=0, graph=CHAIN)


def test_yaml_builds():
    cfg = yaml.safe_load((CONF / "automated_detection.yaml").read_text())
    pol = make_policy(cfg)
    assert isinstance(pol, AutomatedDetection)
    simulate(config(policy=cfg), seed=0, graph=CHAIN)


def test_precision_without_legal_posts_fails_before_any_job():
    """A sweep whose jobs pair precision < 1 with no legal posts fails in its check, before any job
    starts (the policy's scenario check is the one its run would make when bound)."""
    from spreadsim.runs.jobspec import check_job_config

    cfg = {"graph": {"kind": "barabasi_albert", "n": 200, "m": 2}, "seeds": 2,
           "scenario": {"illegal_posts": 4, "legal_posts": 0, "uploaders": 2},
           "policy": {"name": "automated_detection", "precision": 0.9}}
    with pytest.raises(ConfigError, match=r"^policy\.precision = 0\.9: < 1 needs legal posts to misflag"):
        check_job_config(cfg)
    cfg["policy"]["precision"] = 1.0
    check_job_config(cfg)
