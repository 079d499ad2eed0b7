"""The outputs layer on its own: the one confidence interval, the report's YAML without Hydra,
tables from job folders, and the clean-up of folders that hold only Hydra's files."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from spreadsim.outputs.aggregate import aggregate, find_job_dirs
from spreadsim.outputs.layout import DONE, JOB_FILE, SWEEP_FILE, remove_if_only_hydra
from spreadsim.outputs.report import config_yaml
from spreadsim.outputs.stats import mean_ci, nanmean
from spreadsim.outputs.tables import format_summary, summarize_results
from spreadsim.runs.job import run_job

SRC = Path(__file__).resolve().parents[1] / "src" / "spreadsim"


@pytest.mark.parametrize("values", [[1.0, 2.0, 4.0], [3.5, 3.5], list(np.linspace(0, 1, 30) ** 2)])
def test_mean_ci_is_the_t_interval(values):
    m, lo, hi = mean_ci(values)
    x = np.asarray(values)
    want = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x)) if x.std() else (m, m)
    assert m == pytest.approx(x.mean()) and (lo, hi) == pytest.approx(want)
    lo90, hi90 = mean_ci(values, level=0.9)[1:]
    assert lo <= lo90 <= hi90 <= hi


def test_mean_ci_is_cut_to_the_bounds_of_the_mean():
    values = [0.0, 0.0, 0.0, 9.0]  # skewed: the t interval reaches below 0
    m, lo, hi = mean_ci(values)
    assert lo < 0
    assert mean_ci(values, bounds=(0.0, None)) == (m, 0.0, hi)
    assert mean_ci([0.9, 1.0, 0.2], bounds=(0.0, 1.0))[2] == 1.0
    x = [0.5, 0.6, 0.55, 0.52]
    assert mean_ci(x, bounds=(0.0, 1.0)) == mean_ci(x)  # not binding


def test_mean_ci_leaves_out_values_that_are_not_finite():
    assert mean_ci([1.0, math.nan, 3.0, math.inf]) == mean_ci([1.0, 3.0])
    m, lo, hi = mean_ci([2.0, math.nan])
    assert m == 2.0 and math.isnan(lo) and math.isnan(hi)  # one value: no interval
    assert all(math.isnan(v) for v in mean_ci([]))
    assert nanmean([1.0, math.nan, 2.0]) == 1.5 and math.isnan(nanmean([math.nan]))


def test_one_function_computes_confidence_intervals():
    """No module but outputs.stats takes a quantile of Student's t."""
    pattern = re.compile(r"stdtrit|\bt\.(ppf|isf|interval)\(")
    found = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if pattern.search(p.read_text())]
    assert found == ["outputs/stats.py"], found


CONFIGS = [
    {},
    {"graph": {"kind": "barabasi_albert", "n": 10, "seed": None}, "policy": [{"name": "x", "latency_h": math.inf}]},
    {"s": ["yes", "off", "1e3", "0x10", "nan", "-inf", "", "a: b", "${seeds}", "???", "ünï", "two\nlines"],
     "nested": {"empty": {}, "list": [], "t": True, "f": 1e-300, "i": -3}},
]


@pytest.mark.parametrize("config", CONFIGS)
def test_report_yaml_is_omegaconfs_without_hydra(config):
    from omegaconf import OmegaConf

    from spreadsim.outputs.io import canonical

    assert config_yaml(config) == OmegaConf.to_yaml(OmegaConf.create(canonical(config)))


def _job(lat: float, **extra):
    cfg = {"graph": {"kind": "barabasi_albert", "n": 300, "m": 2, "seed": 3},
           "scenario": {"illegal_posts": 3, "legal_posts": 1, "uploaders": 2, "horizon_h": 48},
           "policy": {"name": "fixed_latency", "latency_h": lat}, "seed": 0, "seeds": 2}
    cfg.update(extra)
    return cfg


