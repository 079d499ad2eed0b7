"""The experiment runner: the deadline path gives the simulated tables, a killed sweep resumes to
the same table, launchers compose, bad sweeps fail before any job, the report is self-contained,
and the SLA calibration experiment writes its answer."""

from __future__ import annotations

import copy
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra

from spreadsim.app.task import task_container
from spreadsim.errors import ConfigError, DataError
from spreadsim.graphs import Graph
from spreadsim.outputs.aggregate import aggregate
from spreadsim.outputs.io import read_table, write_table
from spreadsim.outputs.sweep_outputs import write_sweep_outputs
from spreadsim.runs.calibration import run_calibration
from spreadsim.runs.job import pinned_graph, run_job
from spreadsim.runs.jobspec import calibration_kind, check_job_config
from spreadsim.runs.tracecache import TraceCache, trace_from_arrays, trace_to_arrays

from .helpers import stderr_lines

SMALL = ["graph.n=600", "scenario.illegal_posts=4", "scenario.horizon_h=72"]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "spreadsim.app.cli", *args]


def same_graph(a: Graph, b: Graph) -> bool:
    return np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)


def _job_cfg(latency: float, **extra) -> dict:
    cfg = {"graph": {"kind": "barabasi_albert", "n": 800, "m": 3, "seed": 7},
           "scenario": {"illegal_posts": 6, "legal_posts": 4, "uploaders": 4, "horizon_h": 96},
           "policy": {"name": "fixed_latency", "latency_h": latency, "removal_prob": 0.8},
           "seed": 0, "seeds": 3, "baseline": True}
    cfg.update(extra)
    return cfg


# --------------------------------------------------------------------------- deadline path


def test_deadline_path_gives_the_simulated_tables(tmp_path):
    """Each job's posts/series tables are byte-identical and the joined results table equals the
    forced-simulation one in every column but ``path`` (byte-identical Parquet without it)."""
    latencies = [0.0, 0.5, 6.0, math.inf]
    dirs: dict[str, list[Path]] = {"auto": [], "off": []}
    for mode in dirs:
        for j, lat in enumerate(latencies):
            d = tmp_path / mode / str(j)
            assert run_job(_job_cfg(lat, deadline_path=mode), d, params={"policy.latency_h": lat},
                           job_num=j, cache_dir=tmp_path / mode / ".cache")
            dirs[mode].append(d)
    # the traces were cached once per seed and shared by the four jobs
    assert len(list((tmp_path / "auto" / ".cache").glob("*/seed-*.npz"))) == 3
    assert not (tmp_path / "off" / ".cache").exists()
    for a, b in zip(dirs["auto"], dirs["off"], strict=True):
        for t in ("posts", "series"):
            assert (a / f"{t}.parquet").read_bytes() == (b / f"{t}.parquet").read_bytes(), (a, t)
    res = {m: aggregate(d)[0] for m, d in dirs.items()}
    assert set(res["auto"]["path"]) == {"deadline"} and set(res["off"]["path"]) == {"simulated"}
    for m in res:
        del res[m]["path"]
        write_table(res[m], tmp_path / f"results_{m}")
    assert (tmp_path / "results_auto.parquet").read_bytes() == \
        (tmp_path / "results_off.parquet").read_bytes()
    # a second run of the same job is skipped as done
    assert not run_job(_job_cfg(0.5, deadline_path="auto"), dirs["auto"][1], job_num=1)


