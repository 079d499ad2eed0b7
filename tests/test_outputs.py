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
            == mean_ci(reach)
    text = format_summary(summary, params)
    assert text.splitlines()[0].split()[:3] == ["policy.latency_h", "config.seed", "n_seeds"]
    assert len(text.splitlines()) == 3 and " inf " in text


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