def test_job_folders_become_one_table_per_point(tmp_path):
    for j, lat in enumerate([math.inf, 1.0]):  # written in another order than their numbers
        run_job(_job(lat), tmp_path / f"job-{1 - j}", params={"policy.latency_h": lat, "seed": 0},
                job_num=1 - j)
    (tmp_path / "unfinished").mkdir()
    (tmp_path / "unfinished" / JOB_FILE).write_text('{"job_num": 2}')
    dirs = find_job_dirs(tmp_path)
    assert [d.name for d in dirs] == ["job-0", "job-1"]
    assert find_job_dirs(tmp_path, limit=1) == dirs[:1]
    results, params = aggregate(dirs)
    assert params == ["policy.latency_h", "config.seed"]  # a result column's name is prefixed
    assert results["job"].tolist() == [0, 0, 1, 1] and results["seed"].tolist() == [0, 1, 0, 1]
    assert results["policy.latency_h"].tolist() == [1.0, 1.0, math.inf, math.inf]
    summary = summarize_results(results, params)
    assert summary["n_seeds"].tolist() == [2, 2]
    for j in range(2):
        reach = results["reach_mean"][results["job"] == j]
        assert (summary["reach_mean"][j], summary["reach_ci_low"][j], summary["reach_ci_high"][j]) \
            == mean_ci(reach, bounds=(0.0, None))  # reach is never negative
        assert summary["reach_ci_low"][j] == max(0.0, mean_ci(reach)[1])
        prevented = results["reach_prevented_mean"][results["job"] == j]
        assert (prevented >= 0).all()  # a deadline: so is the interval of its mean
        assert summary["prevented_ci_low"][j] == max(0.0, mean_ci(prevented)[1])
    for j in range(2):  # the share prevented: a ratio of the seeds' totals, in [0, 1]
        sel = results["job"] == j
        want = 1 - results["reach_total"][sel].sum() / results["reach_baseline_total"][sel].sum()
        assert summary["prevented_share"][j] == pytest.approx(want)
        assert 0 <= summary["prevented_share_ci_low"][j] <= summary["prevented_share_ci_high"][j] <= 1
    text = format_summary(summary, params)
    # only the swept column (config.seed is 0 at every point), rows sorted: 1 before inf
    assert text.splitlines()[0].split()[:2] == ["policy.latency_h", "n_seeds"]
    assert [line.split()[0] for line in text.splitlines()[1:]] == ["1", "inf"]


def test_only_hydra_files_are_cleaned_up(tmp_path):
    hydra_only = tmp_path / "a"
    (hydra_only / ".hydra").mkdir(parents=True)
    (hydra_only / ".hydra" / "config.yaml").write_text("x: 1\n")
    (hydra_only / "spreadsim.log").write_text("")
    (hydra_only / SWEEP_FILE).write_text("{}")
    (hydra_only / "0").mkdir()
    (hydra_only / "0" / "spreadsim.log").write_text("")
    assert remove_if_only_hydra(hydra_only) and not hydra_only.exists()
    kept = tmp_path / "b"
    (kept / "0").mkdir(parents=True)
    (kept / "0" / DONE).write_text("x\n")
    assert not remove_if_only_hydra(kept) and (kept / "0" / DONE).is_file()
    assert not remove_if_only_hydra(tmp_path / "missing")


def _summary(**params: list) -> dict[str, np.ndarray]:
    n = len(next(iter(params.values())))
    cols = {k: np.array(v, dtype=object if isinstance(v[0], str) else None) for k, v in params.items()}
    cols["job"] = np.arange(n)
    for c in ("n_seeds",):
        cols[c] = np.full(n, 3)
    for c in ("reach_mean", "reach_ci_low", "reach_ci_high", "prevented_mean", "prevented_share",
              "prevented_share_ci_low", "prevented_share_ci_high"):
        cols[c] = np.linspace(0.1, 0.9, n) * (1000 if c.startswith(("reach", "prevented_m")) else 1)
    cols["path"] = np.array(["deadline"] * n, dtype=object)
    return cols