def test_trace_round_trips_through_plain_arrays(tmp_path):
    spec = check_job_config(_job_cfg(1.0))
    cache = TraceCache(tmp_path / "a", _job_cfg(1.0), spec.sim, lambda s: None)
    fresh = cache.get(2)
    assert fresh is not None and cache.computed == 1
    assert cache.get(2) is fresh and cache.computed == 1  # kept in this process
    # the same files in another folder, of which this process holds nothing (as a fresh process):
    # the trace comes from the file
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    again_cache = TraceCache(tmp_path / "b", _job_cfg(1.0), spec.sim, lambda s: None)
    again = again_cache.get(2)
    assert again is not None and again is not fresh
    assert again_cache.computed == 0 and again_cache.loaded == 1
    files = list((tmp_path / "a").glob("*/seed-2.npz"))
    assert len(files) == 1
    with np.load(files[0], allow_pickle=False) as z:  # plain arrays only: no pickle needed
        assert "post_category" in z.files and z["exp_f"].dtype == np.float64
    assert again.posts == fresh.posts
    a, b = fresh.result(spec.sim), again.result(spec.sim)
    for col in a.posts:
        np.testing.assert_array_equal(a.posts[col], b.posts[col])
    rebuilt = trace_from_arrays(spec.sim, trace_to_arrays(fresh))
    assert rebuilt.posts == fresh.posts


def test_policy_that_reacts_is_simulated(tmp_path):
    cfg = _job_cfg(1.0)
    cfg["spread"] = {"removal": "per_copy"}
    assert run_job(cfg, tmp_path / "j", cache_dir=tmp_path / ".cache")
    assert set(read_table(tmp_path / "j" / "runs")["path"]) == {"simulated"}
    assert not (tmp_path / ".cache").exists()


# --------------------------------------------------------------------------- pinned graph


def _pin_another_graph() -> None:
    """Pin a small unrelated graph: the process keeps only the last pinned graph."""
    pinned_graph({"kind": "barabasi_albert", "n": 10, "m": 2, "seed": 0}, 0)


def test_pinned_graph_is_built_once_per_process():
    cfg = {"kind": "barabasi_albert", "n": 300, "m": 2, "seed": 5}
    _pin_another_graph()
    g = pinned_graph(cfg, 5)
    assert pinned_graph(dict(cfg), 5) is g  # same config and seed: the same object
    other = pinned_graph({**cfg, "m": 3}, 5)
    assert other is not g and other.num_edges == 3 * 297
    assert pinned_graph({**cfg, "m": 3}, 5) is other
    # only the last graph is kept: the first one is built again, the same graph
    assert pinned_graph(cfg, 5) is not g and same_graph(pinned_graph(cfg, 5), g)


def test_pinned_edge_list_is_read_again_when_the_file_changes(tmp_path):
    f = tmp_path / "g.txt"
    f.write_text("0 1\n1 2\n")
    cfg = {"kind": "edgelist", "path": str(f), "directed": False}
    g = pinned_graph(cfg, 0)
    assert pinned_graph(cfg, 0) is g and g.num_edges == 2
    f.write_text("0 1\n1 2\n2 3\n")
    assert pinned_graph(cfg, 0).num_edges == 3
    f.unlink()
    with pytest.raises(DataError, match="g.txt"):
        pinned_graph(cfg, 0)


def test_jobs_sharing_a_pinned_graph_write_the_tables_of_fresh_ones(tmp_path):
    """A worker reuses the pinned graph across jobs: byte-identical tables to building it anew."""
    cfgs = [_job_cfg(lat, deadline_path="off") for lat in (1.0, 6.0)]
    for mode in ("warm", "cold"):
        for j, cfg in enumerate(cfgs):
            if mode == "cold":
                _pin_another_graph()  # the job's graph is built anew
            assert run_job(cfg, tmp_path / mode / str(j), job_num=j)
    for j in range(len(cfgs)):
        for t in ("runs", "posts", "series"):
            a, b = (tmp_path / m / str(j) / f"{t}.parquet" for m in ("warm", "cold"))
            assert a.read_bytes() == b.read_bytes(), (j, t)


# --------------------------------------------------------------------------- plots and report


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.refs: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k == "id" and v:
                self.ids.add(v)
            if k in ("src", "href", "xlink:href", "action", "data") and v is not None:
                self.refs.append(v)


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    """Three latency points x 3 seeds, aggregated with every plot (SVG too) and the report."""
    tmp = tmp_path_factory.mktemp("sweep")
    dirs = []
    for j, lat in enumerate([0.0, 2.0, math.inf]):
        d = tmp / str(j)
        run_job(_job_cfg(lat), d, params={"policy.latency_h": lat}, job_num=j,
                cache_dir=tmp / ".cache")
        dirs.append(d)
    write_sweep_outputs(tmp, dirs, svg=True, config_text="policy:\n  latency_h: 0,2,inf\n")
    return tmp


