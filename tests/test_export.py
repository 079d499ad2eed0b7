"""Cascades out (issue 19, section 2): the shares and exposures tables of a traced run, the
per-cascade table, the tree figure, the job's export and the command line.

The tables are checked against the run's own records (the posts table's reach, views and shares;
the removal times) and against a tiny graph whose tree is known exactly; the streaming against
the same export in one row group; the command line end to end (`spreadsim ... export=shares`,
then `spreadsim fit` on the file it wrote).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import spreadsim
from spreadsim.errors import ConfigError, DataError
from spreadsim.outputs.cascade_plot import plot_cascade
from spreadsim.outputs.cascade_tables import CASCADE_COLUMNS, EXPOSURE_COLUMNS, SHARE_COLUMNS, cascade_table
from spreadsim.outputs.glossary import undescribed
from spreadsim.outputs.io import read_table
from spreadsim.runs import cascades as C
from spreadsim.runs.job import run_job
from spreadsim.runs.jobspec import check_job_config
from spreadsim.runs.single import new_simulation
from spreadsim.schema.config import SimConfig
from tests.helpers import config, digraph

WORLD = {"graph": {"kind": "random_k_out", "n": 3000, "k": 6, "seed": 3},
         "scenario": {"illegal_posts": 30, "legal_posts": 10, "uploaders": 5, "horizon_h": 72.0},
         "policy": {"name": "latency_distribution", "dist": "exponential", "half_life_h": 12.0,
                    "removal_prob": 0.6}}


def _col(path: Path, name: str) -> np.ndarray:
    return pq.read_table(path, columns=[name]).column(name).to_numpy(zero_copy_only=False)


def test_the_tables_are_the_runs_tree(tmp_path):
    """Every share and exposure of the run: counts equal the posts table's, every parent and
    source is a share of the same cascade, the reshared exposures are the shares, every exposure
    came before its copy's removal, observed_until is the removal or the horizon; tracing for
    the export changes no result; the columns are in the glossary."""
    r = spreadsim.simulate(WORLD, seed=4, export=tmp_path, export_exposures=True)
    assert r.exposures == {}  # the trace was only the export's
    plain = spreadsim.simulate(WORLD, seed=4)
    for k, v in plain.posts.items():
        np.testing.assert_array_equal(r.posts[k], v, err_msg=k)
    shares = pq.read_table(tmp_path / "shares.parquet").to_pandas()
    expo = pq.read_table(tmp_path / "exposures.parquet").to_pandas()
    assert tuple(shares.columns) == SHARE_COLUMNS and tuple(expo.columns) == EXPOSURE_COLUMNS
    posts = r.posts
    n_posts = len(posts["post_id"])
    assert len(shares) == n_posts + int(posts["shares"].sum())
    assert len(expo) == int(posts["views"].sum()) and len(expo) > len(shares) > n_posts + 20
    np.testing.assert_array_equal(np.bincount(expo["post_id"][expo["first"]], minlength=n_posts), posts["reach"])
    np.testing.assert_array_equal(np.bincount(shares["post_id"], minlength=n_posts) - 1, posts["shares"])
    # uploads: one per post, without a parent, by the uploader at the upload time
    up = shares[shares["parent"].isna()].sort_values("post_id")
    np.testing.assert_array_equal(up["post_id"], posts["post_id"])
    np.testing.assert_array_equal(up["user"], posts["uploader"])
    np.testing.assert_array_equal(up["time"], posts["upload_time_h"])
    assert (shares["cascade"] == shares["seed"].astype(str) + ":" + shares["post_id"].astype(str)).all()
    assert (shares["event"] == shares["user"]).all()
    # parents and sources are shares of the same post, made before
    key = dict(zip(zip(shares["post_id"], shares["event"], strict=True), shares["time"], strict=True))
    re = shares[shares["parent"].notna()]
    assert all(key[(q, int(p))] <= t for q, p, t in zip(re["post_id"], re["parent"], re["time"], strict=True))
    assert all(key[(q, s)] < t for q, s, t in zip(expo["post_id"], expo["source"], expo["time"], strict=True))
    # the reshared exposures are exactly the reshares
    rs = expo[expo["reshared"]]
    assert sorted(zip(rs["post_id"], rs["user"], rs["time"], strict=True)) == \
        sorted(zip(re["post_id"], re["user"], re["time"], strict=True))
    # removal: observed until the removal or the horizon; every exposure before its copy's removal
    removal = np.where(np.isnan(posts["removal_time_h"].astype(float)), np.inf, posts["removal_time_h"])
    assert 0 < np.isfinite(removal).sum() < n_posts
    np.testing.assert_array_equal(shares["observed_until"], np.minimum(removal, 72.0)[shares["post_id"]])
    assert (shares["time"] <= shares["observed_until"]).all()
    assert expo["before_removal"].all()
    rt = expo["removal_time_h"].to_numpy(dtype=float, na_value=np.inf)
    assert (expo["time"] < rt).all() and (rt <= removal[expo["post_id"]]).all()
    for name in ("shares", "exposures"):
        cols = list(pq.read_schema(tmp_path / f"{name}.parquet").names)
        assert undescribed(name, cols) == []
    assert undescribed("cascades", list(read_table(tmp_path / "cascades"))) == []
    # deterministic: the same run exports the same bytes
    spreadsim.simulate(WORLD, seed=4, export=tmp_path / "again", export_exposures=True)
    for f in ("shares.parquet", "exposures.parquet", "cascades.parquet", "cascades.csv"):
        assert (tmp_path / f).read_bytes() == (tmp_path / "again" / f).read_bytes(), f


def test_streamed_in_row_groups(tmp_path, monkeypatch):
    """Slices of ROW_GROUP log rows give row groups of at most that many rows, and the same
    table as one slice."""
    cfg = SimConfig.from_dict(WORLD)
    sim = new_simulation(cfg, 5, trace=True)
    sim.run()
    C.export_cascades(sim, tmp_path / "whole", exposures=True)
    monkeypatch.setattr(C, "ROW_GROUP", 64)
    C.export_cascades(sim, tmp_path / "sliced", exposures=True)
    m = sim.exposure_log().time.shape[0]
    meta = pq.ParquetFile(tmp_path / "sliced" / "exposures.parquet").metadata
    assert meta.num_row_groups == -(-m // 64) and meta.num_rows == m
    assert max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) == 64
    for f in ("shares.parquet", "exposures.parquet"):
        assert pq.read_table(tmp_path / "whole" / f).equals(pq.read_table(tmp_path / "sliced" / f)), f


def test_a_known_tree(tmp_path):
    """A tiny graph where everyone reshares after exactly 1 h: the tree, its depths and the
    per-cascade table are known; the post is removed at 2.5 h, so the share due at 3 h never
    happens."""
    g = digraph([(0, 1), (0, 2), (1, 3), (3, 4), (4, 5), (2, 6)], n=7)
    cfg = config(share_prob=1.0, horizon_h=10.0, policy={"name": "fixed_latency", "latency_h": 2.5})
    spreadsim.simulate(cfg, seed=0, graph=g, export=tmp_path, export_exposures=True)
    shares = pq.read_table(tmp_path / "shares.parquet").to_pydict()
    got = sorted(zip(shares["user"], shares["parent"], shares["time"], strict=True))
    assert got == [(0, None, 0.0), (1, 0, 1.0), (2, 0, 1.0), (3, 1, 2.0), (6, 2, 2.0)]
    assert set(shares["observed_until"]) == {2.5} and set(shares["removal_time_h"]) == {2.5}
    assert sorted(_col(tmp_path / "exposures.parquet", "user")) == [1, 2, 3, 6]
    t = read_table(tmp_path / "cascades")
    assert tuple(t) == CASCADE_COLUMNS
    assert (t["reshares"].tolist(), t["depth"].tolist(), t["breadth"].tolist()) == ([4], [2], [2])
    assert t["removed"].tolist() == [True] and t["cascade"].tolist() == ["0:0"]
    # the table from a mapping of arrays, and a cycle refused
    table = {**shares, "parent": np.array([-1 if p is None else p for p in shares["parent"]]),
             "removal_time_h": np.array(shares["removal_time_h"], dtype=float)}
    assert cascade_table(table)["depth"].tolist() == [2]
    bad = {**table, "parent": np.array([1, 3, 0, 1, 2])}  # no upload: 0 <- 1 <- 3 <- 1
    with pytest.raises(DataError, match="upload|cycle"):
        cascade_table(bad)


def test_tree_figure(tmp_path):
    """One cascade's tree over time: a PNG (and SVG) of the largest cascade, or of a chosen one;
    an unknown cascade is refused in one line."""
    spreadsim.simulate(WORLD, seed=6, export=tmp_path)
    sizes = read_table(tmp_path / "cascades")
    files = plot_cascade(tmp_path / "shares.parquet", tmp_path / "tree.png", svg=True)
    assert [f.name for f in files] == ["tree.png", "tree.svg"]
    png = (tmp_path / "tree.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    largest = sizes["cascade"][int(np.argmax(sizes["reshares"]))]
    assert f"cascade {largest} " in (tmp_path / "tree.svg").read_text()
    removed = sizes["cascade"][np.flatnonzero(sizes["removed"] & (sizes["reshares"] > 0))[0]]
    plot_cascade(pq.read_table(tmp_path / "shares.parquet"), tmp_path / "one.png", removed, svg=True)
    assert "removed at" in (tmp_path / "one.svg").read_text()
    with pytest.raises(DataError, match=r"^cascade = '9:999': not in the shares table"):
        plot_cascade(tmp_path / "shares.parquet", tmp_path / "none.png", "9:999")
    assert not (tmp_path / "none.png").exists()


def test_refusals(tmp_path):
    sim = new_simulation(SimConfig.from_dict(WORLD), 0)
    sim.run()
    with pytest.raises(ConfigError, match=r"^trace = False: must be true to export"):
        C.export_cascades(sim, tmp_path / "x")
    assert not (tmp_path / "x").exists()  # nothing written
    with pytest.raises(ConfigError, match=r"^export = 'all': unknown export; allowed: none, shares, exposures$"):
        check_job_config({"export": "all"})
    # refused by the check before any job, not when the job runs
    with pytest.raises(ConfigError, match=r"^export = 'shares': must be none for a calibration"):
        check_job_config({**WORLD, "seeds": 2, "export": "shares",
                          "calibration": {"target": 5.0, "lever": "policy.half_life_h"}})
    two = {"platforms": [{"name": "a", "graph": WORLD["graph"]}, {"name": "b", "graph": WORLD["graph"]}],
           "baseline": False, "export": "shares"}
    with pytest.raises(ConfigError, match=r"^export = 'shares': must be none for a multi-platform run"):
        check_job_config(two)


def test_job_export_and_resume(tmp_path):
    """A job with export: one shares and exposures file for its seeds (cascade ids
    <seed>:<post>), the per-cascade table, all in the done marker; resume skips the finished job
    and runs a job again whose export file went missing."""
    cfg = {**WORLD, "seed": 2, "seeds": 2, "baseline": True, "export": "exposures",
           "policy": {"name": "fixed_latency", "latency_h": 6.0}}  # a deadline: simulated all the same
    out = tmp_path / "job"
    assert run_job(cfg, out)
    assert set(_col(out / "shares.parquet", "seed")) == {2, 3}
    assert set(_col(out / "exposures.parquet", "seed")) == {2, 3}
    assert read_table(out / "runs")["path"].tolist() == ["simulated", "simulated"]
    posts = read_table(out / "posts")
    assert len(_col(out / "shares.parquet", "post_id")) == len(posts["post_id"]) + int(posts["shares"].sum())
    assert len(read_table(out / "cascades")["cascade"]) == len(posts["post_id"])
    marker = json.loads((out / "done").read_text())
    assert {"shares.parquet", "exposures.parquet", "cascades.parquet", "cascades.csv"} <= set(marker["files"])
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left
    assert not run_job(cfg, out)
    (out / "shares.parquet").unlink()
    assert run_job(cfg, out)
    assert (out / "shares.parquet").exists()
    # export: shares writes no exposures table (and removes an earlier one)
    assert run_job({**cfg, "export": "shares"}, out)
    assert not (out / "exposures.parquet").exists()
    assert "exposures.parquet" not in json.loads((out / "done").read_text())["files"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.run([sys.executable, "-m", "spreadsim.app.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_cli_export_then_fit(tmp_path):
    """`spreadsim experiment=single export=shares ...` writes shares.parquet into the run folder,
    and `spreadsim fit` on that file prints the parameters with intervals and writes a config."""
    run = tmp_path / "run"
    r = _cli("experiment=single", "export=shares", "seeds=2", "graph=random_k_out", "graph.n=5000",
             "graph.k=8", "scenario.illegal_posts=60", "scenario.legal_posts=0", f"hydra.run.dir={run}",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert set(_col(run / "shares.parquet", "seed")) == {0, 1}
    assert (run / "cascades.csv").stat().st_size > 0
    f = _cli("fit", str(run / "shares.parquet"), "--kernels", "exponential,lognormal", "--graph", "random_k_out",
             "--graph-set", "n=5000", "--graph-set", "k=8", "--name", "own", "--out", str(tmp_path / "fitted"),
             cwd=tmp_path)
    assert f.returncode == 0, f.stderr
    assert "cascades: 120" in f.stdout and "n = " in f.stdout and " [" in f.stdout
    assert "parent -> child delays" in f.stdout  # the export's parent links are used
    assert (tmp_path / "fitted" / "spread" / "fitted_own.yaml").stat().st_size > 0


PEAK = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np
    from spreadsim.runs.cascades import export_cascades
    from spreadsim.runs.single import new_simulation
    from spreadsim.schema.config import SimConfig
    cfg = SimConfig.from_dict({
        "graph": {"kind": "random_k_out", "n": int(sys.argv[2]), "k": 10, "seed": 1},
        "spread": {"kernel": {"dist": "exponential", "rate_per_h": 0.5}},
        "scenario": {"illegal_posts": 2, "legal_posts": 0, "uploaders": 2, "horizon_h": 400.0,
                     "categories": {"hate_speech": {"weight": 1.0, "share_prob": 0.5}}},
        "policy": None})
    sim = new_simulation(cfg, 0, trace=True)
    result = sim.run()
    result.exposures = {}  # (what simulate(export=...) does)
    log = sim.exposure_log()
    log_bytes = sum(a.nbytes for a in log)  # the log's own arrays (views of the kernel's)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tic = time.perf_counter()
    export_cascades(sim, sys.argv[1], exposures=True)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"exposures": int(log.time.shape[0]), "log_mb": log_bytes / 2**20,
                      "peak_before_mb": before / 1024, "peak_after_mb": after / 1024,
                      "export_s": time.perf_counter() - tic}))
""")