def test_console_table_shows_swept_columns_sorted_and_aligned():
    path = "/a/rather/long/path/to/an/edge/list/file/edges.txt.gz"
    summary = _summary(**{"policy.latency_h": [6.0, math.inf, 0.25, 24.0], "graph.path": [path] * 4,
                          "graph.n": [300, 300, 300, 300]})
    text = format_summary(summary, ["policy.latency_h", "graph.path", "graph.n"])
    lines = text.splitlines()
    assert path not in text and "graph.n" not in lines[0]  # set, not swept
    assert [line.split()[0] for line in lines[1:]] == ["0.25", "6", "24", "inf"]  # numerically
    assert len({len(line) for line in lines}) == 1  # one width for every line
    header = lines[0]
    for name in ("policy.latency_h", "n_seeds", "reach/post", "prevented share", "path"):
        end = header.index(name) + len(name)  # right-aligned: each cell ends where its header does
        assert all(line[end - 1] != " " and (end == len(line) or line[end] == " ")
                   for line in lines[1:]), name
    two = _summary(**{"policy": ["none", "fixed_latency"], "policy.latency_h": [1.0, 1.0]})
    assert format_summary(two, ["policy", "policy.latency_h"]).splitlines()[1].split()[0] == "fixed_latency"


def test_csv_floats_are_rounded_parquet_keeps_every_bit(tmp_path):
    from spreadsim.outputs.io import CSV_DIGITS, read_table, write_table

    x = np.array([555.8525000000001, 0.1 + 0.2, 1 / 3, math.inf, math.nan, 1e-300, 123456789.123456789])
    write_table({"x": x, "n": np.arange(7)}, tmp_path / "t")
    back = read_table(tmp_path / "t.parquet")["x"]
    assert np.array_equal(back, x, equal_nan=True)  # Parquet: exact
    text = (tmp_path / "t.csv").read_text().splitlines()
    assert text[1:4] == ["555.8525,0", "0.3,1", "0.3333333333,2"]
    assert text[4:6] == ["inf,3", "nan,4"] and text[7] == "123456789.1,6"
    csv = read_table(tmp_path / "t.csv")["x"]
    finite = np.isfinite(x)
    assert np.allclose(csv[finite], x[finite], rtol=10.0 ** (1 - CSV_DIGITS), atol=0)


def test_never_and_inf_are_one_number_in_the_tables(tmp_path):
    """A swept latency given as ``never`` is recorded as inf (job.json, results, summary), the
    same number as ``inf``; an earlier version's job.json with the word reads as inf too."""
    import json

    dirs = []
    for j, lat in enumerate([1, "never"]):
        d = tmp_path / str(j)
        run_job(_job(math.inf if lat == "never" else lat), d, params={"policy.latency_h": lat}, job_num=j)
        dirs.append(d)
    assert json.loads((dirs[1] / JOB_FILE).read_text())["params"] == {"policy.latency_h": "inf"}
    results, params = aggregate(dirs)
    assert results["policy.latency_h"].dtype == np.float64
    assert results["policy.latency_h"].tolist() == [1.0, 1.0, math.inf, math.inf]
    job = json.loads((dirs[1] / JOB_FILE).read_text())
    job["params"] = {"policy.latency_h": "never"}  # as an earlier version wrote it
    (dirs[1] / JOB_FILE).write_text(json.dumps(job))
    again, _ = aggregate(dirs)
    assert again["policy.latency_h"].tolist() == [1.0, 1.0, math.inf, math.inf]
    assert summarize_results(again, params)["policy.latency_h"].dtype == np.float64