def test_sweep_writes_every_plot_and_table(small_sweep):
    for name in ("reach_vs_latency", "prevented_vs_latency", "time_to_removal", "reach_over_time",
                 "reach_by_category"):
        png = (small_sweep / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000, name
        assert (small_sweep / f"{name}.svg").read_text().lstrip().startswith("<?xml"), name
    cats = read_table(small_sweep / "categories")
    assert set(cats["category"]) == {"hate_speech", "ip_infringement", "terrorist_propaganda", "legal"}
    assert cats["job"].tolist() == sorted(cats["job"].tolist())
    never = (cats["policy.latency_h"] == math.inf) & (cats["category"] != "legal")
    assert np.all(cats["removed_share"][never] == 0)
    summary = read_table(small_sweep / "summary")
    assert summary["path"].tolist() == ["deadline"] * 3


def test_report_is_self_contained_with_every_section(small_sweep):
    text = (small_sweep / "report.html").read_text(encoding="utf-8")
    p = _Refs()
    p.feed(text)
    for section in ("summary", "plots", "config", "seeds", "path", "versions"):
        assert section in p.ids, section
    assert {"table", "svg", "pre"} <= set(p.tags)
    for ref in p.refs:  # every reference stays inside the file
        assert ref.startswith("#") or ref.startswith("data:"), ref
    assert "<script" not in text and "<link" not in text and "@import" not in text
    assert "latency_h: 0,2,inf" in text
    for pkg in ("spreadsim", "numpy", "networkx", "simpy", "hydra-core", "numba", "python"):
        assert f"<td class=\"s\">{pkg}</td>" in text, pkg
    assert "3 paired seeds: 0 to 2" in text
    assert "<td class=\"s\">deadline</td><td>9</td>" in text


# --------------------------------------------------------------------------- calibration


def test_sla_calibration_writes_answer_table_plot(tmp_path):
    cfg = _job_cfg(1.0, calibration={"target": 5.0, "stat": "mean", "lever": "policy.latency_h",
                                     "max": 200.0, "tol": 1e-2})
    cal = run_calibration(cfg, tmp_path)
    assert cal.path.startswith("deadline") and cal.feasible
    assert cal.ci_low <= cal.value <= cal.ci_high
    table = read_table(tmp_path / "calibration")
    assert list(table) == ["policy.latency_h", "reach_mean", "ci_low", "ci_high"]
    assert np.all(np.diff(table["policy.latency_h"]) > 0) and np.all(np.diff(table["reach_mean"]) >= 0)
    answer = json.loads((tmp_path / "calibration.json").read_text())
    assert answer["line"] == cal.line() and answer["seeds"] == [0, 1, 2]
    assert (tmp_path / "calibration.png").read_bytes()[:4] == b"\x89PNG"
    assert 'id="answer"' in (tmp_path / "report.html").read_text()


def test_sla_calibration_count_lever_and_bad_lever():
    cfg = _job_cfg(1.0, calibration={"target": 5.0, "lever": "policy.moderators", "max": 8})
    cfg["policy"] = {"name": "notice_and_takedown", "moderators": 2}
    check_job_config(cfg)
    assert calibration_kind(cfg) == "count"
    bad = copy.deepcopy(cfg)
    bad["calibration"]["lever"] = "policy.nosuch"
    with pytest.raises(ConfigError, match="calibration.lever"):
        check_job_config(bad)
    bad = copy.deepcopy(cfg)
    bad["calibration"]["stat"] = "median"
    with pytest.raises(ConfigError, match="calibration.stat"):
        check_job_config(bad)


# --------------------------------------------------------------------------- configs


@pytest.fixture
def hydra_compose():
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="spreadsim.conf", version_base="1.3"):
        yield compose
    GlobalHydra.instance().clear()