@pytest.mark.slow
def test_peak_memory_of_a_large_export(tmp_path):
    """About 10 million exposures (two posts that reach most of a million users): the export
    raises the process's peak RSS by less than a quarter of the exposure log's own size (it
    holds a row group, never the tables)."""
    r = subprocess.run([sys.executable, "-c", PEAK, str(tmp_path), "1000000"], capture_output=True,
                       text=True, timeout=1800)
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout.strip().splitlines()[-1])
    print(m)
    assert m["exposures"] > 8_000_000
    assert m["peak_after_mb"] - m["peak_before_mb"] < 0.25 * m["log_mb"]
    assert pq.ParquetFile(tmp_path / "exposures.parquet").metadata.num_rows == m["exposures"]
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss > 0


def test_per_copy_removal_times(tmp_path):
    """Under per_copy removal with a fixed latency L every copy goes L after it was shared: an
    exposure's removal_time is its source share's time + L (empty past the horizon), and it came
    before it."""
    cfg = {**WORLD, "spread": {"removal": "per_copy"}, "policy": {"name": "fixed_latency", "latency_h": 5.0}}
    spreadsim.simulate(cfg, seed=3, export=tmp_path, export_exposures=True)
    shares = pq.read_table(tmp_path / "shares.parquet").to_pandas()
    expo = pq.read_table(tmp_path / "exposures.parquet").to_pandas()
    legal = set(shares["post_id"][shares["category"] == "legal"])
    expo = expo[~expo["post_id"].isin(legal)]  # (applies_to: illegal)
    when = dict(zip(zip(shares["post_id"], shares["event"], strict=True), shares["time"], strict=True))
    clock = np.array([when[(q, s)] + 5.0 for q, s in zip(expo["post_id"], expo["source"], strict=True)])
    want = np.where(clock < 72.0, clock, np.nan)
    np.testing.assert_array_equal(expo["removal_time_h"].to_numpy(dtype=float), want)
    assert expo["before_removal"].all() and len(expo) > 100
