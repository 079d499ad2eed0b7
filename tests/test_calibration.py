"""SLA calibration against a closed form.

Tree-like graph (every user has k followers), exponential feed delay of rate theta, reshare
probability p, branching n = k p, cascade removal at L: the expected reach per post is
k/(1-n) * (1 - exp(-(1-n) theta L)) (the expected number of exposures before L of a Hawkes process
with kernel n theta exp(-theta t)). Per-copy removal at age D: reach k F(D) / (1 - n F(D)) with
F(D) = 1 - exp(-theta D). Each calibrated latency must have the true answer inside its own 95%
interval.
"""

from __future__ import annotations

import math

import pytest

from spreadsim import ConfigError
from spreadsim.runs.calibration import calibrate_count, calibrate_latency

K, P, THETA = 6, 0.1, 1.0
N = K * P


def _cfg(removal: str = "cascade") -> dict:
    return {"graph": {"kind": "random_k_out", "n": 200_000, "k": K, "seed": 1},
            "spread": {"kernel": {"dist": "exponential", "rate_per_h": THETA}, "removal": removal},
            "scenario": {"illegal_posts": 300, "uploaders": 300, "window_h": 0.0,
                         "horizon_h": 1e6, "categories": {"hate_speech": {"share_prob": P}}},
            "policy": {"name": "fixed_latency", "latency_h": 1.0}}


def test_latency_calibration_cascade_closed_form():
    target = 10.0
    truth = -math.log(1 - target * (1 - N) / K) / ((1 - N) * THETA)
    cal = calibrate_latency(_cfg(), seeds=range(12), target=target, max_latency_h=100.0)
    assert cal.path.startswith("deadline")
    assert cal.ci_low <= truth <= cal.ci_high, (cal.line(), truth)
    assert cal.ci_low <= cal.value <= cal.ci_high
    assert cal.ci_high - cal.ci_low < truth  # the interval is informative
    assert "largest policy.latency_h" in cal.line()


def test_latency_calibration_per_copy_simulated():
    target = 8.0
    F = target / (K + N * target)
    truth = -math.log(1 - F) / THETA
    cal = calibrate_latency(_cfg("per_copy"), seeds=range(8), target=target, max_latency_h=50.0,
                            tol=1e-2)
    assert cal.path == "simulated"
    assert cal.ci_low <= truth <= cal.ci_high, (cal.line(), truth)


def test_intervals_shrink_with_more_seeds():
    a = calibrate_latency(_cfg(), seeds=range(4), target=10.0, max_latency_h=100.0)
    b = calibrate_latency(_cfg(), seeds=range(16), target=10.0, max_latency_h=100.0)
    assert b.ci_high - b.ci_low < a.ci_high - a.ci_low


def test_infeasible_and_bad_input():
    cal = calibrate_latency(_cfg(), seeds=range(3), target=0.0, max_latency_h=10.0)
    assert cal.value == 0.0  # latency 0 removes at upload: zero reach
    with pytest.raises(ConfigError, match="calibration.seeds"):
        calibrate_latency(_cfg(), seeds=[0], target=1.0)
    with pytest.raises(ConfigError, match="calibration.stat"):
        calibrate_latency(_cfg(), seeds=[0, 1], target=1.0, stat="median")
    with pytest.raises(ConfigError, match="policy.nosuch"):
        calibrate_latency(_cfg(), seeds=[0, 1], target=1.0, lever="policy.nosuch")