LAUNCHERS = {"local": "JoblibLauncher", "joblib": "JoblibLauncher", "basic": "BasicLauncher"}
try:  # the optional extras' launchers compose only where their plugin is installed
    import hydra_plugins.hydra_submitit_launcher  # noqa: F401

    LAUNCHERS.update({"slurm": "SlurmLauncher", "submitit_slurm": "SlurmLauncher",
                      "submitit_local": "LocalLauncher"})
except ImportError:  # pragma: no cover
    pass
try:
    import hydra_plugins.hydra_ray_launcher  # noqa: F401

    LAUNCHERS.update({"ray_cluster": "RayLauncher", "ray": "RayLauncher"})
except ImportError:
    pass


@pytest.mark.parametrize("experiment", ["latency_sweep", "tco_one_hour"])
def test_every_launcher_composes_with_any_experiment(experiment, hydra_compose):
    """The launcher is chosen on the command line; no experiment pins it (no 'n_jobs' clash)."""
    cfgs = {}
    for launcher, target in LAUNCHERS.items():
        cfg = hydra_compose(config_name="config", return_hydra_config=True,
                            overrides=[f"experiment={experiment}", f"hydra/launcher={launcher}"])
        assert cfg.hydra.launcher._target_.endswith(target), launcher
        cfgs[launcher] = task_container(cfg)
    assert all(c == cfgs["local"] for c in cfgs.values())  # the experiment does not change
    default = hydra_compose(config_name="config", return_hydra_config=True,
                            overrides=[f"experiment={experiment}"])
    assert default.hydra.sweeper._target_ == "hydra_plugins.spreadsim_sweeper.SpreadsimSweeper"
    assert default.hydra.launcher._target_.endswith("JoblibLauncher")
    assert default.hydra.launcher.n_jobs == -1


def test_sla_calibration_experiment_composes(hydra_compose):
    cfg = hydra_compose(config_name="config", return_hydra_config=True,
                        overrides=["experiment=sla_calibration"])
    assert str(cfg.hydra.mode) == "RunMode.RUN"
    plain = task_container(cfg)
    check_job_config(plain)
    assert plain["calibration"]["lever"] == "policy.latency_h"


# --------------------------------------------------------------------------- the sweep check


