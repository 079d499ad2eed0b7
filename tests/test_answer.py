"""Every experiment states its answer (spreadsim.outputs.answer), and the plots of a sweep and of a
single run draw without a warning, on a symmetric-log latency axis with 'never' in its place."""

from __future__ import annotations

import math
import re
import warnings

import matplotlib
import numpy as np
import pytest

import spreadsim
from spreadsim.outputs.answer import (
    answer,
    calibration_answer,
    describe_point,
    fmt_latency,
    fmt_number,
    latency_answer,
)
from spreadsim.outputs.io import read_table
from spreadsim.outputs.plots import LatencyAxis
from spreadsim.outputs.stats import mean_ci
from spreadsim.outputs.sweep_outputs import write_outputs
from spreadsim.runs.job import run_job
from tests.helpers import latency_job

LATENCIES = [0.0, 1.0, 6.0, 24.0, math.inf]


def _cfg(latency: float) -> dict:
    return latency_job(latency, seeds=4)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A real latency sweep (5 points x 4 paired seeds), a single run's folder and a sweep over
    the number of uploaders, each aggregated with every warning recorded."""
    tmp = tmp_path_factory.mktemp("answer")
    dirs = []
    for j, lat in enumerate(LATENCIES):
        run_job(_cfg(lat), tmp / str(j), params={"policy.latency_h": lat}, job_num=j,
                cache_dir=tmp / ".cache")
        dirs.append(tmp / str(j))
    single = tmp_path_factory.mktemp("single")
    run_job(_cfg(6.0), single)
    other = tmp_path_factory.mktemp("other")  # a sweep over something else than a latency
    for j, uploaders in enumerate([2, 4]):
        cfg = _cfg(6.0)
        cfg["scenario"]["uploaders"] = uploaders
        run_job(cfg, other / str(j), params={"scenario.uploaders": uploaders}, job_num=j)
    caught = {}
    outputs = {}
    for name, out, folders in (("sweep", tmp, dirs), ("single", single, [single]),
                               ("other", other, [other / "0", other / "1"])):
        with warnings.catch_warnings(record=True) as w, \
                matplotlib.rc_context({"svg.fonttype": "none"}):  # (titles as text in the SVG)
            warnings.simplefilter("always")
            outputs[name] = write_outputs(out, folders, svg=True, experiment="latency_sweep",
                                          command="spreadsim seeds=4", graph="test graph")
        caught[name] = [f"{x.category.__name__}: {x.message}" for x in w]
    return {"dir": tmp, "single_dir": single, "outputs": outputs, "warnings": caught}


def test_plotting_a_sweep_or_a_single_run_emits_no_warning(sweep):
    assert sweep["warnings"] == {"sweep": [], "single": [], "other": []}
    o = sweep["outputs"]["other"]
    assert o.answer.kind == "points" and o.answer.sentence.endswith("prevented.")
    assert "with uploaders=2" in o.answer.sentence and "with uploaders=4" in o.answer.details[0]


def test_latency_sweep_answer_is_the_longest_latency_preventing_half(sweep):
    o = sweep["outputs"]["sweep"]
    summary = read_table(sweep["dir"] / "summary")
    results = read_table(sweep["dir"] / "results")
    lat = summary["policy.latency_h"]
    # the rule, computed here from the tables: the longest finite latency > 0 whose share of
    # reach prevented is at least one half
    ok = [i for i in range(len(lat)) if 0 < lat[i] < math.inf and summary["prevented_share"][i] >= 0.5]
    i = max(ok, key=lambda k: lat[k])
    m, lo, hi = (summary[c][i] for c in ("reach_mean", "reach_ci_low", "reach_ci_high"))
    assert m == pytest.approx(mean_ci(results["reach_mean"][results["job"] == summary["job"][i]])[0])
    assert o.answer.kind == "latency"
    never = summary["reach_mean"][np.isinf(lat)][0]
    want = (f"Reach per illegal post: {fmt_number(m)} users (95% CI {fmt_number(lo)} to "
            f"{fmt_number(hi)}) at {fmt_latency(lat[i])} vs {fmt_number(never)} if never removed; "
            f"a {fmt_latency(lat[i])} deadline prevents ")
    assert o.answer.sentence.startswith(want), o.answer.sentence
    share = f"{100 * summary['prevented_share'][i]:.1f}%"
    assert share in o.answer.sentence and "95% CI" in o.answer.sentence.split("prevents")[1]
    text = o.answer.text()
    assert text.startswith("question: How much reach per illegal post") and "\nanswer:   " in text


def test_single_run_answer_and_plot_say_what_the_point_is(sweep):
    o = sweep["outputs"]["single"]
    assert o.answer.kind == "points"
    assert describe_point(_cfg(6.0)) == "fixed_latency (latency_h=6)"
    assert "with fixed_latency (latency_h=6)" in o.answer.sentence
    assert re.search(r"\d+(\.\d+)?% of the reach \(95% CI [\d.]+% to [\d.]+%\) prevented",
                     o.answer.sentence), o.answer.sentence
    svg = (sweep["single_dir"] / "reach_vs_latency.svg").read_text()
    assert "one run point" in svg and "fixed_latency (latency_h=6)" in svg
    assert "sweep point" not in svg and "job 0" not in svg


def test_latency_axis_is_symlog_with_never_at_its_own_tick():
    import matplotlib.pyplot as plt

    lat = np.array([0, 0.25, 1, 6, 24, 168, math.inf])
    axis = LatencyAxis(lat)
    fig, ax = plt.subplots()
    try:
        xs = axis.map(lat)
        ax.plot(xs, np.arange(len(xs)))
        axis.decorate(ax, xs, "policy.latency_h")
        assert ax.get_xscale() == "symlog"
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert labels == ["0", "0.25", "1", "6", "24", "168", "never"]
        ticks = ax.get_xticks()
        assert ticks[0] == 0 and ticks[-1] == pytest.approx(1680)  # one decade beyond 168 h
        # on screen each decade is as wide as the next: the axis is logarithmic above 0.25 h
        px = ax.transData.transform(np.c_[[1, 10, 100], [0, 0, 0]])[:, 0]
        assert px[2] - px[1] == pytest.approx(px[1] - px[0], rel=1e-6)
        assert "symmetric log" in ax.get_xlabel()
    finally:
        plt.close(fig)


def test_calibration_answer_reads_the_record():
    record = {"lever": "policy.latency_h", "target": 50.0, "stat": "mean",
              "line": "largest policy.latency_h keeping mean reach per post <= 50: 7.042 "
                      "(95% CI 4.158 to 720; 3 paired seeds; deadline path)"}
    a = calibration_answer(record)
    assert a.question == ("What is the largest policy.latency_h that keeps mean reach per illegal "
                          "post at or below 50 users?")
    assert a.sentence.startswith("Largest policy.latency_h keeping") and a.sentence.endswith(".")


def test_answer_leaves_out_a_column_the_summary_lacks():
    summary = {"job": np.array([0, 1]), "policy.latency_h": np.array([6.0, math.inf]),
               "reach_mean": np.array([40.0, 500.0]), "reach_ci_low": np.array([30.0, 400.0]),
               "reach_ci_high": np.array([50.0, 600.0])}
    a = latency_answer(summary, "policy.latency_h", ["policy.latency_h"])
    # no share prevented column: compared with the never-removed point, and said so
    assert a.sentence == ("Reach per illegal post: 40 users (95% CI 30 to 50) at 6 h vs 500 if "
                          "never removed; against the sweep's never-removed point (not paired "
                          "unmoderated twins), a 6 h deadline cuts reach per post by 92.0%.")


# ----------------------------------------------------------------------------- without baselines

NO_BASELINE = {"baseline": False, "graph": {"kind": "barabasi_albert", "n": 2000, "m": 3, "seed": 1}}


@pytest.fixture(scope="module")
def unpaired():
    """The reviewer's sweep without baseline runs: 0, 1, 6, 24 h and never, 5 paired seeds."""
    s = spreadsim.sweep(NO_BASELINE, over={"policy.latency_h": [0, 1, 6, 24, "never"]}, seeds=5)
    return {k: s.summary[k].to_numpy() for k in s.summary}, list(s.params)