def test_code_of_conduct_figures_and_the_rounds_figures_in_the_summary():
    import csv
    from importlib import resources

    import yaml

    from spreadsim.errors import ConfigError
    from spreadsim.outputs.tables import coc_targets

    rows = {r["round"]: r for r in csv.DictReader(
        (resources.files("spreadsim.data") / "code_of_conduct_rounds.csv").read_text().splitlines())}
    conf = Path(__file__).resolve().parents[1] / "conf" / "experiment"
    for name in ("coc_2016", "coc_2017"):
        # the experiment sets the round it cites in its header (target_round), and the data has it
        text = (conf / f"{name}.yaml").read_text()
        round_ = yaml.safe_load(text)["target_round"]
        assert f'row "{round_}"' in text
        t = coc_targets(round_)
        assert t == {"target_round": round_,
                     "target_notice_reviewed_24h_share": float(rows[round_]["share_reviewed_within_24h"]),
                     "target_notice_removed_share": float(rows[round_]["share_removed"])}
    assert yaml.safe_load((conf / "study_coc_rounds.yaml").read_text())["target_round"] is None
    assert coc_targets(None) == {}
    with pytest.raises(ConfigError, match=r"^target_round = '2099-01': must be one of 2016-12, "):
        coc_targets("2099-01")
    rng = np.random.default_rng(0)
    n = 6
    reviewed, removed = rng.uniform(0.3, 0.6, n), rng.uniform(0.4, 0.7, n)
    results = {"job": np.zeros(n, dtype=np.int64), "seed": np.arange(n),
               "reach_mean": rng.uniform(10, 20, n), "reach_total": rng.uniform(100, 200, n),
               "policy0_notice_and_takedown_notice_reviewed_24h_share": reviewed,
               "policy0_notice_and_takedown_notice_removed_share": removed,
               "path": np.array(["simulated"] * n, dtype=object),
               **{k: np.array([v] * n, dtype=object if k == "target_round" else np.float64)
                  for k, v in coc_targets("2017-06").items()}}
    summary = summarize_results(results, [])
    assert (summary["notice_reviewed_24h_share_mean"][0], summary["notice_reviewed_24h_share_ci_low"][0],
            summary["notice_reviewed_24h_share_ci_high"][0]) == mean_ci(reviewed, bounds=(0.0, 1.0))
    assert summary["notice_removed_share_mean"][0] == mean_ci(removed)[0]
    assert summary["target_round"][0] == "2017-06" and summary["target_notice_removed_share"][0] == 0.59
    text = format_summary(summary, [])
    assert "reviewed <= 24 h" in text and "monitoring round 2017-06" in text and "51.0%" in text