def _sweep_config(hydra_compose, *overrides: str, params: dict | None = None):
    """The config a sweep's callback gets (``on_multirun_start``): composed without the swept
    values, the command line's overrides recorded, ``params`` as ``hydra.sweeper.params``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import open_dict, read_write

    parsed = OverridesParser.create().parse_overrides(list(overrides))
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    cfg = hydra_compose(config_name="config", return_hydra_config=True,
                        overrides=["experiment=single", *fixed])
    with read_write(cfg), open_dict(cfg):
        cfg.hydra.overrides.task = ["experiment=single", *[o for o in overrides if not o.startswith("hydra.")]]
        cfg.hydra.sweeper.params = params
    return cfg


# sweeps whose every job's checked config must be the config Hydra composes for that job
SWEEPS = {
    "latency sweep": ["policy.latency_h=0,0.25,inf,24"],
    "moderators with a group": ["policy=notice_and_takedown", "policy.moderators=1,2", "seeds=100"],
    "two swept keys, null, a string": ["graph.n=2000,3000", "policy.latency_h=6,null,'never'",
                                       "scenario.illegal_posts=3,4"],
    "interpolation and quoting": ["policy.latency_h=${seeds},1", "spread.removal='per copy','x=y'"],
    "groups change between jobs": ["policy=fixed_latency,notice_and_takedown", "graph=erdos_renyi,sbm",
                                   "seeds=2,3"],
    "a key set twice, and a dict": ["policy.latency_h=1,2", "policy.latency_h=3,4",
                                    "scenario.categories.hate_speech={weight: 2},{share_prob: 0.1}"],
    "a subtree and a key in it": ["scenario={illegal_posts: 3},{uploaders: 5}", "scenario.uploaders=2,3"],
}


@pytest.mark.parametrize("name", list(SWEEPS))
def test_checked_configs_are_the_configs_hydra_composes(name, hydra_compose):
    """The check sets swept values on a config composed once per combination of the other
    overrides: every job's config is the one Hydra composes from the job's overrides."""
    from omegaconf import OmegaConf

    from spreadsim.app.sweepcheck import expected_jobs, job_configs, sweep_lists

    cfg = _sweep_config(hydra_compose, *SWEEPS[name])
    jobs = list(job_configs(cfg))
    assert len(jobs) == expected_jobs(cfg) == math.prod(len(v) for v in sweep_lists(cfg).values())
    assert len({frozenset(o) for o, _ in jobs}) == len(jobs)  # every job once
    for overrides, got in jobs:
        want = hydra_compose(config_name="config", overrides=list(overrides))
        assert OmegaConf.to_container(got, resolve=True) == OmegaConf.to_container(want, resolve=True), overrides


def test_sweep_check_catches_a_value_bad_only_with_another_swept_value(hydra_compose):
    """Each value is fine on its own (graph.m=20 on the default 10k users, graph.n=12 with the
    default m=5); the job with both is not: it fails before any job starts."""
    from spreadsim.app.sweepcheck import check_sweep

    cfg = _sweep_config(hydra_compose, "graph.n=12,1000", "graph.m=2,20")
    with pytest.raises(ConfigError, match=r"^graph\.m = 20: .*< graph\.n"):
        check_sweep(cfg)
    check_sweep(_sweep_config(hydra_compose, "graph.n=12,1000", "graph.m=2,11"))


def test_large_sweep_checks_every_value_under_every_group_option(hydra_compose, monkeypatch):
    """Above MAX_CHECKED_JOBS jobs each swept value is checked on its own, under each option of a
    swept group."""
    from spreadsim.app import sweepcheck

    monkeypatch.setattr(sweepcheck, "MAX_CHECKED_JOBS", 2)
    sweepcheck.check_sweep(_sweep_config(hydra_compose, "policy=fixed_latency,notice_and_takedown",
                                         "policy.removal_prob=0.5,1"))
    bad = _sweep_config(hydra_compose, "policy=fixed_latency,notice_and_takedown",
                        "policy.removal_prob=0.5,2")
    with pytest.raises(ConfigError, match=r"^policy\.removal_prob = 2"):
        sweepcheck.check_sweep(bad)


def test_sweeper_params_and_command_line_make_the_jobs(hydra_compose):
    """As Hydra's basic sweeper: ``hydra.sweeper.params`` first, a command-line override of the
    same key replaces it in place."""
    from spreadsim.app.sweepcheck import expected_jobs, sweep_jobs, sweep_lists

    cfg = _sweep_config(hydra_compose, "policy.latency_h=1,2", "seeds=2",
                        params={"policy.latency_h": "0,1,6", "scenario.illegal_posts": "3,4"})
    assert sweep_lists(cfg) == {"policy.latency_h": ["policy.latency_h=1", "policy.latency_h=2"],
                                "scenario.illegal_posts": ["scenario.illegal_posts=3", "scenario.illegal_posts=4"],
                                "experiment": ["experiment=single"], "seeds": ["seeds=2"]}
    assert expected_jobs(cfg) == 4
    assert sweep_jobs(cfg)[:2] == [  # the basic sweeper's order: the last key varies fastest
        ["policy.latency_h=1", "scenario.illegal_posts=3", "experiment=single", "seeds=2"],
        ["policy.latency_h=1", "scenario.illegal_posts=4", "experiment=single", "seeds=2"]]


def _files(d: Path) -> dict[str, bytes]:
    """Every file under ``d`` but the logs and the sweep's own settings (the sweeper, the launcher's
    workers, timings), with ``d``'s name taken out; the report without its line of command and
    date (the two commands differ in their launcher settings, and in the minute they ran)."""
    skip = {"multirun.yaml", "hydra.yaml", ".sweep.json"}

    def content(f: Path) -> bytes:
        data = f.read_bytes().replace(str(d).encode(), b"SWEEP")
        return re.sub(rb'<p class="meta">.*?</p>', b"", data) if f.name == "report.html" else data

    return {str(f.relative_to(d)): content(f)
            for f in sorted(d.rglob("*")) if f.is_file() and f.suffix != ".log" and f.name not in skip}


def test_parallel_sweep_writes_what_a_sequential_basic_sweep_writes(tmp_path):
    """spreadsim's sweeper on two joblib workers in batches of two jobs, and Hydra's basic sweeper
    with one job after another in this process (``hydra.launcher.n_jobs=1``): the same jobs, the
    same files byte for byte (tables, plots, report, each job's config, overrides and job.json)."""
    args = [*RESUME_ARGS, "graph=erdos_renyi,barabasi_albert"]
    ours, basic = tmp_path / "ours", tmp_path / "basic"
    runs = ((ours, ["hydra.launcher.n_jobs=2", "hydra.sweeper.max_batch_size=2"]),
            (basic, ["hydra/sweeper=basic", "hydra.launcher.n_jobs=1"]))
    procs = [subprocess.Popen(_cmd(*args, f"hydra.sweep.dir={d}", *extra), cwd=tmp_path, env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for d, extra in runs]
    logs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    a, b = _files(ours), _files(basic)
    assert len([f for f in a if f.endswith(".parquet")]) == 3 + 2 * N_RESUME_JOBS * 3
    assert a.keys() == b.keys() and [k for k in a if a[k] != b[k]] == []
    assert logs[0].count("is launching 2 jobs") == N_RESUME_JOBS  # 10 jobs in batches of two
    assert logs[0].count("\t#") == logs[1].count("\t#") == 2 * N_RESUME_JOBS


# --------------------------------------------------------------------------- bad sweeps


BAD_SWEEPS = {
    "empty range": (["policy.latency_h=range(5,5)"], "policy.latency_h", "empty sweep"),
    "empty value": (["policy.latency_h="], "policy.latency_h", "number"),
    "unknown policy parameter": (["policy.nosuch=1,2"], "policy.nosuch", "unknown key"),
    "unknown section": (["nosuch.x=1,2"], "nosuch", "unknown key"),
    "unknown group option": (["policy=fixed_latency,nosuch"], "policy", "unknown policy config"),
    # graph parameters are checked without building the graph, before any job
    "bad graph parameter": (["graph.n=abc"], "graph.n = 'abc'", "must be an integer >= 2"),
    "bad swept graph parameter": (["graph.m=2,0"], "graph.m = 0", "must be an integer >= 1"),
    "graph parameter out of range": (["graph.m=20000"], "graph.m = 20000", "must be < graph.n"),
    "graph too big for the memory": (["graph.n=1e12"], "graph.n = 1000000000000", "needs at least"),
    "missing edge list in a sweep": (["graph=edgelist", "graph.path=/nonexistent/x.txt"],
                                     "graph.path", "file not found"),
    # every job's composed config is checked: swept group options and values under each
    "bad option of a swept group": (["graph=watts_strogatz,edgelist", "policy.latency_h=1"],
                                    "graph.path", "required for graph kind 'edgelist'"),
    "value bad under one swept option": (["graph=watts_strogatz,erdos_renyi", "graph.n=2000,10",
                                          "policy.latency_h=1"], "graph.k = 10", "must be < graph.n"),
    "stack without a review queue": (["policy=none,authority_referral", "hydra.sweeper.params=null"],
                                     "policy = 'authority_referral'", "needs a review queue"),
    # the launcher's and sweeper's own settings, before any worker starts
    "no workers": (["hydra.launcher.n_jobs=0"], "hydra.launcher.n_jobs = 0", "1 to"),
    "far too many workers": (["hydra.launcher.n_jobs=100000"], "hydra.launcher.n_jobs = 100000",
                             "x the"),
    "negative timeout": (["hydra.launcher.timeout=-1"], "hydra.launcher.timeout", "> 0"),
    "empty batches": (["hydra.sweeper.max_batch_size=0"], "hydra.sweeper.max_batch_size = 0",
                      ">= 1"),
    "glob over a value": (["policy.latency_h=glob(*)"], "policy.latency_h = 'glob(*)'",
                          "cannot expand this sweep"),
    "quoted empty value in a sweep": (["policy.latency_h=1,''"], "policy.latency_h = ''",
                                      "must be a number >= 0"),
    # seeds beyond 64 bits, or too many of them
    "huge seed": (["seed=1e300"], "seed = 1e+300", "<= 9223372036854775807"),
    "huge graph seed": (["graph.seed=99999999999999999999999"], "graph.seed", "<= 9223372036854775807"),
    "last seed beyond 64 bits": (["seed=9223372036854775807", "seeds=2"], "seed =",
                                 "seed + seeds - 1"),
    "too many seeds": (["seeds=1000000000000"], "seeds = 1000000000000", "<= 1000000"),
    "huge reach threshold": (["policy=automated_detection", "policy.reach_thresholds=[1e30]",
                              "hydra.sweeper.params=null"], "policy.reach_thresholds[0]", "<="),
    # calibration: the lever moves a policy parameter, within the values it may take
    "calibration lever outside the policy": (["experiment=sla_calibration", "seeds=2",
                                              "calibration.lever=graph.n"],
                                             "calibration.lever = 'graph.n'", "parameter of the policy"),
    "calibration max outside the lever's range": (["experiment=sla_calibration", "seeds=2",
                                                   "calibration.lever=policy.removal_prob"],
                                                  "calibration.max = 720.0",
                                                  "not a value policy.removal_prob may take"),
    "calibration tolerance above a half": (["experiment=sla_calibration", "seeds=2",
                                            "calibration.tol=1e9"], "calibration.tol", "<= 0.5"),
    # more uploaders than users, where the config fixes the number of users
    "more uploaders than users": (["scenario.uploaders=20000", "policy.latency_h=1,6"],
                                  "scenario.uploaders = 20000", "number of users (10000)"),
    # a config group given something other than a name
    "null group": (["graph=null"], "graph = 'null'", "a config group takes the name"),
    "list of numbers for a group": (["graph=[1,2]"], "graph = '[1,2]'", "a config group takes"),
}


@pytest.mark.parametrize("name", list(BAD_SWEEPS))
def test_bad_sweep_fails_in_one_line_before_any_job(name, tmp_path, capsys, monkeypatch):
    from spreadsim.app.cli import main

    args, field, what = BAD_SWEEPS[name]
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    monkeypatch.setattr(sys, "argv", ["spreadsim"])
    GlobalHydra.instance().clear()
    with pytest.raises(SystemExit) as e:
        main(["seeds=1", *args, f"hydra.sweep.dir={tmp_path}/sweep"])
    GlobalHydra.instance().clear()
    assert e.value.code == 2
    err = stderr_lines(capsys.readouterr().err)  # every line counts, blank ones too
    assert len(err) == 1 and err[0].startswith("spreadsim: error: "), err
    assert field in err[0] and what in err[0], err
    assert not (tmp_path / "sweep").exists()  # no job started, nothing written


@pytest.mark.skipif("slurm" not in LAUNCHERS, reason="hydra-submitit-launcher not installed")
@pytest.mark.parametrize("choice", ["slurm", "submitit_slurm"])
def test_slurm_launcher_without_slurm_fails_in_one_line(choice, tmp_path, capsys, monkeypatch):
    """The Slurm launcher on a machine without Slurm's srun used to print submitit's traceback
    after writing the sweep folder: now one line naming the launcher, nothing written."""
    from spreadsim.app.cli import main

    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: None if cmd == "srun" else real_which(cmd, *a, **k))
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    monkeypatch.setattr(sys, "argv", ["spreadsim"])
    GlobalHydra.instance().clear()
    with pytest.raises(SystemExit) as e:
        main(["seeds=1", f"hydra/launcher={choice}", f"hydra.sweep.dir={tmp_path}/sweep"])
    GlobalHydra.instance().clear()
    assert e.value.code == 2
    err = stderr_lines(capsys.readouterr().err)
    assert err == [f"spreadsim: error: hydra/launcher = '{choice}': needs Slurm (no 'srun' on this "
                   "machine's PATH): run the sweep on a Slurm login node, or try it here with "
                   "hydra/launcher=submitit_local"], err
    assert not (tmp_path / "sweep").exists()


# --------------------------------------------------------------------------- resume after SIGKILL

RESUME_ARGS = ["seeds=2", *SMALL, "graph.seed=3", "deadline_path=off", "policy.latency_h=0,1,4,16,inf"]
N_RESUME_JOBS = 5


def _markers(sweep: Path) -> list[Path]:
    return sorted(sweep.glob("*/done"))


def test_sigkill_midway_then_rerun_gives_the_uninterrupted_table(tmp_path):
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    # the uninterrupted reference runs beside the sweep that will be killed (joblib, 2 workers)
    ref = subprocess.Popen(_cmd(*RESUME_ARGS, "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={reference}"),
                           cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    run = subprocess.Popen(_cmd(*RESUME_ARGS, "hydra.launcher.n_jobs=1", f"hydra.sweep.dir={killed}"),
                           cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not _markers(killed) and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.01)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    done_before = _markers(killed)
    assert 1 <= len(done_before) < N_RESUME_JOBS, "the kill should land midway"
    assert not (killed / "results.parquet").exists()
    mtimes = {m.parent.name: (m.parent / "runs.parquet").stat().st_mtime_ns for m in done_before}
    out, _ = ref.communicate(timeout=300)
    assert ref.returncode == 0, out
    again = subprocess.run(_cmd(*RESUME_ARGS, "hydra.launcher.n_jobs=1", f"hydra.sweep.dir={killed}"),
                           cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    for name, t in mtimes.items():  # finished jobs were skipped, not redone
        assert (killed / name / "runs.parquet").stat().st_mtime_ns == t
        assert f"job {name}: already done" in again.stdout
    assert len(_markers(killed)) == N_RESUME_JOBS
    for t in ("results", "summary"):
        assert (killed / f"{t}.parquet").read_bytes() == (reference / f"{t}.parquet").read_bytes(), t
    # progress lines: readable in a log file (no carriage returns), with counts and an ETA
    assert "\r" not in out and "\r" not in again.stdout
    assert "progress: " in again.stdout and f"/{N_RESUME_JOBS} jobs finished" in again.stdout
    assert "ETA" in again.stdout


# --------------------------------------------------------------------------- launchers (slow)


@pytest.mark.slow
def test_submitit_local_launcher(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher",
                        reason="hydra-submitit-launcher not installed (pip install 'spreadsim[slurm]')")
    sweep = tmp_path / "sweep"
    r = subprocess.run(_cmd("hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10", "seeds=2",
                            *SMALL, "policy.latency_h=0,1,inf", f"hydra.sweep.dir={sweep}"), cwd=tmp_path, env=_env(),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    res = read_table(sweep / "results")
    assert res["policy.latency_h"].tolist() == [0.0, 0.0, 1.0, 1.0, math.inf, math.inf]
    assert (sweep / ".submitit").is_dir() and (sweep / "report.html").is_file()


@pytest.mark.slow
def test_ray_launcher(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_ray_launcher",
                        reason="hydra-ray-launcher not installed (pip install 'spreadsim[ray]')")
    sweep = tmp_path / "sweep"
    r = subprocess.run(_cmd("hydra/launcher=ray_cluster", "seeds=2", *SMALL, "policy.latency_h=0,inf",
                            f"hydra.sweep.dir={sweep}"), cwd=tmp_path, env=_env(),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert len(read_table(sweep / "results")["seed"]) == 4