def test_without_baselines_the_latency_answer_compares_with_the_never_removed_point(unpaired):
    summary, params = unpaired
    assert np.isnan(summary["prevented_share"]).all()  # (no twin: no paired share)
    a = answer(summary, params, {})
    lat, reach = summary["policy.latency_h"], summary["reach_mean"]
    never = reach[np.isinf(lat)][0]
    cut = 1 - reach / never
    # the rule, computed here: the longest finite latency > 0 that cuts reach per post by half
    i = max((k for k in range(len(lat)) if 0 < lat[k] < math.inf and cut[k] >= 0.5),
            key=lambda k: lat[k])
    assert a.kind == "latency"
    assert a.sentence.startswith(f"Reach per illegal post: {fmt_number(reach[i])} users "
                                 f"(95% CI {fmt_number(summary['reach_ci_low'][i])} to "
                                 f"{fmt_number(summary['reach_ci_high'][i])}) at "
                                 f"{fmt_latency(lat[i])} vs {fmt_number(never)} if never removed"), \
        a.sentence
    assert "never-removed point (not paired unmoderated twins)" in a.sentence
    assert f"cuts reach per post by {100 * cut[i]:.1f}%" in a.sentence
    assert "prevents" not in a.sentence and "no baseline having been run" in a.details[-1]


def test_without_baselines_or_a_never_point_the_answer_claims_no_prevention(unpaired):
    summary, params = unpaired
    keep = np.isfinite(summary["policy.latency_h"])
    a = answer({k: v[keep] for k, v in summary.items()}, params, {})
    assert "no baseline was run (baseline: false)" in a.sentence
    assert not re.search(r"prevents|cuts|% of the reach", a.sentence), a.sentence