def test_a_code_of_conduct_experiments_jobs_carry_the_rounds_figures(tmp_path):
    """The round is the job config's ``target_round`` (``experiment=coc_2016`` sets it), not the
    overrides the command recorded; it is presentation only: it does not change the job's hash,
    and a bad round is refused before the job runs."""
    from spreadsim.errors import ConfigError
    from spreadsim.runs.jobspec import config_hash

    run_job(_job(1.0, target_round="2016-12"), tmp_path / "coc", overrides=["seeds=2"])
    run_job(_job(1.0), tmp_path / "other", overrides=["experiment=coc_2016"])
    results, params = aggregate([tmp_path / "coc"])
    assert results["target_round"].tolist() == ["2016-12"] * 2
    summary = summarize_results(results, params)
    assert summary["target_notice_reviewed_24h_share"].tolist() == [0.40]
    assert summary["target_notice_removed_share"].tolist() == [0.28]
    other, _ = aggregate([tmp_path / "other"])
    assert not any(k.startswith("target_") for k in other)
    assert config_hash(_job(1.0, target_round="2016-12")) == config_hash(_job(1.0))
    with pytest.raises(ConfigError, match=r"^target_round = '2016'"):
        run_job(_job(1.0, target_round="2016"), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_a_multi_platform_summary_has_each_platforms_reach_and_the_console_shows_it():
    rng = np.random.default_rng(4)
    n = 5
    results = {"job": np.zeros(n, dtype=np.int64), "seed": np.arange(n),
               "path": np.array(["simulated"] * n, dtype=object),
               "reach_mean": rng.uniform(5, 9, n), "reach_total": rng.uniform(50, 90, n),
               "big.reach_mean": rng.uniform(6, 12, n), "small.reach_mean": rng.uniform(0, 3, n)}
    summary = summarize_results(results, [])
    for name in ("big", "small"):
        m, lo, hi = mean_ci(results[f"{name}.reach_mean"], bounds=(0.0, None))
        assert summary[f"{name}.reach_mean"][0] == m
        assert (summary[f"{name}.reach_ci_low"][0], summary[f"{name}.reach_ci_high"][0]) == (lo, hi)
    text = format_summary(summary, [])
    header, row = text.splitlines()[:2]
    assert "big: reach/post" in header and "small: reach/post" in header
    assert f"{summary['big.reach_mean'][0]:.2f}" in row


def _prevented_results(path: list[str], prevented: list[float]) -> dict:
    n = len(prevented)
    return {"job": np.zeros(n, dtype=np.int64), "seed": np.arange(n),
            "reach_mean": np.full(n, 10.0), "reach_prevented_mean": np.array(prevented),
            "path": np.array(path, dtype=object)}


def test_reach_prevented_is_cut_at_0_only_on_the_deadline_path():
    """A bound must be known before the data: on the deadline path no seed can prevent less than
    nothing, so the interval is cut at 0; elsewhere (simulated, or a point that mixed paths) it
    is the plain t interval, even when every observed seed happens to be >= 0."""
    prevented = [0.0, 0.1, 0.0, 2.0, 0.0]  # every seed >= 0, the t interval reaches below 0
    plain = mean_ci(prevented)
    assert plain[1] < 0
    for path, want in ((["deadline"] * 5, (plain[0], 0.0, plain[2])),
                       (["simulated"] * 5, plain),
                       (["deadline"] * 4 + ["simulated"], plain)):
        s = summarize_results(_prevented_results(path, prevented), [])
        assert (s["prevented_mean"][0], s["prevented_ci_low"][0], s["prevented_ci_high"][0]) == want, path


def test_the_share_prevented_of_a_twin_that_reached_nobody_is_undefined(tmp_path):
    """reach_prevented_frac is NaN (not 0) when the twin reached nobody, as the summary's share
    is, and the console and the answer show no share for it."""
    import dataclasses

    import spreadsim
    from spreadsim.engine.metrics import add_baseline
    from spreadsim.outputs.answer import answer

    r = spreadsim.simulate({k: _job(1.0)[k] for k in ("graph", "scenario", "policy")}, seed=0)
    silent = dataclasses.replace(r, summary={**r.summary, "reach_total": 0},
                                 posts={**r.posts, "reach": np.zeros_like(r.posts["reach"])})
    moderated = dataclasses.replace(r, summary=dict(r.summary), posts=dict(r.posts))
    add_baseline(moderated, silent)
    assert math.isnan(moderated.summary["reach_prevented_frac"])
    add_baseline(moderated, r)  # (a twin that reached someone: a number)
    assert moderated.summary["reach_prevented_frac"] == 0.0
    n = 3
    results = {"job": np.zeros(n, dtype=np.int64), "seed": np.arange(n),
               "reach_mean": np.zeros(n), "reach_total": np.zeros(n),
               "reach_baseline_total": np.zeros(n), "reach_baseline_mean": np.zeros(n),
               "reach_prevented_mean": np.zeros(n), "reach_prevented_frac": np.full(n, np.nan),
               "path": np.array(["deadline"] * n, dtype=object)}
    s = summarize_results(results, [])
    assert np.isnan([s["prevented_share"][0], s["prevented_share_ci_low"][0]]).all()
    assert format_summary(s, []).splitlines()[1].split()[4:7] == ["0.00", "-", "-"]
    said = answer(s, [], {"policy": {"name": "fixed_latency", "latency_h": 1.0}})
    assert "prevented" not in said.sentence and "against 0 unmoderated" in said.sentence


#: summary column names that other modules must take from outputs/tables.py's constants
SHARED_COLUMNS = ("reach_ci_low", "reach_ci_high", "prevented_share", "prevented_share_ci_low",
                  "prevented_share_ci_high", "reach_baseline_mean", "removed_share_mean",
                  "notice_reviewed_24h_share", "notice_removed_share", "target_round",
                  "reviewed_24h_share_mean", "target_reviewed_24h_share", "prevented_frac")


@pytest.mark.parametrize("module", ["outputs/answer.py", "outputs/plots.py",
                                    "outputs/sweep_outputs.py", "web/compute.py"])
def test_summary_column_names_have_one_home(module):
    """The summary's column names are spelled in outputs/tables.py only (no dead aliases
    elsewhere); the other modules import its constants."""
    text = (SRC / module).read_text()
    spelled = [c for c in SHARED_COLUMNS if re.search(rf"[\"']{c}[\"']", text)]
    assert spelled == [], f"{module} spells {spelled}"
    assert not re.search(r"[\"']legal[\"']", text), f"{module} spells 'legal'"
    assert not re.search(r"[\"'][a-z_]+\.png[\"']", text), f"{module} spells a plot's file name"