def test_count_calibration_finds_the_smallest_head_count():
    """Moderators against mean reach: the answer meets the target and one fewer does not
    (both read off the paired-seed curve the search evaluated)."""
    cfg = {"graph": {"kind": "barabasi_albert", "n": 3000, "m": 3, "seed": 4},
           "spread": {"kernel": {"dist": "exponential", "rate_per_h": 0.5}},
           "scenario": {"illegal_posts": 60, "uploaders": 20, "window_h": 6.0, "horizon_h": 200.0,
                        "categories": {"hate_speech": {"share_prob": 0.12}}},
           "policy": {"name": "notice_and_takedown", "moderators": 1, "notice_prob": 0.05,
                      "review_time": {"dist": "exponential", "mean_h": 3.0},
                      "removal_prob": 1.0}}
    seeds = range(4)
    lo = calibrate_count(cfg, seeds, 0.0, lo=1, hi=1).curve["reach"][0]  # one moderator
    hi = calibrate_count(cfg, seeds, 0.0, lo=24, hi=24).curve["reach"][0]  # many
    assert hi < lo
    target = (lo + hi) / 2
    cal = calibrate_count(cfg, seeds, target, lo=1, hi=24)
    assert cal.feasible and 1 < cal.value <= 24
    curve = dict(zip(cal.curve["lever"], cal.curve["reach"], strict=True))
    assert curve[cal.value] <= target
    assert curve[cal.value - 1] > target  # bisection evaluated the neighbour below
    assert "smallest policy.moderators" in cal.line()


def test_a_target_inside_every_interval_is_not_supported_by_the_data(tmp_path):
    """No notices, so the moderators change nothing: reach is the same at every head-count, and a
    target equal to its mean lies inside the 95% interval of every count. The answer says so and
    lists the evaluated points, instead of a count with a NaN bound (calibration.json: null)."""
    import json

    from spreadsim.runs.calibration import run_calibration

    cfg = {"graph": {"kind": "barabasi_albert", "n": 400, "m": 2, "seed": 5},
           "scenario": {"illegal_posts": 6, "uploaders": 3, "horizon_h": 72.0},
           "policy": {"name": "notice_and_takedown", "moderators": 1, "notice_prob": 0.0}}
    seeds = range(3)
    mean = calibrate_count(cfg, seeds, 0.0, lo=1, hi=1).curve["reach"][0]
    cal = calibrate_count(cfg, seeds, mean, lo=1, hi=4)
    assert cal.feasible and not cal.supported
    curve = cal.curve
    assert all(m == mean and lo < mean < hi for m, lo, hi in
               zip(curve["reach"], curve["ci_low"], curve["ci_high"], strict=True))
    line = cal.line()
    assert "not supported by the data" in line and "nan" not in line
    assert all(f"{x:.4g}: " in line for x in curve["lever"])  # the evaluated points
    run_calibration({**cfg, "seeds": 3, "calibration": {"target": mean, "lever": "policy.moderators",
                                                        "min": 1, "max": 4}}, tmp_path)
    answer = json.loads((tmp_path / "calibration.json").read_text())
    assert answer["supported"] is False and answer["feasible"] is True
    assert answer["value"] is None and answer["ci_low"] is None and answer["ci_high"] is None
    assert [p["lever"] for p in answer["points"]] == curve["lever"]
    assert "nan" not in json.dumps(answer).lower()


def test_a_supported_answer_has_both_ends():
    cal = calibrate_latency(_cfg(), seeds=range(6), target=10.0, max_latency_h=100.0)
    assert cal.supported and "not supported" not in cal.line()


def test_a_calibration_report_opens_with_its_answer_like_a_sweep_report(tmp_path):
    """The report of an SLA calibration says what a sweep's says: the experiment, the answer as
    its first heading, the question, the command, the version and the graph; the curve's
    interval never goes below zero reach."""
    import json
    import re

    from spreadsim.runs.calibration import run_calibration

    cfg = {**_cfg(), "seeds": 4, "calibration": {"target": 10.0, "lever": "policy.latency_h", "max": 100.0}}
    run_calibration(cfg, tmp_path, meta={"experiment": "sla_calibration", "command": "spreadsim x=1",
                                         "graph": "ba test graph"})
    html = (tmp_path / "report.html").read_text()
    answer = json.loads((tmp_path / "calibration.json").read_text())
    first = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert first and "policy.latency_h keeping mean reach per post" in first.group(1)
    assert answer["supported"] and f"{answer['value']:.4g}" in first.group(1)
    for text in ("sla_calibration", "What is the largest policy.latency_h", "spreadsim x=1",
                 "ba test graph", "spreadsim 0."):
        assert text in html, text
    assert min(p["ci_low"] for p in answer["points"]) >= 0.0