def test_twins_that_reached_nobody_prevent_nothing_and_the_answer_says_so():
    """A share of nothing is undefined: NaN in the summary, no claim in the answer."""
    summary = {"job": np.array([0, 1]), "policy.latency_h": np.array([1.0, 6.0]),
               "reach_mean": np.array([0.0, 0.0]), "reach_ci_low": np.array([0.0, 0.0]),
               "reach_ci_high": np.array([0.0, 0.0]), "reach_baseline_mean": np.array([0.0, 0.0]),
               "prevented_share": np.array([np.nan, np.nan]),
               "prevented_share_ci_low": np.array([np.nan, np.nan]),
               "prevented_share_ci_high": np.array([np.nan, np.nan])}
    a = latency_answer(summary, "policy.latency_h", ["policy.latency_h"])
    assert a.sentence.endswith("the unmoderated twins reached nobody, so there was no reach to "
                               "prevent."), a.sentence


# ----------------------------------------------------------------------------- one rule each


def test_the_answer_and_the_plots_find_the_latency_and_group_rows_alike():
    from spreadsim.outputs import answer as answer_module
    from spreadsim.outputs import plots, tables

    assert plots.latency_column is tables.latency_column and plots.point_groups is tables.point_groups
    assert not hasattr(answer_module, "latency_param") and not hasattr(answer_module, "_groups")
    # a half-life among the parameters wins over a latency that is not one of them
    summary = {"job": np.arange(4), "other.latency_h": np.array([1.0, 2, 3, 4]),
               "policy.half_life_h": np.array([1.0, 6.0, 1.0, 6.0]),
               "graph.m": np.array([2.0, 2.0, 3.0, 3.0]),
               "reach_mean": np.array([5.0, 9, 6, 10]), "reach_ci_low": np.array([4.0, 8, 5, 9]),
               "reach_ci_high": np.array([6.0, 10, 7, 11])}
    params = ["policy.half_life_h", "graph.m"]
    assert tables.latency_column(summary, params) == "policy.half_life_h"
    assert tables.latency_column(summary) == "other.latency_h"  # (every column: a latency first)
    groups = tables.point_groups(summary, "policy.half_life_h", params)
    assert [g for g, _ in groups] == ["m=2", "m=3"]  # (the plot's legend: values as %g)
    a = answer(summary, params, {})
    assert a.kind == "latency" and "half-life" in a.question
    assert a.sentence.startswith("m=2: ") and a.details[0].startswith("m=3: ")


# ----------------------------------------------------------------------------- several platforms

PLATFORMS = {"platforms": [
    {"name": "big", "graph": {"kind": "barabasi_albert", "n": 600, "m": 3, "seed": 3},
     "policy": [{"name": "fixed_latency", "latency_h": 6.0}]},
    {"name": "small", "graph": {"kind": "barabasi_albert", "n": 300, "m": 2, "seed": 4},
     "policy": [{"name": "fixed_latency", "latency_h": 24.0}]}],
    "cross_posting": {"overlap": 0.3, "prob": 0.3, "delay": {"dist": "exponential", "mean_h": 2.0}},
    "scenario": {"illegal_posts": 6, "uploaders": 3, "horizon_h": 96}, "baseline": False}


def test_the_platforms_answer_reads_the_summary_and_answers_every_point():
    s = spreadsim.sweep(PLATFORMS, over={"cross_posting.prob": [0.1, 0.6]}, seeds=3)
    summary = {k: s.summary[k].to_numpy() for k in s.summary}
    results = {k: s.results[k].to_numpy() for k in s.results}
    labels = ["prob=0.1", "prob=0.6"]
    a = answer(summary, list(s.params), PLATFORMS, results=results, labels=labels)
    assert a.kind == "platforms" and a.table is not None
    for i, label in enumerate(labels):
        said = a.sentence if i == 0 else a.details[0]
        assert said.startswith(f"{label}: Reach per illegal post: big "), said
        lo, hi = summary["big.reach_ci_low"][i], summary["big.reach_ci_high"][i]
        assert (f"big {fmt_number(summary['big.reach_mean'][i])} users (95% CI {fmt_number(lo)} "
                f"to {fmt_number(hi)}); small {fmt_number(summary['small.reach_mean'][i])} users"
                in said), said
        sel = (a.table["point"] == label)
        assert a.table["platform"][sel].tolist() == ["big", "small"]
        np.testing.assert_array_equal(a.table["reach_per_post_mean"][sel],
                                      [summary["big.reach_mean"][i], summary["small.reach_mean"][i]])
        cross = results["small.cross_posts_in"][results["job"] == summary["job"][i]]
        assert a.table["cross_posts_in_mean"][sel][1] == mean_ci(cross)[0]
    assert sum(d.startswith(f"{labels[1]}: Cross-posting onto ") for d in a.details) == 2
