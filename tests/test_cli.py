"""The ``spreadsim`` Hydra app: every config composes and validates; runs write the tables;
bad input gives one line on stderr, a non-zero exit and no result file."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra

from spreadsim.app.task import task_container
from spreadsim.errors import ConfigError
from spreadsim.outputs.io import read_table
from spreadsim.policies import make_policy
from spreadsim.runs.jobspec import check_job_config

from .helpers import stderr_lines

GROUPS = ("graph", "spread", "policy", "scenario", "experiment")
SMALL = ["graph.n=600", "scenario.illegal_posts=4", "scenario.horizon_h=72"]
RESULT_FILES = ("results.parquet", "results.csv", "summary.parquet", "summary.csv",
                "reach_vs_latency.png", "runs.parquet", "done")


def _options(group: str) -> list[str]:
    root = resources.files("spreadsim.conf") / group
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


@pytest.fixture
def hydra_compose():
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="spreadsim.conf", version_base="1.3"):
        yield compose
    GlobalHydra.instance().clear()


#: policy options that send posts to notice_and_takedown's review queue
REVIEW_USERS = ("authority_referral", "circuit_breaker")


@pytest.mark.parametrize("group", GROUPS)
def test_every_config_composes_and_validates(group, hydra_compose, tmp_path):
    edges = tmp_path / "edges.txt"
    edges.write_text("0 1\n1 2\n2 0\n2 3\n")
    options = _options(group)
    assert options
    for opt in options:
        overrides = [f"{group}={opt}"]
        if group == "graph" and opt == "edgelist":
            overrides += [f"graph.path={edges}", "scenario.uploaders=2"]  # (4 users)
        cfg = hydra_compose(config_name="config", overrides=overrides)
        plain = task_container(cfg)
        if group == "policy" and opt in REVIEW_USERS:
            # members of a stack: alone they have no review queue to send posts to
            with pytest.raises(ConfigError, match=r"^policy = '\w+': needs a review queue"):
                check_job_config(plain)
            plain["policy"] = [{"name": "notice_and_takedown"}, plain["policy"]]
        spec = check_job_config(plain)
        if spec.multi is not None:  # several platforms, each with its own graph and policies
            assert spec.seeds and len(spec.multi.platforms) >= 1, (group, opt)
            continue
        assert spec.seeds and spec.sim is not None and spec.sim.scenario.horizon_h > 0, (group, opt)
        for i, p in enumerate(spec.sim.policies):
            make_policy(p, f"policy[{i}]")


def test_default_config_is_the_latency_sweep(hydra_compose):
    cfg = hydra_compose(config_name="config", return_hydra_config=True)
    assert cfg.seed == 0 and cfg.seeds == 20 and cfg.baseline is True
    assert cfg.graph.kind == "barabasi_albert" and cfg.graph.n == 10000 and cfg.graph.m == 5
    assert cfg.graph.seed == 2018
    assert str(cfg.hydra.mode) == "RunMode.MULTIRUN"
    assert cfg.hydra.sweeper.params["policy.latency_h"] == "0,0.25,1,6,24,168,inf"
    assert cfg.hydra.callbacks.aggregate._target_ == "spreadsim.app.callback.AggregateCallback"
    assert cfg.hydra.sweeper._target_ == "hydra_plugins.spreadsim_sweeper.SpreadsimSweeper"
    assert cfg.hydra.launcher._target_.endswith("JoblibLauncher") and cfg.hydra.launcher.n_jobs == -1
    assert cfg.deadline_path == "auto" and cfg.plots.svg is False


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.run([sys.executable, "-m", "spreadsim.app.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _single(tmp_path: Path, name: str, *extra: str) -> Path:
    out = tmp_path / name
    r = _run("experiment=single", "seeds=2", *SMALL, f"hydra.run.dir={out}", *extra, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "reach/post" in r.stdout  # the printed summary
    return out


@pytest.fixture(scope="module")
def single_runs(tmp_path_factory):
    """Two runs of the same single-point config (seeds 0, 1) into two folders."""
    tmp = tmp_path_factory.mktemp("single")
    return _single(tmp, "a", "policy.latency_h=6"), _single(tmp, "b", "policy.latency_h=6")


def test_single_run_writes_tables(single_runs):
    out = single_runs[0]
    for t in ("runs", "posts", "series", "results", "summary"):
        assert (out / f"{t}.parquet").is_file() and (out / f"{t}.csv").is_file(), t
    assert (out / "done").is_file() and (out / "reach_vs_latency.png").is_file()
    runs = read_table(out / "runs")
    assert runs["seed"].tolist() == [0, 1]
    assert np.all(runs["reach_mean"] <= runs["reach_baseline_mean"])
    posts = read_table(out / "posts")
    # 4 illegal + 20 legal posts (scenario default) per seed
    assert len(posts["seed"]) == 2 * (4 + 20) and set(posts["seed"].tolist()) == {0, 1}
    series = read_table(out / "series")
    for s in (0, 1):  # hourly from 0 h, at most to the 72 h horizon, ending at the final reach
        t = series["time_h"][series["seed"] == s]
        assert t[0] == 0.0 and len(t) <= 73 and np.allclose(np.diff(t), 1.0)
        final = series["reach_illegal"][series["seed"] == s][-1]
        assert final == posts["reach"][(posts["seed"] == s) & (posts["category"] != "legal")].sum()
    res = read_table(out / "results")
    assert res["policy.latency_h"].tolist() == [6.0, 6.0]
    summary = read_table(out / "summary")
    assert summary["n_seeds"].tolist() == [2]
    assert summary["reach_mean"][0] == pytest.approx(runs["reach_mean"].mean())


def test_same_config_and_seed_give_identical_parquet(single_runs):
    a, b = single_runs
    for t in ("runs", "posts", "series", "results", "summary"):
        assert (a / f"{t}.parquet").read_bytes() == (b / f"{t}.parquet").read_bytes(), t


def test_seed_zero_is_honoured_and_differs_from_seed_one(single_runs, tmp_path):
    a = read_table(single_runs[0] / "posts")  # seed=0 (the default first seed), seeds 0 and 1
    b = read_table(_single(tmp_path, "s1", "seed=1", "seeds=1", "policy.latency_h=6") / "posts")
    assert set(b["seed"].tolist()) == {1}
    a0, a1 = a["seed"] == 0, a["seed"] == 1
    assert np.array_equal(a["reach"][a1], b["reach"]) and np.array_equal(
        a["upload_time_h"][a1], b["upload_time_h"])  # seed 1 is seed 1, wherever it runs
    assert not np.array_equal(a["upload_time_h"][a0], b["upload_time_h"])  # seed 0 differs


def test_default_sweep_shrunk(tmp_path):
    sweep = tmp_path / "sweep"
    r = _run("seeds=2", *SMALL, "policy.latency_h=0,1,inf", "hydra.launcher.n_jobs=1",
             f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    res = read_table(sweep / "results")
    assert len(res["seed"]) == 3 * 2
    assert res["policy.latency_h"].tolist() == [0.0, 0.0, 1.0, 1.0, math.inf, math.inf]
    assert res["seed"].tolist() == [0, 1] * 3
    # paired seeds: reach never decreases with latency for the same seed
    reach = res["reach_total"].reshape(3, 2)
    assert np.all(np.diff(reach, axis=0) >= 0)
    summary = read_table(sweep / "summary")
    assert summary["policy.latency_h"].tolist() == [0.0, 1.0, math.inf]
    assert summary["n_seeds"].tolist() == [2, 2, 2]
    # pure deadlines: every job read its results off the shared traced runs
    assert summary["path"].tolist() == ["deadline"] * 3 and set(res["path"]) == {"deadline"}
    assert not (sweep / ".cache").exists()  # the trace cache goes when the sweep completes
    assert (sweep / "report.html").is_file()
    assert summary["reach_mean"][0] == 0.0
    assert summary["prevented_mean"][-1] == 0.0
    for t in ("results", "summary"):
        assert (sweep / f"{t}.csv").is_file()
    png = (sweep / "reach_vs_latency.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    assert "policy.latency_h" in r.stdout and "reach/post" in r.stdout  # printed summary
    assert "deadline" in r.stdout  # the path is printed too


# the cases run as real subprocesses (in parallel)
BAD = {
    "negative latency": (["policy.latency_h=-1"], "policy.latency_h"),
    "nan latency": (["policy.latency_h=nan"], "policy.latency_h"),
    "bad swept value": (["policy.latency_h=1,-2"], "policy.latency_h"),
    "removal_prob above 1": (["policy.removal_prob=1.5"], "policy.removal_prob"),
    "unknown graph": (["graph=nosuch"], "graph"),
    "unknown policy": (["policy=nosuch"], "policy"),
    "unknown key": (["scenario.nosuch=3"], "scenario.nosuch"),
    "edgelist kind without path key": (["graph.kind=edgelist", "graph.path=/nonexistent.txt"],
                                       "graph.path"),
    "zero seeds": (["seeds=0"], "seeds"),
    "single run bad graph param": (["experiment=single", "graph.n=abc"], "graph.n"),
}
# more cases, run in-process through spreadsim.app.cli.main (same code path, cheaper)
BAD_IN_PROCESS = {
    "unknown appended key": (["+scenario.nosuch=3"], "scenario.nosuch"),
    "unknown top-level key": (["+foo=1"], "foo"),
    "missing edge list": (["graph=edgelist", "graph.path=/nonexistent.txt"], "graph.path"),
    "single run zero seeds": (["experiment=single", "seeds=0"], "seeds"),
    "negative seed": (["seed=-1"], "seed"),
    "unparsable override": (["policy.latency_h=["], "policy.latency_h"),
}


def _no_outputs(d: Path, name: str) -> None:
    written = [f for f in d.rglob("*") if f.name in RESULT_FILES or f.suffix == ".parquet"]
    assert not written, (name, written)
    assert not (d / "sweep").exists() and not (d / "run").exists(), name


@pytest.mark.parametrize("name", list(BAD_IN_PROCESS))
def test_bad_input_in_process(name, tmp_path, capsys, monkeypatch):
    from spreadsim.app.cli import main

    args, field = BAD_IN_PROCESS[name]
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    monkeypatch.setattr(sys, "argv", ["spreadsim"])
    GlobalHydra.instance().clear()
    with pytest.raises(SystemExit) as e:
        main([*args, f"hydra.sweep.dir={tmp_path}/sweep", f"hydra.run.dir={tmp_path}/run"])
    GlobalHydra.instance().clear()
    assert e.value.code != 0
    lines = stderr_lines(capsys.readouterr().err)  # every line counts, blank ones too
    assert len(lines) == 1 and lines[0].startswith("spreadsim: error: "), lines
    assert field in lines[0]
    assert "HYDRA_FULL_ERROR" not in os.environ
    _no_outputs(tmp_path, name)


def test_bad_input_one_line_nonzero_no_results(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    procs = {}
    for name, (args, _) in BAD.items():
        d = tmp_path / name.replace(" ", "_")
        d.mkdir()
        seeds = [] if any(a.startswith("seeds=") for a in args) else ["seeds=1"]
        cmd = [sys.executable, "-m", "spreadsim.app.cli", *args, *seeds,
               f"hydra.sweep.dir={d}/sweep", f"hydra.run.dir={d}/run"]
        procs[name] = (d, subprocess.Popen(cmd, cwd=d, env=env, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True))
    for name, (d, p) in procs.items():
        _, err = p.communicate(timeout=300)
        field = BAD[name][1]
        assert p.returncode != 0, name
        lines = stderr_lines(err)  # every line counts, blank ones too
        assert len(lines) == 1, (name, err)
        assert lines[0].startswith("spreadsim: error: "), (name, err)
        assert field in lines[0], (name, err)
        _no_outputs(d, name)
